/* An ELF core file (from gcore or the kernel) as a source of a process's
 * memory, maps and threads: what the live process's /proc and
 * process_vm_readv give, taken from the core instead. Knows ELF and Linux
 * cores, not Python.
 *
 * Memory comes from the core's PT_LOAD segments (the first p_filesz bytes
 * of each; the rest of p_memsz is not in the core). Memory the core leaves
 * out but that a file backs (NT_FILE: the kernel omits read-only text and
 * data of mapped files) is read from that file on disk - only after the
 * file was checked to be the one the process had mapped: its
 * NT_GNU_BUILD_ID against the build-id in the core's own copy of the
 * file's first page (the kernel dumps the ELF header page of every mapped
 * ELF for this), or, for an ELF without a build-id, that first page
 * itself. A file that fails the check is never read.
 */
#ifndef PYPROBE_READER_CORE_FILE_H
#define PYPROBE_READER_CORE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "elf_symbols.h"
#include "maps.h"
#include "reader.h"

/* x86_64 general registers in NT_PRSTATUS (struct user_regs_struct
 * order), kept for a native unwinder. */
enum pp_core_reg {
	PP_REG_R15, PP_REG_R14, PP_REG_R13, PP_REG_R12, PP_REG_RBP, PP_REG_RBX,
	PP_REG_R11, PP_REG_R10, PP_REG_R9, PP_REG_R8, PP_REG_RAX, PP_REG_RCX,
	PP_REG_RDX, PP_REG_RSI, PP_REG_RDI, PP_REG_ORIG_RAX, PP_REG_RIP, PP_REG_CS,
	PP_REG_EFLAGS, PP_REG_RSP, PP_REG_SS, PP_REG_FS_BASE, PP_REG_GS_BASE,
	PP_REG_DS, PP_REG_ES, PP_REG_FS, PP_REG_GS,
	PP_NREGS,
};

struct pp_core_thread {
	int tid;              /* pr_pid: the thread's id */
	int cursig;           /* pr_cursig: the signal it stopped on */
	uint64_t regs[PP_NREGS];
};

struct pp_core;

/* Where the files the core names are found on this machine. */
struct pp_core_paths {
	/* The executable to read instead of the one the core names (gone,
	 * or seen from another root). NULL: the core's. */
	const char *exe;
	/* A directory the core's paths are relative to (the root the process
	 * ran in, e.g. a chroot), or NULL for "/". --exe wins over it. */
	const char *root;
};

/* Open and parse a core. PP_OK, or PP_ERR_IO (unreadable, not a core,
 * truncated: `err` says which) or PP_ERR_NOT_PYTHON (a core of another
 * machine type). `paths` is copied. */
enum pp_err pp_core_open(const char *path, const struct pp_core_paths *paths,
			 struct pp_core **out, struct pp_error *err);
void pp_core_close(struct pp_core *c);

int pp_core_pid(const struct pp_core *c);
/* The command line as the core has it (the kernel keeps its first 80
 * bytes, arguments joined by spaces); "" if none. */
const char *pp_core_cmdline(const struct pp_core *c);
/* The executable's path as the core names it (NT_FILE mapping of the
 * entry point, else AT_EXECFN), or NULL. */
const char *pp_core_exe(const struct pp_core *c);

size_t pp_core_nthreads(const struct pp_core *c);
const struct pp_core_thread *pp_core_thread(const struct pp_core *c, size_t i);

/* The memory backend (a pp_mem_read_fn; ctx is the core): all or
 * nothing, 0 or a negative errno: -EFAULT not in the core nor in a file
 * it names, -ESTALE the file on disk is not the one mapped, -EIO. */
int pp_core_read(void *ctx, uint64_t addr, void *buf, size_t len);

/* The mappings, as /proc/PID/maps would list the files (NT_FILE): paths
 * as the core names them, inode 0. 0 or -ENOMEM. */
int pp_core_maps(const struct pp_core *c, struct pp_maps *out);

/* Open a file the core names (by the core's path), once it checked out
 * against the core. 0, or a negative errno with the reason in
 * pp_core_error(): -ENOENT not found, -ESTALE not the file the process
 * had mapped, -ENODATA the core holds nothing to check it against. */
int pp_core_open_elf(struct pp_core *c, const char *core_path, struct pp_elf **out);

/* The same file as a file descriptor of its own (O_CLOEXEC; the caller
 * closes it) and, in *disk_path (the core's, valid until
 * pp_core_close), where it was found: for a symboliser. A negative errno
 * as pp_core_open_elf's. */
int pp_core_open_fd(struct pp_core *c, const char *core_path, const char **disk_path);

/* The last file problem as one line (no "pyprobe: "), and its class:
 * PP_ERR_IO, or PP_OK if there was none. */
const char *pp_core_error(const struct pp_core *c);
enum pp_err pp_core_error_code(const struct pp_core *c);

#endif
