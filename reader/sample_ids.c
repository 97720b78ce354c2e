/* The thread-ids phase: each thread state's kernel thread id, as pyprobe's
 * PID namespace numbers it. 3.11+ store it (native_thread_id, as the
 * target's namespace numbers it); 3.8-3.10 only keep pthread_self(), and
 * the id is read out of glibc's struct pthread, at an offset found once. */
#include <stdlib.h>
#include <string.h>

#include "procfs.h"
#include "target_internal.h"

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
		if (s->nos && !pp_task_state_of(s, host))
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
void pp_fill_native_ids(struct pp_target *t, struct snapshot *s)
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
	for (size_t i = 0; i < s->nts; i++) {
		s->ts[i].ns_tid = s->ts[i].native_id;
		s->ts[i].native_id = host_tid(t, s->ts[i].native_id, &refreshed);
	}
}

