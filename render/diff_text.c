/* `pyprobe diff`'s default output: the verdict, the total, and a table of
 * the functions tested, worst first, with 95% bounds (docs/ci.md). */
#include "render.h"

#include <math.h>
#include <stdio.h>

#include "text_str.h"

static void put_pct(double v, FILE *out)
{
	if (isinf(v))
		fprintf(out, "%8s", v > 0 ? "new" : "gone");
	else if (isnan(v))
		fprintf(out, "%8s", "-");
	else
		fprintf(out, "%+7.1f%%", v);
}

static const char *mark(const struct pp_diff_result *r)
{
	return r->regression ? "SLOWER" : r->improvement ? "faster"
		: r->significant ? "small" : r->tested ? "-" : "?";
}

static void row(const struct pp_diff_result *r, FILE *out)
{
	if (r->tested)
		put_pct(r->verdict_change_pct, out);
	else
		fprintf(out, "%8s", "-");
	fputs("  ", out);
	put_pct(r->change_pct, out);
	fputs("  [", out);
	put_pct(r->low_pct, out);
	fputc(',', out);
	put_pct(r->high_pct, out);
	fprintf(out, "] %9.3f %9.3f %9.3f %9.3f  ", r->incl.base_s, r->incl.head_s,
		r->self.base_s, r->self.head_s);
	if (isnan(r->p_value))
		fprintf(out, "%8s", "-");
	else
		fprintf(out, "%8.2g", r->p_value);
	fprintf(out, "  %-6s  ", mark(r));
}

int pp_render_diff_text(const struct pp_diff *d, FILE *out)
{
	size_t nsig_small = 0;
	for (size_t i = 0; i < d->ntested; i++)
		nsig_small += d->fns[i].significant && !d->fns[i].regression &&
			      !d->fns[i].improvement;
	bool fail = d->nregressions || d->total.regression;
	fprintf(out, "pyprobe diff: %s", fail ? "REGRESSION" : "no regression");
	if (fail) {
		fprintf(out, " - %zu function%s", d->nregressions, d->nregressions == 1 ? "" : "s");
		if (d->total.regression)
			fputs(" and the total", out);
	}
	fprintf(out, " %g%% or more slower (significant at %g, Holm-corrected)\n",
		d->threshold_pct, d->alpha);
	fprintf(out, "runs: %zu base, %zu head; noise: %s", d->nruns[0], d->nruns[1],
		d->welch ? "run-to-run and sampling"
			 : "sampling only (one run a side: the total is not judged; record several)");
	if (d->assumed_rate_hz > 0)
		fprintf(out, "; collapsed files taken at %g Hz (--rate)", d->assumed_rate_hz);
	fputc('\n', out);
	if (d->paired[0])
		fprintf(out, "checkouts: base's %s is head's %s (%zu function%s paired)\n",
			d->paired[0], d->paired[1], d->npaired, d->npaired == 1 ? "" : "s");
	fputs("judged: the change the verdict weighs - a function's time relative to the rest of\n"
	      "the program's (the total: its time); time: seconds a run, with 95% bounds\n", out);
	fprintf(out, "\n%8s  %8s  [%17s] %9s %9s %9s %9s  %8s  %-6s  %s\n", "judged", "time",
		"95% bounds ",
		"base s", "head s", "self base", "self head", "p", "", "function (file)");
	row(&d->total, out);
	fputs("total\n", out);
	for (size_t i = 0; i < d->ntested; i++) {
		const struct pp_diff_result *r = &d->fns[i];
		row(r, out);
		pp_text_str(r->function, 0, out);
		if (r->file[0]) {
			fputs(" (", out);
			pp_text_str(r->file, 0, out);
			fputc(')', out);
		}
		fputc('\n', out);
	}
	size_t skipped = d->nfns - d->ntested;
	if (skipped)
		fprintf(out, "\n%zu function%s with too few samples to judge a %g%% change, not "
			"tested (%.3f s base, %.3f s head of self time)\n", skipped,
			skipped == 1 ? "" : "s", d->threshold_pct, d->skipped_base_s,
			d->skipped_head_s);
	if (nsig_small)
		fprintf(out, "%zu significant change%s under the threshold (\"small\")\n",
			nsig_small, nsig_small == 1 ? "" : "s");
	return ferror(out) ? -1 : 0;
}
