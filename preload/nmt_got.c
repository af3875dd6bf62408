/*
 * nmt_got.c: hooks without LD_PRELOAD (nmt_got.h).
 *
 * A library loaded into a running process is not in the symbol search
 * order ahead of libc: the calls other objects make to malloc still go
 * through their GOT entries to the allocator they bound at start. So, once
 * attached, every entry for an allocation function (JUMP_SLOT and GLOB_DAT
 * relocations naming it) in every loaded object is rewritten to point at our
 * exported hook, and its old value is kept to be written back at detach.
 * Entries in a RELRO segment are made writable for the store and read-only
 * again. Our own object (its calls reach the allocator directly, as the
 * recorder needs) and the dynamic linker are left alone.
 *
 * The entries for dlopen and dlmopen are rewritten too (nmt_got_dlopen.c):
 * an object the program loads later is patched on the loading thread
 * before its dlopen returns (got_loaded). So are those for dlclose
 * (nmt_dlclose.c), so that the fast unwinder sees unloads as it does under
 * LD_PRELOAD, while every one of them is ours (nmt__attach_unloads_seen).
 * The writer's tick still looks for objects loaded by other means
 * (nmt__got_refresh). The lock
 * orders the two; neither is called with the loader's lock held, and
 * dl_iterate_phdr takes it only while it walks. All patching and restoring happens inside
 * dl_iterate_phdr callbacks, so an object being unloaded is never written to: its entries are
 * dropped.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nmc_hash.h"
#include "nmt_attach.h"
#include "nmt_got.h"
#include "nmt_internal.h"
#include "nmt_os.h"

#if defined(__x86_64__)
#define NMT_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define NMT_R_GLOB_DAT  R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define NMT_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define NMT_R_GLOB_DAT  R_AARCH64_GLOB_DAT
#else
#define NMT_R_JUMP_SLOT (-1)
#define NMT_R_GLOB_DAT  (-1)
#endif

/* The functions whose entries are redirected, in our object. */
static const char *const hooked_names[] = {
    "malloc",        "calloc",   "realloc",  "reallocarray", "free",    "posix_memalign",
    "aligned_alloc", "memalign", "valloc",   "pvalloc",      "mmap",    "mmap64",
    "munmap",        "mremap",   "mprotect", "dlopen",       "dlmopen", "dlclose",
};
#define NHOOKS (sizeof(hooked_names) / sizeof(hooked_names[0]))
/* From here on the hooks are not exported (nmt_got_dlopen.c, nmt_dlclose.c). */
#define FIRST_DL (NHOOKS - 3)
#define DLCLOSE  (NHOOKS - 1)
static void *hook_addr[NHOOKS];

struct got_entry {
    uintptr_t slot; /* address of the GOT entry */
    uintptr_t old;  /* what it held before */
    uintptr_t base; /* the object's load address, to know it again */
    uint32_t hook;  /* index in hooked_names */
    uint32_t seen;  /* its object was found in the last walk */
    uint32_t name;  /* and its path's hash: another object loaded at the same
                     * address after an unload is not it */
};

#define MAX_ENTRIES 16384
static struct got_entry *entries; /* mmap'ed while attached */
static size_t nentries;
/* Held only inside the fork gate (nmt_forkgate.c): a fork waits until it
 * is free, so a child never finds it held by a thread it does not have
 * (the child's first dlopen would wait for it for ever). */
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long seen_adds, seen_subs;
/* Refreshes left that walk every object again after the link map changed:
 * an object seen in the middle of its dlopen is relocated after we patch it. */
static int recheck;
#define RECHECK_TICKS 50
static uintptr_t self_base;
static int overflow;
/* A dlclose entry was seen that does not point at our hook (its store
 * failed, or no room was left to remember it). */
static int dlclose_missed;

static void got_loaded(void);

/* An entry for hook h was left pointing elsewhere: if it is a dlclose
 * entry, unloads may go unseen from now on and the fast unwinder stops
 * reading call-frame tables (nmt_cfi_usable()). */
static void missed(int h)
{
    if (h == (int)DLCLOSE) {
        dlclose_missed = 1;
        atomic_store(&nmt__attach_unloads_seen, 0);
    }
}

static void lock_entries(void)
{
    nmt__gate_enter();
    pthread_mutex_lock(&got_lock);
}

static void unlock_entries(void)
{
    pthread_mutex_unlock(&got_lock);
    nmt__gate_leave();
}

/* Our own definitions: looked up in our object, since a plain reference to
 * malloc from our code binds to the process's malloc when we were loaded
 * late. */
