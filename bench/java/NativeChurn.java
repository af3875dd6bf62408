import java.nio.ByteBuffer;

/**
 * NativeChurn: a steady off-heap workload for bench/run_java.sh.
 *
 * Each worker thread, per iteration: replaces the oldest of a window of
 * DirectByteBuffers with a new one (256..16383 bytes: malloc in
 * Unsafe_AllocateMemory0, freed by the buffer's Cleaner after a GC), replaces
 * the oldest of a window of JNI blocks (malloc/free in libnmt_bench_jni.so),
 * lets the JNI library make a few temporaries, and drops a small heap array
 * so young GCs run regularly. A warm-up phase (not timed) lets the JIT settle.
 *
 * usage: java -Djava.library.path=DIR NativeChurn [threads] [iterations] [warmup] [depth]
 * depth: Java frames each worker adds under its loop (recursion), so that
 * sampled stacks are as deep as a service's (default 0).
 * Prints "RESULT loop_s=... loop_cpu_s=..." for scripts: the loop's wall time
 * and the CPU time the whole process (GC, JIT and any profiler thread
 * included) spent during it (clock_gettime in the JNI library: to the
 * nanosecond, and without loading the management classes).
 */
public final class NativeChurn {
    static {
        System.loadLibrary("nmt_bench_jni");
    }

    static native long nalloc(int size);

    static native void nfree(long p);

    static native long nwork(int n, int seed);

    static native long cpuNanos();

    static final int WINDOW = 256;

    static volatile long sink;

    private static long run(int iters, int seed) {
        ByteBuffer[] bufs = new ByteBuffer[WINDOW];
        long[] blocks = new long[WINDOW];
        int x = seed | 1;
        long sum = 0;
        for (int i = 0; i < iters; i++) {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            int slot = i % WINDOW;
            ByteBuffer b = ByteBuffer.allocateDirect(256 + (x & 16127));
            b.put(0, (byte) i);
            bufs[slot] = b;
            if (blocks[slot] != 0) {
                nfree(blocks[slot]);
            }
            blocks[slot] = nalloc(64 + ((x >>> 14) & 16383));
            sum += nwork(4, x);
            byte[] heap = new byte[2048 + (x & 2047)];
            heap[0] = (byte) x;
            sum += heap[heap.length - 1] + b.get(0);
        }
        for (long p : blocks) {
            if (p != 0) {
                nfree(p);
            }
        }
        return sum;
    }

    /** run(iters, seed) under depth more Java frames. */
    private static long deep(int depth, int iters, int seed) {
        return depth <= 0 ? run(iters, seed) : 1 + deep(depth - 1, iters, seed);
    }

    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int iters = args.length > 1 ? Integer.parseInt(args[1]) : 100000;
        int warmup = args.length > 2 ? Integer.parseInt(args[2]) : 20000;
        int depth = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        // Calls enough for the JIT to compile deep(): a service's deep
        // frames are mostly compiled code, not interpreted.
        for (int i = 0; depth > 0 && i < 10000; i++) {
            sink += deep(depth, 0, i);
        }
        for (int t = 0; t < threads; t++) {
            sink += deep(depth, warmup, 17 + t);
        }
        Thread[] ts = new Thread[threads];
        long[] sums = new long[threads];
        long c0 = cpuNanos();
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            ts[t] = new Thread(() -> sums[id] = deep(depth, iters, 1 + id), "churn-" + t);
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        double cpu = (cpuNanos() - c0) / 1e9;
        for (long v : sums) {
            sink += v;
        }
        System.out.printf("NativeChurn: %d threads x %d iterations in %.3f s%n", threads, iters, s);
        System.out.printf("RESULT loop_s=%.4f loop_cpu_s=%.4f ns_per_iter=%.1f%n", s, cpu,
                s * 1e9 / iters);
    }
}
