//! `kvsync pull`'s edits: the config changed so that its desired state says what is live, with
//! a minimal diff.
//!
//! Each entry is found where it is defined (the environment's overlay, the root config, an
//! included file) by reading those files again with the YAML parser's events, which give every
//! node's byte range ([`yaml::span_tree`]). Only the bytes of the value, metadata or expiration
//! that changed are replaced; every other byte of every file stays as it was. A new value keeps
//! the form of the old one (a plain or quoted string, a number, a flow or block mapping) only when
//! reading it back gives exactly the live bytes; otherwise it is written as a quoted string, which
//! KV stores as its raw text. Every edited entry is read back through the loader's own code
//! (`sources::resolve`) before anything is written, and an edit that does not read back as live
//! is not made: it is a [`Refusal`], with its place and hint, and the key is left to a person. A `file:` value's file gets the live bytes. An entry reached through
//! a YAML anchor or alias is reported, never edited. With environments, a key from the base
//! config gets an override in the environment's overlay, so the other environments keep theirs.

mod check;
mod entries;
mod locate;
#[cfg(test)]
mod property;
mod refusal;
mod render;
mod secrets;
mod set;
#[doc(hidden)]
pub mod suite;
#[cfg(test)]
mod tests;
mod text;

pub use check::{Before, CheckError, check};
pub use refusal::{Error, Part, Refusal, Refused};
pub use secrets::{SecretParts, secret_names};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use serde_json::{Map, Value};

use super::yaml::SpanNode;
use locate::Trees;

/// What one key's entry should become.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub scope: String,
    pub key: String,
    pub what: What,
}

/// The parts of an entry that change.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// Make the desired state say this (only the parts marked changed are edited).
    Set {
        value: Option<Vec<u8>>,
        metadata: Option<Option<Map<String, Value>>>,
        expiration: Option<Option<i64>>,
    },
    /// Add the key (to the scope's `keys:` or `--into FILE`).
    Add { value: Vec<u8>, metadata: Option<Map<String, Value>>, expiration: Option<i64> },
    /// Remove the entry.
    Remove,
}

/// The edits for a set of changes: new file contents, and the changes that cannot be made.
#[derive(Debug, Default)]
pub struct Edits {
    /// Every file that changes: its path, its bytes now and after.
    pub files: Vec<FileEdit>,
    /// Changes made: the scope, the key and where (`kvsync.yaml:12:7`, or a value file).
    pub made: Vec<(String, String, String)>,
    /// Changes not made, and why.
    pub refused: Vec<Refused>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileEdit {
    pub path: PathBuf,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

/// Where the edits are made.
pub struct Context<'a> {
    /// The root config.
    pub root: &'a Path,
    /// The YAML files the load read (root first).
    pub files: &'a [PathBuf],
    /// Each scope's included files, as places in `files` (`Loaded::included`).
    pub included: &'a BTreeMap<String, Vec<usize>>,
    /// The environment the desired state was loaded for, when the config has environments.
    pub environment: Option<&'a str>,
    /// `--into FILE`: where added keys go.
    pub into: Option<&'a Path>,
    /// `--preview`, as the config was loaded.
    pub preview: Option<bool>,
    /// `--target`, as the config was loaded.
    pub target: Option<crate::kv::TargetKind>,
    pub vars: &'a dyn Fn(&str) -> Option<String>,
    /// The target's namespaces by title, as the config was loaded (`namespace_title:`).
    pub titles: Option<&'a crate::kv::Titles>,
}

/// Edits made once every change was seen.
#[derive(Default)]
struct Later {
    /// `file:` values to write, by path.
    value_files: BTreeMap<PathBuf, Vec<u8>>,
    /// Overrides for the environment's overlay (scope, key, entry): written together at the
    /// end, since they may share a `keys:` mapping that does not exist yet.
    overlay: Vec<(String, String, Override)>,
}

/// An entry for the environment's overlay.
struct Override {
    /// `key: …` as written, its lines after the first indented relative to the key (LF).
    entry: String,
    /// The same entry on one line, for a flow mapping, when it has several.
    one_line: Option<String>,
}

impl Override {
    fn line(line: String) -> Self {
        Self { entry: line, one_line: None }
    }

