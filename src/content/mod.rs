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

/// A leading byte order mark (U+FEFF) in UTF-8. A text read (Cloudflare's bulk get) drops it,
/// so a value that begins with one is read as bytes wherever its exact bytes matter.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Whether `bytes` begin with a byte order mark ([`BOM`]): the one rule for it.
pub fn starts_with_bom(bytes: &[u8]) -> bool {
    bytes.starts_with(BOM)
}

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
