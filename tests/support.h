/* Helpers shared by the integration tests: starting and reaping processes
 * with bounded waits, reading files into caller buffers, and finding the
 * binary and the source tree that meson test points us at.
 *
 * Linking support.c also makes every skipped test print
 * "[SKIP] suite::test: reason" on stderr (Criterion lists skips only with
 * --verbose), so a missing interpreter is never a silent pass.
 */
#ifndef PYPROBE_TESTS_SUPPORT_H
#define PYPROBE_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

double ts_now_s(void);
void ts_sleep_ms(long ms);

/* Up to size-1 bytes of a file, NUL-terminated; -1 if unreadable. Caller
 * buffers only: a failed cr_assert leaves by longjmp, and heap buffers
 * would then show up as leak reports that hide the real failure. */
long ts_read_file(const char *path, char *buf, size_t size);
void ts_mkdir_p(const char *path);

/* fork/exec argv (PATH searched) with stdin from /dev/null and stdout and
 * stderr to files (NULL: /dev/null). new_group: its own process group, so
 * teardown can kill every descendant, and SIGKILL when we die, so a crashed
 * test leaves nothing running. -1 if fork failed. */
pid_t ts_spawn(char *const argv[], const char *out, const char *err, int new_group);
/* Wait at most timeout_s, SIGKILL on timeout: the wait status, or -1. */
int ts_wait_bounded(pid_t pid, int timeout_s);

/* The suite's scratch directory, $PYPROBE_BUILD_ROOT/tests/SUITE
 * (/tmp/pyprobe-tests/tests/SUITE without it), made if need be, + "/" +
 * name, in out; fails the test if it does not fit. */
void ts_scratch_path(const char *suite, char *out, size_t n, const char *name);

/* A program run to its end: its wait status and what it printed. */
struct ts_run {
	int status;
	char err[8192];
	char out[262144]; /* standard output (a profile, with -o -; a diff --json) */
};
/* Run argv (argv[0] the program: pyprobe), its standard output and error
 * in files of the suite's scratch directory named after this process;
 * waits at most 120 s. Fails the test when it timed out, died of a signal
 * or printed a sanitizer report. */
void ts_run_argv(const char *suite, struct ts_run *r, char *const argv[]);
/* ts_run_argv of pyprobe ARGS... (NULL-terminated, at most 38). */
void ts_run_pyprobe(const char *suite, struct ts_run *r, char *const args[]);
/* Its exit status; -1 if it did not exit. */
int ts_exit_code(const struct ts_run *r);

/* sh -c cmd: its standard output (and error, if cmd redirects it) in out,
 * NUL-terminated; its exit status, -1 if it did not exit. */
int ts_shell(const char *cmd, char *out, size_t n);

/* $PYPROBE and $PYPROBE_SOURCE_ROOT, set by tests/meson.build. */
const char *ts_pyprobe(void);
const char *ts_source_root(void);
/* The pyenv interpreter of `version` ("3.11.7" -> .../versions/3.11.7/
 * bin/python3.11), in buf; whether it exists is the caller's to check. */
const char *ts_pyenv_python(const char *version, char *buf, size_t n);
/* The first supported interpreter installed (pyenv's, else Debian's
 * python3.11); skips the test when there is none. */
const char *ts_any_python(char *buf, size_t n);

/* The Debian sid root that tools/install-deps builds ($PYPROBE_SID_ROOT,
 * default /var/lib/pyprobe/sid): Debian's 3.13, 3.14, 3.15 and debug
 * builds, run with chroot. */
const char *ts_sid_root(void);

/* An interpreter the integration tests start targets with. */
struct ts_python {
	char label[32];      /* "3.11.7", "debian-3.11", "sid-3.14" */
	char path[4096];     /* the interpreter file, as we see it */
	char root[4096];     /* the root it runs in (sid); "" for ours */
	char *argv[4];       /* its command's first words, NULL-ended:
	                        {path} or {"chroot", root, "python3.14"} */
	char cmd[32];        /* "python3.14" inside the root */
};
/* spec: "3.11.7" (pyenv's), "debian" (Debian's static /usr/bin/python3.11)
 * or "sid-3.13", "sid-3.14", "sid-3.15", "sid-3.14d" (the sid root's,
 * through chroot, which needs root). Skips the test, naming what is
 * missing, when the interpreter cannot be run here. */
void ts_python_get(const char *spec, struct ts_python *py);
/* Append py's command words to argv[*n...], at most cap entries in all. */
void ts_python_argv(const struct ts_python *py, char **argv, size_t *n, size_t cap);
/* A scratch directory (made if missing) for a test's files that the target
 * writes or reads as well: $PYPROBE_BUILD_ROOT/tests/REL for our own
 * interpreters, ROOT/tmp/pyprobe-tests/REL for a sid one. */
void ts_python_scratch(const struct ts_python *py, const char *rel, char *out, size_t n);
/* The target's name for `host`, a path of ours (for a sid target it must
 * lie inside the root). */
const char *ts_python_path(const struct ts_python *py, const char *host, char *out,
			   size_t n);
/* A file of the source tree (e.g. "fixtures/dump/threads.py") as the
 * target sees it: for a sid target, in a copy of fixtures/ and the tests'
 * Python scripts made in the root once per version of those files. */
const char *ts_python_source(const struct ts_python *py, const char *rel, char *out,
			     size_t n);

/* Compare got[0..len) with fixtures/golden/NAME (first rewriting that file
 * from got when PYPROBE_UPDATE_GOLDEN is set). On a difference, or a golden
 * file missing, got is written to NAME.actual in the working directory (for
 * `diff`) and false is returned; *at is the first byte that differs. */
bool ts_matches_golden(const char *name, const char *got, size_t len, size_t *at);

#endif
