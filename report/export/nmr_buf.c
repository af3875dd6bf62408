/*
 * nmr_buf.c: the growable output buffer shared by the export views
 * (pprof, jeprof, flame graph, chart, HTML), its escaping helpers, the
 * human byte formatter, and the one place where an export reaches the disk.
 */
#include "nmr_buf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void nmr__buf_free(struct nmr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int nmr__buf_reserve(struct nmr_buf *b, size_t n)
{
    if (b->err)
        return b->err;
    if (n < b->cap - b->len && b->data)
        return 0;
    size_t want = b->len + n + 1;
    if (want < b->len) {
        b->err = -ENOMEM;
        return b->err;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < want)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void nmr__buf_add(struct nmr_buf *b, const void *p, size_t n)
{
    if (nmr__buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void nmr__buf_puts(struct nmr_buf *b, const char *s)
{
    nmr__buf_add(b, s, strlen(s));
}

void nmr__buf_putc(struct nmr_buf *b, char c)
{
    nmr__buf_add(b, &c, 1);
}

void nmr__buf_vprintf(struct nmr_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || nmr__buf_reserve(b, (size_t)n))
        return;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void nmr__buf_printf(struct nmr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nmr__buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void nmr__buf_xml(struct nmr_buf *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            /* XML 1.0 forbids most control characters even as references. */
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
                rep = "?";
        }
        if (rep) {
            nmr__buf_add(b, run, (size_t)(s - run));
            nmr__buf_puts(b, rep);
            run = s + 1;
        }
    }
    nmr__buf_add(b, run, (size_t)(s - run));
}

void nmr__buf_jstr(struct nmr_buf *b, const char *s)
{
    nmr__buf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            nmr__buf_printf(b, "\\%c", c);
        else if (c == '<' || c == '&' || c == '>')
            /* Keeps "</script>", "<!--" and "]]>" out of the literal: safe
             * inside an HTML <script> and an SVG CDATA section alike. */
            nmr__buf_printf(b, "\\u%04x", c);
        else if (c < 0x20)
            nmr__buf_printf(b, "\\u%04x", c);
        else
            nmr__buf_putc(b, (char)c);
    }
    nmr__buf_putc(b, '"');
}

int nmr__buf_write(const struct nmr_buf *b, FILE *out)
{
    if (b->err)
        return b->err;
    if (b->len && fwrite(b->data, 1, b->len, out) != b->len)
        return errno ? -errno : -EIO;
    if (fflush(out) || ferror(out))
        return errno ? -errno : -EIO;
    return 0;
}

const char *nmr__fmt_human(double bytes, char *out, size_t outlen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double a = fabs(bytes);
    unsigned u = 0;
    while (a >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        a /= 1024;
        u++;
    }
    const char *sign = bytes < 0 ? "-" : "";
    if (u == 0)
        snprintf(out, outlen, "%s%.0f B", sign, a);
    else if (a >= 100)
        snprintf(out, outlen, "%s%.0f %s", sign, a, units[u]);
    else if (a >= 10)
        snprintf(out, outlen, "%s%.1f %s", sign, a, units[u]);
    else
        snprintf(out, outlen, "%s%.2f %s", sign, a, units[u]);
    return out;
}
