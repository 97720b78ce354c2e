/* Integration: `pyprobe dump --core` against every supported interpreter.
 *
 * Each Test starts fixtures/dump/threads.py (threads parked in sleep, in
 * a contended lock, in select, in a recursion, a generator, a
 * sub-interpreter...), waits for its truth file, takes a live
 * `pyprobe dump --json`, then a core of the same still process - with
 * gdb's gcore (gcore_*), or from the kernel by SIGABRT with RLIMIT_CORE
 * raised (kernel_*: the kernel leaves the files' text and read-only data
 * out, so those are read from disk) - and requires `pyprobe dump --core
 * --json` to equal the interpreter's own view (tests/compare_dump.py)
 * and the live dump (thread ids, names, every frame's function, file and
 * line). With --native too: the core's merged stacks must be the live
 * `dump --native`'s taken just before, frame for frame
 * (tests/compare_native_core.py). The errors: a truncated core, a core of
 * a program that is not Python, a build-id mismatch, a file that is not a
 * core.
 *
 * Artifacts stay in $PYPROBE_BUILD_ROOT/tests/dump_core/<label>/ (or the
 * sid root's /tmp/pyprobe-tests/dump_core/<label>/); cores are deleted.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define TRUTH_TIMEOUT_S 60
#define PYPROBE_TIMEOUT_S 120
#define GCORE_TIMEOUT_S 180

static pid_t g_fixture = -1;

static void kill_fixture(void)
{
	if (g_fixture > 0) {
		kill(-g_fixture, SIGKILL);
		waitpid(g_fixture, NULL, 0);
		g_fixture = -1;
	}
}

TestSuite(dump_core, .fini = kill_fixture, .timeout = 600);

__attribute__((format(printf, 3, 4)))
static void fmt(char *out, size_t n, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int r = vsnprintf(out, n, f, ap);
	va_end(ap);
	cr_assert(r >= 0 && (size_t)r < n, "string too long: %s", out);
}

/* The kernel writes a core named "core" into the crashing process's
 * working directory only when core_pattern says so (a pipe to a crash
 * collector, or an absolute path, takes it elsewhere). */
static void need_kernel_cores(void)
{
	char pat[256];
	if (ts_read_file("/proc/sys/kernel/core_pattern", pat, sizeof pat) <= 0)
		cr_skip_test("cannot read /proc/sys/kernel/core_pattern");
	pat[strcspn(pat, "\n")] = '\0';
	if (strcmp(pat, "core") != 0)
		cr_skip_test("kernel.core_pattern is '%s', not 'core': the kernel's cores "
			     "go elsewhere here", pat);
}

static void need_gcore(void)
{
	char out[256];
	if (ts_shell("command -v gcore", out, sizeof out) != 0)
		cr_skip_test("no gcore (Debian package gdb)");
}

struct fixture {
	struct ts_python py;
	char dir[PATH_MAX];     /* ours */
	char dir_in[PATH_MAX];  /* the target's name for it */
	char truth[PATH_MAX + 32];
	pid_t pid;
};

/* threads.py under py, in its own directory, cores allowed; returns when
 * every thread is parked and the truth is written. */
