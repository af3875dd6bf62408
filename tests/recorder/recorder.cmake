# Recorder (preload/) tests. Included by tests/CMakeLists.txt.

# ---- Unit tests of the recorder's pure data structures -------------------
# Each unit compiles its module's .c files directly (no libnmtrace.so needed).
set(NMT_PRELOAD_DIR ${NMT_TEST_DIR}/../preload)
set(NMT_REC_DIR ${NMT_TEST_DIR}/recorder)
find_package(Threads REQUIRED)

nmt_unit_test(test_sampler
  SOURCES ${NMT_REC_DIR}/test_sampler.c ${NMT_PRELOAD_DIR}/nmt_sampler.c
  LIBS m LABELS recorder)
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
    ${NMT_PRELOAD_DIR}/nmt_forkgate.c ${NMT_PRELOAD_DIR}/nmt_state.c)
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
# ---- end of recorder unit tests ------------------------------------------
