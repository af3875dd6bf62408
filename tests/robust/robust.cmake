# Robustness suite (label "robust"): real programs that end, fork, exec, load
# code, hit resource limits and get signals, each run unprofiled and under the
# recorder; tests/robust/robust.py checks that the program's output, files
# and exit status are the same and that every profile reads back with every
# loss counted. One CTest test per case, so that a failure names its case.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_package(Threads REQUIRED)
set(NMT_RB_DIR ${NMT_TEST_DIR}/robust)

add_library(rb_common STATIC ${NMT_RB_DIR}/rb_common.c)
target_compile_options(rb_common PRIVATE -O1 -g -fno-inline -fno-optimize-sibling-calls)
# Code without unwind tables (no .eh_frame, and -g0: no .debug_frame either),
# for the unwinder's fallback (rb_daemon nounwind).
add_library(rb_nounwind STATIC ${NMT_RB_DIR}/rb_nounwind.c)
target_compile_options(rb_nounwind PRIVATE -O1 -g0 -fno-omit-frame-pointer -fno-asynchronous-unwind-tables
  -fno-unwind-tables)
add_library(rb_plugin MODULE ${NMT_RB_DIR}/rb_plugin.c)
target_compile_options(rb_plugin PRIVATE -O1 -g)
set_target_properties(rb_plugin PROPERTIES PREFIX "")

foreach(prog rb_exit rb_daemon rb_limits rb_threads rb_fork rb_dlopen rb_signal)
  add_executable(${prog} ${NMT_RB_DIR}/${prog}.c)
  target_compile_options(${prog} PRIVATE -O1 -g -fno-inline -fno-optimize-sibling-calls)
  target_link_libraries(${prog} PRIVATE rb_common Threads::Threads)
endforeach()
target_link_libraries(rb_daemon PRIVATE rb_nounwind)
target_link_libraries(rb_dlopen PRIVATE ${CMAKE_DL_LIBS})
add_dependencies(rb_dlopen rb_plugin)

# A program under a seccomp filter that kills on @debug system calls; its
# frame without unwind tables (rb_wild_fp.S) leads an unwinder out of the
# stack.
enable_language(ASM)
add_executable(rb_seccomp ${NMT_RB_DIR}/rb_seccomp.c ${NMT_RB_DIR}/rb_wild_fp.S)
target_compile_options(rb_seccomp PRIVATE -O1 -g -fno-inline -fno-optimize-sibling-calls)

# A set-user-ID program that loads the recorder as a dependency (a setuid
# program ignores LD_PRELOAD); not in the sanitized build, whose recorder
# needs the ASan runtime preloaded.
if(NOT NMT_SANITIZE)
  add_executable(rb_secure ${NMT_RB_DIR}/rb_secure.c)
  target_link_libraries(rb_secure PRIVATE nmtrace)
  set(NMT_RB_SECURE setuid)
endif()

set(NMT_ROBUST_CASES
  pthread_exit pthread_exit_worker exit_threads abort segv
  daemon_fds daemon_nounwind seccomp
  ulimit_f0 ulimit_f_small ulimit_v ulimit_n heap_start
  prodcons fork_storm fork_threads exec_chain posix_spawn vfork dlopen thread_storm
  kill9 signal_burst unwritable_dir full_fs output_exists output_symlink
  bad_env notice ${NMT_RB_SECURE})
foreach(case ${NMT_ROBUST_CASES})
  add_test(NAME robust_${case}
    COMMAND ${Python3_EXECUTABLE} ${NMT_RB_DIR}/robust.py ${case}
      --preload "${NMT_TEST_PRELOAD}" --bindir ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}
      --plugin $<TARGET_FILE:rb_plugin> --workdir ${CMAKE_CURRENT_BINARY_DIR}/robust/${case})
  # The timeout only stops a hang; robust.py has its own, shorter guards.
  set_tests_properties(robust_${case} PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
    LABELS "robust")
endforeach()
