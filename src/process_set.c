/* The processes a recording samples; see process_set.h. */
#include "process_set.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../reader/procfs.h"

#define SCAN_INTERVAL_NS 100000000ull       /* /proc/.../children */
#define SCAN_INTERVAL_PPID_NS 500000000ull  /* all of /proc: costlier */
/* How long a process found is tried before it is taken for not Python:
 * long enough for an interpreter to start up (tens of ms, more on a loaded
 * machine). A launched root gets as long as record waits for it. */
#define TRY_NS 1000000000ull
#define TRY_ROOT_NS 30000000000ull
/* A root that exec'd while attached: the new program is tried every
 * EXEC_RETRY_NS for EXEC_TRY_NS - the grace a launched command that is not
 * Python gets too - counted again from each further exec. */
#define EXEC_TRY_NS 3000000000ull
#define EXEC_RETRY_NS 10000000ull
/* Exec events kept for the caller: a root that execs more often than the
 * caller looks loses the notes past these, not the recording. */
#define EVENTS_MAX 16

/* What tells a process apart from an earlier one with the same pid (start
 * time) and from itself before an exec (where its code and stack were
 * mapped, randomised afresh by every exec). */
struct identity {
	uint64_t starttime, startcode, startstack;
};

enum state {
	PENDING,  /* found, not readable as Python yet: tried at every scan */
	ATTACHED, /* in procs */
	IGNORED,  /* not Python, or dropped: left alone while its identity holds */
};

struct known {
	int pid;
	enum state state;
	struct identity id; /* of the program attached, or found */
	uint64_t try_until; /* PENDING: give up after this */
	bool found;         /* by the scan under way */
	/* The root only: the program attached exec'd, and what becomes of
	 * the new one is to be told (an event); tried every EXEC_RETRY_NS. */
	bool execd;
	uint64_t exec_ns, next_try;
};

struct pp_process_set {
	int root_pid;
	bool follow, ppid_scan, root_gone;
	struct pp_process *procs;
	size_t nprocs, capprocs;
	struct known *known; /* known[0] is the root */
	size_t nknown, capknown;
	uint64_t next_scan;
	size_t seen;
	struct pp_error root_err;
	/* The root's command line, and the identity it was read under: read
	 * again when the root execs, so that it is never the one of pyprobe
	 * (between its fork and the command's exec) or of a program since
	 * replaced. */
	char *cmdline;
	struct identity cmdline_id;
	char version[32];
	uint64_t next_root_check; /* without follow: the root's identity */
	struct pp_exec_event events[EVENTS_MAX];
	size_t nevents;
	/* A root being tried after an exec: its command line and why it
	 * cannot be read, as last seen (it may exit before it is told). */
	char *exec_cmdline;
	char exec_why[sizeof(((struct pp_error *)0)->msg)];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, ncap * size);
	if (!nv)
		return -1;
	*v = nv;
	*cap = ncap;
	return 0;
}

/* A whole /proc file, NUL-terminated; NULL if it cannot be read. */
static char *read_proc(const char *path, size_t *len)
{
	size_t n = 0;
	int err = 0;
	char *s = pp_read_file(path, 1u << 22, &n, &err);
	if (s && len)
		*len = n;
	return s;
}

/* PF_EXITING in /proc/PID/stat's flags: the process is on its way out
 * (include/linux/sched.h; stable since 2.6). */
#define PF_EXITING 0x4ull

/* /proc/PID/stat: ppid and identity, and whether it is exiting. -1 if the
 * process is gone or a zombie (nothing left to read). */
static int read_stat_ex(int pid, int *ppid, struct identity *id, bool *exiting)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	char *s = read_proc(path, NULL);
	if (!s)
		return -1;
	/* The command name in parentheses may hold anything, ')' included:
	 * the fields start after the last ')'. Field 3 is the state. */
	char *p = strrchr(s, ')');
	int rc = -1;
	if (p && p[1] == ' ' && p[2] && p[2] != 'Z' && p[2] != 'X') {
		unsigned long long f[29] = {0};
		int field = 3;
		for (p += 2; *p && field <= 28; field++) {
			if (field >= 4)
				f[field] = strtoull(p, NULL, 10);
			while (*p && *p != ' ')
				p++;
			while (*p == ' ')
				p++;
		}
		if (field > 28) {
			*ppid = (int)f[4];
			*id = (struct identity){f[22], f[26], f[28]};
			if (exiting)
				*exiting = (f[9] & PF_EXITING) != 0;
			rc = 0;
		}
	}
	free(s);
	return rc;
}

