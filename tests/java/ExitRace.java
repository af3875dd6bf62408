import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.zip.Deflater;

/**
 * System.exit while other threads are in the middle of native allocation:
 * the recorder's exit path must not hang, crash or change the exit status.
 * The workers never stop by themselves; main exits once each has done
 * `warm` rounds, so every run exits with work in flight.
 *
 * Usage: ExitRace [threads=8] [warm=200] [status=7]
 */
public final class ExitRace {
    public static void main(String[] args) throws Exception {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 8;
        int warm = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int status = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        CountDownLatch ready = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            Thread w = new Thread(() -> {
                long rounds = 0;
                byte[] in = new byte[8192];
                byte[] out = new byte[16384];
                while (true) {
                    Deflater d = new Deflater();
                    d.setInput(in);
                    d.finish();
                    d.deflate(out);
                    d.end();
                    ByteBuffer b = ByteBuffer.allocateDirect(1024 + (int) (rounds % 7) * 512);
                    b.put(0, (byte) 1);
                    if (++rounds == warm)
                        ready.countDown();
                }
            }, "alloc-" + t);
            w.start(); // not daemon: only System.exit ends the process
        }
        ready.await();
        System.out.println("exiting with " + status + " while " + threads + " threads allocate");
        System.exit(status);
    }
}
