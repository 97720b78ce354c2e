/* `pyprobe record` and `pyprobe render` through the CLI, against real
 * interpreters: accuracy of a known 50/30/20 split on every version, every
 * output format by extension, a recording rendered later, and the error
 * and stop paths. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static pid_t g_target = -1;

static void teardown(void)
{
	if (g_target > 0) {
		kill(-g_target, SIGKILL);
		waitpid(g_target, NULL, 0);
	}
}

TestSuite(record, .fini = teardown, .timeout = 180);

static const char *scratch(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		const char *b = getenv("PYPROBE_BUILD_ROOT");
		snprintf(dir, sizeof dir, "%s/tests/record", b && *b ? b : "/tmp/pyprobe-tests");
		ts_mkdir_p(dir);
	}
	return dir;
}

static void path_in(char *out, size_t n, const char *name)
{
	int w = snprintf(out, n, "%.3000s/%s", scratch(), name);
	cr_assert(w > 0 && (size_t)w < n, "path too long");
}

static const char *pyenv_python(const char *version, char *buf, size_t n)
{
	const char *root = getenv("PYENV_ROOT") ? getenv("PYENV_ROOT") : "/root/.pyenv";
	char minor[16];
	snprintf(minor, sizeof minor, "%s", version);
	*strrchr(minor, '.') = '\0';
	snprintf(buf, n, "%s/versions/%s/bin/python%s", root, version, minor);
	return buf;
}

static const char *any_python(char *buf, size_t n)
{
	const char *v[] = {"3.12.1", "3.11.7", "3.13.0", "3.10.13", "3.9.18", "3.8.18"};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (access(pyenv_python(v[i], buf, n), X_OK) == 0)
			return buf;
	if (access("/usr/bin/python3.11", X_OK) == 0)
		return "/usr/bin/python3.11";
	cr_skip_test("no supported python installed");
	return NULL;
}

struct run {
	int status;
	char err[8192];
};

/* pyprobe ARGS... with stdout/stderr captured; waits at most 120 s. */
static void run(struct run *r, char *const args[])
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)ts_pyprobe();
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	char out[PATH_MAX], err[PATH_MAX];
	path_in(out, sizeof out, "run.out");
	path_in(err, sizeof err, "run.err");
	r->status = ts_wait_bounded(ts_spawn(argv, out, err, 0), 120);
	ts_read_file(err, r->err, sizeof r->err);
	cr_assert(r->status != -1, "pyprobe timed out:\n%s", r->err);
	cr_assert(!WIFSIGNALED(r->status), "pyprobe died of signal %d:\n%s",
		  WTERMSIG(r->status), r->err);
	cr_assert(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		  "sanitizer report:\n%s", r->err);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* ---- accuracy ------------------------------------------------------------- */

static void accuracy(const char *python)
{
	if (access(python, X_OK) != 0)
		cr_skip_test("python not installed at %s", python);
	char out[PATH_MAX], fixture[PATH_MAX], checker[PATH_MAX], truth[PATH_MAX];
	path_in(out, sizeof out, "split.txt");
	path_in(truth, sizeof truth, "split.truth");
	unlink(truth);
	snprintf(fixture, sizeof fixture, "%s/fixtures/record/split.py", ts_source_root());
	snprintf(checker, sizeof checker, "%s/tests/check_split.py", ts_source_root());
	struct run r;
	char *args[] = {"record", "-r", "200", "-o", out, "--", (char *)python, fixture, "4", truth, NULL};
	run(&r, args);
	cr_assert_eq(exit_code(&r), 0, "record failed:\n%s", r.err);
	cr_assert(strstr(r.err, "sampling cost median") && strstr(r.err, "µs, p99"),
		  "no summary line:\n%s", r.err);
	/* The figure is +-3 points (bench/record_split.py reports it).
	 * A test must not flake: ~700 samples give a share of 50% a standard
	 * error near 2 points, and a loaded CI machine skips ticks, so the
	 * test allows 6 - still far below what a wrong stack or a biased
	 * clock would show. */
	char *check[] = {"python3", checker, out, "6", truth, NULL};
	char res[PATH_MAX];
	path_in(res, sizeof res, "split.check");
	int st = ts_wait_bounded(ts_spawn(check, res, res, 0), 60);
	char buf[2048];
	ts_read_file(res, buf, sizeof buf);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: the profile's split is off the target's own by more than 6 points:\n%s", python, buf);
	cr_log_info("%s: %s", python, buf);
}

Test(record, split_3_8) { char b[512]; accuracy(pyenv_python("3.8.18", b, sizeof b)); }
Test(record, split_3_9) { char b[512]; accuracy(pyenv_python("3.9.18", b, sizeof b)); }
Test(record, split_3_10) { char b[512]; accuracy(pyenv_python("3.10.13", b, sizeof b)); }
Test(record, split_3_11) { char b[512]; accuracy(pyenv_python("3.11.7", b, sizeof b)); }
Test(record, split_3_12) { char b[512]; accuracy(pyenv_python("3.12.1", b, sizeof b)); }
Test(record, split_3_13) { char b[512]; accuracy(pyenv_python("3.13.0", b, sizeof b)); }
Test(record, split_debian_3_11) { accuracy("/usr/bin/python3.11"); }

/* ---- formats ------------------------------------------------------------- */

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Every format, chosen by extension, from one short launched command; then
 * the raw recording rendered again, with the same sample counts. */
