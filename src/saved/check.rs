//! The saved plan's stale check (docs/spec.md, Terraform's "saved plan is stale").
//!
//! A saved plan holds the versioned JSON plan (without value diffs), a digest of the desired
//! state, and a fingerprint of every live key the plan depends on: each key that is desired or
//! carries our marker. Before applying, kvsync recomputes both from the config and a fresh
//! listing and refuses when anything differs. Keys other writers own never make a plan stale.
//!
//! Nothing here holds a value, and nothing derived from a sensitive value or its hash appears:
//! a secret's hash is a fast function of the secret, so a digest over it lets anyone holding the
//! file try every short secret offline. For a sensitive key the check records only what the
//! listing shows besides the marker's hash: whether it is listed, the marker's owner, its
//! expiration, and the kind of action (`unchanged`, `update`, `adopt`, `other`).
//!
//! A key whose live state is what the saved plan was going to make of it (written with our
//! marker and the planned hash, or deleted) is not stale: an interrupted `apply PLAN` run again
//! finishes the rest ([`done_keys`]).
//!
//! At a million keys the fingerprints are a million names and hashes, so they are never held as
//! a map: [`StaleCheck`] computes them from the desired state and the listings (8 bytes a key)
//! and writes them as it serializes, and [`stale_keys`] reads a saved plan's fingerprints one
//! at a time from the file and compares each with the state now. The file format is the one a
//! `BTreeMap` of names to fingerprints would give.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Deserialize, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::config::{Desired, DesiredEntry, DesiredScope};
use crate::content::{Marker, canonical_json, expiration_field};
use crate::kv::ListedKey;
use crate::plan::LiveScope;

/// What identifies a saved plan file.
pub const KIND: &str = "kvsync-saved-plan";
/// The version of the saved-plan format.
/// 2: sensitive keys have a state each, and no digest over their hashes.
pub const FORMAT_VERSION: &str = "2";

/// What the fingerprint of a key that is not listed says.
const ABSENT: &str = "absent";

/// What a listing showed of a key: `None` when it is absent, else the fingerprint of its listed
/// metadata and expiration.
type Seen = Option<[u8; 8]>;

fn seen_text(seen: Seen) -> String {
    seen.map_or_else(|| ABSENT.to_owned(), |f| base16ct::lower::encode_string(&f))
}

/// Whether a fingerprint as written in a saved plan says what `seen` says.
fn seen_is(text: &str, seen: Seen) -> bool {
    match seen {
        None => text == ABSENT,
        Some(fingerprint) => {
            let mut decoded = [0u8; 8];
            text.len() == 16
                && !text.bytes().any(|b| b.is_ascii_uppercase())
                && base16ct::lower::decode(text, &mut decoded).is_ok()
                && decoded == fingerprint
        }
    }
}

/// The live state a plan depends on, computed from the desired state and the listings it was
/// planned from; serializes as the `stale_check` of a saved plan:
/// `{"scopes": [{"name", "namespace_id", "prefix", "keys": {name: fingerprint or "absent"},
/// "sensitive_keys": {name: state or "absent"}}]}`.
pub struct StaleCheck<'a> {
    scopes: Vec<ScopeNow<'a>>,
}

/// One scope's part of a [`StaleCheck`].
struct ScopeNow<'a> {
    scope: &'a DesiredScope,
    owner: &'a str,
    listing: Listing<'a>,
    /// The non-sensitive keys the plan depends on, in key order: what the listing showed.
    seen: Vec<Seen>,
    /// Sensitive keys and their state, nothing derived from the value ([`sensitive_state`]).
    sensitive_keys: BTreeMap<String, String>,
}

/// A scope's listed keys inside its prefix and not ignored, in byte order, each name once.
enum Listing<'a> {
    /// The listing as it came, sorted with each name once (what every store returns); keys
    /// outside the scope are skipped as it is walked.
    Sorted(&'a [ListedKey]),
    /// Anything else, sorted; of a name listed twice the last listing counts, as collecting
    /// into a map would keep it.
    Collected(Vec<&'a ListedKey>),
}

impl<'a> Listing<'a> {
    fn new(scope: &DesiredScope, live: &'a LiveScope) -> Self {
        if live.keys.is_sorted_by(|a, b| a.name < b.name) {
            return Self::Sorted(&live.keys);
        }
        let mut keys: Vec<&ListedKey> =
            live.keys.iter().filter(|k| scope.contains(&k.name)).collect();
        // Stable, so the listings of one name keep their order; reversed, `dedup` keeps the last.
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        keys.reverse();
        keys.dedup_by(|a, b| a.name == b.name);
        keys.reverse();
        Self::Collected(keys)
    }

    /// The listed key `name`, when it is in the scope.
    fn find(&self, scope: &DesiredScope, name: &str) -> Option<&'a ListedKey> {
        let found = match self {
            Self::Sorted(keys) => {
                keys.binary_search_by(|k| k.name.as_str().cmp(name)).ok().map(|at| &keys[at])
            }
            Self::Collected(keys) => {
                keys.binary_search_by(|k| k.name.as_str().cmp(name)).ok().map(|at| keys[at])
            }
        };
        found.filter(|k| scope.contains(&k.name))
    }

    fn iter<'s>(&'s self, scope: &'s DesiredScope) -> Box<dyn Iterator<Item = &'a ListedKey> + 's> {
        match self {
            Self::Sorted(keys) => Box::new(keys.iter().filter(|k| scope.contains(&k.name))),
            Self::Collected(keys) => Box::new(keys.iter().copied()),
        }
    }
}

/// A key the plan depends on: its name, its desired entry when desired, and its listed key
/// when listed in the scope.
type Relevant<'a> = (&'a str, Option<&'a DesiredEntry>, Option<&'a ListedKey>);

