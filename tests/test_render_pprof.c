/* render/pprof.c: a fixed profile (several threads, non-ASCII names and
 * files, frames with and without lines, synthetic roots and markers),
 * rendered and decoded by tests/pprof_decode.py (neither `go tool pprof`
 * nor the protobuf module is assumed), then checked for what pprof
 * readers rely on; plus determinism and write errors. The decoded summary
 * of the default rendering is compared with fixtures/golden/profile.pb.txt
 * (decoded text, not bytes: compressed bytes depend on the zlib version).
 *
 * To regenerate the golden file after an intended format change:
 *   PYPROBE_UPDATE_GOLDEN=1 meson test -C BUILD render_pprof
 * then read the diff before committing it.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "render/frame_label.h"
#include "render/render.h"
#include "tests/support.h"

#define PERIOD 10000000LL /* 100 Hz */

static pp_frame_id frame(struct pp_profile *p, const char *qual, const char *name,
			 const char *file, int line, int first)
{
	struct pp_pframe f = {pp_profile_str(p, qual), pp_profile_str(p, name),
			      pp_profile_str(p, file), line, first, PP_FRAME_PYTHON};
	pp_frame_id id = pp_profile_frame(p, &f);
	cr_assert_neq(id, UINT32_MAX);
	return id;
}

static pp_stack_id push(struct pp_profile *p, pp_stack_id parent, pp_frame_id f)
{
	pp_stack_id s = pp_profile_stack(p, parent, f);
	cr_assert_neq(s, UINT32_MAX);
	return s;
}

/* Threads 1001 "MainThread", 1002 "wörker-λ", 1003 (unnamed):
 *   main (app.py:10) -> Klass.work (/src/ünïcode/módulo.py:20|21) -> 計算 (lib.py:3)
 *   main (app.py:10) -> noline (gen.py)          line -1
 */
static struct pp_profile *fixture(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	pp_str_id cmd = pp_profile_str(p, "python3 app.py --ñ");
	struct pp_pthread th[] = {
		{4242, 1001, pp_profile_str(p, "MainThread"), cmd},
		{4242, 1002, pp_profile_str(p, "wörker-λ"), cmd},
		{4242, 1003, 0, cmd},
	};
	uint32_t t[3];
	for (int i = 0; i < 3; i++)
		t[i] = pp_profile_thread(p, &th[i]);

	const char *mod = "/src/ünïcode/módulo.py";
	pp_stack_id root = push(p, PP_EMPTY_STACK, frame(p, "main", "main", "app.py", 10, 1));
	pp_stack_id w20 = push(p, root, frame(p, "Klass.work", "work", mod, 20, 18));
	pp_stack_id w21 = push(p, root, frame(p, "Klass.work", "work", mod, 21, 18));
	pp_stack_id l20 = push(p, w20, frame(p, "計算", "計算", "lib.py", 3, 1));
	pp_stack_id l21 = push(p, w21, frame(p, "計算", "計算", "lib.py", 3, 1));
	pp_stack_id nol = push(p, root, frame(p, "noline", "noline", "gen.py", -1, 7));

	struct pp_psample s[] = {
		{10, t[0], l20, PP_SGIL_HELD, PP_SOS_RUNNING},
		{20, t[1], l21, PP_SGIL_WAITING, PP_SOS_RUNNING},
		{30, t[0], l20, PP_SGIL_HELD, PP_SOS_RUNNING},
		{40, t[2], nol, PP_SGIL_RELEASED, PP_SOS_RUNNING},
		{50, t[1], l21, PP_SGIL_HELD, PP_SOS_RUNNING},
		{60, t[0], l20, PP_SGIL_HELD, PP_SOS_RUNNING},
		{70, t[1], l20, PP_SGIL_HELD, PP_SOS_RUNNING}, /* same stack, other thread */
		{80, t[2], nol, PP_SGIL_RELEASED, PP_SOS_SLEEPING}, /* idle */
		{90, t[0], w20, PP_SGIL_HELD, PP_SOS_RUNNING},
		{95, t[0], PP_EMPTY_STACK, PP_SGIL_HELD, PP_SOS_RUNNING}, /* no frames */
	};
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		cr_assert_eq(pp_profile_add_sample(p, &s[i]), 0);

	struct pp_profile_meta *m = pp_profile_meta(p);
	m->cmdline = cmd;
	m->pid = 4242;
	m->rate_hz = 100;
	m->start_unix_ns = 1700000000123456789ull;
	m->duration_ns = 2500000000ull;
	return p;
}

