/* `pyprobe dump --json`: the dump for programs. The field names and enum
 * strings are a contract (see docs); the layout is pretty-printed with one
 * frame per line so that two dumps diff line by line.
 */
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 if it is not
 * one; then *bad is the length of its maximal ill-formed prefix (>= 1), so
 * that a truncated sequence becomes a single U+FFFD, the way the Unicode
 * standard recommends and Python's decode("utf-8", "replace") does.
 * Ranges from Unicode Table 3-7: no overlongs, no surrogates, nothing
 * above U+10FFFF. */
static size_t utf8_seq(const unsigned char *p, size_t *bad)
{
	unsigned char c = p[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*bad = 1;
		return 0;
	}
	/* The string's terminating NUL is never a continuation byte, so these
	 * reads stop at it. */
	if (p[1] < lo || p[1] > hi) {
		*bad = 1;
		return 0;
	}
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			*bad = i;
			return 0;
		}
	}
	return n;
}

/* A JSON string (RFC 8259), or null. Non-ASCII passes through as UTF-8;
 * bytes that are not UTF-8 become U+FFFD so the document stays valid. */
static void put_str(const char *s, FILE *out)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned char c = *p;
		size_t bad = 0, n;
		switch (c) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			if (c < 0x20) {
				fprintf(out, "\\u%04x", c);
				break;
			}
			n = utf8_seq(p, &bad);
			if (n == 0) {
				fputs("\xef\xbf\xbd", out); /* U+FFFD */
				p += bad;
				continue;
			}
			fwrite(p, 1, n, out);
			p += n;
			continue;
		}
		p++;
	}
	fputc('"', out);
}

static void put_frame(const struct pp_dump_frame *f, FILE *out)
{
	fputs("{\"function\": ", out);
	put_str(f->function, out);
	fputs(", \"name\": ", out);
	put_str(f->name, out);
	fputs(", \"file\": ", out);
	put_str(f->file, out);
	fprintf(out, ", \"line\": %d}", f->line);
}

static void put_thread(const struct pp_dump_thread *t, FILE *out)
{
	fprintf(out, "    {\n      \"native_id\": %" PRIu64 ",\n", t->native_id);
	fputs("      \"name\": ", out);
	put_str(t->name, out);
	fprintf(out, ",\n      \"interpreter_id\": %" PRId64 ",\n", t->interpreter_id);
	fprintf(out, "      \"gil\": \"%s\",\n", pp_dump_gil_name(t->gil));
	fprintf(out, "      \"os_state\": \"%s\",\n", pp_dump_os_name(t->os_state));
	fputs("      \"syscall\": ", out);
	put_str(t->syscall, out);
	fputs(",\n", out);
	/* Only when set: a consumer that ignores it still gets valid frames,
	 * and "torn" sits before the frames so a reader sees it first. */
	if (t->torn)
		fputs("      \"torn\": true,\n", out);
	if (t->nframes == 0) {
		fputs("      \"frames\": []\n    }", out);
		return;
	}
	fputs("      \"frames\": [\n", out);
	for (size_t i = 0; i < t->nframes; i++) {
		fputs("        ", out);
		put_frame(&t->frames[i], out);
		fputs(i + 1 < t->nframes ? ",\n" : "\n", out);
	}
	fputs("      ]\n    }", out);
}

int pp_render_dump_json(const struct pp_dump *d, FILE *out)
{
	fprintf(out, "{\n  \"pid\": %d,\n  \"cmdline\": ", d->pid);
	put_str(d->cmdline, out);
	fputs(",\n  \"python\": {\n    \"version\": ", out);
	put_str(d->version, out);
	fputs(",\n    \"executable\": ", out);
	put_str(d->executable, out);
	fputs(",\n    \"libpython\": ", out);
	put_str(d->libpython, out);
	fputs("\n  },\n", out);

	if (d->nthreads == 0) {
		fputs("  \"threads\": []\n", out);
	} else {
		fputs("  \"threads\": [\n", out);
		for (size_t i = 0; i < d->nthreads; i++) {
			/* Stop early on a dead stream; the result is -1 anyway. */
			if (ferror(out))
				break;
			put_thread(&d->threads[i], out);
			fputs(i + 1 < d->nthreads ? ",\n" : "\n", out);
		}
		fputs("  ]\n", out);
	}
	fputs("}\n", out);
	if (fflush(out) == EOF || ferror(out)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
