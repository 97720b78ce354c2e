/* Reading another process's memory.
 *
 * Every read is bounded (PP_MEM_MAX_READ) and every failure is a value: a
 * negative errno (-EFAULT unmapped, -ESRCH gone, -EPERM/-EACCES no right,
 * -EIO short read). Nothing here ever writes to the target.
 *
 * Two backends: a live process (process_vm_readv, falling back to
 * /proc/PID/mem), and a callback, used by tests and fuzzers to feed the
 * walker made-up memory.
 */
#ifndef PYPROBE_READER_MEMORY_H
#define PYPROBE_READER_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/* Largest single read we ever issue; anything asking for more is a bug or
 * corrupt memory and fails with -E2BIG. */
#define PP_MEM_MAX_READ (64u << 20)

struct pp_iov {
	uint64_t addr;
	void *buf;
	size_t len;
};

struct pp_mem;
/* Read len bytes at addr into buf. All or nothing: 0, or a negative errno. */
typedef int (*pp_mem_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

struct pp_mem {
	int pid;             /* 0 for the callback backend */
	int mem_fd;          /* /proc/PID/mem, opened on first fallback; -1 */
	int use_proc_mem;    /* process_vm_readv unavailable: use mem_fd */
	pp_mem_read_fn cb;   /* callback backend */
	void *cb_ctx;
	uint64_t syscalls;   /* reads issued to the kernel (for benchmarks) */
	/* scratch of pp_mem_readv_phased, kept between calls */
	struct pp_merge_scratch *merge;
};

/* A live process. Opens nothing yet; cannot fail. */
void pp_mem_init_process(struct pp_mem *m, int pid);
/* A made-up address space, served by cb. */
void pp_mem_init_callback(struct pp_mem *m, pp_mem_read_fn cb, void *ctx);
void pp_mem_close(struct pp_mem *m);

int pp_mem_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len);
/* Several reads, one syscall where the backend allows. All or nothing. */
int pp_mem_readv(struct pp_mem *m, const struct pp_iov *iov, size_t n);

/* Many small reads that often lie close together (fields of one struct,
 * frames of one stack), in phases: iov[0, phase_end[0]) is read before
 * iov[phase_end[0], phase_end[1]), and so on, all in as few system calls
 * as the kernel's iovec limit allows, so a later phase sees the target at
 * a later moment. Within a phase, ranges less than a page apart are read
 * as one and copied out: the kernel pins pages per range, so this costs
 * far less than one range per field, and never reads a page the ranges
 * themselves do not touch (a gap of at most a page lies within their
 * pages). Nothing merges across phases. Ranges may overlap. All or
 * nothing. */
int pp_mem_readv_phased(struct pp_mem *m, const struct pp_iov *iov,
			const size_t *phase_end, size_t nphases);

/* Convenience: a pointer-sized / 32-bit value. */
int pp_mem_read_u64(struct pp_mem *m, uint64_t addr, uint64_t *out);
int pp_mem_read_u32(struct pp_mem *m, uint64_t addr, uint32_t *out);

/* Copy a little-endian value out of a local buffer at a byte offset, with a
 * bounds check: returns 0 if [off, off+size) lies outside [0, len). */
static inline uint64_t pp_get_u64(const void *buf, size_t len, size_t off)
{
	uint64_t v = 0;
	if (off <= len && len - off >= 8)
		__builtin_memcpy(&v, (const char *)buf + off, 8);
	return v;
}
static inline uint32_t pp_get_u32(const void *buf, size_t len, size_t off)
{
	uint32_t v = 0;
	if (off <= len && len - off >= 4)
		__builtin_memcpy(&v, (const char *)buf + off, 4);
	return v;
}
static inline uint8_t pp_get_u8(const void *buf, size_t len, size_t off)
{
	return off < len ? ((const uint8_t *)buf)[off] : 0;
}

#endif
