/* `pyprobe record` is unbiased on call-heavy code, on every interpreter.
 *
 * fixtures/record/callheavy.py spends half its CPU time in code whose
 * stack changes all the time (recursion, generators, mutual recursion,
 * tiny methods and objects, a 400-deep recursion) and half in a flat loop,
 * in 10 ms slices it times itself. A non-blocking sampler that drops or
 * mangles the samples whose stack moved while it read them loses them in
 * the call-heavy half: its share falls below the target's own.
 * tests/check_callheavy.py judges each profile:
 * - the heavy share within 8 points of the target's own;
 * - at most 2% of thread samples lost (dropped, not reaching <module>, or
 *   in the loop but in neither slice);
 * - no stack starting in the middle (its root an inner frame) and none
 *   with a marker at its root.
 * And with --blocking (threads paused for each read), the generator mode
 * to the same checks - mid-stack starts are not a torn read - and one
 * more: at most 10% of the samples neither drawn nor dropped. The fixture
 * never blocks; a paused thread that last made a (non-blocking) system
 * call is still not idle. (Samples before its first Python frame count
 * there too: up to ~4% at start-up on a loaded machine.)
 *
 * The bias shows when pyprobe reads while the target runs on another CPU;
 * on a machine so loaded that they seldom run at once, a biased walker can
 * pass the share check (not the mid-stack one). */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

TestSuite(record_callheavy, .timeout = 180);

/* The figure is +-3 points (bench/record_accuracy.py reports the
 * shares). ~800 samples give a 50% share a standard error near 1.8 points,
 * but on a loaded machine (load average 10 on 2 CPUs) ticks are missed in
 * bursts and the target is descheduled for long stretches, so samples come
 * in clumps: one run in 35 was 10.9 points off there with nothing lost.
 * The test allows 8; walkers that lose or cut moving stacks were off by
 * 10-40 points on a quiet machine (bench/record_accuracy.py), and the 2%
 * bound on lost samples is the sharper check. */
#define TOLERANCE "8"

/* One recording and its check; true when the profile passed (buf: the
 * checker's verdict, or why the recording failed). */
static bool attempt(const char *python, const char *label, const char *mode, const char *flag,
		    int round, char *buf, size_t len)
{
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	char dir[PATH_MAX], out[PATH_MAX + 64], err[PATH_MAX + 64], truth[PATH_MAX + 64],
		res[PATH_MAX + 64], fixture[PATH_MAX], checker[PATH_MAX];
	snprintf(dir, sizeof dir, "%.3000s/tests/record_callheavy", b && *b ? b : "/tmp/pyprobe-tests");
	ts_mkdir_p(dir);
	const char *tag = flag ? "-blocking" : "";
	snprintf(out, sizeof out, "%s/%s%s-%s-%d.txt", dir, mode, tag, label, round);
	snprintf(err, sizeof err, "%s/%s%s-%s-%d.err", dir, mode, tag, label, round);
	snprintf(truth, sizeof truth, "%s/%s%s-%s-%d.truth", dir, mode, tag, label, round);
	snprintf(res, sizeof res, "%s/%s%s-%s-%d.check", dir, mode, tag, label, round);
	unlink(truth);
	snprintf(fixture, sizeof fixture, "%.3000s/fixtures/record/callheavy.py", ts_source_root());
	snprintf(checker, sizeof checker, "%.3000s/tests/check_callheavy.py", ts_source_root());

	char *argv[20] = {(char *)ts_pyprobe(), "record", "-r", "200", "-f", "collapsed",
			  "--no-progress", "-o", out};
	size_t n = 9;
	if (flag)
		argv[n++] = (char *)flag;
	argv[n++] = "--";
	argv[n++] = (char *)python;
	argv[n++] = fixture;
	argv[n++] = (char *)mode;
	/* 4 s: ~800 samples; the --blocking runs check mid-stack starts and
	 * losses, not a share near its bound, and take 3 to keep the file
	 * under ~3.5 minutes */
	argv[n++] = flag ? "3" : "4";
	argv[n++] = truth;
	argv[n] = NULL;
	int st = ts_wait_bounded(ts_spawn(argv, NULL, err, 0), 120);
	ts_read_file(err, buf, len);
	cr_assert(st != -1, "%s %s: record timed out:\n%s", label, mode, buf);
	cr_assert(!strstr(buf, "Sanitizer") && !strstr(buf, "runtime error:"),
		  "sanitizer report:\n%s", buf);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %s: record failed:\n%s", label,
		  mode, buf);
	cr_assert(access(truth, R_OK) == 0, "%s %s: the fixture wrote no truth file:\n%s", label,
		  mode, buf);

	char *check[] = {"python3", checker, out, err, truth, "--tolerance", TOLERANCE,
			 "--max-lost", "2", flag ? "--max-hidden" : NULL, "10", NULL};
	st = ts_wait_bounded(ts_spawn(check, res, res, 0), 60);
	ts_read_file(res, buf, len);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A profile that fails its check is recorded again, and the test fails
 * when both do. A biased or lossy walker fails every run (it was 10-40
 * points off, run after run); a machine at load 9 on 2 CPUs, where
 * pyprobe, the target and the rest are time-sliced in clumps, put one run
 * in ~100 17.5 points off with nothing lost, or 2.02% lost on a 400-deep
 * stack read slower than its slice's tail - and the next run passed. */
static void callheavy(const char *version, const char *label, const char *mode,
		      const char *flag)
{
	char pybuf[512];
	const char *python = strcmp(version, "debian")
		? ts_pyenv_python(version, pybuf, sizeof pybuf) : "/usr/bin/python3.11";
	if (access(python, X_OK) != 0)
		cr_skip_test("python %s not installed at %s", version, python);
	static char first[8192], second[8192];
	bool ok = attempt(python, label, mode, flag, 1, first, sizeof first);
	if (!ok) {
		/* an info line: Criterion fails a run that logged a warning */
		cr_log_info("%s %s%s: recording again after a failed check:\n%s", label, mode,
			    flag ? " --blocking" : "", first);
		ok = attempt(python, label, mode, flag, 2, second, sizeof second);
	}
	cr_assert(ok, "%s %s%s: the profile is biased or lost samples, twice:\n%s\n%s", label,
		  mode, flag ? " --blocking" : "", first, second);
	cr_log_info("%s %s%s:\n%s", label, mode, flag ? " --blocking" : "", second[0] ? second : first);
}

/* "3.x.y": pyenv's; "debian": Debian's static /usr/bin/python3.11. */
#define VERSION(tag, version)                                                               \
	Test(record_callheavy, recursion_##tag) { callheavy(version, #tag, "recursion", NULL); } \
	Test(record_callheavy, generators_##tag) { callheavy(version, #tag, "generators", NULL); } \
	Test(record_callheavy, mutual_##tag) { callheavy(version, #tag, "mutual", NULL); }       \
	Test(record_callheavy, objects_##tag) { callheavy(version, #tag, "objects", NULL); }     \
	Test(record_callheavy, deep_##tag) { callheavy(version, #tag, "deep", NULL); }           \
	Test(record_callheavy, generators_blocking_##tag)                                         \
	{                                                                                         \
		callheavy(version, #tag, "generators", "--blocking");                             \
	}

VERSION(3_8, "3.8.18")
VERSION(3_9, "3.9.18")
VERSION(3_10, "3.10.13")
VERSION(3_11, "3.11.7")
VERSION(3_12, "3.12.1")
VERSION(3_13, "3.13.0")
VERSION(debian_3_11, "debian")
