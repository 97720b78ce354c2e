/* Integration: `pyprobe dump --native` against every supported interpreter.
 *
 * Each Test starts fixtures/dump/native.py under one interpreter: four
 * threads blocked in C (time.sleep, a contended Lock, select.select, libc's
 * pause() through ctypes). Once they are parked we take `dump --json` and
 * `dump --json --native` of the still process and require (through
 * tests/check_native_dump.py) the native dump's Python frames to equal the
 * plain dump's and each blocking C function to sit inner to its Python
 * park function - merged where the interpreter's evaluation function has a
 * symbol (pyenv's builds, Debian's 3.11 whose .dynsym exports it), shown
 * apart with a note where it has none (Debian sid's stripped builds). The
 * text form must print native frames; --native with --nonblocking is a
 * usage error. A missing interpreter is a visible skip.
 *
 * Artifacts stay in $PYPROBE_BUILD_ROOT/tests/dump_native/<label>/.
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

#define READY_TIMEOUT_S 60
#define PYPROBE_TIMEOUT_S 120 /* libdw reads libpython's DWARF under ASan */

static pid_t g_fixture = -1;

static void kill_fixture(void)
{
	if (g_fixture > 0) {
		kill(-g_fixture, SIGKILL);
		waitpid(g_fixture, NULL, 0);
		g_fixture = -1;
	}
}

TestSuite(dump_native, .fini = kill_fixture, .timeout = 600);

static void path_in(char *out, size_t n, const char *dir, const char *name)
{
	int r = snprintf(out, n, "%s/%s", dir, name);
	cr_assert(r > 0 && (size_t)r < n, "path too long: %s/%s", dir, name);
}

/* pyprobe dump --pid PID ARGS... > dir/name.out; returns its exit code. */
static int run_dump(const char *dir, pid_t pid, const char *name, const char *a1,
		    const char *a2, const char *a3)
{
	char out[PATH_MAX], err[PATH_MAX], base[PATH_MAX - 16], pidbuf[32];
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	path_in(base, sizeof base, dir, name);
	snprintf(out, sizeof out, "%s.out", base);
	snprintf(err, sizeof err, "%s.err", base);
	char *argv[] = {(char *)ts_pyprobe(), "dump", "--pid", pidbuf, (char *)a1, (char *)a2,
			(char *)a3, NULL};
	pid_t child = ts_spawn(argv, out, err, 0);
	cr_assert(child > 0, "fork: %s", strerror(errno));
	int status = ts_wait_bounded(child, PYPROBE_TIMEOUT_S);
	static char errbuf[4096];
	long n = ts_read_file(err, errbuf, sizeof errbuf);
	if (n < 0)
		errbuf[0] = '\0';
	cr_assert(status != -1, "%s: timed out", name);
	cr_assert(WIFEXITED(status), "%s: killed by signal %d\n%s", name,
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0, errbuf);
	cr_assert(!strstr(errbuf, "Sanitizer") && !strstr(errbuf, "runtime error:"),
		  "%s: sanitizer report:\n%s", name, errbuf);
	return WEXITSTATUS(status);
}

