/* .pyprobe recordings: writing a profile as it grows, in self-contained
 * zlib blocks, and loading it back through the profile's own interning
 * (so a loaded profile is exactly the one that was written). The byte
 * layout is specified in docs/format.md; keep the two in step.
 *
 * Loading never trusts the file: every length and count is checked against
 * the bytes that are really there and against fixed caps before anything is
 * allocated, every id against the entries defined so far. */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the format (docs/format.md) ----------------------------------------- */

#define FILE_MAGIC "\x89PYPROBE" /* 8 bytes */
#define FILE_HDR_SIZE 16u
#define FILE_HDR_MAX 4096u
#define FMT_MAJOR 1u
#define FMT_MINOR 3u

#define BLOCK_MAGIC "PPBK"
#define BLOCK_HDR_SIZE 16u
/* No block inflates to more than this: the loader's cap. */
#define BLOCK_RAW_MAX (256u << 20)
/* The writer starts a new block once this much is encoded... */
#define BLOCK_RAW_SOFT (8u << 20)
/* ...so with one record of at most this size the cap is never reached. */
#define STRING_MAX (64u << 20)
/* No block inflates to more than this many times its compressed size
 * (plus RATIO_SLACK bytes, for tiny blocks). Deflate alone would allow
 * about 1032:1, and a file of all-alike records at that ratio makes a
 * profile a thousand times the file's size (a 1 MB file: 200 million
 * samples). pyprobe's own blocks stay far below: their most compressible
 * content, idle threads sampled tick after tick, repeats a whole tick at
 * a distance of one tick, and deflate spends about 16 bits per 258 bytes
 * copied from that far: about 125:1 at best (measured: 52:1 with 50 idle
 * threads at -r max, 75:1 with 500; see bench/README.md). So this cap
 * takes twice the best pyprobe's writer (1.0 as well) can do, and costs
 * an adversary twice the memory of a real recording of the same size at
 * most. The writer makes sure of it (write_block). */
#define RATIO_MAX 256u
#define RATIO_SLACK 64u

enum section {
	SEC_STRINGS = 1,
	SEC_FRAMES = 2,
	SEC_STACKS = 3,
	SEC_THREADS = 4,
	SEC_SAMPLES = 5,
	SEC_META = 6,
	/* 1.2: which of this block's frames are native (C) functions. They
	 * are written as kind 0 in the frames section, so that a 1.0 or 1.1
	 * reader, which skips this section, still loads the recording and
	 * shows them as plain functions (a new kind byte would make it refuse
	 * the file as corrupt). */
	SEC_NATIVE_FRAMES = 7,
	/* 1.3: the asyncio Task some samples' threads were running (the
	 * profile's side table). A 1.2 reader skips it and loses the names
	 * alone. */
	SEC_SAMPLE_TASKS = 8,
};
#define NTABLES 5 /* the table sections, SEC_STRINGS .. SEC_SAMPLES */

/* The fewest bytes one record of each table takes: bounds a count before
 * it is looped over. */
static const size_t min_record[NTABLES] = {1, 6, 2, 4, 5};
static const char *const table_name[NTABLES] = {"string", "frame", "stack", "thread",
						 "sample"};

static void put_le32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}
static void put_le16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}
static uint32_t get_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}
static uint16_t get_le16(const uint8_t *b) { return (uint16_t)(b[0] | b[1] << 8); }

static uint64_t zigzag(uint64_t v) { return (v << 1) ^ (0 - (v >> 63)); }
static uint64_t unzigzag(uint64_t v) { return (v >> 1) ^ (0 - (v & 1)); }

/* Per table counts of a profile, in section order. */
static void table_counts(const struct pp_profile *p, size_t n[NTABLES])
{
	n[0] = pp_profile_nstrings(p);
	pp_profile_frames(p, &n[1]);
	pp_profile_stacks(p, &n[2]);
	pp_profile_threads(p, &n[3]);
	pp_profile_samples(p, &n[4]);
}

/* ---- writing --------------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (b->oom)
		return -1;
	if (more <= b->cap - b->n)
		return 0;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap - b->n < more) {
		if (ncap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		ncap *= 2;
	}
	uint8_t *np = realloc(b->p, ncap);
	if (!np) {
		b->oom = 1;
		return -1;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

static void put_bytes(struct buf *b, const void *d, size_t n)
{
	if (n && buf_reserve(b, n) == 0) {
		memcpy(b->p + b->n, d, n);
		b->n += n;
	}
}

static void put_byte(struct buf *b, uint8_t v) { put_bytes(b, &v, 1); }

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	put_bytes(b, t, n);
}

static void put_section(struct buf *b, unsigned tag, const struct buf *body)
{
	put_varint(b, tag);
	put_varint(b, body->n);
	put_bytes(b, body->p, body->n);
}

struct pp_recording_writer {
	int fd;
	int broken;           /* sticky errno once the file could not be repaired */
	off_t good;           /* the file is valid up to here */
	int repairable;       /* can be cut back to good (not a pipe, not O_APPEND) */
	size_t done[NTABLES]; /* entries of each table already in the file */
	struct pp_profile_meta meta;
	int meta_done;        /* meta written and equal to `meta` */
	/* The finished flag of the metadata written: 0 in every block while
	 * recording, 1 in the block pp_recording_close writes last, whatever
	 * the profile's own meta says (the writer alone knows it ended). */
	uint8_t finishing;
	size_t done_tasks;    /* sample-task entries already in the file */
	uint64_t task_base;   /* the sample after the last one named so far */
	/* ... and both once the block being written is */
	size_t pending_tasks;
	uint64_t pending_base;
	struct buf raw, rec, out;
};

