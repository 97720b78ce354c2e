/* `pyprobe record --subprocesses` through the CLI, against a multiprocessing
 * pool (fixtures/record/pool.py) on every interpreter: the workers' stacks,
 * under a `process PID: cmdline` root frame per process, with the pids the
 * pool itself reports; spawn as well as fork; attaching with --pid to a
 * pool already running; the /proc ppid scan used where the kernel has no
 * children files; and, without the flag, no trace of the workers. */
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
}

TestSuite(record_subprocesses, .fini = teardown, .timeout = 180);

static void path_in(char *out, size_t n, const char *name)
{
	static char dir[PATH_MAX];
	if (!dir[0]) {
		const char *b = getenv("PYPROBE_BUILD_ROOT");
		snprintf(dir, sizeof dir, "%.3000s/tests/record_subprocesses",
			 b && *b ? b : "/tmp/pyprobe-tests");
		ts_mkdir_p(dir);
	}
	int w = snprintf(out, n, "%s/%s", dir, name);
	cr_assert(w > 0 && (size_t)w < n, "path too long");
}

static const char *fixture(void)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof path, "%.3000s/fixtures/record/pool.py", ts_source_root());
	return path;
}

/* Waits for a pyprobe already started; its stderr is in errpath. */
static void finish(pid_t rec, const char *errpath, char *err, size_t errsize)
{
	int st = ts_wait_bounded(rec, 120);
	ts_read_file(errpath, err, errsize);
	cr_assert(st != -1, "pyprobe timed out:\n%s", err);
	cr_assert(!WIFSIGNALED(st), "pyprobe died of signal %d:\n%s", WTERMSIG(st), err);
	cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error:"),
		  "sanitizer report:\n%s", err);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d:\n%s", WEXITSTATUS(st), err);
}

/* pyprobe record ARGS... (NULL-terminated), to the end. */
static void record(char *const args[], char *err, size_t errsize)
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)ts_pyprobe();
	argv[n++] = "record";
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	char errpath[PATH_MAX];
	path_in(errpath, sizeof errpath, "run.err");
	finish(ts_spawn(argv, NULL, errpath, 0), errpath, err, errsize);
}

struct truth {
	int parent, workers[2];
};

/* The pids the pool wrote: the parent's, then each task's worker. */
static void read_truth(const char *path, struct truth *t)
{
	char buf[256];
	cr_assert(ts_read_file(path, buf, sizeof buf) > 0, "the fixture wrote no %s", path);
	cr_assert_eq(sscanf(buf, "parent %d\nworker %d\nworker %d", &t->parent,
			    &t->workers[0], &t->workers[1]), 3, "truth file:\n%s", buf);
	cr_assert_neq(t->workers[0], t->workers[1],
		      "both tasks ran in one worker (%d); the test needs two", t->workers[0]);
}

/* Collapsed output: is there a line rooted at `process PID: ` that
 * contains `needle` (NULL: any)? */
static int has_stack(const char *collapsed, int pid, const char *needle)
{
	char root[64];
	int rn = snprintf(root, sizeof root, "process %d: ", pid);
	for (const char *line = collapsed; *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (!strncmp(line, root, (size_t)rn)) {
			if (!needle)
				return 1;
			const char *hit = strstr(line, needle);
			if (hit && hit < line + len)
				return 1;
		}
		line += len + (eol ? 1 : 0);
	}
	return 0;
}

/* Every stack has a process root frame, and, with threads, a thread
 * frame right under it. */
static void check_roots(const char *collapsed, int threads)
{
	cr_assert(*collapsed, "empty profile");
	for (const char *line = collapsed; *line;) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		cr_assert(!strncmp(line, "process ", 8), "a stack without a process root: %.*s",
			  (int)(len > 300 ? 300 : len), line);
		if (threads) {
			const char *semi = memchr(line, ';', len);
			cr_assert(semi && !strncmp(semi + 1, "thread ", 7),
				  "no thread frame under the process frame: %.*s",
				  (int)(len > 300 ? 300 : len), line);
		}
		line += len + (eol ? 1 : 0);
	}
}

static char g_out[1 << 20]; /* collapsed output; static: too big for a stack */

/* The pool's parent and both workers are in the profile, the workers in
 * worker_burn, and every stack has its process root. */
static void check_pool(const char *out, const struct truth *t, const char *err, int threads)
{
	ts_read_file(out, g_out, sizeof g_out);
	check_roots(g_out, threads);
	cr_assert(has_stack(g_out, t->parent, NULL),
		  "no stack of the parent %d:\n%.3000s\n%s", t->parent, g_out, err);
	for (int i = 0; i < 2; i++)
		cr_assert(has_stack(g_out, t->workers[i], "worker_burn ("),
			  "worker %d: no stack in worker_burn:\n%.3000s\n%s", t->workers[i], g_out, err);
	cr_assert(!has_stack(g_out, t->parent, "worker_burn ("),
		  "the parent never runs worker_burn:\n%.3000s", g_out);
	int n = 0;
	const char *of = strstr(err, " samples of ");
	cr_assert(of && sscanf(of, " samples of %d processes", &n) == 1 && n >= 3,
		  "the summary must count the processes (3 or more):\n%s", err);
}

