/* The asyncio Tasks of a process (3.11+): every C Task of every event
 * loop. On 3.14+ found through the lists the interpreter keeps of them
 * (each thread state's and its interpreter's asyncio_tasks_head), described
 * by the _asyncio module's own debug offsets (its .AsyncioDebug section);
 * on 3.11-3.13 through asyncio.tasks' registries of them, with layouts
 * verified per version (asyncio_tasks_311.c).
 *
 * For each Task: its name, state, the suspended coroutines it runs (the
 * task's coroutine, then the coroutine that one awaits, and so on, as
 * Python frames), and which other Tasks it awaits (from each Task's
 * awaited-by record, which asyncio keeps for `await task` and gather()).
 *
 * Every read is bounded and checked, every list walk is bounded and stops
 * at a node seen before: corrupt memory gives fewer tasks, never a crash.
 */
#ifndef PYPROBE_READER_ASYNCIO_TASKS_H
#define PYPROBE_READER_ASYNCIO_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reader.h"

/* More tasks than this are not read (the rest are counted). */
#define PP_TASKS_MAX 100000
/* Coroutines deeper than this in one task's await chain are not read. */
#define PP_TASK_CORO_DEPTH 1024

enum pp_task_state {
	PP_TASK_PENDING = 0,
	PP_TASK_CANCELLED,
	PP_TASK_DONE,
	PP_TASK_UNKNOWN,
};

struct pp_task {
	uint64_t addr;
	uint64_t loop;            /* its event loop object */
	size_t found;             /* the order it was found in */
	char *name;               /* UTF-8, or NULL: unreadable */
	enum pp_task_state state;
	/* innermost coroutine first; PP_RF_PYTHON frames whose code points
	 * into the target's code cache (valid until its next sample) */
	struct pp_frame *frames;
	size_t nframes;
	size_t *awaits;           /* indexes into pp_tasks.v */
	size_t nawaits;
};

struct pp_task_loop {
	uint64_t addr;
	uint64_t thread;          /* native id of the thread running it, or 0 */
};

struct pp_tasks {
	struct pp_task *v;        /* grouped by loop, in the order found */
	size_t n;
	struct pp_task_loop *loops;
	size_t nloops;
	size_t not_read;          /* past PP_TASKS_MAX */
	bool no_asyncio;          /* the process has no _asyncio module loaded */
};

/* Read every task of t (pause the target around it when `pause`). PP_OK;
 * PP_ERR_NOT_PYTHON with a one-line message on versions before 3.11 (or a
 * 3.11-3.13 whose Task is not laid out as pyprobe knows it); the target's
 * errors (gone, permission) as the sampler gives them. */
enum pp_err pp_target_asyncio_tasks(struct pp_target *t, bool pause,
				    struct pp_tasks *out, struct pp_error *err);
void pp_tasks_free(struct pp_tasks *ts);

/* The name of the Task the thread with native id `native_id` runs now (its
 * event loop's current task), malloc'd UTF-8; NULL when it runs none, on
 * versions before 3.11, or when it cannot be read. Pauses the target around
 * the read when `pause`. */
char *pp_target_asyncio_running_task(struct pp_target *t, uint64_t native_id, bool pause);
const char *pp_task_state_name(enum pp_task_state s); /* "pending", ... */

/* The same for the sampler, at every sample of a thread whose stack runs
 * an event loop callback: what it finds once (the _asyncio debug offsets
 * on 3.14+; asyncio.tasks._current_tasks and the Task type on 3.11-3.13;
 * each thread's thread state) is kept, and found again only when a read
 * through it fails. Does not pause the target: the caller reads the Task
 * just after the stack, so a callback shorter than that gap can be
 * credited to the next one's Task. Never on versions before 3.11. */
struct pp_running_tasks;
struct pp_running_tasks *pp_running_tasks_new(struct pp_target *t); /* NULL: out of memory */
void pp_running_tasks_free(struct pp_running_tasks *rt);
/* The Task the thread with (the target's own) id ns_id runs now: 0 with
 * its address and its name object's (which changes when set_name() gives
 * it a new name: callers cache names by the pair, and read them again now
 * and then, since a freed name's memory can hold the next name); -1 when it runs none or
 * it cannot be read. */
int pp_running_task_peek(struct pp_running_tasks *rt, uint64_t ns_id, uint64_t *task,
			 uint64_t *name_obj);
/* A name object's text (a str, or the int n of a 3.12+ "Task-n" not yet
 * asked for): malloc'd UTF-8, or NULL. */
char *pp_running_task_name(struct pp_running_tasks *rt, uint64_t name_obj);

#endif
