#!/usr/bin/env bash
# Metaspace growth from class loaders defining classes in a loop (examples/README.md).
# Usage: metaspace.sh [loaders=3000]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record metaspace --growth 4m -- "$JAVA" -Xmx256m -XX:MaxMetaspaceSize=256m -cp "$CLASSES" \
    MetaspaceGrowth "${1:-3000}"
show "$NMREPORT" --committed --nodecount 6 "$PROFILE"
show "$NMREPORT" --committed --tree --focus 'metaspace::' --nodecount 3 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
