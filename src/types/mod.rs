//! `kvsync types`: a TypeScript module for the Workers that read the keys a config declares.
//!
//! Per scope, an interface maps each desired key to the type of its value, and a small typed
//! accessor reads a key the way its type says (`get(kv, key)` → the value or `null`). A key a
//! schema glob matches is typed by the schema ([`schema_ts`]) through a template-literal index
//! signature for the glob (`*`/`**` become `${string}`); any other key by its value as written,
//! widened (`string`, `number`, `boolean`, object shapes and arrays of those; a binary file
//! `ArrayBuffer`). A scope with more than [`KEYS_LISTED_MAX`] such keys is typed per group of
//! keys instead of per key, so a hundred thousand keys stay a small file.
//!
//! How a key is read follows what KV stores: a YAML string is its raw text (`"text"`), any
//! other value JSON text (`"json"`), a file its bytes (`"text"`, or `"arrayBuffer"` when they
//! are not UTF-8); a schema of strings reads text, any other schema JSON. A config with
//! environments is typed once for all of them: each key's type is the union over the
//! environments (one Worker build serves them all), and a key read differently in two of them
//! is typed as what both reads give (`string`).
//!
//! The output depends only on the config: the same config gives the same bytes, so
//! `kvsync types --check` can tell a stale file in CI.

mod schema_ts;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::config::{Desired, DesiredEntry, Reads, ValueSchema, ValueSource};

/// Keys typed one by one per scope, at most; beyond, keys are typed per group.
pub const KEYS_LISTED_MAX: usize = 1000;

/// Distinct types one group of keys lists before it is typed `JsonValue`.
const GROUP_TYPES_MAX: usize = 12;

/// How a Worker reads a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Read {
    Text,
    Json,
    Binary,
}

impl Read {
    fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
            Self::Binary => "arrayBuffer",
        }
    }
}

/// The types a key (or a glob, or a group) has across environments, and how each reads it.
#[derive(Debug, Default, Clone)]
struct Typed {
    types: Vec<String>,
    reads: BTreeSet<Read>,
}

impl Typed {
    fn add(&mut self, ts: String, read: Read) {
        if !self.types.contains(&ts) {
            self.types.push(ts);
        }
        self.reads.insert(read);
    }

    fn merge(&mut self, other: &Typed) {
        for ts in &other.types {
            if !self.types.contains(ts) {
                self.types.push(ts.clone());
            }
        }
        self.reads.extend(other.reads.iter().copied());
    }

    /// The one type and read: when two reads disagree, what reading both ways can promise.
    fn settle(&self) -> (String, Read) {
        let mut reads = self.reads.iter();
        match (reads.next(), reads.next()) {
            (Some(read), None) => (schema_ts::union(self.types.clone()), *read),
            _ if self.reads.contains(&Read::Binary) => ("ArrayBuffer".to_owned(), Read::Binary),
            _ => ("string".to_owned(), Read::Text),
        }
    }
}

/// One scope of the output, gathered over every environment.
#[derive(Debug, Default)]
struct Scope {
    prefix: String,
    /// Keys no schema glob matches, by name.
    keys: BTreeMap<String, Typed>,
    /// Schema globs in the order first met.
    globs: Vec<(String, Typed)>,
}

/// The schemas met, each named once (by where it is written).
#[derive(Default)]
struct Aliases {
    by_place: BTreeMap<String, String>,
    /// `(name, documentation, type)` in the order named.
    written: Vec<(String, String, String)>,
}

impl Aliases {
    fn name_of(&mut self, schema: &ValueSchema, scope: &str, glob: &str) -> String {
        if let Some(name) = self.by_place.get(&schema.shown) {
            return name.clone();
        }
        let stem = if schema.inline {
            if glob.contains(char::is_alphanumeric) { glob.to_owned() } else { scope.to_owned() }
        } else {
            let file = schema.shown.rsplit('/').next().unwrap_or(&schema.shown);
            file.split('.').next().unwrap_or(file).to_owned()
        };
        let base = pascal(&stem);
        let mut name = base.clone();
        let mut n = 2;
        while self.written.iter().any(|(taken, _, _)| *taken == name)
            || ["JsonValue", "Read", "Rules"].contains(&name.as_str())
        {
            name = format!("{base}{n}");
            n += 1;
        }
        let doc = format!("The schema `{}`.", schema.shown.replace("*/", "*\\/"));
        self.written.push((name.clone(), doc, schema_ts::type_of(schema)));
        self.by_place.insert(schema.shown.clone(), name.clone());
        name
    }
}

