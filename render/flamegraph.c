/* An interactive flame graph: one SVG with its own small script.
 *
 * Follows flamegraph.pl's conventions (this is an independent
 * implementation, no code of it is used): the kept samples are merged into a
 * tree root first, an "all" frame at the bottom spans the image, children
 * sit in alphabetical order of their labels, every frame's width is
 * proportional to its samples, frames are 16 px rows in a 1200 px image,
 * labels are truncated with ".." to fit, and a frame narrower than 0.1 px is
 * not drawn (nor anything above it). Clicking a frame zooms to it, "Reset
 * Zoom" undoes that, "Search" (or Ctrl-F) highlights the frames matching a
 * regular expression and shows the share of samples they cover, Escape
 * clears.
 *
 * Colours tell where the code lives: the standard library (a file under
 * lib/pythonX.Y/, frozen modules), third-party packages (site-packages,
 * dist-packages) and the user's own code (anything else) are three hue
 * families, with the shade picked by a hash of the function name, so the
 * same input always gives the same bytes. Synthetic frames have fixed
 * colours: greys for the root and thread/process roots, red for
 * "[waiting for GIL]".
 *
 * A differential flame graph (pyprobe diff -o, opts->tint) colours Python
 * frames by their function's change instead, and says it in the tooltip.
 *
 * Numbers are written from integer arithmetic (tenths of a pixel, hundredths
 * of a percent): no floating point, no locale - but for a differential
 * graph's changes, printed in the C locale pyprobe runs in.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_label.h"
#include "short_filename.h"
#include "render.h"
#include "svg_num.h"
#include "utf8.h"

/* Geometry, after flamegraph.pl's defaults. Lengths ending in 10 are in
 * tenths of a pixel. */
enum {
	IMG_W = 1200,
	PAD_X = 10,
	FRAMES_W = IMG_W - 2 * PAD_X,
	FRAME_H = 16, /* a row; the box is one pixel less */
	HEAD_H = 60,  /* title, subtitle and controls above the frames */
	FOOT_H = 56,  /* details, "Matched:" and the legend below */
	CHAR_W10 = 72, /* one monospace column of the 12 px font (0.6 em) */
	TEXT_PAD10 = 30, /* label inset on each side of its box */
	MIN_COLS = 3,  /* fewer columns than this: no label at all */
};

enum family {
	FAM_USER,
	FAM_STDLIB,
	FAM_THIRD,
	FAM_ROOT,    /* the "all" frame */
	FAM_PROCESS,
	FAM_THREAD,
	FAM_GILWAIT,
	FAM_MARKER,  /* any other GIL marker ("[GIL released]") */
	FAM_CHANGING,   /* [changing]: the stack moved inside the frame below */
	FAM_UNREADABLE, /* [unreadable frame: ...], [N more frames not read] */
	FAM_NATIVE,     /* native (C) frames: record --native */
	FAM_COUNT,
};

static const char *const family_name[FAM_COUNT] = {
	"your code", "standard library", "third-party", "all",
	"process", "thread", "waiting for GIL", "GIL released",
	"changing (cut short)", "unreadable", "native (C)",
};

/* A distinct label: what the graph merges by, like flamegraph.pl merging
 * identical folded-stack text. */
struct label {
	char *text;                     /* cleaned: valid UTF-8, no controls */
	const struct pp_view_frame *f;  /* one frame with this label */
};

struct node {
	uint64_t count;  /* samples through this frame */
	uint64_t start;  /* samples left of it in its row */
	uint32_t parent; /* UINT32_MAX: the root */
	uint32_t rank;   /* label index */
	uint32_t depth;  /* 0: the root */
	uint32_t kids, nkids; /* its children: a run of the sorted order */
};

struct edge {
	uint32_t parent, rank, node;
};

struct fg {
	uint32_t *rank_of; /* view frame id -> label index */
	struct label *labels;
	size_t nlabels;
	struct node *nodes;
	size_t nnodes, capnodes;
	uint32_t *index; /* open addressing: (parent, rank) -> node + 1 */
	size_t icap;
	uint32_t *kids; /* node ids grouped by parent, sorted by label */
	uint32_t *stack;
	uint32_t maxdepth;
};

/* ---- text ---------------------------------------------------------------- */

static size_t put_utf8(char *out, long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A copy of s that XML accepts: control characters (C0, DEL, C1) removed,
 * invalid UTF-8 and the non-characters U+FFFE/U+FFFF replaced by U+FFFD,
 * everything else passed through. NULL when out of memory. */
static char *clean_text(const char *s)
{
	size_t len = strlen(s);
	char *out = malloc(3 * len + 1); /* a bad byte becomes 3 */
	if (!out)
		return NULL;
	size_t o = 0;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t n;
		long cp = pp_utf8_next(u + i, len - i, &n);
		i += n;
		if (cp < 0 || cp == 0xFFFE || cp == 0xFFFF)
			cp = 0xFFFD;
		if (pp_utf8_is_control(cp))
			continue;
		o += put_utf8(out + o, cp);
	}
	out[o] = '\0';
	return out;
}

