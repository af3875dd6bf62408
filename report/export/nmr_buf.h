/*
 * nmr_buf.h: a growable byte buffer for nmreport's export views.
 *
 * Exports (pprof, jeprof, SVG, HTML) build their whole output in memory and
 * write it at the end, so an out-of-memory failure writes nothing and the
 * gzip step sees one contiguous buffer. Errors are sticky: after the first
 * failed allocation every append is a no-op and nmr__buf_error() says -ENOMEM,
 * so producers check once at the end instead of after every call.
 */
#ifndef NMR_BUF_H
#define NMR_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct nmr_buf {
    char *data; /* always NUL-terminated when len > 0 or after any append */
    size_t len;
    size_t cap;
    int err; /* 0 or -ENOMEM, sticky */
};

#define NMR_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void nmr__buf_free(struct nmr_buf *b);
/* Makes room for n more bytes; returns 0 or -ENOMEM (and sets b->err). */
int nmr__buf_reserve(struct nmr_buf *b, size_t n);
void nmr__buf_add(struct nmr_buf *b, const void *p, size_t n);
void nmr__buf_puts(struct nmr_buf *b, const char *s);
void nmr__buf_putc(struct nmr_buf *b, char c);
void nmr__buf_printf(struct nmr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nmr__buf_vprintf(struct nmr_buf *b, const char *fmt, va_list ap);

/* Text escaped for XML/HTML character data and attribute values. */
void nmr__buf_xml(struct nmr_buf *b, const char *s);
/* s as a JavaScript/JSON string literal, quotes included; '<', '>' and '&'
 * are written as \u00XX so the literal is safe inside an HTML <script> and
 * an SVG CDATA section. */
void nmr__buf_jstr(struct nmr_buf *b, const char *s);

/* 0 or the sticky error. */
static inline int nmr__buf_error(const struct nmr_buf *b)
{
    return b->err;
}

/*
 * Writes the whole buffer to out and flushes it. Returns 0, the buffer's
 * sticky error, or -errno of the failed write; the caller says which file.
 */
int nmr__buf_write(const struct nmr_buf *b, FILE *out);

/*
 * Human-readable byte count: "512 B", "1.5 KiB", "3.25 MiB", "-2.0 GiB".
 * Writes into out[outlen] and returns out.
 */
const char *nmr__fmt_human(double bytes, char *out, size_t outlen);

#endif
