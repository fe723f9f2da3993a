//! Request bodies of the bulk endpoints: parsing and the validation the API applies (doc §1.7,
//! §1.8, §1.9 and the limits of §2).
//!
//! Pure functions from bytes (and the clock) to either checked data or the [`Failure`] the API
//! answers with. Whole requests are refused on the first problem: whether the real API refuses a
//! whole bulk write for one bad item is UNVERIFIED (doc §1.7); Miniflare's emulator "validates
//! every item first and rejects the whole request with code 10001", and so does the stand-in.
//! Nothing here can panic on what a client sends.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;

use crate::Metadata;
use crate::envelope::Failure;
use crate::store::Entry;

/// Doc §1.7: "The entire request must be 100 megabytes or less" (spec) / "less than 100
/// megabytes" (docs); whether a megabyte is 10^6 or 2^20 is UNVERIFIED. The stand-in takes the
/// strictest reading, below 100,000,000 bytes, so a client that passes here passes there.
pub(crate) const MAX_BODY_BYTES: usize = 100_000_000;
/// Doc §1.7 and §1.8: at most 10,000 pairs or keys per request.
pub(crate) const MAX_BULK_ITEMS: usize = 10_000;
/// Doc §1.9: at most 100 keys per bulk get.
pub(crate) const MAX_BULK_GET_KEYS: usize = 100;
/// Doc §2: 512 bytes of UTF-8.
const MAX_KEY_BYTES: usize = 512;
/// Doc §2: 25 MiB.
const MAX_VALUE_BYTES: usize = 26_214_400;
/// Doc §1.7: the spec's `maxLength: 26214400` is on the bulk item's `value` **string**, so a
/// binary value over 19,660,800 bytes cannot travel as base64. Counted in UTF-16 code units, as
/// a JavaScript server counts a string.
const MAX_VALUE_CHARS: usize = 26_214_400;
/// Doc §2: 1024 bytes of serialized JSON.
const MAX_METADATA_BYTES: usize = 1024;
/// Doc §1.5 and §2: `expiration_ttl` at least 60, `expiration` at least 60 s in the future.
const MIN_TTL: i64 = 60;

/// One bulk-write item as sent (doc §1.7, spec `workers-kv_bulk_write`). `null` counts as absent.
/// Unknown fields are ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct WriteItem {
    key: Option<String>,
    value: Option<String>,
    base64: Option<bool>,
    expiration: Option<i64>,
    expiration_ttl: Option<i64>,
    metadata: Option<Value>,
}

impl WriteItem {
    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// A checked write: the key and what to store.
#[derive(Debug)]
pub(crate) struct Write {
    pub(crate) key: String,
    pub(crate) entry: Entry,
}

/// The body of a bulk get (doc §1.9). `null` counts as absent.
#[derive(Debug, Deserialize)]
struct GetBody {
    keys: Option<Vec<String>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(rename = "withMetadata")]
    with_metadata: Option<bool>,
}

/// How bulk get returns values (doc §1.9: `type` is `text`, the default, or `json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Text,
    Json,
}

#[derive(Debug)]
pub(crate) struct GetRequest {
    pub(crate) keys: Vec<String>,
    pub(crate) value_type: ValueType,
    pub(crate) with_metadata: bool,
}

/// Doc §1.7: the body is a JSON array of items (no wrapper object), at most 10,000 of them.
pub(crate) fn parse_write(body: &[u8]) -> Result<Vec<WriteItem>, Failure> {
    let items: Vec<WriteItem> = parse_json(body, "an array of key-value pairs")?;
    check_count(items.len(), MAX_BULK_ITEMS, "pairs")?;
    Ok(items)
}

/// Doc §1.8: the body is a JSON array of key strings, at most 10,000 of them.
pub(crate) fn parse_delete(body: &[u8]) -> Result<Vec<String>, Failure> {
    let keys: Vec<String> = parse_json(body, "an array of key names")?;
    check_count(keys.len(), MAX_BULK_ITEMS, "keys")?;
    Ok(keys)
}

