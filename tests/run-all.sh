#!/bin/sh
# Builds nmtrace twice (release, and ASan+UBSan for nmreport, libnmsym and the
# units) and runs the whole test suite with CTest. Used by the README and CI.
set -e
cd "$(dirname "$0")/.."
jobs=2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j$jobs
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNMT_SANITIZE=ON >/dev/null
cmake --build build-asan -j$jobs
status=0
echo "== release build: all tests"
ctest --test-dir build --output-on-failure -j$jobs || status=1
echo "== ASan+UBSan build: units and report tests"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j$jobs -L 'unit|report' || status=1
exit $status
