/* See support.h. */
#include "support.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
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

void ts_python_get(const char *spec, struct ts_python *py)
{
	memset(py, 0, sizeof *py);
	if (!strncmp(spec, "sid-", 4)) {
		const char *root = ts_sid_root();
		snprintf(py->label, sizeof py->label, "%s", spec);
		snprintf(py->root, sizeof py->root, "%s", root);
		snprintf(py->cmd, sizeof py->cmd, "python%s", spec + 4);
		snprintf(py->path, sizeof py->path, "%.4000s/usr/bin/%s", root, py->cmd);
		if (access(py->path, X_OK) != 0)
			cr_skip_test("%s: no %s (tools/install-deps builds the sid root)",
				     spec, py->path);
		char proc[PATH_MAX];
		snprintf(proc, sizeof proc, "%.4000s/proc/self", root);
		if (geteuid() != 0)
			cr_skip_test("%s: running it in the sid root needs root (chroot)", spec);
		if (access(proc, F_OK) != 0)
			cr_skip_test("%s: no /proc in the sid root %s (tools/install-deps "
				     "mounts it)", spec, root);
		py->argv[0] = "chroot";
		py->argv[1] = py->root;
		py->argv[2] = py->cmd;
		return;
	}
	if (!strcmp(spec, "debian")) {
		snprintf(py->label, sizeof py->label, "debian-3.11");
		snprintf(py->path, sizeof py->path, "/usr/bin/python3.11");
	} else {
		snprintf(py->label, sizeof py->label, "%s", spec);
		ts_pyenv_python(spec, py->path, sizeof py->path);
	}
	if (access(py->path, X_OK) != 0)
		cr_skip_test("python %s not installed at %s", py->label, py->path);
	py->argv[0] = py->path;
}

void ts_python_argv(const struct ts_python *py, char **argv, size_t *n, size_t cap)
{
	for (size_t i = 0; py->argv[i]; i++) {
		cr_assert_lt(*n + 1, cap, "argv too long");
		argv[(*n)++] = py->argv[i];
	}
}

void ts_python_scratch(const struct ts_python *py, const char *rel, char *out, size_t n)
{
	int w;
	if (py->root[0]) {
		w = snprintf(out, n, "%s/tmp/pyprobe-tests/%s", py->root, rel);
	} else {
		const char *b = getenv("PYPROBE_BUILD_ROOT");
		w = snprintf(out, n, "%s/tests/%s", b && *b ? b : "/tmp/pyprobe-tests", rel);
	}
	cr_assert(w > 0 && (size_t)w < n, "path too long: %s", out);
	ts_mkdir_p(out);
}

const char *ts_python_path(const struct ts_python *py, const char *host, char *out, size_t n)
{
	size_t rl = strlen(py->root);
	if (rl) {
		cr_assert(!strncmp(host, py->root, rl) && host[rl] == '/',
			  "%s is not inside the root %s its target runs in", host, py->root);
		host += rl;
	}
	int w = snprintf(out, n, "%s", host);
	cr_assert(w > 0 && (size_t)w < n, "path too long: %s", host);
	return out;
}

/* The stamp of the files copied into a root: their names, sizes and
 * modification times, hashed order-independently. */
static uint64_t g_stamp;
static bool g_stamp_py_only; /* tests/: only the Python scripts are copied */

static int stamp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag != FTW_F)
		return 0;
	size_t len = strlen(path);
	bool py = len > 3 && !strcmp(path + len - 3, ".py");
	if ((len > 3 && !strcmp(path + len - 4, ".pyc")) || (g_stamp_py_only && !py))
		return 0;
	uint64_t h = 1469598103934665603ull;
	for (const char *c = path; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	uint64_t v[3] = {(uint64_t)st->st_size, (uint64_t)st->st_mtim.tv_sec,
			 (uint64_t)st->st_mtim.tv_nsec};
	for (int i = 0; i < 3; i++)
		h = (h ^ v[i]) * 1099511628211ull;
	g_stamp += h ^ (h >> 29);
	return 0;
}

