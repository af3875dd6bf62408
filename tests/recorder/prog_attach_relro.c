/*
 * prog_attach_relro.c: an attach rewrites GOT entries in a RELRO segment
 * (libreload_relro.so, linked -z now: its malloc entry lies there) and
 * leaves each such page as it found it. Read-only stays read-only; a page
 * still writable, as the dynamic linker leaves it while it relocates an
 * object in the middle of a dlopen (which an attach can see), stays
 * writable, since making it read-only would fault the linker's next
 * relocation. The library's page is made writable here to stand for that.
 * Exits 0 when both pages are as they were after the attach and after the
 * detach, and the entry was rewritten (the library's allocations are
 * recorded), 77 under a sanitizer (the recorder cannot be loaded late).
 *
 * usage: prog_attach_relro LIBNMTRACE LIBRELOAD_RELRO PROFILE
 */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent_call.h"

struct relro {
    const char *name;
    uintptr_t page;
};

static int find_relro(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct relro *r = arg;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, r->name) == NULL)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_GNU_RELRO) {
            uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
            uintptr_t lo = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            uintptr_t hi = lo + info->dlpi_phdr[i].p_memsz;
            /* The pages the linker protects: both ends rounded down. */
            lo &= ~(pg - 1);
            if (lo < (hi & ~(pg - 1)))
                r->page = lo;
        }
    return 1;
}

/* 1 when the mapping holding addr is writable now, 0 when not, -1 unknown. */
static int writable(uintptr_t addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int w = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        unsigned long long lo, hi;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
            w = perms[1] == 'w';
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    return w;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s LIBNMTRACE LIBRELOAD_RELRO PROFILE\n", argv[0]);
        return 2;
    }
    if (getenv("NMT_TEST_SANITIZED") != NULL) {
        printf("SKIP: the sanitized recorder cannot be loaded late\n");
        return 77;
    }
    void *lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    void *(*alloc)(size_t) = lib ? (void *(*)(size_t))dlsym(lib, "reload_alloc") : NULL;
    struct relro r = {strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2], 0};
    dl_iterate_phdr(find_relro, &r);
    if (alloc == NULL || r.page == 0 || writable(r.page) != 0) {
        fprintf(stderr, "%s: not loaded, or no read-only RELRO page\n", argv[2]);
        return 1;
    }
    int bad = 0;
    for (int as_relocating = 0; as_relocating < 2; as_relocating++) {
        void *rec = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        agent_fn agent = rec ? (agent_fn)dlsym(rec, "Agent_OnAttach") : NULL;
        if (agent == NULL) {
            fprintf(stderr, "%s: no Agent_OnAttach\n", argv[1]);
            return 1;
        }
        long pg = sysconf(_SC_PAGESIZE);
        if (as_relocating && mprotect((void *)r.page, (size_t)pg, PROT_READ | PROT_WRITE) != 0)
            return 1;
        char opts[600];
        snprintf(opts, sizeof(opts), "output=%s.%d,rate=1", argv[3], as_relocating);
        if (agent_call(agent, opts) != 0)
            return 1;
        free(alloc(100)); /* through the rewritten entry: recorded */
        int after_attach = writable(r.page);
        if (agent_call(agent, "detach") != 0)
            return 1;
        int after_detach = writable(r.page);
        int ok = after_attach == as_relocating && after_detach == as_relocating;
        printf("%s: RELRO page %s, after the attach %s, after the detach %s\n", ok ? "ok" : "FAIL",
               as_relocating ? "writable" : "read-only", after_attach ? "writable" : "read-only",
               after_detach ? "writable" : "read-only");
        bad += !ok;
        if (as_relocating)
            mprotect((void *)r.page, (size_t)pg, PROT_READ);
    }
    return bad != 0;
}
