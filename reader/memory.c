/* Reading another process's memory: process_vm_readv, /proc/PID/mem as a
 * fallback, or a caller's callback for made-up address spaces. */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

void pp_mem_init_process(struct pp_mem *m, int pid)
{
	memset(m, 0, sizeof(*m));
	m->pid = pid;
	m->mem_fd = -1;
}

void pp_mem_init_callback(struct pp_mem *m, pp_mem_read_fn cb, void *ctx)
{
	memset(m, 0, sizeof(*m));
	m->mem_fd = -1;
	m->cb = cb;
	m->cb_ctx = ctx;
}

void pp_mem_close(struct pp_mem *m)
{
	if (m->mem_fd >= 0)
		close(m->mem_fd);
	m->mem_fd = -1;
}

/* An address range that cannot be user memory, or wraps: refuse it before
 * the kernel sees it, so corrupt pointers cost nothing. */
static int bad_range(uint64_t addr, size_t len)
{
	if (len > PP_MEM_MAX_READ)
		return -E2BIG;
	if (addr < 4096 || addr + len < addr || addr + len > (1ull << 47))
		return -EFAULT;
	return 0;
}

static int open_proc_mem(struct pp_mem *m)
{
	if (m->mem_fd >= 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", m->pid);
	m->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	return m->mem_fd >= 0 ? 0 : -errno;
}

static int read_proc_mem(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
	int rc = open_proc_mem(m);
	if (rc)
		return rc;
	m->syscalls++;
	ssize_t n = pread(m->mem_fd, buf, len, (off_t)addr);
	if (n < 0)
		return errno == EIO ? -EFAULT : -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

/* process_vm_readv returns a partial count when a later iovec faults; any
 * shortfall is a failed read here. ENOSYS/EPERM-by-seccomp style failures
 * switch the whole handle to /proc/PID/mem. */
static int vm_readv(struct pp_mem *m, const struct iovec *local,
		    const struct iovec *remote, size_t n, size_t total)
{
	m->syscalls++;
	ssize_t got = process_vm_readv(m->pid, local, n, remote, n, 0);
	if (got < 0)
		return -errno;
	return (size_t)got == total ? 0 : -EFAULT;
}

int pp_mem_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	int rc = bad_range(addr, len);
	if (rc)
		return rc;
	if (m->cb)
		return m->cb(m->cb_ctx, addr, buf, len);
	if (m->use_proc_mem)
		return read_proc_mem(m, addr, buf, len);
	struct iovec local = {buf, len};
	struct iovec remote = {(void *)(uintptr_t)addr, len};
	rc = vm_readv(m, &local, &remote, 1, len);
	if (rc == -ENOSYS) {
		m->use_proc_mem = 1;
		return read_proc_mem(m, addr, buf, len);
	}
	return rc;
}

int pp_mem_readv(struct pp_mem *m, const struct pp_iov *iov, size_t n)
{
	enum { BATCH = 64 }; /* well under IOV_MAX; keeps the stack small */
	for (size_t i = 0; i < n; i++) {
		int rc = bad_range(iov[i].addr, iov[i].len);
		if (rc)
			return rc;
	}
	if (m->cb || m->use_proc_mem) {
		for (size_t i = 0; i < n; i++) {
			int rc = pp_mem_read(m, iov[i].addr, iov[i].buf, iov[i].len);
			if (rc)
				return rc;
		}
		return 0;
	}
	for (size_t start = 0; start < n; start += BATCH) {
		struct iovec local[BATCH], remote[BATCH];
		size_t k = n - start < BATCH ? n - start : BATCH;
		size_t total = 0;
		for (size_t i = 0; i < k; i++) {
			local[i].iov_base = iov[start + i].buf;
			local[i].iov_len = iov[start + i].len;
			remote[i].iov_base = (void *)(uintptr_t)iov[start + i].addr;
			remote[i].iov_len = iov[start + i].len;
			total += iov[start + i].len;
		}
		int rc = vm_readv(m, local, remote, k, total);
		if (rc == -ENOSYS) {
			m->use_proc_mem = 1;
			return pp_mem_readv(m, iov + start, n - start);
		}
		if (rc)
			return rc;
	}
	return 0;
}

int pp_mem_read_u64(struct pp_mem *m, uint64_t addr, uint64_t *out)
{
	return pp_mem_read(m, addr, out, sizeof(*out));
}

int pp_mem_read_u32(struct pp_mem *m, uint64_t addr, uint32_t *out)
{
	return pp_mem_read(m, addr, out, sizeof(*out));
}
