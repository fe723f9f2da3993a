//! Builders shared by the unit tests: the desired-state values many modules' tests need, written
//! once. Test-only; nothing here is part of the library.

use crate::config::desired::Entries;
use crate::config::{Desired, DesiredEntry, DesiredScope, Globs, ValueSource};
use crate::content::Expiration;
use crate::content::content_hash;

/// An inline text entry with its real content hash.
pub(crate) fn entry(value: &str, expiration: Expiration, sensitive: bool) -> DesiredEntry {
    DesiredEntry {
        value: ValueSource::Inline(value.as_bytes().into()),
        size: value.len() as u64,
        is_text: true,
        json: false,
        metadata: None,
        expiration,
        sensitive,
        hash: content_hash(value.as_bytes(), None, expiration),
    }
}

/// A pruning scope with no globs.
pub(crate) fn scope(
    name: &str,
    namespace_id: &str,
    prefix: &str,
    entries: Entries,
) -> DesiredScope {
    DesiredScope {
        name: name.into(),
        namespace_id: namespace_id.into(),
        resolved_from: None,
        binding: None,
        prefix: prefix.into(),
        list_shards: Vec::new(),
        prune: true,
        allow_empty: false,
        snapshot: true,
        ignore: Globs::empty(),
        protect: Globs::empty(),
        take_over: Globs::empty(),
        entries,
        schemas: crate::config::ValueSchemas::default(),
    }
}

/// A desired state of these scopes, owned by `owner`, with the default delete floor.
pub(crate) fn desired(owner: &str, scopes: Vec<DesiredScope>) -> Desired {
    Desired {
        owner: owner.into(),
        environment: None,
        account_id: None,
        target: None,
        local_path: None,
        max_deletes: 50,
        plan_tier: Default::default(),
        scopes,
    }
}

/// Plans, value views and drift reports for the renderers' tests (human, JSON, Markdown).
pub(crate) mod plans {
    use crate::content::{ContentHash, Expiration, Marker};
    use crate::kv::LiveValue;
    use crate::plan::drift::{DriftClass, DriftReport, DriftedKey, ScopeDrift};
    use crate::plan::{
        Action, Change, ConflictReason, DeleteReason, DesiredKey, LiveKey, Plan, ProtectedAction,
        ScopePlan, Warning,
    };
    use crate::report::json::MetadataDto;
    use crate::report::values::{ValueView, ValueViews, value_view};
    use serde_json::json;

    pub(crate) const NAMESPACE: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    /// A secret that must never appear in any output, nor its sha256.
    pub(crate) const SECRET: &str = "s3cret-payments-key";

    fn map(value: serde_json::Value) -> Option<MetadataDto> {
        value.as_object().cloned()
    }

    pub(crate) fn desired(byte: u8) -> DesiredKey {
        DesiredKey {
            hash: ContentHash([byte; 32]),
            metadata: None,
            expiration: Expiration::Never,
            sensitive: false,
        }
    }

    pub(crate) fn live(marker: Marker) -> LiveKey {
        LiveKey { marker, expiration: None, metadata: None, sensitive: false }
    }

    pub(crate) fn ours(byte: u8) -> LiveKey {
        live(Marker::V1 {
            owner: "web-flags".into(),
            sha256: ContentHash([byte; 32]),
            rev: Some("4b825dc642cb6eb9a060e54bf8d69288fbee4904".into()),
            sensitive: false,
        })
    }

    pub(crate) fn owned_by(owner: &str, byte: u8) -> LiveKey {
        live(Marker::V1 {
            owner: owner.into(),
            sha256: ContentHash([byte; 32]),
            rev: None,
            sensitive: false,
        })
    }

    pub(crate) fn change(
        key: &str,
        action: Action,
        desired: Option<DesiredKey>,
        live: Option<LiveKey>,
    ) -> Change {
        Change { key: key.into(), action, desired, live, origin: None }
    }

    pub(crate) fn scope(name: &str, prefix: &str, changes: Vec<Change>) -> ScopePlan {
        ScopePlan {
            resolved_from: None,
            name: name.into(),
            namespace_id: NAMESPACE.into(),
            prefix: prefix.into(),
            prune: true,
            allow_empty: false,
            changes,
            unchanged: 0,
            unmanaged: Vec::new(),
            ours_live: 0,
            desired: 0,
            warnings: Vec::new(),
        }
    }

    pub(crate) fn text(live: Option<&str>, desired: &str) -> ValueView {
        let live = live.map(|text| LiveValue::Text(text.into()));
        value_view(live.as_ref(), Some(desired.as_bytes()), false)
    }

