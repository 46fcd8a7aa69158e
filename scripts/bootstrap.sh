#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the tests need, if any is missing.
# Sourced or run by scripts/demo.sh and scripts/test.sh; safe to run repeatedly.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libfarmhash-dev libmurmurhash-dev libssl-dev   # the dialects' hashes, SHA-256
  libgtest-dev libgmock-dev libbenchmark-dev      # tests and benchmarks
  nlohmann-json3-dev libprotobuf-dev protobuf-compiler
  libsqlite3-dev                                  # SqliteStore
  libpq-dev postgresql                            # PostgresChannelLog, its tests' server
  libboost-dev libspdlog-dev libfmt-dev           # sds-node: Beast/Asio, logs
  libcli11-dev libtomlplusplus-dev gnuplot-nox    # the sds tool: flags, scenarios, plots
  clang clang-14                                  # the `clang` and `fuzz` presets
  libclang-rt-14-dev                              # libFuzzer, ASan/UBSan runtimes for clang
)
# The live interop tests drive @waku/sds with Node.js; any node >= 18 will do
# (Debian 12's is 18: tests/interop/custom_event.mjs fills in what it lacks).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "bootstrap: missing packages (${missing[*]}) and not root; install them first" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}"
