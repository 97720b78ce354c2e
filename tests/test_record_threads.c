/* pyprobe record --threads: one thread frame per thread, named the same in
 * every sample - also for threads that start while the recording runs. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

TestSuite(record_threads, .timeout = 180);

struct label {
	char tid[32];
	char text[256]; /* the whole root frame */
};

/* record -r 500 --threads [--idle] -o DIR/threads.txt -- python
 * fixtures/record/FIXTURE ARG ARG (DIR per test and interpreter); skips
 * when the interpreter is missing, fails when record does; the collapsed
 * profile is opened for reading. */
static FILE *record_threads(const char *spec, const char *test, bool idle,
			    const char *fixture, char *arg1, char *arg2)
{
	struct ts_python py;
	ts_python_get(spec, &py);
	const char *label = py.label;
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	char dir[PATH_MAX], out[PATH_MAX + 32], err[PATH_MAX + 32], path[PATH_MAX];
	snprintf(dir, sizeof dir, "%.3000s/tests/record_threads/%s%s",
		 b && *b ? b : "/tmp/pyprobe-tests", test, label);
	ts_mkdir_p(dir);
	snprintf(out, sizeof out, "%s/threads.txt", dir);
	snprintf(err, sizeof err, "%s/run.err", dir);
	char rel[128];
	snprintf(rel, sizeof rel, "fixtures/record/%s", fixture);
	ts_python_source(&py, rel, path, sizeof path);
	char *argv[20] = {(char *)ts_pyprobe(), "record", "-r", "500", "--threads",
			  "--no-progress", "-o", out};
	size_t n = 8;
	if (idle)
		argv[n++] = "--idle";
	argv[n++] = "--";
	ts_python_argv(&py, argv, &n, 16);
	argv[n++] = path;
	argv[n++] = arg1;
	argv[n++] = arg2; /* NULL ends argv when there is none */
	argv[n] = NULL;
	int st = ts_wait_bounded(ts_spawn(argv, NULL, err, 0), 120);
	char errbuf[4096];
	ts_read_file(err, errbuf, sizeof errbuf);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: record failed:\n%s", label, errbuf);
	FILE *f = fopen(out, "r");
	cr_assert_not_null(f, "%s: no output", label);
	return f;
}

static void check_names(const char *spec)
{
	const char *label = spec;
	FILE *f = record_threads(spec, "", true, "late_threads.py", "2", NULL);
	struct label seen[64];
	size_t nseen = 0;
	int named_busy = 0, named_sleeper = 0;
	static char line[1 << 16];
	while (fgets(line, sizeof line, f)) {
		char *semi = strchr(line, ';');
		char *sp = strrchr(line, ' ');
		char *root_end = semi ? semi : sp;
		cr_assert(root_end && strncmp(line, "thread ", 7) == 0,
			  "%s: a stack without a thread root: %s", label, line);
		*root_end = '\0';
		struct label l = {0};
		snprintf(l.text, sizeof l.text, "%.255s", line);
		size_t n = strspn(line + 7, "0123456789");
		cr_assert(n > 0 && n < sizeof l.tid);
		memcpy(l.tid, line + 7, n);
		named_busy |= strstr(l.text, "\"busy-1\"") != NULL;
		named_sleeper |= strstr(l.text, "\"sleeper-1\"") != NULL;
		size_t k = 0;
		for (; k < nseen; k++)
			if (!strcmp(seen[k].tid, l.tid))
				break;
		if (k == nseen) {
			cr_assert_lt(nseen, 64);
			seen[nseen++] = l;
		} else {
			cr_assert_str_eq(seen[k].text, l.text,
					 "%s: thread %s appears under two names", label, l.tid);
		}
	}
	fclose(f);
	cr_assert(named_busy && named_sleeper,
		  "%s: the late threads are not named (busy %d, sleeper %d)", label,
		  named_busy, named_sleeper);
}

/* Threads started one after another reuse each other's ident; each must
 * still be named as itself: one name per thread id, one thread id per
 * name (each job runs 40 ms: sampled ~20 times at 500 Hz). */
static void check_successive(const char *spec)
{
	const char *label = spec;
	FILE *f = record_threads(spec, "successive-", false, "successive_threads.py",
				 "30", "40");
	struct { char tid[32], name[64]; } seen[256];
	size_t nseen = 0, jobs = 0;
	static char line[1 << 16];
	while (fgets(line, sizeof line, f)) {
		char tid[32] = "", name[64] = "";
		/* `thread TID "name";...`: named job threads only */
		if (sscanf(line, "thread %31[0-9] \"%63[^\"]\"", tid, name) != 2 ||
		    strncmp(name, "job-", 4) != 0)
			continue;
		size_t k = 0;
		for (; k < nseen; k++) {
			bool same_tid = !strcmp(seen[k].tid, tid), same_name = !strcmp(seen[k].name, name);
			cr_assert(same_tid == same_name,
				  "%s: thread %s is named %s, and thread %s %s (a stale name)", label,
				  tid, name, seen[k].tid, seen[k].name);
			if (same_tid)
				break;
		}
		if (k == nseen && nseen < 256) {
			snprintf(seen[nseen].tid, sizeof seen[nseen].tid, "%s", tid);
			snprintf(seen[nseen].name, sizeof seen[nseen].name, "%s", name);
			nseen++;
			jobs++;
		}
	}
	fclose(f);
	cr_assert_geq(jobs, 20, "%s: only %zu of 30 job threads seen by name", label, jobs);
}

#define VERSION(tag, version)                                                             \
	Test(record_threads, same_name_in_every_sample_##tag) { check_names(version); }   \
	Test(record_threads, successive_threads_named_##tag) { check_successive(version); }

VERSION(3_8, "3.8.18")
VERSION(3_10, "3.10.13")
VERSION(3_11, "3.11.7")
VERSION(3_12, "3.12.1")
VERSION(3_13, "3.13.0")
VERSION(debian_3_11, "debian")
VERSION(sid_3_13, "sid-3.13")
VERSION(sid_3_14, "sid-3.14")
VERSION(sid_3_15, "sid-3.15")
