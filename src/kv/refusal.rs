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
        return Err(invalid(format!(
            "Bulk get of {} keys exceeds the limit of {BULK_GET_MAX} keys per request.",
            keys.len()
        )));
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
        return Err(invalid(format!(
            "Bulk delete of {} keys exceeds the limit of {BULK_WRITE_MAX} keys per request.",
            keys.len()
        )));
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
        return Err(invalid(format!(
            "Bulk write of {} pairs exceeds the limit of {BULK_WRITE_MAX} pairs per request.",
            pairs.len()
        )));
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
            problems.push((&pair.key, "Duplicate key in one bulk write request.".to_owned()));
        }
    }
    reject_first(problems.into_iter())?;
    // A pair that fits no bulk item travels alone, as Cloudflare's single-key PUT, which has
    // the value limit (checked above) but no request-size limit of its own.
    let single = matches!(pairs, [pair] if !fits_bulk_item(pair));
    if request_bytes >= BULK_WRITE_BYTES_MAX && !single {
        return Err(invalid(format!(
            "Bulk write request of {request_bytes} bytes exceeds the limit: it must be less than \
             {BULK_WRITE_BYTES_MAX} bytes."
        )));
    }
    Ok(expirations)
}

/// Checks one pair as the API would and works out its absolute expiration.
fn check_pair(pair: &PutPair, now: i64) -> Result<Option<i64>, String> {
    check_key(&pair.key)?;
    if pair.value.len() > VALUE_BYTES_MAX {
        return Err(format!(
            "Value length of {} exceeds limit of {VALUE_BYTES_MAX}.",
            pair.value.len()
        ));
    }
    // A JSON null is what "no metadata" looks like in a `PutPair`; a listing then omits it.
    if !pair.metadata.is_null() {
        let length = json_len(&pair.metadata);
        if length > METADATA_BYTES_MAX {
            return Err(format!(
                "Metadata length of {length} exceeds limit of {METADATA_BYTES_MAX}."
            ));
        }
    }
    match pair.expiration {
        Expiration::Never => Ok(None),
        Expiration::Ttl(ttl) => {
            if ttl < EXPIRATION_MIN_SECS as u64 {
                return Err(format!(
                    "Invalid expiration_ttl of {ttl}. Expiration TTL must be at least \
                     {EXPIRATION_MIN_SECS}."
                ));
            }
            // KV stores expirations as 32-bit unix seconds; a TTL reaching past that is refused
            // like an absolute expiration would be.
            i64::try_from(ttl)
                .ok()
                .and_then(|ttl| now.checked_add(ttl))
                .filter(|at| *at <= i64::from(i32::MAX))
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "Invalid expiration_ttl of {ttl}. Expiration TTL must end before \
                         {} (32-bit unix time).",
                        i32::MAX
                    )
                })
        }
        Expiration::At(at) => {
            if at > i64::from(i32::MAX) {
                return Err(format!(
                    "Invalid expiration of {at}. Expiration must be a 32-bit unix time in \
                     seconds (at most {}).",
                    i32::MAX
                ));
            }
            if at < now.saturating_add(EXPIRATION_MIN_SECS) {
                return Err(format!(
                    "Invalid expiration of {at}. Expiration times must be at least \
                     {EXPIRATION_MIN_SECS} seconds in the future."
                ));
            }
            Ok(Some(at))
        }
    }
}

/// Checks a key name the way KV does, with its messages.
fn check_key(key: &str) -> Result<(), String> {
    match key_name_problem(key) {
        None => Ok(()),
        Some(KeyNameProblem::Empty) => Err("Key names must not be empty.".to_owned()),
        Some(KeyNameProblem::Reserved) => {
            Err(format!("Illegal key name \"{key}\". Please use a different name."))
        }
        Some(KeyNameProblem::TooLong(len)) => Err(format!(
            "UTF-8 encoded length of {len} exceeds key length limit of {KEY_BYTES_MAX}."
        )),
    }
}

/// Namespace ids must be Cloudflare's ([`is_namespace_id`]), so that what a target accepts is
/// not refused by Cloudflare. Namespaces need not be created first.
pub fn check_namespace(namespace_id: &str) -> Result<(), Error> {
    if is_namespace_id(namespace_id) {
        Ok(())
    } else {
        Err(invalid(format!(
            "Malformed namespace id `{namespace_id}`: expected {NAMESPACE_ID_RULE}."
        )))
    }
}

/// Turns per-key problems into one rejection naming the first of them.
fn reject_first<'k>(mut problems: impl Iterator<Item = (&'k String, String)>) -> Result<(), Error> {
    let Some((key, problem)) = problems.next() else {
        return Ok(());
    };
    let more = problems.count();
    let mut message = format!("key `{key}`: {problem}");
    if more > 0 {
        let problems = crate::text::plural(more, "problem", "problems");
        message.push_str(&format!(" (and {more} more {problems} in this request)"));
    }
    Err(invalid(message))
}

/// A refusal as the real API words it.
pub fn invalid(message: String) -> Error {
    Error::Invalid { message }
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
