//! Cloudflare's wire format for the items of a bulk write (`PUT …/bulk`).
//!
//! This module owns the exact JSON shape of one bulk-write item and how many bytes it takes, so
//! that the batcher (which must keep a request under the API's byte limit), the local store
//! (which refuses what the API refuses) and the Cloudflare client (which sends the bytes) all
//! count the same thing. It knows nothing about HTTP, retries or where a pair came from; a batch
//! on the wire is simply a JSON array of these items.
//!
//! Below the bulk-write item sit the DTOs of the API's JSON envelope and of the results the
//! Cloudflare client reads (`cloudflare-kv-api.md` §0.1, §1.2, §1.7–§1.9). They are lenient
//! where the API has been seen to vary (`result: null`, missing fields, odd error items), so
//! that only an answer kvsync truly cannot use fails to decode.

use std::io;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize, Serializer};

use super::{BULK_WRITE_BYTES_MAX, PutPair};
use crate::content::Expiration;
use crate::content::limits::BULK_VALUE_CHARS_MAX;

/// One item of a bulk write, borrowing from the [`PutPair`] it describes.
///
/// Serialises as `{"key","value","base64"?,"expiration"?,"expiration_ttl"?,"metadata"}`:
/// `base64` appears (as `true`) only for values sent base64-encoded ([`bulk_write_item`]), and at most one of the two
/// expiration fields appears. `metadata` is always sent, because a write replaces the key's
/// metadata and leaving the field out has no documented meaning (`cloudflare-kv-api.md` §1.7).
#[derive(Debug, Clone, Serialize)]
pub struct BulkWriteItem<'a> {
    key: &'a str,
    value: WireValue<'a>,
    #[serde(skip_serializing_if = "is_false")]
    base64: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_ttl: Option<u64>,
    metadata: &'a serde_json::Value,
}

impl BulkWriteItem<'_> {
    /// Whether the value travels base64-encoded (it is not UTF-8 text, or base64 is shorter).
    pub fn is_base64(&self) -> bool {
        self.base64
    }
}

/// The `value` field: text as it is, or bytes encoded while they are written out.
#[derive(Debug, Clone, Copy)]
enum WireValue<'a> {
    Text(&'a str),
    Base64(&'a [u8]),
}

impl Serialize for WireValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            WireValue::Text(text) => serializer.serialize_str(text),
            // `collect_str` lets serde_json stream the encoding straight into its output, so a
            // 25 MiB binary value is never held a second time as a base64 `String`, neither when
            // it is sent nor when its size is counted.
            WireValue::Base64(bytes) => {
                serializer.collect_str(&Base64Display::new(bytes, &STANDARD))
            }
        }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// The bulk-write item for `pair`, its value encoded the shorter way that fits the item
/// ([`bulk_encoding`]): text as it is, or standard base64 with `"base64": true`, which the API
/// decodes before storing. Text with many control characters (`\u0000` is 6 bytes in JSON) can
/// be shorter as base64. A pair that fits no item still gets one (as text when it is UTF-8),
/// for the store to refuse.
pub fn bulk_write_item(pair: &PutPair) -> BulkWriteItem<'_> {
    let value =
        bulk_encoding(&pair.value).unwrap_or_else(|| match std::str::from_utf8(&pair.value) {
            Ok(text) => WireValue::Text(text),
            Err(_) => WireValue::Base64(&pair.value),
        });
    let base64 = matches!(value, WireValue::Base64(_));
    let (expiration, expiration_ttl) = match pair.expiration {
        Expiration::Never => (None, None),
        Expiration::Ttl(seconds) => (None, Some(seconds)),
        Expiration::At(at) => (Some(at), None),
    };
    BulkWriteItem {
        key: &pair.key,
        value,
        base64,
        expiration,
        expiration_ttl,
        metadata: &pair.metadata,
    }
}

/// Whether `pair` can travel in a bulk write at all: its `value` string stays within
/// [`BULK_VALUE_CHARS_MAX`] in some encoding, and the item alone makes a request under
/// [`BULK_WRITE_BYTES_MAX`]. A pair that does not is written with the single-key PUT.
pub fn fits_bulk_item(pair: &PutPair) -> bool {
    bulk_item_len(pair).is_some()
}

