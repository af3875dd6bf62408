/*
 * nmt_jvm_code.c: the history of the JVM's code cache (JCODE records).
 *
 * JVMTI reports each compiled method when it is installed and removed
 * (CompiledMethodLoad/Unload, with the inlining tree of every PcDesc), and
 * each piece of generated code that is not a method (the interpreter, stubs,
 * adapters: DynamicCodeGenerated). GenerateEvents replays both for code that
 * existed before the bridge attached. Each event becomes one JCODE record, in
 * event order, so a reader can name an address found by native unwinding
 * after what occupied it at that point of the file. The callbacks run on JVM
 * threads (compiler threads, the service thread, the bridge thread during a
 * replay): they hold the re-entrancy guard while they run so their own
 * allocations are not recorded.
 */
#include <stdlib.h>

#include "nmt_enc.h"
#include "nmt_format.h"
#include "nmt_jvm_internal.h"

#include <jvmticmlr.h> /* needs jni.h first */

enum { JCODE_LOAD = 1, JCODE_UNLOAD = 2, JCODE_DYNAMIC = 3 };

/* Inlining trees of PcDescs beyond this many per method are not written
 * (a C2 method with deep inlining can have thousands). */
#define MAX_PCS 8192

static void head(struct nmt_enc *b, uint32_t kind, uint64_t start, uint64_t size, uint32_t serial,
                 const char *name)
{
    nmt_enc_u32(b, kind);
    nmt_enc_u64(b, nmt__jvm_now_ns());
    nmt_enc_u64(b, start);
    nmt_enc_u64(b, size);
    nmt_enc_u32(b, serial);
    nmt_enc_cstr(b, name);
}

static void finish(struct nmt_enc *b)
{
    if (b->failed)
        nmt__jvm_count(NMT_JST_RECORDS_LOST, 1);
    else
        nmt__jvm_queue_push(NMT_REC_JCODE, b->data, (uint32_t)b->len);
    free(b->data);
}

static const jvmtiCompiledMethodLoadInlineRecord *inline_record(const void *info)
{
    for (const jvmtiCompiledMethodLoadRecordHeader *h = info; h; h = h->next)
        if (h->kind == JVMTI_CMLR_INLINE_INFO)
            return (const jvmtiCompiledMethodLoadInlineRecord *)h;
    return NULL;
}

/* 1 when PcDesc i has the same frames as PcDesc i + 1 (of n). */
static int same_frames(const jvmtiCompiledMethodLoadInlineRecord *rec, uint32_t i, uint32_t n)
{
    if (i + 1 >= n)
        return 0;
    const PCStackInfo *a = &rec->pcinfo[i], *b = &rec->pcinfo[i + 1];
    if (a->numstackframes != b->numstackframes)
        return 0;
    for (jint k = 0; k < a->numstackframes; k++)
        if (a->methods[k] != b->methods[k] || a->bcis[k] != b->bcis[k])
            return 0;
    return 1;
}

void JNICALL nmt__jvm_on_code_load(jvmtiEnv *ti, jmethodID method, jint size, const void *addr,
                                   jint map_len, const jvmtiAddrLocationMap *map, const void *info)
{
    (void)ti;
    (void)map_len;
    (void)map;
    nmt__jvm_guard_enter();
    nmt__jvm_count(NMT_JST_CODE_LOAD, 1);
    nmt__jvm_code_range_add((uint64_t)(uintptr_t)addr, (uint64_t)size);
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    head(&b, JCODE_LOAD, (uint64_t)(uintptr_t)addr, (uint64_t)size, nmt__jvm_method_serial(method),
         NULL);
    const jvmtiCompiledMethodLoadInlineRecord *rec = inline_record(info);
    uint32_t total = 0;
    if (rec && rec->numpcs > 0 && rec->pcinfo)
        total = rec->numpcs > MAX_PCS ? MAX_PCS : (uint32_t)rec->numpcs;
    /* A reader names an address by the first PcDesc at or after it, so a
     * PcDesc with the same frames as the next one adds nothing. */
    uint32_t npcs = 0;
    for (uint32_t i = 0; i < total; i++)
        npcs += !same_frames(rec, i, total);
    nmt_enc_u32(&b, npcs);
    /* One hold of the method table for every frame of every PcDesc (a C2
     * method has thousands); the loop makes no JVM call. */
    nmt__jvm_methods_lock();
    for (uint32_t i = 0; i < total && !b.failed; i++) {
        if (same_frames(rec, i, total))
            continue;
        const PCStackInfo *pc = &rec->pcinfo[i];
        uint32_t nf = pc->numstackframes > 0 ? (uint32_t)pc->numstackframes : 0;
        nmt_enc_u64(&b, (uint64_t)(uintptr_t)pc->pc);
        nmt_enc_u32(&b, nf);
        /* methods[0] is the innermost (inlined) method. */
        for (uint32_t k = 0; k < nf; k++) {
            nmt_enc_u32(&b, nmt__jvm_method_serial_locked(pc->methods[k]));
            nmt_enc_u32(&b,
                        pc->bcis[k] >= 0 ? (uint32_t)pc->bcis[k] : (uint32_t)NMT_FRAME_BCI_NONE);
        }
    }
    nmt__jvm_methods_unlock();
    finish(&b);
    nmt__jvm_guard_leave();
}

void JNICALL nmt__jvm_on_code_unload(jvmtiEnv *ti, jmethodID method, const void *addr)
{
    (void)ti;
    nmt__jvm_guard_enter();
    nmt__jvm_count(NMT_JST_CODE_UNLOAD, 1);
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    /* The method id may already be invalid here; it is only looked up in our
     * table (never passed to the JVM) to keep the record self-describing. */
    head(&b, JCODE_UNLOAD, (uint64_t)(uintptr_t)addr, 0, nmt__jvm_method_serial(method), NULL);
    nmt_enc_u32(&b, 0);
    finish(&b);
    nmt__jvm_guard_leave();
}

void JNICALL nmt__jvm_on_dynamic_code(jvmtiEnv *ti, const char *name, const void *addr, jint length)
{
    (void)ti;
    nmt__jvm_guard_enter();
    nmt__jvm_count(NMT_JST_CODE_DYNAMIC, 1);
    nmt__jvm_code_range_add((uint64_t)(uintptr_t)addr, (uint64_t)length);
    struct nmt_enc b;
    nmt_enc_init(&b, realloc);
    head(&b, JCODE_DYNAMIC, (uint64_t)(uintptr_t)addr, (uint64_t)length, 0, name);
    nmt_enc_u32(&b, 0);
    finish(&b);
    nmt__jvm_guard_leave();
}
