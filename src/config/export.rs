//! `kvsync export`: live keys → a `kvsync.yaml` that reproduces them exactly, written with
//! kvsync's one YAML writer (`yaml_out`).
//!
//! What "exactly" means here: loading the written file with kvsync's own loader gives, for every
//! key, the content hash (DESIGN.md §2) of the bytes, user metadata and absolute expiration that
//! were read live. The writer does not trust itself to get YAML right: every entry it writes is
//! read back through the loader's parser and value rules before it is accepted, and a form that
//! does not come back byte for byte is replaced by a safer one (plain → block literal →
//! double-quoted → a file beside the YAML). [`Export::verify`] then loads the whole file once
//! more. The choices, from the most readable:
//! - text up to [`INLINE_MAX`] bytes inline: a plain scalar, a `|-`/`|`/`|+` block literal for
//!   several lines, else a double-quoted scalar (the escapes cover any text);
//! - a JSON value as a YAML structure only when kvsync's loader turns that structure back into
//!   the very same bytes (compact, document order, serde_json's numbers), else as its text;
//! - binary values, and text over [`INLINE_MAX`], as files under `values/` (`file:`), named by
//!   the key with every byte outside `[a-z0-9_.-]` percent-encoded, so that names never collide
//!   on a case-insensitive file system and never leave the folder;
//! - keys matching `--sensitive`, or whose marker says `"sensitive": true`, as `${VAR}`
//!   references with a comment naming the variable.
//!
//! The output is a function of the live state alone (keys in byte order, metadata fields sorted,
//! no timestamps, no version), so exporting an unchanged namespace again gives identical files.
//! This module does no I/O besides the final [`Export::verify`]; the CLI reads the store and
//! writes the files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use super::desired::Globs;
use super::model::IncludeFile;
use super::problems::Problems;
use super::sources::{self, KeySite, Scratch, Sources};
use super::yaml_out::{
    Repr, double_quoted, escape_interpolation, json_field, literal_block, scalar, timestamp,
    value_scalar, write_value,
};
use super::{Error, LoadOptions, validate, yaml};
use crate::content::Expiration;
use crate::content::limits::{EXPIRATION_MIN_SECS, METADATA_BYTES_MAX};
use crate::content::{ContentHash, MARKER_FIELD, Marker, content_hash, written_metadata_len_max};

/// Where editors find the config's JSON Schema: the first line of every file kvsync writes.
pub const SCHEMA_URL: &str =
    "https://raw.githubusercontent.com/kvsync/kvsync/main/schemas/kvsync.schema.json";

/// Text values longer than this (in bytes) are written to files rather than inline: a YAML file
/// of many 4 KiB values is still readable, and larger values diff better as files.
pub const INLINE_MAX: usize = 4096;

/// The folder, beside the YAML, that holds values written as files.
pub const VALUES_DIR: &str = "values";

/// The owner an export writes when none is given.
pub const DEFAULT_OWNER: &str = "exported";

/// Indentation of the keys under `namespaces.<scope>.keys:`.
const KEY_INDENT: usize = 6;

/// What to export and how.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub namespace_id: String,
    /// The scope's prefix; only keys starting with it are exported.
    pub prefix: String,
    pub owner: String,
    /// Globs (`--sensitive`) of keys written as `${VAR}` references instead of values.
    pub sensitive: Vec<String>,
    /// The target `--target` named: written as `target:` unless it is the default one.
    pub target: Option<crate::kv::TargetKind>,
    /// The clock: keys that expire within a minute of it are left out, as a plan would skip them.
    pub now: i64,
}

/// One live key, as read: its listing entry and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEntry {
    pub key: String,
    pub value: Vec<u8>,
    /// The metadata exactly as listed (with any kvsync marker).
    pub metadata: Option<Value>,
    /// Absolute unix seconds, when the key expires.
    pub expiration: Option<i64>,
}

/// A value the export writes to a file: `path` is relative to the YAML's folder, with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// A key written as a `${VAR}` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitiveRef {
    pub key: String,
    pub variable: String,
}

