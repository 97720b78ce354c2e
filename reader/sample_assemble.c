/* The assembly phase: a sample's thread states become its threads - the
 * frames each shows (what held still, and the markers where it was cut
 * short), its GIL and OS state, its name. One OS thread running code in a
 * sub-interpreter has a thread state in each interpreter: they are joined
 * into one thread, the sub-interpreter's frames over the outer ones. */
#include <stdlib.h>
#include <string.h>

#include "target_internal.h"
#include "verify.h"

const char *pp_unreadable_reason(enum pp_unreadable why)
{
	switch (why) {
	case PP_UNREAD_MEMORY: return "frame memory not readable";
	case PP_UNREAD_NOT_FRAME: return "not a frame";
	case PP_UNREAD_NOT_CODE: return "not a code object";
	case PP_UNREAD_LOOP: return "frame chain loops";
	case PP_UNREAD_NOT_EXECUTING: return "frame not executing";
	}
	return "unreadable";
}

/* ---- one thread state's frames ------------------------------------------ */

size_t pp_shown_count(const struct pp_target *t, const struct tstate_rec *r)
{
	if (r->taken_over)
		return r->nframes;
	if (r->walk < 0)
		return 0;
	return t->walker.walks[r->walk].nout + 2; /* and the two markers */
}

static uint32_t python_frames(const struct pp_frame *f, size_t n)
{
	uint32_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += f[i].kind == PP_RF_PYTHON;
	return k;
}

/* The marker where a walk's chain stopped, other than at its end. */
static struct pp_frame end_marker(const struct pp_walk *wk)
{
	struct pp_frame m = {.kind = PP_RF_UNREADABLE, .line = PP_FRAME_LINE_NONE};
	switch (wk->end) {
	case PP_END_TOO_DEEP:
		m.kind = PP_RF_NOT_READ;
		m.count = wk->beyond;
		m.count_exact = wk->beyond_exact;
		break;
	case PP_END_LOOP: m.why = PP_UNREAD_LOOP; break;
	case PP_END_NOT_FRAME: m.why = PP_UNREAD_NOT_FRAME; break;
	case PP_END_NOT_EXECUTING: m.why = PP_UNREAD_NOT_EXECUTING; break;
	case PP_END_UNREADABLE:
	case PP_END_BOTTOM:
	default: m.why = PP_UNREAD_MEMORY; break;
	}
	return m;
}

int pp_shown_frames(const struct pp_target *t, const struct tstate_rec *r,
		    struct pp_frame *out, size_t *n, struct pp_shown *what)
{
	*what = (struct pp_shown){0};
	*n = 0;
	if (r->taken_over) { /* it has not run since: as it was */
		if (r->nframes)
			memcpy(out, t->frames.v + r->frame_start, r->nframes * sizeof(*out));
		*n = r->nframes;
		what->walked_depth = python_frames(out, *n);
		return 0;
	}
	if (r->walk < 0) {
		what->dropped = true;
		return 0;
	}
	const struct pp_walker *w = &t->walker;
	const struct pp_walk *wk = &w->walks[r->walk];
	const struct pp_frame *all = t->frames.v ? t->frames.v + wk->out_start : NULL;
	what->walked_depth = python_frames(all, wk->nout);
	if (!pp_walk_shown(wk)) {
		what->dropped = true;
		return 0;
	}
	/* Output frames inside the innermost frame that held still are not
	 * shown; if there were any, the stack was cut short there. */
	size_t from = wk->verified_from < wk->depth
		? w->chain[wk->chain_off + wk->verified_from].out_at : 0;
	if (from > wk->nout)
		from = wk->nout;
	if (from > 0 && python_frames(all + from, wk->nout - from) == 0) {
		what->dropped = true; /* only a C-stack shim held still */
		return 0;
	}
	size_t k = 0;
	if (from > 0 || wk->resumed) { /* a resumed walk starts below the innermost */
		out[k++] = (struct pp_frame){.kind = PP_RF_CHANGING, .line = PP_FRAME_LINE_NONE};
		what->changing = true;
	}
	for (size_t i = from; i < wk->nout; i++) {
		out[k] = all[i];
		what->unreadable |= out[k].kind != PP_RF_PYTHON;
		k++;
	}
	if (wk->end != PP_END_BOTTOM) {
		out[k++] = end_marker(wk);
		what->unreadable = true;
	}
	/* While the target runs, a "stack" of nothing but unreadable frames
	 * is far likelier a walk into memory left behind than a thread whose
	 * every frame is broken: it is not shown. */
	if (!t->walker.paused && k && python_frames(out, k) == 0) {
		*what = (struct pp_shown){.dropped = true, .walked_depth = what->walked_depth};
		return 0;
	}
	*n = k;
	return 0;
}

