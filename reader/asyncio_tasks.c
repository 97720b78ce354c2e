/* asyncio Tasks, 3.14+ (asyncio_tasks.h); 3.11-3.13 in asyncio_tasks_311.c. */
#include "asyncio_tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_symbols.h"
#include "linetable.h"
#include "maps.h"
#include "pause.h"
#include "pystring.h"
#include "asyncio_tasks_311.h"
#include "target_internal.h"
#include "tasks_build.h"

/* _Py_AsyncioModuleDebugOffsets as 3.14 and 3.15 lay it out: 13 uint64s. */
enum {
	AD_TASK_SIZE, AD_TASK_NAME, AD_TASK_AWAITED_BY, AD_TASK_IS_TASK,
	AD_TASK_AWAITED_BY_IS_SET, AD_TASK_CORO, AD_TASK_NODE,
	AD_INTERP_SIZE, AD_INTERP_TASKS_HEAD,
	AD_TS_SIZE, AD_TS_RUNNING_LOOP, AD_TS_RUNNING_TASK, AD_TS_TASKS_HEAD,
	AD_N
};

/* Offsets the debug section does not give, the same on 3.14 and 3.15
 * (checked with offsetof against both versions' internal headers):
 * FutureObj's loop is its first field, its fut_state (an enum) sits just
 * before fut_is_task; PyGenObject's gi_frame_state (int8) and gi_iframe;
 * _PyInterpreterFrame's stackpointer; a set's mask and table. */
#define TASK_LOOP 16
#define GEN_FRAME_STATE 67
#define GEN_IFRAME 72
#define IF_STACKPOINTER 64
#define SET_MASK 32
#define SET_TABLE 40
#define SET_MAX_SLOTS (1u << 16)
#define MAX_INTERPS 4096
#define MAX_THREADS 100000
#define MAX_OFFSET (1u << 20)

struct finder {
	struct pp_target *t;
	uint64_t ad[AD_N];
	int minor;
	struct pp_tasks_build b;
};

const char *pp_task_state_name(enum pp_task_state s)
{
	switch (s) {
	case PP_TASK_PENDING: return "pending";
	case PP_TASK_CANCELLED: return "cancelled";
	case PP_TASK_DONE: return "done";
	default: return "unknown";
	}
}

/* The module's debug offsets: in the _asyncio extension (3.14) or in the
 * interpreter itself (3.15 builds it in). 0, -ENOENT when no mapped file
 * has them (asyncio not imported), or -EINVAL when they make no sense. */
static int find_offsets(struct finder *f)
{
	struct pp_maps maps = {0};
	int rc = pp_maps_read(f->t->info.pid, &maps);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < maps.n && rc == -ENOENT; i++) {
		const struct pp_map *m = &maps.v[i];
		if (!m->path || m->path[0] != '/' || pp_maps_first_of(&maps, m->path) != m)
			continue;
		const char *base = strrchr(m->path, '/') + 1;
		bool exe = f->t->info.executable && strcmp(m->path, f->t->info.executable) == 0;
		if (!exe && strncmp(base, "_asyncio", 8) != 0 && strncmp(base, "libpython", 9) != 0 &&
		    strncmp(base, "python", 6) != 0)
			continue;
		struct pp_elf *e = NULL;
		if (pp_target_open_mapped_elf(f->t, m->path, m, &e) != 0)
			continue;
		uint64_t addr = 0, size = 0;
		if (pp_elf_section(e, ".AsyncioDebug", &addr, &size) == 0 &&
		    size >= sizeof(f->ad)) {
			uint64_t at = pp_elf_load_bias(e, m) + addr;
			rc = pp_mem_read(&f->t->mem, at, f->ad, sizeof(f->ad)) == 0 ? 0 : -EIO;
		}
		pp_elf_close(e);
	}
	pp_maps_free(&maps);
	if (rc)
		return rc;
	const uint64_t *a = f->ad;
	if (a[AD_TASK_SIZE] < TASK_LOOP + 8 || a[AD_TASK_SIZE] > 4096)
		return -EINVAL;
	for (int k = AD_TASK_NAME; k <= AD_TASK_NODE; k++)
		if (a[k] + 16 > a[AD_TASK_SIZE] && k != AD_TASK_IS_TASK && k != AD_TASK_AWAITED_BY_IS_SET)
			return -EINVAL;
	if (a[AD_TASK_IS_TASK] < 4 || a[AD_TASK_IS_TASK] >= a[AD_TASK_SIZE] ||
	    a[AD_TASK_AWAITED_BY_IS_SET] >= a[AD_TASK_SIZE] ||
	    a[AD_INTERP_TASKS_HEAD] > MAX_OFFSET || a[AD_TS_TASKS_HEAD] > MAX_OFFSET ||
	    a[AD_TS_RUNNING_LOOP] > MAX_OFFSET)
		return -EINVAL;
	return 0;
}

