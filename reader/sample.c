/* One sample of a target: the phases snapshot.h names, in that order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pause.h"
#include "procfs.h"
#include "readahead.h"
#include "target_internal.h"
#include "verify.h"

enum pp_err pp_sample_mem_error(struct pp_target *t, int rc, struct pp_error *err)
{
	if (t->core)
		return pp_core_mem_error(t, rc, "memory", err);
	/* Attaching read this process already, so a refusal now is far more
	 * likely the process exiting than rights that changed. */
	if ((rc == -EPERM || rc == -EACCES) && !pp_proc_task_exiting(t->info.pid, t->info.pid))
		return pp_permission_error(err, t->info.pid);
	return pp_set_error(err, PP_ERR_GONE,
		"process %d exited while pyprobe was reading it", t->info.pid);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- walks ------------------------------------------------------------------ */

/* What moves when a thread runs Python: its frame pointer and data-stack
 * top (3.11+), as read in its thread state. */
static void frame_pointers(const struct pp_target *t, const struct snapshot *s,
			   const struct tstate_rec *r, uint64_t fp[2])
{
	const struct py_layout *l = &t->layout;
	const uint8_t *b = s->tsbytes + r->bytes_off;
	fp[0] = pp_get_u64(b, l->ts_size, l->ts_frame);
	fp[1] = l->ts_datastack_top != PP_ABSENT ? pp_get_u64(b, l->ts_size, l->ts_datastack_top)
						 : 0;
}

/* A thread that has not run since the last sample: its stack from then. */
static bool take_over(struct pp_target *t, struct snapshot *s, struct tstate_rec *r)
{
	uint64_t fp[2];
	frame_pointers(t, s, r, fp);
	const struct pp_quiet_stack *qs = pp_quiet_take(t->quiet, r->addr, r->thread_id, fp);
	if (!qs)
		return false;
	size_t start = t->frames.n;
	for (size_t i = 0; i < qs->nframes; i++)
		if (pp_frame_vec_push(&t->frames, &qs->frames[i]) != 0) {
			t->frames.n = start;
			return false;
		}
	r->frame_start = start;
	r->nframes = qs->nframes;
	r->taken_over = true;
	r->quiet_os = qs->os;
	return true;
}

static void walk_threads(struct pp_target *t, struct snapshot *s)
{
	const struct py_layout *l = &t->layout;
	t->frames.n = 0;
	for (size_t i = 0; i < s->nts; i++) {
		struct tstate_rec *r = &s->ts[i];
		r->taken_over = false;
		r->walk = -1;
		if (t->quiet_sample && take_over(t, s, r))
			continue;
		struct pp_resume resume;
		bool known = pp_resume_of(t->resume, r->addr, &resume);
		r->walk = pp_walk_thread(&t->walker, r->addr, s->tsbytes + r->bytes_off, l->ts_size,
					 known ? &resume : NULL, &t->frames);
	}
}

/* Judge every walk: from the read-ahead's twins where it has them, else
 * in one re-read, which also carries the code cache's checks. Returns how
 * many code objects were stale (then the sample is read again), or -1. */
static int verify_walks(struct pp_target *t, struct snapshot *s)
{
	struct pp_walker *w = &t->walker;
	size_t *idx = malloc((w->nwalks ? w->nwalks : 1) * sizeof(*idx)), n = 0;
	if (!idx)
		return -1;
	for (size_t i = 0; i < s->nts; i++) {
		long k = s->ts[i].walk;
		if (k >= 0 && !pp_verify_twinned(w, &w->walks[k]))
			idx[n++] = (size_t)k;
	}
	const struct pp_iov *civ;
	size_t nciv = pp_code_cache_check_reads(t->codes, &civ);
	int rc = 0;
	if (n || nciv)
		rc = pp_verify_read(w, idx, n, civ, nciv);
	free(idx);
	return pp_code_cache_check_judge(t->codes, &t->mem, rc);
}

/* How good a walk is to show: whole beats cut short, which beats nothing;
 * among cut ones, more frames held still. */
static size_t walk_score(const struct pp_walker *w, const struct pp_walk *wk)
{
	if (!pp_walk_shown(wk))
		return 0;
	size_t from = wk->verified_from < wk->depth
		? w->chain[wk->chain_off + wk->verified_from].out_at : 0;
	return from == 0 ? SIZE_MAX : 1 + (wk->nout - from);
}

/* A running thread's walk that stopped at something it could not read, and
 * held still: a broken stack - or a walk that started from a frame gone
 * since, into memory nothing writes any more. Read again, a broken stack
 * stops at the same place. */
static bool to_confirm(const struct pp_walk *wk)
{
	return pp_walk_shown(wk) && wk->end != PP_END_BOTTOM && wk->end != PP_END_TOO_DEEP;
}

static bool same_stop(const struct pp_walk *a, const struct pp_walk *b)
{
	return pp_walk_shown(b) && a->end == b->end && a->end_addr == b->end_addr &&
	       a->depth == b->depth;
}

