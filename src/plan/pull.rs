//! `kvsync pull`: which live changes are hand edits to write back into the config, as data.
//!
//! A hand edit is a key whose live content differs from what its own marker records (someone
//! changed a key kvsync wrote), or a desired key without a marker whose live content differs
//! from the desired one. A key whose live content still matches its marker but not the config is
//! the config's own pending change: left alone. A key changed in both places is reported and
//! never written. Keys of another owner, ignored and protected keys are never pulled. Pure: the
//! caller lists, reads the values [`values_to_read`] names, and edits the files.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use crate::config::edit::{Change, Refusal, Refused, What};
use crate::config::{DesiredEntry, DesiredScope, Globs, Violation};
use crate::content::{Expiration, Marker, content_hash};
use crate::kv::{ListedKey, LiveValue};

use super::LiveScope;
use super::compare::{Difference, compare, expiration_equal, metadata_equal};

/// What `pull` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub owner: String,
    /// Read the value of every desired key (a hand edit that kept the metadata is only seen by
    /// reading values), not only of keys whose marker disagrees with the config.
    pub deep: bool,
    /// Add keys present live and not in the config (unmarked, inside the scope).
    pub adopt: bool,
    /// Only keys matching these globs (empty: all).
    pub only: Globs,
}

impl Options {
    fn wants(&self, key: &str) -> bool {
        self.only.is_empty() || self.only.is_match(key)
    }
}

/// A key's live state, as it would be written into the config.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveState {
    pub value: Vec<u8>,
    /// User metadata (the marker left out); `None` when there is none.
    pub metadata: Option<Map<String, Value>>,
    /// The absolute expiration; `None` when the key never expires.
    pub expiration: Option<i64>,
    /// Which parts differ from the desired entry (all three for a key to adopt).
    pub value_changed: bool,
    pub metadata_changed: bool,
    pub expiration_changed: bool,
}

/// What pull found for one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Changed live by hand: the config should say this.
    Pull(LiveState),
    /// Present live, not in the config, unmarked (`--adopt`).
    Adopt(LiveState),
    /// Changed live, and its value is a secret: never written into a file. Which parts
    /// changed: the value, the metadata, the expiration.
    Sensitive { value: bool, metadata: bool, expiration: bool },
    /// Changed live and in the config since kvsync last wrote it: a person decides.
    ChangedBoth,
    /// Live is as kvsync wrote it (it matches its marker) and the config says otherwise: either
    /// the config changed after that apply (waiting for the next one), or someone applied
    /// another config (another branch, a laptop), which the next apply would revert. Which one
    /// is the marker's revision's to say ([`applied_live`]).
    AppliedLive,
    /// Changed live into something its schema refuses: a person decides.
    BreaksSchema(Vec<Violation>),
    /// In the config, absent live. `ttl`: an `expiration_ttl` key, which may just have expired
    /// and is never removed.
    Missing { ttl: bool },
    /// Its value could not be read.
    Unreadable(String),
}

/// One key's finding, with the revision that last wrote it (from its marker).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub key: String,
    pub found: Found,
    pub revision: Option<String>,
}

/// The listed keys of one scope whose values pull must read.
pub fn values_to_read<'a>(
    scope: &DesiredScope,
    live: &'a LiveScope,
    options: &Options,
) -> Vec<&'a ListedKey> {
    live.keys
        .iter()
        .filter(|listed| {
            let key = listed.name.as_str();
            if !scope.contains(key) || !options.wants(key) {
                return false;
            }
            match (scope.entries.get(key), listed.metadata.marker()) {
                (Some(entry), Marker::V1 { owner, sha256, .. }) if owner == options.owner => {
                    options.deep || sha256 != entry.hash || listing_differs(entry, listed)
                }
                (Some(_), Marker::None) => true,
                (None, _) => options.adopt && adoptable(scope, listed),
                _ => false,
            }
        })
        .collect()
}

