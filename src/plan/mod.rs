//! The plan: what kvsync would change, as plain data.
//!
//! [`diff::plan`] computes it from the desired state and the live listings; it is a pure,
//! synchronous, total function (no I/O, no async, no `Result`), which is what lets the property
//! tests check it exhaustively. Renderers and the executor read a [`Plan`]; nothing here knows
//! about stores, HTTP, YAML or the terminal.

pub mod baseline;
pub mod compare;
pub mod diff;
pub mod drift;
pub mod envdiff;
pub mod guards;
pub mod pull;

use crate::config::Globs;
use crate::content::Expiration;
use crate::content::{ContentHash, Marker};

pub use diff::plan;

/// Inputs of the engine besides the two states.
#[derive(Debug, Clone)]
pub struct Options {
    /// Our owner name: keys whose marker names it are ours.
    pub owner: String,
    /// The clock, unix seconds (set by `KVSYNC_NOW` in tests).
    pub now: i64,
    /// `--take-over OWNER`: take every key this owner holds that we desire.
    pub take_over_owner: Option<String>,
    /// `--only GLOB`: changes outside these globs are left out of the plan.
    pub only: Option<Globs>,
    /// What decides apply's guards; the plan records what they would refuse.
    pub guards: guards::Guards,
}

/// The live keys of one scope, as listed (any order).
#[derive(Debug, Clone, Default)]
pub struct LiveScope {
    pub keys: Vec<crate::kv::ListedKey>,
}

/// A whole plan: one entry per scope, in config order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub scopes: Vec<ScopePlan>,
    /// `--only` globs the plan was restricted to; empty when it covers every key.
    pub only: Vec<String>,
    /// What would make apply refuse this plan as it stands ([`guards::check`]); empty when apply
    /// may write.
    pub refusals: Vec<guards::Refusal>,
}

/// The plan of one scope.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopePlan {
    pub name: String,
    pub namespace_id: String,
    pub prefix: String,
    /// How the namespace id was found when the config did not give it directly, e.g.
    /// "binding `FLAGS` in wrangler.jsonc [env.staging]".
    pub resolved_from: Option<String>,
    pub prune: bool,
    /// `allow_empty: true` in the config: the empty-state guard does not hold here.
    pub allow_empty: bool,
    /// Every key that is not a no-op, in UTF-8 byte order of the key.
    pub changes: Vec<Change>,
    /// Keys already in the desired state.
    pub unchanged: usize,
    /// Live keys inside the scope that we do not own and do not desire; never touched.
    pub unmanaged: Vec<String>,
    /// Live keys inside the scope that carry our marker (the base of the delete guard).
    pub ours_live: usize,
    /// Keys desired in this scope (after skips), for the empty-state guard.
    pub desired: usize,
    /// Things the user should know that are not changes (skipped keys, for instance).
    pub warnings: Vec<Warning>,
}

/// A warning about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub key: String,
    pub message: String,
}

/// One key's planned action.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub action: Action,
    /// The desired side, when the key is desired.
    pub desired: Option<DesiredKey>,
    /// What the listing showed, when the key is live.
    pub live: Option<LiveKey>,
    /// With `--baseline`: whether the pull request or drift causes this change.
    pub origin: Option<Origin>,
}

/// Why a change is in a plan made with `--baseline` (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The pull request changed this key's desired state (hash or presence). `drifted`: the live
    /// key also differed from the baseline, so someone changed it by hand as well.
    Pr { drifted: bool },
    /// The pull request leaves the key alone, yet live differs from it.
    Drift,
}

/// A desired key as the plan records it: the hash and what a reviewer sees besides the value.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredKey {
    pub hash: ContentHash,
    /// The user metadata (never the marker).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub expiration: Expiration,
    /// The entry is sensitive: neither its value nor its metadata may be shown.
    pub sensitive: bool,
}

/// A live key as the engine saw it in the listing.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveKey {
    pub marker: Marker,
    /// Absolute unix seconds, when the key expires.
    pub expiration: Option<i64>,
    /// The user metadata, the marker taken out; `None` when nothing else is there.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// The live value must never be shown, fetched for a diff or hashed into output: its marker
    /// says it was written from a sensitive entry, or (with `--baseline`) the baseline's entry is
    /// sensitive. A marker written before the field existed relies on the second, and on the
    /// desired entry.
    pub sensitive: bool,
}