/* Monospace columns a code point takes: East Asian wide and emoji take 2.
 * The script has the same table. */
static unsigned cols_of(long c)
{
	return (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF && c != 0x303F) ||
			       (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
			       (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
			       (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
			       (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD)
		       ? 2
		       : 1;
}

/* How many bytes of the cleaned text s to show in a box w10 wide, and
 * whether ".." follows: 0 bytes when not even MIN_COLS columns fit. */
static size_t fit_text(const char *s, int64_t w10, int *dots)
{
	*dots = 0;
	if (w10 < 2 * TEXT_PAD10)
		return 0;
	int64_t max = (w10 - 2 * TEXT_PAD10) / CHAR_W10;
	if (max < MIN_COLS)
		return 0;
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), cut = 0, i = 0;
	int64_t cols = 0;
	int have_cut = 0;
	while (i < len) {
		size_t n;
		long cp = pp_utf8_next(u + i, len - i, &n);
		unsigned c = cols_of(cp);
		if (!have_cut && cols + c > max - 2) {
			cut = i;
			have_cut = 1;
		}
		cols += c;
		i += n;
		if (cols > max) {
			*dots = 1;
			return cut;
		}
	}
	return len;
}

/* XML character data or attribute value; s is already clean. */
static void put_esc(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: putc(s[i], out);
		}
	}
}

/* Clean and escape s, truncated to a width of w10. */
static int put_fitted(FILE *out, const char *s, int64_t w10)
{
	char *c = clean_text(s);
	if (!c)
		return -1;
	int dots;
	size_t n = fit_text(c, w10, &dots);
	put_esc(out, c, n);
	if (dots)
		fputs("..", out);
	free(c);
	return 0;
}

/* 100 * n / total with two decimals, rounded half up. */
static void put_percent(FILE *out, uint64_t n, uint64_t total)
{
	uint64_t h = (n * 20000 + total) / (2 * total);
	fprintf(out, "%" PRIu64 ".%02" PRIu64, h / 100, h % 100);
}

/* ---- colours ------------------------------------------------------------- */

/* "lib/pythonX.Y/" (or lib64, or a free-threaded "X.Yt") in a path */
static int under_stdlib_dir(const char *file)
{
	for (const char *p = file; (p = strstr(p, "python")) != NULL; p++) {
		int lib = (p - file >= 4 && !memcmp(p - 4, "lib/", 4)) ||
			  (p - file >= 6 && !memcmp(p - 6, "lib64/", 6));
		if (!lib)
			continue;
		const char *q = p + 6;
		if (!(*q >= '0' && *q <= '9'))
			continue;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q++ != '.' || !(*q >= '0' && *q <= '9'))
			continue;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q == 't')
			q++;
		if (*q == '/')
			return 1;
	}
	return 0;
}

static enum family family_of(const struct pp_view_frame *f)
{
	switch (f->kind) {
	case PP_FRAME_THREAD: return FAM_THREAD;
	case PP_FRAME_PROCESS: return FAM_PROCESS;
	case PP_FRAME_MARKER:
		if (strcmp(f->function, "[waiting for GIL]") == 0)
			return FAM_GILWAIT;
		if (strcmp(f->function, PP_MARK_CHANGING) == 0)
			return FAM_CHANGING;
		if (strcmp(f->function, "[GIL released]") == 0)
			return FAM_MARKER;
		return FAM_UNREADABLE;
	case PP_FRAME_NATIVE: return FAM_NATIVE;
	case PP_FRAME_PYTHON: break;
	}
	const char *file = f->file ? f->file : "";
	if (strstr(file, "site-packages/") || strstr(file, "dist-packages/"))
		return FAM_THIRD;
	if (under_stdlib_dir(file) || !strncmp(file, "<frozen ", 8))
		return FAM_STDLIB;
	return FAM_USER;
}

struct rgb {
	unsigned r, g, b;
};

/* A family's colour; Python families vary their shade by the name. */
static struct rgb colour(enum family fam, const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		h = (h ^ *s) * 16777619u;
	unsigned v1 = h & 0xFF, v2 = (h >> 8) & 0xFF, v3 = (h >> 16) & 0xFF;
	switch (fam) {
	case FAM_USER: /* warm: red-orange to yellow */
		return (struct rgb){225 + 30 * v1 / 255, 95 + 125 * v2 / 255, 30 + 60 * v3 / 255};
	case FAM_STDLIB: /* blue */
		return (struct rgb){80 + 60 * v1 / 255, 135 + 65 * v2 / 255, 205 + 50 * v3 / 255};
	case FAM_THIRD: /* green */
		return (struct rgb){85 + 75 * v1 / 255, 175 + 60 * v2 / 255, 60 + 55 * v3 / 255};
	case FAM_ROOT: return (struct rgb){200, 200, 200};
	case FAM_PROCESS: return (struct rgb){160, 160, 168};
	case FAM_THREAD: return (struct rgb){184, 184, 190};
	case FAM_GILWAIT: return (struct rgb){214, 39, 40};
	case FAM_CHANGING: return (struct rgb){176, 176, 176};
	case FAM_UNREADABLE: return (struct rgb){196, 150, 206};
	case FAM_NATIVE: /* khaki to olive: apart from every Python family */
		return (struct rgb){175 + 40 * v1 / 255, 165 + 40 * v2 / 255, 95 + 40 * v3 / 255};
	case FAM_MARKER:
	case FAM_COUNT: break;
	}
	return (struct rgb){212, 206, 190};
}

