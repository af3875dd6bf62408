#!/bin/sh
# libnmtrace.so exports dlsym; RTLD_NEXT must still mean "next after the
# caller". Runs dlsym_prog with the shim preloaded alone, then with
# libnmtrace.so before and after it: the three outputs must be the same.
# usage: dlsym_next.sh LIBNMTRACE SHIM PROG
set -u
lib=$1 shim=$2 prog=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/nmt-dlsym.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
run() {
    env NMTRACE_OUTPUT="$work/p.%p.nmt" LD_PRELOAD="$1" "$prog" >"$work/$2.txt" 2>"$work/$2.err" || {
        cat "$work/$2.txt" "$work/$2.err" >&2
        echo "FAIL: dlsym_prog exited non-zero with LD_PRELOAD=$1" >&2
        exit 1
    }
}
run "$shim" plain
run "$lib $shim" nmtrace_first
run "$shim $lib" shim_first
cat "$work/plain.txt"
# The shim's own RTLD_NEXT must reach the library after it, not itself.
grep -q '^shim: RTLD_NEXT nmtt_who -> libnmtt_dlsym_lib.so (lib)$' "$work/plain.txt" || {
    echo "FAIL: the test's premise does not hold unprofiled" >&2
    exit 1
}
for o in nmtrace_first shim_first; do
    diff -u "$work/plain.txt" "$work/$o.txt" >&2 || {
        echo "FAIL: dlsym answers differ with libnmtrace.so preloaded ($o)" >&2
        exit 1
    }
done
set -- "$work"/p.*.nmt
[ -f "$1" ] || {
    echo "FAIL: libnmtrace.so did not record (no profile): was it preloaded?" >&2
    exit 1
}
echo "ok: same dlsym answers with libnmtrace.so preloaded before and after the shim"
