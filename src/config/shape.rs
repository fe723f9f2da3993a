//! Every problem of structure in a file at once: unknown fields, wrong types and bad values,
//! found by walking the file's generic tree beside the config's JSON Schema.
//!
//! serde stops at the first field it cannot take, so a file with a misspelt field, a `yes` for a
//! boolean and an unknown `target` would need three runs to fix. When that happens the loader
//! reads the file again as a [`YamlValue`] tree (which any well-formed YAML is) and this module
//! checks the tree against `schemas/kvsync.schema.json` as `model` generates it, so the shape
//! of the config is written once, in the model. Each finding says which mapping entry is at
//! fault, so that the loader can cut those entries out and load the rest as usual.
//!
//! Only what deserializing refuses is reported: unknown fields, missing required fields, a
//! value of the wrong kind, a name that is not one of an enum's, a negative count. A `null` is
//! left alone (the model reads most of them as "not set"), and so are `pattern`s and ranges,
//! which the loader's own checks cover with better messages. This module knows no YAML crate.

use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{YamlKind, YamlValue};
use super::problems::{Pos, did_you_mean};
use super::yaml::{self, STRICT_BOOLEANS_HINT, missing_field, one_of, unknown_field};

/// What reading one YAML file gave: its content, when it (or what is left once its misshapen
/// entries are cut out) parses, and its problems.
pub(crate) struct Reading<T> {
    pub parsed: Option<T>,
    /// Each problem's place, message and hint.
    pub problems: Vec<(Pos, String, Option<String>)>,
    /// Lines whose later errors only echo one of these problems: the mappings that held an
    /// entry that was cut out (a scope without its misspelt `namespace_id` says nothing new).
    pub echoes: Vec<u32>,
}

