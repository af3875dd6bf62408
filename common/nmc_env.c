/*
 * nmc_env.c: the known NMTRACE_* names and the unknown-name message.
 */
#include <stdio.h>
#include <string.h>

#include "nmc_env.h"
#include "nmc_vars.h"

#define PREFIX     "NMTRACE_"
#define PREFIX_LEN 8
#define NAME_MAX_  64

/* Edit distance (insert, delete, replace) between a[0..la) and b, both
 * shorter than NAME_MAX_: one row of the table on the stack. */
static size_t distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b), row[NAME_MAX_ + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The known name within 2 edits of name[0..len), or NULL. */
static const char *nearest(const char *name, size_t len)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (const struct nmc_var *v = nmc_vars; v->name != NULL && len < NAME_MAX_; v++) {
        size_t d = distance(name, len, v->name);
        if (d < best_d) {
            best_d = d;
            best = v->name;
        }
    }
    return best;
}

/* Appends s to out[*at..size), cut at the end. */
static void put(char *out, size_t size, size_t *at, const char *s)
{
    while (*s != '\0' && *at + 1 < size)
        out[(*at)++] = *s++;
    out[*at] = '\0';
}

int nmc_env_unknown(const char *entry, char *msg, size_t size)
{
    size_t len = strcspn(entry, "=");
    if (strncmp(entry, PREFIX, PREFIX_LEN) != 0 || size == 0)
        return 0;
    for (const struct nmc_var *v = nmc_vars; v->name != NULL; v++)
        if (strlen(v->name) == len && strncmp(entry, v->name, len) == 0)
            return 0;
    size_t at = 0;
    char name[NAME_MAX_ + 4];
    snprintf(name, sizeof(name), "%.*s%s", len < NAME_MAX_ ? (int)len : NAME_MAX_, entry,
             len < NAME_MAX_ ? "" : "...");
    put(msg, size, &at, "unknown variable ");
    put(msg, size, &at, name);
    put(msg, size, &at, " ignored");
    const char *near = nearest(entry, len);
    if (near != NULL) {
        put(msg, size, &at, "; did you mean ");
        put(msg, size, &at, near);
        put(msg, size, &at, "?");
    }
    put(msg, size, &at, " (known: ");
    for (const struct nmc_var *v = nmc_vars; v->name != NULL; v++) {
        put(msg, size, &at, v == nmc_vars ? PREFIX : ", ");
        put(msg, size, &at, v->name + PREFIX_LEN);
    }
    put(msg, size, &at, ")");
    return 1;
}
