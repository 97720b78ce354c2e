/* Chrome's trace event format (the JSON Object Format of the Trace Event
 * Format document), which Perfetto, chrome://tracing and Chrome DevTools'
 * Performance panel open:
 *
 *   traceEvents  first metadata ("ph": "M"): a process_name per process
 *                (its command line) and a thread_name per thread (its name,
 *                or `thread TID`), so each thread is a track of its own;
 *                then complete events ("ph": "X"), one per span: a frame
 *                that stayed at the same depth of its thread's stack over
 *                consecutive samples. A span opens at the time of the first
 *                sample that has it and closes at the time of the first that
 *                does not; after the thread's last sample, or before a gap
 *                (no kept sample of the thread for over two sampling
 *                intervals: it slept, or was not sampled), it closes one
 *                interval after the last sample that had it. Spans are
 *                keyed by function and file, never by line (a function's
 *                line changes as it runs; the span is the call): `name` is
 *                the function, `cat` "python" or "pyprobe" (markers and
 *                synthetic roots), `args` the file and the line the
 *                function starts at. Ordered by thread, start, then depth,
 *                so a parent always comes before its children.
 *   ts, dur      microseconds since the recording started, from the
 *                samples' own times, with three decimals (nanoseconds)
 *   displayTimeUnit  "ms"
 *   otherData    the exporter, command line, Python version, rates,
 *                start (Unix ns)
 */
#include "render.h"
#include "stream_end.h"
#include "json_str.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct span {
	uint64_t start, end; /* ns since the recording started */
	uint32_t thread;     /* profile thread row (the view's canonical one) */
	uint32_t frame;      /* view frame id */
	uint32_t depth;      /* 0 for a root frame */
};

struct open_frame {
	uint32_t frame;
	uint64_t start;
};

struct track {
	struct open_frame *open;
	size_t nopen, capopen;
	uint64_t last; /* time of the thread's latest kept sample */
	bool seen;
};

struct pass {
	struct track *tracks; /* per profile thread row */
	size_t ntracks;
	struct span *spans;
	size_t nspans, capspans;
	uint64_t interval_ns;
	bool failed;
};

static int add_span(struct pass *ps, uint32_t thread, uint32_t depth, const struct open_frame *f,
		    uint64_t end)
{
	if (ps->nspans == ps->capspans) {
		size_t ncap = ps->capspans ? ps->capspans * 2 : 256;
		struct span *n = realloc(ps->spans, ncap * sizeof(*n));
		if (!n)
			return -1;
		ps->spans = n;
		ps->capspans = ncap;
	}
	ps->spans[ps->nspans++] = (struct span){f->start, end > f->start ? end : f->start,
						thread, f->frame, depth};
	return 0;
}

/* Close the thread's open frames from depth `keep` on, innermost first. */
static int close_from(struct pass *ps, uint32_t thread, size_t keep, uint64_t end)
{
	struct track *t = &ps->tracks[thread];
	while (t->nopen > keep) {
		t->nopen--;
		if (add_span(ps, thread, (uint32_t)t->nopen, &t->open[t->nopen], end) != 0)
			return -1;
	}
	return 0;
}

static int on_sample(const struct pp_view_frame *const *f, size_t n, const struct pp_psample *s,
		     void *ctx)
{
	struct pass *ps = ctx;
	if (s->thread >= ps->ntracks)
		return 0;
	struct track *t = &ps->tracks[s->thread];
	uint64_t now = s->time_ns;
	/* a gap: what was open ended soon after the last sample that saw it */
	if (t->seen && now > t->last && now - t->last > 2 * ps->interval_ns &&
	    close_from(ps, s->thread, 0, t->last + ps->interval_ns) != 0)
		return -1;
	size_t common = 0;
	while (common < t->nopen && common < n && t->open[common].frame == f[common]->id)
		common++;
	if (close_from(ps, s->thread, common, now) != 0)
		return -1;
	if (n > t->capopen) {
		struct open_frame *no = realloc(t->open, n * sizeof(*no));
		if (!no)
			return -1;
		t->open = no;
		t->capopen = n;
	}
	for (size_t i = common; i < n; i++)
		t->open[i] = (struct open_frame){f[i]->id, now};
	t->nopen = n;
	t->last = now;
	t->seen = true;
	return 0;
}

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	if (x->thread != y->thread)
		return x->thread < y->thread ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return 0;
}