/// Doc §1.9: `{"keys": [...] (at most 100), "type": "text"|"json", "withMetadata": bool}`.
/// Miniflare also refuses an empty `keys` (doc §1.9), and so does the stand-in.
pub(crate) fn parse_get(body: &[u8]) -> Result<GetRequest, Failure> {
    let body: GetBody = parse_json(body, r#"an object {"keys": [...]}"#)?;
    let keys = body.keys.ok_or_else(|| Failure::invalid("`keys` is required"))?;
    if keys.is_empty() {
        return Err(Failure::invalid("`keys` must name at least 1 key"));
    }
    check_count(keys.len(), MAX_BULK_GET_KEYS, "keys")?;
    let value_type = match body.kind.as_deref() {
        None | Some("text") => ValueType::Text,
        Some("json") => ValueType::Json,
        Some(other) => {
            return Err(Failure::invalid(format!(
                "invalid type {other:?}: must be \"text\" or \"json\""
            )));
        }
    };
    for key in &keys {
        check_key(key)?;
    }
    Ok(GetRequest { keys, value_type, with_metadata: body.with_metadata.unwrap_or(false) })
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        Failure::invalid(format!("could not parse request body, expected {expected}: {e}"))
    })
}

fn check_count(count: usize, max: usize, what: &str) -> Result<(), Failure> {
    if count > max {
        return Err(Failure::invalid(format!(
            "too many {what} in one request: {count} (the limit is {max})"
        )));
    }
    Ok(())
}

/// Doc §2: a key is at most 512 bytes of UTF-8 and is not `""`, `"."` or `".."` (keys may
/// *contain* dots). The messages follow the binding's, which are the only confirmed ones
/// (doc §2, §5: the REST codes for these are UNVERIFIED).
pub(crate) fn check_key(key: &str) -> Result<(), Failure> {
    match key {
        "" => Err(Failure::invalid("Key names must not be empty.")),
        "." | ".." => Err(Failure::invalid(format!(
            "Illegal key name {key:?}: key names must not be \".\" or \"..\"."
        ))),
        _ if key.len() > MAX_KEY_BYTES => Err(Failure::invalid(format!(
            "UTF-8 encoded length of {} exceeds key length limit of {MAX_KEY_BYTES}.",
            key.len()
        ))),
        _ => Ok(()),
    }
}

/// Checks every item against doc §1.7 and §2 and turns it into what is stored. Refuses the whole
/// request on the first problem, naming the item.
pub(crate) fn check_writes(items: Vec<WriteItem>, now: i64) -> Result<Vec<Write>, Failure> {
    // Duplicate keys in one request: the real outcome is UNVERIFIED (doc §1.7, "Deduplicate
    // before sending"); the stand-in refuses them so a client that sends them finds out here.
    let mut seen = HashSet::with_capacity(items.len());
    let mut writes = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = |failure: Failure| Failure {
            message: format!("item {index}: {}", failure.message),
            ..failure
        };
        let write = check_write(item, now).map_err(at)?;
        if !seen.insert(write.key.clone()) {
            return Err(at(Failure::invalid(format!(
                "duplicate key {:?} in one request",
                shorten(&write.key)
            ))));
        }
        writes.push(write);
    }
    Ok(writes)
}

