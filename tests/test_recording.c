/* .pyprobe recordings (src/recording.h, docs/format.md): exact round trips
 * through several flushes, a file cut at every byte, bit flips in the file
 * and in the (re-checksummed) payloads, crafted inconsistencies, write
 * errors, and random inputs. Every load either yields a consistent profile
 * or fails with a message; ASan/UBSan check the rest. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "src/profile.h"
#include "src/recording.h"

/* ---- helpers ------------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
	/* tmpfs when there is one: thousands of small files are written */
	snprintf(dir, sizeof dir, "%s/pp_rec_XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static size_t read_all(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	size_t n = fread(buf, 1, cap, f);
	cr_assert(feof(f) || n < cap, "%s larger than the test buffer", path);
	fclose(f);
	return n;
}

static void write_all(const char *path, const uint8_t *buf, size_t n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

static long file_size(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct counts {
	size_t s, f, k, t, n;
};

static struct counts counts_of(const struct pp_profile *p)
{
	struct counts c;
	c.s = pp_profile_nstrings(p);
	pp_profile_frames(p, &c.f);
	pp_profile_stacks(p, &c.k);
	pp_profile_threads(p, &c.t);
	pp_profile_samples(p, &c.n);
	return c;
}

static void assert_meta_eq(const struct pp_profile_meta *a, const struct pp_profile_meta *b)
{
	cr_assert_eq(a->title, b->title);
	cr_assert_eq(a->cmdline, b->cmdline);
	cr_assert_eq(a->python_version, b->python_version);
	cr_assert_eq(a->pid, b->pid);
	cr_assert_eq(a->rate_hz, b->rate_hz);
	cr_assert_eq(a->start_unix_ns, b->start_unix_ns);
	cr_assert_eq(a->duration_ns, b->duration_ns);
	cr_assert_eq(a->samples_dropped, b->samples_dropped);
	cr_assert_eq(a->ticks_missed, b->ticks_missed);
	cr_assert_eq(a->samples_cut, b->samples_cut);
	cr_assert_eq(a->cut_depth_sum, b->cut_depth_sum);
	cr_assert_eq(a->cut_walked_sum, b->cut_walked_sum);
	cr_assert_eq(a->samples_unreadable, b->samples_unreadable);
	/* not `finished`: the writer sets it, not the profile */
}

/* Every table of `got` equals the first entries of the same table of
 * `want` (all of them when exact). */
static void assert_prefix(const struct pp_profile *want, const struct pp_profile *got, int exact)
{
	struct counts w = counts_of(want), g = counts_of(got);
	if (exact) {
		cr_assert_eq(g.s, w.s);
		cr_assert_eq(g.f, w.f);
		cr_assert_eq(g.k, w.k);
		cr_assert_eq(g.t, w.t);
		cr_assert_eq(g.n, w.n);
	}
	cr_assert(g.s <= w.s && g.f <= w.f && g.k <= w.k && g.t <= w.t && g.n <= w.n);
	for (size_t i = 0; i < g.s; i++)
		cr_assert_str_eq(pp_profile_string(got, (pp_str_id)i),
				 pp_profile_string(want, (pp_str_id)i), "string %zu", i);
	size_t n;
	const struct pp_pframe *fa = pp_profile_frames(want, &n), *fb = pp_profile_frames(got, &n);
	for (size_t i = 0; i < g.f; i++) {
		cr_assert_eq(fa[i].function, fb[i].function);
		cr_assert_eq(fa[i].name, fb[i].name);
		cr_assert_eq(fa[i].file, fb[i].file);
		cr_assert_eq(fa[i].line, fb[i].line);
		cr_assert_eq(fa[i].firstlineno, fb[i].firstlineno);
		cr_assert_eq(fa[i].kind, fb[i].kind);
	}
	const struct pp_pstack *sa = pp_profile_stacks(want, &n), *sb = pp_profile_stacks(got, &n);
	for (size_t i = 0; i < g.k; i++) {
		cr_assert_eq(sa[i].parent, sb[i].parent, "stack %zu", i);
		cr_assert_eq(sa[i].frame, sb[i].frame);
		cr_assert_eq(sa[i].depth, sb[i].depth);
	}
	const struct pp_pthread *ta = pp_profile_threads(want, &n), *tb = pp_profile_threads(got, &n);
	for (size_t i = 0; i < g.t; i++) {
		cr_assert_eq(ta[i].pid, tb[i].pid);
		cr_assert_eq(ta[i].native_id, tb[i].native_id);
		cr_assert_eq(ta[i].name, tb[i].name);
		cr_assert_eq(ta[i].cmdline, tb[i].cmdline);
	}
	const struct pp_psample *xa = pp_profile_samples(want, &n), *xb = pp_profile_samples(got, &n);
	for (size_t i = 0; i < g.n; i++) {
		cr_assert_eq(xa[i].time_ns, xb[i].time_ns, "sample %zu", i);
		cr_assert_eq(xa[i].thread, xb[i].thread);
		cr_assert_eq(xa[i].stack, xb[i].stack);
		cr_assert_eq(xa[i].gil, xb[i].gil);
		cr_assert_eq(xa[i].os, xb[i].os);
	}
	/* the sample tasks (1.3) of the samples loaded */
	size_t na, nb;
	const struct pp_sample_task *qa = pp_profile_sample_tasks(want, &na),
				    *qb = pp_profile_sample_tasks(got, &nb);
	size_t expect = 0;
	while (expect < na && qa[expect].sample < g.n)
		expect++;
	/* none at all when a flipped bit made the file an older minor's,
	 * which skips them */
	cr_assert(nb == expect || (!exact && nb == 0), "sample tasks: %zu of %zu", nb, expect);
	for (size_t i = 0; i < nb; i++) {
		cr_assert_eq(qb[i].sample, qa[i].sample, "sample task %zu", i);
		cr_assert_eq(qb[i].task, qa[i].task, "sample task %zu", i);
	}
}

static int count_frames(const struct pp_view_frame *const *f, size_t n,
			const struct pp_psample *s, void *ctx)
{
	(void)s;
	for (size_t i = 0; i < n; i++)
		*(size_t *)ctx += strlen(f[i]->function) + strlen(f[i]->file) > 0;
	return 0;
}

/* What any loaded profile must satisfy, whatever the file held. */
static void assert_consistent(const struct pp_profile *p)
{
	struct counts c = counts_of(p);
	cr_assert_str_eq(pp_profile_string(p, 0), "");
	size_t n;
	const struct pp_pframe *f = pp_profile_frames(p, &n);
	for (size_t i = 0; i < c.f; i++) {
		cr_assert(f[i].function < c.s && f[i].name < c.s && f[i].file < c.s);
		cr_assert(f[i].kind <= PP_FRAME_NATIVE);
	}
	const struct pp_pstack *s = pp_profile_stacks(p, &n);
	cr_assert_eq(s[0].depth, 0);
	for (size_t i = 1; i < c.k; i++) {
		cr_assert(s[i].parent < i && s[i].frame < c.f && s[i].frame > 0);
		cr_assert_eq(s[i].depth, s[s[i].parent].depth + 1);
	}
	const struct pp_pthread *t = pp_profile_threads(p, &n);
	for (size_t i = 0; i < c.t; i++)
		cr_assert(t[i].name < c.s && t[i].cmdline < c.s);
	const struct pp_psample *x = pp_profile_samples(p, &n);
	for (size_t i = 0; i < c.n; i++) {
		cr_assert(x[i].thread < c.t && x[i].stack < c.k);
		cr_assert(x[i].gil <= PP_SGIL_RELEASED && x[i].os <= PP_SOS_ZOMBIE);
	}
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	cr_assert(m->title < c.s && m->cmdline < c.s && m->python_version < c.s);
	/* and it renders: every view walks every sample */
	struct pp_view_opts o = {.idle = true, .threads = true, .processes = true,
				 .gil_markers = true};
	struct pp_view *v = pp_view_new(p, &o);
	cr_assert_not_null(v);
	size_t seen = 0;
	cr_assert_eq(pp_view_each(v, count_frames, &seen), 0);
	pp_view_free(v);
}

/* Load `path`: either a consistent profile, or NULL with a message. */
static struct pp_profile *load_any(const char *path, int *trunc, char *err, size_t errlen)
{
	struct pp_profile *q = pp_recording_load(path, trunc, err, errlen);
	if (q)
		assert_consistent(q);
	else
		cr_assert(err[0] != '\0', "NULL without a message");
	return q;
}

/* Grow the profile: `round` selects names, so later rounds add new
 * strings, frames and stacks and reuse old ones. */
static const char *const names[] = {"main", "función_ñ", "工作", "λx", "run", "😀emoji",
				    "Ünïcödé.métho∂", "<module>", "_bootstrap_inner", "x"};

static pp_frame_id add_frame(struct pp_profile *p, const char *fn, const char *file, int line,
			     int first, int kind)
{
	char q[96];
	snprintf(q, sizeof q, "Klass.%s", fn);
	struct pp_pframe f = {pp_profile_str(p, q), pp_profile_str(p, fn), pp_profile_str(p, file),
			      line, first, (uint8_t)kind};
	return pp_profile_frame(p, &f);
}

static void grow_profile(struct pp_profile *p, int round, int nsamples, int maxdepth,
			 uint64_t *t)
{
	char file[64], tname[32];
	snprintf(file, sizeof file, "/srv/app/módulo_%d.py", round % 4);
	snprintf(tname, sizeof tname, "Thread-%d ✓", round);
	struct pp_pthread th = {4242, 140000000000000ull + (uint64_t)round,
				pp_profile_str(p, tname), pp_profile_str(p, "python3 app.py --ü")};
	uint32_t tid = pp_profile_thread(p, &th);
	cr_assert_neq(tid, UINT32_MAX);
	for (int i = 0; i < nsamples; i++) {
		pp_stack_id s = PP_EMPTY_STACK;
		int depth = (int)(rnd() % (uint64_t)(maxdepth + 1));
		for (int d = 0; d < depth; d++) {
			const char *fn = names[rnd() % 10];
			int line = (int)(rnd() % 50) - 1; /* -1: none */
			if (rnd() % 97 == 0)
				line = rnd() % 2 ? INT32_MAX : INT32_MIN;
			pp_frame_id f = add_frame(p, fn, file, line, (int)(rnd() % 7),
						  rnd() % 31 == 0 ? (int)(rnd() % 4) : 0);
			cr_assert_neq(f, UINT32_MAX);
			s = pp_profile_stack(p, s, f);
			cr_assert_neq(s, UINT32_MAX);
		}
		/* times mostly increase, sometimes jump back or wrap */
		*t += rnd() % 3 == 0 ? 0 : 1000000 + rnd() % 5000;
		if (rnd() % 211 == 0)
			*t -= 7777777;
		if (rnd() % 1009 == 0)
			*t = UINT64_MAX - rnd() % 3;
		size_t nt;
		pp_profile_threads(p, &nt);
		struct pp_psample x = {*t, (uint32_t)(rnd() % nt), s, (uint8_t)(rnd() % 4),
				       (uint8_t)(rnd() % 6)};
		cr_assert_eq(pp_profile_add_sample(p, &x), 0);
		/* an asyncio Task on some samples (1.3), rnd() untouched */
		if ((i + round) % 3 == 0) {
			char task[32];
			snprintf(task, sizeof task, "Task-%d ✓", (i + round) % 5);
			size_t ns;
			pp_profile_samples(p, &ns);
			cr_assert_eq(pp_profile_set_sample_task(p, ns - 1, pp_profile_str(p, task)), 0);
		}
	}
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->title = pp_profile_str(p, round % 2 ? "titre « été »" : "title");
	m->cmdline = th.cmdline;
	m->python_version = pp_profile_str(p, "3.12.3");
	m->pid = 4242;
	m->rate_hz = 100;
	m->start_unix_ns = 1700000000123456789ull;
	m->duration_ns = (uint64_t)round * 1000000000ull;
	m->samples_dropped = (uint64_t)round * 3;
	m->ticks_missed = round == 7 ? UINT64_MAX : (uint64_t)round;
	m->samples_cut = (uint64_t)round * 5;
	m->cut_depth_sum = (uint64_t)round * 5 * 17;
	m->cut_walked_sum = round == 9 ? UINT64_MAX : (uint64_t)round * 5 * 23;
	m->samples_unreadable = (uint64_t)round % 3;
	/* what the profile says is not what the writer writes */
	m->finished = (uint8_t)(round % 2);
}

/* A recording's blocks, decompressed, for tests that rewrite payloads
 * (with valid checksums, so the loader's parser is what gets tested). */
#define MAXBLK 16
#define MAXPAY 8192
struct blocks {
	uint8_t hdr[16];
	uint8_t pay[MAXBLK][MAXPAY];
	size_t len[MAXBLK];
	int n;
};

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static void set_le32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void unpack(const uint8_t *f, size_t n, struct blocks *b)
{
	cr_assert_geq(n, 16);
	memcpy(b->hdr, f, 16);
	b->n = 0;
	for (size_t off = 16; off < n; b->n++) {
		cr_assert_lt(b->n, MAXBLK);
		cr_assert_eq(memcmp(f + off, "PPBK", 4), 0);
		uint32_t clen = le32(f + off + 4), rlen = le32(f + off + 8);
		cr_assert_eq(crc32(0, f + off + 16, clen), le32(f + off + 12));
		uLongf out = MAXPAY;
		cr_assert_eq(uncompress(b->pay[b->n], &out, f + off + 16, clen), Z_OK);
		cr_assert_eq(out, rlen);
		b->len[b->n] = out;
		off += 16 + clen;
	}
}

/* Pack blocks into buf; the offset where each block ends in ends[]. */
static size_t pack(const struct blocks *b, uint8_t *buf, size_t cap, size_t *ends)
{
	memcpy(buf, b->hdr, 16);
	size_t off = 16;
	for (int i = 0; i < b->n; i++) {
		uLongf clen = (uLongf)(cap - off - 16);
		cr_assert_eq(compress(buf + off + 16, &clen, b->pay[i], b->len[i]), Z_OK);
		memcpy(buf + off, "PPBK", 4);
		set_le32(buf + off + 4, (uint32_t)clen);
		set_le32(buf + off + 8, (uint32_t)b->len[i]);
		set_le32(buf + off + 12, (uint32_t)crc32(0, buf + off + 16, (uInt)clen));
		off += 16 + clen;
		if (ends)
			ends[i] = off;
	}
	return off;
}

static size_t put_var(uint8_t *b, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	return n;
}

/* A small recording: 4 flushes. Bounds and snapshots per block. */
#define SMALL_FLUSHES 4
struct small {
	struct pp_profile *p;
	long ends[SMALL_FLUSHES + 1]; /* ends[0]: the header */
	struct counts c[SMALL_FLUSHES + 1];
	struct pp_profile_meta m[SMALL_FLUSHES + 1];
};

static void small_recording(const char *path, struct small *s)
{
	s->p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	s->ends[0] = file_size(path);
	s->c[0] = counts_of(s->p);
	s->m[0] = *pp_profile_meta(s->p);
	uint64_t t = 0;
	for (int i = 1; i <= SMALL_FLUSHES; i++) {
		grow_profile(s->p, i, 3, 3, &t);
		if (i == SMALL_FLUSHES)
			cr_assert_eq(pp_recording_close(w, s->p), 0);
		else
			cr_assert_eq(pp_recording_flush(w, s->p), 0);
		s->ends[i] = file_size(path);
		cr_assert_gt(s->ends[i], s->ends[i - 1]);
		s->c[i] = counts_of(s->p);
		s->m[i] = *pp_profile_meta(s->p);
	}
}

static int counts_eq(struct counts a, struct counts b)
{
	return a.s == b.s && a.f == b.f && a.k == b.k && a.t == b.t && a.n == b.n;
}

/* ---- tests ---------------------------------------------------------------- */

TestSuite(recording, .init = make_dir, .fini = remove_dir);

Test(recording, round_trip_through_many_flushes)
{
	char path[128];
	path_in(path, sizeof path, "rt.pyprobe");
	struct pp_profile *p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	uint64_t t = 5;
	long last = file_size(path);
	for (int round = 0; round < 12; round++) {
		grow_profile(p, round, 600, 11, &t);
		cr_assert_eq(pp_recording_flush(w, p), 0);
		cr_assert_gt(file_size(path), last, "each flush appends a block");
		last = file_size(path);
		/* the file on disk is always a complete recording, not
		 * finished yet: cut short if the writer died now */
		if (round % 4 == 1) {
			char err[256];
			int trunc = -1;
			struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
			cr_assert_not_null(q, "%s", err);
			cr_assert_eq(trunc, 1);
			cr_assert_eq(pp_profile_meta_c(q)->finished, 0);
			assert_prefix(p, q, 1);
			assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
			pp_profile_free(q);
		}
	}
	/* nothing new: no block; new metadata alone: a block */
	cr_assert_eq(pp_recording_flush(w, p), 0);
	cr_assert_eq(file_size(path), last);
	pp_profile_meta(p)->duration_ns += 1;
	cr_assert_eq(pp_recording_flush(w, p), 0);
	cr_assert_gt(file_size(path), last);
	grow_profile(p, 12, 50, 11, &t);
	cr_assert_eq(pp_recording_close(w, p), 0, "%s", strerror(errno));

	struct counts c = counts_of(p);
	cr_assert_gt(c.n, 7000);
	cr_assert_gt(c.k, 1000);
	cr_assert_eq(c.t, 13);

	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	cr_assert_eq(pp_profile_meta_c(q)->finished, 1);
	assert_prefix(p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
	assert_consistent(q);
	pp_profile_free(q);
	pp_profile_free(p);
}

Test(recording, empty_profile_and_null_truncated)
{
	char path[128];
	path_in(path, sizeof path, "empty.pyprobe");
	struct pp_profile *p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	cr_assert_eq(pp_recording_close(w, p), 0);
	char err[256];
	struct pp_profile *q = pp_recording_load(path, NULL, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	assert_prefix(p, q, 1);
	pp_profile_free(q);
	pp_profile_free(p);
}

Test(recording, big_flush_splits_into_blocks)
{
	char path[128];
	path_in(path, sizeof path, "big.pyprobe");
	struct pp_profile *p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	/* 12 MiB of strings in one flush: over the writer's 8 MiB block size */
	size_t len = 1u << 20;
	char *s = malloc(len + 1);
	cr_assert_not_null(s);
	for (int i = 0; i < 12; i++) {
		for (size_t j = 0; j < len; j++)
			s[j] = (char)('a' + (j * 7 + (size_t)i) % 26);
		memcpy(s, "ñ", 2);
		s[len] = '\0';
		s[len - 1] = (char)('A' + i);
		cr_assert_neq(pp_profile_str(p, s), UINT32_MAX);
	}
	free(s);
	struct pp_pthread th = {1, 2, pp_profile_nstrings(p) - 1, 3};
	pp_profile_thread(p, &th);
	struct pp_psample x = {10, 0, PP_EMPTY_STACK, PP_SGIL_HELD, PP_SOS_RUNNING};
	pp_profile_add_sample(p, &x);
	pp_profile_meta(p)->title = 11;
	cr_assert_eq(pp_recording_close(w, p), 0);

	/* count the blocks */
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	uint8_t h[16];
	cr_assert_eq(fread(h, 1, 16, f), 16);
	int nblocks = 0;
	while (fread(h, 1, 16, f) == 16) {
		cr_assert_eq(memcmp(h, "PPBK", 4), 0);
		cr_assert_eq(fseek(f, (long)le32(h + 4), SEEK_CUR), 0);
		nblocks++;
	}
	fclose(f);
	cr_assert_geq(nblocks, 2);

	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	assert_prefix(p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
	pp_profile_free(q);
	pp_profile_free(p);
}

static uint8_t file_buf[1 << 16];
static uint8_t work_buf[1 << 16];

Test(recording, truncated_at_every_byte_loads_a_prefix_of_blocks)
{
	char path[128], cut[128];
	path_in(path, sizeof path, "small.pyprobe");
	path_in(cut, sizeof cut, "cut.pyprobe");
	struct small s;
	small_recording(path, &s);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	cr_assert_eq((long)n, s.ends[SMALL_FLUSHES]);
	struct pp_profile *fresh = pp_profile_new();
	for (size_t len = 0; len <= n; len++) {
		write_all(cut, file_buf, len);
		char err[256] = "";
		int trunc = -1;
		struct pp_profile *q = pp_recording_load(cut, &trunc, err, sizeof err);
		if (len == 0) {
			cr_assert_null(q);
			cr_assert(strstr(err, "empty"), "%s", err);
			continue;
		}
		cr_assert_not_null(q, "cut at %zu: %s", len, err);
		assert_consistent(q);
		int k = 0;
		while (k < SMALL_FLUSHES && s.ends[k + 1] <= (long)len)
			k++;
		if ((long)len < s.ends[0]) {
			cr_assert(counts_eq(counts_of(q), counts_of(fresh)));
			cr_assert_eq(trunc, 1, "cut in the header at %zu", len);
		} else {
			cr_assert(counts_eq(counts_of(q), s.c[k]), "cut at %zu: blocks 1..%d", len, k);
			assert_meta_eq(pp_profile_meta_c(q), &s.m[k]);
			/* cut short: inside a block, or at the end of one
			 * before the last (which alone says finished) */
			int whole = (long)len == s.ends[SMALL_FLUSHES];
			cr_assert_eq(trunc, !whole, "cut at %zu", len);
			cr_assert_eq(pp_profile_meta_c(q)->finished, k == SMALL_FLUSHES);
		}
		assert_prefix(s.p, q, 0);
		pp_profile_free(q);
	}
	pp_profile_free(fresh);
	pp_profile_free(s.p);
}

Test(recording, bit_flips_in_the_file)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "small.pyprobe");
	path_in(bad, sizeof bad, "bad.pyprobe");
	struct small s;
	small_recording(path, &s);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	int loaded = 0, failed = 0;
	for (size_t i = 0; i < n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(work_buf, file_buf, n);
			work_buf[i] ^= (uint8_t)(1u << bit);
			write_all(bad, work_buf, n);
			char err[256] = "";
			int trunc = -1;
			struct pp_profile *q = load_any(bad, &trunc, err, sizeof err);
			if (q) {
				loaded++;
				/* never made up: a prefix of what was written */
				assert_prefix(s.p, q, 0);
				/* a flip in the last block's data: it is dropped */
				if (i >= (size_t)s.ends[SMALL_FLUSHES - 1] + 16 && trunc)
					cr_assert(counts_eq(counts_of(q), s.c[SMALL_FLUSHES - 1]));
				pp_profile_free(q);
			} else {
				failed++;
			}
		}
	}
	cr_assert_gt(failed, 0);
	cr_assert_gt(loaded, 0, "flips in the minor version or the last block load");
	pp_profile_free(s.p);
}

Test(recording, bit_flips_in_every_payload_with_valid_checksums)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "small.pyprobe");
	path_in(bad, sizeof bad, "bad.pyprobe");
	struct small s;
	small_recording(path, &s);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	static struct blocks b;
	unpack(file_buf, n, &b);
	cr_assert_eq(b.n, SMALL_FLUSHES);
	int loaded = 0, failed = 0;
	for (int k = 0; k < b.n; k++) {
		for (size_t i = 0; i < b.len[k]; i++) {
			for (int bit = 0; bit < 8; bit++) {
				b.pay[k][i] ^= (uint8_t)(1u << bit);
				size_t m = pack(&b, work_buf, sizeof work_buf, NULL);
				b.pay[k][i] ^= (uint8_t)(1u << bit);
				write_all(bad, work_buf, m);
				char err[256] = "";
				int trunc = -1;
				struct pp_profile *q = load_any(bad, &trunc, err, sizeof err);
				if (q) {
					loaded++;
					/* a flip of the finished flag says cut short */
					cr_assert_eq(trunc, !pp_profile_meta_c(q)->finished);
					pp_profile_free(q);
				} else {
					failed++;
					cr_assert(strstr(err, "corrupt recording: "), "%s", err);
				}
			}
		}
	}
	/* flipped names and numbers load (they are just other data) */
	cr_assert_gt(loaded, 0);
	cr_assert_gt(failed, 0);
	pp_profile_free(s.p);
}

