/* pyprobe diff's inputs (diff.h): runs from .pyprobe recordings and
 * collapsed-stack files, into one table of per-function sample counts.
 *
 * A function is its name and file; lines are ignored (an edit that moves
 * code must not make a new function). Marker frames ([changing],
 * [unreadable frame: ...], [N more frames not read], GIL markers) and the
 * synthetic `thread ...` / `process ...` roots are not functions: a
 * sample whose leaf is a marker counts towards the inclusive time of the
 * functions above it and is no one's self time. A function on the stack
 * twice (recursion) counts once per sample. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "diff.h"
#include "profile.h"
#include "recording.h"

#define DEFAULT_RATE_HZ 100.0 /* record's default, and py-spy's */
#define MAX_RUNS 10000
#define COLLAPSED_LINE_MAX (16u << 20)

static void say(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* ---- the function table ------------------------------------------------------ */

static uint64_t hash_key(const char *fn, size_t fnlen, const char *file, size_t filelen)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < fnlen; i++)
		h = (h ^ (unsigned char)fn[i]) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull; /* (a separator no UTF-8 byte is) */
	for (size_t i = 0; i < filelen; i++)
		h = (h ^ (unsigned char)file[i]) * 1099511628211ull;
	return h;
}

static bool same_key(const struct pp_diff_fn *f, const char *fn, size_t fnlen, const char *file,
		     size_t filelen)
{
	return strlen(f->function) == fnlen && !memcmp(f->function, fn, fnlen) &&
	       strlen(f->file) == filelen && !memcmp(f->file, file, filelen);
}

static size_t total_runs(const struct pp_diff_input *in)
{
	return in->nruns[0] + in->nruns[1];
}

static int grow_index(struct pp_diff_input *in)
{
	size_t cap = in->index_cap ? in->index_cap * 2 : 1024;
	uint32_t *idx = malloc(cap * sizeof *idx);
	if (!idx)
		return -1;
	for (size_t i = 0; i < cap; i++)
		idx[i] = UINT32_MAX;
	for (size_t k = 0; k < in->nfns; k++) {
		const struct pp_diff_fn *f = &in->fns[k];
		uint64_t h = hash_key(f->function, strlen(f->function), f->file, strlen(f->file));
		size_t i = (size_t)h & (cap - 1);
		while (idx[i] != UINT32_MAX)
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t)k;
	}
	free(in->index);
	in->index = idx;
	in->index_cap = cap;
	return 0;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* The function's index, added with zero counts if new; -1 out of memory. */
static long fn_index(struct pp_diff_input *in, const char *fn, size_t fnlen, const char *file,
		     size_t filelen)
{
	if ((in->nfns + 1) * 2 > in->index_cap && grow_index(in) != 0)
		return -1;
	uint64_t h = hash_key(fn, fnlen, file, filelen);
	size_t i = (size_t)h & (in->index_cap - 1);
	while (in->index[i] != UINT32_MAX) {
		if (same_key(&in->fns[in->index[i]], fn, fnlen, file, filelen))
			return in->index[i];
		i = (i + 1) & (in->index_cap - 1);
	}
	if (in->nfns >= UINT32_MAX - 1)
		return -1;
	if (in->nfns == in->capfns) {
		size_t cap = in->capfns ? in->capfns * 2 : 256;
		struct pp_diff_fn *n = realloc(in->fns, cap * sizeof *n);
		uint32_t *st = realloc(in->stamp, cap * sizeof *st);
		if (n)
			in->fns = n;
		if (st)
			in->stamp = st;
		if (!n || !st)
			return -1;
		in->capfns = cap;
	}
	struct pp_diff_fn *f = &in->fns[in->nfns];
	size_t R = total_runs(in);
	*f = (struct pp_diff_fn){dup_n(fn, fnlen), dup_n(file, filelen), calloc(R, sizeof(uint64_t)),
				 calloc(R, sizeof(uint64_t))};
	if (!f->function || !f->file || !f->incl || !f->self) {
		free(f->function);
		free(f->file);
		free(f->incl);
		free(f->self);
		return -1;
	}
	in->stamp[in->nfns] = 0;
	in->index[i] = (uint32_t)in->nfns;
	return (long)in->nfns++;
}

/* One frame of a sample: counted inclusive once per sample; self when it
 * is the leaf. */
