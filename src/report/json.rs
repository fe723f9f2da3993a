//! The machine formats: `plan --format json` (also embedded in the plan file of `plan --out`) and
//! `drift --format json`.
//!
//! These are a versioned contract (STYLE.md habit 5): the documents are their own DTOs, built
//! from the engine's types here, so the engine can change without changing what scripts read.
//! [`FORMAT_VERSION`] changes only when a field changes meaning or goes away; adding an optional
//! field keeps it, which is why readers must ignore fields they do not know (serde does).
//! `schemas/plan.schema.json` is generated from [`PlanDocument`] ([`plan_schema_json`]) and a test
//! keeps it up to date.
//!
//! Secret masking (DESIGN.md §6.5, issue 4 item 6) for these documents happens in
//! `change_dto`: for a sensitive key the document carries no value-derived field at all: no
//! content hash (it is derived from the value), no size, no metadata, no diff.
//!
//! Like every renderer, this module takes data and never calls a store (habit 4).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::content::Expiration;
use crate::content::Marker;
use crate::plan::drift::{DriftClass, DriftReport};
use crate::plan::guards::Refusal;
use crate::plan::{
    Action, ConflictReason, DeleteReason, Origin, ProtectedAction, ScopePlan, Summary,
};
use crate::report::cost::Cost;
use crate::report::model::{ChangeReport, PlanReport, summary_line};
use crate::report::values::{TextComparison, ValueView, compare_text};

/// The version of both documents. Readers must refuse a version they do not know.
pub const FORMAT_VERSION: &str = "1";

/// User metadata as a JSON object.
pub type MetadataDto = serde_json::Map<String, serde_json::Value>;

/// `kvsync plan --format json`: what kvsync would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "kvsync plan")]
pub struct PlanDocument {
    /// The version of this format; `"1"`.
    #[schemars(extend("const" = "1"))]
    pub format_version: String,
    /// The kvsync that wrote the document.
    pub kvsync_version: String,
    /// The `--env` the plan was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The `--only` globs the plan was restricted to; absent when it covers every key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Counts over all scopes.
    pub summary: SummaryDto,
    /// Requests made while planning and to be made by apply, and billed operations.
    pub cost: CostDto,
    /// One entry per scope, in config order.
    pub scopes: Vec<ScopeDto>,
    /// Every key that is not a no-op, scope by scope, keys in UTF-8 byte order within a scope.
    pub changes: Vec<ChangeDto>,
    /// Why apply would refuse this plan as it stands (its guards); empty when apply may write.
    /// `kvsync plan` exits 1 when this is not empty.
    #[serde(default)]
    pub refusals: Vec<RefusalDto>,
}

/// One guard of apply that refuses the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RefusalDto {
    /// The scope it is about.
    pub scope: String,
    /// Which guard: `empty_desired` (no keys desired over keys of ours; `allow_empty`),
    /// `delete_ceiling` (more deletes than the limit; `max_deletes`) or `conflicts` (keys
    /// another owner holds; `take_over`).
    pub guard: GuardDto,
    /// What the guard found, as the human plan and apply's error word it.
    pub message: String,
    /// How to lift it: the config field first, the command-line flag second.
    pub hint: String,
    /// `delete_ceiling`: the deletes planned and the limit they pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `conflicts`: every conflicting key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

/// The guards of apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardDto {
    EmptyDesired,
    DeleteCeiling,
    Conflicts,
}

/// Counts behind the summary line (docs/spec.md, "How keys are classified").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SummaryDto {
    /// Whether anything would be written or deleted, or a conflict blocks apply (what
    /// `--detailed-exitcode` turns into exit code 2).
    pub has_changes: bool,
    pub create: u64,
    pub update: u64,
    pub adopt: u64,
    pub take_over: u64,
    pub delete: u64,
    pub unchanged: u64,
    pub conflict: u64,
    /// Ours, no longer desired, kept because `prune: false`.
    pub orphan: u64,
    pub protected: u64,
    /// Live keys nobody here owns, left alone.
    pub unmanaged: u64,
    /// The summary line as the human plan prints it.
    pub line: String,
}

/// See [`Cost`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CostDto {
    /// List requests made while planning.
    pub list_requests: u64,
    /// Bulk gets and single gets made while planning, for value diffs.
    pub read_requests: u64,
    /// Write requests apply will send (at least): bulk writes, plus one single-key PUT per
    /// value too large for a bulk write.
    pub write_requests: u64,
    /// Bulk deletes apply will send.
    pub delete_requests: u64,
    pub billed_lists: u64,
    /// One per key read.
    pub billed_reads: u64,
    /// One per put.
    pub billed_writes: u64,
    /// One per deleted key.
    pub billed_deletes: u64,
    /// The cost line as the reports print it.
    pub line: String,
    /// With `plan_tier: free`, when this run needs more writes, deletes or lists than the Free
    /// plan allows in a day: what it needs and what follows. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_plan_warning: Option<String>,
}

