/* ELF core files: segments, notes, and the files they name. libelf parses
 * the headers and notes; memory is read with pread (never mmap: a core
 * cut short, or one that shrinks while read, must be an error, not a
 * SIGBUS). */
#include "core_file.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NT_FILE
#define NT_FILE 0x46494c45
#endif
#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* Bounds on what a core may claim, so a corrupt one cannot make us
 * allocate without limit. Real cores have hundreds of segments and a few
 * thousand threads. */
#define MAX_SEGMENTS (1u << 20)
#define MAX_NOTES_BYTES (256u << 20)
#define MAX_THREADS (1u << 20)
#define MAX_BUILD_ID 64
#define HEADER_PAGE 4096

/* x86_64 struct elf_prstatus: pr_cursig at 12, pr_pid at 32, pr_reg at 112. */
#define PRSTATUS_CURSIG 12
#define PRSTATUS_PID 32
#define PRSTATUS_REGS 112
/* struct elf_prpsinfo: pr_pid at 24, pr_fname[16] at 40, pr_psargs[80] at 56. */
#define PRPSINFO_PID 24
#define PRPSINFO_FNAME 40
#define PRPSINFO_PSARGS 56
#define PSARGS_LEN 80

#define AT_ENTRY_ 9
#define AT_EXECFN_ 31

struct segment {
	uint64_t vaddr, memsz, filesz, offset;
	uint32_t flags;
};

enum file_state { FILE_UNCHECKED = 0, FILE_GOOD, FILE_BAD };

struct core_file {
	char *core_path;  /* as the core names it */
	char *disk_path;  /* where we look for it */
	int fd;           /* once FILE_GOOD */
	enum file_state state;
	int bad_rc;       /* FILE_BAD: the errno to return */
};

struct file_map {
	uint64_t start, end, pgoff; /* pgoff in bytes */
	size_t file;                /* index into files */
};

struct pp_core {
	char *path;
	int fd;
	uint64_t size;
	struct segment *seg; /* sorted by vaddr */
	size_t nseg;
	struct file_map *maps; /* sorted by start */
	size_t nmaps;
	struct core_file *files;
	size_t nfiles;
	struct pp_core_thread *threads;
	size_t nthreads;
	int pid;
	char cmdline[PSARGS_LEN + 1];
	char *argv_line;     /* argv read back from the stack, or NULL */
	uint8_t auxv[64];    /* the auxiliary vector's start, to find it in memory */
	size_t auxv_len;
	char *exe;
	uint64_t at_entry, at_execfn;
	char *opt_exe, *opt_root;
	struct pp_error last; /* last file problem */
};

/* ---- small helpers -------------------------------------------------------- */

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void set_last(struct pp_core *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_last(struct pp_core *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->last.msg, sizeof(c->last.msg), fmt, ap);
	va_end(ap);
	c->last.code = PP_ERR_IO;
}

static enum pp_err fail(struct pp_error *err, enum pp_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum pp_err fail(struct pp_error *err, enum pp_err code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
		err->starting = false;
	}
	return code;
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -EIO;
		}
		if (n == 0)
			return -EFAULT; /* past the end */
		got += (size_t)n;
	}
	return 0;
}

/* ---- notes --------------------------------------------------------------- */

