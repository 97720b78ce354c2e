/* The report's timeline as SVG: what `pyprobe report FILE -o X.svg` draws.
 *
 * One row per report thread, in the report's order, labelled "TID name",
 * coloured by each sample's GIL use (held, waiting, released, idle,
 * unknown); under the row of a thread that ran an asyncio event loop, a
 * band showing whether the loop was busy or waiting, with its stalls as
 * red boxes. The report's longest GIL waits are outlined on the waiting
 * thread's row. Everything has a <title>, so hovering it tells what it is:
 * a stretch of one state, a wait and the holder's stack, a stall and the
 * stack that blocked the loop. No script.
 *
 * A sample stands for the time from it to the next sample of its thread,
 * or one sampling interval when the next one is further than three
 * intervals away. So sampling jitter and a tick or two the sampler missed
 * (it was late: meta ticks_missed) leave no hairline gaps, as they do not
 * end a stall either, while a thread that stops being sampled shows as a
 * gap. Consecutive samples in one state are one box. Runs narrower than a pixel are merged with
 * their narrow neighbours into one box of the state that took most of
 * that time ("mixed" in its title), so a thread flipping state at every
 * sample costs about one box per pixel, not one per sample: ten threads
 * over ten minutes at 100 Hz stay within a few megabytes.
 *
 * Every string read from the target (command line, thread, function and
 * file names) is cleaned for XML: control characters dropped, invalid
 * UTF-8 replaced by U+FFFD, markup characters escaped. Numbers come from
 * integer arithmetic (tenths of a pixel, rounded milliseconds): the same
 * input gives the same bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "svg_num.h"
#include "utf8.h"

/* Geometry. Lengths ending in 10 are in tenths of a pixel. */
enum {
	IMG_W = 1200,
	PAD_X = 10,
	LABEL_W = 200,                   /* thread labels, left of the plot */
	PLOT_X = PAD_X + LABEL_W,
	PLOT_W = IMG_W - PLOT_X - PAD_X, /* the time axis */
	AXIS_Y = 96,                     /* the axis line; tick labels above */
	ROWS_Y = AXIS_Y + 4,             /* the first row */
	ROW_H = 18,                      /* a thread's row; its boxes 16 */
	LOOP_H = 14,                     /* an event loop's band; boxes 12 */
	ROW_GAP = 3,                     /* between threads */
	FOOT_H = 34,
	LABEL_COLS = 26,  /* of the 12 px monospace font (7.2 px) in LABEL_W */
	TITLE_COLS = 118, /* of the 16 px title across the image */
	SUB_COLS = 165,
	MAX_FRAMES = 40,  /* of a stack in a tooltip */
	MIN_W10 = 10,     /* runs narrower than a pixel are merged */
	MAX_TICKS = 10,
};

/* ---- text ---------------------------------------------------------------- */

/* A target string as XML character data or attribute value, cut to `max`
 * characters with ".." (0: no limit). NULL writes nothing. */
static void put_text(FILE *out, const char *s, size_t max)
{
	if (!s)
		return;
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), n, keep = SIZE_MAX;
	if (max) {
		size_t chars = 0;
		for (size_t i = 0; i < len; i += n)
			chars += !pp_utf8_is_control(pp_utf8_next(u + i, len - i, &n));
		if (chars > max)
			keep = max > 2 ? max - 2 : 0;
	}
	size_t shown = 0;
	for (size_t i = 0; i < len && shown < keep; i += n) {
		long cp = pp_utf8_next(u + i, len - i, &n);
		if (pp_utf8_is_control(cp))
			continue;
		shown++;
		if (cp < 0 || cp == 0xFFFE || cp == 0xFFFF) {
			fputs("\xEF\xBF\xBD", out);
			continue;
		}
		switch (cp) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fwrite(u + i, 1, n, out);
		}
	}
	if (keep != SIZE_MAX)
		fputs("..", out);
}

/* ns / unit rounded half up, without overflow */
static uint64_t div_round(uint64_t ns, uint64_t unit)
{
	return ns / unit + (ns % unit >= unit - unit / 2);
}

/* "120.0 ms" */
static void put_ms(FILE *out, uint64_t ns)
{
	uint64_t t = div_round(ns, 100000);
	fprintf(out, "%" PRIu64 ".%" PRIu64 " ms", t / 10, t % 10);
}

/* "1.230 s" */
static void put_s3(FILE *out, uint64_t ns)
{
	uint64_t ms = div_round(ns, 1000000);
	fprintf(out, "%" PRIu64 ".%03" PRIu64 " s", ms / 1000, ms % 1000);
}