impl<'a> ScopeNow<'a> {
    /// The keys the plan depends on, in key order: every desired key that is not ignored, and
    /// every listed key in the scope that carries our marker. A merge of the two sorted
    /// sequences, walked again whenever it is needed rather than kept.
    fn relevant<'s>(&'s self) -> impl Iterator<Item = Relevant<'a>> + 's {
        let scope = self.scope;
        let mut desired =
            scope.entries.iter().filter(|(key, _)| !scope.ignore.is_match(key)).peekable();
        let mut listed = self.listing.iter(scope).peekable();
        let owner = self.owner;
        let ours = move |key: &ListedKey| matches!(key.metadata.marker(), Marker::V1 { owner: o, .. } if o == owner);
        std::iter::from_fn(move || {
            loop {
                match (desired.peek(), listed.peek()) {
                    (None, None) => return None,
                    (Some((name, _)), Some(key)) if name.as_str() == key.name.as_str() => {
                        let (name, entry) = desired.next()?;
                        return Some((name.as_str(), Some(entry), listed.next()));
                    }
                    (Some((name, _)), next)
                        if next.is_none_or(|key| name.as_str() < key.name.as_str()) =>
                    {
                        let (name, entry) = desired.next()?;
                        return Some((name.as_str(), Some(entry), None));
                    }
                    _ => {
                        let key = listed.next()?;
                        if ours(key) {
                            return Some((key.name.as_str(), None, Some(key)));
                        }
                    }
                }
            }
        })
    }

    /// The names of the non-sensitive keys the plan depends on, in key order (those [`seen`]
    /// holds the fingerprints of).
    ///
    /// [`seen`]: ScopeNow::seen
    fn plain_names<'s>(&'s self) -> impl Iterator<Item = &'a str> + 's {
        self.relevant().filter(|(_, entry, listed)| !is_sensitive(*entry, *listed)).map(|r| r.0)
    }
}

/// Computes what a plan of `desired` depends on in `live` (`live[i]` is the listing of
/// `desired.scopes[i]`): to write into a saved plan.
pub fn stale_check<'a>(desired: &'a Desired, live: &'a [LiveScope]) -> StaleCheck<'a> {
    static EMPTY: LiveScope = LiveScope { keys: Vec::new() };
    let scopes = desired
        .scopes
        .iter()
        .enumerate()
        .map(|(index, scope)| {
            let listing = Listing::new(scope, live.get(index).unwrap_or(&EMPTY));
            let mut now = ScopeNow {
                scope,
                owner: &desired.owner,
                listing,
                seen: Vec::new(),
                sensitive_keys: BTreeMap::new(),
            };
            let mut seen = Vec::new();
            let mut sensitive_keys = BTreeMap::new();
            for (name, entry, listed) in now.relevant() {
                if is_sensitive(entry, listed) {
                    sensitive_keys
                        .insert(name.to_owned(), sensitive_state(entry, listed, &desired.owner));
                } else {
                    seen.push(listed.map(fingerprint));
                }
            }
            seen.shrink_to_fit();
            now.seen = seen;
            now.sensitive_keys = sensitive_keys;
            now
        })
        .collect();
    StaleCheck { scopes }
}

impl Serialize for StaleCheck<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Scopes<'s, 'a>(&'s [ScopeNow<'a>]);

        impl Serialize for Scopes<'_, '_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0)
            }
        }

        let mut out = serializer.serialize_struct("StaleCheck", 1)?;
        out.serialize_field("scopes", &Scopes(&self.scopes))?;
        out.end()
    }
}

impl Serialize for ScopeNow<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Keys<'s, 'a>(&'s ScopeNow<'a>);

        impl Serialize for Keys<'_, '_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let scope = self.0;
                let mut map = serializer.serialize_map(Some(scope.seen.len()))?;
                for (name, seen) in scope.plain_names().zip(&scope.seen) {
                    map.serialize_entry(name, &seen_text(*seen))?;
                }
                map.end()
            }
        }

        let mut out = serializer.serialize_struct("ScopeCheck", 5)?;
        out.serialize_field("name", &self.scope.name)?;
        out.serialize_field("namespace_id", &self.scope.namespace_id)?;
        out.serialize_field("prefix", &self.scope.prefix)?;
        out.serialize_field("keys", &Keys(self))?;
        out.serialize_field("sensitive_keys", &self.sensitive_keys)?;
        out.end()
    }
}

/// The keys a plan of `desired` depends on whose state differs between two listings held in
/// memory (`before[i]` and `after[i]` list `desired.scopes[i]`): the stale check of a saved
/// plan, for an interactive apply that listed again after the approval. In scope order, then
/// key order; sensitive keys are named, with `(sensitive)` (nothing of them leaves memory).
pub fn changed_keys<'a>(
    desired: &'a Desired,
    before: &'a [LiveScope],
    after: &'a [LiveScope],
) -> Vec<String> {
    static EMPTY: LiveScope = LiveScope { keys: Vec::new() };
    let mut changed = Vec::new();
    for (index, scope) in desired.scopes.iter().enumerate() {
        let scope_now = |live: &'a [LiveScope]| {
            let listing = Listing::new(scope, live.get(index).unwrap_or(&EMPTY));
            ScopeNow {
                scope,
                owner: &desired.owner,
                listing,
                seen: Vec::new(),
                sensitive_keys: BTreeMap::new(),
            }
        };
        let (then, now) = (scope_now(before), scope_now(after));
        let fingerprints = |s: &ScopeNow<'_>| -> Vec<(String, Seen, bool)> {
            s.relevant()
                .map(|(name, entry, listed)| {
                    (name.to_owned(), listed.map(fingerprint), is_sensitive(entry, listed))
                })
                .collect()
        };
        let (then, now) = (fingerprints(&then), fingerprints(&now));
        let (mut a, mut b) = (then.iter().peekable(), now.iter().peekable());
        let label = |name: &str, sensitive: bool| {
            if sensitive { format!("{name} (sensitive)") } else { name.to_owned() }
        };
        // Both are in key order: a merge. A key only one side depends on was listed as ours on
        // that side and is absent or another's on the other: changed.
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(x), Some(y)) if x.0 == y.0 => {
                    if x.1 != y.1 {
                        changed.push(label(&x.0, x.2));
                    }
                    a.next();
                    b.next();
                }
                (Some(x), y) if y.is_none_or(|y| x.0 < y.0) => {
                    changed.push(label(&x.0, x.2));
                    a.next();
                }
                (_, Some(y)) => {
                    changed.push(label(&y.0, y.2));
                    b.next();
                }
                (_, None) => break,
            }
        }
    }
    changed
}

