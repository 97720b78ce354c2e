/* The GIL and event-loop report: what `pyprobe report` prints and what
 * `record` summarises at its end. Computed from a profile's samples alone
 * (their time, thread, stack, GIL and OS state), so a recording made
 * yesterday reports the same as the live one. Plain data: render/ draws it
 * (report_text.c, report_json.c, timeline.c).
 *
 * Times are nanoseconds since the recording started. Stacks are the
 * profile's leaf stack ids: walk them with pp_profile_stacks().
 */
#ifndef PYPROBE_REPORT_H
#define PYPROBE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* Where a thread was, with respect to the GIL, at one sample. */
enum pp_gil_use {
	PP_USE_HELD = 0, /* the holder of its interpreter's GIL */
	PP_USE_WAITING,  /* blocked trying to take the GIL */
	PP_USE_RELEASED, /* on CPU without the GIL (native code) */
	PP_USE_IDLE,     /* blocked in anything else: I/O, sleep, a lock */
	PP_USE_UNKNOWN,  /* the reader could not tell */
	PP_USE_COUNT
};

/* A sample's state: held, else waiting, else released when running and
 * idle when blocked. */
enum pp_gil_use pp_sample_gil_use(const struct pp_psample *s);
/* "held", "waiting", "released", "idle", "unknown". */
const char *pp_gil_use_name(enum pp_gil_use u);

/* A thread: its samples (a thread state seen before its OS thread ran, with
 * no native id and no known state, is left out). */
struct pp_report_thread {
	uint32_t row;        /* the profile's first thread row of this thread */
	uint32_t pid;
	uint64_t native_id;
	const char *name;    /* the latest name seen, NULL when never named */
	uint64_t samples;
	uint64_t count[PP_USE_COUNT];
	bool event_loop;     /* ran an asyncio event loop in some sample */
};

/* A stretch of consecutive samples in which one thread waited for the GIL. */
struct pp_gil_wait {
	uint32_t thread;         /* index into pp_report.threads */
	uint64_t start_ns;
	uint64_t duration_ns;
	int32_t holder;          /* the thread that held the GIL in most of those
				    samples (index into threads), -1 if none seen */
	pp_stack_id holder_stack;/* the holder's most frequent stack then */
};

/* A stretch in which an event loop was continuously busy, not waiting in
 * its selector, for at least the threshold (less a tenth of a sampling
 * period: a stall of exactly the threshold, sampled with a little jitter,
 * is still one). */
struct pp_stall {
	uint32_t thread;         /* index into pp_report.threads */
	uint64_t start_ns;
	uint64_t duration_ns;
	uint32_t samples;
	pp_stack_id stack;       /* the most frequent stack during the stall */
	/* The coroutine or callback the loop was running in that stack: the
	 * qualified name of the outermost frame the loop called. NULL when the
	 * stack does not show one. */
	const char *task;
	uint32_t task_depth;     /* that frame's depth in `stack` (1 = root) */
	/* Other coroutines or callbacks the loop ran during the stall (several
	 * ready callbacks in one iteration make one stall), in order of first
	 * sample; nothers counts them all, the array keeps the first few. */
#define PP_STALL_OTHERS 4
	const char *others[PP_STALL_OTHERS];
	uint32_t nothers;
	/* The name of the asyncio Task running that coroutine: the one most
	 * of the stall's samples of it name (ties: the first). NULL when the
	 * recording names none (before format 1.3, Python before 3.11, a
	 * callback that is no Task's step, a name that could not be read). */
	const char *task_name;
	/* How far duration_ns can be off: each edge lies halfway between the
	 * samples either side of it, so up to half of each of those gaps -
	 * about one sampling period, more where ticks were missed. */
	uint64_t duration_error_ns;
};

/* What the event loop in one stack was doing. */
enum pp_loop_state {
	PP_LOOP_NONE = 0, /* the stack runs no event loop */
	PP_LOOP_WAITING,  /* in its selector, or between callbacks */
	PP_LOOP_BUSY,     /* running a callback or a task's step */
	/* cut short at the loop: what ran above it moved while it was read
	 * (a [changing] marker); neither busy nor waiting as far as is known */
	PP_LOOP_UNKNOWN,
};

/* One process's GIL (with record --subprocesses a recording holds several). */
struct pp_report_process {
	uint32_t pid;
	const char *cmdline;     /* as the `process PID: cmdline` frame names it */
	uint64_t ticks;          /* sampling ticks with a known GIL state */
	double gil_held_pct;
	double gil_contention_pct;
};

struct pp_report {
	uint64_t duration_ns;
	uint64_t samples;        /* thread samples */
	uint64_t interval_ns;    /* one sampling period (1e9 / rate) */
	/* Over the sampling ticks (of every process, pooled): the percentage
	 * in which some thread held its GIL, and in which some thread waited
	 * for it. Per process in `processes`. */
	bool gil_known;          /* false: no sample had a known GIL state */
	double gil_held_pct;
	double gil_contention_pct;
	struct pp_report_process *processes; /* in order of first sample */
	size_t nprocesses;
	struct pp_report_thread *threads; /* by pid, then first appearance */
	size_t nthreads;
	int32_t *thread_of_row;           /* see pp_report_thread_of() */
	size_t nrows;
	struct pp_gil_wait *waits;        /* longest first, at most max_waits */
	size_t nwaits;
	struct pp_stall *stalls;          /* in time order */
	size_t nstalls;
	size_t nloops;                    /* threads that ran an event loop */
	uint8_t *loop_state;              /* enum pp_loop_state, by stack id */
	uint32_t *loop_task_depth;        /* by stack id: see pp_stall.task_depth */
	size_t nstacks;
};

struct pp_report_opts {
	uint64_t stall_threshold_ns; /* 0: 100 ms */
	size_t max_waits;            /* 0: 10 */
};

/* NULL when out of memory. */
struct pp_report *pp_report_new(const struct pp_profile *p, const struct pp_report_opts *o);
void pp_report_free(struct pp_report *r);

/* The state of the loop in a stack (PP_LOOP_NONE for an unknown id). */
enum pp_loop_state pp_report_loop_state(const struct pp_report *r, pp_stack_id stack);

/* The Python frames of the stack ending at `leaf`, innermost first: up to
 * max of them into out; returns how many there are. */
size_t pp_report_stack(const struct pp_profile *p, pp_stack_id leaf,
		       const struct pp_pframe **out, size_t max);

/* The index into r->threads of a profile thread row, or -1 (a row of a
 * thread left out, or no such row). */
int32_t pp_report_thread_of(const struct pp_report *r, uint32_t row);

#endif
