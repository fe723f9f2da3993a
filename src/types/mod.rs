//! `kvsync types`: a TypeScript module for the Workers that read the keys a config declares.
//!
//! Per scope:
//! - an interface lists **every desired key** as a literal property with the type of its value
//!   (from the schemas that match it, intersected; else from its value as written, widened:
//!   `string`, `number`, `boolean`, object shapes and arrays of those; a binary file
//!   `ArrayBuffer`), so `get` takes only listed keys and a misspelt key does not compile;
//! - an interface of its scope-wide schema globs, glob → type, for keys computed at run time:
//!   `getMatching(env, glob, key)` names the glob it means, and checks at run time that the key
//!   matches it with the same expression kvsync's own matcher runs ([`escape::regex`]). Its
//!   one signature is indexed by the glob's literal name, so no two signatures can overlap and
//!   no type is intersected with another glob's: a key's value satisfies every schema that
//!   matches it, so the named glob's type alone is sound;
//! - accessors a Worker developer knows: `get(env, key, {cacheTtl})`, `getMany(env, keys)` (a
//!   typed `Map` over KV's bulk `get`, split at its 100 keys a call) and `getWithMetadata`
//!   (typed by the keys' `metadata:`). A `binding:` scope takes the Worker's `env` and reads its
//!   binding itself (`env: { FLAGS: KVNamespace }`, structurally); a `namespace_id:` scope takes
//!   the `KVNamespace`.
//!
//! A scope of more than [`KEYS_LISTED_MAX`] keys is written in a compact form instead: keys are
//! typed per group (their first segment below the prefix), so only a key's group prefix is
//! checked, and `types` warns ([`Module::warnings`]).
//!
//! How a key is read follows what KV stores: a YAML string is its raw text (`"text"`), any
//! other value JSON text (`"json"`), a file its bytes (`"text"`, or `"arrayBuffer"` when they
//! are not UTF-8); a schema of strings reads text, any other schema JSON. A config with
//! environments is typed once for all of them: each key's type is the union over the
//! environments (one Worker build serves them all), and a key read differently in two of them
//! is typed as what both reads give (`string`).
//!
//! Every string of the config reaches the module through one escaper per context ([`escape`]).
//! The output depends only on the config: the same config gives the same bytes, so
//! `kvsync types --check` can tell a stale file in CI.

mod escape;
mod schema_ts;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::config::{Desired, DesiredEntry, DesiredScope, Globs, Reads, ValueSource};

/// Keys listed one by one per scope, at most; beyond, the scope is written in compact form.
pub const KEYS_LISTED_MAX: usize = 10_000;

/// Distinct types one group of keys lists before it is typed `JsonValue`.
const GROUP_TYPES_MAX: usize = 12;

