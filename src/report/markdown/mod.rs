//! The Markdown reports: plans and drift for pull-request comments and job summaries.
//!
//! GitHub renders this text, so it is built for two hostile facts. First, keys, values, owners
//! and details come from users or from KV (a live marker can name any owner), and must neither
//! break the layout nor inject HTML or mentions: every such text goes through [`code`] (an
//! inline code span with a delimiter longer than any backtick run in it) or [`prose`]
//! (backslash-escaped), after [`printable`] has escaped control characters, so a newline in a key
//! cannot start a new block. Values are shown only inside fenced blocks whose fence is longer
//! than any backtick run in the diff. Second, a comment holds at most 65,536 characters: the
//! output never exceeds [`MarkdownOptions::budget`] (counted in bytes, which is never less than
//! characters or UTF-16 units), and when the full report would not fit it keeps the head (title,
//! summary line, cost line, tables), then drops value diffs, then change lines, and says so.
//!
//! Like every renderer, this module takes data and never calls a store (STYLE.md habit 4).

use std::fmt::Write as _;

mod envdiff;
mod escape;
/// Test-only (a `tests.rs`, as the layering check expects): the reports through a GFM renderer.
#[cfg(test)]
#[path = "gfm/tests.rs"]
mod gfm_tests;
mod layout;

use escape::longest_run;
pub use escape::{code, prose, prose_with_code};
use layout::{Item, Layout, Section, Trailer};

use crate::plan::drift::{DriftReport, ScopeDrift};
use crate::plan::guards::{CONFLICTS_NAMED, Refusal};
use crate::plan::{Action, Change, ConflictReason, Origin, Plan};
use crate::report::drift_model::{
    CLASSES, class_counts, class_name, drift_line, invalid_first, mode_line,
};
use crate::report::model::{
    ActionKind, ChangeReport, Part, Phrase, PlanReport, ScopeReport, place, summary_line,
};
use crate::report::text::{counted, printable};
use crate::report::values::{
    Blob, TEXT_DIFF_MAX, TextComparison, ValueView, ValueViews, compare_text, human_size,
};

/// The size limit of a GitHub comment, in characters.
pub const DEFAULT_BUDGET: usize = 65_536;

/// How a Markdown report is rendered. There is deliberately no `Default`: callers spell out each
/// choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownOptions {
    /// The heading, e.g. `kvsync plan: web-flags (staging)`; escaped here.
    pub title: String,
    /// The most characters the output may have ([`DEFAULT_BUDGET`] for comments).
    pub budget: usize,
}

/// The change lists of a plan: one, or with baseline tags two, drift first.
#[derive(Debug, Clone, Copy)]
enum Group {
    All,
    Drift,
    PullRequest,
}

impl Group {
    fn title(self) -> &'static str {
        match self {
            Self::All => "Changes",
            Self::Drift => "Drift already live (not changed by this pull request)",
            Self::PullRequest => "Changes in this pull request",
        }
    }

    fn contains(self, change: &Change) -> bool {
        match self {
            Self::All => true,
            Self::Drift => change.origin == Some(Origin::Drift),
            // A change without a tag in a tagged plan is shown with the pull request's, where a
            // reviewer looks.
            Self::PullRequest => change.origin != Some(Origin::Drift),
        }
    }
}
/// The most keys a collapsible group of one action lists in a rendering of at most
/// [`DEFAULT_BUDGET`] (a comment, read at a glance); the rest are counted (`… and N more`). A
/// larger rendering (a job summary, 1 MiB) lists every key that fits its budget.
pub const GROUP_KEYS: usize = 50;

/// A plan of at most this many changes shows its groups open and its diffs without a click.
pub const SMALL_PLAN: usize = 10;

const WHERE_FULL: &str = "the full plan is in the job log / `kvsync plan`";

/// Renders a plan within `options.budget`. With baseline tags, drift already live is listed
/// first, apart from the changes of the pull request.
pub fn render_plan(report: &PlanReport<'_>, options: &MarkdownOptions) -> String {
    Report::plan(report, &options.title, options.budget).render(options.budget, None)
}

/// Renders a drift report within `options.budget`.
pub fn render_drift(report: &DriftReport, options: &MarkdownOptions) -> String {
    Report::drift(report, &options.title).render(options.budget, None)
}

/// The changes a Markdown plan lists, as (scope index, key): the first [`GROUP_KEYS`] of each
/// group, as [`plan_layout`] lists them. Only these need their live values read for a diff.
pub fn listed_keys(plan: &Plan) -> std::collections::HashSet<(usize, &str)> {
    crate::report::model::listed_keys(plan, GROUP_KEYS)
}

/// The characters the value views of `keys` add to a plan rendering that lists those keys
/// (their diff blocks and value lines): what a reader of values weighs a step of reads with,
/// without laying the whole report out again.
pub fn views_size(
    report: &PlanReport<'_>,
    keys: &std::collections::HashSet<(usize, &str)>,
) -> usize {
    let listed = |c: &ChangeReport<'_>| c.kind != ActionKind::Conflict;
    let small = report.scopes().flat_map(|s| s.changes()).filter(listed).count() <= SMALL_PLAN;
    let size = |item: Item| item.lines.len() + item.details.map_or(0, |d| d.len());
    let mut added = 0;
    for scope in report.scopes() {
        for change in scope.changes().filter(|c| keys.contains(&(scope.index, c.key()))) {
            let bare = ChangeReport { view: None, ..change };
            added +=
                size(change_item(&change, small)).saturating_sub(size(change_item(&bare, small)));
        }
    }
    added
}

/// A Markdown report laid out once, to be rendered for one or more size budgets (a comment, a
/// job summary and an output each have their own), so it is cut once, by kvsync, for each. A
/// plan is laid out twice when a group has more than [`GROUP_KEYS`] keys: capped, for budgets
/// up to [`DEFAULT_BUDGET`], and listing every key, for larger ones.
pub struct Report {
    capped: Layout<'static>,
    every_key: Option<Layout<'static>>,
}

impl Report {
    /// A plan's report, to be rendered for budgets up to `largest`. With baseline tags, drift
    /// already live is listed first, apart from the changes of the pull request.
    pub fn plan(report: &PlanReport<'_>, title: &str, largest: usize) -> Self {
        let capped = plan_layout(report, title, GROUP_KEYS);
        let every_key = (largest > DEFAULT_BUDGET && capped.sections.iter().any(|s| s.more > 0))
            .then(|| plan_layout(report, title, usize::MAX));
        Self { capped, every_key }
    }

