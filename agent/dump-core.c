/*
 * dump-core.c - dump_core: an x86-64 ELF core file of a live process,
 * written from the image dump-snapshot.c holds, streamed as it is read.
 *
 * Layout (what the kernel writes, what gdb reads): the ELF header, one
 * PT_NOTE and one PT_LOAD per mapping, the notes, then every segment's
 * bytes from the next page on.  Notes: for the first thread (the leader)
 * NT_PRSTATUS, NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE, NT_FPREGSET,
 * NT_X86_XSTATE; for every other thread NT_PRSTATUS, NT_FPREGSET,
 * NT_X86_XSTATE — the registers recorded while every thread was stopped.
 *
 * Which mappings get bytes follows the kernel (vma_dump_size) and
 * /proc/PID/coredump_filter: VmFlags `dd` (MADV_DONTDUMP) and `io` get
 * none; anonymous private memory that has pages ("Anonymous:" in smaps,
 * the nearest thing to the kernel's anon_vma) is whole; shared memory by
 * the filter's anonymous-shared and file-shared bits; file-backed private
 * mappings whole only with their bits, else the first page of an ELF
 * image; the vdso always.  Every size is known before the first byte, so
 * the "start" event's estimate is the exact size of the file.
 *
 * Memory is read with pread on /proc/SNAPSHOT/mem (process_vm_readv would
 * unshare every copy-on-write page of the snapshot), 1 MiB at a time into
 * dump_out: nothing is staged.  A chunk that cannot be read is read again
 * page by page and pages that still fail are written as zeros.  In private
 * anonymous memory (heap, stacks, malloc's arenas), pages that were never
 * touched -- neither present nor swapped in /proc/SNAPSHOT/pagemap -- are
 * zeros by definition: they go out as zeros without being read, which
 * spares the kernel a fault and two copies per page (a thread's 8 MiB
 * stack is mostly that).  File-backed and shared pages that are not
 * mapped still have contents elsewhere, so those are always read.  No byte of
 * the app is ever patched (dump-snapshot.c only reuses syscall
 * instructions), so none needs restoring here.
 */
#include <sys/types.h>
#include <sys/procfs.h>
#include <sys/user.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "dump.h"

#define CORE_PAGE	4096UL
#define CORE_CHUNK	(1024 * 1024)

/* /proc/PID/pagemap, one 64-bit entry per page (pagemap.rst). */
#define CORE_PM_PRESENT	(1ULL << 63)
#define CORE_PM_SWAP	(1ULL << 62)
#define CORE_PM_USED	(CORE_PM_PRESENT | CORE_PM_SWAP)

/* coredump_filter bits (core(5)). */
#define CORE_F_ANON_PRIVATE	0x01
#define CORE_F_ANON_SHARED	0x02
#define CORE_F_FILE_PRIVATE	0x04
#define CORE_F_FILE_SHARED	0x08
#define CORE_F_ELF_HEADERS	0x10
#define CORE_F_HUGE_PRIVATE	0x20
#define CORE_F_HUGE_SHARED	0x40
#define CORE_F_DEFAULT		0x33

struct core_map {
	uint64_t	 start, end, pgoff;
	char		 perms[5];
	char		*path;		/* NULL for anonymous */
	int		 flag_dd, flag_io, flag_ht;
	uint64_t	 anon_kib;	/* Anonymous: + Swap: */
	uint64_t	 filesz;	/* bytes to write */
	uint64_t	 offset;	/* in the file */
};

struct core_buf {
	uint8_t		*p;
	size_t		 len, cap;
};

