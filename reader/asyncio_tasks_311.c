/* asyncio Tasks, 3.11-3.13 (asyncio_tasks_311.h).
 *
 * asyncio.all_tasks() on these versions reads two registries the C
 * module shares with asyncio.tasks (checked on 3.11.7, 3.12.1 and 3.13.0:
 * `asyncio.tasks._all_tasks is _asyncio._all_tasks` and so on):
 *   3.11: _all_tasks, a weakref.WeakSet of every task;
 *   3.12, 3.13: _scheduled_tasks (a WeakSet) and _eager_tasks (a set).
 * A WeakSet keeps its weak references in the set `data`; each one's
 * wr_object is the task. _current_tasks is {loop: task running now}.
 * They are found in sys.modules["asyncio.tasks"] of every interpreter.
 *
 * What a task awaits is its fut_waiter: a Task (`await task`), a gather's
 * _GatheringFuture (its `_children` list holds the tasks it waits for),
 * or a plain future (no task: nothing to name). Its coroutine stack is its
 * coroutine, then what that coroutine awaits, and so on: the top of a
 * suspended frame's value stack, as CPython's _PyGen_yf reads it.
 *
 * Every read is bounded and checked, every set walk bounded, every chain
 * bounded in depth: corrupt memory gives fewer tasks, never a crash.
 */
#include "asyncio_tasks_311.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linetable.h"
#include "pyobject.h"
#include "pystring.h"
#include "target_internal.h"
#include "tasks_build.h"

/* Per version. The C structs (FutureObj/TaskObj, PyGenObject,
 * _PyInterpreterFrame, PyThreadState, PySetObject, PyWeakReference,
 * PyListObject) were read with gdb `ptype /o` from the DWARF of pyenv's
 * 3.11.7, 3.12.1 and 3.13.0 (libpython3.X.so and
 * lib-dynload/_asyncio.cpython-3X-x86_64-linux-gnu.so). Debian's stripped
 * 3.11.2 and sid's 3.13.18 have no DWARF: their _asyncio.Task.__basicsize__
 * (176, 144) equals the pyenv builds', and the reader checks the target's
 * Task type has exactly task_size before reading any task. The RESUME
 * opcodes are opcode.opmap / dis._all_opmap of each version. */
struct task_layout {
	int minor;
	uint32_t task_size;        /* sizeof(TaskObj) == Task.__basicsize__ */
	uint32_t fut_loop, fut_state, task_fut_waiter, task_coro, task_name;
	uint32_t gen_frame_state;  /* int8 gi_frame_state */
	uint32_t gen_iframe;       /* the embedded _PyInterpreterFrame */
	uint32_t if_stacktop;      /* int, in pointers from localsplus */
	uint32_t if_localsplus;
	uint32_t ts_dict;          /* PyThreadState.dict (3.11/3.12) */
	uint32_t holder_loop;      /* 3.11: the dict holds a PyRunningLoopHolder,
	                              its rl_loop here; 0: the loop itself */
	int8_t st_first_live;      /* FRAME_CREATED: the lowest state with a frame */
	int8_t st_yield_from;      /* the suspended state _PyGen_yf looks in */
	bool check_resume;         /* 3.11/3.12: _PyGen_yf checks the next
	                              instruction is RESUME with oparg >= 2 */
	uint8_t resume[3];         /* RESUME and its variants (0: none) */
};

