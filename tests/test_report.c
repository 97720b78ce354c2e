/* src/report.c and src/loop_stalls.c on profiles built in memory: each
 * sample's GIL use, thread shares, the totals over ticks, GIL waits and
 * their holder, event loops (asyncio's and a C loop's) and their stalls;
 * then the text and JSON renderers against golden files.
 *
 * To regenerate the golden files after an intended change:
 *   PYPROBE_UPDATE_GOLDEN=1 meson test -C BUILD report
 * then read the diff before committing it.
 */
#include <criterion/criterion.h>
#include <inttypes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"
#include "src/report.h"
#include "tests/profile_build.h"
#include "tests/support.h"

#define MS 1000000ull

static uint32_t thread(struct pp_profile *p, uint64_t tid, const char *name)
{
	struct pp_pthread t = {100, tid, name ? pp_profile_str(p, name) : 0,
			       pp_profile_str(p, "python3 app.py")};
	return pp_profile_thread(p, &t);
}

static void add(struct pp_profile *p, uint64_t t_ms, uint32_t th, pp_stack_id st, int gil, int os)
{
	struct pp_psample s = {t_ms * MS, th, st, (uint8_t)gil, (uint8_t)os};
	cr_assert_eq(pp_profile_add_sample(p, &s), 0);
}

static struct pp_profile *new_profile(void)
{
	struct pp_profile *p = pp_profile_new();
	cr_assert_not_null(p);
	struct pp_profile_meta *m = pp_profile_meta(p);
	m->rate_hz = 100;
	m->pid = 100;
	m->cmdline = pp_profile_str(p, "python3 app.py");
	m->python_version = pp_profile_str(p, "3.11.7");
	return p;
}

Test(report, gil_use_of_a_sample)
{
	struct pp_psample s = {0};
	s.gil = PP_SGIL_HELD, s.os = PP_SOS_SLEEPING;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_HELD, "the holder is held even blocked");
	s.gil = PP_SGIL_WAITING;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_WAITING);
	s.gil = PP_SGIL_RELEASED, s.os = PP_SOS_RUNNING;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_RELEASED);
	s.os = PP_SOS_SLEEPING;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_IDLE);
	s.os = PP_SOS_DISK;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_IDLE);
	s.os = PP_SOS_UNKNOWN;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_UNKNOWN);
	s.gil = PP_SGIL_UNKNOWN, s.os = PP_SOS_RUNNING;
	cr_assert_eq(pp_sample_gil_use(&s), PP_USE_UNKNOWN);
	cr_assert_str_eq(pp_gil_use_name(PP_USE_RELEASED), "released");
}

/* Two CPU threads taking turns, a third waiting behind them for 40 ms. */
static struct pp_profile *contention(void)
{
	struct pp_profile *p = new_profile();
	uint32_t a = thread(p, 101, "worker-a"), b = thread(p, 102, "worker-b");
	uint32_t c = thread(p, 103, NULL);
	pp_frame_id run = tb_py(p, "Thread.run", "/usr/lib/python3.11/threading.py", 982);
	pp_stack_id sa = TB_STACK(p, run, tb_py(p, "spin_a", "/app/work.py", 10));
	pp_stack_id sb = TB_STACK(p, run, tb_py(p, "spin_b", "/app/work.py", 20));
	pp_stack_id sb2 = TB_STACK(p, run, tb_py(p, "spin_b", "/app/work.py", 21));
	pp_stack_id sc = TB_STACK(p, run, tb_py(p, "late", "/app/work.py", 30));
	for (uint64_t i = 0; i < 10; i++) {
		bool a_holds = i < 5;
		add(p, i * 10, a, sa, a_holds ? PP_SGIL_HELD : PP_SGIL_WAITING, PP_SOS_RUNNING);
		add(p, i * 10, b, i == 6 ? sb2 : sb, a_holds ? PP_SGIL_WAITING : PP_SGIL_HELD,
		    a_holds ? PP_SOS_SLEEPING : PP_SOS_RUNNING);
		/* c: idle, then waiting for 4 samples behind b, then on CPU
		 * without the GIL. */
		int g = i >= 5 && i < 9 ? PP_SGIL_WAITING : PP_SGIL_RELEASED;
		add(p, i * 10, c, sc, g, i < 5 ? PP_SOS_SLEEPING : PP_SOS_RUNNING);
	}
	pp_profile_meta(p)->duration_ns = 100 * MS;
	return p;
}

