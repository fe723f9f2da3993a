//! The loader: file → YAML → overlay → includes → checked, hashed [`Desired`] state.
//!
//! It owns the order of the steps and what each scope's key set is: the root's `keys:` first,
//! then its `files:` sources (each in path order), then each included file in the order read
//! (its `keys:`, then its `files:`; a name seen twice is an error at the second place, naming
//! the first), then the overlay's keys, which replace or add. Everything it finds goes into one
//! [`Problems`], so a run reports every problem at once; it returns the desired state only when
//! there were none.
//!
//! Built for a million keys: each file's keys are resolved (interpolated, read, hashed) as soon
//! as the file's turn comes, so only a few files' YAML is in memory at a time (the next ones are
//! parsed ahead on the [`Workers`], which also hash `files:` values); the resolved keys are
//! sorted once, in place, and the sorted run becomes each scope's entries as it is. Nothing is
//! quadratic and there is no per-key map allocation.
//!
//! This file is the orchestration (the steps in order, the root config's scalars); `head.rs`
//! reads each scope's head (namespace id, prefix, shards, globs) and `keys.rs` resolves its
//! keys.

mod head;
mod keys;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::desired::Desired;
use super::interpolate;
use super::model::{self, ConfigFile, PlanTier, Sp, YamlKind, YamlValue};
use super::overlay;
use super::parallel::Workers;
use super::problems::{FileId, Pos, Problems};
use super::shape;
use super::sources::{Scratch, shown_dir};
use super::validate::{self, Finding};
use super::value_schema::Compiler;
use super::wrangler::Resolver;
use super::{Error, Globs, Heads, Hooks, LoadOptions, Loaded, Overlay};
use head::{Head, check_overlaps, listing};

pub(super) fn load(
    path: &Path,
    options: &LoadOptions<'_>,
    hooks: &Hooks<'_>,
) -> Result<Loaded, Error> {
    // Reading included files and hashing `files:` values run ahead on the other cores.
    load_using(path, options, hooks, &Workers::for_this_machine())
}

/// [`load`] with some YAML files (the root config, included files) read from `overlay` instead
/// of the disk.
pub(super) fn load_overlaid(
    path: &Path,
    options: &LoadOptions<'_>,
    overlay: Arc<Overlay>,
) -> Result<Loaded, Error> {
    let hooks = Hooks { on_heads: &|_| {}, on_keys: &|_| {} };
    load_from(path, options, &hooks, &Workers::for_this_machine(), overlay)
}

/// [`load`] with these workers (tests compare loading with and without them).
pub(super) fn load_using(
    path: &Path,
    options: &LoadOptions<'_>,
    hooks: &Hooks<'_>,
    workers: &Workers,
) -> Result<Loaded, Error> {
    load_from(path, options, hooks, workers, Arc::default())
}

