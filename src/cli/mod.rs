//! The command-line layer: parse, dispatch, render errors, map to exit codes.
//!
//! Only this module knows about clap and process exit codes. Commands live one per file under
//! `commands/`; the I/O they share around the pure engine is in `engine.rs`.

pub mod args;
pub mod commands;
pub mod context;
pub mod engine;
pub mod exit;
pub mod interrupt;
pub mod markdown_out;
pub mod output;
pub mod progress;

use clap::FromArgMatches as _;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use args::{Cli, Command};
use exit::ExitStatus;
use output::Printer;

use crate::error::Error;

/// Runs kvsync with the process's arguments and returns its exit code.
pub fn run() -> std::process::ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed =
        args::command().try_get_matches_from(&argv).and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(mut error) => {
            if let Some(tip) = usage_tip(&error, &argv) {
                error.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![tip.into()]));
            }
            let _ = error.print();
            // Help and version are successes; usage errors exit 1 so that 2 always means
            // "changes present".
            return if error.use_stderr() { ExitStatus::Failure } else { ExitStatus::Success }
                .into();
        }
    };
    let printer = Printer::new(cli.global.color, cli.global.quiet, cli.global.verbose);
    match dispatch(&cli, &printer) {
        Ok(status) => status.into(),
        Err(error) => {
            report_error(&error, &printer);
            ExitStatus::Failure.into()
        }
    }
}

fn dispatch(cli: &Cli, printer: &Printer) -> Result<ExitStatus, Error> {
    match &cli.command {
        Command::Validate(args) => commands::validate::run(args, printer),
        Command::Plan(args) => block_on(commands::plan::run(args, printer)),
        Command::Apply(args) => block_on(commands::apply::run(args, printer)),
        Command::Drift(args) => block_on(commands::drift::run(args, printer)),
        Command::Diff(args) => block_on(commands::diff::run(args, printer)),
        Command::Export(args) => block_on(commands::export::run(args, printer)),
        Command::Init(args) => commands::init::run(args, printer),
        Command::Types(args) => commands::types::run(args, printer),
        Command::Pull(args) => block_on(commands::pull::run(args, printer)),
        Command::Restore(args) => block_on(commands::restore::run(args, printer)),
        Command::Schema => {
            printer.data(&crate::config::schema_json());
            Ok(ExitStatus::Success)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut args::command(), "kvsync", &mut out);
            printer.data(&String::from_utf8_lossy(&out));
            Ok(ExitStatus::Success)
        }
    }
}

/// What a Terraform or wrangler user most likely meant, for a usage error clap's own message
/// does not explain: Terraform's `-target` is not kvsync's `--target`, and Terraform's one-dash
/// long options (`-auto-approve`, `-out=FILE`) parse as bundles of short flags here.
fn usage_tip(error: &clap::Error, argv: &[std::ffi::OsString]) -> Option<String> {
    let command = args::command();
    let words: Vec<String> =
        argv.iter().skip(1).map(|word| word.to_string_lossy().into_owned()).collect();
    // The subcommand named, if any: its long options count, besides the global ones.
    let sub = words.iter().find_map(|word| command.find_subcommand(word.as_str()));
    let longs: Vec<&str> = command
        .get_arguments()
        .chain(sub.into_iter().flat_map(clap::Command::get_arguments))
        .filter_map(clap::Arg::get_long)
        .collect();
    if let Some(tip) = foreign_flag_tip(error, &words, sub.map(clap::Command::get_name)) {
        return Some(tip);
    }
    if error.kind() == ErrorKind::InvalidValue
        && let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg)
        && arg.starts_with("--target")
    {
        let what = "`--target` is where the namespaces live (cloudflare or local)";
        if !longs.contains(&"only") {
            return Some(format!("{what}; an environment is picked with `--env NAME`"));
        }
        let value = match error.get(ContextKind::InvalidValue) {
            Some(ContextValue::String(value)) if !value.is_empty() => value.clone(),
            _ => "GLOB".to_owned(),
        };
        return Some(format!("{what}; to narrow a plan to some keys, use `--only {value}`"));
    }
    words.iter().take_while(|word| word.as_str() != "--").find_map(|word| {
        let rest = word.strip_prefix('-').filter(|rest| !rest.starts_with('-'))?;
        let (name, value) = match rest.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (rest, None),
        };
        (name.len() > 1 && longs.contains(&name)).then(|| {
            let two_dashes = match value {
                Some(value) => format!("--{name} {value}"),
                None => format!("--{name}"),
            };
            format!("kvsync's long options take two dashes: `{two_dashes}`, not `{word}`")
        })
    })
}

/// The tip for a flag of Terraform, wrangler or another CLI that kvsync spells otherwise, when
/// it is the argument clap refused (clap names only the first letter of a one-dash bundle, so
/// the word must start with it). Never an alias: the run still fails, with the right spelling.
fn foreign_flag_tip(error: &clap::Error, words: &[String], sub: Option<&str>) -> Option<String> {
    if error.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(refused)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let word = words
        .iter()
        .take_while(|word| word.as_str() != "--")
        .find(|word| word.starts_with(refused.as_str()))?;
    let (name, value) = match word.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (word.as_str(), None),
    };
    let apply = sub == Some("apply");
    let tip = match name {
        "--yes" | "-y" | "-yes" if apply => {
            "kvsync has no `--yes`: `kvsync apply --auto-approve` applies without asking".to_owned()
        }
        "--dry-run" | "-dry-run" if apply => {
            "kvsync has no `apply --dry-run`: `kvsync plan` shows what apply would do, and writes \
             nothing"
                .to_owned()
        }
        "-no-color" | "--no-color" => {
            "kvsync spells it `--color never` (the `NO_COLOR` variable works too)".to_owned()
        }
        "-json" | "--json" => "kvsync spells it `--format json`".to_owned(),
        "-target" => {
            // `-target=KEY`, or `-target KEY`.
            let next = words.iter().skip_while(|w| *w != word).nth(1).map(String::as_str);
            let key = value.or(next).filter(|v| !v.is_empty() && !v.starts_with('-'));
            let key = key.unwrap_or("KEY");
            format!(
                "Terraform's `-target` is `--only {key}` in kvsync (`--target` is where the \
                 namespaces live: cloudflare or local)"
            )
        }
        _ => return None,
    };
    Some(tip)
}

/// kvsync is I/O-bound and drives its requests on one thread.
fn block_on<F: Future<Output = Result<ExitStatus, Error>>>(future: F) -> Result<ExitStatus, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io { context: "starting the async runtime", source })?
        .block_on(future)
}

fn report_error(error: &Error, printer: &Printer) {
    if let Error::Config(crate::config::Error::Invalid(diagnostics)) = error {
        printer.stderr(&crate::report::diagnostic::render_human(diagnostics, printer.stderr_color));
        return;
    }
    printer.error(&error.to_string(), &crate::text::Hint::hints(error));
}
