//! Every environment variable kvsync reads, in one place, each with what it does.
//!
//! (`NO_COLOR`, `CLICOLOR` and `CLICOLOR_FORCE` are read by `anstream` when `--color auto`.)

/// The clock in unix seconds, for tests and reproducible runs; the system clock otherwise.
pub const KVSYNC_NOW: &str = "KVSYNC_NOW";

/// The commit being applied on GitHub Actions; the default `--revision`.
pub const GITHUB_SHA: &str = "GITHUB_SHA";