/// What pull finds in one scope, in key order. `values` holds the values
/// [`values_to_read`] named; `desired_bytes` reads a desired entry's value.
pub fn find(
    scope: &DesiredScope,
    live: &LiveScope,
    values: &HashMap<String, LiveValue>,
    desired_bytes: &dyn Fn(&DesiredEntry) -> Option<Vec<u8>>,
    options: &Options,
) -> Vec<Finding> {
    let listed: HashMap<&str, &ListedKey> =
        live.keys.iter().map(|key| (key.name.as_str(), key)).collect();
    let mut findings = Vec::new();
    for (key, entry) in &scope.entries {
        if !scope.contains(key) || !options.wants(key) || scope.protect.is_match(key) {
            continue;
        }
        let Some(listed) = listed.get(key.as_str()) else {
            let ttl = matches!(entry.expiration, Expiration::Ttl(_));
            findings.push(Finding {
                key: key.clone(),
                found: Found::Missing { ttl },
                revision: None,
            });
            continue;
        };
        if let Some(found) = desired_key(scope, key, entry, listed, values, desired_bytes, options)
        {
            let revision = match listed.metadata.marker() {
                Marker::V1 { rev, .. } => rev,
                _ => None,
            };
            findings.push(Finding { key: key.clone(), found, revision });
        }
    }
    if options.adopt {
        for listed in &live.keys {
            let key = listed.name.as_str();
            if !options.wants(key) || !adoptable(scope, listed) {
                continue;
            }
            let found = match values.get(key) {
                Some(LiveValue::Text(text)) => Found::Adopt(whole(text.as_bytes(), listed)),
                Some(LiveValue::Binary(bytes)) => Found::Adopt(whole(bytes, listed)),
                Some(LiveValue::Unreadable(why)) => Found::Unreadable(why.clone()),
                Some(LiveValue::Missing) | None => continue,
            };
            findings.push(Finding { key: key.to_owned(), found, revision: None });
        }
        findings.sort_by(|a, b| a.key.cmp(&b.key));
    }
    findings
}

/// A desired, listed key: `None` when there is nothing to pull or report.
fn desired_key(
    scope: &DesiredScope,
    key: &str,
    entry: &DesiredEntry,
    listed: &ListedKey,
    values: &HashMap<String, LiveValue>,
    desired_bytes: &dyn Fn(&DesiredEntry) -> Option<Vec<u8>>,
    options: &Options,
) -> Option<Found> {
    let marker = listed.metadata.marker();
    let recorded = match &marker {
        Marker::V1 { owner, sha256, .. } if *owner == options.owner => Some(*sha256),
        Marker::None => None,
        // Another owner's, a newer kvsync's or an unreadable marker: never pulled.
        _ => return None,
    };
    let value = values.get(key)?;
    let bytes = match value {
        LiveValue::Text(text) => text.as_bytes(),
        LiveValue::Binary(bytes) => bytes.as_slice(),
        LiveValue::Missing => return Some(Found::Missing { ttl: false }),
        LiveValue::Unreadable(why) => return Some(Found::Unreadable(why.clone())),
    };
    let metadata = listed.metadata.user().filter(|m| !m.is_empty());
    // A TTL key's live expiration depends on when it was written: it is not compared.
    let expiration = match entry.expiration {
        Expiration::Ttl(ttl) => Expiration::Ttl(ttl),
        _ => listed.expiration.map_or(Expiration::Never, Expiration::At),
    };
    let live_hash = content_hash(bytes, metadata.clone().map(Value::Object).as_ref(), expiration);
    if live_hash == entry.hash {
        return None;
    }
    // What differs, by the one comparison (metadata as JSON values: `2` is `2.0`): a key whose
    // content hash differs only by how a number is written has nothing to pull, whatever its
    // marker says.
    let desired_value = desired_bytes(entry);
    let desired_metadata = entry.metadata.as_ref().map(|m| m.to_map());
    let desired = desired_value.as_deref().unwrap_or_default();
    let mut differences =
        compare(desired, desired_metadata.as_ref(), entry.expiration, value, listed);
    if desired_value.is_none() && !differences.contains(&Difference::Value) {
        // A desired value that cannot be read is not what is live.
        differences.insert(0, Difference::Value);
    }
    if differences.is_empty() {
        return None;
    }
    match recorded {
        // Live still as kvsync wrote it: the config changed since, or another config was
        // applied.
        Some(written) if written == live_hash => return Some(Found::AppliedLive),
        Some(written) if written != entry.hash => return Some(Found::ChangedBoth),
        _ => {}
    }
    let value_changed = differences.contains(&Difference::Value);
    let metadata_changed = differences.contains(&Difference::Metadata);
    let expiration_changed = differences.contains(&Difference::Expiration);
    let live_expiration = listed.expiration;
    let sensitive = entry.sensitive || listed.metadata.is_marked_sensitive();
    if sensitive {
        return Some(Found::Sensitive {
            value: value_changed,
            metadata: metadata_changed,
            expiration: expiration_changed,
        });
    }
    let violations = scope.schemas.check(key, bytes, false);
    if !violations.is_empty() {
        return Some(Found::BreaksSchema(violations));
    }
    Some(Found::Pull(LiveState {
        value: bytes.to_vec(),
        value_changed,
        metadata_changed,
        expiration_changed,
        metadata,
        expiration: live_expiration,
    }))
}

