/* What held still while it was read: the part of each walk that is shown.
 *
 * A running thread's stack moves while it is read. A walk (frame_walk.h)
 * records each frame's address, link to its caller, code and instruction
 * position; verification reads the same fields again, twice - the tops
 * (3.11+: each thread's data-stack top and current frame), every frame,
 * the tops again, every frame again - and compares, from the thread's
 * outermost frame inward:
 *
 *   a frame holds still when every re-read finds it alive (<=3.10:
 *   executing; 3.11+: below its thread's data-stack top and not above its
 *   current frame - a call moves the top over a new frame before it fills
 *   it in) with the same link and code as the walk read, at a position
 *   its code can have; the frames outside it held still too; and its
 *   caller kept its instruction position in every read.
 *
 * A caller cannot move while its callee runs, so frames that held still
 * from the outermost inward were one real stack at the moment the
 * innermost of them was read - its own position may have moved on since,
 * which is why a frame whose position changed still counts, and is the
 * last that does (shown at the position the walk read, if that is one its
 * code can have: a frame caught while a new call set it up can hold the
 * last call's). The frames inside it are not shown: the stack is cut
 * short there (a `[changing]` marker). Nothing is dropped for moving,
 * and what is drawn existed.
 *
 * Where a walk starts counting matters. A chain that ended at a NULL link
 * counts from its last frame only if that can be a thread's outermost
 * (frame_walk.h: bottom_ok) - a generator that just yielded has lost its
 * callers, and none of it is shown. A chain cut at PP_MAX_FRAMES counts
 * from its last frame read. A chain that stopped at something unreadable
 * is shown only if all of it held still, so a moving stack is never
 * mistaken for a broken one.
 *
 * Why twice: no re-read can tell a frame from a later call that reused its
 * slot with the same code, caller and position (recursion does that all
 * the time). Measured on a recursion churning as fast as it can (the
 * record_torn test), one re-read let about one stack in 10,000 through
 * spliced; each further re-read needs the same coincidence again.
 *
 * A paused target does not move: its walks are shown as read.
 */
#ifndef PYPROBE_READER_VERIFY_H
#define PYPROBE_READER_VERIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "frame_walk.h"
#include "memory.h"

/* Paused: everything read stands (verified_from = 0) - but a chain that
 * ends where no thread's stack can end is not a stack (nothing). */
void pp_verify_paused(struct pp_walker *w, struct pp_walk *wk);

/* A walk whose every frame came with twins in the read-ahead: judged from
 * them, no read. Returns false (nothing judged) when it has no twins. */
bool pp_verify_twinned(struct pp_walker *w, struct pp_walk *wk);

/* Re-read walks[idx[0..n)] twice in one vectored read, with `extra` (other
 * reads to make at the same time: the code cache's checks) after them, and
 * judge each. Returns 0, or a negative errno when the joint read failed:
 * then each walk was re-read and judged on its own (one that cannot be
 * re-read held nothing), and `extra` was not read. */
int pp_verify_read(struct pp_walker *w, const size_t *idx, size_t n, const struct pp_iov *extra,
		   size_t nextra);

/* Whether the walk shows anything: some frames held still, or (paused, or
 * all of it held still) it stops at something unreadable. */
static inline bool pp_walk_shown(const struct pp_walk *wk)
{
	return wk->verified_from < wk->depth ||
	       (wk->depth == 0 && wk->verified_from == 0);
}

#endif
