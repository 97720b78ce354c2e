/* libunwind's remote unwinder: one address space per process, and per
 * unwind either one UPT handle (ptrace) or a source's registers (a core).
 *
 * libunwind-ptrace finds a frame's unwind rules by opening the file mapped
 * there under /proc/PID/root - which, for a target chrooted somewhere, is
 * the wrong file (/proc/PID/maps already names it from our root), and for
 * a core there is no process at all. So the unwind tables come from the
 * symboliser's view of the mappings instead: the .eh_frame_hdr search
 * table of the file at a pc, handed to libunwind as a remote table it
 * reads through the accessors below (the way perf does). Registers and
 * memory are UPT's for a live thread, the source's for a core's. */
#include "native_unwind.h"

#include <libunwind-ptrace.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/user.h>

/* libunwind's own table search; exported by it, not declared in its
 * headers. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

_Static_assert(sizeof(struct user_regs_struct) == PP_UNWIND_NREGS * 8,
	       "PP_UNWIND_NREGS is not struct user_regs_struct");

struct pp_unwinder {
	int pid;
	bool has_source;
	struct pp_unwind_source src;
	unw_addr_space_t as;
	unw_accessors_t acc;
	struct pp_symbolizer *sym;
};

/* What libunwind passes the accessors: one thread's unwind. */
struct unwind_arg {
	struct pp_unwinder *u;
	void *upt;            /* ptrace; NULL with a source */
	const uint64_t *regs; /* a source's: PP_UNWIND_NREGS of them */
	/* the last pc find_proc_info found no unwind table for: libunwind
	 * then guesses by the frame-pointer chain, and ends the stack there
	 * when that fails too - an end that is not the thread's bottom */
	bool noinfo;
	uint64_t noinfo_ip;
};

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct unwind_arg *a = arg;
	uint64_t start, end, hdr, table, n;
	if (pp_symbolizer_unwind_table(a->u->sym, ip, &start, &end, &hdr, &table, &n) != 0) {
		a->noinfo = true;
		a->noinfo_ip = ip;
		return -UNW_ENOINFO;
	}
	unw_dyn_info_t di = {0};
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = start;
	di.end_ip = end;
	di.u.rti.segbase = hdr;
	di.u.rti.table_data = table;
	/* in words: each entry is two 32-bit values */
	di.u.rti.table_len = n * 8 / sizeof(unw_word_t);
	/* it reads the table through our accessors: our arg */
	return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	/* libunwind frees the table-format info our find_proc_info gives
	 * itself; UPT's frees anything else and never looks at its arg. */
	_UPT_put_unwind_info(as, pi, ((struct unwind_arg *)arg)->upt);
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	(void)as;
	(void)addr;
	(void)arg;
	return -UNW_ENOINFO; /* no JIT-registered unwind info is looked for */
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
		      void *arg)
{
	if (write)
		return -UNW_EINVAL; /* never write to the target */
	struct unwind_arg *a = arg;
	/* Unwind tables and code from the files themselves; the stack from
	 * the thread. */
	uint64_t v;
	if (pp_symbolizer_read_static(a->u->sym, addr, &v) == 0) {
		*val = v;
		return 0;
	}
	if (a->upt)
		return _UPT_access_mem(as, addr, val, 0, a->upt);
	if (a->u->src.read(a->u->src.ctx, addr, &v, sizeof(v)) != 0)
		return -UNW_EINVAL;
	*val = v;
	return 0;
}

/* libunwind's x86_64 register numbers (DWARF's) -> the word of struct
 * user_regs_struct that holds it; -1: none. */
