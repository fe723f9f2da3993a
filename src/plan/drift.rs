//! Drift: how the live namespaces differ from the config, as data (DESIGN.md §3, §7).
//!
//! The fast check reads only the plan (the markers in the listing); the deep check also compares
//! live values, user metadata and absolute expirations with the desired state, which catches hand
//! edits that kept the marker (`tampered`). Both are pure here; fetching values is the CLI's job.

use std::collections::{HashMap, HashSet};

use super::{Action, ConflictReason, DeleteReason, LiveScope, Plan, ScopePlan};
use crate::config::{Desired, DesiredEntry, DesiredScope, Violation};
use crate::content::Expiration;
use crate::content::MARKER_FIELD;
use crate::kv::{ListedKey, LiveValue};

/// The kinds of drift (DESIGN.md §3's drift column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftClass {
    /// Deep check only: the live value breaks its key's schema (`schemas:`): a Worker reading
    /// it gets what it cannot use.
    Invalid,
    /// Desired, but absent live.
    Missing,
    /// Ours, with a content hash other than the desired one.
    Changed,
    /// Desired, live without a marker: written by hand.
    Modified,
    /// Desired, held by another owner or a newer kvsync.
    Conflict,
    /// Ours, no longer desired, and `prune: true`: apply would delete it.
    Extra,
    /// Deep check only: the marker matches, but the value, user metadata or absolute expiration
    /// does not.
    Tampered,
}

/// One drifted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedKey {
    pub key: String,
    pub class: DriftClass,
    /// A short explanation (the other owner; for `tampered`, what differs).
    pub detail: Option<String>,
}

/// The drift of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDrift {
    pub name: String,
    pub namespace_id: String,
    pub prefix: String,
    /// Drifted keys in UTF-8 byte order.
    pub drifted: Vec<DriftedKey>,
    /// Keys in sync.
    pub in_sync: usize,
    /// Live keys nobody here owns: listed, never counted as drift.
    pub unmanaged: Vec<String>,
    /// Desired `expiration_ttl` keys that are absent: a listing cannot tell an expired key from a
    /// deleted one, so they are not counted.
    pub expired_ttl: Vec<String>,
}

/// The drift of a whole config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftReport {
    pub scopes: Vec<ScopeDrift>,
    /// Whether values were read (`--deep`).
    pub deep: bool,
}

impl DriftReport {
    /// Drifted keys in all scopes (unmanaged and expired TTL keys are not drift).
    pub fn count(&self) -> usize {
        self.scopes.iter().map(|s| s.drifted.len()).sum()
    }

    pub fn has_drift(&self) -> bool {
        self.count() > 0
    }
}

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

/// The fast drift report: what the plan's classification (from the markers alone) says about
/// each key. DESIGN.md §3's drift column, key by key:
///
/// - `create` → `missing`, except for an absent `expiration_ttl` key, which goes to
///   [`ScopeDrift::expired_ttl`] and is not counted: a listing cannot tell an expired key from a
///   deleted one;
/// - `update` → `changed`; `adopt` → `modified`;
/// - `conflict` and `take-over` → `conflict`, the detail naming the owner (a take-over stays
///   drift until apply has run);
/// - `delete` of a key no longer desired → `extra`;
/// - not drift: `noop` (counted in [`ScopeDrift::in_sync`]), orphans (`prune: false` says to
///   keep them), protected keys (the config says to leave them alone), and keys deleted because
///   their `expiration` is less than a minute away (KV removes them on schedule);
/// - unmanaged keys are copied from the plan: listed, never counted.
///
/// The plan must be made without `--only` and `--take-over` (drift always looks at everything);
/// `desired` is the state it was made from, and decides which absent keys are TTL keys.
pub fn from_plan(plan: &Plan, desired: &Desired) -> DriftReport {
    let scopes = plan
        .scopes
        .iter()
        .enumerate()
        .map(|(index, scope)| scope_drift(scope, desired.scopes.get(index)))
        .collect();
    DriftReport { scopes, deep: false }
}