fn check_write(item: WriteItem, now: i64) -> Result<Write, Failure> {
    let key = item.key.ok_or_else(|| Failure::invalid("`key` is required"))?;
    check_key(&key)?;
    let value = item.value.ok_or_else(|| Failure::invalid("`value` is required"))?;
    // Doc §1.7: the spec's limit is on the `value` string as sent, base64 or not; the stored
    // (decoded) value is held to 25 MiB as well below.
    let chars =
        if value.len() <= MAX_VALUE_CHARS { value.len() } else { value.encode_utf16().count() };
    if chars > MAX_VALUE_CHARS {
        return Err(Failure::invalid(format!(
            "`value` is {chars} characters long, over the limit of {MAX_VALUE_CHARS}; write a \
             larger value with PUT .../values/{{key}}"
        )));
    }
    // Doc §1.7: with `base64: true` the server decodes `value` before storing it.
    let value = if item.base64.unwrap_or(false) {
        STANDARD.decode(value.as_bytes()).map_err(|e| {
            // Doc §5 lists 10012 "malformed value" (3P) for values the API cannot take.
            Failure::new(
                StatusCode::BAD_REQUEST,
                10012,
                format!("malformed value: invalid base64 ({e})"),
            )
        })?
    } else {
        value.into_bytes()
    };
    stored(key, value, item.metadata, (item.expiration, item.expiration_ttl), now)
}

/// The write of a checked key and its decoded value, as a bulk item or a single PUT gives it:
/// the value held to 25 MiB of bytes, the metadata compacted, the expiration resolved.
fn stored(
    key: String,
    value: Vec<u8>,
    metadata: Option<Value>,
    (expiration_at, expiration_ttl): (Option<i64>, Option<i64>),
    now: i64,
) -> Result<Write, Failure> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Failure::invalid(format!(
            "Value length of {} exceeds limit of {MAX_VALUE_BYTES}.",
            value.len()
        )));
    }
    let metadata = match metadata {
        None => None,
        Some(metadata) => Some(compact_metadata(&metadata)?),
    };
    Ok(Write {
        key,
        entry: Entry::new(
            Bytes::from(value),
            metadata,
            expiration(expiration_at, expiration_ttl, now)?,
        ),
    })
}

/// Doc §1.5: `PUT .../values/{key}` takes the value as the raw body (which clears the
/// metadata) or as `multipart/form-data` with a `value` part and an optional `metadata` part
/// (JSON text); the expiration comes in the query (`expiration`, `expiration_ttl`). Checked
/// like a bulk-write item, the value against the 25 MiB of bytes it may hold.
pub(crate) fn check_single_put(
    key: String,
    content_type: Option<&str>,
    body: &[u8],
    expiration_at: Option<i64>,
    expiration_ttl: Option<i64>,
    now: i64,
) -> Result<Write, Failure> {
    check_key(&key)?;
    let (value, metadata) = match content_type.and_then(multipart_boundary) {
        None => (body.to_vec(), None),
        Some(boundary) => {
            let parts = multipart_parts(body, &boundary)?;
            let mut value = None;
            let mut metadata = None;
            for Part { name, filename, data } in parts {
                match name.as_str() {
                    // The Fetch standard's multipart parser (what `request.formData()` in a
                    // Worker does): a part with a `filename` is a file of bytes; a part without
                    // one is a text field, its bytes UTF-8 decoded (invalid sequences become
                    // U+FFFD) and stored as that text's UTF-8.
                    "value" if filename.is_some() => value = Some(data),
                    "value" => {
                        value = Some(String::from_utf8_lossy(&data).into_owned().into_bytes())
                    }
                    "metadata" => {
                        let parsed: Value = serde_json::from_slice(&data).map_err(|e| {
                            Failure::invalid(format!("`metadata` is not JSON: {e}"))
                        })?;
                        metadata = Some(parsed);
                    }
                    _ => {}
                }
            }
            (value.ok_or_else(|| Failure::invalid("the `value` part is required"))?, metadata)
        }
    };
    // A `metadata` part holding `null` is no metadata.
    let metadata = metadata.filter(|m| !m.is_null());
    stored(key, value, metadata, (expiration_at, expiration_ttl), now)
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// One part of a multipart body: its field name, its `filename` parameter when it has one (a
/// file, as opposed to a text field), and its bytes.
struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

/// The parts of a multipart body (RFC 7578), or why it is not one.
fn multipart_parts(body: &[u8], boundary: &str) -> Result<Vec<Part>, Failure> {
    let malformed = || Failure::invalid("malformed multipart/form-data body");
    let delimiter = format!("--{boundary}");
    let find = |haystack: &[u8], needle: &[u8], from: usize| {
        haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|i| i + from)
    };
    let mut at = find(body, delimiter.as_bytes(), 0).ok_or_else(malformed)? + delimiter.len();
    let next = format!("\r\n{delimiter}");
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        at += 2; // CRLF after the delimiter
        let head_end = find(body, b"\r\n\r\n", at).ok_or_else(malformed)?;
        let head = String::from_utf8_lossy(&body[at..head_end]).into_owned();
        let end = find(body, next.as_bytes(), head_end + 4).ok_or_else(malformed)?;
        let disposition = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.trim().eq_ignore_ascii_case("content-disposition").then_some(value)
            })
            .ok_or_else(malformed)?;
        let param = |wanted: &str| {
            disposition.split(';').skip(1).find_map(|p| {
                let (name, value) = p.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case(wanted)
                    .then(|| value.trim().trim_matches('"').to_owned())
            })
        };
        let name = param("name").ok_or_else(malformed)?;
        let filename = param("filename");
        parts.push(Part { name, filename, data: body[head_end + 4..end].to_vec() });
        at = end + next.len();
    }
}