/// Reads a YAML file as `T`. When serde stops at a field it cannot take, the file is read again
/// as a tree and checked against `schema` (plus `scalar_checks`, checks of values that need no
/// typed model), so every such problem is reported; then the entries at fault are cut out and
/// the rest is parsed again, so that the caller can go on to find the file's other problems.
pub(crate) fn read<T: DeserializeOwned>(
    text: String,
    schema: &Value,
    scalar_checks: &dyn Fn(&YamlValue) -> Vec<Found>,
) -> Reading<T> {
    let text = Rc::new(text);
    let error = match yaml::parse_shared::<T>(&text) {
        Ok(parsed) => {
            return Reading { parsed: Some(parsed), problems: Vec::new(), echoes: Vec::new() };
        }
        Err(error) => error,
    };
    let found = if error.structural {
        yaml::parse_shared::<YamlValue>(&text)
            .map(|tree| {
                let mut found = check(&tree, schema);
                found.extend(scalar_checks(&tree));
                found
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut reading = Reading { parsed: None, problems: Vec::new(), echoes: Vec::new() };
    // The parser's own problem is among those found, unless the walk missed it. A missing
    // field is found at its mapping's start, where the parser's place may be another line.
    let missed = !found.iter().any(|f| f.pos.line == error.pos.line || f.message == error.message);
    if missed {
        reading.problems.push((error.pos, error.message, error.hint));
    }
    let mut cut = Vec::new();
    let mut can_cut = !missed && !found.is_empty();
    for found in found {
        if !found.scalar {
            can_cut &= found.entry.is_some();
            cut.extend(found.entry);
            reading.echoes.extend(found.parent.map(|p| p.line));
        }
        reading.problems.push((found.pos, found.message, found.hint));
    }
    if can_cut {
        reading.parsed = yaml::without_entries(&text, &cut).and_then(|rest| yaml::parse(rest).ok());
    }
    if reading.parsed.is_none() {
        reading.echoes.clear();
    }
    reading
}

/// One problem of structure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    /// The key of the mapping entry to cut out so that the rest of the file loads; `None` when
    /// there is none (the problem is at the top level).
    pub entry: Option<Pos>,
    /// The key of the mapping that holds the entry at fault: once the entry is cut out, what
    /// the loader then says about that mapping (a scope without its misspelt `namespace_id`, a
    /// key entry without its misspelt `value`) only repeats this problem.
    pub parent: Option<Pos>,
    /// A problem of a value's content (the loader's own checks), not of the file's shape:
    /// nothing needs cutting out for the rest to load.
    pub scalar: bool,
}

/// Every problem of structure in `tree` against `schema` (a JSON Schema as schemars writes
/// it), in document order.
pub(crate) fn check(tree: &YamlValue, schema: &Value) -> Vec<Found> {
    let mut walker = Walker { root: schema, found: Vec::new(), parent: None };
    walker.node(tree, schema, None, None);
    walker.found
}

struct Walker<'a> {
    /// The whole schema, where `$ref`s point.
    root: &'a Value,
    found: Vec<Found>,
    /// The key of the mapping being walked (`None` at the top level).
    parent: Option<Pos>,
}

impl<'a> Walker<'a> {
    /// `schema` with its `$ref`s followed.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        // schemars writes `#/$defs/NAME`; a handful of hops is more than it ever nests.
        for _ in 0..8 {
            let Some(name) =
                schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
            else {
                break;
            };
            match self.root.get("$defs").and_then(|defs| defs.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    /// Checks `node`, the value of `field` (whose key is at `entry`), against `schema`.
    fn node(
        &mut self,
        node: &YamlValue,
        schema: &'a Value,
        field: Option<&str>,
        entry: Option<Pos>,
    ) {
        let schema = self.resolve(schema);
        if matches!(node.value, YamlKind::Null) {
            return;
        }
        if let Some(branches) =
            schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array)
        {
            let branches: Vec<&Value> =
                branches.iter().map(|b| self.resolve(b)).filter(|b| !is_null(b)).collect();
            let names: Option<Vec<&str>> =
                branches.iter().map(|b| b.get("const").and_then(Value::as_str)).collect();
            if let Some(names) = names.filter(|n| !n.is_empty()) {
                self.one_name(node, &names, field, entry);
                return;
            }
            match branches.iter().find(|b| takes(b, &node.value)) {
                Some(branch) => self.node(node, branch, field, entry),
                None => {
                    let expected: Vec<String> = branches.iter().map(|b| expected(b)).collect();
                    self.wrong(node, &expected.join(" or "), field, entry);
                }
            }
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            if names.len() == values.len() {
                self.one_name(node, &names, field, entry);
                return;
            }
        }
        if !takes(schema, &node.value) {
            self.wrong(node, &expected(schema), field, entry);
            return;
        }
        match &node.value {
            YamlKind::Map(entries) => {
                let outer = std::mem::replace(&mut self.parent, entry);
                self.mapping(node.pos, entries, schema, entry, outer);
                self.parent = outer;
            }
            YamlKind::Seq(items) => {
                if let Some(items_schema) = schema.get("items") {
                    for item in items {
                        self.node(item, items_schema, field, entry);
                    }
                }
            }
            YamlKind::Int(n) if *n < 0 && unsigned(schema) => {
                self.wrong(node, "a non-negative integer", field, entry);
            }
            YamlKind::BigInt(_) if has_type(schema, "integer") => {
                self.wrong(node, &expected(schema), field, entry);
            }
            _ => {}
        }
    }

    fn mapping(
        &mut self,
        pos: Pos,
        entries: &[(super::model::Sp<String>, YamlValue)],
        schema: &'a Value,
        entry: Option<Pos>,
        outer: Option<Pos>,
    ) {
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            let names: Vec<&str> = properties.keys().map(String::as_str).collect();
            let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
            for (key, value) in entries {
                match properties.get(&key.value) {
                    Some(field_schema) => {
                        self.node(value, field_schema, Some(&key.value), Some(key.pos));
                    }
                    None if closed => {
                        let (message, hint) = unknown_field(&key.value, &names);
                        self.push(key.pos, message, hint, Some(key.pos));
                    }
                    None => {}
                }
            }
            let required = schema.get("required").and_then(Value::as_array);
            for name in required.into_iter().flatten().filter_map(Value::as_str) {
                if !entries.iter().any(|(key, _)| key.value == name) {
                    // The whole mapping is cut out: what holds it is the parent.
                    let (message, hint) = missing_field(name);
                    let inner = std::mem::replace(&mut self.parent, outer);
                    self.push(pos, message, hint, entry);
                    self.parent = inner;
                }
            }
        } else if let Some(values) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            // A map from names to one kind of value (`namespaces:`, `keys:`).
            for (key, value) in entries {
                self.node(value, values, Some(&key.value), Some(key.pos));
            }
        }
    }

    /// `node` must be one of `names` (an enum's).
    fn one_name(
        &mut self,
        node: &YamlValue,
        names: &[&str],
        field: Option<&str>,
        entry: Option<Pos>,
    ) {
        let YamlKind::Str(text) = &node.value else {
            self.wrong(node, &one_of(names), field, entry);
            return;
        };
        if names.contains(&text.as_str()) {
            return;
        }
        let of_field = field.map(|f| format!(" for `{f}`")).unwrap_or_default();
        let hint = match did_you_mean(text, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("expected {}", one_of(names)),
        };
        self.push(node.pos, format!("unknown value `{text}`{of_field}"), Some(hint), entry);
    }

    fn wrong(&mut self, node: &YamlValue, expected: &str, field: Option<&str>, entry: Option<Pos>) {
        let of_field = field.map(|f| format!(" for `{f}`")).unwrap_or_default();
        let hint = (expected == BOOLEAN && matches!(node.value, YamlKind::Str(_)))
            .then(|| STRICT_BOOLEANS_HINT.to_owned());
        self.push(node.pos, format!("invalid value{of_field}: expected {expected}"), hint, entry);
    }

    fn push(&mut self, pos: Pos, message: String, hint: Option<String>, entry: Option<Pos>) {
        self.found.push(Found { pos, message, hint, entry, parent: self.parent, scalar: false });
    }
}

