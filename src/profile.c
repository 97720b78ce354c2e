/* The profile model: interned tables, each with an open-addressing index
 * (id + 1 per slot, 0 = empty), and views over them. See profile.h. */
#include "profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL UINT32_MAX

struct index {
	uint32_t *slot;
	size_t cap; /* power of two */
};

struct pp_profile {
	struct pp_profile_meta meta;
	char **strs;
	size_t nstrs, capstrs;
	struct index stri;
	struct pp_pframe *frames;
	size_t nframes, capframes;
	struct index framei;
	struct pp_pstack *stacks;
	size_t nstacks, capstacks;
	struct index stacki;
	struct pp_pthread *threads;
	size_t nthreads, capthreads;
	struct pp_psample *samples;
	size_t nsamples, capsamples;
	/* sample -> asyncio Task name: only the samples that have one, in
	 * increasing sample order (a side table, so struct pp_psample and its
	 * many users stay as they are) */
	struct pp_sample_task *tasks;
	size_t ntasks, captasks;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static uint64_t hash_frame(const struct pp_pframe *f)
{
	uint64_t h = mix(0, f->function);
	h = mix(h, f->name);
	h = mix(h, f->file);
	h = mix(h, (uint32_t)f->line);
	h = mix(h, (uint32_t)f->firstlineno);
	return mix(h, f->kind);
}

static int same_frame(const struct pp_pframe *a, const struct pp_pframe *b)
{
	return a->function == b->function && a->name == b->name && a->file == b->file &&
	       a->line == b->line && a->firstlineno == b->firstlineno && a->kind == b->kind;
}

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *nv = realloc(*v, ncap * elem);
	if (!nv)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* Find the slot for an entry with hash h: the one holding an equal entry
 * (eq(id) true) or the empty one where it goes. */
typedef int (*eq_fn)(const struct pp_profile *p, const void *key, uint32_t id);

static uint32_t *probe(const struct pp_profile *p, struct index *ix, uint64_t h,
		       eq_fn eq, const void *key)
{
	size_t mask = ix->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t *s = &ix->slot[i];
		if (!*s || eq(p, key, *s - 1))
			return s;
	}
}

/* Keep the load under one half; rebuild with the table's own hashes. */
static int index_fit(struct index *ix, size_t n, uint64_t (*hash_of)(const void *, uint32_t),
		     const void *table)
{
	if (ix->cap && (n + 1) * 2 <= ix->cap)
		return 0;
	size_t ncap = ix->cap ? ix->cap * 2 : 256;
	uint32_t *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -1;
	for (uint32_t id = 0; id < n; id++) {
		size_t i = hash_of(table, id) & (ncap - 1);
		while (ns[i])
			i = (i + 1) & (ncap - 1);
		ns[i] = id + 1;
	}
	free(ix->slot);
	ix->slot = ns;
	ix->cap = ncap;
	return 0;
}

/* ---- strings ------------------------------------------------------------- */

static int eq_str(const struct pp_profile *p, const void *key, uint32_t id)
{
	return strcmp(p->strs[id], key) == 0;
}
static uint64_t hash_str_id(const void *p, uint32_t id)
{
	return hash_str(((const struct pp_profile *)p)->strs[id]);
}

pp_str_id pp_profile_str(struct pp_profile *p, const char *s)
{
	if (!s)
		s = "";
	if (index_fit(&p->stri, p->nstrs, hash_str_id, p) != 0)
		return FAIL;
	uint32_t *slot = probe(p, &p->stri, hash_str(s), eq_str, s);
	if (*slot)
		return *slot - 1;
	char *copy = strdup(s);
	if (!copy || grow((void **)&p->strs, &p->capstrs, p->nstrs, sizeof(char *)) != 0) {
		free(copy);
		return FAIL;
	}
	p->strs[p->nstrs] = copy;
	*slot = (uint32_t)++p->nstrs;
	return *slot - 1;
}

/* ---- frames, stacks, threads, samples ----------------------------------- */

static int eq_frame(const struct pp_profile *p, const void *key, uint32_t id)
{
	return same_frame(&p->frames[id], key);
}
static uint64_t hash_frame_id(const void *p, uint32_t id)
{
	return hash_frame(&((const struct pp_profile *)p)->frames[id]);
}

pp_frame_id pp_profile_frame(struct pp_profile *p, const struct pp_pframe *f)
{
	if (index_fit(&p->framei, p->nframes, hash_frame_id, p) != 0)
		return FAIL;
	uint32_t *slot = probe(p, &p->framei, hash_frame(f), eq_frame, f);
	if (*slot)
		return *slot - 1;
	if (grow((void **)&p->frames, &p->capframes, p->nframes, sizeof(*f)) != 0)
		return FAIL;
	p->frames[p->nframes] = *f;
	*slot = (uint32_t)++p->nframes;
	return *slot - 1;
}

static uint64_t hash_stack(pp_stack_id parent, pp_frame_id frame)
{
	return mix(mix(0, parent), frame);
}
static int eq_stack(const struct pp_profile *p, const void *key, uint32_t id)
{
	const struct pp_pstack *k = key, *s = &p->stacks[id];
	return s->parent == k->parent && s->frame == k->frame;
}
static uint64_t hash_stack_id(const void *p, uint32_t id)
{
	const struct pp_pstack *s = &((const struct pp_profile *)p)->stacks[id];
	return hash_stack(s->parent, s->frame);
}