fn load_from(
    path: &Path,
    options: &LoadOptions<'_>,
    hooks: &Hooks<'_>,
    workers: &Workers,
    overlay: Arc<Overlay>,
) -> Result<Loaded, Error> {
    let RootFile { dir: root_dir, canonical: root_canonical, file_canonical, bytes } =
        read_root(path, &overlay)?;
    let root_file_canonical = file_canonical;
    let mut problems = Problems::new();
    let root = problems.file(path);
    let Some(text) = utf8_text(bytes, root, &mut problems) else {
        return Err(invalid(problems));
    };
    let roots = RootPaths {
        path,
        dir: &root_dir,
        canonical: &root_canonical,
        file_canonical: &root_file_canonical,
    };
    let speculated = speculative_heads(&text, &roots, options, workers);
    let announced = speculated.is_some();
    if let Some(heads) = speculated {
        (hooks.on_heads)(heads);
    }
    let Some(config) = read_config(text, root, &mut problems) else {
        return Err(invalid(problems));
    };

    let Some(merged) = overlay::apply(config, options.environment, root, &mut problems) else {
        return Err(invalid(problems));
    };

    let mut loader = Loader::new(&roots, root, problems, options, workers, &merged);
    loader.overlay = overlay;

    let owner = loader.version_and_owner(&merged);
    let account_id = merged.account_id.and_then(|id| loader.interpolate(id));
    let local_path = merged
        .local_path
        .and_then(|local| loader.interpolate(local))
        .map(|local| root_dir.join(local));
    let max_deletes = merged.max_deletes.map_or(validate::MAX_DELETES_DEFAULT, |m| m.value);

    // Every scope's head (namespace id, prefix, globs) first, so that a caller can start
    // listing the namespaces while the keys are still being read and hashed.
    let mut heads: Vec<Head> =
        merged.namespaces.into_iter().map(|namespace| loader.head(namespace)).collect();
    let account_id = loader.account(account_id);
    let target = merged.target.as_ref().map(|t| t.value);
    // `namespace_title:` scopes get their ids from the target, asked once for all of them.
    let at = listing(target, account_id.clone(), local_path.clone(), &heads);
    let titles_known = loader.resolve_titles(&mut heads, at, options.titles);
    check_overlaps(&heads, root, &mut loader.problems);
    if !loader.problems.has_errors() && !announced && titles_known {
        (hooks.on_heads)(listing(target, account_id.clone(), local_path.clone(), &heads));
    }

    let mut scratch = Scratch::new();
    let mut scopes = Vec::with_capacity(heads.len());
    for head in heads {
        if let Some(scope) = loader.scope(head, &owner, &mut scratch, hooks) {
            scopes.push(scope);
        }
    }

    if loader.problems.has_errors() {
        return Err(invalid(loader.problems));
    }
    if !titles_known {
        // The config itself is sound; the target's failure is the caller's to report.
        return Err(Error::TitlesUnknown);
    }
    let (files, index) = yaml_files(&loader.problems);
    let included = (loader.included.into_iter())
        .map(|(scope, read)| (scope, read.into_iter().filter_map(|f| index[f.index()]).collect()))
        .collect();
    let (_, warnings) = loader.problems.finish();
    Ok(Loaded {
        files,
        included,
        desired: Desired {
            owner,
            environment: merged.environment,
            account_id,
            target: merged.target.map(|t| t.value),
            local_path,
            max_deletes,
            plan_tier: match merged.plan_tier.map(|t| t.value) {
                Some(PlanTier::Free) => super::desired::PlanTier::Free,
                Some(PlanTier::Paid) | None => super::desired::PlanTier::Paid,
            },
            scopes,
        },
        warnings,
    })
}

/// The root config's folder, canonical paths and bytes, read once.
struct RootFile {
    dir: PathBuf,
    canonical: PathBuf,
    file_canonical: PathBuf,
    bytes: Vec<u8>,
}

/// Reads the root config (from `overlay` when it holds it), after checking that no pull was
/// left half written.
fn read_root(path: &Path, overlay: &Overlay) -> Result<RootFile, Error> {
    let read_error = |source| Error::Read { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    // A journal means a pull was interrupted between two renames: the files may be half
    // written, so no command reads them until `kvsync pull` finishes or rolls the write back.
    if let Some(journal) = crate::fs::journal::pending(shown_dir(&dir)) {
        return Err(Error::Interrupted { journal });
    }
    let canonical = std::fs::canonicalize(shown_dir(&dir)).map_err(read_error)?;
    let file_canonical = std::fs::canonicalize(path).map_err(read_error)?;
    let bytes = match overlay.get(&file_canonical) {
        Some(bytes) => bytes.clone(),
        None => std::fs::read(path).map_err(read_error)?,
    };
    Ok(RootFile { dir, canonical, file_canonical, bytes })
}

/// The YAML files a load read: the root config and the included files (not `file:` values);
/// and for each file the load read, its place among them.
fn yaml_files(problems: &Problems) -> (Vec<PathBuf>, Vec<Option<usize>>) {
    let mut files = Vec::new();
    let index = (problems.paths().iter().enumerate())
        .map(|(index, path)| {
            let yaml = index == 0 || path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            yaml.then(|| {
                files.push(path.clone());
                files.len() - 1
            })
        })
        .collect();
    (files, index)
}

/// The config's text; a file that is not UTF-8 is a problem at the first bad byte.
fn utf8_text(bytes: Vec<u8>, root: FileId, problems: &mut Problems) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(error) => {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let valid = String::from_utf8_lossy(valid);
            let pos = Pos::at(&valid, valid.len());
            problems.error(root, pos, "the config is not valid UTF-8", None);
            None
        }
    }
}