/// [`bulk_write_item_len`] of a pair that [`fits_bulk_item`]; `None` for one that does not.
pub fn bulk_item_len(pair: &PutPair) -> Option<usize> {
    bulk_encoding(&pair.value)?;
    Some(bulk_write_item_len(pair)).filter(|len| len + 2 < BULK_WRITE_BYTES_MAX)
}

/// `,"base64":true`, which a base64 item carries and a text item does not.
const BASE64_FLAG_LEN: usize = 14;

/// The encoding of `value` in a bulk-write item: the one whose item is shorter among those
/// whose `value` string stays within [`BULK_VALUE_CHARS_MAX`] (text only for UTF-8); `None`
/// when neither does.
fn bulk_encoding(value: &[u8]) -> Option<WireValue<'_>> {
    let base64_chars = value.len().div_ceil(3) * 4;
    let base64 = (base64_chars <= BULK_VALUE_CHARS_MAX).then_some(base64_chars + BASE64_FLAG_LEN);
    let Some(text) = std::str::from_utf8(value).ok().filter(|text| {
        text.len() <= BULK_VALUE_CHARS_MAX
            || text.chars().map(char::len_utf16).sum::<usize>() <= BULK_VALUE_CHARS_MAX
    }) else {
        return base64.map(|_| WireValue::Base64(value));
    };
    let Some(base64) = base64 else { return Some(WireValue::Text(text)) };
    // JSON escapes `"`, `\` and control characters, each in at most 6 bytes: only text with
    // many of them can lose to base64, so the exact length is counted only then.
    let escaped = text.bytes().filter(|b| *b < 0x20 || matches!(b, b'"' | b'\\')).count();
    let at_most = text.len() + 2 + 5 * escaped;
    if at_most <= base64 + 2 || json_len(text) <= base64 + 2 {
        Some(WireValue::Text(text))
    } else {
        Some(WireValue::Base64(value))
    }
}

/// The exact number of bytes `serde_json::to_writer` produces for [`bulk_write_item`]`(pair)`.
///
/// A batch of n ≥ 1 items is a JSON array, so its request body is `2 + Σ len + (n − 1)` bytes.
/// The bytes are counted as they are produced rather than collected, because this runs for
/// every pair of an apply, values of up to 25 MiB included.
pub fn bulk_write_item_len(pair: &PutPair) -> usize {
    json_len(&bulk_write_item(pair))
}

/// The number of bytes `serde_json::to_writer` produces for `value`.
pub(crate) fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    let mut counter = ByteCounter(0);
    // Cannot fail: the counter never returns an I/O error, and the types counted here (strings,
    // integers, `serde_json::Value`, whose map keys are always strings) always serialise.
    serde_json::to_writer(&mut counter, value).expect("serialising to a byte counter cannot fail");
    counter.0
}

/// An `io::Write` that keeps only the number of bytes written to it.
struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The envelope every JSON endpoint answers with (`cloudflare-kv-api.md` §0.1):
/// `{"success", "errors", "messages", "result", "result_info"?}`.
///
/// Every field is optional here so that a failure body of any shape still yields its errors;
/// whether a missing `success` is acceptable is the client's call. `code` and `error` catch the
/// non-standard `{code, error}` failure body some endpoints send (wrangler falls back to it).
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub errors: serde_json::Value,
    pub result: Option<T>,
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

impl<T> Envelope<T> {
    /// The errors the API reported, as `(code, message)`: each item of `errors` (an object with
    /// `code` and `message`, or a bare string), else the non-standard `{code, error}`. A code
    /// that is missing or not a number is 0.
    pub fn failures(&self) -> Vec<(u32, String)> {
        let mut failures: Vec<(u32, String)> = match &self.errors {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    serde_json::Value::Object(fields) => (
                        fields.get("code").map_or(0, api_code),
                        fields.get("message").map(text).unwrap_or_default(),
                    ),
                    other => (0, text(other)),
                })
                .collect(),
            _ => Vec::new(),
        };
        if failures.is_empty() && (self.code.is_some() || self.error.is_some()) {
            failures.push((
                self.code.as_ref().map_or(0, api_code),
                self.error.as_ref().map(text).unwrap_or_default(),
            ));
        }
        failures
    }
}

