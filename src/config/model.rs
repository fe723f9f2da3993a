//! The shape of `kvsync.yaml` and of included key files, as serde and schemars see them.
//!
//! These types are what a file *says*, before interpolation, overlays, includes and checks:
//! every scalar a later step may complain about carries its [`Pos`] (through [`Sp`]), fields an
//! environment overlay may leave out are `Option`, and key values stay YAML-shaped
//! ([`YamlValue`]) until `sources` turns them into bytes. Unknown fields are errors everywhere.
//!
//! The doc comments on fields become the descriptions in `schemas/kvsync.schema.json`, which
//! editors show while typing, so they are written for users. How these types are read from YAML
//! (spans, the key-entry enum, alias limits) lives in `yaml`; this module knows no YAML crate.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::problems::Pos;

/// A value and the place in its file where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sp<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Sp<T> {
    pub(crate) fn new(value: T, pos: Pos) -> Self {
        Self { value, pos }
    }
}

// The position is invisible in the schema: `Sp<T>` is written exactly like `T`.
impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A YAML node of a key's value or metadata, with the place of every node (interpolation and
/// metadata checks point at the exact scalar).
pub(crate) type YamlValue = Sp<YamlKind>;

/// What a YAML node holds, following the YAML 1.2 core schema with strict booleans.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum YamlKind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// A plain integer that fits in no 64-bit type, kept as written (it is an error).
    BigInt(String),
    Str(String),
    Seq(Vec<YamlValue>),
    /// Entries in document order (duplicate keys were already refused by the parser).
    Map(Vec<(Sp<String>, YamlValue)>),
}

/// A YAML mapping from names to `T`, in document order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NamedMap<T>(pub Vec<(Sp<String>, Sp<T>)>);

impl<T> Default for NamedMap<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: JsonSchema> JsonSchema for NamedMap<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        BTreeMap::<String, T>::json_schema(generator)
    }
}

/// kvsync's configuration: which Workers KV keys a repository owns, and what they hold.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "kvsync.yaml")]
pub(crate) struct ConfigFile {
    /// The config format version; always `1`.
    #[schemars(extend("const" = 1))]
    pub version: Sp<u32>,
    /// Who owns the keys this config writes: recorded in every key's marker, so two configs
    /// (or two repositories) never delete each other's keys. Lowercase letters, digits, `.`, `_`
    /// and `-`; 1 to 64 characters.
    #[schemars(regex(pattern = r"^[a-z0-9._-]{1,64}$"))]
    pub owner: Sp<String>,
    /// The Cloudflare account id; else `CLOUDFLARE_ACCOUNT_ID` is used.
    #[serde(default)]
    pub account_id: Option<Sp<String>>,
    /// Where the keys live: `cloudflare` (the default) or `local` (an embedded store, for trying
    /// kvsync without an account). `--target` overrides it.
    #[serde(default)]
    pub target: Option<Sp<Target>>,
    /// Where `--target local` keeps its store, relative to this file's folder.
    #[serde(default)]
    pub local_path: Option<Sp<String>>,
    /// Per namespace, apply refuses to delete more than the larger of this and 10 % of our live
    /// keys there (`--max-deletes` overrides it). Default 50.
    #[serde(default)]
    pub max_deletes: Option<Sp<usize>>,
    /// The environment used when `--env` is not given.
    #[serde(default)]
    pub default_environment: Option<Sp<String>>,
    /// The Workers KV plan of the account: `free` warns when a run would pass the Free plan's
    /// daily limits (1,000 writes, 1,000 deletes, 1,000 lists). Default `paid`.
    #[serde(default)]
    pub plan_tier: Option<Sp<PlanTier>>,
    /// The scopes: a name (used in output) for each namespace and prefix this config manages.
    #[serde(default)]
    pub namespaces: NamedMap<NamespaceConfig>,
    /// Overlays picked with `--env NAME`. An overlay deep-merges into the config above:
    /// mappings merge, and a key entry or a list the overlay names replaces the base's.
    #[serde(default)]
    pub environments: NamedMap<EnvironmentOverlay>,
}

/// Where the keys live: the one target type the command line and saved plans use too.
pub(crate) use crate::kv::TargetKind as Target;