Test(report, thread_shares_totals_and_waits)
{
	struct pp_profile *p = contention();
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	cr_assert_eq(r->nthreads, 3);
	cr_assert_eq(r->samples, 30);
	cr_assert_eq(r->interval_ns, 10 * MS);
	const struct pp_report_thread *a = &r->threads[0], *c = &r->threads[2];
	cr_assert_str_eq(a->name, "worker-a");
	cr_assert_null(c->name);
	cr_assert_eq(a->count[PP_USE_HELD], 5);
	cr_assert_eq(a->count[PP_USE_WAITING], 5);
	cr_assert_eq(c->count[PP_USE_IDLE], 5);
	cr_assert_eq(c->count[PP_USE_WAITING], 4);
	cr_assert_eq(c->count[PP_USE_RELEASED], 1);
	cr_assert(r->gil_known);
	cr_assert_float_eq(r->gil_held_pct, 100.0, 1e-9);
	cr_assert_float_eq(r->gil_contention_pct, 100.0, 1e-9);
	/* Waits, longest first: a's 5 samples (50 ms), b's 5 samples from the
	 * very start (45 ms: nothing before the first sample), c's 4 (40 ms). */
	cr_assert_eq(r->nwaits, 3);
	cr_assert_eq(r->waits[0].thread, 0);
	cr_assert_eq(r->waits[0].start_ns, 45 * MS);
	cr_assert_eq(r->waits[0].duration_ns, 50 * MS);
	cr_assert_eq(r->waits[0].holder, 1);
	cr_assert_eq(r->waits[1].duration_ns, 45 * MS);
	cr_assert_eq(r->waits[2].duration_ns, 40 * MS);
	const struct pp_gil_wait *w = &r->waits[2];
	cr_assert_eq(w->thread, 2);
	cr_assert_eq(w->start_ns, 45 * MS, "a wait begins halfway from the sample before");
	cr_assert_eq(w->holder, 1, "c waited behind worker-b");
	const struct pp_pframe *f;
	cr_assert_eq(pp_report_stack(p, w->holder_stack, &f, 1), 2);
	cr_assert_str_eq(pp_profile_string(p, f->function), "spin_b");
	cr_assert_eq(f->line, 20, "the holder's most frequent stack, not the odd one");
	const struct pp_gil_wait *bw = &r->waits[1];
	cr_assert_eq(bw->thread, 1);
	cr_assert_eq(bw->start_ns, 0);
	cr_assert_eq(bw->holder, 0);
	pp_report_free(r);

	r = pp_report_new(p, &(struct pp_report_opts){.max_waits = 1});
	cr_assert_eq(r->nwaits, 1, "max_waits keeps the longest");
	cr_assert_eq(r->waits[0].duration_ns, 50 * MS);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(report, rows_of_one_thread_are_one_thread)
{
	struct pp_profile *p = new_profile();
	uint32_t before = thread(p, 101, NULL), after = thread(p, 101, "renamed");
	pp_stack_id s = TB_STACK(p, tb_py(p, "f", "/app/x.py", 1));
	add(p, 0, before, s, PP_SGIL_HELD, PP_SOS_RUNNING);
	add(p, 10, after, s, PP_SGIL_HELD, PP_SOS_RUNNING);
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_eq(r->nthreads, 1);
	cr_assert_eq(r->threads[0].samples, 2);
	cr_assert_str_eq(r->threads[0].name, "renamed");
	cr_assert_eq(pp_report_thread_of(r, after), 0);
	cr_assert_eq(pp_report_thread_of(r, 99), -1);
	pp_report_free(r);
	pp_profile_free(p);
}

/* The report as text, then (with `json`) as JSON, in one malloc'd string
 * (its length in *len, when asked: every byte counts, NULs included). */
static char *rendered_n(const struct pp_profile *p, const struct pp_report *r, bool json,
			size_t *len_out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_not_null(f);
	cr_assert_eq(pp_render_report_text(p, r, 100 * MS, f), 0);
	if (json)
		cr_assert_eq(pp_render_report_json(p, r, 100 * MS, f), 0);
	fclose(f);
	if (len_out)
		*len_out = len;
	return buf;
}

static char *rendered(const struct pp_profile *p, const struct pp_report *r, bool json)
{
	return rendered_n(p, r, json, NULL);
}

Test(report, no_gil_state_is_unknown)
{
	struct pp_profile *p = new_profile();
	uint32_t t = thread(p, 101, NULL);
	add(p, 0, t, PP_EMPTY_STACK, PP_SGIL_UNKNOWN, PP_SOS_RUNNING);
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not(r->gil_known);
	cr_assert_eq(r->nwaits, 0);
	cr_assert_eq(r->nloops, 0);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(report, empty_profile)
{
	struct pp_profile *p = new_profile();
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	cr_assert_eq(r->nthreads + r->nwaits + r->nstalls + r->nloops, 0);
	char *buf = rendered(p, r, true);
	cr_assert(strstr(buf, "\"threads\": []"));
	cr_assert(strstr(buf, "{\n  \"format_version\": 1,\n  \"duration_s\": "), "%s", buf);
	free(buf);
	pp_report_free(r);
	pp_profile_free(p);
}

/* asyncio's loop on the main thread: waiting in select, two stalls (one
 * 250 ms in a coroutine, one of 90 ms: under the threshold), and short
 * busy moments between waits; a uvloop-style loop on a second thread. */
static struct pp_profile *loops(void)
{
	struct pp_profile *p = new_profile();
	uint32_t main_t = thread(p, 101, "MainThread"), uv = thread(p, 102, "uv");
	const char *lib = "/usr/lib/python3.11/";
	char be[128], ev[128], sel[128], run[128];
	snprintf(be, sizeof be, "%sasyncio/base_events.py", lib);
	snprintf(ev, sizeof ev, "%sasyncio/events.py", lib);
	snprintf(sel, sizeof sel, "%sselectors.py", lib);
	snprintf(run, sizeof run, "%sasyncio/runners.py", lib);
	pp_frame_id mod = tb_py(p, "<module>", "/app/svc.py", 40);
	pp_frame_id forever = tb_py(p, "BaseEventLoop.run_forever", be, 607);
	pp_frame_id once = tb_py(p, "BaseEventLoop._run_once", be, 1922);
	pp_stack_id loop = TB_STACK(p, mod, forever, once);
	pp_stack_id waiting = TB_STACK(p, mod, forever, once, tb_py(p, "EpollSelector.select", sel, 468));
	pp_frame_id hrun = tb_py(p, "Handle._run", ev, 80);
	pp_stack_id handler = TB_STACK(p, mod, forever, once, hrun, tb_py(p, "handle", "/app/svc.py", 12));
	pp_stack_id deeper = tb_stack(p, (pp_frame_id[]){mod, forever, once, hrun,
						      tb_py(p, "handle", "/app/svc.py", 13),
						      tb_py(p, "parse", "/app/svc.py", 30)}, 6);
	pp_stack_id other = TB_STACK(p, mod, forever, once, hrun, tb_py(p, "tick", "/app/svc.py", 20));
	/* uvloop: the runner frame alone while waiting; 120 ms in a
	 * coroutine at the end of the recording. */
	pp_frame_id rmod = tb_py(p, "run", run, 190), rrun = tb_py(p, "Runner.run", run, 118);
	pp_stack_id uv_wait = TB_STACK(p, mod, rmod, rrun);
	pp_stack_id uv_busy = TB_STACK(p, mod, rmod, rrun, tb_py(p, "crunch", "/app/uv.py", 7));
	/* Main: 0..90 ms waiting, 100..340 busy (handle, mostly in parse),
	 * 350 the loop itself, 360..440 busy (tick: 90 ms), 450.. waiting
	 * but for one busy sample at 500. Both threads in every tick, as the
	 * sampler writes them. */
	for (uint64_t t = 0; t < 600; t += 10) {
		pp_stack_id m = t < 100   ? waiting
				: t < 150 ? handler
				: t < 350 ? deeper
				: t == 350 ? loop
				: t < 450 ? other
				: t == 500 ? other : waiting;
		bool busy = m != waiting;
		add(p, t, main_t, m, busy ? PP_SGIL_HELD : PP_SGIL_RELEASED,
		    busy ? PP_SOS_RUNNING : PP_SOS_SLEEPING);
		add(p, t, uv, t >= 480 ? uv_busy : uv_wait, PP_SGIL_RELEASED, PP_SOS_SLEEPING);
	}
	pp_profile_meta(p)->duration_ns = 600 * MS;
	return p;
}

/* A stall next to missed ticks: its edge lies anywhere in the gap, so it
 * is put halfway and the duration says how far off it can be - not cut
 * at half a period after the last busy sample, which made a 250 ms stall
 * 120 ms when the sampler went 180 ms without a sample at its end. */
Test(report, stall_next_to_missed_ticks)
{
	struct pp_profile *p = new_profile();
	uint32_t t = thread(p, 101, "MainThread");
	const char *lib = "/usr/lib/python3.12/";
	char be[128], ev[128], sel[128];
	snprintf(be, sizeof be, "%sasyncio/base_events.py", lib);
	snprintf(ev, sizeof ev, "%sasyncio/events.py", lib);
	snprintf(sel, sizeof sel, "%sselectors.py", lib);
	pp_frame_id mod = tb_py(p, "<module>", "/app/svc.py", 40);
	pp_frame_id forever = tb_py(p, "BaseEventLoop.run_forever", be, 607);
	pp_frame_id once = tb_py(p, "BaseEventLoop._run_once", be, 1922);
	pp_stack_id waiting = TB_STACK(p, mod, forever, once, tb_py(p, "EpollSelector.select", sel, 468));
	pp_stack_id burn = TB_STACK(p, mod, forever, once, tb_py(p, "Handle._run", ev, 80),
				    tb_py(p, "burn", "/app/svc.py", 12));
	/* every 10 ms: waiting to 90, busy 100..250, nothing until 400
	 * (missed ticks), waiting from 400 */
	for (uint64_t ms = 0; ms < 600; ms += 10) {
		if (ms > 250 && ms < 400)
			continue;
		bool busy = ms >= 100 && ms <= 250;
		add(p, ms, t, busy ? burn : waiting, busy ? PP_SGIL_HELD : PP_SGIL_RELEASED,
		    busy ? PP_SOS_RUNNING : PP_SOS_SLEEPING);
	}
	pp_profile_meta(p)->duration_ns = 600 * MS;
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	cr_assert_eq(r->nstalls, 1);
	const struct pp_stall *s = &r->stalls[0];
	cr_assert_eq(s->start_ns, 95 * MS);
	cr_assert_eq(s->duration_ns, 230 * MS, "250 + 150/2 - 95: %" PRIu64, s->duration_ns);
	cr_assert_eq(s->duration_error_ns, 80 * MS, "5 before, 75 after");
	char *buf = rendered(p, r, true);
	cr_assert(strstr(buf, "230 ms, give or take 80 ms (ticks missed next to it)"), "%s", buf);
	cr_assert(strstr(buf, "\"duration_ms\": 230.00, \"duration_error_ms\": 80.00"), "%s", buf);
	free(buf);
	pp_report_free(r);
	pp_profile_free(p);
}

Test(report, event_loop_stalls)
{
	struct pp_profile *p = loops();
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	cr_assert_eq(r->nloops, 2);
	cr_assert(r->threads[0].event_loop && r->threads[1].event_loop);
	cr_assert_eq(r->nstalls, 2, "the 250 ms stall and the uvloop one; not the 90 ms one");
	cr_assert_float_eq(r->gil_held_pct, 36.0 / 60 * 100, 1e-9, "ticks with a holder");
	const struct pp_stall *s = &r->stalls[0];
	cr_assert_eq(s->thread, 0);
	cr_assert_eq(s->start_ns, 95 * MS);
	cr_assert_eq(s->duration_ns, 250 * MS);
	cr_assert_eq(s->duration_error_ns, 10 * MS, "half a period at each edge");
	cr_assert_eq(s->samples, 25);
	cr_assert_str_eq(s->task, "handle");
	const struct pp_pframe *f[2];
	cr_assert_eq(pp_report_stack(p, s->stack, f, 2), 6);
	cr_assert_str_eq(pp_profile_string(p, f[0]->function), "parse",
			 "the most frequent stack of the stall");
	cr_assert_eq(f[0]->line, 30);
	cr_assert_eq(s->task_depth, 5);
	const struct pp_stall *u = &r->stalls[1];
	cr_assert_eq(u->thread, 1);
	cr_assert_eq(u->start_ns, 475 * MS);
	cr_assert_eq(u->duration_ns, 120 * MS,
		     "a stall open at the end closes half a period after its last sample");
	cr_assert_str_eq(u->task, "crunch");

	pp_report_free(r);
	r = pp_report_new(p, &(struct pp_report_opts){.stall_threshold_ns = 80 * MS});
	cr_assert_eq(r->nstalls, 3, "80 ms also finds the 90 ms stall");
	cr_assert_str_eq(r->stalls[1].task, "tick");
	cr_assert_eq(r->stalls[1].duration_ns, 90 * MS);
	pp_report_free(r);
	pp_profile_free(p);
}

/* The recording names the Task of some samples (format 1.3, 3.11+): the
 * stall names the Task most of its samples running its coroutine give;
 * a stall whose samples name none (the uvloop one) names only the
 * coroutine. */
static struct pp_profile *loops_with_tasks(void)
{
	struct pp_profile *p = loops();
	size_t n;
	const struct pp_psample *smp = pp_profile_samples(p, &n);
	pp_str_id a = pp_profile_str(p, "conn-7"), b = pp_profile_str(p, "conn \"8\"");
	for (size_t i = 0; i < n; i += 2) { /* main's samples */
		uint64_t t = smp[i].time_ns / MS;
		/* the stall: conn-7 but for three samples of conn "8" (in the
		 * middle, so the first seen does not win by order), nothing
		 * named at 200 */
		if (t >= 100 && t < 350 && t != 200)
			cr_assert_eq(pp_profile_set_sample_task(p, i, t >= 150 && t < 180 ? b : a), 0);
		if (t == 500)
			cr_assert_eq(pp_profile_set_sample_task(p, i, b), 0);
	}
	return p;
}

Test(report, stall_names_its_task)
{
	struct pp_profile *p = loops_with_tasks();
	cr_assert_neq(pp_profile_set_sample_task(p, 0, pp_profile_str(p, "late")), 0,
		      "out of order");
	cr_assert_neq(pp_profile_set_sample_task(p, 1u << 30, 1), 0, "no such sample");
	cr_assert_neq(pp_profile_set_sample_task(p, 119, 0), 0, "no name");
	cr_assert_eq(pp_profile_sample_task(p, 20), pp_profile_str(p, "conn-7"));
	cr_assert_eq(pp_profile_sample_task(p, 21), 0, "uv's samples name none");
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	cr_assert_eq(r->nstalls, 2);
	cr_assert_str_eq(r->stalls[0].task, "handle");
	cr_assert_str_eq(r->stalls[0].task_name, "conn-7");
	cr_assert_null(r->stalls[1].task_name, "the uvloop stall's samples name no Task");
	char *buf = rendered(p, r, true);
	cr_assert(strstr(buf, "running task \"conn-7\" (coroutine handle):"), "%s", buf);
	cr_assert(strstr(buf, "\"task\": \"handle\", \"task_name\": \"conn-7\""), "%s", buf);
	cr_assert(strstr(buf, "\"task\": \"crunch\", \"task_name\": null"), "%s", buf);
	free(buf);
	pp_report_free(r);
	/* a majority of conn "8" wins, and its quotes are escaped */
	pp_profile_free(p);
	p = loops();
	size_t n;
	const struct pp_psample *smp = pp_profile_samples(p, &n);
	for (size_t i = 0; i < n; i += 2)
		if (smp[i].time_ns >= 100 * MS && smp[i].time_ns < 350 * MS)
			pp_profile_set_sample_task(p, i, pp_profile_str(p, smp[i].time_ns < 120 * MS
									      ? "conn-7" : "conn \"8\""));
	r = pp_report_new(p, NULL);
	cr_assert_str_eq(r->stalls[0].task_name, "conn \"8\"");
	buf = rendered(p, r, false);
	cr_assert(strstr(buf, "running task \"conn \\\"8\\\"\" (coroutine handle):"), "%s", buf);
	free(buf);
	pp_report_free(r);
	/* A plain callback's last sample can name the Task it woke (its Task
	 * is read just after its stack): the samples that name none are
	 * most, and the stall names no Task. */
	pp_profile_free(p);
	p = loops();
	smp = pp_profile_samples(p, &n);
	cr_assert_eq(smp[n - 1].time_ns, 590 * MS);
	cr_assert_eq(pp_profile_set_sample_task(p, n - 1, pp_profile_str(p, "Task-1")), 0);
	r = pp_report_new(p, NULL);
	cr_assert_eq(r->nstalls, 2);
	cr_assert_str_eq(r->stalls[1].task, "crunch");
	cr_assert_null(r->stalls[1].task_name, "one late sample of eleven named it");
	pp_report_free(r);
	pp_profile_free(p);
}

Test(report, loop_states_of_stacks)
{
	struct pp_profile *p = loops();
	struct pp_report *r = pp_report_new(p, NULL);
	size_t n;
	const struct pp_psample *smp = pp_profile_samples(p, &n);
	/* Samples alternate main, uv: main's at even indexes. */
	cr_assert_eq(pp_report_loop_state(r, smp[0].stack), PP_LOOP_WAITING, "in select");
	cr_assert_eq(pp_report_loop_state(r, smp[1].stack), PP_LOOP_WAITING, "uvloop's runner");
	cr_assert_eq(pp_report_loop_state(r, smp[20].stack), PP_LOOP_BUSY, "in a handler");
	cr_assert_eq(pp_report_loop_state(r, smp[70].stack), PP_LOOP_WAITING, "_run_once itself");
	cr_assert_eq(pp_report_loop_state(r, smp[119].stack), PP_LOOP_BUSY, "in a coroutine");
	cr_assert_eq(pp_report_loop_state(r, PP_EMPTY_STACK), PP_LOOP_NONE);
	cr_assert_eq(pp_report_loop_state(r, 1u << 30), PP_LOOP_NONE);
	pp_report_free(r);
	pp_profile_free(p);
}

static void golden(const char *name, struct pp_profile *p,
		   int (*render)(const struct pp_profile *, const struct pp_report *, uint64_t,
				 FILE *))
{
	struct pp_report *r = pp_report_new(p, NULL);
	char *buf = NULL;
	size_t len = 0, at = 0;
	FILE *f = open_memstream(&buf, &len);
	cr_assert_eq(render(p, r, 100 * MS, f), 0);
	fclose(f);
	bool same = ts_matches_golden(name, buf, len, &at);
	free(buf);
	pp_report_free(r);
	cr_assert(same, "%s differs from fixtures/golden/%s at byte %zu (see %s.actual)", name,
		  name, at, name);
}

Test(report, golden_text_and_json)
{
	struct pp_profile *p = contention();
	golden("report-gil.txt", p, pp_render_report_text);
	golden("report-gil.json", p, pp_render_report_json);
	pp_profile_free(p);
	p = loops();
	golden("report-loops.txt", p, pp_render_report_text);
	golden("report-loops.json", p, pp_render_report_json);
	pp_profile_free(p);
}

/* Thousands of one-sample waits and one long one in the middle: the list
 * stays bounded and the long one survives the trimming. */
Test(report, many_waits_keep_the_longest)
{
	struct pp_profile *p = new_profile();
	uint32_t a = thread(p, 101, "a"), b = thread(p, 102, "b");
	pp_stack_id s = TB_STACK(p, tb_py(p, "f", "/app/x.py", 1));
	for (uint64_t i = 0; i < 20000; i++) {
		bool long_wait = i >= 10000 && i < 10007;
		bool a_waits = long_wait || (i % 2 && (i < 9998 || i > 10008));
		add(p, i * 10, a, s, a_waits ? PP_SGIL_WAITING : PP_SGIL_HELD, PP_SOS_RUNNING);
		add(p, i * 10, b, s, a_waits ? PP_SGIL_HELD : PP_SGIL_WAITING, PP_SOS_RUNNING);
	}
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	cr_assert_eq(r->nwaits, 10);
	cr_assert_eq(r->waits[0].thread, 0);
	cr_assert_eq(r->waits[0].duration_ns, 70 * MS, "7 samples, half a period on each side");
	cr_assert_eq(r->waits[0].start_ns, 99995 * MS);
	/* Then b's two 2-sample waits around it, then one-sample waits. */
	cr_assert_eq(r->waits[1].duration_ns, 20 * MS);
	cr_assert_eq(r->waits[2].duration_ns, 20 * MS);
	for (size_t i = 3; i < r->nwaits; i++)
		cr_assert_eq(r->waits[i].duration_ns, 10 * MS);
	pp_report_free(r);
	pp_profile_free(p);
}

/* Loop frames under stacks that are not a running loop, a stall of two
 * callbacks back to back, and the threshold's slack. */
Test(report, loop_edge_cases)
{
	struct pp_profile *p = new_profile();
	uint32_t t = thread(p, 101, "MainThread");
	const char *be = "/usr/lib/python3.11/asyncio/base_events.py";
	const char *ev = "/usr/lib/python3.11/asyncio/events.py";
	pp_frame_id mod = tb_py(p, "<module>", "/app/svc.py", 40);
	pp_frame_id once = tb_py(p, "BaseEventLoop._run_once", be, 1922);
	pp_frame_id hrun = tb_py(p, "Handle._run", ev, 80);
	pp_frame_id sel = tb_py(p, "EpollSelector.select", "/usr/lib/python3.11/selectors.py", 468);
	pp_stack_id waiting = TB_STACK(p, mod, once, sel);
	pp_stack_id a = TB_STACK(p, mod, once, hrun, tb_py(p, "first", "/app/svc.py", 5));
	pp_stack_id b = TB_STACK(p, mod, once, hrun, tb_py(p, "second", "/app/svc.py", 9));
	/* A worker forked from a callback keeps the loop's frames below its
	 * own start; importing uvloop runs its module, not a loop. */
	pp_stack_id forked = TB_STACK(p, mod, once, hrun, tb_py(p, "first", "/app/svc.py", 6),
				   tb_py(p, "BaseProcess._bootstrap",
				      "/usr/lib/python3.11/multiprocessing/process.py", 314),
				   tb_py(p, "work", "/app/svc.py", 20));
	pp_stack_id import = TB_STACK(p, mod, tb_py(p, "<module>",
					      "/usr/lib/python3/dist-packages/uvloop/__init__.py", 7),
				   tb_py(p, "f", "/app/x.py", 1));
	/* Ticks: 3 waiting, 4 in first, 6 in second (one stall of 100 ms
	 * sampled 10 us short), waiting again. */
	uint64_t us = 1000;
	pp_stack_id seq[] = {waiting, waiting, waiting, a, a, a, a, b, b, b, b, b, b,
			     waiting, waiting};
	for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
		uint64_t time = i * 10 * MS - (i == 13 ? 10 * us : 0);
		struct pp_psample s = {time, t, seq[i], PP_SGIL_HELD, PP_SOS_RUNNING};
		cr_assert_eq(pp_profile_add_sample(p, &s), 0);
	}
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_eq(pp_report_loop_state(r, forked), PP_LOOP_NONE, "a forked child runs no loop");
	cr_assert_eq(pp_report_loop_state(r, import), PP_LOOP_NONE, "an import is not a loop");
	cr_assert_eq(r->nstalls, 1, "a 99.99 ms stall at a 100 ms threshold is one");
	const struct pp_stall *s = &r->stalls[0];
	cr_assert_eq(s->duration_ns, 100 * MS - 5 * us);
	cr_assert_str_eq(s->task, "second", "the most frequent");
	cr_assert_eq(s->nothers, 1);
	cr_assert_str_eq(s->others[0], "first");
	pp_report_free(r);
	r = pp_report_new(p, &(struct pp_report_opts){.stall_threshold_ns = 102 * MS});
	cr_assert_eq(r->nstalls, 0, "the slack is a tenth of a period, no more");
	pp_report_free(r);
	pp_profile_free(p);
}

/* Two processes: a GIL each. A thread state seen before its OS thread ran
 * (no native id, nothing known) is no thread of the report. */
Test(report, processes_and_unborn_threads)
{
	struct pp_profile *p = new_profile();
	struct pp_pthread rows[] = {
		{100, 100, pp_profile_str(p, "MainThread"), pp_profile_str(p, "python3 app.py")},
		{200, 200, pp_profile_str(p, "MainThread"), pp_profile_str(p, "python3 worker")},
		{100, 0, 0, pp_profile_str(p, "python3 app.py")},
	};
	uint32_t t[3];
	for (int i = 0; i < 3; i++)
		t[i] = pp_profile_thread(p, &rows[i]);
	pp_stack_id s = TB_STACK(p, tb_py(p, "f", "/app/x.py", 1));
	for (uint64_t i = 0; i < 4; i++) {
		add(p, i * 10, t[0], s, i < 1 ? PP_SGIL_HELD : PP_SGIL_RELEASED, PP_SOS_SLEEPING);
		if (i == 0)
			add(p, i * 10, t[2], s, PP_SGIL_UNKNOWN, PP_SOS_UNKNOWN);
		add(p, i * 10 + 1, t[1], s, PP_SGIL_HELD, PP_SOS_RUNNING);
	}
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_eq(r->nthreads, 2, "the unborn thread is left out");
	cr_assert_eq(r->samples, 8);
	cr_assert_eq(r->nprocesses, 2);
	cr_assert_eq(r->processes[0].pid, 100);
	cr_assert_str_eq(r->processes[0].cmdline, "python3 app.py");
	cr_assert_float_eq(r->processes[0].gil_held_pct, 25.0, 1e-9);
	cr_assert_float_eq(r->processes[1].gil_held_pct, 100.0, 1e-9);
	cr_assert_float_eq(r->gil_held_pct, 62.5, 1e-9, "pooled over both processes' ticks");
	char *buf = rendered(p, r, false);
	cr_assert(strstr(buf, "GIL, per process (each has its own):\n"
			      "  100 held  25.0%, contended   0.0%  python3 app.py\n"
			      "  200 held 100.0%, contended   0.0%  python3 worker\n"), "%s", buf);
	cr_assert(strstr(buf, "     pid thread "), "a pid column: %s", buf);
	free(buf);
	pp_report_free(r);
	pp_profile_free(p);
}

/* U+0000 in names (the bytes C0 80, reader/pystring.h): `\x00` where text
 * escapes, '?' in the table's thread column, `\u0000` in JSON. */
Test(report, nul_in_names)
{
	struct pp_profile *p = new_profile();
	uint32_t t = thread(p, 101, "M\xc0\x80T");
	pp_stack_id s = TB_STACK(p, tb_py(p, "a\xc0\x80" "b", "/tmp/x\xc0\x80y.py", 3));
	for (uint64_t i = 0; i < 4; i++)
		add(p, i * 10, t, s, PP_SGIL_HELD, PP_SOS_RUNNING);
	pp_profile_meta(p)->duration_ns = 40 * MS;
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_not_null(r);
	size_t len;
	char *buf = rendered_n(p, r, true, &len);
	cr_assert(strstr(buf, "101 M?T "), "%s", buf);
	cr_assert(strstr(buf, "\"name\": \"M\\u0000T\""), "%s", buf);
	cr_assert_null(memchr(buf, 0xC0, len), "C0 80 left in: %s", buf);
	free(buf);
	pp_report_free(r);
	pp_profile_free(p);
}

/* Threads are ordered by process, then first appearance - not by thread
 * id - and every row finds its thread, renamed or not. */
Test(report, thread_order_and_rows)
{
	struct pp_profile *p = new_profile();
	pp_str_id cmd = pp_profile_str(p, "python3 app.py");
	struct pp_pthread rows[] = {
		{200, 5, pp_profile_str(p, "a"), cmd},
		{100, 7, 0, cmd},
		{200, 5, pp_profile_str(p, "a2"), cmd},
		{100, 3, pp_profile_str(p, "b"), cmd},
	};
	uint32_t t[4];
	for (int i = 0; i < 4; i++)
		t[i] = pp_profile_thread(p, &rows[i]);
	pp_stack_id s = TB_STACK(p, tb_py(p, "f", "/app/x.py", 1));
	for (int i = 0; i < 4; i++)
		add(p, 10 * (uint64_t)i, t[i], s, PP_SGIL_HELD, PP_SOS_RUNNING);
	struct pp_report *r = pp_report_new(p, NULL);
	cr_assert_eq(r->nthreads, 3);
	cr_assert_eq(r->threads[0].native_id, 7);
	cr_assert_eq(r->threads[1].native_id, 3);
	cr_assert_eq(r->threads[2].native_id, 5);
	cr_assert_str_eq(r->threads[2].name, "a2", "the latest name");
	cr_assert_eq(r->threads[2].samples, 2);
	int32_t want[] = {2, 0, 2, 1};
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(pp_report_thread_of(r, t[i]), want[i], "row %u", i);
	pp_report_free(r);
	pp_profile_free(p);
}
