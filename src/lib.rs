//! kvsync keeps Cloudflare Workers KV namespaces in the state a git repository declares.
//!
//! The crate is split by concern (see `ARCHITECTURE.md`):
//! - [`content`] is what a value is wherever it lives: the content hash, the marker, the limits,
//! - [`config`] turns `kvsync.yaml` into a validated [`config::Desired`] state,
//! - [`kv`] holds the [`kv::KvStore`] trait, its plain data types and the targets,
//! - [`plan`] is the pure engine: desired × live → [`plan::Plan`],
//! - [`apply`] executes a plan against a store (guards, batches),
//! - [`report`] renders plans and diagnostics,
//! - [`saved`] is the saved plan: its file and its stale check,
//! - [`types`] writes TypeScript types and typed readers for the Workers that read the keys,
//! - [`fs`] is the one atomic writer every file kvsync writes goes through,
//! - [`cli`] is the thin command-line layer.

pub mod apply;
pub mod cli;
pub mod config;
pub mod content;
pub mod env_vars;
pub mod error;
pub mod fs;
pub mod kv;
#[cfg(test)]
mod layering;
pub mod plan;
pub mod report;
pub mod saved;
#[cfg(test)]
mod size_limits;
#[cfg(test)]
mod testing;
pub mod text;
pub mod types;

pub use error::Error;
