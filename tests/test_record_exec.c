/* `pyprobe record` of a process that execs (os.execv) into another program
 * while it is recorded (fixtures/record/exec_into.py): busy in
 * before_exec() under one image, then in after_exec() under the next.
 *
 * - into another Python (3.8 -> 3.12, 3.8 -> Debian's static 3.11), with
 *   --pid and with -- CMD, and with --subprocesses: the recording follows
 *   it; the profile has the stacks of both images, each under its own
 *   `process PID: cmdline` root; one line on stderr says so; exit 0;
 * - into /bin/sleep: one line says it cannot be recorded, what came before
 *   is kept, exit 0, and --pid does not wait for sleep to end;
 * - a --subprocesses child that execs: both its images are recorded.
 * Interpreters that are not installed are skipped by name.
 */
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

TestSuite(record_exec, .fini = teardown, .timeout = 240);

static void path_in(char *out, size_t n, const char *name)
{
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%.3000s/tests/record_exec", b && *b ? b : "/tmp/pyprobe-tests");
	ts_mkdir_p(dir);
	int w = snprintf(out, n, "%s/%s", dir, name);
	cr_assert(w > 0 && (size_t)w < n, "path too long");
}

static const char *fixture(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%.3000s/fixtures/record/exec_into.py", ts_source_root());
	return path;
}

static const char *need(const char *python)
{
	if (access(python, X_OK) != 0)
		cr_skip_test("python not installed at %s", python);
	return python;
}

static const char *pyenv(const char *version)
{
	static char bufs[2][512];
	static int k;
	k ^= 1;
	return need(ts_pyenv_python(version, bufs[k], sizeof bufs[k]));
}

struct run {
	int status;
	double seconds;
	char err[8192];
};

/* pyprobe ARGS... with stderr captured (the command's output passes to a
 * file of its own); waits at most 120 s. */
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
	double t0 = ts_now_s();
	r->status = ts_wait_bounded(ts_spawn(argv, out, err, 0), 120);
	r->seconds = ts_now_s() - t0;
	ts_read_file(err, r->err, sizeof r->err);
	cr_assert(r->status != -1, "pyprobe timed out:\n%s", r->err);
	cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
		  "pyprobe failed (status %#x):\n%s", r->status, r->err);
	cr_assert(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		  "sanitizer report:\n%s", r->err);
}

static char g_prof[1 << 20]; /* collapsed stacks: too big for a stack */

static void read_profile(const char *path)
{
	cr_assert_gt(ts_read_file(path, g_prof, sizeof g_prof), 0, "%s is empty", path);
}

/* The pid of the first `process PID: <program> ` root whose stack passes
 * through `function`, or 0. */
static int root_of(const char *program, const char *function)
{
	char want[128], fn[128];
	snprintf(want, sizeof want, ": %s ", program);
	snprintf(fn, sizeof fn, ";%s (", function);
	for (const char *l = g_prof; *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		const char *semi = memchr(l, ';', len);
		int pid;
		if (semi && sscanf(l, "process %d:", &pid) == 1 &&
		    memmem(l, (size_t)(semi - l), want, strlen(want)) &&
		    memmem(l, len, fn, strlen(fn)))
			return pid;
		l += len + (nl ? 1 : 0);
	}
	return 0;
}

/* Both images of pid in the profile, each under its own root, each with
 * its own function; no stack of one under the other's root. */
static void check_both_images(int pid, const char *before, const char *after)
{
	int b = root_of(before, "before_exec"), a = root_of(after, "after_exec");
	cr_assert_eq(b, pid, "no before_exec stack under `process %d: %s ...`:\n%.4000s", pid,
		     before, g_prof);
	cr_assert_eq(a, pid, "no after_exec stack under `process %d: %s ...`:\n%.4000s", pid,
		     after, g_prof);
	cr_assert_eq(root_of(before, "after_exec"), 0, "after_exec under %s's root", before);
	cr_assert_eq(root_of(after, "before_exec"), 0, "before_exec under %s's root", after);
}

