//! The plan as every format reports it: each fact a report states is decided here once, and the
//! human, JSON and Markdown renderers only format it.
//!
//! A [`PlanReport`] is a view over a [`Plan`], the [`ValueViews`] the CLI prepared and the
//! [`Cost`]: it allocates nothing per change (a plan can hold a million), and hands out
//! [`ScopeReport`]s and [`ChangeReport`]s. A change's kind ([`ActionKind`]: its marker, label
//! and count), its note ([`Phrase`]: our words and the names in them kept apart, so each format
//! quotes a name its own way), its metadata and expiration lines ([`Attribute`]), whether a
//! value may be shown and whether it is sensitive are all answered here. Adding an action kind
//! means one arm in [`ActionKind::of`] and the matches the compiler then points at.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::content::Expiration;
use crate::plan::{
    Action, Change, ConflictReason, DeleteReason, Origin, Plan, ProtectedAction, ScopePlan, Summary,
};
use crate::report::cost::Cost;
use crate::report::values::{ValueView, ValueViews};
use crate::text::{counted, printable};

/// A plan with what its reports need, read lazily.
pub struct PlanReport<'a> {
    pub plan: &'a Plan,
    pub views: &'a ValueViews,
    pub cost: &'a Cost,
    /// The counts of the whole plan, computed once.
    pub summary: Summary,
}

impl<'a> PlanReport<'a> {
    pub fn new(plan: &'a Plan, views: &'a ValueViews, cost: &'a Cost) -> Self {
        Self { plan, views, cost, summary: plan.summary() }
    }

    /// The scopes, in config order.
    pub fn scopes(&self) -> impl Iterator<Item = ScopeReport<'a>> + use<'a> {
        let views = self.views;
        self.plan.scopes.iter().enumerate().map(move |(index, scope)| ScopeReport {
            index,
            scope,
            views,
        })
    }

    /// Whether the changes carry baseline tags (`--baseline`): reports then list drift already
    /// live apart from what the pull request changes.
    pub fn grouped(&self) -> bool {
        self.plan.scopes.iter().flat_map(|s| &s.changes).any(|c| c.origin.is_some())
    }

    /// The cost line, when a report shows it. The one rule, in every format: on a target that
    /// meters requests (Cloudflare) and when the plan has changes. The local store bills
    /// nothing, and a plan without changes sends apply nothing. (JSON always carries the
    /// `cost` object, the line included, as data.)
    pub fn cost_line(&self) -> Option<String> {
        (self.cost.metered && self.summary.has_changes()).then(|| self.cost.line())
    }

    /// The sentence under the summary line when the plan adopts keys.
    pub fn adopt_note(&self) -> Option<&'static str> {
        (self.summary.adopt > 0).then_some(
            "Adopting rewrites each adopted value (a billed write), because KV cannot change metadata alone.",
        )
    }

    /// The header of a plan restricted with `--only`, names in backticks.
    pub fn only_line(&self) -> Option<String> {
        if self.plan.only.is_empty() {
            return None;
        }
        let globs: Vec<String> =
            self.plan.only.iter().map(|g| format!("`{}`", printable(g))).collect();
        Some(format!(
            "Only keys matching {} are planned (--only); every other key is left out.",
            globs.join(", ")
        ))
    }
}

/// The changes a capped rendering lists, as (scope index, key): in each origin group (drift,
/// then the pull request's, when the plan is tagged), scope and action, the first `per_group`
/// that are not conflicts (those are listed with the refusals), in plan order. Only these need
/// their live values read for a diff.
pub fn listed_keys(plan: &Plan, per_group: usize) -> std::collections::HashSet<(usize, &str)> {
    listed_in_order(plan, per_group).into_iter().collect()
}

