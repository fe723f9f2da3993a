//! The human plan: Terraform-style text for a terminal or a CI log.
//!
//! [`render_plan`] formats a [`PlanReport`] as text: one block per scope, one line per change with
//! a marker column that reads without colour, value diffs under the changes, and the summary
//! line of docs/spec.md. What each line says is decided in [`crate::report::model`], once for
//! every format. It never talks to a store and never decides whether to use colour; the caller
//! does, and with colour off the text holds no ANSI escape.
//!
//! Keys, values and other text that came from users or from KV pass through [`printable`], so a
//! control character in a value can neither move the cursor nor smuggle in an escape sequence.

use std::borrow::Cow;
use std::fmt::Write as _;

use similar::{ChangeTag, DiffTag, TextDiff};

use crate::plan::Origin;
use crate::plan::guards::Refusal;
use crate::report::model::{ChangeReport, PlanReport, ScopeReport, Tone, place, summary_line};
use crate::report::style::Style;
use crate::report::values::{Blob, TEXT_DIFF_MAX, ValueView, diff_text, human_size};
use crate::text::printable;

/// How the human plan is rendered. There is deliberately no `Default`: callers spell out each
/// choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanOptions {
    /// Colour the output with ANSI codes (the caller has already honoured `--color` and
    /// `NO_COLOR`).
    pub color: bool,
    /// Show value sections under changes; `--no-value-diff` turns them off.
    pub value_diffs: bool,
    /// The `--env` the plan was made for, printed as a header line.
    pub environment: Option<String>,
    /// Every change, however many (`--show-all`); otherwise a plan of more than [`FULL_MAX`]
    /// changes shows per scope and action the count and the first [`GROUP_KEYS`] keys.
    pub show_all: bool,
}

/// The most changes a plan shows one by one without `--show-all`.
pub const FULL_MAX: usize = 200;

/// Above [`FULL_MAX`] changes, the keys each scope and action lists.
pub const GROUP_KEYS: usize = 20;

/// Whether a plan of `plan`'s changes is shown capped ([`HumanOptions::show_all`]).
pub fn capped(plan: &crate::plan::Plan, show_all: bool) -> bool {
    !show_all && plan.scopes.iter().map(|s| s.changes.len()).sum::<usize>() > FULL_MAX
}

/// Indentation of value sections, under the key of their change line.
const VALUE_INDENT: &str = "      ";

/// Replace or delete blocks larger than this (old plus new lines) are shown without word-level
/// emphasis: refining them costs more than it helps a reader.
const INLINE_EMPHASIS_MAX_LINES: usize = 64;

/// Renders the whole plan. The text ends with a newline.
///
/// Layout: an `Environment:` line when one is set; then one block per scope that has changes or
/// warnings, or whose namespace id was looked up (a `binding:` in wrangler's config: its heading
/// names the source, so every plan says which namespace it compared); then the summary line and,
/// when they apply, the notes about adopts, the refusals, the cost line and the Free-plan
/// warning. Blocks are separated by one blank line.
pub fn render_plan(report: &PlanReport<'_>, options: &HumanOptions) -> String {
    let style = Style::new(options.color);
    let capped = capped(report.plan, options.show_all);
    let mut blocks = Vec::new();
    if let Some(environment) = &options.environment {
        blocks
            .push(format!("{}\n", style.bold(&format!("Environment: {}", printable(environment)))));
    }
    if let Some(line) = report.only_line() {
        blocks.push(format!("{}\n", style.warning(&line)));
    }
    for scope in report.scopes() {
        if scope.scope.changes.is_empty()
            && scope.scope.warnings.is_empty()
            && scope.resolved_from().is_none()
        {
            continue;
        }
        blocks.push(if capped {
            render_scope_capped(&scope, report.plan, options, style)
        } else {
            render_scope(&scope, options, style)
        });
    }
    let mut tail = format!("{}\n", style.bold(&summary_line(&report.summary)));
    if capped {
        let _ = writeln!(
            tail,
            "Over {FULL_MAX} changes: each scope and action shows its count and first {GROUP_KEYS} \
             keys; `--show-all` prints every change (`--format json` always does)."
        );
    }
    if let Some(note) = report.adopt_note() {
        let _ = writeln!(tail, "{}", style.changed(note));
    }
    blocks.push(tail);
    if !report.plan.refusals.is_empty() {
        blocks.push(render_refusals(&report.plan.refusals, style));
    }
    let mut text = blocks.join("\n");
    if let Some(line) = report.cost_line() {
        let _ = writeln!(text, "{line}");
    }
    if let Some(warning) = report.cost.free_plan_warning() {
        let _ = writeln!(text, "{}: {warning}.", style.warning("warning"));
    }
    text
}