/// Builds an export one key at a time, in byte order of the keys.
pub struct Exporter {
    options: ExportOptions,
    sensitive: Globs,
    scratch: Scratch,
    /// The `keys:` section, one entry after another.
    body: String,
    keys: usize,
    files: usize,
    variables: HashSet<String>,
    sensitive_refs: Vec<SensitiveRef>,
    /// Values of the sensitive keys by variable, only to verify the written file.
    secrets: HashMap<String, String>,
    skipped: Vec<(String, String)>,
    unproven: Vec<String>,
    foreign_owners: BTreeMap<String, usize>,
    unmarked: usize,
    expiring: usize,
    expected: Vec<(String, ContentHash)>,
}

/// What the summary counts of a key that is exported.
#[derive(Clone, Copy)]
struct Counted {
    /// It has no kvsync marker (it plans as `adopt`).
    unmarked: bool,
    /// It has an expiration.
    expiring: bool,
}

/// A finished export.
pub struct Export {
    /// The whole `kvsync.yaml`.
    pub yaml: String,
    /// Keys written (inline, as files, or as references).
    pub keys: usize,
    /// Of those, values written to files under [`VALUES_DIR`].
    pub files: usize,
    pub sensitive: Vec<SensitiveRef>,
    /// Keys left out, with why (also written as comments in the YAML).
    pub skipped: Vec<(String, String)>,
    /// Keys whose values were read as text and cannot be proven byte-exact (a text read drops
    /// a leading U+FEFF; only a marker holding the hash of what was read proves nothing was).
    pub unproven: Vec<String>,
    /// Keys that carry another owner's kvsync marker, by owner: `plan` shows them as conflicts.
    pub foreign_owners: BTreeMap<String, usize>,
    /// Keys exported that carry no kvsync marker: `plan` shows them as `adopt`.
    pub unmarked: usize,
    /// Keys exported with an expiration. The listing gives only the absolute time, so a key
    /// written with `expiration_ttl` is exported with the `expiration` it had then.
    pub expiring: usize,
    secrets: HashMap<String, String>,
    expected: Vec<(String, ContentHash)>,
}

/// Checks the options; the error is a message for the command line.
pub fn check_options(options: &ExportOptions) -> Result<Globs, String> {
    if let Err((message, hint)) = validate::namespace_id(&options.namespace_id) {
        return Err(with_hint(message, hint));
    }
    if let Err((message, hint)) = validate::owner(&options.owner) {
        return Err(with_hint(message, hint));
    }
    if let Err((message, hint)) = validate::prefix(&options.prefix) {
        return Err(with_hint(message, hint));
    }
    Globs::new(&options.sensitive).map_err(|(pattern, error)| {
        format!("`--sensitive {pattern}` is not a valid glob: {}", error.kind())
    })
}

fn with_hint(message: String, hint: Option<String>) -> String {
    match hint {
        Some(hint) => format!("{message} ({hint})"),
        None => message,
    }
}

impl Exporter {
    pub fn new(options: ExportOptions) -> Result<Self, String> {
        let sensitive = check_options(&options)?;
        Ok(Self {
            options,
            sensitive,
            scratch: Scratch::new(),
            body: String::new(),
            keys: 0,
            files: 0,
            variables: HashSet::new(),
            sensitive_refs: Vec::new(),
            secrets: HashMap::new(),
            skipped: Vec::new(),
            unproven: Vec::new(),
            foreign_owners: BTreeMap::new(),
            unmarked: 0,
            expiring: 0,
            expected: Vec::new(),
        })
    }

    /// Leaves a key out, saying why (a comment in the YAML and a line in the summary).
    pub fn skip(&mut self, key: &str, reason: &str) {
        let _ = writeln!(
            self.body,
            "{}# left out: {} ({reason})",
            " ".repeat(KEY_INDENT),
            comment_text(key)
        );
        self.skipped.push((key.to_owned(), reason.to_owned()));
    }

    /// Adds one key; keys must come in byte order. Returns the file to write when the value goes
    /// to a file.
    pub fn add(&mut self, entry: LiveEntry) -> Option<ValueFile> {
        self.add_read(entry, false)
    }

