/* reader/os_state.c against real tasks: children of the test blocked in
 * known system calls, spinning, exited, renamed, and a reader without
 * ptrace rights. The kernel changes state asynchronously, so every check
 * polls until the expected state shows up (or a generous timeout).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reader/os_state.h"

/* Children started by the current test; killed and reaped by its .fini
 * even when an assertion ends the test early. */
static pid_t kids[8];
static int nkids;

static void reap_kids(void)
{
	for (int i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
}

/* Fork a child running fn(arg). The child dies with the test (so a failed
 * test never leaves it behind) and never returns into Criterion. */
static pid_t spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fn(arg);
		_exit(0);
	}
	cr_assert_lt(nkids, 8);
	kids[nkids++] = pid;
	return pid;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A pipe nobody ever writes to: reading it blocks in read() for good. */
static int block_pipe[2];
/* The child says "ready" on this one before it blocks. */
static int ready_pipe[2];

static void make_pipes(void)
{
	cr_assert_eq(pipe(block_pipe), 0);
	cr_assert_eq(pipe(ready_pipe), 0);
}

static void say_ready(void)
{
	char c = 'r';
	if (write(ready_pipe[1], &c, 1) != 1)
		_exit(90);
}

static void wait_ready(void)
{
	char c;
	cr_assert_eq(read(ready_pipe[0], &c, 1), 1, "child died before it was ready");
}

static void child_read(void *arg)
{
	(void)arg;
	char c;
	say_ready();
	if (read(block_pipe[0], &c, 1) < 0)
		_exit(91);
}

typedef int (*state_pred)(const struct pp_os_state *s);

/* Read tid until pred holds (up to ~10 s); returns the last state read. */
static struct pp_os_state poll_state(struct pp_os_reader *r, int tid, state_pred pred)
{
	struct pp_os_state s;
	for (int i = 0; i < 1000; i++) {
		int rc = pp_os_reader_read(r, tid, &s);
		cr_assert_eq(rc, 0, "pp_os_reader_read(%d): %s", tid, strerror(-rc));
		if (pred(&s))
			return s;
		sleep_ms(10);
	}
	return s;
}

static int blocked_in_syscall(const struct pp_os_state *s)
{
	return s->run == PP_OS_SLEEPING && s->in_syscall == 1;
}

static int is_running(const struct pp_os_state *s)
{
	return s->run == PP_OS_RUNNING && s->in_syscall == 0;
}

static int is_zombie(const struct pp_os_state *s)
{
	return s->run == PP_OS_ZOMBIE;
}

static int is_sleeping(const struct pp_os_state *s)
{
	return s->run == PP_OS_SLEEPING;
}

Test(os_state, blocked_in_read, .fini = reap_kids)
{
	make_pipes();
	pid_t pid = spawn(child_read, NULL);
	wait_ready();

	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r, "pp_os_reader_new: %s", strerror(errno));
	struct pp_os_state s = poll_state(r, pid, blocked_in_syscall);
	cr_assert_eq(s.run, PP_OS_SLEEPING, "run = %s", pp_os_run_name(s.run));
	cr_assert_eq(s.in_syscall, 1);
	cr_assert_eq(s.syscall_nr, 0);
	cr_assert_str_eq(pp_syscall_name(s.syscall_nr), "read");
	/* read(fd, buf, 1): the arguments come through too. */
	cr_assert_eq(s.args[0], (uint64_t)block_pipe[0]);
	cr_assert_eq(s.args[2], 1);

	/* Reading again goes through the cached fds and says the same. */
	struct pp_os_state again;
	cr_assert_eq(pp_os_reader_read(r, pid, &again), 0);
	cr_assert_eq(again.run, PP_OS_SLEEPING);
	cr_assert_eq(again.syscall_nr, 0);
	pp_os_reader_free(r);
}

/* The fast read (syscall file only for a blocked task) says the same as
 * the full one for a task blocked in a system call. */
Test(os_state, fast_read_agrees, .fini = reap_kids)
{
	make_pipes();
	pid_t pid = spawn(child_read, NULL);
	wait_ready();
	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);
	struct pp_os_state full = poll_state(r, pid, blocked_in_syscall), fast;
	cr_assert_eq(pp_os_reader_read_fast(r, pid, &fast), 0);
	cr_assert_eq(fast.run, PP_OS_SLEEPING, "run = %s", pp_os_run_name(fast.run));
	cr_assert_eq(fast.in_syscall, 1);
	cr_assert_eq(fast.syscall_nr, full.syscall_nr);
	cr_assert_eq(fast.args[0], full.args[0]);
	pp_os_reader_free(r);
}

static void child_nanosleep(void *arg)
{
	(void)arg;
	struct timespec ts = {3600, 0};
	say_ready();
	nanosleep(&ts, NULL);
}

