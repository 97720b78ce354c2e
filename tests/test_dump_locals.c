/* Integration: `pyprobe dump --locals` against every supported interpreter.
 *
 * Each Test starts fixtures/dump/locals.py under one interpreter. Its thread
 * "locals-worker" parks in a function with known arguments and locals (ints
 * small and big, floats, str of every kind, bytes, containers, a custom
 * object, None, booleans, a cell variable) and in a nested function with a
 * free variable; the fixture writes what it computes about them itself.
 * We dump it with --json --locals, paused and with --nonblocking, and
 * require tests/compare_locals.py to find the very same names, types and
 * reprs; then the text form, whose lines we look for. The target must be
 * running, not stopped, after every dump. A missing interpreter is a
 * visible skip by name.
 *
 * Artifacts stay in $PYPROBE_BUILD_ROOT/tests/dump_locals/<label>/.
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

#define TRUTH_TIMEOUT_S 60
#define PYPROBE_TIMEOUT_S 60

static pid_t g_fixture = -1;

static void kill_fixture(void)
{
	if (g_fixture > 0) {
		kill(-g_fixture, SIGKILL);
		waitpid(g_fixture, NULL, 0);
		g_fixture = -1;
	}
}

TestSuite(dump_locals, .fini = kill_fixture, .timeout = 300);

/* Buffers, not heap: a failed cr_assert leaves by longjmp. */
static char g_text[1 << 20];
static char g_err[8192];

static void path_of(char *out, size_t n, const char *dir, const char *name)
{
	int r = snprintf(out, n, "%s/%s", dir, name);
	cr_assert(r > 0 && (size_t)r < n, "path too long: %s/%s", dir, name);
}

/* pyprobe dump --pid PID --locals [extra...] > dir/name.out; exits 0. */
static void run_dump(const char *dir, pid_t pid, const char *name, const char *extra1,
		     const char *extra2)
{
	char out[PATH_MAX + 16], err[PATH_MAX + 16], base[PATH_MAX], pidbuf[32];
	path_of(base, sizeof base, dir, name);
	snprintf(out, sizeof out, "%s.out", base);
	snprintf(err, sizeof err, "%s.err", base);
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	char *argv[] = {(char *)ts_pyprobe(), "dump", "--pid", pidbuf, "--locals",
			(char *)extra1, (char *)extra2, NULL};
	pid_t child = ts_spawn(argv, out, err, 0);
	cr_assert(child > 0, "fork: %s", strerror(errno));
	int status = ts_wait_bounded(child, PYPROBE_TIMEOUT_S);
	if (ts_read_file(err, g_err, sizeof g_err) < 0)
		g_err[0] = '\0';
	cr_assert(status != -1, "%s: timed out", name);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s: pyprobe dump --locals %s %s: status 0x%x\n%s", name,
		  extra1 ? extra1 : "", extra2 ? extra2 : "", status, g_err);
	cr_assert(!strstr(g_err, "Sanitizer") && !strstr(g_err, "runtime error:"),
		  "%s: sanitizer report:\n%s", name, g_err);
}

/* The target is alive and none of its threads is left stopped. */
static void assert_running(pid_t pid, const char *after)
{
	int status;
	cr_assert(waitpid(pid, &status, WNOHANG) == 0, "fixture died after %s", after);
	double deadline = ts_now_s() + 3.0;
	for (;;) {
		char cmd[128], out[4096];
		snprintf(cmd, sizeof cmd, "cat /proc/%d/task/*/stat | grep -c ') [tT] '", (int)pid);
		ts_shell(cmd, out, sizeof out);
		if (atoi(out) == 0)
			return;
		cr_assert(ts_now_s() < deadline, "fixture has stopped threads after %s", after);
		ts_sleep_ms(50);
	}
}

static void compare(const char *dir, const char *truth, const char *name)
{
	char script[PATH_MAX], dump[PATH_MAX + 16], base[PATH_MAX], out[PATH_MAX + 16];
	snprintf(script, sizeof script, "%s/tests/compare_locals.py", ts_source_root());
	path_of(base, sizeof base, dir, name);
	snprintf(dump, sizeof dump, "%s.out", base);
	snprintf(out, sizeof out, "%s.compare", base);
	char *argv[] = {"python3", script, (char *)truth, dump, NULL};
	pid_t child = ts_spawn(argv, out, out, 0);
	cr_assert(child > 0, "fork: %s", strerror(errno));
	int status = ts_wait_bounded(child, 60);
	if (ts_read_file(out, g_err, sizeof g_err) < 0)
		g_err[0] = '\0';
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s: locals differ from the target's own view:\n%s", name, g_err);
}

