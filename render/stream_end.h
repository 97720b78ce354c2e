/* How every renderer ends: what it wrote reaches the stream's file, or the
 * render fails with errno saying why. */
#ifndef PYPROBE_RENDER_STREAM_END_H
#define PYPROBE_RENDER_STREAM_END_H

#include <stdio.h>

/* Flush out. 0, or -1 with errno set (EIO when the stream failed without
 * one: an earlier write error). */
int pp_stream_end(FILE *out);

#endif
