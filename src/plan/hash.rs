//! The content hash and the ownership marker (DESIGN.md §2, normative).
//!
//! Every key kvsync writes carries `__kvsync: {v, owner, sha256, rev, sensitive}` in its metadata
//! (`rev` and `sensitive` optional; `sensitive` is not hashed). The hash
//! covers the value bytes, the canonical JSON of the user metadata and the expiration policy, so
//! a listing (which returns metadata, never values) is enough to tell whether a key is current.
//! This module is pure: it hashes bytes it is given and never opens a file itself.

use sha2::{Digest, Sha256};

use crate::kv::Expiration;
use crate::kv::ListedMetadata;
use crate::kv::metadata::MarkerField;

// The marker's field name and version. They live with the listing's compact metadata, which
// has to recognise the marker to hold it compactly; what a marker means is decided here.
pub use crate::kv::metadata::{MARKER_FIELD, MARKER_VERSION};
/// Longest `rev` a marker carries, in bytes of JSON text (escapes counted as written); size
/// checks assume it is this long.
pub const REV_MAX_BYTES: usize = 40;

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

/// What a key's `__kvsync` field says about who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker {
    /// No marker: no `__kvsync` field, or one that is not an object or has no string `owner`.
    None,
    /// A version-1 marker. `sensitive`: it says `"sensitive": true`, so the key was written from
    /// a sensitive entry and its live value must never be shown (markers written before the
    /// field existed never say so).
    V1 { owner: String, sha256: ContentHash, rev: Option<String>, sensitive: bool },
    /// A marker of a version above 1. Ours: written by a newer kvsync, never touched; another
    /// owner's: that owner's key, as any other.
    Newer { version: u64, owner: String },
    /// A marker with a string `owner` that this kvsync cannot read otherwise (a `v` that is not
    /// an unsigned integer, version 0, or a version-1 marker without a valid hash). It still
    /// says who owns the key: another owner's is never adopted; ours is never touched.
    Unreadable { owner: String, detail: String },
}

impl Marker {
    /// Reads the marker from a key's metadata, as a JSON value.
    pub fn from_metadata(metadata: Option<&serde_json::Value>) -> Self {
        metadata.and_then(|m| m.get(MARKER_FIELD)).map_or(Self::None, Self::from_field)
    }

    /// Reads the marker from a listed key's metadata, exactly as [`Marker::from_metadata`]
    /// reads the JSON value the listing held.
    pub fn from_listed(metadata: &ListedMetadata) -> Self {
        match metadata.marker() {
            MarkerField::Absent => Self::None,
            // A clean marker is one this function would accept on the value: version 1, an
            // owner that is not empty, a valid hash, a string `rev` or none.
            MarkerField::Clean(marker) => Self::V1 {
                owner: marker.owner().to_owned(),
                sha256: ContentHash(*marker.sha256()),
                rev: marker.rev().map(str::to_owned),
                sensitive: marker.sensitive(),
            },
            MarkerField::Other(field) => Self::from_field(&field),
        }
    }

