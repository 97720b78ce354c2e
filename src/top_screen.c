/* See top_screen.h. */
#include "top_screen.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../render/text_str.h"

/* ---- the terminal -------------------------------------------------------- */

static struct termios saved;
static volatile int entered; /* 1 while the terminal is in our modes */

void pp_top_term_leave(void)
{
	if (!entered)
		return;
	entered = 0;
	/* cursor back, main screen back, modes back: in one write */
	static const char restore[] = "\033[?25h\033[?1049l";
	ssize_t w = write(1, restore, sizeof restore - 1);
	(void)w;
	tcsetattr(0, TCSAFLUSH, &saved);
}

int pp_top_term_enter(void)
{
	static int registered;
	if (!isatty(0) || !isatty(1) || tcgetattr(0, &saved) != 0)
		return -1;
	struct termios raw = saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (!registered && atexit(pp_top_term_leave) == 0)
		registered = 1;
	if (tcsetattr(0, TCSAFLUSH, &raw) != 0)
		return -1;
	entered = 1;
	static const char enter[] = "\033[?1049h\033[?25l\033[H\033[2J";
	ssize_t w = write(1, enter, sizeof enter - 1);
	(void)w;
	return 0;
}

int pp_top_term_key(void)
{
	unsigned char c;
	if (!entered)
		return -1;
	return read(0, &c, 1) == 1 ? c : -1;
}

void pp_top_term_size(int *rows, int *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* ---- the table ----------------------------------------------------------- */

/* A line of text being built, cut at a width (in bytes: names are mostly
 * ASCII; a cut UTF-8 sequence is harmless to a terminal). */
struct line {
	char buf[1024];
	size_t len, width;
};

static void add(struct line *l, const char *s)
{
	size_t limit = l->width < sizeof l->buf - 1 ? l->width : sizeof l->buf - 1;
	if (l->len >= limit)
		return;
	size_t room = limit - l->len, n = strlen(s);
	if (n > room)
		n = room;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

/* A target's string, made safe (text_str.h), into the line. */
static void add_safe(struct line *l, const char *s)
{
	char *t = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&t, &n);
	if (!m)
		return;
	pp_text_str(s, 0, m);
	if (fclose(m) == 0 && t)
		add(l, t);
	free(t);
}

static void emit(FILE *out, struct line *l, const struct pp_top_frame *f)
{
	fputs(l->buf, out);
	fputs(f->screen ? "\033[K\r\n" : "\n", out);
	l->len = 0;
	l->buf[0] = '\0';
}

static const char *const sort_names[] = {"%Own", "%Total", "OwnTime", "TotalTime"};

void pp_top_draw(FILE *out, const struct pp_top_snapshot *s, const struct pp_profile *p,
		 const struct pp_top_frame *f)
{
	/* a screen's lines are cut at its width; plain text is not cut */
	struct line l = {.width = !f->screen ? SIZE_MAX : f->cols > 20 ? (size_t)f->cols : 80};
	char tmp[256];
	int used = 0, budget = f->rows > 0 ? f->rows : 1 << 30;
	if (f->screen)
		fputs("\033[H", out);

	add(&l, "pyprobe top: ");
	add_safe(&l, f->title);
	emit(out, &l, f);
	snprintf(tmp, sizeof tmp, "window %.1f s (%.1f s sampled), %.0f Hz, %" PRIu64
		 " samples; sorted by %s",
		 f->window_s, (double)s->span_ns / 1e9, f->rate_hz, s->samples,
		 sort_names[f->sort]);
	add(&l, tmp);
	emit(out, &l, f);
	used += 2;

	/* the threads, busiest first (at most 5), with their GIL share */
	size_t order[5], nshown = 0;
	for (size_t pick = 0; pick < 5; pick++) {
		size_t best = SIZE_MAX;
		for (size_t t = 0; t < s->nthreads; t++) {
			bool taken = false;
			for (size_t k = 0; k < nshown; k++)
				taken |= order[k] == t;
			if (!taken && s->threads[t].samples &&
			    (best == SIZE_MAX || s->threads[t].samples > s->threads[best].samples))
				best = t;
		}
		if (best == SIZE_MAX)
			break;
		order[nshown++] = best;
	}
	size_t nthreads;
	const struct pp_pthread *th = pp_profile_threads(p, &nthreads);
	for (size_t k = 0; k < nshown && used < budget - 3; k++) {
		const struct pp_top_thread *t = &s->threads[order[k]];
		double share = s->samples ? 100.0 * (double)t->samples / (double)s->samples : 0;
		snprintf(tmp, sizeof tmp, "thread %-8" PRIu64 " %5.1f%% of samples, GIL ",
			 t->thread < nthreads ? th[t->thread].native_id : 0, share);
		add(&l, tmp);
		if (t->gil_known)
			snprintf(tmp, sizeof tmp, "held %5.1f%%  ",
				 100.0 * (double)t->gil_held / (double)t->gil_known);
		else
			snprintf(tmp, sizeof tmp, "unknown      ");
		add(&l, tmp);
		if (t->name)
			add_safe(&l, pp_profile_string(p, t->name));
		emit(out, &l, f);
		used++;
	}
	emit(out, &l, f);
	add(&l, "   %Own  %Total  OwnTime  TotalTime  Function (file)");
	emit(out, &l, f);
	used += 2;

	double per = f->rate_hz > 0 ? 1.0 / f->rate_hz : 0.01;
	int tail = (f->screen ? 1 : 0) + (f->status ? 1 : 0);
	for (size_t i = 0; i < s->nfunctions && used < budget - tail; i++) {
		const struct pp_top_function *fn = &s->functions[i];
		double n = s->samples ? (double)s->samples : 1;
		snprintf(tmp, sizeof tmp, "%6.1f%% %6.1f%% %7.2fs %9.2fs  ",
			 100.0 * (double)fn->own / n, 100.0 * (double)fn->total / n,
			 (double)fn->own * per, (double)fn->total * per);
		add(&l, tmp);
		add_safe(&l, fn->function);
		if (*fn->file) {
			add(&l, " (");
			add_safe(&l, fn->file);
			add(&l, ")");
		}
		emit(out, &l, f);
		used++;
	}
	if (f->screen) {
		/* blank the rest, then the keys on the last line */
		fputs("\033[J", out);
		fprintf(out, "\033[%d;1H", f->rows > 0 ? f->rows - (f->status ? 1 : 0) : 1);
		add(&l, "keys: 1 %Own  2 %Total  3 OwnTime  4 TotalTime  q quit");
		fputs(l.buf, out);
		fputs("\033[K", out);
		l.len = 0;
		l.buf[0] = '\0';
		if (f->status) {
			fputs("\r\n", out);
			add_safe(&l, f->status);
			fputs(l.buf, out);
			fputs("\033[K", out);
		}
	} else if (f->status) {
		add_safe(&l, f->status);
		emit(out, &l, f);
	}
	fflush(out);
}
