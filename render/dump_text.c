/* `pyprobe dump` as text: one block per thread, innermost frame first,
 * meant to be read by a person during an incident (the same order as a
 * Python traceback printed upside down, like py-spy dump and pystack).
 */
#include "render.h"
#include "stream_end.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "text_str.h"

/* A missing string in the model is a reader that could not read it. */
static void put_text(const char *s, FILE *out)
{
	pp_text_str(s ? s : "?", 0, out);
}

static void put_header(const struct pp_dump *d, FILE *out)
{
	fprintf(out, "Process %d", d->pid);
	if (d->cmdline && *d->cmdline) {
		fputs(": ", out);
		put_text(d->cmdline, out);
	}
	fputs("\nPython ", out);
	put_text(d->version, out);
	if (d->executable || d->libpython) {
		fputs(" (", out);
		if (d->executable)
			put_text(d->executable, out);
		if (d->executable && d->libpython)
			fputs(", ", out);
		if (d->libpython)
			put_text(d->libpython, out);
		fputc(')', out);
	}
	fputc('\n', out);
	if (d->core) {
		fputs("Core file ", out);
		put_text(d->core, out);
		fputc('\n', out);
	}
	if (d->native_note) {
		fputs("Native frames are shown apart from Python frames: ", out);
		put_text(d->native_note, out);
		fputc('\n', out);
	}
}

/* The one state that answers "what is this thread doing": GIL first (in a
 * hang, who holds the GIL and who waits for it is the story), then what
 * the kernel says. */
static void put_state(const struct pp_dump_thread *t, FILE *out)
{
	if (t->gil == PP_DUMP_GIL_HELD) {
		fputs("holds GIL", out);
		/* Blocked in the kernel while holding it: the classic hang
		 * (C code sleeping or doing I/O without releasing the GIL). */
		if ((t->os_state == PP_DUMP_OS_SLEEPING || t->os_state == PP_DUMP_OS_DISK) &&
		    t->syscall)
			fprintf(out, ", %s in %s",
				t->os_state == PP_DUMP_OS_DISK ? "in disk wait" : "idle",
				t->syscall);
		return;
	}
	if (t->gil == PP_DUMP_GIL_WAITING) {
		fputs("waiting for GIL", out);
		return;
	}
	switch (t->os_state) {
	case PP_DUMP_OS_SLEEPING:
		fputs("idle", out);
		break;
	case PP_DUMP_OS_DISK:
		fputs("in disk wait", out);
		break;
	case PP_DUMP_OS_STOPPED:
		fputs("stopped", out);
		return;
	case PP_DUMP_OS_ZOMBIE:
		fputs("exited", out);
		return;
	case PP_DUMP_OS_RUNNING:
		fputs("running", out);
		return;
	case PP_DUMP_OS_UNKNOWN:
	default:
		fputs("unknown", out);
		return;
	}
	/* Only blocked states get here: name what they are blocked in. */
	if (t->syscall) {
		fputs(" in ", out);
		put_text(t->syscall, out);
	}
}

/* Under a frame's line, one line per local: `name = repr`, the repr as
 * Python would print it (its type shows in it). */
static void put_locals(const struct pp_dump_frame *f, FILE *out)
{
	if (f->locals_state == PP_DUMP_LOCALS_UNREADABLE) {
		fputs("        (locals not readable)\n", out);
		return;
	}
	for (size_t i = 0; i < f->nlocals; i++) {
		const struct pp_dump_local *l = &f->locals[i];
		fputs("        ", out);
		put_text(l->name, out);
		fputs(" = ", out);
		if (l->repr)
			pp_text_str(l->repr, 0, out);
		else
			fputs("<value not readable>", out);
		fputc('\n', out);
	}
	if (f->locals_cut)
		fputs("        (more locals not read)\n", out);
}

/* The file's last path component: a native frame names its library
 * short; JSON has the whole path. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash && slash[1] ? slash + 1 : path;
}

/* "clock_nanosleep (libc.so.6+0xd1ba5)", with the source first where
 * debug information gives it: "pysleep (Modules/timemodule.c:2159,
 * libpython3.11.so.1.0+0x2a4b1c)"; an inlined function says so. */
