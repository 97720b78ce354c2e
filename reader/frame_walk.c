/* Frame chains, per version family. See frame_walk.h for the why. */
#include "frame_walk.h"

#include <errno.h>
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
	free(w->checks);
	w->scratch = NULL;
	w->chain = NULL;
	w->checks = NULL;
	w->scratch_cap = w->chain_cap = w->chain_used = 0;
	w->nchecks = w->checks_cap = 0;
}

void pp_walker_begin_sample(struct pp_walker *w)
{
	w->chain_used = 0;
	w->nchecks = 0;
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

/* The read-ahead window of this kind that holds [addr, addr+len) whole. */
static const struct pp_window *pre_window(const struct pp_walker *w, uint64_t addr,
					  size_t len, enum pp_window_kind kind, unsigned round)
{
	for (size_t i = 0; i < w->npre; i++) {
		const struct pp_window *p = &w->pre[i];
		if (p->kind == kind && (kind != PP_WIN_TOP || p->round == round) &&
		    addr >= p->base && addr - p->base <= p->len &&
		    p->len - (addr - p->base) >= len)
			return p;
	}
	return NULL;
}

static const uint8_t *pre_find(const struct pp_walker *w, uint64_t addr, size_t len)
{
	const struct pp_window *p = pre_window(w, addr, len, PP_WIN_DATA, 0);
	return p ? p->buf + (addr - p->base) : NULL;
}

/* A frame's bytes from the read-ahead; notes whether it has a twin. */
static const uint8_t *pre_frame(struct pp_walker *w, uint64_t addr, size_t len)
{
	const struct pp_window *p = pre_window(w, addr, len, PP_WIN_DATA, 0);
	if (!p || !p->twin[0] || !p->twin[1])
		w->walk_twinned = false;
	return p ? p->buf + (addr - p->base) : NULL;
}

/* A read the walker may serve from the read-ahead windows. Verification
 * never comes here: it must see the target as it is now. */
static int wread(struct pp_walker *w, uint64_t addr, void *buf, size_t len)
{
	const uint8_t *p = pre_find(w, addr, len);
	if (p) {
		memcpy(buf, p, len);
		return 0;
	}
	return pp_mem_read(w->mem, addr, buf, len);
}

/* A failed or implausible read: while the target runs that means it moved
 * under us (torn); while it is paused the memory is simply bad. */
static enum pp_walk_status broken(const struct pp_walker *w)
{
	return w->paused ? PP_WALK_ERROR : PP_WALK_TORN;
}

static int line_for(const struct pp_walker *w, const struct pp_code_entry *ce,
		    int64_t unit)
{
	/* The cache hands entries out const so that callers cannot change
	 * what identifies them; the memo is the walker's own. */
	struct pp_code_entry *e = (struct pp_code_entry *)ce;
	if (e->memo_unit == unit)
		return e->memo_line;
	int line = pp_linetable_line(w->l->minor, e->linetable, e->linetable_len,
				     e->code.firstlineno, unit);
	e->memo_unit = unit;
	e->memo_line = line;
	return line;
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
_Static_assert(C_N == PP_CHAIN_N, "chain record size");

/* Frame `depth` of the current walk, which starts at chain_used. The chain
 * capacity is kept in bytes. */
static int remember(struct pp_walker *w, size_t depth, uint64_t addr,
		    uint64_t link, uint64_t code, uint64_t instr)
{
	size_t at = w->chain_used + depth;
	if (reserve((void **)&w->chain, &w->chain_cap,
		    (at + 1) * C_N * sizeof(uint64_t)) != 0)
		return -1;
	uint64_t *c = w->chain + at * C_N;
	c[C_ADDR] = addr;
	c[C_LINK] = link;
	c[C_CODE] = code;
	c[C_INSTR] = instr;
	return 0;
}

/* Chain record `at` (absolute) matches its re-read `s`; `innermost` is
 * the one frame whose position may move on. */
static bool same_frame(const struct pp_walker *w, size_t at, bool innermost,
		       const uint8_t *s, size_t len, uint32_t base, uint32_t link,
		       uint32_t code, uint32_t instr, size_t instr_size)
{
	const uint64_t *c = w->chain + at * C_N;
	uint64_t now = instr_size == 4 ? pp_get_u32(s, len, instr - base)
				       : pp_get_u64(s, len, instr - base);
	return pp_get_u64(s, len, link - base) == c[C_LINK] &&
	       pp_get_u64(s, len, code - base) == c[C_CODE] &&
	       (innermost || now == c[C_INSTR]);
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

/* The part [lo, hi) of each frame that verification re-reads. */
static void verify_span(const struct py_layout *l, uint32_t *lo, uint32_t *hi)
{
	if (l->if_size == PP_ABSENT) {
		*lo = 0;
		*hi = (uint32_t)pp_frame_object_span(l);
		return;
	}
	uint32_t a = l->if_code, b = l->if_code;
	uint32_t fields[] = {l->if_previous, l->if_instr};
	for (size_t i = 0; i < 2; i++) {
		a = fields[i] < a ? fields[i] : a;
		b = fields[i] > b ? fields[i] : b;
	}
	*lo = a;
	*hi = b + 8;
}

/* The re-read of check k: on 3.11+ its thread's datastack_top (one iov at
 * *top_iov, returns 1, else 0), and its frames (depth iovs at frame_iov,
 * bytes into scratch at `at`).
 *
 * The top must be read before the frames: a thread that returned below a
 * frame and then pushed new ones over it between the two reads would
 * otherwise show the old frame unchanged and a top above it. */
static size_t check_iovs(struct pp_walker *w, const struct pp_walk_check *k,
			 uint8_t *at, uint64_t *top, struct pp_iov *top_iov,
			 struct pp_iov *frame_iov)
{
	uint32_t lo, hi;
	verify_span(w->l, &lo, &hi);
	size_t span = hi - lo;
	for (size_t i = 0; i < k->depth; i++)
		frame_iov[i] = (struct pp_iov){w->chain[(k->chain_off + i) * C_N + C_ADDR] + lo,
					       at + i * span, span};
	if (w->l->if_size == PP_ABSENT)
		return 0;
	*top_iov = (struct pp_iov){k->ts_addr + w->l->ts_datastack_top, top, 8};
	return 1;
}

/* Did check k's chain still stand in its re-read? See frame_walk.h. */
static bool judge(const struct pp_walker *w, const struct pp_walk_check *k,
		  const uint8_t *at, uint64_t top)
{
	const struct py_layout *l = w->l;
	uint32_t lo, hi;
	verify_span(l, &lo, &hi);
	size_t span = hi - lo;
	for (size_t i = 0; i < k->depth; i++) {
		const uint8_t *s = at + i * span;
		size_t abs = k->chain_off + i;
		if (l->if_size == PP_ABSENT) {
			if (!frame_alive(w, s, span) ||
			    !same_frame(w, abs, i == 0, s, span, 0, l->fo_back,
					l->fo_code, l->fo_lasti, 4))
				return false;
			continue;
		}
		uint64_t f = w->chain[abs * C_N + C_ADDR];
		if (!same_frame(w, abs, i == 0, s, span, lo, l->if_previous,
				l->if_code, l->if_instr, 8))
			return false;
		if (f >= k->cbase && f < k->cend && f + l->if_size > top)
			return false; /* a dead slot above the thread's stack */
	}
	return true;
}

/* Verification reads the chain twice: the tops, every frame, the tops
 * again, every frame again - in one vectored read - and each walk must
 * hold in both (see frame_walk.h on why twice). `extra` reads go last.
 * Returns 0 with ok[i] for checks[i], or a negative errno. */
#define VERIFY_ROUNDS 2

static int verify_checks(struct pp_walker *w, const struct pp_walk_check *checks,
			 size_t nchecks, const struct pp_iov *extra, size_t nextra, bool *ok)
{
	uint32_t lo, hi;
	verify_span(w->l, &lo, &hi);
	size_t span = hi - lo, frames = 0;
	for (size_t i = 0; i < nchecks; i++)
		frames += checks[i].depth;
	/* scratch per round: the tops, then every check's frames */
	size_t per_round = (nchecks * 8 + frames * span + 7) & ~(size_t)7; /* tops stay aligned */
	size_t niov = VERIFY_ROUNDS * (frames + nchecks) + nextra;
	if (reserve((void **)&w->scratch, &w->scratch_cap, VERIFY_ROUNDS * per_round) != 0)
		return -ENOMEM;
	struct pp_iov *iov = malloc((niov ? niov : 1) * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	bool have_top = w->l->if_size != PP_ABSENT;
	size_t phase[2 * VERIFY_ROUNDS], np = 0, n = 0;
	for (int r = 0; r < VERIFY_ROUNDS; r++) {
		uint64_t *tops = (uint64_t *)(void *)(w->scratch + r * per_round);
		uint8_t *at = w->scratch + r * per_round + nchecks * 8;
		size_t top_at = n;
		n += have_top ? nchecks : 0;
		phase[np++] = n; /* the tops first: see check_iovs */
		for (size_t i = 0; i < nchecks; i++) {
			tops[i] = 0;
			check_iovs(w, &checks[i], at, &tops[i],
				   have_top ? &iov[top_at + i] : NULL, iov + n);
			n += checks[i].depth;
			at += checks[i].depth * span;
		}
		if (r == VERIFY_ROUNDS - 1)
			for (size_t i = 0; i < nextra; i++)
				iov[n++] = extra[i];
		phase[np++] = n;
	}
	int rc = pp_mem_readv_phased(w->mem, iov, phase, np);
	free(iov);
	if (rc)
		return rc;
	for (size_t i = 0; i < nchecks; i++)
		ok[i] = true;
	for (int r = 0; r < VERIFY_ROUNDS; r++) {
		const uint64_t *tops = (const uint64_t *)(const void *)(w->scratch + r * per_round);
		const uint8_t *at = w->scratch + r * per_round + nchecks * 8;
		for (size_t i = 0; i < nchecks; i++) {
			ok[i] = ok[i] && judge(w, &checks[i], at, tops[i]);
			at += checks[i].depth * span;
		}
	}
	return 0;
}

/* Re-read one walk's chain now and judge it. */
static bool verify_now(struct pp_walker *w, const struct pp_walk_check *k)
{
	bool ok = false;
	return verify_checks(w, k, 1, NULL, 0, &ok) == 0 && ok;
}

bool pp_walker_verify_one(struct pp_walker *w, size_t check)
{
	return check < w->nchecks && verify_now(w, &w->checks[check]);
}

int pp_walker_verify(struct pp_walker *w, const struct pp_iov *extra,
		     size_t nextra, bool *ok)
{
	return verify_checks(w, w->checks, w->nchecks, extra, nextra, ok);
}

/* Judge walk k against twin `round` of the windows its frames came from
 * (they all had twins) and the top read before it. */
static bool judge_twin(struct pp_walker *w, const struct pp_walk_check *k, unsigned round)
{
	const struct py_layout *l = w->l;
	uint32_t lo, hi;
	verify_span(l, &lo, &hi);
	size_t span = hi - lo;
	uint64_t top = 0;
	if (l->if_size != PP_ABSENT) {
		const struct pp_window *tw = pre_window(w, k->ts_addr + l->ts_datastack_top, 8,
							PP_WIN_TOP, round);
		if (!tw)
			return false;
		memcpy(&top, tw->buf + (k->ts_addr + l->ts_datastack_top - tw->base), 8);
	}
	if (reserve((void **)&w->scratch, &w->scratch_cap, k->depth * span) != 0)
		return false;
	for (size_t i = 0; i < k->depth; i++) {
		uint64_t a = w->chain[(k->chain_off + i) * C_N + C_ADDR] + lo;
		const struct pp_window *p = pre_window(w, a, span, PP_WIN_DATA, 0);
		if (!p || !p->twin[round])
			return false;
		memcpy(w->scratch + i * span, p->twin[round] + (a - p->base), span);
	}
	return judge(w, k, w->scratch, top);
}

/* The walk just made (depth frames from chain_used) is whole so far:
 * verify it now, or leave a check for pp_walker_verify. Either way it
 * becomes the walker's "last" walk. */
static bool finish_walk(struct pp_walker *w, uint64_t ts_addr, size_t depth,
			uint64_t cbase, uint64_t cend)
{
	struct pp_walk_check k = {w->chain_used, depth, ts_addr, cbase, cend};
	w->last_check = -1;
	if (!w->paused && depth && w->defer_verify && w->walk_twinned) {
		if (!judge_twin(w, &k, 0) || !judge_twin(w, &k, 1))
			return false;
	} else if (!w->paused && depth && !w->defer_verify) {
		if (!verify_now(w, &k))
			return false;
	} else if (!w->paused && depth) {
		if (w->nchecks == w->checks_cap) {
			size_t ncap = w->checks_cap ? w->checks_cap * 2 : 16;
			struct pp_walk_check *nc = realloc(w->checks, ncap * sizeof(*nc));
			if (!nc)
				return false;
			w->checks = nc;
			w->checks_cap = ncap;
		}
		w->checks[w->nchecks] = k;
		w->last_check = (long)w->nchecks++;
	}
	w->last_chain_off = w->chain_used;
	w->last_depth = depth;
	w->last_cbase = cbase;
	w->last_cend = cend;
	w->chain_used += depth;
	return true;
}

static enum pp_walk_status walk_frame_objects(struct pp_walker *w,
					      uint64_t ts_addr,
					      const uint8_t *ts, size_t tslen,
					      struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	size_t fsz = pp_frame_object_span(l);
	size_t start = out->n;
	uint8_t fb[512];
	w->walk_twinned = true;
	if (fsz > sizeof(fb) || fsz == 0)
		return PP_WALK_ERROR;

	size_t depth = 0;
	for (uint64_t f = pp_get_u64(ts, tslen, l->ts_frame); f;) {
		const uint8_t *pf = pre_frame(w, f, fsz);
		if (pf)
			memcpy(fb, pf, fsz);
		else if (pp_mem_read(w->mem, f, fb, fsz) != 0)
			goto torn;
		if (!frame_alive(w, fb, fsz))
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
	/* Unless paused, every frame is re-read in one vectored read: if each
	 * is still alive, with the same f_back and f_code, the chain we
	 * reported existed as a whole at that moment. */
	if (!finish_walk(w, ts_addr, depth, 0, 0))
		goto torn;
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
		if (wread(fr->w, fr->chunks[fr->nchunks - 1][0], h, l->chunk_data) != 0)
			goto done;
		addr = pp_get_u64(h, sizeof(h), l->chunk_previous);
	}
	if (!addr)
		goto done;
	uint8_t h[32];
	if (l->chunk_data > sizeof(h) || wread(fr->w, addr, h, l->chunk_data) != 0)
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
		if (f >= wd->base && f - wd->base + fsz <= wd->len) {
			fr->w->walk_twinned = false; /* read during the walk */
			return wd->buf + (f - wd->base);
		}
	}
	const uint8_t *p = pre_frame(fr->w, f, fsz);
	if (p)
		return p;
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
	fr->w->walk_twinned = false;
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
	if (wread(w, p + l->cf_current_frame, &f, 8) != 0)
		return UINT64_MAX;
	return f;
}

/* The highest FRAME_OWNED_BY_* value of the version: a frame with a higher
 * owner is not a frame (3.12/3.13: CSTACK 3; 3.14: CSTACK 4 after
 * INTERPRETER 3; 3.15: INTERPRETER 3). */
static uint32_t max_owner(const struct py_layout *l)
{
	uint32_t max = 3;
	if (l->owner_cstack != PP_ABSENT && l->owner_cstack > max)
		max = l->owner_cstack;
	if (l->owner_interpreter != PP_ABSENT && l->owner_interpreter > max)
		max = l->owner_interpreter;
	return max;
}

/* Frames that are not Python's own: 3.12/3.13's C-stack shim and entry
 * frame (CSTACK), 3.14+'s interpreter-owned entry and base frames and
 * anything above (_PyFrame_IsIncomplete says the same). */
static bool not_python(const struct py_layout *l, uint8_t owner)
{
	if (l->owner_cstack != PP_ABSENT && owner == l->owner_cstack)
		return true;
	return l->owner_interpreter != PP_ABSENT && owner >= l->owner_interpreter;
}

static enum pp_walk_status walk_interpreter_frames(struct pp_walker *w,
						   uint64_t ts_addr,
						   const uint8_t *ts, size_t tslen,
						   struct pp_frame_vec *out)
{
	const struct py_layout *l = w->l;
	size_t start = out->n;
	struct frame_reader fr = {.w = w};
	w->walk_twinned = true;
	fr.chunk_head = pp_get_u64(ts, tslen, l->ts_datastack_chunk);

	uint64_t f = current_frame(w, ts, tslen);
	if (f == UINT64_MAX)
		return broken(w);
	/* The newest chunk's bounds are needed to verify the walk, even when
	 * every frame comes from the read-ahead. */
	if (fr.chunk_head)
		next_chunk(&fr);
	size_t steps = 0;
	const uint32_t owner_max = max_owner(l);
	/* 3.14+: f_executable is a tagged _PyStackRef. */
	const uint64_t code_mask = ~(uint64_t)l->if_code_tag_bits;
	while (f) {
		if (++steps > PP_MAX_FRAMES)
			goto torn;
		const uint8_t *fb = get_frame(&fr, f);
		if (!fb)
			goto torn;
		size_t fsz = l->if_size;
		uint8_t owner = pp_get_u8(fb, fsz, l->if_owner);
		uint64_t prev = pp_get_u64(fb, fsz, l->if_previous);
		if (prev == f || owner > owner_max ||
		    remember(w, steps - 1, f, prev, pp_get_u64(fb, fsz, l->if_code),
			     pp_get_u64(fb, fsz, l->if_instr)) != 0)
			goto torn;
		if (not_python(l, owner)) {
			f = prev;
			continue;
		}
		uint64_t code = pp_get_u64(fb, fsz, l->if_code) & code_mask;
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
	uint64_t cbase = fr.nchunks ? fr.chunks[0][0] : 0;
	uint64_t cend = fr.nchunks ? cbase + fr.chunks[0][1] : 0;
	if (!finish_walk(w, ts_addr, steps, cbase, cend))
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
	return walk_frame_objects(w, ts_addr, ts, tslen, out);
}
