# common/: the shared grammar of values and the NMTRACE_* table (units), and
# the programs agreeing on it (the launcher, the recorder and nmreport given
# the same strings).
nmt_unit_test(test_common_parse SOURCES ${NMT_TEST_DIR}/common/test_parse.c LIBS nmcommon
  LABELS common)

find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME common_agree
           COMMAND ${Python3_EXECUTABLE} -B ${NMT_TEST_DIR}/common/test_agree.py
                   --build ${CMAKE_BINARY_DIR} --preload "${NMT_TEST_PRELOAD}")
  # "integration": it records programs (a sanitized build adds its options).
  set_tests_properties(common_agree PROPERTIES LABELS "common;integration" TIMEOUT 300)
  # The NMTRACE_* table, README.md's variable table and the names the
  # programs read are one list.
  add_test(NAME common_variables
           COMMAND ${Python3_EXECUTABLE} -B ${NMT_TEST_DIR}/common/check_variables.py
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(common_variables PROPERTIES LABELS "unit;common;docs" TIMEOUT 60)
endif()
