/* Integration: `pyprobe record --native`.
 *
 * fixtures/dump/native.py parks four threads in C calls (time.sleep, a
 * contended Lock, select.select, libc's pause() through ctypes). Recorded
 * with --native --idle as collapsed stacks, each park function's samples
 * must go on into native frames ending in the blocking C function (merged
 * stacks, on interpreters whose evaluation function has a symbol), and the
 * same recording kept as a .pyprobe file must render to the same lines -
 * native frames survive the recording format. On Debian sid's stripped
 * builds the stacks are drawn with their Python frames alone and the
 * summary says how many. --native with --nonblocking is a usage error.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static pid_t g_fixture = -1;

static void kill_fixture(void)
{
	if (g_fixture > 0) {
		kill(-g_fixture, SIGKILL);
		waitpid(g_fixture, NULL, 0);
		g_fixture = -1;
	}
}

TestSuite(record_native, .fini = kill_fixture, .timeout = 600);

static pid_t start_fixture(const struct ts_python *py, char *dir, size_t dirlen)
{
	char rel[64];
	snprintf(rel, sizeof rel, "record_native/%s", py->label);
	ts_python_scratch(py, rel, dir, dirlen);
	char ready[PATH_MAX], ready_arg[PATH_MAX], fixture[PATH_MAX], log[PATH_MAX];
	snprintf(ready, sizeof ready, "%s/ready", dir);
	snprintf(log, sizeof log, "%s/fixture.log", dir);
	unlink(ready);
	ts_python_source(py, "fixtures/dump/native.py", fixture, sizeof fixture);
	ts_python_path(py, ready, ready_arg, sizeof ready_arg);
	char *argv[16];
	size_t n = 0;
	ts_python_argv(py, argv, &n, 16);
	const char *args[] = {"-E", "-s", "-B", fixture, ready_arg, "600", NULL};
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	g_fixture = ts_spawn(argv, log, log, 1);
	cr_assert(g_fixture > 0, "fork: %s", strerror(errno));
	double deadline = ts_now_s() + 60;
	while (access(ready, F_OK) != 0) {
		int status;
		cr_assert(waitpid(g_fixture, &status, WNOHANG) == 0, "fixture under %s exited",
			  py->label);
		cr_assert(ts_now_s() < deadline, "fixture under %s never parked", py->label);
		ts_sleep_ms(50);
	}
	return g_fixture;
}

/* The collapsed line (root first) through `park` must continue, leafward,
 * into native frames only, one of which names `blocking`. */
static void assert_merged(const char *collapsed, const char *park, const char *blocking)
{
	char pat[64];
	snprintf(pat, sizeof pat, ";%s (", park);
	const char *line = strstr(collapsed, pat);
	cr_assert(line, "no stack through %s:\n%.4000s", park, collapsed);
	const char *end = strchr(line, '\n');
	size_t len = end ? (size_t)(end - line) : strlen(line);
	char buf[8192];
	cr_assert(len < sizeof buf, "stack too long");
	memcpy(buf, line, len);
	buf[len] = '\0';
	/* after the park frame: no Python file of the fixture, and the
	 * blocking function */
	const char *after = strchr(buf + 1, ';');
	cr_assert(after, "%s is the leaf: no native frames under it:\n%s", park, buf);
	cr_assert(!strstr(after, ".py:"), "a Python frame under %s:\n%s", park, buf);
	cr_assert(strstr(after, blocking), "no %s under %s:\n%s", blocking, park, buf);
}

static void check(const char *spec, bool merged)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char dir[PATH_MAX - 64];
	pid_t pid = start_fixture(&py, dir, sizeof dir);
	char pidbuf[32], rec[PATH_MAX];
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	snprintf(rec, sizeof rec, "%s/native.pyprobe", dir);
	static struct ts_run r;
	char *a1[] = {"record", "--pid", pidbuf, "-d", "1.5", "--native", "--idle",
		      "--no-progress", "-o", rec, NULL};
	ts_run_pyprobe("record_native", &r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "record --native failed:\n%s", r.err);
	const char *sum = strstr(r.err, "pyprobe: native frames: unwinding");
	cr_assert(sum, "no native summary line:\n%s", r.err);
	/* "...; N thread samples (P%) drawn without them" */
	const char *semi = strstr(sum, "; ");
	cr_assert(semi, "%s", sum);
	long unmerged = strtol(semi + 2, NULL, 10);
	cr_assert(merged ? unmerged == 0 : unmerged > 0,
		  "%ld thread samples unmerged on %s:\n%s", unmerged, py.label, r.err);
	char *a2[] = {"render", rec, "-f", "collapsed", "--idle", "-o", "-", NULL};
	ts_run_pyprobe("record_native", &r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "render failed:\n%s", r.err);
	static char out[65536];
	memcpy(out, r.out, sizeof out);
	if (merged) {
		assert_merged(out, "park_sleep", "sleep");
		assert_merged(out, "park_select", "select");
		assert_merged(out, "park_ctypes", "pause");
		assert_merged(out, "park_lock", "PyThread_acquire_lock");
	} else {
		cr_assert(strstr(out, ";park_sleep (") && !strstr(out, "clock_nanosleep"),
			  "stripped interpreter: native frames were merged:\n%.4000s", out);
	}
	/* flame graph: native frames have their own legend entry */
	char *a3[] = {"render", rec, "-f", "flamegraph", "--idle", "-o", "-", NULL};
	ts_run_pyprobe("record_native", &r, a3);
	cr_assert_eq(ts_exit_code(&r), 0, "render -f flamegraph failed:\n%s", r.err);
	if (merged)
		cr_assert(strstr(r.out, "native (C)"), "no native legend in the flame graph");
	kill_fixture();
}

Test(record_native, python_3_8) { check("3.8.18", true); }
Test(record_native, python_3_11) { check("3.11.7", true); }
Test(record_native, python_3_13) { check("3.13.0", true); }
Test(record_native, debian_python_3_11) { check("debian", true); }
Test(record_native, sid_python_3_14) { check("sid-3.14", false); }

Test(record_native, nonblocking_is_a_usage_error)
{
	static struct ts_run r;
	char *a[] = {"record", "--native", "--nonblocking", "--pid", "1", NULL};
	ts_run_pyprobe("record_native", &r, a);
	cr_assert_eq(ts_exit_code(&r), 2, "exit %d:\n%s", ts_exit_code(&r), r.err);
	cr_assert(strstr(r.err, "pyprobe: ") == r.err && strstr(r.err, "--nonblocking"),
		  "%s", r.err);
}
