/* Version detection, most reliable method first. */
#include "version.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pp_version_from_hex(uint64_t hex, struct pp_pyversion *v)
{
	hex &= 0xffffffffu; /* Py_Version is an unsigned long: low 32 bits */
	v->major = (int)(hex >> 24) & 0xff;
	v->minor = (int)(hex >> 16) & 0xff;
	v->micro = (int)(hex >> 8) & 0xff;
	v->level = (int)(hex >> 4) & 0xf;
	v->serial = (int)hex & 0xf;
	if (v->major < 2 || v->major > 3 || v->minor > 99 ||
	    (v->level != 0xA && v->level != 0xB && v->level != 0xC && v->level != 0xF))
		return -1;
	if (v->level == 0xF)
		snprintf(v->str, sizeof(v->str), "%d.%d.%d", v->major, v->minor, v->micro);
	else
		snprintf(v->str, sizeof(v->str), "%d.%d.%d%s%d", v->major, v->minor,
			 v->micro, v->level == 0xA ? "a" : v->level == 0xB ? "b" : "rc",
			 v->serial);
	return 0;
}

int pp_version_from_string(const char *s, struct pp_pyversion *v)
{
	int ma, mi, mc = 0, n = 0;
	if (sscanf(s, "%d.%d%n", &ma, &mi, &n) != 2)
		return -1;
	const char *p = s + n;
	if (*p == '.') {
		int k = 0;
		if (sscanf(p + 1, "%d%n", &mc, &k) != 1)
			return -1;
		p += 1 + k;
	}
	if (ma < 2 || ma > 3 || mi < 0 || mi > 99 || mc < 0 || mc > 99)
		return -1;
	/* Pre-release tags and "+" (built from a checkout) may follow; the
	 * sys.version text then has " (" before the build info. */
	size_t tag = strcspn(p, " ");
	if (tag > 8 || strncmp(p + tag, " (", 2) != 0)
		return -1;
	v->major = ma;
	v->minor = mi;
	v->micro = mc;
	v->level = 0xF;
	v->serial = 0;
	snprintf(v->str, sizeof(v->str), "%d.%d.%d%.*s", ma, mi, mc, (int)tag, p);
	return 0;
}

/* sys.version as Py_GetVersion() formatted it into a static buffer at
 * startup: NUL, "3.X.Y", optional tag, " (". Scan .bss in chunks. */
static int scan_bss(struct pp_mem *m, const struct pp_elf *elf, uint64_t bias,
		    struct pp_pyversion *out)
{
	uint64_t addr, size;
	if (pp_elf_section(elf, ".bss", &addr, &size) != 0)
		return -1;
	if (size > (64u << 20))
		size = 64u << 20;
	enum { CHUNK = 65536, OVERLAP = 64 };
	char *buf = malloc(CHUNK + 1);
	if (!buf)
		return -1;
	int found = -1;
	for (uint64_t off = 0; off < size && found != 0; off += CHUNK - OVERLAP) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		if (pp_mem_read(m, bias + addr + off, buf, len) != 0)
			continue;
		buf[len] = '\0';
		for (size_t i = 1; i + 8 < len; i++) {
			if (buf[i - 1] != '\0' || (buf[i] != '2' && buf[i] != '3') ||
			    buf[i + 1] != '.' || !isdigit((unsigned char)buf[i + 2]))
				continue;
			if (pp_version_from_string(buf + i, out) == 0) {
				found = 0;
				break;
			}
		}
	}
	free(buf);
	return found;
}

int pp_version_detect(struct pp_mem *m, const struct pp_elf *elf,
		      uint64_t bias, uint64_t runtime, struct pp_pyversion *out)
{
	if (runtime) {
		uint8_t head[16];
		if (pp_mem_read(m, runtime, head, sizeof(head)) == 0 &&
		    memcmp(head, "xdebugpy", 8) == 0) {
			uint64_t hex;
			memcpy(&hex, head + 8, 8);
			if (pp_version_from_hex(hex, out) == 0)
				return 0;
		}
	}
	uint64_t sym;
	if (pp_elf_symbol(elf, "Py_Version", &sym, NULL) == 0) {
		uint64_t hex;
		if (pp_mem_read_u64(m, bias + sym, &hex) == 0 &&
		    pp_version_from_hex(hex, out) == 0)
			return 0;
	}
	return scan_bss(m, elf, bias, out);
}
