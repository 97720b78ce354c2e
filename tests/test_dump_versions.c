/* Integration: `pyprobe dump` against every supported interpreter.
 *
 * Each Test starts fixtures/dump/threads.py under one interpreter. The
 * fixture parks a dozen threads in known stacks and writes what the
 * interpreter itself reports (sys._current_frames()) to a truth file. We
 * then dump the live process three ways - JSON pausing the target (the
 * default), JSON with --nonblocking, plain text - and require the JSON to
 * equal the truth frame for frame (tests/compare_dump.py), the text header
 * to name the target, and the target to be running, not stopped, after
 * every run. A missing interpreter is a visible skip, never a pass.
 *
 * Artifacts (truth, dumps, logs) stay in
 * $PYPROBE_BUILD_ROOT/tests/dump_versions/<label>/ for post-mortems.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define TRUTH_TIMEOUT_S 60   /* fixture start-up: all threads parked + truth written */
#define PYPROBE_TIMEOUT_S 60 /* one dump under ASan, 1,200-frame stack included */
#define MIN_TRUTH_THREADS 10 /* main + nine parked threads, before the sub-interpreter one */

/* The fixture's process group; killed in teardown whatever happened. */
static pid_t g_fixture = -1;

static void kill_fixture(void)
{
	if (g_fixture > 0) {
		kill(-g_fixture, SIGKILL);
		waitpid(g_fixture, NULL, 0);
		g_fixture = -1;
	}
}

TestSuite(dump_versions, .fini = kill_fixture, .timeout = 420);




/* Files are read into caller-provided buffers, never the heap: a failed
 * cr_assert leaves the test by longjmp, and anything malloc'd would then
 * show up as a LeakSanitizer report that masks the real failure. */


/* The last size-1 bytes of a file (for failure messages). */
static const char *tail_of(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return "(unreadable)";
	if (fseek(f, 0, SEEK_END) == 0) {
		long end = ftell(f);
		if (end > (long)size - 1)
			fseek(f, end - (long)(size - 1), SEEK_SET);
		else
			rewind(f);
	}
	size_t len = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[len] = '\0';
	return buf;
}






/* Fail unless a finished child exited 0 cleanly, quoting its stderr. */
static void assert_clean_exit(int status, const char *what, const char *err_path)
{
	static char errbuf[4096];
	const char *err = tail_of(err_path, errbuf, sizeof errbuf);
	cr_assert(status != -1, "%s: timed out after %d s\nstderr:\n%s", what,
		  PYPROBE_TIMEOUT_S, err);
	cr_assert(!WIFSIGNALED(status), "%s: killed by signal %d\nstderr:\n%s",
		  what, WTERMSIG(status), err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "%s: exit status %d, want 0\nstderr:\n%s", what,
		  WEXITSTATUS(status), err);
	/* abort_on_error turns most sanitizer reports into a signal; this
	 * catches the ones that only print (e.g. a leak report at exit). */
	cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error:"),
		  "%s: sanitizer report on stderr:\n%s", what, err);
}

/* State letter from /proc/PID/task/TID/stat (after the last ')'). */
static char task_state(pid_t pid, const char *tid)
{
	char path[384];
	snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, tid);
	char s[1024];
	if (ts_read_file(path, s, sizeof s) <= 0)
		return '?';
	char *rp = strrchr(s, ')');
	return (rp && rp[1] == ' ') ? rp[2] : '?';
}

/* The target must survive pyprobe and must not be left stopped: after a
 * short settle (a thread restarting its interrupted syscall may show R for
 * an instant), the process is S and none of its threads is T/t. */
static void assert_target_running(pid_t pid, const char *after)
{
	int status;
	cr_assert(waitpid(pid, &status, WNOHANG) == 0,
		  "fixture %d died after %s (status 0x%x)", (int)pid, after, status);
	double deadline = ts_now_s() + 3.0;
	char bad[512];
	for (;;) {
		bad[0] = '\0';
		char self[32];
		snprintf(self, sizeof self, "%d", (int)pid);
		char main_state = task_state(pid, self);
		if (main_state != 'S')
			snprintf(bad, sizeof bad, "process state %c", main_state);
		char dir[64];
		snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
		DIR *d = opendir(dir);
		cr_assert(d, "fixture %d: cannot open %s after %s", (int)pid, dir, after);
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char st = task_state(pid, de->d_name);
			if (st == 'T' || st == 't') {
				size_t n = strlen(bad);
				snprintf(bad + n, sizeof bad - n, "%stask %s state %c",
					 n ? ", " : "", de->d_name, st);
			}
		}
		closedir(d);
		if (!bad[0])
			return;
		if (ts_now_s() > deadline)
			cr_assert_fail("fixture %d not running normally after %s: %s",
				(int)pid, after, bad);
		ts_sleep_ms(50);
	}
}

/* "key": <number> in the truth file (written by json.dump, ": " separator). */
static long truth_long(const char *truth, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	const char *p = strstr(truth, pat);
	cr_assert(p, "truth file has no %s", key);
	return strtol(p + strlen(pat), NULL, 10);
}

