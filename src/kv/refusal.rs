//! What Cloudflare's API refuses, as pure checks any target can apply client-side before it
//! stores or reads anything, with the API's own messages (`cloudflare-kv-api.md` §2).
//!
//! A target that is not Cloudflare runs these so that what it accepts is what Cloudflare
//! would: a config that applies locally then applies to Cloudflare too. Each check takes the
//! whole request and refuses it at the first problem (naming how many more there are).

use std::collections::HashSet;

use super::wire::{bulk_write_item_len, fits_bulk_item, json_len};
use super::{BULK_GET_MAX, BULK_WRITE_BYTES_MAX, BULK_WRITE_MAX, Error, PutPair};
use crate::content::Expiration;
use crate::content::limits::{
    EXPIRATION_MIN_SECS, KEY_BYTES_MAX, KeyNameProblem, METADATA_BYTES_MAX, NAMESPACE_ID_RULE,
    VALUE_BYTES_MAX, is_namespace_id, key_name_problem,
};

/// What the API refuses, in its own words (`cloudflare-kv-api.md` §2), with the request's facts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A bulk get of more than [`BULK_GET_MAX`] keys.
    #[error("Bulk get of {count} keys exceeds the limit of {max} keys per request.", max = BULK_GET_MAX)]
    BulkGetTooMany { count: usize },
    /// A bulk delete of more than [`BULK_WRITE_MAX`] keys.
    #[error(
        "Bulk delete of {count} keys exceeds the limit of {max} keys per request.",
        max = BULK_WRITE_MAX
    )]
    BulkDeleteTooMany { count: usize },
    /// A bulk write of more than [`BULK_WRITE_MAX`] pairs.
    #[error(
        "Bulk write of {count} pairs exceeds the limit of {max} pairs per request.",
        max = BULK_WRITE_MAX
    )]
    BulkWriteTooMany { count: usize },
    /// A bulk write whose request JSON is [`BULK_WRITE_BYTES_MAX`] bytes or more.
    #[error(
        "Bulk write request of {bytes} bytes exceeds the limit: it must be less than {max} bytes.",
        max = BULK_WRITE_BYTES_MAX
    )]
    BulkWriteTooLarge { bytes: usize },
    /// The first key of the request the API refuses, and how many more problems it has.
    #[error("key `{key}`: {}{}", problem.words(key), more_problems(*more))]
    Key { key: String, problem: KeyProblem, more: usize },
    /// A namespace id Cloudflare would not accept.
    #[error("Malformed namespace id `{namespace_id}`: expected {rule}.", rule = NAMESPACE_ID_RULE)]
    MalformedNamespaceId { namespace_id: String },
    /// A list cursor this store never returned.
    #[error("Invalid cursor `{cursor}`: not a cursor this store returned.")]
    UnknownCursor { cursor: String },
    /// A list cursor of a listing of another prefix.
    #[error("Invalid cursor `{cursor}`: it does not belong to a listing of prefix `{prefix}`.")]
    CursorOfAnotherPrefix { cursor: String, prefix: String },
}

/// Why the API refuses one key or pair of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// The name itself.
    Name(KeyNameProblem),
    /// The value is longer than [`VALUE_BYTES_MAX`] bytes.
    ValueTooLong { bytes: usize },
    /// The metadata's JSON is longer than [`METADATA_BYTES_MAX`] bytes.
    MetadataTooLong { bytes: usize },
    /// A TTL shorter than [`EXPIRATION_MIN_SECS`].
    TtlTooShort { ttl: u64 },
    /// A TTL that ends after the last 32-bit unix second.
    TtlPast32Bits { ttl: u64 },
    /// An absolute expiration after the last 32-bit unix second.
    ExpirationPast32Bits { at: i64 },
    /// An absolute expiration less than [`EXPIRATION_MIN_SECS`] in the future.
    ExpirationTooSoon { at: i64 },
    /// The key is written twice in one bulk write.
    Duplicate,
}