Test(os_state, blocked_in_nanosleep, .fini = reap_kids)
{
	make_pipes();
	pid_t pid = spawn(child_nanosleep, NULL);
	wait_ready();

	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);
	struct pp_os_state s = poll_state(r, pid, blocked_in_syscall);
	cr_assert_eq(s.run, PP_OS_SLEEPING, "run = %s", pp_os_run_name(s.run));
	cr_assert_eq(s.in_syscall, 1);
	/* glibc implements nanosleep() with clock_nanosleep(2); older ones
	 * made the nanosleep(2) call itself. */
	const char *name = pp_syscall_name(s.syscall_nr);
	cr_assert_not_null(name, "nr %ld has no name", s.syscall_nr);
	cr_assert(strcmp(name, "nanosleep") == 0 || strcmp(name, "clock_nanosleep") == 0,
		  "blocked in %s", name);
	pp_os_reader_free(r);
}

static void child_spin(void *arg)
{
	(void)arg;
	say_ready();
	for (volatile unsigned long i = 0;; i++)
		;
}

Test(os_state, spinning_is_running, .fini = reap_kids)
{
	make_pipes();
	pid_t pid = spawn(child_spin, NULL);
	wait_ready();

	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);
	/* Polling covers the moments the scheduler has it off the CPU (it is
	 * still 'R' then) and the write() it made just before. */
	struct pp_os_state s = poll_state(r, pid, is_running);
	cr_assert_eq(s.run, PP_OS_RUNNING, "run = %s", pp_os_run_name(s.run));
	cr_assert_eq(s.in_syscall, 0);
	pp_os_reader_free(r);
}

static void child_exit(void *arg)
{
	(void)arg;
	_exit(0);
}

Test(os_state, unreaped_child_is_zombie, .fini = reap_kids)
{
	pid_t pid = spawn(child_exit, NULL);
	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);
	struct pp_os_state s = poll_state(r, pid, is_zombie);
	cr_assert_eq(s.run, PP_OS_ZOMBIE, "run = %s", pp_os_run_name(s.run));
	cr_assert_str_eq(pp_os_run_name(s.run), "zombie");
	pp_os_reader_free(r);
}

/* A pid that certainly names no task of ours: a child already reaped. */
static pid_t reaped_pid(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return pid;
}

Test(os_state, nonexistent_tid)
{
	pid_t gone = reaped_pid();

	struct pp_os_reader *r = pp_os_reader_new(getpid());
	cr_assert_not_null(r);
	struct pp_os_state s;
	memset(&s, 0x5a, sizeof s);
	int rc = pp_os_reader_read(r, gone, &s);
	cr_assert(rc == -ENOENT || rc == -ESRCH, "rc = %d", rc);
	cr_assert_eq(s.run, PP_OS_UNKNOWN);
	cr_assert_eq(s.in_syscall, -1);

	memset(&s, 0x5a, sizeof s);
	cr_assert_eq(pp_os_reader_read(r, 0, &s), -EINVAL);
	cr_assert_eq(s.run, PP_OS_UNKNOWN);
	cr_assert_eq(pp_os_reader_read(r, -3, &s), -EINVAL);
	/* Still a working reader afterwards: our own thread is running (the
	 * kernel reports the caller itself as running). */
	cr_assert_eq(pp_os_reader_read(r, getpid(), &s), 0);
	cr_assert_eq(s.run, PP_OS_RUNNING);
	pp_os_reader_free(r);

	/* A process that is gone gives a reader whose reads say so (NULL
	 * would mean out of memory). */
	r = pp_os_reader_new(gone);
	cr_assert_not_null(r);
	memset(&s, 0x5a, sizeof s);
	cr_assert_eq(pp_os_reader_read(r, gone, &s), -ENOENT);
	cr_assert_eq(s.run, PP_OS_UNKNOWN);
	cr_assert_eq(s.in_syscall, -1);
	pp_os_reader_free(r);
	errno = 0;
	cr_assert_null(pp_os_reader_new(0));
	cr_assert_eq(errno, EINVAL);
	pp_os_reader_free(NULL);
	cr_assert_str_eq(pp_os_run_name(PP_OS_UNKNOWN), "unknown");
	cr_assert_str_eq(pp_os_run_name((enum pp_os_run)42), "unknown");
}

/* The child's extra threads block on this pipe until the test writes to
 * it (one byte per thread) or kills them. */
static int release_pipe[2];

static void *thread_block(void *arg)
{
	const char *name = arg;
	if (name)
		prctl(PR_SET_NAME, name);
	say_ready();
	char c;
	if (read(release_pipe[0], &c, 1) < 0)
		_exit(92);
	return NULL;
}

/* Main thread plus two: both block in read() until released. The main
 * thread joins them and then blocks for good. */
static void child_threads(void *arg)
{
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, thread_block, i == 0 ? arg : NULL))
			_exit(93);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	child_read(NULL);
}

