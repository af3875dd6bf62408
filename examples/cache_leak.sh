#!/usr/bin/env bash
# A bounded off-heap cache beside a leaking thread, both through
# Unsafe.allocateMemory (examples/README.md).
# Usage: cache_leak.sh [steps=48] [cacheEntries=64] [entryBytes=262144] [leakBytesPerStep=1048576]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record cache_leak --rate 64k --growth 2m -- "$JAVA" -Xmx256m -cp "$CLASSES" CacheAndLeak \
    "${1:-48}" "${2:-64}" "${3:-262144}" "${4:-1048576}"
show "$NMREPORT" --nodecount 4 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 2 "$PROFILE"