/* Rewrite the small recording with block k's payload replaced. */
static struct pp_profile *load_with_payload(const char *path, struct blocks *b, int k,
					    const uint8_t *pay, size_t len, char *err,
					    size_t errlen, int *trunc)
{
	static uint8_t saved[MAXPAY];
	size_t slen = b->len[k];
	memcpy(saved, b->pay[k], slen);
	memcpy(b->pay[k], pay, len);
	b->len[k] = len;
	size_t m = pack(b, work_buf, sizeof work_buf, NULL);
	memcpy(b->pay[k], saved, slen);
	b->len[k] = slen;
	write_all(path, work_buf, m);
	err[0] = '\0';
	return load_any(path, trunc, err, errlen);
}

Test(recording, inconsistent_content_is_corrupt)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "small.pyprobe");
	path_in(bad, sizeof bad, "bad.pyprobe");
	struct small s;
	small_recording(path, &s);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	static struct blocks b;
	unpack(file_buf, n, &b);
	char err[256];
	int trunc;
	uint8_t pay[256];
	size_t nstr = s.c[0].s, nfr = s.c[0].f, nst = s.c[0].k;
	struct {
		const char *name, *expect;
		uint8_t bytes[32];
		size_t len;
	} cases[] = {
		/* strings section (1): first id, count, then len+bytes */
		{"wrong first id", "starts at id", {1, 4, (uint8_t)(nstr + 1), 1, 1, 'a'}, 6},
		{"repeated string", "repeats", {1, 6, (uint8_t)nstr, 2, 1, 'a', 1, 'a'}, 8},
		{"empty string again", "repeats", {1, 3, (uint8_t)nstr, 1, 0}, 5},
		{"NUL in a string", "NUL", {1, 5, (uint8_t)nstr, 1, 2, 'a', 0}, 7},
		{"string past its section", "length past", {1, 5, (uint8_t)nstr, 1, 9, 'a', 'b'}, 7},
		{"absurd count", "cannot fit", {1, 7, (uint8_t)nstr, 0xff, 0xff, 0xff, 0xff, 0x0f, 0}, 9},
		/* huge claimed counts cost nothing: checked against the bytes */
		{"2^35 samples in 5 bytes", "cannot fit",
		 {5, 11, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0, 0}, 13},
		{"2^63 threads", "cannot fit",
		 {4, 14, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 1, 0}, 16},
		{"a count one past the bytes", "cannot fit", {5, 7, 0, 2, 0, 0, 0, 0, 0}, 9},
		{"leftover bytes", "left over", {1, 5, (uint8_t)nstr, 1, 1, 'a', 'b'}, 7},
		/* frames (2): function, name, file, line, first, kind */
		{"frame names an undefined string", "refers to string",
		 {2, 8, (uint8_t)nfr, 1, 0x7f, 0, 0, 0, 0, 0}, 10},
		{"frame of unknown kind", "unknown kind", {2, 8, (uint8_t)nfr, 1, 0, 0, 0, 0, 0, 9}, 10},
		{"frame line over 32 bits", "bad field",
		 {2, 12, (uint8_t)nfr, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0}, 14},
		{"sentinel frame again", "repeats", {2, 8, (uint8_t)nfr, 1, 0, 0, 0, 1, 0, 3}, 10},
		/* stacks (3): parent, frame */
		{"stack on an undefined frame", "refers to frame", {3, 4, (uint8_t)nst, 1, 0, 0x7f}, 6},
		{"stack on the sentinel frame", "sentinel", {3, 4, (uint8_t)nst, 1, 0, 0}, 6},
		{"stack on a later stack", "not an earlier", {3, 4, (uint8_t)nst, 1, (uint8_t)nst, 0}, 6},
		/* threads (4) and samples (5) before any are defined */
		{"thread names an undefined string", "refers to string", {4, 6, 0, 1, 1, 1, 0x7f, 0}, 8},
		{"sample of an undefined thread", "refers to thread", {5, 7, 0, 1, 0, 0, 0, 0, 0}, 9},
		/* sections */
		{"sections out of order", "after section",
		 {6, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, 18},
		{"section past the block", "bad section header", {1, 40, 0}, 3},
		{"overlong varint", "bad section header",
		 {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 12},
		{"varint over 64 bits", "bad section header",
		 {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}, 11},
		{"metadata names an undefined string", "refers to string",
		 {6, 14, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 16},
		{"metadata cut short", "metadata", {6, 3, 0, 0, 0}, 5},
		/* 1.1: five more fields, the last 0 or 1 */
		{"1.1 metadata without its fields", "metadata: bad field",
		 {6, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 11},
		{"finished is neither 0 nor 1", "finished is 2",
		 {6, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, 16},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		memcpy(pay, cases[i].bytes, cases[i].len);
		struct pp_profile *q =
			load_with_payload(bad, &b, 0, pay, cases[i].len, err, sizeof err, &trunc);
		cr_assert_null(q, "%s: loaded", cases[i].name);
		cr_assert(strncmp(err, "corrupt recording: block 1", 26) == 0, "%s: %s",
			  cases[i].name, err);
		cr_assert(strstr(err, cases[i].expect), "%s: %s", cases[i].name, err);
		cr_assert_null(strchr(err, '\n'));
	}

	/* a section a newer minor version added, and metadata fields it
	 * appended, are skipped */
	memcpy(pay, b.pay[b.n - 1], b.len[b.n - 1]);
	size_t len = b.len[b.n - 1];
	/* grow the metadata by three bytes (sections after it, 1.3's sample
	 * tasks, move along) */
	{
		/* find the metadata section: walk sections */
		size_t off = 0, meta_off = 0, meta_end = 0;
		while (off < len) {
			uint64_t tag = 0, slen = 0;
			int sh = 0;
			size_t start = off;
			do
				tag |= (uint64_t)(pay[off] & 0x7f) << sh, sh += 7;
			while (pay[off++] & 0x80);
			sh = 0;
			do
				slen |= (uint64_t)(pay[off] & 0x7f) << sh, sh += 7;
			while (pay[off++] & 0x80);
			off += slen;
			if (tag == 6)
				meta_off = start, meta_end = off;
		}
		cr_assert_eq(pay[meta_off], 6);
		cr_assert_lt(pay[meta_off + 1], 0x7d, "metadata length fits one byte");
		pay[meta_off + 1] += 3;
		memmove(pay + meta_end + 3, pay + meta_end, len - meta_end);
		pay[meta_end] = 0x81;
		pay[meta_end + 1] = 0x01;
		pay[meta_end + 2] = 0x07;
		len += 3;
		len += put_var(pay + len, 99); /* section 99, 2 bytes */
		pay[len++] = 2;
		pay[len++] = 0xaa;
		pay[len++] = 0xbb;
	}
	struct pp_profile *q =
		load_with_payload(bad, &b, b.n - 1, pay, len, err, sizeof err, &trunc);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	assert_prefix(s.p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(s.p));
	pp_profile_free(q);

	/* an unknown GIL / OS state (a newer minor version's) reads as unknown */
	size_t nth = s.c[SMALL_FLUSHES].t, nsa = s.c[SMALL_FLUSHES].n;
	(void)nth;
	len = 0;
	pay[len++] = 5;
	pay[len++] = 7;
	pay[len++] = (uint8_t)nsa;
	pay[len++] = 1;
	pay[len++] = 2; /* +1 ns */
	pay[len++] = 0;
	pay[len++] = 0;
	pay[len++] = 200;
	pay[len++] = 77;
	static struct blocks b2;
	memcpy(&b2, &b, sizeof b);
	b2.len[b2.n] = len;
	memcpy(b2.pay[b2.n], pay, len);
	b2.n++;
	size_t m = pack(&b2, work_buf, sizeof work_buf, NULL);
	write_all(bad, work_buf, m);
	q = load_any(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	size_t ns;
	const struct pp_psample *xs = pp_profile_samples(q, &ns);
	cr_assert_eq(ns, nsa + 1);
	cr_assert_eq(xs[nsa].time_ns, 1);
	cr_assert_eq(xs[nsa].gil, PP_SGIL_UNKNOWN);
	cr_assert_eq(xs[nsa].os, PP_SOS_UNKNOWN);
	pp_profile_free(q);
	pp_profile_free(s.p);
}

Test(recording, framing_errors)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "small.pyprobe");
	path_in(bad, sizeof bad, "bad.pyprobe");
	struct small s;
	small_recording(path, &s);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	char err[256];
	int trunc;
	struct pp_profile *q;

	/* wrong magic */
	memcpy(work_buf, file_buf, n);
	work_buf[1] = 'Q';
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "not a pyprobe recording"), "%s", err);
	write_all(bad, (const uint8_t *)"#!/bin/sh\necho hi\n", 18);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "not a pyprobe recording"), "%s", err);

	/* a future major version names both versions; a newer minor loads */
	memcpy(work_buf, file_buf, n);
	work_buf[8] = 2;
	work_buf[10] = 5;
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "2.5") && strstr(err, "(1.3)") && strstr(err, "newer"), "%s", err);
	work_buf[8] = 1;
	write_all(bad, work_buf, n);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	assert_prefix(s.p, q, 1);
	pp_profile_free(q);
	work_buf[8] = 0;
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "not supported"), "%s", err);

	/* a longer header (a newer minor's fields) is skipped */
	memcpy(work_buf, file_buf, 16);
	work_buf[12] = 20;
	memset(work_buf + 16, 0xee, 4);
	memcpy(work_buf + 20, file_buf + 16, n - 16);
	write_all(bad, work_buf, n + 4);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	assert_prefix(s.p, q, 1);
	pp_profile_free(q);
	work_buf[12] = 8;
	write_all(bad, work_buf, n + 4);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "header size"), "%s", err);

	/* a bad checksum: truncation at the end, corruption before it */
	size_t b1 = (size_t)s.ends[0], blast = (size_t)s.ends[SMALL_FLUSHES - 1];
	memcpy(work_buf, file_buf, n);
	work_buf[blast + 12] ^= 1;
	write_all(bad, work_buf, n);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	cr_assert(counts_eq(counts_of(q), s.c[SMALL_FLUSHES - 1]));
	pp_profile_free(q);
	memcpy(work_buf, file_buf, n);
	work_buf[b1 + 12] ^= 1;
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "corrupt recording: block 1") && strstr(err, "checksum"), "%s",
		  err);

	/* a bad last block followed by zeros: still truncated */
	memcpy(work_buf, file_buf, n);
	work_buf[blast + 12] ^= 1;
	memset(work_buf + n, 0, 100);
	write_all(bad, work_buf, n + 100);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	cr_assert(counts_eq(counts_of(q), s.c[SMALL_FLUSHES - 1]));
	pp_profile_free(q);

	/* a zero-filled tail (a crash after the size grew): truncated */
	memcpy(work_buf, file_buf, n);
	memset(work_buf + n, 0, 5000);
	write_all(bad, work_buf, n + 5000);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	assert_prefix(s.p, q, 1);
	pp_profile_free(q);
	/* ...but garbage after the last block is corruption */
	work_buf[n + 4000] = 1;
	write_all(bad, work_buf, n + 5000);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "bad block magic"), "%s", err);

	/* sizes over the caps, or impossible for deflate */
	memcpy(work_buf, file_buf, n);
	set_le32(work_buf + b1 + 8, 300u << 20);
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "cap"), "%s", err);
	memcpy(work_buf, file_buf, n);
	set_le32(work_buf + b1 + 8, 200u << 20); /* from a few hundred bytes */
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "over the 256:1 cap"), "%s", err);
	memcpy(work_buf, file_buf, n);
	set_le32(work_buf + b1 + 4, 0xfffffff0u);
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "cannot hold"), "%s", err);
	/* a length longer than the file: cut short, no allocation of it */
	memcpy(work_buf, file_buf, n);
	set_le32(work_buf + blast + 4, le32(work_buf + blast + 4) + 1000);
	set_le32(work_buf + blast + 8, 100000);
	write_all(bad, work_buf, n);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	pp_profile_free(q);
	/* the right checksum over the wrong uncompressed length */
	memcpy(work_buf, file_buf, n);
	set_le32(work_buf + b1 + 8, le32(work_buf + b1 + 8) + 1);
	write_all(bad, work_buf, n);
	cr_assert_null(pp_recording_load(bad, &trunc, err, sizeof err));
	cr_assert(strstr(err, "decompress"), "%s", err);

	/* files that are not there or not files */
	cr_assert_null(pp_recording_load("/nonexistent/x.pyprobe", &trunc, err, sizeof err));
	cr_assert_str_eq(err, strerror(ENOENT), "callers prefix the path");
	cr_assert_null(pp_recording_load(dir, &trunc, err, sizeof err));
	cr_assert(strstr(err, "directory"), "%s", err);
	/* a tiny error buffer is not overrun */
	char tiny[8];
	cr_assert_null(pp_recording_load("/nonexistent/x.pyprobe", &trunc, tiny, sizeof tiny));
	cr_assert_eq(strlen(tiny), 7);
	pp_profile_free(s.p);
}

