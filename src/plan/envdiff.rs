//! `kvsync diff --env A --env B`: what differs between two environments, as data (issue 28).
//!
//! Two comparisons, both pure: [`desired`] puts two environments' desired states side by side
//! entry by entry (value bytes, user metadata, expiration or TTL, sensitivity); [`live`] puts
//! their namespaces side by side through the listings, where a marker's content hash stands for
//! the value, and values read by the CLI (given as [`LiveReads`]) settle what the markers cannot.
//! Scopes are matched by name; within a pair of scopes a key is matched by its full name. Reading
//! values and files is the CLI's job: nothing here does I/O.

use std::collections::HashMap;

use super::LiveScope;
use crate::config::{Desired, DesiredEntry, DesiredScope, Globs};
use crate::content::{Expiration, Marker};
use crate::kv::{ListedKey, LiveValue};

/// Which environment a key or scope is in, when it is in one only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Side {
    /// The first `--env`.
    Left,
    /// The second `--env`.
    Right,
}

/// What can differ between the two sides of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aspect {
    /// The value bytes.
    Value,
    /// The user metadata (as JSON values; the marker left out).
    Metadata,
    /// The expiration: `expiration_ttl` or `expiration` as configured; live, whether the key
    /// expires at all (a listing shows when a TTL key expires, not its TTL).
    Expiration,
    /// Only one side is sensitive.
    Sensitivity,
    /// Live only: the markers' content hashes differ in a part the listing does not show (the
    /// value, or the TTL a key was written with), and the values were not read (a sensitive
    /// key's never are, without `--deep`).
    Content,
}

impl Aspect {
    /// The words a report shows: they never say anything about a value beyond that it differs,
    /// so they are safe for sensitive keys.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Value => "value differs",
            Self::Metadata => "metadata differs",
            Self::Expiration => "expiration differs",
            Self::Sensitivity => "sensitive in one environment only",
            Self::Content => "value or TTL differs",
        }
    }
}

/// How one key compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// On both sides, different in these aspects (sorted, at least one).
    Differs(Vec<Aspect>),
    /// On one side only.
    OnlyIn(Side),
    /// Live, without `--deep`: on both sides, but at least one has no kvsync marker (written by
    /// hand, or by another tool), so the listing cannot say whether they are equal.
    NotCompared,
}

/// One key that is not equal on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDiff {
    pub key: String,
    pub status: Status,
    /// Sensitive on either side (desired entry or live marker): its value is never shown.
    pub sensitive: bool,
    /// Each side's metadata and expiration, when either differs: what a report shows beside
    /// the aspect (left, right).
    pub sides: Option<Box<[Facts; 2]>>,
}

/// What one side holds of what can be shown without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The user metadata (the marker left out); `None` when the key has none.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub expiration: Expiry,
}

/// One side's expiration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// As configured (desired state).
    Configured(Expiration),
    /// As listed: the absolute time, if the key expires (live).
    Listed(Option<i64>),
}

impl Facts {
    fn of_entry(entry: &DesiredEntry) -> Self {
        Self {
            metadata: entry.metadata.as_ref().map(crate::config::desired::UserMetadata::to_map),
            expiration: Expiry::Configured(entry.expiration),
        }
    }

    fn of_listed(key: &ListedKey) -> Self {
        Self { metadata: key.metadata.user(), expiration: Expiry::Listed(key.expiration) }
    }
}

/// Both sides' facts when the status shows a metadata or expiration difference.
fn sides(status: &Status, facts: impl FnOnce() -> [Facts; 2]) -> Option<Box<[Facts; 2]>> {
    match status {
        Status::Differs(aspects)
            if aspects.iter().any(|a| matches!(a, Aspect::Metadata | Aspect::Expiration)) =>
        {
            Some(Box::new(facts()))
        }
        _ => None,
    }
}

/// Where one side of a scope lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub namespace_id: String,
    /// Without an id (a title not looked up): what names the namespace instead.
    pub unresolved: Option<String>,
    pub prefix: String,
}

/// One scope, compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDiff {
    pub name: String,
    /// Where the scope lives on each side; `None` on the side whose config has no scope of
    /// this name.
    pub left: Option<Place>,
    pub right: Option<Place>,
    /// The keys that are not equal, in UTF-8 byte order. Empty for a scope on one side only
    /// (its keys are counted in `lone_keys`, not listed).
    pub keys: Vec<KeyDiff>,
    /// Keys equal on both sides.
    pub equal: usize,
    /// For a scope on one side only: how many keys it holds there (desired or listed).
    pub lone_keys: usize,
}

impl ScopeDiff {
    /// The side this scope is on, when it is on one only.
    pub fn only_in(&self) -> Option<Side> {
        match (&self.left, &self.right) {
            (Some(_), None) => Some(Side::Left),
            (None, Some(_)) => Some(Side::Right),
            _ => None,
        }
    }
}

