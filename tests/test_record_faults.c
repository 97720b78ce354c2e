/* Write faults and hostile recordings, through the CLI: a file size limit
 * (RLIMIT_FSIZE set in pyprobe's process before exec) and a full disk (a
 * tiny tmpfs in a private mount namespace) while `record`, `render` and
 * `report` write; a record that fails before sampling; a crafted
 * decompression bomb. The contract: one `pyprobe: ` line, exit 6; a
 * recording keeps its last complete block and still loads (cut short);
 * every other output is complete or not there at all (a file it would
 * have replaced is left as it was); nothing leaks (ASan aborts pyprobe on
 * a leak, and a signal fails the test - SIGXFSZ too). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static pid_t g_target = -1;

static void teardown(void)
{
	if (g_target > 0) {
		kill(-g_target, SIGKILL);
		waitpid(g_target, NULL, 0);
		g_target = -1;
	}
}

TestSuite(record_faults, .fini = teardown, .timeout = 300);

/* A fresh, empty directory per test: what is left in it is checked. */
static char g_dir[PATH_MAX];

static void fresh_dir(const char *name)
{
	const char *b = getenv("PYPROBE_BUILD_ROOT");
	snprintf(g_dir, sizeof g_dir, "%.3000s/tests/record_faults/%s",
		 b && *b ? b : "/tmp/pyprobe-tests", name);
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
	cr_assert_eq(system(cmd), 0);
	ts_mkdir_p(g_dir);
}

static void path_in(char *out, size_t n, const char *name)
{
	int w = snprintf(out, n, "%.3000s/%s", g_dir, name);
	cr_assert(w > 0 && (size_t)w < n, "path too long");
}

/* The names in g_dir, sorted, each followed by a space (hidden ones too:
 * a temporary file left behind shows). */
