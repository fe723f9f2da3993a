//! `kvsync pull`'s run, beside apply's: the config made to say what is live.
//!
//! [`pull`] reads the values `plan::pull::values_to_read` names through the one reader
//! (`kv::read`, each value once, as exact bytes: what is read may be written into a file),
//! decides which keys are hand edits (`plan::pull::find`, pure), turns them into edits of the
//! config's files (`config::edit::edits`) and checks the whole result loaded from memory before
//! any file is touched (`config::edit::check`: every pulled key says what is live, every other
//! key is as it was). [`write`] then writes the files all or none across a crash
//! (`crate::fs::journal`); [`recover`] ends a pull a crash interrupted. Which keys were
//! applied from elsewhere is the config's git history's to say ([`History`]).

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::config::edit::{self, FileEdit, SecretParts};
use crate::config::{Desired, DesiredEntry};
use crate::fs::journal::{self, Planned, Recovery};
use crate::kv::{self, KvStore, LiveValue, ReadHint};
use crate::plan::LiveScope;
use crate::plan::pull::{self, Finding, Found, Report};

/// What one pull is asked to do, and with what.
pub struct Request<'a> {
    /// The root config, as the user named it (`-c`).
    pub root: &'a Path,
    /// The YAML files the load read, root first.
    pub files: &'a [PathBuf],
    /// Each scope's included files, as places in `files` (`config::Loaded::included`).
    pub included: &'a std::collections::BTreeMap<String, Vec<usize>>,
    pub options: &'a pull::Options,
    /// `--remove-missing`.
    pub remove_missing: bool,
    /// `--into FILE`.
    pub into: Option<&'a Path>,
    /// `--preview`, as the config was loaded.
    pub preview: Option<bool>,
    /// `--target`, as the config was loaded.
    pub target: Option<crate::kv::TargetKind>,
    pub vars: &'a dyn Fn(&str) -> Option<String>,
    /// The target's namespaces by title, as the config was loaded (`namespace_title:`).
    pub titles: Option<&'a crate::kv::Titles>,
    /// Every environment the config names (empty without `environments:`).
    pub environments: &'a [String],
    /// Whether a marker's revision is an ancestor of the checked-out commit
    /// ([`History::has`]); `None`: unknown.
    pub ancestry: &'a dyn Fn(Option<&str>) -> Option<bool>,
    /// `--dry-run`: the report says "would".
    pub dry_run: bool,
}

/// What a pull found and would write.
#[derive(Debug)]
pub struct Pulled {
    pub report: Report,
    /// Every file that changes, checked; nothing is written yet.
    pub files: Vec<FileEdit>,
}

