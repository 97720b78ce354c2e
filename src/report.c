/* The GIL part of the report: each sample's GIL use, per-thread shares,
 * the process's utilisation and contention, and the longest waits with
 * whoever held the GIL meanwhile. Event loops are src/loop_stalls.c's. */
#include <stdlib.h>
#include <string.h>

#include "loop_stalls.h"
#include "report.h"

enum pp_gil_use pp_sample_gil_use(const struct pp_psample *s)
{
	switch (s->gil) {
	case PP_SGIL_HELD: return PP_USE_HELD;
	case PP_SGIL_WAITING: return PP_USE_WAITING;
	case PP_SGIL_RELEASED:
		if (s->os == PP_SOS_RUNNING)
			return PP_USE_RELEASED;
		if (s->os == PP_SOS_SLEEPING || s->os == PP_SOS_DISK || s->os == PP_SOS_STOPPED)
			return PP_USE_IDLE;
		return PP_USE_UNKNOWN;
	default: return PP_USE_UNKNOWN;
	}
}

const char *pp_gil_use_name(enum pp_gil_use u)
{
	static const char *const names[] = {"held", "waiting", "released", "idle", "unknown"};
	return u < PP_USE_COUNT ? names[u] : "unknown";
}

uint64_t pp_report_half_gap(uint64_t gap_ns, uint64_t interval_ns)
{
	return (gap_ns < interval_ns ? gap_ns : interval_ns) / 2;
}

/* ---- threads ------------------------------------------------------------ */

