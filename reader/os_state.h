/* What the kernel says a thread is doing: /proc/PID/task/TID/stat and
 * /proc/PID/task/TID/syscall. Knows Linux, not Python.
 *
 * The reader keeps each task's files open and pread()s them (~1 us each),
 * so a sampler can call it every tick.
 */
#ifndef PYPROBE_READER_OS_STATE_H
#define PYPROBE_READER_OS_STATE_H

#include <stddef.h>
#include <stdint.h>

enum pp_os_run {
	PP_OS_UNKNOWN = 0, /* the task could not be read (it exited) */
	PP_OS_RUNNING,     /* R */
	PP_OS_SLEEPING,    /* S, I */
	PP_OS_DISK,        /* D */
	PP_OS_STOPPED,     /* T, t */
	PP_OS_ZOMBIE,      /* Z, X */
};

struct pp_os_state {
	enum pp_os_run run;
	/* From /proc/.../syscall: 1 when the task is blocked in a system call
	 * (nr and args valid), 0 when it is running in user space or the file
	 * said "running", -1 when unreadable (no permission, exited). */
	int in_syscall;
	long syscall_nr;
	uint64_t args[6];
};

struct pp_os_reader;

struct pp_os_reader *pp_os_reader_new(int pid);
void pp_os_reader_free(struct pp_os_reader *r);
/* 0, or a negative errno (-ENOENT/-ESRCH: the task is gone). `out` is
 * always filled (run = PP_OS_UNKNOWN on failure). */
int pp_os_reader_read(struct pp_os_reader *r, int tid, struct pp_os_state *out);
/* The same, but a task blocked in a system call is taken as sleeping from
 * its syscall file alone, without reading its stat line (so disk wait
 * inside a system call reads as sleeping). */
int pp_os_reader_read_fast(struct pp_os_reader *r, int tid, struct pp_os_state *out);

/* How many times the task has been put on a CPU, and the CPU time it has
 * had, in ns (/proc/.../schedstat): a task that was off its CPU and whose
 * count has not moved since has not run a single instruction in between.
 * 0, or a negative errno (-ENOTSUP: this kernel does not count). */
int pp_os_reader_runs(struct pp_os_reader *r, int tid, uint64_t *runs, uint64_t *cpu_ns);

/* The task ids of a process (/proc/PID/task), ascending, malloc'd.
 * 0 or a negative errno. */
int pp_os_list_tasks(int pid, int **tids, size_t *n);

/* x86_64 system call name for `nr` ("futex", "epoll_wait", ...), or NULL. */
const char *pp_syscall_name(long nr);

/* "running", "sleeping", "disk", "stopped", "zombie", "unknown". */
const char *pp_os_run_name(enum pp_os_run run);

#endif
