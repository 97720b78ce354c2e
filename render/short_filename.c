/* See short_filename.h. */
#include "short_filename.h"

#include <string.h>

/* The end of the last occurrence of needle in s that is followed by
 * something, or NULL. */
static const char *after_last(const char *s, const char *needle)
{
	const char *best = NULL;
	size_t n = strlen(needle);
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
		if (p[n])
			best = p + n;
	return best;
}

/* The end of the last `/lib/pythonX.Y/` or `/lib64/pythonX.Y/` (X.Y digits,
 * then an optional ABI letter such as `t`) followed by something, or NULL. */
static const char *after_stdlib(const char *s)
{
	const char *best = NULL;
	for (const char *p = s; (p = strstr(p, "/python")) != NULL; p++) {
		if (!((p - s >= 4 && !memcmp(p - 4, "/lib", 4)) ||
		      (p - s >= 6 && !memcmp(p - 6, "/lib64", 6))))
			continue;
		const char *q = p + 7;
		if (*q < '0' || *q > '9')
			continue;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q++ != '.' || *q < '0' || *q > '9')
			continue;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q >= 'a' && *q <= 'z')
			q++;
		if (*q == '/' && q[1])
			best = q + 1;
	}
	return best;
}

const char *pp_short_filename(const char *file, const char *cwd)
{
	if (!file)
		return file;
	const char *t = after_last(file, "/site-packages/");
	const char *d = after_last(file, "/dist-packages/");
	if (d && (!t || d > t))
		t = d;
	if (t)
		return t;
	if ((t = after_stdlib(file)))
		return t;
	size_t n = cwd ? strlen(cwd) : 0;
	while (n > 1 && cwd[n - 1] == '/')
		n--;
	if (n > 0 && !strncmp(file, cwd, n) && file[n] == '/' && file[n + 1] &&
	    !(n == 1 && cwd[0] == '/'))
		return file + n + 1;
	return file;
}