const char *ts_python_source(const struct ts_python *py, const char *rel, char *out, size_t n)
{
	const char *src = ts_source_root();
	int w;
	if (!py->root[0]) {
		w = snprintf(out, n, "%s/%s", src, rel);
		cr_assert(w > 0 && (size_t)w < n, "path too long: %s", rel);
		return out;
	}
	/* A copy per version of the files, so that tests running side by side
	 * share it and an edited fixture is never run from a stale copy. */
	static char dir_in[128], done_for[PATH_MAX];
	if (strcmp(done_for, py->root) != 0) {
		char path[PATH_MAX];
		g_stamp = 0;
		snprintf(path, sizeof path, "%.4000s/fixtures", src);
		g_stamp_py_only = false;
		cr_assert_eq(nftw(path, stamp_one, 16, FTW_PHYS), 0, "cannot list %s", path);
		snprintf(path, sizeof path, "%.4000s/tests", src);
		g_stamp_py_only = true;
		cr_assert_eq(nftw(path, stamp_one, 1, FTW_PHYS), 0, "cannot list %s", path);
		snprintf(dir_in, sizeof dir_in, "/tmp/pyprobe-src/%016llx",
			 (unsigned long long)g_stamp);
		char final[PATH_MAX], cmd[4 * PATH_MAX];
		snprintf(final, sizeof final, "%.3900s%s", py->root, dir_in);
		if (access(final, F_OK) != 0) {
			/* Made aside and renamed into place: whoever renames
			 * first wins, and nobody sees a half copy. */
			snprintf(cmd, sizeof cmd,
				 "set -e; t='%s.%d'; rm -rf \"$t\"; mkdir -p \"$t/tests\"; "
				 "cp -r '%s/fixtures' \"$t/\"; cp '%s'/tests/*.py \"$t/tests/\"; "
				 "mv -T \"$t\" '%s' 2>/dev/null || rm -rf \"$t\"",
				 final, (int)getpid(), src, src, final);
			cr_assert_eq(system(cmd), 0, "cannot copy the fixtures into %s", final);
		}
		cr_assert_eq(access(final, F_OK), 0, "no %s", final);
		snprintf(done_for, sizeof done_for, "%s", py->root);
	}
	w = snprintf(out, n, "%s/%s", dir_in, rel);
	cr_assert(w > 0 && (size_t)w < n, "path too long: %s", rel);
	return out;
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

void ts_scratch_path(const char *suite, char *out, size_t n, const char *name)
{
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%.3000s/tests/%.200s", b && *b ? b : "/tmp/pyprobe-tests",
		 suite);
	ts_mkdir_p(dir);
	int w = snprintf(out, n, "%s/%s", dir, name);
	cr_assert(w > 0 && (size_t)w < n, "path too long");
}

void ts_run_argv(const char *suite, struct ts_run *r, char *const argv[])
{
	/* files of this process: meson runs test binaries side by side */
	char out[PATH_MAX], err[PATH_MAX], name[64];
	snprintf(name, sizeof name, "run-%d.out", (int)getpid());
	ts_scratch_path(suite, out, sizeof out, name);
	snprintf(name, sizeof name, "run-%d.err", (int)getpid());
	ts_scratch_path(suite, err, sizeof err, name);
	r->status = ts_wait_bounded(ts_spawn(argv, out, err, 0), 120);
	r->out[0] = r->err[0] = '\0';
	ts_read_file(err, r->err, sizeof r->err);
	ts_read_file(out, r->out, sizeof r->out);
	cr_assert(r->status != -1, "pyprobe timed out:\n%s", r->err);
	cr_assert(!WIFSIGNALED(r->status), "pyprobe died of signal %d:\n%s",
		  WTERMSIG(r->status), r->err);
	cr_assert(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		  "sanitizer report:\n%s", r->err);
}

void ts_run_pyprobe(const char *suite, struct ts_run *r, char *const args[])
{
	char *argv[40];
	int n = 0;
	argv[n++] = (char *)ts_pyprobe();
	for (; args[n - 1] && n < 39; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	ts_run_argv(suite, r, argv);
}

int ts_exit_code(const struct ts_run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

int ts_shell(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f, "popen %s", cmd);
	size_t len = fread(out, 1, n - 1, f);
	out[len] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