    /// A drift report.
    pub fn drift(report: &DriftReport, title: &str) -> Self {
        Self { capped: drift_layout(report, &ValueViews::new(), title), every_key: None }
    }

    /// A drift report whose drifted keys show their value diffs from `views` (the values the
    /// deep check read), collapsed, as a plan's do.
    pub fn drift_with_values(report: &DriftReport, views: &ValueViews, title: &str) -> Self {
        Self { capped: drift_layout(report, views, title), every_key: None }
    }

    /// The layout a rendering of `budget` characters uses.
    fn layout(&self, budget: usize) -> &Layout<'static> {
        match &self.every_key {
            Some(every_key) if budget > DEFAULT_BUDGET => every_key,
            _ => &self.capped,
        }
    }

    /// Whether the whole report fits `budget` characters, nothing left out.
    pub fn fits(&self, budget: usize) -> bool {
        self.whole_size(budget) <= budget
    }

    /// The characters a rendering of `budget` needs to leave nothing out (or a few more).
    pub fn whole_size(&self, budget: usize) -> usize {
        self.layout(budget).whole_cost()
    }

    /// The most complete report that fits `budget`. When something is left out, the note says
    /// how much and points at `where_full` (e.g. "the whole report is in the job summary"), or
    /// by default at the job log; a group capped at [`GROUP_KEYS`] keys points there too.
    pub fn render(&self, budget: usize, where_full: Option<&str>) -> String {
        let layout = self.layout(budget);
        match where_full {
            Some(where_full) => {
                let mut layout =
                    Layout { where_full: where_full.to_owned().into(), ..layout.clone() };
                for section in layout.sections.iter_mut().filter(|s| s.more > 0) {
                    section.more_where = Some(where_full.to_owned());
                }
                layout.fit(budget)
            }
            None => layout.fit(budget),
        }
    }
}

/// The marker a report on a config that failed to load carries, so the Action tells it from a
/// plan apply would refuse (both exit 1 with Markdown on stdout).
pub const CONFIG_PROBLEMS_MARKER: &str = "<!-- kvsync: config problems -->";

/// The Markdown of a config that failed to load, for `plan --format markdown` to print instead
/// of nothing: a caution alert that names the problem (`2 values break their schemas`), then one
/// list, one item per way a value breaks its schema (key, `file:line`, JSON pointer, what was
/// expected) and per other problem (`file:line:column`, message, hint), within `budget`.
pub fn render_config_problems(
    command: &str,
    diagnostics: &[crate::config::Diagnostic],
    budget: usize,
) -> String {
    let breaks = diagnostics.iter().filter(|d| d.schema.is_some()).count();
    let others = diagnostics.len() - breaks;
    let what = match (breaks, others) {
        (n, 0) => counted(n, "value breaks its schema", "values break their schemas"),
        (0, n) => format!("the config has {}", counted(n, "problem", "problems")),
        (b, n) => format!(
            "{} and the config has {} more",
            counted(b, "value breaks its schema", "values break their schemas"),
            counted(n, "problem", "problems")
        ),
    };
    let fix = if others == 0 {
        "Fix the values, or the schemas if the values are right"
    } else {
        "Fix the config and run the plan again"
    };
    let alert = format!("**{}; nothing was planned.** {}.", capitalized(&what), prose(fix));
    let head = format!(
        "## {}: {}\n\n{CONFIG_PROBLEMS_MARKER}\n\n{}",
        prose(command),
        prose(&what),
        caution(&alert)
    );
    let mut items = Vec::new();
    for diagnostic in diagnostics {
        let place = format!("{}:{}", diagnostic.path.display(), diagnostic.line);
        match &diagnostic.schema {
            Some(schema) => {
                for violation in &schema.violations {
                    let pointer = if violation.instance_path.is_empty() {
                        "the whole value".to_owned()
                    } else {
                        code(&violation.instance_path)
                    };
                    items.push(Item {
                        lines: format!(
                            "- {} · {} · {pointer}: {} (schema {})\n",
                            code(&schema.key),
                            code(&place),
                            prose(&printable(&violation.message)),
                            code(&violation.schema_location),
                        ),
                        details: None,
                    });
                }
            }
            None => {
                let mut line = format!(
                    "- {}: {}\n",
                    code(&format!("{place}:{}", diagnostic.column)),
                    prose_with_code(&diagnostic.message)
                );
                if let Some(hint) = &diagnostic.hint {
                    let _ = writeln!(line, "  - hint: {}", prose_with_code(hint));
                }
                items.push(Item { lines: line, details: None });
            }
        }
    }
    Layout {
        head,
        sections: vec![Section::plain("### Problems\n".to_owned(), items)],
        trailers: Vec::new(),
        nouns: ("problem", "problems"),
        where_full: "every problem is in the job log / `kvsync validate`".into(),
    }
    .fit(budget)
}

/// `text` with its first letter upper-case.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Where a cut report points by default.
const WHERE_FULL_DRIFT: &str = "the full report is in the job log / `kvsync drift`";

