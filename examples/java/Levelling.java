/**
 * Business growth, not a leak: a native session cache (libnmexjni.so,
 * nmex_cache_entry_new) fills up as load arrives and then stays at its
 * capacity, evicting the oldest entry for each new one. Its native memory
 * grows steeply at first and then levels off.
 *
 * With leakBlocksPerPhase > 0 a real leak (nmex_session_open) runs beside it,
 * smaller at first but never stopping: a growth ranking must put it first.
 *
 * Usage: Levelling [phases=10] [capacity=4000] [entryBytes=8192]
 *                  [putsPerPhase=2000] [leakBlocksPerPhase=0] [pauseMs=50]
 */
public final class Levelling {
    public static void main(String[] args) throws InterruptedException {
        int phases = Args.get(args, 0, 10);
        int capacity = Args.get(args, 1, 4000);
        int entry = Args.get(args, 2, 8192);
        int puts = Args.get(args, 3, 2000);
        int leakBlocks = Args.get(args, 4, 0);
        int pause = Args.get(args, 5, 50);
        if (!NativeLib.cacheInit(capacity)) {
            System.err.println("cannot allocate a cache of " + capacity + " slots");
            System.exit(1);
        }
        long live = 0;
        for (int p = 1; p <= phases; p++) {
            for (int i = 0; i < puts; i++)
                live = NativeLib.cachePut(entry);
            if (leakBlocks > 0)
                NativeLib.leak(leakBlocks, 1000);
            System.out.println("phase " + p + ": cache holds " + live + " bytes, leaked so far "
                    + NativeLib.leakedBytes() + " bytes");
            Thread.sleep(pause);
        }
    }
}