static bool is_suspended_in_await(int minor, int8_t st)
{
	return minor == 14 ? st == -1 : (st == 2 || st == 3);
}

static bool has_frame(int minor, int8_t st)
{
	return minor == 14 ? (st >= -3 && st <= 0) : (st >= 0 && st <= 4);
}

/* The coroutines task k runs: its coroutine, the one that awaits, ...
 * Frames are collected outermost first and turned round at the end. */
static int read_coro_chain(struct finder *f, struct pp_task *task, uint64_t coro)
{
	const struct py_layout *l = &f->t->layout;
	uint64_t tag_mask = ~(uint64_t)l->if_code_tag_bits;
	size_t cap = 0;
	uint64_t coro_type = 0;
	for (unsigned depth = 0; coro && depth < PP_TASK_CORO_DEPTH; depth++) {
		uint8_t head[GEN_IFRAME + 80];
		if (l->if_code + 8 > 80 || l->if_instr + 8 > 80 ||
		    pp_mem_read(&f->t->mem, coro, head, sizeof(head)) != 0)
			break;
		uint64_t type = pp_get_u64(head, sizeof(head), l->ob_type);
		if (depth == 0)
			coro_type = type;
		else if (type != coro_type)
			break; /* awaiting a future, a generator of another kind */
		int8_t st = (int8_t)pp_get_u8(head, sizeof(head), GEN_FRAME_STATE);
		if (!has_frame(f->minor, st))
			break;
		const uint8_t *fr = head + GEN_IFRAME;
		uint64_t code = pp_get_u64(fr, 80, l->if_code) & tag_mask;
		uint64_t instr = pp_get_u64(fr, 80, l->if_instr);
		const struct pp_code_entry *e = pp_code_cache_get(f->t->codes, &f->t->mem, code);
		if (!e)
			break;
		if (pp_task_add_frame(task, &cap, l, e, instr - code) != 0)
			return -1;
		if (!is_suspended_in_await(f->minor, st))
			break;
		/* What it awaits is on its value stack: the top on 3.14; on
		 * 3.15 the slot under the top (the top holds the value to
		 * send; seen on 3.15.2 against cr_await). */
		uint64_t sp = pp_get_u64(fr, 80, IF_STACKPOINTER), next = 0;
		uint64_t slot = f->minor == 14 ? 8 : 16;
		if (sp < coro + GEN_IFRAME + slot ||
		    pp_mem_read_u64(&f->t->mem, sp - slot, &next) != 0)
			break;
		coro = next & tag_mask;
	}
	for (size_t i = 0; i < task->nframes / 2; i++) {
		struct pp_frame x = task->frames[i];
		task->frames[i] = task->frames[task->nframes - 1 - i];
		task->frames[task->nframes - 1 - i] = x;
	}
	return 0;
}