static const struct task_layout LAYOUTS[] = {
	{.minor = 11, .task_size = 176, .fut_loop = 16, .fut_state = 88,
	 .task_fut_waiter = 128, .task_coro = 136, .task_name = 144,
	 .gen_frame_state = 75, .gen_iframe = 80, .if_stacktop = 64, .if_localsplus = 72,
	 .ts_dict = 128, .holder_loop = 16, .st_first_live = -2, .st_yield_from = -1, .check_resume = true,
	 .resume = {151, 150 /* RESUME_QUICK */, 0}},
	{.minor = 12, .task_size = 176, .fut_loop = 16, .fut_state = 88,
	 .task_fut_waiter = 128, .task_coro = 136, .task_name = 144,
	 .gen_frame_state = 67, .gen_iframe = 72, .if_stacktop = 64, .if_localsplus = 72,
	 .ts_dict = 112, .st_first_live = -2, .st_yield_from = -1, .check_resume = true,
	 .resume = {151, 240 /* INSTRUMENTED_RESUME */, 0}},
	/* 3.13: FRAME_SUSPENDED_YIELD_FROM (-1) says it; the running loop is
	 * _PyThreadStateImpl.asyncio_running_loop (the layout's) */
	{.minor = 13, .task_size = 144, .fut_loop = 16, .fut_state = 96,
	 .task_fut_waiter = 112, .task_coro = 120, .task_name = 128,
	 .gen_frame_state = 67, .gen_iframe = 72, .if_stacktop = 64, .if_localsplus = 72,
	 .ts_dict = PP_ABSENT, .st_first_live = -3, .st_yield_from = -1,
	 .check_resume = false, .resume = {0, 0, 0}},
};

/* PyWeakReference.wr_object; PySetObject mask and table; PyListObject
 * ob_item: the same on 3.11-3.13. */
#define WR_OBJECT 16
#define SET_MASK 32
#define SET_TABLE 40
#define LIST_ITEM 24
#define SET_MAX_SLOTS (1u << 20)
#define GATHER_MAX_CHILDREN (1u << 16)
#define GATHER_DEPTH 8
#define MAX_INTERPS 4096
#define MAX_THREADS 100000
#define MAX_STACKTOP (1 << 20)

struct finder {
	struct pp_target *t;
	const struct task_layout *tl;
	uint64_t task_type;
	struct pp_tasks_build b;
	int err; /* -1: out of memory */
};

static const struct task_layout *layout_for(int minor)
{
	for (size_t i = 0; i < sizeof(LAYOUTS) / sizeof(*LAYOUTS); i++)
		if (LAYOUTS[i].minor == minor)
			return &LAYOUTS[i];
	return NULL;
}

/* The dict of module `name` in the interpreter whose sys.modules is
 * `modules`; 0 when absent. */
static uint64_t module_dict(struct pp_target *t, uint64_t modules, const char *name)
{
	const struct py_layout *l = &t->layout;
	uint64_t mod = 0, md = 0;
	if (!modules || l->mod_dict == PP_ABSENT ||
	    pp_dict_get_str(&t->obj, modules, name, &mod) != 0 ||
	    pp_mem_read_u64(&t->mem, mod + l->mod_dict, &md) != 0)
		return 0;
	return md;
}

static bool is_task(struct finder *f, uint64_t obj)
{
	uint64_t type = 0;
	return obj && pp_mem_read_u64(&f->t->mem, obj + f->t->layout.ob_type, &type) == 0 &&
	       type == f->task_type;
}

/* _PyGen_yf: what the suspended coroutine at coro (its header and frame
 * in head) awaits, or 0. */
static uint64_t yield_from(struct finder *f, uint64_t coro, const uint8_t *head, size_t hlen,
			   uint64_t instr)
{
	const struct task_layout *tl = f->tl;
	int8_t st = (int8_t)pp_get_u8(head, hlen, tl->gen_frame_state);
	if (st != tl->st_yield_from)
		return 0;
	if (tl->check_resume) {
		/* prev_instr[1]: the instruction it resumes at */
		uint8_t next[2];
		if (pp_mem_read(&f->t->mem, instr + 2, next, 2) != 0 || next[1] < 2 ||
		    (next[0] != tl->resume[0] && next[0] != tl->resume[1]))
			return 0;
	}
	const uint8_t *fr = head + tl->gen_iframe;
	int32_t top = (int32_t)pp_get_u32(fr, hlen - tl->gen_iframe, tl->if_stacktop);
	if (top < 1 || top > MAX_STACKTOP)
		return 0;
	uint64_t yf = 0;
	if (pp_mem_read_u64(&f->t->mem,
			    coro + tl->gen_iframe + tl->if_localsplus + (uint64_t)(top - 1) * 8,
			    &yf) != 0)
		return 0;
	return yf;
}

