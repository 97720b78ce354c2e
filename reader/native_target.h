/* Native unwinding's view of a target, live or a core: the symboliser of
 * its mappings and the unwinder of its threads.
 *
 * A live process: /proc/PID/maps, and ptrace on the threads a paused
 * sample stopped. A core: the files its NT_FILE note names, each opened
 * only once it checked out against the core (core_file.h: build-id, or
 * its first page; --exe and --root say where they are), and each thread's
 * registers as its NT_PRSTATUS note saved them, its stack from the core.
 */
#ifndef PYPROBE_READER_NATIVE_TARGET_H
#define PYPROBE_READER_NATIVE_TARGET_H

#include <stddef.h>

#include "native_unwind.h"
#include "reader.h"
#include "symbolize.h"

/* For target t (attached, or a core opened): 0 with both set (free the
 * unwinder first, then the symboliser; the target must outlive them), or
 * -1 with a one-line message in err. */
int pp_target_native_open(struct pp_target *t, struct pp_symbolizer **sym,
			  struct pp_unwinder **unw, char *err, size_t errlen);

#endif
