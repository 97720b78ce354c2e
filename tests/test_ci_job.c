/* The CI jobs docs/ci.md publishes (fixtures/ci/github-perf.yml and
 * fixtures/ci/gitlab-ci.yml, which the document quotes verbatim), run end
 * to end on a pull request with a planted regression: a temporary git
 * repository holds a base commit (fixtures/ci/bench.py and the job files)
 * and a head commit whose `parse` does 50% more work; tools/ci-local runs
 * each job as its provider would - pyprobe cloned from this source tree and
 * built as the job says, five runs a side recorded, diffed - and the job
 * must fail, name parse alone, and leave its artifacts, its pull-request
 * comment and a line of history. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

TestSuite(ci_job, .timeout = 1700);

static char buf[1 << 20], doc[1 << 20];

static void scratch(char *out, size_t n, const char *name)
{
	ts_scratch_path("ci_job", out, n, name);
}

/* sh -c, failing the test with its output unless it exits 0. */
static void sh(const char *cmd)
{
	static char out[16384];
	int rc = ts_shell(cmd, out, sizeof out);
	cr_assert_eq(rc, 0, "%s\nexited %d:\n%s", cmd, rc, out);
}

static void skip_unless_ready(char *python, size_t n)
{
	ts_pyenv_python("3.12.1", python, n);
	if (access(python, X_OK) != 0)
		cr_skip_test("python 3.12.1 (pyenv) is not installed: %s", python);
	static char out[4096];
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --verify -q HEAD 2>&1", ts_source_root());
	if (ts_shell(cmd, out, sizeof out) != 0)
		cr_skip_test("the source tree is not a git checkout, so a job cannot clone "
			     "pyprobe from it: %s", out);
	if (ts_shell("/usr/bin/python3 -c 'import yaml' 2>&1", out, sizeof out) != 0)
		cr_skip_test("tools/ci-local needs Debian's python3-yaml: %s", out);
}

/* The repository a pull request is made of: base, then head (parse +50%).
 * Its two commits, in base and head. */
static void make_repo(const char *repo, char *base, char *head)
{
	char cmd[4 * PATH_MAX];
	const char *src = ts_source_root();
	snprintf(cmd, sizeof cmd,
		 "set -e; rm -rf '%1$s'; mkdir -p '%1$s/.github/workflows'; cd '%1$s'; "
		 "git init -q -b main .; git config user.name ci; git config user.email ci@example.com; "
		 "cp '%2$s/fixtures/ci/bench.py' bench.py; "
		 "cp '%2$s/fixtures/ci/github-perf.yml' .github/workflows/perf.yml; "
		 "cp '%2$s/fixtures/ci/gitlab-ci.yml' .gitlab-ci.yml; "
		 "git add -A; git commit -qm 'the benchmark'; "
		 "sed -i 's/\"parse\": 30000/\"parse\": 45000/' bench.py; "
		 "grep -q '\"parse\": 45000' bench.py; "
		 "git commit -qam 'parse: 50%% more work'",
		 repo, src);
	sh(cmd);
	static char out[256];
	snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD~1 HEAD", repo);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0);
	cr_assert_eq(sscanf(out, "%40s %40s", base, head), 2, "%s", out);
}

/* Run the job; its log in LOG. The runner's exit status. */
static int run_job(const char *provider, const char *file, const char *work,
		   const char *repo, const char *base, const char *head, const char *python,
		   const char *log)
{
	char runner[PATH_MAX], env[PATH_MAX + 32];
	snprintf(runner, sizeof runner, "%s/tools/ci-local", ts_source_root());
	snprintf(env, sizeof env, "PYPROBE_GIT=file://%s", ts_source_root());
	/* Where pyprobe's source is, and 3 runs a side instead of 5 to keep
	 * the suite short (a project variable on GitLab; over the workflow's
	 * env on GitHub): the job's commands are the same. */
	const char *set = !strcmp(provider, "github") ? "--env" : "--var";
	char *argv[] = {runner, (char *)provider, (char *)file, "--job", "perf-gate",
			"--repo", (char *)repo, "--base", (char *)base, "--head", (char *)head,
			"--work", (char *)work, "--python", (char *)python, "--installed",
			(char *)set, env, (char *)set, "RUNS=3", NULL};
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
	sh(cmd);
	char out[PATH_MAX + 8];
	snprintf(out, sizeof out, "%s.out", log);
	pid_t pid = ts_spawn(argv, out, log, 1);
	cr_assert_gt(pid, 0);
	int st = ts_wait_bounded(pid, 1500);
	ts_read_file(log, buf, sizeof buf);
	cr_assert(st != -1 && WIFEXITED(st), "the job did not finish:\n%s", buf);
	return WEXITSTATUS(st);
}