/* "key": "<string>" in the truth file, copied into out. */
static void truth_string(const char *truth, const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": \"", key);
	const char *p = strstr(truth, pat);
	cr_assert(p, "truth file has no string %s", key);
	p += strlen(pat);
	const char *q = strchr(p, '"');
	cr_assert(q && (size_t)(q - p) < n, "truth file: bad %s", key);
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
}

/* Does `hay` contain the decimal number `n` as a whole token? */
static int has_number_token(const char *hay, long n)
{
	char num[32];
	int len = snprintf(num, sizeof num, "%ld", n);
	for (const char *p = strstr(hay, num); p; p = strstr(p + 1, num)) {
		int before = p == hay || p[-1] < '0' || p[-1] > '9';
		int after = p[len] < '0' || p[len] > '9';
		if (before && after)
			return 1;
	}
	return 0;
}

/* Does `hay` name `version` as a word of its own? "3.11.2" inside a path
 * such as /versions/3.11.7/bin does not count: pyenv puts the version in
 * every path, so that would pass even with no version line at all. */
static int has_version_token(const char *hay, const char *version)
{
	size_t len = strlen(version);
	for (const char *p = strstr(hay, version); p; p = strstr(p + 1, version)) {
		int before = p == hay || strchr(" \t(\"'[,:=", p[-1]);
		int after = p[len] == '\0' || strchr(" \t\n)\"'],;:", p[len]);
		if (before && after)
			return 1;
	}
	return 0;
}

struct run_dir {
	char dir[PATH_MAX];
	char truth[PATH_MAX + 32];
};

/* snprintf that fails the test instead of silently truncating a path. */
__attribute__((format(printf, 3, 4)))
static void fmt_path(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vsnprintf(out, n, fmt, ap);
	va_end(ap);
	cr_assert(r >= 0 && (size_t)r < n, "path too long: %s", out);
}

static void path_in(char *out, size_t n, const struct run_dir *rd, const char *name)
{
	fmt_path(out, n, "%s/%s", rd->dir, name);
}

/* One pyprobe dump into <dir>/<name>.{out,err}; asserts a clean exit. */
static void run_pyprobe_dump(const struct run_dir *rd, pid_t pid, const char *name,
			     const char *extra1, const char *extra2)
{
	char out[PATH_MAX + 64], err[PATH_MAX + 64], pidbuf[32];
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	char base[PATH_MAX];
	path_in(base, sizeof base, rd, name);
	snprintf(out, sizeof out, "%s.out", base);
	snprintf(err, sizeof err, "%s.err", base);
	char *argv[] = { (char *)ts_pyprobe(), "dump", "--pid", pidbuf,
			 (char *)extra1, (char *)extra2, NULL };
	pid_t child = ts_spawn(argv, out, err, 0);
	cr_assert(child > 0, "fork: %s", strerror(errno));
	char what[128];
	snprintf(what, sizeof what, "pyprobe dump --pid %d%s%s%s%s", (int)pid,
		 extra1 ? " " : "", extra1 ? extra1 : "",
		 extra2 ? " " : "", extra2 ? extra2 : "");
	assert_clean_exit(ts_wait_bounded(child, PYPROBE_TIMEOUT_S), what, err);
}

/* compare_dump.py TRUTH <name>.out, with python3 from PATH; `root`: the
 * root the target runs in (its paths are under it here), or "". */
static void compare_with_truth(const struct run_dir *rd, const char *name, const char *root)
{
	char script[PATH_MAX], dump[PATH_MAX + 64], out[PATH_MAX + 64];
	char minth[16], base[PATH_MAX];
	snprintf(script, sizeof script, "%s/tests/compare_dump.py", ts_source_root());
	path_in(base, sizeof base, rd, name);
	snprintf(dump, sizeof dump, "%s.out", base);
	snprintf(out, sizeof out, "%s.compare", base);
	snprintf(minth, sizeof minth, "%d", MIN_TRUTH_THREADS);
	char *argv[] = { "python3", script, "--min-threads", minth, "--root",
			 (char *)(root[0] ? root : "/"), (char *)rd->truth, dump, NULL };
	pid_t child = ts_spawn(argv, out, out, 0);
	cr_assert(child > 0, "fork: %s", strerror(errno));
	int status = ts_wait_bounded(child, 60);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		static char report[8192];
		cr_assert_fail("%s does not match the interpreter's own view:\n%s",
			       name, tail_of(out, report, sizeof report));
	}
}

