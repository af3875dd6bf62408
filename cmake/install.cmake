# Installation and the Debian package.
#
# `cmake --install build [--prefix DIR]` puts nmtrace and nmreport in bin/,
# libnmtrace.so in the library directory and the man pages in share/man/man1
# (GNUInstallDirs names). The launcher finds the recorder through the
# relative path from its bin directory to that library directory, baked in at
# build time (preload/launcher/CMakeLists.txt), so an installed tree can be
# moved as a whole. `cpack -G DEB` (run in the build directory) makes
# nmtrace_<version>_<arch>.deb with the same layout under /usr.
include(GNUInstallDirs)

install(TARGETS nmtrace LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS nmtrace_launcher nmreport RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/docs/nmtrace.1 ${CMAKE_SOURCE_DIR}/docs/nmreport.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

set(CPACK_PACKAGE_NAME nmtrace)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "nmtrace maintainers <nmtrace@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "native-memory profiler for JVMs and other processes")
set(CPACK_PACKAGE_DESCRIPTION
    "nmtrace records who holds native (off-heap) memory in a running process, first of all \
a JVM whose RSS grows outside the Java heap: an LD_PRELOAD recorder (libnmtrace.so), \
the nmtrace launcher and the nmreport report tool.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# The runtime libraries the three programs link (libunwind for the recorder,
# libelf/libdw/zlib for nmreport): found by dpkg-shlibdeps, with versions,
# where it is installed (dpkg-dev), else named here.
find_program(NMT_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(NMT_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6, libunwind8, libelf1, libdw1, zlib1g")
endif()
include(CPack)
