/* libdw's Dwfl over a process's mappings, and a cache by pc. */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Inlined functions shown at one pc at most; deeper nests keep their
 * innermost ones and the function the code belongs to. */
#define INLINE_MAX 16

struct cache_slot {
	uint64_t key;    /* pc << 1 | caller; 0 = empty (pc 0 is never cached) */
	uint32_t first;  /* entries[first..first+n) */
	uint32_t n;
};

struct name_block {
	struct name_block *next;
	char s[];
};

/* A read-only segment of a mapped file, and where its bytes are here. */
struct static_seg {
	uint64_t start, end; /* target addresses */
	const uint8_t *raw;
};

struct pp_symbolizer {
	Dwfl *dwfl;
	struct static_seg last_seg; /* pp_symbolizer_read_static's last */
	struct name_block *names; /* plain_name's copies */
	char *debuginfo_path;
	Dwfl_Callbacks cb;
	pp_symbolizer_open_fn open; /* pp_symbolizer_new_files's */
	void *open_ctx;
	struct cache_slot *slots;
	size_t nslots, used;
	struct pp_native_sym *entries;
	size_t nentries, entries_cap;
};

/* Whether path exists (or cannot be told not to). */
static bool may_exist(const char *path)
{
	return access(path, F_OK) == 0 || errno != ENOENT;
}

/* Whether libdw's debuglink search could find a file for file_name: the
 * candidates it tries with its default path (":.debug:/usr/lib/debug",
 * find-debuginfo.c), and more - the link's name and "<basename>.debug",
 * each in the file's directory, in its .debug, and under /usr/lib/debug,
 * for the file's directory as named and as resolved. When unsure, true. */
static bool debuglink_may_exist(const char *file_name, const char *debuglink_file)
{
	const char *slash = file_name ? strrchr(file_name, '/') : NULL;
	/* A name with a directory (a dwz file's alternate, absolute or
	 * relative) is searched for in ways not copied here. */
	if (!slash || slash == file_name || (debuglink_file && strchr(debuglink_file, '/')))
		return true;
	char dirs[2][PATH_MAX], names[2][PATH_MAX], path[3 * PATH_MAX];
	size_t ndirs = 0, nnames = 0;
	if ((size_t)(slash - file_name) >= sizeof dirs[0])
		return true;
	memcpy(dirs[ndirs], file_name, (size_t)(slash - file_name));
	dirs[ndirs++][slash - file_name] = '\0';
	char real[PATH_MAX];
	if (realpath(file_name, real)) {
		char *rs = strrchr(real, '/');
		if (rs && rs != real) {
			*rs = '\0';
			snprintf(dirs[ndirs++], sizeof dirs[0], "%s", real);
		}
	}
	if (debuglink_file && *debuglink_file)
		snprintf(names[nnames++], sizeof names[0], "%s", debuglink_file);
	if (snprintf(names[nnames++], sizeof names[0], "%s.debug", slash + 1) >= (int)sizeof names[0])
		return true;
	for (size_t d = 0; d < ndirs; d++)
		for (size_t n = 0; n < nnames; n++) {
			const char *fmt[3] = {"%s/%s", "%s/.debug/%s", "/usr/lib/debug%s/%s"};
			for (int f = 0; f < 3; f++) {
				if (snprintf(path, sizeof path, fmt[f], dirs[d], names[n]) >=
				    (int)sizeof path)
					return true;
				if (may_exist(path))
					return true;
			}
		}
	return false;
}

/* libdw's standard search for a separate debug file (build-id, then
 * debuglink), without its last resort when nothing is there: asking
 * debuginfod servers. libdw 0.188 loads libdebuginfod for that, and with
 * it libcurl and some thirty libraries, even when DEBUGINFOD_URLS names no
 * server - about 40 ms of a `dump --native` for every target with one
 * library whose frames have no debug file (Debian's python3.11, or any
 * libc without libc6-dbg). With servers configured, the standard search
 * runs whole. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	if (!(urls && *urls)) {
		errno = 0;
		int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
						      debuglink_file, debuglink_crc,
						      debuginfo_file_name);
		if (fd >= 0)
			return fd;
		/* anything but "not found" (or no build-id): the standard
		 * search, which meets it the same way */
		if ((errno == 0 || errno == ENOENT) &&
		    !debuglink_may_exist(file_name, debuglink_file)) {
			errno = ENOENT;
			return -1;
		}
	}
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
					    debuglink_file, debuglink_crc, debuginfo_file_name);
}

static struct pp_symbolizer *new_symbolizer(void)
{
	struct pp_symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cb.find_elf = dwfl_linux_proc_find_elf;
	s->cb.find_debuginfo = find_debuginfo;
	s->cb.debuginfo_path = &s->debuginfo_path; /* NULL: libdw's default */
	s->dwfl = dwfl_begin(&s->cb);
	if (!s->dwfl) {
		free(s);
		return NULL;
	}
	return s;
}

