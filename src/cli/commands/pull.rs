//! `kvsync pull`: write changes made live back into the config.
//!
//! Lists every scope, reads the values `plan::pull::values_to_read` names (all desired keys with
//! `--deep`), decides which keys are hand edits (`plan::pull::find`, pure), turns them into
//! edits of the config's files (`config::edit::edits`), checks the whole result loaded from
//! memory before any file is touched (`config::edit::check`: every pulled key says what is live,
//! every other key is as it was), and then prints the diff (`--dry-run`) or writes the files,
//! all or none across a crash (`crate::fs::journal`). A pull a crash interrupted is finished or
//! rolled back first.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cli::args::{PullArgs, PullFormat};
use crate::cli::engine::{self, Access};
use crate::cli::exit::ExitStatus;
use crate::cli::output::Printer;
use crate::config::edit;
use crate::config::{self, Globs};
use crate::error::Error;
use crate::fs::journal::{self, Planned, Recovery};
use crate::kv::{BULK_GET_MAX, KvStore, ReadHint};
use crate::plan::pull::{self, Found, Report};
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
    let engine::Listed { desired, store, live, files } =
        engine::load_and_list(&args.config, context, Access::Read, printer).await?;
    let options =
        pull::Options { owner: desired.owner.clone(), deep: args.deep, adopt: args.adopt, only };

    let mut findings = Vec::new();
    let mut adoptable = 0usize;
    for (index, scope) in desired.scopes.iter().enumerate() {
        let Some(listing) = live.get(index) else { continue };
        let wanted = pull::values_to_read(scope, listing, &options);
        let mut values = HashMap::new();
        // Binary values and keys to adopt are read as bytes: they go into files.
        let exact = |key: &str| scope.entries.get(key).is_none_or(|e| !e.is_text);
        read_values(&store, &scope.namespace_id, &wanted, &exact, &mut values).await?;
        let read = |entry: &config::DesiredEntry| entry.read().ok();
        let mut found = pull::find(scope, listing, &values, &read, &options);
        // A text read drops a leading U+FEFF: what is written into a file is read again as
        // bytes first (one request per key to pull, which are few), and decided again.
        let pulled: HashSet<&str> = found
            .iter()
            .filter(|f| matches!(f.found, Found::Pull(_)))
            .map(|f| f.key.as_str())
            .collect();
        let inexact: Vec<&crate::kv::ListedKey> = wanted
            .iter()
            .copied()
            .filter(|listed| pulled.contains(listed.name.as_str()) && !exact(listed.name.as_str()))
            .collect();
        drop(pulled);
        if !inexact.is_empty() {
            read_values(&store, &scope.namespace_id, &inexact, &|_| true, &mut values).await?;
            found = pull::find(scope, listing, &values, &read, &options);
        }
        findings.extend(found.into_iter().map(|finding| (scope.name.clone(), finding)));
        if !args.adopt {
            adoptable += pull::adoptable_count(scope, listing, &options);
        }
    }

    let vars = |name: &str| (context.vars)(name);
    let edit_context = edit::Context {
        root: args.config.path(),
        files: &files,
        environment: desired.environment.as_deref(),
        into: args.into.as_deref(),
        preview: args.config.preview,
        target: context.target_flag(),
        vars: &vars,
    };
    let secrets: Vec<(String, String, edit::SecretParts)> = findings
        .iter()
        .filter_map(|(scope, f)| match f.found {
            Found::Sensitive { value, metadata, expiration } => Some((
                scope.clone(),
                f.key.clone(),
                edit::SecretParts { value, metadata, expiration },
            )),
            _ => None,
        })
        .collect();
    let secrets = edit::secret_names(&edit_context, &secrets);
    let config_dir = args.config.path().parent().unwrap_or(Path::new("")).to_path_buf();
    let history = History::new(config::shown_dir(&config_dir));
    let applied = |rev: Option<&str>| pull::applied_live(history.has(rev), &desired.owner);
    let (changes, mut rows) = pull::decide(&findings, args.remove_missing, &secrets, &applied);
    let edits = edit::edits(&edit_context, &desired, &changes).map_err(Error::Usage)?;
    // The whole result, loaded from memory, before anything is written (a dry run too).
    let environments = config::environment_names(args.config.path());
    edit::check(&edit_context, &desired, &changes, &edits, &environments)?;
    pull::settle(&mut rows, &edits.made, &edits.refused);
    store.close()?;

    let root_dir = args.config.path().parent().unwrap_or(Path::new("")).to_path_buf();
    let root_canonical = std::fs::canonicalize(crate::config::shown_dir(&root_dir)).ok();
    let shown = |path: &Path| -> String {
        let relative = root_canonical
            .as_deref()
            .and_then(|root| path.strip_prefix(root).ok())
            .or_else(|| path.strip_prefix(&root_dir).ok());
        relative.unwrap_or(path).display().to_string()
    };
    let report = Report {
        environment: desired.environment.clone(),
        rows,
        dry_run: args.dry_run,
        files: edits.files.iter().map(|file| shown(&file.path)).collect(),
        adoptable,
    };
    if args.dry_run {
        if args.format == PullFormat::Human {
            for file in &edits.files {
                printer.data(&unified_diff(&shown(&file.path), &file.before, &file.after));
            }
            if !edits.files.is_empty() {
                printer.data("\n");
            }
        }
    } else if !edits.files.is_empty() {
        write_all(&folder, &edits.files)?;
    }
    let text = match args.format {
        PullFormat::Human => report::pull::render_human(&report, printer.stdout_color),
        PullFormat::Json => report::pull::render_json(&report),
    };
    printer.data(&text);
    Ok(if report.has_changes() { ExitStatus::Changes } else { ExitStatus::Success })
}

