# java: the JVM under the recorder (label java). Correctness tests (threads,
# fork/exec children, System.exit races, jcmd and the dump signal, G1/Parallel
# GC, NMT) compare a recorded run with a plain one; the scenario tests run the
# examples/ programs and assert on `nmreport --json` (docs/JSON.md), --growth
# and --rss. Also here: the launcher (label launcher); the examples' own tests
# are in tests/examples/. Drivers are Python 3 scripts in
# tests/java/ (nmtj.py is their shared module); the Java test programs are
# compiled into <build>/tests/java/classes. Without a JDK (examples/ decides,
# NMEX_HAVE_JAVA) every Java test reports SKIP (77).

find_package(Python3 COMPONENTS Interpreter)
find_package(Java 11 COMPONENTS Development)
set(NMTJ_DIR ${NMT_TEST_DIR}/java)
set(NMTJ_OUT ${CMAKE_BINARY_DIR}/tests/java)

if(NOT Python3_Interpreter_FOUND)
  message(WARNING "java tests: python3 not found: not registered")
  return()
endif()

if(Java_JAVAC_EXECUTABLE AND NMEX_HAVE_JAVA)
  set(NMTJ_JAVA "${NMEX_JAVA_BIN}")
  set(NMTJ_SOURCES)
  foreach(_j AttachTarget Children DeepStack ExitRace GcChurn Idle InlineHot JvmAccounts
          ManyThreads NativeChurn NativeWalk WalkMix)
    list(APPEND NMTJ_SOURCES ${NMTJ_DIR}/${_j}.java)
  endforeach()
  add_custom_command(
    OUTPUT ${NMTJ_OUT}/classes.stamp
    COMMAND ${CMAKE_COMMAND} -E make_directory ${NMTJ_OUT}/classes
    # The examples' classes on the class path: AttachTarget calls NativeLib.
    COMMAND ${Java_JAVAC_EXECUTABLE} -cp ${CMAKE_BINARY_DIR}/examples/classes
            -d ${NMTJ_OUT}/classes ${NMTJ_SOURCES}
    COMMAND ${CMAKE_COMMAND} -E touch ${NMTJ_OUT}/classes.stamp
    DEPENDS ${NMTJ_SOURCES} ${CMAKE_BINARY_DIR}/examples/classes.stamp
    COMMENT "javac: Java test programs"
    VERBATIM)
  add_custom_target(java_test_classes ALL DEPENDS ${NMTJ_OUT}/classes.stamp)
  add_dependencies(java_test_classes examples_java)
  # The agent that holds a JVM in its start-up (test_attach.py --case early).
  get_filename_component(_nmtj_jdk "${NMEX_JAVA_BIN}" DIRECTORY)
  get_filename_component(_nmtj_jdk "${_nmtj_jdk}" DIRECTORY)
  add_library(nmtt_early_gate SHARED ${NMTJ_DIR}/early_gate.c)
  target_include_directories(nmtt_early_gate PRIVATE ${_nmtj_jdk}/include
                             ${_nmtj_jdk}/include/linux)
  set_target_properties(nmtt_early_gate PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NMTJ_OUT})
  # NativeWalk's JNI library: mallocs in native code, and a call back into
  # Java (test_walk.py, WalkMix's jni and upcall phases).
  add_library(nmtt_walk_jni SHARED ${NMTJ_DIR}/walk_jni.c)
  target_include_directories(nmtt_walk_jni PRIVATE ${_nmtj_jdk}/include
                             ${_nmtj_jdk}/include/linux)
  target_compile_options(nmtt_walk_jni PRIVATE -fno-omit-frame-pointer)
  set_target_properties(nmtt_walk_jni PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NMTJ_OUT})
else()
  set(NMTJ_JAVA "")
  message(STATUS "java tests: no JDK found: they will report SKIP")
endif()

