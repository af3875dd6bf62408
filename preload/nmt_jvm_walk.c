/*
 * nmt_jvm_walk.c: the Java frames of the calling thread, read from HotSpot's
 * own data structures, for the sampled path (NMTRACE_JAVA_WALK=auto).
 *
 * AsyncGetCallTrace costs 40-60 ns a frame (docs/PERFORMANCE.md): it is made
 * for a signal handler that may interrupt a thread anywhere, so it checks
 * every frame against everything that could be half-built. A thread in
 * malloc is not anywhere: it is in native code or in the VM, its Java frames
 * lie below its frame anchor, and they stay as they are while it is there
 * (only a safepoint operation of another thread may patch a return address
 * to a deoptimization handler). This walker reads those frames directly,
 * with the layouts HotSpot publishes for its serviceability agent (the
 * gHotSpotVM* tables: field offsets, type sizes, constants), and gives the
 * frames AsyncGetCallTrace gives: (bytecode index, method id), leaf first,
 * the methods a compiled frame inlined at the call included.
 *
 * It knows three kinds of frame: interpreted, compiled (a Java method or a
 * native method's wrapper, found through the code heap's segment map, its
 * scopes decoded from the method's debug information), and the entry frame
 * where Java was called from native code or the VM (the walk goes on below
 * the native frames, from the anchor the call saved, or ends at the
 * thread's first entry). Anything else (a stub, an adapter, a
 * deoptimization handler, an address outside the thread's stack or a code
 * heap) makes it decline, and the caller takes that stack with
 * AsyncGetCallTrace.
 *
 * Every read of the stack is bounded by the part of the thread's stack
 * above its last Java frame (its guard pages lie below), every read of the
 * code cache by a code heap's committed part. Metadata (Method,
 * ConstMethod, ConstantPool, InstanceKlass) is reached only from a live
 * frame or a live compiled method, which keep it alive. No system call is
 * made, at start-up either. x86-64 only: the frame layouts below are that
 * architecture's; elsewhere it always declines.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "nmt_jvm_internal.h"

#if defined(__x86_64__)

/* x86-64 frame slots, in words from the frame pointer (HotSpot 17's frame
 * layout on that architecture). VMStructs publishes some of them: those are
 * checked, and a JVM whose values differ is not walked. */
#define INTERP_SENDER_SP (-1)
#define INTERP_LAST_SP   (-2)
#define INTERP_METHOD    (-3)
#define INTERP_BCP       (-8)
#define ENTRY_WRAPPER    (-6)
#define JVM_ACC_NATIVE   0x0100
/* The blob names (CodeBlob::_name) of a compiled Java method and of a
 * native method's wrapper. */
static const char NMETHOD_NAME[] = "nmethod";
static const char NATIVE_NAME[] = "native nmethod";
#define MAX_HEAPS 8
/* A field at a byte offset. */
#define AT(type, base, off) (*(const type *)((const char *)(base) + (off)))
/* The HotSpot release the walker knows. */
#define WALK_JDK 17

/* The layout this walker reads, filled once by nmt__jvm_walk_init. */
static struct {
    /* JavaThread: the JNIEnv inside it, its frame anchor, state, stack. */
    int64_t env, anchor, state, stack_base, stack_size;
    /* JavaFrameAnchor, in a JavaThread or a JavaCallWrapper. */
    int64_t af_sp, af_pc, af_fp, af_size;
    int32_t in_native, in_vm;
    /* The code heaps and their segment maps. */
    int n_heaps;
    const char *heaps[MAX_HEAPS];
    int64_t heap_low, heap_high, heap_segmap_low, heap_log2;
    int64_t block_size, block_used;
    /* The interpreter's code and the call stub's return address. */
    uint64_t interp_lo, interp_hi, call_stub_ret;
    /* CodeBlob, CompiledMethod, nmethod. */
    int64_t cb_name, cb_frame_size, cb_code_begin;
    int64_t cm_method, cm_scopes_data, cm_deopt, cm_deopt_mh;
    int64_t nm_pcs, nm_deps, nm_metadata, nm_size;
    /* PcDesc. */
    int64_t pcd_size, pcd_pc, pcd_scope;
    /* Method, ConstMethod, ConstantPool, InstanceKlass, JavaCallWrapper. */
    int64_t m_const, m_flags, c_constants, c_idnum, c_code_size, c_size;
    int64_t cp_holder, ik_ids, jcw_anchor;
} L;

