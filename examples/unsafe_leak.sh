#!/usr/bin/env bash
# Unsafe.allocateMemory without freeMemory (examples/README.md).
# Usage: unsafe_leak.sh [blocks=20000] [blockBytes=4096] [keepOneIn=2]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record unsafe_leak --rate 64k --growth 4m -- "$JAVA" -Xmx256m -cp "$CLASSES" UnsafeLeak "${1:-20000}" \
    "${2:-4096}" "${3:-2}"
show "$NMREPORT" --nodecount 6 "$PROFILE"
show "$NMREPORT" --tree --focus Unsafe_AllocateMemory0 --nodecount 3 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
