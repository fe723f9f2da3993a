//! `kvsync diff --env A --env B`: what differs between two environments (issue 28); exit 2 when
//! anything does.
//!
//! By default the two desired states are compared (no store, no account: it works in a pull
//! request); `--live` lists both environments' namespaces, each on its own target and account,
//! and compares the content hashes in the markers; `--deep` also reads every value on both
//! sides. The comparisons are pure (`plan::envdiff`); this file loads, lists and reads, and
//! prepares the value views for the formatters.

use std::collections::HashMap;

use crate::cli::args::{ConfigArgs, DiffArgs, PlanFormat};
use crate::cli::engine::{self, Access, Context};
use crate::cli::exit::ExitStatus;
use crate::cli::markdown_out::{self, Noun};
use crate::cli::output::Printer;
use crate::config::{Desired, DesiredEntry, Globs};
use crate::error::Error;
use crate::kv::{self, BULK_GET_MAX, ListedKey, LiveValue, ReadHint, Store};
use crate::plan::LiveScope;
use crate::plan::envdiff::{
    self, Aspect, DesiredReads, EnvDiff, LiveReads, LiveSide, Status, scope_pairs,
};
use crate::report::envdiff::{self as report, DiffReport};
use crate::report::markdown;
use crate::report::text::counted;
use crate::report::values::{ValueView, ValueViews, value_view};

pub async fn run(args: &DiffArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let (left_env, right_env) = match args.env.as_slice() {
        [left, right] if left == right => {
            return Err(Error::Usage(format!(
                "`--env {left}` is given twice: `diff` compares two different environments"
            )));
        }
        [left, right] => (left.as_str(), right.as_str()),
        given => {
            return Err(Error::Usage(format!(
                "`diff` compares exactly two environments (`--env A --env B`), not {}",
                given.len()
            )));
        }
    };
    let only = engine::only_globs(&args.only)?;
    let config = |env: &str| ConfigArgs {
        config: args.config.clone(),
        env: Some(env.to_owned()),
        preview: None,
    };
    let (diff, views) = if args.live {
        let context = Context::new(&args.target)?;
        // Each environment is loaded on a thread of its own and listed as soon as its
        // namespaces are known, the listings at once (each on its own target and account).
        // The second load starts when the first has ended: two loads at once would hold both
        // desired states at their peak, and only the scopes and which keys are sensitive are
        // kept of each.
        let (loaded, first_loaded) = tokio::sync::oneshot::channel();
        let on_loaded = |done| engine::OnLoaded { keep: Some(keep_sensitive), done };
        let left_config = config(left_env);
        let left = engine::load_and_list_with(
            &left_config,
            &context,
            Access::Read,
            printer,
            on_loaded(Some(loaded)),
        );
        let right = async {
            let _ = first_loaded.await;
            let right = config(right_env);
            engine::load_and_list_with(&right, &context, Access::Read, printer, on_loaded(None))
                .await
        };
        let (left, right) = futures_util::future::try_join(left, right).await?;
        live(args.deep, [(left_env, left), (right_env, right)], only.as_ref(), printer).await?
    } else {
        let left = engine::load(&config(left_env), args.target.target, printer)?;
        let right = engine::load(&config(right_env), args.target.target, printer)?;
        by_desired_state((left_env, &left), (right_env, &right), only.as_ref())?
    };

    let report = DiffReport { diff: &diff, views: &views };
    let markdown = (args.format == PlanFormat::Markdown || !args.markdown.markdown_out.is_empty())
        .then(|| {
            let title = format!("kvsync diff: {left_env} → {right_env}");
            markdown::Report::env_diff(&report, &title)
        })
        .map(|md| {
            let stdout = args.format == PlanFormat::Markdown;
            markdown_out::render(&md, &args.markdown, Noun::Report, stdout)
        })
        .transpose()?
        .flatten();
    let text = match args.format {
        PlanFormat::Human => report::human::render(&report, printer.stdout_color),
        PlanFormat::Json => report::json::render(&report::json::document(&report)),
        PlanFormat::Markdown => markdown.unwrap_or_default(),
    };
    printer.data(&text);
    Ok(if diff.counts().different() { ExitStatus::Changes } else { ExitStatus::Success })
}

