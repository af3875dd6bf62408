#!/bin/sh
# run_java.sh: the Java benchmark (bench/run_java.py does the work; options
# are passed through, see --help). Needs the targets nmtrace, nmt_bench_jni
# and nmt_bench_java of the build given with --build (default <repo>/build).
exec python3 "$(dirname "$0")/run_java.py" "$@"