static int find_hooks(void)
{
    Dl_info info;
    if (!dladdr((void *)find_hooks, &info) || info.dli_fname == NULL)
        return -ENOENT;
    self_base = (uintptr_t)info.dli_fbase;
    void *h = dlopen(info.dli_fname, RTLD_NOLOAD | RTLD_LAZY);
    if (h == NULL)
        return -ENOENT;
    for (size_t i = 0; i < FIRST_DL; i++)
        hook_addr[i] = dlsym(h, hooked_names[i]);
    dlclose(h);
    hook_addr[FIRST_DL] = (void *)nmt__got_dlopen;
    hook_addr[FIRST_DL + 1] = (void *)nmt__got_dlmopen;
    hook_addr[DLCLOSE] = nmt__got_dlclose_resolve();
    nmt__got_dl_after(got_loaded);
    return hook_addr[0] != NULL && hook_addr[4] != NULL ? 0 : -ENOENT;
}

static int skip_object(const struct dl_phdr_info *info)
{
    const char *n = info->dlpi_name ? info->dlpi_name : "";
    const char *base = strrchr(n, '/');
    base = base ? base + 1 : n;
    if (info->dlpi_addr == self_base && n[0] != '\0')
        return 1;
    return strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld64.so", 7) == 0 ||
           strncmp(base, "linux-vdso", 10) == 0 || strncmp(base, "linux-gate", 10) == 0;
}

/* The protections of the process's mappings, read from /proc/self/maps
 * at most once per walk over the objects, when the first RELRO entry is to
 * be written (under got_lock; walk_done() forgets them). Any thread may be
 * here, inside dl_iterate_phdr: the line buffer is malloc'ed, not the
 * writer's. */
struct prot_range {
    uintptr_t lo, hi;
    int writable;
};
static struct prot_range *prots;
static size_t nprots, prots_cap;
static int prots_read;

static int add_prot(void *ctx, const struct nmt_maps_line *m)
{
    (void)ctx;
    if (nprots == prots_cap) {
        size_t cap = prots_cap ? prots_cap * 2 : 256;
        struct prot_range *p = realloc(prots, cap * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        prots = p;
        prots_cap = cap;
    }
    prots[nprots++] = (struct prot_range){m->lo, m->hi, (m->perms & NMT_MAP_W) != 0};
    return 0;
}

/* A page in no range read (the walk failed, or no room was left for its
 * range) is unknown. */
static void prots_load(void)
{
    prots_read = 1;
    char *buf = malloc(NMT_MAPS_BUF);
    if (buf == NULL)
        return;
    nmt__os_maps_walk("/proc/self/maps", buf, NMT_MAPS_BUF, add_prot, NULL);
    free(buf);
}

/* Whether the page at addr was writable when the walk first looked: 1, 0,
 * or -1 when unknown. */
static int page_writable(uintptr_t addr)
{
    if (!prots_read)
        prots_load();
    for (size_t i = 0; i < nprots; i++)
        if (addr >= prots[i].lo && addr < prots[i].hi)
            return prots[i].writable;
    return -1;
}

/* The end of a walk over the objects: protections may change before the
 * next one. */
static void walk_done(void)
{
    free(prots);
    prots = NULL;
    nprots = prots_cap = 0;
    prots_read = 0;
}

/* Writes one word of a GOT, making a RELRO page writable for the store.
 * The page is made read-only again only if it was read-only: an object the
 * dynamic linker is still relocating (dl_iterate_phdr shows it from the
 * middle of its dlopen) has its RELRO writable until the linker protects
 * it, and a read-only page there would fault the linker's next write. A
 * linker that protects the page between the look and the store finds it
 * writable again: a page left writable, never a fault. */
static int store_word(uintptr_t slot, uintptr_t value, uintptr_t relro_lo, uintptr_t relro_hi)
{
    int in_relro = slot >= relro_lo && slot < relro_hi;
    uintptr_t page = slot & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    int was_readonly = in_relro && page_writable(page) == 0;
    if (in_relro && mprotect((void *)page, pg, PROT_READ | PROT_WRITE) != 0)
        return -errno;
    __atomic_store_n((uintptr_t *)slot, value, __ATOMIC_RELEASE);
    if (was_readonly)
        mprotect((void *)page, pg, PROT_READ);
    return 0;
}

/* A hash of an object's path, to tell objects at one address apart. */
static uint32_t name_hash(const struct dl_phdr_info *info)
{
    uint64_t h = nmc_fnv1a_str(NMC_FNV_OFFSET, info->dlpi_name);
    return (uint32_t)(h ^ (h >> 32));
}

/* The same object as entry e was found in: at base, with the path hash
 * name (name_hash of the object, taken once per object by the caller). */
static int same_object(const struct got_entry *e, uintptr_t base, uint32_t name)
{
    return e->base == base && e->name == name;
}

/* What one object's dynamic section tells about its relocations. */
struct dyn_view {
    uintptr_t base, relro_lo, relro_hi;
    uint32_t name;   /* name_hash */
    int search_path; /* has DT_RPATH or DT_RUNPATH */
    const ElfW(Sym) * symtab;
    const char *strtab;
    const ElfW(Rela) * rel[2];
    size_t relsz[2];
};

static uintptr_t dyn_ptr(uintptr_t base, uintptr_t v)
{
    /* glibc relocates most d_ptr values in place; the vDSO and some
     * loaders leave them as offsets. */
    return v < base ? v + base : v;
}

static int read_dynamic(const struct dl_phdr_info *info, struct dyn_view *v)
{
    memset(v, 0, sizeof(*v));
    v->base = info->dlpi_addr;
    v->name = name_hash(info);
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
        if (ph->p_type == PT_GNU_RELRO) {
            v->relro_lo = info->dlpi_addr + ph->p_vaddr;
            v->relro_hi = v->relro_lo + ph->p_memsz;
        }
    }
    if (dyn == NULL)
        return -1;
    int pltrel = DT_RELA;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t p = dyn_ptr(v->base, dyn->d_un.d_ptr);
        switch (dyn->d_tag) {
        case DT_SYMTAB:
            v->symtab = (const ElfW(Sym) *)p;
            break;
        case DT_STRTAB:
            v->strtab = (const char *)p;
            break;
        case DT_JMPREL:
            v->rel[0] = (const ElfW(Rela) *)p;
            break;
        case DT_PLTRELSZ:
            v->relsz[0] = dyn->d_un.d_val;
            break;
        case DT_RELA:
            v->rel[1] = (const ElfW(Rela) *)p;
            break;
        case DT_RELASZ:
            v->relsz[1] = dyn->d_un.d_val;
            break;
        case DT_RPATH:
        case DT_RUNPATH:
            v->search_path = 1;
            break;
        case DT_PLTREL:
            pltrel = (int)dyn->d_un.d_val;
            break;
        default:
            break;
        }
    }
    if (pltrel != DT_RELA)
        v->rel[0] = NULL; /* REL-style PLT: not on the targets we support */
    return v->symtab && v->strtab ? 0 : -1;
}