impl KeyProblem {
    /// The API's words for this problem with `key`.
    fn words(&self, key: &str) -> String {
        let max = i32::MAX;
        match *self {
            Self::Name(KeyNameProblem::Empty) => "Key names must not be empty.".to_owned(),
            Self::Name(KeyNameProblem::Reserved) => {
                format!("Illegal key name \"{key}\". Please use a different name.")
            }
            Self::Name(KeyNameProblem::TooLong(len)) => {
                format!(
                    "UTF-8 encoded length of {len} exceeds key length limit of {KEY_BYTES_MAX}."
                )
            }
            Self::ValueTooLong { bytes } => {
                format!("Value length of {bytes} exceeds limit of {VALUE_BYTES_MAX}.")
            }
            Self::MetadataTooLong { bytes } => {
                format!("Metadata length of {bytes} exceeds limit of {METADATA_BYTES_MAX}.")
            }
            Self::TtlTooShort { ttl } => format!(
                "Invalid expiration_ttl of {ttl}. Expiration TTL must be at least \
                 {EXPIRATION_MIN_SECS}."
            ),
            Self::TtlPast32Bits { ttl } => format!(
                "Invalid expiration_ttl of {ttl}. Expiration TTL must end before {max} (32-bit \
                 unix time)."
            ),
            Self::ExpirationPast32Bits { at } => format!(
                "Invalid expiration of {at}. Expiration must be a 32-bit unix time in seconds (at \
                 most {max})."
            ),
            Self::ExpirationTooSoon { at } => format!(
                "Invalid expiration of {at}. Expiration times must be at least \
                 {EXPIRATION_MIN_SECS} seconds in the future."
            ),
            Self::Duplicate => "Duplicate key in one bulk write request.".to_owned(),
        }
    }
}

/// How a refusal of one key ends: how many more problems the request has, if any.
fn more_problems(more: usize) -> String {
    if more == 0 {
        return String::new();
    }
    let problems = crate::text::plural(more, "problem", "problems");
    format!(" (and {more} more {problems} in this request)")
}

/// A listing: the namespace id must be one Cloudflare accepts.
pub fn check_list(namespace_id: &str) -> Result<(), Error> {
    check_namespace(namespace_id)
}

/// A bulk get: at most [`BULK_GET_MAX`] keys, each a valid key name.
pub fn check_get(namespace_id: &str, keys: &[String]) -> Result<(), Error> {
    check_namespace(namespace_id)?;
    check_get_keys(keys)
}

/// [`check_get`] without the namespace id, for a target whose ids are not Cloudflare's.
pub fn check_get_keys(keys: &[String]) -> Result<(), Error> {
    if keys.len() > BULK_GET_MAX {
        return Err(Refusal::BulkGetTooMany { count: keys.len() }.into());
    }
    reject_first(keys.iter().filter_map(|key| check_key(key).err().map(|e| (key, e))))
}

/// A bulk delete: at most [`BULK_WRITE_MAX`] keys, each a valid key name.
pub fn check_delete(namespace_id: &str, keys: &[String]) -> Result<(), Error> {
    check_namespace(namespace_id)?;
    check_delete_keys(keys)
}

/// [`check_delete`] without the namespace id, for a target whose ids are not Cloudflare's.
pub fn check_delete_keys(keys: &[String]) -> Result<(), Error> {
    if keys.len() > BULK_WRITE_MAX {
        return Err(Refusal::BulkDeleteTooMany { count: keys.len() }.into());
    }
    reject_first(keys.iter().filter_map(|key| check_key(key).err().map(|e| (key, e))))
}

/// A whole bulk write, checked before anything is written: the number of pairs, each pair
/// (key, value and metadata sizes, expiration), duplicates and the request's size. Returns
/// each pair's absolute expiration at `now` (`None`: never expires), in request order.
pub fn check_put(
    namespace_id: &str,
    pairs: &[PutPair],
    now: i64,
) -> Result<Vec<Option<i64>>, Error> {
    check_namespace(namespace_id)?;
    check_put_pairs(pairs, now)
}