/* 0 not tried, 1 being read, 2 ready, 3 not walkable (the walker declines). */
static _Atomic int layout_state;
static _Atomic int walk_mode; /* enum nmt__jvm_walk_mode */

/* --- The gHotSpotVM* tables ------------------------------------------------ */

struct table {
    const char *base;
    uint64_t stride;
};
static struct table t_structs, t_types, t_ints;
static uint64_t s_type, s_field, s_static, s_offset, s_addr, ty_name, ty_size, i_name, i_value;

/* libjvm's symbol lookup, for the duration of nmt__jvm_walk_init. */
static void *(*lookup)(void *handle, const char *name);

static int sym_u64(void *jvm, const char *name, uint64_t *out)
{
    const uint64_t *p = lookup(jvm, name);
    if (!p)
        return -1;
    *out = *p;
    return 0;
}

static int sym_table(void *jvm, const char *name, const char *stride, struct table *t)
{
    const char *const *p = lookup(jvm, name);
    if (!p || !*p || sym_u64(jvm, stride, &t->stride) != 0 || t->stride == 0)
        return -1;
    t->base = *p;
    return 0;
}

static const char *str_at(const char *entry, uint64_t off)
{
    return *(const char *const *)(entry + off);
}

/* The entry of type::field; NULL when the JVM does not publish it. */
static const char *struct_entry(const char *type, const char *field)
{
    for (const char *e = t_structs.base; str_at(e, s_type) != NULL; e += t_structs.stride) {
        const char *f = str_at(e, s_field);
        if (f && strcmp(str_at(e, s_type), type) == 0 && strcmp(f, field) == 0)
            return e;
    }
    return NULL;
}

static int64_t field_off(const char *type, const char *field, int *missing)
{
    const char *e = struct_entry(type, field);
    if (!e || *(const int32_t *)(e + s_static)) {
        (*missing)++;
        return 0;
    }
    return (int64_t) * (const uint64_t *)(e + s_offset);
}

static const void *static_addr(const char *type, const char *field, int *missing)
{
    const char *e = struct_entry(type, field);
    const void *a = e && *(const int32_t *)(e + s_static) ? *(void *const *)(e + s_addr) : NULL;
    if (!a)
        (*missing)++;
    return a;
}

static int64_t type_size(const char *type, int *missing)
{
    for (const char *e = t_types.base; str_at(e, ty_name) != NULL; e += t_types.stride)
        if (strcmp(str_at(e, ty_name), type) == 0)
            return (int64_t) * (const uint64_t *)(e + ty_size);
    (*missing)++;
    return 0;
}

static int32_t int_const(const char *name, int *missing)
{
    for (const char *e = t_ints.base; str_at(e, i_name) != NULL; e += t_ints.stride)
        if (strcmp(str_at(e, i_name), name) == 0)
            return *(const int32_t *)(e + i_value);
    (*missing)++;
    return 0;
}