static void wait_ready_n(int n)
{
	for (int i = 0; i < n; i++)
		wait_ready();
}

Test(os_state, list_tasks, .fini = reap_kids)
{
	make_pipes();
	cr_assert_eq(pipe(release_pipe), 0);
	pid_t pid = spawn(child_threads, NULL);
	wait_ready_n(2);

	int *tids;
	size_t n;
	cr_assert_eq(pp_os_list_tasks(pid, &tids, &n), 0);
	cr_assert_eq(n, 3);
	int has_main = 0;
	for (size_t i = 0; i < n; i++) {
		has_main |= tids[i] == pid;
		if (i)
			cr_assert_lt(tids[i - 1], tids[i], "not ascending");
	}
	cr_assert(has_main, "the main thread's tid is the pid");
	free(tids);

	pid_t gone = reaped_pid();
	cr_assert_eq(pp_os_list_tasks(gone, &tids, &n), -ENOENT);
	cr_assert_null(tids);
	cr_assert_eq(n, 0);
}

static int is_gone(struct pp_os_reader *r, int tid)
{
	struct pp_os_state s;
	int rc = pp_os_reader_read(r, tid, &s);
	cr_assert(rc == 0 || rc == -ENOENT || rc == -ESRCH, "rc = %d", rc);
	return rc < 0 && s.run == PP_OS_UNKNOWN;
}

Test(os_state, thread_that_exits_is_dropped, .fini = reap_kids)
{
	make_pipes();
	cr_assert_eq(pipe(release_pipe), 0);
	pid_t pid = spawn(child_threads, NULL);
	wait_ready_n(2);

	int *tids;
	size_t n;
	cr_assert_eq(pp_os_list_tasks(pid, &tids, &n), 0);
	cr_assert_eq(n, 3);
	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);
	/* Open (and cache) every task's files while all three are alive:
	 * the threads wait in read(), the main thread in pthread_join(). */
	for (size_t i = 0; i < n; i++) {
		struct pp_os_state s = poll_state(r, tids[i], blocked_in_syscall);
		cr_assert_str_eq(pp_syscall_name(s.syscall_nr), tids[i] == pid ? "futex" : "read");
	}

	/* Release both threads; their cached fds must now report them gone
	 * rather than stale data, and the main thread reads on. */
	cr_assert_eq(write(release_pipe[1], "xx", 2), 2);
	for (size_t i = 0; i < n; i++) {
		if (tids[i] == pid)
			continue;
		int gone = 0;
		for (int k = 0; k < 1000 && !gone; k++) {
			gone = is_gone(r, tids[i]);
			if (!gone)
				sleep_ms(10);
		}
		cr_assert(gone, "thread %d still readable after it exited", tids[i]);
	}
	struct pp_os_state s = poll_state(r, pid, blocked_in_syscall);
	cr_assert_eq(s.run, PP_OS_SLEEPING);
	pp_os_reader_free(r);
	free(tids);
}

/* Open fds of this process (the one opendir() itself uses excluded). */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

#define WAVE 20

/* Two waves of WAVE threads, one after the other; each wave blocks in
 * read() until the test releases it. */
static void child_waves(void *arg)
{
	(void)arg;
	for (int wave = 0; wave < 2; wave++) {
		pthread_t t[WAVE];
		for (int i = 0; i < WAVE; i++)
			if (pthread_create(&t[i], NULL, thread_block, NULL))
				_exit(94);
		for (int i = 0; i < WAVE; i++)
			pthread_join(t[i], NULL);
	}
	child_read(NULL);
}

/* Whether any of old[0..n) (other than the main thread) is still a task. */
static int any_left(pid_t pid, const int *old, size_t nold)
{
	int *tids;
	size_t n;
	cr_assert_eq(pp_os_list_tasks(pid, &tids, &n), 0);
	int left = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < nold; j++)
			left |= tids[i] == old[j] && old[j] != pid;
	free(tids);
	return left;
}

/* A sampler stops asking about threads that ended; their fds must not
 * pile up over the life of the reader. */
Test(os_state, fds_of_exited_threads_are_reclaimed, .fini = reap_kids)
{
	make_pipes();
	cr_assert_eq(pipe(release_pipe), 0);
	pid_t pid = spawn(child_waves, NULL);
	int base = count_fds();
	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);

	int *first = NULL;
	size_t nfirst = 0;
	for (int wave = 0; wave < 2; wave++) {
		wait_ready_n(WAVE);
		int *tids;
		size_t n;
		cr_assert_eq(pp_os_list_tasks(pid, &tids, &n), 0);
		cr_assert_eq(n, WAVE + 1);
		for (size_t i = 0; i < n; i++) {
			struct pp_os_state s;
			cr_assert_eq(pp_os_reader_read(r, tids[i], &s), 0);
		}
		/* The task directory, and two files per live task. */
		cr_assert_leq(count_fds(), base + 1 + 2 * (WAVE + 1));

		if (wave == 0) {
			first = tids;
			nfirst = n;
			char bytes[WAVE];
			memset(bytes, 'x', sizeof bytes);
			cr_assert_eq(write(release_pipe[1], bytes, WAVE), WAVE);
			/* Wait until the kernel has reaped the whole first wave,
			 * without reading those tids again. */
			for (int k = 0; k < 1000 && any_left(pid, first, nfirst); k++)
				sleep_ms(10);
		} else {
			free(tids);
		}
	}
	free(first);
	pp_os_reader_free(r);
	cr_assert_eq(count_fds(), base);
}