/// A plan's layout; each group lists its first `cap` keys.
fn plan_layout(report: &PlanReport<'_>, title: &str, cap: usize) -> Layout<'static> {
    let plan = report.plan;
    let grouped = report.grouped();
    let head = plan_head(report, title);

    let labelled = plan.scopes.iter().filter(|s| !s.changes.is_empty()).count() > 1;
    let groups = if grouped { vec![Group::Drift, Group::PullRequest] } else { vec![Group::All] };
    // Conflicts are listed with the refusals at the top, not as changes.
    let listed = |c: &ChangeReport<'_>| c.kind != ActionKind::Conflict;
    let small = report.scopes().flat_map(|s| s.changes()).filter(listed).count() <= SMALL_PLAN;
    let mut sections = Vec::new();
    for group in groups {
        let mut first = true;
        for scope in report.scopes() {
            let mut scope_first = true;
            // One collapsible group per action, in the order the tables count them.
            for kind in ActionKind::ALL {
                let changes: Vec<ChangeReport<'_>> = scope
                    .changes()
                    .filter(|c| c.kind == kind && group.contains(c.change) && listed(c))
                    .collect();
                if changes.is_empty() {
                    continue;
                }
                let mut heading = String::new();
                if first {
                    let _ = writeln!(heading, "### {}\n", group.title());
                    first = false;
                }
                if labelled && scope_first {
                    let _ = writeln!(heading, "Scope {}:\n", code(&scope.scope.name));
                }
                scope_first = false;
                let count = counted(changes.len(), "key", "keys");
                // (Only fixed words and numbers go into the HTML summary; `>` is escaped.)
                let marker = match kind.marker() {
                    '>' => "&gt;".to_owned(),
                    marker => marker.to_string(),
                };
                let _ = writeln!(
                    heading,
                    "<details{}><summary><code>{marker}</code> {}: {count}</summary>",
                    if small { " open" } else { "" },
                    kind.label(),
                );
                let items = changes.iter().take(cap).map(|c| change_item(c, small)).collect();
                sections.push(Section {
                    heading,
                    items,
                    more: changes.len().saturating_sub(cap),
                    more_where: None,
                    close: "\n</details>\n".to_owned(),
                });
            }
        }
    }
    Layout {
        head,
        sections,
        trailers: Vec::new(),
        nouns: ("change", "changes"),
        where_full: WHERE_FULL.into(),
    }
}

/// The plan report's head: the title and summary, the refusals, the cost and its warning,
/// what `--only` left out, and a table per scope.
fn plan_head(report: &PlanReport<'_>, title: &str) -> String {
    let plan = report.plan;
    let grouped = report.grouped();
    let mut head = format!("## {}\n\n**{}**\n", prose(title), summary_line(&report.summary));
    // What apply would refuse comes first: it is what the reviewer must act on.
    if !plan.refusals.is_empty() {
        head.push('\n');
        head.push_str(&refusals_section(&plan.refusals));
    }
    if let Some(line) = report.cost_line() {
        head.push('\n');
        // A refused plan writes nothing: what apply sends is what it would send once fixed.
        if plan.refusals.is_empty() {
            head.push_str(&line);
        } else {
            head.push_str(&line.replacen(
                "apply will send",
                "once the refusals are resolved, apply would send",
                1,
            ));
        }
        head.push('\n');
    }
    if let Some(warning) = report.cost.free_plan_warning() {
        head.push_str(&format!("\n> **Warning (Free plan):** {}.\n", prose(&warning)));
    }
    if let Some(line) = report.only_line() {
        head.push('\n');
        head.push_str(&prose_with_code(&line));
        head.push('\n');
    }
    if grouped {
        head.push('\n');
        head.push_str(&origin_sentence(plan));
        head.push('\n');
    }
    if let Some(note) = report.adopt_note() {
        head.push('\n');
        head.push_str(note);
        head.push('\n');
    }
    for scope in report.scopes() {
        head.push('\n');
        head.push_str(&plan_table(&scope));
        if let Some(source) = scope.resolved_from() {
            head.push_str(&format!("\nNamespace id from {}.\n", prose_with_code(source)));
        }
    }
    head
}

/// The drift report: the drift line, what was compared, a table per scope, the drifted keys,
/// and the keys reported but not counted in collapsed blocks.
fn drift_layout(report: &DriftReport, views: &ValueViews, title: &str) -> Layout<'static> {
    let mut head = format!(
        "## {}\n\n**{}**\n\n{}\n",
        prose(title),
        drift_line(report),
        mode_line(report.deep)
    );
    for scope in &report.scopes {
        head.push('\n');
        head.push_str(&drift_table(scope));
    }
    let labelled = report.scopes.iter().filter(|s| !s.drifted.is_empty()).count() > 1;
    let mut sections = Vec::new();
    for (index, scope) in report.scopes.iter().enumerate() {
        if scope.drifted.is_empty() {
            continue;
        }
        let mut heading = String::new();
        if sections.is_empty() {
            heading.push_str("### Drifted keys\n");
        }
        if labelled {
            if !heading.is_empty() {
                heading.push('\n');
            }
            let _ = writeln!(heading, "Scope {}:", code(&scope.name));
        }
        let items = invalid_first(&scope.drifted)
            .map(|key| {
                let mut line = format!("- **{}** {}", class_name(key.class), code(&key.key));
                if let Some(detail) = &key.detail {
                    let _ = write!(line, " ({})", prose_with_code(detail));
                }
                line.push('\n');
                // As in the plan: from live to the config, what apply would write back.
                let details = match views.get(index, &key.key) {
                    Some(ValueView::Text { live, desired }) => {
                        match compare_text(live.as_deref(), desired.as_deref()) {
                            TextComparison::Diff(diff) => Some(diff_block(&diff, false)),
                            _ => None,
                        }
                    }
                    Some(ValueView::Opaque { live, desired }) => {
                        if let Some(sizes) = opaque(live.as_ref(), desired.as_ref()) {
                            let _ = writeln!(line, "  - {sizes}");
                        }
                        None
                    }
                    _ => None,
                };
                Item { lines: line, details }
            })
            .collect();
        sections.push(Section::plain(heading, items));
    }
    let all_scopes = report.scopes.len() > 1;
    let listed = |pick: fn(&ScopeDrift) -> &Vec<String>| -> Vec<String> {
        report
            .scopes
            .iter()
            .flat_map(|scope| {
                pick(scope).iter().map(move |key| {
                    if all_scopes {
                        format!("- {} (scope {})\n", code(key), code(&scope.name))
                    } else {
                        format!("- {}\n", code(key))
                    }
                })
            })
            .collect()
    };
    let mut trailers = Vec::new();
    let unmanaged = listed(|s| &s.unmanaged);
    if !unmanaged.is_empty() {
        let what = counted(unmanaged.len(), "unmanaged key", "unmanaged keys");
        trailers.push(Trailer::collapsed(
            &format!("{what} left alone (not drift, not counted)"),
            &unmanaged,
        ));
    }
    let expired = listed(|s| &s.expired_ttl);
    if !expired.is_empty() {
        let what = counted(expired.len(), "TTL key", "TTL keys");
        trailers.push(Trailer::collapsed(
            &format!("{what} absent, probably expired (a listing cannot tell; not counted)"),
            &expired,
        ));
    }
    Layout {
        head,
        sections,
        trailers,
        nouns: ("drifted key", "drifted keys"),
        where_full: WHERE_FULL_DRIFT.into(),
    }
}

