/*
 * nmr_java.h: the Java records of a profile (docs/FORMAT.md §5) for nmreport.
 *
 * A struct nmr_java holds every JMETHOD (method serial -> class, name,
 * signature, source file, line table) and the code-cache history of JCODE
 * records. With it a view names a Java frame word (bit 63 of a STACK frame)
 * as `pkg.Class.method(File.java:LINE)` and a native address inside the
 * code cache as what occupied it at a given time, without a JVM. It owns all
 * its memory; pointers it returns stay valid until nmr_java_free().
 */
#ifndef NMR_JAVA_H
#define NMR_JAVA_H

#include <stddef.h>
#include <stdint.h>

struct nmr_profile;
struct nmr_java;

struct nmr_java_line {
    uint32_t bci;  /* first bytecode index of the line */
    uint32_t line; /* source line */
};

struct nmr_java_method {
    uint32_t serial;
    uint32_t status;         /* 0, or the JVMTI error that left it unnamed (class unloaded: 23) */
    uint32_t modifiers;      /* JVM access flags (0x100: native) */
    uint64_t method_id;      /* the jmethodID in the recorded process (informative) */
    const char *class_name;  /* dotted, "java.nio.DirectByteBuffer"; NULL when unnamed */
    const char *name;        /* "<init>"; NULL when unnamed */
    const char *signature;   /* "(J)V"; NULL when unnamed */
    const char *source_file; /* "DirectByteBuffer.java"; NULL when unknown */
    uint32_t nlines;
    const struct nmr_java_line *lines; /* sorted by bci */
};

/* What occupied a code-cache address (nmr_java_code_at). */
struct nmr_java_code {
    int is_method;    /* 1: a compiled Java method; 0: JVM code (stub, interpreter) */
    uint32_t serial;  /* the compiled method's serial (is_method) */
    const char *name; /* JVM code's name ("Interpreter", "StubRoutines (1)"), else NULL */
    uint64_t start, size;
    uint64_t load_ns; /* CLOCK_MONOTONIC of the load event */
    /* The inlining at the address, innermost method first (is_method and the
     * JVM described the PcDesc): serials[i] at bytecode index bcis[i]. */
    uint32_t nframes;
    const uint32_t *serials;
    const uint32_t *bcis;
};

struct nmr_java *nmr_java_new(void);
void nmr_java_free(struct nmr_java *j);

/*
 * Adds one record in file order. JMETHOD (10) and JCODE (11) are decoded;
 * other types are ignored (0). Returns 0, -EINVAL for a payload shorter than
 * its fields say (corruption), -ENOMEM. A later JMETHOD for a serial
 * replaces an earlier one.
 */
int nmr_java_add(struct nmr_java *j, uint16_t type, const uint8_t *payload, uint32_t len);

/* Builds a table from a profile's p->java_records. 0 or -errno (*out NULL). */
int nmr_java_from_profile(const struct nmr_profile *p, struct nmr_java **out);

/* The method with this serial, or NULL. */
const struct nmr_java_method *nmr_java_method(const struct nmr_java *j, uint32_t serial);

/* Source line of bci in m (the line-table entry with the largest start <= bci), 0 if unknown. */
uint32_t nmr_java_line_of(const struct nmr_java_method *m, uint32_t bci);

/*
 * Writes the name of a method at a bytecode index as Java prints stack
 * frames: `pkg.Class.method(File.java:LINE)`, `(File.java)` without a line,
 * `(Native Method)`, `(Unknown Source)`; `java:<serial>@<bci>` for a serial
 * without a usable JMETHOD. bci NMT_FRAME_BCI_NONE (0x0fffffff) = unknown.
 * snprintf semantics (returns the length it wanted).
 */
int nmr_java_method_name(const struct nmr_java *j, uint32_t serial, uint32_t bci, char *buf,
                         size_t len);

/* The same for a Java frame word of a STACK record (bit 63 set); -1 if not one. */
int nmr_java_frame_name(const struct nmr_java *j, uint64_t frame, char *buf, size_t len);

/*
 * What occupied addr in the code cache at time t_ns (CLOCK_MONOTONIC, as
 * SNAP_BEGIN.monotonic_ns): the most recent load covering addr at or before
 * t_ns that was not unloaded by then. Returns 1 and fills *out, else 0.
 */
int nmr_java_code_at(const struct nmr_java *j, uint64_t addr, uint64_t t_ns,
                     struct nmr_java_code *out);

/*
 * Names addr as nmr_java_code_at finds it: a compiled method as
 * nmr_java_method_name (innermost inlined frame when known); JVM code by its
 * name. Returns NMR_CLS_JAVA or NMR_CLS_JIT (enum nmr_class) and writes buf,
 * or -1 when nothing occupied addr.
 */
int nmr_java_code_name(const struct nmr_java *j, uint64_t addr, uint64_t t_ns, char *buf,
                       size_t len);

/* Counts for --stats: methods, unnamed methods, code records. */
void nmr_java_counts(const struct nmr_java *j, size_t *methods, size_t *unnamed, size_t *code);

#endif