/* Row order for grouping: by process, then OS thread, then row. */
static int cmp_row(const void *a, const void *b, void *ctx)
{
	const struct pp_pthread *rows = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	if (rows[x].pid != rows[y].pid)
		return rows[x].pid < rows[y].pid ? -1 : 1;
	if (rows[x].native_id != rows[y].native_id)
		return rows[x].native_id < rows[y].native_id ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Threads by process, then first appearance (their first row). */
static int cmp_thread(const void *a, const void *b)
{
	const struct pp_report_thread *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/* One report thread per (pid, native id): rows that differ by name or
 * command line are the same thread; it takes the name of its latest named
 * row. Fills r->threads and r->thread_of_row. Sorting, not searching: a
 * long recording of a program that keeps starting threads has tens of
 * thousands of rows. */
static int build_threads(struct pp_report *r, const struct pp_profile *p)
{
	size_t nrows;
	const struct pp_pthread *rows = pp_profile_threads(p, &nrows);
	uint32_t *idx = malloc((nrows ? nrows : 1) * sizeof(*idx));
	r->thread_of_row = malloc((nrows ? nrows : 1) * sizeof(*r->thread_of_row));
	r->threads = calloc(nrows ? nrows : 1, sizeof(*r->threads));
	if (!idx || !r->thread_of_row || !r->threads) {
		free(idx);
		return -1;
	}
	r->nrows = nrows;
	for (size_t i = 0; i < nrows; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, nrows, sizeof(*idx), cmp_row, (void *)rows);
	for (size_t i = 0; i < nrows;) {
		size_t j = i;
		struct pp_report_thread t = {.row = idx[i], .pid = rows[idx[i]].pid,
					     .native_id = rows[idx[i]].native_id};
		for (; j < nrows && rows[idx[j]].pid == t.pid &&
		       rows[idx[j]].native_id == t.native_id;
		     j++)
			if (rows[idx[j]].name)
				t.name = pp_profile_string(p, rows[idx[j]].name);
		r->threads[r->nthreads++] = t;
		i = j;
	}
	qsort(r->threads, r->nthreads, sizeof(*r->threads), cmp_thread);
	/* Each row's thread: the threads' first rows, sorted as the rows
	 * were, give each group of rows its thread by binary search. */
	for (size_t t = 0; t < r->nthreads; t++)
		idx[t] = r->threads[t].row;
	qsort_r(idx, r->nthreads, sizeof(*idx), cmp_row, (void *)rows);
	int32_t *pos = malloc((nrows ? nrows : 1) * sizeof(*pos)); /* by first row */
	if (!pos) {
		free(idx);
		return -1;
	}
	for (size_t t = 0; t < r->nthreads; t++)
		pos[r->threads[t].row] = (int32_t)t;
	for (size_t i = 0; i < nrows; i++) {
		size_t lo = 0, hi = r->nthreads; /* the last first-row <= i's key */
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;
			uint32_t row = (uint32_t)i;
			if (cmp_row(&idx[mid], &row, (void *)rows) <= 0)
				lo = mid;
			else
				hi = mid;
		}
		r->thread_of_row[i] = pos[idx[lo]];
	}
	free(pos);
	free(idx);
	return 0;
}

/* ---- GIL ---------------------------------------------------------------- */

/* A tick: the samples of one process taken at one moment (the sampler
 * stamps every thread of a snapshot with the same time). For each sample,
 * the index of the sample holding its process's GIL in that tick, or -1. */
static struct pp_report_process *process_of(struct pp_report *r, uint32_t pid)
{
	for (size_t i = 0; i < r->nprocesses; i++)
		if (r->processes[i].pid == pid)
			return &r->processes[i];
	return NULL;
}

static int32_t *tick_holders(struct pp_report *r, const struct pp_profile *p,
			     const struct pp_psample *smp, size_t ns,
			     const struct pp_pthread *rows, size_t nrows)
{
	int32_t *holder = malloc((ns ? ns : 1) * sizeof(*holder));
	/* Per process: ticks, held, contended (a pid is never 0 in a row). */
	uint64_t (*tally)[3] = calloc(nrows ? nrows : 1, sizeof(*tally));
	r->processes = calloc(nrows ? nrows : 1, sizeof(*r->processes));
	if (!holder || !tally || !r->processes) {
		free(holder);
		free(tally);
		return NULL;
	}
	for (size_t i = 0; i < ns;) {
		uint32_t pid = smp[i].thread < nrows ? rows[smp[i].thread].pid : 0;
		size_t j = i;
		int32_t h = -1;
		bool known = false, waiting = false;
		for (; j < ns && smp[j].time_ns == smp[i].time_ns &&
		       (smp[j].thread < nrows ? rows[smp[j].thread].pid : 0) == pid;
		     j++) {
			if (smp[j].gil != PP_SGIL_UNKNOWN)
				known = true;
			if (smp[j].gil == PP_SGIL_HELD)
				h = (int32_t)j;
			if (smp[j].gil == PP_SGIL_WAITING)
				waiting = true;
		}
		for (size_t k = i; k < j; k++)
			holder[k] = h;
		struct pp_report_process *pr = process_of(r, pid);
		if (!pr && smp[i].thread < nrows) {
			pr = &r->processes[r->nprocesses++];
			pr->pid = pid;
			pr->cmdline = pp_profile_string(p, rows[smp[i].thread].cmdline);
		}
		if (pr && known) {
			uint64_t *t = tally[pr - r->processes];
			t[0]++;
			t[1] += h >= 0;
			t[2] += waiting;
		}
		i = j;
	}
	uint64_t ticks = 0, held = 0, contended = 0;
	for (size_t k = 0; k < r->nprocesses; k++) {
		struct pp_report_process *pr = &r->processes[k];
		pr->ticks = tally[k][0];
		if (pr->ticks) {
			pr->gil_held_pct = 100.0 * (double)tally[k][1] / (double)pr->ticks;
			pr->gil_contention_pct = 100.0 * (double)tally[k][2] / (double)pr->ticks;
		}
		ticks += tally[k][0];
		held += tally[k][1];
		contended += tally[k][2];
	}
	free(tally);
	r->gil_known = ticks > 0;
	if (ticks) {
		r->gil_held_pct = 100.0 * (double)held / (double)ticks;
		r->gil_contention_pct = 100.0 * (double)contended / (double)ticks;
	}
	return holder;
}

/* Leave out threads seen only before their OS thread existed: a thread
 * state with no native id, none of whose samples had a known state. */
static void drop_unborn(struct pp_report *r, int32_t *thread_of, size_t nrows)
{
	int32_t *to = malloc((r->nthreads ? r->nthreads : 1) * sizeof(*to));
	if (!to)
		return; /* keep them: harmless */
	size_t n = 0;
	for (size_t t = 0; t < r->nthreads; t++) {
		const struct pp_report_thread *th = &r->threads[t];
		if (th->native_id == 0 && th->count[PP_USE_UNKNOWN] == th->samples) {
			to[t] = -1;
			r->samples -= th->samples;
			continue;
		}
		to[t] = (int32_t)n;
		r->threads[n++] = *th;
	}
	r->nthreads = n;
	for (size_t i = 0; i < nrows; i++)
		if (thread_of[i] >= 0)
			thread_of[i] = to[thread_of[i]];
	free(to);
}

struct wait_run {    /* one thread's current stretch of waiting samples */
	bool open;
	uint64_t first, last, lead;
	size_t *holders; /* sample indexes of the holders seen meanwhile */
	size_t n, cap;
};

struct waits {
	struct pp_gil_wait *v;
	size_t n, cap;
};

static int cmp_stack(const void *a, const void *b)
{
	pp_stack_id x = *(const pp_stack_id *)a, y = *(const pp_stack_id *)b;
	return x < y ? -1 : x > y;
}

pp_stack_id pp_report_mode_stack(pp_stack_id *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_stack);
	pp_stack_id best = n ? v[0] : PP_EMPTY_STACK;
	size_t best_n = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && v[j] == v[i])
			j++;
		if (j - i > best_n) {
			best = v[i];
			best_n = j - i;
		}
		i = j;
	}
	return best;
}

