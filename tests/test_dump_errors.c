/* Integration: `pyprobe dump` failure modes and their exit codes.
 *
 * Contract (docs: design.md, "Exit codes"): 2 usage, 3 no such process or
 * it exited, 4 permission denied (the message says how to fix it), 5 not
 * Python or an unsupported version (the message names it). Every error is
 * exactly one line on stderr starting "pyprobe: ", and pyprobe never dies
 * of a signal or a sanitizer report on the way out. Environment-dependent
 * cases (old interpreters, root, setpriv) skip visibly when unavailable.
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

#define PYPROBE_TIMEOUT_S 30
#define READY_TIMEOUT_S 30
#define NOBODY 65534

/* Targets started by a test; killed (whole group) and reaped in teardown. */
static pid_t g_targets[4];
static int g_ntargets;

static void kill_targets(void)
{
	for (int i = 0; i < g_ntargets; i++) {
		kill(-g_targets[i], SIGKILL);
		waitpid(g_targets[i], NULL, 0);
	}
	g_ntargets = 0;
}

TestSuite(dump_errors, .fini = kill_targets, .timeout = 120);




/* snprintf that fails the test instead of silently truncating. */
__attribute__((format(printf, 3, 4)))
static void fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int r = vsnprintf(out, n, f, ap);
	va_end(ap);
	cr_assert(r >= 0 && (size_t)r < n, "string too long: %s", out);
}



/* A scratch directory per test binary run. */
static const char *scratch(void)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		const char *build = getenv("PYPROBE_BUILD_ROOT");
		fmt(dir, sizeof dir, "%s/tests/dump_errors",
		    build && *build ? build : "/tmp/pyprobe-tests");
		char parent[PATH_MAX];
		fmt(parent, sizeof parent, "%s", dir);
		for (char *p = parent + 1; *p; p++) {
			if (*p == '/') {
				*p = '\0';
				mkdir(parent, 0755);
				*p = '/';
			}
		}
		mkdir(dir, 0755);
		/* The permission test's files are opened by root before the
		 * uid switch, so the directory itself can stay 0755. */
	}
	return dir;
}

/* ts_spawn, and a target (own group, killed with us) is remembered for
 * teardown. */
static pid_t spawn(char *const argv[], const char *out, const char *err, int target)
{
	pid_t pid = ts_spawn(argv, out, err, target);
	if (pid > 0 && target) {
		cr_assert(g_ntargets < (int)(sizeof g_targets / sizeof g_targets[0]),
			  "too many targets");
		g_targets[g_ntargets++] = pid;
	}
	return pid;
}


struct result {
	int status;
	char out[16384];
	char err[16384];
	char cmd[512];
};

/* Run pyprobe with args (NULL-terminated); if as_nobody, through
 * setpriv as uid/gid 65534 with no supplementary groups. */
static void run_pyprobe(struct result *r, int as_nobody, ...)
{
	char *argv[24];
	int n = 0;
	if (as_nobody) {
		argv[n++] = "setpriv";
		argv[n++] = "--reuid=65534";
		argv[n++] = "--regid=65534";
		argv[n++] = "--clear-groups";
		argv[n++] = "--";
	}
	argv[n++] = (char *)ts_pyprobe();
	va_list ap;
	va_start(ap, as_nobody);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL && n < 22)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;

	/* "pyprobe dump --pid N" for messages, without the setpriv prefix. */
	int first = as_nobody ? 5 : 0;
	fmt(r->cmd, sizeof r->cmd, "pyprobe%s", as_nobody ? " (as uid 65534)" : "");
	for (int i = first + 1; i < n; i++) {
		size_t len = strlen(r->cmd);
		snprintf(r->cmd + len, sizeof r->cmd - len, " %s", argv[i]);
	}

	char out[PATH_MAX], err[PATH_MAX];
	fmt(out, sizeof out, "%s/last.out", scratch());
	fmt(err, sizeof err, "%s/last.err", scratch());
	pid_t pid = spawn(argv, out, err, 0);
	cr_assert(pid > 0, "fork: %s", strerror(errno));
	r->status = ts_wait_bounded(pid, PYPROBE_TIMEOUT_S);
	ts_read_file(out, r->out, sizeof r->out);
	ts_read_file(err, r->err, sizeof r->err);
	cr_assert(r->status != -1, "`%s` timed out after %d s", r->cmd,
		  PYPROBE_TIMEOUT_S);
	cr_assert(!WIFSIGNALED(r->status), "`%s` died of signal %d\nstderr:\n%s",
		  r->cmd, WTERMSIG(r->status), r->err);
	/* abort_on_error makes most sanitizer reports a signal (above); leak
	 * reports and anything printed without aborting are caught here. */
	cr_assert(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		  "`%s`: sanitizer report:\n%s", r->cmd, r->err);
}

