#!/usr/bin/env bash
# A third-party JNI library leaks (examples/README.md, "JNI library leak").
# Usage: jni_leak.sh [threads=2] [blocksPerThread=20000] [blockBytes=1000]
# --rate 16k: the 40 MB leak of 1000-byte blocks carries ~2 400 samples, so
# its estimate moves by ~2 % from run to run (at 64k, ~4-5 %, and
# examples/README.md's 15 % was about three of those).
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record jni_leak --rate 16k --growth 4m -- "$JAVA" -Xmx256m -cp "$CLASSES" -Djava.library.path="$JNILIB" \
    JniLeak "${1:-2}" "${2:-20000}" "${3:-1000}"
show "$NMREPORT" --nodecount 8 "$PROFILE"
show "$NMREPORT" --by class "$PROFILE"
show "$NMREPORT" --tree --focus nmex_session_open --nodecount 3 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
