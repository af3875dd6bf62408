import java.io.File;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Unsafe;

/**
 * A service under heavy churn and no leak: worker threads allocate and free
 * native memory (Unsafe), make heap garbage, and short-lived threads come and
 * go, for a number of seconds. Whatever is live at any moment is bounded by
 * construction (one block per worker in flight).
 *
 * Usage: NativeChurn [seconds=4] [workers=4] [stop-file]
 * With a stop file it goes on after the seconds until that file exists:
 * a test ends the run once the recording has what it needs, not after a
 * time in which a busy machine may not have produced it.
 */
public final class NativeChurn {
    public static void main(String[] args) throws Exception {
        long seconds = args.length > 0 ? Long.parseLong(args[0]) : 4;
        int workers = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        File stop = args.length > 2 ? new File(args[2]) : null;
        Field f = Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        Unsafe unsafe = (Unsafe) f.get(null);
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        // Set once the time is up and the stop file (if any) exists.
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        long[] ops = new long[workers];
        for (int w = 0; w < workers; w++) {
            final int id = w;
            Thread t = new Thread(() -> {
                StringBuilder sb = new StringBuilder();
                while (!done.get()) {
                    int size = 4096 << (int) (ops[id] % 6);
                    long addr = unsafe.allocateMemory(size);
                    unsafe.setMemory(addr, size, (byte) 3);
                    unsafe.freeMemory(addr);
                    sb.setLength(0);
                    for (int i = 0; i < 64; i++)
                        sb.append(i);
                    byte[] garbage = new byte[16384 + sb.length()];
                    garbage[0] = 1;
                    ops[id]++;
                }
            }, "churn-" + w);
            t.start();
            threads.add(t);
        }
        long spawned = 0;
        while (!done.get()) {
            Thread t = new Thread(() -> {
                long a = unsafe.allocateMemory(1 << 16);
                unsafe.freeMemory(a);
            });
            t.start();
            t.join();
            spawned++;
            Thread.sleep(5);
            if (System.nanoTime() >= end && (stop == null || stop.exists()))
                done.set(true);
        }
        long total = 0;
        for (Thread t : threads)
            t.join();
        for (long o : ops)
            total += o;
        System.out.println("churned " + total + " native blocks in " + workers + " workers and "
                + spawned + " short-lived threads; nothing kept");
    }
}
