//! `kvsync restore SNAPSHOT`: plans putting back exactly the keys of a snapshot an apply saved,
//! shows the plan, asks (unless `--auto-approve`), and writes. The decisions per key are
//! `apply::restore`'s; this lists, reads (through the one value reader) and writes.

use std::collections::HashMap;
use std::time::Duration;

use crate::apply::batch::{PutBatcher, delete_batches};
use crate::apply::restore::{Decision, Live, decide};
use crate::apply::snapshot::{self, KeyLine};
use crate::cli::args::{RestoreArgs, RestoreFormat};
use crate::cli::engine::{self, Access};
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config::{Globs, Heads};
use crate::content::Expiration;
use crate::error::Error;
use crate::kv::{self, KvStore, ListedKey, LiveValue, PutPair, ReadHint, Store};
use crate::report::text::printable;

/// One key of the restore plan.
struct Planned {
    /// Index into the snapshot's keys.
    line: usize,
    decision: Decision,
}

/// What the writes did.
#[derive(Default)]
struct Done {
    written: Vec<String>,
    deleted: Vec<String>,
    failed: Vec<(String, String)>,
}

pub async fn run(args: &RestoreArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let snapshot = snapshot::read(&args.snapshot).map_err(crate::apply::Error::from)?;
    let header = &snapshot.header;
    let context = engine::Context::new(&args.target)?;
    if context.target_flag().is_some_and(|t| t != header.target) {
        return Err(Error::Usage(format!(
            "the snapshot was taken on the `{}` target, not the `--target` given",
            header.target.name()
        )));
    }
    let now = context.now;
    let context = context.on(header.target);
    let only = if args.only.is_empty() {
        None
    } else {
        Some(Globs::new(&args.only).map_err(|(pattern, error)| {
            Error::Usage(format!("`--only {pattern}` is not a valid glob: {error}"))
        })?)
    };
    let heads = Heads {
        target: Some(header.target),
        account_id: header.account.clone(),
        local_path: None,
        scopes: Vec::new(),
    };
    let store = context.open_store(&heads, Access::Write, printer)?;
    let wanted: Vec<usize> = (0..snapshot.keys.len())
        .filter(|&i| only.as_ref().is_none_or(|globs| globs.is_match(&snapshot.keys[i].key)))
        .collect();
    let plan = plan(&store, &snapshot, &wanted, now, args.overwrite_changed).await?;
    let lines = &snapshot.keys;
    printer.data(&render(args.format, &args.snapshot, lines, &plan, None));

    let refused: Vec<String> = plan
        .iter()
        .filter(|p| p.decision.refuses())
        .map(|p| printable(&lines[p.line].key).into_owned())
        .collect();
    if !refused.is_empty() {
        store.close()?;
        return Err(Error::RestoreRefused { keys: refused });
    }
    if !plan.iter().any(|p| p.decision.writes()) {
        store.close()?;
        return Ok(ExitStatus::Success);
    }
    if !args.auto_approve {
        super::apply::confirm()?;
    }
    let done = write(&store, lines, &plan).await;
    if args.format == RestoreFormat::Human {
        printer.data(&format!(
            "Restore complete: {} written, {} deleted{}.\n",
            done.written.len(),
            done.deleted.len(),
            match done.failed.len() {
                0 => String::new(),
                n => format!(", {n} failed"),
            }
        ));
    } else {
        printer.data(&render(args.format, &args.snapshot, lines, &plan, Some(&done)));
    }
    for (key, reason) in &done.failed {
        printer.warn(&format!("`{}` was not restored: {reason}", printable(key)));
    }
    printer.info(
        "The config still describes the newer state: the next `kvsync apply` writes it again.\n\
         `git revert` of the change that was applied brings git back in line with what is live.",
    );
    store.close()?;
    if done.failed.is_empty() {
        Ok(ExitStatus::Success)
    } else {
        Err(Error::RestoreIncomplete { failed: done.failed.len() })
    }
}

