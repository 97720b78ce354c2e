/* Event-loop stalls from stacks alone.
 *
 * A stack runs an event loop when it holds the loop's anchor frame:
 *   - asyncio's own loop: `_run_once` in asyncio/base_events.py. The loop
 *     waits in its selector when a frame above the anchor is in
 *     selectors.py;
 *   - a loop written in C (uvloop): it has no frames of its own, so the
 *     anchor is the innermost frame that started it: a function named
 *     `run` in asyncio/runners.py (asyncio.run, asyncio.Runner.run) or
 *     uvloop/__init__.py (uvloop.run) - not their modules' import. While
 *     it waits in epoll the anchor is the innermost frame.
 * A process forked from inside a callback (multiprocessing's fork start
 * method) inherits the loop's frames below its own; the frame that starts
 * the child's work (BaseProcess._bootstrap) ends any loop below it.
 * Above the anchor, frames of the loop's own machinery (Handle._run, the
 * pure-Python Task step, the selector transports) are skipped; the first
 * other frame is the task's coroutine or the callback the loop called, and
 * its presence makes the loop busy. A stack cut short above the anchor (a
 * marker there, before any callback) says neither. A stall is a run of a
 * loop thread's consecutive busy samples lasting at least the threshold;
 * samples that say neither are passed over, not counted either way.
 *
 * Every stack's state is derived from its parent's (a parent's id is always
 * smaller), so the whole table costs one step per stack.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "loop_stalls.h"

enum frame_class {
	FC_OTHER = 0,
	FC_RUN_ONCE,  /* asyncio's loop iteration: the anchor */
	FC_C_ANCHOR,  /* what starts a loop written in C */
	FC_SELECTOR,  /* the loop waiting for I/O */
	FC_MACHINERY, /* the loop's own code between it and a callback */
	FC_NEW_PROCESS, /* a forked child starts here: no loop below counts */
	FC_MARKER,    /* the stack was cut short here */
};

struct pp_loop_stack_info {
	uint32_t anchor;    /* depth of the anchor frame, 0: none */
	bool anchor_py;     /* the anchor is asyncio's _run_once */
	bool selector;      /* a selectors.py frame above the anchor */
	bool cut;           /* cut short above the anchor, before a task */
	uint32_t task;      /* depth of the first frame the loop called, 0: none */
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix) && (n == k || s[n - k - 1] == '/');
}

static enum frame_class classify(const struct pp_profile *p, const struct pp_pframe *f)
{
	if (f->kind == PP_FRAME_MARKER)
		return FC_MARKER;
	if (f->kind != PP_FRAME_PYTHON)
		return FC_OTHER;
	const char *file = pp_profile_string(p, f->file);
	const char *name = pp_profile_string(p, f->name);
	if (ends_with(file, "asyncio/base_events.py"))
		return !strcmp(name, "_run_once") ? FC_RUN_ONCE : FC_MACHINERY;
	if (ends_with(file, "asyncio/runners.py") || ends_with(file, "uvloop/__init__.py"))
		return !strcmp(name, "run") ? FC_C_ANCHOR : FC_MACHINERY;
	if (ends_with(file, "multiprocessing/process.py") && !strcmp(name, "_bootstrap"))
		return FC_NEW_PROCESS;
	if (ends_with(file, "selectors.py"))
		return FC_SELECTOR;
	static const char *const machinery[] = {
		"asyncio/events.py", "asyncio/tasks.py", "asyncio/futures.py",
		"asyncio/selector_events.py", "asyncio/unix_events.py",
	};
	for (size_t i = 0; i < sizeof(machinery) / sizeof(machinery[0]); i++)
		if (ends_with(file, machinery[i]))
			return FC_MACHINERY;
	return FC_OTHER;
}