struct distinct {
	char keys[32][512];
	int n;
};

/* pp_view_fn: the distinct (thread, root-first labels) a view keeps. */
static int count_distinct(const struct pp_view_frame *const *f, size_t n,
			  const struct pp_psample *s, void *ctx)
{
	struct distinct *d = ctx;
	char key[512];
	size_t len = (size_t)snprintf(key, sizeof key, "%u", s->thread);
	for (size_t i = 0; i < n && len < sizeof key; i++) {
		char label[256];
		pp_frame_label(f[i], label, sizeof label);
		len += (size_t)snprintf(key + len, sizeof key - len, ";%s", label);
	}
	for (int i = 0; i < d->n; i++)
		if (!strcmp(d->keys[i], key))
			return 0;
	if (d->n < 32)
		snprintf(d->keys[d->n++], sizeof d->keys[0], "%s", key);
	return 0;
}

/* Kept samples and distinct (stack, thread) pairs of the view. */
static void expect(const struct pp_profile *p, struct pp_view_opts o, size_t *nsamples,
		   int *ndistinct)
{
	struct pp_view *v = pp_view_new(p, &o);
	cr_assert_not_null(v);
	struct distinct d = {.n = 0};
	cr_assert_eq(pp_view_each(v, count_distinct, &d), 0);
	*nsamples = pp_view_nsamples(v);
	*ndistinct = d.n;
	pp_view_free(v);
}

/* The rendering of p, in a file of the test's working directory. */
static void render_to(const struct pp_profile *p, struct pp_view_opts view, const char *path)
{
	struct pp_render_opts o = {.view = view};
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(pp_render_pprof(p, &o, f), 0);
	cr_assert_eq(fclose(f), 0);
}

/* Runs cmd, its stdout and stderr into out; returns its exit status. */
static int run(const char *cmd, char *out, size_t size)
{
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f, "popen %s", cmd);
	size_t len = fread(out, 1, size - 1, f);
	out[len] = '\0';
	cr_assert_lt(len, size - 1, "output of %s too long", cmd);
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void decode(const char *path, char *out, size_t size)
{
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "python3 '%s/tests/pprof_decode.py' '%s' 2>&1",
		 ts_source_root(), path);
	cr_assert_eq(run(cmd, out, size), 0, "decoder failed:\n%.8000s", out);
}

static void has(const char *out, const char *want)
{
	/* bounded: Criterion hangs on a multi-megabyte failure message */
	cr_assert_not_null(strstr(out, want), "missing: %s\nin (first 8000 bytes):\n%.8000s",
			   want, out);
}

/* What every rendering must satisfy, whatever the view. */
static void check_valid(const char *out, size_t nsamples, int ndistinct)
{
	char line[256];
	has(out, "\"string_table_0_empty\": true");
	has(out, "\"sample_type\": [[\"samples\", \"count\"], [\"wall\", \"nanoseconds\"]],");
	snprintf(line, sizeof line, "\"samples\": %d,", ndistinct);
	has(out, line);
	snprintf(line, sizeof line, "\"sum_values\": [%zu, %lld],", nsamples,
		 (long long)nsamples * PERIOD);
	has(out, line);
	has(out, "\"values_per_sample_ok\": true");
	has(out, "\"wall_is_count_times_period\": true");
	has(out, "\"empty_samples\": 0,");
	has(out, "\"missing_location_ids\": [],");
	has(out, "\"missing_function_ids\": [],");
	has(out, "\"zero_or_duplicate_ids\": [],");
	has(out, "\"bad_string_indexes\": [],");
	has(out, "\"unknown_fields\": []");
	has(out, "\"default_sample_type\": \"wall\",");
	has(out, "\"period_type\": [\"wall\", \"nanoseconds\"],");
	has(out, "\"period\": 10000000,");
	has(out, "\"time_nanos\": 1700000000123456789,");
	has(out, "\"duration_nanos\": 2500000000,");
	has(out, "\"comment\": [\"python3 app.py --ñ\"],");
	/* no name, no mtime: the same input gives the same bytes */
	has(out, "\"gzip\": {\"method\": 8, \"flags\": 0, \"mtime\": 0,");
}

