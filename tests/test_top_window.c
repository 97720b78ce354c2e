/* src/top_window.c: pyprobe top's window on a hand-built profile - own
 * and total samples per function (a recursive function counted once per
 * sample), the sorts, samples falling out of the window, idle samples
 * left out unless asked, threads that differ only by name merged, and
 * their GIL share. */
#include <criterion/criterion.h>
#include <string.h>

#include "src/top_window.h"
#include "tests/profile_build.h"

#define MS 1000000ull

static void add(struct pp_profile *p, uint32_t thread, uint64_t t_ms, pp_stack_id st,
		uint8_t gil, uint8_t os)
{
	struct pp_psample s = {t_ms * MS, thread, st, gil, os};
	cr_assert_eq(pp_profile_add_sample(p, &s), 0);
}

static const struct pp_top_function *find(const struct pp_top_snapshot *s, const char *fn)
{
	for (size_t i = 0; i < s->nfunctions; i++)
		if (!strcmp(s->functions[i].function, fn))
			return &s->functions[i];
	return NULL;
}

Test(top_window, own_total_sort_expiry_idle_threads)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_pthread a = {10, 10, pp_profile_str(p, ""), 0};
	struct pp_pthread a2 = {10, 10, pp_profile_str(p, "MainThread"), 0};
	struct pp_pthread b = {10, 11, pp_profile_str(p, "worker"), 0};
	uint32_t ta = pp_profile_thread(p, &a), ta2 = pp_profile_thread(p, &a2),
		 tb = pp_profile_thread(p, &b);
	pp_frame_id mod = tb_py(p, "<module>", "app.py", 1), rec = tb_py(p, "rec", "app.py", 5),
		    leaf = tb_py(p, "leaf", "app.py", 9), leaf10 = tb_py(p, "leaf", "app.py", 10),
		    other = tb_py(p, "leaf", "lib.py", 3);
	/* t=0: an old sample that falls out of a 1 s window */
	add(p, tb, 0, TB_STACK(p, mod, other), PP_SGIL_HELD, PP_SOS_RUNNING);
	/* t=1000..1003: rec>rec>leaf (recursion), two lines of leaf */
	add(p, ta, 1000, TB_STACK(p, mod, rec, rec, leaf), PP_SGIL_HELD, PP_SOS_RUNNING);
	add(p, ta2, 1001, TB_STACK(p, mod, rec, rec, leaf10), PP_SGIL_HELD, PP_SOS_RUNNING);
	add(p, tb, 1002, TB_STACK(p, mod, rec), PP_SGIL_WAITING, PP_SOS_RUNNING);
	/* an idle sample: left out by default */
	add(p, tb, 1003, TB_STACK(p, mod, other), PP_SGIL_RELEASED, PP_SOS_SLEEPING);

	struct pp_top_window *w = pp_top_window_new(1000 * MS, false);
	cr_assert_not_null(w);
	size_t next = 0;
	cr_assert_eq(pp_top_window_feed(w, p, &next), 0);
	cr_assert_eq(next, 5);
	struct pp_top_snapshot s;
	cr_assert_eq(pp_top_snapshot_take(w, p, PP_TOP_BY_OWN, &s), 0);
	cr_assert_eq(s.samples, 3, "%lu", (unsigned long)s.samples);
	cr_assert_eq(s.span_ns, 2 * MS);
	/* by own: leaf (app.py) 2 own, then rec 1 own; other: gone or idle */
	cr_assert_str_eq(s.functions[0].function, "leaf");
	cr_assert_str_eq(s.functions[0].file, "app.py");
	cr_assert_eq(s.functions[0].own, 2);
	cr_assert_eq(s.functions[0].total, 2);
	const struct pp_top_function *r = find(&s, "rec"), *m = find(&s, "<module>");
	cr_assert(r && m);
	cr_assert_eq(r->own, 1);
	cr_assert_eq(r->total, 3, "recursion counted once per sample: %lu",
		     (unsigned long)r->total);
	cr_assert_eq(m->own, 0);
	cr_assert_eq(m->total, 3);
	cr_assert_eq(s.nfunctions, 3, "lib.py's leaf is out of the window or idle");
	/* threads: rows 0 and 1 are one thread, named MainThread */
	cr_assert_eq(s.threads[ta].samples, 2);
	cr_assert_eq(s.threads[ta2].samples, 0);
	cr_assert_str_eq(pp_profile_string(p, s.threads[ta].name), "MainThread");
	cr_assert_eq(s.threads[ta].gil_held, 2);
	cr_assert_eq(s.threads[tb].samples, 1);
	cr_assert_eq(s.threads[tb].gil_held, 0);
	cr_assert_eq(s.threads[tb].gil_known, 1);
	pp_top_snapshot_free(&s);

	/* by total: <module> and rec (3) before leaf (2); <module> and rec
	 * tie on total, rec first by own */
	cr_assert_eq(pp_top_snapshot_take(w, p, PP_TOP_BY_TOTAL, &s), 0);
	cr_assert_str_eq(s.functions[0].function, "rec");
	cr_assert_str_eq(s.functions[1].function, "<module>");
	cr_assert_str_eq(s.functions[2].function, "leaf");
	pp_top_snapshot_free(&s);
	pp_top_window_free(w);

	/* with idle: the sleeping sample counts */
	w = pp_top_window_new(1000 * MS, true);
	next = 0;
	cr_assert_eq(pp_top_window_feed(w, p, &next), 0);
	cr_assert_eq(pp_top_snapshot_take(w, p, PP_TOP_BY_OWN, &s), 0);
	cr_assert_eq(s.samples, 4);
	cr_assert_not_null(find(&s, "leaf"));
	size_t leaves = 0;
	for (size_t i = 0; i < s.nfunctions; i++)
		leaves += !strcmp(s.functions[i].function, "leaf");
	cr_assert_eq(leaves, 2, "leaf of app.py and of lib.py are two functions");
	pp_top_snapshot_free(&s);

	/* later samples push the old ones out */
	add(p, tb, 5000, TB_STACK(p, mod, other), PP_SGIL_HELD, PP_SOS_RUNNING);
	cr_assert_eq(pp_top_window_feed(w, p, &next), 0);
	cr_assert_eq(pp_top_snapshot_take(w, p, PP_TOP_BY_OWN, &s), 0);
	cr_assert_eq(s.samples, 1);
	cr_assert_str_eq(s.functions[0].file, "lib.py");
	pp_top_snapshot_free(&s);
	pp_top_window_free(w);
	pp_profile_free(p);
}

Test(top_window, empty)
{
	struct pp_profile *p = pp_profile_new();
	struct pp_top_window *w = pp_top_window_new(MS, false);
	cr_assert(p && w);
	size_t next = 0;
	cr_assert_eq(pp_top_window_feed(w, p, &next), 0);
	struct pp_top_snapshot s;
	cr_assert_eq(pp_top_snapshot_take(w, p, PP_TOP_BY_TOTAL, &s), 0);
	cr_assert_eq(s.samples + s.nfunctions + s.span_ns, 0);
	pp_top_snapshot_free(&s);
	pp_top_window_free(w);
	pp_profile_free(p);
}
