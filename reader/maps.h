/* /proc/PID/maps: which files are mapped where. */
#ifndef PYPROBE_READER_MAPS_H
#define PYPROBE_READER_MAPS_H

#include <stddef.h>
#include <stdint.h>

struct pp_map {
	uint64_t start, end, offset;
	unsigned dev_major, dev_minor; /* of the mapped file's filesystem */
	uint64_t inode;                /* 0 for anonymous mappings */
	char perms[5];
	/* NULL for anonymous mappings. The kernel writes it as seen from the
	 * root of whoever reads the maps (pyprobe): from a target in a chroot
	 * we can see, it is our path to the file; from one whose root lies in
	 * a mount namespace we cannot see (a container), it is the target's
	 * own path. The inode tells which (see reader/target.c). */
	char *path;
};

struct pp_maps {
	struct pp_map *v;
	size_t n;
};

/* 0, or a negative errno (-ENOENT/-ESRCH: no such process; -EACCES). */
int pp_maps_read(int pid, struct pp_maps *out);
/* Parse maps text (for tests). */
int pp_maps_parse(const char *text, size_t len, struct pp_maps *out);
void pp_maps_free(struct pp_maps *m);

/* The first mapping of `path` (lowest address), or NULL. */
const struct pp_map *pp_maps_first_of(const struct pp_maps *m, const char *path);

#endif