static int
core_put(struct core_buf *b, const void *p, size_t n)
{
	size_t	cap;
	uint8_t	*np;

	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static int
core_note(struct core_buf *b, const char *name, uint32_t type, const void *desc,
    size_t len)
{
	Elf64_Nhdr	h;
	static const uint8_t zero[8];
	size_t		nlen = strlen(name) + 1;

	h.n_namesz = (Elf64_Word)nlen;
	h.n_descsz = (Elf64_Word)len;
	h.n_type = type;
	if (core_put(b, &h, sizeof h) != 0 || core_put(b, name, nlen) != 0 ||
	    core_put(b, zero, (4 - nlen % 4) % 4) != 0 ||
	    core_put(b, desc, len) != 0 ||
	    core_put(b, zero, (4 - len % 4) % 4) != 0)
		return -1;
	return 0;
}

/* The whole of a small /proc file; NULL on failure. */
static uint8_t *
core_slurp(const char *path, size_t *len)
{
	struct core_buf	b = { NULL, 0, 0 };
	uint8_t		buf[4096];
	ssize_t		n;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (core_put(&b, buf, (size_t)n) != 0) {
			n = -1;
			break;
		}
	}
	close(fd);
	if (n < 0 || core_put(&b, "", 1) != 0) {
		free(b.p);
		return NULL;
	}
	*len = b.len - 1;
	return b.p;
}

static void
core_maps_free(struct core_map *m, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

/* Parse /proc/PID/smaps into *maps. */
static int
core_maps(pid_t pid, struct core_map **maps, size_t *nmaps)
{
	char		 path[64], *line = NULL, *p, name[4096];
	size_t		 cap = 0, n = 0, ncap = 0;
	struct core_map	*m = NULL, *cur = NULL, *nm;
	unsigned long long lo, hi, off, kib;
	int		 pos;
	FILE		*f;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (getline(&line, &cap, f) > 0) {
		char	perms[8];

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &lo, &hi, perms,
		    &off, &pos) == 4) {
			if (n == ncap) {
				ncap = ncap ? ncap * 2 : 256;
				if ((nm = realloc(m, ncap * sizeof *m)) == NULL)
					goto fail;
				m = nm;
			}
			cur = &m[n++];
			memset(cur, 0, sizeof *cur);
			cur->start = lo;
			cur->end = hi;
			cur->pgoff = off / CORE_PAGE;
			memcpy(cur->perms, perms, 4);
			p = line + pos;
			p += strspn(p, " ");
			p[strcspn(p, "\n")] = '\0';
			if (*p != '\0') {
				snprintf(name, sizeof name, "%s", p);
				if ((cur->path = strdup(name)) == NULL)
					goto fail;
			}
			continue;
		}
		if (cur == NULL)
			continue;
		if (sscanf(line, "Anonymous: %llu kB", &kib) == 1 ||
		    sscanf(line, "Swap: %llu kB", &kib) == 1)
			cur->anon_kib += kib;
		else if (strncmp(line, "VmFlags:", 8) == 0) {
			cur->flag_dd = strstr(line, " dd") != NULL;
			cur->flag_io = strstr(line, " io") != NULL;
			cur->flag_ht = strstr(line, " ht") != NULL;
		}
	}
	free(line);
	fclose(f);
	*maps = m;
	*nmaps = n;
	return 0;
fail:
	free(line);
	fclose(f);
	core_maps_free(m, n);
	return -1;
}

/* A name in maps that is no file: [heap], [stack], [anon:x]... */
static int
core_is_file(const struct core_map *m)
{
	return m->path != NULL && m->path[0] == '/';
}