Test(recording, unwritable_paths)
{
	errno = 0;
	cr_assert_null(pp_recording_create("/nonexistent-pyprobe-dir/x.pyprobe"));
	cr_assert_eq(errno, ENOENT);
	errno = 0;
	cr_assert_null(pp_recording_create(dir));
	cr_assert_eq(errno, EISDIR);
	if (access("/dev/full", W_OK) == 0) {
		errno = 0;
		cr_assert_null(pp_recording_create("/dev/full"), "the header cannot be written");
		cr_assert_eq(errno, ENOSPC);
	}
	errno = 0;
	cr_assert_eq(pp_recording_flush(NULL, NULL), -1);
	cr_assert_eq(errno, EINVAL);
}

Test(recording, a_failed_write_keeps_the_file_valid_and_can_be_retried)
{
	char path[128];
	path_in(path, sizeof path, "fsize.pyprobe");
	signal(SIGXFSZ, SIG_IGN);
	struct pp_profile *p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	uint64_t t = 0;
	grow_profile(p, 1, 20, 11, &t);
	cr_assert_eq(pp_recording_flush(w, p), 0);
	long good = file_size(path);
	struct counts c1 = counts_of(p);

	struct rlimit old, lim;
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)good + 100;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	grow_profile(p, 2, 2000, 11, &t);
	errno = 0;
	cr_assert_eq(pp_recording_flush(w, p), -1);
	cr_assert_eq(errno, EFBIG);
	cr_assert_eq(file_size(path), good, "the partial block was cut off");
	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1, "not finished");
	cr_assert(counts_eq(counts_of(q), c1));
	pp_profile_free(q);

	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	grow_profile(p, 3, 10, 11, &t);
	cr_assert_eq(pp_recording_close(w, p), 0, "the retry writes everything");
	q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	assert_prefix(p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
	pp_profile_free(q);
	pp_profile_free(p);
}