static int count_frame(struct pp_diff_input *in, size_t run, const char *fn, size_t fnlen,
		       const char *file, size_t filelen, bool leaf, uint64_t weight)
{
	long k = fn_index(in, fn, fnlen, file, filelen);
	if (k < 0)
		return -1;
	if (in->stamp[k] != in->sample_seq) {
		in->stamp[k] = in->sample_seq;
		in->fns[k].incl[run] += weight;
	}
	if (leaf)
		in->fns[k].self[run] += weight;
	return 0;
}

/* A new sample (for the once-per-sample inclusive count). */
static void next_sample(struct pp_diff_input *in)
{
	if (++in->sample_seq == 0) { /* wrapped: forget every stamp */
		for (size_t i = 0; i < in->nfns; i++)
			in->stamp[i] = 0;
		in->sample_seq = 1;
	}
}

/* ---- the program a command line runs ---------------------------------------- */

/* The basename of the first word ending in ".py", or the word after -m:
 * what tells two benchmarks apart whatever their arguments or interpreter
 * path. NULL when the command line shows neither. */
static char *program_of(const char *cmdline)
{
	const char *s = cmdline;
	bool after_m = false;
	while (*s) {
		while (*s == ' ')
			s++;
		const char *w = s;
		while (*s && *s != ' ')
			s++;
		size_t n = (size_t)(s - w);
		if (!n)
			break;
		if (after_m)
			return dup_n(w, n);
		if (n == 2 && !memcmp(w, "-m", 2)) {
			after_m = true;
			continue;
		}
		if (n > 3 && !memcmp(w + n - 3, ".py", 3)) {
			const char *b = w;
			for (const char *p = w; p < w + n; p++)
				if (*p == '/')
					b = p + 1;
			return dup_n(b, (size_t)(w + n - b));
		}
	}
	return NULL;
}

/* ---- recordings --------------------------------------------------------------- */

struct rec_ctx {
	struct pp_diff_input *in;
	size_t run;
};

static bool is_function(const struct pp_view_frame *f)
{
	return f->kind == PP_FRAME_PYTHON;
}

static int rec_sample(const struct pp_view_frame *const *frames, size_t n,
		      const struct pp_psample *s, void *ctx)
{
	(void)s;
	struct rec_ctx *c = ctx;
	next_sample(c->in);
	c->in->runs[c->run].samples++;
	for (size_t i = 0; i < n; i++) {
		const struct pp_view_frame *f = frames[i];
		if (!is_function(f))
			continue;
		const char *fn = f->function ? f->function : "?";
		const char *file = f->file ? f->file : "";
		if (count_frame(c->in, c->run, fn, strlen(fn), file, strlen(file), i + 1 == n,
				1) != 0)
			return -1;
	}
	return 0;
}

static int load_recording(struct pp_diff_input *in, size_t run, const char *path,
			  const struct pp_diff_load_opts *o, char *err, size_t errlen)
{
	char why[256] = "";
	int truncated = 0;
	struct pp_profile *p = pp_recording_load(path, &truncated, why, sizeof why);
	if (!p) {
		say(err, errlen, "cannot read %s: %s", path, why);
		return -1;
	}
	struct pp_diff_run *r = &in->runs[run];
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	/* A run cut short did not do the benchmark's whole work: its times
	 * would read as an improvement. */
	if (truncated) {
		say(err, errlen, "%s was cut short (the recording was interrupted), so its run "
			"did not finish; record it again", path);
		pp_profile_free(p);
		return -1;
	}
	/* The achieved period: the recording's duration over the ticks that
	 * took samples (every sample of one tick has its time). A loaded
	 * machine that missed ticks makes each sample stand for more. */
	size_t ns = 0;
	const struct pp_psample *ss = pp_profile_samples(p, &ns);
	uint64_t ticks = 0;
	for (size_t i = 0; i < ns; i++)
		if (i == 0 || ss[i].time_ns != ss[i - 1].time_ns)
			ticks++;
	if (ticks > 0 && m->duration_ns > 0)
		r->period_s = (double)m->duration_ns / 1e9 / (double)ticks;
	else
		r->period_s = m->rate_hz ? 1.0 / m->rate_hz : 1.0 / DEFAULT_RATE_HZ;
	const char *cmd = pp_profile_string(p, m->cmdline);
	r->cmdline = strdup(cmd ? cmd : "");
	r->program = cmd ? program_of(cmd) : NULL;
	struct pp_view_opts vo = {.idle = o->idle};
	struct pp_view *v = pp_view_new(p, &vo);
	struct rec_ctx c = {in, run};
	int rc = v && r->cmdline ? pp_view_each(v, rec_sample, &c) : -1;
	pp_view_free(v);
	pp_profile_free(p);
	if (rc != 0)
		say(err, errlen, "out of memory reading %s", path);
	return rc;
}