static int add_task(struct finder *f, uint64_t addr)
{
	if (f->b.out->n >= PP_TASKS_MAX) {
		f->b.out->not_read++;
		return 0;
	}
	uint8_t buf[4096];
	size_t size = f->ad[AD_TASK_SIZE];
	if (pp_mem_read(&f->t->mem, addr, buf, size) != 0)
		return 0;
	if (pp_get_u8(buf, size, f->ad[AD_TASK_IS_TASK]) != 1)
		return 0;
	if (f->b.out->n == f->b.cap) {
		size_t ncap = f->b.cap ? f->b.cap * 2 : 64;
		struct pp_task *n = realloc(f->b.out->v, ncap * sizeof(*n));
		if (!n)
			return -1;
		f->b.out->v = n;
		f->b.cap = ncap;
	}
	struct pp_task *task = &f->b.out->v[f->b.out->n++];
	memset(task, 0, sizeof(*task));
	task->addr = addr;
	task->found = f->b.out->n - 1;
	task->loop = pp_get_u64(buf, size, TASK_LOOP);
	uint32_t st = pp_get_u32(buf, size, f->ad[AD_TASK_IS_TASK] - 4);
	task->state = st <= PP_TASK_DONE ? (enum pp_task_state)st : PP_TASK_UNKNOWN;
	task->name = pp_task_read_name(f->t, pp_get_u64(buf, size, f->ad[AD_TASK_NAME]));
	return read_coro_chain(f, task, pp_get_u64(buf, size, f->ad[AD_TASK_CORO]));
}

/* The tasks on one list: a circular list of task_node, through a head
 * that is no task. */
static int walk_list(struct finder *f, uint64_t head)
{
	uint64_t node = 0;
	if (pp_mem_read_u64(&f->t->mem, head, &node) != 0)
		return 0;
	for (size_t steps = 0; node && node != head && steps < 4 * PP_TASKS_MAX; steps++) {
		int s = pp_tasks_seen_add(&f->b, node);
		if (s < 0)
			return -1;
		if (s > 0)
			break; /* a loop that misses the head: corrupt */
		if (add_task(f, node - f->ad[AD_TASK_NODE]) != 0)
			return -1;
		if (pp_mem_read_u64(&f->t->mem, node, &node) != 0)
			break;
	}
	return 0;
}

static int walk_interpreters(struct finder *f)
{
	const struct py_layout *l = &f->t->layout;
	uint64_t interp = 0;
	if (pp_mem_read_u64(&f->t->mem, f->t->runtime + l->rt_interpreters_head, &interp) != 0)
		return -EIO;
	for (unsigned i = 0; interp && i < MAX_INTERPS; i++) {
		if (pp_tasks_seen_add(&f->b, interp) != 0)
			break;
		uint64_t ts = 0;
		if (pp_mem_read_u64(&f->t->mem, interp + l->is_threads_head, &ts) == 0) {
			for (unsigned k = 0; ts && k < MAX_THREADS; k++) {
				int s = pp_tasks_seen_add(&f->b, ts);
				if (s < 0)
					return -1;
				if (s > 0)
					break;
				uint64_t loop = 0, tid = 0;
				if (pp_mem_read_u64(&f->t->mem, ts + f->ad[AD_TS_RUNNING_LOOP], &loop) == 0 &&
				    loop && l->ts_native_thread_id != PP_ABSENT &&
				    pp_mem_read_u64(&f->t->mem, ts + l->ts_native_thread_id, &tid) == 0 &&
				    pp_tasks_add_loop(&f->b, loop, tid) != 0)
					return -1;
				if (walk_list(f, ts + f->ad[AD_TS_TASKS_HEAD]) != 0)
					return -1;
				if (pp_mem_read_u64(&f->t->mem, ts + l->ts_next, &ts) != 0)
					break;
			}
		}
		if (walk_list(f, interp + f->ad[AD_INTERP_TASKS_HEAD]) != 0)
			return -1;
		if (pp_mem_read_u64(&f->t->mem, interp + l->is_next, &interp) != 0)
			break;
	}
	return 0;
}

/* Task k is awaited by the task (or each task of the set) in its
 * awaited-by field: those await k. Anything else there is ignored. */
