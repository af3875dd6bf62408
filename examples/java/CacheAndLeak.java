import java.lang.reflect.Field;
import java.util.concurrent.SynchronousQueue;
import sun.misc.Unsafe;

/**
 * A bounded off-heap cache on the main thread next to a leak on a worker
 * thread, both through Unsafe.allocateMemory: the same native allocation site
 * (Unsafe_AllocateMemory0), two owners. The main thread drives the run in
 * steps: during the first quarter it adds entries to the cache, which then is
 * full and stays so; at every step it hands the worker one step of leaking and
 * waits for it, so the interleaving is the same on any machine.
 *
 * Usage: CacheAndLeak [steps=48] [cacheEntries=64] [entryBytes=262144]
 *                     [leakBytesPerStep=1048576] [pauseMs=10]
 * Prints the bytes the cache holds and the bytes the worker leaked.
 */
public final class CacheAndLeak {
    private static Unsafe unsafe;

    /** A fixed number of off-heap slots, filled once. */
    static final class OffHeapCache {
        private final long[] slots;
        private int used;
        private long bytes;

        OffHeapCache(int capacity) {
            slots = new long[capacity];
        }

        void put(int size) {
            if (used == slots.length)
                return; // full: a bounded cache stops growing
            long addr = unsafe.allocateMemory(size);
            unsafe.setMemory(addr, size, (byte) 1);
            slots[used++] = addr;
            bytes += size;
        }
    }

    static long leaked;

    /** One step of the worker's leak: blocks nobody frees. */
    static void leakStep(long bytes) {
        for (long done = 0; done < bytes; done += 65536) {
            long addr = unsafe.allocateMemory(65536);
            unsafe.setMemory(addr, 65536, (byte) 2);
            leaked += 65536;
        }
    }

    public static void main(String[] args) throws Exception {
        int steps = Args.get(args, 0, 48);
        int entries = Args.get(args, 1, 64);
        int entryBytes = Args.get(args, 2, 262144);
        int leakPerStep = Args.get(args, 3, 1 << 20);
        int pause = Args.get(args, 4, 10);
        Field f = Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        unsafe = (Unsafe) f.get(null);

        SynchronousQueue<Integer> work = new SynchronousQueue<>(), done = new SynchronousQueue<>();
        Thread worker = new Thread(() -> {
            try {
                for (int s = 0; s < steps; s++) {
                    work.take();
                    leakStep(leakPerStep);
                    done.put(s);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "leaker");
        worker.start();

        OffHeapCache cache = new OffHeapCache(entries);
        int fillSteps = Math.max(1, steps / 4);
        for (int s = 0; s < steps; s++) {
            if (s < fillSteps)
                for (int i = 0; i < (entries + fillSteps - 1) / fillSteps; i++)
                    cache.put(entryBytes);
            work.put(s);
            done.take();
            Thread.sleep(pause);
        }
        worker.join();
        System.out.println("cache holds " + cache.bytes + " bytes in " + cache.used
                + " entries (CacheAndLeak$OffHeapCache.put, main thread); worker leaked " + leaked
                + " bytes (CacheAndLeak.leakStep, thread leaker)");
    }
}
