import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryUsage;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Direct and mapped buffers and classes loaded by loaders of its own, then
 * the JVM's own accounts of them as ground truth, read from the same MXBeans
 * the recorder reads:
 *   JvmAccounts buffers MiB-each classes mapped-file
 * prints "truth ..." lines, then "truth nano N" (System.nanoTime, the
 * recorder's clock: CLOCK_MONOTONIC) after everything is read, and keeps
 * all of it alive until a line arrives on stdin.
 */
public class JvmAccounts {
    /** Loaded again by each Loader: one more class each time. */
    public static class Filler {
        public int value() { return 42; }
    }

    static final class Loader extends ClassLoader {
        private final byte[] bytes;
        Loader(byte[] bytes) { super(null); this.bytes = bytes; }
        @Override protected Class<?> findClass(String name) throws ClassNotFoundException {
            if (!name.equals(Filler.class.getName()))
                throw new ClassNotFoundException(name);
            return defineClass(name, bytes, 0, bytes.length);
        }
    }

    public static void main(String[] a) throws Exception {
        int buffers = Integer.parseInt(a[0]);
        int mib = Integer.parseInt(a[1]);
        int classes = Integer.parseInt(a[2]);
        List<Object> keep = new ArrayList<>();
        for (int i = 0; i < buffers; i++)
            keep.add(ByteBuffer.allocateDirect(mib << 20));
        try (RandomAccessFile f = new RandomAccessFile(a[3], "rw")) {
            f.setLength(1 << 20);
            MappedByteBuffer m = f.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, 1 << 20);
            m.put(0, (byte) 1);
            keep.add(m);
        }
        byte[] bytes;
        try (InputStream in = JvmAccounts.class.getResourceAsStream("JvmAccounts$Filler.class")) {
            bytes = in.readAllBytes();
        }
        for (int i = 0; i < classes; i++) {
            Loader l = new Loader(bytes);
            keep.add(l.loadClass(Filler.class.getName()));
            keep.add(l);
        }
        for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class))
            System.out.println("truth buffer " + b.getName().replace(' ', '_') + " " + b.getCount() + " "
                               + b.getTotalCapacity() + " " + b.getMemoryUsed());
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            MemoryUsage u = p.getUsage();
            System.out.println("truth pool " + p.getName().replace(' ', '_') + " " + u.getUsed() + " "
                               + u.getCommitted() + " " + u.getMax());
        }
        System.out.println("truth classes " + ManagementFactory.getClassLoadingMXBean().getLoadedClassCount());
        System.out.println("truth maxmemory " + Runtime.getRuntime().maxMemory());
        System.out.println("truth threads " + ManagementFactory.getThreadMXBean().getThreadCount());
        System.out.println("truth nano " + System.nanoTime());
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in)).readLine();
        System.out.println("kept " + keep.size());
    }
}
