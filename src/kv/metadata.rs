//! A listed key's metadata, held compactly.
//!
//! A plan holds the listing of every scope at once: a million keys at the largest sizes
//! kvsync is built for (DESIGN.md §9). Kept as a `serde_json::Value`, one key's metadata (an
//! object with our marker in a nested object) costs about 900 bytes in a dozen allocations,
//! although the engine only reads the marker's owner and hash from it. [`ListedMetadata`] keeps
//! the same information in about 64 bytes plus the user's part as JSON text when there is one:
//!
//! - a version-1 marker whose JSON text is exactly what kvsync writes (field order, no spaces,
//!   serde_json's escapes) is held parsed: its owner, `rev` and `sensitive` flag interned (they
//!   repeat across millions of keys), its hash as 32 bytes. The key's other fields, when there
//!   are any, are held as the JSON text of an object of just those fields, their values exactly
//!   as listed;
//! - any other metadata (no marker, a malformed or newer marker, a marker that is not the last
//!   field, a repeated marker field, metadata that is not an object) is held as the JSON text it
//!   was listed as, and read again when asked.
//!
//! Either way the metadata reads back as exactly the JSON value the listing held ([`to_json`]),
//! with the same fields in the same order, so everything that reads it behaves as it would on
//! the decoded value. Strings of JSON only ever hold slices of the listing's own text (values)
//! or serde_json's encoding of a decoded key, so numbers are never printed and parsed again.
//!
//! Holding a marker compactly means recognising the exact text kvsync writes for one
//! ([`crate::content::marker::marker_object`]); what a marker *means* (ours, another owner's, a
//! newer kvsync's) is [`Marker::from_field`]'s, which [`ListedMetadata::marker`] asks for
//! anything that is not a clean marker.
//!
//! [`to_json`]: ListedMetadata::to_json

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::content::{ContentHash, MARKER_FIELD, MARKER_VERSION, Marker};

/// A listed key's metadata (see the module documentation). `Default` is no metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedMetadata(Repr);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Repr {
    /// The key has no metadata (or `null`).
    #[default]
    None,
    /// An object whose last field is `__kvsync` holding a clean version-1 marker; `user` is the
    /// JSON text of an object of the other fields, in order, `None` when there are none.
    Marked { marker: CleanMarker, user: Option<Box<str>> },
    /// An object without a `__kvsync` field: its JSON text as listed.
    Unmarked(Box<str>),
    /// Anything else: the JSON text as listed.
    Other(Box<str>),
    /// The listing's entry for the key is damaged beyond its metadata (an `expiration` that is
    /// not unix seconds): what is wrong, and the metadata as listed. Boxed, so a listed key
    /// does not grow for a case that should never happen.
    Damaged(Box<Damaged>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Damaged {
    detail: Box<str>,
    metadata: ListedMetadata,
}

/// A version-1 marker in exactly the form kvsync writes it:
/// `{"v":1,"owner":…,"sha256":"<64 lowercase hex>"}`, with `,"rev":…` and then
/// `,"sensitive":true` before the brace when it has them, the owner not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanMarker {
    ident: Arc<MarkerIdent>,
    sha256: [u8; 32],
}

/// What a marker says about who wrote a key: shared by every key with the same owner, `rev` and
/// `sensitive`, so the flag costs a listed key nothing.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MarkerIdent {
    owner: Box<str>,
    rev: Option<Box<str>>,
    sensitive: bool,
}

impl CleanMarker {
    pub fn owner(&self) -> &str {
        &self.ident.owner
    }

    pub fn rev(&self) -> Option<&str> {
        self.ident.rev.as_deref()
    }

    /// Whether the marker says the key was written from a sensitive entry.
    pub fn sensitive(&self) -> bool {
        self.ident.sensitive
    }

    /// The content hash the marker records.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The marker as the JSON object it was listed as.
    fn to_json(&self) -> serde_json::Value {
        crate::content::marker::marker_object(
            self.owner(),
            ContentHash(self.sha256),
            self.rev(),
            self.sensitive(),
        )
    }
}