static void set_err(char *err, size_t errlen, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", what);
}

struct pp_symbolizer *pp_symbolizer_new_pid(int pid, char *err, size_t errlen)
{
	struct pp_symbolizer *s = new_symbolizer();
	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	dwfl_report_begin(s->dwfl);
	int rc = dwfl_linux_proc_report(s->dwfl, pid);
	if (rc != 0 || dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "cannot read the mappings of process %d: %s", pid,
			 rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
		set_err(err, errlen, msg);
		pp_symbolizer_free(s);
		return NULL;
	}
	return s;
}

/* Report the mappings in maps (/proc/PID/maps' format) to s's libdwfl.
 * 0, or -1 with the message in err. */
static int report_maps(struct pp_symbolizer *s, FILE *maps, char *err, size_t errlen)
{
	dwfl_report_begin(s->dwfl);
	int rc = dwfl_linux_proc_maps_report(s->dwfl, maps);
	if (rc != 0 || dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "cannot read the mappings: %s",
			 rc > 0 ? strerror(rc) : dwfl_errmsg(-1));
		set_err(err, errlen, msg);
		return -1;
	}
	return 0;
}

struct pp_symbolizer *pp_symbolizer_new_maps(FILE *maps, char *err, size_t errlen)
{
	struct pp_symbolizer *s = new_symbolizer();
	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	if (report_maps(s, maps, err, errlen) != 0) {
		pp_symbolizer_free(s);
		return NULL;
	}
	return s;
}

/* libdwfl's find_elf for pp_symbolizer_new_files: every module's
 * userdata is its symboliser (set_userdata). */
static int open_file(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		     char **file_name, Elf **elfp)
{
	(void)mod;
	(void)base;
	struct pp_symbolizer *s = *userdata;
	*elfp = NULL;
	if (!s || !name)
		return -1;
	char *shown = NULL;
	int fd = s->open(s->open_ctx, name, &shown);
	if (fd < 0) {
		free(shown);
		return -1;
	}
	*file_name = shown;
	return fd;
}

static int set_userdata(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
			void *arg)
{
	(void)mod;
	(void)name;
	(void)base;
	*userdata = arg;
	return DWARF_CB_OK;
}

struct pp_symbolizer *pp_symbolizer_new_files(FILE *maps, pp_symbolizer_open_fn open,
					      void *ctx, char *err, size_t errlen)
{
	struct pp_symbolizer *s = new_symbolizer();
	if (!s) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	s->open = open;
	s->open_ctx = ctx;
	/* read by libdwfl from here on, before any module's ELF is wanted */
	s->cb.find_elf = open_file;
	if (report_maps(s, maps, err, errlen) != 0) {
		pp_symbolizer_free(s);
		return NULL;
	}
	/* find_elf is asked lazily, with the module's userdata: ours */
	dwfl_getmodules(s->dwfl, set_userdata, s, 0);
	return s;
}

void pp_symbolizer_free(struct pp_symbolizer *s)
{
	if (!s)
		return;
	dwfl_end(s->dwfl);
	while (s->names) {
		struct name_block *b = s->names;
		s->names = b->next;
		free(b);
	}
	free(s->slots);
	free(s->entries);
	free(s);
}

/* ---- one lookup ------------------------------------------------------------ */

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	/* An inlined instance names itself through its abstract origin. */
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
	return n;
}

