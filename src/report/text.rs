//! The shared words, from [`crate::text`] (kept here for the renderers that import them from
//! `report`).

pub use crate::text::{counted, printable};
