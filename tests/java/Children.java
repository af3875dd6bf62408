import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Starts child processes with ProcessBuilder (fork/vfork/posix_spawn + exec,
 * per -Djdk.lang.Process.launchMechanism) from several threads while other
 * threads allocate, and prints what the children said, in a fixed order.
 *
 * Usage: Children [children=24] [threads=4] [javaChild=1]
 */
public final class Children {
    public static void main(String[] args) throws Exception {
        int children = args.length > 0 ? Integer.parseInt(args[0]) : 24;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        boolean javaChild = args.length <= 2 || !args[2].equals("0");
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        List<Future<String>> out = new ArrayList<>();
        for (int i = 0; i < children; i++) {
            final int id = i;
            out.add(pool.submit(() -> {
                // Native and heap churn in the parent while it forks.
                java.util.zip.Deflater d = new java.util.zip.Deflater();
                d.end();
                return run("/bin/sh", "-c", "echo child $0 $((3 * $0))", Integer.toString(id));
            }));
        }
        for (Future<String> f : out)
            System.out.print(f.get());
        if (javaChild) {
            String java = System.getProperty("java.home") + "/bin/java";
            System.out.print(run(java, "-Xmx32m", "-Xshare:auto", "-cp", System.getProperty("java.class.path"),
                    "Children$Hello"));
        }
        pool.shutdown();
        System.out.println("children done");
    }

    static String run(String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Process p = pb.start();
        String text;
        try (InputStream in = p.getInputStream()) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        int rc = p.waitFor();
        return text + (rc != 0 ? "exit " + rc + "\n" : "");
    }

    /** The Java child: prints one line. */
    public static final class Hello {
        public static void main(String[] args) {
            System.out.println("hello from a java child");
        }
    }
}
