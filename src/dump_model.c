/* Names of the dump model's enums, as they appear in `dump --json` and in
 * messages. The JSON strings are a public contract: change them only with
 * the format documentation.
 */
#include "dump_model.h"

const char *pp_dump_gil_name(enum pp_dump_gil g)
{
	/* A switch rather than a table indexed by the enum: a corrupt or
	 * future value must give "unknown", not read past the array. */
	switch (g) {
	case PP_DUMP_GIL_HELD:
		return "held";
	case PP_DUMP_GIL_WAITING:
		return "waiting";
	case PP_DUMP_GIL_RELEASED:
		return "released";
	case PP_DUMP_GIL_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *pp_dump_os_name(enum pp_dump_os s)
{
	switch (s) {
	case PP_DUMP_OS_RUNNING:
		return "running";
	case PP_DUMP_OS_SLEEPING:
		return "sleeping";
	case PP_DUMP_OS_DISK:
		return "disk";
	case PP_DUMP_OS_STOPPED:
		return "stopped";
	case PP_DUMP_OS_ZOMBIE:
		return "zombie";
	case PP_DUMP_OS_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *pp_dump_stack_name(enum pp_dump_stack s)
{
	switch (s) {
	case PP_DUMP_STACK_CUT_CHANGING:
		return "cut_changing";
	case PP_DUMP_STACK_CUT_UNREADABLE:
		return "cut_unreadable";
	case PP_DUMP_STACK_DROPPED:
		return "dropped";
	case PP_DUMP_STACK_WHOLE:
		break;
	}
	return "whole";
}

const char *pp_dump_native_name(enum pp_dump_native n)
{
	switch (n) {
	case PP_DUMP_NATIVE_MERGED:
		return "merged";
	case PP_DUMP_NATIVE_SEPARATE:
		return "separate";
	case PP_DUMP_NATIVE_NONE:
		break;
	}
	return NULL;
}
