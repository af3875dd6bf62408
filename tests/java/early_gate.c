/*
 * early_gate.c: a JVMTI agent (-agentpath:libnmtt_early_gate.so) that holds
 * a JVM in its start-up, in the JVMTI start phase, for as long as a test
 * wants: test_attach.py --case early attaches to the JVM there.
 *
 * HotSpot posts VMStart once the module system is up, after it has started
 * the Signal Dispatcher (and installed its SIGQUIT handler), and before the
 * live phase and VMInit. An attach listener started by SIGQUIT then serves
 * an attach while the JVM's main thread stays in this callback, and JVMTI
 * still hands out no environment (GetEnv answers JNI_EDETACHED): the window
 * an `nmtrace attach` can fall into by chance right after the JVM starts
 * catching SIGQUIT, made to last.
 *
 * The callback writes "held" on stdout, then reads stdin up to the first
 * newline (the test's "go") and returns: the JVM goes on starting, and what
 * follows on stdin is the program's.
 */
#include <jvmti.h>
#include <string.h>
#include <unistd.h>

static void JNICALL on_vm_start(jvmtiEnv *ti, JNIEnv *jni)
{
    (void)ti, (void)jni;
    static const char held[] = "held\n";
    ssize_t k = write(1, held, sizeof(held) - 1);
    (void)k;
    char c;
    while (read(0, &c, 1) == 1 && c != '\n')
        ;
}

JNIEXPORT jint JNICALL Agent_OnLoad(JavaVM *vm, char *options, void *reserved)
{
    (void)options, (void)reserved;
    jvmtiEnv *ti = NULL;
    if ((*vm)->GetEnv(vm, (void **)&ti, JVMTI_VERSION_1_2) != JNI_OK || !ti)
        return JNI_ERR;
    jvmtiEventCallbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.VMStart = on_vm_start;
    if ((*ti)->SetEventCallbacks(ti, &cb, (jint)sizeof(cb)) != JVMTI_ERROR_NONE ||
        (*ti)->SetEventNotificationMode(ti, JVMTI_ENABLE, JVMTI_EVENT_VM_START, NULL) !=
            JVMTI_ERROR_NONE)
        return JNI_ERR;
    return JNI_OK;
}
