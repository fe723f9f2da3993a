//! The ownership marker (docs/spec.md §2, normative): every key kvsync writes carries
//! `__kvsync: {v, owner, sha256, rev, sensitive}` in its metadata (`rev` and `sensitive`
//! optional; `sensitive` is not hashed). This module writes it and says what one means; the
//! listing's compact form of it (`kv::metadata`) builds its answers from [`Marker::from_field`]
//! and [`marker_object`], so the layout is written here once.

use super::hash::ContentHash;

/// The metadata field kvsync reserves for its marker.
pub const MARKER_FIELD: &str = "__kvsync";
/// The marker version this kvsync writes and understands.
pub const MARKER_VERSION: u64 = 1;
/// Longest `rev` a marker carries, in bytes of JSON text (escapes counted as written); size
/// checks assume it is this long.
pub const REV_MAX_BYTES: usize = 40;

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

    /// The owner the marker names, whatever else it holds.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::V1 { owner, .. } | Self::Newer { owner, .. } | Self::Unreadable { owner, .. } => {
                Some(owner)
            }
        }
    }

    /// Reads the value of a `__kvsync` field. Only a field that is not an object, or has no
    /// string `owner`, is no marker: a marker that names an owner always counts as that owner's,
    /// so a forged or damaged one can never make another owner's key look free to adopt. Fields
    /// this version does not know are ignored.
    pub fn from_field(field: &serde_json::Value) -> Self {
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
    let marker = marker_object(owner, hash, rev.map(cut_rev), sensitive);
    let mut object = user.cloned().unwrap_or_default();
    object.insert(MARKER_FIELD.into(), marker);
    serde_json::Value::Object(object)
}

/// The marker object, its fields in the order kvsync writes them (the listing recognises
/// exactly this text as a clean marker); `rev` as given, already cut.
pub fn marker_object(
    owner: &str,
    hash: ContentHash,
    rev: Option<&str>,
    sensitive: bool,
) -> serde_json::Value {
    let mut marker = serde_json::Map::with_capacity(5);
    marker.insert("v".into(), MARKER_VERSION.into());
    marker.insert("owner".into(), owner.into());
    marker.insert("sha256".into(), hash.to_hex().into());
    if let Some(rev) = rev {
        marker.insert("rev".into(), rev.into());
    }
    if sensitive {
        marker.insert("sensitive".into(), true.into());
    }
    serde_json::Value::Object(marker)
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
    use crate::content::{Expiration, content_hash};

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
        // Anything but `true` is not sensitive.
        let other = serde_json::json!({"__kvsync": {"v": 1, "owner": "web", "sha256": hash.to_hex(), "sensitive": "yes"}});
        assert!(matches!(Marker::from_metadata(Some(&other)), Marker::V1 { sensitive: false, .. }));
    }
}
