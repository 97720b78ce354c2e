/* `pyprobe diff` through the CLI: exact figures from hand-written
 * collapsed files (one run and several a side), markers, --rate, the
 * verdicts and exit codes, usage and unreadable inputs; then the gate on
 * real recordings of fixtures/ci/bench.py with planted regressions. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

TestSuite(diff, .timeout = 120);
TestSuite(diff_gate, .timeout = 850);

static void path_in(char *out, size_t n, const char *name)
{
	ts_scratch_path("diff", out, n, name);
}

static void write_file(const char *name, const char *text)
{
	char p[PATH_MAX];
	path_in(p, sizeof p, name);
	FILE *f = fopen(p, "w");
	cr_assert(f, "cannot write %s", p);
	fputs(text, f);
	cr_assert(fclose(f) == 0);
}

/* pyprobe ARGS... (names without a '/' or '-' are files of the scratch
 * directory), stdout and stderr captured; waits at most 120 s. */
static void run(struct ts_run *r, const char *const args[])
{
	static char paths[24][PATH_MAX];
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)ts_pyprobe();
	for (int i = 0; args[i] && n < 24; i++) {
		if (args[i][0] != '-' && args[i][0] != '/' && !strchr(args[i], ' ') &&
		    strchr(args[i], '.') && !(i > 0 && !strcmp(args[i - 1], "--threshold")) &&
		    !(i > 0 && !strcmp(args[i - 1], "--rate"))) {
			path_in(paths[n], sizeof paths[n], args[i]);
			argv[n] = paths[n];
		} else {
			argv[n] = (char *)args[i];
		}
		n++;
	}
	argv[n] = NULL;
	ts_run_argv("diff", r, argv);
}

/* The JSON object of `function` in the array `list` of a --json output
 * ("functions", "regressions", "improvements"), into buf; false if absent. */
static bool fn_json(const char *out, const char *list, const char *function, char *buf,
		    size_t n)
{
	char key[128], pat[256];
	snprintf(key, sizeof key, "\"%s\": [", list);
	const char *a = strstr(out, key);
	if (!a)
		return false;
	const char *end = strchr(a, ']');
	snprintf(pat, sizeof pat, "{\"function\": \"%s\",", function);
	const char *f = strstr(a, pat);
	if (!f || (end && f > end))
		return false;
	const char *e = strchr(f, '}');
	size_t len = e ? (size_t)(e - f + 1) : strlen(f);
	if (len >= n)
		len = n - 1;
	memcpy(buf, f, len);
	buf[len] = '\0';
	return true;
}

/* How many functions the array `list` names. */
static int count_in(const char *out, const char *list)
{
	char key[128];
	snprintf(key, sizeof key, "\"%s\": [", list);
	const char *a = strstr(out, key);
	if (!a)
		return -1;
	const char *end = strchr(a, ']');
	int n = 0;
	for (const char *p = strstr(a, "\"function\": "); p && p < end;
	     p = strstr(p + 1, "\"function\": "))
		n++;
	return n;
}

static void total_json(const char *out, char *buf, size_t n)
{
	const char *t = strstr(out, "\"total\": {");
	cr_assert(t, "no total in:\n%s", out);
	const char *e = strchr(t, '}');
	size_t len = e ? (size_t)(e - t + 1) : strlen(t);
	if (len >= n)
		len = n - 1;
	memcpy(buf, t, len);
	buf[len] = '\0';
}

/* ---- hand-written collapsed files: exact figures ------------------------- */

/* 10110 samples at 100 Hz (assumed): a 30 s, b 50 s, c 20 s of self time
 * and 1 s cut short under it ([changing]: c's inclusive time, no one's
 * self), main 0.1 s of its own. HEAD: a 36 s. Lines differ (ignored). */
static const char base_txt[] =
	"main (b.py:1);a (b.py:5) 3000\n"
	"main (b.py:1);b (b.py:9) 5000\n"
	"main (b.py:1);c (b.py:12) 2000\n"
	"main (b.py:1);c (b.py:12);[changing] 100\n"
	"main (b.py:2) 10\n";
