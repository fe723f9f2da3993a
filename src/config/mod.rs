//! Configuration: `kvsync.yaml` → validated [`Desired`] state.
//!
//! This module owns everything between the config file on disk and the desired state the plan
//! engine reads. Its private modules, in the order `load` drives them:
//! - `yaml`: parsing; the only module that knows the YAML crate (spans, limits, messages);
//! - `model`: what a file says (serde and schemars types; `schemas/kvsync.schema.json`);
//! - `overlay`: picking the environment and deep-merging its overlay;
//! - `include`: finding and reading `include:` files (read ahead on `parallel`'s workers), and
//!   the glob walk `files:` shares;
//! - `files`: `files:` sources: a matched file's `{path}` and the `key` template;
//! - `interpolate`: `${VAR}` inside string scalars;
//! - `sources`: values, metadata and expirations → bytes and content hashes (`file:` and
//!   `files:` values streamed);
//! - `parallel`: a small ordered worker pool, so parsing and hashing use the other cores while
//!   the loader keeps every order;
//! - `shape`: when serde stops at a field it cannot take, the file's tree checked against the
//!   schema, so that every unknown field, wrong type and bad value is reported in one run;
//! - `validate`: names, formats and overlapping scopes;
//! - `wrangler`: `binding:` → namespace id through wrangler's config (also read by `init`);
//! - `problems`: where every finding is collected, in file and line order.
//!
//! Writing YAML (`kvsync export`, `kvsync init`) lives here too: `yaml_out` is the one writer
//! (scalars, block literals, JSON as YAML); `export` (which reads every entry back through
//! `yaml` and `sources` before accepting it) and `starter` write configs with it.
//!
//! Every problem is reported at once: the loader keeps going after a bad key and returns all
//! [`Diagnostic`]s together, in file order (the root config first, then each included file in
//! the order it was read) and line order. A YAML syntax error stops only the file it is in;
//! fields of the wrong shape are all reported, cut out, and the rest of the file loaded.
//! Worker threads change when a file is parsed, never what the load returns: results and
//! diagnostics are those of reading one file after another.
//! Nothing here renders diagnostics (`report::diagnostic` does) or knows about stores.

pub mod desired;
pub mod edit;
pub mod export;
mod files;
mod include;
mod interpolate;
mod load;
mod model;
mod overlay;
mod parallel;
mod problems;
mod shape;
mod sources;
pub mod starter;
mod typing;
mod validate;
pub mod value_schema;
pub mod wrangler;
mod yaml;
mod yaml_out;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use desired::{Desired, DesiredEntry, DesiredScope, Globs, PlanTier, ReadError, ValueSource};
pub use value_schema::{Reads, ValueSchema, ValueSchemas, Violation};

/// The names of the config's `environments:`, in the order written; empty when it has none or
/// cannot be read (loading it then says why).
pub fn environment_names(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    match yaml::parse::<model::ConfigFile>(text) {
        Ok(config) => config.environments.0.into_iter().map(|(name, _)| name.value).collect(),
        Err(_) => Vec::new(),
    }
}

/// A folder for file system calls: `""` (the folder of a config given as a bare file name) is
/// the current directory.
pub fn shown_dir(dir: &Path) -> &Path {
    sources::shown_dir(dir)
}

/// Whether `name` is an owner a config may declare (`[a-z0-9._-]`, 1 to 64 characters).
pub fn is_valid_owner(name: &str) -> bool {
    validate::owner(name).is_ok()
}

/// How to load a config.
pub struct LoadOptions<'a> {
    /// `--env NAME`; when `None` and the config has `environments`, `default_environment` is
    /// used, else it is an error.
    pub environment: Option<&'a str>,
    /// `--preview`: whether `binding:` scopes that say nothing (no `preview:`) use the binding's
    /// `preview_id` (`Some(true)`) or its `id` (`Some(false)`), as wrangler's `--preview`.
    pub preview: Option<bool>,
    /// `--target`, when given. On `wrangler-dev` (given here, or as the config's `target:`)
    /// namespace ids are the ones `wrangler dev` binds (`config/wrangler/dev.rs`).
    pub target: Option<crate::kv::TargetKind>,
    /// Environment-variable lookup for `${VAR}` interpolation (tests pass a map; the CLI passes
    /// `std::env::var`).
    pub vars: &'a dyn Fn(&str) -> Option<String>,
    /// How `namespace_title:` scopes get their namespace ids: called at most once per load,
    /// once every scope's head is read, with where the keys live (the [`Heads`]' target,
    /// account and local path; its `scopes` are those whose ids are known), and answering the
    /// target's [`Titles`](crate::kv::Titles). `None` for a load that reaches no target
    /// (`validate`, `types`, …): a title scope then has an empty `namespace_id`, and its
    /// `resolved_from` says the title was not looked up. An answer of `None` means the target
    /// could not be asked (the caller knows why): the load then fails with
    /// [`Error::TitlesUnknown`], unless the config has problems of its own.
    pub titles: Option<&'a AskTitles<'a>>,
}

