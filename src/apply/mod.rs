//! Apply: batches, the executor that runs a plan against a store, the saved plan's stale check
//! and `--verify`'s read-back (the guards it obeys are
//! evaluated with the plan, in `plan::guards`).

pub mod batch;
mod error;
pub mod executor;
pub mod pull;
pub mod restore;
pub mod snapshot;
pub mod verify;

pub use error::Error;
pub(crate) use error::{counted_keys, key_list};
pub use executor::{Failure, Report, ScopeReport, Settings, execute};
