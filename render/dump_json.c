/* `pyprobe dump --json`: the dump for programs. The field names and enum
 * strings are a contract (see docs); the layout is pretty-printed with one
 * frame per line so that two dumps diff line by line.
 */
#include "render.h"
#include "json_str.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stddef.h>

static void put_frame(const struct pp_dump_frame *f, FILE *out)
{
	bool marker = f->kind == PP_DUMP_FRAME_MARKER;
	fprintf(out, "{\"kind\": \"%s\", \"function\": ", marker ? "marker" : "python");
	pp_json_str(f->function, out);
	fputs(", \"name\": ", out);
	pp_json_str(marker ? NULL : f->name, out);
	fputs(", \"file\": ", out);
	pp_json_str(marker ? NULL : f->file, out);
	/* -1: the interpreter has no line there; null: none could be read */
	if (marker || f->line < -1)
		fputs(", \"line\": null}", out);
	else
		fprintf(out, ", \"line\": %d}", f->line);
}

static void put_thread(const struct pp_dump_thread *t, FILE *out)
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
	if (t->nframes == 0) {
		fputs("      \"frames\": []\n    }", out);
		return;
	}
	fputs("      \"frames\": [\n", out);
	for (size_t i = 0; i < t->nframes; i++) {
		fputs("        ", out);
		put_frame(&t->frames[i], out);
		fputs(i + 1 < t->nframes ? ",\n" : "\n", out);
	}
	fputs("      ]\n    }", out);
}

int pp_render_dump_json(const struct pp_dump *d, FILE *out)
{
	/* 1: the contract of docs/dump.md; raised when a field changes meaning
	 * or goes (new fields do not raise it) */
	fprintf(out, "{\n  \"format_version\": 1,\n  \"pid\": %d,\n  \"cmdline\": ", d->pid);
	pp_json_str(d->cmdline, out);
	fputs(",\n  \"python\": {\n    \"version\": ", out);
	pp_json_str(d->version, out);
	fputs(",\n    \"executable\": ", out);
	pp_json_str(d->executable, out);
	fputs(",\n    \"libpython\": ", out);
	pp_json_str(d->libpython, out);
	fputs("\n  },\n", out);
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
			put_thread(&d->threads[i], out);
			fputs(i + 1 < d->nthreads ? ",\n" : "\n", out);
		}
		fputs("  ]\n", out);
	}
	fputs("}\n", out);
	if (fflush(out) == EOF || ferror(out)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
