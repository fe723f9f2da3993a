//! The top-level error (being built).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kv(#[from] crate::kv::Error),
}
