/* watch's conditions (src/watch.h) fed by hand, with no process: what is
 * stuck and what is idle, once per incident, deadlocks, the heartbeat. */
#include <criterion/criterion.h>
#include <string.h>

#include "src/watch.h"

#define S(x) ((uint64_t)((x) * 1e9))
#define FUTEX 202
#define CLOCK_NANOSLEEP 230
#define EPOLL_WAIT 232

static struct pp_os_state os(enum pp_os_run run, int in_syscall, long nr)
{
	struct pp_os_state o = {0};
	o.run = run;
	o.in_syscall = in_syscall;
	o.syscall_nr = nr;
	return o;
}

Test(watch_conditions, activity)
{
	struct pp_os_state futex = os(PP_OS_SLEEPING, 1, FUTEX);
	struct pp_os_state nap = os(PP_OS_SLEEPING, 1, CLOCK_NANOSLEEP);
	struct pp_os_state epoll = os(PP_OS_SLEEPING, 1, EPOLL_WAIT);
	struct pp_os_state cpu = os(PP_OS_RUNNING, 0, 0);
	/* holding the GIL is running, whatever the OS says */
	cr_assert_eq(pp_watch_activity_of(PP_GIL_HELD, &nap, "a.py", "f"), PP_WATCH_RUNNING);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_WAITING, &futex, "a.py", "f"), PP_WATCH_GIL_WAIT);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &cpu, "a.py", "f"), PP_WATCH_RUNNING);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &nap, "a.py", "f"), PP_WATCH_IDLE);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &epoll, "a.py", "f"), PP_WATCH_IDLE);
	/* futex: a lock wait in one's own code or in C, idle in the stdlib's waits */
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &futex, "/srv/a.py", "take"),
		     PP_WATCH_LOCK_WAIT);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &futex, NULL, NULL), PP_WATCH_LOCK_WAIT);
	const char *idle[][2] = {
		{"/usr/lib/python3.11/threading.py", "wait"},
		{"/usr/lib/python3.11/threading.py", "wait_for"},
		{"/usr/lib/python3.13/threading.py", "join"},
		{"/usr/lib/python3.8/threading.py", "_wait_for_tstate_lock"},
		{"/usr/lib/python3.11/concurrent/futures/thread.py", "_worker"},
	};
	for (size_t i = 0; i < sizeof idle / sizeof idle[0]; i++)
		cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &futex, idle[i][0], idle[i][1]),
			     PP_WATCH_IDLE, "%s %s", idle[i][0], idle[i][1]);
	/* threading.py's other functions (Condition.__enter__ contending for
	 * its lock) and a file merely ending in "threading.py" are lock waits */
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &futex, "/usr/lib/python3.11/threading.py",
					  "__enter__"), PP_WATCH_LOCK_WAIT);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &futex, "/srv/mythreading.py", "wait"),
		     PP_WATCH_LOCK_WAIT);
	struct pp_os_state gone = os(PP_OS_UNKNOWN, -1, 0);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &gone, "a.py", "f"), PP_WATCH_UNKNOWN);
	struct pp_os_state disk = os(PP_OS_DISK, 1, 0);
	cr_assert_eq(pp_watch_activity_of(PP_GIL_RELEASED, &disk, "a.py", "f"), PP_WATCH_IDLE);
}

static struct pp_watch *new_watch(double stall, double stuck)
{
	struct pp_watch_config c = {S(stall), S(stuck)};
	struct pp_watch *w = pp_watch_new(&c);
	cr_assert(w);
	return w;
}

/* Ticks every 50 ms from t0 to t1 with the same observations; how many
 * incidents fired (the last in *ev). */
static int run(struct pp_watch *w, double t0, double t1, const struct pp_watch_obs *o, size_t n,
	       const struct pp_watch_heartbeat *hb, struct pp_watch_event *last)
{
	int fired = 0;
	struct pp_watch_event ev;
	for (double t = t0; t < t1 - 1e-9; t += 0.05) {
		int r = pp_watch_tick(w, S(t), o, n, hb, &ev);
		cr_assert(r >= 0);
		if (r) {
			fired++;
			if (last)
				*last = ev;
		}
	}
	return fired;
}

Test(watch_conditions, stuck_fires_once_and_again_after_progress)
{
	struct pp_watch *w = new_watch(30, 2);
	struct pp_watch_obs o[2] = {
		{100, 7, PP_WATCH_IDLE, PP_LOOP_NONE},    /* sleeping: never stuck */
		{101, 9, PP_WATCH_RUNNING, PP_LOOP_NONE}, /* spinning */
	};
	struct pp_watch_event ev;
	cr_assert_eq(run(w, 0, 1.9, o, 2, NULL, NULL), 0);
	cr_assert_eq(run(w, 1.9, 10, o, 2, NULL, &ev), 1);
	cr_assert_eq(ev.cond, PP_WATCH_STUCK);
	cr_assert_eq(ev.n, 1);
	cr_assert_eq(ev.f[0].tid, 101);
	cr_assert_eq(ev.f[0].stack, 9);
	cr_assert_eq(ev.f[0].since_ns, 0);
	/* progress (another line), then stuck again: a new incident */
	o[1].stack = 10;
	cr_assert_eq(run(w, 10, 11.9, o, 2, NULL, NULL), 0);
	cr_assert_eq(run(w, 11.9, 20, o, 2, NULL, &ev), 1);
	cr_assert_eq(ev.f[0].since_ns, S(10));
	pp_watch_free(w);
}