static int read_tables(void *jvm)
{
    if (sym_table(jvm, "gHotSpotVMStructs", "gHotSpotVMStructEntryArrayStride", &t_structs) ||
        sym_table(jvm, "gHotSpotVMTypes", "gHotSpotVMTypeEntryArrayStride", &t_types) ||
        sym_table(jvm, "gHotSpotVMIntConstants", "gHotSpotVMIntConstantEntryArrayStride",
                  &t_ints) ||
        sym_u64(jvm, "gHotSpotVMStructEntryTypeNameOffset", &s_type) ||
        sym_u64(jvm, "gHotSpotVMStructEntryFieldNameOffset", &s_field) ||
        sym_u64(jvm, "gHotSpotVMStructEntryIsStaticOffset", &s_static) ||
        sym_u64(jvm, "gHotSpotVMStructEntryOffsetOffset", &s_offset) ||
        sym_u64(jvm, "gHotSpotVMStructEntryAddressOffset", &s_addr) ||
        sym_u64(jvm, "gHotSpotVMTypeEntryTypeNameOffset", &ty_name) ||
        sym_u64(jvm, "gHotSpotVMTypeEntrySizeOffset", &ty_size) ||
        sym_u64(jvm, "gHotSpotVMIntConstantEntryNameOffset", &i_name) ||
        sym_u64(jvm, "gHotSpotVMIntConstantEntryValueOffset", &i_value))
        return -1;
    return 0;
}

/* The code heaps (CodeCache::_heaps, a GrowableArray<CodeHeap*>), fixed once
 * the JVM has started. */
static int read_heaps(int *missing)
{
    const void *const *heaps_var = static_addr("CodeCache", "_heaps", missing);
    int64_t len_off = field_off("GrowableArrayBase", "_len", missing);
    int64_t data_off = field_off("GrowableArray<int>", "_data", missing);
    if (*missing || !*heaps_var)
        return -1;
    const char *arr = *heaps_var;
    int len = *(const int *)(arr + len_off);
    const char *const *data = *(const char *const *const *)(arr + data_off);
    if (len <= 0 || len > MAX_HEAPS || !data)
        return -1;
    for (int i = 0; i < len; i++)
        if (!(L.heaps[i] = data[i]))
            return -1;
    L.n_heaps = len;
    return 0;
}

/*
 * The offset of the JNIEnv inside a JavaThread, which VMStructs does not
 * publish: in HotSpot 17's JavaThread it follows the frame anchor and one
 * pointer (the thread's entry point). It is checked on the calling thread,
 * which is in native code: at that offset its state must say so, and its
 * stack must hold this frame. The fields read lie inside the JavaThread
 * (VMTypes gives its size); no system call is made (a seccomp filter may
 * kill the process for one it does not expect).
 */
static int find_env_offset(JNIEnv *jni, int64_t thread_base_size, int64_t thread_size)
{
    int64_t off = L.anchor + L.af_size + 8;
    if (off < thread_base_size || off + 8 > thread_size || L.state + 4 > thread_size ||
        L.stack_base + 8 > thread_size || L.stack_size + 8 > thread_size)
        return -1;
    const char *t = (const char *)jni - off;
    uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
    int32_t state = AT(int32_t, t, L.state);
    uint64_t base = AT(uint64_t, t, L.stack_base), size = AT(uint64_t, t, L.stack_size);
    if (state != L.in_native || size == 0 || size >= (1ull << 32) || base <= here ||
        base - size >= here)
        return -1;
    L.env = off;
    return 0;
}

