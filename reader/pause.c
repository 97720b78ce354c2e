/* ptrace-based pause; see pause.h. */
#include "pause.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "os_state.h"
#include "procfs.h"

static int already(const struct pp_pause *p, int tid)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->tasks[i].tid == tid)
			return 1;
	return 0;
}

/* Seize and stop one thread. 0 stopped; 1 gone (not an error: threads come
 * and go); negative errno otherwise. */
static int stop_one(struct pp_pause *p, int tid)
{
	if (ptrace(PTRACE_SEIZE, tid, 0, 0) != 0) {
		int e = errno;
		/* an exiting thread refuses with EPERM: it is simply gone */
		if (e == ESRCH || (e == EPERM && pp_proc_task_exiting(p->pid, tid)))
			return 1;
		return -e;
	}
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 16;
		struct pp_paused_task *nt = realloc(p->tasks, ncap * sizeof(*nt));
		if (!nt) {
			ptrace(PTRACE_DETACH, tid, 0, 0);
			return -ENOMEM;
		}
		p->tasks = nt;
		p->cap = ncap;
	}
	struct pp_paused_task *t = &p->tasks[p->n++];
	t->tid = tid;
	t->pending_signal = 0;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) {
		p->n--;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return errno == ESRCH ? 1 : -errno;
	}
	for (;;) {
		int st;
		pid_t r = waitpid(tid, &st, __WALL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			p->n--;
			return errno == ECHILD ? 1 : -errno;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			p->n--;
			return 1;
		}
		if (!WIFSTOPPED(st))
			continue;
		if ((st >> 16) == PTRACE_EVENT_STOP)
			return 0; /* our interrupt (or a group-stop): stopped */
		/* A signal-delivery stop came first. The thread is stopped
		 * all the same; keep the signal and hand it back on detach,
		 * which also drops our pending interrupt. */
		t->pending_signal = WSTOPSIG(st);
		return 0;
	}
}

/* Test hook: keep the threads stopped for PYPROBE_TEST_PAUSE_HOLD_MS so a
 * test can kill pyprobe mid-pause and check the target runs on. */
static void hold_for_tests(void)
{
	const char *ms = getenv("PYPROBE_TEST_PAUSE_HOLD_MS");
	long v = ms ? strtol(ms, NULL, 10) : 0;
	if (v <= 0 || v > 60000)
		return;
	struct timespec ts = {v / 1000, (v % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int pp_pause_all(int pid, struct pp_pause *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	/* Threads started while we stop the others would run on: list again
	 * until no new ones appear. */
	for (int round = 0; round < 8; round++) {
		int *tids = NULL;
		size_t n = 0;
		int rc = pp_os_list_tasks(pid, &tids, &n);
		if (rc) {
			pp_resume_all(p);
			return rc == -ENOENT ? -ESRCH : rc;
		}
		int added = 0;
		for (size_t i = 0; i < n; i++) {
			if (already(p, tids[i]))
				continue;
			rc = stop_one(p, tids[i]);
			if (rc < 0) {
				free(tids);
				pp_resume_all(p);
				return rc;
			}
			added += rc == 0;
		}
		free(tids);
		if (!added)
			break;
	}
	if (!p->n) {
		pp_resume_all(p); /* frees the list the vanished tasks left */
		return -ESRCH;
	}
	hold_for_tests();
	return 0;
}

void pp_resume_all(struct pp_pause *p)
{
	for (size_t i = 0; i < p->n; i++)
		ptrace(PTRACE_DETACH, p->tasks[i].tid, 0,
		       (void *)(long)p->tasks[i].pending_signal);
	free(p->tasks);
	p->tasks = NULL;
	p->n = p->cap = 0;
}
