#!/usr/bin/env bash
# Business growth that levels off, next to a small leak that does not
# (examples/README.md). A snapshot is taken each time tracked memory grew by
# 4 MiB; --growth ranks stacks by how they keep growing across snapshots.
# --rate 16k: the leak's 16 MB then carries ~950 samples and its estimate
# moves by ~3 % from run to run (at 64k, ~9 %: one run in a few hundred fell
# outside the 20 % examples/README.md allows).
# Usage: levelling.sh [phases=10] [leakBlocksPerPhase=1600]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record levelling --rate 16k --growth 4m -- "$JAVA" -Xmx256m -cp "$CLASSES" \
    -Djava.library.path="$JNILIB" Levelling "${1:-10}" 4000 8192 2000 "${2:-1600}" 50
show "$NMREPORT" --nodecount 4 "$PROFILE"
show "$NMREPORT" --timeline "$PROFILE"
show "$NMREPORT" --growth --nodecount 4 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 2 "$PROFILE"
