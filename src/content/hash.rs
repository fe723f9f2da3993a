//! The content hash (docs/spec.md §2, normative): one sha256 over the value bytes, the canonical
//! JSON of the user metadata and the expiration policy, so a listing (which returns metadata,
//! never values) is enough to tell whether a key is current. Pure: it hashes bytes it is given
//! and never opens a file itself.

use sha2::{Digest, Sha256};

use super::Expiration;

/// A sha256 content hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// The 64 lowercase hex digits written into the marker.
    pub fn to_hex(&self) -> String {
        base16ct::lower::encode_string(&self.0)
    }

    /// Parses 64 lowercase hex digits; anything else is `None`.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut out = [0u8; 32];
        base16ct::lower::decode(hex, &mut out).ok()?;
        Some(Self(out))
    }

    /// The first 8 hex digits, for human output.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_owned()
    }
}

impl std::fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ContentHash({})", self.short())
    }
}

/// Feeds a value into the hash in pieces, so a file value can be hashed while it streams.
/// The value's length must be known up front because it is hashed before the bytes.
pub struct ContentHasher {
    sha: Sha256,
    remaining: u64,
}

impl ContentHasher {
    pub fn new(value_len: u64) -> Self {
        let mut sha = Sha256::new();
        sha.update(b"kvsync/v1\n");
        sha.update(value_len.to_be_bytes());
        Self { sha, remaining: value_len }
    }

    /// Adds the next bytes of the value.
    pub fn update(&mut self, chunk: &[u8]) {
        self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
        self.sha.update(chunk);
    }

    /// The number of value bytes announced but not yet fed; a file that changed while it was
    /// read leaves this non-zero.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Finishes with the user metadata (`None` when the key has none) and the expiration.
    pub fn finish(
        mut self,
        metadata: Option<&serde_json::Value>,
        expiration: Expiration,
    ) -> ContentHash {
        let canonical = metadata.map(canonical_json).unwrap_or_default();
        self.sha.update((canonical.len() as u64).to_be_bytes());
        self.sha.update(canonical.as_bytes());
        let expiration = expiration_field(expiration);
        self.sha.update((expiration.len() as u64).to_be_bytes());
        self.sha.update(expiration.as_bytes());
        ContentHash(self.sha.finalize().into())
    }
}

/// The content hash of a value held in memory.
pub fn content_hash(
    value: &[u8],
    metadata: Option<&serde_json::Value>,
    expiration: Expiration,
) -> ContentHash {
    let mut hasher = ContentHasher::new(value.len() as u64);
    hasher.update(value);
    hasher.finish(metadata, expiration)
}

/// The expiration part of the hash: `""`, `ttl=<s>` or `at=<unix s>`.
pub fn expiration_field(expiration: Expiration) -> String {
    match expiration {
        Expiration::Never => String::new(),
        Expiration::Ttl(seconds) => format!("ttl={seconds}"),
        Expiration::At(at) => format!("at={at}"),
    }
}

/// Canonical JSON (DESIGN.md §2): keys sorted by UTF-8 bytes at every depth, no whitespace,
/// minimal escapes. Written by hand on purpose: serde_json's map order depends on a feature flag
/// anywhere in the dependency graph, and its escapes are not specified as ours are.
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            // `str` orders by bytes, which for UTF-8 is code-point order.
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// Every vector of `tests/fixtures/hash-vectors.json` must be reproduced bit for bit:
    /// Workers and other tools rely on the same hash.
    #[test]
    fn reproduces_every_hash_vector() {
        let text = include_str!("../../tests/fixtures/hash-vectors.json");
        let vectors: Vec<serde_json::Value> = serde_json::from_str(text).expect("vectors parse");
        assert!(vectors.len() >= 10, "the vector file lost entries");
        for vector in &vectors {
            let case = vector["case"].as_str().expect("case");
            let value = base64::engine::general_purpose::STANDARD
                .decode(vector["value_base64"].as_str().expect("value"))
                .expect("base64");
            let metadata = match &vector["metadata"] {
                serde_json::Value::Null => None,
                other => Some(other.clone()),
            };
            if let Some(expected) = vector["canonical_metadata"].as_str() {
                let metadata = metadata.as_ref().expect("metadata present");
                assert_eq!(canonical_json(metadata), expected, "canonical JSON of {case}");
            }
            let expiration = parse_expiration_field(vector["expiration"].as_str().expect("exp"));
            let hash = content_hash(&value, metadata.as_ref(), expiration);
            assert_eq!(hash.to_hex(), vector["sha256"].as_str().expect("sha"), "{case}");
        }
    }

    fn parse_expiration_field(field: &str) -> Expiration {
        if let Some(ttl) = field.strip_prefix("ttl=") {
            Expiration::Ttl(ttl.parse().expect("ttl"))
        } else if let Some(at) = field.strip_prefix("at=") {
            Expiration::At(at.parse().expect("at"))
        } else {
            assert_eq!(field, "");
            Expiration::Never
        }
    }

    #[test]
    fn streaming_hash_equals_in_memory_hash() {
        let value = b"hello, streaming world";
        let mut hasher = ContentHasher::new(value.len() as u64);
        for chunk in value.chunks(5) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.remaining(), 0);
        assert_eq!(
            hasher.finish(None, Expiration::Ttl(60)),
            content_hash(value, None, Expiration::Ttl(60))
        );
    }

    #[test]
    fn canonical_json_escapes_controls_in_lowercase_hex() {
        let value = serde_json::json!({"k": "\u{1f}\u{7f}é\u{8}\u{c}\r"});
        assert_eq!(canonical_json(&value), "{\"k\":\"\\u001f\u{7f}é\\b\\f\\r\"}");
    }
}
