import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.util.ArrayList;
import java.util.List;

/**
 * Class loaders that define classes in a loop and stay reachable, as a script
 * engine that compiles every script into a fresh loader would. Each defined
 * class lives in Metaspace, which HotSpot commits page by page with mmap over
 * its reservation (metaspace::VirtualSpaceNode::commit_range): committed mmap
 * from libjvm that grows with the number of loaders.
 *
 * Usage: MetaspaceGrowth [loaders=3000]
 */
public final class MetaspaceGrowth {
    /** A loader per "script": defines the template class's bytes under its own name space. */
    static final class ScriptLoader extends ClassLoader {
        ScriptLoader() {
            super(MetaspaceGrowth.class.getClassLoader());
        }

        Class<?> define(byte[] bytes) {
            return defineClass("MetaspaceTemplate", bytes, 0, bytes.length);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            // The template itself must come from this loader, not the parent.
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                return c != null ? c : super.loadClass(name, resolve);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        int loaders = Args.get(args, 0, 3000);
        byte[] bytes = templateBytes();
        List<Class<?>> alive = new ArrayList<>(); // the leak: nobody drops them
        long check = 0;
        long committed = metaspaceCommitted();
        for (int i = 0; i < loaders; i++) {
            Class<?> c = new ScriptLoader().define(bytes);
            // Running a method links the class and fills its constant pool cache.
            check += (int) c.getMethod("run", int.class).invoke(null, i);
            alive.add(c);
        }
        System.out.println("defined " + alive.size() + " classes in " + loaders
                + " class loaders, all still reachable; Metaspace used " + metaspaceUsed()
                + " bytes (check " + check + "); Metaspace committed grew by "
                + (metaspaceCommitted() - committed) + " bytes");
    }

    static byte[] templateBytes() throws IOException {
        try (InputStream in = MetaspaceGrowth.class.getResourceAsStream("/MetaspaceTemplate.class")) {
            if (in == null)
                throw new IOException("MetaspaceTemplate.class not on the class path");
            return in.readAllBytes();
        }
    }

    static long metaspaceUsed() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getName().equals("Metaspace"))
                return p.getUsage().getUsed();
        return -1;
    }
    /** Committed bytes of Metaspace (the pool counts the class space too). */
    static long metaspaceCommitted() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
            if (p.getName().equals("Metaspace"))
                return p.getUsage().getCommitted();
        return -1;
    }
}