/* ---- the tree ------------------------------------------------------------ */

static int label_cmp(const void *a, const void *b)
{
	const struct label *x = a, *y = b;
	int c = strcmp(x->text, y->text);
	if (c)
		return c;
	return x->f->id < y->f->id ? -1 : x->f->id > y->f->id;
}

/* One label per distinct text, in byte order; rank_of maps frames to them. */
static int build_labels(struct fg *g, struct pp_view *v, const struct pp_render_opts *o)
{
	size_t n = pp_view_nframes(v);
	g->rank_of = calloc(n ? n : 1, sizeof(*g->rank_of));
	g->labels = calloc(n + 1, sizeof(*g->labels));
	if (!g->rank_of || !g->labels)
		return -1;
	for (size_t id = 0; id < n; id++) {
		const struct pp_view_frame *f = pp_view_frame(v, (uint32_t)id);
		/* the label's file: short unless asked otherwise (colours and
		 * the differential tint still go by the full path) */
		struct pp_view_frame shown = *f;
		if (!o->full_filenames && f->kind == PP_FRAME_PYTHON)
			shown.file = pp_short_filename(f->file, o->cwd);
		size_t len = pp_frame_label(&shown, NULL, 0);
		char *raw = malloc(len + 1);
		if (!raw)
			return -1;
		pp_frame_label(&shown, raw, len + 1);
		g->labels[g->nlabels].text = clean_text(raw);
		free(raw);
		if (!g->labels[g->nlabels].text)
			return -1;
		g->labels[g->nlabels++].f = f;
	}
	qsort(g->labels, g->nlabels, sizeof(*g->labels), label_cmp);
	size_t k = 0;
	for (size_t i = 0; i < g->nlabels; i++) {
		if (k && !strcmp(g->labels[k - 1].text, g->labels[i].text)) {
			g->rank_of[g->labels[i].f->id] = (uint32_t)(k - 1);
			free(g->labels[i].text);
			continue;
		}
		g->rank_of[g->labels[i].f->id] = (uint32_t)k;
		g->labels[k++] = g->labels[i];
	}
	g->nlabels = k;
	return 0;
}

static size_t edge_hash(uint32_t parent, uint32_t rank, size_t cap)
{
	uint64_t k = ((uint64_t)parent << 32 | rank) * 0x9E3779B97F4A7C15ull;
	return (size_t)(k >> 32) & (cap - 1);
}

static int grow_index(struct fg *g)
{
	size_t ncap = g->icap ? g->icap * 2 : 1024;
	uint32_t *ni = calloc(ncap, sizeof(*ni));
	if (!ni)
		return -1;
	for (size_t id = 1; id < g->nnodes; id++) {
		size_t i = edge_hash(g->nodes[id].parent, g->nodes[id].rank, ncap);
		while (ni[i])
			i = (i + 1) & (ncap - 1);
		ni[i] = (uint32_t)id + 1;
	}
	free(g->index);
	g->index = ni;
	g->icap = ncap;
	return 0;
}

/* parent's child with this label, made if new; UINT32_MAX: out of memory */
static uint32_t child(struct fg *g, uint32_t parent, uint32_t rank)
{
	if ((g->nnodes + 1) * 2 > g->icap && grow_index(g) != 0)
		return UINT32_MAX;
	size_t i = edge_hash(parent, rank, g->icap);
	for (; g->index[i]; i = (i + 1) & (g->icap - 1)) {
		struct node *c = &g->nodes[g->index[i] - 1];
		if (c->parent == parent && c->rank == rank)
			return g->index[i] - 1;
	}
	if (g->nnodes == g->capnodes) {
		size_t ncap = g->capnodes * 2;
		struct node *nn = realloc(g->nodes, ncap * sizeof(*nn));
		if (!nn || g->nnodes >= UINT32_MAX - 1)
			return UINT32_MAX;
		g->nodes = nn;
		g->capnodes = ncap;
	}
	uint32_t id = (uint32_t)g->nnodes++;
	uint32_t depth = g->nodes[parent].depth + 1;
	g->nodes[id] = (struct node){0, 0, parent, rank, depth, 0, 0};
	if (depth > g->maxdepth)
		g->maxdepth = depth;
	g->index[i] = id + 1;
	return id;
}