/// An error code as the API sends it: a number, sometimes a numeric string.
fn api_code(value: &serde_json::Value) -> u32 {
    match value {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(0)
}

/// A message as text: strings as they are, anything else as JSON, `null` as nothing.
fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `result_info` of a key listing: the cursor of the next page, `""`, `null` or absent on the
/// last one (§1.2), and the number of keys on this page.
/// `count` is typed `number` by the spec and may arrive as `1000.0`: any JSON value is taken,
/// and kvsync does not rely on it.
#[derive(Debug, Default, Deserialize)]
pub struct ResultInfo {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub count: Option<serde_json::Value>,
    /// A namespace listing's page count (§1.1); any JSON value is taken, as for `count`.
    #[serde(default)]
    pub total_pages: Option<serde_json::Value>,
}

/// One namespace of `GET …/storage/kv/namespaces` (§1.1).
#[derive(Debug, Deserialize)]
pub struct NamespaceDto {
    pub id: String,
    #[serde(default)]
    pub title: String,
}

/// One key of a listing (`GET …/keys`): `name`, plus `expiration` and `metadata` when set.
///
/// The metadata is decoded straight into its compact form (a listing holds every key's
/// metadata at once), which borrows from the text while it decodes: a listing is read with
/// `serde_json::from_slice`, never from a reader.
#[derive(Debug, Deserialize)]
pub struct ListedKeyDto {
    pub name: String,
    /// Any JSON value: the spec types it a number, and anything else is one key's problem
    /// (see [`listed_page`]), never the whole page's.
    #[serde(default)]
    pub expiration: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "super::metadata::deserialize_listed")]
    pub metadata: super::ListedMetadata,
}

impl ListedKeyDto {
    /// The absolute expiration, or what is wrong with it. The spec types `expiration` as a
    /// number: a fraction (`2000000001.5`) is read as its whole seconds, since a key that
    /// expires within a second of that is as good as expired; a number far outside unix time
    /// is wrong.
    fn expiration(&self) -> Result<Option<i64>, String> {
        let number = match &self.expiration {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::Number(number)) => number,
            Some(other) => {
                return Err(format!(
                    "key `{}` has expiration `{other}`, not unix seconds",
                    self.name
                ));
            }
        };
        number
            .as_i64()
            .or_else(|| {
                number.as_f64().filter(|f| f.is_finite() && f.abs() < 9.0e15).map(
                    // Exact for the whole part: well inside i64.
                    |f| f.floor() as i64,
                )
            })
            .map(Some)
            .ok_or_else(|| {
                format!("key `{}` has expiration `{number}`, not unix seconds", self.name)
            })
    }
}

/// The keys of one listing page, their names sharing one buffer ([`super::KeyName`]). A key
/// whose `expiration` is not unix seconds is listed as damaged ([`super::ListedMetadata::damaged`]):
/// the plan refuses to touch it, and the page's other keys are read as usual.
pub fn listed_page(items: Vec<ListedKeyDto>) -> Vec<super::ListedKey> {
    let names = super::KeyName::shared(&items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>());
    items
        .into_iter()
        .zip(names)
        .map(|(item, name)| match item.expiration() {
            Ok(expiration) => super::ListedKey { name, expiration, metadata: item.metadata },
            Err(detail) => {
                super::ListedKey { name, expiration: None, metadata: item.metadata.damaged(detail) }
            }
        })
        .collect()
}

/// `result` of a bulk write or delete (§1.7): the count written and the keys to retry. Both
/// fields may be missing. The count is any JSON number (`220.0` included): cloudflare-rs typed
/// it `i8` and failed to decode any batch above 127 keys (§9), and the spec types it `number`;
/// kvsync reads the outcome from `unsuccessful_keys` alone.
#[derive(Debug, Default, Deserialize)]
pub struct BulkResult {
    #[serde(default)]
    pub successful_key_count: Option<serde_json::Number>,
    #[serde(default)]
    pub unsuccessful_keys: Option<Vec<String>>,
}