/* The error contract: exit code `code`, stderr exactly one line that starts
 * with "pyprobe: ". */
static void assert_error(const struct result *r, int code)
{
	cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == code,
		  "`%s`: exit %d, want %d\nstderr:\n%s", r->cmd,
		  WEXITSTATUS(r->status), code, r->err);
	size_t len = strlen(r->err);
	cr_assert(strncmp(r->err, "pyprobe: ", 9) == 0,
		  "`%s`: stderr does not start with \"pyprobe: \":\n%s", r->cmd, r->err);
	cr_assert(len > 9 && r->err[len - 1] == '\n' && strchr(r->err, '\n') == r->err + len - 1,
		  "`%s`: stderr is not exactly one line:\n%s", r->cmd, r->err);
}

/* Start `python -c SCRIPT READY` as a target and wait until the
 * interpreter has run user code (it creates READY), so pyprobe sees a
 * fully initialised runtime, not one still starting up. */
static pid_t start_python_script(const char *python, const char *ready_name,
				 const char *script)
{
	char ready[PATH_MAX], log[PATH_MAX];
	fmt(ready, sizeof ready, "%s/%s.ready", scratch(), ready_name);
	fmt(log, sizeof log, "%s/%s.log", scratch(), ready_name);
	unlink(ready);
	/* Valid Python 2 and 3. */
	char *argv[] = { (char *)python, "-c", (char *)script, ready, NULL };
	pid_t pid = spawn(argv, log, log, 1);
	cr_assert(pid > 0, "fork: %s", strerror(errno));
	double deadline = ts_now_s() + READY_TIMEOUT_S;
	while (access(ready, F_OK) != 0) {
		int status;
		static char logbuf[4096];
		if (waitpid(pid, &status, WNOHANG) == pid) {
			ts_read_file(log, logbuf, sizeof logbuf);
			cr_assert_fail("%s exited early (status 0x%x):\n%s", python,
				       status, logbuf);
		}
		cr_assert(ts_now_s() < deadline, "%s never became ready", python);
		ts_sleep_ms(20);
	}
	return pid;
}

static pid_t start_python(const char *python, const char *ready_name)
{
	/* Valid Python 2 and 3. */
	return start_python_script(python, ready_name,
				   "import sys, time\n"
				   "open(sys.argv[1], 'w').close()\n"
				   "time.sleep(1000)\n");
}

static void pyenv_python(char *out, size_t n, const char *version)
{
	const char *root = getenv("PYENV_ROOT");
	if (!root || !*root)
		root = "/root/.pyenv";
	char minor[16];
	fmt(minor, sizeof minor, "%s", version);
	char *dot = strchr(minor, '.');
	dot = dot ? strchr(dot + 1, '.') : NULL;
	if (dot)
		*dot = '\0';
	fmt(out, n, "%s/versions/%s/bin/python%s", root, version, minor);
}

/* Any installed supported interpreter, for tests that only need "a
 * Python"; skips visibly when there is none. */
static void any_supported_python(char *out, size_t n)
{
	static const char *const versions[] = { "3.11.7", "3.12.1", "3.13.0",
						 "3.10.13", "3.9.18", "3.8.18" };
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		pyenv_python(out, n, versions[i]);
		if (access(out, X_OK) == 0)
			return;
	}
	fmt(out, n, "/usr/bin/python3.11");
	if (access(out, X_OK) != 0)
		cr_skip_test("no supported python installed (pyenv 3.8-3.13 or "
			     "/usr/bin/python3.11)");
}

