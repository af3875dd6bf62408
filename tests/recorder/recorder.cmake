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
  # The call-frame rule lookup's object list, read while being rebuilt.
  nmt_tsan_test(tsan_cfi ${NMT_REC_DIR}/tsan_cfi.c ${NMT_PRELOAD_DIR}/nmt_cfi.c
    ${NMT_PRELOAD_DIR}/nmt_cfi_eval.c ${NMT_PRELOAD_DIR}/nmt_cfi_insn.c)
endif()
nmt_unit_test(test_addrfilter
  SOURCES ${NMT_REC_DIR}/test_addrfilter.c
  LIBS m Threads::Threads LABELS recorder)
nmt_unit_test(test_liveset
  SOURCES ${NMT_REC_DIR}/test_liveset.c
  LIBS Threads::Threads LABELS recorder)
nmt_unit_test(test_stacktab
  SOURCES ${NMT_REC_DIR}/test_stacktab.c ${NMT_PRELOAD_DIR}/nmt_stacktab.c
  LABELS recorder)
# The same tests with a 2-bit stack hash: every lookup meets collisions.
nmt_unit_test(test_stacktab_collide
  SOURCES ${NMT_REC_DIR}/test_stacktab.c ${NMT_PRELOAD_DIR}/nmt_stacktab.c
  LABELS recorder)
if(TARGET test_stacktab_collide)
  target_compile_definitions(test_stacktab_collide PRIVATE NMT_STACKTAB_TEST_HASH_BITS=2)
endif()
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
set(NMT_REC_CORE ${NMT_PRELOAD_DIR}/nmt_capture.c ${NMT_PRELOAD_DIR}/nmt_unwind.c
  ${NMT_PRELOAD_DIR}/nmt_cfi.c ${NMT_PRELOAD_DIR}/nmt_cfi_eval.c ${NMT_PRELOAD_DIR}/nmt_cfi_insn.c
  ${NMT_PRELOAD_DIR}/nmt_dlclose.c ${NMT_PRELOAD_DIR}/nmt_thread.c
  ${NMT_PRELOAD_DIR}/nmt_state.c ${NMT_PRELOAD_DIR}/nmt_sampler.c ${NMT_PRELOAD_DIR}/nmt_prefault.c
  ${NMT_PRELOAD_DIR}/nmt_forkgate.c ${NMT_PRELOAD_DIR}/nmt_attach_gate.c ${NMT_REC_DIR}/rec_doubles.c)
nmt_unit_test(test_capture
  SOURCES ${NMT_REC_DIR}/test_capture.c ${NMT_REC_CORE}
  LIBS nmtfmt PkgConfig::LIBUNWIND Threads::Threads dl m LABELS recorder)
# The SMAPS record from the page tables against smaps (nmt_smaps.c,
# nmt_pagescan.c), on the test's own mappings.
nmt_unit_test(test_smaps
  SOURCES ${NMT_REC_DIR}/test_smaps.c ${NMT_PRELOAD_DIR}/nmt_smaps.c
    ${NMT_PRELOAD_DIR}/nmt_pagescan.c ${NMT_PRELOAD_DIR}/nmt_os.c
    ${NMT_PRELOAD_DIR}/nmt_mmap_model.c
  LIBS nmtfmt LABELS recorder)
if(TARGET test_smaps)
  target_include_directories(test_smaps PRIVATE ${NMT_PRELOAD_DIR})
endif()
# The maps line walker (nmt_os.c) on crafted maps files.
nmt_unit_test(test_os
  SOURCES ${NMT_REC_DIR}/test_os.c ${NMT_PRELOAD_DIR}/nmt_os.c
  LIBS nmtfmt Threads::Threads LABELS recorder)
if(TARGET test_os)
  target_include_directories(test_os PRIVATE ${NMT_PRELOAD_DIR})
endif()
# The event sequence from the counter and from the CPU's clock (nmt_state.h).
nmt_unit_test(test_seq
  SOURCES ${NMT_REC_DIR}/test_seq.c ${NMT_PRELOAD_DIR}/nmt_state.c ${NMT_PRELOAD_DIR}/nmt_os.c
  LIBS nmtfmt Threads::Threads LABELS recorder)