Test(recording, random_inputs)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "small.pyprobe");
	path_in(bad, sizeof bad, "fuzz.pyprobe");
	struct small s;
	small_recording(path, &s);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	static struct blocks real, b;
	unpack(file_buf, n, &real);
	int loaded = 0;
	rng_state = 12345;
	for (int iter = 0; iter < 4000; iter++) {
		size_t m;
		int kind = iter % 5;
		if (kind == 0) { /* random bytes, sometimes behind a valid header */
			m = (size_t)(rnd() % 400);
			for (size_t i = 0; i < m; i++)
				work_buf[i] = (uint8_t)rnd();
			if (m >= 16 && rnd() % 2)
				memcpy(work_buf, file_buf, 16);
		} else if (kind == 1) { /* random payloads, valid framing */
			memcpy(b.hdr, real.hdr, 16);
			b.n = 1 + (int)(rnd() % 3);
			for (int k = 0; k < b.n; k++) {
				b.len[k] = (size_t)(rnd() % 200);
				for (size_t i = 0; i < b.len[k]; i++)
					b.pay[k][i] = (uint8_t)rnd();
			}
			m = pack(&b, work_buf, sizeof work_buf, NULL);
		} else if (kind == 2) { /* structured: sections of small varints */
			memcpy(b.hdr, real.hdr, 16);
			b.n = 1 + (int)(rnd() % 3);
			for (int k = 0; k < b.n; k++) {
				size_t len = 0;
				unsigned tag = 0;
				while (len < 180 && tag < 8) {
					tag += 1 + (unsigned)(rnd() % 3);
					uint8_t body[64];
					size_t bl = 0, want = (size_t)(rnd() % 40);
					body[bl++] = (uint8_t)(rnd() % 4 ? k * 3 + rnd() % 4 : rnd());
					body[bl++] = (uint8_t)(rnd() % 6);
					while (bl < want)
						body[bl++] = (uint8_t)(rnd() % 8 ? rnd() % 8 : rnd());
					b.pay[k][len++] = (uint8_t)tag;
					b.pay[k][len++] = (uint8_t)(rnd() % 16 ? bl : rnd());
					memcpy(b.pay[k] + len, body, bl);
					len += bl;
				}
				b.len[k] = len;
			}
			m = pack(&b, work_buf, sizeof work_buf, NULL);
		} else if (kind == 4) { /* a short pattern repeated: ratios near the cap */
			memcpy(b.hdr, real.hdr, 16);
			b.n = 1;
			uint8_t pat[16];
			size_t pl = 1 + (size_t)(rnd() % sizeof pat);
			for (size_t i = 0; i < pl; i++)
				pat[i] = (uint8_t)(rnd() % 3 ? rnd() % 4 : rnd());
			size_t len = 4 + (size_t)(rnd() % (MAXPAY - 4));
			/* a samples or unknown section over the rest */
			b.pay[0][0] = rnd() % 2 ? 5 : 9;
			b.pay[0][1] = 0xff;
			b.pay[0][2] = 0xff;
			b.pay[0][3] = 0x01;
			for (size_t i = 4; i < len; i++)
				b.pay[0][i] = pat[i % pl];
			b.len[0] = len;
			m = pack(&b, work_buf, sizeof work_buf, NULL);
		} else { /* a real recording with a few bytes of a payload smashed */
			memcpy(&b, &real, sizeof b);
			int k = (int)(rnd() % (uint64_t)b.n);
			int hits = 1 + (int)(rnd() % 4);
			for (int h = 0; h < hits && b.len[k]; h++)
				b.pay[k][rnd() % b.len[k]] = (uint8_t)rnd();
			if (rnd() % 4 == 0 && b.len[k])
				b.len[k] = (size_t)(rnd() % b.len[k]);
			m = pack(&b, work_buf, sizeof work_buf, NULL);
		}
		write_all(bad, work_buf, m);
		char err[256] = "";
		int trunc = -1;
		struct pp_profile *q = load_any(bad, &trunc, err, sizeof err);
		if (q) {
			loaded++;
			pp_profile_free(q);
		}
	}
	cr_assert_gt(loaded, 0);
	pp_profile_free(s.p);
}

