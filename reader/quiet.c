/* Threads that have not run since the last sample; see quiet.h. */
#include "quiet.h"

#include <stdlib.h>
#include <string.h>

/* What is known of one thread state, from the samples before this one. */
struct quiet_thread {
	uint64_t ts_addr, thread_id, tid;
	uint64_t fp[2];        /* its frame pointers when its stack was read */
	uint64_t runs, cpu_ns; /* its run count and CPU time at the last sample
				* that read them: both, so that a new task given
				* a dead one's id is not taken for it */
	bool runs_known;
	/* The last reads of the run count, one bit each, set where it had
	 * moved (newest lowest), and samples left before the next read: a
	 * thread that keeps running between samples (a busy worker waiting
	 * on a lock or the GIL, a queue server fed every few ticks) is
	 * seldom still at two reads in a row, which a take-over needs, and
	 * reading its count each time only costs a pread. Skipping reads
	 * keeps the last count read: equal counts over a longer span still
	 * mean it did not run in the shorter one, and a skipped sample takes
	 * nothing over. */
	uint8_t moved_bits;
	unsigned skip;
	bool blocked;          /* the last OS state read (or taken over) was a
				* block in a system call: off its CPU then */
	bool candidate;        /* the stack below was read while it was off
				* its CPU, if the run count has not moved since */
	bool have_stack;
	/* this sample's: the run count did not move since the last one
	 * (with `blocked`: off its CPU since then), and it is taken over */
	bool same_runs, take_now;
	bool moved; /* learn: already carried over */
	struct pp_quiet_stack stack;
	struct pp_frame *frames; /* stack.frames, owned */
	size_t frames_cap;
};

struct pp_quiet {
	struct quiet_thread *v; /* sorted by ts_addr */
	size_t n, cap;
	struct quiet_thread *next; /* learn's new table, swapped with v */
	size_t next_cap;
};

static void forget(struct quiet_thread *th)
{
	free(th->frames);
	th->frames = NULL;
	th->frames_cap = 0;
}

void pp_quiet_free(struct pp_quiet *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++)
		forget(&q->v[i]);
	free(q->v);
	free(q->next);
	free(q);
}