/// Whether the listing alone shows a hand edit of a key whose marker matches the config: its
/// user metadata or its absolute expiration is not what the config says.
fn listing_differs(entry: &DesiredEntry, listed: &ListedKey) -> bool {
    let desired = entry.metadata.as_ref().map(|m| m.to_map());
    !expiration_equal(entry.expiration, listed.expiration)
        || !metadata_equal(desired.as_ref(), listed.metadata.to_json().as_ref())
}

/// A key to adopt: all of its live state.
fn whole(bytes: &[u8], listed: &ListedKey) -> LiveState {
    LiveState {
        value: bytes.to_vec(),
        metadata: listed.metadata.user().filter(|m| !m.is_empty()),
        expiration: listed.expiration,
        value_changed: true,
        metadata_changed: true,
        expiration_changed: true,
    }
}

/// Whether `--adopt` would add a listed key: unmarked, inside the scope, not protected, and not
/// in the config.
fn adoptable(scope: &DesiredScope, listed: &ListedKey) -> bool {
    let key = listed.name.as_str();
    !scope.entries.contains_key(key)
        && scope.contains(key)
        && !scope.protect.is_match(key)
        && matches!(listed.metadata.marker(), Marker::None)
}

/// How many listed keys `--adopt` would add (said when it was not given).
pub fn adoptable_count(scope: &DesiredScope, live: &LiveScope, options: &Options) -> usize {
    live.keys.iter().filter(|k| options.wants(k.name.as_str()) && adoptable(scope, k)).count()
}

/// What a pull did or would do, key by key: what the renderers format.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub environment: Option<String>,
    pub rows: Vec<Row>,
    /// Whether files were (or, with `--dry-run`, would be) written.
    pub dry_run: bool,
    /// The files that change, relative to the config's folder.
    pub files: Vec<String>,
    /// Unmanaged keys live and not in the config, when `--adopt` was not given.
    pub adoptable: usize,
}

/// One key in a [`Report`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub scope: String,
    pub key: String,
    pub outcome: Outcome,
    /// The revision that last wrote the key, from its marker.
    pub revision: Option<String>,
}

/// What happened to one key.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Written back: which parts, and where.
    Pulled { parts: Vec<&'static str>, place: String },
    /// Added to the config (`--adopt`).
    Added { place: String },
    /// Removed from the config (`--remove-missing`).
    Removed { place: String },
    /// Needs a person: why (changed in both places, a secret, breaks its schema, …).
    NeedsPerson { why: String },
    /// Needs a person: the edit of the config was refused (an anchor, a value YAML cannot
    /// hold, …), with the refusal's hint.
    Refused(Refusal),
    /// In the config, absent live, and left in the config.
    Missing { why: String },
    /// Live as kvsync wrote it from a revision the config's history holds: the config changed
    /// since, and the next apply writes it. Information only.
    WaitingForApply,
    /// Live as kvsync wrote it from a revision the config's history does not hold (another
    /// branch, no revision recorded, no repository, a shallow clone): the next apply would
    /// revert it, so a person decides. Never written into the config.
    AppliedElsewhere { owner: String },
}

/// What a key live as kvsync wrote it means, with the config saying otherwise: `ancestor` says
/// whether the marker's revision is an ancestor of the checked-out commit (`None`: unknown:
/// no revision, no repository, a shallow clone, a revision git does not know).
pub fn applied_live(ancestor: Option<bool>, owner: &str) -> Outcome {
    match ancestor {
        Some(true) => Outcome::WaitingForApply,
        Some(false) | None => Outcome::AppliedElsewhere { owner: owner.to_owned() },
    }
}

