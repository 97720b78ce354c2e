/* Frame chains, per version family. See frame_walk.h for the why. */
#include "frame_walk.h"

#include <stdlib.h>
#include <string.h>

#include "linetable.h"

int pp_frame_vec_push(struct pp_frame_vec *v, const struct pp_code *code,
		      int line)
{
	if (v->n >= PP_MAX_FRAMES)
		return -1;
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 256;
		struct pp_frame *nv = realloc(v->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		v->v = nv;
		v->cap = ncap;
	}
	v->v[v->n].code = code;
	v->v[v->n].line = line;
	v->n++;
	return 0;
}

void pp_walker_free(struct pp_walker *w)
{
	free(w->scratch);
	free(w->chain);
	w->scratch = NULL;
	w->chain = NULL;
	w->scratch_cap = w->chain_cap = 0;
}

static int reserve(void **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < need)
		ncap *= 2;
	void *nb = realloc(*buf, ncap);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* A failed or implausible read: while the target runs that means it moved
 * under us (torn); while it is paused the memory is simply bad. */
static enum pp_walk_status broken(const struct pp_walker *w)
{
	return w->paused ? PP_WALK_ERROR : PP_WALK_TORN;
}

static int line_for(const struct pp_walker *w, const struct pp_code_entry *e,
		    int64_t unit)
{
	return pp_linetable_line(w->l->minor, e->linetable, e->linetable_len,
				 e->code.firstlineno, unit);
}

/* ---- 3.8 - 3.10: PyFrameObject chain ---------------------------------- */

static bool frame_alive(const struct pp_walker *w, const uint8_t *fb, size_t len)
{
	const struct py_layout *l = w->l;
	if ((int64_t)pp_get_u64(fb, len, l->ob_refcnt) <= 0)
		return false;
	if (w->frame_type && pp_get_u64(fb, len, l->ob_type) != w->frame_type)
		return false;
	int8_t state = (int8_t)pp_get_u8(fb, len, l->fo_state);
	if (l->minor <= 9)
		return state == 1; /* f_executing */
	return state == 0 || state == 2; /* FRAME_EXECUTING, FRAME_UNWINDING */
}

/* What the verification re-reads of each frame: where it is, its link to
 * its caller, its code and its instruction position. A caller cannot move
 * while its callee runs, so any change in these (bar the innermost frame's
 * position) means the chain we walked was spliced from two moments - even
 * when a new, identical call chain now occupies the same memory. */
enum { C_ADDR, C_LINK, C_CODE, C_INSTR, C_N };

static int remember(struct pp_walker *w, size_t depth, uint64_t addr,
		    uint64_t link, uint64_t code, uint64_t instr)
{
	if (reserve((void **)&w->chain, &w->chain_cap,
		    (depth + 1) * C_N * sizeof(uint64_t)) != 0)
		return -1;
	uint64_t *c = w->chain + depth * C_N;
	c[C_ADDR] = addr;
	c[C_LINK] = link;
	c[C_CODE] = code;
	c[C_INSTR] = instr;
	return 0;
}

/* Frame i of the re-read matches what the walk saw. */
static bool same_frame(const struct pp_walker *w, size_t i, const uint8_t *s,
		       size_t len, uint32_t base, uint32_t link, uint32_t code,
		       uint32_t instr, size_t instr_size)
{
	const uint64_t *c = w->chain + i * C_N;
	uint64_t now = instr_size == 4 ? pp_get_u32(s, len, instr - base)
				       : pp_get_u64(s, len, instr - base);
	return pp_get_u64(s, len, link - base) == c[C_LINK] &&
	       pp_get_u64(s, len, code - base) == c[C_CODE] &&
	       (i == 0 || now == c[C_INSTR]);
}

/* Re-read [lo, hi) of every remembered frame (plus `extra`, if any) in as
 * few syscalls as possible, into w->scratch: frame i at i * (hi - lo). */
