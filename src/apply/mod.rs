//! Apply: batches and the executor that runs a plan against a store (the guards it obeys are
//! evaluated with the plan, in `plan::guards`).

pub mod batch;
pub mod executor;
pub mod saved;

pub use executor::{Failure, Report, ScopeReport, Settings, execute};
