/* The sampling loop; see sampler.h. */
#include "sampler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "cost_histogram.h"
#include "frame_marker.h"
#include "loop_stalls.h"
#include "native_capture.h"
#include "../reader/asyncio_tasks.h"
#include "../reader/native_merge.h"

/* Interned ids of one code object, cached by the reader's stable pointer so
 * a sample costs no string hashing. */
struct code_ids {
	const struct pp_code *code;
	pp_str_id function, name, file;
	/* the frame id of the line asked last: a caller's line does not move
	 * while its callee runs, so most frames of a sample hit it */
	int memo_line;
	pp_frame_id memo_frame; /* UINT32_MAX: none yet */
};

#define MARKER_SLOTS 8
/* asyncio Task names remembered, by (task, name object), each read again
 * after TASK_NAME_REUSE uses: a name freed by set_name() can have its
 * memory reused by the next name given, at the same address */
#define TASK_SLOTS 64
#define TASK_NAME_REUSE 16

struct task_slot {
	uint64_t task, name_obj;
	pp_str_id name;
	unsigned uses;
};

/* One process's side of the conversion. The code cache is per process:
 * the reader's pointers are stable only for its target's life, and a
 * subprocess can be detached and its memory reused while we record. */
struct converter {
	struct pp_profile *p;
	struct code_ids *slots;
	size_t cap, n;
	uint32_t pid;
	pp_str_id cmdline; /* for the `process PID: cmdline` root frame */
	uint64_t samples;
	/* the profile frames of [changing] and each [unreadable frame: ...] */
	pp_frame_id markers[MARKER_SLOTS];
	/* --native: the process's unwinder and symboliser, set up on its
	 * first sample (NULL until then, or when they could not be) */
	struct pp_native_capture *native;
	bool native_tried;
	/* 3.11+: the running asyncio Task of a thread whose stack runs an
	 * event loop callback (NULL before 3.11, or out of memory); which
	 * stacks do (the profile's, classified as they come); the names read */
	struct pp_running_tasks *tasks;
	struct pp_loop_classes loops;
	struct task_slot names[TASK_SLOTS];
	struct pp_cost_histogram *task_costs; /* the run's, set for each sample */
};

static void converter_free(void *v)
{
	struct converter *c = v;
	if (c) {
		free(c->slots);
		if (c->native)
			pp_native_capture_free(c->native);
		free(c->native);
		pp_running_tasks_free(c->tasks);
		pp_loop_classes_free(&c->loops);
	}
	free(c);
}

/* Long enough to tell commands apart, short enough for a flame graph's
 * root frame: the program's directory goes (the metadata keeps the whole
 * command line), and what is still too long ends in "...", cut between
 * characters. */
#define CMDLINE_LABEL_MAX 60

static pp_str_id cmdline_label(struct pp_profile *p, const char *cmd)
{
	const char *args = strchr(cmd, ' ');
	const char *end0 = args ? args : cmd + strlen(cmd);
	for (const char *c = cmd; c < end0; c++)
		if (*c == '/' && c + 1 < end0)
			cmd = c + 1; /* /usr/bin/python3.11 -> python3.11 */
	size_t n = strlen(cmd);
	if (n <= CMDLINE_LABEL_MAX)
		return pp_profile_str(p, cmd);
	char buf[CMDLINE_LABEL_MAX + 4];
	n = CMDLINE_LABEL_MAX - 3;
	while (n > 0 && ((unsigned char)cmd[n] & 0xc0) == 0x80)
		n--; /* not inside a UTF-8 sequence */
	memcpy(buf, cmd, n);
	memcpy(buf + n, "...", 4);
	return pp_profile_str(p, buf);
}

/* The converter of a process of the set, made on its first sample. */
static struct converter *converter_of(struct pp_process *pr, struct pp_profile *p, bool tasks)
{
	if (pr->user)
		return pr->user;
	struct converter *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	const struct pp_target_info *info = pp_target_get_info(pr->target);
	*c = (struct converter){.p = p, .pid = (uint32_t)info->pid,
				.cmdline = cmdline_label(p, info->cmdline ? info->cmdline : "")};
	if (c->cmdline == UINT32_MAX) {
		free(c);
		return NULL;
	}
	/* The running Task is there to read on 3.11+ only; without it the
	 * sample is as before. */
	if (tasks && info->major == 3 && info->minor >= 11)
		c->tasks = pp_running_tasks_new(pr->target);
	pr->user = c;
	pr->free_user = converter_free;
	return c;
}