impl<'a> LoadOptions<'a> {
    /// A load of `environment` with no `--preview`, no `--target`, no variables and no target
    /// to ask for titles: what reads a config on its own. Set other fields with `..`.
    pub fn of(environment: Option<&'a str>) -> Self {
        LoadOptions { environment, preview: None, target: None, vars: &no_vars, titles: None }
    }
}

fn no_vars(_: &str) -> Option<String> {
    None
}

/// What [`LoadOptions::titles`] calls: where the keys live → the target's namespaces by title,
/// or `None` when the target could not be asked.
pub type AskTitles<'a> = dyn Fn(&Heads) -> Option<crate::kv::Titles> + 'a;

/// A loaded config: the desired state and what is worth saying about it.
#[derive(Debug)]
pub struct Loaded {
    pub desired: Desired,
    /// Non-fatal findings (e.g. a desired key that matches its scope's `ignore` globs).
    pub warnings: Vec<Diagnostic>,
    /// The YAML files read, the root config first, each included file after the file that
    /// included it (where `kvsync pull` looks for the entries it edits).
    pub files: Vec<PathBuf>,
    /// For each scope, by name, the included files its keys were read from: their places in
    /// `files`, in the order read.
    pub included: BTreeMap<String, Vec<usize>>,
}

/// Loads, interpolates, merges, validates and hashes the config at `path`.
///
/// Relative paths inside the config (`file:`, `include:`, `local_path:`) resolve against the
/// folder of the YAML file that names them; `file:` and `include:` may not leave the folder of
/// the root config.
pub fn load(path: &Path, options: &LoadOptions<'_>) -> Result<Loaded, Error> {
    load::load(path, options, &Hooks { on_heads: &|_| {}, on_keys: &|_| {} })
}

/// YAML files (the root config, included files) to read from memory instead of the disk, by
/// canonical path: `kvsync pull` loads its edits this way before it writes a file.
pub type Overlay = std::collections::BTreeMap<PathBuf, Vec<u8>>;

/// [`load`], reading the files `overlay` holds from it. A `file:` value is still read from the
/// disk.
pub fn load_overlaid(
    path: &Path,
    options: &LoadOptions<'_>,
    overlay: Overlay,
) -> Result<Loaded, Error> {
    load::load_overlaid(path, options, std::sync::Arc::new(overlay))
}

/// [`load`], telling `hooks` how far it got: what is needed to list the namespaces as soon as
/// it is known (before any key is read), and how many keys each file added.
pub fn load_with(
    path: &Path,
    options: &LoadOptions<'_>,
    hooks: &Hooks<'_>,
) -> Result<Loaded, Error> {
    load::load(path, options, hooks)
}

/// What [`load_with`] reports while it works.
pub struct Hooks<'a> {
    /// Called at most once, when every scope's namespace id and prefix are known and no problem
    /// has been found so far; not called when the config already has problems there. For a
    /// large root file it is called before the file is parsed, with the heads read from its
    /// text up to the first `keys:`: a guess the caller must compare with the loaded
    /// [`Desired::heads`] (an overlay further down, or a problem found later, can change them).
    pub on_heads: &'a dyn Fn(Heads),
    /// Called with numbers of keys as the keys of each file (the root config, an included file,
    /// an environment's overlay, a `files:` source) are resolved: for a file's `keys:`, every
    /// 1000 keys and then the rest, so that a counter moves through a large file.
    pub on_keys: &'a dyn Fn(u64),
}

