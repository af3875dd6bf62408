#!/usr/bin/env bash
# Reflection inflation: a generated accessor class per Method.invoke target
# (examples/README.md). Runs once with the default threshold (15) and once
# with inflation out of reach, then diffs the Metaspace commits of the two.
# Usage: reflection.sh [targets=1024] [callsPerTarget=20]
set -euo pipefail
. "$(dirname "$0")/common.sh"
need_java
record reflection_off -- "$JAVA" -Xmx256m -Dsun.reflect.inflationThreshold=1000000000 \
    -cp "$CLASSES" ReflectionInflation "${1:-1024}" "${2:-20}"
off=$PROFILE
record reflection_15 --growth 4m -- "$JAVA" -Xmx256m -cp "$CLASSES" ReflectionInflation "${1:-1024}" "${2:-20}"
show "$NMREPORT" --committed --focus '^metaspace::' --nodecount 5 "$PROFILE"
show "$NMREPORT" --committed --focus '^metaspace::' --base "$off" --nodecount 5 "$PROFILE"
show "$NMREPORT" --committed --tree --focus 'MethodAccessorGenerator' --nodecount 1 "$PROFILE"
show "$NMREPORT" --diagnose --nodecount 1 "$PROFILE"
