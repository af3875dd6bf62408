/*
 * nmt_jvm_state.c: the JVM bridge's shared state (nmt_jvm_internal.h says
 * what each variable means). The bridge's life cycle (nmt_jvm.c) writes it;
 * the sampled path and the counters (nmt_jvm_stack.c) read it. Defined apart
 * so that neither of those files depends on the other through it.
 */
#include "nmt_jvm_internal.h"

_Atomic int nmt__jvm_state = NMT_JVM_WAITING;
_Atomic(nmt__asgct_fn) nmt__jvm_asgct;
JavaVM *_Atomic nmt__jvm_vm;
_Atomic int nmt__jvm_found;
_Atomic int nmt__jvm_via;