static size_t hash_ptr(const void *p)
{
	uint64_t a = (uintptr_t)p;
	a ^= a >> 33;
	a *= 0xff51afd7ed558ccdull;
	return (size_t)(a ^ (a >> 33));
}

static struct code_ids *ids_of(struct converter *c, const struct pp_code *code)
{
	if ((c->n + 1) * 2 > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		struct code_ids *ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return NULL;
		for (size_t i = 0; i < c->cap; i++) {
			if (!c->slots[i].code)
				continue;
			size_t j = hash_ptr(c->slots[i].code) & (ncap - 1);
			while (ns[j].code)
				j = (j + 1) & (ncap - 1);
			ns[j] = c->slots[i];
		}
		free(c->slots);
		c->slots = ns;
		c->cap = ncap;
	}
	size_t j = hash_ptr(code) & (c->cap - 1);
	for (; c->slots[j].code; j = (j + 1) & (c->cap - 1))
		if (c->slots[j].code == code)
			return &c->slots[j];
	/* A name or file the reader could not read is "?". */
	struct code_ids e = {code, pp_profile_str(c->p, code->qualname ? code->qualname : "?"),
			     pp_profile_str(c->p, code->name ? code->name : "?"),
			     pp_profile_str(c->p, code->filename ? code->filename : "?"),
			     0, UINT32_MAX};
	if (e.function == UINT32_MAX || e.name == UINT32_MAX || e.file == UINT32_MAX)
		return NULL;
	c->slots[j] = e;
	c->n++;
	return &c->slots[j];
}

static enum pp_sample_gil gil_of(enum pp_gil_state g)
{
	switch (g) {
	case PP_GIL_HELD: return PP_SGIL_HELD;
	case PP_GIL_WAITING: return PP_SGIL_WAITING;
	case PP_GIL_RELEASED: return PP_SGIL_RELEASED;
	default: return PP_SGIL_UNKNOWN;
	}
}

static enum pp_sample_os os_of(enum pp_os_run r)
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

/* The profile frame of a marker (cached for the fixed labels). */
static pp_frame_id marker_frame(struct converter *c, const struct pp_frame *f)
{
	bool fixed = f->kind != PP_RF_NOT_READ;
	size_t slot = f->kind == PP_RF_CHANGING ? 0 : 1 + f->why;
	if (fixed && slot < MARKER_SLOTS && c->markers[slot])
		return c->markers[slot];
	char label[96];
	pp_frame_marker_label(f, label, sizeof label);
	pp_str_id s = pp_profile_str(c->p, label);
	if (s == UINT32_MAX)
		return UINT32_MAX;
	struct pp_pframe pf = {s, s, 0, PP_LINE_NONE, 0, PP_FRAME_MARKER};
	pp_frame_id id = pp_profile_frame(c->p, &pf);
	if (fixed && slot < MARKER_SLOTS && id != UINT32_MAX)
		c->markers[slot] = id;
	return id;
}

static pp_frame_id python_frame(struct converter *c, const struct pp_frame *f)
{
	struct code_ids *ids = ids_of(c, f->code);
	if (!ids)
		return UINT32_MAX;
	int line = f->line;
	if (ids->memo_frame == UINT32_MAX || ids->memo_line != line) {
		struct pp_pframe pf = {ids->function, ids->name, ids->file, line,
				       f->code->firstlineno, PP_FRAME_PYTHON};
		ids->memo_frame = pp_profile_frame(c->p, &pf);
		ids->memo_line = line;
	}
	return ids->memo_frame;
}

static uint32_t python_frames(const struct pp_thread *th)
{
	uint32_t n = 0;
	for (size_t k = 0; k < th->nframes; k++)
		n += th->frames[k].kind == PP_RF_PYTHON;
	return n;
}

/* The file name of a path (a native frame's library). */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

