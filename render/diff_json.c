/* `pyprobe diff --json`: the comparison as a stable document for CI and
 * dashboards. The field names are a contract (docs/ci.md): add, never
 * rename. Numbers that are not numbers (a change from nothing) are null. */
#include "render.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "json_str.h"

static void num(const char *key, double v, FILE *out)
{
	fprintf(out, "\"%s\": ", key);
	if (isfinite(v))
		fprintf(out, "%.6g", v);
	else
		fputs("null", out);
}

static void result(const struct pp_diff_result *r, bool named, FILE *out)
{
	fputc('{', out);
	if (named) {
		fputs("\"function\": ", out);
		pp_json_str(r->function, out);
		fputs(", \"file\": ", out);
		pp_json_str(r->file, out);
		fputs(", ", out);
	}
	num("base_s", r->incl.base_s, out);
	fputs(", ", out);
	num("head_s", r->incl.head_s, out);
	fputs(", ", out);
	num("change_pct", r->change_pct, out);
	fputs(", ", out);
	num("low_pct", r->tested ? r->low_pct : NAN, out);
	fputs(", ", out);
	num("high_pct", r->tested ? r->high_pct : NAN, out);
	fputs(", ", out);
	num("p_value", r->p_value, out);
	fputs(", ", out);
	num("relative_change_pct", r->relative_change_pct, out);
	fputs(", ", out);
	num("verdict_change_pct", r->tested ? r->verdict_change_pct : NAN, out);
	fprintf(out, ", \"tested\": %s, \"significant\": %s, \"regression\": %s, "
		"\"improvement\": %s, ", r->tested ? "true" : "false",
		r->significant ? "true" : "false", r->regression ? "true" : "false",
		r->improvement ? "true" : "false");
	num("base_self_s", r->self.base_s, out);
	fputs(", ", out);
	num("head_self_s", r->self.head_s, out);
	fputs(", ", out);
	num("self_change_pct", r->self_change_pct, out);
	fprintf(out, ", \"base_samples\": %" PRIu64 ", \"head_samples\": %" PRIu64 "}",
		r->incl.base_samples, r->incl.head_samples);
}

static void list(const struct pp_diff *d, int which, FILE *out)
{
	fputc('[', out);
	bool first = true;
	for (size_t i = 0; i < d->nfns; i++) {
		const struct pp_diff_result *r = &d->fns[i];
		if ((which == 1 && !r->regression) || (which == 2 && !r->improvement))
			continue;
		fputs(first ? "\n    " : ",\n    ", out);
		first = false;
		result(r, true, out);
	}
	fputs(first ? "]" : "\n  ]", out);
}

int pp_render_diff_json(const struct pp_diff *d, FILE *out)
{
	bool fail = d->nregressions || d->total.regression;
	fprintf(out, "{\n  \"format_version\": 1,\n  \"verdict\": \"%s\",\n",
		fail ? "regression" : "pass");
	fputs("  ", out);
	num("threshold_pct", d->threshold_pct, out);
	fputs(",\n  ", out);
	num("alpha", d->alpha, out);
	fprintf(out, ",\n  \"method\": \"%s\",\n  \"base_runs\": %zu,\n  \"head_runs\": %zu,\n",
		d->welch ? "welch-log" : "poisson", d->nruns[0], d->nruns[1]);
	fputs("  ", out);
	num("assumed_rate_hz", d->assumed_rate_hz > 0 ? d->assumed_rate_hz : NAN, out);
	fputs(",\n  \"checkouts\": ", out);
	if (d->paired[0]) {
		fputs("{\"base\": ", out);
		pp_json_str(d->paired[0], out);
		fputs(", \"head\": ", out);
		pp_json_str(d->paired[1], out);
		fprintf(out, ", \"functions\": %zu}", d->npaired);
	} else {
		fputs("null", out);
	}
	fputs(",\n  \"total\": ", out);
	result(&d->total, false, out);
	fputs(",\n  \"functions\": ", out);
	list(d, 0, out);
	fputs(",\n  \"regressions\": ", out);
	list(d, 1, out);
	fputs(",\n  \"improvements\": ", out);
	list(d, 2, out);
	fprintf(out, ",\n  \"skipped\": {\"functions\": %zu, ", d->nfns - d->ntested);
	num("base_self_s", d->skipped_base_s, out);
	fputs(", ", out);
	num("head_self_s", d->skipped_head_s, out);
	fputs("}\n}\n", out);
	return ferror(out) ? -1 : 0;
}