/// What apply would refuse, after the summary line: each refusal as the apply error words it,
/// with its hint.
fn render_refusals(refusals: &[Refusal], style: Style) -> String {
    let mut out = format!("{}\n", style.removed("Apply would refuse this plan:"));
    for refusal in refusals {
        let named = refusal.named_keys();
        let colon = if named.is_empty() { "" } else { ":" };
        let _ = writeln!(out, "  - {}{colon}", printable(&refusal.headline()));
        for key in named {
            let _ = writeln!(out, "      {}", printable(&key));
        }
        if refusal.unnamed_keys() > 0 {
            let _ = writeln!(out, "      … and {} more", refusal.unnamed_keys());
        }
        let _ = writeln!(out, "    hint: {}", printable(&refusal.hint()));
    }
    out
}

/// A scope's heading line, as both the full and the capped rendering begin.
fn heading_line(scope: &ScopeReport<'_>, style: Style) -> String {
    let plan = scope.scope;
    let heading =
        scope_heading(&plan.name, &plan.namespace_id, scope.resolved_from(), &plan.prefix);
    format!("{}\n", style.bold(&heading))
}

/// A scope's warnings, as both the full and the capped rendering end.
fn write_warnings(out: &mut String, scope: &ScopeReport<'_>, style: Style) {
    for warning in &scope.scope.warnings {
        let _ = writeln!(
            out,
            "  {} {}: {}",
            style.warning("warning:"),
            printable(&warning.key),
            printable(&warning.message)
        );
    }
}

fn render_scope(scope: &ScopeReport<'_>, options: &HumanOptions, style: Style) -> String {
    let mut out = heading_line(scope, style);
    // With `--baseline`, drift already live comes first and apart from what the pull request
    // changes, so a reviewer sees what the PR does on its own.
    let tagged = scope.scope.changes.iter().any(|c| c.origin.is_some());
    if tagged {
        let (drift, pr): (Vec<ChangeReport<'_>>, Vec<ChangeReport<'_>>) =
            scope.changes().partition(|c| matches!(c.change.origin, Some(Origin::Drift)));
        for (title, group) in [
            ("drift already live (not changed by this pull request):", drift),
            ("changed by this pull request:", pr),
        ] {
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(out, "  {}", style.bold(title));
            for change in group {
                render_change(&mut out, &change, options, style);
            }
        }
    } else {
        for change in scope.changes() {
            render_change(&mut out, &change, options, style);
        }
    }
    write_warnings(&mut out, scope, style);
    out
}

/// A scope of a plan over [`FULL_MAX`] changes: per origin group (when tagged) and action, the
/// count, the first [`GROUP_KEYS`] changes with their values, and how many more.
fn render_scope_capped(
    scope: &ScopeReport<'_>,
    plan: &crate::plan::Plan,
    options: &HumanOptions,
    style: Style,
) -> String {
    use crate::report::model::{ActionKind, in_group, origin_groups};
    let mut out = heading_line(scope, style);
    for drift in origin_groups(plan) {
        let mut titled = false;
        for kind in ActionKind::ALL {
            let changes: Vec<ChangeReport<'_>> =
                scope.changes().filter(|c| c.kind == kind && in_group(c.change, drift)).collect();
            if changes.is_empty() {
                continue;
            }
            if !titled && let Some(drift) = drift {
                let title = if drift {
                    "drift already live (not changed by this pull request):"
                } else {
                    "changed by this pull request:"
                };
                let _ = writeln!(out, "  {}", style.bold(title));
                titled = true;
            }
            let count = crate::report::text::counted(changes.len(), "key", "keys");
            let _ = writeln!(out, "  {}", style.bold(&format!("{}: {count}", kind.label())));
            // Conflicts are named with the refusals; the count is enough here.
            let shown = if kind == ActionKind::Conflict { 0 } else { GROUP_KEYS };
            for change in changes.iter().take(shown) {
                render_change(&mut out, change, options, style);
            }
            if changes.len() > shown {
                let _ = writeln!(out, "    … and {} more", changes.len() - shown);
            }
        }
    }
    write_warnings(&mut out, scope, style);
    out
}

/// `scope `flags` (namespace … from binding `FLAGS` in wrangler.toml, prefix "flags/")`: the
/// heading of a scope in the plan and in the drift report.
pub fn scope_heading(
    name: &str,
    namespace_id: &str,
    resolved_from: Option<&str>,
    prefix: &str,
) -> String {
    // Debug quoting escapes quotes and control characters.
    let place = place(prefix, |prefix| format!("{prefix:?}"));
    let namespace = match resolved_from {
        // A title not looked up: the title is all there is to say.
        Some(how) if namespace_id.is_empty() => printable(how).into_owned(),
        Some(how) => format!("namespace {} from {}", printable(namespace_id), printable(how)),
        None => format!("namespace {}", printable(namespace_id)),
    };
    format!("scope `{}` ({namespace}, {place})", printable(name))
}