/// The TypeScript module for `configs`: each environment's desired state (one, `None`, when
/// the config has no environments). `config_name` is named in the header.
pub fn generate(config_name: &str, configs: &[(Option<String>, Desired)]) -> String {
    let mut scopes: BTreeMap<String, Scope> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut aliases = Aliases::default();
    for (_, desired) in configs {
        for scope in &desired.scopes {
            if !scopes.contains_key(&scope.name) {
                order.push(scope.name.clone());
            }
            let out = scopes.entry(scope.name.clone()).or_default();
            if out.prefix.is_empty() {
                out.prefix.clone_from(&scope.prefix);
            }
            for binding in scope.schemas.bindings() {
                let name = aliases.name_of(&binding.schema, &scope.name, &binding.glob);
                let read = match binding.schema.reads {
                    Reads::Text => Read::Text,
                    Reads::Json => Read::Json,
                };
                match out.globs.iter_mut().find(|(glob, _)| *glob == binding.glob) {
                    Some((_, typed)) => typed.add(name, read),
                    None => {
                        let mut typed = Typed::default();
                        typed.add(name, read);
                        out.globs.push((binding.glob.clone(), typed));
                    }
                }
            }
            for (key, entry) in &scope.entries {
                if scope.schemas.for_key(key).next().is_some() {
                    continue;
                }
                let (ts, read) = value_type(entry);
                out.keys.entry(key.clone()).or_default().add(ts, read);
            }
        }
    }
    let environments: Vec<&str> = configs.iter().filter_map(|(env, _)| env.as_deref()).collect();
    let mut out = header(config_name, &environments);
    for (name, doc, ts) in &aliases.written {
        let _ = writeln!(out, "/** {doc} */\nexport type {name} = {ts};\n");
    }
    let mut taken: BTreeSet<String> =
        aliases.written.iter().map(|(name, _, _)| name.clone()).collect();
    taken.extend(["JsonValue", "Read", "Rules"].map(str::to_owned));
    for name in &order {
        if let Some(scope) = scopes.get(name) {
            write_scope(&mut out, name, scope, &mut taken);
        }
    }
    out.push_str(RUNTIME);
    out
}

fn header(config_name: &str, environments: &[&str]) -> String {
    let mut out = format!(
        "// Generated by `kvsync types` from {config_name}. Do not edit: run `kvsync types --out \
         <this file>`\n// again after changing the config (`kvsync types --check` fails when \
         this file is stale).\n"
    );
    if !environments.is_empty() {
        let _ = writeln!(
            out,
            "// Environments: {}. A key's type is the union over them.",
            environments.join(", ")
        );
    }
    out.push_str(
        "// Needs the `KVNamespace` type of @cloudflare/workers-types (or `wrangler types`).\n\n\
         /** Any JSON value. */\nexport type JsonValue =\n  | string\n  | number\n  | boolean\n  \
         | null\n  | JsonValue[]\n  | { [key: string]: JsonValue };\n\n",
    );
    out
}

