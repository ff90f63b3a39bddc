# cnncInstall.cmake: `cmake --install` rules, included by the top-level
# CMakeLists.txt. Installs, under the usual GNU directories:
#   bin/cnnc, share/man/man1/cnnc.1
#   include/cnnc.h, lib/libcnnc.a and lib/libcnnc_runtime.a (the API)
#   lib/cmake/cnnc/: cnncConfig.cmake, cnncConfigVersion.cmake, cnncFunctions.cmake
#   lib/pkgconfig/cnnc.pc
# The package config defines imported targets by hand rather than through
# install(EXPORT), so the libraries' build-tree include paths stay as they are.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS cnnc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS libcnnc cnnc_runtime ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/compiler/cnnc.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/docs/cnnc.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# What a program linking the static libcnnc needs besides it and its runtime,
# by name only (-ltcc, not this machine's path of libtcc.a): the consumer's
# linker finds libtcc where its system keeps it (Debian: libtcc-dev).
set(CNNC_LINK_LIBS "")
set(CNNC_PC_LIBS "")
if(CNNC_JIT)
  list(APPEND CNNC_LINK_LIBS tcc ${CMAKE_DL_LIBS})
  foreach(lib IN ITEMS tcc ${CMAKE_DL_LIBS})
    string(APPEND CNNC_PC_LIBS "-l${lib} ")
  endforeach()
endif()
list(APPEND CNNC_LINK_LIBS m)
string(APPEND CNNC_PC_LIBS "-lm")

set(CNNC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cnnc)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/cnncConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cnncConfig.cmake
  INSTALL_DESTINATION ${CNNC_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x: a new minor version may change the generated interface.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cnncConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cnncConfig.cmake ${PROJECT_BINARY_DIR}/cnncConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/cnncFunctions.cmake
        DESTINATION ${CNNC_CMAKE_DIR})

# The .pc file finds its prefix from where it lies, so --prefix at install
# time works: lib/pkgconfig -> ../.. (or deeper for lib/<triplet>).
file(RELATIVE_PATH CNNC_PC_UP "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" CNNC_PC_UP "${CNNC_PC_UP}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/cnnc.pc.in ${PROJECT_BINARY_DIR}/cnnc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cnnc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