/// [`listed_keys`] in the order a rendering lists them.
pub fn listed_in_order(plan: &Plan, per_group: usize) -> Vec<(usize, &str)> {
    let mut listed = Vec::new();
    for drift in origin_groups(plan) {
        for (index, scope) in plan.scopes.iter().enumerate() {
            for kind in ActionKind::ALL.into_iter().filter(|k| *k != ActionKind::Conflict) {
                let keys = scope
                    .changes
                    .iter()
                    .filter(|c| ActionKind::of(&c.action) == kind && in_group(c, drift))
                    .take(per_group)
                    .map(|c| (index, c.key.as_str()));
                listed.extend(keys);
            }
        }
    }
    listed
}

/// The origin groups a capped rendering lists in turn: `[None]` (every change) for an untagged
/// plan, `[Some(true), Some(false)]` (drift already live, then the pull request's) for a tagged
/// one.
pub fn origin_groups(plan: &Plan) -> Vec<Option<bool>> {
    let tagged = plan.scopes.iter().flat_map(|s| &s.changes).any(|c| c.origin.is_some());
    if tagged { vec![Some(true), Some(false)] } else { vec![None] }
}

/// Whether `change` belongs to the origin group `drift` ([`origin_groups`]): a change without a
/// tag in a tagged plan goes with the pull request's.
pub fn in_group(change: &crate::plan::Change, drift: Option<bool>) -> bool {
    match drift {
        None => true,
        Some(drift) => (change.origin == Some(crate::plan::Origin::Drift)) == drift,
    }
}

/// One scope of a [`PlanReport`].
#[derive(Clone, Copy)]
pub struct ScopeReport<'a> {
    /// The scope's place in the plan (value views are keyed by it).
    pub index: usize,
    pub scope: &'a ScopePlan,
    views: &'a ValueViews,
}

impl<'a> ScopeReport<'a> {
    pub fn changes(&self) -> impl Iterator<Item = ChangeReport<'a>> + use<'a> {
        let (index, views) = (self.index, self.views);
        self.scope.changes.iter().map(move |change| ChangeReport {
            change,
            kind: ActionKind::of(&change.action),
            view: views.get(index, &change.key),
        })
    }

    /// How the scope's namespace id was found when the config did not write it out.
    pub fn resolved_from(&self) -> Option<&'a str> {
        self.scope.resolved_from.as_deref()
    }
}

/// Where in its namespace a scope is: `whole namespace`, or `prefix ` and the prefix as `quote`
/// writes it.
pub fn place(prefix: &str, quote: impl Fn(&str) -> String) -> String {
    if prefix.is_empty() {
        "whole namespace".to_owned()
    } else {
        format!("prefix {}", quote(prefix))
    }
}

/// One change of a [`ScopeReport`].
#[derive(Clone, Copy)]
pub struct ChangeReport<'a> {
    pub change: &'a Change,
    pub kind: ActionKind,
    /// The value view the CLI prepared, if any; see [`ChangeReport::shown_value`].
    pub view: Option<&'a ValueView>,
}

impl<'a> ChangeReport<'a> {
    pub fn key(&self) -> &'a str {
        &self.change.key
    }

    pub fn note(&self) -> Option<Phrase> {
        if self.marker_only() {
            return Some(match self.change.action {
                Action::Adopt => Phrase::words(
                    "adopt, marker only: the value is already as desired; it is rewritten with \
                     the marker",
                ),
                _ => Phrase::words(
                    "marker only: live already matches; apply rewrites kvsync's marker: 1 write",
                ),
            });
        }
        note(&self.change.action)
    }

    /// Live is already as desired and only the marker is rewritten ([`ValueView::MarkerOnly`]).
    pub fn marker_only(&self) -> bool {
        matches!(self.view, Some(ValueView::MarkerOnly))
    }

    /// The value to show under the change: only keys apply writes or deletes get one, since a
    /// value under a conflict or a protected key would read as if it were about to be written.
    pub fn shown_value(&self) -> Option<&'a ValueView> {
        (self.change.action.is_put() || self.change.action.is_delete()).then_some(self.view)?
    }

    /// The metadata and expiration lines of a put; none for anything else.
    pub fn attributes(&self) -> Vec<Attribute> {
        if self.change.action.is_put() { attributes(self.change) } else { Vec::new() }
    }

    /// Whether nothing derived from the value may be shown: the desired entry, the live marker
    /// or the baseline says so, or the CLI prepared the value as sensitive.
    pub fn sensitive(&self) -> bool {
        self.change.sensitive() || matches!(self.view, Some(ValueView::Sensitive))
    }

    /// With `--baseline`: a change of the pull request to a key also changed by hand.
    pub fn also_changed_by_hand(&self) -> bool {
        self.change.origin == Some(Origin::Pr { drifted: true })
    }
}