static char state_of(pid_t pid)
{
	char path[64], s[1024];
	fmt(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (ts_read_file(path, s, sizeof s) <= 0)
		return '?';
	char *rp = strrchr(s, ')');
	return (rp && rp[1] == ' ') ? rp[2] : '?';
}

/* ---- 3: no such process ------------------------------------------------ */

Test(dump_errors, nonexistent_pid_is_3)
{
	/* A pid that existed a moment ago and is certainly free now: our own
	 * reaped child (pid reuse within microseconds is not a concern). */
	pid_t gone = fork();
	cr_assert(gone >= 0);
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	char pid[32];
	fmt(pid, sizeof pid, "%d", (int)gone);

	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pid, NULL);
	assert_error(&r, 3);
	run_pyprobe(&r, 0, "dump", "--pid", pid, "--json", NULL);
	assert_error(&r, 3);
}

Test(dump_errors, zombie_is_3)
{
	char python[PATH_MAX];
	any_supported_python(python, sizeof python);
	char *argv[] = { python, "-c", "pass", NULL };
	pid_t pid = spawn(argv, NULL, NULL, 1);
	cr_assert(pid > 0);
	/* Do not reap: wait until the kernel shows it as a zombie. */
	double deadline = ts_now_s() + READY_TIMEOUT_S;
	while (state_of(pid) != 'Z') {
		cr_assert(ts_now_s() < deadline, "python child never became a zombie "
			  "(state %c)", state_of(pid));
		ts_sleep_ms(20);
	}
	char pidbuf[32];
	fmt(pidbuf, sizeof pidbuf, "%d", (int)pid);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pidbuf, "--json", NULL);
	assert_error(&r, 3);
	cr_assert_eq(state_of(pid), 'Z', "the zombie changed state under pyprobe");
}

/* ---- 5: not Python, unsupported Python ---------------------------------- */

Test(dump_errors, not_python_is_5)
{
	char *argv[] = { "sleep", "1000", NULL };
	pid_t pid = spawn(argv, NULL, NULL, 1);
	cr_assert(pid > 0);
	/* Until exec has happened the child is still a copy of this test. */
	char exe[64], link[PATH_MAX];
	fmt(exe, sizeof exe, "/proc/%d/exe", (int)pid);
	double deadline = ts_now_s() + READY_TIMEOUT_S;
	for (;;) {
		ssize_t n = readlink(exe, link, sizeof link - 1);
		if (n > 0) {
			link[n] = '\0';
			if (strstr(link, "sleep"))
				break;
		}
		cr_assert(ts_now_s() < deadline, "sleep child never exec'd");
		ts_sleep_ms(10);
	}
	char pidbuf[32];
	fmt(pidbuf, sizeof pidbuf, "%d", (int)pid);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pidbuf, NULL);
	assert_error(&r, 5);
}

static void check_unsupported(const char *version, const char *named)
{
	char python[PATH_MAX];
	pyenv_python(python, sizeof python, version);
	if (access(python, X_OK) != 0)
		cr_skip_test("python %s not installed at %s", version, python);
	pid_t pid = start_python(python, named);
	char pidbuf[32];
	fmt(pidbuf, sizeof pidbuf, "%d", (int)pid);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pidbuf, NULL);
	assert_error(&r, 5);
	cr_assert(strstr(r.err, named), "message does not name version %s:\n%s",
		  named, r.err);
	run_pyprobe(&r, 0, "dump", "--pid", pidbuf, "--json", NULL);
	assert_error(&r, 5);
}

/* ---- _Py_DebugOffsets pyprobe does not know ------------------------------

 * Debian's python3.X from the sid root, copied and patched in its
 * .PyRuntime section (the static initializer of _PyRuntime, which starts
 * with the debug offsets; the interpreter itself never reads them) so that
 * it looks like a build pyprobe does not know: a 3.16 alpha, or a patched
 * build whose block grew by one entry. pyprobe must refuse it by name with
 * exit 5, never read it with a guessed layout. */

