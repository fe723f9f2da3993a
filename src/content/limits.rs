//! The limits Cloudflare puts on what KV holds, each written once as a constant or a
//! predicate: the config's validation, the local store and the Cloudflare client all ask here,
//! so the local target is never more lenient than Cloudflare.

/// Largest key, in UTF-8 bytes.
pub const KEY_BYTES_MAX: usize = 512;
/// Largest value, in bytes (25 MiB).
pub const VALUE_BYTES_MAX: usize = 25 * 1024 * 1024;
/// Longest `value` string of one bulk-write item (the spec's `maxLength`), counted in UTF-16
/// code units, as a JavaScript server counts a string (never fewer than its characters). A
/// binary value over [`BULK_BASE64_BYTES_MAX`] bytes is longer than this as base64.
pub const BULK_VALUE_CHARS_MAX: usize = 26_214_400;
/// Largest value that fits a bulk-write item as base64: 19,660,800 bytes encode to exactly
/// [`BULK_VALUE_CHARS_MAX`] characters. A larger binary value goes through the single-key PUT.
pub const BULK_BASE64_BYTES_MAX: usize = BULK_VALUE_CHARS_MAX / 4 * 3;
/// Largest serialized metadata, in bytes, marker included.
pub const METADATA_BYTES_MAX: usize = 1024;
/// Smallest `expiration_ttl`, and how far in the future an `expiration` must be, in seconds.
pub const EXPIRATION_MIN_SECS: i64 = 60;

/// What [`is_namespace_id`] accepts, for messages.
pub const NAMESPACE_ID_RULE: &str = "32 lowercase hex digits";

/// [`is_namespace_id`] as a JSON Schema pattern (`schemas/kvsync.schema.json`; a test checks the
/// two agree).
pub const NAMESPACE_ID_PATTERN: &str = "[0-9a-f]{32}";

/// Whether `id` is a Workers KV namespace id: 32 lowercase hex digits, as Cloudflare issues
/// them and `wrangler kv namespace list` shows them. The one rule the config, the local store
/// and the Cloudflare client all apply, so that a mistyped id (or `init`'s old placeholder) is a
/// `validate` error and not a failure half-way through a run.
///
/// Uppercase hex is refused rather than folded: kvsync compares namespace ids as text (two
/// scopes on one namespace, the local store's keys, saved plans), so one namespace must have
/// one spelling, and Cloudflare's spelling is lowercase.
pub fn is_namespace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Why KV refuses a key name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNameProblem {
    Empty,
    /// `.` or `..`: KV refuses these two names (names may contain dots).
    Reserved,
    /// Longer than [`KEY_BYTES_MAX`] bytes of UTF-8; the length.
    TooLong(usize),
}

/// What is wrong with `key` as a KV key name, if anything.
pub fn key_name_problem(key: &str) -> Option<KeyNameProblem> {
    match key {
        "" => Some(KeyNameProblem::Empty),
        "." | ".." => Some(KeyNameProblem::Reserved),
        _ if key.len() > KEY_BYTES_MAX => Some(KeyNameProblem::TooLong(key.len())),
        _ => None,
    }
}

/// Whether a single-key endpoint (`…/values/{key}`) can name `key` in its URL. Cloudflare is
/// reported to answer 404 for keys holding `^`, `...` or a control character even
/// percent-encoded (workers-sdk issue #7997, open), so such keys are only ever written, read
/// and deleted through the bulk endpoints, which carry keys in the JSON body.
pub fn is_url_safe(key: &str) -> bool {
    !matches!(key, "" | "." | "..")
        && !key.contains('^')
        && !key.contains("...")
        && !key.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_kv_refuses() {
        assert_eq!(key_name_problem(""), Some(KeyNameProblem::Empty));
        assert_eq!(key_name_problem("."), Some(KeyNameProblem::Reserved));
        assert_eq!(key_name_problem(".."), Some(KeyNameProblem::Reserved));
        assert_eq!(key_name_problem("..."), None);
        assert_eq!(key_name_problem(&"é".repeat(256)), None);
        assert_eq!(key_name_problem(&"a".repeat(KEY_BYTES_MAX)), None);
        assert_eq!(key_name_problem(&"é".repeat(257)), Some(KeyNameProblem::TooLong(514)));
    }

    /// The schema's pattern and the predicate are one rule written twice; they must agree.
    #[test]
    fn namespace_id_rule_and_pattern_agree() {
        let schema =
            serde_json::json!({"type": "string", "pattern": format!("^{NAMESPACE_ID_PATTERN}$")});
        let validator = jsonschema::validator_for(&schema).expect("pattern compiles");
        for id in [
            "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "00000000000000000000000000000000",
            "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f00",
            "0f1e2d3c4b5a69788796a5b4c3d2e1g0",
            "replace-with-your-namespace-id",
            "",
        ] {
            assert_eq!(validator.is_valid(&serde_json::json!(id)), is_namespace_id(id), "{id}");
        }
    }
}
