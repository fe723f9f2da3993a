//! `kvsync validate`: load and check the config; touch no namespace.

use crate::cli::args::{ValidateArgs, ValidateFormat};
use crate::cli::engine;
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config;
use crate::error::Error;
use crate::report::diagnostic;

pub fn run(args: &ValidateArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let result = engine::load(&args.config, args.target.target, printer);
    match (args.format, result) {
        (ValidateFormat::Human, Ok(desired)) => {
            let keys: usize = desired.scopes.iter().map(|s| s.entries.len()).sum();
            let environment = desired
                .environment
                .as_deref()
                .map(|e| format!(" (environment `{e}`)"))
                .unwrap_or_default();
            let scopes = desired.scopes.len();
            printer.info(&format!(
                "`{}` is valid{environment}: {scopes} {}, {keys} {}",
                args.config.path().display(),
                crate::text::plural(scopes, "scope", "scopes"),
                crate::text::plural(keys, "key", "keys"),
            ));
            Ok(ExitStatus::Success)
        }
        (ValidateFormat::Human, Err(error)) => Err(error),
        (ValidateFormat::Json, Ok(_)) => {
            printer.data(&diagnostic::render_json(&[]));
            Ok(ExitStatus::Success)
        }
        (ValidateFormat::Github, Ok(_)) => Ok(ExitStatus::Success),
        (format, Err(Error::Config(config::Error::Invalid(diagnostics)))) => {
            printer.data(&match format {
                ValidateFormat::Json => diagnostic::render_json(&diagnostics),
                _ => diagnostic::render_github(&diagnostics),
            });
            Ok(ExitStatus::Failure)
        }
        (_, Err(error)) => Err(error),
    }
}
