//! Markdown reports rendered for each size budget a run was given: stdout's (`--max-chars`) and
//! every `--markdown-out PATH:MAX_CHARS[:LABEL]`.
//!
//! A pull-request comment, a job summary and a step output each have a limit of their own, so
//! the report is laid out once and cut once per budget, here, never again by the action. A
//! rendering that leaves something out says how much, and where the whole report is: the
//! smallest larger rendering of the same run that holds all of it (named by its label), else
//! `--full-report-hint`, else the job log.
//!
//! A rendering larger than a comment (a job summary) lists every key it can, and the values its
//! diffs need are read here, in the order it lists them, while the diffs still fit its budget
//! ([`read_diffs`]): a billed read of a value no rendering shows is waste.

use std::collections::HashSet;

use crate::cli::args::MarkdownArgs;
use crate::cli::engine::{Planned, value_views};
use crate::cli::output::Printer;
use crate::cli::progress::Progress;
use crate::error::Error;
use crate::report::markdown::{DEFAULT_BUDGET, Report, views_size};
use crate::report::model::listed_in_order;
use crate::text::printable;

/// The budget whose rendering decides which values are read for diffs: the largest
/// `--markdown-out`, else stdout's. With `--markdown-out` files, stdout's rendering (the
/// Action's log) reads nothing of its own; it shows the diffs read for the files.
pub fn reads_budget(args: &MarkdownArgs) -> usize {
    args.markdown_out.iter().map(|out| out.max_chars).max().unwrap_or(args.max_chars)
}

/// The largest budget of a run's renderings (stdout's and every `--markdown-out`).
pub fn largest_budget(args: &MarkdownArgs) -> usize {
    args.markdown_out.iter().map(|out| out.max_chars).fold(args.max_chars, usize::max)
}

/// The most values one step reads. A step is sized from what the diffs so far cost: half of
/// what would fill the room left, so the room halves at each step and the last step, of a value
/// or two, overshoots by at most those.
const STEP_MAX: usize = 1000;
/// Characters kept free for what a step changes besides its diffs (the cost line's numbers).
const MARGIN: usize = 256;

/// Reads, for a rendering of `budget` characters larger than a comment's, the values of the
/// changes it lists beyond the first [`crate::report::markdown::GROUP_KEYS`] of each group
/// (those the engine read already), in the order it lists them, a step at a time, and stops
/// once the whole report no longer fits: the diffs read are the diffs shown, but for the last
/// step's that do not fit. Nothing is read when even the key lines do not fit.
pub async fn read_diffs(
    planned: &mut Planned,
    budget: usize,
    title: &str,
    printer: &Printer,
) -> Result<(), Error> {
    if budget <= DEFAULT_BUDGET {
        return Ok(());
    }
    // Only puts get a value view.
    let puts: HashSet<(usize, &str)> = (planned.plan.scopes.iter().enumerate())
        .flat_map(|(index, scope)| {
            scope.changes.iter().filter(|c| c.action.is_put()).map(move |c| (index, c.key.as_str()))
        })
        .collect();
    let pending: Vec<(usize, String)> = listed_in_order(&planned.plan, usize::MAX)
        .into_iter()
        .filter(|listed| puts.contains(listed) && planned.views.get(listed.0, listed.1).is_none())
        .map(|(index, key)| (index, key.to_owned()))
        .collect();
    // The whole report once; then what each step's views add to it.
    let cost = planned.cost();
    let mut before = Report::plan(&planned.report(&cost), title, budget).whole_size(budget);
    let mut per_key: Option<usize> = None;
    let mut next = 0;
    let progress = Progress::new(printer, "reading values", "values", None);
    while next < pending.len() && before + MARGIN < budget {
        let room = budget - before - MARGIN;
        let take = per_key.map_or(100, |cost| room / cost.max(1) / 2).clamp(1, STEP_MAX);
        let step = &pending[next..pending.len().min(next + take)];
        let wanted: HashSet<(usize, &str)> =
            step.iter().map(|(index, key)| (*index, key.as_str())).collect();
        let on_read = |read: usize, _total: usize| progress.inc(read as u64);
        let read =
            value_views(&planned.store, &planned.desired, &planned.plan, Some(&wanted), &on_read)
                .await?;
        for (key, reason) in &read.unreadable {
            printer.warn(&format!(
                "the live value of `{}` could not be read, so its diff is not shown: {reason}",
                printable(key)
            ));
        }
        planned.views.extend(read.views);
        match planned.store.requests() {
            Some(requests) => {
                planned.list_requests = requests.list;
                planned.read_requests = requests.read;
                planned.billed_lists = requests.billed_lists;
                planned.billed_reads = requests.billed_reads;
            }
            None => planned.billed_reads += read.keys_read,
        }
        let cost = planned.cost();
        let added = views_size(&planned.report(&cost), &wanted);
        per_key = Some(added.div_ceil(step.len()));
        next += step.len();
        before += added;
    }
    progress.finish();
    Ok(())
}

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
