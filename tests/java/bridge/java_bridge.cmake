# JVM bridge tests (label java): a Criterion unit test of the bridge and its
# decoder with a fake JVM, and integration tests that run real `java`
# programs under libnmtrace.so and check nmreport's output.
set(NMT_JB_DIR ${NMT_TEST_DIR}/java/bridge)
find_package(Java COMPONENTS Development QUIET)
find_package(JNI QUIET)
if(JNI_FOUND)
  set(NMT_JB_JNI_INC ${JNI_INCLUDE_DIRS})
  set(NMT_JB_LIBJVM ${JAVA_JVM_LIBRARY})
else()
  file(GLOB NMT_JB_JDK_INC /usr/lib/jvm/*/include)
  list(GET NMT_JB_JDK_INC 0 NMT_JB_JDK_INC0)
  set(NMT_JB_JNI_INC ${NMT_JB_JDK_INC0} ${NMT_JB_JDK_INC0}/linux)
  file(GLOB NMT_JB_LIBJVM ${NMT_JB_JDK_INC0}/../lib/server/libjvm.so)
endif()

set(NMT_JB_BRIDGE_SOURCES
  ${PROJECT_SOURCE_DIR}/preload/nmt_jvm.c ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_stack.c
  ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_walk.c
  ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_methods.c ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_code.c
  ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_queue.c ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_state.c
  ${PROJECT_SOURCE_DIR}/preload/nmt_jvm_accounts.c ${PROJECT_SOURCE_DIR}/preload/nmt_attach_agent.c)
# The records the bridge queues are decoded by the report's model (nmr).
nmt_unit_test(test_jvm_bridge
  SOURCES ${NMT_JB_DIR}/test_jvm_bridge.c ${NMT_JB_BRIDGE_SOURCES}
  LIBS nmr nmtfmt dl pthread
  LABELS java)
if(TARGET test_jvm_bridge)
  target_include_directories(test_jvm_bridge PRIVATE ${NMT_JB_JNI_INC}
    ${PROJECT_SOURCE_DIR}/preload)
endif()

# libnmtrace.so's dlsym (it catches JNI_CreateJavaVM) keeps RTLD_NEXT
# relative to the caller: a program and a preloaded shim get the same
# answers with and without the recorder. No JDK needed.
if(TARGET nmtrace)
  add_library(nmtt_dlsym_lib SHARED ${NMT_JB_DIR}/dlsym_lib.c)
  add_library(nmtt_dlsym_shim SHARED ${NMT_JB_DIR}/dlsym_shim.c)
  add_executable(nmtt_dlsym_prog ${NMT_JB_DIR}/dlsym_prog.c)
  target_link_libraries(nmtt_dlsym_prog PRIVATE nmtt_dlsym_lib dl)
  target_link_libraries(nmtt_dlsym_shim PRIVATE nmtt_dlsym_lib dl)
  add_test(NAME java_bridge_dlsym_next COMMAND ${NMT_JB_DIR}/dlsym_next.sh
    $<TARGET_FILE:nmtrace> $<TARGET_FILE:nmtt_dlsym_shim> $<TARGET_FILE:nmtt_dlsym_prog>)
  set_tests_properties(java_bridge_dlsym_next PROPERTIES LABELS "java;integration" TIMEOUT 60)
endif()

# Integration: needs javac, the recorder and nmreport.
if(Java_JAVAC_EXECUTABLE AND Java_JAVA_EXECUTABLE AND TARGET nmtrace AND TARGET nmreport)
  set(NMT_JB_CLASSES ${CMAKE_CURRENT_BINARY_DIR}/java_bridge/classes)
  set(NMT_JB_WORKERS ${CMAKE_CURRENT_BINARY_DIR}/java_bridge/workers)
  add_custom_command(
    OUTPUT ${NMT_JB_CLASSES}/DirectLeak.class ${NMT_JB_CLASSES}/ChurnMain.class
           ${NMT_JB_WORKERS}/ChurnWorker.class
    COMMAND ${CMAKE_COMMAND} -E make_directory ${NMT_JB_CLASSES} ${NMT_JB_WORKERS}
    COMMAND ${Java_JAVAC_EXECUTABLE} -g -d ${NMT_JB_CLASSES}
            ${NMT_JB_DIR}/DirectLeak.java ${NMT_JB_DIR}/ChurnMain.java
    COMMAND ${Java_JAVAC_EXECUTABLE} -g -d ${NMT_JB_WORKERS} ${NMT_JB_DIR}/ChurnWorker.java
    DEPENDS ${NMT_JB_DIR}/DirectLeak.java ${NMT_JB_DIR}/ChurnMain.java
            ${NMT_JB_DIR}/ChurnWorker.java
    COMMENT "javac: JVM bridge test programs")
  add_custom_target(java_bridge_classes ALL DEPENDS ${NMT_JB_CLASSES}/DirectLeak.class
    ${NMT_JB_CLASSES}/ChurnMain.class ${NMT_JB_WORKERS}/ChurnWorker.class)

  set(NMT_JB_RUN ${NMT_JB_DIR}/run_java_test.sh $<TARGET_FILE:nmtrace>
    $<TARGET_FILE:nmreport> ${Java_JAVA_EXECUTABLE} ${NMT_JB_CLASSES} ${NMT_JB_WORKERS})
  foreach(mode int default c1)
    add_test(NAME java_bridge_direct_${mode} COMMAND ${NMT_JB_RUN} direct-${mode})
  endforeach()
  add_test(NAME java_bridge_class_unload COMMAND ${NMT_JB_RUN} churn)
  add_test(NAME java_bridge_off COMMAND ${NMT_JB_RUN} off)
  add_test(NAME java_bridge_agentpath COMMAND ${NMT_JB_RUN} agentpath)
  set(NMT_JB_TESTS java_bridge_direct_int java_bridge_direct_default java_bridge_direct_c1
    java_bridge_class_unload java_bridge_off java_bridge_agentpath)

  # The bridge in a program embedding a JVM whose AsyncGetCallTrace is hidden.
  if(NMT_JB_LIBJVM)
    get_filename_component(NMT_JB_LIBJVM_DIR ${NMT_JB_LIBJVM} DIRECTORY)
    # A program that embeds a JVM is never sanitized: it compiles the
    # report's Java decoder itself instead of linking nmr, which a
    # sanitized build sanitizes.
    add_executable(embed_no_asgct ${NMT_JB_DIR}/embed_no_asgct.c ${NMT_JB_BRIDGE_SOURCES}
      ${PROJECT_SOURCE_DIR}/report/model/nmr_java.c ${PROJECT_SOURCE_DIR}/report/model/nmr_arena.c
      ${PROJECT_SOURCE_DIR}/report/model/nmr_hindex.c)
    target_include_directories(embed_no_asgct PRIVATE ${NMT_JB_JNI_INC}
      ${PROJECT_SOURCE_DIR}/preload ${PROJECT_SOURCE_DIR}/report/model)
    target_link_libraries(embed_no_asgct PRIVATE nmtfmt ${NMT_JB_LIBJVM} dl pthread)
    set_target_properties(embed_no_asgct PROPERTIES BUILD_RPATH ${NMT_JB_LIBJVM_DIR})
    add_dependencies(embed_no_asgct java_bridge_classes)
    add_test(NAME java_bridge_no_asgct COMMAND embed_no_asgct ${NMT_JB_CLASSES})
    list(APPEND NMT_JB_TESTS java_bridge_no_asgct)
  endif()
  set_tests_properties(${NMT_JB_TESTS} PROPERTIES LABELS "java;integration" TIMEOUT 300)
else()
  message(STATUS "java bridge integration tests not built (javac, nmtrace or nmreport missing)")
endif()