/* The file offset of ELF section `name` in `path`, from readelf; -1 if none. */
static long section_offset(const char *path, const char *name)
{
	char cmd[PATH_MAX + 64];
	fmt(cmd, sizeof cmd, "readelf -SW '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char line[512];
	long off = -1;
	while (fgets(line, sizeof line, p)) {
		char sec[64];
		unsigned long addr, o;
		char *b = strchr(line, ']');
		if (b && sscanf(b + 1, " %63s %*s %lx %lx", sec, &addr, &o) == 3 &&
		    !strcmp(sec, name))
			off = (long)o;
	}
	pclose(p);
	return off;
}

static void patch_u64(const char *path, long at, uint64_t (*change)(uint64_t))
{
	int fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	uint64_t v;
	cr_assert_eq(pread(fd, &v, 8, at), 8);
	v = change(v);
	cr_assert_eq(pwrite(fd, &v, 8, at), 8);
	close(fd);
}

static uint64_t to_3_16_alpha(uint64_t v) { (void)v; return 0x031000a1; }
static uint64_t grown_by_8(uint64_t v) { return v + 8; }

/* chroot ROOT <copy of python3.X, patched at .PyRuntime+at> -c ...: exit 5
 * from dump and record, naming `named`. */
static void check_patched(const char *minor, long at, uint64_t (*change)(uint64_t),
			  const char *named)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to chroot into the sid root");
	const char *root = ts_sid_root();
	char python[PATH_MAX];
	fmt(python, sizeof python, "%s/usr/bin/python%s", root, minor);
	if (access(python, X_OK) != 0)
		cr_skip_test("Debian python%s not in the sid root %s (tools/install-deps)",
			     minor, root);
	if (system("command -v readelf >/dev/null") != 0)
		cr_skip_test("readelf (binutils) not installed");

	/* The copy lives in the root, where the chrooted process finds it. */
	char dir_in[128], dir[PATH_MAX], copy[PATH_MAX], copy_in[256], cmd[3 * PATH_MAX];
	fmt(dir_in, sizeof dir_in, "/tmp/pyprobe-patched-%d", (int)getpid());
	fmt(dir, sizeof dir, "%s%s", root, dir_in);
	fmt(copy_in, sizeof copy_in, "%s/python%s", dir_in, minor);
	fmt(copy, sizeof copy, "%s%s", root, copy_in);
	ts_mkdir_p(dir);
	fmt(cmd, sizeof cmd, "cp '%s' '%s'", python, copy);
	cr_assert_eq(system(cmd), 0);
	long sec = section_offset(copy, ".PyRuntime");
	cr_assert_gt(sec, 0, "%s has no .PyRuntime section", copy);
	patch_u64(copy, sec + at, change);

	char ready_in[300], ready[PATH_MAX];
	fmt(ready_in, sizeof ready_in, "%s/ready", dir_in);
	fmt(ready, sizeof ready, "%s%s", root, ready_in);
	char *argv[] = { "chroot", (char *)root, copy_in, "-c",
			 "import sys, time\nopen(sys.argv[1], 'w').close()\ntime.sleep(1000)\n",
			 ready_in, NULL };
	pid_t pid = spawn(argv, NULL, NULL, 1);
	cr_assert(pid > 0, "fork: %s", strerror(errno));
	double deadline = ts_now_s() + READY_TIMEOUT_S;
	while (access(ready, F_OK) != 0) {
		int status;
		cr_assert(waitpid(pid, &status, WNOHANG) != pid,
			  "the patched python%s exited (status 0x%x)", minor, status);
		cr_assert(ts_now_s() < deadline, "the patched python%s never became ready", minor);
		ts_sleep_ms(20);
	}
	char pidbuf[32];
	fmt(pidbuf, sizeof pidbuf, "%d", (int)pid);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pidbuf, NULL);
	assert_error(&r, 5);
	cr_assert(strstr(r.err, named), "message does not say '%s':\n%s", named, r.err);
	run_pyprobe(&r, 0, "record", "--pid", pidbuf, "-d", "1", "-o", "/dev/null",
		    "-f", "collapsed", NULL);
	assert_error(&r, 5);
	cr_assert(strstr(r.err, named), "record: message does not say '%s':\n%s", named, r.err);
	fmt(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

/* debug_offsets.version is the entry at 8; runtime_state.finalizing, which
 * moves with the block's size, the one at 32 (3.13 to 3.15 alike). */
Test(dump_errors, debug_offsets_of_a_3_16_alpha_is_5)
{
	check_patched("3.14", 8, to_3_16_alpha, "3.16.0a1, which pyprobe does not support");
}
Test(dump_errors, debug_offsets_block_grown_3_14_is_5)
{
	check_patched("3.14", 32, grown_by_8, "block is 768 bytes by its own offsets, where 3.14's is 760");
}
Test(dump_errors, debug_offsets_block_grown_3_15_is_5)
{
	check_patched("3.15", 32, grown_by_8, "block is 896 bytes by its own offsets, where 3.15's is 888");
}
Test(dump_errors, debug_offsets_block_grown_3_13_is_5)
{
	check_patched("3.13", 32, grown_by_8, "block is 592 bytes by its own offsets, where 3.13's is 584");
}

Test(dump_errors, python_2_7_is_5) { check_unsupported("2.7.18", "2.7"); }
Test(dump_errors, python_3_6_is_5) { check_unsupported("3.6.15", "3.6"); }
Test(dump_errors, python_3_7_is_5) { check_unsupported("3.7.16", "3.7"); }

/* ---- 4: permission denied ----------------------------------------------- */

Test(dump_errors, other_users_process_is_4)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: the target must belong to another user "
			     "than pyprobe (runs as uid %d)", (int)geteuid());
	if (access("/usr/bin/setpriv", X_OK) != 0 && access("/bin/setpriv", X_OK) != 0)
		cr_skip_test("setpriv (util-linux) not installed");

	/* uid 65534 must be able to run the binary at all, or the "error"
	 * would be the shell's, not pyprobe's. */
	char *probe[] = { "setpriv", "--reuid=65534", "--regid=65534",
			  "--clear-groups", "--", "/bin/sh", "-c",
			  "test -x \"$1\" && test -r \"$1\"", "sh",
			  (char *)ts_pyprobe(), NULL };
	pid_t p = spawn(probe, NULL, NULL, 0);
	cr_assert(p > 0);
	int st = ts_wait_bounded(p, 30);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		cr_skip_test("uid %d cannot execute %s (a parent directory is not "
			     "world-searchable?)", NOBODY, ts_pyprobe());

	char python[PATH_MAX];
	any_supported_python(python, sizeof python);
	pid_t pid = start_python(python, "root-owned");
	char pidbuf[32];
	fmt(pidbuf, sizeof pidbuf, "%d", (int)pid);
	struct result r;
	run_pyprobe(&r, 1, "dump", "--pid", pidbuf, NULL);
	assert_error(&r, 4);
	cr_assert(strstr(r.err, "CAP_SYS_PTRACE"),
		  "permission message does not say how to fix it "
		  "(CAP_SYS_PTRACE):\n%s", r.err);
	run_pyprobe(&r, 1, "dump", "--pid", pidbuf, "--json", "--nonblocking", NULL);
	assert_error(&r, 4);
	/* Denied means untouched: the target still runs, not stopped. */
	cr_assert_eq(state_of(pid), 'S', "target state %c after the denied dump",
		     state_of(pid));
}