static int reread_chain(struct pp_walker *w, size_t depth, uint32_t lo,
			uint32_t hi, const struct pp_iov *extra)
{
	size_t span = hi - lo;
	if (reserve((void **)&w->scratch, &w->scratch_cap, depth * span) != 0)
		return -1;
	struct pp_iov iov[64];
	size_t k = 0;
	if (extra)
		iov[k++] = *extra;
	for (size_t i = 0; i < depth; i++) {
		iov[k].addr = w->chain[i * C_N + C_ADDR] + lo;
		iov[k].buf = w->scratch + i * span;
		iov[k].len = span;
		if (++k == 64 || i + 1 == depth) {
			if (pp_mem_readv(w->mem, iov, k) != 0)
				return -1;
			k = 0;
		}
	}
	return k ? pp_mem_readv(w->mem, iov, k) : 0;
}

static enum pp_walk_status walk_frame_objects(struct pp_walker *w,
					      const uint8_t *ts, size_t tslen,
					      struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	size_t fsz = l->fo_size;
	size_t start = out->n;
	uint8_t fb[512];
	if (fsz > sizeof(fb) || fsz == 0)
		return PP_WALK_ERROR;

	size_t depth = 0;
	for (uint64_t f = pp_get_u64(ts, tslen, l->ts_frame); f;) {
		if (pp_mem_read(w->mem, f, fb, fsz) != 0 || !frame_alive(w, fb, fsz))
			goto torn;
		uint64_t code = pp_get_u64(fb, fsz, l->fo_code);
		const struct pp_code_entry *e = pp_code_cache_get(w->codes, w->mem, code);
		if (!e)
			goto torn;
		int32_t lasti = (int32_t)pp_get_u32(fb, fsz, l->fo_lasti);
		/* f_lasti is a byte offset on 3.8/3.9 and a code-unit index on
		 * 3.10; -1 means the frame has not started. */
		int64_t unit = lasti < 0 ? -1 : (l->minor <= 9 ? lasti / 2 : lasti);
		if (unit > e->ncodeunits)
			goto torn;
		uint64_t back = pp_get_u64(fb, fsz, l->fo_back);
		if (back == f)
			goto torn;
		if (remember(w, depth, f, back, code, (uint32_t)lasti) != 0 ||
		    pp_frame_vec_push(out, &e->code, line_for(w, e, unit)) != 0)
			goto torn;
		depth++;
		f = back;
	}
	if (w->paused || depth == 0)
		return PP_WALK_OK;

	/* Re-read every frame in one vectored read: if each is still alive,
	 * with the same f_back and f_code, the chain we reported existed as a
	 * whole at that moment. */
	if (reread_chain(w, depth, 0, (uint32_t)fsz, NULL) != 0)
		goto torn;
	for (size_t i = 0; i < depth; i++) {
		const uint8_t *b = w->scratch + i * fsz;
		if (!frame_alive(w, b, fsz) ||
		    !same_frame(w, i, b, fsz, 0, l->fo_back, l->fo_code, l->fo_lasti, 4))
			goto torn;
	}
	return PP_WALK_OK;
torn:
	out->n = start;
	return broken(w);
}

/* ---- 3.11+: _PyInterpreterFrame chain --------------------------------- */

/* Local copies of stretches of target memory, so that frames living in the
 * same data-stack chunk cost no further reads. */
#define MAX_WINDOWS 8
#define MAX_CHUNKS 256
#define CHUNK_READ_MAX (8u << 20)

struct window {
	uint64_t base;
	size_t len;
	uint8_t *buf;
};

struct frame_reader {
	struct pp_walker *w;
	struct window win[MAX_WINDOWS];
	size_t nwin;
	uint64_t chunk_head;  /* the thread's newest chunk */
	uint64_t chunks[MAX_CHUNKS][2]; /* known chunks: base, size */
	size_t nchunks;
	bool chunks_done;     /* walked to the oldest chunk */
	uint8_t single[128];  /* a frame read on its own */
};

