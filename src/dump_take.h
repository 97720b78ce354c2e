/* One dump of a target, as `pyprobe dump` makes it and `pyprobe watch`
 * writes when a hang fires: a snapshot of every thread (paused unless
 * asked not to) turned into the renderers' model (dump_model.h). One
 * function for both, so an option added to dump (--native, --locals)
 * reaches watch by passing it on. */
#ifndef PYPROBE_DUMP_TAKE_H
#define PYPROBE_DUMP_TAKE_H

#include <stdbool.h>

#include "../reader/reader.h"
#include "dump_model.h"
#include "dump_native.h"
#include "native_capture.h"

struct pp_dump_opts {
	bool nonblocking; /* read while it runs (PP_SAMPLE_WHOLE) */
	bool native;      /* C frames merged with the Python ones (needs the pause) */
	bool locals;      /* each Python frame's arguments and locals (PP_SAMPLE_LOCALS) */
};

/* A dump and what its strings live in; free with pp_dump_taken_free().
 * Strings are borrowed from the target handle, which must outlive it. */
struct pp_dump_taken {
	struct pp_dump dump;
	struct pp_sample sample;
	struct pp_dump_thread *threads;
	struct pp_dump_frame *frames;
	char *labels;
	struct pp_dump_local *locals;
	/* with native: the unwinder and symboliser whose strings the native
	 * frames borrow, and where those frames are kept */
	struct pp_native_capture *native;
	struct pp_target *target;
	struct pp_dump_native_store native_frames;
};

/* Take one dump of t. PP_OK, or the reader's error (err filled; out of
 * memory is PP_ERR_IO). */
enum pp_err pp_dump_take(struct pp_target *t, const struct pp_dump_opts *o,
			 struct pp_dump_taken *out, struct pp_error *err);
void pp_dump_taken_free(struct pp_dump_taken *d);

#endif