/// A root file this large has its heads read ahead of its full parse.
const SPECULATE_ABOVE: usize = 256 * 1024;

/// The heads of a large root file, read from its text up to the first scope's `keys:`, so that
/// listing starts while the rest (most of the file) is still parsed: a 100,000-key file takes
/// about a second to parse, and the namespaces are otherwise known only after it. This is a
/// guess: an `environments:` overlay further down can still change an id or a prefix, and the
/// caller compares these heads with the loaded ones and lists again when they differ. `None`
/// (nothing announced early) for small files, or when the head text is not a sound config.
fn speculative_heads(
    text: &str,
    roots: &RootPaths<'_>,
    options: &LoadOptions<'_>,
    workers: &Workers,
) -> Option<Heads> {
    if text.len() < SPECULATE_ABOVE {
        return None;
    }
    let cut = first_keys_line(text)?;
    if text.len() - cut < SPECULATE_ABOVE / 2 {
        return None;
    }
    let mut problems = Problems::new();
    let root = problems.file(roots.path);
    let mut config = read_config(text[..cut].to_owned(), root, &mut problems)?;
    // Environments usually come last; without them in the head, the base is the best guess.
    let environment = if config.environments.0.is_empty() {
        config.default_environment = None;
        None
    } else {
        options.environment
    };
    let merged = overlay::apply(config, environment, root, &mut problems)?;
    let mut loader = Loader::new(roots, root, problems, options, workers, &merged);
    let account_id = merged.account_id.and_then(|id| loader.interpolate(id));
    let local_path =
        merged.local_path.and_then(|local| loader.interpolate(local)).map(|l| roots.dir.join(l));
    let heads: Vec<Head> =
        merged.namespaces.into_iter().map(|namespace| loader.head(namespace)).collect();
    let account_id = loader.account(account_id);
    if loader.problems.has_errors() || heads.iter().any(|h| h.namespace_id.is_none()) {
        return None;
    }
    let target = merged.target.map(|t| t.value);
    Some(listing(target, account_id, local_path, &heads))
}

/// Where the first line that opens a scope's `keys:` mapping starts (an indented `keys:` with
/// nothing but a comment after it), if any.
fn first_keys_line(text: &str) -> Option<usize> {
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches(' ');
        let indented = trimmed.len() < line.len();
        if indented && let Some(rest) = trimmed.strip_prefix("keys:") {
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                return Some(start);
            }
        }
        start += line.len();
    }
    None
}

/// The root config's paths, as the loader resolves everything against them.
struct RootPaths<'a> {
    path: &'a Path,
    dir: &'a Path,
    canonical: &'a Path,
    file_canonical: &'a Path,
}

/// Parses the root config, reporting every problem of shape (`shape::read`) and the checks of
/// top-level scalars with them; `None` (the problems reported) when nothing can be loaded.
fn read_config(text: String, file: FileId, problems: &mut Problems) -> Option<ConfigFile> {
    let reading = shape::read::<ConfigFile>(text, &model::config_schema(), &scalar_checks);
    for (pos, message, hint) in reading.problems {
        problems.error(file, pos, message, hint);
    }
    problems.ignore_lines(file, reading.echoes);
    reading.parsed
}

