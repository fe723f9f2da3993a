//! JSON Schema → TypeScript types, for the keys a schema types.
//!
//! The type says what a Worker gets from `JSON.parse` of a value the schema accepts (or the
//! text, for a schema of strings): `type`, `const`, `enum`, `properties`/`required`,
//! `additionalProperties`, `items`/`prefixItems` (old drafts' array `items` and
//! `additionalItems` too), `anyOf`/`oneOf` (unions), `allOf` (intersections) and `$ref`.
//! Keywords that only narrow a value TypeScript cannot express (`minimum`, `pattern`, `format`,
//! `not`, …) are left to the schema, which kvsync checks before anything ships. **A type may
//! admit more than its schema, never less**: what cannot be said precisely becomes `unknown`.
//!
//! Each schema, and each part of one a `$ref` points to, is one named type alias, converted
//! once: the output is linear in the schemas' size however often they refer to each other,
//! and a recursive schema gives a recursive type. An alias that would refer to itself outside
//! an object or array (which TypeScript refuses) is `unknown`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::escape;
use crate::config::ValueSchema;

/// How deeply one schema's own keywords nest before the rest is `unknown` (a guard for the
/// stack; `$ref`s do not nest, they name an alias).
const DEPTH_MAX: usize = 64;

/// The named types of every schema met, and the names already taken in the module.
pub(super) struct Aliases<'s, 'd> {
    taken: &'s mut BTreeSet<String>,
    /// A schema (by where it is written: the same in every environment) or a `$ref` target
    /// (its URI, with the schema's place for a part of the schema's own document) → alias.
    by_target: BTreeMap<String, usize>,
    aliases: Vec<Alias>,
    /// Targets named but not converted yet: alias, its schema, the schema's own alias (parts
    /// are named after it), base URI, node.
    queue: Vec<(usize, &'d ValueSchema, String, String, &'d Value)>,
}

struct Alias {
    name: String,
    doc: String,
    body: String,
    /// Aliases its body names outside any object or array.
    direct: BTreeSet<usize>,
}

impl<'s, 'd> Aliases<'s, 'd> {
    pub(super) fn new(taken: &'s mut BTreeSet<String>) -> Self {
        Self { taken, by_target: BTreeMap::new(), aliases: Vec::new(), queue: Vec::new() }
    }

    /// The alias of a whole schema (named after its file, else `stem`), converted with every
    /// part of it a `$ref` reaches.
    pub(super) fn schema(&mut self, schema: &'d ValueSchema, stem: &str, doc: String) -> String {
        let node: &'d Value = &schema.document;
        let key = format!("{}#", schema.shown);
        if let Some(&id) = self.by_target.get(&key) {
            return self.aliases[id].name.clone();
        }
        let id = self.name(key, stem, doc);
        let owner = self.aliases[id].name.clone();
        self.queue.push((id, schema, owner, schema.uri.clone(), node));
        self.drain();
        self.aliases[id].name.clone()
    }

