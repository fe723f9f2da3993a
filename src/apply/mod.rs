//! Apply (being built).
pub mod batch;
