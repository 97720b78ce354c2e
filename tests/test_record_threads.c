/* pyprobe record --threads: one thread frame per thread, named the same in
 * every sample - also for threads that start while the recording runs. */
#include <criterion/criterion.h>
#include <limits.h>
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

static void check_names(const char *python, const char *label)
{
	if (access(python, X_OK) != 0)
		cr_skip_test("%s not installed at %s", label, python);
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	char dir[PATH_MAX], out[PATH_MAX + 32], err[PATH_MAX + 32], fixture[PATH_MAX];
	snprintf(dir, sizeof dir, "%.3000s/tests/record_threads/%s",
		 b && *b ? b : "/tmp/pyprobe-tests", label);
	ts_mkdir_p(dir);
	snprintf(out, sizeof out, "%s/threads.txt", dir);
	snprintf(err, sizeof err, "%s/run.err", dir);
	snprintf(fixture, sizeof fixture, "%s/fixtures/record/late_threads.py", ts_source_root());
	char *argv[] = {(char *)ts_pyprobe(), "record", "-r", "500", "--threads", "--idle",
			"--no-progress", "-o", out, "--", (char *)python, fixture, "2", NULL};
	int st = ts_wait_bounded(ts_spawn(argv, NULL, err, 0), 120);
	char errbuf[4096];
	ts_read_file(err, errbuf, sizeof errbuf);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: record failed:\n%s", label, errbuf);

	FILE *f = fopen(out, "r");
	cr_assert_not_null(f, "%s: no output", label);
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

#define VERSION(tag, version)                                            \
	Test(record_threads, same_name_in_every_sample_##tag)            \
	{                                                                \
		char buf[512];                                           \
		check_names(ts_pyenv_python(version, buf, sizeof buf), version); \
	}

VERSION(3_8, "3.8.18")
VERSION(3_10, "3.10.13")
VERSION(3_11, "3.11.7")
VERSION(3_12, "3.12.1")
VERSION(3_13, "3.13.0")

Test(record_threads, same_name_in_every_sample_debian_3_11)
{
	check_names("/usr/bin/python3.11", "debian-3.11");
}
