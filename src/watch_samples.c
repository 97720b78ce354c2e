/* watch's samples; see watch_samples.h. */
#include "watch_samples.h"

#include <stdlib.h>
#include <string.h>

#include "frame_marker.h"
#include "loop_stalls.h"

struct pp_watch_samples {
	struct pp_profile *p;
	struct pp_loop_classes classes;
	uint32_t pid;
	pp_str_id cmdline;
	unsigned rate_hz;
	uint64_t window_ns;
	uint64_t t0;            /* the first sample's time: ring times are since it */
	bool started;
	/* the ring: samples of the last window_ns, oldest at head */
	struct pp_psample *ring;
	size_t head, len, cap;
	struct pp_watch_obs *obs;
	size_t obs_cap;
	/* The last tick's stack of each thread (by its index in the sample,
	 * as threads come in the same order every tick): most threads of a
	 * service are where they were 50 ms ago, and interning their frames
	 * again (three string hashes a frame) was most of this file's cost.
	 * Keyed by code entry address and line: the reader never reuses an
	 * entry's address (code_cache.h), so equal keys are the same frames. */
	struct stack_memo *memo;
	size_t memo_cap;
};

struct memo_frame {
	const struct pp_code *code;
	int line;
};

struct stack_memo {
	uint64_t tid;
	pp_stack_id stack;
	bool valid;
	struct memo_frame *f;
	size_t n, cap;
};

struct pp_watch_samples *pp_watch_samples_new(const struct pp_target_info *info,
					      uint64_t window_ns, unsigned rate_hz)
{
	struct pp_watch_samples *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return NULL;
	ws->p = pp_profile_new();
	ws->pid = (uint32_t)info->pid;
	ws->window_ns = window_ns;
	ws->rate_hz = rate_hz;
	if (!ws->p || (ws->cmdline = pp_profile_str(ws->p, info->cmdline ? info->cmdline : ""))
			      == UINT32_MAX) {
		pp_watch_samples_free(ws);
		return NULL;
	}
	return ws;
}

void pp_watch_samples_free(struct pp_watch_samples *ws)
{
	if (!ws)
		return;
	pp_profile_free(ws->p);
	pp_loop_classes_free(&ws->classes);
	free(ws->ring);
	free(ws->obs);
	for (size_t i = 0; i < ws->memo_cap; i++)
		free(ws->memo[i].f);
	free(ws->memo);
	free(ws);
}

static pp_frame_id frame_of(struct pp_profile *p, const struct pp_frame *f)
{
	if (f->kind != PP_RF_PYTHON) {
		char label[96];
		pp_frame_marker_label(f, label, sizeof label);
		pp_str_id s = pp_profile_str(p, label);
		if (s == UINT32_MAX)
			return UINT32_MAX;
		struct pp_pframe pf = {s, s, 0, PP_LINE_NONE, 0, PP_FRAME_MARKER};
		return pp_profile_frame(p, &pf);
	}
	const struct pp_code *c = f->code;
	struct pp_pframe pf = {pp_profile_str(p, c->qualname ? c->qualname : "?"),
			       pp_profile_str(p, c->name ? c->name : "?"),
			       pp_profile_str(p, c->filename ? c->filename : "?"),
			       f->line, c->firstlineno, PP_FRAME_PYTHON};
	if (pf.function == UINT32_MAX || pf.name == UINT32_MAX || pf.file == UINT32_MAX)
		return UINT32_MAX;
	return pp_profile_frame(p, &pf);
}

/* Whether th's frames are the memo's: all Python frames, the same code
 * entries at the same lines. */
static bool memo_hit(const struct stack_memo *m, const struct pp_thread *th)
{
	if (!m->valid || m->tid != th->native_id || m->n != th->nframes)
		return false;
	for (size_t k = 0; k < th->nframes; k++) {
		const struct pp_frame *f = &th->frames[k];
		if (f->kind != PP_RF_PYTHON || f->code != m->f[k].code || f->line != m->f[k].line)
			return false;
	}
	return true;
}