const BOOLEAN: &str = "`true` or `false`";

/// The JSON types a schema allows; empty when it says nothing (anything goes).
fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn has_type(schema: &Value, name: &str) -> bool {
    types(schema).contains(&name)
}

fn is_null(schema: &Value) -> bool {
    types(schema) == ["null"]
}

/// Whether a node of this kind can be what `schema` describes, as the parser reads it: any
/// scalar is read as a string when a string is wanted (`prefix: 42` is `"42"`), and a quoted
/// number or boolean as that number or boolean (`max_deletes: "5"`).
fn takes(schema: &Value, kind: &YamlKind) -> bool {
    let types = types(schema);
    if types.is_empty() {
        return true;
    }
    let allows = |name: &str| types.contains(&name);
    match kind {
        YamlKind::Null => allows("null"),
        YamlKind::Bool(_) => allows("boolean") || allows("string"),
        YamlKind::Int(_) | YamlKind::UInt(_) | YamlKind::BigInt(_) => {
            allows("integer") || allows("number") || allows("string")
        }
        YamlKind::Float(_) => allows("number") || allows("string"),
        YamlKind::Str(text) => {
            allows("string")
                || (allows("integer")
                    && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()))
                || (allows("number") && text.parse::<f64>().is_ok())
                || (allows("boolean") && matches!(text.as_str(), "true" | "false"))
        }
        YamlKind::Seq(_) => allows("array"),
        YamlKind::Map(_) => allows("object"),
    }
}

/// An integer schemars wrote for an unsigned Rust type.
fn unsigned(schema: &Value) -> bool {
    schema.get("format").and_then(Value::as_str).is_some_and(|f| f.starts_with("uint"))
        || schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| m >= 0.0)
}

/// What a schema expects, as the parser's messages say it.
fn expected(schema: &Value) -> String {
    let names: Vec<&str> = types(schema)
        .into_iter()
        .filter(|t| *t != "null")
        .map(|t| match t {
            "boolean" => BOOLEAN,
            "integer" if unsigned(schema) => "a non-negative integer",
            "integer" => "an integer",
            "number" => "a number",
            "string" => "a string",
            "array" => "a list",
            "object" => "a mapping",
            _ => "a different kind of value",
        })
        .collect();
    if names.is_empty() { "a different kind of value".to_owned() } else { names.join(" or ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Sp;

    fn sp<T>(value: T, line: u32) -> Sp<T> {
        Sp::new(value, Pos { line, column: 1 })
    }

    #[test]
    fn every_problem_of_a_mapping_and_where_to_cut() {
        // (The top-level mapping has no key, so its problems have no parent.)
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "prune": {"type": ["boolean", "null"]},
                "count": {"type": "integer", "format": "uint"},
                "tier": {"oneOf": [{"type": "string", "const": "free"}, {"type": "string", "const": "paid"}]},
                "name": {"type": "string"},
            },
            "additionalProperties": false,
            "required": ["name"],
        });
        let tree = sp(
            YamlKind::Map(vec![
                (sp("prune".to_owned(), 2), sp(YamlKind::Str("yes".to_owned()), 2)),
                (sp("count".to_owned(), 3), sp(YamlKind::Int(-1), 3)),
                (sp("tier".to_owned(), 4), sp(YamlKind::Str("fre".to_owned()), 4)),
                (sp("prnue".to_owned(), 5), sp(YamlKind::Bool(true), 5)),
            ]),
            1,
        );
        let found: Vec<(u32, String, Option<u32>)> = check(&tree, &schema)
            .into_iter()
            .map(|f| (f.pos.line, f.message, f.entry.map(|e| e.line)))
            .collect();
        assert_eq!(
            found,
            [
                (2, "invalid value for `prune`: expected `true` or `false`".to_owned(), Some(2)),
                (
                    3,
                    "invalid value for `count`: expected a non-negative integer".to_owned(),
                    Some(3)
                ),
                (4, "unknown value `fre` for `tier`".to_owned(), Some(4)),
                (5, "unknown field `prnue`".to_owned(), Some(5)),
                (1, "missing field `name`".to_owned(), None),
            ]
        );
    }

    #[test]
    fn what_the_parser_reads_as_the_wanted_kind_is_no_problem() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "prefix": {"type": ["string", "null"]},
                "count": {"type": "integer", "format": "uint"},
                "prune": {"type": "boolean"},
            },
        });
        let tree = sp(
            YamlKind::Map(vec![
                (sp("prefix".to_owned(), 2), sp(YamlKind::Int(42), 2)),
                (sp("count".to_owned(), 3), sp(YamlKind::Str("5".to_owned()), 3)),
                (sp("prune".to_owned(), 4), sp(YamlKind::Str("true".to_owned()), 4)),
            ]),
            1,
        );
        assert_eq!(check(&tree, &schema), []);
    }
}
