/* asyncio Tasks on 3.11, 3.12 and 3.13 (internal to the reader: the public
 * contract is asyncio_tasks.h). These versions have no .AsyncioDebug
 * section and no per-thread task lists: the tasks are found the way
 * asyncio.all_tasks() finds them there, through the asyncio.tasks module's
 * registry (sys.modules), and read with the C Task layout of each version
 * (table in asyncio_tasks_311.c, verified against the interpreters).
 */
#ifndef PYPROBE_READER_ASYNCIO_TASKS_311_H
#define PYPROBE_READER_ASYNCIO_TASKS_311_H

#include "asyncio_tasks.h"

struct pp_target;

/* Every task of t into out (tasks grouped by loop, awaits resolved),
 * the target already paused when it has to be. 0; -ENOENT when no
 * interpreter has asyncio.tasks imported (out->no_asyncio is then the
 * caller's to set); -EPROTO when the C Task type is not laid out as this
 * version's table says; -EIO when the interpreters cannot be read; -1 out
 * of memory. */
int pp_asyncio_tasks_311(struct pp_target *t, struct pp_tasks *out);

/* The name of the task each event loop runs now (asyncio's
 * _current_tasks), for the loop run by the thread whose native id is
 * `native_id`: a malloc'd UTF-8 string, or NULL when none is running or it
 * cannot be read. 3.11-3.13, target paused. */
char *pp_asyncio_running_task_311(struct pp_target *t, uint64_t native_id);

/* What pp_asyncio_current_task_311() keeps between calls: found once,
 * found again when a read through them fails. Start from {0}. */
struct pp_current_311 {
	uint64_t interp;    /* the interpreter they were found in */
	uint64_t current;   /* asyncio.tasks._current_tasks (a dict) */
	uint64_t task_type; /* _asyncio.Task */
};

/* The Task the thread state ts (of interpreter interp) runs now: its
 * loop's entry in _current_tasks. 0 with *task and *name (the Task's
 * name object, for pp_target_task_name()) set; -1 when it runs none or it
 * cannot be read. 3.11-3.13; the caller pauses the target or not. */
int pp_asyncio_current_task_311(struct pp_target *t, struct pp_current_311 *c, uint64_t interp,
				uint64_t ts, uint64_t *task, uint64_t *name);

#endif
