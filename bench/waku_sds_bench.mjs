// The bench/engine_bench.cc conversation on the reference @waku/sds:
// alice sends N messages of ~30 bytes, bob receives each, and every 10th
// message bob replies and alice receives the reply. Virtual time (Date.now)
// advances 1 ms per message; once per virtual second both sides sweep their
// buffers, as an application built on @waku/sds must (it has no timer).
//
// Prints one JSON line: implementation, n, seconds, messagesPerSecond (alice's
// messages per wall-clock second), bytesPerMessage (mean size of the content
// messages both sides sent), maxRssKb (the process's peak resident set) and
// rssGrowthKb (how much of that peak the workload added).
//
// Run it from a directory whose node_modules holds @waku/sds 0.0.8
// (scripts/bench-compare.sh sets one up):  node waku_sds_bench.mjs [N]

import "./custom_event.mjs"; // before @waku/sds: Node 18 has no global CustomEvent
import { Message, MessageChannel } from "@waku/sds";

const n = Number(process.argv[2] ?? 2000);
if (!Number.isInteger(n) || n < 1) {
  console.error("usage: node waku_sds_bench.mjs [N >= 1]");
  process.exit(2);
}

const REPLY_EVERY = 10;
const SWEEP_EVERY_MS = 1000;
let virtualNowMs = 1700000000000;
Date.now = () => virtualNowMs;

const channelId = "bench";
const alice = new MessageChannel(channelId, "alice");
const bob = new MessageChannel(channelId, "bob");
const encoder = new TextEncoder();

let contentMessages = 0;
let contentBytes = 0;
let delivered = 0;
for (const channel of [alice, bob]) {
  channel.addEventListener("sds:in:message-delivered", () => {
    delivered++;
  });
  channel.addEventListener("sds:error-task", (event) => {
    console.error("task error", event.detail?.error);
    process.exit(1);
  });
}

// ~30 bytes, unique per message so that the payload-hash ids are unique too.
function payload(who, index) {
  return encoder.encode(`${who} message ${String(index).padStart(8, "0")}, hi!`);
}

async function send(from, to, bytes) {
  let wire = null;
  from.pushOutgoingMessage(bytes, async (message) => {
    wire = message.encode();
    return { success: true };
  });
  await from.processTasks();
  contentMessages++;
  contentBytes += wire.length;
  // What a transport hands the receiver: bytes, decoded on arrival.
  to.pushIncomingMessage(Message.decode(wire), undefined);
  await to.processTasks();
}

const maxRssBeforeKb = process.resourceUsage().maxRSS;
const started = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  virtualNowMs += 1;
  await send(alice, bob, payload("alice", i));
  if ((i + 1) % REPLY_EVERY === 0) await send(bob, alice, payload("bob", i));
  if ((i + 1) % SWEEP_EVERY_MS === 0) {
    for (const channel of [alice, bob]) {
      channel.sweepIncomingBuffer();
      channel.sweepOutgoingBuffer();
    }
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

if (delivered !== contentMessages) {
  console.error(`delivered ${delivered} of ${contentMessages} messages`);
  process.exit(1);
}
console.log(
  JSON.stringify({
    implementation: "@waku/sds 0.0.8",
    n,
    seconds: Number(seconds.toFixed(3)),
    messagesPerSecond: Number((n / seconds).toFixed(1)),
    bytesPerMessage: Number((contentBytes / contentMessages).toFixed(1)),
    maxRssKb: process.resourceUsage().maxRSS,
    rssGrowthKb: process.resourceUsage().maxRSS - maxRssBeforeKb
  })
);
