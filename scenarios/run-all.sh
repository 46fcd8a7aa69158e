#!/usr/bin/env bash
# Runs every shipped scenario and writes the evaluation tables (Markdown) and
# plots into OUT (default build/evaluation). Heavy: the 1,000-member scenarios
# take minutes each; runs under `nice`. Usage: scenarios/run-all.sh [OUT] [GROUP...]
# where GROUP is a directory under scenarios/ (default: all of them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/evaluation}
shift || true
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(furps chronosync churn partition store tuned sdsr bench)
sds=build/dev/cli/sds
mkdir -p "$out"
for group in "${groups[@]}"; do
  files=(scenarios/"$group"/*.toml)
  echo "== $group: ${#files[@]} scenarios" >&2
  start=$(date +%s)
  nice -n 10 "$sds" sim "${files[@]}" --summary --plot "$out/$group" >"$out/$group.md"
  echo "   $(( $(date +%s) - start )) s; table: $out/$group.md" >&2
done
