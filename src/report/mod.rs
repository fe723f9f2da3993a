//! Rendering: plans, apply reports and diagnostics, for people and machines.
//!
//! Renderers take data (a `Plan`, a `Report`, diagnostics) and return text; they never call a
//! store and never decide what happens. Colour is a `bool` they are given.

pub mod cost;
pub mod diagnostic;
pub mod drift;
pub mod drift_model;
pub mod envdiff;
pub mod human;
pub mod json;
pub mod markdown;
pub mod model;
pub mod outcome;
pub mod pull;
pub mod style;
pub mod text;
pub mod values;