Test(watch_conditions, changing_activity_is_progress)
{
	struct pp_watch *w = new_watch(30, 1);
	struct pp_watch_obs o = {5, 3, PP_WATCH_RUNNING, PP_LOOP_NONE};
	struct pp_watch_event ev;
	/* running and waiting for the GIL in turn: busy, contended, not stuck */
	for (int i = 0; i < 200; i++) {
		o.act = i % 2 ? PP_WATCH_GIL_WAIT : PP_WATCH_RUNNING;
		cr_assert_eq(pp_watch_tick(w, S(i * 0.05), &o, 1, NULL, &ev), 0);
	}
	pp_watch_free(w);
}

Test(watch_conditions, deadlock_names_both_parties)
{
	struct pp_watch *w = new_watch(30, 2);
	struct pp_watch_obs o[3] = {
		{1, 2, PP_WATCH_IDLE, PP_LOOP_NONE},      /* main thread joining */
		{2, 3, PP_WATCH_LOCK_WAIT, PP_LOOP_NONE},
		{3, 4, PP_WATCH_LOCK_WAIT, PP_LOOP_NONE},
	};
	struct pp_watch_event ev;
	/* thread 3 blocks a little later than thread 2 */
	o[2].act = PP_WATCH_RUNNING;
	o[2].stack = 5;
	cr_assert_eq(run(w, 0, 0.5, o, 3, NULL, NULL), 0);
	o[2].act = PP_WATCH_LOCK_WAIT;
	o[2].stack = 4;
	cr_assert_eq(run(w, 0.5, 10, o, 3, NULL, &ev), 1);
	cr_assert_eq(ev.cond, PP_WATCH_DEADLOCK);
	cr_assert_eq(ev.n, 2);
	cr_assert_eq(ev.f[0].tid, 2);
	cr_assert_eq(ev.f[1].tid, 3);
	cr_assert_eq(ev.f[0].cond, PP_WATCH_DEADLOCK);
	cr_assert_eq(ev.f[1].cond, PP_WATCH_DEADLOCK);
	pp_watch_free(w);
}

Test(watch_conditions, a_lock_wait_with_a_runner_is_not_a_deadlock)
{
	struct pp_watch *w = new_watch(30, 2);
	struct pp_watch_obs o[3] = {
		{1, 2, PP_WATCH_RUNNING, PP_LOOP_NONE},   /* the holder, working */
		{2, 3, PP_WATCH_LOCK_WAIT, PP_LOOP_NONE},
		{3, 4, PP_WATCH_LOCK_WAIT, PP_LOOP_NONE},
	};
	struct pp_watch_event ev;
	for (int i = 0; i < 200; i++) {
		o[0].stack = 10 + i % 3; /* progressing */
		if (pp_watch_tick(w, S(i * 0.05), o, 3, NULL, &ev) == 1)
			break;
	}
	cr_assert_eq(ev.cond, PP_WATCH_STUCK);
	cr_assert_eq(ev.n, 2);
	cr_assert_eq(ev.f[0].cond, PP_WATCH_STUCK);
	pp_watch_free(w);
}

Test(watch_conditions, stall_once_per_incident_and_not_also_stuck)
{
	struct pp_watch *w = new_watch(1, 1);
	struct pp_watch_obs o = {1, 2, PP_WATCH_IDLE, PP_LOOP_WAITING};
	struct pp_watch_event ev;
	cr_assert_eq(run(w, 0, 1, &o, 1, NULL, NULL), 0);
	/* busy in a callback spinning on one line: stall and stuck at once */
	o = (struct pp_watch_obs){1, 5, PP_WATCH_RUNNING, PP_LOOP_BUSY};
	cr_assert_eq(run(w, 1, 5, &o, 1, NULL, &ev), 1);
	cr_assert_eq(ev.cond, PP_WATCH_STALL);
	cr_assert_eq(ev.n, 1);
	cr_assert_eq(ev.f[0].since_ns, S(1));
	/* moves to another line, still in the callback: the same stall */
	o.stack = 6;
	cr_assert_eq(run(w, 5, 8, &o, 1, NULL, NULL), 0);
	/* a sample that says neither does not end it */
	o.loop = PP_LOOP_UNKNOWN;
	cr_assert_eq(run(w, 8, 8.1, &o, 1, NULL, NULL), 0);
	o.loop = PP_LOOP_BUSY;
	cr_assert_eq(run(w, 8.1, 9, &o, 1, NULL, NULL), 0);
	/* back to the selector: cleared; busy again: a new incident */
	o = (struct pp_watch_obs){1, 2, PP_WATCH_IDLE, PP_LOOP_WAITING};
	cr_assert_eq(run(w, 9, 9.1, &o, 1, NULL, NULL), 0);
	o = (struct pp_watch_obs){1, 7, PP_WATCH_IDLE, PP_LOOP_BUSY};
	cr_assert_eq(run(w, 9.1, 12, &o, 1, NULL, &ev), 1);
	cr_assert_eq(ev.cond, PP_WATCH_STALL);
	cr_assert_eq(ev.f[0].since_ns, S(9.1));
	pp_watch_free(w);
}

