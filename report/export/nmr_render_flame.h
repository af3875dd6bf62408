/*
 * nmr_render_flame.h: a flame graph: a tree of frames merged by path, its
 * layout, and its rendering as a self-contained interactive SVG (inline
 * JavaScript: click to zoom, reset, search with the matched share, tooltips;
 * colours by frame class). The same SVG can stand alone or be embedded in an
 * HTML page (nmr_html.c), which then drives it through its JavaScript API:
 *
 *   window.nmrFlame[id].search(regexSource)  -> matched fraction (0..1)
 *   window.nmrFlame[id].clearSearch()
 *   window.nmrFlame[id].zoom(frameIndex)     window.nmrFlame[id].reset()
 *
 * The tree does not copy strings: names and libraries must outlive it (the
 * profile model's strings do).
 */
#ifndef NMR_RENDER_FLAME_H
#define NMR_RENDER_FLAME_H

#include "nmr_buf.h"
#include "nmr_hindex.h"
#include "nmr_profile.h"
#include "nmr_view.h"

#include <stddef.h>
#include <stdint.h>

/* One frame of a path added to the tree. lib may be NULL or "". */
struct nmr_flame_frame {
    const char *name;
    const char *lib;
    enum nmr_class cls;
};

struct nmr_flame_node; /* private */

struct nmr_flame {
    struct nmr_flame_node *nodes; /* nodes[0] is the root */
    size_t nnodes, cap;
    struct nmr_hindex index; /* hash of (parent, name, lib, cls) -> node index */
    double total;
};

/* root_name labels the bottom bar ("all"); must outlive the tree. */
int nmr__flame_init(struct nmr_flame *f, const char *root_name);
void nmr__flame_free(struct nmr_flame *f);

/*
 * Adds value to every node of path (root first: path[0] is the outermost
 * caller, path[n-1] the leaf). value must be >= 0; zero is ignored. Returns 0
 * or -ENOMEM (the tree is unchanged then), -EINVAL for a negative value.
 */
int nmr__flame_add(struct nmr_flame *f, const struct nmr_flame_frame *path, size_t n, double value);

struct nmr_flame_opts {
    const char *id;       /* DOM id of the <svg>, unique in a page: [A-Za-z0-9_-] */
    const char *title;    /* shown on top */
    const char *subtitle; /* one line under the title, may be NULL */
    const char *unit;     /* "bytes" (human units) or a count noun ("objects") */
    int width;            /* pixels; 0 = 1200 */
    int standalone;       /* 1: XML prolog, for a .svg file; 0: inline in HTML */
    double min_px;        /* frames narrower than this at full width are left
                             out (their value stays in the parent); 0 = 0.1 */
    size_t max_frames;    /* at most this many frames, the widest kept (a
                             browser slows down past a few ten thousand SVG
                             elements); 0 = 8000 */
};

/* Appends the SVG document to out. Returns 0 or -ENOMEM. */
int nmr__flame_svg(const struct nmr_flame *f, const struct nmr_flame_opts *o, struct nmr_buf *out);

/* A frame colour, "rgb(r,g,b)": the class picks the hue family and the name
 * a deterministic shade in it. Exposed for the HTML legend and tests. */
void nmr__flame_color(enum nmr_class cls, const char *name, char *out, size_t outlen);
/* The representative (middle) colour of a class, for legends. */
void nmr__flame_class_color(enum nmr_class cls, char *out, size_t outlen);

/*
 * The flame graph of a view (nmr_flamegraph.c, shared with the HTML page): one
 * path per row, root first: outermost caller ... allocation site ... libc
 * and allocator frames, then the allocating API ("malloc", "mmap") as the
 * leaf. Widths are the view's measure; in a diff only growth can be drawn,
 * so negative values are left out and their sum is returned in *left_out.
 * Returns 0 or -ENOMEM.
 */
int nmr__flame_build(const struct nmr_view *v, struct nmr_flame *f, int64_t *left_out);

/* Title and subtitle of a view's flame graph (snapshot, diff, selection). */
void nmr__flame_titles(const struct nmr_view *v, int64_t left_out, char *title, size_t tlen,
                       char *sub, size_t slen);

/* Builds the flame graph of the view's rows and appends its SVG to b: the
 * standalone file (--flamegraph) or the figure inside the HTML page. 0, or
 * -ENOMEM. `id` prefixes the element ids, so two graphs can share a page. */
int nmr__flame_render(const struct nmr_view *v, const char *id, int standalone, struct nmr_buf *b);

#endif
