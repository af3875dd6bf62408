/*
 * nmr_tree.c: --tree, the allocation-site tree: each allocation site at the
 * top with its value, its callers indented below it (caller of the site, its
 * caller, ...), each line with the value and percentage of the total that
 * went through that path. --callers turns it over: outermost frames
 * (main, thread entry) at the top, allocation sites at the leaves.
 * Frames between the entry point and the site (libc, allocator) are shown on
 * the site's line as "via ...", since they do not change who allocated.
 */
#include <errno.h>
#include <stdlib.h>

#include "nmr_hindex.h"
#include "nmr_view.h"

struct tnode {
    const struct nmr_frame *frame; /* NULL: the stack's api (no frames) */
    const char *api;
    int64_t v;
    size_t first_child, next; /* index + 1, 0: none */
    size_t parent;            /* index + 1 */
};

struct tree {
    struct tnode *n;
    size_t len, cap;
    struct nmr_hindex index; /* hash (parent, function, lib) -> index */
};

static uint64_t hkey(size_t parent, const char *fn, const char *lib)
{
    return nmr__hash_fn_lib(parent * 0x9e3779b97f4a7c15ull, fn, lib);
}

static const char *fn_of(const struct tnode *t)
{
    return t->frame ? t->frame->function : t->api;
}

static const char *lib_of(const struct tnode *t)
{
    return t->frame ? t->frame->lib : "";
}

/* The child of parent (index + 1, 0 = root) for frame f; created when new. */
static size_t child(struct tree *t, size_t parent, const struct nmr_frame *f, const char *api)
{
    const char *fn = f ? f->function : api, *lib = f ? f->lib : "";
    uint64_t h = hkey(parent, fn, lib);
    struct nmr_hfind it = nmr_hindex_find(&t->index, h);
    size_t i;
    while (nmr_hfind_next(&it, &i)) {
        const struct tnode *c = &t->n[i];
        if (c->parent == parent && strcmp(fn_of(c), fn) == 0 && strcmp(lib_of(c), lib) == 0)
            return i + 1;
    }
    if (nmr__grow(&t->n, &t->cap, t->len + 1, sizeof(*t->n)) ||
        nmr_hindex_add(&t->index, h, t->len))
        return 0;
    struct tnode *c = &t->n[t->len];
    memset(c, 0, sizeof(*c));
    c->frame = f;
    c->api = api;
    c->parent = parent;
    return ++t->len;
}

static int build(struct tree *t, const struct nmr_view *v)
{
    for (size_t r = 0; r < v->nrows; r++) {
        const struct nmr_stack *s = v->rows[r].stack;
        int64_t val = v->rows[r].v[v->measure];
        if (val == 0)
            continue;
        int site = s->site >= 0 ? s->site : 0;
        size_t cur = 0;
        if (s->nframes == 0) {
            if (!(cur = child(t, 0, NULL, s->api)))
                return -ENOMEM;
            t->n[cur - 1].v = nmr_sat_add(t->n[cur - 1].v, val);
            continue;
        }
        /* Default: site first, then its callers; --callers: outermost first. */
        for (uint32_t k = 0; k < s->nframes - (uint32_t)site; k++) {
            uint32_t j = v->opt->callers ? s->nframes - 1 - k : (uint32_t)site + k;
            if (!(cur = child(t, cur, &s->frames[j], s->api)))
                return -ENOMEM;
            t->n[cur - 1].v = nmr_sat_add(t->n[cur - 1].v, val);
        }
    }
    /* Link children after the fact: indexes are stable now. */
    for (size_t i = t->len; i-- > 0;) {
        size_t p = t->n[i].parent;
        if (p) {
            t->n[i].next = t->n[p - 1].first_child;
            t->n[p - 1].first_child = i + 1;
        }
    }
    return 0;
}

static const struct tree *sort_tree;

static int cmp_idx(const void *a, const void *b)
{
    const struct tnode *x = &sort_tree->n[*(const size_t *)a - 1];
    const struct tnode *y = &sort_tree->n[*(const size_t *)b - 1];
    uint64_t ax = x->v < 0 ? (uint64_t)0 - (uint64_t)x->v : (uint64_t)x->v;
    uint64_t ay = y->v < 0 ? (uint64_t)0 - (uint64_t)y->v : (uint64_t)y->v;
    if (ax != ay)
        return ax > ay ? -1 : 1;
    int c = strcmp(fn_of(x), fn_of(y));
    return c ? c : strcmp(lib_of(x), lib_of(y));
}

/* The frames below the site (libc, allocator) of the stacks, for "via". */
#define TREE_MAX_INDENT 64