fn scope_drift(plan: &ScopePlan, desired: Option<&DesiredScope>) -> ScopeDrift {
    let mut out = ScopeDrift {
        name: plan.name.clone(),
        namespace_id: plan.namespace_id.clone(),
        prefix: plan.prefix.clone(),
        drifted: Vec::new(),
        in_sync: plan.unchanged,
        unmanaged: plan.unmanaged.clone(),
        expired_ttl: Vec::new(),
    };
    for change in &plan.changes {
        let (class, detail) = match &change.action {
            Action::Create => {
                let expiration = desired
                    .and_then(|scope| scope.entries.get(&change.key))
                    .map(|entry| entry.expiration)
                    .or_else(|| change.desired.as_ref().map(|d| d.expiration));
                if matches!(expiration, Some(Expiration::Ttl(_))) {
                    out.expired_ttl.push(change.key.clone());
                    continue;
                }
                (DriftClass::Missing, None)
            }
            Action::Update => (DriftClass::Changed, None),
            Action::Adopt => (DriftClass::Modified, None),
            Action::Conflict { reason: ConflictReason::Owner(owner) } => {
                (DriftClass::Conflict, Some(format!("owned by `{owner}`")))
            }
            Action::Conflict { reason: ConflictReason::NewerVersion(version) } => (
                DriftClass::Conflict,
                Some(format!("written by a newer kvsync (marker v{version}): upgrade kvsync")),
            ),
            Action::Conflict { reason: ConflictReason::Unreadable(detail) } => (
                DriftClass::Conflict,
                Some(format!("ours, but its marker cannot be read ({detail}): upgrade kvsync")),
            ),
            Action::Conflict { reason: ConflictReason::DamagedListing(detail) } => (
                DriftClass::Conflict,
                Some(format!("Cloudflare lists it damaged ({detail}); kvsync leaves it alone")),
            ),
            Action::TakeOver { from } => (
                DriftClass::Conflict,
                Some(format!("owned by `{from}`; `take_over:` lets apply take it")),
            ),
            Action::Delete { reason: DeleteReason::NotDesired } => (DriftClass::Extra, None),
            Action::Delete { reason: DeleteReason::Expiring }
            | Action::Orphan
            | Action::Protected { .. } => continue,
        };
        out.drifted.push(DriftedKey { key: change.key.clone(), class, detail });
    }
    out
}

/// The keys of one scope that the plan found in sync (`noop`), with their desired entry and
/// listing, in key order: the only keys a deep check has to read, since every other desired
/// key is already drift or absent.
///
/// `plan`, `desired` and `live` are the same scope's plan, desired state and listing. A desired
/// key is in sync when it is inside the scope (prefix, not ignored), listed, and neither a
/// change nor unmanaged in the plan (an entry too close to its `expiration` is one or the other).
pub fn in_sync_keys<'a>(
    plan: &ScopePlan,
    desired: &'a DesiredScope,
    live: &'a LiveScope,
) -> Vec<(&'a str, &'a DesiredEntry, &'a ListedKey)> {
    let listed: HashMap<&str, &ListedKey> =
        live.keys.iter().map(|key| (key.name.as_str(), key)).collect();
    let not_in_sync: HashSet<&str> = plan
        .changes
        .iter()
        .map(|change| change.key.as_str())
        .chain(plan.unmanaged.iter().map(String::as_str))
        .collect();
    desired
        .entries
        .iter()
        .filter(|(key, _)| key.starts_with(&desired.prefix) && !desired.ignore.is_match(key))
        .filter(|(key, _)| !not_in_sync.contains(key.as_str()))
        .filter_map(|(key, entry)| {
            listed.get(key.as_str()).map(|listed| (key.as_str(), entry, *listed))
        })
        .collect()
}

/// Compares one live key with its desired state directly, for the deep check: the value
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
pub fn compare_deep(
    desired_value: &[u8],
    desired_metadata: Option<&serde_json::Map<String, serde_json::Value>>,
    desired_expiration: Expiration,
    live_value: &LiveValue,
    live: &ListedKey,
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
    if !metadata_equal(desired_metadata, live.metadata.to_json().as_ref()) {
        differences.push(Difference::Metadata);
    }
    let expiration_equal = match desired_expiration {
        Expiration::Never => live.expiration.is_none(),
        Expiration::At(at) => live.expiration == Some(at),
        Expiration::Ttl(_) => true,
    };
    if !expiration_equal {
        differences.push(Difference::Expiration);
    }
    differences
}