/* Threads of which nothing held still are read again, a few times: it
 * was only that moment (a thread starting, a generator yielding between
 * two reads). With PP_SAMPLE_WHOLE (a dump), also stacks cut short: a dump
 * shows a whole stack when one holds still long enough. A stack that stops
 * at something unreadable is read again once to confirm it (to_confirm);
 * one never confirmed is not shown. */
#define RETRIES 2
#define RETRIES_WHOLE 20

static void retry_walks(struct pp_target *t, struct snapshot *s, unsigned flags, unsigned *retries)
{
	const struct py_layout *l = &t->layout;
	struct pp_walker *w = &t->walker;
	bool whole = flags & PP_SAMPLE_WHOLE;
	/* the target as it is now, not as the read-ahead saw it */
	pp_walker_forget_windows(w);
	for (size_t i = 0; i < s->nts; i++) {
		struct tstate_rec *r = &s->ts[i];
		bool confirmed = false;
		for (int k = 0; r->walk >= 0 && k < (whole ? RETRIES_WHOLE : RETRIES); k++) {
			struct pp_walk *cur = &w->walks[r->walk];
			bool confirm = to_confirm(cur);
			size_t score = walk_score(w, cur);
			if (!confirm && (score == SIZE_MAX || (score && !whole)))
				break;
			uint8_t *tsb = s->tsbytes + r->bytes_off;
			if (pp_mem_read(&t->mem, r->addr, tsb, l->ts_size) != 0)
				break; /* the thread is exiting */
			(*retries)++;
			struct pp_resume resume;
			bool known = pp_resume_of(t->resume, r->addr, &resume);
			long again = pp_walk_thread(w, r->addr, tsb, l->ts_size, known ? &resume : NULL,
						    &t->frames);
			if (again < 0)
				break;
			size_t one = (size_t)again;
			pp_verify_read(w, &one, 1, NULL, 0);
			cur = &w->walks[r->walk]; /* (the walks may have moved) */
			if (confirm) {
				confirmed = same_stop(cur, &w->walks[again]);
				r->walk = again; /* the later read, confirmed or to judge */
				if (confirmed)
					break;
			} else if (walk_score(w, &w->walks[again]) >= score) {
				r->walk = again;
			}
		}
		if (r->walk >= 0 && !confirmed && to_confirm(&w->walks[r->walk]))
			w->walks[r->walk].verified_from = w->walks[r->walk].depth + 1;
	}
}

/* ---- reading ---------------------------------------------------------------- */

/* Structure, walks and verification. Returns PP_OK with the number of
 * stale code objects in *stale (>0, or -1 if unknown: the snapshot must be
 * read again). */
static enum pp_err read_pass(struct pp_target *t, struct snapshot *s, unsigned flags,
			     bool ahead, unsigned *retries, int *stale, struct pp_error *err)
{
	struct pp_walker *w = &t->walker;
	const struct pp_window *win = NULL;
	size_t nwin = 0;
	pp_code_cache_new_epoch(t->codes);
	bool read_ahead = ahead && pp_readahead_read(t->ahead, t, s, &win, &nwin) == 0;
	if (!read_ahead) {
		win = NULL;
		nwin = 0;
		enum pp_err e = pp_read_interpreters(t, s, err);
		if (!e)
			e = pp_read_tstates(t, s, err);
		if (e)
			return e;
	}
	pp_walker_begin_sample(w, win, nwin);
	walk_threads(t, s);
	if (w->paused) {
		for (size_t i = 0; i < w->nwalks; i++)
			pp_verify_paused(w, &w->walks[i]);
		*stale = pp_code_cache_validate(t->codes, &t->mem);
		return PP_OK;
	}
	*stale = read_ahead ? pp_readahead_judge_codes(t->ahead, t->codes) : 0;
	if (*stale == 0)
		*stale = verify_walks(t, s);
	if (*stale == 0) {
		retry_walks(t, s, flags, retries);
		*stale = pp_code_cache_validate(t->codes, &t->mem);
	}
	return PP_OK;
}

/* ---- learning ------------------------------------------------------------------- */

/* Remember what this sample read of each thread, for quiet.h: a thread's
 * stack can be taken over only when it was read whole. */
static void learn_quiet(struct pp_target *t, struct snapshot *s)
{
	if (s->nts > t->quiet_seen_cap) {
		struct pp_quiet_thread_seen *n = realloc(t->quiet_seen, s->nts * sizeof(*n));
		if (!n) {
			pp_quiet_learn(&t->quiet, NULL, 0); /* forget: read all next time */
			return;
		}
		t->quiet_seen = n;
		t->quiet_seen_cap = s->nts;
	}
	const struct pp_walker *w = &t->walker;
	struct pp_quiet_thread_seen *seen = t->quiet_seen;
	for (size_t i = 0; i < s->nts; i++) {
		const struct tstate_rec *r = &s->ts[i];
		const struct pp_walk *wk = r->walk >= 0 ? &w->walks[r->walk] : NULL;
		bool whole = wk && wk->end == PP_END_BOTTOM && walk_score(w, wk) == SIZE_MAX;
		struct pp_quiet_thread_seen *q = &seen[i];
		*q = (struct pp_quiet_thread_seen){
			.ts_addr = r->addr,
			.thread_id = r->thread_id,
			.tid = r->native_id,
			.taken_over = r->taken_over,
			.walked_ok = whole,
			.frames = whole && t->frames.v ? t->frames.v + wk->out_start : NULL,
			.nframes = whole ? wk->nout : 0,
			.os = pp_task_state_of(s, r->native_id),
		};
		frame_pointers(t, s, r, q->fp);
	}
	pp_quiet_learn(&t->quiet, seen, s->nts);
}

