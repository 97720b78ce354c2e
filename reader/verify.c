/* Judging walks against their re-reads; see verify.h. */
#include "verify.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 2

static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *nb = realloc(*buf, ncap);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = ncap;
	return 0;
}

/* The part [lo, hi) of each frame that a re-read covers: link, code and
 * position (and on <=3.10 what tells a live frame). */
static void span_of(const struct py_layout *l, uint32_t *lo, uint32_t *hi)
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

/* 3.11+: a frame in the thread's newest chunk at or above its top was
 * popped. (A top in another chunk says nothing of this one: a thread that
 * returned below the chunk freed it, and its re-read fails.) */
static bool above_top(const struct py_layout *l, const struct pp_walk *wk, uint64_t f,
		      uint64_t top)
{
	if (!wk->cend || f < wk->cbase || f >= wk->cend)
		return false;
	if (top <= wk->cbase || top > wk->cend)
		return false;
	return f + l->if_size > top;
}

/* How many frames, from the outermost in, held still in one re-read:
 * `s` holds each frame's span (innermost first), `top` the thread's
 * data-stack top as read just before them (3.11+). */
static size_t held_in(const struct pp_walker *w, const struct pp_walk *wk, const uint8_t *s,
		      uint64_t top)
{
	const struct py_layout *l = w->l;
	uint32_t lo, hi;
	span_of(l, &lo, &hi);
	size_t span = hi - lo, held = 0;
	bool objects = l->if_size == PP_ABSENT;
	uint32_t link = objects ? l->fo_back : l->if_previous - lo;
	uint32_t code = objects ? l->fo_code : l->if_code - lo;
	uint32_t instr = objects ? l->fo_lasti : l->if_instr - lo;
	for (size_t i = wk->depth; i-- > 0;) {
		const struct pp_chain_frame *c = &w->chain[wk->chain_off + i];
		const uint8_t *b = s + i * span;
		if (!(c->flags & PP_CF_ALIVE) || pp_get_u64(b, span, link) != c->link ||
		    pp_get_u64(b, span, code) != c->code)
			break;
		if (objects ? !pp_frame_object_alive(w, b, span, i == 0 && !wk->resumed)
			    : above_top(l, wk, c->addr, top))
			break;
		uint64_t now = objects ? pp_get_u32(b, span, instr) : pp_get_u64(b, span, instr);
		if (now != c->instr) {
			/* It moved on: what was inside it is not shown, and it is,
			 * at the position the walk read - if that is one: a frame
			 * being set up for a new call can hold the last call's. */
			held += (c->flags & PP_CF_POSITION_OK) != 0;
			break;
		}
		held++;
	}
	return held;
}

/* Set verified_from from the frames that held still in every re-read. */
static void judge(struct pp_walk *wk, size_t held)
{
	bool from_outermost = wk->end == PP_END_BOTTOM ? wk->bottom_ok : wk->end == PP_END_TOO_DEEP;
	if (wk->resume_lost || wk->end == PP_END_NOT_EXECUTING)
		wk->verified_from = wk->depth + 1; /* nothing: it moved */
	else if (wk->depth == 0)
		wk->verified_from = wk->end == PP_END_BOTTOM ? 0 : wk->depth + 1; /* nothing */
	else if (from_outermost)
		wk->verified_from = wk->depth - held;
	else if (wk->end != PP_END_BOTTOM && held == wk->depth)
		wk->verified_from = 0; /* unreadable past a chain that held still */
	else
		wk->verified_from = wk->depth;
}

void pp_verify_paused(struct pp_walker *w, struct pp_walk *wk)
{
	(void)w;
	/* A thread paused just as its evaluation loop is entered (3.11/3.12:
	 * the new _PyCFrame is in the thread state before its current frame
	 * is set) points at whatever frame that stack slot held last - a
	 * generator that yielded, linked to nothing: not its stack. */
	wk->verified_from = wk->end == PP_END_BOTTOM && !wk->bottom_ok ? wk->depth + 1 : 0;
}

/* Re-read `n` walks: the tops (3.11+), then every frame, twice; `extra`
 * last. Judges each; 0 or a negative errno (nothing judged). */