/// Where a config's keys live, known before its keys are read: enough to open the target and
/// start listing. The same fields of the [`Desired`] the load returns hold the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heads {
    pub target: Option<crate::kv::TargetKind>,
    pub account_id: Option<String>,
    pub local_path: Option<PathBuf>,
    /// What to list for each scope, in config order.
    pub scopes: Vec<ScopeListing>,
}

/// What to list for one scope: the whole prefix, or each of its `list_shards`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeListing {
    pub namespace_id: String,
    pub prefix: String,
    /// Sorted key prefixes listed in parallel instead of `prefix`; empty for one listing.
    pub shards: Vec<String>,
}

impl ScopeListing {
    /// The prefixes to list, in key order: the shards, or the prefix alone.
    pub fn prefixes(&self) -> Vec<&str> {
        if self.shards.is_empty() {
            vec![self.prefix.as_str()]
        } else {
            self.shards.iter().map(String::as_str).collect()
        }
    }
}

impl Desired {
    /// The [`Heads`] of this desired state.
    pub fn heads(&self) -> Heads {
        Heads {
            target: self.target,
            account_id: self.account_id.clone(),
            local_path: self.local_path.clone(),
            scopes: self
                .scopes
                .iter()
                .map(|s| ScopeListing {
                    namespace_id: s.namespace_id.clone(),
                    prefix: s.prefix.clone(),
                    shards: s.list_shards.clone(),
                })
                .collect(),
        }
    }
}

/// The JSON Schema of `kvsync.yaml`, generated from the model types, pretty-printed and ending in
/// a newline (what `schemas/kvsync.schema.json` holds).
pub fn schema_json() -> String {
    model::schema_json()
}

/// Errors of loading a config.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The root config file cannot be read (missing file etc.).
    #[error("cannot read the config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more problems, all of them, in file and line order.
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<Diagnostic>),
    /// A journal of an interrupted write (`kvsync pull`) is in the config's folder: its files
    /// may be half written.
    #[error(
        "an interrupted `kvsync pull` left `{}`: the config may be half written, so it is not read",
        journal.display()
    )]
    Interrupted { journal: PathBuf },
    /// An exported file did not load back as exactly what was read (a bug in the writer):
    /// `differing` of `total` keys, the first of them named.
    #[error(
        "the exported file does not reproduce {differing} of {total} keys exactly{}; nothing is \
         wrong with the namespace, but this is a bug in kvsync",
        export_named(named)
    )]
    ExportMismatch { differing: usize, total: usize, named: Vec<String> },
    /// The target could not say which namespaces the `namespace_title:` scopes name (the
    /// caller of the load knows why, and reports that instead).
    #[error("the namespaces named by `namespace_title:` could not be looked up")]
    TitlesUnknown,
}

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Read { .. } => vec![
                "pass the config with `-c FILE`, or run `kvsync init` to write a starter config \
                 (`kvsync init --from-wrangler` in a Worker's folder)"
                    .to_owned(),
            ],
            Self::Interrupted { .. } => vec![
                "run `kvsync pull` again: it finishes the interrupted write, or rolls it back"
                    .to_owned(),
            ],
            Self::Invalid(_) | Self::ExportMismatch { .. } | Self::TitlesUnknown => Vec::new(),
        }
    }
}

fn export_named(named: &[String]) -> String {
    if named.is_empty() {
        return String::new();
    }
    let shown: Vec<String> = named.iter().map(|key| format!("`{key}`")).collect();
    format!(": {}", shown.join(", "))
}

fn invalid_summary(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [one] => format!("{}:{}:{}: {}", one.path.display(), one.line, one.column, one.message),
        many => format!("the config has {} problems", many.len()),
    }
}

/// One problem (or warning) at a place in a YAML file. Lines and columns count from 1, columns
/// in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as kvsync reached it: the root config's path as given, or an included file's
    /// path joined onto the folder of the file that included it.
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Lowercase, no trailing period, names in backticks.
    pub message: String,
    /// What to do about it, shown on its own `hint:` line.
    pub hint: Option<String>,
    /// For a value that breaks its schema: the key and each way it breaks it, so a report can
    /// list them as data (key, place, JSON pointer, what was expected) instead of as prose.
    pub schema: Option<SchemaBreak>,
}

/// A value that breaks its schema ([`Diagnostic::schema`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaBreak {
    pub key: String,
    /// Never the value of a sensitive key (see [`Violation`]).
    pub violations: Vec<Violation>,
}

#[cfg(test)]
mod tests;
