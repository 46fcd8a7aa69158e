#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang, ASan + UBSan) and runs
# each for a short time over its seed corpus in fuzz/corpus/<target>/
# (.ci/run does, 20 s each).
# Fails on the first crash, leak, sanitizer report or round-trip mismatch.
#
# Usage: scripts/fuzz-smoke.sh [seconds-per-target]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi
targets=(decode_message_fuzzer bloom_parse_fuzzer catchup_decode_fuzzer snapshot_decode_fuzzer
         config_json_fuzzer engine_fuzzer http_request_fuzzer)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target "${targets[@]}"

# New inputs go to a scratch corpus so that the checked-in seeds stay small;
# crash reproducers land in build/fuzz/artifacts/<target>/.
for target in "${targets[@]}"; do
  seeds="fuzz/corpus/$target"
  scratch="build/fuzz/corpus/$target"
  artifacts="build/fuzz/artifacts/$target"
  mkdir -p "$scratch" "$artifacts"
  echo "== $target: ${seconds}s over $seeds"
  "build/fuzz/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$scratch" "$seeds"
done
echo "fuzz smoke passed: ${targets[*]}, ${seconds}s each"
