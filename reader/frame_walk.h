/* One thread state -> its chain of frames, as read: every frame from the
 * innermost outward, and why the walk stopped. Reading only; whether what
 * was read held still while it was read is verify.h's question.
 *
 * <=3.10: frames are heap PyFrameObjects linked by f_back. They die and are
 * reused while a running thread is walked, so each is marked alive or not
 * (executing) as read, and the walk goes on through dead ones: a frame that
 * died keeps its link for a while, and the live frames beyond it are still
 * worth verifying.
 * 3.11+: frames are _PyInterpreterFrames, mostly in the thread's data-stack
 * chunks: the walker reads whole chunk windows and walks locally. C-stack
 * shims (3.12+), the 3.13 entry frame and incomplete frames are walked (they
 * are links of the chain) but not shown.
 *
 * Every walk is bounded: at most PP_MAX_FRAMES frames are read (the rest of
 * the chain is only counted, up to as many again), a frame met twice ends
 * the walk at once (a loop), and every read is checked.
 *
 * A running thread's innermost frames can be gone before they are read: a
 * <=3.10 frame object freed (its link then leads into the free list), a
 * 3.11+ generator that yielded (its link cleared). The walk then resumes
 * from where the thread's stack stood at the last sample: the innermost of
 * those frames still alive now, walked down to the same outermost frame
 * as then. What it shows from there is verified like any walk, and is cut
 * short above it (a stack that moved).
 *
 * Output frames are appended to a pp_frame_vec, innermost first: Python
 * frames, and in place of a frame whose code object cannot be read, an
 * unreadable-frame marker. Where the chain itself stops (unreadable, a loop,
 * too deep) is the walk's `end`; the caller draws that marker once it knows
 * what held still.
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

/* Frames one walk reads; past them the chain is counted, not read. */
#define PP_MAX_FRAMES (1u << 18)

struct pp_frame_vec {
	struct pp_frame *v;
	size_t n, cap;
};

/* Append one frame; -1 when out of memory. */
int pp_frame_vec_push(struct pp_frame_vec *v, const struct pp_frame *f);

/* Why a walk stopped. */
enum pp_walk_end {
	PP_END_BOTTOM = 0, /* a NULL link: the chain ended */
	PP_END_UNREADABLE, /* the next frame's memory could not be read */
	PP_END_NOT_FRAME,  /* what the link leads to is not a frame */
	PP_END_LOOP,       /* the link leads to a frame walked already */
	PP_END_NOT_EXECUTING, /* paused: a frame of the chain is not running */
	PP_END_TOO_DEEP,   /* PP_MAX_FRAMES read; `beyond` counts the rest */
};

/* Target memory already read for this sample (by one vectored read of
 * what the previous sample walked; readahead.h). The walker takes anything
 * that lies wholly inside a data window from here instead of reading it.
 *
 * A frame window can carry twins: the same bytes read twice again, later
 * in that same vectored read - all first copies, then the threads' tops
 * (datastack_top, 3.11+), the first twins, the tops again, the second
 * twins. A walk whose every frame came from twinned windows is verified
 * against both twins at once, with no further read (verify.h). */
enum pp_window_kind { PP_WIN_DATA, PP_WIN_TOP };

struct pp_window {
	uint64_t base;
	size_t len;
	const uint8_t *buf;
	const uint8_t *twin[2]; /* or NULL */
	enum pp_window_kind kind;
	unsigned round;         /* PP_WIN_TOP: read before twin[round] */
};

/* One frame of a chain as the walk read it: where it is, its link to its
 * caller, its code and instruction position - what a re-read compares. */
struct pp_chain_frame {
	uint64_t addr, link, code, instr;
	uint32_t out_at; /* output frames the walk had appended before it */
	uint8_t flags;   /* PP_CF_* */
	uint8_t owner;   /* 3.11+: _PyInterpreterFrame.owner */
};
enum {
	PP_CF_ALIVE = 1 << 0, /* <=3.10: executing when read (3.11+: set but for
			       * a frame already copied into a frame object or
			       * without code; the re-reads check the top and
			       * the current frame) */
	/* Its position as read can be one its code has. One that cannot
	 * never held still (verify.h): a frame caught while a call set it up
	 * can hold its new code beside the last call's position. */
	PP_CF_POSITION_OK = 1 << 1,
};

