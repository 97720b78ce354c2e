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

static const char diff_usage[] =
	"usage: pyprobe diff [--threshold PCT] [--json] [--markdown FILE] [--rate HZ]\n"
	"                    [--alpha P] [--idle] BASE HEAD\n"
	"\n"
	"Compare the time each function took in the runs of a benchmark before\n"
	"(BASE) and after (HEAD) a change, and say whether anything got slower.\n"
	"BASE and HEAD are each a recording (`pyprobe record -o X.pyprobe`), a\n"
	"collapsed-stack file (flamegraph.pl format: py-spy's and others' too), or\n"
	"a directory of them: several runs a side, so that run-to-run noise is\n"
	"measured (3 or more are best). A function is its name and file; its time\n"
	"is the samples it was on the stack times the achieved sampling period.\n"
	"Method and CI jobs: docs/ci.md.\n"
	"\n"
	"      --threshold PCT  a change is a regression when it is at least PCT\n"
	"                       percent and significant (default 10)\n"
	"      --alpha P        significance level, Holm-corrected over the\n"
	"                       functions (default 0.05)\n"
	"      --json           the comparison as JSON (fields: docs/ci.md)\n"
	"      --markdown FILE  also write a pull-request comment there\n"
	"      --rate HZ        the rate collapsed files were sampled at (they do\n"
	"                       not say; default 100, record's and py-spy's)\n"
	"      --idle           count samples of idle threads too (recordings)\n"
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
	const char *markdown = NULL;
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
		case 'o':
			return pp_usage_error("diff", "-o (a differential flame graph) is not "
					      "implemented yet");
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