static int read_layout(void *jvm, JNIEnv *jni)
{
    int m = 0;
    if (read_tables(jvm) != 0)
        return -1;
    /* The layouts and encodings below were checked against this release's
     * AsyncGetCallTrace (tests/java/test_walk.py); another release keeps
     * AsyncGetCallTrace for every stack. */
    const int32_t *major = static_addr("Abstract_VM_Version", "_vm_major_version", &m);
    if (m != 0 || *major != WALK_JDK)
        return -1;
    L.anchor = field_off("JavaThread", "_anchor", &m);
    L.af_sp = field_off("JavaFrameAnchor", "_last_Java_sp", &m);
    L.af_pc = field_off("JavaFrameAnchor", "_last_Java_pc", &m);
    L.af_fp = field_off("JavaFrameAnchor", "_last_Java_fp", &m);
    L.af_size = type_size("JavaFrameAnchor", &m);
    L.state = field_off("JavaThread", "_thread_state", &m);
    L.stack_base = field_off("JavaThread", "_stack_base", &m);
    L.stack_size = field_off("JavaThread", "_stack_size", &m);
    L.in_native = int_const("_thread_in_native", &m);
    L.in_vm = int_const("_thread_in_vm", &m);

    int64_t memory = field_off("CodeHeap", "_memory", &m);
    L.heap_low = memory + field_off("VirtualSpace", "_low", &m);
    L.heap_high = memory + field_off("VirtualSpace", "_high", &m);
    L.heap_segmap_low =
        field_off("CodeHeap", "_segmap", &m) + field_off("VirtualSpace", "_low", &m);
    L.heap_log2 = field_off("CodeHeap", "_log2_segment_size", &m);
    L.block_size = type_size("HeapBlock", &m);
    L.block_used =
        field_off("HeapBlock", "_header", &m) + field_off("HeapBlock::Header", "_used", &m);

    L.cb_name = field_off("CodeBlob", "_name", &m);
    L.cb_frame_size = field_off("CodeBlob", "_frame_size", &m);
    L.cb_code_begin = field_off("CodeBlob", "_code_begin", &m);
    L.cm_method = field_off("CompiledMethod", "_method", &m);
    L.cm_scopes_data = field_off("CompiledMethod", "_scopes_data_begin", &m);
    L.cm_deopt = field_off("CompiledMethod", "_deopt_handler_begin", &m);
    L.cm_deopt_mh = field_off("CompiledMethod", "_deopt_mh_handler_begin", &m);
    L.nm_pcs = field_off("nmethod", "_scopes_pcs_offset", &m);
    L.nm_deps = field_off("nmethod", "_dependencies_offset", &m);
    L.nm_metadata = field_off("nmethod", "_metadata_offset", &m);
    L.nm_size = type_size("nmethod", &m);
    L.pcd_size = type_size("PcDesc", &m);
    L.pcd_pc = field_off("PcDesc", "_pc_offset", &m);
    L.pcd_scope = field_off("PcDesc", "_scope_decode_offset", &m);

    L.m_const = field_off("Method", "_constMethod", &m);
    L.m_flags = field_off("Method", "_access_flags", &m) + field_off("AccessFlags", "_flags", &m);
    L.c_constants = field_off("ConstMethod", "_constants", &m);
    L.c_idnum = field_off("ConstMethod", "_method_idnum", &m);
    L.c_code_size = field_off("ConstMethod", "_code_size", &m);
    L.c_size = type_size("ConstMethod", &m);
    L.cp_holder = field_off("ConstantPool", "_pool_holder", &m);
    L.ik_ids = field_off("InstanceKlass", "_methods_jmethod_ids", &m);
    L.jcw_anchor = field_off("JavaCallWrapper", "_anchor", &m);

    /* The frame slots this file assumes, where the JVM says them. */
    if (int_const("frame::interpreter_frame_sender_sp_offset", &m) != INTERP_SENDER_SP ||
        int_const("frame::interpreter_frame_last_sp_offset", &m) != INTERP_LAST_SP ||
        int_const("frame::entry_frame_call_wrapper_offset", &m) != ENTRY_WRAPPER ||
        int_const("InvocationEntryBci", &m) != -1)
        return -1;

    const void *const *interp = static_addr("AbstractInterpreter", "_code", &m);
    int64_t q_buf = field_off("StubQueue", "_stub_buffer", &m);
    int64_t q_limit = field_off("StubQueue", "_buffer_limit", &m);
    const void *const *call_stub = static_addr("StubRoutines", "_call_stub_return_address", &m);
    int64_t thread_size = type_size("JavaThread", &m);
    int64_t thread_base_size = type_size("Thread", &m);
    if (m != 0 || L.pcd_size <= 0 || L.c_size <= 0 || L.block_size <= 0 || L.nm_size <= 0 ||
        L.af_size <= 0)
        return -1;
    const char *queue = *interp;
    if (!queue || !*call_stub)
        return -1;
    L.interp_lo = (uint64_t)(uintptr_t) * (const char *const *)(queue + q_buf);
    L.interp_hi = L.interp_lo + (uint64_t) * (const int32_t *)(queue + q_limit);
    L.call_stub_ret = (uint64_t)(uintptr_t)*call_stub;
    if (!L.interp_lo || L.interp_hi <= L.interp_lo)
        return -1;
    if (read_heaps(&m) != 0)
        return -1;
    return find_env_offset(jni, thread_base_size, thread_size);
}

