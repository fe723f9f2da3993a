//! The top-level error: every module's error, the hint that goes with it, and its exit status.
//!
//! Messages are lowercase without a trailing period and put names in backticks; hints are
//! printed on their own `hint:` line by the CLI.

use crate::plan::guards::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] crate::config::Error),

    #[error(transparent)]
    Kv(#[from] crate::kv::Error),

    #[error(transparent)]
    Apply(#[from] crate::apply::Error),

    #[error(transparent)]
    Fs(#[from] crate::fs::Error),

    #[error(transparent)]
    Saved(#[from] crate::saved::Error),

    /// `pull`'s edits cannot be computed, or do not say what they should.
    #[error(transparent)]
    Edit(#[from] crate::config::edit::Error),

    /// `plan` found that apply would refuse this plan as it stands (the plan printed lists every
    /// refusal with its hint), so the pull request's check fails before the merge.
    #[error("apply would refuse this plan: {}", Refusal::headlines(.0))]
    PlanRefused(Vec<Refusal>),

    /// Apply needs a `yes` and there is no terminal to ask on.
    #[error("refusing to apply without approval: stdin is not a terminal")]
    NotApproved,

    /// The user did not answer `yes`.
    #[error("apply cancelled; nothing was written")]
    Declined,

    /// `KVSYNC_NOW` is not a number of seconds.
    #[error("`{variable}` must be unix seconds, not `{value}`")]
    Clock { variable: &'static str, value: String },

    /// `--target cloudflare` without an account id.
    #[error(
        "no Cloudflare account id: the config sets no `account_id` and `CLOUDFLARE_ACCOUNT_ID` is not set"
    )]
    MissingAccountId,

    /// Values of listed keys could not be read (each key's reason); the other reads went on.
    #[error("could not read the {} of {}:{}", crate::text::plural(keys.len(), "value", "values"), counted_keys(keys.len()), unreadable_list(keys))]
    Unreadable { keys: Vec<(String, String)> },

    /// `kvsync restore`: keys changed since the apply by someone else; nothing was written.
    #[error(
        "refusing to restore: {} changed since the apply; nothing was written{}",
        crate::apply::counted_keys(keys),
        crate::apply::key_list(keys)
    )]
    RestoreRefused { keys: Vec<String> },

    /// `kvsync restore` wrote part of the snapshot back.
    #[error("restore did not finish: {failed} failed")]
    RestoreIncomplete { failed: usize },

    /// `init --from-wrangler` found no wrangler config from the current folder up.
    #[error(
        "no wrangler config (wrangler.json, wrangler.jsonc or wrangler.toml) in this folder or \
         any folder above it"
    )]
    NoWranglerConfig,

    /// `init --from-wrangler`: the wrangler config found does not parse.
    #[error("cannot read the wrangler config `{path}`: {detail}")]
    WranglerUnreadable { path: String, detail: String },

    /// `init --from-wrangler`: the wrangler config has no `kv_namespaces`.
    #[error(
        "`{path}` declares no KV bindings (`kv_namespaces`); run `kvsync init` without \
         `--from-wrangler` for a starter that names a namespace id"
    )]
    NoKvBindings { path: String },

    /// A command-line argument clap accepted but kvsync cannot use.
    #[error("{0}")]
    Usage(String),

    /// The API does not know a scope's namespace (code 10013): the error as the API gave it,
    /// with the scope, and where its namespace id came from when a `binding:` looked it up.
    #[error("{error}")]
    UnknownNamespace { error: Box<crate::kv::Error>, scope: String, resolved_from: Option<String> },

    /// Reading from or writing to the terminal failed.
    #[error("{context}: {source}")]
    Io { context: &'static str, source: std::io::Error },
}

impl From<crate::apply::pull::Error> for Error {
    /// A pull's error, each kind with the hints of its own module.
    fn from(error: crate::apply::pull::Error) -> Self {
        use crate::apply::pull::Error as Pull;
        match error {
            Pull::Kv(error) => Self::Kv(error),
            Pull::Edit(error) => Self::Edit(error),
            Pull::Fs(error) => Self::Fs(error),
        }
    }
}

fn counted_keys(count: usize) -> String {
    crate::text::counted(count, "listed key", "listed keys")
}

fn unreadable_list(keys: &[(String, String)]) -> String {
    crate::text::first_lines(keys.iter().map(|(key, why)| format!("{key}: {why}")), 20)
}

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Config(error) => error.hints(),
            Self::Fs(error) => error.hints(),
            Self::NotApproved => vec![
                "review the plan, then pass `--auto-approve` to apply without a prompt".to_owned(),
            ],
            Self::RestoreRefused { .. } => vec![
                "look at what changed; pass `--overwrite-changed` to put the snapshot's state back anyway, or `--only GLOB` to restore the other keys".to_owned(),
            ],
            Self::RestoreIncomplete { .. } => vec![
                "run the same `kvsync restore` again: keys already put back are left alone".to_owned(),
            ],
            Self::Apply(error) => error.hints(),
            Self::Saved(error) => error.hints(),
            Self::Edit(error) => error.hints(),
            Self::MissingAccountId => vec![
                "set `account_id:` in the config, export CLOUDFLARE_ACCOUNT_ID, or set `account_id` in the wrangler config of your `binding:` scopes; to try kvsync without an account, pass `--target local`".to_owned(),
            ],
            Self::Kv(error) => error.hints(),
            Self::UnknownNamespace { scope, resolved_from: Some(from), .. } => vec![format!(
                "scope `{scope}` takes its namespace id from {from}: check that file and that \
                 environment, and that the id is in this account (`account_id:` or \
                 CLOUDFLARE_ACCOUNT_ID)"
            )],
            Self::UnknownNamespace { scope, resolved_from: None, .. } => vec![format!(
                "the namespace id of scope `{scope}` is not in this account: check its \
                 `namespace_id` and the account id (`account_id:` or CLOUDFLARE_ACCOUNT_ID)"
            )],
            _ => Vec::new(),
        }
    }
}