static int read_stat(int pid, int *ppid, struct identity *id)
{
	return read_stat_ex(pid, ppid, id, NULL);
}

static int same_identity(const struct identity *a, const struct identity *b)
{
	return a->starttime == b->starttime && a->startcode == b->startcode &&
	       a->startstack == b->startstack;
}

/* The root's command line, as of identity id (read just before). */
static void reread_cmdline(struct pp_process_set *s, const struct identity *id)
{
	char *c = pp_proc_cmdline(s->root_pid);
	if (!c)
		return; /* out of memory: the old one stays */
	free(s->cmdline);
	s->cmdline = c;
	s->cmdline_id = *id;
}

/* A process that execs while it is attached is described half by the old
 * program and half by the new: the reader reads its command line first,
 * its memory map next. Attach between two reads of its identity and of its
 * command line, and start again when either changed. */
enum pp_err pp_process_attach(int pid, struct pp_target **out, struct pp_error *err)
{
	enum pp_err e = PP_ERR_NOT_PYTHON;
	*out = NULL;
	for (int tries = 0; tries < 3; tries++) {
		int ppid;
		struct identity before, after;
		bool known = read_stat(pid, &ppid, &before) == 0;
		e = pp_target_attach(pid, out, err);
		if (e != PP_OK || !known)
			return e; /* gone, not Python, ...: said by the reader */
		char *now = pp_proc_cmdline(pid);
		const char *was = pp_target_get_info(*out)->cmdline;
		bool same = read_stat(pid, &ppid, &after) == 0 &&
			    same_identity(&before, &after) && now &&
			    !strcmp(now, was ? was : "");
		free(now);
		if (same)
			return PP_OK;
		pp_target_detach(*out);
		*out = NULL;
		e = err->code = PP_ERR_NOT_PYTHON;
		err->starting = false;
		snprintf(err->msg, sizeof(err->msg), "process %d was starting another "
			 "program while pyprobe read it", pid);
	}
	return e;
}

struct pids {
	int *v;
	size_t n, cap;
};

static int pids_has(const struct pids *p, int pid)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i] == pid)
			return 1;
	return 0;
}

static void pids_add(struct pids *p, int pid)
{
	if (pid > 0 && !pids_has(p, pid) && grow((void **)&p->v, &p->cap, p->n, sizeof(int)) == 0)
		p->v[p->n++] = pid;
}

/* Children of every thread of pid: a pool replaces its workers from a
 * handler thread, and a child belongs to the thread that forked it. */
static void children_of(int pid, struct pids *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char cpath[320];
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, de->d_name);
		char *s = read_proc(cpath, NULL);
		if (!s)
			continue;
		for (char *p = s, *end; *p; p = end) {
			long c = strtol(p, &end, 10);
			if (end == p)
				break;
			pids_add(out, (int)c);
		}
		free(s);
	}
	closedir(d);
}

/* Without the children files: (pid, ppid) of every process, then the same
 * walk down from the root over that table. */
static void descendants_by_ppid(int root, struct pids *out)
{
	struct pids all = {0}, parents = {0};
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		int pid = atoi(de->d_name), ppid;
		struct identity id;
		if (read_stat(pid, &ppid, &id) != 0 ||
		    grow((void **)&all.v, &all.cap, all.n, sizeof(int)) != 0 ||
		    grow((void **)&parents.v, &parents.cap, parents.n, sizeof(int)) != 0)
			continue;
		all.v[all.n++] = pid;
		parents.v[parents.n++] = ppid;
	}
	closedir(d);
	/* out grows as we go: each process found is a parent to look for. */
	for (size_t k = 0; k <= out->n; k++) {
		int parent = k == 0 ? root : out->v[k - 1];
		for (size_t i = 0; i < all.n; i++)
			if (parents.v[i] == parent && all.v[i] != root)
				pids_add(out, all.v[i]);
	}
	free(all.v);
	free(parents.v);
}