/// The Workers KV plan of the account the keys live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PlanTier {
    /// The Free plan: 1,000 writes, 1,000 deletes and 1,000 lists a day.
    Free,
    /// The Paid plan: no daily limits.
    Paid,
}

/// One scope: a KV namespace, or the part of it under a prefix.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamespaceConfig {
    /// The KV namespace id (this, `binding` or `namespace_title`, here or in the environment
    /// overlay). `${VAR}` and `${VAR:-default}` are expanded.
    #[serde(default)]
    #[schemars(extend("pattern" = namespace_id_pattern()))]
    pub namespace_id: Option<Sp<String>>,
    /// Instead of `namespace_id`: the name of a KV binding in the wrangler config
    /// (`kv_namespaces[].binding`), whose `id` is used.
    #[serde(default)]
    pub binding: Option<Sp<String>>,
    /// Instead of `namespace_id`: the namespace's title (exactly, as `wrangler kv namespace
    /// list` shows it), looked up in the account's namespaces once per run; a title no
    /// namespace or several have is an error. For namespaces whose ids nobody wrote down, such
    /// as those wrangler provisions. On `--target local`, the title names a local namespace of
    /// its own. `${VAR}` is expanded.
    #[serde(default)]
    #[schemars(length(min = 1, max = 512))]
    pub namespace_title: Option<Sp<String>>,
    /// With `binding`: the wrangler config (`wrangler.json`, `wrangler.jsonc` or
    /// `wrangler.toml`), relative to this file. Default: the first of those found in this file's
    /// folder or the nearest folder above it, as wrangler looks.
    #[serde(default)]
    pub wrangler: Option<Sp<String>>,
    /// With `binding`: the wrangler environment (`[env.NAME]`) whose `kv_namespaces` to use.
    /// Environments do not inherit the top-level `kv_namespaces`. Default: the top level.
    #[serde(default)]
    pub environment: Option<Sp<String>>,
    /// With `binding`: `true` uses the binding's `preview_id`, `false` its `id`. A binding with
    /// both needs this or `--preview`/`--preview false`, as wrangler asks; a flag that says
    /// otherwise than this is an error.
    #[serde(default)]
    pub preview: Option<Sp<bool>>,
    /// kvsync lists, compares and changes only keys starting with this; every key of `keys:`
    /// must start with it. Default `""`: the whole namespace.
    #[serde(default)]
    pub prefix: Option<Sp<String>>,
    /// Whether keys this config wrote and no longer declares are deleted (`true`, the default)
    /// or kept and reported as orphans.
    #[serde(default)]
    pub prune: Option<Sp<bool>>,
    /// Allow apply to delete every key this config owns in the scope when the scope desires no
    /// keys (default `false`: such a plan is refused, since a config that lost its `keys:` would
    /// wipe the namespace). The flag `--allow-empty` does the same for one run.
    #[serde(default)]
    pub allow_empty: Option<Sp<bool>>,
    /// Whether `apply` saves the live state of the keys it overwrites, deletes or creates here
    /// before its first write (`true`, the default), for `kvsync restore`. `false` spares the
    /// reads that costs; `--no-snapshot` does the same for every scope of one run.
    #[serde(default)]
    pub snapshot: Option<Sp<bool>>,
    /// Globs of keys kvsync never reports or touches (e.g. written by Workers at run time).
    /// `*` stays within one `/` segment, `**` crosses them.
    #[serde(default)]
    pub ignore: Option<Vec<Sp<String>>>,
    /// Globs of keys kvsync never deletes, adopts or takes over.
    #[serde(default)]
    pub protect: Option<Vec<Sp<String>>>,
    /// Globs of keys another owner holds that this config may take over.
    #[serde(default)]
    pub take_over: Option<Vec<Sp<String>>>,
    /// Opt-in, for very large scopes: key prefixes (each starting with `prefix`, none inside
    /// another) listed in parallel instead of one listing of the whole prefix. Keys outside
    /// every shard are outside the scope: never listed, reported or touched, and every desired
    /// key must lie in one. Each shard may cost one more list request (its last, partial page).
    #[serde(default)]
    pub list_shards: Option<Vec<Sp<String>>>,
    /// JSON Schemas for values: a key glob (as in `ignore`) → a schema file (JSON or YAML,
    /// relative to this file, inside the root config's folder) or a schema written inline. A key
    /// several globs match must satisfy every schema. A schema admitting only strings checks the
    /// stored text; any other checks the stored text parsed as JSON. `validate`, `plan` and
    /// `apply` refuse a value that breaks its schema; `drift --deep` reports live ones.
    #[serde(default)]
    pub schemas: Option<NamedMap<SchemaSource>>,
    /// The desired keys. A string is stored as-is; any other scalar or a sequence as compact
    /// JSON; a mapping is always an entry (a JSON object goes under `value:`).
    #[serde(default)]
    pub keys: Option<NamedMap<KeyEntry>>,
    /// Globs of more key files (each a mapping with `keys:` and optional `include:` and
    /// `files:`), relative to this file. A key defined twice is an error.
    #[serde(default)]
    pub include: Option<Vec<Sp<String>>>,
    /// Folder trees of value files: every file a glob matches becomes a key whose value is the
    /// file's bytes, named by a template. A key defined twice (here, in `keys:` or an include) is
    /// an error.
    #[serde(default)]
    pub files: Option<Vec<FilesSource>>,
}

