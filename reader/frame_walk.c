/* Frame chains, per version family. See frame_walk.h for the why. */
#include "frame_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linetable.h"

int pp_frame_vec_push(struct pp_frame_vec *v, const struct pp_frame *f)
{
	if (v->n == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 256;
		struct pp_frame *nv = realloc(v->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		v->v = nv;
		v->cap = ncap;
	}
	v->v[v->n++] = *f;
	return 0;
}

void pp_walker_free(struct pp_walker *w)
{
	free(w->scratch);
	free(w->chain);
	free(w->walks);
	free(w->data_by_base);
	free(w->seen.v);
	w->scratch = NULL;
	w->chain = NULL;
	w->walks = NULL;
	w->data_by_base = NULL;
	w->seen = (struct pp_seen_set){0};
	w->scratch_cap = w->chain_cap = w->chain_used = 0;
	w->nwalks = w->walks_cap = w->ndata = w->data_cap = 0;
}

/* ---- the read-ahead windows ---------------------------------------------- */

static int by_base(const void *a, const void *b)
{
	uint64_t x = (*(const struct pp_window *const *)a)->base;
	uint64_t y = (*(const struct pp_window *const *)b)->base;
	return x < y ? -1 : x > y;
}

int pp_walker_begin_sample(struct pp_walker *w, const struct pp_window *pre, size_t npre)
{
	w->nwalks = 0;
	w->chain_used = 0;
	w->pre = pre;
	w->npre = npre;
	w->ndata = 0;
	w->data_hint = 0;
	w->top_hint = 0;
	if (npre > w->data_cap) {
		const struct pp_window **n = realloc(w->data_by_base, npre * sizeof(*n));
		if (!n) {
			w->pre = NULL;
			w->npre = 0;
			return -1; /* read everything instead */
		}
		w->data_by_base = n;
		w->data_cap = npre;
	}
	for (size_t i = 0; i < npre; i++)
		if (pre[i].kind == PP_WIN_DATA)
			w->data_by_base[w->ndata++] = &pre[i];
	if (w->ndata > 1)
		qsort(w->data_by_base, w->ndata, sizeof(*w->data_by_base), by_base);
	return 0;
}

static bool holds(const struct pp_window *p, uint64_t addr, size_t len)
{
	return addr >= p->base && addr - p->base <= p->len && p->len - (addr - p->base) >= len;
}

/* Windows can overlap (a frame object freed and another allocated across
 * it): the one starting last at or below addr is tried, then a few before
 * it. A miss only means a read of our own. */
#define OVERLAP_TRIES 8

const struct pp_window *pp_walker_window(struct pp_walker *w, uint64_t addr, size_t len)
{
	if (!w->ndata)
		return NULL;
	/* A walk takes frame after frame from one chunk's window. */
	if (w->data_hint < w->ndata && holds(w->data_by_base[w->data_hint], addr, len))
		return w->data_by_base[w->data_hint];
	size_t lo = 0, hi = w->ndata;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->data_by_base[mid]->base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = 0; k < OVERLAP_TRIES && lo > k; k++) {
		const struct pp_window *p = w->data_by_base[lo - 1 - k];
		if (holds(p, addr, len)) {
			w->data_hint = lo - 1 - k;
			return p;
		}
	}
	return NULL;
}

const struct pp_window *pp_walker_top_window(struct pp_walker *w, uint64_t addr,
					     unsigned round)
{
	/* Asked thread after thread, word after word, in the order the
	 * read-ahead laid them out: from the last one found on, the next is
	 * near - not a scan of every window per word. */
	for (size_t k = 0; k < w->npre; k++) {
		size_t i = (w->top_hint + k) % w->npre;
		const struct pp_window *p = &w->pre[i];
		if (p->kind == PP_WIN_TOP && p->round == round && holds(p, addr, 8)) {
			w->top_hint = i;
			return p;
		}
	}
	return NULL;
}

/* A frame's bytes from the read-ahead; notes whether it has twins. */
static const uint8_t *pre_frame(struct pp_walker *w, struct pp_walk *wk, uint64_t addr,
				size_t len)
{
	const struct pp_window *p = pp_walker_window(w, addr, len);
	if (!p || !p->twin[0] || !p->twin[1])
		wk->twinned = false;
	return p ? p->buf + (addr - p->base) : NULL;
}

/* A read the walker may serve from the read-ahead windows. */
static int wread(struct pp_walker *w, uint64_t addr, void *buf, size_t len)
{
	const struct pp_window *p = pp_walker_window(w, addr, len);
	if (p) {
		memcpy(buf, p->buf + (addr - p->base), len);
		return 0;
	}
	return pp_mem_read(w->mem, addr, buf, len);
}

