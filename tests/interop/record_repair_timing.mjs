// Records the spec dialect's SDS-R timing as the reference @waku/sds 0.0.8
// computes it, for the offline golden test in src/core/repair_timing_test.cc
// (tests/vectors/waku-sds/repair_timing.json).
//
// Each MessageChannel built with a participant id owns a RepairManager; its
// calculateTReq / calculateTResp / isInResponseGroup are what the library
// uses to schedule repair requests and answers. They are plain methods on
// the channel's (undocumented) repairManager field, called here with
// currentTime 0 so that the result is the offset alone.
//
// Run from a directory whose node_modules holds @waku/sds 0.0.8 (the build's
// tests/interop after `ctest -R sds_interop_npm_ci`, or `npm ci` there):
//   node record_repair_timing.mjs > repair_timing.json
import "./custom_event.mjs";
import { MessageChannel } from "@waku/sds";
import { readFileSync } from "node:fs";

// The package's exports hide its package.json: read it beside node_modules.
const packageJson = JSON.parse(
  readFileSync(new URL("./node_modules/@waku/sds/package.json", import.meta.url), "utf8"));

const participants = ["alice", "bob", "carol", "participant-with-a-longer-id-0123456789", "é"];
const messages = ["m1", "msg-xyz", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                  "", "ünïcødé"];
// [tMin, tMax] in ms: the library's default, ours (30 s .. 300 s), narrow,
// one-millisecond and a window wider than 2^32 ms.
const windows = [[30000, 120000], [30000, 300000], [1000, 2000], [0, 1], [5, 6],
                 [0, 2 ** 33 + 17]];
const groupCounts = [1, 2, 3, 7, 128];

function repairManagerOf(participantId, repairConfig) {
  const channel = new MessageChannel("timing", participantId, { repairConfig });
  if (!channel.repairManager) throw new Error("this @waku/sds has no repairManager");
  return channel.repairManager;
}

const tReq = [];
const tResp = [];
const responseGroup = [];
for (const [tMin, tMax] of windows) {
  for (const participantId of participants) {
    const manager = repairManagerOf(participantId, { tMin, tMax });
    for (const messageId of messages) {
      tReq.push({ participantId, messageId, tMinMs: tMin, tMaxMs: tMax,
                  resultMs: manager.calculateTReq(messageId, 0) });
      for (const senderId of participants) {
        tResp.push({ participantId, senderId, messageId, tMaxMs: tMax,
                     resultMs: manager.calculateTResp(senderId, messageId, 0) });
      }
    }
  }
}
for (const groups of groupCounts) {
  for (const participantId of participants) {
    const manager = repairManagerOf(participantId, { numResponseGroups: groups });
    for (const messageId of messages) {
      for (const senderId of participants) {
        responseGroup.push({ participantId, senderId, messageId, groups,
                             result: manager.isInResponseGroup(senderId, messageId) });
      }
    }
  }
}

const results = [...tReq, ...tResp].map((v) => v.resultMs);
if (!results.every((ms) => Number.isSafeInteger(ms) && ms >= 0)) {
  throw new Error("a timing result is not a non-negative safe integer");
}

// One record a line: small diffs when the library changes.
const list = (records) => "[\n  " + records.map((r) => JSON.stringify(r)).join(",\n  ") + "\n ]";
process.stdout.write([
  "{",
  ` "generator": ${JSON.stringify("tests/interop/record_repair_timing.mjs")},`,
  ` "library": ${JSON.stringify({ name: packageJson.name, version: packageJson.version })},`,
  ` "node": ${JSON.stringify(process.version)},`,
  ` "note": ${JSON.stringify(
    "RepairManager.calculateTReq(messageId, 0), calculateTResp(senderId, messageId, 0) and " +
    "isInResponseGroup(senderId, messageId) of a MessageChannel(\"timing\", participantId, " +
    "{repairConfig}); results are offsets in ms")},`,
  ` "tReq": ${list(tReq)},`,
  ` "tResp": ${list(tResp)},`,
  ` "responseGroup": ${list(responseGroup)}`,
  "}"
].join("\n") + "\n");