/// A scope's interface, its read rules and its accessor.
fn write_scope(out: &mut String, name: &str, scope: &Scope, taken: &mut BTreeSet<String>) {
    let type_name = unique(&mut *taken, format!("{}Keys", pascal(name)));
    let accessor = unique(&mut *taken, camel(name));
    let rules_name = unique(&mut *taken, format!("{}_READS", constant(name)));

    // Keys typed one by one, or per group in a large scope.
    let listed: Vec<(String, Typed)> = if scope.keys.len() > KEYS_LISTED_MAX {
        groups(&scope.prefix, &scope.keys)
    } else {
        scope.keys.iter().map(|(key, typed)| (key.clone(), typed.clone())).collect()
    };
    let grouped = scope.keys.len() > KEYS_LISTED_MAX;

    // Schema globs: a glob without wildcards types its key as a property, any other one a
    // template-literal index signature (globs with the same template share it: a key must
    // satisfy every schema). A template is broader than its glob (`${string}` crosses `/`), so
    // it also admits the types of the listed keys it covers, as TypeScript requires.
    let mut members: BTreeMap<String, (Vec<String>, Read)> = BTreeMap::new();
    let mut signatures: Vec<(String, Vec<String>, Read)> = Vec::new();
    let mut rules: Vec<(String, Read)> = Vec::new();
    for (glob, typed) in &scope.globs {
        for template in templates(glob) {
            let mut typed = typed.clone();
            let literal = literal_key(&template);
            if literal.is_none() && !grouped {
                for (key, key_typed) in &listed {
                    if template_matches(&template, key) {
                        typed.merge(key_typed);
                    }
                }
            }
            let (ts, read) = typed.settle();
            match literal {
                Some(key) => {
                    let slot = members.entry(key).or_insert_with(|| (Vec::new(), read));
                    slot.0.push(ts);
                }
                None => {
                    let signature = format!("[key: `{}`]", template_text(&template));
                    match signatures.iter_mut().find(|(existing, _, _)| *existing == signature) {
                        Some((_, types, _)) => types.push(ts),
                        None => signatures.push((signature, vec![ts], read)),
                    }
                }
            }
        }
        let read = typed.settle().1;
        rules.push((format!("/{}/", glob_regex(glob)), read));
    }
    let mut exact = Vec::new();
    for (key, typed) in &listed {
        let (ts, read) = typed.settle();
        if grouped {
            let pattern = format!("/^{}/", regex_escape(key));
            signatures.push((
                format!("[key: `{}${{string}}`]", template_literal(key)),
                vec![ts],
                read,
            ));
            rules.push((pattern, read));
        } else {
            if read != Read::Json {
                let quoted = serde_json::to_string(key).unwrap_or_default();
                exact.push(format!("  [{quoted}, \"{}\"],", read.name()));
            }
            members.entry(key.clone()).or_insert_with(|| (Vec::new(), read)).0.push(ts);
        }
    }
    let intersection = |types: &[String]| -> String {
        let mut distinct: Vec<&String> = Vec::new();
        for ts in types {
            if !distinct.contains(&ts) {
                distinct.push(ts);
            }
        }
        distinct.iter().map(|ts| schema_ts::parenthesized(ts)).collect::<Vec<_>>().join(" & ")
    };
    let shown_prefix = if scope.prefix.is_empty() {
        "the whole namespace".to_owned()
    } else {
        format!("prefix `{}`", scope.prefix.replace("*/", "*\\/"))
    };
    let _ = writeln!(out, "/** The keys of scope `{name}` ({shown_prefix}) and their values. */");
    let _ = writeln!(out, "export interface {type_name} {{");
    for (key, (types, _)) in &members {
        let quoted = serde_json::to_string(key).unwrap_or_default();
        let _ = writeln!(out, "  {quoted}: {};", intersection(types));
    }
    for (signature, types, _) in &signatures {
        let _ = writeln!(out, "  {signature}: {};", intersection(types));
    }
    out.push_str("}\n\n");
    let _ = writeln!(out, "const {rules_name}: Rules = {{");
    out.push_str("  exact: new Map<string, Read>([\n");
    for line in &exact {
        let _ = writeln!(out, "  {line}");
    }
    out.push_str("  ]),\n  patterns: [\n");
    for (pattern, read) in &rules {
        let _ = writeln!(out, "    [{pattern}, \"{}\"],", read.name());
    }
    out.push_str("  ],\n};\n\n");
    let _ = writeln!(
        out,
        "/** Typed reads of scope `{name}`: `await {accessor}.get(env.KV, key)` is the value, or \
         `null` when the key is absent. */\nexport const {accessor} = {{\n  get<K extends keyof \
         {type_name} & string>(kv: KVNamespace, key: K): Promise<{type_name}[K] | null> {{\n    \
         return read(kv, key, readOf({rules_name}, key)) as Promise<{type_name}[K] | null>;\n  \
         }},\n}};\n"
    );
}

/// The accessors' shared part: how a key is read.
const RUNTIME: &str = r#"type Read = "text" | "json" | "arrayBuffer";