/* ---- frames met before: loops ------------------------------------------- */

static size_t hash_addr(uint64_t a)
{
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	a ^= a >> 33;
	return (size_t)a;
}

static void seen_clear(struct pp_seen_set *s)
{
	s->n = 0;
	if (++s->gen == 0) { /* wrapped: stale stamps could match */
		if (s->v)
			memset(s->v, 0, s->cap * sizeof(*s->v));
		s->gen = 1;
	}
}

static int seen_grow(struct pp_seen_set *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 256;
	struct pp_seen *nv = calloc(ncap, sizeof(*nv));
	if (!nv)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		if (s->v[i].gen != s->gen)
			continue;
		size_t j = hash_addr(s->v[i].addr) & (ncap - 1);
		while (nv[j].gen == s->gen)
			j = (j + 1) & (ncap - 1);
		nv[j] = s->v[i];
	}
	free(s->v);
	s->v = nv;
	s->cap = ncap;
	return 0;
}

/* 1 when addr was met already in this walk (else it is added), -1 when
 * out of memory. */
static int seen_before(struct pp_seen_set *s, uint64_t addr)
{
	if ((s->n + 1) * 2 > s->cap && seen_grow(s) != 0)
		return -1;
	size_t j = hash_addr(addr) & (s->cap - 1);
	for (; s->v[j].gen == s->gen; j = (j + 1) & (s->cap - 1))
		if (s->v[j].addr == addr)
			return 1;
	s->v[j] = (struct pp_seen){addr, s->gen};
	s->n++;
	return 0;
}

/* ---- what a walk records ---------------------------------------------------- */

static int push_chain(struct pp_walker *w, const struct pp_chain_frame *c)
{
	if (w->chain_used == w->chain_cap) {
		size_t ncap = w->chain_cap ? w->chain_cap * 2 : 1024;
		struct pp_chain_frame *n = realloc(w->chain, ncap * sizeof(*n));
		if (!n)
			return -1;
		w->chain = n;
		w->chain_cap = ncap;
	}
	w->chain[w->chain_used++] = *c;
	return 0;
}

static int line_for(const struct py_layout *l, const struct pp_code_entry *ce, int64_t unit)
{
	/* The cache hands entries out const so that callers cannot change
	 * what identifies them; the memo is the walker's own. */
	struct pp_code_entry *e = (struct pp_code_entry *)ce;
	if (!e->linetable || e->ncodeunits < 0 || unit > e->ncodeunits || unit < -1)
		return PP_FRAME_LINE_UNKNOWN;
	if (e->memo_unit == unit)
		return e->memo_line;
	int line = pp_linetable_line(l->minor, e->linetable, e->linetable_len,
				     e->code.firstlineno, unit);
	if (line < PP_FRAME_LINE_NONE)
		line = PP_FRAME_LINE_UNKNOWN; /* a corrupt table or first line */
	e->memo_unit = unit;
	e->memo_line = line;
	return line;
}

/* Whether `unit` can be a position in e's code: false only when it is
 * known not to be (a code whose length could not be read has no line to
 * show, not a wrong one). */
static bool position_ok(const struct pp_code_entry *e, int64_t unit)
{
	return !e || e->ncodeunits < 0 || (unit >= -1 && unit <= e->ncodeunits);
}

/* The output frame of a frame whose code is at `code` (e: its cache entry,
 * or NULL when it is no code object). */
static int emit(struct pp_walker *w, struct pp_frame_vec *out, const struct pp_code_entry *e,
		int64_t unit)
{
	struct pp_frame f = {0};
	if (e) {
		f.kind = PP_RF_PYTHON;
		f.entry = w->l->minor <= 10; /* one evaluation call a frame */
		f.code = &e->code;
		f.line = line_for(w->l, e, unit);
	} else {
		f.kind = PP_RF_UNREADABLE;
		f.why = PP_UNREAD_NOT_CODE;
		f.line = PP_FRAME_LINE_NONE;
	}
	return pp_frame_vec_push(out, &f);
}

/* Count the links past the frames read, up to as many again (each costs a
 * read of its own on <=3.10). */
static void count_beyond(struct pp_walker *w, struct pp_walk *wk, uint64_t f,
			 uint64_t (*link_of)(struct pp_walker *, void *, uint64_t, bool *),
			 void *ctx)
{
	wk->beyond = 0;
	wk->beyond_exact = false;
	while (wk->beyond < PP_MAX_FRAMES) {
		if (!f) {
			wk->beyond_exact = true;
			return;
		}
		if (seen_before(&w->seen, f) != 0)
			return;
		bool ok = false;
		uint64_t next = link_of(w, ctx, f, &ok);
		if (!ok)
			return;
		wk->beyond++;
		f = next;
	}
}

