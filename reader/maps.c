/* /proc/PID/maps parsing. */
#include "maps.h"
#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Maps of a large process run to a few hundred KB; cap it so a pathological
 * target cannot make us allocate without bound. */
#define MAPS_MAX_BYTES (64u << 20)


int pp_maps_parse(const char *text, size_t len, struct pp_maps *out)
{
	out->v = NULL;
	out->n = 0;
	size_t cap = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char line[4096 + 256];
		size_t ll = (size_t)(le - p);
		if (ll >= sizeof(line))
			ll = sizeof(line) - 1;
		memcpy(line, p, ll);
		line[ll] = '\0';
		p = nl ? nl + 1 : end;

		struct pp_map m = {0};
		unsigned long long s, e, off, inode;
		char perms[8], dev[32];
		int pathpos = -1;
		if (sscanf(line, "%llx-%llx %7s %llx %31s %llu %n", &s, &e, perms,
			   &off, dev, &inode, &pathpos) < 6)
			continue;
		m.start = s;
		m.end = e;
		m.offset = off;
		m.inode = inode;
		unsigned dmaj, dmin;
		if (sscanf(dev, "%x:%x", &dmaj, &dmin) == 2) {
			m.dev_major = dmaj;
			m.dev_minor = dmin;
		}
		memcpy(m.perms, perms, 4);
		m.perms[4] = '\0';
		if (pathpos > 0 && line[pathpos]) {
			m.path = strdup(line + pathpos);
			if (!m.path)
				goto oom;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 256;
			struct pp_map *nv = realloc(out->v, cap * sizeof(*nv));
			if (!nv) {
				free(m.path);
				goto oom;
			}
			out->v = nv;
		}
		out->v[out->n++] = m;
	}
	return 0;
oom:
	pp_maps_free(out);
	return -ENOMEM;
}

int pp_maps_read(int pid, struct pp_maps *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	size_t len = 0;
	int err = 0;
	char *text = pp_read_file(path, MAPS_MAX_BYTES, &len, &err);
	if (!text)
		return err;
	int rc = pp_maps_parse(text, len, out);
	free(text);
	return rc;
}

void pp_maps_free(struct pp_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct pp_map *pp_maps_first_of(const struct pp_maps *m, const char *path)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].path && strcmp(m->v[i].path, path) == 0)
			return &m->v[i];
	return NULL;
}