static void start_fixture(const char *spec, const char *kind, struct fixture *fx)
{
	ts_python_get(spec, &fx->py);
	char rel[96];
	fmt(rel, sizeof rel, "dump_core/%s-%s", kind, fx->py.label);
	ts_python_scratch(&fx->py, rel, fx->dir, sizeof fx->dir);
	ts_python_path(&fx->py, fx->dir, fx->dir_in, sizeof fx->dir_in);
	fmt(fx->truth, sizeof fx->truth, "%s/truth.json", fx->dir);
	unlink(fx->truth);
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx->dir);
	unlink(core);

	char fixture[PATH_MAX], truth_in[PATH_MAX + 32], log[PATH_MAX + 32];
	ts_python_source(&fx->py, "fixtures/dump/threads.py", fixture, sizeof fixture);
	fmt(truth_in, sizeof truth_in, "%s/truth.json", fx->dir_in);
	fmt(log, sizeof log, "%s/fixture.log", fx->dir);
	/* A shell in the target's root raises its core limit and starts it in
	 * its directory (where the kernel writes "core"). */
	static char script[3 * PATH_MAX];
	fmt(script, sizeof script,
	    "ulimit -c unlimited && cd '%s' && exec %s -X utf8 -E -s -B '%s' '%s'",
	    fx->dir_in, fx->py.root[0] ? fx->py.cmd : fx->py.path, fixture, truth_in);
	char *argv[8];
	size_t n = 0;
	if (fx->py.root[0]) {
		argv[n++] = "chroot";
		argv[n++] = fx->py.root;
	}
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n] = NULL;
	/* glibc's per-thread arenas make a gcore of a dozen threads hundreds
	 * of MB; two arenas keep it small and change nothing read. */
	setenv("MALLOC_ARENA_MAX", "2", 1);
	g_fixture = ts_spawn(argv, log, log, 1);
	unsetenv("MALLOC_ARENA_MAX");
	cr_assert(g_fixture > 0, "fork: %s", strerror(errno));
	fx->pid = g_fixture;

	static char buf[4 << 20];
	double deadline = ts_now_s() + TRUTH_TIMEOUT_S;
	while (access(fx->truth, F_OK) != 0) {
		int status;
		if (waitpid(fx->pid, &status, WNOHANG) == fx->pid) {
			g_fixture = -1;
			ts_read_file(log, buf, 4096);
			cr_assert_fail("fixture under %s exited before its truth:\n%s",
				       fx->py.label, buf);
		}
		cr_assert(ts_now_s() < deadline, "fixture under %s wrote no truth in %d s",
			  fx->py.label, TRUTH_TIMEOUT_S);
		ts_sleep_ms(50);
	}
	cr_assert(ts_read_file(fx->truth, buf, sizeof buf) > 0);
	const char *p = strstr(buf, "\"reporter_native_id\": ");
	cr_assert(p, "truth has no reporter_native_id");
	long reporter = strtol(p + strlen("\"reporter_native_id\": "), NULL, 10);
	/* until the reporter is gone it would be an extra thread */
	char task[64];
	snprintf(task, sizeof task, "/proc/%d/task/%ld", (int)fx->pid, reporter);
	deadline = ts_now_s() + 10;
	while (access(task, F_OK) == 0) {
		cr_assert(ts_now_s() < deadline, "reporter thread %ld never exited", reporter);
		ts_sleep_ms(20);
	}
}

/* pyprobe ARGS > dir/name.out 2> dir/name.err; its exit status. */
static int run_pyprobe(const struct fixture *fx, const char *name, char *const args[])
{
	char out[PATH_MAX + 64], err[PATH_MAX + 64];
	fmt(out, sizeof out, "%s/%s.out", fx->dir, name);
	fmt(err, sizeof err, "%s/%s.err", fx->dir, name);
	char *argv[16] = {(char *)ts_pyprobe()};
	size_t n = 1;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t child = ts_spawn(argv, out, err, 0);
	cr_assert(child > 0);
	int status = ts_wait_bounded(child, PYPROBE_TIMEOUT_S);
	static char e[4096];
	if (ts_read_file(err, e, sizeof e) < 0)
		e[0] = '\0';
	cr_assert(status != -1 && WIFEXITED(status), "pyprobe %s: timed out or killed\n%s",
		  args[0], e);
	cr_assert(!strstr(e, "Sanitizer") && !strstr(e, "runtime error:"),
		  "pyprobe: sanitizer report:\n%s", e);
	return WEXITSTATUS(status);
}

static void assert_ok(const struct fixture *fx, const char *name, char *const args[])
{
	int rc = run_pyprobe(fx, name, args);
	if (rc != 0) {
		static char e[4096], path[PATH_MAX + 64];
		fmt(path, sizeof path, "%s/%s.err", fx->dir, name);
		ts_read_file(path, e, sizeof e);
		cr_assert_fail("%s: exit %d\n%s", name, rc, e);
	}
}