/* ---- 3.8 - 3.10: PyFrameObject chain ---------------------------------- */

bool pp_frame_object_alive(const struct pp_walker *w, const uint8_t *fb, size_t len,
			   bool innermost)
{
	const struct py_layout *l = w->l;
	if ((int64_t)pp_get_u64(fb, len, l->ob_refcnt) <= 0)
		return false; /* freed: on a free list, or kept for reuse */
	if (w->frame_type && pp_get_u64(fb, len, l->ob_type) != w->frame_type)
		return false;
	/* Entered or left, it still has its caller; a generator that yielded
	 * has had its link cleared (the one frame paused threads never show
	 * as their innermost without a link). */
	if (innermost && (w->paused || pp_get_u64(fb, len, l->fo_back)))
		return true;
	int8_t state = (int8_t)pp_get_u8(fb, len, l->fo_state);
	if (l->minor <= 9)
		return state == 1; /* f_executing */
	return state == 0 || state == 2; /* FRAME_EXECUTING, FRAME_UNWINDING */
}

size_t pp_frame_object_span(const struct py_layout *l)
{
	uint32_t end[] = {l->ob_refcnt + 8, l->ob_type + 8, l->fo_back + 8, l->fo_code + 8,
			  l->fo_lasti + 4, l->fo_state + 1};
	size_t hi = 0;
	for (size_t i = 0; i < sizeof(end) / sizeof(end[0]); i++)
		hi = end[i] > hi ? end[i] : hi;
	hi = (hi + 7) & ~(size_t)7;
	return hi < l->fo_size ? hi : l->fo_size;
}

static uint64_t frame_object_link(struct pp_walker *w, void *ctx, uint64_t f, bool *ok)
{
	(void)ctx;
	uint64_t back = 0;
	*ok = wread(w, f + w->l->fo_back, &back, 8) == 0;
	return back;
}

/* Follow the chain from frame f. Returns 0 (wk->end says where it
 * stopped), 1 when it stopped at a frame that is not executing while the
 * target runs (its link cannot be trusted: it may lead into the free
 * list), -1 when out of memory. */
static int follow_frame_objects(struct pp_walker *w, struct pp_walk *wk, uint64_t f,
				struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	size_t fsz = pp_frame_object_span(l);
	uint8_t fb[512];
	if (fsz > sizeof(fb) || fsz == 0)
		return -1;
	while (f) {
		wk->end_addr = f;
		if (wk->depth == PP_MAX_FRAMES) {
			wk->end = PP_END_TOO_DEEP;
			count_beyond(w, wk, f, frame_object_link, NULL);
			return 0;
		}
		int seen = seen_before(&w->seen, f);
		if (seen < 0)
			return -1;
		if (seen) {
			wk->end = PP_END_LOOP;
			return 0;
		}
		const uint8_t *pf = pre_frame(w, wk, f, fsz);
		if (pf)
			memcpy(fb, pf, fsz);
		else if (pp_mem_read(w->mem, f, fb, fsz) != 0) {
			wk->end = PP_END_UNREADABLE;
			return 0;
		}
		if (w->frame_type && pp_get_u64(fb, fsz, l->ob_type) != w->frame_type) {
			wk->end = PP_END_NOT_FRAME;
			return 0;
		}
		if (!pp_frame_object_alive(w, fb, fsz, wk->depth == 0 && !wk->resumed)) {
			wk->end = PP_END_NOT_EXECUTING;
			return w->paused ? 0 : 1;
		}
		uint64_t code = pp_get_u64(fb, fsz, l->fo_code);
		int32_t lasti = (int32_t)pp_get_u32(fb, fsz, l->fo_lasti);
		uint64_t back = pp_get_u64(fb, fsz, l->fo_back);
		/* f_lasti is a byte offset on 3.8/3.9 and a code-unit index on
		 * 3.10; -1 means the frame has not started. */
		int64_t unit = lasti < 0 ? -1 : (l->minor <= 9 ? lasti / 2 : lasti);
		const struct pp_code_entry *e = pp_code_cache_get(w->codes, w->mem, code);
		struct pp_chain_frame c = {f, back, code, (uint32_t)lasti,
					   (uint32_t)(out->n - wk->out_start),
					   PP_CF_ALIVE | (position_ok(e, unit) ? PP_CF_POSITION_OK : 0),
					   0};
		if (push_chain(w, &c) != 0)
			return -1;
		wk->depth++;
		if (emit(w, out, e, unit) != 0)
			return -1;
		f = back;
	}
	wk->end = PP_END_BOTTOM;
	wk->end_addr = 0;
	return 0;
}

