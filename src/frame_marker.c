/* See frame_marker.h. */
#include "frame_marker.h"

#include <inttypes.h>
#include <stdio.h>

#include "profile.h"

_Static_assert(PP_FRAME_LINE_NONE == PP_LINE_NONE && PP_FRAME_LINE_UNKNOWN == PP_LINE_UNKNOWN,
	       "the reader's and the profile's lines that are not lines");

void pp_frame_marker_label(const struct pp_frame *f, char *buf, size_t size)
{
	switch (f->kind) {
	case PP_RF_CHANGING:
		snprintf(buf, size, "%s", PP_MARK_CHANGING);
		return;
	case PP_RF_UNREADABLE:
		snprintf(buf, size, "[unreadable frame: %s]",
			 pp_unreadable_reason((enum pp_unreadable)f->why));
		return;
	case PP_RF_NOT_READ:
		snprintf(buf, size, "[%" PRIu64 "%s more frames not read]", f->count,
			 f->count_exact ? "" : " or");
		return;
	default:
		snprintf(buf, size, "[?]");
		return;
	}
}
