/* What `pyprobe watch` keeps of its samples: each thread's stack interned
 * in a profile (so the same id is the same frames and lines, and the loop
 * classes of src/loop_stalls.h apply), and a ring of the last seconds of
 * samples, from which a hang file's profile of the time leading up to the
 * hang is made. Memory grows with the distinct stacks seen, not with time:
 * samples older than the window are forgotten.
 */
#ifndef PYPROBE_WATCH_SAMPLES_H
#define PYPROBE_WATCH_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "../reader/reader.h"
#include "profile.h"
#include "watch.h"

struct pp_watch_samples;

/* NULL when out of memory. */
struct pp_watch_samples *pp_watch_samples_new(const struct pp_target_info *info,
					      uint64_t window_ns, unsigned rate_hz);
void pp_watch_samples_free(struct pp_watch_samples *ws);

/* Add a sample: each thread's stack interned, its activity and loop state
 * decided, into *obs (n of them, valid until the next call; a thread the
 * reader dropped has stack 0 and activity unknown). 0, or -1 when out of
 * memory. */
int pp_watch_samples_add(struct pp_watch_samples *ws, const struct pp_sample *s,
			 const struct pp_watch_obs **obs, size_t *n);

/* The innermost Python frame of a stack: function (qualified), file, line.
 * 0, or -1 when the stack has none. Strings live as long as ws. */
int pp_watch_samples_leaf(const struct pp_watch_samples *ws, uint32_t stack,
			  const char **function, const char **file, int *line);
/* The coroutine or callback a busy event loop runs in this stack, or NULL. */
const char *pp_watch_samples_task(const struct pp_watch_samples *ws, uint32_t stack);
/* The thread's name as last read, or NULL. */
const char *pp_watch_samples_thread_name(const struct pp_watch_samples *ws, uint64_t tid);

/* A profile of the samples of the window ending at the last sample (its
 * length in *seconds), for rendering; NULL when out of memory. */
struct pp_profile *pp_watch_samples_recent(const struct pp_watch_samples *ws, double *seconds);

#endif
