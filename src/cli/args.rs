//! The command line, as clap types. Nothing here does any work; `cli::run` reads these.
//!
//! Credentials are deliberately absent: the API token is read from the environment only, so it
//! never appears in `--help`, in shell history or in a process list.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::kv::TargetKind;
pub use crate::report::drift_model::DriftFormat;

/// GitOps for Cloudflare Workers KV: keep namespaces in the state your repository declares.
///
/// Parsed through [`command`], which adds the help text that is generated (the environment
/// variables) and hides what some commands accept only for scripts' sake.
#[derive(Debug, Parser)]
#[command(name = "kvsync", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Flags every command accepts: they shape the output, not what is done.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// When to use colour (NO_COLOR is honoured with `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print less: errors and the data only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more about what kvsync does
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Where the namespaces live: only on the commands that talk to a store (`schema`, `init` and
/// `completions` do not list them; `validate` accepts them hidden, so that a script can pass
/// `validate` and `plan` the same flags).
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Where the namespaces live: Cloudflare's API, the embedded local store, or the KV
    /// store of a running `wrangler dev` [default: the config's `target:`, else cloudflare]
    #[arg(long, value_enum)]
    pub target: Option<TargetKind>,

    /// The local store's file for `--target local`
    /// [default: the config's `local_path:`, else .kvsync/local.db]
    #[arg(long, value_name = "FILE")]
    pub local_path: Option<PathBuf>,

    /// The Cloudflare API base URL [default: $CLOUDFLARE_API_BASE_URL, else
    /// https://api.cloudflare.com/client/v4]
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,

    /// The address of `wrangler dev` for `--target wrangler-dev` (as it prints it: "Ready on
    /// URL") [default: $KVSYNC_WRANGLER_DEV_URL, else http://127.0.0.1:8787]
    #[arg(long, value_name = "URL")]
    pub dev_url: Option<String>,
}

/// The target options `validate` accepts and ignores.
pub const VALIDATE_HIDDEN: [&str; 4] = ["target", "local_path", "api_url", "dev_url"];

