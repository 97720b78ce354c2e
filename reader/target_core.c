/* Attaching to a core file: the same steps as to a live process
 * (target.c), with the core as the source of maps, memory and threads. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_file.h"
#include "target_internal.h"

enum pp_err pp_core_mem_error(struct pp_target *t, int rc, const char *what,
			      struct pp_error *err)
{
	if ((rc == -ESTALE || rc == -ENOENT || rc == -ENODATA) && pp_core_error(t->core)[0])
		return pp_set_error(err, PP_ERR_IO, "%s", pp_core_error(t->core));
	return pp_set_error(err, PP_ERR_IO,
		"cannot read %s from %s: %s; the core is incomplete (taken with a "
		"coredump_filter that leaves out anonymous memory?) or corrupt", what,
		t->who, rc == -EFAULT ? "not in the core" : strerror(-rc));
}

enum pp_err pp_target_open_core(const char *core, const char *exe, const char *root,
				struct pp_target **out, struct pp_error *err)
{
	*out = NULL;
	struct pp_core *c = NULL;
	struct pp_core_paths paths = {exe, root};
	enum pp_err e = pp_core_open(core, &paths, &c, err);
	if (e)
		return e;
	struct pp_target *t = calloc(1, sizeof(*t));
	if (!t) {
		pp_core_close(c);
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	}
	t->core = c;
	t->tid_offset = -1;
	t->info.pid = pp_core_pid(c);
	/* In a core, the threads' ids are the ones the process had: no
	 * namespace to translate across. */
	t->ns_pid = t->info.pid;
	snprintf(t->who, sizeof(t->who), "the core %s (process %d)", core, t->info.pid);
	pp_mem_init_callback(&t->mem, pp_core_read, c);
	t->info.cmdline = strdup(pp_core_cmdline(c));
	t->info.core = strdup(core);
	if (pp_core_exe(c))
		t->info.executable = strdup(pp_core_exe(c));
	if (!t->info.cmdline || !t->info.core || (pp_core_exe(c) && !t->info.executable)) {
		pp_target_detach(t);
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	}

	struct pp_maps maps = {0};
	if (pp_core_maps(c, &maps) != 0) {
		pp_target_detach(t);
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	}
	e = pp_find_runtime(t, &maps, err);
	pp_maps_free(&maps);
	if (!e)
		e = pp_check_runtime(t, err);
	if (!e)
		e = pp_target_ready(t, err);
	if (e) {
		pp_target_detach(t);
		return e;
	}
	*out = t;
	return PP_OK;
}

const char *pp_target_core_path(const struct pp_target *t)
{
	return t->info.core;
}
