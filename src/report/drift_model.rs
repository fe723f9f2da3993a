//! The drift report model: what every drift format says, and in which words, beside the
//! plan's ([`crate::report::model`]). The renderers (human, JSON, Markdown) format what this
//! module decides: the classes in report order, their names and meanings, the counts, the
//! order of a scope's keys, the summary and mode lines, and how many names a list shows.
//!
//! The drift itself is data from the pure engine ([`crate::plan::drift::DriftReport`]); the
//! format a command prints it in is [`DriftFormat`], its own, so a new drift format is never
//! mistaken for a plan format.

use crate::plan::drift::{DriftClass, DriftReport, DriftedKey, ScopeDrift};

/// The formats `kvsync drift` prints (`--format`): one renderer each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftFormat {
    /// Text for a terminal or a CI log ([`crate::report::drift::render_human`]).
    Human,
    /// The JSON document ([`crate::report::json::drift_document`]).
    Json,
    /// A comment for a pull request ([`crate::report::markdown::Report::drift`]).
    Markdown,
}

/// Unmanaged keys named per scope; beyond this only the count is given, because a namespace
/// shared with a Worker can hold thousands of them and they are not drift.
pub const UNMANAGED_NAMED_MAX: usize = 20;

/// Every class in report order: a live value a Worker cannot read first (the most urgent), then
/// what a plan would write, then what it would remove, then what else only the deep check finds.
pub const CLASSES: [DriftClass; 7] = [
    DriftClass::Invalid,
    DriftClass::Missing,
    DriftClass::Changed,
    DriftClass::Modified,
    DriftClass::Conflict,
    DriftClass::Extra,
    DriftClass::Tampered,
];

/// The class as the reports name it.
pub fn class_name(class: DriftClass) -> &'static str {
    match class {
        DriftClass::Invalid => "invalid",
        DriftClass::Missing => "missing",
        DriftClass::Changed => "changed",
        DriftClass::Modified => "modified",
        DriftClass::Conflict => "conflict",
        DriftClass::Extra => "extra",
        DriftClass::Tampered => "tampered",
    }
}

/// What the class means, for readers who have not read DESIGN.md §3.
pub fn class_meaning(class: DriftClass) -> &'static str {
    match class {
        DriftClass::Invalid => "the live value breaks its key's schema",
        DriftClass::Missing => "desired, absent live",
        DriftClass::Changed => "ours, with another content hash",
        DriftClass::Modified => "written by hand, without the kvsync marker",
        DriftClass::Conflict => "held by another owner or a newer kvsync",
        DriftClass::Extra => "ours, no longer desired",
        DriftClass::Tampered => "marker intact, but value, metadata or expiration differ",
    }
}

/// How many keys of `scopes` drifted in each class, in [`CLASSES`] order.
pub fn class_counts<'a>(scopes: impl IntoIterator<Item = &'a ScopeDrift>) -> [usize; 7] {
    let mut counts = [0; CLASSES.len()];
    for scope in scopes {
        for key in &scope.drifted {
            if let Some(slot) = CLASSES.iter().position(|c| *c == key.class) {
                counts[slot] += 1;
            }
        }
    }
    counts
}

/// The final line: `Drift: 2 missing, 1 changed, 1 tampered.`, or `No drift. 120 in sync.`
/// (`No drift.` alone when nothing is in sync either). Unmanaged and expired TTL keys are not
/// drift and are not counted here.
pub fn drift_line(report: &DriftReport) -> String {
    let counts = class_counts(&report.scopes);
    let parts: Vec<String> = CLASSES
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|(class, count)| format!("{count} {}", class_name(*class)))
        .collect();
    if !parts.is_empty() {
        return format!("Drift: {}.", parts.join(", "));
    }
    let in_sync: usize = report.scopes.iter().map(|s| s.in_sync).sum();
    if in_sync == 0 { "No drift.".to_owned() } else { format!("No drift. {in_sync} in sync.") }
}

/// A scope's drifted keys, those whose live value breaks its schema first (each group in key
/// order): they are what a Worker fails on.
pub fn invalid_first(keys: &[DriftedKey]) -> impl Iterator<Item = &DriftedKey> {
    let invalid = |key: &&DriftedKey| key.class == DriftClass::Invalid;
    keys.iter().filter(invalid).chain(keys.iter().filter(move |key| !invalid(key)))
}

/// What the check compared, as one sentence.
pub fn mode_line(deep: bool) -> &'static str {
    if deep {
        "Deep check: markers, values, user metadata and expirations compared."
    } else {
        "Fast check: markers only; `kvsync drift --deep` also compares values."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_a_name_a_meaning_and_a_place() {
        let names: Vec<&str> = CLASSES.iter().map(|c| class_name(*c)).collect();
        assert_eq!(
            names,
            ["invalid", "missing", "changed", "modified", "conflict", "extra", "tampered"]
        );
        assert!(CLASSES.iter().all(|c| !class_meaning(*c).is_empty()));
    }

    #[test]
    fn invalid_keys_come_first_and_the_counts_follow_the_classes() {
        let key = |key: &str, class| DriftedKey { key: key.into(), class, detail: None };
        let scope = ScopeDrift {
            name: "flags".into(),
            namespace_id: "ns".into(),
            prefix: String::new(),
            drifted: vec![
                key("a", DriftClass::Missing),
                key("b", DriftClass::Invalid),
                key("c", DriftClass::Tampered),
            ],
            in_sync: 4,
            unmanaged: Vec::new(),
            expired_ttl: Vec::new(),
        };
        let order: Vec<&str> = invalid_first(&scope.drifted).map(|k| k.key.as_str()).collect();
        assert_eq!(order, ["b", "a", "c"]);
        assert_eq!(class_counts([&scope]), [1, 1, 0, 0, 0, 0, 1]);
        let report = DriftReport { scopes: vec![scope], deep: true };
        assert_eq!(drift_line(&report), "Drift: 1 invalid, 1 missing, 1 tampered.");
        assert_eq!(
            mode_line(true),
            "Deep check: markers, values, user metadata and expirations compared."
        );
    }
}
