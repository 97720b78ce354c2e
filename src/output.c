/* See output.h. */
#include "output.h"

#include <errno.h>
#include <string.h>

static const struct {
	const char *name, *ext;
	enum pp_format f;
} formats[] = {
	{"flamegraph", ".svg", PP_FMT_FLAMEGRAPH},
	{"collapsed", ".txt", PP_FMT_COLLAPSED},
	{"speedscope", ".speedscope.json", PP_FMT_SPEEDSCOPE},
	{"pprof", ".pb.gz", PP_FMT_PPROF},
	{"raw", ".pyprobe", PP_FMT_RAW},
};

/* Longest first, so ".speedscope.json" wins over ".json". */
static const struct {
	const char *ext;
	enum pp_format f;
} extensions[] = {
	{".speedscope.json", PP_FMT_SPEEDSCOPE}, {".collapsed", PP_FMT_COLLAPSED},
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
	default: errno = EINVAL; return -1;
	}
}

bool pp_output_is_stdout(const char *path)
{
	return path && !strcmp(path, "-");
}
