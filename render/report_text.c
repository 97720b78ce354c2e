/* `pyprobe report` as text, for a person at a terminal: the GIL table per
 * thread, the process totals, the longest GIL waits with the holder's
 * code, and the event-loop stalls with their blocking line. */
#include "render.h"

#include <inttypes.h>
#include <stdbool.h>

#include "text_str.h"
#include "utf8.h"

#define SHOWN_FRAMES 6 /* of a holder's stack; a stall shows down to its task */

static void put_thread(const struct pp_report_thread *t, FILE *out)
{
	if (t->name) {
		pp_text_str(t->name, 0, out);
		fprintf(out, " (%" PRIu64 ")", t->native_id);
	} else {
		fprintf(out, "thread %" PRIu64, t->native_id);
	}
}

static void put_frame(const struct pp_profile *p, const struct pp_pframe *f, FILE *out)
{
	fputs("      ", out);
	pp_text_str(pp_profile_string(p, f->function), 0, out);
	if (f->kind == PP_FRAME_MARKER) { /* [changing], [unreadable frame: ...] */
		fputc('\n', out);
		return;
	}
	fputs(" (", out);
	pp_text_str(pp_profile_string(p, f->file), 0, out);
	if (f->line >= 0)
		fprintf(out, ":%d", (int)f->line);
	else if (f->line == PP_LINE_UNKNOWN)
		fputs(":?", out);
	fputs(")\n", out);
}

/* The innermost `max` frames of a stack, and how many were left out. */
static void put_stack(const struct pp_profile *p, pp_stack_id leaf, size_t max, FILE *out)
{
	const struct pp_pframe *fr[SHOWN_FRAMES * 4];
	if (max > sizeof(fr) / sizeof(fr[0]))
		max = sizeof(fr) / sizeof(fr[0]);
	size_t n = pp_report_stack(p, leaf, fr, max);
	if (n == 0) {
		fputs("      (no Python frames)\n", out);
		return;
	}
	for (size_t i = 0; i < n && i < max; i++)
		put_frame(p, fr[i], out);
	if (n > max)
		fprintf(out, "      ... %zu outer frame%s\n", n - max, n - max == 1 ? "" : "s");
}

/* "TID name" for the table's first column: control bytes (and U+0000, the
 * bytes C0 80 - utf8.h) made '?', cut to fit on a character boundary. */
