//! `kvsync drift`: compare the namespaces with the config; exit 2 when they differ.
//!
//! The fast check is the plan's classification turned into drift classes (markers only, no value
//! read). `--deep` then reads the values of the keys the fast check found in sync (the only ones
//! that can still differ) and compares bytes, user metadata and absolute expiration directly, to
//! catch hand edits that kept the marker. It says what that costs before it starts. The
//! comparisons are pure (`plan::drift`); this file does the I/O and the rendering.

use std::fmt::Write as _;

use crate::cli::args::{DriftArgs, DriftFormat};
use crate::cli::engine::{self, Access};
use crate::cli::exit::ExitStatus;
use crate::cli::markdown_out::{self, Noun};
use crate::cli::output::Printer;
use crate::config::Desired;
use crate::config::desired::UserMetadata;
use crate::error::Error;
use crate::kv::Store;
use crate::kv::read::ReadCost;
use crate::kv::{self, KvStore as _, LiveValue, ReadHint};
use crate::plan::drift::{self, DriftReport};
use crate::plan::{self, LiveScope, Options, Plan, compare};
use crate::report;
use crate::report::markdown;
use crate::report::style::Style;
use crate::text::{counted, printable};

pub async fn run(args: &DriftArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let context = &engine::Context::new(&args.target)?;
    let now = context.now;
    let engine::Listed { desired, store, live, .. } =
        engine::load_and_list(&args.config, context, Access::Read, printer).await?;
    // Drift always looks at every key: no `--only`, and no `--take-over` that would turn a
    // conflict into something apply may resolve.
    let options = Options {
        owner: desired.owner.clone(),
        now,
        take_over_owner: None,
        only: None,
        guards: crate::plan::guards::Guards::default(),
    };
    let plan = plan::plan(&desired, &live, &options);
    for scope in &plan.scopes {
        for warning in &scope.warnings {
            printer.warn(&format!("`{}`: {}", printable(&warning.key), warning.message));
        }
    }
    let mut report = drift::from_plan(&plan, &desired);
    // The deep check keeps the value of each key whose bytes differ, for the Markdown's diffs.
    let mut views = report::values::ValueViews::new();
    let unreadable = if args.deep {
        deep_check(&store, &desired, &plan, &live, &mut report, &mut views, printer).await?
    } else {
        Vec::new()
    };

    let environment = desired.environment.as_deref();
    let title = match environment {
        Some(environment) => format!("kvsync drift: {} ({environment})", desired.owner),
        None => format!("kvsync drift: {}", desired.owner),
    };
    let markdown = (args.format == DriftFormat::Markdown || !args.markdown.markdown_out.is_empty())
        .then(|| markdown::Report::drift_with_values(&report, &views, &title))
        .map(|md| {
            let stdout = args.format == DriftFormat::Markdown;
            markdown_out::render(&md, &args.markdown, Noun::Report, stdout)
        })
        .transpose()?
        .flatten();
    let text = match args.format {
        DriftFormat::Human => {
            let mut text = String::new();
            if let Some(environment) = environment {
                let style = Style::new(printer.stdout_color);
                let line = format!("Environment: {}", printable(environment));
                let _ = writeln!(text, "{}\n", style.bold(&line));
            }
            text.push_str(&report::drift::render_human(&report, printer.stdout_color));
            text
        }
        DriftFormat::Json => {
            report::json::render_drift(&report::json::drift_document(&report, environment))
        }
        DriftFormat::Markdown => markdown.unwrap_or_default(),
    };
    printer.data(&text);
    if let Some(summary) = store.request_summary() {
        printer.verbose(&summary);
    }
    store.close()?;
    // A value that could not be read is neither in sync nor drifted: the report shows the
    // rest, and the run fails naming those keys.
    if !unreadable.is_empty() {
        return Err(Error::Unreadable { keys: unreadable });
    }
    Ok(if report.has_drift() { ExitStatus::Changes } else { ExitStatus::Success })
}

