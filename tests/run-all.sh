#!/bin/sh
# Builds nmtrace three times and runs the test suite with CTest. Used by the
# README and CI.
#  build       release: every test.
#  build-asan  ASan+UBSan (NMT_SANITIZE): the units, nmreport's tests, and the
#              recorder's integration and robustness tests against a sanitized
#              libnmtrace.so (tests/CMakeLists.txt: NMT_TEST_PRELOAD). Not the
#              Java tests: the JVM uses SIGSEGV for its safepoints and null
#              checks and maps memory where ASan keeps its shadow, so a JVM
#              with the ASan runtime preloaded does not run reliably.
#  build-tsan  ThreadSanitizer (NMT_TSAN): the ring shared by application
#              threads and the writer (tsan_ring), the wait/wake protocol
#              between them (tsan_wake), and the writer thread's rounds with
#              the slot registry (tsan_writer), the call-frame rule lookup's
#              object list read while it is rebuilt (tsan_cfi).
# Exits non-zero when any stage fails; every stage runs regardless.
set -e
cd "$(dirname "$0")/.."
jobs=2
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j$jobs
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DNMT_SANITIZE=ON >/dev/null
cmake --build build-asan -j$jobs
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DNMT_TSAN=ON >/dev/null
cmake --build build-tsan -j$jobs --target tsan_ring tsan_wake tsan_writer tsan_cfi
status=0
echo "== release build: all tests"
ctest --test-dir build --output-on-failure -j$jobs || status=1
echo "== ASan+UBSan build: units, report, and the sanitized recorder (recorder, integration, robust; not java)"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j$jobs \
    -L 'unit|report|recorder|integration|robust' -LE java || status=1
echo "== TSan build: ring, wait/wake protocol, writer"
ctest --test-dir build-tsan --output-on-failure -L tsan || status=1
exit $status
