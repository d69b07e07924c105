#!/usr/bin/env node
// Self-test for client.mjs (the Foxglove WebSocket test peer).
//
// What it is: proves client.mjs works without the project's Rust server. It
// starts a FoxgloveServer from @foxglove/ws-protocol on 127.0.0.1 (ephemeral
// port, `ws` WebSocketServer with handleProtocols as the package README
// shows), advertises CDR / ros2msg channels laid out the way Foxglove's Rust
// SDK advertises them (schema = the type's .msg text, then per dependency a
// line of 80 "=", "MSG: pkg/Type" and its text, as rosbag2 writes them),
// publishes messages encoded with MessageWriter from
// @foxglove/rosmsg2-serialization, runs client.mjs as a child process
// against it and checks the JSON it prints (and its exit status in the
// timeout / error cases).
//
// Who runs it: developers and CI, after `npm ci` in tests/foxglove:
//   cd tests/foxglove && npm ci --no-audit --no-fund && node selftest.mjs
// Exit 0 when every check passes, 1 otherwise. SELFTEST_VERBOSE=1 also
// prints the client's JSON from the happy-path run.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import wsProtocol from "@foxglove/ws-protocol";
import { parse } from "@foxglove/rosmsg";
import { MessageWriter } from "@foxglove/rosmsg2-serialization";
import { WebSocketServer } from "ws";

// CommonJS package: named ESM imports do not work, use the default export.
const { FoxgloveServer } = wsProtocol;

const CLIENT = join(dirname(fileURLToPath(import.meta.url)), "client.mjs");
const SEP = "=".repeat(80);

// vla_perf/msg/MetricArray exactly as the Rust server advertises it.
const METRIC_ARRAY_SCHEMA = `std_msgs/Header header
string robot_id
MetricSummary[] metrics
${SEP}
MSG: std_msgs/Header
builtin_interfaces/Time stamp
string frame_id
${SEP}
MSG: builtin_interfaces/Time
int32 sec
uint32 nanosec
${SEP}
MSG: vla_perf/MetricSummary
string name
string unit
float64 window
uint64 count
float64 mean
float64 stddev
float64 min
float64 max
float64 p50
float64 p90
float64 p95
float64 p99
float64 p999
diagnostic_msgs/KeyValue[] tags
${SEP}
MSG: diagnostic_msgs/KeyValue
string key
string value
`;

// Same type, but the dependency header spelled "MSG: vla_perf/msg/MetricSummary".
const METRIC_ARRAY_SCHEMA_MSG_FORM = METRIC_ARRAY_SCHEMA.replace(
  "MSG: vla_perf/MetricSummary",
  "MSG: vla_perf/msg/MetricSummary",
);

// Exercises typed arrays (uint8[], int64[], fixed float32[3], float64[]) and
// negative / huge 64-bit integers.
const ARRAYS_SCHEMA = `uint8[] data
int64[] big
float32[3] fixed
float64[] values
int64 negative
bool flag
`;

const BASE_SEC = 1_700_000_000;
const U64_MAX = 2n ** 64n - 1n;

function metricArray(seq) {
  return {
    header: { stamp: { sec: BASE_SEC + seq, nanosec: 500 }, frame_id: "base_link" },
    robot_id: "robot-7",
    metrics: [
      {
        name: "command_latency",
        unit: "ms",
        window: 10.0,
        count: 3n,
        mean: 12.5,
        stddev: NaN,
        min: 10.25,
        max: 15.0,
        p50: 12.0,
        p90: 14.0,
        p95: 14.5,
        p99: 14.9,
        p999: 15.0,
        tags: [
          { key: "component", value: "vla" },
          { key: "seq", value: String(seq) },
        ],
      },
      {
        name: "extremes",
        unit: "",
        window: 0.5,
        count: U64_MAX,
        mean: Infinity,
        stddev: 0,
        min: -Infinity,
        max: -0.5,
        p50: 0,
        p90: 0,
        p95: 0,
        p99: 0,
        p999: 0,
        tags: [],
      },
    ],
  };
}

function arraysMessage(seq) {
  return {
    data: new Uint8Array([0, 1, 254, 255, seq & 0xff]),
    big: new BigInt64Array([-(2n ** 63n), 42n, 2n ** 53n]),
    fixed: new Float32Array([1.5, NaN, -Infinity]),
    values: new Float64Array([0.25, Infinity]),
    negative: -7n,
    flag: true,
  };
}

/** The MESSAGE_DATA timestamp (ns) the server sends with message `seq`. */
const timestampOf = (seq) => BigInt(BASE_SEC + seq) * 1_000_000_000n + 500n;

