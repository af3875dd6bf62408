import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import sun.misc.Unsafe;

/**
 * Native allocations under the kinds of Java frames a stack walker meets, for
 * test_walk.py. Each worker thread runs ROUNDS rounds of the chosen phases,
 * each phase ITERS calls of one method phaseX, so a run does a fixed amount of
 * work (never a fixed time): its samples depend on the rate, not on the
 * machine. One call in 16 allocates 8 KiB (sampled most of the time at a rate
 * of 4096), the others 32 bytes (the methods get hot and compiled cheaply).
 *
 *   unsafe     Unsafe.allocateMemory: Unsafe_AllocateMemory0, the thread in VM state
 *   direct     ByteBuffer.allocateDirect: the same under java.nio's frames
 *   stream     a stream pipeline of lambdas and a method reference (invokedynamic)
 *   handle     MethodHandle.invokeExact, of a constant handle and of one C2 cannot
 *              see through (LambdaForm frames of hidden classes)
 *   reflect    Method.invoke (a native accessor first, then a generated one)
 *   exception  an exception thrown four frames down and caught between allocations
 *   deopt      an interface call whose receivers change between rounds
 *              (compiled code made for one receiver is deoptimized)
 *   jni        malloc in a JNI method (NativeWalk.alloc: the thread in native)
 *   upcall     Java, native, Java, native malloc (NativeWalk.upcall)
 *
 * Usage: WalkMix THREADS ROUNDS PHASE[,PHASE...]|all; the jni and upcall
 * phases need -Djava.library.path=<build>/tests/java. Prints
 * "done THREADS ROUNDS PHASES".
 */
public final class WalkMix {
    static final Unsafe U = InlineHot.unsafe();
    static final int ITERS = 4096;
    static final int BIG = 8192;
    static final int SMALL = 32;
    static final String[] ALL = {"unsafe", "direct", "stream", "handle", "reflect", "exception",
        "deopt", "jni", "upcall"};

    static final MethodHandle LEAF;
    static MethodHandle leafVar; // not final: C2 cannot inline through it
    static final Method LEAF_REFLECT;

    static {
        try {
            MethodType t = MethodType.methodType(long.class, int.class);
            LEAF = MethodHandles.lookup().findStatic(WalkMix.class, "leaf", t);
            leafVar = MethodHandles.lookup().findStatic(WalkMix.class, "leafOther", t);
            LEAF_REFLECT = WalkMix.class.getDeclaredMethod("leaf", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static int size(int i) {
        return (i & 15) == 0 ? BIG : SMALL;
    }

    static long leaf(int size) {
        long a = U.allocateMemory(size);
        U.putByte(a, (byte) size);
        U.freeMemory(a);
        return a;
    }

    static long leafOther(int size) {
        return leaf(size) + 1;
    }

    static long phaseUnsafe() {
        long x = 0;
        for (int i = 0; i < ITERS; i++)
            x ^= leaf(size(i));
        return x;
    }

    static long phaseDirect() {
        long x = 0;
        for (int i = 0; i < ITERS; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(size(i));
            b.put(0, (byte) i);
            x += b.get(0);
        }
        return x;
    }

    static long phaseStream() {
        return IntStream.range(0, ITERS).map(WalkMix::size).mapToLong(s -> leaf(s))
            .reduce(0, (a, b) -> a ^ b);
    }

    static long phaseHandle() {
        long x = 0;
        try {
            for (int i = 0; i < ITERS; i++) // the two handles take turns by 16 calls
                x ^= (i & 16) == 0 ? (long) LEAF.invokeExact(size(i))
                                   : (long) leafVar.invokeExact(size(i));
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
        return x;
    }

    static long phaseReflect() {
        long x = 0;
        try {
            for (int i = 0; i < ITERS; i++)
                x ^= (Long) LEAF_REFLECT.invoke(null, size(i));
        } catch (ReflectiveOperationException e) {
            throw new RuntimeException(e);
        }
        return x;
    }

    static long throwing(int i, int depth) {
        if (depth > 0)
            return throwing(i, depth - 1) + 1;
        if ((i & 1) == 0)
            throw new IllegalStateException("even");
        return leaf(SMALL);
    }

    static long phaseException() {
        long x = 0;
        for (int i = 0; i < ITERS; i++) {
            x ^= leaf(size(i));
            try {
                x ^= throwing(i, 4);
            } catch (IllegalStateException e) {
                x ^= leaf(size(i + 8)); // in the handler
            }
        }
        return x;
    }

    interface Grabber {
        long grab(int size);
    }

    static final class First implements Grabber {
        public long grab(int size) {
            return leaf(size);
        }
    }

    static final class Second implements Grabber {
        public long grab(int size) {
            return leaf(size) + 2;
        }
    }

    static final class Third implements Grabber {
        public long grab(int size) {
            return leaf(size) + 3;
        }
    }

    /* Round 0 and 1 see one receiver, 2 two, later rounds three. */
    static final Grabber[][] GRABBERS = {{new First()}, {new First(), new Second()},
        {new First(), new Second(), new Third()}};

    static long phaseDeopt(int round) {
        Grabber[] g = GRABBERS[Math.min(round / 2, 2)];
        long x = 0;
        for (int i = 0; i < ITERS; i++)
            x ^= g[(i >> 4) % g.length].grab(size(i)); // receivers take turns by 16 calls
        return x;
    }

    static long phaseJni() {
        long x = 0;
        for (int i = 0; i < ITERS; i++)
            x += NativeWalk.alloc(size(i));
        return x;
    }

    static long phaseUpcall() {
        long x = 0;
        // Each call mallocs 16 times in native code and calls back 16 times,
        // BIG bytes the first time, SMALL the others.
        for (int i = 0; i < ITERS / 16; i++)
            x += NativeWalk.upcall(16, BIG);
        return x;
    }

    static long phase(String p, int round) {
        switch (p) {
        case "unsafe":
            return phaseUnsafe();
        case "direct":
            return phaseDirect();
        case "stream":
            return phaseStream();
        case "handle":
            return phaseHandle();
        case "reflect":
            return phaseReflect();
        case "exception":
            return phaseException();
        case "deopt":
            return phaseDeopt(round);
        case "jni":
            return phaseJni();
        case "upcall":
            return phaseUpcall();
        default:
            throw new IllegalArgumentException("no phase " + p);
        }
    }

    static long work(int rounds, String[] phases) {
        long x = 0;
        for (int r = 0; r < rounds; r++)
            for (String p : phases)
                x ^= phase(p, r);
        return x;
    }

    public static void main(String[] args) throws InterruptedException {
        int threads = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        String[] phases = args[2].equals("all") ? ALL : args[2].split(",");
        long[] results = new long[threads];
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread th = new Thread(() -> results[id] = work(rounds, phases), "walk-" + t);
            th.start();
            ts.add(th);
        }
        for (Thread th : ts)
            th.join();
        long x = 0;
        for (long r : results)
            x ^= r;
        System.out.println("done " + threads + " " + (x != 42 ? rounds : -1) + " " + args[2]);
    }
}
