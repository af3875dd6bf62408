#!/usr/bin/env bash
# The same JNI leak seen by jemalloc's own heap profiler (jeprof) and by
# nmtrace wrapping jemalloc (LD_PRELOAD="libnmtrace.so libjemalloc.so.2").
# Both sample (jemalloc every 2^16 bytes on average, nmtrace every 64 KiB), so
# both should put nmex_session_open on top with about the printed bytes.
# Needs a profiling-enabled jemalloc (Debian's libjemalloc2) and jeprof
# (Debian's libjemalloc-dev). Usage: jemalloc_compare.sh [threads=2] [blocks=20000] [bytes=1000]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
if [ -z "${JEMALLOC:-}" ]; then
    for j in /usr/lib/*-linux-gnu/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2; do
        if [ -e "$j" ]; then
            JEMALLOC=$j
            break
        fi
    done
fi
if [ -z "${JEMALLOC:-}" ] || ! command -v jeprof >/dev/null; then
    echo "jemalloc_compare.sh: needs libjemalloc.so.2 (set JEMALLOC) and jeprof" >&2
    exit 2
fi
java_bin=$(readlink -f "$(command -v "$JAVA")")
args=("${1:-2}" "${2:-20000}" "${3:-1000}")
jvm=(-Xmx256m -cp "$CLASSES" -Djava.library.path="$JNILIB" JniLeak)

echo "== 1. jemalloc's profiler: prof:true, one sample per 2^16 bytes, final dump at exit"
say env LD_PRELOAD="$JEMALLOC" MALLOC_CONF="prof:true,lg_prof_sample:16,prof_final:true,prof_prefix:$OUT/jeprof" \
    "$JAVA" "${jvm[@]}" "${args[@]}"
LD_PRELOAD=$JEMALLOC \
    MALLOC_CONF=prof:true,lg_prof_sample:16,prof_final:true,prof_prefix:$OUT/jeprof \
    "$JAVA" "${jvm[@]}" "${args[@]}" &
pid=$!
wait $pid
heap=
for h in "$OUT"/jeprof.$pid.*.f.heap; do
    [ -e "$h" ] && heap=$h
done
if [ -z "$heap" ]; then
    echo "jemalloc_compare.sh: jemalloc wrote no heap profile (built without --enable-prof?)" >&2
    exit 1
fi
echo
echo "$(say jeprof --text "$java_bin" "$heap") | head -n 10"
jeprof --text "$java_bin" "$heap" 2>/dev/null | head -n 10 || true

echo
echo "== 2. nmtrace in front of the same jemalloc"
export LD_PRELOAD=$JEMALLOC
record jemalloc_nmtrace --rate 64k -- "$JAVA" "${jvm[@]}" "${args[@]}"
unset LD_PRELOAD
show "$NMREPORT" --nodecount 8 "$PROFILE"
show "$NMREPORT" --by lib "$PROFILE"
show "$NMREPORT" --committed --by class "$PROFILE"
