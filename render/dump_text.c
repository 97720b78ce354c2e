/* `pyprobe dump` as text: one block per thread, innermost frame first,
 * meant to be read by a person during an incident (the same order as a
 * Python traceback printed upside down, like py-spy dump and pystack).
 */
#include "render.h"

#include <errno.h>
#include <inttypes.h>

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

static void put_thread(const struct pp_dump_thread *t, FILE *out)
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

	if (t->nframes == 0) {
		fputs(t->stack == PP_DUMP_STACK_DROPPED
			      ? "    (stack not shown: it changed faster than it could be read)\n"
			      : "    (no Python frames)\n",
		      out);
		return;
	}
	for (size_t i = 0; i < t->nframes; i++) {
		const struct pp_dump_frame *f = &t->frames[i];
		fputs("    ", out);
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
		put_thread(&d->threads[i], out);
	}
	if (d->asyncio && !ferror(out) && pp_render_tasks_text(d->asyncio, out) != 0)
		return -1;
	if (fflush(out) == EOF || ferror(out)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
