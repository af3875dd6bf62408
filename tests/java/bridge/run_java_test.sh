#!/bin/sh
# Runs one JVM bridge scenario under libnmtrace.so and checks nmreport.
# usage: run_java_test.sh LIBNMTRACE NMREPORT JAVA CLASSES WORKERS SCENARIO
# Scenarios: direct-int direct-default direct-c1 (a DirectByteBuffer leak
# under -Xint, default tiers, C1 only), churn (class loaders dropped while
# their methods are sampled), off (NMTRACE_JAVA=off), agentpath.
set -u
lib=$1 nmreport=$2 java=$3 classes=$4 workers=$5 scenario=$6
work=$(mktemp -d "${TMPDIR:-/tmp}/nmt-java.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
fail() {
    echo "FAIL ($scenario): $*" >&2
    exit 1
}

# Runs java with the recorder; every allocation of 64 KiB is sampled at this
# rate, so the leak is seen whole. Arguments: JVM flags and program.
record() {
    env NMTRACE_OUTPUT="$work/p.%p.nmt" NMTRACE_RATE=65536 LD_PRELOAD="$lib" \
        "$java" "$@" >"$work/out.txt" 2>"$work/err.txt"
    rc=$?
    if [ $rc -ne 0 ]; then
        cat "$work/err.txt" >&2
        fail "java exited with status $rc"
    fi
    set -- "$work"/p.*.nmt
    [ -f "$1" ] || fail "no profile written"
    profile=$1
}

# A counter's value from --stats ("  name   value").
counter() {
    "$nmreport" --stats "$profile" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print "missing" }'
}

# Java frames of every stack: one line per stack, frames joined by " | ",
# leaf first, from --stacks.
stack_lines() {
    "$nmreport" --stacks --nodecount 100000 "$profile" >"$work/stacks.txt" || fail "nmreport --stacks failed"
    awk '/^stack /{ if (s != "") print s; s = "" ; next }
         /^ *#[0-9]/ { sub(/^ *#[0-9]+ +0x[0-9a-f]+ +/, ""); s = s " | " $0 }
         END { if (s != "") print s }' "$work/stacks.txt"
}

check_direct() {
    record "$@" -cp "$classes" DirectLeak 2000
    grep -q "kept 2000 buffers" "$work/out.txt" || fail "DirectLeak did not finish"
    stack_lines >"$work/lines.txt"
    # The leak's stacks: Unsafe_AllocateMemory0 (the native frame; JDKs where
    # it tail-calls os::malloc leave only the Java native method
    # Unsafe.allocateMemory0), then DirectByteBuffer.<init> and the app's
    # leakOne above it, in that order.
    grep -E '(Unsafe_AllocateMemory0|Unsafe\.allocateMemory0).*java\.nio\.DirectByteBuffer\.<init>.*DirectLeak\.leakOne.*DirectLeak\.main' \
        "$work/lines.txt" >/dev/null || {
        head -50 "$work/stacks.txt" >&2
        fail "no stack Unsafe_AllocateMemory0 < DirectByteBuffer.<init> < DirectLeak.leakOne"
    }
    # Source lines come from the profile's line tables: DirectLeak.java:14
    # is `return ByteBuffer.allocateDirect(size);`.
    grep -q 'DirectLeak\.leakOne.*DirectLeak\.java:14' "$work/lines.txt" ||
        fail "DirectLeak.leakOne is not named with its source line DirectLeak.java:14"
    # The 2000 buffers of 64 KiB (125 MiB) are all attributed to leakOne:
    # - every sampled one has Java frames: the bridge is attached when
    #   JNI_CreateJavaVM returns, before the launcher loads DirectLeak
    #   (java.attach_via 4), and a sample whose stack AsyncGetCallTrace could
    #   not take is counted in java.err.* (allowed for below, each at most
    #   one buffer's weight);
    # - sampling: a 64 KiB block at NMTRACE_RATE=65536 is sampled with
    #   p = 1 - 1/e, independently of the others (the sampler is a Poisson
    #   process over bytes), and weighted 64 KiB / p = 101.3 KiB. The estimate
    #   falls below 100 MiB only if fewer than 1011 of the 2000 buffers are
    #   sampled, where 1264 are expected: Hoeffding bounds that by
    #   exp(-2 * 253^2 / 2000) < 1e-27.
    [ "$(counter java.attach_via)" = 4 ] || fail "java.attach_via is not 4 (JNI_CreateJavaVM caught)"
    [ "$(counter java.asgct)" = 1 ] || fail "java.asgct is not 1"
    total=$("$nmreport" --focus 'DirectLeak\.leakOne' "$profile" | sed -n 's/^Total: \([0-9.]*\) MiB.*/\1/p')
    [ -n "$total" ] || fail "no MiB total under DirectLeak.leakOne"
    lost=0
    for c in no_java_frame no_class_load gc_active unknown_not_java not_walkable_not_java \
        unknown_java not_walkable_java unknown_state thread_exit deopt safepoint other \
        not_java_thread no_room; do
        v=$(counter java.err.$c)
        [ "$v" != missing ] || fail "counter java.err.$c missing"
        lost=$((lost + v))
    done
    awk -v t="$total" -v l="$lost" 'BEGIN { exit !(t + l * 101.3 / 1024 >= 100) }' ||
        fail "only $total MiB under DirectLeak.leakOne (expected >= 100 less $lost counted failures)"
    s=$(counter java.stacks)
    [ "$s" != missing ] && [ "$s" -ge $((1011 - lost)) ] ||
        fail "java.stacks = $s (expected >= 1011 leak samples less $lost counted failures)"
    # The interpreter and stubs are recorded when the bridge starts
    # (DynamicCodeGenerated replay, before it reports attached). Compiled
    # methods are not checked here: HotSpot posts their events from its
    # service thread, which may not have run before a short program ends.
    d=$(counter java.code.dynamic)
    [ "$d" != missing ] && [ "$d" -gt 0 ] || fail "java.code.dynamic = $d"
}