/// The generated module and what `types` should warn about.
#[derive(Debug)]
pub struct Module {
    pub text: String,
    pub warnings: Vec<String>,
}

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

    fn of(reads: Reads) -> Self {
        match reads {
            Reads::Text => Self::Text,
            Reads::Json => Self::Json,
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
    /// The binding every environment reads the scope by; `None` when one has none (or they
    /// differ): the accessors then take a `KVNamespace`.
    binding: Option<String>,
    /// Every desired key, by name.
    keys: BTreeMap<String, Typed>,
    /// The `metadata:` types of the keys that have one in some environment.
    metadata: BTreeMap<String, Vec<String>>,
    /// Scope-wide schema globs in the order first met, with their schemas' documentation.
    globs: Vec<(String, Typed, Vec<String>)>,
}

/// Names the module declares for itself, besides [`escape::GLOBALS`].
const OWN_NAMES: &[&str] =
    &["KvsyncMarker", "KvsyncMetadataOf", "KvsyncRead", "KvsyncRules", "KVSYNC_BULK_MAX"];

/// The TypeScript module for `configs`: each environment's desired state (one, `None`, when
/// the config has no environments). `config_name` is named in the header.
pub fn generate(config_name: &str, configs: &[(Option<String>, Desired)]) -> Module {
    let mut taken: BTreeSet<String> =
        escape::GLOBALS.iter().chain(OWN_NAMES).map(|name| (*name).to_owned()).collect();
    let mut scopes: BTreeMap<String, Scope> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut seen_in: BTreeMap<String, usize> = BTreeMap::new();
    let mut aliases_out = String::new();
    {
        let mut aliases = schema_ts::Aliases::new(&mut taken);
        for (_, desired) in configs {
            for scope in &desired.scopes {
                if !scopes.contains_key(&scope.name) {
                    order.push(scope.name.clone());
                }
                let environments = seen_in.entry(scope.name.clone()).or_default();
                let out = scopes.entry(scope.name.clone()).or_default();
                if *environments == 0 {
                    out.prefix.clone_from(&scope.prefix);
                    out.binding.clone_from(&scope.binding);
                } else if out.binding != scope.binding {
                    out.binding = None;
                }
                *environments += 1;
                gather(out, scope, &mut aliases);
            }
        }
        aliases.write(&mut aliases_out);
    }
    let environments: Vec<&str> = configs.iter().filter_map(|(env, _)| env.as_deref()).collect();
    let mut text = header(config_name, &environments);
    text.push_str(&aliases_out);
    let mut warnings = Vec::new();
    for name in &order {
        if let Some(scope) = scopes.get(name) {
            if scope.keys.len() > KEYS_LISTED_MAX {
                warnings.push(format!(
                    "namespace `{name}` has {} keys, more than the {KEYS_LISTED_MAX} `kvsync types` \
                     lists: its keys are typed per group (their first segment below the prefix), \
                     so only a key's group prefix is checked",
                    scope.keys.len()
                ));
            }
            write_scope(&mut text, name, scope, &mut taken);
        }
    }
    text.push_str(RUNTIME);
    Module { text, warnings }
}

/// One environment's scope into the gathered one.
fn gather<'d>(out: &mut Scope, scope: &'d DesiredScope, aliases: &mut schema_ts::Aliases<'_, 'd>) {
    let bindings = scope.schemas.bindings();
    // Each schema's alias, in binding order.
    let names: Vec<String> = bindings
        .iter()
        .map(|binding| {
            let schema = &*binding.schema;
            let stem = if !schema.inline {
                let file = schema.shown.rsplit('/').next().unwrap_or(&schema.shown);
                file.split('.').next().unwrap_or(file).to_owned()
            } else if binding.glob.contains(char::is_alphanumeric) {
                binding.glob.clone()
            } else {
                scope.name.clone()
            };
            let doc = format!(
                "The schema `{}` (glob `{}` of namespace `{}`).",
                escape::comment(&schema.shown),
                escape::comment(&binding.glob),
                escape::comment(&scope.name)
            );
            aliases.schema(schema, &stem, doc)
        })
        .collect();
    // Scope-wide globs: a glob written twice (in this environment) must satisfy both.
    let mut globs: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, binding) in bindings.iter().enumerate() {
        if !binding.is_scope_wide() {
            continue;
        }
        match globs.iter_mut().find(|(glob, _)| *glob == binding.glob) {
            Some((_, indices)) => indices.push(index),
            None => globs.push((binding.glob.clone(), vec![index])),
        }
    }
    for (glob, indices) in globs {
        let (ts, read) = schemas_type(&names, bindings, &indices);
        let docs: Vec<String> = indices.iter().map(|i| bindings[*i].schema.shown.clone()).collect();
        match out.globs.iter_mut().find(|(existing, _, _)| *existing == glob) {
            Some((_, typed, shown)) => {
                typed.add(ts, read);
                for doc in docs {
                    if !shown.contains(&doc) {
                        shown.push(doc);
                    }
                }
            }
            None => {
                let mut typed = Typed::default();
                typed.add(ts, read);
                out.globs.push((glob, typed, docs));
            }
        }
    }
    let mut matching = Vec::new();
    for (key, entry) in &scope.entries {
        matching.clear();
        matching
            .extend(bindings.iter().enumerate().filter(|(_, b)| b.applies_to(key)).map(|(i, _)| i));
        let (ts, read) = if matching.is_empty() {
            value_type(entry)
        } else {
            schemas_type(&names, bindings, &matching)
        };
        out.keys.entry(key.clone()).or_default().add(ts, read);
        if let Some(metadata) = &entry.metadata {
            let ts = widen(&Value::Object(metadata.to_map()));
            let types = out.metadata.entry(key.clone()).or_default();
            if !types.contains(&ts) {
                types.push(ts);
            }
        }
    }
}