/// The whole command line: [`Cli`], with the environment variables kvsync reads listed after
/// the top-level help (from `env_vars`, where they are written once) and the target options of
/// `validate` hidden.
pub fn command() -> clap::Command {
    use clap::CommandFactory as _;
    Cli::command().after_help(crate::env_vars::help_section()).mut_subcommand("validate", |sub| {
        VALIDATE_HIDDEN.iter().fold(sub, |sub, id| sub.mut_arg(*id, |arg| arg.hide(true)))
    })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the config without touching any namespace
    Validate(ValidateArgs),
    /// Show what apply would change
    Plan(PlanArgs),
    /// Change the namespaces to match the config
    Apply(ApplyArgs),
    /// Compare the namespaces with the config; exit 2 when they differ
    Drift(DriftArgs),
    /// Compare two environments (configs, or `--live` namespaces); exit 2 when they differ
    Diff(DiffArgs),
    /// Write a kvsync.yaml that reproduces what a namespace (or a prefix of it) holds now
    Export(ExportArgs),
    /// Write a commented starter kvsync.yaml, or one scope per KV binding of a wrangler config
    Init(InitArgs),
    /// Write changes made live (by hand, in the dashboard) back into the config; exit 2 when
    /// files changed or keys need a person
    Pull(PullArgs),
    /// Write TypeScript types and typed readers for the Workers that read the keys
    Types(TypesArgs),
    /// Put back the keys an apply changed, from the snapshot it saved before its first write
    Restore(RestoreArgs),
    /// Print the JSON Schema of kvsync.yaml
    Schema,
    /// Print a shell completion script
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Which config, and which environment of it.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The config file [default: kvsync.yaml; for `apply PLAN`, the one the plan was made from]
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The environment overlay to apply (required when the config has environments, unless it
    /// sets `default_environment`); in a config without `environments:`, the wrangler
    /// environment (`[env.NAME]`) that `binding:` scopes are looked up in, as `wrangler --env`
    #[arg(short, long = "env", value_name = "NAME")]
    pub env: Option<String>,

    /// `binding:` scopes use the binding's `preview_id` (`--preview false`: its `id`), as
    /// wrangler's `--preview`; a scope whose `preview:` says otherwise is an error. A binding
    /// with both ids needs this flag or the scope's `preview:`
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub preview: Option<bool>,
}

/// The config file when `-c` is not given.
pub const DEFAULT_CONFIG: &str = "kvsync.yaml";

impl ConfigArgs {
    /// `-c FILE`, else [`DEFAULT_CONFIG`].
    pub fn path(&self) -> &std::path::Path {
        self.config.as_deref().unwrap_or(std::path::Path::new(DEFAULT_CONFIG))
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    /// Accepted and ignored (hidden from `--help`): validate touches no store.
    #[command(flatten)]
    pub target: TargetArgs,

    /// How to print problems: for people, as JSON, or as GitHub annotations
    #[arg(long, value_enum, default_value_t = ValidateFormat::Human)]
    pub format: ValidateFormat,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Only keys matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,

    /// Read every desired key's value (a hand edit that kept the metadata is only seen this way;
    /// as exact bytes: one request per 100 keys locally, one per key on Cloudflare)
    #[arg(long)]
    pub deep: bool,

    /// Also add keys present live and not in the config (unmarked, inside a scope)
    #[arg(long)]
    pub adopt: bool,

    /// Remove entries of keys absent live (never `expiration_ttl` keys)
    #[arg(long)]
    pub remove_missing: bool,

    /// Where `--adopt` adds keys: the root config or an included file [default: the file with
    /// the scope's `keys:`]
    #[arg(long, value_name = "FILE")]
    pub into: Option<PathBuf>,

    /// Print the diff of every file it would change; write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// How to print what it did
    #[arg(long, value_enum, default_value_t = PullFormat::Human)]
    pub format: PullFormat,
}

/// How `pull` prints what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PullFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct TypesArgs {
    /// The config file [default: kvsync.yaml]
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Type one environment only [default: the union over every environment]
    #[arg(short, long = "env", value_name = "NAME")]
    pub env: Option<String>,

    /// Write the module to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Write nothing; exit 2 when FILE (`--out`) is not what would be written, for CI
    #[arg(long, requires = "out")]
    pub check: bool,
}

/// Options that shape a plan, shared by `plan` and `apply`.
#[derive(Debug, Args)]
pub struct PlanningArgs {
    /// Only plan keys matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,

    /// Take over the keys this owner holds that the config desires
    #[arg(long, value_name = "OWNER")]
    pub take_over: Option<String>,

    /// The most keys one scope may delete (replaces max(`max_deletes`, 10 %)); a saved plan
    /// records it
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<usize>,

    /// Allow deleting every key of a scope whose desired state is empty (as `allow_empty: true`
    /// on every scope); a saved plan records it
    #[arg(long)]
    pub allow_empty: bool,

    /// Do not fetch live values to show diffs
    #[arg(long)]
    pub no_value_diff: bool,

    /// Apply saves no snapshot of the keys it changes before its first write (as `snapshot:
    /// false` on every scope), sparing its reads; a saved plan records it
    #[arg(long)]
    pub no_snapshot: bool,

    /// Print every change: over 200, the plan shows per scope and action the count and the first
    /// 20 keys (JSON is always complete)
    #[arg(long)]
    pub show_all: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub planning: PlanningArgs,

    /// Exit 2 when there are changes (0: none, 1: error)
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// How to print the plan: for people, as versioned JSON, or as Markdown for pull requests
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    /// Also save the plan to this file, for `kvsync apply FILE`
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// The config as it is on the target branch: tag each change as the pull request's or drift
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    #[command(flatten)]
    pub markdown: MarkdownArgs,
}

/// The size budgets of Markdown reports, for `plan` and `drift`. A comment, a job summary and a
/// step output each have a limit of their own; kvsync renders the report for each, cut once.
#[derive(Debug, Args)]
#[command(next_help_heading = "Markdown reports")]
pub struct MarkdownArgs {
    /// With `--format markdown`: the most characters the report on stdout may have
    #[arg(long, value_name = "N", default_value_t = crate::report::markdown::DEFAULT_BUDGET)]
    pub max_chars: usize,

    /// Also write the Markdown report, cut to MAX_CHARS, to PATH (repeatable). LABEL says where
    /// that file goes ("the job summary"): a shorter rendering that had to leave something out
    /// points there when this one holds the whole report. Over 65,536 a rendering lists every
    /// key, not the first 50 of each group; the largest one decides which values are read for
    /// diffs (stdout's reads none of its own)
    #[arg(long, value_name = "PATH:MAX_CHARS[:LABEL]", value_parser = MarkdownOut::parse)]
    pub markdown_out: Vec<MarkdownOut>,

    /// Where the whole report can be found when no rendering holds all of it, for the note of a
    /// cut report (e.g. "the `kvsync-plan` artifact of this run")
    #[arg(long, value_name = "TEXT", alias = "full-plan-hint")]
    pub full_report_hint: Option<String>,
}

/// One `--markdown-out PATH:MAX_CHARS[:LABEL]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkdownOut {
    pub path: PathBuf,
    pub max_chars: usize,
    pub label: Option<String>,
}

