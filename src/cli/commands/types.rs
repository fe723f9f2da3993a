//! `kvsync types`: the TypeScript module for the Workers that read the keys (`crate::types`).

use std::path::Path;

use crate::cli::args::{DEFAULT_CONFIG, TypesArgs};
use crate::cli::engine;
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config;
use crate::error::Error;

pub fn run(args: &TypesArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let path = args.config.as_deref().unwrap_or(Path::new(DEFAULT_CONFIG));
    // One Worker build serves every environment: type the union, unless one is asked for.
    let environments: Vec<Option<String>> = match &args.env {
        Some(environment) => vec![Some(environment.clone())],
        None => {
            let names = config::environment_names(path);
            if names.is_empty() { vec![None] } else { names.into_iter().map(Some).collect() }
        }
    };
    let vars = |name: &str| std::env::var(name).ok();
    let mut configs = Vec::with_capacity(environments.len());
    for (index, environment) in environments.into_iter().enumerate() {
        let options =
            config::LoadOptions { vars: &vars, ..config::LoadOptions::of(environment.as_deref()) };
        let loaded = config::load(path, &options)?;
        // Each environment repeats the base config's warnings: say them once.
        if index == 0 {
            engine::warn(&loaded, printer);
        }
        configs.push((environment, loaded.desired));
    }
    let shown = path
        .file_name()
        .map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned());
    let generated = crate::types::generate(&shown, &configs);
    for warning in &generated.warnings {
        printer.warn(warning);
    }
    let module = generated.text;
    let Some(out) = &args.out else {
        printer.data(&module);
        return Ok(ExitStatus::Success);
    };
    let current = std::fs::read(out).ok();
    if args.check {
        if current.as_deref() == Some(module.as_bytes()) {
            printer.info(&format!("`{}` is up to date", out.display()));
            return Ok(ExitStatus::Success);
        }
        let why = if current.is_none() { "does not exist" } else { "is stale" };
        printer.stderr(&format!(
            "`{}` {why}: run `kvsync types --out {}` and commit the result\n",
            out.display(),
            out.display()
        ));
        return Ok(ExitStatus::Changes);
    }
    if current.as_deref() != Some(module.as_bytes()) {
        // A link at `--out` is followed only when it points inside the current folder.
        crate::fs::write(out, module.as_bytes(), Path::new("."))?;
    }
    printer.info(&format!("wrote `{}` ({} bytes)", out.display(), module.len()));
    Ok(ExitStatus::Success)
}
