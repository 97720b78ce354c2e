/* One thread state -> its Python frames, innermost first.
 *
 * <=3.10: frames are heap PyFrameObjects linked by f_back; they can die and
 * be reused while we walk a running thread, so every frame is checked for
 * liveness and, unless the target is paused, the whole chain is re-read in
 * one vectored read at the end and must not have changed.
 * 3.11+: frames are _PyInterpreterFrames, mostly in the thread's data-stack
 * chunks: the walker reads whole chunk windows and walks locally, skipping
 * C-stack shims (3.12+), the 3.13 entry frame and incomplete frames. Chunk
 * slots are reused, not freed: a current-frame pointer read a moment before
 * the window can point at a dead slot above the live top whose `previous`
 * leads into newer frames. So, unless paused, the walk is verified too: one
 * vectored read of the thread's datastack_top and every frame's code and
 * previous link; every frame in the newest chunk must lie below that top,
 * and none may have changed.
 */
#ifndef PYPROBE_READER_FRAME_WALK_H
#define PYPROBE_READER_FRAME_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "code_cache.h"
#include "layout.h"
#include "memory.h"
#include "reader.h"

/* Deeper than this is treated as a corrupt (cyclic) chain. */
#define PP_MAX_FRAMES 65536

struct pp_frame_vec {
	struct pp_frame *v;
	size_t n, cap;
};

struct pp_walker {
	struct pp_mem *mem;
	const struct py_layout *l;
	struct pp_code_cache *codes;
	uint64_t frame_type; /* PyFrame_Type (<=3.10); 0 = unchecked */
	bool paused;         /* the target is stopped: no torn-read checks */
	/* scratch, reused between walks */
	uint8_t *scratch;
	size_t scratch_cap;
	uint64_t *chain; /* per frame: addr, link, code, instruction */
	size_t chain_cap;
};

void pp_walker_free(struct pp_walker *w);

/* Walk the thread whose PyThreadState, at `ts_addr` in the target, was read
 * into `ts` (l->ts_size bytes); append its frames to `out`. On anything but
 * PP_WALK_OK, `out` is left as it was. */
enum pp_walk_status pp_walk_thread(struct pp_walker *w, uint64_t ts_addr,
				   const uint8_t *ts, size_t tslen,
				   struct pp_frame_vec *out);

/* Append one frame; -1 when out of memory or past PP_MAX_FRAMES. */
int pp_frame_vec_push(struct pp_frame_vec *v, const struct pp_code *code,
		      int line);

#endif