/// The type and read of a value every schema of `indices` checks: their aliases intersected,
/// read as they all read it (else as text, what both reads can promise).
fn schemas_type(
    names: &[String],
    bindings: &[crate::config::value_schema::Binding],
    indices: &[usize],
) -> (String, Read) {
    let mut distinct: Vec<&str> = Vec::new();
    let mut reads = BTreeSet::new();
    for &index in indices {
        if !distinct.contains(&names[index].as_str()) {
            distinct.push(&names[index]);
        }
        reads.insert(Read::of(bindings[index].schema.reads));
    }
    if reads.len() > 1 {
        return ("string".to_owned(), Read::Text);
    }
    let read = reads.into_iter().next().unwrap_or(Read::Json);
    (distinct.join(" & "), read)
}

fn header(config_name: &str, environments: &[&str]) -> String {
    let mut out = format!(
        "// Generated by `kvsync types` from {}. Do not edit: run `kvsync types --out \
         <this file>`\n// again after changing the config (`kvsync types --check` fails when \
         this file is stale).\n",
        escape::comment(config_name)
    );
    if !environments.is_empty() {
        let names: Vec<String> =
            environments.iter().map(|name| format!("`{}`", escape::comment(name))).collect();
        let _ = writeln!(
            out,
            "// Environments: {}. A key's type is the union over them.",
            names.join(", ")
        );
    }
    out.push_str(
        "// Needs the `KVNamespace` type of @cloudflare/workers-types (or `wrangler types`).\n\n\
         /** Any JSON value. */\nexport type JsonValue =\n  | string\n  | number\n  | boolean\n  \
         | null\n  | JsonValue[]\n  | { [key: string]: JsonValue };\n\n\
         /** How a read may be cached at the edge: `cacheTtl` in seconds (KV's minimum is 30). */\n\
         export interface ReadOptions {\n  readonly cacheTtl?: number;\n}\n\n\
         /** A value and its metadata, as `getWithMetadata` reads them (`null`: absent). */\n\
         export interface WithMetadata<V, M> {\n  readonly value: V | null;\n  \
         readonly metadata: M | null;\n}\n\n\
         /** The field kvsync writes into the metadata of each key it writes. */\n\
         export interface KvsyncMarker {\n  readonly __kvsync?: JsonValue;\n}\n\n\
         /** A key's metadata: its `metadata:` in the config, and kvsync's marker. */\n\
         export type KvsyncMetadataOf<M, K> = (K extends keyof M ? M[K] : {}) & KvsyncMarker;\n\n",
    );
    out
}

/// A scope's interfaces, its read rules and its accessors.
fn write_scope(out: &mut String, name: &str, scope: &Scope, taken: &mut BTreeSet<String>) {
    let names = ScopeNames {
        keys_type: unique(taken, escape::type_name(&format!("{name} keys"))),
        metadata_type: unique(taken, escape::type_name(&format!("{name} metadata"))),
        globs_type: unique(taken, escape::type_name(&format!("{name} globs"))),
        env_type: unique(taken, escape::type_name(&format!("{name} env"))),
        accessor: unique(taken, escape::value_name(name)),
        rules_name: unique(taken, escape::constant_name(&format!("{name} rules"))),
        shown_name: escape::comment(name),
    };
    let compact = scope.keys.len() > KEYS_LISTED_MAX;
    let mut rules = write_keys(out, &names, scope, compact);
    write_metadata(out, &names, scope, compact);
    rules.globs = write_globs(out, &names, scope);
    let (env_doc, kv) = write_env(out, &names, scope);
    write_rules(out, &names, &rules);
    write_accessor(out, &names, &env_doc, &kv);
}

/// The names [`write_scope`] gives one scope's types, accessor and rules (each unique in the
/// file), and the scope's name as a comment may show it.
struct ScopeNames {
    keys_type: String,
    metadata_type: String,
    globs_type: String,
    env_type: String,
    accessor: String,
    rules_name: String,
    shown_name: String,
}

/// How the keys of one scope are read, as TypeScript literals for its `KvsyncRules`.
#[derive(Default)]
struct ScopeRules {
    text: Vec<String>,
    binary: Vec<String>,
    groups: Vec<String>,
    globs: Vec<String>,
}