static void put_native(const struct pp_dump_frame *f, FILE *out)
{
	put_text(f->function, out);
	fputs(" (", out);
	if (f->file) {
		put_text(f->file, out);
		if (f->line > 0)
			fprintf(out, ":%d", f->line);
		fputs(", ", out);
	}
	if (f->library) {
		pp_text_str(base_name(f->library), 0, out);
		fprintf(out, "+0x%" PRIx64 ")", f->offset);
	} else {
		fprintf(out, "0x%" PRIx64 ")", f->offset);
	}
	if (f->inlined)
		fputs(" [inlined]", out);
	fputc('\n', out);
}

static void put_frames(const struct pp_dump_frame *frames, size_t n, FILE *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct pp_dump_frame *f = &frames[i];
		fputs("    ", out);
		if (f->kind == PP_DUMP_FRAME_NATIVE) {
			put_native(f, out);
			continue;
		}
		put_text(f->function, out);
		if (f->kind == PP_DUMP_FRAME_MARKER) {
			fputc('\n', out);
			continue;
		}
		fputs(" (", out);
		put_text(f->file, out);
		if (f->line >= 0)
			fprintf(out, ":%d", f->line);
		else if (f->line < -1)
			fputs(":?", out); /* a line that could not be read */
		fputs(")\n", out);
		put_locals(f, out);
	}
}

/* note_said: the thread's native note was said once, in the header. */
/* core: read from a core file. */
static void put_thread(const struct pp_dump_thread *t, bool note_said, bool core,
		       FILE *out)
{
	fprintf(out, "Thread %" PRIu64, t->native_id);
	/* In a container: the id its own ps -L and logs show, too. */
	if (t->ns_id && t->ns_id != t->native_id)
		fprintf(out, " [%" PRIu64 " in its namespace]", t->ns_id);
	if (t->name) {
		fputs(" \"", out);
		pp_text_str(t->name, 1, out);
		fputc('"', out);
	}
	/* Subinterpreters are rare; keep the common line short. */
	if (t->interpreter_id != 0)
		fprintf(out, " [interpreter %" PRId64 "]", t->interpreter_id);
	fputs(" (", out);
	put_state(t, out);
	fputs(")\n", out);

	if (t->nframes == 0 && (t->native != PP_DUMP_NATIVE_SEPARATE ||
				t->stack == PP_DUMP_STACK_DROPPED)) {
		/* Nothing in a core moves: a stack none of which could be
		 * verified there is one the core holds only in part. */
		fputs(t->stack != PP_DUMP_STACK_DROPPED ? "    (no Python frames)\n"
		      : core ? "    (stack not shown: the core does not hold it intact)\n"
			     : "    (stack not shown: it changed faster than it could be read)\n",
		      out);
		if (t->native != PP_DUMP_NATIVE_SEPARATE)
			return;
	}
	put_frames(t->frames, t->nframes, out);
	if (t->native == PP_DUMP_NATIVE_SEPARATE) {
		if (t->native_note && !note_said) {
			fputs("    (native frames apart: ", out);
			put_text(t->native_note, out);
			fputs(")\n", out);
		}
		fputs("  native:\n", out);
		if (t->nnative_frames == 0)
			fputs("    (none read)\n", out);
		put_frames(t->native_frames, t->nnative_frames, out);
	}
}

int pp_render_dump_text(const struct pp_dump *d, FILE *out)
{
	put_header(d, out);
	for (size_t i = 0; i < d->nthreads; i++) {
		/* A dead stream (full disk, closed pipe) will not recover:
		 * stop instead of formatting thousands of frames into it. */
		if (ferror(out))
			break;
		fputc('\n', out);
		const struct pp_dump_thread *t = &d->threads[i];
		put_thread(t, d->native_note && t->native_note &&
				      strcmp(d->native_note, t->native_note) == 0,
			   d->core != NULL, out);
	}
	if (d->asyncio && !ferror(out) && pp_render_tasks_text(d->asyncio, out) != 0)
		return -1;
	return pp_stream_end(out);
}