/// What was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The two desired states (no store).
    Desired,
    /// The two environments' namespaces; `deep`: values read.
    Live { deep: bool },
}

/// Two environments, compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDiff {
    /// The environments' names, as given to `--env`.
    pub left: String,
    pub right: String,
    pub mode: Mode,
    /// Scopes in the first environment's order, then those only in the second, in its order.
    pub scopes: Vec<ScopeDiff>,
    /// `--only` globs the comparison was restricted to; empty when it covers every key.
    pub only: Vec<String>,
}

/// Counts over every scope, for the summary line and the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub differ: usize,
    pub only_left: usize,
    pub only_right: usize,
    pub not_compared: usize,
    pub equal: usize,
    pub scopes_only_left: usize,
    pub scopes_only_right: usize,
}

impl Counts {
    /// Whether anything differs: what makes `diff` exit 2. A key that could not be compared
    /// is not known to be equal, so it counts.
    pub fn different(&self) -> bool {
        self.differ
            + self.only_left
            + self.only_right
            + self.not_compared
            + self.scopes_only_left
            + self.scopes_only_right
            > 0
    }
}

impl EnvDiff {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for scope in &self.scopes {
            counts.equal += scope.equal;
            match scope.only_in() {
                Some(Side::Left) => counts.scopes_only_left += 1,
                Some(Side::Right) => counts.scopes_only_right += 1,
                None => {}
            }
            for key in &scope.keys {
                match key.status {
                    Status::Differs(_) => counts.differ += 1,
                    Status::OnlyIn(Side::Left) => counts.only_left += 1,
                    Status::OnlyIn(Side::Right) => counts.only_right += 1,
                    Status::NotCompared => counts.not_compared += 1,
                }
            }
        }
        counts
    }

    /// The name of one side.
    pub fn side_name(&self, side: Side) -> &str {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
}

/// The scopes of two desired states matched by name: the first's in its order, then the
/// second's that the first has not, each as (index in the first, index in the second).
pub fn scope_pairs(left: &Desired, right: &Desired) -> Vec<(Option<usize>, Option<usize>)> {
    let index = |desired: &Desired, name: &str| desired.scopes.iter().position(|s| s.name == name);
    let mut pairs: Vec<(Option<usize>, Option<usize>)> =
        left.scopes.iter().enumerate().map(|(i, s)| (Some(i), index(right, &s.name))).collect();
    pairs.extend(
        right
            .scopes
            .iter()
            .enumerate()
            .filter(|(_, s)| index(left, &s.name).is_none())
            .map(|(i, _)| (None, Some(i))),
    );
    pairs
}

/// Whether a key of `scope` takes part: inside its prefix, not ignored, and within `--only`.
fn in_scope(scope: &DesiredScope, only: Option<&Globs>, key: &str) -> bool {
    scope.contains(key) && only.is_none_or(|only| only.is_match(key))
}

fn place(scope: &DesiredScope) -> Place {
    // A `namespace_title:` scope of a load that reached no target has no id: its title (said
    // in `resolved_from`) is where it lives, so two titles are two places.
    let unresolved = scope.namespace_id.is_empty().then(|| scope.resolved_from.clone()).flatten();
    Place { namespace_id: scope.namespace_id.clone(), unresolved, prefix: scope.prefix.clone() }
}

/// Adds a scope that only one side has, unless `--only` leaves it no key: the globs narrowed
/// the question to keys it does not hold.
fn push_lone(scopes: &mut Vec<ScopeDiff>, scope: ScopeDiff, only: Option<&Globs>) {
    if only.is_none() || scope.lone_keys > 0 {
        scopes.push(scope);
    }
}