/* Nanoseconds as microseconds with three decimals, no floating point. */
static void put_us(uint64_t ns, FILE *out)
{
	fprintf(out, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

/* Events are separated by ",\n": before every one but the first. */
static void next_event(bool *first, FILE *out)
{
	fputs(*first ? "    " : ",\n    ", out);
	*first = false;
}

static void put_meta(bool *first, const char *what, uint32_t pid, uint64_t tid, const char *name,
		     FILE *out)
{
	next_event(first, out);
	fprintf(out, "{\"ph\": \"M\", \"name\": \"%s\", \"pid\": %" PRIu32 ", \"tid\": %" PRIu64
		     ", \"args\": {\"name\": ",
		what, pid, tid);
	pp_json_str(name, out);
	fputs("}}", out);
}

static int write_file(const struct pp_profile *p, const struct pp_view *v, struct pass *ps,
		      FILE *out)
{
	size_t nthreads;
	const struct pp_pthread *th = pp_profile_threads(p, &nthreads);
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	if (ps->nspans)
		qsort(ps->spans, ps->nspans, sizeof(*ps->spans), span_cmp);

	bool first = true;
	fputs("{\n  \"traceEvents\": [\n", out);
	/* a process_name per process, once, then a thread_name per track */
	for (size_t t = 0; t < nthreads; t++) {
		if (!ps->tracks[t].seen)
			continue;
		bool first_of_pid = true;
		for (size_t u = 0; u < t && first_of_pid; u++)
			if (ps->tracks[u].seen && th[u].pid == th[t].pid)
				first_of_pid = false;
		if (first_of_pid) {
			const char *cmd = pp_profile_string(p, th[t].cmdline);
			if (!*cmd)
				cmd = pp_profile_string(p, m->cmdline);
			put_meta(&first, "process_name", th[t].pid, th[t].pid, *cmd ? cmd : "python", out);
		}
		const char *tn = pp_view_thread_name(v, (uint32_t)t);
		char label[48];
		if (!*tn) {
			snprintf(label, sizeof label, "thread %" PRIu64, th[t].native_id);
			tn = label;
		}
		put_meta(&first, "thread_name", th[t].pid, th[t].native_id, tn, out);
	}
	for (size_t i = 0; i < ps->nspans && !ferror(out); i++) {
		const struct span *sp = &ps->spans[i];
		const struct pp_view_frame *f = pp_view_frame(v, sp->frame);
		bool py = f->kind == PP_FRAME_PYTHON;
		next_event(&first, out);
		fprintf(out, "{\"ph\": \"X\", \"cat\": \"%s\", \"name\": ", py ? "python" : "pyprobe");
		pp_json_str(f->function, out);
		fprintf(out, ", \"pid\": %" PRIu32 ", \"tid\": %" PRIu64 ", \"ts\": ",
			th[sp->thread].pid, th[sp->thread].native_id);
		put_us(sp->start, out);
		fputs(", \"dur\": ", out);
		put_us(sp->end - sp->start, out);
		if (py) {
			fputs(", \"args\": {\"file\": ", out);
			pp_json_str(f->file, out);
			if (f->firstlineno > 0)
				fprintf(out, ", \"line\": %d", f->firstlineno);
			fputc('}', out);
		}
		fputc('}', out);
	}
	fputs("\n  ],\n  \"displayTimeUnit\": \"ms\",\n  \"otherData\": {\n"
	      "    \"exporter\": \"pyprobe " PYPROBE_VERSION "\",\n    \"command\": ",
	      out);
	pp_json_str(pp_profile_string(p, m->cmdline), out);
	fputs(",\n    \"python_version\": ", out);
	pp_json_str(pp_profile_string(p, m->python_version), out);
	fprintf(out,
		",\n    \"rate_hz\": %" PRIu32 ",\n    \"interval_ns\": %" PRIu64
		",\n    \"start_unix_ns\": %" PRIu64 "\n  }\n}\n",
		m->rate_hz, ps->interval_ns, m->start_unix_ns);
	return 0;
}

int pp_render_chrometrace(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out)
{
	struct pass ps = {0};
	int rc = -1;
	/* spans are calls: keyed by function and file, whatever line they are at */
	struct pp_view_opts vo = o->view;
	vo.nolineno = true;
	double rate = pp_profile_rate_achieved(pp_profile_meta_c(p));
	ps.interval_ns = (uint64_t)(1e9 / rate);
	if (ps.interval_ns == 0)
		ps.interval_ns = 1;
	pp_profile_threads(p, &ps.ntracks);
	ps.tracks = calloc(ps.ntracks ? ps.ntracks : 1, sizeof(*ps.tracks));
	struct pp_view *v = pp_view_new(p, &vo);
	if (!ps.tracks || !v || pp_view_each(v, on_sample, &ps) != 0)
		goto out;
	for (size_t t = 0; t < ps.ntracks; t++)
		if (close_from(&ps, (uint32_t)t, 0, ps.tracks[t].last + ps.interval_ns) != 0)
			goto out;
	rc = write_file(p, v, &ps, out);
out:
	if (rc != 0)
		errno = ENOMEM;
	for (size_t t = 0; ps.tracks && t < ps.ntracks; t++)
		free(ps.tracks[t].open);
	free(ps.tracks);
	free(ps.spans);
	pp_view_free(v);
	if (rc != 0)
		return -1;
	return pp_stream_end(out);
}
