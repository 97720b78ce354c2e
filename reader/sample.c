/* One snapshot of a target: every interpreter, every thread state, its
 * frames, its GIL and OS state; thread states of one OS thread in several
 * interpreters joined into one thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pause.h"
#include "procfs.h"
#include "readahead.h"
#include "target_internal.h"

#define RETRIES_WHEN_TORN 20

int pp_snapshot_reserve_bytes(struct snapshot *s, size_t n, size_t ts_size)
{
	size_t need = (n ? n : 1) * ts_size;
	if (need <= s->tsbytes_cap)
		return 0;
	size_t ncap = s->tsbytes_cap ? s->tsbytes_cap : 4096;
	while (ncap < need)
		ncap *= 2;
	uint8_t *nb = realloc(s->tsbytes, ncap);
	if (!nb)
		return -1;
	s->tsbytes = nb;
	s->tsbytes_cap = ncap;
	return 0;
}

void pp_snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	free(s->ts);
	free(s->tsbytes);
	free(s->os);
	free(s);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static enum pp_err mem_error(struct pp_target *t, int rc, struct pp_error *err)
{
	/* Attaching read this process already, so a refusal now is far more
	 * likely the process exiting than rights that changed. */
	if ((rc == -EPERM || rc == -EACCES) && !pp_proc_task_exiting(t->info.pid, t->info.pid))
		return pp_permission_error(err, t->info.pid);
	return pp_set_error(err, PP_ERR_GONE,
		"process %d exited while pyprobe was reading it", t->info.pid);
}

/* ---- OS state ---------------------------------------------------------- */

static int reserve_os(struct snapshot *s, size_t n)
{
	if (n <= s->oscap)
		return 0;
	struct os_rec *o = realloc(s->os, n * sizeof(*o));
	if (!o)
		return -ENOMEM;
	s->os = o;
	s->oscap = n;
	return 0;
}

