/* See resume.h. */
#include "resume.h"

#include <stdlib.h>
#include <string.h>

#include "target_internal.h"
#include "verify.h"

struct resume_entry {
	uint64_t ts_addr, outermost;
	size_t off, n; /* its frames in `frames` */
};

struct table {
	struct resume_entry *v;
	size_t n, cap;
	uint64_t *frames;
	size_t nframes, capframes;
};

struct pp_resume_store {
	struct table now, next; /* next: the table learn builds, then swapped */
};

void pp_resume_free(struct pp_resume_store *rs)
{
	if (!rs)
		return;
	free(rs->now.v);
	free(rs->now.frames);
	free(rs->next.v);
	free(rs->next.frames);
	free(rs);
}

static const struct resume_entry *find(const struct table *t, uint64_t ts_addr)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->v[mid].ts_addr < ts_addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->v[lo].ts_addr == ts_addr ? &t->v[lo] : NULL;
}

bool pp_resume_of(const struct pp_resume_store *rs, uint64_t ts_addr, struct pp_resume *out)
{
	const struct resume_entry *e = rs ? find(&rs->now, ts_addr) : NULL;
	if (!e || !e->n)
		return false;
	*out = (struct pp_resume){rs->now.frames + e->off, e->n, e->outermost};
	return true;
}

/* Append an entry of n frames to t; 0 or -1. */
static int add(struct table *t, uint64_t ts_addr, uint64_t outermost, const uint64_t *frames,
	       size_t n)
{
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		struct resume_entry *v = realloc(t->v, ncap * sizeof(*v));
		if (!v)
			return -1;
		t->v = v;
		t->cap = ncap;
	}
	if (t->nframes + n > t->capframes) {
		size_t ncap = t->capframes ? t->capframes : 256;
		while (ncap < t->nframes + n)
			ncap *= 2;
		uint64_t *f = realloc(t->frames, ncap * sizeof(*f));
		if (!f)
			return -1;
		t->frames = f;
		t->capframes = ncap;
	}
	memcpy(t->frames + t->nframes, frames, n * sizeof(*frames));
	t->v[t->n++] = (struct resume_entry){ts_addr, outermost, t->nframes, n};
	t->nframes += n;
	return 0;
}

static int by_ts(const void *a, const void *b)
{
	uint64_t x = ((const struct resume_entry *)a)->ts_addr;
	uint64_t y = ((const struct resume_entry *)b)->ts_addr;
	return x < y ? -1 : x > y;
}

void pp_resume_learn(struct pp_resume_store **rsp, const struct pp_target *t,
		     const struct snapshot *s)
{
	struct pp_resume_store *rs = *rsp;
	if (!rs && !(rs = *rsp = calloc(1, sizeof(*rs))))
		return;
	struct table *nt = &rs->next;
	nt->n = nt->nframes = 0;
	const struct pp_walker *w = &t->walker;
	uint64_t addrs[PP_RESUME_FRAMES];
	for (size_t i = 0; i < s->nts; i++) {
		const struct tstate_rec *r = &s->ts[i];
		int rc = 0;
		const struct pp_walk *wk = r->walk >= 0 ? &w->walks[r->walk] : NULL;
		/* Learnt again from a walk from the innermost frame to a
		 * thread's outermost; else kept as it was. */
		if (!wk || wk->resumed || wk->end != PP_END_BOTTOM || !wk->bottom_ok ||
		    !wk->depth) {
			const struct resume_entry *e = find(&rs->now, r->addr);
			if (e)
				rc = add(nt, r->addr, e->outermost, rs->now.frames + e->off, e->n);
		} else {
			size_t n = 0;
			for (size_t d = 0; d < wk->depth && n < PP_RESUME_FRAMES;
			     d += d < 16 ? 1 : d / 2)
				addrs[n++] = w->chain[wk->chain_off + d].addr;
			rc = add(nt, r->addr, w->chain[wk->chain_off + wk->depth - 1].addr, addrs, n);
		}
		if (rc != 0) {
			rs->now.n = 0; /* forget all: walks do not resume */
			return;
		}
	}
	if (nt->n > 1)
		qsort(nt->v, nt->n, sizeof(*nt->v), by_ts);
	struct table old = rs->now;
	rs->now = *nt;
	*nt = old;
}
