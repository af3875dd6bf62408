# report: tests of nmreport (the reader, the views, bad input, a real
# recording) and the reader's fuzzer. Owned by the report area.

add_library(nmr_testwriter STATIC ${NMT_TEST_DIR}/report_writer.c)
target_link_libraries(nmr_testwriter PUBLIC PkgConfig::ZLIB)

# Synthetic profiles made of this program's own functions: -O0 keeps them.
add_executable(report_mkprofile ${NMT_TEST_DIR}/report_mkprofile.c)
target_compile_options(report_mkprofile PRIVATE -O0 -g -fno-omit-frame-pointer)
target_link_libraries(report_mkprofile PRIVATE nmr_testwriter)

# Crafted, checksum-valid profiles with extreme figures and a 400,000-frame
# stack: every view and export must answer with a result or one error line.
add_executable(report_crafted ${NMT_TEST_DIR}/report_crafted.c)
target_link_libraries(report_crafted PRIVATE nmr_testwriter)
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  # Deep enough that any recursion per frame overflows an 8 MiB C stack; in
  # the ASan build (larger frames, slower) half as deep does.
  set(_frames 400000)
  if(NMT_SANITIZE)
    set(_frames 200000)
  endif()
  add_test(NAME report_crafted
    COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/report_crafted.py $<TARGET_FILE:nmreport>
            $<TARGET_FILE:report_crafted> ${CMAKE_CURRENT_BINARY_DIR}/report_crafted ${_frames})
  set_tests_properties(report_crafted PROPERTIES LABELS "report" TIMEOUT 900)
endif()

nmt_unit_test(test_reader SOURCES ${NMT_TEST_DIR}/test_reader.c LIBS nmr nmr_testwriter
  LABELS report)
nmt_unit_test(test_report_views SOURCES ${NMT_TEST_DIR}/test_report_views.c
  LIBS nmr nmr_testwriter LABELS report)

# The reader's fuzz target. Every build replays the seed corpus (and every
# prefix of each seed) through it; with clang's libFuzzer it is also built
# as a real fuzzer, run for NMR_FUZZ_SECONDS by the `fuzz`-labelled test.
# The fuzzer is built by clang outside the nmr target (which the project's
# compiler builds): the reader, the selection and the text views, without
# libnmsym (frames named from mappings) and without the export views.
set(NMR_READER_SOURCES nmr_reader.c nmr_arena.c nmr_java.c nmr_model.c nmr_symbols.c
  nmr_util.c nmr_select.c nmr_opts.c nmr_agg.c nmr_series.c nmr_text.c nmr_by.c nmr_tree.c
  nmr_stacks.c nmr_stats.c nmr_json.c nmr_timeline.c nmr_growth.c nmr_rss.c
  nmr_owner.c nmr_owner_jvm.c nmr_keytab.c nmr_diag_opts.c nmr_trend.c nmr_diag.c nmr_diag_rules.c nmr_diag_profile.c nmr_diag_view.c)
add_executable(nmr_fuzz_replay ${NMT_TEST_DIR}/fuzz/fuzz_reader.c ${NMT_TEST_DIR}/fuzz/replay_main.c)
target_link_libraries(nmr_fuzz_replay PRIVATE nmr)
if(NMT_SANITIZE)
  target_compile_options(nmr_fuzz_replay PRIVATE ${NMT_SAN_FLAGS})
  target_link_options(nmr_fuzz_replay PRIVATE ${NMT_SAN_FLAGS})
