/* Building profiles in memory; see profile_build.h. */
#include "profile_build.h"

#include <criterion/criterion.h>
#include <string.h>

pp_frame_id tb_py(struct pp_profile *p, const char *fn, const char *file, int line)
{
	const char *dot = strrchr(fn, '.');
	struct pp_pframe f = {pp_profile_str(p, fn), pp_profile_str(p, dot ? dot + 1 : fn),
			      pp_profile_str(p, file), line, line < 0 ? 1 : line, PP_FRAME_PYTHON};
	pp_frame_id id = pp_profile_frame(p, &f);
	cr_assert_neq(id, UINT32_MAX);
	return id;
}

pp_stack_id tb_stack(struct pp_profile *p, const pp_frame_id *frames, size_t n)
{
	pp_stack_id s = PP_EMPTY_STACK;
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(s = pp_profile_stack(p, s, frames[i]), UINT32_MAX);
	return s;
}

pp_stack_id tb_chain(struct pp_profile *p, const struct tb_fr *f, size_t n)
{
	pp_stack_id s = PP_EMPTY_STACK;
	for (size_t i = 0; i < n; i++)
		cr_assert_neq(s = pp_profile_stack(p, s, tb_py(p, f[i].fn, f[i].file, f[i].line)),
			      UINT32_MAX);
	return s;
}