/// Records what the deep check found for one key of `report.scopes[scope_index]` that the fast
/// check counted in sync. No differences: nothing changes. Otherwise the key leaves `in_sync`
/// and becomes a `tampered` entry whose detail joins the differences (`value differs; metadata
/// differs`), inserted in key order; a key that was gone when read becomes `missing` instead
/// (or, for an `expiration_ttl` key, an uncounted [`ScopeDrift::expired_ttl`] entry, as in the
/// fast check). A live value that breaks its schema (`violations`, from
/// [`schema_violations`]) makes the key `invalid` instead of `tampered`, the violations first
/// in its detail. A `scope_index` out of range is ignored.
pub fn add_deep_findings(
    report: &mut DriftReport,
    scope_index: usize,
    key: &str,
    desired_expiration: Expiration,
    differences: &[Difference],
    violations: &[Violation],
) {
    let Some(scope) = report.scopes.get_mut(scope_index) else { return };
    if differences.is_empty() {
        return;
    }
    scope.in_sync = scope.in_sync.saturating_sub(1);
    let (class, detail) = if differences.contains(&Difference::Gone) {
        if matches!(desired_expiration, Expiration::Ttl(_)) {
            insert_sorted(&mut scope.expired_ttl, key.to_owned());
            return;
        }
        (DriftClass::Missing, Some(Difference::Gone.describe().to_owned()))
    } else if let Some(first) = violations.first() {
        let mut words = vec![format!("breaks its schema {}", first.describe())];
        if violations.len() > 1 {
            words.push(format!("{} more violations", violations.len() - 1));
        }
        words.extend(differences.iter().map(|d| d.describe().to_owned()));
        (DriftClass::Invalid, Some(words.join("; ")))
    } else {
        let words: Vec<&str> = differences.iter().map(|d| d.describe()).collect();
        (DriftClass::Tampered, Some(words.join("; ")))
    };
    let entry = DriftedKey { key: key.to_owned(), class, detail };
    match scope.drifted.binary_search_by(|k| k.key.as_str().cmp(key)) {
        Ok(at) => scope.drifted[at] = entry,
        Err(at) => scope.drifted.insert(at, entry),
    }
}

/// How a live value breaks the schemas of its key, for a key whose value differs from the
/// desired one (a desired value was already checked when the config loaded). Sensitive keys'
/// violations never quote the value.
pub fn schema_violations(
    scope: &DesiredScope,
    key: &str,
    live_value: &LiveValue,
    sensitive: bool,
    differences: &[Difference],
) -> Vec<Violation> {
    if scope.schemas.is_empty() || !differences.contains(&Difference::Value) {
        return Vec::new();
    }
    let bytes = match live_value {
        LiveValue::Text(text) => text.as_bytes(),
        LiveValue::Binary(bytes) => bytes.as_slice(),
        LiveValue::Missing | LiveValue::Unreadable(_) => return Vec::new(),
    };
    scope.schemas.check(key, bytes, sensitive)
}

fn insert_sorted(keys: &mut Vec<String>, key: String) {
    if let Err(at) = keys.binary_search(&key) {
        keys.insert(at, key);
    }
}

