/* One read for a whole sample; see readahead.h. */
#include "readahead.h"

#include <stdlib.h>
#include <string.h>

#include "target_internal.h"

/* How far past the highest top a thread's stack reached lately its chunk
 * is read: room for it to have grown a few frames more. */
#define CHUNK_SLACK 1024
/* Caps that keep one read ahead small; past them the walker reads the
 * rest itself. */
#define MAX_WINDOW_BYTES (1u << 20)
#define MAX_WINDOWS 1024

/* Per interpreter, the fields read ahead (one u64 slot each). */
enum { F_NEXT, F_ID, F_MODULES, F_GILPTR, F_LOCKED, F_HOLDER, F_THREADS, F_N };

struct ra_interp {
	uint64_t addr;
	uint64_t gil;
	size_t first_ts, nts; /* its thread states in ra->ts, list order */
};

struct ra_tstate {
	uint64_t addr;
	uint64_t thread_id;
	uint32_t tid;         /* <=3.10: read at thread_id + tid_offset */
};

/* Addresses seen in recent samples, with the sample that last saw each:
 * a program that keeps calling the same functions reuses the same frame
 * objects (<=3.10 keeps freed frames on free lists and per code object)
 * and the same code objects, but not all of them in every sample. */
struct hot_set {
	struct hot { uint64_t key, last; } *v;
	size_t n, cap;
};

/* How deep a thread's data stack went lately: its chunk window reaches
 * that far, so a stack that swings in depth between samples stays in it. */
struct chunk_reach {
	uint64_t cbase, hi, last;
};

struct pp_readahead {
	uint64_t gen; /* samples learned */
	struct hot_set hot_frames, hot_codes;
	struct chunk_reach *reach;
	size_t nreach, capreach;
	struct ra_interp *interps;
	/* the code objects recent samples named (hot_codes), sorted by entry
	 * address, and their identities as read ahead */
	const struct pp_code_entry **codes;
	size_t ncodes;
	uint8_t *code_ids;
	uint32_t id_lo, id_len;
	size_t ninterps;
	struct ra_tstate *ts;
	size_t nts;
	int tid_offset;       /* -1: native ids are not read ahead */
	struct pp_window *win;
	size_t nwin;
	uint8_t *winbuf;      /* the windows' bytes */
	uint64_t *fields;     /* ninterps * F_N */
	struct pp_iov *iov;
	size_t iovcap;
};

void pp_readahead_free(struct pp_readahead *ra)
{
	if (!ra)
		return;
	free(ra->reach);
	free(ra->hot_frames.v);
	free(ra->hot_codes.v);
	free(ra->interps);
	free(ra->codes);
	free(ra->code_ids);
	free(ra->ts);
	free(ra->win);
	free(ra->winbuf);
	free(ra->fields);
	free(ra->iov);
	free(ra);
}

/* ---- learning ------------------------------------------------------------ */

/* How long an address stays hot without being seen, and how many stay. */
#define HOT_FRAME_AGE 16
#define HOT_FRAMES_MAX 128
#define HOT_CODE_AGE 8
#define HOT_CODES_MAX 64

static void hot_touch(struct hot_set *h, uint64_t key, uint64_t gen)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].key == key) {
			h->v[i].last = gen;
			return;
		}
	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 64;
		struct hot *nv = realloc(h->v, ncap * sizeof(*nv));
		if (!nv)
			return;
		h->v = nv;
		h->cap = ncap;
	}
	h->v[h->n++] = (struct hot){key, gen};
}

static int newest_first(const void *a, const void *b)
{
	uint64_t x = ((const struct hot *)a)->last, y = ((const struct hot *)b)->last;
	return x > y ? -1 : x < y;
}

/* Forget what has not been seen for `age` samples; keep at most `max`,
 * the most recently seen. */
static void hot_age(struct hot_set *h, uint64_t gen, uint64_t age, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < h->n; i++)
		if (gen - h->v[i].last <= age)
			h->v[k++] = h->v[i];
	h->n = k;
	if (h->n > max) {
		qsort(h->v, h->n, sizeof(*h->v), newest_first);
		h->n = max;
	}
}

struct win_list {
	struct pp_window *v;
	size_t n, cap, bytes;
};

/* A window; a frame window is read twice (see frame_walk.h), so it costs
 * its length twice. */
