/* One frame's arguments and local variables, read from the target: the
 * names its code object gives each slot of the frame's localsplus array,
 * and what each slot holds, as pyrepr.h shows it.
 *
 *   <=3.10  PyFrameObject.f_localsplus: co_nlocals locals (co_varnames),
 *           then len(co_cellvars) cells, then len(co_freevars) cells. An
 *           argument that is also a cell variable lives in its cell (its
 *           local slot is cleared).
 *   3.11+   _PyInterpreterFrame.localsplus: co_nlocalsplus slots named by
 *           co_localsplusnames, each of the kinds co_localspluskinds says
 *           (CO_FAST_LOCAL / CELL / FREE, HIDDEN for comprehension
 *           variables 3.12 inlines). A cell slot holds the raw value until
 *           MAKE_CELL runs, a free slot NULL until COPY_FREE_VARS: the
 *           slot's type says which. From 3.14 slots are _PyStackRefs:
 *           NULL is the value 1, a tagged int has both low bits set.
 *
 * A cell shows its contents. Unbound slots (NULL, an empty cell) are left
 * out, as Python's own locals() does; a hidden one is shown while bound
 * (inside its comprehension). Everything read
 * is bounded: at most PP_LOCALS_MAX slots, names as pystring.h bounds
 * them, values as pyrepr.h does.
 */
#ifndef PYPROBE_READER_FRAME_LOCALS_H
#define PYPROBE_READER_FRAME_LOCALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pyrepr.h"
#include "reader.h"

/* What a code object says of its slots, kept for one sample: the frames
 * of a recursion, or of one function in many threads, share it. */
struct pp_locals_code {
	uint64_t addr;
	size_t n, total;    /* slots read (<= PP_LOCALS_MAX), slots it has */
	const char **names; /* n, in the arena (an entry NULL: unreadable) */
	const uint8_t *kinds;
};

/* Everything the locals of one sample are made of, freed together. */
struct pp_locals_arena {
	void **v;
	size_t n, cap;
	struct pp_locals_code *codes; /* the last sample's, most recent last */
	size_t ncodes, codes_cap;
};

/* Keep p (malloc'd) until the arena is reset; returns p, or NULL (and
 * frees p) when out of memory. */
void *pp_locals_arena_keep(struct pp_locals_arena *a, void *p);
void pp_locals_arena_reset(struct pp_locals_arena *a);
void pp_locals_arena_free(struct pp_locals_arena *a);

struct pp_frame_locals {
	struct pp_local *v; /* in the arena */
	size_t n;
	bool cut; /* the frame had more than PP_LOCALS_MAX slots */
};

/* The locals of the frame at `frame` (a PyFrameObject on <=3.10, a
 * _PyInterpreterFrame on 3.11+) whose code object is at `code`. Returns 0,
 * or a negative errno when the frame's slots or the code's names could
 * not be read (then out->n is 0). A value that cannot be read is a local
 * with a NULL type and repr. */
int pp_read_frame_locals(struct pp_repr *r, struct pp_locals_arena *a, uint64_t frame,
			 uint64_t code, struct pp_frame_locals *out);

#endif