static void fr_free(struct frame_reader *fr)
{
	for (size_t i = 0; i < fr->nwin; i++)
		free(fr->win[i].buf);
}

static int add_window(struct frame_reader *fr, uint64_t base, size_t len)
{
	if (fr->nwin == MAX_WINDOWS || len == 0 || len > CHUNK_READ_MAX)
		return -1;
	uint8_t *buf = malloc(len);
	if (!buf)
		return -1;
	if (pp_mem_read(fr->w->mem, base, buf, len) != 0) {
		free(buf);
		return -1;
	}
	fr->win[fr->nwin].base = base;
	fr->win[fr->nwin].len = len;
	fr->win[fr->nwin].buf = buf;
	fr->nwin++;
	return 0;
}

/* Learn the next older chunk (headers only). 0, or -1 when there is none. */
static int next_chunk(struct frame_reader *fr)
{
	const struct py_layout *l = fr->w->l;
	if (fr->chunks_done || fr->nchunks == MAX_CHUNKS)
		return -1;
	uint64_t addr = fr->nchunks == 0 ? fr->chunk_head : 0;
	if (fr->nchunks > 0) {
		uint8_t h[32];
		if (pp_mem_read(fr->w->mem, fr->chunks[fr->nchunks - 1][0], h,
				l->chunk_data) != 0)
			goto done;
		addr = pp_get_u64(h, sizeof(h), l->chunk_previous);
	}
	if (!addr)
		goto done;
	uint8_t h[32];
	if (l->chunk_data > sizeof(h) || pp_mem_read(fr->w->mem, addr, h, l->chunk_data) != 0)
		goto done;
	uint64_t size = pp_get_u64(h, sizeof(h), l->chunk_size);
	if (size < l->chunk_data || size > CHUNK_READ_MAX)
		goto done;
	fr->chunks[fr->nchunks][0] = addr;
	fr->chunks[fr->nchunks][1] = size;
	fr->nchunks++;
	return 0;
done:
	fr->chunks_done = true;
	return -1;
}

/* The frame header at `f`: from a window, by reading the chunk that holds
 * it up to the frame, or on its own (generator frames live in the heap). */
static const uint8_t *get_frame(struct frame_reader *fr, uint64_t f)
{
	size_t fsz = fr->w->l->if_size;
	for (size_t i = 0; i < fr->nwin; i++) {
		const struct window *wd = &fr->win[i];
		if (f >= wd->base && f - wd->base + fsz <= wd->len)
			return wd->buf + (f - wd->base);
	}
	for (size_t i = 0;; i++) {
		if (i == fr->nchunks && next_chunk(fr) != 0)
			break;
		uint64_t base = fr->chunks[i][0], size = fr->chunks[i][1];
		if (f >= base && f - base + fsz <= size) {
			/* Frames below f in this chunk are its callers: one
			 * read brings them all. */
			if (add_window(fr, base, (size_t)(f - base + fsz)) == 0)
				return fr->win[fr->nwin - 1].buf + (f - base);
			break;
		}
	}
	if (fsz > sizeof(fr->single) || pp_mem_read(fr->w->mem, f, fr->single, fsz) != 0)
		return NULL;
	return fr->single;
}

static uint64_t current_frame(struct pp_walker *w, const uint8_t *ts, size_t tslen)
{
	const struct py_layout *l = w->l;
	uint64_t p = pp_get_u64(ts, tslen, l->ts_frame);
	if (l->cf_current_frame == PP_ABSENT || !p)
		return p;
	/* 3.11/3.12: ts_frame is the _PyCFrame, usually on the C stack. */
	uint64_t f = 0;
	if (pp_mem_read_u64(w->mem, p + l->cf_current_frame, &f) != 0)
		return UINT64_MAX;
	return f;
}