/* The coroutines the task runs, innermost first (collected outermost
 * first, turned round at the end). */
static int read_coro_chain(struct finder *f, struct pp_task *task, uint64_t coro)
{
	const struct py_layout *l = &f->t->layout;
	const struct task_layout *tl = f->tl;
	size_t cap = 0;
	uint64_t coro_type = 0;
	enum { HLEN = 80 + 80 };
	for (unsigned depth = 0; coro && depth < PP_TASK_CORO_DEPTH; depth++) {
		uint8_t head[HLEN];
		if (tl->gen_iframe + l->if_code + 8 > HLEN || tl->gen_iframe + l->if_instr + 8 > HLEN ||
		    tl->gen_iframe + tl->if_stacktop + 4 > HLEN ||
		    pp_mem_read(&f->t->mem, coro, head, sizeof(head)) != 0)
			break;
		uint64_t type = pp_get_u64(head, HLEN, l->ob_type);
		if (depth == 0)
			coro_type = type;
		else if (type != coro_type)
			break; /* a future's iterator, a generator of another kind */
		int8_t st = (int8_t)pp_get_u8(head, HLEN, tl->gen_frame_state);
		if (st < tl->st_first_live || st > 0)
			break; /* FRAME_COMPLETED, FRAME_CLEARED: no frame */
		const uint8_t *fr = head + tl->gen_iframe;
		size_t frlen = HLEN - tl->gen_iframe;
		uint64_t code = pp_get_u64(fr, frlen, l->if_code);
		uint64_t instr = pp_get_u64(fr, frlen, l->if_instr);
		const struct pp_code_entry *e = pp_code_cache_get(f->t->codes, &f->t->mem, code);
		if (!e)
			break;
		if (pp_task_add_frame(task, &cap, l, e, instr - code) != 0)
			return -1;
		coro = yield_from(f, coro, head, HLEN, instr);
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
	if (!is_task(f, addr))
		return 0; /* a dead weakref's None, a set's dummy, corrupt */
	int s = pp_tasks_seen_add(&f->b, addr);
	if (s != 0)
		return s < 0 ? -1 : 0;
	if (f->b.out->n >= PP_TASKS_MAX) {
		f->b.out->not_read++;
		return 0;
	}
	uint8_t buf[256];
	size_t size = f->tl->task_size;
	if (size > sizeof(buf) || pp_mem_read(&f->t->mem, addr, buf, size) != 0)
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
	task->loop = pp_get_u64(buf, size, f->tl->fut_loop);
	uint32_t st = pp_get_u32(buf, size, f->tl->fut_state);
	task->state = st <= PP_TASK_DONE ? (enum pp_task_state)st : PP_TASK_UNKNOWN;
	task->name = pp_task_read_name(f->t, pp_get_u64(buf, size, f->tl->task_name));
	return read_coro_chain(f, task, pp_get_u64(buf, size, f->tl->task_coro));
}

/* Each object of the set at `set` (through its weak reference when
 * `weak`) that is a task. */
static int walk_set(struct finder *f, uint64_t set, bool weak)
{
	uint64_t mask = 0, table = 0;
	if (!set || pp_mem_read_u64(&f->t->mem, set + SET_MASK, &mask) != 0 ||
	    pp_mem_read_u64(&f->t->mem, set + SET_TABLE, &table) != 0 || mask >= SET_MAX_SLOTS ||
	    ((mask + 1) & mask) != 0)
		return 0;
	size_t n = (size_t)mask + 1;
	uint64_t *entries = malloc(n * 16);
	if (!entries)
		return -1;
	int rc = 0;
	if (pp_mem_read(&f->t->mem, table, entries, n * 16) == 0)
		for (size_t i = 0; i < n && rc == 0; i++) {
			uint64_t obj = entries[2 * i];
			if (obj && weak && pp_mem_read_u64(&f->t->mem, obj + WR_OBJECT, &obj) != 0)
				continue;
			if (obj)
				rc = add_task(f, obj);
		}
	free(entries);
	return rc;
}

/* The WeakSet `name` of asyncio.tasks: its `data` set of weak refs. */
static int walk_weakset(struct finder *f, uint64_t md, const char *name)
{
	uint64_t ws = 0, data = 0;
	if (pp_dict_get_str(&f->t->obj, md, name, &ws) != 0 ||
	    pp_object_attr(&f->t->obj, ws, "data", &data) != 0)
		return 0;
	return walk_set(f, data, true);
}

static int walk_interpreter(struct finder *f, uint64_t interp)
{
	uint64_t modules = 0;
	if (pp_mem_read_u64(&f->t->mem, interp + f->t->layout.is_modules, &modules) != 0)
		return 0;
	uint64_t md = module_dict(f->t, modules, "asyncio.tasks");
	uint64_t amd = module_dict(f->t, modules, "_asyncio");
	uint64_t type = 0, size = 0;
	if (!md || !amd || pp_dict_get_str(&f->t->obj, amd, "Task", &type) != 0)
		return -ENOENT;
	if (f->t->layout.tp_basicsize == PP_ABSENT ||
	    pp_mem_read_u64(&f->t->mem, type + f->t->layout.tp_basicsize, &size) != 0 ||
	    size != f->tl->task_size)
		return -EPROTO;
	f->task_type = type;
	if (f->tl->minor == 11)
		return walk_weakset(f, md, "_all_tasks");
	int rc = walk_weakset(f, md, "_scheduled_tasks");
	uint64_t eager = 0;
	if (rc == 0 && pp_dict_get_str(&f->t->obj, md, "_eager_tasks", &eager) == 0)
		rc = walk_set(f, eager, false);
	return rc;
}

/* What task k awaits through the future `fut`: the task itself, or a
 * gather's children (gathers of gathers, to a bounded depth). */
static int add_awaited(struct finder *f, size_t k, uint64_t fut, unsigned depth)
{
	if (!fut || depth > GATHER_DEPTH)
		return 0;
	long w = pp_tasks_find(&f->b, fut);
	if (w >= 0)
		return (size_t)w == k ? 0 : pp_task_add_await(&f->b.out->v[k], (size_t)w);
	uint64_t children = 0, size = 0, items = 0;
	if (pp_object_attr(&f->t->obj, fut, "_children", &children) != 0 ||
	    pp_mem_read_u64(&f->t->mem, children + f->t->layout.ob_size, &size) != 0 ||
	    pp_mem_read_u64(&f->t->mem, children + LIST_ITEM, &items) != 0 ||
	    size > GATHER_MAX_CHILDREN)
		return 0;
	uint64_t *v = malloc((size ? size : 1) * 8);
	if (!v)
		return -1;
	int rc = 0;
	if (size && pp_mem_read(&f->t->mem, items, v, size * 8) == 0)
		for (size_t i = 0; i < size && rc == 0; i++)
			rc = add_awaited(f, k, v[i], depth + 1);
	free(v);
	return rc;
}

/* The event loop the thread state at ts runs, or 0: 3.13's
 * asyncio_running_loop, or 3.11/3.12's entry in the thread state's dict. */
static uint64_t running_loop(struct pp_target *t, const struct task_layout *tl, uint64_t ts)
{
	const struct py_layout *l = &t->layout;
	uint64_t loop = 0, dict = 0;
	if (tl->ts_dict == PP_ABSENT) {
		if (l->ts_asyncio_running_loop == PP_ABSENT ||
		    pp_mem_read_u64(&t->mem, ts + l->ts_asyncio_running_loop, &loop) != 0)
			return 0;
		return loop;
	}
	if (pp_mem_read_u64(&t->mem, ts + tl->ts_dict, &dict) != 0 || !dict ||
	    pp_dict_get_str(&t->obj, dict, "__asyncio_running_event_loop__", &loop) != 0)
		return 0;
	if (tl->holder_loop && pp_mem_read_u64(&t->mem, loop + tl->holder_loop, &loop) != 0)
		return 0;
	return loop;
}

/* Calls fn for every thread state of every interpreter; stops when fn
 * returns non-zero and returns that. A list that loops back to its head
 * ends there; one that loops elsewhere (corrupt) ends at MAX_THREADS steps
 * in all, interpreters and threads together. */
typedef int (*ts_fn)(uint64_t interp, uint64_t ts, void *ctx);
static int each_thread(struct pp_target *t, ts_fn fn, void *ctx, bool interps_only)
{
	const struct py_layout *l = &t->layout;
	uint64_t interp = 0, first = 0;
	unsigned budget = MAX_THREADS;
	if (pp_mem_read_u64(&t->mem, t->runtime + l->rt_interpreters_head, &interp) != 0)
		return -EIO;
	first = interp;
	for (unsigned i = 0; interp && i < MAX_INTERPS && budget; i++, budget--) {
		if (i && interp == first)
			break;
		int rc;
		if (interps_only) {
			if ((rc = fn(interp, 0, ctx)) != 0)
				return rc;
		} else {
			uint64_t ts = 0, ts0 = 0;
			if (pp_mem_read_u64(&t->mem, interp + l->is_threads_head, &ts) == 0)
				ts0 = ts;
			for (unsigned k = 0; ts && budget; k++, budget--) {
				if (k && ts == ts0)
					break;
				if ((rc = fn(interp, ts, ctx)) != 0)
					return rc;
				if (pp_mem_read_u64(&t->mem, ts + l->ts_next, &ts) != 0)
					break;
			}
		}
		if (pp_mem_read_u64(&t->mem, interp + l->is_next, &interp) != 0)
			break;
	}
	return 0;
}

struct walk_ctx { struct finder *f; bool any_asyncio; int layout_bad; };

static int visit_interp(uint64_t interp, uint64_t ts, void *ctx)
{
	(void)ts;
	struct walk_ctx *c = ctx;
	int rc = walk_interpreter(c->f, interp);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EPROTO) {
		c->layout_bad = 1;
		return 0;
	}
	if (rc)
		return rc;
	c->any_asyncio = true;
	return 0;
}