/* ---- threads --------------------------------------------------------------- */

static enum pp_gil_state gil_state(const struct snapshot *s, const int *members,
				   size_t nm, const struct pp_os_state *os,
				   uint32_t gil_size)
{
	for (size_t i = 0; i < nm; i++) {
		const struct tstate_rec *r = &s->ts[members[i]];
		if (s->interps[r->interp].gil_holder == r->addr)
			return PP_GIL_HELD;
	}
	if (!os || os->in_syscall < 0)
		return PP_GIL_UNKNOWN;
	enum { SYS_futex_nr = 202 };
	if (os->in_syscall == 1 && os->syscall_nr == SYS_futex_nr) {
		for (size_t i = 0; i < nm; i++) {
			uint64_t gil = s->interps[s->ts[members[i]].interp].gil;
			if (gil && os->args[0] >= gil && os->args[0] < gil + gil_size)
				return PP_GIL_WAITING;
		}
	}
	return PP_GIL_RELEASED;
}

static int ensure_sample_storage(struct pp_sample *out, size_t nthreads, size_t nframes)
{
	if (nthreads > out->threads_cap) {
		struct pp_thread *n = realloc(out->threads, nthreads * sizeof(*n));
		if (!n)
			return -1;
		out->threads = n;
		out->threads_cap = nthreads;
	}
	if (nframes > out->frame_pool_cap) {
		struct pp_frame *n = realloc(out->frame_pool, nframes * sizeof(*n));
		if (!n)
			return -1;
		out->frame_pool = n;
		out->frame_pool_cap = nframes;
	}
	return 0;
}

static int cmp_inner_first(const void *a, const void *b, void *ctx)
{
	const struct snapshot *s = ctx;
	int64_t ia = s->interps[s->ts[*(const int *)a].interp].id;
	int64_t ib = s->interps[s->ts[*(const int *)b].interp].id;
	return ia < ib ? 1 : ia > ib ? -1 : 0; /* higher id = inner */
}

#define MAX_MEMBERS 8

struct group {
	int members[MAX_MEMBERS];
	size_t nm;
	uint64_t native_id;
	int64_t outer_id;
	size_t order;
};

static int cmp_groups(const void *a, const void *b, void *ctx)
{
	const struct group *ga = a, *gb = b;
	int pid = *(const int *)ctx;
	int ma = ga->native_id == (uint64_t)pid, mb = gb->native_id == (uint64_t)pid;
	if (ma != mb)
		return mb - ma; /* main thread first */
	if (ga->outer_id != gb->outer_id)
		return ga->outer_id < gb->outer_id ? -1 : 1;
	return ga->order < gb->order ? -1 : ga->order > gb->order;
}

/* Thread states of one OS thread (by native tid) in several interpreters
 * are one thread; a tid of 0 (unknown) joins nothing. */
static size_t group_threads(struct pp_target *t, struct snapshot *s, struct group *g)
{
	size_t ng = 0;
	bool several = s->ninterps > 1; /* else every thread state is its own thread */
	for (size_t i = 0; i < s->nts; i++) {
		struct tstate_rec *r = &s->ts[i];
		size_t k = ng;
		if (several && r->native_id)
			for (k = 0; k < ng; k++)
				if (g[k].native_id == r->native_id && g[k].nm < MAX_MEMBERS)
					break;
		if (k == ng) {
			g[ng].native_id = r->native_id;
			g[ng].outer_id = INT64_MAX;
			ng++;
		}
		g[k].members[g[k].nm++] = (int)i;
		int64_t id = s->interps[r->interp].id;
		if (id < g[k].outer_id) {
			g[k].outer_id = id;
			g[k].order = r->order;
		}
	}
	qsort_r(g, ng, sizeof(*g), cmp_groups, &t->info.pid);
	for (size_t k = 0; k < ng; k++)
		qsort_r(g[k].members, g[k].nm, sizeof(int), cmp_inner_first, s);
	return ng;
}

