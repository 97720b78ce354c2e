/* One snapshot of a target as sample.c assembles it: interpreters, thread
 * states (with where their frames and verification landed), OS states.
 * Private to reader/: shared by sample.c, which fills it by following the
 * interpreter's lists, and readahead.c, which fills it from one read of
 * what the previous snapshot found. */
#ifndef PYPROBE_READER_SNAPSHOT_H
#define PYPROBE_READER_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "os_state.h"
#include "reader.h"

#define PP_MAX_INTERPRETERS 256
#define PP_MAX_TSTATES 65536

struct interp_rec {
	uint64_t addr;
	int64_t id;
	uint64_t gil;        /* struct _gil_runtime_state in use */
	uint64_t gil_holder; /* tstate holding it, 0 if none */
	uint64_t modules;
};

struct tstate_rec {
	uint64_t addr;
	uint64_t thread_id;
	uint64_t native_id;
	bool native_known;   /* native_id is final (read ahead on <=3.10) */
	size_t interp;       /* index into interps */
	size_t order;        /* creation order within its interpreter */
	size_t bytes_off;    /* its PyThreadState bytes in snapshot.tsbytes */
	size_t frame_start, nframes;
	enum pp_walk_status status;
	/* what its walk saw: pp_walker.chain records, the newest data-stack
	 * chunk, and its deferred check (-1: none) */
	size_t chain_off, depth;
	uint64_t cbase, cend;
	long check;
	/* taken over from an earlier sample: the thread has not run since
	 * (quiet.h); its OS state is quiet_os, not read */
	bool taken_over;
	struct pp_os_state quiet_os;
};

struct os_rec {
	int tid;
	struct pp_os_state st;
};

struct snapshot {
	struct interp_rec interps[PP_MAX_INTERPRETERS];
	size_t ninterps;
	struct tstate_rec *ts;
	size_t nts, tscap;
	uint8_t *tsbytes;    /* nts PyThreadStates, ts_size bytes each */
	size_t tsbytes_cap;
	struct os_rec *os;
	size_t nos, oscap;
};

/* Room for n thread states' bytes; 0 or -1. */
int pp_snapshot_reserve_bytes(struct snapshot *s, size_t n, size_t ts_size);
void pp_snapshot_free(struct snapshot *s);
/* Append a thread state record; 0 or -1 (out of memory). */
int pp_snapshot_push_ts(struct snapshot *s, const struct tstate_rec *r);

#endif
