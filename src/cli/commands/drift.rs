//! `kvsync drift`: compare the namespaces with the config; exit 2 when they differ.
//!
//! The fast check is the plan's classification turned into drift classes (markers only, no value
//! read). `--deep` then reads the values of the keys the fast check found in sync (the only ones
//! that can still differ) and compares bytes, user metadata and absolute expiration directly, to
//! catch hand edits that kept the marker. It says what that costs before it starts. The
//! comparisons are pure (`plan::drift`); this file does the I/O and the rendering.

use std::fmt::Write as _;

use crate::cli::args::{DriftArgs, PlanFormat};
use crate::cli::engine::{self, Access};
use crate::cli::exit::ExitStatus;
use crate::cli::markdown_out::{self, Noun};
use crate::cli::output::Printer;
use crate::config::desired::UserMetadata;
use crate::config::{Desired, DesiredEntry};
use crate::error::Error;
use crate::kv::Store;
use crate::kv::{BULK_GET_MAX, KvStore, ListedKey, LiveValue, ReadHint};
use crate::plan::drift::{self, DriftReport};
use crate::plan::{self, LiveScope, Options, Plan};
use crate::report;
use crate::report::markdown;
use crate::report::style::Style;
use crate::report::text::{counted, printable};

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
    let markdown = (args.format == PlanFormat::Markdown || !args.markdown.markdown_out.is_empty())
        .then(|| markdown::Report::drift_with_values(&report, &views, &title))
        .map(|md| {
            let stdout = args.format == PlanFormat::Markdown;
            markdown_out::render(&md, &args.markdown, Noun::Report, stdout)
        })
        .transpose()?
        .flatten();
    let text = match args.format {
        PlanFormat::Human => {
            let mut text = String::new();
            if let Some(environment) = environment {
                let style = Style::new(printer.stdout_color);
                let line = format!("Environment: {}", printable(environment));
                let _ = writeln!(text, "{}\n", style.bold(&line));
            }
            text.push_str(&report::drift::render_human(&report, printer.stdout_color));
            text
        }
        PlanFormat::Json => {
            report::json::render_drift(&report::json::drift_document(&report, environment))
        }
        PlanFormat::Markdown => markdown.unwrap_or_default(),
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

/// The keys one bulk-get batch reads, all from one scope.
struct Batch<'a> {
    scope_index: usize,
    namespace_id: &'a str,
    keys: Vec<(&'a str, &'a DesiredEntry, &'a ListedKey)>,
}

/// Reads the values of every key in sync and records what differs (DESIGN.md §3, deep check);
/// returns the keys whose values could not be read, each with why.
///
/// Keys whose desired value is binary go into batches of their own, read with single GETs
/// (bulk get is documented for text values only), so they never drag text keys along.
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
    let mut batches: Vec<Batch<'_>> = Vec::new();
    let (mut keys, mut binary, mut bulk_gets) = (0usize, 0usize, 0usize);
    for (scope_index, scope) in desired.scopes.iter().enumerate() {
        let (Some(scope_plan), Some(listing)) =
            (plan.scopes.get(scope_index), live.get(scope_index))
        else {
            continue;
        };
        let in_sync = drift::in_sync_keys(scope_plan, scope, listing);
        keys += in_sync.len();
        let (text, bytes): (Vec<_>, Vec<_>) =
            in_sync.into_iter().partition(|(_, entry, _)| entry.is_text);
        binary += bytes.len();
        bulk_gets += text.len().div_ceil(BULK_GET_MAX);
        for group in [text, bytes] {
            for chunk in group.chunks(BULK_GET_MAX) {
                let keys = chunk.to_vec();
                batches.push(Batch { scope_index, namespace_id: &scope.namespace_id, keys });
            }
        }
    }
    printer.info(&cost_line(keys, bulk_gets, binary));

    let mut unreadable = Vec::new();
    for batch in &batches {
        let names: Vec<String> = batch.keys.iter().map(|(key, _, _)| (*key).to_owned()).collect();
        let desired_bytes: Vec<Vec<u8>> = batch
            .keys
            .iter()
            .map(|(_, entry, _)| engine::read_value(entry))
            .collect::<Result<_, _>>()?;
        // Binary values, which bulk get does not return, and values that begin with a byte
        // order mark, which a text read drops, are read as bytes.
        let hints: Vec<ReadHint> = batch
            .keys
            .iter()
            .zip(&desired_bytes)
            .map(|((_, entry, listed), bytes)| ReadHint {
                exact: !entry.is_text || bytes.starts_with(engine::BOM),
                listed_expiration: listed.expiration,
            })
            .collect();
        let values = store.read_values(batch.namespace_id, &names, &hints).await?;
        for (((key, entry, listed), value), bytes) in
            batch.keys.iter().zip(&values).zip(desired_bytes)
        {
            if let LiveValue::Unreadable(reason) = value {
                unreadable.push(((*key).to_owned(), reason.clone()));
                continue;
            }
            let differences = drift::compare_deep(
                &bytes,
                entry.metadata.as_ref().map(UserMetadata::to_map).as_ref(),
                entry.expiration,
                value,
                listed,
            );
            let sensitive = entry.sensitive || listed.metadata.is_marked_sensitive();
            if differences.contains(&drift::Difference::Value) {
                let view = report::values::value_view(Some(value), Some(&bytes), sensitive);
                views.insert(batch.scope_index, *key, view);
            }
            let scope = &desired.scopes[batch.scope_index];
            let violations = drift::schema_violations(scope, key, value, sensitive, &differences);
            drift::add_deep_findings(
                report,
                batch.scope_index,
                key,
                entry.expiration,
                &differences,
                &violations,
            );
        }
    }
    Ok(unreadable)
}

/// What the deep check is about to cost, printed before it starts.
fn cost_line(keys: usize, bulk_gets: usize, binary: usize) -> String {
    if keys == 0 {
        return "deep check: no keys in sync, so no values to read".to_owned();
    }
    let mut line = format!(
        "deep check: reading the values of {} in sync: {}",
        counted(keys, "key", "keys"),
        counted(bulk_gets, "bulk get request", "bulk get requests")
    );
    if binary > 0 {
        let _ =
            write!(line, " (+ {} for binary values)", counted(binary, "single GET", "single GETs"));
    }
    line
}