/* Start the walk over: nothing of it is kept. */
static void restart(struct pp_walker *w, struct pp_walk *wk, struct pp_frame_vec *out)
{
	w->chain_used = wk->chain_off;
	out->n = wk->out_start;
	wk->depth = 0;
	wk->twinned = true;
	wk->end = PP_END_BOTTOM;
	wk->end_addr = 0;
	seen_clear(&w->seen);
}

/* Walk again from frame f, which is not the thread's innermost: the walk
 * is lost unless it reaches the thread's outermost frame. -1 when out of
 * memory. */
static int resume_from(struct pp_walker *w, struct pp_walk *wk, uint64_t f, uint64_t outermost,
		       struct pp_frame_vec *out)
{
	restart(w, wk, out);
	wk->resumed = true;
	if (follow_frame_objects(w, wk, f, out) < 0)
		return -1;
	wk->resume_lost = wk->end != PP_END_BOTTOM || !wk->depth ||
			  w->chain[w->chain_used - 1].addr != outermost;
	return 0;
}

/* The read-ahead frames that are executing and that no other executing
 * one calls - the innermost of each chain among them - tried in turn as
 * resume points; the walk must reach `outermost`. <=3.10: every data
 * window of a frame object's span is one. */
#define AHEAD_MAX 256

static int resume_from_read_ahead(struct pp_walker *w, struct pp_walk *wk, uint64_t outermost,
				  struct pp_frame_vec *out)
{
	size_t fsz = pp_frame_object_span(w->l);
	uint64_t addr[AHEAD_MAX], back[AHEAD_MAX];
	size_t n = 0;
	for (size_t i = 0; i < w->ndata && n < AHEAD_MAX; i++) {
		const struct pp_window *p = w->data_by_base[i];
		if (p->len != fsz || !pp_frame_object_alive(w, p->buf, fsz, false))
			continue;
		addr[n] = p->base;
		back[n++] = pp_get_u64(p->buf, fsz, w->l->fo_back);
	}
	for (size_t i = 0; i < n; i++) {
		bool called = false;
		for (size_t j = 0; j < n && !called; j++)
			called = back[j] == addr[i];
		if (called)
			continue;
		if (resume_from(w, wk, addr[i], outermost, out) < 0)
			return -1;
		if (!wk->resume_lost)
			return 0;
	}
	return 0;
}

static int walk_frame_objects(struct pp_walker *w, struct pp_walk *wk, const uint8_t *ts,
			      size_t tslen, const struct pp_resume *resume,
			      struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	wk->bottom_ok = true; /* an executing frame with no caller is a bottom */
	int rc = follow_frame_objects(w, wk, pp_get_u64(ts, tslen, l->ts_frame), out);
	if (rc != 1 || !resume)
		return rc < 0 ? -1 : 0;
	/* A frame that returned, and where the thread's stack ends is known
	 * (a frame met by way of a dead one could be another thread's: it
	 * must lead to this thread's outermost frame). Kept for reuse by its
	 * code object, a returned frame still links to its caller, which may
	 * well be running: the first frame down its stale links that is
	 * executing is a place to resume from. (On the free list instead, its
	 * link leads along the list.) */
	size_t fsz = pp_frame_object_span(l);
	uint8_t fb[512];
	if (fsz > sizeof(fb))
		return 0;
	uint64_t f = wk->end_addr;
	for (int hops = 0; hops < 64 && f; hops++) {
		if (wread(w, f, fb, fsz) != 0)
			break;
		if (pp_frame_object_alive(w, fb, fsz, false)) {
			if (resume_from(w, wk, f, resume->outermost, out) < 0)
				return -1;
			if (!wk->resume_lost)
				return 0;
			break;
		}
		f = pp_get_u64(fb, fsz, l->fo_back);
	}
	/* Else from the innermost executing frame the read-ahead holds that
	 * leads to the thread's outermost frame: the frames recent samples
	 * met are read ahead, and a recursion keeps reusing the same ones. */
	if (resume_from_read_ahead(w, wk, resume->outermost, out) < 0)
		return -1;
	if (wk->resumed && !wk->resume_lost)
		return 0;
	/* Else from the innermost frame of an earlier walk that is still
	 * executing, and leads to the same outermost frame. (The read-ahead
	 * copies frames at slightly different moments: a frame alive in its
	 * copy can have a caller that returned in the next one - the next
	 * candidate out is tried then.) */
	for (size_t i = 0; i < resume->n; i++) {
		f = resume->frames[i];
		if (wread(w, f, fb, fsz) != 0 || !pp_frame_object_alive(w, fb, fsz, false))
			continue;
		if (resume_from(w, wk, f, resume->outermost, out) < 0)
			return -1;
		if (!wk->resume_lost)
			break;
	}
	return 0;
}

