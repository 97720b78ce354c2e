/* Every output format pyprobe writes. Each renderer is a pure function of
 * its input model and options, writing to a FILE*: no global state, the
 * same input gives byte-identical output. Returns 0, or -1 if writing
 * failed (errno set).
 */
#ifndef PYPROBE_RENDER_H
#define PYPROBE_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "../src/diff.h"
#include "../src/dump_model.h"
#include "../src/dump_tasks.h"
#include "../src/hang_model.h"
#include "../src/profile.h"
#include "../src/report.h"

int pp_render_dump_text(const struct pp_dump *d, FILE *out);
int pp_render_dump_json(const struct pp_dump *d, FILE *out);
/* The asyncio tasks part of a dump (dump_tasks.c): drawn by the two above
 * when the dump has one. */
int pp_render_tasks_text(const struct pp_dump_asyncio *a, FILE *out);
int pp_render_tasks_json(const struct pp_dump_asyncio *a, FILE *out);
/* `pyprobe watch`'s hang files: what fired, the culprits, the last
 * seconds collapsed, then the dump as pp_render_dump_text/_json draw it. */
int pp_render_hang_text(const struct pp_hang *h, FILE *out);
int pp_render_hang_json(const struct pp_hang *h, FILE *out);

/* ---- profiles ------------------------------------------------------------
 * Each renderer draws the samples a view of the profile keeps (the view
 * options are the user's --idle/--gil/--threads/--nolineno/...). Frame
 * labels are "function (file:line)", or "function (file)" when the line is
 * -1; synthetic frames (thread/process roots, GIL markers) are their name
 * alone. Weights: one sample = 1 count = 1e9 / rate_hz nanoseconds. */
/* A differential flame graph (pyprobe diff -o): Python frames coloured by
 * how their function changed - red slower, blue faster, the deeper the
 * larger the change up to scale_pct; pale unless significant; grey when
 * there is no verdict (of returns -1). */
struct pp_render_tint {
	int (*of)(void *ctx, const char *function, const char *file, double *change_pct,
		  int *significant);
	void *ctx;
	double scale_pct;
};

struct pp_render_opts {
	struct pp_view_opts view;
	const char *title;    /* NULL: a default from the profile */
	const char *subtitle; /* NULL: command line, duration, rate */
	const struct pp_render_tint *tint; /* flame graph only; NULL: colours by
	                                      where the code lives */
	/* Flame graph labels: file names as recorded (true), or short and
	 * module-relative (false, the default: see short_filename.h), with
	 * cwd the directory stripped from files under it (NULL: none).
	 * Every other format keeps full paths. */
	bool full_filenames;
	const char *cwd;
};

/* flamegraph.pl input: "root;...;leaf COUNT" lines, sorted, merged. */
int pp_render_collapsed(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out);
/* speedscope's file format: shared frames, one sampled profile per thread,
 * weights in seconds. */
int pp_render_speedscope(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out);
/* gzip-compressed profile.proto (pprof): samples/count, wall/nanoseconds. */
int pp_render_pprof(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out);
/* Chrome's trace event JSON (Perfetto, chrome://tracing, DevTools): a
 * track per thread, consecutive samples with the same frame at the same
 * depth merged into one complete ("X") event, in microseconds from the
 * samples' times. */
int pp_render_chrometrace(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out);
/* The Firefox Profiler's processed format (version 57): a thread per
 * thread, with its samples, stack, frame, function and resource tables. */
int pp_render_gecko(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out);
/* An interactive flame graph (SVG with embedded script), in the manner of
 * flamegraph.pl: zoom, search, reset. */
int pp_render_flamegraph(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out);

/* ---- the GIL and event-loop report (pyprobe report) ----------------------
 * threshold_ns is the stall threshold the report was computed with. */
/* For a person: GIL table, totals, longest waits, stalls. */
int pp_render_report_text(const struct pp_profile *p, const struct pp_report *r,
			  uint64_t threshold_ns, FILE *out);
/* The JSON contract of docs/gil.md. */
int pp_render_report_json(const struct pp_profile *p, const struct pp_report *r,
			  uint64_t threshold_ns, FILE *out);
/* An SVG timeline: a row per thread coloured by GIL use, a band per event
 * loop with its stalls; hovering a stall or a wait shows its stack. */
int pp_render_timeline(const struct pp_profile *p, const struct pp_report *r,
		       uint64_t threshold_ns, FILE *out);

/* ---- pyprobe diff (docs/ci.md) -------------------------------------------- */
/* For a person: the verdict, the total, the functions tested worst first. */
int pp_render_diff_text(const struct pp_diff *d, FILE *out);
/* The JSON contract of docs/ci.md. */
int pp_render_diff_json(const struct pp_diff *d, FILE *out);
/* A pull-request comment; command: how to reproduce it. */
int pp_render_diff_markdown(const struct pp_diff *d, const char *command, FILE *out);

#endif