case "$scenario" in
direct-int) check_direct -Xint ;;
direct-default) check_direct ;;
direct-c1) check_direct -XX:TieredStopAtLevel=1 ;;
churn)
    record -cp "$classes" ChurnMain "$workers" 200
    grep -q "ChurnMain ran 200 loaders" "$work/out.txt" || fail "ChurnMain did not finish"
    unloaded=$(sed -n 's/.*unloaded \([0-9]*\) classes.*/\1/p' "$work/out.txt")
    [ "${unloaded:-0}" -gt 50 ] || fail "only ${unloaded:-0} classes were unloaded: the scenario did not churn"
    stack_lines >"$work/lines.txt"
    grep 'ChurnWorker\.run' "$work/lines.txt" >"$work/worker.txt"
    [ -s "$work/worker.txt" ] || fail "no stack has ChurnWorker.run"
    # Whatever loader defined it, ChurnWorker.run was always called by
    # ChurnMain.cycle: a frame named from a stale or reused method id would
    # break the pair.
    bad=$(awk -F' \\| ' '{ for (i = 2; i <= NF; i++) if ($i ~ /ChurnWorker\.run/ && $(i + 1) !~ /ChurnMain\.cycle/) { print; break } }' "$work/worker.txt" | head -3)
    [ -z "$bad" ] || fail "ChurnWorker.run not called from ChurnMain.cycle: $bad"
    # ChurnWorker.java:9 is its allocateDirect call.
    grep -q 'ChurnWorker\.run.*ChurnWorker\.java:9' "$work/worker.txt" ||
        fail "ChurnWorker.run is not named with its source line"
    named=$(counter java.methods_named)
    [ "$named" != missing ] && [ "$named" -gt 0 ] || fail "java.methods_named = $named"
    ;;
off)
    NMTRACE_JAVA=off
    export NMTRACE_JAVA
    record -cp "$classes" DirectLeak 300
    [ "$(counter java.state)" = 0 ] || fail "java.state is not 0 with NMTRACE_JAVA=off"
    stack_lines >"$work/lines.txt"
    ! grep -q '(java)' "$work/lines.txt" || fail "Java frames recorded with NMTRACE_JAVA=off"
    # JDKs where Unsafe_AllocateMemory0 tail-calls os::malloc only show the latter.
    grep -qE 'Unsafe_AllocateMemory0|os::malloc' "$work/lines.txt" ||
        fail "native stacks missing with NMTRACE_JAVA=off"
    ;;
agentpath)
    record -agentpath:"$lib" -cp "$classes" DirectLeak 300
    # Started by Agent_OnLoad at VMInit (inside JNI_CreateJavaVM, so before
    # the preloaded recorder's wrapper of it returns): started once.
    [ "$(counter java.attach_via)" = 2 ] || fail "java.attach_via is not 2 (-agentpath)"
    [ "$(grep -c 'JVM bridge' "$work/err.txt")" = 0 ] || fail "the bridge complained: $(cat "$work/err.txt")"
    stack_lines >"$work/lines.txt"
    grep -q 'java\.nio\.DirectByteBuffer\.<init>.*DirectLeak\.leakOne' "$work/lines.txt" ||
        fail "no Java frames with -agentpath"
    ;;
*) fail "unknown scenario" ;;
esac
echo "ok ($scenario)"
