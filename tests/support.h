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

/* Compare got[0..len) with fixtures/golden/NAME (first rewriting that file
 * from got when PYPROBE_UPDATE_GOLDEN is set). On a difference, or a golden
 * file missing, got is written to NAME.actual in the working directory (for
 * `diff`) and false is returned; *at is the first byte that differs. */
bool ts_matches_golden(const char *name, const char *got, size_t len, size_t *at);

#endif
