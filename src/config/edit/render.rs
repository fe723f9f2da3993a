//! How a value is written: in its old form where that reads back as the live bytes (a block
//! scalar stays one, a JSON mapping is edited leaf by leaf), else as a quoted string; and whole
//! entries on one line. Only text: nothing here reads a file.

use serde_json::{Map, Value};

use super::super::yaml::{self, ScalarForm, SpanKind, SpanNode};
use super::super::yaml_out;
use super::Refusal;
use super::set::Replacement;
use super::text::{column_of, line_break, line_end, line_start};

/// An entry's expiration as it is written.
#[derive(Debug, Clone, Copy)]
pub(super) enum At {
    Ttl(u64),
    Absolute(Option<i64>),
}

/// A whole entry on one line: the value alone when it has no metadata or expiration, else a
/// flow mapping.
pub(super) fn flow_entry(
    value: &[u8],
    metadata: Option<&Map<String, Value>>,
    expiration: At,
) -> Option<String> {
    let value = fresh_value(value)?;
    let mut fields = Vec::new();
    if let Some(metadata) = metadata.filter(|m| !m.is_empty()) {
        fields.push(format!("metadata: {}", flow_json(&Value::Object(metadata.clone()))));
    }
    match expiration {
        At::Ttl(ttl) => fields.push(format!("expiration_ttl: {ttl}")),
        At::Absolute(Some(at)) => fields.push(format!("expiration: {}", yaml_out::timestamp(at))),
        At::Absolute(None) => {}
    }
    if fields.is_empty() && !value.starts_with('{') {
        return Some(value);
    }
    Some(format!(
        "{{value: {value}{}}}",
        fields.iter().map(|f| format!(", {f}")).collect::<String>()
    ))
}

/// A value written fresh: JSON (not a string) when the bytes are compact JSON that reads back
/// exactly, else a string scalar.
pub(super) fn fresh_value(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    if let Ok(json) = serde_json::from_slice::<Value>(value)
        && !json.is_string()
        && serde_json::to_vec(&json).ok().as_deref() == Some(value)
    {
        return Some(flow_json(&json));
    }
    Some(yaml_out::value_scalar(text))
}