/* A python3 script's verdict, its output in the failure message. */
static void python_check(const struct fixture *fx, const char *name, char *const argv[])
{
	char out[PATH_MAX + 64];
	fmt(out, sizeof out, "%s/%s", fx->dir, name);
	pid_t child = ts_spawn(argv, out, out, 0);
	cr_assert(child > 0);
	int status = ts_wait_bounded(child, 60);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		static char report[8192];
		ts_read_file(out, report, sizeof report);
		cr_assert_fail("%s:\n%s", name, report);
	}
}

/* The core's dump against the interpreter's own view, and against the
 * live dump: the same threads (ids, names) and frames (function, file,
 * line), in the same order. */
static void compare_core(const struct fixture *fx, const char *name)
{
	char script[PATH_MAX], dump[PATH_MAX + 64], live[PATH_MAX + 64], cmp[96];
	fmt(script, sizeof script, "%s/tests/compare_dump.py", ts_source_root());
	fmt(dump, sizeof dump, "%s/%s.out", fx->dir, name);
	fmt(live, sizeof live, "%s/live.out", fx->dir);
	fmt(cmp, sizeof cmp, "%s.compare", name);
	char *argv[] = {"python3", script, "--root", (char *)(fx->py.root[0] ? fx->py.root : "/"),
			(char *)fx->truth, dump, NULL};
	python_check(fx, cmp, argv);

	static const char same[] =
		"import json, sys\n"
		"live, core = (json.load(open(p, encoding='utf-8')) for p in sys.argv[1:3])\n"
		"assert core['source'] == 'core' and live['source'] == 'process', 'source'\n"
		"assert core['pid'] == live['pid'], (core['pid'], live['pid'])\n"
		"assert core['cmdline'] == live['cmdline'], (core['cmdline'], live['cmdline'])\n"
		"# a core taken in a chroot names files as the chroot saw them (read\n"
		"# with --root), a live dump as we see them\n"
		"def under_root(p):\n"
		"    return p if p is None or sys.argv[3] == '/' else sys.argv[3] + p\n"
		"c = dict(core['python'], executable=under_root(core['python']['executable']),\n"
		"         libpython=under_root(core['python']['libpython']))\n"
		"assert c == live['python'], (core['python'], live['python'])\n"
		"def view(d):\n"
		"    return [(t['native_id'], t['ns_native_id'], t['name'], t['interpreter_id'],\n"
		"             t['stack'], [(f['kind'], f['function'], f['file'], f['line'])\n"
		"                          for f in t['frames']]) for t in d['threads']]\n"
		"a, b = view(live), view(core)\n"
		"assert len(a) == len(b), ('threads', len(a), len(b))\n"
		"for x, y in zip(a, b):\n"
		"    assert x == y, ('live', x[:5], x[5][:3], 'core', y[:5], y[5][:3])\n"
		"print('same: %d threads' % len(a))\n";
	fmt(cmp, sizeof cmp, "%s.same", name);
	char *argv2[] = {"python3", "-c", (char *)same, live, dump,
			 (char *)(fx->py.root[0] ? fx->py.root : "/"), NULL};
	python_check(fx, cmp, argv2);
}

static void live_dump(const struct fixture *fx)
{
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)fx->pid);
	assert_ok(fx, "live", (char *[]){"dump", "--pid", pid, "--json", NULL});
	assert_ok(fx, "live-native", (char *[]){"dump", "--pid", pid, "--json", "--native", NULL});
	char script[PATH_MAX], live[PATH_MAX + 64];
	fmt(script, sizeof script, "%s/tests/compare_dump.py", ts_source_root());
	fmt(live, sizeof live, "%s/live.out", fx->dir);
	char *argv[] = {"python3", script, "--root", (char *)(fx->py.root[0] ? fx->py.root : "/"),
			(char *)fx->truth, live, NULL};
	python_check(fx, "live.compare", argv);
}

