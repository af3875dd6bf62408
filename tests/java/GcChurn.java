import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Enough allocation to run many young and some full collections, with direct
 * buffers whose Cleaners free native memory from the reference handler
 * thread while GC and allocation go on. Prints a checksum that depends only
 * on the arguments.
 *
 * Usage: GcChurn [rounds=40] [perRound=20000]
 */
public final class GcChurn {
    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int per = args.length > 1 ? Integer.parseInt(args[1]) : 20000;
        long sum = 0;
        List<Object> survivors = new ArrayList<>();
        List<WeakReference<ByteBuffer>> weak = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            Map<Integer, int[]> m = new HashMap<>();
            for (int i = 0; i < per; i++) {
                int[] a = new int[16 + (i % 64)];
                a[0] = i * r;
                m.put(i, a);
                sum += a[0] & 0xff;
            }
            survivors.add(m.get(r % per));
            if (survivors.size() > 200)
                survivors.subList(0, 100).clear();
            for (int i = 0; i < 32; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(32 << 10);
                b.putInt(0, i + r);
                sum += b.getInt(0);
                weak.add(new WeakReference<>(b));
            }
            if (r % 10 == 9)
                System.gc(); // full collections, Cleaners run
        }
        System.out.println("rounds " + rounds + " sum " + sum + " survivors " + survivors.size());
    }
}
