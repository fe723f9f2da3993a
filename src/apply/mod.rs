//! Apply: guards, batches and the executor that runs a plan against a store.

pub mod batch;
pub mod executor;
pub mod saved;

pub use executor::{
    Failure, Guards, Refusal, Report, ScopeReport, Settings, check_guards, execute,
};
