//! The engine: desired × live → [`Plan`] (DESIGN.md §3).
//!
//! A pure, total function. It trusts the marker in each listed key's metadata and never needs a
//! value. The only clock it knows is [`Options::now`], so every outcome is reproducible.

use super::{
    Action, Change, ConflictReason, DeleteReason, DesiredKey, LiveKey, LiveScope, Options, Plan,
    ProtectedAction, ScopePlan, Warning,
};
use crate::config::desired::UserMetadata;
use crate::config::{Desired, DesiredEntry, DesiredScope};
use crate::content::Expiration;
use crate::content::Marker;
use crate::content::limits::EXPIRATION_MIN_SECS;
use crate::kv::ListedKey;

/// Plans every scope of `desired` against its listing. `live[i]` is the listing of
/// `desired.scopes[i]`; a missing listing counts as an empty scope.
pub fn plan(desired: &Desired, live: &[LiveScope], options: &Options) -> Plan {
    let empty = LiveScope::default();
    let scopes = desired
        .scopes
        .iter()
        .enumerate()
        .map(|(i, scope)| plan_scope(scope, live.get(i).unwrap_or(&empty), options))
        .collect();
    let only = options.only.as_ref().map(|g| g.patterns().to_vec()).unwrap_or_default();
    let mut plan = Plan { scopes, only, refusals: Vec::new() };
    plan.refusals = super::guards::check(&plan, &options.guards);
    plan
}

/// Whether a desired entry has an absolute expiration too close to write (the API refuses
/// expirations less than 60 s away).
fn is_expiring(entry: &DesiredEntry, now: i64) -> bool {
    matches!(entry.expiration, Expiration::At(at) if at < now.saturating_add(EXPIRATION_MIN_SECS))
}

fn plan_scope(scope: &DesiredScope, live: &LiveScope, options: &Options) -> ScopePlan {
    let in_scope = |key: &str| scope.contains(key);
    let selected = |key: &str| options.only.as_ref().is_none_or(|only| only.is_match(key));

    // Listings come sorted from every store we know, but the engine does not rely on it. A
    // sorted listing is walked as it is: a million references to sort would cost 8 MB.
    let listed: Box<dyn Iterator<Item = &ListedKey>> =
        if live.keys.is_sorted_by(|a, b| a.name < b.name) {
            Box::new(live.keys.iter().filter(|k| in_scope(&k.name)))
        } else {
            let mut listed: Vec<&ListedKey> =
                live.keys.iter().filter(|k| in_scope(&k.name)).collect();
            listed.sort_by(|a, b| a.name.cmp(&b.name));
            listed.dedup_by(|a, b| a.name == b.name);
            Box::new(listed.into_iter())
        };

    let mut out = ScopePlan {
        name: scope.name.clone(),
        namespace_id: scope.namespace_id.clone(),
        prefix: scope.prefix.clone(),
        resolved_from: scope.resolved_from.clone(),
        prune: scope.prune,
        allow_empty: scope.allow_empty,
        changes: Vec::new(),
        unchanged: 0,
        unmanaged: Vec::new(),
        ours_live: 0,
        desired: 0,
        warnings: Vec::new(),
    };

    let mut desired_iter = scope.entries.iter().filter(|(key, _)| in_scope(key)).peekable();
    let mut live_iter = listed.peekable();
    loop {
        // A merge join of two byte-ordered sequences.
        let (key, entry, listed) = match (desired_iter.peek(), live_iter.peek()) {
            (None, None) => break,
            (Some((dk, _)), Some(l)) if dk.as_str() == l.name.as_str() => {
                let (key, entry) = desired_iter.next().expect("peeked");
                (key.as_str(), Some(entry), live_iter.next())
            }
            (Some((dk, _)), Some(l)) if dk.as_str() > l.name.as_str() => {
                let listed = live_iter.next().expect("peeked");
                (listed.name.as_str(), None, Some(listed))
            }
            (None, Some(_)) => {
                let listed = live_iter.next().expect("peeked");
                (listed.name.as_str(), None, Some(listed))
            }
            (Some(_), _) => {
                let (key, entry) = desired_iter.next().expect("peeked");
                (key.as_str(), Some(entry), None)
            }
        };
        classify(scope, options, key, entry, listed, selected(key), &mut out);
    }
    out
}