/* ---- 2: usage ----------------------------------------------------------- */

Test(dump_errors, usage_errors_are_2)
{
	char self[32];
	fmt(self, sizeof self, "%d", (int)getpid());
	struct result r;

	run_pyprobe(&r, 0, "dump", NULL);                       /* no --pid */
	assert_error(&r, 2);
	run_pyprobe(&r, 0, "dump", "--json", NULL);             /* still no --pid */
	assert_error(&r, 2);
	run_pyprobe(&r, 0, "dump", "--pid", NULL);              /* no value */
	assert_error(&r, 2);
	cr_assert(strstr(r.err, "--pid needs a value"), "missing value misreported:\n%s", r.err);
	run_pyprobe(&r, 0, "dump", "--pid", "abc", NULL);
	assert_error(&r, 2);
	run_pyprobe(&r, 0, "dump", "--pid", "12abc", NULL);     /* trailing junk */
	assert_error(&r, 2);
	run_pyprobe(&r, 0, "dump", "--pid", "99999999999999999999", NULL); /* overflow */
	assert_error(&r, 2);
	/* An unknown flag is a usage error even with a valid pid, and must be
	 * rejected before pyprobe touches the process. */
	run_pyprobe(&r, 0, "dump", "--pid", self, "--no-such-flag", NULL);
	assert_error(&r, 2);
}

Test(dump_errors, help_is_0_on_stdout)
{
	struct result r;
	run_pyprobe(&r, 0, "dump", "--help", NULL);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "`dump --help`: exit %d, want 0\nstderr:\n%s",
		  WEXITSTATUS(r.status), r.err);
	cr_assert(strstr(r.out, "usage") || strstr(r.out, "Usage"),
		  "`dump --help` printed no usage on stdout:\n%s", r.out);
	cr_assert(strstr(r.out, "--pid"), "usage does not mention --pid:\n%s", r.out);
	cr_assert_str_empty(r.err, "`dump --help` wrote to stderr:\n%s", r.err);
}

