/* Writing one hang: when a watch condition fires, take the dump (paused,
 * as `pyprobe dump` does) and write DIR/pyprobe-hang-PID-YYYYmmddTHHMMSS
 * .txt and .json (UTC; "-2", "-3", ... when that second already has one),
 * each written to a temporary name in DIR and renamed into place, so a
 * reader never sees half a file. */
#ifndef PYPROBE_WATCH_HANG_H
#define PYPROBE_WATCH_HANG_H

#include <stddef.h>
#include <stdint.h>

#include "../reader/reader.h"
#include "dump_take.h"
#include "watch.h"
#include "watch_samples.h"

struct pp_watch_hang_opts {
	const char *dir;
	double stall_s, stuck_s;
	const char *heartbeat_file;   /* or NULL */
	double heartbeat_timeout_s;
	struct pp_dump_opts dump;
};

/* Writes the hang of ev (fired at now_ns, monotonic) and fills `path` with
 * the .txt's path and `culprit` with a one-line description of the first
 * finding. 0, or -1 when the files could not be written (errno-style text
 * in `why`). A dump that could not be taken is said in the files, not an
 * error: the rest is worth keeping. */
int pp_watch_write_hang(struct pp_target *t, const struct pp_watch_samples *ws,
			const struct pp_watch_event *ev, uint64_t now_ns,
			const struct pp_watch_hang_opts *o, char *path, size_t path_size,
			char *culprit, size_t culprit_size, char *why, size_t why_size);

#endif