/* The core's dump --native against the live one (tests/compare_native_core.py):
 * the same stacks, merged or apart alike, frame for frame. Merged where the
 * evaluator has a symbol (pyenv's builds, Debian's 3.11), apart with the
 * note where it has none (sid's stripped builds). */
static void compare_native(const struct fixture *fx)
{
	char script[PATH_MAX], live[PATH_MAX + 64], core[PATH_MAX + 64];
	fmt(script, sizeof script, "%s/tests/compare_native_core.py", ts_source_root());
	fmt(live, sizeof live, "%s/live-native.out", fx->dir);
	fmt(core, sizeof core, "%s/core-native.out", fx->dir);
	const char *mode = strncmp(fx->py.label, "sid-", 4) == 0 ? "separate" : "merged";
	char *argv[] = {"python3", script, live, core, (char *)mode, NULL};
	python_check(fx, "core-native.compare", argv);
}

/* The text form names the core and the version. */
static void text_dump(const struct fixture *fx, char *const args[])
{
	assert_ok(fx, "text", args);
	static char text[1 << 20];
	char path[PATH_MAX + 64];
	fmt(path, sizeof path, "%s/text.out", fx->dir);
	cr_assert(ts_read_file(path, text, sizeof text) > 0);
	char want[64];
	snprintf(want, sizeof want, "Process %d: ", (int)fx->pid);
	cr_assert(strncmp(text, want, strlen(want)) == 0, "text header:\n%.500s", text);
	cr_assert(strstr(text, "\nCore file "), "text names no core:\n%.500s", text);
	snprintf(want, sizeof want, "Thread %d \"MainThread\"", (int)fx->pid);
	cr_assert(strstr(text, want), "no '%s' in:\n%.2000s", want, text);
}

static void check_gcore(const char *spec)
{
	need_gcore();
	struct ts_python py;
	ts_python_get(spec, &py);
	if (py.root[0])
		/* gdb 13's gcore of a process whose glibc is another root's
		 * writes zeros where its threads' stacks end (gdb itself then
		 * reads zeros there from the core): pyprobe shows those threads
		 * dropped, never wrong. The kernel's cores of them are tested. */
		cr_skip_test("%s: gcore from outside a chroot writes zeros at the top of its "
			     "threads' stacks (kernel_* covers this interpreter)", py.label);
	struct fixture fx;
	start_fixture(spec, "gcore", &fx);
	live_dump(&fx);

	char prefix[PATH_MAX + 16], core[PATH_MAX + 48], log[PATH_MAX + 16], pid[32];
	fmt(prefix, sizeof prefix, "%s/gcore", fx.dir);
	fmt(core, sizeof core, "%s.%d", prefix, (int)fx.pid);
	fmt(log, sizeof log, "%s/gcore.log", fx.dir);
	snprintf(pid, sizeof pid, "%d", (int)fx.pid);
	unlink(core);
	char *argv[] = {"gcore", "-o", prefix, pid, NULL};
	pid_t g = ts_spawn(argv, log, log, 0);
	cr_assert(g > 0);
	int status = ts_wait_bounded(g, GCORE_TIMEOUT_S);
	cr_assert(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
		  access(core, R_OK) == 0, "gcore failed (see %s)", log);

	int rc = run_pyprobe(&fx, "core", (char *[]){"dump", "--core", core, "--json", NULL});
	int nrc = run_pyprobe(&fx, "core-native",
			      (char *[]){"dump", "--core", core, "--json", "--native", NULL});
	text_dump(&fx, (char *[]){"dump", "--core", core, NULL});
	unlink(core);
	cr_assert_eq(rc, 0, "dump --core %s: exit %d (see core.err)", core, rc);
	cr_assert_eq(nrc, 0, "dump --core %s --native: exit %d (see core-native.err)", core, nrc);
	compare_core(&fx, "core");
	compare_native(&fx);
}