void nmt__jvm_walk_init(void *(*sym)(void *, const char *), void *jvm, JNIEnv *jni, int mode)
{
    atomic_store_explicit(&walk_mode, mode, memory_order_relaxed);
    int expect = 0;
    if (mode == NMT_WALK_ASGCT || !sym || !jvm || !jni ||
        !atomic_compare_exchange_strong(&layout_state, &expect, 1))
        return;
    lookup = sym;
    int ok = read_layout(jvm, jni) == 0;
    atomic_store_explicit(&layout_state, ok ? 2 : 3, memory_order_release);
}

int nmt__jvm_walk_mode(void)
{
    /* Without a layout every stack is AsyncGetCallTrace's: none is counted
     * as declined by a walker that never looked at it. */
    if (atomic_load_explicit(&layout_state, memory_order_acquire) != 2)
        return NMT_WALK_ASGCT;
    return atomic_load_explicit(&walk_mode, memory_order_relaxed);
}

int nmt__jvm_walk_ready(void)
{
    return atomic_load_explicit(&layout_state, memory_order_acquire) == 2;
}

/* --- The walk ----------------------------------------------------------- */

/* The thread's stack, [lo, hi). */
struct stack {
    uint64_t lo, hi;
};

static inline int in_stack(const struct stack *s, uint64_t a, uint64_t len)
{
    return a >= s->lo && a <= s->hi && s->hi - a >= len;
}

/* The method id of a Method, as InstanceKlass::jmethod_id_or_null finds it;
 * NULL when it was not created (AsyncGetCallTrace reports those as NULL). */
static jmethodID method_id(const char *method)
{
    const char *cm = AT(const char *, method, L.m_const);
    const char *cp = cm ? AT(const char *, cm, L.c_constants) : NULL;
    const char *holder = cp ? AT(const char *, cp, L.cp_holder) : NULL;
    if (!holder)
        return NULL;
    jmethodID *ids =
        atomic_load_explicit((jmethodID * _Atomic *)(holder + L.ik_ids), memory_order_acquire);
    uint64_t idnum = AT(uint16_t, cm, L.c_idnum);
    if (!ids || (uint64_t)(uintptr_t)ids[0] <= idnum)
        return NULL;
    return ids[idnum + 1];
}

static inline int is_native(const char *method)
{
    return (AT(uint32_t, method, L.m_flags) & JVM_ACC_NATIVE) != 0;
}

/* The compiled blob that holds pc, or NULL when pc is in no code heap, in a
 * free block, or in a blob that is not a compiled method (CodeHeap's
 * find_block_for, then the blob's name). */