/// Reads the values of `keys` of one namespace, 100 per bulk get, as bytes where `exact` says.
async fn read_values(
    store: &crate::kv::Store,
    namespace_id: &str,
    keys: &[&crate::kv::ListedKey],
    exact: &dyn Fn(&str) -> bool,
    values: &mut HashMap<String, crate::kv::LiveValue>,
) -> Result<(), Error> {
    for chunk in keys.chunks(BULK_GET_MAX) {
        let names: Vec<String> = chunk.iter().map(|k| k.name.as_str().to_owned()).collect();
        let hints: Vec<ReadHint> = chunk
            .iter()
            .map(|listed| ReadHint {
                exact: exact(listed.name.as_str()),
                listed_expiration: listed.expiration,
            })
            .collect();
        let read = store.read_values(namespace_id, &names, &hints).await?;
        values.extend(names.into_iter().zip(read));
    }
    Ok(())
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

/// Writes every file all or none, across a crash (`crate::fs::journal`, its journal in the
/// config's folder).
fn write_all(folder: &Path, files: &[edit::FileEdit]) -> Result<(), Error> {
    let planned: Vec<Planned<'_>> = files
        .iter()
        .map(|file| Planned { path: &file.path, before: &file.before, after: &file.after })
        .collect();
    Ok(journal::write_all(folder, &planned)?)
}

/// Ends a pull a crash interrupted (its journal is in the config's folder), and says how.
fn recover(folder: &Path, printer: &Printer) -> Result<(), Error> {
    let list = |files: &[PathBuf]| -> String {
        let names: Vec<String> = files.iter().map(|f| format!("`{}`", f.display())).collect();
        names.join(", ")
    };
    match journal::recover(folder)? {
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

/// What the config's git history holds: whether a marker's revision is an ancestor of the
/// checked-out commit (`git merge-base --is-ancestor`). Unknown (`None`) without a revision,
/// outside a repository, in a shallow clone (whose history may stop before it), or for a
/// revision git does not know. Each revision is asked once.
struct History {
    dir: PathBuf,
    /// Whether the clone is shallow (or no repository): asked once, when a revision is.
    shallow: std::cell::OnceCell<bool>,
    answers: std::cell::RefCell<HashMap<String, Option<bool>>>,
}

impl History {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            shallow: std::cell::OnceCell::new(),
            answers: std::cell::RefCell::default(),
        }
    }

    fn has(&self, rev: Option<&str>) -> Option<bool> {
        let rev = rev?;
        let shallow = *self.shallow.get_or_init(|| {
            git(&self.dir, &["rev-parse", "--is-shallow-repository"])
                .is_none_or(|(code, out)| code != 0 || out.trim() != "false")
        });
        // A revision is a commit name, never an option.
        if shallow
            || rev.starts_with('-')
            || !rev.chars().all(|c| c.is_ascii_alphanumeric() || "._/^~-".contains(c))
        {
            return None;
        }
        if let Some(answer) = self.answers.borrow().get(rev) {
            return *answer;
        }
        let answer = match git(&self.dir, &["merge-base", "--is-ancestor", rev, "HEAD"]) {
            Some((0, _)) => Some(true),
            Some((1, _)) => Some(false),
            _ => None,
        };
        self.answers.borrow_mut().insert(rev.to_owned(), answer);
        answer
    }
}

/// Runs git in `dir`: its exit code and standard output; `None` when git cannot be run.
fn git(dir: &Path, args: &[&str]) -> Option<(i32, String)> {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    Some((output.status.code()?, String::from_utf8_lossy(&output.stdout).into_owned()))
}
