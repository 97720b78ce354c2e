/* pyprobe top through the CLI: live under tmux (the hot function shows,
 * keys change the sort, q quits with status 0, SIGTERM ends it too, and
 * the terminal's modes are what they were before), and as plain text when
 * standard output is not a terminal. Each for pyenv's 3.12 and the sid
 * root's 3.14; a missing interpreter or tmux is a skip by name. */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char g_session[64];

static void teardown(void)
{
	if (g_session[0]) {
		char cmd[128], out[256];
		snprintf(cmd, sizeof cmd, "tmux kill-session -t %s 2>/dev/null", g_session);
		ts_shell(cmd, out, sizeof out);
	}
}

TestSuite(top, .fini = teardown, .timeout = 240);

/* The command line of `pyprobe top ARGS -- PYTHON fixtures/top/spin.py
 * SECS`, shell-quoted, into buf. */
static void top_command(const struct ts_python *py, const char *args, const char *secs,
			char *buf, size_t n)
{
	char path[PATH_MAX];
	ts_python_source(py, "fixtures/top/spin.py", path, sizeof path);
	int len = snprintf(buf, n, "'%s' top %s --", ts_pyprobe(), args);
	for (size_t i = 0; py->argv[i] && len > 0 && (size_t)len < n; i++)
		len += snprintf(buf + len, n - (size_t)len, " '%s'", py->argv[i]);
	if (len > 0 && (size_t)len < n)
		snprintf(buf + len, n - (size_t)len, " '%s' %s", path, secs);
}

/* The pane's text, in out; polls until it holds `want` (NULL: once), at
 * most timeout_s. Whether it did. */
static bool pane_has(const char *want, char *out, size_t n, double timeout_s)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "tmux capture-pane -p -t %s 2>&1", g_session);
	double end = ts_now_s() + timeout_s;
	do {
		ts_shell(cmd, out, n);
		if (!want || strstr(out, want))
			return true;
		ts_sleep_ms(200);
	} while (ts_now_s() < end);
	return false;
}

static void need_tmux(void)
{
	char out[256];
	if (ts_shell("command -v tmux", out, sizeof out) != 0)
		cr_skip_test("tmux is not installed");
}

/* Start top in a detached tmux session, through a script that records
 * the terminal's modes before and after, top's exit status and top's pid
 * (top runs in the foreground of the pane's terminal, as typed). */
static void start_live(const char *spec, const char *dir)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	need_tmux();
	char top[3 * PATH_MAX], script[PATH_MAX + 16], cmd[2 * PATH_MAX], out[1024];
	top_command(&py, "", "120", top, sizeof top);
	snprintf(script, sizeof script, "%s/run.sh", dir);
	FILE *f = fopen(script, "w");
	cr_assert_not_null(f);
	fprintf(f, "cd '%s' || exit 1\nstty -g > before\n"
		   "sh -c 'echo $$ > pid; exec \"$@\"' sh %s\n"
		   "echo $? > status\nstty -g > after\nsleep 120\n",
		dir, top);
	cr_assert_eq(fclose(f), 0);
	snprintf(g_session, sizeof g_session, "pyprobe-top-%d", (int)getpid());
	snprintf(cmd, sizeof cmd, "tmux new-session -d -s %s -x 160 -y 40 \"sh '%s'\" 2>&1",
		 g_session, script);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "tmux: %s", out);
}

static void read_small(const char *dir, const char *name, char *buf, size_t n, double timeout_s)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	double end = ts_now_s() + timeout_s;
	buf[0] = '\0';
	while (ts_read_file(path, buf, n) <= 0 && ts_now_s() < end)
		ts_sleep_ms(200);
}

