/* `pyprobe record` as users of py-spy and of the viewers its outputs open
 * in meet it (issue 16): names pprof shows as written, no file left by a
 * record that fails, times at the rate achieved, a started command ended
 * with the duration, speedscope opening on the busiest thread. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
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

TestSuite(habits, .fini = teardown, .timeout = 240);

/* $PYPROBE_BUILD_ROOT/tests/habits/NAME (support.h). */
static void path_in(char *out, size_t n, const char *name)
{
	ts_scratch_path("habits", out, n, name);
}

/* pyprobe ARGS... with stdout/stderr captured; waits at most 120 s. */
static void run(struct ts_run *r, char *const args[])
{
	ts_run_pyprobe("habits", r, args);
}

/* Write a Python script under the scratch directory. */
static void write_script(char *path, size_t n, const char *name, const char *text)
{
	path_in(path, n, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* A module-level loop calling a module-level lambda: both frames'
 * qualified names are their bare names, <module> and <lambda>. */
static const char lambda_script[] =
	"import sys, time\n"
	"spin = lambda n: sum(range(n))\n"
	"t = time.time()\n"
	"while time.time() - t < float(sys.argv[1]):\n"
	"    spin(2000)\n";

/* ---- 1. pprof: names as written, through pprof's default symbolisation -- */

Test(habits, pprof_names_survive_pprof_symbolisation)
{
	char pybuf[512], script[PATH_MAX], out[PATH_MAX], cmd[3 * PATH_MAX], text[1 << 16];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "lambda.py", lambda_script);
	path_in(out, sizeof out, "lambda.pb.gz");
	struct ts_run r;
	char *args[] = {"record", "--no-progress", "-o", out, "--", (char *)python, script,
			"1", NULL};
	run(&r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	/* The fields: pprof (internal/symbolizer) takes a Function whose
	 * system_name equals its name for one still to clean, and strips
	 * <...> and [...] from one that looks like C++. */
	snprintf(cmd, sizeof cmd, "python3 '%s/tests/pprof_decode.py' '%s' 2>&1",
		 ts_source_root(), out);
	cr_assert_eq(ts_shell(cmd, text, sizeof text), 0, "decode failed:\n%s", text);
	cr_assert(strstr(text, "\"name\": \"<module>\", \"system_name\": \"\"") &&
		  strstr(text, "\"name\": \"<lambda>\", \"system_name\": \"\""),
		  "<module> and <lambda> must have a system_name that is not their name:\n%.4000s",
		  text);
	/* And pprof itself, when it is here. */
	if (ts_shell("command -v go", text, sizeof text) != 0)
		cr_skip_test("go is not installed: `go tool pprof -traces` not run (the "
			     "fields were checked with tests/pprof_decode.py)");
	snprintf(cmd, sizeof cmd, "go tool pprof -traces '%s' 2>/dev/null", out);
	cr_assert_eq(ts_shell(cmd, text, sizeof text), 0, "go tool pprof failed:\n%s", text);
	cr_assert(strstr(text, "<module>") && strstr(text, "<lambda>") &&
		  !strstr(text, "<unknown>"), "go tool pprof -traces:\n%.4000s", text);
}

/* ---- 2. a record that fails leaves no file -------------------------------- */

/* Whether the scratch directory holds NAME, or a temporary `.NAME.XXXXXX`
 * of it (output.h); the first such entry in found. */
static bool leaves(const char *name, char *found, size_t n)
{
	char dir[PATH_MAX];
	path_in(dir, sizeof dir, ".");
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	size_t len = strlen(name);
	bool any = false;
	for (struct dirent *de; !any && (de = readdir(d));) {
		const char *e = de->d_name;
		if (!strcmp(e, name) || (e[0] == '.' && !strncmp(e + 1, name, len) &&
					 e[len + 1] == '.')) {
			snprintf(found, n, "%s", e);
			any = true;
		}
	}
	closedir(d);
	return any;
}

/* pyprobe record ARGS... -o NAME (in the scratch directory), which must
 * fail with `code` and leave nothing under NAME. */
static void fails_leaving_nothing(int code, const char *name, const char *const *args)
{
	char out[PATH_MAX], found[256];
	path_in(out, sizeof out, name);
	unlink(out);
	char *argv[24] = {"record", "--no-progress", "-o", out};
	size_t n = 4;
	for (size_t i = 0; args[i] && n < 23; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	struct ts_run r;
	run(&r, argv);
	cr_assert_eq(ts_exit_code(&r), code, "%s: exit %d, want %d:\n%s", name, ts_exit_code(&r), code,
		     r.err);
	cr_assert(!leaves(name, found, sizeof found), "%s: a failed record left %s:\n%s", name,
		  found, r.err);
}

Test(habits, failed_record_leaves_no_file)
{
	/* 3: no such process; a command that ends before it is Python */
	const char *gone[] = {"--pid", "999999999", NULL};
	fails_leaving_nothing(3, "gone.svg", gone);
	fails_leaving_nothing(3, "gone.pyprobe", gone); /* a recording takes its name early */
	const char *quick[] = {"--", "true", NULL};
	fails_leaving_nothing(3, "quick.speedscope.json", quick);
	const char *noexec[] = {"--", "/nonexistent/prog", NULL};
	fails_leaving_nothing(3, "noexec.pb.gz", noexec);
	/* 5: not Python */
	char *sleeper[] = {"sleep", "100", NULL};
	g_target = ts_spawn(sleeper, NULL, NULL, 1);
	ts_sleep_ms(200);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	const char *notpy[] = {"--pid", pid, NULL};
	fails_leaving_nothing(5, "notpy.svg", notpy);
	fails_leaving_nothing(5, "notpy.pyprobe", notpy);
	teardown();
	/* A dangling symbolic link: its target would be created in place -
	 * and must go again. */
	char link[PATH_MAX], found[256];
	path_in(link, sizeof link, "dangling.svg");
	unlink(link);
	char dest[PATH_MAX];
	path_in(dest, sizeof dest, "dangling-target.svg");
	unlink(dest);
	cr_assert_eq(symlink("dangling-target.svg", link), 0);
	struct ts_run r;
	char *args[] = {"record", "--pid", "999999999", "-o", link, NULL};
	run(&r, args);
	cr_assert_eq(ts_exit_code(&r), 3, "%s", r.err);
	cr_assert(!leaves("dangling-target.svg", found, sizeof found),
		  "a failed record through a dangling link left %s", found);
}

/* 4: no permission - pausing (--blocking) a process another tracer holds. */
Test(habits, failed_record_without_permission_leaves_no_file)
{
	char pybuf[512];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	char *target[] = {(char *)python, "-c", "import time; time.sleep(100)", NULL};
	g_target = ts_spawn(target, NULL, NULL, 1);
	ts_sleep_ms(300);
	if (ptrace(PTRACE_SEIZE, g_target, NULL, NULL) != 0)
		cr_skip_test("cannot trace the target: %s", strerror(errno));
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	const char *traced[] = {"--blocking", "--pid", pid, NULL};
	fails_leaving_nothing(4, "traced.svg", traced);
	fails_leaving_nothing(4, "traced.pyprobe", traced);
}

/* ---- 3. times at the rate achieved --------------------------------------- */

/* A recording that misses most of its ticks (20 kHz, pausing the target
 * for each sample): speedscope's weights, pprof's period and the flame
 * graph's "at N Hz" must rest on the rate the summary line says was
 * achieved, not on the 20 kHz asked for. */
Test(habits, times_use_the_rate_achieved)
{
	char pybuf[512];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	char *target[] = {(char *)python, "-c", "while True:\n    sum(range(10000))\n", NULL};
	g_target = ts_spawn(target, NULL, NULL, 1);
	ts_sleep_ms(300);
	char pid[32], rec[PATH_MAX], ss[PATH_MAX], pb[PATH_MAX], svg[PATH_MAX];
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	path_in(rec, sizeof rec, "rate.pyprobe");
	path_in(ss, sizeof ss, "rate.speedscope.json");
	path_in(pb, sizeof pb, "rate.pb.gz");
	path_in(svg, sizeof svg, "rate.svg");
	struct ts_run r;
	char *args[] = {"record", "--pid", pid, "--blocking", "-r", "20000", "-d", "1.5",
			"--no-progress", "-o", rec, NULL};
	run(&r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	double hz = 0, missed_pct = 0;
	const char *m = strstr(r.err, " missed ticks (");
	cr_assert(sscanf(r.err, "pyprobe: %*u samples in %*f s (%lf Hz)", &hz) == 1 && m &&
		  sscanf(m, " missed ticks (%lf%%)", &missed_pct) == 1, "%s", r.err);
	/* Pausing the target costs far more than 50 µs a sample: if this
	 * machine kept up, the rates would agree and the test prove nothing. */
	cr_assert_gt(missed_pct, 20.0, "20 kHz with --blocking missed only %.1f%% of ticks:\n%s",
		     missed_pct, r.err);
	static char text[1 << 20];
	char cmd[3 * PATH_MAX];

	char *a1[] = {"render", rec, "-o", ss, NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	ts_read_file(ss, text, sizeof text);
	const char *w = strstr(text, "\"weights\": [");
	double weight = 0;
	cr_assert(w && sscanf(w + 12, " %lf", &weight) == 1 && weight > 0, "no weights");
	cr_assert(1 / weight > 0.9 * hz && 1 / weight < 1.1 * hz,
		  "speedscope weighs a sample 1/%.0f s; the rate achieved was %.0f Hz", 1 / weight,
		  hz);

	char *a2[] = {"render", rec, "-o", pb, NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	snprintf(cmd, sizeof cmd, "python3 '%s/tests/pprof_decode.py' '%s' 2>&1",
		 ts_source_root(), pb);
	cr_assert_eq(ts_shell(cmd, text, sizeof text), 0, "decode failed:\n%.2000s", text);
	const char *per = strstr(text, "\"period\": ");
	double period = 0;
	cr_assert(per && sscanf(per + 10, "%lf", &period) == 1 && period > 0, "no period");
	cr_assert(1e9 / period > 0.9 * hz && 1e9 / period < 1.1 * hz,
		  "pprof's period is 1/%.0f s; the rate achieved was %.0f Hz", 1e9 / period, hz);

	char *a3[] = {"render", rec, "-o", svg, NULL};
	run(&r, a3);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	ts_read_file(svg, text, sizeof text);
	const char *at = strstr(text, " samples at ");
	double shown = 0;
	cr_assert(at && sscanf(at, " samples at %lf Hz", &shown) == 1, "no rate in the subtitle");
	cr_assert(shown > 0.9 * hz && shown < 1.1 * hz,
		  "the subtitle says %.1f Hz; the rate achieved was %.0f Hz", shown, hz);

	/* report's header line: "1.50 s at N Hz, M thread samples" */
	char *a4[] = {"report", rec, NULL};
	run(&r, a4);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	const char *line2 = strchr(r.out, '\n');
	shown = 0;
	cr_assert(line2 && sscanf(line2 + 1, "%*f s at %lf Hz", &shown) == 1, "%.500s", r.out);
	cr_assert(shown > 0.9 * hz && shown < 1.1 * hz,
		  "report says %.1f Hz; the rate achieved was %.0f Hz", shown, hz);
}

/* ---- 4. -d ends the command pyprobe started ------------------------------ */

/* Busy for up to 60 s; with "ignore", deaf to SIGINT and SIGTERM; on a
 * KeyboardInterrupt, writes "interrupted" to argv[2]. */
static const char stubborn_script[] =
	"import signal, sys, time\n"
	"if sys.argv[1] == 'ignore':\n"
	"    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
	"    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
	"try:\n"
	"    t = time.time()\n"
	"    while time.time() - t < 60:\n"
	"        sum(range(1000))\n"
	"except KeyboardInterrupt:\n"
	"    open(sys.argv[2], 'w').write('interrupted')\n";

/* record -d 1 -- python SCRIPT MODE MARKER: returns within seconds, not
 * when the command would end (60 s), having said how it ended it. */
static void duration_ends(const char *mode, const char *how, const char *marker_text)
{
	char pybuf[512], script[PATH_MAX], marker[PATH_MAX], out[PATH_MAX], text[256] = "";
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "stubborn.py", stubborn_script);
	path_in(marker, sizeof marker, "stubborn.marker");
	path_in(out, sizeof out, "stubborn.txt");
	unlink(marker);
	double t0 = ts_now_s();
	struct ts_run r;
	char *args[] = {"record", "--no-progress", "-d", "1", "-o", out, "--", (char *)python,
			script, (char *)mode, marker, NULL};
	run(&r, args);
	double took = ts_now_s() - t0;
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert_lt(took, 40.0, "record -d 1 waited %.0f s for the command:\n%s", took, r.err);
	char want[128];
	snprintf(want, sizeof want, "pyprobe: the duration is over: ended %s (%s)\n", python, how);
	cr_assert(strstr(r.err, want), "want '%s' in:\n%s", want, r.err);
	ts_read_file(marker, text, sizeof text);
	cr_assert_str_eq(text, marker_text, "the command's KeyboardInterrupt handler");
}

Test(habits, duration_interrupts_the_command)
{
	duration_ends("x", "SIGINT", "interrupted");
}

Test(habits, duration_kills_a_command_deaf_to_signals)
{
	duration_ends("ignore", "SIGINT, then SIGTERM, then SIGKILL", "");
}

/* --pid: the process is not pyprobe's to end. */
Test(habits, duration_leaves_a_pid_running)
{
	char pybuf[512];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	char *target[] = {(char *)python, "-c", "while True:\n    sum(range(10000))\n", NULL};
	g_target = ts_spawn(target, NULL, NULL, 1);
	ts_sleep_ms(300);
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)g_target);
	struct ts_run r;
	char *args[] = {"record", "--pid", pid, "-d", "1", "-o", "/dev/null", NULL};
	run(&r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(!strstr(r.err, "the duration is over"), "%s", r.err);
	ts_sleep_ms(300);
	int st;
	cr_assert_eq(waitpid(g_target, &st, WNOHANG), 0, "the target ended");
}

/* ---- 6. speedscope opens on the busiest thread ---------------------------- */

/* The main thread works a little, then waits (idle: not drawn) for a
 * worker that works three times as long: speedscope must open on the
 * worker's profile, not on the first one. */
static const char busiest_script[] =
	"import threading, time\n"
	"def spin(secs):\n"
	"    t = time.time()\n"
	"    while time.time() - t < secs:\n"
	"        sum(range(1000))\n"
	"spin(0.4)\n"
	"w = threading.Thread(target=spin, args=(1.2,))\n"
	"w.start()\n"
	"w.join()\n";

Test(habits, speedscope_opens_on_the_busiest_thread)
{
	char pybuf[512], script[PATH_MAX], out[PATH_MAX], cmd[3 * PATH_MAX], text[4096];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "busiest.py", busiest_script);
	path_in(out, sizeof out, "busiest.speedscope.json");
	struct ts_run r;
	char *args[] = {"record", "--no-progress", "-o", out, "--", (char *)python, script, NULL};
	run(&r, args);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	/* "ACTIVE SAMPLES..." of each profile, in order */
	snprintf(cmd, sizeof cmd,
		 "python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); "
		 "print(d[\"activeProfileIndex\"], *[len(p[\"samples\"]) for p in d[\"profiles\"]])' "
		 "'%s' 2>&1", out);
	cr_assert_eq(ts_shell(cmd, text, sizeof text), 0, "%s", text);
	unsigned active = 0, counts[8] = {0};
	int n = sscanf(text, "%u %u %u %u %u", &active, &counts[0], &counts[1], &counts[2],
		       &counts[3]);
	cr_assert(n >= 3, "want two profiles at least: %s", text);
	unsigned best = 0;
	for (int i = 1; i < n - 1; i++)
		if (counts[i] > counts[best])
			best = (unsigned)i;
	cr_assert(counts[best] > counts[0], "the worker must have more samples: %s", text);
	cr_assert_eq(active, best, "activeProfileIndex %u, the busiest is %u: %s", active, best,
		     text);
}

/* ---- habits: py-spy's command lines ------------------------------------- */

/* -f raw is py-spy's collapsed text: refused, pointing to collapsed and to
 * pyprobe (the binary recording), before anything is written. */
Test(habits, format_raw_is_refused_with_advice)
{
	char out[PATH_MAX], found[256];
	path_in(out, sizeof out, "raw.txt");
	unlink(out);
	struct ts_run r;
	char *a1[] = {"record", "-f", "raw", "-o", out, "--", "true", NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(!strncmp(r.err, "pyprobe: -f raw is py-spy's name for collapsed stacks: give "
			   "-f collapsed here", 77) && strstr(r.err, "-f pyprobe") &&
		  strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%s", r.err);
	cr_assert(!leaves("raw.txt", found, sizeof found), "-f raw wrote %s", found);
	char *a2[] = {"render", "x.pyprobe", "-f", "raw", NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(strstr(r.err, "give -f collapsed") &&
		  strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%s", r.err);
}

/* -f pyprobe is the binary recording, whatever the file is called; render
 * reads it. */
Test(habits, format_pyprobe_is_the_recording)
{
	char pybuf[512], script[PATH_MAX], out[PATH_MAX];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "lambda.py", lambda_script);
	path_in(out, sizeof out, "named.bin");
	struct ts_run r;
	char *a1[] = {"record", "--no-progress", "-f", "pyprobe", "-o", out, "--", (char *)python,
		      script, "0.5", NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	char *a2[] = {"render", out, "-f", "collapsed", "-o", "-", NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "<lambda> ("), "%.2000s", r.out);
}

/* --nonblocking (py-spy's flag) is the default, accepted; with --blocking
 * it is a contradiction. */
Test(habits, nonblocking_is_accepted)
{
	char pybuf[512], script[PATH_MAX];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "lambda.py", lambda_script);
	struct ts_run r;
	char *a1[] = {"record", "--nonblocking", "--no-progress", "-f", "collapsed", "-o", "-",
		      "--", (char *)python, script, "0.5", NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "<lambda> ("), "%.2000s", r.out);
	char *a2[] = {"record", "--blocking", "--nonblocking", "--pid", "1", NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(strstr(r.err, "give --blocking or --nonblocking, not both"), "%s", r.err);
}

/* -s -t on record are --subprocesses --threads (their root frames); -t, -i
 * and -g on render draw what --threads, --idle and --gil draw, and -i
 * draws more than the default (the main thread waiting in join). */
Test(habits, short_flags_are_the_long_ones)
{
	char pybuf[512], script[PATH_MAX], rec[PATH_MAX];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "busiest.py", busiest_script);
	path_in(rec, sizeof rec, "short.pyprobe");
	struct ts_run r;
	char *a1[] = {"record", "-s", "-t", "--no-progress", "-f", "collapsed", "-o", "-", "--",
		      (char *)python, script, NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(!strncmp(r.out, "process ", 8) && strstr(r.out, ";thread "), "%.2000s", r.out);
	char *a2[] = {"record", "--no-progress", "-o", rec, "--", (char *)python, script, NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	static char plain[65536], longs[65536];
	char *a0[] = {"render", rec, "-f", "collapsed", "-o", "-", NULL};
	run(&r, a0);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	memcpy(plain, r.out, sizeof plain);
	static const char *const pairs[][2] = {{"-t", "--threads"}, {"-i", "--idle"},
					       {"-g", "--gil"}};
	for (size_t i = 0; i < 3; i++) {
		char *al[] = {"render", rec, (char *)pairs[i][1], "-f", "collapsed", "-o", "-",
			      NULL};
		run(&r, al);
		cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
		memcpy(longs, r.out, sizeof longs);
		char *as[] = {"render", rec, (char *)pairs[i][0], "-f", "collapsed", "-o", "-",
			      NULL};
		run(&r, as);
		cr_assert_eq(ts_exit_code(&r), 0, "%s: %s", pairs[i][0], r.err);
		cr_assert_str_eq(r.out, longs, "render %s differs from %s", pairs[i][0],
				 pairs[i][1]);
		if (strcmp(pairs[i][0], "-g") != 0) /* -g drops nothing of busy threads */
			cr_assert_str_neq(r.out, plain, "render %s draws what the default draws",
					  pairs[i][0]);
	}
}

/* A writable file in a directory the user cannot create files in is
 * written in place: a record that fails leaves it as it was (not empty),
 * and one that succeeds leaves exactly the new output (not the old one's
 * tail). Run as nobody: root may create files anywhere. */
Test(habits, in_place_output_is_kept_until_written)
{
	if (geteuid() != 0)
		cr_skip_test("needs root, to run pyprobe as nobody in a directory of root's");
	char out[1 << 16];
	if (ts_shell("command -v setpriv", out, sizeof out) != 0)
		cr_skip_test("setpriv (util-linux) is not installed");
	char dir[PATH_MAX], file[PATH_MAX], rec[PATH_MAX], pybuf[512], script[PATH_MAX];
	path_in(dir, sizeof dir, "locked");
	ts_mkdir_p(dir);
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(file, sizeof file, "%.3000s/keep.txt", dir);
	static char old[100000];
	memset(old, 'x', sizeof old - 1);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs(old, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(file, 0666), 0);
	static const char nobody[] = "setpriv --reuid=65534 --regid=65534 --clear-groups";
	char cmd[4 * PATH_MAX];
	/* the build tree must be readable by nobody for the rest to mean anything */
	snprintf(cmd, sizeof cmd, "%s '%s' --version 2>&1", nobody, ts_pyprobe());
	if (ts_shell(cmd, out, sizeof out) != 0)
		cr_skip_test("nobody cannot run %s: %s", ts_pyprobe(), out);

	snprintf(cmd, sizeof cmd, "%s '%s' record --pid 999999999 -o '%s' 2>&1", nobody,
		 ts_pyprobe(), file);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 3, "%s", out);
	static char now[sizeof old + 16];
	cr_assert_eq(ts_read_file(file, now, sizeof now), (long)strlen(old));
	cr_assert_str_eq(now, old, "a failed record changed the file it could not replace");

	/* a render that succeeds: the new output, and nothing of the old */
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "lambda.py", lambda_script);
	path_in(rec, sizeof rec, "locked.pyprobe");
	struct ts_run r;
	char *a1[] = {"record", "--no-progress", "-o", rec, "--", (char *)python, script, "0.3",
		      NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert_eq(chmod(rec, 0644), 0);
	char *a2[] = {"render", rec, "-f", "collapsed", "-o", "-", NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strlen(r.out) > 0 && strlen(r.out) < strlen(old), "%zu bytes", strlen(r.out));
	snprintf(cmd, sizeof cmd, "%s '%s' render '%s' -f collapsed -o '%s' 2>&1", nobody,
		 ts_pyprobe(), rec, file);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s", out);
	ts_read_file(file, now, sizeof now);
	cr_assert_str_eq(now, r.out, "the file is not exactly the new output");
}

/* ---- -F/--function and short file names in flame graphs ------------------ */

static const char thread_script[] =
	"import sys, threading, time\n"
	"spin = lambda n: sum(range(n))\n"
	"def loop(secs):\n"
	"    t = time.time()\n"
	"    while time.time() - t < secs:\n"
	"        spin(2000)\n"
	"th = threading.Thread(target=loop, args=(float(sys.argv[1]),))\n"
	"th.start(); th.join()\n";

Test(habits, function_and_short_filenames)
{
	char pybuf[512], script[PATH_MAX], rec[PATH_MAX];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	write_script(script, sizeof script, "thread.py", thread_script);
	path_in(rec, sizeof rec, "function.pyprobe");
	struct ts_run r;
	char *a1[] = {"record", "--no-progress", "-o", rec, "--", (char *)python, script, "1",
		      NULL};
	run(&r, a1);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);

	/* -F: a function and its file, no line, in record and render alike */
	char *a2[] = {"render", rec, "-F", "-f", "collapsed", "-o", "-", NULL};
	run(&r, a2);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	char want[2 * PATH_MAX + 32];
	snprintf(want, sizeof want, ";loop (%s);<lambda> (%s) ", script, script);
	cr_assert(strstr(r.out, want), "no '%s' in\n%s", want, r.out);
	cr_assert_null(strstr(r.out, ".py:"), "a line with -F:\n%s", r.out);
	char *a3[] = {"record", "--no-progress", "--function", "-f", "collapsed", "-o", "-", "--",
		      (char *)python, script, "0.5", NULL};
	run(&r, a3);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, want), "no '%s' in\n%s", want, r.out);

	/* flame graph labels: the standard library's files short by default,
	 * as recorded with --full-filenames; other formats keep full paths */
	char *a4[] = {"render", rec, "-o", "-", NULL};
	run(&r, a4);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, ">Thread.run (threading.py:") ||
			  strstr(r.out, ">run (threading.py:"), "no short threading.py label");
	cr_assert_null(strstr(r.out, "/threading.py:"), "a full path in a label");
	char *a5[] = {"render", rec, "--full-filenames", "-o", "-", NULL};
	run(&r, a5);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "/threading.py:"), "no full path with --full-filenames");
	char *a6[] = {"render", rec, "-f", "collapsed", "-o", "-", NULL};
	run(&r, a6);
	cr_assert_eq(ts_exit_code(&r), 0, "%s", r.err);
	cr_assert(strstr(r.out, "/threading.py:"), "collapsed stacks lost the full path");
}
