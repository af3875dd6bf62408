#!/usr/bin/env bash
# The README's first command: record a small C program that leaks from two
# functions, then read the profile. Usage: demo.sh [requests=2000] [bytes=4096]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need "$BUILD/examples/c_leak" "$NMLIB" "$NMREPORT"
cd "$OUT"
say cd "$OUT"
say env LD_PRELOAD="$NMLIB" NMTRACE_RATE=1 "$BUILD/examples/c_leak" "${1:-2000}" "${2:-4096}"
LD_PRELOAD=$NMLIB NMTRACE_RATE=1 "$BUILD/examples/c_leak" "${1:-2000}" "${2:-4096}" &
pid=$!
wait $pid
show "$NMREPORT" --nodecount 5 "$OUT/nmtrace.$pid.nmt"
show "$NMREPORT" --tree --nodecount 5 "$OUT/nmtrace.$pid.nmt"
echo
echo "profile kept in $OUT/nmtrace.$pid.nmt"
