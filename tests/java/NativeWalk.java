/**
 * The Java side of libnmtt_walk_jni.so (tests/java/walk_jni.c), for WalkMix's
 * jni and upcall phases. Load it with -Djava.library.path=<build>/tests/java.
 */
final class NativeWalk {
    static {
        System.loadLibrary("nmtt_walk_jni");
    }

    private NativeWalk() {}

    /** mallocs size bytes in native code, touches and frees them (the thread in native). */
    static native long alloc(int size);

    /**
     * n times: a malloc in native code, then a call back into Java
     * (fromNative), which calls alloc: Java, native, Java, native malloc.
     * Call i allocates size bytes when i is a multiple of 16, else 32.
     */
    static native long upcall(int n, int size);

    /** Called by upcall from native code. */
    static long fromNative(int i, int size) {
        return alloc(size) + i;
    }
}
