/* The profile model and its views (src/profile.h): interning, stacks as a
 * tree, and what each view option keeps and shows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "src/profile.h"

static pp_frame_id frame(struct pp_profile *p, const char *fn, const char *file, int line)
{
	struct pp_pframe f = {pp_profile_str(p, fn), pp_profile_str(p, fn),
			      pp_profile_str(p, file), line, 1, PP_FRAME_PYTHON};
	return pp_profile_frame(p, &f);
}

/* main -> work(line) -> leaf, returns the leaf stack */
static pp_stack_id path(struct pp_profile *p, int work_line, const char *leaf)
{
	pp_stack_id s = pp_profile_stack(p, PP_EMPTY_STACK, frame(p, "main", "app.py", 10));
	s = pp_profile_stack(p, s, frame(p, "work", "app.py", work_line));
	return pp_profile_stack(p, s, frame(p, leaf, "lib.py", 3));
}

Test(profile, interning_dedupes_and_stacks_form_a_tree)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	cr_assert_eq(pp_profile_str(p, ""), 0);
	pp_str_id a = pp_profile_str(p, "función_ñ");
	cr_assert_eq(pp_profile_str(p, "función_ñ"), a);
	cr_assert_str_eq(pp_profile_string(p, a), "función_ñ");
	cr_assert_eq(frame(p, "f", "x.py", 1), frame(p, "f", "x.py", 1));
	cr_assert_neq(frame(p, "f", "x.py", 1), frame(p, "f", "x.py", 2));
	pp_stack_id s1 = path(p, 20, "leaf"), s2 = path(p, 20, "leaf"), s3 = path(p, 21, "leaf");
	cr_assert_eq(s1, s2);
	cr_assert_neq(s1, s3);
	size_t n;
	const struct pp_pstack *st = pp_profile_stacks(p, &n);
	cr_assert_eq(st[s1].depth, 3);
	cr_assert_eq(st[st[s1].parent].parent, st[st[s3].parent].parent, "shared root");
	/* invalid parents are refused, not stored */
	cr_assert_eq(pp_profile_stack(p, 99999, 1), UINT32_MAX);
	struct pp_psample bad = {0, 7, s1, 0, 0};
	cr_assert_eq(pp_profile_add_sample(p, &bad), -1, "unknown thread");
	/* many strings: the index grows */
	char buf[32];
	size_t before = pp_profile_nstrings(p);
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof buf, "s%d", i);
		pp_profile_str(p, buf);
	}
	cr_assert_str_eq(pp_profile_string(p, pp_profile_str(p, "s4321")), "s4321");
	cr_assert_eq(pp_profile_nstrings(p), before + 5000);
	pp_profile_free(p);
}

struct seen {
	char lines[64][256];
	int n;
};

static int collect(const struct pp_view_frame *const *f, size_t n,
		   const struct pp_psample *s, void *ctx)
{
	(void)s;
	struct seen *out = ctx;
	char *l = out->lines[out->n++];
	l[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char part[96];
		snprintf(part, sizeof part, "%s%s:%d", i ? ";" : "", f[i]->function, f[i]->line);
		strncat(l, part, 255 - strlen(l));
	}
	return 0;
}

static struct pp_profile *sample_profile(void)
{
	struct pp_profile *p = pp_profile_new();
	struct pp_pthread t0 = {100, 100, pp_profile_str(p, "MainThread"), pp_profile_str(p, "python app.py")};
	struct pp_pthread t1 = {100, 101, 0, t0.cmdline};
	uint32_t a = pp_profile_thread(p, &t0), b = pp_profile_thread(p, &t1);
	cr_assert_eq(pp_profile_thread(p, &t0), a);
	struct pp_psample s[] = {
		{1, a, path(p, 20, "leaf"), PP_SGIL_HELD, PP_SOS_RUNNING},
		{2, b, path(p, 21, "leaf"), PP_SGIL_WAITING, PP_SOS_SLEEPING},
		{3, b, path(p, 22, "sleep"), PP_SGIL_RELEASED, PP_SOS_SLEEPING},
		{4, a, path(p, 20, "leaf"), PP_SGIL_RELEASED, PP_SOS_RUNNING},
		{5, a, PP_EMPTY_STACK, PP_SGIL_HELD, PP_SOS_RUNNING},
	};
	for (size_t i = 0; i < sizeof s / sizeof *s; i++)
		cr_assert_eq(pp_profile_add_sample(p, &s[i]), 0);
	return p;
}

static void view(const struct pp_profile *p, struct pp_view_opts o, struct seen *out)
{
	struct pp_view *v = pp_view_new(p, &o);
	cr_assert_not_null(v);
	out->n = 0;
	cr_assert_eq(pp_view_each(v, collect, out), 0);
	cr_assert_eq(pp_view_nsamples(v), (size_t)out->n);
	pp_view_free(v);
}

Test(profile, default_view_drops_idle_and_empty_samples)
{
	struct pp_profile *p = sample_profile();
	struct seen s;
	view(p, (struct pp_view_opts){0}, &s);
	cr_assert_eq(s.n, 2, "two running samples with frames");
	cr_assert_str_eq(s.lines[0], "main:10;work:20;leaf:3");
	cr_assert_str_eq(s.lines[1], "main:10;work:20;leaf:3");
	view(p, (struct pp_view_opts){.idle = true}, &s);
	cr_assert_eq(s.n, 4);
	cr_assert_str_eq(s.lines[2], "main:10;work:22;sleep:3");
	pp_profile_free(p);
}

