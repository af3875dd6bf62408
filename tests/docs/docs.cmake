# Documents checked against the code they describe.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  # Every file, function and struct docs/ARCHITECTURE.md names exists.
  add_test(NAME docs_architecture
           COMMAND ${Python3_EXECUTABLE} -B ${NMT_TEST_DIR}/docs/check_architecture.py
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(docs_architecture PROPERTIES LABELS "unit;docs" TIMEOUT 60)
endif()

# The commands and output excerpts of the documentation are run and
# compared with what the programs print (tests/docs/check_docs.py says how
# blocks are marked and what is normalised). NMT_DOCS_UPDATE=1 in the
# environment rewrites the blocks from a fresh run instead; review the diff.
# Not in a sanitized build: its recorder's figures include ASan's own
# allocations. Every docs/*.md is covered, new ones too (a block without a
# marker fails).
if(Python3_Interpreter_FOUND AND TARGET nmtrace AND TARGET nmreport AND NOT NMT_SANITIZE)
  file(GLOB _docs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.md)
  list(SORT _docs)
  list(PREPEND _docs ${CMAKE_SOURCE_DIR}/README.md)
  add_test(NAME docs_reference
    COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/docs/check_docs.py ${CMAKE_SOURCE_DIR}
            ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/docs_reference ${_docs})
  set_tests_properties(docs_reference PROPERTIES LABELS "docs" TIMEOUT 600)
  if(NMEX_HAVE_JAVA)
    add_test(NAME docs_examples
      COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/docs/check_docs.py ${CMAKE_SOURCE_DIR}
              ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/docs_examples
              ${CMAKE_SOURCE_DIR}/examples/README.md)
    set_tests_properties(docs_examples PROPERTIES LABELS "docs;java" TIMEOUT 900)
    # The man pages' EXAMPLES (their profile is a Java run).
    file(GLOB _man CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/docs/*.1)
    add_test(NAME docs_man
      COMMAND ${Python3_EXECUTABLE} ${NMT_TEST_DIR}/docs/check_docs.py ${CMAKE_SOURCE_DIR}
              ${CMAKE_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/docs_man ${_man})
    set_tests_properties(docs_man PROPERTIES LABELS "docs;java" TIMEOUT 300)
  endif()
endif()
