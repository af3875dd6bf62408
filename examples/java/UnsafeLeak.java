import java.lang.reflect.Field;
import sun.misc.Unsafe;

/**
 * Off-heap memory taken with Unsafe.allocateMemory and only partly freed:
 * every block but one in `freeEvery` is freed again. The program prints the
 * bytes it leaked. Natively all of it is malloc from Unsafe_AllocateMemory0.
 *
 * Usage: UnsafeLeak [blocks=20000] [blockBytes=4096] [keepOneIn=2]
 */
public final class UnsafeLeak {
    public static void main(String[] args) throws Exception {
        int blocks = Args.get(args, 0, 20000);
        int size = Args.get(args, 1, 4096);
        int keepOneIn = Math.max(1, Args.get(args, 2, 2));
        Field f = Unsafe.class.getDeclaredField("theUnsafe");
        f.setAccessible(true);
        Unsafe unsafe = (Unsafe) f.get(null);
        long leaked = 0;
        for (int i = 0; i < blocks; i++) {
            long addr = unsafe.allocateMemory(size);
            unsafe.setMemory(addr, size, (byte) 7);
            if (i % keepOneIn == 0)
                leaked += size; // forgotten: never freed
            else
                unsafe.freeMemory(addr);
        }
        System.out.println("leaked " + leaked + " bytes in " + (leaked / size)
                + " blocks from Unsafe.allocateMemory");
    }
}