/* The job's evidence, whatever its verdict: every artifact, base's
 * checkout paired with head's, the comment it posted (the artifact's), one
 * history line for the head commit. */
static void check_evidence(const char *artifacts, const char *comment, const char *head,
			   const char *log)
{
	char p[PATH_MAX];
	static const char *const files[] = {"base.svg", "head.svg", "diff.svg", "diff.json",
					    "comment.md", "history.jsonl"};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", artifacts, files[i]);
		struct stat s;
		cr_assert(stat(p, &s) == 0 && s.st_size > 0, "no artifact %s; the job's log:\n%s",
			  p, log);
	}
	snprintf(p, sizeof p, "%s/diff.json", artifacts);
	cr_assert_gt(ts_read_file(p, buf, sizeof buf), 0);
	/* base ran from another checkout: paired, not "different programs" */
	cr_assert(strstr(buf, "\"checkouts\": {\"base\": \""), "%s", buf);
	snprintf(p, sizeof p, "%s/comment.md", artifacts);
	static char md[65536];
	cr_assert_gt(ts_read_file(p, md, sizeof md), 0);
	cr_assert(!strncmp(md, "### pyprobe diff: ", 18), "%s", md);
	cr_assert_gt(ts_read_file(comment, buf, sizeof buf), 0, "no comment was posted (%s)", comment);
	cr_assert_str_eq(buf, md, "the posted comment is not the artifact's");
	snprintf(p, sizeof p, "%s/history.jsonl", artifacts);
	cr_assert_gt(ts_read_file(p, buf, sizeof buf), 0);
	char sha[64];
	snprintf(sha, sizeof sha, "{\"sha\":\"%s\",\"at\":\"", head);
	cr_assert(!strncmp(buf, sha, strlen(sha)) && strstr(buf, "\"verdict\":\"") &&
		  strchr(buf, '\n') == buf + strlen(buf) - 1, "one line for the head commit:\n%s", buf);
}

/* The entry of `function` in the "functions" list of diff.json (in buf),
 * to its closing brace, in out. */
static void entry_of(const char *json, const char *function, char *out, size_t n)
{
	char pat[128];
	snprintf(pat, sizeof pat, "{\"function\": \"%s\", \"file\": \"", function);
	const char *f = strstr(strstr(json, "\"functions\": ["), pat);
	cr_assert(f, "no %s in:\n%s", function, json);
	const char *e = strchr(f, '}');
	size_t len = e ? (size_t)(e - f + 1) : strlen(f);
	snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), f);
}

/* The verdict. Never an unchanged function named. parse, given 50% more
 * work, judged a regression - unless the machine's load spread the runs
 * so that diff rightly could not tell (parse not significant): then the
 * verdict is skipped by name, the job's evidence having been checked.
 * (Its callers may be named too: their time did grow.) */
static void check_verdict(int rc, const char *artifacts, const char *joblog)
{
	char p[PATH_MAX], parse[4096];
	snprintf(p, sizeof p, "%s/diff.json", artifacts);
	cr_assert_gt(ts_read_file(p, buf, sizeof buf), 0);
	const char *reg = strstr(buf, "\"regressions\": [");
	const char *imp = strstr(buf, "\"improvements\": [");
	cr_assert(reg && imp && reg < imp, "%s", buf);
	for (const char *q = reg; (q = strstr(q, "{\"function\": \"")) && q < imp; q++)
		cr_assert(strncmp(q, "{\"function\": \"transform\"", 24) &&
			  strncmp(q, "{\"function\": \"summarize\"", 24),
			  "an unchanged function named:\n%s", buf);
	entry_of(buf, "parse", parse, sizeof parse);
	if (strstr(parse, "\"significant\": false"))
		cr_skip_test("the machine's load spread the runs too much to judge parse +50%% "
			     "(diff rightly could not tell: %s); the job's artifacts, comment and "
			     "history were checked", parse);
	cr_assert(strstr(parse, "\"regression\": true"), "parse: %s", parse);
	const char *named = strstr(reg, "{\"function\": \"parse\", \"file\": \"");
	cr_assert(named && named < imp, "parse is not in regressions:\n%s", buf);
	cr_assert_eq(rc, 1, "the job must fail on the regression (runner exit %d):\n%s", rc, joblog);
	snprintf(p, sizeof p, "%s/comment.md", artifacts);
	cr_assert_gt(ts_read_file(p, buf, sizeof buf), 0);
	cr_assert(!strncmp(buf, "### pyprobe diff: :x: regression", 32) &&
		  strstr(buf, "| parse (") && strstr(buf, " | slower | "), "%s", buf);
}