/// The `__kvsync` field of a listed key, as [`ListedMetadata::marker`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum MarkerField<'a> {
    /// The metadata has no `__kvsync` field (or is not an object).
    Absent,
    /// A clean version-1 marker.
    Clean(&'a CleanMarker),
    /// Any other `__kvsync` field: its value as listed, for the caller to judge.
    Other(serde_json::Value),
}

impl ListedMetadata {
    /// No metadata.
    pub const fn none() -> Self {
        Self(Repr::None)
    }

    /// Reads metadata from its JSON text, accepting exactly what decoding the text into a
    /// `serde_json::Value` accepts (numbers out of range and lone surrogates are errors).
    pub fn from_json_text(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<Validated>(text)?;
        Ok(Self::from_valid_text(text))
    }

    /// The metadata of a value. `Null` is no metadata, as in a listing.
    pub fn from_json(value: Option<&serde_json::Value>) -> Self {
        match value {
            None | Some(serde_json::Value::Null) => Self::none(),
            Some(value) => Self::from_valid_text(&value.to_string()),
        }
    }

    /// `text` is valid JSON that `serde_json::Value` accepts.
    fn from_valid_text(text: &str) -> Self {
        let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed == "null" {
            return Self::none();
        }
        if !trimmed.starts_with('{') {
            return Self(Repr::Other(text.into()));
        }
        // Cannot fail on valid JSON that starts with `{`; if it did, the text is kept as is.
        let Ok(Fields(fields)) = serde_json::from_str::<Fields<'_>>(trimmed) else {
            return Self(Repr::Other(text.into()));
        };
        let markers = fields.iter().filter(|(name, _)| name == MARKER_FIELD).count();
        if markers == 0 {
            return Self(Repr::Unmarked(text.into()));
        }
        let Some(((name, raw), user)) = fields.split_last() else {
            return Self(Repr::Other(text.into()));
        };
        let clean = if markers == 1 && name == MARKER_FIELD { clean_marker(raw) } else { None };
        let Some(marker) = clean else {
            return Self(Repr::Other(text.into()));
        };
        let user = (!user.is_empty()).then(|| object_text(user));
        Self(Repr::Marked { marker, user })
    }

    pub fn is_none(&self) -> bool {
        matches!(self.0, Repr::None)
    }

    /// This metadata, marked as belonging to a key whose listing entry is damaged (`detail`
    /// says how): the plan never writes or deletes such a key.
    pub fn damaged(self, detail: String) -> Self {
        Self(Repr::Damaged(Box::new(Damaged { detail: detail.into(), metadata: self })))
    }

    /// What is wrong with the key's listing entry, if anything ([`ListedMetadata::damaged`]).
    pub fn damage(&self) -> Option<&str> {
        match &self.0 {
            Repr::Damaged(damaged) => Some(&damaged.detail),
            _ => None,
        }
    }

    /// The metadata as the JSON value the listing held; `None` when the key has none.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        match &self.0 {
            Repr::None => None,
            Repr::Marked { marker, user } => {
                let mut object = match user {
                    Some(text) => parse_object(text),
                    None => serde_json::Map::with_capacity(1),
                };
                object.insert(MARKER_FIELD.into(), marker.to_json());
                Some(serde_json::Value::Object(object))
            }
            Repr::Unmarked(text) | Repr::Other(text) => Some(parse(text)),
            Repr::Damaged(damaged) => damaged.metadata.to_json(),
        }
    }

    /// What the key's marker says: exactly what [`Marker::from_metadata`] says of the JSON value
    /// the listing held.
    pub fn marker(&self) -> Marker {
        match self.marker_field() {
            MarkerField::Absent => Marker::None,
            // A clean marker is one `from_field` would accept on the value: version 1, an
            // owner that is not empty, a valid hash, a string `rev` or none.
            MarkerField::Clean(marker) => Marker::V1 {
                owner: marker.owner().to_owned(),
                sha256: ContentHash(*marker.sha256()),
                rev: marker.rev().map(str::to_owned),
                sensitive: marker.sensitive(),
            },
            MarkerField::Other(field) => Marker::from_field(&field),
        }
    }

    /// Whether the marker says the key was written from a sensitive entry: what
    /// [`ListedMetadata::marker`] would say, without building the marker (a saved plan asks
    /// this of every key it depends on).
    pub fn is_marked_sensitive(&self) -> bool {
        match self.marker_field() {
            MarkerField::Absent => false,
            MarkerField::Clean(marker) => marker.sensitive(),
            MarkerField::Other(field) => {
                matches!(Marker::from_field(&field), Marker::V1 { sensitive: true, .. })
            }
        }
    }

    /// The `__kvsync` field as held.
    pub fn marker_field(&self) -> MarkerField<'_> {
        match &self.0 {
            Repr::None | Repr::Unmarked(_) => MarkerField::Absent,
            Repr::Marked { marker, .. } => MarkerField::Clean(marker),
            Repr::Other(text) => match parse(text) {
                serde_json::Value::Object(mut object) => {
                    object.remove(MARKER_FIELD).map_or(MarkerField::Absent, MarkerField::Other)
                }
                _ => MarkerField::Absent,
            },
            Repr::Damaged(damaged) => damaged.metadata.marker_field(),
        }
    }

    /// The user's part of the metadata: every field but `__kvsync`, in listed order. `None`
    /// when the metadata is not an object, or holds the marker and nothing else.
    pub fn user(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        match &self.0 {
            Repr::None => None,
            Repr::Marked { user, .. } => user.as_deref().map(parse_object),
            Repr::Unmarked(text) => match parse(text) {
                serde_json::Value::Object(object) => Some(object),
                _ => None,
            },
            Repr::Other(text) => match parse(text) {
                serde_json::Value::Object(mut object) => {
                    let marked = object.shift_remove(MARKER_FIELD).is_some();
                    (!object.is_empty() || !marked).then_some(object)
                }
                _ => None,
            },
            Repr::Damaged(damaged) => damaged.metadata.user(),
        }
    }

    /// The clean marker and the user's part as JSON text, when that is the form held.
    #[cfg(test)]
    pub(crate) fn clean_parts(&self) -> Option<(&CleanMarker, Option<&str>)> {
        match &self.0 {
            Repr::Marked { marker, user } => Some((marker, user.as_deref())),
            _ => None,
        }
    }
}