/* ---- a target someone else is already tracing -------------------------- */

/* ptrace allows one tracer: with a debugger attached, pausing fails with
 * EPERM even for root. The message must say so (not "run as root") and
 * point at --nonblocking, which must still work. */
Test(dump_errors, already_traced_is_4_and_names_the_tracer)
{
	char python[PATH_MAX];
	any_supported_python(python, sizeof python);
	pid_t target = start_python(python, "traced");
	cr_assert_eq(ptrace(PTRACE_SEIZE, target, 0, 0), 0, "seize: %s", strerror(errno));
	char pid[32];
	fmt(pid, sizeof pid, "%d", (int)target);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pid, NULL);
	assert_error(&r, 4);
	char tracer[64];
	fmt(tracer, sizeof tracer, "traced by process %d", (int)getpid());
	cr_assert(strstr(r.err, tracer) && strstr(r.err, "--nonblocking"),
		  "message does not name the tracer and the way out:\n%s", r.err);
	run_pyprobe(&r, 0, "dump", "--pid", pid, "--nonblocking", NULL);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "--nonblocking failed on a traced target:\n%s", r.err);
	ptrace(PTRACE_DETACH, target, 0, 0);
}

/* ---- an interpreter deleted or replaced on disk ------------------------ */

/* A package upgrade under a running service leaves it mapping a deleted
 * file; pyprobe must read the ELF through the mapping. */
Test(dump_errors, deleted_interpreter_still_dumps)
{
	const char *deb = "/usr/bin/python3.11";
	if (access(deb, X_OK) != 0)
		cr_skip_test("needs Debian's static %s", deb);
	char copy[PATH_MAX];
	fmt(copy, sizeof copy, "%s/python3.11-deleted", scratch());
	char cmd[2 * PATH_MAX];
	fmt(cmd, sizeof cmd, "cp %s %s", deb, copy);
	cr_assert_eq(system(cmd), 0);
	pid_t target = start_python(copy, "deleted");
	cr_assert_eq(unlink(copy), 0);
	char pid[32];
	fmt(pid, sizeof pid, "%d", (int)target);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pid, NULL);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "dump of a deleted interpreter failed:\n%s", r.err);
	cr_assert(strstr(r.out, "Python 3.11") && strstr(r.out, "(deleted)") &&
		  strstr(r.out, "<module> (<string>:3)"),
		  "unexpected dump:\n%s", r.out);
}

/* ---- a thread id names its process ------------------------------------- */

Test(dump_errors, thread_id_dumps_its_process)
{
	char python[PATH_MAX];
	any_supported_python(python, sizeof python);
	pid_t target = start_python_script(python, "tid",
		"import sys, threading, time\n"
		"t = threading.Thread(target=time.sleep, args=(1000,), name='second')\n"
		"t.start()\n"
		"open(sys.argv[1], 'w').close()\n"
		"time.sleep(1000)\n");
	/* The one task that is not the main thread. */
	char dir[64], tid[32] = "";
	fmt(dir, sizeof dir, "/proc/%d/task", (int)target);
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] != '.' && atoi(e->d_name) != (int)target)
			fmt(tid, sizeof tid, "%s", e->d_name);
	closedir(d);
	cr_assert(tid[0], "the target has no second thread");
	char header[64], main_line[64];
	fmt(header, sizeof header, "Process %d:", (int)target);
	fmt(main_line, sizeof main_line, "Thread %d \"MainThread\"", (int)target);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", tid, NULL);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	cr_assert(strstr(r.out, header) && strstr(r.out, main_line) &&
		  strstr(r.out, "\"second\""),
		  "--pid THREAD_ID must dump the whole process:\n%s", r.out);
}

/* ---- the stable-ABI shim mapped first ---------------------------------- */

/* libpython3.so (the abi3 forwarding library) is a "libpython" without a
 * runtime; dlopen'ed later, it sits below the real one in the maps. */
