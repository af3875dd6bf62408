/*
 * nms_dwarf.c: source lines and inlined frames from DWARF, through libdw.
 *
 * Opened lazily per object, from its debug file or the object itself. A sorted table
 * of compile-unit address ranges finds the unit (no reliance on .debug_aranges, which
 * some toolchains omit); a sorted table of the unit's functions, built on first use,
 * finds the subprogram; a walk down that subprogram's DIEs collects the chain of
 * DW_TAG_inlined_subroutine entries containing the address. The line
 * of the innermost frame comes from the line table; each outer frame's line is the
 * DW_AT_call_file/DW_AT_call_line of the frame it inlined.
 */
#include "nms_internal.h"

#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

/* A compile unit; its function table is built on the first lookup that lands in it. */
struct cu {
    Dwarf_Die die;
    struct fn_range *fn;
    size_t nfn;
    bool indexed;
};

struct fn_range {
    uint64_t lo, hi;
    Dwarf_Die die;
};

struct cu_range {
    uint64_t lo, hi;
    size_t cu; /* index in nms__dwarf.cus */
};

struct nms__dwarf {
    Dwarf *dbg;
    struct cu *cus;
    size_t ncus;
    struct cu_range *r;
    size_t n;
};

static int cmp_range(const void *a, const void *b)
{
    const struct cu_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

static struct nms__dwarf *dwarf_open(struct nms__file *f)
{
    Elf *elf = NULL;
    if (f->dbg.elf && nms__elf_has_section(f->dbg.elf, ".debug_info", true))
        elf = f->dbg.elf;
    else if (f->bin.elf && nms__elf_has_section(f->bin.elf, ".debug_info", true))
        elf = f->bin.elf;
    if (!elf)
        return NULL;
    struct nms__dwarf *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->dbg = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
    if (!d->dbg) {
        free(d);
        return NULL;
    }
    size_t cap = 0, cu_cap = 0;
    Dwarf_CU *cu = NULL, *next;
    Dwarf_Half ver;
    uint8_t ut;
    Dwarf_Die cudie, subdie;
    while (dwarf_get_units(d->dbg, cu, &next, &ver, &ut, &cudie, &subdie) == 0) {
        cu = next;
        if (ut != DW_UT_compile && ut != DW_UT_partial)
            continue;
        if (d->ncus == cu_cap) {
            cu_cap = cu_cap ? cu_cap * 2 : 64;
            struct cu *v = realloc(d->cus, cu_cap * sizeof(*v));
            if (!v) {
                nms__dwarf_free(d);
                return NULL;
            }
            d->cus = v;
        }
        d->cus[d->ncus++] = (struct cu){.die = cudie};
        ptrdiff_t off = 0;
        Dwarf_Addr base, lo, hi;
        while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
            if (lo >= hi)
                continue;
            if (d->n == cap) {
                cap = cap ? cap * 2 : 64;
                struct cu_range *r = realloc(d->r, cap * sizeof(*r));
                if (!r) {
                    nms__dwarf_free(d);
                    return NULL;
                }
                d->r = r;
            }
            d->r[d->n++] = (struct cu_range){lo, hi, d->ncus - 1};
        }
    }
    if (d->n)
        qsort(d->r, d->n, sizeof(*d->r), cmp_range);
    return d;
}

void nms__dwarf_free(struct nms__dwarf *d)
{
    if (!d)
        return;
    if (d->dbg)
        dwarf_end(d->dbg);
    for (size_t i = 0; i < d->ncus; i++)
        free(d->cus[i].fn);
    free(d->cus);
    free(d->r);
    free(d);
}