/* One walk of one thread state. */
struct pp_walk {
	uint64_t ts_addr;
	size_t chain_off, depth; /* its frames: pp_walker.chain[chain_off..+depth) */
	size_t out_start, nout;  /* its output frames in the caller's vector */
	enum pp_walk_end end;
	uint64_t end_addr;       /* where the chain led when it stopped */
	uint64_t beyond;         /* PP_END_TOO_DEEP: frames counted past */
	bool beyond_exact;       /* ...up to the chain's end */
	/* The outermost frame can be a thread's first: a NULL link, from a
	 * frame the thread itself owns (3.11; on 3.12+ the C-stack entry
	 * shim). A generator whose link is NULL has just yielded: a chain
	 * ending there lost its callers. */
	bool bottom_ok;
	uint64_t cbase, cend;    /* 3.11+: its newest data-stack chunk */
	uint64_t cframe;         /* 3.11/3.12: the _PyCFrame its current
				  * frame pointer was read from, or 0 */
	bool twinned;            /* every frame read from twinned windows */
	/* Resumed from the last sample's stack (see above): the frames it
	 * starts at are not the thread's innermost. `resume_lost`: it did not
	 * lead to the same outermost frame - nothing of it is shown. */
	bool resumed, resume_lost;
	/* What held still (verify.h): chain frames [verified_from, depth). */
	size_t verified_from;
};

/* Where a thread's stack stood at an earlier sample (resume.h): frames of
 * it, innermost first, and its outermost. */
#define PP_RESUME_FRAMES 48
struct pp_resume {
	const uint64_t *frames;
	size_t n;
	uint64_t outermost;
};

/* A set of frame addresses, for loops: cleared per walk in O(1). */
struct pp_seen_set {
	struct pp_seen { uint64_t addr; uint32_t gen; } *v;
	size_t cap, n;
	uint32_t gen;
};

struct pp_walker {
	struct pp_mem *mem;
	const struct py_layout *l;
	struct pp_code_cache *codes;
	uint64_t frame_type; /* PyFrame_Type (<=3.10); 0 = unchecked */
	bool paused;         /* the target is stopped: nothing moves */
	/* The read-ahead windows of this sample (borrowed), data windows
	 * sorted by base; tops apart. */
	const struct pp_window *pre;
	size_t npre;
	const struct pp_window **data_by_base;
	size_t ndata, data_cap;
	size_t data_hint;    /* the data window that served last */
	size_t top_hint;     /* where the last top window was found */
	/* this sample's walks and their frames */
	struct pp_walk *walks;
	size_t nwalks, walks_cap;
	struct pp_chain_frame *chain;
	size_t chain_used, chain_cap;
	struct pp_seen_set seen;
	/* scratch, reused between samples (verify.c) */
	uint8_t *scratch;
	size_t scratch_cap;
};

void pp_walker_free(struct pp_walker *w);

/* A sample begins: forget the previous sample's walks; take this sample's
 * read-ahead windows (valid until the next call; NULL, 0 for none). */
int pp_walker_begin_sample(struct pp_walker *w, const struct pp_window *pre, size_t npre);

/* Walk the thread whose PyThreadState, at `ts_addr` in the target, was read
 * into `ts` (l->ts_size bytes), appending its frames to `out`; `resume`
 * (or NULL) is where its stack stood at the last sample. Returns the index
 * of its walk in w->walks, or -1 when out of memory (then `out` is as it
 * was). */
long pp_walk_thread(struct pp_walker *w, uint64_t ts_addr, const uint8_t *ts, size_t tslen,
		    const struct pp_resume *resume, struct pp_frame_vec *out);

/* Forget the read-ahead windows: later walks of this sample (a thread read
 * again) read the target as it is now. */
void pp_walker_forget_windows(struct pp_walker *w);

/* <=3.10: the bytes of a PyFrameObject the walker reads (its head, up to
 * the last field it looks at - not the block stack that follows). */
size_t pp_frame_object_span(const struct py_layout *l);

/* The read-ahead data window holding [addr, addr+len) whole, or NULL. */
const struct pp_window *pp_walker_window(struct pp_walker *w, uint64_t addr, size_t len);
/* The read-ahead top window of round `round` at addr, or NULL. */
const struct pp_window *pp_walker_top_window(struct pp_walker *w, uint64_t addr,
					     unsigned round);

/* <=3.10: whether the frame object bytes fb (pp_frame_object_span) are
 * a live, executing frame. The innermost frame of a thread may also be one
 * its thread is entering or leaving (the evaluation loop sets the thread's
 * frame before marking it executing, and clears the mark before going back
 * to the caller): referenced, of the frame type, not executing. */
bool pp_frame_object_alive(const struct pp_walker *w, const uint8_t *fb, size_t len,
			   bool innermost);

#endif