static void check_kernel(const char *spec)
{
	need_kernel_cores();
	struct fixture fx;
	start_fixture(spec, "kernel", &fx);
	live_dump(&fx);

	kill(fx.pid, SIGABRT);
	int status = ts_wait_bounded(fx.pid, 120);
	g_fixture = -1;
	cr_assert(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		  "fixture did not die of SIGABRT (status 0x%x)", status);
	cr_assert(WCOREDUMP(status), "the kernel wrote no core (RLIMIT_CORE, a full disk?)");
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx.dir);
	cr_assert(access(core, R_OK) == 0, "no %s", core);

	/* A core taken in a chroot names the files as the chroot sees them. */
	char *root = fx.py.root[0] ? fx.py.root : NULL;
	char *args[] = {"dump", "--core", core, "--json", root ? "--root" : NULL, root, NULL};
	int rc = run_pyprobe(&fx, "core", args);
	char *nargs[] = {"dump", "--core", core, "--json", "--native", root ? "--root" : NULL, root,
			 NULL};
	int nrc = run_pyprobe(&fx, "core-native", nargs);
	char *targs[] = {"dump", "--core", core, root ? "--root" : NULL, root, NULL};
	text_dump(&fx, targs);
	unlink(core);
	cr_assert_eq(rc, 0, "dump --core %s: exit %d (see core.err)", core, rc);
	cr_assert_eq(nrc, 0, "dump --core %s --native: exit %d (see core-native.err)", core, nrc);
	compare_core(&fx, "core");
	compare_native(&fx);
}

Test(dump_core, gcore_3_8) { check_gcore("3.8.18"); }
Test(dump_core, gcore_3_9) { check_gcore("3.9.18"); }
Test(dump_core, gcore_3_10) { check_gcore("3.10.13"); }
Test(dump_core, gcore_3_11) { check_gcore("3.11.7"); }
Test(dump_core, gcore_3_12) { check_gcore("3.12.1"); }
Test(dump_core, gcore_3_13) { check_gcore("3.13.0"); }
Test(dump_core, gcore_debian_3_11) { check_gcore("debian"); }
Test(dump_core, gcore_sid_3_13) { check_gcore("sid-3.13"); }
Test(dump_core, gcore_sid_3_14) { check_gcore("sid-3.14"); }
Test(dump_core, gcore_sid_3_15) { check_gcore("sid-3.15"); }

Test(dump_core, kernel_3_8) { check_kernel("3.8.18"); }
Test(dump_core, kernel_3_9) { check_kernel("3.9.18"); }
Test(dump_core, kernel_3_10) { check_kernel("3.10.13"); }
Test(dump_core, kernel_3_11) { check_kernel("3.11.7"); }
Test(dump_core, kernel_3_12) { check_kernel("3.12.1"); }
Test(dump_core, kernel_3_13) { check_kernel("3.13.0"); }
Test(dump_core, kernel_debian_3_11) { check_kernel("debian"); }
Test(dump_core, kernel_sid_3_13) { check_kernel("sid-3.13"); }
Test(dump_core, kernel_sid_3_14) { check_kernel("sid-3.14"); }
Test(dump_core, kernel_sid_3_15) { check_kernel("sid-3.15"); }

/* ---- errors ------------------------------------------------------------- */

/* A kernel core of argv (run in dir, killed by SIGABRT once `settle_ms`
 * have passed), at dir/core. */
static void kernel_core_of(const char *dir, char *const argv[], long settle_ms)
{
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", dir);
	unlink(core);
	static char script[2 * PATH_MAX];
	size_t k = 0;
	k += (size_t)snprintf(script, sizeof script, "ulimit -c unlimited && cd '%s' && exec", dir);
	for (size_t i = 0; argv[i] && k < sizeof script; i++)
		k += (size_t)snprintf(script + k, sizeof script - k, " '%s'", argv[i]);
	cr_assert(k < sizeof script);
	char *sh[] = {"/bin/sh", "-c", script, NULL};
	g_fixture = ts_spawn(sh, NULL, NULL, 1);
	cr_assert(g_fixture > 0);
	ts_sleep_ms(settle_ms);
	kill(g_fixture, SIGABRT);
	int status = ts_wait_bounded(g_fixture, 60);
	g_fixture = -1;
	cr_assert(status != -1 && WIFSIGNALED(status) && WCOREDUMP(status),
		  "no core of %s (status 0x%x)", argv[0], status);
}