function runClient(args, timeoutMs = 20_000) {
  // Asynchronous on purpose: the server lives in this process's event loop.
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

function parseOutput(run) {
  const lines = run.stdout.trim().split("\n");
  assert.equal(lines.length, 1, `expected exactly one line of JSON on stdout, got:\n${run.stdout}`);
  return JSON.parse(lines[0]);
}

async function main() {
  // --- 0. parser checks (no network) --------------------------------------
  const defs = parse(METRIC_ARRAY_SCHEMA, { ros2: true });
  assert.ok(defs.some((d) => d.name === "vla_perf/MetricSummary"));
  const defsMsgForm = parse(METRIC_ARRAY_SCHEMA_MSG_FORM, { ros2: true });
  assert.ok(defsMsgForm.some((d) => d.name === "vla_perf/msg/MetricSummary"));
  // Known limit of @foxglove/rosmsg: a *fully qualified* field type must match
  // its "MSG:" header exactly, so "std_msgs/Header header" with
  // "MSG: std_msgs/msg/Header" fails (unqualified names like "MetricSummary"
  // resolve by suffix and accept either spelling).
  assert.throws(
    () =>
      parse(METRIC_ARRAY_SCHEMA.replace("MSG: std_msgs/Header", "MSG: std_msgs/msg/Header"), {
        ros2: true,
      }),
    /std_msgs\/Header/,
  );
  console.log("ok   parser: MSG: pkg/Type and MSG: pkg/msg/Type (unqualified reference) both parse");

  // --- server -----------------------------------------------------------------
  const server = new FoxgloveServer({
    name: "vla-perf-selftest",
    capabilities: ["time"],
    supportedEncodings: ["cdr"],
    metadata: { purpose: "client.mjs selftest" },
    sessionId: "selftest-session-1",
  });
  server.on("error", (err) => console.error("server error:", err));
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    handleProtocols: (protocols) => server.handleProtocols(protocols),
  });
  wss.on("connection", (conn, req) => {
    server.handleConnection(conn, `${req.socket.remoteAddress}:${req.socket.remotePort}`);
  });
  await new Promise((resolve, reject) => {
    wss.once("listening", resolve);
    wss.once("error", reject);
  });
  const url = `ws://127.0.0.1:${wss.address().port}`;
  console.log(`info server listening on ${url}`);

  const cdr = { encoding: "cdr", schemaEncoding: "ros2msg" };
  const metricsCh = server.addChannel({
    ...cdr,
    topic: "/vla_perf/metrics",
    schemaName: "vla_perf/msg/MetricArray",
    schema: METRIC_ARRAY_SCHEMA,
  });
  const msgFormCh = server.addChannel({
    ...cdr,
    topic: "/vla_perf/metrics_msg_form",
    schemaName: "vla_perf/msg/MetricArray",
    schema: METRIC_ARRAY_SCHEMA_MSG_FORM,
  });
  const arraysCh = server.addChannel({
    ...cdr,
    topic: "/selftest/arrays",
    schemaName: "selftest/msg/Arrays",
    schema: ARRAYS_SCHEMA,
  });
  server.addChannel({
    ...cdr,
    topic: "/selftest/silent", // advertised, never published
    schemaName: "selftest/msg/Arrays",
    schema: ARRAYS_SCHEMA,
  });
  server.addChannel({
    topic: "/selftest/json",
    encoding: "json",
    schemaName: "selftest.Json",
    schemaEncoding: "jsonschema",
    schema: JSON.stringify({ type: "object" }),
  });

  // Publish every 20 ms; FoxgloveServer only sends to subscribed clients.
  const metricsWriter = new MessageWriter(defs);
  const msgFormWriter = new MessageWriter(defsMsgForm);
  const arraysWriter = new MessageWriter(parse(ARRAYS_SCHEMA, { ros2: true }));
  let seq = 0;
  const publisher = setInterval(() => {
    seq++;
    server.sendMessage(metricsCh, timestampOf(seq), metricsWriter.writeMessage(metricArray(seq)));
    server.sendMessage(msgFormCh, timestampOf(seq), msgFormWriter.writeMessage(metricArray(seq)));
    server.sendMessage(arraysCh, timestampOf(seq), arraysWriter.writeMessage(arraysMessage(seq)));
  }, 20);

  try {
    // --- 1. happy path --------------------------------------------------------
    {
      const topics = ["/vla_perf/metrics", "/vla_perf/metrics_msg_form", "/selftest/arrays"];
      const run = await runClient([url, "--topics", topics.join(","), "--count", "2", "--timeout", "10"]);
      assert.equal(run.code, 0, `client exited ${run.code}\nstderr:\n${run.stderr}\nstdout:\n${run.stdout}`);
      if (process.env.SELFTEST_VERBOSE) console.log(run.stdout.trim());
      const out = parseOutput(run);
      assert.equal(out.error, undefined);

      assert.deepEqual(out.serverInfo, {
        name: "vla-perf-selftest",
        capabilities: ["time"],
        supportedEncodings: ["cdr"],
        metadata: { purpose: "client.mjs selftest" },
        sessionId: "selftest-session-1",
      });

      assert.equal(out.channels.length, 5);
      const metrics = out.channels.find((c) => c.topic === "/vla_perf/metrics");
      assert.deepEqual(metrics, {
        id: metricsCh,
        topic: "/vla_perf/metrics",
        encoding: "cdr",
        schemaName: "vla_perf/msg/MetricArray",
        schemaEncoding: "ros2msg",
        schema: METRIC_ARRAY_SCHEMA,
      });
      const json = out.channels.find((c) => c.topic === "/selftest/json");
      assert.equal(json.encoding, "json");
      assert.equal(json.schemaEncoding, "jsonschema");

      assert.deepEqual(Object.keys(out.messages).sort(), [...topics].sort());
      for (const topic of ["/vla_perf/metrics", "/vla_perf/metrics_msg_form"]) {
        const msgs = out.messages[topic];
        assert.equal(msgs.length, 2, topic);
        const [a, b] = msgs;
        const s = a.message.header.stamp.sec - BASE_SEC;
        assert.ok(s >= 1, `${topic}: unexpected stamp ${a.message.header.stamp.sec}`);
        assert.equal(b.message.header.stamp.sec, a.message.header.stamp.sec + 1, `${topic}: not consecutive`);
        assert.equal(a.receiveTime, timestampOf(s).toString());
        assert.equal(b.receiveTime, timestampOf(s + 1).toString());
        // Expected decoded JSON: as sent, with the JSON conventions applied.
        const expected = metricArray(s);
        expected.metrics[0].count = 3;
        expected.metrics[0].stddev = "NaN";
        expected.metrics[1].count = U64_MAX.toString(); // not a safe integer -> string
        expected.metrics[1].mean = "Infinity";
        expected.metrics[1].min = "-Infinity";
        assert.deepEqual(a.message, expected, topic);
      }
      {
        const msgs = out.messages["/selftest/arrays"];
        assert.equal(msgs.length, 2);
        const s = Number(BigInt(msgs[0].receiveTime) / 1_000_000_000n) - BASE_SEC;
        assert.deepEqual(msgs[0].message, {
          data: [0, 1, 254, 255, s & 0xff],
          big: ["-9223372036854775808", 42, "9007199254740992"],
          fixed: [1.5, "NaN", "-Infinity"],
          values: [0.25, "Infinity"],
          negative: -7,
          flag: true,
        });
      }
      // The Rust side needs to tell NaN apart: it must be a string in the raw text.
      assert.match(run.stdout, /"stddev":"NaN"/);
      console.log("ok   happy path: serverInfo, channels, 2 decoded messages per topic, NaN/Inf/BigInt/typed arrays");
    }

    // --- 2. timeout: a topic that never publishes -> exit 2 + partial JSON ----
    {
      const run = await runClient([url, "--topics", "/vla_perf/metrics,/selftest/silent", "--count", "2", "--timeout", "1"]);
      assert.equal(run.code, 2, `client exited ${run.code}\nstderr:\n${run.stderr}`);
      const out = parseOutput(run);
      assert.match(out.error, /^timed out/);
      assert.match(out.error, /\/selftest\/silent \(0\/2\)/);
      assert.doesNotMatch(out.error, /\/vla_perf\/metrics/);
      assert.equal(out.messages["/vla_perf/metrics"].length, 2);
      assert.equal(out.messages["/selftest/silent"].length, 0);
      console.log("ok   timeout: exit 2, JSON with partial messages and the short topic named");
    }

    // --- 3. timeout: a topic never advertised -> exit 2, lists what was -----
    {
      const run = await runClient([url, "--topics", "/nope", "--count", "1", "--timeout", "1"]);
      assert.equal(run.code, 2, `client exited ${run.code}\nstderr:\n${run.stderr}`);
      const out = parseOutput(run);
      assert.match(out.error, /never advertised: \/nope/);
      assert.match(out.error, /\/vla_perf\/metrics/);
      assert.match(run.stderr, /never advertised: \/nope/);
      console.log("ok   never advertised: exit 2, error lists the advertised topics");
    }

    // --- 4. a requested non-cdr/ros2msg channel -> exit 1 ------------------
    {
      const run = await runClient([url, "--topics", "/selftest/json", "--count", "1", "--timeout", "5"]);
      assert.equal(run.code, 1, `client exited ${run.code}\nstderr:\n${run.stderr}`);
      assert.equal(run.stdout, "");
      assert.match(run.stderr, /only "cdr" \/ "ros2msg"/);
      console.log("ok   json channel: exit 1 with a clear message");
    }

    // --- 5. bad arguments / unreachable server -> exit 1 -------------------
    {
      const bad = await runClient([url, "--count", "1"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--topics is required/);
      const refused = await runClient(["ws://127.0.0.1:1", "--topics", "/a", "--count", "1"]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /ECONNREFUSED/);
      console.log("ok   bad arguments / connection refused: exit 1");
    }
  } finally {
    clearInterval(publisher);
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
  console.log("selftest passed");
}

main().catch((err) => {
  console.error(`selftest FAILED: ${err.stack ?? err}`);
  process.exit(1);
});
