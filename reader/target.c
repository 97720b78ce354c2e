/* Attaching to a process: is it Python, which version, where is its runtime,
 * which layout applies. Errors here are what users see most: each says what
 * failed and what to do. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_file.h"
#include "elf_symbols.h"
#include "ptrace_scope.h"
#include "maps.h"
#include "procfs.h"
#include "target_internal.h"
#include "version.h"

enum pp_err pp_set_error(struct pp_error *err, enum pp_err code,
			 const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
		err->starting = false;
	}
	return code;
}

enum pp_err pp_permission_error(struct pp_error *err, int pid)
{
	/* When Yama is what refused, say so: the fix is different (the
	 * in-process watchdog's child reading its parent is refused by it). */
	struct pp_ptrace_facts facts;
	char yama[400];
	pp_ptrace_facts_of(pid, &facts);
	if (pp_ptrace_scope_hint(&facts, pid, yama, sizeof yama))
		return pp_set_error(err, PP_ERR_PERM, "cannot read process %d: permission "
				    "denied; %s", pid, yama);
	return pp_set_error(err, PP_ERR_PERM,
		"cannot read process %d: permission denied; run pyprobe as root "
		"(sudo), or give it CAP_SYS_PTRACE (sudo setcap cap_sys_ptrace+ep "
		"\"$(command -v pyprobe)\"; in a container: --cap-add SYS_PTRACE); "
		"as the process's owner it also works if kernel.yama.ptrace_scope "
		"is 0", pid);
}


int pp_tracer_error(int pid, struct pp_error *err)
{
	int *tids = NULL;
	size_t n = 0;
	if (pp_os_list_tasks(pid, &tids, &n) != 0)
		return 0;
	long tracer = 0;
	for (size_t i = 0; i < n && tracer <= 0; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tids[i]);
		tracer = pp_proc_status_field(path, "TracerPid");
	}
	free(tids);
	if (tracer <= 0)
		return 0;
	char path[64], comm[64] = "?";
	snprintf(path, sizeof(path), "/proc/%ld/comm", tracer);
	FILE *f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	pp_set_error(err, PP_ERR_PERM,
		"process %d is already being traced by process %ld (%s), so it cannot "
		"be paused; detach that debugger or profiler, or read without pausing: "
		"pyprobe dump --nonblocking --pid %d", pid, tracer, comm, pid);
	return 1;
}





/* The target as messages name it: "process 1234", or the core. */
static const char *who(const struct pp_target *t)
{
	return t->who;
}

/* How surely an opened file is the one a mapping shows. */
enum same_file { NOT_SAME, SAME_INODE, SAME_FILE };

static enum same_file same_file(const struct pp_elf *e, const struct pp_map *m)
{
	unsigned maj, min;
	uint64_t ino;
	if (!m || !m->inode)
		return SAME_INODE; /* nothing to tell by: take what opened */
	if (pp_elf_identity(e, &maj, &min, &ino) != 0 || ino != m->inode)
		return NOT_SAME;
	/* overlayfs (containers) reports its own device for a file whose
	 * mapping shows the layer's: the inode alone then has to do. */
	return maj == m->dev_major && min == m->dev_minor ? SAME_FILE : SAME_INODE;
}

/* Open a file the target has mapped. Its path in /proc/PID/maps is the
 * kernel's view from OUR root: from a target in a chroot we can see it is
 * our path to the file; from one whose files lie in a mount namespace we
 * cannot see (a container; a chroot set up inside `unshare --mount`) it is
 * the path from the target's own namespace, under which we may well have
 * a different file of the same name (the host's own libpython). So each
 * way in is tried, and the first whose inode is the mapping's wins:
 *   /proc/PID/exe               the executable itself, whatever its name;
 *   /proc/PID/root/PATH         the target's root and mounts;
 *   PATH                        ours;
 *   /proc/PID/map_files/S-E     the mapping itself (needs CAP_SYS_ADMIN;
 *                               the one way to a file deleted or replaced
 *                               on disk since, by a package upgrade).
 * A file under the target's root whose inode differs (overlayfs with
 * xino) is taken if nothing better opens; one under ours never is. */