/// The config changes the findings ask for, and the report's rows (their places filled in by
/// [`settle`] once the edits are made). `secrets` names the variables that feed each sensitive
/// key's changed parts; `applied` says what a key live as its marker says means
/// ([`applied_live`], with the config's history).
pub fn decide(
    findings: &[(String, Finding)],
    remove_missing: bool,
    secrets: &BTreeMap<(String, String), Vec<String>>,
    applied: &dyn Fn(Option<&str>) -> Outcome,
) -> (Vec<Change>, Vec<Row>) {
    let mut changes = Vec::new();
    let mut rows = Vec::new();
    for (scope, finding) in findings {
        let change = |what| Change { scope: scope.clone(), key: finding.key.clone(), what };
        let outcome = match &finding.found {
            Found::Pull(state) => {
                changes.push(change(What::Set {
                    value: state.value_changed.then(|| state.value.clone()),
                    metadata: state.metadata_changed.then(|| state.metadata.clone()),
                    expiration: state.expiration_changed.then_some(state.expiration),
                }));
                Outcome::Pulled { parts: state.parts(), place: String::new() }
            }
            Found::Adopt(state) => {
                changes.push(change(What::Add {
                    value: state.value.clone(),
                    metadata: state.metadata.clone(),
                    expiration: state.expiration,
                }));
                Outcome::Added { place: String::new() }
            }
            Found::Missing { ttl: true } => Outcome::Missing {
                why: "absent live; an `expiration_ttl` key may just have expired, so it is never \
                      removed"
                    .to_owned(),
            },
            Found::Missing { ttl: false } if remove_missing => {
                changes.push(change(What::Remove));
                Outcome::Removed { place: String::new() }
            }
            Found::Missing { ttl: false } => Outcome::Missing {
                why: "absent live (`--remove-missing` removes its entry)".to_owned(),
            },
            Found::Sensitive { .. } => Outcome::NeedsPerson {
                why: match secrets.get(&(scope.clone(), finding.key.clone())) {
                    Some(names) => format!(
                        "changed live; update the {} {} (a secret is never written into a file)",
                        if names.len() == 1 { "secret" } else { "secrets" },
                        names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" and ")
                    ),
                    None => "changed live; it is sensitive, so it is never written into a file: \
                             update it where it is set"
                        .to_owned(),
                },
            },
            Found::AppliedLive => applied(finding.revision.as_deref()),
            Found::ChangedBoth => Outcome::NeedsPerson {
                why: "changed live and in the config since kvsync wrote it: decide which wins"
                    .to_owned(),
            },
            Found::BreaksSchema(violations) => Outcome::NeedsPerson {
                why: format!(
                    "changed live into a value its schema refuses ({}); not written",
                    violations.first().map(crate::config::Violation::describe).unwrap_or_default()
                ),
            },
            Found::Unreadable(why) => {
                Outcome::NeedsPerson { why: format!("its value could not be read: {why}") }
            }
        };
        rows.push(Row {
            scope: scope.clone(),
            key: finding.key.clone(),
            outcome,
            revision: finding.revision.clone(),
        });
    }
    (changes, rows)
}

/// The rows with the edits' results: where each change was made, or why it was not (then it
/// needs a person).
pub fn settle(rows: &mut [Row], made: &[(String, String, String)], refused: &[Refused]) {
    let index: HashMap<(&str, &str), usize> = rows
        .iter()
        .enumerate()
        .map(|(at, row)| ((row.scope.as_str(), row.key.as_str()), at))
        .collect();
    let mut placed: Vec<(usize, Outcome)> = Vec::new();
    for (scope, key, place) in made {
        let Some(&at) = index.get(&(scope.as_str(), key.as_str())) else { continue };
        let outcome = match &rows[at].outcome {
            Outcome::Pulled { parts, .. } => {
                Outcome::Pulled { parts: parts.clone(), place: place.clone() }
            }
            Outcome::Added { .. } => Outcome::Added { place: place.clone() },
            Outcome::Removed { .. } => Outcome::Removed { place: place.clone() },
            other => other.clone(),
        };
        placed.push((at, outcome));
    }
    for refused in refused {
        let Some(&at) = index.get(&(refused.scope.as_str(), refused.key.as_str())) else {
            continue;
        };
        placed.push((at, Outcome::Refused(refused.refusal.clone())));
    }
    for (at, outcome) in placed {
        rows[at].outcome = outcome;
    }
}

