//! kvsync's one YAML writer: scalars (plain when that reads back the same, else
//! double-quoted), block literals, JSON as block YAML, and `${` escaping for interpolated
//! strings. `export` writes whole configs with it and `init`'s starter its scalars; this module
//! only formats text, it does not check that the result loads (`export` does that).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// How a value is written.
pub(crate) enum Repr {
    /// A one-line scalar, already quoted as needed.
    Scalar(String),
    /// A block literal: the header (`|-`, `|` or `|+`) and the content lines, unindented.
    Literal(&'static str, Vec<String>),
    /// A JSON value (not a string) as a YAML structure.
    Json(Value),
    /// A file under `values/` (`export::VALUES_DIR`).
    File(String),
    /// `${VAR}`.
    Variable(String),
}

/// `name: <value>` at `indent`, the value in the form `repr` says.
pub(crate) fn write_value(out: &mut String, indent: usize, name: &str, repr: &Repr) {
    let pad = " ".repeat(indent);
    match repr {
        Repr::Scalar(text) => {
            let _ = writeln!(out, "{pad}{name}: {text}");
        }
        Repr::Variable(variable) => {
            let _ = writeln!(out, "{pad}{name}: \"${{{variable}}}\"");
        }
        Repr::File(path) => {
            let _ = writeln!(out, "{pad}{name}: {}", value_scalar(path));
        }
        Repr::Literal(header, lines) => {
            let _ = writeln!(out, "{pad}{name}: {header}");
            let content = " ".repeat(indent + 2);
            for line in lines {
                if line.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "{content}{line}");
                }
            }
        }
        Repr::Json(value) => json_field(out, indent, name, value),
    }
}

/// A JSON value as the block-style value of `name:` at `indent`.
pub(crate) fn json_field(out: &mut String, indent: usize, name: &str, value: &Value) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let _ = writeln!(out, "{pad}{name}:");
            for (field, item) in map {
                json_field(out, indent + 2, &scalar(field), item);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let _ = writeln!(out, "{pad}{name}:");
            for item in items {
                json_item(out, indent + 2, item);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{name}: {}", json_scalar(other));
        }
    }
}

/// A JSON value as an item of a block sequence at `indent`.
fn json_item(out: &mut String, indent: usize, value: &Value) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let _ = writeln!(out, "{pad}-");
            for (field, item) in map {
                json_field(out, indent + 2, &scalar(field), item);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let _ = writeln!(out, "{pad}-");
            for item in items {
                json_item(out, indent + 2, item);
            }
        }
        other => {
            let _ = writeln!(out, "{pad}- {}", json_scalar(other));
        }
    }
}

fn json_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => value_scalar(s),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// RFC 3339 in UTC (`2030-01-01T00:00:00Z`), which the loader reads back to the same second.
pub(crate) fn timestamp(at: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|moment| moment.format(&Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

/// A string the loader interpolates (values, metadata strings, paths, prefixes), as a scalar:
/// `${` is escaped as `$${` first, so the text is never taken for a variable.
pub(crate) fn value_scalar(text: &str) -> String {
    scalar(&escape_interpolation(text))
}

/// `${` → `$${`, the loader's escape for a literal `${`.
pub(crate) fn escape_interpolation(text: &str) -> Cow<'_, str> {
    if text.contains("${") { Cow::Owned(text.replace("${", "$${")) } else { Cow::Borrowed(text) }
}

/// A string as a one-line YAML scalar (no interpolation escaping; for names): plain when that
/// can only read back as the same string, else double-quoted.
pub(crate) fn scalar(text: &str) -> String {
    if plain_is_safe(text) { text.to_owned() } else { double_quoted(text) }
}

/// Whether `text` written plain reads back as the same string under the YAML 1.2 core schema
/// with strict booleans, in block context. Conservative on purpose: anything doubtful is quoted.
fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    let starts_well = first.is_ascii_alphabetic()
        || first == '_'
        || first == '/'
        || text.starts_with("./")
        || text.starts_with("../")
        // Ids such as `0f1e…`: a digit first, letters and digits only, and no number YAML knows
        // (decimal, `1e5`, `0x1F`, `0o17`).
        || (first.is_ascii_digit()
            && text.chars().all(|c| c.is_ascii_alphanumeric())
            && !text.starts_with("0x")
            && !text.starts_with("0o")
            && !is_decimal_or_exponent(text));
    if !starts_well || text.ends_with([' ', ':']) || text.contains(": ") || text.contains(" #") {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "nan" | "inf"
    ) {
        return false;
    }
    text.chars().all(|c| {
        c == ' '
            || !(c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '#' | ',' | '[' | ']' | '{' | '}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ))
    })
}

/// `[0-9]+([eE][0-9]+)?`: what YAML's core schema reads as a number among texts of letters and
/// digits.
fn is_decimal_or_exponent(text: &str) -> bool {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(mantissa) && exponent.is_none_or(digits)
}

/// A double-quoted scalar: holds any text, with escapes for what YAML cannot show as is.
pub(crate) fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}' | '\u{a0}'
                ) =>
            {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text of several lines as a block literal: the header and the content lines (not indented;
/// empty lines stay empty). `None` when a block literal cannot hold it exactly: characters YAML
/// would change (a carriage return, other line breaks, controls), or a first line that starts
/// with a space (the indentation would swallow it).
pub(crate) fn literal_block(text: &str) -> Option<(&'static str, Vec<String>)> {
    if !text.contains('\n')
        || text.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}')
        })
    {
        return None;
    }
    let body = text.trim_end_matches('\n');
    let trailing = text.len() - body.len();
    let first = body.split('\n').next()?;
    if first.is_empty() || first.starts_with([' ', '\t']) {
        return None;
    }
    let header = match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    let mut lines: Vec<String> = body.split('\n').map(str::to_owned).collect();
    lines.extend(std::iter::repeat_n(String::new(), trailing.saturating_sub(1)));
    Some((header, lines))
}

