/* Non-blocking dumps of a target that calls and returns as fast as it can
 * (fixtures/dump/churn.py): frames die and their memory is reused while we
 * walk them. Every stack pyprobe shows must be one the program can have
 * (tests/check_churn.py holds them to the program's grammar); torn walks
 * must be dropped, never drawn. One test per interpreter; a missing one is
 * a visible skip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* 100 dumps per interpreter: every version has shown a malformed stack
 * within that many when a check was missing (3.11+ took 60-150 for the
 * dead-slot splice). */
#define DUMPS "100"

static void check(const char *python)
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
		setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
		execlp("python3", "python3", checker, bin, python, fixture, DUMPS, (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: a malformed stack was shown (see the checker's output)", python);
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

Test(dump_torn, python_3_8, .timeout = 300) { check(pyenv("3.8.18/bin/python3.8")); }
Test(dump_torn, python_3_9, .timeout = 300) { check(pyenv("3.9.18/bin/python3.9")); }
Test(dump_torn, python_3_10, .timeout = 300) { check(pyenv("3.10.13/bin/python3.10")); }
Test(dump_torn, python_3_11, .timeout = 300) { check(pyenv("3.11.7/bin/python3.11")); }
Test(dump_torn, python_3_12, .timeout = 300) { check(pyenv("3.12.1/bin/python3.12")); }
Test(dump_torn, python_3_13, .timeout = 300) { check(pyenv("3.13.0/bin/python3.13")); }
Test(dump_torn, debian_python_3_11, .timeout = 300) { check("/usr/bin/python3.11"); }