/// Doc §2: metadata is at most 1024 bytes "of serialized JSON"; it is measured and stored in its
/// compact serialization, with object keys in the order the client sent them.
fn compact_metadata(metadata: &Value) -> Result<Metadata, Failure> {
    let raw = serde_json::value::to_raw_value(metadata)
        .map_err(|e| Failure::invalid(format!("metadata is not serializable: {e}")))?;
    if raw.get().len() > MAX_METADATA_BYTES {
        return Err(Failure::invalid(format!(
            "Metadata length of {} exceeds limit of {MAX_METADATA_BYTES}.",
            raw.get().len()
        )));
    }
    Ok(raw)
}

/// Doc §1.5 (which §1.7 refers to): `expiration_ttl` wins over `expiration`, which is then
/// ignored; a TTL must be at least 60; an `expiration` less than 60 s in the future is refused.
/// What is stored is always absolute (doc §1.2). Doc §2: whether REST refuses expirations
/// outside signed 32 bits is UNVERIFIED; the stand-in does not.
fn expiration(expiration: Option<i64>, ttl: Option<i64>, now: i64) -> Result<Option<i64>, Failure> {
    match (expiration, ttl) {
        (_, Some(ttl)) if ttl < MIN_TTL => Err(Failure::invalid(format!(
            "Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {MIN_TTL}."
        ))),
        (_, Some(ttl)) => Ok(Some(now.saturating_add(ttl))),
        (Some(at), None) if at < now.saturating_add(MIN_TTL) => Err(Failure::invalid(format!(
            "Invalid expiration of {at}. Expiration times must be at least {MIN_TTL} seconds in the future."
        ))),
        (at, None) => Ok(at),
    }
}

