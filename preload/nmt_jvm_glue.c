/*
 * nmt_jvm_glue.c: the JVM bridge's only contact with the recorder's
 * internals: its re-entrancy guard and its stderr notices. Kept apart so
 * the bridge can be exercised by a test harness that provides these two.
 */
#include "nmt_internal.h"
#include "nmt_jvm_internal.h"

void nmt__jvm_guard_enter(void)
{
    nmt__tls.guard++;
}

void nmt__jvm_guard_leave(void)
{
    nmt__tls.guard--;
}

void nmt__jvm_say(const char *msg)
{
    nmt__say("nmtrace: %s", msg);
}