static long user_reg(unw_regnum_t reg)
{
#define AT(field) ((long)(offsetof(struct user_regs_struct, field) / 8))
	switch (reg) {
	case UNW_X86_64_RAX: return AT(rax);
	case UNW_X86_64_RDX: return AT(rdx);
	case UNW_X86_64_RCX: return AT(rcx);
	case UNW_X86_64_RBX: return AT(rbx);
	case UNW_X86_64_RSI: return AT(rsi);
	case UNW_X86_64_RDI: return AT(rdi);
	case UNW_X86_64_RBP: return AT(rbp);
	case UNW_X86_64_RSP: return AT(rsp);
	case UNW_X86_64_R8: return AT(r8);
	case UNW_X86_64_R9: return AT(r9);
	case UNW_X86_64_R10: return AT(r10);
	case UNW_X86_64_R11: return AT(r11);
	case UNW_X86_64_R12: return AT(r12);
	case UNW_X86_64_R13: return AT(r13);
	case UNW_X86_64_R14: return AT(r14);
	case UNW_X86_64_R15: return AT(r15);
	case UNW_X86_64_RIP: return AT(rip);
	default: return -1;
	}
#undef AT
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
		      void *arg)
{
	if (write)
		return -UNW_EINVAL;
	struct unwind_arg *a = arg;
	if (a->upt)
		return _UPT_access_reg(as, reg, val, 0, a->upt);
	long i = user_reg(reg);
	if (i < 0)
		return -UNW_EBADREG;
	*val = a->regs[i];
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	if (write)
		return -UNW_EINVAL;
	struct unwind_arg *a = arg;
	if (a->upt)
		return _UPT_access_fpreg(as, reg, val, 0, a->upt);
	/* a core's notes keep them, but no x86_64 unwind rule reads them */
	(void)val;
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as;
	(void)c;
	(void)arg;
	return -UNW_EINVAL; /* never */
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *off, void *arg)
{
	(void)as;
	(void)addr;
	(void)buf;
	(void)len;
	(void)off;
	(void)arg;
	return -UNW_ENOINFO; /* names are symbolize.h's */
}

struct pp_unwinder *pp_unwinder_new_source(const struct pp_unwind_source *src,
					   struct pp_symbolizer *sym)
{
	if (!src || !src->regs || !src->read)
		return NULL;
	struct pp_unwinder *u = pp_unwinder_new(0, sym);
	if (u) {
		u->has_source = true;
		u->src = *src;
	}
	return u;
}

struct pp_unwinder *pp_unwinder_new(int pid, struct pp_symbolizer *sym)
{
	struct pp_unwinder *u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->pid = pid;
	u->sym = sym;
	u->acc = (unw_accessors_t){
		.find_proc_info = find_proc_info,
		.put_unwind_info = put_unwind_info,
		.get_dyn_info_list_addr = get_dyn_info_list_addr,
		.access_mem = access_mem,
		.access_reg = access_reg,
		.access_fpreg = access_fpreg,
		.resume = resume,
		.get_proc_name = get_proc_name,
	};
	u->as = unw_create_addr_space(&u->acc, 0);
	if (!u->as) {
		free(u);
		return NULL;
	}
	/* Unwind rules found once serve every thread and sample after. */
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	return u;
}

void pp_unwinder_free(struct pp_unwinder *u)
{
	if (!u)
		return;
	unw_destroy_addr_space(u->as);
	free(u);
}

void pp_unwinder_flush(struct pp_unwinder *u)
{
	if (u)
		unw_flush_cache(u->as, 0, 0);
}

long pp_unwind_thread(struct pp_unwinder *u, int tid, uint64_t *pcs, size_t max,
		      enum pp_unwind_end *end)
{
	*end = PP_UNWIND_FAILED;
	if (!u || tid <= 0)
		return -1;
	struct unwind_arg a = {.u = u};
	if (u->has_source) {
		if (!(a.regs = u->src.regs(u->src.ctx, tid)))
			return -1;
	} else if (!(a.upt = _UPT_create(tid))) {
		return -1;
	}
	unw_cursor_t c;
	long n = 0;
	if (unw_init_remote(&c, u->as, &a) < 0) {
		if (a.upt)
			_UPT_destroy(a.upt);
		return -1;
	}
	for (;;) {
		if ((size_t)n == max) {
			*end = PP_UNWIND_TOO_DEEP;
			break;
		}
		unw_word_t ip = 0;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0) {
			if (n == 0)
				n = -1;
			break;
		}
		/* A zero return address is how the outermost frames of a
		 * thread (clone's, _start's) end their chain - not the
		 * innermost one's: that is a stack of zeros (a core that
		 * holds the stack's pages without their contents). */
		if (ip == 0 && n > 0) {
			*end = n == 1 ? PP_UNWIND_FAILED : PP_UNWIND_BOTTOM;
			break;
		}
		pcs[n++] = ip;
		int r = unw_step(&c);
		if (r == 0) {
			/* (looked up at the pc, or at the call before it) */
			bool guessed = a.noinfo && (a.noinfo_ip == ip || a.noinfo_ip + 1 == ip);
			*end = guessed ? PP_UNWIND_FAILED : PP_UNWIND_BOTTOM;
			break;
		}
		if (r < 0)
			break;
	}
	if (a.upt)
		_UPT_destroy(a.upt);
	return n;
}
