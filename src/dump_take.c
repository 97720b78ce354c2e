/* One dump of a target; see dump_take.h. */
#include "dump_take.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_marker.h"

static enum pp_dump_gil dump_gil(enum pp_gil_state g)
{
	switch (g) {
	case PP_GIL_HELD: return PP_DUMP_GIL_HELD;
	case PP_GIL_WAITING: return PP_DUMP_GIL_WAITING;
	case PP_GIL_RELEASED: return PP_DUMP_GIL_RELEASED;
	default: return PP_DUMP_GIL_UNKNOWN;
	}
}

static enum pp_dump_os dump_os(enum pp_os_run r)
{
	switch (r) {
	case PP_OS_RUNNING: return PP_DUMP_OS_RUNNING;
	case PP_OS_SLEEPING: return PP_DUMP_OS_SLEEPING;
	case PP_OS_DISK: return PP_DUMP_OS_DISK;
	case PP_OS_STOPPED: return PP_DUMP_OS_STOPPED;
	case PP_OS_ZOMBIE: return PP_DUMP_OS_ZOMBIE;
	default: return PP_DUMP_OS_UNKNOWN;
	}
}

static enum pp_dump_stack dump_stack(const struct pp_thread *t)
{
	if (t->dropped)
		return PP_DUMP_STACK_DROPPED;
	if (t->changing)
		return PP_DUMP_STACK_CUT_CHANGING;
	if (t->unreadable)
		return PP_DUMP_STACK_CUT_UNREADABLE;
	return PP_DUMP_STACK_WHOLE;
}

/* The reader's snapshot as the renderers' model. Strings are borrowed from
 * the target handle, which outlives the dump; marker labels are made here,
 * in `labels` (one slot per marker frame). */
#define LABEL_MAX 96

/* A Python frame's locals, as the model holds them (`store`: room for
 * all of the sample's). */
static void build_locals(const struct pp_frame *f, struct pp_dump_frame *df,
			 struct pp_dump_local *store, size_t *used)
{
	if (f->locals_state == PP_LOCALS_UNREADABLE) {
		df->locals_state = PP_DUMP_LOCALS_UNREADABLE;
		return;
	}
	if (f->locals_state != PP_LOCALS_READ)
		return;
	df->locals_state = PP_DUMP_LOCALS_READ;
	df->locals = store + *used;
	df->nlocals = f->nlocals;
	df->locals_cut = f->locals_cut;
	for (uint32_t i = 0; i < f->nlocals; i++)
		store[(*used)++] = (struct pp_dump_local){f->locals[i].name, f->locals[i].type,
							  f->locals[i].repr};
}

