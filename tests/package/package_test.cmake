# The installed CMake package is relocatable: installs the build into a
# scratch prefix, moves that prefix elsewhere (the original path is gone),
# then configures, builds and runs tests/package/consumer against the moved
# copy with find_package(sds): the C++ engine and the C ABI, shared and static.
#
#   cmake -DBUILD_DIR=... -DCONSUMER=... -DWORK=... -DCC=... -DCXX=... -DGENERATOR=...
#         -P package_test.cmake
foreach(var BUILD_DIR CONSUMER WORK CC CXX GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "package_test.cmake needs -D${var}=...")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK}")
set(staged "${WORK}/staged")
set(moved "${WORK}/elsewhere/sds")
run("cmake --install" ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${staged}")
file(MAKE_DIRECTORY "${WORK}/elsewhere")
file(RENAME "${staged}" "${moved}")

# No file of the package may name this build's trees or the staged prefix,
# nor carry the project's own warning flags.
file(GLOB_RECURSE package_files "${moved}/*.cmake" "${moved}/*.pc")
if(NOT package_files)
  message(FATAL_ERROR "no CMake package or pkg-config file was installed")
endif()
get_filename_component(source_dir "${CONSUMER}/../../.." ABSOLUTE)
foreach(file ${package_files})
  file(READ "${file}" text)
  foreach(forbidden "${BUILD_DIR}" "${source_dir}" "${staged}" "-Werror" "-Wconversion")
    string(FIND "${text}" "${forbidden}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${file} contains '${forbidden}': the package is not relocatable")
    endif()
  endforeach()
endforeach()

set(consumer_build "${WORK}/consumer-build")
run("configuring the consumer against the moved package"
    ${CMAKE_COMMAND} -S "${CONSUMER}" -B "${consumer_build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${moved}" "-DCMAKE_C_COMPILER=${CC}" "-DCMAKE_CXX_COMPILER=${CXX}"
    -DCMAKE_BUILD_TYPE=Release)
run("building the consumer" ${CMAKE_COMMAND} --build "${consumer_build}")
run("core_consumer (sds::core, sds::sqlite)" "${consumer_build}/core_consumer"
    "${WORK}/consumer.db")
run("c_shared_consumer (sds::sds)" "${consumer_build}/c_shared_consumer")
run("c_static_consumer (sds::sds_static)" "${consumer_build}/c_static_consumer")
message(STATUS "the moved package at ${moved} works with find_package(sds)")