/* ---- collapsed stacks ----------------------------------------------------------- */

/* A frame label of a collapsed file: "function (file:line)",
 * "function (file)", a marker "[...]", a `thread ...` / `process ...`
 * root, or a bare name. */
static int collapsed_frame(struct pp_diff_input *in, size_t run, const char *s, size_t n,
			   bool leaf, uint64_t weight)
{
	if (n == 0)
		return 0;
	if (s[0] == '[' && s[n - 1] == ']')
		return 0; /* a marker */
	if ((n > 7 && !memcmp(s, "thread ", 7) && s[7] >= '0' && s[7] <= '9') ||
	    (n > 8 && !memcmp(s, "process ", 8) && s[8] >= '0' && s[8] <= '9'))
		return 0; /* a synthetic root: pyprobe's --threads, py-spy's too */
	const char *fn = s, *file = s + n;
	size_t fnlen = n, filelen = 0;
	if (s[n - 1] == ')') {
		/* the last " (" opens the location */
		for (size_t i = n - 1; i-- > 1;) {
			if (s[i] == '(' && s[i - 1] == ' ') {
				fnlen = i - 1;
				file = s + i + 1;
				filelen = n - 1 - (i + 1);
				break;
			}
		}
		/* ":LINE" (or ":?") at the end of the location is the line */
		size_t j = filelen;
		while (j > 0 && ((file[j - 1] >= '0' && file[j - 1] <= '9') || file[j - 1] == '?'))
			j--;
		if (j > 0 && j < filelen && file[j - 1] == ':')
			filelen = j - 1;
	}
	return count_frame(in, run, fn, fnlen, file, filelen, leaf, weight);
}

static int load_collapsed(struct pp_diff_input *in, size_t run, const char *path, FILE *f,
			  const struct pp_diff_load_opts *o, char *err, size_t errlen)
{
	struct pp_diff_run *r = &in->runs[run];
	double rate = o->rate_hz > 0 ? o->rate_hz : DEFAULT_RATE_HZ;
	r->period_s = 1.0 / rate;
	r->assumed_rate = true;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	int rc = 0;
	bool any = false;
	errno = 0;
	while ((len = getline(&line, &cap, f)) != -1) {
		lineno++;
		if ((size_t)len > COLLAPSED_LINE_MAX) {
			say(err, errlen, "%s: line %lu is over 16 MiB: not collapsed stacks", path,
			    lineno);
			rc = -1;
			break;
		}
		size_t n = (size_t)len;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
				 line[n - 1] == '\t'))
			n--;
		if (n == 0)
			continue;
		if (memchr(line, '\0', n)) {
			say(err, errlen, "%s is neither a pyprobe recording nor collapsed stacks "
				"(binary data on line %lu)", path, lineno);
			rc = -1;
			break;
		}
		size_t sp = n;
		while (sp > 0 && line[sp - 1] != ' ')
			sp--;
		uint64_t count = 0;
		bool ok = sp > 1 && sp < n;
		for (size_t i = sp; ok && i < n; i++) {
			if (line[i] < '0' || line[i] > '9' || count > (UINT64_MAX - 9) / 10)
				ok = false;
			else
				count = count * 10 + (uint64_t)(line[i] - '0');
		}
		if (!ok) {
			say(err, errlen, "%s is neither a pyprobe recording nor collapsed stacks "
				"(line %lu is not `frame;frame;... COUNT`)", path, lineno);
			rc = -1;
			break;
		}
		if (count == 0)
			continue;
		any = true;
		if (r->samples > UINT64_MAX - count) {
			say(err, errlen, "%s: the counts overflow", path);
			rc = -1;
			break;
		}
		r->samples += count;
		next_sample(in);
		size_t stack_end = sp - 1;
		while (stack_end > 0 && line[stack_end - 1] == ' ')
			stack_end--;
		/* the leaf is the last frame */
		size_t start = 0;
		for (size_t i = 0; i <= stack_end && rc == 0; i++) {
			if (i == stack_end || line[i] == ';') {
				if (collapsed_frame(in, run, line + start, i - start, i == stack_end,
						    count) != 0) {
					say(err, errlen, "out of memory reading %s", path);
					rc = -1;
				}
				start = i + 1;
			}
		}
		if (rc)
			break;
	}
	if (rc == 0 && ferror(f)) {
		say(err, errlen, "cannot read %s: %s", path, strerror(errno ? errno : EIO));
		rc = -1;
	}
	if (rc == 0 && !any) {
		say(err, errlen, "%s holds no samples", path);
		rc = -1;
	}
	free(line);
	return rc;
}

