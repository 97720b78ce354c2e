/* threading.Thread names, read out of the target's `threading` module:
 * sys.modules["threading"]._active maps each thread's ident
 * (pthread_self()) to its Thread object, whose `_name` is the name. */
#ifndef PYPROBE_READER_THREAD_NAMES_H
#define PYPROBE_READER_THREAD_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "pyobject.h"

struct pp_thread_name {
	uint64_t ident; /* threading.get_ident() == PyThreadState.thread_id */
	uint64_t native_id; /* Thread.native_id, as the target sees it; 0 unknown */
	char *name;     /* UTF-8, malloc'd */
};

struct pp_thread_names {
	struct pp_thread_name *v;
	size_t n;
};

/* Read the names known to the interpreter whose sys.modules dict is at
 * `modules_dict`. Fills `out` (which the caller zeroed); appends, so it can
 * be called for several interpreters. Returns 0, or a negative errno when
 * `threading` is not imported or unreadable (not an error for a caller:
 * threads are then unnamed). */
int pp_thread_names_read(const struct pp_objreader *r, uint64_t modules_dict,
			 struct pp_thread_names *out);
/* The name of the thread with `ident` and kernel id `native_id` (as the
 * target's PID namespace numbers it; 0: unknown), or NULL. glibc gives a
 * new thread the ident of one that ended, and the dict can be read while
 * it changes: a name whose Thread says another kernel id is not this
 * thread's. */
const char *pp_thread_names_get(const struct pp_thread_names *t,
				uint64_t ident, uint64_t native_id);
void pp_thread_names_free(struct pp_thread_names *t);

#endif
