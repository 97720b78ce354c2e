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

/* 3.11+: what a re-read says is on a thread's data stack: its top, and
 * its current frame (0: not known). */
struct on_stack {
	uint64_t top, cur;
};

/* 3.11+: whether frame f in the thread's newest chunk was off its stack in
 * a re-read. At or above the top it was popped. Above the current frame,
 * with the current frame in the same chunk, it was popped or not yet
 * pushed: a call moves the top over the new frame, then fills the frame's
 * fields one by one, and only then makes it current - until then its slot
 * holds what an earlier frame left there (3.11-3.13: that frame's code and
 * position; 3.14+: a new code with the old frame's position), while its
 * caller stands at the call. (A top or current frame in another chunk says
 * nothing of this one: a thread that returned below the chunk freed it,
 * and its re-read fails; one that called past it keeps it whole.) */
static bool off_stack(const struct py_layout *l, const struct pp_walk *wk, uint64_t f,
		      const struct on_stack *os)
{
	if (!wk->cend || f < wk->cbase || f >= wk->cend)
		return false;
	if (os->cur >= wk->cbase && os->cur < wk->cend && f > os->cur)
		return true;
	if (os->top <= wk->cbase || os->top > wk->cend)
		return false;
	return f + l->if_size > os->top;
}

/* How many frames, from the outermost in, held still in one re-read:
 * `s` holds each frame's span (innermost first), `os` what was on the
 * thread's data stack as read just before them (3.11+). */
static size_t held_in(const struct pp_walker *w, const struct pp_walk *wk, const uint8_t *s,
		      const struct on_stack *os)
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
			    : off_stack(l, wk, c->addr, os))
			break;
		/* A position its code cannot have is no frame of a real
		 * stack, however still it held: a slot caught while a call
		 * set it up, its new code beside the last frame's position. */
		if (!(c->flags & PP_CF_POSITION_OK))
			break;
		uint64_t now = objects ? pp_get_u32(b, span, instr) : pp_get_u64(b, span, instr);
		if (now != c->instr) {
			/* It moved on: what was inside it is not shown, and it is,
			 * at the position the walk read. */
			held++;
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

/* 3.11+: the words that say what is on a walk's thread's stack, re-read
 * before its frames in each round: the data-stack top and the current
 * frame pointer (3.13+) or the _PyCFrame pointer and, in the _PyCFrame the
 * walk took its current frame from, the current frame (3.11/3.12). How many
 * there are (0 on <=3.10), their addresses in `addr`. */
enum { W_TOP, W_CURP, W_CUR, NWORDS };

static size_t words_of(const struct py_layout *l, const struct pp_walk *wk,
		       uint64_t addr[NWORDS])
{
	if (l->if_size == PP_ABSENT)
		return 0;
	addr[W_TOP] = wk->ts_addr + l->ts_datastack_top;
	addr[W_CURP] = wk->ts_addr + l->ts_frame;
	if (l->cf_current_frame == PP_ABSENT || !wk->cframe)
		return 2;
	addr[W_CUR] = wk->cframe + l->cf_current_frame;
	return 3;
}

/* What the words re-read say. On 3.11/3.12 the current frame counts only
 * from the _PyCFrame the walk used: another one (an evaluation loop
 * entered or left since) says nothing of the walk's frames, and is left
 * to the top. */
static struct on_stack on_stack_of(const struct py_layout *l, const struct pp_walk *wk,
				   const uint64_t v[NWORDS], size_t nw)
{
	struct on_stack os = {0, 0};
	if (nw == 0)
		return os;
	os.top = v[W_TOP];
	if (l->cf_current_frame == PP_ABSENT)
		os.cur = v[W_CURP];
	else if (nw == 3 && v[W_CURP] == wk->cframe)
		os.cur = v[W_CUR];
	return os;
}

/* Re-read `n` walks: what is on each thread's stack (3.11+), then every
 * frame, twice; `extra` last. Judges each; 0 or a negative errno (nothing
 * judged). */
static int reread(struct pp_walker *w, struct pp_walk *const *walks, size_t n,
		  const struct pp_iov *extra, size_t nextra)
{
	const struct py_layout *l = w->l;
	uint32_t lo, hi;
	span_of(l, &lo, &hi);
	size_t span = hi - lo, frames = 0;
	for (size_t i = 0; i < n; i++)
		frames += walks[i]->depth;
	/* per round: each walk's words, then every walk's frames */
	size_t words = n * NWORDS * 8;
	size_t per_round = (words + frames * span + 7) & ~(size_t)7; /* words stay aligned */
	size_t niov = ROUNDS * (frames + n * NWORDS) + nextra;
	if (reserve(&w->scratch, &w->scratch_cap, ROUNDS * per_round) != 0)
		return -ENOMEM;
	struct pp_iov *iov = malloc((niov ? niov : 1) * sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	size_t phase[2 * ROUNDS], np = 0, k = 0;
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t *v = (uint64_t *)(void *)(w->scratch + r * per_round);
		uint8_t *at = w->scratch + r * per_round + words;
		/* The words before the frames: a thread that returned below a
		 * frame and pushed new ones over it between the two reads
		 * would otherwise show the old frame whole under a top above
		 * it. */
		for (size_t i = 0; i < n; i++) {
			uint64_t addr[NWORDS];
			size_t nw = words_of(l, walks[i], addr);
			for (size_t j = 0; j < NWORDS; j++)
				v[i * NWORDS + j] = 0;
			for (size_t j = 0; j < nw; j++)
				iov[k++] = (struct pp_iov){addr[j], &v[i * NWORDS + j], 8};
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
		const uint64_t *v = (const uint64_t *)(const void *)(w->scratch + r * per_round);
		const uint8_t *at = w->scratch + r * per_round + words;
		for (size_t i = 0; i < n; i++) {
			uint64_t addr[NWORDS];
			struct on_stack os = on_stack_of(l, walks[i], &v[i * NWORDS],
							 words_of(l, walks[i], addr));
			size_t h = held_in(w, walks[i], at, &os);
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
	uint64_t addr[NWORDS];
	size_t nw = words_of(l, wk, addr);
	for (unsigned r = 0; r < ROUNDS; r++) {
		/* The read-ahead has the top and the current frame pointer of
		 * every thread it knew; on 3.11/3.12 the current frame in the
		 * _PyCFrame the last sample's walk used: one entered since is
		 * left to the top (on_stack_of). */
		uint64_t v[NWORDS] = {0};
		size_t got = 0;
		for (; got < nw; got++) {
			const struct pp_window *tw = pp_walker_top_window(w, addr[got], r);
			if (!tw)
				break;
			memcpy(&v[got], tw->buf + (addr[got] - tw->base), 8);
		}
		if (got < nw && got <= W_CURP)
			return false;
		struct on_stack os = on_stack_of(l, wk, v, got);
		for (size_t i = 0; i < wk->depth; i++) {
			uint64_t a = w->chain[wk->chain_off + i].addr + lo;
			const struct pp_window *p = pp_walker_window(w, a, span);
			if (!p || !p->twin[r])
				return false;
			memcpy(w->scratch + i * span, p->twin[r] + (a - p->base), span);
		}
		size_t h = held_in(w, wk, w->scratch, &os);
		held = h < held ? h : held;
	}
	judge(wk, held);
	return true;
}
