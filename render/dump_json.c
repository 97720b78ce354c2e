/* `pyprobe dump --json`: the dump for programs. The field names and enum
 * strings are a contract (see docs); the layout is pretty-printed with one
 * frame per line so that two dumps diff line by line.
 */
#include "render.h"
#include "stream_end.h"
#include "json_str.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>

/* A native frame: function (or null), library, offset, and file/line
 * (null when unknown). */
static void put_native(const struct pp_dump_frame *f, FILE *out)
{
	fputs("{\"kind\": \"native\", \"function\": ", out);
	pp_json_str(f->function, out);
	fputs(", \"name\": null, \"file\": ", out);
	pp_json_str(f->file, out);
	if (f->file && f->line > 0)
		fprintf(out, ", \"line\": %d", f->line);
	else
		fputs(", \"line\": null", out);
	fputs(", \"library\": ", out);
	pp_json_str(f->library, out);
	fprintf(out, ", \"offset\": %" PRIu64 ", \"inlined\": %s}", f->offset,
		f->inlined ? "true" : "false");
}

/* ", \"locals\": [...]": null when the frame's could not be read. */
static void put_locals(const struct pp_dump_frame *f, FILE *out)
{
	if (f->locals_state != PP_DUMP_LOCALS_READ) {
		fputs(", \"locals\": null", out);
		return;
	}
	fputs(", \"locals\": [", out);
	for (size_t i = 0; i < f->nlocals; i++) {
		fputs(i ? ", {\"name\": " : "{\"name\": ", out);
		pp_json_str(f->locals[i].name, out);
		fputs(", \"type\": ", out);
		pp_json_str(f->locals[i].type, out);
		fputs(", \"repr\": ", out);
		pp_json_str(f->locals[i].repr, out);
		fputc('}', out);
	}
	fputc(']', out);
}

static void put_frame(const struct pp_dump_frame *f, bool with_locals, FILE *out)
{
	if (f->kind == PP_DUMP_FRAME_NATIVE) {
		put_native(f, out);
		return;
	}
	bool marker = f->kind == PP_DUMP_FRAME_MARKER;
	fprintf(out, "{\"kind\": \"%s\", \"function\": ", marker ? "marker" : "python");
	pp_json_str(f->function, out);
	fputs(", \"name\": ", out);
	pp_json_str(marker ? NULL : f->name, out);
	fputs(", \"file\": ", out);
	pp_json_str(marker ? NULL : f->file, out);
	/* -1: the interpreter has no line there; null: none could be read */
	if (marker || f->line < -1)
		fputs(", \"line\": null", out);
	else
		fprintf(out, ", \"line\": %d", f->line);
	if (with_locals && !marker)
		put_locals(f, out);
	fputc('}', out);
}

static void put_frames(const char *key, const struct pp_dump_frame *f, size_t n, bool more,
		       bool with_locals, FILE *out)
{
	fprintf(out, "      \"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n        " : "\n        ", out);
		put_frame(&f[i], with_locals, out);
	}
	fputs(n ? "\n      ]" : "]", out);
	fputs(more ? ",\n" : "\n", out);
}

static void put_thread(const struct pp_dump_thread *t, bool with_locals, FILE *out)
{
	fprintf(out, "    {\n      \"native_id\": %" PRIu64 ",\n", t->native_id);
	if (t->ns_id)
		fprintf(out, "      \"ns_native_id\": %" PRIu64 ",\n", t->ns_id);
	else
		fputs("      \"ns_native_id\": null,\n", out);
	fputs("      \"name\": ", out);
	pp_json_str(t->name, out);
	fprintf(out, ",\n      \"interpreter_id\": %" PRId64 ",\n", t->interpreter_id);
	fprintf(out, "      \"gil\": \"%s\",\n", pp_dump_gil_name(t->gil));
	fprintf(out, "      \"os_state\": \"%s\",\n", pp_dump_os_name(t->os_state));
	fputs("      \"syscall\": ", out);
	pp_json_str(t->syscall, out);
	fputs(",\n", out);
	/* Before the frames, so a reader knows what they are first. */
	fprintf(out, "      \"stack\": \"%s\",\n", pp_dump_stack_name(t->stack));
	if (t->native != PP_DUMP_NATIVE_NONE) {
		fprintf(out, "      \"native\": \"%s\",\n      \"native_note\": ",
			pp_dump_native_name(t->native));
		pp_json_str(t->native_note, out);
		fputs(",\n", out);
	}
	put_frames("frames", t->frames, t->nframes,
		   t->native == PP_DUMP_NATIVE_SEPARATE, with_locals, out);
	if (t->native == PP_DUMP_NATIVE_SEPARATE)
		put_frames("native_frames", t->native_frames, t->nnative_frames, false, false,
			   out);
	fputs("    }", out);
}

int pp_render_dump_json(const struct pp_dump *d, FILE *out)
{
	/* format_version 1: the contract of docs/dump.md; raised when a field
	 * changes meaning or goes (new fields do not raise it). source: where
	 * it was read, a live process or a core file of one. */
	fprintf(out, "{\n  \"format_version\": 1,\n  \"source\": \"%s\",\n",
		d->core ? "core" : "process");
	if (d->core) {
		fputs("  \"core\": ", out);
		pp_json_str(d->core, out);
		fputs(",\n", out);
	}
	fprintf(out, "  \"pid\": %d,\n  \"cmdline\": ", d->pid);
	pp_json_str(d->cmdline, out);
	fputs(",\n  \"python\": {\n    \"version\": ", out);
	pp_json_str(d->version, out);
	fputs(",\n    \"executable\": ", out);
	pp_json_str(d->executable, out);
	fputs(",\n    \"libpython\": ", out);
	pp_json_str(d->libpython, out);
	fputs("\n  },\n", out);
	/* dump --native: a reason no thread's stacks could be merged, said
	 * once (each thread's native_note says it too) */
	if (d->native) {
		fputs("  \"native_note\": ", out);
		pp_json_str(d->native_note, out);
		fputs(",\n", out);
	}
	if (d->asyncio && pp_render_tasks_json(d->asyncio, out) != 0)
		return -1;

	if (d->nthreads == 0) {
		fputs("  \"threads\": []\n", out);
	} else {
		fputs("  \"threads\": [\n", out);
		for (size_t i = 0; i < d->nthreads; i++) {
			/* Stop early on a dead stream; the result is -1 anyway. */
			if (ferror(out))
				break;
			put_thread(&d->threads[i], d->with_locals, out);
			fputs(i + 1 < d->nthreads ? ",\n" : "\n", out);
		}
		fputs("  ]\n", out);
	}
	fputs("}\n", out);
	return pp_stream_end(out);
}