/* Remember th's stack in m, if it is Python frames only (a marker's label
 * depends on more than a code and a line); out of memory forgets it. */
static void memo_set(struct stack_memo *m, const struct pp_thread *th, pp_stack_id stack)
{
	m->valid = false;
	for (size_t k = 0; k < th->nframes; k++)
		if (th->frames[k].kind != PP_RF_PYTHON)
			return;
	if (th->nframes > m->cap) {
		struct memo_frame *f = realloc(m->f, th->nframes * sizeof(*f));
		if (!f)
			return;
		m->f = f;
		m->cap = th->nframes;
	}
	for (size_t k = 0; k < th->nframes; k++)
		m->f[k] = (struct memo_frame){th->frames[k].code, th->frames[k].line};
	m->n = th->nframes;
	m->tid = th->native_id;
	m->stack = stack;
	m->valid = true;
}

static int ring_push(struct pp_watch_samples *ws, const struct pp_psample *s)
{
	if (ws->len == ws->cap) {
		size_t nc = ws->cap ? ws->cap * 2 : 256;
		struct pp_psample *n = malloc(nc * sizeof(*n));
		if (!n)
			return -1;
		for (size_t i = 0; i < ws->len; i++)
			n[i] = ws->ring[(ws->head + i) % ws->cap];
		free(ws->ring);
		ws->ring = n;
		ws->cap = nc;
		ws->head = 0;
	}
	ws->ring[(ws->head + ws->len) % ws->cap] = *s;
	ws->len++;
	return 0;
}

static uint8_t gil_of(enum pp_gil_state g)
{
	switch (g) {
	case PP_GIL_HELD: return PP_SGIL_HELD;
	case PP_GIL_WAITING: return PP_SGIL_WAITING;
	case PP_GIL_RELEASED: return PP_SGIL_RELEASED;
	default: return PP_SGIL_UNKNOWN;
	}
}

static uint8_t os_of(enum pp_os_run r)
{
	switch (r) {
	case PP_OS_RUNNING: return PP_SOS_RUNNING;
	case PP_OS_SLEEPING: return PP_SOS_SLEEPING;
	case PP_OS_DISK: return PP_SOS_DISK;
	case PP_OS_STOPPED: return PP_SOS_STOPPED;
	case PP_OS_ZOMBIE: return PP_SOS_ZOMBIE;
	default: return PP_SOS_UNKNOWN;
	}
}

int pp_watch_samples_add(struct pp_watch_samples *ws, const struct pp_sample *s,
			 const struct pp_watch_obs **obs, size_t *n)
{
	*obs = NULL;
	*n = 0;
	if (!ws->started) {
		ws->t0 = s->time_ns;
		ws->started = true;
	}
	uint64_t t = s->time_ns >= ws->t0 ? s->time_ns - ws->t0 : 0;
	while (ws->len && ws->ring[ws->head].time_ns + ws->window_ns < t) {
		ws->head = (ws->head + 1) % ws->cap;
		ws->len--;
	}
	if (s->nthreads > ws->obs_cap) {
		struct pp_watch_obs *o = realloc(ws->obs, s->nthreads * sizeof(*o));
		if (!o)
			return -1;
		ws->obs = o;
		ws->obs_cap = s->nthreads;
	}
	if (s->nthreads > ws->memo_cap) {
		struct stack_memo *m = realloc(ws->memo, s->nthreads * sizeof(*m));
		if (!m)
			return -1;
		memset(m + ws->memo_cap, 0, (s->nthreads - ws->memo_cap) * sizeof(*m));
		ws->memo = m;
		ws->memo_cap = s->nthreads;
	}
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct pp_thread *th = &s->threads[i];
		struct pp_watch_obs *o = &ws->obs[i];
		*o = (struct pp_watch_obs){th->native_id, PP_EMPTY_STACK, PP_WATCH_UNKNOWN,
					   PP_LOOP_NONE};
		if (th->dropped)
			continue;
		pp_stack_id stack = PP_EMPTY_STACK;
		const struct pp_code *leaf = NULL;
		if (memo_hit(&ws->memo[i], th)) {
			stack = ws->memo[i].stack;
		} else {
			for (size_t k = th->nframes; k-- > 0;) { /* root first */
				const struct pp_frame *f = &th->frames[k];
				pp_frame_id fid = frame_of(ws->p, f);
				if (fid == UINT32_MAX ||
				    (stack = pp_profile_stack(ws->p, stack, fid)) == UINT32_MAX)
					return -1;
			}
			memo_set(&ws->memo[i], th, stack);
		}
		for (size_t k = 0; k < th->nframes && !leaf; k++)
			if (th->frames[k].kind == PP_RF_PYTHON)
				leaf = th->frames[k].code;
		o->stack = stack;
		o->act = pp_watch_activity_of(th->gil, &th->os, leaf ? leaf->filename : NULL,
					      leaf ? leaf->name : NULL);
		struct pp_pthread pt = {ws->pid, th->native_id,
					th->name ? pp_profile_str(ws->p, th->name) : 0, ws->cmdline};
		uint32_t row = pt.name == UINT32_MAX ? UINT32_MAX : pp_profile_thread(ws->p, &pt);
		if (row == UINT32_MAX)
			return -1;
		struct pp_psample ps = {t, row, stack, gil_of(th->gil), os_of(th->os.run)};
		if (ring_push(ws, &ps) != 0)
			return -1;
	}
	if (pp_loop_classify(&ws->classes, ws->p) != 0)
		return -1;
	for (size_t i = 0; i < s->nthreads; i++)
		if (ws->obs[i].stack < ws->classes.n)
			ws->obs[i].loop = (enum pp_loop_state)ws->classes.state[ws->obs[i].stack];
	*obs = ws->obs;
	*n = s->nthreads;
	return 0;
}

