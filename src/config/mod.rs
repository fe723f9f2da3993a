//! Configuration: `kvsync.yaml` → validated [`Desired`] state.
//!
//! (Being built: loading, interpolation, environments, includes and validation.)

pub mod desired;

pub use desired::{Desired, DesiredEntry, DesiredScope, Globs, ValueSource};