impl Change {
    /// Whether anything derived from this key's value, on either side, must stay hidden: the
    /// desired entry is sensitive, or the live value is.
    pub fn sensitive(&self) -> bool {
        self.desired.as_ref().is_some_and(|d| d.sensitive)
            || self.live.as_ref().is_some_and(|l| l.sensitive)
    }
}

impl LiveKey {
    /// The live content hash, when the key carries any version-1 marker.
    pub fn hash(&self) -> Option<ContentHash> {
        match &self.marker {
            Marker::V1 { sha256, .. } => Some(*sha256),
            _ => None,
        }
    }
}

/// What happens to a key (DESIGN.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Desired, absent: put.
    Create,
    /// Desired, ours with another hash: put.
    Update,
    /// Desired, live without a marker: put (shown loudly, with a value diff).
    Adopt,
    /// Desired, held by another owner that this run may take: put.
    TakeOver { from: String },
    /// Ours, no longer desired, `prune: true` (or expiring within a minute): delete.
    Delete { reason: DeleteReason },
    /// Desired, but held by another owner or a newer kvsync: apply refuses.
    Conflict { reason: ConflictReason },
    /// Ours, no longer desired, `prune: false`: kept and reported.
    Orphan,
    /// Would be deleted, adopted or taken over, but matches `protect:`; not a change.
    Protected { instead_of: ProtectedAction },
}

/// Why a key is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// No longer in the desired state.
    NotDesired,
    /// Desired with an `expiration` less than 60 s away, so no longer written.
    Expiring,
}

/// Why a key conflicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictReason {
    /// Another owner's marker.
    Owner(String),
    /// A marker version this kvsync does not know: upgrade kvsync.
    NewerVersion(u64),
    /// Our owner's marker, in a form this kvsync cannot read (what is wrong with it): the key is
    /// never touched.
    Unreadable(String),
    /// The listing's entry for the key is damaged (what is wrong: an `expiration` that is not
    /// unix seconds): the key is never touched while that lasts.
    DamagedListing(String),
}

/// What a protected key was spared from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectedAction {
    Delete,
    Adopt,
    TakeOver { from: String },
}

impl Action {
    /// Whether apply writes this key.
    pub fn is_put(&self) -> bool {
        matches!(self, Self::Create | Self::Update | Self::Adopt | Self::TakeOver { .. })
    }

    /// Whether apply deletes this key.
    pub fn is_delete(&self) -> bool {
        matches!(self, Self::Delete { .. })
    }

    /// Whether the key counts as a change for `--detailed-exitcode` (conflicts do: they stay
    /// one until resolved; orphans and protected keys are only reported).
    pub fn is_change(&self) -> bool {
        self.is_put() || self.is_delete() || matches!(self, Self::Conflict { .. })
    }
}

/// Counts behind the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub take_over: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub conflict: usize,
    pub orphan: usize,
    pub protected: usize,
    pub unmanaged: usize,
}

impl Summary {
    /// Whether anything would be written or deleted, or a conflict blocks the run.
    pub fn has_changes(&self) -> bool {
        self.create + self.update + self.adopt + self.take_over + self.delete + self.conflict > 0
    }

    fn add_scope(&mut self, scope: &ScopePlan) {
        for change in &scope.changes {
            match change.action {
                Action::Create => self.create += 1,
                Action::Update => self.update += 1,
                Action::Adopt => self.adopt += 1,
                Action::TakeOver { .. } => self.take_over += 1,
                Action::Delete { .. } => self.delete += 1,
                Action::Conflict { .. } => self.conflict += 1,
                Action::Orphan => self.orphan += 1,
                Action::Protected { .. } => self.protected += 1,
            }
        }
        self.unchanged += scope.unchanged;
        self.unmanaged += scope.unmanaged.len();
    }
}

impl ScopePlan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        summary.add_scope(self);
        summary
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for scope in &self.scopes {
            summary.add_scope(scope);
        }
        summary
    }

    pub fn has_changes(&self) -> bool {
        self.summary().has_changes()
    }
}
