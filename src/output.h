/* Output formats of a profile, shared by `record` and `render`: choosing
 * one from -f or the file's extension, and writing it. */
#ifndef PYPROBE_OUTPUT_H
#define PYPROBE_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "../render/render.h"
#include "profile.h"

enum pp_format {
	PP_FMT_NONE = 0,
	PP_FMT_FLAMEGRAPH,
	PP_FMT_COLLAPSED,
	PP_FMT_SPEEDSCOPE,
	PP_FMT_PPROF,
	PP_FMT_RAW, /* the .pyprobe recording */
};

/* From a -f name ("flamegraph", "collapsed", "speedscope", "pprof", "raw"). */
enum pp_format pp_format_by_name(const char *name);
/* From an output file name's extension; PP_FMT_NONE if it says nothing. */
enum pp_format pp_format_by_extension(const char *path);
/* The extension a format's files get (".svg", ...). */
const char *pp_format_extension(enum pp_format f);
/* Render p in format f (not RAW) to out. 0, or -1 with errno. */
int pp_format_write(enum pp_format f, const struct pp_profile *p,
		    const struct pp_render_opts *o, FILE *out);

/* Whether an output path means standard output ("-"). */
bool pp_output_is_stdout(const char *path);

#endif