/// A GitHub caution alert, `**Apply would refuse this plan**`: every refusal with the keys it
/// names and its hint.
fn refusals_section(refusals: &[Refusal]) -> String {
    let mut out = String::from("**Apply would refuse this plan; nothing is written.**\n\n");
    for refusal in refusals {
        let _ = writeln!(out, "- **{}**", prose_with_code(&refusal.headline()));
        if let Refusal::Conflicts { keys, .. } = refusal {
            for (key, reason) in keys.iter().take(CONFLICTS_NAMED) {
                let why = match reason {
                    ConflictReason::Owner(owner) => format!("owned by {}", code(owner)),
                    ConflictReason::NewerVersion(v) => {
                        format!("written by a newer kvsync, marker v{v}")
                    }
                    ConflictReason::Unreadable(detail) => {
                        format!("its marker cannot be read: {}", prose_with_code(detail))
                    }
                    ConflictReason::DamagedListing(detail) => {
                        format!("listed damaged: {}", prose_with_code(detail))
                    }
                };
                let _ = writeln!(out, "  - `x` {} ({why})", code(key));
            }
            if refusal.unnamed_keys() > 0 {
                let _ = writeln!(out, "  - … and {} more", refusal.unnamed_keys());
            }
        }
        let _ = writeln!(out, "  - hint: {}", prose_with_code(&refusal.hint()));
    }
    caution(&out)
}

/// `text` as a GitHub caution alert: a block quote whose first line is `[!CAUTION]`.
fn caution(text: &str) -> String {
    let mut out = String::from("> [!CAUTION]\n");
    for line in text.lines() {
        if line.is_empty() {
            out.push_str(">\n");
        } else {
            let _ = writeln!(out, "> {line}");
        }
    }
    out
}

/// A sentence on how the changes split between the pull request and drift.
fn origin_sentence(plan: &Plan) -> String {
    let changes = || {
        plan.scopes
            .iter()
            .flat_map(|s| &s.changes)
            .filter(|c| !matches!(c.action, Action::Conflict { .. }))
    };
    let drift = changes().filter(|c| c.origin == Some(Origin::Drift)).count();
    let pr = changes().count() - drift;
    let both = changes().filter(|c| c.origin == Some(Origin::Pr { drifted: true })).count();
    let also =
        if both > 0 { format!(" ({both} of them also changed by hand)") } else { String::new() };
    let pr = format!("{} from this pull request{also}", counted(pr, "change", "changes"));
    match drift {
        0 => format!("{pr}; no drift already live."),
        _ => format!("{pr}; {} drift already live.", counted(drift, "change is", "changes are")),
    }
}

/// `### Scope `flags` · namespace `…` · prefix `flags/``
fn scope_heading(name: &str, namespace_id: &str, place: &str) -> String {
    format!("### Scope {} · namespace {} · {place}\n", code(name), code(namespace_id))
}

/// The heading and count table of one scope. Only fixed words and numbers go into table cells,
/// so no user text can meet the table's pipes.
fn plan_table(scope: &ScopeReport<'_>) -> String {
    let summary = scope.scope.summary();
    let mut out = scope_heading(
        &scope.scope.name,
        &scope.scope.namespace_id,
        &place(&scope.scope.prefix, code),
    );
    out.push_str("\n| | Action | Keys |\n|:-:|:--|--:|\n");
    let kinds =
        ActionKind::ALL.map(|kind| (Some(kind.marker()), kind.label(), kind.count(&summary)));
    let others = [
        (None, "unchanged", summary.unchanged),
        (None, "unmanaged (left alone)", summary.unmanaged),
    ];
    let mut any = false;
    for (sign, label, count) in kinds.into_iter().chain(others) {
        if count == 0 {
            continue;
        }
        any = true;
        let sign = sign.map(|s| format!(" `{s}` ")).unwrap_or_else(|| " ".to_owned());
        let _ = writeln!(out, "|{sign}| {label} | {count} |");
    }
    if !any {
        out.push_str("| | unchanged | 0 |\n");
    }
    if !scope.scope.warnings.is_empty() {
        out.push('\n');
        for warning in &scope.scope.warnings {
            let _ =
                writeln!(out, "- ⚠ {}: {}", code(&warning.key), prose_with_code(&warning.message));
        }
    }
    out
}

fn drift_table(scope: &ScopeDrift) -> String {
    let place = place(&scope.prefix, code);
    let mut out = scope_heading(&scope.name, &scope.namespace_id, &place);
    out.push_str("\n| Class | Keys |\n|:--|--:|\n");
    let counts = class_counts([scope]);
    for (class, count) in CLASSES.iter().zip(counts) {
        if count > 0 {
            let _ = writeln!(out, "| {} | {count} |", class_name(*class));
        }
    }
    let _ = writeln!(out, "| in sync | {} |", scope.in_sync);
    if !scope.unmanaged.is_empty() {
        let _ = writeln!(out, "| unmanaged (not counted) | {} |", scope.unmanaged.len());
    }
    if !scope.expired_ttl.is_empty() {
        let _ = writeln!(out, "| expired TTL (not counted) | {} |", scope.expired_ttl.len());
    }
    out
}

/// A note in Markdown: every name from users or KV (owners come from live markers anyone can
/// write) in a safe code span, details as prose with code spans, our words as written.
fn phrase(phrase: &Phrase) -> String {
    phrase
        .0
        .iter()
        .map(|part| match part {
            Part::Words(words) => words.to_string(),
            Part::Name(name) => code(name),
            Part::Detail(detail) => prose_with_code(detail),
        })
        .collect()
}

/// One change: its line, its notes as a nested list, and its value diff, in a collapsed block
/// unless `inline` (a small plan shows its diffs without a click).
fn change_item(change: &ChangeReport<'_>, inline: bool) -> Item {
    let mut lines = format!("- `{}` {}", change.kind.marker(), code(change.key()));
    if let Some(note) = change.note() {
        let _ = write!(lines, " ({})", phrase(&note));
    }
    if change.also_changed_by_hand() {
        lines.push_str(" — ⚠ also changed by hand");
    }
    lines.push('\n');
    let mut subs = Vec::new();
    for attribute in change.attributes() {
        let text = if attribute.literal { code(&attribute.text) } else { prose(&attribute.text) };
        subs.push(format!("{}: {text}", attribute.label));
    }
    // As in the human plan, only keys apply writes or deletes get a value: a value under a
    // conflict or a protected key would read as if it were about to be written.
    let mut details = None;
    if let Some(view) = change.shown_value() {
        match view {
            ValueView::Sensitive => subs.push("value: (sensitive)".to_owned()),
            ValueView::MarkerOnly => {}
            ValueView::Opaque { live, desired } => {
                subs.extend(opaque(live.as_ref(), desired.as_ref()))
            }
            ValueView::Text { live, desired } => {
                match compare_text(live.as_deref(), desired.as_deref()) {
                    TextComparison::Absent => {}
                    TextComparison::Unchanged => subs.push("value unchanged".to_owned()),
                    TextComparison::FormattingOnly => subs.push(
                        "value differs only in JSON formatting (whitespace or number notation)"
                            .to_owned(),
                    ),
                    TextComparison::FinalNewlineOnly => {
                        subs.push("value differs only in its final newline".to_owned());
                    }
                    TextComparison::Empty => subs.push("(empty value)".to_owned()),
                    TextComparison::Diff(diff) => details = Some(diff_block(&diff, inline)),
                }
            }
        }
    }
    for sub in subs {
        let _ = writeln!(lines, "  - {sub}");
    }
    Item { lines, details }
}

