/* The reader's asyncio tasks -> the dump's model (dump_tasks.h). */
#include "dump_tasks.h"

#include <stdlib.h>
#include <string.h>

#include "../reader/asyncio_tasks.h"

int pp_dump_tasks_build(const struct pp_tasks *ts, struct pp_dump_tasks_taken *out)
{
	memset(out, 0, sizeof(*out));
	size_t nframes = 0;
	for (size_t i = 0; i < ts->n; i++)
		nframes += ts->v[i].nframes;
	out->tasks = calloc(ts->n ? ts->n : 1, sizeof(*out->tasks));
	out->loops = calloc(ts->nloops ? ts->nloops : 1, sizeof(*out->loops));
	out->frames = calloc(nframes ? nframes : 1, sizeof(*out->frames));
	if (!out->tasks || !out->loops || !out->frames) {
		pp_dump_tasks_free(out);
		return -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < ts->n; i++) {
		const struct pp_task *t = &ts->v[i];
		struct pp_dump_task *d = &out->tasks[i];
		d->name = t->name;
		d->state = pp_task_state_name(t->state);
		d->frames = out->frames + k;
		d->nframes = t->nframes;
		d->awaits = t->awaits;
		d->nawaits = t->nawaits;
		for (size_t j = 0; j < t->nframes; j++, k++) {
			const struct pp_code *c = t->frames[j].code;
			out->frames[k] = (struct pp_dump_frame){
				.function = c ? c->qualname : NULL, .name = c ? c->name : NULL,
				.file = c ? c->filename : NULL, .line = t->frames[j].line,
				.kind = PP_DUMP_FRAME_PYTHON};
		}
	}
	/* the reader groups tasks by loop; a loop with no task is still shown */
	size_t nl = 0;
	for (size_t l = 0; l < ts->nloops; l++) {
		struct pp_dump_loop *d = &out->loops[nl++];
		d->addr = ts->loops[l].addr;
		d->thread = ts->loops[l].thread;
		d->first = 0;
		d->ntasks = 0;
		for (size_t i = 0; i < ts->n; i++)
			if (ts->v[i].loop == d->addr) {
				if (!d->ntasks)
					d->first = i;
				d->ntasks++;
			}
	}
	out->model = (struct pp_dump_asyncio){out->tasks, ts->n, out->loops, nl,
					      ts->not_read, ts->no_asyncio};
	return 0;
}

void pp_dump_tasks_free(struct pp_dump_tasks_taken *d)
{
	free(d->tasks);
	free(d->loops);
	free(d->frames);
	memset(d, 0, sizeof(*d));
}
