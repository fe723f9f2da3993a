//! What an apply did, for people: totals, then every failure with its reason.

use std::fmt::Write as _;

use super::style::Style;
use crate::apply::Report;
use crate::report::json::PlanDocument;
use crate::text::{counted, printable};

/// Renders an apply report. A complete run is one line; an incomplete one lists each failed key
/// (the first 50 per scope) and how many changes were never attempted.
pub fn render_report(report: &Report, color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    let (written, deleted) = (report.written(), report.deleted());
    if report.is_complete() {
        let _ = writeln!(
            out,
            "{} {written} written, {deleted} deleted.",
            style.bold("Apply complete:")
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} {written} written, {deleted} deleted, {} failed, {} not attempted{}.",
        style.removed("Apply incomplete:"),
        report.failed(),
        report.not_attempted(),
        if report.interrupted { " (interrupted)" } else { "" },
    );
    for scope in &report.scopes {
        if scope.failed.is_empty() && scope.not_attempted == 0 {
            continue;
        }
        let _ = writeln!(out, "scope `{}`:", printable(&scope.name));
        for failure in scope.failed.iter().take(50) {
            let (key, reason) = (printable(&failure.key), printable(&failure.reason));
            let _ = writeln!(out, "  {} {key}: {reason}", style.removed("x"));
        }
        if scope.failed.len() > 50 {
            let more = counted(scope.failed.len() - 50, "more failed key", "more failed keys");
            let _ = writeln!(out, "  … and {more}");
        }
        if scope.not_attempted > 0 {
            let changes = counted(scope.not_attempted, "change", "changes");
            let _ = writeln!(out, "  {changes} not attempted");
        }
    }
    out
}

/// The versioned JSON of `apply --format json`: the plan that was applied and what happened.
#[derive(Debug, serde::Serialize)]
struct ApplyDocument<'a> {
    format_version: &'static str,
    kind: &'static str,
    plan: &'a PlanDocument,
    result: ResultDto<'a>,
}

#[derive(Debug, serde::Serialize)]
struct ResultDto<'a> {
    complete: bool,
    interrupted: bool,
    written: usize,
    deleted: usize,
    failed: Vec<FailureDto<'a>>,
    not_attempted: usize,
}

#[derive(Debug, serde::Serialize)]
struct FailureDto<'a> {
    scope: &'a str,
    key: &'a str,
    reason: &'a str,
}

/// Renders `apply --format json` (pretty, with a final newline).
pub fn render_report_json(plan: &PlanDocument, report: &Report) -> String {
    let failed = report
        .scopes
        .iter()
        .flat_map(|s| {
            s.failed.iter().map(|f| FailureDto { scope: &s.name, key: &f.key, reason: &f.reason })
        })
        .collect();
    let document = ApplyDocument {
        format_version: crate::report::json::FORMAT_VERSION,
        kind: "apply",
        plan,
        result: ResultDto {
            complete: report.is_complete(),
            interrupted: report.interrupted,
            written: report.written(),
            deleted: report.deleted(),
            failed,
            not_attempted: report.not_attempted(),
        },
    };
    serde_json::to_string_pretty(&document)
        .map_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"), |s| s + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{Failure, ScopeReport};

    #[test]
    fn complete_and_incomplete_reports() {
        let mut report = Report {
            scopes: vec![ScopeReport {
                name: "flags".into(),
                written: vec!["a".into(), "b".into()],
                deleted: vec!["c".into()],
                failed: Vec::new(),
                not_attempted: 0,
            }],
            interrupted: false,
        };
        insta::assert_snapshot!(render_report(&report, false), @"Apply complete: 2 written, 1 deleted.");
        report.scopes[0].failed.push(Failure { key: "d".into(), reason: "value too large".into() });
        report.scopes[0].not_attempted = 3;
        report.interrupted = true;
        insta::assert_snapshot!(render_report(&report, false), @r"
        Apply incomplete: 2 written, 1 deleted, 1 failed, 3 not attempted (interrupted).
        scope `flags`:
          x d: value too large
          3 changes not attempted
        ");
        // Keys and reasons come from users and servers: nothing in them reaches the terminal raw.
        report.scopes[0].failed[0].key = "d\u{1b}[2J".into();
        report.scopes[0].not_attempted = 1;
        insta::assert_snapshot!(render_report(&report, false), @r"
        Apply incomplete: 2 written, 1 deleted, 1 failed, 1 not attempted (interrupted).
        scope `flags`:
          x d\u{1b}[2J: value too large
          1 change not attempted
        ");
    }
}