static void check_note(const char *err, int pid, const char *after)
{
	char want[128];
	snprintf(want, sizeof want, "pyprobe: process %d exec'd %s ", pid, after);
	const char *note = strstr(err, want);
	cr_assert(note, "no note that it exec'd:\n%s", err);
	const char *eol = strchr(note, '\n');
	cr_assert(eol && memmem(note, (size_t)(eol - note), "; recording it from ", 20),
		  "the note is one line that says it goes on:\n%s", err);
}

/* The program's name as the profile and the note show it: no directory. */
static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Start FROM running exec_into.py, execing TO; wait until it runs Python. */
static void start_target(const char *from, const char *seconds, const char *to,
			 const char *to_seconds)
{
	char out[PATH_MAX];
	path_in(out, sizeof out, "target.out");
	unlink(out);
	char *argv[] = {(char *)from, (char *)fixture(), (char *)seconds, (char *)to,
			(char *)fixture(), (char *)to_seconds, NULL};
	if (!strcmp(base(to), "sleep"))
		argv[4] = (char *)to_seconds, argv[5] = NULL;
	g_target = ts_spawn(argv, out, NULL, 1);
	cr_assert_gt(g_target, 0);
	char buf[256] = "";
	for (int i = 0; i < 3000 && !strstr(buf, "before"); i++) {
		ts_sleep_ms(10);
		ts_read_file(out, buf, sizeof buf);
	}
	cr_assert(strstr(buf, "before"), "the target never started");
}

/* --pid: a recording made as a .pyprobe file, rendered later (the roots
 * come from the recording alone). */
static void by_pid(const char *from, const char *to)
{
	start_target(from, "2", to, "2");
	char rec[PATH_MAX], txt[PATH_MAX], pid[32];
	path_in(rec, sizeof rec, "pid.pyprobe");
	path_in(txt, sizeof txt, "pid.txt");
	unlink(rec);
	unlink(txt);
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	struct run r;
	char *args[] = {"record", "--pid", pid, "-d", "30", "-o", rec, "--no-progress", NULL};
	run(&r, args);
	check_note(r.err, (int)g_target, base(to));
	char *render[] = {"render", rec, "-o", txt, "-f", "collapsed", NULL};
	run(&r, render);
	read_profile(txt);
	check_both_images((int)g_target, base(from), base(to));
}

/* -- CMD (after flag, if any), collapsed stacks written at once. */
static void by_cmd(const char *from, const char *to, const char *flag)
{
	char txt[PATH_MAX];
	path_in(txt, sizeof txt, "cmd.txt");
	unlink(txt);
	char *args[16];
	int n = 0;
	args[n++] = "record";
	args[n++] = "-o";
	args[n++] = txt;
	args[n++] = "--no-progress";
	if (flag)
		args[n++] = (char *)flag;
	args[n++] = "--";
	args[n++] = (char *)from;
	args[n++] = (char *)fixture();
	args[n++] = "1";
	args[n++] = (char *)to;
	args[n++] = (char *)fixture();
	args[n++] = "2"; /* time enough to start, even on a loaded machine */
	args[n] = NULL;
	struct run r;
	run(&r, args);
	read_profile(txt);
	int pid = root_of(base(from), "before_exec");
	cr_assert_gt(pid, 0, "no before_exec stack under a %s root:\n%.4000s", base(from), g_prof);
	check_both_images(pid, base(from), base(to));
	check_note(r.err, pid, base(to));
}

Test(record_exec, pid_3_8_to_3_12) { by_pid(pyenv("3.8.18"), pyenv("3.12.1")); }
Test(record_exec, cmd_3_8_to_3_12) { by_cmd(pyenv("3.8.18"), pyenv("3.12.1"), NULL); }
Test(record_exec, cmd_3_8_to_debian_3_11)
{
	by_cmd(pyenv("3.8.18"), need("/usr/bin/python3.11"), NULL);
}
/* With --subprocesses the root is followed through its exec as well. */
Test(record_exec, subprocesses_root_3_12_to_3_8)
{
	by_cmd(pyenv("3.12.1"), pyenv("3.8.18"), "--subprocesses");
}

