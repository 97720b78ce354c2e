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
	PP_FMT_CHROMETRACE,
	PP_FMT_GECKO,
};

/* From a -f name ("flamegraph", "collapsed", "speedscope", "pprof",
 * "chrometrace", "gecko", "pyprobe"). Not "raw": that is py-spy's name for collapsed stacks, and a
 * file of another kind under it would mislead; commands refuse it with
 * PP_FORMAT_RAW_ADVICE. */
enum pp_format pp_format_by_name(const char *name);
#define PP_FORMAT_RAW_ADVICE \
	"-f raw is py-spy's name for collapsed stacks: give -f collapsed here"
/* From an output file name's extension; PP_FMT_NONE if it says nothing. */
enum pp_format pp_format_by_extension(const char *path);
/* The extension a format's files get (".svg", ...). */
const char *pp_format_extension(enum pp_format f);
/* Render p in format f (not RAW) to out. 0, or -1 with errno. */
int pp_format_write(enum pp_format f, const struct pp_profile *p,
		    const struct pp_render_opts *o, FILE *out);

/* Whether an output path means standard output ("-"). */
bool pp_output_is_stdout(const char *path);

/* ---- output files: complete, or not there --------------------------------
 *
 * A file pyprobe writes is created under a temporary name in its own
 * directory (`.NAME.XXXXXX`) and renamed to NAME only once it is complete
 * (pp_output_commit). So a write that fails part-way (a full disk, a file
 * size limit) never leaves a cut-off file that looks complete, nor
 * destroys the file NAME held before; the temporary file is removed.
 * Written in place: standard output ("-"), an existing NAME that is not
 * a regular file (/dev/null, a FIFO), and a writable NAME in a directory
 * pyprobe cannot create files in (emptied only once it is written: at
 * commit, or when its descriptor is asked for). A symbolic link to a regular file is
 * kept: its target is replaced. A recording, streamed while it grows, is
 * renamed into place early (pp_output_publish): from then on it holds
 * every complete block, whatever happens to pyprobe. A dangling symbolic
 * link's target is created in place, and removed again if nothing comes
 * of it (pp_output_discard). */
struct pp_output;

/* Create the output for path ("-": standard output). NULL with errno set
 * if it cannot be created: nothing is left behind then. */
struct pp_output *pp_output_create(const char *path);
/* Its descriptor (owned by o) and a stdio stream over it (made on the
 * first call; NULL with errno if that fails). */
int pp_output_fd(struct pp_output *o);
FILE *pp_output_stream(struct pp_output *o);
/* How messages name it: the path, or "standard output". */
const char *pp_output_name(const struct pp_output *o);
/* Rename it into place now, and go on writing to it. 0, or -1 with errno. */
int pp_output_publish(struct pp_output *o);
/* Flush, sync and close it, then rename it into place. 0, or -1 with
 * errno, and then the temporary file is removed (a file published
 * already is kept: it holds what was written). Frees o in any case. */
int pp_output_commit(struct pp_output *o);
/* Close it and remove the file it created, published or not (nothing
 * came of it). Frees o; NULL is a no-op. Keeps errno. */
void pp_output_discard(struct pp_output *o);

/* What to do about a write error, to follow its strerror() in a message:
 * "; free some space ..." for a full disk, "" when there is nothing to
 * say. */
const char *pp_write_advice(int err);

#endif
