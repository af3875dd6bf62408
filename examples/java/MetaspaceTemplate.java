/**
 * The class MetaspaceGrowth defines again and again, each time in a new loader.
 * Its many small methods give every copy a few KiB of metadata, like a compiled script.
 */
public final class MetaspaceTemplate {
    private MetaspaceTemplate() {}

    public static int run(int x) {
        return f0(x) + f1(x) + f2(x) + f3(x) + f4(x) + f5(x) + f6(x) + f7(x);
    }

    static int f0(int x) {
        int[] a = new int[2];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-0".length() * k + (x ^ 0);
        return a[a.length - 1] % 11;
    }

    static int f1(int x) {
        int[] a = new int[3];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-1".length() * k + (x ^ 7919);
        return a[a.length - 1] % 12;
    }

    static int f2(int x) {
        int[] a = new int[4];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-2".length() * k + (x ^ 15838);
        return a[a.length - 1] % 13;
    }

    static int f3(int x) {
        int[] a = new int[5];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-3".length() * k + (x ^ 23757);
        return a[a.length - 1] % 14;
    }

    static int f4(int x) {
        int[] a = new int[6];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-4".length() * k + (x ^ 31676);
        return a[a.length - 1] % 15;
    }

    static int f5(int x) {
        int[] a = new int[2];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-5".length() * k + (x ^ 39595);
        return a[a.length - 1] % 16;
    }

    static int f6(int x) {
        int[] a = new int[3];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-6".length() * k + (x ^ 47514);
        return a[a.length - 1] % 17;
    }

    static int f7(int x) {
        int[] a = new int[4];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-7".length() * k + (x ^ 55433);
        return a[a.length - 1] % 18;
    }

    static int f8(int x) {
        int[] a = new int[5];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-8".length() * k + (x ^ 63352);
        return a[a.length - 1] % 19;
    }

    static int f9(int x) {
        int[] a = new int[6];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-9".length() * k + (x ^ 71271);
        return a[a.length - 1] % 20;
    }

    static int f10(int x) {
        int[] a = new int[2];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-10".length() * k + (x ^ 79190);
        return a[a.length - 1] % 21;
    }

    static int f11(int x) {
        int[] a = new int[3];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-11".length() * k + (x ^ 87109);
        return a[a.length - 1] % 22;
    }

    static int f12(int x) {
        int[] a = new int[4];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-12".length() * k + (x ^ 95028);
        return a[a.length - 1] % 23;
    }

    static int f13(int x) {
        int[] a = new int[5];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-13".length() * k + (x ^ 102947);
        return a[a.length - 1] % 24;
    }

    static int f14(int x) {
        int[] a = new int[6];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-14".length() * k + (x ^ 110866);
        return a[a.length - 1] % 25;
    }

    static int f15(int x) {
        int[] a = new int[2];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-15".length() * k + (x ^ 118785);
        return a[a.length - 1] % 26;
    }

    static int f16(int x) {
        int[] a = new int[3];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-16".length() * k + (x ^ 126704);
        return a[a.length - 1] % 27;
    }

    static int f17(int x) {
        int[] a = new int[4];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-17".length() * k + (x ^ 134623);
        return a[a.length - 1] % 28;
    }

    static int f18(int x) {
        int[] a = new int[5];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-18".length() * k + (x ^ 142542);
        return a[a.length - 1] % 29;
    }

    static int f19(int x) {
        int[] a = new int[6];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-19".length() * k + (x ^ 150461);
        return a[a.length - 1] % 30;
    }

    static int f20(int x) {
        int[] a = new int[2];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-20".length() * k + (x ^ 158380);
        return a[a.length - 1] % 31;
    }

    static int f21(int x) {
        int[] a = new int[3];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-21".length() * k + (x ^ 166299);
        return a[a.length - 1] % 32;
    }

    static int f22(int x) {
        int[] a = new int[4];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-22".length() * k + (x ^ 174218);
        return a[a.length - 1] % 33;
    }

    static int f23(int x) {
        int[] a = new int[5];
        for (int k = 0; k < a.length; k++)
            a[k] = "step-23".length() * k + (x ^ 182137);
        return a[a.length - 1] % 34;
    }
}