Test(watch_conditions, short_busy_stretches_never_stall)
{
	struct pp_watch *w = new_watch(1, 1);
	struct pp_watch_obs o = {1, 2, PP_WATCH_RUNNING, PP_LOOP_BUSY};
	struct pp_watch_event ev;
	for (int i = 0; i < 400; i++) {
		bool busy = i % 10 != 9; /* 0.45 s busy, then one wait */
		o.loop = busy ? PP_LOOP_BUSY : PP_LOOP_WAITING;
		o.stack = busy ? 3 + i % 2 : 2;
		cr_assert_eq(pp_watch_tick(w, S(i * 0.05), &o, 1, NULL, &ev), 0, "tick %d", i);
	}
	pp_watch_free(w);
}

Test(watch_conditions, gone_threads_are_forgotten)
{
	struct pp_watch *w = new_watch(30, 1);
	struct pp_watch_obs o[2] = {
		{1, 2, PP_WATCH_RUNNING, PP_LOOP_NONE},
		{2, 3, PP_WATCH_IDLE, PP_LOOP_NONE},
	};
	cr_assert_eq(run(w, 0, 0.9, o, 2, NULL, NULL), 0);
	/* thread 1 ends; a new thread with its id (reused) starts afresh */
	cr_assert_eq(run(w, 0.9, 1.0, &o[1], 1, NULL, NULL), 0);
	cr_assert_eq(run(w, 1.0, 1.9, o, 2, NULL, NULL), 0);
	cr_assert_eq(run(w, 1.9, 2.5, o, 2, NULL, NULL), 1);
	pp_watch_free(w);
}

Test(watch_conditions, heartbeat_fires_once_until_fresh)
{
	struct pp_watch *w = new_watch(30, 30);
	struct pp_watch_event ev;
	struct pp_watch_heartbeat hb = {S(0.5), S(2)};
	cr_assert_eq(pp_watch_tick(w, S(1), NULL, 0, &hb, &ev), 0);
	hb.age_ns = S(2);
	cr_assert_eq(pp_watch_tick(w, S(3), NULL, 0, &hb, &ev), 1);
	cr_assert_eq(ev.cond, PP_WATCH_HEARTBEAT);
	cr_assert_eq(ev.f[0].since_ns, S(1));
	cr_assert_eq(ev.f[0].tid, 0);
	hb.age_ns = S(20);
	cr_assert_eq(pp_watch_tick(w, S(21), NULL, 0, &hb, &ev), 0);
	hb.age_ns = S(0.1);
	cr_assert_eq(pp_watch_tick(w, S(22), NULL, 0, &hb, &ev), 0);
	hb.age_ns = S(2.5);
	cr_assert_eq(pp_watch_tick(w, S(25), NULL, 0, &hb, &ev), 1);
	pp_watch_free(w);
}

Test(watch_conditions, many_findings_are_counted)
{
	struct pp_watch *w = new_watch(30, 1);
	struct pp_watch_obs o[40];
	for (int i = 0; i < 40; i++)
		o[i] = (struct pp_watch_obs){(uint64_t)i + 1, (uint32_t)i + 1, PP_WATCH_RUNNING,
					     PP_LOOP_NONE};
	struct pp_watch_event ev;
	cr_assert_eq(run(w, 0, 2, o, 40, NULL, &ev), 1);
	cr_assert_eq(ev.n, PP_WATCH_MAX_FINDINGS);
	cr_assert_eq(ev.nmore, 40 - PP_WATCH_MAX_FINDINGS);
	pp_watch_free(w);
}

Test(watch_conditions, names)
{
	cr_assert_str_eq(pp_watch_cond_name(PP_WATCH_DEADLOCK), "suspected deadlock");
	cr_assert_str_eq(pp_watch_cond_key(PP_WATCH_HEARTBEAT), "heartbeat");
	cr_assert_str_eq(pp_watch_activity_name(PP_WATCH_LOCK_WAIT), "lock wait");
}