/// The keys interface: each key (or, `compact`, each key group) and its value's type.
fn write_keys(out: &mut String, names: &ScopeNames, scope: &Scope, compact: bool) -> ScopeRules {
    let ScopeNames { shown_name, keys_type, .. } = names;
    let listed: Vec<(String, Typed)> = if compact {
        groups(&scope.prefix, &scope.keys)
    } else {
        scope.keys.iter().map(|(key, typed)| (key.clone(), typed.clone())).collect()
    };
    let shown_prefix = if scope.prefix.is_empty() {
        "the whole namespace".to_owned()
    } else {
        format!("prefix `{}`", escape::comment(&scope.prefix))
    };
    let mut rules = ScopeRules::default();
    if compact {
        let _ = writeln!(
            out,
            "/** The keys of namespace `{shown_name}` ({shown_prefix}), by group: with more than \
             {KEYS_LISTED_MAX} keys, only a key's group prefix is checked. */"
        );
    } else {
        let _ = writeln!(
            out,
            "/** The keys of namespace `{shown_name}` ({shown_prefix}) and their values. */"
        );
    }
    let _ = writeln!(out, "export interface {keys_type} {{");
    for (key, typed) in &listed {
        let (ts, read) = typed.settle();
        if compact {
            let _ = writeln!(out, "  [key: `{}${{string}}`]: {ts};", escape::template(key));
            rules.groups.push(format!("[{}, \"{}\"]", escape::string(key), read.name()));
        } else {
            let _ = writeln!(out, "  {}: {ts};", escape::string(key));
            match read {
                Read::Text => rules.text.push(escape::string(key)),
                Read::Binary => rules.binary.push(escape::string(key)),
                Read::Json => {}
            }
        }
    }
    out.push_str("}\n\n");
    rules
}

/// The metadata interface: each key's `metadata:` type (none listed when `compact`).
fn write_metadata(out: &mut String, names: &ScopeNames, scope: &Scope, compact: bool) {
    let ScopeNames { shown_name, metadata_type, .. } = names;
    let _ = writeln!(
        out,
        "/** The `metadata:` of the keys of namespace `{shown_name}` that have one. */\nexport \
         interface {metadata_type} {{"
    );
    if !compact {
        for (key, types) in &scope.metadata {
            let _ =
                writeln!(out, "  {}: {};", escape::string(key), schema_ts::union(types.clone()));
        }
    }
    out.push_str("}\n\n");
}

/// The globs interface: each schema glob's value type; returns the globs' rules.
fn write_globs(out: &mut String, names: &ScopeNames, scope: &Scope) -> Vec<String> {
    let ScopeNames { shown_name, globs_type, .. } = names;
    let mut rules = Vec::new();
    let _ = writeln!(
        out,
        "/** The schema globs of namespace `{shown_name}`, for keys computed at run time \
         (`getMatching`). */\nexport interface {globs_type} {{"
    );
    for (glob, typed, shown) in &scope.globs {
        let Ok(source) = Globs::regex_of(glob) else { continue };
        let (ts, read) = typed.settle();
        let schemas: Vec<String> =
            shown.iter().map(|s| format!("`{}`", escape::comment(s))).collect();
        let _ = writeln!(
            out,
            "  /** Keys matching `{}` (schema {}). */\n  {}: {ts};",
            escape::comment(glob),
            schemas.join(", "),
            escape::string(glob)
        );
        rules.push(format!(
            "[{}, [{}, \"{}\"]]",
            escape::string(glob),
            escape::regex(&source),
            read.name()
        ));
    }
    out.push_str("}\n\n");
    rules
}

/// The type the namespace is read from; returns how the accessor's doc names it and the
/// TypeScript expression of the `KVNamespace`.
fn write_env(out: &mut String, names: &ScopeNames, scope: &Scope) -> (String, String) {
    let ScopeNames { shown_name, env_type, .. } = names;
    match &scope.binding {
        Some(binding) => {
            let _ = writeln!(
                out,
                "/** What namespace `{shown_name}` is read from: the Worker's `env`, by its \
                 binding `{}`. */\nexport type {env_type} = {{ readonly {}: KVNamespace }};\n",
                escape::comment(binding),
                escape::string(binding)
            );
            (
                format!("`env` (binding `{}`)", escape::comment(binding)),
                format!("env[{}]", escape::string(binding)),
            )
        }
        None => {
            let _ = writeln!(
                out,
                "/** What namespace `{shown_name}` is read from: its `KVNamespace`. */\nexport \
                 type {env_type} = KVNamespace;\n"
            );
            ("the namespace".to_owned(), "env".to_owned())
        }
    }
}