/* A Python blocked in time.sleep in its main thread and another, dumped by
 * the kernel, in fx->dir. */
static void small_python_core(struct fixture *fx, const char *label, const char *python)
{
	need_kernel_cores();
	char py[PATH_MAX];
	if (python)
		fmt(py, sizeof py, "%s", python);
	else
		ts_any_python(py, sizeof py);
	ts_scratch_path("dump_core", fx->dir, sizeof fx->dir, label);
	ts_mkdir_p(fx->dir);
	char ready[PATH_MAX + 16];
	fmt(ready, sizeof ready, "%s/ready", fx->dir);
	unlink(ready);
	char code[PATH_MAX + 128];
	fmt(code, sizeof code, "import threading, time\n"
	    "threading.Thread(target=time.sleep, args=(600,), daemon=True).start()\n"
	    "open('%s', 'w').close()\ntime.sleep(600)\n", ready);
	/* started and asleep before the core is taken */
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx->dir);
	unlink(core);
	static char script[4 * PATH_MAX];
	fmt(script, sizeof script, "ulimit -c unlimited && cd '%s' && exec '%s' -c \"%s\"",
	    fx->dir, py, code);
	char *sh[] = {"/bin/sh", "-c", script, NULL};
	g_fixture = ts_spawn(sh, NULL, NULL, 1);
	cr_assert(g_fixture > 0);
	double deadline = ts_now_s() + 30;
	while (access(ready, F_OK) != 0) {
		cr_assert(ts_now_s() < deadline, "python never started");
		ts_sleep_ms(20);
	}
	ts_sleep_ms(200);
	fx->pid = g_fixture;
	kill(g_fixture, SIGABRT);
	int status = ts_wait_bounded(g_fixture, 60);
	g_fixture = -1;
	cr_assert(status != -1 && WIFSIGNALED(status) && WCOREDUMP(status),
		  "no core of %s (status 0x%x)", py, status);
}

static void assert_error(const struct fixture *fx, const char *name, char *const args[],
			 int want, const char *needle)
{
	int rc = run_pyprobe(fx, name, args);
	static char e[4096];
	char path[PATH_MAX + 64];
	fmt(path, sizeof path, "%s/%s.err", fx->dir, name);
	cr_assert(ts_read_file(path, e, sizeof e) > 0, "%s: nothing on stderr", name);
	cr_assert_eq(rc, want, "%s: exit %d, want %d\n%s", name, rc, want, e);
	cr_assert(strncmp(e, "pyprobe: ", 9) == 0 && strchr(e, '\n') == e + strlen(e) - 1,
		  "%s: not one 'pyprobe: ' line:\n%s", name, e);
	cr_assert(strstr(e, needle), "%s: no '%s' in:\n%s", name, needle, e);
	char out[PATH_MAX + 64];
	fmt(out, sizeof out, "%s/%s.out", fx->dir, name);
	struct stat st;
	cr_assert(stat(out, &st) == 0 && st.st_size == 0, "%s: printed a dump", name);
}

/* The same core works, cut short it does not. */
Test(dump_core, truncated_core)
{
	struct fixture fx;
	small_python_core(&fx, "truncated", NULL);
	char core[PATH_MAX + 16], cut[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx.dir);
	fmt(cut, sizeof cut, "%s/core.cut", fx.dir);
	assert_ok(&fx, "whole", (char *[]){"dump", "--core", core, NULL});
	struct stat st;
	cr_assert(stat(core, &st) == 0);
	char cmd[3 * PATH_MAX];
	fmt(cmd, sizeof cmd, "head -c %lld '%s' > '%s'", (long long)st.st_size / 2, core, cut);
	char out[256];
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0);
	assert_error(&fx, "cut", (char *[]){"dump", "--core", cut, NULL}, 6, "is truncated");
	unlink(cut);
	unlink(core);
}

