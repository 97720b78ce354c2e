/* Building a struct pp_tasks (asyncio_tasks.h), whichever way the tasks
 * were found - 3.14+'s per-thread lists (asyncio_tasks.c) or 3.11-3.13's
 * registries (asyncio_tasks_311.c): the addresses already seen (a task or
 * node met twice is a loop in corrupt memory, not a second task), the event
 * loops, the grouping by loop and the index by address that awaits are
 * resolved through. Internal to reader/. */
#ifndef PYPROBE_READER_TASKS_BUILD_H
#define PYPROBE_READER_TASKS_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "asyncio_tasks.h"
#include "code_cache.h"
#include "layout.h"

struct pp_task_addr;

struct pp_tasks_build {
	struct pp_tasks *out;
	size_t cap, loops_cap;      /* of out->v, out->loops */
	uint64_t *seen;             /* open addressing, 0 = empty */
	size_t seen_cap, seen_n;
	struct pp_task_addr *index; /* after pp_tasks_group: out->v by address */
};

/* 1 if addr was seen already, 0 if new (now recorded), -1 out of memory. */
int pp_tasks_seen_add(struct pp_tasks_build *b, uint64_t addr);
/* Record event loop `loop` (once; its thread when known, 0 if not).
 * 0, or -1 out of memory. At most PP_TASK_LOOPS_MAX loops are kept. */
int pp_tasks_add_loop(struct pp_tasks_build *b, uint64_t loop, uint64_t thread);
#define PP_TASK_LOOPS_MAX 4096
/* Sort out->v by loop (in the order found within one) and index it by
 * address. 0, or -1 out of memory. */
int pp_tasks_group(struct pp_tasks_build *b);
/* The index in out->v of the task at addr (after pp_tasks_group), or -1. */
long pp_tasks_find(const struct pp_tasks_build *b, uint64_t addr);
/* Free what building used (not out). */
void pp_tasks_build_done(struct pp_tasks_build *b);

/* waiter awaits out->v[awaited] (once). 0, or -1 out of memory. */
int pp_task_add_await(struct pp_task *waiter, size_t awaited);
/* Append to task's coroutine stack the frame of code entry e suspended
 * `offset` bytes past its code object (its instruction pointer less the
 * code's address); *cap: task->frames' capacity. 0, or -1 out of memory. */
int pp_task_add_frame(struct pp_task *task, size_t *cap, const struct py_layout *l,
		      const struct pp_code_entry *e, uint64_t offset);
/* The line of code unit `unit` of a code object, or PP_FRAME_LINE_UNKNOWN. */
int pp_task_line(const struct py_layout *l, const struct pp_code_entry *e, int64_t unit);
/* A task's name object as text: a str, or the int 3.12+ keeps until the
 * name is asked for ("Task-N"). Malloc'd; NULL if unreadable. */
struct pp_target;
char *pp_task_read_name(struct pp_target *t, uint64_t obj);

#endif
