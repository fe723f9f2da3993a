//! The local target (being built).
