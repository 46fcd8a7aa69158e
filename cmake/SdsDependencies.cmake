# Third-party libraries, all from Debian 12 packages (scripts/bootstrap installs them).
find_package(PkgConfig REQUIRED)

# The find modules cmake/Find<name>.cmake are installed with the CMake
# package too (sdsConfig.cmake finds the same libraries on the consumer's side).
# FarmHash Fingerprint64 = Nim's hash(string) (libfarmhash-dev): farmhash::farmhash.
find_package(farmhash REQUIRED)
# MurmurHash3 x86_32 = @waku/sds's bloom hash (libmurmurhash-dev): murmurhash::murmurhash.
find_package(murmurhash REQUIRED)

# SHA-256 for SDS-R timing in the spec dialect (libssl-dev).
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)

if(SDS_BUILD_TESTS)
  find_package(GTest REQUIRED)
  find_package(nlohmann_json 3 REQUIRED)
  find_package(Protobuf REQUIRED)
endif()
if(SDS_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