/// Reads the values of every key in sync and records what differs (DESIGN.md §3, deep check);
/// returns the keys whose values could not be read, each with why.
///
/// Every value is compared byte for byte, so every key asks for its exact bytes: a target
/// whose text reads drop a leading U+FEFF (Cloudflare's bulk get) reads them one by one, so a
/// byte order mark added by hand is found; each value is read once ([`kv::read`]).
async fn deep_check(
    store: &Store,
    desired: &Desired,
    plan: &Plan,
    live: &[LiveScope],
    report: &mut DriftReport,
    views: &mut report::values::ValueViews,
    printer: &Printer,
) -> Result<Vec<(String, String)>, Error> {
    report.deep = true;
    // Per scope: the keys in sync, with their desired entries and listings.
    let mut scopes = Vec::new();
    let mut all_hints = Vec::new();
    for (scope_index, scope) in desired.scopes.iter().enumerate() {
        let (Some(scope_plan), Some(listing)) =
            (plan.scopes.get(scope_index), live.get(scope_index))
        else {
            continue;
        };
        let in_sync = drift::in_sync_keys(scope_plan, scope, listing);
        let hints: Vec<ReadHint> = in_sync
            .iter()
            .map(|(_, _, listed)| ReadHint { exact: true, listed_expiration: listed.expiration })
            .collect();
        all_hints.extend_from_slice(&hints);
        scopes.push((scope_index, scope, in_sync, hints));
    }
    let binary = scopes.iter().flat_map(|(_, _, keys, _)| keys).filter(|(_, e, _)| !e.is_text);
    printer.info(&cost_line(ReadCost::of(store.capabilities(), &all_hints), binary.count()));

    let mut unreadable = Vec::new();
    for (scope_index, scope, in_sync, hints) in scopes {
        let names: Vec<String> = in_sync.iter().map(|(key, _, _)| (*key).to_owned()).collect();
        let values =
            kv::read::read_values(store, &scope.namespace_id, &names, &hints, &|_| {}).await?;
        for ((key, entry, listed), value) in in_sync.into_iter().zip(&values) {
            if let LiveValue::Unreadable(reason) = value {
                unreadable.push((key.to_owned(), reason.clone()));
                continue;
            }
            let bytes = engine::read_value(entry)?;
            let differences = compare::compare(
                &bytes,
                entry.metadata.as_ref().map(UserMetadata::to_map).as_ref(),
                entry.expiration,
                value,
                listed,
            );
            let sensitive = entry.sensitive || listed.metadata.is_marked_sensitive();
            if differences.contains(&compare::Difference::Value) {
                let view = report::values::value_view(Some(value), Some(&bytes), sensitive);
                views.insert(scope_index, key, view);
            }
            let violations = drift::schema_violations(scope, key, value, sensitive, &differences);
            drift::add_deep_findings(
                report,
                scope_index,
                key,
                entry.expiration,
                &differences,
                &violations,
            );
        }
    }
    Ok(unreadable)
}

/// What the deep check is about to cost, printed before it starts: the bulk gets, and the
/// single GETs of values whose exact bytes a bulk get would not give (binary values; on a
/// target whose text reads drop a leading U+FEFF, every value).
fn cost_line(cost: ReadCost, binary: usize) -> String {
    if cost.keys == 0 {
        return "deep check: no keys in sync, so no values to read".to_owned();
    }
    let keys = counted(cost.keys, "key", "keys");
    let mut line = format!("deep check: reading the values of {keys} in sync: ");
    let singles = counted(cost.single_gets, "single GET", "single GETs");
    if cost.bulk_gets == 0 && cost.single_gets > 0 {
        // Every value read alone: the target's text reads are not exact.
        let _ = write!(line, "{singles} (a bulk get would drop a leading byte order mark)");
        return line;
    }
    line.push_str(&counted(cost.bulk_gets, "bulk get request", "bulk get requests"));
    if cost.single_gets > 0 {
        let why = if cost.single_gets == binary { "binary values" } else { "exact bytes" };
        let _ = write!(line, " (+ {singles} for {why})");
    }
    line
}