// Every format names a change by this kind: its marker, label and count are here, and the JSON
// writes it as is (`schemas/plan.schema.json` calls it `ActionDto`). The doc comment is the
// schema's description.
/// What happens to a key (docs/spec.md, "How keys are classified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "ActionDto")]
pub enum ActionKind {
    /// Desired, absent live: put.
    Create,
    /// Desired, ours with another content hash: put.
    Update,
    /// Desired, live without a kvsync marker: put.
    Adopt,
    /// Desired, held by another owner this run may take: put.
    TakeOver,
    /// Ours and no longer desired: delete.
    Delete,
    /// Desired, held by another owner or a newer kvsync: apply refuses.
    Conflict,
    /// Ours and no longer desired, kept because `prune: false`. Not a change.
    Orphan,
    /// Spared by `protect:` from a delete, adopt or take-over. Not a change.
    Protected,
}

/// How a renderer may colour a kind; every kind also reads without colour (its marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Added,
    Changed,
    Removed,
    Info,
}

impl ActionKind {
    /// Every kind, in the order reports count them.
    pub const ALL: [Self; 8] = [
        Self::Create,
        Self::Update,
        Self::Adopt,
        Self::TakeOver,
        Self::Delete,
        Self::Conflict,
        Self::Orphan,
        Self::Protected,
    ];

    pub fn of(action: &Action) -> Self {
        match action {
            Action::Create => Self::Create,
            Action::Update => Self::Update,
            Action::Adopt => Self::Adopt,
            Action::TakeOver { .. } => Self::TakeOver,
            Action::Delete { .. } => Self::Delete,
            Action::Conflict { .. } => Self::Conflict,
            Action::Orphan => Self::Orphan,
            Action::Protected { .. } => Self::Protected,
        }
    }

    /// Whether apply writes or deletes the key.
    pub fn is_write_or_delete(self) -> bool {
        matches!(self, Self::Create | Self::Update | Self::Adopt | Self::TakeOver | Self::Delete)
    }

    /// The marker column of a change line: readable without colour.
    pub fn marker(self) -> char {
        match self {
            Self::Create => '+',
            Self::Update => '~',
            Self::Adopt => '!',
            Self::TakeOver => '>',
            Self::Delete => '-',
            Self::Conflict => 'x',
            Self::Orphan => '=',
            Self::Protected => '#',
        }
    }

    /// The kind in words, as a count table labels it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Adopt => "adopt",
            Self::TakeOver => "take over",
            Self::Delete => "delete",
            Self::Conflict => "conflict",
            Self::Orphan => "orphan (kept)",
            Self::Protected => "protected",
        }
    }

    /// How many changes of this kind `summary` counts.
    pub fn count(self, summary: &Summary) -> usize {
        match self {
            Self::Create => summary.create,
            Self::Update => summary.update,
            Self::Adopt => summary.adopt,
            Self::TakeOver => summary.take_over,
            Self::Delete => summary.delete,
            Self::Conflict => summary.conflict,
            Self::Orphan => summary.orphan,
            Self::Protected => summary.protected,
        }
    }

    pub fn tone(self) -> Tone {
        match self {
            Self::Create => Tone::Added,
            Self::Update | Self::Adopt | Self::TakeOver => Tone::Changed,
            Self::Delete | Self::Conflict => Tone::Removed,
            Self::Orphan | Self::Protected => Tone::Info,
        }
    }
}

