/* Event-loop stalls, for src/report.c: which stacks run an asyncio event
 * loop and whether it is busy in them, and the stretches in which a loop
 * stayed busy. Knows asyncio's and uvloop's frames, not the GIL. */
#ifndef PYPROBE_LOOP_STALLS_H
#define PYPROBE_LOOP_STALLS_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "report.h"

/* Fills r->loop_state, r->loop_task_depth, r->nstacks, r->stalls,
 * r->nstalls, r->nloops and each thread's event_loop flag. `thread_of`
 * maps each profile thread row to an index into r->threads. 0, or -1 when
 * out of memory. */
int pp_loop_stalls_find(struct pp_report *r, const struct pp_profile *p,
			const int32_t *thread_of, uint64_t threshold_ns);

/* Shared with src/report.c (its GIL waits are stretches of samples too):
 *
 * Half the gap to a neighbouring sample, at most half a sampling period:
 * where a stretch of samples is taken to begin or end. Shared by the GIL
 * waits and the stalls so their durations are measured alike. */
uint64_t pp_report_half_gap(uint64_t gap_ns, uint64_t interval_ns);

/* The most frequent of n stack ids (sorting v); ties go to the smallest
 * id, so the result does not depend on the order samples came in. */
pp_stack_id pp_report_mode_stack(pp_stack_id *v, size_t n);

#endif