static void add_win(struct win_list *wl, uint64_t base, size_t len,
		    enum pp_window_kind kind, unsigned round, bool twin)
{
	size_t cost = twin ? 3 * len : len;
	if (!base || !len || wl->n >= MAX_WINDOWS || wl->bytes + cost > MAX_WINDOW_BYTES)
		return;
	if (wl->n == wl->cap) {
		size_t ncap = wl->cap ? wl->cap * 2 : 32;
		struct pp_window *nv = realloc(wl->v, ncap * sizeof(*nv));
		if (!nv)
			return;
		wl->v = nv;
		wl->cap = ncap;
	}
	/* buf and twins are set once all windows are known; a non-NULL
	 * twin here just marks that it wants them */
	const uint8_t *mark = twin ? (const uint8_t *)wl : NULL;
	wl->v[wl->n++] = (struct pp_window){base, len, NULL, {mark, mark}, kind, round};
	wl->bytes += cost;
}

/* The highest top seen lately in the chunk at cbase, `top` included. */
static uint64_t reach_of(struct pp_readahead *ra, uint64_t cbase, uint64_t top)
{
	size_t k = 0;
	uint64_t hi = top;
	for (size_t i = 0; i < ra->nreach; i++) {
		struct chunk_reach *c = &ra->reach[i];
		if (ra->gen - c->last > HOT_FRAME_AGE)
			continue; /* forget it */
		if (c->cbase == cbase) {
			if (c->hi > hi)
				hi = c->hi;
			continue; /* rewritten below */
		}
		ra->reach[k++] = *c;
	}
	ra->nreach = k;
	if (k == ra->capreach) {
		size_t ncap = ra->capreach ? ra->capreach * 2 : 8;
		struct chunk_reach *n = realloc(ra->reach, ncap * sizeof(*n));
		if (!n)
			return hi;
		ra->reach = n;
		ra->capreach = ncap;
	}
	ra->reach[ra->nreach++] = (struct chunk_reach){cbase, hi, ra->gen};
	return hi;
}

/* Where thread state r's frames were. */
static void thread_windows(struct pp_readahead *ra, const struct pp_target *t,
			   const struct snapshot *s, const struct tstate_rec *r,
			   struct win_list *wl)
{
	const struct py_layout *l = &t->layout;
	const uint8_t *tsb = s->tsbytes + r->bytes_off;
	if (l->cf_current_frame != PP_ABSENT) {
		uint64_t cframe = pp_get_u64(tsb, l->ts_size, l->ts_frame);
		if (cframe)
			add_win(wl, cframe + l->cf_current_frame, 8, PP_WIN_DATA, 0, false);
	}
	bool chunked = l->if_size != PP_ABSENT;
	const struct pp_walk *wk = r->walk >= 0 ? &t->walker.walks[r->walk] : NULL;
	/* Read before each round of twins: what is on the stack (verify.c's
	 * words) - the top, the current frame pointer and, on 3.11/3.12, the
	 * current frame in the _PyCFrame the walk used. */
	for (unsigned round = 0; chunked && round < 2; round++) {
		add_win(wl, r->addr + l->ts_datastack_top, 8, PP_WIN_TOP, round, false);
		add_win(wl, r->addr + l->ts_frame, 8, PP_WIN_TOP, round, false);
		if (l->cf_current_frame != PP_ABSENT && wk && wk->cframe)
			add_win(wl, wk->cframe + l->cf_current_frame, 8, PP_WIN_TOP, round,
				false);
	}
	if (chunked && wk && wk->cbase && wk->cend > wk->cbase) {
		uint64_t top = pp_get_u64(tsb, l->ts_size, l->ts_datastack_top);
		top = top > wk->cbase && top < wk->cend ? top : wk->cbase;
		uint64_t end = reach_of(ra, wk->cbase, top) + CHUNK_SLACK;
		if (end > wk->cend)
			end = wk->cend;
		add_win(wl, wk->cbase, (size_t)(end - wk->cbase), PP_WIN_DATA, 0, true);
	}
}

/* Remember the heap frames (<=3.10 frame objects, 3.11+ generators') of
 * thread state r's walk. */
static void touch_frames(struct pp_readahead *ra, const struct pp_target *t,
			 const struct tstate_rec *r)
{
	if (r->walk < 0)
		return;
	const struct pp_walk *wk = &t->walker.walks[r->walk];
	bool chunked = t->layout.if_size != PP_ABSENT;
	/* A deep stack's heap frames are not all worth a window each. */
	size_t depth = wk->depth < HOT_FRAMES_MAX * 4 ? wk->depth : HOT_FRAMES_MAX * 4;
	for (size_t i = 0; i < depth; i++) {
		uint64_t f = t->walker.chain[wk->chain_off + i].addr;
		if (chunked && f >= wk->cbase && f < wk->cend)
			continue; /* in the chunk's window */
		hot_touch(&ra->hot_frames, f, ra->gen);
	}
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const void *const *)a, y = (uintptr_t)*(const void *const *)b;
	return x < y ? -1 : x > y;
}