/* "12.34 s" */
static void put_s2(FILE *out, uint64_t ns)
{
	uint64_t cs = div_round(ns, 10000000);
	fprintf(out, "%" PRIu64 ".%02" PRIu64 " s", cs / 100, cs % 100);
}

/* milliseconds below ten seconds, seconds above */
static void put_dur(FILE *out, uint64_t ns)
{
	if (ns < 10000000000ull)
		put_ms(out, ns);
	else
		put_s2(out, ns);
}

/* part of whole in tenths of a percent */
static uint64_t permille(uint64_t part, uint64_t whole)
{
	if (!whole)
		return 0;
	if (part > UINT64_MAX / 1000) { /* absurd counts: stay exact enough */
		part /= 1000;
		whole /= 1000;
		if (!whole)
			return 0;
	}
	return (part * 1000 + whole / 2) / whole;
}

static void put_pct(FILE *out, double pct)
{
	uint64_t t = pct > 0 && pct <= 100 ? (uint64_t)(pct * 10 + 0.5) : 0;
	fprintf(out, "%" PRIu64 ".%" PRIu64 "%%", t / 10, t % 10);
}

/* ---- the drawing ---------------------------------------------------------- */

struct tl {
	const struct pp_profile *p;
	const struct pp_report *r;
	FILE *out;
	uint64_t interval;  /* one sampling period, ns */
	uint64_t threshold; /* the stall threshold the report used, ns */
	uint64_t span;      /* the time the plot covers, ns, > 0 */
	unsigned shift;     /* times >> shift before scaling, so products fit */
	int64_t *row_y;     /* per report thread */
	int64_t *loop_y;    /* per report thread, with event_loop */
};