static int visit_loop_thread(uint64_t interp, uint64_t ts, void *ctx)
{
	(void)interp;
	struct finder *f = ctx;
	uint64_t loop = running_loop(f->t, f->tl, ts), tid = 0;
	if (!loop || f->t->layout.ts_native_thread_id == PP_ABSENT ||
	    pp_mem_read_u64(&f->t->mem, ts + f->t->layout.ts_native_thread_id, &tid) != 0)
		return 0;
	/* only loops that have tasks, or are known already */
	for (size_t i = 0; i < f->b.out->n; i++)
		if (f->b.out->v[i].loop == loop)
			return pp_tasks_add_loop(&f->b, loop, tid);
	return 0;
}

int pp_asyncio_tasks_311(struct pp_target *t, struct pp_tasks *out)
{
	struct finder f = {.t = t, .tl = layout_for(t->info.minor), .b.out = out};
	if (!f.tl)
		return -EPROTO;
	struct walk_ctx c = {&f, false, 0};
	int rc = each_thread(t, visit_interp, &c, true);
	if (rc == 0 && !c.any_asyncio)
		rc = c.layout_bad ? -EPROTO : -ENOENT;
	if (rc == 0) {
		rc = pp_tasks_group(&f.b);
		/* loops in the order of their tasks, with the thread running each */
		for (size_t i = 0; i < out->n && rc == 0; i++)
			rc = pp_tasks_add_loop(&f.b, out->v[i].loop, 0);
		if (rc == 0)
			each_thread(t, visit_loop_thread, &f, false);
		for (size_t i = 0; i < out->n && rc == 0; i++) {
			uint64_t waiter = 0;
			if (pp_mem_read_u64(&t->mem, out->v[i].addr + f.tl->task_fut_waiter,
					    &waiter) == 0)
				rc = add_awaited(&f, i, waiter, 0);
		}
	}
	pp_tasks_build_done(&f.b);
	return rc;
}