static int build_dump(const struct pp_target_info *info, const struct pp_sample *s,
		      struct pp_dump *d, struct pp_dump_thread **threads_out,
		      struct pp_dump_frame **frames_out, char **labels_out,
		      struct pp_dump_local **locals_out)
{
	size_t nf = 0, nm = 0, nl = 0;
	for (size_t i = 0; i < s->nthreads; i++)
		for (size_t j = 0; j < s->threads[i].nframes; j++, nf++) {
			nm += s->threads[i].frames[j].kind != PP_RF_PYTHON;
			nl += s->threads[i].frames[j].nlocals;
		}
	struct pp_dump_thread *th = calloc(s->nthreads ? s->nthreads : 1, sizeof(*th));
	struct pp_dump_frame *fr = calloc(nf ? nf : 1, sizeof(*fr));
	char *labels = malloc(nm ? nm * LABEL_MAX : 1);
	struct pp_dump_local *lo = malloc((nl ? nl : 1) * sizeof(*lo));
	if (!th || !fr || !labels || !lo) {
		free(th);
		free(fr);
		free(labels);
		free(lo);
		return -1;
	}
	size_t k = 0, m = 0, used = 0;
	for (size_t i = 0; i < s->nthreads; i++) {
		const struct pp_thread *t = &s->threads[i];
		th[i].native_id = t->native_id;
		th[i].ns_id = t->ns_id;
		th[i].name = t->name;
		th[i].interpreter_id = t->interp_id;
		th[i].gil = dump_gil(t->gil);
		th[i].os_state = dump_os(t->os.run);
		th[i].syscall = t->os.in_syscall == 1 ? pp_syscall_name(t->os.syscall_nr) : NULL;
		th[i].stack = dump_stack(t);
		th[i].frames = fr + k;
		th[i].nframes = t->nframes;
		for (size_t j = 0; j < t->nframes; j++, k++) {
			const struct pp_frame *f = &t->frames[j];
			if (f->kind != PP_RF_PYTHON) {
				char *label = labels + LABEL_MAX * m++;
				pp_frame_marker_label(f, label, LABEL_MAX);
				fr[k] = (struct pp_dump_frame){.function = label, .line = -1,
							       .kind = PP_DUMP_FRAME_MARKER};
				continue;
			}
			fr[k].kind = PP_DUMP_FRAME_PYTHON;
			fr[k].function = f->code->qualname;
			fr[k].name = f->code->name;
			fr[k].file = f->code->filename;
			fr[k].line = f->line;
			build_locals(f, &fr[k], lo, &used);
		}
	}
	d->pid = info->pid;
	d->cmdline = info->cmdline;
	d->version = info->version;
	d->executable = info->executable;
	d->libpython = info->libpython;
	d->core = info->core;
	d->threads = th;
	d->nthreads = s->nthreads;
	*threads_out = th;
	*frames_out = fr;
	*labels_out = labels;
	*locals_out = lo;
	return 0;
}

enum pp_err pp_dump_take(struct pp_target *t, const struct pp_dump_opts *o,
			 struct pp_dump_taken *out, struct pp_error *err)
{
	memset(out, 0, sizeof(*out));
	if (o->native) {
		/* the paused sample below unwinds every stopped thread */
		out->native = calloc(1, sizeof(*out->native));
		if (!out->native ||
		    pp_native_capture_init(out->native, t, err->msg, sizeof(err->msg)) != 0) {
			if (!out->native)
				snprintf(err->msg, sizeof(err->msg), "out of memory");
			free(out->native);
			out->native = NULL;
			err->code = PP_ERR_IO;
			return PP_ERR_IO;
		}
		out->target = t;
	}
	unsigned flags = PP_SAMPLE_OS_STATE | PP_SAMPLE_NAMES |
			 (o->nonblocking ? PP_SAMPLE_WHOLE : PP_SAMPLE_PAUSE) |
			 (o->locals ? PP_SAMPLE_LOCALS : 0);
	struct pp_sample *s = &out->sample;
	enum pp_err e = pp_target_sample(t, flags, s, err);
	/* Paused, a thread caught entering its evaluation loop has no stack
	 * to show (reader.h: dropped); a moment later it has. (Not in a core:
	 * there is no later.) */
	bool core = pp_target_get_info(t)->core != NULL;
	for (size_t i = 0; e == PP_OK && !o->nonblocking && !core && i < s->nthreads; i++)
		if (s->threads[i].dropped) {
			e = pp_target_sample(t, flags, s, err);
			break;
		}
	if (e != PP_OK)
		return e;
	out->dump.with_locals = o->locals;
	if (build_dump(pp_target_get_info(t), s, &out->dump, &out->threads, &out->frames,
		       &out->labels, &out->locals) != 0 ||
	    (out->native && pp_dump_add_native(&out->dump, out->threads, s, out->native,
					       &out->native_frames) != 0)) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		err->code = PP_ERR_IO;
		return PP_ERR_IO;
	}
	return PP_OK;
}

void pp_dump_taken_free(struct pp_dump_taken *d)
{
	if (d->native) {
		pp_target_set_paused_hook(d->target, NULL, NULL);
		pp_native_capture_free(d->native);
		free(d->native);
	}
	pp_dump_native_store_free(&d->native_frames);
	free(d->threads);
	free(d->frames);
	free(d->labels);
	free(d->locals);
	pp_sample_free(&d->sample);
	memset(d, 0, sizeof(*d));
}