/* The document's job is the tested file, byte for byte. */
static void quoted_in_doc(const char *fixture)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/docs/ci.md", ts_source_root());
	cr_assert_gt(ts_read_file(p, doc, sizeof doc), 0);
	snprintf(p, sizeof p, "%s/fixtures/ci/%s", ts_source_root(), fixture);
	cr_assert_gt(ts_read_file(p, buf, sizeof buf), 0);
	cr_assert(strstr(doc, buf), "docs/ci.md does not quote fixtures/ci/%s as it is", fixture);
}

Test(ci_job, github_actions_fails_the_pull_request)
{
	char python[PATH_MAX], repo[PATH_MAX], work[PATH_MAX], log[PATH_MAX], wf[PATH_MAX + 32];
	char base[48], head[48];
	quoted_in_doc("github-perf.yml");
	skip_unless_ready(python, sizeof python);
	scratch(repo, sizeof repo, "gh-repo");
	scratch(work, sizeof work, "gh-work");
	scratch(log, sizeof log, "gh-job.log");
	make_repo(repo, base, head);
	snprintf(wf, sizeof wf, "%s/.github/workflows/perf.yml", repo);
	int rc = run_job("github", wf, work, repo, base, head, python, log);
	static char joblog[1 << 20];
	ts_read_file(log, joblog, sizeof joblog);
	cr_assert(strstr(joblog, "ci-local: step 'diff': exit 0\n"), "%s", joblog);
	char artifacts[PATH_MAX + 32], comment[PATH_MAX + 32], summary[PATH_MAX + 32];
	snprintf(artifacts, sizeof artifacts, "%s/artifacts/perf", work);
	snprintf(comment, sizeof comment, "%s/provider/pr-1-comment.md", work);
	check_evidence(artifacts, comment, head, joblog);
	snprintf(summary, sizeof summary, "%s/provider/step-summary.md", work);
	cr_assert_gt(ts_read_file(summary, buf, sizeof buf), 0, "no step summary");
	cr_assert(!strncmp(buf, "### pyprobe diff: ", 18), "%s", buf);
	check_verdict(rc, artifacts, joblog);
	/* failed at the last step, on diff's exit 1 */
	cr_assert(strstr(joblog, "ci-local: step 'fail on a regression': exit 1\n"), "%s", joblog);
}

Test(ci_job, gitlab_fails_the_merge_request)
{
	char python[PATH_MAX], repo[PATH_MAX], work[PATH_MAX], log[PATH_MAX], file[PATH_MAX + 32];
	char base[48], head[48];
	quoted_in_doc("gitlab-ci.yml");
	skip_unless_ready(python, sizeof python);
	scratch(repo, sizeof repo, "gl-repo");
	scratch(work, sizeof work, "gl-work");
	scratch(log, sizeof log, "gl-job.log");
	make_repo(repo, base, head);
	snprintf(file, sizeof file, "%s/.gitlab-ci.yml", repo);
	int rc = run_job("gitlab", file, work, repo, base, head, python, log);
	static char joblog[1 << 20];
	ts_read_file(log, joblog, sizeof joblog);
	char artifacts[PATH_MAX + 32], comment[PATH_MAX + 32];
	snprintf(artifacts, sizeof artifacts, "%s/artifacts/perf-gate", work);
	snprintf(comment, sizeof comment, "%s/provider/mr-note.md", work);
	check_evidence(artifacts, comment, head, joblog);
	check_verdict(rc, artifacts, joblog);
	cr_assert(strstr(joblog, "ci-local: script: exit 1\n"), "%s", joblog);
}