int pp_loop_classify(struct pp_loop_classes *c, const struct pp_profile *p)
{
	size_t nf, ns;
	const struct pp_pframe *frames = pp_profile_frames(p, &nf);
	const struct pp_pstack *stacks = pp_profile_stacks(p, &ns);
	if (ns > c->cap || nf > c->fcap) {
		size_t cap = ns > c->cap ? (ns > 2 * c->cap ? ns : 2 * c->cap) : c->cap;
		size_t fcap = nf > c->fcap ? (nf > 2 * c->fcap ? nf : 2 * c->fcap) : c->fcap;
		uint8_t *state = realloc(c->state, cap ? cap : 1);
		if (state)
			c->state = state;
		uint32_t *depth = realloc(c->task_depth, (cap ? cap : 1) * sizeof(*depth));
		if (depth)
			c->task_depth = depth;
		struct pp_loop_stack_info *info = realloc(c->info, (cap ? cap : 1) * sizeof(*info));
		if (info)
			c->info = info;
		uint8_t *fclass = realloc(c->fclass, fcap ? fcap : 1);
		if (fclass)
			c->fclass = fclass;
		if (!state || !depth || !info || !fclass)
			return -1;
		c->cap = cap;
		c->fcap = fcap;
	}
	struct pp_loop_stack_info *info = c->info;
	for (size_t i = c->nf; i < nf; i++)
		c->fclass[i] = (uint8_t)classify(p, &frames[i]);
	c->nf = nf;
	if (c->n == 0 && ns > 0) { /* the empty stack runs no loop */
		info[0] = (struct pp_loop_stack_info){0};
		c->state[0] = PP_LOOP_NONE;
		c->task_depth[0] = 0;
		c->n = 1;
	}
	for (size_t s = c->n; s < ns; s++) {
		const struct pp_pstack *st = &stacks[s];
		struct pp_loop_stack_info in = st->parent < s ? info[st->parent] : (struct pp_loop_stack_info){0};
		enum frame_class fc = st->frame < nf ? c->fclass[st->frame] : FC_OTHER;
		if (fc == FC_NEW_PROCESS) {
			in = (struct pp_loop_stack_info){0};
		} else if (fc == FC_RUN_ONCE) {
			in = (struct pp_loop_stack_info){st->depth, true, false, false, 0};
		} else if (fc == FC_C_ANCHOR && !(in.anchor && in.anchor_py)) {
			in = (struct pp_loop_stack_info){st->depth, false, false, false, 0};
		} else if (in.anchor && !in.task && !in.selector && !in.cut) {
			if (fc == FC_SELECTOR)
				in.selector = true;
			else if (fc == FC_MARKER)
				in.cut = true;
			else if (fc == FC_OTHER)
				in.task = st->depth;
		}
		info[s] = in;
		c->state[s] = PP_LOOP_NONE;
		c->task_depth[s] = 0;
		if (in.anchor) {
			c->state[s] = in.task ? PP_LOOP_BUSY
				: in.cut ? PP_LOOP_UNKNOWN : PP_LOOP_WAITING;
			c->task_depth[s] = in.task;
		}
	}
	c->n = ns;
	return 0;
}

void pp_loop_classes_free(struct pp_loop_classes *c)
{
	free(c->state);
	free(c->task_depth);
	free(c->info);
	free(c->fclass);
	*c = (struct pp_loop_classes){0};
}

/* The report's tables, by stack id: the classes, handed over. */
static int classify_stacks(struct pp_report *r, const struct pp_profile *p)
{
	struct pp_loop_classes c = {0};
	if (pp_loop_classify(&c, p) != 0) {
		pp_loop_classes_free(&c);
		return -1;
	}
	size_t ns;
	pp_profile_stacks(p, &ns);
	if (!c.state) { /* no stacks at all */
		c.state = calloc(1, 1);
		c.task_depth = calloc(1, sizeof(uint32_t));
	}
	r->loop_state = c.state;
	r->loop_task_depth = c.task_depth;
	r->nstacks = ns;
	free(c.info);
	free(c.fclass);
	return r->loop_state && r->loop_task_depth ? 0 : -1;
}

/* ---- stalls ------------------------------------------------------------- */

/* Where a stall's edge is put in the gap between the samples either side
 * of it: halfway, which is off by at most half the gap either way. With
 * no sample on one side (the recording's start or end) half a period. A
 * gap of missed ticks is halved like any other: the edge is as likely in
 * its second half as in its first, and capping it at half a period made
 * stalls next to missed ticks come out short (a 250 ms stall reported as
 * 120 ms after 180 ms without a sample); the duration's error says how
 * far off it can be. */
static uint64_t half_gap(uint64_t gap_ns, uint64_t interval_ns)
{
	return gap_ns == UINT64_MAX ? interval_ns / 2 : gap_ns / 2;
}

struct run {         /* a loop thread's current stretch of busy samples */
	bool open;
	uint64_t first, last, lead;
	pp_stack_id *stacks;
	pp_str_id *names;   /* each sample's Task name (0: none), as stacks */
	size_t n, cap;
};

/* Whether stack s runs the stall's coroutine (any stack does when the
 * stall names none). */
static bool same_task(const struct pp_profile *p, const struct pp_report *r, pp_stack_id s,
		      const struct pp_stall *st)
{
	if (!st->task)
		return true;
	if (s >= r->nstacks || !r->loop_task_depth[s])
		return false;
	const char *name = pp_loop_function_at(p, s, r->loop_task_depth[s]);
	return name && !strcmp(name, st->task);
}

