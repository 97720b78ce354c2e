/* pyprobe top's output: the table of a snapshot (top_window.h), drawn over
 * the whole screen on a terminal or printed as plain text otherwise, and
 * the terminal's modes while it is drawn on. */
#ifndef PYPROBE_TOP_SCREEN_H
#define PYPROBE_TOP_SCREEN_H

#include <stdbool.h>
#include <stdio.h>

#include "profile.h"
#include "top_window.h"

struct pp_top_frame {
	const char *title;     /* "PID 1234: python3 app.py" */
	double window_s;       /* the window asked for */
	double rate_hz;        /* what a sample stands for: 1 / rate seconds */
	enum pp_top_sort sort;
	int rows, cols;        /* the terminal's size; rows 0: print every row */
	bool screen;           /* a live screen (escapes, keys line) or plain text */
	const char *status;    /* a last line ("PID 1234 exited"), or NULL */
};

/* Draw (screen) or print (plain) the snapshot. Names from the target are
 * made safe for a terminal and cut to the width. */
void pp_top_draw(FILE *out, const struct pp_top_snapshot *s, const struct pp_profile *p,
		 const struct pp_top_frame *f);

/* The terminal: the alternate screen, no cursor, keys read one at a time
 * without echo (signals still work: Ctrl-C is SIGINT). pp_top_term_enter
 * returns 0, or -1 when standard input or output is not a terminal.
 * pp_top_term_leave restores what enter changed; safe to call more than
 * once and from an atexit handler (enter registers one). */
int pp_top_term_enter(void);
void pp_top_term_leave(void);
/* A key pressed since the last call, or -1 (never blocks). */
int pp_top_term_key(void);
/* The terminal's size; 24x80 when it cannot be read. */
void pp_top_term_size(int *rows, int *cols);

#endif
