/* -f chrometrace and -f gecko through the CLI: `record` writing each
 * (by -f and by the output's extension), `render` turning a recording into
 * each, every file checked by tests/check_trace_formats.py for its format
 * and for the hot function of the recorded script. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "support.h"

TestSuite(trace_formats, .timeout = 300);

static const char script_text[] =
	"import sys, threading, time\n"
	"def hot_leaf(n):\n"
	"    return sum(range(n))\n"
	"def spin(secs):\n"
	"    t = time.time()\n"
	"    while time.time() - t < secs:\n"
	"        hot_leaf(2000)\n"
	"th = threading.Thread(target=spin, args=(float(sys.argv[1]),), name='spinner')\n"
	"th.start(); spin(float(sys.argv[1])); th.join()\n";

static void check(const char *format, const char *path, const char *expect)
{
	char cmd[2 * PATH_MAX], out[8192];
	snprintf(cmd, sizeof cmd,
		 "python3 '%s/tests/check_trace_formats.py' %s '%s' --expect %s 2>&1",
		 ts_source_root(), format, path, expect);
	int rc = ts_shell(cmd, out, sizeof out);
	cr_assert_eq(rc, 0, "%s: %s", path, out);
}

Test(trace_formats, record_and_render)
{
	char pybuf[512], script[PATH_MAX], rec[PATH_MAX], trace[PATH_MAX], gecko[PATH_MAX],
		rtrace[PATH_MAX], rgecko[PATH_MAX];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	ts_scratch_path("trace_formats", script, sizeof script, "spin.py");
	FILE *f = fopen(script, "w");
	cr_assert_not_null(f);
	fputs(script_text, f);
	cr_assert_eq(fclose(f), 0);
	ts_scratch_path("trace_formats", rec, sizeof rec, "spin.pyprobe");
	ts_scratch_path("trace_formats", trace, sizeof trace, "spin.out");
	ts_scratch_path("trace_formats", gecko, sizeof gecko, "spin.gecko.json");
	ts_scratch_path("trace_formats", rtrace, sizeof rtrace, "rendered.trace.json");
	ts_scratch_path("trace_formats", rgecko, sizeof rgecko, "rendered.gecko.json");
	struct ts_run r;

	/* -f chrometrace whatever the name; the extension picks gecko */
	char *a1[] = {"record", "--no-progress", "-f", "chrometrace", "-o", trace, "--",
		      (char *)python, script, "1", NULL};
	ts_run_pyprobe("trace_formats", &r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	check("chrometrace", trace, "hot_leaf");
	char *a2[] = {"record", "--no-progress", "-o", gecko, "--", (char *)python, script, "1",
		      NULL};
	ts_run_pyprobe("trace_formats", &r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	check("gecko", gecko, "hot_leaf");

	/* render: by extension, and by -f to standard output */
	char *a3[] = {"record", "--no-progress", "-o", rec, "--", (char *)python, script, "1",
		      NULL};
	ts_run_pyprobe("trace_formats", &r, a3);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	char *a4[] = {"render", rec, "-o", rtrace, NULL};
	ts_run_pyprobe("trace_formats", &r, a4);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	check("chrometrace", rtrace, "hot_leaf");
	char *a5[] = {"render", rec, "-o", rgecko, "--threads", NULL};
	ts_run_pyprobe("trace_formats", &r, a5);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	check("gecko", rgecko, "hot_leaf");
	char *a6[] = {"render", rec, "-f", "gecko", "-o", "-", NULL};
	ts_run_pyprobe("trace_formats", &r, a6);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"preprocessedProfileVersion\": 57"), "%.400s", r.out);
	cr_assert(strstr(r.out, "\"spinner\""), "no spinner thread: %.400s", r.out);
}

/* Without -o, render names the output after the recording, with the
 * format's extension. */
Test(trace_formats, default_extensions)
{
	char src[PATH_MAX], rec[PATH_MAX], want[PATH_MAX], buf[64];
	snprintf(src, sizeof src, "%s/fixtures/recordings/v1.1.pyprobe", ts_source_root());
	ts_scratch_path("trace_formats", rec, sizeof rec, "ext.pyprobe");
	char cmd[3 * PATH_MAX], out[1024];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%.*s'.trace.json '%.*s'.gecko.json", src,
		 rec, (int)(strlen(rec) - 8), rec, (int)(strlen(rec) - 8), rec);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s", out);
	const char *fmts[] = {"chrometrace", "gecko"}, *exts[] = {".trace.json", ".gecko.json"};
	for (int i = 0; i < 2; i++) {
		struct ts_run r;
		char *a[] = {"render", rec, "-f", (char *)fmts[i], NULL};
		ts_run_pyprobe("trace_formats", &r, a);
		cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
		snprintf(want, sizeof want, "%.*s%s", (int)(strlen(rec) - 8), rec, exts[i]);
		cr_assert_geq(ts_read_file(want, buf, sizeof buf), 0, "no %s", want);
		check(fmts[i], want, "Klass.run");
	}
}
