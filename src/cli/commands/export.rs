//! `kvsync export`: read a live namespace (or a prefix of it) and write a `kvsync.yaml` that
//! reproduces it exactly, so a namespace that already holds keys can be brought under kvsync.
//!
//! This file does the I/O: it opens the target as every command does (`--target`,
//! `--api-url`, `--local-path`), lists the scope, reads values 100 keys per bulk get (the
//! Cloudflare target falls back to a single GET only for values that are not text), writes
//! value files as they come, and writes the YAML only once it loads back as exactly what was
//! read. What the YAML says and how is `config::export`'s business.

use std::path::{Path, PathBuf};

use crate::cli::args::ExportArgs;
use crate::cli::engine::{self, Access};
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config::Heads;
use crate::config::export::{Export, ExportOptions, Exporter, LiveEntry, VALUES_DIR, ValueFile};
use crate::error::Error;
use crate::kv::Store;
use crate::kv::{self, KvStore as _, LiveValue, ReadHint};
use crate::text::{counted, first_lines, plural};

pub async fn run(args: &ExportArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let context = &engine::Context::new(&args.target)?;
    let now = context.now;
    let options = ExportOptions {
        namespace_id: args.namespace_id.clone(),
        prefix: args.prefix.clone(),
        owner: args.owner.clone(),
        sensitive: args.sensitive.clone(),
        target: context.target_flag(),
        now,
    };
    let mut exporter = Exporter::new(options).map_err(Error::Usage)?;
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && args.output.exists() && !args.force {
        return Err(Error::Usage(format!(
            "`{}` already exists; pass `--force` to overwrite it, or `-o FILE` to write elsewhere",
            args.output.display()
        )));
    }
    let folder = match args.output.parent() {
        Some(parent) if !to_stdout && !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };

    fs_err::create_dir_all(&folder).map_err(io("writing the export"))?;
    let store = open_store(context, printer)?;
    let mut listed = kv::list_all(&store, &args.namespace_id, &args.prefix).await?;
    // Listings come in byte order; the export's stability must not depend on it.
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    listed.dedup_by(|a, b| a.name == b.name);
    printer.verbose(&format!("read the listing: {} keys", listed.len()));

    let mut written: Vec<String> = Vec::new();
    // A target whose text reads are not exact (Cloudflare's bulk get drops a leading U+FEFF)
    // tells the exporter so.
    let text_reads = !store.capabilities().exact_text_reads;
    let names: Vec<String> = listed.iter().map(|k| k.name.to_string()).collect();
    let hints: Vec<ReadHint> =
        listed.iter().map(|k| ReadHint { exact: false, listed_expiration: k.expiration }).collect();
    kv::read::read_each(&store, &args.namespace_id, &names, &hints, &mut |i, value| {
        let key = &listed[i];
        let (value, read_as_text) = match value {
            LiveValue::Text(text) => (text.into_bytes(), text_reads),
            LiveValue::Binary(bytes) => (bytes, false),
            LiveValue::Missing => {
                exporter.skip(&key.name, "it was deleted or expired while exporting");
                return Ok(());
            }
            LiveValue::Unreadable(reason) => {
                exporter.skip(&key.name, &format!("its value could not be read: {reason}"));
                return Ok(());
            }
        };
        let entry = LiveEntry {
            key: key.name.to_string(),
            value,
            metadata: key.metadata.to_json(),
            expiration: key.expiration,
        };
        if let Some(file) = exporter.add_read(entry, read_as_text) {
            write_value_file(&folder, &file)?;
            written.push(file.path);
        }
        Ok::<(), Error>(())
    })
    .await?;
    let export = exporter.finish();
    if export.files > 0 {
        // Value files are bytes: a Windows checkout must not rewrite their line endings.
        let attributes = folder.join(VALUES_DIR).join(".gitattributes");
        crate::fs::write(&attributes, b"* -text\n", Path::new("."))?;
    }
    write_yaml(&export, args, &folder, to_stdout, printer)?;
    summarise(&export, args, &folder, &written, to_stdout, printer);
    if let Some(summary) = store.request_summary() {
        printer.verbose(&summary);
    }
    store.close()?;
    Ok(ExitStatus::Success)
}

/// Opens the target the way the other commands do, from the command line alone (an export has
/// no config yet): `--target`, `--local-path`, `--api-url`, and the account and token from the
/// environment.
pub fn open_store(context: &engine::Context, printer: &Printer) -> Result<Store, Error> {
    let none = Heads { target: None, account_id: None, local_path: None, scopes: Vec::new() };
    context.open_store(&none, Access::Read, printer)
}

fn io(context: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

fn write_value_file(folder: &Path, file: &ValueFile) -> Result<(), Error> {
    let path = folder.join(&file.path);
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent).map_err(io("writing a value file"))?;
    }
    crate::fs::write(&path, &file.bytes, Path::new("."))?;
    Ok(())
}