/* ---- the task a thread's loop runs now ------------------------------------ */

struct running_ctx {
	struct pp_target *t;
	const struct task_layout *tl;
	uint64_t native_id;
	uint64_t interp, loop;
};

static int find_thread_loop(uint64_t interp, uint64_t ts, void *ctx)
{
	struct running_ctx *c = ctx;
	uint64_t tid = 0;
	if (c->t->layout.ts_native_thread_id == PP_ABSENT ||
	    pp_mem_read_u64(&c->t->mem, ts + c->t->layout.ts_native_thread_id, &tid) != 0 ||
	    tid != c->native_id)
		return 0;
	c->interp = interp;
	c->loop = running_loop(c->t, c->tl, ts);
	return 1;
}

struct current_ctx { uint64_t loop, task; };

static int find_current(uint64_t key, uint64_t value, void *ctx)
{
	struct current_ctx *c = ctx;
	if (key != c->loop)
		return 0;
	c->task = value;
	return 1;
}

char *pp_asyncio_running_task_311(struct pp_target *t, uint64_t native_id)
{
	struct running_ctx c = {t, layout_for(t->info.minor), native_id, 0, 0};
	if (!c.tl || each_thread(t, find_thread_loop, &c, false) != 1 || !c.loop)
		return NULL;
	uint64_t modules = 0, current = 0;
	if (pp_mem_read_u64(&t->mem, c.interp + t->layout.is_modules, &modules) != 0)
		return NULL;
	uint64_t md = module_dict(t, modules, "asyncio.tasks");
	if (!md || pp_dict_get_str(&t->obj, md, "_current_tasks", &current) != 0)
		return NULL;
	struct current_ctx cc = {c.loop, 0};
	if (pp_dict_foreach(&t->obj, current, find_current, &cc) != 1 || !cc.task)
		return NULL;
	uint64_t amd = module_dict(t, modules, "_asyncio"), name = 0;
	struct finder f = {.t = t, .tl = c.tl};
	if (!amd || pp_dict_get_str(&t->obj, amd, "Task", &f.task_type) != 0 ||
	    !is_task(&f, cc.task) ||
	    pp_mem_read_u64(&t->mem, cc.task + c.tl->task_name, &name) != 0)
		return NULL;
	return pp_task_read_name(t, name);
}