    /// [`add`](Self::add) for a value that was `read_as_text`: decoded by a text read (a bulk
    /// get), which drops a leading U+FEFF. Unless the key's marker holds the hash of exactly
    /// what was read, the export cannot prove the value byte-exact, and says so
    /// ([`Export::unproven`]).
    pub fn add_read(&mut self, entry: LiveEntry, read_as_text: bool) -> Option<ValueFile> {
        let LiveEntry { key, value, metadata, expiration } = entry;
        if let Some(at) = expiration
            && at < self.options.now.saturating_add(EXPIRATION_MIN_SECS)
        {
            self.skip(&key, "it expires within a minute");
            return None;
        }
        let marker = Marker::from_metadata(metadata.as_ref());
        let counted =
            Counted { unmarked: matches!(marker, Marker::None), expiring: expiration.is_some() };
        if let Some(owner) = marker.owner().map(str::to_owned)
            && owner != self.options.owner
        {
            *self.foreign_owners.entry(owner).or_default() += 1;
        }
        let metadata = match self.user_metadata(metadata) {
            Ok(metadata) => metadata,
            Err(reason) => {
                self.skip(&key, &reason);
                return None;
            }
        };
        let expiration_policy = expiration.map_or(Expiration::Never, Expiration::At);
        let metadata_value = metadata.clone().map(Value::Object);
        let hash = content_hash(&value, metadata_value.as_ref(), expiration_policy);
        let text = std::str::from_utf8(&value).ok();
        if read_as_text
            && text.is_some()
            && !matches!(&marker, Marker::V1 { sha256, .. } if *sha256 == hash)
        {
            self.unproven.push(key.clone());
        }

        // A key kvsync wrote from a sensitive entry stays out of the file without `--sensitive`.
        let marked_sensitive = matches!(marker, Marker::V1 { sensitive: true, .. });
        if marked_sensitive || self.sensitive.is_match(&key) {
            let Some(text) = text.filter(|t| !t.contains('\0')) else {
                self.skip(
                    &key,
                    "it is sensitive (`--sensitive` or its marker) but its value is not text an \
                     environment variable can hold; add it by hand (e.g. `file: ${VAR}`)",
                );
                return None;
            };
            let variable = self.variable_for(&key);
            let repr = Repr::Variable(variable.clone());
            let written = entry_text(&key, &repr, metadata.as_ref(), expiration);
            self.secrets.insert(variable.clone(), text.to_owned());
            if !self.reads_back(&written, &key, hash) {
                self.secrets.remove(&variable);
                self.skip(&key, "it cannot be written back exactly (please report this)");
                return None;
            }
            let _ = writeln!(
                self.body,
                "{}# sensitive: the value is not in this file; set `{variable}` to it",
                " ".repeat(KEY_INDENT)
            );
            self.body.push_str(&written);
            self.sensitive_refs.push(SensitiveRef { key: key.clone(), variable });
            self.accept(key, hash, counted);
            return None;
        }

        if let Some(text) = text.filter(|t| t.len() <= INLINE_MAX) {
            for repr in inline_candidates(text) {
                let written = entry_text(&key, &repr, metadata.as_ref(), expiration);
                if self.reads_back(&written, &key, hash) {
                    self.body.push_str(&written);
                    self.accept(key, hash, counted);
                    return None;
                }
            }
        }

        // A file holds the bytes as they are; what must still read back exactly is the entry
        // around it (key name, metadata, expiration), checked with an empty inline value.
        let probe =
            entry_text(&key, &Repr::Scalar("\"\"".to_owned()), metadata.as_ref(), expiration);
        let probe_hash = content_hash(b"", metadata_value.as_ref(), expiration_policy);
        if !self.reads_back(&probe, &key, probe_hash) {
            self.skip(&key, "it cannot be written back exactly (please report this)");
            return None;
        }
        let path = format!("{VALUES_DIR}/{}", value_file_name(&key));
        let written = entry_text(&key, &Repr::File(path.clone()), metadata.as_ref(), expiration);
        self.body.push_str(&written);
        self.files += 1;
        self.accept(key, hash, counted);
        Some(ValueFile { path, bytes: value })
    }

    fn accept(&mut self, key: String, hash: ContentHash, counted: Counted) {
        self.keys += 1;
        self.unmarked += usize::from(counted.unmarked);
        self.expiring += usize::from(counted.expiring);
        self.expected.push((key, hash));
    }