/// A saved plan's `stale_check` as [`super::PlanFile`] reads it before planning: every
/// part is checked as the format says, but the per-key fingerprints are only counted, not kept
/// ([`stale_keys`] reads them again when the state now is known).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavedCheck {
    pub scopes: Vec<SavedScope>,
}

/// One scope of a [`SavedCheck`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SavedScope {
    pub name: String,
    pub namespace_id: String,
    pub prefix: String,
    /// How many non-sensitive keys have a fingerprint.
    #[serde(rename = "keys")]
    pub key_count: KeyCount,
    pub sensitive_keys: BTreeMap<String, String>,
}

/// The number of entries of a `{name: fingerprint}` map, each checked to be two strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCount(pub usize);

impl<'de> Deserialize<'de> for KeyCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Count;

        impl<'de> Visitor<'de> for Count {
            type Value = KeyCount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyCount, A::Error> {
                let mut count = 0;
                while map.next_entry::<String, String>()?.is_some() {
                    count += 1;
                }
                Ok(KeyCount(count))
            }
        }

        deserializer.deserialize_map(Count)
    }
}

/// The digest of a desired state: scopes with their settings, and every key's content hash,
/// except that sensitive keys count by name only (their hash is derived from the secret).
pub fn config_digest(desired: &Desired) -> String {
    let mut sha = Sha256::new();
    let mut field = |bytes: &[u8]| {
        sha.update((bytes.len() as u64).to_be_bytes());
        sha.update(bytes);
    };
    field(b"kvsync-config-digest/v1");
    field(desired.owner.as_bytes());
    field(desired.environment.as_deref().unwrap_or("").as_bytes());
    for scope in &desired.scopes {
        field(scope.name.as_bytes());
        field(scope.namespace_id.as_bytes());
        field(scope.prefix.as_bytes());
        field(if scope.prune { b"prune" } else { b"keep" });
        for globs in [&scope.ignore, &scope.protect, &scope.take_over] {
            field(globs.patterns().join("\n").as_bytes());
        }
        for (key, entry) in &scope.entries {
            field(key.as_bytes());
            if entry.sensitive {
                field(b"sensitive");
            } else {
                field(&entry.hash.0);
            }
        }
    }
    base16ct::lower::encode_string(&sha.finalize())
}

/// A listed key's state as far as a listing shows it: its metadata (with the marker) and its
/// absolute expiration: the first 8 bytes of the sha256 of their canonical JSON and field.
fn fingerprint(key: &ListedKey) -> [u8; 8] {
    let metadata = key.metadata.to_json().as_ref().map(canonical_json).unwrap_or_default();
    let expiration = key.expiration.map(|at| expiration_field(crate::content::Expiration::At(at)));
    let mut sha = Sha256::new();
    sha.update(metadata.as_bytes());
    sha.update(b"\n");
    sha.update(expiration.unwrap_or_default().as_bytes());
    let digest = sha.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// Whether a key is sensitive for the stale check: its entry says so, or its live marker does
/// (it was written from a secret and its entry is a literal now, or it is no longer desired):
/// then nothing derived from its hash may go into a plan file.
fn is_sensitive(entry: Option<&DesiredEntry>, listed: Option<&ListedKey>) -> bool {
    entry.is_some_and(|e| e.sensitive) || listed.is_some_and(|l| l.metadata.is_marked_sensitive())
}

/// What the stale check records of a sensitive key: `absent`, or `KIND;EXPIRATION;OWNER`, where
/// KIND is the action the key's marker calls for (`unchanged` or `update` when it is ours and
/// desired, `ours` when it is ours and not desired, `adopt` without a marker, `other` for any
/// other marker), EXPIRATION the listed absolute expiration or `never` and OWNER the marker's
/// owner (empty without one). Nothing here is derived from the value or its hash but the one bit
/// `unchanged`/`update`, which the plan shows anyway.
fn sensitive_state(
    entry: Option<&DesiredEntry>,
    listed: Option<&ListedKey>,
    owner: &str,
) -> String {
    let Some(listed) = listed else { return ABSENT.to_owned() };
    let (kind, who) = match listed.metadata.marker() {
        Marker::V1 { owner: o, sha256, .. } if o == owner => match entry {
            Some(entry) if sha256 == entry.hash => ("unchanged", o),
            Some(_) => ("update", o),
            None => ("ours", o),
        },
        Marker::None => ("adopt", String::new()),
        Marker::V1 { owner: o, .. }
        | Marker::Newer { owner: o, .. }
        | Marker::Unreadable { owner: o, .. } => ("other", o),
    };
    let expiration = listed.expiration.map_or_else(|| "never".to_owned(), |at| at.to_string());
    format!("{kind};{expiration};{who}")
}

/// Whether two states of a sensitive key differ only as a changed desired value would make
/// them: the same owner (ours) and expiration, `unchanged` on one side and `update` on the other.
fn only_the_value_differs(saved: &str, now: &str) -> bool {
    let split =
        |state: &str| state.split_once(';').map(|(kind, rest)| (kind.to_owned(), rest.to_owned()));
    match (split(saved), split(now)) {
        (Some((a, rest_a)), Some((b, rest_b))) => {
            rest_a == rest_b
                && a != b
                && ["unchanged", "update"].contains(&a.as_str())
                && ["unchanged", "update"].contains(&b.as_str())
        }
        _ => false,
    }
}

/// What a saved plan was going to do to one key: `(scope name, key, whether it deletes)`.
pub type Intent = (String, String, bool);

/// Of the keys a saved plan writes or deletes (`intents`), those whose live state is already
/// what the plan was going to make of them: a put listed with our marker and the planned hash,
/// a delete no longer listed. An interrupted `apply PLAN` left them so; they are not stale.
pub fn done_keys(
    desired: &Desired,
    live: &[LiveScope],
    intents: &[Intent],
) -> BTreeSet<(String, String)> {
    static EMPTY: LiveScope = LiveScope { keys: Vec::new() };
    let mut done = BTreeSet::new();
    for (index, scope) in desired.scopes.iter().enumerate() {
        let mine: Vec<&Intent> = intents.iter().filter(|i| i.0 == scope.name).collect();
        if mine.is_empty() {
            continue;
        }
        let listing = Listing::new(scope, live.get(index).unwrap_or(&EMPTY));
        for (_, key, delete) in mine {
            let listed = listing.find(scope, key);
            let is_done = if *delete {
                listed.is_none()
            } else {
                scope.entries.get(key).zip(listed).is_some_and(|(entry, listed)| {
                    matches!(listed.metadata.marker(),
                        Marker::V1 { owner, sha256, .. } if owner == desired.owner && sha256 == entry.hash)
                })
            };
            if is_done {
                done.insert((scope.name.clone(), key.clone()));
            }
        }
    }
    done
}

/// What [`stale_keys`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stale {
    /// Keys whose live state changed, in scope order then key order.
    pub keys: Vec<String>,
    /// A sensitive key's desired value changed (a `${VAR}`) while nothing live did: the config
    /// changed, though its digest (which leaves secrets out) cannot say so.
    pub secret_changed: bool,
}

