/* Reading another process's memory: process_vm_readv, /proc/PID/mem as a
 * fallback, or a caller's callback for made-up address spaces. */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
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

struct pp_merge_scratch {
	uint32_t *order;       /* iov indices by address */
	struct pp_iov *ranges; /* merged */
	size_t *range_of;      /* per iov (by order position): its range */
	size_t *members;       /* per range: how many iovs it covers */
	size_t cap;
	uint8_t *buf;
	size_t bufcap;
};

void pp_mem_close(struct pp_mem *m)
{
	if (m->mem_fd >= 0)
		close(m->mem_fd);
	m->mem_fd = -1;
	if (m->merge) {
		free(m->merge->order);
		free(m->merge->ranges);
		free(m->merge->range_of);
		free(m->merge->members);
		free(m->merge->buf);
		free(m->merge);
		m->merge = NULL;
	}
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
	enum { BATCH = 256 }; /* under IOV_MAX; keeps the stack small */
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

/* A gap of at most a page lies within the pages of its two neighbours,
 * so reading it never touches memory the ranges themselves do not. */
#define MERGE_GAP 4096

static int merge_room(struct pp_mem *m, size_t n)
{
	if (!m->merge && !(m->merge = calloc(1, sizeof(*m->merge))))
		return -ENOMEM;
	struct pp_merge_scratch *ms = m->merge;
	if (n <= ms->cap)
		return 0;
	uint32_t *o = realloc(ms->order, n * sizeof(*o));
	if (o)
		ms->order = o;
	struct pp_iov *r = realloc(ms->ranges, n * sizeof(*r));
	if (r)
		ms->ranges = r;
	size_t *ro = realloc(ms->range_of, n * sizeof(*ro));
	if (ro)
		ms->range_of = ro;
	size_t *mb = realloc(ms->members, n * sizeof(*mb));
	if (mb)
		ms->members = mb;
	if (!o || !r || !ro || !mb)
		return -ENOMEM;
	ms->cap = n;
	return 0;
}

static int by_addr(const void *a, const void *b, void *ctx)
{
	const struct pp_iov *iov = ctx;
	uint64_t x = iov[*(const uint32_t *)a].addr, y = iov[*(const uint32_t *)b].addr;
	return x < y ? -1 : x > y;
}

/* Past this many ranges a phase is sorted with qsort: insertion sort is
 * quadratic, and a deep stack's frames (a hundred thousand) are not in
 * order. */
#define INSERTION_MAX 64

int pp_mem_readv_phased(struct pp_mem *m, const struct pp_iov *iov,
			const size_t *phase_end, size_t nphases)
{
	size_t n = nphases ? phase_end[nphases - 1] : 0;
	if (m->cb || m->use_proc_mem || n > UINT32_MAX || merge_room(m, n ? n : 1) != 0)
		return pp_mem_readv(m, iov, n);
	struct pp_merge_scratch *ms = m->merge;
	for (size_t i = 0; i < n; i++) {
		int rc = bad_range(iov[i].addr, iov[i].len);
		if (rc)
			return rc;
	}
	size_t nr = 0, total = 0, start = 0;
	for (size_t ph = 0; ph < nphases; ph++) {
		size_t end_i = phase_end[ph];
		if (end_i < start || end_i > n)
			return -EINVAL;
		/* Sort by address within the phase: mostly tens of ranges,
		 * mostly in order already. */
		if (end_i - start > INSERTION_MAX) {
			for (size_t i = start; i < end_i; i++)
				ms->order[i] = (uint32_t)i;
			qsort_r(ms->order + start, end_i - start, sizeof(*ms->order), by_addr,
				(void *)iov);
		} else {
			for (size_t i = start; i < end_i; i++) {
				size_t j = i;
				while (j > start && iov[ms->order[j - 1]].addr > iov[i].addr) {
					ms->order[j] = ms->order[j - 1];
					j--;
				}
				ms->order[j] = (uint32_t)i;
			}
		}
		size_t first_range = nr;
		uint64_t end = 0;
		for (size_t k = start; k < end_i; k++) {
			const struct pp_iov *v = &iov[ms->order[k]];
			uint64_t vend = v->addr + v->len;
			if (nr > first_range && v->addr <= end + MERGE_GAP) {
				ms->members[nr - 1]++;
				if (vend > end) {
					total += vend - end;
					end = vend;
					ms->ranges[nr - 1].len = end - ms->ranges[nr - 1].addr;
				}
			} else {
				/* read straight into the caller's buffer unless
				 * another iov joins it */
				ms->ranges[nr] = (struct pp_iov){v->addr, v->buf, v->len};
				ms->members[nr++] = 1;
				total += v->len;
				end = vend;
			}
			ms->range_of[k] = nr - 1;
		}
		start = end_i;
	}
	/* Merged, the gaps between many scattered ranges (a deep stack of
	 * heap frames) can add up past the cap: read them as they are. */
	if (total > PP_MEM_MAX_READ)
		return pp_mem_readv(m, iov, n);
	/* Only merged ranges go through the bounce buffer. */
	size_t bounce = 0;
	for (size_t r = 0; r < nr; r++)
		if (ms->members[r] > 1)
			bounce += ms->ranges[r].len;
	if (bounce > ms->bufcap) {
		uint8_t *b = realloc(ms->buf, bounce);
		if (!b)
			return -ENOMEM;
		ms->buf = b;
		ms->bufcap = bounce;
	}
	size_t off = 0;
	for (size_t r = 0; r < nr; r++)
		if (ms->members[r] > 1) {
			ms->ranges[r].buf = ms->buf + off;
			off += ms->ranges[r].len;
		}
	int rc = pp_mem_readv(m, ms->ranges, nr);
	if (rc)
		return rc;
	for (size_t k = 0; k < n; k++) {
		const struct pp_iov *v = &iov[ms->order[k]];
		const struct pp_iov *r = &ms->ranges[ms->range_of[k]];
		if (ms->members[ms->range_of[k]] > 1)
			memcpy(v->buf, (const uint8_t *)r->buf + (v->addr - r->addr), v->len);
	}
	return 0;
}