static int hook_index(const char *name)
{
    for (size_t i = 0; i < NHOOKS; i++)
        if (hook_addr[i] != NULL && strcmp(name, hooked_names[i]) == 0)
            return (int)i;
    return -1;
}

static struct got_entry *known_slot(uintptr_t slot)
{
    for (size_t i = 0; i < nentries; i++)
        if (entries[i].slot == slot)
            return &entries[i];
    return NULL;
}

static void patch_one(const struct dyn_view *v, const ElfW(Rela) * r)
{
    unsigned long type = ELF64_R_TYPE(r->r_info);
    int call = (long)type == NMT_R_JUMP_SLOT || (long)type == NMT_R_GLOB_DAT;
    if (ELF64_R_SYM(r->r_info) == 0 || (!call && hook_addr[DLCLOSE] == NULL))
        return;
    const ElfW(Sym) *sym = &v->symtab[ELF64_R_SYM(r->r_info)];
    int h = hook_index(v->strtab + sym->st_name);
    if (!call || r->r_addend != 0) {
        /* dlclose's address kept some other way (a table of function
         * pointers in data): calls through it are not ours. */
        missed(h);
        return;
    }
    /* Our dlopen searches a bare name with our (empty) search path, not
     * the caller's: such a caller keeps the C library's dlopen. */
    if (h < 0 || (h >= (int)FIRST_DL && h != (int)DLCLOSE && v->search_path))
        return;
    uintptr_t slot = v->base + r->r_offset;
    uintptr_t cur = __atomic_load_n((uintptr_t *)slot, __ATOMIC_ACQUIRE);
    if (cur == (uintptr_t)hook_addr[h])
        return;
    struct got_entry *known = known_slot(slot);
    if (known != NULL) {
        /* ld.so wrote the slot after us: dl_iterate_phdr shows an object
         * before dlopen has relocated it, and lazy binding may reset a
         * slot. What it wrote is the real target: keep that for the
         * restore, and hook the slot again. */
        if (store_word(slot, (uintptr_t)hook_addr[h], v->relro_lo, v->relro_hi) == 0)
            known->old = cur;
        else
            missed(h);
        return;
    }
    if (nentries == MAX_ENTRIES) {
        overflow = 1;
        missed(h);
        return;
    }
    if (store_word(slot, (uintptr_t)hook_addr[h], v->relro_lo, v->relro_hi) != 0) {
        missed(h);
        return;
    }
    entries[nentries++] = (struct got_entry){slot, cur, v->base, (uint32_t)h, 1, v->name};
}