static void check_interpreter(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char dir[PATH_MAX], rel[64], truth[PATH_MAX], truth_arg[PATH_MAX], fixture[PATH_MAX];
	char log[PATH_MAX];
	snprintf(rel, sizeof rel, "dump_locals/%s", py.label);
	ts_python_scratch(&py, rel, dir, sizeof dir);
	path_of(truth, sizeof truth, dir, "truth.json");
	path_of(log, sizeof log, dir, "fixture.log");
	unlink(truth);
	ts_python_source(&py, "fixtures/dump/locals.py", fixture, sizeof fixture);
	ts_python_path(&py, truth, truth_arg, sizeof truth_arg);

	char *argv[16];
	size_t n = 0;
	ts_python_argv(&py, argv, &n, 16);
	const char *args[] = {"-X", "utf8", "-E", "-s", "-B", fixture, truth_arg, "300", NULL};
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	g_fixture = ts_spawn(argv, log, log, 1);
	cr_assert(g_fixture > 0, "fork: %s", strerror(errno));
	pid_t pid = g_fixture;
	double deadline = ts_now_s() + TRUTH_TIMEOUT_S;
	while (access(truth, F_OK) != 0) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_fixture = -1;
			ts_read_file(log, g_err, sizeof g_err);
			cr_assert_fail("fixture under %s exited (0x%x):\n%s", py.label, status, g_err);
		}
		cr_assert(ts_now_s() < deadline, "fixture under %s wrote no truth", py.label);
		ts_sleep_ms(50);
	}

	run_dump(dir, pid, "locals-json", "--json", NULL);
	assert_running(pid, "dump --locals --json");
	compare(dir, truth, "locals-json");
	run_dump(dir, pid, "locals-json-nonblocking", "--json", "--nonblocking");
	assert_running(pid, "dump --locals --json --nonblocking");
	compare(dir, truth, "locals-json-nonblocking");

	/* Text: `name = repr` under the frame, indented eight spaces. */
	run_dump(dir, pid, "locals-text", NULL, NULL);
	assert_running(pid, "dump --locals");
	char text_path[PATH_MAX];
	path_of(text_path, sizeof text_path, dir, "locals-text.out");
	cr_assert(ts_read_file(text_path, g_text, sizeof g_text) > 0, "no text output");
	static const char *const lines[] = {
		"\n        small = 42\n",
		"\n        arg = 12345678901234567890\n",
		"\n        negzero = -0.0\n",
		"\n        tenth = 0.1\n",
		"\n        text = 'h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9d\x84\x9e'\n",
		"\n        raw = b\"\\x00bytes\\xff'q'\"\n",
		"\n        items = <list of 3 items>\n",
		"\n        nothing = None\n",
		"\n        yes = True\n",
		"\n        captured = 'cell value'\n",
		"\n        seen = 'cell value'\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		cr_assert(strstr(g_text, lines[i]), "text dump under %s lacks %s:\n%.4000s",
			  py.label, lines[i], g_text);
	cr_assert(strstr(g_text, "\n    holder ("), "text dump under %s lacks the frame holder",
		  py.label);
	kill_fixture();
}

Test(dump_locals, python_3_8) { check_interpreter("3.8.18"); }
Test(dump_locals, python_3_9) { check_interpreter("3.9.18"); }
Test(dump_locals, python_3_10) { check_interpreter("3.10.13"); }
Test(dump_locals, python_3_11) { check_interpreter("3.11.7"); }
Test(dump_locals, python_3_12) { check_interpreter("3.12.1"); }
Test(dump_locals, python_3_13) { check_interpreter("3.13.0"); }
Test(dump_locals, debian_python_3_11) { check_interpreter("debian"); }
Test(dump_locals, sid_python_3_13) { check_interpreter("sid-3.13"); }
Test(dump_locals, sid_python_3_14) { check_interpreter("sid-3.14"); }
Test(dump_locals, sid_python_3_15) { check_interpreter("sid-3.15"); }
