/* Every output format pyprobe writes. Each renderer is a pure function of
 * its input model and options, writing to a FILE*: no global state, the
 * same input gives byte-identical output. Returns 0, or -1 if writing
 * failed (errno set).
 */
#ifndef PYPROBE_RENDER_H
#define PYPROBE_RENDER_H

#include <stdio.h>

#include "../src/dump_model.h"

int pp_render_dump_text(const struct pp_dump *d, FILE *out);
int pp_render_dump_json(const struct pp_dump *d, FILE *out);

#endif
