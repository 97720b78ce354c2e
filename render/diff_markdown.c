/* `pyprobe diff --markdown FILE`: a pull-request comment - the verdict,
 * the regressions and improvements, and how to reproduce (docs/ci.md). */
#include "render.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Text in a markdown table cell: ASCII punctuation that markdown or a
 * table reads is escaped with a backslash (CommonMark allows it before
 * any), control characters become '?'. */
static void md_text(const char *s, FILE *out)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fputc('?', out);
		else if (strchr("\\`*_[]<>|#~!", *p))
			fprintf(out, "\\%c", *p);
		else
			fputc(*p, out);
	}
}

static void md_pct(double v, FILE *out)
{
	if (isinf(v))
		fputs(v > 0 ? "new" : "gone", out);
	else if (isnan(v))
		fputs("-", out);
	else
		fprintf(out, "%+.1f%%", v);
}

static void md_row(const char *what, const struct pp_diff_result *r, FILE *out)
{
	fputs("| ", out);
	if (r->function) {
		md_text(r->function, out);
		if (r->file && r->file[0]) {
			fputs(" (", out);
			md_text(r->file, out);
			fputc(')', out);
		}
	} else {
		fputs("**total**", out);
	}
	fprintf(out, " | %s | ", what);
	md_pct(r->verdict_change_pct, out);
	fputs(" | ", out);
	md_pct(r->change_pct, out);
	fputs(" | ", out);
	md_pct(r->low_pct, out);
	fputs(" to ", out);
	md_pct(r->high_pct, out);
	fprintf(out, " | %.3f | %.3f | %.2g |\n", r->incl.base_s, r->incl.head_s, r->p_value);
}

int pp_render_diff_markdown(const struct pp_diff *d, const char *command, FILE *out)
{
	bool fail = d->nregressions || d->total.regression;
	if (fail)
		fprintf(out, "### pyprobe diff: :x: regression - %zu function%s%s %g%% or more "
			"slower\n\n", d->nregressions, d->nregressions == 1 ? "" : "s",
			d->total.regression ? " and the total" : "", d->threshold_pct);
	else
		fprintf(out, "### pyprobe diff: :white_check_mark: no regression of %g%% or more\n\n",
			d->threshold_pct);
	fprintf(out, "Total: %.3f s → %.3f s (", d->total.incl.base_s, d->total.incl.head_s);
	md_pct(d->total.change_pct, out);
	fputs(", 95% bounds ", out);
	md_pct(d->total.low_pct, out);
	fputs(" to ", out);
	md_pct(d->total.high_pct, out);
	fprintf(out, "%s). %zu run%s base, %zu head; %zu functions tested, %zu with too few "
		"samples to judge.\n\n", d->total.regression ? ", **regression**" : "",
		d->nruns[0], d->nruns[0] == 1 ? "" : "s", d->nruns[1], d->ntested,
		d->nfns - d->ntested);
	if (fail || d->nimprovements) {
		fputs("| function | verdict | judged | time | 95% bounds | base s | head s | p (adjusted) |\n"
		      "|---|---|---:|---:|---:|---:|---:|---:|\n", out);
		if (d->total.regression || d->total.improvement)
			md_row(d->total.regression ? "slower" : "faster", &d->total, out);
		for (size_t i = 0; i < d->nfns; i++)
			if (d->fns[i].regression)
				md_row("slower", &d->fns[i], out);
		for (size_t i = d->nfns; i-- > 0;)
			if (d->fns[i].improvement)
				md_row("faster", &d->fns[i], out);
		fputc('\n', out);
	}
	fprintf(out, "A change counts when it is at least %g%% and significant at %g after the "
		"correction for the number of tests (Holm over the functions; the total shares "
		"alpha) (%s). *Judged*: a function's time "
		"relative to the rest of the program's (load that slows a whole run does not move "
		"it; a slowdown of everything shows in the total); *time*: seconds a run. Method: pyprobe's docs/ci.md.\n\n",
		d->threshold_pct, d->alpha,
		d->welch ? "run-to-run and sampling noise" : "sampling noise only: one run a side");
	fputs("<details><summary>How to reproduce</summary>\n\n```sh\n", out);
	/* (a command line of ours: control characters cannot end the fence) */
	for (const unsigned char *p = (const unsigned char *)command; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
	fputs("\n```\n\n</details>\n", out);
	return ferror(out) ? -1 : 0;
}
