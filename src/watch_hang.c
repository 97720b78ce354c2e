/* Writing one hang; see watch_hang.h. */
#include "watch_hang.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../reader/asyncio_tasks.h"
#include "../render/render.h"

/* Write one file through a temporary name in the same directory. */
static int write_atomic(const char *path, const struct pp_hang *h, bool json, char *why,
			size_t why_size)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
	FILE *f = fopen(tmp, "w");
	if (!f) {
		snprintf(why, why_size, "cannot create %s: %s", tmp, strerror(errno));
		return -1;
	}
	int rc = json ? pp_render_hang_json(h, f) : pp_render_hang_text(h, f);
	int e = errno;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -1, e = errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -1, e = errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1, e = errno;
	if (rc != 0) {
		unlink(tmp);
		snprintf(why, why_size, "cannot write %s: %s", path, strerror(e ? e : EIO));
	}
	return rc;
}

int pp_watch_write_hang(struct pp_target *t, const struct pp_watch_samples *ws,
			const struct pp_watch_event *ev, uint64_t now_ns,
			const struct pp_watch_hang_opts *o, char *path, size_t path_size,
			char *culprit, size_t culprit_size, char *why, size_t why_size)
{
	const struct pp_target_info *info = pp_target_get_info(t);
	/* the dump first: it is the hang as it is now */
	struct pp_dump_taken d;
	struct pp_error err = {0};
	enum pp_err de = pp_dump_take(t, &o->dump, &d, &err);

	time_t wall = time(NULL);
	struct tm tm;
	gmtime_r(&wall, &tm);
	char iso[32], stamp[32];
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);

	struct pp_hang_finding f[PP_WATCH_MAX_FINDINGS];
	char *task_names[PP_WATCH_MAX_FINDINGS] = {0};
	for (size_t i = 0; i < ev->n; i++) {
		const struct pp_watch_finding *w = &ev->f[i];
		f[i] = (struct pp_hang_finding){
			.condition = pp_watch_cond_key(w->cond),
			.native_id = w->tid,
			.thread_name = w->tid ? pp_watch_samples_thread_name(ws, w->tid) : NULL,
			.activity = pp_watch_activity_name(w->act),
			.seconds = now_ns >= w->since_ns ? (double)(now_ns - w->since_ns) / 1e9 : 0,
		};
		if (w->tid && pp_watch_samples_leaf(ws, w->stack, &f[i].function, &f[i].file,
						    &f[i].line) != 0)
			f[i].function = NULL;
		if (w->cond == PP_WATCH_STALL) {
			f[i].task = pp_watch_samples_task(ws, w->stack);
			/* the Task it runs: the loop is stuck in it, so it is the
			 * one the dump just saw */
			if (w->tid)
				task_names[i] = pp_target_asyncio_running_task(t, w->tid, true);
			f[i].task_name = task_names[i];
		}
	}
	struct pp_hang h = {
		.pid = info->pid,
		.condition = pp_watch_cond_key(ev->cond),
		.condition_name = pp_watch_cond_name(ev->cond),
		.time = iso,
		.stall_s = o->stall_s,
		.stuck_s = o->stuck_s,
		.heartbeat_file = o->heartbeat_file,
		.heartbeat_timeout_s = o->heartbeat_timeout_s,
		.findings = f,
		.nfindings = ev->n,
		.nmore = ev->nmore,
		.dump = de == PP_OK ? &d.dump : NULL,
		.dump_error = de == PP_OK ? NULL : err.msg,
	};
	struct pp_profile *recent = pp_watch_samples_recent(ws, &h.recent_s);
	h.recent = recent;

	/* a name no earlier hang has taken */
	char base[4096], txt[4200], json[4200];
	int rc = -1;
	for (int k = 1; k < 1000; k++) {
		if (k == 1)
			snprintf(base, sizeof base, "%s/pyprobe-hang-%d-%s", o->dir, info->pid, stamp);
		else
			snprintf(base, sizeof base, "%s/pyprobe-hang-%d-%s-%d", o->dir, info->pid,
				 stamp, k);
		snprintf(txt, sizeof txt, "%s.txt", base);
		snprintf(json, sizeof json, "%s.json", base);
		if (access(txt, F_OK) != 0 && access(json, F_OK) != 0) {
			rc = 0;
			break;
		}
	}
	if (rc != 0)
		snprintf(why, why_size, "too many hang files for one second in %s", o->dir);
	else if (write_atomic(json, &h, true, why, why_size) != 0 ||
		 write_atomic(txt, &h, false, why, why_size) != 0)
		rc = -1;
	snprintf(path, path_size, "%s", txt);

	/* the culprit: the first finding */
	const struct pp_hang_finding *c = &f[0];
	if (ev->n == 0)
		snprintf(culprit, culprit_size, "%s", h.condition_name);
	else if (!strcmp(c->condition, "heartbeat"))
		snprintf(culprit, culprit_size, "%s not modified for %.1f s",
			 o->heartbeat_file ? o->heartbeat_file : "?", c->seconds);
	else if (c->task_name)
		snprintf(culprit, culprit_size,
			 "thread %llu%s%s%s (%s) at %s (%s:%d), loop running task \"%s\"%s%s%s",
			 (unsigned long long)c->native_id, c->thread_name ? " \"" : "",
			 c->thread_name ? c->thread_name : "", c->thread_name ? "\"" : "",
			 c->activity, c->function ? c->function : "?",
			 c->function && c->file ? c->file : "?", c->function ? c->line : 0,
			 c->task_name, c->task ? " (coroutine " : "", c->task ? c->task : "",
			 c->task ? ")" : "");
	else
		snprintf(culprit, culprit_size, "thread %llu%s%s%s (%s) at %s (%s:%d)%s%s",
			 (unsigned long long)c->native_id, c->thread_name ? " \"" : "",
			 c->thread_name ? c->thread_name : "", c->thread_name ? "\"" : "",
			 c->activity, c->function ? c->function : "?",
			 c->function && c->file ? c->file : "?", c->function ? c->line : 0,
			 c->task ? ", loop running " : "", c->task ? c->task : "");
	for (size_t i = 0; i < PP_WATCH_MAX_FINDINGS; i++)
		free(task_names[i]);
	pp_profile_free(recent);
	pp_dump_taken_free(&d);
	return rc;
}
