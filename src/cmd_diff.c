/* pyprobe diff: the CI performance gate - two sets of runs of one
 * benchmark compared function by function (src/diff.h, docs/ci.md). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../render/render.h"
#include "cli.h"
#include "diff.h"
#include "output.h"
#include "profile.h"
#include "recording.h"

static const char diff_usage[] =
	"usage: pyprobe diff [--threshold PCT] [--json] [--markdown FILE] [--rate HZ]\n"
	"                    [--alpha P] [--idle] [-o FILE.svg] BASE HEAD\n"
	"\n"
	"Compare the time each function took in the runs of a benchmark before\n"
	"(BASE) and after (HEAD) a change, and say whether anything got slower.\n"
	"BASE and HEAD are each a recording (`pyprobe record -o X.pyprobe`), a\n"
	"collapsed-stack file (flamegraph.pl format: py-spy's and others' too), or\n"
	"a directory of them: several runs a side, so that run-to-run noise is\n"
	"measured (3 or more are best). A function is its name and file; its time\n"
	"is the samples it was on the stack times the achieved sampling period.\n"
	"The total is judged on its seconds (2+ runs a side), a function on its\n"
	"seconds over each run's speed factor, which load that slows whole runs\n"
	"does not move. Method and CI jobs: docs/ci.md.\n"
	"\n"
	"      --threshold PCT  a change is a regression when it is at least PCT\n"
	"                       percent and significant (default 10)\n"
	"      --alpha P        the chance of any false finding (Holm over the\n"
	"                       functions, shared with the total; default 0.05)\n"
	"      --json           the comparison as JSON (fields: docs/ci.md)\n"
	"      --markdown FILE  also write a pull-request comment there\n"
	"      --rate HZ        the rate collapsed files were sampled at (they do\n"
	"                       not say; default 100, record's and py-spy's)\n"
	"      --idle           count samples of idle threads too (recordings)\n"
	"  -o, --output FILE.svg  also draw a differential flame graph: HEAD's first\n"
	"                       recording, each function red if slower, blue if\n"
	"                       faster, pale unless significant\n"
	"  -h, --help           this help\n"
	"\n"
	"exit status: 0 no regression, 1 a regression (a function or the total),\n"
	"2 usage or inputs that cannot be compared (different programs, too short),\n"
	"6 unreadable or corrupt input, or cannot write\n";

static bool parse_num(const char *s, double lo, double hi, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (!*s || *end || errno || !(x >= lo && x <= hi))
		return false;
	*v = x;
	return true;
}

/* The command line, shell-quoted where needed, for "how to reproduce". */
static char *command_line(int argc, char **argv)
{
	size_t cap = 16;
	for (int i = 0; i < argc; i++)
		cap += 4 * strlen(argv[i]) + 3;
	char *s = malloc(cap), *p = s;
	if (!s)
		return NULL;
	p += sprintf(p, "pyprobe");
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool plain = *a != '\0';
		for (const char *c = a; *c; c++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789-_./=:,+@%", *c))
				plain = false;
		*p++ = ' ';
		if (plain) {
			p += sprintf(p, "%s", a);
			continue;
		}
		*p++ = '\'';
		for (const char *c = a; *c; c++) {
			if (*c == '\'')
				p += sprintf(p, "'\\''");
			else
				*p++ = *c;
		}
		*p++ = '\'';
	}
	*p = '\0';
	return s;
}

/* ---- the differential flame graph ------------------------------------------ */

struct tint_ctx {
	const struct pp_diff_result **by_key; /* sorted by (function, file) */
	size_t n;
};

static int key_cmp(const char *fa, const char *fila, const char *fb, const char *filb)
{
	int c = strcmp(fa, fb);
	return c ? c : strcmp(fila, filb);
}

static int by_key(const void *a, const void *b)
{
	const struct pp_diff_result *x = *(const struct pp_diff_result *const *)a,
				    *y = *(const struct pp_diff_result *const *)b;
	return key_cmp(x->function, x->file, y->function, y->file);
}