static void check(const char *spec, const char *mode)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char dir[PATH_MAX - 64], rel[64];
	snprintf(rel, sizeof rel, "dump_native/%s", py.label);
	ts_python_scratch(&py, rel, dir, sizeof dir);
	char ready[PATH_MAX], ready_arg[PATH_MAX], fixture[PATH_MAX], log[PATH_MAX];
	path_in(ready, sizeof ready, dir, "ready");
	path_in(log, sizeof log, dir, "fixture.log");
	unlink(ready);
	ts_python_source(&py, "fixtures/dump/native.py", fixture, sizeof fixture);
	ts_python_path(&py, ready, ready_arg, sizeof ready_arg);

	char *argv[16];
	size_t n = 0;
	ts_python_argv(&py, argv, &n, 16);
	const char *args[] = {"-E", "-s", "-B", fixture, ready_arg, "600", NULL};
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	g_fixture = ts_spawn(argv, log, log, 1);
	cr_assert(g_fixture > 0, "fork: %s", strerror(errno));
	pid_t pid = g_fixture;
	double deadline = ts_now_s() + READY_TIMEOUT_S;
	static char buf[1 << 16];
	while (access(ready, F_OK) != 0) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_fixture = -1;
			long k = ts_read_file(log, buf, sizeof buf);
			cr_assert_fail("fixture under %s exited (0x%x):\n%s", py.label, status,
				       k > 0 ? buf : "");
		}
		cr_assert(ts_now_s() < deadline, "fixture under %s never parked", py.label);
		ts_sleep_ms(50);
	}

	cr_assert_eq(run_dump(dir, pid, "plain", "--json", NULL, NULL), 0, "dump --json failed");
	cr_assert_eq(run_dump(dir, pid, "native", "--json", "--native", NULL), 0,
		     "dump --json --native failed");
	cr_assert_eq(run_dump(dir, pid, "text", "-n", NULL, NULL), 0, "dump -n failed");
	cr_assert_eq(run_dump(dir, pid, "nonblocking", "--native", "--nonblocking", NULL), 2,
		     "--native --nonblocking is not a usage error");
	char err[PATH_MAX];
	path_in(err, sizeof err, dir, "nonblocking.err");
	cr_assert(ts_read_file(err, buf, sizeof buf) > 0 &&
			  strstr(buf, "pyprobe: ") == buf && strstr(buf, "--nonblocking"),
		  "--native --nonblocking: no clear message:\n%s", buf);

	char script[PATH_MAX], plain[PATH_MAX], native[PATH_MAX], out[PATH_MAX];
	snprintf(script, sizeof script, "%s/tests/check_native_dump.py", ts_source_root());
	path_in(plain, sizeof plain, dir, "plain.out");
	path_in(native, sizeof native, dir, "native.out");
	path_in(out, sizeof out, dir, "check.out");
	char *cargv[] = {"python3", script, plain, native, (char *)mode, NULL};
	pid_t child = ts_spawn(cargv, out, out, 0);
	cr_assert(child > 0, "fork: %s", strerror(errno));
	int status = ts_wait_bounded(child, 60);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		long k = ts_read_file(out, buf, sizeof buf);
		cr_assert_fail("%s: dump --native is wrong (%s):\n%s", py.label, dir,
			       k > 0 ? buf : "");
	}

	/* The text dump shows native frames as "function (library+0xOFFSET)". */
	char text[PATH_MAX];
	path_in(text, sizeof text, dir, "text.out");
	cr_assert(ts_read_file(text, buf, sizeof buf) > 0, "dump -n printed nothing");
	cr_assert(strstr(buf, "libc.so.6+0x"), "dump -n shows no libc frame:\n%.3000s", buf);
	if (strcmp(mode, "separate") == 0)
		cr_assert(strstr(buf, "Native frames are shown apart") && strstr(buf, "  native:"),
			  "dump -n does not say the stacks are apart:\n%.3000s", buf);
	kill_fixture();
}

Test(dump_native, python_3_8) { check("3.8.18", "merged"); }
Test(dump_native, python_3_9) { check("3.9.18", "merged"); }
Test(dump_native, python_3_10) { check("3.10.13", "merged"); }
Test(dump_native, python_3_11) { check("3.11.7", "merged"); }
Test(dump_native, python_3_12) { check("3.12.1", "merged"); }
Test(dump_native, python_3_13) { check("3.13.0", "merged"); }
/* Stripped, static, but its .dynsym exports _PyEval_EvalFrameDefault. */
Test(dump_native, debian_python_3_11) { check("debian", "merged"); }
/* Stripped: the evaluation loop's body is a local symbol there, so no
 * native frame is known as the evaluator - the stacks are shown apart. */
Test(dump_native, sid_python_3_13) { check("sid-3.13", "separate"); }
Test(dump_native, sid_python_3_14) { check("sid-3.14", "separate"); }
Test(dump_native, sid_python_3_15) { check("sid-3.15", "separate"); }
/* sid's debug build has its symbols: merged, through 3.14's interpreter-
 * owned entry frames. */
Test(dump_native, sid_python_3_14d) { check("sid-3.14d", "merged"); }