static void thread_label(const struct pp_report_thread *t, char *buf, size_t size)
{
	int k = snprintf(buf, size, "%" PRIu64 " ", t->native_id);
	size_t n = k < 0 ? 0 : (size_t)k < size ? (size_t)k : size - 1;
	const unsigned char *c = (const unsigned char *)(t->name ? t->name : "");
	size_t len = 0;
	while (c[len] && n + len < size - 1)
		len++;
	/* Do not end inside a UTF-8 sequence. */
	if (c[len])
		while (len > 0 && (c[len] & 0xc0) == 0x80)
			len--;
	for (size_t i = 0; i < len; i++) {
		if (pp_utf8_is_nul(c + i, len - i)) {
			buf[n++] = '?';
			i++;
			continue;
		}
		buf[n++] = c[i] < 0x20 || c[i] == 0x7f ? '?' : (char)c[i];
	}
	buf[n] = '\0';
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void put_header(const struct pp_profile *p, const struct pp_report *r, FILE *out)
{
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	const char *cmd = pp_profile_string(p, m->cmdline);
	fputs("pyprobe report: ", out);
	pp_text_str(*cmd ? cmd : "?", 0, out);
	fprintf(out, " (pid %" PRIu32 ", Python %s)\n", m->pid,
		*pp_profile_string(p, m->python_version) ? pp_profile_string(p, m->python_version)
							   : "?");
	/* the rate achieved (0: unknown), in tenths, as the flame graph gives it */
	uint64_t hz10 = m->rate_hz ? (uint64_t)(pp_profile_rate_achieved(m) * 10 + 0.5) : 0;
	fprintf(out, "%.2f s at %" PRIu64, (double)r->duration_ns / 1e9, hz10 / 10);
	if (hz10 % 10)
		fprintf(out, ".%" PRIu64, hz10 % 10);
	fprintf(out, " Hz, %" PRIu64 " thread samples", r->samples);
	/* Stacks that moved while read are drawn cut short (their loop,
	 * if any, counts as neither busy nor waiting); dropped ones are not
	 * among the samples. */
	if (m->samples_cut)
		fprintf(out, ", %" PRIu64 " cut short", m->samples_cut);
	if (m->samples_dropped)
		fprintf(out, ", %" PRIu64 " dropped", m->samples_dropped);
	fputs("\n\n", out);
}

static void put_gil(const struct pp_profile *p, const struct pp_report *r, FILE *out)
{
	if (!r->gil_known) {
		fputs("GIL: unknown (no sample could tell who held it)\n", out);
	} else if (r->nprocesses <= 1) {
		fprintf(out, "GIL: held %.1f%% of the time, contended %.1f%% "
			"(some thread waiting for it)\n",
			r->gil_held_pct, r->gil_contention_pct);
	} else {
		/* Each process has its own GIL. */
		fputs("GIL, per process (each has its own):\n", out);
		for (size_t i = 0; i < r->nprocesses; i++) {
			const struct pp_report_process *pr = &r->processes[i];
			fprintf(out, "  %" PRIu32 " held %5.1f%%, contended %5.1f%%  ", pr->pid,
				pr->gil_held_pct, pr->gil_contention_pct);
			pp_text_str(pr->cmdline ? pr->cmdline : "?", 0, out);
			fputc('\n', out);
		}
	}
	fputc('\n', out);
	bool unknown = false, pids = r->nprocesses > 1;
	for (size_t i = 0; i < r->nthreads; i++)
		unknown |= r->threads[i].count[PP_USE_UNKNOWN] > 0;
	if (pids)
		fprintf(out, "%8s ", "pid");
	fprintf(out, "%-32s %8s %8s %8s %9s %8s%s\n", "thread", "samples", "held", "waiting",
		"released", "idle", unknown ? "  unknown" : "");
	for (size_t i = 0; i < r->nthreads; i++) {
		const struct pp_report_thread *t = &r->threads[i];
		char label[33];
		thread_label(t, label, sizeof(label));
		if (pids)
			fprintf(out, "%8" PRIu32 " ", t->pid);
		fprintf(out, "%-32s %8" PRIu64 " %7.1f%% %7.1f%% %8.1f%% %7.1f%%", label,
			t->samples,
			pct(t->count[PP_USE_HELD], t->samples), pct(t->count[PP_USE_WAITING], t->samples),
			pct(t->count[PP_USE_RELEASED], t->samples),
			pct(t->count[PP_USE_IDLE], t->samples));
		if (unknown)
			fprintf(out, " %7.1f%%", pct(t->count[PP_USE_UNKNOWN], t->samples));
		fputc('\n', out);
	}
	fputc('\n', out);
	if (r->nwaits == 0) {
		fputs("GIL waits: none seen\n\n", out);
		return;
	}
	fprintf(out, "Longest GIL waits (who waited, behind which code):\n");
	for (size_t i = 0; i < r->nwaits; i++) {
		const struct pp_gil_wait *w = &r->waits[i];
		fputs("  ", out);
		put_thread(&r->threads[w->thread], out);
		fprintf(out, " waited %.1f ms at %.3f s", (double)w->duration_ns / 1e6,
			(double)w->start_ns / 1e9);
		if (w->holder < 0) {
			fputs(", holder not seen\n", out);
			continue;
		}
		fputs(" behind ", out);
		put_thread(&r->threads[w->holder], out);
		fputs(", in\n", out);
		put_stack(p, w->holder_stack, SHOWN_FRAMES, out);
	}
	fputc('\n', out);
}

static void put_stalls(const struct pp_profile *p, const struct pp_report *r,
		       uint64_t threshold_ns, FILE *out)
{
	if (r->nloops == 0) {
		fputs("Event loops: none seen (no thread ran an asyncio event loop)\n", out);
		return;
	}
	fprintf(out, "Event-loop stalls of %.0f ms or more: %zu in %zu loop%s\n",
		(double)threshold_ns / 1e6, r->nstalls, r->nloops, r->nloops == 1 ? "" : "s");
	for (size_t i = 0; i < r->nstalls; i++) {
		const struct pp_stall *s = &r->stalls[i];
		fprintf(out, "  %zu. at %.3f s, %.0f ms, ", i + 1, (double)s->start_ns / 1e9,
			(double)s->duration_ns / 1e6);
		/* Within about a period as a rule; said when missed ticks next
		 * to it leave it less sure. */
		if (s->duration_error_ns * 2 > r->interval_ns * 3)
			fprintf(out, "give or take %.0f ms (ticks missed next to it), ",
				(double)s->duration_error_ns / 1e6);
		put_thread(&r->threads[s->thread], out);
		if (s->task_name) { /* the recording names its Task */
			fputs(", running task \"", out);
			pp_text_str(s->task_name, 1, out);
			fputc('"', out);
			if (s->task) {
				fputs(" (coroutine ", out);
				pp_text_str(s->task, 0, out);
				fputc(')', out);
			}
		} else if (s->task) {
			fputs(", running ", out);
			pp_text_str(s->task, 0, out);
		}
		/* Several callbacks ran back to back in one stall. */
		bool first = true;
		for (uint32_t k = 0; k < s->nothers && k < PP_STALL_OTHERS; k++) {
			if (!s->others[k])
				continue;
			fputs(first ? " (also " : ", ", out);
			pp_text_str(s->others[k], 0, out);
			first = false;
		}
		if (!first)
			fputs(s->nothers > PP_STALL_OTHERS ? ", ...)" : ")", out);
		fputs(":\n", out);
		/* Down to the frame the loop called: the loop itself is the
		 * same in every stall. */
		const struct pp_pframe *fr[1];
		size_t depth = pp_report_stack(p, s->stack, fr, 0);
		size_t shown = s->task_depth && depth >= s->task_depth ? depth - s->task_depth + 1
								       : SHOWN_FRAMES;
		put_stack(p, s->stack, shown, out);
	}
}

int pp_render_report_text(const struct pp_profile *p, const struct pp_report *r,
			  uint64_t threshold_ns, FILE *out)
{
	put_header(p, r, out);
	put_gil(p, r, out);
	put_stalls(p, r, threshold_ns, out);
	return ferror(out) ? -1 : 0;
}