    /// The user metadata: the listing's object without kvsync's marker, fields sorted (a stable
    /// order for re-exports; the content hash sorts them anyway). An object left empty counts
    /// as none: once kvsync writes a key, a Worker cannot tell the two apart.
    fn user_metadata(&self, metadata: Option<Value>) -> Result<Option<Map<String, Value>>, String> {
        let map = match metadata {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err("its metadata is not a JSON object, which kvsync cannot write".into());
            }
        };
        let mut fields: Vec<(String, Value)> =
            map.into_iter().filter(|(name, _)| name != MARKER_FIELD).collect();
        if fields.is_empty() {
            return Ok(None);
        }
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        let map: Map<String, Value> = fields.into_iter().collect();
        if !js_safe(&Value::Object(map.clone())) {
            return Err(
                "its metadata holds an integer beyond ±2^53, which kvsync refuses because \
                 Workers read metadata with `JSON.parse`"
                    .into(),
            );
        }
        let written = written_metadata_len_max(Some(&map), &self.options.owner);
        if written > METADATA_BYTES_MAX {
            return Err(format!(
                "its metadata leaves no room for kvsync's marker: {written} bytes with it, over \
                 KV's {METADATA_BYTES_MAX}"
            ));
        }
        Ok(Some(map))
    }

    /// An environment variable name for a sensitive key: its name in upper snake case, made
    /// unique.
    fn variable_for(&mut self, key: &str) -> String {
        let mut base = String::new();
        for c in key.chars() {
            let c = if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' };
            if !(c == '_' && (base.is_empty() || base.ends_with('_'))) {
                base.push(c);
            }
        }
        let mut base = base.trim_end_matches('_').to_owned();
        if base.is_empty() {
            base = "KV_VALUE".to_owned();
        } else if base.starts_with(|c: char| c.is_ascii_digit()) {
            base = format!("KV_{base}");
        }
        let mut name = base.clone();
        let mut n = 2;
        while !self.variables.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    /// Whether `written` (one entry at [`KEY_INDENT`]) loads back as `key` with content hash
    /// `expected`, through the loader's own parser and value rules.
    fn reads_back(&mut self, written: &str, key: &str, expected: ContentHash) -> bool {
        let Ok(file) = yaml::parse::<IncludeFile>(format!("keys:\n{written}")) else {
            return false;
        };
        let mut entries = file.keys.0.into_iter();
        let (Some((name, entry)), None) = (entries.next(), entries.next()) else {
            return false;
        };
        if name.value != key {
            return false;
        }
        let secrets = &self.secrets;
        let vars = |name: &str| secrets.get(name).cloned();
        let sources = Sources {
            vars: &vars,
            owner: &self.options.owner,
            root_dir: Path::new(""),
            root_canonical: Path::new(""),
        };
        let mut problems = Problems::new();
        let file = problems.file(Path::new("export"));
        let site = KeySite { file, dir: Path::new(""), name: key };
        let resolved = sources::resolve(&sources, &site, entry, &mut self.scratch, &mut problems);
        resolved.is_some_and(|r| r.hash == expected) && !problems.has_errors()
    }

    pub fn finish(self) -> Export {
        let options = &self.options;
        let mut yaml = String::new();
        let _ = writeln!(yaml, "# yaml-language-server: $schema={SCHEMA_URL}");
        yaml.push_str("#\n");
        let place = if options.prefix.is_empty() {
            String::new()
        } else {
            format!(", prefix {}", comment_text(&options.prefix))
        };
        let keys = counted(self.keys, "key");
        let files = match self.files {
            0 => String::new(),
            n => format!(", {n} of them in files under {VALUES_DIR}/"),
        };
        let _ = writeln!(
            yaml,
            "# Made by `kvsync export` from namespace {}{place}: {keys}{files}.",
            options.namespace_id
        );
        yaml.push_str(
            "# Keys without kvsync's marker plan as `adopt`: the first apply rewrites each value once\n\
             # (a billed write), because KV cannot change metadata alone. Exporting the same state\n\
             # again gives this same file.\n",
        );
        yaml.push_str("version: 1\n");
        let _ = writeln!(yaml, "owner: {}", scalar(&options.owner));
        if let Some(target) = options.target.filter(|t| *t != crate::kv::TargetKind::default()) {
            let _ = writeln!(yaml, "target: {}", target.name());
        }
        yaml.push_str("namespaces:\n");
        let _ = writeln!(yaml, "  {}:", scalar(&scope_name(&options.prefix)));
        let _ = writeln!(yaml, "    namespace_id: {}", scalar(&options.namespace_id));
        if !options.prefix.is_empty() {
            let _ = writeln!(yaml, "    prefix: {}", value_scalar(&options.prefix));
        }
        if self.keys == 0 {
            yaml.push_str(&self.body);
            yaml.push_str("    keys: {}\n");
        } else {
            yaml.push_str("    keys:\n");
            yaml.push_str(&self.body);
        }
        Export {
            yaml,
            keys: self.keys,
            files: self.files,
            sensitive: self.sensitive_refs,
            skipped: self.skipped,
            unproven: self.unproven,
            foreign_owners: self.foreign_owners,
            unmarked: self.unmarked,
            expiring: self.expiring,
            secrets: self.secrets,
            expected: self.expected,
        }
    }
}