interface Rules {
  readonly exact: ReadonlyMap<string, Read>;
  readonly patterns: readonly (readonly [RegExp, Read])[];
}

function readOf(rules: Rules, key: string): Read {
  const exact = rules.exact.get(key);
  if (exact !== undefined) return exact;
  for (const [pattern, how] of rules.patterns) {
    if (pattern.test(key)) return how;
  }
  return "json";
}

function read(kv: KVNamespace, key: string, how: Read): Promise<unknown> {
  switch (how) {
    case "text":
      return kv.get(key, "text");
    case "arrayBuffer":
      return kv.get(key, "arrayBuffer");
    case "json":
      return kv.get(key, "json");
  }
}
"#;

/// A key's type and read from its value as written.
fn value_type(entry: &DesiredEntry) -> (String, Read) {
    if !entry.is_text {
        return ("ArrayBuffer".to_owned(), Read::Binary);
    }
    if !entry.json {
        return ("string".to_owned(), Read::Text);
    }
    let parsed = match &entry.value {
        ValueSource::Inline(bytes) => serde_json::from_slice::<Value>(bytes).ok(),
        ValueSource::File(_) => None,
    };
    parsed.map_or_else(|| ("JsonValue".to_owned(), Read::Json), |value| (widen(&value), Read::Json))
}

/// The type of a JSON value, widened: literals become their primitive type.
pub(crate) fn widen(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "boolean".to_owned(),
        Value::Number(_) => "number".to_owned(),
        Value::String(_) => "string".to_owned(),
        Value::Array(items) if items.is_empty() => "JsonValue[]".to_owned(),
        Value::Array(items) => {
            let item = schema_ts::union(items.iter().map(widen).collect());
            format!("{}[]", schema_ts::parenthesized(&item))
        }
        Value::Object(object) => {
            let members: Vec<String> = object
                .iter()
                .map(|(name, value)| {
                    format!("{}: {}", serde_json::to_string(name).unwrap_or_default(), widen(value))
                })
                .collect();
            if members.is_empty() {
                "{ [key: string]: JsonValue }".to_owned()
            } else {
                format!("{{ {} }}", members.join("; "))
            }
        }
    }
}

/// The keys of a large scope in groups: by their first segment after the prefix
/// (`flags/a/…` → `flags/a/`), or all in one group when a key has no further segment or the
/// groups would be too many. Each group's type is the union of its keys' (`JsonValue` when
/// they are too varied).
fn groups(prefix: &str, keys: &BTreeMap<String, Typed>) -> Vec<(String, Typed)> {
    let head = |key: &str| -> Option<String> {
        let rest = key.strip_prefix(prefix)?;
        let (segment, _) = rest.split_once('/')?;
        Some(format!("{prefix}{segment}/"))
    };
    let mut groups: BTreeMap<String, Typed> = BTreeMap::new();
    let split = keys.keys().all(|key| head(key).is_some());
    for (key, typed) in keys {
        let group = if split { head(key).unwrap_or_default() } else { prefix.to_owned() };
        groups.entry(group).or_default().merge(typed);
    }
    if groups.len() > KEYS_LISTED_MAX {
        let mut all = Typed::default();
        for typed in groups.values() {
            all.merge(typed);
        }
        groups = BTreeMap::from([(prefix.to_owned(), all)]);
    }
    groups
        .into_iter()
        .map(|(group, mut typed)| {
            if typed.types.len() > GROUP_TYPES_MAX {
                typed.types = vec!["JsonValue".to_owned()];
            }
            (group, typed)
        })
        .collect()
}

/// A glob's templates: one per alternative of its `{a,b}` groups (expanded, at most
/// [`ALTERNATIVES_MAX`]; beyond, a group is a wildcard).
fn templates(glob: &str) -> Vec<Vec<Option<String>>> {
    let mut expanded = vec![String::new()];
    let mut rest = glob;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|at| open + at) else { break };
        let escaped = rest[..open].ends_with('\\');
        let (before, group, after) = (&rest[..open], &rest[open + 1..close], &rest[close + 1..]);
        let alternatives: Vec<&str> = group.split(',').collect();
        if escaped || expanded.len() * alternatives.len() > ALTERNATIVES_MAX {
            for text in &mut expanded {
                text.push_str(&rest[..=close]);
            }
        } else {
            expanded = expanded
                .iter()
                .flat_map(|text| alternatives.iter().map(move |alt| format!("{text}{before}{alt}")))
                .collect();
        }
        rest = after;
    }
    for text in &mut expanded {
        text.push_str(rest);
    }
    expanded.iter().map(|text| template(text)).collect()
}

