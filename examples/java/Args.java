/** Positional integer arguments with defaults, shared by the examples. */
final class Args {
    private Args() {}

    static int get(String[] args, int index, int dflt) {
        if (index >= args.length)
            return dflt;
        try {
            return Integer.parseInt(args[index]);
        } catch (NumberFormatException e) {
            System.err.println("bad argument " + (index + 1) + ": " + args[index] + " (want an integer)");
            System.exit(2);
            return dflt;
        }
    }
}