static int write_all(int fd, const uint8_t *d, size_t n)
{
	while (n) {
		ssize_t k = write(fd, d, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0) {
			errno = EIO;
			return -1;
		}
		d += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Append d[0..n) to the file; on failure cut the file back to its last
 * good block, so a later flush can retry, or give up for good. */
static int append(struct pp_recording_writer *w, const uint8_t *d, size_t n)
{
	if (write_all(w->fd, d, n) == 0) {
		w->good += (off_t)n;
		return 0;
	}
	int e = errno;
	if (!w->repairable || ftruncate(w->fd, w->good) != 0 ||
	    lseek(w->fd, w->good, SEEK_SET) != w->good)
		w->broken = e;
	errno = e;
	return -1;
}

static int same_meta(const struct pp_profile_meta *a, const struct pp_profile_meta *b)
{
	return a->title == b->title && a->cmdline == b->cmdline &&
	       a->python_version == b->python_version && a->pid == b->pid &&
	       a->rate_hz == b->rate_hz && a->start_unix_ns == b->start_unix_ns &&
	       a->duration_ns == b->duration_ns && a->samples_dropped == b->samples_dropped &&
	       a->ticks_missed == b->ticks_missed && a->samples_cut == b->samples_cut &&
	       a->cut_depth_sum == b->cut_depth_sum && a->cut_walked_sum == b->cut_walked_sum &&
	       a->samples_unreadable == b->samples_unreadable && a->finished == b->finished;
}

static void put_meta(struct buf *b, const struct pp_profile_meta *m)
{
	put_varint(b, m->title);
	put_varint(b, m->cmdline);
	put_varint(b, m->python_version);
	put_varint(b, m->pid);
	put_varint(b, m->rate_hz);
	put_varint(b, m->start_unix_ns);
	put_varint(b, m->duration_ns);
	put_varint(b, m->samples_dropped);
	put_varint(b, m->ticks_missed);
	/* 1.1 */
	put_varint(b, m->samples_cut);
	put_varint(b, m->cut_depth_sum);
	put_varint(b, m->cut_walked_sum);
	put_varint(b, m->samples_unreadable);
	put_varint(b, m->finished);
}

/* Encode entries [*next, n) of table t into w->rec until the block is
 * full; *next advances past what was encoded. -1: a string too long. */
static int put_records(struct pp_recording_writer *w, const struct pp_profile *p, int t,
		       size_t *next, size_t n)
{
	struct buf *r = &w->rec;
	size_t cnt;
	const struct pp_pframe *fr = pp_profile_frames(p, &cnt);
	const struct pp_pstack *st = pp_profile_stacks(p, &cnt);
	const struct pp_pthread *th = pp_profile_threads(p, &cnt);
	const struct pp_psample *sa = pp_profile_samples(p, &cnt);
	uint64_t prev_time = 0;
	for (; *next < n && w->raw.n + r->n < BLOCK_RAW_SOFT && !r->oom; (*next)++) {
		size_t i = *next;
		switch (t) {
		case 0: {
			const char *s = pp_profile_string(p, (pp_str_id)i);
			size_t len = strlen(s);
			if (len > STRING_MAX) {
				errno = EOVERFLOW;
				return -1;
			}
			put_varint(r, len);
			put_bytes(r, s, len);
			break;
		}
		case 1:
			put_varint(r, fr[i].function);
			put_varint(r, fr[i].name);
			put_varint(r, fr[i].file);
			put_varint(r, zigzag((uint64_t)(int64_t)fr[i].line));
			put_varint(r, zigzag((uint64_t)(int64_t)fr[i].firstlineno));
			/* native: kind 0 here, named in SEC_NATIVE_FRAMES */
			put_byte(r, fr[i].kind == PP_FRAME_NATIVE ? PP_FRAME_PYTHON : fr[i].kind);
			break;
		case 2:
			put_varint(r, st[i].parent);
			put_varint(r, st[i].frame);
			break;
		case 3:
			put_varint(r, th[i].pid);
			put_varint(r, th[i].native_id);
			put_varint(r, th[i].name);
			put_varint(r, th[i].cmdline);
			break;
		default:
			put_varint(r, zigzag(sa[i].time_ns - prev_time));
			prev_time = sa[i].time_ns;
			put_varint(r, sa[i].thread);
			put_varint(r, sa[i].stack);
			put_byte(r, sa[i].gil);
			put_byte(r, sa[i].os);
			break;
		}
	}
	return 0;
}

/* The SEC_NATIVE_FRAMES section of a block that defines frames
 * [first, end): their count, then the ids of the native ones, ascending,
 * each as the difference from the one before (the first from `first`).
 * Nothing when none is native. */
static void put_native_frames(struct buf *raw, const struct pp_profile *p, size_t first,
			      size_t end)
{
	size_t n;
	const struct pp_pframe *fr = pp_profile_frames(p, &n);
	struct buf ids = {0};
	size_t count = 0, prev = first;
	for (size_t i = first; i < end && i < n; i++)
		if (fr[i].kind == PP_FRAME_NATIVE) {
			put_varint(&ids, i - prev);
			prev = i;
			count++;
		}
	if (count) {
		struct buf body = {0};
		put_varint(&body, count);
		put_bytes(&body, ids.p, ids.n);
		put_section(raw, SEC_NATIVE_FRAMES, &body);
		if (body.oom || ids.oom)
			raw->oom = 1;
		free(body.p);
	}
	free(ids.p);
}

/* The SEC_SAMPLE_TASKS section: the profile's sample-task entries from
 * w->done_tasks on whose samples are in the file once this block is
 * (sample < nsamples): their count, then each entry's sample as the
 * difference from the sample after the one named before (the first of the
 * file: from 0) and its Task name's string id. Nothing when there is none. */
static void put_sample_tasks(struct pp_recording_writer *w, const struct pp_profile *p,
			     size_t nsamples)
{
	size_t n;
	const struct pp_sample_task *st = pp_profile_sample_tasks(p, &n);
	struct buf ents = {0};
	size_t k = w->done_tasks;
	uint64_t base = w->task_base;
	for (; k < n && st[k].sample < nsamples; k++) {
		put_varint(&ents, st[k].sample - base);
		put_varint(&ents, st[k].task);
		base = st[k].sample + 1;
	}
	if (k > w->done_tasks) {
		struct buf body = {0};
		put_varint(&body, k - w->done_tasks);
		put_bytes(&body, ents.p, ents.n);
		put_section(&w->raw, SEC_SAMPLE_TASKS, &body);
		if (body.oom || ents.oom)
			w->raw.oom = 1;
		free(body.p);
	}
	free(ents.p);
	w->pending_tasks = k;
	w->pending_base = base;
}

/* Deflate in[0..n) into out (room for compressBound(n)); *outlen: the
 * compressed size. 0, or -1. */
static int deflate_all(const uint8_t *in, size_t n, uint8_t *out, uLongf *outlen, int strategy)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15, 8, strategy) != Z_OK)
		return -1;
	static const uint8_t none;
	z.next_in = (Bytef *)(uintptr_t)(n ? in : &none);
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)*outlen;
	int r = deflate(&z, Z_FINISH);
	*outlen = z.total_out;
	deflateEnd(&z);
	return r == Z_STREAM_END ? 0 : -1;
}

