#!/usr/bin/env bash
# JVM warm-up without -XX:+AlwaysPreTouch: RSS climbs, yet stays below the
# reasonable total (examples/README.md).
# Usage: warmup.sh [retainedMiB=160]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record warmup --interval 1 -- "$JAVA" -Xms256m -Xmx256m -XX:MaxMetaspaceSize=64m \
    -XX:MaxDirectMemorySize=64m -XX:ReservedCodeCacheSize=64m -cp "$CLASSES" \
    WarmUp "${1:-160}" 8 150
show "$NMREPORT" --timeline "$PROFILE"
show "$NMREPORT" --rss "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