int pp_watch_samples_leaf(const struct pp_watch_samples *ws, uint32_t stack,
			  const char **function, const char **file, int *line)
{
	size_t ns, nf;
	const struct pp_pstack *st = pp_profile_stacks(ws->p, &ns);
	const struct pp_pframe *fr = pp_profile_frames(ws->p, &nf);
	for (pp_stack_id id = stack; id != PP_EMPTY_STACK && id < ns; id = st[id].parent) {
		if (st[id].frame >= nf || fr[st[id].frame].kind != PP_FRAME_PYTHON)
			continue;
		const struct pp_pframe *f = &fr[st[id].frame];
		*function = pp_profile_string(ws->p, f->function);
		*file = pp_profile_string(ws->p, f->file);
		*line = f->line;
		return 0;
	}
	return -1;
}

const char *pp_watch_samples_task(const struct pp_watch_samples *ws, uint32_t stack)
{
	if (stack >= ws->classes.n || ws->classes.state[stack] != PP_LOOP_BUSY ||
	    !ws->classes.task_depth[stack])
		return NULL;
	return pp_loop_function_at(ws->p, stack, ws->classes.task_depth[stack]);
}

const char *pp_watch_samples_thread_name(const struct pp_watch_samples *ws, uint64_t tid)
{
	size_t n;
	const struct pp_pthread *t = pp_profile_threads(ws->p, &n);
	const char *name = NULL;
	for (size_t i = 0; i < n; i++) /* the latest row of the thread */
		if (t[i].native_id == tid && t[i].name)
			name = pp_profile_string(ws->p, t[i].name);
	return name;
}

