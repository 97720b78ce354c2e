/* See output.h. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name, *ext;
	enum pp_format f;
} formats[] = {
	{"flamegraph", ".svg", PP_FMT_FLAMEGRAPH},
	{"collapsed", ".txt", PP_FMT_COLLAPSED},
	{"speedscope", ".speedscope.json", PP_FMT_SPEEDSCOPE},
	{"pprof", ".pb.gz", PP_FMT_PPROF},
	{"chrometrace", ".trace.json", PP_FMT_CHROMETRACE},
	{"gecko", ".gecko.json", PP_FMT_GECKO},
	{"pyprobe", ".pyprobe", PP_FMT_RAW},
};

/* Longest first, so ".speedscope.json" wins over ".json". */
static const struct {
	const char *ext;
	enum pp_format f;
} extensions[] = {
	{".speedscope.json", PP_FMT_SPEEDSCOPE}, {".trace.json", PP_FMT_CHROMETRACE},
	{".gecko.json", PP_FMT_GECKO},          {".collapsed", PP_FMT_COLLAPSED},
	{".pyprobe", PP_FMT_RAW},               {".folded", PP_FMT_COLLAPSED},
	{".pb.gz", PP_FMT_PPROF},               {".pprof", PP_FMT_PPROF},
	{".json", PP_FMT_SPEEDSCOPE},           {".svg", PP_FMT_FLAMEGRAPH},
	{".txt", PP_FMT_COLLAPSED},
};

enum pp_format pp_format_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(*formats); i++)
		if (!strcmp(formats[i].name, name))
			return formats[i].f;
	return PP_FMT_NONE;
}

enum pp_format pp_format_by_extension(const char *path)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < sizeof(extensions) / sizeof(*extensions); i++) {
		size_t e = strlen(extensions[i].ext);
		if (n > e && !strcmp(path + n - e, extensions[i].ext))
			return extensions[i].f;
	}
	return PP_FMT_NONE;
}

const char *pp_format_extension(enum pp_format f)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(*formats); i++)
		if (formats[i].f == f)
			return formats[i].ext;
	return "";
}

int pp_format_write(enum pp_format f, const struct pp_profile *p,
		    const struct pp_render_opts *o, FILE *out)
{
	switch (f) {
	case PP_FMT_FLAMEGRAPH: return pp_render_flamegraph(p, o, out);
	case PP_FMT_COLLAPSED: return pp_render_collapsed(p, o, out);
	case PP_FMT_SPEEDSCOPE: return pp_render_speedscope(p, o, out);
	case PP_FMT_PPROF: return pp_render_pprof(p, o, out);
	case PP_FMT_CHROMETRACE: return pp_render_chrometrace(p, o, out);
	case PP_FMT_GECKO: return pp_render_gecko(p, o, out);
	default: errno = EINVAL; return -1;
	}
}

bool pp_output_is_stdout(const char *path)
{
	return path && !strcmp(path, "-");
}

/* ---- output files ------------------------------------------------------- */

struct pp_output {
	int fd;
	FILE *f;         /* over fd, once asked for */
	char *name;      /* for messages */
	char *final;     /* where the file goes (a link's target); NULL: in place */
	char *tmp;       /* its temporary name until renamed; NULL: in place, or published */
	bool published;  /* renamed into place while still being written */
	char *created;   /* a file made in place where there was none (a dangling
			    link's target): removed if nothing comes of it */
	bool cut_at_commit; /* an existing file written in place: opened without
			       truncating, cut to what was written at commit,
			       so a failure before then leaves it as it was */
};

/* `.BASE.XXXXXX` next to `path`, unused: 0 and its open descriptor, or
 * -1 with errno. */
static int create_temp(const char *path, char **tmp)
{
	static unsigned counter;
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	const char *base = path + dirlen;
	/* room for the dot and the suffix within a file name's 255 bytes */
	int baselen = strlen(base) > 200 ? 200 : (int)strlen(base);
	static const char digits[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	for (int tries = 0; tries < 100; tries++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t r = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
			     (uint64_t)getpid() << 20 ^ (uint64_t)++counter * 0xbf58476d1ce4e5b9ull;
		char suffix[7];
		for (int i = 0; i < 6; i++, r /= 62)
			suffix[i] = digits[r % 62];
		suffix[6] = '\0';
		char *t;
		if (asprintf(&t, "%.*s.%.*s.%s", (int)dirlen, path, baselen, base, suffix) < 0) {
			errno = ENOMEM;
			return -1;
		}
		/* 0666 less the umask, as for any file pyprobe creates */
		int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0) {
			*tmp = t;
			return fd;
		}
		int e = errno;
		free(t);
		errno = e;
		if (e != EEXIST)
			return -1;
	}
	return -1;
}

/* Open `path` itself for writing (truncated). */
static int open_in_place(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
}

