#!/usr/bin/env bash
# The main job: installs what is missing, builds the `sds` tool, then runs the
# simulator on the default scenario (scenarios/default.toml): 20 real engines
# on virtual time over a lossy network. Prints the table and writes the plots.
# Extra arguments go to `sds sim` (e.g. --set link.loss=0.1, --json, --csv).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset dev >/dev/null
cmake --build --preset dev --target sds
plots=build/demo-plots
build/dev/cli/sds sim scenarios/default.toml --plot "$plots" "$@"
echo
echo "plots (PNG and SVG) are in $plots/: latency-cdf, delivery, overhead"
echo "more scenarios: ls scenarios/; every setting: build/dev/cli/sds sim --list-settings"
