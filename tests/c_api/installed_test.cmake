# Installs the build into a scratch prefix and moves it elsewhere (sds.pc must
# find its prefix relative to itself), then builds the C99 test program
# against only what was installed (libsds.h and libsds.so, found through
# pkg-config's sds.pc) and runs it: what an app that swaps in our libsds gets.
#
#   cmake -DBUILD_DIR=... -DSOURCE=... -DHARNESS=... -DPREFIX=... -DCC=... -P installed_test.cmake
foreach(var BUILD_DIR SOURCE HARNESS PREFIX CC)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "installed_test.cmake needs -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}" "${PREFIX}-staged")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${PREFIX}-staged"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
file(RENAME "${PREFIX}-staged" "${PREFIX}")

file(GLOB_RECURSE pc_files "${PREFIX}/*/sds.pc")
if(NOT pc_files)
  message(FATAL_ERROR "sds.pc was not installed under ${PREFIX}")
endif()
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
execute_process(COMMAND pkg-config --cflags --libs sds OUTPUT_VARIABLE flags
                RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config sds failed (${rc})")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
get_filename_component(lib_dir "${pc_dir}" DIRECTORY)

set(program "${PREFIX}/c_api_installed_test")
execute_process(COMMAND "${CC}" -std=c99 -pedantic -Wall -Werror "${SOURCE}" "${HARNESS}" ${flags} -lpthread
                        "-Wl,-rpath,${lib_dir}" -o "${program}"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the C test against the installed library failed (${rc})")
endif()
execute_process(COMMAND "${program}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the C test against the installed library failed (${rc})")
endif()