/// One scope: a namespace, or a prefix of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopeDto {
    /// The scope's name in the config.
    pub name: String,
    pub namespace_id: String,
    /// `""` for the whole namespace.
    pub prefix: String,
    /// Whether keys no longer desired are deleted (else they are kept as orphans).
    pub prune: bool,
    /// How the namespace id was found when the config did not give it directly, e.g.
    /// "binding `FLAGS` in wrangler.jsonc [env.staging]".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_source: Option<String>,
    pub summary: SummaryDto,
    /// Live keys nobody here owns: never touched.
    pub unmanaged: Vec<String>,
    /// Things to know that are not changes (skipped keys, for instance).
    pub warnings: Vec<WarningDto>,
}

/// A warning about one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WarningDto {
    pub key: String,
    pub message: String,
}

/// What happens to a key, as the JSON names it: the report model's kind.
pub use crate::report::model::ActionKind as ActionDto;

/// Why an action, where the action alone does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonDto {
    /// A delete: the key is no longer in the desired state.
    NotDesired,
    /// A delete: the key's `expiration` is less than 60 s away, so it is no longer written.
    Expiring,
    /// A conflict: another owner's marker (`other_owner` names it).
    OtherOwner,
    /// A conflict: a marker of a newer kvsync (`live_marker_version`); upgrade kvsync.
    NewerKvsync,
    /// A conflict: our owner's marker in a form this kvsync cannot read; upgrade kvsync.
    UnreadableMarker,
    /// A conflict: Cloudflare lists the key damaged (an `expiration` that is not unix seconds);
    /// it is left alone.
    DamagedListing,
    /// Protected instead of deleted.
    WouldDelete,
    /// Protected instead of adopted.
    WouldAdopt,
    /// Protected instead of taken over (`other_owner` names the owner).
    WouldTakeOver,
}

/// With `--baseline`: what causes a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TagDto {
    /// The pull request changed the key's desired state.
    Pr,
    /// The pull request leaves the key alone, yet live differs from it.
    Drift,
}

/// One key's planned action. Fields that do not apply are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeDto {
    /// The scope's name.
    pub scope: String,
    pub namespace_id: String,
    pub key: String,
    pub action: ActionDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonDto>,
    /// The other owner in a take-over, a conflict or a protected take-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_owner: Option<String>,
    /// The explanation the human plan prints after the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// With `--baseline` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagDto>,
    /// With `--baseline` only: whether live differs from the baseline (always true for `drift`;
    /// for `pr`, true when the key was also changed by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drifted: Option<bool>,
    /// A sensitive key carries no hash, size, metadata or diff.
    pub sensitive: bool,
    /// Live is already as desired; only the marker is rewritten (an update or adopt all the
    /// same: KV has no metadata-only write).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub marker_only: bool,
    /// The desired content hash (docs/spec.md, "The content hash"), 64 lowercase hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_sha256: Option<String>,
    /// The content hash in the live marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_sha256: Option<String>,
    /// The owner in the live marker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_owner: Option<String>,
    /// The version of the live marker; absent when the key has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_marker_version: Option<u64>,
    /// The `rev` in the live marker: what last wrote the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_rev: Option<String>,
    /// The desired value's size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_size: Option<u64>,
    /// The live value's size in bytes, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_size: Option<u64>,
    /// The desired user metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_metadata: Option<MetadataDto>,
    /// The live user metadata (the marker taken out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_metadata: Option<MetadataDto>,
    /// The desired absolute expiration, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_expiration: Option<i64>,
    /// The desired `expiration_ttl`, seconds after each write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_expiration_ttl: Option<u64>,
    /// The live key's absolute expiration, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_expiration: Option<i64>,
    /// A unified diff (`--- live`, `+++ desired`) of the value, JSON pretty-printed first; only
    /// for text values that are not sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Builds the plan document. `views` supply sizes and diffs (the CLI prepared them); diffs are
