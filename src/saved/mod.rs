//! The saved plan, as one feature: what `kvsync plan --out FILE` writes and `kvsync apply FILE`
//! checks before it applies exactly that plan.
//!
//! [`file`] is the file (the versioned JSON plan without value diffs, the planning options,
//! the typed [`Target`], the config digest and the fingerprints of every live key the plan
//! depends on); [`check`] is the stale check over the desired state and listings held in memory,
//! which an interactive apply also runs after its prompt ([`changed_keys`]); [`Given`] is what
//! `apply FILE` was given, refused when it differs from what the plan recorded; [`Error`] is
//! what makes a saved plan unusable, with its hint.
//!
//! The file is read three times, each time checked against the first read's sha256: the header
//! (so another JSON file gets a clear error), the document, and the fingerprints, one at a time,
//! so that a million keys' fingerprints are never held at once.

mod check;
mod file;

pub use check::{
    FORMAT_VERSION, Intent, KIND, KeyCount, SavedCheck, Stale, StaleCheck, changed_keys,
    config_digest, done_keys, stale_check, stale_keys,
};
pub use file::{PlanFile, PlanFileOut};

use crate::plan::Plan;
use crate::report::model::ActionKind;

/// A saved plan that cannot be applied as it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be written, read or understood.
    #[error("saved plan `{}`: {message}", path.display())]
    File { path: std::path::PathBuf, message: String },

    /// The file cannot be written where it was asked for (a link out of the current folder).
    #[error(transparent)]
    Fs(#[from] crate::fs::Error),

    /// The config changed since the plan was made.
    #[error("the config changed since the plan was made; nothing was written")]
    ConfigChanged,

    /// The plan was made for another target, environment, `--preview` or flags.
    #[error("the plan was made for {planned}, not {now}; nothing was written")]
    Mismatch { planned: String, now: String },

    /// Live keys the plan depends on changed since it was made.
    #[error(
        "plan is stale: {} changed since the plan was made; nothing was written{}",
        crate::apply::counted_keys(keys),
        crate::apply::key_list(keys)
    )]
    Stale { keys: Vec<String> },
}

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::File { .. } => Vec::new(),
            Self::Fs(error) => crate::text::Hint::hints(error),
            Self::ConfigChanged | Self::Stale { .. } | Self::Mismatch { .. } => vec![
                "make a new plan with `kvsync plan --out FILE`, review it, and apply that"
                    .to_owned(),
            ],
        }
    }
}

/// Where a saved plan applies: the one target type.
pub use crate::kv::TargetKind as Target;

/// A change as the plan and the saved file both name it.
pub type Identity = (String, String, ActionKind);

/// The changes of a plan made now, by identity, in plan order.
pub fn identities(plan: &Plan) -> Vec<Identity> {
    plan.scopes
        .iter()
        .flat_map(|scope| {
            scope.changes.iter().map(|change| {
                (scope.name.clone(), change.key.clone(), ActionKind::of(&change.action))
            })
        })
        .collect()
}

/// What `kvsync apply FILE` was given besides the file: each, when given, must be what the plan
/// recorded. A saved plan applies with the options it was reviewed with; a flag that differs is
/// refused, never silently ignored or applied.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a> {
    pub environment: Option<&'a str>,
    pub preview: Option<bool>,
    pub target: Option<Target>,
    pub only: &'a [String],
    pub take_over: Option<&'a str>,
    pub max_deletes: Option<usize>,
    pub allow_empty: bool,
    /// `--no-snapshot`.
    pub no_snapshot: bool,
}

impl PlanFile {
    /// Refuses what `given` sets differently from what the plan recorded.
    pub fn check_given(&self, given: &Given<'_>) -> Result<(), Error> {
        let mismatch = |planned: String, now: String| Err(Error::Mismatch { planned, now });
        if given.environment.is_some() && given.environment != self.environment.as_deref() {
            let describe = |environment: Option<&str>| {
                environment
                    .map_or_else(|| "no environment".to_owned(), |e| format!("environment `{e}`"))
            };
            return mismatch(describe(self.environment.as_deref()), describe(given.environment));
        }
        if given.preview.is_some() && given.preview != self.preview {
            let describe = |preview: Option<bool>| match preview {
                Some(preview) => format!("`--preview {preview}`"),
                None => "no `--preview`".to_owned(),
            };
            return mismatch(describe(self.preview), describe(given.preview));
        }
        if given.target.is_some_and(|target| target != self.target) {
            return mismatch(
                format!("the `{}` target", self.target.name()),
                "the `--target` given".to_owned(),
            );
        }
        // `--flag value`, or `no --flag` when it was not given.
        let flag = |name: &str, value: Option<String>| match value {
            Some(value) if value.is_empty() => format!("`{name}`"),
            Some(value) => format!("`{name} {value}`"),
            None => format!("no `{name}`"),
        };
        let globs = |globs: &[String]| (!globs.is_empty()).then(|| globs.join(" "));
        if !given.only.is_empty() && given.only != self.only {
            return mismatch(flag("--only", globs(&self.only)), flag("--only", globs(given.only)));
        }
        if given.take_over.is_some() && given.take_over != self.take_over.as_deref() {
            let owner = |o: Option<&str>| o.map(str::to_owned);
            return mismatch(
                flag("--take-over", owner(self.take_over.as_deref())),
                flag("--take-over", owner(given.take_over)),
            );
        }
        if given.max_deletes.is_some() && given.max_deletes != self.max_deletes {
            let n = |n: Option<usize>| n.map(|n| n.to_string());
            return mismatch(
                flag("--max-deletes", n(self.max_deletes)),
                flag("--max-deletes", n(given.max_deletes)),
            );
        }
        if given.allow_empty && !self.allow_empty {
            return mismatch(
                flag("--allow-empty", None),
                flag("--allow-empty", Some(String::new())),
            );
        }
        if given.no_snapshot && !self.no_snapshot {
            return mismatch(
                flag("--no-snapshot", None),
                flag("--no-snapshot", Some(String::new())),
            );
        }
        Ok(())
    }

    /// The saved changes, by identity, in plan order.
    pub fn identities(&self) -> Vec<Identity> {
        self.plan.changes.iter().map(|c| (c.scope.clone(), c.key.clone(), c.action)).collect()
    }

    /// What the plan writes and deletes ([`done_keys`] tells which of them an interrupted run
    /// of this plan already made).
    pub fn intents(&self) -> Vec<Intent> {
        self.plan
            .changes
            .iter()
            .filter(|c| c.action.is_write_or_delete())
            .map(|c| (c.scope.clone(), c.key.clone(), c.action == ActionKind::Delete))
            .collect()
    }
}
