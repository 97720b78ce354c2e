/* The Firefox Profiler's processed profile format, version 57 (the shape
 * CPython 3.15's `python -m profiling.sampling --gecko` writes; the
 * profiler upgrades older versions when it opens them, not newer ones):
 *
 *   meta     interval (ms, at the rate achieved), startTime (Unix ms of
 *            the recording's start), version 32 / preprocessedProfileVersion
 *            57, categories [Other, Python], product "Python", and the
 *            fields the profiler reads without checking
 *   threads  one per thread with kept samples, in thread order (one empty
 *            thread when nothing was kept, so the file still opens): name
 *            (the thread's, or `thread TID`), pid (a string, as the format
 *            has it), tid, isMainThread (tid == pid), and the tables, each
 *            a struct of arrays with a `length`:
 *              samples      stack and time (ms since the recording started)
 *                           per kept sample, in time order; weightType
 *                           "samples"
 *              stackTable   prefix (null at a root) and frame: the thread's
 *                           distinct stack prefixes
 *              frameTable   func and line per distinct view frame (line
 *                           null when there is none, or with --nolineno);
 *                           category 1 (Python) or 0 (markers, synthetic
 *                           roots)
 *              funcTable    name, fileName, lineNumber (where the function
 *                           starts), resource: one per function and file
 *              resourceTable  one per file, type 1 ("library")
 *              markers, nativeSymbols  empty
 *   shared   stringArray: every string the tables index, once
 *   libs, pages  empty
 */
#include "render.h"
#include "stream_end.h"
#include "json_str.h"
#include "stack_set.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a map from 64-bit keys to indexes (open addressing) ----------------- */

struct u64map {
	uint64_t *keys;
	uint32_t *vals; /* index + 1; 0: empty slot */
	size_t cap, n;
};

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

static int map_grow(struct u64map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 256;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint32_t *nv = calloc(ncap, sizeof(*nv));
	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->vals[i])
			continue;
		size_t j = mix(m->keys[i]) & (ncap - 1);
		while (nv[j])
			j = (j + 1) & (ncap - 1);
		nk[j] = m->keys[i];
		nv[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

/* The index stored for key, or else `next` stored for it (*added set):
 * UINT32_MAX when out of memory. */
static uint32_t map_get(struct u64map *m, uint64_t key, uint32_t next, bool *added)
{
	*added = false;
	if ((m->n + 1) * 2 > m->cap && map_grow(m) != 0)
		return UINT32_MAX;
	size_t i = mix(key) & (m->cap - 1);
	for (; m->vals[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i] - 1;
	m->keys[i] = key;
	m->vals[i] = next + 1;
	m->n++;
	*added = true;
	return next;
}

static void map_clear(struct u64map *m)
{
	if (m->cap) {
		memset(m->vals, 0, m->cap * sizeof(*m->vals));
		m->n = 0;
	}
}

static void map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
}

/* ---- growable arrays of uint32_t ----------------------------------------- */

struct u32s {
	uint32_t *v;
	size_t n, cap;
};

static int push(struct u32s *a, uint32_t x)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 64;
		uint32_t *nv = realloc(a->v, ncap * sizeof(*nv));
		if (!nv)
			return -1;
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = x;
	return 0;
}

/* ---- the shared string array --------------------------------------------- */

