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
	struct pp_code code;     /* strings owned by the cache; NULL: unreadable */
	uint8_t *linetable;      /* NULL: unreadable */
	size_t linetable_len;
	int firsttraceable;      /* 3.11+: first instruction that has run */
	int64_t ncodeunits;      /* bytecode length in code units; -1 unknown */
	uint8_t identity[32];    /* the pointers that tell code objects apart */
	uint64_t epoch_used, epoch_read;
	/* The last instruction looked up and its line: a caller's position
	 * does not move while its callee runs, so sample after sample asks
	 * the same question. memo_unit starts at INT64_MIN (none). */
	int64_t memo_unit;
	int memo_line;
};

struct pp_code_types {
	uint64_t code, str, bytes; /* type object addresses; 0 = unchecked */
};

struct pp_code_cache;

struct pp_code_cache *pp_code_cache_new(const struct py_layout *l,
					const struct pp_code_types *types);
void pp_code_cache_free(struct pp_code_cache *c);

/* The code object at `addr`, read on first use. NULL if it is not a code
 * object (unreadable, wrong type, no references). Parts of it that cannot
 * be read are NULL in the entry (names, line table), not a reason to
 * refuse it. */
const struct pp_code_entry *pp_code_cache_get(struct pp_code_cache *c,
					      struct pp_mem *m, uint64_t addr);

/* A snapshot begins: entries it uses will be validated. */
void pp_code_cache_new_epoch(struct pp_code_cache *c);
/* Check every entry the snapshot used (and did not read fresh) against the
 * target. Returns how many were stale and retired - then the snapshot's
 * frames may name the wrong code and it must be read again - or -1 if the
 * check could not be read. */
int pp_code_cache_validate(struct pp_code_cache *c, struct pp_mem *m);
/* The same in two steps, so the reads can join another vectored read:
 * the reads to issue (buffers owned by the cache, valid until the judge),
 * then the judgement given the read's result (0, or an error: then the
 * entries are read one by one). Same return as pp_code_cache_validate. */
size_t pp_code_cache_check_reads(struct pp_code_cache *c, const struct pp_iov **iov);
int pp_code_cache_check_judge(struct pp_code_cache *c, struct pp_mem *m, int read_rc);

/* The entry a pp_code handed out by this cache belongs to. */
static inline const struct pp_code_entry *pp_code_entry_of(const struct pp_code *code)
{
	return (const struct pp_code_entry *)(const void *)
		((const char *)code - __builtin_offsetof(struct pp_code_entry, code));
}

/* The bytes of a code object that tell it apart (read at entry->addr + lo,
 * len bytes, compared with entry->identity). */
void pp_code_cache_identity_span(const struct pp_code_cache *c, uint32_t *lo, uint32_t *len);

/* Validate this snapshot's entries against identities read ahead, after
 * the frames that named them: ents (n, sorted by address in memory) and
 * their identities (n * len bytes, see above; an entry whose address is
 * now 0 has been retired and is skipped). Entries judged here need no
 * further check; the rest stay for pp_code_cache_validate (or the two-step
 * form). Returns how many were stale and retired, or -1. */
int pp_code_cache_judge_ahead(struct pp_code_cache *c,
			      const struct pp_code_entry *const *ents,
			      const uint8_t *ids, size_t n);
/* Entries still to be checked in this snapshot. */
size_t pp_code_cache_pending(const struct pp_code_cache *c);

/* Number of entries (for tests and benchmarks). */
size_t pp_code_cache_size(const struct pp_code_cache *c);

#endif