/* Every task of the process (listing /proc/PID/task). */
static int read_os_states(struct pp_target *t, struct snapshot *s)
{
	int *tids = NULL;
	size_t n = 0;
	int rc = pp_os_list_tasks(t->info.pid, &tids, &n);
	if (rc)
		return rc;
	if (reserve_os(s, n ? n : 1) != 0) {
		free(tids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		s->os[i].tid = tids[i];
		pp_os_reader_read(t->os, tids[i], &s->os[i].st);
	}
	s->nos = n;
	free(tids);
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	int x = ((const struct os_rec *)a)->tid, y = ((const struct os_rec *)b)->tid;
	return (x > y) - (x < y);
}

/* Only the tasks that run Python: no listing, a pread or two each. */
static void read_os_states_of_threads(struct pp_target *t, struct snapshot *s, bool fast)
{
	s->nos = 0;
	if (reserve_os(s, s->nts ? s->nts : 1) != 0)
		return;
	/* one OS thread can have thread states in several interpreters */
	bool several = s->ninterps > 1;
	for (size_t i = 0; i < s->nts; i++) {
		int tid = (int)s->ts[i].native_id;
		bool seen = tid <= 0;
		for (size_t k = 0; several && !seen && k < s->nos; k++)
			seen = s->os[k].tid == tid;
		if (seen)
			continue; /* one OS thread in several interpreters */
		s->os[s->nos].tid = tid;
		if (s->ts[i].taken_over) { /* it has not run: it is as it was */
			s->os[s->nos++].st = s->ts[i].quiet_os;
			continue;
		}
		/* The GIL's holder is running Python (or blocking everyone
		 * else): its state decides nothing the sampler keeps, so the
		 * fast path does not read it. */
		if (fast && s->interps[s->ts[i].interp].gil_holder == s->ts[i].addr) {
			s->os[s->nos].st = (struct pp_os_state){.run = PP_OS_RUNNING};
		} else if (fast)
			pp_os_reader_read_fast(t->os, tid, &s->os[s->nos].st);
		else
			pp_os_reader_read(t->os, tid, &s->os[s->nos].st);
		s->nos++;
	}
	qsort(s->os, s->nos, sizeof(*s->os), by_tid); /* for os_of */
}

/* While paused, every thread reads as stopped ('t'), but its syscall file
 * still says what it was blocked in - at the same moment as the GIL read.
 * Take the syscall from the paused read; from the earlier read keep only
 * what a stop hides: disk wait versus sleep, and zombies. */
static void merge_paused_os_states(struct pp_target *t, struct snapshot *s)
{
	for (size_t i = 0; i < s->nos; i++) {
		struct pp_os_state now, *before = &s->os[i].st;
		if (pp_os_reader_read(t->os, s->os[i].tid, &now) != 0 || now.in_syscall < 0)
			continue;
		enum pp_os_run run = before->run;
		if (run != PP_OS_ZOMBIE && run != PP_OS_UNKNOWN) {
			if (now.in_syscall == 1)
				run = run == PP_OS_DISK ? PP_OS_DISK : PP_OS_SLEEPING;
			else
				run = PP_OS_RUNNING;
		}
		*before = now;
		before->run = run;
	}
}

/* s->os is sorted by tid: a listing comes sorted, the threads' own
 * states are sorted once read. */
static const struct pp_os_state *os_of(const struct snapshot *s, uint64_t tid)
{
	if (!s->nos || tid > INT32_MAX)
		return NULL;
	struct os_rec key = {.tid = (int)tid};
	const struct os_rec *r = bsearch(&key, s->os, s->nos, sizeof(key), by_tid);
	return r ? &r->st : NULL;
}

/* ---- interpreters ------------------------------------------------------- */

static enum pp_err read_interpreters(struct pp_target *t, struct snapshot *s,
				     struct pp_error *err)
{
	const struct py_layout *l = &t->layout;
	uint64_t interp = 0;
	int rc = pp_mem_read_u64(&t->mem, t->runtime + l->rt_interpreters_head, &interp);
	if (rc)
		return mem_error(t, rc, err);
	s->ninterps = 0;
	while (interp && s->ninterps < PP_MAX_INTERPRETERS) {
		struct interp_rec *ir = &s->interps[s->ninterps];
		uint64_t next = 0, gilp = 0;
		struct pp_iov iov[4] = {
			{interp + l->is_next, &next, 8},
			{interp + l->is_id, &ir->id, 8},
			{interp + l->is_modules, &ir->modules, 8},
			{l->is_ceval_gil != PP_ABSENT ? interp + l->is_ceval_gil : 0, &gilp, 8},
		};
		rc = pp_mem_readv(&t->mem, iov, l->is_ceval_gil != PP_ABSENT ? 4 : 3);
		if (rc)
			return mem_error(t, rc, err);
		ir->addr = interp;
		/* One GIL for the whole runtime up to 3.11; per interpreter
		 * (a pointer, possibly to the main one's) from 3.12. */
		ir->gil = l->rt_gil != PP_ABSENT ? t->runtime + l->rt_gil : gilp;
		ir->gil_holder = 0;
		int32_t locked = 0;
		uint64_t holder = 0;
		struct pp_iov giov[2] = {
			{ir->gil + l->gil_locked, &locked, 4},
			{ir->gil + l->gil_last_holder, &holder, 8},
		};
		/* last_holder is stale once released: only `locked` says. */
		if (ir->gil && pp_mem_readv(&t->mem, giov, 2) == 0 && locked == 1)
			ir->gil_holder = holder;
		s->ninterps++;
		interp = next;
		for (size_t i = 0; i < s->ninterps; i++)
			if (s->interps[i].addr == interp)
				interp = 0; /* a cycle: corrupt or torn list */
	}
	return PP_OK;
}

/* ---- thread ids across PID namespaces ---------------------------------- */

static void refresh_tidmap(struct pp_target *t)
{
	int *tids = NULL;
	size_t n = 0;
	t->ntidmap = 0;
	if (pp_os_list_tasks(t->info.pid, &tids, &n) != 0)
		return;
	struct pp_tid_pair *m = realloc(t->tidmap, (n ? n : 1) * sizeof(*m));
	if (m) {
		t->tidmap = m;
		for (size_t i = 0; i < n; i++) {
			long ns = pp_proc_ns_tid(t->info.pid, tids[i]);
			if (ns > 0)
				m[t->ntidmap++] = (struct pp_tid_pair){tids[i], (int)ns};
		}
	}
	free(tids);
}

/* Our id for the thread the target calls `ns` (0 if unknown). Threads come
 * and go, so a miss re-reads the map, once per sample. */
static uint64_t host_tid(struct pp_target *t, uint64_t ns, int *refreshed)
{
	if (t->ns_pid == t->info.pid || !ns)
		return ns;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < t->ntidmap; i++)
			if ((uint64_t)t->tidmap[i].ns == ns)
				return (uint64_t)t->tidmap[i].host;
		if (*refreshed)
			break;
		refresh_tidmap(t);
		*refreshed = 1;
	}
	return 0;
}