/// [`check_put`] without the namespace id, for a target whose ids are not Cloudflare's.
pub fn check_put_pairs(pairs: &[PutPair], now: i64) -> Result<Vec<Option<i64>>, Error> {
    if pairs.len() > BULK_WRITE_MAX {
        return Err(Refusal::BulkWriteTooMany { count: pairs.len() }.into());
    }
    let mut seen = HashSet::with_capacity(pairs.len());
    let mut problems = Vec::new();
    let mut expirations = Vec::with_capacity(pairs.len());
    // The request is a JSON array: brackets, items and the commas between them.
    let mut request_bytes = 2 + pairs.len().saturating_sub(1);
    for pair in pairs {
        request_bytes += bulk_write_item_len(pair);
        match check_pair(pair, now) {
            Ok(expiration) => expirations.push(expiration),
            Err(problem) => problems.push((&pair.key, problem)),
        }
        // The API leaves duplicates unspecified (`cloudflare-kv-api.md` §1.7); refusing them
        // keeps "which value won" from depending on the target.
        if !seen.insert(pair.key.as_str()) {
            problems.push((&pair.key, KeyProblem::Duplicate));
        }
    }
    reject_first(problems.into_iter())?;
    // A pair that fits no bulk item travels alone, as Cloudflare's single-key PUT, which has
    // the value limit (checked above) but no request-size limit of its own.
    let single = matches!(pairs, [pair] if !fits_bulk_item(pair));
    if request_bytes >= BULK_WRITE_BYTES_MAX && !single {
        return Err(Refusal::BulkWriteTooLarge { bytes: request_bytes }.into());
    }
    Ok(expirations)
}

/// Checks one pair as the API would and works out its absolute expiration.
fn check_pair(pair: &PutPair, now: i64) -> Result<Option<i64>, KeyProblem> {
    check_key(&pair.key)?;
    if pair.value.len() > VALUE_BYTES_MAX {
        return Err(KeyProblem::ValueTooLong { bytes: pair.value.len() });
    }
    // A JSON null is what "no metadata" looks like in a `PutPair`; a listing then omits it.
    if !pair.metadata.is_null() {
        let bytes = json_len(&pair.metadata);
        if bytes > METADATA_BYTES_MAX {
            return Err(KeyProblem::MetadataTooLong { bytes });
        }
    }
    match pair.expiration {
        Expiration::Never => Ok(None),
        Expiration::Ttl(ttl) => {
            if ttl < EXPIRATION_MIN_SECS as u64 {
                return Err(KeyProblem::TtlTooShort { ttl });
            }
            // KV stores expirations as 32-bit unix seconds; a TTL reaching past that is refused
            // like an absolute expiration would be.
            i64::try_from(ttl)
                .ok()
                .and_then(|ttl| now.checked_add(ttl))
                .filter(|at| *at <= i64::from(i32::MAX))
                .map(Some)
                .ok_or(KeyProblem::TtlPast32Bits { ttl })
        }
        Expiration::At(at) => {
            if at > i64::from(i32::MAX) {
                return Err(KeyProblem::ExpirationPast32Bits { at });
            }
            if at < now.saturating_add(EXPIRATION_MIN_SECS) {
                return Err(KeyProblem::ExpirationTooSoon { at });
            }
            Ok(Some(at))
        }
    }
}

/// Checks a key name the way KV does.
fn check_key(key: &str) -> Result<(), KeyProblem> {
    key_name_problem(key).map_or(Ok(()), |problem| Err(KeyProblem::Name(problem)))
}

/// Namespace ids must be Cloudflare's ([`is_namespace_id`]), so that what a target accepts is
/// not refused by Cloudflare. Namespaces need not be created first.
pub fn check_namespace(namespace_id: &str) -> Result<(), Error> {
    if is_namespace_id(namespace_id) {
        Ok(())
    } else {
        Err(Refusal::MalformedNamespaceId { namespace_id: namespace_id.to_owned() }.into())
    }
}

