//! Parser errors → kvsync messages: what serde-saphyr reports, said in kvsync's words with a
//! hint, and the phrasing the config's own checks share (`missing_field`, `unknown_field`).

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Error as YamlError, MessageFormatter as _};

use super::ParseError;
use crate::config::problems::{Pos, did_you_mean};

/// The fields of a key entry, for the hint on an unknown one.
const ENTRY_FIELDS: &[&str] =
    &["value", "file", "metadata", "expiration", "expiration_ttl", "sensitive"];

/// A key read twice in one mapping, at the second one.
pub(super) fn duplicate_key(pos: Pos, key: &str) -> ParseError {
    ParseError {
        pos,
        message: format!("duplicate key `{key}`"),
        hint: Some(DUPLICATE_HINT.to_owned()),
        structural: false,
    }
}

/// The parse stopped at a merge key (`<<`) because it was not asked to expand them.
pub(super) fn is_merge_key(error: &YamlError) -> bool {
    matches!(innermost(error), YamlError::MergeKeyNotAllowed { .. })
}

/// The field serde's derive found twice in a struct's mapping.
pub(super) fn duplicate_field(error: &YamlError) -> Option<&str> {
    match innermost(error) {
        YamlError::Message { msg, .. } => msg.strip_prefix("duplicate field `")?.strip_suffix('`'),
        _ => None,
    }
}

const DUPLICATE_HINT: &str = "a mapping may name each key only once; remove or rename one";

pub(super) fn translate(error: &YamlError, source: &str) -> ParseError {
    let pos = error
        .location()
        .map(|l| Pos::new(l.line(), l.column()))
        .filter(|p| p.line > 0)
        .unwrap_or(Pos::START);
    let inner = innermost(error);
    let (message, hint) = describe(inner, source, pos);
    let structural = matches!(
        inner,
        YamlError::SerdeUnknownField { .. }
            | YamlError::SerdeMissingField { .. }
            | YamlError::SerdeUnknownVariant { .. }
            | YamlError::SerdeInvalidType { .. }
            | YamlError::SerdeInvalidValue { .. }
            | YamlError::InvalidScalar { .. }
            | YamlError::InvalidBooleanStrict { .. }
            | YamlError::NullIntoString { .. }
            | YamlError::Unexpected { .. }
    );
    ParseError { pos, message, hint, structural }
}

fn innermost(error: &YamlError) -> &YamlError {
    match error {
        YamlError::WithSnippet { error, .. } | YamlError::AliasError { error, .. } => {
            innermost(error)
        }
        other => other,
    }
}

const LIMITS_HINT: &str = "kvsync refuses YAML that expands far beyond its own size (alias \
                           bombs such as \"billion laughs\"); write the values out, or use \
                           fewer nested aliases";

fn describe(error: &YamlError, source: &str, pos: Pos) -> (String, Option<String>) {
    let field = key_before(source, pos);
    let of_field = field.as_deref().map(|f| format!(" for `{f}`")).unwrap_or_default();
    match error {
        YamlError::SerdeUnknownField { field, expected, .. } => unknown_field(field, expected),
        YamlError::SerdeMissingField { field, .. } => missing_field(field),
        YamlError::SerdeUnknownVariant { variant, expected, .. } => (
            format!("unknown value `{variant}`{of_field}"),
            Some(match did_you_mean(variant, expected.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("expected {}", one_of(expected)),
            }),
        ),
        YamlError::SerdeInvalidType { unexpected, expected, .. }
        | YamlError::SerdeInvalidValue { unexpected, expected, .. } => (
            format!(
                "invalid value{of_field}: expected {}, found {unexpected}",
                friendly_expected(expected)
            ),
            None,
        ),
        YamlError::InvalidScalar { ty, .. } => {
            (format!("invalid value{of_field}: expected {}", friendly_type(ty)), None)
        }
        YamlError::InvalidBooleanStrict { .. } => (
            format!("invalid value{of_field}: expected `true` or `false`"),
            Some(STRICT_BOOLEANS_HINT.to_owned()),
        ),
        YamlError::NullIntoString { .. } => (
            format!("missing value{of_field}"),
            Some("write a value, or `\"\"` for an empty string".to_owned()),
        ),
        YamlError::NonFiniteFloat { value, .. } => (
            format!("`{value}` is not a number JSON can hold"),
            Some(format!("quote it (`\"{value}\"`) to store the text")),
        ),
        YamlError::Unexpected { expected, .. } => (
            format!(
                "invalid value{of_field}: expected {}",
                match *expected {
                    "sequence start" => "a list",
                    "mapping start" => "a mapping",
                    "string scalar" => "a string",
                    other => other,
                }
            ),
            None,
        ),
        YamlError::Eof { .. } => ("unexpected end of file".to_owned(), None),
        YamlError::MultipleDocuments { .. } => (
            "more than one YAML document in one file".to_owned(),
            Some("remove the `---` separator; one file holds one document".to_owned()),
        ),
        YamlError::UnsupportedTag { .. } => (
            "unsupported YAML tag".to_owned(),
            Some("kvsync reads plain YAML; remove the `!tag`".to_owned()),
        ),
        YamlError::UnknownAnchor { .. } => ("alias to an unknown anchor".to_owned(), None),
        YamlError::InvalidUtf8Input => ("the file is not valid UTF-8".to_owned(), None),
        YamlError::Budget { breach, .. } => (
            format!("the YAML exceeds kvsync's parser limits ({})", breach_text(breach)),
            Some(LIMITS_HINT.to_owned()),
        ),
        YamlError::AliasReplayLimitExceeded { max_total_replayed_events, .. } => (
            format!("YAML aliases expand to more than {max_total_replayed_events} nodes"),
            Some(LIMITS_HINT.to_owned()),
        ),
        YamlError::AliasExpansionLimitExceeded { .. }
        | YamlError::AliasReplayStackDepthExceeded { .. }
        | YamlError::AliasReplayCounterOverflow { .. } => {
            ("YAML aliases expand too much".to_owned(), Some(LIMITS_HINT.to_owned()))
        }
        YamlError::Message { msg, .. } => {
            let hint = msg.contains("YAML aliases expand").then(|| LIMITS_HINT.to_owned());
            (msg.clone(), hint)
        }
        YamlError::ExternalMessage { msg, .. } => (format!("invalid YAML: {msg}"), None),
        other => (serde_saphyr::UserMessageFormatter.format_message(other).into_owned(), None),
    }
}