/// included only with `include_diffs` (the plan file of `--out` has none).
pub fn plan_document(
    report: &PlanReport<'_>,
    environment: Option<&str>,
    include_diffs: bool,
) -> PlanDocument {
    let plan = report.plan;
    let mut changes = Vec::new();
    for scope in report.scopes() {
        for change in scope.changes() {
            changes.push(change_dto(scope.scope, &change, include_diffs));
        }
    }
    PlanDocument {
        format_version: FORMAT_VERSION.to_owned(),
        kvsync_version: env!("CARGO_PKG_VERSION").to_owned(),
        environment: environment.map(str::to_owned),
        only: plan.only.clone(),
        summary: summary_dto(&report.summary),
        cost: cost_dto(report.cost),
        scopes: plan.scopes.iter().map(scope_dto).collect(),
        changes,
        refusals: plan.refusals.iter().map(refusal_dto).collect(),
    }
}

fn refusal_dto(refusal: &Refusal) -> RefusalDto {
    let (guard, deletes, limit, keys) = match refusal {
        Refusal::EmptyDesired { .. } => (GuardDto::EmptyDesired, None, None, Vec::new()),
        Refusal::TooManyDeletes { deletes, limit, .. } => {
            (GuardDto::DeleteCeiling, Some(*deletes as u64), Some(*limit as u64), Vec::new())
        }
        Refusal::Conflicts { keys, .. } => {
            (GuardDto::Conflicts, None, None, keys.iter().map(|(key, _)| key.clone()).collect())
        }
    };
    RefusalDto {
        scope: refusal.scope().to_owned(),
        guard,
        message: refusal.to_string(),
        hint: refusal.hint(),
        deletes,
        limit,
        keys,
    }
}

/// The plan document as pretty JSON, ending in a newline.
pub fn render_plan(doc: &PlanDocument) -> String {
    pretty(doc)
}

/// The JSON Schema of [`PlanDocument`], pretty-printed and ending in a newline (what
/// `schemas/plan.schema.json` holds).
pub fn plan_schema_json() -> String {
    pretty(&schemars::schema_for!(PlanDocument))
}

