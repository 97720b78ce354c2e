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

/* 100 dumps per interpreter: every version has shown a malformed stack
 * within that many when a check was missing (3.11+ took 60-150 for the
 * dead-slot splice). */
#define DUMPS "100"

/* mode: NULL for dumps, "record" for a recording */
static void check(const char *python, const char *mode)
{
	if (access(python, X_OK) != 0)
		cr_skip_test("python not installed at %s", python);
	const char *bin = getenv("PYPROBE"), *src = getenv("PYPROBE_SOURCE_ROOT");
	cr_assert(bin && src, "run through meson test (PYPROBE, PYPROBE_SOURCE_ROOT)");
	char checker[4096], fixture[4096];
	snprintf(checker, sizeof(checker), "%s/tests/check_churn.py", src);
	snprintf(fixture, sizeof(fixture), "%s/fixtures/dump/churn.py", src);
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		/* Hundreds of short pyprobe runs: LeakSanitizer's exit scan
		 * would double their cost, and leaks are checked by every
		 * other integration test. */
		if (!mode)
			setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
		execlp("python3", "python3", checker, bin, python, fixture,
		       mode ? "0" : DUMPS, mode, (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: a malformed stack was %s (see the checker's output)", python,
		  mode ? "recorded" : "shown");
}

static const char *pyenv(const char *rel)
{
	static char buf[8][512];
	static int k;
	const char *root = getenv("PYENV_ROOT") ? getenv("PYENV_ROOT") : "/root/.pyenv";
	char *b = buf[k++ % 8];
	snprintf(b, 512, "%s/versions/%s", root, rel);
	return b;
}

#define VERSIONS(suite, mode, secs)                                                              \
	Test(suite, python_3_8, .timeout = secs) { check(pyenv("3.8.18/bin/python3.8"), mode); }     \
	Test(suite, python_3_9, .timeout = secs) { check(pyenv("3.9.18/bin/python3.9"), mode); }     \
	Test(suite, python_3_10, .timeout = secs) { check(pyenv("3.10.13/bin/python3.10"), mode); }  \
	Test(suite, python_3_11, .timeout = secs) { check(pyenv("3.11.7/bin/python3.11"), mode); }   \
	Test(suite, python_3_12, .timeout = secs) { check(pyenv("3.12.1/bin/python3.12"), mode); }   \
	Test(suite, python_3_13, .timeout = secs) { check(pyenv("3.13.0/bin/python3.13"), mode); }   \
	Test(suite, debian_python_3_11, .timeout = secs) { check("/usr/bin/python3.11", mode); }

VERSIONS(dump_torn, NULL, 300)
VERSIONS(record_torn, "record", 120)