impl MarkdownOut {
    /// Splits at the first `:` followed by digits and then `:` or the end, so a path may hold a
    /// colon (`C:\…`) and a label may hold anything.
    fn parse(text: &str) -> Result<Self, String> {
        for (at, _) in text.match_indices(':').filter(|(at, _)| *at > 0) {
            let rest = &text[at + 1..];
            let (digits, label) = match rest.split_once(':') {
                Some((digits, label)) => (digits, Some(label)),
                None => (rest, None),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let max_chars = digits.parse().map_err(|_| format!("`{digits}` is too large"))?;
            return Ok(Self {
                path: PathBuf::from(&text[..at]),
                max_chars,
                label: label.filter(|l| !l.is_empty()).map(str::to_owned),
            });
        }
        Err("expected PATH:MAX_CHARS or PATH:MAX_CHARS:LABEL, e.g. `summary.md:1048576:the job summary`".to_owned())
    }
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `kvsync plan --out`: apply exactly it, without asking, or refuse if it
    /// is stale
    #[arg(value_name = "PLAN")]
    pub plan_file: Option<PathBuf>,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub planning: PlanningArgs,

    /// What wrote the keys, recorded in each marker (cut to 40 characters) [default: $GITHUB_SHA]
    #[arg(long, value_name = "REV")]
    pub revision: Option<String>,

    /// Apply without asking (required when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,

    /// Where to save the snapshot of the keys this apply changes, as they were, for `kvsync
    /// restore` (a new file) [default: .kvsync/snapshots/<UTC time>-<rev>.jsonl]
    #[arg(long, value_name = "PATH", conflicts_with = "no_snapshot")]
    pub snapshot: Option<PathBuf>,

    /// Also keep the values of sensitive keys in the snapshot (otherwise recorded as left out)
    #[arg(long, conflicts_with = "no_snapshot")]
    pub snapshot_sensitive: bool,

    /// After applying, read back what changed until the store shows it (KV takes up to about
    /// 60 s to settle); exit 1 if something is still not as planned
    #[arg(long)]
    pub verify: bool,

    /// How to print the plan and the result
    #[arg(long, value_enum, default_value_t = ApplyFormat::Human)]
    pub format: ApplyFormat,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A snapshot `kvsync apply` saved (default folder .kvsync/snapshots)
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: PathBuf,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Only restore keys matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,

    /// Restore without asking (required when stdin is not a terminal)
    #[arg(long)]
    pub auto_approve: bool,

    /// Also put back keys changed since the apply by someone else (otherwise the restore is
    /// refused and writes nothing)
    #[arg(long)]
    pub overwrite_changed: bool,

    /// How to print the restore plan and its result
    #[arg(long, value_enum, default_value_t = RestoreFormat::Human)]
    pub format: RestoreFormat,
}

/// `kvsync restore --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RestoreFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Also read the values and compare bytes, metadata and expirations (one read per key)
    #[arg(long)]
    pub deep: bool,

