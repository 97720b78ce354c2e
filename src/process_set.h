/* The processes a recording samples: its target (the root) and, with
 * --subprocesses, every Python process descended from it, attached as they
 * appear and detached when they exit.
 *
 * Descendants are found from /proc/PID/task/TID/children of every known
 * process, recursively (or, on kernels without that file, from the ppid of
 * every process in /proc), at most every 100 ms: discovery is cheap, but
 * not free, and has no business on every sampling tick.
 *
 * A process found is tried for about a second: a fork that will exec Python,
 * or a Python still initialising, is not readable at first. One that is not
 * Python by then is ignored quietly, until it execs something else. A
 * process is told apart from an earlier one with the same pid, and from
 * itself before an exec, by its start time and its address-space layout.
 *
 * The sampler iterates over the attached processes (root first when it is
 * attached) and drops the ones whose reads fail: they exited - unless they
 * exec'd (pp_process_set_execd). A process that execs is detached and its
 * new program tried like a new process: recorded on when it is a Python
 * pyprobe reads, as a new program (its command line labels its samples).
 * For the root this is also told (pp_process_set_next_exec): it is tried
 * every 10 ms for 3 s (again from any further exec), and without follow a
 * root whose new program cannot be read ends the recording. Without follow
 * the root's identity is also checked every 100 ms: an exec does not
 * always make reads fail.
 */
#ifndef PYPROBE_PROCESS_SET_H
#define PYPROBE_PROCESS_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../reader/reader.h"

struct pp_process {
	struct pp_target *target;
	int pid;
	bool root;
	/* The sampler's state for this process; the set calls free_user(user)
	 * when it drops the process or is freed. */
	void *user;
	void (*free_user)(void *user);
};

struct pp_process_set;

/* pp_target_attach, made safe against an exec in the middle: the target it
 * returns was read as one program, whose command line (the label of its
 * samples) is the one of the program attached - never that of the process
 * before it exec'd (pyprobe itself, for a command just forked). A process
 * that exec'd meanwhile is attached again (a few times), then reported as
 * PP_ERR_NOT_PYTHON, to be tried later. */
enum pp_err pp_process_attach(int pid, struct pp_target **out, struct pp_error *err);

/* For a command pyprobe started, while it waits for it to become Python.
 * same_program: whether pid still runs the program it ran when *stamp was
 * taken; the first call (stamp zeroed) and every exec re-stamp it and say
 * false. has_children: whether any thread of pid has a child process. */
struct pp_program_stamp {
	uint64_t starttime, startcode, startstack;
};
bool pp_process_same_program(int pid, struct pp_program_stamp *stamp);
bool pp_process_has_children(int pid);

/* follow: find and attach descendants. NULL when out of memory. */
struct pp_process_set *pp_process_set_new(int root_pid, bool follow);
void pp_process_set_free(struct pp_process_set *s);

/* The root, attached by the caller (it owns the retry policy for a launched
 * command when descendants are not followed). The set takes t. */
int pp_process_set_add_root(struct pp_process_set *s, struct pp_target *t);

/* With follow: try the root if it is not attached yet, and look for new
 * descendants - when the last look was 100 ms ago or more, or at once with
 * now set. Without follow: whether the root exec'd, and then its new
 * program (above). */
void pp_process_set_refresh(struct pp_process_set *s, bool now);

/* The attached processes, root first when it is one of them. */
size_t pp_process_set_count(const struct pp_process_set *s);
struct pp_process *pp_process_set_at(struct pp_process_set *s, size_t i);
/* Detach process i (it exited, or cannot be read any more); the next
 * process moves to i. Its pid is not attached again unless it execs. */
void pp_process_set_drop(struct pp_process_set *s, size_t i);

/* Whether the reads of process i failed because it exec'd: then the set
 * detaches it and tries its new program (as above); false: it did not,
 * nothing changed (it exited, or cannot be read: drop it, or end). */
bool pp_process_set_execd(struct pp_process_set *s, size_t i);

/* What became of a root that exec'd while attached, for a one-line note:
 * only the root's, as subprocesses come, go and exec quietly. */
enum pp_exec_outcome {
	PP_EXEC_FOLLOWED, /* a Python pyprobe reads: attached, recorded on */
	PP_EXEC_LOST,     /* not one (within the grace), or not readable by us:
			     without follow, the recording ends (root gone) */
	PP_EXEC_UNREAD,   /* the recording ended while it was still tried */
};
struct pp_exec_event {
	enum pp_exec_outcome outcome;
	int pid;
	uint64_t exec_ns, at_ns; /* CLOCK_MONOTONIC: exec seen; outcome */
	char cmdline[200];       /* the new program's, its directory left out,
				    cut with "..." */
	char why[512];           /* LOST, UNREAD: the reader's reason */
};
/* The oldest event not taken yet, into *ev; false when there is none. */
bool pp_process_set_next_exec(struct pp_process_set *s, struct pp_exec_event *ev);
/* The recording ends: a root still tried after an exec is an UNREAD event. */
void pp_process_set_end(struct pp_process_set *s);

/* The root exited (found by refresh, or dropped while attached), or, without
 * follow, exec'd into something that cannot be recorded. */
bool pp_process_set_root_gone(const struct pp_process_set *s);
/* Why the root could not be attached: its last attach error (PP_OK when it
 * is attached or was never tried). */
const struct pp_error *pp_process_set_root_error(const struct pp_process_set *s);

/* Processes attached so far, including those since dropped. */
size_t pp_process_set_seen(const struct pp_process_set *s);
/* For the profile's metadata: the root's command line (as of when it was
 * attached, or, with follow, as of the last refresh: read again whenever
 * the root execs), and the Python version of the root or else of the first
 * process attached ("" before any). Valid until the next refresh or
 * add_root. */
const char *pp_process_set_cmdline(const struct pp_process_set *s);
const char *pp_process_set_version(const struct pp_process_set *s);

#endif