static void listing(char *buf, size_t n)
{
	struct dirent **ents;
	int k = scandir(g_dir, &ents, NULL, alphasort);
	cr_assert_geq(k, 0, "%s: %s", g_dir, strerror(errno));
	buf[0] = '\0';
	for (int i = 0; i < k; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			size_t len = strlen(buf);
			snprintf(buf + len, n - len, "%s ", ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

struct run {
	int status;
	char err[8192];
};

/* argv (argv[0] looked up in PATH), stdout to /dev/null, stderr kept
 * (through a pipe: the file size limit would cut a file); with fsize >= 0,
 * under that file size limit (set in the child, so it holds from exec
 * on). Waits at most 240 s. */
static void run_argv(struct run *r, char *const argv[], long fsize)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY), out = open("/dev/null", O_WRONLY);
		if (in < 0 || out < 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		if (fsize >= 0) {
			struct rlimit lim = {(rlim_t)fsize, (rlim_t)fsize};
			if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
				_exit(125);
		}
		execvp(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	/* read stderr to its end (the child's exit, or a timeout) */
	size_t n = 0;
	double deadline = ts_now_s() + 240;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		char buf[4096];
		ssize_t k = read(fds[0], buf, sizeof buf);
		if (k > 0) {
			size_t take = (size_t)k < sizeof r->err - 1 - n ? (size_t)k
								       : sizeof r->err - 1 - n;
			memcpy(r->err + n, buf, take);
			n += take;
			continue;
		}
		if (k == 0 || (errno != EAGAIN && errno != EINTR) || ts_now_s() > deadline)
			break;
		ts_sleep_ms(10);
	}
	r->err[n] = '\0';
	close(fds[0]);
	r->status = ts_wait_bounded(pid, 10);
	cr_assert(r->status != -1, "`%s %s` timed out:\n%s", argv[0], argv[1], r->err);
	/* SIGXFSZ (not ignored), or ASan aborting on a leak */
	cr_assert(!WIFSIGNALED(r->status), "`%s %s` died of signal %d:\n%s", argv[0], argv[1],
		  WTERMSIG(r->status), r->err);
	cr_assert(!strstr(r->err, "Sanitizer") && !strstr(r->err, "runtime error:"),
		  "sanitizer report:\n%s", r->err);
}

/* pyprobe ARGS... (NULL-terminated) under file size limit fsize (-1: none). */
static void run(struct run *r, long fsize, char *const args[])
{
	char *argv[32];
	int n = 0;
	argv[n++] = (char *)ts_pyprobe();
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	run_argv(r, argv, fsize);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* Exit `code` and stderr exactly one line starting "pyprobe: " that
 * contains `want`. */
static void assert_error(const struct run *r, int code, const char *want)
{
	cr_assert_eq(exit_code(r), code, "exit %d, want %d:\n%s", exit_code(r), code, r->err);
	size_t len = strlen(r->err);
	cr_assert(!strncmp(r->err, "pyprobe: ", 9) && len > 9 && r->err[len - 1] == '\n' &&
			  strchr(r->err, '\n') == r->err + len - 1,
		  "not one 'pyprobe: ' line:\n%s", r->err);
	cr_assert(strstr(r->err, want), "no \"%s\" in:\n%s", want, r->err);
}

/* A busy target (fixtures/bench/workload.py: one thread, ~26 frames deep)
 * that prints "ready"; its pid in pid[]. */
static void start_busy_target(char pid[32])
{
	char pybuf[512], workload[PATH_MAX], out[PATH_MAX];
	const char *python = ts_any_python(pybuf, sizeof pybuf);
	snprintf(workload, sizeof workload, "%s/fixtures/bench/workload.py", ts_source_root());
	path_in(out, sizeof out, "../target.out");
	char *argv[] = {(char *)python, workload, NULL};
	g_target = ts_spawn(argv, out, NULL, 1);
	cr_assert_gt(g_target, 0);
	char buf[64] = "";
	for (int i = 0; i < 500 && !strstr(buf, "ready"); i++) {
		ts_sleep_ms(20);
		ts_read_file(out, buf, sizeof buf);
	}
	cr_assert(strstr(buf, "ready"), "the target did not start");
	snprintf(pid, 32, "%d", (int)g_target);
}

/* Render a recording to collapsed text: it must load. Whether it said it
 * was cut short. */
static bool render_says_cut_short(const char *rec)
{
	char txt[PATH_MAX];
	snprintf(txt, sizeof txt, "%s.rendered.txt", rec);
	struct run r;
	char *args[] = {"render", (char *)rec, "-o", txt, NULL};
	run(&r, -1, args);
	cr_assert_eq(exit_code(&r), 0, "%s does not load:\n%s", rec, r.err);
	cr_assert_gt(file_size(txt), 0);
	unlink(txt);
	return strstr(r.err, "was cut short") != NULL;
}

/* ---- a file size limit (ulimit -f) ------------------------------------- */

/* The recording stops at the limit: cut back to its last complete block,
 * which loads (and says it was cut short); one line says so. */
Test(record_faults, file_size_limit_cuts_a_recording_to_its_last_block)
{
	fresh_dir("fsize_raw");
	char pid[32], rec[PATH_MAX], names[1024];
	start_busy_target(pid);
	path_in(rec, sizeof rec, "rec.pyprobe");
	struct run r;
	/* -r 5000 writes at most ~10 KB a second (a block a second): the
	 * limit is reached within seconds to tens of seconds, far before -d.
	 * Not -r max: on a quiet machine that samples at ~100 kHz and its
	 * first block alone (~200 KB) is over the limit. */
	char *args[] = {"record", "--pid", pid, "-r", "5000", "-d", "120", "--no-progress",
			"-o", rec, NULL};
	run(&r, 40000, args);
	assert_error(&r, 6, "cannot write");
	cr_assert(strstr(r.err, "File too large") && strstr(r.err, "ulimit -f") &&
		  strstr(r.err, "last complete block"), "%s", r.err);
	long size = file_size(rec);
	cr_assert(size > 16 && size <= 40000, "size %ld", size);
	listing(names, sizeof names);
	cr_assert_str_eq(names, "rec.pyprobe ");
	cr_assert(render_says_cut_short(rec), "a recording ended by a write error is cut short");
}

/* Every other format: no file at all, and one that was there stays as it
 * was (it is written under a temporary name, renamed only when whole). */
Test(record_faults, file_size_limit_leaves_no_partial_output)
{
	fresh_dir("fsize_formats");
	char pid[32], names[1024];
	start_busy_target(pid);
	static const char *const files[] = {"new.svg", "old.svg", "new.txt", "new.speedscope.json",
					    "new.pb.gz"};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char out[PATH_MAX];
		path_in(out, sizeof out, files[i]);
		int old = !strncmp(files[i], "old", 3);
		if (old)
			write_text(out, "the previous profile\n");
		struct run r;
		char *args[] = {"record", "--pid", pid, "-r", "max", "-d", "1", "--no-progress",
				"-o", out, NULL};
		run(&r, 300, args); /* every one of them is larger */
		assert_error(&r, 6, "File too large");
		listing(names, sizeof names);
		if (old) {
			char buf[256];
			ts_read_file(out, buf, sizeof buf);
			cr_assert_str_eq(buf, "the previous profile\n", "%s was overwritten",
					 files[i]);
			cr_assert_str_eq(names, "old.svg ", "%s: left %s", files[i], names);
			unlink(out);
		} else {
			cr_assert_str_eq(names, "", "%s: left %s", files[i], names);
		}
	}
	/* without the limit the same command writes it (so the limit was
	 * what failed) */
	char out[PATH_MAX];
	path_in(out, sizeof out, "new.svg");
	struct run r;
	char *args[] = {"record", "--pid", pid, "-r", "max", "-d", "1", "--no-progress", "-o",
			out, NULL};
	run(&r, -1, args);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	cr_assert_gt(file_size(out), 300);
	listing(names, sizeof names);
	cr_assert_str_eq(names, "new.svg ");
}

/* render -o and report -o: the same, from a recording that loads. */
Test(record_faults, file_size_limit_render_and_report)
{
	fresh_dir("fsize_render");
	char pid[32], rec[PATH_MAX], names[1024];
	start_busy_target(pid);
	path_in(rec, sizeof rec, "rec.pyprobe");
	struct run r;
	char *args[] = {"record", "--pid", pid, "-r", "max", "-d", "1", "--no-progress", "-o",
			rec, NULL};
	run(&r, -1, args);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	cr_assert(!render_says_cut_short(rec), "record ended it: finished");
	char old[PATH_MAX];
	path_in(old, sizeof old, "old.svg");
	write_text(old, "the previous flame graph\n");
	const char *outs[][2] = {{"render", "new.svg"}, {"render", "old.svg"},
				 {"render", "new.pb.gz"}, {"report", "timeline.svg"},
				 {"report", "report.json"}, {"report", "report.txt"}};
	for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
		char out[PATH_MAX];
		path_in(out, sizeof out, outs[i][1]);
		char *a[] = {(char *)outs[i][0], rec, "-o", out, NULL};
		run(&r, 100, a);
		assert_error(&r, 6, "File too large");
		listing(names, sizeof names);
		cr_assert_str_eq(names, "old.svg rec.pyprobe ", "%s -o %s: left %s", outs[i][0],
				 outs[i][1], names);
	}
	char buf[256];
	ts_read_file(old, buf, sizeof buf);
	cr_assert_str_eq(buf, "the previous flame graph\n");
	/* and without the limit, render replaces it */
	char *a[] = {"render", rec, "-o", old, NULL};
	run(&r, -1, a);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	ts_read_file(old, buf, sizeof buf);
	cr_assert(!strncmp(buf, "<?xml", 5), "%s", buf);
	listing(names, sizeof names);
	cr_assert_str_eq(names, "old.svg rec.pyprobe ");
}

/* ---- a full disk ---------------------------------------------------------- */

/* Run pyprobe with `args` in a private mount namespace where `mnt` is a
 * tmpfs of `size`, then copy what it left there to g_dir/left/ and list
 * it in g_dir/left.txt. Skips the test when the namespace or the mount
 * cannot be made (not root, no unshare). */
static void run_on_tiny_tmpfs(struct run *r, const char *size, char *const args[])
{
	if (geteuid() != 0)
		cr_skip_test("full disk: needs root to mount a tmpfs");
	char mnt[PATH_MAX], left[PATH_MAX], opt[64];
	path_in(mnt, sizeof mnt, "mnt");
	path_in(left, sizeof left, "left");
	ts_mkdir_p(mnt);
	ts_mkdir_p(left);
	snprintf(opt, sizeof opt, "size=%s", size);
	/* $1 mount point, $2 tmpfs options, $3 where to copy to, then
	 * pyprobe and its arguments */
	static const char script[] =
		"mount -t tmpfs -o \"$2\" none \"$1\" || exit 99\n"
		"m=$1 l=$3; shift 3\n"
		"\"$@\"; rc=$?\n"
		"ls -A \"$m\" > \"$l.txt\"; cp -a \"$m\"/. \"$l\"/\n"
		"exit $rc\n";
	char *argv[40];
	int n = 0;
	argv[n++] = "unshare";
	argv[n++] = "-m";
	argv[n++] = "sh";
	argv[n++] = "-c";
	argv[n++] = (char *)script;
	argv[n++] = "sh";
	argv[n++] = mnt;
	argv[n++] = opt;
	argv[n++] = left;
	argv[n++] = (char *)ts_pyprobe();
	for (int i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	run_argv(r, argv, -1);
	if (exit_code(r) == 99 || (exit_code(r) == 1 && strstr(r->err, "unshare")))
		cr_skip_test("full disk: cannot mount a tmpfs in a private mount namespace: %s",
			     r->err);
}

/* What was left on the tmpfs (names, each followed by a space). */
static void left_on_tmpfs(char *buf, size_t n)
{
	char list[PATH_MAX], raw[1024];
	path_in(list, sizeof list, "left.txt");
	ts_read_file(list, raw, sizeof raw);
	buf[0] = '\0';
	for (char *tok = strtok(raw, "\n"); tok; tok = strtok(NULL, "\n")) {
		size_t len = strlen(buf);
		snprintf(buf + len, n - len, "%s ", tok);
	}
}

Test(record_faults, full_disk_keeps_a_recording_to_its_last_block)
{
	fresh_dir("full_raw");
	char pid[32], mnt_rec[PATH_MAX], copy[PATH_MAX], names[1024];
	start_busy_target(pid);
	path_in(mnt_rec, sizeof mnt_rec, "mnt/rec.pyprobe");
	struct run r;
	/* -r 5000, not max: see file_size_limit_cuts_a_recording_to_its_last_block */
	char *args[] = {"record", "--pid", pid, "-r", "5000", "-d", "120", "--no-progress",
			"-o", mnt_rec, NULL};
	run_on_tiny_tmpfs(&r, "64k", args);
	assert_error(&r, 6, "No space left on device");
	cr_assert(strstr(r.err, "free some space") && strstr(r.err, "last complete block"),
		  "%s", r.err);
	left_on_tmpfs(names, sizeof names);
	cr_assert_str_eq(names, "rec.pyprobe ");
	path_in(copy, sizeof copy, "left/rec.pyprobe");
	cr_assert_gt(file_size(copy), 16);
	cr_assert(render_says_cut_short(copy));
}

Test(record_faults, full_disk_leaves_no_partial_svg)
{
	fresh_dir("full_svg");
	char pid[32], out[PATH_MAX], names[1024];
	start_busy_target(pid);
	path_in(out, sizeof out, "mnt/out.svg");
	struct run r;
	/* a flame graph of it is over 8 KB (its script alone) */
	char *args[] = {"record", "--pid", pid, "-r", "max", "-d", "1", "--no-progress", "-o",
			out, NULL};
	run_on_tiny_tmpfs(&r, "8k", args);
	assert_error(&r, 6, "No space left on device");
	left_on_tmpfs(names, sizeof names);
	cr_assert_str_eq(names, "", "left %s", names);
}

Test(record_faults, full_disk_render_and_report)
{
	fresh_dir("full_render");
	char pid[32], rec[PATH_MAX], names[1024];
	start_busy_target(pid);
	path_in(rec, sizeof rec, "rec.pyprobe");
	struct run r;
	char *args[] = {"record", "--pid", pid, "-r", "max", "-d", "1", "--no-progress", "-o",
			rec, NULL};
	run(&r, -1, args);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	const char *outs[][2] = {{"render", "mnt/out.svg"}, {"report", "mnt/timeline.svg"}};
	for (size_t i = 0; i < 2; i++) {
		char out[PATH_MAX];
		path_in(out, sizeof out, outs[i][1]);
		char *a[] = {(char *)outs[i][0], rec, "-o", out, NULL};
		run_on_tiny_tmpfs(&r, "4k", a);
		assert_error(&r, 6, "No space left on device");
		left_on_tmpfs(names, sizeof names);
		cr_assert_str_eq(names, "", "%s: left %s", outs[i][0], names);
	}
}

/* ---- a record that fails before sampling -------------------------------- */

/* No file, not even an empty one; a file of that name is left alone. */
Test(record_faults, failed_record_leaves_no_file)
{
	fresh_dir("failed");
	char names[1024], old[PATH_MAX];
	path_in(old, sizeof old, "old.svg");
	write_text(old, "kept\n");
	static const char *const outs[] = {"x.svg", "x.pyprobe", "x.txt", "old.svg"};
	for (size_t i = 0; i < 4; i++) {
		char out[PATH_MAX];
		path_in(out, sizeof out, outs[i]);
		struct run r;
		char *args[] = {"record", "--pid", "999999999", "-o", out, NULL};
		run(&r, -1, args);
		assert_error(&r, 3, "999999999");
		listing(names, sizeof names);
		cr_assert_str_eq(names, "old.svg ", "%s: left %s", outs[i], names);
	}
	/* not Python: status 5 (after the launch grace, a few seconds) */
	char out[PATH_MAX];
	path_in(out, sizeof out, "sleep.pyprobe");
	struct run r;
	char *args[] = {"record", "--no-progress", "-o", out, "--", "sleep", "100", NULL};
	run(&r, -1, args);
	cr_assert_eq(exit_code(&r), 5, "%s", r.err);
	listing(names, sizeof names);
	cr_assert_str_eq(names, "old.svg ", "left %s", names);
	char buf[64];
	ts_read_file(old, buf, sizeof buf);
	cr_assert_str_eq(buf, "kept\n");
}

/* Permission denied (status 4): pyprobe as uid 65534 against a target of
 * root's, writing into a directory it may write. */
Test(record_faults, permission_denied_leaves_no_file)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (to run pyprobe as another user)");
	if (system("command -v setpriv >/dev/null 2>&1") != 0)
		cr_skip_test("setpriv not installed");
	fresh_dir("perm");
	cr_assert_eq(chmod(g_dir, 01777), 0);
	char pid[32], out[PATH_MAX], names[1024];
	start_busy_target(pid);
	static const char *const outs[] = {"x.svg", "x.pyprobe"};
	for (size_t i = 0; i < 2; i++) {
		path_in(out, sizeof out, outs[i]);
		char *argv[] = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
				(char *)ts_pyprobe(), "record", "--pid", pid, "-o", out, NULL};
		struct run r;
		run_argv(&r, argv, -1);
		cr_assert_eq(exit_code(&r), 4, "%s", r.err);
		listing(names, sizeof names);
		cr_assert_str_eq(names, "", "%s: left %s", outs[i], names);
	}
}