/* ---- native thread ids on 3.8-3.10 ------------------------------------- */

/* There is no native_thread_id before 3.11. thread_id is pthread_self(),
 * the address of glibc's struct pthread, which holds the kernel tid at an
 * offset that depends on the glibc build (0x2d0 for glibc 2.36 on x86_64).
 * Find it: an offset where the main thread's struct holds its tid (as the
 * target sees it: 1 in a container, where 1 also turns up in many other
 * fields) and every other thread's struct holds a distinct tid of the
 * process. With a single thread nothing can be cross-checked, so the
 * answer is used but not remembered (unless it is glibc's known offset). */
enum { GLIBC_2_36_TID_OFFSET = 0x2d0 };

static int offset_fits(struct pp_target *t, const struct snapshot *s,
		       uint64_t main_pt, int off, int *checked)
{
	/* One OS thread can have thread states in several interpreters:
	 * they share its pthread_t. Distinct pthreads need distinct tids. */
	uint64_t seen_pt[64];
	uint32_t seen_tid[64];
	size_t nseen = 0;
	int refreshed = 0;
	*checked = 0;
	for (size_t i = 0; i < s->nts; i++) {
		uint64_t pt = s->ts[i].thread_id;
		uint32_t tid = 0;
		if (pt == main_pt || !pt)
			continue;
		if (pp_mem_read_u32(&t->mem, pt + (uint64_t)off, &tid) != 0 ||
		    tid == 0 || (long)tid == t->ns_pid)
			return 0;
		uint64_t host = host_tid(t, tid, &refreshed);
		if (s->nos && !os_of(s, host))
			return 0;
		int dup = 0;
		for (size_t j = 0; j < nseen; j++) {
			if (seen_pt[j] == pt)
				dup = 1;
			else if (seen_tid[j] == tid)
				return 0;
		}
		if (!dup && nseen < 64) {
			seen_pt[nseen] = pt;
			seen_tid[nseen++] = tid;
		}
		(*checked)++;
	}
	return 1;
}

static int infer_tid_offset(struct pp_target *t, const struct snapshot *s, int *certain)
{
	enum { SPAN = 4096 };
	uint64_t main_pt = 0;
	*certain = 0;
	if (pp_mem_read_u64(&t->mem, t->runtime + t->layout.rt_main_thread, &main_pt) != 0)
		return -1;
	uint8_t *buf = malloc(SPAN);
	if (!buf || pp_mem_read(&t->mem, main_pt, buf, SPAN) != 0) {
		free(buf);
		return -1;
	}
	int best = -1, checked = 0;
	for (int pass = 0; pass < 2 && best < 0; pass++) {
		for (int off = 0; off + 4 <= SPAN && best < 0; off += 4) {
			if ((pass == 0) != (off == GLIBC_2_36_TID_OFFSET))
				continue; /* the known offset first, then the rest */
			int32_t v;
			memcpy(&v, buf + off, 4);
			if (v == t->ns_pid && offset_fits(t, s, main_pt, off, &checked))
				best = off;
		}
	}
	free(buf);
	*certain = best >= 0 && (checked > 0 || best == GLIBC_2_36_TID_OFFSET);
	return best;
}

