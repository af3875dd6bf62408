import sun.misc.Unsafe;

/* Allocates native memory (Unsafe) under a chosen number of Java frames of
 * its own: DeepStack.down calls itself FRAMES times, then allocates and
 * frees ITERS blocks of 8 KiB.
 *
 * Usage: DeepStack FRAMES ITERS; prints "done FRAMES". */
public class DeepStack {
    static final Unsafe U = InlineHot.unsafe();

    static long down(int frames, int iters) {
        if (frames > 0)
            return down(frames - 1, iters) + 1;
        long x = 0;
        for (int i = 0; i < iters; i++) {
            long a = U.allocateMemory(8192);
            U.putByte(a, (byte) i);
            x ^= a;
            U.freeMemory(a);
        }
        return x;
    }

    public static void main(String[] args) {
        int frames = Integer.parseInt(args[0]);
        int iters = Integer.parseInt(args[1]);
        long x = down(frames, iters);
        System.out.println("done " + (x != 42 ? frames : -1));
    }
}
