#!/usr/bin/env bash
# DirectByteBuffers freed late under -XX:+DisableExplicitGC (examples/README.md).
# Usage: direct_buffers.sh [buffers=2000] [bufferBytes=65536] [reachable=16]
# --rate 128k: each 64 KiB buffer is sampled with probability 0.39 (0.12 at
# the default 512k), so the 125 MiB estimate moves by ~3 % from run to run
# instead of ~7 % (109.6-137.2 MiB in eight runs at 512k), well inside
# examples/README.md's 25 %.
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record direct_buffers --rate 128k --growth 4m -- "$JAVA" -Xmx256m -XX:+DisableExplicitGC -XX:MaxDirectMemorySize=1g \
    -cp "$CLASSES" DirectBuffers "${1:-2000}" "${2:-65536}" "${3:-16}"
show "$NMREPORT" --nodecount 6 "$PROFILE"
show "$NMREPORT" --tree --focus Unsafe_AllocateMemory0 --nodecount 4 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
