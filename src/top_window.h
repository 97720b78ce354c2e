/* pyprobe top's model: the samples of the last few seconds, and what they
 * add up to per function and per thread.
 *
 * A window holds the kept samples (not those of idle threads, unless asked)
 * of the last `span` nanoseconds, in a ring: each new sample is appended,
 * and samples older than the newest one's time less span fall out. A
 * snapshot aggregates the window:
 *   functions  by function name and file (no line): own samples (the
 *              function was the leaf: running its own code) and total
 *              samples (it was anywhere on the stack, counted once per
 *              sample however often it recurs); markers ([changing], ...)
 *              count as their own "functions"
 *   threads    per thread: samples in the window and those holding the GIL
 * Plain data over a profile (profile.h): no reader, no terminal.
 */
#ifndef PYPROBE_TOP_WINDOW_H
#define PYPROBE_TOP_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "profile.h"

struct pp_top_window;

/* span_ns: how far back the window reaches; idle: keep samples of
 * sleeping or blocked threads too. NULL when out of memory. */
struct pp_top_window *pp_top_window_new(uint64_t span_ns, bool idle);
void pp_top_window_free(struct pp_top_window *w);

/* Add the profile's samples from index *next on (samples are appended in
 * time order), and advance *next. 0, or -1 when out of memory. */
int pp_top_window_feed(struct pp_top_window *w, const struct pp_profile *p, size_t *next);

enum pp_top_sort { PP_TOP_BY_OWN = 0, PP_TOP_BY_TOTAL, PP_TOP_BY_OWN_TIME,
		   PP_TOP_BY_TOTAL_TIME };

struct pp_top_function {
	const char *function, *file; /* the profile's strings; file "" for a marker */
	uint64_t own, total;         /* samples */
};

struct pp_top_thread {
	uint32_t thread;  /* the profile's thread row (the first of its pid and tid:
	                     rows that differ only by name are one thread) */
	pp_str_id name;   /* its latest name (0: never named) */
	uint64_t samples; /* kept samples in the window */
	uint64_t gil_held;
	uint64_t gil_known; /* of those, samples whose GIL state was read */
};

struct pp_top_snapshot {
	struct pp_top_function *functions; /* sorted, see pp_top_snapshot_take */
	size_t nfunctions;
	struct pp_top_thread *threads;     /* by thread row; rows that are not
	                                      the first of their thread stay empty */
	size_t nthreads;
	uint64_t samples;                  /* kept samples in the window */
	uint64_t span_ns;                  /* newest - oldest sample time in it */
};

/* Aggregate the window. Functions sorted by own (or total) samples, most
 * first; ties by the other count, then by name and file, so equal windows
 * give equal tables. (The time sorts order as the sample sorts: a sample
 * stands for one interval.) 0, or -1 when out of memory. */
int pp_top_snapshot_take(const struct pp_top_window *w, const struct pp_profile *p,
			 enum pp_top_sort sort, struct pp_top_snapshot *out);
void pp_top_snapshot_free(struct pp_top_snapshot *s);

#endif