/* The source file with index idx in cu's file table, or NULL. */
static const char *cu_file(Dwarf_Die *cu, Dwarf_Word idx)
{
	Dwarf_Files *files;
	size_t nfiles;
	if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0 || idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

/* A symbol's name without its version ("clock_nanosleep@GLIBC_2.2.5"),
 * kept in s->names; the name as it was when out of memory. */
static const char *plain_name(struct pp_symbolizer *s, const char *name)
{
	const char *at = name ? strchr(name, '@') : NULL;
	if (!at || at == name)
		return name;
	struct name_block *b = malloc(sizeof(*b) + (size_t)(at - name) + 1);
	if (!b)
		return name;
	memcpy(b->s, name, (size_t)(at - name));
	b->s[at - name] = '\0';
	b->next = s->names;
	s->names = b;
	return b->s;
}

/* Fill out[0..max) for lookup address `addr` (pc, or pc - 1 for a return
 * address) in module m; returns how many. */
static size_t lookup(struct pp_symbolizer *s, Dwfl_Module *m, uint64_t pc, uint64_t addr, struct pp_native_sym *out,
		     size_t max)
{
	/* The load bias: what the ELF's addresses are shifted by (finding
	 * the ELF also names the file it came from). */
	Dwarf_Addr bias = 0;
	bool have_elf = dwfl_module_getelf(m, &bias) != NULL;
	const char *mainfile = NULL;
	Dwarf_Addr start = 0;
	dwfl_module_info(m, NULL, &start, NULL, NULL, NULL, &mainfile, NULL);
	if (!have_elf)
		bias = start;
	struct pp_native_sym base = {
		.library = mainfile ? mainfile : dwfl_module_info(m, NULL, NULL, NULL, NULL,
								    NULL, NULL, NULL),
		.pc = pc,
		.offset = pc - bias,
	};
	GElf_Off symoff = 0;
	GElf_Sym sym;
	const char *symname = plain_name(s, dwfl_module_addrinfo(m, addr, &symoff, &sym,
								 NULL, NULL, NULL));

	/* Source line of the instruction itself. */
	const char *src = NULL;
	int line = 0;
	Dwfl_Line *l = dwfl_module_getsrc(m, addr);
	if (l)
		src = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);

	/* The nest of inlined functions at addr, innermost first, ending
	 * with the function the code belongs to. */
	Dwarf_Addr cubias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(m, addr, &cubias);
	Dwarf_Die *scopes = NULL;
	int nscopes = cu ? dwarf_getscopes(cu, addr - cubias, &scopes) : 0;
	size_t n = 0;
	const char *file = src;
	int fline = line;
	for (int i = 0; i < nscopes && n < max; i++) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
			continue;
		struct pp_native_sym e = base;
		e.function = die_name(&scopes[i]);
		e.file = file;
		e.line = file ? fline : 0;
		if (tag == DW_TAG_subprogram) {
			/* The machine code's own function: its symbol's name
			 * where there is one (the one a user knows, "pause"
			 * rather than "__libc_pause"; a part split off keeps
			 * its ".cold" there). */
			if (symname)
				e.function = symname;
			out[n++] = e;
			break;
		}
		e.inlined = true;
		/* If the nest is deeper than we show, keep the outer function. */
		if (n + 1 == max)
			break;
		out[n++] = e;
		/* The enclosing function is at this one's call site. */
		Dwarf_Attribute a;
		Dwarf_Word cf = 0, cl = 0;
		if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf) == 0 &&
		    dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0) {
			file = cu_file(cu, cf);
			fline = (int)cl;
		} else {
			file = NULL;
			fline = 0;
		}
	}
	free(scopes);
	if (n == 0 || out[n - 1].inlined) {
		/* No DWARF, or its nest was cut short: the symbol alone. */
		if (n == max)
			n--;
		struct pp_native_sym e = base;
		e.function = symname;
		e.file = n == 0 ? src : file;
		e.line = e.file ? (n == 0 ? line : fline) : 0;
		out[n++] = e;
	}
	return n;
}

/* ---- the cache --------------------------------------------------------------- */

static uint64_t mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	return k;
}

static struct cache_slot *find_slot(struct pp_symbolizer *s, uint64_t key)
{
	size_t mask = s->nslots - 1;
	for (size_t i = mix(key) & mask;; i = (i + 1) & mask)
		if (s->slots[i].key == key || s->slots[i].key == 0)
			return &s->slots[i];
}

static int grow_slots(struct pp_symbolizer *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 256;
	struct cache_slot *old = s->slots;
	size_t oldn = s->nslots;
	s->slots = calloc(n, sizeof(*s->slots));
	if (!s->slots) {
		s->slots = old;
		return -1;
	}
	s->nslots = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i].key)
			*find_slot(s, old[i].key) = old[i];
	free(old);
	return 0;
}

/* Remember out[0..n) for key; failing that (out of memory), forget it. */
static void remember(struct pp_symbolizer *s, uint64_t key, const struct pp_native_sym *e,
		     size_t n)
{
	if ((s->used + 1) * 2 > s->nslots && grow_slots(s) != 0)
		return;
	if (s->nentries + n > s->entries_cap) {
		size_t cap = s->entries_cap ? s->entries_cap * 2 : 256;
		while (cap < s->nentries + n)
			cap *= 2;
		struct pp_native_sym *v = realloc(s->entries, cap * sizeof(*v));
		if (!v)
			return;
		s->entries = v;
		s->entries_cap = cap;
	}
	memcpy(s->entries + s->nentries, e, n * sizeof(*e));
	struct cache_slot *slot = find_slot(s, key);
	*slot = (struct cache_slot){key, (uint32_t)s->nentries, (uint32_t)n};
	s->nentries += n;
	s->used++;
}