/* How many bytes of m go in the core (the kernel's vma_dump_size). */
static uint64_t
core_dump_size(const struct core_map *m, unsigned long filter, int memfd)
{
	uint64_t	size = m->end - m->start;
	int		shared = m->perms[3] == 's';
	uint8_t		magic[4];
	size_t		plen;

	if (m->path != NULL && strcmp(m->path, "[vdso]") == 0)
		return size;
	if (m->flag_dd)
		return 0;
	if (m->flag_ht) {
		if (shared)
			return (filter & CORE_F_HUGE_SHARED) ? size : 0;
		return (filter & CORE_F_HUGE_PRIVATE) ? size : 0;
	}
	if (m->flag_io)
		return 0;
	if (shared) {
		/* Unlinked (memfd, SysV shm, MAP_SHARED|MAP_ANONYMOUS): anon. */
		plen = m->path != NULL ? strlen(m->path) : 0;
		if (m->path == NULL || strncmp(m->path, "/SYSV", 5) == 0 ||
		    strncmp(m->path, "/memfd:", 7) == 0 ||
		    (plen > 10 && strcmp(m->path + plen - 10, " (deleted)") == 0))
			return (filter & CORE_F_ANON_SHARED) ? size : 0;
		return (filter & CORE_F_FILE_SHARED) ? size : 0;
	}
	if (m->anon_kib > 0 && (filter & CORE_F_ANON_PRIVATE))
		return size;
	if (!core_is_file(m))
		return 0;
	if (filter & CORE_F_FILE_PRIVATE)
		return size;
	if ((filter & CORE_F_ELF_HEADERS) && m->pgoff == 0 && m->perms[0] == 'r' &&
	    pread(memfd, magic, 4, (off_t)m->start) == 4 &&
	    memcmp(magic, ELFMAG, SELFMAG) == 0)
		return CORE_PAGE;
	return 0;
}

/* Process-wide fields of /proc/PID/stat. */
struct core_stat {
	char		 state;
	int		 ppid, pgrp, sid, nice;
	unsigned long	 flags;
	char		 comm[16];
};

static void
core_stat(pid_t pid, struct core_stat *st)
{
	char	 path[64], *b, *p, *q;
	size_t	 len;
	int	 i;

	memset(st, 0, sizeof *st);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((b = (char *)core_slurp(path, &len)) == NULL)
		return;
	if ((p = strchr(b, '(')) != NULL && (q = strrchr(b, ')')) != NULL && q > p) {
		snprintf(st->comm, sizeof st->comm, "%.*s", (int)(q - p - 1), p + 1);
		p = q + 2;
		for (i = 3; p != NULL && i <= 19; i++) {
			switch (i) {
			case 3: st->state = *p; break;
			case 4: st->ppid = atoi(p); break;
			case 5: st->pgrp = atoi(p); break;
			case 6: st->sid = atoi(p); break;
			case 9: st->flags = strtoul(p, NULL, 10); break;
			case 19: st->nice = atoi(p); break;
			}
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		}
	}
	free(b);
}

static int
core_prstatus(struct core_buf *b, const struct dump_thread *t,
    const struct core_stat *st, int cursig)
{
	struct elf_prstatus	pr;

	memset(&pr, 0, sizeof pr);
	/* A crash: every thread's is the signal the process dies of, as the
	 * kernel's core has it (gdb: "Program terminated with signal"). */
	pr.pr_info.si_signo = cursig != 0 ? cursig : t->sig;
	pr.pr_cursig = (short)pr.pr_info.si_signo;
	pr.pr_pid = t->tid;
	pr.pr_ppid = st->ppid;
	pr.pr_pgrp = st->pgrp;
	pr.pr_sid = st->sid;
	memcpy(&pr.pr_reg, t->regs, sizeof pr.pr_reg);
	pr.pr_fpvalid = 1;
	return core_note(b, "CORE", NT_PRSTATUS, &pr, sizeof pr);
}

static int
core_fp(struct core_buf *b, const struct dump_thread *t)
{
	if (core_note(b, "CORE", NT_FPREGSET, t->fpregs, sizeof t->fpregs) != 0)
		return -1;
	if (t->xstate != NULL && core_note(b, "LINUX", NT_X86_XSTATE, t->xstate,
	    t->xstate_len) != 0)
		return -1;
	return 0;
}

