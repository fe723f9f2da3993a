//! `kvsync diff --format markdown`: two environments compared, for a pull-request comment or a
//! job summary, within a size budget like the plan and drift reports. Every name from the
//! config or KV goes through [`code`] or [`prose`]; a value diff sits in a collapsed block with a
//! fence longer than any backtick run in it ([`diff_block`]), dropped first when space is short.

use std::fmt::Write as _;

use super::escape::prose_with_code;
use super::layout::{Item, Layout, Section};
use super::{Report, code, diff_block, opaque, prose};
use crate::plan::envdiff::{KeyDiff, ScopeDiff, Status};
use crate::report::envdiff::{
    DiffReport, attributes, marker, mode_line, note, only_line, summary_line,
};
use crate::report::model::place;
use crate::report::text::counted;
use crate::report::values::{TextComparison, ValueView, compare_text_between};

/// Where a cut report points by default.
const WHERE_FULL: &str = "the full report is in the job log / `kvsync diff`";

impl Report {
    /// The comparison of two environments (`kvsync diff`).
    pub fn env_diff(report: &DiffReport<'_>, title: &str) -> Self {
        Self { capped: layout(report, title), every_key: None }
    }
}

fn layout(report: &DiffReport<'_>, title: &str) -> Layout<'static> {
    let diff = report.diff;
    let mut head = format!(
        "## {}\n\n**{}**\n\n{}\n",
        prose(title),
        summary_line(diff, &|name| prose(name)),
        mode_line(diff, &|name| code(name))
    );
    if let Some(only) = only_line(diff, &|glob| code(glob)) {
        let _ = writeln!(head, "\n{only}");
    }
    let lone: Vec<&ScopeDiff> = diff.scopes.iter().filter(|s| s.only_in().is_some()).collect();
    if !lone.is_empty() {
        head.push('\n');
        for scope in lone {
            let (side, at) = match (&scope.left, &scope.right) {
                (Some(at), None) => (&diff.left, at),
                (_, Some(at)) => (&diff.right, at),
                (None, None) => continue,
            };
            let _ = writeln!(
                head,
                "- Scope {} only in {} ({}, {}): {}",
                code(&scope.name),
                code(side),
                match &at.unresolved {
                    Some(how) => prose_with_code(how),
                    None => format!("namespace {}", code(&at.namespace_id)),
                },
                place(&at.prefix, code),
                counted(scope.lone_keys, "key", "keys")
            );
        }
    }
    let labelled = diff.scopes.iter().filter(|s| !s.keys.is_empty()).count() > 1;
    let mut sections = Vec::new();
    for (index, scope) in diff.scopes.iter().enumerate() {
        if scope.keys.is_empty() {
            continue;
        }
        let mut heading = String::new();
        if sections.is_empty() {
            heading.push_str("### Keys that differ\n");
        }
        if labelled {
            if !heading.is_empty() {
                heading.push('\n');
            }
            let _ = writeln!(heading, "Scope {}:", code(&scope.name));
        }
        let items = scope.keys.iter().map(|key| key_item(report, index, key)).collect();
        sections.push(Section::plain(heading, items));
    }
    Layout {
        head,
        sections,
        trailers: Vec::new(),
        nouns: ("key", "keys"),
        where_full: WHERE_FULL.into(),
    }
}

/// One differing key: its marker, its attributes and, when its value differs, the value diff.
fn key_item(report: &DiffReport<'_>, index: usize, key: &KeyDiff) -> Item {
    let diff = report.diff;
    let mut lines = format!(
        "- `{}` {} ({})\n",
        marker(&key.status),
        code(&key.key),
        note(diff, key, &|name| code(name))
    );
    for attribute in attributes(key) {
        let text = if attribute.literal { code(&attribute.text) } else { prose(&attribute.text) };
        let _ = writeln!(lines, "  - {}: {text}", attribute.label);
    }
    let mut details = None;
    let view = report.views.get(index, &key.key);
    let view = if key.sensitive && matches!(key.status, Status::Differs(_)) {
        Some(&ValueView::Sensitive)
    } else {
        view
    };
    match view {
        Some(ValueView::Sensitive) => lines.push_str("  - value: (sensitive)\n"),
        Some(ValueView::Opaque { live, desired }) => {
            if let Some(line) = opaque(live.as_ref(), desired.as_ref()) {
                let _ = writeln!(lines, "  - {line}");
            }
        }
        Some(ValueView::Text { live, desired }) => {
            let labels = (diff.left.as_str(), diff.right.as_str());
            if let TextComparison::Diff(text) =
                compare_text_between(live.as_deref(), desired.as_deref(), labels)
            {
                details = Some(diff_block(&text, false));
            }
        }
        Some(ValueView::MarkerOnly) | None => {}
    }
    Item { lines, details }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::LiveValue;
    use crate::plan::envdiff::{Aspect, EnvDiff, KeyDiff, Mode, Place};
    use crate::report::values::{ValueViews, value_view};

    fn report_of(keys: usize) -> (EnvDiff, ValueViews) {
        let at =
            Some(Place { namespace_id: "ns".to_owned(), unresolved: None, prefix: String::new() });
        let mut views = ValueViews::new();
        let keys: Vec<KeyDiff> = (0..keys)
            .map(|i| {
                let key = format!("f/{i:04}");
                let old = LiveValue::Text(format!("{i}\n").repeat(20));
                views.insert(0, key.clone(), value_view(Some(&old), Some(b"new\n"), false));
                KeyDiff {
                    key,
                    status: Status::Differs(vec![Aspect::Value]),
                    sensitive: false,
                    sides: None,
                }
            })
            .chain([KeyDiff {
                key: "f/secret".to_owned(),
                status: Status::Differs(vec![Aspect::Value]),
                sensitive: true,
                sides: None,
            }])
            .collect();
        let diff = EnvDiff {
            left: "staging".to_owned(),
            right: "production".to_owned(),
            mode: Mode::Desired,
            scopes: vec![ScopeDiff {
                name: "flags".to_owned(),
                left: at.clone(),
                right: at,
                keys,
                equal: 1,
                lone_keys: 0,
            }],
            only: Vec::new(),
        };
        (diff, views)
    }

    #[test]
    fn fits_its_budget_and_never_shows_a_secret() {
        let (diff, views) = report_of(300);
        let report = Report::env_diff(&DiffReport { diff: &diff, views: &views }, "t");
        let whole = report.render(usize::MAX, None);
        assert!(whole.contains("- `~` `f/secret` (value differs)\n  - value: (sensitive)\n"));
        assert!(whole.contains("  --- staging\n  +++ production\n"), "{whole}");
        for budget in [2_000, 10_000, 65_536] {
            let cut = report.render(budget, None);
            assert!(cut.len() <= budget, "{budget}: {}", cut.len());
            assert!(cut.contains("**301 differ, 1 equal.**"), "the summary stays: {cut}");
        }
        // `fits` may count a few separators more than a rendering writes (`Layout::cost`).
        assert!(!report.fits(10_000) && report.fits(whole.len() + 64), "{}", whole.len());
        assert_eq!(diff.counts().differ, 301);
    }
}
