import java.io.BufferedReader;
import java.io.FileWriter;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A running service for the attach tests: it leaks at a steady pace through
 * a JNI library (NativeLib.leak, never freed) and keeps DirectByteBuffers,
 * until a line "quit" arrives on stdin. After every tick it appends
 * "<System.nanoTime()> <jni bytes> <direct bytes>" to the counter file: the
 * ground truth over time (nanoTime is CLOCK_MONOTONIC on Linux, the clock of
 * the profile's snapshots). Its stdout is "ready" then, at quit, "done":
 * attaching must not change it.
 *
 * Usage: AttachTarget counterFile blocksPerTick blockBytes directBytesPerTick tickMs [keep]
 * With keep > 0 only the last keep buffers stay reachable (churn, no growth).
 * With blocksPerTick < 0 the JNI library is loaded, and leaks -blocksPerTick
 * blocks a tick, only once a line "start" arrives (a library loaded late).
 * After a line "pause" it leaks no more JNI blocks and keeps logging: two
 * equal JNI counts in a row say the leak has stopped. After a line "once"
 * it leaks one more block of 4 MiB through leakOnce, a method called
 * nowhere else, and then logs "once <System.nanoTime()>".
 */
public final class AttachTarget {
    static volatile boolean started;
    static volatile boolean paused;
    static volatile boolean once;

    /** The "once" block: its stack is the only one with this method. */
    static void leakOnce() {
        NativeLib.leak(1, 4 << 20);
    }

    public static void main(String[] args) throws Exception {
        String counters = args[0];
        int blocks = Integer.parseInt(args[1]);
        started = blocks >= 0;
        int perTick = Math.abs(blocks);
        int size = Integer.parseInt(args[2]);
        int direct = Integer.parseInt(args[3]);
        int tickMs = Integer.parseInt(args[4]);
        int keep = args.length > 5 ? Integer.parseInt(args[5]) : 0;
        List<ByteBuffer> kept = new ArrayList<>();
        Thread stdin = new Thread(() -> {
            try {
                BufferedReader r = new BufferedReader(new InputStreamReader(System.in));
                for (String line; (line = r.readLine()) != null && !line.equals("quit");)
                    if (line.equals("start"))
                        started = true;
                    else if (line.equals("pause"))
                        paused = true;
                    else if (line.equals("once"))
                        once = true;
            } catch (Exception e) {
                // end of input ends the program too
            }
        }, "stdin");
        stdin.setDaemon(true);
        stdin.start();
        long directBytes = 0;
        try (PrintWriter log = new PrintWriter(new FileWriter(counters, true))) {
            System.out.println("ready");
            System.out.flush();
            while (stdin.isAlive()) {
                if (started && !paused && perTick > 0)
                    NativeLib.leak(perTick, size);
                if (direct > 0) {
                    kept.add(ByteBuffer.allocateDirect(direct));
                    directBytes += direct;
                    if (keep > 0 && kept.size() > keep)
                        directBytes -= kept.remove(0).capacity();
                }
                long jni = started && perTick > 0 ? NativeLib.leakedBytes() : 0;
                log.println(System.nanoTime() + " " + jni + " " + directBytes);
                if (once) {
                    once = false;
                    leakOnce();
                    log.println("once " + System.nanoTime());
                }
                log.flush();
                Thread.sleep(tickMs);
            }
        }
        System.out.println("done");
    }
}