static void descendants(const struct pp_process_set *s, struct pids *out)
{
	if (s->ppid_scan) {
		descendants_by_ppid(s->root_pid, out);
		return;
	}
	children_of(s->root_pid, out);
	for (size_t k = 0; k < out->n; k++)
		children_of(out->v[k], out);
}

struct pp_process_set *pp_process_set_new(int root_pid, bool follow)
{
	struct pp_process_set *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->root_pid = root_pid;
	s->follow = follow;
	if (grow((void **)&s->known, &s->capknown, 0, sizeof(*s->known)) != 0) {
		pp_process_set_free(s);
		return NULL;
	}
	int ppid;
	s->known[0] = (struct known){.pid = root_pid, .state = PENDING,
				     .try_until = now_ns() + TRY_ROOT_NS};
	if (read_stat(root_pid, &ppid, &s->known[0].id) != 0)
		s->known[0].id = (struct identity){0};
	reread_cmdline(s, &s->known[0].id);
	if (!s->cmdline) {
		pp_process_set_free(s);
		return NULL;
	}
	s->nknown = 1;
	/* Kernels built without CONFIG_PROC_CHILDREN have no children file;
	 * ours tells. The tests force the fallback with the variable, so that
	 * it is exercised where the children files exist. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	s->ppid_scan = access(path, R_OK) != 0 || getenv("PYPROBE_TEST_PPID_SCAN");
	return s;
}

static void free_proc(struct pp_process *p)
{
	if (p->free_user)
		p->free_user(p->user);
	pp_target_detach(p->target);
}

void pp_process_set_free(struct pp_process_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nprocs; i++)
		free_proc(&s->procs[i]);
	free(s->procs);
	free(s->known);
	free(s->cmdline);
	free(s->exec_cmdline);
	free(s);
}

static struct known *find_known(struct pp_process_set *s, int pid)
{
	for (size_t i = 0; i < s->nknown; i++)
		if (s->known[i].pid == pid)
			return &s->known[i];
	return NULL;
}

static int add_proc(struct pp_process_set *s, struct pp_target *t, bool root)
{
	if (grow((void **)&s->procs, &s->capprocs, s->nprocs, sizeof(*s->procs)) != 0)
		return -1;
	const struct pp_target_info *info = pp_target_get_info(t);
	struct pp_process p = {t, info->pid, root, NULL, NULL};
	if (root) { /* first, so that its samples come first in each tick */
		memmove(s->procs + 1, s->procs, s->nprocs * sizeof(*s->procs));
		s->procs[0] = p;
	} else {
		s->procs[s->nprocs] = p;
	}
	s->nprocs++;
	s->seen++;
	/* The identity of the program attached: what an exec is told from
	 * (the one found before may be of the program before an exec, or of
	 * pyprobe's own fork of a command). */
	struct known *k = find_known(s, p.pid);
	int ppid;
	struct identity id;
	if (k && read_stat(p.pid, &ppid, &id) == 0)
		k->id = id;
	if (root) {
		/* What the reader read with the program it attached (see
		 * pp_process_attach); refresh re-reads it if the root execs. */
		char *c = strdup(info->cmdline ? info->cmdline : "");
		if (c) {
			free(s->cmdline);
			s->cmdline = c;
		}
	}
	if (root || !s->version[0])
		snprintf(s->version, sizeof(s->version), "%s", info->version);
	return 0;
}

int pp_process_set_add_root(struct pp_process_set *s, struct pp_target *t)
{
	if (add_proc(s, t, true) != 0)
		return -1;
	s->known[0].state = ATTACHED;
	s->root_err = (struct pp_error){0};
	return 0;
}

/* Detach procs[i]; gone: it exited (for the root: the recording ends). */
static void remove_proc(struct pp_process_set *s, size_t i, bool gone)
{
	struct pp_process p = s->procs[i];
	memmove(s->procs + i, s->procs + i + 1, (s->nprocs - i - 1) * sizeof(*s->procs));
	s->nprocs--;
	struct known *k = find_known(s, p.pid);
	if (k && k->state == ATTACHED)
		k->state = IGNORED;
	if (p.root && gone)
		s->root_gone = true;
	free_proc(&p);
}