pp_stack_id pp_profile_stack(struct pp_profile *p, pp_stack_id parent, pp_frame_id frame)
{
	/* frame 0 is the empty stack's sentinel: never a real frame */
	if (parent >= p->nstacks || frame >= p->nframes || frame == 0)
		return FAIL;
	if (index_fit(&p->stacki, p->nstacks, hash_stack_id, p) != 0)
		return FAIL;
	struct pp_pstack key = {parent, frame, 0};
	uint32_t *slot = probe(p, &p->stacki, hash_stack(parent, frame), eq_stack, &key);
	if (*slot)
		return *slot - 1;
	if (grow((void **)&p->stacks, &p->capstacks, p->nstacks, sizeof(key)) != 0)
		return FAIL;
	key.depth = p->stacks[parent].depth + 1;
	p->stacks[p->nstacks] = key;
	*slot = (uint32_t)++p->nstacks;
	return *slot - 1;
}

uint32_t pp_profile_thread(struct pp_profile *p, const struct pp_pthread *t)
{
	/* Few threads: a linear search is fine and keeps order stable. A
	 * process that execs keeps its pid and its main thread's id: the
	 * command line tells the two programs apart. */
	for (size_t i = 0; i < p->nthreads; i++)
		if (p->threads[i].pid == t->pid && p->threads[i].native_id == t->native_id &&
		    p->threads[i].name == t->name && p->threads[i].cmdline == t->cmdline)
			return (uint32_t)i;
	if (grow((void **)&p->threads, &p->capthreads, p->nthreads, sizeof(*t)) != 0)
		return FAIL;
	p->threads[p->nthreads] = *t;
	return (uint32_t)p->nthreads++;
}

int pp_profile_add_sample(struct pp_profile *p, const struct pp_psample *s)
{
	if (s->thread >= p->nthreads || s->stack >= p->nstacks)
		return -1;
	if (grow((void **)&p->samples, &p->capsamples, p->nsamples, sizeof(*s)) != 0)
		return -1;
	p->samples[p->nsamples++] = *s;
	return 0;
}

int pp_profile_set_sample_task(struct pp_profile *p, uint64_t sample, pp_str_id task)
{
	if (sample >= p->nsamples || task == 0 || task >= p->nstrs ||
	    (p->ntasks && p->tasks[p->ntasks - 1].sample >= sample))
		return -1;
	if (grow((void **)&p->tasks, &p->captasks, p->ntasks, sizeof(*p->tasks)) != 0)
		return -1;
	p->tasks[p->ntasks++] = (struct pp_sample_task){sample, task};
	return 0;
}

const struct pp_sample_task *pp_profile_sample_tasks(const struct pp_profile *p, size_t *n)
{
	*n = p->ntasks;
	return p->tasks;
}

pp_str_id pp_profile_sample_task(const struct pp_profile *p, uint64_t sample)
{
	size_t lo = 0, hi = p->ntasks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->tasks[mid].sample < sample)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->ntasks && p->tasks[lo].sample == sample ? p->tasks[lo].task : 0;
}

struct pp_profile *pp_profile_new(void)
{
	struct pp_profile *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	/* id 0 is "" and stack 0 is the empty stack (a sentinel frame 0 of
	 * kind MARKER with no name, which no view ever shows). */
	struct pp_pframe none = {0, 0, 0, -1, 0, PP_FRAME_MARKER};
	if (pp_profile_str(p, "") != 0 || pp_profile_frame(p, &none) != 0 ||
	    grow((void **)&p->stacks, &p->capstacks, 0, sizeof(struct pp_pstack)) != 0 ||
	    index_fit(&p->stacki, 0, hash_stack_id, p) != 0) {
		pp_profile_free(p);
		return NULL;
	}
	p->stacks[0] = (struct pp_pstack){0, 0, 0};
	p->nstacks = 1; /* not in the index: nothing may hash to it */
	return p;
}

void pp_profile_free(struct pp_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	free(p->stri.slot);
	free(p->frames);
	free(p->framei.slot);
	free(p->stacks);
	free(p->stacki.slot);
	free(p->threads);
	free(p->samples);
	free(p->tasks);
	free(p);
}

struct pp_profile_meta *pp_profile_meta(struct pp_profile *p) { return &p->meta; }
const struct pp_profile_meta *pp_profile_meta_c(const struct pp_profile *p) { return &p->meta; }

double pp_profile_rate_achieved(const struct pp_profile_meta *m)
{
	if (!m->rate_hz)
		return 100.0;
	if (!m->ticks_missed || !m->duration_ns)
		return (double)m->rate_hz;
	/* ticks taken = rate x duration - missed (the sampler's clock runs
	 * on fixed deadlines and skips, counting, the ones it overran) */
	double secs = (double)m->duration_ns / 1e9;
	double hz = (double)m->rate_hz - (double)m->ticks_missed / secs;
	/* a recording with inconsistent counts still weighs its samples */
	return hz >= 0.01 ? hz : 0.01;
}

const char *pp_profile_string(const struct pp_profile *p, pp_str_id id)
{
	return id < p->nstrs ? p->strs[id] : "";
}
size_t pp_profile_nstrings(const struct pp_profile *p) { return p->nstrs; }

const struct pp_pframe *pp_profile_frames(const struct pp_profile *p, size_t *n)
{
	*n = p->nframes;
	return p->frames;
}
const struct pp_pstack *pp_profile_stacks(const struct pp_profile *p, size_t *n)
{
	*n = p->nstacks;
	return p->stacks;
}
const struct pp_pthread *pp_profile_threads(const struct pp_profile *p, size_t *n)
{
	*n = p->nthreads;
	return p->threads;
}
bool pp_profile_several_programs(const struct pp_profile *p)
{
	for (size_t i = 1; i < p->nthreads; i++)
		if (p->threads[i].pid != p->threads[0].pid ||
		    p->threads[i].cmdline != p->threads[0].cmdline)
			return true;
	return false;
}

const struct pp_psample *pp_profile_samples(const struct pp_profile *p, size_t *n)
{
	*n = p->nsamples;
	return p->samples;
}
