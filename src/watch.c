/* watch's conditions; see watch.h. */
#include "watch.h"

#include <stdlib.h>
#include <string.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix) && (n == k || s[n - k - 1] == '/');
}

/* The stdlib's waits for a notification: a futex wait inside one is a
 * thread waiting for work, an event or another thread's end, not for a
 * lock someone holds. */
static bool notification_wait(const char *file, const char *name)
{
	if (!file || !name)
		return false;
	if (ends_with(file, "threading.py"))
		return !strcmp(name, "wait") || !strcmp(name, "wait_for") ||
		       !strcmp(name, "join") || !strcmp(name, "_wait_for_tstate_lock");
	if (ends_with(file, "concurrent/futures/thread.py"))
		return !strcmp(name, "_worker");
	return false;
}

enum pp_watch_activity pp_watch_activity_of(enum pp_gil_state gil, const struct pp_os_state *os,
					    const char *leaf_file, const char *leaf_name)
{
	if (gil == PP_GIL_HELD)
		return PP_WATCH_RUNNING;
	if (gil == PP_GIL_WAITING)
		return PP_WATCH_GIL_WAIT;
	switch (os->run) {
	case PP_OS_RUNNING:
		return PP_WATCH_RUNNING;
	case PP_OS_DISK:
		return PP_WATCH_IDLE;
	case PP_OS_SLEEPING: {
		const char *sc = os->in_syscall == 1 ? pp_syscall_name(os->syscall_nr) : NULL;
		if (sc && !strcmp(sc, "futex") && !notification_wait(leaf_file, leaf_name))
			return PP_WATCH_LOCK_WAIT;
		return PP_WATCH_IDLE;
	}
	default:
		return PP_WATCH_UNKNOWN;
	}
}

const char *pp_watch_activity_name(enum pp_watch_activity a)
{
	switch (a) {
	case PP_WATCH_RUNNING: return "running";
	case PP_WATCH_LOCK_WAIT: return "lock wait";
	case PP_WATCH_GIL_WAIT: return "GIL wait";
	case PP_WATCH_IDLE: return "idle";
	default: return "unknown";
	}
}

const char *pp_watch_cond_name(enum pp_watch_cond c)
{
	switch (c) {
	case PP_WATCH_STALL: return "loop stall";
	case PP_WATCH_STUCK: return "stuck thread";
	case PP_WATCH_DEADLOCK: return "suspected deadlock";
	case PP_WATCH_HEARTBEAT: return "stale heartbeat";
	default: return "none";
	}
}

const char *pp_watch_cond_key(enum pp_watch_cond c)
{
	switch (c) {
	case PP_WATCH_STALL: return "stall";
	case PP_WATCH_STUCK: return "stuck";
	case PP_WATCH_DEADLOCK: return "deadlock";
	case PP_WATCH_HEARTBEAT: return "heartbeat";
	default: return "none";
	}
}

struct wthread {
	uint64_t tid;
	uint32_t stack;
	enum pp_watch_activity act;
	uint64_t since;       /* this stack and activity since */
	bool busy;            /* its loop busy since busy_since */
	uint64_t busy_since;
	bool stuck_rep, stall_rep; /* reported, not cleared yet */
	bool seen;
};

struct pp_watch {
	struct pp_watch_config c;
	struct wthread *t;
	size_t n, cap;
	bool hb_rep;
};

struct pp_watch *pp_watch_new(const struct pp_watch_config *c)
{
	struct pp_watch *w = calloc(1, sizeof(*w));
	if (w)
		w->c = *c;
	return w;
}

void pp_watch_free(struct pp_watch *w)
{
	if (w)
		free(w->t);
	free(w);
}

/* The thread's entry; threads come in the same order every tick, so the
 * slot of the same index is tried first. NULL when out of memory. */
static struct wthread *thread_of(struct pp_watch *w, size_t hint, const struct pp_watch_obs *o,
				 uint64_t now)
{
	if (hint < w->n && w->t[hint].tid == o->tid)
		return &w->t[hint];
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].tid == o->tid)
			return &w->t[i];
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 16;
		struct wthread *t = realloc(w->t, nc * sizeof(*t));
		if (!t)
			return NULL;
		w->t = t;
		w->cap = nc;
	}
	struct wthread *t = &w->t[w->n++];
	*t = (struct wthread){.tid = o->tid, .stack = o->stack, .act = o->act, .since = now};
	return t;
}