static void live(const char *spec, bool by_signal)
{
	char dir[PATH_MAX], pane[1 << 15], status[64], before[1024], after[1024];
	char name[64], rm[3 * PATH_MAX + 64], out[256];
	snprintf(name, sizeof name, "live-%s%s", spec, by_signal ? "-term" : "");
	ts_scratch_path("top", dir, sizeof dir, name);
	ts_mkdir_p(dir);
	snprintf(rm, sizeof rm, "rm -f '%s'/status '%s'/after '%s'/pid", dir, dir, dir);
	ts_shell(rm, out, sizeof out);
	start_live(spec, dir);

	cr_assert(pane_has("top_hot_leaf", pane, sizeof pane, 60), "%s: no hot function:\n%s",
		  spec, pane);
	cr_assert(strstr(pane, "sorted by %Own"), "%s:\n%s", spec, pane);
	cr_assert(strstr(pane, "spinner"), "%s: no spinner thread:\n%s", spec, pane);
	char keys[128];
	snprintf(keys, sizeof keys, "tmux send-keys -t %s 2", g_session);
	ts_shell(keys, out, sizeof out);
	cr_assert(pane_has("sorted by %Total", pane, sizeof pane, 20), "%s: key 2:\n%s", spec,
		  pane);
	if (by_signal) {
		char pid[32];
		read_small(dir, "pid", pid, sizeof pid, 5);
		cr_assert_gt(atoi(pid), 0, "no pid");
		cr_assert_eq(kill(atoi(pid), SIGTERM), 0);
	} else {
		snprintf(keys, sizeof keys, "tmux send-keys -t %s q", g_session);
		ts_shell(keys, out, sizeof out);
	}
	read_small(dir, "status", status, sizeof status, 30);
	cr_assert_str_eq(status, "0\n", "%s: top's exit status", spec);
	read_small(dir, "before", before, sizeof before, 5);
	read_small(dir, "after", after, sizeof after, 10);
	cr_assert(before[0], "no stty before");
	cr_assert_str_eq(after, before, "%s: the terminal's modes changed", spec);
	/* back on the main screen: the table is gone with the alternate one */
	pane_has(NULL, pane, sizeof pane, 0);
	cr_assert_null(strstr(pane, "sorted by"), "%s: still the table:\n%s", spec, pane);
}

Test(top, live_3_12) { live("3.12.1", false); }
Test(top, live_sid_3_14) { live("sid-3.14", false); }
Test(top, live_sigterm_3_12) { live("3.12.1", true); }

/* Not a terminal: with -d one plain table at the end, no escapes. */
static void plain(const char *spec)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	char path[PATH_MAX];
	ts_python_source(&py, "fixtures/top/spin.py", path, sizeof path);
	char *args[24] = {"top", "-d", "2", "-r", "200", "--"};
	size_t n = 6;
	ts_python_argv(&py, args, &n, 20);
	args[n++] = path;
	args[n++] = "30";
	args[n] = NULL;
	struct ts_run r;
	ts_run_pyprobe("top", &r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "%s: %s", spec, r.err);
	cr_assert(strstr(r.out, "top_hot_leaf ("), "%s: no hot function:\n%s", spec, r.out);
	cr_assert(strstr(r.out, "%Own  %Total  OwnTime  TotalTime"), "%s", r.out);
	cr_assert_null(strchr(r.out, '\033'), "%s: terminal escapes in plain text", spec);
	const char *first = strstr(r.out, "pyprobe top: ");
	cr_assert(first && !strstr(first + 1, "pyprobe top: "), "%s: not one table:\n%s", spec,
		  r.out);
	/* the hot function leads by own time */
	const char *hdr = strstr(r.out, "Function (file)\n");
	cr_assert(hdr && strstr(hdr, "top_hot_leaf") < strchr(hdr + 16, '\n') + 200,
		  "%s:\n%s", spec, r.out);
	cr_assert(strstr(r.err, "pyprobe: ended "), "%s: the command was not ended: %s", spec,
		  r.err);
}

Test(top, plain_3_12) { plain("3.12.1"); }
Test(top, plain_sid_3_14) { plain("sid-3.14"); }

Test(top, usage_errors)
{
	struct ts_run r;
	char *a1[] = {"top", NULL};
	ts_run_pyprobe("top", &r, a1);
	cr_assert_eq(ts_exit_code(&r), 2);
	cr_assert(!strncmp(r.err, "pyprobe: what to watch? give --pid PID or -- CMD", 48), "%s",
		  r.err);
	char *a2[] = {"top", "--pid", "999999999", "-d", "1", NULL};
	ts_run_pyprobe("top", &r, a2);
	cr_assert_eq(ts_exit_code(&r), 3, "%s", r.err);
	cr_assert(!strncmp(r.err, "pyprobe: ", 9) && !strchr(r.err, '\033'), "%s", r.err);
	char *a3[] = {"top", "--sort", "fast", "--pid", "1", NULL};
	ts_run_pyprobe("top", &r, a3);
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
}