/// The scope's `KvsyncRules` constant: which keys are text, binary, by group or by glob.
fn write_rules(out: &mut String, names: &ScopeNames, rules: &ScopeRules) {
    let rules_name = &names.rules_name;
    let list = |items: &[String]| -> String {
        if items.is_empty() {
            String::new()
        } else {
            format!(
                "\n{}\n  ",
                items.iter().map(|i| format!("    {i},")).collect::<Vec<_>>().join("\n")
            )
        }
    };
    let _ = writeln!(
        out,
        "const {rules_name}: KvsyncRules = {{\n  text: new Set<string>([{}]),\n  binary: new \
         Set<string>([{}]),\n  groups: [{}],\n  globs: new Map<string, readonly [RegExp, \
         KvsyncRead]>([{}]),\n}};\n",
        list(&rules.text),
        list(&rules.binary),
        list(&rules.groups),
        list(&rules.globs),
    );
}

/// The scope's typed accessor: `get`, `getMany`, `getWithMetadata` and `getMatching`.
fn write_accessor(out: &mut String, names: &ScopeNames, env_doc: &str, kv: &str) {
    let ScopeNames {
        shown_name,
        keys_type,
        metadata_type,
        globs_type,
        env_type,
        accessor,
        rules_name,
    } = names;
    let key = format!("K extends keyof {keys_type} & string");
    let _ = writeln!(
        out,
        "/** Typed reads of namespace `{shown_name}` from {env_doc}. */\nexport const {accessor} \
         = {{\n  \
         /** The value of `key`, or `null` when it is absent. */\n  \
         get<{key}>(env: {env_type}, key: K, options?: ReadOptions): Promise<{keys_type}[K] | \
         null> {{\n    return kvsyncGet({kv}, key, kvsyncReadOf({rules_name}, key), options) as \
         Promise<{keys_type}[K] | null>;\n  }},\n  \
         /** The values of `keys` in one bulk read per 100 keys (`null`: absent). */\n  \
         getMany<{key}>(env: {env_type}, keys: readonly K[], options?: ReadOptions): \
         Promise<Map<K, {keys_type}[K] | null>> {{\n    return kvsyncGetMany({kv}, keys, \
         {rules_name}, options) as Promise<Map<K, {keys_type}[K] | null>>;\n  }},\n  \
         /** The value of `key` and its metadata. */\n  \
         getWithMetadata<{key}>(env: {env_type}, key: K, options?: ReadOptions): \
         Promise<WithMetadata<{keys_type}[K], KvsyncMetadataOf<{metadata_type}, K>>> {{\n    \
         return kvsyncGetWithMetadata({kv}, key, kvsyncReadOf({rules_name}, key), options) as \
         Promise<WithMetadata<{keys_type}[K], KvsyncMetadataOf<{metadata_type}, K>>>;\n  }},\n  \
         /** The value of a key computed at run time, typed by the schema glob it matches \
         (`glob`); a key that does not match it throws a `TypeError`. */\n  \
         getMatching<G extends keyof {globs_type} & string>(env: {env_type}, glob: G, key: \
         string, options?: ReadOptions): Promise<{globs_type}[G] | null> {{\n    return \
         kvsyncGet({kv}, key, kvsyncMatching({rules_name}, glob, key), options) as \
         Promise<{globs_type}[G] | null>;\n  }},\n}};\n"
    );
}

/// The accessors' shared part: how a key is read.
const RUNTIME: &str = r#"type KvsyncRead = "text" | "json" | "arrayBuffer";

interface KvsyncRules {
  readonly text: ReadonlySet<string>;
  readonly binary: ReadonlySet<string>;
  readonly groups: readonly (readonly [string, KvsyncRead])[];
  readonly globs: ReadonlyMap<string, readonly [RegExp, KvsyncRead]>;
}

/** KV's bulk `get` reads at most 100 keys a call. */
const KVSYNC_BULK_MAX = 100;

function kvsyncReadOf(rules: KvsyncRules, key: string): KvsyncRead {
  if (rules.text.has(key)) return "text";
  if (rules.binary.has(key)) return "arrayBuffer";
  for (const [prefix, how] of rules.groups) {
    if (key.startsWith(prefix)) return how;
  }
  return "json";
}

/** A key as the string of its UTF-8 bytes, which the glob expressions match (as kvsync does). */
function kvsyncBytes(key: string): string {
  let bytes = "";
  for (const byte of new TextEncoder().encode(key)) bytes += String.fromCharCode(byte);
  return bytes;
}

function kvsyncMatching(rules: KvsyncRules, glob: string, key: string): KvsyncRead {
  const rule = rules.globs.get(glob);
  if (rule === undefined || !rule[0].test(kvsyncBytes(key))) {
    throw new TypeError(`key ${JSON.stringify(key)} does not match glob ${JSON.stringify(glob)}`);
  }
  return rule[1];
}

