//! CLI tests (being built).