static pp_frame_id native_frame(struct converter *c, const struct pp_native_sym *sym)
{
	const char *lib = sym->library ? base_name(sym->library) : "?";
	struct pp_pframe pf = {pp_profile_str(c->p, sym->function ? sym->function : "?"),
			       pp_profile_str(c->p, lib),
			       pp_profile_str(c->p, sym->file ? sym->file : lib),
			       sym->file && sym->line > 0 ? sym->line : PP_LINE_NONE, 0,
			       PP_FRAME_NATIVE};
	if (pf.function == UINT32_MAX || pf.name == UINT32_MAX || pf.file == UINT32_MAX)
		return UINT32_MAX;
	return pp_profile_frame(c->p, &pf);
}

/* The thread's merged stack as profile stacks, root first; PP_EMPTY_STACK
 * in *out when it could not be merged (*merged false). -1 out of memory. */
static int native_stack(struct converter *c, const struct pp_thread *th, pp_stack_id *out,
			bool *merged)
{
	*merged = false;
	size_t npcs = 0;
	const uint64_t *pcs = pp_native_capture_pcs(c->native, th->native_id, &npcs);
	struct pp_native_stack ns;
	if (pp_native_merge(th->frames, th->nframes, pcs, npcs, c->native->sym, &ns) != 0)
		return -1;
	int rc = 0;
	pp_stack_id stack = PP_EMPTY_STACK;
	if (ns.result == PP_MERGE_OK) {
		*merged = true;
		for (size_t k = ns.nmerged; k-- > 0 && rc == 0;) {
			const struct pp_merged_frame *m = &ns.merged[k];
			pp_frame_id fid = m->python ? python_frame(c, &th->frames[m->py_index])
						    : native_frame(c, &m->sym);
			if (fid == UINT32_MAX ||
			    (stack = pp_profile_stack(c->p, stack, fid)) == UINT32_MAX)
				rc = -1;
		}
	}
	pp_native_stack_free(&ns);
	*out = stack;
	return rc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The string id of the name of Task `task` whose name object is
 * name_obj: remembered by the pair (set_name() makes a new name object), read
 * on a miss and every TASK_NAME_REUSE uses. 0: unreadable; UINT32_MAX: out
 * of memory. */
static pp_str_id task_name_id(struct converter *c, uint64_t task, uint64_t name_obj)
{
	struct task_slot *slot = &c->names[(hash_ptr((const void *)(uintptr_t)(task ^ name_obj))) %
					   TASK_SLOTS];
	if (slot->name && slot->task == task && slot->name_obj == name_obj &&
	    ++slot->uses < TASK_NAME_REUSE)
		return slot->name;
	char *name = pp_running_task_name(c->tasks, name_obj);
	if (!name || !name[0]) {
		free(name);
		return 0;
	}
	pp_str_id id = pp_profile_str(c->p, name);
	free(name);
	if (id != UINT32_MAX)
		*slot = (struct task_slot){task, name_obj, id, 0};
	return id;
}

/* Name the Task of the sample just added, of thread th whose leaf is
 * `stack`, when that stack runs an event loop callback. -1 when out of
 * memory. */
static int add_task(struct converter *c, const struct pp_thread *th, pp_stack_id stack,
		    struct pp_sampler_stats *st)
{
	if (stack >= c->loops.n && pp_loop_classify(&c->loops, c->p) != 0)
		return -1;
	if (stack >= c->loops.n || c->loops.state[stack] != PP_LOOP_BUSY)
		return 0;
	uint64_t before = now_ns(), task = 0, name_obj = 0;
	int found = pp_running_task_peek(c->tasks, th->ns_id ? th->ns_id : th->native_id, &task,
					 &name_obj);
	pp_str_id id = found == 0 ? task_name_id(c, task, name_obj) : 0;
	uint64_t took = now_ns() - before;
	st->task_reads++;
	st->task_read_ns += took;
	if (c->task_costs)
		pp_cost_add(c->task_costs, took);
	if (id == UINT32_MAX)
		return -1;
	if (id == 0)
		return 0;
	size_t n;
	pp_profile_samples(c->p, &n);
	if (pp_profile_set_sample_task(c->p, n - 1, id) != 0)
		return -1;
	st->tasks_named++;
	return 0;
}

/* Add one snapshot to the profile. -1 when out of memory. */
static int add_snapshot(struct converter *c, const struct pp_sample *s, uint64_t t0,
			struct pp_sampler_stats *st)
{
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct pp_thread *th = &s->threads[i];
		if (th->dropped) {
			st->dropped++;
			continue;
		}
		struct pp_pthread pt = {c->pid, th->native_id,
					th->name ? pp_profile_str(c->p, th->name) : 0, c->cmdline};
		uint32_t tid = pp_profile_thread(c->p, &pt);
		pp_stack_id stack = PP_EMPTY_STACK;
		bool merged = false;
		if (c->native) {
			if (native_stack(c, th, &stack, &merged) != 0)
				return -1;
			st->native_unmerged += !merged;
		}
		for (size_t k = merged ? 0 : th->nframes; k-- > 0;) { /* root first */
			const struct pp_frame *f = &th->frames[k];
			pp_frame_id fid = f->kind == PP_RF_PYTHON ? python_frame(c, f)
								  : marker_frame(c, f);
			if (fid == UINT32_MAX || tid == UINT32_MAX ||
			    (stack = pp_profile_stack(c->p, stack, fid)) == UINT32_MAX)
				return -1;
		}
		struct pp_psample ps = {s->time_ns - t0, tid, stack, (uint8_t)gil_of(th->gil),
					(uint8_t)os_of(th->os.run)};
		if (pp_profile_add_sample(c->p, &ps) != 0)
			return -1;
		if (c->tasks && stack != PP_EMPTY_STACK && add_task(c, th, stack, st) != 0)
			return -1;
		st->thread_samples++;
		if (th->changing) {
			st->cut++;
			st->cut_depth_sum += python_frames(th);
			st->cut_walked_sum += th->walked_depth;
		}
		st->unreadable += th->unreadable;
	}
	return 0;
}