/* NT_FILE: count, page size, (start, end, pgoff) each, then the names. */
static int
core_ntfile(struct core_buf *b, const struct core_map *m, size_t n)
{
	struct core_buf	 d = { NULL, 0, 0 };
	uint64_t	 v[3];
	size_t		 i, count = 0;
	int		 rc = -1;

	for (i = 0; i < n; i++)
		if (core_is_file(&m[i]))
			count++;
	v[0] = count;
	v[1] = CORE_PAGE;
	if (core_put(&d, v, 2 * sizeof v[0]) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!core_is_file(&m[i]))
			continue;
		v[0] = m[i].start;
		v[1] = m[i].end;
		v[2] = m[i].pgoff;
		if (core_put(&d, v, sizeof v) != 0)
			goto out;
	}
	for (i = 0; i < n; i++)
		if (core_is_file(&m[i]) &&
		    core_put(&d, m[i].path, strlen(m[i].path) + 1) != 0)
			goto out;
	rc = core_note(b, "CORE", NT_FILE, d.p, d.len);
out:
	free(d.p);
	return rc;
}

static int
core_notes(struct core_buf *b, const struct dump_snap *s,
    const struct core_map *m, size_t n)
{
	struct elf_prpsinfo	 ps;
	struct core_stat	 st;
	char			 path[64];
	uint8_t			*aux, *args;
	size_t			 auxlen = 0, alen = 0, i;
	long			 uid = -1, gid = -1;
	char			*line = NULL;
	size_t			 cap = 0;
	FILE			*f;
	int			 rc = -1;

	core_stat(s->pid, &st);
	memset(&ps, 0, sizeof ps);
	ps.pr_sname = st.state;
	ps.pr_state = st.state == 'R' ? 0 : st.state == 'S' ? 1 :
	    st.state == 'D' ? 2 : st.state == 'T' || st.state == 't' ? 3 : 4;
	ps.pr_zomb = st.state == 'Z';
	ps.pr_nice = (char)st.nice;
	ps.pr_flag = st.flags;
	snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
	if ((f = fopen(path, "re")) != NULL) {
		while (getline(&line, &cap, f) > 0) {
			if (strncmp(line, "Uid:", 4) == 0)
				uid = strtol(line + 4, NULL, 10);
			else if (strncmp(line, "Gid:", 4) == 0)
				gid = strtol(line + 4, NULL, 10);
		}
		free(line);
		fclose(f);
	}
	ps.pr_uid = (__pr_uid_t)uid;
	ps.pr_gid = (__pr_gid_t)gid;
	ps.pr_pid = s->pid;
	ps.pr_ppid = st.ppid;
	ps.pr_pgrp = st.pgrp;
	ps.pr_sid = st.sid;
	memcpy(ps.pr_fname, st.comm, sizeof ps.pr_fname);
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)s->src);
	if ((args = core_slurp(path, &alen)) != NULL) {
		for (i = 0; i < alen && i < sizeof ps.pr_psargs - 1; i++)
			ps.pr_psargs[i] = args[i] != '\0' ? (char)args[i] : ' ';
		while (i > 0 && ps.pr_psargs[i - 1] == ' ')
			ps.pr_psargs[--i] = '\0';
		free(args);
	}
	snprintf(path, sizeof path, "/proc/%d/auxv", (int)s->src);
	if ((aux = core_slurp(path, &auxlen)) == NULL)
		return -1;

	for (i = 0; i < s->nt; i++) {
		if (core_prstatus(b, &s->t[i], &st, s->cursig) != 0)
			goto out;
		if (i == 0 && (core_note(b, "CORE", NT_PRPSINFO, &ps, sizeof ps) != 0 ||
		    core_note(b, "CORE", NT_SIGINFO, s->t[0].siginfo,
		    sizeof s->t[0].siginfo) != 0 ||
		    core_note(b, "CORE", NT_AUXV, aux, auxlen) != 0 ||
		    core_ntfile(b, m, n) != 0))
			goto out;
		if (core_fp(b, &s->t[i]) != 0)
			goto out;
	}
	rc = 0;
out:
	free(aux);
	return rc;
}

/* Zeros to write from; bss, so never touched pages cost nothing. */
static uint8_t	core_zero[CORE_CHUNK];