if(TARGET test_seq)
  target_include_directories(test_seq PRIVATE ${NMT_PRELOAD_DIR})
endif()
# The writer's prefault of the static tables (nmt_prefault.c).
nmt_unit_test(test_prefault
  SOURCES ${NMT_REC_DIR}/test_prefault.c ${NMT_REC_CORE}
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
# Call-frame rules read from the loaded objects' tables (preload/nmt_cfi*.c),
# checked against libdw on this process's own objects: the test binary with
# cfi_helper.c built with and without frame pointers, libc, libdw, libz...;
# plus hand-made tables, and a library loaded and unloaded (cfi_dso).
if(CRITERION_LIB)
  add_library(cfi_helper_fp OBJECT ${NMT_REC_DIR}/cfi_helper.c)
  target_compile_options(cfi_helper_fp PRIVATE -O2 -fno-omit-frame-pointer "-DCFI_NAME(f)=cfi_fp_##f")
  add_library(cfi_helper_nofp OBJECT ${NMT_REC_DIR}/cfi_helper.c)
  target_compile_options(cfi_helper_nofp PRIVATE -O2 -fomit-frame-pointer "-DCFI_NAME(f)=cfi_nofp_##f")
  add_library(cfi_dso MODULE ${NMT_REC_DIR}/cfi_dso.c)
endif()
nmt_unit_test(test_cfi
  SOURCES ${NMT_REC_DIR}/test_cfi.c ${NMT_REC_DIR}/test_cfi_life.c ${NMT_REC_DIR}/test_cfi_synth.c
    ${NMT_PRELOAD_DIR}/nmt_cfi.c ${NMT_PRELOAD_DIR}/nmt_cfi_eval.c
    ${NMT_PRELOAD_DIR}/nmt_cfi_insn.c ${NMT_PRELOAD_DIR}/nmt_dlclose.c
    $<TARGET_OBJECTS:cfi_helper_fp> $<TARGET_OBJECTS:cfi_helper_nofp>
  LIBS PkgConfig::LIBDW PkgConfig::LIBELF PkgConfig::ZLIB Threads::Threads dl LABELS recorder)
if(TARGET test_cfi)
  target_include_directories(test_cfi PRIVATE ${NMT_PRELOAD_DIR} ${NMT_REC_DIR})
  target_compile_definitions(test_cfi PRIVATE CFI_DSO_PATH="$<TARGET_FILE:cfi_dso>")
  add_dependencies(test_cfi cfi_dso)
endif()
# Attach mode's dlopen wrapper expands $ORIGIN for its caller: the wrapper in
# lib/, the program and the library it loads by a $ORIGIN name in bin/.
add_library(got_origin_wrap SHARED ${NMT_PRELOAD_DIR}/nmt_got_dlopen.c)
target_include_directories(got_origin_wrap PRIVATE ${NMT_PRELOAD_DIR})
add_library(got_origin_lib MODULE ${NMT_REC_DIR}/got_origin_lib.c)
set_target_properties(got_origin_lib PROPERTIES PREFIX "" LIBRARY_OUTPUT_DIRECTORY
  ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
add_executable(prog_got_origin ${NMT_REC_DIR}/prog_got_origin.c)
target_link_libraries(prog_got_origin PRIVATE got_origin_wrap dl)
add_dependencies(prog_got_origin got_origin_lib)
add_test(NAME recorder_got_origin COMMAND prog_got_origin)
set_tests_properties(recorder_got_origin PROPERTIES LABELS "recorder;unit")

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
# The fast unwinder (nmt_unwind.c) over the test's own rule source: frame
# pointers, so that the rule it gives for this program's code is right.
nmt_unit_test(test_unwind
  SOURCES ${NMT_REC_DIR}/test_unwind.c ${NMT_PRELOAD_DIR}/nmt_unwind.c
  LIBS Threads::Threads LABELS recorder)
if(TARGET test_unwind)
  target_compile_options(test_unwind PRIVATE -fno-omit-frame-pointer -fno-optimize-sibling-calls)
endif()