/* ---- decompression bombs ------------------------------------------------- */

/* A file header of version 1.minor. */
static size_t put_header(uint8_t *f, unsigned minor)
{
	memcpy(f, "\x89PYPROBE", 8);
	f[8] = 1;
	f[9] = 0;
	f[10] = (uint8_t)minor;
	f[11] = 0;
	set_le32(f + 12, 16);
	return 16;
}

/* Append a block of payload pay[0..n) deflated at `level` to f (capacity
 * cap) at *off; its compressed length. */
static size_t put_block(uint8_t *f, size_t cap, size_t *off, const uint8_t *pay, size_t n,
			int level)
{
	uLongf clen = (uLongf)(cap - *off - 16);
	cr_assert_eq(compress2(f + *off + 16, &clen, pay, (uLong)n, level), Z_OK);
	memcpy(f + *off, "PPBK", 4);
	set_le32(f + *off + 4, (uint32_t)clen);
	set_le32(f + *off + 8, (uint32_t)n);
	set_le32(f + *off + 12, (uint32_t)crc32(0, f + *off + 16, (uInt)clen));
	*off += 16 + clen;
	return clen;
}

/* A payload: a thread (when first == 0), then `count` samples of thread 0
 * at time 0 on the empty stack, states unknown - five zero bytes each, the
 * most compressible records there are - then, when extra > 0, a section a
 * newer minor version might add (skipped) of `extra` random bytes. */
static size_t bomb_payload(uint8_t *pay, size_t cap, uint64_t first, size_t count, size_t extra)
{
	size_t n = 0;
	uint8_t body[32];
	size_t bl;
	if (first == 0) {
		bl = 0;
		body[bl++] = 0; /* first id */
		body[bl++] = 1; /* count */
		body[bl++] = 1; /* pid */
		body[bl++] = 1; /* native id */
		body[bl++] = 0; /* name */
		body[bl++] = 0; /* cmdline */
		pay[n++] = 4;
		pay[n++] = (uint8_t)bl;
		memcpy(pay + n, body, bl);
		n += bl;
	}
	bl = put_var(body, first);
	bl += put_var(body + bl, count);
	n += put_var(pay + n, 5);
	n += put_var(pay + n, bl + 5 * (uint64_t)count);
	memcpy(pay + n, body, bl);
	n += bl;
	cr_assert_leq(n + 5 * count + extra + 16, cap);
	memset(pay + n, 0, 5 * count);
	n += 5 * count;
	if (extra) {
		n += put_var(pay + n, 9);
		n += put_var(pay + n, extra);
		for (size_t i = 0; i < extra; i++)
			pay[n++] = (uint8_t)rnd();
	}
	return n;
}

#define BOMB_SAMPLES (3u << 20) /* 15 MiB of samples per block */
static uint8_t bomb_pay[5 * BOMB_SAMPLES + 4096];
static uint8_t bomb_file[1 << 20];

/* The crafted file, small: blocks of all-zero samples inflate
 * about 1000:1. Refused as corrupt from the block header alone (nothing is
 * inflated), in any version, in any block; the whole file, not a part. */
Test(recording, a_decompression_bomb_is_refused)
{
	char path[128], err[256];
	path_in(path, sizeof path, "bomb.pyprobe");
	for (unsigned minor = 0; minor <= 1; minor++) {
		for (int after_good = 0; after_good <= 1; after_good++) {
			size_t off = put_header(bomb_file, minor);
			uint64_t first = 0;
			if (after_good) { /* a block of 100 samples first, ratio ~20:1 */
				size_t n = bomb_payload(bomb_pay, sizeof bomb_pay, 0, 100, 0);
				put_block(bomb_file, sizeof bomb_file, &off, bomb_pay, n, 9);
				first = 100;
			}
			size_t n = bomb_payload(bomb_pay, sizeof bomb_pay, first, BOMB_SAMPLES, 0);
			size_t clen = put_block(bomb_file, sizeof bomb_file, &off, bomb_pay, n, 9);
			cr_assert_gt(n / clen, 900, "a bomb: %zu -> %zu", n, clen);
			write_all(path, bomb_file, off);
			int trunc = -1;
			cr_assert_null(pp_recording_load(path, &trunc, err, sizeof err),
				       "1.%u: %zu samples loaded from %zu bytes", minor,
				       (size_t)BOMB_SAMPLES, off);
			char want[64];
			snprintf(want, sizeof want, "corrupt recording: block %d", 1 + after_good);
			cr_assert(strstr(err, want) && strstr(err, "over the 256:1 cap"), "%s", err);
		}
	}
}

