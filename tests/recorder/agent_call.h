/*
 * agent_call.h: calls libnmtrace.so's Agent_OnAttach as a JVM would, for
 * the C programs that attach the recorder to themselves (prog_reload.c,
 * prog_attach_relro.c). There is no JVM: the agent finds none behind the
 * pointer it gets and records native stacks only.
 */
#ifndef NMTT_AGENT_CALL_H
#define NMTT_AGENT_CALL_H

#include <stdio.h>

typedef int (*agent_fn)(void *vm, char *options, void *reserved);

/* Agent_OnAttach(vm, options, NULL) with options in a writable buffer (the
 * JVM's is, and the agent may cut it up); its return value. */
static inline int agent_call(agent_fn agent, const char *options)
{
    static char buf[1024];
    static int not_a_vm;
    snprintf(buf, sizeof(buf), "%s", options);
    return agent(&not_a_vm, buf, NULL);
}

#endif