/* The NT_PRSTATUS notes of core file `fd`: each one's pr_pid and the file
 * offset of its registers, up to max; how many. */
static size_t prstatus_notes(int fd, int *tids, off_t *regs, size_t max)
{
	Elf64_Ehdr eh;
	cr_assert(pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh);
	size_t n = 0;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		cr_assert(pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) ==
			  (ssize_t)sizeof ph);
		if (ph.p_type != PT_NOTE)
			continue;
		static uint8_t notes[1 << 20];
		cr_assert(ph.p_filesz <= sizeof notes);
		cr_assert(pread(fd, notes, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz);
		for (size_t off = 0; off + 12 <= ph.p_filesz && n < max;) {
			Elf64_Nhdr nh;
			memcpy(&nh, notes + off, sizeof nh);
			size_t desc = off + 12 + ((nh.n_namesz + 3) & ~3u);
			/* pr_pid at 32, pr_reg at 112 */
			if (nh.n_type == NT_PRSTATUS && nh.n_descsz >= 112 + 27 * 8) {
				memcpy(&tids[n], notes + desc + 32, sizeof(int));
				regs[n++] = (off_t)(ph.p_offset + desc + 112);
			}
			off = desc + ((nh.n_descsz + 3) & ~3u);
		}
	}
	return n;
}

/* dump --core --native where the core cannot give a thread's native stack:
 * a thread whose registers note is gone (its note retyped) and the main
 * thread with a stack pointer into nothing. Each says so, in its own
 * block; the dump stands (0). */
Test(dump_core, native_without_registers_or_stack)
{
	struct fixture fx;
	small_python_core(&fx, "native-broken", NULL);
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx.dir);
	assert_ok(&fx, "whole", (char *[]){"dump", "--core", core, "--native", "--json", NULL});
	int fd = open(core, O_RDWR);
	cr_assert(fd >= 0);
	int tids[8];
	off_t regs[8];
	size_t n = prstatus_notes(fd, tids, regs, 8);
	cr_assert(n >= 2, "%zu threads in the core", n);
	int other = 0;
	for (size_t i = 0; i < n; i++) {
		if (tids[i] == (int)fx.pid) {
			/* rsp (word 19) into the zero page, rbp (word 4) 0: no
			 * caller can be read, nor guessed from a frame chain */
			uint64_t zero = 0, low = 0x10;
			cr_assert(pwrite(fd, &low, 8, regs[i] + 19 * 8) == 8);
			cr_assert(pwrite(fd, &zero, 8, regs[i] + 4 * 8) == 8);
		} else if (!other) {
			other = tids[i];
			/* retype its note: the header's n_type, then the name
			 * "CORE" padded to 8, then the descriptor */
			uint32_t type = 0x4e4f4e45;
			off_t desc = regs[i] - 112;
			char name[8];
			cr_assert(pread(fd, name, 5, desc - 8) == 5 && memcmp(name, "CORE", 5) == 0);
			cr_assert(pwrite(fd, &type, 4, desc - 8 - 4) == 4);
		}
	}
	close(fd);
	cr_assert(other, "no second thread");
	assert_ok(&fx, "broken", (char *[]){"dump", "--core", core, "--native", "--json", NULL});
	assert_ok(&fx, "broken-text", (char *[]){"dump", "--core", core, "--native", NULL});
	unlink(core);
	char out[PATH_MAX + 64], check[PATH_MAX + 64];
	fmt(out, sizeof out, "%s/broken.out", fx.dir);
	static const char script[] =
		"import json, sys\n"
		"d = json.load(open(sys.argv[1], encoding='utf-8'))\n"
		"t = {x['native_id']: x for x in d['threads']}\n"
		"main, other = t[int(sys.argv[2])], t[int(sys.argv[3])]\n"
		"assert other['native'] == 'separate', other\n"
		"assert other['native_note'] == 'its native stack could not be read', other\n"
		"nf = main.get('native_frames') or []\n"
		"assert main['native'] == 'separate', main['native']\n"
		"assert 'cut short' in main['native_note'], main['native_note']\n"
		"assert d['native_note'] is None, d['native_note']\n"
		"assert nf and nf[-1]['kind'] == 'marker' and \\\n"
		"    nf[-1]['function'].startswith('[native stack cut'), nf\n"
		"assert any(f['kind'] == 'python' for f in main['frames']), main['frames']\n"
		"print('ok: %d native frames, then the cut' % (len(nf) - 1))\n";
	char pid[32], oth[32];
	snprintf(pid, sizeof pid, "%d", (int)fx.pid);
	snprintf(oth, sizeof oth, "%d", other);
	fmt(check, sizeof check, "broken.check");
	char *argv[] = {"python3", "-c", (char *)script, out, pid, oth, NULL};
	python_check(&fx, check, argv);
}

