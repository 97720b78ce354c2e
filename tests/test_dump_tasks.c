/* Integration: `pyprobe dump --tasks` against asyncio targets.
 *
 * fixtures/dump/tasks.py parks a tree of named tasks (a task awaiting a
 * gather of two tasks, one of them awaiting a third) and writes what the
 * interpreter says of them (names, coroutine stacks with lines, who awaits
 * whom) to a truth file. The JSON dump must equal it (tests/compare_tasks.py),
 * the text tree must draw it, and the target must be left running: on 3.14+
 * (the _asyncio debug offsets and per-thread task lists) and on 3.11-3.13
 * (asyncio.tasks' registries, reader/asyncio_tasks_311.c), Debian's
 * stripped static 3.11 included. Versions before 3.11 are refused with one
 * line, exit 5. A missing interpreter is a visible skip.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

#define TRUTH_TIMEOUT_S 60

static pid_t g_fixture = -1;

static void kill_fixture(void)
{
	if (g_fixture > 0) {
		kill(-g_fixture, SIGKILL);
		waitpid(g_fixture, NULL, 0);
		g_fixture = -1;
	}
}

TestSuite(dump_tasks, .fini = kill_fixture, .timeout = 300);

/* Start the fixture under py; its truth file's path (ours) in truth. */
static pid_t start_fixture(const struct ts_python *py, const char *script, char *truth,
			   size_t n)
{
	char dir[PATH_MAX - 64], rel[64], fixture[PATH_MAX], arg[PATH_MAX], log[PATH_MAX + 16];
	snprintf(rel, sizeof rel, "dump_tasks/%s", py->label);
	ts_python_scratch(py, rel, dir, sizeof dir);
	if (snprintf(truth, n, "%s/truth.json", dir) >= (int)n)
		cr_assert_fail("scratch path too long: %s", dir);
	unlink(truth);
	snprintf(log, sizeof log, "%s/fixture.log", dir);
	ts_python_source(py, script, fixture, sizeof fixture);
	ts_python_path(py, truth, arg, sizeof arg);
	char *argv[16];
	size_t k = 0;
	ts_python_argv(py, argv, &k, 16);
	const char *args[] = {"-X", "utf8", "-E", "-s", "-B", fixture, arg, NULL};
	for (size_t i = 0; args[i]; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
	g_fixture = ts_spawn(argv, log, log, 1);
	cr_assert(g_fixture > 0, "fork: %s", strerror(errno));
	return g_fixture;
}

static void wait_truth(pid_t pid, const char *truth)
{
	double deadline = ts_now_s() + TRUTH_TIMEOUT_S;
	while (access(truth, F_OK) != 0) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_fixture = -1;
			cr_assert_fail("fixture exited (status 0x%x) before writing %s", status,
				       truth);
		}
		cr_assert(ts_now_s() < deadline, "fixture wrote no truth in %d s", TRUTH_TIMEOUT_S);
		ts_sleep_ms(50);
	}
}

static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (ts_read_file(path, buf, sizeof buf) <= 0)
		return '?';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static void check_tasks(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char truth[PATH_MAX];
	pid_t pid = start_fixture(&py, "fixtures/dump/tasks.py", truth, sizeof truth);
	wait_truth(pid, truth);
	/* the reporter task finishes right after writing */
	ts_sleep_ms(200);

	char pidarg[16];
	snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
	static struct ts_run r;
	static const char *modes[][3] = {{"--json", NULL, NULL}, {"--json", "--nonblocking", NULL}};
	for (size_t m = 0; m < 2; m++) {
		char *args[] = {"dump", "--pid", pidarg, "--tasks", (char *)modes[m][0],
				(char *)modes[m][1], NULL};
		ts_run_pyprobe("dump_tasks", &r, args);
		cr_assert_eq(ts_exit_code(&r), 0, "dump --tasks %s exited %d: %s", modes[m][1] ?
			     modes[m][1] : "", ts_exit_code(&r), r.err);
		char out[PATH_MAX + 16];
		snprintf(out, sizeof out, "%s.dump%zu.json", truth, m);
		FILE *f = fopen(out, "w");
		cr_assert(f, "cannot write %s", out);
		fputs(r.out, f);
		fclose(f);
		char cmd[3 * PATH_MAX + 64];
		static char report[8192];
		snprintf(cmd, sizeof cmd, "python3 %s/tests/compare_tasks.py '%s' '%s' 2>&1",
			 ts_source_root(), truth, out);
		int rc = ts_shell(cmd, report, sizeof report);
		cr_assert_eq(rc, 0, "%s: the tasks differ from the fixture's:\n%s", py.label,
			     report);
		char st = proc_state(pid);
		cr_assert(st != 'T' && st != 't', "target left stopped (%c)", st);
	}

	char *args[] = {"dump", "--pid", pidarg, "--tasks", NULL};
	ts_run_pyprobe("dump_tasks", &r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "dump --tasks exited %d: %s", ts_exit_code(&r), r.err);
	/* the tree: each task under the innermost coroutine of its awaiter */
	static const char *lines[] = {
		"── (T) Task-1\n",
		"   └──  main ",
		"       └── (T) pair\n",
		"           └──  pair ",
		"               ├── (T) leaf\n",
		"               └── (T) waiter\n",
		"                       └── (T) sleeper\n",
		"── (T) lonely\n",
	};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
		cr_assert(strstr(r.out, lines[i]), "%s: text tree has no '%s':\n%s", py.label,
			  lines[i], r.out);
}

