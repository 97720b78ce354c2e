/* Non-blocking recording of a target that calls and returns as fast as it
 * can (fixtures/dump/churn.py), at 2000 Hz: the sampler reads each sample
 * ahead in one read and verifies most walks from a second copy taken in
 * that same read. Every stack in the profile must be one the program can
 * have (tests/check_churn.py, record mode); torn samples are dropped. One
 * test per interpreter; a missing one is a visible skip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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
		execlp("python3", "python3", checker, bin, python, fixture, "0", "record",
		       (char *)NULL);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: a malformed stack was recorded (see the checker's output)", python);
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

Test(record_torn, python_3_8, .timeout = 120) { check(pyenv("3.8.18/bin/python3.8")); }
Test(record_torn, python_3_9, .timeout = 120) { check(pyenv("3.9.18/bin/python3.9")); }
Test(record_torn, python_3_10, .timeout = 120) { check(pyenv("3.10.13/bin/python3.10")); }
Test(record_torn, python_3_11, .timeout = 120) { check(pyenv("3.11.7/bin/python3.11")); }
Test(record_torn, python_3_12, .timeout = 120) { check(pyenv("3.12.1/bin/python3.12")); }
Test(record_torn, python_3_13, .timeout = 120) { check(pyenv("3.13.0/bin/python3.13")); }
Test(record_torn, debian_python_3_11, .timeout = 120) { check("/usr/bin/python3.11"); }
