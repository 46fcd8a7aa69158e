#!/usr/bin/env bash
# The main job: installs what is missing, builds, then runs the demo.
# Extra arguments go to the demo (see `sds_demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target sds_demo
exec build/dev/demo/sds_demo "$@"
