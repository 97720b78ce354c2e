/* The asyncio part of a dump (`dump --tasks`): each event loop's Tasks,
 * as plain data for the renderers (render/dump_tasks_text.c, _json.c).
 * Built from the reader's pp_tasks (reader/asyncio_tasks.h). */
#ifndef PYPROBE_DUMP_TASKS_H
#define PYPROBE_DUMP_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "dump_model.h"

struct pp_dump_task {
	const char *name;        /* or NULL: unreadable */
	const char *state;       /* "pending", "cancelled", "done", "unknown" */
	const struct pp_dump_frame *frames; /* innermost coroutine first */
	size_t nframes;
	const size_t *awaits;    /* indexes into pp_dump_asyncio.tasks */
	size_t nawaits;
};

struct pp_dump_loop {
	uint64_t addr;           /* the loop object's address */
	uint64_t thread;         /* native id of the thread running it, or 0 */
	size_t first, ntasks;    /* its tasks: tasks[first .. first+ntasks) */
};

struct pp_dump_asyncio {
	const struct pp_dump_task *tasks;
	size_t ntasks;
	const struct pp_dump_loop *loops;
	size_t nloops;
	size_t not_read;         /* tasks past the reader's limit */
	int no_asyncio;          /* the _asyncio module is not loaded */
};

struct pp_tasks;
struct pp_dump_tasks_taken {
	struct pp_dump_asyncio model;
	struct pp_dump_task *tasks;
	struct pp_dump_loop *loops;
	struct pp_dump_frame *frames;
};

/* Turn the reader's tasks into the model (strings borrowed from ts and the
 * target's code cache). 0, or -1 out of memory. */
int pp_dump_tasks_build(const struct pp_tasks *ts, struct pp_dump_tasks_taken *out);
void pp_dump_tasks_free(struct pp_dump_tasks_taken *d);

#endif