/* The x of a time, in tenths of a pixel. */
static int64_t x10(const struct tl *g, uint64_t t)
{
	if (t > g->span)
		t = g->span;
	uint64_t d = g->span >> g->shift;
	t >>= g->shift;
	return PLOT_X * 10 + (int64_t)((t * (PLOT_W * 10) + d / 2) / d);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

struct state_style {
	const char *name, *fill;
};

static const struct state_style gil_style[PP_USE_COUNT] = {
	[PP_USE_HELD] = {"held", "#e0532b"},
	[PP_USE_WAITING] = {"waiting", "#f2c12e"},
	[PP_USE_RELEASED] = {"released", "#4cae4f"},
	[PP_USE_IDLE] = {"idle", "#d4d4d4"},
	[PP_USE_UNKNOWN] = {"unknown", "#ebe6f5"},
};

enum { LOOP_BUSY, LOOP_WAITING, LOOP_NSTATES };
static const struct state_style loop_style[LOOP_NSTATES] = {
	[LOOP_BUSY] = {"loop busy", "#5a7ec6"},
	[LOOP_WAITING] = {"loop waiting", "#d3dff3"},
};

#define STALL_FILL "#c8102e"
#define STALL_STROKE "#5c0615"
#define WAIT_STYLE "fill=\"#000\" fill-opacity=\".1\" stroke=\"#111\" stroke-width=\"1.6\""

#define NSTATES_MAX PP_USE_COUNT

/* One band of boxes: a thread's GIL row or its loop's band. Samples come
 * in time order; runs of one state are merged, and runs narrower than a
 * pixel gathered into a "mix". */
struct strip {
	const struct tl *g;
	const struct state_style *style;
	size_t nstates;
	int64_t y, h;
	bool run;
	size_t state;
	uint64_t start, end, n;
	bool mix;
	size_t mfirst;
	uint64_t mstart, mend, mn, mns[NSTATES_MAX];
};

static void box(const struct strip *st, size_t state, uint64_t start, uint64_t end)
{
	FILE *out = st->g->out;
	int64_t a = x10(st->g, start), b = x10(st->g, end);
	fputs("<rect x=\"", out);
	pp_svg_tenths(out, a);
	fprintf(out, "\" y=\"%" PRId64 "\" width=\"", st->y);
	pp_svg_tenths(out, b - a > 0 ? b - a : 1);
	fprintf(out, "\" height=\"%" PRId64 "\" fill=\"%s\"><title>", st->h,
		st->style[state].fill);
}

static void put_samples(FILE *out, uint64_t n)
{
	fprintf(out, " (%" PRIu64 " sample%s)</title></rect>\n", n, n == 1 ? "" : "s");
}

/* "held 120.0 ms from 1.230 s (12 samples)" */
static void draw_run(const struct strip *st, size_t state, uint64_t start, uint64_t end,
		     uint64_t n)
{
	FILE *out = st->g->out;
	box(st, state, start, end);
	fprintf(out, "%s ", st->style[state].name);
	put_dur(out, end - start);
	fputs(" from ", out);
	put_s3(out, start);
	put_samples(out, n);
}

static void mix_flush(struct strip *st)
{
	if (!st->mix)
		return;
	st->mix = false;
	size_t kinds = 0, best = st->mfirst;
	for (size_t s = 0; s < st->nstates; s++) {
		kinds += st->mns[s] > 0;
		if (st->mns[s] > st->mns[best])
			best = s;
	}
	if (kinds <= 1) {
		draw_run(st, best, st->mstart, st->mend, st->mn);
		return;
	}
	/* "mixed 5.0 ms from 1.230 s: held 60%, waiting 40% (12 samples)" */
	FILE *out = st->g->out;
	uint64_t total = 0;
	for (size_t s = 0; s < st->nstates; s++)
		total += st->mns[s];
	box(st, best, st->mstart, st->mend);
	fputs("mixed ", out);
	put_dur(out, st->mend - st->mstart);
	fputs(" from ", out);
	put_s3(out, st->mstart);
	const char *sep = ": ";
	for (size_t s = 0; s < st->nstates; s++) {
		if (!st->mns[s])
			continue;
		uint64_t pm = permille(st->mns[s], total);
		fprintf(out, "%s%s %" PRIu64 "%%", sep, st->style[s].name, (pm + 5) / 10);
		sep = ", ";
	}
	put_samples(out, st->mn);
}

/* A finished run of one state. */
static void strip_run(struct strip *st, size_t state, uint64_t start, uint64_t end, uint64_t n)
{
	const struct tl *g = st->g;
	if (x10(g, end) - x10(g, start) >= MIN_W10) {
		mix_flush(st);
		draw_run(st, state, start, end, n);
		return;
	}
	/* a gap of a pixel or more ends the mix; a smaller one is bridged */
	if (st->mix && x10(g, start) - x10(g, st->mend) >= MIN_W10)
		mix_flush(st);
	if (!st->mix) {
		st->mix = true;
		st->mfirst = state;
		st->mstart = start;
		st->mend = end;
		st->mn = 0;
		memset(st->mns, 0, sizeof(st->mns));
	}
	if (end > st->mend)
		st->mend = end;
	st->mns[state] += end - start;
	st->mn += n;
	if (x10(g, st->mend) - x10(g, st->mstart) >= MIN_W10)
		mix_flush(st);
}

static void strip_close(struct strip *st)
{
	if (st->run) {
		st->run = false;
		strip_run(st, st->state, st->start, st->end, st->n);
	}
}

/* One sample covering [t, end); state < 0: nothing to draw there. */
static void strip_add(struct strip *st, int state, uint64_t t, uint64_t end)
{
	if (st->run && (state != (int)st->state || t > st->end))
		strip_close(st);
	if (state < 0)
		return;
	if (!st->run) {
		st->run = true;
		st->state = (size_t)state;
		st->start = t;
		st->end = end;
		st->n = 0;
	}
	if (end > st->end)
		st->end = end;
	st->n++;
}

static void strip_finish(struct strip *st)
{
	strip_close(st);
	mix_flush(st);
}

/* ---- samples by thread ------------------------------------------------------ */

struct by_thread {
	size_t *order; /* sample indexes grouped by report thread, in time order */
	size_t *first; /* thread t's are order[first[t] .. first[t + 1]) */
};

static int cmp_time(const void *a, const void *b, void *ctx)
{
	const struct pp_psample *smp = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (smp[x].time_ns != smp[y].time_ns)
		return smp[x].time_ns < smp[y].time_ns ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int group_samples(const struct tl *g, struct by_thread *bt)
{
	size_t ns, nrows, nt = g->r->nthreads;
	const struct pp_psample *smp = pp_profile_samples(g->p, &ns);
	pp_profile_threads(g->p, &nrows);
	int32_t *of = malloc((nrows ? nrows : 1) * sizeof(*of));
	bt->order = malloc((ns ? ns : 1) * sizeof(*bt->order));
	bt->first = calloc(nt + 2, sizeof(*bt->first));
	if (!of || !bt->order || !bt->first) {
		free(of);
		return -1;
	}
	for (size_t i = 0; i < nrows; i++) {
		int32_t t = pp_report_thread_of(g->r, (uint32_t)i);
		of[i] = t >= 0 && (size_t)t < nt ? t : -1;
	}
	/* a counting sort: stable, so each thread's samples keep their order */
	for (size_t i = 0; i < ns; i++)
		if (smp[i].thread < nrows && of[smp[i].thread] >= 0)
			bt->first[of[smp[i].thread] + 2]++;
	for (size_t t = 2; t < nt + 2; t++)
		bt->first[t] += bt->first[t - 1];
	for (size_t i = 0; i < ns; i++)
		if (smp[i].thread < nrows && of[smp[i].thread] >= 0)
			bt->order[bt->first[of[smp[i].thread] + 1]++] = i;
	free(of);
	/* samples are appended in time order; a file that says otherwise is
	 * sorted, ties by position */
	for (size_t t = 0; t < nt; t++) {
		size_t a = bt->first[t], b = bt->first[t + 1];
		for (size_t k = a + 1; k < b; k++) {
			if (smp[bt->order[k]].time_ns < smp[bt->order[k - 1]].time_ns) {
				qsort_r(bt->order + a, b - a, sizeof(*bt->order), cmp_time,
					(void *)smp);
				break;
			}
		}
	}
	return 0;
}

/* Where sample k of a thread's samples (order[..b)) ends: at the next one
 * if it comes within BRIDGE intervals, else one interval on. */
enum { BRIDGE = 3 };
static uint64_t sample_end(const struct tl *g, const struct pp_psample *smp,
			   const size_t *order, size_t k, size_t b)
{
	uint64_t t = smp[order[k]].time_ns;
	if (k + 1 < b) {
		uint64_t next = smp[order[k + 1]].time_ns;
		if ((next - t) / BRIDGE <= g->interval)
			return next;
	}
	return add_sat(t, g->interval);
}

/* ---- parts ------------------------------------------------------------------ */

static const char style[] =
	"text{font-family:Verdana,\"DejaVu Sans\",sans-serif;font-size:12px;fill:#222}\n"
	"#title{font-size:16px;font-weight:bold}\n"
	".sub{fill:#555}\n"
	".lbl{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,\"Liberation Mono\",monospace}\n"
	".band{font-size:10px;font-style:italic;fill:#666}\n"
	".tick{font-size:11px;fill:#555;text-anchor:middle}\n"
	".grid{stroke:#e2e2e2;stroke-width:1}\n"
	"#threads rect:hover,#waits rect:hover,#stalls rect:hover{stroke:#000;stroke-width:1.2}\n"
	"#stalls text{font-size:10px;font-weight:bold;fill:#fff;text-anchor:middle;"
	"pointer-events:none}\n"
	"#empty{font-size:17px;text-anchor:middle;fill:#666}\n"
	".foot{font-size:11px;fill:#666}\n";

/* "TID name", cut to max characters (0: whole) */
static void put_thread(FILE *out, const struct pp_report_thread *t, size_t max)
{
	int k = fprintf(out, "%" PRIu64, t->native_id);
	if (!t->name || !*t->name)
		return;
	putc(' ', out);
	if (max) {
		size_t used = (size_t)(k > 0 ? k : 0) + 1;
		put_text(out, t->name, used + 3 < max ? max - used : 3);
	} else {
		put_text(out, t->name, 0);
	}
}

static void put_header(const struct tl *g, int64_t height)
{
	const struct pp_profile_meta *m = pp_profile_meta_c(g->p);
	const struct pp_report *r = g->r;
	FILE *out = g->out;
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%" PRId64 "\" viewBox=\"0 0 %d %" PRId64 "\">\n"
		"<!-- GIL and event-loop timeline by pyprobe. Hover a box for what it is. -->\n"
		"<style type=\"text/css\"><![CDATA[\n%s]]></style>\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%" PRId64 "\" fill=\"#fff\"/>\n",
		IMG_W, height, IMG_W, height, style, IMG_W, height);

	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">pyprobe report: ", PAD_X);
	const char *cmd = pp_profile_string(g->p, m->cmdline);
	if (*cmd)
		put_text(out, cmd, TITLE_COLS);
	else if (m->pid)
		fprintf(out, "pid %" PRIu32, m->pid);
	else
		fputs("?", out);
	fputs("</text>\n", out);

	/* "pid 42 · Python 3.11.7 · 12.34 s at 100 Hz · 6000 thread samples ·
	 *  GIL held 55.0%, contended 20.0% · 2 stalls of 100 ms or more in 1
	 *  event loop" */
	const char *dot = " \xC2\xB7 ";
	fprintf(out, "<text id=\"subtitle\" class=\"sub\" x=\"%d\" y=\"44\">", PAD_X);
	if (m->pid)
		fprintf(out, "pid %" PRIu32 "%s", m->pid, dot);
	const char *ver = pp_profile_string(g->p, m->python_version);
	if (*ver) {
		fputs("Python ", out);
		put_text(out, ver, 20);
		fputs(dot, out);
	}
	put_s2(out, r->duration_ns);
	/* the rate achieved, as the flame graph says */
	if (m->rate_hz) {
		fputs(" at ", out);
		pp_svg_tenths(out, (int64_t)(pp_profile_rate_achieved(m) * 10 + 0.5));
		fputs(" Hz", out);
	}
	fprintf(out, "%s%" PRIu64 " thread sample%s", dot, r->samples, r->samples == 1 ? "" : "s");
	if (r->gil_known) {
		fprintf(out, "%sGIL held ", dot);
		put_pct(out, r->gil_held_pct);
		fputs(", contended ", out);
		put_pct(out, r->gil_contention_pct);
	}
	if (r->nloops) {
		fprintf(out, "%s%zu stall%s of ", dot, r->nstalls, r->nstalls == 1 ? "" : "s");
		if (g->threshold % 1000000)
			put_ms(out, g->threshold);
		else
			fprintf(out, "%" PRIu64 " ms", g->threshold / 1000000);
		fprintf(out, " or more in %zu event loop%s", r->nloops, r->nloops == 1 ? "" : "s");
	}
	fputs("</text>\n", out);
}

