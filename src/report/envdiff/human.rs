//! `kvsync diff` for people: a header (the environments, the summary line, what was compared),
//! then one block per scope that differs: its keys with a marker column and, under a differing
//! value, the value diff as the plan shows one, headed with the two environments' names. Every
//! name from the config or KV goes through [`printable`]; with colour off the text holds no
//! escape.

use std::fmt::Write as _;

use super::{DiffReport, attributes, marker, mode_line, note, only_line, summary_line};
use crate::plan::envdiff::{Place, ScopeDiff, Status};
use crate::report::human::render_view_between;
use crate::report::model::place;
use crate::report::style::Style;
use crate::report::text::{counted, printable};

/// Renders the whole comparison; the text ends with a newline.
pub fn render(report: &DiffReport<'_>, color: bool) -> String {
    let style = Style::new(color);
    let diff = report.diff;
    let name = |n: &str| printable(n).into_owned();
    let quoted = |n: &str| format!("`{}`", printable(n));
    let mut out = String::new();
    let title = format!("Environments: {} → {}", name(&diff.left), name(&diff.right));
    let _ = writeln!(out, "{}", style.bold(&title));
    let _ = writeln!(out, "{}", style.bold(&summary_line(diff, &name)));
    let _ = writeln!(out, "{}", mode_line(diff, &quoted));
    if let Some(only) = only_line(diff, &quoted) {
        let _ = writeln!(out, "{only}");
    }
    let labels = (name(&diff.left), name(&diff.right));
    for (index, scope) in diff.scopes.iter().enumerate() {
        if scope.keys.is_empty() && scope.only_in().is_none() {
            continue;
        }
        out.push('\n');
        let _ = writeln!(out, "{}", style.bold(&heading(report, scope)));
        if scope.only_in().is_some() {
            continue;
        }
        for key in &scope.keys {
            let sign = marker(&key.status).to_string();
            let sign = match key.status {
                Status::Differs(_) => style.changed(&sign),
                Status::OnlyIn(crate::plan::envdiff::Side::Left) => style.removed(&sign),
                Status::OnlyIn(crate::plan::envdiff::Side::Right) => style.added(&sign),
                Status::NotCompared => style.info(&sign),
            };
            let _ = writeln!(out, "  {sign} {} ({})", printable(&key.key), note(diff, key, &name));
            for attribute in attributes(key) {
                let _ = writeln!(out, "      {}: {}", attribute.label, printable(&attribute.text));
            }
            if let Some(view) = report.views.get(index, &key.key) {
                render_view_between(&mut out, view, style, (&labels.0, &labels.1));
            }
        }
    }
    out
}

/// `scope `flags` (staging: namespace …, prefix "f/"; production: …)`, or for a scope on one
/// side only, where it is and how many keys it holds there.
fn heading(report: &DiffReport<'_>, scope: &ScopeDiff) -> String {
    let diff = report.diff;
    let at = |p: &Place| {
        let place = place(&p.prefix, |prefix| format!("{prefix:?}"));
        match &p.unresolved {
            Some(how) => format!("{}, {place}", printable(how)),
            None => format!("namespace {}, {place}", printable(&p.namespace_id)),
        }
    };
    let name = printable(&scope.name);
    match (&scope.left, &scope.right) {
        (Some(l), Some(r)) if l == r => format!("scope `{name}` ({})", at(l)),
        (Some(l), Some(r)) => format!(
            "scope `{name}` ({}: {}; {}: {})",
            printable(&diff.left),
            at(l),
            printable(&diff.right),
            at(r)
        ),
        (Some(p), None) | (None, Some(p)) => {
            let side = if scope.left.is_some() { &diff.left } else { &diff.right };
            format!(
                "scope `{name}` only in {} ({}): {}",
                printable(side),
                at(p),
                counted(scope.lone_keys, "key", "keys")
            )
        }
        (None, None) => format!("scope `{name}`"),
    }
}
