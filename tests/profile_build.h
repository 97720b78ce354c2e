/* Building profiles in memory, for the unit tests of the renderers and
 * the report. A failure to intern fails the test. */
#ifndef PYPROBE_TESTS_PROFILE_BUILD_H
#define PYPROBE_TESTS_PROFILE_BUILD_H

#include <stddef.h>

#include "src/profile.h"

/* A Python frame: `fn` is the qualified name, its bare name what follows
 * the last '.'; firstlineno is the line (1 when there is none). */
pp_frame_id tb_py(struct pp_profile *p, const char *fn, const char *file, int line);

/* The stack of n frames, root first. */
pp_stack_id tb_stack(struct pp_profile *p, const pp_frame_id *frames, size_t n);
#define TB_STACK(p, ...)                                                               \
	tb_stack(p, (const pp_frame_id[]){__VA_ARGS__},                                 \
		 sizeof((const pp_frame_id[]){__VA_ARGS__}) / sizeof(pp_frame_id))

/* A root-first chain of (function, file, line) frames. */
struct tb_fr {
	const char *fn, *file;
	int line;
};
pp_stack_id tb_chain(struct pp_profile *p, const struct tb_fr *f, size_t n);

#endif
