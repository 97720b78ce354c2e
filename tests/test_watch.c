/* `pyprobe watch` through the CLI against every supported interpreter.
 *
 * Each Test starts the five scenarios of fixtures/watch/hangs.py under one
 * interpreter side by side (a stalled loop, a deadlock, a spinning thread,
 * a heartbeat that stops, and a control where nothing hangs), each with a
 * `pyprobe watch --stall 1 --stuck 1` of its own (the control: 2 and 3 s),
 * and lets them run to their end (about 6 s): every watch must exit 0 when its target exits,
 * and tests/check_watch.py then checks that each hang was written exactly
 * once, naming the right thread, function and line, and that nothing was
 * written for the control. Also: kill -9 of watch while it dumps never
 * leaves the target stopped; --once; the command-line errors.
 *
 * Artifacts stay in $PYPROBE_BUILD_ROOT/tests/watch/<label>/.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define NSCEN 5
static const char *const scenarios[NSCEN] = {"stall", "deadlock", "spin", "heartbeat", "control"};

static pid_t g_targets[NSCEN + 1] = {-1, -1, -1, -1, -1, -1};

static void teardown(void)
{
	for (int i = 0; i <= NSCEN; i++)
		if (g_targets[i] > 0) {
			kill(-g_targets[i], SIGKILL);
			waitpid(g_targets[i], NULL, 0);
			g_targets[i] = -1;
		}
}

TestSuite(watch, .fini = teardown, .timeout = 240);

/* Every file of a directory removed (the directory made if missing). */
static void empty_dir(const char *dir)
{
	ts_mkdir_p(dir);
	DIR *d = opendir(dir);
	cr_assert(d, "cannot open %s", dir);
	struct dirent *e;
	char p[PATH_MAX];
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' || (e->d_name[1] && strcmp(e->d_name, "..")))
			if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)
				unlink(p);
	closedir(d);
}

/* Wait (at most 60 s) for the fixture's ready file; its pid. */
static int wait_ready(const char *ready, pid_t child)
{
	char buf[64];
	for (int i = 0; i < 1200; i++) {
		if (ts_read_file(ready, buf, sizeof buf) > 0)
			return atoi(buf);
		if (waitpid(child, NULL, WNOHANG) == child)
			cr_assert_fail("the fixture exited before it was ready (%s)", ready);
		ts_sleep_ms(50);
	}
	cr_assert_fail("the fixture did not get ready in 60 s (%s)", ready);
	return -1;
}

struct scen {
	char out[PATH_MAX], err[PATH_MAX], hb[PATH_MAX], ready[PATH_MAX];
	pid_t watch;
};

/* Start scenario `name` of the fixture under py (its process group in
 * *target) and return its pid as the fixture wrote it. */
static int start_fixture(const struct ts_python *py, const char *name, const char *extra,
			 struct scen *s, pid_t *target)
{
	char dir[PATH_MAX], fixture[PATH_MAX], ready_arg[PATH_MAX], hb_arg[PATH_MAX], log[PATH_MAX];
	ts_python_scratch(py, "watch", dir, sizeof dir);
	/* Files of this test's own (its process): tests run side by side,
	 * and several start the same scenario under the same interpreter -
	 * sharing a ready file, one would watch the other's target. */
	snprintf(s->ready, sizeof s->ready, "%.3000s/%s-%s-%d.ready", dir, py->label, name,
		 (int)getpid());
	snprintf(s->hb, sizeof s->hb, "%.3000s/%s-%s-%d.heartbeat", dir, py->label, name,
		 (int)getpid());
	unlink(s->ready);
	unlink(s->hb);
	ts_python_path(py, s->ready, ready_arg, sizeof ready_arg);
	ts_python_path(py, s->hb, hb_arg, sizeof hb_arg);
	ts_python_source(py, "fixtures/watch/hangs.py", fixture, sizeof fixture);
	char *argv[16];
	size_t n = 0;
	ts_python_argv(py, argv, &n, 16);
	argv[n++] = fixture;
	argv[n++] = (char *)name;
	argv[n++] = ready_arg;
	argv[n++] = hb_arg;
	if (extra)
		argv[n++] = (char *)extra;
	argv[n] = NULL;
	char sub[64];
	snprintf(sub, sizeof sub, "%s-%s-%d.fixture.log", py->label, name, (int)getpid());
	ts_scratch_path("watch", log, sizeof log, sub);
	*target = ts_spawn(argv, log, log, 1);
	cr_assert(*target > 0);
	return wait_ready(s->ready, *target);
}

