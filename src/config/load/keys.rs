//! A scope's keys: read file by file (the root's `keys:` and `files:`, each included file's, the
//! overlay's), checked, resolved and hashed, then sorted once with names defined twice reported.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::desired::{DesiredEntry, DesiredScope, Entries, Globs};
use crate::config::files::{self, Template};
use crate::config::include::{self, Found, Included, ReadAhead, Root, StackEntry};
use crate::config::model::{FilesSource, KeyEntry, NamedMap, SchemaSource, Sp};
use crate::config::parallel::{self, Workers};
use crate::config::problems::{FileId, Pos, Problems};
use crate::config::sources::{self, KeySite, Scratch, Sources};
use crate::config::typing::{Typing, WrittenIn};
use crate::config::validate::{self, Finding};
use crate::config::value_schema::Compiler;
use crate::config::{Hooks, Overlay};

use super::Loader;
use super::head::Head;

impl Loader<'_> {
    /// One scope, its keys read, resolved and hashed; `None` when its head (id, prefix) is
    /// unusable. Its keys' problems are reported either way.
    pub(super) fn scope(
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
            included: Vec::new(),
        };
        keys.add_schemas(&mut self.problems, self.root, schemas, false);
        keys.add(&mut self.problems, self.root, base_keys);
        keys.add_files(&mut self.problems, self.root, files);
        let root = (self.root, self.root_file_canonical);
        keys.add_included(&mut self.problems, root, &include, &self.overlay);
        keys.replaced = None;
        keys.add(&mut self.problems, self.root, overlay_keys);
        let KeyResolver { records, typing, included, .. } = keys;
        self.included.insert(scope_name.clone(), included);
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

    /// Sorts a scope's keys by name and reports names defined twice (at the later place,
    /// naming the first); returns the entries that resolved, in name order.
    fn settle(&mut self, mut records: Vec<Record>) -> Entries {
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
        Entries::from_sorted(entries.collect())
    }
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
    /// The included files read, in order.
    included: Vec<FileId>,
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

    /// Adds the schemas, keys and `files:` sources of the files `include` names (and of the
    /// files they include), in the order read; `root` is the root config and its canonical path.
    fn add_included(
        &mut self,
        problems: &mut Problems,
        root: (FileId, &Path),
        include: &[Sp<String>],
        overlay: &Arc<Overlay>,
    ) {
        let walk_root = Root { dir: self.sources.root_dir, canonical: self.sources.root_canonical };
        let root_name = problems.path(root.0).file_name().map(PathBuf::from);
        let mut stack = vec![StackEntry {
            canonical: root.1.to_path_buf(),
            shown: root_name.unwrap_or_default(),
        }];
        let mut read_ahead = ReadAhead::new(self.workers, Arc::clone(overlay));
        include::collect(
            &walk_root,
            root.0,
            include,
            &mut stack,
            &mut |problems, file, Included { keys: included, files, schemas }| {
                self.included.push(file);
                self.add_schemas(problems, file, schemas, true);
                self.add(problems, file, included);
                self.add_files(problems, file, files);
            },
            problems,
            &mut read_ahead,
        );
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
