import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.reflect.Method;

/**
 * Reflection inflation (JDK 17 and older): after sun.reflect.inflationThreshold
 * (default 15) calls of one Method through Method.invoke, the JDK generates a
 * bytecode accessor class (GeneratedMethodAccessorN) in its own
 * DelegatingClassLoader. Many reflective call targets mean many such classes:
 * Metaspace grows, committed by mmap from libjvm's Metaspace code.
 *
 * ReflectTargets is generated at build time with 2048 static methods m0..m2047.
 *
 * Usage: ReflectionInflation [targets=1024] [callsPerTarget=20]
 */
public final class ReflectionInflation {
    public static void main(String[] args) throws Exception {
        int targets = Math.min(Args.get(args, 0, 1024), 2048);
        int calls = Args.get(args, 1, 20);
        ReflectTargets.class.getMethod("m0", int.class); // loads the targets' class first
        long before = ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount();
        long committed = metaspaceCommitted();
        long sum = 0;
        for (int i = 0; i < targets; i++) {
            Method m = ReflectTargets.class.getMethod("m" + i, int.class);
            for (int c = 0; c < calls; c++)
                sum += (int) m.invoke(null, c);
        }
        long after = ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount();
        System.out.println("invoked " + targets + " methods " + calls + " times each through Method.invoke; "
                + (after - before) + " classes loaded meanwhile; Metaspace used " + metaspaceUsed()
                + " bytes (sum " + sum + "); Metaspace committed grew by "
                + (metaspaceCommitted() - committed) + " bytes meanwhile");
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