static void check_interpreter(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	const char *label = py.label;

	struct run_dir rd;
	char rel[64];
	snprintf(rel, sizeof rel, "dump_versions/%s", label);
	ts_python_scratch(&py, rel, rd.dir, sizeof rd.dir);
	snprintf(rd.truth, sizeof rd.truth, "%s/truth.json", rd.dir);
	/* A stale truth file from an earlier run would be "found" at once. */
	unlink(rd.truth);

	char fixture[PATH_MAX], truth_arg[PATH_MAX], log[PATH_MAX + 32];
	ts_python_source(&py, "fixtures/dump/threads.py", fixture, sizeof fixture);
	ts_python_path(&py, rd.truth, truth_arg, sizeof truth_arg);
	path_in(log, sizeof log, &rd, "fixture.log");
	/* -X utf8: non-ASCII file and function names decode the same whatever
	 * the locale; -E -s: no PYTHON* variables or user site from the
	 * environment; -B: no __pycache__ in the source tree. */
	char *argv[16];
	size_t n = 0;
	ts_python_argv(&py, argv, &n, 16);
	const char *args[] = { "-X", "utf8", "-E", "-s", "-B", fixture, truth_arg, NULL };
	for (size_t i = 0; args[i]; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	g_fixture = ts_spawn(argv, log, log, 1);
	cr_assert(g_fixture > 0, "fork: %s", strerror(errno));
	pid_t pid = g_fixture;

	static char logbuf[4096];
	double deadline = ts_now_s() + TRUTH_TIMEOUT_S;
	while (access(rd.truth, F_OK) != 0) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_fixture = -1;
			cr_assert_fail("fixture under %s exited (status 0x%x) before writing "
				       "the truth:\n%s", label, status,
				       tail_of(log, logbuf, sizeof logbuf));
		}
		if (ts_now_s() > deadline) {
			cr_assert_fail("fixture under %s wrote no truth in %d s:\n%s",
				       label, TRUTH_TIMEOUT_S,
				       tail_of(log, logbuf, sizeof logbuf));
		}
		ts_sleep_ms(50);
	}

	static char truth[4 << 20];
	cr_assert(ts_read_file(rd.truth, truth, sizeof truth) > 0, "cannot read %s",
		  rd.truth);
	cr_assert_eq(truth_long(truth, "pid"), (long)pid,
		     "truth pid is not the fixture's");
	long reporter = truth_long(truth, "reporter_native_id");
	char version[64];
	truth_string(truth, "version", version, sizeof version);

	/* The reporter exits right after writing; until its thread is gone it
	 * would be an extra thread in the dump. */
	char task[64];
	snprintf(task, sizeof task, "/proc/%d/task/%ld", (int)pid, reporter);
	deadline = ts_now_s() + 10;
	while (access(task, F_OK) == 0) {
		cr_assert(ts_now_s() < deadline, "reporter thread %ld never exited", reporter);
		ts_sleep_ms(20);
	}
	assert_target_running(pid, "start-up");

	run_pyprobe_dump(&rd, pid, "dump-blocking", "--json", NULL);
	assert_target_running(pid, "pyprobe dump --json");
	compare_with_truth(&rd, "dump-blocking", py.root);

	run_pyprobe_dump(&rd, pid, "dump-nonblocking", "--json", "--nonblocking");
	assert_target_running(pid, "pyprobe dump --json --nonblocking");
	compare_with_truth(&rd, "dump-nonblocking", py.root);

	run_pyprobe_dump(&rd, pid, "dump-text", NULL, NULL);
	assert_target_running(pid, "pyprobe dump");
	char text_path[PATH_MAX + 32];
	path_in(text_path, sizeof text_path, &rd, "dump-text.out");
	static char text[4 << 20];
	cr_assert(ts_read_file(text_path, text, sizeof text) > 0,
		  "plain dump printed nothing");
	/* The header is everything before the first thread. */
	char header[4096];
	const char *first = strncmp(text, "Thread ", 7) == 0 ? text : strstr(text, "\nThread ");
	size_t hlen = first ? (size_t)(first - text) : strlen(text);
	if (hlen >= sizeof header)
		hlen = sizeof header - 1;
	memcpy(header, text, hlen);
	header[hlen] = '\0';
	cr_assert(has_number_token(header, pid),
		  "text header does not name pid %d:\n%s", (int)pid, header);
	cr_assert(has_version_token(header, version),
		  "text header does not name python %s (outside a path):\n%s",
		  version, header);
	char want[64];
	snprintf(want, sizeof want, "Thread %d \"MainThread\"", (int)pid);
	cr_assert(strstr(text, want), "plain dump has no '%s' line:\n%.3000s",
		  want, text);
}

Test(dump_versions, python_3_8) { check_interpreter("3.8.18"); }
Test(dump_versions, python_3_9) { check_interpreter("3.9.18"); }
Test(dump_versions, python_3_10) { check_interpreter("3.10.13"); }
Test(dump_versions, python_3_11) { check_interpreter("3.11.7"); }
Test(dump_versions, python_3_12) { check_interpreter("3.12.1"); }
Test(dump_versions, python_3_13) { check_interpreter("3.13.0"); }

/* Debian's build: static libpython, stripped, non-PIE. */
Test(dump_versions, debian_python_3_11) { check_interpreter("debian"); }

/* Debian sid's builds, chrooted into the sid root (static, stripped,
 * non-PIE too); the debug build 3.14d as well. */
Test(dump_versions, sid_python_3_13) { check_interpreter("sid-3.13"); }
Test(dump_versions, sid_python_3_14) { check_interpreter("sid-3.14"); }
Test(dump_versions, sid_python_3_15) { check_interpreter("sid-3.15"); }
Test(dump_versions, sid_python_3_14d) { check_interpreter("sid-3.14d"); }