    /// The owner the marker names, whatever else it holds.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::V1 { owner, .. } | Self::Newer { owner, .. } | Self::Unreadable { owner, .. } => {
                Some(owner)
            }
        }
    }

    /// Whether a listed key's marker says it was written from a sensitive entry: what
    /// [`Marker::from_listed`] would say, without building the marker (a saved plan asks this of
    /// every key it depends on).
    pub fn listed_is_sensitive(metadata: &ListedMetadata) -> bool {
        match metadata.marker() {
            MarkerField::Absent => false,
            MarkerField::Clean(marker) => marker.sensitive(),
            MarkerField::Other(field) => {
                matches!(Self::from_field(&field), Self::V1 { sensitive: true, .. })
            }
        }
    }

    /// Reads the value of a `__kvsync` field. Only a field that is not an object, or has no
    /// string `owner`, is no marker: a marker that names an owner always counts as that owner's,
    /// so a forged or damaged one can never make another owner's key look free to adopt. Fields
    /// this version does not know are ignored.
    fn from_field(field: &serde_json::Value) -> Self {
        let Some(object) = field.as_object() else {
            return Self::None;
        };
        let Some(owner) = object.get("owner").and_then(|o| o.as_str()).map(str::to_owned) else {
            return Self::None;
        };
        let version = object.get("v");
        match version.and_then(serde_json::Value::as_u64) {
            Some(MARKER_VERSION) => {}
            Some(version) if version > MARKER_VERSION => return Self::Newer { version, owner },
            _ => {
                let detail = match version {
                    None => "it has no `v`".to_owned(),
                    Some(v) => format!("`v` is `{v}`"),
                };
                return Self::Unreadable { owner, detail };
            }
        }
        let sha256 = object.get("sha256").and_then(|s| s.as_str()).and_then(ContentHash::from_hex);
        match sha256 {
            Some(sha256) => Self::V1 {
                owner,
                sha256,
                rev: object.get("rev").and_then(|r| r.as_str()).map(str::to_owned),
                sensitive: object.get("sensitive") == Some(&serde_json::Value::Bool(true)),
            },
            None => Self::Unreadable { owner, detail: "`sha256` is not a content hash".to_owned() },
        }
    }
}

/// The metadata object written to KV for a key that is not sensitive: the user's metadata with
/// the marker added.
pub fn written_metadata(
    user: Option<&serde_json::Map<String, serde_json::Value>>,
    owner: &str,
    hash: ContentHash,
    rev: Option<&str>,
) -> serde_json::Value {
    written_metadata_with(user, owner, hash, rev, false)
}

/// The metadata object written to KV: the user's metadata with the marker added, the marker
/// saying `"sensitive": true` when the entry is sensitive (never `false`: no field is the same).
pub fn written_metadata_with(
    user: Option<&serde_json::Map<String, serde_json::Value>>,
    owner: &str,
    hash: ContentHash,
    rev: Option<&str>,
    sensitive: bool,
) -> serde_json::Value {
    let mut marker = serde_json::Map::new();
    marker.insert("v".into(), MARKER_VERSION.into());
    marker.insert("owner".into(), owner.into());
    marker.insert("sha256".into(), hash.to_hex().into());
    if let Some(rev) = rev {
        marker.insert("rev".into(), cut_rev(rev).into());
    }
    if sensitive {
        marker.insert("sensitive".into(), true.into());
    }
    let mut object = user.cloned().unwrap_or_default();
    object.insert(MARKER_FIELD.into(), serde_json::Value::Object(marker));
    serde_json::Value::Object(object)
}