/* pp_render_tint's of: a tested function's judged change. */
static int tint_of(void *vctx, const char *function, const char *file, double *change_pct,
		   int *significant)
{
	const struct tint_ctx *c = vctx;
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int k = key_cmp(function, file, c->by_key[mid]->function, c->by_key[mid]->file);
		if (k == 0) {
			const struct pp_diff_result *r = c->by_key[mid];
			if (!r->tested)
				return -1;
			*change_pct = r->verdict_change_pct;
			*significant = r->significant;
			return 0;
		}
		if (k < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* HEAD's first recording, drawn with d's verdicts. An exit status. */
static int draw_svg(const struct pp_diff_input *in, const struct pp_diff *d, const char *path,
		    bool idle)
{
	const char *rec = NULL;
	for (size_t i = in->nruns[0]; i < in->nruns[0] + in->nruns[1] && !rec; i++)
		if (in->runs[i].cmdline) /* (only recordings have one) */
			rec = in->runs[i].path;
	if (!rec)
		return pp_usage_error("diff", "-o draws HEAD's first recording, and HEAD holds "
				      "no .pyprobe recording (collapsed files only)");
	char err[256] = "";
	int truncated = 0;
	struct pp_profile *p = pp_recording_load(rec, &truncated, err, sizeof err);
	if (!p) {
		pp_die_msg("cannot read %s: %s", rec, err);
		return PP_EXIT_IO;
	}
	struct tint_ctx c = {calloc(d->nfns ? d->nfns : 1, sizeof *c.by_key), d->nfns};
	struct pp_output *o = NULL;
	FILE *f = NULL;
	int rc = PP_EXIT_OK;
	if (!c.by_key) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
		goto done;
	}
	for (size_t i = 0; i < d->nfns; i++)
		c.by_key[i] = &d->fns[i];
	qsort(c.by_key, c.n, sizeof *c.by_key, by_key);
	struct pp_render_tint tint = {tint_of, &c, 2 * d->threshold_pct};
	char title[128];
	snprintf(title, sizeof title, "pyprobe diff: %s", d->nregressions || d->total.regression
				      ? "regression" : "no regression");
	struct pp_render_opts ro = {.view = {.idle = idle}, .title = title, .tint = &tint};
	if (!(o = pp_output_create(path)) || !(f = pp_output_stream(o)) ||
	    pp_render_flamegraph(p, &ro, f) != 0) {
		pp_die_msg("cannot write %s: %s%s", path, strerror(errno), pp_write_advice(errno));
		rc = PP_EXIT_IO;
		goto done;
	}
	struct pp_output *done_o = o;
	o = NULL;
	if (pp_output_commit(done_o) != 0) {
		pp_die_msg("cannot write %s: %s%s", path, strerror(errno), pp_write_advice(errno));
		rc = PP_EXIT_IO;
	}
done:
	pp_output_discard(o);
	free(c.by_key);
	pp_profile_free(p);
	return rc;
}

int cmd_diff(int argc, char **argv)
{
	enum { O_THRESHOLD = 256, O_JSON, O_MARKDOWN, O_RATE, O_ALPHA, O_IDLE };
	static const struct option opts[] = {
		{"threshold", required_argument, NULL, O_THRESHOLD},
		{"json", no_argument, NULL, O_JSON},
		{"markdown", required_argument, NULL, O_MARKDOWN},
		{"rate", required_argument, NULL, O_RATE},
		{"alpha", required_argument, NULL, O_ALPHA},
		{"idle", no_argument, NULL, O_IDLE},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct pp_diff_opts o = {.threshold_pct = 10, .alpha = 0.05};
	struct pp_diff_load_opts lo = {0};
	const char *markdown = NULL, *svg = NULL;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case O_THRESHOLD:
			if (!parse_num(optarg, 0.1, 1000, &o.threshold_pct))
				return pp_usage_error("diff", "--threshold wants a percentage from "
						      "0.1 to 1000, not '%s'", optarg);
			break;
		case O_ALPHA:
			if (!parse_num(optarg, 1e-9, 0.5, &o.alpha))
				return pp_usage_error("diff", "--alpha wants a probability from "
						      "1e-9 to 0.5, not '%s'", optarg);
			break;
		case O_RATE:
			if (!parse_num(optarg, 0.001, 1e7, &lo.rate_hz))
				return pp_usage_error("diff", "--rate wants samples per second, "
						      "not '%s'", optarg);
			break;
		case O_JSON: json = true; break;
		case O_MARKDOWN: markdown = optarg; break;
		case O_IDLE: lo.idle = true; break;
		case 'o': svg = optarg; break;
		case 'h':
			fputs(diff_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("diff", "%s needs a value", argv[optind - 1]);
		default:
			return pp_usage_error("diff", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return pp_usage_error("diff", argc - optind < 2
				      ? "give BASE and HEAD (recordings, collapsed files or "
					"directories of them)"
				      : "give two inputs, BASE and HEAD");
	const char *base = argv[optind], *head = argv[optind + 1];
	if (markdown && pp_output_is_stdout(markdown))
		return pp_usage_error("diff", "--markdown wants a file (the comparison itself "
				      "goes to standard output)");
	if (svg && (pp_output_is_stdout(svg) || strlen(svg) < 5 ||
		    strcmp(svg + strlen(svg) - 4, ".svg") != 0))
		return pp_usage_error("diff", "-o wants FILE.svg (a differential flame graph), "
				      "not '%s'", svg);

	/* Everything is read and compared before anything is written: an
	 * input that cannot be read leaves no verdict behind. */
	char err[1024] = "";
	int code = PP_EXIT_IO;
	struct pp_diff_input in;
	if (pp_diff_input_load(&in, base, head, &lo, err, sizeof err, &code) != 0) {
		pp_die_msg("%s", err);
		pp_diff_input_free(&in);
		return code;
	}
	struct pp_diff d;
	if (pp_diff_compute(&in, &o, &d, err, sizeof err) != 0) {
		pp_die_msg("%s", err);
		pp_diff_free(&d);
		pp_diff_input_free(&in);
		return PP_EXIT_USAGE;
	}
	int rc = d.nregressions || d.total.regression ? PP_EXIT_REGRESSION : PP_EXIT_OK;
	if (svg) {
		int src = draw_svg(&in, &d, svg, lo.idle);
		if (src != PP_EXIT_OK) {
			pp_diff_free(&d);
			pp_diff_input_free(&in);
			return src;
		}
	}
	if (markdown) {
		char *cmd = command_line(argc, argv);
		struct pp_output *mo = pp_output_create(markdown);
		FILE *mf = mo ? pp_output_stream(mo) : NULL;
		int bad = !cmd || !mf || pp_render_diff_markdown(&d, cmd, mf) != 0;
		if (bad) {
			pp_die_msg("cannot write %s: %s%s", markdown, strerror(errno),
				   pp_write_advice(errno));
			pp_output_discard(mo);
			rc = PP_EXIT_IO;
		} else if (pp_output_commit(mo) != 0) {
			pp_die_msg("cannot write %s: %s%s", markdown, strerror(errno),
				   pp_write_advice(errno));
			rc = PP_EXIT_IO;
		}
		free(cmd);
	}
	if ((json ? pp_render_diff_json(&d, stdout) : pp_render_diff_text(&d, stdout)) != 0 ||
	    fflush(stdout) != 0) {
		pp_die_msg("cannot write standard output: %s", strerror(errno));
		rc = PP_EXIT_IO;
	}
	pp_diff_free(&d);
	pp_diff_input_free(&in);
	return rc;
}