impl Export {
    /// Loads the written file as `kvsync plan` would (the sensitive variables set to the values
    /// read) and checks that it holds exactly the exported keys, each with the content hash of
    /// what was read. A failure is a bug in the writer, reported rather than written silently.
    pub fn verify(&self, path: &Path) -> Result<(), Error> {
        let vars = |name: &str| self.secrets.get(name).cloned();
        // The keys are what is checked: the namespace id is taken as written, also in an
        // export of `wrangler-dev` (which would look it up in a wrangler config otherwise).
        let written_ids = Some(crate::kv::TargetKind::Cloudflare);
        let loaded = super::load(
            path,
            &LoadOptions {
                environment: None,
                preview: None,
                target: written_ids,
                vars: &vars,
                titles: None,
            },
        )?;
        let scope = loaded.desired.scopes.first();
        let mut wrong: Vec<&str> = Vec::new();
        for (key, hash) in &self.expected {
            if scope.and_then(|s| s.entries.get(key)).is_none_or(|e| e.hash != *hash) {
                wrong.push(key);
            }
        }
        let written = scope.map_or(0, |s| s.entries.len());
        if wrong.is_empty() && written == self.expected.len() {
            return Ok(());
        }
        Err(Error::ExportMismatch {
            differing: wrong.len().max(written.abs_diff(self.expected.len())),
            total: self.expected.len(),
            named: wrong.iter().take(10).map(|key| (*key).to_owned()).collect(),
        })
    }
}

/// The scope's name: the prefix without its punctuation (`flags/` → `flags`), else `kv`.
fn scope_name(prefix: &str) -> String {
    let mut name = String::new();
    for c in prefix.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    if name.is_empty() { "kv".to_owned() } else { name.to_owned() }
}

