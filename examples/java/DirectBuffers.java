import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;

/**
 * DirectByteBuffers that become unreachable at once but whose native memory is
 * only returned when a GC runs their Cleaners. Each allocateDirect() mallocs in
 * Unsafe_AllocateMemory0; the Java heap barely grows, so no GC comes. With
 * -XX:+DisableExplicitGC, Bits.reserveMemory cannot force one with System.gc()
 * either, and the native memory climbs to MaxDirectMemorySize (then OOM).
 *
 * Usage: DirectBuffers [buffers=2000] [bufferBytes=65536] [reachable=16]
 */
public final class DirectBuffers {
    public static void main(String[] args) {
        int count = Args.get(args, 0, 2000);
        int size = Args.get(args, 1, 65536);
        int keep = Math.max(1, Args.get(args, 2, 16));
        ByteBuffer[] window = new ByteBuffer[keep];
        long checksum = 0;
        for (int i = 0; i < count; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(size);
            b.putLong(0, i);
            checksum += b.getLong(0);
            window[i % keep] = b; // only the last `keep` stay reachable
        }
        long used = 0;
        for (BufferPoolMXBean p : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
            if (p.getName().equals("direct"))
                used = p.getMemoryUsed();
        System.out.println("allocated " + ((long) count * size) + " bytes in " + count
                + " direct buffers; reachable " + ((long) keep * size) + " bytes; direct pool still holds "
                + used + " bytes (checksum " + checksum + ")");
    }
}
