# examples: the programs of examples/ as a user runs them: the README's C
# demo (no JDK needed) and the example scripts (they need the launcher,
# build/bin/nmtrace). The drivers share tests/java/nmtj.py; nmtj_test and
# NMTJ_JAVA come from tests/java/java.cmake.
set(NMTX_DIR ${NMT_TEST_DIR}/examples)
if(NOT Python3_Interpreter_FOUND)
  return()
endif()

add_test(NAME examples_c_leak
         COMMAND ${Python3_EXECUTABLE} -B ${NMTX_DIR}/test_c_leak.py --build ${CMAKE_BINARY_DIR}
                 --preload=${NMT_TEST_PRELOAD})
set_tests_properties(examples_c_leak PROPERTIES LABELS "examples" TIMEOUT 60)

# The example scripts themselves (they need the launcher, build/bin/nmtrace).
nmtj_test(examples_scripts_a ${NMTX_DIR}/test_scripts.py ARGS --set a TIMEOUT 180 LABELS examples)
nmtj_test(examples_scripts_b ${NMTX_DIR}/test_scripts.py ARGS --set b TIMEOUT 180 LABELS examples)
nmtj_test(examples_scripts_jemalloc ${NMTX_DIR}/test_scripts.py ARGS --set jemalloc TIMEOUT 180 LABELS "examples;jemalloc")