impl Report {
    /// Whether a person has something to do: files changed, or keys need a person.
    pub fn has_changes(&self) -> bool {
        !self.files.is_empty()
            || self.rows.iter().any(|row| {
                matches!(
                    row.outcome,
                    Outcome::NeedsPerson { .. }
                        | Outcome::Refused(_)
                        | Outcome::AppliedElsewhere { .. }
                )
            })
    }
}

impl LiveState {
    /// The names of the parts that changed (`value`, `metadata`, `expiration`).
    pub fn parts(&self) -> Vec<&'static str> {
        let mut parts = Vec::new();
        if self.value_changed {
            parts.push("value");
        }
        if self.metadata_changed {
            parts.push("metadata");
        }
        if self.expiration_changed {
            parts.push("expiration");
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::written_metadata;
    use crate::kv::ListedMetadata;
    use crate::testing::{entry, scope};

    const OWNER: &str = "web";

    fn plain(value: &str) -> DesiredEntry {
        entry(value, Expiration::Never, false)
    }

    /// A key as kvsync wrote `written` (its marker records that), holding `live` now.
    fn listed(key: &str, written: &str, rev: Option<&str>) -> ListedKey {
        let hash = content_hash(written.as_bytes(), None, Expiration::Never);
        ListedKey {
            name: key.into(),
            expiration: None,
            metadata: ListedMetadata::from_json(Some(&written_metadata(None, OWNER, hash, rev))),
        }
    }

    fn unmarked(key: &str) -> ListedKey {
        ListedKey { name: key.into(), expiration: None, metadata: ListedMetadata::from_json(None) }
    }

    fn options(deep: bool, adopt: bool) -> Options {
        Options { owner: OWNER.into(), deep, adopt, only: Globs::empty() }
    }

    fn run(
        desired: &[(&str, DesiredEntry)],
        live: Vec<(ListedKey, &str)>,
        options: &Options,
    ) -> (Vec<String>, Vec<(String, Found)>) {
        let entries = desired.iter().map(|(k, e)| ((*k).to_owned(), e.clone())).collect();
        let scope = scope("flags", "ns", "f/", entries);
        let texts: HashMap<String, &str> =
            live.iter().map(|(key, value)| (key.name.as_str().to_owned(), *value)).collect();
        let live = LiveScope { keys: live.into_iter().map(|(key, _)| key).collect() };
        let read: Vec<String> = values_to_read(&scope, &live, options)
            .iter()
            .map(|k| k.name.as_str().to_owned())
            .collect();
        // Only the values pull asked for were read.
        let values: HashMap<String, LiveValue> =
            read.iter().map(|key| (key.clone(), LiveValue::Text(texts[key].into()))).collect();
        let bytes = |entry: &DesiredEntry| entry.read().ok();
        let found = find(&scope, &live, &values, &bytes, options)
            .into_iter()
            .map(|f| (f.key, f.found))
            .collect();
        (read, found)
    }

    #[test]
    fn a_hand_edit_is_pulled_and_a_pending_config_change_is_not() {
        let desired = [
            ("f/edited", plain("old")),
            ("f/pending", plain("new in the config")),
            ("f/both", plain("config says")),
            ("f/same", plain("same")),
        ];
        let live = vec![
            (listed("f/edited", "old", Some("abc")), "hotfix"),
            (listed("f/pending", "old", None), "old"),
            (listed("f/both", "written", None), "hand"),
            (listed("f/same", "same", None), "same"),
        ];
        // Without --deep, keys whose marker matches the config are not read.
        let (read, found) = run(&desired, live.clone(), &options(false, false));
        assert_eq!(read, ["f/pending", "f/both"]);
        // Live as kvsync wrote it, the config says otherwise: the marker's revision decides.
        assert_eq!(
            found,
            [
                ("f/both".to_owned(), Found::ChangedBoth),
                ("f/pending".to_owned(), Found::AppliedLive),
            ]
        );
        assert_eq!(applied_live(Some(true), OWNER), Outcome::WaitingForApply);
        for unknown in [Some(false), None] {
            assert_eq!(
                applied_live(unknown, OWNER),
                Outcome::AppliedElsewhere { owner: OWNER.to_owned() }
            );
        }

        let (read, found) = run(&desired, live, &options(true, false));
        assert_eq!(read.len(), 4);
        let pulled = LiveState {
            value: b"hotfix".to_vec(),
            metadata: None,
            expiration: None,
            value_changed: true,
            metadata_changed: false,
            expiration_changed: false,
        };
        assert_eq!(
            found,
            [
                ("f/both".to_owned(), Found::ChangedBoth),
                ("f/edited".to_owned(), Found::Pull(pulled)),
                ("f/pending".to_owned(), Found::AppliedLive),
            ]
        );
    }

    #[test]
    fn secrets_unmarked_keys_other_owners_missing_keys_and_adoption() {
        let desired = [
            ("f/secret", entry("s", Expiration::Never, true)),
            ("f/byhand", plain("desired")),
            ("f/theirs", plain("x")),
            ("f/gone", plain("g")),
            ("f/ttl", entry("t", Expiration::Ttl(600), false)),
        ];
        let mut theirs = listed("f/theirs", "x", None);
        theirs.metadata = ListedMetadata::from_json(Some(&written_metadata(
            None,
            "billing",
            content_hash(b"x", None, Expiration::Never),
            None,
        )));
        let live = vec![
            (listed("f/secret", "s", None), "leaked"),
            (unmarked("f/byhand"), "typed by hand"),
            (theirs, "changed"),
            (unmarked("f/new"), "new"),
        ];
        let (_, found) = run(&desired, live, &options(true, true));
        let kinds: Vec<(&str, &str)> = found
            .iter()
            .map(|(key, found)| {
                let kind = match found {
                    Found::Pull(_) => "pull",
                    Found::Adopt(_) => "adopt",
                    Found::Sensitive { .. } => "sensitive",
                    Found::AppliedLive => "applied",
                    Found::Missing { ttl: true } => "missing ttl",
                    Found::Missing { ttl: false } => "missing",
                    _ => "other",
                };
                (key.as_str(), kind)
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("f/byhand", "pull"),
                ("f/gone", "missing"),
                ("f/new", "adopt"),
                ("f/secret", "sensitive"),
                ("f/ttl", "missing ttl"),
            ]
        );
    }

    /// Findings become config changes and rows; the edits' results settle each row: where it
    /// was made, or why it needs a person.
    #[test]
    fn findings_become_changes_rows_and_settled_outcomes() {
        let state = LiveState {
            value: b"v".to_vec(),
            metadata: None,
            expiration: None,
            value_changed: true,
            metadata_changed: false,
            expiration_changed: false,
        };
        let finding = |key: &str, found| {
            ("flags".to_owned(), Finding { key: key.to_owned(), found, revision: None })
        };
        let findings = [
            finding("f/hand", Found::Pull(state.clone())),
            finding("f/new", Found::Adopt(state)),
            finding("f/gone", Found::Missing { ttl: false }),
            finding("f/ttl", Found::Missing { ttl: true }),
            finding(
                "f/secret",
                Found::Sensitive { value: true, metadata: false, expiration: false },
            ),
            finding("f/elsewhere", Found::AppliedLive),
        ];
        let mut secrets = BTreeMap::new();
        secrets.insert(("flags".to_owned(), "f/secret".to_owned()), vec!["TOKEN".to_owned()]);
        let applied = |_: Option<&str>| applied_live(None, OWNER);
        let (changes, mut rows) = decide(&findings, true, &secrets, &applied);
        let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["f/hand", "f/new", "f/gone"]);
        assert!(matches!(changes[2].what, What::Remove));
        let (_, without) = decide(&findings, false, &secrets, &applied);
        assert!(matches!(without[2].outcome, Outcome::Missing { .. }));
        assert!(
            matches!(&rows[4].outcome, Outcome::NeedsPerson { why } if why.contains("`TOKEN`")),
            "{:?}",
            rows[4]
        );
        assert_eq!(rows[5].outcome, Outcome::AppliedElsewhere { owner: OWNER.to_owned() });
        let made = [("flags".to_owned(), "f/hand".to_owned(), "kvsync.yaml:9:7".to_owned())];
        let refused = [Refused {
            scope: "flags".to_owned(),
            key: "f/new".to_owned(),
            refusal: Refusal::NotText,
        }];
        settle(&mut rows, &made, &refused);
        assert_eq!(
            rows[0].outcome,
            Outcome::Pulled { parts: vec!["value"], place: "kvsync.yaml:9:7".to_owned() }
        );
        assert_eq!(rows[1].outcome, Outcome::Refused(Refusal::NotText));
    }
}