static int add_thread(struct pp_core *c, const uint8_t *d, size_t len, size_t *cap)
{
	if (len < PRSTATUS_REGS + PP_NREGS * 8 || c->nthreads >= MAX_THREADS)
		return 0; /* not one we can read: leave it out */
	if (c->nthreads == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct pp_core_thread *t = realloc(c->threads, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->threads = t;
		*cap = n;
	}
	struct pp_core_thread *t = &c->threads[c->nthreads++];
	int16_t sig;
	memcpy(&sig, d + PRSTATUS_CURSIG, 2);
	t->cursig = sig;
	t->tid = (int)rd32(d + PRSTATUS_PID);
	for (int i = 0; i < PP_NREGS; i++)
		t->regs[i] = rd64(d + PRSTATUS_REGS + 8 * (size_t)i);
	return 0;
}

static void read_psinfo(struct pp_core *c, const uint8_t *d, size_t len)
{
	if (len < PRPSINFO_PSARGS + PSARGS_LEN)
		return;
	c->pid = (int)rd32(d + PRPSINFO_PID);
	memcpy(c->cmdline, d + PRPSINFO_PSARGS, PSARGS_LEN);
	c->cmdline[PSARGS_LEN] = '\0';
	/* the kernel pads with NULs and may leave a trailing space */
	size_t n = strlen(c->cmdline);
	while (n && c->cmdline[n - 1] == ' ')
		c->cmdline[--n] = '\0';
	if (!n) {
		memcpy(c->cmdline, d + PRPSINFO_FNAME, 16);
		c->cmdline[16] = '\0';
	}
}

static void read_auxv(struct pp_core *c, const uint8_t *d, size_t len)
{
	c->auxv_len = len < sizeof(c->auxv) ? len & ~(size_t)7 : sizeof(c->auxv);
	memcpy(c->auxv, d, c->auxv_len);
	for (size_t i = 0; i + 16 <= len; i += 16) {
		uint64_t type = rd64(d + i), val = rd64(d + i + 8);
		if (type == AT_ENTRY_)
			c->at_entry = val;
		else if (type == AT_EXECFN_)
			c->at_execfn = val;
		else if (type == 0)
			break;
	}
}

static int file_index(struct pp_core *c, const char *name, size_t *cap, size_t *out)
{
	for (size_t i = 0; i < c->nfiles; i++)
		if (strcmp(c->files[i].core_path, name) == 0) {
			*out = i;
			return 0;
		}
	if (c->nfiles == *cap) {
		size_t n = *cap ? *cap * 2 : 32;
		struct core_file *f = realloc(c->files, n * sizeof(*f));
		if (!f)
			return -ENOMEM;
		c->files = f;
		*cap = n;
	}
	struct core_file *f = &c->files[c->nfiles];
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (!(f->core_path = strdup(name)))
		return -ENOMEM;
	*out = c->nfiles++;
	return 0;
}

/* NT_FILE: count, page size, count x (start, end, page offset), then
 * count NUL-terminated names. */
static int read_nt_file(struct pp_core *c, const uint8_t *d, size_t len)
{
	if (len < 16 || c->nmaps)
		return 0;
	uint64_t count = rd64(d), page = rd64(d + 8);
	if (count == 0 || count > (len - 16) / 24 || page == 0 || page > (1u << 30))
		return 0;
	struct file_map *m = calloc(count, sizeof(*m));
	if (!m)
		return -ENOMEM;
	size_t cap = 0;
	const char *name = (const char *)d + 16 + count * 24, *end = (const char *)d + len;
	size_t n = 0;
	for (uint64_t i = 0; i < count && name < end; i++) {
		const uint8_t *e = d + 16 + i * 24;
		const char *nul = memchr(name, '\0', (size_t)(end - name));
		if (!nul)
			break;
		uint64_t start = rd64(e), stop = rd64(e + 8), pg = rd64(e + 16);
		if (start < stop && pg <= UINT64_MAX / page) {
			size_t fi;
			if (file_index(c, name, &cap, &fi) != 0) {
				free(m);
				return -ENOMEM;
			}
			m[n++] = (struct file_map){start, stop, pg * page, fi};
		}
		name = nul + 1;
	}
	c->maps = m;
	c->nmaps = n;
	return 0;
}

static int read_notes(struct pp_core *c, Elf *elf, const GElf_Phdr *ph, size_t *tcap)
{
	if (ph->p_filesz == 0 || ph->p_filesz > MAX_NOTES_BYTES)
		return 0;
	Elf_Data *data = elf_getdata_rawchunk(elf, (int64_t)ph->p_offset, ph->p_filesz, ELF_T_NHDR);
	if (!data || !data->d_buf)
		return 0;
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nh;
	while (off < data->d_size &&
	       (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		if (desc_off > data->d_size || nh.n_descsz > data->d_size - desc_off ||
		    name_off > data->d_size || nh.n_namesz > data->d_size - name_off)
			break;
		const char *nm = (const char *)data->d_buf + name_off;
		if (nh.n_namesz != 5 || memcmp(nm, "CORE", 5) != 0)
			continue;
		const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
		int rc = 0;
		switch (nh.n_type) {
		case NT_PRSTATUS: rc = add_thread(c, desc, nh.n_descsz, tcap); break;
		case NT_PRPSINFO: read_psinfo(c, desc, nh.n_descsz); break;
		case NT_AUXV: read_auxv(c, desc, nh.n_descsz); break;
		case NT_FILE: rc = read_nt_file(c, desc, nh.n_descsz); break;
		default: break;
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- segments ------------------------------------------------------------ */

static int by_vaddr(const void *a, const void *b)
{
	uint64_t x = ((const struct segment *)a)->vaddr, y = ((const struct segment *)b)->vaddr;
	return (x > y) - (x < y);
}

static int by_start(const void *a, const void *b)
{
	uint64_t x = ((const struct file_map *)a)->start, y = ((const struct file_map *)b)->start;
	return (x > y) - (x < y);
}

/* The index of the first segment that starts after addr. */
static size_t segment_after(const struct pp_core *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nseg;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->seg[mid].vaddr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The segment holding addr, or NULL. */
static const struct segment *segment_at(const struct pp_core *c, uint64_t addr)
{
	size_t after = segment_after(c, addr);
	if (after == 0)
		return NULL;
	const struct segment *s = &c->seg[after - 1];
	return addr - s->vaddr < s->memsz ? s : NULL;
}

static const struct file_map *map_at(const struct pp_core *c, uint64_t addr)
{
	size_t lo = 0, hi = c->nmaps;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct file_map *m = &c->maps[lo - 1];
	return addr < m->end ? m : NULL;
}

/* Bytes the core itself holds, and nothing else (the check of a file on
 * disk must not read that file). */
static int read_core_only(const struct pp_core *c, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	while (len) {
		const struct segment *s = segment_at(c, addr);
		if (!s)
			return -EFAULT;
		uint64_t off = addr - s->vaddr;
		if (off >= s->filesz)
			return -EFAULT;
		size_t n = s->filesz - off < len ? (size_t)(s->filesz - off) : len;
		int rc = full_pread(c->fd, out, n, s->offset + off);
		if (rc)
			return rc == -EFAULT ? -EIO : rc; /* checked at open: it shrank */
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* ---- files on disk ------------------------------------------------------- */

/* The build-id in one ELF note area; its length, or 0. */
static size_t find_build_id(const uint8_t *p, size_t len, uint8_t out[MAX_BUILD_ID])
{
	size_t off = 0;
	while (off + 12 <= len) {
		uint32_t namesz = rd32(p + off), descsz = rd32(p + off + 4), type = rd32(p + off + 8);
		size_t name_at = off + 12;
		size_t name_pad = ((size_t)namesz + 3) & ~(size_t)3;
		size_t desc_pad = ((size_t)descsz + 3) & ~(size_t)3;
		if (namesz > len || descsz > len || name_pad > len - name_at ||
		    desc_pad > len - name_at - name_pad)
			return 0;
		size_t desc_at = name_at + name_pad;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(p + name_at, "GNU", 4) == 0 &&
		    descsz > 0 && descsz <= MAX_BUILD_ID) {
			memcpy(out, p + desc_at, descsz);
			return descsz;
		}
		off = desc_at + desc_pad;
	}
	return 0;
}

/* What the core holds of a file's identity: the ELF header page of its
 * first mapping (file offset 0), and the build-id it points to. */
struct identity {
	uint8_t page[HEADER_PAGE];
	size_t page_len;       /* 0: the core has no copy of the header */
	uint8_t id[MAX_BUILD_ID];
	size_t id_len;
	bool elf;
};

static void core_identity(const struct pp_core *c, size_t file, struct identity *out)
{
	memset(out, 0, sizeof(*out));
	const struct file_map *first = NULL;
	for (size_t i = 0; i < c->nmaps; i++)
		if (c->maps[i].file == file && c->maps[i].pgoff == 0) {
			first = &c->maps[i];
			break;
		}
	if (!first)
		return;
	size_t want = first->end - first->start < HEADER_PAGE ? (size_t)(first->end - first->start)
							       : HEADER_PAGE;
	/* The page, or as much of its start as the core holds. */
	while (want >= 64 && read_core_only(c, first->start, out->page, want) != 0)
		want /= 2;
	if (want < 64)
		return;
	out->page_len = want;
	const uint8_t *h = out->page;
	if (memcmp(h, ELFMAG, SELFMAG) != 0 || h[EI_CLASS] != ELFCLASS64)
		return;
	out->elf = true;
	uint64_t phoff = rd64(h + 32);
	uint16_t phentsize, phnum;
	memcpy(&phentsize, h + 54, 2);
	memcpy(&phnum, h + 56, 2);
	if (phentsize != sizeof(Elf64_Phdr) || phnum == 0 || phnum > 512)
		return;
	Elf64_Phdr ph[512];
	if (read_core_only(c, first->start + phoff, ph, (size_t)phnum * sizeof(ph[0])) != 0)
		return;
	uint64_t bias = 0;
	bool have_bias = false;
	for (size_t i = 0; i < phnum && !have_bias; i++)
		if (ph[i].p_type == PT_LOAD) {
			uint64_t align = ph[i].p_align > 1 ? ph[i].p_align : 1;
			bias = first->start - (ph[i].p_vaddr & ~(align - 1)) +
			       (ph[i].p_offset & ~(align - 1));
			have_bias = true;
		}
	for (size_t i = 0; i < phnum && have_bias; i++) {
		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0)
			continue;
		uint8_t note[HEADER_PAGE];
		size_t n = ph[i].p_filesz < sizeof(note) ? (size_t)ph[i].p_filesz : sizeof(note);
		if (read_core_only(c, bias + ph[i].p_vaddr, note, n) != 0)
			continue;
		out->id_len = find_build_id(note, n, out->id);
		if (out->id_len)
			return;
	}
}

/* The same from the file on disk. */
static void disk_identity(int fd, struct identity *out)
{
	memset(out, 0, sizeof(*out));
	ssize_t got = pread(fd, out->page, sizeof(out->page), 0);
	out->page_len = got > 0 ? (size_t)got : 0;
	if (out->page_len < SELFMAG || memcmp(out->page, ELFMAG, SELFMAG) != 0)
		return;
	out->elf = true;
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return;
	size_t nph = 0;
	if (elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &nph) == 0) {
		for (size_t i = 0; i < nph && !out->id_len; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE ||
			    ph.p_filesz == 0 || ph.p_filesz > (1u << 20))
				continue;
			Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
							   ELF_T_BYTE);
			if (d && d->d_buf)
				out->id_len = find_build_id(d->d_buf, d->d_size, out->id);
		}
	}
	elf_end(elf);
}

static void hex(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k + 3 <= cap; i++)
		k += (size_t)snprintf(out + k, cap - k, "%02x", p[i]);
	if (cap)
		out[k < cap ? k : cap - 1] = '\0';
}

static bool is_exe(const struct pp_core *c, const struct core_file *f)
{
	return c->exe && strcmp(f->core_path, c->exe) == 0;
}

/* Where a file the core names is looked for, and the option that moves it. */
static int disk_path_of(const struct pp_core *c, const struct core_file *f, char **out)
{
	if (c->opt_exe && is_exe(c, f))
		*out = strdup(c->opt_exe);
	else if (c->opt_root) {
		size_t n = strlen(c->opt_root) + strlen(f->core_path) + 2;
		*out = malloc(n);
		if (*out)
			snprintf(*out, n, "%s/%s", c->opt_root, f->core_path + (f->core_path[0] == '/'));
	} else
		*out = strdup(f->core_path);
	return *out ? 0 : -ENOMEM;
}

static const char *how_to_point(const struct pp_core *c, const struct core_file *f)
{
	return is_exe(c, f) ? "give the executable the process ran with --exe PYTHON"
			    : "give the root the process ran in with --root DIR";
}

/* Open f and check it against the core, once. */
static int check_file(struct pp_core *c, struct core_file *f)
{
	if (f->state == FILE_GOOD)
		return 0;
	if (f->state == FILE_BAD)
		return f->bad_rc;
	f->state = FILE_BAD;
	f->bad_rc = -ENOMEM;
	if (!f->disk_path && disk_path_of(c, f, &f->disk_path) != 0)
		return -ENOMEM;
	int fd = open(f->disk_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		f->bad_rc = -ENOENT;
		set_last(c, "cannot open %s, which the core %s names: %s; %s", f->disk_path,
			 c->path, strerror(errno), how_to_point(c, f));
		return f->bad_rc;
	}
	struct identity *core = malloc(sizeof(*core)), *disk = malloc(sizeof(*disk));
	if (!core || !disk) {
		free(core);
		free(disk);
		close(fd);
		return -ENOMEM;
	}
	core_identity(c, (size_t)(f - c->files), core);
	disk_identity(fd, disk);
	char a[2 * MAX_BUILD_ID + 1], b[2 * MAX_BUILD_ID + 1];
	int rc = 0;
	if (!core->page_len) {
		rc = -ENODATA;
		set_last(c, "the core %s has no copy of the start of %s, so the file on disk "
			 "cannot be checked against it; take the core with the ELF headers of "
			 "mapped files in it (coredump_filter bit 4, on by default)", c->path,
			 f->core_path);
	} else if (core->id_len && disk->id_len) {
		if (core->id_len != disk->id_len || memcmp(core->id, disk->id, core->id_len) != 0) {
			rc = -ESTALE;
			hex(core->id, core->id_len, a, sizeof(a));
			hex(disk->id, disk->id_len, b, sizeof(b));
			set_last(c, "%s is not the file the process had mapped as %s (build-id %s "
				 "on disk, %s in the core %s); %s", f->disk_path, f->core_path,
				 disk->id_len ? b : "none", core->id_len ? a : "none", c->path,
				 how_to_point(c, f));
		}
	} else if (core->page_len > disk->page_len ||
		   memcmp(core->page, disk->page, core->page_len) != 0) {
		/* No build-id on one side (or its note not in the core's
		 * copy): the header page itself must match. */
		rc = -ESTALE;
		set_last(c, "%s is not the file the process had mapped as %s (its first page "
			 "differs from the core's copy of it); %s",
			 f->disk_path, f->core_path, how_to_point(c, f));
	}
	free(core);
	free(disk);
	if (rc) {
		close(fd);
		f->bad_rc = rc;
		return rc;
	}
	f->fd = fd;
	f->state = FILE_GOOD;
	f->bad_rc = 0;
	return 0;
}

/* A part of one file mapping the core left out: from the file. */
static int read_file_backed(struct pp_core *c, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	while (len) {
		const struct file_map *m = map_at(c, addr);
		if (!m)
			return -EFAULT;
		size_t n = m->end - addr < len ? (size_t)(m->end - addr) : len;
		int rc = check_file(c, &c->files[m->file]);
		if (rc)
			return rc == -ENOMEM ? -ENOMEM : rc == -ESTALE ? -ESTALE : -EFAULT;
		uint64_t off = m->pgoff + (addr - m->start);
		if (off < m->pgoff)
			return -EFAULT;
		/* past the file's end a process would get SIGBUS: not memory */
		rc = full_pread(c->files[m->file].fd, out, n, off);
		if (rc)
			return rc == -EIO ? -EIO : -EFAULT;
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int pp_core_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct pp_core *c = ctx;
	uint8_t *out = buf;
	while (len) {
		const struct segment *s = segment_at(c, addr);
		int rc;
		if (!s) {
			/* gcore leaves a mapping it does not dump out of the
			 * segments altogether (the kernel writes it with no
			 * bytes): it may still be a file's. */
			size_t next = segment_after(c, addr);
			uint64_t gap = next < c->nseg ? c->seg[next].vaddr - addr : UINT64_MAX;
			size_t n = gap < len ? (size_t)gap : len;
			rc = read_file_backed(c, addr, out, n);
			if (rc)
				return rc;
			out += n;
			addr += n;
			len -= n;
			continue;
		}
		uint64_t off = addr - s->vaddr;
		size_t n = s->memsz - off < len ? (size_t)(s->memsz - off) : len;
		if (off < s->filesz) {
			n = s->filesz - off < n ? (size_t)(s->filesz - off) : n;
			rc = full_pread(c->fd, out, n, s->offset + off);
			if (rc == -EFAULT)
				rc = -EIO; /* checked at open: the core shrank since */
		} else {
			rc = read_file_backed(c, addr, out, n);
		}
		if (rc)
			return rc;
		out += n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* ---- the command line ---------------------------------------------------- */

/* The whole command line, as /proc/PID/cmdline gives it of a live
 * process: the notes keep at most 80 bytes of it (gcore: only argv[0]),
 * but the process's stack holds argc, argv[], NULL, envp[], NULL and the
 * auxiliary vector, in that order, below the strings AT_EXECFN points
 * into. Find the auxiliary vector there (the note's copy of it), step
 * back over envp to argv's NULL, then over argv to the word that counts
 * it. Anything that does not fit leaves the notes' version. */
#define STACK_SCAN (256u << 10)
#define CMDLINE_MAX (64u << 10)

static void read_argv(struct pp_core *c)
{
	if (!c->at_execfn || c->auxv_len < 32)
		return;
	const struct segment *s = segment_at(c, c->at_execfn);
	if (!s || s->filesz == 0)
		return;
	/* the vector lies below the strings, within the dumped stack */
	uint64_t hi = c->at_execfn - s->vaddr < s->filesz ? c->at_execfn : s->vaddr + s->filesz;
	uint64_t lo = hi - s->vaddr > STACK_SCAN ? hi - STACK_SCAN : s->vaddr;
	lo = (lo + 7) & ~(uint64_t)7;
	if (hi <= lo + 64)
		return;
	size_t n = (size_t)(hi - lo) / 8;
	uint64_t *w = malloc(n * 8);
	if (!w || read_core_only(c, lo, w, n * 8) != 0) {
		free(w);
		return;
	}
	size_t at = 0;
	for (size_t i = 1; i + c->auxv_len / 8 <= n && !at; i++)
		if (memcmp(&w[i], c->auxv, c->auxv_len) == 0)
			at = i;
	/* at: auxv; at-1: envp's NULL; then envp; then argv's NULL */
	size_t k = at ? at - 1 : 0;
	if (!at || w[k] != 0) {
		free(w);
		return;
	}
	while (k > 0 && w[k - 1] != 0)
		k--; /* envp */
	if (k == 0) {
		free(w);
		return;
	}
	size_t argv_null = --k, argc = 0;
	/* back over argv[] until the word that counts what was passed */
	while (k > 0 && w[k - 1] != 0 && w[k - 1] != argc && argc < 65536) {
		k--;
		argc++;
	}
	if (k == 0 || w[k - 1] != argc || argc == 0) {
		free(w);
		return;
	}
	char *line = malloc(CMDLINE_MAX);
	size_t len = 0;
	/* argv[i] = w[argv_null - argc + i] */
	for (size_t i = 0; line && i < argc && len + 2 < CMDLINE_MAX; i++) {
		char arg[4096];
		uint64_t p = w[argv_null - argc + i];
		size_t got = 0;
		/* strings end within the stack: read what is there, up to a NUL */
		for (size_t want = sizeof(arg); want >= 1 && !got; want /= 2)
			if (read_core_only(c, p, arg, want) == 0)
				got = want;
		if (!got)
			break;
		size_t sl = strnlen(arg, got);
		if (i)
			line[len++] = ' ';
		if (sl > CMDLINE_MAX - 1 - len)
			sl = CMDLINE_MAX - 1 - len;
		memcpy(line + len, arg, sl);
		len += sl;
	}
	free(w);
	if (line && len) {
		line[len] = '\0';
		c->argv_line = line;
	} else {
		free(line);
	}
}

/* ---- opening --------------------------------------------------------------- */

static void find_exe(struct pp_core *c)
{
	const struct file_map *m = c->at_entry ? map_at(c, c->at_entry) : NULL;
	if (m) {
		c->exe = strdup(c->files[m->file].core_path);
		return;
	}
	/* AT_EXECFN: the path execve was given, in the core's stack */
	char name[4097];
	if (!c->at_execfn)
		return;
	for (size_t len = sizeof(name) - 1; len >= 16; len /= 2) {
		if (read_core_only(c, c->at_execfn, name, len) != 0)
			continue;
		name[len] = '\0';
		if (strlen(name) < len && name[0] == '/') {
			c->exe = strdup(name);
			return;
		}
	}
}

enum pp_err pp_core_open(const char *path, const struct pp_core_paths *paths,
			 struct pp_core **out, struct pp_error *err)
{
	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return fail(err, PP_ERR_IO, "libelf is unusable");
	struct pp_core *c = calloc(1, sizeof(*c));
	if (!c)
		return fail(err, PP_ERR_IO, "out of memory");
	c->fd = -1;
	enum pp_err e = PP_ERR_IO;
	Elf *elf = NULL;
	if (!(c->path = strdup(path)) ||
	    (paths && paths->exe && !(c->opt_exe = strdup(paths->exe))) ||
	    (paths && paths->root && !(c->opt_root = strdup(paths->root)))) {
		fail(err, PP_ERR_IO, "out of memory");
		goto out;
	}
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (c->fd < 0 || fstat(c->fd, &st) != 0) {
		fail(err, PP_ERR_IO, "cannot open the core %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(err, PP_ERR_IO, "the core %s is not a regular file", path);
		goto out;
	}
	c->size = (uint64_t)st.st_size;
	elf = elf_begin(c->fd, ELF_C_READ, NULL);
	GElf_Ehdr eh;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) || eh.e_type != ET_CORE) {
		fail(err, PP_ERR_IO, "%s is not a core file (an ELF file of type CORE, as gcore "
		     "or the kernel write)", path);
		goto out;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		e = fail(err, PP_ERR_NOT_PYTHON, "the core %s is not of an x86_64 process, which "
			 "is all pyprobe reads", path);
		goto out;
	}
	size_t nph = 0;
	if (elf_getphdrnum(elf, &nph) != 0 || nph == 0 || nph > MAX_SEGMENTS) {
		fail(err, PP_ERR_IO, "the core %s has no readable program headers: it is corrupt "
		     "or cut short", path);
		goto out;
	}
	c->seg = calloc(nph, sizeof(*c->seg));
	if (!c->seg) {
		fail(err, PP_ERR_IO, "out of memory");
		goto out;
	}
	size_t tcap = 0;
	uint64_t need = 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			fail(err, PP_ERR_IO, "the core %s is corrupt: program header %zu is unreadable",
			     path, i);
			goto out;
		}
		if (ph.p_filesz && (ph.p_offset > UINT64_MAX - ph.p_filesz)) {
			fail(err, PP_ERR_IO, "the core %s is corrupt: segment %zu lies past the "
			     "largest file offset", path, i);
			goto out;
		}
		uint64_t end = ph.p_offset + ph.p_filesz;
		if ((ph.p_type == PT_LOAD || ph.p_type == PT_NOTE) && end > need)
			need = end;
		if (ph.p_type == PT_NOTE && end <= c->size && read_notes(c, elf, &ph, &tcap) != 0) {
			fail(err, PP_ERR_IO, "out of memory");
			goto out;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0 || ph.p_vaddr > UINT64_MAX - ph.p_memsz)
			continue;
		c->seg[c->nseg++] = (struct segment){ph.p_vaddr, ph.p_memsz,
			ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz, ph.p_offset, ph.p_flags};
	}
	if (need > c->size) {
		fail(err, PP_ERR_IO, "the core %s is truncated: it is %llu bytes, its segments "
		     "need %llu; it was cut short while being written (a full disk, ulimit -c, "
		     "a copy interrupted): take it again", path, (unsigned long long)c->size,
		     (unsigned long long)need);
		goto out;
	}
	if (!c->nthreads) {
		fail(err, PP_ERR_IO, "the core %s has no thread (no NT_PRSTATUS note): it is "
		     "corrupt", path);
		goto out;
	}
	if (c->nseg > 1)
		qsort(c->seg, c->nseg, sizeof(*c->seg), by_vaddr);
	if (c->nmaps > 1)
		qsort(c->maps, c->nmaps, sizeof(*c->maps), by_start);
	if (!c->pid)
		c->pid = c->threads[0].tid;
	find_exe(c);
	read_argv(c);
	e = PP_OK;
out:
	if (elf)
		elf_end(elf);
	if (e != PP_OK) {
		pp_core_close(c);
		return e;
	}
	*out = c;
	return PP_OK;
}

void pp_core_close(struct pp_core *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nfiles; i++) {
		if (c->files[i].fd >= 0)
			close(c->files[i].fd);
		free(c->files[i].core_path);
		free(c->files[i].disk_path);
	}
	free(c->files);
	free(c->maps);
	free(c->seg);
	free(c->threads);
	free(c->exe);
	free(c->argv_line);
	free(c->opt_exe);
	free(c->opt_root);
	free(c->path);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int pp_core_pid(const struct pp_core *c) { return c->pid; }
const char *pp_core_cmdline(const struct pp_core *c)
{
	return c->argv_line ? c->argv_line : c->cmdline;
}
const char *pp_core_exe(const struct pp_core *c) { return c->exe; }
size_t pp_core_nthreads(const struct pp_core *c) { return c->nthreads; }

const struct pp_core_thread *pp_core_thread(const struct pp_core *c, size_t i)
{
	return i < c->nthreads ? &c->threads[i] : NULL;
}

int pp_core_maps(const struct pp_core *c, struct pp_maps *out)
{
	out->n = 0;
	out->v = calloc(c->nmaps ? c->nmaps : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (size_t i = 0; i < c->nmaps; i++) {
		const struct file_map *m = &c->maps[i];
		const struct segment *s = segment_at(c, m->start);
		uint32_t fl = s ? s->flags : PF_R;
		struct pp_map *o = &out->v[out->n];
		*o = (struct pp_map){.start = m->start, .end = m->end, .offset = m->pgoff};
		snprintf(o->perms, sizeof(o->perms), "%c%c%cp", fl & PF_R ? 'r' : '-',
			 fl & PF_W ? 'w' : '-', fl & PF_X ? 'x' : '-');
		if (!(o->path = strdup(c->files[m->file].core_path))) {
			pp_maps_free(out);
			return -ENOMEM;
		}
		out->n++;
	}
	return 0;
}

/* The file the core names core_path, checked; NULL with the reason in
 * *rc and pp_core_error(). */
static struct core_file *checked_file(struct pp_core *c, const char *core_path, int *rc)
{
	struct core_file *f = NULL;
	for (size_t i = 0; i < c->nfiles && !f; i++)
		if (strcmp(c->files[i].core_path, core_path) == 0)
			f = &c->files[i];
	if (!f) {
		set_last(c, "the core %s maps no file %s", c->path, core_path);
		*rc = -ENOENT;
		return NULL;
	}
	*rc = check_file(c, f);
	return *rc ? NULL : f;
}

int pp_core_open_elf(struct pp_core *c, const char *core_path, struct pp_elf **out)
{
	int rc;
	struct core_file *f = checked_file(c, core_path, &rc);
	if (!f)
		return rc;
	/* the very file that was checked, whatever its path does since */
	char self[64];
	snprintf(self, sizeof(self), "/proc/self/fd/%d", f->fd);
	rc = pp_elf_open(self, out);
	if (rc)
		set_last(c, "cannot read %s as an ELF file: %s", f->disk_path, strerror(-rc));
	return rc;
}

int pp_core_open_fd(struct pp_core *c, const char *core_path, const char **disk_path)
{
	int rc;
	struct core_file *f = checked_file(c, core_path, &rc);
	if (!f)
		return rc;
	int fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*disk_path = f->disk_path;
	return fd;
}

const char *pp_core_error(const struct pp_core *c) { return c->last.msg; }
enum pp_err pp_core_error_code(const struct pp_core *c) { return c->last.code; }
