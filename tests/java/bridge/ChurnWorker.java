import java.nio.ByteBuffer;

/* Loaded by a new class loader for every run of ChurnMain.cycle. */
public class ChurnWorker implements Runnable {
    static ByteBuffer last;

    public void run() {
        for (int i = 0; i < 8; i++)
            last = ByteBuffer.allocateDirect(64 * 1024);
    }
}