/// Classifies one key present in the desired state, the listing, or both.
fn classify(
    scope: &DesiredScope,
    options: &Options,
    key: &str,
    entry: Option<&DesiredEntry>,
    listed: Option<&ListedKey>,
    selected: bool,
    out: &mut ScopePlan,
) {
    let marker = listed.map(|l| l.metadata.marker());
    let ours = matches!(&marker, Some(Marker::V1 { owner, .. }) if *owner == options.owner);
    if ours {
        out.ours_live += 1;
    }

    let mut expiring = false;
    let entry = entry.filter(|entry| {
        expiring = is_expiring(entry, options.now);
        if expiring {
            out.warnings.push(Warning {
                key: key.to_owned(),
                message: "its `expiration` is less than 60 s away, so it is no longer written"
                    .to_owned(),
            });
        }
        !expiring
    });
    if entry.is_some() {
        out.desired += 1;
    }
    if !selected {
        return;
    }

    let protected = scope.protect.is_match(key);
    // A key whose listing entry is damaged is neither written nor deleted while it is ours or
    // desired: what it holds cannot be known.
    let damage = listed.and_then(|l| l.metadata.damage()).filter(|_| entry.is_some() || ours);
    let action = match (entry, &marker) {
        _ if damage.is_some() => Action::Conflict {
            reason: ConflictReason::DamagedListing(damage.map(str::to_owned).unwrap_or_default()),
        },
        (None, None) => return,
        (Some(_), None) => Action::Create,
        (Some(entry), Some(marker)) => match marker {
            Marker::V1 { owner, sha256, .. } if *owner == options.owner => {
                if *sha256 == entry.hash {
                    out.unchanged += 1;
                    return;
                }
                Action::Update
            }
            Marker::None if protected => Action::Protected { instead_of: ProtectedAction::Adopt },
            Marker::None => Action::Adopt,
            Marker::Newer { version, owner } if *owner == options.owner => {
                Action::Conflict { reason: ConflictReason::NewerVersion(*version) }
            }
            Marker::Unreadable { owner, detail } if *owner == options.owner => {
                Action::Conflict { reason: ConflictReason::Unreadable(detail.clone()) }
            }
            // Another owner's key, whatever else its marker holds.
            Marker::V1 { owner, .. }
            | Marker::Newer { owner, .. }
            | Marker::Unreadable { owner, .. } => {
                let may_take = scope.take_over.is_match(key)
                    || options.take_over_owner.as_deref() == Some(owner.as_str());
                if protected {
                    Action::Protected {
                        instead_of: ProtectedAction::TakeOver { from: owner.clone() },
                    }
                } else if may_take {
                    Action::TakeOver { from: owner.clone() }
                } else {
                    Action::Conflict { reason: ConflictReason::Owner(owner.clone()) }
                }
            }
        },
        (None, Some(_)) if ours => {
            if protected {
                Action::Protected { instead_of: ProtectedAction::Delete }
            } else if expiring {
                Action::Delete { reason: DeleteReason::Expiring }
            } else if scope.prune {
                Action::Delete { reason: DeleteReason::NotDesired }
            } else {
                Action::Orphan
            }
        }
        (None, Some(_)) => {
            out.unmanaged.push(key.to_owned());
            return;
        }
    };
    out.changes.push(change(key, action, entry, listed.zip(marker)));
}

