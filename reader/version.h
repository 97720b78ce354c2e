/* Which Python is in the target: exact X.Y.Z, from the 3.13+ debug-offsets
 * cookie, the Py_Version symbol (3.11+), or the sys.version text that
 * Py_GetVersion() leaves in the library's .bss (every version). */
#ifndef PYPROBE_READER_VERSION_H
#define PYPROBE_READER_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "elf_symbols.h"
#include "memory.h"

struct pp_pyversion {
	int major, minor, micro;
	int level;  /* 0xA alpha, 0xB beta, 0xC candidate, 0xF final */
	int serial;
	char str[32]; /* "3.11.7", "3.13.0rc2" */
};

/* PY_VERSION_HEX -> version. -1 if it does not look like one. */
int pp_version_from_hex(uint64_t hex, struct pp_pyversion *v);
/* "3.8.18 (default, ...)" -> version. -1 if not a version string. */
int pp_version_from_string(const char *s, struct pp_pyversion *v);

/* Find the version of the interpreter in `elf`, loaded at `bias`, whose
 * _PyRuntime is at `runtime` (0 if the binary has none: Python 2, 3.6).
 * 0, or -1 if no method worked. */
int pp_version_detect(struct pp_mem *m, const struct pp_elf *elf,
		      uint64_t bias, uint64_t runtime, struct pp_pyversion *out);

#endif
