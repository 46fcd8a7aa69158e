# libsds.so exports exactly the functions libsds.h declares (nim-sds's, plus
# the documented extensions): no test hook (src/capi/test_clock.h), engine
# symbol or C++ runtime symbol leaks out.
#
#   cmake -DLIBRARY=<libsds.so> -DHEADER=<libsds.h> -DNM=<nm> -P exports_test.cmake
foreach(var LIBRARY HEADER NM)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "exports_test.cmake needs -D${var}=...")
  endif()
endforeach()

file(READ "${HEADER}" header)
string(REGEX MATCHALL "SDS_EXPORT[^;(]*[ *](Sds[A-Za-z0-9_]+)\\(" declarations "${header}")
set(declared "")
foreach(declaration ${declarations})
  string(REGEX REPLACE ".*[ *](Sds[A-Za-z0-9_]+)\\($" "\\1" name "${declaration}")
  list(APPEND declared "${name}")
endforeach()
list(SORT declared)
list(LENGTH declared declared_count)
if(declared_count LESS 10)
  message(FATAL_ERROR "found only ${declared_count} SDS_EXPORT functions in ${HEADER}")
endif()

execute_process(COMMAND "${NM}" -D --defined-only "${LIBRARY}" OUTPUT_VARIABLE symbols
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D ${LIBRARY} failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${symbols}")
set(exported "")
foreach(line ${lines})
  # "<address> <type> <name>[@@version]"; the version node itself (type A) is no function.
  if(line MATCHES "^[0-9a-fA-F]+ ([A-Za-z]) ([^@ ]+)")
    if(NOT CMAKE_MATCH_1 STREQUAL "A")
      list(APPEND exported "${CMAKE_MATCH_2}")
    endif()
  endif()
endforeach()
list(SORT exported)
if(NOT exported STREQUAL declared)
  set(extra ${exported})
  list(REMOVE_ITEM extra ${declared})
  set(missing ${declared})
  list(REMOVE_ITEM missing ${exported})
  message(FATAL_ERROR "libsds.so exports differ from libsds.h:\n  exported, not declared: "
                      "${extra}\n  declared, not exported: ${missing}")
endif()
message(STATUS "libsds.so exports exactly the ${declared_count} functions of libsds.h")
