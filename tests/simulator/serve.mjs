#!/usr/bin/env node
// Starts Cloudflare's local KV simulator (miniflare, which runs workerd) with worker.js in front
// of it, speaking the KV REST API on 127.0.0.1 at an ephemeral port. KV is in memory: nothing is
// persisted, and every start is empty.
//
//   node tests/simulator/serve.mjs [--port N] [--namespace ID]...
//
// Prints one line to stdout once it accepts requests:
//
//   listening http://127.0.0.1:PORT/client/v4
//
// and serves until its standard input closes, or SIGTERM / SIGINT arrives; then it stops workerd
// and exits. Without --namespace it serves the namespace ids of the shipped examples.
//
// Environment: KV_SIMULATOR_TOKEN (default "kvsync-simulator-token") and KV_SIMULATOR_ACCOUNT
// (default "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e") are the credentials the Worker accepts.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Log, LogLevel, Miniflare } from "miniflare";

const EXAMPLE_NAMESPACES = [
  "0f1e2d3c4b5a69788796a5b4c3d2e1f0", // examples/feature-flags
  "a1b2c3d4e5f60718293a4b5c6d7e8f90", // examples/app-config
];

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    namespace: { type: "string", multiple: true },
  },
});
const namespaces = values.namespace?.length ? values.namespace : EXAMPLE_NAMESPACES;
for (const id of namespaces) {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
    console.error(`serve.mjs: ${JSON.stringify(id)} is not a namespace id (1 to 32 of A-Z a-z 0-9 - _)`);
    process.exit(2);
  }
}

// One KV binding per namespace id; the Worker maps ids to bindings through NAMESPACES.
const kvNamespaces = {};
const bindingOf = {};
namespaces.forEach((id, index) => {
  const binding = `KV_${index}`;
  kvNamespaces[binding] = id;
  bindingOf[id] = binding;
});

const scriptPath = fileURLToPath(new URL("./worker.js", import.meta.url));
const mf = new Miniflare({
  host: "127.0.0.1",
  port: Number(values.port),
  modules: true,
  script: readFileSync(scriptPath, "utf8"),
  scriptPath,
  compatibilityDate: "2026-04-01",
  kvNamespaces,
  kvPersist: false,
  bindings: {
    TOKEN: process.env.KV_SIMULATOR_TOKEN || "kvsync-simulator-token",
    ACCOUNT_ID: process.env.KV_SIMULATOR_ACCOUNT || "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e",
    NAMESPACES: JSON.stringify(bindingOf),
  },
  log: new Log(LogLevel.WARN),
  telemetry: { enabled: false },
  cf: false, // never fetch the `Request.cf` object from the network
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  try {
    await mf.dispose();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
// The test harness keeps our stdin open while it needs us: its end (the harness closed it, or
// died) is the signal to go.
process.stdin.on("end", () => stop(0));
process.stdin.on("close", () => stop(0));
process.stdin.resume();

try {
  const url = await mf.ready;
  process.stdout.write(`listening ${url.origin}/client/v4\n`);
} catch (error) {
  console.error(`serve.mjs: miniflare did not start: ${error?.stack ?? error}`);
  await stop(1);
}
