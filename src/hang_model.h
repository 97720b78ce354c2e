/* A hang as `pyprobe watch` writes it (pyprobe-hang-PID-TIME.txt and
 * .json): what fired, when, the culprits, a profile of the seconds leading
 * up to it and the dump taken then. Plain data, built by cmd_watch.c and
 * drawn by render/hang.c; strings are owned by whoever built it. */
#ifndef PYPROBE_HANG_MODEL_H
#define PYPROBE_HANG_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dump_model.h"
#include "profile.h"

struct pp_hang_finding {
	const char *condition;   /* "stall", "stuck", "deadlock", "heartbeat" */
	uint64_t native_id;      /* the thread; 0 for the heartbeat */
	const char *thread_name; /* or NULL */
	const char *activity;    /* "running", "lock wait", "idle", ... */
	double seconds;          /* how long the condition had held */
	/* The innermost Python frame; function NULL when there is none. */
	const char *function;
	const char *file;
	int line;
	const char *task;        /* stall: the coroutine or callback, or NULL */
	const char *task_name;   /* stall: the asyncio Task the loop runs (its
	                            name), or NULL (none, or before 3.11) */
};

struct pp_hang {
	int pid;
	const char *condition;      /* the headline: "stall", ... */
	const char *condition_name; /* "loop stall", "suspected deadlock", ... */
	const char *time;           /* ISO 8601, UTC: when it fired */
	double stall_s, stuck_s;    /* the thresholds */
	const char *heartbeat_file; /* NULL when none is watched */
	double heartbeat_timeout_s;
	const struct pp_hang_finding *findings;
	size_t nfindings;
	size_t nmore;               /* findings left out */
	const struct pp_profile *recent; /* the last seconds, or NULL */
	double recent_s;
	const struct pp_dump *dump;      /* NULL when it could not be taken */
	const char *dump_error;          /* then: why */
};

#endif