    /// Names a new alias for `key`; its body comes when the queue reaches it.
    fn name(&mut self, key: String, stem: &str, doc: String) -> usize {
        let base = escape::type_name(stem);
        let mut name = base.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{base}{n}");
            n += 1;
        }
        let id = self.aliases.len();
        self.aliases.push(Alias { name, doc, body: String::new(), direct: BTreeSet::new() });
        self.by_target.insert(key, id);
        id
    }

    fn drain(&mut self) {
        while let Some((id, schema, owner, base, node)) = self.queue.pop() {
            let mut direct = BTreeSet::new();
            let body = self.node(schema, &owner, &base, node, 0, true, &mut direct);
            let alias = &mut self.aliases[id];
            alias.body = body;
            alias.direct = direct;
        }
    }

    /// The aliases, in the order named; one that refers to itself outside an object or array
    /// (directly or through others) is `unknown`.
    pub(super) fn write(&self, out: &mut String) {
        let cyclic = self.direct_cycles();
        for (id, alias) in self.aliases.iter().enumerate() {
            let body = if cyclic.contains(&id) { "unknown" } else { alias.body.as_str() };
            let _ = writeln!(out, "/** {} */\nexport type {} = {body};\n", alias.doc, alias.name);
        }
    }

    fn direct_cycles(&self) -> BTreeSet<usize> {
        let mut cyclic = BTreeSet::new();
        for start in 0..self.aliases.len() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<usize> = self.aliases[start].direct.iter().copied().collect();
            while let Some(next) = stack.pop() {
                if next == start {
                    cyclic.insert(start);
                    break;
                }
                if seen.insert(next) {
                    stack.extend(self.aliases[next].direct.iter().copied());
                }
            }
        }
        cyclic
    }

    /// The type of `node` (in the document at `base`); `top`: not inside an object or array.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        schema: &'d ValueSchema,
        owner: &str,
        base: &str,
        node: &'d Value,
        depth: usize,
        top: bool,
        direct: &mut BTreeSet<usize>,
    ) -> String {
        if depth > DEPTH_MAX {
            return "unknown".to_owned();
        }
        let object = match node {
            Value::Bool(false) => return "never".to_owned(),
            Value::Object(object) => object,
            _ => return "unknown".to_owned(),
        };
        // A document's `$id` changes the base its `$ref`s resolve against.
        let own_base;
        let base = match object.get("$id").and_then(Value::as_str) {
            Some(id) if !id.starts_with('#') => {
                own_base = join(base, id);
                own_base.as_str()
            }
            _ => base,
        };
        let mut parts = Vec::new();
        if let Some(Value::String(reference)) = object.get("$ref") {
            parts.push(self.reference(schema, owner, base, reference, top, direct));
        }
        if let Some(value) = object.get("const") {
            parts.push(literal(value));
        } else if let Some(Value::Array(values)) = object.get("enum") {
            parts.push(union(values.iter().map(literal).collect()));
        } else if let Some(own) = self.own_type(schema, owner, base, object, depth) {
            parts.push(own);
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(any)) = object.get(keyword) {
                let types = any
                    .iter()
                    .map(|sub| self.node(schema, owner, base, sub, depth + 1, top, direct))
                    .collect();
                parts.push(union(types));
            }
        }
        if let Some(Value::Array(all)) = object.get("allOf") {
            for sub in all {
                parts.push(self.node(schema, owner, base, sub, depth + 1, top, direct));
            }
        }
        parts.retain(|part| part != "unknown");
        let mut distinct: Vec<String> = Vec::new();
        for part in parts {
            if !distinct.contains(&part) {
                distinct.push(part);
            }
        }
        match distinct.len() {
            0 => "unknown".to_owned(),
            1 => distinct.remove(0),
            _ => distinct.iter().map(|p| parenthesized(p)).collect::<Vec<_>>().join(" & "),
        }
    }

    /// The alias a `$ref` names (made when first met), or `unknown` when it cannot be followed.
    fn reference(
        &mut self,
        schema: &'d ValueSchema,
        owner: &str,
        base: &str,
        reference: &str,
        top: bool,
        direct: &mut BTreeSet<usize>,
    ) -> String {
        let Some((target_base, target)) = schema.resolve(base, reference) else {
            return "unknown".to_owned();
        };
        let target_uri = jsonschema::uri::from_str(base)
            .ok()
            .and_then(|b| jsonschema::uri::resolve_against(&b.borrow(), reference).ok())
            .map_or_else(|| format!("{base}|{reference}"), |uri| uri.as_str().to_owned());
        let key = if schema.referenced.contains_key(&target_base) {
            target_uri
        } else {
            format!("{}|{target_uri}", schema.shown)
        };
        let id = match self.by_target.get(&key) {
            Some(&id) => id,
            None => {
                let fragment = reference.rsplit_once('#').map_or("", |(_, f)| f);
                let last = fragment.rsplit('/').next().unwrap_or_default();
                let stem = if last.is_empty() {
                    let file = target_base.rsplit('/').next().unwrap_or_default();
                    file.split('.').next().unwrap_or(file).to_owned()
                } else {
                    format!("{owner} {last}")
                };
                let doc = format!(
                    "The part `{}` of schema `{}`.",
                    escape::comment(reference),
                    escape::comment(&schema.shown)
                );
                let id = self.name(key, &stem, doc);
                self.queue.push((id, schema, owner.to_owned(), target_base, target));
                id
            }
        };
        if top {
            direct.insert(id);
        }
        self.aliases[id].name.clone()
    }

    /// What `type` says; without it, nothing (`properties` or `items` alone admit any value
    /// that is not an object or array).
    fn own_type(
        &mut self,
        schema: &'d ValueSchema,
        owner: &str,
        base: &str,
        object: &'d Map<String, Value>,
        depth: usize,
    ) -> Option<String> {
        let names: Vec<&str> = match object.get("type") {
            Some(Value::String(name)) => vec![name.as_str()],
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        let mut types = Vec::new();
        for name in names {
            types.push(match name {
                "string" => "string".to_owned(),
                "number" | "integer" => "number".to_owned(),
                "boolean" => "boolean".to_owned(),
                "null" => "null".to_owned(),
                "array" => self.array(schema, owner, base, object, depth),
                "object" => self.object(schema, owner, base, object, depth),
                _ => "unknown".to_owned(),
            });
        }
        Some(union(types))
    }

    fn array(
        &mut self,
        schema: &'d ValueSchema,
        owner: &str,
        base: &str,
        object: &'d Map<String, Value>,
        depth: usize,
    ) -> String {
        let mut nested = BTreeSet::new();
        let mut sub = |this: &mut Self, node: &'d Value| {
            this.node(schema, owner, base, node, depth + 1, false, &mut nested)
        };
        // A tuple: `prefixItems` (2020-12) or an array `items` (older drafts).
        let (prefix, rest) = match (object.get("prefixItems"), object.get("items")) {
            (Some(Value::Array(prefix)), rest) => (Some(prefix), rest),
            (None, Some(Value::Array(prefix))) => (Some(prefix), object.get("additionalItems")),
            (_, rest) => (None, rest),
        };
        let Some(prefix) = prefix else {
            let item = rest.map_or_else(|| "unknown".to_owned(), |items| sub(self, items));
            return format!("{}[]", parenthesized(&item));
        };
        // Each listed item may be missing (an array shorter than the prefix passes), unless
        // `minItems` requires it.
        let required = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let mut items = Vec::new();
        for (index, node) in prefix.iter().enumerate() {
            let ts = sub(self, node);
            let optional = u64::try_from(index).unwrap_or(u64::MAX) >= required;
            items.push(if optional { format!("{}?", parenthesized(&ts)) } else { ts });
        }
        match rest {
            Some(Value::Bool(false)) => {}
            Some(node) => items.push(format!("...{}[]", parenthesized(&sub(self, node)))),
            None => items.push("...unknown[]".to_owned()),
        }
        format!("[{}]", items.join(", "))
    }

    fn object(
        &mut self,
        schema: &'d ValueSchema,
        owner: &str,
        base: &str,
        object: &'d Map<String, Value>,
        depth: usize,
    ) -> String {
        let mut nested = BTreeSet::new();
        let required: Vec<&str> = match object.get("required") {
            Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let properties = object.get("properties").and_then(Value::as_object);
        let mut members = Vec::new();
        if let Some(properties) = properties {
            for (name, sub) in properties {
                let optional = if required.contains(&name.as_str()) { "" } else { "?" };
                let ts = self.node(schema, owner, base, sub, depth + 1, false, &mut nested);
                members.push(format!("{}{optional}: {ts}", escape::string(name)));
            }
        }
        for name in &required {
            if !properties.is_some_and(|properties| properties.contains_key(*name)) {
                members.push(format!("{}: unknown", escape::string(name)));
            }
        }
        let closed = object.get("additionalProperties") == Some(&Value::Bool(false))
            && !object.contains_key("patternProperties");
        match object.get("additionalProperties") {
            _ if closed => {}
            Some(additional @ Value::Object(_))
                if members.is_empty() && !object.contains_key("patternProperties") =>
            {
                let value =
                    self.node(schema, owner, base, additional, depth + 1, false, &mut nested);
                members.push(format!("[key: string]: {value}"));
            }
            // Named properties must fit the index signature: only `unknown` is sure to.
            _ => members.push("[key: string]: unknown".to_owned()),
        }
        format!("{{ {} }}", members.join("; "))
    }
}

/// `base` with a relative `$id` resolved against it.
fn join(base: &str, id: &str) -> String {
    jsonschema::uri::from_str(base)
        .ok()
        .and_then(|base| jsonschema::uri::resolve_against(&base.borrow(), id).ok())
        .map_or_else(|| base.to_owned(), |uri| uri.as_str().to_owned())
}

/// A JSON value as a literal type (`"on"`, `3`, `true`, `null`); objects and arrays by shape.
fn literal(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => super::widen(value),
        Value::String(text) => escape::string(text),
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
