/* Reading a target that calls and returns as fast as it can
 * (fixtures/dump/churn.py): frames die and their memory is reused while we
 * read them. Every stack pyprobe shows must be one the program can have
 * (tests/check_churn.py holds them to the program's grammar); torn walks
 * must be dropped, never drawn.
 *   dump_torn    100 non-blocking dumps per interpreter
 *   record_torn  a non-blocking recording at 2000 Hz for 3 s, where most
 *                samples are read ahead and verified from copies taken in
 *                the same read (reader/readahead.h)
 * One test per interpreter; a missing one is a visible skip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

/* 100 dumps per interpreter: every version has shown a malformed stack
 * within that many when a check was missing (3.11+ took 60-150 for the
 * dead-slot splice). */
#define DUMPS "100"

/* mode: NULL for dumps, "record" for a recording */
static void check(const char *spec, const char *mode)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	const char *bin = ts_pyprobe();
	char checker[4096], fixture[4096], host_fixture[4096];
	snprintf(checker, sizeof(checker), "%s/tests/check_churn.py", ts_source_root());
	ts_python_source(&py, "fixtures/dump/churn.py", fixture, sizeof fixture);
	/* The checker reads the fixture's source too, from our side. */
	snprintf(host_fixture, sizeof host_fixture, "%.2000s%.2000s", py.root, fixture);
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		/* Hundreds of short pyprobe runs: LeakSanitizer's exit scan
		 * would double their cost, and leaks are checked by every
		 * other integration test. */
		if (!mode)
			setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
		if (py.root[0])
			execlp("python3", "python3", checker, "--root", py.root, bin, py.cmd,
			       host_fixture, mode ? "0" : DUMPS, mode, (char *)NULL);
		else
			execlp("python3", "python3", checker, bin, py.path, fixture,
			       mode ? "0" : DUMPS, mode, (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: a malformed stack was %s (see the checker's output)", py.label,
		  mode ? "recorded" : "shown");
}

#define VERSIONS(suite, mode, secs)                                                     \
	Test(suite, python_3_8, .timeout = secs) { check("3.8.18", mode); }             \
	Test(suite, python_3_9, .timeout = secs) { check("3.9.18", mode); }             \
	Test(suite, python_3_10, .timeout = secs) { check("3.10.13", mode); }           \
	Test(suite, python_3_11, .timeout = secs) { check("3.11.7", mode); }            \
	Test(suite, python_3_12, .timeout = secs) { check("3.12.1", mode); }            \
	Test(suite, python_3_13, .timeout = secs) { check("3.13.0", mode); }            \
	Test(suite, debian_python_3_11, .timeout = secs) { check("debian", mode); }     \
	Test(suite, sid_python_3_13, .timeout = secs) { check("sid-3.13", mode); }      \
	Test(suite, sid_python_3_14, .timeout = secs) { check("sid-3.14", mode); }      \
	Test(suite, sid_python_3_15, .timeout = secs) { check("sid-3.15", mode); }

VERSIONS(dump_torn, NULL, 300)
VERSIONS(record_torn, "record", 120)
