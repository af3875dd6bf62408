import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * Hundreds of short-lived threads, at most `concurrent` at a time, each doing
 * native allocation (zlib's Deflater/Inflater, a direct buffer) before it
 * exits. The printed checksum depends only on the arguments, so a run under
 * the recorder must print exactly what a plain run prints.
 *
 * Usage: ManyThreads [threads=400] [concurrent=50]
 */
public final class ManyThreads {
    public static void main(String[] args) throws Exception {
        int total = args.length > 0 ? Integer.parseInt(args[0]) : 400;
        int concurrent = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        long[] results = new long[total];
        for (int base = 0; base < total; base += concurrent) {
            List<Thread> batch = new ArrayList<>();
            for (int i = base; i < Math.min(total, base + concurrent); i++) {
                final int id = i;
                Thread t = new Thread(() -> results[id] = work(id), "short-" + i);
                batch.add(t);
                t.start();
            }
            for (Thread t : batch)
                t.join();
        }
        CRC32 all = new CRC32();
        for (long r : results)
            all.update(ByteBuffer.allocate(8).putLong(0, r));
        System.out.println("threads " + total + " checksum " + Long.toHexString(all.getValue()));
    }

    static long work(int id) {
        byte[] input = new byte[16384];
        for (int i = 0; i < input.length; i++)
            input[i] = (byte) ((i * 31 + id) % 97);
        Deflater d = new Deflater(Deflater.BEST_SPEED);
        d.setInput(input);
        d.finish();
        byte[] packed = new byte[32768];
        int n = d.deflate(packed);
        d.end();
        Inflater inf = new Inflater();
        inf.setInput(packed, 0, n);
        byte[] back = new byte[input.length];
        try {
            inf.inflate(back);
        } catch (java.util.zip.DataFormatException e) {
            throw new RuntimeException(e);
        }
        inf.end();
        ByteBuffer direct = ByteBuffer.allocateDirect(4096);
        direct.put(back, 0, 4096);
        CRC32 c = new CRC32();
        direct.flip();
        c.update(direct);
        return c.getValue() ^ n;
    }
}
