# Finds Google's FarmHash (Debian: libfarmhash-dev), whose Fingerprint64 is
# Nim's hash(string). It ships no CMake package and no pkg-config file.
#
# Defines farmhash::farmhash and farmhash_FOUND. Installed with the sds CMake
# package, so that a consumer finds the library on its own machine.
include(FindPackageHandleStandardArgs)

find_path(farmhash_INCLUDE_DIR farmhash.h)
find_library(farmhash_LIBRARY farmhash)
mark_as_advanced(farmhash_INCLUDE_DIR farmhash_LIBRARY)
find_package_handle_standard_args(farmhash REQUIRED_VARS farmhash_LIBRARY farmhash_INCLUDE_DIR)

if(farmhash_FOUND AND NOT TARGET farmhash::farmhash)
  add_library(farmhash::farmhash UNKNOWN IMPORTED)
  set_target_properties(farmhash::farmhash PROPERTIES
    IMPORTED_LOCATION "${farmhash_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${farmhash_INCLUDE_DIR}")
endif()