    /// The entry on one line, when it can be.
    fn flow(&self) -> Option<&str> {
        if self.entry.contains('\n') { self.one_line.as_deref() } else { Some(&self.entry) }
    }
}

/// One YAML file being edited: its text now, and replacements to make (byte range, new text).
struct Draft {
    path: PathBuf,
    original: Rc<String>,
    replacements: Vec<(usize, usize, String)>,
}

/// Computes every edit; writes nothing. A change that cannot be made is [`Edits::refused`];
/// only a file that cannot be read again is an error.
pub fn edits(
    context: &Context<'_>,
    desired: &super::Desired,
    changes: &[Change],
) -> Result<Edits, Error> {
    if changes.is_empty() {
        return Ok(Edits::default());
    }
    let trees = Trees::read(context.files)?;
    let mut drafts: Vec<Draft> = (context.files.iter().enumerate())
        .map(|(file, path)| Draft {
            path: path.clone(),
            original: Rc::clone(trees.text(file)),
            replacements: Vec::new(),
        })
        .collect();
    let mut out = Edits::default();
    let mut later = Later::default();
    for change in changes {
        let Some(scope) = desired.scopes.iter().find(|s| s.name == change.scope) else {
            continue;
        };
        let entry = scope.entries.get(&change.key);
        let files = Files { context, trees: &trees };
        let result = match &change.what {
            What::Set { value, metadata, expiration } => set::set(
                &files,
                &mut drafts,
                &mut later,
                change,
                entry,
                (value.as_deref(), metadata.as_ref(), expiration.as_ref()),
            ),
            What::Add { value, metadata, expiration } => {
                let live = (value.as_slice(), metadata.as_ref(), *expiration);
                entries::add(&files, &mut drafts, &mut later, change, live)
            }
            What::Remove => entries::remove(&files, &mut drafts, change),
        };
        match result {
            Ok(place) => out.made.push((change.scope.clone(), change.key.clone(), place)),
            Err(refusal) => out.refused.push(Refused {
                scope: change.scope.clone(),
                key: change.key.clone(),
                refusal,
            }),
        }
    }
    if let Some(environment) = context.environment {
        write_overrides(context, &trees, &mut drafts, &later, environment, &mut out);
    }
    if let Some(error) = trees.failure() {
        return Err(error);
    }
    drop(trees);
    for draft in drafts {
        if draft.replacements.is_empty() {
            continue;
        }
        let after = text::apply(&draft.original, draft.replacements);
        out.files.push(FileEdit {
            path: draft.path,
            before: Rc::unwrap_or_clone(draft.original).into_bytes(),
            after: after.into_bytes(),
        });
    }
    for (path, bytes) in later.value_files {
        let before = std::fs::read(&path).unwrap_or_default();
        out.files.push(FileEdit { path, before, after: bytes });
    }
    Ok(out)
}

/// Writes the overrides collected for the environment's overlay, scope by scope; a scope whose
/// overrides cannot go in has none written, each of its keys refused.
fn write_overrides(
    context: &Context<'_>,
    trees: &Trees,
    drafts: &mut [Draft],
    later: &Later,
    environment: &str,
    out: &mut Edits,
) {
    let overlay = &later.overlay;
    let mut scopes: Vec<&str> = overlay.iter().map(|(scope, _, _)| scope.as_str()).collect();
    scopes.sort_unstable();
    scopes.dedup();
    for scope in scopes {
        let of_scope: Vec<&(String, String, Override)> =
            overlay.iter().filter(|(s, _, _)| s == scope).collect();
        let overrides: Vec<&Override> = of_scope.iter().map(|(_, _, entry)| entry).collect();
        let files = Files { context, trees };
        if let Err(refusal) =
            entries::insert_into_overlay(&files, drafts, environment, scope, &overrides)
        {
            for (_, key, _) in of_scope {
                out.made.retain(|(s, made, _)| s != scope || made != key);
                out.refused.push(Refused {
                    scope: scope.to_owned(),
                    key: key.clone(),
                    refusal: refusal.clone(),
                });
            }
        }
    }
}

/// What every edit reads: where, and the files' trees of nodes.
struct Files<'a> {
    context: &'a Context<'a>,
    trees: &'a Trees,
}

fn overridden(context: &Context<'_>, root: &Path) -> String {
    let environment = context.environment.unwrap_or_default();
    format!("{} (an override in the `{environment}` overlay)", shown(context.root, root))
}

/// `file:line:column` of the byte `at` of a draft, the path as [`shown`] gives it.
fn place_at(context: &Context<'_>, draft: &Draft, at: usize) -> String {
    let text = &draft.original;
    let line = text[..at].matches('\n').count() + 1;
    let column = text::column_of(text, at) + 1;
    format!("{}:{line}:{column}", shown(context.root, &draft.path))
}

/// `file:line:column` of a node.
fn place(context: &Context<'_>, draft: &Draft, node: &SpanNode) -> String {
    place_at(context, draft, node.start)
}

/// A file as the report names it: relative to the root config's folder, by the path the user
/// gave and the loader followed (a linked config or include is named by its link, not by its
/// target); a file found only by its canonical path (a `file:` value), relative to the folder's
/// canonical path.
pub fn shown(root: &Path, path: &Path) -> String {
    let root_dir = root.parent().unwrap_or(Path::new(""));
    let lexical = if root_dir.as_os_str().is_empty() {
        (!path.is_absolute()).then_some(path)
    } else {
        path.strip_prefix(root_dir).ok()
    };
    if let Some(relative) = lexical.filter(|relative| !relative.as_os_str().is_empty()) {
        return relative.display().to_string();
    }
    let root_canonical = std::fs::canonicalize(super::shown_dir(root_dir)).ok();
    let canonical = std::fs::canonicalize(path).ok();
    match (root_canonical, canonical) {
        (Some(root), Some(path)) => path
            .strip_prefix(&root)
            .map_or_else(|_| path.display().to_string(), |relative| relative.display().to_string()),
        _ => path.display().to_string(),
    }
}