static pid_t start_watch(const char *pid, struct scen *s, char *const more[])
{
	char *argv[24] = {(char *)ts_pyprobe(), "watch", "--pid", (char *)pid, "--stall", "1",
			  "--stuck", "1", "-o", s->out};
	size_t n = 10;
	for (size_t i = 0; more && more[i] && n < 23; i++)
		argv[n++] = more[i];
	argv[n] = NULL;
	pid_t w = ts_spawn(argv, NULL, s->err, 1);
	cr_assert(w > 0);
	return w;
}

static void scenarios_under(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	struct scen s[NSCEN];
	char pids[NSCEN][16];
	for (int i = 0; i < NSCEN; i++) {
		char sub[96];
		snprintf(sub, sizeof sub, "%s/%s", py.label, scenarios[i]);
		ts_scratch_path("watch", s[i].out, sizeof s[i].out, sub);
		empty_dir(s[i].out);
		snprintf(sub, sizeof sub, "%s-%s.watch.err", py.label, scenarios[i]);
		ts_scratch_path("watch", s[i].err, sizeof s[i].err, sub);
		int pid = start_fixture(&py, scenarios[i], NULL, &s[i], &g_targets[i]);
		snprintf(pids[i], sizeof pids[i], "%d", pid);
		char *hb[] = {"--heartbeat", s[i].hb, "--heartbeat-timeout", "1", NULL};
		/* The control's busy threads progress, but on a loaded machine
		 * one can be kept off the CPU (or the GIL) for a second, and a
		 * thread that does not run shows the same stack: generous
		 * thresholds there (a false alarm still needs 3 s of that). */
		char *generous[] = {"--stuck", "3", "--stall", "2", NULL};
		s[i].watch = start_watch(pids[i], &s[i],
					 !strcmp(scenarios[i], "heartbeat") ? hb
					 : !strcmp(scenarios[i], "control") ? generous : NULL);
	}
	for (int i = 0; i < NSCEN; i++) {
		int st = ts_wait_bounded(s[i].watch, 90);
		char err[8192] = "";
		ts_read_file(s[i].err, err, sizeof err);
		cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "%s %s: watch did not exit 0 when its target did (status %#x):\n%s",
			  py.label, scenarios[i], st, err);
		cr_assert(!strstr(err, "Sanitizer") && !strstr(err, "runtime error"),
			  "%s %s: sanitizer report:\n%s", py.label, scenarios[i], err);
		waitpid(g_targets[i], NULL, 0);
		g_targets[i] = -1;
	}
	/* one checker run for all five (a Python start costs seconds here) */
	char cmd[16 * PATH_MAX], out[16384];
	int len = snprintf(cmd, sizeof cmd, "python3 %.2000s/tests/check_watch.py "
			   "%.2000s/fixtures/watch/hangs.py", ts_source_root(), ts_source_root());
	for (int i = 0; i < NSCEN && len > 0 && (size_t)len < sizeof cmd; i++)
		len += snprintf(cmd + len, sizeof cmd - (size_t)len, " %s %.2000s %.2000s",
				scenarios[i], s[i].out, s[i].err);
	cr_assert(len > 0 && (size_t)len + 8 < sizeof cmd);
	strcat(cmd, " 2>&1");
	int rc = ts_shell(cmd, out, sizeof out);
	cr_assert_eq(rc, 0, "%s: %s", py.label, out);
}