static int patch_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    struct dyn_view v;
    if (skip_object(info) || read_dynamic(info, &v) != 0)
        return 0;
    for (int k = 0; k < 2; k++) {
        if (v.rel[k] == NULL)
            continue;
        size_t n = v.relsz[k] / sizeof(ElfW(Rela));
        for (size_t i = 0; i < n; i++)
            patch_one(&v, &v.rel[k][i]);
    }
    seen_adds = info->dlpi_adds;
    seen_subs = info->dlpi_subs;
    return 0;
}

int nmt__got_install(void)
{
    lock_entries();
    int err = 0;
    if (entries == NULL) {
        err = find_hooks();
        if (err == 0) {
            void *m = mmap(NULL, MAX_ENTRIES * sizeof(struct got_entry), PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                err = -errno;
            else
                entries = m;
        }
    }
    if (err == 0)
        nmt__dl_iterate_phdr(patch_object, NULL);
    walk_done();
    size_t n = nentries;
    unlock_entries();
    return err != 0 ? err : (int)n;
}

/* The link map's load and unload counts now. */
static int counts_now(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    unsigned long long *c = arg;
    c[0] = info->dlpi_adds;
    c[1] = info->dlpi_subs;
    return 1;
}

static int mark_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    uint32_t name = name_hash(info);
    for (size_t i = 0; i < nentries; i++)
        if (same_object(&entries[i], info->dlpi_addr, name))
            entries[i].seen = 1;
    return 0;
}

/* An object was unloaded: its entries are forgotten, so that one loaded at
 * the same address later is patched (and restored) as itself. */
static void forget_unloaded(void)
{
    for (size_t i = 0; i < nentries; i++)
        entries[i].seen = 0;
    nmt__dl_iterate_phdr(mark_loaded, NULL);
    for (size_t i = 0; i < nentries; i++)
        if (!entries[i].seen)
            entries[i].slot = 0;
}

/* A dlopen returned (nmt_got_dlopen.c): its objects are relocated, patch
 * them now. Every object is walked, since the writer may have counted the
 * new one already, seen in the middle of its dlopen. */
static void got_loaded(void)
{
    lock_entries();
    unsigned long long c[2] = {seen_adds, seen_subs};
    if (entries != NULL) {
        nmt__dl_iterate_phdr(counts_now, c);
        if (c[1] != seen_subs)
            forget_unloaded();
        recheck = RECHECK_TICKS; /* another thread's dlopen may be half done */
        nmt__dl_iterate_phdr(patch_object, NULL);
        walk_done();
    }
    unlock_entries();
}

/* Writer thread, at its tick while attached: objects loaded since the
 * last look get their entries patched. No system call when the link map
 * did not change. */
void nmt__got_refresh(void)
{
    nmt__gate_enter();
    if (pthread_mutex_trylock(&got_lock) != 0) {
        nmt__gate_leave();
        return;
    }
    unsigned long long c[2] = {seen_adds, seen_subs};
    if (entries != NULL)
        nmt__dl_iterate_phdr(counts_now, c);
    if (entries != NULL && c[1] != seen_subs)
        forget_unloaded();
    if (entries != NULL && (c[0] != seen_adds || c[1] != seen_subs))
        recheck = RECHECK_TICKS;
    if (entries != NULL && recheck > 0) {
        recheck--;
        nmt__dl_iterate_phdr(patch_object, NULL);
        walk_done();
    }
    unlock_entries();
}

/* Restores the entries of one loaded object; entries are kept in order of
 * objects, so those of objects no longer loaded are never touched. */
static int restore_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *restored = arg;
    struct dyn_view v;
    if (skip_object(info) || read_dynamic(info, &v) != 0)
        return 0;
    for (size_t i = 0; i < nentries; i++) {
        struct got_entry *e = &entries[i];
        if (e->slot == 0 || !same_object(e, v.base, v.name))
            continue;
        uintptr_t cur = __atomic_load_n((uintptr_t *)e->slot, __ATOMIC_ACQUIRE);
        /* Someone else rewrote it since (another tool): theirs to keep. */
        if (cur == (uintptr_t)hook_addr[e->hook] &&
            store_word(e->slot, e->old, v.relro_lo, v.relro_hi) == 0)
            (*restored)++;
        e->slot = 0;
    }
    return 0;
}

int nmt__got_restore(void)
{
    lock_entries();
    int restored = 0;
    if (entries != NULL) {
        nmt__dl_iterate_phdr(restore_object, &restored);
        walk_done();
        munmap(entries, MAX_ENTRIES * sizeof(struct got_entry));
        entries = NULL;
        nentries = 0;
        overflow = 0;
        dlclose_missed = 0;
    }
    unlock_entries();
    return restored;
}

size_t nmt__got_count(void)
{
    return nentries;
}

int nmt__got_unloads_start(void)
{
    lock_entries();
    int all = entries != NULL && hook_addr[DLCLOSE] != NULL && !dlclose_missed;
    atomic_store(&nmt__attach_unloads_seen, all);
    unlock_entries();
    return all;
}
