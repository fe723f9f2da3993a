//! What `kvsync diff` reports, decided once for every format (issue 28): the summary line, the
//! line that says what was compared, the words for each key, and the diff headers; then the thin
//! formatters: [`human`] and [`json`] here, the Markdown report in `report::markdown`.
//!
//! The first environment is the old side of every value diff (`---`), the second the new side
//! (`+++`): `diff --env staging --env production` reads as "what promoting staging's state would
//! change in production" backwards, and the order on the command line decides it.
//!
//! Names of environments come from the config and keys from users or KV: each format quotes
//! them its own way, so the phrasing functions take the quoting as an argument.

pub mod human;
pub mod json;

use crate::content::Expiration;
use crate::plan::envdiff::{Aspect, EnvDiff, Expiry, KeyDiff, Mode, Side, Status};
use crate::report::model::{Attribute, SENSITIVE, timestamp};
use crate::report::text::counted;
use crate::report::values::ValueViews;

/// A comparison and the value views the CLI prepared for it (by scope index in
/// `EnvDiff::scopes`, and key).
#[derive(Debug, Clone, Copy)]
pub struct DiffReport<'a> {
    pub diff: &'a EnvDiff,
    pub views: &'a ValueViews,
}

/// The summary: `3 differ, 2 only in staging, 1 only in production, 120 equal`, then the keys
/// not compared and the scopes on one side only; `No differences: 120 equal` when nothing
/// differs. `name` quotes an environment's name for the format.
pub fn summary_line(diff: &EnvDiff, name: &dyn Fn(&str) -> String) -> String {
    let counts = diff.counts();
    let equal = format!("{} equal", counts.equal);
    if !counts.different() {
        return format!("No differences: {equal}.");
    }
    let mut keys = Vec::new();
    if counts.differ > 0 {
        keys.push(format!("{} differ", counts.differ));
    }
    for (count, side) in [(counts.only_left, Side::Left), (counts.only_right, Side::Right)] {
        if count > 0 {
            keys.push(format!("{count} only in {}", name(diff.side_name(side))));
        }
    }
    if counts.not_compared > 0 {
        keys.push(format!("{} not compared", counts.not_compared));
    }
    keys.push(equal);
    let mut line = keys.join(", ");
    for (count, side) in
        [(counts.scopes_only_left, Side::Left), (counts.scopes_only_right, Side::Right)]
    {
        if count > 0 {
            let scopes = counted(count, "scope", "scopes");
            line.push_str(&format!("; {scopes} only in {}", name(diff.side_name(side))));
        }
    }
    line.push('.');
    line
}

/// What was compared, one sentence: the desired states (no store), or what is live, through
/// the markers or (`--deep`) the values.
pub fn mode_line(diff: &EnvDiff, name: &dyn Fn(&str) -> String) -> String {
    let (left, right) = (name(&diff.left), name(&diff.right));
    match diff.mode {
        Mode::Desired => {
            format!(
                "Compared the desired states of {left} and {right} (the config; no store read)."
            )
        }
        Mode::Live { deep: false } => format!(
            "Compared what is live in {left} and {right} by the content hashes in the markers \
             (no value read but for the diffs shown; `--deep` also compares keys without a marker)."
        ),
        Mode::Live { deep: true } => format!(
            "Compared what is live in {left} and {right} by reading every value on both sides \
             (`--deep`)."
        ),
    }
}

/// The `--only` line, when the comparison was restricted.
pub fn only_line(diff: &EnvDiff, glob: &dyn Fn(&str) -> String) -> Option<String> {
    (!diff.only.is_empty()).then(|| {
        let globs: Vec<String> = diff.only.iter().map(|g| glob(g)).collect();
        format!("Only keys matching {} were compared.", globs.join(", "))
    })
}

/// The marker column: `~` differs, `-` only in the first environment (the old side of a diff),
/// `+` only in the second, `?` not compared.
pub fn marker(status: &Status) -> char {
    match status {
        Status::Differs(_) => '~',
        Status::OnlyIn(Side::Left) => '-',
        Status::OnlyIn(Side::Right) => '+',
        Status::NotCompared => '?',
    }
}

/// The note after a key: what differs, or where it is.
pub fn note(diff: &EnvDiff, key: &KeyDiff, name: &dyn Fn(&str) -> String) -> String {
    match &key.status {
        Status::Differs(aspects) => {
            aspects.iter().map(|a| a.describe()).collect::<Vec<_>>().join("; ")
        }
        Status::OnlyIn(side) => format!("only in {}", name(diff.side_name(*side))),
        Status::NotCompared => {
            "not compared: no kvsync marker on one side; `--deep` reads the values".to_owned()
        }
    }
}

/// The metadata and expiration lines under a key whose metadata or expiration differs:
/// `first → second`. A sensitive key's metadata is never shown (it may hold an interpolated
/// secret), only that it differs.
pub fn attributes(key: &KeyDiff) -> Vec<Attribute> {
    let (Status::Differs(aspects), Some(sides)) = (&key.status, &key.sides) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    if aspects.contains(&Aspect::Metadata) {
        let text = if key.sensitive {
            format!("{SENSITIVE} (differs)")
        } else {
            let shown = |m: &Option<serde_json::Map<String, serde_json::Value>>| match m {
                None => "none".to_owned(),
                Some(map) => serde_json::Value::Object(map.clone()).to_string(),
            };
            format!("{} → {}", shown(&sides[0].metadata), shown(&sides[1].metadata))
        };
        lines.push(Attribute { label: "metadata", text, literal: !key.sensitive });
    }
    if aspects.contains(&Aspect::Expiration) {
        let text = format!("{} → {}", expiry(sides[0].expiration), expiry(sides[1].expiration));
        lines.push(Attribute { label: "expiration", text, literal: false });
    }
    lines
}

/// One side's expiration for people: `never`, `ttl 3600 s`, or a UTC time.
pub fn expiry(expiry: Expiry) -> String {
    match expiry {
        Expiry::Configured(Expiration::Never) | Expiry::Listed(None) => "never".to_owned(),
        Expiry::Configured(Expiration::Ttl(seconds)) => format!("ttl {seconds} s"),
        Expiry::Configured(Expiration::At(at)) | Expiry::Listed(Some(at)) => timestamp(at),
    }
}