Test(dump_errors, abi3_shim_mapped_first_still_dumps)
{
	char python[PATH_MAX], shim[PATH_MAX];
	pyenv_python(python, sizeof python, "3.12.1");
	fmt(shim, sizeof shim, "%.*s/lib/libpython3.so",
	    (int)(strstr(python, "/bin/") - python), python);
	if (access(python, X_OK) != 0 || access(shim, R_OK) != 0)
		cr_skip_test("python 3.12.1 (with %s) not installed", shim);
	char script[PATH_MAX + 256];
	fmt(script, sizeof script,
	    "import ctypes, sys, time\n"
	    "ctypes.CDLL('%s')\n"
	    "open(sys.argv[1], 'w').close()\n"
	    "time.sleep(1000)\n", shim);
	pid_t target = start_python_script(python, "abi3", script);
	char pid[32];
	fmt(pid, sizeof pid, "%d", (int)target);
	struct result r;
	run_pyprobe(&r, 0, "dump", "--pid", pid, NULL);
	cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
		  "dump failed with libpython3.so mapped:\n%s", r.err);
	cr_assert(strstr(r.out, "libpython3.12.so.1.0") && strstr(r.out, "<module> (<string>:4)"),
		  "unexpected dump:\n%s", r.out);
}

/* ---- a target that exits while it is being read ------------------------ */

/* Dump interpreters that live a few milliseconds, so the exit lands at every
 * stage of attaching and reading. Each dump must end cleanly: a dump (0),
 * "exited" (3), or "not started yet / already shut down" (5), with one
 * error line, never a crash or a hang. */
Test(dump_errors, exit_during_read_is_clean, .timeout = 180)
{
	char python[PATH_MAX];
	any_supported_python(python, sizeof python);
	int seen[7] = {0};
	for (int i = 0; i < 40; i++) {
		char life[64];
		/* Python starts in ~15-25 ms here: aim the dumps at startup,
		 * the short life and the exit. */
		fmt(life, sizeof life, "import time; time.sleep(%g)", (i % 4) * 0.002);
		char *argv[] = {python, "-c", life, NULL};
		pid_t target = ts_spawn(argv, NULL, NULL, 1);
		cr_assert_gt(target, 0);
		ts_sleep_ms(12 + i % 7 * 4);
		char pid[32];
		fmt(pid, sizeof pid, "%d", (int)target);
		struct result r;
		run_pyprobe(&r, 0, "dump", "--pid", pid, i % 2 ? "--nonblocking" : "--json", NULL);
		waitpid(target, NULL, 0);
		int code = WEXITSTATUS(r.status);
		cr_assert(code == 0 || code == 3 || code == 5,
			  "`%s` exited %d:\n%s", r.cmd, code, r.err);
		if (code)
			assert_error(&r, code);
		seen[code]++;
	}
	cr_log_info("40 racing dumps: %d ok, %d exited, %d not running Python", seen[0],
		    seen[3], seen[5]);
}

/* Deterministically: the target dies while its threads are held stopped
 * (SIGKILL works on a ptrace-stopped process), so every read after that
 * fails. pyprobe must say the process exited (3), not crash or print a
 * partial dump as if nothing happened. */
Test(dump_errors, killed_mid_read_is_3)
{
	char python[PATH_MAX];
	any_supported_python(python, sizeof python);
	pid_t target = start_python(python, "killed");
	char pid[32], out[PATH_MAX], err[PATH_MAX];
	fmt(pid, sizeof pid, "%d", (int)target);
	fmt(out, sizeof out, "%s/killed.out", scratch());
	fmt(err, sizeof err, "%s/killed.err", scratch());
	setenv("PYPROBE_TEST_PAUSE_HOLD_MS", "1500", 1);
	char *argv[] = {(char *)ts_pyprobe(), "dump", "--pid", pid, NULL};
	pid_t dump = ts_spawn(argv, out, err, 0);
	unsetenv("PYPROBE_TEST_PAUSE_HOLD_MS");
	cr_assert_gt(dump, 0);
	/* wait until the pause holds the target, then kill it */
	for (int i = 0; i < 200 && state_of(target) != 't'; i++)
		ts_sleep_ms(10);
	cr_assert_eq(state_of(target), 't', "the dump never paused the target");
	kill(target, SIGKILL);
	struct result r;
	r.status = ts_wait_bounded(dump, PYPROBE_TIMEOUT_S);
	ts_read_file(err, r.err, sizeof r.err);
	fmt(r.cmd, sizeof r.cmd, "pyprobe dump --pid %s (target killed mid-read)", pid);
	cr_assert(r.status != -1 && !WIFSIGNALED(r.status), "%s: hung or crashed", r.cmd);
	assert_error(&r, 3);
	cr_assert(strstr(r.err, "exited"), "message does not say the process exited:\n%s", r.err);
}