/* Close a run of waits: who held the GIL in most of its ticks (ties to the
 * smaller index), and that thread's most frequent stack then. */
static int close_wait(struct waits *w, struct wait_run *run, uint32_t thread, uint64_t trail,
		      const struct pp_psample *smp, const int32_t *thread_of, size_t nthreads,
		      uint32_t *tally, pp_stack_id *scratch)
{
	run->open = false;
	memset(tally, 0, nthreads * sizeof(*tally));
	for (size_t k = 0; k < run->n; k++) {
		int32_t t = thread_of[smp[run->holders[k]].thread];
		if (t >= 0)
			tally[t]++;
	}
	int32_t best = -1;
	for (size_t t = 0; t < nthreads; t++)
		if (tally[t] > (best < 0 ? 0 : tally[best]))
			best = (int32_t)t;
	pp_stack_id stack = PP_EMPTY_STACK;
	if (best >= 0) {
		size_t m = 0;
		for (size_t k = 0; k < run->n; k++)
			if (thread_of[smp[run->holders[k]].thread] == best)
				scratch[m++] = smp[run->holders[k]].stack;
		stack = pp_report_mode_stack(scratch, m);
	}
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 64;
		struct pp_gil_wait *n = realloc(w->v, nc * sizeof(*n));
		if (!n)
			return -1;
		w->v = n;
		w->cap = nc;
	}
	w->v[w->n++] = (struct pp_gil_wait){
		.thread = thread,
		.start_ns = run->first - run->lead,
		.duration_ns = run->last + trail - (run->first - run->lead),
		.holder = best,
		.holder_stack = stack,
	};
	return 0;
}


static int cmp_wait(const void *a, const void *b)
{
	const struct pp_gil_wait *x = a, *y = b;
	if (x->duration_ns != y->duration_ns)
		return x->duration_ns > y->duration_ns ? -1 : 1;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->thread < y->thread ? -1 : x->thread > y->thread;
}

struct wait_ctx {
	struct pp_report *r;
	const struct pp_psample *smp;
	const int32_t *thread_of;
	struct wait_run *runs;
	uint32_t *tally;        /* per thread, for close_wait */
	pp_stack_id *scratch;   /* holder stacks, for close_wait */
	size_t scratch_cap;
	size_t max_waits;
	struct waits w;
};

static int end_wait(struct wait_ctx *c, size_t t, uint64_t trail)
{
	struct wait_run *run = &c->runs[t];
	if (run->n > c->scratch_cap) {
		pp_stack_id *n = realloc(c->scratch, run->n * sizeof(*n));
		if (!n)
			return -1;
		c->scratch = n;
		c->scratch_cap = run->n;
	}
	if (close_wait(&c->w, run, (uint32_t)t, trail, c->smp, c->thread_of, c->r->nthreads,
		       c->tally, c->scratch) != 0)
		return -1;
	/* Only the longest are reported: an hour of contention has millions
	 * of short waits, so keep the list short as it grows. */
	if (c->w.n >= c->max_waits * 4 + 4096) {
		qsort(c->w.v, c->w.n, sizeof(*c->w.v), cmp_wait);
		c->w.n = c->max_waits;
	}
	return 0;
}

/* Sample i of thread t (whose previous sample, if any, was at *prev). */
static int wait_step(struct wait_ctx *c, size_t t, size_t i, const int32_t *holder,
		     const uint64_t *prev)
{
	const struct pp_psample *s = &c->smp[i];
	struct wait_run *run = &c->runs[t];
	uint64_t interval = c->r->interval_ns;
	if (s->gil != PP_SGIL_WAITING)
		return run->open ? end_wait(c, t, pp_report_half_gap(s->time_ns - run->last,
								     interval))
				 : 0;
	if (!run->open) {
		run->open = true;
		run->n = 0;
		run->first = s->time_ns;
		run->lead = pp_report_half_gap(prev ? s->time_ns - *prev : UINT64_MAX, interval);
		if (run->lead > run->first)
			run->lead = run->first;
	}
	run->last = s->time_ns;
	if (holder[i] < 0)
		return 0;
	if (run->n == run->cap) {
		size_t nc = run->cap ? run->cap * 2 : 16;
		size_t *n = realloc(run->holders, nc * sizeof(*n));
		if (!n)
			return -1;
		run->holders = n;
		run->cap = nc;
	}
	run->holders[run->n++] = (size_t)holder[i];
	return 0;
}

