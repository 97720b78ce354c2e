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
 * strings, frames, stacks, threads and samples, and the current metadata,
 * saying "not finished" whatever the profile's meta says) as one block,
 * and write it out. Tables are append-only, so a block holds only what is
 * new. 0, or -1 with errno set; the file is then cut back to its last
 * complete block (a later call writes the same entries again). */
int pp_recording_flush(struct pp_recording_writer *w, const struct pp_profile *p);

/* A final flush, with a block whose metadata says the recording finished
 * (written even when nothing else is new), then close. 0, or -1 with
 * errno set (the file still holds everything up to its last good block,
 * and loads as cut short). With p NULL: no final block - the recording
 * is abandoned as it is, cut short. Frees w in any case. */
int pp_recording_close(struct pp_recording_writer *w, const struct pp_profile *p);

/* Load a recording. A file cut short (the writer was killed) loads up to
 * its last complete block and sets *truncated: cut inside a block, or
 * (format 1.1 and later) not ended by a block that says finished, even
 * at a block boundary. Blocks that would inflate more than 256:1 are
 * corrupt, refused before anything is allocated for them: memory is
 * bounded by the file's size. NULL if the file cannot be
 * read or is not a recording this version understands, with a one-line
 * reason in err (no "pyprobe: " prefix). Never crashes on any input. */
struct pp_profile *pp_recording_load(const char *path, int *truncated, char *err,
				     size_t errlen);

#endif
