//! `kvsync init`: write a starter `kvsync.yaml` (commented, with the schema line for editors),
//! or, with `--from-wrangler`, one scope per KV binding of the wrangler config found in the
//! current folder or above it. It never overwrites a file without `--force`, and it loads what
//! it wrote, so a problem (a binding without an id, say) shows at once.

use std::path::{Component, Path, PathBuf};

use crate::cli::args::InitArgs;
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config::{self, starter, wrangler};
use crate::error::Error;
use crate::text::plural;

pub fn run(args: &InitArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    if args.output.exists() && !args.force {
        return Err(Error::Usage(format!(
            "`{}` already exists; pass `--force` to overwrite it, or `-o FILE` to write elsewhere",
            args.output.display()
        )));
    }
    let folder = match args.output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&folder).map_err(io)?;
    let folder_name = std::fs::canonicalize(&folder)
        .ok()
        .and_then(|f| f.file_name().and_then(|n| starter::owner_from(&n.to_string_lossy())));
    if let Some(owner) = &args.owner
        && starter::owner_from(owner).as_deref() != Some(owner)
    {
        return Err(Error::Usage(format!(
            "owner `{owner}` is not valid: use 1 to 64 lowercase letters, digits, `.`, `_` or `-`"
        )));
    }

    // Bindings with both ids need `--preview` on every run (init does not pick one for the
    // user): the check below passes `--preview false`, and the note says so.
    let (text, what, both_ids) = if args.from_wrangler {
        from_wrangler(args, &folder, folder_name)?
    } else {
        let owner =
            args.owner.clone().or(folder_name).unwrap_or_else(|| starter::DEFAULT_OWNER.to_owned());
        (starter::starter(&owner), "a starter config".to_owned(), Vec::new())
    };
    // A link at `-o` is followed only when it points inside the current folder.
    crate::fs::write(&args.output, text.as_bytes(), Path::new("."))?;
    printer.info(&format!("Wrote `{}`: {what}.", args.output.display()));

    let vars = |name: &str| std::env::var(name).ok();
    let preview = (!both_ids.is_empty()).then_some(false);
    let options =
        config::LoadOptions { environment: None, preview, target: None, vars: &vars, titles: None };
    match config::load(&args.output, &options) {
        Ok(_) => {
            if !both_ids.is_empty() {
                let names: Vec<String> = both_ids.iter().map(|b| format!("`{b}`")).collect();
                let n = names.len();
                printer.info(&format!(
                    "{} {} {} both `id` and `preview_id`: pass `--preview false` (the `id`) or \
                     `--preview` to each command, as wrangler asks, or pin one with `preview:`.",
                    plural(n, "Binding", "Bindings"),
                    names.join(", "),
                    plural(n, "has", "have"),
                ));
            }
            let flag = if both_ids.is_empty() { "" } else { " --preview false" };
            printer.info(&format!(
                "Next: `kvsync plan -c {}{flag}` (add `--target local` to try it without an \
                 account).",
                args.output.display()
            ));
        }
        Err(config::Error::Invalid(diagnostics)) => {
            printer.warn("the new config does not load yet; fix these before `kvsync plan`:");
            printer.stderr(&crate::report::diagnostic::render_human(
                &diagnostics,
                printer.stderr_color,
            ));
        }
        Err(error) => return Err(error.into()),
    }
    Ok(ExitStatus::Success)
}

/// `init --from-wrangler`: the config text with one scope per KV binding of the wrangler config
/// found from the current folder, what it is (for the message), and the bindings with both ids.
fn from_wrangler(
    args: &InitArgs,
    folder: &Path,
    folder_name: Option<String>,
) -> Result<(String, String, Vec<String>), Error> {
    let cwd = std::env::current_dir().map_err(io)?;
    let Some(found) = wrangler::find(&cwd) else { return Err(Error::NoWranglerConfig) };
    let shown = relative(&cwd, &found);
    let parsed = wrangler::read(&found).map_err(|detail| Error::WranglerUnreadable {
        path: shown.display().to_string(),
        detail,
    })?;
    // The new config finds wrangler's by itself when it would look up the same file.
    let output_folder = std::fs::canonicalize(folder).map_err(io)?;
    let field = (wrangler::find(&output_folder).as_deref() != Some(found.as_path()))
        .then(|| relative(&output_folder, &found).to_string_lossy().replace('\\', "/"));
    let owner = args
        .owner
        .clone()
        .or_else(|| parsed.name.as_deref().and_then(starter::owner_from))
        .or(folder_name)
        .unwrap_or_else(|| starter::DEFAULT_OWNER.to_owned());
    let shown_text = shown.to_string_lossy().replace('\\', "/");
    let Some(text) = starter::from_wrangler(&parsed, &shown_text, &owner, field.as_deref()) else {
        return Err(Error::NoKvBindings { path: shown_text });
    };
    let both_ids =
        starter::bindings_with_both_ids(&parsed).into_iter().map(str::to_owned).collect();
    Ok((text, format!("one scope per KV binding of `{shown_text}`"), both_ids))
}

fn io(source: std::io::Error) -> Error {
    Error::Io { context: "writing the config", source }
}

/// `to` as seen from the folder `from` (both absolute): `wrangler.jsonc`, `../wrangler.toml`.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component<'_>> = from.components().collect();
    let to_parts: Vec<Component<'_>> = to.components().collect();
    let common = from.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(relative(&p("/a/b"), &p("/a/b/w.toml")), p("w.toml"));
        assert_eq!(relative(&p("/a/b/c"), &p("/a/w.toml")), p("../../w.toml"));
        assert_eq!(relative(&p("/a/b"), &p("/a/x/w.toml")), p("../x/w.toml"));
    }
}
