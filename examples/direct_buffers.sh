#!/usr/bin/env bash
# DirectByteBuffers freed late under -XX:+DisableExplicitGC (examples/README.md).
# Usage: direct_buffers.sh [buffers=2000] [bufferBytes=65536] [reachable=16]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record direct_buffers --growth 4m -- "$JAVA" -Xmx256m -XX:+DisableExplicitGC -XX:MaxDirectMemorySize=1g \
    -cp "$CLASSES" DirectBuffers "${1:-2000}" "${2:-65536}" "${3:-16}"
show "$NMREPORT" --nodecount 6 "$PROFILE"
show "$NMREPORT" --tree --focus Unsafe_AllocateMemory0 --nodecount 4 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
