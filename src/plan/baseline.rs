//! Baseline tagging (DESIGN.md §3): with the config as it is on the target branch, each change
//! is tagged `pr` when the pull request changed that key's desired state, else `drift`.
//!
//! Pure, like the rest of the engine: it compares the desired states and the plan's own record
//! of what was live, and reads nothing.
//!
//! The baseline also says what was sensitive before the pull request: a key the baseline marks
//! sensitive has a live value that must stay hidden, even when the head config writes it from a
//! literal now and its marker predates the `sensitive` field.

use super::{Change, Origin, Plan};
use crate::config::Desired;
use crate::content::Marker;

/// Tags every change of `plan` (made from the head config) against `baseline` (the same config
/// on the target branch). Scopes are matched by name; a scope the baseline lacks is new in the
/// pull request, so all its changes are `pr`.
pub fn tag(plan: &mut Plan, baseline: &Desired, owner: &str) {
    for scope in &mut plan.scopes {
        let base = baseline
            .scopes
            .iter()
            .find(|b| b.name == scope.name && b.namespace_id == scope.namespace_id);
        for change in &mut scope.changes {
            let base_entry = base.and_then(|b| b.entries.get(&change.key));
            let base_hash = base_entry.map(|e| e.hash);
            change.origin = Some(origin(change, base_hash, base.is_some(), owner));
            if let Some(live) = &mut change.live
                && base_entry.is_some_and(|e| e.sensitive)
            {
                live.sensitive = true;
            }
        }
    }
}

fn origin(
    change: &Change,
    base_hash: Option<crate::content::ContentHash>,
    scope_in_base: bool,
    owner: &str,
) -> Origin {
    let head_hash = change.desired.as_ref().map(|d| d.hash);
    if !scope_in_base || head_hash != base_hash {
        return Origin::Pr { drifted: scope_in_base && drifted(change, base_hash, owner) };
    }
    Origin::Drift
}

