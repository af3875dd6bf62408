# Recorder integration tests: real programs with ground truth under LD_PRELOAD,
# checked by tests/recorder/nmtprof.py, an independent reader of FORMAT.md.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_package(Threads REQUIRED)
set(NMT_IT_DIR ${NMT_TEST_DIR}/recorder)

foreach(prog prog_truth prog_threads prog_fork prog_exit_race prog_steady prog_churn
    prog_main_exit prog_resident)
  add_executable(${prog} ${NMT_IT_DIR}/${prog}.c)
  target_compile_options(${prog} PRIVATE -O1 -g -fno-inline -fno-optimize-sibling-calls)
  target_link_libraries(${prog} PRIVATE Threads::Threads)
endforeach()
# The same ground-truth program with frame pointers, for NMTRACE_UNWIND=fp.
add_executable(prog_truth_fp ${NMT_IT_DIR}/prog_truth.c)
target_compile_options(prog_truth_fp PRIVATE -O1 -g -fno-inline -fno-omit-frame-pointer
  -fno-optimize-sibling-calls)

# prog_hostio: descriptors and resource limits. Part of it is built without
# unwind tables, so that unwinding through it takes libunwind's frame-chain
# fallback (the recorder_hostio_fds case checks with readelf that it has no FDE).
add_executable(prog_hostio ${NMT_IT_DIR}/prog_hostio.c ${NMT_IT_DIR}/hostio_nounwind.c)
target_compile_options(prog_hostio PRIVATE -O1 -g -fno-omit-frame-pointer)
set_source_files_properties(${NMT_IT_DIR}/hostio_nounwind.c PROPERTIES
  COMPILE_OPTIONS "-fno-asynchronous-unwind-tables;-fno-unwind-tables;-g0")
target_link_libraries(prog_hostio PRIVATE Threads::Threads)

function(nmt_recorder_test case)
  cmake_parse_arguments(T "" "TIMEOUT" "LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_test(NAME recorder_${case}
    COMMAND ${Python3_EXECUTABLE} ${NMT_IT_DIR}/test_recorder.py ${case}
      --lib "${NMT_TEST_PRELOAD}" --bindir ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}
      --workdir ${CMAKE_CURRENT_BINARY_DIR}/it_${case})
  set_tests_properties(recorder_${case} PROPERTIES TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77
    LABELS "integration;recorder;${T_LABELS}")
endfunction()

nmt_recorder_test(exact)
nmt_recorder_test(smaps)
nmt_recorder_test(rss_jemalloc LABELS report)
nmt_recorder_test(sampled)
nmt_recorder_test(unbiased TIMEOUT 900)
nmt_recorder_test(threads)
nmt_recorder_test(fork_exec)
nmt_recorder_test(exit_race)
nmt_recorder_test(kill9)
nmt_recorder_test(triggers)
nmt_recorder_test(defaults)
nmt_recorder_test(bad_env)
nmt_recorder_test(ring_overflow)
nmt_recorder_test(churn_exact)
nmt_recorder_test(churn_small_ring)
nmt_recorder_test(main_exit)
nmt_recorder_test(main_exit_sigterm)
nmt_recorder_test(fp_unwind)
nmt_recorder_test(unwind_check)
nmt_recorder_test(jemalloc)
nmt_recorder_test(hostio_fds)
nmt_recorder_test(hostio_fsize)
nmt_recorder_test(hostio_vm)
nmt_recorder_test(hostio_nofile)
nmt_recorder_test(hostio_errno)
nmt_recorder_test(hostio_output)
nmt_recorder_test(java LABELS java)

# prog_unwind: stacks for NMTRACE_UNWIND=check (the fast unwinder against
# libunwind). unwind_lib.c is built as four libraries: with and without
# frame pointers, and two that prog_unwind dlopens one after the other.
function(nmt_uwt_lib tag)
  add_library(uwt_${tag} SHARED ${NMT_IT_DIR}/unwind_lib.c)
  target_compile_definitions(uwt_${tag} PRIVATE UWT_TAG=${tag})
  target_compile_options(uwt_${tag} PRIVATE -g -fno-optimize-sibling-calls ${ARGN})
  set_target_properties(uwt_${tag} PROPERTIES PREFIX lib)
endfunction()
# prog_reload: stacks through libraries loaded and unloaded at one address
# (reload_dso.c, built twice with frames of different sizes), preloaded and
# after an attach (only with the JVM bridge, which has the attach's entry).
foreach(tag a b)
  add_library(reload_${tag} MODULE ${NMT_IT_DIR}/reload_dso.c)
  target_compile_options(reload_${tag} PRIVATE -O2 -g -fomit-frame-pointer)
  set_target_properties(reload_${tag} PROPERTIES PREFIX lib LIBRARY_OUTPUT_DIRECTORY
    ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
endforeach()
target_compile_definitions(reload_a PRIVATE RELOAD_FRAME=256)
target_compile_definitions(reload_b PRIVATE RELOAD_FRAME=2048)
add_executable(prog_reload ${NMT_IT_DIR}/prog_reload.c)
target_compile_options(prog_reload PRIVATE -O1 -g)
target_link_libraries(prog_reload PRIVATE dl)
add_dependencies(prog_reload reload_a reload_b)
nmt_recorder_test(reload_unwind)
if(NMT_JAVA_BRIDGE)
  nmt_recorder_test(attach_unwind)
  # prog_attach_relro: an attach leaves RELRO pages as it found them.
  add_library(reload_relro MODULE ${NMT_IT_DIR}/reload_dso.c)
  target_compile_definitions(reload_relro PRIVATE RELOAD_FRAME=64)
  target_link_options(reload_relro PRIVATE -Wl,-z,relro -Wl,-z,now)
  set_target_properties(reload_relro PROPERTIES PREFIX lib LIBRARY_OUTPUT_DIRECTORY
    ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
  add_executable(prog_attach_relro ${NMT_IT_DIR}/prog_attach_relro.c)
  target_link_libraries(prog_attach_relro PRIVATE dl)
  add_dependencies(prog_attach_relro reload_relro)
  nmt_recorder_test(attach_relro)
endif()

nmt_uwt_lib(o2 -O2 -fomit-frame-pointer)
nmt_uwt_lib(o0 -O0 -fno-omit-frame-pointer)
nmt_uwt_lib(dla -O0 -fno-omit-frame-pointer)
nmt_uwt_lib(dlb -O2 -fomit-frame-pointer)
add_library(uwt_cxx SHARED ${NMT_IT_DIR}/unwind_cxx.cc)
target_compile_options(uwt_cxx PRIVATE -O2 -g -fomit-frame-pointer)
set_target_properties(uwt_cxx PROPERTIES PREFIX lib)
add_executable(prog_unwind ${NMT_IT_DIR}/prog_unwind.c)
target_compile_options(prog_unwind PRIVATE -O1 -g -fno-inline -fno-optimize-sibling-calls)
target_compile_definitions(prog_unwind PRIVATE UWT_LIBDIR="$<TARGET_FILE_DIR:uwt_dla>")
target_link_libraries(prog_unwind PRIVATE uwt_o2 uwt_o0 uwt_cxx Threads::Threads dl)
add_dependencies(prog_unwind uwt_dla uwt_dlb)