/* A core of `sleep`: not Python (5). */
Test(dump_core, not_python)
{
	need_kernel_cores();
	struct fixture fx;
	ts_scratch_path("dump_core", fx.dir, sizeof fx.dir, "not-python");
	ts_mkdir_p(fx.dir);
	kernel_core_of(fx.dir, (char *[]){"sleep", "600", NULL}, 300);
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx.dir);
	assert_error(&fx, "sleep", (char *[]){"dump", "--core", core, NULL}, 5,
		     "is not a Python process");
	unlink(core);
}

/* --exe naming another build than the one the process ran (Debian's
 * static python3.11, whose interpreter is in the executable, read as
 * pyenv's 3.11 or any other ELF): its build-id differs from the one in
 * the core, and nothing is read from it (6). Likewise a --root that does
 * not hold the files. */
Test(dump_core, build_id_mismatch)
{
	const char *debian = "/usr/bin/python3.11";
	if (access(debian, X_OK) != 0)
		cr_skip_test("no %s (Debian's python3.11)", debian);
	const char *other = access("/root/.pyenv/versions/3.11.7/bin/python3.11", X_OK) == 0
		? "/root/.pyenv/versions/3.11.7/bin/python3.11" : "/bin/sh";
	struct fixture fx;
	small_python_core(&fx, "mismatch", debian);
	char core[PATH_MAX + 16];
	fmt(core, sizeof core, "%s/core", fx.dir);
	assert_ok(&fx, "right", (char *[]){"dump", "--core", core, "--exe", (char *)debian, NULL});
	assert_error(&fx, "exe", (char *[]){"dump", "--core", core, "--exe", (char *)other, NULL},
		     6, "is not the file the process had mapped");
	assert_error(&fx, "root", (char *[]){"dump", "--core", core, "--root", "/nonexistent", NULL},
		     6, "cannot open /nonexistent/usr/bin/python3.11");
	unlink(core);
}

/* Not a core at all; and options that do not go together (2). */
Test(dump_core, not_a_core_and_usage)
{
	struct fixture fx;
	ts_scratch_path("dump_core", fx.dir, sizeof fx.dir, "usage");
	ts_mkdir_p(fx.dir);
	char script[PATH_MAX];
	fmt(script, sizeof script, "%s/fixtures/dump/threads.py", ts_source_root());
	assert_error(&fx, "script", (char *[]){"dump", "--core", script, NULL}, 6,
		     "is not a core file");
	assert_error(&fx, "missing", (char *[]){"dump", "--core", "/nonexistent/core", NULL}, 6,
		     "cannot open the core");
	assert_error(&fx, "both", (char *[]){"dump", "--core", script, "--pid", "1", NULL}, 2,
		     "not both");
	assert_error(&fx, "exe", (char *[]){"dump", "--pid", "1", "--exe", "/bin/sh", NULL}, 2,
		     "--exe is for reading a core file");
	assert_error(&fx, "nonblocking", (char *[]){"dump", "--core", script, "--nonblocking", NULL},
		     2, "--nonblocking");
}
