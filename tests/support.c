/* See support.h. */
#include "support.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

ReportHook(POST_TEST)(struct criterion_test_stats *stats)
{
	/* "Test is disabled" is --filter deselecting it, not a skip. */
	if (stats->test_status == CR_STATUS_SKIPPED &&
	    !(stats->message && strcmp(stats->message, "Test is disabled") == 0))
		fprintf(stderr, "[SKIP] %s::%s: %s\n", stats->test->category,
			stats->test->name, stats->message ? stats->message : "");
}

double ts_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ts_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

long ts_read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		buf[0] = '\0';
		return -1;
	}
	size_t len = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[len] = '\0';
	return (long)len;
}

void ts_mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0755);
			*p = '/';
		}
	}
	mkdir(buf, 0755);
}

pid_t ts_spawn(char *const argv[], const char *out, const char *err, int new_group)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (new_group) {
			setpgid(0, 0);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(127);
		}
		int in = open("/dev/null", O_RDONLY);
		int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || o < 0 || e < 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(e, 2);
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (new_group)
		setpgid(pid, pid); /* also here: no race with the child's own call */
	return pid;
}

int ts_wait_bounded(pid_t pid, int timeout_s)
{
	double deadline = ts_now_s() + timeout_s;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (ts_now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		ts_sleep_ms(20);
	}
}

const char *ts_pyprobe(void)
{
	const char *p = getenv("PYPROBE");
	cr_assert(p && *p, "PYPROBE is not set (run through meson test)");
	return p;
}

const char *ts_source_root(void)
{
	const char *p = getenv("PYPROBE_SOURCE_ROOT");
	cr_assert(p && *p, "PYPROBE_SOURCE_ROOT is not set (run through meson test)");
	return p;
}

const char *ts_pyenv_python(const char *version, char *buf, size_t n)
{
	const char *root = getenv("PYENV_ROOT") ? getenv("PYENV_ROOT") : "/root/.pyenv";
	char minor[16];
	snprintf(minor, sizeof minor, "%s", version);
	char *dot = strrchr(minor, '.');
	if (dot)
		*dot = '\0';
	snprintf(buf, n, "%s/versions/%s/bin/python%s", root, version, minor);
	return buf;
}

const char *ts_sid_root(void)
{
	const char *r = getenv("PYPROBE_SID_ROOT");
	return r && *r ? r : "/var/lib/pyprobe/sid";
}

/* The whole file, NUL-terminated; NULL if it cannot be opened. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = 2 * cap + 4096 + 1;
			char *nb = realloc(buf, cap);
			cr_assert_not_null(nb);
			buf = nb;
		}
		size_t got = fread(buf + *len, 1, cap - *len - 1, f);
		*len += got;
		if (got == 0)
			break;
	}
	cr_assert_not(ferror(f));
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void spill(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

bool ts_matches_golden(const char *name, const char *got, size_t len, size_t *at)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%.3000s/fixtures/golden/%s", ts_source_root(), name);
	const char *update = getenv("PYPROBE_UPDATE_GOLDEN");
	if (update && *update && strcmp(update, "0") != 0)
		spill(path, got, len);
	size_t glen = 0;
	char *want = slurp(path, &glen);
	*at = 0;
	while (want && *at < len && *at < glen && got[*at] == want[*at])
		(*at)++;
	bool same = want && glen == len && *at == len;
	free(want);
	if (!same) {
		char actual[PATH_MAX];
		snprintf(actual, sizeof actual, "%.3000s.actual", name);
		spill(actual, got, len);
	}
	return same;
}

const char *ts_any_python(char *buf, size_t n)
{
	const char *v[] = {"3.12.1", "3.11.7", "3.13.0", "3.10.13", "3.9.18", "3.8.18"};
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (access(ts_pyenv_python(v[i], buf, n), X_OK) == 0)
			return buf;
	if (access("/usr/bin/python3.11", X_OK) == 0)
		return "/usr/bin/python3.11";
	cr_skip_test("no supported python installed");
	return NULL;
}