/* The code objects of recent samples' frames, sorted by entry address.
 * A thread taken over (quiet.h) holds its code objects alive: they need
 * no checking while it stays so. */
static int learn_codes(struct pp_readahead *ra, const struct pp_target *t,
		       const struct snapshot *s)
{
	const struct pp_code_entry *last = NULL;
	for (size_t k = 0; k < s->nts; k++) {
		const struct tstate_rec *r = &s->ts[k];
		if (r->taken_over || r->walk < 0)
			continue;
		const struct pp_walk *wk = &t->walker.walks[r->walk];
		/* a deep stack names few codes; its first frames say which */
		size_t n = wk->nout < HOT_CODES_MAX * 16 ? wk->nout : HOT_CODES_MAX * 16;
		for (size_t i = wk->out_start; i < wk->out_start + n; i++) {
			if (t->frames.v[i].kind != PP_RF_PYTHON)
				continue;
			const struct pp_code_entry *e = pp_code_entry_of(t->frames.v[i].code);
			if (e != last) /* runs of one code (recursion) are common */
				hot_touch(&ra->hot_codes, (uint64_t)(uintptr_t)e, ra->gen);
			last = e;
		}
	}
	hot_age(&ra->hot_codes, ra->gen, HOT_CODE_AGE, HOT_CODES_MAX);
	size_t n = ra->hot_codes.n;
	ra->ncodes = 0;
	const struct pp_code_entry **c = realloc(ra->codes, (n ? n : 1) * sizeof(*c));
	if (!c)
		return -1;
	ra->codes = c;
	for (size_t i = 0; i < n; i++)
		c[i] = (const struct pp_code_entry *)(uintptr_t)ra->hot_codes.v[i].key;
	qsort(c, n, sizeof(*c), cmp_ptr);
	size_t k = n;
	pp_code_cache_identity_span(t->codes, &ra->id_lo, &ra->id_len);
	uint8_t *ids = realloc(ra->code_ids, (k ? k : 1) * ra->id_len);
	if (!ids)
		return -1;
	ra->code_ids = ids;
	ra->ncodes = k;
	return 0;
}

void pp_readahead_learn(struct pp_readahead **rap, const struct pp_target *t,
			const struct snapshot *s)
{
	struct pp_readahead *ra = *rap;
	if (!ra) {
		ra = calloc(1, sizeof(*ra));
		if (!ra)
			return;
		*rap = ra;
	}
	ra->ninterps = ra->nts = ra->nwin = 0;
	struct ra_interp *ni = realloc(ra->interps, (s->ninterps ? s->ninterps : 1) * sizeof(*ni));
	if (ni)
		ra->interps = ni;
	uint64_t *nf = realloc(ra->fields, (s->ninterps ? s->ninterps : 1) * F_N * sizeof(*nf));
	if (nf)
		ra->fields = nf;
	struct ra_tstate *nt = realloc(ra->ts, (s->nts ? s->nts : 1) * sizeof(*nt));
	if (nt)
		ra->ts = nt;
	if (!ni || !nf || !nt)
		return; /* ninterps == 0: the next read takes the slow path */

	ra->gen++;
	ra->tid_offset = t->layout.ts_native_thread_id == PP_ABSENT ? t->tid_offset : -1;
	/* the window list is rebuilt each time */
	struct win_list wl = {0};
	free(ra->win);
	ra->win = NULL;
	size_t nts = 0;
	for (size_t ii = 0; ii < s->ninterps; ii++) {
		struct ra_interp *ri = &ra->interps[ii];
		ri->addr = s->interps[ii].addr;
		ri->gil = s->interps[ii].gil;
		ri->first_ts = nts;
		for (size_t k = 0; k < s->nts; k++) {
			const struct tstate_rec *r = &s->ts[k];
			if (r->interp != ii)
				continue;
			ra->ts[nts++] = (struct ra_tstate){r->addr, r->thread_id, 0};
			/* a thread that has not run will not be walked: its
			 * thread state is read (the list must still stand),
			 * its frames are not */
			if (!pp_quiet_expected(t->quiet, r->addr)) {
				thread_windows(ra, t, s, r, &wl);
				touch_frames(ra, t, r);
			}
		}
		ri->nts = nts - ri->first_ts;
	}
	hot_age(&ra->hot_frames, ra->gen, HOT_FRAME_AGE, HOT_FRAMES_MAX);
	size_t fsz = t->layout.if_size != PP_ABSENT ? t->layout.if_size
						    : pp_frame_object_span(&t->layout);
	for (size_t i = 0; i < ra->hot_frames.n; i++)
		add_win(&wl, ra->hot_frames.v[i].key, fsz, PP_WIN_DATA, 0, true);
	ra->nts = nts;
	ra->win = wl.v;
	uint8_t *nb = realloc(ra->winbuf, wl.bytes ? wl.bytes : 1);
	if (!nb) {
		ra->ninterps = 0;
		return;
	}
	ra->winbuf = nb;
	size_t off = 0;
	for (size_t i = 0; i < wl.n; i++) {
		wl.v[i].buf = nb + off;
		off += wl.v[i].len;
		for (int k = 0; k < 2; k++)
			if (wl.v[i].twin[k]) {
				wl.v[i].twin[k] = nb + off;
				off += wl.v[i].len;
			}
	}
	ra->nwin = wl.n;
	if (learn_codes(ra, t, s) != 0)
		return;
	ra->ninterps = s->ninterps;
}

