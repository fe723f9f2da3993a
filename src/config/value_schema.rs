//! `schemas:` (typed values): JSON Schemas that desired values must satisfy.
//!
//! A scope (or an included file, for the keys it defines) maps key globs to schemas: a file
//! (JSON or YAML, relative to the YAML file that names it, confined to the root config's folder
//! like `file:`) or a schema written inline. Each schema is compiled once per load with the
//! `jsonschema` crate (JSON Schema 2020-12 unless `$schema` names another draft, `format`
//! asserted); its `$ref`s may reach other local files and nothing else: no network at validate
//! time.
//!
//! **What is checked is what a Worker reads.** KV stores a YAML string as its raw text and any
//! other value as JSON text, so `"42"` and `42` both store `42`. A schema that admits only
//! strings is checked against the stored text; any other against the stored bytes parsed as
//! JSON (stored text that is not JSON breaks it). A schema that admits both strings and other
//! types cannot say which, and is refused ([`Reads`]). The same rule builds live instances for
//! `drift --deep` and picks how `kvsync types`' accessors read a key.
//!
//! A violation never shows any part of a sensitive value: the validator's messages quote the
//! instance (values, property names) and its pointers name the value's object keys, so for a
//! sensitive key a violation says only which keyword failed and where it is in the schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::desired::Globs;
use super::model::{YamlKind, YamlValue};

/// How a key's stored bytes become the instance its schema checks (and how a Worker reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The schema admits only strings: the stored text is the instance (`kv.get(key, "text")`).
    Text,
    /// The schema admits no strings: the stored bytes parsed as JSON (`kv.get(key, "json")`).
    Json,
}

/// One compiled schema.
#[derive(Debug)]
pub struct ValueSchema {
    /// Where it is written, for messages: a path relative to the root config's folder, or the
    /// `file:line:column` of an inline schema.
    pub shown: String,
    /// The schema as written (JSON).
    pub document: Value,
    /// The absolute URI the document's own `$ref`s resolve against.
    pub uri: String,
    /// Every other document its `$ref`s reached, by absolute URI (without fragment).
    pub referenced: BTreeMap<String, Value>,
    /// The parts of `document` with a URI of their own (an `$id`, or `uri#anchor` for an
    /// `$anchor`): the JSON pointer of each.
    ids: BTreeMap<String, String>,
    pub reads: Reads,
    /// Written inline in a YAML file (`shown` is its place), not in a file of its own.
    pub inline: bool,
    /// The root config's folder, canonical: other files are named relative to it.
    root: PathBuf,
    validator: jsonschema::Validator,
}

/// One way a value breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The JSON pointer of the failing part of the instance (`""` is the whole value).
    pub instance_path: String,
    /// What was expected; never the value of a sensitive key.
    pub message: String,
    /// Where in the schema: `schemas/flag.schema.json#/properties/rollout/maximum`.
    pub schema_location: String,
}

impl Violation {
    /// `at /rollout: 150 is greater than the maximum of 100 (schemas/flag.schema.json#/…)`.
    pub fn describe(&self) -> String {
        if self.instance_path.is_empty() {
            return format!("{} (schema `{}`)", self.message, self.schema_location);
        }
        format!("at `{}`: {} (schema `{}`)", self.instance_path, self.message, self.schema_location)
    }
}

impl ValueSchema {
    /// The violations of one stored value (empty: it satisfies the schema).
    pub fn check(&self, bytes: &[u8], sensitive: bool) -> Vec<Violation> {
        let instance = match self.instance(bytes, sensitive) {
            Ok(instance) => instance,
            Err(message) => {
                return vec![Violation {
                    instance_path: String::new(),
                    message,
                    schema_location: format!("{}#", self.shown),
                }];
            }
        };
        if self.validator.is_valid(&instance) {
            return Vec::new();
        }
        self.validator
            .iter_errors(&instance)
            .map(|error| {
                let schema_location = self.location(&error);
                if sensitive {
                    // Neither the pointer (it names the value's own object keys) nor the
                    // validator's message (it quotes values and property names) is shown.
                    let path = error.schema_path().to_string();
                    let keyword = path.rsplit('/').next().unwrap_or_default();
                    return Violation {
                        instance_path: String::new(),
                        message: format!("a part of the value breaks `{keyword}`"),
                        schema_location,
                    };
                }
                Violation {
                    instance_path: error.instance_path().to_string(),
                    message: error.to_string(),
                    schema_location,
                }
            })
            .collect()
    }