static struct quiet_thread *find(const struct pp_quiet *q, uint64_t ts_addr)
{
	size_t lo = 0, hi = q ? q->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (q->v[mid].ts_addr < ts_addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return q && lo < q->n && q->v[lo].ts_addr == ts_addr ? &q->v[lo] : NULL;
}

void pp_quiet_begin(struct pp_quiet *q, struct pp_os_reader *os)
{
	for (size_t i = 0; q && i < q->n; i++) {
		struct quiet_thread *th = &q->v[i];
		uint64_t runs = 0, cpu_ns = 0;
		th->same_runs = th->take_now = false;
		/* A thread seen running cannot be quiet yet: its count is
		 * not needed until it has been seen blocked.
		 * Moved at MOVED_READS of its last 8 reads (seen running
		 * counts as one): read it every SKIP_EVERY samples until that
		 * is no longer so. A thread that goes quiet is then taken over
		 * later than it could be (up to ~6 * SKIP_EVERY samples). */
		enum { MOVED_READS = 3, SKIP_EVERY = 4 };
		if (!th->tid || th->tid > INT32_MAX) {
			th->runs_known = false;
			th->moved_bits = 0;
			th->skip = 0;
			continue;
		}
		if (!th->blocked) { /* seen running: it moved */
			th->runs_known = false;
			th->moved_bits = (uint8_t)(th->moved_bits << 1 | 1);
			th->skip = __builtin_popcount(th->moved_bits) >= MOVED_READS ? SKIP_EVERY - 1 : 0;
			continue;
		}
		if (th->skip) {
			th->skip--;
			continue;
		}
		if (pp_os_reader_runs(os, (int)th->tid, &runs, &cpu_ns) != 0) {
			th->runs_known = false;
			th->moved_bits = 0;
			th->skip = 0;
			continue;
		}
		th->same_runs = th->runs_known && runs == th->runs && cpu_ns == th->cpu_ns;
		th->take_now = th->same_runs && th->candidate && th->have_stack;
		bool moved = th->runs_known && !th->same_runs;
		th->moved_bits = (uint8_t)(th->moved_bits << 1 | moved);
		th->skip = __builtin_popcount(th->moved_bits) >= MOVED_READS ? SKIP_EVERY - 1 : 0;
		th->runs = runs;
		th->cpu_ns = cpu_ns;
		th->runs_known = true;
	}
}

const struct pp_quiet_stack *pp_quiet_take(const struct pp_quiet *q, uint64_t ts_addr,
					   uint64_t thread_id, const uint64_t fp[2])
{
	const struct quiet_thread *th = find(q, ts_addr);
	/* The same thread (a thread state can be freed and reused by a new
	 * thread at the same address), whose frame pointers have not moved
	 * either: a thread that has not run cannot have moved them. */
	if (!th || !th->take_now || th->thread_id != thread_id || th->fp[0] != fp[0] ||
	    th->fp[1] != fp[1])
		return NULL;
	return &th->stack;
}

bool pp_quiet_expected(const struct pp_quiet *q, uint64_t ts_addr)
{
	const struct quiet_thread *th = find(q, ts_addr);
	return th && th->candidate && th->blocked && th->have_stack;
}

static int by_addr(const void *a, const void *b)
{
	uint64_t x = ((const struct quiet_thread *)a)->ts_addr;
	uint64_t y = ((const struct quiet_thread *)b)->ts_addr;
	return x < y ? -1 : x > y;
}

/* th becomes what this sample read of the thread. Its frames are kept
 * only when they can be taken over next time. */
static int remember(struct quiet_thread *th, const struct pp_quiet_thread_seen *t)
{
	bool off_cpu_since_last = th->blocked && th->same_runs;
	th->fp[0] = t->fp[0];
	th->fp[1] = t->fp[1];
	th->have_stack = false;
	th->stack.nframes = 0;
	th->blocked = t->os && t->os->in_syscall == 1;
	if (t->os)
		th->stack.os = *t->os;
	/* Off its CPU from the last OS read to this sample's run count, and
	 * blocked still at this OS read: if the count does not move by the
	 * next sample, the stack read in between is the stack then. */
	th->candidate = off_cpu_since_last && th->blocked && t->walked_ok;
	if (!th->candidate)
		return 0;
	if (t->nframes > th->frames_cap) {
		struct pp_frame *f = realloc(th->frames, t->nframes * sizeof(*f));
		if (!f) {
			th->candidate = false;
			return -1;
		}
		th->frames = f;
		th->frames_cap = t->nframes;
	}
	if (t->nframes)
		memcpy(th->frames, t->frames, t->nframes * sizeof(*th->frames));
	th->stack.frames = th->frames;
	th->stack.nframes = t->nframes;
	th->have_stack = true;
	return 0;
}

/* Every entry of v[0..n) forgotten; the tables stay. */
static void forget_all(struct quiet_thread *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		forget(&v[i]);
}

void pp_quiet_learn(struct pp_quiet **qp, const struct pp_quiet_thread_seen *seen, size_t n)
{
	struct pp_quiet *q = *qp;
	if (!q) {
		if (!(q = calloc(1, sizeof(*q))))
			return;
		*qp = q;
	}
	if (n > q->next_cap) {
		struct quiet_thread *nv = realloc(q->next, n * sizeof(*nv));
		if (!nv) {
			forget_all(q->v, q->n);
			q->n = 0; /* nothing remembered: every thread is read next time */
			return;
		}
		q->next = nv;
		q->next_cap = n;
	}
	struct quiet_thread *nv = q->next;
	bool failed = false;
	size_t k = 0;
	for (size_t i = 0; !failed && i < n; i++) {
		const struct pp_quiet_thread_seen *t = &seen[i];
		struct quiet_thread *old = find(q, t->ts_addr);
		struct quiet_thread th = {.ts_addr = t->ts_addr};
		if (old && !old->moved && old->thread_id == t->thread_id && old->tid == t->tid) {
			th = *old;
			old->frames = NULL; /* now th's */
			old->frames_cap = 0;
			old->moved = true;  /* a thread state listed twice starts afresh */
		}
		th.thread_id = t->thread_id;
		th.tid = t->tid;
		if (!t->taken_over && remember(&th, t) != 0)
			failed = true;
		nv[k++] = th;
	}
	forget_all(q->v, q->n);
	if (failed) {
		forget_all(nv, k);
		q->n = 0; /* nothing remembered: every thread is read next time */
		return;
	}
	if (k > 1)
		qsort(nv, k, sizeof(*nv), by_addr);
	/* one thread state listed twice (a torn list) is remembered once */
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (m && nv[m - 1].ts_addr == nv[i].ts_addr) {
			forget(&nv[i]);
			continue;
		}
		nv[m++] = nv[i];
	}
	/* the new table becomes v; the old one, emptied, the next one */
	q->next = q->v;
	q->v = nv;
	size_t cap = q->cap;
	q->cap = q->next_cap;
	q->next_cap = cap;
	q->n = m;
}