/// Parses text this module holds, which it checked when it was listed.
fn parse(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

fn parse_object(text: &str) -> serde_json::Map<String, serde_json::Value> {
    match parse(text) {
        serde_json::Value::Object(object) => object,
        _ => serde_json::Map::new(),
    }
}

/// The JSON text of an object of these fields, values as listed.
fn object_text(fields: &[(Cow<'_, str>, &RawValue)]) -> Box<str> {
    let len = fields.iter().map(|(name, raw)| name.len() + raw.get().len() + 4).sum::<usize>();
    let mut out = Vec::with_capacity(len + 2);
    out.push(b'{');
    for (index, (name, raw)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        // Writing a string into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut out, name.as_ref());
        out.push(b':');
        out.extend_from_slice(raw.get().as_bytes());
    }
    out.push(b'}');
    // Only UTF-8 went in: serde_json's output and slices of a `str`.
    String::from_utf8(out).map(String::into_boxed_str).unwrap_or_default()
}

/// The marker, when `raw` is exactly the text kvsync writes for a version-1 marker.
fn clean_marker(raw: &RawValue) -> Option<CleanMarker> {
    #[derive(Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Wire<'a> {
        v: u64,
        #[serde(borrow)]
        owner: Cow<'a, str>,
        #[serde(borrow)]
        sha256: Cow<'a, str>,
        #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
        rev: Option<Cow<'a, str>>,
        // Only `true` is written; `false` reads back as no field, so it is not clean.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sensitive: bool,
    }
    let wire: Wire<'_> = serde_json::from_str(raw.get()).ok()?;
    if wire.v != MARKER_VERSION || wire.owner.is_empty() {
        return None;
    }
    let sha256 = decode_hash(&wire.sha256)?;
    // Only a marker that reads back as the same text is clean: anything else (spaces, another
    // field order, other escapes) is kept as text, so nothing about it is lost.
    if serde_json::to_string(&wire).ok()? != raw.get() {
        return None;
    }
    let ident = intern(&wire.owner, wire.rev.as_deref(), wire.sensitive);
    Some(CleanMarker { ident, sha256 })
}

/// 64 lowercase hex digits (what `ContentHash::from_hex` accepts), else `None`.
fn decode_hash(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; 32];
    base16ct::lower::decode(hex, &mut out).ok()?;
    Some(out)
}

/// Owners and revs seen in markers, shared by every listing of the process: a namespace holds
/// a handful of them across millions of keys.
struct Interner {
    /// The last one handed out: listings are in key order, and neighbours tend to share one.
    last: Option<Arc<MarkerIdent>>,
    table: HashSet<Arc<MarkerIdent>>,
}

static INTERNER: LazyLock<Mutex<Interner>> =
    LazyLock::new(|| Mutex::new(Interner { last: None, table: HashSet::new() }));

fn intern(owner: &str, rev: Option<&str>, sensitive: bool) -> Arc<MarkerIdent> {
    let mut interner = INTERNER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(last) = &interner.last
        && *last.owner == *owner
        && last.rev.as_deref() == rev
        && last.sensitive == sensitive
    {
        return Arc::clone(last);
    }
    let probe = MarkerIdent { owner: owner.into(), rev: rev.map(Into::into), sensitive };
    let ident = match interner.table.get(&probe) {
        Some(found) => Arc::clone(found),
        None => {
            let ident = Arc::new(probe);
            interner.table.insert(Arc::clone(&ident));
            ident
        }
    };
    interner.last = Some(Arc::clone(&ident));
    ident
}

/// A JSON object's fields in order, names decoded, values as their raw text.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;

        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(name) = map.next_key_seed(Name)? {
                    fields.push((name, map.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(fields))
            }
        }

        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A field name, borrowed from the text when it has no escapes.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value))
    }
}

