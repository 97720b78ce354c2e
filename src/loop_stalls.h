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

/* Which stacks of a profile run an event loop, and whether it is busy in
 * them (enum pp_loop_state), by stack id. A stack's class follows from its
 * parent's, whose id is smaller, so pp_loop_classify() classifies only the
 * stacks added since it was last called: the report classifies a whole
 * recording once; `watch` calls it after every sample. Start from
 * (struct pp_loop_classes){0}. */
struct pp_loop_stack_info;
struct pp_loop_classes {
	uint8_t *state;       /* enum pp_loop_state, by stack id */
	uint32_t *task_depth; /* by stack id: see pp_stall.task_depth, 0: none */
	size_t n;             /* stacks classified */
	/* private */
	struct pp_loop_stack_info *info;
	uint8_t *fclass;
	size_t cap, fcap, nf;
};
/* 0, or -1 when out of memory (what was classified stays valid). */
int pp_loop_classify(struct pp_loop_classes *c, const struct pp_profile *p);
void pp_loop_classes_free(struct pp_loop_classes *c);

/* The qualified name of the frame at `depth` (1 = root) in `leaf`'s path,
 * or NULL: the callback or coroutine a busy loop runs is the frame at its
 * task_depth. */
const char *pp_loop_function_at(const struct pp_profile *p, pp_stack_id leaf, uint32_t depth);

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