static int read_awaited_by(struct finder *f, size_t k)
{
	struct pp_tasks *o = f->b.out;
	uint8_t buf[4096];
	size_t size = f->ad[AD_TASK_SIZE];
	if (pp_mem_read(&f->t->mem, o->v[k].addr, buf, size) != 0)
		return 0;
	uint64_t by = pp_get_u64(buf, size, f->ad[AD_TASK_AWAITED_BY]);
	if (!by)
		return 0;
	if (!pp_get_u8(buf, size, f->ad[AD_TASK_AWAITED_BY_IS_SET])) {
		long w = pp_tasks_find(&f->b, by);
		return w >= 0 ? pp_task_add_await(&o->v[w], k) : 0;
	}
	uint64_t mask = 0, table = 0;
	if (pp_mem_read_u64(&f->t->mem, by + SET_MASK, &mask) != 0 ||
	    pp_mem_read_u64(&f->t->mem, by + SET_TABLE, &table) != 0 || mask >= SET_MAX_SLOTS ||
	    ((mask + 1) & mask) != 0)
		return 0;
	size_t n = (size_t)mask + 1;
	uint64_t *entries = malloc(n * 16);
	if (!entries)
		return -1;
	int rc = 0;
	if (pp_mem_read(&f->t->mem, table, entries, n * 16) == 0)
		for (size_t i = 0; i < n && rc == 0; i++) {
			long w = entries[2 * i] ? pp_tasks_find(&f->b, entries[2 * i]) : -1;
			if (w >= 0)
				rc = pp_task_add_await(&o->v[w], k);
		}
	free(entries);
	return rc;
}

enum pp_err pp_target_asyncio_tasks(struct pp_target *t, bool pause,
				    struct pp_tasks *out, struct pp_error *err)
{
	memset(out, 0, sizeof(*out));
	const struct pp_target_info *info = &t->info;
	if (info->major != 3 || info->minor < 11)
		return pp_set_error(err, PP_ERR_NOT_PYTHON,
				    "dump --tasks needs Python 3.11 or later (this is %s)",
				    info->version);
	struct finder f = {.t = t, .minor = info->minor, .b.out = out};
	struct pp_pause p = {0};
	if (pause) {
		int rc = pp_pause_all(info->pid, &p);
		if (rc == -ESRCH)
			return pp_set_error(err, PP_ERR_GONE, "process %d exited", info->pid);
		if (rc)
			return pp_set_error(err, PP_ERR_PERM,
					    "cannot pause process %d to read its tasks: %s",
					    info->pid, strerror(-rc));
	}
	enum pp_err e = PP_OK;
	int rc = info->minor < 14 ? pp_asyncio_tasks_311(t, out) : find_offsets(&f);
	if (info->minor < 14) {
		if (rc == -ENOENT)
			out->no_asyncio = true;
		else if (rc == -EPROTO)
			e = pp_set_error(err, PP_ERR_NOT_PYTHON,
					 "dump --tasks: the _asyncio Task of %s is not laid out as "
					 "pyprobe knows it for %s", t->who, info->version);
		else if (rc)
			e = pp_set_error(err, rc == -1 ? PP_ERR_IO : PP_ERR_GONE,
					 rc == -1 ? "out of memory reading tasks of process %d"
						  : "cannot read the interpreters of process %d",
					 info->pid);
	} else if (rc == -ENOENT) {
		out->no_asyncio = true;
	} else if (rc) {
		e = pp_set_error(err, PP_ERR_IO,
				 "cannot read the _asyncio module's debug offsets in process %d (%s)",
				 info->pid, strerror(-rc));
	} else if ((rc = walk_interpreters(&f)) != 0) {
		e = pp_set_error(err, rc == -1 ? PP_ERR_IO : PP_ERR_GONE,
				 rc == -1 ? "out of memory reading tasks of process %d"
					  : "cannot read the interpreters of process %d",
				 info->pid);
	} else {
		if (pp_tasks_group(&f.b) != 0)
			e = pp_set_error(err, PP_ERR_IO, "out of memory reading tasks");
		for (size_t i = 0; i < out->n && e == PP_OK; i++)
			if (pp_tasks_add_loop(&f.b, out->v[i].loop, 0) != 0 || read_awaited_by(&f, i) != 0)
				e = pp_set_error(err, PP_ERR_IO, "out of memory reading tasks");
	}
	if (pause)
		pp_resume_all(&p);
	pp_tasks_build_done(&f.b);
	return e;
}

void pp_tasks_free(struct pp_tasks *ts)
{
	for (size_t i = 0; ts->v && i < ts->n; i++) {
		free(ts->v[i].name);
		free(ts->v[i].frames);
		free(ts->v[i].awaits);
	}
	free(ts->v);
	free(ts->loops);
	memset(ts, 0, sizeof(*ts));
}

/* ---- the task a thread runs now ------------------------------------------ */