static const char *find_nmethod(uint64_t pc)
{
    for (int i = 0; i < L.n_heaps; i++) {
        const char *h = L.heaps[i];
        uint64_t low = AT(uint64_t, h, L.heap_low), high = AT(uint64_t, h, L.heap_high);
        if (pc < low || pc >= high)
            continue;
        const uint8_t *map = AT(const uint8_t *, h, L.heap_segmap_low);
        int log2 = AT(int32_t, h, L.heap_log2);
        if (!map || log2 <= 0 || log2 > 20)
            return NULL;
        uint64_t seg = (pc - low) >> log2;
        /* 0xff marks a free segment; 0 a block's first; n: n segments back. */
        for (int hops = 0; map[seg] != 0; hops++) {
            if (map[seg] == 0xff || map[seg] > seg || hops > 65536)
                return NULL;
            seg -= map[seg];
        }
        const char *block = (const char *)(uintptr_t)(low + (seg << log2));
        if ((uint64_t)(uintptr_t)block + (uint64_t)(L.block_size + L.nm_size) > high ||
            !AT(uint8_t, block, L.block_used))
            return NULL;
        const char *blob = block + L.block_size;
        const char *name = AT(const char *, blob, L.cb_name);
        if (!name || (strcmp(name, NMETHOD_NAME) != 0 && strcmp(name, NATIVE_NAME) != 0))
            return NULL;
        return blob;
    }
    return NULL;
}

/* One int of HotSpot's compressed streams (UNSIGNED5: bytes below 192 end
 * a value, higher ones carry six more bits each, five bytes at most). */
static int read_int(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    const uint8_t *q = *p;
    if (q >= end)
        return -1;
    uint32_t sum = *q++;
    if (sum >= 192) {
        int shift = 6;
        for (int i = 1;; i++, shift += 6) {
            if (q >= end)
                return -1;
            uint32_t b = *q++;
            sum += b << shift;
            if (b < 192 || i == 4)
                break;
        }
    }
    *p = q;
    *out = sum;
    return 0;
}

/* The PcDesc of a return address: a binary search of the method's PcDescs,
 * which are sorted by pc offset. NULL when none is at exactly off. */