/// Whether live differs from the baseline's desired state for this key: the change a plan of the
/// baseline would have shown.
fn drifted(change: &Change, base_hash: Option<crate::content::ContentHash>, owner: &str) -> bool {
    let live = change.live.as_ref().map(|l| &l.marker);
    match (base_hash, live) {
        (None, None) => false,
        (Some(_), None) => true,
        (Some(hash), Some(Marker::V1 { owner: o, sha256, .. })) => o != owner || *sha256 != hash,
        (Some(_), Some(_)) => true,
        // Not desired on the baseline: only a key of ours would have been a change (a delete).
        (None, Some(Marker::V1 { owner: o, .. })) => o == owner,
        (None, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Expiration;
    use crate::content::{ContentHash, written_metadata};
    use crate::plan::{Action, DesiredKey, LiveKey, ScopePlan};
    use crate::testing;

    fn hash(n: u8) -> ContentHash {
        ContentHash([n; 32])
    }

    fn change(key: &str, action: Action, desired: Option<u8>, live: Option<(&str, u8)>) -> Change {
        Change {
            key: key.into(),
            action,
            desired: desired.map(|n| DesiredKey {
                hash: hash(n),
                metadata: None,
                expiration: Expiration::Never,
                sensitive: false,
            }),
            live: live.map(|(owner, n)| LiveKey {
                marker: Marker::from_metadata(Some(&written_metadata(None, owner, hash(n), None))),
                expiration: None,
                metadata: None,
                sensitive: false,
            }),
            origin: None,
        }
    }

    fn baseline(keys: &[(&str, u8)]) -> Desired {
        baseline_with(keys, &[])
    }

    fn baseline_with(keys: &[(&str, u8)], sensitive: &[&str]) -> Desired {
        use crate::config::{DesiredEntry, ValueSource};
        let entries = keys
            .iter()
            .map(|(k, n)| {
                let entry = DesiredEntry {
                    value: ValueSource::Inline(Box::default()),
                    size: 0,
                    is_text: true,
                    json: false,
                    metadata: None,
                    expiration: Expiration::Never,
                    sensitive: sensitive.contains(k),
                    hash: hash(*n),
                };
                ((*k).to_owned(), entry)
            })
            .collect();
        testing::desired("web", vec![testing::scope("flags", "ns", "", entries)])
    }

    fn plan(changes: Vec<Change>) -> Plan {
        Plan {
            only: Vec::new(),
            refusals: Vec::new(),
            scopes: vec![ScopePlan {
                resolved_from: None,
                name: "flags".into(),
                namespace_id: "ns".into(),
                prefix: String::new(),
                prune: true,
                allow_empty: false,
                changes,
                unchanged: 0,
                unmanaged: Vec::new(),
                ours_live: 0,
                desired: 0,
                warnings: Vec::new(),
            }],
        }
    }

    #[test]
    fn tags_pr_changes_drift_and_both() {
        // Baseline: a=1, b=1, c=1, d=1. Head: a=2 (PR edit), b=1, c=1, new e=1, d removed.
        let base = baseline(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)]);
        let mut plan = plan(vec![
            change("a", Action::Update, Some(2), Some(("web", 1))), // PR edit, live as baseline
            change("b", Action::Update, Some(1), Some(("web", 9))), // hand edit: drift
            change("c", Action::Create, Some(1), None),             // deleted by hand: drift
            change(
                "d",
                Action::Delete { reason: crate::plan::DeleteReason::NotDesired },
                None,
                Some(("web", 1)),
            ),
            change("e", Action::Create, Some(1), None), // PR adds
            change("x", Action::Update, Some(3), Some(("web", 7))), // PR adds x; live had it drifted
        ]);
        tag(&mut plan, &base, "web");
        let origins: Vec<_> =
            plan.scopes[0].changes.iter().map(|c| (c.key.as_str(), c.origin)).collect();
        assert_eq!(
            origins,
            vec![
                ("a", Some(Origin::Pr { drifted: false })),
                ("b", Some(Origin::Drift)),
                ("c", Some(Origin::Drift)),
                ("d", Some(Origin::Pr { drifted: false })),
                ("e", Some(Origin::Pr { drifted: false })),
                ("x", Some(Origin::Pr { drifted: true })),
            ]
        );
    }

    #[test]
    fn a_pr_edit_over_a_hand_edit_is_pr_and_drifted() {
        let base = baseline(&[("a", 1)]);
        let mut plan = plan(vec![change("a", Action::Update, Some(2), Some(("web", 5)))]);
        tag(&mut plan, &base, "web");
        assert_eq!(plan.scopes[0].changes[0].origin, Some(Origin::Pr { drifted: true }));
    }

    /// Issue 15 item 6: a key the baseline wrote from a secret keeps its live value hidden when
    /// the pull request turns it into a literal.
    #[test]
    fn a_key_sensitive_on_the_baseline_has_a_hidden_live_value() {
        let base = baseline_with(&[("secret", 1), ("plain", 1)], &["secret"]);
        let mut plan = plan(vec![
            change("plain", Action::Update, Some(2), Some(("web", 1))),
            change("secret", Action::Update, Some(2), Some(("web", 1))),
        ]);
        assert!(!plan.scopes[0].changes[1].sensitive());
        tag(&mut plan, &base, "web");
        let hidden: Vec<_> =
            plan.scopes[0].changes.iter().map(|c| (c.key.as_str(), c.sensitive())).collect();
        assert_eq!(hidden, vec![("plain", false), ("secret", true)]);
    }

    #[test]
    fn a_new_scope_is_all_pr() {
        let mut base = baseline(&[("a", 1)]);
        base.scopes[0].name = "other".into();
        let mut plan = plan(vec![change("a", Action::Create, Some(1), None)]);
        tag(&mut plan, &base, "web");
        assert_eq!(plan.scopes[0].changes[0].origin, Some(Origin::Pr { drifted: false }));
    }
}