/* A legend entry at x (tenths); returns the next entry's x. */
static int64_t legend_item(FILE *out, int64_t x, int64_t y, const char *attrs, const char *text)
{
	fputs("<rect x=\"", out);
	pp_svg_tenths(out, x);
	fprintf(out, "\" y=\"%" PRId64 "\" width=\"14\" height=\"12\" %s/><text x=\"", y - 10,
		attrs);
	pp_svg_tenths(out, x + 190);
	fprintf(out, "\" y=\"%" PRId64 "\">%s</text>", y, text);
	/* Verdana 12 px: about 7.5 px a character */
	return x + 190 + (int64_t)strlen(text) * 75 + 180;
}

static void put_legend(const struct tl *g, int64_t y)
{
	FILE *out = g->out;
	char attrs[96];
	int64_t x = PAD_X * 10;
	fputs("<g id=\"legend\">", out);
	static const char *const gil_legend[PP_USE_COUNT] = {
		[PP_USE_HELD] = "held the GIL",
		[PP_USE_WAITING] = "waiting for the GIL",
		[PP_USE_RELEASED] = "released it (running)",
		[PP_USE_IDLE] = "idle (blocked)",
		[PP_USE_UNKNOWN] = "unknown",
	};
	for (size_t s = 0; s < PP_USE_COUNT; s++) {
		snprintf(attrs, sizeof attrs, "fill=\"%s\" stroke=\"#999\" stroke-width=\".5\"",
			 gil_style[s].fill);
		x = legend_item(out, x, y, attrs, gil_legend[s]);
	}
	x += 120;
	if (g->r->nwaits)
		x = legend_item(out, x, y, WAIT_STYLE, "GIL wait");
	if (g->r->nloops) {
		for (size_t s = 0; s < LOOP_NSTATES; s++) {
			snprintf(attrs, sizeof attrs, "fill=\"%s\"", loop_style[s].fill);
			x = legend_item(out, x, y, attrs, loop_style[s].name);
		}
		x = legend_item(out, x, y, "fill=\"" STALL_FILL "\" stroke=\"" STALL_STROKE "\"",
				"loop stall");
	}
	fputs("</g>\n", out);
}

