import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.CountDownLatch;

/**
 * FileChannel.read into a large *heap* ByteBuffer copies through a temporary
 * direct buffer of the same size (sun.nio.ch.Util.getTemporaryDirectBuffer),
 * and each thread caches that buffer for reuse until the thread dies. A pool of
 * long-lived threads therefore pins threads x bufferBytes of native memory,
 * malloc'ed in Unsafe_AllocateMemory0 under the NIO read frames.
 *
 * Usage: NioTempCache [threads=4] [bufferBytes=4194304] [readsPerThread=3]
 */
public final class NioTempCache {
    public static void main(String[] args) throws Exception {
        int threads = Args.get(args, 0, 4);
        int size = Args.get(args, 1, 4 << 20);
        int reads = Args.get(args, 2, 3);
        Path file = Files.createTempFile("nmex-nio", ".bin");
        file.toFile().deleteOnExit();
        Files.write(file, new byte[size]);

        CountDownLatch done = new CountDownLatch(threads);
        CountDownLatch exit = new CountDownLatch(1);
        long[] total = new long[threads];
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread w = new Thread(() -> {
                ByteBuffer heap = ByteBuffer.allocate(size);
                try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                    for (int r = 0; r < reads; r++) {
                        heap.clear();
                        while (heap.hasRemaining() && ch.read(heap, heap.position()) > 0)
                            ;
                        total[id] += heap.position();
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
                done.countDown();
                // A pooled worker stays alive, and so does its buffer cache.
                try {
                    exit.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "pool-worker-" + t);
            w.setDaemon(true);
            w.start();
        }
        done.await();
        long sum = 0;
        for (long v : total)
            sum += v;
        System.out.println("read " + sum + " bytes with " + threads + " long-lived threads; "
                + "their temporary direct buffer caches hold about " + ((long) threads * size) + " bytes");
        // Exit with the workers still alive, as a service's pool would be.
        System.exit(0);
    }
}