static int add_sample(const struct pp_view_frame *const *frames, size_t n,
		      const struct pp_psample *s, void *ctx)
{
	(void)s;
	struct fg *g = ctx;
	uint32_t cur = 0;
	g->nodes[0].count++;
	for (size_t i = 0; i < n; i++) {
		cur = child(g, cur, g->rank_of[frames[i]->id]);
		if (cur == UINT32_MAX)
			return -1;
		g->nodes[cur].count++;
	}
	return 0;
}

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Children sorted by label under each parent, and every frame's start. */
static int lay_out(struct fg *g)
{
	size_t n = g->nnodes;
	struct edge *e = malloc((n ? n : 1) * sizeof(*e));
	g->kids = malloc((n ? n : 1) * sizeof(*g->kids));
	g->stack = malloc(((size_t)g->maxdepth + 2) * sizeof(*g->stack));
	if (!e || !g->kids || !g->stack) {
		free(e);
		return -1;
	}
	for (size_t id = 1; id < n; id++)
		e[id - 1] = (struct edge){g->nodes[id].parent, g->nodes[id].rank, (uint32_t)id};
	qsort(e, n - 1, sizeof(*e), edge_cmp);
	/* A parent's node id is smaller than its children's, so its start is
	 * known before its run of children comes up. */
	uint64_t at = 0;
	for (size_t k = 0; k + 1 < n; k++) {
		struct node *p = &g->nodes[e[k].parent], *c = &g->nodes[e[k].node];
		if (k == 0 || e[k - 1].parent != e[k].parent) {
			p->kids = (uint32_t)k;
			at = p->start;
		}
		p->nkids++;
		c->start = at;
		at += c->count;
		g->kids[k] = e[k].node;
	}
	free(e);
	return 0;
}

static void fg_free(struct fg *g)
{
	for (size_t i = 0; i < g->nlabels; i++)
		free(g->labels[i].text);
	free(g->labels);
	free(g->rank_of);
	free(g->nodes);
	free(g->index);
	free(g->kids);
	free(g->stack);
}

/* ---- the SVG ------------------------------------------------------------- */

static const char style[] =
	"text{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,\"Liberation Mono\",monospace;"
	"font-size:12px;fill:#000}\n"
	"#title{font-family:Verdana,\"DejaVu Sans\",sans-serif;font-size:17px;text-anchor:middle}\n"
	"#subtitle{text-anchor:middle;fill:#444}\n"
	"#details,#legend text{fill:#222}\n"
	"#matched{text-anchor:end}\n"
	".ctl{cursor:pointer;fill:#1a4f8b}\n"
	".ctl:hover{text-decoration:underline}\n"
	".ctl.off{opacity:.35;cursor:default;text-decoration:none}\n"
	"#frames g{cursor:pointer}\n"
	"#frames g:hover rect{stroke:#000;stroke-width:.6}\n"
	"#frames text{pointer-events:none}\n"
	".parent{opacity:.5}\n"
	".hide{display:none}\n"
	"#empty{font-size:17px;text-anchor:middle;fill:#666}\n";

/* Our own script. Frames carry data-x (samples to their left in their row)
 * and data-n (their samples); #frames carries the total and the geometry,
 * so positions are recomputed with the same integer arithmetic as above.
 * Labels come from the titles. */
