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

# The node the tests will run (the build's SDS_NODE_EXECUTABLE), else PATH's.
if(NOT NODE_EXECUTABLE OR NODE_EXECUTABLE STREQUAL "node")
  find_program(NODE_EXECUTABLE node)
endif()
find_program(NPM_EXECUTABLE npm)
if(NOT NODE_EXECUTABLE OR NOT NPM_EXECUTABLE)
  message(FATAL_ERROR
    "The WakuInterop tests run the reference @waku/sds under Node.js, but node and/or npm "
    "are not on PATH (node: ${NODE_EXECUTABLE}, npm: ${NPM_EXECUTABLE}). Install Node.js >= 18 "
    "with npm (scripts/bootstrap.sh does: apt-get install nodejs npm).")
endif()

# peer.mjs needs Node.js >= 18 (global Event and EventTarget, which
# @waku/sds extends; peer.mjs supplies CustomEvent where the node lacks it).
execute_process(COMMAND "${NODE_EXECUTABLE}" --version OUTPUT_VARIABLE node_version
                RESULT_VARIABLE node_result OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_VARIABLE node_error)
if(NOT node_result EQUAL 0)
  message(FATAL_ERROR "'${NODE_EXECUTABLE} --version' failed (${node_result}): ${node_error}")
endif()
string(REGEX MATCH "^v([0-9]+)\\." node_major_match "${node_version}")
if(NOT node_major_match OR CMAKE_MATCH_1 LESS 18)
  message(FATAL_ERROR "The WakuInterop tests need Node.js >= 18, but ${NODE_EXECUTABLE} is "
                      "'${node_version}'")
endif()
message(STATUS "Node.js ${node_version} at ${NODE_EXECUTABLE}; npm at ${NPM_EXECUTABLE}")

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
  RESULT_VARIABLE npm_result
  OUTPUT_VARIABLE npm_output
  ERROR_VARIABLE npm_output)
message(STATUS "${npm_output}")
if(NOT npm_result EQUAL 0 OR NOT EXISTS "${INTEROP_DIR}/node_modules/@waku/sds/package.json")
  message(FATAL_ERROR "npm ci failed (${npm_result}) in ${INTEROP_DIR}, so @waku/sds 0.0.8 is "
                      "not installed and every WakuInterop test is Not Run. The install needs "
                      "the npm registry; npm said:\n${npm_output}")
endif()
file(WRITE "${stamp_file}" "${lock_hash}")