/* Kernel thread ids, in our PID namespace. */
static void fill_native_ids(struct pp_target *t, struct snapshot *s)
{
	if (t->layout.ts_native_thread_id == PP_ABSENT) {
		int off = t->tid_offset, certain = 1;
		if (off < 0)
			off = infer_tid_offset(t, s, &certain);
		if (certain)
			t->tid_offset = off;
		for (size_t i = 0; i < s->nts; i++) {
			uint32_t tid = 0;
			if (s->ts[i].native_known)
				continue; /* read ahead */
			if (off >= 0 && s->ts[i].thread_id &&
			    pp_mem_read_u32(&t->mem, s->ts[i].thread_id + (uint64_t)off, &tid) == 0)
				s->ts[i].native_id = tid;
		}
	}
	int refreshed = 0;
	for (size_t i = 0; i < s->nts; i++)
		s->ts[i].native_id = host_tid(t, s->ts[i].native_id, &refreshed);
}

/* ---- thread states and frames ------------------------------------------ */

int pp_snapshot_push_ts(struct snapshot *s, const struct tstate_rec *r)
{
	if (s->nts == s->tscap) {
		size_t ncap = s->tscap ? s->tscap * 2 : 32;
		struct tstate_rec *n = realloc(s->ts, ncap * sizeof(*n));
		if (!n)
			return -1;
		s->ts = n;
		s->tscap = ncap;
	}
	s->ts[s->nts++] = *r;
	return 0;
}

/* Follow every interpreter's thread-state list, reading each state. */
static enum pp_err read_tstates(struct pp_target *t, struct snapshot *s,
				struct pp_error *err)
{
	const struct py_layout *l = &t->layout;
	s->nts = 0;
	for (size_t ii = 0; ii < s->ninterps; ii++) {
		uint64_t ts = 0;
		if (pp_mem_read_u64(&t->mem, s->interps[ii].addr + l->is_threads_head, &ts) != 0)
			continue;
		size_t first = s->nts, count = 0;
		while (ts && s->nts < PP_MAX_TSTATES) {
			if (pp_snapshot_reserve_bytes(s, s->nts + 1, l->ts_size) != 0)
				return pp_set_error(err, PP_ERR_IO, "out of memory");
			uint8_t *tsb = s->tsbytes + s->nts * l->ts_size;
			if (pp_mem_read(&t->mem, ts, tsb, l->ts_size) != 0)
				break; /* torn list: a thread state just freed */
			struct tstate_rec r = {
				.addr = ts,
				.interp = ii,
				.bytes_off = s->nts * l->ts_size,
				.thread_id = pp_get_u64(tsb, l->ts_size, l->ts_thread_id),
				.native_id = l->ts_native_thread_id != PP_ABSENT
					? pp_get_u64(tsb, l->ts_size, l->ts_native_thread_id) : 0,
				.check = -1,
			};
			if (pp_snapshot_push_ts(s, &r) != 0)
				return pp_set_error(err, PP_ERR_IO, "out of memory");
			count++;
			ts = pp_get_u64(tsb, l->ts_size, l->ts_next);
			/* A list that loops back (torn or corrupt) ends here. */
			for (size_t i = first; ts && i < s->nts; i++)
				if (s->ts[i].addr == ts)
					ts = 0;
		}
		/* The list is newest first; number them oldest first. */
		for (size_t i = 0; i < count; i++)
			s->ts[first + i].order = count - 1 - i;
	}
	return PP_OK;
}

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
		if (pp_frame_vec_push(&t->frames, qs->frames[i].code, qs->frames[i].line) != 0) {
			t->frames.n = start;
			return false;
		}
	r->frame_start = start;
	r->nframes = qs->nframes;
	r->status = PP_WALK_OK;
	r->check = -1;
	r->chain_off = r->depth = 0;
	r->cbase = r->cend = 0;
	r->taken_over = true;
	r->quiet_os = qs->os;
	return true;
}

