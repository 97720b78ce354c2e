/* See top_window.h. */
#include "top_window.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t time_ns;
	uint32_t thread;
	pp_stack_id stack;
	uint8_t gil;
};

struct pp_top_window {
	uint64_t span_ns;
	bool idle;
	struct entry *ring; /* capacity a power of two */
	size_t cap, head, n; /* oldest at head */
};

struct pp_top_window *pp_top_window_new(uint64_t span_ns, bool idle)
{
	struct pp_top_window *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->span_ns = span_ns;
	w->idle = idle;
	return w;
}

void pp_top_window_free(struct pp_top_window *w)
{
	if (!w)
		return;
	free(w->ring);
	free(w);
}

static int push(struct pp_top_window *w, const struct entry *e)
{
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 1024;
		struct entry *nr = malloc(ncap * sizeof(*nr));
		if (!nr)
			return -1;
		for (size_t i = 0; i < w->n; i++)
			nr[i] = w->ring[(w->head + i) & (w->cap - 1)];
		free(w->ring);
		w->ring = nr;
		w->cap = ncap;
		w->head = 0;
	}
	w->ring[(w->head + w->n) & (w->cap - 1)] = *e;
	w->n++;
	return 0;
}

static bool is_idle(const struct pp_psample *s)
{
	return s->os == PP_SOS_SLEEPING || s->os == PP_SOS_DISK || s->os == PP_SOS_STOPPED;
}

int pp_top_window_feed(struct pp_top_window *w, const struct pp_profile *p, size_t *next)
{
	size_t n;
	const struct pp_psample *s = pp_profile_samples(p, &n);
	for (; *next < n; (*next)++) {
		const struct pp_psample *x = &s[*next];
		if (x->stack == PP_EMPTY_STACK || (!w->idle && is_idle(x)))
			continue;
		struct entry e = {x->time_ns, x->thread, x->stack, x->gil};
		if (push(w, &e) != 0)
			return -1;
	}
	/* expire what the newest sample leaves behind */
	if (w->n) {
		uint64_t newest = w->ring[(w->head + w->n - 1) & (w->cap - 1)].time_ns;
		while (w->n && newest - w->ring[w->head].time_ns > w->span_ns) {
			w->head = (w->head + 1) & (w->cap - 1);
			w->n--;
		}
	}
	return 0;
}

/* ---- snapshots ----------------------------------------------------------- */

/* Functions are interned by (function string id, file string id). */
struct fn_index {
	uint64_t *keys;
	uint32_t *vals; /* index + 1 */
	size_t cap;
};

static uint64_t mix(uint64_t k)
{
	k ^= k >> 31;
	k *= 0x9e3779b97f4a7c15ull;
	return k ^ (k >> 29);
}

struct agg {
	struct fn_index idx;
	struct pp_top_function *fns;
	size_t n, cap;
	uint64_t *last_seen; /* per function: the sample (+1) that counted it last */
};

static long fn_of(struct agg *a, const struct pp_profile *p, const struct pp_pframe *f)
{
	pp_str_id file = f->kind == PP_FRAME_PYTHON ? f->file : 0;
	uint64_t key = (uint64_t)f->function << 32 | file;
	if ((a->n + 1) * 2 > a->idx.cap) {
		size_t ncap = a->idx.cap ? a->idx.cap * 2 : 256;
		uint64_t *nk = calloc(ncap, sizeof(*nk));
		uint32_t *nv = calloc(ncap, sizeof(*nv));
		if (!nk || !nv) {
			free(nk);
			free(nv);
			return -1;
		}
		for (size_t i = 0; i < a->idx.cap; i++) {
			if (!a->idx.vals[i])
				continue;
			size_t j = mix(a->idx.keys[i]) & (ncap - 1);
			while (nv[j])
				j = (j + 1) & (ncap - 1);
			nk[j] = a->idx.keys[i];
			nv[j] = a->idx.vals[i];
		}
		free(a->idx.keys);
		free(a->idx.vals);
		a->idx.keys = nk;
		a->idx.vals = nv;
		a->idx.cap = ncap;
	}
	size_t i = mix(key) & (a->idx.cap - 1);
	for (; a->idx.vals[i]; i = (i + 1) & (a->idx.cap - 1))
		if (a->idx.keys[i] == key)
			return a->idx.vals[i] - 1;
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		struct pp_top_function *nf = realloc(a->fns, ncap * sizeof(*nf));
		uint64_t *nl = realloc(a->last_seen, ncap * sizeof(*nl));
		if (nf)
			a->fns = nf;
		if (nl)
			a->last_seen = nl;
		if (!nf || !nl)
			return -1;
		a->cap = ncap;
	}
	a->idx.keys[i] = key;
	a->idx.vals[i] = (uint32_t)a->n + 1;
	a->fns[a->n] = (struct pp_top_function){pp_profile_string(p, f->function),
						pp_profile_string(p, file), 0, 0};
	a->last_seen[a->n] = 0;
	return (long)a->n++;
}

