//! Apply (being built).