    /// The instance a Worker would read from these bytes, by [`Reads`].
    fn instance(&self, bytes: &[u8], sensitive: bool) -> Result<Value, String> {
        match self.reads {
            Reads::Text => match std::str::from_utf8(bytes) {
                Ok(text) => Ok(Value::String(text.to_owned())),
                Err(_) => {
                    Err("the value is not UTF-8 text, and the schema admits only strings"
                        .to_owned())
                }
            },
            Reads::Json => serde_json::from_slice(bytes).map_err(|_| {
                let shown = if sensitive || bytes.len() > 60 {
                    "the stored text".to_owned()
                } else {
                    format!("the stored text `{}`", String::from_utf8_lossy(bytes))
                };
                format!(
                    "{shown} is not JSON, and the schema admits no strings (a YAML string is \
                     stored as its raw text)"
                )
            }),
        }
    }

    /// `file#/pointer` of the keyword that failed, relative to the root config's folder.
    fn location(&self, error: &jsonschema::ValidationError<'_>) -> String {
        let pointer = error.schema_path().to_string();
        let Some(absolute) = error.absolute_keyword_location() else {
            return format!("{}#{pointer}", self.shown);
        };
        let absolute = absolute.as_str();
        let (document, fragment) = absolute.split_once('#').unwrap_or((absolute, ""));
        if document == self.uri {
            return format!("{}#{fragment}", self.shown);
        }
        match uri_path(document) {
            Some(path) => {
                let shown = path.strip_prefix(&self.root).unwrap_or(&path);
                format!("{}#{fragment}", shown.display())
            }
            None => absolute.to_owned(),
        }
    }

    /// The schema a `$ref` written in the document at `base` points to, and that document's URI.
    ///
    /// `$id`s inside the document (a bundled or vendored schema) give their part its own URI,
    /// and `$anchor`s (or an old draft's `$id: "#name"`) name a part: both are followed.
    pub fn resolve(&self, base: &str, reference: &str) -> Option<(String, &Value)> {
        let base_uri = jsonschema::uri::from_str(base).ok()?;
        let target = jsonschema::uri::resolve_against(&base_uri.borrow(), reference).ok()?;
        let target = target.as_str();
        let (document_uri, fragment) = target.split_once('#').unwrap_or((target, ""));
        let document = if let Some(pointer) = self.ids.get(document_uri) {
            self.document.pointer(pointer)?
        } else if document_uri == self.uri {
            &self.document
        } else {
            self.referenced.get(document_uri)?
        };
        let fragment = percent_encoding::percent_decode_str(fragment).decode_utf8().ok()?;
        let found = if fragment.is_empty() {
            document
        } else if fragment.starts_with('/') {
            document.pointer(&fragment)?
        } else {
            let pointer = self.ids.get(&format!("{document_uri}#{fragment}"))?;
            self.document.pointer(pointer)?
        };
        Some((document_uri.to_owned(), found))
    }
}

/// The schemas of one scope: which apply to which keys.
#[derive(Debug, Clone, Default)]
pub struct ValueSchemas {
    bindings: Vec<Binding>,
}

/// One `glob: schema` entry.
#[derive(Debug, Clone)]
pub struct Binding {
    pub glob: String,
    matcher: Globs,
    pub schema: Arc<ValueSchema>,
    /// For an entry an included file wrote: the keys that file defined that the glob matches,
    /// sorted. `None`: every key of the scope.
    only: Option<Vec<String>>,
}

impl Binding {
    /// Whether it applies to every key its glob matches (not only an included file's keys).
    pub fn is_scope_wide(&self) -> bool {
        self.only.is_none()
    }

    pub fn applies_to(&self, key: &str) -> bool {
        self.matcher.is_match(key)
            && self
                .only
                .as_ref()
                .is_none_or(|keys| keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok())
    }
}

impl ValueSchemas {
    pub fn is_empty(&self) -> bool {
        self.bindings.is_empty()
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The schemas `key` must satisfy (every glob that matches it).
    pub fn for_key<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Binding> + 'a {
        self.bindings.iter().filter(move |binding| binding.applies_to(key))
    }