/* ---- a crafted recording -------------------------------------------------- */

/* The decompression bomb (fixtures/recordings/make_bomb.py): a
 * block that would inflate ~1000:1 to 256 MiB of all-zero samples. render
 * and report refuse it as corrupt from its header, with nothing allocated
 * for it (a pyprobe without the cap spends gigabytes here, which ASan
 * turns into a failure). report -o leaves no file. */
Test(record_faults, a_decompression_bomb_is_a_corrupt_recording)
{
	fresh_dir("bomb");
	char bomb[PATH_MAX], gen[PATH_MAX], names[1024];
	path_in(bomb, sizeof bomb, "bomb.pyprobe");
	snprintf(gen, sizeof gen, "%s/fixtures/recordings/make_bomb.py", ts_source_root());
	struct run r;
	char *mk[] = {"python3", gen, bomb, "--mb", "0.2", NULL};
	run_argv(&r, mk, -1);
	cr_assert_eq(exit_code(&r), 0, "make_bomb.py: %s", r.err);
	cr_assert_gt(file_size(bomb), 200000);
	char out[PATH_MAX], txt[PATH_MAX];
	path_in(out, sizeof out, "bomb.svg");
	path_in(txt, sizeof txt, "bomb.txt");
	char *render[] = {"render", bomb, "-o", out, NULL};
	char *report[] = {"report", bomb, NULL};
	char *report_o[] = {"report", bomb, "-o", txt, NULL};
	char *const *cmds[] = {render, report, report_o};
	for (size_t i = 0; i < 3; i++) {
		run(&r, -1, cmds[i]);
		assert_error(&r, 6, "corrupt recording: block 1");
		cr_assert(strstr(r.err, "256:1"), "%s", r.err);
		listing(names, sizeof names);
		cr_assert_str_eq(names, "bomb.pyprobe ", "left %s", names);
	}
}