static void add(struct pp_watch_event *ev, const struct pp_watch_finding *f)
{
	if (ev->n < PP_WATCH_MAX_FINDINGS)
		ev->f[ev->n++] = *f;
	else
		ev->nmore++;
}

static bool stuckable(enum pp_watch_activity a)
{
	return a == PP_WATCH_RUNNING || a == PP_WATCH_LOCK_WAIT;
}

int pp_watch_tick(struct pp_watch *w, uint64_t now, const struct pp_watch_obs *obs,
		  size_t n, const struct pp_watch_heartbeat *hb, struct pp_watch_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	for (size_t i = 0; i < w->n; i++)
		w->t[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct wthread *t = thread_of(w, i, &obs[i], now);
		if (!t)
			return -1;
		t->seen = true;
		if (t->stack != obs[i].stack || t->act != obs[i].act) {
			t->stack = obs[i].stack;
			t->act = obs[i].act;
			t->since = now;
			t->stuck_rep = false;
		}
		switch (obs[i].loop) {
		case PP_LOOP_BUSY:
			if (!t->busy) {
				t->busy = true;
				t->busy_since = now;
			}
			break;
		case PP_LOOP_UNKNOWN:
			break; /* says neither: passed over */
		default:
			t->busy = false;
			t->stall_rep = false;
		}
	}
	size_t k = 0; /* threads gone */
	for (size_t i = 0; i < w->n; i++)
		if (w->t[i].seen)
			w->t[k++] = w->t[i];
	w->n = k;

	bool lock_stuck = false;
	for (size_t i = 0; i < w->n; i++) {
		struct wthread *t = &w->t[i];
		if (t->stuck_rep || t->stall_rep)
			continue;
		struct pp_watch_finding f = {PP_WATCH_NONE, t->tid, t->stack, t->act, 0};
		if (t->busy && now - t->busy_since >= w->c.stall_ns) {
			f.cond = PP_WATCH_STALL;
			f.since_ns = t->busy_since;
		} else if (stuckable(t->act) && now - t->since >= w->c.stuck_ns) {
			f.cond = PP_WATCH_STUCK;
			f.since_ns = t->since;
			lock_stuck |= t->act == PP_WATCH_LOCK_WAIT;
		} else {
			continue;
		}
		add(ev, &f);
		t->stuck_rep = t->stall_rep = true;
	}
	/* A suspected deadlock: two or more long lock waits, nothing running. */
	if (lock_stuck) {
		size_t waiting = 0, running = 0;
		for (size_t i = 0; i < w->n; i++) {
			const struct wthread *t = &w->t[i];
			waiting += t->act == PP_WATCH_LOCK_WAIT && now - t->since >= w->c.stuck_ns / 2;
			running += t->act == PP_WATCH_RUNNING;
		}
		if (waiting >= 2 && !running) {
			ev->cond = PP_WATCH_DEADLOCK;
			for (size_t j = 0; j < ev->n; j++)
				if (ev->f[j].cond == PP_WATCH_STUCK && ev->f[j].act == PP_WATCH_LOCK_WAIT)
					ev->f[j].cond = PP_WATCH_DEADLOCK;
			/* the other party of the deadlock, not yet past the threshold */
			for (size_t i = 0; i < w->n; i++) {
				struct wthread *t = &w->t[i];
				if (t->act != PP_WATCH_LOCK_WAIT || t->stuck_rep ||
				    now - t->since < w->c.stuck_ns / 2)
					continue;
				add(ev, &(struct pp_watch_finding){PP_WATCH_DEADLOCK, t->tid, t->stack,
								   t->act, t->since});
				t->stuck_rep = t->stall_rep = true;
			}
		}
	}
	if (hb) {
		if (hb->age_ns < hb->timeout_ns) {
			w->hb_rep = false;
		} else if (!w->hb_rep) {
			w->hb_rep = true;
			add(ev, &(struct pp_watch_finding){PP_WATCH_HEARTBEAT, 0, 0, PP_WATCH_UNKNOWN,
							   now >= hb->age_ns ? now - hb->age_ns : 0});
		}
	}
	if (ev->n == 0)
		return 0;
	if (ev->cond == PP_WATCH_NONE)
		ev->cond = ev->f[0].cond;
	return 1;
}