endif()
file(GLOB NMR_FUZZ_SEEDS ${NMT_TEST_DIR}/fuzz/corpus/*)
add_test(NAME fuzz_reader_corpus COMMAND nmr_fuzz_replay ${NMR_FUZZ_SEEDS})
set_tests_properties(fuzz_reader_corpus PROPERTIES LABELS "report" TIMEOUT 120)

set(NMR_FUZZ_SECONDS 60 CACHE STRING "seconds the fuzz_reader test fuzzes")
find_program(NMR_CLANG NAMES clang clang-16 clang-15 clang-14)
if(NMR_CLANG)
  # Does this clang have libFuzzer? Compile a trivial target to find out.
  set(_probe ${CMAKE_CURRENT_BINARY_DIR}/nmr_fuzz_probe.c)
  file(WRITE ${_probe} "#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
  execute_process(COMMAND ${NMR_CLANG} -fsanitize=fuzzer ${_probe} -o ${CMAKE_CURRENT_BINARY_DIR}/nmr_fuzz_probe
    RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(_probe_rc EQUAL 0)
    set(_src)
    foreach(f ${NMR_READER_SOURCES})
      list(APPEND _src ${NMT_TEST_DIR}/../report/${f})
    endforeach()
    set(_fuzz ${CMAKE_BINARY_DIR}/bin/fuzz_reader)
    add_custom_command(OUTPUT ${_fuzz}
      COMMAND ${NMR_CLANG} -std=c11 -g -O1 -D_GNU_SOURCE "-DNMT_VERSION=\"${PROJECT_VERSION}\""
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
              -I${NMT_TEST_DIR}/../report -I${NMT_TEST_DIR}/../preload
              ${NMT_TEST_DIR}/fuzz/fuzz_reader.c ${_src} -lz -lm -o ${_fuzz}
      DEPENDS ${NMT_TEST_DIR}/fuzz/fuzz_reader.c ${_src}
      COMMENT "Building the libFuzzer target fuzz_reader with ${NMR_CLANG}"
      VERBATIM)
    add_custom_target(fuzz_reader ALL DEPENDS ${_fuzz})
    file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz-corpus)
    # New inputs go to the build directory; the checked-in seeds are read only.
    add_test(NAME fuzz_reader COMMAND ${_fuzz} -max_total_time=${NMR_FUZZ_SECONDS}
      -max_len=65536 -timeout=10 ${CMAKE_BINARY_DIR}/fuzz-corpus ${NMT_TEST_DIR}/fuzz/corpus)
    set_tests_properties(fuzz_reader PROPERTIES LABELS "fuzz" TIMEOUT 600)
  else()
    message(STATUS "report: ${NMR_CLANG} has no libFuzzer: fuzz_reader not built")
  endif()
endif()

# Golden outputs of the text views on synthetic profiles (report_golden.py
# says what is normalised). Rewrite them with NMR_UPDATE_GOLDEN=1 after a
# deliberate change, and review the diff.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  # With the recorder built, the golden cases include a real recording of
  # tests/report_prog.c; not with a sanitized recorder, whose recording also
  # holds the ASan runtime's own allocations.
  set(_real)
  if(TARGET nmtrace AND NOT NMT_SANITIZE)
    add_executable(report_prog ${NMT_TEST_DIR}/report_prog.c)
    target_compile_options(report_prog PRIVATE -O0 -g -fno-omit-frame-pointer)
    set(_real ${NMT_TEST_PRELOAD} $<TARGET_FILE:report_prog>)
  endif()
  add_test(NAME report_golden
    COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/report_golden.py $<TARGET_FILE:nmreport>
            $<TARGET_FILE:report_mkprofile> ${NMT_TEST_DIR}/report_golden
            ${CMAKE_CURRENT_BINARY_DIR}/report_golden ${_real})
  set_tests_properties(report_golden PROPERTIES LABELS "report" TIMEOUT 120)


  # A real recording of tests/prog_leaks.c, checked view by view.
  if(TARGET nmtrace AND TARGET prog_leaks)
    add_test(NAME report_e2e
      COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/report_e2e.py $<TARGET_FILE:nmreport>
              ${NMT_TEST_PRELOAD} $<TARGET_FILE:prog_leaks>
              ${CMAKE_CURRENT_BINARY_DIR}/report_e2e)
    set_tests_properties(report_e2e PROPERTIES LABELS "report;integration" TIMEOUT 600)
  endif()
endif()

nmt_unit_test(test_owner SOURCES ${NMT_TEST_DIR}/test_owner.c LIBS nmr LABELS report)