static enum pp_top_sort g_sort; /* qsort has no context argument */

static int fn_cmp(const void *x, const void *y)
{
	const struct pp_top_function *a = x, *b = y;
	bool by_own = g_sort == PP_TOP_BY_OWN || g_sort == PP_TOP_BY_OWN_TIME;
	uint64_t ka = by_own ? a->own : a->total, kb = by_own ? b->own : b->total;
	uint64_t la = by_own ? a->total : a->own, lb = by_own ? b->total : b->own;
	if (ka != kb)
		return ka > kb ? -1 : 1;
	if (la != lb)
		return la > lb ? -1 : 1;
	int c = strcmp(a->function, b->function);
	return c ? c : strcmp(a->file, b->file);
}

int pp_top_snapshot_take(const struct pp_top_window *w, const struct pp_profile *p,
			 enum pp_top_sort sort, struct pp_top_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	size_t nframes, nstacks, nthreads;
	const struct pp_pframe *fr = pp_profile_frames(p, &nframes);
	const struct pp_pstack *st = pp_profile_stacks(p, &nstacks);
	pp_profile_threads(p, &nthreads);
	struct agg a = {0};
	uint32_t *canon = NULL;
	out->threads = calloc(nthreads ? nthreads : 1, sizeof(*out->threads));
	if (!out->threads)
		goto fail;
	out->nthreads = nthreads;
	/* a thread is its pid and native id: its first row stands for it,
	 * with the latest name any of its rows has */
	const struct pp_pthread *th = pp_profile_threads(p, &nthreads);
	canon = malloc((nthreads ? nthreads : 1) * sizeof(*canon));
	if (!canon)
		goto fail;
	for (size_t t = 0; t < nthreads; t++) {
		canon[t] = (uint32_t)t;
		for (size_t u = 0; u < t; u++)
			if (th[u].pid == th[t].pid && th[u].native_id == th[t].native_id) {
				canon[t] = (uint32_t)u;
				break;
			}
		out->threads[t].thread = (uint32_t)t;
		if (th[t].name)
			out->threads[canon[t]].name = th[t].name;
	}
	for (size_t i = 0; i < w->n; i++) {
		const struct entry *e = &w->ring[(w->head + i) & (w->cap - 1)];
		if (e->stack >= nstacks || e->thread >= nthreads)
			continue;
		out->samples++;
		struct pp_top_thread *tt = &out->threads[canon[e->thread]];
		tt->samples++;
		if (e->gil != PP_SGIL_UNKNOWN)
			tt->gil_known++;
		if (e->gil == PP_SGIL_HELD)
			tt->gil_held++;
		bool leaf = true;
		/* walk leaf to root; bounded by the stack's depth */
		pp_stack_id s = e->stack;
		for (uint32_t k = 0; s != PP_EMPTY_STACK && s < nstacks && k < st[e->stack].depth; k++) {
			if (st[s].frame >= nframes)
				break;
			long f = fn_of(&a, p, &fr[st[s].frame]);
			if (f < 0)
				goto fail;
			if (leaf)
				a.fns[f].own++;
			leaf = false;
			if (a.last_seen[f] != i + 1) { /* once per sample */
				a.last_seen[f] = i + 1;
				a.fns[f].total++;
			}
			s = st[s].parent;
		}
	}
	if (w->n)
		out->span_ns = w->ring[(w->head + w->n - 1) & (w->cap - 1)].time_ns -
			       w->ring[w->head].time_ns;
	g_sort = sort;
	if (a.n)
		qsort(a.fns, a.n, sizeof(*a.fns), fn_cmp);
	out->functions = a.fns;
	out->nfunctions = a.n;
	free(a.idx.keys);
	free(a.idx.vals);
	free(a.last_seen);
	free(canon);
	return 0;
fail:
	free(canon);
	free(a.fns);
	free(a.idx.keys);
	free(a.idx.vals);
	free(a.last_seen);
	pp_top_snapshot_free(out);
	return -1;
}

void pp_top_snapshot_free(struct pp_top_snapshot *s)
{
	free(s->functions);
	free(s->threads);
	memset(s, 0, sizeof(*s));
}
