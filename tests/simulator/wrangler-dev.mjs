#!/usr/bin/env node
// Runs the pinned `wrangler dev` (this folder's npm lockfile) on a Worker project, for kvsync's
// `wrangler-dev` target tests. Run it with a Node that wrangler accepts (22.12 or newer): the
// test harness passes the machine's node when it is new enough, else the `node-<platform>`
// package of this lockfile.
//
//   node tests/simulator/wrangler-dev.mjs --project DIR --port N --inspector-port M
//
// Prints one line to stdout once the dev server accepts requests:
//
//   listening http://127.0.0.1:PORT
//
// and serves until its standard input closes, or SIGTERM / SIGINT arrives; then it stops
// wrangler and everything it started (workerd) and exits. wrangler's own output goes to stderr.
// Nothing here needs the network: metrics are off (WRANGLER_SEND_METRICS=false), and wrangler
// falls back to a placeholder `Request.cf` object when it cannot fetch one.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    project: { type: "string" },
    port: { type: "string" },
    "inspector-port": { type: "string" },
  },
});
if (!values.project || !values.port || !values["inspector-port"]) {
  console.error("wrangler-dev.mjs: --project, --port and --inspector-port are required");
  process.exit(2);
}

const require = createRequire(import.meta.url);
const wranglerBin = join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
const child = spawn(
  process.execPath,
  [
    wranglerBin,
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    values.port,
    "--inspector-port",
    values["inspector-port"],
    "--show-interactive-dev-session=false",
  ],
  {
    cwd: values.project,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "inherit"],
    // Its own process group, so that stopping it stops workerd too.
    detached: process.platform !== "win32",
  },
);

let stopping = false;
function stop(code) {
  if (stopping) return;
  stopping = true;
  const kill = (signal) => {
    try {
      if (process.platform === "win32") child.kill(signal);
      else process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  kill("SIGTERM");
  const force = setTimeout(() => {
    kill("SIGKILL");
    process.exit(code);
  }, 5000);
  child.on("exit", () => {
    clearTimeout(force);
    kill("SIGKILL");
    process.exit(code);
  });
}

process.on("SIGTERM", () => stop(0));
process.on("SIGINT", () => stop(0));
process.stdin.on("end", () => stop(0));
process.stdin.on("close", () => stop(0));
process.stdin.resume();

const url = `http://127.0.0.1:${values.port}`;
let ready = false;
let buffered = "";
child.stdout.on("data", (chunk) => {
  process.stderr.write(chunk);
  if (ready) return;
  buffered += chunk.toString();
  if (buffered.includes("Ready on")) {
    ready = true;
    buffered = "";
    process.stdout.write(`listening ${url}\n`);
  }
});
child.on("exit", (code, signal) => {
  if (!stopping) {
    console.error(`wrangler-dev.mjs: wrangler dev exited (${code ?? signal})`);
    process.exit(1);
  }
});
