/* Building a struct pp_tasks (tasks_build.h). */
#include "tasks_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linetable.h"
#include "pyobject.h"
#include "pystring.h"
#include "target_internal.h"

struct pp_task_addr {
	uint64_t addr;
	size_t i;
};

static size_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

int pp_tasks_seen_add(struct pp_tasks_build *b, uint64_t addr)
{
	if ((b->seen_n + 1) * 2 > b->seen_cap) {
		size_t ncap = b->seen_cap ? b->seen_cap * 2 : 1024;
		uint64_t *n = calloc(ncap, sizeof(*n));
		if (!n)
			return -1;
		for (size_t i = 0; i < b->seen_cap; i++)
			if (b->seen[i])
				for (size_t j = hash64(b->seen[i]) & (ncap - 1);; j = (j + 1) & (ncap - 1))
					if (!n[j]) {
						n[j] = b->seen[i];
						break;
					}
		free(b->seen);
		b->seen = n;
		b->seen_cap = ncap;
	}
	for (size_t j = hash64(addr) & (b->seen_cap - 1);; j = (j + 1) & (b->seen_cap - 1)) {
		if (b->seen[j] == addr)
			return 1;
		if (!b->seen[j]) {
			b->seen[j] = addr;
			b->seen_n++;
			return 0;
		}
	}
}

int pp_tasks_add_loop(struct pp_tasks_build *b, uint64_t loop, uint64_t thread)
{
	struct pp_tasks *o = b->out;
	for (size_t i = 0; i < o->nloops; i++)
		if (o->loops[i].addr == loop) {
			if (thread && !o->loops[i].thread)
				o->loops[i].thread = thread;
			return 0;
		}
	if (o->nloops >= PP_TASK_LOOPS_MAX)
		return 0;
	if (o->nloops == b->loops_cap) {
		size_t ncap = b->loops_cap ? b->loops_cap * 2 : 8;
		struct pp_task_loop *n = realloc(o->loops, ncap * sizeof(*n));
		if (!n)
			return -1;
		o->loops = n;
		b->loops_cap = ncap;
	}
	o->loops[o->nloops++] = (struct pp_task_loop){loop, thread};
	return 0;
}

static int by_loop(const void *a, const void *b)
{
	const struct pp_task *x = a, *y = b;
	if (x->loop != y->loop)
		return (x->loop > y->loop) - (x->loop < y->loop);
	return (x->found > y->found) - (x->found < y->found);
}

static int by_addr(const void *a, const void *b)
{
	const struct pp_task_addr *x = a, *y = b;
	return (x->addr > y->addr) - (x->addr < y->addr);
}

int pp_tasks_group(struct pp_tasks_build *b)
{
	struct pp_tasks *o = b->out;
	if (o->n)
		qsort(o->v, o->n, sizeof(*o->v), by_loop);
	free(b->index);
	b->index = malloc((o->n ? o->n : 1) * sizeof(*b->index));
	if (!b->index)
		return -1;
	for (size_t i = 0; i < o->n; i++)
		b->index[i] = (struct pp_task_addr){o->v[i].addr, i};
	if (o->n)
		qsort(b->index, o->n, sizeof(*b->index), by_addr);
	return 0;
}

long pp_tasks_find(const struct pp_tasks_build *b, uint64_t addr)
{
	if (!b->index)
		return -1;
	struct pp_task_addr key = {addr, 0};
	const struct pp_task_addr *hit = bsearch(&key, b->index, b->out->n, sizeof(key), by_addr);
	return hit ? (long)hit->i : -1;
}

void pp_tasks_build_done(struct pp_tasks_build *b)
{
	free(b->seen);
	free(b->index);
	b->seen = NULL;
	b->index = NULL;
	b->seen_cap = b->seen_n = 0;
}

int pp_task_add_await(struct pp_task *waiter, size_t awaited)
{
	for (size_t i = 0; i < waiter->nawaits; i++)
		if (waiter->awaits[i] == awaited)
			return 0;
	size_t *n = realloc(waiter->awaits, (waiter->nawaits + 1) * sizeof(*n));
	if (!n)
		return -1;
	waiter->awaits = n;
	waiter->awaits[waiter->nawaits++] = awaited;
	return 0;
}

int pp_task_line(const struct py_layout *l, const struct pp_code_entry *e, int64_t unit)
{
	if (!e->linetable || e->ncodeunits < 0 || unit > e->ncodeunits || unit < -1)
		return PP_FRAME_LINE_UNKNOWN;
	int line = pp_linetable_line(l->minor, e->linetable, e->linetable_len,
				     e->code.firstlineno, unit);
	return line < PP_FRAME_LINE_NONE ? PP_FRAME_LINE_UNKNOWN : line;
}

int pp_task_add_frame(struct pp_task *task, size_t *cap, const struct py_layout *l,
		      const struct pp_code_entry *e, uint64_t offset)
{
	if (task->nframes == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct pp_frame *n = realloc(task->frames, ncap * sizeof(*n));
		if (!n)
			return -1;
		task->frames = n;
		*cap = ncap;
	}
	int64_t unit = ((int64_t)(offset - l->co_code_adaptive)) / 2;
	task->frames[task->nframes++] = (struct pp_frame){
		.code = &e->code, .line = pp_task_line(l, e, unit), .kind = PP_RF_PYTHON};
	return 0;
}

char *pp_task_read_name(struct pp_target *t, uint64_t obj)
{
	char *s = pp_read_str(&t->mem, &t->layout, obj, t->types.str);
	if (s)
		return s;
	uint64_t n = 0;
	if (pp_read_long(&t->obj, obj, &n) != 0)
		return NULL;
	char buf[32];
	snprintf(buf, sizeof(buf), "Task-%llu", (unsigned long long)n);
	return strdup(buf);
}
