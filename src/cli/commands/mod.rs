//! One file per command; each takes its parsed arguments and a [`Printer`] and returns the exit
//! status or an error for `cli::run` to render.
//!
//! [`Printer`]: super::output::Printer

pub mod apply;
pub mod diff;
pub mod drift;
pub mod export;
pub mod init;
pub mod plan;
pub mod pull;
pub mod restore;
pub mod types;
pub mod validate;