/// Walks two key-sorted sequences together, calling `each` with the key and what each side has.
fn merge<'a, A, B>(
    mut left: impl Iterator<Item = (&'a str, A)>,
    mut right: impl Iterator<Item = (&'a str, B)>,
    mut each: impl FnMut(&'a str, Option<A>, Option<B>),
) {
    let (mut a, mut b) = (left.next(), right.next());
    loop {
        match (a.take(), b.take()) {
            (None, None) => return,
            (Some((ka, va)), None) => {
                each(ka, Some(va), None);
                a = left.next();
            }
            (None, Some((kb, vb))) => {
                each(kb, None, Some(vb));
                b = right.next();
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.as_bytes().cmp(kb.as_bytes()) {
                std::cmp::Ordering::Less => {
                    each(ka, Some(va), None);
                    (a, b) = (left.next(), Some((kb, vb)));
                }
                std::cmp::Ordering::Greater => {
                    each(kb, None, Some(vb));
                    (a, b) = (Some((ka, va)), right.next());
                }
                std::cmp::Ordering::Equal => {
                    each(ka, Some(va), Some(vb));
                    (a, b) = (left.next(), right.next());
                }
            },
        }
    }
}

/// Whether the two sides' values of a desired key are equal, by (scope index in [`scope_pairs`]
/// order, key): what the CLI found by reading the `file:` values [`unsettled_values`] names.
pub type DesiredReads = HashMap<(usize, String), bool>;

/// Whether two desired values are equal, when the entries alone say so: inline bytes compare
/// directly, different sizes differ, equal content hashes are equal, and with equal metadata and
/// expiration a different hash can only be the value. `None`: a `file:` value must be read.
fn value_equal(a: &DesiredEntry, b: &DesiredEntry) -> Option<bool> {
    use crate::config::ValueSource;
    if a.size != b.size {
        return Some(false);
    }
    match (&a.value, &b.value) {
        (ValueSource::Inline(x), ValueSource::Inline(y)) => Some(x == y),
        (ValueSource::File(x), ValueSource::File(y)) if x == y => Some(true),
        _ if a.hash == b.hash => Some(true),
        _ if a.metadata == b.metadata && a.expiration == b.expiration => Some(false),
        _ => None,
    }
}

/// The keys whose value bytes [`desired`] needs read to be compared (`file:` values of the same
/// size whose metadata or expiration also differ), as (scope index, key).
pub fn unsettled_values(
    left: &Desired,
    right: &Desired,
    only: Option<&Globs>,
) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (index, pair) in scope_pairs(left, right).into_iter().enumerate() {
        let (Some(l), Some(r)) = pair else { continue };
        let (l, r) = (&left.scopes[l], &right.scopes[r]);
        for (key, a) in l.entries.iter().filter(|(key, _)| in_scope(l, only, key)) {
            if let Some(b) = r.entries.get(key).filter(|_| in_scope(r, only, key))
                && value_equal(a, b).is_none()
            {
                out.push((index, key.clone()));
            }
        }
    }
    out
}

/// A scope's desired entries inside the scope and `--only`, in key order; none for `None`.
fn entries<'a>(
    scope: Option<&'a DesiredScope>,
    only: Option<&'a Globs>,
) -> impl Iterator<Item = (&'a str, &'a DesiredEntry)> {
    scope.into_iter().flat_map(move |scope| {
        scope
            .entries
            .iter()
            .filter(move |(key, _)| in_scope(scope, only, key))
            .map(|(key, entry)| (key.as_str(), entry))
    })
}

/// Compares two desired states entry by entry. `reads` holds whether the values are equal for
/// the keys [`unsettled_values`] named (a key missing from it counts as differing in value).
pub fn desired(
    left: (&str, &Desired),
    right: (&str, &Desired),
    only: Option<&Globs>,
    reads: &DesiredReads,
) -> EnvDiff {
    let (left_name, l_desired) = left;
    let (right_name, r_desired) = right;
    let mut scopes = Vec::new();
    for (index, pair) in scope_pairs(l_desired, r_desired).into_iter().enumerate() {
        let l = pair.0.map(|i| &l_desired.scopes[i]);
        let r = pair.1.map(|i| &r_desired.scopes[i]);
        let name = l.or(r).map(|s| s.name.clone()).unwrap_or_default();
        let mut out = ScopeDiff {
            name,
            left: l.map(place),
            right: r.map(place),
            keys: Vec::new(),
            equal: 0,
            lone_keys: 0,
        };
        let entries = |scope| entries(scope, only);
        if l.is_none() || r.is_none() {
            out.lone_keys = entries(l).count() + entries(r).count();
            push_lone(&mut scopes, out, only);
            continue;
        }
        merge(entries(l), entries(r), |key, a, b| {
            let status = match (a, b) {
                (Some(a), Some(b)) => {
                    let mut aspects = Vec::new();
                    let value = value_equal(a, b).unwrap_or_else(|| {
                        reads.get(&(index, key.to_owned())).copied() == Some(true)
                    });
                    if !value {
                        aspects.push(Aspect::Value);
                    }
                    if a.metadata != b.metadata {
                        aspects.push(Aspect::Metadata);
                    }
                    if a.expiration != b.expiration {
                        aspects.push(Aspect::Expiration);
                    }
                    if a.sensitive != b.sensitive {
                        aspects.push(Aspect::Sensitivity);
                    }
                    if aspects.is_empty() {
                        out.equal += 1;
                        return;
                    }
                    let status = Status::Differs(aspects);
                    let facts = sides(&status, || [Facts::of_entry(a), Facts::of_entry(b)]);
                    (status, a.sensitive || b.sensitive, facts)
                }
                (Some(a), None) => (Status::OnlyIn(Side::Left), a.sensitive, None),
                (None, Some(b)) => (Status::OnlyIn(Side::Right), b.sensitive, None),
                (None, None) => return,
            };
            let (status, sensitive, sides) = status;
            out.keys.push(KeyDiff { key: key.to_owned(), status, sensitive, sides });
        });
        scopes.push(out);
    }
    EnvDiff {
        left: left_name.to_owned(),
        right: right_name.to_owned(),
        mode: Mode::Desired,
        scopes,
        only: only.map(|o| o.patterns().to_vec()).unwrap_or_default(),
    }
}

/// One side of a live comparison: its environment's name, desired state (which scopes, their
/// prefixes and `ignore:`, and which keys are sensitive) and listings (in its scope order).
#[derive(Debug, Clone, Copy)]
pub struct LiveSide<'a> {
    pub name: &'a str,
    pub desired: &'a Desired,
    pub live: &'a [LiveScope],
}

