# Documents checked against the code they describe.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  # Every file, function and struct docs/ARCHITECTURE.md names exists.
  add_test(NAME docs_architecture
           COMMAND ${Python3_EXECUTABLE} -B ${NMT_TEST_DIR}/docs/check_architecture.py
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs_architecture PROPERTIES LABELS "unit;docs" TIMEOUT 60)
endif()