Test(profile, view_options)
{
	struct pp_profile *p = sample_profile();
	struct seen s;
	view(p, (struct pp_view_opts){.gil_only = true, .idle = true}, &s);
	cr_assert_eq(s.n, 1, "only the holder's sample");
	view(p, (struct pp_view_opts){.threads = true}, &s);
	cr_assert_str_eq(s.lines[0], "thread 100 \"MainThread\":-1;main:10;work:20;leaf:3");
	view(p, (struct pp_view_opts){.threads = true, .processes = true, .idle = true}, &s);
	cr_assert_str_eq(s.lines[1],
			 "process 100: python app.py:-1;thread 101:-1;main:10;work:21;leaf:3");
	view(p, (struct pp_view_opts){.nolineno = true, .idle = true}, &s);
	cr_assert_str_eq(s.lines[2], "main:-1;work:-1;sleep:-1");
	/* markers: waiting samples are kept even without idle; released
	 * samples get their marker when shown */
	view(p, (struct pp_view_opts){.gil_markers = true}, &s);
	cr_assert_eq(s.n, 3);
	cr_assert_str_eq(s.lines[1], "main:10;work:21;leaf:3;[waiting for GIL]:-1");
	cr_assert_str_eq(s.lines[2], "main:10;work:20;leaf:3;[GIL released]:-1");
	pp_profile_free(p);
}

Test(profile, nolineno_merges_frames)
{
	struct pp_profile *p = sample_profile();
	struct pp_view_opts o = {.nolineno = true, .idle = true};
	struct pp_view *v = pp_view_new(p, &o);
	struct pp_view_opts o2 = {.idle = true};
	struct pp_view *v2 = pp_view_new(p, &o2);
	cr_assert_lt(pp_view_nframes(v), pp_view_nframes(v2),
		     "work:20/21/22 are one frame without line numbers");
	pp_view_free(v);
	pp_view_free(v2);
	pp_profile_free(p);
}

/* A thread first sampled before its name was known, then named, then
 * renamed: one thread in the view, under its latest name. */
Test(profile, a_thread_is_its_tid_under_its_latest_name)
{
	struct pp_profile *p = pp_profile_new();
	pp_str_id cmd = pp_profile_str(p, "python app.py");
	struct pp_pthread rows[] = {
		{100, 101, 0, cmd},
		{100, 101, pp_profile_str(p, "Thread-1"), cmd},
		{100, 102, pp_profile_str(p, "other"), cmd},
		{100, 101, pp_profile_str(p, "worker"), cmd},
	};
	for (size_t i = 0; i < 4; i++) {
		uint32_t id = pp_profile_thread(p, &rows[i]);
		cr_assert_eq(id, i);
		struct pp_psample s = {i, id, path(p, 20, "leaf"), PP_SGIL_HELD, PP_SOS_RUNNING};
		cr_assert_eq(pp_profile_add_sample(p, &s), 0);
	}
	struct seen s;
	view(p, (struct pp_view_opts){.threads = true}, &s);
	cr_assert_eq(s.n, 4);
	cr_assert_str_eq(s.lines[0], "thread 101 \"worker\":-1;main:10;work:20;leaf:3");
	cr_assert_str_eq(s.lines[1], s.lines[0]);
	cr_assert_str_eq(s.lines[3], s.lines[0]);
	cr_assert_str_eq(s.lines[2], "thread 102 \"other\":-1;main:10;work:20;leaf:3");
	struct pp_view_opts o = {0};
	struct pp_view *v = pp_view_new(p, &o);
	cr_assert_str_eq(pp_view_thread_name(v, 0), "worker");
	cr_assert_str_eq(pp_view_thread_name(v, 2), "other");
	cr_assert_str_eq(pp_view_thread_name(v, 9), "");
	pp_view_free(v);
	pp_profile_free(p);
}

/* One program, or several: processes (--subprocesses), or one process
 * under two command lines (it exec'd). Names alone do not count. */
Test(profile, several_programs)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	cr_expect_not(pp_profile_several_programs(p), "empty");
	pp_str_id py38 = pp_profile_str(p, "python3.8 app.py");
	struct pp_pthread a = {10, 10, pp_profile_str(p, "MainThread"), py38};
	struct pp_pthread b = {10, 11, 0, py38};
	struct pp_pthread renamed = {10, 11, pp_profile_str(p, "worker"), py38};
	pp_profile_thread(p, &a);
	pp_profile_thread(p, &b);
	pp_profile_thread(p, &renamed);
	cr_expect_not(pp_profile_several_programs(p), "one process, threads and names");
	struct pp_pthread execd = {10, 10, pp_profile_str(p, "MainThread"),
				   pp_profile_str(p, "python3.12 app.py")};
	pp_profile_thread(p, &execd);
	cr_expect(pp_profile_several_programs(p), "one pid, two command lines");
	pp_profile_free(p);

	p = pp_profile_new();
	struct pp_pthread child = {20, 20, 0, pp_profile_str(p, "python3.8 app.py")};
	a.cmdline = child.cmdline;
	pp_profile_thread(p, &a);
	pp_profile_thread(p, &child);
	cr_expect(pp_profile_several_programs(p), "two pids");
	pp_profile_free(p);
}
