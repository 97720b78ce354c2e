/* struct pp_target, shared by target.c (attach) and sample.c (reading a
 * snapshot). Private to reader/. */
#ifndef PYPROBE_READER_TARGET_INTERNAL_H
#define PYPROBE_READER_TARGET_INTERNAL_H

#include "code_cache.h"
#include "core_file.h"
#include "frame_locals.h"
#include "frame_walk.h"
#include "layout.h"
#include "memory.h"
#include "os_state.h"
#include "pyobject.h"
#include "quiet.h"
#include "reader.h"
#include "readahead.h"
#include "resume.h"
#include "snapshot.h"
#include "thread_names.h"

struct pp_target {
	struct pp_target_info info;
	/* How messages name it: "process 1234", or the core file. */
	char who[320];
	/* Reading a core file (core_file.h), not a live process: memory
	 * and task states come from it, nothing from /proc, no pause. */
	struct pp_core *core;
	struct pp_mem mem;
	struct py_layout layout;
	uint64_t runtime;        /* &_PyRuntime in the target */
	struct pp_code_types types;
	uint64_t frame_type;     /* PyFrame_Type */
	struct pp_objreader obj;
	struct pp_code_cache *codes;
	struct pp_os_reader *os;
	struct pp_walker walker;
	pp_paused_hook paused_hook; /* reader.h; or NULL */
	void *paused_hook_ctx;
	int tid_offset;          /* <=3.10: tid inside struct pthread; -1 */
	/* The target's own ids for its threads differ from ours when it runs
	 * in another PID namespace (a container): the interpreter stores
	 * those, /proc and the user speak ours. ns_pid is the main thread's
	 * id over there (== info.pid when not namespaced). */
	long ns_pid;
	struct pp_tid_pair { int host, ns; } *tidmap;
	size_t ntidmap;
	struct pp_thread_names names;
	/* The threads the last names read was for, as (ident, native id):
	 * glibc gives a new thread the ident of one joined before it, so an
	 * ident alone does not tell a new thread from an old one. */
	struct pp_named_thread {
		uint64_t ident, native_id;
		unsigned nameless; /* reads in a row that found no name */
	} *named; /* sorted by (ident, native id) */
	size_t nnamed;
	struct pp_frame_vec frames; /* walker output, per sample */
	struct snapshot *snap;      /* sample.c's working state, reused */
	struct pp_readahead *ahead; /* where the last sample found things */
	struct pp_quiet *quiet;     /* threads that may not have run since */
	struct pp_resume_store *resume; /* where each stack stood last time */
	bool quiet_sample;          /* this sample may take threads over */
	struct pp_quiet_thread_seen *quiet_seen; /* learn_quiet's, reused */
	size_t quiet_seen_cap;
	struct pp_repr repr;           /* PP_SAMPLE_LOCALS: types seen */
	struct pp_locals_arena locals; /* ...and the last sample's locals */
};

/* Attaching, in steps shared by a live process (target.c) and a core
 * (target_core.c): find the runtime, version and layout in the mapped
 * ELF files; check its interpreter list; set up the readers. */
enum pp_err pp_find_runtime(struct pp_target *t, const struct pp_maps *maps,
			    struct pp_error *err);
enum pp_err pp_check_runtime(struct pp_target *t, struct pp_error *err);
enum pp_err pp_target_ready(struct pp_target *t, struct pp_error *err);
/* A failed read of a core's memory (`what` was being read) as an error. */
enum pp_err pp_core_mem_error(struct pp_target *t, int rc, const char *what,
			      struct pp_error *err);
/* task states of a core: what NT_PRSTATUS says each thread was doing. */
int pp_read_core_task_states(struct pp_target *t, struct snapshot *s);
/* Open an ELF file the target has mapped at `path` (its first mapping
 * `first`, or NULL), the way attach opens libpython: through the target's
 * root when it runs in a chroot or container. 0 or a negative errno. */
struct pp_elf;
struct pp_map;
int pp_target_open_mapped_elf(const struct pp_target *t, const char *path,
			      const struct pp_map *first, struct pp_elf **out);

/* Fill err with a formatted one-line message; returns code. */
enum pp_err pp_set_error(struct pp_error *err, enum pp_err code,
			 const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The message for "no permission to read process pid". */
enum pp_err pp_permission_error(struct pp_error *err, int pid);
/* If a thread of pid is already being traced (a debugger, strace, another
 * profiler), say so in err and return 1: ptrace's EPERM then is not about
 * privileges. */
int pp_tracer_error(int pid, struct pp_error *err);

#endif
