//! One comparison of a desired entry with a live key: value bytes, user metadata and absolute
//! expiration, with numbers compared as JSON numbers (as a Worker's `JSON.parse` sees them).
//!
//! `drift --deep`, the plan's marker-only check and `pull` compare with it, so two
//! commands never disagree about whether a key is as desired. Pure: the values are read
//! elsewhere ([`crate::kv::read`]).

use crate::content::{Expiration, MARKER_FIELD};
use crate::kv::{ListedKey, LiveValue};

/// What the deep check found different in one key whose marker matches (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Difference {
    /// The value bytes differ.
    Value,
    /// The user metadata differs as JSON (the marker left out, numbers compared by value).
    Metadata,
    /// The absolute expiration differs: for an `expiration:` key, a live expiration other than
    /// the desired one; for a key that never expires, any live expiration.
    Expiration,
    /// The key was listed, but its value was gone when the deep check read it.
    Gone,
}

impl Difference {
    /// The words a report shows. They never say anything about the value beyond that it
    /// differs, so they are safe for sensitive keys.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Value => "value differs",
            Self::Metadata => "metadata differs",
            Self::Expiration => "expiration differs",
            Self::Gone => "deleted while the deep check ran",
        }
    }
}

/// Compares one live key with its desired state directly: the value
/// bytes, the user metadata as JSON values (the `__kvsync` marker left out; numbers equal by
/// value, so `1.50`, `1.5` and `15e-1` are one number, and `2` equals `2.0`, as they do for a
/// Worker's `JSON.parse`; no metadata equals an empty object, since both are written the same),
/// and the absolute expiration: for `Expiration::At` the live one must be the same; for
/// `Expiration::Never` any live expiration differs; for `Expiration::Ttl` the expiration is not
/// compared, since the live one depends on when the key was written.
///
/// Returns the differences in a fixed order (value, metadata, expiration); empty when the key
/// is exactly as desired. A value that is gone ([`LiveValue::Missing`]) is only [`Difference::Gone`].
/// A value that could not be read ([`LiveValue::Unreadable`]) is not compared at all (no
/// finding): the caller reports it as an error, never as drift.
pub fn compare(
    desired_value: &[u8],
    desired_metadata: Option<&serde_json::Map<String, serde_json::Value>>,
    desired_expiration: Expiration,
    live_value: &LiveValue,
    live: &ListedKey,
) -> Vec<Difference> {
    compare_with(
        desired_value,
        desired_metadata,
        desired_expiration,
        live_value,
        live.metadata.to_json().as_ref(),
        live.expiration,
    )
}

/// [`compare`] with the live metadata as JSON (marker included or not: it is left out) and the
/// live absolute expiration, for a caller that holds them apart from a listing.
pub fn compare_with(
    desired_value: &[u8],
    desired_metadata: Option<&serde_json::Map<String, serde_json::Value>>,
    desired_expiration: Expiration,
    live_value: &LiveValue,
    live_metadata: Option<&serde_json::Value>,
    live_expiration: Option<i64>,
) -> Vec<Difference> {
    let live_bytes = match live_value {
        LiveValue::Text(text) => text.as_bytes(),
        LiveValue::Binary(bytes) => bytes.as_slice(),
        LiveValue::Missing => return vec![Difference::Gone],
        LiveValue::Unreadable(_) => return Vec::new(),
    };
    let mut differences = Vec::new();
    if live_bytes != desired_value {
        differences.push(Difference::Value);
    }
    if !metadata_equal(desired_metadata, live_metadata) {
        differences.push(Difference::Metadata);
    }
    if !expiration_equal(desired_expiration, live_expiration) {
        differences.push(Difference::Expiration);
    }
    differences
}

/// Whether a live absolute expiration is the desired one: for `Expiration::At` the same
/// instant; for `Expiration::Never` none at all; an `Expiration::Ttl` always is (the live one
/// depends on when the key was written, and a write starts the TTL over).
pub fn expiration_equal(desired: Expiration, live: Option<i64>) -> bool {
    match desired {
        Expiration::Never => live.is_none(),
        Expiration::At(at) => live == Some(at),
        Expiration::Ttl(_) => true,
    }
}

/// Whether the desired user metadata equals the user part of the live metadata, as JSON
/// values (the marker left out; no metadata equals an empty object).
pub fn metadata_equal(
    desired: Option<&serde_json::Map<String, serde_json::Value>>,
    live: Option<&serde_json::Value>,
) -> bool {
    let empty = serde_json::Map::new();
    let desired = desired.unwrap_or(&empty);
    let live = match live {
        None | Some(serde_json::Value::Null) => &empty,
        Some(serde_json::Value::Object(object)) => object,
        // Metadata that is not an object can never be what kvsync wrote.
        Some(_) => return false,
    };
    let user = |map: &serde_json::Map<String, serde_json::Value>| {
        map.iter().filter(|(name, _)| name.as_str() != MARKER_FIELD).count()
    };
    user(live) == desired.len()
        && desired.iter().all(|(name, value)| {
            name != MARKER_FIELD && live.get(name).is_some_and(|live| json_equal(value, live))
        })
}

/// JSON equality as a JavaScript reader sees it: objects ignore key order, numbers compare by
/// value.
pub fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => number_equal(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(name, a)| b.get(name).is_some_and(|b| json_equal(a, b)))
        }
        (a, b) => a == b,
    }
}

/// Integers compare exactly; anything else compares as the f64 a Worker would see.
pub fn number_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    let integer =
        |n: &serde_json::Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => a == b,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => a == b,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().expect("an object").clone()
    }

    #[test]
    fn numbers_compare_as_json_numbers_and_the_marker_is_left_out() {
        let desired = map(json!({"max": 2, "rate": 1.50}));
        let live = json!({"rate": 1.5, "max": 2.0, MARKER_FIELD: "v1:web:abc"});
        assert!(metadata_equal(Some(&desired), Some(&live)));
        assert!(!metadata_equal(Some(&desired), Some(&json!({"max": 3, "rate": 1.5}))));
        assert!(metadata_equal(None, Some(&json!({MARKER_FIELD: "v1"}))));
        assert!(metadata_equal(Some(&map(json!({}))), None));
        assert!(!metadata_equal(None, Some(&json!("text"))));
        assert!(json_equal(&json!([1, {"a": 1e0}]), &json!([1.0, {"a": 1}])));
        assert!(!json_equal(&json!(9007199254740993_u64), &json!(9007199254740992_u64)));
    }

    #[test]
    fn each_side_is_compared_and_a_dropped_byte_order_mark_is_a_value_difference() {
        let live = |text: &str| LiveValue::Text(text.to_owned());
        let same = compare_with(b"v", None, Expiration::Never, &live("v"), None, None);
        assert!(same.is_empty());
        let bom = compare_with(b"v", None, Expiration::Never, &live("\u{FEFF}v"), None, None);
        assert_eq!(bom, [Difference::Value]);
        let all = compare_with(
            b"v",
            Some(&map(json!({"a": 1}))),
            Expiration::At(100),
            &live("w"),
            None,
            Some(200),
        );
        assert_eq!(all, [Difference::Value, Difference::Metadata, Difference::Expiration]);
        let ttl = compare_with(b"v", None, Expiration::Ttl(60), &live("v"), None, Some(5));
        assert!(ttl.is_empty());
        let gone = compare_with(b"v", None, Expiration::Never, &LiveValue::Missing, None, None);
        assert_eq!(gone, [Difference::Gone]);
        let unread = LiveValue::Unreadable("why".to_owned());
        assert!(compare_with(b"v", None, Expiration::Never, &unread, None, None).is_empty());
    }
}