/* ---- what the rename keeps ------------------------------------------------ */

/* An output that is a symbolic link stays one (its target is replaced);
 * a file replaced keeps its mode. */
Test(record_faults, a_replaced_output_keeps_its_link_and_mode)
{
	fresh_dir("link");
	char pid[32], rec[PATH_MAX], target[PATH_MAX], link[PATH_MAX], names[1024];
	start_busy_target(pid);
	path_in(rec, sizeof rec, "rec.pyprobe");
	struct run r;
	char *args[] = {"record", "--pid", pid, "-d", "1", "--no-progress", "-o", rec, NULL};
	run(&r, -1, args);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	path_in(target, sizeof target, "target.txt");
	path_in(link, sizeof link, "link.txt");
	write_text(target, "old\n");
	cr_assert_eq(chmod(target, 0600), 0);
	cr_assert_eq(symlink("target.txt", link), 0);
	char *a[] = {"render", rec, "-o", link, NULL};
	run(&r, -1, a);
	cr_assert_eq(exit_code(&r), 0, "%s", r.err);
	struct stat st;
	cr_assert_eq(lstat(link, &st), 0);
	cr_assert(S_ISLNK(st.st_mode), "the link was replaced by a file");
	cr_assert_eq(stat(target, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	char buf[4096];
	ts_read_file(target, buf, sizeof buf);
	cr_assert(strstr(buf, "workload.py"), "not rendered: %s", buf);
	listing(names, sizeof names);
	cr_assert_str_eq(names, "link.txt rec.pyprobe target.txt ");
}
