/* pyprobe render: a .pyprobe recording into any other format. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "profile.h"
#include "recording.h"

static const char render_usage[] =
	"usage: pyprobe render FILE.pyprobe [-o FILE] [-f FORMAT] [-t|--threads]\n"
	"                      [-i|--idle] [-g|--gil] [--gil-markers]\n"
	"                      [-F|--function|--nolineno] [--full-filenames]\n"
	"                      [--title TEXT]\n"
	"\n"
	"Render a recording made with `pyprobe record -o X.pyprobe` (or -f pyprobe).\n"
	"\n"
	"  -o, --output FILE    where to write, - for standard output (default: FILE\n"
	"                       with the format's extension); never a .pyprobe file\n"
	"  -f, --format FORMAT  flamegraph (default), collapsed, speedscope, pprof,\n"
	"                       chrometrace or gecko; default: from the output's\n"
	"                       extension (as for record)\n"
	"  -t, --threads, -i, --idle, -g, --gil, --gil-markers, -F, --function,\n"
	"      --nolineno, --full-filenames, --title TEXT\n"
	"                       as for record\n"
	"  -h, --help           this help\n"
	"\n"
	"exit status: 0 ok, 2 usage, 6 unreadable or corrupt recording, or cannot write\n";

int cmd_render(int argc, char **argv)
{
	enum { O_NOLINENO = 256, O_TITLE, O_GIL_MARKERS, O_FULL_FILENAMES };
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"format", required_argument, NULL, 'f'},
		{"threads", no_argument, NULL, 't'},
		{"idle", no_argument, NULL, 'i'},
		{"gil", no_argument, NULL, 'g'},
		{"gil-markers", no_argument, NULL, O_GIL_MARKERS},
		{"nolineno", no_argument, NULL, O_NOLINENO},
		{"function", no_argument, NULL, 'F'},
		{"full-filenames", no_argument, NULL, O_FULL_FILENAMES},
		{"title", required_argument, NULL, O_TITLE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	enum pp_format fmt = PP_FMT_NONE;
	struct pp_render_opts ro = {0};
	/* flame graph labels name files under the current directory from it */
	char cwd[4096];
	ro.cwd = getcwd(cwd, sizeof cwd);
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":o:f:hitgF", opts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'f':
			if (!strcmp(optarg, "raw"))
				return pp_usage_error("render", PP_FORMAT_RAW_ADVICE);
			fmt = pp_format_by_name(optarg);
			if (fmt == PP_FMT_RAW)
				return pp_usage_error("render", "render cannot write a recording "
						      "(-f pyprobe); give flamegraph, collapsed, "
						      "speedscope, pprof, chrometrace or gecko");
			if (fmt == PP_FMT_NONE)
				return pp_usage_error("render", "unknown format '%s' (flamegraph, "
						      "collapsed, speedscope, pprof, chrometrace, "
						      "gecko)", optarg);
			break;
		case 't': ro.view.threads = true; break;
		case 'i': ro.view.idle = true; break;
		case 'g': ro.view.gil_only = true; break;
		case O_GIL_MARKERS: ro.view.gil_markers = true; break;
		case 'F':
		case O_NOLINENO: ro.view.nolineno = true; break;
		case O_FULL_FILENAMES: ro.full_filenames = true; break;
		case O_TITLE: ro.title = optarg; break;
		case 'h':
			fputs(render_usage, stdout);
			return PP_EXIT_OK;
		case ':':
			return pp_usage_error("render", "%s needs a value", argv[optind - 1]);
		default:
			return pp_usage_error("render", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return pp_usage_error("render", optind >= argc ? "which recording? give FILE.pyprobe"
							      : "give one recording");
	const char *input = argv[optind];
	int to_stdout = pp_output_is_stdout(output);
	/* An SVG written over a recording (`-o X.pyprobe`) would destroy it. */
	if (output && !to_stdout && pp_format_by_extension(output) == PP_FMT_RAW)
		return pp_usage_error("render", "render cannot write a recording (%s); "
				      "give an output of another format", output);
	if (fmt == PP_FMT_NONE && output && !to_stdout)
		fmt = pp_format_by_extension(output);
	if (fmt == PP_FMT_NONE)
		fmt = PP_FMT_FLAMEGRAPH;
	/* The output's name first: nothing is read or written before it is
	 * known not to be the recording itself. */
	char *owned = NULL;
	if (!output) {
		size_t n = strlen(input);
		size_t base = n > 8 && !strcmp(input + n - 8, ".pyprobe") ? n - 8 : n;
		if (asprintf(&owned, "%.*s%s", (int)base, input, pp_format_extension(fmt)) < 0) {
			pp_die_msg("out of memory");
			return PP_EXIT_IO;
		}
		output = owned;
	}
	/* Nor over its own input under another name (a link, /dev/stdout,
	 * `-o - >>X.pyprobe`). */
	struct stat in_st, out_st;
	if (stat(input, &in_st) == 0 && S_ISREG(in_st.st_mode) &&
	    (to_stdout ? fstat(1, &out_st) : stat(output, &out_st)) == 0 &&
	    in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
		pp_usage_error("render", "the output %s is the recording %s itself; "
			       "give another -o", to_stdout ? "(standard output)" : output, input);
		free(owned);
		return PP_EXIT_USAGE;
	}
	char err[256] = "";
	int truncated = 0;
	struct pp_profile *p = pp_recording_load(input, &truncated, err, sizeof(err));
	if (!p) {
		pp_die_msg("cannot read %s: %s", input, err);
		free(owned);
		return PP_EXIT_IO;
	}
	/* A recording of several processes (record --subprocesses), or of
	 * one that exec'd, keeps its `process PID: cmdline` root frames, as
	 * record drew them. */
	if (pp_profile_several_programs(p))
		ro.view.processes = true;
	int rc = PP_EXIT_OK;
	/* Complete or not there: a failed write leaves no cut-off file (and
	 * the file of that name, if any, as it was). */
	const char *shown = to_stdout ? "standard output" : output;
	struct pp_output *o = pp_output_create(output);
	FILE *out = o ? pp_output_stream(o) : NULL;
	if (!out || pp_format_write(fmt, p, &ro, out) != 0) {
		pp_die_msg("cannot write %s: %s%s", shown, strerror(errno), pp_write_advice(errno));
		pp_output_discard(o);
		rc = PP_EXIT_IO;
	} else if (pp_output_commit(o) != 0) {
		pp_die_msg("cannot write %s: %s%s", shown, strerror(errno), pp_write_advice(errno));
		rc = PP_EXIT_IO;
	}
	if (rc == PP_EXIT_OK && truncated)
		fprintf(stderr, "pyprobe: %s was cut short (the recording was interrupted); "
			"rendered what it holds\n", input);
	if (rc == PP_EXIT_OK && pp_view_all_idle(p, &ro.view))
		pp_die_msg("every sample was of an idle thread; --idle keeps them");
	pp_profile_free(p);
	free(owned);
	return rc;
}