/// A block scalar (`|` literal, or `>` folded when `folded` and a folded block reads back as
/// exactly the text) holding `text` exactly, as it is written after `key: `: the header, then
/// each line on its own line indented to `parent + 2` (an indentation indicator in the header
/// when the first line would not show the indentation), lines separated by `line_break`.
/// Without keep chomping the text ends with its last content line; with keep chomping (`|+`,
/// the bool) it ends with the line break after it and the trailing empty lines, so it replaces
/// up to the next line with content. `None` when a block scalar cannot hold the text:
/// characters YAML would change (a carriage return, other line breaks, controls), or an empty
/// text.
pub(crate) fn block_scalar(
    text: &str,
    folded: bool,
    parent: usize,
    line_break: &str,
) -> Option<(String, bool)> {
    if text.is_empty()
        || text.chars().any(|c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                )
        })
    {
        return None;
    }
    let body = text.trim_end_matches('\n');
    if body.is_empty() {
        return None;
    }
    // Folded when asked and the folded block reads back as the text (the parser's own
    // reading decides, at column 0: the indentation is relative), else literal.
    if folded {
        let candidate = write_block(text, true, 0, "\n");
        if reads_back(&candidate.0, text) {
            return Some(write_block(text, true, parent, line_break));
        }
    }
    Some(write_block(text, false, parent, line_break))
}

/// The lines of a block scalar's content for `body` (the text without its trailing line
/// breaks). Literal: the lines as they are. Folded: a single line break between two lines
/// that start with no white space would fold into a space, so each run of line breaks between
/// such lines is written with one empty line more; around a line that starts with white space
/// (more indented), line breaks are kept as they are, as in a literal block.
fn block_lines(body: &str, folded: bool) -> Vec<&str> {
    let lines: Vec<&str> = body.split('\n').collect();
    if !folded {
        return lines;
    }
    let normal = |line: &str| !line.is_empty() && !line.starts_with([' ', '\t']);
    let mut written = Vec::with_capacity(lines.len() * 2);
    let mut previous: Option<&str> = None;
    for line in lines {
        if let Some(before) = previous
            && normal(before)
            && normal(line)
        {
            written.push("");
        }
        written.push(line);
        if !line.is_empty() {
            previous = Some(line);
        }
    }
    written
}

/// [`block_scalar`]'s text for a text it can hold, folded or literal as asked.
fn write_block(text: &str, folded: bool, parent: usize, line_break: &str) -> (String, bool) {
    let body = text.trim_end_matches('\n');
    let trailing = text.len() - body.len();
    let chomping = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let lines = block_lines(body, folded);
    let first = body.split('\n').next().unwrap_or_default();
    let indicator_needed = first.is_empty() || first.starts_with([' ', '\t']);
    let indent = " ".repeat(parent + 2);
    let mut out = String::with_capacity(text.len() + lines.len() * (indent.len() + 2) + 4);
    out.push(if folded { '>' } else { '|' });
    if indicator_needed {
        out.push('2');
    }
    out.push_str(chomping);
    for line in &lines {
        out.push_str(line_break);
        if !line.is_empty() {
            out.push_str(&indent);
            out.push_str(line);
        }
    }
    if trailing > 1 {
        for _ in 0..trailing {
            out.push_str(line_break);
        }
    }
    (out, trailing > 1)
}

/// Whether `block`, written after a key at column 0, reads back as exactly `text`.
fn reads_back(block: &str, text: &str) -> bool {
    let close = if block.ends_with('\n') { "" } else { "\n" };
    let document = format!("k: {block}{close}");
    super::yaml::parse::<std::collections::BTreeMap<String, String>>(document)
        .is_ok_and(|map| map.get("k").is_some_and(|read| read == text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_would_read_back_differently() {
        for (text, expected) in [
            ("flags/a", "flags/a"),
            ("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
            ("1e5", "\"1e5\""),
            ("123", "\"123\""),
            ("true", "\"true\""),
            ("a: b", "\"a: b\""),
            ("a #b", "\"a #b\""),
            ("-x", "\"-x\""),
            ("../w.toml", "../w.toml"),
            (".5", "\".5\""),
            (".inf", "\".inf\""),
            ("", "\"\""),
            ("tab\there", "\"tab\\there\""),
        ] {
            assert_eq!(scalar(text), expected, "{text:?}");
        }
    }
}