fn counted(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// Whether every integer in `value` survives JavaScript's `JSON.parse`.
fn js_safe(value: &Value) -> bool {
    const MAX: u64 = (1 << 53) - 1;
    match value {
        Value::Number(n) => {
            n.as_u64().is_none_or(|u| u <= MAX)
                && n.as_i64().is_none_or(|i| i.unsigned_abs() <= MAX)
        }
        Value::Array(items) => items.iter().all(js_safe),
        Value::Object(map) => map.values().all(js_safe),
        _ => true,
    }
}

/// The forms to try for a text value, most readable first.
fn inline_candidates(text: &str) -> Vec<Repr> {
    let mut out = Vec::new();
    if let Some(json) = json_structure(text) {
        out.push(Repr::Json(json));
    }
    if text.contains('\n') {
        if let Some((header, lines)) = literal_block(&escape_interpolation(text)) {
            out.push(Repr::Literal(header, lines));
        }
    } else {
        out.push(Repr::Scalar(value_scalar(text)));
    }
    out.push(Repr::Scalar(double_quoted(&escape_interpolation(text))));
    out
}

/// The JSON value `text` is, when it is an object, array, number or boolean that serde_json
/// writes back as exactly `text` (compact, same order, same number spelling): kvsync's loader
/// writes YAML structures that way, so only then can YAML stand for the text.
fn json_structure(text: &str) -> Option<Value> {
    let first = text.as_bytes().first()?;
    if !(matches!(first, b'{' | b'[' | b'-' | b't' | b'f') || first.is_ascii_digit()) {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    if matches!(value, Value::Null | Value::String(_)) {
        return None;
    }
    (serde_json::to_string(&value).ok()? == text).then_some(value)
}

// ---------------------------------------------------------------------------------------------
// Entries of `keys:`, through the writer in `yaml_out`.

/// One entry of `keys:`, at [`KEY_INDENT`], ending in a newline.
fn entry_text(
    key: &str,
    repr: &Repr,
    metadata: Option<&Map<String, Value>>,
    expiration: Option<i64>,
) -> String {
    let mut out = String::new();
    let indent = " ".repeat(KEY_INDENT);
    let key_text = scalar(key);
    let is_object = matches!(repr, Repr::Json(Value::Object(_)));
    let bare =
        metadata.is_none() && expiration.is_none() && !is_object && !matches!(repr, Repr::File(_));
    if bare {
        write_value(&mut out, KEY_INDENT, &key_text, repr);
        return out;
    }
    let _ = writeln!(out, "{indent}{key_text}:");
    let field_indent = KEY_INDENT + 2;
    match repr {
        Repr::File(path) => {
            let _ = writeln!(out, "{}file: {}", " ".repeat(field_indent), value_scalar(path));
        }
        other => write_value(&mut out, field_indent, "value", other),
    }
    if let Some(metadata) = metadata {
        json_field(&mut out, field_indent, "metadata", &Value::Object(metadata.clone()));
    }
    if let Some(at) = expiration {
        let _ = writeln!(out, "{}expiration: {}", " ".repeat(field_indent), timestamp(at));
    }
    out
}

/// A key or prefix for a comment: on one line, quoted as Rust would.
fn comment_text(text: &str) -> String {
    format!("{text:?}")
}

/// The file name of a key's value under [`VALUES_DIR`]: `[a-z0-9_-]` as they are, `.` except
/// first and last, every other byte `%XX` (so `flags/logo.png` → `flags%2Flogo.png`). Names are
/// unique even on case-insensitive file systems, stay one path segment, and avoid Windows'
/// reserved names; very long ones are cut and end in a hash of the key.
pub fn value_file_name(key: &str) -> String {
    const NAME_MAX: usize = 180;
    let bytes = key.as_bytes();
    let mut name = String::with_capacity(key.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let keep = byte.is_ascii_lowercase()
            || byte.is_ascii_digit()
            || byte == b'_'
            || byte == b'-'
            || (byte == b'.' && index > 0 && index + 1 < bytes.len());
        if keep {
            name.push(byte as char);
        } else {
            let _ = write!(name, "%{byte:02X}");
        }
    }
    let stem = name.split('.').next().unwrap_or_default();
    let reserved = matches!(stem, "con" | "prn" | "aux" | "nul")
        || (stem.len() == 4
            && (stem.starts_with("com") || stem.starts_with("lpt"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        name = format!("%{:02X}{}", name.as_bytes()[0], &name[1..]);
    }
    if name.len() > NAME_MAX {
        use sha2::Digest as _;
        let digest = base16ct::lower::encode_string(&sha2::Sha256::digest(key.as_bytes()));
        let mut cut = NAME_MAX - 20;
        // Never cut inside a `%XX`.
        while name.as_bytes()[cut - 1] == b'%' || name.as_bytes()[cut - 2] == b'%' {
            cut -= 1;
        }
        name = format!("{}~{}", &name[..cut], &digest[..16]);
    }
    name
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{Strategy as _, any};

    use super::*;

    fn options() -> ExportOptions {
        ExportOptions {
            namespace_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            prefix: "f/".into(),
            owner: "exported".into(),
            sensitive: vec!["f/secret*".into(), "f/secret/**".into()],
            target: None,
            now: 1_900_000_000,
        }
    }

    fn live(key: &str, value: &[u8]) -> LiveEntry {
        LiveEntry { key: key.into(), value: value.to_vec(), metadata: None, expiration: None }
    }

    /// Exports entries and returns the YAML's `keys:` body, after checking that the whole
    /// file loads back with every hash intact.
    fn export(entries: Vec<LiveEntry>) -> (Export, String) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut exporter = Exporter::new(options()).expect("options");
        for entry in entries {
            if let Some(file) = exporter.add(entry) {
                let path = dir.path().join(&file.path);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, &file.bytes).expect("write");
            }
        }
        let export = exporter.finish();
        let path = dir.path().join("kvsync.yaml");
        std::fs::write(&path, &export.yaml).expect("write");
        export.verify(&path).unwrap_or_else(|e| panic!("{e}\n{}", export.yaml));
        let body = export.yaml.split_once("    keys:").expect("keys").1.to_owned();
        (export, body)
    }

    #[test]
    fn text_values_take_the_most_readable_exact_form() {
        let (_, body) = export(vec![
            live("f/a-plain", b"Welcome to the sale!"),
            live("f/b-digits", b"0123"),
            live("f/c-json", br#"{"enabled":true,"rollout":25,"tags":["a",{"b":null}],"n":1.5}"#),
            live("f/d-pretty-json", b"{\n  \"a\": 1\n}\n"),
            live("f/e-number", b"42"),
            live("f/f-spaced-number", b"1.50"),
            live("f/g-lines", b"two\nlines"),
            live("f/h-trailing", b"keep\n\n\n"),
            live("f/i-indented", b"  starts with spaces\nsecond"),
            live("f/j-crlf", b"windows\r\nline"),
            live("f/k-dollar", b"cost ${PRICE} and $${X}"),
            live("f/l-yes", b"yes"),
            live("f/m-empty", b""),
            live("f/n-json-string", b"\"quoted\""),
            live("f/o-control", b"bell\x07 and tab\t"),
            live("f/p-array", b"[1,2]"),
            live("f/q-dup-json", br#"{"a":1,"a":2}"#),
            live("f/r-true", b"true"),
            live("f/s-null", b"null"),
        ]);
        insta::assert_snapshot!(body, @r#"

              f/a-plain: Welcome to the sale!
              f/b-digits: "0123"
              f/c-json:
                value:
                  enabled: true
                  rollout: 25
                  tags:
                    - a
                    -
                      b: null
                  "n": 1.5
              f/d-pretty-json: |
                {
                  "a": 1
                }
              f/e-number: 42
              f/f-spaced-number: "1.50"
              f/g-lines: |-
                two
                lines
              f/h-trailing: |+
                keep


              f/i-indented: "  starts with spaces\nsecond"
              f/j-crlf: "windows\r\nline"
              f/k-dollar: "cost $${PRICE} and $$${X}"
              f/l-yes: "yes"
              f/m-empty: ""
              f/n-json-string: "\"quoted\""
              f/o-control: "bell\u0007 and tab\t"
              f/p-array:
                - 1
                - 2
              f/q-dup-json: "{\"a\":1,\"a\":2}"
              f/r-true: true
              f/s-null: "null"
        "#);
    }

    /// Issue 15 item 6: a key whose marker says it was written sensitive is exported as a
    /// variable, `--sensitive` or not.
    #[test]
    fn a_key_marked_sensitive_is_exported_as_a_variable() {
        let hash = content_hash(b"hunter2", None, Expiration::Never).to_hex();
        let (export, body) = export(vec![LiveEntry {
            key: "f/api-key".into(),
            value: b"hunter2".to_vec(),
            metadata: Some(
                serde_json::json!({"__kvsync": {"v": 1, "owner": "exported", "sha256": hash, "sensitive": true}}),
            ),
            expiration: None,
        }]);
        assert!(!body.contains("hunter2"), "{body}");
        assert!(body.contains("f/api-key: \"${F_API_KEY}\""), "{body}");
        assert_eq!(export.sensitive.len(), 1);
    }

    #[test]
    fn metadata_expiration_files_and_secrets() {
        let sha = "0".repeat(64);
        let marker = serde_json::json!({"z": 1, "team": "growth", "__kvsync": {"v": 1, "owner": "other", "sha256": sha}});
        let (export, body) = export(vec![
            LiveEntry {
                key: "f/meta".into(),
                value: b"v".to_vec(),
                metadata: Some(marker),
                expiration: Some(1_900_086_400),
            },
            LiveEntry {
                key: "f/only-marker".into(),
                value: b"v".to_vec(),
                metadata: Some(
                    serde_json::json!({"__kvsync": {"v": 1, "owner": "exported", "sha256": "00"}}),
                ),
                expiration: None,
            },
            live("f/Logo.PNG", b"\x89PNG\r\n\x1a\n\x00"),
            live("f/large", "x".repeat(INLINE_MAX + 1).as_bytes()),
            live("f/secret-key", b"s3cret"),
            LiveEntry {
                key: "f/secret/2".into(),
                value: b"other".to_vec(),
                metadata: Some(serde_json::json!({"kind": "${not a var}"})),
                expiration: None,
            },
            LiveEntry {
                key: "f/soon".into(),
                value: b"v".to_vec(),
                metadata: None,
                expiration: Some(1_900_000_030),
            },
            LiveEntry {
                key: "f/array-meta".into(),
                value: b"v".to_vec(),
                metadata: Some(serde_json::json!([1])),
                expiration: None,
            },
        ]);
        insta::assert_snapshot!(body, @r#"

              f/meta:
                value: v
                metadata:
                  team: growth
                  z: 1
                expiration: 2030-03-18T17:46:40Z
              f/only-marker: v
              f/Logo.PNG:
                file: values/f%2F%4Cogo.%50%4E%47
              f/large:
                file: values/f%2Flarge
              # sensitive: the value is not in this file; set `F_SECRET_KEY` to it
              f/secret-key: "${F_SECRET_KEY}"
              # sensitive: the value is not in this file; set `F_SECRET_2` to it
              f/secret/2:
                value: "${F_SECRET_2}"
                metadata:
                  kind: "$${not a var}"
              # left out: "f/soon" (it expires within a minute)
              # left out: "f/array-meta" (its metadata is not a JSON object, which kvsync cannot write)
        "#);
        assert_eq!((export.keys, export.files), (6, 2));
        assert_eq!(export.foreign_owners.get("other"), Some(&1));
        assert_eq!(export.skipped.len(), 2);
        assert_eq!(
            export.sensitive.iter().map(|s| s.variable.as_str()).collect::<Vec<_>>(),
            ["F_SECRET_KEY", "F_SECRET_2"]
        );
    }

    fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex(
            "[ a-zA-Z0-9:#'\"\\\n\r\t${}|>\\-\\[\\],&*!%@`~?.\u{85}\u{a0}\u{2028}\u{feff}é😀\u{7}]{0,40}",
        )
        .expect("regex")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

        /// Whatever the bytes, metadata strings and expirations, the written file loads back
        /// with every key's content hash intact (`export` verifies it) and nothing left out.
        #[test]
        fn anything_exports_exactly(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..48),
                    any::<String>().prop_map(String::into_bytes),
                    tricky_text().prop_map(String::into_bytes),
                ],
                1..6,
            ),
            notes in proptest::collection::vec(proptest::option::of(tricky_text()), 6),
            names in proptest::collection::vec(tricky_text(), 6),
        ) {
            let entries: Vec<LiveEntry> = values
                .iter()
                .enumerate()
                .map(|(i, value)| LiveEntry {
                    key: format!("f/{i}{}", names[i].replace(['\n', '\r'], "")),
                    value: value.clone(),
                    metadata: notes[i].as_ref().map(|n| serde_json::json!({ "note": n, "k": names[i] })),
                    expiration: (i % 2 == 0).then_some(1_900_000_000 + 3_600 * (i as i64 + 1)),
                })
                .collect();
            let mut sorted = entries;
            sorted.sort_by(|a, b| a.key.cmp(&b.key));
            sorted.dedup_by(|a, b| a.key == b.key);
            let count = sorted.len();
            let (export, _) = export(sorted);
            proptest::prop_assert_eq!(export.keys, count);
            proptest::prop_assert!(export.skipped.is_empty(), "{:?}", export.skipped);
        }
    }

    #[test]
    fn value_file_names_are_one_safe_segment() {
        assert_eq!(value_file_name("flags/logo.png"), "flags%2Flogo.png");
        assert_eq!(value_file_name(".hidden."), "%2Ehidden%2E");
        assert_eq!(value_file_name("A"), "%41");
        assert_eq!(value_file_name("con.txt"), "%63on.txt");
        assert_eq!(value_file_name("é"), "%C3%A9");
        let long = value_file_name(&"/".repeat(512));
        assert!(long.len() <= 180 && long.contains('~'), "{long}");
        assert_ne!(value_file_name(&"/".repeat(511)), long);
    }

    #[test]
    fn options_are_checked() {
        let bad_id = ExportOptions { namespace_id: "not an id".into(), ..options() };
        assert!(Exporter::new(bad_id).is_err());
        let bad_owner = ExportOptions { owner: "Web".into(), ..options() };
        assert!(Exporter::new(bad_owner).is_err());
        let bad_glob = ExportOptions { sensitive: vec!["[".into()], ..options() };
        assert!(Exporter::new(bad_glob).is_err());
    }
}