#define VERSION(tag, spec) \
	Test(watch, scenarios_##tag) { scenarios_under(spec); }

VERSION(3_8, "3.8.18")
VERSION(3_9, "3.9.18")
VERSION(3_10, "3.10.13")
VERSION(3_11, "3.11.7")
VERSION(3_12, "3.12.1")
VERSION(3_13, "3.13.0")
VERSION(debian_3_11, "debian")
VERSION(sid_3_13, "sid-3.13")
VERSION(sid_3_14, "sid-3.14")
VERSION(sid_3_15, "sid-3.15")

/* ---- never leaves the target stopped ------------------------------------ */

/* Every task of pid: none stopped ('t' or 'T'), none traced. */
static void assert_running(int pid, int round)
{
	char dir[64], path[PATH_MAX], buf[4096];
	snprintf(dir, sizeof dir, "/proc/%d/task", pid);
	DIR *d = opendir(dir);
	cr_assert(d, "round %d: the target is gone", round);
	struct dirent *e;
	int tasks = 0;
	char bad[256] = "";
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%.64s/stat", dir, e->d_name);
		if (ts_read_file(path, buf, sizeof buf) <= 0)
			continue;
		char *p = strrchr(buf, ')');
		char state = p && p[1] == ' ' ? p[2] : '?';
		snprintf(path, sizeof path, "%s/%.64s/status", dir, e->d_name);
		if (ts_read_file(path, buf, sizeof buf) <= 0)
			continue;
		char *tr = strstr(buf, "TracerPid:");
		long tracer = tr ? strtol(tr + 10, NULL, 10) : -1;
		if (!bad[0] && (state == 't' || state == 'T' || tracer != 0))
			snprintf(bad, sizeof bad, "task %.64s state %c, traced by %ld", e->d_name,
				 state, tracer);
		tasks++;
	}
	closedir(d); /* before asserting: a failed assert leaves by longjmp */
	cr_assert(!bad[0], "round %d: after kill -9 of watch, %s", round, bad);
	cr_assert_gt(tasks, 200, "round %d: only %d tasks read", round, tasks);
}

Test(watch, kill_9_mid_dump_leaves_target_running)
{
	struct ts_python py;
	ts_python_get("3.11.7", &py);
	struct scen s;
	ts_scratch_path("watch", s.out, sizeof s.out, "kill9");
	empty_dir(s.out);
	ts_scratch_path("watch", s.err, sizeof s.err, "kill9.watch.err");
	/* "long": deadlocked for minutes, with 200 more threads parked in
	 * deep stacks, so a paused dump takes long enough to be hit */
	int pid = start_fixture(&py, "deadlock", "long", &s, &g_targets[0]);
	char pidarg[16];
	snprintf(pidarg, sizeof pidarg, "%d", pid);
	ts_sleep_ms(2500); /* deadlocked by now */
	/* Each round: a watch that fires after 0.2 s; the moment the target's
	 * main thread shows as stopped ('t': the dump has paused it), kill -9
	 * the watch. */
	char stat_path[64];
	snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", pid);
	int hit = 0;
	for (int round = 0; round < 8; round++) {
		char *argv[] = {(char *)ts_pyprobe(), "watch", "--pid", pidarg, "--stuck", "0.2",
				"-o", s.out, "--once", NULL};
		pid_t w = ts_spawn(argv, NULL, s.err, 1);
		cr_assert(w > 0);
		bool paused = false;
		double end = ts_now_s() + 20;
		while (!paused && ts_now_s() < end && waitpid(w, NULL, WNOHANG) == 0) {
			char buf[1024];
			if (ts_read_file(stat_path, buf, sizeof buf) > 0) {
				char *p = strrchr(buf, ')');
				paused = p && p[1] == ' ' && (p[2] == 't' || p[2] == 'T');
			}
		}
		if (paused) {
			kill(w, SIGKILL);
			hit++;
		}
		ts_wait_bounded(w, 30);
		assert_running(pid, round);
	}
	cr_log_info("kill -9: %d of 8 watches killed while the target was paused", hit);
	cr_assert_gt(hit, 0, "the dump's pause was never seen: nothing was tested");
	/* and the target still runs its threads: it answers a dump */
	struct ts_run r;
	char *args[] = {"dump", "--pid", pidarg, NULL};
	ts_run_pyprobe("watch", &r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "take_a") && strstr(r.out, "take_b"), "%s", r.out);
}

