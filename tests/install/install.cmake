# Installation (tests/install/): `cmake --install` into a temporary prefix, and the Debian
# package built with cpack and installed into a throwaway dpkg root
# (tests/install/test_install.py says what each checks).
# Only for a release build: a sanitized recorder is for the test suite only.
if(NMT_SANITIZE OR NMT_TSAN)
  return()
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)
foreach(case prefix deb quickstart)
  add_test(NAME install_${case}
    COMMAND ${Python3_EXECUTABLE} -B ${NMT_TEST_DIR}/install/test_install.py ${case}
      --build ${CMAKE_BINARY_DIR} --cc ${CMAKE_C_COMPILER} --bindir ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}
      --workdir ${CMAKE_CURRENT_BINARY_DIR}/install_${case})
  set_tests_properties(install_${case} PROPERTIES LABELS "install" TIMEOUT 300
    SKIP_RETURN_CODE 77 RESOURCE_LOCK nmt_install)
endforeach()