    /// Every violation of `bytes` stored under `key`, schema by schema.
    pub fn check(&self, key: &str, bytes: &[u8], sensitive: bool) -> Vec<Violation> {
        self.for_key(key).flat_map(|binding| binding.schema.check(bytes, sensitive)).collect()
    }
}

impl ValueSchemas {
    pub(crate) fn from_bindings(bindings: Vec<Binding>) -> Self {
        Self { bindings }
    }
}

impl Binding {
    /// `only`: for an entry an included file wrote, the keys of that file the glob matched.
    pub(crate) fn new(
        glob: String,
        matcher: Globs,
        schema: Arc<ValueSchema>,
        only: Option<Vec<String>>,
    ) -> Self {
        Self { glob, matcher, schema, only }
    }
}

/// Compiles schemas for one load, each file once.
pub(crate) struct Compiler {
    root_canonical: PathBuf,
    by_path: BTreeMap<PathBuf, Arc<ValueSchema>>,
}

/// A problem with a schema: its message and hint.
pub(crate) type Finding = (String, Option<String>);

impl Compiler {
    pub(crate) fn new(root_canonical: &Path) -> Self {
        Self { root_canonical: root_canonical.to_path_buf(), by_path: BTreeMap::new() }
    }

    /// The schema in the file at `canonical` (already confined), compiled once per load.
    pub(crate) fn file(
        &mut self,
        canonical: &Path,
        shown: &str,
    ) -> Result<Arc<ValueSchema>, Finding> {
        if let Some(schema) = self.by_path.get(canonical) {
            return Ok(Arc::clone(schema));
        }
        let document = read_document(canonical)
            .map_err(|detail| (format!("schema file `{shown}` cannot be read: {detail}"), None))?;
        let shown_root = canonical.strip_prefix(&self.root_canonical).unwrap_or(canonical);
        let shown = shown_root.display().to_string();
        let schema = Arc::new(self.compile(document, file_uri(canonical), shown, false)?);
        self.by_path.insert(canonical.to_path_buf(), Arc::clone(&schema));
        Ok(schema)
    }

    /// A schema written inline in the YAML file at `yaml_canonical`, shown as `place`.
    pub(crate) fn inline(
        &self,
        value: &YamlValue,
        yaml_canonical: &Path,
        place: String,
    ) -> Result<Arc<ValueSchema>, Finding> {
        let document = yaml_json(value).map_err(|detail| (format!("the schema {detail}"), None))?;
        self.compile(document, file_uri(yaml_canonical), place, true).map(Arc::new)
    }

    /// Compiles `document`, shown as `shown` (a file, or an inline schema's place).
    fn compile(
        &self,
        document: Value,
        uri: String,
        shown: String,
        inline: bool,
    ) -> Result<ValueSchema, Finding> {
        // An inline schema is "this schema": every message already points at it.
        let label = if inline { "this schema".to_owned() } else { format!("schema `{shown}`") };
        let label = label.as_str();
        let retriever = Confined {
            root: self.root_canonical.clone(),
            seen: Arc::new(Mutex::new(BTreeMap::new())),
            failed: Arc::new(Mutex::new(None)),
        };
        let seen = Arc::clone(&retriever.seen);
        let failed = Arc::clone(&retriever.failed);
        let validator = jsonschema::options()
            .with_base_uri(uri.clone())
            .should_validate_formats(true)
            .with_retriever(retriever)
            .build(&document)
            .map_err(|error| {
                let retrieval = failed.lock().ok().and_then(|mut failed| failed.take());
                build_problem(label, &error, retrieval, &self.root_canonical)
            })?;
        let referenced = seen.lock().map(|seen| seen.clone()).unwrap_or_default();
        let mut ids = BTreeMap::new();
        index_ids(&document, &uri, "", &mut ids);
        let mut schema = ValueSchema {
            shown,
            document,
            uri,
            referenced,
            ids,
            reads: Reads::Json,
            inline,
            root: self.root_canonical.clone(),
            validator,
        };
        schema.reads = match admits(&schema, &schema.uri, &schema.document, 0) {
            STRINGS => Reads::Text,
            OTHERS | NOTHING => Reads::Json,
            _ => {
                return Err((
                    format!(
                        "{label} admits both strings and other types, so kvsync cannot tell \
                         whether to check a value's stored text or its JSON"
                    ),
                    Some(
                        "KV stores a YAML string as its raw text and any other value as JSON: \
                         add `type: string` for text values, or the non-string types the \
                         Worker parses (e.g. `type: object`)"
                            .to_owned(),
                    ),
                ));
            }
        };
        Ok(schema)
    }
}