static int find_waits(struct pp_report *r, const struct pp_psample *smp, size_t ns,
		      const int32_t *thread_of, size_t nrows, const int32_t *holder,
		      size_t max_waits)
{
	size_t nt = r->nthreads;
	struct wait_ctx c = {.r = r, .smp = smp, .thread_of = thread_of, .max_waits = max_waits};
	c.runs = calloc(nt ? nt : 1, sizeof(*c.runs));
	c.tally = calloc(nt ? nt : 1, sizeof(*c.tally));
	uint64_t *prev = calloc(nt ? nt : 1, sizeof(*prev));
	bool *seen = calloc(nt ? nt : 1, sizeof(*seen));
	int rc = -1;
	if (!c.runs || !c.tally || !prev || !seen)
		goto out;
	for (size_t i = 0; i < ns; i++) {
		if (smp[i].thread >= nrows || thread_of[smp[i].thread] < 0)
			continue;
		size_t t = (size_t)thread_of[smp[i].thread];
		if (wait_step(&c, t, i, holder, seen[t] ? &prev[t] : NULL) != 0)
			goto out;
		prev[t] = smp[i].time_ns;
		seen[t] = true;
	}
	for (size_t t = 0; t < nt; t++)
		if (c.runs[t].open &&
		    end_wait(&c, t, pp_report_half_gap(UINT64_MAX, r->interval_ns)) != 0)
			goto out;
	if (c.w.n)
		qsort(c.w.v, c.w.n, sizeof(*c.w.v), cmp_wait);
	r->nwaits = c.w.n < max_waits ? c.w.n : max_waits;
	r->waits = c.w.v;
	c.w.v = NULL;
	rc = 0;
out:
	if (c.runs)
		for (size_t t = 0; t < nt; t++)
			free(c.runs[t].holders);
	free(c.runs);
	free(c.tally);
	free(c.scratch);
	free(c.w.v);
	free(prev);
	free(seen);
	return rc;
}

/* ---- the report --------------------------------------------------------- */

struct pp_report *pp_report_new(const struct pp_profile *p, const struct pp_report_opts *o)
{
	struct pp_report *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	r->duration_ns = m->duration_ns;
	r->interval_ns = m->rate_hz ? 1000000000ull / m->rate_hz : 10000000ull;
	size_t ns, nrows;
	const struct pp_psample *smp = pp_profile_samples(p, &ns);
	const struct pp_pthread *rows = pp_profile_threads(p, &nrows);
	r->samples = ns;
	int32_t *holder = build_threads(r, p) == 0 ? tick_holders(r, p, smp, ns, rows, nrows)
						    : NULL;
	const int32_t *thread_of = r->thread_of_row;
	if (!holder)
		goto fail;
	for (size_t i = 0; i < ns; i++) {
		if (smp[i].thread >= nrows)
			continue;
		struct pp_report_thread *t = &r->threads[thread_of[smp[i].thread]];
		t->samples++;
		t->count[pp_sample_gil_use(&smp[i])]++;
	}
	drop_unborn(r, r->thread_of_row, nrows);
	uint64_t threshold = o && o->stall_threshold_ns ? o->stall_threshold_ns : 100000000ull;
	size_t max_waits = o && o->max_waits ? o->max_waits : 10;
	if (find_waits(r, smp, ns, thread_of, nrows, holder, max_waits) != 0 ||
	    pp_loop_stalls_find(r, p, thread_of, threshold) != 0)
		goto fail;
	free(holder);
	return r;
fail:
	free(holder);
	pp_report_free(r);
	return NULL;
}

void pp_report_free(struct pp_report *r)
{
	if (!r)
		return;
	free(r->threads);
	free(r->thread_of_row);
	free(r->processes);
	free(r->waits);
	free(r->stalls);
	free(r->loop_state);
	free(r->loop_task_depth);
	free(r);
}

enum pp_loop_state pp_report_loop_state(const struct pp_report *r, pp_stack_id stack)
{
	return stack < r->nstacks ? (enum pp_loop_state)r->loop_state[stack] : PP_LOOP_NONE;
}

int32_t pp_report_thread_of(const struct pp_report *r, uint32_t row)
{
	return row < r->nrows ? r->thread_of_row[row] : -1;
}

size_t pp_report_stack(const struct pp_profile *p, pp_stack_id leaf,
		       const struct pp_pframe **out, size_t max)
{
	size_t ns, nf, n = 0;
	const struct pp_pstack *st = pp_profile_stacks(p, &ns);
	const struct pp_pframe *fr = pp_profile_frames(p, &nf);
	for (pp_stack_id id = leaf; id != PP_EMPTY_STACK && id < ns; id = st[id].parent) {
		if (st[id].frame >= nf || fr[st[id].frame].kind != PP_FRAME_PYTHON)
			continue;
		if (n < max)
			out[n] = &fr[st[id].frame];
		n++;
	}
	return n;
}
