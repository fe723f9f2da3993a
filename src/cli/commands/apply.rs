//! `kvsync apply`: plan, show, check the guards, ask, then change the namespaces; or, given a
//! saved plan, check that it is still current and apply exactly it without asking.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::Duration;

use crate::apply::{self, Report, Settings, execute};
use crate::cli::args::{ApplyArgs, ApplyFormat, ConfigArgs, PlanningArgs};
use crate::cli::engine::{self, Access, Planned};
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::cli::progress::Progress;
use crate::env_vars;
use crate::error::Error;
use crate::report::json;
use crate::report::outcome::{render_report, render_report_json};
use crate::saved::{self, PlanFile};

/// The live values apply reads for the plan it prints: every diff for JSON, the human plan's
/// otherwise.
fn reads(format: ApplyFormat) -> engine::DiffReads {
    match format {
        ApplyFormat::Json => engine::DiffReads::All,
        ApplyFormat::Human => engine::DiffReads::Human,
    }
}

pub async fn run(args: &ApplyArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let context = engine::Context::new(&args.target)?;
    let revision = context.revision(args.revision.as_deref());
    let (now, vars_context) = (context.now, engine::Context::new(&args.target)?);
    let (planned, from_file, no_snapshot) = match &args.plan_file {
        Some(path) => {
            let (planned, no_snapshot) = saved_plan(path, args, context, printer).await?;
            (planned, true, no_snapshot)
        }
        None => (
            engine::plan(
                &args.config,
                &args.planning,
                reads(args.format),
                &context,
                Access::Write,
                printer,
            )
            .await?,
            false,
            args.planning.no_snapshot,
        ),
    };
    let cost = planned.cost();
    let environment = planned.desired.environment.as_deref();
    // The JSON document of the plan is kept until the apply report is printed, so it is only
    // made when it is printed: at a million keys it holds tens of megabytes.
    let document = (args.format == ApplyFormat::Json).then(|| {
        json::plan_document(&planned.report(&cost), environment, !args.planning.no_value_diff)
    });
    if args.format == ApplyFormat::Human {
        printer.data(&planned.render_human(&args.planning, printer, &cost));
    }
    if !planned.plan.has_changes() {
        if let Some(document) = &document {
            printer.data(&render_report_json(document, &Report::default()));
        }
        planned.finish()?;
        return Ok(ExitStatus::Success);
    }

    if !planned.plan.refusals.is_empty() {
        return Err(apply::Error::Refused(planned.plan.refusals.clone()).into());
    }
    // A saved plan was reviewed when it was made; applying it asks nothing (as Terraform).
    if !args.auto_approve && !from_file {
        confirm()?;
        check_unchanged_since_shown(&planned, printer).await?;
    }
    // Before the first write: the live state of every key the apply changes, on disk.
    if !no_snapshot {
        let account = vars_context.account_id(planned.desired.account_id.as_deref());
        // After a prompt the values are read again: one may have changed while it was open.
        let reuse = args.auto_approve || from_file;
        take_snapshot(&planned, args, revision.as_deref(), account, now, reuse, printer).await?;
    }

    let report = execute_with_interrupt(&planned, revision, printer).await;
    match &document {
        None => printer.data(&render_report(&report, printer.stdout_color)),
        Some(document) => printer.data(&render_report_json(document, &report)),
    }
    let verified = if args.verify && !report.interrupted {
        Some(verify(&planned, &report, printer).await)
    } else {
        None
    };
    if let Some(summary) = planned.store.request_summary() {
        printer.verbose(&summary);
    }
    // Closing a local store writes it; a damaged file that fails there fails the run.
    let closed = planned.finish();
    if !report.is_complete() {
        return Err(apply::Error::Incomplete {
            written: report.written(),
            deleted: report.deleted(),
            failed: report.failed(),
            not_attempted: report.not_attempted(),
            interrupted: report.interrupted,
        }
        .into());
    }
    verified.transpose()?;
    closed?;
    Ok(ExitStatus::Success)
}