/// Why a schema did not compile: a `$ref` that cannot be followed, or the schema itself.
fn build_problem(
    label: &str,
    error: &jsonschema::ValidationError<'_>,
    retrieval: Option<Retrieval>,
    root: &Path,
) -> Finding {
    if let jsonschema::error::ValidationErrorKind::Referencing(reference) = error.kind() {
        if let Some(Retrieval::Network(uri)) = &retrieval {
            return (
                format!(
                    "{label} refers to `{uri}`: kvsync does not fetch schemas over the network"
                ),
                Some(
                    "copy that schema into the repository and `$ref` it by a relative path (a \
                     `$ref` to a part of the same document, by its `$id`, needs nothing fetched)"
                        .to_owned(),
                ),
            );
        }
        let detail = match retrieval {
            Some(Retrieval::Local(detail)) => detail,
            _ => without_machine_paths(&reference.to_string(), root),
        };
        return (
            format!("{label} has a `$ref` kvsync cannot follow: {detail}"),
            Some(
                "`$ref`s may name other schema files inside the config folder (relative to the \
                 schema that refers to them), or parts of a schema (`#/$defs/name`)"
                    .to_owned(),
            ),
        );
    }
    let at = error.instance_path().to_string();
    let at = if at.is_empty() { String::new() } else { format!(" at `{at}`") };
    (
        format!("{label} is not a valid JSON Schema{at}: {}", error.masked()),
        Some(
            "see https://json-schema.org/understanding-json-schema for what a schema holds"
                .to_owned(),
        ),
    )
}

/// Which instances a schema admits, as far as its `type`, `const`, `enum`, `allOf`, `anyOf`,
/// `oneOf` and `$ref` say: [`STRINGS`], [`OTHERS`], both, or [`NOTHING`].
type Admits = u8;
const NOTHING: Admits = 0;
const STRINGS: Admits = 1;
const OTHERS: Admits = 2;
const BOTH: Admits = STRINGS | OTHERS;

/// How deep `$ref`s are followed before a schema is taken to admit anything.
const REF_DEPTH_MAX: usize = 32;

fn admits(schema: &ValueSchema, base: &str, node: &Value, depth: usize) -> Admits {
    let object = match node {
        Value::Bool(true) => return BOTH,
        Value::Bool(false) => return NOTHING,
        Value::Object(object) => object,
        _ => return BOTH,
    };
    // An `$id` is the base its part's `$ref`s resolve against.
    let own_base;
    let base = match object.get("$id").and_then(Value::as_str) {
        Some(id) if !id.starts_with('#') => {
            own_base = jsonschema::uri::from_str(base)
                .ok()
                .and_then(|b| jsonschema::uri::resolve_against(&b.borrow(), id).ok())
                .map_or_else(|| base.to_owned(), |uri| uri.as_str().to_owned());
            own_base.as_str()
        }
        _ => base,
    };
    let mut set = BOTH;
    if let Some(types) = object.get("type") {
        set &= match types {
            Value::String(name) => type_admits(name),
            Value::Array(names) => {
                names.iter().filter_map(Value::as_str).fold(NOTHING, |a, n| a | type_admits(n))
            }
            _ => BOTH,
        };
    }
    if let Some(value) = object.get("const") {
        set &= kind_of(value);
    }
    if let Some(Value::Array(values)) = object.get("enum") {
        set &= values.iter().fold(NOTHING, |a, v| a | kind_of(v));
    }
    if let Some(Value::Array(all)) = object.get("allOf") {
        for sub in all {
            set &= admits(schema, base, sub, depth);
        }
    }
    for keyword in ["anyOf", "oneOf"] {
        if let Some(Value::Array(any)) = object.get(keyword) {
            set &= any.iter().fold(NOTHING, |a, sub| a | admits(schema, base, sub, depth));
        }
    }
    if let Some(Value::String(reference)) = object.get("$ref")
        && depth < REF_DEPTH_MAX
        && let Some((target_base, target)) = schema.resolve(base, reference)
    {
        set &= admits(schema, &target_base, target, depth + 1);
    }
    // `not`: a kind every instance of which the inner schema admits is refused.
    if let Some(inner) = object.get("not") {
        set &= BOTH & !admits_every(inner);
    }
    // `if`/`then`/`else`: an instance passes `if` and `then`, or fails `if` and passes `else`.
    if let Some(condition) = object.get("if") {
        let then = object.get("then").map_or(BOTH, |s| admits(schema, base, s, depth));
        let otherwise = object.get("else").map_or(BOTH, |s| admits(schema, base, s, depth));
        let passing = admits(schema, base, condition, depth);
        let failing = BOTH & !admits_every(condition);
        set &= (passing & then) | (failing & otherwise);
    }
    set
}

