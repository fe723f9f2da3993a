//! The human drift report: what `kvsync drift` prints for a terminal or a CI log.
//!
//! [`render_human`] formats the drift report model ([`crate::report::drift_model`]) as text
//! shaped like the human plan: one block per scope with one line per drifted key (class, key,
//! detail), then what is reported but not counted (unmanaged keys, expired TTL keys), then the
//! drift line. It takes data and never calls a store (STYLE.md habit 4); colour is the
//! caller's decision, and the text reads the same without it.

use std::fmt::Write as _;

use crate::plan::drift::{DriftClass, DriftReport, ScopeDrift};
use crate::report::drift_model::{
    UNMANAGED_NAMED_MAX, class_name, drift_line, invalid_first, mode_line,
};
use crate::report::human::scope_heading;
use crate::report::style::Style;
use crate::text::{counted, first_of, printable};

/// Renders the whole report. The text ends with a newline.
///
/// Layout: the mode line; one block per scope with something to show (drifted, unmanaged or
/// expired TTL keys); the drift line. Blocks are separated by one blank line.
pub fn render_human(report: &DriftReport, color: bool) -> String {
    let style = Style::new(color);
    let mut blocks = vec![format!("{}\n", style.muted(mode_line(report.deep)))];
    for scope in &report.scopes {
        if scope.drifted.is_empty() && scope.unmanaged.is_empty() && scope.expired_ttl.is_empty() {
            continue;
        }
        blocks.push(render_scope(scope, style));
    }
    blocks.push(format!("{}\n", style.bold(&drift_line(report))));
    blocks.join("\n")
}

fn render_scope(scope: &ScopeDrift, style: Style) -> String {
    let mut out = String::new();
    let heading = scope_heading(&scope.name, &scope.namespace_id, None, &scope.prefix);
    let _ = writeln!(out, "{}", style.bold(&heading));
    for key in invalid_first(&scope.drifted) {
        // Padded before painting, so the key column lines up with colour on or off.
        let label = format!("{:<8}", class_name(key.class));
        let label = match key.class {
            DriftClass::Missing => style.added(&label),
            DriftClass::Changed | DriftClass::Modified => style.changed(&label),
            DriftClass::Invalid
            | DriftClass::Conflict
            | DriftClass::Extra
            | DriftClass::Tampered => style.removed(&label),
        };
        let _ = write!(out, "  {label} {}", printable(&key.key));
        if let Some(detail) = &key.detail {
            let _ = write!(out, " ({})", printable(detail));
        }
        out.push('\n');
    }
    if !scope.unmanaged.is_empty() {
        let count = counted(scope.unmanaged.len(), "unmanaged key", "unmanaged keys");
        let names =
            first_of(scope.unmanaged.iter().map(|k| printable(k)), UNMANAGED_NAMED_MAX, ", ");
        let line = format!("{count} left alone, not counted: {names}");
        let _ = writeln!(out, "  {}", style.info(&line));
    }
    if !scope.expired_ttl.is_empty() {
        let count = counted(scope.expired_ttl.len(), "TTL key", "TTL keys");
        let names =
            first_of(scope.expired_ttl.iter().map(|k| printable(k)), UNMANAGED_NAMED_MAX, ", ");
        let line = format!("{count} absent, probably expired, not counted: {names}");
        let _ = writeln!(out, "  {}", style.info(&line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::drift::DriftedKey;

    fn scope(
        name: &str,
        prefix: &str,
        drifted: Vec<(&str, DriftClass, Option<&str>)>,
    ) -> ScopeDrift {
        ScopeDrift {
            name: name.into(),
            namespace_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            prefix: prefix.into(),
            drifted: drifted
                .into_iter()
                .map(|(key, class, detail)| DriftedKey {
                    key: key.into(),
                    class,
                    detail: detail.map(str::to_owned),
                })
                .collect(),
            in_sync: 0,
            unmanaged: Vec::new(),
            expired_ttl: Vec::new(),
        }
    }

    fn render(report: &DriftReport) -> String {
        let out = render_human(report, false);
        assert!(!out.contains('\u{1b}'), "colour off must print no ANSI escape");
        out
    }

    #[test]
    fn every_class_and_what_is_not_counted() {
        let mut flags = scope(
            "flags",
            "flags/",
            vec![
                ("flags/a", DriftClass::Missing, None),
                ("flags/b", DriftClass::Changed, None),
                ("flags/c", DriftClass::Modified, None),
                ("flags/d", DriftClass::Conflict, Some("owned by `other`")),
                ("flags/e", DriftClass::Extra, None),
                ("flags/f", DriftClass::Tampered, Some("value differs")),
                ("flags/g", DriftClass::Missing, None),
            ],
        );
        flags.in_sync = 120;
        flags.unmanaged = vec!["flags/x".into(), "flags/y".into()];
        flags.expired_ttl = vec!["flags/session".into()];
        let mut quiet = scope("quiet", "", vec![]);
        quiet.in_sync = 3;
        let report = DriftReport { scopes: vec![flags, quiet], deep: true };
        insta::assert_snapshot!(render(&report), @r#"
        Deep check: markers, values, user metadata and expirations compared.

        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/")
          missing  flags/a
          changed  flags/b
          modified flags/c
          conflict flags/d (owned by `other`)
          extra    flags/e
          tampered flags/f (value differs)
          missing  flags/g
          2 unmanaged keys left alone, not counted: flags/x, flags/y
          1 TTL key absent, probably expired, not counted: flags/session

        Drift: 2 missing, 1 changed, 1 modified, 1 conflict, 1 extra, 1 tampered.
        "#);
    }

    #[test]
    fn no_drift_says_how_many_are_in_sync() {
        let mut flags = scope("flags", "", vec![]);
        flags.in_sync = 120;
        let report = DriftReport { scopes: vec![flags], deep: false };
        insta::assert_snapshot!(render(&report), @r"
        Fast check: markers only; `kvsync drift --deep` also compares values.

        No drift. 120 in sync.
        ");
        assert_eq!(drift_line(&DriftReport { scopes: vec![], deep: false }), "No drift.");
    }

    #[test]
    fn unmanaged_keys_are_named_up_to_a_limit_and_never_counted() {
        let mut flags = scope("flags", "", vec![]);
        flags.unmanaged = (0..25).map(|i| format!("k{i:02}")).collect();
        flags.in_sync = 1;
        let report = DriftReport { scopes: vec![flags], deep: false };
        insta::assert_snapshot!(render(&report), @r"
        Fast check: markers only; `kvsync drift --deep` also compares values.

        scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, whole namespace)
          25 unmanaged keys left alone, not counted: k00, k01, k02, k03, k04, k05, k06, k07, k08, k09, k10, k11, k12, k13, k14, k15, k16, k17, k18, k19, and 5 more

        No drift. 1 in sync.
        ");
    }

    #[test]
    fn control_characters_are_escaped_and_colour_only_repeats_the_text() {
        let flags = scope(
            "flags",
            "",
            vec![("evil\u{1b}[2J", DriftClass::Tampered, Some("value\r\ndiffers"))],
        );
        let report = DriftReport { scopes: vec![flags], deep: true };
        let plain = render(&report);
        assert!(plain.contains("  tampered evil\\u{1b}[2J (value\\r\\ndiffers)\n"), "{plain}");
        let coloured = render_human(&report, true);
        assert!(coloured.contains("\u{1b}["));
        assert_eq!(coloured.matches("\u{1b}[2J").count(), 0);
    }
}