/* Write zeros. */
static int
core_zeros(struct dump_out *o, uint64_t n)
{
	size_t	k;

	while (n > 0) {
		k = n > sizeof core_zero ? sizeof core_zero : (size_t)n;
		if (dump_out_write(o, core_zero, k) != 0)
			return -1;
		n -= k;
	}
	return 0;
}

/*
 * Private anonymous memory: a page never touched reads as zeros, so
 * pagemap may say which pages not to read.  Heap, stacks, [anon:NAME]
 * and unnamed mappings; never the vdso or anything with a file behind it.
 */
static int
core_anon_private(const struct core_map *m)
{
	if (m->perms[3] != 'p')
		return 0;
	return m->path == NULL || strcmp(m->path, "[heap]") == 0 ||
	    strcmp(m->path, "[stack]") == 0 || strncmp(m->path, "[anon:", 6) == 0;
}

/*
 * Read want bytes at a (whole pages) and write them.  0; -1 when the
 * output failed (errno); -2 when the memory went away (the process
 * exited: pread returns 0).
 */
static int
core_read(struct dump_out *o, int memfd, uint64_t a, size_t want, uint8_t *buf)
{
	ssize_t	got;
	size_t	pg;

	got = pread(memfd, buf, want, (off_t)a);
	if (got == 0)
		return -2;
	if (got == (ssize_t)want)
		return dump_out_write(o, buf, want) != 0 ? -1 : 0;
	if (got < 0 && errno == ESRCH)
		return -2;
	/* A hole (EIO, EFAULT, short): page by page, zeros where even that
	 * fails. */
	for (pg = 0; pg < want; pg += CORE_PAGE) {
		got = pread(memfd, buf, CORE_PAGE, (off_t)(a + pg));
		if (got == 0)
			return -2;
		if (got != (ssize_t)CORE_PAGE)
			memset(buf, 0, CORE_PAGE);
		if (dump_out_write(o, buf, CORE_PAGE) != 0)
			return -1;
	}
	return 0;
}

/*
 * Stream m's bytes from memfd; pmfd (pagemap, or -1) picks out the never
 * touched pages of private anonymous memory.  0; -1 when the output failed
 * (errno); -2 when the memory went away.
 */
static int
core_segment(struct dump_out *o, int memfd, int pmfd, const struct core_map *m,
    uint8_t *buf)
{
	uint64_t	a = m->start, end = m->start + m->filesz;
	uint64_t	pm[CORE_CHUNK / CORE_PAGE];
	size_t		want, npg, i, j;
	int		rc, unused;

	if (!core_anon_private(m))
		pmfd = -1;
	while (a < end) {
		if (dump_cancelled())
			return -1;
		want = end - a > CORE_CHUNK ? CORE_CHUNK : (size_t)(end - a);
		npg = want / CORE_PAGE;
		if (pmfd == -1 || pread(pmfd, pm, npg * sizeof pm[0],
		    (off_t)(a / CORE_PAGE * sizeof pm[0])) != (ssize_t)(npg *
		    sizeof pm[0])) {
			if ((rc = core_read(o, memfd, a, want, buf)) != 0)
				return rc;
			a += want;
			continue;
		}
		/* Runs of used pages are read, runs of unused ones are zeros. */
		for (i = 0; i < npg; i = j) {
			unused = (pm[i] & CORE_PM_USED) == 0;
			for (j = i + 1; j < npg && ((pm[j] & CORE_PM_USED) == 0) ==
			    unused; j++)
				;
			if (unused)
				rc = core_zeros(o, (j - i) * CORE_PAGE);
			else
				rc = core_read(o, memfd, a + i * CORE_PAGE,
				    (j - i) * CORE_PAGE, buf);
			if (rc != 0)
				return rc;
		}
		a += want;
	}
	return 0;
}

/* The segments; 0 or dump_error. */
static int
core_write(const struct dump_req *r, struct dump_out *o, struct dump_snap *s,
    struct core_map *m, size_t n, unsigned long filter)
{
	struct core_buf	 notes = { NULL, 0, 0 };
	Elf64_Ehdr	 eh;
	Elf64_Phdr	 ph;
	uint64_t	 off, total;
	size_t		 i, nload = 0;
	uint8_t		*buf = NULL;
	char		 path[64];
	int		 rc, err, pmfd = -1;

