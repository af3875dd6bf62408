import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Normal warm-up: with -Xms equal to -Xmx the heap is committed at start but
 * its pages only count in RSS once first touched. As the application fills
 * its heap, RSS climbs for a while and looks like a leak, yet it stays below
 * the reasonable total (Xmx + MaxMetaspaceSize + MaxDirectMemorySize +
 * ReservedCodeCacheSize). -XX:+AlwaysPreTouch touches the heap at start.
 *
 * Usage: WarmUp [retainedMiB=160] [steps=8] [pauseMs=50]
 */
public final class WarmUp {
    public static void main(String[] args) throws Exception {
        int retain = Args.get(args, 0, 160);
        int steps = Math.max(1, Args.get(args, 1, 8));
        int pause = Args.get(args, 2, 50);
        List<byte[]> data = new ArrayList<>();
        long rssStart = rss();
        for (int s = 1; s <= steps; s++) {
            // 128 KiB chunks: small enough to stay out of G1's humongous regions.
            while (data.size() < (long) retain * 8 * s / steps) {
                byte[] chunk = new byte[128 << 10];
                for (int i = 0; i < chunk.length; i += 4096)
                    chunk[i] = 1;
                data.add(chunk);
                // Short-lived garbage, so the young generation cycles too.
                for (int g = 0; g < 4; g++)
                    chunk = new byte[64 << 10];
            }
            System.out.println("step " + s + ": " + data.size() / 8 + " MiB retained, RSS " + (rss() >> 20) + " MiB");
            Thread.sleep(pause);
        }
        System.out.println("RSS grew from " + (rssStart >> 20) + " MiB to " + (rss() >> 20)
                + " MiB; max heap " + (Runtime.getRuntime().maxMemory() >> 20) + " MiB");
    }

    static long rss() throws Exception {
        for (String line : Files.readAllLines(Paths.get("/proc/self/status")))
            if (line.startsWith("VmRSS:"))
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        return -1;
    }
}
