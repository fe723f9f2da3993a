//! What `kvsync pull` did, for people and as JSON.
//!
//! Human: one line per key (`~` written back, `+` added, `-` removed, `!` needs a person, `?`
//! absent live), with where and the revision that last wrote it, then the files and a summary
//! line. JSON: the same rows as data. Takes data, calls nothing.

use std::fmt::Write as _;

use serde::Serialize;

use crate::plan::pull::{Outcome, Report};
use crate::report::style::Style;
use crate::report::text::{counted, printable};

/// The human report, ending in a newline.
pub fn render_human(report: &Report, color: bool) -> String {
    let style = Style::new(color);
    let mut out = String::new();
    if let Some(environment) = &report.environment {
        let _ =
            writeln!(out, "{}\n", style.bold(&format!("Environment: {}", printable(environment))));
    }
    for row in &report.rows {
        let key = printable(&row.key);
        let by = row
            .revision
            .as_deref()
            .map(|rev| format!(", last written by `{}`", printable(rev)))
            .unwrap_or_default();
        let line = match &row.outcome {
            Outcome::Pulled { parts, place } => style.changed(&format!(
                "  ~ {key} ({} changed live{by}) → {}",
                parts.join(", "),
                printable(place)
            )),
            Outcome::Added { place } => style.added(&format!(
                "  + {key} (present live, not in the config) → {}",
                printable(place)
            )),
            Outcome::Removed { place } => {
                style.removed(&format!("  - {key} (absent live) removed from {}", printable(place)))
            }
            Outcome::NeedsPerson { why } => {
                style.removed(&format!("  ! {key}: {}{by}", printable(why)))
            }
            Outcome::Refused(refusal) => format!(
                "{}\n      hint: {}",
                style.removed(&format!("  ! {key}: {}{by}", printable(&refusal.to_string()))),
                printable(&refusal.hint())
            ),
            Outcome::Missing { why } => style.muted(&format!("  ? {key}: {}", printable(why))),
            Outcome::WaitingForApply => style.muted(&format!(
                "  = {key}: waiting for apply (the config changed after rev `{}` wrote it)",
                printable(row.revision.as_deref().unwrap_or("none"))
            )),
            Outcome::AppliedElsewhere { owner } => style.removed(&format!(
                "  ! {key}: applied from elsewhere (rev `{}`, owner `{}`): the next apply \
                 reverts it; put the change into the config, or apply the config again",
                printable(row.revision.as_deref().unwrap_or("none")),
                printable(owner)
            )),
        };
        let _ = writeln!(out, "{line}");
    }
    if !report.rows.is_empty() {
        out.push('\n');
    }
    if report.adoptable > 0 {
        let _ = writeln!(
            out,
            "{} live and not in the config (`--adopt` adds unmarked ones).",
            counted(report.adoptable, "unmanaged key is", "unmanaged keys are")
        );
    }
    let pulled = count(report, |o| matches!(o, Outcome::Pulled { .. }));
    let added = count(report, |o| matches!(o, Outcome::Added { .. }));
    let removed = count(report, |o| matches!(o, Outcome::Removed { .. }));
    let person = count(report, |o| {
        matches!(
            o,
            Outcome::NeedsPerson { .. } | Outcome::Refused(_) | Outcome::AppliedElsewhere { .. }
        )
    });
    let waiting = count(report, |o| matches!(o, Outcome::WaitingForApply));
    let files = counted(report.files.len(), "file", "files");
    let verb = if report.dry_run { "would change" } else { "changed" };
    let summary = if report.rows.is_empty() {
        "Nothing to pull: the config says what is live.".to_owned()
    } else {
        let waiting =
            if waiting > 0 { format!(", {waiting} waiting for apply") } else { String::new() };
        format!(
            "Pull: {pulled} written back, {added} added, {removed} removed, {person} for a \
             person{waiting}; {files} {verb}."
        )
    };
    let _ = writeln!(out, "{}", style.bold(&summary));
    out
}

