#!/usr/bin/env bash
# Every test: installs what is missing, builds, then runs the whole suite with
# CTest (unit, golden-vector, scenario and live @waku/sds interop tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset dev