/// The kinds a schema admits every instance of, as far as it is sure: `true`, a schema with no
/// assertion (`{}`, annotations only), or one that asserts only `type`.
fn admits_every(node: &Value) -> Admits {
    const ANNOTATIONS: &[&str] =
        &["title", "description", "$comment", "examples", "default", "deprecated", "$id"];
    match node {
        Value::Bool(true) => BOTH,
        Value::Object(object) => {
            let mut every = BOTH;
            for (name, value) in object {
                match name.as_str() {
                    "type" => {
                        every &= match value {
                            Value::String(name) => type_admits_every(&[name.as_str()]),
                            Value::Array(names) => type_admits_every(
                                &names.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
                            ),
                            _ => NOTHING,
                        };
                    }
                    name if ANNOTATIONS.contains(&name) => {}
                    _ => return NOTHING,
                }
            }
            every
        }
        _ => NOTHING,
    }
}

/// The kinds `type: names` admits every instance of: `string` all strings; the other kinds only
/// when all of `null`, `boolean`, `number`, `array` and `object` are named.
fn type_admits_every(names: &[&str]) -> Admits {
    let strings = if names.contains(&"string") { STRINGS } else { NOTHING };
    let others = ["null", "boolean", "number", "array", "object"];
    let others = if others.iter().all(|kind| names.contains(kind)) { OTHERS } else { NOTHING };
    strings | others
}

fn type_admits(name: &str) -> Admits {
    if name == "string" { STRINGS } else { OTHERS }
}

fn kind_of(value: &Value) -> Admits {
    if value.is_string() { STRINGS } else { OTHERS }
}

/// Records the URI of each part of `node` that has one: an `$id` (resolved against the base it
/// is written in, which it then becomes for the part), an `$anchor` (`base#name`), or an old
/// draft's `$id: "#name"`; a `$dynamicAnchor` is also a plain anchor for `$ref`. `pointer` is
/// `node`'s JSON pointer in the document.
fn index_ids(node: &Value, base: &str, pointer: &str, ids: &mut BTreeMap<String, String>) {
    let resolve = |base: &str, reference: &str| -> Option<String> {
        let base = jsonschema::uri::from_str(base).ok()?;
        let uri = jsonschema::uri::resolve_against(&base.borrow(), reference).ok()?;
        Some(uri.as_str().to_owned())
    };
    match node {
        Value::Object(object) => {
            let mut base = base.to_owned();
            if let Some(Value::String(id)) = object.get("$id")
                && let Some(uri) = resolve(&base, id)
            {
                match uri.split_once('#') {
                    // `$id: "#name"` (drafts 6 and 7): a name, not a new base.
                    Some((document, name)) if id.starts_with('#') => {
                        ids.entry(format!("{document}#{name}"))
                            .or_insert_with(|| pointer.to_owned());
                    }
                    _ => {
                        let document = uri.split('#').next().unwrap_or(&uri).to_owned();
                        ids.entry(document.clone()).or_insert_with(|| pointer.to_owned());
                        base = document;
                    }
                }
            }
            for keyword in ["$anchor", "$dynamicAnchor"] {
                if let Some(Value::String(anchor)) = object.get(keyword) {
                    let document = base.split('#').next().unwrap_or(&base);
                    ids.entry(format!("{document}#{anchor}")).or_insert_with(|| pointer.to_owned());
                }
            }
            for (name, value) in object {
                // `const`, `enum` and `examples` hold instances, not schemas.
                if matches!(name.as_str(), "const" | "enum" | "examples" | "default") {
                    continue;
                }
                let escaped = name.replace('~', "~0").replace('/', "~1");
                index_ids(value, &base, &format!("{pointer}/{escaped}"), ids);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                index_ids(item, base, &format!("{pointer}/{index}"), ids);
            }
        }
        _ => {}
    }
}