/// Lists each namespace of the snapshot, reads the values that may equal the before-state,
/// and decides each key.
async fn plan(
    store: &Store,
    snapshot: &snapshot::Snapshot,
    wanted: &[usize],
    now: i64,
    overwrite_changed: bool,
) -> Result<Vec<Planned>, Error> {
    let lines = &snapshot.keys;
    // Each (namespace, prefix) of the header, listed once.
    let mut listed: HashMap<String, Vec<ListedKey>> = HashMap::new();
    for scope in &snapshot.header.namespaces {
        if !wanted.iter().any(|&i| lines[i].namespace == scope.namespace) {
            continue;
        }
        let keys = kv::list_all_with(store, &scope.namespace, &scope.prefix, &|_| {}).await?;
        listed.entry(scope.namespace.clone()).or_default().extend(keys);
    }
    let index: HashMap<(&str, &str), &ListedKey> = listed
        .iter()
        .flat_map(|(namespace, keys)| {
            keys.iter().map(move |k| ((namespace.as_str(), k.name.as_str()), k))
        })
        .collect();
    let find = |line: &KeyLine| index.get(&(line.namespace.as_str(), line.key.as_str())).copied();
    let befores: Vec<Option<Vec<u8>>> =
        wanted.iter().map(|&i| lines[i].bytes().map_err(Error::Usage)).collect::<Result<_, _>>()?;
    // The values that may equal the before-state (same metadata and expiration), read exactly.
    let mut values: HashMap<usize, LiveValue> = HashMap::new();
    let mut by_namespace: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, &i) in wanted.iter().enumerate() {
        let line = &lines[i];
        if let (Some(listed), Some(_)) = (find(line), &befores[j])
            && listed.expiration == line.expiration
            && listed.metadata.to_json() == line.metadata
        {
            by_namespace.entry(line.namespace.as_str()).or_default().push(i);
        }
    }
    for (namespace, indices) in by_namespace {
        let names: Vec<String> = indices.iter().map(|&i| lines[i].key.clone()).collect();
        let hints: Vec<ReadHint> = indices
            .iter()
            .map(|&i| ReadHint { exact: true, listed_expiration: lines[i].expiration })
            .collect();
        let read = kv::read::read_values(store, namespace, &names, &hints, &|_| {}).await?;
        values.extend(indices.into_iter().zip(read));
    }
    let owner = &snapshot.header.owner;
    Ok(wanted
        .iter()
        .enumerate()
        .map(|(j, &i)| {
            let line = &lines[i];
            let live = find(line).map(|listed| Live { listed, value: values.get(&i) });
            let decision = decide(line, befores[j].as_deref(), live, owner, now, overwrite_changed);
            Planned { line: i, decision }
        })
        .collect())
}

