/* Names with U+0000 in them, from a real interpreter: a function whose
 * code object was given co_name "a\0b", co_qualname "Q\0R.a\0b" (3.11+)
 * and co_filename "/tmp/x\0y.py" (fixtures/dump/nul_names.py). The reader
 * keeps the whole name (as C0 80, reader/pystring.h) and every output
 * shows it escaped, not cut at the NUL: `dump` text (\x00), `dump --json`
 * (\u0000), collapsed stacks ('?'), and a .pyprobe recording rendered
 * later (which must hold no NUL byte: docs/format.md). On every
 * interpreter; a missing one is skipped by name. */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	g_target = -1;
}

TestSuite(nul_names, .fini = teardown, .timeout = 240);

static void path_in(char *out, size_t n, const char *name)
{
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%.3000s/tests/nul_names", b && *b ? b : "/tmp/pyprobe-tests");
	ts_mkdir_p(dir);
	int w = snprintf(out, n, "%s/%s", dir, name);
	cr_assert(w > 0 && (size_t)w < n, "path too long");
}

struct run {
	int status;
	char out[1 << 16], err[8192];
};

/* pyprobe ARGS... with standard output and error captured, at most 60 s. */
static void run(struct run *r, char *const args[])
{
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)ts_pyprobe();
	for (; args[n - 1] && n < 23; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	char out[PATH_MAX], err[PATH_MAX];
	path_in(out, sizeof out, "run.out");
	path_in(err, sizeof err, "run.err");
	r->status = ts_wait_bounded(ts_spawn(argv, out, err, 0), 60);
	ts_read_file(out, r->out, sizeof r->out);
	ts_read_file(err, r->err, sizeof r->err);
	cr_assert(r->status != -1, "pyprobe %s timed out:\n%s", args[0], r->err);
	cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
		  "pyprobe %s failed (status %#x):\n%s", args[0], r->status, r->err);
	cr_assert(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		  "sanitizer report:\n%s", r->err);
}

static void has(const char *what, const char *text, const char *want, const char *python)
{
	cr_assert_not_null(strstr(text, want), "%s: %s lacks %s:\n%.6000s", python, what, want,
			   text);
}

/* qual: the version has co_qualname (3.11+), which names the frame. */
static void check(const char *python, int qual)
{
	if (access(python, X_OK) != 0)
		cr_skip_test("python not installed at %s", python);
	char fixture[PATH_MAX], ready[PATH_MAX], pid[32];
	snprintf(fixture, sizeof fixture, "%.3000s/fixtures/dump/nul_names.py", ts_source_root());
	path_in(ready, sizeof ready, "target.out");
	unlink(ready);
	char *targv[] = {(char *)python, fixture, NULL};
	g_target = ts_spawn(targv, ready, NULL, 1);
	cr_assert_gt(g_target, 0);
	char buf[256] = "";
	for (int i = 0; i < 3000 && !strstr(buf, "ready"); i++) {
		ts_sleep_ms(10);
		ts_read_file(ready, buf, sizeof buf);
		cr_assert_eq(waitpid(g_target, NULL, WNOHANG), 0, "%s: the target exited", python);
	}
	cr_assert(strstr(buf, "ready"), "%s: the target never got ready", python);
	snprintf(pid, sizeof pid, "%d", (int)g_target);

	/* The qualified name on 3.11+, the bare name before: both hold the
	 * NUL, in the middle. */
	const char *text_fn = qual ? "    Q\\x00R.a\\x00b (/tmp/x\\x00y.py:"
				   : "    a\\x00b (/tmp/x\\x00y.py:";
	const char *coll_fn = qual ? ";Q?R.a?b (/tmp/x?y.py:" : ";a?b (/tmp/x?y.py:";

	struct run r;
	char *dump[] = {"dump", "--pid", pid, NULL};
	run(&r, dump);
	has("dump", r.out, text_fn, python);

	char *json[] = {"dump", "--json", "--pid", pid, NULL};
	run(&r, json);
	has("dump --json", r.out, "\"name\": \"a\\u0000b\"", python);
	has("dump --json", r.out, "\"file\": \"/tmp/x\\u0000y.py\"", python);
	has("dump --json", r.out,
	    qual ? "\"function\": \"Q\\u0000R.a\\u0000b\"" : "\"function\": \"a\\u0000b\"",
	    python);

	char *coll[] = {"record", "--pid", pid, "-d", "1", "-f", "collapsed", "-o", "-",
			"--no-progress", NULL};
	run(&r, coll);
	has("record -f collapsed", r.out, coll_fn, python);

	/* Through a recording: strings there never hold a NUL byte, and
	 * the name comes back whole. */
	char rec[PATH_MAX];
	path_in(rec, sizeof rec, "nul.pyprobe");
	unlink(rec);
	char *raw[] = {"record", "--pid", pid, "-d", "1", "-o", rec, "--no-progress", NULL};
	run(&r, raw);
	char *render[] = {"render", rec, "-f", "collapsed", "-o", "-", NULL};
	run(&r, render);
	has("render of the recording", r.out, coll_fn, python);
}

static void check_pyenv(const char *version, int qual)
{
	char buf[512];
	check(ts_pyenv_python(version, buf, sizeof buf), qual);
}

Test(nul_names, python_3_8) { check_pyenv("3.8.18", 0); }
Test(nul_names, python_3_9) { check_pyenv("3.9.18", 0); }
Test(nul_names, python_3_10) { check_pyenv("3.10.13", 0); }
Test(nul_names, python_3_11) { check_pyenv("3.11.7", 1); }
Test(nul_names, python_3_12) { check_pyenv("3.12.1", 1); }
Test(nul_names, python_3_13) { check_pyenv("3.13.0", 1); }
Test(nul_names, debian_python_3_11) { check("/usr/bin/python3.11", 1); }
