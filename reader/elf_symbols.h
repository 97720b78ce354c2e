/* One ELF file on disk (the target's executable or libpython): symbols,
 * sections and where it was loaded. libelf does the parsing. */
#ifndef PYPROBE_READER_ELF_SYMBOLS_H
#define PYPROBE_READER_ELF_SYMBOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "maps.h"

struct pp_elf;

/* 0, or a negative errno (-ENOEXEC: not an ELF we understand). */
int pp_elf_open(const char *path, struct pp_elf **out);
void pp_elf_close(struct pp_elf *e);

/* The symbol's link-time value (add the load bias) from .dynsym, else
 * .symtab. 0 or -ENOENT. `size` may be NULL. */
int pp_elf_symbol(const struct pp_elf *e, const char *name, uint64_t *value,
		  uint64_t *size);
/* A section's link-time address and size. 0 or -ENOENT. */
int pp_elf_section(const struct pp_elf *e, const char *name, uint64_t *addr,
		   uint64_t *size);
/* Read up to `len` bytes of a section's file contents (not for NOBITS). */
int pp_elf_section_bytes(const struct pp_elf *e, const char *name,
			 void *buf, uint64_t len);
/* The opened file's identity (fstat): 0, or a negative errno. */
int pp_elf_identity(const struct pp_elf *e, unsigned *dev_major,
		    unsigned *dev_minor, uint64_t *inode);
/* ET_EXEC: 0. ET_DYN: where its first mapping (file offset 0) starts, less
 * the first PT_LOAD's aligned p_vaddr. `first` is that mapping. */
uint64_t pp_elf_load_bias(const struct pp_elf *e, const struct pp_map *first);

#endif
