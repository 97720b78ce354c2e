/* `pyprobe watch`'s conditions, decided from what each sample shows, with
 * no process behind them (cmd_watch.c feeds them; tests feed them by hand).
 *
 * Each tick, every Python thread is one observation: its stack (the leaf
 * of the watch's profile: the same id is the same frames and the same
 * lines), what it was doing (pp_watch_activity_of()) and the state of the
 * event loop its stack runs, if any (src/loop_stalls.h). The conditions:
 *
 *   stall      a thread's event loop has been busy, without once going
 *              back to waiting in its selector, for >= stall_ns (samples
 *              that say neither are passed over, as `report` does).
 *   stuck      a thread has shown the same stack and the same activity for
 *              >= stuck_ns while RUNNING (on a CPU, or holding the GIL) or
 *              in a LOCK_WAIT. A thread that is IDLE (sleep, select, epoll,
 *              reading a socket, a Condition/Event/queue/join wait) or
 *              waiting for the GIL is never stuck: waiting for work or for
 *              time to pass is not a hang, and a GIL waiter's hang is its
 *              holder's.
 *   deadlock   a stuck incident in which at least two threads are in lock
 *              waits that have lasted >= stuck_ns / 2 and every other thread
 *              is idle or waiting (none is running): "suspected deadlock".
 *   heartbeat  the heartbeat file is older than its timeout.
 *
 * An incident fires once. A thread whose stall or stuck state was reported
 * is not reported again until it has cleared: its loop went back to its
 * selector (stall), or its stack or activity changed (stuck). A thread
 * reported for one condition is not reported for the other within the same
 * incident (a loop spinning in one callback is both). The heartbeat fires
 * again only after the file was fresh once more. Several findings of one
 * tick are one incident (one dump).
 */
#ifndef PYPROBE_WATCH_H
#define PYPROBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../reader/reader.h"
#include "report.h"

enum pp_watch_activity {
	PP_WATCH_UNKNOWN = 0, /* the state could not be read */
	PP_WATCH_RUNNING,     /* on a CPU, or holding the GIL */
	PP_WATCH_LOCK_WAIT,   /* blocked in a futex that is not the GIL's, outside
				 the stdlib's waits for a notification */
	PP_WATCH_GIL_WAIT,    /* blocked taking the GIL */
	PP_WATCH_IDLE,        /* blocked in anything else */
};

/* What a thread is doing, from its GIL state, its OS state and its
 * innermost Python frame (file and bare function name, NULL when it has
 * none). A thread blocked in futex is in a lock wait (`lock.acquire()`,
 * `with lock:`, a C extension's mutex) unless its innermost Python frame is
 * one of the stdlib's waits for a notification - threading.py's wait,
 * wait_for, join, _wait_for_tstate_lock (Condition, Event, Semaphore,
 * Barrier, queue.Queue, Future.result and Thread.join all end there) or
 * concurrent/futures/thread.py's _worker (an idle executor thread) - which
 * are idle. */
enum pp_watch_activity pp_watch_activity_of(enum pp_gil_state gil, const struct pp_os_state *os,
					    const char *leaf_file, const char *leaf_name);
/* "running", "lock wait", "GIL wait", "idle", "unknown". */
const char *pp_watch_activity_name(enum pp_watch_activity a);

struct pp_watch_obs {
	uint64_t tid;                 /* kernel TID: which thread */
	uint32_t stack;               /* profile stack id: same id, same frames and lines */
	enum pp_watch_activity act;
	enum pp_loop_state loop;      /* of its stack */
};

enum pp_watch_cond {
	PP_WATCH_NONE = 0,
	PP_WATCH_STALL,
	PP_WATCH_STUCK,
	PP_WATCH_DEADLOCK,
	PP_WATCH_HEARTBEAT,
};
/* "loop stall", "stuck thread", "suspected deadlock", "stale heartbeat". */
const char *pp_watch_cond_name(enum pp_watch_cond c);
/* "stall", "stuck", "deadlock", "heartbeat" (JSON). */
const char *pp_watch_cond_key(enum pp_watch_cond c);

struct pp_watch_finding {
	enum pp_watch_cond cond;
	uint64_t tid;                 /* 0 for the heartbeat */
	uint32_t stack;               /* the thread's stack when it fired */
	enum pp_watch_activity act;
	uint64_t since_ns;            /* when the condition began */
};

#define PP_WATCH_MAX_FINDINGS 16
struct pp_watch_event {
	enum pp_watch_cond cond;      /* the headline: the first finding's,
					 or DEADLOCK when it is one */
	size_t n;                     /* findings kept */
	size_t nmore;                 /* findings past the array */
	struct pp_watch_finding f[PP_WATCH_MAX_FINDINGS];
};

struct pp_watch_config {
	uint64_t stall_ns, stuck_ns;
};

/* The heartbeat at one tick: its age (now less the file's mtime; a file
 * that does not exist is as old as the watch) against its timeout. */
struct pp_watch_heartbeat {
	uint64_t age_ns, timeout_ns;
};

struct pp_watch;
struct pp_watch *pp_watch_new(const struct pp_watch_config *c); /* NULL: no memory */
void pp_watch_free(struct pp_watch *w);

/* One tick at now_ns (monotonic, non-decreasing): the observations of the
 * threads seen (a thread missing from them is gone) and the heartbeat (NULL
 * when none is watched). 1 when an incident fires (ev filled), 0 when not,
 * -1 when out of memory. */
int pp_watch_tick(struct pp_watch *w, uint64_t now_ns, const struct pp_watch_obs *obs,
		  size_t n, const struct pp_watch_heartbeat *hb, struct pp_watch_event *ev);

#endif