Test(render_pprof, decodes_with_threads)
{
	struct pp_profile *p = fixture();
	struct pp_view_opts o = {.threads = true};
	size_t nsamples;
	int ndistinct;
	expect(p, o, &nsamples, &ndistinct);
	cr_assert_eq(nsamples, 8, "the idle and the frameless samples are dropped");
	cr_assert_eq(ndistinct, 5);
	render_to(p, o, "pprof-threads.pb.gz");
	pp_profile_free(p);

	static char out[1 << 16];
	decode("pprof-threads.pb.gz", out, sizeof out);
	check_valid(out, nsamples, ndistinct);

	/* leaf first, merged by (stack, thread), labelled with the thread */
	has(out, "\"[thread=1001 \\\"MainThread\\\" thread_id=1001] [3, 30000000]: "
		 "計算 (lib.py:3) <- Klass.work (/src/ünïcode/módulo.py:20) <- "
		 "main (app.py:10) <- thread 1001 \\\"MainThread\\\"\"");
	has(out, "\"[thread=1002 \\\"wörker-λ\\\" thread_id=1002] [2, 20000000]: "
		 "計算 (lib.py:3) <- Klass.work (/src/ünïcode/módulo.py:21) <- "
		 "main (app.py:10) <- thread 1002 \\\"wörker-λ\\\"\"");
	has(out, "\"[thread=1002 \\\"wörker-λ\\\" thread_id=1002] [1, 10000000]: 計算 (lib.py:3)");
	has(out, "\"[thread=1003 thread_id=1003] [1, 10000000]: noline (gen.py) <- "
		 "main (app.py:10) <- thread 1003\"");
	has(out, "\"[thread=1001 \\\"MainThread\\\" thread_id=1001] [1, 10000000]: "
		 "Klass.work (/src/ünïcode/módulo.py:20) <- main");
	/* labels: thread as a string, thread_id as a number */
	has(out, "\"label\": [{\"key\": \"thread\", \"str\": \"1003\"}, "
		 "{\"key\": \"thread_id\", \"num\": 1003}]}");
	/* functions: qualified name, bare name (only where it differs:
	 * pprof's symbolisation cleans a name equal to its system_name), file,
	 * first line; one per function whatever its lines; synthetic roots
	 * have no file */
	has(out, "\"name\": \"Klass.work\", \"system_name\": \"work\", "
		 "\"filename\": \"/src/ünïcode/módulo.py\", \"start_line\": 18}");
	has(out, "\"name\": \"noline\", \"system_name\": \"\", "
		 "\"filename\": \"gen.py\", \"start_line\": 7}");
	has(out, "\"name\": \"thread 1002 \\\"wörker-λ\\\"\", "
		 "\"system_name\": \"\", \"filename\": \"\", "
		 "\"start_line\": 0}");
	const char *fn = strstr(out, "\"name\": \"Klass.work\"");
	cr_assert_null(strstr(fn + 1, "\"name\": \"Klass.work\""), "one Function for two lines");
	/* a frame without a line: line 0 */
	has(out, "\"line\": [{\"function_id\": ");
	cr_assert_null(strstr(out, "\"line\": -1"));
}

/* U+0000 in names (the bytes C0 80 in the profile, reader/pystring.h):
 * pprof strings have a length, so they carry the real NUL, as they carry
 * every other character of the target's names. */
Test(render_pprof, nul_in_names)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	pp_profile_meta(p)->rate_hz = 100;
	struct pp_pthread th = {42, 42, pp_profile_str(p, "M\xc0\x80T"),
				pp_profile_str(p, "python3 x.py")};
	uint32_t t = pp_profile_thread(p, &th);
	pp_stack_id st = push(p, PP_EMPTY_STACK,
			      frame(p, "Q\xc0\x80R.a\xc0\x80" "b", "a\xc0\x80" "b",
				    "/tmp/x\xc0\x80y.py\xc0\x80", 7, 5));
	struct pp_psample s = {1, t, st, PP_SGIL_HELD, PP_SOS_RUNNING};
	cr_assert_eq(pp_profile_add_sample(p, &s), 0);
	render_to(p, (struct pp_view_opts){.threads = true}, "pprof-nul.pb.gz");
	pp_profile_free(p);

	static char out[1 << 16];
	decode("pprof-nul.pb.gz", out, sizeof out);
	has(out, "\"name\": \"Q\\u0000R.a\\u0000b\", \"system_name\": \"a\\u0000b\", "
		 "\"filename\": \"/tmp/x\\u0000y.py\\u0000\", \"start_line\": 5}");
	has(out, "\"str\": \"42 \\\"M\\u0000T\\\"\"");
	has(out, "\"bad_string_indexes\": [],");
}