/* ---- 3.11+: _PyInterpreterFrame chain --------------------------------- */

/* Local copies of stretches of the thread's data stack, so that frames
 * living in the same chunk cost no further reads. A chunk is read from its
 * base up to the first (innermost) frame the walk meets in it: its callers
 * lie below. Bounded in total; past that, frames are read one by one. */
#define CHUNK_READ_MAX (8u << 20)
#define WINDOWS_MAX_BYTES (256u << 20)

struct window {
	uint64_t base;
	size_t len;
	uint8_t *buf;
};

struct frame_reader {
	struct pp_walker *w;
	struct pp_walk *wk;
	struct window *win;
	size_t nwin, capwin, bytes, hint;
	uint64_t chunk_head;         /* the thread's newest chunk */
	uint64_t base_frame;         /* 3.15+: where a whole chain ends */
	uint64_t (*chunks)[2];       /* chunks learnt, newest first: base, size */
	size_t nchunks, capchunks, chunk_hint;
	bool chunks_done;            /* walked to the oldest chunk */
	uint8_t single[128];         /* a frame read on its own */
};

static void fr_free(struct frame_reader *fr)
{
	for (size_t i = 0; i < fr->nwin; i++)
		free(fr->win[i].buf);
	free(fr->win);
	free(fr->chunks);
}

static int add_window(struct frame_reader *fr, uint64_t base, size_t len)
{
	if (len == 0 || len > CHUNK_READ_MAX || fr->bytes + len > WINDOWS_MAX_BYTES)
		return -1;
	if (fr->nwin == fr->capwin) {
		size_t ncap = fr->capwin ? fr->capwin * 2 : 8;
		struct window *n = realloc(fr->win, ncap * sizeof(*n));
		if (!n)
			return -1;
		fr->win = n;
		fr->capwin = ncap;
	}
	uint8_t *buf = malloc(len);
	if (!buf)
		return -1;
	if (pp_mem_read(fr->w->mem, base, buf, len) != 0) {
		free(buf);
		return -1;
	}
	fr->win[fr->nwin++] = (struct window){base, len, buf};
	fr->bytes += len;
	return 0;
}

/* Learn the next older chunk (headers only). 0, or -1 when there is none. */
static int next_chunk(struct frame_reader *fr)
{
	const struct py_layout *l = fr->w->l;
	uint8_t h[32];
	if (fr->chunks_done || l->chunk_data > sizeof(h))
		goto done;
	uint64_t addr = fr->chunk_head;
	if (fr->nchunks > 0) {
		if (wread(fr->w, fr->chunks[fr->nchunks - 1][0], h, l->chunk_data) != 0)
			goto done;
		addr = pp_get_u64(h, sizeof(h), l->chunk_previous);
	}
	if (!addr || wread(fr->w, addr, h, l->chunk_data) != 0)
		goto done;
	uint64_t size = pp_get_u64(h, sizeof(h), l->chunk_size);
	if (size < l->chunk_data || size > CHUNK_READ_MAX)
		goto done;
	for (size_t i = 0; i < fr->nchunks; i++)
		if (fr->chunks[i][0] == addr)
			goto done; /* the chunk list loops */
	if (fr->nchunks == fr->capchunks) {
		size_t ncap = fr->capchunks ? fr->capchunks * 2 : 16;
		uint64_t(*n)[2] = realloc(fr->chunks, ncap * sizeof(*n));
		if (!n)
			goto done;
		fr->chunks = n;
		fr->capchunks = ncap;
	}
	fr->chunks[fr->nchunks][0] = addr;
	fr->chunks[fr->nchunks][1] = size;
	fr->nchunks++;
	return 0;
done:
	fr->chunks_done = true;
	return -1;
}

/* The chunk holding [f, f+len), learning older chunks as needed: a walk
 * goes from newer chunks to older ones, so the search starts at the one
 * that held the last frame. -1 when none does. */
static long chunk_of(struct frame_reader *fr, uint64_t f, size_t len)
{
	for (size_t i = fr->chunk_hint;; i++) {
		if (i == fr->nchunks && next_chunk(fr) != 0)
			break;
		if (f >= fr->chunks[i][0] && f - fr->chunks[i][0] + len <= fr->chunks[i][1]) {
			fr->chunk_hint = i;
			return (long)i;
		}
	}
	for (size_t i = 0; i < fr->chunk_hint && i < fr->nchunks; i++)
		if (f >= fr->chunks[i][0] && f - fr->chunks[i][0] + len <= fr->chunks[i][1])
			return (long)i;
	return -1;
}