/// One change line, its attributes and its value section.
fn render_change(
    out: &mut String,
    change: &ChangeReport<'_>,
    options: &HumanOptions,
    style: Style,
) {
    let sign = change.kind.marker().to_string();
    let sign = match change.kind.tone() {
        Tone::Added => style.added(&sign),
        Tone::Changed => style.changed(&sign),
        Tone::Removed => style.removed(&sign),
        Tone::Info => style.info(&sign),
    };
    let _ = write!(out, "  {sign} {}", crate::report::text::key_text(change.key()));
    if let Some(note) = change.note() {
        let _ = write!(out, " ({})", note.plain());
    }
    if change.also_changed_by_hand() {
        let _ = write!(out, " {}", style.warning("(also changed by hand since the baseline)"));
    }
    out.push('\n');
    for attribute in change.attributes() {
        value_note(out, &format!("{}: {}", attribute.label, printable(&attribute.text)));
    }
    if options.value_diffs
        && let Some(view) = change.shown_value()
    {
        render_view(out, view, style);
    }
}

fn render_view(out: &mut String, view: &ValueView, style: Style) {
    render_view_between(out, view, style, ("live", "desired"));
}

/// A value section under a line, its diff headed `--- {old}` / `+++ {new}` (`live` and
/// `desired` in a plan; two environments' names in `kvsync diff`, printable already).
pub fn render_view_between(out: &mut String, view: &ValueView, style: Style, labels: (&str, &str)) {
    match view {
        ValueView::Sensitive => value_note(out, "(sensitive)"),
        // Said on the change line: `(marker only)`.
        ValueView::MarkerOnly => {}
        ValueView::Opaque { live, desired } => render_opaque(out, live.as_ref(), desired.as_ref()),
        ValueView::Text { live, desired } => {
            render_text(out, live.as_deref(), desired.as_deref(), style, labels);
        }
    }
}

const VALUE_UNCHANGED: &str = "value unchanged";

fn value_note(out: &mut String, note: &str) {
    let _ = writeln!(out, "{VALUE_INDENT}{note}");
}

fn render_opaque(out: &mut String, live: Option<&Blob>, desired: Option<&Blob>) {
    let blob = |b: &Blob| format!("{} ({})", human_size(b.size), printable(&b.sha256_short));
    // Opaque views hold either a binary side or a text too large to diff; say which.
    let large = [live, desired].into_iter().flatten().any(|b| b.size > TEXT_DIFF_MAX as u64);
    let label = if large { "large value" } else { "binary value" };
    match (live, desired) {
        (Some(live), Some(desired)) if live == desired => value_note(out, VALUE_UNCHANGED),
        (Some(live), Some(desired)) => {
            value_note(out, &format!("{label}: {} → {}", blob(live), blob(desired)));
        }
        (None, Some(side)) | (Some(side), None) => {
            value_note(out, &format!("{label}: {}", blob(side)));
        }
        (None, None) => {}
    }
}

fn render_text(
    out: &mut String,
    live: Option<&str>,
    desired: Option<&str>,
    style: Style,
    labels: (&str, &str),
) {
    match (live, desired) {
        (None, None) => {}
        (None, Some(desired)) => whole_text(out, &diff_text(desired), '+', style),
        (Some(live), None) => whole_text(out, &diff_text(live), '-', style),
        (Some(live), Some(desired)) => {
            if live == desired {
                return value_note(out, VALUE_UNCHANGED);
            }
            let (live_shown, desired_shown) = (diff_text(live), diff_text(desired));
            if live_shown == desired_shown {
                // Pretty-printing made them equal: only JSON layout or number notation differ.
                return value_note(
                    out,
                    "value differs only in JSON formatting (whitespace or number notation)",
                );
            }
            // Both sides end in a newline before diffing, so a value without a final newline
            // neither produces a `\ No newline at end of file` line nor glues two lines.
            let (old, new) = (terminated(&live_shown), terminated(&desired_shown));
            if old == new {
                return value_note(out, "value differs only in its final newline");
            }
            unified_diff(out, &old, &new, style, labels);
        }
    }
}

/// A one-sided value (a create, or a delete with its live value): every line, signed.
fn whole_text(out: &mut String, text: &str, sign: char, style: Style) {
    if text.is_empty() {
        return value_note(out, "(empty value)");
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    for line in body.split('\n') {
        let line = format!("{sign} {}", printable(line));
        let line = line.trim_end();
        let line = if sign == '+' { style.added(line) } else { style.removed(line) };
        let _ = writeln!(out, "{VALUE_INDENT}{line}");
    }
}

fn terminated(text: &str) -> Cow<'_, str> {
    if text.is_empty() || text.ends_with('\n') {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{text}\n"))
    }
}

