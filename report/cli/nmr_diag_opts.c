/*
 * nmr_diag_opts.c: the options of the owner and diagnosis features
 * (--key, --app, --fail-on), parsed apart from the rest of the command line.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nmc_parse.h"
#include "nmr_diag_opts.h"

static int bad(char *err, size_t errlen, const char *what, const char *arg)
{
    snprintf(err, errlen, "%s, not '%s'", what, arg);
    return -EINVAL;
}

int nmr__opts_diag(struct nmr_opts *o, const char *name, const char *arg, char *err, size_t errlen)
{
    if (strcmp(name, "key") == 0) {
        if (strcmp(arg, "site") == 0)
            o->key = NMR_KEYBY_SITE;
        else if (strcmp(arg, "owner") == 0)
            o->key = NMR_KEYBY_OWNER;
        else if (strcmp(arg, "path") == 0)
            o->key = NMR_KEYBY_PATH;
        else
            return bad(err, errlen, "--key takes site, owner or path", arg);
        return 0;
    }
    if (strcmp(name, "app") == 0) {
        size_t longest = 0;
        for (const char *t = arg; *t; t += strcspn(t, ",") + (t[strcspn(t, ",")] == ','))
            longest = strcspn(t, ",") > longest ? strcspn(t, ",") : longest;
        if (!longest || longest >= 128)
            return bad(err, errlen,
                       "--app takes Java package prefixes (under 128 characters each) like "
                       "com.acme,org.acme",
                       arg);
        o->app = arg;
        return 0;
    }
    /* fail-on */
    const char *what = "--fail-on takes leak-suspect or leak-suspect:BYTES (e.g. 64MiB)";
    if (strncmp(arg, "leak-suspect", 12) != 0 || (arg[12] && arg[12] != ':'))
        return bad(err, errlen, what, arg);
    o->fail_on = 1;
    o->fail_bytes = 0;
    uint64_t v = 0;
    if (arg[12] == ':' && (nmc_parse_size(arg + 13, &v) != 0 || v > INT64_MAX))
        return bad(err, errlen, what, arg);
    o->fail_bytes = (int64_t)v;
    return 0;
}

int nmr__diag_json_view(struct nmr_opts *o, const char *name)
{
    const char *cur = o->view ? o->view : "";
    if ((strcmp(cur, "diagnose") == 0 && strcmp(name, "json") == 0) ||
        (strcmp(cur, "json") == 0 && strcmp(name, "diagnose") == 0)) {
        o->view = "diagnose";
        o->diag_json = 1;
        return 1;
    }
    return 0;
}