static void read_comm(int pid, int tid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/comm", pid, tid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, (int)len, f));
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

Test(os_state, comm_with_spaces_and_parens, .fini = reap_kids)
{
	/* Reading the state after the FIRST ')' would see " R (b..." and
	 * say running; the thread is sleeping in read(). 15 bytes is the most
	 * a comm holds. */
	static char name[] = "a) R (b) R )";
	make_pipes();
	cr_assert_eq(pipe(release_pipe), 0);
	pid_t pid = spawn(child_threads, name);
	wait_ready_n(2);

	int *tids;
	size_t n;
	cr_assert_eq(pp_os_list_tasks(pid, &tids, &n), 0);
	int found = 0;
	struct pp_os_reader *r = pp_os_reader_new(pid);
	cr_assert_not_null(r);
	for (size_t i = 0; i < n; i++) {
		char comm[64];
		read_comm(pid, tids[i], comm, sizeof comm);
		if (strcmp(comm, name) != 0)
			continue;
		found = 1;
		struct pp_os_state s = poll_state(r, tids[i], blocked_in_syscall);
		cr_assert_eq(s.run, PP_OS_SLEEPING, "run = %s", pp_os_run_name(s.run));
		cr_assert_eq(s.in_syscall, 1);
		cr_assert_str_eq(pp_syscall_name(s.syscall_nr), "read");
	}
	cr_assert(found, "no thread named \"%s\"", name);
	pp_os_reader_free(r);
	free(tids);
}

/* A reader without ptrace rights over the target still gets the run state
 * (stat is world-readable) but not the syscall (mode 0400, ptrace check):
 * in_syscall = -1 and the read succeeds. The target makes itself
 * non-dumpable, which takes the rights from a non-root reader of the same
 * user; as root, the reader drops to nobody first. */
static void child_nondumpable_read(void *arg)
{
	(void)arg;
	prctl(PR_SET_DUMPABLE, 0);
	child_read(NULL);
}

static int check_without_rights(pid_t target)
{
	if (geteuid() == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			return 77;
	}
	struct pp_os_reader *r = pp_os_reader_new(target);
	if (!r)
		return 10;
	struct pp_os_state s;
	int rc = -1;
	for (int i = 0; i < 1000; i++) {
		rc = pp_os_reader_read(r, target, &s);
		if (rc != 0)
			return 11;
		if (is_sleeping(&s))
			break;
		sleep_ms(10);
	}
	pp_os_reader_free(r);
	if (s.run != PP_OS_SLEEPING)
		return 12;
	if (s.in_syscall != -1)
		return 13;
	return 0;
}

Test(os_state, syscall_without_ptrace_rights, .fini = reap_kids)
{
	make_pipes();
	pid_t target = spawn(child_nondumpable_read, NULL);
	wait_ready();

	pid_t helper = fork();
	cr_assert_geq(helper, 0);
	if (helper == 0)
		_exit(check_without_rights(target));
	int status;
	cr_assert_eq(waitpid(helper, &status, 0), helper);
	cr_assert(WIFEXITED(status), "helper died: status %#x", status);
	if (WEXITSTATUS(status) == 77)
		cr_skip_test("cannot drop privileges");
	cr_assert_eq(WEXITSTATUS(status), 0,
		     "10: no reader, 11: read failed, 12: not sleeping, 13: in_syscall != -1");
}

Test(os_state, syscall_names)
{
	cr_assert_str_eq(pp_syscall_name(0), "read");
	cr_assert_str_eq(pp_syscall_name(1), "write");
	cr_assert_str_eq(pp_syscall_name(202), "futex");
	cr_assert_str_eq(pp_syscall_name(230), "clock_nanosleep");
	cr_assert_str_eq(pp_syscall_name(232), "epoll_wait");
	cr_assert_null(pp_syscall_name(-1));
	cr_assert_null(pp_syscall_name(100000));
	cr_assert_null(pp_syscall_name(400)); /* a hole in the numbering */
	cr_assert_null(pp_syscall_name(-2147483648L));
	cr_assert_null(pp_syscall_name(9223372036854775807L));
}