/// Writes the YAML beside its value files under a temporary name (`crate::fs`), loads it back,
/// and only then moves it into place (or prints it): a file that would not reproduce the
/// namespace is never left behind. A link at `-o` is followed only when it points inside the
/// current folder.
fn write_yaml(
    export: &Export,
    args: &ExportArgs,
    folder: &Path,
    to_stdout: bool,
    printer: &Printer,
) -> Result<(), Error> {
    let fill = |out: &mut dyn std::io::Write| out.write_all(export.yaml.as_bytes());
    if to_stdout {
        // Printed, the file is still written beside its value files to be loaded back (`file:`
        // paths resolve against its folder), and removed when dropped.
        let scratch = crate::fs::scratch(folder, fill)?;
        export.verify(scratch.temporary())?;
        printer.data(&export.yaml);
        return Ok(());
    }
    let staged = crate::fs::stage(&args.output, Path::new("."), fill)?;
    export.verify(staged.temporary())?;
    staged.commit()?;
    Ok(())
}

/// What was written, on stderr: counts, keys left out, variables to set, other owners' keys, and
/// what to run next.
fn summarise(
    export: &Export,
    args: &ExportArgs,
    folder: &Path,
    written: &[String],
    to_stdout: bool,
    printer: &Printer,
) {
    let place =
        if args.prefix.is_empty() { String::new() } else { format!(" (prefix {:?})", args.prefix) };
    let target =
        if to_stdout { "stdout".to_owned() } else { format!("`{}`", args.output.display()) };
    let files = match export.files {
        0 => String::new(),
        1 => format!("; 1 value is a file in `{VALUES_DIR}/`"),
        n => format!("; {n} values are files in `{VALUES_DIR}/`"),
    };
    printer.info(&format!(
        "Exported {} from namespace {}{place} to {target}{files}.",
        counted(export.keys, "key", "keys"),
        args.namespace_id,
    ));
    if !export.skipped.is_empty() {
        let mut text =
            format!("{} left out:", counted(export.skipped.len(), "key was", "keys were"));
        for (key, reason) in export.skipped.iter().take(10) {
            text.push_str(&format!("\n  - {key:?}: {reason}"));
        }
        if export.skipped.len() > 10 {
            text.push_str(&format!(
                "\n  … and {} more (see the comments in the file)",
                export.skipped.len() - 10
            ));
        }
        printer.warn(&text);
    }
    if !export.unproven.is_empty() {
        let mut text = format!(
            "{} read as text, which drops a leading byte order mark (U+FEFF), and nothing proves \
             {} byte-exact (only a kvsync marker holding the hash of what was read does):",
            counted(export.unproven.len(), "value was", "values were"),
            plural(export.unproven.len(), "it", "them"),
        );
        text.push_str(&first_lines(export.unproven.iter().map(|key| format!("{key:?}")), 10));
        text.push_str(
            "\n  a value that began with one is exported without it; check such values by hand",
        );
        printer.warn(&text);
    }
    if !export.sensitive.is_empty() {
        let variables: Vec<String> =
            export.sensitive.iter().map(|s| format!("`{}`", s.variable)).collect();
        let (what, whose) = match export.sensitive.len() {
            1 => ("1 sensitive key is a `${VAR}` reference".to_owned(), "its value"),
            n => (format!("{n} sensitive keys are `${{VAR}}` references"), "their values"),
        };
        printer.info(&format!(
            "{what}: set {} to {whose} before `kvsync plan`.",
            variables.join(", ")
        ));
    }
    for (owner, count) in &export.foreign_owners {
        printer.warn(&format!(
            "{} the marker of owner `{owner}`: `kvsync plan` shows {} as conflicts; pass \
             `--owner {owner}` if this config takes that owner's place",
            counted(*count, "key carries", "keys carry"),
            plural(*count, "it", "them"),
        ));
    }
    let stale = stale_value_files(folder, written);
    if !stale.is_empty() {
        printer.warn(&format!(
            "{} in `{VALUES_DIR}/` not part of this export (left from an earlier one?); remove \
             {}",
            counted(stale.len(), "file is", "files are"),
            plural(stale.len(), "it", "them")
        ));
    }
    if export.expiring > 0 {
        printer.info(&format!(
            "{} exported with an absolute `expiration`: the API lists only when a key expires, \
             not whether it was written with `expiration_ttl`; where a key should live a fixed \
             time after each write, write `expiration_ttl: SECONDS` instead.",
            counted(export.expiring, "key expires and is", "keys expire and are"),
        ));
    }
    if !to_stdout && export.unmarked > 0 {
        printer.info(&format!(
            "Next: `kvsync plan -c {}` shows {} without kvsync's marker as `adopt`.",
            args.output.display(),
            counted(export.unmarked, "key", "keys"),
        ));
    }
}

/// Files in the values folder that this export did not write.
fn stale_value_files(folder: &Path, written: &[String]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder.join(VALUES_DIR)) else {
        return Vec::new();
    };
    let written: std::collections::HashSet<&str> = written.iter().map(String::as_str).collect();
    let mut stale: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| format!("{VALUES_DIR}/{}", e.file_name().to_string_lossy()))
        .filter(|path| !written.contains(path.as_str()) && !path.ends_with("/.gitattributes"))
        .collect();
    stale.sort();
    stale
}