/* The qualified name of the frame at `depth` in `leaf`'s path. */
const char *pp_loop_function_at(const struct pp_profile *p, pp_stack_id leaf, uint32_t depth)
{
	size_t ns, nf;
	const struct pp_pstack *st = pp_profile_stacks(p, &ns);
	const struct pp_pframe *fr = pp_profile_frames(p, &nf);
	for (pp_stack_id id = leaf; id != PP_EMPTY_STACK && id < ns; id = st[id].parent)
		if (st[id].depth == depth)
			return st[id].frame < nf ? pp_profile_string(p, fr[st[id].frame].function)
						 : NULL;
	return NULL;
}

static int cmp_str_id(const void *a, const void *b)
{
	pp_str_id x = *(const pp_str_id *)a, y = *(const pp_str_id *)b;
	return (x > y) - (x < y);
}

/* The Task the stall's coroutine ran in: the name most of the samples
 * running that coroutine give (ties: the first seen) - counting those
 * that name none, which win for a plain callback: its last sample's Task
 * is read just after its stack, when the loop may have gone on to the
 * Task the callback woke (asyncio_tasks.h). NULL when no name wins (a
 * recording without task names), or out of memory. */
static const char *stall_task_name(const struct pp_profile *p, const struct run *run,
				   const struct pp_report *r, const struct pp_stall *st)
{
	pp_str_id *ids = malloc((run->n ? run->n : 1) * sizeof(*ids));
	if (!ids)
		return NULL;
	size_t n = 0;
	pp_stack_id last = PP_EMPTY_STACK;
	bool last_same = false;
	for (size_t i = 0; i < run->n; i++) {
		if (i == 0 || run->stacks[i] != last) {
			last = run->stacks[i];
			last_same = same_task(p, r, last, st);
		}
		if (last_same)
			ids[n++] = run->names[i];
	}
	/* the distinct names and their counts, sorted by name */
	pp_str_id *u = malloc((n ? n : 1) * sizeof(*u));
	size_t *cnt = malloc((n ? n : 1) * sizeof(*cnt));
	pp_str_id best = 0; /* none */
	bool decided = false;
	if (u && cnt && n) {
		memcpy(u, ids, n * sizeof(*ids));
		qsort(u, n, sizeof(*u), cmp_str_id);
		size_t nu = 0, most = 0;
		for (size_t i = 0; i < n; i++) {
			if (nu && u[nu - 1] == u[i]) {
				cnt[nu - 1]++;
			} else {
				u[nu] = u[i];
				cnt[nu++] = 1;
			}
			if (cnt[nu - 1] > most)
				most = cnt[nu - 1];
		}
		for (size_t i = 0; i < n && !decided; i++) { /* in sample order: ties go to the first */
			const pp_str_id *at = bsearch(&ids[i], u, nu, sizeof(*u), cmp_str_id);
			if (at && cnt[at - u] == most) {
				best = ids[i];
				decided = true;
			}
		}
	}
	free(u);
	free(cnt);
	free(ids);
	return best ? pp_profile_string(p, best) : NULL;
}

static int close_run(struct pp_report *r, const struct pp_profile *p, struct run *run,
		     uint32_t thread, uint64_t trail, uint64_t threshold_ns, size_t *cap)
{
	run->open = false;
	uint64_t start = run->first - run->lead;
	uint64_t duration = run->last + trail - start;
	if (duration + r->interval_ns / 10 < threshold_ns)
		return 0;
	if (r->nstalls == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct pp_stall *n = realloc(r->stalls, nc * sizeof(*n));
		if (!n)
			return -1;
		r->stalls = n;
		*cap = nc;
	}
	/* The tasks in sample order, before pp_report_mode_stack() sorts the stacks. */
	const char *tasks[PP_STALL_OTHERS + 1];
	uint32_t ntasks = 0;
	pp_stack_id last = PP_EMPTY_STACK;
	for (size_t i = 0; i < run->n; i++) {
		pp_stack_id s = run->stacks[i];
		if (s == last || s >= r->nstacks || !r->loop_task_depth[s])
			continue;
		last = s;
		const char *name = pp_loop_function_at(p, s, r->loop_task_depth[s]);
		bool seen = !name;
		for (uint32_t k = 0; k < ntasks && k <= PP_STALL_OTHERS && !seen; k++)
			seen = !strcmp(tasks[k], name);
		if (seen)
			continue;
		if (ntasks <= PP_STALL_OTHERS)
			tasks[ntasks] = name;
		ntasks++;
	}
	pp_stack_id stack = pp_report_mode_stack(run->stacks, run->n);
	uint32_t depth = stack < r->nstacks ? r->loop_task_depth[stack] : 0;
	struct pp_stall st = {
		.thread = thread,
		.start_ns = start,
		.duration_ns = duration,
		.duration_error_ns = run->lead + trail,
		.samples = (uint32_t)run->n,
		.stack = stack,
		.task = depth ? pp_loop_function_at(p, stack, depth) : NULL,
		.task_depth = depth,
	};
	/* The others: every task but the one named. */
	for (uint32_t k = 0; k < ntasks; k++) {
		if (k <= PP_STALL_OTHERS && st.task && !strcmp(tasks[k], st.task))
			continue;
		if (st.nothers < PP_STALL_OTHERS && k <= PP_STALL_OTHERS)
			st.others[st.nothers] = tasks[k];
		st.nothers++;
	}
	st.task_name = stall_task_name(p, run, r, &st);
	r->stalls[r->nstalls++] = st;
	return 0;
}