/// Compares the two configs. A `file:` value is read only when its size and hash cannot say
/// whether it equals the other side's, and for the value diffs shown.
fn by_desired_state(
    left: (&str, &Desired),
    right: (&str, &Desired),
    only: Option<&Globs>,
) -> Result<(EnvDiff, ValueViews), Error> {
    let pairs = scope_pairs(left.1, right.1);
    let mut reads = DesiredReads::new();
    for (index, key) in envdiff::unsettled_values(left.1, right.1, only) {
        let (l, r) = pairs[index];
        if let (Some(a), Some(b)) = (entry(left.1, l, &key), entry(right.1, r, &key)) {
            let equal = engine::read_value(a)? == engine::read_value(b)?;
            reads.insert((index, key), equal);
        }
    }
    let diff = envdiff::desired(left, right, only, &reads);
    let mut views = ValueViews::new();
    for (index, scope) in diff.scopes.iter().enumerate() {
        let (l, r) = pairs[index];
        for key in &scope.keys {
            let Status::Differs(aspects) = &key.status else { continue };
            if !aspects.contains(&Aspect::Value) {
                continue;
            }
            if key.sensitive {
                views.insert(index, key.key.clone(), ValueView::Sensitive);
                continue;
            }
            let (Some(a), Some(b)) = (entry(left.1, l, &key.key), entry(right.1, r, &key.key))
            else {
                continue;
            };
            let old = as_live(engine::read_value(a)?);
            let new = engine::read_value(b)?;
            views.insert(index, key.key.clone(), value_view(Some(&old), Some(&new), false));
        }
    }
    Ok((diff, views))
}

/// A desired entry of the scope at `scope`, if both exist.
fn entry<'a>(desired: &'a Desired, scope: Option<usize>, key: &str) -> Option<&'a DesiredEntry> {
    scope.and_then(|i| desired.scopes.get(i)).and_then(|s| s.entries.get(key))
}

/// Bytes as a read would return them, for [`value_view`]: text when they are UTF-8.
fn as_live(bytes: Vec<u8>) -> LiveValue {
    match String::from_utf8(bytes) {
        Ok(text) => LiveValue::Text(text),
        Err(error) => LiveValue::Binary(error.into_bytes()),
    }
}

/// What `diff --live` needs of a desired state: its scopes, and which keys are sensitive (their
/// values are never shown).
fn keep_sensitive(desired: &mut Desired) {
    for scope in &mut desired.scopes {
        scope.entries.retain(|_, entry| entry.sensitive);
    }
}

/// Compares both environments' listings; reads the values `--deep` compares, or those the
/// value diffs show.
async fn live(
    deep: bool,
    sides: [(&str, engine::Listed); 2],
    only: Option<&Globs>,
    printer: &Printer,
) -> Result<(EnvDiff, ValueViews), Error> {
    let [(left_env, left), (right_env, right)] = sides;
    let engine::Listed { desired: left, store: left_store, live: left_live, .. } = left;
    let engine::Listed { desired: right, store: right_store, live: right_live, .. } = right;
    let (left, right) = (&left, &right);
    let left_side = LiveSide { name: left_env, desired: left, live: &left_live };
    let right_side = LiveSide { name: right_env, desired: right, live: &right_live };
    let mut reads = LiveReads::new();
    let mut unreadable = Vec::new();
    let wanted = if deep {
        let wanted = envdiff::listed_on_both(&left_side, &right_side, only);
        printer.info(&format!(
            "deep check: reading the values of {} on both sides: {} on each",
            counted(wanted.len(), "key", "keys"),
            counted(wanted.len().div_ceil(BULK_GET_MAX), "bulk get request", "bulk get requests")
        ));
        wanted
    } else {
        let first = envdiff::live(left_side, right_side, only, deep, &reads);
        first
            .scopes
            .iter()
            .enumerate()
            .flat_map(|(index, scope)| {
                scope.keys.iter().filter(|k| envdiff::shows_value(k)).map(move |k| (index, k))
            })
            .map(|(index, key)| (index, key.key.clone()))
            .collect()
    };
    let pairs = scope_pairs(left, right);
    let mut by_scope: HashMap<usize, Vec<String>> = HashMap::new();
    for (index, key) in wanted {
        by_scope.entry(index).or_default().push(key);
    }
    let mut scope_indices: Vec<usize> = by_scope.keys().copied().collect();
    scope_indices.sort_unstable();
    for index in scope_indices {
        let keys = &by_scope[&index];
        let (Some(l), Some(r)) = pairs[index] else { continue };
        let (left_ns, right_ns) = (&left.scopes[l].namespace_id, &right.scopes[r].namespace_id);
        let (left_listed, right_listed) = (by_name(&left_live[l]), by_name(&right_live[r]));
        let mut left_values = read(&left_store, left_ns, &left_listed, keys, false).await?;
        let mut right_values = read(&right_store, right_ns, &right_listed, keys, false).await?;
        // A text read drops a leading U+FEFF: two values that read as the same text while their
        // markers' hashes differ may differ by exactly that, so they are read again as bytes.
        // (With `--deep`, two unmarked values that differ only by a leading U+FEFF still read
        // as equal: reading every such key singly would cost a request per key.)
        let again: Vec<usize> = (0..keys.len())
            .filter(|&i| {
                matches!((&left_values[i], &right_values[i]),
                    (LiveValue::Text(a), LiveValue::Text(b)) if a == b)
                    && hashes_differ(
                        left_listed.get(keys[i].as_str()),
                        right_listed.get(keys[i].as_str()),
                    )
            })
            .collect();
        if !again.is_empty() {
            let names: Vec<String> = again.iter().map(|&i| keys[i].clone()).collect();
            let a = read(&left_store, left_ns, &left_listed, &names, true).await?;
            let b = read(&right_store, right_ns, &right_listed, &names, true).await?;
            for ((&i, a), b) in again.iter().zip(a).zip(b) {
                left_values[i] = a;
                right_values[i] = b;
            }
        }
        for ((key, a), b) in keys.iter().zip(left_values).zip(right_values) {
            for (env, value) in [(left_env, &a), (right_env, &b)] {
                if let LiveValue::Unreadable(reason) = value {
                    unreadable.push((format!("{key} ({env})"), reason.clone()));
                }
            }
            reads.insert((index, key.clone()), (a, b));
        }
    }
    for (env, store) in [(left_env, left_store), (right_env, right_store)] {
        if let Some(summary) = store.request_summary() {
            printer.verbose(&format!("{env}: {summary}"));
        }
        store.close()?;
    }
    // A value that could not be read is neither equal nor different: the run fails naming it.
    if !unreadable.is_empty() {
        return Err(Error::Unreadable { keys: unreadable });
    }

    let diff = envdiff::live(left_side, right_side, only, deep, &reads);
    let views = diff_views(&diff, &reads);
    Ok((diff, views))
}