size_t pp_symbolize(struct pp_symbolizer *s, uint64_t pc, bool caller,
		    struct pp_native_sym *out, size_t max)
{
	if (max == 0)
		return 0;
	uint64_t key = pc << 1 | (caller ? 1 : 0);
	if (pc && key >> 1 == pc && s->nslots) {
		struct cache_slot *slot = find_slot(s, key);
		if (slot->key == key) {
			size_t n = slot->n < max ? slot->n : max;
			memcpy(out, s->entries + slot->first, n * sizeof(*out));
			/* A cut nest still ends with the function proper. */
			if (n < slot->n)
				out[n - 1] = s->entries[slot->first + slot->n - 1];
			return n;
		}
	}
	struct pp_native_sym tmp[INLINE_MAX];
	size_t n;
	uint64_t addr = caller && pc ? pc - 1 : pc;
	Dwfl_Module *m = dwfl_addrmodule(s->dwfl, addr);
	if (m) {
		n = lookup(s, m, pc, addr, tmp, INLINE_MAX);
	} else {
		tmp[0] = (struct pp_native_sym){.pc = pc};
		n = 1;
	}
	if (pc && key >> 1 == pc)
		remember(s, key, tmp, n);
	size_t k = n < max ? n : max;
	memcpy(out, tmp, k * sizeof(*out));
	if (k < n)
		out[k - 1] = tmp[n - 1];
	return k;
}

/* ---- the files' read-only bytes ---------------------------------------------- */

int pp_symbolizer_read_static(struct pp_symbolizer *s, uint64_t addr, uint64_t *val)
{
	struct static_seg *g = &s->last_seg;
	if (!(g->raw && addr >= g->start && addr <= g->end - 8)) {
		Dwfl_Module *m = dwfl_addrmodule(s->dwfl, addr);
		Dwarf_Addr bias = 0;
		Elf *elf = m ? dwfl_module_getelf(m, &bias) : NULL;
		size_t nph = 0, rawsize = 0;
		const char *raw = elf ? elf_rawfile(elf, &rawsize) : NULL;
		if (!raw || elf_getphdrnum(elf, &nph) != 0)
			return -1;
		bool found = false;
		for (size_t i = 0; i < nph && !found; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD ||
			    (ph.p_flags & PF_W) || ph.p_filesz < 8)
				continue;
			uint64_t start = bias + ph.p_vaddr;
			if (addr < start || addr - start > ph.p_filesz - 8)
				continue;
			if (ph.p_offset > rawsize || ph.p_filesz > rawsize - ph.p_offset)
				return -1; /* a file shorter than its headers say */
			*g = (struct static_seg){start, start + ph.p_filesz,
						 (const uint8_t *)raw + ph.p_offset};
			found = true;
		}
		if (!found)
			return -1;
	}
	memcpy(val, g->raw + (addr - g->start), 8);
	return 0;
}

/* ---- unwind tables ------------------------------------------------------------ */

/* DWARF pointer encodings .eh_frame_hdr uses in practice (binutils, lld). */
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_datarel_sdata4 0x3b

int pp_symbolizer_unwind_table(struct pp_symbolizer *s, uint64_t pc, uint64_t *start,
			       uint64_t *end, uint64_t *hdr, uint64_t *table,
			       uint64_t *nentries)
{
	Dwfl_Module *m = dwfl_addrmodule(s->dwfl, pc);
	if (!m)
		return -1;
	Dwarf_Addr bias = 0, low = 0, high = 0;
	Elf *elf = dwfl_module_getelf(m, &bias);
	if (!elf)
		return -1;
	dwfl_module_info(m, NULL, &low, &high, NULL, NULL, NULL, NULL);
	size_t nph = 0;
	if (elf_getphdrnum(elf, &nph) != 0)
		return -1;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
			continue;
		if (ph.p_filesz < 12)
			return -1;
		Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, 12, ELF_T_BYTE);
		if (!d || !d->d_buf || d->d_size < 12)
			return -1;
		const uint8_t *b = d->d_buf;
		/* version 1; the frame pointer a 4-byte value; the count a
		 * 4-byte unsigned; the table pairs of 4-byte offsets from the
		 * header - the one layout libunwind's table search reads */
		if (b[0] != 1 ||
		    ((b[1] & 0x0f) != DW_EH_PE_udata4 && (b[1] & 0x0f) != DW_EH_PE_sdata4))
			return -1;
		if (b[2] != DW_EH_PE_udata4 || b[3] != DW_EH_PE_datarel_sdata4)
			return -1;
		uint32_t count;
		memcpy(&count, b + 8, 4);
		if ((uint64_t)count * 8 > ph.p_filesz - 12)
			return -1;
		*start = low;
		*end = high;
		*hdr = bias + ph.p_vaddr;
		*table = *hdr + 12;
		*nentries = count;
		return 0;
	}
	return -1;
}