/// The longest start of `rev` whose JSON text (the string's content, escaped as serde_json
/// writes it) is at most [`REV_MAX_BYTES`], cut at a character boundary: so the size a
/// validation assumes holds for any revision, emoji and quotes included.
pub fn cut_rev(rev: &str) -> &str {
    let mut written = 0;
    for (index, c) in rev.char_indices() {
        let len = match c {
            '"' | '\\' | '\u{08}' | '\u{0c}' | '\n' | '\r' | '\t' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if written + len > REV_MAX_BYTES {
            return &rev[..index];
        }
        written += len;
    }
    rev
}

/// The largest the written metadata can get for this user metadata and owner: the size a
/// validation must check against the 1024-byte limit (a full 40-byte `rev` and the
/// `sensitive` field assumed, so the bound holds for every revision and entry).
pub fn written_metadata_len_max(
    user: Option<&serde_json::Map<String, serde_json::Value>>,
    owner: &str,
) -> usize {
    let rev = "0".repeat(REV_MAX_BYTES);
    let value = written_metadata_with(user, owner, ContentHash([0; 32]), Some(&rev), true);
    serde_json::to_string(&value).map_or(usize::MAX, |s| s.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    /// Every vector of `shared/hash-vectors.json` (copied to `tests/fixtures/hash-vectors.json`)
    /// must be reproduced bit for bit: Workers and other tools rely on the same hash.
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

    #[test]
    fn marker_round_trips_and_rejects_garbage() {
        let hash = content_hash(b"x", None, Expiration::Never);
        let meta = written_metadata(None, "web", hash, Some("abc"));
        assert_eq!(
            Marker::from_metadata(Some(&meta)),
            Marker::V1 {
                owner: "web".into(),
                sha256: hash,
                rev: Some("abc".into()),
                sensitive: false
            }
        );
        // Only a field that is not an object, or names no string owner, is no marker.
        for none in [
            serde_json::json!({"__kvsync": "x"}),
            serde_json::json!({"__kvsync": {"v": 1, "sha256": hash.to_hex()}}),
            serde_json::json!({"__kvsync": {"v": 2, "owner": 7}}),
            serde_json::json!({"other": 1}),
        ] {
            assert_eq!(Marker::from_metadata(Some(&none)), Marker::None, "{none}");
        }
        // A marker that names an owner is that owner's, whatever else it holds.
        for (field, detail) in [
            (
                serde_json::json!({"v": 1, "owner": "web", "sha256": "zz"}),
                "`sha256` is not a content hash",
            ),
            (serde_json::json!({"v": 0, "owner": "web", "sha256": hash.to_hex()}), "`v` is `0`"),
            (serde_json::json!({"v": 3.5, "owner": "web"}), "`v` is `3.5`"),
            (serde_json::json!({"owner": "web"}), "it has no `v`"),
        ] {
            assert_eq!(
                Marker::from_metadata(Some(&serde_json::json!({"__kvsync": field}))),
                Marker::Unreadable { owner: "web".into(), detail: detail.into() },
                "{field}"
            );
        }
        let newer = serde_json::json!({"__kvsync": {"v": 2, "owner": "web"}});
        assert_eq!(
            Marker::from_metadata(Some(&newer)),
            Marker::Newer { version: 2, owner: "web".into() }
        );
        // Fields a reader does not know are ignored.
        let extra = serde_json::json!({"__kvsync": {"v": 1, "owner": "web", "sha256": hash.to_hex(), "x": [1]}});
        assert_eq!(
            Marker::from_metadata(Some(&extra)),
            Marker::V1 { owner: "web".into(), sha256: hash, rev: None, sensitive: false }
        );
    }

    #[test]
    fn written_metadata_keeps_user_fields_and_cuts_rev() {
        let user: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"team":"growth"}"#).expect("json");
        let rev = "a".repeat(50);
        let meta = written_metadata(Some(&user), "o", ContentHash([1; 32]), Some(&rev));
        assert_eq!(meta["team"], "growth");
        assert_eq!(meta["__kvsync"]["rev"].as_str().map(str::len), Some(40));
        let sensitive =
            written_metadata_with(Some(&user), "o", ContentHash([1; 32]), Some(&rev), true);
        assert_eq!(
            written_metadata_len_max(Some(&user), "o"),
            serde_json::to_string(&sensitive).expect("json").len()
        );
    }

    /// Issue 15 item 14: 40 emoji are 160 bytes; the bound assumed 40 bytes of `rev`.
    #[test]
    fn no_revision_makes_the_marker_larger_than_the_bound() {
        let bound = written_metadata_len_max(None, "o");
        for rev in [
            "😀".repeat(40),
            "\"".repeat(40),
            "\u{1}".repeat(40),
            format!("{}é", "a".repeat(39)),
            "é".repeat(30),
            "a".repeat(100),
        ] {
            let meta = written_metadata_with(None, "o", ContentHash([1; 32]), Some(&rev), true);
            let len = serde_json::to_string(&meta).expect("json").len();
            assert!(len <= bound, "{rev:?}: {len} > {bound}");
            let cut = meta["__kvsync"]["rev"].as_str().expect("rev");
            assert!(rev.starts_with(cut));
            let text = serde_json::to_string(cut).expect("json");
            assert!(text.len() - 2 <= REV_MAX_BYTES, "{text}");
        }
        assert_eq!(cut_rev(&"😀".repeat(40)), "😀".repeat(10));
        assert_eq!(cut_rev(&format!("{}é", "a".repeat(39))), "a".repeat(39));
        assert_eq!(cut_rev(&"\"".repeat(40)), "\"".repeat(20));
        assert_eq!(cut_rev(&"\u{1}".repeat(40)), "\u{1}".repeat(6));
        assert_eq!(cut_rev("short"), "short");
    }

    #[test]
    fn the_sensitive_field_is_written_only_when_true_and_not_hashed() {
        let hash = content_hash(b"x", None, Expiration::Never);
        let plain = written_metadata_with(None, "web", hash, None, false);
        assert_eq!(plain["__kvsync"].get("sensitive"), None);
        let sensitive = written_metadata_with(None, "web", hash, Some("r"), true);
        assert_eq!(
            sensitive.to_string(),
            format!(
                r#"{{"__kvsync":{{"v":1,"owner":"web","sha256":"{}","rev":"r","sensitive":true}}}}"#,
                hash.to_hex()
            )
        );
        assert_eq!(
            Marker::from_metadata(Some(&sensitive)),
            Marker::V1 {
                owner: "web".into(),
                sha256: hash,
                rev: Some("r".into()),
                sensitive: true
            }
        );
        // The listed compact form reads the same, and knows the field.
        let listed = ListedMetadata::from_json_text(&sensitive.to_string()).expect("valid");
        assert!(listed.clean_parts().is_some());
        assert_eq!(Marker::from_listed(&listed), Marker::from_metadata(Some(&sensitive)));
        // Anything but `true` is not sensitive.
        let other = serde_json::json!({"__kvsync": {"v": 1, "owner": "web", "sha256": hash.to_hex(), "sensitive": "yes"}});
        assert!(matches!(Marker::from_metadata(Some(&other)), Marker::V1 { sensitive: false, .. }));
    }

    /// The user's part of a metadata value as the engine computed it before listings were held
    /// compactly: every field but the marker, in order; `None` for no object, or the marker alone.
    fn user_of(value: &serde_json::Value) -> Option<serde_json::Map<String, serde_json::Value>> {
        let object = value.as_object()?;
        let user: serde_json::Map<_, _> = object
            .iter()
            .filter(|(name, _)| name.as_str() != MARKER_FIELD)
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        (!user.is_empty() || !object.contains_key(MARKER_FIELD)).then_some(user)
    }

    /// Metadata texts near the marker's shape: clean markers, and every way of missing it.
    fn metadata_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let hash = "0123456789abcdef".repeat(4);
        let sha = prop::sample::select(vec![
            hash.clone(),
            hash.to_uppercase(),
            hash[2..].to_owned(),
            "zz".repeat(32),
        ]);
        let owner = prop::sample::select(vec!["web", "other", "", "w\\\"e", "w\\u0065b"]);
        let rev = prop::option::of(prop::sample::select(vec!["\"r1\"", "\"\"", "7", "null"]));
        let version =
            prop::sample::select(vec!["1", "2", "0", "1.0", "\"1\"", "18446744073709551616"]);
        let extra = prop::sample::select(vec![
            "",
            ",\"x\":[1]",
            " ",
            ",\"sensitive\":true",
            ",\"sensitive\":false",
            ",\"sensitive\":1",
        ]);
        let clean = (
            prop::sample::select(vec!["web", "other", "w\\\"e"]),
            prop::option::of(prop::sample::select(vec!["r1", "", "\\u00e9"])),
            any::<bool>(),
        )
            .prop_map(move |(owner, rev, sensitive)| {
                let rev = rev.map(|r| format!(",\"rev\":\"{r}\"")).unwrap_or_default();
                let sensitive = if sensitive { ",\"sensitive\":true" } else { "" };
                format!("{{\"v\":1,\"owner\":\"{owner}\",\"sha256\":\"{hash}\"{rev}{sensitive}}}")
            });
        let mutated = (version, owner, sha, rev, extra, any::<bool>()).prop_map(
            |(v, owner, sha, rev, extra, swap)| {
                let rev = rev.map(|r| format!(",\"rev\":{r}")).unwrap_or_default();
                if swap {
                    format!("{{\"owner\":\"{owner}\",\"v\":{v},\"sha256\":\"{sha}\"{rev}{extra}}}")
                } else {
                    format!("{{\"v\":{v},\"owner\":\"{owner}\",\"sha256\":\"{sha}\"{rev}{extra}}}")
                }
            },
        );
        let marker = prop_oneof![clean, mutated];
        let value = prop::sample::select(vec![
            "1",
            "1.50",
            "-0",
            "2e3",
            "0.1",
            "18446744073709551615",
            "-9223372036854775808",
            "\"x\"",
            "\"\\u00e9\\n\"",
            "null",
            "true",
            "[1,{\"a\":2.5}]",
            "{}",
            "{\"b\":{\"c\":[]}}",
        ]);
        let name =
            prop::sample::select(vec!["team", "a", "__kvsync", "\\u005f_kvsync", "z", "\\u00e9"]);
        let field = prop_oneof![
            (name, value).prop_map(|(n, v)| format!("\"{n}\":{v}")),
            marker.clone().prop_map(|m| format!("\"__kvsync\":{m}")),
        ];
        prop_oneof![
            4 => (prop::collection::vec(field, 0..4), marker).prop_map(|(mut fields, m)| {
                fields.push(format!("\"__kvsync\":{m}"));
                format!("{{{}}}", fields.join(","))
            }),
            2 => prop::collection::vec(
                (prop::sample::select(vec!["team", "a", "z"]), Just("1")).prop_map(|(n, v)| format!("\"{n}\":{v}")),
                0..3,
            ).prop_map(|fields| format!("{{{}}}", fields.join(","))),
            1 => prop::sample::select(vec!["[1]", "\"s\"", "3", "null"]).prop_map(str::to_owned),
        ]
    }

    proptest::proptest! {
        /// The compact form of listed metadata reads as the decoded value does: the same value,
        /// the same user metadata and the same marker.
        #[test]
        fn listed_metadata_means_what_its_value_means(text in metadata_text()) {
            let value: serde_json::Value = serde_json::from_str(&text).expect("generated JSON");
            let listed = ListedMetadata::from_json_text(&text).expect("valid");
            let value = (!value.is_null()).then_some(value);
            proptest::prop_assert_eq!(&listed.to_json(), &value);
            proptest::prop_assert_eq!(
                listed.to_json().map(|v| v.to_string()),
                value.as_ref().map(ToString::to_string)
            );
            proptest::prop_assert_eq!(listed.user(), value.as_ref().and_then(user_of));
            proptest::prop_assert_eq!(Marker::from_listed(&listed), Marker::from_metadata(value.as_ref()));
        }
    }

    #[test]
    fn clean_markers_are_recognised() {
        // The generator above must reach the compact form, or the property proves little.
        let hash = content_hash(b"x", None, Expiration::Never);
        let text = written_metadata(None, "web", hash, Some("r")).to_string();
        let listed = ListedMetadata::from_json_text(&text).expect("valid");
        assert!(listed.clean_parts().is_some());
        assert_eq!(
            Marker::from_listed(&listed),
            Marker::V1 {
                owner: "web".into(),
                sha256: hash,
                rev: Some("r".into()),
                sensitive: false
            }
        );
    }
}
