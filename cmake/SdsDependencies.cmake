# Third-party libraries, all from Debian 12 packages (scripts/bootstrap installs them).
find_package(PkgConfig REQUIRED)

# FarmHash Fingerprint64 = Nim's hash(string) (libfarmhash-dev).
find_path(FARMHASH_INCLUDE_DIR farmhash.h REQUIRED)
find_library(FARMHASH_LIBRARY farmhash REQUIRED)
add_library(sds_farmhash INTERFACE)
target_include_directories(sds_farmhash SYSTEM INTERFACE ${FARMHASH_INCLUDE_DIR})
target_link_libraries(sds_farmhash INTERFACE ${FARMHASH_LIBRARY})

# MurmurHash3 x86_32 = @waku/sds's bloom hash (libmurmurhash-dev).
pkg_check_modules(MURMURHASH REQUIRED IMPORTED_TARGET libmurmurhash)

# SHA-256 for SDS-R timing in the spec dialect (libssl-dev).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)

if(SDS_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  find_package(Protobuf REQUIRED)
endif()
if(SDS_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