static struct cu *find_cu(struct nms__dwarf *d, uint64_t pc)
{
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->r[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Ranges of different units rarely overlap; look back a little in case. */
    for (size_t k = lo; k > 0 && lo - k < 8; k--)
        if (pc < d->r[k - 1].hi)
            return &d->cus[d->r[k - 1].cu];
    return NULL;
}

static int cmp_fn(const void *a, const void *b)
{
    const struct fn_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Collects the address ranges of the unit's concrete functions. Namespaces and classes
 * are entered because compilers nest member function definitions in them. */
static int index_fns(Dwarf_Die *parent, struct cu *cu, size_t *cap, int depth)
{
    Dwarf_Die child;
    if (depth > 32 || dwarf_child(parent, &child) != 0)
        return 0;
    do {
        switch (dwarf_tag(&child)) {
        case DW_TAG_subprogram: {
            ptrdiff_t off = 0;
            Dwarf_Addr base, lo, hi;
            while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
                if (lo >= hi)
                    continue;
                if (cu->nfn == *cap) {
                    *cap = *cap ? *cap * 2 : 64;
                    struct fn_range *v = realloc(cu->fn, *cap * sizeof(*v));
                    if (!v)
                        return -1;
                    cu->fn = v;
                }
                cu->fn[cu->nfn++] = (struct fn_range){lo, hi, child};
            }
            break;
        }
        case DW_TAG_namespace:
        case DW_TAG_class_type:
        case DW_TAG_structure_type:
        case DW_TAG_union_type:
        case DW_TAG_module:
            if (index_fns(&child, cu, cap, depth + 1) != 0)
                return -1;
            break;
        default:
            break;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return 0;
}

static Dwarf_Die *find_fn(struct cu *cu, uint64_t pc)
{
    if (!cu->indexed) {
        size_t cap = 0;
        cu->indexed = true;
        if (index_fns(&cu->die, cu, &cap, 0) != 0)
            cu->nfn = 0;
        else if (cu->nfn)
            qsort(cu->fn, cu->nfn, sizeof(*cu->fn), cmp_fn);
    }
    size_t lo = 0, hi = cu->nfn;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cu->fn[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k > 0 && lo - k < 8; k--)
        if (pc < cu->fn[k - 1].hi)
            return &cu->fn[k - 1].die;
    return NULL;
}

/* Appends to chain (outermost first) the inlined subroutines containing pc below
 * parent; returns the new length. */
static int walk(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *chain, int n, int max, int depth)
{
    Dwarf_Die child;
    if (depth > 64 || dwarf_child(parent, &child) != 0)
        return n;
    do {
        int tag = dwarf_tag(&child);
        if ((tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block ||
             tag == DW_TAG_try_block || tag == DW_TAG_catch_block) &&
            dwarf_haspc(&child, pc) == 1) {
            if (tag == DW_TAG_inlined_subroutine && n < max)
                chain[n++] = child;
            return walk(&child, pc, chain, n, max, depth + 1);
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return n;
}

static const char *die_name(Dwarf_Die *d)
{
    Dwarf_Attribute a;
    const char *s;
    if ((dwarf_attr_integrate(d, DW_AT_linkage_name, &a) ||
         dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &a)) &&
        (s = dwarf_formstring(&a)) != NULL)
        return s;
    if (dwarf_attr_integrate(d, DW_AT_name, &a) && (s = dwarf_formstring(&a)) != NULL)
        return s;
    return NULL;
}

static void call_site(Dwarf_Die *cudie, Dwarf_Die *inl, const char **file, int *line)
{
    Dwarf_Attribute a;
    Dwarf_Word w;
    Dwarf_Files *files;
    size_t nf;
    *file = NULL;
    *line = 0;
    if (dwarf_attr(inl, DW_AT_call_file, &a) && dwarf_formudata(&a, &w) == 0 &&
        dwarf_getsrcfiles(cudie, &files, &nf) == 0 && w < nf)
        *file = dwarf_filesrc(files, w, NULL, NULL);
    if (dwarf_attr(inl, DW_AT_call_line, &a) && dwarf_formudata(&a, &w) == 0)
        *line = (int)w;
}

int nms__dwarf_lookup(struct nms__file *f, uint64_t pc, struct nms__dwframe *out, int max)
{
    if (!f->dw_tried) {
        f->dw_tried = true;
        f->dw = dwarf_open(f);
    }
    if (!f->dw || max < 1)
        return 0;
    struct cu *cu = find_cu(f->dw, pc);
    if (!cu)
        return 0;
    Dwarf_Die *cudie = &cu->die;
    Dwarf_Die chain[NMS_MAX_INLINE];
    Dwarf_Die *fn = find_fn(cu, pc);
    int k = 0;
    if (fn) {
        chain[k++] = *fn;
        k = walk(fn, pc, chain, k, max < NMS_MAX_INLINE ? max : NMS_MAX_INLINE, 0);
    }
    const char *file = NULL;
    int line = 0;
    Dwarf_Line *l = dwarf_getsrc_die(cudie, pc);
    if (l) {
        file = dwarf_linesrc(l, NULL, NULL);
        if (dwarf_lineno(l, &line) != 0)
            line = 0;
    }
    if (k == 0) {
        if (!file)
            return 0;
        out[0] = (struct nms__dwframe){NULL, file, line};
        return 1;
    }
    out[0] = (struct nms__dwframe){die_name(&chain[k - 1]), file, line};
    for (int i = 1; i < k; i++) {
        int j = k - 1 - i;
        out[i].name = die_name(&chain[j]);
        call_site(cudie, &chain[j + 1], &out[i].file, &out[i].line);
    }
    return k;
}
