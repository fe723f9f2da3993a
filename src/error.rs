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

    /// One or more apply guards refused the plan; nothing was written. The plan printed before
    /// the error lists every refusal with its hint.
    #[error("refusing to apply: {}; nothing was written", headlines(.0))]
    Refused(Vec<Refusal>),

    /// `plan` found that apply would refuse this plan as it stands (the plan printed lists every
    /// refusal with its hint), so the pull request's check fails before the merge.
    #[error("apply would refuse this plan: {}", headlines(.0))]
    PlanRefused(Vec<Refusal>),

    /// Apply needs a `yes` and there is no terminal to ask on.
    #[error("refusing to apply without approval: stdin is not a terminal")]
    NotApproved,

    /// The user did not answer `yes`.
    #[error("apply cancelled; nothing was written")]
    Declined,

    /// Apply ran but did not finish everything; the report says what.
    #[error("apply did not finish: {failed} failed, {not_attempted} not attempted{}", if *.interrupted { " (interrupted)" } else { "" })]
    ApplyIncomplete { failed: usize, not_attempted: usize, interrupted: bool },

    /// `KVSYNC_NOW` is not a number of seconds.
    #[error("`{variable}` must be unix seconds, not `{value}`")]
    Clock { variable: &'static str, value: String },

    /// `--target cloudflare` without an account id.
    #[error(
        "no Cloudflare account id: the config sets no `account_id` and `CLOUDFLARE_ACCOUNT_ID` is not set"
    )]
    MissingAccountId,

    /// A saved plan file cannot be written, read or understood.
    #[error("saved plan `{}`: {message}", path.display())]
    PlanFile { path: std::path::PathBuf, message: String },

    /// The config changed since the saved plan was made.
    #[error("the config changed since the plan was made; nothing was written")]
    PlanConfigChanged,

    /// The saved plan was made for another target, environment or `--preview`.
    #[error("the plan was made for {planned}, not {now}; nothing was written")]
    PlanMismatch { planned: String, now: String },

    /// Live keys the plan depends on changed since it was made.
    #[error("plan is stale: {} {} changed since the plan was made; nothing was written{}", keys.len(), if keys.len() == 1 { "key" } else { "keys" }, stale_list(keys))]
    StalePlan { keys: Vec<String> },

    /// Live keys the plan depends on changed while the approval prompt was open.
    #[error("the namespace changed while you were deciding: {} {} changed since the plan was shown; nothing was written{}", keys.len(), if keys.len() == 1 { "key" } else { "keys" }, stale_list(keys))]
    ChangedWhileDeciding { keys: Vec<String> },

    /// `apply --verify`: changes the store still did not show when the window closed.
    #[error("verify: {} {} not as planned after {seconds} s{}", keys.len(), if keys.len() == 1 { "change is" } else { "changes are" }, stale_list(keys))]
    Unsettled { keys: Vec<String>, seconds: u64 },

    /// Values of listed keys could not be read (each key's reason); the other reads went on.
    #[error("could not read the {} of {}:{}", if keys.len() == 1 { "value" } else { "values" }, counted_keys(keys.len()), unreadable_list(keys))]
    Unreadable { keys: Vec<(String, String)> },

    /// A command-line argument clap accepted but kvsync cannot use.
    #[error("{0}")]
    Usage(String),

    /// Reading from or writing to the terminal failed.
    #[error("{context}: {source}")]
    Io { context: &'static str, source: std::io::Error },
}

fn counted_keys(count: usize) -> String {
    if count == 1 { "1 listed key".to_owned() } else { format!("{count} listed keys") }
}

fn unreadable_list(keys: &[(String, String)]) -> String {
    let mut out: String =
        keys.iter().take(20).map(|(k, why)| format!("\n  - {k}: {why}")).collect();
    if keys.len() > 20 {
        out.push_str(&format!("\n  … and {} more", keys.len() - 20));
    }
    out
}

fn stale_list(keys: &[String]) -> String {
    let mut out: String = keys.iter().take(20).map(|k| format!("\n  - {k}")).collect();
    if keys.len() > 20 {
        out.push_str(&format!("\n  … and {} more", keys.len() - 20));
    }
    out
}

/// The refusals' headlines on one line; the plan lists them in full.
fn headlines(refusals: &[Refusal]) -> String {
    refusals.iter().map(Refusal::headline).collect::<Vec<_>>().join("; ")
}

impl Error {
    /// What the user can do about it, one hint per line.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Self::Config(crate::config::Error::Read { .. }) => vec![
                "pass the config with `-c FILE`, or run `kvsync init` to write a starter config (`kvsync init --from-wrangler` in a Worker's folder)"
                    .to_owned(),
            ],
            Self::NotApproved => vec![
                "review the plan, then pass `--auto-approve` to apply without a prompt".to_owned(),
            ],
            Self::PlanConfigChanged | Self::StalePlan { .. } | Self::PlanMismatch { .. } => vec![
                "make a new plan with `kvsync plan --out FILE`, review it, and apply that".to_owned(),
            ],
            Self::Unsettled { .. } => vec![
                "KV can take about 60 s to show a change everywhere; run `kvsync plan` in a minute to see whether it settled".to_owned(),
                format!("`{}` sets the window, in milliseconds", crate::env_vars::KVSYNC_VERIFY_WINDOW_MS),
            ],
            Self::ChangedWhileDeciding { .. } => vec![
                "run `kvsync apply` again to review the plan against the namespace as it is now"
                    .to_owned(),
            ],
            Self::ApplyIncomplete { .. } => {
                vec![
                    "run `kvsync apply` again: it plans from the live state and finishes the rest"
                        .to_owned(),
                ]
            }
            Self::MissingAccountId => vec![
                "set `account_id:` in the config, export CLOUDFLARE_ACCOUNT_ID, or set `account_id` in the wrangler config of your `binding:` scopes; to try kvsync without an account, pass `--target local`".to_owned(),
            ],
            Self::Kv(error) => {
                let mut hints: Vec<String> = crate::kv::cloudflare::hint(error).into_iter().collect();
                if matches!(error, crate::kv::Error::MissingToken) {
                    hints.push("to try kvsync without an account, pass `--target local`".to_owned());
                }
                hints
            }
            _ => Vec::new(),
        }
    }
}
