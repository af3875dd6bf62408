/**
 * Sleep: a JVM that only sleeps, for bench/run_java.py --sleep: what the
 * recorder adds to a JVM's start and exit, with no workload in between.
 *
 * usage: java Sleep [milliseconds]
 * Prints "RESULT main_start_ns=... main_end_ns=..." (System.nanoTime, which
 * is CLOCK_MONOTONIC on Linux, the clock of Python's time.monotonic_ns): the
 * script subtracts them from its own spawn and reap times. Loads nothing
 * beyond what printing needs, so the bridge sees no extra classes.
 */
public final class Sleep {
    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        Thread.sleep(args.length > 0 ? Long.parseLong(args[0]) : 1000);
        long t1 = System.nanoTime();
        System.out.println("RESULT main_start_ns=" + t0 + " main_end_ns=" + t1);
    }
}