    /// Accepted as `plan` takes it: drift always exits 2 when it finds drift
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// How to print the drift
    #[arg(long, value_enum, default_value_t = DriftFormat::Human)]
    pub format: DriftFormat,

    #[command(flatten)]
    pub markdown: MarkdownArgs,
}

/// `kvsync diff --env A --env B`: what differs between two environments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The config file [default: kvsync.yaml]
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The two environments to compare, each as `--env` picks one for `plan` (exactly two: the
    /// first is the old side of each value diff, the second the new side)
    #[arg(short, long = "env", value_name = "NAME", required = true)]
    pub env: Vec<String>,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Only compare keys matching this glob (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<String>,

    /// Compare the environments' namespaces (through the markers in the listings) instead of
    /// their configs
    #[arg(long)]
    pub live: bool,

    /// With `--live`: read every value on both sides, so keys without a marker and hand edits
    /// that kept the marker are compared too (one request per 100 keys on each side)
    #[arg(long, requires = "live")]
    pub deep: bool,

    /// How to print the comparison
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,

    #[command(flatten)]
    pub markdown: MarkdownArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: TargetArgs,

    /// The namespace to read (32 hex digits, as `wrangler kv namespace list` shows)
    #[arg(long, value_name = "ID")]
    pub namespace_id: String,

    /// Export only keys starting with this; it becomes the scope's prefix
    #[arg(long, default_value = "", value_name = "P", hide_default_value = true)]
    pub prefix: String,

    /// The config's owner, written into every key kvsync writes
    #[arg(long, default_value = crate::config::export::DEFAULT_OWNER, value_name = "O")]
    pub owner: String,

    /// The file to write; values that go to files land in `values/` beside it; `-` prints the
    /// YAML on stdout (value files then go to `./values/`)
    #[arg(short, long, default_value = "kvsync.yaml", value_name = "FILE")]
    pub output: PathBuf,

    /// Keys matching this glob are written as `${VAR}` references, not values (repeatable)
    #[arg(long, value_name = "GLOB")]
    pub sensitive: Vec<String>,

    /// Overwrite the output file if it exists
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// One scope per KV binding of the wrangler config found in this folder or above it, and
    /// one environment per wrangler environment (wrangler's top level is `production`, or
    /// `default` when wrangler has an `[env.production]`)
    #[arg(long)]
    pub from_wrangler: bool,

    /// The file to write
    #[arg(short, long, default_value = "kvsync.yaml", value_name = "FILE")]
    pub output: PathBuf,

    /// The owner [default: the Worker's `name` with --from-wrangler, else the folder's name]
    #[arg(long, value_name = "O")]
    pub owner: Option<String>,

    /// Overwrite the output file if it exists
    #[arg(long)]
    pub force: bool,
}

/// `--target`: the one target type, with its names and help lines.
impl ValueEnum for TargetKind {
    fn value_variants<'a>() -> &'a [Self] {
        &TargetKind::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.about()))
    }
}

/// `drift --format`: the drift report's own formats.
impl ValueEnum for DriftFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[DriftFormat::Human, DriftFormat::Json, DriftFormat::Markdown]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            DriftFormat::Human => "human",
            DriftFormat::Json => "json",
            DriftFormat::Markdown => "markdown",
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    Human,
    Json,
    Github,
}
