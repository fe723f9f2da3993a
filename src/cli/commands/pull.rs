//! `kvsync pull`: write changes made live back into the config.
//!
//! Wires the arguments to `apply::pull` (which reads, decides, edits and checks) and its report
//! to the output: loads and lists, then prints the diff (`--dry-run`) or writes the files all or
//! none (`apply::pull::write`). A pull a crash interrupted is finished or rolled back first.

use std::path::{Path, PathBuf};

use crate::apply::pull::{self as run_pull, History, Request};
use crate::cli::args::{PullArgs, PullFormat};
use crate::cli::engine::{self, Access};
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config::{self, Globs};
use crate::error::Error;
use crate::fs::journal::Recovery;
use crate::plan::pull;
use crate::report;

pub async fn run(args: &PullArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let only = Globs::new(&args.only).map_err(|(pattern, error)| {
        Error::Usage(format!("`--only` glob `{pattern}` is not valid: {}", error.kind()))
    })?;
    let context = &engine::Context::new(&args.target)?;
    let folder = crate::fs::folder_of(args.config.path()).to_path_buf();
    if !args.dry_run {
        recover(&folder, printer)?;
    }
    let engine::Listed { desired, store, live, files, included, titles } =
        engine::load_and_list(&args.config, context, Access::Read, printer).await?;
    let options =
        pull::Options { owner: desired.owner.clone(), deep: args.deep, adopt: args.adopt, only };
    let vars = |name: &str| (context.vars)(name);
    let config_dir = args.config.path().parent().unwrap_or(Path::new("")).to_path_buf();
    let history = History::new(config::shown_dir(&config_dir));
    let environments = config::environment_names(args.config.path());
    let request = Request {
        root: args.config.path(),
        files: &files,
        included: &included,
        options: &options,
        remove_missing: args.remove_missing,
        into: args.into.as_deref(),
        preview: args.config.preview,
        target: context.target_flag(),
        vars: &vars,
        titles: titles.as_ref(),
        environments: &environments,
        ancestry: &|rev| history.has(rev),
        dry_run: args.dry_run,
    };
    let pulled = run_pull::pull(&store, &request, desired, live).await?;
    store.close()?;
    let report = &pulled.report;
    if args.dry_run {
        if args.format == PullFormat::Human {
            for (file, shown) in pulled.files.iter().zip(&report.files) {
                printer.data(&unified_diff(shown, &file.before, &file.after));
            }
            if !pulled.files.is_empty() {
                printer.data("\n");
            }
        }
    } else if !pulled.files.is_empty() {
        run_pull::write(&folder, &pulled.files)?;
    }
    let text = match args.format {
        PullFormat::Human => report::pull::render_human(report, printer.stdout_color),
        PullFormat::Json => report::pull::render_json(report),
    };
    printer.data(&text);
    Ok(if report.has_changes() { ExitStatus::Changes } else { ExitStatus::Success })
}

/// `--- a/PATH` / `+++ b/PATH` unified diff of one file (binary files by size).
fn unified_diff(path: &str, before: &[u8], after: &[u8]) -> String {
    match (std::str::from_utf8(before), std::str::from_utf8(after)) {
        (Ok(before), Ok(after)) => similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string(),
        _ => format!("Binary file {path}: {} bytes → {} bytes\n", before.len(), after.len()),
    }
}

/// Ends a pull a crash interrupted (its journal is in the config's folder), and says how.
fn recover(folder: &Path, printer: &Printer) -> Result<(), Error> {
    let list = |files: &[PathBuf]| -> String {
        let names: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
        names.join(", ")
    };
    match run_pull::recover(folder)? {
        Recovery::Nothing => {}
        Recovery::Finished(files) => printer.warn(&format!(
            "finished the pull a crash interrupted: {} now hold{} what it pulled",
            list(&files),
            if files.len() == 1 { "s" } else { "" }
        )),
        Recovery::RolledBack(files) => printer.warn(&format!(
            "rolled back the pull a crash interrupted (a new file was missing or changed): {} \
             kept what {} held before it",
            list(&files),
            if files.len() == 1 { "it" } else { "they" }
        )),
    }
    Ok(())
}