/* Write cap.pyprobe: one block of ~1 MiB of zero samples and `k` random
 * bytes in a section a 1.1 reader skips, which set its ratio. */
static void cap_file(const char *path, size_t k, size_t *raw, size_t *comp)
{
	rng_state = 77; /* the same bytes for the same k */
	size_t off = put_header(bomb_file, 1);
	*raw = bomb_payload(bomb_pay, sizeof bomb_pay, 0, 200000, k);
	*comp = put_block(bomb_file, sizeof bomb_file, &off, bomb_pay, *raw, 9);
	write_all(path, bomb_file, off);
}

/* The cap is exact: a block that inflates 256:1 (plus 64 bytes) loads, one
 * that inflates a byte more does not. */
Test(recording, the_inflate_cap_is_exact)
{
	char path[128], err[256];
	path_in(path, sizeof path, "cap.pyprobe");
	size_t lo = 0, hi = 65536, raw, comp; /* random bytes: lo over the cap, hi within */
	cap_file(path, lo, &raw, &comp);
	cr_assert_gt(raw, comp * 256 + 64);
	cap_file(path, hi, &raw, &comp);
	cr_assert_leq(raw, comp * 256 + 64);
	while (hi - lo > 1) {
		size_t k = (lo + hi) / 2;
		cap_file(path, k, &raw, &comp);
		*(raw <= comp * 256 + 64 ? &hi : &lo) = k;
	}
	cap_file(path, hi, &raw, &comp);
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%zu -> %zu bytes: %s", raw, comp, err);
	struct counts c = counts_of(q);
	cr_assert_eq(c.n, 200000);
	cr_assert_eq(c.t, 1);
	cr_assert_eq(trunc, 1, "no metadata saying finished");
	pp_profile_free(q);
	cap_file(path, lo, &raw, &comp);
	cr_assert_null(pp_recording_load(path, &trunc, err, sizeof err), "%zu -> %zu", raw, comp);
	cr_assert(strstr(err, "over the 256:1 cap"), "%s", err);
}

/* The writer never writes what the reader refuses: a profile that would
 * compress 1000:1 (not one pyprobe's sampler makes) is written so that it
 * inflates 256:1 at most, and loads. */
Test(recording, the_writer_keeps_within_the_inflate_cap)
{
	char path[128], err[256];
	path_in(path, sizeof path, "dense.pyprobe");
	struct pp_profile *p = pp_profile_new();
	struct pp_pthread th = {1, 1, 0, 0};
	cr_assert_eq(pp_profile_thread(p, &th), 0);
	struct pp_psample x = {0, 0, PP_EMPTY_STACK, 0, 0};
	for (int i = 0; i < 1000000; i++)
		cr_assert_eq(pp_profile_add_sample(p, &x), 0);
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	cr_assert_eq(pp_recording_close(w, p), 0, "%s", strerror(errno));
	size_t n = read_all(path, bomb_pay, sizeof bomb_pay);
	int blocks = 0;
	for (size_t o = 16; o + 16 <= n; o += 16 + le32(bomb_pay + o + 4), blocks++) {
		uint64_t c = le32(bomb_pay + o + 4), r = le32(bomb_pay + o + 8);
		cr_assert_leq(r, c * 256 + 64, "block %d: %llu -> %llu", blocks + 1,
			      (unsigned long long)r, (unsigned long long)c);
	}
	cr_assert_geq(blocks, 1);
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	assert_prefix(p, q, 1);
	pp_profile_free(q);
	pp_profile_free(p);
}

/* ---- the 1.0 fixture: files already written must keep loading ---------- */

/* The profile in fixtures/recordings/v1.0.pyprobe, written in three
 * flushes (stage 0, 1, 2). Never change it: add a new fixture instead. */
static void fixture_stage(struct pp_profile *p, int stage)
{
	struct pp_profile_meta *m = pp_profile_meta(p);
	pp_str_id cmd = pp_profile_str(p, "python3 app.py --naïve");
	struct pp_pthread main = {4242, 4242, pp_profile_str(p, "MainThread"), cmd};
	struct pp_pthread work = {4242, 4250, pp_profile_str(p, "wörker-1"), cmd};
	uint32_t t0 = pp_profile_thread(p, &main);
	pp_frame_id fm = add_frame(p, "<module>", "/srv/app.py", 30, 1, PP_FRAME_PYTHON);
	pp_frame_id fr = add_frame(p, "run", "/srv/app.py", 12, 10, PP_FRAME_PYTHON);
	pp_stack_id s1 = pp_profile_stack(p, PP_EMPTY_STACK, fm);
	pp_stack_id s2 = pp_profile_stack(p, s1, fr);
	struct pp_psample x;
	switch (stage) {
	case 0:
		x = (struct pp_psample){1000, t0, s2, PP_SGIL_HELD, PP_SOS_RUNNING};
		pp_profile_add_sample(p, &x);
		x.time_ns = 11000;
		pp_profile_add_sample(p, &x);
		m->cmdline = cmd;
		m->pid = 4242;
		m->rate_hz = 100;
		m->python_version = pp_profile_str(p, "3.12.3");
		m->start_unix_ns = 1700000000000000000ull;
		m->duration_ns = 11000;
		break;
	case 1: {
		uint32_t t1 = pp_profile_thread(p, &work);
		pp_frame_id fc = add_frame(p, "计算", "/srv/lib/数学.py", -1, 0, PP_FRAME_PYTHON);
		pp_stack_id s3 = pp_profile_stack(p, s2, fc);
		x = (struct pp_psample){21000, t1, s3, PP_SGIL_WAITING, PP_SOS_SLEEPING};
		pp_profile_add_sample(p, &x);
		x = (struct pp_psample){20999, t0, PP_EMPTY_STACK, PP_SGIL_RELEASED, PP_SOS_DISK};
		pp_profile_add_sample(p, &x);
		m->duration_ns = 21000;
		m->samples_dropped = 1;
		break;
	}
	default:
		x = (struct pp_psample){UINT64_MAX, t0, s1, PP_SGIL_UNKNOWN, PP_SOS_ZOMBIE};
		pp_profile_add_sample(p, &x);
		m->title = pp_profile_str(p, "fixture « 1.0 »");
		m->duration_ns = 31000;
		m->ticks_missed = 2;
		break;
	}
}

/* The 1.1 fixture: the same profile, with the 1.1 counters set (stage by
 * stage, as a recording's running values are), written by the 1.1 writer
 * and closed (so its last block says finished). */
static void fixture_stage_1_1(struct pp_profile *p, int stage)
{
	fixture_stage(p, stage);
	struct pp_profile_meta *m = pp_profile_meta(p);
	switch (stage) {
	case 0:
		m->samples_cut = 1;
		m->cut_depth_sum = 7;
		m->cut_walked_sum = 9;
		break;
	case 1:
		m->samples_cut = 3;
		m->cut_depth_sum = 20;
		m->cut_walked_sum = 31;
		m->samples_unreadable = 2;
		break;
	default:
		m->title = pp_profile_str(p, "fixture « 1.1 »");
		m->samples_cut = 4;
		m->cut_depth_sum = 1ull << 40;
		m->cut_walked_sum = UINT64_MAX;
		m->samples_unreadable = 5;
		break;
	}
}

static void fixture_path(char *path, size_t n, const char *name)
{
	const char *root = getenv("PYPROBE_SOURCE_ROOT");
	if (!root)
		cr_skip_test("PYPROBE_SOURCE_ROOT not set");
	snprintf(path, n, "%s/fixtures/recordings/%s", root, name);
}

