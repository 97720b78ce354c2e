/* The hang files `pyprobe watch` writes: text for a person, JSON for
 * programs (the fields are a contract: docs/hangs.md). Both hold what
 * fired, the culprits, the collapsed profile of the seconds before, and the
 * dump (the same text and JSON `pyprobe dump` prints).
 */
#include "render.h"
#include "json_str.h"
#include "text_str.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* The recent profile, collapsed, one thread root per stack, idle samples
 * kept (a deadlock is nothing but idle samples). Malloc'd, NULL when it
 * could not be made. */
static char *collapsed_of(const struct pp_hang *h)
{
	if (!h->recent)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return NULL;
	struct pp_render_opts o = {.view = {.idle = true, .threads = true},
				   .title = "", .subtitle = ""};
	int rc = pp_render_collapsed(h->recent, &o, m);
	if (fclose(m) != 0 || rc != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void text_finding(const struct pp_hang_finding *f, const struct pp_hang *h, FILE *out)
{
	if (!strcmp(f->condition, "heartbeat")) {
		fputs("  heartbeat: ", out);
		pp_text_str(h->heartbeat_file, 0, out);
		fprintf(out, " not modified for %.1f s (timeout %.1f s)\n", f->seconds,
			h->heartbeat_timeout_s);
		return;
	}
	fprintf(out, "  %s: thread %" PRIu64, f->condition, f->native_id);
	if (f->thread_name) {
		fputs(" \"", out);
		pp_text_str(f->thread_name, 1, out);
		fputc('"', out);
	}
	fprintf(out, ", %s for %.1f s", f->activity, f->seconds);
	if (f->task_name) {
		fputs(", loop running task \"", out);
		pp_text_str(f->task_name, 1, out);
		fputc('"', out);
		if (f->task) {
			fputs(" (coroutine ", out);
			pp_text_str(f->task, 0, out);
			fputc(')', out);
		}
	} else if (f->task) {
		fputs(", loop running ", out);
		pp_text_str(f->task, 0, out);
	}
	if (f->function) {
		fputs(", at ", out);
		pp_text_str(f->function, 0, out);
		fputs(" (", out);
		pp_text_str(f->file, 0, out);
		fprintf(out, ":%d)", f->line);
	}
	fputc('\n', out);
}

int pp_render_hang_text(const struct pp_hang *h, FILE *out)
{
	fprintf(out, "pyprobe watch: %s in process %d at %s\n", h->condition_name, h->pid, h->time);
	fprintf(out, "thresholds: stall %.1f s, stuck %.1f s", h->stall_s, h->stuck_s);
	if (h->heartbeat_file) {
		fputs(", heartbeat ", out);
		pp_text_str(h->heartbeat_file, 0, out);
		fprintf(out, " %.1f s", h->heartbeat_timeout_s);
	}
	fputs("\n\n", out);
	for (size_t i = 0; i < h->nfindings; i++)
		text_finding(&h->findings[i], h, out);
	if (h->nmore)
		fprintf(out, "  and %zu more\n", h->nmore);
	char *c = collapsed_of(h);
	fprintf(out, "\n== the last %.1f s, collapsed (thread;outermost;...;innermost samples) ==\n",
		h->recent_s);
	if (c) {
		/* line by line: target strings cannot forge lines */
		for (char *line = c, *next; *line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			else
				next = line + strlen(line);
			pp_text_str(line, 0, out);
			fputc('\n', out);
		}
		free(c);
	} else {
		fputs("(not available)\n", out);
	}
	fputs("\n== dump ==\n", out);
	if (h->dump) {
		if (pp_render_dump_text(h->dump, out) != 0)
			return -1;
	} else {
		fputs("(not taken: ", out);
		pp_text_str(h->dump_error ? h->dump_error : "unknown error", 0, out);
		fputs(")\n", out);
	}
	return ferror(out) ? -1 : 0;
}

int pp_render_hang_json(const struct pp_hang *h, FILE *out)
{
	fputs("{\n  \"format_version\": \"1.0\",\n", out);
	fprintf(out, "  \"pid\": %d,\n  \"condition\": \"%s\",\n  \"time\": ", h->pid, h->condition);
	pp_json_str(h->time, out);
	fprintf(out, ",\n  \"stall_seconds\": %.3f,\n  \"stuck_seconds\": %.3f,\n", h->stall_s,
		h->stuck_s);
	fputs("  \"heartbeat\": ", out);
	if (h->heartbeat_file) {
		fputs("{\"file\": ", out);
		pp_json_str(h->heartbeat_file, out);
		fprintf(out, ", \"timeout_seconds\": %.3f}", h->heartbeat_timeout_s);
	} else {
		fputs("null", out);
	}
	fputs(",\n  \"findings\": [", out);
	for (size_t i = 0; i < h->nfindings; i++) {
		const struct pp_hang_finding *f = &h->findings[i];
		fprintf(out, "%s\n    {\"condition\": \"%s\", ", i ? "," : "", f->condition);
		if (f->native_id)
			fprintf(out, "\"native_id\": %" PRIu64 ", \"name\": ", f->native_id);
		else
			fputs("\"native_id\": null, \"name\": ", out);
		pp_json_str(f->thread_name, out);
		fputs(", \"activity\": ", out);
		pp_json_str(f->native_id ? f->activity : NULL, out);
		fprintf(out, ", \"seconds\": %.3f, \"function\": ", f->seconds);
		pp_json_str(f->function, out);
		fputs(", \"file\": ", out);
		pp_json_str(f->function ? f->file : NULL, out);
		if (f->function && f->line >= -1)
			fprintf(out, ", \"line\": %d", f->line);
		else
			fputs(", \"line\": null", out);
		fputs(", \"task\": ", out);
		pp_json_str(f->task, out);
		fputs(", \"task_name\": ", out);
		pp_json_str(f->task_name, out);
		fputc('}', out);
	}
	fprintf(out, "%s],\n  \"findings_left_out\": %zu,\n", h->nfindings ? "\n  " : "", h->nmore);
	fprintf(out, "  \"recent\": {\"seconds\": %.3f, \"collapsed\": [", h->recent_s);
	char *c = collapsed_of(h);
	size_t k = 0;
	for (char *line = c, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		fputs(k++ ? ",\n    " : "\n    ", out);
		pp_json_str(line, out);
	}
	free(c);
	fputs(k ? "\n  ]},\n" : "]},\n", out);
	fputs("  \"dump\": ", out);
	if (h->dump) {
		if (pp_render_dump_json(h->dump, out) != 0)
			return -1;
		fputs(",\n  \"dump_error\": null\n}\n", out);
	} else {
		fputs("null,\n  \"dump_error\": ", out);
		pp_json_str(h->dump_error ? h->dump_error : "unknown error", out);
		fputs("\n}\n", out);
	}
	return ferror(out) ? -1 : 0;
}