static void walk_one(struct pp_target *t, struct snapshot *s, struct tstate_rec *r,
		     unsigned flags, unsigned *retries)
{
	const struct py_layout *l = &t->layout;
	struct pp_walker *w = &t->walker;
	uint8_t again[1024];
	r->taken_over = false;
	if (t->quiet_sample && take_over(t, s, r))
		return;
	r->frame_start = t->frames.n;
	r->status = pp_walk_thread(w, r->addr, s->tsbytes + r->bytes_off, l->ts_size, &t->frames);
	for (int i = 0; r->status == PP_WALK_TORN && (flags & PP_SAMPLE_RETRY_TORN) &&
			i < RETRIES_WHEN_TORN && l->ts_size <= sizeof(again); i++) {
		(*retries)++;
		if (pp_mem_read(&t->mem, r->addr, again, l->ts_size) != 0) {
			r->status = PP_WALK_ERROR; /* the thread is exiting */
			break;
		}
		r->status = pp_walk_thread(w, r->addr, again, l->ts_size, &t->frames);
	}
	r->nframes = t->frames.n - r->frame_start;
	r->check = -1;
	r->chain_off = r->depth = 0;
	r->cbase = r->cend = 0;
	if (r->status == PP_WALK_OK) {
		r->check = w->last_check;
		r->chain_off = w->last_chain_off;
		r->depth = w->last_depth;
		r->cbase = w->last_cbase;
		r->cend = w->last_cend;
	}
}

static void walk_threads(struct pp_target *t, struct snapshot *s, unsigned flags,
			 unsigned *retries)
{
	t->frames.n = 0;
	for (size_t i = 0; i < s->nts; i++)
		walk_one(t, s, &s->ts[i], flags, retries);
}

/* Verify every deferred walk and the code objects the snapshot used, in
 * one read. Returns what pp_code_cache_validate returns. */
static int verify_walks(struct pp_target *t, struct snapshot *s)
{
	struct pp_walker *w = &t->walker;
	const struct pp_iov *civ;
	size_t nciv = pp_code_cache_check_reads(t->codes, &civ);
	bool okbuf[64], *ok = w->nchecks <= 64 ? okbuf : malloc(w->nchecks);
	int rc = ok ? pp_walker_verify(w, civ, nciv, ok) : -1;
	for (size_t i = 0; i < s->nts; i++) {
		struct tstate_rec *r = &s->ts[i];
		if (r->check < 0)
			continue;
		/* If the joint read failed (a frame unmapped), judge alone. */
		bool held = rc == 0 ? ok[r->check] : pp_walker_verify_one(w, (size_t)r->check);
		if (!held) {
			r->status = PP_WALK_TORN;
			r->nframes = 0;
		}
	}
	if (ok != okbuf)
		free(ok);
	return pp_code_cache_check_judge(t->codes, &t->mem, rc);
}

/* Remember what this sample read of each thread, for quiet.h. */
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
	struct pp_quiet_thread_seen *seen = t->quiet_seen;
	for (size_t i = 0; i < s->nts; i++) {
		const struct tstate_rec *r = &s->ts[i];
		struct pp_quiet_thread_seen *q = &seen[i];
		*q = (struct pp_quiet_thread_seen){
			.ts_addr = r->addr,
			.thread_id = r->thread_id,
			.tid = r->native_id,
			.taken_over = r->taken_over,
			.walked_ok = r->status == PP_WALK_OK,
			.frames = t->frames.v ? t->frames.v + r->frame_start : NULL,
			.nframes = r->status == PP_WALK_OK ? r->nframes : 0,
			.os = os_of(s, r->native_id),
		};
		frame_pointers(t, s, r, q->fp);
	}
	pp_quiet_learn(&t->quiet, seen, s->nts);
}