Test(dump_tasks, python_3_11) { check_tasks("3.11.7"); }
Test(dump_tasks, python_3_12) { check_tasks("3.12.1"); }
Test(dump_tasks, python_3_13) { check_tasks("3.13.0"); }
/* stripped and static: the layout is checked by the Task type's size */
Test(dump_tasks, debian_python_3_11) { check_tasks("debian"); }
Test(dump_tasks, sid_python_3_13) { check_tasks("sid-3.13"); }
Test(dump_tasks, sid_python_3_14) { check_tasks("sid-3.14"); }
Test(dump_tasks, sid_python_3_15) { check_tasks("sid-3.15"); }
/* the debug build: another _asyncio extension (_asyncio.cpython-314d) */
Test(dump_tasks, sid_python_3_14d) { check_tasks("sid-3.14d"); }

/* Before 3.11: one line, exit 5, nothing on standard output. */
static void check_refused(const char *spec, const char *version)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char truth[PATH_MAX];
	pid_t pid = start_fixture(&py, "fixtures/dump/tasks.py", truth, sizeof truth);
	wait_truth(pid, truth);
	char pidarg[16];
	snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
	static struct ts_run r;
	char *args[] = {"dump", "--pid", pidarg, "--tasks", NULL};
	ts_run_pyprobe("dump_tasks", &r, args);
	cr_assert_eq(ts_exit_code(&r), 5, "exit %d, want 5: %s", ts_exit_code(&r), r.err);
	char want[128];
	snprintf(want, sizeof want,
		 "pyprobe: dump --tasks needs Python 3.11 or later (this is %s)\n", version);
	cr_assert_str_eq(r.err, want);
	cr_assert_str_eq(r.out, "");
}

Test(dump_tasks, refused_python_3_8) { check_refused("3.8.18", "3.8.18"); }
Test(dump_tasks, refused_python_3_9) { check_refused("3.9.18", "3.9.18"); }
Test(dump_tasks, refused_python_3_10) { check_refused("3.10.13", "3.10.13"); }

/* Corrupt task memory (fixtures/dump/tasks_hostile.py): a list that loops
 * without its head, a name and a coroutine in unmapped memory, a garbage
 * awaited-by set. The dump must finish, find each task once, and show
 * what it could not read as null. */
static void check_hostile_with(const char *spec, const char *script, const char *const *want,
			       size_t nwant)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char truth[PATH_MAX];
	pid_t pid = start_fixture(&py, script, truth, sizeof truth);
	wait_truth(pid, truth);
	char buf[256];
	cr_assert(ts_read_file(truth, buf, sizeof buf) > 0 && strcmp(buf, "ready\n") == 0,
		  "%s: fixture says %s", py.label, buf);
	char pidarg[16];
	snprintf(pidarg, sizeof pidarg, "%d", (int)pid);
	static struct ts_run r;
	char *args[] = {"dump", "--pid", pidarg, "--tasks", "--json", NULL};
	ts_run_pyprobe("dump_tasks", &r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "exit %d: %s", ts_exit_code(&r), r.err);
	/* each task once; b nameless with no stack */
	for (size_t i = 0; i < nwant; i++) {
		const char *p = strstr(r.out, want[i]);
		cr_assert(p, "%s: no %s in\n%s", py.label, want[i], r.out);
		cr_assert(!strstr(p + 1, want[i]), "%s: %s twice in\n%s", py.label, want[i], r.out);
	}
	cr_assert(strstr(r.out, "{\"name\": null, \"state\": \"pending\",\n           \"stack\": [],"),
		  "%s: b's stack is not empty:\n%s", py.label, r.out);
	char *text[] = {"dump", "--pid", pidarg, "--tasks", NULL};
	ts_run_pyprobe("dump_tasks", &r, text);
	cr_assert_eq(ts_exit_code(&r), 0, "text: exit %d: %s", ts_exit_code(&r), r.err);
	cr_assert(strstr(r.out, "(T) ?\n"), "%s: no nameless task in\n%s", py.label, r.out);
}

static void check_hostile(const char *spec)
{
	static const char *want[] = {"{\"name\": \"Task-1\"", "{\"name\": \"a\"",
				     "{\"name\": \"c\"", "{\"name\": null"};
	check_hostile_with(spec, "fixtures/dump/tasks_hostile.py", want, sizeof want / sizeof *want);
}

Test(dump_tasks, hostile_sid_python_3_14) { check_hostile("sid-3.14"); }
Test(dump_tasks, hostile_sid_python_3_15) { check_hostile("sid-3.15"); }

/* 3.11-3.13 (fixtures/dump/tasks_hostile_311.py): a name and a coroutine
 * in unmapped memory, a fut_waiter that is no object, a value stack far
 * past the frame, a gather among its own children, a task awaiting
 * itself. d still awaits e through its gather; c awaits nothing. */
static void check_hostile_311(const char *spec)
{
	static const char *want[] = {
		"{\"name\": \"Task-1\"", "{\"name\": \"a\"", "{\"name\": \"c\"",
		"{\"name\": \"e\"", "{\"name\": null", "{\"name\": \"d\""};
	check_hostile_with(spec, "fixtures/dump/tasks_hostile_311.py", want,
			   sizeof want / sizeof *want);
}

Test(dump_tasks, hostile_python_3_11) { check_hostile_311("3.11.7"); }
Test(dump_tasks, hostile_python_3_12) { check_hostile_311("3.12.1"); }
Test(dump_tasks, hostile_python_3_13) { check_hostile_311("3.13.0"); }
Test(dump_tasks, hostile_sid_python_3_13) { check_hostile_311("sid-3.13"); }