static int reread(struct pp_walker *w, struct pp_walk *const *walks, size_t n,
		  const struct pp_iov *extra, size_t nextra)
{
	const struct py_layout *l = w->l;
	uint32_t lo, hi;
	span_of(l, &lo, &hi);
	size_t span = hi - lo, frames = 0;
	for (size_t i = 0; i < n; i++)
		frames += walks[i]->depth;
	bool have_top = l->if_size != PP_ABSENT;
	/* per round: the tops, then every walk's frames */
	size_t per_round = (n * 8 + frames * span + 7) & ~(size_t)7; /* tops stay aligned */
	size_t niov = ROUNDS * (frames + (have_top ? n : 0)) + nextra;
	if (reserve(&w->scratch, &w->scratch_cap, ROUNDS * per_round) != 0)
		return -ENOMEM;
	struct pp_iov *iov = malloc((niov ? niov : 1) * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	size_t phase[2 * ROUNDS], np = 0, k = 0;
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t *tops = (uint64_t *)(void *)(w->scratch + r * per_round);
		uint8_t *at = w->scratch + r * per_round + n * 8;
		/* The top before the frames: a thread that returned below a
		 * frame and pushed new ones over it between the two reads
		 * would otherwise show the old frame whole under a top above
		 * it. */
		for (size_t i = 0; i < n; i++) {
			tops[i] = 0;
			if (have_top)
				iov[k++] = (struct pp_iov){walks[i]->ts_addr + l->ts_datastack_top,
							   &tops[i], 8};
		}
		phase[np++] = k;
		for (size_t i = 0; i < n; i++)
			for (size_t d = 0; d < walks[i]->depth; d++, at += span)
				iov[k++] = (struct pp_iov){
					w->chain[walks[i]->chain_off + d].addr + lo, at, span};
		if (r == ROUNDS - 1)
			for (size_t i = 0; i < nextra; i++)
				iov[k++] = extra[i];
		phase[np++] = k;
	}
	int rc = pp_mem_readv_phased(w->mem, iov, phase, np);
	free(iov);
	if (rc)
		return rc;
	size_t held[64], *hp = n <= 64 ? held : malloc(n * sizeof(*hp));
	if (!hp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		hp[i] = walks[i]->depth;
	for (int r = 0; r < ROUNDS; r++) {
		const uint64_t *tops = (const uint64_t *)(const void *)(w->scratch + r * per_round);
		const uint8_t *at = w->scratch + r * per_round + n * 8;
		for (size_t i = 0; i < n; i++) {
			size_t h = held_in(w, walks[i], at, tops[i]);
			hp[i] = h < hp[i] ? h : hp[i];
			at += walks[i]->depth * span;
		}
	}
	for (size_t i = 0; i < n; i++)
		judge(walks[i], hp[i]);
	if (hp != held)
		free(hp);
	return 0;
}

int pp_verify_read(struct pp_walker *w, const size_t *idx, size_t n, const struct pp_iov *extra,
		   size_t nextra)
{
	struct pp_walk *one[64] = {0}, **walks = n <= 64 ? one : malloc(n * sizeof(*walks));
	if (!walks)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		walks[i] = &w->walks[idx[i]];
	int rc = reread(w, walks, n, extra, nextra);
	/* A frame unmapped since (a chunk freed by a thread that returned
	 * below it): judge the walks one by one. */
	for (size_t i = 0; rc && i < n; i++)
		if (reread(w, &walks[i], 1, NULL, 0) != 0)
			walks[i]->verified_from = walks[i]->depth + 1; /* nothing held */
	if (walks != one)
		free(walks);
	return rc;
}

bool pp_verify_twinned(struct pp_walker *w, struct pp_walk *wk)
{
	const struct py_layout *l = w->l;
	if (!wk->twinned || !wk->depth)
		return false;
	uint32_t lo, hi;
	span_of(l, &lo, &hi);
	size_t span = hi - lo, held = wk->depth;
	if (reserve(&w->scratch, &w->scratch_cap, wk->depth * span) != 0)
		return false;
	for (unsigned r = 0; r < ROUNDS; r++) {
		uint64_t top = 0;
		if (l->if_size != PP_ABSENT) {
			uint64_t at = wk->ts_addr + l->ts_datastack_top;
			const struct pp_window *tw = pp_walker_top_window(w, at, r);
			if (!tw)
				return false;
			memcpy(&top, tw->buf + (at - tw->base), 8);
		}
		for (size_t i = 0; i < wk->depth; i++) {
			uint64_t a = w->chain[wk->chain_off + i].addr + lo;
			const struct pp_window *p = pp_walker_window(w, a, span);
			if (!p || !p->twin[r])
				return false;
			memcpy(w->scratch + i * span, p->twin[r] + (a - p->base), span);
		}
		size_t h = held_in(w, wk, w->scratch, top);
		held = h < held ? h : held;
	}
	judge(wk, held);
	return true;
}