/// Why a pull stopped. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the live values failed.
    #[error(transparent)]
    Kv(#[from] kv::Error),
    /// The edits could not be computed, or the whole result is not what it should be.
    #[error(transparent)]
    Edit(#[from] edit::Error),
    /// Writing the files, or the journal of an interrupted pull.
    #[error(transparent)]
    Fs(#[from] crate::fs::Error),
}

/// Finds what changed live, decides what the config should say and computes the edits, checked
/// as a whole. Reads values; writes nothing. `live` is each scope's listing, in `desired`'s
/// scope order; both are let go before the check loads the config again.
pub async fn pull<S: KvStore>(
    store: &S,
    request: &Request<'_>,
    desired: Desired,
    live: Vec<LiveScope>,
) -> Result<Pulled, Error> {
    let findings = find(store, request, &desired, &live).await?;
    let adoptable = if request.options.adopt {
        0
    } else {
        desired
            .scopes
            .iter()
            .zip(&live)
            .map(|(scope, listing)| pull::adoptable_count(scope, listing, request.options))
            .sum()
    };
    drop(live);
    let environment = desired.environment.clone();
    let context = edit::Context {
        root: request.root,
        files: request.files,
        included: request.included,
        environment: environment.as_deref(),
        into: request.into,
        preview: request.preview,
        target: request.target,
        vars: request.vars,
        titles: request.titles,
    };
    let sensitive: Vec<(String, String, SecretParts)> = findings
        .iter()
        .filter_map(|(scope, f)| match f.found {
            Found::Sensitive { value, metadata, expiration } => {
                Some((scope.clone(), f.key.clone(), SecretParts { value, metadata, expiration }))
            }
            _ => None,
        })
        .collect();
    let secrets = edit::secret_names(&context, &sensitive);
    let applied = |rev: Option<&str>| pull::applied_live((request.ancestry)(rev), &desired.owner);
    let (changes, mut rows) = pull::decide(&findings, request.remove_missing, &secrets, &applied);
    let edits = edit::edits(&context, &desired, &changes)?;
    // The whole result, loaded from memory, before anything is written (a dry run too), with
    // only what the check compares of the desired state kept meanwhile.
    let before = edit::Before::of(&desired, &changes);
    drop(desired);
    edit::check(&context, environment.as_deref(), &before, &changes, &edits, request.environments)
        .map_err(edit::Error::from)?;
    pull::settle(&mut rows, &edits.made, &edits.refused);
    let report = Report {
        environment,
        rows,
        dry_run: request.dry_run,
        files: edits.files.iter().map(|file| edit::shown(request.root, &file.path)).collect(),
        adoptable,
    };
    Ok(Pulled { report, files: edits.files })
}

/// Every scope's findings, in scope order then key order. Each value is read once, as its
/// exact bytes: a text read would drop a leading U+FEFF (`kv::read`), and what is read may be
/// written into a file.
async fn find<S: KvStore>(
    store: &S,
    request: &Request<'_>,
    desired: &Desired,
    live: &[LiveScope],
) -> Result<Vec<(String, Finding)>, Error> {
    let mut findings = Vec::new();
    for (scope, listing) in desired.scopes.iter().zip(live) {
        let wanted = pull::values_to_read(scope, listing, request.options);
        let names: Vec<String> = wanted.iter().map(|key| key.name.as_str().to_owned()).collect();
        let hints: Vec<ReadHint> = wanted
            .iter()
            .map(|key| ReadHint { exact: true, listed_expiration: key.expiration })
            .collect();
        let values =
            kv::read::read_values(store, &scope.namespace_id, &names, &hints, &|_| {}).await?;
        let values: HashMap<String, LiveValue> = names.into_iter().zip(values).collect();
        let read = |entry: &DesiredEntry| entry.read().ok();
        let found = pull::find(scope, listing, &values, &read, request.options);
        findings.extend(found.into_iter().map(|finding| (scope.name.clone(), finding)));
    }
    Ok(findings)
}

/// Writes every file all or none, across a crash (`crate::fs::journal`, its journal in
/// `folder`, the config's).
pub fn write(folder: &Path, files: &[FileEdit]) -> Result<(), Error> {
    let planned: Vec<Planned<'_>> = files
        .iter()
        .map(|file| Planned { path: &file.path, before: &file.before, after: &file.after })
        .collect();
    Ok(journal::write_all(folder, &planned)?)
}

/// Ends a pull a crash interrupted (its journal in `folder`): finished when every new file is
/// there as planned, else rolled back.
pub fn recover(folder: &Path) -> Result<Recovery, Error> {
    Ok(journal::recover(folder)?)
}

/// What the config's git history holds: whether a marker's revision is an ancestor of the
/// checked-out commit (`git merge-base --is-ancestor`). Unknown (`None`) without a revision,
/// outside a repository, in a shallow clone (whose history may stop before it), or for a
/// revision git does not know. Each revision is asked once.
pub struct History {
    dir: PathBuf,
    /// Whether the clone is shallow (or no repository): asked once, when a revision is.
    shallow: OnceCell<bool>,
    answers: RefCell<HashMap<String, Option<bool>>>,
}

impl History {
    /// The history of the repository `dir` is in.
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), shallow: OnceCell::new(), answers: RefCell::default() }
    }

    /// Whether `rev` is an ancestor of `HEAD`; `None` when that cannot be known.
    pub fn has(&self, rev: Option<&str>) -> Option<bool> {
        let rev = rev?;
        // A revision is a commit name, never an option.
        if rev.starts_with('-')
            || !rev.chars().all(|c| c.is_ascii_alphanumeric() || "._/^~-".contains(c))
        {
            return None;
        }
        let shallow = *self.shallow.get_or_init(|| {
            git(&self.dir, &["rev-parse", "--is-shallow-repository"])
                .is_none_or(|(code, out)| code != 0 || out.trim() != "false")
        });
        if shallow {
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

#[cfg(test)]
mod tests;