static const char script[] =
	"(function () {\n"
	"'use strict';\n"
	"var NS = 'http://www.w3.org/2000/svg', MATCH = 'rgb(230,0,230)';\n"
	"function $(id) { return document.getElementById(id); }\n"
	"function wide(c) {\n"
	"  return (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c !== 0x303f) ||\n"
	"    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||\n"
	"    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||\n"
	"    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||\n"
	"    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd);\n"
	"}\n"
	"function init() {\n"
	"  var box = $('frames');\n"
	"  if (!box) return;\n"
	"  var total = +box.getAttribute('data-total'), X0 = 10 * box.getAttribute('data-x0'),\n"
	"    W = 10 * box.getAttribute('data-w'), CW = +box.getAttribute('data-cw10'),\n"
	"    PAD = +box.getAttribute('data-pad10'), TY = +box.getAttribute('data-ty');\n"
	"  var details = $('details'), matched = $('matched'), unz = $('unzoom'), srch = $('search');\n"
	"  var nodes = [], byG = new Map(), zoomed = null, term = null;\n"
	"  var gs = box.getElementsByTagName('g');\n"
	"  for (var i = 0; i < gs.length; i++) {\n"
	"    var g = gs[i], r = g.getElementsByTagName('rect')[0];\n"
	"    var info = g.getElementsByTagName('title')[0].textContent;\n"
	"    var nd = { g: g, r: r, t: g.getElementsByTagName('text')[0] || null,\n"
	"      s: +g.getAttribute('data-x'), n: +g.getAttribute('data-n'), y: +r.getAttribute('y'),\n"
	"      fill: r.getAttribute('fill'), info: info, root: i === 0,\n"
	"      label: info.replace(/ \\(\\d+ samples, [0-9.]+%\\)$/, '') };\n"
	"    nodes.push(nd);\n"
	"    byG.set(g, nd);\n"
	"  }\n"
	"  function fmt(v) { return v % 10 ? (v / 10).toFixed(1) : String(v / 10); }\n"
	"  function fit(label, w) {\n"
	"    if (w < 2 * PAD) return '';\n"
	"    var max = Math.floor((w - 2 * PAD) / CW);\n"
	"    if (max < 3) return '';\n"
	"    var cs = Array.from(label), cols = 0, cut = -1;\n"
	"    for (var i = 0; i < cs.length; i++) {\n"
	"      var c = wide(cs[i].codePointAt(0)) ? 2 : 1;\n"
	"      if (cut < 0 && cols + c > max - 2) cut = i;\n"
	"      cols += c;\n"
	"      if (cols > max) return cs.slice(0, cut).join('') + '..';\n"
	"    }\n"
	"    return label;\n"
	"  }\n"
	"  function pos(v, zs, zn) { return X0 + Math.floor(((v - zs) * W + Math.floor(zn / 2)) / zn); }\n"
	"  function place(nd, x, w) {\n"
	"    nd.r.setAttribute('x', fmt(x));\n"
	"    nd.r.setAttribute('width', fmt(w));\n"
	"    var s = fit(nd.label, w);\n"
	"    if (!s) {\n"
	"      if (nd.t) nd.g.removeChild(nd.t);\n"
	"      nd.t = null;\n"
	"      return;\n"
	"    }\n"
	"    if (!nd.t) {\n"
	"      nd.t = document.createElementNS(NS, 'text');\n"
	"      nd.t.setAttribute('y', fmt(10 * nd.y + TY));\n"
	"      nd.g.appendChild(nd.t);\n"
	"    }\n"
	"    nd.t.setAttribute('x', fmt(x + PAD));\n"
	"    nd.t.textContent = s;\n"
	"  }\n"
	"  function span(nd, zs, zn) {\n"
	"    var a = pos(nd.s, zs, zn);\n"
	"    place(nd, a, pos(nd.s + nd.n, zs, zn) - a);\n"
	"  }\n"
	"  function zoom(z) {\n"
	"    if (z.root) return unzoom();\n"
	"    zoomed = z;\n"
	"    unz.classList.remove('off');\n"
	"    nodes.forEach(function (nd) {\n"
	"      var cl = nd.g.classList;\n"
	"      if (nd.y <= z.y && nd.s >= z.s && nd.s + nd.n <= z.s + z.n) {\n"
	"        cl.remove('hide', 'parent');\n"
	"        span(nd, z.s, z.n);\n"
	"      } else if (nd.y > z.y && nd.s <= z.s && nd.s + nd.n >= z.s + z.n) {\n"
	"        cl.remove('hide');\n"
	"        cl.add('parent');\n"
	"        place(nd, X0, W);\n"
	"      } else {\n"
	"        cl.add('hide');\n"
	"      }\n"
	"    });\n"
	"  }\n"
	"  function unzoom() {\n"
	"    zoomed = null;\n"
	"    unz.classList.add('off');\n"
	"    nodes.forEach(function (nd) {\n"
	"      nd.g.classList.remove('hide', 'parent');\n"
	"      span(nd, 0, total);\n"
	"    });\n"
	"  }\n"
	"  function clearSearch() {\n"
	"    term = null;\n"
	"    nodes.forEach(function (nd) { nd.r.setAttribute('fill', nd.fill); });\n"
	"    matched.textContent = '';\n"
	"    srch.textContent = 'Search';\n"
	"  }\n"
	"  function search(t) {\n"
	"    if (!t) return clearSearch();\n"
	"    var re;\n"
	"    try { re = new RegExp(t); } catch (e) { alert('Not a regular expression: ' + e.message); return; }\n"
	"    term = t;\n"
	"    var hits = [];\n"
	"    nodes.forEach(function (nd) {\n"
	"      var m = !nd.root && re.test(nd.label);\n"
	"      nd.r.setAttribute('fill', m ? MATCH : nd.fill);\n"
	"      if (m) hits.push(nd);\n"
	"    });\n"
	"    /* samples under any match, each counted once: merge the spans */\n"
	"    hits.sort(function (a, b) { return a.s - b.s || b.n - a.n; });\n"
	"    var sum = 0, end = 0;\n"
	"    hits.forEach(function (nd) {\n"
	"      var e = nd.s + nd.n;\n"
	"      if (e > end) { sum += e - Math.max(nd.s, end); end = e; }\n"
	"    });\n"
	"    matched.textContent = 'Matched: ' + (total ? 100 * sum / total : 0).toFixed(2) + '%';\n"
	"    srch.textContent = 'Reset Search';\n"
	"  }\n"
	"  function ask() {\n"
	"    var t = prompt('Search for (a regular expression):', term || '');\n"
	"    if (t !== null) search(t);\n"
	"  }\n"
	"  function frameOf(e) {\n"
	"    var g = e.target.closest ? e.target.closest('g') : null;\n"
	"    return g ? byG.get(g) : undefined;\n"
	"  }\n"
	"  box.addEventListener('click', function (e) {\n"
	"    var nd = frameOf(e);\n"
	"    if (nd) zoom(nd);\n"
	"  });\n"
	"  box.addEventListener('mouseover', function (e) {\n"
	"    var nd = frameOf(e);\n"
	"    details.textContent = nd ? nd.info : ' ';\n"
	"  });\n"
	"  box.addEventListener('mouseout', function () { details.textContent = ' '; });\n"
	"  unz.addEventListener('click', function () { if (zoomed) unzoom(); });\n"
	"  srch.addEventListener('click', function () { if (term !== null) clearSearch(); else ask(); });\n"
	"  document.addEventListener('keydown', function (e) {\n"
	"    if (e.key === 'F3' || ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F'))) {\n"
	"      e.preventDefault();\n"
	"      ask();\n"
	"    } else if (e.key === 'Escape') {\n"
	"      if (term !== null) clearSearch();\n"
	"      else if (zoomed) unzoom();\n"
	"    }\n"
	"  });\n"
	"}\n"
	"if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);\n"
	"else init();\n"
	"})();\n";