/* ---- --once, errors ------------------------------------------------------ */

Test(watch, once_exits_1_after_the_first_hang)
{
	struct ts_python py;
	ts_python_get("3.11.7", &py);
	struct scen s;
	ts_scratch_path("watch", s.out, sizeof s.out, "once");
	empty_dir(s.out);
	ts_scratch_path("watch", s.err, sizeof s.err, "once.watch.err");
	int pid = start_fixture(&py, "deadlock", NULL, &s, &g_targets[0]);
	char pidarg[16];
	snprintf(pidarg, sizeof pidarg, "%d", pid);
	char *more[] = {"--once", NULL};
	pid_t w = start_watch(pidarg, &s, more);
	int st = ts_wait_bounded(w, 60);
	char err[8192] = "";
	ts_read_file(s.err, err, sizeof err);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x:\n%s", st, err);
	cr_assert(strstr(err, "suspected deadlock") && strstr(err, "worker-"), "%s", err);
	/* it exited right away: the target is still deadlocked, not ended */
	cr_assert_eq(kill(pid, 0), 0, "the target ended before --once returned");
	char line[256];
	snprintf(line, sizeof line, "pyprobe-hang-%d-", pid);
	cr_assert(strstr(err, line), "%s", err);
}

Test(watch, sigterm_exits_0)
{
	struct ts_python py;
	ts_python_get("3.11.7", &py);
	struct scen s;
	ts_scratch_path("watch", s.out, sizeof s.out, "sigterm");
	empty_dir(s.out);
	ts_scratch_path("watch", s.err, sizeof s.err, "sigterm.watch.err");
	int pid = start_fixture(&py, "control", NULL, &s, &g_targets[0]);
	char pidarg[16];
	snprintf(pidarg, sizeof pidarg, "%d", pid);
	pid_t w = start_watch(pidarg, &s, NULL);
	char err[8192] = "";
	for (int i = 0; i < 600 && !strstr(err, "watching"); i++) {
		ts_sleep_ms(10);
		ts_read_file(s.err, err, sizeof err);
	}
	kill(w, SIGTERM);
	int st = ts_wait_bounded(w, 30);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x:\n%s", st, err);
	cr_assert_eq(kill(pid, 0), 0, "the target died with watch");
}

static void expect_usage(char *const args[], const char *needle)
{
	struct ts_run r;
	ts_run_pyprobe("watch", &r, args);
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(!strncmp(r.err, "pyprobe: ", 9) && strstr(r.err, needle), "%s", r.err);
	cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "not one line: %s", r.err);
}

Test(watch, command_line_errors)
{
	char self[16];
	snprintf(self, sizeof self, "%d", (int)getpid());
	expect_usage((char *[]){"watch", NULL}, "--pid");
	expect_usage((char *[]){"watch", "--pid", "x", NULL}, "process id");
	expect_usage((char *[]){"watch", "--pid", self, "--stall", "0", NULL}, "--stall");
	expect_usage((char *[]){"watch", "--pid", self, "--stuck", "-1", NULL}, "--stuck");
	expect_usage((char *[]){"watch", "--pid", self, "-r", "0", NULL}, "--rate");
	expect_usage((char *[]){"watch", "--pid", self, "--heartbeat", "/tmp/x", NULL},
		     "--heartbeat-timeout");
	expect_usage((char *[]){"watch", "--pid", self, "--heartbeat-timeout", "3", NULL},
		     "--heartbeat FILE");
	expect_usage((char *[]){"watch", "--pid", self, "--bogus", NULL}, "unknown option");

	struct ts_run r;
	ts_run_pyprobe("watch", &r, (char *[]){"watch", "--pid", self, "-o", "/nonexistent/dir", NULL});
	cr_assert_eq(ts_exit_code(&r), 6, "%s", r.err);
	cr_assert(strstr(r.err, "pyprobe: cannot write hang files to /nonexistent/dir"), "%s", r.err);
	ts_run_pyprobe("watch", &r, (char *[]){"watch", "--pid", "999999999", NULL});
	cr_assert_eq(ts_exit_code(&r), 3, "%s", r.err);
	ts_run_pyprobe("watch", &r, (char *[]){"watch", "--pid", self, NULL});
	cr_assert_eq(ts_exit_code(&r), 5, "not Python: %s", r.err);
	ts_run_pyprobe("watch", &r, (char *[]){"watch", "--help", NULL});
	cr_assert_eq(ts_exit_code(&r), 0);
	cr_assert(strstr(r.out, "--heartbeat-timeout") && strstr(r.out, "--once"), "%s", r.out);
}

