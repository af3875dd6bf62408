# Recorder (preload/) tests. Included by tests/CMakeLists.txt.

# ---- Unit tests of the recorder's pure data structures -------------------
# Each unit compiles its module's .c files directly (no libnmtrace.so needed).
set(NMT_PRELOAD_DIR ${NMT_TEST_DIR}/../preload)
set(NMT_REC_DIR ${NMT_TEST_DIR}/recorder)
find_package(Threads REQUIRED)

nmt_unit_test(test_sampler
  SOURCES ${NMT_REC_DIR}/test_sampler.c ${NMT_PRELOAD_DIR}/nmt_sampler.c
  LIBS m LABELS recorder)
nmt_unit_test(test_cadence
  SOURCES ${NMT_REC_DIR}/test_cadence.c LABELS recorder)
if(TARGET test_cadence)
  target_include_directories(test_cadence PRIVATE ${NMT_PRELOAD_DIR})
endif()
nmt_unit_test(test_ring
  SOURCES ${NMT_REC_DIR}/test_ring.c
  LIBS Threads::Threads LABELS recorder)
# The ring between application threads and the writer, the wait/wake protocol
# between them, and the writer's rounds, under ThreadSanitizer (plain
# programs: Criterion does not run under TSan).
if(NMT_TSAN)
  function(nmt_tsan_test name)
    add_executable(${name} ${ARGN})
    target_compile_options(${name} PRIVATE -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${name} PRIVATE -fsanitize=thread)
    target_link_libraries(${name} PRIVATE Threads::Threads)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES LABELS "tsan;recorder" TIMEOUT 300
      ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1:abort_on_error=1")
  endfunction()
  nmt_tsan_test(tsan_ring ${NMT_REC_DIR}/tsan_ring.c)
  nmt_tsan_test(tsan_wake ${NMT_REC_DIR}/tsan_wake.c)
  # The writer thread and the slot registry, compiled in with their tables;
  # the test provides what they call outside (configuration, the snapshot
  # encoder).
  nmt_tsan_test(tsan_writer ${NMT_REC_DIR}/tsan_writer.c
    ${NMT_PRELOAD_DIR}/nmt_writer.c ${NMT_PRELOAD_DIR}/nmt_thread.c
    ${NMT_PRELOAD_DIR}/nmt_livetab.c ${NMT_PRELOAD_DIR}/nmt_stacktab.c
    ${NMT_PRELOAD_DIR}/nmt_mmap_model.c ${NMT_PRELOAD_DIR}/nmt_sampler.c
    ${NMT_PRELOAD_DIR}/nmt_forkgate.c ${NMT_PRELOAD_DIR}/nmt_state.c
    ${NMT_PRELOAD_DIR}/nmt_attach_gate.c)
  target_link_libraries(tsan_writer PRIVATE m)
endif()
nmt_unit_test(test_addrfilter
  SOURCES ${NMT_REC_DIR}/test_addrfilter.c
  LIBS m Threads::Threads LABELS recorder)
nmt_unit_test(test_stacktab
  SOURCES ${NMT_REC_DIR}/test_stacktab.c ${NMT_PRELOAD_DIR}/nmt_stacktab.c
  LABELS recorder)
nmt_unit_test(test_livetab
  SOURCES ${NMT_REC_DIR}/test_livetab.c ${NMT_PRELOAD_DIR}/nmt_livetab.c
  LABELS recorder)
nmt_unit_test(test_mmap_model
  SOURCES ${NMT_REC_DIR}/test_mmap_model.c ${NMT_PRELOAD_DIR}/nmt_mmap_model.c
  LABELS recorder)
nmt_unit_test(test_wheap
  SOURCES ${NMT_REC_DIR}/test_wheap.c ${NMT_PRELOAD_DIR}/nmt_wheap.c
  LABELS recorder)
# The real allocator's resolution and the static arena, with the shared state
# they mark (the address filter).
nmt_unit_test(test_bootstrap
  SOURCES ${NMT_REC_DIR}/test_bootstrap.c ${NMT_PRELOAD_DIR}/nmt_bootstrap.c
    ${NMT_PRELOAD_DIR}/nmt_state.c
  LIBS dl LABELS recorder)
# The profile encoder (format/), read back by the report's reader.
nmt_unit_test(test_enc
  SOURCES ${NMT_REC_DIR}/test_enc.c
  LIBS nmtfmt nmr LABELS recorder)
# The sampled path, the slot registry, the writer's rounds and the snapshot
# encoder: the recorder's own files, linked with rec_doubles.c in place of the
# OS file, the configuration and the bootstrap (rec_doubles.h). Frame
# pointers and no sibling calls, so that the tests' call chains are what the
# unwinders see; exported symbols (-rdynamic) so that dladdr names them.
set(NMT_REC_CORE ${NMT_PRELOAD_DIR}/nmt_capture.c ${NMT_PRELOAD_DIR}/nmt_thread.c
  ${NMT_PRELOAD_DIR}/nmt_state.c ${NMT_PRELOAD_DIR}/nmt_sampler.c
  ${NMT_PRELOAD_DIR}/nmt_forkgate.c ${NMT_PRELOAD_DIR}/nmt_attach_gate.c ${NMT_REC_DIR}/rec_doubles.c)
nmt_unit_test(test_capture
  SOURCES ${NMT_REC_DIR}/test_capture.c ${NMT_REC_CORE}
  LIBS nmtfmt PkgConfig::LIBUNWIND Threads::Threads dl m LABELS recorder)
nmt_unit_test(test_writer
  SOURCES ${NMT_REC_DIR}/test_writer.c ${NMT_REC_CORE} ${NMT_PRELOAD_DIR}/nmt_writer.c
    ${NMT_PRELOAD_DIR}/nmt_snapshot.c ${NMT_PRELOAD_DIR}/nmt_hint.c ${NMT_PRELOAD_DIR}/nmt_stacktab.c
    ${NMT_PRELOAD_DIR}/nmt_livetab.c ${NMT_PRELOAD_DIR}/nmt_mmap_model.c
  LIBS nmr nmtfmt PkgConfig::LIBUNWIND Threads::Threads dl m LABELS recorder)
foreach(t test_capture test_writer)
  if(TARGET ${t})
    target_compile_options(${t} PRIVATE -fno-omit-frame-pointer -fno-optimize-sibling-calls)
    set_target_properties(${t} PROPERTIES ENABLE_EXPORTS ON)
  endif()
endforeach()
# ---- end of recorder unit tests ------------------------------------------
# The recorder's call graph is layered (hooks -> capture -> rings; writer ->
# snapshot -> format): no cycle among libnmtrace.so's files other than
# through the shared state (check_layers.py says what it leaves out).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND AND TARGET nmtrace)
  add_test(NAME recorder_layers
           COMMAND ${Python3_EXECUTABLE} -B ${NMT_REC_DIR}/check_layers.py
                   "$<JOIN:$<TARGET_OBJECTS:nmtrace>,,>")
  set_tests_properties(recorder_layers PROPERTIES LABELS "unit;recorder" TIMEOUT 60)
endif()
