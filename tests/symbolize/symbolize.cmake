# symbolize: libnmsym units. The ELF fixtures are built here from
# tests/symbolize/fixtures/ (no binary is committed): shared objects plain, stripped with a
# build-id debug file, stripped with a .gnu_debuglink, a C++ object, an -O2 inline
# case, and an executable both PIE and non-PIE.
set(NMS_FX_SRC ${NMT_TEST_DIR}/symbolize/fixtures)
set(NMS_FX_OUT ${CMAKE_BINARY_DIR}/tests/fixtures/sym)
file(MAKE_DIRECTORY ${NMS_FX_OUT}/.debug)
find_program(NMS_OBJCOPY NAMES objcopy REQUIRED)
find_program(NMS_STRIP NAMES strip REQUIRED)

function(nms_fixture_lib name)
  cmake_parse_arguments(F "" "" "SOURCES;OPTIONS;LINK" ${ARGN})
  add_library(${name} SHARED ${F_SOURCES})
  set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${NMS_FX_OUT})
  target_compile_options(${name} PRIVATE -g ${F_OPTIONS})
  target_link_options(${name} PRIVATE -Wl,--build-id ${F_LINK})
endfunction()

# -Ttext-segment gives the object a non-zero link base: ELF addresses differ from file
# offsets in every segment, which a symbolizer must translate through PT_LOAD.
nms_fixture_lib(fx_plain SOURCES ${NMS_FX_SRC}/fx_plain.c OPTIONS -O0
                LINK -Wl,-Ttext-segment=0x200000)
nms_fixture_lib(fx_bid SOURCES ${NMS_FX_SRC}/fx_plain.c OPTIONS -O0)
nms_fixture_lib(fx_link SOURCES ${NMS_FX_SRC}/fx_plain.c OPTIONS -O0)
nms_fixture_lib(fx_cxx SOURCES ${NMS_FX_SRC}/fx_cxx.cc OPTIONS -O0)
nms_fixture_lib(fx_inline SOURCES ${NMS_FX_SRC}/fx_inline.c OPTIONS -O2)

# fx_bid: symbols and DWARF only in libfx_bid.debug, found by build-id (the test
# builds the .build-id tree); no debuglink.
add_custom_command(TARGET fx_bid POST_BUILD
  COMMAND ${NMS_OBJCOPY} --only-keep-debug $<TARGET_FILE:fx_bid> ${NMS_FX_OUT}/libfx_bid.debug
  COMMAND ${NMS_STRIP} --strip-all $<TARGET_FILE:fx_bid>
  VERBATIM)
# fx_link: debug file in .debug/ next to the object, named by .gnu_debuglink.
add_custom_command(TARGET fx_link POST_BUILD
  COMMAND ${NMS_OBJCOPY} --only-keep-debug $<TARGET_FILE:fx_link>
          ${NMS_FX_OUT}/.debug/libfx_link.so.debug
  COMMAND ${NMS_STRIP} --strip-all $<TARGET_FILE:fx_link>
  COMMAND ${NMS_OBJCOPY} --add-gnu-debuglink=${NMS_FX_OUT}/.debug/libfx_link.so.debug
          $<TARGET_FILE:fx_link>
  VERBATIM)

foreach(kind pie nopie)
  add_executable(fx_exe_${kind} ${NMS_FX_SRC}/fx_exe.c)
  set_target_properties(fx_exe_${kind} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${NMS_FX_OUT})
  target_compile_options(fx_exe_${kind} PRIVATE -g -O0)
endforeach()
target_compile_options(fx_exe_pie PRIVATE -fPIE)
target_link_options(fx_exe_pie PRIVATE -pie)
target_compile_options(fx_exe_nopie PRIVATE -fno-pie)
target_link_options(fx_exe_nopie PRIVATE -no-pie)

nmt_unit_test(test_sym
  SOURCES ${NMT_TEST_DIR}/symbolize/test_sym_util.c
          ${NMT_TEST_DIR}/symbolize/test_sym_elf.c
          ${NMT_TEST_DIR}/symbolize/test_sym_debug.c
          ${NMT_TEST_DIR}/symbolize/test_sym_jit.c
          ${NMT_TEST_DIR}/symbolize/test_sym_jvm.c
  LIBS nmsym PkgConfig::LIBELF ${CMAKE_DL_LIBS}
  LABELS symbolize)
if(TARGET test_sym)
  add_dependencies(test_sym fx_plain fx_bid fx_link fx_cxx fx_inline fx_exe_pie fx_exe_nopie)
  target_compile_definitions(test_sym PRIVATE
    FX_DIR="${NMS_FX_OUT}"
    FX_PLAIN="$<TARGET_FILE:fx_plain>"
    FX_BID="$<TARGET_FILE:fx_bid>"
    FX_BID_DEBUG="${NMS_FX_OUT}/libfx_bid.debug"
    FX_LINK="$<TARGET_FILE:fx_link>"
    FX_CXX="$<TARGET_FILE:fx_cxx>"
    FX_INLINE="$<TARGET_FILE:fx_inline>"
    FX_EXE_PIE="$<TARGET_FILE:fx_exe_pie>"
    FX_EXE_NOPIE="$<TARGET_FILE:fx_exe_nopie>")
endif()
