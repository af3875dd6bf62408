# report: tests of nmreport (the reader, the views, bad input, a real
# recording) and the reader's fuzzer. Owned by the report area.
set(NMR_T_DIR ${NMT_TEST_DIR}/report)

# prog_leaks: known leaks from five named call sites (see its header), for
# report_e2e. Built with frame pointers and without sanitizers: it runs under
# LD_PRELOAD.
find_package(Threads REQUIRED)
add_executable(prog_leaks ${NMR_T_DIR}/prog_leaks.c)
target_compile_options(prog_leaks PRIVATE -O2 -g -fno-omit-frame-pointer)
target_link_libraries(prog_leaks PRIVATE Threads::Threads)

add_library(nmr_testwriter STATIC ${NMR_T_DIR}/report_writer.c)
target_link_libraries(nmr_testwriter PUBLIC PkgConfig::ZLIB)
# It writes the format the recorder writes (nmt_format.h).
target_include_directories(nmr_testwriter PUBLIC ${PROJECT_SOURCE_DIR}/format)

# Synthetic profiles made of this program's own functions: -O0 keeps them.
add_executable(report_mkprofile ${NMR_T_DIR}/report_mkprofile.c)
target_compile_options(report_mkprofile PRIVATE -O0 -g -fno-omit-frame-pointer)
target_link_libraries(report_mkprofile PRIVATE nmr_testwriter)

# Crafted, checksum-valid profiles with extreme figures and a 400,000-frame
# stack: every view and export must answer with a result or one error line.
add_executable(report_crafted ${NMR_T_DIR}/report_crafted.c)
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
    COMMAND ${Python3_EXECUTABLE} ${NMR_T_DIR}/report_crafted.py $<TARGET_FILE:nmreport>
            $<TARGET_FILE:report_crafted> ${CMAKE_CURRENT_BINARY_DIR}/report_crafted ${_frames})
  set_tests_properties(report_crafted PROPERTIES LABELS "report" TIMEOUT 900)
endif()

# The unit tests' pipeline: options, files, view, output in memory.
add_library(nmr_testrun STATIC ${NMR_T_DIR}/report_run.c)
target_link_libraries(nmr_testrun PUBLIC nmr nmr_testwriter)
if(NMT_SANITIZE)
  target_compile_options(nmr_testrun PRIVATE ${NMT_SAN_FLAGS})
endif()

nmt_unit_test(test_reader SOURCES ${NMR_T_DIR}/test_reader.c LIBS nmr nmr_testwriter
  LABELS report)
nmt_unit_test(test_report_views SOURCES ${NMR_T_DIR}/test_report_views.c
  LIBS nmr_testrun LABELS report)

# The reader's fuzz target. Every build replays the seed corpus (and every
# prefix of each seed) through it; with clang's libFuzzer it is also built
# as a real fuzzer, run for NMR_FUZZ_RUNS inputs by the `fuzz`-labelled test.
# The fuzzer is built by clang outside the nmr target (which the project's
# compiler builds), from nmr's own source list (report/CMakeLists.txt),
# without libnmsym (frames named from mappings).
get_property(NMR_FUZZ_SOURCES GLOBAL PROPERTY NMR_SOURCES)
get_property(_nmc GLOBAL PROPERTY NMC_SOURCES)
list(APPEND NMR_FUZZ_SOURCES ${_nmc})
get_property(NMR_FUZZ_INCLUDES GLOBAL PROPERTY NMR_INCLUDE_DIRS)
add_executable(nmr_fuzz_replay ${NMR_T_DIR}/fuzz/fuzz_reader.c ${NMR_T_DIR}/fuzz/replay_main.c)
target_link_libraries(nmr_fuzz_replay PRIVATE nmr)
if(NMT_SANITIZE)
  target_compile_options(nmr_fuzz_replay PRIVATE ${NMT_SAN_FLAGS})
  target_link_options(nmr_fuzz_replay PRIVATE ${NMT_SAN_FLAGS})