struct pp_output *pp_output_create(const char *path)
{
	struct pp_output *o = calloc(1, sizeof(*o));
	if (!o || !(o->name = strdup(pp_output_is_stdout(path) ? "standard output" : path))) {
		free(o);
		errno = ENOMEM;
		return NULL;
	}
	o->fd = -1;
	struct stat st, lst;
	if (!*path) {
		errno = ENOENT;
	} else if (pp_output_is_stdout(path)) {
		/* a descriptor of our own, so that closing it works as for
		 * a file and leaves standard output open */
		o->fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
	} else if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			goto fail;
		if (lstat(path, &lst) == 0) { /* a dangling link: create its target */
			o->fd = open_in_place(path);
			/* where it is, now that it exists, to remove it
			 * again if nothing is written */
			if (o->fd >= 0 && !(o->created = realpath(path, NULL))) {
				int e = errno;
				close(o->fd);
				errno = e;
				o->fd = -1;
			}
		}
		else if (!(o->final = strdup(path)))
			errno = ENOMEM;
		else
			o->fd = create_temp(path, &o->tmp);
	} else if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
	} else if (!S_ISREG(st.st_mode)) { /* /dev/null, a FIFO, a terminal */
		o->fd = open_in_place(path);
	} else {
		/* an existing file: replaced once the new one is complete,
		 * through the link if it is one */
		o->final = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode) ? realpath(path, NULL)
									 : strdup(path);
		if (!o->final)
			goto fail;
		o->fd = create_temp(o->final, &o->tmp);
		if (o->fd >= 0) {
			/* it keeps the mode (and, for root, the owner) it had */
			if (fchmod(o->fd, st.st_mode & 07777) != 0) {
				/* not worth failing for */
			}
			if (geteuid() == 0 && fchown(o->fd, st.st_uid, st.st_gid) != 0) {
				/* likewise */
			}
		} else if (errno == EACCES && access(o->final, W_OK) == 0) {
			/* a writable file in a directory we cannot add to:
			 * written in place, as it can only be - but not
			 * emptied before there is something to put there */
			free(o->final);
			o->final = NULL;
			o->fd = open(path, O_WRONLY | O_CLOEXEC);
			o->cut_at_commit = o->fd >= 0;
		}
	}
	if (o->fd >= 0)
		return o;
fail:;
	int e = errno ? errno : EIO;
	free(o->name);
	free(o->final);
	free(o->tmp);
	free(o->created);
	free(o);
	errno = e;
	return NULL;
}

int pp_output_fd(struct pp_output *o)
{
	/* written through this descriptor from now on (a recording): what
	 * the file held goes now */
	if (o->cut_at_commit && ftruncate(o->fd, 0) == 0)
		o->cut_at_commit = false;
	return o->fd;
}

FILE *pp_output_stream(struct pp_output *o)
{
	if (!o->f)
		o->f = fdopen(o->fd, "w");
	return o->f;
}

const char *pp_output_name(const struct pp_output *o)
{
	return o->name;
}

int pp_output_publish(struct pp_output *o)
{
	if (!o->tmp)
		return 0;
	if (rename(o->tmp, o->final) != 0)
		return -1;
	free(o->tmp);
	o->tmp = NULL;
	o->published = true;
	return 0;
}

/* Close o's descriptor (through its stream if it has one). 0, or -1. */
static int close_output(struct pp_output *o)
{
	int rc = o->f ? fclose(o->f) : close(o->fd);
	o->f = NULL;
	o->fd = -1;
	return rc == 0 ? 0 : -1;
}

static void free_output(struct pp_output *o)
{
	free(o->name);
	free(o->final);
	free(o->tmp);
	free(o->created);
	free(o);
}

int pp_output_commit(struct pp_output *o)
{
	int e = 0;
	if (o->f && (fflush(o->f) != 0 || ferror(o->f)))
		e = errno ? errno : EIO;
	/* On disk before it takes the name: a crash right after the
	 * rename must not leave an empty file there. */
	if (!e && o->final && fsync(o->fd) != 0)
		e = errno;
	/* in place: what it held beyond what was written goes */
	off_t end;
	if (!e && o->cut_at_commit &&
	    ((end = lseek(o->fd, 0, SEEK_CUR)) < 0 || ftruncate(o->fd, end) != 0))
		e = errno;
	if (close_output(o) != 0 && !e)
		e = errno;
	if (!e && o->tmp && rename(o->tmp, o->final) != 0)
		e = errno;
	if (e && o->tmp)
		unlink(o->tmp);
	free_output(o);
	errno = e;
	return e ? -1 : 0;
}

void pp_output_discard(struct pp_output *o)
{
	if (!o)
		return;
	int e = errno;
	close_output(o);
	if (o->tmp)
		unlink(o->tmp);
	else if (o->published)
		unlink(o->final);
	else if (o->created)
		unlink(o->created);
	free_output(o);
	errno = e;
}

const char *pp_write_advice(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return "; free some space, or write elsewhere (-o)";
	case EFBIG:
		return "; the file size limit (`ulimit -f`) is too small for it";
	default:
		return "";
	}
}