fn count(report: &Report, pick: fn(&Outcome) -> bool) -> usize {
    report.rows.iter().filter(|row| pick(&row.outcome)).count()
}

#[derive(Serialize)]
struct Document<'a> {
    format_version: &'static str,
    environment: Option<&'a str>,
    dry_run: bool,
    files: &'a [String],
    keys: Vec<KeyDto<'a>>,
    unmanaged_not_adopted: usize,
}

#[derive(Serialize)]
struct KeyDto<'a> {
    scope: &'a str,
    key: &'a str,
    /// `pulled`, `added`, `removed`, `needs-person`, `missing`, `waiting-for-apply` or
    /// `applied-elsewhere`.
    outcome: &'static str,
    /// The owner in the marker of a key applied from elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    parts: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    place: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    /// Why the edit was refused, for machines (`Refusal::code`); only with `hint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// What the user can do about a refused edit.
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a str>,
}

/// The version of the JSON report (`schemas/pull.schema.json`); 2 added the outcomes
/// `waiting-for-apply` and `applied-elsewhere`, 3 a refused edit's `reason` and `hint`.
pub const FORMAT_VERSION: &str = "3";

/// The JSON report, pretty, ending in a newline.
pub fn render_json(report: &Report) -> String {
    let keys = report
        .rows
        .iter()
        .map(|row| {
            let owner = match &row.outcome {
                Outcome::AppliedElsewhere { owner } => Some(owner.as_str()),
                _ => None,
            };
            let (outcome, parts, place, why) = match &row.outcome {
                Outcome::Pulled { parts, place } => {
                    ("pulled", parts.clone(), Some(place.as_str()), None)
                }
                Outcome::Added { place } => ("added", Vec::new(), Some(place.as_str()), None),
                Outcome::Removed { place } => ("removed", Vec::new(), Some(place.as_str()), None),
                Outcome::NeedsPerson { why } => {
                    ("needs-person", Vec::new(), None, Some(why.clone()))
                }
                Outcome::Refused(refusal) => {
                    ("needs-person", Vec::new(), None, Some(refusal.to_string()))
                }
                Outcome::Missing { why } => ("missing", Vec::new(), None, Some(why.clone())),
                Outcome::WaitingForApply => ("waiting-for-apply", Vec::new(), None, None),
                Outcome::AppliedElsewhere { .. } => ("applied-elsewhere", Vec::new(), None, None),
            };
            let (reason, hint) = match &row.outcome {
                Outcome::Refused(refusal) => (Some(refusal.code()), Some(refusal.hint())),
                _ => (None, None),
            };
            KeyDto {
                scope: &row.scope,
                key: &row.key,
                outcome,
                owner,
                parts,
                place,
                why,
                reason,
                hint,
                revision: row.revision.as_deref(),
            }
        })
        .collect();
    let document = Document {
        format_version: FORMAT_VERSION,
        environment: report.environment.as_deref(),
        dry_run: report.dry_run,
        files: &report.files,
        keys,
        unmanaged_not_adopted: report.adoptable,
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::edit::Refusal;
    use crate::plan::pull::Row;

    fn report() -> Report {
        let row = |key: &str, outcome, revision: Option<&str>| Row {
            scope: "flags".into(),
            key: key.into(),
            outcome,
            revision: revision.map(str::to_owned),
        };
        Report {
            environment: Some("prod".into()),
            rows: vec![
                row(
                    "f/a",
                    Outcome::Pulled {
                        parts: vec!["value", "metadata"],
                        place: "kvsync.yaml:9:7".into(),
                    },
                    Some("abc1234"),
                ),
                row("f/new", Outcome::Added { place: "kvsync.yaml".into() }, None),
                row("f/gone", Outcome::Removed { place: "kvsync.yaml:12:7".into() }, None),
                row(
                    "evil\u{1b}[2J",
                    Outcome::NeedsPerson { why: "changed live and in the config".into() },
                    None,
                ),
                row("f/ttl", Outcome::Missing { why: "absent live".into() }, None),
                row(
                    "f/shared",
                    Outcome::Refused(Refusal::Shared { place: "kvsync.yaml:7:10".into() }),
                    None,
                ),
                row("f/next", Outcome::WaitingForApply, Some("abc1234")),
                row("f/laptop", Outcome::AppliedElsewhere { owner: "web".into() }, Some("f00d")),
            ],
            dry_run: true,
            files: vec!["kvsync.yaml".into()],
            adoptable: 2,
        }
    }

    #[test]
    fn the_human_report_lists_every_key_and_sums_up() {
        insta::assert_snapshot!(render_human(&report(), false), @r"
        Environment: prod

          ~ f/a (value, metadata changed live, last written by `abc1234`) → kvsync.yaml:9:7
          + f/new (present live, not in the config) → kvsync.yaml
          - f/gone (absent live) removed from kvsync.yaml:12:7
          ! evil\u{1b}[2J: changed live and in the config
          ? f/ttl: absent live
          ! f/shared: its entry is inside a YAML anchor or reached through an alias (at `kvsync.yaml:7:10`), so other places repeat it
              hint: edit it by hand (every place that repeats it changes), or give the entry a node of its own
          = f/next: waiting for apply (the config changed after rev `abc1234` wrote it)
          ! f/laptop: applied from elsewhere (rev `f00d`, owner `web`): the next apply reverts it; put the change into the config, or apply the config again

        2 unmanaged keys are live and not in the config (`--adopt` adds unmarked ones).
        Pull: 1 written back, 1 added, 1 removed, 3 for a person, 1 waiting for apply; 1 file would change.
        ");
        let nothing = Report::default();
        assert_eq!(
            render_human(&nothing, false),
            "Nothing to pull: the config says what is live.\n"
        );
        assert!(report().has_changes());
        assert!(!nothing.has_changes());
    }

    /// The published schema holds the report, its version, and every refusal's code.
    #[test]
    fn the_schema_holds_the_json_report() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/pull.schema.json")).expect("JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let doc: serde_json::Value = serde_json::from_str(&render_json(&report())).expect("JSON");
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(schema["properties"]["format_version"]["const"], FORMAT_VERSION);
        let reasons = &schema["properties"]["keys"]["items"]["properties"]["reason"]["enum"];
        assert_eq!(*reasons, serde_json::json!(Refusal::CODES));
    }

    #[test]
    fn the_json_report_says_the_same() {
        let doc: serde_json::Value = serde_json::from_str(&render_json(&report())).expect("JSON");
        assert_eq!(doc["dry_run"], true);
        assert_eq!(doc["unmanaged_not_adopted"], 2);
        assert_eq!(doc["keys"][0]["outcome"], "pulled");
        assert_eq!(doc["keys"][0]["parts"], serde_json::json!(["value", "metadata"]));
        assert_eq!(doc["keys"][0]["revision"], "abc1234");
        assert_eq!(doc["keys"][3]["outcome"], "needs-person");
        assert_eq!(doc["keys"][4]["why"], "absent live");
        assert_eq!(doc["keys"][5]["outcome"], "needs-person");
        assert_eq!(doc["keys"][5]["reason"], "anchor-or-alias");
        assert!(doc["keys"][5]["hint"].as_str().is_some_and(|hint| hint.contains("by hand")));
        assert!(doc["keys"][4].get("reason").is_none());
        assert_eq!(doc["keys"][6]["outcome"], "waiting-for-apply");
        assert_eq!(doc["keys"][7]["outcome"], "applied-elsewhere");
        assert_eq!(doc["keys"][7]["owner"], "web");
        assert_eq!(doc["keys"][7]["revision"], "f00d");
        assert_eq!(doc["format_version"], FORMAT_VERSION);
        // Waiting for apply alone is information: nothing for a person, no exit 2.
        let waiting = Report {
            rows: vec![Row {
                scope: "flags".into(),
                key: "f/next".into(),
                outcome: Outcome::WaitingForApply,
                revision: None,
            }],
            ..Report::default()
        };
        assert!(!waiting.has_changes());
    }
}