/// A change, with what the desired entry and the listing say about the key. Only a change keeps
/// what the listing showed, so only a change pays for reading the user metadata out of its
/// compact form.
fn change(
    key: &str,
    action: Action,
    entry: Option<&DesiredEntry>,
    listed: Option<(&ListedKey, Marker)>,
) -> Change {
    let desired = entry.map(|e| DesiredKey {
        hash: e.hash,
        metadata: e.metadata.as_ref().map(UserMetadata::to_map),
        expiration: e.expiration,
        sensitive: e.sensitive,
    });
    let live = listed.map(|(listed, marker)| LiveKey {
        sensitive: matches!(marker, Marker::V1 { sensitive: true, .. }),
        marker,
        expiration: listed.expiration,
        metadata: listed.metadata.user(),
    });
    Change { key: key.to_owned(), action, desired, live, origin: None }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::config::Globs;
    use crate::content::{content_hash, written_metadata};
    use crate::kv::ListedMetadata;
    use crate::testing;

    const OWNER: &str = "web";
    const NOW: i64 = 1_900_000_000;

    fn globs(patterns: &[&str]) -> Globs {
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        Globs::new(&patterns).expect("valid globs")
    }

    fn entry(value: &str, expiration: Expiration) -> DesiredEntry {
        testing::entry(value, expiration, false)
    }

    fn scope(prefix: &str, entries: &[(&str, DesiredEntry)]) -> DesiredScope {
        let entries = entries.iter().map(|(k, e)| ((*k).to_owned(), e.clone())).collect();
        testing::scope("flags", "ns1", prefix, entries)
    }

    fn desired(scope: DesiredScope) -> Desired {
        testing::desired(OWNER, vec![scope])
    }

    fn options() -> Options {
        Options {
            owner: OWNER.into(),
            now: NOW,
            take_over_owner: None,
            only: None,
            guards: crate::plan::guards::Guards::default(),
        }
    }

    /// A live key written by `owner` with the content of `value`.
    fn written(key: &str, owner: &str, value: &str) -> ListedKey {
        let hash = content_hash(value.as_bytes(), None, Expiration::Never);
        ListedKey {
            name: key.into(),
            expiration: None,
            metadata: ListedMetadata::from_json(Some(&written_metadata(None, owner, hash, None))),
        }
    }

    fn bare(key: &str) -> ListedKey {
        ListedKey { name: key.into(), expiration: None, metadata: ListedMetadata::none() }
    }

    /// Plans one scope and returns `(key, action)` pairs plus the scope plan.
    fn check(scope: DesiredScope, live: Vec<ListedKey>, options: &Options) -> ScopePlan {
        let plan = plan(&desired(scope), &[LiveScope { keys: live }], options);
        plan.scopes.into_iter().next().expect("one scope")
    }

    fn actions(plan: &ScopePlan) -> Vec<(&str, &Action)> {
        plan.changes.iter().map(|c| (c.key.as_str(), &c.action)).collect()
    }

    #[test]
    fn classifies_every_row_of_the_design_table() {
        let scope = scope(
            "f/",
            &[
                ("f/create", entry("1", Expiration::Never)),
                ("f/same", entry("same", Expiration::Never)),
                ("f/update", entry("new", Expiration::Never)),
                ("f/adopt", entry("x", Expiration::Never)),
                ("f/conflict", entry("x", Expiration::Never)),
                ("f/newer", entry("x", Expiration::Never)),
            ],
        );
        let newer = ListedKey {
            name: "f/newer".into(),
            expiration: None,
            metadata: ListedMetadata::from_json(Some(
                &serde_json::json!({"__kvsync": {"v": 2, "owner": OWNER}}),
            )),
        };
        let live = vec![
            bare("f/adopt"),
            written("f/conflict", "other", "x"),
            written("f/delete", OWNER, "gone"),
            newer,
            written("f/same", OWNER, "same"),
            written("f/theirs", "other", "t"),
            bare("f/unmarked"),
            written("f/update", OWNER, "old"),
            written("outside/ours", OWNER, "never listed in this scope"),
        ];
        let plan = check(scope, live, &options());
        assert_eq!(
            actions(&plan),
            vec![
                ("f/adopt", &Action::Adopt),
                ("f/conflict", &Action::Conflict { reason: ConflictReason::Owner("other".into()) }),
                ("f/create", &Action::Create),
                ("f/delete", &Action::Delete { reason: DeleteReason::NotDesired }),
                ("f/newer", &Action::Conflict { reason: ConflictReason::NewerVersion(2) }),
                ("f/update", &Action::Update),
            ]
        );
        assert_eq!(plan.unchanged, 1);
        assert_eq!(plan.unmanaged, vec!["f/theirs".to_owned(), "f/unmarked".to_owned()]);
        assert_eq!(plan.ours_live, 3);
        assert_eq!(plan.desired, 6);
    }

    /// A key whose listing entry is damaged (an `expiration` that is not unix seconds) is a
    /// conflict while it is desired or ours, even when its hash matches: it is never written,
    /// adopted or deleted blindly. Another owner's damaged key stays theirs.
    #[test]
    fn a_damaged_listing_entry_is_a_conflict() {
        let scope = scope(
            "f/",
            &[
                ("f/desired", entry("x", Expiration::Never)),
                ("f/same", entry("same", Expiration::Never)),
            ],
        );
        let damaged = |mut key: ListedKey| {
            key.metadata = key
                .metadata
                .damaged(format!("key `{}` has expiration `\"soon\"`", key.name.as_str()));
            key
        };
        let live = vec![
            damaged(bare("f/desired")),
            damaged(written("f/ours", OWNER, "gone")),
            damaged(written("f/same", OWNER, "same")),
            damaged(written("f/theirs", "other", "t")),
        ];
        let plan = check(scope, live, &options());
        let conflict = |key: &str| Action::Conflict {
            reason: ConflictReason::DamagedListing(format!(
                "key `{key}` has expiration `\"soon\"`"
            )),
        };
        assert_eq!(
            actions(&plan),
            vec![
                ("f/desired", &conflict("f/desired")),
                ("f/ours", &conflict("f/ours")),
                ("f/same", &conflict("f/same")),
            ]
        );
        assert_eq!(plan.unmanaged, vec!["f/theirs".to_owned()]);
    }

    /// A marker that names an owner is that owner's whatever else it holds (issue #15): a `v`
    /// of 3.5 or beyond 64 bits, a missing hash, or unknown fields never make another owner's key
    /// look unmarked (it was adopted and overwritten). Ours in a form we cannot read is never
    /// touched. Only a marker without a string owner counts as none.
    #[test]
    fn a_marker_that_names_an_owner_is_never_adopted() {
        let marked = |key: &str, marker: serde_json::Value| ListedKey {
            name: key.into(),
            expiration: None,
            metadata: ListedMetadata::from_json_text(&format!("{{\"__kvsync\":{marker}}}"))
                .expect("metadata"),
        };
        let keys = [
            "f/big-v",
            "f/extra",
            "f/float-v",
            "f/no-hash",
            "f/no-owner",
            "f/ours-float",
            "f/ours-v0",
            "f/string-v",
        ];
        let entries: Vec<(&str, DesiredEntry)> =
            keys.iter().map(|k| (*k, entry("x", Expiration::Never))).collect();
        let scope = scope("f/", &entries);
        let live = vec![
            marked("f/big-v", serde_json::json!({"v": 18446744073709551616.0, "owner": "other"})),
            marked(
                "f/extra",
                serde_json::json!({"v": 1, "owner": "other", "sha256": "0".repeat(64), "new": true}),
            ),
            marked("f/float-v", serde_json::json!({"v": 3.5, "owner": "other"})),
            marked("f/no-hash", serde_json::json!({"v": 1, "owner": "other"})),
            marked("f/no-owner", serde_json::json!({"v": 2, "sha256": "0".repeat(64)})),
            marked("f/ours-float", serde_json::json!({"v": 1.5, "owner": OWNER})),
            marked("f/ours-v0", serde_json::json!({"v": 0, "owner": OWNER})),
            marked("f/string-v", serde_json::json!({"v": "1", "owner": "other"})),
        ];
        let plan = check(scope, live, &options());
        let other = || Action::Conflict { reason: ConflictReason::Owner("other".into()) };
        let unreadable =
            |detail: &str| Action::Conflict { reason: ConflictReason::Unreadable(detail.into()) };
        assert_eq!(
            actions(&plan),
            vec![
                ("f/big-v", &other()),
                ("f/extra", &other()),
                ("f/float-v", &other()),
                ("f/no-hash", &other()),
                ("f/no-owner", &Action::Adopt),
                ("f/ours-float", &unreadable("`v` is `1.5`")),
                ("f/ours-v0", &unreadable("`v` is `0`")),
                ("f/string-v", &other()),
            ]
        );
        assert_eq!(plan.ours_live, 0, "none of them may be deleted as ours");
    }

    #[test]
    fn prune_false_keeps_orphans() {
        let mut scope = scope("", &[]);
        scope.prune = false;
        let plan = check(scope, vec![written("a", OWNER, "x")], &options());
        assert_eq!(actions(&plan), vec![("a", &Action::Orphan)]);
        assert!(!plan.summary().has_changes());
    }

    #[test]
    fn take_over_by_glob_or_owner_and_protect_wins() {
        let mut by_glob = scope("", &[("a", entry("x", Expiration::Never))]);
        by_glob.take_over = globs(&["a"]);
        let plan = check(by_glob, vec![written("a", "other", "y")], &options());
        assert_eq!(actions(&plan), vec![("a", &Action::TakeOver { from: "other".into() })]);

        let by_owner = scope("", &[("a", entry("x", Expiration::Never))]);
        let options = Options { take_over_owner: Some("other".into()), ..options() };
        let plan = check(by_owner, vec![written("a", "other", "y")], &options);
        assert_eq!(actions(&plan), vec![("a", &Action::TakeOver { from: "other".into() })]);

        let mut protected = scope("", &[("a", entry("x", Expiration::Never))]);
        protected.protect = globs(&["*"]);
        let live = vec![written("a", "other", "y"), bare("b"), written("c", OWNER, "z")];
        let plan = check(protected.clone(), live, &options);
        assert_eq!(
            actions(&plan),
            vec![
                (
                    "a",
                    &Action::Protected {
                        instead_of: ProtectedAction::TakeOver { from: "other".into() }
                    }
                ),
                ("c", &Action::Protected { instead_of: ProtectedAction::Delete }),
            ]
        );
        let plan = check(protected, vec![bare("a")], &options);
        assert_eq!(
            actions(&plan),
            vec![("a", &Action::Protected { instead_of: ProtectedAction::Adopt })]
        );
    }

    #[test]
    fn ignored_keys_are_skipped_entirely() {
        let mut scope = scope("", &[("rt/x", entry("x", Expiration::Never))]);
        scope.ignore = globs(&["rt/*"]);
        let live = vec![written("rt/y", OWNER, "y"), bare("rt/z")];
        let plan = check(scope, live, &options());
        assert!(plan.changes.is_empty());
        assert!(plan.unmanaged.is_empty());
        assert_eq!(plan.ours_live, 0);
    }

    #[test]
    fn expiring_keys_are_skipped_with_a_warning_and_deleted_when_ours() {
        let soon = entry("x", Expiration::At(NOW + 59));
        let later = entry("y", Expiration::At(NOW + 60));
        let scope = scope("", &[("soon", soon), ("later", later)]);
        let plan = check(scope, vec![written("soon", OWNER, "x")], &options());
        assert_eq!(
            actions(&plan),
            vec![
                ("later", &Action::Create),
                ("soon", &Action::Delete { reason: DeleteReason::Expiring }),
            ]
        );
        assert_eq!(plan.warnings.len(), 1);
        assert_eq!(plan.warnings[0].key, "soon");
        assert_eq!(plan.desired, 1);
    }

    #[test]
    fn ttl_keys_are_not_rewritten_while_live_and_recreated_when_gone() {
        let ttl = entry("cache me", Expiration::Ttl(3600));
        let hash = ttl.hash;
        let scope = scope("", &[("c", ttl)]);
        let live = vec![ListedKey {
            name: "c".into(),
            expiration: Some(NOW + 100),
            metadata: ListedMetadata::from_json(Some(&written_metadata(None, OWNER, hash, None))),
        }];
        assert!(check(scope.clone(), live, &options()).changes.is_empty());
        assert_eq!(actions(&check(scope, vec![], &options())), vec![("c", &Action::Create)]);
    }

    #[test]
    fn only_limits_changes_but_not_the_guard_counts() {
        let scope = scope("", &[("a", entry("x", Expiration::Never))]);
        let options = Options { only: Some(globs(&["b*"])), ..options() };
        let plan = check(scope, vec![written("z", OWNER, "x")], &options);
        assert!(plan.changes.is_empty());
        assert_eq!((plan.ours_live, plan.desired), (1, 1));
    }

    // Properties. Keys come from a tiny alphabet so desired and live collide often.

    #[derive(Debug, Clone)]
    enum LiveKind {
        OursSame,
        OursOther,
        Bare,
        Theirs,
        Newer,
    }

    fn key_strategy() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["p/", "q/", "p/r/", ""])
            .prop_flat_map(|head| "[ab]{1,2}".prop_map(move |tail| format!("{head}{tail}")))
    }

    fn live_strategy() -> impl Strategy<Value = Vec<(String, LiveKind)>> {
        let kind = prop_oneof![
            Just(LiveKind::OursSame),
            Just(LiveKind::OursOther),
            Just(LiveKind::Bare),
            Just(LiveKind::Theirs),
            Just(LiveKind::Newer),
        ];
        prop::collection::vec((key_strategy(), kind), 0..12)
    }

    /// Desired values by key, the live listing, and the prune / ignore / protect switches.
    type Case = (BTreeMap<String, String>, Vec<(String, LiveKind)>, bool, bool, bool);

    fn case_strategy() -> impl Strategy<Value = Case> {
        (
            prop::collection::btree_map(key_strategy(), "[xyz]{0,2}", 0..10),
            live_strategy(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
    }

    /// Builds a scope with prefix `p/` (keys outside it are dropped from the desired side, as
    /// validation would refuse them) and a live listing over the whole namespace.
    fn build(
        wanted: &BTreeMap<String, String>,
        live: &[(String, LiveKind)],
        prune: bool,
        with_ignore: bool,
        with_protect: bool,
    ) -> (DesiredScope, Vec<ListedKey>) {
        let mut scope = scope("p/", &[]);
        scope.prune = prune;
        if with_ignore {
            scope.ignore = globs(&["p/r/*"]);
        }
        if with_protect {
            scope.protect = globs(&["p/a"]);
        }
        for (key, value) in wanted.iter().filter(|(k, _)| k.starts_with("p/")) {
            scope.entries.insert(key.clone(), entry(value, Expiration::Never));
        }
        // A real listing names each key once.
        let mut seen = std::collections::BTreeSet::new();
        let listed = live
            .iter()
            .filter(|(key, _)| seen.insert(key.clone()))
            .map(|(key, kind)| {
                let same = wanted.get(key).map_or("none", String::as_str);
                match kind {
                    LiveKind::OursSame => written(key, OWNER, same),
                    LiveKind::OursOther => written(key, OWNER, "stale value"),
                    LiveKind::Bare => bare(key),
                    LiveKind::Theirs => written(key, "other", "t"),
                    LiveKind::Newer => ListedKey {
                        name: key.as_str().into(),
                        expiration: None,
                        metadata: ListedMetadata::from_json(Some(
                            &serde_json::json!({"__kvsync": {"v": 9}}),
                        )),
                    },
                }
            })
            .collect();
        (scope, listed)
    }

    /// A model of apply on a listing: puts write our marker with the desired hash, deletes
    /// remove. Returns the new listing.
    fn apply_model(scope: &DesiredScope, plan: &ScopePlan, live: &[ListedKey]) -> Vec<ListedKey> {
        let mut state: BTreeMap<String, ListedKey> =
            live.iter().map(|k| (k.name.to_string(), k.clone())).collect();
        for change in &plan.changes {
            if change.action.is_put() {
                let entry = scope.entries.get(&change.key).expect("a put is desired");
                let metadata = written_metadata(None, OWNER, entry.hash, None);
                state.insert(
                    change.key.clone(),
                    ListedKey {
                        name: change.key.as_str().into(),
                        expiration: None,
                        metadata: ListedMetadata::from_json(Some(&metadata)),
                    },
                );
            } else if change.action.is_delete() {
                state.remove(&change.key);
            }
        }
        state.into_values().collect()
    }

    proptest! {
        #[test]
        fn applying_a_plan_converges((wanted, live, prune, ignore, protect) in case_strategy()) {
            let (scope, listed) = build(&wanted, &live, prune, ignore, protect);
            let first = check(scope.clone(), listed.clone(), &options());
            let after = apply_model(&scope, &first, &listed);

            // Inside the scope, every desired key now holds its desired content unless a
            // conflict or protection kept it.
            for (key, entry) in &scope.entries {
                if scope.ignore.is_match(key) {
                    continue;
                }
                let blocked = first.changes.iter().any(|c| &c.key == key
                    && matches!(c.action, Action::Conflict { .. } | Action::Protected { .. }));
                let live = after.iter().find(|k| &k.name == key);
                let marker = live.map(|k| k.metadata.marker());
                if !blocked {
                    prop_assert_eq!(marker, Some(Marker::V1 {
                        owner: OWNER.into(), sha256: entry.hash, rev: None, sensitive: false,
                    }));
                }
            }

            // Planning again yields no changes but the ones that stay until a human acts.
            let second = check(scope.clone(), after.clone(), &options());
            for change in &second.changes {
                prop_assert!(
                    matches!(change.action,
                        Action::Conflict { .. } | Action::Protected { .. } | Action::Orphan),
                    "second plan still has {:?}", change
                );
            }
            let third = apply_model(&scope, &second, &after);
            prop_assert_eq!(third, after);
        }

        #[test]
        fn never_touches_what_is_not_ours_or_in_scope(
            (wanted, live, prune, ignore, protect) in case_strategy()
        ) {
            let (scope, listed) = build(&wanted, &live, prune, ignore, protect);
            let plan = check(scope.clone(), listed.clone(), &options());
            for change in &plan.changes {
                prop_assert!(change.key.starts_with("p/"), "outside the prefix: {:?}", change);
                prop_assert!(!scope.ignore.is_match(&change.key), "ignored: {:?}", change);
                if change.action.is_delete() {
                    let ours = matches!(change.live.as_ref().map(|l| &l.marker),
                        Some(Marker::V1 { owner, .. }) if owner == OWNER);
                    prop_assert!(ours, "deletes a key that is not ours: {:?}", change);
                    prop_assert!(prune, "deletes with prune: false");
                }
                if scope.protect.is_match(&change.key) {
                    prop_assert!(
                        !change.action.is_delete()
                            && !matches!(change.action, Action::Adopt | Action::TakeOver { .. }),
                        "protected key touched: {:?}", change
                    );
                }
            }
            // Keys outside the scope are untouched by applying the plan.
            let after = apply_model(&scope, &plan, &listed);
            let outside = |keys: &[ListedKey]| {
                let mut keys: Vec<ListedKey> = keys.iter()
                    .filter(|k| !k.name.starts_with("p/") || scope.ignore.is_match(&k.name))
                    .cloned().collect();
                keys.sort_by(|a, b| a.name.cmp(&b.name));
                keys
            };
            prop_assert_eq!(outside(&after), outside(&listed));
        }

        #[test]
        fn plan_is_deterministic(
            (wanted, live, prune, ignore, protect) in case_strategy(),
            seed in any::<u64>(),
        ) {
            let (scope, listed) = build(&wanted, &live, prune, ignore, protect);
            let mut shuffled = listed.clone();
            // A cheap deterministic shuffle: rotate and reverse by the seed.
            if !shuffled.is_empty() {
                let n = shuffled.len();
                shuffled.rotate_left((seed as usize) % n);
                if seed % 2 == 0 { shuffled.reverse(); }
            }
            let a = check(scope.clone(), listed, &options());
            let b = check(scope, shuffled, &options());
            prop_assert_eq!(a, b);
        }
    }
}