/// A unified diff with 3 lines of context. The lines are written one by one rather than through
/// `UnifiedDiff`'s `Display`, so that each one can be indented, escaped and coloured; the header
/// is therefore written here too.
fn unified_diff(out: &mut String, old: &str, new: &str, style: Style, labels: (&str, &str)) {
    let diff = TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified.context_radius(3);
    let _ = writeln!(out, "{VALUE_INDENT}{}", style.bold(&format!("--- {}", labels.0)));
    let _ = writeln!(out, "{VALUE_INDENT}{}", style.bold(&format!("+++ {}", labels.1)));
    for hunk in unified.iter_hunks() {
        let _ = writeln!(out, "{VALUE_INDENT}{}", style.info(&hunk.header().to_string()));
        for op in hunk.ops() {
            let lines = op.old_range().len() + op.new_range().len();
            let emphasis =
                style.color && op.tag() == DiffTag::Replace && lines <= INLINE_EMPHASIS_MAX_LINES;
            if emphasis {
                for change in diff.iter_inline_changes(op) {
                    let segments: Vec<(bool, String)> = change
                        .iter_strings_lossy()
                        .map(|(emphasized, text)| (emphasized, text.into_owned()))
                        .collect();
                    diff_line(out, change.tag(), &segments, style);
                }
            } else {
                for change in diff.iter_changes(op) {
                    diff_line(out, change.tag(), &[(false, change.value().to_owned())], style);
                }
            }
        }
    }
}