/// `--verify`: reads back what the apply changed within the window, and says what settled. An
/// apply that wrote and deleted nothing (every write failed) has nothing to read back.
async fn verify(planned: &Planned, report: &Report, printer: &Printer) -> Result<(), Error> {
    if report.written() + report.deleted() == 0 {
        printer.info("Nothing to verify: this apply wrote and deleted no key.");
        return Ok(());
    }
    let window = std::env::var(env_vars::KVSYNC_VERIFY_WINDOW_MS)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_millis);
    // How many keys each plan scope's listing held, to weigh a re-list against bulk gets.
    let listed: Vec<usize> = planned
        .plan
        .scopes
        .iter()
        .map(|scope| {
            planned
                .desired
                .scopes
                .iter()
                .position(|d| d.name == scope.name)
                .and_then(|at| planned.live.get(at))
                .map_or(0, |live| live.keys.len())
        })
        .collect();
    let progress = Progress::new(printer, "verifying", "rounds", None);
    let verified = crate::apply::verify::verify(
        &planned.store,
        &planned.desired,
        &planned.plan,
        report,
        &listed,
        crate::apply::verify::Window::new(window),
    )
    .await;
    progress.finish();
    let verified = verified.map_err(Error::from)?;
    if verified.unsettled.is_empty() {
        printer.info(&match verified.checked {
            1 => "Verified: the store shows the change as planned.".to_owned(),
            n => format!("Verified: the store shows all {n} changes as planned."),
        });
        return Ok(());
    }
    let (differs, unsettled): (Vec<_>, Vec<_>) =
        verified.unsettled.iter().partition(|u| u.differs.is_some());
    let unsettled: Vec<String> =
        unsettled.iter().map(|u| format!("{} (`{}`, {})", u.key, u.scope, u.change)).collect();
    let seconds = window.as_secs();
    if differs.is_empty() {
        return Err(apply::Error::Unsettled { keys: unsettled, seconds }.into());
    }
    let keys = differs
        .iter()
        .filter_map(|u| {
            let d = u.differs?;
            Some(format!(
                "{} (`{}`, {} bytes sent, {} read back)",
                u.key, u.scope, d.sent, d.stored
            ))
        })
        .collect();
    Err(apply::Error::StoredDiffers { keys, unsettled, seconds }.into())
}

/// After a prompt, which may have stayed open for minutes, lists every scope again and refuses
/// unless every live key the plan depends on is as it was listed: the stale check of a saved
/// plan, over the two listings in memory. (`--auto-approve` and saved plans list no more than
/// they did.) A Cloudflare listing may lag writes by up to about 60 seconds, so this narrows the
/// race with another writer; it cannot close it.
async fn check_unchanged_since_shown(planned: &Planned, printer: &Printer) -> Result<(), Error> {
    let progress = Progress::new(printer, "listing again", "keys", None);
    let on_page = |n: usize| progress.inc(n as u64);
    let now = engine::list_live(&planned.store, &planned.desired.heads(), &on_page).await;
    progress.finish();
    let keys = saved::changed_keys(&planned.desired, &planned.live, &now?);
    if keys.is_empty() { Ok(()) } else { Err(apply::Error::ChangedWhileDeciding { keys }.into()) }
}

