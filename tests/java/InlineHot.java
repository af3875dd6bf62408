import java.lang.reflect.Field;
import sun.misc.Unsafe;

/* A small allocating method (grab) that C2 inlines into a hot caller (hot):
 * the recorder must still show grab as its own frame above hot. */
public class InlineHot {
    static final Unsafe U = unsafe();

    static Unsafe unsafe() {
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new RuntimeException(e);
        }
    }

    static long grab(int n) {
        long a = U.allocateMemory(n);
        U.putByte(a, (byte) 1);
        U.freeMemory(a);
        return a;
    }

    static long hot(int iters) {
        long x = 0;
        for (int i = 0; i < iters; i++)
            x ^= grab(4096 + (i & 1023));
        return x;
    }

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        long x = 0;
        for (int r = 0; r < rounds; r++)
            x ^= hot(50000);
        System.out.println("done " + (x != 42 ? rounds : 0));
    }
}