/// Alternatives a glob's `{a,b}` groups expand to, at most.
const ALTERNATIVES_MAX: usize = 64;

/// The key a template names when it has no wildcard.
fn literal_key(parts: &[Option<String>]) -> Option<String> {
    match parts {
        [] => Some(String::new()),
        [Some(text)] => Some(text.clone()),
        _ => None,
    }
}

/// A glob as template-literal parts: `Some(literal)` or `None` for a wildcard run.
fn template(glob: &str) -> Vec<Option<String>> {
    let mut parts: Vec<Option<String>> = Vec::new();
    let mut chars = glob.chars().peekable();
    let wildcard = |parts: &mut Vec<Option<String>>| {
        if parts.last() != Some(&None) {
            parts.push(None);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => wildcard(&mut parts),
            '[' => {
                for next in chars.by_ref() {
                    if next == ']' {
                        break;
                    }
                }
                wildcard(&mut parts);
            }
            '{' => {
                for next in chars.by_ref() {
                    if next == '}' {
                        break;
                    }
                }
                wildcard(&mut parts);
            }
            '\\' => {
                let literal = chars.next().unwrap_or('\\');
                push_literal(&mut parts, literal);
            }
            _ => push_literal(&mut parts, c),
        }
    }
    parts
}

fn push_literal(parts: &mut Vec<Option<String>>, c: char) {
    match parts.last_mut() {
        Some(Some(text)) => text.push(c),
        _ => parts.push(Some(c.to_string())),
    }
}

fn template_text(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .map(|part| part.as_deref().map_or_else(|| "${string}".to_owned(), template_literal))
        .collect()
}

/// Text inside a template literal type: `` ` ``, `\` and `${` escaped.
fn template_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('`', "\\`").replace("${", "\\${")
}

/// Whether `key` fits a template (wildcards match anything, `/` included, as `${string}` does).
fn template_matches(parts: &[Option<String>], key: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else { return key.is_empty() };
    match first {
        Some(literal) => {
            key.strip_prefix(literal.as_str()).is_some_and(|k| template_matches(rest, k))
        }
        None => (0..=key.len())
            .filter(|at| key.is_char_boundary(*at))
            .any(|at| template_matches(rest, &key[at..])),
    }
}

/// A glob as a JavaScript regular expression source, anchored, with kvsync's glob rules: `*`
/// and `?` stay within one `/` segment, `**` crosses them.
fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    out.push_str("(?:.*\\/)?");
                    i += 3;
                } else {
                    out.push_str(".*");
                    i += 2;
                }
                continue;
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let mut class = String::from("[");
                let mut j = i + 1;
                if chars.get(j) == Some(&'!') {
                    class.push('^');
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    if matches!(chars[j], '\\' | '/' | '^' | '[') {
                        class.push('\\');
                    }
                    class.push(chars[j]);
                    j += 1;
                }
                class.push(']');
                out.push_str(&class);
                i = j + 1;
                continue;
            }
            '{' => {
                let end = chars[i..].iter().position(|c| *c == '}').map_or(chars.len(), |p| i + p);
                let inner: String = chars[i + 1..end].iter().collect();
                let alternatives: Vec<String> = inner.split(',').map(glob_regex_body).collect();
                out.push_str(&format!("(?:{})", alternatives.join("|")));
                i = end + 1;
                continue;
            }
            '\\' => {
                if let Some(next) = chars.get(i + 1) {
                    out.push_str(&regex_escape(&next.to_string()));
                }
                i += 2;
                continue;
            }
            _ => out.push_str(&regex_escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    out
}

/// [`glob_regex`] without the anchors, for an alternative of `{a,b}`.
fn glob_regex_body(glob: &str) -> String {
    let full = glob_regex(glob);
    full.trim_start_matches('^').trim_end_matches('$').to_owned()
}

