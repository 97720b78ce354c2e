/* Collapsed stacks, the input of flamegraph.pl (and of inferno, speedscope,
 * ...): one line per distinct stack, "root;...;leaf COUNT", sorted bytewise
 * (as `LC_ALL=C sort`), newline-terminated. An empty view writes nothing.
 *
 * Two passes: the view's samples are merged by their list of view frame
 * ids (cheap: no text per sample), then each distinct list becomes its
 * text once. Lists that read the same (two frames can share a label)
 * merge again as text, so every line in the output is unique.
 */
#include "render.h"
#include "stream_end.h"
#include "frame_label.h"
#include "stack_set.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* pp_view_fn: count the sample under its list of view frame ids. */
static int add_sample(const struct pp_view_frame *const *f, size_t n,
		      const struct pp_psample *s, void *ctx)
{
	(void)s;
	return pp_stack_set_add(ctx, f, n) < 0 ? -1 : 0;
}

/* A growable string. */
struct sbuf {
	char *s;
	size_t len, cap;
};

static int sbuf_reserve(struct sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + more + 1)
		ncap *= 2;
	char *ns = realloc(b->s, ncap);
	if (!ns)
		return -1;
	b->s = ns;
	b->cap = ncap;
	return 0;
}

/* Appends the frame's label. The format has two separators, ';' between
 * frames and the newline between stacks, and no escape: a ';' in a label
 * (a file name can hold one) becomes ':', and every control character
 * (newline, tab, ESC, DEL, ..., and U+0000, the bytes C0 80 - utf8.h)
 * becomes '?', so one sample stays one line of the right depth. Other
 * bytes, UTF-8 or not, pass through. */
static int append_label(struct sbuf *b, const struct pp_view_frame *f)
{
	size_t need = pp_frame_label(f, b->s + b->len, b->cap - b->len);
	if (b->len + need + 1 > b->cap) {
		if (sbuf_reserve(b, need) != 0)
			return -1;
		pp_frame_label(f, b->s + b->len, b->cap - b->len);
	}
	unsigned char *u = (unsigned char *)b->s;
	size_t o = b->len, end = b->len + need;
	for (size_t i = b->len; i < end; i++) {
		unsigned char c = u[i];
		if (pp_utf8_is_nul(u + i, end - i)) {
			c = '?';
			i++; /* two bytes, one character */
		} else if (c == ';') {
			c = ':';
		} else if (c < 0x20 || c == 0x7f) {
			c = '?';
		}
		u[o++] = c;
	}
	b->len = o;
	return 0;
}

struct line {
	char *text;
	uint64_t count;
};

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->text, ((const struct line *)b)->text);
}

/* The stacks as text, merged and turned into sorted "stack COUNT" lines;
 * returns how many, or -1. */
static long make_lines(const struct pp_view *v, const struct pp_stack_set *ps, struct line *lines)
{
	size_t n = 0;
	struct sbuf b = {0};
	if (sbuf_reserve(&b, 256) != 0)
		return -1;
	for (size_t i = 0; i < ps->nseqs; i++) {
		const struct pp_stack_seq *q = ps->seqs[i];
		b.len = 0;
		for (size_t k = 0; k < q->n; k++) {
			if (k) {
				if (sbuf_reserve(&b, 1) != 0)
					goto fail;
				b.s[b.len++] = ';';
			}
			if (append_label(&b, pp_view_frame(v, q->ids[k])) != 0)
				goto fail;
		}
		b.s[b.len] = '\0';
		if (!(lines[n].text = strdup(b.s)))
			goto fail;
		lines[n++].count = q->count;
	}
	free(b.s);
	b.s = NULL;

	/* Merge stacks that read the same. */
	qsort(lines, n, sizeof(*lines), line_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !strcmp(lines[m - 1].text, lines[i].text)) {
			lines[m - 1].count += lines[i].count;
			free(lines[i].text);
		} else {
			lines[m++] = lines[i];
		}
	}
	n = m;

	/* Whole lines, then sorted again as whole lines: `sort` compares the
	 * count too when one stack is a prefix of another up to a space. */
	for (size_t i = 0; i < n; i++) {
		char *t;
		if (asprintf(&t, "%s %" PRIu64, lines[i].text, lines[i].count) < 0)
			goto fail;
		free(lines[i].text);
		lines[i].text = t;
	}
	qsort(lines, n, sizeof(*lines), line_cmp);
	return (long)n;
fail:
	free(b.s);
	for (size_t i = 0; i < n; i++)
		free(lines[i].text);
	return -1;
}

int pp_render_collapsed(const struct pp_profile *p, const struct pp_render_opts *o, FILE *out)
{
	struct pp_stack_set ps = {0};
	struct line *lines = NULL;
	long nlines = -1;
	struct pp_view *v = pp_view_new(p, &o->view);
	if (v && pp_view_each(v, add_sample, &ps) == 0 &&
	    (lines = calloc(ps.nseqs ? ps.nseqs : 1, sizeof(*lines))))
		nlines = make_lines(v, &ps, lines);

	for (long i = 0; i < nlines; i++) {
		if (!ferror(out))
			fprintf(out, "%s\n", lines[i].text);
		free(lines[i].text);
	}
	free(lines);
	pp_stack_set_free(&ps);
	pp_view_free(v);

	if (nlines < 0) {
		errno = ENOMEM;
		return -1;
	}
	return pp_stream_end(out);
}