static enum pp_err oom(struct pp_error *err)
{
	err->code = PP_ERR_IO;
	snprintf(err->msg, sizeof(err->msg), "out of memory");
	return PP_ERR_IO;
}

static void cost_stats(const struct pp_cost_histogram *h, struct pp_sampler_stats *st)
{
	st->cost_median_ns = pp_cost_quantile(h, 0.5);
	st->cost_p99_ns = pp_cost_quantile(h, 0.99);
}

/* One snapshot of process pr into the profile. Returns the reader's error
 * (the process is not sampled) or PP_OK; *oom when the profile could not
 * grow. */
static enum pp_err sample_one(struct pp_process *pr, struct pp_profile *p, unsigned flags,
			      bool native, bool tasks, unsigned names_every, struct pp_sample *s, uint64_t start,
			      struct pp_cost_histogram *costs, struct pp_cost_histogram *task_costs,
			      struct pp_sampler_stats *st,
			      int *oom_out,
			      struct pp_error *err)
{
	struct converter *c = converter_of(pr, p, tasks);
	if (!c) {
		*oom_out = 1;
		return PP_OK;
	}
	/* Names change rarely and cost a walk of threading._active: read them
	 * on a process's first sample and about once a second. */
	unsigned f = flags | (c->samples % names_every == 0 ? PP_SAMPLE_NAMES : 0);
	if (native && !c->native_tried) {
		/* A process whose mappings cannot be read is sampled as
		 * without --native. */
		c->native_tried = true;
		char msg[300];
		c->native = calloc(1, sizeof(*c->native));
		if (c->native && pp_native_capture_init(c->native, pr->target, msg, sizeof(msg)) != 0) {
			free(c->native);
			c->native = NULL;
		}
	}
	uint64_t unwind_before = c->native ? c->native->unwind_ns : 0;
	uint64_t before = now_ns();
	enum pp_err e = pp_target_sample(pr->target, f, s, err);
	uint64_t after = now_ns();
	if (e != PP_OK)
		return e;
	pp_cost_add(costs, after - before);
	if (c->native)
		st->native_unwind_ns += c->native->unwind_ns - unwind_before;
	st->samples++;
	c->samples++;
	c->task_costs = task_costs;
	if (add_snapshot(c, s, start, st) != 0)
		*oom_out = 1;
	return PP_OK;
}