struct strings {
	const char **s; /* valid while the view lives */
	size_t n, cap;
	struct u64map by_hash; /* FNV-1a of the content -> first index with it */
	struct u32s chain;     /* per index: the next with the same hash, + 1 */
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The index of s in the array, added if new; UINT32_MAX when out of memory. */
static uint32_t str_id(struct strings *t, const char *s)
{
	bool added;
	uint32_t i = map_get(&t->by_hash, fnv(s), (uint32_t)t->n, &added);
	if (i == UINT32_MAX)
		return i;
	if (!added) {
		for (uint32_t k = i;; k = t->chain.v[k] - 1) {
			if (!strcmp(t->s[k], s))
				return k;
			if (!t->chain.v[k]) {
				t->chain.v[k] = (uint32_t)t->n + 1;
				break;
			}
		}
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		const char **ns = realloc(t->s, ncap * sizeof(*ns));
		if (!ns)
			return UINT32_MAX;
		t->s = ns;
		t->cap = ncap;
	}
	if (push(&t->chain, 0) != 0)
		return UINT32_MAX;
	t->s[t->n] = s;
	return (uint32_t)t->n++;
}

/* ---- the kept samples ---------------------------------------------------- */

struct kept {
	uint64_t time_ns;
	uint32_t thread, seq;
};

struct pass {
	struct pp_stack_set set;
	struct kept *kept;
	size_t nkept, capkept;
};

static int add_sample(const struct pp_view_frame *const *f, size_t n, const struct pp_psample *s,
		      void *ctx)
{
	struct pass *ps = ctx;
	if (ps->nkept == ps->capkept) {
		size_t ncap = ps->capkept ? ps->capkept * 2 : 64;
		struct kept *nk = realloc(ps->kept, ncap * sizeof(*nk));
		if (!nk)
			return -1;
		ps->kept = nk;
		ps->capkept = ncap;
	}
	long id = pp_stack_set_add(&ps->set, f, n);
	if (id < 0)
		return -1;
	ps->kept[ps->nkept++] = (struct kept){s->time_ns, s->thread, (uint32_t)id};
	return 0;
}

/* ---- one thread's tables ------------------------------------------------- */

struct tables {
	struct u32s frame_func, frame_line_plus1, frame_cat; /* line + 1; 0: null */
	struct u32s func_name, func_file_plus1, func_line, func_res;   /* file + 1; 0: null */
	struct u32s res_name;
	struct u32s stack_prefix_plus1, stack_frame;   /* prefix + 1; 0: null */
	struct u32s sample_stack_plus1;                /* 0: null (no frames) */
	struct u32s seq_leaf_plus1; /* per distinct stack: its stackTable leaf + 1 */
	uint32_t *vframe;           /* view frame id -> frame index + 1 */
	struct u64map funcs, res, stacks;
};

static void tables_free(struct tables *t)
{
	struct u32s *all[] = {&t->frame_func, &t->frame_line_plus1, &t->frame_cat,
			      &t->func_name, &t->func_file_plus1, &t->func_line,
			      &t->func_res, &t->res_name, &t->stack_prefix_plus1,
			      &t->stack_frame, &t->sample_stack_plus1, &t->seq_leaf_plus1};
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		free(all[i]->v);
	free(t->vframe);
	map_free(&t->funcs);
	map_free(&t->res);
	map_free(&t->stacks);
}

/* The thread's frame index for view frame id, made with its function and
 * resource on first use; UINT32_MAX when out of memory. */
static uint32_t frame_of(struct tables *t, struct strings *st, const struct pp_view *v, uint32_t id)
{
	if (t->vframe[id])
		return t->vframe[id] - 1;
	const struct pp_view_frame *f = pp_view_frame(v, id);
	bool py = f->kind == PP_FRAME_PYTHON, added;
	uint32_t name = str_id(st, f->function);
	uint32_t file = py ? str_id(st, f->file) : 0;
	if (name == UINT32_MAX || file == UINT32_MAX)
		return UINT32_MAX;
	uint32_t res = UINT32_MAX; /* written as -1: none */
	if (py) {
		res = map_get(&t->res, file, (uint32_t)t->res_name.n, &added);
		if (res == UINT32_MAX || (added && push(&t->res_name, file) != 0))
			return UINT32_MAX;
	}
	/* a function is its name and file (and kind: a marker is not a
	 * function of that name) */
	uint64_t fkey = (uint64_t)name << 32 | (py ? file + 1u : 0);
	uint32_t func = map_get(&t->funcs, fkey, (uint32_t)t->func_name.n, &added);
	if (func == UINT32_MAX)
		return UINT32_MAX;
	if (added && (push(&t->func_name, name) || push(&t->func_file_plus1, py ? file + 1 : 0) ||
		      push(&t->func_line, py && f->firstlineno > 0 ? (uint32_t)f->firstlineno : 0) ||
		      push(&t->func_res, res)))
		return UINT32_MAX;
	uint32_t idx = (uint32_t)t->frame_func.n;
	if (push(&t->frame_func, func) ||
	    push(&t->frame_line_plus1, py && f->line >= 0 ? (uint32_t)f->line + 1 : 0) ||
	    push(&t->frame_cat, py ? 1 : 0))
		return UINT32_MAX;
	t->vframe[id] = idx + 1;
	return idx;
}

/* The thread's stackTable leaf for a distinct view stack; UINT32_MAX when
 * out of memory. */
static uint32_t stack_of(struct tables *t, struct strings *st, const struct pp_view *v,
			 const struct pp_stack_seq *q)
{
	uint32_t prefix_plus1 = 0;
	for (size_t k = 0; k < q->n; k++) {
		uint32_t fr = frame_of(t, st, v, q->ids[k]);
		if (fr == UINT32_MAX)
			return UINT32_MAX;
		bool added;
		uint64_t key = (uint64_t)prefix_plus1 << 32 | fr;
		uint32_t s = map_get(&t->stacks, key, (uint32_t)t->stack_frame.n, &added);
		if (s == UINT32_MAX)
			return UINT32_MAX;
		if (added && (push(&t->stack_prefix_plus1, prefix_plus1) || push(&t->stack_frame, fr)))
			return UINT32_MAX;
		prefix_plus1 = s + 1;
	}
	return prefix_plus1; /* + 1 already; 0 for no frames */
}

/* ---- writing ------------------------------------------------------------- */

static void put_ms(uint64_t ns, FILE *out)
{
	fprintf(out, "%" PRIu64 ".%06u", ns / 1000000, (unsigned)(ns % 1000000));
}

/* "name": [a, b, ...] with each value + bias, or null for `null_at` when
 * the array stores value + 1 (plus1), or -1 for UINT32_MAX (minus1). */
enum col_kind { PLAIN, PLUS1, MINUS1, ZEROS, NULLS, FALSES, TRUES };

static void put_col(const char *name, const struct u32s *a, size_t n, enum col_kind k, FILE *out)
{
	fprintf(out, "\"%s\": [", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(i % 32 ? ", " : ",\n      ", out);
		switch (k) {
		case PLAIN: fprintf(out, "%" PRIu32, a->v[i]); break;
		case PLUS1:
			if (a->v[i])
				fprintf(out, "%" PRIu32, a->v[i] - 1);
			else
				fputs("null", out);
			break;
		case MINUS1:
			if (a->v[i] == UINT32_MAX)
				fputs("-1", out);
			else
				fprintf(out, "%" PRIu32, a->v[i]);
			break;
		case ZEROS: fputc('0', out); break;
		case NULLS: fputs("null", out); break;
		case FALSES: fputs("false", out); break;
		case TRUES: fputs("true", out); break;
		}
	}
	fputs("]", out);
}

static void put_thread(const char *name, uint32_t pid, uint64_t tid, const struct tables *t,
		       const struct kept *kept, const size_t *idx, size_t n, FILE *out)
{
	fputs("    {\n      \"name\": ", out);
	pp_json_str(name, out);
	fprintf(out,
		",\n      \"isMainThread\": %s,\n      \"processType\": \"default\",\n"
		"      \"processName\": \"Python\",\n      \"processStartupTime\": 0,\n"
		"      \"processShutdownTime\": null,\n      \"registerTime\": 0,\n"
		"      \"unregisterTime\": null,\n      \"pausedRanges\": [],\n"
		"      \"pid\": \"%" PRIu32 "\",\n      \"tid\": %" PRIu64 ",\n",
		tid == pid ? "true" : "false", pid, tid);

	fputs("      \"samples\": {\n      ", out);
	put_col("stack", &t->sample_stack_plus1, n, PLUS1, out);
	fputs(",\n      \"time\": [", out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(i % 16 ? ", " : ",\n      ", out);
		put_ms(kept[idx[i]].time_ns, out);
	}
	fprintf(out, "],\n      \"weight\": null,\n      \"weightType\": \"samples\",\n"
		     "      \"length\": %zu\n      },\n",
		n);

	size_t ns = t->stack_frame.n, nf = t->frame_func.n, nfn = t->func_name.n,
	       nr = t->res_name.n;
	fputs("      \"stackTable\": {\n      ", out);
	put_col("frame", &t->stack_frame, ns, PLAIN, out);
	fputs(",\n      ", out);
	/* a stack's category is its frame's */
	fputs("\"category\": [", out);
	for (size_t i = 0; i < ns; i++)
		fprintf(out, i ? (i % 32 ? ", %" PRIu32 : ",\n      %" PRIu32) : "%" PRIu32,
			t->frame_cat.v[t->stack_frame.v[i]]);
	fputs("],\n      ", out);
	put_col("subcategory", NULL, ns, ZEROS, out);
	fputs(",\n      ", out);
	put_col("prefix", &t->stack_prefix_plus1, ns, PLUS1, out);
	fprintf(out, ",\n      \"length\": %zu\n      },\n", ns);

	fputs("      \"frameTable\": {\n      ", out);
	put_col("address", NULL, nf, NULLS, out);
	fputs(",\n      ", out);
	put_col("category", &t->frame_cat, nf, PLAIN, out);
	fputs(",\n      ", out);
	put_col("subcategory", NULL, nf, ZEROS, out);
	fputs(",\n      ", out);
	put_col("func", &t->frame_func, nf, PLAIN, out);
	fputs(",\n      ", out);
	put_col("nativeSymbol", NULL, nf, NULLS, out);
	fputs(",\n      ", out);
	put_col("innerWindowID", NULL, nf, NULLS, out);
	fputs(",\n      ", out);
	put_col("implementation", NULL, nf, NULLS, out);
	fputs(",\n      ", out);
	put_col("line", &t->frame_line_plus1, nf, PLUS1, out);
	fputs(",\n      ", out);
	put_col("column", NULL, nf, NULLS, out);
	fputs(",\n      ", out);
	put_col("inlineDepth", NULL, nf, ZEROS, out);
	fputs(",\n      ", out);
	put_col("optimizations", NULL, nf, NULLS, out);
	fprintf(out, ",\n      \"length\": %zu\n      },\n", nf);

	fputs("      \"funcTable\": {\n      ", out);
	put_col("name", &t->func_name, nfn, PLAIN, out);
	fputs(",\n      ", out);
	put_col("isJS", NULL, nfn, FALSES, out);
	fputs(",\n      ", out);
	put_col("relevantForJS", NULL, nfn, FALSES, out);
	fputs(",\n      ", out);
	put_col("resource", &t->func_res, nfn, MINUS1, out);
	fputs(",\n      ", out);
	put_col("fileName", &t->func_file_plus1, nfn, PLUS1, out);
	fputs(",\n      \"lineNumber\": [", out);
	for (size_t i = 0; i < nfn; i++) {
		if (i)
			fputs(", ", out);
		if (t->func_line.v[i])
			fprintf(out, "%" PRIu32, t->func_line.v[i]);
		else
			fputs("null", out);
	}
	fputs("],\n      ", out);
	put_col("columnNumber", NULL, nfn, NULLS, out);
	fprintf(out, ",\n      \"length\": %zu\n      },\n", nfn);

	fputs("      \"resourceTable\": {\n      ", out);
	put_col("lib", NULL, nr, NULLS, out);
	fputs(",\n      ", out);
	put_col("name", &t->res_name, nr, PLAIN, out);
	fputs(",\n      ", out);
	put_col("host", NULL, nr, NULLS, out);
	fputs(",\n      \"type\": [", out);
	for (size_t i = 0; i < nr; i++)
		fputs(i ? ", 1" : "1", out);
	fprintf(out, "],\n      \"length\": %zu\n      },\n", nr);

	fputs("      \"nativeSymbols\": {\"libIndex\": [], \"address\": [], \"name\": [], "
	      "\"functionSize\": [], \"length\": 0},\n"
	      "      \"markers\": {\"data\": [], \"name\": [], \"startTime\": [], "
	      "\"endTime\": [], \"phase\": [], \"category\": [], \"length\": 0}\n    }",
	      out);
}

static int write_file(const struct pp_profile *p, const struct pp_render_opts *o,
		      const struct pp_view *v, const struct pass *ps, FILE *out)
{
	size_t nthreads, nvf = pp_view_nframes(v);
	const struct pp_pthread *th = pp_profile_threads(p, &nthreads);
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	double rate = pp_profile_rate_achieved(m);
	struct strings st = {0};
	struct tables t = {0};
	int rc = -1;
	char *name = NULL;
	size_t *start = calloc(nthreads + 1, sizeof(*start));
	size_t *idx = malloc((ps->nkept ? ps->nkept : 1) * sizeof(*idx));
	t.vframe = calloc(nvf ? nvf : 1, sizeof(*t.vframe));
	t.seq_leaf_plus1.v = calloc(ps->set.nseqs ? ps->set.nseqs : 1, sizeof(uint32_t));
	if (!start || !idx || !t.vframe || !t.seq_leaf_plus1.v)
		goto out;
	/* the kept samples grouped by thread, each group in time order */
	for (size_t i = 0; i < ps->nkept; i++)
		start[ps->kept[i].thread + 1]++;
	for (size_t tt = 0; tt < nthreads; tt++)
		start[tt + 1] += start[tt];
	for (size_t i = 0; i < ps->nkept; i++)
		idx[start[ps->kept[i].thread]++] = i;

	char interval[40];
	snprintf(interval, sizeof interval, "%.9g", 1000.0 / rate);
	for (char *c = interval; *c; c++)
		if (*c == ',')
			*c = '.';
	fprintf(out,
		"{\n  \"meta\": {\n    \"interval\": %s,\n    \"startTime\": ", interval);
	put_ms(m->start_unix_ns, out);
	fputs(",\n    \"abi\": \"x86_64\",\n    \"misc\": \"\",\n    \"oscpu\": \"x86_64\",\n"
	      "    \"platform\": \"Linux\",\n    \"processType\": 0,\n"
	      "    \"categories\": [\n"
	      "      {\"name\": \"Other\", \"color\": \"grey\", \"subcategories\": [\"Other\"]},\n"
	      "      {\"name\": \"Python\", \"color\": \"yellow\", \"subcategories\": [\"Other\"]}\n"
	      "    ],\n    \"stackwalk\": 0,\n    \"toolkit\": \"\",\n    \"version\": 32,\n"
	      "    \"preprocessedProfileVersion\": 57,\n    \"appBuildID\": \"\",\n"
	      "    \"product\": ",
	      out);
	const char *title = o->title ? o->title : pp_profile_string(p, m->title);
	if (!*title)
		title = pp_profile_string(p, m->cmdline);
	pp_json_str(*title ? title : "Python", out);
	fputs(",\n    \"symbolicated\": true,\n    \"markerSchema\": [],\n"
	      "    \"importedFrom\": \"pyprobe " PYPROBE_VERSION "\",\n"
	      "    \"extensions\": {\"id\": [], \"name\": [], \"baseURL\": [], \"length\": 0}\n"
	      "  },\n  \"libs\": [],\n  \"pages\": [],\n  \"threads\": [\n",
	      out);

	bool first = true;
	for (size_t tt = 0; tt <= nthreads && !ferror(out); tt++) {
		size_t begin, n;
		if (tt == nthreads) { /* nothing kept: one empty thread */
			if (!first)
				break;
			begin = n = 0;
		} else {
			begin = tt ? start[tt - 1] : 0;
			n = start[tt] - begin;
			if (n == 0)
				continue;
		}
		/* fresh tables for each thread; the strings are shared */
		memset(t.vframe, 0, (nvf ? nvf : 1) * sizeof(*t.vframe));
		memset(t.seq_leaf_plus1.v, 0, (ps->set.nseqs ? ps->set.nseqs : 1) * sizeof(uint32_t));
		t.frame_func.n = t.frame_line_plus1.n = t.frame_cat.n = 0;
		t.func_name.n = t.func_file_plus1.n = t.func_line.n = t.func_res.n = 0;
		t.res_name.n = t.stack_prefix_plus1.n = t.stack_frame.n = 0;
		t.sample_stack_plus1.n = 0;
		map_clear(&t.funcs);
		map_clear(&t.res);
		map_clear(&t.stacks);
		for (size_t i = 0; i < n; i++) {
			uint32_t seq = ps->kept[idx[begin + i]].seq;
			if (!t.seq_leaf_plus1.v[seq]) {
				uint32_t leaf = stack_of(&t, &st, v, ps->set.seqs[seq]);
				if (leaf == UINT32_MAX)
					goto out;
				/* + 1 again so that "no frames" (0) is remembered too */
				t.seq_leaf_plus1.v[seq] = leaf + 1;
			}
			if (push(&t.sample_stack_plus1, t.seq_leaf_plus1.v[seq] - 1) != 0)
				goto out;
		}
		const char *tn = tt < nthreads ? pp_view_thread_name(v, (uint32_t)tt) : "";
		uint64_t tid = tt < nthreads ? th[tt].native_id : 0;
		uint32_t pid = tt < nthreads ? th[tt].pid : m->pid;
		if ((*tn ? asprintf(&name, "%s", tn) : asprintf(&name, "thread %" PRIu64, tid)) < 0) {
			name = NULL;
			goto out;
		}
		if (!first)
			fputs(",\n", out);
		first = false;
		put_thread(name, pid, tid, &t, ps->kept, idx + begin, n, out);
		free(name);
		name = NULL;
	}
	fputs("\n  ],\n  \"shared\": {\n    \"stringArray\": [", out);
	for (size_t i = 0; i < st.n; i++) {
		fputs(i ? ",\n      " : "\n      ", out);
		pp_json_str(st.s[i], out);
	}
	fputs(st.n ? "\n    ],\n" : "],\n", out);
	fputs("    \"sources\": {\"length\": 0, \"uuid\": [], \"filename\": []}\n  }\n}\n", out);
	rc = 0;
out:
	if (rc != 0)
		errno = ENOMEM;
	free(name);
	free(start);
	free(idx);
	tables_free(&t);
	free(st.s);
	map_free(&st.by_hash);
	free(st.chain.v);
	return rc;
}

int pp_render_gecko(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out)
{
	struct pass ps = {0};
	int rc = -1;
	struct pp_view *v = pp_view_new(p, &o->view);
	if (!v || pp_view_each(v, add_sample, &ps) != 0)
		errno = ENOMEM;
	else
		rc = write_file(p, o, v, &ps, out);
	pp_stack_set_free(&ps.set);
	free(ps.kept);
	pp_view_free(v);
	if (rc != 0)
		return -1;
	return pp_stream_end(out);
}
