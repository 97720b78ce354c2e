/* pyprobe report: the GIL and event-loop report of a recording. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../render/render.h"
#include "cli.h"
#include "output.h"
#include "profile.h"
#include "recording.h"
#include "report.h"

static const char report_usage[] =
	"usage: pyprobe report FILE.pyprobe [--json] [--stall-threshold MS] [--waits N]\n"
	"                      [-o FILE]\n"
	"\n"
	"Who held the GIL, who waited for it and behind which code, and which\n"
	"lines stalled an asyncio event loop, from a recording made with\n"
	"`pyprobe record -o X.pyprobe`.\n"
	"\n"
	"      --json               the report as JSON (fields: see docs/gil.md)\n"
	"      --stall-threshold MS a loop busy this long is stalled (default 100)\n"
	"      --waits N            how many of the longest GIL waits to list\n"
	"                           (default 10)\n"
	"  -o, --output FILE        FILE.svg: draw a timeline there (one row per\n"
	"                           thread coloured by GIL state, one band per event\n"
	"                           loop), and print the report as well; any other\n"
	"                           FILE: write the report there (JSON for .json)\n"
	"  -h, --help               this help\n"
	"\n"
	"exit status: 0 ok, 2 usage, 6 unreadable or corrupt recording, or cannot write\n";

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

/* Whether writing `path` would overwrite the recording `input` itself
 * (the same file under another name). */
static bool is_input(const char *path, const char *input)
{
	struct stat in_st, out_st;
	return stat(input, &in_st) == 0 && stat(path, &out_st) == 0 &&
	       in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino;
}

static bool parse_ms(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v > 0) || v > 3.6e6)
		return false;
	*ns = (uint64_t)(v * 1e6);
	return *ns > 0;
}

int cmd_report(int argc, char **argv)
{
	enum { O_JSON = 256, O_THRESHOLD, O_WAITS };
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, O_JSON},
		{"stall-threshold", required_argument, NULL, O_THRESHOLD},
		{"waits", required_argument, NULL, O_WAITS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	bool json = false;
	struct pp_report_opts ro = {.stall_threshold_ns = 100000000ull, .max_waits = 10};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case O_JSON: json = true; break;
		case O_THRESHOLD:
			if (!parse_ms(optarg, &ro.stall_threshold_ns))
				return pp_usage_error("report", "--stall-threshold wants a positive "
						      "number of milliseconds, not '%s'", optarg);
			break;
		case O_WAITS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (!*optarg || *end || v < 1 || v > 100000)
				return pp_usage_error("report", "--waits wants a count from 1, "
						      "not '%s'", optarg);
			ro.max_waits = (size_t)v;
			break;
		}
		case 'h':
			fputs(report_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("report", "%s needs a value", argv[optind - 1]);
		default:
			return pp_usage_error("report", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return pp_usage_error("report", optind >= argc ? "which recording? give FILE.pyprobe"
							      : "give one recording");
	const char *input = argv[optind];
	if (output && pp_output_is_stdout(output))
		output = NULL;
	if (output && ends_with(output, ".pyprobe"))
		return pp_usage_error("report", "report cannot write a recording (%s); give "
				      "FILE.svg, FILE.json or a text file", output);
	bool timeline = output && ends_with(output, ".svg");
	if (output && ends_with(output, ".json"))
		json = true;
	/* The output is created before anything is read: a bad -o fails
	 * first. Complete or not there: under a temporary name until the
	 * report is written, removed if it cannot be. */
	if (output && is_input(output, input))
		return pp_usage_error("report", "the output %s is the recording %s itself; give "
				      "another -o", output, input);
	struct pp_output *o = NULL;
	FILE *out = NULL;
	if (output && (!(o = pp_output_create(output)) || !(out = pp_output_stream(o)))) {
		pp_die_msg("cannot write %s: %s%s", output, strerror(errno), pp_write_advice(errno));
		pp_output_discard(o);
		return PP_EXIT_IO;
	}
	char err[256] = "";
	int truncated = 0;
	struct pp_profile *p = pp_recording_load(input, &truncated, err, sizeof(err));
	if (!p) {
		pp_die_msg("cannot read %s: %s", input, err);
		pp_output_discard(o);
		return PP_EXIT_IO;
	}
	struct pp_report *r = pp_report_new(p, &ro);
	int rc = PP_EXIT_OK;
	if (!r) {
		pp_die_msg("out of memory");
		rc = PP_EXIT_IO;
		goto done;
	}
	if (timeline && pp_render_timeline(p, r, ro.stall_threshold_ns, out) != 0) {
		pp_die_msg("cannot write %s: %s%s", output, strerror(errno), pp_write_advice(errno));
		rc = PP_EXIT_IO;
	}
	FILE *text = out && !timeline ? out : stdout;
	const char *shown = text == stdout ? "standard output" : output;
	/* (printed even when the timeline could not be written) */
	if ((json ? pp_render_report_json(p, r, ro.stall_threshold_ns, text)
		  : pp_render_report_text(p, r, ro.stall_threshold_ns, text)) != 0 &&
	    rc == PP_EXIT_OK) {
		pp_die_msg("cannot write %s: %s%s", shown, strerror(errno), pp_write_advice(errno));
		rc = PP_EXIT_IO;
	}
	if (rc == PP_EXIT_OK && text == stdout && fflush(stdout) != 0) {
		pp_die_msg("cannot write standard output: %s", strerror(errno));
		rc = PP_EXIT_IO;
	}
	if (o && rc == PP_EXIT_OK) {
		struct pp_output *c = o;
		o = NULL;
		if (pp_output_commit(c) != 0) {
			pp_die_msg("cannot write %s: %s%s", output, strerror(errno),
				   pp_write_advice(errno));
			rc = PP_EXIT_IO;
		}
	}
	if (rc == PP_EXIT_OK && truncated)
		pp_die_msg("%s was cut short (the recording was interrupted); reported what it "
			   "holds", input);
done:
	pp_output_discard(o);
	pp_report_free(r);
	pp_profile_free(p);
	return rc;
}
