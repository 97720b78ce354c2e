/* See frame_label.h. */
#include "frame_label.h"

#include <stdio.h>

size_t pp_frame_label(const struct pp_view_frame *f, char *buf, size_t size)
{
	int n;
	if (f->kind != PP_FRAME_PYTHON && f->kind != PP_FRAME_NATIVE)
		n = snprintf(buf, size, "%s", f->function);
	else if (f->line == PP_LINE_UNKNOWN) /* a line that could not be read */
		n = snprintf(buf, size, "%s (%s:?)", f->function, f->file);
	else if (f->line < 0)
		n = snprintf(buf, size, "%s (%s)", f->function, f->file);
	else
		n = snprintf(buf, size, "%s (%s:%d)", f->function, f->file, f->line);
	return n < 0 ? 0 : (size_t)n;
}