/* A round tick step: 1, 2 or 5 times a power of ten nanoseconds, the
 * smallest giving at most MAX_TICKS steps; *decimals for its labels in
 * seconds. */
static uint64_t tick_step(uint64_t span, int *decimals)
{
	static const uint64_t mult[] = {1, 2, 5};
	uint64_t p10 = 1;
	for (int k = 0;; k++, p10 *= 10) {
		for (size_t i = 0; i < 3; i++) {
			uint64_t s = mult[i] * p10;
			if (s >= span / MAX_TICKS + (span % MAX_TICKS != 0) || k == 18) {
				*decimals = k >= 9 ? 0 : 9 - k;
				return s;
			}
		}
	}
}

static void put_axis(const struct tl *g, int64_t bottom)
{
	FILE *out = g->out;
	int dec;
	uint64_t step = tick_step(g->span, &dec);
	uint64_t unit = 1;
	for (int i = dec; i < 9; i++)
		unit *= 10;
	fputs("<g id=\"axis\">", out);
	for (uint64_t t = 0;; t += step) {
		int64_t x = x10(g, t);
		fputs("<line class=\"grid\" x1=\"", out);
		pp_svg_tenths(out, x);
		fprintf(out, "\" y1=\"%d\" x2=\"", AXIS_Y - 4);
		pp_svg_tenths(out, x);
		fprintf(out, "\" y2=\"%" PRId64 "\"/><text class=\"tick\" x=\"", bottom);
		pp_svg_tenths(out, x);
		fprintf(out, "\" y=\"%d\">%" PRIu64, AXIS_Y - 7, t / UINT64_C(1000000000));
		if (dec)
			fprintf(out, ".%0*" PRIu64, dec, t % UINT64_C(1000000000) / unit);
		fputs(" s</text>", out);
		if (g->span - t < step) /* t <= span: x10 clamps */
			break;
	}
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", PLOT_X,
		AXIS_Y, PLOT_X + PLOT_W, AXIS_Y);
	fputs("</g>\n", out);
}