/// Checks of top-level scalars that need no typed model (`version`, `owner`, the literal
/// `namespace_id`s of the base scopes), for a file whose typed parse failed: their problems
/// show in the same run. When the rest loads, the loader finds them again, and the repeats
/// are dropped.
fn scalar_checks(tree: &YamlValue) -> Vec<shape::Found> {
    let mut found = Vec::new();
    let YamlKind::Map(entries) = &tree.value else { return found };
    let mut report = |pos: Pos, result: Result<(), Finding>| {
        if let Err((message, hint)) = result {
            found.push(shape::Found {
                pos,
                message,
                hint,
                entry: None,
                parent: None,
                scalar: true,
            });
        }
    };
    for (key, value) in entries {
        match (key.value.as_str(), &value.value) {
            ("version", YamlKind::Int(n)) => {
                report(value.pos, u32::try_from(*n).map_or(Ok(()), validate::version));
            }
            ("owner", YamlKind::Str(owner)) => report(value.pos, validate::owner(owner)),
            ("namespaces", YamlKind::Map(scopes)) => {
                for (_, scope) in scopes {
                    let YamlKind::Map(fields) = &scope.value else { continue };
                    for (field, id) in fields {
                        if let ("namespace_id", YamlKind::Str(id_text)) =
                            (field.value.as_str(), &id.value)
                            && !id_text.contains('$')
                        {
                            report(id.pos, validate::namespace_id(id_text));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    found
}

fn invalid(problems: Problems) -> Error {
    Error::Invalid(problems.finish().0)
}

struct Loader<'a> {
    vars: &'a dyn Fn(&str) -> Option<String>,
    workers: &'a Workers,
    root: FileId,
    root_dir: &'a Path,
    root_canonical: &'a Path,
    root_file_canonical: &'a Path,
    problems: Problems,
    /// Resolves `binding:` through wrangler's config, reading each file once.
    wrangler: Resolver,
    /// The wrangler environment of `binding:` scopes that name none (`--env` without
    /// `environments:`).
    wrangler_environment: Option<String>,
    /// `--preview`, for `binding:` scopes without `preview:`.
    preview: Option<bool>,
    /// On `--target wrangler-dev`: namespace ids as `wrangler dev` binds them.
    wrangler_dev: bool,
    /// Compiles `schemas:`, each schema file once per load.
    compiler: Compiler,
    /// Included files read from memory instead of the disk.
    overlay: Arc<Overlay>,
    /// Each scope's included files, in the order read.
    included: BTreeMap<String, Vec<FileId>>,
}

impl<'a> Loader<'a> {
    /// The account: the config's (`configured`), else the environment's (read where the store
    /// is opened, so `None` here), else the one the wrangler config of the `binding:` scopes
    /// names, as wrangler would use.
    fn account(&mut self, configured: Option<String>) -> Option<String> {
        configured.or_else(|| {
            crate::env_vars::account_id_from_env(self.vars)
                .is_none()
                .then(|| self.wrangler.account_id())
                .flatten()
        })
    }

    fn new(
        roots: &RootPaths<'a>,
        root: FileId,
        problems: Problems,
        options: &LoadOptions<'a>,
        workers: &'a Workers,
        merged: &overlay::Merged,
    ) -> Self {
        let target = options.target.or(merged.target.as_ref().map(|t| t.value));
        let wrangler_dev = target == Some(crate::kv::TargetKind::WranglerDev);
        let wrangler = Resolver::new(roots.dir);
        Loader {
            vars: options.vars,
            workers,
            root,
            root_dir: roots.dir,
            root_canonical: roots.canonical,
            root_file_canonical: roots.file_canonical,
            problems,
            wrangler: if wrangler_dev { wrangler.for_wrangler_dev() } else { wrangler },
            wrangler_environment: merged.wrangler_environment.clone(),
            preview: options.preview,
            wrangler_dev,
            compiler: Compiler::new(roots.canonical),
            overlay: Arc::default(),
            included: BTreeMap::new(),
        }
    }

    /// Checks `version` and `owner` (problems reported); returns the owner.
    fn version_and_owner(&mut self, merged: &overlay::Merged) -> String {
        if let Err((message, hint)) = validate::version(merged.version.value) {
            self.problems.error(self.root, merged.version.pos, message, hint);
        }
        if let Err((message, hint)) = validate::owner(&merged.owner.value) {
            self.problems.error(self.root, merged.owner.pos, message, hint);
        }
        merged.owner.value.clone()
    }

    /// Interpolates a root-config scalar; `None` (reported) when it cannot be.
    fn interpolate(&mut self, scalar: Sp<String>) -> Option<String> {
        match interpolate::expand(scalar.value, self.vars) {
            Ok(expanded) => Some(expanded.text),
            Err(found) => {
                for problem in found {
                    let (message, hint) = problem.describe();
                    self.problems.error(self.root, scalar.pos, message, hint);
                }
                None
            }
        }
    }

    fn globs(&mut self, field: &str, patterns: Option<Vec<Sp<String>>>) -> Globs {
        let patterns = patterns.unwrap_or_default();
        match validate::globs(field, &patterns) {
            Ok(globs) => globs,
            Err((index, (message, hint))) => {
                let pos = patterns.get(index).map_or(Pos::START, |p| p.pos);
                self.problems.error(self.root, pos, message, hint);
                Globs::empty()
            }
        }
    }
}