/// Keys in messages are cut to 64 characters: a 600-byte key would drown the message.
pub(crate) fn shorten(key: &str) -> String {
    match key.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(body: &str) -> Result<Vec<Write>, Failure> {
        check_writes(parse_write(body.as_bytes())?, 1_000_000)
    }

    fn refused(body: &str) -> String {
        let failure = writes(body).expect_err(body);
        assert_eq!((failure.status, failure.code), (StatusCode::BAD_REQUEST, 10001), "{body}");
        failure.message
    }

    #[test]
    fn expiration_ttl_wins_and_is_stored_absolute() {
        let w = writes(
            r#"[{"key":"a","value":"x","expiration":5,"expiration_ttl":60},
                           {"key":"b","value":"x","expiration":1000060},
                           {"key":"c","value":"x","expiration":null,"metadata":null}]"#,
        )
        .expect("valid");
        let exp: Vec<_> = w.iter().map(|w| w.entry.expiration).collect();
        assert_eq!(exp, [Some(1_000_060), Some(1_000_060), None]);
        assert!(w[2].entry.metadata.is_none());
    }

    #[test]
    fn metadata_keeps_key_order_and_is_measured_compact() {
        let w = writes(r#"[{"key":"a","value":"x","metadata":{ "z": 1, "a": [true, null] }}]"#)
            .expect("valid");
        assert_eq!(
            w[0].entry.metadata.as_ref().map(|m| m.get()),
            Some(r#"{"z":1,"a":[true,null]}"#)
        );
        // {"m":"…"} is 8 bytes around the string: 1016 fits exactly, 1017 does not.
        let fits =
            format!(r#"[{{"key":"a","value":"x","metadata":{{"m":"{}"}}}}]"#, "x".repeat(1016));
        assert!(writes(&fits).is_ok());
        let over =
            format!(r#"[{{"key":"a","value":"x","metadata":{{"m":"{}"}}}}]"#, "x".repeat(1017));
        assert!(refused(&over).contains("Metadata length of 1025 exceeds limit of 1024."));
    }

    #[test]
    fn every_limit_is_checked() {
        assert!(refused(r#"[{"key":"","value":"x"}]"#).contains("must not be empty"));
        assert!(refused(r#"[{"key":"..","value":"x"}]"#).contains("\"..\""));
        assert!(writes(r#"[{"key":"a..b","value":"x"},{"key":".a","value":"x"}]"#).is_ok());
        let long = format!(r#"[{{"key":"{}","value":"x"}}]"#, "é".repeat(256)); // 512 bytes
        assert!(writes(&long).is_ok());
        let long = format!(r#"[{{"key":"{}é","value":"x"}}]"#, "a".repeat(511)); // 513 bytes
        assert!(refused(&long).contains("UTF-8 encoded length of 513"));
        assert!(
            refused(r#"[{"key":"a","value":"x","expiration_ttl":59}]"#).contains("at least 60")
        );
        assert!(
            refused(r#"[{"key":"a","value":"x","expiration":1000059}]"#).contains("60 seconds")
        );
        assert!(
            refused(r#"[{"key":"a","value":"1"},{"key":"a","value":"2"}]"#)
                .contains("item 1: duplicate key")
        );
        assert!(refused(r#"[{"key":"a"}]"#).contains("`value` is required"));
        assert!(refused(r#"[{"value":"a"}]"#).contains("`key` is required"));
        assert!(refused(r#"[{"key":"a","value":7}]"#).contains("could not parse"));
        assert!(refused(r#"{"key":"a","value":"x"}"#).contains("an array"));
        assert!(refused("[1,").contains("could not parse"));
        let bad64 = writes(r#"[{"key":"a","value":"***","base64":true}]"#).expect_err("bad base64");
        assert_eq!(bad64.code, 10012);
        let many = format!("[{}]", vec![r#"{"key":"k","value":"v"}"#; 10_001].join(","));
        assert!(parse_write(many.as_bytes()).expect_err("too many").message.contains("10001"));
    }

    #[test]
    fn bulk_get_bodies() {
        let get = parse_get(br#"{"keys":["a"],"type":"json","withMetadata":true}"#).expect("valid");
        assert_eq!((get.value_type, get.with_metadata), (ValueType::Json, true));
        let get = parse_get(br#"{"keys":["a"],"type":null}"#).expect("valid");
        assert_eq!((get.value_type, get.with_metadata), (ValueType::Text, false));
        for bad in [r#"{"keys":[]}"#, r#"{}"#, r#"{"keys":["a"],"type":"arrayBuffer"}"#, r#"["a"]"#]
        {
            assert_eq!(parse_get(bad.as_bytes()).expect_err(bad).code, 10001);
        }
        let keys: Vec<_> = (0..101).map(|i| format!("\"k{i}\"")).collect();
        let body = format!(r#"{{"keys":[{}]}}"#, keys.join(","));
        assert!(parse_get(body.as_bytes()).is_err());
    }

    #[test]
    fn shorten_cuts_on_a_char_boundary() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten(&"é".repeat(70)), format!("{}…", "é".repeat(64)));
    }
}
