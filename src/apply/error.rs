//! What stops an apply, beside the data it is about, with what the user can do about it.

use crate::plan::guards::Refusal;

/// An apply that refused, stopped or could not prove what it did.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more apply guards refused the plan; nothing was written. The plan printed before
    /// the error lists every refusal with its hint.
    #[error("refusing to apply: {}; nothing was written", Refusal::headlines(.0))]
    Refused(Vec<Refusal>),

    /// Apply ran but did not finish everything; the report says what.
    #[error("apply did not finish: {written} written, {deleted} deleted, {failed} failed, {not_attempted} not attempted{}", if *.interrupted { " (interrupted)" } else { "" })]
    Incomplete {
        written: usize,
        deleted: usize,
        failed: usize,
        not_attempted: usize,
        interrupted: bool,
    },

    /// Live keys the plan depends on changed while the approval prompt was open.
    #[error(
        "the namespace changed while you were deciding: {} changed since the plan was shown; nothing was written{}",
        counted_keys(keys),
        key_list(keys)
    )]
    ChangedWhileDeciding { keys: Vec<String> },

    /// `apply --verify`: changes the store still did not show when the window closed.
    #[error("verify: {} {} not as planned after {seconds} s{}", keys.len(), crate::text::plural(keys.len(), "change is", "changes are"), key_list(keys))]
    Unsettled { keys: Vec<String>, seconds: u64 },

    /// The snapshot could not be taken (apply writes nothing) or read (restore).
    #[error(transparent)]
    Snapshot(#[from] super::snapshot::Error),

    /// `apply --verify`: writes that landed (the listing carries their marker) with other bytes
    /// than were sent; not a propagation delay. Other unsettled changes are listed after them.
    #[error(
        "verify: stored bytes differ from what was sent for {}{}{}",
        counted_keys(keys),
        key_list(keys),
        if unsettled.is_empty() { String::new() } else {
            format!("\nand {} not as planned after {seconds} s{}", counted_keys(unsettled), key_list(unsettled))
        }
    )]
    StoredDiffers { keys: Vec<String>, unsettled: Vec<String>, seconds: u64 },
}

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Refused(_) => Vec::new(),
            Self::Snapshot(error) => crate::text::Hint::hints(error),
            Self::Incomplete { .. } => vec![
                "run `kvsync apply` again: it plans from the live state and finishes the rest"
                    .to_owned(),
            ],
            Self::ChangedWhileDeciding { .. } => vec![
                "run `kvsync apply` again to review the plan against the namespace as it is now"
                    .to_owned(),
            ],
            Self::StoredDiffers { .. } => vec![
                "the store holds these values with their new marker but other bytes: this is not propagation, so waiting will not fix it; `kvsync plan --detailed-exitcode` shows them as updates".to_owned(),
            ],
            Self::Unsettled { .. } => vec![
                "KV can take about 60 s to show a change everywhere; run `kvsync plan` in a minute to see whether it settled".to_owned(),
                format!("`{}` sets the window, in milliseconds", crate::env_vars::KVSYNC_VERIFY_WINDOW_MS),
            ],
        }
    }
}

/// `1 key`, `3 keys`.
pub(crate) fn counted_keys(keys: &[String]) -> String {
    crate::text::counted(keys.len(), "key", "keys")
}

/// The first 20 keys, one per line, and how many more there are.
pub(crate) fn key_list(keys: &[String]) -> String {
    crate::text::first_lines(keys, 20)
}