enum pp_err pp_sampler_run(struct pp_process_set *set, struct pp_profile *p,
			   const struct pp_sampler_opts *o, struct pp_sampler_stats *st,
			   struct pp_error *err)
{
	memset(st, 0, sizeof(*st));
	/* Wake on the deadline, not up to 50 us after it (Linux's default
	 * timer slack): at 5 kHz that slack alone would skip ticks. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	struct pp_cost_histogram *costs = calloc(1, sizeof(*costs));
	struct pp_cost_histogram *task_costs = calloc(1, sizeof(*task_costs));
	if (!costs || !task_costs) {
		free(costs);
		free(task_costs);
		return oom(err);
	}
	struct pp_sample s = {0};
	/* back to back: thread names about every 10 000 samples instead */
	unsigned rate = o->back_to_back ? 10000 : o->rate_hz ? o->rate_hz : 100;
	uint64_t period = 1000000000ull / rate;
	uint64_t start = now_ns(), next = start, last_tick = start;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	st->start_unix_ns = (uint64_t)wall.tv_sec * 1000000000ull + (uint64_t)wall.tv_nsec;
	uint64_t end = o->duration_s > 0 ? start + (uint64_t)(o->duration_s * 1e9) : UINT64_MAX;
	unsigned flags = (o->os_state ? PP_SAMPLE_OS_STATE | PP_SAMPLE_OS_FAST : 0) |
			 (o->blocking || o->native ? PP_SAMPLE_PAUSE : 0);
	enum pp_err rc = PP_OK;
	int done = 0;
	while (!done && !(o->stop && *o->stop)) {
		pp_process_set_refresh(set, false);
		if (pp_process_set_root_gone(set)) {
			if (st->samples > 0) {
				st->end = PP_ERR_GONE; /* the root exited: done */
			} else {
				err->code = rc = PP_ERR_GONE;
				snprintf(err->msg, sizeof(err->msg), "the process exited "
					 "before anything could be sampled");
			}
			break;
		}
		int sampled = 0, out_of_memory = 0;
		for (size_t i = 0; i < pp_process_set_count(set) && !out_of_memory;) {
			struct pp_process *pr = pp_process_set_at(set, i);
			struct pp_error perr;
			enum pp_err e = sample_one(pr, p, flags, o->native, o->tasks, rate, &s, start, costs,
						   task_costs, st,
						   &out_of_memory, pr->root ? err : &perr);
			if (e == PP_OK) {
				sampled = 1;
				i++;
			} else if (pp_process_set_execd(set, i)) {
				/* It exec'd: detached, its new program
				 * tried by the set (process_set.h). */
			} else if (!pr->root) {
				/* A subprocess exited (or exec'd, or became
				 * unreadable): its samples stay, it goes. */
				pp_process_set_drop(set, i);
			} else {
				if (e == PP_ERR_GONE && st->samples > 0)
					st->end = PP_ERR_GONE; /* the root exited: done */
				else
					rc = e;
				done = 1;
				break;
			}
		}
		if (out_of_memory) {
			rc = oom(err);
			break;
		}
		uint64_t after = now_ns();
		st->ticks += (uint64_t)sampled;
		st->processes = pp_process_set_count(set);
		st->processes_seen = pp_process_set_seen(set);
		st->elapsed_ns = after - start;
		if (done)
			break;
		if (o->tick && after - last_tick >= 100000000ull) {
			last_tick = after;
			cost_stats(costs, st);
			if (o->tick(o->tick_ctx, p, st))
				break;
		}
		if (o->back_to_back) {
			if (after >= end)
				break;
			if (!sampled) { /* nothing attached: no busy loop */
				struct timespec ms1 = {0, 1000000L};
				nanosleep(&ms1, NULL);
			}
			continue;
		}
		/* Next deadline; ticks we overran are skipped, and counted. */
		next += period;
		if (after > next) {
			uint64_t skip = (after - next) / period + 1;
			st->missed += skip;
			next += skip * period;
		}
		if (next >= end)
			break;
		struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			if (o->stop && *o->stop)
				break;
	}
	st->elapsed_ns = now_ns() - start;
	st->processes = pp_process_set_count(set);
	st->processes_seen = pp_process_set_seen(set);
	cost_stats(costs, st);
	st->task_read_median_ns = pp_cost_quantile(task_costs, 0.5);
	st->task_read_p99_ns = pp_cost_quantile(task_costs, 0.99);
	free(costs);
	free(task_costs);
	pp_sample_free(&s);
	return rc;
}