    /// A plan with every action kind (and a sensitive update), with the views the CLI would
    /// prepare for its puts.
    pub(crate) fn every_action() -> (Plan, ValueViews) {
        let created = DesiredKey {
            metadata: map(json!({"team": "growth"})),
            expiration: Expiration::Ttl(3600),
            ..desired(1)
        };
        let secret =
            DesiredKey { metadata: map(json!({"token": SECRET})), sensitive: true, ..desired(10) };
        let secret_live = LiveKey { metadata: map(json!({"token": "old"})), ..ours(11) };
        let mut flags = scope(
            "flags",
            "flags/",
            vec![
                change("flags/a-create", Action::Create, Some(created), None),
                change("flags/b-update", Action::Update, Some(desired(2)), Some(ours(3))),
                change("flags/c-adopt", Action::Adopt, Some(desired(4)), Some(live(Marker::None))),
                change(
                    "flags/d-take",
                    Action::TakeOver { from: "other-team".into() },
                    Some(desired(5)),
                    Some(owned_by("other-team", 6)),
                ),
                change(
                    "flags/e-delete",
                    Action::Delete { reason: DeleteReason::NotDesired },
                    None,
                    Some(ours(7)),
                ),
                change(
                    "flags/f-expiring",
                    Action::Delete { reason: DeleteReason::Expiring },
                    None,
                    Some(LiveKey { expiration: Some(1_900_000_030), ..ours(8) }),
                ),
                change(
                    "flags/g-conflict",
                    Action::Conflict { reason: ConflictReason::Owner("other".into()) },
                    Some(desired(9)),
                    Some(owned_by("other", 9)),
                ),
                change(
                    "flags/h-newer",
                    Action::Conflict { reason: ConflictReason::NewerVersion(2) },
                    Some(desired(9)),
                    Some(live(Marker::Newer { version: 2, owner: "web-flags".into() })),
                ),
                change("flags/i-orphan", Action::Orphan, None, Some(ours(12))),
                change(
                    "flags/j-protected",
                    Action::Protected { instead_of: ProtectedAction::Delete },
                    None,
                    Some(ours(13)),
                ),
                change(
                    "flags/k-protected",
                    Action::Protected { instead_of: ProtectedAction::Adopt },
                    Some(desired(14)),
                    Some(live(Marker::None)),
                ),
                change(
                    "flags/l-protected",
                    Action::Protected {
                        instead_of: ProtectedAction::TakeOver { from: "ops".into() },
                    },
                    Some(desired(15)),
                    Some(owned_by("ops", 16)),
                ),
                change("flags/s-secret", Action::Update, Some(secret), Some(secret_live)),
            ],
        );
        flags.unchanged = 120;
        flags.unmanaged = vec!["flags/x".into(), "flags/y".into()];
        flags.warnings.push(Warning {
            key: "flags/black-friday".into(),
            message: "expiration is less than 60 s away; the key is skipped".into(),
        });
        let mut views = ValueViews::new();
        views.insert(0, "flags/a-create", text(None, "on"));
        views.insert(
            0,
            "flags/b-update",
            text(Some(r#"{"enabled":false,"rollout":10}"#), r#"{"enabled":true,"rollout":10}"#),
        );
        views.insert(0, "flags/c-adopt", text(Some("hand-written"), "managed"));
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        views.insert(
            0,
            "flags/d-take",
            value_view(Some(&LiveValue::Binary(png.to_vec())), Some(&png[..4]), false),
        );
        views.insert(0, "flags/s-secret", ValueView::Sensitive);
        let mut plan = Plan { scopes: vec![flags], ..Plan::default() };
        // As the engine records them: the two conflicts refuse the plan.
        plan.refusals = crate::plan::guards::check(&plan, &Default::default());
        (plan, views)
    }

    pub(crate) fn drift_report() -> DriftReport {
        let key = |key: &str, class, detail: Option<&str>| DriftedKey {
            key: key.into(),
            class,
            detail: detail.map(str::to_owned),
        };
        DriftReport {
            deep: true,
            scopes: vec![
                ScopeDrift {
                    name: "flags".into(),
                    namespace_id: NAMESPACE.into(),
                    prefix: "flags/".into(),
                    drifted: vec![
                        key("flags/a", DriftClass::Missing, None),
                        key("flags/b", DriftClass::Changed, None),
                        key("flags/c", DriftClass::Modified, None),
                        key("flags/d", DriftClass::Conflict, Some("owned by `other`")),
                        key("flags/e", DriftClass::Extra, None),
                        key("flags/f", DriftClass::Tampered, Some("value differs")),
                        key(
                            "flags/g",
                            DriftClass::Invalid,
                            Some(
                                "breaks its schema at `/rollout`: \"50%\" is not of type \
                                 \"integer\" (schema `schemas/flag.json#/properties/rollout/type`); \
                                 value differs",
                            ),
                        ),
                    ],
                    in_sync: 120,
                    unmanaged: vec!["flags/x".into()],
                    expired_ttl: vec!["flags/session".into()],
                },
                ScopeDrift {
                    name: "config".into(),
                    namespace_id: "9a8b7c6d5e4f30211203f4e5d6c7b8a9".into(),
                    prefix: String::new(),
                    drifted: vec![key("app/url", DriftClass::Missing, None)],
                    in_sync: 3,
                    unmanaged: Vec::new(),
                    expired_ttl: Vec::new(),
                },
            ],
        }
    }
}