function kvsyncOptions<T>(type: T, options?: ReadOptions): KVNamespaceGetOptions<T> {
  return options?.cacheTtl === undefined ? { type } : { type, cacheTtl: options.cacheTtl };
}

function kvsyncGet(
  kv: KVNamespace,
  key: string,
  how: KvsyncRead,
  options?: ReadOptions,
): Promise<unknown> {
  switch (how) {
    case "text":
      return kv.get(key, kvsyncOptions("text" as const, options));
    case "json":
      return kv.get(key, kvsyncOptions("json" as const, options));
    case "arrayBuffer":
      return kv.get(key, kvsyncOptions("arrayBuffer" as const, options));
  }
}

async function kvsyncGetWithMetadata(
  kv: KVNamespace,
  key: string,
  how: KvsyncRead,
  options?: ReadOptions,
): Promise<WithMetadata<unknown, unknown>> {
  const read =
    how === "text"
      ? kv.getWithMetadata(key, kvsyncOptions("text" as const, options))
      : how === "json"
        ? kv.getWithMetadata(key, kvsyncOptions("json" as const, options))
        : kv.getWithMetadata(key, kvsyncOptions("arrayBuffer" as const, options));
  const { value, metadata } = await read;
  return { value, metadata };
}

async function kvsyncGetMany(
  kv: KVNamespace,
  keys: readonly string[],
  rules: KvsyncRules,
  options?: ReadOptions,
): Promise<Map<string, unknown>> {
  const text: string[] = [];
  const json: string[] = [];
  const binary: string[] = [];
  for (const key of new Set(keys)) {
    const how = kvsyncReadOf(rules, key);
    (how === "text" ? text : how === "json" ? json : binary).push(key);
  }
  const found = new Map<string, unknown>();
  const reads: Promise<void>[] = [];
  const keep = (values: Map<string, unknown>): void => {
    for (const [key, value] of values) found.set(key, value);
  };
  for (let at = 0; at < text.length; at += KVSYNC_BULK_MAX) {
    const chunk = text.slice(at, at + KVSYNC_BULK_MAX);
    reads.push(kv.get(chunk, kvsyncOptions("text" as const, options)).then(keep));
  }
  for (let at = 0; at < json.length; at += KVSYNC_BULK_MAX) {
    const chunk = json.slice(at, at + KVSYNC_BULK_MAX);
    reads.push(kv.get(chunk, kvsyncOptions("json" as const, options)).then(keep));
  }
  for (const key of binary) {
    const read = kv.get(key, kvsyncOptions("arrayBuffer" as const, options));
    reads.push(read.then((value) => void found.set(key, value)));
  }
  await Promise.all(reads);
  return new Map(keys.map((key) => [key, found.get(key) ?? null]));
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
                .map(|(name, value)| format!("{}: {}", escape::string(name), widen(value)))
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
/// groups would be too many. No group's prefix starts another's, so their template signatures
/// never overlap. Each group's type is the union of its keys' (`JsonValue` when they are too
/// varied).
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

/// `name`, or `name2`, `name3`, … when it is taken; taken from then on.
fn unique(taken: &mut BTreeSet<String>, name: String) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_widen_to_their_json_types() {
        let widened = |text: &str| widen(&serde_json::from_str(text).expect("json"));
        assert_eq!(
            widened(r#"{"a": 1, "b": [true, "x"], "c": null}"#),
            r#"{ "a": number; "b": (boolean | string)[]; "c": null }"#
        );
        assert_eq!(widened("[]"), "JsonValue[]");
        assert_eq!(widened("{}"), "{ [key: string]: JsonValue }");
        assert_eq!(widened(r#"{"*/\u2028": 1}"#), r#"{ "*/\u{2028}": number }"#);
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
    fn groups_never_start_one_another() {
        let mut keys = BTreeMap::new();
        for key in ["p/a/1", "p/ab/2", "p/a/b/3", "p/b/4"] {
            keys.insert(key.to_owned(), Typed::default());
        }
        let names: Vec<String> = groups("p/", &keys).into_iter().map(|(g, _)| g).collect();
        assert_eq!(names, ["p/a/", "p/ab/", "p/b/"]);
        for a in &names {
            for b in &names {
                assert!(a == b || !a.starts_with(b.as_str()), "{a} {b}");
            }
        }
        keys.insert("p/top".to_owned(), Typed::default());
        assert_eq!(groups("p/", &keys).len(), 1, "a key without a segment: one group");
    }
}
