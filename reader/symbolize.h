/* Program counter -> function, library, offset, source file and line, and
 * the functions inlined there, with libdw.
 *
 * The symboliser knows a process only by its mappings: which file is mapped
 * where. It is made from a live process's /proc/PID/maps
 * (pp_symbolizer_new_pid) or from the text of a maps file from anywhere
 * else (pp_symbolizer_new_maps); the files are then opened by the paths
 * the mappings name, as this process sees them (a chrooted target's
 * /proc/PID/maps already names them so) - or, for a core's mappings, by
 * whoever knows where they are and whether they are the right ones
 * (pp_symbolizer_new_files). DWARF comes from the file itself or from a separate debug file
 * found by build-id or debuglink under /usr/lib/debug (libdw's standard
 * search; debuginfod servers are asked only when DEBUGINFOD_URLS names
 * some, as libdw would, but without loading libdebuginfod when it names
 * none). Symbols come from .symtab, else .dynsym: a stripped program
 * still names its exported functions.
 *
 * Nothing here reads target memory except, for a live process, its vDSO.
 * Strings returned live until pp_symbolizer_free().
 */
#ifndef PYPROBE_READER_SYMBOLIZE_H
#define PYPROBE_READER_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One frame as a person reads it. A program counter gives one such frame,
 * or several when functions were inlined at it: the innermost inlined
 * function first, the function the machine code belongs to last. */
struct pp_native_sym {
	const char *function; /* NULL: no symbol covers the pc */
	const char *library;  /* the mapped file's path; NULL: in no file */
	uint64_t pc;          /* as given */
	/* pc relative to the library's load address: what addr2line -e
	 * LIBRARY takes (for a non-PIE executable, the pc itself). 0 when
	 * library is NULL. */
	uint64_t offset;
	const char *file;     /* source file, NULL unknown */
	int line;             /* 0 unknown */
	bool inlined;         /* inlined into the next entry */
};

struct pp_symbolizer;

/* The mappings of live process pid. NULL with a message in err (one line)
 * when its maps cannot be read. */
struct pp_symbolizer *pp_symbolizer_new_pid(int pid, char *err, size_t errlen);
/* The mappings in `maps`, in /proc/PID/maps format (read to its end; the
 * caller closes it). */
struct pp_symbolizer *pp_symbolizer_new_maps(FILE *maps, char *err, size_t errlen);

/* How a symboliser made by pp_symbolizer_new_files opens the file mapped
 * as `path`: a file descriptor the symboliser then owns, and in *shown
 * (malloc'd) the path frames name as their library; or -1 when the file
 * may not be read (its frames then name no function). */
typedef int (*pp_symbolizer_open_fn)(void *ctx, const char *path, char **shown);
/* The mappings in `maps`, as pp_symbolizer_new_maps, with each file opened
 * by `open` rather than by its path (a core's files: found under another
 * root, checked against the core first). ctx must outlive the
 * symboliser. */
struct pp_symbolizer *pp_symbolizer_new_files(FILE *maps, pp_symbolizer_open_fn open,
					      void *ctx, char *err, size_t errlen);
void pp_symbolizer_free(struct pp_symbolizer *s);

/* Symbolise pc into out[0..max): returns the number of entries written,
 * at least 1 when max >= 1 (an unknown pc is one entry with NULL function
 * and library). `caller`: pc is a return address (every frame but a
 * thread's innermost), so the call instruction before it is what is looked
 * up. Results are cached by pc. */
size_t pp_symbolize(struct pp_symbolizer *s, uint64_t pc, bool caller,
		    struct pp_native_sym *out, size_t max);

/* The unwind table of the file mapped at pc - its .eh_frame_hdr binary
 * search table, as the target's addresses: `table` the first entry,
 * `nentries` of them, each two signed 32-bit values relative to `hdr`
 * (the header's own address); [start, end) the file's mapped range. For
 * native_unwind.c, which finds a frame's unwind rules through it. 0, or -1
 * when pc is in no file or the file has no such table. */
int pp_symbolizer_unwind_table(struct pp_symbolizer *s, uint64_t pc, uint64_t *start,
			       uint64_t *end, uint64_t *hdr, uint64_t *table,
			       uint64_t *nentries);

/* The 8 bytes at target address addr, read from the file mapped there
 * rather than from the target, when addr lies in a read-only segment of
 * it (code, .eh_frame: the same bytes, without faulting the target's
 * pages in or a ptrace call per word). 0, or -1 when addr is in no such
 * segment (then read the target). */
int pp_symbolizer_read_static(struct pp_symbolizer *s, uint64_t addr, uint64_t *val);

#endif
