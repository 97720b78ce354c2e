/* The symboliser and unwinder of a live process or of a core. */
#include "native_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core_file.h"
#include "target_internal.h"

_Static_assert(PP_NREGS == PP_UNWIND_NREGS, "NT_PRSTATUS's registers are user_regs_struct");

/* ---- a core ----------------------------------------------------------------- */

static const uint64_t *core_regs(void *ctx, int tid)
{
	const struct pp_core *c = ctx;
	for (size_t i = 0; i < pp_core_nthreads(c); i++) {
		const struct pp_core_thread *th = pp_core_thread(c, i);
		if (th->tid == tid)
			return th->regs;
	}
	return NULL;
}

static int core_open(void *ctx, const char *path, char **shown)
{
	const char *disk = NULL;
	int fd = pp_core_open_fd(ctx, path, &disk);
	if (fd < 0)
		return -1;
	if (!(*shown = strdup(disk))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The core's file mappings as /proc/PID/maps text, for the symboliser. */
static struct pp_symbolizer *core_symbolizer(struct pp_core *c, const char *path, char *err,
					    size_t errlen)
{
	struct pp_maps maps = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *f = NULL;
	struct pp_symbolizer *s = NULL;
	if (pp_core_maps(c, &maps) != 0 || !(f = open_memstream(&text, &len))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* libdwfl takes consecutive lines of one inode for one file: each
	 * run of a file's mappings gets one of its own */
	unsigned long long inode = 0;
	const char *last = NULL;
	for (size_t i = 0; i < maps.n; i++) {
		const struct pp_map *m = &maps.v[i];
		/* a name the format cannot carry is left out: its frames
		 * name no library */
		if (!m->path || m->path[0] != '/' || strchr(m->path, '\n'))
			continue;
		if (!last || strcmp(last, m->path) != 0)
			inode++;
		last = m->path;
		fprintf(f, "%llx-%llx %s %08llx 00:00 %llu %s\n", (unsigned long long)m->start,
			(unsigned long long)m->end, m->perms, (unsigned long long)m->offset,
			inode, m->path);
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	f = NULL;
	if (!len) {
		snprintf(err, errlen, "the core %s names no mapped file, so no native frame "
			 "can be read from it", path);
		goto out;
	}
	if (!(f = fmemopen(text, len, "r"))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	s = pp_symbolizer_new_files(f, core_open, c, err, errlen);
out:
	if (f)
		fclose(f);
	free(text);
	pp_maps_free(&maps);
	return s;
}

/* ---- either ----------------------------------------------------------------- */

int pp_target_native_open(struct pp_target *t, struct pp_symbolizer **sym,
			  struct pp_unwinder **unw, char *err, size_t errlen)
{
	*sym = NULL;
	*unw = NULL;
	if (t->core) {
		*sym = core_symbolizer(t->core, t->info.core, err, errlen);
		if (!*sym)
			return -1;
		struct pp_unwind_source src = {core_regs, pp_core_read, t->core};
		*unw = pp_unwinder_new_source(&src, *sym);
	} else {
		*sym = pp_symbolizer_new_pid(t->info.pid, err, errlen);
		if (!*sym)
			return -1;
		*unw = pp_unwinder_new(t->info.pid, *sym);
	}
	if (!*unw) {
		snprintf(err, errlen, "out of memory");
		pp_symbolizer_free(*sym);
		*sym = NULL;
		return -1;
	}
	return 0;
}
