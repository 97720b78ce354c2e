/* The permission error's Yama part (reader/ptrace_scope.h): when each
 * kernel.yama.ptrace_scope refuses whom. This machine may have no Yama, so
 * the decision is tested on its facts. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reader/ptrace_scope.h"

static bool hint(int scope, bool priv, bool same, bool desc, char *buf, size_t n)
{
	struct pp_ptrace_facts f = {scope, priv, same, desc};
	return pp_ptrace_scope_hint(&f, 42, buf, n);
}

Test(ptrace_scope, no_yama_or_scope_0_is_never_blamed)
{
	char buf[512];
	for (int priv = 0; priv < 2; priv++)
		for (int same = 0; same < 2; same++)
			for (int desc = 0; desc < 2; desc++) {
				cr_assert(!hint(-1, priv, same, desc, buf, sizeof buf));
				cr_assert_str_empty(buf);
				cr_assert(!hint(0, priv, same, desc, buf, sizeof buf));
			}
}

Test(ptrace_scope, scope_1_blames_yama_for_a_non_descendant_of_the_same_user)
{
	char buf[512];
	/* the watchdog's child reading its parent */
	cr_assert(hint(1, false, true, false, buf, sizeof buf));
	cr_assert(strstr(buf, "kernel.yama.ptrace_scope is 1"), "%s", buf);
	cr_assert(strstr(buf, "process 42"), "%s", buf);
	cr_assert(strstr(buf, "PR_SET_PTRACER"), "%s", buf);
	cr_assert(strstr(buf, "docs/hangs.md"), "%s", buf);
	/* a descendant, root, or another user's process: not Yama's doing */
	cr_assert(!hint(1, false, true, true, buf, sizeof buf));
	cr_assert(!hint(1, true, true, false, buf, sizeof buf));
	cr_assert(!hint(1, false, false, false, buf, sizeof buf));
}

Test(ptrace_scope, scope_2_and_3)
{
	char buf[512];
	cr_assert(hint(2, false, true, true, buf, sizeof buf));
	cr_assert(strstr(buf, "ptrace_scope is 2") && strstr(buf, "CAP_SYS_PTRACE"), "%s", buf);
	cr_assert(!hint(2, true, true, false, buf, sizeof buf));
	cr_assert(hint(3, true, true, true, buf, sizeof buf));
	cr_assert(strstr(buf, "ptrace_scope is 3") && strstr(buf, "reboot"), "%s", buf);
}

Test(ptrace_scope, cut_to_size)
{
	char buf[16];
	cr_assert(hint(1, false, true, false, buf, sizeof buf));
	cr_assert_eq(strlen(buf), 15);
	cr_assert(!hint(1, false, true, false, buf, 0));
}

Test(ptrace_scope, facts_of_a_child)
{
	pid_t child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	struct pp_ptrace_facts f;
	pp_ptrace_facts_of(child, &f);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	cr_assert(f.descendant);
	cr_assert(f.same_user);
	pp_ptrace_facts_of(getppid(), &f);
	cr_assert(!f.descendant);
}
