# Installs the interop tests' npm dependencies (@waku/sds, pinned by
# package-lock.json) into INTEROP_DIR, where CMake copied package.json,
# package-lock.json and peer.mjs. Runs as a CTest fixture:
#   cmake -DINTEROP_DIR=<dir> -P npm_ci.cmake
#
# `npm ci` wipes and reinstalls node_modules, so it is skipped when the
# installed tree already comes from this exact lock file (a stamp holds the
# lock's hash); CI starts from an empty build tree and always installs.
if(NOT INTEROP_DIR)
  message(FATAL_ERROR "npm_ci.cmake: pass -DINTEROP_DIR=<directory with package-lock.json>")
endif()

find_program(NODE_EXECUTABLE node)
find_program(NPM_EXECUTABLE npm)
if(NOT NODE_EXECUTABLE OR NOT NPM_EXECUTABLE)
  message(FATAL_ERROR
    "The WakuInterop tests run the reference @waku/sds under Node.js, but node and/or npm "
    "are not on PATH (node: ${NODE_EXECUTABLE}, npm: ${NPM_EXECUTABLE}). Install Node.js >= 20 "
    "with npm (for example: apt-get install nodejs npm).")
endif()

set(lock_file "${INTEROP_DIR}/package-lock.json")
set(stamp_file "${INTEROP_DIR}/node_modules/.sds-npm-ci-stamp")
if(NOT EXISTS "${lock_file}")
  message(FATAL_ERROR "npm_ci.cmake: ${lock_file} is missing: re-run cmake to copy it")
endif()
file(SHA256 "${lock_file}" lock_hash)
if(EXISTS "${stamp_file}" AND EXISTS "${INTEROP_DIR}/node_modules/@waku/sds/package.json")
  file(READ "${stamp_file}" installed_hash)
  if(installed_hash STREQUAL lock_hash)
    message(STATUS "@waku/sds already installed from this package-lock.json in ${INTEROP_DIR}")
    return()
  endif()
endif()

message(STATUS "npm ci in ${INTEROP_DIR}")
execute_process(
  COMMAND "${NPM_EXECUTABLE}" ci --no-audit --no-fund
  WORKING_DIRECTORY "${INTEROP_DIR}"
  RESULT_VARIABLE npm_result)
if(NOT npm_result EQUAL 0)
  message(FATAL_ERROR "npm ci failed (${npm_result}) in ${INTEROP_DIR}: the WakuInterop tests "
                      "need the npm registry to install @waku/sds")
endif()
file(WRITE "${stamp_file}" "${lock_hash}")