/// Puts every restored key back, then deletes the created ones, per namespace; keys a store
/// reports as unsuccessful are sent again a few times.
async fn write(store: &Store, lines: &[KeyLine], plan: &[Planned]) -> Done {
    let mut done = Done::default();
    let mut namespaces: Vec<&str> = lines.iter().map(|l| l.namespace.as_str()).collect();
    namespaces.dedup();
    namespaces.sort_unstable();
    namespaces.dedup();
    for namespace in &namespaces {
        let mut batcher = PutBatcher::new();
        let mut batches = Vec::new();
        for item in plan.iter().filter(|p| p.decision.writes() && !p.decision.deletes()) {
            let line = &lines[item.line];
            if line.namespace != *namespace {
                continue;
            }
            let Ok(Some(value)) = line.bytes() else { continue };
            let pair = PutPair {
                key: line.key.clone(),
                value,
                metadata: line.metadata.clone().unwrap_or(serde_json::Value::Null),
                expiration: line.expiration.map_or(Expiration::Never, Expiration::At),
            };
            batches.extend(batcher.push(pair));
        }
        batches.extend(batcher.finish());
        for batch in batches {
            let keys: Vec<String> = batch.iter().map(|p| p.key.clone()).collect();
            let mut pending = batch;
            for attempt in 0..4 {
                match store.bulk_put(namespace, &pending).await {
                    Ok(outcome) if outcome.unsuccessful_keys.is_empty() || attempt == 3 => {
                        let failed: Vec<&String> = outcome.unsuccessful_keys.iter().collect();
                        for key in &keys {
                            if failed.contains(&key) {
                                done.failed.push((
                                    key.clone(),
                                    "the store reported it unsuccessful".to_owned(),
                                ));
                            } else {
                                done.written.push(key.clone());
                            }
                        }
                        break;
                    }
                    Ok(outcome) => {
                        pending.retain(|p| outcome.unsuccessful_keys.contains(&p.key));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(error) => {
                        done.failed.extend(keys.iter().map(|k| (k.clone(), error.on_one_line())));
                        break;
                    }
                }
            }
        }
    }
    // No delete runs when a put did not succeed (as apply).
    if !done.failed.is_empty() {
        for item in plan.iter().filter(|p| p.decision.deletes()) {
            done.failed
                .push((lines[item.line].key.clone(), "not attempted: a write failed".to_owned()));
        }
        return done;
    }
    for namespace in &namespaces {
        let keys: Vec<String> = plan
            .iter()
            .filter(|p| p.decision.deletes() && lines[p.line].namespace == *namespace)
            .map(|p| lines[p.line].key.clone())
            .collect();
        for batch in delete_batches(&keys) {
            match store.bulk_delete(namespace, batch).await {
                Ok(outcome) => {
                    for key in batch {
                        if outcome.unsuccessful_keys.contains(key) {
                            done.failed.push((
                                key.clone(),
                                "the store reported it unsuccessful".to_owned(),
                            ));
                        } else {
                            done.deleted.push(key.clone());
                        }
                    }
                }
                Err(error) => {
                    done.failed.extend(batch.iter().map(|k| (k.clone(), error.on_one_line())));
                }
            }
        }
    }
    done
}

/// The words for a decision: a marker, a label, and a note.
fn describe(decision: &Decision) -> (&'static str, &'static str, String) {
    match decision {
        Decision::Nothing => ("=", "unchanged", "already as before the apply".to_owned()),
        Decision::Put => ("~", "restore", "put back as before the apply".to_owned()),
        Decision::Delete => ("-", "delete", "the apply created it".to_owned()),
        Decision::Changed { taken: true, delete } => (
            "!",
            "overwrite",
            format!(
                "changed since the apply; {} (`--overwrite-changed`)",
                if *delete { "deleted anyway" } else { "put back anyway" }
            ),
        ),
        Decision::Changed { taken: false, .. } => {
            ("!", "conflict", "changed since the apply by someone else".to_owned())
        }
        Decision::LeftOut => (
            "?",
            "left out",
            "sensitive: the snapshot holds no value (apply with `--snapshot-sensitive` keeps it)"
                .to_owned(),
        ),
        Decision::Expiring { at } => (
            "?",
            "expiring",
            format!(
                "its expiration ({}) is past or under 60 s away; not written",
                snapshot::rfc3339(*at)
            ),
        ),
    }
}

/// The plan (and with `done`, the result) in the chosen format.
fn render(
    format: RestoreFormat,
    path: &std::path::Path,
    lines: &[KeyLine],
    plan: &[Planned],
    done: Option<&Done>,
) -> String {
    let count = |f: &dyn Fn(&Decision) -> bool| plan.iter().filter(|p| f(&p.decision)).count();
    let restore = count(&|d| d.writes() && !d.deletes());
    let delete = count(&|d| d.deletes());
    let conflicts = count(&|d| d.refuses());
    let skipped = count(&|d| matches!(d, Decision::LeftOut | Decision::Expiring { .. }));
    let unchanged = count(&|d| matches!(d, Decision::Nothing));
    match format {
        RestoreFormat::Json => {
            let keys: Vec<serde_json::Value> = plan
                .iter()
                .map(|p| {
                    let line = &lines[p.line];
                    let (_, label, note) = describe(&p.decision);
                    serde_json::json!({
                        "scope": line.scope,
                        "namespace": line.namespace,
                        "key": line.key,
                        "decision": label.replace(' ', "_"),
                        "note": note,
                    })
                })
                .collect();
            let mut document = serde_json::json!({
                "kind": "kvsync-restore",
                "format_version": "1",
                "snapshot": path.display().to_string(),
                "summary": {
                    "restore": restore, "delete": delete, "conflict": conflicts,
                    "skipped": skipped, "unchanged": unchanged,
                },
                "keys": keys,
            });
            if let Some(done) = done {
                document["result"] = serde_json::json!({
                    "written": done.written,
                    "deleted": done.deleted,
                    "failed": done.failed.iter().map(|(k, why)| serde_json::json!({"key": k, "reason": why})).collect::<Vec<_>>(),
                });
            }
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            text
        }
        RestoreFormat::Markdown => {
            let mut out = format!("### kvsync restore `{}`\n\n", path.display());
            out.push_str("| | Key | Scope | What |\n|---|---|---|---|\n");
            for p in plan.iter().filter(|p| !matches!(p.decision, Decision::Nothing)) {
                let line = &lines[p.line];
                let (marker, label, note) = describe(&p.decision);
                out.push_str(&format!(
                    "| {marker} | {} | {} | {label}: {} |\n",
                    markdown_code(&line.key),
                    markdown_code(&line.scope),
                    note.replace('|', "\\|")
                ));
            }
            out.push_str(&format!(
                "\n**Restore:** {restore} to put back, {delete} to delete, {conflicts} changed since, {skipped} skipped, {unchanged} unchanged.\n"
            ));
            if let Some(done) = done {
                out.push_str(&format!(
                    "\n**Result:** {} written, {} deleted, {} failed.\n",
                    done.written.len(),
                    done.deleted.len(),
                    done.failed.len()
                ));
            }
            out
        }
        RestoreFormat::Human => {
            let mut out = format!("restore from `{}`\n", printable(&path.display().to_string()));
            let mut scope = "";
            for p in plan.iter().filter(|p| !matches!(p.decision, Decision::Nothing)) {
                let line = &lines[p.line];
                if line.scope != scope {
                    scope = &line.scope;
                    out.push_str(&format!(
                        "scope `{}` (namespace {})\n",
                        printable(scope),
                        printable(&line.namespace)
                    ));
                }
                let (marker, label, note) = describe(&p.decision);
                out.push_str(&format!("  {marker} {} ({label}: {note})\n", printable(&line.key)));
            }
            out.push_str(&format!(
                "\nRestore: {restore} to put back, {delete} to delete, {conflicts} changed since, {skipped} skipped, {unchanged} unchanged.\n"
            ));
            out
        }
    }
}

/// A key as Markdown inline code that no key can break out of.
fn markdown_code(text: &str) -> String {
    let text = printable(text).replace('|', "\\|");
    let ticks = "`".repeat(text.split(|c| c != '`').map(str::len).max().unwrap_or(0) + 1);
    format!("{ticks} {text} {ticks}")
}