/// Whether the desired user metadata equals the user part of the live metadata.
pub(super) fn metadata_equal(
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
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
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
fn number_equal(a: &serde_json::Number, b: &serde_json::Number) -> bool {
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
    use crate::config::desired::UserMetadata;
    use crate::config::{Globs, ValueSource};
    use crate::content::{content_hash, written_metadata};
    use crate::kv::ListedMetadata;
    use crate::plan::Options;

    const OWNER: &str = "web";
    const NOW: i64 = 1_900_000_000;
    type Meta = serde_json::Map<String, serde_json::Value>;

    fn globs(patterns: &[&str]) -> Globs {
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        Globs::new(&patterns).expect("valid globs")
    }

    fn meta(json: &str) -> Meta {
        serde_json::from_str(json).expect("metadata JSON")
    }

    fn entry(value: &str, metadata: Option<Meta>, expiration: Expiration) -> DesiredEntry {
        let hash = content_hash(
            value.as_bytes(),
            metadata.clone().map(serde_json::Value::Object).as_ref(),
            expiration,
        );
        DesiredEntry {
            value: ValueSource::Inline(value.as_bytes().into()),
            size: value.len() as u64,
            is_text: true,
            json: false,
            metadata: metadata.map(UserMetadata::from),
            expiration,
            sensitive: false,
            hash,
        }
    }

    fn plain(value: &str) -> DesiredEntry {
        entry(value, None, Expiration::Never)
    }

    fn scope(entries: &[(&str, DesiredEntry)]) -> DesiredScope {
        DesiredScope {
            name: "flags".into(),
            namespace_id: "ns1".into(),
            resolved_from: None,
            prefix: "f/".into(),
            list_shards: Vec::new(),
            prune: true,
            allow_empty: false,
            ignore: Globs::empty(),
            protect: Globs::empty(),
            take_over: Globs::empty(),
            entries: entries.iter().map(|(k, e)| ((*k).to_owned(), e.clone())).collect(),
            schemas: crate::config::ValueSchemas::default(),
        }
    }

    fn desired(scopes: Vec<DesiredScope>) -> Desired {
        Desired {
            owner: OWNER.into(),
            environment: None,
            account_id: None,
            target: None,
            local_path: None,
            max_deletes: 50,
            plan_tier: Default::default(),
            scopes,
        }
    }

    /// A live key as `owner` writes `entry` (listing side: metadata and expiration).
    fn written(key: &str, owner: &str, entry: &DesiredEntry) -> ListedKey {
        let expiration = match entry.expiration {
            Expiration::Never => None,
            Expiration::Ttl(seconds) => Some(NOW + i64::try_from(seconds).expect("ttl")),
            Expiration::At(at) => Some(at),
        };
        ListedKey {
            name: key.into(),
            expiration,
            metadata: ListedMetadata::from_json(Some(&written_metadata(
                entry.metadata.as_ref().map(UserMetadata::to_map).as_ref(),
                owner,
                entry.hash,
                None,
            ))),
        }
    }

    fn bare(key: &str) -> ListedKey {
        ListedKey { name: key.into(), expiration: None, metadata: ListedMetadata::none() }
    }

    /// Plans `desired` against one listing per scope, the way `kvsync drift` does (no `--only`,
    /// no `--take-over`), and returns the fast report.
    fn check(desired: &Desired, live: Vec<Vec<ListedKey>>) -> DriftReport {
        let live: Vec<LiveScope> = live.into_iter().map(|keys| LiveScope { keys }).collect();
        let options = Options {
            owner: OWNER.into(),
            now: NOW,
            take_over_owner: None,
            only: None,
            guards: crate::plan::guards::Guards::default(),
        };
        from_plan(&crate::plan::plan(desired, &live, &options), desired)
    }

    fn classes(scope: &ScopeDrift) -> Vec<(&str, DriftClass, Option<&str>)> {
        scope.drifted.iter().map(|d| (d.key.as_str(), d.class, d.detail.as_deref())).collect()
    }

    #[test]
    fn every_class_of_the_drift_column() {
        let mut flags = scope(&[
            ("f/changed", plain("new")),
            ("f/conflict", plain("x")),
            ("f/missing", plain("m")),
            ("f/modified", plain("x")),
            ("f/newer", plain("x")),
            ("f/same", plain("same")),
            ("f/taken", plain("x")),
        ]);
        flags.take_over = globs(&["f/taken"]);
        let live = vec![
            written("f/changed", OWNER, &plain("old")),
            written("f/conflict", "billing", &plain("x")),
            written("f/extra", OWNER, &plain("gone")),
            bare("f/modified"),
            ListedKey {
                name: "f/newer".into(),
                expiration: None,
                metadata: ListedMetadata::from_json(Some(
                    &serde_json::json!({"__kvsync": {"v": 2, "owner": OWNER}}),
                )),
            },
            written("f/same", OWNER, &plain("same")),
            written("f/taken", "billing", &plain("y")),
            written("f/theirs", "billing", &plain("t")),
            bare("f/unmarked"),
        ];
        let report = check(&desired(vec![flags]), vec![live]);
        let scope = &report.scopes[0];
        assert_eq!(
            classes(scope),
            vec![
                ("f/changed", DriftClass::Changed, None),
                ("f/conflict", DriftClass::Conflict, Some("owned by `billing`")),
                ("f/extra", DriftClass::Extra, None),
                ("f/missing", DriftClass::Missing, None),
                ("f/modified", DriftClass::Modified, None),
                (
                    "f/newer",
                    DriftClass::Conflict,
                    Some("written by a newer kvsync (marker v2): upgrade kvsync")
                ),
                (
                    "f/taken",
                    DriftClass::Conflict,
                    Some("owned by `billing`; `take_over:` lets apply take it")
                ),
            ]
        );
        assert_eq!(scope.in_sync, 1);
        assert_eq!(scope.unmanaged, vec!["f/theirs".to_owned(), "f/unmarked".to_owned()]);
        assert!(scope.expired_ttl.is_empty());
        assert_eq!((report.count(), report.has_drift(), report.deep), (7, true, false));
        assert_eq!((scope.name.as_str(), scope.namespace_id.as_str()), ("flags", "ns1"));
    }

    #[test]
    fn an_absent_ttl_key_is_listed_but_not_counted() {
        let cache = entry("cached", None, Expiration::Ttl(3600));
        let flags = scope(&[("f/cache", cache.clone()), ("f/same", plain("same"))]);
        let desired = desired(vec![flags]);
        let report = check(&desired, vec![vec![written("f/same", OWNER, &plain("same"))]]);
        assert_eq!(report.scopes[0].expired_ttl, vec!["f/cache".to_owned()]);
        assert!(!report.has_drift());

        // While it lives it is in sync like any other key.
        let live =
            vec![written("f/cache", OWNER, &cache), written("f/same", OWNER, &plain("same"))];
        let report = check(&desired, vec![live]);
        assert_eq!((report.scopes[0].in_sync, report.count()), (2, 0));
    }

    #[test]
    fn orphans_protected_expiring_and_unmanaged_keys_are_not_drift() {
        let mut kept = scope(&[]);
        kept.prune = false;
        let mut guarded = scope(&[("f/adopt", plain("x"))]);
        guarded.name = "guarded".into();
        guarded.protect = globs(&["f/*"]);
        let soon = entry("s", None, Expiration::At(NOW + 30));
        let expiring = scope(&[("f/soon", soon.clone())]);
        let report = check(
            &desired(vec![kept, guarded, expiring]),
            vec![
                vec![written("f/orphan", OWNER, &plain("o")), bare("f/hand")],
                vec![bare("f/adopt"), written("f/old", OWNER, &plain("o"))],
                vec![written("f/soon", OWNER, &soon)],
            ],
        );
        assert!(!report.has_drift(), "{report:?}");
        assert_eq!(report.scopes[0].unmanaged, vec!["f/hand".to_owned()]);
        assert_eq!(report.scopes.len(), 3);
    }

    #[test]
    fn in_sync_keys_are_exactly_the_noops() {
        let mut flags = scope(&[
            ("f/a", plain("a")),
            ("f/b", plain("b")),
            ("f/c", plain("c")),
            ("f/rt/x", plain("x")),
            ("f/soon", entry("s", None, Expiration::At(NOW + 30))),
        ]);
        flags.ignore = globs(&["f/rt/*"]);
        let live = LiveScope {
            keys: vec![
                written("f/a", OWNER, &plain("a")),
                written("f/b", OWNER, &plain("old")),
                written("f/c", OWNER, &plain("c")),
                written("f/rt/x", OWNER, &plain("x")),
                bare("f/soon"),
            ],
        };
        let desired = desired(vec![flags]);
        let options = Options {
            owner: OWNER.into(),
            now: NOW,
            take_over_owner: None,
            only: None,
            guards: crate::plan::guards::Guards::default(),
        };
        let plan = crate::plan::plan(&desired, std::slice::from_ref(&live), &options);
        let keys = in_sync_keys(&plan.scopes[0], &desired.scopes[0], &live);
        let names: Vec<&str> = keys.iter().map(|(key, _, _)| *key).collect();
        assert_eq!(names, vec!["f/a", "f/c"]);
        assert_eq!(keys.len(), plan.scopes[0].unchanged);
        assert!(keys.iter().all(|(key, _, listed)| listed.name == *key));
    }

    /// Compares `desired` with a live copy written from `live` (marker included) holding
    /// `live_value`.
    fn deep(desired: &DesiredEntry, live: &DesiredEntry, live_value: &str) -> Vec<Difference> {
        let ValueSource::Inline(bytes) = &desired.value else { panic!("inline values only") };
        compare_deep(
            bytes,
            desired.metadata.as_ref().map(UserMetadata::to_map).as_ref(),
            desired.expiration,
            &LiveValue::Text(live_value.to_owned()),
            &written("f/k", OWNER, live),
        )
    }

    #[test]
    fn deep_finds_nothing_in_an_exact_copy() {
        let with_meta =
            entry("v", Some(meta(r#"{"team":"growth","n":[1,{"a":true}]}"#)), Expiration::Never);
        assert_eq!(deep(&with_meta, &with_meta, "v"), vec![]);
        let ttl = entry("v", None, Expiration::Ttl(600));
        assert_eq!(deep(&ttl, &ttl, "v"), vec![]);
        let at = entry("v", None, Expiration::At(NOW + 600));
        assert_eq!(deep(&at, &at, "v"), vec![]);
    }

    #[test]
    fn deep_finds_a_value_rewritten_with_its_old_metadata() {
        let flag = plain("on");
        assert_eq!(deep(&flag, &flag, "off"), vec![Difference::Value]);
        let binary = compare_deep(
            b"on",
            None,
            Expiration::Never,
            &LiveValue::Binary(vec![0xff, 0x00]),
            &written("f/k", OWNER, &flag),
        );
        assert_eq!(binary, vec![Difference::Value]);
    }

    #[test]
    fn deep_compares_metadata_as_json_values() {
        // 1.50 in the YAML is written as 1.5; any way of writing the same number is equal.
        let desired =
            entry("v", Some(meta(r#"{"rate":1.50,"max":2,"tags":["a"]}"#)), Expiration::Never);
        for same in
            [r#"{"rate":1.5,"max":2,"tags":["a"]}"#, r#"{"tags":["a"],"max":2.0,"rate":15e-1}"#]
        {
            let live = entry("v", Some(meta(same)), Expiration::Never);
            assert_eq!(deep(&desired, &live, "v"), vec![], "{same}");
        }
        for other in [
            r#"{"rate":1.51,"max":2,"tags":["a"]}"#,
            r#"{"rate":1.5,"max":"2","tags":["a"]}"#,
            r#"{"rate":1.5,"max":2,"tags":["a","b"]}"#,
            r#"{"rate":1.5,"max":2,"tags":["a"],"extra":null}"#,
            r#"{"rate":1.5,"tags":["a"]}"#,
        ] {
            let live = entry("v", Some(meta(other)), Expiration::Never);
            assert_eq!(deep(&desired, &live, "v"), vec![Difference::Metadata], "{other}");
        }
        // Metadata written by hand onto a key that has none, and the reverse.
        let none = plain("v");
        let some = entry("v", Some(meta(r#"{"team":"x"}"#)), Expiration::Never);
        assert_eq!(deep(&none, &some, "v"), vec![Difference::Metadata]);
        assert_eq!(deep(&some, &none, "v"), vec![Difference::Metadata]);
        // An empty object is written exactly like no metadata.
        let empty = entry("v", Some(Meta::new()), Expiration::Never);
        assert_eq!(deep(&empty, &none, "v"), vec![]);
    }

    #[test]
    fn deep_ignores_the_marker_field() {
        let desired = entry("v", Some(meta(r#"{"team":"growth"}"#)), Expiration::Never);
        // Another owner, another hash, a rev: none of it is user metadata.
        let live = ListedKey {
            name: "f/k".into(),
            expiration: None,
            metadata: ListedMetadata::from_json(Some(&serde_json::json!({
                "team": "growth",
                "__kvsync": {"v": 1, "owner": "someone", "sha256": "00", "rev": "abc"}
            }))),
        };
        let found = compare_deep(
            b"v",
            desired.metadata.as_ref().map(UserMetadata::to_map).as_ref(),
            Expiration::Never,
            &LiveValue::Text("v".into()),
            &live,
        );
        assert_eq!(found, vec![]);
    }

    #[test]
    fn deep_compares_absolute_expirations_only() {
        let at = entry("v", None, Expiration::At(NOW + 600));
        let later = entry("v", None, Expiration::At(NOW + 700));
        assert_eq!(deep(&at, &later, "v"), vec![Difference::Expiration]);
        let never = plain("v");
        assert_eq!(deep(&never, &at, "v"), vec![Difference::Expiration]);
        assert_eq!(deep(&at, &never, "v"), vec![Difference::Expiration]);
        // A TTL key's live expiration depends on when it was written: never compared.
        let ttl = entry("v", None, Expiration::Ttl(600));
        assert_eq!(deep(&ttl, &never, "v"), vec![]);
        assert_eq!(deep(&ttl, &later, "x"), vec![Difference::Value]);
        // Everything at once, in the fixed order.
        let tampered = entry("v", Some(meta(r#"{"a":1}"#)), Expiration::At(NOW + 1));
        assert_eq!(
            deep(&never, &tampered, "w"),
            vec![Difference::Value, Difference::Metadata, Difference::Expiration]
        );
    }

    #[test]
    fn deep_reports_a_value_gone_since_the_listing() {
        let flag = plain("on");
        let found = compare_deep(
            b"on",
            None,
            Expiration::Never,
            &LiveValue::Missing,
            &written("f/k", OWNER, &flag),
        );
        assert_eq!(found, vec![Difference::Gone]);
    }

    #[test]
    fn deep_findings_become_tampered_entries_in_key_order() {
        let flags = scope(&[
            ("f/a", plain("a")),
            ("f/b", plain("b")),
            ("f/c", plain("c")),
            ("f/d", plain("d")),
            ("f/t", entry("t", None, Expiration::Ttl(600))),
        ]);
        let live = vec![
            written("f/b", OWNER, &plain("b")),
            written("f/c", OWNER, &plain("old")),
            written("f/d", OWNER, &plain("d")),
            written("f/t", OWNER, &entry("t", None, Expiration::Ttl(600))),
        ];
        let mut report = check(&desired(vec![flags]), vec![live]);
        assert_eq!(report.scopes[0].in_sync, 3);
        add_deep_findings(&mut report, 0, "f/d", Expiration::Never, &[], &[]);
        add_deep_findings(
            &mut report,
            0,
            "f/d",
            Expiration::Never,
            &[Difference::Value, Difference::Metadata],
            &[],
        );
        add_deep_findings(&mut report, 0, "f/b", Expiration::Never, &[Difference::Expiration], &[]);
        add_deep_findings(&mut report, 0, "f/t", Expiration::Ttl(600), &[Difference::Gone], &[]);
        add_deep_findings(&mut report, 7, "f/x", Expiration::Never, &[Difference::Value], &[]);
        let found = &report.scopes[0];
        assert_eq!(
            classes(found),
            vec![
                ("f/a", DriftClass::Missing, None),
                ("f/b", DriftClass::Tampered, Some("expiration differs")),
                ("f/c", DriftClass::Changed, None),
                ("f/d", DriftClass::Tampered, Some("value differs; metadata differs")),
            ]
        );
        assert_eq!(found.in_sync, 0);
        assert_eq!(found.expired_ttl, vec!["f/t".to_owned()]);

        // A key that vanished between the listing and the read, without a TTL: missing now.
        let flags = scope(&[("f/a", plain("a"))]);
        let mut report =
            check(&desired(vec![flags]), vec![vec![written("f/a", OWNER, &plain("a"))]]);
        add_deep_findings(&mut report, 0, "f/a", Expiration::Never, &[Difference::Gone], &[]);
        assert_eq!(
            classes(&report.scopes[0]),
            vec![("f/a", DriftClass::Missing, Some("deleted while the deep check ran"))]
        );
    }

    #[test]
    fn a_live_value_that_breaks_its_schema_is_invalid_not_tampered() {
        let flags = scope(&[("f/a", plain("1")), ("f/b", plain("2"))]);
        let live = vec![written("f/a", OWNER, &plain("1")), written("f/b", OWNER, &plain("2"))];
        let mut report = check(&desired(vec![flags]), vec![live]);
        let violation = Violation {
            instance_path: "/rollout".into(),
            message: "150 is greater than the maximum of 100".into(),
            schema_location: "schemas/flag.json#/properties/rollout/maximum".into(),
        };
        let value = [Difference::Value];
        add_deep_findings(
            &mut report,
            0,
            "f/a",
            Expiration::Never,
            &value,
            std::slice::from_ref(&violation),
        );
        add_deep_findings(&mut report, 0, "f/b", Expiration::Never, &value, &[]);
        assert_eq!(
            classes(&report.scopes[0]),
            vec![
                (
                    "f/a",
                    DriftClass::Invalid,
                    Some(
                        "breaks its schema at `/rollout`: 150 is greater than the maximum of 100 \
                         (schema `schemas/flag.json#/properties/rollout/maximum`); value differs"
                    )
                ),
                ("f/b", DriftClass::Tampered, Some("value differs")),
            ]
        );
        // Without schemas, or when only the metadata differs, the value is not checked.
        let scope = scope(&[("f/a", plain("1"))]);
        let live = LiveValue::Text("not json".into());
        assert!(schema_violations(&scope, "f/a", &live, false, &value).is_empty());
    }
}