static int cmp_stall(const void *a, const void *b)
{
	const struct pp_stall *x = a, *y = b;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->thread < y->thread ? -1 : x->thread > y->thread;
}

int pp_loop_stalls_find(struct pp_report *r, const struct pp_profile *p,
			const int32_t *thread_of, uint64_t threshold_ns)
{
	if (classify_stacks(r, p) != 0)
		return -1;
	size_t ns, nrows;
	const struct pp_psample *smp = pp_profile_samples(p, &ns);
	pp_profile_threads(p, &nrows);
	size_t ntasks;
	pp_profile_sample_tasks(p, &ntasks);
	size_t nt = r->nthreads;
	struct run *runs = calloc(nt ? nt : 1, sizeof(*runs));
	uint64_t *prev = calloc(nt ? nt : 1, sizeof(*prev));
	bool *seen = calloc(nt ? nt : 1, sizeof(*seen));
	size_t cap = 0;
	int rc = -1;
	if (!runs || !prev || !seen)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		const struct pp_psample *s = &smp[i];
		if (s->thread >= nrows || thread_of[s->thread] < 0)
			continue;
		uint32_t t = (uint32_t)thread_of[s->thread];
		enum pp_loop_state ls = s->stack < r->nstacks ? r->loop_state[s->stack]
							     : PP_LOOP_NONE;
		if (ls != PP_LOOP_NONE)
			r->threads[t].event_loop = true;
		if (ls == PP_LOOP_UNKNOWN)
			continue; /* says neither: passed over */
		struct run *run = &runs[t];
		if (ls == PP_LOOP_BUSY) {
			if (!run->open) {
				run->open = true;
				run->n = 0;
				run->first = s->time_ns;
				run->lead = half_gap(seen[t] ? s->time_ns - prev[t] : UINT64_MAX,
						     r->interval_ns);
				if (run->lead > run->first)
					run->lead = run->first;
			}
			if (run->n == run->cap) {
				size_t nc = run->cap ? run->cap * 2 : 64;
				pp_stack_id *n = realloc(run->stacks, nc * sizeof(*n));
				if (!n)
					goto out;
				run->stacks = n;
				pp_str_id *nm = realloc(run->names, nc * sizeof(*nm));
				if (!nm)
					goto out;
				run->names = nm;
				run->cap = nc;
			}
			run->names[run->n] = ntasks ? pp_profile_sample_task(p, i) : 0;
			run->stacks[run->n++] = s->stack;
			run->last = s->time_ns;
		} else if (run->open &&
			   close_run(r, p, run, t,
				     half_gap(s->time_ns - run->last, r->interval_ns),
				     threshold_ns, &cap) != 0) {
			goto out;
		}
		prev[t] = s->time_ns;
		seen[t] = true;
	}
	for (size_t t = 0; t < nt; t++)
		if (runs[t].open && close_run(r, p, &runs[t], (uint32_t)t,
					      half_gap(UINT64_MAX, r->interval_ns),
					      threshold_ns, &cap) != 0)
			goto out;
	if (r->nstalls)
		qsort(r->stalls, r->nstalls, sizeof(*r->stalls), cmp_stall);
	for (size_t t = 0; t < nt; t++)
		r->nloops += r->threads[t].event_loop;
	rc = 0;
out:
	if (runs)
		for (size_t t = 0; t < nt; t++) {
			free(runs[t].stacks);
			free(runs[t].names);
		}
	free(runs);
	free(prev);
	free(seen);
	return rc;
}