static void print_line(const struct nmr_view *v, const struct tnode *t, int depth, int64_t total,
                       int is_site)
{
    char b[32];
    const struct nmr_frame *f = t->frame;
    /* Two spaces a level, up to TREE_MAX_INDENT levels; deeper lines say
     * their level instead, so a deep stack's tree stays linear in size. */
    if (depth > TREE_MAX_INDENT)
        fprintf(v->out, "%*s[%d] ", TREE_MAX_INDENT * 2, "", depth);
    else
        fprintf(v->out, "%*s", depth * 2, "");
    fprintf(v->out, "%10s %5.1f%%  ", nmr_fmt_value(b, sizeof(b), t->v, v->measure),
            nmr_pct(t->v, total));
    if (!f) {
        fprintf(v->out, "%s (no frames)\n", t->api);
        return;
    }
    fprintf(v->out, "%s", f->function);
    if (f->file && f->cls == NMR_CLS_JAVA && f->line > 0)
        fprintf(v->out, "(%s:%d)", f->file, f->line); /* as Java prints stack traces */
    else if (f->file && f->cls == NMR_CLS_JAVA)
        fprintf(v->out, "(%s)", f->file);
    else if (f->file)
        fprintf(v->out, " %s:%d", f->file, f->line);
    if (f->lib[0])
        fprintf(v->out, " [%s]", f->lib);
    fprintf(v->out, " (%s)", f->cls_name);
    if (is_site)
        fprintf(v->out, " via %s", t->api);
    fputc('\n', v->out);
}

/* The children of first's sibling list, sorted for printing; NULL on ENOMEM. */
static size_t *sorted_children(const struct tree *t, size_t first, size_t *count)
{
    size_t n = 0;
    for (size_t c = first; c; c = t->n[c - 1].next)
        n++;
    size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
    if (!idx)
        return NULL;
    n = 0;
    for (size_t c = first; c; c = t->n[c - 1].next)
        idx[n++] = c;
    sort_tree = t;
    qsort(idx, n, sizeof(*idx), cmp_idx);
    *count = n;
    return idx;
}

/*
 * Depth-first, each level's children in sorted order. Iterative, with one
 * entry per open level: the tree is as deep as the deepest stack in the
 * file, far more than the C stack could take in recursion.
 */
static int print(const struct nmr_view *v, const struct tree *t, size_t first, int64_t total,
                 size_t *lines, size_t *hidden)
{
    struct level {
        size_t *idx, n, i;
    } *st = malloc(16 * sizeof(*st));
    size_t cap = 16, depth = 0;
    int rc = 0;
    if (!st || !(st[0].idx = sorted_children(t, first, &st[0].n))) {
        free(st);
        return -ENOMEM;
    }
    st[0].i = 0;
    for (;;) {
        struct level *l = &st[depth];
        if (l->i == l->n) {
            free(l->idx);
            if (depth-- == 0)
                break;
            continue;
        }
        const struct tnode *c = &t->n[l->idx[l->i++] - 1];
        if (!nmr_view_above_threshold(v, c->v, total) ||
            (depth == 0 && v->opt->nodecount && *lines >= v->opt->nodecount)) {
            (*hidden)++;
            continue;
        }
        int is_site = v->opt->callers ? c->first_child == 0 : depth == 0;
        print_line(v, c, depth > INT32_MAX ? INT32_MAX : (int)depth, total, is_site);
        if (depth == 0)
            (*lines)++;
        if (!c->first_child)
            continue;
        if (depth + 1 == cap) {
            struct level *ns = realloc(st, 2 * cap * sizeof(*st));
            if (!ns) {
                rc = -ENOMEM;
                break;
            }
            st = ns;
            cap *= 2;
        }
        l = &st[++depth];
        l->i = 0;
        if (!(l->idx = sorted_children(t, c->first_child, &l->n))) {
            depth--;
            rc = -ENOMEM;
            break;
        }
    }
    if (rc)
        for (size_t d = 0; d <= depth; d++)
            free(st[d].idx);
    free(st);
    return rc;
}

int nmr_view_tree(const struct nmr_view *v)
{
    struct tree t = {0};
    int rc = build(&t, v);
    size_t roots = 0, lines = 0, hidden = 0;
    if (!rc) {
        /* Roots are the nodes without parent: link them as one sibling list. */
        size_t head = 0;
        for (size_t i = t.len; i-- > 0;)
            if (!t.n[i].parent) {
                t.n[i].next = head;
                head = i + 1;
                roots++;
            }
        nmr__print_total(v);
        fprintf(v->out, "%s\n",
                v->opt->callers
                    ? "Callers tree: outermost frames first, allocation sites at the leaves"
                    : "Allocation sites, each with its callers below it");
        rc = print(v, &t, head, v->total[v->measure], &lines, &hidden);
        if (!rc && hidden)
            fprintf(v->out, "(%zu more below --nodecount/--threshold)\n", hidden);
    }
    free(t.n);
    nmr_hindex_free(&t.index);
    return rc ? nmr__oom() : 0;
}
