//! Config diagnostics, rendered for people, for GitHub annotations and as JSON.
//!
//! The loader (`config`) finds problems and hands over [`Diagnostic`]s; this module only turns
//! them into text. The human form is rustc-like: a `file:line:column` header, the source line
//! with a caret under the column (the file is read again for it, and the snippet is left out
//! when it cannot be), then the hint. Errors and warnings share the type and the layout; the
//! renderer is told which they are ([`render_human`] and [`render_human_warnings`]).
//! Everything reads the same with colour off: colour only repeats what the words say.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use owo_colors::{OwoColorize as _, Style};

use crate::config::Diagnostic;

/// The version of [`render_json`]'s format.
pub const JSON_FORMAT_VERSION: &str = "1";

/// Which kind of finding a rendering is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Errors for people: a header, a snippet and a hint each, blank lines between them, and a
/// closing `N problems found`. With `color` false the text has no ANSI codes.
pub fn render_human(diagnostics: &[Diagnostic], color: bool) -> String {
    render_human_as(diagnostics, Severity::Error, color)
}

/// Warnings for people: as [`render_human`], labelled `warning:`, closing with `N warnings`.
pub fn render_human_warnings(diagnostics: &[Diagnostic], color: bool) -> String {
    render_human_as(diagnostics, Severity::Warning, color)
}

/// The human rendering for either severity.
pub fn render_human_as(diagnostics: &[Diagnostic], severity: Severity, color: bool) -> String {
    let paint = Paint { color };
    let mut sources = Sources::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let label = match severity {
            Severity::Error => paint.apply("error:", Style::new().red().bold()),
            Severity::Warning => paint.apply("warning:", Style::new().yellow().bold()),
        };
        let place =
            format!("{}:{}:{}:", diagnostic.path.display(), diagnostic.line, diagnostic.column);
        let _ = writeln!(
            out,
            "{label} {} {}",
            paint.apply(&place, Style::new().bold()),
            diagnostic.message
        );
        if let Some(line) = sources.line(&diagnostic.path, diagnostic.line) {
            snippet(&mut out, &paint, severity, line, diagnostic.line, diagnostic.column);
        }
        if let Some(hint) = &diagnostic.hint {
            let _ = writeln!(out, "  {} {hint}", paint.apply("hint:", Style::new().cyan().bold()));
        }
        out.push('\n');
    }
    let n = diagnostics.len();
    let summary = match (severity, n) {
        (Severity::Error, 1) => "1 problem found".to_owned(),
        (Severity::Error, n) => format!("{n} problems found"),
        (Severity::Warning, 1) => "1 warning".to_owned(),
        (Severity::Warning, n) => format!("{n} warnings"),
    };
    out.push_str(&summary);
    out.push('\n');
    out
}

/// The source line under a header, with a caret under the column:
///
/// ```text
///    |
///  9 |       f/a: two
///    |       ^
/// ```
fn snippet(
    out: &mut String,
    paint: &Paint,
    severity: Severity,
    text: &str,
    line: usize,
    column: usize,
) {
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    let bar = paint.apply("|", Style::new().blue().bold());
    // Tabs before the column are kept, so the caret lines up however tabs are shown.
    let indent: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let caret = match severity {
        Severity::Error => paint.apply("^", Style::new().red().bold()),
        Severity::Warning => paint.apply("^", Style::new().yellow().bold()),
    };
    let _ = writeln!(out, " {gutter} {bar}");
    let _ = writeln!(out, " {} {bar} {text}", paint.apply(&number, Style::new().blue().bold()));
    let _ = writeln!(out, " {gutter} {bar} {indent}{caret}");
}

/// Files read again for snippets, each at most once per rendering; `None` when unreadable.
#[derive(Default)]
struct Sources {
    files: HashMap<PathBuf, Option<String>>,
}