/* Compress w->raw and append it as one block. */
static int write_block(struct pp_recording_writer *w)
{
	if (w->raw.oom) {
		errno = ENOMEM;
		return -1;
	}
	uLong bound = compressBound((uLong)w->raw.n);
	w->out.n = 0;
	if (buf_reserve(&w->out, BLOCK_HDR_SIZE + (size_t)bound) != 0) {
		errno = ENOMEM;
		return -1;
	}
	uLongf clen = bound;
	uint8_t *z = w->out.p + BLOCK_HDR_SIZE;
	if (deflate_all(w->raw.p, w->raw.n, z, &clen, Z_DEFAULT_STRATEGY) != 0) {
		errno = ENOMEM;
		return -1;
	}
	/* Never a block a reader refuses (RATIO_MAX): pyprobe's own data
	 * does not come near it, but a profile made by other means might.
	 * Without matches deflate spends at least a bit per byte (8:1). */
	if ((uint64_t)w->raw.n > (uint64_t)clen * RATIO_MAX + RATIO_SLACK) {
		clen = bound;
		if (deflate_all(w->raw.p, w->raw.n, z, &clen, Z_HUFFMAN_ONLY) != 0) {
			errno = ENOMEM;
			return -1;
		}
	}
	uint8_t *h = w->out.p;
	memcpy(h, BLOCK_MAGIC, 4);
	put_le32(h + 4, (uint32_t)clen);
	put_le32(h + 8, (uint32_t)w->raw.n);
	put_le32(h + 12, (uint32_t)crc32(crc32(0, Z_NULL, 0), h + BLOCK_HDR_SIZE, (uInt)clen));
	return append(w, h, BLOCK_HDR_SIZE + (size_t)clen);
}

struct pp_recording_writer *pp_recording_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return fd < 0 ? NULL : pp_recording_create_fd(fd);
}

