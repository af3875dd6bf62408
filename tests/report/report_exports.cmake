# Exports of nmreport (pprof, heap_v2, flame graph, HTML page, chart): the
# Criterion units, and interop tests that record report_exports_prog under
# libnmtrace.so and feed the exports to go tool pprof, jeprof and headless
# Chromium (tests/report/browser). An interop test whose tool is missing is
# skipped (exit 77) with a message naming the tool.

add_executable(report_exports_prog ${NMT_TEST_DIR}/report/report_exports_prog.c)
# -O1 keeps the inlined helper inlined; frame pointers help either unwinder.
target_compile_options(report_exports_prog PRIVATE -O1 -g -fno-omit-frame-pointer)

nmt_unit_test(test_report_exports
  SOURCES ${NMT_TEST_DIR}/report/test_report_exports.c
  LIBS nmr_testrun m PkgConfig::ZLIB
  LABELS report)

find_package(Python3 COMPONENTS Interpreter)
# Not in a sanitized build: the ASan runtime's own allocations are recorded
# too, and these tests compare the exports with the program's exact sites.
if(Python3_Interpreter_FOUND AND TARGET nmtrace AND TARGET nmreport AND NOT NMT_SANITIZE)
  foreach(what pprof jeprof flame html chart)
    add_test(NAME report_exports_${what}
      COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/report/report_exports_interop.py ${what}
              --nmreport $<TARGET_FILE:nmreport> --preload ${NMT_TEST_PRELOAD}
              --prog $<TARGET_FILE:report_exports_prog>)
    set(labels "report;exports;interop")
    if(what STREQUAL "flame" OR what STREQUAL "html" OR what STREQUAL "chart")
      set(labels "${labels};browser")
    endif()
    set_tests_properties(report_exports_${what} PROPERTIES
      LABELS "${labels}" SKIP_RETURN_CODE 77 TIMEOUT 180)
  endforeach()
elseif(NOT NMT_SANITIZE)
  message(WARNING "python3 missing: nmreport export interop tests not registered")
endif()
