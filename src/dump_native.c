/* A dump thread's frames from a merged native stack. */
#include "dump_native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pp_dump_frame *store_new(struct pp_dump_native_store *st, size_t n)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct pp_dump_frame **v = realloc(st->blocks, cap * sizeof(*v));
		if (!v)
			return NULL;
		st->blocks = v;
		st->cap = cap;
	}
	struct pp_dump_frame *f = calloc(n ? n : 1, sizeof(*f));
	if (f)
		st->blocks[st->n++] = f;
	return f;
}

void pp_dump_native_store_free(struct pp_dump_native_store *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->blocks[i]);
	free(st->blocks);
	memset(st, 0, sizeof(*st));
}

static struct pp_dump_frame native_frame(const struct pp_native_sym *sym)
{
	return (struct pp_dump_frame){
		.function = sym->function,
		.file = sym->file,
		.line = sym->file && sym->line > 0 ? sym->line : PP_FRAME_LINE_UNKNOWN,
		.kind = PP_DUMP_FRAME_NATIVE,
		.library = sym->library,
		.offset = sym->library ? sym->offset : sym->pc,
		.inlined = sym->inlined,
	};
}

static struct pp_dump_frame marker_frame(const char *label)
{
	return (struct pp_dump_frame){.function = label, .line = -1,
				      .kind = PP_DUMP_FRAME_MARKER};
}

/* Notes outlive the merge: they are kept with the frames. */
static const char *keep_note(struct pp_dump_native_store *st, const char *note)
{
	size_t len = strlen(note) + 1;
	size_t n = (len + sizeof(struct pp_dump_frame) - 1) / sizeof(struct pp_dump_frame);
	char *p = (char *)store_new(st, n);
	if (p)
		memcpy(p, note, len);
	return p;
}

/* Where an unwind that did not reach the thread's outermost frame
 * stopped: the last frame of its native stack, or NULL. */
static const char *cut_label(enum pp_unwind_end end)
{
	switch (end) {
	case PP_UNWIND_FAILED:
		return "[native stack cut: the caller of the frame above could not be found "
		       "or read]";
	case PP_UNWIND_TOO_DEEP:
		return "[native stack cut: deeper than pyprobe reads]";
	default:
		return NULL;
	}
}

int pp_dump_add_native(struct pp_dump *d, struct pp_dump_thread *th, const struct pp_sample *s,
		       struct pp_native_capture *c, struct pp_dump_native_store *st)
{
	d->native = true;
	size_t no_eval = 0, with_python = 0;
	for (size_t i = 0; i < s->nthreads && i < d->nthreads; i++) {
		const struct pp_thread *t = &s->threads[i];
		size_t npcs = 0;
		const uint64_t *pcs = pp_native_capture_pcs(c, t->native_id, &npcs);
		struct pp_native_stack ns;
		if (pp_native_merge(t->frames, t->nframes, pcs, npcs, c->sym, &ns) != 0)
			return -1;
		/* (a stack not read at all says so in its note) */
		const char *cut = pcs ? cut_label(pp_native_capture_end(c, t->native_id)) : NULL;
		/* No Python stack to merge with (not read intact): a "merge"
		 * would be the native frames alone, hiding that. */
		if (th[i].stack == PP_DUMP_STACK_DROPPED && pcs && ns.result == PP_MERGE_OK) {
			ns.result = PP_MERGE_NOT_WHOLE;
			snprintf(ns.note, sizeof(ns.note), "its Python stack could not be read, so "
				 "the stacks are shown apart");
		}
		/* Cut short, it lacks evaluator frames for that reason, not for
		 * want of symbols: say what happened. */
		if (cut && (ns.result == PP_MERGE_NO_EVALUATOR || ns.result == PP_MERGE_MISMATCH)) {
			ns.result = PP_MERGE_MISMATCH;
			snprintf(ns.note, sizeof(ns.note), "its native stack was cut short (see its "
				 "last frame), so the stacks are shown apart");
		}
		int rc = 0;
		if (ns.result == PP_MERGE_OK) {
			struct pp_dump_frame *f = store_new(st, ns.nmerged + 1);
			if (!f) {
				rc = -1;
			} else {
				for (size_t k = 0; k < ns.nmerged; k++)
					f[k] = ns.merged[k].python
						? th[i].frames[ns.merged[k].py_index]
						: native_frame(&ns.merged[k].sym);
				th[i].frames = f;
				th[i].nframes = ns.nmerged;
				if (cut)
					f[th[i].nframes++] = marker_frame(cut);
				th[i].native = PP_DUMP_NATIVE_MERGED;
			}
		} else {
			struct pp_dump_frame *f = store_new(st, ns.nnative + 1);
			const char *note = keep_note(st, ns.note);
			if (!f || !note) {
				rc = -1;
			} else {
				for (size_t k = 0; k < ns.nnative; k++)
					f[k] = native_frame(&ns.native[k]);
				th[i].native_frames = f;
				th[i].nnative_frames = ns.nnative;
				if (cut)
					f[th[i].nnative_frames++] = marker_frame(cut);
				th[i].native = PP_DUMP_NATIVE_SEPARATE;
				th[i].native_note = note;
				if (ns.result == PP_MERGE_NO_EVALUATOR && !d->native_note)
					d->native_note = note;
			}
		}
		if (t->nframes)
			with_python++;
		no_eval += ns.result == PP_MERGE_NO_EVALUATOR;
		pp_native_stack_free(&ns);
		if (rc)
			return rc;
	}
	/* Said once only when it is every thread's story. */
	if (no_eval == 0 || no_eval < with_python)
		d->native_note = NULL;
	return 0;
}