/* Load a fixture: it must hold exactly `p`, and say finished or not. */
static void check_fixture(const char *path, const struct pp_profile *p, int finished,
			  const char *title)
{
	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s: %s", path, err);
	cr_assert_eq(trunc, 0);
	assert_prefix(p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
	cr_assert_eq(pp_profile_meta_c(q)->finished, finished);
	cr_assert_str_eq(pp_profile_string(q, pp_profile_meta_c(q)->title), title);
	pp_profile_free(q);
}

/* The end of every block of a recording file (after its 16-byte header). */
static int block_ends(const uint8_t *f, size_t n, long *ends, int max)
{
	int k = 0;
	for (size_t off = 16; off + 16 <= n && k < max; k++) {
		off += 16 + le32(f + off + 4);
		ends[k] = (long)off;
	}
	return k;
}

/* A file already written is never rewritten: the writer writes 1.3 now,
 * so 1.0 is checked against the profile it holds, and only the newest
 * fixture can be regenerated. */
Test(recording, the_1_0_fixture_loads)
{
	char path[4096], cut[128];
	fixture_path(path, sizeof path, "v1.0.pyprobe");
	struct pp_profile *p = pp_profile_new();
	for (int stage = 0; stage < 3; stage++)
		fixture_stage(p, stage);
	check_fixture(path, p, 0, "fixture « 1.0 »"); /* 1.1 counters: 0 */

	/* 1.0 never says it finished: cut at a block boundary it is not
	 * cut short (nothing says so); inside a block it is */
	size_t n = read_all(path, file_buf, sizeof file_buf);
	long ends[8];
	int nb = block_ends(file_buf, n, ends, 8);
	cr_assert_eq(nb, 3);
	path_in(cut, sizeof cut, "v1.0-cut.pyprobe");
	for (int k = 0; k < nb; k++) {
		for (int in = 0; in < 2; in++) {
			write_all(cut, file_buf, (size_t)ends[k] - (size_t)in);
			char err[256];
			int trunc = -1;
			struct pp_profile *q = pp_recording_load(cut, &trunc, err, sizeof err);
			cr_assert_not_null(q, "%s", err);
			cr_assert_eq(trunc, in, "cut %s block %d", in ? "inside" : "after", k + 1);
			cr_assert_eq(pp_profile_meta_c(q)->finished, 0);
			pp_profile_free(q);
		}
	}
	pp_profile_free(p);
}

Test(recording, the_1_1_fixture_loads)
{
	char path[4096], cut[128];
	fixture_path(path, sizeof path, "v1.1.pyprobe");
	struct pp_profile *p = pp_profile_new();
	for (int stage = 0; stage < 3; stage++)
		fixture_stage_1_1(p, stage);
	check_fixture(path, p, 1, "fixture « 1.1 »");
	size_t n = read_all(path, file_buf, sizeof file_buf);
	cr_assert_eq(le32(file_buf + 8), 1u << 16 | 1u, "version 1.1 (u16 1, u16 1)");

	/* three blocks while recording, and the one the close wrote (no
	 * new entries: the metadata, finished); without it, cut short */
	long ends[8];
	int nb = block_ends(file_buf, n, ends, 8);
	cr_assert_eq(nb, 4);
	path_in(cut, sizeof cut, "v1.1-cut.pyprobe");
	write_all(cut, file_buf, (size_t)ends[2]);
	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(cut, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1, "a 1.1 file without its finishing block is cut short");
	cr_assert_eq(pp_profile_meta_c(q)->finished, 0);
	assert_prefix(p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
	pp_profile_free(q);
	pp_profile_free(p);
}

/* The 1.2 fixture: the 1.1 profile with native (C) frames under a Python
 * frame in the first and the last block, one of them sharing its
 * function's name with a Python frame. */
static void fixture_stage_1_2(struct pp_profile *p, int stage)
{
	fixture_stage_1_1(p, stage);
	if (stage == 1)
		return;
	pp_frame_id fm = add_frame(p, "<module>", "/srv/app.py", 30, 1, PP_FRAME_PYTHON);
	pp_frame_id fr = add_frame(p, "run", "/srv/app.py", 12, 10, PP_FRAME_PYTHON);
	pp_stack_id s2 = pp_profile_stack(p, pp_profile_stack(p, PP_EMPTY_STACK, fm), fr);
	pp_frame_id n1 = add_frame(p, stage ? "run" : "time_sleep", "libpython3.12.so.1.0",
				   stage ? -1 : 372, 0, PP_FRAME_NATIVE);
	pp_frame_id n2 = add_frame(p, "clock_nanosleep", "libc.so.6", -1, 0, PP_FRAME_NATIVE);
	pp_stack_id s = pp_profile_stack(p, pp_profile_stack(p, s2, n1), n2);
	struct pp_psample x = {stage ? 30500 : 5000, 0, s, PP_SGIL_RELEASED, PP_SOS_SLEEPING};
	pp_profile_add_sample(p, &x);
	if (stage)
		pp_profile_meta(p)->title = pp_profile_str(p, "fixture « 1.2 »");
}

/* Strip every section of tag `from` and up from the blocks: what a reader
 * of an older minor reads of a newer minor's file (7: 1.0 and 1.1; 8:
 * 1.2). */
static void strip_newer_sections(struct blocks *b, uint64_t from)
{
	for (int k = 0; k < b->n; k++) {
		uint8_t out[MAXPAY];
		size_t o = 0;
		for (size_t i = 0; i < b->len[k];) {
			size_t start = i;
			uint64_t v[2] = {0, 0};
			for (int f = 0; f < 2; f++)
				for (int sh = 0;; sh += 7) {
					cr_assert_lt(i, b->len[k]);
					v[f] |= (uint64_t)(b->pay[k][i] & 0x7f) << sh;
					if (!(b->pay[k][i++] & 0x80))
						break;
				}
			i += v[1];
			cr_assert_leq(i, b->len[k]);
			if (v[0] < from) {
				memcpy(out + o, b->pay[k] + start, i - start);
				o += i - start;
			}
		}
		memcpy(b->pay[k], out, o);
		b->len[k] = o;
	}
}

/* 1.2 writes native frames as kind 0 with a section naming them, so a 1.1
 * reader (which refuses a kind it does not know, and skips sections 7 and
 * up) still loads a `record --native` recording, showing those frames as
 * plain functions; 1.2 loads them as native. */
Test(recording, the_1_2_fixture_loads)
{
	char path[4096], old[128];
	fixture_path(path, sizeof path, "v1.2.pyprobe");
	struct pp_profile *p = pp_profile_new();
	for (int stage = 0; stage < 3; stage++) /* the writer writes 1.3 now */
		fixture_stage_1_2(p, stage);
	check_fixture(path, p, 1, "fixture « 1.2 »");
	size_t n = read_all(path, file_buf, sizeof file_buf);
	cr_assert_eq(le32(file_buf + 8), 2u << 16 | 1u, "version 1.2 (u16 1, u16 2)");

	/* as a 1.1 reader sees it: the same profile, native frames as kind 0 */
	static struct blocks b;
	unpack(file_buf, n, &b);
	cr_assert_eq(b.n, 4);
	strip_newer_sections(&b, 7);
	size_t m = pack(&b, work_buf, sizeof work_buf, NULL);
	path_in(old, sizeof old, "v1.2-as-1.1.pyprobe");
	write_all(old, work_buf, m);
	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(old, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	size_t nf, nq, natives = 0;
	const struct pp_pframe *fp = pp_profile_frames(p, &nf), *fq = pp_profile_frames(q, &nq);
	cr_assert_eq(nq, nf);
	for (size_t i = 0; i < nf; i++) {
		natives += fp[i].kind == PP_FRAME_NATIVE;
		cr_assert_eq(fq[i].kind, fp[i].kind == PP_FRAME_NATIVE ? PP_FRAME_PYTHON
								  : fp[i].kind, "frame %zu", i);
		cr_assert_eq(fq[i].function, fp[i].function);
		cr_assert_eq(fq[i].file, fp[i].file);
	}
	cr_assert_eq(natives, 3);
	pp_profile_free(q);
	pp_profile_free(p);
}

/* The 1.3 fixture: the 1.2 profile with asyncio Task names on samples of
 * the first and last blocks (one named before a sample that is not, two
 * Tasks of the same name, a name that is also a function's). */
static void fixture_stage_1_3(struct pp_profile *p, int stage)
{
	fixture_stage_1_2(p, stage);
	size_t n;
	pp_profile_samples(p, &n);
	if (stage == 0) {
		cr_assert_eq(pp_profile_set_sample_task(p, 0, pp_profile_str(p, "fetch-3")), 0);
		cr_assert_eq(pp_profile_set_sample_task(p, 2, pp_profile_str(p, "run")), 0);
	} else if (stage == 2) {
		cr_assert_eq(pp_profile_set_sample_task(p, n - 2, pp_profile_str(p, "fetch-3")), 0);
		cr_assert_eq(pp_profile_set_sample_task(p, n - 1, pp_profile_str(p, "tâche « 2 »")), 0);
		pp_profile_meta(p)->title = pp_profile_str(p, "fixture « 1.3 »");
	}
}

/* 1.3 adds the sample tasks section (8): a 1.2 reader, which skips it,
 * loads the same profile without the names. */
Test(recording, the_1_3_fixture_loads)
{
	char path[4096], old[128];
	fixture_path(path, sizeof path, "v1.3.pyprobe");
	struct pp_profile *p = pp_profile_new();
	if (getenv("PYPROBE_REGEN_FIXTURES")) {
		struct pp_recording_writer *w = pp_recording_create(path);
		cr_assert_not_null(w, "%s: %s", path, strerror(errno));
		for (int stage = 0; stage < 3; stage++) {
			fixture_stage_1_3(p, stage);
			cr_assert_eq(pp_recording_flush(w, p), 0);
		}
		cr_assert_eq(pp_recording_close(w, p), 0);
	} else {
		for (int stage = 0; stage < 3; stage++)
			fixture_stage_1_3(p, stage);
	}
	size_t nt;
	pp_profile_sample_tasks(p, &nt);
	cr_assert_eq(nt, 4);
	check_fixture(path, p, 1, "fixture « 1.3 »");
	size_t n = read_all(path, file_buf, sizeof file_buf);
	cr_assert_eq(le32(file_buf + 8), 3u << 16 | 1u, "version 1.3 (u16 1, u16 3)");

	/* as a 1.2 reader sees it: everything but the names */
	static struct blocks b;
	unpack(file_buf, n, &b);
	cr_assert_eq(b.n, 4);
	strip_newer_sections(&b, 8);
	size_t m = pack(&b, work_buf, sizeof work_buf, NULL);
	path_in(old, sizeof old, "v1.3-as-1.2.pyprobe");
	write_all(old, work_buf, m);
	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(old, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	size_t nq;
	pp_profile_sample_tasks(q, &nq);
	cr_assert_eq(nq, 0);
	size_t ns, nsq;
	pp_profile_samples(p, &ns);
	pp_profile_samples(q, &nsq);
	cr_assert_eq(nsq, ns);
	pp_profile_free(q);

	/* a 1.2 file holding a section 8 (not something a 1.2 writer wrote:
	 * reserved, so skipped, not read as 1.3's) */
	unpack(file_buf, n, &b);
	b.hdr[10] = 2;
	m = pack(&b, work_buf, sizeof work_buf, NULL);
	write_all(old, work_buf, m);
	q = pp_recording_load(old, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	pp_profile_sample_tasks(q, &nq);
	cr_assert_eq(nq, 0, "a 1.2 file's section 8 is skipped");
	pp_profile_free(q);
	pp_profile_free(p);
}

/* A sample tasks section that names no sample, or no string, is corrupt. */
Test(recording, a_bad_sample_tasks_section_is_corrupt)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "tasks.pyprobe");
	path_in(bad, sizeof bad, "bad.pyprobe");
	struct pp_profile *p = pp_profile_new();
	fixture_stage(p, 0); /* samples 0 and 1 */
	pp_str_id name = pp_profile_str(p, "fetch-3");
	cr_assert_eq(pp_profile_set_sample_task(p, 1, name), 0);
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	cr_assert_eq(pp_recording_close(w, p), 0);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	static struct blocks b;
	unpack(file_buf, n, &b);
	cr_assert_eq(b.n, 1);
	/* the section is last: tag 8, length 3, count 1, sample 1 (from 0),
	 * the name's string id */
	size_t len = b.len[0];
	cr_assert_lt(name, 128u);
	const uint8_t want[] = {8, 3, 1, 1, (uint8_t)name};
	cr_assert_eq(memcmp(b.pay[0] + len - 5, want, 5), 0, "sample tasks section as written");
	size_t nstr = pp_profile_nstrings(p);
	cr_assert_lt(nstr, 128u);
	const uint8_t cases[][5] = {
		{8, 3, 1, 2, (uint8_t)name},    /* sample 2: not defined */
		{8, 3, 1, 1, 0},                /* string 0: no name */
		{8, 3, 1, 1, (uint8_t)nstr},    /* a string not defined */
		{8, 3, 2, 1, (uint8_t)name},    /* a count the entries do not fill */
		{8, 3, 0, 1, (uint8_t)name},    /* none */
		{8, 3, 1, 0x80, 0x01},          /* a varint running into the name */
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		memcpy(b.pay[0] + len - 5, cases[c], 5);
		size_t m = pack(&b, work_buf, sizeof work_buf, NULL);
		write_all(bad, work_buf, m);
		char err[256] = "";
		int trunc = -1;
		struct pp_profile *q = pp_recording_load(bad, &trunc, err, sizeof err);
		cr_assert_null(q, "case %zu loaded", c);
		cr_assert(strstr(err, "corrupt recording: ") && strstr(err, "sample tasks"),
			  "case %zu: %s", c, err);
	}
	/* two entries: the second's sample counts from the one after the
	 * first's, so naming the same sample again cannot be written */
	uint8_t two[] = {8, 5, 2, 0, (uint8_t)name, 0, (uint8_t)name};
	memcpy(b.pay[0] + len - 5, two, sizeof two);
	b.len[0] = len + 2;
	size_t m = pack(&b, work_buf, sizeof work_buf, NULL);
	write_all(bad, work_buf, m);
	char err[256] = "";
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(pp_profile_sample_task(q, 0), name);
	cr_assert_eq(pp_profile_sample_task(q, 1), name);
	pp_profile_free(q);
	two[5] = 1; /* the second: sample 2, not defined */
	memcpy(b.pay[0] + len - 5, two, sizeof two);
	m = pack(&b, work_buf, sizeof work_buf, NULL);
	write_all(bad, work_buf, m);
	q = pp_recording_load(bad, &trunc, err, sizeof err);
	cr_assert_null(q);
	cr_assert(strstr(err, "sample not yet defined"), "%s", err);
	pp_profile_free(p);
}

/* A native frames section that does not match its block's frames is
 * corrupt, never a wrong kind. */
Test(recording, a_bad_native_frames_section_is_corrupt)
{
	char path[128], bad[128];
	path_in(path, sizeof path, "native.pyprobe");
	path_in(bad, sizeof bad, "bad.pyprobe");
	struct pp_profile *p = pp_profile_new();
	fixture_stage_1_2(p, 0);
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	cr_assert_eq(pp_recording_close(w, p), 0);
	size_t n = read_all(path, file_buf, sizeof file_buf);
	static struct blocks b;
	unpack(file_buf, n, &b);
	cr_assert_eq(b.n, 1);
	/* the section is last: tag 7, length 3, count 2, then the ids as
	 * differences: 2 from the block's first frame 1, then 1 (frames 1..4:
	 * <module>, run, time_sleep, clock_nanosleep) */
	size_t len = b.len[0];
	const uint8_t want[] = {7, 3, 2, 2, 1};
	cr_assert_eq(memcmp(b.pay[0] + len - 5, want, 5), 0, "native frames section as written");
	const uint8_t cases[][5] = {
		{7, 3, 2, 9, 1},  /* past the block's frames */
		{7, 3, 2, 2, 0},  /* not ascending */
		{7, 3, 3, 2, 1},  /* a count larger than the ids given */
		{7, 3, 2, 1, 1},  /* names a Python frame... */
		{7, 3, 0, 2, 1},  /* none */
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		memcpy(b.pay[0] + len - 5, cases[c], 5);
		size_t m = pack(&b, work_buf, sizeof work_buf, NULL);
		write_all(bad, work_buf, m);
		char err[256] = "";
		int trunc = -1;
		struct pp_profile *q = pp_recording_load(bad, &trunc, err, sizeof err);
		if (c == 3 && q) {
			/* ...which is just another native frame: a wrong kind the
			 * file says, not something a reader can tell */
			pp_profile_free(q);
			continue;
		}
		cr_assert_null(q, "case %zu loaded", c);
		cr_assert(strstr(err, "corrupt recording: ") && strstr(err, "native"),
			  "case %zu: %s", c, err);
	}
	pp_profile_free(p);
}

/* The writer says finished only in the block pp_recording_close writes,
 * whatever the profile's own flag; a close with nothing new still writes
 * it; a failed close leaves the file cut short. */
Test(recording, finished_only_after_close)
{
	char path[128];
	path_in(path, sizeof path, "fin.pyprobe");
	struct pp_profile *p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create(path);
	cr_assert_not_null(w);
	uint64_t t = 0;
	grow_profile(p, 1, 20, 4, &t);
	pp_profile_meta(p)->finished = 1; /* not the writer's to believe */
	cr_assert_eq(pp_recording_flush(w, p), 0);
	long before = file_size(path);
	char err[256];
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	cr_assert_eq(pp_profile_meta_c(q)->finished, 0);
	pp_profile_free(q);

	cr_assert_eq(pp_recording_close(w, p), 0);
	cr_assert_gt(file_size(path), before, "the close writes a block");
	q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	cr_assert_eq(pp_profile_meta_c(q)->finished, 1);
	assert_prefix(p, q, 1);
	pp_profile_free(q);

	/* a header alone (killed before the first block): cut short */
	struct pp_recording_writer *w2 = pp_recording_create(path);
	cr_assert_not_null(w2);
	q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	pp_profile_free(q);
	/* closed without a profile (given up after a write error): no
	 * finishing block, still cut short */
	cr_assert_eq(pp_recording_close(w2, NULL), 0);
	q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 1);
	pp_profile_free(q);
	pp_profile_free(p);
}

/* A recording to an open descriptor (record -o - -f pyprobe): through a pipe it
 * loads as from a file; a write that fails on a pipe cannot be cut back,
 * so it ends the recording with its first error. */
Test(recording, to_a_pipe)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	struct pp_profile *p = pp_profile_new();
	struct pp_recording_writer *w = pp_recording_create_fd(fds[1]);
	cr_assert_not_null(w);
	uint64_t t = 0;
	grow_profile(p, 1, 30, 5, &t);
	cr_assert_eq(pp_recording_flush(w, p), 0);
	pp_profile_meta(p)->duration_ns = 123456789;
	cr_assert_eq(pp_recording_close(w, p), 0, "%s", strerror(errno));
	static uint8_t buf[1 << 16];
	size_t n = 0;
	ssize_t k;
	while ((k = read(fds[0], buf + n, sizeof buf - n)) > 0)
		n += (size_t)k;
	close(fds[0]);
	cr_assert_lt(n, sizeof buf, "more than the test buffer");
	char path[128], err[256];
	path_in(path, sizeof path, "piped.pyprobe");
	write_all(path, buf, n);
	int trunc = -1;
	struct pp_profile *q = pp_recording_load(path, &trunc, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(trunc, 0);
	assert_prefix(p, q, 1);
	assert_meta_eq(pp_profile_meta_c(q), pp_profile_meta_c(p));
	pp_profile_free(q);

	/* the reader went away */
	cr_assert_eq(pipe(fds), 0);
	signal(SIGPIPE, SIG_IGN);
	w = pp_recording_create_fd(fds[1]);
	cr_assert_not_null(w);
	close(fds[0]);
	grow_profile(p, 2, 30, 5, &t);
	errno = 0;
	cr_assert_eq(pp_recording_flush(w, p), -1);
	cr_assert_eq(errno, EPIPE);
	grow_profile(p, 3, 30, 5, &t);
	errno = 0;
	cr_assert_eq(pp_recording_close(w, p), -1);
	cr_assert_eq(errno, EPIPE, "the first error sticks");
	pp_profile_free(p);
}