/* The stack `id` of ws's profile, in `to` (memo: ids already copied). */
static pp_stack_id copy_stack(const struct pp_profile *from, struct pp_profile *to,
			      pp_stack_id id, pp_stack_id *memo, size_t ns)
{
	size_t n, nf;
	const struct pp_pstack *st = pp_profile_stacks(from, &n);
	const struct pp_pframe *fr = pp_profile_frames(from, &nf);
	if (id == PP_EMPTY_STACK || id >= ns || id >= n || nf == 0)
		return PP_EMPTY_STACK;
	if (memo[id] != UINT32_MAX)
		return memo[id];
	/* root first, without recursion: collect the path, then intern it */
	size_t depth = 0;
	for (pp_stack_id s = id; s != PP_EMPTY_STACK && s < ns && memo[s] == UINT32_MAX;
	     s = st[s].parent)
		depth++;
	pp_stack_id *path = malloc((depth ? depth : 1) * sizeof(*path));
	if (!path)
		return UINT32_MAX;
	size_t k = 0;
	pp_stack_id s = id;
	for (; s != PP_EMPTY_STACK && s < ns && memo[s] == UINT32_MAX; s = st[s].parent)
		path[k++] = s;
	pp_stack_id parent = (s != PP_EMPTY_STACK && s < ns) ? memo[s] : PP_EMPTY_STACK;
	while (k-- > 0) {
		const struct pp_pframe *f = &fr[st[path[k]].frame < nf ? st[path[k]].frame : 0];
		struct pp_pframe nfr = {pp_profile_str(to, pp_profile_string(from, f->function)),
					pp_profile_str(to, pp_profile_string(from, f->name)),
					pp_profile_str(to, pp_profile_string(from, f->file)),
					f->line, f->firstlineno, f->kind};
		pp_frame_id fid = (nfr.function == UINT32_MAX || nfr.name == UINT32_MAX ||
				   nfr.file == UINT32_MAX) ? UINT32_MAX : pp_profile_frame(to, &nfr);
		parent = fid == UINT32_MAX ? UINT32_MAX : pp_profile_stack(to, parent, fid);
		if (parent == UINT32_MAX)
			break;
		memo[path[k]] = parent;
	}
	free(path);
	return parent;
}

struct pp_profile *pp_watch_samples_recent(const struct pp_watch_samples *ws, double *seconds)
{
	*seconds = 0;
	struct pp_profile *to = pp_profile_new();
	size_t ns, nt;
	pp_profile_stacks(ws->p, &ns);
	const struct pp_pthread *threads = pp_profile_threads(ws->p, &nt);
	pp_stack_id *memo = malloc((ns ? ns : 1) * sizeof(*memo));
	uint32_t *rows = malloc((nt ? nt : 1) * sizeof(*rows));
	if (!to || !memo || !rows)
		goto fail;
	memset(memo, 0xff, (ns ? ns : 1) * sizeof(*memo));
	memset(rows, 0xff, (nt ? nt : 1) * sizeof(*rows));
	uint64_t first = 0, last = 0;
	for (size_t i = 0; i < ws->len; i++) {
		struct pp_psample s = ws->ring[(ws->head + i) % ws->cap];
		if (s.thread >= nt)
			continue;
		if (i == 0)
			first = s.time_ns;
		last = s.time_ns;
		if (rows[s.thread] == UINT32_MAX) {
			const struct pp_pthread *t = &threads[s.thread];
			struct pp_pthread nt2 = {t->pid, t->native_id,
						 t->name ? pp_profile_str(to, pp_profile_string(ws->p, t->name)) : 0,
						 pp_profile_str(to, pp_profile_string(ws->p, t->cmdline))};
			if (nt2.name == UINT32_MAX || nt2.cmdline == UINT32_MAX ||
			    (rows[s.thread] = pp_profile_thread(to, &nt2)) == UINT32_MAX)
				goto fail;
		}
		s.thread = rows[s.thread];
		s.time_ns -= first;
		s.stack = copy_stack(ws->p, to, s.stack, memo, ns);
		if (s.stack == UINT32_MAX || pp_profile_add_sample(to, &s) != 0)
			goto fail;
	}
	struct pp_profile_meta *m = pp_profile_meta(to);
	m->pid = ws->pid;
	m->rate_hz = ws->rate_hz;
	m->duration_ns = last - first + (ws->rate_hz ? 1000000000ull / ws->rate_hz : 0);
	pp_str_id cmd = pp_profile_str(to, pp_profile_string(ws->p, ws->cmdline));
	m->cmdline = cmd == UINT32_MAX ? 0 : cmd;
	m->finished = 1;
	*seconds = (double)m->duration_ns / 1e9;
	free(memo);
	free(rows);
	return to;
fail:
	pp_profile_free(to);
	free(memo);
	free(rows);
	return NULL;
}