/* One frame of a tooltip's stack, on a line of its own. */
static void put_frame(const struct tl *g, const struct pp_pframe *f)
{
	FILE *out = g->out;
	putc('\n', out);
	put_text(out, pp_profile_string(g->p, f->function), 0);
	if (f->kind == PP_FRAME_MARKER) /* [changing], [unreadable frame: ...] */
		return;
	fputs(" (", out);
	put_text(out, pp_profile_string(g->p, f->file), 0);
	if (f->line >= 0)
		fprintf(out, ":%d", (int)f->line);
	else if (f->line == PP_LINE_UNKNOWN)
		fputs(":?", out);
	putc(')', out);
}

/* The innermost `max` frames of a stack, and how many were left out. */
static void put_stack(const struct tl *g, pp_stack_id leaf, size_t max)
{
	const struct pp_pframe *fr[MAX_FRAMES];
	if (max > MAX_FRAMES)
		max = MAX_FRAMES;
	size_t n = pp_report_stack(g->p, leaf, fr, MAX_FRAMES);
	if (n == 0) {
		fputs("\n(no Python frames)", g->out);
		return;
	}
	for (size_t i = 0; i < n && i < max; i++)
		put_frame(g, fr[i]);
	if (n > max)
		fprintf(g->out, "\n... %zu outer frame%s", n - max, n - max == 1 ? "" : "s");
}

/* A thread's label, with its totals in the tooltip. */
static void put_label(const struct tl *g, const struct pp_report_thread *t, int64_t y)
{
	FILE *out = g->out;
	fprintf(out, "<text class=\"lbl\" x=\"%d\" y=\"%" PRId64 "\"><title>", PAD_X, y + 13);
	put_thread(out, t, 0);
	fprintf(out, " (pid %" PRIu32 "): %" PRIu64 " sample%s", t->pid, t->samples,
		t->samples == 1 ? "" : "s");
	const char *sep = "; GIL ";
	for (size_t s = 0; s < PP_USE_COUNT; s++) {
		uint64_t pm = permille(t->count[s], t->samples);
		fprintf(out, "%s%s %" PRIu64 ".%" PRIu64 "%%", sep, gil_style[s].name, pm / 10,
			pm % 10);
		sep = ", ";
	}
	if (t->event_loop)
		fputs("; runs an event loop", out);
	fputs("</title>", out);
	put_thread(out, t, LABEL_COLS);
	fputs("</text>\n", out);
}

static void put_threads(const struct tl *g, const struct by_thread *bt)
{
	const struct pp_report *r = g->r;
	FILE *out = g->out;
	size_t ns;
	const struct pp_psample *smp = pp_profile_samples(g->p, &ns);
	fputs("<g id=\"threads\">\n", out);
	for (size_t t = 0; t < r->nthreads; t++) {
		const struct pp_report_thread *th = &r->threads[t];
		put_label(g, th, g->row_y[t]);
		struct strip gil = {.g = g, .style = gil_style, .nstates = PP_USE_COUNT,
				    .y = g->row_y[t] + 1, .h = ROW_H - 2};
		struct strip loop = {.g = g, .style = loop_style, .nstates = LOOP_NSTATES,
				     .y = g->loop_y[t] + 1, .h = LOOP_H - 2};
		if (th->event_loop)
			fprintf(out, "<text class=\"band\" x=\"%d\" y=\"%" PRId64 "\">event loop"
				"</text>\n", PAD_X + 24, g->loop_y[t] + 10);
		size_t a = bt->first[t], b = bt->first[t + 1];
		for (size_t k = a; k < b; k++) {
			const struct pp_psample *s = &smp[bt->order[k]];
			uint64_t end = sample_end(g, smp, bt->order, k, b);
			strip_add(&gil, (int)pp_sample_gil_use(s), s->time_ns, end);
		}
		strip_finish(&gil);
		if (!th->event_loop)
			continue;
		for (size_t k = a; k < b; k++) {
			const struct pp_psample *s = &smp[bt->order[k]];
			uint64_t end = sample_end(g, smp, bt->order, k, b);
			enum pp_loop_state ls = pp_report_loop_state(r, s->stack);
			strip_add(&loop,
				  ls == PP_LOOP_BUSY ? LOOP_BUSY : ls == PP_LOOP_WAITING ? LOOP_WAITING : -1,
				  s->time_ns, end);
		}
		strip_finish(&loop);
	}
	fputs("</g>\n", out);
}

