# Finds MurmurHash3 (Debian: libmurmurhash-dev), @waku/sds's bloom hash:
# through its pkg-config file when pkg-config is there, else by name.
#
# Defines murmurhash::murmurhash and murmurhash_FOUND. Installed with the sds
# CMake package, so that a consumer finds the library on its own machine.
include(FindPackageHandleStandardArgs)

find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(PC_murmurhash QUIET libmurmurhash)
endif()
find_path(murmurhash_INCLUDE_DIR murmurhash.h HINTS ${PC_murmurhash_INCLUDE_DIRS})
find_library(murmurhash_LIBRARY murmurhash HINTS ${PC_murmurhash_LIBRARY_DIRS})
mark_as_advanced(murmurhash_INCLUDE_DIR murmurhash_LIBRARY)
find_package_handle_standard_args(murmurhash
  REQUIRED_VARS murmurhash_LIBRARY murmurhash_INCLUDE_DIR
  VERSION_VAR PC_murmurhash_VERSION)

if(murmurhash_FOUND AND NOT TARGET murmurhash::murmurhash)
  add_library(murmurhash::murmurhash UNKNOWN IMPORTED)
  set_target_properties(murmurhash::murmurhash PROPERTIES
    IMPORTED_LOCATION "${murmurhash_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${murmurhash_INCLUDE_DIR}")
endif()