/* ---- reading back -------------------------------------------------------- */

static struct pp_iov *iov_room(struct pp_readahead *ra, size_t n)
{
	if (n > ra->iovcap) {
		struct pp_iov *v = realloc(ra->iov, n * sizeof(*v));
		if (!v)
			return NULL;
		ra->iov = v;
		ra->iovcap = n;
	}
	return ra->iov;
}

int pp_readahead_read(struct pp_readahead *ra, struct pp_target *t, struct snapshot *s,
		      const struct pp_window **win, size_t *nwin)
{
	const struct py_layout *l = &t->layout;
	if (!ra || !ra->ninterps || pp_snapshot_reserve_bytes(s, ra->nts, l->ts_size) != 0)
		return -1;
	bool gilptr = l->is_ceval_gil != PP_ABSENT;
	struct pp_iov *iov = iov_room(ra, 1 + ra->ninterps * F_N + ra->nts * 2 + ra->nwin * 3 +
					  ra->ncodes);
	if (!iov)
		return -1;
	uint64_t head = 0;
	size_t n = 0;
	iov[n++] = (struct pp_iov){t->runtime + l->rt_interpreters_head, &head, 8};
	for (size_t i = 0; i < ra->ninterps; i++) {
		uint64_t a = ra->interps[i].addr, *f = ra->fields + i * F_N;
		memset(f, 0, F_N * sizeof(*f));
		iov[n++] = (struct pp_iov){a + l->is_next, &f[F_NEXT], 8};
		iov[n++] = (struct pp_iov){a + l->is_id, &f[F_ID], 8};
		iov[n++] = (struct pp_iov){a + l->is_modules, &f[F_MODULES], 8};
		iov[n++] = (struct pp_iov){a + l->is_threads_head, &f[F_THREADS], 8};
		if (gilptr)
			iov[n++] = (struct pp_iov){a + l->is_ceval_gil, &f[F_GILPTR], 8};
		if (ra->interps[i].gil) {
			iov[n++] = (struct pp_iov){ra->interps[i].gil + l->gil_locked, &f[F_LOCKED], 4};
			iov[n++] = (struct pp_iov){ra->interps[i].gil + l->gil_last_holder, &f[F_HOLDER], 8};
		}
	}
	for (size_t k = 0; k < ra->nts; k++) {
		iov[n++] = (struct pp_iov){ra->ts[k].addr, s->tsbytes + k * l->ts_size, l->ts_size};
		ra->ts[k].tid = 0;
		if (ra->tid_offset >= 0 && ra->ts[k].thread_id)
			iov[n++] = (struct pp_iov){ra->ts[k].thread_id + (uint64_t)ra->tid_offset,
						   &ra->ts[k].tid, 4};
	}
	/* Phases, in this order within one read, each later than all that the
	 * one before gave the walk: the structure and each thread's current
	 * frame pointer (above), the frames, the threads' tops, the frames
	 * again (twins), the tops again, the frames a third time, the code
	 * objects' identities (see frame_walk.h). */
	size_t phase[7], np = 0;
	for (size_t w = 0; w < ra->nwin; w++)
		if (ra->win[w].kind == PP_WIN_DATA && !ra->win[w].twin[0])
			iov[n++] = (struct pp_iov){ra->win[w].base, (void *)ra->win[w].buf,
						   ra->win[w].len};
	phase[np++] = n;
	for (size_t w = 0; w < ra->nwin; w++)
		if (ra->win[w].twin[0])
			iov[n++] = (struct pp_iov){ra->win[w].base, (void *)ra->win[w].buf,
						   ra->win[w].len};
	phase[np++] = n;
	for (unsigned round = 0; round < 2; round++) {
		for (size_t w = 0; w < ra->nwin; w++)
			if (ra->win[w].kind == PP_WIN_TOP && ra->win[w].round == round)
				iov[n++] = (struct pp_iov){ra->win[w].base, (void *)ra->win[w].buf,
							   ra->win[w].len};
		phase[np++] = n;
		for (size_t w = 0; w < ra->nwin; w++)
			if (ra->win[w].twin[round])
				iov[n++] = (struct pp_iov){ra->win[w].base,
							   (void *)ra->win[w].twin[round],
							   ra->win[w].len};
		phase[np++] = n;
	}
	for (size_t k = 0; k < ra->ncodes; k++)
		if (ra->codes[k]->addr)
			iov[n++] = (struct pp_iov){ra->codes[k]->addr + ra->id_lo,
						   ra->code_ids + k * ra->id_len, ra->id_len};
	phase[np++] = n;
	if (pp_mem_readv_phased(&t->mem, iov, phase, np) != 0) {
		/* Something read ahead is gone (a frame's memory returned to
		 * the system, a thread's chunk freed): start afresh. */
		ra->hot_frames.n = 0;
		return -1;
	}

	/* Is it the same structure? Every list link must lead where it led. */
	if (head != ra->interps[0].addr)
		return -1;
	s->ninterps = 0;
	s->nts = 0;
	for (size_t i = 0; i < ra->ninterps; i++) {
		const struct ra_interp *ri = &ra->interps[i];
		const uint64_t *f = ra->fields + i * F_N;
		uint64_t want_next = i + 1 < ra->ninterps ? ra->interps[i + 1].addr : 0;
		uint64_t want_head = ri->nts ? ra->ts[ri->first_ts].addr : 0;
		if (f[F_NEXT] != want_next || f[F_THREADS] != want_head ||
		    (gilptr && f[F_GILPTR] != ri->gil))
			return -1;
		s->interps[i] = (struct interp_rec){
			.addr = ri->addr,
			.id = (int64_t)f[F_ID],
			.gil = ri->gil,
			.gil_holder = ri->gil && (uint32_t)f[F_LOCKED] == 1 ? f[F_HOLDER] : 0,
			.modules = f[F_MODULES],
		};
		for (size_t k = ri->first_ts; k < ri->first_ts + ri->nts; k++) {
			const uint8_t *b = s->tsbytes + k * l->ts_size;
			uint64_t want = k + 1 < ri->first_ts + ri->nts ? ra->ts[k + 1].addr : 0;
			if (pp_get_u64(b, l->ts_size, l->ts_next) != want)
				return -1;
			struct tstate_rec r = {
				.addr = ra->ts[k].addr,
				.interp = i,
				.order = ri->first_ts + ri->nts - 1 - k, /* list is newest first */
				.bytes_off = k * l->ts_size,
				.thread_id = pp_get_u64(b, l->ts_size, l->ts_thread_id),
				.walk = -1,
			};
			if (l->ts_native_thread_id != PP_ABSENT) {
				r.native_id = pp_get_u64(b, l->ts_size, l->ts_native_thread_id);
				r.native_known = true;
			} else if (ra->ts[k].tid && r.thread_id == ra->ts[k].thread_id) {
				r.native_id = ra->ts[k].tid;
				r.native_known = true;
			}
			if (pp_snapshot_push_ts(s, &r) != 0)
				return -1;
		}
	}
	s->ninterps = ra->ninterps;
	*win = ra->win;
	*nwin = ra->nwin;
	return 0;
}

int pp_readahead_judge_codes(const struct pp_readahead *ra, struct pp_code_cache *codes)
{
	if (!ra || !ra->ncodes)
		return 0;
	return pp_code_cache_judge_ahead(codes, ra->codes, ra->code_ids, ra->ncodes);
}