/// The keys whose state changed between the saved plan in `plan_file` (the whole file, read
/// once more) and `desired` and `live` now (names of sensitive keys included when their
/// scope's digest differs), in scope order then key order. A scope whose name, namespace or
/// prefix is not the saved one's at the same place shows as `(scope `name`)`.
pub fn stale_keys<R: io::Read>(
    plan_file: R,
    desired: &Desired,
    live: &[LiveScope],
    done: &BTreeSet<(String, String)>,
) -> Result<Stale, serde_json::Error> {
    let now = stale_check(desired, live);
    let mut deserializer = serde_json::Deserializer::from_reader(plan_file);
    let saved = FileSeed(&now).deserialize(&mut deserializer)?;
    deserializer.end()?;

    let mut stale = Stale::default();
    for (index, now_scope) in now.scopes.iter().enumerate() {
        let scope = now_scope.scope;
        let Some(saved_scope) = saved.get(index).filter(|s| {
            s.name == scope.name && s.namespace_id == scope.namespace_id && s.prefix == scope.prefix
        }) else {
            stale.keys.push(format!("(scope `{}`)", scope.name));
            continue;
        };
        let not_done = |key: &str| !done.contains(&(scope.name.clone(), key.to_owned()));
        // Keys of the plan now: stale when the saved plan says otherwise, or says nothing
        // (then it saw them absent) while they are listed now.
        let mut keys: Vec<String> = now_scope
            .plain_names()
            .zip(&now_scope.seen)
            .zip(&saved_scope.states)
            .filter(|((_, seen), state)| match state {
                State::NotSaved => seen.is_some(),
                State::Same => false,
                State::Differs => true,
            })
            .map(|((name, _), _)| name.to_owned())
            .collect();
        // Keys only the saved plan names: they are absent from the plan now.
        keys.extend(
            saved_scope.others.iter().filter(|(_, present)| **present).map(|(k, _)| k.clone()),
        );
        keys.retain(|k| not_done(k));
        keys.sort();
        stale.keys.extend(keys);
        let names: BTreeSet<&String> =
            saved_scope.sensitive_keys.keys().chain(now_scope.sensitive_keys.keys()).collect();
        for name in names {
            let absent = ABSENT.to_owned();
            let then = saved_scope.sensitive_keys.get(name).unwrap_or(&absent);
            let now = now_scope.sensitive_keys.get(name).unwrap_or(&absent);
            if then == now || !not_done(name) {
                continue;
            }
            if only_the_value_differs(then, now) {
                stale.secret_changed = true;
            } else {
                stale.keys.push(format!("{name} (sensitive)"));
            }
        }
    }
    Ok(stale)
}

/// How a saved fingerprint compares with one key of the plan now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The saved plan has no fingerprint for the key (it was not relevant then).
    NotSaved,
    Same,
    Differs,
}

/// One saved scope, compared with the scope at the same place now.
struct Compared {
    name: String,
    namespace_id: String,
    prefix: String,
    /// For each non-sensitive key of the plan now, in order.
    states: Vec<State>,
    /// Saved keys the plan now does not fingerprint, and whether the saved plan saw them
    /// listed (then they are stale: now they count as absent). A name saved twice counts
    /// with its last fingerprint, as reading into a map would.
    others: BTreeMap<String, bool>,
    sensitive_keys: BTreeMap<String, String>,
}

/// The whole saved-plan file: only `stale_check` is read, the rest is skipped.
struct FileSeed<'s, 'a>(&'s StaleCheck<'a>);