static const uint8_t *in_windows(struct frame_reader *fr, uint64_t f, size_t fsz)
{
	if (fr->hint < fr->nwin) {
		const struct window *wd = &fr->win[fr->hint];
		if (f >= wd->base && f - wd->base + fsz <= wd->len)
			return wd->buf + (f - wd->base);
	}
	for (size_t i = fr->nwin; i-- > 0;) { /* the newest window is likeliest */
		const struct window *wd = &fr->win[i];
		if (f >= wd->base && f - wd->base + fsz <= wd->len) {
			fr->hint = i;
			return wd->buf + (f - wd->base);
		}
	}
	return NULL;
}

/* The frame header at `f`: from a window, by reading the chunk that holds
 * it up to the frame, or on its own (generator frames live in the heap,
 * 3.12+ shims on the C stack). */
static const uint8_t *get_frame(struct frame_reader *fr, uint64_t f)
{
	size_t fsz = fr->w->l->if_size;
	const uint8_t *p = in_windows(fr, f, fsz);
	if (p) {
		fr->wk->twinned = false; /* read during the walk */
		return p;
	}
	p = pre_frame(fr->w, fr->wk, f, fsz);
	if (p)
		return p;
	long c = chunk_of(fr, f, fsz);
	if (c >= 0) {
		uint64_t base = fr->chunks[c][0];
		/* Frames below f in its chunk are its callers: one read
		 * brings them all. */
		if (add_window(fr, base, (size_t)(f - base + fsz)) == 0) {
			fr->hint = fr->nwin - 1;
			fr->wk->twinned = false;
			return fr->win[fr->nwin - 1].buf + (f - base);
		}
	}
	fr->wk->twinned = false;
	if (fsz > sizeof(fr->single) || pp_mem_read(fr->w->mem, f, fr->single, fsz) != 0)
		return NULL;
	return fr->single;
}

static uint64_t interpreter_frame_link(struct pp_walker *w, void *ctx, uint64_t f, bool *ok)
{
	const uint8_t *fb = get_frame(ctx, f);
	*ok = fb != NULL;
	return fb ? pp_get_u64(fb, w->l->if_size, w->l->if_previous) : 0;
}

/* The thread's innermost frame pointer; -1 when the _PyCFrame holding it
 * (3.11/3.12, usually on the C stack) cannot be read. */
static int current_frame(struct pp_walker *w, const uint8_t *ts, size_t tslen, uint64_t *f,
			 uint64_t *cframe)
{
	const struct py_layout *l = w->l;
	*f = pp_get_u64(ts, tslen, l->ts_frame);
	*cframe = 0;
	if (l->cf_current_frame == PP_ABSENT || !*f)
		return 0;
	*cframe = *f;
	*f = 0;
	return wread(w, *cframe + l->cf_current_frame, f, 8);
}

/* What an owner value says of a frame on the chain: 0 a frame of the
 * thread's own (FRAME_OWNED_BY_THREAD is 0 in every version), the
 * generator value from the layout, 2 a frame that has been copied into a
 * frame object (it has returned: off the live chain); the C-stack shims and
 * entry frames of 3.12/3.13 (CSTACK) and the interpreter's own frames of
 * 3.14+ (INTERPRETER and up: entry and base frames) are links of the chain
 * but not Python; anything else is no frame at all. */
enum owner_kind { OWNER_THREAD, OWNER_GENERATOR, OWNER_ENTRY, OWNER_DEAD, OWNER_BAD };

static enum owner_kind owner_kind(const struct py_layout *l, uint8_t owner)
{
	if (owner == 0)
		return OWNER_THREAD;
	if (owner == l->owner_generator)
		return OWNER_GENERATOR;
	if (owner == 2) /* FRAME_OWNED_BY_FRAME_OBJECT */
		return OWNER_DEAD;
	uint32_t max = 3; /* the highest owner value of the version */
	if (l->owner_cstack != PP_ABSENT && l->owner_cstack > max)
		max = l->owner_cstack;
	if (l->owner_interpreter != PP_ABSENT && l->owner_interpreter > max)
		max = l->owner_interpreter;
	if (owner > max)
		return OWNER_BAD;
	if (l->owner_cstack != PP_ABSENT && owner == l->owner_cstack)
		return OWNER_ENTRY;
	if (l->owner_interpreter != PP_ABSENT && owner >= l->owner_interpreter)
		return OWNER_ENTRY;
	return OWNER_BAD;
}

/* Follow the chain from frame f (3.11+). Returns 0 (wk->end says where it
 * stopped), -1 when out of memory. */