/// An environment overlay: any of these fields replaces or merges into the base config.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvironmentOverlay {
    /// Replaces the base `owner`.
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-z0-9._-]{1,64}$"))]
    pub owner: Option<Sp<String>>,
    /// Replaces the base `account_id`.
    #[serde(default)]
    pub account_id: Option<Sp<String>>,
    /// Replaces the base `target`.
    #[serde(default)]
    pub target: Option<Sp<Target>>,
    /// Replaces the base `local_path`.
    #[serde(default)]
    pub local_path: Option<Sp<String>>,
    /// Replaces the base `max_deletes`.
    #[serde(default)]
    pub max_deletes: Option<Sp<usize>>,
    /// Replaces the base `plan_tier`.
    #[serde(default)]
    pub plan_tier: Option<Sp<PlanTier>>,
    /// Merges into the base namespaces by name; a new name adds a namespace. Setting
    /// `namespace_id` or `binding` replaces how the base finds the namespace.
    #[serde(default)]
    pub namespaces: NamedMap<NamespaceConfig>,
}

/// A file named by `include:`: more keys for the scope that includes it.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IncludeFile {
    #[serde(default)]
    pub keys: NamedMap<KeyEntry>,
    /// JSON Schemas for the values of the keys this file defines: a key glob → a schema file
    /// (relative to this file) or an inline schema.
    #[serde(default)]
    pub schemas: NamedMap<SchemaSource>,
    /// Globs of more key files, relative to this file.
    #[serde(default)]
    pub include: Vec<Sp<String>>,
    /// Folder trees of value files, globs relative to this file.
    #[serde(default)]
    pub files: Vec<FilesSource>,
}

/// A value schema as written: a file path, or the schema itself (a mapping or a boolean).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub(crate) struct SchemaSource(pub YamlKind);

impl JsonSchema for SchemaSource {
    fn schema_name() -> Cow<'static, str> {
        "SchemaSource".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A JSON Schema file (JSON or YAML, relative to the YAML file that names it), or a JSON Schema written inline.",
            "anyOf": [
                {"type": "string"},
                {"type": ["object", "boolean"]}
            ]
        })
    }
}

/// One `files:` source: every regular file `path` matches becomes a key, its value the file's
/// bytes (as with `file:`), its name `key` with `{path}` filled in.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilesSource {
    /// A glob of files, relative to the YAML file that names it, e.g. `content/**/*.json`: `*`
    /// stays within one `/` segment, `**` crosses them. The files must stay inside the root
    /// config's folder. Below the glob's literal folders, names starting with `.` are skipped
    /// unless the glob itself writes a segment starting with `.`; symlinked folders are not
    /// entered.
    pub path: Sp<String>,
    /// The key name of each file: `{path}` is the file's path relative to the glob's literal
    /// leading folders (`a/b.json` for `content/a/b.json` and `content/**/*.json`), with `/`
    /// separators. `{{` and `}}` are literal braces. Default `{path}`.
    #[serde(default)]
    pub key: Option<Sp<String>>,
    /// `true` drops the last extension from `{path}` (`a/b.json` becomes `a/b`). Default
    /// `false`.
    #[serde(default)]
    pub strip_extension: Option<Sp<bool>>,
    /// KV metadata of every key of this source: a JSON object (at most 1024 bytes once kvsync
    /// adds its marker); `null` means none.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "metadata_schema")]
    pub metadata: Option<YamlValue>,
    /// When KV drops every key of this source: unix seconds, or an RFC 3339 time with any
    /// offset (no fractional seconds), at most 2038-01-19T03:14:07Z.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "expiration_schema")]
    pub expiration: Option<YamlValue>,
    /// Seconds after each write until KV drops the key; at least 60.
    #[serde(default)]
    #[schemars(range(min = 60, max = 2_147_483_647))]
    pub expiration_ttl: Option<Sp<i64>>,
    /// `true` hides the values of this source in every output. Metadata that uses `${…}` makes
    /// them sensitive too.
    #[serde(default)]
    pub sensitive: Option<Sp<bool>>,
}