static int open_target_elf(int pid, const char *path, const struct pp_map *first,
			   bool is_exe, struct pp_elf **out)
{
	enum { EXE, ROOT, OURS, MAP_FILES, N };
	char buf[N][4200];
	snprintf(buf[EXE], sizeof(buf[EXE]), "/proc/%d/exe", pid);
	snprintf(buf[ROOT], sizeof(buf[ROOT]), "/proc/%d/root%s", pid, path);
	snprintf(buf[OURS], sizeof(buf[OURS]), "%s", path);
	if (first)
		snprintf(buf[MAP_FILES], sizeof(buf[MAP_FILES]), "/proc/%d/map_files/%llx-%llx",
			 pid, (unsigned long long)first->start, (unsigned long long)first->end);
	struct pp_elf *best = NULL, *fallback = NULL;
	enum same_file best_match = NOT_SAME;
	int rc_root = 0, rc_any = 0;
	for (int i = 0; i < N && best_match != SAME_FILE; i++) {
		if ((i == EXE && !is_exe) || (i == MAP_FILES && !first))
			continue;
		struct pp_elf *e = NULL;
		int rc = pp_elf_open(buf[i], &e);
		if (rc) {
			if (i == ROOT)
				rc_root = rc;
			if (!rc_any || rc_any == -ENOENT)
				rc_any = rc;
			continue;
		}
		enum same_file m = same_file(e, first);
		if (m > best_match) {
			pp_elf_close(best);
			best = e;
			best_match = m;
		} else if (m == NOT_SAME && i == ROOT && !fallback) {
			fallback = e;
		} else {
			pp_elf_close(e);
		}
	}
	if (best) {
		pp_elf_close(fallback);
		*out = best;
		return 0;
	}
	if (fallback) {
		*out = fallback;
		return 0;
	}
	return rc_root ? rc_root : rc_any ? rc_any : -ENOENT;
}

int pp_target_open_mapped_elf(const struct pp_target *t, const char *path,
			       const struct pp_map *first, struct pp_elf **out)
{
	return open_target_elf(t->info.pid, path, first,
			       t->info.executable && strcmp(path, t->info.executable) == 0, out);
}

static void add_supported(char *buf, size_t len)
{
	snprintf(buf, len, "3.%d to 3.%d", pp_supported_minors[0],
		 pp_supported_minors[pp_n_supported_minors - 1]);
}

/* The binary has no _PyRuntime. Python 2 and 3.6 still look like Python: say
 * which version it is rather than "not Python". */
static enum pp_err no_runtime(struct pp_target *t, const struct pp_elf *elf,
			      uint64_t bias, const char *path, struct pp_error *err)
{
	uint64_t sym;
	struct pp_pyversion v;
	char sup[32];
	add_supported(sup, sizeof(sup));
	if (pp_elf_symbol(elf, "Py_GetVersion", &sym, NULL) == 0 ||
	    pp_elf_symbol(elf, "Py_Initialize", &sym, NULL) == 0) {
		if (pp_version_detect(&t->mem, elf, bias, 0, &v) == 0)
			return pp_set_error(err, PP_ERR_NOT_PYTHON,
				"%s runs Python %s, which pyprobe does not support "
				"(supported: %s)", who(t), v.str, sup);
		return pp_set_error(err, PP_ERR_NOT_PYTHON,
			"%s runs a Python too old for pyprobe (%s has no "
			"_PyRuntime; supported: %s)", who(t), path, sup);
	}
	return pp_set_error(err, PP_ERR_NOT_PYTHON,
		"%s (%s) is not a Python process: no libpython is mapped "
		"and its executable has no _PyRuntime symbol", who(t),
		t->info.executable ? t->info.executable : "?");
}

static uint64_t symbol_or_zero(const struct pp_elf *elf, uint64_t bias,
			       const char *name)
{
	uint64_t v;
	return pp_elf_symbol(elf, name, &v, NULL) == 0 ? bias + v : 0;
}

