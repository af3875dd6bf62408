/*
 * nmr_jtidy.c: one name per Java method, and one frame per run of unnamed
 * interpreter frames.
 *
 * A Java method reaches the report by three roads: a Java frame word of the
 * bridge (named from its JMETHOD record as `pkg.Class.method`, the source
 * file and line kept apart), a native address in the code cache named from
 * the JCODE history (the same form), and a native address named by the JVM's
 * perf map, which spells methods its own way: `long NativeLib.leak(int, int)`
 * (JDK 17+), `LNativeLib;::leak`, `NativeLib::leak`. nmr__java_canonical
 * turns the perf map's spellings into the first form, so views group one
 * method under one name.
 *
 * nmr__java_tidy works on one symbolized stack (leaf first):
 *  - a native frame naming a Java method directly followed by the Java
 *    frame of the same method is the same activation seen twice (the
 *    recorder replaces code-cache frames by the Java stack, but a native
 *    wrapper whose code-load event came after the sample is not yet known as
 *    code-cache code): the native one is dropped;
 *  - consecutive frames of the template interpreter (JVM code named
 *    "Interpreter") are the frames of interpreted methods that native
 *    unwinding walked because no Java stack was taken for the sample; they
 *    become one frame whose name says that and why (the JVM bridge off or
 *    not attached yet, or AsyncGetCallTrace refusing: from the counters).
 */
#include <string.h>

#include "nmt_format.h"
#include "nmr_internal.h"

static int ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '.' || c == '/' || c == '<' || c == '>' || c == '-';
}

/* Copies [s, s + n) to out with '/' as '.'; 1, or 0 when it does not fit. */
static int put_dotted(const char *s, size_t n, char *out, size_t len, size_t *at)
{
    if (*at + n + 1 > len)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[(*at)++] = s[i] == '/' ? '.' : s[i];
    out[*at] = 0;
    return 1;
}

int nmr__java_canonical(const char *name, char *out, size_t len)
{
    size_t at = 0;
    const char *cc = strstr(name, "::");
    if (cc) {
        /* `Lpkg/Class;::method(sig)` or `pkg.Class::method` */
        const char *cls = name, *cls_end = cc;
        if (cls[0] == 'L' && cc > cls + 1 && cc[-1] == ';') {
            cls++;
            cls_end--;
        }
        const char *m = cc + 2, *m_end = m;
        while (*m_end && ident(*m_end) && *m_end != '.' && *m_end != '/')
            m_end++;
        if (m_end == m || cls_end == cls)
            return 0;
        return put_dotted(cls, (size_t)(cls_end - cls), out, len, &at) &&
               put_dotted(".", 1, out, len, &at) &&
               put_dotted(m, (size_t)(m_end - m), out, len, &at);
    }
    /* `ret pkg.Class.method(args)`: the word before the parenthesis. */
    const char *paren = strchr(name, '(');
    if (!paren)
        return 0;
    const char *start = paren;
    while (start > name && ident(start[-1]))
        start--;
    if (start == paren || !memchr(start, '.', (size_t)(paren - start)))
        return 0;
    return put_dotted(start, (size_t)(paren - start), out, len, &at);
}

static int is_interpreter(const struct nmr_frame *f)
{
    return f->cls == NMR_CLS_JIT && f->function && strcmp(f->function, "Interpreter") == 0;
}

static int64_t counter(const struct nmr_snapshot *s, const char *name)
{
    int64_t v = 0;
    return s && nmr_counter_get(s, name, &v) ? v : 0;
}

/* Why interpreter frames are in a stack instead of Java frames, from the
 * snapshot's counters of samples without a Java stack (java.err.*). The
 * reason is the profile's, not the stack's, so that one code address has
 * one name in every stack (pprof's locations are keyed by address). */
static const char *interpreter_label(const struct nmr_snapshot *s)
{
    if (counter(s, "java.stacks") == 0 && counter(s, "java.err.not_attached") == 0)
        return "[interpreted Java frames, not named: the JVM bridge was off]";
    int64_t refused = 0;
    for (size_t i = 0; s && i < s->ncounters; i++)
        if (strncmp(s->counters[i].name, "java.err.", 9) == 0 &&
            strcmp(s->counters[i].name, "java.err.not_attached") != 0 &&
            strcmp(s->counters[i].name, "java.err.stopped") != 0 &&
            strcmp(s->counters[i].name, "java.err.not_java_thread") != 0)
            refused += s->counters[i].value;
    if (refused == 0)
        return "[interpreted Java frames, not named: before the JVM bridge attached]";
    return "[interpreted Java frames, not named: no Java stack for the sample (the JVM bridge "
           "not attached yet, or AsyncGetCallTrace refused: see --stats, java.err.*)]";
}

size_t nmr__java_tidy(struct nmr_frame *fr, size_t n, const uint64_t *raw,
                      const struct nmr_snapshot *s)
{
    const char *label = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct nmr_frame *f = &fr[i];
        if (i + 1 < n && f->cls == NMR_CLS_JAVA && !(raw[f->raw_index] & NMT_FRAME_JAVA) &&
            (raw[fr[i + 1].raw_index] & NMT_FRAME_JAVA) && fr[i + 1].function && f->function &&
            strcmp(f->function, fr[i + 1].function) == 0)
            continue;
        if (is_interpreter(f)) {
            if (k > 0 && fr[k - 1].function == label && label)
                continue;
            if (!label)
                label = interpreter_label(s);
            fr[k] = *f;
            fr[k].function = label;
            k++;
            continue;
        }
        fr[k++] = *f;
    }
    return k;
}