	for (i = 0; i < n; i++) {
		if (m[i].path != NULL && strcmp(m[i].path, "[vsyscall]") == 0)
			continue;	/* not in the mm: no bytes, no use */
		m[i].filesz = core_dump_size(&m[i], filter, s->memfd);
		nload++;
	}
	if (nload + 1 >= PN_XNUM)
		return dump_error("internal", "%zu mappings: more than an ELF "
		    "core without extended numbering holds", nload);
	if (core_notes(&notes, s, m, n) != 0) {
		free(notes.p);
		return dump_error(dump_snap_alive(s) ? "internal" : "target_exited",
		    "notes of %d: %s", (int)s->pid, strerror(errno));
	}
	off = sizeof eh + (nload + 1) * sizeof ph + notes.len;
	off = (off + CORE_PAGE - 1) & ~(CORE_PAGE - 1);
	for (i = 0; i < n; i++) {
		m[i].offset = off;
		off += m[i].filesz;
	}
	total = off;

	dump_event(json_pack("{s:s, s:s, s:s, s:s?, s:o, s:I, s:I}",
	    "event", "start", "kind", "core",
	    "mode", s->freeze ? "freeze" : "snapshot",
	    "reason", s->freeze && !r->freeze ? s->reason : NULL,
	    "pause_us", s->freeze ? json_null() : json_integer((json_int_t)s->pause_us),
	    "threads", (json_int_t)s->nt, "estimate", (json_int_t)total));

	memset(&eh, 0, sizeof eh);
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof eh;
	eh.e_ehsize = sizeof eh;
	eh.e_phentsize = sizeof ph;
	eh.e_phnum = (Elf64_Half)(nload + 1);
	if (dump_out_write(o, &eh, sizeof eh) != 0)
		goto out_err;
	memset(&ph, 0, sizeof ph);
	ph.p_type = PT_NOTE;
	ph.p_offset = sizeof eh + (nload + 1) * sizeof ph;
	ph.p_filesz = notes.len;
	ph.p_align = 4;
	if (dump_out_write(o, &ph, sizeof ph) != 0)
		goto out_err;
	for (i = 0; i < n; i++) {
		if (m[i].path != NULL && strcmp(m[i].path, "[vsyscall]") == 0)
			continue;
		memset(&ph, 0, sizeof ph);
		ph.p_type = PT_LOAD;
		ph.p_offset = m[i].offset;
		ph.p_vaddr = m[i].start;
		ph.p_filesz = m[i].filesz;
		ph.p_memsz = m[i].end - m[i].start;
		ph.p_align = CORE_PAGE;
		ph.p_flags = (m[i].perms[0] == 'r' ? PF_R : 0) |
		    (m[i].perms[1] == 'w' ? PF_W : 0) |
		    (m[i].perms[2] == 'x' ? PF_X : 0);
		if (dump_out_write(o, &ph, sizeof ph) != 0)
			goto out_err;
	}
	if (dump_out_write(o, notes.p, notes.len) != 0 ||
	    core_zeros(o, m[0].offset - (sizeof eh + (nload + 1) * sizeof ph +
	    notes.len)) != 0)
		goto out_err;
	free(notes.p);
	notes.p = NULL;

	if ((buf = malloc(CORE_CHUNK)) == NULL)
		return dump_error("internal", "out of memory");
	/* Without pagemap (an old kernel, a denial) every page is read. */
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)s->src);
	pmfd = open(path, O_RDONLY | O_CLOEXEC);
	for (i = 0; i < n; i++) {
		if (m[i].filesz == 0)
			continue;
		if ((rc = core_segment(o, s->memfd, pmfd, &m[i], buf)) == -1)
			goto out_err;
		if (rc == -2 || !dump_snap_alive(s)) {
			free(buf);
			if (pmfd != -1)
				close(pmfd);
			/* The app lives, its snapshot's memory is gone: killed
			 * (by the OOM killer, its first choice).  The app runs on. */
			if (!s->freeze && s->child > 0 && dump_snap_alive(s))
				return dump_error("target_exited", "the snapshot of "
				    "process %d was killed during the dump (the OOM "
				    "killer?); the process runs on", (int)s->pid);
			return dump_error("target_exited", "process %d exited "
			    "during the dump", (int)s->pid);
		}
	}
	free(buf);
	if (pmfd != -1)
		close(pmfd);
	return 0;