/* Errors from reading the process itself: gone, or not allowed. */
static enum pp_err proc_error(struct pp_target *t, int rc, const char *what,
			      struct pp_error *err)
{
	int pid = t->info.pid;
	if (t->core)
		return pp_core_mem_error(t, rc, what, err);
	if (rc == -EACCES || rc == -EPERM)
		return pp_permission_error(err, pid);
	if (rc == -ENOENT || rc == -ESRCH)
		return pp_set_error(err, PP_ERR_GONE,
			"process %d exited while pyprobe was reading it", pid);
	return pp_set_error(err, PP_ERR_IO, "cannot read %s of process %d: %s",
			    what, pid, strerror(-rc));
}

/* The ELF that holds the interpreter: every mapped libpython* in turn (the
 * stable-ABI shim libpython3.so is one, and has no runtime), then the
 * executable. The first with _PyRuntime (symbol, or the .PyRuntime section
 * that survives stripping) wins; otherwise *elf is the first that opened,
 * for diagnosis, and *runtime stays 0. */
static enum pp_err open_interpreter_elf(struct pp_target *t, const struct pp_maps *maps,
					struct pp_elf **elf, const char **path,
					uint64_t *bias, uint64_t *runtime,
					struct pp_error *err)
{
	*elf = NULL;
	*runtime = 0;
	int first_rc = 0;
	for (size_t i = 0; i <= maps->n; i++) {
		const char *p;
		if (i < maps->n) {
			p = maps->v[i].path;
			if (!p || p[0] != '/' || strncmp(strrchr(p, '/') + 1, "libpython", 9) != 0 ||
			    pp_maps_first_of(maps, p) != &maps->v[i])
				continue; /* not a libpython, or seen already */
		} else if (!(p = t->info.executable)) {
			break;
		}
		const struct pp_map *first = pp_maps_first_of(maps, p);
		struct pp_elf *e = NULL;
		int rc = t->core ? pp_core_open_elf(t->core, p, &e)
				 : open_target_elf(t->info.pid, p, first, i == maps->n, &e);
		if (rc && t->core && (rc == -ESTALE || rc == -ENODATA || rc == -ENOENT))
			return pp_set_error(err, PP_ERR_IO, "%s", pp_core_error(t->core));
		if (rc) {
			if (!first_rc)
				first_rc = rc;
			continue;
		}
		uint64_t b = pp_elf_load_bias(e, first), rt = 0, size = 0;
		if (pp_elf_symbol(e, "_PyRuntime", &rt, NULL) == 0 ||
		    pp_elf_section(e, ".PyRuntime", &rt, &size) == 0) {
			pp_elf_close(*elf);
			*elf = e;
			*path = p;
			*bias = b;
			*runtime = b + rt;
			return PP_OK;
		}
		if (!*elf) {
			*elf = e;
			*path = p;
			*bias = b;
		} else {
			pp_elf_close(e);
		}
	}
	if (*elf)
		return PP_OK;
	if (!t->info.executable && t->core)
		return pp_set_error(err, PP_ERR_NOT_PYTHON,
			"%s maps no libpython and does not say which executable it ran "
			"(no NT_FILE mapping of its entry point): not a Python process, or a "
			"corrupt core", who(t));
	if (!t->info.executable)
		return pp_set_error(err, PP_ERR_GONE,
			"process %d exited while pyprobe was reading it", t->info.pid);
	return pp_set_error(err, first_rc == -EACCES ? PP_ERR_PERM : PP_ERR_IO,
		"cannot open %s (mapped by process %d): %s", t->info.executable,
		t->info.pid, strerror(-first_rc));
}

enum pp_err pp_find_runtime(struct pp_target *t, const struct pp_maps *maps,
			    struct pp_error *err)
{
	struct pp_elf *elf = NULL;
	const char *path = NULL;
	uint64_t bias = 0;
	enum pp_err e = open_interpreter_elf(t, maps, &elf, &path, &bias, &t->runtime, err);
	if (e)
		return e;
	if (!t->runtime) {
		e = no_runtime(t, elf, bias, path, err);
		pp_elf_close(elf);
		return e;
	}
	if (path != t->info.executable)
		t->info.libpython = strdup(path);
	int rc;

