//! `kvsync apply`: plan, show, check the guards, ask, then change the namespaces.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::apply::{Guards, Settings, check_guards, execute};
use crate::cli::args::{ApplyArgs, GlobalArgs};
use crate::cli::engine;
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::env_vars;
use crate::error::Error;
use crate::report::outcome::render_report;

pub async fn run(
    args: &ApplyArgs,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<ExitStatus, Error> {
    let planned = engine::plan(&args.config, &args.planning, global, printer).await?;
    printer.data(&planned.render_human(&args.planning, printer));
    if !planned.plan.has_changes() {
        return Ok(ExitStatus::Success);
    }

    let guards = Guards {
        allow_empty: args.allow_empty,
        max_deletes_override: args.max_deletes,
        max_deletes: planned.desired.max_deletes,
    };
    let refusals = check_guards(&planned.plan, &guards);
    if !refusals.is_empty() {
        return Err(Error::Refused(refusals));
    }
    if !args.auto_approve {
        confirm()?;
    }

    let interrupt = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&interrupt);
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let settings = Settings {
        owner: planned.desired.owner.clone(),
        revision: revision(global),
        unsuccessful_retries: 3,
        unsuccessful_retry_delay: Duration::from_secs(1),
    };
    let report =
        execute(&planned.store, &planned.desired, &planned.plan, &settings, &interrupt).await;
    watcher.abort();
    printer.data(&render_report(&report, printer.stdout_color));
    if let Some(summary) = planned.store.request_summary() {
        printer.verbose(&summary);
    }
    if report.is_complete() {
        Ok(ExitStatus::Success)
    } else {
        Err(Error::ApplyIncomplete {
            failed: report.failed(),
            not_attempted: report.not_attempted(),
            interrupted: report.interrupted,
        })
    }
}

/// `--revision`, else `$GITHUB_SHA`.
fn revision(global: &GlobalArgs) -> Option<String> {
    global
        .revision
        .clone()
        .or_else(|| std::env::var(env_vars::GITHUB_SHA).ok())
        .filter(|r| !r.is_empty())
}

/// Asks for `yes` on the terminal, like Terraform; anything else cancels.
fn confirm() -> Result<(), Error> {
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