/* A marker's box: at least min10 wide, centred on its span if widened,
 * within the plot. */
static void marker_box(const struct tl *g, uint64_t start, uint64_t dur, int64_t min10,
		       int64_t *x, int64_t *w)
{
	int64_t a = x10(g, start), b = x10(g, add_sat(start, dur));
	if (b - a < min10) {
		a -= (min10 - (b - a)) / 2;
		if (a < PLOT_X * 10)
			a = PLOT_X * 10;
		if (a > (PLOT_X + PLOT_W) * 10 - min10)
			a = (PLOT_X + PLOT_W) * 10 - min10;
		b = a + min10;
	}
	*x = a;
	*w = b - a;
}

static void put_waits(const struct tl *g)
{
	const struct pp_report *r = g->r;
	FILE *out = g->out;
	fputs("<g id=\"waits\">\n", out);
	for (size_t i = 0; i < r->nwaits; i++) {
		const struct pp_gil_wait *w = &r->waits[i];
		if (w->thread >= r->nthreads)
			continue;
		int64_t x, wd;
		marker_box(g, w->start_ns, w->duration_ns, 30, &x, &wd);
		fputs("<rect x=\"", out);
		pp_svg_tenths(out, x);
		fprintf(out, "\" y=\"%" PRId64 "\" width=\"", g->row_y[w->thread] + 1);
		pp_svg_tenths(out, wd);
		fprintf(out, "\" height=\"%d\" " WAIT_STYLE "><title>", ROW_H - 2);
		/* "4250 worker waited 120.0 ms behind 4242 MainThread, from 1.230 s:" */
		put_thread(out, &r->threads[w->thread], 0);
		fputs(" waited ", out);
		put_ms(out, w->duration_ns);
		if (w->holder >= 0 && (size_t)w->holder < r->nthreads) {
			fputs(" behind ", out);
			put_thread(out, &r->threads[w->holder], 0);
			fputs(", from ", out);
			put_s3(out, w->start_ns);
			fputs(", which was running:", out);
			put_stack(g, w->holder_stack, MAX_FRAMES);
		} else {
			fputs(", from ", out);
			put_s3(out, w->start_ns);
			fputs("; no holder seen", out);
		}
		fputs("</title></rect>\n", out);
	}
	fputs("</g>\n", out);
}

static void put_stalls(const struct tl *g)
{
	const struct pp_report *r = g->r;
	FILE *out = g->out;
	fputs("<g id=\"stalls\">\n", out);
	for (size_t i = 0; i < r->nstalls; i++) {
		const struct pp_stall *s = &r->stalls[i];
		if (s->thread >= r->nthreads || !r->threads[s->thread].event_loop)
			continue;
		int64_t x, w, y = g->loop_y[s->thread];
		marker_box(g, s->start_ns, s->duration_ns, 30, &x, &w);
		fputs("<g><rect x=\"", out);
		pp_svg_tenths(out, x);
		fprintf(out, "\" y=\"%" PRId64 "\" width=\"", y);
		pp_svg_tenths(out, w);
		fprintf(out, "\" height=\"%d\" rx=\"2\" fill=\"" STALL_FILL "\" stroke=\"" STALL_STROKE
			     "\"><title>stall ", LOOP_H);
		put_ms(out, s->duration_ns);
		fputs(" at ", out);
		put_s3(out, s->start_ns);
		if (s->task_name) { /* the recording names its Task */
			fputs(", running task &quot;", out);
			put_text(out, s->task_name, 0);
			fputs("&quot;", out);
			if (s->task) {
				fputs(" (coroutine ", out);
				put_text(out, s->task, 0);
				putc(')', out);
			}
		} else if (s->task) {
			fputs(", running ", out);
			put_text(out, s->task, 0);
		}
		bool first = true;
		for (uint32_t k = 0; k < s->nothers && k < PP_STALL_OTHERS; k++) {
			if (!s->others[k])
				continue;
			fputs(first ? " (also " : ", ", out);
			put_text(out, s->others[k], 0);
			first = false;
		}
		if (!first)
			fputs(s->nothers > PP_STALL_OTHERS ? ", ...)" : ")", out);
		/* down to the frame the loop called: the loop itself is the same
		 * in every stall */
		size_t depth = pp_report_stack(g->p, s->stack, NULL, 0);
		size_t shown = s->task_depth && depth >= s->task_depth ? depth - s->task_depth + 1
								       : MAX_FRAMES;
		putc(':', out);
		put_stack(g, s->stack, shown);
		fputs("</title></rect>", out);
		/* its duration inside, when it fits: bold 10 px, ~6.5 px a character */
		char label[32];
		int n = snprintf(label, sizeof label, "%" PRIu64 " ms",
				 div_round(s->duration_ns, 1000000));
		if (n > 0 && w >= (int64_t)n * 65 + 80) {
			fputs("<text x=\"", out);
			pp_svg_tenths(out, x + w / 2);
			fprintf(out, "\" y=\"%" PRId64 "\">%s</text>", y + 11, label);
		}
		fputs("</g>\n", out);
	}
	fputs("</g>\n", out);
}