/// A JSON value in YAML flow style, names and strings plain where that reads back the same,
/// strings escaped against interpolation.
pub(super) fn flow_json(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => flow_scalar(&yaml_out::escape_interpolation(s)),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(flow_json).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", flow_scalar(k), flow_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A scalar inside a flow collection: plain when that is safe there too (no flow indicators),
/// else double-quoted.
pub(super) fn flow_scalar(text: &str) -> String {
    let plain = yaml_out::scalar(text);
    if plain.contains([',', '[', ']', '{', '}']) && !plain.starts_with('"') {
        yaml_out::double_quoted(text)
    } else {
        plain
    }
}

/// The JSON a value's bytes hold, when they are to be written as JSON: compact JSON that reads
/// back exactly, not a string, and the old value was not a string.
pub(super) fn json_of(bytes: &[u8], was_string: bool) -> Option<Value> {
    serde_json::from_slice::<Value>(bytes).ok().filter(|json| {
        !was_string && !json.is_string() && serde_json::to_vec(json).ok().as_deref() == Some(bytes)
    })
}

pub(super) fn is_collection(node: &SpanNode) -> bool {
    matches!(node.kind, SpanKind::Map { .. } | SpanKind::Seq { .. })
}

/// Replacements that make `node` read as `value`, touching only what differs: a mapping with
/// the same names in the same order, or a sequence of the same length, is edited inside, so its
/// comments and the text of what did not change stay as written; anything else is written
/// anew in the node's style.
pub(super) fn json_edits(text: &str, node: &SpanNode, value: &Value, out: &mut Vec<Replacement>) {
    match (&node.kind, value) {
        (SpanKind::Map { entries, .. }, Value::Object(map))
            if !map.is_empty()
                && entries.len() == map.len()
                && entries.iter().zip(map).all(|((key, _), (name, _))| {
                    matches!(&key.kind, SpanKind::Scalar { text, .. } if text == name)
                }) =>
        {
            for ((_, node), (_, item)) in entries.iter().zip(map) {
                json_edits(text, node, item, out);
            }
        }
        (SpanKind::Seq { items, .. }, Value::Array(values))
            if !values.is_empty() && items.len() == values.len() =>
        {
            for (node, item) in items.iter().zip(values) {
                json_edits(text, node, item, out);
            }
        }
        (SpanKind::Scalar { .. }, _) if reads_as(node, value) => {}
        (SpanKind::Map { flow: false, .. } | SpanKind::Seq { flow: false, .. }, _)
            if matches!(value, Value::Object(m) if !m.is_empty())
                || matches!(value, Value::Array(a) if !a.is_empty()) =>
        {
            out.push((node.start, node.end, block_json(value, column_of(text, node.start))));
        }
        _ => out.push((node.start, node.end, flow_json(value))),
    }
}

/// Whether a scalar node surely reads as `value` (a doubt only costs rewriting it).
pub(super) fn reads_as(node: &SpanNode, value: &Value) -> bool {
    let SpanKind::Scalar { text, style } = &node.kind else { return false };
    match (style, value) {
        (ScalarForm::Plain, Value::Null) => matches!(text.as_str(), "null" | "~"),
        (ScalarForm::Plain, Value::Bool(b)) => *text == b.to_string(),
        (ScalarForm::Plain, Value::Number(n)) => {
            n.as_i64().is_some_and(|n| *text == n.to_string())
                || n.as_u64().is_some_and(|n| *text == n.to_string())
        }
        (ScalarForm::Plain, Value::String(s)) => {
            text == s && !s.contains('$') && yaml_out::scalar(s) == *s
        }
        (_, Value::String(s)) if *style != ScalarForm::Plain => text == s && !s.contains('$'),
        _ => false,
    }
}

/// The new text of a value node whose old text is `node`, and whether it replaces the node up
/// to its `tail` (a block scalar with keep chomping, which writes its trailing lines itself):
/// in the old form when that reads back as `bytes` (a block scalar stays a block scalar), else a
/// quoted string. `None` when the bytes are not UTF-8. `parent` is the column of the key the
/// value belongs to.
/// `was_string`: the old value is a YAML string (stored as its raw text), which stays a string:
/// `"true"` stays quoted even though `true` stores the same bytes.
pub(super) fn render_value(
    text: &str,
    node: &SpanNode,
    bytes: &[u8],
    was_string: bool,
    parent: usize,
) -> Option<(String, bool)> {
    let live = std::str::from_utf8(bytes).ok()?;
    let json = serde_json::from_slice::<Value>(bytes).ok().filter(|json| {
        !was_string && !json.is_string() && serde_json::to_vec(json).ok().as_deref() == Some(bytes)
    });
    let line_break = line_break(text);
    let whole = |text: String| Some((text, false));
    match (&node.kind, json) {
        (SpanKind::Scalar { style, .. }, None) => match style {
            ScalarForm::SingleQuoted if !live.contains('\n') && !live.contains("${") => {
                whole(format!("'{}'", live.replace('\'', "''")))
            }
            ScalarForm::DoubleQuoted => {
                whole(yaml_out::double_quoted(&yaml_out::escape_interpolation(live)))
            }
            ScalarForm::Block => {
                let folded = header_folded(&text[node.start..line_end(text, node.start)]);
                let escaped = yaml_out::escape_interpolation(live);
                match yaml_out::block_scalar(&escaped, folded, parent, line_break) {
                    Some((mut block, keep)) => {
                        // The header's comment stays on the header.
                        let header = &text[node.start..line_end(text, node.start)];
                        if let Some(at) = header.find(" #") {
                            let first_break = block.find(line_break).unwrap_or(block.len());
                            let spaces = header[..at].len() - header[..at].trim_end().len();
                            block.insert_str(first_break, &header[at - spaces..]);
                        }
                        Some((block, keep))
                    }
                    None => whole(yaml_out::double_quoted(&escaped)),
                }
            }
            _ => whole(yaml_out::value_scalar(live)),
        },
        (SpanKind::Map { flow: false, .. } | SpanKind::Seq { flow: false, .. }, Some(json))
            if json.is_object() || json.is_array() =>
        {
            let column = column_of(text, node.start);
            whole(block_json(&json, column))
        }
        (_, Some(json)) => whole(flow_json(&json)),
        (_, None) => whole(yaml_out::value_scalar(live)),
    }
}

/// A JSON object or array as block YAML whose first line starts at `column` (already there)
/// and whose other lines are indented to it.
pub(super) fn block_json(value: &Value, column: usize) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, item) in map {
                yaml_out::json_field(&mut out, column, &yaml_out::scalar(name), item);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let wrapper = serde_json::json!({ "x": items });
            let mut inner = String::new();
            yaml_out::json_field(&mut inner, column, "x", &wrapper["x"]);
            // Drop the `x:` line; the items follow at `column + 2`: shift them back.
            for line in inner.lines().skip(1) {
                out.push_str(line.get(2..).unwrap_or(line));
                out.push('\n');
            }
        }
        other => return flow_json(other),
    }
    let trimmed = out.trim_end_matches('\n');
    trimmed.get(column..).unwrap_or(trimmed).to_owned()
}

/// A JSON value rendered where `old` is (or on one line when there is no old node).
pub(super) fn render_json(text: &str, old: Option<&SpanNode>, value: &Value) -> String {
    match old {
        Some(node @ SpanNode { kind: SpanKind::Map { flow: false, .. }, .. }) => {
            block_json(value, column_of(text, node.start))
        }
        _ => flow_json(value),
    }
}

/// Where the new text of `node` (the value of `key`) starts: a block collection on the lines
/// below its key that becomes a scalar is replaced from the start of its line, the scalar
/// indented under the key (at the collection's column, a sequence's `- ` gone, it would not
/// belong to the key).
pub(super) fn value_start(
    text: &str,
    key: &SpanNode,
    node: &SpanNode,
    bytes: &[u8],
    rendered: String,
) -> (usize, String) {
    let block =
        matches!(node.kind, SpanKind::Map { flow: false, .. } | SpanKind::Seq { flow: false, .. });
    let stays_block = json_of(bytes, false).is_some_and(|json| match json {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    });
    let first = line_start(text, node.start);
    // Below its key, after nothing but indentation and `- ` on its line (an indentless
    // sequence starts at its first item): not after an explicit key's `: ` (`? key` / `: - x`).
    let below = first > key.end && text[first..node.start].trim_matches([' ', '-']).is_empty();
    if block && !stays_block && below {
        let pad = " ".repeat(column_of(text, key.start) + 2);
        return (first, format!("{pad}{rendered}"));
    }
    (node.start, rendered)
}

/// [`render_value`], a value that is not UTF-8 refused.
pub(super) fn block_scalar_or_value(
    text: &str,
    node: &SpanNode,
    bytes: &[u8],
    was_string: bool,
    parent: usize,
) -> Result<(String, bool), Refusal> {
    render_value(text, node, bytes, was_string, parent).ok_or(Refusal::NotText)
}

/// Whether a block scalar's header (its first line, from the node's start: a tag or an anchor
/// may come first, a comment after) is folded (`>`).
pub(super) fn header_folded(header: &str) -> bool {
    let (code, token) = yaml::header_code(header);
    code[token..].starts_with('>')
}