	struct pp_pyversion v;
	if (pp_version_detect(&t->mem, elf, bias, t->runtime, &v) != 0) {
		uint8_t probe;
		rc = pp_mem_read(&t->mem, t->runtime, &probe, 1);
		pp_elf_close(elf);
		if (rc)
			return proc_error(t, rc, "memory", err);
		return pp_set_error(err, PP_ERR_NOT_PYTHON,
			"%s: cannot tell which Python version %s is "
			"(no Py_Version, no version string in memory)", who(t), path);
	}
	t->info.major = v.major;
	t->info.minor = v.minor;
	t->info.micro = v.micro;
	snprintf(t->info.version, sizeof(t->info.version), "%s", v.str);

	const struct py_layout *l = v.major == 3 ? pp_layout_for(v.minor) : NULL;
	if (!l) {
		char sup[32];
		add_supported(sup, sizeof(sup));
		pp_elf_close(elf);
		return pp_set_error(err, PP_ERR_NOT_PYTHON,
			"%s runs Python %s, which pyprobe does not support "
			"(supported: %s)", who(t), v.str, sup);
	}
	t->layout = *l;
	snprintf(t->info.layout_source, sizeof(t->info.layout_source), "static table");
	if (l->do_size != PP_ABSENT) {
		/* 3.13+ publish their offsets: use them, or refuse the target.
		 * A block pyprobe does not know (a pre-release, a patched
		 * build) is never read with a guessed layout. */
		uint8_t block[2048];
		_Static_assert(sizeof(block) >= 888, "room for 3.15's block");
		size_t want = pp_debug_offsets_max_size();
		want = want < sizeof(block) ? want : sizeof(block);
		rc = pp_mem_read(&t->mem, t->runtime, block, want);
		if (rc) {
			pp_elf_close(elf);
			return proc_error(t, rc, "memory", err);
		}
		/* A free-threaded build has no GIL and lays objects out
		 * otherwise: say so rather than read it with the wrong table. */
		if (pp_debug_offsets_free_threaded(block, want) == 1) {
			pp_elf_close(elf);
			return pp_set_error(err, PP_ERR_NOT_PYTHON,
				"%s runs a free-threaded build of Python %s (no GIL), "
				"which pyprobe does not support; profile it under the default "
				"build of the same version", who(t), v.str);
		}
		char why[200];
		if (pp_layout_apply_debug_offsets(&t->layout, block, want, why,
						  sizeof(why)) != PP_DO_OK) {
			pp_elf_close(elf);
			return pp_set_error(err, PP_ERR_NOT_PYTHON,
				"%s runs Python %s, but %s: a pre-release or patched "
				"build, which pyprobe does not read with a guessed layout "
				"(supported: release builds of 3.%d to 3.%d)", who(t),
				v.str, why, pp_supported_minors[0],
				pp_supported_minors[pp_n_supported_minors - 1]);
		}
		snprintf(t->info.layout_source, sizeof(t->info.layout_source),
			 "_Py_DebugOffsets");
	}

	t->types.code = symbol_or_zero(elf, bias, "PyCode_Type");
	t->types.str = symbol_or_zero(elf, bias, "PyUnicode_Type");
	t->types.bytes = symbol_or_zero(elf, bias, "PyBytes_Type");
	t->frame_type = symbol_or_zero(elf, bias, "PyFrame_Type");
	t->obj.str_type = t->types.str;
	t->obj.long_type = symbol_or_zero(elf, bias, "PyLong_Type");
	t->obj.dict_type = symbol_or_zero(elf, bias, "PyDict_Type");
	pp_elf_close(elf);
	return PP_OK;
}

/* The interpreter list must be there and self-consistent: this catches a
 * wrong layout, and a process that has not initialised Python yet. */
enum pp_err pp_check_runtime(struct pp_target *t, struct pp_error *err)
{
	const struct py_layout *l = &t->layout;
	uint64_t interp = 0, tstate = 0, back = 0;
	int rc = pp_mem_read_u64(&t->mem, t->runtime + l->rt_interpreters_head, &interp);
	if (rc)
		return proc_error(t, rc, "memory", err);
	if (!interp) {
		pp_set_error(err, PP_ERR_NOT_PYTHON,
			     "%s has not started its Python interpreter yet, or "
			     "has already shut it down%s", who(t),
			     t->core ? "" : "; try again in a moment");
		err->starting = true;
		return PP_ERR_NOT_PYTHON;
	}
	if (pp_mem_read_u64(&t->mem, interp + l->is_threads_head, &tstate) != 0 ||
	    (tstate && (pp_mem_read_u64(&t->mem, tstate + l->ts_interp, &back) != 0 ||
			back != interp)))
		return pp_set_error(err, PP_ERR_NOT_PYTHON,
			"%s: the Python %s runtime does not have the layout "
			"pyprobe expects (interpreter list is inconsistent); please report "
			"this with the output of `python -VV`", who(t), t->info.version);
	return PP_OK;
}