fn pretty<T: Serialize>(value: &T) -> String {
    // These types have string keys only and no custom serialisation, so this cannot fail.
    let mut text = serde_json::to_string_pretty(value)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

fn summary_dto(summary: &Summary) -> SummaryDto {
    SummaryDto {
        has_changes: summary.has_changes(),
        create: summary.create as u64,
        update: summary.update as u64,
        adopt: summary.adopt as u64,
        take_over: summary.take_over as u64,
        delete: summary.delete as u64,
        unchanged: summary.unchanged as u64,
        conflict: summary.conflict as u64,
        orphan: summary.orphan as u64,
        protected: summary.protected as u64,
        unmanaged: summary.unmanaged as u64,
        line: summary_line(summary),
    }
}

fn cost_dto(cost: &Cost) -> CostDto {
    CostDto {
        list_requests: cost.list_requests,
        read_requests: cost.read_requests,
        write_requests: cost.write_requests + cost.single_write_requests,
        delete_requests: cost.delete_requests,
        billed_lists: cost.billed_lists,
        billed_reads: cost.billed_reads,
        billed_writes: cost.billed_writes,
        billed_deletes: cost.billed_deletes,
        line: cost.line(),
        free_plan_warning: cost.free_plan_warning(),
    }
}

fn scope_dto(scope: &ScopePlan) -> ScopeDto {
    ScopeDto {
        name: scope.name.clone(),
        namespace_id: scope.namespace_id.clone(),
        prefix: scope.prefix.clone(),
        prune: scope.prune,
        namespace_source: scope.resolved_from.clone(),
        summary: summary_dto(&scope.summary()),
        unmanaged: scope.unmanaged.clone(),
        warnings: scope
            .warnings
            .iter()
            .map(|w| WarningDto { key: w.key.clone(), message: w.message.clone() })
            .collect(),
    }
}

/// The action's reason code and other owner, where the kind alone does not say.
fn reason_parts(action: &Action) -> (Option<ReasonDto>, Option<String>) {
    match action {
        Action::Create | Action::Update | Action::Adopt | Action::Orphan => (None, None),
        Action::TakeOver { from } => (None, Some(from.clone())),
        Action::Delete { reason: DeleteReason::NotDesired } => (Some(ReasonDto::NotDesired), None),
        Action::Delete { reason: DeleteReason::Expiring } => (Some(ReasonDto::Expiring), None),
        Action::Conflict { reason: ConflictReason::Owner(owner) } => {
            (Some(ReasonDto::OtherOwner), Some(owner.clone()))
        }
        Action::Conflict { reason: ConflictReason::NewerVersion(_) } => {
            (Some(ReasonDto::NewerKvsync), None)
        }
        Action::Conflict { reason: ConflictReason::Unreadable(_) } => {
            (Some(ReasonDto::UnreadableMarker), None)
        }
        Action::Conflict { reason: ConflictReason::DamagedListing(_) } => {
            (Some(ReasonDto::DamagedListing), None)
        }
        Action::Protected { instead_of: ProtectedAction::Delete } => {
            (Some(ReasonDto::WouldDelete), None)
        }
        Action::Protected { instead_of: ProtectedAction::Adopt } => {
            (Some(ReasonDto::WouldAdopt), None)
        }
        Action::Protected { instead_of: ProtectedAction::TakeOver { from } } => {
            (Some(ReasonDto::WouldTakeOver), Some(from.clone()))
        }
    }
}

fn change_dto(scope: &ScopePlan, report: &ChangeReport<'_>, include_diffs: bool) -> ChangeDto {
    let change = report.change;
    let view = report.view;
    let (reason, other_owner) = reason_parts(&change.action);
    let (tag, drifted) = match change.origin {
        None => (None, None),
        Some(Origin::Pr { drifted }) => (Some(TagDto::Pr), Some(drifted)),
        Some(Origin::Drift) => (Some(TagDto::Drift), Some(true)),
    };
    let sensitive = report.sensitive();
    let mut dto = ChangeDto {
        scope: scope.name.clone(),
        namespace_id: scope.namespace_id.clone(),
        key: change.key.clone(),
        action: report.kind,
        reason,
        other_owner,
        note: report.note().map(|note| note.plain()),
        tag,
        drifted,
        sensitive,
        marker_only: report.marker_only(),
        desired_sha256: None,
        live_sha256: None,
        live_owner: None,
        live_marker_version: None,
        live_rev: None,
        desired_size: None,
        live_size: None,
        desired_metadata: None,
        live_metadata: None,
        desired_expiration: None,
        desired_expiration_ttl: None,
        live_expiration: None,
        diff: None,
    };
    if let Some(desired) = &change.desired {
        match desired.expiration {
            Expiration::Never => {}
            Expiration::Ttl(seconds) => dto.desired_expiration_ttl = Some(seconds),
            Expiration::At(at) => dto.desired_expiration = Some(at),
        }
    }
    if let Some(live) = &change.live {
        dto.live_expiration = live.expiration;
        match &live.marker {
            Marker::None => {}
            Marker::V1 { owner, rev, .. } => {
                dto.live_owner = Some(owner.clone());
                dto.live_marker_version = Some(1);
                dto.live_rev.clone_from(rev);
            }
            Marker::Newer { version, owner } => {
                dto.live_owner = Some(owner.clone());
                dto.live_marker_version = Some(*version);
            }
            Marker::Unreadable { owner, .. } => dto.live_owner = Some(owner.clone()),
        }
    }
    // Everything below is derived from the value (or, for metadata, may hold an interpolated
    // secret), so a sensitive key stops here.
    if sensitive {
        return dto;
    }
    dto.desired_sha256 = change.desired.as_ref().map(|d| d.hash.to_hex());
    dto.desired_metadata = change.desired.as_ref().and_then(|d| d.metadata.clone());
    if let Some(live) = &change.live {
        dto.live_sha256 = live.hash().map(|h| h.to_hex());
        dto.live_metadata.clone_from(&live.metadata);
    }
    match view {
        Some(ValueView::Text { live, desired }) => {
            dto.live_size = live.as_ref().map(|t| t.len() as u64);
            dto.desired_size = desired.as_ref().map(|t| t.len() as u64);
            if include_diffs
                && let TextComparison::Diff(diff) =
                    compare_text(live.as_deref(), desired.as_deref())
            {
                dto.diff = Some(diff);
            }
        }
        Some(ValueView::Opaque { live, desired }) => {
            dto.live_size = live.as_ref().map(|b| b.size);
            dto.desired_size = desired.as_ref().map(|b| b.size);
        }
        Some(ValueView::Sensitive | ValueView::MarkerOnly) | None => {}
    }
    dto
}

/// `kvsync drift --format json`: how live differs from the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "kvsync drift")]
pub struct DriftDocument {
    /// The version of this format; `"1"`.
    #[schemars(extend("const" = "1"))]
    pub format_version: String,
    pub kvsync_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Whether values were read (`--deep`); without it, hand edits that kept the marker are not
    /// seen.
    pub deep: bool,
    /// Drifted keys over all scopes (what makes `drift` exit 2).
    pub drifted: u64,
    /// Keys in sync over all scopes.
    pub in_sync: u64,
    /// Drifted keys by class over all scopes.
    pub counts: DriftCountsDto,
    pub scopes: Vec<DriftScopeDto>,
    /// Every drifted key, scope by scope, in UTF-8 byte order within a scope.
    pub keys: Vec<DriftedKeyDto>,
    /// Live keys nobody here owns: listed, never counted as drift.
    pub unmanaged: Vec<ScopedKeyDto>,
    /// Desired `expiration_ttl` keys that are absent: not counted, because a listing cannot
    /// tell an expired key from a deleted one.
    pub expired_ttl: Vec<ScopedKeyDto>,
}

/// Drifted keys by class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftCountsDto {
    /// Deep check only: live values that break their key's schema.
    #[serde(default)]
    pub invalid: u64,
    pub missing: u64,
    pub changed: u64,
    pub modified: u64,
    pub conflict: u64,
    pub extra: u64,
    pub tampered: u64,
}