/* ---- assembling threads ------------------------------------------------- */

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

struct group {
	int members[8];
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

static enum pp_err assemble(struct pp_target *t, struct snapshot *s,
			    unsigned flags, struct pp_sample *out,
			    struct pp_error *err)
{
	struct group *g = calloc(s->nts ? s->nts : 1, sizeof(*g));
	if (!g)
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	size_t ng = 0;
	bool several = s->ninterps > 1; /* else every thread state is its own thread */
	for (size_t i = 0; i < s->nts; i++) {
		struct tstate_rec *r = &s->ts[i];
		size_t k = ng;
		/* Join by native tid; a tid of 0 (unknown) joins nothing. */
		if (several && r->native_id)
			for (k = 0; k < ng; k++)
				if (g[k].native_id == r->native_id && g[k].nm < 8)
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

	if (ensure_sample_storage(out, ng ? ng : 1, t->frames.n ? t->frames.n : 1) != 0) {
		free(g);
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	}
	size_t fp = 0;
	for (size_t k = 0; k < ng; k++) {
		qsort_r(g[k].members, g[k].nm, sizeof(int), cmp_inner_first, s);
		struct pp_thread *th = &out->threads[k];
		memset(th, 0, sizeof(*th));
		const struct tstate_rec *inner = &s->ts[g[k].members[0]];
		th->native_id = g[k].native_id;
		th->thread_id = s->ts[g[k].members[g[k].nm - 1]].thread_id;
		th->interp_id = s->interps[inner->interp].id;
		th->status = PP_WALK_OK;
		th->frames = out->frame_pool + fp;
		for (size_t m = 0; m < g[k].nm; m++) {
			const struct tstate_rec *r = &s->ts[g[k].members[m]];
			if (r->status != PP_WALK_OK) {
				th->status = r->status;
				continue;
			}
			if (r->nframes) /* frames.v is NULL until a first frame */
				memcpy(out->frame_pool + fp, t->frames.v + r->frame_start,
				       r->nframes * sizeof(struct pp_frame));
			fp += r->nframes;
			th->nframes += r->nframes;
		}
		if (th->status != PP_WALK_OK) {
			fp -= th->nframes; /* never show part of a torn stack */
			th->nframes = 0;
		}
		const struct pp_os_state *os = os_of(s, th->native_id);
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
			th->name = pp_thread_names_get(&t->names,
						       s->ts[g[k].members[m]].thread_id);
	}
	out->nthreads = ng;
	free(g);
	return PP_OK;
}

/* A thread runs before threading registers its name: reads that find it
 * nameless are retried this many times (a thread started with _thread
 * never gets a name). */
#define NAME_TRIES 3

static int named_order(const void *a, const void *b)
{
	const struct pp_named_thread *x = a, *y = b;
	if (x->ident != y->ident)
		return x->ident < y->ident ? -1 : 1;
	return x->native_id < y->native_id ? -1 : x->native_id > y->native_id;
}

/* Asked of every thread at every sample: t->named is kept sorted. */
static const struct pp_named_thread *named_entry(const struct pp_target *t,
						 const struct tstate_rec *r)
{
	if (!t->nnamed)
		return NULL;
	struct pp_named_thread key = {r->thread_id, r->native_id, 0};
	return bsearch(&key, t->named, t->nnamed, sizeof(key), named_order);
}

/* A thread the last names read was not for - it started since, perhaps
 * with the ident of a thread that ended, which glibc reuses - or found
 * nameless fewer than NAME_TRIES times. */
static bool name_missing(const struct pp_target *t, const struct tstate_rec *r)
{
	if (!r->thread_id)
		return false;
	const struct pp_named_thread *e = named_entry(t, r);
	return !e || (e->nameless && e->nameless < NAME_TRIES);
}

/* Read the names afresh; remember which threads they were read for, so
 * that those do not make every later sample read again. */
static void read_names(struct pp_target *t, const struct snapshot *s)
{
	pp_thread_names_free(&t->names);
	memset(&t->names, 0, sizeof(t->names));
	/* The main interpreter (last in the list) knows the most threads;
	 * read it first so its names win. */
	for (size_t i = s->ninterps; i-- > 0;)
		if (s->interps[i].modules)
			pp_thread_names_read(&t->obj, s->interps[i].modules, &t->names);
	struct pp_named_thread *n = malloc((s->nts ? s->nts : 1) * sizeof(*n));
	if (!n)
		return;
	for (size_t i = 0; i < s->nts; i++) {
		const struct tstate_rec *r = &s->ts[i];
		const struct pp_named_thread *before = named_entry(t, r);
		bool named = pp_thread_names_get(&t->names, r->thread_id) != NULL;
		n[i] = (struct pp_named_thread){r->thread_id, r->native_id,
						named ? 0 : (before ? before->nameless : 0) + 1};
	}
	qsort(n, s->nts, sizeof(*n), named_order);
	free(t->named);
	t->named = n;
	t->nnamed = s->nts;
}

static bool new_thread(const struct pp_target *t, const struct snapshot *s)
{
	for (size_t i = 0; i < s->nts; i++)
		if (name_missing(t, &s->ts[i]))
			return true;
	return false;
}

/* Interpreters and thread states, from the read-ahead when the structure
 * is unchanged, else by following the lists; then every thread's walk and
 * its verification. Returns PP_OK with the number of stale code objects in
 * *stale (>0, or -1 if unknown: the snapshot must be read again). */
static enum pp_err read_pass(struct pp_target *t, struct snapshot *s, unsigned flags,
			     bool ahead, unsigned *retries, int *stale,
			     struct pp_error *err)
{
	struct pp_walker *w = &t->walker;
	pp_code_cache_new_epoch(t->codes);
	pp_walker_begin_sample(w);
	w->pre = NULL;
	w->npre = 0;
	bool read_ahead = ahead && pp_readahead_read(t->ahead, t, s, &w->pre, &w->npre) == 0;
	if (!read_ahead) {
		w->pre = NULL;
		w->npre = 0;
		enum pp_err e = read_interpreters(t, s, err);
		if (!e)
			e = read_tstates(t, s, err);
		if (e)
			return e;
	}
	/* A dump redoes a torn walk on the spot; a recording reads the whole
	 * sample again instead (pp_target_sample), so all its walks can be
	 * verified together, mostly from the read-ahead itself, and what is
	 * left in one more read. */
	w->defer_verify = !w->paused && !(flags & PP_SAMPLE_RETRY_TORN);
	walk_threads(t, s, flags, retries);
	*stale = read_ahead ? pp_readahead_judge_codes(t->ahead, t->codes) : 0;
	if (*stale == 0) {
		if (!w->defer_verify)
			*stale = pp_code_cache_validate(t->codes, &t->mem);
		else if (w->nchecks || pp_code_cache_pending(t->codes))
			*stale = verify_walks(t, s);
	}
	w->pre = NULL;
	w->npre = 0;
	return PP_OK;
}

enum pp_err pp_target_sample(struct pp_target *t, unsigned flags,
			     struct pp_sample *out, struct pp_error *err)
{
	if (!t->snap && !(t->snap = calloc(1, sizeof(*t->snap))))
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	struct snapshot *s = t->snap;
	struct pp_pause pause = {0};
	enum pp_err e = PP_OK;
	unsigned retries = 0;
	int rc;