/* ---- the sample ----------------------------------------------------------------- */

enum pp_err pp_target_sample(struct pp_target *t, unsigned flags, struct pp_sample *out,
			     struct pp_error *err)
{
	if (!t->snap && !(t->snap = calloc(1, sizeof(*t->snap))))
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	struct snapshot *s = t->snap;
	struct pp_pause pause = {0};
	/* In a core every thread is stopped already, and stays so. */
	bool core = t->core != NULL;
	bool paused = core || (flags & PP_SAMPLE_PAUSE), os_state = flags & PP_SAMPLE_OS_STATE;
	enum pp_err e = PP_OK;
	unsigned retries = 0;
	int rc;

	s->ninterps = s->nts = s->nos = 0;
	out->nthreads = 0;
	out->retries = 0;
	/* Task states, when pausing: the kernel's view first, or every
	 * thread would read as "stopped" by us. */
	if (os_state && paused) {
		rc = core ? pp_read_core_task_states(t, s) : pp_read_task_states(t, s);
		if (rc)
			return pp_sample_mem_error(t, rc, err);
	}
	if (paused && !core) {
		rc = pp_pause_all(t->info.pid, &pause);
		if (rc == -EPERM && pp_tracer_error(t->info.pid, err))
			return PP_ERR_PERM;
		if (rc)
			return pp_sample_mem_error(t, rc, err);
		if (os_state)
			pp_merge_paused_task_states(t, s);
	}
	t->walker.paused = paused;
	out->time_ns = now_ns();
	/* Quiet threads: their run counts are read first, before anything
	 * the sample reads of them (quiet.h). */
	/* (not with locals: a stack taken over has none) */
	t->quiet_sample = os_state && (flags & PP_SAMPLE_OS_FAST) && !paused &&
			  !(flags & PP_SAMPLE_LOCALS);
	if (t->quiet_sample)
		pp_quiet_begin(t->quiet, t->os);
	/* Structure, walks, verification. A cached code object that turned
	 * out stale (freed, its address reused) means frames may name the
	 * wrong code: read it all again, the slow way, with fresh entries. */
	enum { STALE_PASSES = 3 };
	bool ahead = true;
	for (int pass = 0; pass < STALE_PASSES; pass++) {
		int stale = 0;
		e = read_pass(t, s, flags, ahead, &retries, &stale, err);
		if (e || stale == 0)
			break;
		ahead = false;
	}
	if (!e && (flags & PP_SAMPLE_LOCALS))
		pp_read_locals(t, s);
	if (!e) {
		bool listing = t->layout.ts_native_thread_id == PP_ABSENT && t->tid_offset < 0;
		/* Inferring where glibc keeps the tid checks candidates against
		 * the process's task list; otherwise only Python's threads are
		 * looked at, after their ids are known. */
		if (os_state && !paused && listing && pp_read_task_states(t, s) != 0)
			s->nos = 0;
		pp_fill_native_ids(t, s);
		if (os_state && !paused && !listing)
			pp_read_thread_task_states(t, s, flags & PP_SAMPLE_OS_FAST);
		pp_refresh_names(t, s, flags & PP_SAMPLE_NAMES);
		if (t->quiet_sample)
			learn_quiet(t, s);
		pp_readahead_learn(&t->ahead, t, s);
		pp_resume_learn(&t->resume, t, s);
	}
	/* A failed sample read run counts but no stacks: what quiet.c knew
	 * no longer lines up with them. Forget it; every thread is read next
	 * time. */
	if (e && t->quiet_sample)
		pp_quiet_learn(&t->quiet, NULL, 0);
	/* (a core's threads: those it saved the registers of) */
	size_t nstopped = core ? pp_core_nthreads(t->core) : pause.n;
	if (paused && !e && t->paused_hook && nstopped) {
		int *tids = malloc(nstopped * sizeof(*tids));
		if (tids) {
			for (size_t i = 0; i < nstopped; i++)
				tids[i] = core ? pp_core_thread(t->core, i)->tid : pause.tasks[i].tid;
			t->paused_hook(t->paused_hook_ctx, tids, nstopped);
			free(tids);
		}
	}
	if (paused && !core)
		pp_resume_all(&pause);
	t->walker.paused = false;
	if (!e)
		e = pp_assemble(t, s, flags, out, err);
	out->retries = retries;
	return e;
}

void pp_target_set_paused_hook(struct pp_target *t, pp_paused_hook fn, void *ctx)
{
	t->paused_hook = fn;
	t->paused_hook_ctx = ctx;
}

void pp_sample_free(struct pp_sample *s)
{
	free(s->threads);
	free(s->frame_pool);
	memset(s, 0, sizeof(*s));
}