/// One line of a unified diff: its sign, then its text (in segments, the emphasised ones being
/// the words that changed), without the line's own newline.
fn diff_line(out: &mut String, tag: ChangeTag, segments: &[(bool, String)], style: Style) {
    let paint = |emphasized: bool, text: &str| match (tag, emphasized) {
        (ChangeTag::Equal, _) => text.to_owned(),
        (ChangeTag::Delete, false) => style.removed(text),
        (ChangeTag::Delete, true) => style.removed_emphasis(text),
        (ChangeTag::Insert, false) => style.added(text),
        (ChangeTag::Insert, true) => style.added_emphasis(text),
    };
    let mut body = String::new();
    let last = segments.len().saturating_sub(1);
    for (i, (emphasized, text)) in segments.iter().enumerate() {
        let text = if i == last { text.strip_suffix('\n').unwrap_or(text) } else { text };
        if !text.is_empty() {
            body.push_str(&paint(*emphasized, &printable(text)));
        }
    }
    let sign = match tag {
        // An empty context line would otherwise end in a stray space.
        ChangeTag::Equal if body.is_empty() => "",
        ChangeTag::Equal => " ",
        ChangeTag::Delete => "-",
        ChangeTag::Insert => "+",
    };
    let _ = writeln!(out, "{VALUE_INDENT}{}{body}", paint(false, sign));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Expiration;
    use crate::kv::LiveValue;
    use crate::plan::{
        Action, Change, ConflictReason, DeleteReason, Plan, ProtectedAction, ScopePlan, Summary,
        Warning,
    };
    use crate::report::cost::Cost;
    use crate::report::model::PlanReport;
    use crate::report::values::{ValueViews, value_view};

    /// The one door into the renderer for tests: colour off, value diffs on, no environment.
    macro_rules! check {
        ($plan:expr, $views:expr, @$expect:literal) => {
            insta::assert_snapshot!(render(&$plan, &$views), @$expect)
        };
    }

    /// The renderer's entry, for a plan that cost nothing.
    fn rendered(plan: &Plan, views: &ValueViews, options: &HumanOptions) -> String {
        render_plan(&PlanReport::new(plan, views, &Cost::default()), options)
    }

    fn render(plan: &Plan, views: &ValueViews) -> String {
        let options =
            HumanOptions { color: false, value_diffs: true, environment: None, show_all: false };
        let out = rendered(plan, views, &options);
        assert!(!out.contains('\u{1b}'), "colour off must print no ANSI escape");
        out
    }

    fn scope(name: &str, prefix: &str, changes: Vec<(&str, Action)>) -> ScopePlan {
        ScopePlan {
            resolved_from: None,
            name: name.into(),
            namespace_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            prefix: prefix.into(),
            prune: true,
            allow_empty: false,
            changes: changes
                .into_iter()
                .map(|(key, action)| Change {
                    key: key.into(),
                    action,
                    desired: None,
                    live: None,
                    origin: None,
                })
                .collect(),
            unchanged: 0,
            unmanaged: Vec::new(),
            ours_live: 0,
            desired: 0,
            warnings: Vec::new(),
        }
    }

    /// A plan of these scopes, with the refusals the engine would record.
    fn plan(scopes: Vec<ScopePlan>) -> Plan {
        let mut plan = Plan { scopes, ..Plan::default() };
        plan.refusals = crate::plan::guards::check(&plan, &Default::default());
        plan
    }

    fn text_view(live: Option<&str>, desired: &str) -> ValueView {
        let live = live.map(|text| LiveValue::Text(text.into()));
        value_view(live.as_ref(), Some(desired.as_bytes()), false)
    }

    /// A scope of one update whose value view is `view`.
    fn update_with(view: ValueView) -> (Plan, ValueViews) {
        let plan = plan(vec![scope("flags", "flags/", vec![("flags/k", Action::Update)])]);
        let mut views = ValueViews::new();
        views.insert(0, "flags/k", view);
        (plan, views)
    }

    /// A change with both sides' metadata and expiration, and no value view.
    fn with_sides(
        key: &str,
        action: Action,
        desired: (Option<serde_json::Value>, Expiration, bool),
        live: Option<(Option<serde_json::Value>, Option<i64>)>,
    ) -> Change {
        let map = |v: Option<serde_json::Value>| v.and_then(|v| v.as_object().cloned());
        Change {
            key: key.into(),
            action,
            desired: Some(crate::plan::DesiredKey {
                hash: crate::content::ContentHash([0; 32]),
                metadata: map(desired.0),
                expiration: desired.1,
                sensitive: desired.2,
            }),
            live: live.map(|(metadata, expiration)| crate::plan::LiveKey {
                marker: crate::content::Marker::None,
                expiration,
                metadata: map(metadata),
                sensitive: false,
            }),
            origin: None,
        }
    }

    #[test]
    fn metadata_and_expiration_are_shown_for_writes() {
        use serde_json::json;
        let mut flags = scope("flags", "f/", vec![]);
        flags.changes = vec![
            with_sides(
                "f/a",
                Action::Create,
                (Some(json!({"team": "growth"})), Expiration::At(2_000_000_000), false),
                None,
            ),
            with_sides("f/b", Action::Create, (None, Expiration::Ttl(3600), false), None),
            with_sides(
                "f/c",
                Action::Update,
                (Some(json!({"team": "search"})), Expiration::Never, false),
                Some((Some(json!({"team": "growth"})), Some(2_000_000_000))),
            ),
            with_sides(
                "f/d",
                Action::Update,
                (None, Expiration::Ttl(600), false),
                Some((None, Some(1_900_000_100))),
            ),
            with_sides(
                "f/e",
                Action::Adopt,
                (Some(json!({"token": "s3cret"})), Expiration::Never, true),
                Some((Some(json!({"token": "old"})), None)),
            ),
            with_sides(
                "f/f",
                Action::Update,
                (None, Expiration::At(2_000_000_000), false),
                Some((None, Some(2_000_000_000))),
            ),
        ];
        check!(plan(vec![flags]), ValueViews::new(), @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "f/")
          + f/a
              metadata: {"team":"growth"}
              expiration: 2033-05-18T03:33:20Z
          + f/b
              expiration: 3600 s after the write (ttl)
          ~ f/c
              metadata: {"team":"growth"} → {"team":"search"}
              expiration: 2033-05-18T03:33:20Z → never
          ~ f/d
              expiration: 2030-03-17T17:48:20Z → 600 s after this write (ttl)
          ! f/e (adopt: no kvsync marker; the value is rewritten with one)
              metadata: (sensitive) (changed)
          ~ f/f

        Plan: 2 to create, 3 to update, 1 to adopt.
        Adopting rewrites each adopted value (a billed write), because KV cannot change metadata alone.
        "#);
    }

    #[test]
    fn every_action_kind_in_one_scope() {
        let mut flags = scope(
            "flags",
            "flags/",
            vec![
                ("flags/a-create", Action::Create),
                ("flags/b-update", Action::Update),
                ("flags/c-adopt", Action::Adopt),
                ("flags/d-take", Action::TakeOver { from: "other-team".into() }),
                ("flags/e-delete", Action::Delete { reason: DeleteReason::NotDesired }),
                ("flags/f-expiring", Action::Delete { reason: DeleteReason::Expiring }),
                (
                    "flags/g-conflict",
                    Action::Conflict { reason: ConflictReason::Owner("other".into()) },
                ),
                ("flags/h-newer", Action::Conflict { reason: ConflictReason::NewerVersion(2) }),
                ("flags/i-orphan", Action::Orphan),
                ("flags/j-protected", Action::Protected { instead_of: ProtectedAction::Delete }),
                ("flags/k-protected", Action::Protected { instead_of: ProtectedAction::Adopt }),
                (
                    "flags/l-protected",
                    Action::Protected {
                        instead_of: ProtectedAction::TakeOver { from: "ops".into() },
                    },
                ),
            ],
        );
        flags.unchanged = 120;
        flags.unmanaged = vec!["flags/x".into(), "flags/y".into()];
        flags.warnings.push(Warning {
            key: "flags/black-friday".into(),
            message: "expiration is less than 60 s away; the key is skipped".into(),
        });
        check!(plan(vec![flags]), ValueViews::new(), @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          + flags/a-create
          ~ flags/b-update
          ! flags/c-adopt (adopt: no kvsync marker; the value is rewritten with one)
          > flags/d-take (take over from `other-team`)
          - flags/e-delete
          - flags/f-expiring (expiration is less than 60 s away)
          x flags/g-conflict (owned by `other`; add the key to `take_over:` or pass `--take-over other`)
          x flags/h-newer (written by a newer kvsync (marker v2); upgrade kvsync)
          = flags/i-orphan (no longer desired; kept because `prune: false`)
          # flags/j-protected (protected: would be deleted)
          # flags/k-protected (protected: would be adopted)
          # flags/l-protected (protected: would be taken over from `ops`)
          warning: flags/black-friday: expiration is less than 60 s away; the key is skipped

        Plan: 1 to create, 1 to update, 1 to adopt, 1 to take over, 2 to delete, 120 unchanged; 2 conflicts; 1 orphan kept; 3 protected; 2 unmanaged keys left alone.
        Adopting rewrites each adopted value (a billed write), because KV cannot change metadata alone.

        Apply would refuse this plan:
          - scope `flags` has 2 conflicting keys:
              `flags/g-conflict` (owned by `other`)
              `flags/h-newer` (written by a newer kvsync, marker v2)
            hint: add the keys to the scope's `take_over:` globs (or pass `--take-over other`), or remove them from the config; keys written by a newer kvsync need a newer kvsync: upgrade it
        "#);
    }

    #[test]
    fn summary_line_counts_and_plurals() {
        let none = Summary::default();
        assert_eq!(summary_line(&none), "No changes.");
        let quiet = Summary { unchanged: 120, unmanaged: 2, ..Summary::default() };
        assert_eq!(summary_line(&quiet), "No changes. 120 unchanged; 2 unmanaged keys left alone.");
        let kept = Summary { orphan: 1, protected: 1, unmanaged: 1, ..Summary::default() };
        assert_eq!(
            summary_line(&kept),
            "No changes. 1 orphan kept; 1 protected; 1 unmanaged key left alone."
        );
        let singular = Summary {
            create: 1,
            update: 1,
            adopt: 1,
            take_over: 1,
            delete: 1,
            unchanged: 1,
            conflict: 1,
            orphan: 1,
            protected: 1,
            unmanaged: 1,
        };
        assert_eq!(
            summary_line(&singular),
            "Plan: 1 to create, 1 to update, 1 to adopt, 1 to take over, 1 to delete, 1 unchanged; \
             1 conflict; 1 orphan kept; 1 protected; 1 unmanaged key left alone."
        );
        let plural = Summary {
            create: 3,
            update: 2,
            adopt: 1,
            take_over: 1,
            delete: 1,
            unchanged: 120,
            conflict: 1,
            orphan: 2,
            protected: 1,
            unmanaged: 2,
        };
        // Verbatim from DESIGN.md §5.
        assert_eq!(
            summary_line(&plural),
            "Plan: 3 to create, 2 to update, 1 to adopt, 1 to take over, 1 to delete, 120 unchanged; \
             1 conflict; 2 orphans kept; 1 protected; 2 unmanaged keys left alone."
        );
        let only_conflicts = Summary { conflict: 2, ..Summary::default() };
        assert_eq!(summary_line(&only_conflicts), "Plan: 2 conflicts.");
        let only_creates = Summary { create: 3, ..Summary::default() };
        assert_eq!(summary_line(&only_creates), "Plan: 3 to create.");
    }

    #[test]
    fn a_plan_without_changes_is_only_its_summary() {
        let mut quiet = scope("flags", "", vec![]);
        quiet.unchanged = 120;
        quiet.unmanaged = vec!["a".into(), "b".into()];
        check!(plan(vec![quiet]), ValueViews::new(), @"No changes. 120 unchanged; 2 unmanaged keys left alone.");
    }

    #[test]
    fn json_update_shows_the_one_changed_field() {
        let live =
            r#"{"enabled":true,"rollout":25,"regions":["eu","us"],"owner":"growth","notes":"x"}"#;
        let desired =
            r#"{"enabled":true,"rollout":50,"regions":["eu","us"],"owner":"growth","notes":"x"}"#;
        let (plan, views) = update_with(text_view(Some(live), desired));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          ~ flags/k
              --- live
              +++ desired
              @@ -1,6 +1,6 @@
               {
                 "enabled": true,
              -  "rollout": 25,
              +  "rollout": 50,
                 "regions": [
                   "eu",
                   "us"

        Plan: 1 to update.
        "#);
    }

    #[test]
    fn create_of_text_lists_its_lines() {
        let plan = plan(vec![scope(
            "flags",
            "flags/",
            vec![
                ("flags/banner", Action::Create),
                ("flags/empty", Action::Create),
                ("flags/json", Action::Create),
            ],
        )]);
        let mut views = ValueViews::new();
        views.insert(0, "flags/banner", text_view(None, "Welcome!\nSecond line"));
        views.insert(0, "flags/empty", text_view(None, ""));
        views.insert(0, "flags/json", text_view(None, r#"{"on":true}"#));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          + flags/banner
              + Welcome!
              + Second line
          + flags/empty
              (empty value)
          + flags/json
              + {
              +   "on": true
              + }

        Plan: 3 to create.
        "#);
    }

    #[test]
    fn text_without_final_newline_neither_glues_nor_hints() {
        let (plan, views) = update_with(text_view(Some("a\nb\nold"), "a\nb\nnew"));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          ~ flags/k
              --- live
              +++ desired
              @@ -1,3 +1,3 @@
               a
               b
              -old
              +new

        Plan: 1 to update.
        "#);
    }

    #[test]
    fn differences_a_diff_cannot_show_are_named() {
        let plan = plan(vec![scope(
            "flags",
            "flags/",
            vec![
                ("flags/json", Action::Update),
                ("flags/newline", Action::Update),
                ("flags/same", Action::Update),
            ],
        )]);
        let mut views = ValueViews::new();
        views.insert(0, "flags/json", text_view(Some(r#"{"a": 1.50}"#), r#"{"a":1.5}"#));
        views.insert(0, "flags/newline", text_view(Some("text\n"), "text"));
        views.insert(0, "flags/same", text_view(Some("same"), "same"));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          ~ flags/json
              value differs only in JSON formatting (whitespace or number notation)
          ~ flags/newline
              value differs only in its final newline
          ~ flags/same
              value unchanged

        Plan: 3 to update.
        "#);
    }

    #[test]
    fn binary_update_shows_sizes_and_hashes() {
        let live = LiveValue::Binary(vec![0x89; 1229]);
        let desired = vec![0xff; 3 * 1024 + 410];
        let (plan, views) = update_with(value_view(Some(&live), Some(&desired), false));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          ~ flags/k
              binary value: 1.2 KiB (f54c362b) → 3.4 KiB (895e895d)

        Plan: 1 to update.
        "#);
    }

    #[test]
    fn large_text_and_unchanged_binary() {
        let big = "a".repeat(TEXT_DIFF_MAX + 1);
        let plan = plan(vec![scope(
            "files",
            "",
            vec![("big.txt", Action::Create), ("logo.png", Action::Update)],
        )]);
        let logo = [0x89, b'P', b'N', b'G'];
        let mut views = ValueViews::new();
        views.insert(0, "big.txt", value_view(None, Some(big.as_bytes()), false));
        views.insert(
            0,
            "logo.png",
            value_view(Some(&LiveValue::Binary(logo.to_vec())), Some(&logo), false),
        );
        check!(plan, views, @r#"
        scope `files` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, whole namespace)
          + big.txt
              large value: 1.0 MiB (4a3f0c0c)
          ~ logo.png
              value unchanged

        Plan: 1 to create, 1 to update.
        "#);
    }

    #[test]
    fn sensitive_values_show_nothing_of_the_value() {
        let live = LiveValue::Text("old-secret".into());
        let (plan, views) = update_with(value_view(Some(&live), Some(b"new-secret"), true));
        let out = render(&plan, &views);
        assert!(!out.contains("secret"));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          ~ flags/k
              (sensitive)

        Plan: 1 to update.
        "#);
    }

    #[test]
    fn metadata_only_update_says_the_value_is_unchanged() {
        let (plan, views) = update_with(text_view(Some(r#"{"on":true}"#), r#"{"on":true}"#));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          ~ flags/k
              value unchanged

        Plan: 1 to update.
        "#);
    }

    #[test]
    fn two_scopes_and_an_environment() {
        let first = scope("flags", "flags/", vec![("flags/a", Action::Create)]);
        let mut quiet = scope("quiet", "quiet/", vec![]);
        quiet.unchanged = 5;
        let mut second = scope(
            "config",
            "",
            vec![("app/url", Action::Delete { reason: DeleteReason::NotDesired })],
        );
        second.namespace_id = "9a8b7c6d5e4f30211203f4e5d6c7b8a9".into();
        second.unchanged = 3;
        let plan = plan(vec![first, quiet, second]);
        let mut views = ValueViews::new();
        views.insert(0, "flags/a", text_view(None, "on"));
        views.insert(
            2,
            "app/url",
            value_view(Some(&LiveValue::Text("https://old".into())), None, false),
        );
        let options = HumanOptions {
            color: false,
            value_diffs: true,
            environment: Some("staging".into()),
            show_all: false,
        };
        insta::assert_snapshot!(rendered(&plan, &views, &options), @r#"
        Environment: staging

        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          + flags/a
              + on

        scope `config` (namespace 9a8b7c6d5e4f30211203f4e5d6c7b8a9, whole namespace)
          - app/url
              - https://old

        Plan: 1 to create, 1 to delete, 8 unchanged.
        "#);
        let options = HumanOptions { value_diffs: false, ..options };
        insta::assert_snapshot!(rendered(&plan, &views, &options), @r#"
        Environment: staging

        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          + flags/a

        scope `config` (namespace 9a8b7c6d5e4f30211203f4e5d6c7b8a9, whole namespace)
          - app/url

        Plan: 1 to create, 1 to delete, 8 unchanged.
        "#);
    }

    #[test]
    fn a_namespace_found_through_a_binding_says_so_even_without_changes() {
        let changed = scope("flags", "flags/", vec![("flags/a", Action::Create)]);
        let mut quiet = scope("config", "", vec![]);
        quiet.unchanged = 3;
        let without = render(&plan(vec![changed.clone(), quiet.clone()]), &ValueViews::new());
        let changed = ScopePlan {
            resolved_from: Some("binding `FLAGS` in wrangler.jsonc [env.staging]".to_owned()),
            ..changed
        };
        let quiet = ScopePlan {
            resolved_from: Some("binding `CONFIG` in ../wrangler.toml".to_owned()),
            ..quiet
        };
        let text = render(&plan(vec![changed, quiet]), &ValueViews::new());
        insta::assert_snapshot!(text, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0 from binding `FLAGS` in wrangler.jsonc [env.staging], prefix "flags/")
          + flags/a

        scope `config` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0 from binding `CONFIG` in ../wrangler.toml, whole namespace)

        Plan: 1 to create, 3 unchanged.
        "#);
        insta::assert_snapshot!(without, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          + flags/a

        Plan: 1 to create, 3 unchanged.
        "#);
    }

    /// One rule for the cost line in every format: on a metered target (Cloudflare), when the
    /// plan has changes. The Free-plan warning follows the cost whatever the target.
    #[test]
    fn the_cost_line_and_the_free_plan_warning() {
        let plan = plan(vec![scope("flags", "flags/", vec![("flags/a", Action::Create)])]);
        let options =
            HumanOptions { color: false, value_diffs: true, environment: None, show_all: false };
        let views = ValueViews::new();
        let cost = Cost { billed_writes: 2_000, write_requests: 1, ..Default::default() };
        let local = render_plan(&PlanReport::new(&plan, &views, &cost), &options);
        assert!(!local.contains("Cost:"), "{local}");
        let metered = cost.metered(true);
        let text = render_plan(&PlanReport::new(&plan, &views, &metered), &options);
        assert!(
            text.ends_with(
                "Cost: no requests so far; apply will send 1 bulk write (billed: 2000 writes).\n"
            ),
            "{text}"
        );
        let quiet = Plan::default();
        let none = render_plan(&PlanReport::new(&quiet, &views, &metered), &options);
        assert!(!none.contains("Cost:"), "no changes, no cost line: {none}");
        let free = metered.on_free_plan(true);
        let text = render_plan(&PlanReport::new(&plan, &views, &free), &options);
        let warning = text.lines().last().expect("a last line");
        assert!(warning.starts_with("warning: this run needs 2000 writes, more than"), "{text}");
        assert!(warning.ends_with("Paid plan."), "{text}");
    }

    #[test]
    fn colour_only_when_asked() {
        let (plan, views) =
            update_with(text_view(Some("a\nold words here\n"), "a\nnew words here\n"));
        let mut options = HumanOptions {
            color: true,
            value_diffs: true,
            environment: Some("prod".into()),
            show_all: false,
        };
        let coloured = rendered(&plan, &views, &options);
        assert!(coloured.contains("\u{1b}["), "{coloured}");
        options.color = false;
        let plain = rendered(&plan, &views, &options);
        assert!(!plain.contains('\u{1b}'), "{plain}");
        // Colour repeats the text; it never adds or removes any.
        assert_eq!(strip_ansi(&coloured), plain);
    }

    #[test]
    fn control_characters_in_keys_and_values_are_escaped() {
        let plan = plan(vec![scope("flags", "", vec![("evil\u{1b}[2Jkey", Action::Create)])]);
        let mut views = ValueViews::new();
        views.insert(0, "evil\u{1b}[2Jkey", text_view(None, "line\r\n\u{1b}[31mred\u{202e}"));
        let out = render(&plan, &views);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'));
        check!(plan, views, @r#"
        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, whole namespace)
          + evil\u{1b}[2Jkey
              + line\r
              + \u{1b}[31mred\u{202e}

        Plan: 1 to create.
        "#);
    }

    fn strip_ansi(text: &str) -> String {
        let mut out = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}