/// Values the CLI read, by (scope index in [`scope_pairs`] order, key): (left, right).
pub type LiveReads = HashMap<(usize, String), (LiveValue, LiveValue)>;

/// A side's listing of one scope, sorted by name, inside the scope and `--only`.
fn listed<'a>(
    side: &LiveSide<'a>,
    index: Option<usize>,
    only: Option<&Globs>,
) -> Vec<(&'a str, &'a ListedKey)> {
    let Some(index) = index else { return Vec::new() };
    let (Some(scope), Some(live)) = (side.desired.scopes.get(index), side.live.get(index)) else {
        return Vec::new();
    };
    let mut keys: Vec<(&str, &ListedKey)> = live
        .keys
        .iter()
        .map(|key| (key.name.as_str(), key))
        .filter(|(name, _)| in_scope(scope, only, name))
        .collect();
    if !keys.is_sorted_by(|a, b| a.0.as_bytes() <= b.0.as_bytes()) {
        keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    }
    keys
}

/// The keys listed on both sides, as (scope index, key): what `--deep` reads.
pub fn listed_on_both(
    left: &LiveSide<'_>,
    right: &LiveSide<'_>,
    only: Option<&Globs>,
) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (index, (l, r)) in scope_pairs(left.desired, right.desired).into_iter().enumerate() {
        if l.is_none() || r.is_none() {
            continue;
        }
        let (a, b) = (listed(left, l, only), listed(right, r, only));
        merge(a.into_iter(), b.into_iter(), |key, a, b| {
            if a.is_some() && b.is_some() {
                out.push((index, key.to_owned()));
            }
        });
    }
    out
}

/// The bytes of a value read, or `None` when it was not there to read.
fn bytes_of(value: &LiveValue) -> Option<&[u8]> {
    match value {
        LiveValue::Text(text) => Some(text.as_bytes()),
        LiveValue::Binary(bytes) => Some(bytes),
        LiveValue::Missing | LiveValue::Unreadable(_) => None,
    }
}

/// Whether two listed keys hold the same user metadata, as drift's deep check compares it (JSON
/// values, the marker left out); metadata that is not an object compares as listed.
fn user_metadata_equal(a: &ListedKey, b: &ListedKey) -> bool {
    let (x, y) = (a.metadata.to_json(), b.metadata.to_json());
    match (&x, &y) {
        (Some(x), Some(y)) if !x.is_object() || !y.is_object() => x == y,
        _ => super::compare::metadata_equal(a.metadata.user().as_ref(), y.as_ref()),
    }
}

/// The version-1 content hash a listed key's marker records, whoever the owner.
fn marker_hash(key: &ListedKey) -> Option<crate::content::ContentHash> {
    match key.metadata.marker() {
        Marker::V1 { sha256, .. } => Some(sha256),
        _ => None,
    }
}

/// Compares two listed keys, with their values when they were read. The content hash in the
/// markers stands for value, metadata and expiration as written (owners are not hashed, so two
/// environments with different owners compare the same); what the listing shows (user metadata,
/// whether the key expires, the sensitive flag) is compared directly; read values compare by
/// bytes, which also catches a hand edit that kept the marker.
fn compare_listed(a: &ListedKey, b: &ListedKey, read: Option<&(LiveValue, LiveValue)>) -> Status {
    let mut aspects = Vec::new();
    let value = read.and_then(|(x, y)| Some(bytes_of(x)? == bytes_of(y)?));
    if value == Some(false) {
        aspects.push(Aspect::Value);
    }
    if !user_metadata_equal(a, b) {
        aspects.push(Aspect::Metadata);
    }
    if a.expiration.is_some() != b.expiration.is_some() {
        aspects.push(Aspect::Expiration);
    }
    if a.metadata.is_marked_sensitive() != b.metadata.is_marked_sensitive() {
        aspects.push(Aspect::Sensitivity);
    }
    match (marker_hash(a), marker_hash(b), value) {
        // Same hash: value, metadata and expiration were written the same, unless the values
        // read say otherwise (already recorded).
        (Some(x), Some(y), _) if x == y => {}
        // Different hashes, and nothing the listing or the values show explains it: what is
        // left of the hash is the expiration as written (a TTL, or an absolute time).
        (Some(_), Some(_), Some(true)) => {
            if !aspects.iter().any(|a| matches!(a, Aspect::Metadata | Aspect::Expiration)) {
                aspects.push(Aspect::Expiration);
            }
        }
        (Some(_), Some(_), _) => {
            if !aspects.contains(&Aspect::Value) {
                aspects.push(Aspect::Content);
            }
        }
        // A side without a marker: only the values can say.
        (_, _, None) => return Status::NotCompared,
        (_, _, Some(_)) => {}
    }
    aspects.sort_unstable();
    aspects.dedup();
    Status::Differs(aspects)
}

