/* The sampling loop: read the target (and, with --subprocesses, each of its
 * Python descendants) on a fixed clock and add what it reads to a profile.
 *
 * The clock runs on absolute deadlines (CLOCK_MONOTONIC, TIMER_ABSTIME): a
 * sample that overruns its tick skips the ticks it missed and counts them,
 * so there is no drift and no burst of catch-up samples. Each sample is
 * time-stamped. A thread's stack that moved while it was read (non-blocking
 * mode) is added cut short: the frames that held still under a
 * `[changing]` marker; one of which nothing held still is dropped and
 * counted (reader.h).
 *
 * Every tick samples every process of the set in turn, root first. A
 * subprocess that cannot be read any more (it exited) is dropped and its
 * samples kept; the recording ends when the root exits. A process that
 * exec'd, the root too, is left to the set, which records its new program
 * if it is a Python it can read (process_set.h).
 */
#ifndef PYPROBE_SAMPLER_H
#define PYPROBE_SAMPLER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "../reader/reader.h"
#include "process_set.h"
#include "profile.h"

struct pp_sampler_stats {
	uint64_t samples;        /* snapshots taken, of all processes */
	uint64_t ticks;          /* ticks that sampled at least one process */
	uint64_t thread_samples; /* samples added to the profile */
	uint64_t dropped;        /* thread samples left out: nothing held still */
	uint64_t cut;            /* added cut short: their inner part moved */
	uint64_t cut_depth_sum;  /* over those: Python frames added */
	uint64_t cut_walked_sum; /* over those: Python frames the first read found */
	uint64_t unreadable;     /* added with a part that could not be read */
	uint64_t missed;         /* ticks skipped after overruns */
	uint64_t elapsed_ns;
	/* The wall clock (CLOCK_REALTIME) read next to the monotonic one the
	 * samples' times count from: a sample's wall time is this plus its
	 * time. */
	uint64_t start_unix_ns;
	uint64_t cost_median_ns, cost_p99_ns; /* one snapshot: a process, all threads */
	size_t processes;        /* attached now */
	size_t processes_seen;   /* attached at some point */
	enum pp_err end;         /* why sampling ended: PP_OK, or PP_ERR_GONE */
	/* --native: thread samples whose native frames could not be merged
	 * (drawn with their Python frames alone), and the time unwinding */
	uint64_t native_unmerged;
	uint64_t native_unwind_ns;
	/* 3.11+: thread samples whose stack ran an event loop callback, for
	 * which the thread's running asyncio Task was read, the time those
	 * reads took, and how many named one */
	uint64_t task_reads, task_read_ns, tasks_named;
	uint64_t task_read_median_ns, task_read_p99_ns; /* one read, at the end */
};

struct pp_sampler_opts {
	unsigned rate_hz;
	/* Sample again as soon as a sample is done, with no clock and no
	 * sleep (rate_hz is then unused; nothing is counted as missed). */
	bool back_to_back;
	double duration_s;   /* 0: until the root exits or we are stopped */
	bool blocking;       /* pause the threads for each sample */
	/* Native frames too (record --native): each sample pauses the
	 * threads and unwinds them; merged stacks go into the profile as
	 * Python and PP_FRAME_NATIVE frames. */
	bool native;
	bool os_state;       /* read /proc task state (needed to tell idle) */
	/* 3.11+: the running asyncio Task of each sample whose stack runs an
	 * event loop callback, into the profile's sample tasks (only a
	 * recording keeps them) */
	bool tasks;
	/* Called about every 100 ms with the running stats (progress line,
	 * flushing a recording); may be NULL. Non-zero stops sampling. */
	int (*tick)(void *ctx, const struct pp_profile *p, const struct pp_sampler_stats *s);
	void *tick_ctx;
	volatile sig_atomic_t *stop; /* set by a signal handler */
};


/* Sample until the duration passes, the root exits (end = PP_ERR_GONE,
 * not an error for the caller) or *stop is set. Returns PP_OK, or an error
 * reading the root (before anything could be sampled if it is GONE). The
 * set is refreshed as it goes (new subprocesses attached, dead ones
 * dropped). */
enum pp_err pp_sampler_run(struct pp_process_set *set, struct pp_profile *p,
			   const struct pp_sampler_opts *o, struct pp_sampler_stats *st,
			   struct pp_error *err);

#endif