	s->ninterps = s->nts = s->nos = 0;
	out->nthreads = 0;
	out->torn_retries = 0;
	/* The kernel's view first when pausing: a stopped thread reads as
	 * "stopped", not as what it was doing. */
	if ((flags & PP_SAMPLE_OS_STATE) && (flags & PP_SAMPLE_PAUSE)) {
		rc = read_os_states(t, s);
		if (rc)
			return mem_error(t, rc, err);
	}
	if (flags & PP_SAMPLE_PAUSE) {
		rc = pp_pause_all(t->info.pid, &pause);
		if (rc == -EPERM && pp_tracer_error(t->info.pid, err))
			return PP_ERR_PERM;
		if (rc)
			return mem_error(t, rc, err);
		t->walker.paused = true;
		if (flags & PP_SAMPLE_OS_STATE)
			merge_paused_os_states(t, s);
	}
	out->time_ns = now_ns();
	/* Which threads have not run since the last sample: read first, before
	 * anything the sample reads of them (quiet.h). */
	t->quiet_sample = (flags & PP_SAMPLE_OS_STATE) && (flags & PP_SAMPLE_OS_FAST) &&
			  !(flags & PP_SAMPLE_PAUSE);
	if (t->quiet_sample)
		pp_quiet_begin(t->quiet, t->os);
	/* If a cached code object turned out to be stale (freed, its address
	 * reused), read everything again with fresh entries. A recording's
	 * torn walks get another chance or two: the whole sample is read
	 * again, ahead, a few microseconds later. Dropping them would leave
	 * out, more than the rest, the moments when the program is busy
	 * calling and returning; what is still torn is dropped and counted. */
	enum { STALE_PASSES = 3, TORN_PASSES = 2 };
	bool ahead = true;
	for (int stale_pass = 0, torn_pass = 0; stale_pass < STALE_PASSES;) {
		int stale = 0;
		e = read_pass(t, s, flags, ahead, &retries, &stale, err);
		if (e)
			break;
		if (stale != 0) {
			stale_pass++;
			ahead = false;
			continue;
		}
		bool torn = false;
		for (size_t i = 0; i < s->nts; i++)
			torn |= s->ts[i].status == PP_WALK_TORN;
		if (!torn || !t->walker.defer_verify || torn_pass == TORN_PASSES)
			break;
		torn_pass++;
		retries++;
		ahead = true;
	}
	if (!e) {
		bool listing = t->layout.ts_native_thread_id == PP_ABSENT && t->tid_offset < 0;
		/* Inferring where glibc keeps the tid checks candidates against
		 * the process's task list; otherwise only Python's threads are
		 * looked at, after their ids are known. */
		if ((flags & PP_SAMPLE_OS_STATE) && !(flags & PP_SAMPLE_PAUSE) && listing &&
		    read_os_states(t, s) != 0)
			s->nos = 0;
		fill_native_ids(t, s);
		if ((flags & PP_SAMPLE_OS_STATE) && !(flags & PP_SAMPLE_PAUSE) && !listing)
			read_os_states_of_threads(t, s, flags & PP_SAMPLE_OS_FAST);
		/* Names come from the last read of them, refreshed when asked
		 * and as soon as a thread appears that it did not know - so a
		 * thread's samples never change name just because this one
		 * read was skipped. */
		if ((flags & PP_SAMPLE_NAMES) || new_thread(t, s))
			read_names(t, s);
		if (t->quiet_sample)
			learn_quiet(t, s);
		pp_readahead_learn(&t->ahead, t, s);
	}
	/* A failed sample read run counts but no stacks: what quiet.c knew
	 * no longer lines up with them. Forget it; every thread is read next
	 * time. */
	if (e && t->quiet_sample)
		pp_quiet_learn(&t->quiet, NULL, 0);
	if (flags & PP_SAMPLE_PAUSE) {
		pp_resume_all(&pause);
		t->walker.paused = false;
	}
	if (!e)
		e = assemble(t, s, flags, out, err);
	out->torn_retries = retries;
	return e;
}

void pp_sample_free(struct pp_sample *s)
{
	free(s->threads);
	free(s->frame_pool);
	memset(s, 0, sizeof(*s));
}
