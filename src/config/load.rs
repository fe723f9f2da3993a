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

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::desired::{Desired, DesiredEntry, DesiredScope, Globs};
use super::files::{self, Template};
use super::include::{self, Found, Included, ReadAhead, Root, StackEntry};
use super::interpolate;
use super::model::{
    self, ConfigFile, FilesSource, KeyEntry, NamedMap, NamespaceConfig, PlanTier, SchemaSource, Sp,
    YamlKind, YamlValue,
};
use super::overlay::{self, MergedNamespace};
use super::parallel::{self, Workers};
use super::problems::{FileId, Pos, Problems};
use super::shape;
use super::sources::{self, KeySite, Scratch, Sources, shown_dir};
use super::typing::{Typing, WrittenIn};
use super::validate::{self, Finding, ScopeHead};
use super::value_schema::Compiler;
use super::wrangler::{self, Resolver};
use super::{Error, Heads, Hooks, LoadOptions, Loaded, Overlay, ScopeListing};

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
    let read_error = |source| Error::Read { path: path.to_path_buf(), source };
    let root_dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    // A journal means a pull was interrupted between two renames: the files may be half
    // written, so no command reads them until `kvsync pull` finishes or rolls the write back.
    if let Some(journal) = crate::fs::journal::pending(shown_dir(&root_dir)) {
        return Err(Error::Interrupted { journal });
    }
    let root_canonical = std::fs::canonicalize(shown_dir(&root_dir)).map_err(read_error)?;
    let root_file_canonical = std::fs::canonicalize(path).map_err(read_error)?;
    let bytes = match overlay.get(&root_file_canonical) {
        Some(bytes) => bytes.clone(),
        None => std::fs::read(path).map_err(read_error)?,
    };

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

    if let Err((message, hint)) = validate::version(merged.version.value) {
        loader.problems.error(root, merged.version.pos, message, hint);
    }
    let owner = merged.owner.value.clone();
    if let Err((message, hint)) = validate::owner(&owner) {
        loader.problems.error(root, merged.owner.pos, message, hint);
    }
    let account_id = merged.account_id.and_then(|id| loader.interpolate(id));
    let local_path = merged
        .local_path
        .and_then(|local| loader.interpolate(local))
        .map(|local| root_dir.join(local));
    let max_deletes = merged.max_deletes.map_or(validate::MAX_DELETES_DEFAULT, |m| m.value);

    // Every scope's head (namespace id, prefix, globs) first, so that a caller can start
    // listing the namespaces while the keys are still being read and hashed.
    let heads: Vec<Head> =
        merged.namespaces.into_iter().map(|namespace| loader.head(namespace)).collect();
    check_overlaps(&heads, root, &mut loader.problems);
    let account_id = loader.account(account_id);
    if !loader.problems.has_errors() && !announced {
        let target = merged.target.as_ref().map(|t| t.value);
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
    let files: Vec<PathBuf> = loader
        .problems
        .paths()
        .iter()
        .enumerate()
        .filter(|(index, path)| {
            *index == 0 || path.extension().is_some_and(|e| e == "yaml" || e == "yml")
        })
        .map(|(_, path)| path.clone())
        .collect();
    let (_, warnings) = loader.problems.finish();
    Ok(Loaded {
        files,
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

/// The config's text; a file that is not UTF-8 is a problem at the first bad byte.
fn utf8_text(bytes: Vec<u8>, root: FileId, problems: &mut Problems) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(error) => {
            let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
            let valid = String::from_utf8_lossy(valid);
            let line = valid.matches('\n').count() + 1;
            let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let pos = Pos::new(line as u64, column as u64);
            problems.error(root, pos, "the config is not valid UTF-8", None);
            None
        }
    }
}

/// Two scopes whose keys could overlap (same namespace, one prefix inside the other), among
/// the heads whose namespace id and prefix are sound.
fn check_overlaps(heads: &[Head], root: FileId, problems: &mut Problems) {
    let sound: Vec<(ScopeHead<'_>, Pos)> = heads
        .iter()
        .filter_map(|h| {
            let head = ScopeHead {
                name: &h.name,
                namespace_id: h.namespace_id.as_deref()?,
                prefix: h.prefix.as_deref()?,
            };
            Some((head, h.prefix_pos))
        })
        .collect();
    let (scopes, positions): (Vec<ScopeHead<'_>>, Vec<Pos>) = sound.into_iter().unzip();
    for (index, (message, hint)) in validate::overlapping_scopes(&scopes) {
        problems.error(root, positions[index], message, hint);
    }
}

/// What a caller needs to list a config's namespaces.
fn listing(
    target: Option<crate::kv::TargetKind>,
    account_id: Option<String>,
    local_path: Option<PathBuf>,
    heads: &[Head],
) -> Heads {
    Heads {
        target,
        account_id,
        local_path,
        scopes: heads
            .iter()
            .filter_map(|h| {
                Some(ScopeListing {
                    namespace_id: h.namespace_id.clone()?,
                    prefix: h.prefix.clone()?,
                    shards: h.list_shards.clone(),
                })
            })
            .collect(),
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
        }
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

    /// One scope's head: everything but its keys. The namespace id and the prefix are `None`
    /// when they have problems (reported).
    fn head(&mut self, namespace: MergedNamespace) -> Head {
        let MergedNamespace { name, mut config, base_keys, overlay_keys } = namespace;
        let binding = config.binding.as_ref().map(|binding| binding.value.clone());
        let (namespace_id, resolved_from) =
            match self.namespace_id(&name.value, name.pos, &mut config) {
                Some((id, from)) => (Some(id), from),
                None => (None, None),
            };
        let prefix_pos = config.prefix.as_ref().map_or(name.pos, |p| p.pos);
        let prefix = match config.prefix.take() {
            Some(prefix) => {
                let pos = prefix.pos;
                let prefix = self.interpolate(prefix);
                if let Some(Err((message, hint))) = prefix.as_deref().map(validate::prefix) {
                    self.problems.error(self.root, pos, message, hint);
                }
                prefix
            }
            None => Some(String::new()),
        };
        let list_shards = self.list_shards(config.list_shards.take(), prefix.as_deref(), name.pos);
        Head {
            prune: config.prune.is_none_or(|p| p.value),
            allow_empty: config.allow_empty.is_some_and(|a| a.value),
            snapshot: config.snapshot.is_none_or(|s| s.value),
            ignore: self.globs("ignore", config.ignore.take()),
            protect: self.globs("protect", config.protect.take()),
            take_over: self.globs("take_over", config.take_over.take()),
            name: name.value,
            namespace_id,
            resolved_from,
            binding,
            prefix,
            prefix_pos,
            list_shards,
            include: config.include.take().unwrap_or_default(),
            files: config.files.take().unwrap_or_default(),
            schemas: config.schemas.take().unwrap_or_default(),
            base_keys,
            overlay_keys,
        }
    }

    /// A scope's `list_shards`, interpolated, checked and sorted (so that their listings, one
    /// after the other, are in key order); empty when there are none or any has a problem
    /// (reported).
    fn list_shards(
        &mut self,
        shards: Option<Vec<Sp<String>>>,
        prefix: Option<&str>,
        name_pos: Pos,
    ) -> Vec<String> {
        let Some(shards) = shards else { return Vec::new() };
        if shards.is_empty() {
            self.problems.error(
                self.root,
                name_pos,
                "`list_shards` is empty".to_owned(),
                Some("name two or more key prefixes, or remove `list_shards:`".to_owned()),
            );
            return Vec::new();
        }
        let positions: Vec<Pos> = shards.iter().map(|s| s.pos).collect();
        let texts: Vec<Option<String>> = shards.into_iter().map(|s| self.interpolate(s)).collect();
        let (Some(texts), Some(prefix)) = (texts.into_iter().collect::<Option<Vec<_>>>(), prefix)
        else {
            return Vec::new();
        };
        let views: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = validate::list_shards(&views, prefix);
        if !found.is_empty() {
            for (index, (message, hint)) in found {
                self.problems.error(self.root, positions[index], message, hint);
            }
            return Vec::new();
        }
        let mut texts = texts;
        texts.sort_unstable();
        texts
    }

    /// One scope, its keys read, resolved and hashed; `None` when its head (id, prefix) is
    /// unusable. Its keys' problems are reported either way.
    fn scope(
        &mut self,
        head: Head,
        owner: &str,
        scratch: &mut Scratch,
        hooks: &Hooks<'_>,
    ) -> Option<DesiredScope> {
        let Head {
            name: scope_name,
            namespace_id,
            resolved_from,
            binding,
            prefix,
            prune,
            allow_empty,
            snapshot,
            ignore,
            protect,
            take_over,
            list_shards,
            include,
            files,
            schemas,
            base_keys,
            overlay_keys,
            ..
        } = head;

        // The overlay's keys replace the base's, so base entries with those names are never
        // resolved: a problem in an entry the environment replaces is no problem.
        let replaced: HashSet<String> =
            overlay_keys.0.iter().map(|(name, _)| name.value.clone()).collect();
        let mut keys = KeyResolver {
            sources: Sources {
                vars: self.vars,
                owner,
                root_dir: self.root_dir,
                root_canonical: self.root_canonical,
            },
            scope_name: &scope_name,
            prefix: prefix.as_deref(),
            list_shards: &list_shards,
            ignore: &ignore,
            replaced: Some(&replaced),
            scratch,
            workers: self.workers,
            dirs: HashMap::new(),
            records: Vec::new(),
            on_keys: hooks.on_keys,
            typing: Typing::default(),
            compiler: &mut self.compiler,
        };
        keys.add_schemas(&mut self.problems, self.root, schemas, false);
        keys.add(&mut self.problems, self.root, base_keys);
        keys.add_files(&mut self.problems, self.root, files);
        let walk_root = Root { dir: self.root_dir, canonical: self.root_canonical };
        let root_name = self.problems.path(self.root).file_name().map(PathBuf::from);
        let mut stack = vec![StackEntry {
            canonical: self.root_file_canonical.to_path_buf(),
            shown: root_name.unwrap_or_default(),
        }];
        include::collect(
            &walk_root,
            self.root,
            &include,
            &mut stack,
            &mut |problems, file, Included { keys: included, files, schemas }| {
                keys.add_schemas(problems, file, schemas, true);
                keys.add(problems, file, included);
                keys.add_files(problems, file, files);
            },
            &mut self.problems,
            &mut ReadAhead::new(self.workers, Arc::clone(&self.overlay)),
        );
        keys.replaced = None;
        keys.add(&mut self.problems, self.root, overlay_keys);
        let KeyResolver { records, typing, .. } = keys;
        let record = |seq: u32| {
            let record = records.get(seq as usize)?;
            Some((record.name.as_str(), record.entry.as_ref()?))
        };
        let threads = self.workers.count().max(1);
        let schemas = typing.finish(&scope_name, &record, threads, &mut self.problems);
        let entries = self.settle(records);

        let (Some(namespace_id), Some(prefix)) = (namespace_id, prefix) else {
            return None;
        };
        let scope = DesiredScope {
            name: scope_name,
            namespace_id,
            resolved_from,
            binding,
            prefix,
            list_shards,
            prune,
            allow_empty,
            snapshot,
            ignore,
            protect,
            take_over,
            entries,
            schemas,
        };
        Some(scope)
    }

    /// The scope's namespace id, written out (`namespace_id:`) or looked up through wrangler's
    /// config (`binding:`), and how it was found when it was looked up; `None` when there is a
    /// problem (reported). Takes the head fields out of `config`.
    fn namespace_id(
        &mut self,
        scope_name: &str,
        name_pos: Pos,
        config: &mut NamespaceConfig,
    ) -> Option<(String, Option<String>)> {
        let (id, binding) = (config.namespace_id.take(), config.binding.take());
        let (wrangler_file, environment, preview) =
            (config.wrangler.take(), config.environment.take(), config.preview.take());
        match (id, binding) {
            (Some(_), Some(binding)) => {
                self.problems.error(
                    self.root,
                    binding.pos,
                    format!("namespace `{scope_name}` sets both `namespace_id` and `binding`"),
                    Some(
                        "keep one: `namespace_id:` names the namespace, `binding:` looks its id \
                         up in the wrangler config"
                            .to_owned(),
                    ),
                );
                None
            }
            (id, None) => {
                let extras = [
                    ("wrangler", wrangler_file.map(|w| w.pos)),
                    ("environment", environment.map(|e| e.pos)),
                    ("preview", preview.map(|p| p.pos)),
                ];
                self.direct_namespace_id(scope_name, name_pos, id, extras)
            }
            (None, Some(binding)) => {
                self.bound_namespace_id(binding, wrangler_file, environment, preview)
            }
        }
    }

    /// A scope's `namespace_id:`: interpolated and checked; the fields that only apply with
    /// `binding:` (`extras`, where they were written) are problems here.
    fn direct_namespace_id(
        &mut self,
        scope_name: &str,
        name_pos: Pos,
        id: Option<Sp<String>>,
        extras: [(&str, Option<Pos>); 3],
    ) -> Option<(String, Option<String>)> {
        for (field, pos) in extras {
            if let Some(pos) = pos {
                self.problems.error(
                    self.root,
                    pos,
                    format!("`{field}` applies only with `binding:`"),
                    Some(format!(
                        "name a KV binding of the wrangler config with `binding:`, or \
                         remove `{field}:`"
                    )),
                );
            }
        }
        let Some(id) = id else {
            self.problems.error(
                self.root,
                name_pos,
                format!("namespace `{scope_name}` has no `namespace_id`"),
                Some(
                    "set `namespace_id:` (or `binding:`, a KV binding of the wrangler \
                     config) here or in the environment's overlay"
                        .to_owned(),
                ),
            );
            return None;
        };
        let pos = id.pos;
        let id = self.interpolate(id)?;
        if let Err((message, hint)) = validate::namespace_id(&id) {
            self.problems.error(self.root, pos, message, hint);
            return None;
        }
        if self.wrangler_dev {
            return self.wrangler_dev_id(&id, pos);
        }
        if id == super::starter::PLACEHOLDER_NAMESPACE_ID {
            self.problems.warning(
                self.root,
                pos,
                format!("namespace `{scope_name}` uses `kvsync init`'s placeholder id `{id}`"),
                Some(
                    "fine for `--target local`; for Cloudflare, set the id of your \
                     namespace (`wrangler kv namespace list` shows it), or use \
                     `binding:` (`kvsync init --from-wrangler`)"
                        .to_owned(),
                ),
            );
        }
        Some((id, None))
    }

    /// On `--target wrangler-dev`, a scope's `namespace_id:` stands for the binding whose `id`
    /// it is: the id `wrangler dev` binds for that binding.
    fn wrangler_dev_id(&mut self, id: &str, pos: Pos) -> Option<(String, Option<String>)> {
        let environment = self.wrangler_environment.clone();
        match self.wrangler.dev_id_of(id, environment.as_deref()) {
            Ok(resolved) => Some((resolved.namespace_id, Some(resolved.from))),
            Err(failure) => {
                self.problems.error(self.root, pos, failure.message, failure.hint);
                None
            }
        }
    }

    /// A scope's `binding:`, looked up in the wrangler config (its `wrangler:`, `environment:`
    /// and `preview:`, else `--env` and `--preview`); a failure points at the field at fault.
    fn bound_namespace_id(
        &mut self,
        binding: Sp<String>,
        wrangler_file: Option<Sp<String>>,
        environment: Option<Sp<String>>,
        preview: Option<Sp<bool>>,
    ) -> Option<(String, Option<String>)> {
        let binding_pos = binding.pos;
        let wrangler_pos = wrangler_file.as_ref().map_or(binding_pos, |w| w.pos);
        let environment_pos = environment.as_ref().map_or(binding_pos, |e| e.pos);
        let preview_pos = preview.as_ref().map_or(binding_pos, |p| p.pos);
        let binding = self.interpolate(binding);
        let wrangler_file = wrangler_file.map(|w| self.interpolate(w));
        // A scope's own `environment:` wins over `--env`.
        let environment = match environment {
            Some(environment) => Some(self.interpolate(environment)),
            None => self.wrangler_environment.clone().map(Some),
        };
        let (Some(binding), Some(wrangler_file), Some(environment)) = (
            binding,
            wrangler_file.map_or(Some(None), |w| w.map(Some)),
            environment.map_or(Some(None), |e| e.map(Some)),
        ) else {
            return None;
        };
        let request = wrangler::Request {
            binding: &binding,
            wrangler: wrangler_file.as_deref(),
            environment: environment.as_deref(),
            preview: preview.map(|p| p.value).or(self.preview),
        };
        match self.wrangler.resolve(&request) {
            Ok(resolved) => Some((resolved.namespace_id, Some(resolved.from))),
            Err(failure) => {
                let pos = match failure.field {
                    wrangler::Field::Binding => binding_pos,
                    wrangler::Field::Wrangler => wrangler_pos,
                    wrangler::Field::Environment => environment_pos,
                    wrangler::Field::Preview => preview_pos,
                };
                self.problems.error(self.root, pos, failure.message, failure.hint);
                None
            }
        }
    }

    /// Sorts a scope's keys by name and reports names defined twice (at the later place,
    /// naming the first); returns the entries that resolved, in name order.
    fn settle(&mut self, mut records: Vec<Record>) -> super::desired::Entries {
        // The buffer grew by doubling while files were read; give the slack back.
        records.shrink_to_fit();
        // In place, with no scratch memory: (name, seq) is unique, so the order is determined.
        records.sort_unstable_by(|a, b| a.name.cmp(&b.name).then(a.seq.cmp(&b.seq)));
        let mut run_start = 0;
        for index in 1..records.len() {
            if records[index].name != records[run_start].name {
                run_start = index;
                continue;
            }
            let first = &records[run_start];
            let place = self.problems.place(first.file, first.pos, self.root_dir);
            let repeat = &mut records[index];
            self.problems.error(
                repeat.file,
                repeat.pos,
                format!("key `{}` is defined twice (first at `{place}`)", repeat.name),
                Some("keep one of the two definitions".to_owned()),
            );
            repeat.entry = None;
        }
        // Collected in place: the records' buffer becomes the entries' buffer (and gives back
        // what it does not need). Already sorted and deduplicated, so no tree is built.
        let entries = records.into_iter().filter_map(|r| r.entry.map(|entry| (r.name, entry)));
        super::desired::Entries::from_sorted(entries.collect())
    }
}

/// A scope before its keys are read.
struct Head {
    name: String,
    namespace_id: Option<String>,
    resolved_from: Option<String>,
    binding: Option<String>,
    prefix: Option<String>,
    /// Where to blame an overlap with another scope.
    prefix_pos: Pos,
    list_shards: Vec<String>,
    prune: bool,
    allow_empty: bool,
    snapshot: bool,
    ignore: Globs,
    protect: Globs,
    take_over: Globs,
    include: Vec<Sp<String>>,
    files: Vec<FilesSource>,
    schemas: NamedMap<SchemaSource>,
    base_keys: NamedMap<KeyEntry>,
    overlay_keys: NamedMap<KeyEntry>,
}

/// A key once resolved, waiting for duplicates to be settled.
struct Record {
    name: String,
    /// The order it was read in: of two definitions, the first read is the one kept.
    seq: u32,
    file: FileId,
    pos: Pos,
    /// `None` when the entry had problems (they are reported).
    entry: Option<DesiredEntry>,
}

/// Resolves a scope's keys file by file, as each file is read, so that only a few files' YAML
/// is in memory at a time next to the resolved entries.
struct KeyResolver<'a> {
    sources: Sources<'a>,
    scope_name: &'a str,
    /// `None` when the prefix itself could not be resolved (then it is not checked).
    prefix: Option<&'a str>,
    /// Sorted; empty when the scope is listed whole.
    list_shards: &'a [String],
    ignore: &'a Globs,
    /// Names whose base entries are not resolved, because the overlay replaces them (`None`
    /// while the overlay's own keys are added).
    replaced: Option<&'a HashSet<String>>,
    scratch: &'a mut Scratch,
    /// Where `files:` values are hashed.
    workers: &'a Workers,
    /// The folder of each file seen, where its `file:` paths start.
    dirs: HashMap<FileId, PathBuf>,
    records: Vec<Record>,
    /// Told how many keys each file adds.
    on_keys: &'a dyn Fn(u64),
    /// The scope's `schemas:` and the values to check against them.
    typing: Typing,
    compiler: &'a mut Compiler,
}

/// What a key's name says in its scope: a problem that excludes it, or a warning.
enum NameCheck {
    Fine,
    Invalid(Finding),
    OutsidePrefix(Finding),
    Ignored(Finding),
    /// A name KV accepts that is easy to get wrong: a warning, the key is kept.
    Suspicious(Finding),
}

/// Where a `files:` source is written, for its messages and paths.
struct FilesAt<'a> {
    file: FileId,
    /// Key problems point at `key:`; without one, at `path:`, which the default comes from.
    key_pos: Pos,
    pattern_pos: Pos,
    /// The folder of the YAML file, where the glob starts.
    dir: &'a Path,
}

/// A file a `files:` source matched, its key checked, waiting for its value's hash.
struct PlannedFile {
    key: String,
    /// The path relative to the YAML file's folder, at the `path:` glob (for messages).
    shown: Sp<String>,
    /// The canonical path; `None` when it is not confined (reported).
    canonical: Option<PathBuf>,
    /// Whether the key's name may be used (else it was reported).
    name_ok: bool,
}

/// How many keys of a file are resolved between two reports to `Hooks::on_keys`.
const KEYS_PER_REPORT: u64 = 1000;

/// `files:` values hashed ahead of their turn, per worker.
const HASH_AHEAD_PER_WORKER: usize = 16;

impl KeyResolver<'_> {
    fn check_name(&self, name: &str) -> NameCheck {
        if let Err(finding) = validate::key_name(name) {
            return NameCheck::Invalid(finding);
        }
        if let Some(prefix) = self.prefix
            && let Err(finding) = validate::key_in_prefix(name, prefix, self.scope_name)
        {
            return NameCheck::OutsidePrefix(finding);
        }
        if let Err(finding) = validate::key_in_shards(name, self.list_shards, self.scope_name) {
            return NameCheck::Invalid(finding);
        }
        if self.ignore.is_match(name) {
            return NameCheck::Ignored((
                format!(
                    "key `{name}` matches the `ignore` globs of namespace `{}`, so kvsync skips it",
                    self.scope_name
                ),
                Some("remove the key, or narrow the `ignore` globs".to_owned()),
            ));
        }
        if let Err(finding) = validate::key_whitespace(name) {
            return NameCheck::Suspicious(finding);
        }
        NameCheck::Fine
    }

    fn add(&mut self, problems: &mut Problems, file: FileId, keys: NamedMap<KeyEntry>) {
        let mut unreported = 0u64;
        self.records.reserve(keys.0.len());
        for (name, entry) in keys.0 {
            // Told as the keys are resolved, a chunk at a time, so a counter moves while a
            // large file is read.
            unreported += 1;
            if unreported == KEYS_PER_REPORT {
                (self.on_keys)(std::mem::take(&mut unreported));
            }
            if self.replaced.is_some_and(|names| names.contains(&name.value)) {
                continue;
            }
            let ok = match self.check_name(&name.value) {
                NameCheck::Fine => true,
                NameCheck::Invalid((message, hint)) | NameCheck::OutsidePrefix((message, hint)) => {
                    problems.error(file, name.pos, message, hint);
                    false
                }
                NameCheck::Ignored((message, hint)) | NameCheck::Suspicious((message, hint)) => {
                    problems.warning(file, name.pos, message, hint);
                    true
                }
            };
            let dir = self.dirs.entry(file).or_insert_with(|| folder(problems, file));
            let site = KeySite { file, dir, name: &name.value };
            // Schema problems point at the value; a `file:` value's at its key.
            let value_pos = match &entry.value {
                KeyEntry::Value(_) => entry.pos,
                KeyEntry::Entry(fields) => fields.value.as_ref().map_or(name.pos, |v| v.pos),
            };
            let resolved = sources::resolve(&self.sources, &site, entry, self.scratch, problems);
            self.push(name.value, file, (name.pos, value_pos), resolved.filter(|_| ok));
        }
        if unreported > 0 {
            (self.on_keys)(unreported);
        }
    }

    /// Records a key; `pos` is where its name and its value are written.
    fn push(&mut self, name: String, file: FileId, pos: (Pos, Pos), entry: Option<DesiredEntry>) {
        let seq = u32::try_from(self.records.len()).unwrap_or(u32::MAX);
        if entry.is_some() {
            self.typing.note(seq, file, pos.1);
        }
        self.records.push(Record { name, seq, file, pos: pos.0, entry });
    }

    /// Compiles a `schemas:` mapping written in `file` (an included file's, when `included`).
    fn add_schemas(
        &mut self,
        problems: &mut Problems,
        file: FileId,
        schemas: NamedMap<SchemaSource>,
        included: bool,
    ) {
        if schemas.0.is_empty() {
            return;
        }
        let dir = self.dirs.entry(file).or_insert_with(|| folder(problems, file)).clone();
        let at = WrittenIn { file, dir: &dir, included };
        self.typing.add(self.compiler, &self.sources, problems, &at, schemas);
    }

    /// Adds the keys of `files:` sources written in `file`, each source's files in path order.
    fn add_files(&mut self, problems: &mut Problems, file: FileId, sources: Vec<FilesSource>) {
        for source in sources {
            self.add_files_source(problems, file, source);
        }
    }

    fn add_files_source(&mut self, problems: &mut Problems, file: FileId, source: FilesSource) {
        let FilesSource {
            path: pattern,
            key,
            strip_extension,
            metadata,
            expiration,
            expiration_ttl,
            sensitive,
        } = source;
        let dir = self.dirs.entry(file).or_insert_with(|| folder(problems, file)).clone();
        // Key problems point at `key:`; without one, at `path:`, which the default comes from.
        let key_pos = key.as_ref().map_or(pattern.pos, |k| k.pos);
        let template_text = key.map_or_else(|| files::DEFAULT_TEMPLATE.to_owned(), |k| k.value);
        let template = match Template::parse(&template_text) {
            Ok(template) => Some(template),
            Err((message, hint)) => {
                problems.error(file, key_pos, message, hint);
                None
            }
        };
        let site = KeySite { file, dir: &dir, name: &template_text };
        let shared = sources::files_shared(
            &self.sources,
            &site,
            metadata,
            expiration,
            expiration_ttl,
            sensitive,
            problems,
        );
        let root = Root { dir: self.sources.root_dir, canonical: self.sources.root_canonical };
        let found = match files::find(&root, &dir, &pattern) {
            Ok(found) => found,
            Err((message, hint)) => {
                problems.error(file, pattern.pos, message, hint);
                return;
            }
        };
        let Some(template) = template else {
            return;
        };
        // A template whose fixed start leaves the prefix gives no usable key: say so once.
        if self.template_leaves_prefix(problems, file, key_pos, &template, &template_text) {
            return;
        }
        if !found.files.is_empty() {
            (self.on_keys)(found.files.len() as u64);
        }
        let strip = strip_extension.is_some_and(|s| s.value);
        let at = FilesAt { file, key_pos, pattern_pos: pattern.pos, dir: &dir };
        let planned = self.plan_files(problems, &at, &found, &template, strip);

        // The values are hashed ahead on the workers; entries are made in path order.
        let shared = shared.map(Arc::new);
        let ahead = HASH_AHEAD_PER_WORKER * self.workers.count().max(1);
        let job_for = |planned: &PlannedFile| {
            let (path, shared) = (planned.canonical.clone()?, Arc::clone(shared.as_ref()?));
            Some(move || sources::hash_file_here(&path, &shared))
        };
        parallel::in_order(self.workers, planned, ahead, job_for, |planned, streamed| {
            let PlannedFile { key, shown, canonical, name_ok } = planned;
            let entry = match (streamed, canonical, &shared) {
                (Some(streamed), Some(path), Some(shared)) => {
                    sources::file_entry(&key, path, &shown, streamed, shared, file, problems)
                }
                _ => None,
            };
            self.push(key, file, (key_pos, key_pos), entry.filter(|_| name_ok));
        });
    }
    /// Whether a `key` template's fixed start leaves the scope's prefix, so no key it makes is
    /// usable (reported once).
    fn template_leaves_prefix(
        &self,
        problems: &mut Problems,
        file: FileId,
        key_pos: Pos,
        template: &Template,
        template_text: &str,
    ) -> bool {
        let Some(prefix) = self.prefix else { return false };
        if template.head().starts_with(prefix) || prefix.starts_with(template.head()) {
            return false;
        }
        problems.error(
            file,
            key_pos,
            format!(
                "`key` template `{template_text}` makes keys outside the prefix `{prefix}` of \
                 namespace `{}`",
                self.scope_name
            ),
            Some(format!("start the template with the prefix, e.g. `key: \"{prefix}{{path}}\"`")),
        );
        true
    }

    /// Each file's key, checked, in path order. A file whose key cannot be used is reported
    /// and gets no entry; a key the overlay replaces is left out.
    fn plan_files(
        &self,
        problems: &mut Problems,
        at: &FilesAt<'_>,
        found: &Found,
        template: &Template,
        strip: bool,
    ) -> Vec<PlannedFile> {
        let mut shown = files::Shown::default();
        let mut planned: Vec<PlannedFile> = Vec::with_capacity(found.files.len());
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(found.files.len());
        for relative in &found.files {
            let raw = include::slash_path(relative);
            let key = match files::key_path(relative, &found.base, strip) {
                Ok(path) => template.render(&path),
                Err((message, hint)) => {
                    problems.error(at.file, at.pattern_pos, message, hint);
                    continue;
                }
            };
            if self.replaced.is_some_and(|names| names.contains(&key)) {
                continue;
            }
            if let Some(&first) = seen.get(&key) {
                let first_raw = &planned[first].shown.value;
                problems.error(
                    at.file,
                    at.key_pos,
                    format!("files `{first_raw}` and `{raw}` both become key `{key}`"),
                    Some(if strip {
                        "with `strip_extension: true`, files that differ only in their extension \
                         get the same key; narrow the glob, or drop `strip_extension`"
                            .to_owned()
                    } else {
                        "narrow the glob, or change the `key` template".to_owned()
                    }),
                );
                continue;
            }
            let name_ok = match self.check_name(&key) {
                NameCheck::Fine => true,
                NameCheck::Invalid(finding) => {
                    shown.error(problems, at.file, at.key_pos, finding);
                    false
                }
                NameCheck::OutsidePrefix((message, _)) => {
                    let prefix = self.prefix.unwrap_or_default();
                    let hint = format!(
                        "a `files:` key is its `key` template with `{{path}}` filled in; start \
                         the template with the prefix, e.g. `key: \"{prefix}{{path}}\"`"
                    );
                    shown.error(problems, at.file, at.key_pos, (message, Some(hint)));
                    false
                }
                NameCheck::Ignored(finding) | NameCheck::Suspicious(finding) => {
                    shown.warning(problems, at.file, at.key_pos, finding);
                    true
                }
            };
            let canonical = match sources::confine(&self.sources, at.dir, &raw) {
                Ok(canonical) => Some(canonical),
                Err((message, hint)) => {
                    problems.error(at.file, at.pattern_pos, message, hint);
                    None
                }
            };
            seen.insert(key.clone(), planned.len());
            planned.push(PlannedFile {
                key,
                shown: Sp::new(raw, at.pattern_pos),
                canonical,
                name_ok,
            });
        }
        drop(seen);
        shown.finish(problems, at.file, at.key_pos);
        planned
    }
}

/// The folder of the YAML file `file` (where its relative paths start).
fn folder(problems: &Problems, file: FileId) -> PathBuf {
    problems.path(file).parent().unwrap_or(Path::new("")).to_path_buf()
}