/// Saves the snapshot (`--snapshot PATH`, else the default path), complete and fsync'd, and
/// says where; a snapshot that cannot be taken stops the apply before it writes anything.
async fn take_snapshot(
    planned: &Planned,
    args: &ApplyArgs,
    revision: Option<&str>,
    account: Option<String>,
    now: i64,
    reuse: bool,
    printer: &Printer,
) -> Result<(), Error> {
    use crate::apply::snapshot;
    use crate::report::values::ValueView;
    let skip = |index: usize| planned.desired.scopes.get(index).is_none_or(|s| !s.snapshot);
    let changes = |(i, s): (usize, &crate::plan::ScopePlan)| {
        !skip(i) && s.changes.iter().any(|c| c.action.is_put() || c.action.is_delete())
    };
    if !planned.plan.scopes.iter().enumerate().any(changes) {
        return Ok(());
    }
    let path = match &args.snapshot {
        Some(path) => path.clone(),
        None => snapshot::default_path(std::path::Path::new(""), now, revision)
            .map_err(apply::Error::from)?,
    };
    let store = &planned.store;
    let header = snapshot_header(planned, args, revision, account, now, &skip);
    // A live value the diffs read exactly: an adopt's (read as bytes), any on a target whose
    // text reads are exact, and a marker-only update's (live equals the desired bytes).
    let exact_reads = store.kind().capabilities().exact_text_reads;
    let known = |index: usize, key: &str, action: &str| -> Option<Vec<u8>> {
        if !reuse {
            return None;
        }
        match planned.views.get(index, key)? {
            ValueView::Text { live: Some(text), .. } if exact_reads || action == "adopt" => {
                Some(text.clone().into_bytes())
            }
            ValueView::MarkerOnly => {
                planned.desired.scopes.get(index)?.entries.get(key)?.read().ok()
            }
            _ => None,
        }
    };
    let options = snapshot::Options {
        header,
        sensitive: args.snapshot_sensitive,
        skip_scope: &skip,
        known: &known,
    };
    let progress = Progress::new(printer, "snapshot", "keys", None);
    let taken =
        snapshot::take(store, &planned.desired, &planned.plan, &planned.live, &options, &path)
            .await;
    progress.finish();
    let taken = taken.map_err(apply::Error::from)?;
    let left_out = match taken.left_out {
        0 => String::new(),
        n => format!(
            "; {n} sensitive {} left out (`--snapshot-sensitive` keeps them)",
            if n == 1 { "value" } else { "values" }
        ),
    };
    let line = format!(
        "Snapshot: {} ({} {}{left_out}); `kvsync restore {}` puts them back.",
        path.display(),
        taken.keys,
        if taken.keys == 1 { "key" } else { "keys" },
        path.display()
    );
    // A run that only creates keys overwrites nothing: its snapshot is said with `-v` only.
    if taken.keys_read + taken.left_out + taken.reused > 0 {
        printer.info(&line)
    } else {
        printer.verbose(&line)
    }
    Ok(())
}

/// The header of the snapshot [`take_snapshot`] writes: whose keys, from where, when, and the
/// scopes it covers (those `skip` leaves out are not).
fn snapshot_header(
    planned: &Planned,
    args: &ApplyArgs,
    revision: Option<&str>,
    account: Option<String>,
    now: i64,
    skip: &dyn Fn(usize) -> bool,
) -> crate::apply::snapshot::Header {
    use crate::apply::snapshot;
    let store = &planned.store;
    snapshot::Header {
        kind: snapshot::KIND.to_owned(),
        format_version: snapshot::FORMAT_VERSION,
        owner: planned.desired.owner.clone(),
        rev: revision.map(str::to_owned),
        target: store.kind(),
        account: account.filter(|_| store.kind().capabilities().metered),
        namespaces: planned
            .desired
            .scopes
            .iter()
            .enumerate()
            .filter(|(i, _)| !skip(*i))
            .map(|(_, s)| snapshot::ScopeRef {
                scope: s.name.clone(),
                namespace: s.namespace_id.clone(),
                prefix: s.prefix.clone(),
            })
            .collect(),
        time: snapshot::rfc3339(now),
        flags: args
            .snapshot_sensitive
            .then(|| "--snapshot-sensitive".to_owned())
            .into_iter()
            .collect(),
    }
}

/// Runs the executor with Ctrl-C wired to stop it between batches.
async fn execute_with_interrupt(
    planned: &Planned,
    revision: Option<String>,
    printer: &Printer,
) -> Report {
    let interrupt = crate::cli::interrupt::watch(*printer);
    let settings = Settings {
        owner: planned.desired.owner.clone(),
        revision,
        unsuccessful_retries: 3,
        unsuccessful_retry_delay: Duration::from_secs(1),
    };
    let summary = planned.plan.summary();
    let total =
        summary.create + summary.update + summary.adopt + summary.take_over + summary.delete;
    let progress = Progress::new(printer, "applying", "keys", Some(total as u64));
    let report =
        execute(&planned.store, &planned.desired, &planned.plan, &settings, &interrupt, &|n| {
            progress.inc(n)
        })
        .await;
    progress.finish();
    report
}

