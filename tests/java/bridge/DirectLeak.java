import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/*
 * Keeps DirectByteBuffers alive: each one is a malloc from
 * Unsafe_AllocateMemory0 under java.nio.DirectByteBuffer.<init>. The leaking
 * method is leakOne, called from main. Argument: how many buffers.
 */
public class DirectLeak {
    static final List<ByteBuffer> kept = new ArrayList<>();

    static ByteBuffer leakOne(int size) {
        return ByteBuffer.allocateDirect(size);
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        long sum = 0;
        for (int i = 0; i < n; i++) {
            ByteBuffer b = leakOne(64 * 1024);
            b.put(0, (byte) i);
            kept.add(b);
            sum += b.capacity();
        }
        System.out.println("DirectLeak kept " + kept.size() + " buffers, " + sum + " bytes");
    }
}
