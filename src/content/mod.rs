//! What a key's content is, wherever it lives: the content hash and canonical JSON
//! ([`hash`]), the ownership marker ([`marker`]), the expiration policy, and the limits
//! Cloudflare puts on keys, values, metadata and namespaces, as predicates ([`limits`]).
//!
//! `config` hashes the desired state with it, `kv` recognises the marker in listings and
//! applies the limits, `plan` compares hashes: so it sits below all three and imports nothing
//! of the crate. Each rule is written here once.

pub mod hash;
pub mod limits;
pub mod marker;

pub use hash::{ContentHash, ContentHasher, canonical_json, content_hash, expiration_field};
pub use marker::{
    MARKER_FIELD, MARKER_VERSION, Marker, REV_MAX_BYTES, cut_rev, written_metadata,
    written_metadata_len_max, written_metadata_with,
};

/// When a written key expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Expiration {
    #[default]
    Never,
    /// Seconds after the write.
    Ttl(u64),
    /// Absolute unix seconds.
    At(i64),
}