Test(render_pprof, processes_markers_idle_nolineno)
{
	struct pp_profile *p = fixture();
	struct pp_view_opts o = {.processes = true, .threads = true, .gil_markers = true,
				 .idle = true, .nolineno = true};
	size_t nsamples;
	int ndistinct;
	expect(p, o, &nsamples, &ndistinct);
	cr_assert_eq(nsamples, 9);
	render_to(p, o, "pprof-markers.pb.gz");
	pp_profile_free(p);

	static char out[1 << 16];
	decode("pprof-markers.pb.gz", out, sizeof out);
	check_valid(out, nsamples, ndistinct);
	/* the marker is the leaf, the process the outermost root */
	has(out, "thread_id=1002] [1, 10000000]: [waiting for GIL] <- 計算 (lib.py) <- "
		 "Klass.work (/src/ünïcode/módulo.py) <- main (app.py) <- "
		 "thread 1002 \\\"wörker-λ\\\" <- process 4242: python3 app.py --ñ\"");
	/* 1003 ran without the GIL once (a marker) and was idle once (none) */
	has(out, "thread_id=1003] [1, 10000000]: [GIL released] <- noline (gen.py) <- "
		 "main (app.py) <- thread 1003 <- process 4242: python3 app.py --ñ\"");
	has(out, "thread_id=1003] [1, 10000000]: noline (gen.py) <- "
		 "main (app.py) <- thread 1003 <- process 4242: python3 app.py --ñ\"");
	has(out, "\"name\": \"[GIL released]\", \"system_name\": \"\", "
		 "\"filename\": \"\", \"start_line\": 0}");
}

Test(render_pprof, empty_profile)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	render_to(p, (struct pp_view_opts){0}, "pprof-empty.pb.gz");
	pp_profile_free(p);
	static char out[1 << 14];
	decode("pprof-empty.pb.gz", out, sizeof out);
	has(out, "\"string_table_0_empty\": true");
	has(out, "\"sample_type\": [[\"samples\", \"count\"], [\"wall\", \"nanoseconds\"]],");
	has(out, "\"samples\": 0,");
	has(out, "\"period\": 10000000,"); /* rate 0: 100 Hz */
	has(out, "\"default_sample_type\": \"wall\",");
	has(out, "\"unknown_fields\": []");
}

/* Enough strings, functions and stacks that every table grows and the
 * compressed output spans several buffers. */
Test(render_pprof, many_stacks)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_pthread th = {7, 7, pp_profile_str(p, "T"), 0};
	uint32_t t = pp_profile_thread(p, &th);
	pp_profile_meta(p)->rate_hz = 97; /* a period that is not a round number */
	pp_stack_id prev = PP_EMPTY_STACK;
	char name[64], file[64];
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof name, "fn_%d_%x", i, i * 2654435761u);
		snprintf(file, sizeof file, "mod_%d.py", i % 97);
		pp_stack_id s = push(p, i % 3 ? prev : PP_EMPTY_STACK,
				     frame(p, name, name, file, i % 50 ? i : -1, i));
		for (int k = 0; k < 1 + i % 3; k++) {
			struct pp_psample ps = {(uint64_t)i * 3 + (uint64_t)k, t, s,
						PP_SGIL_HELD, PP_SOS_RUNNING};
			cr_assert_eq(pp_profile_add_sample(p, &ps), 0);
		}
		prev = s;
	}
	size_t nsamples;
	int ndistinct;
	expect(p, (struct pp_view_opts){0}, &nsamples, &ndistinct);
	cr_assert_eq(nsamples, 6000);
	render_to(p, (struct pp_view_opts){0}, "pprof-many.pb.gz");
	pp_profile_free(p);

	static char out[1 << 21];
	decode("pprof-many.pb.gz", out, sizeof out);
	has(out, "\"string_table_0_empty\": true");
	has(out, "\"samples\": 3000,");
	has(out, "\"period\": 10309278,");
	char line[128];
	snprintf(line, sizeof line, "\"sum_values\": [6000, %lld],", 6000LL * 10309278);
	has(out, line);
	has(out, "\"wall_is_count_times_period\": true");
	has(out, "\"missing_location_ids\": [],");
	has(out, "\"missing_function_ids\": [],");
	has(out, "\"zero_or_duplicate_ids\": [],");
	has(out, "\"bad_string_indexes\": [],");
	/* depth 3 at most: i % 3 == 0 starts a new root */
	has(out, "[3, 30927834]: fn_2_");
}

