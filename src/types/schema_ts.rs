//! JSON Schema → a TypeScript type, for the keys a schema glob types.
//!
//! The type says what a Worker gets from `JSON.parse` of a value the schema accepts (or the
//! text, for a schema of strings): `type`, `const`, `enum`, `properties`/`required`,
//! `additionalProperties`, `items`/`prefixItems`, `anyOf`/`oneOf` (unions), `allOf`
//! (intersections) and `$ref` (followed, also into other files). Keywords that only narrow a
//! value TypeScript cannot express (`minimum`, `pattern`, `format`, …) are left to the schema,
//! which kvsync checks before anything ships. What cannot be said precisely becomes `unknown`,
//! never a type that admits less than the schema does.

use serde_json::{Map, Value};

use crate::config::ValueSchema;

/// How deep `$ref`s and nested schemas are followed before the type is `unknown` (a recursive
/// schema ends there).
const DEPTH_MAX: usize = 24;

/// The TypeScript type of the values `schema` admits.
pub(super) fn type_of(schema: &ValueSchema) -> String {
    Converter { schema }.node(&schema.uri, &schema.document, 0)
}

struct Converter<'a> {
    schema: &'a ValueSchema,
}

impl Converter<'_> {
    fn node(&self, base: &str, node: &Value, depth: usize) -> String {
        if depth > DEPTH_MAX {
            return "unknown".to_owned();
        }
        let object = match node {
            Value::Bool(true) => return "unknown".to_owned(),
            Value::Bool(false) => return "never".to_owned(),
            Value::Object(object) => object,
            _ => return "unknown".to_owned(),
        };
        let mut parts = Vec::new();
        if let Some(Value::String(reference)) = object.get("$ref") {
            match self.schema.resolve(base, reference) {
                Some((target_base, target)) => {
                    parts.push(self.node(&target_base, target, depth + 1));
                }
                None => parts.push("unknown".to_owned()),
            }
        }
        if let Some(value) = object.get("const") {
            parts.push(literal(value));
        } else if let Some(Value::Array(values)) = object.get("enum") {
            parts.push(union(values.iter().map(literal).collect()));
        } else if let Some(own) = self.own_type(base, object, depth) {
            parts.push(own);
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(any)) = object.get(keyword) {
                parts.push(union(any.iter().map(|sub| self.node(base, sub, depth + 1)).collect()));
            }
        }
        if let Some(Value::Array(all)) = object.get("allOf") {
            parts.extend(all.iter().map(|sub| self.node(base, sub, depth + 1)));
        }
        parts.retain(|part| part != "unknown");
        match parts.len() {
            0 => "unknown".to_owned(),
            1 => parts.remove(0),
            _ => {
                parts.dedup();
                parts.iter().map(|p| parenthesized(p)).collect::<Vec<_>>().join(" & ")
            }
        }
    }

    /// What `type` says (or, without it, what `properties` or `items` imply).
    fn own_type(&self, base: &str, object: &Map<String, Value>, depth: usize) -> Option<String> {
        let names: Vec<&str> = match object.get("type") {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ if object.contains_key("properties")
                || object.contains_key("additionalProperties")
                || object.contains_key("required") =>
            {
                vec!["object"]
            }
            _ if object.contains_key("items") || object.contains_key("prefixItems") => {
                vec!["array"]
            }
            _ => return None,
        };
        let types = names
            .into_iter()
            .map(|name| match name {
                "string" => "string".to_owned(),
                "number" | "integer" => "number".to_owned(),
                "boolean" => "boolean".to_owned(),
                "null" => "null".to_owned(),
                "array" => self.array(base, object, depth),
                "object" => self.object(base, object, depth),
                _ => "unknown".to_owned(),
            })
            .collect();
        Some(union(types))
    }

    fn array(&self, base: &str, object: &Map<String, Value>, depth: usize) -> String {
        if let Some(Value::Array(prefix)) = object.get("prefixItems") {
            let mut items: Vec<String> =
                prefix.iter().map(|sub| self.node(base, sub, depth + 1)).collect();
            let rest = match object.get("items") {
                Some(Value::Bool(false)) => None,
                Some(items) => Some(self.node(base, items, depth + 1)),
                None => Some("unknown".to_owned()),
            };
            if let Some(rest) = rest {
                items.push(format!("...{}[]", parenthesized(&rest)));
            }
            return format!("[{}]", items.join(", "));
        }
        let item = object
            .get("items")
            .map_or_else(|| "unknown".to_owned(), |items| self.node(base, items, depth + 1));
        format!("{}[]", parenthesized(&item))
    }

    fn object(&self, base: &str, object: &Map<String, Value>, depth: usize) -> String {
        let required: Vec<&str> = match object.get("required") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut members = Vec::new();
        if let Some(Value::Object(properties)) = object.get("properties") {
            for (name, sub) in properties {
                let optional = if required.contains(&name.as_str()) { "" } else { "?" };
                let quoted = serde_json::to_string(name).unwrap_or_default();
                members.push(format!("{quoted}{optional}: {}", self.node(base, sub, depth + 1)));
            }
        }
        for name in &required {
            let listed = object
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|properties| properties.contains_key(*name));
            if !listed {
                let quoted = serde_json::to_string(name).unwrap_or_default();
                members.push(format!("{quoted}: unknown"));
            }
        }
        match object.get("additionalProperties") {
            Some(Value::Bool(false)) => {}
            Some(additional @ Value::Object(_)) if members.is_empty() => {
                let value = self.node(base, additional, depth + 1);
                members.push(format!("[key: string]: {value}"));
            }
            // Named properties must fit the index signature: only `unknown` is sure to.
            _ => members.push("[key: string]: unknown".to_owned()),
        }
        format!("{{ {} }}", members.join("; "))
    }
}

/// A JSON value as a literal type (`"on"`, `3`, `true`, `null`); objects and arrays by shape.
fn literal(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => super::widen(value),
        _ => serde_json::to_string(value).unwrap_or_else(|_| "unknown".to_owned()),
    }
}

/// `A | B`, each once, in first-seen order; `never` for none.
pub(crate) fn union(types: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for one in types {
        if one == "unknown" {
            return one;
        }
        if !seen.contains(&one) {
            seen.push(one);
        }
    }
    match seen.len() {
        0 => "never".to_owned(),
        1 => seen.remove(0),
        _ => seen.iter().map(|t| parenthesized(t)).collect::<Vec<_>>().join(" | "),
    }
}

/// `t`, in parentheses when it is a union or an intersection at the top level.
pub(crate) fn parenthesized(t: &str) -> String {
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for c in t.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '(' | '[' | '<' => depth += 1,
            '}' | ')' | ']' | '>' => depth -= 1,
            '|' | '&' if depth == 0 => return format!("({t})"),
            _ => {}
        }
    }
    t.to_owned()
}
