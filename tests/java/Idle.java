import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A JVM to point jcmd at: allocates a little native and heap memory, starts a
 * few named threads, prints "ready <pid>" and waits for a line on stdin.
 */
public final class Idle {
    public static void main(String[] args) throws Exception {
        List<ByteBuffer> keep = new ArrayList<>();
        for (int i = 0; i < 64; i++)
            keep.add(ByteBuffer.allocateDirect(64 << 10));
        Object lock = new Object();
        for (int i = 0; i < 3; i++) {
            Thread t = new Thread(() -> {
                synchronized (lock) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }, "idle-waiter-" + i);
            t.setDaemon(true);
            t.start();
        }
        System.out.println("ready " + ProcessHandle.current().pid());
        System.out.flush();
        String line = new BufferedReader(new InputStreamReader(System.in)).readLine();
        System.out.println("bye " + keep.size() + " " + (line == null ? "eof" : line));
    }
}
