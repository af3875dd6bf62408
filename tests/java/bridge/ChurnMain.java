import java.lang.management.ManagementFactory;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;

/*
 * Defines ChurnWorker in a fresh class loader again and again, runs it (it
 * allocates direct memory, so its methods are in sampled stacks) and drops
 * the loader; System.gc() lets HotSpot unload the old copies while later
 * ones are still being sampled. The last worker runs 10 times (80 direct
 * buffers of 64 KiB: at 64 KiB sampling, all go unsampled with probability
 * e^-80) and stays reachable, so a sampled copy of ChurnWorker is still
 * loaded when the JVM exits and is named then, whatever the timing of the
 * bridge's naming thread. Arguments: the
 * directory holding ChurnWorker.class, and the number of loaders.
 */
public class ChurnMain {
    static long total;
    static Runnable newest;

    static void cycle(URL[] path, int i, int runs) throws Exception {
        try (URLClassLoader loader = new URLClassLoader(path, null)) {
            Class<?> c = loader.loadClass("ChurnWorker");
            Runnable r = (Runnable) c.getDeclaredConstructor().newInstance();
            for (int k = 0; k < runs; k++)
                r.run();
            newest = r;
            total += r.hashCode() & 1;
        }
        if (i % 25 == 24)
            System.gc();
    }

    public static void main(String[] args) throws Exception {
        URL[] path = {Paths.get(args[0]).toUri().toURL()};
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        for (int i = 0; i < n; i++)
            cycle(path, i, i == n - 1 ? 10 : 1);
        System.gc();
        long unloaded = ManagementFactory.getClassLoadingMXBean().getUnloadedClassCount();
        System.out.println("ChurnMain ran " + n + " loaders, unloaded " + unloaded + " classes");
    }
}
