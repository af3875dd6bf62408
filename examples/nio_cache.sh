#!/usr/bin/env bash
# The NIO per-thread temporary direct buffer cache (examples/README.md).
# Runs the same reads with 2 and with 8 long-lived threads: the native
# memory under Unsafe_AllocateMemory0 grows with the thread count.
# Usage: nio_cache.sh [bufferBytes=4194304] [readsPerThread=3]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
for threads in 2 8; do
    record "nio_$threads" --growth 4m -- "$JAVA" -Xmx256m -cp "$CLASSES" NioTempCache "$threads" \
        "${1:-4194304}" "${2:-3}"
    show "$NMREPORT" --nodecount 4 --focus Unsafe_AllocateMemory0 "$PROFILE"
done
show "$NMREPORT" --tree --focus getTemporaryDirectBuffer --nodecount 2 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