/* 3.14+: the thread state's asyncio_running_task (the debug offsets'). */
static char *running_task_314(struct finder *f, uint64_t native_id)
{
	const struct py_layout *l = &f->t->layout;
	uint64_t interp = 0;
	if (l->ts_native_thread_id == PP_ABSENT ||
	    pp_mem_read_u64(&f->t->mem, f->t->runtime + l->rt_interpreters_head, &interp) != 0)
		return NULL;
	for (unsigned i = 0; interp && i < MAX_INTERPS; i++) {
		if (pp_tasks_seen_add(&f->b, interp) != 0)
			return NULL;
		uint64_t ts = 0;
		if (pp_mem_read_u64(&f->t->mem, interp + l->is_threads_head, &ts) != 0)
			ts = 0;
		for (unsigned k = 0; ts && k < MAX_THREADS; k++) {
			uint64_t tid = 0, task = 0, name = 0;
			if (pp_tasks_seen_add(&f->b, ts) != 0)
				return NULL;
			if (pp_mem_read_u64(&f->t->mem, ts + l->ts_native_thread_id, &tid) == 0 &&
			    tid == native_id) {
				uint8_t is_task = 0;
				if (pp_mem_read_u64(&f->t->mem, ts + f->ad[AD_TS_RUNNING_TASK], &task) != 0 ||
				    !task ||
				    pp_mem_read(&f->t->mem, task + f->ad[AD_TASK_IS_TASK], &is_task, 1) != 0 ||
				    is_task != 1 ||
				    pp_mem_read_u64(&f->t->mem, task + f->ad[AD_TASK_NAME], &name) != 0)
					return NULL;
				return pp_task_read_name(f->t, name);
			}
			if (pp_mem_read_u64(&f->t->mem, ts + l->ts_next, &ts) != 0)
				break;
		}
		if (pp_mem_read_u64(&f->t->mem, interp + l->is_next, &interp) != 0)
			break;
	}
	return NULL;
}

char *pp_target_asyncio_running_task(struct pp_target *t, uint64_t native_id, bool pause)
{
	const struct pp_target_info *info = &t->info;
	if (info->major != 3 || info->minor < 11 || !native_id || t->core)
		return NULL;
	/* the interpreter stores the thread's id as its own PID namespace
	 * numbers it (a container): the last sample's map translates ours */
	if (t->ns_pid != info->pid)
		for (size_t i = 0; i < t->ntidmap; i++)
			if ((uint64_t)t->tidmap[i].host == native_id) {
				native_id = (uint64_t)t->tidmap[i].ns;
				break;
			}
	struct pp_pause p = {0};
	if (pause && pp_pause_all(info->pid, &p) != 0)
		return NULL;
	char *name = NULL;
	if (info->minor < 14) {
		name = pp_asyncio_running_task_311(t, native_id);
	} else {
		struct finder f = {.t = t, .minor = info->minor};
		if (find_offsets(&f) == 0 && f.ad[AD_TS_RUNNING_TASK] <= MAX_OFFSET)
			name = running_task_314(&f, native_id);
		pp_tasks_build_done(&f.b);
	}
	if (pause)
		pp_resume_all(&p);
	return name;
}

/* ---- the task a thread runs now, for the sampler ------------------------- */

#define RT_THREADS 64     /* thread states remembered */
#define RT_RETRY 1000     /* calls between two searches for what was not found */

struct rt_thread { uint64_t id, ts, interp; };

struct pp_running_tasks {
	struct pp_target *t;
	/* 3.14+: the _asyncio debug offsets (found: ad_ok) */
	uint64_t ad[AD_N];
	bool ad_ok;
	/* 3.11-3.13 */
	struct pp_current_311 c311;
	uint64_t calls, retry_at; /* search again for the offsets at retry_at */
	struct rt_thread threads[RT_THREADS];
	size_t nthreads, next_slot;
};

struct pp_running_tasks *pp_running_tasks_new(struct pp_target *t)
{
	struct pp_running_tasks *rt = calloc(1, sizeof(*rt));
	if (rt)
		rt->t = t;
	return rt;
}

void pp_running_tasks_free(struct pp_running_tasks *rt)
{
	free(rt);
}

/* The thread state of the thread the interpreter numbers id, and its
 * interpreter: remembered, checked by one read, searched for when that
 * fails. 0, or -1. */
