//! Markdown reports rendered for each size budget a run was given: stdout's (`--max-chars`) and
//! every `--markdown-out PATH:MAX_CHARS[:LABEL]`.
//!
//! A pull-request comment, a job summary and a step output each have a limit of their own, so
//! the report is laid out once and cut once per budget, here, never again by the action. A
//! rendering that leaves something out says how much, and where the whole report is: the
//! smallest larger rendering of the same run that holds all of it (named by its label), else
//! `--full-report-hint`, else the job log.

use crate::cli::args::MarkdownArgs;
use crate::error::Error;
use crate::report::markdown::Report;

/// What a report is called in the note of a cut rendering: "plan" or "report".
#[derive(Debug, Clone, Copy)]
pub enum Noun {
    Plan,
    Report,
}

/// Writes every `--markdown-out` file, and returns stdout's rendering when `stdout` is set.
pub fn render(
    report: &Report,
    args: &MarkdownArgs,
    noun: Noun,
    stdout: bool,
) -> Result<Option<String>, Error> {
    // Every rendering of this run and its label, so each can point at a larger complete one.
    let budgets: Vec<(usize, Option<&str>)> = args
        .markdown_out
        .iter()
        .map(|out| (out.max_chars, out.label.as_deref()))
        .chain(stdout.then_some((args.max_chars, None)))
        .collect();
    let where_full = |budget: usize| -> Option<String> {
        let larger_whole = budgets
            .iter()
            .filter(|(other, label)| *other > budget && label.is_some() && report.fits(*other))
            .min_by_key(|(other, _)| *other)
            .and_then(|(_, label)| *label);
        match (larger_whole, &args.full_report_hint) {
            (Some(label), _) => Some(format!("the whole report is in {label}")),
            (None, Some(hint)) => Some(match noun {
                Noun::Plan => format!("the full plan is in {hint}"),
                Noun::Report => format!("the full report is in {hint}"),
            }),
            (None, None) => None,
        }
    };
    for out in &args.markdown_out {
        let text = report.render(out.max_chars, where_full(out.max_chars).as_deref());
        // A link at the path is followed only when it points inside the current folder.
        crate::fs::write(&out.path, text.as_bytes(), std::path::Path::new("."))?;
    }
    Ok(stdout.then(|| report.render(args.max_chars, where_full(args.max_chars).as_deref())))
}