impl<'de> DeserializeSeed<'de> for FileSeed<'_, '_> {
    type Value = Vec<Compared>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_, '_> {
    type Value = Vec<Compared>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a saved plan")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut scopes = None;
        while let Some(field) = map.next_key::<String>()? {
            if field == "stale_check" {
                scopes = Some(map.next_value_seed(CheckSeed(self.0))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        scopes.ok_or_else(|| de::Error::missing_field("stale_check"))
    }
}

/// `stale_check`: `{"scopes": [...]}`.
struct CheckSeed<'s, 'a>(&'s StaleCheck<'a>);

impl<'de> DeserializeSeed<'de> for CheckSeed<'_, '_> {
    type Value = Vec<Compared>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for CheckSeed<'_, '_> {
    type Value = Vec<Compared>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct StaleCheck")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut scopes = None;
        while let Some(field) = map.next_key::<String>()? {
            if field == "scopes" {
                scopes = Some(map.next_value_seed(ScopesSeed(self.0))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        scopes.ok_or_else(|| de::Error::missing_field("scopes"))
    }
}

/// `scopes`: the saved scope at each place is compared with the scope at that place now.
struct ScopesSeed<'s, 'a>(&'s StaleCheck<'a>);

impl<'de> DeserializeSeed<'de> for ScopesSeed<'_, '_> {
    type Value = Vec<Compared>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ScopesSeed<'_, '_> {
    type Value = Vec<Compared>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut scopes = Vec::new();
        loop {
            let now = self.0.scopes.get(scopes.len());
            match seq.next_element_seed(ScopeSeed(now))? {
                Some(scope) => scopes.push(scope),
                None => return Ok(scopes),
            }
        }
    }
}

/// One saved scope, compared with `now` (`None` when there is no scope at its place now).
struct ScopeSeed<'s, 'a>(Option<&'s ScopeNow<'a>>);

impl<'de> DeserializeSeed<'de> for ScopeSeed<'_, '_> {
    type Value = Compared;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ScopeSeed<'_, '_> {
    type Value = Compared;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct ScopeCheck")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut name, mut namespace_id, mut prefix) = (None, None, None);
        let mut sensitive_keys = None;
        let mut keys = None;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                "name" => name = Some(map.next_value()?),
                "namespace_id" => namespace_id = Some(map.next_value()?),
                "prefix" => prefix = Some(map.next_value()?),
                "keys" => keys = Some(map.next_value_seed(KeysSeed(self.0))?),
                "sensitive_keys" => sensitive_keys = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (states, others) = keys.ok_or_else(|| de::Error::missing_field("keys"))?;
        Ok(Compared {
            name: name.ok_or_else(|| de::Error::missing_field("name"))?,
            namespace_id: namespace_id.ok_or_else(|| de::Error::missing_field("namespace_id"))?,
            prefix: prefix.ok_or_else(|| de::Error::missing_field("prefix"))?,
            states,
            others,
            sensitive_keys: sensitive_keys
                .ok_or_else(|| de::Error::missing_field("sensitive_keys"))?,
        })
    }
}

/// `keys`: each saved fingerprint compared with the key's state now, as it is read.
struct KeysSeed<'s, 'a>(Option<&'s ScopeNow<'a>>);

impl<'de> DeserializeSeed<'de> for KeysSeed<'_, '_> {
    type Value = (Vec<State>, BTreeMap<String, bool>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeysSeed<'_, '_> {
    type Value = (Vec<State>, BTreeMap<String, bool>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(now) = self.0 else {
            // No scope at this place now: the plan is stale anyway, and nothing is kept.
            while map.next_entry::<String, String>()?.is_some() {}
            return Ok((Vec::new(), BTreeMap::new()));
        };
        let mut states = vec![State::NotSaved; now.seen.len()];
        let mut others = BTreeMap::new();
        // Saved plans list their keys in order, as the plan now walks them: the two are merged.
        // A file whose keys are out of order is read by looking each key up instead.
        let mut walk = now.plain_names().enumerate().peekable();
        let mut names: Option<Vec<&str>> = None;
        let mut last: Option<String> = None;
        while let Some((name, saved)) = map.next_entry::<String, String>()? {
            if names.is_none() && last.as_ref().is_some_and(|last| name <= *last) {
                names = Some(now.plain_names().collect());
            }
            let at = match &names {
                Some(names) => names.binary_search(&name.as_str()).ok(),
                None => {
                    while walk.next_if(|(_, current)| *current < name.as_str()).is_some() {}
                    walk.peek().filter(|(_, current)| *current == name).map(|(at, _)| *at)
                }
            };
            match at {
                Some(at) => {
                    states[at] =
                        if seen_is(&saved, now.seen[at]) { State::Same } else { State::Differs };
                }
                None => {
                    others.insert(name.clone(), saved != ABSENT);
                }
            }
            last = Some(name);
        }
        Ok((states, others))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Globs;
    use crate::content::Expiration;
    use crate::content::{content_hash, written_metadata};
    use crate::kv::ListedMetadata;
    use crate::testing;

    fn desired(entries: &[(&str, &str, bool)]) -> Desired {
        let entries = entries
            .iter()
            .map(|(k, v, s)| ((*k).to_owned(), testing::entry(v, Expiration::Never, *s)))
            .collect();
        let mut scope = testing::scope("flags", "ns", "f/", entries);
        scope.ignore = Globs::new(&["f/rt/*".to_owned()]).expect("glob");
        testing::desired("web", vec![scope])
    }

    fn written(key: &str, owner: &str, value: &str) -> ListedKey {
        let hash = content_hash(value.as_bytes(), None, Expiration::Never);
        ListedKey {
            name: key.into(),
            expiration: None,
            metadata: ListedMetadata::from_json(Some(&written_metadata(None, owner, hash, None))),
        }
    }

    fn live(keys: Vec<ListedKey>) -> Vec<LiveScope> {
        vec![LiveScope { keys }]
    }

    /// A saved plan file holding `check` (the rest of the file does not matter here).
    fn saved_file(check: &StaleCheck<'_>) -> String {
        let check = serde_json::to_string_pretty(check).expect("json");
        format!(
            "{{\"kind\": \"x\", \"stale_check\": {check},\n \"plan\": {{\"changes\": [1, {{}}]}}}}"
        )
    }

    fn stale(before: &(Desired, Vec<LiveScope>), after: &(Desired, Vec<LiveScope>)) -> Vec<String> {
        stale_found(before, after, &BTreeSet::new()).keys
    }

    fn stale_found(
        before: &(Desired, Vec<LiveScope>),
        after: &(Desired, Vec<LiveScope>),
        done: &BTreeSet<(String, String)>,
    ) -> Stale {
        let file = saved_file(&stale_check(&before.0, &before.1));
        stale_keys(file.as_bytes(), &after.0, &after.1, done).expect("a saved check")
    }

    #[test]
    fn only_keys_the_plan_depends_on_make_it_stale() {
        let d = desired(&[("f/a", "1", false), ("f/b", "2", false)]);
        let before =
            (d.clone(), live(vec![written("f/a", "web", "1"), written("f/old", "web", "x")]));
        // Another owner's key, an unmarked key and an ignored key appear: not stale.
        let unrelated = live(vec![
            written("f/a", "web", "1"),
            written("f/old", "web", "x"),
            written("f/theirs", "mobile", "t"),
            ListedKey { name: "f/hand".into(), expiration: None, metadata: ListedMetadata::none() },
            written("f/rt/x", "web", "r"),
        ]);
        assert!(stale(&before, &(d.clone(), unrelated)).is_empty());
        // A desired key written by someone, our key edited, our old key gone: all stale.
        let changed = live(vec![written("f/a", "web", "9"), written("f/b", "mobile", "2")]);
        assert_eq!(stale(&before, &(d, changed)), vec!["f/a", "f/b", "f/old"]);
    }

    #[test]
    fn two_listings_in_memory_compare_as_a_saved_plan_would() {
        let d = desired(&[("f/a", "1", false), ("f/x", "x", false), ("f/s", "s", true)]);
        let before = live(vec![written("f/a", "web", "1"), written("f/old", "web", "o")]);
        assert!(changed_keys(&d, &before, &before).is_empty());
        // Another owner's key appears elsewhere: nothing the plan depends on changed.
        let mut unrelated = before.clone();
        unrelated[0].keys.push(written("f/theirs", "mobile", "t"));
        assert!(changed_keys(&d, &before, &unrelated).is_empty());
        // Another owner takes over `f/old`, creates `f/x` and writes the secret.
        let after = live(vec![
            written("f/a", "web", "1"),
            written("f/old", "mobile", "o"),
            written("f/s", "mobile", "s"),
            written("f/x", "mobile", "x"),
        ]);
        assert_eq!(changed_keys(&d, &before, &after), ["f/old", "f/s (sensitive)", "f/x"]);
    }

    #[test]
    fn a_sensitive_key_is_recorded_without_anything_derived_from_its_hash() {
        let d = desired(&[("f/secret", "1234", true)]);
        let before = (d.clone(), live(vec![written("f/secret", "web", "1234")]));
        let json = serde_json::to_string(&stale_check(&before.0, &before.1)).expect("json");
        let hash = content_hash(b"1234", None, Expiration::Never);
        // No hash, no part of one, no digest over one: only owner, expiration and action kind.
        let hex = hash.to_hex();
        assert!((0..=hex.len() - 8).all(|at| !json.contains(&hex[at..at + 8])), "{json}");
        assert!(!json.contains("digest"), "{json}");
        assert!(
            json.contains(r#""keys":{},"sensitive_keys":{"f/secret":"unchanged;never;web"}"#),
            "{json}"
        );
        let with = |key: ListedKey| (d.clone(), live(vec![key]));
        // Another owner takes the key, the key disappears, its expiration changes: all stale.
        assert_eq!(
            stale(&before, &with(written("f/secret", "mobile", "1234"))),
            ["f/secret (sensitive)"]
        );
        assert_eq!(stale(&before, &(d.clone(), live(Vec::new()))), ["f/secret (sensitive)"]);
        let mut expiring = written("f/secret", "web", "1234");
        expiring.expiration = Some(1_900_000_600);
        assert_eq!(stale(&before, &with(expiring)), ["f/secret (sensitive)"]);
        // Only the desired secret changed (a `${PIN}`): no key is stale, the config changed.
        let found = stale_found(
            &before,
            &(desired(&[("f/secret", "9999", true)]), before.1.clone()),
            &BTreeSet::new(),
        );
        assert_eq!(found, Stale { keys: Vec::new(), secret_changed: true });
    }

    #[test]
    fn keys_the_plan_already_made_are_not_stale() {
        let d = desired(&[("f/a", "2", false), ("f/b", "2", false), ("f/s", "new", true)]);
        let before = (
            d.clone(),
            live(vec![
                written("f/a", "web", "1"),
                written("f/old", "web", "o"),
                written("f/s", "web", "old"),
            ]),
        );
        // An interrupted run of the plan wrote `f/a`, `f/s` and deleted `f/old`; `f/b` is not
        // written yet.
        let after =
            (d.clone(), live(vec![written("f/a", "web", "2"), written("f/s", "web", "new")]));
        // Without knowing what the plan does, they look stale (and the secret as changed).
        let found = stale_found(&before, &after, &BTreeSet::new());
        assert_eq!(found, Stale { keys: vec!["f/a".into(), "f/old".into()], secret_changed: true });
        let intents: Vec<Intent> =
            [("f/a", false), ("f/b", false), ("f/s", false), ("f/old", true)]
                .map(|(k, delete)| ("flags".to_owned(), k.to_owned(), delete))
                .to_vec();
        let done = done_keys(&after.0, &after.1, &intents);
        let names: Vec<&str> = done.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(names, ["f/a", "f/old", "f/s"]);
        assert_eq!(stale_found(&before, &after, &done), Stale::default());
        // Written by someone else with other content, it is stale still.
        let other = (d, live(vec![written("f/a", "web", "3"), written("f/s", "web", "new")]));
        let done = done_keys(&other.0, &other.1, &intents);
        assert_eq!(stale_found(&before, &other, &done).keys, ["f/a"]);
    }

    #[test]
    fn the_saved_form_is_a_map_of_names_to_fingerprints() {
        let d = desired(&[("f/a", "1", false), ("f/b", "2", false), ("f/s", "x", true)]);
        let listed = live(vec![written("f/a", "web", "1"), written("f/z", "web", "z")]);
        let json: serde_json::Value = serde_json::to_value(stale_check(&d, &listed)).expect("json");
        let scope = &json["scopes"][0];
        assert_eq!(scope["name"], "flags");
        assert_eq!(scope["prefix"], "f/");
        let keys = scope["keys"].as_object().expect("keys");
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["f/a", "f/b", "f/z"]);
        assert_eq!(keys["f/b"], "absent");
        assert_eq!(keys["f/a"].as_str().map(str::len), Some(16));
        assert_eq!(scope["sensitive_keys"], serde_json::json!({"f/s": "absent"}));
    }

    #[test]
    fn a_saved_check_reads_as_a_map_would() {
        let d = desired(&[("f/a", "1", false), ("f/b", "2", false)]);
        let now = live(vec![written("f/a", "web", "1")]);
        let current = serde_json::to_value(stale_check(&d, &now)).expect("json");
        let a = current["scopes"][0]["keys"]["f/a"].as_str().expect("a").to_owned();
        let file = |keys: &str| {
            format!(
                r#"{{"stale_check":{{"scopes":[{{"keys":{{{keys}}},"prefix":"f/","namespace_id":"ns","sensitive_keys":{{}},"name":"flags","extra":[1]}}]}}}}"#
            )
        };
        let none = BTreeSet::new();
        let check =
            |keys: &str| stale_keys(file(keys).as_bytes(), &d, &now, &none).expect("saved").keys;
        // Fields in any order, unknown fields skipped, keys in any order.
        assert!(check(&format!(r#""f/b":"absent","f/a":"{a}""#)).is_empty());
        // A key saved twice counts with its last fingerprint.
        assert!(check(&format!(r#""f/a":"0000000000000000","f/a":"{a}""#)).is_empty());
        assert_eq!(check(&format!(r#""f/a":"{a}","f/a":"absent""#)), ["f/a"]);
        // Upper-case hex is not the fingerprint it spells.
        assert_eq!(check(&format!(r#""f/a":"{}""#, a.to_uppercase())), ["f/a"]);
        // A key the saved plan did not know is stale when it is listed now ...
        assert_eq!(check(r#""f/b":"absent""#), ["f/a"]);
        // ... and a key only the saved plan knows is stale when it was listed then.
        assert_eq!(check(&format!(r#""f/a":"{a}","f/x":"absent","f/old":"{a}""#)), ["f/old"]);
        // Another scope at this place: the whole scope is stale.
        let other = file("").replace(r#""prefix":"f/""#, r#""prefix":"g/""#);
        assert_eq!(
            stale_keys(other.as_bytes(), &d, &now, &none).expect("saved").keys,
            ["(scope `flags`)"]
        );
        assert!(
            stale_keys(r#"{"stale_check":{"scopes":[]}}"#.as_bytes(), &d, &now, &none)
                .is_ok_and(|s| s.keys == ["(scope `flags`)"])
        );
        // Damaged files are errors.
        for damaged in [
            r#"{"plan":{}}"#.to_owned(),
            file(r#""f/a":1"#),
            file("").replace(r#""name":"flags","#, ""),
            format!("{} x", file("")),
        ] {
            assert!(stale_keys(damaged.as_bytes(), &d, &now, &none).is_err(), "{damaged}");
        }
    }

    /// The stale check as it was computed before it was streamed: maps of every key. The
    /// property below holds the streamed form to it, file format and verdicts alike.
    mod reference {
        use std::collections::{BTreeMap, BTreeSet};

        use serde::Serialize;

        use crate::config::Desired;
        use crate::content::Marker;
        use crate::kv::ListedKey;
        use crate::plan::LiveScope;

        #[derive(Serialize)]
        pub(super) struct StaleCheck {
            pub(super) scopes: Vec<ScopeCheck>,
        }

        #[derive(Serialize)]
        pub(super) struct ScopeCheck {
            pub(super) name: String,
            pub(super) namespace_id: String,
            pub(super) prefix: String,
            pub(super) keys: BTreeMap<String, String>,
            pub(super) sensitive_keys: BTreeMap<String, String>,
        }

        pub(super) fn stale_check(desired: &Desired, live: &[LiveScope]) -> StaleCheck {
            let empty = LiveScope::default();
            let scopes = desired
                .scopes
                .iter()
                .enumerate()
                .map(|(index, scope)| {
                    let listed: BTreeMap<&str, &ListedKey> = live
                        .get(index)
                        .unwrap_or(&empty)
                        .keys
                        .iter()
                        .filter(|k| scope.contains(&k.name))
                        .map(|k| (k.name.as_str(), k))
                        .collect();
                    let ours = |k: &ListedKey| {
                        matches!(k.metadata.marker(), Marker::V1 { owner, .. } if owner == desired.owner)
                    };
                    let relevant: BTreeSet<&str> = scope
                        .entries
                        .keys()
                        .map(String::as_str)
                        .filter(|k| !scope.ignore.is_match(k))
                        .chain(listed.values().filter(|k| ours(k)).map(|k| k.name.as_str()))
                        .collect();
                    let mut keys = BTreeMap::new();
                    let mut sensitive_keys = BTreeMap::new();
                    for key in relevant {
                        let seen = super::super::seen_text(
                            listed.get(key).map(|k| super::super::fingerprint(k)),
                        );
                        let entry = scope.entries.get(key);
                        let live = listed.get(key).copied();
                        if super::super::is_sensitive(entry, live) {
                            sensitive_keys.insert(
                                key.to_owned(),
                                super::super::sensitive_state(entry, live, &desired.owner),
                            );
                        } else {
                            keys.insert(key.to_owned(), seen);
                        }
                    }
                    ScopeCheck {
                        name: scope.name.clone(),
                        namespace_id: scope.namespace_id.clone(),
                        prefix: scope.prefix.clone(),
                        keys,
                        sensitive_keys,
                    }
                })
                .collect();
            StaleCheck { scopes }
        }

        pub(super) fn stale_keys(saved: &StaleCheck, now: &StaleCheck) -> Vec<String> {
            let mut stale = Vec::new();
            for (index, now_scope) in now.scopes.iter().enumerate() {
                let Some(saved_scope) = saved.scopes.get(index).filter(|s| {
                    s.name == now_scope.name
                        && s.namespace_id == now_scope.namespace_id
                        && s.prefix == now_scope.prefix
                }) else {
                    stale.push(format!("(scope `{}`)", now_scope.name));
                    continue;
                };
                let names: BTreeSet<&String> =
                    saved_scope.keys.keys().chain(now_scope.keys.keys()).collect();
                for key in names {
                    let absent = "absent".to_owned();
                    let before = saved_scope.keys.get(key).unwrap_or(&absent);
                    let after = now_scope.keys.get(key).unwrap_or(&absent);
                    if before != after {
                        stale.push(key.clone());
                    }
                }
                let names: BTreeSet<&String> = saved_scope
                    .sensitive_keys
                    .keys()
                    .chain(now_scope.sensitive_keys.keys())
                    .collect();
                for name in names {
                    let absent = "absent".to_owned();
                    let then = saved_scope.sensitive_keys.get(name).unwrap_or(&absent);
                    let now = now_scope.sensitive_keys.get(name).unwrap_or(&absent);
                    if then != now && !super::super::only_the_value_differs(then, now) {
                        stale.push(format!("{name} (sensitive)"));
                    }
                }
            }
            stale
        }
    }

    /// A small world: desired keys (value, sensitive) and a listing that may be out of order,
    /// name a key twice, and hold keys of ours, of others, without marker and ignored.
    fn world_strategy() -> impl proptest::strategy::Strategy<Value = (Desired, Vec<LiveScope>)> {
        use proptest::prelude::*;
        let name = prop::sample::select(vec!["f/a", "f/b", "f/c", "f/rt/x", "g/out", "f/é"]);
        let desired_keys = prop::collection::vec((name.clone(), "[xy]", any::<bool>()), 0..5);
        let listed_key = (name, 0..4u8, "[xy]", prop::option::of(1_900_000_000i64..1_900_000_002))
            .prop_map(|(name, kind, value, expiration)| {
                let mut key = match kind {
                    0 => written(name, "web", &value),
                    1 => written(name, "mobile", &value),
                    2 => ListedKey {
                        name: name.into(),
                        expiration: None,
                        metadata: ListedMetadata::none(),
                    },
                    _ => ListedKey {
                        name: name.into(),
                        expiration: None,
                        metadata: ListedMetadata::from_json(Some(&serde_json::json!({"n": value}))),
                    },
                };
                key.expiration = expiration;
                key
            });
        (desired_keys, prop::collection::vec(listed_key, 0..7), any::<bool>()).prop_map(
            |(keys, mut listed, sorted)| {
                let entries: Vec<(&str, &str, bool)> =
                    keys.iter().map(|(k, v, s)| (*k, v.as_str(), *s)).collect();
                if sorted {
                    listed.sort_by(|a, b| a.name.cmp(&b.name));
                }
                (desired(&entries), live(listed))
            },
        )
    }

    proptest::proptest! {
        /// Streamed, the stale check writes the file the maps wrote, and reading a saved one
        /// finds exactly the keys the maps found.
        #[test]
        fn streams_what_the_maps_computed(before in world_strategy(), after in world_strategy()) {
            let streamed = serde_json::to_string_pretty(&stale_check(&before.0, &before.1)).expect("json");
            let maps = reference::stale_check(&before.0, &before.1);
            proptest::prop_assert_eq!(&streamed, &serde_json::to_string_pretty(&maps).expect("json"));
            // The same config before and after, as apply requires (the digest checks it).
            let after = (before.0.clone(), after.1);
            let expected =
                reference::stale_keys(&maps, &reference::stale_check(&after.0, &after.1));
            proptest::prop_assert_eq!(stale(&before, &after), expected);
        }
    }

    #[test]
    fn the_config_digest_ignores_secret_values_but_not_other_changes() {
        let a = config_digest(&desired(&[("f/a", "1", false), ("f/s", "x", true)]));
        assert_eq!(a, config_digest(&desired(&[("f/a", "1", false), ("f/s", "y", true)])));
        assert_ne!(a, config_digest(&desired(&[("f/a", "2", false), ("f/s", "x", true)])));
        assert_ne!(a, config_digest(&desired(&[("f/a", "1", false)])));
    }
}