/// Text matched literally in a JavaScript regular expression literal (`/` escaped too).
fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `feature-flags` → `FeatureFlags`; a name that would start with a digit gets `_`.
fn pascal(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn camel(text: &str) -> String {
    let pascal = pascal(text);
    let mut chars = pascal.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase()).unwrap_or('_');
    let name: String = std::iter::once(first).chain(chars).collect();
    if RESERVED.contains(&name.as_str()) { format!("{name}Keys") } else { name }
}

fn constant(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal(text).chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Names the module declares itself.
const RESERVED: &[&str] = &["read", "readOf", "default", "delete", "new", "function", "class"];

fn unique(taken: &mut BTreeSet<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) || RESERVED.contains(&candidate.as_str()) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_anchored_regular_expressions_with_kvsync_s_rules() {
        assert_eq!(glob_regex("flags/*"), "^flags\\/[^/]*$");
        assert_eq!(glob_regex("flags/**"), "^flags\\/.*$");
        assert_eq!(glob_regex("a/**/b.json"), "^a\\/(?:.*\\/)?b\\.json$");
        assert_eq!(glob_regex("f/{a,b*}"), "^f\\/(?:a|b[^/]*)$");
        assert_eq!(glob_regex("f/[!x]?"), "^f\\/[^x][^/]$");
        assert_eq!(glob_regex("f/\\*"), "^f\\/\\*$");
    }

    #[test]
    fn globs_become_templates_and_alternatives_expand() {
        let texts = |glob: &str| -> Vec<String> {
            templates(glob).iter().map(|t| template_text(t)).collect()
        };
        assert_eq!(texts("flags/**"), ["flags/${string}"]);
        assert_eq!(texts("a/*/b?c"), ["a/${string}/b${string}c"]);
        assert_eq!(texts("f/{a,b}"), ["f/a", "f/b"]);
        assert_eq!(literal_key(&templates("f/{a,b}")[1]), Some("f/b".to_owned()));
        assert_eq!(literal_key(&template("f/*")), None);
        assert_eq!(texts("f/`{x}"), ["f/\\`x"], "braces are alternatives, as in globset");
        assert_eq!(template_literal("a`${b}\\"), "a\\`\\${b}\\\\");
        let template = template("a/*/c");
        assert!(template_matches(&template, "a/b/c"));
        assert!(template_matches(&template, "a/b/d/c"), "a wildcard crosses `/` in a template");
        assert!(!template_matches(&template, "a/b/d"));
    }

    #[test]
    fn values_widen_to_their_json_types() {
        let widened = |text: &str| widen(&serde_json::from_str(text).expect("json"));
        assert_eq!(
            widened(r#"{"a": 1, "b": [true, "x"], "c": null}"#),
            r#"{ "a": number; "b": (boolean | string)[]; "c": null }"#
        );
        assert_eq!(widened("[]"), "JsonValue[]");
        assert_eq!(widened("{}"), "{ [key: string]: JsonValue }");
        assert_eq!(schema_ts::union(vec!["A".into(), "B | C".into(), "A".into()]), "A | (B | C)");
        assert_eq!(schema_ts::parenthesized(r#""a|b""#), r#""a|b""#);
    }

    #[test]
    fn a_key_read_two_ways_across_environments_is_text() {
        let mut typed = Typed::default();
        typed.add("number".into(), Read::Json);
        assert_eq!(typed.settle(), ("number".to_owned(), Read::Json));
        typed.add("string".into(), Read::Text);
        assert_eq!(typed.settle(), ("string".to_owned(), Read::Text));
        typed.add("ArrayBuffer".into(), Read::Binary);
        assert_eq!(typed.settle(), ("ArrayBuffer".to_owned(), Read::Binary));
    }

    #[test]
    fn names_are_identifiers() {
        assert_eq!(pascal("feature-flags"), "FeatureFlags");
        assert_eq!(pascal("2fa"), "_2fa");
        assert_eq!(camel("app config"), "appConfig");
        assert_eq!(camel("read"), "readKeys");
        assert_eq!(constant("appConfig"), "APP_CONFIG");
    }
}
