// A scriptable @waku/sds participant for interop tests and benchmarks.
//
// Reads one JSON command per line on stdin and writes exactly one JSON answer
// per line on stdout, in order. Bytes travel as lowercase hex. Every answer
// has "ok" (false with "error" when the command failed) and "events": the
// `sds:*` events the channel emitted while the command ran, so the caller can
// see behaviour that the library reports only through events.
//
// Time and randomness are pinned so that runs are reproducible: Date.now()
// returns a virtual clock set by `new` and moved only by `advanceClock`, and
// Math.random() is a seeded generator (@waku/sds uses it for sync message ids).
//
// Several channels can live in one process, each under a name ("peer" in a
// command, "default" when absent); they share the one virtual clock.
//
// Commands ("cmd"):
//   new            participantId, channelId, now (ms), seed?, options?
//                  (MessageChannelOptions, e.g. {"causalHistorySize": 10})
//   send           text | hex, retrievalHint? (hex)
//                  -> messageId, wire, lamport, causalHistory, repairRequest
//   sendSync       -> sent, and when sent: the same fields as send
//   sendEphemeral  text | hex                        -> messageId, wire
//   receive        wire (hex), retrievalHint? (hex)  -> decoded, delivered,
//                  acknowledged, possiblyAcknowledged, missing, received, errors
//   sweepIncoming                                    -> missing, delivered
//   sweepOutgoing                          -> unacknowledged, possiblyAcknowledged
//   sweepRepairIncoming    SDS-R repairs due now -> repairs: [{messageId, wire}]
//   advanceClock   ms (alias: clock with advanceMs)  -> now
//   state          -> history, outgoing, incoming (ids), lamport (decimal string),
//                     repairRequests [{messageId, tReq, requested}],
//                     repairResponses [{messageId, tResp}]
//   hello          -> node (process.version), customEvent ("native" | "polyfill"),
//                     eventsReachListeners (true: a delivery between two scratch
//                     channels raised sds:in:message-delivered)
//   quit           answers, then exits
// An optional "id" in a command is echoed in its answer.

import { createInterface } from "node:readline";

// First: @waku/sds needs the global CustomEvent, which Node 18 lacks (see
// custom_event.mjs). Modules are evaluated in import order.
import { customEvent } from "./custom_event.mjs";
import { Message, MessageChannel } from "@waku/sds";

// The protocol owns stdout: anything else the library might print goes to stderr.
const protocolOut = process.stdout;
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

let virtualNowMs = 0;
Date.now = () => virtualNowMs;

