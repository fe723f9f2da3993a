//! The command-line layer: parse, dispatch, render errors, map to exit codes.
//!
//! Only this module knows about clap and process exit codes. Commands live one per file under
//! `commands/`; the I/O they share around the pure engine is in `engine.rs`.

pub mod args;
pub mod commands;
pub mod engine;
pub mod exit;
pub mod interrupt;
pub mod markdown_out;
pub mod output;
pub mod plan_file;
pub mod progress;

use clap::{CommandFactory as _, Parser as _};

use args::{Cli, Command};
use exit::ExitStatus;
use output::Printer;

use crate::error::Error;

/// Runs kvsync with the process's arguments and returns its exit code.
pub fn run() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
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
        Command::Validate(args) => commands::validate::run(args, &cli.global, printer),
        Command::Plan(args) => block_on(commands::plan::run(args, &cli.global, printer)),
        Command::Apply(args) => block_on(commands::apply::run(args, &cli.global, printer)),
        Command::Drift(args) => block_on(commands::drift::run(args, &cli.global, printer)),
        Command::Export(args) => block_on(commands::export::run(args, &cli.global, printer)),
        Command::Init(args) => commands::init::run(args, printer),
        Command::Schema => {
            printer.data(&crate::config::schema_json());
            Ok(ExitStatus::Success)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "kvsync", &mut out);
            printer.data(&String::from_utf8_lossy(&out));
            Ok(ExitStatus::Success)
        }
    }
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
    printer.error(&error.to_string(), &error.hints());
}