/// One desired key as written: a bare value, or a mapping with the entry fields.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyEntry {
    /// A scalar or a sequence (its place is the entry's place).
    Value(YamlKind),
    /// A mapping.
    Entry(Box<EntryFields>),
}

impl JsonSchema for KeyEntry {
    fn schema_name() -> Cow<'static, str> {
        "KeyEntry".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let entry = generator.subschema_for::<EntryFields>();
        json_schema!({
            "description": "A key's desired state: a string (stored as-is), another scalar or a sequence (stored as compact JSON), or an entry mapping.",
            "anyOf": [
                {"type": "string"},
                {"type": ["number", "boolean", "array"]},
                entry
            ]
        })
    }
}

/// A key written as a mapping. Exactly one of `value` and `file`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryFields {
    /// The value: a string is stored as-is, anything else (a mapping, a sequence, a number, a
    /// boolean) as compact JSON in document order.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "value_schema")]
    pub value: Option<YamlValue>,
    /// A file whose bytes are the value, relative to the YAML file that names it; it must stay
    /// inside the root config's folder.
    #[serde(default)]
    pub file: Option<Sp<String>>,
    /// KV metadata: a JSON object (at most 1024 bytes once kvsync adds its marker); `null` means
    /// none.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "metadata_schema")]
    pub metadata: Option<YamlValue>,
    /// When KV drops the key: unix seconds, or an RFC 3339 time with any offset (no fractional
    /// seconds), at most 2038-01-19T03:14:07Z.
    #[serde(default, deserialize_with = "present")]
    #[schemars(schema_with = "expiration_schema")]
    pub expiration: Option<YamlValue>,
    /// Seconds after each write until KV drops the key; at least 60.
    #[serde(default)]
    #[schemars(range(min = 60, max = 2_147_483_647))]
    pub expiration_ttl: Option<Sp<i64>>,
    /// `true` hides the value in every output. A value, metadata or file path that uses `${…}`
    /// is always sensitive.
    #[serde(default)]
    pub sensitive: Option<Sp<bool>>,
}

/// Deserializes a field that is present, even as `null`: `Option<T>` would turn `value: null`
/// into "no value", which must instead be an error (and `metadata: null` is kept as written).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A namespace id as the schema checks it: `${…}` (checked once expanded), or
/// [`crate::content::limits::is_namespace_id`]'s rule.
fn namespace_id_pattern() -> String {
    format!(r"^(\$\{{.*\}}|{})$", crate::content::limits::NAMESPACE_ID_PATTERN)
}

fn value_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "not": { "type": "null" } })
}

fn metadata_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": ["object", "null"] })
}

fn expiration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "integer", "minimum": 1, "maximum": 2_147_483_647 },
            { "type": "string", "format": "date-time" }
        ]
    })
}

/// The JSON Schema of `kvsync.yaml` as a value (what `shape` checks a file's tree against).
pub(crate) fn config_schema() -> serde_json::Value {
    schemars::schema_for!(ConfigFile).to_value()
}

/// The JSON Schema of an included file, made once (included files are many): what `shape`
/// checks their trees against. It is not published; editors see included files as plain YAML.
pub(crate) fn include_schema() -> &'static serde_json::Value {
    static SCHEMA: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(|| schemars::schema_for!(IncludeFile).to_value());
    &SCHEMA
}

/// The JSON Schema of `kvsync.yaml`, pretty-printed, ending in a newline.
pub(crate) fn schema_json() -> String {
    let schema = schemars::schema_for!(ConfigFile);
    let mut text = serde_json::to_string_pretty(&schema)
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}
