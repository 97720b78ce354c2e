/* Views of a profile: the samples an output keeps and their root-first
 * frames, with the display options applied once for every format. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

struct vkey { /* what makes two view frames the same */
	const char *function, *name, *file;
	int line, firstlineno, kind;
};

struct pp_view {
	const struct pp_profile *p;
	struct pp_view_opts o;
	struct pp_view_frame *vf;
	struct vkey *keys;
	size_t nvf, capvf;
	uint32_t *index; /* open addressing over keys, id + 1 */
	size_t icap;
	uint32_t *by_frame;   /* profile frame -> view frame (UINT32_MAX: none) */
	uint32_t *thread_root, *process_root; /* per thread */
	uint32_t *canon;      /* per thread row: the row that stands for it */
	pp_str_id *latest;    /* per canonical row: its latest non-empty name */
	uint32_t mark_wait, mark_released;
	char **owned;         /* labels of synthetic frames */
	size_t nowned;
	const struct pp_view_frame **scratch;
	size_t scratch_cap;
	size_t nkept;
};

static uint64_t hash_key(const struct vkey *k)
{
	uint64_t h = 1469598103934665603ull;
	const char *parts[] = {k->function, k->name, k->file};
	for (int i = 0; i < 3; i++)
		for (const char *s = parts[i]; *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h ^= (uint64_t)(uint32_t)k->line * 0x9e3779b97f4a7c15ull;
	h ^= (uint64_t)(uint32_t)k->firstlineno * 0xff51afd7ed558ccdull;
	return h ^ (uint64_t)k->kind;
}

static int same_key(const struct vkey *a, const struct vkey *b)
{
	return a->line == b->line && a->firstlineno == b->firstlineno && a->kind == b->kind &&
	       !strcmp(a->function, b->function) && !strcmp(a->name, b->name) &&
	       !strcmp(a->file, b->file);
}

static int reindex(struct pp_view *v)
{
	size_t ncap = v->icap ? v->icap * 2 : 256;
	uint32_t *ni = calloc(ncap, sizeof(*ni));
	if (!ni)
		return -1;
	for (size_t id = 0; id < v->nvf; id++) {
		size_t i = hash_key(&v->keys[id]) & (ncap - 1);
		while (ni[i])
			i = (i + 1) & (ncap - 1);
		ni[i] = (uint32_t)id + 1;
	}
	free(v->index);
	v->index = ni;
	v->icap = ncap;
	return 0;
}

/* The view frame for k (strings must outlive the view), or UINT32_MAX. */
static uint32_t intern(struct pp_view *v, const struct vkey *k)
{
	if ((v->nvf + 1) * 2 > v->icap && reindex(v) != 0)
		return UINT32_MAX;
	size_t i = hash_key(k) & (v->icap - 1);
	for (; v->index[i]; i = (i + 1) & (v->icap - 1))
		if (same_key(&v->keys[v->index[i] - 1], k))
			return v->index[i] - 1;
	if (v->nvf == v->capvf) {
		size_t ncap = v->capvf ? v->capvf * 2 : 256;
		struct pp_view_frame *nf = realloc(v->vf, ncap * sizeof(*nf));
		if (nf)
			v->vf = nf;
		struct vkey *nk = realloc(v->keys, ncap * sizeof(*nk));
		if (nk)
			v->keys = nk;
		if (!nf || !nk)
			return UINT32_MAX;
		v->capvf = ncap;
	}
	uint32_t id = (uint32_t)v->nvf++;
	v->keys[id] = *k;
	v->vf[id] = (struct pp_view_frame){k->function, k->name, k->file, k->line,
					   k->firstlineno, (enum pp_frame_kind)k->kind, id};
	v->index[i] = id + 1;
	return id;
}

static const char *own(struct pp_view *v, char *s)
{
	if (!s)
		return NULL;
	char **no = realloc(v->owned, (v->nowned + 1) * sizeof(*no));
	if (!no) {
		free(s);
		return NULL;
	}
	v->owned = no;
	v->owned[v->nowned++] = s;
	return s;
}

static uint32_t synthetic(struct pp_view *v, char *label, enum pp_frame_kind kind)
{
	const char *s = own(v, label);
	if (!s)
		return UINT32_MAX;
	struct vkey k = {s, s, "", -1, 0, kind};
	return intern(v, &k);
}

static int build_roots(struct pp_view *v)
{
	size_t nt;
	const struct pp_pthread *th = pp_profile_threads(v->p, &nt);
	v->thread_root = malloc((nt ? nt : 1) * sizeof(uint32_t));
	v->process_root = malloc((nt ? nt : 1) * sizeof(uint32_t));
	v->canon = malloc((nt ? nt : 1) * sizeof(uint32_t));
	v->latest = calloc(nt ? nt : 1, sizeof(pp_str_id));
	if (!v->thread_root || !v->process_root || !v->canon || !v->latest)
		return -1;
	/* A thread is its process and OS thread; rows that differ only in
	 * the name (not known yet on its first samples, or renamed) are one
	 * thread, under its latest name. Rows are in order of appearance. */
	for (size_t i = 0; i < nt; i++) {
		size_t c = 0;
		while (c < i && !(th[c].pid == th[i].pid && th[c].native_id == th[i].native_id))
			c++;
		v->canon[i] = (uint32_t)c;
		if (th[i].name)
			v->latest[c] = th[i].name;
	}
	for (size_t i = 0; i < nt; i++) {
		char *label = NULL;
		const char *name = pp_profile_string(v->p, v->latest[v->canon[i]]);
		if (*name ? asprintf(&label, "thread %" PRIu64 " \"%s\"", th[i].native_id, name) < 0
			  : asprintf(&label, "thread %" PRIu64, th[i].native_id) < 0)
			return -1;
		v->thread_root[i] = synthetic(v, label, PP_FRAME_THREAD);
		const char *cmd = pp_profile_string(v->p, th[i].cmdline);
		if (*cmd ? asprintf(&label, "process %" PRIu32 ": %s", th[i].pid, cmd) < 0
			 : asprintf(&label, "process %" PRIu32, th[i].pid) < 0)
			return -1;
		v->process_root[i] = synthetic(v, label, PP_FRAME_PROCESS);
		if (v->thread_root[i] == UINT32_MAX || v->process_root[i] == UINT32_MAX)
			return -1;
	}
	v->mark_wait = synthetic(v, strdup("[waiting for GIL]"), PP_FRAME_MARKER);
	v->mark_released = synthetic(v, strdup("[GIL released]"), PP_FRAME_MARKER);
	return v->mark_wait == UINT32_MAX || v->mark_released == UINT32_MAX ? -1 : 0;
}

struct pp_view *pp_view_new(const struct pp_profile *p, const struct pp_view_opts *o)
{
	struct pp_view *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->p = p;
	v->o = *o;
	size_t nf;
	const struct pp_pframe *fr = pp_profile_frames(p, &nf);
	v->by_frame = malloc((nf ? nf : 1) * sizeof(uint32_t));
	if (!v->by_frame || build_roots(v) != 0)
		goto fail;
	for (size_t i = 0; i < nf; i++) {
		v->by_frame[i] = UINT32_MAX;
		if (i == 0)
			continue; /* the empty stack's sentinel */
		struct vkey k = {
			pp_profile_string(p, fr[i].function), pp_profile_string(p, fr[i].name),
			pp_profile_string(p, fr[i].file), o->nolineno ? -1 : fr[i].line,
			fr[i].firstlineno, fr[i].kind,
		};
		if ((v->by_frame[i] = intern(v, &k)) == UINT32_MAX)
			goto fail;
	}
	return v;
fail:
	pp_view_free(v);
	return NULL;
}

static int idle(const struct pp_psample *s)
{
	return s->os == PP_SOS_SLEEPING || s->os == PP_SOS_DISK || s->os == PP_SOS_STOPPED;
}

int pp_view_each(struct pp_view *v, pp_view_fn fn, void *ctx)
{
	size_t ns, nst;
	const struct pp_psample *smp = pp_profile_samples(v->p, &ns);
	const struct pp_pstack *st = pp_profile_stacks(v->p, &nst);
	v->nkept = 0;
	for (size_t i = 0; i < ns; i++) {
		const struct pp_psample *s = &smp[i];
		int waiting = s->gil == PP_SGIL_WAITING;
		/* Released: on CPU without the GIL (the report's `released`);
		 * a thread blocked elsewhere is idle and gets no marker. */
		int released = s->gil == PP_SGIL_RELEASED && s->os == PP_SOS_RUNNING;
		int marker = v->o.gil_markers && (waiting || released);
		if (v->o.gil_only && s->gil != PP_SGIL_HELD)
			continue;
		if (!v->o.idle && idle(s) && !(v->o.gil_markers && waiting))
			continue;
		if (s->stack == PP_EMPTY_STACK || s->stack >= nst)
			continue;
		size_t depth = st[s->stack].depth + 3;
		if (depth > v->scratch_cap) {
			const struct pp_view_frame **n = realloc(v->scratch, depth * 2 * sizeof(*n));
			if (!n)
				return -1;
			v->scratch = n;
			v->scratch_cap = depth * 2;
		}
		/* Fill root first: roots, then the stack (walked leaf to root
		 * into its place), then the marker. */
		struct pp_psample one = *s;
		one.thread = v->canon[s->thread];
		size_t k = 0;
		if (v->o.processes)
			v->scratch[k++] = &v->vf[v->process_root[s->thread]];
		if (v->o.threads)
			v->scratch[k++] = &v->vf[v->thread_root[s->thread]];
		size_t d = st[s->stack].depth;
		for (pp_stack_id id = s->stack; id != PP_EMPTY_STACK; id = st[id].parent)
			v->scratch[k + --d] = &v->vf[v->by_frame[st[id].frame]];
		k += st[s->stack].depth;
		if (marker)
			v->scratch[k++] = &v->vf[waiting ? v->mark_wait : v->mark_released];
		v->nkept++;
		int rc = fn(v->scratch, k, &one, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

const struct pp_view_frame *pp_view_frame(const struct pp_view *v, uint32_t id)
{
	return id < v->nvf ? &v->vf[id] : NULL;
}
size_t pp_view_nframes(const struct pp_view *v) { return v->nvf; }
size_t pp_view_nsamples(const struct pp_view *v) { return v->nkept; }

void pp_view_free(struct pp_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nowned; i++)
		free(v->owned[i]);
	free(v->owned);
	free(v->vf);
	free(v->keys);
	free(v->index);
	free(v->by_frame);
	free(v->thread_root);
	free(v->canon);
	free(v->latest);
	free(v->process_root);
	free(v->scratch);
	free(v);
}

const char *pp_view_thread_name(const struct pp_view *v, uint32_t thread)
{
	size_t nt;
	pp_profile_threads(v->p, &nt);
	if (thread >= nt)
		return "";
	return pp_profile_string(v->p, v->latest[v->canon[thread]]);
}

static int count_one(const struct pp_view_frame *const *frames, size_t n,
		     const struct pp_psample *s, void *ctx)
{
	(void)frames;
	(void)n;
	(void)s;
	++*(size_t *)ctx;
	return 1; /* one is enough */
}

/* Whether view o keeps any sample; -1 when out of memory. */
static int keeps_any(const struct pp_profile *p, const struct pp_view_opts *o)
{
	struct pp_view *v = pp_view_new(p, o);
	if (!v)
		return -1;
	size_t kept = 0;
	int rc = pp_view_each(v, count_one, &kept);
	pp_view_free(v);
	return rc < 0 ? -1 : kept > 0;
}

bool pp_view_all_idle(const struct pp_profile *p, const struct pp_view_opts *o)
{
	if (o->idle || keeps_any(p, o) != 0)
		return false;
	struct pp_view_opts with_idle = *o;
	with_idle.idle = true;
	return keeps_any(p, &with_idle) == 1;
}