/* The frames of a group, innermost first: from its outermost thread state
 * inward, each one's frames over the ones outside it, until one was cut
 * short (what ran inside it is not known) or dropped (then the thread is
 * shown cut short at the thread state outside it). */
static size_t group_frames(const struct pp_target *t, const struct snapshot *s,
			   const struct group *g, struct pp_frame *at, struct pp_thread *th)
{
	size_t counts[MAX_MEMBERS] = {0}, total = 0;
	struct pp_frame *starts[MAX_MEMBERS];
	size_t first = g->nm; /* the innermost member shown */
	bool cut = false;
	/* Write each member's frames at the end of `at` first (members from
	 * outermost in), then move them into place innermost first. */
	struct pp_frame *tmp = at;
	for (size_t m = g->nm; m-- > 0;) {
		struct pp_shown what;
		size_t n = 0;
		pp_shown_frames(t, &s->ts[g->members[m]], tmp, &n, &what);
		th->walked_depth += what.walked_depth;
		if (what.dropped) {
			if (m == g->nm - 1) {
				th->dropped = true;
				return 0;
			}
			cut = true; /* its frames are not known: cut at the one outside */
			break;
		}
		th->changing |= what.changing;
		th->unreadable |= what.unreadable;
		starts[m] = tmp;
		counts[m] = n;
		tmp += n;
		total += n;
		first = m;
		if (what.changing)
			break;
	}
	if (first == g->nm)
		return 0;
	/* Members were written outer first; the thread reads inner first. A
	 * single member (the usual case) is in place already. */
	size_t nshown = g->nm - first;
	if (nshown > 1) {
		struct pp_frame *copy = malloc(total * sizeof(*copy));
		if (!copy) {
			th->dropped = true;
			return 0;
		}
		memcpy(copy, at, total * sizeof(*copy));
		size_t k = 0;
		for (size_t m = first; m < g->nm; m++) {
			memcpy(at + k, copy + (starts[m] - at), counts[m] * sizeof(*copy));
			k += counts[m];
		}
		free(copy);
	}
	if (cut) {
		memmove(at + 1, at, total * sizeof(*at));
		at[0] = (struct pp_frame){.kind = PP_RF_CHANGING, .line = PP_FRAME_LINE_NONE};
		th->changing = true;
		total++;
	}
	return total;
}

enum pp_err pp_assemble(struct pp_target *t, struct snapshot *s, unsigned flags,
			struct pp_sample *out, struct pp_error *err)
{
	struct group *g = calloc(s->nts ? s->nts : 1, sizeof(*g));
	if (!g)
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	size_t ng = group_threads(t, s, g);
	size_t nframes = 0;
	for (size_t i = 0; i < s->nts; i++)
		nframes += pp_shown_count(t, &s->ts[i]) + 1;
	if (ensure_sample_storage(out, ng ? ng : 1, nframes ? nframes : 1) != 0) {
		free(g);
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	}
	size_t fp = 0;
	for (size_t k = 0; k < ng; k++) {
		struct pp_thread *th = &out->threads[k];
		memset(th, 0, sizeof(*th));
		const struct tstate_rec *inner = &s->ts[g[k].members[0]];
		th->native_id = g[k].native_id;
		th->ns_id = inner->ns_tid;
		th->thread_id = s->ts[g[k].members[g[k].nm - 1]].thread_id;
		th->interp_id = s->interps[inner->interp].id;
		th->frames = out->frame_pool + fp;
		th->nframes = group_frames(t, s, &g[k], th->frames, th);
		fp += th->nframes;
		const struct pp_os_state *os = pp_task_state_of(s, th->native_id);
		if (os) {
			th->os = *os;
		} else {
			th->os.run = PP_OS_UNKNOWN;
			th->os.in_syscall = -1;
		}
		th->gil = gil_state(s, g[k].members, g[k].nm,
				    (flags & PP_SAMPLE_OS_STATE) ? os : NULL,
				    t->layout.gil_size);
		for (size_t m = g[k].nm; m-- > 0 && !th->name;)
			th->name = pp_thread_names_get(&t->names, s->ts[g[k].members[m]].thread_id,
						       s->ts[g[k].members[m]].ns_tid);
	}
	out->nthreads = ng;
	free(g);
	return PP_OK;
}