static int follow_interpreter_frames(struct pp_walker *w, struct pp_walk *wk,
				     struct frame_reader *fr, uint64_t f, struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	bool emitted_last = false; /* the previous chain frame was shown */
	while (f) {
		wk->end_addr = f;
		if (wk->depth == PP_MAX_FRAMES) {
			wk->end = PP_END_TOO_DEEP;
			count_beyond(w, wk, f, interpreter_frame_link, fr);
			return 0;
		}
		int seen = seen_before(&w->seen, f);
		if (seen < 0)
			return -1;
		if (seen) {
			wk->end = PP_END_LOOP;
			return 0;
		}
		const uint8_t *fb = get_frame(fr, f);
		if (!fb) {
			wk->end = PP_END_UNREADABLE;
			return 0;
		}
		size_t fsz = l->if_size;
		uint8_t owner = pp_get_u8(fb, fsz, l->if_owner);
		enum owner_kind kind = owner_kind(l, owner);
		if (kind == OWNER_BAD) {
			wk->end = PP_END_NOT_FRAME;
			return 0;
		}
		if (kind == OWNER_DEAD && w->paused) {
			wk->end = PP_END_NOT_EXECUTING;
			return 0;
		}
		uint64_t prev = pp_get_u64(fb, fsz, l->if_previous);
		/* 3.14+: f_executable is a tagged reference; the chain keeps it
		 * as read (re-reads compare it), the lookup untags it */
		uint64_t tagged = pp_get_u64(fb, fsz, l->if_code);
		uint64_t code = tagged & ~(uint64_t)l->if_code_tag_bits;
		uint64_t instr = pp_get_u64(fb, fsz, l->if_instr);
		/* A running thread's frame with no executable is none the
		 * program runs in: 3.15 threads read while they ran were seen
		 * with their current frame on one whose executable had been
		 * cleared, left at its return, its caller beneath it. Like an
		 * incomplete frame it is not shown; it is not alive either,
		 * so no walk is verified through it. (Paused, no thread was
		 * seen so: there it is damage, an unreadable frame.) */
		bool no_code = !w->paused && kind != OWNER_ENTRY && code == 0;
		const struct pp_code_entry *e = kind == OWNER_ENTRY || no_code
			? NULL : pp_code_cache_get(w->codes, w->mem, code);
		int64_t unit = e ? ((int64_t)(instr - (code + l->co_code_adaptive))) / 2 : 0;
		struct pp_chain_frame c = {f, prev, tagged, instr,
					   (uint32_t)(out->n - wk->out_start),
					   (kind == OWNER_DEAD || no_code ? 0 : PP_CF_ALIVE) |
					   (position_ok(e, unit) ? PP_CF_POSITION_OK : 0), owner};
		if (push_chain(w, &c) != 0)
			return -1;
		wk->depth++;
		f = prev;
		/* 3.12+: the frame just shown, if its caller is this C-stack
		 * entry frame, is the first of an evaluation call. */
		if (kind == OWNER_ENTRY && emitted_last)
			out->v[out->n - 1].entry = true;
		emitted_last = false;
		if (kind == OWNER_ENTRY || no_code)
			continue; /* a C-stack shim, an entry or base frame: not Python */
		/* _PyFrame_IsIncomplete: a frame that has not yet reached its
		 * first traceable instruction (or the 3.13 __init__ cleanup
		 * shim) is not part of the Python-visible stack. */
		if (e && kind != OWNER_GENERATOR && unit >= -1 && unit < e->firsttraceable)
			continue;
		if (emit(w, out, e, unit) != 0)
			return -1;
		emitted_last = out->v[out->n - 1].kind == PP_RF_PYTHON;
		if (emitted_last && l->if_is_entry != PP_ABSENT) /* 3.11 */
			out->v[out->n - 1].entry = pp_get_u8(fb, fsz, l->if_is_entry) != 0;
	}
	wk->end = PP_END_BOTTOM;
	wk->end_addr = 0;
	/* A thread's outermost frame is its own (3.11), on 3.12-3.14 the
	 * entry frame its first evaluation pushed, on 3.15 the base frame in
	 * its thread state; a chain ending in a generator frame lost its
	 * callers when the generator yielded. */
	if (wk->depth == 0) {
		wk->bottom_ok = true;
	} else {
		const struct pp_chain_frame *last = &w->chain[w->chain_used - 1];
		enum owner_kind k = owner_kind(l, last->owner);
		if (l->ts_base_frame != PP_ABSENT)
			wk->bottom_ok = last->addr == fr->base_frame;
		else if (l->owner_cstack != PP_ABSENT || l->owner_interpreter != PP_ABSENT)
			wk->bottom_ok = k == OWNER_ENTRY;
		else
			wk->bottom_ok = k == OWNER_THREAD;
	}
	return 0;
}