# nmtj_test(NAME SCRIPT [ARGS ...] [TIMEOUT s] [LABELS ...]): SCRIPT is a path
# relative to tests/java/, or absolute.
function(nmtj_test name script)
  cmake_parse_arguments(T "" "TIMEOUT" "ARGS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT IS_ABSOLUTE ${script})
    set(script ${NMTJ_DIR}/${script})
  endif()
  add_test(NAME ${name}
           COMMAND ${Python3_EXECUTABLE} -B ${script} --build ${CMAKE_BINARY_DIR}
                   --java=${NMTJ_JAVA} --preload=${NMT_TEST_PRELOAD} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES LABELS "java;${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                                          SKIP_RETURN_CODE 77)
endfunction()

# The JVM keeps working under the recorder.
nmtj_test(java_threads test_threads.py TIMEOUT 120)
nmtj_test(java_children test_children.py TIMEOUT 180)
nmtj_test(java_exit_race test_exit_race.py TIMEOUT 180)
nmtj_test(java_jcmd test_jcmd.py TIMEOUT 120)
nmtj_test(java_gc_g1 test_gc.py ARGS --gc G1 TIMEOUT 120)
nmtj_test(java_gc_parallel test_gc.py ARGS --gc Parallel TIMEOUT 120)
nmtj_test(java_nmt test_nmt.py TIMEOUT 120)
nmtj_test(java_jvm_accounts test_jvm_accounts.py TIMEOUT 300)

# The scenarios of examples/ read back through `nmreport --json` (and --growth, --rss).
nmtj_test(java_jni_leak test_jni_leak.py TIMEOUT 120)
nmtj_test(java_jni_leak_jemalloc test_jni_leak.py ARGS --allocator jemalloc TIMEOUT 120 LABELS jemalloc)
nmtj_test(java_direct_buffers test_unsafe_growth.py ARGS --scenario direct TIMEOUT 120)
nmtj_test(java_unsafe_leak test_unsafe_growth.py ARGS --scenario unsafe TIMEOUT 120)
nmtj_test(java_metaspace test_metaspace.py TIMEOUT 180)
nmtj_test(java_reflection test_reflection.py TIMEOUT 120)
nmtj_test(java_nio_scaling test_nio_scaling.py TIMEOUT 180)
nmtj_test(java_growth_ranking test_growth_ranking.py TIMEOUT 120)
nmtj_test(java_warmup test_warmup.py TIMEOUT 120)

# nmreport --diagnose on every example: the first finding names the cause and
# the owner, with the bytes the program says it holds (test_diagnose.py).
foreach(s jni jni_jemalloc direct nio unsafe metaspace reflection levelling cacheleak warmup churn
    c_leak)
  nmtj_test(java_diagnose_${s} test_diagnose.py ARGS --scenario ${s} TIMEOUT 180 LABELS diagnose)
endforeach()

# The launcher needs no JDK; it carries its own label.
add_test(NAME launcher
         COMMAND ${Python3_EXECUTABLE} -B ${NMTJ_DIR}/test_launcher.py --build ${CMAKE_BINARY_DIR}
                 --java=${NMTJ_JAVA})
set_tests_properties(launcher PROPERTIES LABELS "launcher" TIMEOUT 120)
# Installed under a path with a space; the signals it passes on.
foreach(t space signals)
  add_test(NAME launcher_${t}
           COMMAND ${Python3_EXECUTABLE} -B ${NMTJ_DIR}/test_launcher_${t}.py --build ${CMAKE_BINARY_DIR}
                   --java=${NMTJ_JAVA})
  set_tests_properties(launcher_${t} PROPERTIES LABELS "launcher" TIMEOUT 300)
endforeach()

# Robustness: every scenario 20 times with the bridge active.
nmtj_test(java_soak test_soak.py TIMEOUT 1500 LABELS soak)
# A C2-inlined method keeps its own frame.
nmtj_test(java_bridge_inlined test_inlined.py TIMEOUT 180)
# NMTRACE_DEPTH bounds the Java frames too, keeping the innermost.
nmtj_test(java_bridge_depth test_depth.py TIMEOUT 180)
# Issue 15: nmtrace attach / detach / jcmd JVMTI.agent_load into a live JVM;
# detach_names: a method first met by the detach's last rounds is named;
# early: into a JVM held in its start-up, before JVMTI serves anyone;
# early_jcmd: the same by jcmd, whose note goes to the JVM's stderr;
# early_again: that session detached before the start completes, then two more;
# starting: no signal before HotSpot's attach mechanism has started.
# depth: --depth N and jcmd's depth:N bound each session's stacks.
foreach(c leak cycles rate1 jemalloc preloaded disabled late errors jcmd detach_names early
          early_jcmd early_again starting depth)
  nmtj_test(java_attach_${c} test_attach.py ARGS --case ${c} TIMEOUT 180 LABELS attach)
endforeach()
# The own Java walker (NMTRACE_JAVA_WALK) against AsyncGetCallTrace: check
# mode compares both on every sampled Java stack (int, c1, c2, tiered: WalkMix
# one phase a run; deep, inline, threads); auto: the default, its stacks whole;
# asgct: the old walker alone; bad_value: one line, the default used;
# seccomp: a JVM under a filter that kills on @debug system calls.
foreach(c int c1 c2 tiered deep inline threads auto asgct bad_value seccomp)
  nmtj_test(java_walk_${c} test_walk.py ARGS --case ${c} TIMEOUT 300 LABELS walk)
endforeach()
