/* Code objects read from the target, cached by address: names, file, first
 * line, line table and what the walker needs to turn an instruction pointer
 * into a line. Strings are shared through a second cache keyed by the str
 * object's address (file names repeat across many code objects).
 *
 * A code object can be freed and its address reused by another (code run
 * once at startup, then the program's own). So each snapshot is checked:
 * pp_code_cache_new_epoch() at its start, pp_code_cache_validate() at its
 * end re-reads the identity of every entry it used (its name, file and
 * line-table pointers) in one vectored read. Stale entries are retired, not
 * freed: an entry's address stays unique for the cache's life, so callers
 * may key their own caches by it. */
#ifndef PYPROBE_READER_CODE_CACHE_H
#define PYPROBE_READER_CODE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "memory.h"
#include "reader.h"

struct pp_code_entry {
	uint64_t addr;
	struct pp_code code;     /* strings owned by the cache */
	uint8_t *linetable;
	size_t linetable_len;
	int firsttraceable;      /* 3.11+: first instruction that has run */
	int64_t ncodeunits;      /* bytecode length in code units */
	uint8_t identity[32];    /* the pointers that tell code objects apart */
	uint64_t epoch_used, epoch_read;
};

struct pp_code_types {
	uint64_t code, str, bytes; /* type object addresses; 0 = unchecked */
};

struct pp_code_cache;

struct pp_code_cache *pp_code_cache_new(const struct py_layout *l,
					const struct pp_code_types *types);
void pp_code_cache_free(struct pp_code_cache *c);

/* The code object at `addr`, read on first use. NULL if it is not a code
 * object (wrong type, unreadable, implausible fields). */
const struct pp_code_entry *pp_code_cache_get(struct pp_code_cache *c,
					      struct pp_mem *m, uint64_t addr);

/* A snapshot begins: entries it uses will be validated. */
void pp_code_cache_new_epoch(struct pp_code_cache *c);
/* Check every entry the snapshot used (and did not read fresh) against the
 * target. Returns how many were stale and retired - then the snapshot's
 * frames may name the wrong code and it must be read again - or -1 if the
 * check could not be read. */
int pp_code_cache_validate(struct pp_code_cache *c, struct pp_mem *m);

/* Number of entries (for tests and benchmarks). */
size_t pp_code_cache_size(const struct pp_code_cache *c);

#endif