/// Re-plans from the config and a fresh listing with the saved plan's options, and refuses
/// unless the config, the target and every live key the plan depends on are as they were, and
/// the recomputed changes are exactly the saved ones.
async fn saved_plan(
    path: &std::path::Path,
    args: &ApplyArgs,
    context: engine::Context,
    printer: &Printer,
) -> Result<(Planned, bool), Error> {
    let mut file = PlanFile::read(path)?;
    file.check_given(&saved::Given {
        environment: args.config.env.as_deref(),
        preview: args.config.preview,
        target: context.target_flag(),
        only: &args.planning.only,
        take_over: args.planning.take_over.as_deref(),
        max_deletes: args.planning.max_deletes,
        allow_empty: args.planning.allow_empty,
        no_snapshot: args.planning.no_snapshot,
    })?;
    // Only the identities and intents of the saved changes are needed below: keep those, not
    // the document (tens of megabytes at a million keys), while planning.
    let (before, intents) = (file.identities(), file.intents());
    file.plan.changes = Vec::new();
    let context = context.on(file.target);
    // The config the plan recorded, unless `-c` names one (the digest below proves it is the
    // same desired state either way).
    let config = ConfigArgs {
        config: args.config.config.clone().or_else(|| file.config.clone()),
        env: file.environment.clone(),
        preview: file.preview,
    };
    let planning = PlanningArgs {
        only: file.only.clone(),
        take_over: file.take_over.clone(),
        max_deletes: file.max_deletes,
        allow_empty: file.allow_empty,
        no_value_diff: args.planning.no_value_diff,
        no_snapshot: file.no_snapshot,

        show_all: args.planning.show_all,
    };
    let planned =
        engine::plan(&config, &planning, reads(args.format), &context, Access::Write, printer)
            .await?;
    if saved::config_digest(&planned.desired) != file.config_digest {
        return Err(saved::Error::ConfigChanged.into());
    }
    let done = saved::done_keys(&planned.desired, &planned.live, &intents);
    let found = file.stale_keys(&planned.desired, &planned.live, &done)?;
    if found.keys.is_empty() && found.secret_changed {
        // Only a sensitive key's desired value (a `${VAR}`) changed: the config did.
        return Err(saved::Error::ConfigChanged.into());
    }
    let mut stale = found.keys;
    if stale.is_empty() {
        // The changes recomputed now must be exactly the saved ones, but for those an
        // interrupted run of this plan already made.
        let after = saved::identities(&planned.plan);
        let is_done =
            |(scope, key, _): &&saved::Identity| done.contains(&(scope.clone(), key.clone()));
        if before.iter().filter(|c| !is_done(c)).ne(after.iter().filter(|c| !is_done(c))) {
            let mut keys: Vec<String> = before
                .iter()
                .filter(|c| !after.contains(c))
                .chain(after.iter().filter(|c| !before.contains(c)))
                .filter(|c| !is_done(c))
                .map(|(_, key, _)| key.clone())
                .collect();
            keys.dedup();
            stale = keys;
        }
    }
    if !stale.is_empty() {
        return Err(saved::Error::Stale { keys: stale }.into());
    }
    Ok((planned, file.no_snapshot))
}

/// Asks for `yes` on the terminal, like Terraform; anything else cancels.
pub(crate) fn confirm() -> Result<(), Error> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Error::NotApproved);
    }
    let mut stderr = std::io::stderr();
    let prompt = "\nDo you want to apply these changes?\n  Only `yes` will be accepted.\n\n  Enter a value: ";
    stderr
        .write_all(prompt.as_bytes())
        .and_then(|()| stderr.flush())
        .map_err(|source| Error::Io { context: "asking for approval", source })?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io { context: "reading the answer", source })?;
    if answer.trim() == "yes" { Ok(()) } else { Err(Error::Declined) }
}