/// The drift of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftScopeDto {
    pub name: String,
    pub namespace_id: String,
    pub prefix: String,
    pub drifted: u64,
    pub in_sync: u64,
    pub counts: DriftCountsDto,
    /// How many unmanaged keys (listed in the document's `unmanaged`).
    pub unmanaged: u64,
    /// How many expired TTL keys (listed in the document's `expired_ttl`).
    pub expired_ttl: u64,
}

/// The kinds of drift (docs/spec.md, "How keys are classified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DriftClassDto {
    /// Deep check only: the live value breaks its key's schema (`schemas:`).
    Invalid,
    /// Desired, absent live.
    Missing,
    /// Ours, with another content hash.
    Changed,
    /// Desired, live without a kvsync marker: written by hand.
    Modified,
    /// Desired, held by another owner or a newer kvsync.
    Conflict,
    /// Ours, no longer desired; apply would delete it.
    Extra,
    /// Deep check only: the marker matches, the value, metadata or expiration does not.
    Tampered,
}

/// One drifted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DriftedKeyDto {
    pub scope: String,
    pub namespace_id: String,
    pub key: String,
    pub class: DriftClassDto,
    /// A short explanation (the other owner; for `tampered`, what differs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A key and where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScopedKeyDto {
    pub scope: String,
    pub namespace_id: String,
    pub key: String,
}

/// Builds the drift document.
pub fn drift_document(report: &DriftReport, environment: Option<&str>) -> DriftDocument {
    let mut document = DriftDocument {
        format_version: FORMAT_VERSION.to_owned(),
        kvsync_version: env!("CARGO_PKG_VERSION").to_owned(),
        environment: environment.map(str::to_owned),
        deep: report.deep,
        drifted: report.count() as u64,
        in_sync: 0,
        counts: DriftCountsDto::default(),
        scopes: Vec::new(),
        keys: Vec::new(),
        unmanaged: Vec::new(),
        expired_ttl: Vec::new(),
    };
    for scope in &report.scopes {
        let scoped = |key: &String| ScopedKeyDto {
            scope: scope.name.clone(),
            namespace_id: scope.namespace_id.clone(),
            key: key.clone(),
        };
        let mut counts = DriftCountsDto::default();
        for drifted in &scope.drifted {
            count_class(&mut counts, drifted.class);
            count_class(&mut document.counts, drifted.class);
            document.keys.push(DriftedKeyDto {
                scope: scope.name.clone(),
                namespace_id: scope.namespace_id.clone(),
                key: drifted.key.clone(),
                class: class_dto(drifted.class),
                detail: drifted.detail.clone(),
            });
        }
        document.in_sync += scope.in_sync as u64;
        document.unmanaged.extend(scope.unmanaged.iter().map(scoped));
        document.expired_ttl.extend(scope.expired_ttl.iter().map(scoped));
        document.scopes.push(DriftScopeDto {
            name: scope.name.clone(),
            namespace_id: scope.namespace_id.clone(),
            prefix: scope.prefix.clone(),
            drifted: scope.drifted.len() as u64,
            in_sync: scope.in_sync as u64,
            counts,
            unmanaged: scope.unmanaged.len() as u64,
            expired_ttl: scope.expired_ttl.len() as u64,
        });
    }
    document
}

/// The drift document as pretty JSON, ending in a newline.
pub fn render_drift(doc: &DriftDocument) -> String {
    pretty(doc)
}

/// The JSON Schema of [`DriftDocument`], pretty-printed and ending in a newline.
pub fn drift_schema_json() -> String {
    pretty(&schemars::schema_for!(DriftDocument))
}

fn class_dto(class: DriftClass) -> DriftClassDto {
    match class {
        DriftClass::Invalid => DriftClassDto::Invalid,
        DriftClass::Missing => DriftClassDto::Missing,
        DriftClass::Changed => DriftClassDto::Changed,
        DriftClass::Modified => DriftClassDto::Modified,
        DriftClass::Conflict => DriftClassDto::Conflict,
        DriftClass::Extra => DriftClassDto::Extra,
        DriftClass::Tampered => DriftClassDto::Tampered,
    }
}