/// Why a `$ref` could not be retrieved.
enum Retrieval {
    /// It leaves the document for a network address.
    Network(String),
    /// A local file that cannot be read or is outside the folder: the message, with paths
    /// relative to the config folder (the validator's own message names the absolute URI).
    Local(String),
}

/// Reads `$ref`s to local files inside the root config's folder, and nothing else.
struct Confined {
    root: PathBuf,
    seen: Arc<Mutex<BTreeMap<String, Value>>>,
    /// Why the last retrieval failed.
    failed: Arc<Mutex<Option<Retrieval>>>,
}

impl Confined {
    fn fail(&self, message: String) -> Box<dyn std::error::Error + Send + Sync> {
        if let Ok(mut failed) = self.failed.lock() {
            *failed = Some(Retrieval::Local(message.clone()));
        }
        message.into()
    }

    fn shown(&self, path: &Path) -> String {
        relative(&self.root, path)
    }
}

/// `path` relative to the folder `root` (`..` where it leaves it): never a full machine path.
fn relative(root: &Path, path: &Path) -> String {
    let mut common = 0;
    let root_parts: Vec<_> = root.components().collect();
    let path_parts: Vec<_> = path.components().collect();
    while common < root_parts.len()
        && common < path_parts.len()
        && root_parts[common] == path_parts[common]
    {
        common += 1;
    }
    let mut out = PathBuf::new();
    for _ in common..root_parts.len() {
        out.push("..");
    }
    for part in &path_parts[common..] {
        out.push(part);
    }
    out.display().to_string()
}

/// A validator's message with the config folder's `file:` URIs and paths made relative.
fn without_machine_paths(message: &str, root: &Path) -> String {
    let uri = format!("{}/", file_uri(root));
    let path = format!("{}/", root.display());
    message.replace(&uri, "").replace(&path, "")
}

impl jsonschema::Retrieve for Confined {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let Some(path) = uri_path(text) else {
            if let Ok(mut failed) = self.failed.lock() {
                *failed = Some(Retrieval::Network(text.to_owned()));
            }
            return Err(format!(
                "`{text}` is not a local file: kvsync does not fetch schemas over the network"
            )
            .into());
        };
        // Lexically first: a `$ref` that leaves the folder is refused before it is looked for.
        let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
        let outside = || {
            format!(
                "`{}` is outside the config folder: `$ref`s must stay inside it, as `file:` \
                 paths do",
                relative(&root, &path)
            )
        };
        if !path.starts_with(&root) {
            return Err(self.fail(outside()));
        }
        let canonical = std::fs::canonicalize(&path)
            .map_err(|error| self.fail(format!("`{}`: {}", self.shown(&path), io_words(&error))))?;
        if !canonical.starts_with(&root) {
            return Err(self.fail(outside()));
        }
        let document = read_document(&canonical)
            .map_err(|error| self.fail(format!("`{}`: {error}", self.shown(&path))))?;
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(text.split('#').next().unwrap_or(text).to_owned(), document.clone());
        }
        Ok(document)
    }
}

/// An I/O error in words, without the path (messages name paths relative to the folder).
fn io_words(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        _ => error.to_string(),
    }
}

/// A schema file's JSON: `.json` files as JSON, anything else as YAML (which reads JSON too).
fn read_document(path: &Path) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|error| error.to_string())?;
    if path.extension().is_some_and(|e| e == "json") {
        return serde_json::from_slice(&bytes).map_err(|error| format!("not JSON: {error}"));
    }
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
    let tree: YamlValue = super::yaml::parse(text)
        .map_err(|error| format!("line {}: {}", error.pos.line, error.message))?;
    yaml_json(&tree)
}