/// Compares two environments' namespaces through their listings. `reads` holds the values the
/// CLI read (with `--deep`, every key [`listed_on_both`] names; without, those it shows a value
/// diff for); a key whose value was gone when read counts as on the other side only.
pub fn live(
    left: LiveSide<'_>,
    right: LiveSide<'_>,
    only: Option<&Globs>,
    deep: bool,
    reads: &LiveReads,
) -> EnvDiff {
    let mut scopes = Vec::new();
    for (index, (l, r)) in scope_pairs(left.desired, right.desired).into_iter().enumerate() {
        let ls = l.map(|i| &left.desired.scopes[i]);
        let rs = r.map(|i| &right.desired.scopes[i]);
        let mut out = ScopeDiff {
            name: ls.or(rs).map(|s| s.name.clone()).unwrap_or_default(),
            left: ls.map(place),
            right: rs.map(place),
            keys: Vec::new(),
            equal: 0,
            lone_keys: 0,
        };
        let (a, b) = (listed(&left, l, only), listed(&right, r, only));
        if ls.is_none() || rs.is_none() {
            out.lone_keys = a.len() + b.len();
            push_lone(&mut scopes, out, only);
            continue;
        }
        let desired_sensitive = |key: &str| {
            [ls, rs].into_iter().flatten().any(|s| s.entries.get(key).is_some_and(|e| e.sensitive))
        };
        merge(a.into_iter(), b.into_iter(), |key, a, b| {
            let read = reads.get(&(index, key.to_owned()));
            let gone = |value: &LiveValue| matches!(value, LiveValue::Missing);
            let status = match (a, b, read) {
                (Some(_), Some(_), Some((x, y))) if gone(x) && gone(y) => return,
                (Some(_), Some(_), Some((x, _))) if gone(x) => Status::OnlyIn(Side::Right),
                (Some(_), Some(_), Some((_, y))) if gone(y) => Status::OnlyIn(Side::Left),
                (Some(a), Some(b), read) => match compare_listed(a, b, read) {
                    Status::Differs(aspects) if aspects.is_empty() => {
                        out.equal += 1;
                        return;
                    }
                    status => status,
                },
                (Some(_), None, _) => Status::OnlyIn(Side::Left),
                (None, Some(_), _) => Status::OnlyIn(Side::Right),
                (None, None, _) => return,
            };
            let sensitive = a.is_some_and(|k| k.metadata.is_marked_sensitive())
                || b.is_some_and(|k| k.metadata.is_marked_sensitive())
                || desired_sensitive(key);
            let sides = match (a, b) {
                (Some(a), Some(b)) => sides(&status, || [Facts::of_listed(a), Facts::of_listed(b)]),
                _ => None,
            };
            out.keys.push(KeyDiff { key: key.to_owned(), status, sensitive, sides });
        });
        scopes.push(out);
    }
    EnvDiff {
        left: left.name.to_owned(),
        right: right.name.to_owned(),
        mode: Mode::Live { deep },
        scopes,
        only: only.map(|o| o.patterns().to_vec()).unwrap_or_default(),
    }
}

