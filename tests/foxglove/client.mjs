#!/usr/bin/env node
// Foxglove WebSocket test client (a test peer, not product code).
//
// What it is: a small command-line client for a Foxglove WebSocket server
// (protocol "foxglove.websocket.v1"), built only from the Foxglove
// ecosystem's own npm packages -- the same code paths the Foxglove app uses:
//   @foxglove/ws-protocol            FoxgloveClient (the protocol client)
//   @foxglove/rosmsg                 parse(schema, { ros2: true })  (ros2msg schemas)
//   @foxglove/rosmsg2-serialization  MessageReader                  (CDR decoding)
//   ws                               the WebSocket implementation (Node 20 has none)
//
// Who runs it: the Rust integration tests spawn it against the project's
// Foxglove server (`npm ci` in tests/foxglove first); `selftest.mjs` runs it
// against a FoxgloveServer from @foxglove/ws-protocol to prove it works.
//
// The protocol's messages are those of "foxglove.websocket.v1"; Foxglove's SDK servers
// negotiate it under the name "foxglove.sdk.v1", so the client offers both names, as the
// Foxglove app does, and reports the one the server chose ("subprotocol").
//
// Usage:
//   node client.mjs <ws-url> --topics /a,/b,/c --count N [--timeout SECONDS]
//
// It records the serverInfo and every advertised channel, waits until every
// topic in --topics is advertised, subscribes to each, decodes each message
// (only encoding "cdr" with schemaEncoding "ros2msg" is supported), collects
// the first N messages of each topic, then prints ONE JSON object on stdout:
//
//   {"serverInfo": {name, capabilities, supportedEncodings, metadata, sessionId},
//    "channels": [{id, topic, encoding, schemaName, schemaEncoding, schema}, ...],
//    "messages": {"/topic": [{"receiveTime": "<ns>", "message": {...}}, ...]}}
//
// JSON conventions (so the Rust side can read every value back exactly):
//   - int64/uint64 decode as BigInt: written as a JSON number when it is a
//     safe integer (|v| <= 2^53-1), otherwise as a decimal string.
//   - NaN / Infinity / -Infinity floats are written as the strings
//     "NaN", "Infinity", "-Infinity" (JSON.stringify would write null).
//   - Typed arrays (uint8[], float64[], int64[], ...) become plain arrays.
//   - "receiveTime" is the message event's `timestamp` (the uint64
//     nanosecond timestamp the server put in the MESSAGE_DATA frame), as a
//     decimal string; FoxgloveClient calls that field `timestamp`.
//
// Exit status:
//   0  all N messages of every topic collected (JSON on stdout)
//   2  timed out (default 30 s): the same JSON with what was collected plus
//      "error": "timed out: <which topics are short / never advertised>"
//   1  any other failure (bad arguments, connection error/closed, a
//      requested topic that is not cdr/ros2msg, schema or decode error):
//      message on stderr, nothing on stdout.

import wsProtocol from "@foxglove/ws-protocol";
import { parse } from "@foxglove/rosmsg";
import { MessageReader } from "@foxglove/rosmsg2-serialization";
import { WebSocket } from "ws";

// @foxglove/ws-protocol is CommonJS whose exports Node's ESM loader cannot
// detect, so named imports fail: take them off the default export.
const { FoxgloveClient } = wsProtocol;
/** The protocol's name in Foxglove's SDK servers (see the connection below). */
const SDK_SUBPROTOCOL = "foxglove.sdk.v1";

const USAGE =
  "usage: node client.mjs <ws-url> --topics /a,/b,/c --count N [--timeout SECONDS]";

class UsageError extends Error {}

