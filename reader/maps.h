/* /proc/PID/maps: which files are mapped where. */
#ifndef PYPROBE_READER_MAPS_H
#define PYPROBE_READER_MAPS_H

#include <stddef.h>
#include <stdint.h>

struct pp_map {
	uint64_t start, end, offset;
	char perms[5];
	char *path; /* NULL for anonymous mappings */
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