/// Walks any JSON value the way decoding it into a `serde_json::Value` does (every number
/// evaluated, every string unescaped) without keeping anything: it accepts exactly the texts
/// that decoding accepts.
pub(crate) struct Validated;

impl<'de> Deserialize<'de> for Validated {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Validate).map(|()| Validated)
    }
}

struct Validate;

impl<'de> DeserializeSeed<'de> for Validate {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Validate {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<(), D::Error> {
        Validate.deserialize(inner)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Validate)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Validate)?.is_some() {
            map.next_value_seed(Validate)?;
        }
        Ok(())
    }
}

/// Deserializes a listing's `metadata` field straight into a [`ListedMetadata`]: absent or
/// `null` is none. For the listing DTOs (`wire.rs`); the input must be JSON text in memory.
pub fn deserialize_listed<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<ListedMetadata, D::Error> {
    let raw = Option::<&'de RawValue>::deserialize(deserializer)?;
    match raw {
        None => Ok(ListedMetadata::none()),
        Some(raw) => ListedMetadata::from_json_text(raw.get()).map_err(de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{Expiration, content_hash, written_metadata, written_metadata_with};

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn listed(text: &str) -> ListedMetadata {
        ListedMetadata::from_json_text(text).expect("valid metadata")
    }

    fn marker(owner: &str, rev: Option<&str>) -> String {
        let rev = rev.map(|r| format!(r#","rev":"{r}""#)).unwrap_or_default();
        format!(r#"{{"v":1,"owner":"{owner}","sha256":"{HASH}"{rev}}}"#)
    }

    /// Reads back as exactly the value serde_json decodes, fields in the same order.
    fn assert_round_trips(text: &str) {
        let expected: serde_json::Value = serde_json::from_str(text).expect("json");
        let got = listed(text).to_json();
        let expected = (!expected.is_null()).then_some(expected);
        assert_eq!(got, expected, "{text}");
        assert_eq!(got.map(|v| v.to_string()), expected.map(|v| v.to_string()), "{text}");
    }

    fn is_clean(metadata: &ListedMetadata) -> bool {
        metadata.clean_parts().is_some()
    }

    #[test]
    fn a_clean_marker_is_held_parsed_and_reads_back_exactly() {
        for rev in [None, Some("0123abc"), Some("feature/ü \\\"quoted\\\"")] {
            let text = format!(r#"{{"__kvsync":{}}}"#, marker("web", rev));
            let metadata = listed(&text);
            assert!(is_clean(&metadata), "{text}");
            let (clean, user) = metadata.clean_parts().expect("clean");
            assert_eq!(clean.owner(), "web");
            let expected_rev = rev.map(|r| r.replace("\\\"", "\""));
            assert_eq!(clean.rev(), expected_rev.as_deref());
            assert_eq!(base16ct::lower::encode_string(clean.sha256()), HASH);
            assert_eq!(user, None);
            assert_eq!(metadata.user(), None);
            assert_round_trips(&text);
        }
    }

    #[test]
    fn a_sensitive_marker_is_clean_and_shared() {
        let text = format!(
            r#"{{"__kvsync":{}}}"#,
            marker("web", Some("r1")).replace('}', r#","sensitive":true}"#)
        );
        let metadata = listed(&text);
        let (clean, _) = metadata.clean_parts().expect("a sensitive marker is held compactly");
        assert!(clean.sensitive());
        assert_round_trips(&text);
        let plain = listed(&format!(r#"{{"__kvsync":{}}}"#, marker("web", Some("r1"))));
        assert!(!plain.clean_parts().expect("clean").0.sensitive());
        // `false` is never written: it reads back as no field, so it is kept as text.
        let written_false = text.replace("true", "false");
        assert!(!is_clean(&listed(&written_false)));
        assert_round_trips(&written_false);
    }

    #[test]
    fn spaces_around_the_marker_do_not_matter() {
        let text = format!("{{ \"t\" : 1 ,\n \"__kvsync\" : {} }}", marker("web", None));
        let metadata = listed(&text);
        assert!(is_clean(&metadata), "{text}");
        assert_eq!(metadata.clean_parts().and_then(|(_, user)| user), Some(r#"{"t":1}"#));
        assert_round_trips(&text);
    }

    #[test]
    fn user_fields_keep_their_order_and_their_exact_values() {
        let text = format!(
            r#"{{"zeta":1.50,"alpha":{{"y":[1,2e3,"\u00e9\n"],"b":null}},"n":-0,"big":18446744073709551615,"__kvsync":{}}}"#,
            marker("web", None)
        );
        let metadata = listed(&text);
        assert!(is_clean(&metadata));
        let user = metadata.user().expect("user metadata");
        assert_eq!(user.keys().collect::<Vec<_>>(), ["zeta", "alpha", "n", "big"]);
        // The values are the listing's own text: `1.50` and `2e3` are parsed once, as listed.
        assert_eq!(
            metadata.clean_parts().and_then(|(_, user)| user),
            Some(
                r#"{"zeta":1.50,"alpha":{"y":[1,2e3,"\u00e9\n"],"b":null},"n":-0,"big":18446744073709551615}"#
            )
        );
        assert_round_trips(&text);
    }

    #[test]
    fn anything_else_is_held_as_text_and_reads_back_exactly() {
        let clean = marker("web", Some("r1"));
        let cases = [
            // Not what kvsync writes: spaces, another order, an extra field, other escapes.
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(r#""v":1"#, r#""v": 1"#)),
            format!(
                r#"{{"__kvsync":{}}}"#,
                clean.replace(r#""v":1,"#, "").replace('}', r#","v":1}"#)
            ),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace('}', r#","x":true}"#)),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace("web", r"w\u0065b")),
            // Newer, older and malformed markers.
            r#"{"__kvsync":{"v":2,"owner":"web","future":[1]}}"#.to_owned(),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(r#""v":1"#, r#""v":0"#)),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(r#""v":1"#, r#""v":1.0"#)),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(r#""v":1"#, r#""v":"1""#)),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace("web", "")),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(HASH, &HASH.to_uppercase())),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(HASH, &HASH[1..])),
            format!(r#"{{"__kvsync":{}}}"#, clean.replace(r#""r1""#, "7")),
            r#"{"__kvsync":"x"}"#.to_owned(),
            r#"{"__kvsync":null}"#.to_owned(),
            // The marker not last, or twice.
            format!(r#"{{"__kvsync":{clean},"team":"x"}}"#),
            format!(r#"{{"__kvsync":1,"__kvsync":{clean}}}"#),
            format!(r#"{{"__kvsync":{clean},"__kvsync":{clean}}}"#),
            // An escaped spelling of the field name is the same field.
            format!(r#"{{"team":"x","\u005f_kvsync":{clean},"__kvsync":2}}"#),
            // Not an object.
            "[1,2]".to_owned(),
            r#""text""#.to_owned(),
            "17".to_owned(),
            "true".to_owned(),
        ];
        for text in &cases {
            let metadata = listed(text);
            assert!(!is_clean(&metadata), "{text}");
            assert_round_trips(text);
        }
    }

    #[test]
    fn metadata_without_a_marker_is_all_user_metadata() {
        for text in [r#"{}"#, r#"{"team":"x","n":[1,{"a":2}]}"#, r#"{"dup":1,"other":2,"dup":3}"#] {
            let metadata = listed(text);
            assert_eq!(metadata.marker_field(), MarkerField::Absent, "{text}");
            let expected: serde_json::Value = serde_json::from_str(text).expect("json");
            assert_eq!(metadata.user().map(serde_json::Value::Object), Some(expected), "{text}");
            assert_round_trips(text);
        }
    }

    #[test]
    fn repeated_user_fields_read_as_serde_json_reads_them() {
        // serde_json keeps a repeated field's first place and its last value.
        let text = format!(r#"{{"a":1,"b":2,"a":3,"__kvsync":{}}}"#, marker("web", None));
        let metadata = listed(&text);
        assert!(is_clean(&metadata));
        let user = metadata.user().expect("user");
        assert_eq!(serde_json::Value::Object(user).to_string(), r#"{"a":3,"b":2}"#);
        assert_round_trips(&text);
    }

    #[test]
    fn the_marker_field_is_given_as_found() {
        let clean = listed(&format!(r#"{{"__kvsync":{}}}"#, marker("web", None)));
        assert!(matches!(clean.marker_field(), MarkerField::Clean(m) if m.owner() == "web"));
        let newer = listed(r#"{"t":1,"__kvsync":{"v":2}}"#);
        assert_eq!(newer.marker_field(), MarkerField::Other(serde_json::json!({"v": 2})));
        assert_eq!(listed("[1]").marker_field(), MarkerField::Absent);
        assert_eq!(ListedMetadata::none().marker_field(), MarkerField::Absent);
        // The marker alone leaves no user metadata; a marker beside fields leaves them.
        assert_eq!(listed(r#"{"__kvsync":{"v":2}}"#).user(), None);
        assert_eq!(newer.user().map(|u| u.len()), Some(1));
        assert_eq!(listed("[1]").user(), None);
    }

    #[test]
    fn refuses_what_decoding_a_value_refuses() {
        for text in [
            r#"{"a":1e400}"#,
            r#"{"__kvsync":{"v":1},"a":[-1e400]}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a":1"#,
            r#"{"a":1} x"#,
            "",
        ] {
            assert!(ListedMetadata::from_json_text(text).is_err(), "{text}");
            assert!(serde_json::from_str::<serde_json::Value>(text).is_err(), "{text}");
        }
    }

    #[test]
    fn null_and_absent_are_no_metadata() {
        assert!(listed("null").is_none());
        assert!(ListedMetadata::from_json(None).is_none());
        assert!(ListedMetadata::from_json(Some(&serde_json::Value::Null)).is_none());
        assert_eq!(ListedMetadata::none().to_json(), None);
        assert_eq!(ListedMetadata::none().user(), None);
    }

    #[test]
    fn owners_and_revs_are_shared() {
        let a = listed(&format!(r#"{{"__kvsync":{}}}"#, marker("shared-owner", Some("r1"))));
        let b = listed(&format!(r#"{{"x":1,"__kvsync":{}}}"#, marker("shared-owner", Some("r1"))));
        let other_rev = listed(&format!(r#"{{"__kvsync":{}}}"#, marker("shared-owner", None)));
        let again = listed(&format!(r#"{{"__kvsync":{}}}"#, marker("shared-owner", Some("r1"))));
        let ident = |m: &ListedMetadata| match &m.0 {
            Repr::Marked { marker, .. } => Arc::clone(&marker.ident),
            other => panic!("not clean: {other:?}"),
        };
        assert!(Arc::ptr_eq(&ident(&a), &ident(&b)));
        assert!(Arc::ptr_eq(&ident(&a), &ident(&again)), "found again after another ident");
        assert!(!Arc::ptr_eq(&ident(&a), &ident(&other_rev)));
        assert_eq!(other_rev.clean_parts().map(|(m, _)| m.rev()), Some(None));
    }

    #[test]
    fn decodes_inside_a_listing_page() {
        let page = format!(
            r#"[{{"name":"a","metadata":{{"team":"x","__kvsync":{}}}}},{{"name":"b","metadata":null}},{{"name":"c"}}]"#,
            marker("web", None)
        );
        #[derive(Deserialize)]
        struct Item {
            #[serde(default, deserialize_with = "deserialize_listed")]
            metadata: ListedMetadata,
        }
        let items: Vec<Item> = serde_json::from_slice(page.as_bytes()).expect("page");
        assert!(is_clean(&items[0].metadata));
        assert_eq!(items[0].metadata.user().map(|u| u.len()), Some(1));
        assert!(items[1].metadata.is_none() && items[2].metadata.is_none());
        let bad = r#"[{"name":"a","metadata":{"n":1e999}}]"#;
        assert!(serde_json::from_slice::<Vec<Item>>(bad.as_bytes()).is_err());
    }

    /// What a listed key costs: the point of this module (docs/benchmarks.md).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn stays_small() {
        assert_eq!(size_of::<ListedMetadata>(), 64);
        assert_eq!(size_of::<crate::kv::ListedKey>(), 96);
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
            proptest::prop_assert_eq!(listed.marker(), Marker::from_metadata(value.as_ref()));
        }
    }

    #[test]
    fn clean_markers_are_recognised() {
        // The generator above must reach the compact form, or the property proves little.
        let hash = content_hash(b"x", None, Expiration::Never);
        let text = written_metadata(None, "web", hash, Some("r")).to_string();
        let sensitive = written_metadata_with(None, "web", hash, Some("r"), true);
        let listed = ListedMetadata::from_json_text(&sensitive.to_string()).expect("valid");
        assert!(listed.clean_parts().is_some());
        assert_eq!(listed.marker(), Marker::from_metadata(Some(&sensitive)));
        assert!(listed.is_marked_sensitive());
        let listed = ListedMetadata::from_json_text(&text).expect("valid");
        assert!(listed.clean_parts().is_some());
        assert_eq!(
            listed.marker(),
            Marker::V1 {
                owner: "web".into(),
                sha256: hash,
                rev: Some("r".into()),
                sensitive: false
            }
        );
    }
}