/* Into a program that is not Python: said in one line, the recording ends
 * with what it had, exit 0. --pid does not wait for the program to end
 * (sleep 60 would); -- CMD waits for its command, as always. */
static void check_not_python(const struct run *r, int pid)
{
	char want[128];
	snprintf(want, sizeof want, "pyprobe: process %d exec'd sleep ", pid);
	const char *note = strstr(r->err, want);
	cr_assert(note, "no note that it exec'd:\n%s", r->err);
	const char *eol = strchr(note, '\n');
	cr_assert(eol && memmem(note, (size_t)(eol - note), "which pyprobe cannot record (", 29) &&
		  memmem(note, (size_t)(eol - note), "is not a Python process", 23) &&
		  memmem(note, (size_t)(eol - note), "; the profile holds what came before", 36),
		  "the note says why, in one line:\n%s", r->err);
	cr_assert(strstr(r->err, " samples in "), "no summary:\n%s", r->err);
}

Test(record_exec, pid_into_sleep)
{
	start_target(pyenv("3.8.18"), "1", "/bin/sleep", "60");
	char txt[PATH_MAX], pid[32];
	path_in(txt, sizeof txt, "sleep-pid.txt");
	unlink(txt);
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	struct run r;
	char *args[] = {"record", "--pid", pid, "-o", txt, "--no-progress", NULL};
	run(&r, args);
	check_not_python(&r, (int)g_target);
	/* A hang would last until sleep ends, 60 s after the exec. */
	cr_assert_lt(r.seconds, 45, "record took %.1f s: it waited for sleep", r.seconds);
	cr_assert_eq(waitpid(g_target, NULL, WNOHANG), 0, "sleep should still run");
	read_profile(txt);
	cr_assert(strstr(g_prof, ";before_exec ("), "what came before is gone:\n%.4000s", g_prof);
}

Test(record_exec, cmd_into_sleep)
{
	char txt[PATH_MAX];
	path_in(txt, sizeof txt, "sleep-cmd.txt");
	unlink(txt);
	struct run r;
	char *args[] = {"record", "-o", txt, "--no-progress", "--", (char *)pyenv("3.8.18"),
			(char *)fixture(), "1", "/bin/sleep", "1", NULL};
	run(&r, args);
	read_profile(txt);
	cr_assert(strstr(g_prof, ";before_exec ("), "what came before is gone:\n%.4000s", g_prof);
	int pid = 0;
	const char *n = strstr(r.err, "pyprobe: process ");
	cr_assert(n && sscanf(n, "pyprobe: process %d exec'd", &pid) == 1, "no note:\n%s", r.err);
	check_not_python(&r, pid);
}

/* A --subprocesses child that execs: both its programs are recorded, each
 * under its own root; children come and go quietly (no note). */
Test(record_exec, subprocess_child_3_8_to_3_12)
{
	const char *p8 = pyenv("3.8.18"), *p12 = pyenv("3.12.1");
	char txt[PATH_MAX], sh[4 * PATH_MAX];
	path_in(txt, sizeof txt, "child.txt");
	unlink(txt);
	snprintf(sh, sizeof sh, "'%s' '%s' 1 '%s' '%s' 2; true", p8, fixture(), p12, fixture());
	struct run r;
	char *args[] = {"record", "--subprocesses", "-o", txt, "--no-progress", "--", "sh", "-c",
			sh, NULL};
	run(&r, args);
	read_profile(txt);
	int pid = root_of(base(p8), "before_exec");
	cr_assert_gt(pid, 0, "no before_exec stack under a python3.8 root:\n%.4000s", g_prof);
	check_both_images(pid, base(p8), base(p12));
	cr_assert_null(strstr(r.err, "exec'd"), "a note for a child:\n%s", r.err);
}
