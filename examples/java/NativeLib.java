/**
 * The Java side of libnmexjni.so (examples/jni/nmex_jni.c), standing in for a
 * third-party JNI library. Load it with -Djava.library.path=<build>/examples/lib.
 */
final class NativeLib {
    static {
        System.loadLibrary("nmexjni");
    }

    private NativeLib() {}

    /** Leaks count blocks of size bytes from nmex_session_open; returns the bytes leaked. */
    static native long leak(int count, int size);

    /** Everything leak() has leaked in this process so far. */
    static native long leakedBytes();

    /** Sizes the bounded cache (once); false if it could not be allocated. */
    static native boolean cacheInit(int capacity);

    /** Puts one entry of size bytes, evicting the oldest when full; returns live cache bytes. */
    static native long cachePut(int size);
}