out_err:
	err = errno;
	free(notes.p);
	free(buf);
	if (pmfd != -1)
		close(pmfd);
	if (dump_cancelled() || err == EPIPE || err == EINTR)
		return dump_error("cancelled", "dump stopped: %s",
		    err == EPIPE ? "the output was closed" : "asked to stop");
	return dump_error("internal", "writing the core: %s", strerror(err));
}

int
dump_core(const struct dump_req *r, struct dump_out *o)
{
	struct dump_snap	 s;
	struct core_map		*m = NULL;
	size_t			 n = 0;
	unsigned long		 filter = CORE_F_DEFAULT;
	char			 path[64], *b;
	size_t			 len;
	int			 rc;

	if ((rc = dump_snap_take(&s, r->pid, r->freeze)) != 0)
		return rc;
	if (dump_cancelled()) {
		dump_snap_release(&s);
		return dump_error("cancelled", "dump stopped: asked to stop");
	}
	snprintf(path, sizeof path, "/proc/%d/coredump_filter", (int)s.src);
	if ((b = (char *)core_slurp(path, &len)) != NULL) {
		filter = strtoul(b, NULL, 16);
		free(b);
	}
	if (core_maps(s.src, &m, &n) != 0 || n == 0) {
		rc = errno;
		dump_snap_release(&s);
		core_maps_free(m, n);
		if (!dump_snap_alive(&s))
			return dump_error("target_exited", "process %d exited "
			    "during the dump", (int)r->pid);
		return dump_error("internal", "mappings of %d: %s", (int)r->pid,
		    strerror(rc));
	}
	rc = core_write(r, o, &s, m, n, filter);
	core_maps_free(m, n);
	if (s.freeze)
		s.pause_us = (dump_now_ns() - s.t_stop) / 1000;
	dump_snap_release(&s);
	dump_out_set_pause(o, s.pause_us);
	return rc;
}

/*
 * The crash tracer's core (agent-tracer.c): s is held stopped by the
 * tracer, registers recorded; the memory is read here, from the process
 * itself, and nothing is released: the tracer detaches.
 */
int
dump_core_held(const struct dump_req *r, struct dump_out *o, struct dump_snap *s)
{
	struct core_map	*m = NULL;
	size_t		 n = 0, len;
	unsigned long	 filter = CORE_F_DEFAULT;
	char		 path[64], *b;
	int		 rc;

	snprintf(path, sizeof path, "/proc/%d/mem", (int)s->src);
	if ((s->memfd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return dump_error(errno == ENOENT || errno == ESRCH ?
		    "target_exited" : "internal", "%s: %s", path, strerror(errno));
	snprintf(path, sizeof path, "/proc/%d/coredump_filter", (int)s->src);
	if ((b = (char *)core_slurp(path, &len)) != NULL) {
		filter = strtoul(b, NULL, 16);
		free(b);
	}
	if (core_maps(s->src, &m, &n) != 0 || n == 0) {
		rc = errno;
		core_maps_free(m, n);
		close(s->memfd);
		s->memfd = -1;
		return dump_error("internal", "mappings of %d: %s", (int)s->pid,
		    strerror(rc));
	}
	rc = core_write(r, o, s, m, n, filter);
	core_maps_free(m, n);
	close(s->memfd);
	s->memfd = -1;
	dump_out_set_pause(o, (dump_now_ns() - s->t_stop) / 1000);
	return rc;
}
