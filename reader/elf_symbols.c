/* ELF symbols and sections through libelf. */
#include "elf_symbols.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct pp_elf {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	size_t shstrndx;
};

int pp_elf_open(const char *path, struct pp_elf **out)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	struct pp_elf *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->fd < 0) {
		int err = -errno;
		free(e);
		return err;
	}
	e->elf = elf_begin(e->fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF ||
	    !gelf_getehdr(e->elf, &e->ehdr) ||
	    e->ehdr.e_ident[EI_CLASS] != ELFCLASS64 ||
	    elf_getshdrstrndx(e->elf, &e->shstrndx) != 0) {
		pp_elf_close(e);
		return -ENOEXEC;
	}
	*out = e;
	return 0;
}

void pp_elf_close(struct pp_elf *e)
{
	if (!e)
		return;
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	free(e);
}

static Elf_Scn *find_section(const struct pp_elf *e, const char *name,
			     GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e->elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, sh))
			continue;
		const char *n = elf_strptr(e->elf, e->shstrndx, sh->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

static int lookup_in(const struct pp_elf *e, Elf64_Word type, const char *name,
		     uint64_t *value, uint64_t *size)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while ((scn = elf_nextscn(e->elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type ||
		    sh.sh_entsize == 0)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		size_t n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			const char *s = elf_strptr(e->elf, sh.sh_link, sym.st_name);
			if (s && strcmp(s, name) == 0) {
				*value = sym.st_value;
				if (size)
					*size = sym.st_size;
				return 0;
			}
		}
	}
	return -ENOENT;
}

int pp_elf_symbol(const struct pp_elf *e, const char *name, uint64_t *value,
		  uint64_t *size)
{
	if (lookup_in(e, SHT_DYNSYM, name, value, size) == 0)
		return 0;
	return lookup_in(e, SHT_SYMTAB, name, value, size);
}

int pp_elf_section(const struct pp_elf *e, const char *name, uint64_t *addr,
		   uint64_t *size)
{
	GElf_Shdr sh;
	if (!find_section(e, name, &sh))
		return -ENOENT;
	*addr = sh.sh_addr;
	*size = sh.sh_size;
	return 0;
}

int pp_elf_section_bytes(const struct pp_elf *e, const char *name, void *buf,
			 uint64_t len)
{
	GElf_Shdr sh;
	Elf_Scn *scn = find_section(e, name, &sh);
	if (!scn || sh.sh_type == SHT_NOBITS)
		return -ENOENT;
	Elf_Data *data = elf_rawdata(scn, NULL);
	if (!data || !data->d_buf)
		return -EIO;
	if (len > data->d_size)
		len = data->d_size;
	memcpy(buf, data->d_buf, len);
	return (int)len;
}

int pp_elf_identity(const struct pp_elf *e, unsigned *dev_major,
		    unsigned *dev_minor, uint64_t *inode)
{
	struct stat st;
	if (fstat(e->fd, &st) != 0)
		return -errno;
	*dev_major = major(st.st_dev);
	*dev_minor = minor(st.st_dev);
	*inode = (uint64_t)st.st_ino;
	return 0;
}

uint64_t pp_elf_load_bias(const struct pp_elf *e, const struct pp_map *first)
{
	if (e->ehdr.e_type == ET_EXEC || !first)
		return 0;
	size_t nph = 0;
	if (elf_getphdrnum(e->elf, &nph) != 0)
		return 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		uint64_t align = ph.p_align ? ph.p_align : 1;
		uint64_t vaddr = ph.p_vaddr & ~(align - 1);
		/* `first` maps file offset `first->offset`; the segment that
		 * starts at offset 0 is at vaddr, so adjust for a first mapping
		 * that does not start at 0 (it always does in practice). */
		return first->start - first->offset - vaddr + (ph.p_offset & ~(align - 1));
	}
	return 0;
}