struct pp_recording_writer *pp_recording_create_fd(int fd)
{
	struct pp_recording_writer *w = calloc(1, sizeof(*w));
	struct pp_profile *fresh = pp_profile_new();
	if (!w || !fresh) {
		free(w);
		pp_profile_free(fresh);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	/* What every new profile already holds ("" and the empty stack) is
	 * never written: the loader starts from a new profile too. */
	table_counts(fresh, w->done);
	pp_profile_free(fresh);
	w->fd = fd;
	/* A file opened by us starts at 0; standard output may be a file
	 * opened elsewhere (where we start), a pipe, or appended to - those
	 * two cannot be cut back after a failed write. */
	int fl = fcntl(fd, F_GETFL);
	off_t at = lseek(fd, 0, SEEK_CUR);
	w->repairable = fl >= 0 && !(fl & O_APPEND) && at >= 0;
	w->good = at >= 0 ? at : 0;
	uint8_t h[FILE_HDR_SIZE];
	memcpy(h, FILE_MAGIC, 8);
	put_le16(h + 8, FMT_MAJOR);
	put_le16(h + 10, FMT_MINOR);
	put_le32(h + 12, FILE_HDR_SIZE);
	if (append(w, h, sizeof h) != 0) {
		int e = errno;
		close(w->fd);
		free(w);
		errno = e;
		return NULL;
	}
	return w;
}

int pp_recording_flush(struct pp_recording_writer *w, const struct pp_profile *p)
{
	if (!w || !p) {
		errno = EINVAL;
		return -1;
	}
	if (w->broken) {
		errno = w->broken;
		return -1;
	}
	size_t n[NTABLES];
	table_counts(p, n);
	int fresh = 0;
	for (int t = 0; t < NTABLES; t++) {
		if (n[t] < w->done[t] || n[t] >= UINT32_MAX) {
			errno = EINVAL; /* not the profile we were writing */
			return -1;
		}
		fresh |= n[t] > w->done[t];
	}
	size_t ntasks;
	const struct pp_sample_task *tasks = pp_profile_sample_tasks(p, &ntasks);
	if (ntasks < w->done_tasks) {
		errno = EINVAL;
		return -1;
	}
	/* entries for samples already written (the sampler names a sample
	 * before the next flush, so normally none) */
	fresh |= ntasks > w->done_tasks && tasks[w->done_tasks].sample < n[4];
	struct pp_profile_meta mm = *pp_profile_meta_c(p);
	mm.finished = w->finishing;
	const struct pp_profile_meta *m = &mm;
	if (!fresh && w->meta_done && same_meta(m, &w->meta))
		return 0;

	/* One block, or several when there is much to write: each block
	 * holds whole sections in order, the metadata only in the last
	 * (its string ids may name strings of any earlier block). */
	size_t next[NTABLES];
	memcpy(next, w->done, sizeof next);
	for (;;) {
		w->raw.n = 0;
		int full = 0;
		for (int t = 0; t < NTABLES && !full; t++) {
			if (next[t] == n[t])
				continue;
			size_t first = next[t];
			w->rec.n = 0;
			if (put_records(w, p, t, &next[t], n[t]) != 0)
				return -1;
			full = next[t] < n[t];
			if (next[t] == first)
				continue; /* the block was full already */
			struct buf body = {0};
			put_varint(&body, first);
			put_varint(&body, next[t] - first);
			put_bytes(&body, w->rec.p, w->rec.n);
			put_section(&w->raw, SEC_STRINGS + (unsigned)t, &body);
			if (body.oom || w->rec.oom)
				w->raw.oom = 1;
			free(body.p);
		}
		if (!full) {
			struct buf body = {0};
			put_meta(&body, m);
			put_section(&w->raw, SEC_META, &body);
			if (body.oom)
				w->raw.oom = 1;
			free(body.p);
		}
		put_native_frames(&w->raw, p, w->done[1], next[1]);
		put_sample_tasks(w, p, next[4]);
		if (write_block(w) != 0)
			return -1;
		memcpy(w->done, next, sizeof next);
		w->done_tasks = w->pending_tasks;
		w->task_base = w->pending_base;
		if (!full)
			break;
	}
	w->meta = *m;
	w->meta_done = 1;
	/* Keep the memory of a big first flush from staying for the run. */
	if (w->raw.cap > (1u << 20)) {
		free(w->raw.p);
		free(w->rec.p);
		free(w->out.p);
		w->raw = w->rec = w->out = (struct buf){0};
	}
	return 0;
}

int pp_recording_close(struct pp_recording_writer *w, const struct pp_profile *p)
{
	if (!w) {
		errno = EINVAL;
		return -1;
	}
	/* The last block says the recording ended here: a file without it
	 * was cut short, even at a block boundary. */
	w->finishing = 1;
	int rc = p ? pp_recording_flush(w, p) : 0;
	int e = errno;
	if (close(w->fd) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	free(w->raw.p);
	free(w->rec.p);
	free(w->out.p);
	free(w);
	errno = e;
	return rc;
}

/* ---- loading --------------------------------------------------------------- */

/* A bounds-checked cursor over a payload. */
struct cur {
	const uint8_t *p, *end;
};

struct loader {
	FILE *f;
	struct pp_profile *p;
	char *err;
	size_t errlen;
	unsigned block; /* 1-based, for messages */
	unsigned minor; /* the file's minor version */
	/* The block loaded last carried metadata saying finished (1.1). */
	int finished;
	uint64_t off;   /* file offset of the block being read */
	uint8_t *comp, *raw;
	size_t compcap;
	char *str;      /* a NUL-terminated copy of the string being interned */
	size_t strcap;
	/* This block's SEC_NATIVE_FRAMES (1.2), found before its frames are
	 * loaded: the ids still to come, the next of them. */
	int has_natives;
	struct cur natives;
	uint64_t natives_left, next_native;
	/* 1.3: the sample after the last one a SEC_SAMPLE_TASKS named */
	uint64_t task_base;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(struct loader *l, const char *fmt, ...)
{
	if (l->err && l->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int corrupt(struct loader *l, const char *fmt, ...)
{
	char what[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return fail(l, "corrupt recording: block %u (offset %llu): %s", l->block,
		    (unsigned long long)l->off, what);
}

/* Read up to n bytes; how many were read (short only at EOF), or -1. */
static long long read_upto(struct loader *l, void *d, size_t n)
{
	size_t k = fread(d, 1, n, l->f);
	if (k < n && ferror(l->f))
		return fail(l, "%s", strerror(errno ? errno : EIO));
	return (long long)k;
}

/* Read n compressed bytes into l->comp, growing the buffer only as the
 * bytes really arrive: a length claiming more than the file has costs no
 * memory. 1 read, 0 cut short, -1 error. */
static int read_comp(struct loader *l, size_t n)
{
	size_t got = 0;
	while (got < n) {
		if (got == l->compcap) {
			size_t ncap = l->compcap ? l->compcap * 2 : 65536;
			if (ncap > n)
				ncap = n;
			uint8_t *nc = realloc(l->comp, ncap);
			if (!nc)
				return fail(l, "out of memory");
			l->comp = nc;
			l->compcap = ncap;
		}
		size_t want = (n < l->compcap ? n : l->compcap) - got;
		long long k = read_upto(l, l->comp + got, want);
		if (k < 0)
			return -1;
		got += (size_t)k;
		if ((size_t)k < want)
			return 0;
	}
	return 1;
}

/* 1 when the rest of the file (after `have`) is zero bytes or nothing (a
 * crash can leave a file's tail allocated but never written), 0 when
 * something else follows, -1 error. */
static int rest_is_zero(struct loader *l, const uint8_t *have, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (have[i])
			return 0;
	uint8_t b[4096];
	for (;;) {
		long long k = read_upto(l, b, sizeof b);
		if (k < 0)
			return -1;
		for (long long i = 0; i < k; i++)
			if (b[i])
				return 0;
		if ((size_t)k < sizeof b)
			return 1;
	}
}

static int get_varint(struct cur *c, uint64_t *v)
{
	uint64_t r = 0;
	for (int i = 0; i < 10; i++) {
		if (c->p == c->end)
			return -1;
		uint8_t b = *c->p++;
		if (i == 9 && b > 1)
			return -1; /* more than 64 bits */
		r |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

static int get_u32(struct cur *c, uint32_t *v)
{
	uint64_t x;
	if (get_varint(c, &x) != 0 || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

static int get_byte(struct cur *c, uint8_t *v)
{
	if (c->p == c->end)
		return -1;
	*v = *c->p++;
	return 0;
}

static int get_i32(struct cur *c, int32_t *v)
{
	uint64_t x;
	if (get_varint(c, &x) != 0)
		return -1;
	int64_t s = (int64_t)unzigzag(x);
	if (x > UINT32_MAX || s < INT32_MIN || s > INT32_MAX)
		return -1;
	*v = (int32_t)s;
	return 0;
}

static int check_str(struct loader *l, const char *what, uint32_t id)
{
	size_t n = pp_profile_nstrings(l->p);
	if (id >= n)
		return corrupt(l, "%s refers to string %u, only %zu defined", what, id, n);
	return 0;
}

/* One record of table t, id `id`: decode, check its references, add it
 * through the public API and check the profile gave it the same id. */
static int next_native_id(struct loader *l);

static int load_record(struct loader *l, struct cur *c, int t, uint32_t id,
		       uint64_t *prev_time)
{
	struct pp_profile *p = l->p;
	const char *tn = table_name[t];
	uint32_t got;
	size_t n;
	switch (t) {
	case 0: {
		uint64_t len;
		if (get_varint(c, &len) != 0 || len > (uint64_t)(c->end - c->p))
			return corrupt(l, "string %u: length past the end of its section", id);
		if (memchr(c->p, 0, (size_t)len))
			return corrupt(l, "string %u contains a NUL byte", id);
		if (len >= l->strcap) {
			char *ns = realloc(l->str, (size_t)len + 1);
			if (!ns)
				return fail(l, "out of memory");
			l->str = ns;
			l->strcap = (size_t)len + 1;
		}
		memcpy(l->str, c->p, (size_t)len);
		l->str[len] = '\0';
		c->p += len;
		got = pp_profile_str(p, l->str);
		break;
	}
	case 1: {
		struct pp_pframe f;
		if (get_u32(c, &f.function) || get_u32(c, &f.name) || get_u32(c, &f.file) ||
		    get_i32(c, &f.line) || get_i32(c, &f.firstlineno) || get_byte(c, &f.kind))
			return corrupt(l, "frame %u: bad field", id);
		if (check_str(l, "a frame", f.function) || check_str(l, "a frame", f.name) ||
		    check_str(l, "a frame", f.file))
			return -1;
		if (f.kind > PP_FRAME_NATIVE)
			return corrupt(l, "frame %u: unknown kind %u", id, f.kind);
		if (l->natives_left && id == l->next_native) {
			if (f.kind != PP_FRAME_PYTHON)
				return corrupt(l, "frame %u: kind %u named native", id, f.kind);
			f.kind = PP_FRAME_NATIVE;
			if (--l->natives_left && next_native_id(l) != 0)
				return -1;
		}
		got = pp_profile_frame(p, &f);
		break;
	}
	case 2: {
		uint32_t parent, frame;
		if (get_u32(c, &parent) || get_u32(c, &frame))
			return corrupt(l, "stack %u: bad field", id);
		if (parent >= id)
			return corrupt(l, "stack %u: parent %u is not an earlier stack", id, parent);
		pp_profile_frames(p, &n);
		/* Frame 0 is the empty stack's sentinel, never a stack's frame
		 * (and views have nothing to show for it). */
		if (frame == 0)
			return corrupt(l, "stack %u is on the sentinel frame 0", id);
		if (frame >= n)
			return corrupt(l, "stack %u refers to frame %u, only %zu defined", id, frame, n);
		got = pp_profile_stack(p, parent, frame);
		break;
	}
	case 3: {
		struct pp_pthread th;
		if (get_u32(c, &th.pid) || get_varint(c, &th.native_id) || get_u32(c, &th.name) ||
		    get_u32(c, &th.cmdline))
			return corrupt(l, "thread %u: bad field", id);
		if (check_str(l, "a thread", th.name) || check_str(l, "a thread", th.cmdline))
			return -1;
		got = pp_profile_thread(p, &th);
		break;
	}
	default: {
		struct pp_psample s;
		uint64_t dt;
		if (get_varint(c, &dt) || get_u32(c, &s.thread) || get_u32(c, &s.stack) ||
		    get_byte(c, &s.gil) || get_byte(c, &s.os))
			return corrupt(l, "sample %u: bad field", id);
		s.time_ns = *prev_time + unzigzag(dt);
		*prev_time = s.time_ns;
		pp_profile_threads(p, &n);
		if (s.thread >= n)
			return corrupt(l, "sample %u refers to thread %u, only %zu defined", id,
				       s.thread, n);
		pp_profile_stacks(p, &n);
		if (s.stack >= n)
			return corrupt(l, "sample %u refers to stack %u, only %zu defined", id,
				       s.stack, n);
		/* States a newer minor version added read as unknown. */
		if (s.gil > PP_SGIL_RELEASED)
			s.gil = PP_SGIL_UNKNOWN;
		if (s.os > PP_SOS_ZOMBIE)
			s.os = PP_SOS_UNKNOWN;
		if (pp_profile_add_sample(p, &s) != 0)
			return fail(l, "out of memory");
		return 0;
	}
	}
	if (got == UINT32_MAX)
		return fail(l, "out of memory");
	if (got != id)
		return corrupt(l, "%s %u repeats %s %u", tn, id, tn, got);
	return 0;
}

/* The next id of the native frames section: ascending, so a difference
 * of at least 1 from the last. */
static int next_native_id(struct loader *l)
{
	uint64_t d;
	if (get_varint(&l->natives, &d) || d == 0 || d > UINT32_MAX)
		return corrupt(l, "native frames section: bad id");
	l->next_native += d;
	return 0;
}

static int load_table(struct loader *l, struct cur *c, int t)
{
	size_t have[NTABLES];
	table_counts(l->p, have);
	uint64_t first, count;
	if (get_varint(c, &first) || get_varint(c, &count))
		return corrupt(l, "%s section: bad header", table_name[t]);
	if (first != have[t])
		return corrupt(l, "%s section starts at id %llu, expected %zu", table_name[t],
			       (unsigned long long)first, have[t]);
	if (count > (uint64_t)(c->end - c->p) / min_record[t] ||
	    first + count >= UINT32_MAX)
		return corrupt(l, "%s section: %llu entries cannot fit", table_name[t],
			       (unsigned long long)count);
	if (t == 1 && l->has_natives) {
		uint64_t d;
		l->has_natives = 0;
		if (get_varint(&l->natives, &l->natives_left) || l->natives_left == 0 ||
		    l->natives_left > count || get_varint(&l->natives, &d) || d >= count)
			return corrupt(l, "native frames section: bad header");
		l->next_native = first + d;
	}
	uint64_t prev_time = 0;
	for (uint64_t i = 0; i < count; i++)
		if (load_record(l, c, t, (uint32_t)(first + i), &prev_time) != 0)
			return -1;
	if (c->p != c->end)
		return corrupt(l, "%s section: %zu bytes left over", table_name[t],
			       (size_t)(c->end - c->p));
	if (t == 1 && (l->natives_left || l->natives.p != l->natives.end))
		return corrupt(l, "native frames section names frames this block does not define");
	return 0;
}

/* SEC_SAMPLE_TASKS (1.3): count, then (sample delta, string id) each. */
static int load_sample_tasks(struct loader *l, struct cur *c)
{
	size_t nsamples, nstrings = pp_profile_nstrings(l->p);
	pp_profile_samples(l->p, &nsamples);
	uint64_t count;
	if (get_varint(c, &count) || count == 0 || count > (uint64_t)(c->end - c->p) / 2)
		return corrupt(l, "sample tasks section: bad count");
	for (uint64_t i = 0; i < count; i++) {
		uint64_t d;
		uint32_t name;
		if (get_varint(c, &d) || get_u32(c, &name))
			return corrupt(l, "sample tasks section: bad entry");
		if (d >= nsamples || l->task_base > nsamples - 1 - d)
			return corrupt(l, "sample tasks section names a sample not yet defined");
		uint64_t sample = l->task_base + d;
		if (name == 0 || name >= nstrings)
			return corrupt(l, "sample tasks section: task name is string %u, "
				       "only 1..%zu defined", name, nstrings ? nstrings - 1 : 0);
		if (pp_profile_set_sample_task(l->p, sample, name) != 0)
			return fail(l, "out of memory");
		l->task_base = sample + 1;
	}
	if (c->p != c->end)
		return corrupt(l, "sample tasks section: %zu bytes left over",
			       (size_t)(c->end - c->p));
	return 0;
}

static int load_meta(struct loader *l, struct cur *c)
{
	struct pp_profile_meta m = {0};
	if (get_u32(c, &m.title) || get_u32(c, &m.cmdline) || get_u32(c, &m.python_version) ||
	    get_u32(c, &m.pid) || get_u32(c, &m.rate_hz) || get_varint(c, &m.start_unix_ns) ||
	    get_varint(c, &m.duration_ns) || get_varint(c, &m.samples_dropped) ||
	    get_varint(c, &m.ticks_missed))
		return corrupt(l, "metadata: bad field");
	/* 1.1 appended these; a 1.0 file has none (and whatever follows its
	 * fields is skipped, as a 1.0 reader skips it). */
	uint64_t fin = 0;
	if (l->minor >= 1 &&
	    (get_varint(c, &m.samples_cut) || get_varint(c, &m.cut_depth_sum) ||
	     get_varint(c, &m.cut_walked_sum) || get_varint(c, &m.samples_unreadable) ||
	     get_varint(c, &fin)))
		return corrupt(l, "metadata: bad field");
	if (fin > 1)
		return corrupt(l, "metadata: finished is %llu, not 0 or 1", (unsigned long long)fin);
	m.finished = (uint8_t)fin;
	if (check_str(l, "the metadata", m.title) || check_str(l, "the metadata", m.cmdline) ||
	    check_str(l, "the metadata", m.python_version))
		return -1;
	/* Fields a newer minor version appends are ignored. */
	*pp_profile_meta(l->p) = m;
	l->finished = m.finished;
	return 0;
}

static int load_payload(struct loader *l, const uint8_t *d, size_t n)
{
	struct cur c = {d, d + n};
	l->finished = 0; /* only a block with the final metadata ends a recording */
	l->has_natives = 0;
	l->natives_left = 0;
	/* 1.2: the native frames section comes after the frames it names
	 * (sections go by tag): look for it first. */
	if (l->minor >= 2) {
		struct cur c = {d, d + n};
		while (c.p < c.end) {
			uint64_t tag, len;
			if (get_varint(&c, &tag) || get_varint(&c, &len) ||
			    len > (uint64_t)(c.end - c.p))
				break; /* the loop below says what is wrong */
			if (tag == SEC_NATIVE_FRAMES) {
				l->natives = (struct cur){c.p, c.p + len};
				l->has_natives = 1;
			}
			c.p += len;
		}
	}
	uint64_t prev = 0;
	while (c.p < c.end) {
		uint64_t tag, len;
		if (get_varint(&c, &tag) || get_varint(&c, &len) ||
		    len > (uint64_t)(c.end - c.p))
			return corrupt(l, "bad section header (past the end of the block)");
		if (tag <= prev)
			return corrupt(l, "section %llu after section %llu", (unsigned long long)tag,
				       (unsigned long long)prev);
		prev = tag;
		struct cur s = {c.p, c.p + len};
		c.p += len;
		if (tag >= SEC_STRINGS && tag < SEC_STRINGS + NTABLES) {
			if (load_table(l, &s, (int)(tag - SEC_STRINGS)) != 0)
				return -1;
		} else if (tag == SEC_META) {
			if (load_meta(l, &s) != 0)
				return -1;
		} else if (tag == SEC_SAMPLE_TASKS && l->minor >= 3) {
			if (load_sample_tasks(l, &s) != 0)
				return -1;
		} /* else: SEC_NATIVE_FRAMES (read with the frames) or a section a
		   * newer minor version added: skipped */
	}
	if (l->has_natives)
		return corrupt(l, "native frames section in a block without frames");
	return 0;
}

static int inflate_exact(const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit(&z) != Z_OK)
		return -1;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)inlen;
	static uint8_t dummy;
	/* Exactly outlen bytes and the end of the stream, nothing more. */
	z.next_out = outlen ? out : &dummy;
	z.avail_out = (uInt)outlen;
	int r = inflate(&z, Z_FINISH);
	int ok = r == Z_STREAM_END && z.avail_out == 0 && z.avail_in == 0 &&
		 z.total_out == outlen;
	inflateEnd(&z);
	return ok ? 0 : -1;
}

/* Read one block. 1 loaded, 0 end of the recording (*truncated set if it
 * was cut short), -1 error. */
static int load_block(struct loader *l, int *truncated)
{
	uint8_t h[BLOCK_HDR_SIZE];
	long long k = read_upto(l, h, sizeof h);
	if (k < 0)
		return -1;
	if (k == 0)
		return 0;
	if (memcmp(h, BLOCK_MAGIC, (size_t)k < 4 ? (size_t)k : 4) != 0) {
		int z = rest_is_zero(l, h, (size_t)k);
		if (z < 0)
			return -1;
		if (!z)
			return corrupt(l, "bad block magic");
		*truncated = 1;
		return 0;
	}
	if ((size_t)k < sizeof h) {
		*truncated = 1;
		return 0;
	}
	uint32_t clen = get_le32(h + 4), rlen = get_le32(h + 8), crc = get_le32(h + 12);
	if (rlen > BLOCK_RAW_MAX)
		return corrupt(l, "%u bytes uncompressed, over the %u MiB cap", rlen,
			       BLOCK_RAW_MAX >> 20);
	if (clen > compressBound(rlen))
		return corrupt(l, "%u bytes cannot hold %u compressed ones", clen, rlen);
	/* Checked before anything is read or allocated: what a block can
	 * cost is bounded by its real size. */
	if ((uint64_t)rlen > (uint64_t)clen * RATIO_MAX + RATIO_SLACK)
		return corrupt(l, "%u bytes claim to inflate to %u, over the %u:1 cap (no "
			       "pyprobe writes that)", clen, rlen, RATIO_MAX);
	int r = read_comp(l, clen);
	if (r <= 0) {
		*truncated = r == 0;
		return r;
	}
	if ((uint32_t)crc32(crc32(0, Z_NULL, 0), l->comp, clen) != crc) {
		/* A bad last block is one the writer never finished (what
		 * follows it, if anything, was never written either). */
		int e = rest_is_zero(l, NULL, 0);
		if (e < 0)
			return -1;
		if (!e)
			return corrupt(l, "checksum mismatch");
		*truncated = 1;
		return 0;
	}
	free(l->raw);
	l->raw = malloc(rlen ? rlen : 1);
	if (!l->raw)
		return fail(l, "out of memory");
	if (inflate_exact(l->comp, clen, l->raw, rlen) != 0)
		return corrupt(l, "does not decompress to %u bytes", rlen);
	if (load_payload(l, l->raw, rlen) != 0)
		return -1;
	l->off += BLOCK_HDR_SIZE + (uint64_t)clen;
	return 1;
}

/* The file header. 1 read, 0 cut short (an empty recording), -1 error. */
static int load_header(struct loader *l)
{
	uint8_t h[FILE_HDR_SIZE];
	long long k = read_upto(l, h, sizeof h);
	if (k < 0)
		return -1;
	if (k == 0)
		return fail(l, "empty file, not a pyprobe recording");
	if (memcmp(h, FILE_MAGIC, k < 8 ? (size_t)k : 8) != 0)
		return fail(l, "not a pyprobe recording (bad magic)");
	if (k < 10)
		return 0;
	unsigned major = get_le16(h + 8), minor = k >= 12 ? get_le16(h + 10) : 0;
	if (major > FMT_MAJOR)
		return fail(l,
			    "recording format version %u.%u is newer than this pyprobe reads "
			    "(%u.%u): upgrade pyprobe",
			    major, minor, FMT_MAJOR, FMT_MINOR);
	if (major < FMT_MAJOR)
		return fail(l, "recording format version %u.%u is not supported (this pyprobe "
			       "reads %u.%u)",
			    major, minor, FMT_MAJOR, FMT_MINOR);
	l->minor = minor;
	if ((size_t)k < sizeof h)
		return 0;
	uint32_t size = get_le32(h + 12);
	if (size < FILE_HDR_SIZE || size > FILE_HDR_MAX)
		return fail(l, "corrupt recording: header size %u", size);
	/* Header fields a newer minor version appended: skipped. */
	uint8_t skip[FILE_HDR_MAX];
	k = read_upto(l, skip, size - FILE_HDR_SIZE);
	if (k < 0)
		return -1;
	l->off = size;
	return (size_t)k == size - FILE_HDR_SIZE;
}

struct pp_profile *pp_recording_load(const char *path, int *truncated, char *err,
				     size_t errlen)
{
	int trunc = 0;
	struct loader l = {.err = err, .errlen = errlen, .block = 1};
	if (err && errlen)
		err[0] = '\0';
	if (truncated)
		*truncated = 0;
	l.f = fopen(path, "rb");
	if (!l.f) {
		fail(&l, "%s", strerror(errno));
		return NULL;
	}
	struct stat sb;
	if (fstat(fileno(l.f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fail(&l, "%s", strerror(EISDIR));
		fclose(l.f);
		return NULL;
	}
	l.p = pp_profile_new();
	if (!l.p) {
		fail(&l, "out of memory");
		fclose(l.f);
		return NULL;
	}
	int r = load_header(&l);
	if (r == 0)
		trunc = 1;
	while (r == 1) {
		r = load_block(&l, &trunc);
		l.block++;
	}
	fclose(l.f);
	free(l.comp);
	free(l.raw);
	free(l.str);
	if (r < 0) {
		pp_profile_free(l.p);
		return NULL;
	}
	/* 1.1 writers end a recording with a block that says so: without
	 * it, the file was cut short, even at a block boundary. (A 1.0 file
	 * never says; it is cut short only when cut inside a block.) */
	if (l.minor >= 1 && !l.finished)
		trunc = 1;
	if (truncated)
		*truncated = trunc;
	return l.p;
}