/// The value diffs of the keys whose value or content differs, from the values read.
fn diff_views(diff: &EnvDiff, reads: &LiveReads) -> ValueViews {
    let mut views = ValueViews::new();
    for (index, scope) in diff.scopes.iter().enumerate() {
        for key in &scope.keys {
            let Status::Differs(aspects) = &key.status else { continue };
            if !aspects.iter().any(|a| matches!(a, Aspect::Value | Aspect::Content)) {
                continue;
            }
            if key.sensitive {
                views.insert(index, key.key.clone(), ValueView::Sensitive);
                continue;
            }
            if let Some((a, b)) = reads.get(&(index, key.key.clone())) {
                let new = match b {
                    LiveValue::Text(text) => Some(text.as_bytes()),
                    LiveValue::Binary(bytes) => Some(bytes.as_slice()),
                    LiveValue::Missing | LiveValue::Unreadable(_) => None,
                };
                views.insert(index, key.key.clone(), value_view(Some(a), new, false));
            }
        }
    }
    views
}

/// Reads the values of `keys` (listed in `live`) through the one value reader, with `exact` as
/// bytes.
async fn read(
    store: &Store,
    namespace_id: &str,
    live: &HashMap<&str, &ListedKey>,
    keys: &[String],
    exact: bool,
) -> Result<Vec<LiveValue>, Error> {
    let hints: Vec<ReadHint> = keys
        .iter()
        .map(|key| ReadHint {
            exact,
            listed_expiration: live.get(key.as_str()).and_then(|k| k.expiration),
        })
        .collect();
    Ok(kv::read::read_values(store, namespace_id, keys, &hints, &|_| {}).await?)
}

/// The keys of a listing by name.
fn by_name(live: &LiveScope) -> HashMap<&str, &ListedKey> {
    live.keys.iter().map(|key| (key.name.as_str(), key)).collect()
}

/// Whether both keys carry a version-1 marker and the hashes differ.
fn hashes_differ(a: Option<&&ListedKey>, b: Option<&&ListedKey>) -> bool {
    let hash = |key: Option<&&ListedKey>| match key.map(|k| k.metadata.marker()) {
        Some(crate::content::Marker::V1 { sha256, .. }) => Some(sha256),
        _ => None,
    };
    matches!((hash(a), hash(b)), (Some(x), Some(y)) if x != y)
}