static char *render_mem(const struct pp_profile *p, struct pp_view_opts view, size_t *len)
{
	struct pp_render_opts o = {.view = view};
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	cr_assert_not_null(f);
	cr_assert_eq(pp_render_pprof(p, &o, f), 0);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

Test(render_pprof, deterministic)
{
	struct pp_profile *p = fixture();
	struct pp_view_opts o = {.threads = true, .idle = true};
	size_t n1, n2;
	char *a = render_mem(p, o, &n1), *b = render_mem(p, o, &n2);
	/* a copy built the same way renders the same bytes too */
	struct pp_profile *q = fixture();
	size_t n3;
	char *c = render_mem(q, o, &n3);
	pp_profile_free(q);
	pp_profile_free(p);
	int same = n1 == n2 && n1 == n3 && !memcmp(a, b, n1) && !memcmp(a, c, n1);
	unsigned char head[10];
	memcpy(head, a, n1 < 10 ? n1 : 10);
	free(a);
	free(b);
	free(c);
	cr_assert(n1 >= 10);
	cr_assert(same, "identical input rendered different bytes");
	/* gzip: deflate, no flags, mtime 0, OS Unix */
	const unsigned char want[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0};
	cr_assert_eq(memcmp(head, want, sizeof want), 0);
	cr_assert_eq(head[9], 3);
}

Test(render_pprof, golden)
{
	struct pp_profile *p = fixture();
	render_to(p, (struct pp_view_opts){.threads = true}, "pprof-golden.pb.gz");
	pp_profile_free(p);
	static char out[1 << 16], want[1 << 16];
	decode("pprof-golden.pb.gz", out, sizeof out);

	char path[4096];
	snprintf(path, sizeof path, "%s/fixtures/golden/profile.pb.txt", ts_source_root());
	const char *update = getenv("PYPROBE_UPDATE_GOLDEN");
	if (update && *update && strcmp(update, "0") != 0) {
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f, "%s: %s", path, strerror(errno));
		cr_assert_eq(fputs(out, f) >= 0 && fclose(f) == 0, 1);
	}
	cr_assert_geq(ts_read_file(path, want, sizeof want), 0, "%s: %s", path, strerror(errno));
	if (strcmp(out, want) != 0) {
		FILE *f = fopen("profile.pb.txt.actual", "w");
		if (f) {
			fputs(out, f);
			fclose(f);
		}
		cr_assert_fail("the decoded profile differs from %s; the decoder's output is in "
			       "profile.pb.txt.actual in the test's working directory", path);
	}
}

Test(render_pprof, write_errors)
{
	struct pp_profile *p = fixture();
	struct pp_render_opts o = {.view = {.threads = true}};
	FILE *f = fopen("/dev/full", "w");
	cr_assert_not_null(f);
	errno = 0;
	int rc = pp_render_pprof(p, &o, f);
	int err = errno;
	fclose(f);
	/* a stream already failing */
	FILE *r = fopen("/dev/null", "r");
	cr_assert_not_null(r);
	int rc2 = pp_render_pprof(p, &o, r);
	fclose(r);
	pp_profile_free(p);
	cr_assert_eq(rc, -1);
	cr_assert_eq(err, ENOSPC);
	cr_assert_eq(rc2, -1, "writing to a read-only stream");
}

Test(render_pprof, go_tool_pprof_reads_it)
{
	char out[1 << 16];
	if (run("command -v go", out, sizeof out) != 0)
		cr_skip_test("go is not installed: `go tool pprof -raw` not run "
			     "(tests/pprof_decode.py checks the format instead)");
	struct pp_profile *p = fixture();
	render_to(p, (struct pp_view_opts){.threads = true, .idle = true}, "pprof-go.pb.gz");
	pp_profile_free(p);
	cr_assert_eq(run("go tool pprof -raw pprof-go.pb.gz 2>&1", out, sizeof out), 0,
		     "go tool pprof failed:\n%s", out);
	has(out, "wall");
	has(out, "Klass.work");
	has(out, "計算");
}