static const char head_txt[] =
	"main (b.py:1);a (b.py:6) 3600\n"
	"main (b.py:1);b (b.py:9) 5000\n"
	"main (b.py:3);c (b.py:12) 2000\n"
	"main (b.py:1);c (b.py:12);[changing] 100\n"
	"main (b.py:2) 10\n";

Test(diff, one_run_a_side_exact_figures)
{
	write_file("base.txt", base_txt);
	write_file("head.txt", head_txt);
	struct ts_run r;
	run(&r, (const char *[]){"diff", "--json", "base.txt", "head.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "a +20%% function must fail the gate:\n%s%s", r.err, r.out);
	char f[2048];
	cr_assert(fn_json(r.out, "functions", "a", f, sizeof f), "%s", r.out);
	cr_assert(strstr(f, "\"file\": \"b.py\", \"base_s\": 30, \"head_s\": 36, "
			    "\"change_pct\": 20,") &&
		  strstr(f, "\"significant\": true, \"regression\": true") &&
		  strstr(f, "\"base_self_s\": 30, \"head_self_s\": 36, \"self_change_pct\": 20,") &&
		  strstr(f, "\"verdict_change_pct\": 20,") &&
		  strstr(f, "\"base_samples\": 3000, \"head_samples\": 3600}"), "a: %s", f);
	/* [changing] under c: c's inclusive time, not its self time */
	cr_assert(fn_json(r.out, "functions", "c", f, sizeof f), "%s", r.out);
	cr_assert(strstr(f, "\"base_s\": 21, \"head_s\": 21, \"change_pct\": 0,") &&
		  strstr(f, "\"base_self_s\": 20, \"head_self_s\": 20,") &&
		  strstr(f, "\"regression\": false"), "c: %s", f);
	/* main: every sample, two lines merged (lines are ignored) */
	cr_assert(fn_json(r.out, "functions", "main", f, sizeof f), "%s", r.out);
	cr_assert(strstr(f, "\"base_s\": 101.1, \"head_s\": 107.1, \"change_pct\": 5.93472,") &&
		  strstr(f, "\"base_self_s\": 0.1, \"head_self_s\": 0.1,") &&
		  strstr(f, "\"regression\": false"), "main: %s", f);
	cr_assert(fn_json(r.out, "functions", "b", f, sizeof f) &&
		  strstr(f, "\"change_pct\": 0,") && strstr(f, "\"significant\": false"), "b: %s", f);
	cr_assert_eq(count_in(r.out, "regressions"), 1, "%s", r.out);
	cr_assert(fn_json(r.out, "regressions", "a", f, sizeof f), "%s", r.out);
	cr_assert_eq(count_in(r.out, "improvements"), 0, "%s", r.out);
	cr_assert_eq(count_in(r.out, "functions"), 4, "markers are not functions:\n%s", r.out);
	char t[2048];
	total_json(r.out, t, sizeof t);
	/* one run a side: the total is shown, not judged */
	cr_assert(strstr(t, "\"base_s\": 101.1, \"head_s\": 107.1, \"change_pct\": 5.93472,") &&
		  strstr(t, "\"tested\": false, \"significant\": false, \"regression\": false"),
		  "total: %s", t);
	cr_assert(strstr(r.out, "\"format_version\": 1,") && strstr(r.out, "\"threshold_pct\": 10,") &&
		  strstr(r.out, "\"verdict\": \"regression\"") &&
		  strstr(r.out, "\"method\": \"poisson\"") &&
		  strstr(r.out, "\"assumed_rate_hz\": 100,"), "%s", r.out);

	/* the same as a table: the verdict first, a named first */
	run(&r, (const char *[]){"diff", "base.txt", "head.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "%s", r.err);
	cr_assert(!strncmp(r.out, "pyprobe diff: REGRESSION - 1 function 10% or more slower", 56),
		  "%s", r.out);
	const char *a = strstr(r.out, "SLOWER  a (b.py)\n"), *m = strstr(r.out, "main (b.py)\n");
	cr_assert(a && m && a < m, "worst first:\n%s", r.out);
	cr_assert(strstr(r.out, "  +20.0%    +20.0%  [  +14.3%,  +26.0%]    30.000    36.000"),
		  "figures and bounds:\n%s", r.out);
}

/* A CI job runs base and head from two checkouts (base/, head/): the
 * program's files differ by that directory, the standard library's do
 * not. Each base function is its head twin; a function one side alone
 * has stays apart; files whose names differ are never paired. */
Test(diff, two_checkouts_of_one_program)
{
	write_file("co_base.txt",
		   "<module> (/ci/base/bench.py:1);main (/ci/base/bench.py:9);"
		   "a (/ci/base/pkg/a.py:5) 3000\n"
		   "<module> (/ci/base/bench.py:1);main (/ci/base/bench.py:9);"
		   "b (/ci/base/bench.py:20);sub (/usr/lib/python3.12/re.py:7) 5000\n"
		   "<module> (/ci/base/bench.py:1);old (/ci/base/gone.py:3) 2000\n");
	write_file("co_head.txt",
		   "<module> (/ci/head/bench.py:1);main (/ci/head/bench.py:9);"
		   "a (/ci/head/pkg/a.py:5) 3600\n"
		   "<module> (/ci/head/bench.py:1);main (/ci/head/bench.py:9);"
		   "b (/ci/head/bench.py:20);sub (/usr/lib/python3.12/re.py:7) 5000\n"
		   "<module> (/ci/head/bench.py:1);new (/ci/head/new.py:3) 2000\n");
	struct ts_run r;
	char f[2048];
	run(&r, (const char *[]){"diff", "--json", "co_base.txt", "co_head.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "a +20%% is a regression:\n%s%s", r.err, r.out);
	cr_assert(strstr(r.out, "\"checkouts\": {\"base\": \"/ci/base/\", \"head\": \"/ci/head/\", "
			    "\"functions\": 4}"), "%s", r.out);
	cr_assert(fn_json(r.out, "regressions", "a", f, sizeof f) &&
		  strstr(f, "\"file\": \"/ci/head/pkg/a.py\", \"base_s\": 30, \"head_s\": 36,"),
		  "a: %s", f);
	cr_assert(fn_json(r.out, "functions", "sub", f, sizeof f) &&
		  strstr(f, "\"file\": \"/usr/lib/python3.12/re.py\", \"base_s\": 50, \"head_s\": 50,"),
		  "sub: %s", f);
	cr_assert(fn_json(r.out, "functions", "<module>", f, sizeof f) &&
		  strstr(f, "\"base_s\": 100, \"head_s\": 106,"), "<module>: %s", f);
	/* one side's alone: each in its own file, not tested (no change has a size) */
	cr_assert(fn_json(r.out, "functions", "old", f, sizeof f) &&
		  strstr(f, "\"file\": \"/ci/base/gone.py\"") && strstr(f, "\"tested\": false"),
		  "old: %s", f);
	cr_assert(fn_json(r.out, "functions", "new", f, sizeof f) &&
		  strstr(f, "\"file\": \"/ci/head/new.py\"") && strstr(f, "\"tested\": false"),
		  "new: %s", f);
	run(&r, (const char *[]){"diff", "co_base.txt", "co_head.txt", NULL});
	cr_assert(strstr(r.out, "\ncheckouts: base's /ci/base/ is head's /ci/head/ (4 functions paired)\n"),
		  "%s", r.out);
	/* one checkout: nothing paired, said as null */
	run(&r, (const char *[]){"diff", "--json", "co_head.txt", "co_head.txt", NULL});
	cr_assert(strstr(r.out, "\"checkouts\": null,"), "%s", r.out);
}

Test(diff, rate_and_threshold)
{
	write_file("base.txt", base_txt);
	write_file("head.txt", head_txt);
	struct ts_run r;
	/* --rate 200: every sample half as long */
	run(&r, (const char *[]){"diff", "--json", "--rate", "200", "base.txt", "head.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "%s", r.err);
	char f[2048];
	cr_assert(fn_json(r.out, "functions", "a", f, sizeof f) &&
		  strstr(f, "\"base_s\": 15, \"head_s\": 18,"), "%s", f);
	cr_assert(strstr(r.out, "\"assumed_rate_hz\": 200,"), "%s", r.out);
	/* a 20% change under a 25% threshold passes: significant, not a regression */
	run(&r, (const char *[]){"diff", "--json", "--threshold", "25", "base.txt", "head.txt",
				 NULL});
	cr_assert_eq(ts_exit_code(&r), 0, "%s%s", r.err, r.out);
	cr_assert(fn_json(r.out, "functions", "a", f, sizeof f) &&
		  strstr(f, "\"significant\": true, \"regression\": false"), "%s", f);
	cr_assert_eq(count_in(r.out, "regressions"), 0);
	cr_assert(strstr(r.out, "\"verdict\": \"pass\""), "%s", r.out);
	/* A/A */
	run(&r, (const char *[]){"diff", "base.txt", "base.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 0, "%s%s", r.err, r.out);
	cr_assert(!strncmp(r.out, "pyprobe diff: no regression", 27), "%s", r.out);
}

/* Three runs a side in directories: run-to-run noise. */
Test(diff, directories_of_runs)
{
	char d[PATH_MAX];
	static const char *const sides[] = {"runs_base", "runs_same", "runs_slow", "runs_noisy"};
	for (size_t s = 0; s < 4; s++) {
		path_in(d, sizeof d, sides[s]);
		ts_mkdir_p(d);
	}
	/* base and same: a 3000±30, b 5000±50, c 2000±20; slow: a +30% */
	static const int a[4][3] = {{3000, 3030, 2970}, {2990, 3020, 3010}, {3900, 3940, 3860},
				    {3000, 3030, 2970}};
	static const int b[4][3] = {{5000, 5050, 4950}, {5010, 4960, 5040}, {5000, 5050, 4950},
				    {5000, 5050, 4950}};
	for (size_t s = 0; s < 4; s++)
		for (int i = 0; i < 3; i++) {
			char name[64], text[512];
			snprintf(name, sizeof name, "%s/%d.txt", sides[s], i);
			/* runs_noisy: whole runs stretched by load (x1.3, x0.8, x1.5):
			 * every function alike */
			double k = s == 3 ? (i == 0 ? 1.3 : i == 1 ? 0.8 : 1.5) : 1.0;
			snprintf(text, sizeof text,
				 "main (b.py:1);a (b.py:5) %d\nmain (b.py:1);b (b.py:9) %d\n"
				 "main (b.py:1);c (b.py:12) %d\n", (int)(a[s][i] * k),
				 (int)(b[s][i] * k), (int)(2000 * k));
			write_file(name, text);
		}
	struct ts_run r;
	char base[PATH_MAX], same[PATH_MAX], slow[PATH_MAX], noisy[PATH_MAX];
	path_in(base, sizeof base, "runs_base");
	path_in(same, sizeof same, "runs_same");
	path_in(slow, sizeof slow, "runs_slow");
	path_in(noisy, sizeof noisy, "runs_noisy");
	run(&r, (const char *[]){"diff", "--json", base, same, NULL});
	cr_assert_eq(ts_exit_code(&r), 0, "A/A:\n%s%s", r.err, r.out);
	cr_assert(strstr(r.out, "\"method\": \"welch-log\"") && strstr(r.out, "\"base_runs\": 3,") &&
		  strstr(r.out, "\"head_runs\": 3,"), "%s", r.out);
	run(&r, (const char *[]){"diff", "--json", base, slow, NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "a +30%%:\n%s%s", r.err, r.out);
	cr_assert_eq(count_in(r.out, "regressions"), 1, "only a:\n%s", r.out);
	char f[2048], t[2048];
	cr_assert(fn_json(r.out, "regressions", "a", f, sizeof f) &&
		  strstr(f, "\"base_s\": 30, \"head_s\": 39, \"change_pct\": 29.9998,"), "%s", f);
	/* the total: +9%, significant, under the threshold */
	total_json(r.out, t, sizeof t);
	cr_assert(strstr(t, "\"tested\": true, \"significant\": true, \"regression\": false"), "%s",
		  t);
	/* everything 15% slower, with a run-to-run jitter of about 1%: the
	 * total's regression, no function's */
	char all15[PATH_MAX];
	path_in(all15, sizeof all15, "runs_all15");
	ts_mkdir_p(all15);
	static const double jitter[3] = {1.15, 1.16, 1.14};
	for (int i = 0; i < 3; i++) {
		char name[64], text[512];
		snprintf(name, sizeof name, "runs_all15/%d.txt", i);
		snprintf(text, sizeof text,
			 "main (b.py:1);a (b.py:5) %d\nmain (b.py:1);b (b.py:9) %d\n"
			 "main (b.py:1);c (b.py:12) %d\n", (int)(a[0][i] * jitter[i]),
			 (int)(b[0][i] * jitter[i]), (int)(2000 * jitter[i]));
		write_file(name, text);
	}
	run(&r, (const char *[]){"diff", "--json", base, all15, NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "everything +15%%:\n%s%s", r.err, r.out);
	cr_assert_eq(count_in(r.out, "regressions"), 0, "no function:\n%s", r.out);
	total_json(r.out, t, sizeof t);
	cr_assert(strstr(t, "\"change_pct\": 14.98") && strstr(t, "\"regression\": true"), "%s", t);
	/* load that stretches whole runs: no function moves, and the total's
	 * noise is too large to call */
	run(&r, (const char *[]){"diff", "--json", base, noisy, NULL});
	cr_assert_eq(ts_exit_code(&r), 0, "load is no regression:\n%s%s", r.err, r.out);
	cr_assert_eq(count_in(r.out, "regressions"), 0, "%s", r.out);
	total_json(r.out, t, sizeof t);
	cr_assert(strstr(t, "\"significant\": false"), "%s", t);
}

Test(diff, markdown_comment)
{
	write_file("base.txt", base_txt);
	write_file("head.txt", head_txt);
	char md[PATH_MAX];
	path_in(md, sizeof md, "comment.md");
	unlink(md);
	struct ts_run r;
	run(&r, (const char *[]){"diff", "--markdown", md, "base.txt", "head.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "%s", r.err);
	static char buf[65536];
	cr_assert(ts_read_file(md, buf, sizeof buf) > 0, "no %s", md);
	cr_assert(!strncmp(buf, "### pyprobe diff: :x: regression - 1 function 10% or more slower",
			   64), "%s", buf);
	cr_assert(strstr(buf, "| a (b.py) | slower | +20.0% | +20.0% | +14.3% to +26.0% | 30.000 | "
			      "36.000 |"), "%s", buf);
	cr_assert(strstr(buf, "```sh\npyprobe diff --markdown ") && strstr(buf, "head.txt\n```"),
		  "how to reproduce:\n%s", buf);
	/* the text table still goes to standard output */
	cr_assert(!strncmp(r.out, "pyprobe diff: REGRESSION", 24), "%s", r.out);
}

/* ---- inputs that cannot be compared, usage, unreadable ------------------- */

Test(diff, different_programs_and_too_short)
{
	write_file("base.txt", base_txt);
	write_file("other.txt", "run (x.py:1);parse (x.py:3) 5000\nrun (x.py:1);emit (x.py:9) 5000\n");
	write_file("short.txt", "main (b.py:1);a (b.py:5) 30\nmain (b.py:1);b (b.py:9) 50\n");
	struct ts_run r;
	run(&r, (const char *[]){"diff", "base.txt", "other.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(!strncmp(r.err, "pyprobe: base and head look like different programs", 51) &&
		  strchr(r.err, '\n') == r.err + strlen(r.err) - 1 && !r.out[0], "%s|%s", r.err,
		  r.out);
	run(&r, (const char *[]){"diff", "short.txt", "short.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(!strncmp(r.err, "pyprobe: the runs are too short to judge a 10% change: 80 "
			   "samples in base, 80 in head", strlen("pyprobe: the runs are too short to "
			   "judge a 10% change: 80 samples in base, 80 in head")) && !r.out[0], "%s",
		  r.err);
	/* recordings of older formats are read (these are too short too) */
	char v10[PATH_MAX], v11[PATH_MAX];
	snprintf(v10, sizeof v10, "%s/fixtures/recordings/v1.0.pyprobe", ts_source_root());
	snprintf(v11, sizeof v11, "%s/fixtures/recordings/v1.1.pyprobe", ts_source_root());
	run(&r, (const char *[]){"diff", v10, v11, NULL});
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(strstr(r.err, "too short to judge"), "%s", r.err);
}

Test(diff, usage_errors)
{
	static const char *const cases[][6] = {
		{"diff", NULL},
		{"diff", "a.txt", NULL},
		{"diff", "a.txt", "b.txt", "c.txt", NULL},
		{"diff", "--threshold", "abc", "a.txt", "b.txt", NULL},
		{"diff", "--threshold", "0", "a.txt", "b.txt", NULL},
		{"diff", "--rate", "-5", "a.txt", "b.txt", NULL},
		{"diff", "--bogus", "a.txt", "b.txt", NULL},
		{"diff", "--markdown", NULL},
		{"diff", "--markdown", "-", "a.txt", "b.txt", NULL},
		{"diff", "-o", "graph.txt", "a.txt", "b.txt", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ts_run r;
		run(&r, cases[i]);
		cr_assert_eq(ts_exit_code(&r), 2, "case %zu: %s", i, r.err);
		cr_assert(!strncmp(r.err, "pyprobe: ", 9) && strstr(r.err, "pyprobe diff --help") &&
			  !r.out[0], "case %zu: %s", i, r.err);
	}
	struct ts_run r;
	/* -o draws HEAD's recording: collapsed files have none */
	write_file("base.txt", base_txt);
	write_file("head.txt", head_txt);
	run(&r, (const char *[]){"diff", "-o", "graph.svg", "base.txt", "head.txt", NULL});
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(strstr(r.err, "no .pyprobe recording") && !r.out[0], "%s", r.err);
	run(&r, (const char *[]){"diff", "--help", NULL});
	cr_assert_eq(ts_exit_code(&r), 0);
	cr_assert(!strncmp(r.out, "usage: pyprobe diff", 19), "%s", r.out);
	run(&r, (const char *[]){"--help", NULL});
	cr_assert(strstr(r.out, "  diff     "), "%s", r.out);
}

/* A corrupt recording, a missing file, a file of neither kind, an empty
 * directory: exit 6, and nothing on standard output (no verdict). */
Test(diff, unreadable_inputs)
{
	write_file("base.txt", base_txt);
	char src[PATH_MAX];
	snprintf(src, sizeof src, "%s/fixtures/recordings/v1.1.pyprobe", ts_source_root());
	static char buf[1 << 20];
	long n = ts_read_file(src, buf, sizeof buf);
	cr_assert_gt(n, 64, "cannot read %s", src);
	buf[n / 2] ^= 0x5a; /* inside a block: its checksum fails */
	char bad[PATH_MAX];
	path_in(bad, sizeof bad, "corrupt.pyprobe");
	FILE *f = fopen(bad, "wb");
	cr_assert(f && fwrite(buf, 1, (size_t)n, f) == (size_t)n && fclose(f) == 0);
	write_file("binary.txt", "main;a 12\n\x01\x02garbage without a count\n");
	char empty[PATH_MAX], missing[PATH_MAX];
	path_in(empty, sizeof empty, "empty_dir");
	ts_mkdir_p(empty);
	path_in(missing, sizeof missing, "no-such-file.pyprobe");
	const char *const cases[][4] = {
		{"diff", bad, "base.txt", NULL},
		{"diff", "base.txt", bad, NULL},
		{"diff", missing, "base.txt", NULL},
		{"diff", "base.txt", "binary.txt", NULL},
		{"diff", empty, "base.txt", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ts_run r;
		char md[PATH_MAX];
		path_in(md, sizeof md, "unreadable.md");
		unlink(md);
		const char *args[8] = {"diff", "--markdown", md, "--json", cases[i][1], cases[i][2],
				       NULL};
		run(&r, args);
		cr_assert_eq(ts_exit_code(&r), 6, "case %zu: %s", i, r.err);
		cr_assert(!strncmp(r.err, "pyprobe: ", 9) && strchr(r.err, '\n') ==
			  r.err + strlen(r.err) - 1, "case %zu: one line: %s", i, r.err);
		cr_assert(!r.out[0], "case %zu: a verdict printed:\n%s", i, r.out);
		cr_assert(access(md, F_OK) != 0, "case %zu: a comment written", i);
	}
}

/* ---- the gate on real recordings ------------------------------------------ */

/* Record fixtures/ci/bench.py 3 times for each of the n kinds (extra[k]:
 * its arguments), at 1000 Hz (~5 s, ~5000 samples a run on a quiet
 * machine), the kinds interleaved so that the machine's load falls on all
 * alike; dirs[k] gets kind k's runs. */
static void record_kinds(const char *const *names, const char *const (*extra)[3], int n,
			 char (*dirs)[PATH_MAX])
{
	char python[PATH_MAX];
	ts_pyenv_python("3.12.1", python, sizeof python);
	if (access(python, X_OK) != 0)
		cr_skip_test("python 3.12.1 (pyenv) is not installed: %s", python);
	char bench[PATH_MAX];
	snprintf(bench, sizeof bench, "%s/fixtures/ci/bench.py", ts_source_root());
	for (int s = 0; s < n; s++) {
		char name[64];
		snprintf(name, sizeof name, "gate_%s", names[s]);
		path_in(dirs[s], sizeof dirs[s], name);
		ts_mkdir_p(dirs[s]);
	}
	for (int i = 0; i < 3; i++)
		for (int s = 0; s < n; s++) {
			char out[PATH_MAX];
			snprintf(out, sizeof out, "%.3000s/%d.pyprobe", dirs[s], i);
			unlink(out);
			const char *args[16] = {"record", "-r", "1000", "--no-progress", "-o", out,
						"--", python, bench};
			int k = 9;
			for (int j = 0; j < 3 && extra[s][j]; j++)
				args[k++] = extra[s][j];
			args[k] = NULL;
			struct ts_run r;
			run(&r, args);
			cr_assert_eq(ts_exit_code(&r), 0, "record %s %d:\n%s", names[s], i, r.err);
		}
}

/* The value of "key": NUMBER in a JSON object's text; NAN if absent. */
static double json_num(const char *obj, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	const char *p = strstr(obj, pat);
	return p ? strtod(p + strlen(pat), NULL) : 0.0 / 0.0;
}

/* When the machine is so overloaded that diff rightly cannot tell (it
 * passed, and its 95% bounds on the total are over 20 points wide and hold
 * 0): say so and skip by name, rather than pass or flake. Samples are
 * wall-clock: a target waiting for a CPU for tens of milliseconds at a
 * time has those samples lumped on whatever function it was in, which
 * makes even functions' relative times noisy (measured at 2.5x
 * oversubscription: a ratio expected at 0.40 read 0.63 in one run). */
static void skip_if_swamped(const struct ts_run *r, const char *what)
{
	char t[2048];
	total_json(r->out, t, sizeof t);
	double lo = json_num(t, "low_pct"), hi = json_num(t, "high_pct");
	if (ts_exit_code(r) == 0 && lo < 0 && hi > 0 && hi - lo > 20)
		cr_skip_test("the machine's load spread the runs' times too much to judge %s "
			     "(95%% bounds on the total %.1f%% to %.1f%%; diff rightly passed): "
			     "not tested", what, lo, hi);
}

/* One function (parse, ~30% of the time) 20% slower: caught, and only it
 * named; A/A passes. Functions are judged over the runs' speed factors,
 * which load that stretches whole runs does not move. */
Test(diff_gate, one_function_slower)
{
	static const char *const names[] = {"base", "aa", "parse20"};
	static const char *const extra[][3] = {{NULL}, {NULL}, {"--slow", "parse", "20"}};
	char dirs[3][PATH_MAX];
	record_kinds(names, extra, 3, dirs);
	struct ts_run r;
	char f[2048];
	run(&r, (const char *[]){"diff", "--json", dirs[0], dirs[1], NULL});
	cr_assert_eq(ts_exit_code(&r), 0, "A/A must pass:\n%s%s", r.err, r.out);
	cr_assert_eq(count_in(r.out, "regressions"), 0, "%s", r.out);
	run(&r, (const char *[]){"diff", "--json", dirs[0], dirs[2], NULL});
	skip_if_swamped(&r, "a 20% slowdown of one function");
	cr_assert_eq(ts_exit_code(&r), 1, "parse +20%% must fail the gate:\n%s%s", r.err, r.out);
	cr_assert_eq(count_in(r.out, "regressions"), 1, "only parse:\n%s", r.out);
	cr_assert(fn_json(r.out, "regressions", "parse", f, sizeof f), "%s", r.out);
	cr_log_info("parse +20%%: %s", f);
	/* a recording of another script (app.py) against these: refused */
	char other[PATH_MAX];
	snprintf(other, sizeof other, "%s/fixtures/recordings/v1.0.pyprobe", ts_source_root());
	run(&r, (const char *[]){"diff", other, dirs[0], NULL});
	cr_assert_eq(ts_exit_code(&r), 2, "%s", r.err);
	cr_assert(strstr(r.err, "are recordings of different programs (app.py, bench.py)") &&
		  !r.out[0], "%s", r.err);
	/* the differential flame graph: parse a strong red */
	char svg[PATH_MAX], bench[PATH_MAX];
	path_in(svg, sizeof svg, "gate.svg");
	snprintf(bench, sizeof bench, "%s/fixtures/ci/bench.py:", ts_source_root());
	unlink(svg);
	run(&r, (const char *[]){"diff", "-o", svg, dirs[0], dirs[2], NULL});
	cr_assert_eq(ts_exit_code(&r), 1, "%s", r.err);
	static char buf[4 << 20];
	cr_assert_gt(ts_read_file(svg, buf, sizeof buf), 1000, "no %s", svg);
	/* (the standard library has a parse too: re's) */
	const char *t = strstr(buf, "<title>parse (");
	while (t && strncmp(t + 14, bench, strlen(bench)) != 0)
		t = strstr(t + 1, "<title>parse (");
	cr_assert(t, "no parse frame in the graph");
	const char *fill = strstr(t, "fill=\"rgb(");
	unsigned cr = 0, cg = 0, cb = 0;
	cr_assert(fill && sscanf(fill, "fill=\"rgb(%u,%u,%u)", &cr, &cg, &cb) == 3);
	cr_assert(cr == 255 && cg <= 155 && cb <= 155, "parse is rgb(%u,%u,%u)", cr, cg, cb);
	cr_assert(strstr(buf, "red: slower, blue: faster"), "no legend");
}

/* Everything 15% slower: a total regression; 4% slower: passes. The total
 * is judged on seconds a run, which load moves (skip_if_swamped). */
Test(diff_gate, everything_slower)
{
	static const char *const names[] = {"base2", "all15", "all4"};
	static const char *const extra[][3] = {{NULL}, {"--slow-all", "15", NULL},
					       {"--slow-all", "4", NULL}};
	char dirs[3][PATH_MAX];
	record_kinds(names, extra, 3, dirs);
	struct ts_run r;
	char t[2048];
	run(&r, (const char *[]){"diff", "--json", dirs[0], dirs[2], NULL});
	cr_assert_eq(ts_exit_code(&r), 0, "+4%% must pass:\n%s%s", r.err, r.out);
	cr_assert_eq(count_in(r.out, "regressions"), 0, "%s", r.out);
	run(&r, (const char *[]){"diff", "--json", dirs[0], dirs[1], NULL});
	total_json(r.out, t, sizeof t);
	/* a slowdown of everything alike is the total's, no function's */
	cr_assert_eq(count_in(r.out, "regressions"), 0, "%s", r.out);
	skip_if_swamped(&r, "a 15% slowdown of everything");
	cr_assert_eq(ts_exit_code(&r), 1, "everything +15%% must fail the gate:\n%s%s", r.err, r.out);
	cr_assert(strstr(t, "\"regression\": true"), "the total: %s", t);
	cr_log_info("all +15%%: %s", t);
}
