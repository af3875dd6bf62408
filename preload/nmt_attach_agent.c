/*
 * nmt_attach_agent.c: the JVMTI entry point of a dynamic attach (nmtrace
 * attach, jcmd JVMTI.agent_load, VirtualMachine.loadAgentPath).
 *
 * Above both the bridge (nmt_jvm.c) and the attach life cycle
 * (nmt_attach.c), so that neither calls the other: the writer calls the
 * bridge and the attach calls the writer. Built with the bridge.
 */
#include "nmt_attach.h"
#include "nmt_jvm_internal.h"

/* Recording starts here (nmt_attach.c); options say where to and how, or
 * "detach". Under LD_PRELOAD the recorder already runs: the bridge is
 * started if it was not, the attach refused. */
JNIEXPORT jint JNICALL Agent_OnAttach(JavaVM *vm, char *options, void *reserved)
{
    (void)reserved;
    if (nmt__attach_run == NULL || !nmt__attach_waiting())
        nmt__jvm_attach_start(vm);
    if (nmt__attach_run == NULL)
        return JNI_OK;
    return nmt__attach_run(options, nmt__jvm_attach_bridge, vm);
}