/* ---- the same, cheaply, for the sampler ------------------------------------ */

static int resolve_current(struct pp_target *t, struct pp_current_311 *c, uint64_t interp)
{
	uint64_t modules = 0;
	*c = (struct pp_current_311){0};
	if (pp_mem_read_u64(&t->mem, interp + t->layout.is_modules, &modules) != 0)
		return -1;
	uint64_t md = module_dict(t, modules, "asyncio.tasks");
	uint64_t amd = module_dict(t, modules, "_asyncio");
	if (!md || !amd || pp_dict_get_str(&t->obj, md, "_current_tasks", &c->current) != 0 ||
	    pp_dict_get_str(&t->obj, amd, "Task", &c->task_type) != 0 || !c->current ||
	    !c->task_type) {
		*c = (struct pp_current_311){0};
		return -1;
	}
	c->interp = interp;
	return 0;
}

int pp_asyncio_current_task_311(struct pp_target *t, struct pp_current_311 *c, uint64_t interp,
				uint64_t ts, uint64_t *task, uint64_t *name)
{
	const struct task_layout *tl = layout_for(t->info.minor);
	if (!tl)
		return -1;
	uint64_t loop = running_loop(t, tl, ts);
	if (!loop)
		return -1; /* no loop running: no task (nothing to look up) */
	for (int attempt = 0; attempt < 2; attempt++) {
		/* found once; again when the interpreter differs or a read
		 * through what was found fails (the module re-imported) */
		if ((c->interp != interp || !c->current) && resolve_current(t, c, interp) != 0)
			return -1;
		struct current_ctx cc = {loop, 0};
		struct finder f = {.t = t, .tl = tl, .task_type = c->task_type};
		int rc = pp_dict_foreach(&t->obj, c->current, find_current, &cc);
		if (rc == 1 && is_task(&f, cc.task) &&
		    pp_mem_read_u64(&t->mem, cc.task + tl->task_name, name) == 0 && *name) {
			*task = cc.task;
			return 0;
		}
		if (rc == 0)
			return -1; /* the dict read, the loop runs no task now */
		c->current = 0;
	}
	return -1;
}