/// A piece of a [`Phrase`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// kvsync's own words; backticks in them mark code (`` `take_over:` ``).
    Words(Cow<'static, str>),
    /// A name from users or KV (an owner, a flag with one in it): shown as code, escaped.
    Name(String),
    /// A detail kvsync worded from data it read (`` `v` is `3` ``): prose with code spans.
    Detail(String),
}

/// A sentence about a key, its names kept apart from its words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phrase(pub Vec<Part>);

impl Phrase {
    fn words(words: impl Into<Cow<'static, str>>) -> Self {
        Self(vec![Part::Words(words.into())])
    }

    /// As the human plan and JSON write it: names in backticks, made [`printable`].
    pub fn plain(&self) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Words(words) => words.to_string(),
                Part::Name(name) => format!("`{}`", printable(name)),
                Part::Detail(detail) => detail.clone(),
            })
            .collect()
    }
}

/// The note after a key, `None` when its marker says it all.
pub fn note(action: &Action) -> Option<Phrase> {
    use Part::{Detail, Name, Words};
    let phrase = match action {
        Action::Create | Action::Update | Action::Delete { reason: DeleteReason::NotDesired } => {
            return None;
        }
        Action::Adopt => Phrase::words("adopt: no kvsync marker; the value is rewritten with one"),
        Action::TakeOver { from } => {
            Phrase(vec![Words("take over from ".into()), Name(from.clone())])
        }
        Action::Delete { reason: DeleteReason::Expiring } => {
            Phrase::words("expiration is less than 60 s away")
        }
        Action::Conflict { reason: ConflictReason::Owner(owner) } => Phrase(vec![
            Words("owned by ".into()),
            Name(owner.clone()),
            Words("; add the key to `take_over:` or pass ".into()),
            Name(format!("--take-over {owner}")),
        ]),
        Action::Conflict { reason: ConflictReason::NewerVersion(version) } => {
            Phrase::words(format!("written by a newer kvsync (marker v{version}); upgrade kvsync"))
        }
        Action::Conflict { reason: ConflictReason::Unreadable(detail) } => Phrase(vec![
            Words("ours, but its marker cannot be read (".into()),
            Detail(detail.clone()),
            Words("); upgrade kvsync".into()),
        ]),
        Action::Conflict { reason: ConflictReason::DamagedListing(detail) } => Phrase(vec![
            Words("listed damaged (".into()),
            Detail(detail.clone()),
            Words("); left alone".into()),
        ]),
        Action::Orphan => Phrase::words("no longer desired; kept because `prune: false`"),
        Action::Protected { instead_of: ProtectedAction::Delete } => {
            Phrase::words("protected: would be deleted")
        }
        Action::Protected { instead_of: ProtectedAction::Adopt } => {
            Phrase::words("protected: would be adopted")
        }
        Action::Protected { instead_of: ProtectedAction::TakeOver { from } } => {
            Phrase(vec![Words("protected: would be taken over from ".into()), Name(from.clone())])
        }
    };
    Some(phrase)
}

/// How a hidden value or metadata is shown.
pub const SENSITIVE: &str = "(sensitive)";

/// A metadata or expiration line under a put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `metadata` or `expiration`.
    pub label: &'static str,
    /// What it says, raw: renderers escape it.
    pub text: String,
    /// Whether `text` shows user metadata (JSON from users or KV), which a format quotes as code.
    pub literal: bool,
}