/// Whether a key may be read for a value diff without `--deep`: it differs, and it is not
/// sensitive.
pub fn shows_value(key: &KeyDiff) -> bool {
    !key.sensitive
        && matches!(&key.status, Status::Differs(aspects)
            if aspects.iter().any(|a| matches!(a, Aspect::Value | Aspect::Content)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::desired::{Entries, UserMetadata};
    use crate::content::marker::written_metadata_with;
    use crate::content::{Expiration, content_hash};
    use crate::kv::ListedMetadata;
    use crate::testing;

    fn entry(value: &str) -> DesiredEntry {
        testing::entry(value, Expiration::Never, false)
    }

    fn with(mut entry: DesiredEntry, change: impl FnOnce(&mut DesiredEntry)) -> DesiredEntry {
        change(&mut entry);
        let bytes = entry.read().expect("inline");
        let metadata = entry.metadata.as_ref().map(|m| serde_json::Value::Object(m.to_map()));
        entry.hash = content_hash(&bytes, metadata.as_ref(), entry.expiration);
        entry
    }

    fn state(scopes: &[(&str, Vec<(&str, DesiredEntry)>)]) -> Desired {
        let scopes = scopes
            .iter()
            .map(|(name, keys)| {
                let entries: Entries =
                    keys.iter().map(|(k, e)| ((*k).to_owned(), e.clone())).collect();
                testing::scope(name, "0f1e2d3c4b5a69788796a5b4c3d2e1f0", "f/", entries)
            })
            .collect();
        testing::desired("web", scopes)
    }

    /// `(key, status)` of every key listed, scope by scope, and the equal counts.
    fn outline(diff: &EnvDiff) -> (Vec<(String, Status)>, Vec<usize>) {
        let keys = diff
            .scopes
            .iter()
            .flat_map(|s| s.keys.iter().map(|k| (k.key.clone(), k.status.clone())))
            .collect();
        (keys, diff.scopes.iter().map(|s| s.equal).collect())
    }

    fn differs(aspects: &[Aspect]) -> Status {
        Status::Differs(aspects.to_vec())
    }

    #[test]
    fn desired_states_compare_entry_by_entry() {
        let metadata = |text: &str| {
            let map: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).expect("object");
            Some(UserMetadata::from(map))
        };
        let left = state(&[(
            "flags",
            vec![
                ("f/equal", entry("same")),
                ("f/meta", with(entry("m"), |e| e.metadata = metadata(r#"{"team":"a"}"#))),
                ("f/only-left", entry("x")),
                ("f/secret", testing::entry("s1", Expiration::Never, true)),
                ("f/ttl", testing::entry("t", Expiration::Ttl(60), false)),
                ("f/value", entry("1")),
                ("f/now-secret", entry("n")),
            ],
        )]);
        let right = state(&[(
            "flags",
            vec![
                ("f/equal", entry("same")),
                ("f/meta", with(entry("m"), |e| e.metadata = metadata(r#"{"team":"b"}"#))),
                ("f/only-right", entry("y")),
                ("f/secret", testing::entry("s2", Expiration::Never, true)),
                ("f/ttl", testing::entry("t", Expiration::Ttl(120), false)),
                ("f/value", entry("2")),
                ("f/now-secret", testing::entry("n", Expiration::Never, true)),
            ],
        )]);
        let diff = desired(("staging", &left), ("production", &right), None, &HashMap::new());
        let (keys, equal) = outline(&diff);
        assert_eq!(
            keys,
            [
                ("f/meta".to_owned(), differs(&[Aspect::Metadata])),
                ("f/now-secret".to_owned(), differs(&[Aspect::Sensitivity])),
                ("f/only-left".to_owned(), Status::OnlyIn(Side::Left)),
                ("f/only-right".to_owned(), Status::OnlyIn(Side::Right)),
                ("f/secret".to_owned(), differs(&[Aspect::Value])),
                ("f/ttl".to_owned(), differs(&[Aspect::Expiration])),
                ("f/value".to_owned(), differs(&[Aspect::Value])),
            ]
        );
        assert_eq!(equal, [1]);
        let secret = diff.scopes[0].keys.iter().find(|k| k.key == "f/secret").expect("secret");
        assert!(secret.sensitive);
        let counts = diff.counts();
        assert_eq!((counts.differ, counts.only_left, counts.only_right), (5, 1, 1));
        assert!(counts.different());

        let same = desired(("a", &left), ("b", &left), None, &HashMap::new());
        assert!(!same.counts().different());
        assert_eq!(same.counts().equal, 7);
    }

    #[test]
    fn scopes_match_by_name_and_only_narrows_the_keys() {
        let left = state(&[("flags", vec![("f/a", entry("1")), ("f/b", entry("1"))])]);
        let right = state(&[
            ("config", vec![("f/c", entry("1"))]),
            ("flags", vec![("f/a", entry("2")), ("f/b", entry("2"))]),
        ]);
        let only = Globs::new(&["f/a".to_owned()]).expect("glob");
        let diff = desired(("l", &left), ("r", &right), Some(&only), &HashMap::new());
        assert_eq!(diff.scopes.len(), 1, "no key of `config` matches --only");
        assert_eq!(diff.scopes[0].name, "flags");
        assert_eq!(diff.scopes[0].keys.len(), 1, "f/b is outside --only");
        assert_eq!(diff.only, ["f/a"]);
        let all = desired(("l", &left), ("r", &right), None, &HashMap::new());
        assert_eq!(all.scopes[1].only_in(), Some(Side::Right));
        assert_eq!(all.scopes[1].lone_keys, 1);
        assert_eq!(all.counts().scopes_only_right, 1);
        assert_eq!(scope_pairs(&left, &right), [(Some(0), Some(1)), (None, Some(0))]);
    }

    #[test]
    fn file_values_are_read_only_when_the_entries_cannot_say() {
        let file = |path: &str, expiration| {
            let mut e = testing::entry("abc", expiration, false);
            e.value = crate::config::ValueSource::File(path.into());
            e
        };
        let left = state(&[("flags", vec![("f/a", file("a.txt", Expiration::Never))])]);
        let right = state(&[("flags", vec![("f/a", file("b.txt", Expiration::Ttl(60)))])]);
        assert_eq!(unsettled_values(&left, &right, None), [(0, "f/a".to_owned())]);
        let reads: DesiredReads = [((0, "f/a".to_owned()), true)].into();
        let diff = desired(("l", &left), ("r", &right), None, &reads);
        assert_eq!(outline(&diff).0, [("f/a".to_owned(), differs(&[Aspect::Expiration]))]);
        // Same file: equal without a read.
        let same = state(&[("flags", vec![("f/a", file("a.txt", Expiration::Ttl(60)))])]);
        assert!(unsettled_values(&left, &same, None).is_empty());
    }

    fn marked(key: &str, value: &str, expiration: Expiration, sensitive: bool) -> ListedKey {
        let hash = content_hash(value.as_bytes(), None, expiration);
        let metadata = written_metadata_with(None, "web", hash, None, sensitive);
        ListedKey {
            name: key.into(),
            expiration: match expiration {
                Expiration::Never => None,
                Expiration::Ttl(_) => Some(2_000_000_000),
                Expiration::At(at) => Some(at),
            },
            metadata: ListedMetadata::from_json(Some(&metadata)),
        }
    }

    fn bare(key: &str) -> ListedKey {
        ListedKey { name: key.into(), expiration: None, metadata: ListedMetadata::none() }
    }

    fn compare(
        left: Vec<ListedKey>,
        right: Vec<ListedKey>,
        deep: bool,
        reads: &LiveReads,
    ) -> (Vec<(String, Status)>, Vec<usize>) {
        let config = state(&[("flags", Vec::new())]);
        let (l, r) = ([LiveScope { keys: left }], [LiveScope { keys: right }]);
        let left = LiveSide { name: "staging", desired: &config, live: &l };
        let right = LiveSide { name: "production", desired: &config, live: &r };
        outline(&live(left, right, None, deep, reads))
    }

    #[test]
    fn live_keys_compare_by_their_markers() {
        let never = Expiration::Never;
        let left = vec![
            marked("f/equal", "1", never, false),
            marked("f/hand", "h", never, false),
            marked("f/only-left", "1", never, false),
            marked("f/secret", "a", never, true),
            marked("f/ttl", "t", Expiration::Ttl(60), false),
            marked("f/value", "1", never, false),
        ];
        let right = vec![
            marked("f/equal", "1", never, false),
            bare("f/hand"),
            bare("f/outside-prefix-is-not-listed-here"),
            marked("f/secret", "b", never, true),
            marked("f/ttl", "t", Expiration::Ttl(120), false),
            marked("f/value", "2", never, false),
        ];
        let (keys, equal) = compare(left.clone(), right.clone(), false, &HashMap::new());
        assert_eq!(
            keys,
            [
                ("f/hand".to_owned(), Status::NotCompared),
                ("f/only-left".to_owned(), Status::OnlyIn(Side::Left)),
                ("f/outside-prefix-is-not-listed-here".to_owned(), Status::OnlyIn(Side::Right)),
                ("f/secret".to_owned(), differs(&[Aspect::Content])),
                ("f/ttl".to_owned(), differs(&[Aspect::Content])),
                ("f/value".to_owned(), differs(&[Aspect::Content])),
            ]
        );
        assert_eq!(equal, [1]);

        // Values read settle what the hashes could not say.
        let text = |t: &str| LiveValue::Text(t.to_owned());
        let reads: LiveReads = [
            ((0, "f/hand".to_owned()), (text("h"), text("h"))),
            ((0, "f/ttl".to_owned()), (text("t"), text("t"))),
            ((0, "f/value".to_owned()), (text("1"), text("2"))),
            ((0, "f/equal".to_owned()), (text("1"), text("edited by hand"))),
        ]
        .into();
        let (keys, equal) = compare(left, right, true, &reads);
        assert_eq!(
            keys,
            [
                ("f/equal".to_owned(), differs(&[Aspect::Value])),
                ("f/only-left".to_owned(), Status::OnlyIn(Side::Left)),
                ("f/outside-prefix-is-not-listed-here".to_owned(), Status::OnlyIn(Side::Right)),
                ("f/secret".to_owned(), differs(&[Aspect::Content])),
                ("f/ttl".to_owned(), differs(&[Aspect::Expiration])),
                ("f/value".to_owned(), differs(&[Aspect::Value])),
            ]
        );
        assert_eq!(equal, [1], "f/hand reads the same on both sides");
    }

    #[test]
    fn a_value_gone_when_read_is_on_the_other_side_only() {
        let left = vec![bare("f/a"), bare("f/b")];
        let right = vec![bare("f/a"), bare("f/b")];
        let reads: LiveReads = [
            ((0, "f/a".to_owned()), (LiveValue::Missing, LiveValue::Text("x".to_owned()))),
            ((0, "f/b".to_owned()), (LiveValue::Missing, LiveValue::Missing)),
        ]
        .into();
        let (keys, equal) = compare(left, right, true, &reads);
        assert_eq!(keys, [("f/a".to_owned(), Status::OnlyIn(Side::Right))]);
        assert_eq!(equal, [0]);
    }

    #[test]
    fn metadata_and_sensitivity_show_in_the_listing() {
        // Another owner, user metadata, an expiration and the sensitive flag on one side: what
        // the listing shows is named; the value is not known without a read.
        let user: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(r#"{"team":"a"}"#).expect("object");
        let written = serde_json::Value::Object(user.clone());
        let hash = content_hash(b"1", Some(&written), Expiration::At(2_000_000_000));
        let with_user = ListedKey {
            name: "f/k".into(),
            expiration: Some(2_000_000_000),
            metadata: ListedMetadata::from_json(Some(&written_metadata_with(
                Some(&user),
                "other-owner",
                hash,
                None,
                true,
            ))),
        };
        let (keys, _) = compare(
            vec![with_user],
            vec![marked("f/k", "1", Expiration::Never, false)],
            false,
            &HashMap::new(),
        );
        assert_eq!(
            keys,
            [(
                "f/k".to_owned(),
                differs(&[
                    Aspect::Metadata,
                    Aspect::Expiration,
                    Aspect::Sensitivity,
                    Aspect::Content
                ])
            )]
        );
    }

    proptest::proptest! {
        /// An environment equals itself; swapping the two swaps the sides and nothing else, by
        /// desired state and live alike.
        #[test]
        fn comparisons_are_symmetric(
            left in proptest::collection::btree_map("f/[ab]{1,2}", ("[xy]{0,2}", 0u8..3, proptest::bool::ANY), 0..8),
            right in proptest::collection::btree_map("f/[ab]{1,2}", ("[xy]{0,2}", 0u8..3, proptest::bool::ANY), 0..8),
        ) {
            let expiration = |e: u8| match e {
                0 => Expiration::Never,
                1 => Expiration::Ttl(60),
                _ => Expiration::At(2_000_000_000),
            };
            let build = |keys: &std::collections::BTreeMap<String, (String, u8, bool)>| {
                let entries: Vec<(&str, DesiredEntry)> = keys
                    .iter()
                    .map(|(k, (v, e, s))| (k.as_str(), testing::entry(v, expiration(*e), *s)))
                    .collect();
                state(&[("flags", entries)])
            };
            let (a, b) = (build(&left), build(&right));
            let none = HashMap::new();
            let same = desired(("a", &a), ("a", &a), None, &none).counts();
            proptest::prop_assert!(!same.different());
            proptest::prop_assert_eq!(same.equal, left.len());
            let forth = desired(("a", &a), ("b", &b), None, &none).counts();
            let back = desired(("b", &b), ("a", &a), None, &none).counts();
            proptest::prop_assert_eq!((forth.differ, forth.equal), (back.differ, back.equal));
            proptest::prop_assert_eq!((forth.only_left, forth.only_right), (back.only_right, back.only_left));

            let listing = |keys: &std::collections::BTreeMap<String, (String, u8, bool)>| {
                vec![LiveScope {
                    keys: keys.iter().map(|(k, (v, e, s))| marked(k, v, expiration(*e), *s)).collect(),
                }]
            };
            let (la, lb) = (listing(&left), listing(&right));
            let side = |name, desired, live| LiveSide { name, desired, live };
            let unread = LiveReads::new();
            let itself = live(side("a", &a, &la), side("a", &a, &la), None, false, &unread).counts();
            proptest::prop_assert!(!itself.different());
            let forth = live(side("a", &a, &la), side("b", &b, &lb), None, false, &unread).counts();
            let back = live(side("b", &b, &lb), side("a", &a, &la), None, false, &unread).counts();
            proptest::prop_assert_eq!((forth.differ, forth.equal), (back.differ, back.equal));
            proptest::prop_assert_eq!((forth.only_left, forth.only_right), (back.only_right, back.only_left));
            // Keys written from these states are equal live exactly when they are in the configs.
            let desired_equal = desired(("a", &a), ("b", &b), None, &none).counts().equal;
            proptest::prop_assert_eq!(forth.equal, desired_equal);
        }
    }
}
