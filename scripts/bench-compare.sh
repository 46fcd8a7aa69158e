#!/usr/bin/env bash
# Compares our engine with the reference @waku/sds on the same workload (see
# bench/engine_bench.cc): alice sends N messages of ~30 bytes, bob receives
# each and replies every 10th. Both run in this one invocation, at the same N;
# our engine also runs at 20,000 and 200,000 messages, which @waku/sds is too
# slow for. The engine runs in the nim dialect with the right-sized bloom
# filter (the default) and with nim-sds's fixed one, and in the spec dialect;
# the same conversation also runs through the C ABI (bench/capi_bench.cc:
# libsds.so, every call awaited, every wrap result parsed from its decimal
# form). A third table splits the wire bytes per message by field.
#
#   scripts/bench-compare.sh [N]      N defaults to 2000
#
# Builds the `release` preset, installs @waku/sds 0.0.8 (tests/interop's lock
# file) into build/release/waku-sds-bench, and prints two tables: throughput
# and wire size, then peak memory. Needs cmake, ninja, node and npm.
set -euo pipefail

n="${1:-2000}"
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [N]  (a positive number of messages, default 2000)" >&2
  exit 2
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/release"
js_dir="$build/waku-sds-bench"

for tool in cmake node npm; do
  command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 1; }
done

cd "$root"
echo "== building the release preset" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target sds_bench sds_capi_bench >&2

echo "== installing @waku/sds" >&2
mkdir -p "$js_dir"
cp "$root/tests/interop/package.json" "$root/tests/interop/package-lock.json" \
   "$root/tests/interop/custom_event.mjs" \
   "$root/bench/waku_sds_bench.mjs" "$js_dir/"
# npm ci reinstalls from scratch; skip it while node_modules matches the lock.
stamp="$js_dir/node_modules/.sds-npm-ci-stamp"
lock_hash="$(sha256sum "$js_dir/package-lock.json" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lock_hash" ]]; then
  (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_hash" > "$stamp"
fi

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

echo "== @waku/sds, N=$n" >&2
node "$js_dir/waku_sds_bench.mjs" "$n" > "$results/waku.json"

sizes="$n"
for extra in 20000 200000; do
  [[ "$extra" == "$n" ]] || sizes="$sizes,$extra"
done
echo "== sds, N=$sizes" >&2
"$build/bench/sds_bench" --sizes="$sizes" \
  --benchmark_filter='^BM_(Conversation|PeakMemory|WireBytes)/' \
  --benchmark_format=json --benchmark_out="$results/sds.json" --benchmark_out_format=json \
  >/dev/null

echo "== sds through the C ABI, N=$n" >&2
for variant in "nim rightSized" "nim fixed"; do
  # shellcheck disable=SC2086
  "$build/bench/sds_capi_bench" "$n" $variant
done > "$results/capi.jsonl"

node - "$results/waku.json" "$results/sds.json" "$results/capi.jsonl" <<'EOF'
const fs = require("node:fs");
const waku = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const sds = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const capi = fs.readFileSync(process.argv[4], "utf8").trim().split("\n").map((l) => JSON.parse(l));

const pad = (text, width) => String(text).padEnd(width);
const num = (value, digits = 0) =>
  Number(value).toLocaleString("en-US", { maximumFractionDigits: digits,
                                          minimumFractionDigits: digits });

const conversations = sds.benchmarks.filter((b) => b.name.startsWith("BM_Conversation/"));
const memory = sds.benchmarks.filter((b) => b.name.startsWith("BM_PeakMemory/"));
const sizeOf = (b) => Number(/\/n:(\d+)/.exec(b.name)[1]);

console.log(`\nThroughput and wire size (ratio: ours / @waku/sds at N=${waku.n}, messages/s)`);
const header = [pad("implementation", 22), pad("N", 9), pad("messages/s", 12),
                pad("bytes/message", 14), "ratio"].join(" ");
console.log(header);
console.log("-".repeat(header.length));
console.log([pad(waku.implementation, 22), pad(waku.n, 9), pad(num(waku.messagesPerSecond), 12),
             pad(num(waku.bytesPerMessage), 14), "1.0"].join(" "));
for (const b of conversations) {
  const n = sizeOf(b);
  const ratio = b.items_per_second / waku.messagesPerSecond;
  console.log([pad(`sds (${b.label})`, 22), pad(n, 9), pad(num(b.items_per_second), 12),
               pad(num(b.wire_bytes_per_msg), 14),
               `${num(ratio, 1)}${n === waku.n ? "" : " *"}`].join(" "));
}
for (const c of capi) {
  console.log([pad(c.implementation, 22), pad(c.n, 9), pad(num(c.messagesPerSecond), 12),
               pad(num(c.bytesPerMessage), 14),
               `${num(c.messagesPerSecond / waku.messagesPerSecond, 1)}`].join(" "));
}
console.log(`* a different N than @waku/sds ran at; throughput only, for scale.`);

console.log("\nWire bytes per content message by field, and sync/resend/repair bytes per content message");
const wireHeader = [pad("implementation", 30), pad("N", 9), pad("total", 8), pad("payload", 8),
                    pad("bloom", 8), pad("history", 8), pad("other", 8), "sync+repair"].join(" ");
console.log(wireHeader);
console.log("-".repeat(wireHeader.length));
for (const b of sds.benchmarks.filter((x) => x.name.startsWith("BM_WireBytes/"))) {
  console.log([pad(`sds (${b.label})`, 30), pad(sizeOf(b), 9), pad(num(b.wire_bytes_per_msg), 8),
               pad(num(b.payload), 8), pad(num(b.bloom), 8), pad(num(b.causal_history), 8),
               pad(num(b.other_fields), 8), num(b.sync_repair_per_msg)].join(" "));
}

console.log("\nPeak memory (resident set size of the whole process; growth: what the run added)");
const memoryHeader = [pad("implementation", 22), pad("N", 9), pad("peak RSS MiB", 13),
                      "growth during the run MiB"].join(" ");
console.log(memoryHeader);
console.log("-".repeat(memoryHeader.length));
console.log([pad(waku.implementation, 22), pad(waku.n, 9), pad(num(waku.maxRssKb / 1024, 1), 13),
             num(waku.rssGrowthKb / 1024, 1)].join(" "));
for (const b of memory) {
  console.log([pad(`sds (${b.label})`, 22), pad(sizeOf(b), 9),
               pad(num(b.peak_rss_kb / 1024, 1), 13), num(b.rss_growth_kb / 1024, 1)].join(" "));
}
EOF
