/* One sample of a target, as reader/ assembles it, and the phases that
 * fill it. Private to reader/.
 *
 * pp_target_sample() (sample.c) runs the phases in this order:
 *
 *   task states    the kernel's view of each task, before anything stops
 *                  it (sample_tasks.c)
 *   pause          optional: every thread stopped (pause.c)
 *   quiet          which threads have not run since the last sample: their
 *                  stacks are taken over, not read (quiet.c)
 *   structure      interpreters and thread states: from one read of where
 *                  they were last time (readahead.c), else by following the
 *                  interpreter's lists (sample_structure.c)
 *   walks          each thread state's frame chain (frame_walk.c)
 *   verification   what of each walk held still (verify.c), and whether the
 *                  code objects named are still those (code_cache.c); a
 *                  walk of which nothing held still is read again
 *   locals         optional: every Python frame's arguments and locals,
 *                  still paused (sample_locals.c)
 *   thread ids     kernel thread ids (sample_ids.c)
 *   task states    of a running target, read now (sample_tasks.c)
 *   names          threading.Thread names (sample_names.c)
 *   learning       what the next sample can take over or read ahead
 *   resume
 *   assembly       thread states joined into threads, GIL states, the
 *                  frames shown and their markers (sample_assemble.c)
 */
#ifndef PYPROBE_READER_SNAPSHOT_H
#define PYPROBE_READER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os_state.h"
#include "reader.h"

#define PP_MAX_INTERPRETERS 256
#define PP_MAX_TSTATES 65536

struct pp_target;

struct interp_rec {
	uint64_t addr;
	int64_t id;
	uint64_t gil;        /* struct _gil_runtime_state in use */
	uint64_t gil_holder; /* tstate holding it, 0 if none */
	uint64_t modules;
};

struct tstate_rec {
	uint64_t addr;
	uint64_t thread_id;
	uint64_t native_id;
	bool native_known;   /* native_id is final (read ahead on <=3.10) */
	uint64_t ns_tid;     /* the kernel id as the target's PID namespace
				numbers it (native_id is pyprobe's) */
	size_t interp;       /* index into interps */
	size_t order;        /* creation order within its interpreter */
	size_t bytes_off;    /* its PyThreadState bytes in snapshot.tsbytes */
	/* Its stack: the walk in t->walker.walks (-1: none), or taken over
	 * from an earlier sample (quiet.h) - then its frames are
	 * t->frames[frame_start, +nframes) and its OS state quiet_os. */
	long walk;
	bool taken_over;
	size_t frame_start, nframes;
	struct pp_os_state quiet_os;
};

struct os_rec {
	int tid;
	struct pp_os_state st;
};

struct snapshot {
	struct interp_rec interps[PP_MAX_INTERPRETERS];
	size_t ninterps;
	struct tstate_rec *ts;
	size_t nts, tscap;
	uint8_t *tsbytes;    /* nts PyThreadStates, ts_size bytes each */
	size_t tsbytes_cap;
	struct os_rec *os;   /* sorted by tid */
	size_t nos, oscap;
};

/* Room for n thread states' bytes; 0 or -1. */
int pp_snapshot_reserve_bytes(struct snapshot *s, size_t n, size_t ts_size);
void pp_snapshot_free(struct snapshot *s);
/* Append a thread state record; 0 or -1 (out of memory). */
int pp_snapshot_push_ts(struct snapshot *s, const struct tstate_rec *r);

/* ---- the phases ----------------------------------------------------------- */

/* A failed read of the target as the error to report: it exited (most
 * likely), or the right to read it was lost. */
enum pp_err pp_sample_mem_error(struct pp_target *t, int rc, struct pp_error *err);

/* structure: interpreters (with their GIL holders), then every thread
 * state, by following the lists. */
enum pp_err pp_read_interpreters(struct pp_target *t, struct snapshot *s, struct pp_error *err);
enum pp_err pp_read_tstates(struct pp_target *t, struct snapshot *s, struct pp_error *err);

/* locals: the arguments and locals of every frame the walks show
 * (PP_SAMPLE_LOCALS), into pp_frame.locals; valid until the next sample. */
void pp_read_locals(struct pp_target *t, const struct snapshot *s);

/* thread ids: every thread state's kernel id, in pyprobe's PID namespace. */
void pp_fill_native_ids(struct pp_target *t, struct snapshot *s);

/* task states: every task of the process (listing /proc/PID/task); or
 * only the tasks that run Python (`fast`: see PP_SAMPLE_OS_FAST); or,
 * paused, what each task was blocked in, kept with what the stop hides. */
int pp_read_task_states(struct pp_target *t, struct snapshot *s);
void pp_read_thread_task_states(struct pp_target *t, struct snapshot *s, bool fast);
void pp_merge_paused_task_states(struct pp_target *t, struct snapshot *s);
const struct pp_os_state *pp_task_state_of(const struct snapshot *s, uint64_t tid);

/* names: threading.Thread names, read afresh when asked or when a thread
 * appeared that the last read did not know. */
void pp_refresh_names(struct pp_target *t, const struct snapshot *s, bool force);

/* assembly: the sample's threads. */
enum pp_err pp_assemble(struct pp_target *t, struct snapshot *s, unsigned flags,
			struct pp_sample *out, struct pp_error *err);

/* The frames a thread state shows, innermost first, its markers
 * included, appended to `out`; what it is (dropped, changing,
 * unreadable) in the flags. Shared by assembly and by learning (quiet.h
 * keeps only whole stacks). */
struct pp_shown {
	bool dropped, changing, unreadable;
	uint32_t walked_depth; /* Python frames the walk read */
};
int pp_shown_frames(const struct pp_target *t, const struct tstate_rec *r,
		    struct pp_frame *out, size_t *n, struct pp_shown *what);
/* How many frames pp_shown_frames writes for r (at most). */
size_t pp_shown_count(const struct pp_target *t, const struct tstate_rec *r);

#endif
