/* `meson install` into a fresh directory (--destdir): the binary runs, and
 * the man page, the documentation and the bash and zsh completions are
 * installed where man, bash-completion and zsh look for them. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

TestSuite(install, .timeout = 300);

/* The one file under dest whose path ends in `tail` (e.g.
 * "/share/man/man1/pyprobe.1", whatever the prefix), in out. */
static void installed(const char *dest, const char *tail, char *out, size_t n)
{
	char cmd[2 * PATH_MAX], found[2 * PATH_MAX];
	snprintf(cmd, sizeof cmd, "find '%s' -path '*%s' \\( -type f -o -type l \\)", dest, tail);
	cr_assert_eq(ts_shell(cmd, found, sizeof found), 0, "%s", cmd);
	char *nl = strchr(found, '\n');
	cr_assert(nl && !nl[1], "want one file *%s under %s, found:\n%s", tail, dest, found);
	*nl = '\0';
	snprintf(out, n, "%s", found);
}

Test(install, destdir_has_binary_man_page_docs_and_completions)
{
	const char *build = getenv("PYPROBE_BUILD_ROOT");
	cr_assert(build && *build, "PYPROBE_BUILD_ROOT is not set (run through meson test)");
	char dest[PATH_MAX], cmd[4 * PATH_MAX], out[1 << 16], path[2 * PATH_MAX];
	snprintf(dest, sizeof dest, "%s/tests/install/dest", build);
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && meson install -C '%s' --no-rebuild --quiet "
		 "--destdir '%s' 2>&1", dest, build, dest);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "meson install failed:\n%s", out);

	installed(dest, "/bin/pyprobe", path, sizeof path);
	snprintf(cmd, sizeof cmd, "'%s' --version 2>&1", path);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s", out);
	cr_assert(!strncmp(out, "pyprobe ", 8), "pyprobe --version: %s", out);

	/* man reads it: its NAME section, formatted */
	installed(dest, "/share/man/man1/pyprobe.1", path, sizeof path);
	snprintf(cmd, sizeof cmd, "MANWIDTH=80 man -l '%s' 2>&1", path);
	if (ts_shell("command -v man", out, sizeof out) == 0) {
		cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "man -l failed:\n%.2000s", out);
		cr_assert(strstr(out, "pyprobe") && strstr(out, "record"), "man -l:\n%.2000s", out);
	}

	/* the documentation, laid out as in the source tree (its links) */
	installed(dest, "/share/doc/pyprobe/README.md", path, sizeof path);
	installed(dest, "/share/doc/pyprobe/docs/record.md", path, sizeof path);
	installed(dest, "/share/doc/pyprobe/docs/formats.md", path, sizeof path);
	installed(dest, "/share/doc/pyprobe/docs/top.md", path, sizeof path);
	installed(dest, "/share/doc/pyprobe/docs/images/flamegraph.png", path, sizeof path);

	/* bash: the completion works once sourced */
	installed(dest, "/share/bash-completion/completions/pyprobe", path, sizeof path);
	snprintf(cmd, sizeof cmd,
		 "bash -c 'source \"%s\" && COMP_WORDS=(pyprobe record --sub) COMP_CWORD=2 && "
		 "_pyprobe && echo \"${COMPREPLY[*]}\"' 2>&1", path);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s", out);
	cr_assert_str_eq(out, "--subprocesses\n", "bash completion of 'record --sub'");
	snprintf(cmd, sizeof cmd,
		 "bash -c 'source \"%s\" && COMP_WORDS=(pyprobe top --win) COMP_CWORD=2 && "
		 "_pyprobe && echo \"${COMPREPLY[*]}\"; COMP_WORDS=(pyprobe record -f g) COMP_CWORD=3 && "
		 "_pyprobe && echo \"${COMPREPLY[*]}\"' 2>&1", path);
	cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "%s", out);
	cr_assert_str_eq(out, "--window\ngecko\n", "bash completion of 'top --win', '-f g'");

	/* zsh: the file where compinit finds it, and it parses */
	installed(dest, "/share/zsh/site-functions/_pyprobe", path, sizeof path);
	char head[64] = "";
	ts_read_file(path, head, sizeof head);
	cr_assert(!strncmp(head, "#compdef pyprobe\n", 17), "%s", head);
	if (ts_shell("command -v zsh", out, sizeof out) == 0) {
		snprintf(cmd, sizeof cmd, "zsh -n '%s' 2>&1", path);
		cr_assert_eq(ts_shell(cmd, out, sizeof out), 0, "zsh -n:\n%s", out);
	}
}