fn opaque(live: Option<&Blob>, desired: Option<&Blob>) -> Option<String> {
    let blob = |b: &Blob| format!("{} ({})", human_size(b.size), code(&b.sha256_short));
    // Opaque views hold either a binary side or a text too large to diff; say which.
    let large = [live, desired].into_iter().flatten().any(|b| b.size > TEXT_DIFF_MAX as u64);
    let label = if large { "large value" } else { "binary value" };
    match (live, desired) {
        (Some(live), Some(desired)) if live == desired => Some("value unchanged".to_owned()),
        (Some(live), Some(desired)) => Some(format!("{label}: {} → {}", blob(live), blob(desired))),
        (None, Some(side)) | (Some(side), None) => Some(format!("{label}: {}", blob(side))),
        (None, None) => None,
    }
}

/// A unified diff indented into its list item, in a collapsed block unless `inline`. The fence
/// is longer than any backtick run in the diff, so no line of a value can close it, and the
/// blank lines around the HTML tags end the HTML blocks, so the fence and the next item are
/// Markdown again.
fn diff_block(diff: &str, inline: bool) -> String {
    let mut body = String::new();
    for line in diff.lines() {
        let _ = writeln!(body, "  {}", printable(line));
    }
    let fence = "`".repeat(longest_run(&body, '`').max(2) + 1);
    if inline {
        return format!("\n  {fence}diff\n{body}  {fence}\n\n");
    }
    format!(
        "  <details><summary>Value diff</summary>\n\n  {fence}diff\n{body}  {fence}\n\n  </details>\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::LiveValue;
    use crate::plan::DeleteReason;
    use crate::report::cost::{Cost, estimate};
    use crate::report::values::ValueViews;
    use crate::report::values::value_view;
    use crate::testing::plans::{
        NAMESPACE, SECRET, change, desired, drift_report, every_action, ours, scope, text,
    };

    /// The plan in Markdown, its cost as on Cloudflare (a metered target, so the cost line shows).
    fn md(plan: &Plan, views: &ValueViews, cost: &Cost, options: &MarkdownOptions) -> String {
        render_plan(&PlanReport::new(plan, views, &cost.metered(true)), options)
    }

    fn options(budget: usize) -> MarkdownOptions {
        MarkdownOptions { title: "kvsync plan: web-flags (staging)".into(), budget }
    }

    fn render(plan: &Plan, views: &ValueViews) -> String {
        let cost = estimate(
            plan,
            crate::report::cost::SoFar {
                list_requests: 1,
                read_requests: 1,
                billed_lists: 1,
                billed_reads: 2,
            },
        );
        md(plan, views, &cost, &options(DEFAULT_BUDGET))
    }

    #[test]
    fn the_free_plan_warning_follows_the_cost_line() {
        let (plan, views) = every_action();
        let cost = Cost {
            billed_deletes: 5_000,
            ..estimate(
                &plan,
                crate::report::cost::SoFar {
                    list_requests: 1,
                    read_requests: 1,
                    billed_lists: 1,
                    billed_reads: 2,
                },
            )
        }
        .on_free_plan(true);
        let out = md(&plan, &views, &cost, &options(DEFAULT_BUDGET));
        let cost_line = out.find("Cost: ").expect("cost line");
        let warning =
            out.find("> **Warning (Free plan):** this run needs 5000 deletes").expect("warning");
        assert!(warning > cost_line, "{out}");
        let paid = md(&plan, &views, &cost.on_free_plan(false), &options(DEFAULT_BUDGET));
        assert!(!paid.contains("Free plan"), "{paid}");
    }

    /// A pull request that changes two keys (one of which was also edited by hand) while one
    /// other key drifted.
    fn pull_request() -> (Plan, ValueViews) {
        let mut changes = vec![
            change("flags/banner", Action::Update, Some(desired(1)), Some(ours(2))),
            change("flags/checkout", Action::Update, Some(desired(3)), Some(ours(4))),
            change("flags/new-search", Action::Create, Some(desired(5)), None),
        ];
        changes[0].origin = Some(Origin::Drift);
        changes[1].origin = Some(Origin::Pr { drifted: true });
        changes[2].origin = Some(Origin::Pr { drifted: false });
        let mut flags = scope("flags", "flags/", changes);
        flags.unchanged = 40;
        let mut views = ValueViews::new();
        views.insert(0, "flags/banner", text(Some("Hello by hand"), "Welcome!"));
        views.insert(
            0,
            "flags/checkout",
            text(Some(r#"{"enabled":false,"rollout":5}"#), r#"{"enabled":true,"rollout":25}"#),
        );
        views.insert(0, "flags/new-search", text(None, r#"{"enabled":true}"#));
        (Plan { scopes: vec![flags], only: Vec::new(), refusals: Vec::new() }, views)
    }

    #[test]
    fn baseline_tags_show_drift_first() {
        let (plan, views) = pull_request();
        insta::assert_snapshot!(render(&plan, &views), @r#"
            ## kvsync plan: web-flags (staging)

            **Plan: 1 to create, 2 to update, 40 unchanged.**

            Cost: 1 list request and 1 read request so far; apply will send 1 bulk write (billed: 1 list, 2 reads, 3 writes).

            2 changes from this pull request (1 of them also changed by hand); 1 change is drift already live.

            ### Scope `flags` · namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` · prefix `flags/`

            | | Action | Keys |
            |:-:|:--|--:|
            | `+` | create | 1 |
            | `~` | update | 2 |
            | | unchanged | 40 |

            ### Drift already live (not changed by this pull request)

            <details open><summary><code>~</code> update: 1 key</summary>

            - `~` `flags/banner`

              ```diff
              --- live
              +++ desired
              @@ -1 +1 @@
              -Hello by hand
              +Welcome!
              ```

            </details>

            ### Changes in this pull request

            <details open><summary><code>+</code> create: 1 key</summary>

            - `+` `flags/new-search`

              ```diff
              --- live
              +++ desired
              @@ -0,0 +1,3 @@
              +{
              +  "enabled": true
              +}
              ```

            </details>

            <details open><summary><code>~</code> update: 1 key</summary>

            - `~` `flags/checkout` — ⚠ also changed by hand

              ```diff
              --- live
              +++ desired
              @@ -1,4 +1,4 @@
               {
              -  "enabled": false,
              -  "rollout": 5
              +  "enabled": true,
              +  "rollout": 25
               }
              ```

            </details>
        "#);
    }

    #[test]
    fn every_action_kind_without_tags() {
        let (plan, views) = every_action();
        let out = render(&plan, &views);
        assert!(!out.contains(SECRET));
        insta::assert_snapshot!(out, @r#"
            ## kvsync plan: web-flags (staging)

            **Plan: 1 to create, 2 to update, 1 to adopt, 1 to take over, 2 to delete, 120 unchanged; 2 conflicts; 1 orphan kept; 3 protected; 2 unmanaged keys left alone.**

            > [!CAUTION]
            > **Apply would refuse this plan; nothing is written.**
            >
            > - **scope `flags` has 2 conflicting keys**
            >   - `x` `flags/g-conflict` (owned by `other`)
            >   - `x` `flags/h-newer` (written by a newer kvsync, marker v2)
            >   - hint: add the keys to the scope's `take_over:` globs (or pass `--take-over other`), or remove them from the config; keys written by a newer kvsync need a newer kvsync: upgrade it

            Cost: 1 list request and 1 read request so far; once the refusals are resolved, apply would send 1 bulk write and 1 bulk delete (billed: 1 list, 2 reads, 5 writes, 2 deletes).

            Adopting rewrites each adopted value (a billed write), because KV cannot change metadata alone.

            ### Scope `flags` · namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` · prefix `flags/`

            | | Action | Keys |
            |:-:|:--|--:|
            | `+` | create | 1 |
            | `~` | update | 2 |
            | `!` | adopt | 1 |
            | `>` | take over | 1 |
            | `-` | delete | 2 |
            | `x` | conflict | 2 |
            | `=` | orphan (kept) | 1 |
            | `#` | protected | 3 |
            | | unchanged | 120 |
            | | unmanaged (left alone) | 2 |

            - ⚠ `flags/black-friday`: expiration is less than 60 s away; the key is skipped

            ### Changes

            <details><summary><code>+</code> create: 1 key</summary>

            - `+` `flags/a-create`
              - metadata: `{"team":"growth"}`
              - expiration: 3600 s after the write (ttl)
              <details><summary>Value diff</summary>

              ```diff
              --- live
              +++ desired
              @@ -0,0 +1 @@
              +on
              ```

              </details>

            </details>

            <details><summary><code>~</code> update: 2 keys</summary>

            - `~` `flags/b-update`
              <details><summary>Value diff</summary>

              ```diff
              --- live
              +++ desired
              @@ -1,4 +1,4 @@
               {
              -  "enabled": false,
              +  "enabled": true,
                 "rollout": 10
               }
              ```

              </details>

            - `~` `flags/s-secret`
              - metadata: (sensitive) (changed)
              - value: (sensitive)

            </details>

            <details><summary><code>!</code> adopt: 1 key</summary>

            - `!` `flags/c-adopt` (adopt: no kvsync marker; the value is rewritten with one)
              <details><summary>Value diff</summary>

              ```diff
              --- live
              +++ desired
              @@ -1 +1 @@
              -hand-written
              +managed
              ```

              </details>

            </details>

            <details><summary><code>&gt;</code> take over: 1 key</summary>

            - `>` `flags/d-take` (take over from `other-team`)
              - binary value: 8 B (`4c4b6a3b`) → 4 B (`0f4636c7`)

            </details>

            <details><summary><code>-</code> delete: 2 keys</summary>

            - `-` `flags/e-delete`
            - `-` `flags/f-expiring` (expiration is less than 60 s away)

            </details>

            <details><summary><code>=</code> orphan (kept): 1 key</summary>

            - `=` `flags/i-orphan` (no longer desired; kept because `prune: false`)

            </details>

            <details><summary><code>#</code> protected: 3 keys</summary>

            - `#` `flags/j-protected` (protected: would be deleted)
            - `#` `flags/k-protected` (protected: would be adopted)
            - `#` `flags/l-protected` (protected: would be taken over from `ops`)

            </details>
        "#);
    }

    #[test]
    fn scopes_are_named_when_several_have_changes() {
        let first = scope(
            "flags",
            "flags/",
            vec![change("flags/a", Action::Create, Some(desired(1)), None)],
        );
        let mut second = scope(
            "config",
            "",
            vec![change(
                "app/url",
                Action::Delete { reason: DeleteReason::NotDesired },
                None,
                Some(ours(2)),
            )],
        );
        second.namespace_id = "9a8b7c6d5e4f30211203f4e5d6c7b8a9".into();
        let plan = Plan { scopes: vec![first, second], only: Vec::new(), refusals: Vec::new() };
        let mut views = ValueViews::new();
        views.insert(
            1,
            "app/url",
            value_view(Some(&LiveValue::Text("https://old".into())), None, false),
        );
        insta::assert_snapshot!(render(&plan, &views), @r#"
            ## kvsync plan: web-flags (staging)

            **Plan: 1 to create, 1 to delete.**

            Cost: 1 list request and 1 read request so far; apply will send 1 bulk write and 1 bulk delete (billed: 1 list, 2 reads, 1 write, 1 delete).

            ### Scope `flags` · namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` · prefix `flags/`

            | | Action | Keys |
            |:-:|:--|--:|
            | `+` | create | 1 |

            ### Scope `config` · namespace `9a8b7c6d5e4f30211203f4e5d6c7b8a9` · whole namespace

            | | Action | Keys |
            |:-:|:--|--:|
            | `-` | delete | 1 |

            ### Changes

            Scope `flags`:

            <details open><summary><code>+</code> create: 1 key</summary>

            - `+` `flags/a`

            </details>

            Scope `config`:

            <details open><summary><code>-</code> delete: 1 key</summary>

            - `-` `app/url`

              ```diff
              --- live
              +++ desired
              @@ -1 +0,0 @@
              -https://old
              ```

            </details>
        "#);
    }

    #[test]
    fn keys_and_values_cannot_break_the_markdown() {
        let keys = [
            "a`b",
            "``start",
            "x|y<script>alert(1)</script>",
            "line\n# heading",
            "@someone &amp; #1",
        ];
        let plan = Plan {
            only: Vec::new(),
            refusals: Vec::new(),
            scopes: vec![scope(
                "flags",
                "",
                keys.iter().map(|k| change(k, Action::Create, Some(desired(1)), None)).collect(),
            )],
        };
        let mut views = ValueViews::new();
        views.insert(0, "a`b", text(None, "```\n</details>\n````\n<img src=x onerror=alert(1)>"));
        let mut out = render(&plan, &views);
        // Only the key lines and the value block matter here.
        out = out.split("### Changes\n").nth(1).expect("a changes section").to_owned();
        insta::assert_snapshot!(out, @r#"

            <details open><summary><code>+</code> create: 5 keys</summary>

            - `+` ``a`b``

              `````diff
              --- live
              +++ desired
              @@ -0,0 +1,4 @@
              +```
              +</details>
              +````
              +<img src=x onerror=alert(1)>
              `````

            - `+` ``` ``start ```
            - `+` `x|y<script>alert(1)</script>`
            - `+` `line\n# heading`
            - `+` `@someone &amp; #1`

            </details>
        "#);
    }

    #[test]
    fn owners_from_live_markers_are_escaped() {
        let hostile = "x`<img src=x onerror=alert(1)>`";
        let plan = Plan {
            only: Vec::new(),
            refusals: Vec::new(),
            scopes: vec![scope(
                "flags",
                "",
                vec![change(
                    "k",
                    Action::Conflict { reason: ConflictReason::Owner(hostile.into()) },
                    Some(desired(1)),
                    None,
                )],
            )],
        };
        let mut plan = plan;
        plan.refusals = crate::plan::guards::check(&plan, &Default::default());
        let out = render(&plan, &ValueViews::new());
        let refusal: Vec<&str> = out.lines().filter(|l| l.starts_with(">   - ")).collect();
        assert_eq!(
            refusal,
            [
                ">   - `x` `k` (owned by `` x`<img src=x onerror=alert(1)>` ``)",
                ">   - hint: add the keys to the scope's `take_over:` globs (or pass `--take-over OWNER`), or remove them from the config",
            ]
        );
    }

    #[test]
    fn code_spans_and_prose() {
        assert_eq!(code("plain"), "`plain`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(code(" a "), "`  a  `");
        assert_eq!(code("a\nb"), "`a\\nb`");
        assert_eq!(code(""), "`\"\"`");
        assert_eq!(prose("web-flags (staging)"), "web-flags (staging)");
        assert_eq!(prose("<b>*x*</b> @me #1 a|b"), "\\<b\\>\\*x\\*\\</b\\> \\@me \\#1 a\\|b");
    }

    /// 5,000 changes with 1 KiB diffs: far over the budget.
    fn huge() -> (Plan, ValueViews) {
        let mut views = ValueViews::new();
        let changes = (0..5000)
            .map(|i| {
                let key = format!("flags/key-{i:04}");
                let old: String =
                    (0..32).map(|l| format!("line {l:02} old value {i:05}\n")).collect();
                let new: String =
                    (0..32).map(|l| format!("line {l:02} new value {i:05}\n")).collect();
                views.insert(0, key.clone(), text(Some(&old), &new));
                change(&key, Action::Update, Some(desired(1)), Some(ours(2)))
            })
            .collect();
        (
            Plan {
                scopes: vec![scope("flags", "flags/", changes)],
                only: Vec::new(),
                refusals: Vec::new(),
            },
            views,
        )
    }

    #[test]
    fn a_huge_plan_fits_the_budget_and_says_what_it_left_out() {
        let (plan, views) = huge();
        let out = render(&plan, &views);
        assert!(out.len() <= DEFAULT_BUDGET, "{}", out.len());
        assert!(out.len() > DEFAULT_BUDGET - 2_000, "uses the budget: {}", out.len());
        // The head is kept.
        assert!(out.contains("**Plan: 5000 to update.**"));
        assert!(out.contains("Cost: "));
        assert!(out.contains("| `~` | update | 5000 |"));
        // One collapsed group of the first 50 keys, the rest counted; the diffs that fit.
        assert!(out.contains("<details><summary><code>~</code> update: 5000 keys</summary>\n"));
        let shown = out.lines().filter(|l| l.starts_with("- `~` ")).count();
        assert_eq!(shown, GROUP_KEYS);
        assert!(out.contains("\n- … and 4950 more\n"), "{out}");
        let diffs = out.matches("<summary>Value diff</summary>").count();
        assert!(diffs > 10 && diffs < GROUP_KEYS, "{diffs}");
        assert!(out.ends_with(&format!(
            "Value diffs of {} changes are left out to fit the size limit (the full plan is in \
             the job log / `kvsync plan`).\n",
            GROUP_KEYS - diffs
        )));
    }

    /// A rendering larger than a comment (a job summary) lists every key of a group and the
    /// diffs that fit it; one of a comment's size still lists the first 50.
    #[test]
    fn a_rendering_larger_than_a_comment_lists_every_key() {
        let (mut plan, views) = huge();
        plan.scopes[0].changes.truncate(600);
        let cost = estimate(&plan, crate::report::cost::SoFar::default()).metered(true);
        let job_summary = 1_048_576;
        let report = Report::plan(&PlanReport::new(&plan, &views, &cost), "t", job_summary);
        let lines = |out: &str| out.lines().filter(|l| l.starts_with("- `~` ")).count();
        let out = report.render(job_summary, None);
        assert!(out.len() <= job_summary);
        assert_eq!(lines(&out), 600);
        assert!(!out.contains("more"), "{}", &out[out.len() - 500..]);
        // 600 diffs of 64 lines (about 1.8 KiB each) do not all fit in 1 MiB: those that do show.
        let diffs = out.matches("<summary>Value diff</summary>").count();
        assert!(diffs > 500 && diffs < 600, "{diffs}");
        let comment = report.render(DEFAULT_BUDGET, None);
        assert_eq!(lines(&comment), GROUP_KEYS);
        assert!(comment.contains("\n- … and 550 more\n"), "{comment}");
        // Built for a comment only, the report has no every-key layout to fall back on.
        let small = Report::plan(&PlanReport::new(&plan, &views, &cost), "t", DEFAULT_BUDGET);
        assert_eq!(lines(&small.render(job_summary, None)), GROUP_KEYS);
    }

    /// What the views of some keys add, weighed item by item, is what they add to the whole
    /// report: a reader of values can size its steps without laying the report out again.
    #[test]
    fn views_size_is_what_the_views_add_to_the_whole_report() {
        let (mut plan, views) = huge();
        plan.scopes[0].changes.truncate(120);
        let cost = estimate(&plan, crate::report::cost::SoFar::default()).metered(true);
        let budget = 1_048_576;
        let bare = ValueViews::new();
        let whole = |views: &ValueViews| {
            Report::plan(&PlanReport::new(&plan, views, &cost), "t", budget).whole_size(budget)
        };
        let keys: std::collections::HashSet<(usize, &str)> =
            plan.scopes[0].changes.iter().map(|c| (0, c.key.as_str())).collect();
        let added = views_size(&PlanReport::new(&plan, &views, &cost), &keys);
        assert!(added > 120 * 1_000, "{added}");
        assert_eq!(whole(&bare) + added, whole(&views));
    }

    #[test]
    fn diffs_are_dropped_before_change_lines() {
        let (mut plan, views) = huge();
        plan.scopes[0].changes.truncate(100);
        let out = render(&plan, &views);
        assert!(out.len() <= DEFAULT_BUDGET);
        assert_eq!(out.lines().filter(|l| l.starts_with("- `~` ")).count(), GROUP_KEYS);
        assert!(out.contains("\n- … and 50 more\n"), "{out}");
        let diffs = out.matches("<summary>Value diff</summary>").count();
        assert!(diffs > 10 && diffs < GROUP_KEYS, "{diffs}");
        assert!(out.ends_with(&format!(
            "\nValue diffs of {} changes are left out to fit the size limit (the full plan is in \
             the job log / `kvsync plan`).\n",
            GROUP_KEYS - diffs
        )));
        // Every block that is shown is whole (and the group's own).
        assert_eq!(out.matches("</details>").count(), diffs + 1);
    }

    #[test]
    fn the_budget_holds_at_every_size() {
        let (plan, views) = every_action();
        let cost = estimate(
            &plan,
            crate::report::cost::SoFar {
                list_requests: 1,
                read_requests: 1,
                billed_lists: 1,
                billed_reads: 2,
            },
        );
        let full = md(&plan, &views, &cost, &options(DEFAULT_BUDGET)).len();
        for budget in (0..full + 10).step_by(7) {
            let out = md(&plan, &views, &cost, &options(budget));
            assert!(out.len() <= budget, "{budget}: {}", out.len());
            // Collapsed blocks are shown whole or not at all.
            assert_eq!(out.matches("<details>").count(), out.matches("</details>").count());
        }
        let report = drift_report();
        for budget in (0..3000).step_by(11) {
            let out = render_drift(&report, &options(budget));
            assert!(out.len() <= budget, "{budget}: {}", out.len());
        }
    }

    #[test]
    fn a_drift_report() {
        let report = drift_report();
        let options = MarkdownOptions {
            title: "kvsync drift: web-flags (prod)".into(),
            budget: DEFAULT_BUDGET,
        };
        insta::assert_snapshot!(render_drift(&report, &options), @r#"
        ## kvsync drift: web-flags (prod)

        **Drift: 1 invalid, 2 missing, 1 changed, 1 modified, 1 conflict, 1 extra, 1 tampered.**

        Deep check: markers, values, user metadata and expirations compared.

        ### Scope `flags` · namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` · prefix `flags/`

        | Class | Keys |
        |:--|--:|
        | invalid | 1 |
        | missing | 1 |
        | changed | 1 |
        | modified | 1 |
        | conflict | 1 |
        | extra | 1 |
        | tampered | 1 |
        | in sync | 120 |
        | unmanaged (not counted) | 1 |
        | expired TTL (not counted) | 1 |

        ### Scope `config` · namespace `9a8b7c6d5e4f30211203f4e5d6c7b8a9` · whole namespace

        | Class | Keys |
        |:--|--:|
        | missing | 1 |
        | in sync | 3 |

        ### Drifted keys

        Scope `flags`:

        - **invalid** `flags/g` (breaks its schema at `/rollout`: "50%" is not of type "integer" (schema `schemas/flag.json#/properties/rollout/type`); value differs)
        - **missing** `flags/a`
        - **changed** `flags/b`
        - **modified** `flags/c`
        - **conflict** `flags/d` (owned by `other`)
        - **extra** `flags/e`
        - **tampered** `flags/f` (value differs)

        Scope `config`:

        - **missing** `app/url`

        <details><summary>1 unmanaged key left alone (not drift, not counted)</summary>

        - `flags/x` (scope `flags`)

        </details>

        <details><summary>1 TTL key absent, probably expired (a listing cannot tell; not counted)</summary>

        - `flags/session` (scope `flags`)

        </details>
        "#);
    }

    #[test]
    fn no_drift() {
        let mut report = drift_report();
        for scope in &mut report.scopes {
            scope.drifted.clear();
            scope.unmanaged.clear();
            scope.expired_ttl.clear();
        }
        report.scopes.truncate(1);
        report.deep = false;
        let options = MarkdownOptions { title: "kvsync drift".into(), budget: DEFAULT_BUDGET };
        insta::assert_snapshot!(render_drift(&report, &options), @"
        ## kvsync drift

        **No drift. 120 in sync.**

        Fast check: markers only; `kvsync drift --deep` also compares values.

        ### Scope `flags` · namespace `0f1e2d3c4b5a69788796a5b4c3d2e1f0` · prefix `flags/`

        | Class | Keys |
        |:--|--:|
        | in sync | 120 |
        ");
    }

    #[test]
    fn a_huge_drift_report_fits_and_keeps_its_tables() {
        let mut report = drift_report();
        let flags = &mut report.scopes[0];
        flags.drifted = (0..5000)
            .map(|i| crate::plan::drift::DriftedKey {
                key: format!("flags/key-{i:04}"),
                class: crate::plan::drift::DriftClass::Changed,
                detail: None,
            })
            .collect();
        flags.unmanaged = (0..5000).map(|i| format!("flags/other-{i:04}")).collect();
        let options = MarkdownOptions { title: "kvsync drift".into(), budget: DEFAULT_BUDGET };
        let out = render_drift(&report, &options);
        assert!(out.len() <= DEFAULT_BUDGET, "{}", out.len());
        assert!(
            out.contains("| changed | 5000 |")
                && out.contains("| unmanaged (not counted) | 5000 |")
        );
        let shown = out.lines().filter(|l| l.starts_with("- **changed** ")).count();
        assert!(shown > 1000, "{shown}");
        // The second scope's key comes after the 5,000, so it is among those left out.
        assert!(out.contains(&format!(
            "\n… {} more drifted keys not shown (the full report is in the job log / `kvsync \
             drift`).\n\n5000 unmanaged keys left alone (not drift, not counted); not listed here \
             to fit the size limit.\n",
            5001 - shown
        )));
    }

    #[test]
    fn a_namespace_id_is_printed_whole() {
        let (plan, views) = pull_request();
        assert!(render(&plan, &views).contains(NAMESPACE));
    }
}