/// The metadata and expiration lines of a put: everything for a create, what differs for a
/// write over a live key. A sensitive key's metadata (the entry's, or the live key's when that
/// was written sensitive) is never shown, since it may hold an interpolated secret; only whether
/// it changes.
fn attributes(change: &Change) -> Vec<Attribute> {
    let mut lines = Vec::new();
    let Some(desired) = &change.desired else { return lines };
    let live = change.live.as_ref();
    let live_metadata = live.and_then(|l| l.metadata.as_ref());
    let sensitive = change.sensitive();
    let shown = |metadata: Option<&serde_json::Map<String, serde_json::Value>>| match metadata {
        None => "none".to_owned(),
        Some(_) if sensitive => SENSITIVE.to_owned(),
        Some(map) => serde_json::Value::Object(map.clone()).to_string(),
    };
    let metadata = match live {
        None if desired.metadata.is_some() => Some(shown(desired.metadata.as_ref())),
        Some(_) if live_metadata != desired.metadata.as_ref() => {
            let (old, new) = (shown(live_metadata), shown(desired.metadata.as_ref()));
            Some(if old == new { format!("{new} (changed)") } else { format!("{old} → {new}") })
        }
        _ => None,
    };
    if let Some(text) = metadata {
        let literal = !text.starts_with(SENSITIVE);
        lines.push(Attribute { label: "metadata", text, literal });
    }
    let live_expiration = live.map(|l| l.expiration);
    let old = || live.and_then(|l| l.expiration).map_or_else(|| "never".to_owned(), timestamp);
    let expiration = match (desired.expiration, live_expiration) {
        (Expiration::Ttl(seconds), None) => Some(format!("{seconds} s after the write (ttl)")),
        (Expiration::Ttl(seconds), Some(_)) => {
            Some(format!("{} → {seconds} s after this write (ttl)", old()))
        }
        (Expiration::At(at), None) => Some(timestamp(at)),
        (Expiration::At(at), Some(live)) if live != Some(at) => {
            Some(format!("{} → {}", old(), timestamp(at)))
        }
        (Expiration::Never, Some(Some(_))) => Some(format!("{} → never", old())),
        _ => None,
    };
    lines.extend(expiration.map(|text| Attribute { label: "expiration", text, literal: false }));
    lines
}

/// Unix seconds as RFC 3339 in UTC; the number itself when it is out of range.
pub fn timestamp(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

/// The summary line of DESIGN.md §5.
///
/// With changes: `Plan: ` then the counts of what apply does plus the unchanged keys, joined by
/// commas, then each report-only count (conflicts, orphans kept, protected, unmanaged keys left
/// alone) after a semicolon, and a final period:
/// `Plan: 3 to create, 1 to delete, 120 unchanged; 1 conflict; 2 unmanaged keys left alone.`
/// Conflicts count as changes (they block apply) but are reported in the semicolon part, where
/// DESIGN.md puts them.
///
/// Without changes: `No changes.` alone, or followed by one space and the same remaining counts,
/// unchanged first, joined by semicolons and ending with a period:
/// `No changes. 120 unchanged; 2 orphans kept; 2 unmanaged keys left alone.`
///
/// Counts of zero are left out; nouns agree with their numbers.
pub fn summary_line(summary: &Summary) -> String {
    let mut changes = Vec::new();
    for (count, what) in [
        (summary.create, "to create"),
        (summary.update, "to update"),
        (summary.adopt, "to adopt"),
        (summary.take_over, "to take over"),
        (summary.delete, "to delete"),
        (summary.unchanged, "unchanged"),
    ] {
        if count > 0 {
            changes.push(format!("{count} {what}"));
        }
    }
    let mut reports = Vec::new();
    if summary.conflict > 0 {
        reports.push(counted(summary.conflict, "conflict", "conflicts"));
    }
    if summary.orphan > 0 {
        reports.push(format!("{} kept", counted(summary.orphan, "orphan", "orphans")));
    }
    if summary.protected > 0 {
        reports.push(format!("{} protected", summary.protected));
    }
    if summary.unmanaged > 0 {
        reports.push(format!(
            "{} left alone",
            counted(summary.unmanaged, "unmanaged key", "unmanaged keys")
        ));
    }
    let mut parts = Vec::new();
    if !changes.is_empty() {
        parts.push(changes.join(", "));
    }
    parts.extend(reports);
    if summary.has_changes() {
        format!("Plan: {}.", parts.join("; "))
    } else if parts.is_empty() {
        "No changes.".to_owned()
    } else {
        format!("No changes. {}.", parts.join("; "))
    }
}