/* The baseline of a frame's label below the top of its box, tenths. */
enum { TEXT_DY10 = 115 };

/* s in at most cols monospace columns */
static int put_clipped(FILE *out, const char *s, int64_t cols)
{
	return put_fitted(out, s, cols * CHAR_W10 + 2 * TEXT_PAD10);
}

static int put_header(FILE *out, const char *title, const char *subtitle, int64_t height,
		      int interactive)
{
	fprintf(out,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		"height=\"%" PRId64 "\" viewBox=\"0 0 %d %" PRId64 "\">\n"
		"<!-- Flame graph by pyprobe. Click a frame to zoom, Ctrl-F to search, "
		"Escape to reset. -->\n"
		"<defs>\n"
		"<linearGradient id=\"bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
		"<stop stop-color=\"#f7f7f7\" offset=\"0\"/><stop stop-color=\"#e8e8e0\" "
		"offset=\"1\"/></linearGradient>\n"
		"</defs>\n"
		"<style type=\"text/css\"><![CDATA[\n%s]]></style>\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%" PRId64 "\" fill=\"url(#bg)\"/>\n",
		IMG_W, height, IMG_W, height, style, IMG_W, height);
	fprintf(out, "<text id=\"title\" x=\"%d\" y=\"24\">", IMG_W / 2);
	/* the title's font is 17 px, proportional: ~10 px a character */
	if (put_clipped(out, title, FRAMES_W / 10) != 0)
		return -1;
	fputs("</text>\n", out);
	if (*subtitle) {
		fprintf(out, "<text id=\"subtitle\" x=\"%d\" y=\"44\">", IMG_W / 2);
		if (put_clipped(out, subtitle, FRAMES_W * 10 / CHAR_W10) != 0)
			return -1;
		fputs("</text>\n", out);
	}
	if (interactive)
		fprintf(out,
			"<text id=\"unzoom\" class=\"ctl off\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
			"<text id=\"search\" class=\"ctl\" x=\"%d\" y=\"24\" "
			"style=\"text-anchor:end\">Search</text>\n",
			PAD_X, IMG_W - PAD_X);
	return 0;
}

/* A Python frame's colour in a differential flame graph, and its change
 * for the tooltip (*has: whether there is one). */
static struct rgb tint_colour(const struct pp_render_tint *t, const struct pp_view_frame *f,
			      double *change, int *has)
{
	int sig = 0;
	*has = t->of(t->ctx, f->function ? f->function : "?", f->file ? f->file : "", change,
		     &sig) == 0;
	if (!*has)
		return (struct rgb){221, 221, 221};
	double k = *change / (t->scale_pct > 0 ? t->scale_pct : 10.0);
	if (k < 0)
		k = -k;
	if (k > 1)
		k = 1;
	if (!sig)
		k *= 0.3; /* noise: a tint, never a statement */
	unsigned a = (unsigned)(k * 200.0), b = (unsigned)(k * 140.0);
	return *change >= 0 ? (struct rgb){255, 255 - a, 255 - a}
			    : (struct rgb){255 - a, 255 - b, 255};
}