/* ---- the in-process watchdog (fixtures/watchdog/pyprobe_watchdog.py) ----- */

/* fixtures/watchdog/service.py under py: its main loop stops ticking for
 * 4 s; the watchdog thread inside must run `pyprobe dump` on its own
 * process exactly once and keep a dump showing where the loop is stuck. */
static void watchdog_under(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char out[PATH_MAX], ready[PATH_MAX], log[PATH_MAX], sub[96], service[PATH_MAX];
	snprintf(sub, sizeof sub, "watchdog-%s", py.label);
	ts_scratch_path("watch", out, sizeof out, sub);
	empty_dir(out);
	snprintf(sub, sizeof sub, "watchdog-%s.ready", py.label);
	ts_scratch_path("watch", ready, sizeof ready, sub);
	unlink(ready);
	snprintf(sub, sizeof sub, "watchdog-%s.log", py.label);
	ts_scratch_path("watch", log, sizeof log, sub);
	snprintf(service, sizeof service, "%s/fixtures/watchdog/service.py", ts_source_root());
	char *argv[12];
	size_t n = 0;
	ts_python_argv(&py, argv, &n, 12);
	argv[n++] = service;
	argv[n++] = (char *)ts_pyprobe();
	argv[n++] = out;
	argv[n++] = ready;
	argv[n] = NULL;
	g_targets[0] = ts_spawn(argv, log, log, 1);
	cr_assert(g_targets[0] > 0);
	int st = ts_wait_bounded(g_targets[0], 90);
	g_targets[0] = -1;
	char text[16384] = "";
	ts_read_file(log, text, sizeof text);
	cr_assert(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: the service did not end with exactly one dump (status %#x):\n%s", py.label,
		  st, text);
	cr_assert(strstr(text, "main loop has not ticked for"), "%s: %s", py.label, text);
	/* the dump: the main thread in stuck_here, and the watchdog thread */
	DIR *d = opendir(out);
	cr_assert(d);
	struct dirent *e;
	char path[PATH_MAX] = "";
	int files = 0;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "pyprobe-dump-", 13)) {
			files++;
			snprintf(path, sizeof path, "%.3000s/%.255s", out, e->d_name);
		}
	closedir(d);
	cr_assert_eq(files, 1, "%s: %d dump files in %s", py.label, files, out);
	char dump[65536] = "";
	ts_read_file(path, dump, sizeof dump);
	char *main_thread = strstr(dump, "\"MainThread\"");
	cr_assert(main_thread, "%s: no main thread:\n%s", py.label, dump);
	char *next = strstr(main_thread + 1, "\nThread ");
	char *stuck = strstr(main_thread, "stuck_here (");
	cr_assert(stuck && (!next || stuck < next), "%s: the main thread is not in stuck_here:\n%s",
		  py.label, dump);
	cr_assert(strstr(dump, "\"pyprobe-watchdog\""), "%s: %s", py.label, dump);
}

Test(watch, watchdog_3_8) { watchdog_under("3.8.18"); }
Test(watch, watchdog_3_12) { watchdog_under("3.12.1"); }
Test(watch, watchdog_debian_3_11) { watchdog_under("debian"); }