/// A YAML tree as JSON; an error for what JSON cannot hold.
fn yaml_json(value: &YamlValue) -> Result<Value, String> {
    Ok(match &value.value {
        YamlKind::Null => Value::Null,
        YamlKind::Bool(b) => Value::Bool(*b),
        YamlKind::Int(i) => Value::from(*i),
        YamlKind::UInt(u) => Value::from(*u),
        YamlKind::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("holds `{f}` at line {}, which JSON cannot", value.pos.line))?,
        YamlKind::BigInt(digits) => {
            return Err(format!("holds `{digits}` at line {}, too large a number", value.pos.line));
        }
        YamlKind::Str(text) => Value::String(text.clone()),
        YamlKind::Seq(items) => {
            Value::Array(items.iter().map(yaml_json).collect::<Result<_, _>>()?)
        }
        YamlKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(name, value)| Ok((name.value.clone(), yaml_json(value)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Characters a `file:` URI path keeps as they are.
const PATH_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn file_uri(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = text.replace('\\', "/");
    let slash = if text.starts_with('/') { "" } else { "/" };
    format!("file://{slash}{}", percent_encoding::utf8_percent_encode(&text, PATH_KEEP))
}

/// The path of a `file:` URI; `None` for any other scheme.
fn uri_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let decoded = percent_encoding::percent_decode_str(rest).decode_utf8().ok()?;
    Some(PathBuf::from(decoded.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #23: the JSON Schema Test Suite's draft 2020-12 cases whose `$ref`s resolve inside
    /// the document through `$id`s, anchors and URNs (bundled schemas) compile without the
    /// network, give the suite's verdict for every instance, and kvsync's own reading of the
    /// schema finds every `$ref`'s target.
    #[test]
    fn same_document_refs_of_the_json_schema_test_suite() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/json-schema-suite/same-document-refs.json"
        );
        let groups: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
        assert_eq!(groups.len(), 32);
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("root");
        let mut checked = 0;
        for (index, group) in groups.iter().enumerate() {
            let description = group["description"].as_str().unwrap_or_default();
            for test in group["tests"].as_array().expect("tests") {
                let data = &test["data"];
                // kvsync needs to know whether a schema reads text or JSON: a root `type` of the
                // instance's own kind says so without changing the verdict.
                let mut schema = group["schema"].clone();
                if let Value::Object(object) = &mut schema
                    && !object.contains_key("type")
                {
                    let kind = if data.is_string() {
                        serde_json::json!("string")
                    } else {
                        serde_json::json!(["null", "boolean", "number", "array", "object"])
                    };
                    object.insert("type".to_owned(), kind);
                }
                let file = root.join(format!("s{index}-{checked}.json"));
                std::fs::write(&file, schema.to_string()).expect("write");
                let mut compiler = Compiler::new(&root);
                let compiled = compiler
                    .file(&file, "s.json")
                    .unwrap_or_else(|problem| panic!("{description}: {problem:?}"));
                let bytes = match data {
                    Value::String(text) if compiled.reads == Reads::Text => text.clone(),
                    other => other.to_string(),
                };
                let valid = compiled.check(bytes.as_bytes(), false).is_empty();
                assert_eq!(
                    valid,
                    test["valid"].as_bool().expect("valid"),
                    "{description}: {}",
                    test["description"]
                );
                every_ref_resolves(&compiled, &compiled.uri, &compiled.document, description);
                checked += 1;
            }
        }
        assert_eq!(checked, 65);
    }

    /// Each `$ref` of `node` (a part of `schema` whose base is `base`) has a target.
    fn every_ref_resolves(schema: &ValueSchema, base: &str, node: &Value, description: &str) {
        match node {
            Value::Object(object) => {
                let mut base = base.to_owned();
                if let Some(Value::String(id)) = object.get("$id")
                    && !id.starts_with('#')
                {
                    let from = jsonschema::uri::from_str(&base).expect("base");
                    let uri = jsonschema::uri::resolve_against(&from.borrow(), id).expect("id");
                    base = uri.as_str().split('#').next().unwrap_or_default().to_owned();
                }
                if let Some(Value::String(reference)) = object.get("$ref") {
                    assert!(
                        schema.resolve(&base, reference).is_some(),
                        "{description}: `{reference}` from {base}"
                    );
                }
                for (name, value) in object {
                    if !matches!(name.as_str(), "const" | "enum" | "examples" | "default") {
                        every_ref_resolves(schema, &base, value, description);
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    every_ref_resolves(schema, base, item, description);
                }
            }
            _ => {}
        }
    }
}