/* See frame_walk.h: the chain must still be there, below the live top. */
static bool chain_still_live(struct pp_walker *w, const struct frame_reader *fr,
			     uint64_t ts_addr, size_t depth)
{
	const struct py_layout *l = w->l;
	uint32_t a = l->if_code, b = l->if_code;
	uint32_t fields[] = {l->if_previous, l->if_instr};
	for (size_t i = 0; i < 2; i++) {
		a = fields[i] < a ? fields[i] : a;
		b = fields[i] > b ? fields[i] : b;
	}
	b += 8;
	uint64_t top = 0;
	struct pp_iov topv = {ts_addr + l->ts_datastack_top, &top, 8};
	if (reread_chain(w, depth, a, b, &topv) != 0)
		return false;
	uint64_t cbase = fr->nchunks ? fr->chunks[0][0] : 0;
	uint64_t cend = fr->nchunks ? cbase + fr->chunks[0][1] : 0;
	for (size_t i = 0; i < depth; i++) {
		const uint8_t *s = w->scratch + i * (b - a);
		uint64_t f = w->chain[i * C_N + C_ADDR];
		if (!same_frame(w, i, s, b - a, a, l->if_previous, l->if_code,
				l->if_instr, 8))
			return false;
		if (f >= cbase && f < cend && f + l->if_size > top)
			return false; /* a dead slot above the thread's stack */
	}
	return true;
}

static enum pp_walk_status walk_interpreter_frames(struct pp_walker *w,
						   uint64_t ts_addr,
						   const uint8_t *ts, size_t tslen,
						   struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	size_t start = out->n;
	struct frame_reader fr = {.w = w};
	fr.chunk_head = pp_get_u64(ts, tslen, l->ts_datastack_chunk);

	uint64_t f = current_frame(w, ts, tslen);
	if (f == UINT64_MAX)
		return broken(w);
	size_t steps = 0;
	while (f) {
		if (++steps > PP_MAX_FRAMES)
			goto torn;
		const uint8_t *fb = get_frame(&fr, f);
		if (!fb)
			goto torn;
		size_t fsz = l->if_size;
		uint8_t owner = pp_get_u8(fb, fsz, l->if_owner);
		uint64_t prev = pp_get_u64(fb, fsz, l->if_previous);
		if (prev == f || owner > 3 ||
		    remember(w, steps - 1, f, prev, pp_get_u64(fb, fsz, l->if_code),
			     pp_get_u64(fb, fsz, l->if_instr)) != 0)
			goto torn;
		if (l->owner_cstack != PP_ABSENT && owner == l->owner_cstack) {
			/* 3.12 C-stack shim / 3.13 entry frame: not Python. */
			f = prev;
			continue;
		}
		uint64_t code = pp_get_u64(fb, fsz, l->if_code);
		const struct pp_code_entry *e = pp_code_cache_get(w->codes, w->mem, code);
		if (!e)
			goto torn;
		uint64_t instr = pp_get_u64(fb, fsz, l->if_instr);
		int64_t unit = ((int64_t)(instr - (code + l->co_code_adaptive))) / 2;
		if (unit < -1 || unit > e->ncodeunits)
			goto torn;
		/* _PyFrame_IsIncomplete: a frame that has not yet reached its
		 * first traceable instruction (or the 3.13 __init__ cleanup
		 * shim) is not part of the Python-visible stack. */
		if (owner != l->owner_generator && unit < e->firsttraceable) {
			f = prev;
			continue;
		}
		if (pp_frame_vec_push(out, &e->code, line_for(w, e, unit)) != 0)
			goto torn;
		f = prev;
	}
	if (!w->paused && steps && !chain_still_live(w, &fr, ts_addr, steps))
		goto torn;
	fr_free(&fr);
	return PP_WALK_OK;
torn:
	fr_free(&fr);
	out->n = start;
	return broken(w);
}

enum pp_walk_status pp_walk_thread(struct pp_walker *w, uint64_t ts_addr,
				   const uint8_t *ts, size_t tslen,
				   struct pp_frame_vec *out)
{
	if (w->l->if_size != PP_ABSENT)
		return walk_interpreter_frames(w, ts_addr, ts, tslen, out);
	return walk_frame_objects(w, ts, tslen, out);
}
