/* The task-states phase: what the kernel says each thread is doing
 * (running, sleeping, in which system call), from /proc. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "target_internal.h"

static int reserve_os(struct snapshot *s, size_t n)
{
	if (n <= s->oscap)
		return 0;
	struct os_rec *o = realloc(s->os, n * sizeof(*o));
	if (!o)
		return -ENOMEM;
	s->os = o;
	s->oscap = n;
	return 0;
}

/* Every task of the process (listing /proc/PID/task). */
int pp_read_task_states(struct pp_target *t, struct snapshot *s)
{
	int *tids = NULL;
	size_t n = 0;
	int rc = pp_os_list_tasks(t->info.pid, &tids, &n);
	if (rc)
		return rc;
	if (reserve_os(s, n ? n : 1) != 0) {
		free(tids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		s->os[i].tid = tids[i];
		pp_os_reader_read(t->os, tids[i], &s->os[i].st);
	}
	s->nos = n;
	free(tids);
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	int x = ((const struct os_rec *)a)->tid, y = ((const struct os_rec *)b)->tid;
	return (x > y) - (x < y);
}

/* Only the tasks that run Python: no listing, a pread or two each. */
void pp_read_thread_task_states(struct pp_target *t, struct snapshot *s, bool fast)
{
	s->nos = 0;
	if (reserve_os(s, s->nts ? s->nts : 1) != 0)
		return;
	/* one OS thread can have thread states in several interpreters */
	bool several = s->ninterps > 1;
	for (size_t i = 0; i < s->nts; i++) {
		int tid = (int)s->ts[i].native_id;
		bool seen = tid <= 0;
		for (size_t k = 0; several && !seen && k < s->nos; k++)
			seen = s->os[k].tid == tid;
		if (seen)
			continue; /* one OS thread in several interpreters */
		s->os[s->nos].tid = tid;
		if (s->ts[i].taken_over) { /* it has not run: it is as it was */
			s->os[s->nos++].st = s->ts[i].quiet_os;
			continue;
		}
		/* The GIL's holder is running Python (or blocking everyone
		 * else): its state decides nothing the sampler keeps, so the
		 * fast path does not read it. */
		if (fast && s->interps[s->ts[i].interp].gil_holder == s->ts[i].addr) {
			s->os[s->nos].st = (struct pp_os_state){.run = PP_OS_RUNNING};
		} else if (fast)
			pp_os_reader_read_fast(t->os, tid, &s->os[s->nos].st);
		else
			pp_os_reader_read(t->os, tid, &s->os[s->nos].st);
		s->nos++;
	}
	qsort(s->os, s->nos, sizeof(*s->os), by_tid); /* for os_of */
}

/* System calls that never sleep: a thread running just before the pause
 * and stopped inside one of these was running, not blocked (a Python loop
 * calling time.thread_time() is in clock_gettime a good part of the time). */
static bool never_sleeps(long nr)
{
	static const char *const fast[] = {
		"clock_gettime", "clock_getres", "gettimeofday", "time", "getpid", "gettid",
		"getppid", "getuid", "geteuid", "getgid", "getegid", "getrusage", "times",
		"sched_yield", "getcpu", "brk", "mmap", "munmap", "mprotect", "madvise",
		"mremap", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "prctl",
		"arch_prctl", "lseek", "getrandom",
	};
	const char *name = pp_syscall_name(nr);
	for (size_t i = 0; name && i < sizeof(fast) / sizeof(fast[0]); i++)
		if (!strcmp(name, fast[i]))
			return true;
	return false;
}

/* While paused, every thread reads as stopped ('t'), but its syscall file
 * still says what it was blocked in - at the same moment as the GIL read.
 * Take the syscall from the paused read; from the earlier read keep only
 * what our stop hides: disk wait versus sleep, zombies, and a stop that
 * was there before ours (SIGSTOP, a debugger): that thread is stopped,
 * whatever system call it was in when it was. */
void pp_merge_paused_task_states(struct pp_target *t, struct snapshot *s)
{
	for (size_t i = 0; i < s->nos; i++) {
		struct pp_os_state now, *before = &s->os[i].st;
		if (pp_os_reader_read(t->os, s->os[i].tid, &now) != 0 || now.in_syscall < 0)
			continue;
		enum pp_os_run run = before->run;
		if (run != PP_OS_ZOMBIE && run != PP_OS_UNKNOWN && run != PP_OS_STOPPED) {
			if (now.in_syscall == 1 && !(run == PP_OS_RUNNING && never_sleeps(now.syscall_nr)))
				run = run == PP_OS_DISK ? PP_OS_DISK : PP_OS_SLEEPING;
			else
				run = PP_OS_RUNNING;
		}
		*before = now;
		before->run = run;
	}
}

/* A core's threads, from their NT_PRSTATUS registers: orig_rax is the
 * system call a thread was in when it stopped (-1: it was in user space),
 * rdi, rsi, rdx, r10, r8, r9 its arguments - what /proc/.../syscall shows
 * of a live one. Blocked in a call that can sleep it was sleeping, as a
 * paused dump judges it (pp_merge_paused_task_states); whether in disk
 * wait, the core does not say. */
int pp_read_core_task_states(struct pp_target *t, struct snapshot *s)
{
	size_t n = pp_core_nthreads(t->core);
	if (reserve_os(s, n ? n : 1) != 0)
		return -ENOMEM;
	s->nos = 0;
	for (size_t i = 0; i < n; i++) {
		const struct pp_core_thread *th = pp_core_thread(t->core, i);
		if (th->tid <= 0)
			continue;
		struct pp_os_state st = {.run = PP_OS_RUNNING, .in_syscall = 0, .syscall_nr = -1};
		int64_t nr = (int64_t)th->regs[PP_REG_ORIG_RAX];
		if (nr >= 0 && nr < 1024) {
			static const int arg[6] = {PP_REG_RDI, PP_REG_RSI, PP_REG_RDX,
						   PP_REG_R10, PP_REG_R8, PP_REG_R9};
			st.in_syscall = 1;
			st.syscall_nr = (long)nr;
			for (int k = 0; k < 6; k++)
				st.args[k] = th->regs[arg[k]];
			if (!never_sleeps(st.syscall_nr))
				st.run = PP_OS_SLEEPING;
		}
		s->os[s->nos].tid = th->tid;
		s->os[s->nos++].st = st;
	}
	qsort(s->os, s->nos, sizeof(*s->os), by_tid);
	return 0;
}

/* s->os is sorted by tid: a listing comes sorted, the threads' own
 * states are sorted once read. */
const struct pp_os_state *pp_task_state_of(const struct snapshot *s, uint64_t tid)
{
	if (!s->nos || tid > INT32_MAX)
		return NULL;
	struct os_rec key = {.tid = (int)tid};
	const struct os_rec *r = bsearch(&key, s->os, s->nos, sizeof(key), by_tid);
	return r ? &r->st : NULL;
}