enum pp_err pp_target_attach(int pid, struct pp_target **out, struct pp_error *err)
{
	*out = NULL;
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (pid <= 0 || stat(path, &st) != 0)
		return pp_set_error(err, PP_ERR_GONE,
			"no process with pid %d (check the pid with `ps`)", pid);
	/* A thread id names its whole process; read that. */
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	long tgid = pp_proc_status_field(path, "Tgid");
	if (tgid > 0 && tgid != pid)
		pid = (int)tgid;

	struct pp_target *t = calloc(1, sizeof(*t));
	if (!t)
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	t->info.pid = pid;
	snprintf(t->who, sizeof(t->who), "process %d", pid);
	t->tid_offset = -1;
	pp_mem_init_process(&t->mem, pid);
	t->ns_pid = pp_proc_ns_tid(pid, pid);
	if (t->ns_pid <= 0)
		t->ns_pid = pid;
	t->info.cmdline = pp_proc_cmdline(pid);
	t->info.executable = pp_proc_exe(pid);

	enum pp_err e;
	struct pp_maps maps = {0};
	int rc = pp_maps_read(pid, &maps);
	if (rc == 0 && maps.n == 0)
		rc = -ESRCH; /* a zombie has no mappings */
	if (rc) {
		if (pp_proc_is_zombie(pid))
			e = pp_set_error(err, PP_ERR_GONE,
				"process %d has exited (it is a zombie waiting for its "
				"parent to reap it)", pid);
		else
			e = proc_error(t, rc, "the memory map", err);
		goto fail;
	}
	e = pp_find_runtime(t, &maps, err);
	pp_maps_free(&maps);
	if (e)
		goto fail;
	e = pp_check_runtime(t, err);
	if (e)
		goto fail;
	t->os = pp_os_reader_new(pid);
	e = pp_target_ready(t, err);
	if (!e && !t->os)
		e = pp_set_error(err, PP_ERR_IO, "out of memory");
	if (e)
		goto fail;
	*out = t;
	return PP_OK;
fail:
	pp_maps_free(&maps);
	pp_target_detach(t);
	return e;
}

enum pp_err pp_target_ready(struct pp_target *t, struct pp_error *err)
{
	t->obj.mem = &t->mem;
	t->obj.layout = &t->layout;
	t->codes = pp_code_cache_new(&t->layout, &t->types);
	if (!t->codes)
		return pp_set_error(err, PP_ERR_IO, "out of memory");
	t->walker.mem = &t->mem;
	t->walker.l = &t->layout;
	t->walker.codes = t->codes;
	t->walker.frame_type = t->frame_type;
	return PP_OK;
}

void pp_target_detach(struct pp_target *t)
{
	if (!t)
		return;
	pp_code_cache_free(t->codes);
	pp_os_reader_free(t->os);
	pp_walker_free(&t->walker);
	pp_thread_names_free(&t->names);
	free(t->named);
	free(t->frames.v);
	pp_snapshot_free(t->snap);
	pp_readahead_free(t->ahead);
	pp_quiet_free(t->quiet);
	pp_resume_free(t->resume);
	free(t->quiet_seen);
	pp_repr_free(&t->repr);
	pp_locals_arena_free(&t->locals);
	free(t->tidmap);
	pp_mem_close(&t->mem);
	pp_core_close(t->core);
	free(t->info.executable);
	free(t->info.libpython);
	free(t->info.cmdline);
	free(t->info.core);
	free(t);
}

const struct pp_target_info *pp_target_get_info(const struct pp_target *t)
{
	return &t->info;
}

uint64_t pp_target_syscalls(const struct pp_target *t)
{
	return t->mem.syscalls;
}
