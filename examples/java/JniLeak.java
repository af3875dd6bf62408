import java.util.ArrayList;
import java.util.List;

/**
 * A third-party JNI library leaks: every call to NativeLib.leak() mallocs
 * blocks in nmex_session_open() that nobody frees, next to a scratch buffer
 * that is freed at once. The program prints the exact number of bytes leaked,
 * the ground truth the report's top site should match.
 *
 * Usage: JniLeak [threads=2] [blocksPerThread=20000] [blockBytes=1000]
 */
public final class JniLeak {
    public static void main(String[] args) throws InterruptedException {
        int threads = Args.get(args, 0, 2);
        int blocks = Args.get(args, 1, 20000);
        int size = Args.get(args, 2, 1000);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> {
                // Small batches, as a service would call the library per request.
                for (int done = 0; done < blocks; done += 100)
                    NativeLib.leak(Math.min(100, blocks - done), size);
            }, "jni-worker-" + t);
            workers.add(w);
            w.start();
        }
        for (Thread w : workers)
            w.join();
        long leaked = NativeLib.leakedBytes();
        System.out.println("leaked " + leaked + " bytes in " + ((long) threads * blocks)
                + " blocks from nmex_session_open (libnmexjni.so)");
    }
}