static void put_frame(FILE *out, const struct fg *g, uint32_t id, uint64_t total, int64_t ybase,
		      const struct pp_render_tint *tint)
{
	const struct node *nd = &g->nodes[id];
	const char *text = id ? g->labels[nd->rank].text : "all";
	enum family fam = id ? family_of(g->labels[nd->rank].f) : FAM_ROOT;
	struct rgb c = colour(fam, id ? g->labels[nd->rank].f->function : "all");
	double change = 0;
	int has = 0;
	if (tint && id && g->labels[nd->rank].f->kind == PP_FRAME_PYTHON)
		c = tint_colour(tint, g->labels[nd->rank].f, &change, &has);
	int64_t x10 = PAD_X * 10 + (int64_t)((nd->start * FRAMES_W * 10 + total / 2) / total);
	int64_t e10 = PAD_X * 10 +
		      (int64_t)(((nd->start + nd->count) * FRAMES_W * 10 + total / 2) / total);
	int64_t y = ybase - (int64_t)(nd->depth + 1) * FRAME_H;

	fprintf(out, "<g data-x=\"%" PRIu64 "\" data-n=\"%" PRIu64 "\"><title>", nd->start,
		nd->count);
	put_esc(out, text, strlen(text));
	fprintf(out, " (%" PRIu64 " samples, ", nd->count);
	put_percent(out, nd->count, total);
	if (has)
		fprintf(out, "%%, %+.1f", change); /* (the '%' follows) */
	fputs("%)</title><rect x=\"", out);
	pp_svg_tenths(out, x10);
	fprintf(out, "\" y=\"%" PRId64 "\" width=\"", y);
	pp_svg_tenths(out, e10 - x10);
	fprintf(out, "\" height=\"%d\" rx=\"2\" fill=\"rgb(%u,%u,%u)\"/>", FRAME_H - 1, c.r, c.g,
		c.b);
	int dots;
	size_t n = fit_text(text, e10 - x10, &dots);
	if (n) {
		fputs("<text x=\"", out);
		pp_svg_tenths(out, x10 + TEXT_PAD10);
		fputs("\" y=\"", out);
		pp_svg_tenths(out, y * 10 + TEXT_DY10);
		fputs("\">", out);
		put_esc(out, text, n);
		fputs(dots ? "..</text>" : "</text>", out);
	}
	fputs("</g>\n", out);
}

/* Not drawn: narrower than 0.1 px (flamegraph.pl's default --minwidth). */
static int too_narrow(uint64_t count, uint64_t total)
{
	return count * FRAMES_W * 10 < total;
}

/* Every drawn frame, depth first, children in label order. */
static void put_frames(FILE *out, struct fg *g, uint64_t total, int64_t ybase, int *seen,
		       const struct pp_render_tint *tint)
{
	/* next[d]: the next child to visit of the current frame at depth d,
	 * as an index into its run of kids */
	uint32_t *next = g->stack, cur = 0;
	size_t top = 0;
	put_frame(out, g, 0, total, ybase, tint);
	next[0] = 0;
	for (;;) {
		const struct node *nd = &g->nodes[cur];
		if (next[top] < nd->nkids) {
			uint32_t c = g->kids[nd->kids + next[top]++];
			if (too_narrow(g->nodes[c].count, total))
				continue; /* and everything above it: no wider */
			seen[family_of(g->labels[g->nodes[c].rank].f)] = 1;
			put_frame(out, g, c, total, ybase, tint);
			cur = c;
			next[++top] = 0;
		} else {
			if (top == 0)
				break;
			cur = nd->parent;
			top--;
		}
	}
}

/* The deepest drawn row. */
static uint32_t drawn_depth(const struct fg *g, uint64_t total)
{
	uint32_t d = 0;
	for (size_t id = 1; id < g->nnodes; id++)
		if (g->nodes[id].depth > d && !too_narrow(g->nodes[id].count, total))
			d = g->nodes[id].depth;
	return d;
}

static void put_legend(FILE *out, const int *seen, int64_t y)
{
	static const enum family order[] = {FAM_USER,    FAM_STDLIB,  FAM_THIRD,    FAM_PROCESS,
					    FAM_THREAD,  FAM_GILWAIT, FAM_MARKER,   FAM_CHANGING,
					    FAM_UNREADABLE, FAM_NATIVE};
	int64_t x10 = PAD_X * 10;
	fprintf(out, "<g id=\"legend\">");
	for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
		enum family f = order[i];
		if (!seen[f] && f > FAM_THIRD)
			continue;
		/* the Python families show a middle shade */
		struct rgb c = f == FAM_USER     ? (struct rgb){240, 158, 60}
			       : f == FAM_STDLIB ? (struct rgb){110, 168, 230}
			       : f == FAM_THIRD  ? (struct rgb){122, 205, 88}
						 : colour(f, "");
		fputs("<rect x=\"", out);
		pp_svg_tenths(out, x10);
		fprintf(out, "\" y=\"%" PRId64 "\" width=\"12\" height=\"12\" rx=\"2\" "
			     "fill=\"rgb(%u,%u,%u)\"/><text x=\"", y - 10, c.r, c.g, c.b);
		pp_svg_tenths(out, x10 + 170);
		fprintf(out, "\" y=\"%" PRId64 "\">%s</text>", y, family_name[f]);
		x10 += 170 + (int64_t)strlen(family_name[f]) * CHAR_W10 + 200;
	}
	fputs("</g>\n", out);
}

/* "cmdline · Python 3.x · 12.34 s · N samples (of M) at R Hz", and
 * " · P% cut short" when stacks moved while they were read: [changing]
 * boxes then stand for time spent inside the frame under them. */