impl Sources {
    fn line(&mut self, path: &Path, line: usize) -> Option<&str> {
        let text = self
            .files
            .entry(path.to_path_buf())
            .or_insert_with(|| std::fs::read_to_string(path).ok())
            .as_deref()?;
        let line = text.lines().nth(line.checked_sub(1)?)?;
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// Colour that is applied only when asked for.
struct Paint {
    color: bool,
}

impl Paint {
    fn apply(&self, text: &str, style: Style) -> String {
        if self.color { text.style(style).to_string() } else { text.to_owned() }
    }
}

/// GitHub Actions workflow commands, one `::error` line per diagnostic, so the problems show
/// as annotations on the pull request's files.
pub fn render_github(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut message = diagnostic.message.clone();
        if let Some(hint) = &diagnostic.hint {
            message.push_str(" — hint: ");
            message.push_str(hint);
        }
        let _ = writeln!(
            out,
            "::error file={},line={},col={}::{}",
            escape_property(&diagnostic.path.to_string_lossy()),
            diagnostic.line,
            diagnostic.column,
            escape_data(&message)
        );
    }
    out
}

/// A workflow command's message: `%`, CR and LF are encoded (actions/toolkit `escapeData`).
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property value also encodes `:` and `,`, which would end it
/// (actions/toolkit `escapeProperty`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// The versioned JSON form: `{"format_version":"1","valid":…,"diagnostics":[…]}`, each
/// diagnostic with `path`, `line`, `column`, `message` and `hint` (`null` when there is none).
/// `valid` is true exactly when there are no diagnostics.
pub fn render_json(diagnostics: &[Diagnostic]) -> String {
    let items: Vec<serde_json::Value> = diagnostics
        .iter()
        .map(|d| {
            serde_json::json!({
                "path": d.path.to_string_lossy(),
                "line": d.line,
                "column": d.column,
                "message": d.message,
                "hint": d.hint,
            })
        })
        .collect();
    let document = serde_json::json!({
        "format_version": JSON_FORMAT_VERSION,
        "valid": diagnostics.is_empty(),
        "diagnostics": items,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diagnostic(path: &Path, line: usize, column: usize, message: &str) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            message: message.to_owned(),
            hint: None,
            schema: None,
        }
    }

    #[test]
    fn human_errors_show_the_line_and_a_caret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kvsync.yaml");
        std::fs::write(&path, "version: 1\nkeys:\n\tf/a: one\n").expect("write");
        let mut first = diagnostic(&path, 3, 2, "duplicate key `f/a`");
        first.hint = Some("remove one".to_owned());
        let missing = dir.path().join("gone.yaml");
        let second = diagnostic(&missing, 1, 1, "unknown field `x`");
        let text = render_human(&[first, second], false);
        let shown = path.display().to_string();
        let gone = missing.display().to_string();
        assert_eq!(
            text,
            format!(
                "error: {shown}:3:2: duplicate key `f/a`\n   |\n 3 | \tf/a: one\n   | \t^\n  hint: remove one\n\nerror: {gone}:1:1: unknown field `x`\n\n2 problems found\n"
            )
        );
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn human_warnings_are_labelled_and_counted() {
        let warning = diagnostic(Path::new("/nonexistent/kvsync.yaml"), 4, 7, "skipped");
        assert_eq!(
            render_human_warnings(&[warning], false),
            "warning: /nonexistent/kvsync.yaml:4:7: skipped\n\n1 warning\n"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let one = diagnostic(Path::new("/nonexistent/k.yaml"), 1, 1, "bad");
        let text = render_human(&[one], true);
        assert!(text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("bad"));
        assert_eq!(render_human(&[], false), "0 problems found\n");
    }

    #[test]
    fn github_annotations_escape_what_github_requires() {
        let mut one = diagnostic(Path::new("dir,x/a:b.yaml"), 2, 5, "100% wrong\r\nreally");
        one.hint = Some("fix it".to_owned());
        assert_eq!(
            render_github(&[one]),
            "::error file=dir%2Cx/a%3Ab.yaml,line=2,col=5::100%25 wrong%0D%0Areally — hint: fix it\n"
        );
    }

    #[test]
    fn json_is_versioned_and_complete() {
        let mut one = diagnostic(Path::new("kvsync.yaml"), 2, 5, "bad");
        one.hint = Some("fix".to_owned());
        let two = diagnostic(Path::new("more.yaml"), 1, 1, "worse");
        let value: serde_json::Value =
            serde_json::from_str(&render_json(&[one, two])).expect("json");
        assert_eq!(
            value,
            serde_json::json!({
                "format_version": "1",
                "valid": false,
                "diagnostics": [
                    {"path": "kvsync.yaml", "line": 2, "column": 5, "message": "bad", "hint": "fix"},
                    {"path": "more.yaml", "line": 1, "column": 1, "message": "worse", "hint": null}
                ]
            })
        );
        let empty: serde_json::Value = serde_json::from_str(&render_json(&[])).expect("json");
        assert_eq!(empty["valid"], true);
    }
}