fn count_class(counts: &mut DriftCountsDto, class: DriftClass) {
    let slot = match class {
        DriftClass::Invalid => &mut counts.invalid,
        DriftClass::Missing => &mut counts.missing,
        DriftClass::Changed => &mut counts.changed,
        DriftClass::Modified => &mut counts.modified,
        DriftClass::Conflict => &mut counts.conflict,
        DriftClass::Extra => &mut counts.extra,
        DriftClass::Tampered => &mut counts.tampered,
    };
    *slot += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::ContentHash;

    use crate::plan::Plan;
    use crate::report::values::ValueViews;
    use crate::testing::plans::{SECRET, change, drift_report, every_action, ours, scope};

    fn cost() -> Cost {
        crate::report::cost::estimate(
            &every_action().0,
            crate::report::cost::SoFar {
                list_requests: 1,
                read_requests: 1,
                billed_lists: 1,
                billed_reads: 3,
            },
        )
    }

    fn document(include_diffs: bool) -> PlanDocument {
        let (plan, views) = every_action();
        plan_document(&PlanReport::new(&plan, &views, &cost()), Some("staging"), include_diffs)
    }

    fn change_of<'a>(doc: &'a PlanDocument, key: &str) -> &'a ChangeDto {
        doc.changes.iter().find(|c| c.key == key).expect("the key is in the plan")
    }

    /// `schemas/plan.schema.json` is generated; this test rewrites it when the DTOs changed
    /// (then fails, so the change is seen and committed). rust-analyzer's `ensure_file_contents`,
    /// as the config schema test does.
    #[test]
    fn schema_file_is_up_to_date() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json");
        let generated = plan_schema_json();
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != generated {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &generated).expect("write the schema");
            panic!("schemas/plan.schema.json was out of date and has been rewritten; commit it");
        }
    }

    fn validate(schema: &str, rendered: &str) {
        let schema: serde_json::Value = serde_json::from_str(schema).expect("schema is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let instance: serde_json::Value = serde_json::from_str(rendered).expect("output is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }

    #[test]
    fn every_action_kind_validates_and_reads_back() {
        let doc = document(true);
        let rendered = render_plan(&doc);
        assert!(rendered.ends_with("}\n"));
        validate(&plan_schema_json(), &rendered);
        let kinds: Vec<ActionDto> = doc.changes.iter().map(|c| c.action).collect();
        for kind in [
            ActionDto::Create,
            ActionDto::Update,
            ActionDto::Adopt,
            ActionDto::TakeOver,
            ActionDto::Delete,
            ActionDto::Conflict,
            ActionDto::Orphan,
            ActionDto::Protected,
        ] {
            assert!(kinds.contains(&kind), "{kind:?}");
        }
        // The plan file reads the document back.
        let back: PlanDocument = serde_json::from_str(&rendered).expect("reads back");
        assert_eq!(back, doc);
        // Without value diffs (the plan file) it validates too.
        let plain = document(false);
        assert!(plain.changes.iter().all(|c| c.diff.is_none()));
        validate(&plan_schema_json(), &render_plan(&plain));
    }

    #[test]
    fn the_free_plan_warning_is_a_field_of_the_cost() {
        let (plan, views) = every_action();
        let over = Cost { billed_writes: 1_001, ..cost() };
        let paid = plan_document(&PlanReport::new(&plan, &views, &over), None, false);
        assert_eq!(paid.cost.free_plan_warning, None);
        assert!(!render_plan(&paid).contains("free_plan_warning"), "absent, not null");
        let free =
            plan_document(&PlanReport::new(&plan, &views, &over.on_free_plan(true)), None, false);
        let warning = free.cost.free_plan_warning.as_deref().expect("warning");
        assert!(warning.starts_with("this run needs 1001 writes"), "{warning}");
        validate(&plan_schema_json(), &render_plan(&free));
    }

    #[test]
    fn baseline_tags_validate() {
        let (mut plan, views) = every_action();
        for (i, change) in plan.scopes[0].changes.iter_mut().enumerate() {
            change.origin = Some(match i % 3 {
                0 => Origin::Pr { drifted: false },
                1 => Origin::Pr { drifted: true },
                _ => Origin::Drift,
            });
        }
        let doc = plan_document(&PlanReport::new(&plan, &views, &cost()), None, true);
        let tags: Vec<_> = doc.changes.iter().take(3).map(|c| (c.tag, c.drifted)).collect();
        assert_eq!(
            tags,
            [
                (Some(TagDto::Pr), Some(false)),
                (Some(TagDto::Pr), Some(true)),
                (Some(TagDto::Drift), Some(true)),
            ]
        );
        validate(&plan_schema_json(), &render_plan(&doc));
    }

    #[test]
    fn an_update_as_json() {
        let doc = document(true);
        let update = serde_json::to_string_pretty(change_of(&doc, "flags/b-update")).expect("json");
        insta::assert_snapshot!(update, @r#"
        {
          "scope": "flags",
          "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
          "key": "flags/b-update",
          "action": "update",
          "sensitive": false,
          "desired_sha256": "0202020202020202020202020202020202020202020202020202020202020202",
          "live_sha256": "0303030303030303030303030303030303030303030303030303030303030303",
          "live_owner": "web-flags",
          "live_marker_version": 1,
          "live_rev": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
          "desired_size": 29,
          "live_size": 30,
          "diff": "--- live\n+++ desired\n@@ -1,4 +1,4 @@\n {\n-  \"enabled\": false,\n+  \"enabled\": true,\n   \"rollout\": 10\n }\n"
        }
        "#);
    }

    #[test]
    fn a_take_over_and_a_conflict_as_json() {
        let doc = document(true);
        let take = serde_json::to_string_pretty(change_of(&doc, "flags/d-take")).expect("json");
        insta::assert_snapshot!(take, @r#"
        {
          "scope": "flags",
          "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
          "key": "flags/d-take",
          "action": "take-over",
          "other_owner": "other-team",
          "note": "take over from `other-team`",
          "sensitive": false,
          "desired_sha256": "0505050505050505050505050505050505050505050505050505050505050505",
          "live_sha256": "0606060606060606060606060606060606060606060606060606060606060606",
          "live_owner": "other-team",
          "live_marker_version": 1,
          "desired_size": 4,
          "live_size": 8
        }
        "#);
        let newer = serde_json::to_string_pretty(change_of(&doc, "flags/h-newer")).expect("json");
        insta::assert_snapshot!(newer, @r#"
        {
          "scope": "flags",
          "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
          "key": "flags/h-newer",
          "action": "conflict",
          "reason": "newer-kvsync",
          "note": "written by a newer kvsync (marker v2); upgrade kvsync",
          "sensitive": false,
          "desired_sha256": "0909090909090909090909090909090909090909090909090909090909090909",
          "live_owner": "web-flags",
          "live_marker_version": 2
        }
        "#);
    }

    #[test]
    fn the_head_of_the_document() {
        let mut doc = document(true);
        doc.changes.clear();
        doc.kvsync_version = "0.0.0-test".into();
        insta::assert_snapshot!(render_plan(&doc), @r#"
        {
          "format_version": "1",
          "kvsync_version": "0.0.0-test",
          "environment": "staging",
          "summary": {
            "has_changes": true,
            "create": 1,
            "update": 2,
            "adopt": 1,
            "take_over": 1,
            "delete": 2,
            "unchanged": 120,
            "conflict": 2,
            "orphan": 1,
            "protected": 3,
            "unmanaged": 2,
            "line": "Plan: 1 to create, 2 to update, 1 to adopt, 1 to take over, 2 to delete, 120 unchanged; 2 conflicts; 1 orphan kept; 3 protected; 2 unmanaged keys left alone."
          },
          "cost": {
            "list_requests": 1,
            "read_requests": 1,
            "write_requests": 1,
            "delete_requests": 1,
            "billed_lists": 1,
            "billed_reads": 3,
            "billed_writes": 5,
            "billed_deletes": 2,
            "line": "Cost: 1 list request and 1 read request so far; apply will send 1 bulk write and 1 bulk delete (billed: 1 list, 3 reads, 5 writes, 2 deletes)."
          },
          "scopes": [
            {
              "name": "flags",
              "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
              "prefix": "flags/",
              "prune": true,
              "summary": {
                "has_changes": true,
                "create": 1,
                "update": 2,
                "adopt": 1,
                "take_over": 1,
                "delete": 2,
                "unchanged": 120,
                "conflict": 2,
                "orphan": 1,
                "protected": 3,
                "unmanaged": 2,
                "line": "Plan: 1 to create, 2 to update, 1 to adopt, 1 to take over, 2 to delete, 120 unchanged; 2 conflicts; 1 orphan kept; 3 protected; 2 unmanaged keys left alone."
              },
              "unmanaged": [
                "flags/x",
                "flags/y"
              ],
              "warnings": [
                {
                  "key": "flags/black-friday",
                  "message": "expiration is less than 60 s away; the key is skipped"
                }
              ]
            }
          ],
          "changes": [],
          "refusals": [
            {
              "scope": "flags",
              "guard": "conflicts",
              "message": "scope `flags` has 2 conflicting keys:\n  `flags/g-conflict` (owned by `other`)\n  `flags/h-newer` (written by a newer kvsync, marker v2)",
              "hint": "add the keys to the scope's `take_over:` globs (or pass `--take-over other`), or remove them from the config; keys written by a newer kvsync need a newer kvsync: upgrade it",
              "keys": [
                "flags/g-conflict",
                "flags/h-newer"
              ]
            }
          ]
        }
        "#);
    }

    #[test]
    fn a_sensitive_key_has_no_value_derived_field() {
        let doc = document(true);
        let secret = change_of(&doc, "flags/s-secret");
        assert!(secret.sensitive);
        assert_eq!(secret.desired_sha256, None);
        assert_eq!(secret.live_sha256, None);
        assert_eq!(secret.desired_metadata, None);
        assert_eq!(secret.live_metadata, None);
        assert_eq!(secret.desired_size, None);
        assert_eq!(secret.diff, None);
        let rendered = render_plan(&doc);
        assert!(!rendered.contains(SECRET));
        assert!(!rendered.contains(&ContentHash([10; 32]).to_hex()));
        assert!(!rendered.contains(&ContentHash([11; 32]).to_hex()));
        // Not derived from the value: still there.
        assert_eq!(secret.live_owner.as_deref(), Some("web-flags"));
    }

    #[test]
    fn a_delete_whose_view_is_sensitive_is_sensitive() {
        let plan = Plan {
            only: Vec::new(),
            refusals: Vec::new(),
            scopes: vec![scope(
                "flags",
                "",
                vec![change(
                    "old-secret",
                    Action::Delete { reason: DeleteReason::NotDesired },
                    None,
                    Some(ours(20)),
                )],
            )],
        };
        let mut views = ValueViews::new();
        views.insert(0, "old-secret", ValueView::Sensitive);
        let doc = plan_document(&PlanReport::new(&plan, &views, &Cost::default()), None, true);
        assert!(doc.changes[0].sensitive);
        assert_eq!(doc.changes[0].live_sha256, None);
    }

    #[test]
    fn drift_document_counts_and_validates() {
        let mut doc = drift_document(&drift_report(), Some("prod"));
        doc.kvsync_version = "0.0.0-test".into();
        assert_eq!(doc.drifted, 8);
        assert_eq!(doc.counts.invalid, 1);
        assert_eq!(doc.in_sync, 123);
        assert_eq!(doc.counts.missing, 2);
        let rendered = render_drift(&doc);
        validate(&drift_schema_json(), &rendered);
        let back: DriftDocument = serde_json::from_str(&rendered).expect("reads back");
        assert_eq!(back, doc);
        doc.keys.truncate(1);
        insta::assert_snapshot!(render_drift(&doc), @r#"
        {
          "format_version": "1",
          "kvsync_version": "0.0.0-test",
          "environment": "prod",
          "deep": true,
          "drifted": 8,
          "in_sync": 123,
          "counts": {
            "invalid": 1,
            "missing": 2,
            "changed": 1,
            "modified": 1,
            "conflict": 1,
            "extra": 1,
            "tampered": 1
          },
          "scopes": [
            {
              "name": "flags",
              "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
              "prefix": "flags/",
              "drifted": 7,
              "in_sync": 120,
              "counts": {
                "invalid": 1,
                "missing": 1,
                "changed": 1,
                "modified": 1,
                "conflict": 1,
                "extra": 1,
                "tampered": 1
              },
              "unmanaged": 1,
              "expired_ttl": 1
            },
            {
              "name": "config",
              "namespace_id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
              "prefix": "",
              "drifted": 1,
              "in_sync": 3,
              "counts": {
                "invalid": 0,
                "missing": 1,
                "changed": 0,
                "modified": 0,
                "conflict": 0,
                "extra": 0,
                "tampered": 0
              },
              "unmanaged": 0,
              "expired_ttl": 0
            }
          ],
          "keys": [
            {
              "scope": "flags",
              "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
              "key": "flags/a",
              "class": "missing"
            }
          ],
          "unmanaged": [
            {
              "scope": "flags",
              "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
              "key": "flags/x"
            }
          ],
          "expired_ttl": [
            {
              "scope": "flags",
              "namespace_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
              "key": "flags/session"
            }
          ]
        }
        "#);
    }
}