/// Turns per-key problems into one refusal naming the first of them.
fn reject_first<'k>(
    mut problems: impl Iterator<Item = (&'k String, KeyProblem)>,
) -> Result<(), Error> {
    let Some((key, problem)) = problems.next() else {
        return Ok(());
    };
    Err(Refusal::Key { key: key.clone(), problem, more: problems.count() }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "0123456789abcdef0123456789abcdef";

    fn pair(key: &str, expiration: Expiration) -> PutPair {
        PutPair {
            key: key.to_owned(),
            value: b"v".to_vec(),
            metadata: serde_json::Value::Null,
            expiration,
        }
    }

    #[test]
    fn a_bulk_write_gets_absolute_expirations_or_the_first_refusal() {
        let pairs = [
            pair("a", Expiration::Never),
            pair("b", Expiration::Ttl(60)),
            pair("c", Expiration::At(1_000)),
        ];
        assert_eq!(check_put(NS, &pairs, 100).expect("accepted"), [None, Some(160), Some(1_000)]);
        let bad = [
            pair("", Expiration::Never),
            pair("a", Expiration::Ttl(1)),
            pair("a", Expiration::Never),
        ];
        let message = check_put(NS, &bad, 100).expect_err("refused").to_string();
        assert_eq!(
            message,
            "key ``: Key names must not be empty. (and 2 more problems in this request)"
        );
    }

    /// Every refusal in the API's words, with the request's facts filled in.
    #[test]
    fn each_refusal_reads_as_the_api_words_it() {
        let key = |key: &str, problem| Refusal::Key { key: key.into(), problem, more: 0 };
        let cases = [
            (
                Refusal::BulkGetTooMany { count: 101 },
                "Bulk get of 101 keys exceeds the limit of 100 keys per request.",
            ),
            (
                Refusal::BulkDeleteTooMany { count: 10_001 },
                "Bulk delete of 10001 keys exceeds the limit of 10000 keys per request.",
            ),
            (
                Refusal::BulkWriteTooMany { count: 10_001 },
                "Bulk write of 10001 pairs exceeds the limit of 10000 pairs per request.",
            ),
            (
                Refusal::BulkWriteTooLarge { bytes: 100_000_000 },
                "Bulk write request of 100000000 bytes exceeds the limit: it must be less than \
                 100000000 bytes.",
            ),
            (
                Refusal::MalformedNamespaceId { namespace_id: "x".into() },
                "Malformed namespace id `x`: expected 32 lowercase hex digits.",
            ),
            (
                Refusal::UnknownCursor { cursor: "c".into() },
                "Invalid cursor `c`: not a cursor this store returned.",
            ),
            (
                Refusal::CursorOfAnotherPrefix { cursor: "c".into(), prefix: "p/".into() },
                "Invalid cursor `c`: it does not belong to a listing of prefix `p/`.",
            ),
            (
                key("..", KeyProblem::Name(KeyNameProblem::Reserved)),
                "key `..`: Illegal key name \"..\". Please use a different name.",
            ),
            (
                key("k", KeyProblem::Name(KeyNameProblem::TooLong(513))),
                "key `k`: UTF-8 encoded length of 513 exceeds key length limit of 512.",
            ),
            (
                key("k", KeyProblem::ValueTooLong { bytes: 26_214_401 }),
                "key `k`: Value length of 26214401 exceeds limit of 26214400.",
            ),
            (
                key("k", KeyProblem::MetadataTooLong { bytes: 1025 }),
                "key `k`: Metadata length of 1025 exceeds limit of 1024.",
            ),
            (
                key("k", KeyProblem::TtlTooShort { ttl: 30 }),
                "key `k`: Invalid expiration_ttl of 30. Expiration TTL must be at least 60.",
            ),
            (
                key("k", KeyProblem::TtlPast32Bits { ttl: u64::MAX }),
                "key `k`: Invalid expiration_ttl of 18446744073709551615. Expiration TTL must \
                 end before 2147483647 (32-bit unix time).",
            ),
            (
                key("k", KeyProblem::ExpirationPast32Bits { at: 2_147_483_648 }),
                "key `k`: Invalid expiration of 2147483648. Expiration must be a 32-bit unix \
                 time in seconds (at most 2147483647).",
            ),
            (
                key("k", KeyProblem::ExpirationTooSoon { at: 59 }),
                "key `k`: Invalid expiration of 59. Expiration times must be at least 60 \
                 seconds in the future.",
            ),
            (
                Refusal::Key { key: "k".into(), problem: KeyProblem::Duplicate, more: 1 },
                "key `k`: Duplicate key in one bulk write request. (and 1 more problem in this \
                 request)",
            ),
        ];
        for (refusal, words) in cases {
            assert_eq!(refusal.to_string(), words);
        }
    }

    #[test]
    fn refusals_are_the_apis() {
        assert!(check_list("not-an-id").is_err());
        let keys: Vec<String> = (0..=BULK_GET_MAX).map(|i| i.to_string()).collect();
        assert!(
            check_get(NS, &keys)
                .expect_err("too many")
                .to_string()
                .starts_with("Bulk get of 101 keys")
        );
        assert!(check_get(NS, &keys[..BULK_GET_MAX]).is_ok());
        assert_eq!(
            check_delete(NS, &[".".to_owned()]).expect_err("reserved").to_string(),
            "key `.`: Illegal key name \".\". Please use a different name."
        );
        let late = [pair("k", Expiration::At(i64::from(i32::MAX) + 1))];
        assert!(check_put(NS, &late, 0).is_err());
    }
}