/* ---- the whole -------------------------------------------------------------- */

/* What the plot spans: the recording, and anything drawn past its end. */
static uint64_t plot_span(const struct tl *g, const struct by_thread *bt)
{
	const struct pp_report *r = g->r;
	size_t ns;
	const struct pp_psample *smp = pp_profile_samples(g->p, &ns);
	uint64_t span = r->duration_ns;
	for (size_t t = 0; t < r->nthreads; t++) {
		size_t b = bt->first[t + 1];
		if (b > bt->first[t]) {
			uint64_t e = add_sat(smp[bt->order[b - 1]].time_ns, g->interval);
			span = e > span ? e : span;
		}
	}
	for (size_t i = 0; i < r->nwaits; i++) {
		uint64_t e = add_sat(r->waits[i].start_ns, r->waits[i].duration_ns);
		span = e > span ? e : span;
	}
	for (size_t i = 0; i < r->nstalls; i++) {
		uint64_t e = add_sat(r->stalls[i].start_ns, r->stalls[i].duration_ns);
		span = e > span ? e : span;
	}
	return span ? span : 1000000000ull; /* nothing at all: a second */
}

int pp_render_timeline(const struct pp_profile *p, const struct pp_report *r,
		       uint64_t threshold_ns, FILE *out)
{
	if (!p || !r || !out) {
		errno = EINVAL;
		return -1;
	}
	struct tl g = {.p = p, .r = r, .out = out, .threshold = threshold_ns};
	struct by_thread bt = {0};
	int rc = -1;
	g.interval = r->interval_ns ? r->interval_ns : 10000000ull;
	size_t nt = r->nthreads;
	g.row_y = calloc(nt ? nt : 1, sizeof(*g.row_y));
	g.loop_y = calloc(nt ? nt : 1, sizeof(*g.loop_y));
	if (!g.row_y || !g.loop_y || group_samples(&g, &bt) != 0) {
		errno = ENOMEM;
		goto done;
	}
	g.span = plot_span(&g, &bt);
	while ((g.span >> g.shift) >= (1ull << 49))
		g.shift++;

	int64_t y = ROWS_Y;
	for (size_t t = 0; t < nt; t++) {
		g.row_y[t] = y;
		y += ROW_H;
		if (r->threads[t].event_loop) {
			g.loop_y[t] = y;
			y += LOOP_H;
		}
		y += ROW_GAP;
	}
	if (nt == 0)
		y += 60;
	int64_t height = y + FOOT_H;

	put_header(&g, height);
	put_legend(&g, 68);
	if (nt == 0) {
		fprintf(out, "<text id=\"empty\" x=\"%d\" y=\"%d\">No samples</text>\n", IMG_W / 2,
			ROWS_Y + 36);
	} else {
		put_axis(&g, y - ROW_GAP);
		put_threads(&g, &bt);
		put_waits(&g);
		put_stalls(&g);
		fprintf(out, "<text class=\"foot\" x=\"%d\" y=\"%" PRId64 "\">Hover a box for its "
			"state and time, a stall (red) for the code that blocked its loop", PAD_X,
			y + 18);
		if (r->nwaits == 1)
			fputs(", the outlined GIL wait (the longest) for the code that held the GIL",
			      out);
		else if (r->nwaits)
			fprintf(out, ", an outlined GIL wait (the %zu longest) for the code that held "
				"the GIL", r->nwaits);
		fputs(".</text>\n", out);
	}
	fputs("</svg>\n", out);
	rc = 0;
done:
	free(g.row_y);
	free(g.loop_y);
	free(bt.order);
	free(bt.first);
	if (rc == 0 && (fflush(out) != 0 || ferror(out)))
		rc = -1;
	return rc;
}