static const char *pc_desc(const char *nm, int32_t off)
{
    const char *first = nm + AT(int32_t, nm, L.nm_pcs);
    const char *end = nm + AT(int32_t, nm, L.nm_deps);
    if (end <= first)
        return NULL;
    uint64_t lo = 0, hi = (uint64_t)(end - first) / (uint64_t)L.pcd_size;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        const char *d = first + mid * (uint64_t)L.pcd_size;
        int32_t at = AT(int32_t, d, L.pcd_pc);
        if (at == off)
            return d;
        if (at < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The frames of a compiled Java method at return address pc: the method
 * and what it inlined there, innermost first, as far as room allows.
 * Returns the new frame count, or -1 to decline. */
static int compiled_frames(const char *nm, uint64_t pc, struct nmt__asgct_frame *out, int n,
                           int depth)
{
    const char *method = AT(const char *, nm, L.cm_method);
    if (!method)
        return -1;
    if (is_native(method)) {
        out[n].lineno = -3;
        out[n].method = method_id(method);
        return n + 1;
    }
    uint64_t code = AT(uint64_t, nm, L.cb_code_begin);
    const char *d = pc >= code && pc - code < (1u << 30) ? pc_desc(nm, (int32_t)(pc - code)) : NULL;
    if (!d)
        return -1;
    const uint8_t *data = AT(const uint8_t *, nm, L.cm_scopes_data);
    const uint8_t *data_end = (const uint8_t *)nm + AT(int32_t, nm, L.nm_pcs);
    const char *const *metadata = (const char *const *)(nm + AT(int32_t, nm, L.nm_metadata));
    uint32_t scope = (uint32_t)AT(int32_t, d, L.pcd_scope);
    /* The metadata section ends where the scopes begin. */
    if (!data || data >= data_end || (const char *)data < (const char *)metadata || scope == 0)
        return -1;
    uint64_t n_metadata = (uint64_t)((const char *)data - (const char *)metadata) / 8;
    /* Each scope: the sender scope's offset (0: none), the method's index
     * in the metadata section (1-based), the bytecode index + 1. */
    while (scope != 0 && n < depth) {
        const uint8_t *p = data + scope;
        uint32_t sender, index, bci1;
        if (scope >= (uint64_t)(data_end - data) || read_int(&p, data_end, &sender) ||
            read_int(&p, data_end, &index) || read_int(&p, data_end, &bci1) || index == 0 ||
            index > n_metadata)
            return -1;
        const char *m = metadata[index - 1];
        if (!m)
            return -1;
        out[n].lineno = is_native(m) ? -3 : (jint)bci1 - 1;
        out[n].method = method_id(m);
        n++;
        scope = sender;
    }
    return n;
}

/* The last Java frame a frame anchor (a thread's, or a call wrapper's for
 * the Java frames below a native call) records: its stack, frame and
 * instruction pointers; the instruction pointer, when not recorded, is the
 * return address under the stack pointer (x86-64). 0, or -1 for none. */
static int from_anchor(const struct stack *s, const char *anchor, uint64_t *sp, uint64_t *pc,
                       uint64_t *fp)
{
    *sp = AT(uint64_t, anchor, L.af_sp);
    *pc = AT(uint64_t, anchor, L.af_pc);
    *fp = AT(uint64_t, anchor, L.af_fp);
    if (!*sp || !in_stack(s, *sp - 8, 8))
        return -1;
    if (!*pc)
        *pc = AT(uint64_t, *sp - 8, 0);
    return 0;
}

int nmt__jvm_walk(JNIEnv *env, struct nmt__asgct_frame *out, uint32_t depth)
{
    if (atomic_load_explicit(&layout_state, memory_order_acquire) != 2)
        return -1;
    const char *t = (const char *)env - L.env;
    int32_t st = atomic_load_explicit((_Atomic int32_t *)(t + L.state), memory_order_acquire);
    if (st != L.in_native && st != L.in_vm)
        return -1;
    struct stack s;
    s.hi = AT(uint64_t, t, L.stack_base);
    s.lo = s.hi - AT(uint64_t, t, L.stack_size);
    uint64_t sp, usp, pc, fp;
    if (from_anchor(&s, t + L.anchor, &sp, &pc, &fp) != 0)
        return -1;
    /* Every frame the walk reads lies above the last Java frame: the rest
     * of the stack, where its guard pages are, is never read. */
    s.lo = sp - 8;
    /* usp: the frame's unextended stack pointer, from which a compiled
     * frame's size is counted (an interpreted callee may have extended its
     * caller's frame). */
    usp = sp;
    int n = 0;
    while (n < (int)depth) {
        uint64_t next_sp, next_usp, next_pc, next_fp;
        if (pc == L.call_stub_ret) {
            /* The entry frame, where Java was called from native code or
             * the VM: its call wrapper keeps the anchor of the Java frames
             * below, if any (none: the thread's first entry, the end). */
            if (fp <= sp || !in_stack(&s, fp + ENTRY_WRAPPER * 8, 8))
                return -1;
            uint64_t wrapper = AT(uint64_t, fp + ENTRY_WRAPPER * 8, 0);
            if (!in_stack(&s, wrapper + (uint64_t)L.jcw_anchor, (uint64_t)L.af_size))
                return -1;
            const char *anchor = (const char *)(uintptr_t)wrapper + L.jcw_anchor;
            if (AT(uint64_t, anchor, L.af_sp) == 0)
                return n;
            if (from_anchor(&s, anchor, &next_sp, &next_pc, &next_fp) != 0)
                return -1;
            next_usp = next_sp;
        } else if (pc >= L.interp_lo && pc < L.interp_hi) {
            if (fp <= sp || !in_stack(&s, fp + INTERP_BCP * 8, (2 - INTERP_BCP) * 8))
                return -1;
            const char *method = AT(const char *, fp + INTERP_METHOD * 8, 0);
            if (!method || ((uintptr_t)method & 7))
                return -1;
            const char *cm = AT(const char *, method, L.m_const);
            if (!cm)
                return -1;
            if (is_native(method)) {
                out[n].lineno = -3;
            } else {
                /* A bcp outside the method's code reads as bytecode 0, as
                 * for AsyncGetCallTrace. */
                uint64_t bcp = AT(uint64_t, fp + INTERP_BCP * 8, 0);
                uint64_t code = (uint64_t)(uintptr_t)cm + (uint64_t)L.c_size;
                uint64_t size = AT(uint16_t, cm, L.c_code_size);
                out[n].lineno = bcp >= code && bcp - code < size ? (jint)(bcp - code) : 0;
            }
            out[n].method = method_id(method);
            n++;
            next_sp = fp + 16;
            next_usp = AT(uint64_t, fp + INTERP_SENDER_SP * 8, 0);
            next_pc = AT(uint64_t, fp + 8, 0);
            next_fp = AT(uint64_t, fp, 0);
        } else {
            const char *nm = find_nmethod(pc);
            if (!nm || pc == AT(uint64_t, nm, L.cm_deopt) || pc == AT(uint64_t, nm, L.cm_deopt_mh))
                return -1;
            int32_t size = AT(int32_t, nm, L.cb_frame_size);
            if (size <= 0 || size > (1 << 16))
                return -1;
            n = compiled_frames(nm, pc, out, n, (int)depth);
            if (n < 0)
                return -1;
            next_sp = next_usp = usp + (uint64_t)size * 8;
            if (!in_stack(&s, next_sp - 16, 16))
                return -1;
            next_pc = AT(uint64_t, next_sp - 8, 0);
            next_fp = AT(uint64_t, next_sp - 16, 0);
        }
        /* Frames lie ever higher on the stack: the walk ends. */
        if (next_sp <= sp || next_usp < usp)
            return -1;
        sp = next_sp;
        usp = next_usp;
        pc = next_pc;
        fp = next_fp;
    }
    return n;
}

/*
 * NMTRACE_JAVA_WALK=check, around AsyncGetCallTrace: after a runtime call
 * from the interpreter a thread in the VM has a frame anchor without its
 * instruction pointer, which AsyncGetCallTrace refuses and the walker reads
 * under the stack pointer. HotSpot fills it in the same way itself whenever
 * such a thread leaves the VM (JavaFrameAnchor::make_walkable); doing so for
 * the call, on the thread's own anchor, lets the check compare these stacks
 * too. 1 when it was filled: nmt__jvm_walk_unfill puts it back.
 */
int nmt__jvm_walk_fill(JNIEnv *env)
{
    if (atomic_load_explicit(&layout_state, memory_order_acquire) != 2)
        return 0;
    char *anchor = (char *)env - L.env + L.anchor;
    uint64_t sp = AT(uint64_t, anchor, L.af_sp);
    if (sp == 0 || AT(uint64_t, anchor, L.af_pc) != 0)
        return 0;
    *(volatile uint64_t *)(anchor + L.af_pc) = AT(uint64_t, sp - 8, 0);
    return 1;
}

void nmt__jvm_walk_unfill(JNIEnv *env)
{
    char *anchor = (char *)env - L.env + L.anchor;
    *(volatile uint64_t *)(anchor + L.af_pc) = 0;
}

#else /* not x86-64: AsyncGetCallTrace takes every stack */

void nmt__jvm_walk_init(void *(*sym)(void *, const char *), void *jvm, JNIEnv *jni, int mode)
{
    (void)sym, (void)jvm, (void)jni, (void)mode;
}

int nmt__jvm_walk_mode(void)
{
    return NMT_WALK_ASGCT;
}

int nmt__jvm_walk_ready(void)
{
    return 0;
}

int nmt__jvm_walk(JNIEnv *env, struct nmt__asgct_frame *out, uint32_t depth)
{
    (void)env, (void)out, (void)depth;
    return -1;
}

int nmt__jvm_walk_fill(JNIEnv *env)
{
    (void)env;
    return 0;
}

void nmt__jvm_walk_unfill(JNIEnv *env)
{
    (void)env;
}

#endif