/* ---- files and directories ------------------------------------------------------ */

static int load_file(struct pp_diff_input *in, size_t run, const struct pp_diff_load_opts *o,
		     char *err, size_t errlen)
{
	const char *path = in->runs[run].path;
	FILE *f = fopen(path, "rb");
	if (!f) {
		say(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	unsigned char magic[8] = {0};
	size_t k = fread(magic, 1, sizeof magic, f);
	if (k == sizeof magic && !memcmp(magic, "\x89PYPROBE", 8)) {
		fclose(f);
		return load_recording(in, run, path, o, err, errlen);
	}
	rewind(f);
	int rc = load_collapsed(in, run, path, f, o, err, errlen);
	fclose(f);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files a side names: itself, or a directory's regular files (not
 * hidden), sorted by name. */
static int list_side(const char *path, char ***out, size_t *n, char *err, size_t errlen)
{
	struct stat st;
	*out = NULL;
	*n = 0;
	if (stat(path, &st) != 0) {
		say(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		char **l = malloc(sizeof *l);
		if (!l || !(l[0] = strdup(path))) {
			free(l);
			say(err, errlen, "out of memory");
			return -1;
		}
		*out = l;
		*n = 1;
		return 0;
	}
	DIR *d = opendir(path);
	if (!d) {
		say(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	char **l = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t len = strlen(path) + strlen(e->d_name) + 2;
		char *full = malloc(len);
		if (!full) {
			rc = -1;
			break;
		}
		snprintf(full, len, "%s/%s", path, e->d_name);
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nl = realloc(l, nc * sizeof *nl);
			if (!nl) {
				free(full);
				rc = -1;
				break;
			}
			l = nl;
			cap = nc;
		}
		l[cnt++] = full;
		if (cnt > MAX_RUNS) {
			say(err, errlen, "%s holds over %d files; give a directory of runs", path,
			    MAX_RUNS);
			rc = -2;
			break;
		}
	}
	closedir(d);
	if (rc == 0 && cnt == 0) {
		say(err, errlen, "%s holds no recordings (a directory of .pyprobe or collapsed "
			"files is one side)", path);
		rc = -2;
	}
	if (rc != 0) {
		if (rc == -1)
			say(err, errlen, "out of memory");
		for (size_t i = 0; i < cnt; i++)
			free(l[i]);
		free(l);
		return -1;
	}
	qsort(l, cnt, sizeof *l, by_name);
	*out = l;
	*n = cnt;
	return 0;
}

int pp_diff_input_load(struct pp_diff_input *in, const char *base, const char *head,
		       const struct pp_diff_load_opts *o, char *err, size_t errlen, int *code)
{
	*in = (struct pp_diff_input){0};
	*code = 6;
	char **files[2] = {NULL, NULL};
	size_t nf[2] = {0, 0};
	int rc = -1;
	if (list_side(base, &files[0], &nf[0], err, errlen) != 0 ||
	    list_side(head, &files[1], &nf[1], err, errlen) != 0)
		goto out;
	in->runs = calloc(nf[0] + nf[1], sizeof *in->runs);
	if (!in->runs) {
		say(err, errlen, "out of memory");
		goto out;
	}
	in->nruns[0] = nf[0];
	in->nruns[1] = nf[1];
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < nf[s]; i++) {
			in->runs[s * nf[0] + i].path = files[s][i];
			files[s][i] = NULL;
		}
	for (size_t r = 0; r < total_runs(in); r++)
		if (load_file(in, r, o, err, errlen) != 0)
			goto out;
	if (pp_diff_pair_checkouts(in) != 0) {
		say(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < nf[s]; i++)
			free(files[s][i]);
		free(files[s]);
	}
	return rc;
}

void pp_diff_input_free(struct pp_diff_input *in)
{
	for (size_t r = 0; r < total_runs(in) && in->runs; r++) {
		free(in->runs[r].path);
		free(in->runs[r].program);
		free(in->runs[r].cmdline);
	}
	free(in->runs);
	for (size_t i = 0; i < in->nfns; i++) {
		free(in->fns[i].function);
		free(in->fns[i].file);
		free(in->fns[i].incl);
		free(in->fns[i].self);
	}
	free(in->fns);
	free(in->paired[0]);
	free(in->paired[1]);
	free(in->index);
	free(in->stamp);
	*in = (struct pp_diff_input){0};
}