Test(record, formats_by_extension_and_render)
{
	char pybuf[512];
	const char *python = any_python(pybuf, sizeof pybuf);
	char fixture[PATH_MAX];
	snprintf(fixture, sizeof fixture, "%s/fixtures/record/split.py", ts_source_root());
	static const char *const exts[] = {".svg", ".txt", ".speedscope.json", ".pb.gz", ".pyprobe"};
	for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
		char out[PATH_MAX], name[64];
		snprintf(name, sizeof name, "formats%s", exts[i]);
		path_in(out, sizeof out, name);
		unlink(out);
		struct run r;
		char *args[] = {"record", "-o", out, "--no-progress", "--", (char *)python,
				fixture, "1", NULL};
		run(&r, args);
		cr_assert_eq(exit_code(&r), 0, "record -o %s failed:\n%s", name, r.err);
		cr_assert_gt(file_size(out), 100, "%s is (nearly) empty", name);
		cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
			  "stderr must be the one summary line:\n%s", r.err);
	}
	char raw[PATH_MAX], again[PATH_MAX], direct[PATH_MAX];
	path_in(raw, sizeof raw, "formats.pyprobe");
	path_in(again, sizeof again, "formats-rendered.txt");
	path_in(direct, sizeof direct, "formats.txt");
	struct run r;
	char *args[] = {"render", raw, "-o", again, NULL};
	run(&r, args);
	cr_assert_eq(exit_code(&r), 0, "render failed:\n%s", r.err);
	/* Different runs: compare shapes, not counts. Both must be collapsed
	 * stacks ("... COUNT" lines) naming the fixture's functions. */
	char a[65536], b[65536];
	ts_read_file(again, a, sizeof a);
	ts_read_file(direct, b, sizeof b);
	cr_assert(strstr(a, "alpha (") && strstr(a, "split.py:"), "rendered:\n%.2000s", a);
	cr_assert(strstr(b, "alpha (") && strstr(b, "split.py:"), "direct:\n%.2000s", b);
}

/* ---- stopping ------------------------------------------------------------ */

Test(record, sigterm_writes_what_was_sampled)
{
	char pybuf[512];
	const char *python = any_python(pybuf, sizeof pybuf);
	char *target[] = {(char *)python, "-c",
			  "import time\nwhile True:\n    sum(range(10000))\n", NULL};
	g_target = ts_spawn(target, NULL, NULL, 1);
	ts_sleep_ms(500);
	char out[PATH_MAX], err[PATH_MAX], pid[32];
	path_in(out, sizeof out, "sigterm.txt");
	path_in(err, sizeof err, "sigterm.err");
	unlink(out);
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	char *argv[] = {(char *)ts_pyprobe(), "record", "--pid", pid, "-o", out, NULL};
	pid_t rec = ts_spawn(argv, NULL, err, 0);
	ts_sleep_ms(1500);
	kill(rec, SIGTERM);
	int st = ts_wait_bounded(rec, 30);
	char buf[4096];
	ts_read_file(err, buf, sizeof buf);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d:\n%s",
		  WEXITSTATUS(st), buf);
	cr_assert_gt(file_size(out), 10, "nothing written after SIGTERM:\n%s", buf);
	cr_assert(strstr(buf, "samples in"), "no summary:\n%s", buf);
	cr_assert_eq(kill(g_target, 0), 0, "the target must keep running");
}

/* ---- errors ------------------------------------------------------------- */

Test(record, unwritable_output_fails_before_sampling)
{
	char pybuf[512];
	const char *python = any_python(pybuf, sizeof pybuf);
	char *target[] = {(char *)python, "-c", "import time; time.sleep(100)", NULL};
	g_target = ts_spawn(target, NULL, NULL, 1);
	ts_sleep_ms(300);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	double t0 = ts_now_s();
	struct run r;
	char *args[] = {"record", "--pid", pid, "-d", "30", "-o", "/nonexistent/dir/x.svg", NULL};
	run(&r, args);
	cr_assert_eq(exit_code(&r), 6, "want 6:\n%s", r.err);
	cr_assert_lt(ts_now_s() - t0, 5.0, "it sampled before finding out");
	cr_assert(!strncmp(r.err, "pyprobe: cannot write /nonexistent/dir/x.svg", 44), "%s", r.err);
}

Test(record, usage_and_target_errors)
{
	struct { int code; const char *args[8]; } cases[] = {
		{2, {"record", NULL}},
		{2, {"record", "--pid", "1", "--", "true", NULL}},
		{2, {"record", "--pid", "1", "-r", "0", NULL}},
		{2, {"record", "--pid", "1", "-r", "30000", NULL}},
		{2, {"record", "--pid", "1", "-f", "png", NULL}},
		{2, {"record", "--pid", "1", "-d", "-1", NULL}},
		{2, {"record", "--pid", NULL}},
		{2, {"render", NULL}},
		{3, {"record", "--pid", "999999999", "-o", "/dev/null", NULL}},
		{6, {"render", "/nonexistent.pyprobe", NULL}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct run r;
		run(&r, (char *const *)cases[i].args);
		cr_assert_eq(exit_code(&r), cases[i].code, "case %zu: exit %d, want %d:\n%s", i,
			     exit_code(&r), cases[i].code, r.err);
		cr_assert(!strncmp(r.err, "pyprobe: ", 9) &&
			  strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
			  "case %zu: not one 'pyprobe: ' line:\n%s", i, r.err);
	}
	/* a corrupt recording is a clean error */
	char bad[PATH_MAX];
	path_in(bad, sizeof bad, "corrupt.pyprobe");
	FILE *f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("this is not a recording at all\n", f);
	fclose(f);
	struct run r;
	char *args[] = {"render", bad, "-o", "/dev/null", NULL};
	run(&r, args);
	cr_assert_eq(exit_code(&r), 6, "%s", r.err);
}