static char *default_subtitle(const struct pp_profile *p, size_t kept)
{
	const struct pp_profile_meta *m = pp_profile_meta_c(p);
	size_t total;
	pp_profile_samples(p, &total);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	const char *sep = "";
	const char *cmd = pp_profile_string(p, m->cmdline);
	if (*cmd) {
		fputs(cmd, f);
		sep = " \xC2\xB7 ";
	} else if (m->pid) {
		fprintf(f, "pid %" PRIu32, m->pid);
		sep = " \xC2\xB7 ";
	}
	const char *ver = pp_profile_string(p, m->python_version);
	if (*ver) {
		fprintf(f, "%sPython %s", sep, ver);
		sep = " \xC2\xB7 ";
	}
	if (m->duration_ns) {
		uint64_t cs = (m->duration_ns + 5000000) / 10000000;
		fprintf(f, "%s%" PRIu64 ".%02" PRIu64 " s", sep, cs / 100, cs % 100);
		sep = " \xC2\xB7 ";
	}
	fprintf(f, "%s%zu sample%s", sep, kept, kept == 1 ? "" : "s");
	if (kept != total)
		fprintf(f, " (of %zu)", total);
	/* the rate achieved: what the samples' times rest on */
	if (m->rate_hz) {
		fputs(" at ", f);
		pp_svg_tenths(f, (int64_t)(pp_profile_rate_achieved(m) * 10 + 0.5));
		fputs(" Hz", f);
	}
	if (m->samples_cut && total)
		fprintf(f, " \xC2\xB7 %.1f%% cut short",
			100.0 * (double)m->samples_cut / (double)(total + m->samples_dropped));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int pp_render_flamegraph(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out)
{
	static const struct pp_render_opts defaults = {.title = NULL};
	if (!o)
		o = &defaults;
	struct fg g = {0};
	char *sub = NULL;
	int rc = -1, seen[FAM_COUNT] = {0};
	struct pp_view *v = pp_view_new(p, &o->view);
	if (!v)
		goto nomem;
	g.capnodes = 1024;
	g.nodes = calloc(g.capnodes, sizeof(*g.nodes));
	if (!g.nodes || build_labels(&g, v, o) != 0)
		goto nomem;
	g.nodes[0] = (struct node){0, 0, UINT32_MAX, UINT32_MAX, 0, 0, 0};
	g.nnodes = 1;
	if (pp_view_each(v, add_sample, &g) != 0 || lay_out(&g) != 0)
		goto nomem;
	uint64_t total = g.nodes[0].count;

	const char *title = o->title;
	if (!title) {
		title = pp_profile_string(p, pp_profile_meta_c(p)->title);
		if (!*title)
			title = "pyprobe";
	}
	const char *subtitle = o->subtitle;
	if (!subtitle) {
		if (!(sub = default_subtitle(p, pp_view_nsamples(v))))
			goto nomem;
		subtitle = sub;
	}

	if (total == 0) {
		int64_t h = HEAD_H + 120;
		if (put_header(out, title, subtitle, h, 0) != 0)
			goto nomem;
		fprintf(out, "<text id=\"empty\" x=\"%d\" y=\"%d\">No samples</text>\n</svg>\n",
			IMG_W / 2, HEAD_H + 50);
	} else {
		int64_t ybase = HEAD_H + ((int64_t)drawn_depth(&g, total) + 1) * FRAME_H;
		if (put_header(out, title, subtitle, ybase + FOOT_H, 1) != 0)
			goto nomem;
		fprintf(out,
			"<g id=\"frames\" data-total=\"%" PRIu64 "\" data-x0=\"%d\" data-w=\"%d\" "
			"data-cw10=\"%d\" data-pad10=\"%d\" data-ty=\"%d\">\n",
			total, PAD_X, FRAMES_W, CHAR_W10, TEXT_PAD10, TEXT_DY10);
		put_frames(out, &g, total, ybase, seen, o->tint);
		fputs("</g>\n", out);
		fprintf(out,
			"<text id=\"details\" x=\"%d\" y=\"%" PRId64 "\"> </text>\n"
			"<text id=\"matched\" x=\"%d\" y=\"%" PRId64 "\"></text>\n",
			PAD_X, ybase + 20, IMG_W - PAD_X, ybase + 20);
		if (o->tint)
			fprintf(out, "<text id=\"legend\" x=\"%d\" y=\"%" PRId64 "\">red: slower, "
				"blue: faster, deeper for larger changes (full at %g%%); pale: not "
				"significant; grey: not judged</text>\n", PAD_X, ybase + 44,
				o->tint->scale_pct);
		else
			put_legend(out, seen, ybase + 44);
		fprintf(out, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n</svg>\n",
			script);
	}
	rc = 0;
	goto done;
nomem:
	errno = ENOMEM;
done:
	free(sub);
	fg_free(&g);
	pp_view_free(v);
	if (rc == 0 && (fflush(out) != 0 || ferror(out)))
		rc = -1;
	return rc;
}