static int thread_state_of(struct pp_running_tasks *rt, uint64_t id, uint64_t *ts,
			   uint64_t *interp)
{
	struct pp_target *t = rt->t;
	const struct py_layout *l = &t->layout;
	if (l->ts_native_thread_id == PP_ABSENT)
		return -1;
	for (size_t i = 0; i < rt->nthreads; i++) {
		struct rt_thread *th = &rt->threads[i];
		uint64_t tid = 0;
		if (th->id != id)
			continue;
		if (pp_mem_read_u64(&t->mem, th->ts + l->ts_native_thread_id, &tid) == 0 &&
		    tid == id) {
			*ts = th->ts;
			*interp = th->interp;
			return 0;
		}
		th->id = 0; /* gone or reused: search */
	}
	uint64_t in = 0, first = 0;
	unsigned budget = MAX_THREADS;
	if (pp_mem_read_u64(&t->mem, t->runtime + l->rt_interpreters_head, &in) != 0)
		return -1;
	first = in;
	for (unsigned i = 0; in && i < MAX_INTERPS && budget; i++, budget--) {
		if (i && in == first)
			break;
		uint64_t s = 0, s0 = 0;
		if (pp_mem_read_u64(&t->mem, in + l->is_threads_head, &s) == 0)
			s0 = s;
		for (unsigned k = 0; s && budget; k++, budget--) {
			uint64_t tid = 0;
			if (k && s == s0)
				break;
			if (pp_mem_read_u64(&t->mem, s + l->ts_native_thread_id, &tid) == 0 &&
			    tid == id) {
				struct rt_thread *th = NULL;
				for (size_t j = 0; j < rt->nthreads && !th; j++)
					if (!rt->threads[j].id)
						th = &rt->threads[j];
				if (!th && rt->nthreads < RT_THREADS)
					th = &rt->threads[rt->nthreads++];
				if (!th) /* full: replace in turn */
					th = &rt->threads[rt->next_slot++ % RT_THREADS];
				*th = (struct rt_thread){id, s, in};
				*ts = s;
				*interp = in;
				return 0;
			}
			if (pp_mem_read_u64(&t->mem, s + l->ts_next, &s) != 0)
				break;
		}
		if (pp_mem_read_u64(&t->mem, in + l->is_next, &in) != 0)
			break;
	}
	return -1;
}

int pp_running_task_peek(struct pp_running_tasks *rt, uint64_t ns_id, uint64_t *task,
			 uint64_t *name_obj)
{
	struct pp_target *t = rt->t;
	const struct pp_target_info *info = &t->info;
	if (info->major != 3 || info->minor < 11 || !ns_id || t->core)
		return -1;
	rt->calls++;
	uint64_t ts = 0, interp = 0;
	if (thread_state_of(rt, ns_id, &ts, &interp) != 0)
		return -1;
	if (info->minor < 14)
		return pp_asyncio_current_task_311(t, &rt->c311, interp, ts, task, name_obj);
	if (!rt->ad_ok) {
		/* asyncio may be imported later: look again now and then (a
		 * search reads the mappings and an ELF file) */
		if (rt->calls < rt->retry_at)
			return -1;
		struct finder f = {.t = t, .minor = info->minor};
		rt->ad_ok = find_offsets(&f) == 0 && f.ad[AD_TS_RUNNING_TASK] <= MAX_OFFSET;
		memcpy(rt->ad, f.ad, sizeof(rt->ad));
		rt->retry_at = rt->calls + RT_RETRY;
		if (!rt->ad_ok)
			return -1;
	}
	uint8_t is_task = 0;
	if (pp_mem_read_u64(&t->mem, ts + rt->ad[AD_TS_RUNNING_TASK], task) != 0 || !*task ||
	    pp_mem_read(&t->mem, *task + rt->ad[AD_TASK_IS_TASK], &is_task, 1) != 0 ||
	    is_task != 1 ||
	    pp_mem_read_u64(&t->mem, *task + rt->ad[AD_TASK_NAME], name_obj) != 0 || !*name_obj)
		return -1;
	return 0;
}

char *pp_running_task_name(struct pp_running_tasks *rt, uint64_t name_obj)
{
	return pp_task_read_name(rt->t, name_obj);
}
