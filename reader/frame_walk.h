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

/* Target memory already read for this sample (by one vectored read of
 * what the previous sample walked). The walker takes anything that lies
 * wholly inside a data window from here instead of reading it.
 *
 * A frame window can carry twins: the same bytes read twice again, later
 * in that same vectored read - all first copies, then the threads' tops
 * (datastack_top, 3.11+), the first twins, the tops again, the second
 * twins. A walk whose every frame came from twinned windows is verified
 * against both twins at once, with no further read: the check that
 * re-reading the chain after the walk makes, twice over.
 *
 * Why twice: no re-read can tell a frame from a later call that reused its
 * slot with the same code, caller and position (recursion does that all
 * the time). Measured on a recursion churning as fast as it can (the
 * record_torn test), one re-read let about one stack in 10,000 through
 * spliced - as did the separate verification read; each further re-read
 * needs the same coincidence again. */
enum pp_window_kind { PP_WIN_DATA, PP_WIN_TOP };

struct pp_window {
	uint64_t base;
	size_t len;
	const uint8_t *buf;
	const uint8_t *twin[2]; /* or NULL */
	enum pp_window_kind kind;
	unsigned round;         /* PP_WIN_TOP: read before twin[round] */
};

/* A walk whose verification is still to be read (see pp_walker_verify). */
struct pp_walk_check {
	size_t chain_off, depth; /* its frames in pp_walker.chain */
	uint64_t ts_addr;
	uint64_t cbase, cend;    /* 3.11+: its newest data-stack chunk */
};

struct pp_walker {
	struct pp_mem *mem;
	const struct py_layout *l;
	struct pp_code_cache *codes;
	uint64_t frame_type; /* PyFrame_Type (<=3.10); 0 = unchecked */
	bool paused;         /* the target is stopped: no torn-read checks */
	/* Leave the torn-read check of each walk for pp_walker_verify(),
	 * which checks every walk of a sample in one read. */
	bool defer_verify;
	const struct pp_window *pre; /* borrowed, for this sample */
	size_t npre;
	bool walk_twinned; /* every frame of this walk came with a twin */
	/* What the last successful walk saw (for pp_walker_verify and for
	 * predicting the next sample's reads): its frames start at
	 * chain[last_chain_off * PP_CHAIN_N], last_depth of them; its check
	 * is checks[last_check], or -1 when it was verified at once. */
	size_t last_chain_off, last_depth;
	long last_check;
	uint64_t last_cbase, last_cend;
	/* scratch, reused between samples */
	uint8_t *scratch;
	size_t scratch_cap;
	uint64_t *chain; /* per frame: addr, link, code, instruction */
	size_t chain_cap, chain_used; /* in frames */
	struct pp_walk_check *checks;
	size_t nchecks, checks_cap;
};

/* Fields per frame in pp_walker.chain; [0] is the frame's address. */
#define PP_CHAIN_N 4

void pp_walker_free(struct pp_walker *w);

/* A sample begins: forget the previous sample's chains and checks. */
void pp_walker_begin_sample(struct pp_walker *w);

/* Read the verification of every deferred walk, and `extra` (another
 * check's reads, e.g. the code cache's), in one vectored read, and judge
 * each walk: ok[i] is true when checks[i]'s chain still stood, whole, when
 * it was re-read. Returns 0, or a negative errno when the combined read
 * failed (then nothing is judged; check walks one by one with
 * pp_walker_verify_one, and read `extra` again yourself). */
int pp_walker_verify(struct pp_walker *w, const struct pp_iov *extra,
		     size_t nextra, bool *ok);
bool pp_walker_verify_one(struct pp_walker *w, size_t check);

/* Walk the thread whose PyThreadState, at `ts_addr` in the target, was read
 * into `ts` (l->ts_size bytes); append its frames to `out`. On anything but
 * PP_WALK_OK, `out` is left as it was. */
enum pp_walk_status pp_walk_thread(struct pp_walker *w, uint64_t ts_addr,
				   const uint8_t *ts, size_t tslen,
				   struct pp_frame_vec *out);

/* <=3.10: the bytes of a PyFrameObject the walker reads (its head, up to
 * the last field it looks at - not the block stack that follows). */
size_t pp_frame_object_span(const struct py_layout *l);

/* Append one frame; -1 when out of memory or past PP_MAX_FRAMES. */
int pp_frame_vec_push(struct pp_frame_vec *v, const struct pp_code *code,
		      int line);

#endif
