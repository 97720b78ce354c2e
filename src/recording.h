/* .pyprobe recordings: a profile written while it is being recorded, in
 * self-contained compressed blocks, so that an interrupted pyprobe (even
 * kill -9) leaves a file that loads up to its last complete block. Every
 * other format can be rendered from it later (`pyprobe render`).
 * The format is specified in docs/format.md. */
#ifndef PYPROBE_RECORDING_H
#define PYPROBE_RECORDING_H

#include <stddef.h>

#include "profile.h"

struct pp_recording_writer;

/* Create (truncate) `path` and write the file header. NULL with errno set
 * if it cannot be written - callers check this before sampling starts. */
struct pp_recording_writer *pp_recording_create(const char *path);
/* The same on an open descriptor (standard output, a pipe), which the
 * writer owns from then on: closed by pp_recording_close, or at once if
 * this fails. On a pipe a failed write cannot be undone: the first one
 * ends the recording. */
struct pp_recording_writer *pp_recording_create_fd(int fd);

/* Append everything the profile gained since the previous call (new
 * strings, frames, stacks, threads and samples, and the current metadata)
 * as one block, and write it out. Tables are append-only, so a block holds
 * only what is new. 0, or -1 with errno set. */
int pp_recording_flush(struct pp_recording_writer *w, const struct pp_profile *p);

/* A final flush, then close. 0, or -1 with errno set (the file may still
 * hold everything up to the last good block). Frees w in any case. */
int pp_recording_close(struct pp_recording_writer *w, const struct pp_profile *p);

/* Load a recording. A file cut short (the writer was killed) loads up to
 * its last complete block and sets *truncated. NULL if the file cannot be
 * read or is not a recording this version understands, with a one-line
 * reason in err (no "pyprobe: " prefix). Never crashes on any input. */
struct pp_profile *pp_recording_load(const char *path, int *truncated, char *err,
				     size_t errlen);

#endif