// mulberry32: a small, well-distributed PRNG; only determinism matters here.
function seededRandom(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
Math.random = seededRandom(1);

const hexOf = (bytes) => Buffer.from(bytes ?? []).toString("hex");
const bytesOf = (hex) => new Uint8Array(Buffer.from(hex ?? "", "hex"));

function payloadOf(command) {
  if (typeof command.hex === "string") return bytesOf(command.hex);
  if (typeof command.text === "string") return new TextEncoder().encode(command.text);
  throw new Error("expected 'text' or 'hex'");
}

function messageType(message) {
  if (message.lamportTimestamp === undefined) return "ephemeral";
  if (!message.content || message.content.length === 0) return "sync";
  return "content";
}

function historyEntryToJson(entry) {
  const json = { messageId: entry.messageId };
  if (entry.retrievalHint && entry.retrievalHint.length > 0) {
    json.retrievalHint = hexOf(entry.retrievalHint);
  }
  if (entry.senderId) json.senderId = entry.senderId;
  return json;
}

function messageSummary(message) {
  return {
    type: messageType(message),
    messageId: message.messageId,
    channelId: message.channelId,
    senderId: message.senderId,
    lamportTimestamp:
      message.lamportTimestamp === undefined ? null : message.lamportTimestamp.toString(),
    causalHistory: (message.causalHistory ?? []).map(historyEntryToJson),
    repairRequest: (message.repairRequest ?? []).map(historyEntryToJson),
    content: message.content ? hexOf(message.content) : null,
    bloomFilterBytes: message.bloomFilter ? message.bloomFilter.length : null
  };
}

// Event details hold Messages, HistoryEntry arrays, Errors and BigInts; make
// them JSON without losing what a test asserts on.
function detailToJson(detail) {
  if (detail === undefined || detail === null) return null;
  if (typeof detail === "bigint") return detail.toString();
  if (detail instanceof Error) return { error: detail.message };
  if (detail instanceof Uint8Array) return hexOf(detail);
  if (detail instanceof Message) return messageSummary(detail);
  if (Array.isArray(detail)) return detail.map(detailToJson);
  if (typeof detail === "object") {
    const historyEntryKeys = ["messageId", "retrievalHint", "senderId"];
    if ("messageId" in detail && Object.keys(detail).every((k) => historyEntryKeys.includes(k))) {
      return historyEntryToJson(detail);
    }
    const json = {};
    for (const [key, value] of Object.entries(detail)) json[key] = detailToJson(value);
    return json;
  }
  return detail;
}

// The event names @waku/sds 0.0.8 emits (MessageChannelEvent values).
const EVENT_NAMES = [
  "sds:out:message-sent",
  "sds:in:message-delivered",
  "sds:in:message-received",
  "sds:out:message-acknowledged",
  "sds:out:message-possibly-acknowledged",
  "sds:in:message-missing",
  "sds:out:sync-sent",
  "sds:in:sync-received",
  "sds:in:message-irretrievably-lost",
  "sds:error-task",
  "sds:repair:request-queued",
  "sds:repair:request-sent",
  "sds:repair:request-received",
  "sds:repair:response-queued",
  "sds:repair:response-sent"
];

class Participant {
  constructor(command) {
    if (typeof command.participantId !== "string" || typeof command.channelId !== "string") {
      throw new Error("'new' needs participantId and channelId");
    }
    this.channel = new MessageChannel(command.channelId, command.participantId,
                                      command.options ?? {});
    this.events = [];
    for (const name of EVENT_NAMES) {
      this.channel.addEventListener(name, (event) => {
        this.events.push({ name, detail: detailToJson(event.detail) });
      });
    }
  }

  takeEvents() {
    const events = this.events;
    this.events = [];
    return events;
  }

  // Ids reported by events of one kind, in emission order.
  static idsOf(events, name) {
    return events.filter((e) => e.name === name).map((e) => e.detail);
  }

  async send(command) {
    let sent = null;
    this.channel.pushOutgoingMessage(payloadOf(command), async (message) => {
      sent = message;
      const retrievalHint = command.retrievalHint ? bytesOf(command.retrievalHint) : undefined;
      return { success: true, retrievalHint };
    });
    await this.channel.processTasks();
    if (!sent) throw new Error("send did not reach the transport callback");
    return {
      messageId: sent.messageId,
      lamport: sent.lamportTimestamp.toString(),
      causalHistory: sent.causalHistory.map(historyEntryToJson),
      repairRequest: (sent.repairRequest ?? []).map(historyEntryToJson),
      wire: hexOf(sent.encode())
    };
  }

  async sendSync() {
    let sent = null;
    const result = await this.channel.pushOutgoingSyncMessage(async (message) => {
      sent = message;
      return true;
    });
    if (!result || !sent) return { sent: false };
    return {
      sent: true,
      messageId: sent.messageId,
      lamport: sent.lamportTimestamp.toString(),
      causalHistory: sent.causalHistory.map(historyEntryToJson),
      repairRequest: (sent.repairRequest ?? []).map(historyEntryToJson),
      wire: hexOf(sent.encode())
    };
  }

  async sendEphemeral(command) {
    let sent = null;
    await this.channel.pushOutgoingEphemeralMessage(payloadOf(command), async (message) => {
      sent = message;
      return true;
    });
    await this.channel.processTasks();
    if (!sent) throw new Error("sendEphemeral did not reach the transport callback");
    return { messageId: sent.messageId, wire: hexOf(sent.encode()) };
  }

  async receive(command) {
    if (typeof command.wire !== "string") throw new Error("'receive' needs wire (hex)");
    const message = Message.decode(bytesOf(command.wire));
    if (!message) throw new Error("Message.decode returned undefined");
    const retrievalHint = command.retrievalHint ? bytesOf(command.retrievalHint) : undefined;
    this.channel.pushIncomingMessage(message, retrievalHint);
    await this.channel.processTasks();
    return { decoded: messageSummary(message) };
  }

  sweepIncoming() {
    return { missing: this.channel.sweepIncomingBuffer().map(historyEntryToJson) };
  }

  // SDS-R: the repairs whose T_resp has come, as the library rebroadcasts them.
  async sweepRepairIncoming() {
    const sent = [];
    await this.channel.sweepRepairIncomingBuffer(async (message) => {
      sent.push({ messageId: message.messageId, wire: hexOf(message.encode()) });
      return true;
    });
    return { repairs: sent };
  }

  sweepOutgoing() {
    const { unacknowledged, possiblyAcknowledged } = this.channel.sweepOutgoingBuffer();
    return {
      unacknowledged: unacknowledged.map((m) => m.messageId),
      possiblyAcknowledged: possiblyAcknowledged.map((m) => m.messageId)
    };
  }

  // The library has no getters for its buffers; its fields are plain JS
  // properties, read here for inspection only.
  state() {
    const channel = this.channel;
    const repair = channel.repairManager;
    return {
      history: channel.localHistory.slice().map((m) => m.messageId),
      outgoing: channel.outgoingBuffer.map((m) => m.messageId),
      incoming: channel.incomingBuffer.map((m) => m.messageId),
      lamport: channel.lamportTimestamp.toString(),
      // SDS-R buffers: what we will ask for (at tReq) and answer (at tResp).
      repairRequests: (repair?.outgoingBuffer.getItems() ?? []).map((item) => ({
        messageId: item.entry.messageId,
        tReq: item.tReq,
        requested: item.requested
      })),
      repairResponses: (repair?.incomingBuffer.getItems() ?? []).map((item) => ({
        messageId: item.entry.messageId,
        tResp: item.tResp
      }))
    };
  }
}

// Folds the events of one command into the fields tests assert on.
function summarizeEvents(events) {
  return {
    received: Participant.idsOf(events, "sds:in:message-received").map((m) => m.messageId),
    delivered: Participant.idsOf(events, "sds:in:message-delivered"),
    acknowledged: Participant.idsOf(events, "sds:out:message-acknowledged"),
    possiblyAcknowledged: Participant.idsOf(events, "sds:out:message-possibly-acknowledged"),
    missing: Participant.idsOf(events, "sds:in:message-missing").flat(),
    errors: Participant.idsOf(events, "sds:error-task")
  };
}

const participants = new Map();

// Says which node runs the peer and proves that the library's events reach
// listeners here: one scratch channel sends, another receives, and the
// delivery must raise sds:in:message-delivered. Runs on the virtual clock and
// restores it and the PRNG, so it leaves no trace in later commands.
async function hello() {
  const savedNow = virtualNowMs;
  const savedRandom = Math.random;
  let delivered = false;
  let failure = null;
  try {
    const sender = new MessageChannel("sds-hello", "hello-sender", {});
    const receiver = new MessageChannel("sds-hello", "hello-receiver", {});
    receiver.addEventListener("sds:in:message-delivered", () => {
      delivered = true;
    });
    let wire = null;
    sender.pushOutgoingMessage(new TextEncoder().encode("hello"), async (message) => {
      wire = message.encode();
      return { success: true };
    });
    await sender.processTasks();
    if (!wire) throw new Error("the scratch sender never reached its transport callback");
    receiver.pushIncomingMessage(Message.decode(wire));
    await receiver.processTasks();
  } catch (error) {
    failure = error.message;
  } finally {
    virtualNowMs = savedNow;
    Math.random = savedRandom;
  }
  if (!delivered) {
    throw new Error(
      `@waku/sds raised no sds:in:message-delivered event under node ${process.version} ` +
        `(CustomEvent: ${customEvent}${failure ? `; ${failure}` : ""}): ` +
        "its events do not reach listeners on this Node.js");
  }
  return { node: process.version, customEvent, eventsReachListeners: true };
}

function participantFor(command) {
  const name = command.peer ?? "default";
  const participant = participants.get(name);
  if (!participant) throw new Error(`no participant '${name}': send 'new' first`);
  return participant;
}

async function execute(command) {
  switch (command.cmd) {
    case "new": {
      if (command.now !== undefined) virtualNowMs = Number(command.now);
      if (command.seed !== undefined) Math.random = seededRandom(Number(command.seed));
      participants.set(command.peer ?? "default", new Participant(command));
      return { now: virtualNowMs };
    }
    case "advanceClock":
    case "clock": {
      const ms = Number(command.ms ?? command.advanceMs ?? 0);
      if (!Number.isFinite(ms) || ms < 0) throw new Error("advanceClock needs ms >= 0");
      virtualNowMs += ms;
      return { now: virtualNowMs };
    }
    case "send":
      return participantFor(command).send(command);
    case "sendSync":
    case "sync":
      return participantFor(command).sendSync();
    case "sendEphemeral":
      return participantFor(command).sendEphemeral(command);
    case "receive":
      return participantFor(command).receive(command);
    case "sweepIncoming":
      return participantFor(command).sweepIncoming();
    case "sweepOutgoing":
      return participantFor(command).sweepOutgoing();
    case "sweepRepairIncoming":
      return participantFor(command).sweepRepairIncoming();
    case "state":
      return participantFor(command).state();
    case "hello":
      return hello();
    case "quit":
      return {};
    default:
      throw new Error(`unknown command '${command.cmd}'`);
  }
}

function writeAnswer(answer) {
  protocolOut.write(JSON.stringify(answer) + "\n");
}

// Commands run strictly one after another, even if several lines arrive at once.
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === "") continue;
  let command;
  try {
    command = JSON.parse(line);
  } catch (error) {
    writeAnswer({ ok: false, error: `bad JSON: ${error.message}`, events: [] });
    continue;
  }
  const participant = participants.get(command.peer ?? "default");
  let answer;
  try {
    const result = await execute(command);
    const events = participants.get(command.peer ?? "default")?.takeEvents() ?? [];
    // Explicit results win over the event summary (sweepOutgoing's lists, for one).
    answer = { ok: true, ...summarizeEvents(events), ...result, events };
  } catch (error) {
    const events = participant?.takeEvents() ?? [];
    answer = { ok: false, error: error.message, events };
  }
  if (command.id !== undefined) answer.id = command.id;
  writeAnswer(answer);
  if (command.cmd === "quit") break;
}
process.exit(0);