/* Whether frame f can stand for where the thread is now (to resume a walk
 * from): a frame of the thread's own (not a generator's, which another
 * thread may run), not returned, and below the data-stack top its thread
 * state showed. */
static bool resumable(struct frame_reader *fr, uint64_t f, uint64_t top)
{
	const struct py_layout *l = fr->w->l;
	const uint8_t *fb = get_frame(fr, f);
	if (!fb)
		return false;
	enum owner_kind kind = owner_kind(l, pp_get_u8(fb, l->if_size, l->if_owner));
	if (kind != OWNER_THREAD && kind != OWNER_ENTRY)
		return false;
	for (size_t i = 0; i < fr->nchunks; i++)
		if (f >= fr->chunks[i][0] && f < fr->chunks[i][0] + fr->chunks[i][1])
			return i > 0 || (top > f && top - f >= l->if_size);
	return true;
}

static int walk_interpreter_frames(struct pp_walker *w, struct pp_walk *wk, const uint8_t *ts,
				   size_t tslen, const struct pp_resume *resume,
				   struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	struct frame_reader fr = {.w = w, .wk = wk};
	int rc = 0;
	fr.chunk_head = pp_get_u64(ts, tslen, l->ts_datastack_chunk);
	if (l->ts_base_frame != PP_ABSENT)
		fr.base_frame = pp_get_u64(ts, tslen, l->ts_base_frame);
	/* The newest chunk's bounds are needed to verify the walk, even when
	 * every frame comes from the read-ahead. */
	if (fr.chunk_head)
		next_chunk(&fr);
	uint64_t f, cframe;
	if (current_frame(w, ts, tslen, &f, &cframe) != 0) {
		wk->end = PP_END_UNREADABLE;
		wk->end_addr = cframe;
	} else {
		wk->cframe = cframe;
		rc = follow_interpreter_frames(w, wk, &fr, f, out);
	}
	/* A generator that yielded while it was read: resume from the
	 * innermost frame of the last sample's stack that still stands. */
	if (rc == 0 && !w->paused && resume && wk->end == PP_END_BOTTOM && !wk->bottom_ok) {
		uint64_t top = pp_get_u64(ts, tslen, l->ts_datastack_top);
		for (size_t i = 0; i < resume->n && rc == 0; i++) {
			if (!resumable(&fr, resume->frames[i], top))
				continue;
			restart(w, wk, out);
			wk->resumed = true;
			rc = follow_interpreter_frames(w, wk, &fr, resume->frames[i], out);
			wk->resume_lost = wk->end != PP_END_BOTTOM || !wk->bottom_ok ||
					  w->chain[w->chain_used - 1].addr != resume->outermost;
			if (!wk->resume_lost)
				break;
		}
	}
	if (fr.nchunks) {
		wk->cbase = fr.chunks[0][0];
		wk->cend = fr.chunks[0][0] + fr.chunks[0][1];
	}
	fr_free(&fr);
	return rc;
}

void pp_walker_forget_windows(struct pp_walker *w)
{
	w->pre = NULL;
	w->npre = 0;
	w->ndata = 0;
}

long pp_walk_thread(struct pp_walker *w, uint64_t ts_addr, const uint8_t *ts, size_t tslen,
		    const struct pp_resume *resume, struct pp_frame_vec *out)
{
	if (w->nwalks == w->walks_cap) {
		size_t ncap = w->walks_cap ? w->walks_cap * 2 : 16;
		struct pp_walk *n = realloc(w->walks, ncap * sizeof(*n));
		if (!n)
			return -1;
		w->walks = n;
		w->walks_cap = ncap;
	}
	struct pp_walk *wk = &w->walks[w->nwalks];
	*wk = (struct pp_walk){.ts_addr = ts_addr, .chain_off = w->chain_used,
			       .out_start = out->n, .twinned = true};
	seen_clear(&w->seen);
	size_t chain_before = w->chain_used, out_before = out->n;
	if (resume && !resume->n)
		resume = NULL;
	int rc = w->l->if_size != PP_ABSENT ? walk_interpreter_frames(w, wk, ts, tslen, resume, out)
					    : walk_frame_objects(w, wk, ts, tslen, resume, out);
	if (rc != 0) {
		w->chain_used = chain_before;
		out->n = out_before;
		return -1;
	}
	wk->nout = out->n - wk->out_start;
	wk->verified_from = wk->depth; /* nothing verified yet */
	if (wk->depth == 0)
		wk->twinned = false;
	return (long)w->nwalks++;
}