/* --subprocesses on a launched fork pool. */
static void follow_fork(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char out[PATH_MAX], truth[PATH_MAX], err[8192], dir[PATH_MAX];
	char truth_arg[PATH_MAX], pool[PATH_MAX];
	path_in(out, sizeof out, "fork.txt");
	/* The pool writes its pids where it can. */
	ts_python_scratch(&py, "record_subprocesses", dir, sizeof dir);
	int w = snprintf(truth, sizeof truth, "%.3000s/fork-%s.truth", dir, py.label);
	cr_assert(w > 0 && (size_t)w < sizeof truth);
	unlink(truth);
	ts_python_path(&py, truth, truth_arg, sizeof truth_arg);
	ts_python_source(&py, "fixtures/record/pool.py", pool, sizeof pool);
	char *args[24] = {"--subprocesses", "--idle", "--no-progress", "-f", "collapsed", "-o",
			  out, "--"};
	size_t n = 8;
	ts_python_argv(&py, args, &n, 24);
	args[n++] = pool;
	args[n++] = "1.5";
	args[n++] = "fork";
	args[n++] = truth_arg;
	args[n] = NULL;
	record(args, err, sizeof err);
	struct truth t;
	read_truth(truth, &t);
	check_pool(out, &t, err, 0);
}

Test(record_subprocesses, fork_3_8) { follow_fork("3.8.18"); }
Test(record_subprocesses, fork_3_9) { follow_fork("3.9.18"); }
Test(record_subprocesses, fork_3_10) { follow_fork("3.10.13"); }
Test(record_subprocesses, fork_3_11) { follow_fork("3.11.7"); }
Test(record_subprocesses, fork_3_12) { follow_fork("3.12.1"); }
Test(record_subprocesses, fork_3_13) { follow_fork("3.13.0"); }
Test(record_subprocesses, fork_debian_3_11) { follow_fork("debian"); }
Test(record_subprocesses, fork_sid_3_13) { follow_fork("sid-3.13"); }
Test(record_subprocesses, fork_sid_3_14) { follow_fork("sid-3.14"); }
Test(record_subprocesses, fork_sid_3_15) { follow_fork("sid-3.15"); }

/* Without the flag: the parent only, no process frames, no worker. */
Test(record_subprocesses, without_flag_no_workers)
{
	char pybuf[512], out[PATH_MAX], err[8192];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	path_in(out, sizeof out, "without.txt");
	char *args[] = {"--idle", "--no-progress", "-f", "collapsed", "-o", out, "--",
			(char *)python, (char *)fixture(), "1", "fork", NULL};
	record(args, err, sizeof err);
	ts_read_file(out, g_out, sizeof g_out);
	cr_assert(strstr(g_out, "main ("), "the parent is not in the profile:\n%.3000s", g_out);
	cr_assert(!strstr(g_out, "worker_burn"), "worker frames without --subprocesses:\n%.3000s",
		  g_out);
	cr_assert(!strstr(g_out, "process "), "process frames without --subprocesses");
	cr_assert(strstr(err, " samples in "), "summary:\n%s", err);
}

/* Spawned workers are new interpreters, found while they start up; with
 * --threads each stack is process, then thread. */
Test(record_subprocesses, spawn_with_threads)
{
	char pybuf[512], out[PATH_MAX], truth[PATH_MAX], err[8192];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	path_in(out, sizeof out, "spawn.txt");
	path_in(truth, sizeof truth, "spawn.truth");
	unlink(truth);
	char *args[] = {"--subprocesses", "--threads", "--idle", "--no-progress", "-f",
			"collapsed", "-o", out, "--", (char *)python, (char *)fixture(), "1.5",
			"spawn", truth, NULL};
	record(args, err, sizeof err);
	struct truth t;
	read_truth(truth, &t);
	check_pool(out, &t, err, 1);
}

/* --pid of a pool already running: its workers are found at once; the
 * recording ends when the parent exits. */
Test(record_subprocesses, attach_to_running_pool)
{
	char pybuf[512], out[PATH_MAX], truth[PATH_MAX], errpath[PATH_MAX], err[8192], pid[32];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	path_in(out, sizeof out, "attach.txt");
	path_in(truth, sizeof truth, "attach.truth");
	path_in(errpath, sizeof errpath, "attach.err");
	unlink(truth);
	char *target[] = {(char *)python, (char *)fixture(), "2", "fork", truth, NULL};
	g_target = ts_spawn(target, NULL, NULL, 1);
	ts_sleep_ms(700);
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	char *argv[] = {(char *)ts_pyprobe(), "record", "--subprocesses", "--idle", "--no-progress",
			"-f", "collapsed", "-o", out, "--pid", pid, NULL};
	double t0 = ts_now_s();
	finish(ts_spawn(argv, NULL, errpath, 0), errpath, err, sizeof err);
	cr_assert_lt(ts_now_s() - t0, 30.0, "it did not end with the parent");
	cr_assert(ts_wait_bounded(g_target, 30) != -1, "the pool did not finish");
	g_target = -1;
	struct truth t;
	read_truth(truth, &t);
	check_pool(out, &t, err, 0);
}

/* Kernels without /proc/PID/task/TID/children: the ppid scan of /proc
 * finds the same workers. */
Test(record_subprocesses, ppid_scan_fallback)
{
	char pybuf[512], out[PATH_MAX], truth[PATH_MAX], err[8192];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	path_in(out, sizeof out, "ppid.txt");
	path_in(truth, sizeof truth, "ppid.truth");
	unlink(truth);
	setenv("PYPROBE_TEST_PPID_SCAN", "1", 1);
	char *args[] = {"--subprocesses", "--idle", "--no-progress", "-f", "collapsed", "-o", out,
			"--", (char *)python, (char *)fixture(), "1.5", "fork", truth, NULL};
	record(args, err, sizeof err);
	unsetenv("PYPROBE_TEST_PPID_SCAN");
	struct truth t;
	read_truth(truth, &t);
	check_pool(out, &t, err, 0);
}