/// The body of `POST …/bulk/get` (§1.9): at most 100 keys, text values, no metadata.
#[derive(Debug, Serialize)]
pub struct BulkGetRequest<'a> {
    pub keys: &'a [String],
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "withMetadata")]
    pub with_metadata: bool,
}

/// `result` of a bulk get without metadata: `{"values": {key: string or null}}`. A `result`
/// without `values` returned no value at all (the caller reads those keys singly).
#[derive(Debug, Deserialize)]
pub struct BulkGetResult {
    #[serde(default)]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    fn pair(
        key: &str,
        value: &[u8],
        metadata: serde_json::Value,
        expiration: Expiration,
    ) -> PutPair {
        PutPair { key: key.to_owned(), value: value.to_vec(), metadata, expiration }
    }

    fn to_json(pair: &PutPair) -> String {
        serde_json::to_string(&bulk_write_item(pair)).expect("serialise")
    }

    #[test]
    fn text_value_without_expiration() {
        let p = pair("flags/a", b"hello \"x\"", json!({"team": "growth"}), Expiration::Never);
        assert_eq!(
            to_json(&p),
            r#"{"key":"flags/a","value":"hello \"x\"","metadata":{"team":"growth"}}"#
        );
        assert!(!bulk_write_item(&p).is_base64());
    }

    #[test]
    fn binary_value_is_standard_base64() {
        // 0xfb 0xff encodes to "+/8=" in the standard alphabet: both non-URL-safe characters
        // and padding appear, so a URL-safe or unpadded encoder would fail this test.
        let p = pair("bin", &[0xfb, 0xff], json!({}), Expiration::Never);
        assert_eq!(to_json(&p), r#"{"key":"bin","value":"+/8=","base64":true,"metadata":{}}"#);
        assert!(bulk_write_item(&p).is_base64());
    }

    #[test]
    fn expirations() {
        let ttl = pair("k", b"v", json!(null), Expiration::Ttl(3600));
        assert_eq!(
            to_json(&ttl),
            r#"{"key":"k","value":"v","expiration_ttl":3600,"metadata":null}"#
        );
        let at = pair("k", b"v", json!({"a": 1}), Expiration::At(1_900_000_000));
        assert_eq!(
            to_json(&at),
            r#"{"key":"k","value":"v","expiration":1900000000,"metadata":{"a":1}}"#
        );
    }

    #[test]
    fn metadata_keeps_its_order() {
        let metadata: serde_json::Value =
            serde_json::from_str(r#"{"z":1,"a":{"y":true,"b":null}}"#).expect("json");
        let p = pair("k", b"", metadata, Expiration::Never);
        assert_eq!(
            to_json(&p),
            r#"{"key":"k","value":"","metadata":{"z":1,"a":{"y":true,"b":null}}}"#
        );
    }

    #[test]
    fn len_matches_serialised_bytes() {
        let cases = [
            pair("plain", b"text", json!({}), Expiration::Never),
            pair(
                "esc\u{1}aped\n",
                "é\"\\\u{7}😀".as_bytes(),
                json!({"k": "\u{0}"}),
                Expiration::Ttl(60),
            ),
            pair("bin", &[0, 159, 146, 150, 255], json!({"n": 1.5}), Expiration::At(2_000_000_000)),
            pair("empty", b"", json!(null), Expiration::Never),
            pair("long-bin", &vec![0xff; 1001], json!({"x": [1, 2, 3]}), Expiration::Never),
        ];
        for p in &cases {
            assert_eq!(bulk_write_item_len(p), to_json(p).len(), "{p:?}");
        }
    }

    #[test]
    fn listed_keys_take_fractional_expirations_as_whole_seconds() {
        let dto = |text: &str| serde_json::from_str::<ListedKeyDto>(text).expect("dto");
        let key = listed_page(vec![dto(r#"{"name":"k","expiration":1.9e9,"metadata":null}"#)]);
        assert_eq!(
            key,
            vec![super::super::ListedKey {
                name: "k".into(),
                expiration: Some(1_900_000_000),
                metadata: super::super::ListedMetadata::none()
            }]
        );
        // The spec types `expiration` as a number; a fraction must not abort the listing.
        let key = listed_page(vec![dto(r#"{"name":"k","expiration":2000000001.5}"#)]);
        assert_eq!(key[0].expiration, Some(2_000_000_001));
        let huge = listed_page(vec![dto(r#"{"name":"k","expiration":1e300}"#)]);
        assert_eq!(
            huge[0].metadata.damage(),
            Some("key `k` has expiration `1e+300`, not unix seconds")
        );
    }

    /// The compact form reads back as exactly the value serde_json builds, for every JSON shape.
    #[test]
    fn listed_metadata_decodes_as_serde_json_does() {
        let cases = [
            r#"{"__kvsync":{"v":1,"owner":"web","sha256":"ab"}}"#,
            r#"{"z":1,"a":{"y":true,"b":null},"list":[1,-2,3.5,"x",[],{}],"e":"\u00e9\n"}"#,
            r#"{"dup":1,"other":2,"dup":3}"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"huge":1e400,"f":1.0}"#,
            r#"{}"#,
            r#"[1,{"a":2}]"#,
            r#""text""#,
            r#"17"#,
            r#"true"#,
        ];
        for metadata in cases {
            let expected: serde_json::Value = match serde_json::from_str(metadata) {
                Ok(value) => value,
                // serde_json refuses 1e400 as out of range; so must the compact decoder.
                Err(_) => {
                    let text = format!(r#"{{"name":"k","metadata":{metadata}}}"#);
                    assert!(serde_json::from_str::<ListedKeyDto>(&text).is_err(), "{metadata}");
                    continue;
                }
            };
            let text = format!(r#"{{"name":"k","metadata":{metadata}}}"#);
            let dto: ListedKeyDto = serde_json::from_str(&text).expect("dto");
            let got = dto.metadata.to_json().expect("metadata");
            assert_eq!(got, expected, "{metadata}");
            // Same key order (a `Map` compares equal whatever its order).
            assert_eq!(got.to_string(), expected.to_string(), "{metadata}");
        }
        for absent in [r#"{"name":"k"}"#, r#"{"name":"k","metadata":null}"#] {
            let dto: ListedKeyDto = serde_json::from_str(absent).expect("dto");
            assert!(dto.metadata.is_none(), "{absent}");
        }
        let wrong = serde_json::from_str::<ListedKeyDto>(r#"{"name":"k","metadata":{"a":}}"#);
        assert!(wrong.is_err());
    }

    #[test]
    fn a_page_of_keys_shares_one_name_buffer() {
        let page = r#"[{"name":"a/1","expiration":1900000000},{"name":"a/\u00e9"},{"name":"b"}]"#;
        let items: Vec<ListedKeyDto> = serde_json::from_slice(page.as_bytes()).expect("page");
        let keys = listed_page(items);
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["a/1", "a/é", "b"]);
        assert_eq!(keys[0].expiration, Some(1_900_000_000));
        assert!(keys[0].name.shares_buffer_with(&keys[2].name));
    }

    /// An `expiration` that is not unix seconds damages its key only: the page's other keys
    /// list as usual, and the damaged one keeps its metadata (its marker) beside the damage.
    #[test]
    fn a_bad_expiration_is_one_keys_problem() {
        let marker = r#"{"__kvsync":{"v":1,"owner":"web","sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}"#;
        for (expiration, shown) in [
            (r#""soon""#, r#""soon""#),
            (r#"{"at":1}"#, r#"{"at":1}"#),
            ("[1]", "[1]"),
            ("true", "true"),
            ("-1e20", "-1e+20"),
            ("9.1e15", "9100000000000000.0"),
        ] {
            let page = format!(
                r#"[{{"name":"a","expiration":1900000000}},{{"name":"b","expiration":{expiration},"metadata":{marker}}},{{"name":"c","expiration":null}}]"#
            );
            let items: Vec<ListedKeyDto> = serde_json::from_slice(page.as_bytes()).expect("page");
            let keys = listed_page(items);
            let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            assert_eq!(names, ["a", "b", "c"], "{expiration}");
            assert_eq!(
                (keys[0].expiration, keys[0].metadata.damage()),
                (Some(1_900_000_000), None)
            );
            assert_eq!((keys[2].expiration, keys[2].metadata.damage()), (None, None));
            let detail = format!("key `b` has expiration `{shown}`, not unix seconds");
            assert_eq!(keys[1].metadata.damage(), Some(detail.as_str()), "{expiration}");
            assert!(
                matches!(keys[1].metadata.marker_field(), super::super::metadata::MarkerField::Clean(m) if m.owner() == "web"),
                "the marker survives the damage"
            );
        }
    }

    #[test]
    fn bulk_result_counts_past_i8() {
        let result: BulkResult =
            serde_json::from_str(r#"{"successful_key_count":10000}"#).expect("result");
        assert_eq!(result.successful_key_count.and_then(|n| n.as_u64()), Some(10_000));
        assert_eq!(result.unsuccessful_keys, None);
    }

    /// The spec types these counts as `number`: `220.0` and `1000.0` must decode.
    #[test]
    fn counts_typed_loosely_decode() {
        let result: BulkResult =
            serde_json::from_str(r#"{"successful_key_count":220.0,"unsuccessful_keys":[]}"#)
                .expect("result");
        assert_eq!(result.unsuccessful_keys, Some(Vec::new()));
        let envelope: Envelope<serde::de::IgnoredAny> = serde_json::from_str(
            r#"{"success":true,"errors":[],"result":[],"result_info":{"count":1000.0,"cursor":""}}"#,
        )
        .expect("envelope");
        assert_eq!(envelope.result_info.and_then(|i| i.cursor).as_deref(), Some(""));
    }

    #[test]
    fn the_encoding_is_chosen_by_its_encoded_size() {
        // Text stays text, even when a few characters need escapes.
        let text = pair("t", b"line\n\"quoted\"", json!({}), Expiration::Never);
        assert!(!bulk_write_item(&text).is_base64());
        // 300 NUL bytes are 1,800 bytes of JSON as text (`\u0000`), 400 as base64.
        let nuls = pair("n", &[0u8; 300], json!({}), Expiration::Never);
        assert!(bulk_write_item(&nuls).is_base64());
        assert_eq!(bulk_write_item_len(&nuls), to_json(&nuls).len());
        let parsed: serde_json::Value = serde_json::from_str(&to_json(&nuls)).expect("json");
        let decoded = STANDARD.decode(parsed["value"].as_str().expect("value")).expect("base64");
        assert_eq!(decoded, [0u8; 300]);
    }

    #[test]
    fn a_binary_value_over_19_660_800_bytes_fits_no_bulk_item() {
        use crate::content::limits::{BULK_BASE64_BYTES_MAX, BULK_VALUE_CHARS_MAX};
        assert_eq!(BULK_BASE64_BYTES_MAX, 19_660_800);
        let mut value = vec![0xff; BULK_BASE64_BYTES_MAX];
        let at_limit = pair("b", &value, json!({}), Expiration::Never);
        assert!(fits_bulk_item(&at_limit));
        assert!(bulk_write_item_len(&at_limit) > BULK_VALUE_CHARS_MAX);
        value.push(0xff);
        let over = pair("b", &value, json!({}), Expiration::Never);
        assert!(!fits_bulk_item(&over));
        assert_eq!(bulk_item_len(&over), None);
        // 25 MiB of NUL bytes: too long as base64, and 157 MB of JSON as text.
        let nuls = pair(
            "n",
            &vec![0u8; crate::content::limits::VALUE_BYTES_MAX],
            json!({}),
            Expiration::Never,
        );
        assert!(!fits_bulk_item(&nuls));
        // 25 MiB of plain text fits (as text).
        let text = pair(
            "t",
            &vec![b'a'; crate::content::limits::VALUE_BYTES_MAX],
            json!({}),
            Expiration::Never,
        );
        assert!(fits_bulk_item(&text));
        assert!(!bulk_write_item(&text).is_base64());
    }

    #[test]
    fn round_trips_through_json() {
        let bytes = [0u8, 1, 2, 250, 251, 252];
        let p = pair("bin", &bytes, json!({"a": 1}), Expiration::Never);
        let parsed: serde_json::Value = serde_json::from_str(&to_json(&p)).expect("json");
        let encoded = parsed["value"].as_str().expect("string value");
        assert_eq!(STANDARD.decode(encoded).expect("base64"), bytes);
        assert_eq!(parsed["base64"], json!(true));
    }
}