endif()
file(GLOB NMR_FUZZ_SEEDS ${NMR_T_DIR}/fuzz/corpus/*)
add_test(NAME fuzz_reader_corpus COMMAND nmr_fuzz_replay ${NMR_FUZZ_SEEDS})
set_tests_properties(fuzz_reader_corpus PROPERTIES LABELS "report" TIMEOUT 120)

# The suite's fuzz run is deterministic: a fixed seed, a fixed number of runs,
# the checked-in seeds only (no corpus directory, so nothing found by an
# earlier run changes the next one), and no mutations from the values the
# target compares (-use_cmp=0: those include heap and stack addresses, which
# differ from run to run with address-space randomisation). The same build
# runs the same inputs on any machine, loaded or not, so the suite cannot go
# red by chance; a longer campaign is run by hand (tests/report/fuzz/README.md).
set(NMR_FUZZ_RUNS 2000 CACHE STRING "inputs the fuzz_reader test runs")
set(NMR_FUZZ_SEED 1 CACHE STRING "libFuzzer -seed of the fuzz_reader test")
find_program(NMR_CLANG NAMES clang clang-16 clang-15 clang-14)
if(NMR_CLANG)
  # Does this clang have libFuzzer? Compile a trivial target to find out.
  set(_probe ${CMAKE_CURRENT_BINARY_DIR}/nmr_fuzz_probe.c)
  file(WRITE ${_probe} "#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
  execute_process(COMMAND ${NMR_CLANG} -fsanitize=fuzzer ${_probe} -o ${CMAKE_CURRENT_BINARY_DIR}/nmr_fuzz_probe
    RESULT_VARIABLE _probe_rc OUTPUT_QUIET ERROR_QUIET)
  if(_probe_rc EQUAL 0)
    list(TRANSFORM NMR_FUZZ_INCLUDES PREPEND -I OUTPUT_VARIABLE _inc)
    set(_fuzz ${CMAKE_BINARY_DIR}/bin/fuzz_reader)
    add_custom_command(OUTPUT ${_fuzz}
      COMMAND ${NMR_CLANG} -std=c11 -g -O1 -D_GNU_SOURCE "-DNMT_VERSION=\"${PROJECT_VERSION}\""
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
              ${_inc} ${NMR_T_DIR}/fuzz/fuzz_reader.c ${NMR_FUZZ_SOURCES} -lz -lm -o ${_fuzz}
      DEPENDS ${NMR_T_DIR}/fuzz/fuzz_reader.c ${NMR_FUZZ_SOURCES}
      COMMENT "Building the libFuzzer target fuzz_reader with ${NMR_CLANG}"
      VERBATIM)
    add_custom_target(fuzz_reader ALL DEPENDS ${_fuzz})
    list(JOIN NMR_FUZZ_SEEDS "," _seed_list)
    add_test(NAME fuzz_reader COMMAND ${_fuzz} -seed=${NMR_FUZZ_SEED} -runs=${NMR_FUZZ_RUNS} -use_cmp=0
      -max_len=65536 -timeout=30 -artifact_prefix=${CMAKE_BINARY_DIR}/fuzz-
      -seed_inputs=${_seed_list})
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
  # tests/report/report_prog.c; not with a sanitized recorder, whose recording also
  # holds the ASan runtime's own allocations.
  set(_real)
  if(TARGET nmtrace AND NOT NMT_SANITIZE)
    add_executable(report_prog ${NMR_T_DIR}/report_prog.c)
    target_compile_options(report_prog PRIVATE -O0 -g -fno-omit-frame-pointer)
    set(_real ${NMT_TEST_PRELOAD} $<TARGET_FILE:report_prog>)
  endif()
  add_test(NAME report_golden
    COMMAND ${Python3_EXECUTABLE} ${NMR_T_DIR}/report_golden.py $<TARGET_FILE:nmreport>
            $<TARGET_FILE:report_mkprofile> ${NMR_T_DIR}/golden
            ${CMAKE_CURRENT_BINARY_DIR}/report_golden ${_real})
  set_tests_properties(report_golden PROPERTIES LABELS "report" TIMEOUT 120)

  # Exports refused on a terminal (a pty), a profile named twice read once.
  add_test(NAME report_outputs
    COMMAND ${Python3_EXECUTABLE} ${NMR_T_DIR}/report_outputs.py $<TARGET_FILE:nmreport>
            $<TARGET_FILE:report_mkprofile> ${CMAKE_CURRENT_BINARY_DIR}/report_outputs)
  set_tests_properties(report_outputs PROPERTIES LABELS "report" TIMEOUT 120)

  # The HTML page's layout in headless Chromium at 1280 and 1920 px; the
  # screenshots and element boxes stay in the output directory.
  add_test(NAME report_html_layout
    COMMAND ${Python3_EXECUTABLE} ${NMR_T_DIR}/browser/check_layout.py
            --out ${CMAKE_CURRENT_BINARY_DIR}/report_html_layout
            --nmreport $<TARGET_FILE:nmreport> --mkprofile $<TARGET_FILE:report_mkprofile>)
  set_tests_properties(report_html_layout PROPERTIES LABELS "report;browser" TIMEOUT 180
    SKIP_RETURN_CODE 77)


  # A real recording of tests/report/prog_leaks.c, checked view by view.
  if(TARGET nmtrace AND TARGET prog_leaks)
    add_test(NAME report_e2e
      COMMAND ${Python3_EXECUTABLE} ${NMR_T_DIR}/report_e2e.py $<TARGET_FILE:nmreport>
              ${NMT_TEST_PRELOAD} $<TARGET_FILE:prog_leaks>
              ${CMAKE_CURRENT_BINARY_DIR}/report_e2e)
    set_tests_properties(report_e2e PROPERTIES LABELS "report;integration" TIMEOUT 600)
  endif()
endif()

# The hash index every report table looks its entries up with
# (report/model/nmr_hindex.h); failalloc.h makes its allocations fail.
nmt_unit_test(test_hindex SOURCES ${NMR_T_DIR}/test_hindex.c LIBS nmr LABELS report)
# The owner of a stack (report/model/nmr_owner.h) on hand-built stacks.
nmt_unit_test(test_owner SOURCES ${NMR_T_DIR}/test_owner.c LIBS nmr LABELS report)
# --diagnose on synthetic profiles: verdicts, --fail-on, JSON.
nmt_unit_test(test_diagnose SOURCES ${NMR_T_DIR}/test_diagnose.c LIBS nmr_testrun LABELS report)
