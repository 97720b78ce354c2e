/* Stop every thread of a process for a consistent read, and let it go.
 *
 * PTRACE_SEIZE + PTRACE_INTERRUPT: no signal is sent, so the target sees
 * nothing, and if pyprobe dies while the threads are stopped the kernel
 * detaches them and they run on. A signal that arrives while a thread is
 * stopped is handed back to it on detach.
 */
#ifndef PYPROBE_READER_PAUSE_H
#define PYPROBE_READER_PAUSE_H

#include <stddef.h>

struct pp_paused_task {
	int tid;
	int pending_signal; /* to re-inject on detach, 0 if none */
};

struct pp_pause {
	int pid;
	struct pp_paused_task *tasks;
	size_t n, cap;
};

/* Stop all threads. 0, or a negative errno: -EPERM/-EACCES (no right to
 * trace), -ESRCH (the process is gone). On failure nothing stays stopped. */
int pp_pause_all(int pid, struct pp_pause *p);
/* Let every stopped thread go and free the list. Safe to call twice. */
void pp_resume_all(struct pp_pause *p);

#endif