/* It exec'd: its reader describes a program that is no longer there. */
static void detach_pid(struct pp_process_set *s, int pid)
{
	for (size_t i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid) {
			remove_proc(s, i, false);
			return;
		}
}

/* "python3.12 app.py" of "/usr/bin/python3.12 app.py", cut to fit
 * between characters, into buf. */
static void short_cmdline(const char *cmd, char *buf, size_t size)
{
	const char *args = strchr(cmd, ' ');
	const char *end0 = args ? args : cmd + strlen(cmd);
	for (const char *c = cmd; c < end0; c++)
		if (*c == '/' && c + 1 < end0)
			cmd = c + 1;
	size_t n = strlen(cmd);
	if (n < size) {
		memcpy(buf, cmd, n + 1);
		return;
	}
	n = size - 4;
	while (n > 0 && ((unsigned char)cmd[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, cmd, n);
	memcpy(buf + n, "...", 4);
}

/* What became of the root after its exec (outcome), told once: the root
 * is no longer "execd". */
static void push_event(struct pp_process_set *s, enum pp_exec_outcome outcome,
		       const char *cmdline, uint64_t now)
{
	struct known *k = &s->known[0];
	if (!k->execd)
		return;
	k->execd = false;
	if (s->nevents == EVENTS_MAX)
		return;
	struct pp_exec_event *e = &s->events[s->nevents++];
	*e = (struct pp_exec_event){.outcome = outcome, .pid = k->pid, .exec_ns = k->exec_ns,
				    .at_ns = now};
	if (!cmdline || !*cmdline)
		cmdline = s->exec_cmdline;
	short_cmdline(cmdline && *cmdline ? cmdline : "?", e->cmdline, sizeof(e->cmdline));
	if (outcome != PP_EXEC_FOLLOWED)
		snprintf(e->why, sizeof(e->why), "%s",
			 s->exec_why[0] ? s->exec_why : "it exited before it could be read");
}

/* The root, tried after its exec, cannot be: remember what it runs and
 * why, for the event. */
static void exec_attempt_failed(struct pp_process_set *s, const struct pp_error *err)
{
	char *c = pp_proc_cmdline(s->root_pid);
	if (c && *c) {
		free(s->exec_cmdline);
		s->exec_cmdline = c;
	} else {
		free(c);
	}
	if (err->code != PP_ERR_GONE)
		snprintf(s->exec_why, sizeof(s->exec_why), "%s", err->msg);
}

/* The root exited (or is on its way out): the recording ends; told when
 * it was being tried after an exec. */
static void exec_root_exited(struct pp_process_set *s, uint64_t now)
{
	push_event(s, PP_EXEC_LOST, NULL, now);
	s->root_gone = true;
}

/* k's process exec'd (or the pid was reused): a new program, identity id,
 * perhaps Python now, perhaps no longer. What was attached of the old one
 * goes; the new one is tried. When the root was attached, what becomes of
 * it is told (an event), and sooner than a scan would. */
static void exec_seen(struct pp_process_set *s, struct known *k, const struct identity *id,
		      uint64_t now)
{
	bool root = k == &s->known[0];
	if (k->state == ATTACHED) {
		detach_pid(s, k->pid);
		if (root) {
			k->execd = true;
			k->exec_ns = now;
			free(s->exec_cmdline);
			s->exec_cmdline = NULL;
			s->exec_why[0] = '\0';
		}
	}
	k->state = PENDING;
	k->id = *id;
	k->next_try = now;
	k->try_until = now + (k->execd ? EXEC_TRY_NS : root ? TRY_ROOT_NS : TRY_NS);
}

/* A process found this scan, with its identity now. */
static void note(struct pp_process_set *s, int pid, const struct identity *id, uint64_t now)
{
	struct known *k = find_known(s, pid);
	if (!k) {
		if (grow((void **)&s->known, &s->capknown, s->nknown, sizeof(*s->known)) != 0)
			return;
		k = &s->known[s->nknown++];
		*k = (struct known){.pid = pid, .state = PENDING, .id = *id,
				    .try_until = now + TRY_NS};
	} else if (!same_identity(&k->id, id)) {
		exec_seen(s, k, id, now);
	}
	k->found = true;
}

static void try_attach(struct pp_process_set *s, struct known *k, uint64_t now)
{
	struct pp_target *t = NULL;
	struct pp_error err = {0};
	bool root = k == &s->known[0];
	enum pp_err e = pp_process_attach(k->pid, &t, &err);
	if (root)
		s->root_err = err;
	k->next_try = now + EXEC_RETRY_NS;
	if (e == PP_OK) {
		if (add_proc(s, t, root) != 0) {
			pp_target_detach(t);
			return; /* out of memory: tried again next scan */
		}
		k->state = ATTACHED;
		if (root)
			push_event(s, PP_EXEC_FOLLOWED, pp_target_get_info(t)->cmdline, now);
		return;
	}
	if (root && k->execd)
		exec_attempt_failed(s, &err);
	if (e == PP_ERR_GONE) {
		/* It exited. The root's end ends the recording (found at the
		 * next refresh; at once, and told, after an exec). */
		if (root && k->execd)
			exec_root_exited(s, now);
		k->state = IGNORED;
	} else if (now >= k->try_until || (root && k->execd && e == PP_ERR_PERM)) {
		/* Not a Python we can read, and not becoming one; or the
		 * program it became cannot be read by us (set-uid). Without
		 * follow, that was all there was to record. */
		k->state = IGNORED;
		if (root && k->execd) {
			push_event(s, PP_EXEC_LOST, NULL, now);
			if (!s->follow)
				s->root_gone = true;
		}
	}
}

/* Without follow, the root alone: every SCAN_INTERVAL_NS, whether it still
 * runs the program attached - an exec mostly shows first as reads that
 * fail (pp_process_set_execd), but not always: the new program may map
 * memory where the old one had it. After an exec, the new program is tried
 * every EXEC_RETRY_NS. */
static void refresh_root_alone(struct pp_process_set *s, uint64_t now)
{
	struct known *k = &s->known[0];
	bool pending = k->state == PENDING;
	if (pending && !k->execd)
		return; /* not attached yet: the caller attaches the root */
	if (pending ? now < k->next_try : now < s->next_root_check)
		return;
	s->next_root_check = now + SCAN_INTERVAL_NS;
	int ppid;
	struct identity id;
	bool exiting = false;
	if (read_stat_ex(s->root_pid, &ppid, &id, &exiting) != 0 || exiting ||
	    id.starttime != k->id.starttime) {
		/* Gone (or a zombie, or its pid reused). Attached, the
		 * sampler's reads fail and tell; after an exec, only this. */
		if (pending)
			exec_root_exited(s, now);
		return;
	}
	if (!same_identity(&k->id, &id))
		exec_seen(s, k, &id, now);
	if (k->state == PENDING) {
		try_attach(s, k, now);
		if (k->state == IGNORED)
			s->root_gone = true; /* exited, or lost (an event) */
	}
}

void pp_process_set_refresh(struct pp_process_set *s, bool now_flag)
{
	if (s->root_gone)
		return;
	uint64_t now = now_ns();
	if (!s->follow) {
		refresh_root_alone(s, now);
		return;
	}
	bool scan = now >= s->next_scan;
	/* Asked to hurry (a launched command we wait for), or a root that
	 * exec'd: the root is tried at once, its descendants still at the
	 * scan's pace - on a kernel without children files a scan reads all
	 * of /proc. */
	const struct known *r = &s->known[0];
	bool root_due = r->state == PENDING && (now_flag || (r->execd && now >= r->next_try));
	if (!scan && !root_due)
		return;

	/* The root: gone (which ends the recording), or exec'd. */
	int ppid;
	struct identity id;
	bool exiting = false;
	if (read_stat_ex(s->root_pid, &ppid, &id, &exiting) != 0 || exiting ||
	    (s->known[0].id.starttime && id.starttime != s->known[0].id.starttime)) {
		exec_root_exited(s, now); /* told if it exec'd */
		return;
	}
	note(s, s->root_pid, &id, now);
	if (!same_identity(&s->cmdline_id, &id))
		reread_cmdline(s, &id);
	if (!scan) {
		if (s->known[0].state == PENDING)
			try_attach(s, &s->known[0], now);
		return;
	}
	s->next_scan = now + (s->ppid_scan ? SCAN_INTERVAL_PPID_NS : SCAN_INTERVAL_NS);

	for (size_t i = 1; i < s->nknown; i++)
		s->known[i].found = false;
	struct pids found = {0};
	descendants(s, &found);
	for (size_t i = 0; i < found.n; i++)
		if (found.v[i] != s->root_pid && read_stat(found.v[i], &ppid, &id) == 0)
			note(s, found.v[i], &id, now);
	free(found.v);

	/* Forget what left the tree, unless we are reading it: a worker whose
	 * parent died is reparented away from us, and still ours to sample. */
	size_t w = 1;
	for (size_t i = 1; i < s->nknown; i++)
		if (s->known[i].found || s->known[i].state == ATTACHED)
			s->known[w++] = s->known[i];
	s->nknown = w;

	for (size_t i = 0; i < s->nknown; i++)
		if (s->known[i].state == PENDING && s->known[i].found)
			try_attach(s, &s->known[i], now);
}

bool pp_process_same_program(int pid, struct pp_program_stamp *stamp)
{
	int ppid;
	struct identity id;
	if (read_stat(pid, &ppid, &id) != 0)
		return false;
	struct identity was = {stamp->starttime, stamp->startcode, stamp->startstack};
	if (same_identity(&was, &id))
		return true;
	*stamp = (struct pp_program_stamp){id.starttime, id.startcode, id.startstack};
	return false;
}

bool pp_process_has_children(int pid)
{
	struct pids found = {0};
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	if (access(path, R_OK) == 0)
		children_of(pid, &found);
	else
		descendants_by_ppid(pid, &found);
	free(found.v);
	return found.n > 0;
}

size_t pp_process_set_count(const struct pp_process_set *s)
{
	return s->nprocs;
}

struct pp_process *pp_process_set_at(struct pp_process_set *s, size_t i)
{
	return i < s->nprocs ? &s->procs[i] : NULL;
}

void pp_process_set_drop(struct pp_process_set *s, size_t i)
{
	if (i < s->nprocs)
		remove_proc(s, i, true);
}

bool pp_process_set_execd(struct pp_process_set *s, size_t i)
{
	if (i >= s->nprocs)
		return false;
	/* It lives on as another program when /proc/PID/stat says so: the
	 * same start time, its code and stack somewhere else - and not on
	 * its way out, when its memory is gone and reads as moved too. */
	struct known *k = find_known(s, s->procs[i].pid);
	int ppid;
	struct identity id;
	bool exiting = false;
	if (!k || read_stat_ex(k->pid, &ppid, &id, &exiting) != 0 || exiting ||
	    id.starttime != k->id.starttime || same_identity(&id, &k->id))
		return false;
	exec_seen(s, k, &id, now_ns());
	return true;
}

bool pp_process_set_next_exec(struct pp_process_set *s, struct pp_exec_event *ev)
{
	if (!s->nevents)
		return false;
	*ev = s->events[0];
	memmove(s->events, s->events + 1, (s->nevents - 1) * sizeof(*s->events));
	s->nevents--;
	return true;
}

void pp_process_set_end(struct pp_process_set *s)
{
	struct known *k = &s->known[0];
	int ppid;
	struct identity id;
	bool exiting = false;
	if (k->state != PENDING || !k->execd)
		return;
	if (read_stat_ex(k->pid, &ppid, &id, &exiting) != 0 || exiting) {
		push_event(s, PP_EXEC_LOST, NULL, now_ns()); /* it exited meanwhile */
		return;
	}
	char *cmd = pp_proc_cmdline(k->pid);
	push_event(s, PP_EXEC_UNREAD, cmd, now_ns());
	free(cmd);
}

bool pp_process_set_root_gone(const struct pp_process_set *s)
{
	return s->root_gone;
}

const struct pp_error *pp_process_set_root_error(const struct pp_process_set *s)
{
	return &s->root_err;
}

size_t pp_process_set_seen(const struct pp_process_set *s)
{
	return s->seen;
}

const char *pp_process_set_cmdline(const struct pp_process_set *s)
{
	return s->cmdline;
}

const char *pp_process_set_version(const struct pp_process_set *s)
{
	return s->version;
}
