/* `pyprobe report --json`: the report as a stable document for scripts and
 * CI. The field names are a contract (docs/gil.md): add, never rename. */
#include "render.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "json_str.h"

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* Every Python frame, innermost first. -1 when out of memory. */
static int put_stack(const struct pp_profile *p, pp_stack_id leaf, FILE *out)
{
	size_t n = pp_report_stack(p, leaf, NULL, 0);
	const struct pp_pframe **fr = malloc((n ? n : 1) * sizeof(*fr));
	if (!fr)
		return -1;
	pp_report_stack(p, leaf, fr, n);
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ", {\"function\": " : "{\"function\": ", out);
		pp_json_str(pp_profile_string(p, fr[i]->function), out);
		fputs(", \"file\": ", out);
		pp_json_str(pp_profile_string(p, fr[i]->file), out);
		/* -1: the interpreter has no line there; null: a marker, or a
		 * line that could not be read */
		if (fr[i]->kind == PP_FRAME_MARKER || fr[i]->line == PP_LINE_UNKNOWN)
			fputs(", \"line\": null}", out);
		else
			fprintf(out, ", \"line\": %d}", (int)fr[i]->line);
	}
	fputc(']', out);
	free(fr);
	return 0;
}

static int put_waits(const struct pp_profile *p, const struct pp_report *r, FILE *out)
{
	fputs("  \"gil_waits\": [", out);
	for (size_t i = 0; i < r->nwaits; i++) {
		const struct pp_gil_wait *w = &r->waits[i];
		fprintf(out, "%s\n    {\"thread\": %" PRIu64 ", \"start_s\": %.4f, "
			"\"duration_ms\": %.2f, \"holder\": ", i ? "," : "",
			r->threads[w->thread].native_id, (double)w->start_ns / 1e9,
			(double)w->duration_ns / 1e6);
		if (w->holder >= 0)
			fprintf(out, "%" PRIu64, r->threads[w->holder].native_id);
		else
			fputs("null", out);
		fputs(", \"holder_stack\": ", out);
		if (put_stack(p, w->holder >= 0 ? w->holder_stack : PP_EMPTY_STACK, out) != 0)
			return -1;
		fputc('}', out);
	}
	fputs(r->nwaits ? "\n  ],\n" : "],\n", out);
	return 0;
}

static int put_stalls(const struct pp_profile *p, const struct pp_report *r, FILE *out)
{
	fputs("  \"stalls\": [", out);
	for (size_t i = 0; i < r->nstalls; i++) {
		const struct pp_stall *s = &r->stalls[i];
		fprintf(out, "%s\n    {\"thread\": %" PRIu64 ", \"start_s\": %.4f, "
			"\"duration_ms\": %.2f, \"duration_error_ms\": %.2f, "
			"\"samples\": %" PRIu32 ", \"task\": ",
			i ? "," : "", r->threads[s->thread].native_id, (double)s->start_ns / 1e9,
			(double)s->duration_ns / 1e6, (double)s->duration_error_ns / 1e6,
			s->samples);
		pp_json_str(s->task, out);
		/* the Task's name, null when the recording has none */
		fputs(", \"task_name\": ", out);
		pp_json_str(s->task_name, out);
		fputs(", \"other_tasks\": [", out);
		bool first = true;
		for (uint32_t k = 0; k < s->nothers && k < PP_STALL_OTHERS; k++) {
			if (!s->others[k])
				continue;
			fputs(first ? "" : ", ", out);
			pp_json_str(s->others[k], out);
			first = false;
		}
		fputs("], \"stack\": ", out);
		if (put_stack(p, s->stack, out) != 0)
			return -1;
		fputc('}', out);
	}
	fputs(r->nstalls ? "\n  ]\n" : "]\n", out);
	return 0;
}

int pp_render_report_json(const struct pp_profile *p, const struct pp_report *r,
			  uint64_t threshold_ns, FILE *out)
{
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	/* format_version 1: the contract of docs/gil.md; raised when a field
	 * changes meaning or goes (new fields do not raise it) */
	fprintf(out, "{\n  \"format_version\": 1,\n  \"duration_s\": %.4f,\n  \"samples\": %" PRIu64 ",\n"
		"  \"rate_hz\": %" PRIu32 ",\n  \"python_version\": ",
		(double)r->duration_ns / 1e9, r->samples, m->rate_hz);
	pp_json_str(pp_profile_string(p, m->python_version), out);
	fprintf(out, ",\n  \"gil\": {\"known\": %s, \"held_pct\": %.2f, \"contention_pct\": %.2f},\n",
		r->gil_known ? "true" : "false", r->gil_held_pct, r->gil_contention_pct);
	fputs("  \"processes\": [", out);
	for (size_t i = 0; i < r->nprocesses; i++) {
		const struct pp_report_process *pr = &r->processes[i];
		fprintf(out, "%s{\"pid\": %" PRIu32 ", \"cmdline\": ", i ? ", " : "", pr->pid);
		pp_json_str(pr->cmdline, out);
		fprintf(out, ", \"held_pct\": %.2f, \"contention_pct\": %.2f}", pr->gil_held_pct,
			pr->gil_contention_pct);
	}
	fputs("],\n", out);
	fputs("  \"threads\": [", out);
	for (size_t i = 0; i < r->nthreads; i++) {
		const struct pp_report_thread *t = &r->threads[i];
		fprintf(out, "%s\n    {\"native_id\": %" PRIu64 ", \"pid\": %" PRIu32 ", \"name\": ",
			i ? "," : "", t->native_id, t->pid);
		pp_json_str(t->name, out);
		fprintf(out, ", \"samples\": %" PRIu64 ", \"gil_held_pct\": %.2f, "
			"\"gil_wait_pct\": %.2f, \"released_pct\": %.2f, \"idle_pct\": %.2f, "
			"\"unknown_pct\": %.2f, \"event_loop\": %s}",
			t->samples, pct(t->count[PP_USE_HELD], t->samples),
			pct(t->count[PP_USE_WAITING], t->samples),
			pct(t->count[PP_USE_RELEASED], t->samples),
			pct(t->count[PP_USE_IDLE], t->samples),
			pct(t->count[PP_USE_UNKNOWN], t->samples), t->event_loop ? "true" : "false");
	}
	fputs(r->nthreads ? "\n  ],\n" : "],\n", out);
	fprintf(out, "  \"stall_threshold_ms\": %.1f,\n", (double)threshold_ns / 1e6);
	if (put_waits(p, r, out) != 0 || put_stalls(p, r, out) != 0)
		return -1;
	fputs("}\n", out);
	return ferror(out) ? -1 : 0;
}
