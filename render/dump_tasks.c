/* The asyncio part of a dump (`dump --tasks`, src/dump_tasks.h), as text
 * (a tree like `python -m asyncio pstree`) and as JSON (docs/dump.md). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "json_str.h"
#include "render.h"
#include "text_str.h"

/* Deeper await chains than this are cut with a marker line. */
#define TREE_DEPTH_MAX 256

static void put_text(const char *s, FILE *out)
{
	pp_text_str(s ? s : "?", 0, out);
}

struct tree {
	const struct pp_dump_asyncio *a;
	FILE *out;
	bool *on_path;     /* tasks on the path from the root: a cycle guard */
	char prefix[4 * TREE_DEPTH_MAX * 4 + 8];
	size_t plen;
};

static void branch(struct tree *t, bool last)
{
	fwrite(t->prefix, 1, t->plen, t->out);
	fputs(last ? "└── " : "├── ", t->out);
}

/* Push the prefix the children of a node drawn with branch(last) get. */
static size_t push(struct tree *t, bool last)
{
	size_t was = t->plen;
	const char *s = last ? "    " : "│   ";
	size_t n = last ? 4 : 6;
	if (t->plen + n < sizeof(t->prefix)) {
		for (size_t i = 0; i < n; i++)
			t->prefix[t->plen++] = s[i];
	}
	return was;
}

static void put_task(struct tree *t, size_t k, bool last, unsigned depth)
{
	const struct pp_dump_task *task = &t->a->tasks[k];
	branch(t, last);
	fputs("(T) ", t->out);
	put_text(task->name, t->out);
	if (task->state && task->state[0] != 'p')
		fprintf(t->out, " [%s]", task->state);
	if (t->on_path[k]) {
		fputs(" (await cycle: shown above)\n", t->out);
		return;
	}
	fputc('\n', t->out);
	if (depth >= TREE_DEPTH_MAX) {
		size_t was = push(t, last);
		branch(t, true);
		fputs("[deeper awaits not shown]\n", t->out);
		t->plen = was;
		return;
	}
	t->on_path[k] = true;
	size_t was = push(t, last);
	/* the coroutines outermost first, each under the one awaiting it */
	for (size_t j = task->nframes; j-- > 0;) {
		const struct pp_dump_frame *f = &task->frames[j];
		branch(t, true);
		fputs(" ", t->out);
		put_text(f->function, t->out);
		fputc(' ', t->out);
		put_text(f->file, t->out);
		if (f->line >= 0)
			fprintf(t->out, ":%d", f->line);
		else if (f->line < -1)
			fputs(":?", t->out);
		fputc('\n', t->out);
		push(t, true);
	}
	for (size_t i = 0; i < task->nawaits; i++)
		if (task->awaits[i] < t->a->ntasks)
			put_task(t, task->awaits[i], i + 1 == task->nawaits, depth + 1);
	t->plen = was;
	t->on_path[k] = false;
}

int pp_render_tasks_text(const struct pp_dump_asyncio *a, FILE *out)
{
	fputc('\n', out);
	if (a->no_asyncio) {
		fputs("asyncio tasks: none (asyncio is not imported)\n", out);
		return 0;
	}
	if (a->nloops == 0)
		fputs("asyncio tasks: none\n", out);
	bool *awaited = calloc(a->ntasks ? a->ntasks : 1, sizeof(bool));
	struct tree *t = calloc(1, sizeof(*t));
	if (t)
		t->on_path = calloc(a->ntasks ? a->ntasks : 1, sizeof(bool));
	if (!awaited || !t || !t->on_path) {
		free(awaited);
		if (t)
			free(t->on_path);
		free(t);
		return -1;
	}
	t->a = a;
	t->out = out;
	for (size_t i = 0; i < a->ntasks; i++)
		for (size_t j = 0; j < a->tasks[i].nawaits; j++)
			if (a->tasks[i].awaits[j] < a->ntasks)
				awaited[a->tasks[i].awaits[j]] = true;
	for (size_t l = 0; l < a->nloops && !ferror(out); l++) {
		const struct pp_dump_loop *lp = &a->loops[l];
		if (l)
			fputc('\n', out);
		fprintf(out, "asyncio tasks of event loop 0x%" PRIx64, lp->addr);
		if (lp->thread)
			fprintf(out, " (running in thread %" PRIu64 ")", lp->thread);
		fprintf(out, ": %zu\n", lp->ntasks);
		/* roots: tasks no task awaits; then any task left out (a cycle) */
		size_t last_root = SIZE_MAX;
		for (size_t i = lp->first; i < lp->first + lp->ntasks; i++)
			if (!awaited[i])
				last_root = i;
		for (size_t i = lp->first; i < lp->first + lp->ntasks; i++)
			if (!awaited[i])
				put_task(t, i, i == last_root, 0);
	}
	if (a->not_read)
		fprintf(out, "[%zu more tasks not read]\n", a->not_read);
	free(awaited);
	free(t->on_path);
	free(t);
	return 0;
}

static void put_frame_json(const struct pp_dump_frame *f, FILE *out)
{
	fputs("{\"kind\": \"python\", \"function\": ", out);
	pp_json_str(f->function, out);
	fputs(", \"name\": ", out);
	pp_json_str(f->name, out);
	fputs(", \"file\": ", out);
	pp_json_str(f->file, out);
	if (f->line < -1)
		fputs(", \"line\": null}", out);
	else
		fprintf(out, ", \"line\": %d}", f->line);
}

int pp_render_tasks_json(const struct pp_dump_asyncio *a, FILE *out)
{
	fputs("  \"asyncio\": {\n", out);
	fprintf(out, "    \"imported\": %s,\n    \"tasks_not_read\": %zu,\n",
		a->no_asyncio ? "false" : "true", a->not_read);
	fputs("    \"loops\": [", out);
	for (size_t l = 0; l < a->nloops && !ferror(out); l++) {
		const struct pp_dump_loop *lp = &a->loops[l];
		fprintf(out, "%s\n      {\n        \"address\": \"0x%" PRIx64 "\",\n        \"thread\": ",
			l ? "," : "", lp->addr);
		if (lp->thread)
			fprintf(out, "%" PRIu64, lp->thread);
		else
			fputs("null", out);
		fputs(",\n        \"tasks\": [", out);
		for (size_t i = lp->first; i < lp->first + lp->ntasks; i++) {
			const struct pp_dump_task *task = &a->tasks[i];
			fprintf(out, "%s\n          {\"name\": ", i > lp->first ? "," : "");
			pp_json_str(task->name, out);
			fputs(", \"state\": ", out);
			pp_json_str(task->state, out);
			fputs(",\n           \"stack\": [", out);
			for (size_t j = 0; j < task->nframes; j++) {
				fputs(j ? ",\n             " : "\n             ", out);
				put_frame_json(&task->frames[j], out);
			}
			fputs("],\n           \"awaits\": [", out);
			for (size_t j = 0; j < task->nawaits; j++) {
				if (j)
					fputs(", ", out);
				pp_json_str(task->awaits[j] < a->ntasks ? a->tasks[task->awaits[j]].name
									 : NULL, out);
			}
			fputs("]}", out);
		}
		fputs(lp->ntasks ? "\n        ]\n      }" : "]\n      }", out);
	}
	fputs(a->nloops ? "\n    ]\n  },\n" : "]\n  },\n", out);
	return ferror(out) ? -1 : 0;
}