/// Why `yes` is not `true`.
pub(crate) const STRICT_BOOLEANS_HINT: &str = "only `true` and `false` are booleans (YAML 1.2); \
                                               `yes`, `no`, `on` and `off` are strings";

/// A required field is absent: the message and a hint.
pub(crate) fn missing_field(field: &str) -> (String, Option<String>) {
    let hint = match field {
        "version" => Some("start the config with `version: 1`".to_owned()),
        "owner" => Some(
            "name who owns the keys, e.g. `owner: web-flags`; it is written into every key \
             kvsync writes"
                .to_owned(),
        ),
        _ => None,
    };
    (format!("missing field `{field}`"), hint)
}

/// An unknown field among `expected`: the message and a hint.
pub(crate) fn unknown_field(field: &str, expected: &[&str]) -> (String, Option<String>) {
    let close = did_you_mean(field, expected.iter().copied());
    if expected == ENTRY_FIELDS {
        let fields = ENTRY_FIELDS.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
        let rule = format!(
            "a mapping is always an entry with {fields}; a JSON object goes under `value:`"
        );
        let hint = match close {
            Some(close) => format!("did you mean `{close}`? {rule}"),
            None => rule,
        };
        return (format!("unknown field `{field}` in a key entry"), Some(hint));
    }
    let hint = match close {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("expected {}", one_of(expected)),
    };
    (format!("unknown field `{field}`"), Some(hint))
}

/// `` `a`, `b`, or `c` `` for hints.
pub(crate) fn one_of(names: &[&str]) -> String {
    let ticked: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match ticked.as_slice() {
        [] => "nothing here".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("one of {}, or {last}", rest.join(", ")),
    }
}

/// Serde's type names, as a user would say them.
fn friendly_type(ty: &str) -> &'static str {
    match ty {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "bool" => "`true` or `false`",
        "char" | "string" | "str" => "a string",
        _ => "a different kind of value",
    }
}

fn friendly_expected(expected: &str) -> String {
    if expected.starts_with("struct ") || expected == "a mapping" || expected == "a map" {
        "a mapping".to_owned()
    } else if let Some(rest) = expected.strip_prefix("a sequence") {
        format!("a list{rest}")
    } else if matches!(expected, "a string" | "a boolean" | "a value or an entry mapping") {
        expected.to_owned()
    } else {
        friendly_type(expected).to_owned()
    }
}

fn breach_text(breach: &BudgetBreach) -> String {
    match breach {
        BudgetBreach::Depth { depth } => format!("nesting depth {depth}"),
        BudgetBreach::Nodes { nodes } => format!("{nodes} nodes"),
        BudgetBreach::Events { events } => format!("{events} events"),
        BudgetBreach::Aliases { aliases } => format!("{aliases} aliases"),
        BudgetBreach::Anchors { anchors } => format!("{anchors} anchors"),
        BudgetBreach::RecordedAnchorEvents { recorded_anchor_events } => {
            format!("anchors copy {recorded_anchor_events} nodes")
        }
        other => format!("{other:?}"),
    }
}

/// The mapping key a type error is about, read from the source: the key just before `pos`
/// (`version` for `version: one`, pointing at `one`), or the key at `pos` (when the parser
/// points at the key of a value it cannot take). The parser's errors do not name it.
fn key_before(source: &str, pos: Pos) -> Option<String> {
    let line = source.lines().nth((pos.line as usize).checked_sub(1)?)?;
    let split = line
        .char_indices()
        .nth((pos.column as usize).saturating_sub(1))
        .map_or(line.len(), |(i, _)| i);
    let (before, at) = line.split_at(split);
    let key = match before.trim_end().strip_suffix(':') {
        Some(before) => {
            let before = before.trim_end();
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| c.is_whitespace() || matches!(c, '{' | ',' | '['))
                .map_or(0, |(i, c)| i + c.len_utf8());
            &before[start..]
        }
        None => at.split_once(':')?.0.trim_end(),
    };
    let key = key.trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty() && !key.contains([' ', '{', '[', ','])).then(|| key.to_owned())
}