function parseArgs(argv) {
  let url;
  let topics;
  let count;
  let timeoutS = 30;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new UsageError(`${arg} needs a value`);
      }
      return argv[++i];
    };
    if (arg === "--topics") {
      topics = value()
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t.length > 0);
    } else if (arg === "--count") {
      count = Number(value());
    } else if (arg === "--timeout") {
      timeoutS = Number(value());
    } else if (arg === "-h" || arg === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith("--")) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (url === undefined) {
      url = arg;
    } else {
      throw new UsageError(`unexpected argument ${arg}`);
    }
  }
  if (url === undefined) throw new UsageError("missing <ws-url>");
  if (!/^wss?:\/\//.test(url)) throw new UsageError(`not a ws:// or wss:// URL: ${url}`);
  if (topics === undefined || topics.length === 0) throw new UsageError("--topics is required");
  if (!Number.isInteger(count) || count < 0) {
    throw new UsageError("--count must be a non-negative integer");
  }
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new UsageError("--timeout must be a positive number of seconds");
  }
  return { url, topics: [...new Set(topics)], count, timeoutS };
}

/** Turn a decoded value into something JSON.stringify writes losslessly (see header). */
function toJsonSafe(value) {
  if (typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) && BigInt(n) === value ? n : value.toString();
  }
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (value === Infinity) return "Infinity";
    if (value === -Infinity) return "-Infinity";
    return value;
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    // Typed arrays, including BigInt64Array / BigUint64Array.
    return Array.from(value, toJsonSafe);
  }
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v);
    return out;
  }
  return value; // string, boolean, null
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`client.mjs: ${err.message}\n${USAGE}`);
      process.exit(1);
    }
    throw err;
  }
  const { url, topics, count, timeoutS } = opts;
  const wanted = new Set(topics);

  // ---- state ---------------------------------------------------------------
  let serverInfo = null;
  const channels = new Map(); // channel id -> advertised channel (all of them, in order)
  const subscriptions = new Map(); // subscription id -> { topic, channelId, reader }
  const subscribedTopics = new Map(); // topic -> subscription id
  const messages = Object.fromEntries(topics.map((t) => [t, []]));
  let finished = false;
  let client;
  let ws;

  const result = () => ({
    // The subprotocol the server chose (the WebSocket handshake's answer).
    subprotocol: ws?.protocol ?? null,
    serverInfo,
    channels: [...channels.values()].map((c) => ({
      id: c.id,
      topic: c.topic,
      encoding: c.encoding,
      schemaName: c.schemaName,
      schemaEncoding: c.schemaEncoding ?? null,
      schema: c.schema,
    })),
    messages,
  });

  function finish(code, error) {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    try {
      client?.close();
    } catch {
      // closing a socket that never opened may throw; we are leaving anyway
    }
    if (code === 1) {
      console.error(`client.mjs: ${error}`);
      process.exit(1);
    }
    const out = result();
    if (error !== undefined) {
      out.error = error;
      console.error(`client.mjs: ${error}`);
    }
    const json = JSON.stringify(toJsonSafe(out));
    process.stdout.write(`${json}\n`, () => process.exit(code));
  }

  const fail = (msg) => finish(1, msg);

  function allDone() {
    return topics.every((t) => messages[t].length >= count && (count > 0 || isAdvertised(t)));
  }

  function isAdvertised(topic) {
    for (const c of channels.values()) if (c.topic === topic) return true;
    return false;
  }

  // ---- timeout ---------------------------------------------------------------
  const timer = setTimeout(() => {
    const advertisedTopics = [...new Set([...channels.values()].map((c) => c.topic))];
    const neverAdvertised = topics.filter((t) => !isAdvertised(t));
    const short = topics
      .filter((t) => isAdvertised(t) && messages[t].length < count)
      .map((t) => `${t} (${messages[t].length}/${count})`);
    const parts = [];
    if (neverAdvertised.length > 0) {
      parts.push(
        `never advertised: ${neverAdvertised.join(", ")}; ` +
          `advertised topics were: [${advertisedTopics.join(", ")}]`,
      );
    }
    if (short.length > 0) parts.push(`too few messages: ${short.join(", ")}`);
    if (serverInfo === null) parts.push("no serverInfo received");
    finish(2, `timed out after ${timeoutS} s: ${parts.join("; ")}`);
  }, timeoutS * 1000);

  // ---- subscription / decoding --------------------------------------------
  function maybeSubscribe(channel) {
    if (!wanted.has(channel.topic) || subscribedTopics.has(channel.topic) || count === 0) return;
    if (channel.encoding !== "cdr" || channel.schemaEncoding !== "ros2msg") {
      fail(
        `topic ${channel.topic} (channel ${channel.id}, schemaName ${channel.schemaName}) has ` +
          `encoding "${channel.encoding}" / schemaEncoding "${channel.schemaEncoding}"; ` +
          `only "cdr" / "ros2msg" can be decoded`,
      );
      return;
    }
    let reader;
    try {
      reader = new MessageReader(parse(channel.schema, { ros2: true }));
    } catch (err) {
      fail(
        `cannot parse ros2msg schema of ${channel.topic} (${channel.schemaName}): ` +
          `${err.message}\n--- schema ---\n${channel.schema}\n--------------`,
      );
      return;
    }
    const subId = client.subscribe(channel.id);
    subscriptions.set(subId, { topic: channel.topic, channelId: channel.id, reader });
    subscribedTopics.set(channel.topic, subId);
  }

  function onMessage(event) {
    const sub = subscriptions.get(event.subscriptionId);
    if (sub === undefined) return; // e.g. a late message after unsubscribe
    const list = messages[sub.topic];
    if (list.length >= count) return;
    // event.data is a DataView over the whole WebSocket frame: it starts
    // 13 bytes in (opcode, subscription id, timestamp), so keep its
    // byteOffset/byteLength rather than wrapping event.data.buffer whole.
    const bytes = new Uint8Array(event.data.buffer, event.data.byteOffset, event.data.byteLength);
    let decoded;
    try {
      decoded = sub.reader.readMessage(bytes);
    } catch (err) {
      const head = Buffer.from(bytes.subarray(0, 64)).toString("hex");
      fail(
        `cannot decode message ${list.length} of ${sub.topic} ` +
          `(${bytes.byteLength} bytes, starts ${head}): ${err.message}`,
      );
      return;
    }
    list.push({ receiveTime: event.timestamp.toString(), message: decoded });
    if (allDone()) finish(0);
  }

  // ---- connection ------------------------------------------------------------
  // Both names of the one protocol, as the Foxglove app offers them: Foxglove's SDK
  // servers negotiate it as "foxglove.sdk.v1", foxglove_bridge and older servers as
  // "foxglove.websocket.v1" (FoxgloveClient's own name for it). The messages are the same.
  ws = new WebSocket(url, [SDK_SUBPROTOCOL, FoxgloveClient.SUPPORTED_SUBPROTOCOL]);
  client = new FoxgloveClient({ ws });

  client.on("error", (err) => fail(`WebSocket/protocol error from ${url}: ${err?.message ?? err}`));
  client.on("close", (event) => {
    if (!finished) {
      fail(`connection to ${url} closed (code ${event?.code}) before all messages arrived`);
    }
  });
  client.on("serverInfo", (info) => {
    serverInfo = {
      name: info.name,
      capabilities: info.capabilities ?? [],
      supportedEncodings: info.supportedEncodings ?? null,
      metadata: info.metadata ?? null,
      sessionId: info.sessionId ?? null,
    };
  });
  client.on("status", (status) => {
    console.error(`client.mjs: server status (level ${status.level}): ${status.message}`);
  });
  client.on("advertise", (newChannels) => {
    for (const channel of newChannels) {
      channels.set(channel.id, channel);
      maybeSubscribe(channel);
      if (finished) return;
    }
    if (count === 0 && allDone()) finish(0);
  });
  client.on("unadvertise", (channelIds) => {
    // Forget subscriptions to removed channels so a re-advertised topic is
    // subscribed again; the channel stays in the "channels" record.
    for (const id of channelIds) {
      for (const [subId, sub] of subscriptions) {
        if (sub.channelId === id) {
          subscriptions.delete(subId);
          subscribedTopics.delete(sub.topic);
        }
      }
    }
  });
  client.on("message", onMessage);
}

main();
