//! A key's entry as written → the bytes, metadata and expiration kvsync will write, hashed.
//!
//! This module owns the value rules of DESIGN.md §4: a YAML string is stored as-is, any other
//! scalar or a sequence as compact JSON in document order, a mapping is an entry with `value` or
//! `file`; `metadata` must be a JSON object whose numbers survive JavaScript; `expiration` and
//! `expiration_ttl` normalise to [`Expiration`]; `file:` values stay inside the root config's
//! folder and are hashed while they stream, never held in memory. Every problem becomes a
//! diagnostic at the scalar it is about; an entry with any problem yields no [`DesiredEntry`].

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Map, Number, Value};

use super::desired::{DesiredEntry, UserMetadata, ValueSource};
use super::interpolate;
use super::model::{EntryFields, KeyEntry, Sp, YamlKind, YamlValue};
use super::problems::{FileId, Pos, Problems};
use crate::content::Expiration;
use crate::content::limits::{
    BULK_BASE64_BYTES_MAX, EXPIRATION_MIN_SECS, METADATA_BYTES_MAX, VALUE_BYTES_MAX,
};
use crate::content::{ContentHasher, MARKER_FIELD, content_hash, written_metadata_len_max};

/// Bytes read from a `file:` value at a time.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The latest expiration KV accepts: 2038-01-19T03:14:07Z, the end of signed 32-bit seconds.
const EXPIRATION_MAX: i64 = i32::MAX as i64;

/// Integers beyond ±2^53 lose digits in JavaScript's `JSON.parse`, which is how Workers read
/// metadata.
const JS_SAFE_INTEGER_MAX: u64 = (1 << 53) - 1;

/// What resolving entries needs from the loader.
pub(crate) struct Sources<'a> {
    pub vars: &'a dyn Fn(&str) -> Option<String>,
    pub owner: &'a str,
    /// The root config's folder as given (`""` for the current directory).
    pub root_dir: &'a Path,
    /// The same folder, canonical: where every `file:` must end up.
    pub root_canonical: &'a Path,
}

/// The key being resolved: where it is written and its name (for messages).
pub(crate) struct KeySite<'a> {
    pub file: FileId,
    /// The folder of the YAML file that names the key (`file:` paths start there).
    pub dir: &'a Path,
    pub name: &'a str,
}

/// Reusable state for one load: the read buffer, allocated once.
pub(crate) struct Scratch {
    buffer: Vec<u8>,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        Self { buffer: vec![0; READ_CHUNK_BYTES] }
    }
}

/// Resolves one entry; `None` when it has problems (all of them reported).
pub(crate) fn resolve(
    sources: &Sources<'_>,
    key: &KeySite<'_>,
    entry: Sp<KeyEntry>,
    scratch: &mut Scratch,
    problems: &mut Problems,
) -> Option<DesiredEntry> {
    let mut cx = Cx { sources, key, problems, substituted: false, failed: false };
    match entry.value {
        KeyEntry::Value(kind) => {
            let json = !matches!(kind, YamlKind::Str(_));
            let bytes = cx.value_bytes(Sp::new(kind, entry.pos))?;
            let hash = content_hash(&bytes, None, Expiration::Never);
            Some(DesiredEntry {
                size: bytes.len() as u64,
                is_text: true,
                json,
                value: ValueSource::Inline(bytes.into()),
                metadata: None,
                expiration: Expiration::Never,
                sensitive: cx.substituted,
                hash,
            })
        }
        KeyEntry::Entry(fields) => cx.entry(*fields, entry.pos, scratch),
    }
}

/// What every file value of an entry or a `files:` source shares: resolved once, before the
/// files are hashed (on any thread: it is plain data).
#[derive(Debug, Clone)]
pub(crate) struct FileShared {
    pub metadata: Option<Value>,
    pub expiration: Expiration,
    pub sensitive: bool,
}

/// Resolves the fields a `files:` source applies to each of its keys (`key.name` is its key
/// template, for messages); `None` when they have problems (all of them reported).
pub(crate) fn files_shared(
    sources: &Sources<'_>,
    key: &KeySite<'_>,
    metadata: Option<YamlValue>,
    expiration: Option<YamlValue>,
    expiration_ttl: Option<Sp<i64>>,
    sensitive: Option<Sp<bool>>,
    problems: &mut Problems,
) -> Option<FileShared> {
    let mut cx = Cx { sources, key, problems, substituted: false, failed: false };
    let metadata = cx.metadata(metadata);
    let expiration = cx.expiration(expiration, expiration_ttl);
    let (Some(metadata), Some(expiration)) = (metadata, expiration) else {
        return None;
    };
    Some(FileShared {
        metadata: metadata.map(Value::Object),
        expiration,
        sensitive: cx.substituted || sensitive.is_some_and(|s| s.value),
    })
}

/// A file value's entry once the file was streamed through the hasher, or the problem
/// (reported at `shown`, the path as the config wrote or matched it). `file:` entries and
/// `files:` sources both end here.
pub(crate) fn file_entry(
    key: &str,
    path: PathBuf,
    shown: &Sp<String>,
    streamed: std::io::Result<Streamed>,
    shared: &FileShared,
    file: FileId,
    problems: &mut Problems,
) -> Option<DesiredEntry> {
    let name = &shown.value;
    let (size, is_text, hash) = match streamed {
        Ok(Streamed::Done { size, is_text, hash }) => (size, is_text, hash),
        Ok(Streamed::TooLarge { size }) => {
            problems.error(
                file,
                shown.pos,
                format!(
                    "file `{name}` is {size} bytes; KV's limit for a value is 25 MiB ({VALUE_BYTES_MAX} bytes)"
                ),
                None,
            );
            return None;
        }
        Ok(Streamed::Changed) => {
            problems.error(
                file,
                shown.pos,
                format!("file `{name}` changed while it was read"),
                None,
            );
            return None;
        }
        Err(error) => {
            let error = io_detail(&error);
            problems.error(file, shown.pos, format!("cannot read file `{name}`: {error}"), None);
            return None;
        }
    };
    // Base64 makes binary data over 19,660,800 bytes longer than a bulk-write item may be, so
    // such a value is written with the single-key PUT, which names the key in its URL.
    if !is_text && size > BULK_BASE64_BYTES_MAX as u64 && !crate::content::limits::is_url_safe(key)
    {
        problems.error(
            file,
            shown.pos,
            format!(
                "file `{name}` is {size} bytes of binary data, too large for a bulk write (over \
                 {BULK_BASE64_BYTES_MAX} bytes base64 is longer than a bulk item may be), and key \
                 `{}` cannot be written with the single-key PUT: Cloudflare is reported to \
                 refuse keys holding `^`, `...` or a control character in a URL",
                key.escape_debug()
            ),
            Some(format!(
                "rename the key, or keep the binary file at {BULK_BASE64_BYTES_MAX} bytes or less"
            )),
        );
        return None;
    }
    Some(DesiredEntry {
        value: ValueSource::File(path),
        size,
        is_text,
        json: false,
        metadata: into_map(shared.metadata.clone()),
        expiration: shared.expiration,
        sensitive: shared.sensitive,
        hash,
    })
}

fn into_map(metadata: Option<Value>) -> Option<UserMetadata> {
    match metadata {
        Some(Value::Object(map)) => Some(UserMetadata::from(map)),
        _ => None,
    }
}

/// A value before hashing: inline bytes, or a confined file and its `file:` as written.
enum Source {
    Inline(Vec<u8>),
    File(PathBuf, Sp<String>),
}

/// The state of resolving one entry.
struct Cx<'a, 'p> {
    sources: &'a Sources<'a>,
    key: &'a KeySite<'a>,
    problems: &'p mut Problems,
    /// Whether any `${…}` was replaced in the value, metadata or file path.
    substituted: bool,
    /// Whether any problem was reported.
    failed: bool,
}

impl Cx<'_, '_> {
    fn error(&mut self, pos: Pos, message: String, hint: Option<String>) {
        self.failed = true;
        self.problems.error(self.key.file, pos, message, hint);
    }

    fn entry(
        &mut self,
        fields: EntryFields,
        pos: Pos,
        scratch: &mut Scratch,
    ) -> Option<DesiredEntry> {
        let EntryFields { value, file, metadata, expiration, expiration_ttl, sensitive } = fields;
        let name = self.key.name;
        if let (Some(_), Some(file)) = (&value, &file) {
            self.error(
                file.pos,
                format!("key `{name}` sets both `value` and `file`"),
                Some("keep one: `value:` holds the value, `file:` names a file that does".into()),
            );
        } else if value.is_none() && file.is_none() {
            self.error(
                pos,
                format!("key `{name}` has neither `value` nor `file`"),
                Some(
                    "a mapping is always an entry: put the value under `value:` (a JSON object \
                     too), or name a file with `file:`"
                        .into(),
                ),
            );
        }
        let metadata = self.metadata(metadata);
        let expiration = self.expiration(expiration, expiration_ttl);
        // The value is checked even when the metadata or expiration failed: all problems show.
        let json = value.as_ref().is_some_and(|v| !matches!(v.value, YamlKind::Str(_)));
        let source = match (value, file) {
            (Some(value), None) => self.value_bytes(value).map(Source::Inline),
            (None, Some(file)) => {
                let shown = file.clone();
                self.file_path(file).map(|path| Source::File(path, shown))
            }
            _ => None,
        };
        let (Some(metadata), Some(expiration), Some(source)) = (metadata, expiration, source)
        else {
            return None;
        };
        if self.failed {
            return None;
        }
        let metadata = metadata.map(Value::Object);
        let sensitive = self.substituted || sensitive.is_some_and(|s| s.value);
        match source {
            Source::Inline(bytes) => {
                let hash = content_hash(&bytes, metadata.as_ref(), expiration);
                Some(DesiredEntry {
                    size: bytes.len() as u64,
                    is_text: true,
                    json,
                    value: ValueSource::Inline(bytes.into()),
                    metadata: into_map(metadata),
                    expiration,
                    sensitive,
                    hash,
                })
            }
            Source::File(path, shown) => {
                let shared = FileShared { metadata, expiration, sensitive };
                let streamed = hash_file(&path, &shared, &mut scratch.buffer);
                file_entry(
                    self.key.name,
                    path,
                    &shown,
                    streamed,
                    &shared,
                    self.key.file,
                    self.problems,
                )
            }
        }
    }

    /// The bytes of an inline value: a string as-is, anything else as compact JSON.
    fn value_bytes(&mut self, value: YamlValue) -> Option<Vec<u8>> {
        let pos = value.pos;
        let bytes = match value.value {
            YamlKind::Null => {
                let name = self.key.name;
                self.error(
                    pos,
                    format!("key `{name}` has no value"),
                    Some("write `\"\"` for an empty value".into()),
                );
                return None;
            }
            YamlKind::Str(text) => self.interpolate(text, pos)?.into_bytes(),
            other => {
                let json = self.json(Sp::new(other, pos), false)?;
                match serde_json::to_vec(&json) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.error(pos, format!("cannot write the value as JSON: {error}"), None);
                        return None;
                    }
                }
            }
        };
        if bytes.len() > VALUE_BYTES_MAX {
            let name = self.key.name;
            self.error(
                pos,
                format!(
                    "the value of key `{name}` is {} bytes; KV's limit is 25 MiB ({VALUE_BYTES_MAX} bytes)",
                    bytes.len()
                ),
                None,
            );
            return None;
        }
        Some(bytes)
    }

    fn interpolate(&mut self, text: String, pos: Pos) -> Option<String> {
        match interpolate::expand(text, self.sources.vars) {
            Ok(expanded) => {
                self.substituted |= expanded.substituted;
                Some(expanded.text)
            }
            Err(problems) => {
                for problem in problems {
                    let (message, hint) = problem.describe();
                    self.error(pos, message, hint);
                }
                None
            }
        }
    }

    /// A YAML node as JSON, interpolating strings. In metadata, integers must survive
    /// JavaScript. Keeps going after a problem so that all of them are reported.
    fn json(&mut self, value: YamlValue, in_metadata: bool) -> Option<Value> {
        let pos = value.pos;
        match value.value {
            YamlKind::Null => Some(Value::Null),
            YamlKind::Bool(b) => Some(Value::Bool(b)),
            YamlKind::Int(n) => {
                if in_metadata && n.unsigned_abs() > JS_SAFE_INTEGER_MAX {
                    self.unsafe_integer(pos, &n.to_string());
                    return None;
                }
                Some(Value::Number(n.into()))
            }
            YamlKind::UInt(n) => {
                if in_metadata && n > JS_SAFE_INTEGER_MAX {
                    self.unsafe_integer(pos, &n.to_string());
                    return None;
                }
                Some(Value::Number(n.into()))
            }
            YamlKind::Float(f) => match Number::from_f64(f) {
                Some(n) => Some(Value::Number(n)),
                None => {
                    // Only `.inf`, `-.inf` and `.nan` (the parser passes them through, so that one
                    // of them does not hide the file's other problems) have no JSON form.
                    let text = if f.is_nan() {
                        ".nan"
                    } else if f > 0.0 {
                        ".inf"
                    } else {
                        "-.inf"
                    };
                    self.error(
                        pos,
                        format!("`{text}` is not a number JSON can hold"),
                        Some(format!("quote it (`\"{text}\"`) to store the text")),
                    );
                    None
                }
            },
            YamlKind::BigInt(digits) => {
                self.error(
                    pos,
                    format!("integer `{digits}` does not fit in 64 bits"),
                    Some(format!("quote it (`\"{digits}\"`) to store the digits as a string")),
                );
                None
            }
            YamlKind::Str(text) => self.interpolate(text, pos).map(Value::String),
            YamlKind::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for item in items {
                    match self.json(item, in_metadata) {
                        Some(json) => out.push(json),
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Array(out))
            }
            YamlKind::Map(entries) => {
                let mut out = Map::with_capacity(entries.len());
                let mut ok = true;
                for (name, item) in entries {
                    match self.json(item, in_metadata) {
                        Some(json) => {
                            out.insert(name.value, json);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Object(out))
            }
        }
    }

    fn unsafe_integer(&mut self, pos: Pos, digits: &str) {
        self.error(
            pos,
            format!("metadata integer `{digits}` is beyond ±2^53, which JavaScript's `JSON.parse` cannot represent"),
            Some(format!(
                "Workers read metadata with `JSON.parse`; quote it (`\"{digits}\"`) to keep the digits"
            )),
        );
    }

    /// `metadata:` as a JSON object; `Some(None)` when there is none.
    fn metadata(&mut self, metadata: Option<YamlValue>) -> Option<Option<Map<String, Value>>> {
        let Some(metadata) = metadata else {
            return Some(None);
        };
        let pos = metadata.pos;
        let name = self.key.name;
        match &metadata.value {
            YamlKind::Null => return Some(None),
            YamlKind::Map(entries) => {
                if let Some((field, _)) = entries.iter().find(|(f, _)| f.value == MARKER_FIELD) {
                    let field_pos = field.pos;
                    self.error(
                        field_pos,
                        format!("metadata field `{MARKER_FIELD}` is reserved for kvsync's marker"),
                        Some("rename the field; kvsync adds `__kvsync` itself".into()),
                    );
                    return None;
                }
            }
            _ => {
                self.error(
                    pos,
                    format!("the metadata of key `{name}` must be a JSON object"),
                    Some(
                        "write a mapping, e.g. `metadata: {team: growth}`; the value itself goes \
                         under `value:`"
                            .into(),
                    ),
                );
                return None;
            }
        }
        let Some(Value::Object(map)) = self.json(metadata, true) else {
            return None;
        };
        let written = written_metadata_len_max(Some(&map), self.sources.owner);
        if written > METADATA_BYTES_MAX {
            let marker = written_metadata_len_max(None, self.sources.owner);
            self.error(
                pos,
                format!(
                    "the metadata of key `{name}` is {written} bytes once kvsync adds its marker; KV's limit is {METADATA_BYTES_MAX}"
                ),
                Some(format!(
                    "the marker takes up to {marker} bytes; move large data into the value"
                )),
            );
            return None;
        }
        Some(Some(map))
    }

    fn expiration(
        &mut self,
        expiration: Option<YamlValue>,
        ttl: Option<Sp<i64>>,
    ) -> Option<Expiration> {
        match (expiration, ttl) {
            (None, None) => Some(Expiration::Never),
            (Some(_), Some(ttl)) => {
                let name = self.key.name;
                self.error(
                    ttl.pos,
                    format!("key `{name}` sets both `expiration` and `expiration_ttl`"),
                    Some(
                        "keep one: `expiration` is a fixed moment, `expiration_ttl` counts from \
                         each write"
                            .into(),
                    ),
                );
                None
            }
            (None, Some(ttl)) => {
                if ttl.value < EXPIRATION_MIN_SECS {
                    self.error(
                        ttl.pos,
                        format!(
                            "`expiration_ttl` must be at least {EXPIRATION_MIN_SECS} seconds, not {}",
                            ttl.value
                        ),
                        Some("KV refuses shorter TTLs".into()),
                    );
                    return None;
                }
                if ttl.value > EXPIRATION_MAX {
                    self.error(
                        ttl.pos,
                        format!("`expiration_ttl` must be at most {EXPIRATION_MAX} seconds"),
                        None,
                    );
                    return None;
                }
                u64::try_from(ttl.value).ok().map(Expiration::Ttl)
            }
            (Some(at), None) => self.expiration_at(at),
        }
    }

    fn expiration_at(&mut self, at: YamlValue) -> Option<Expiration> {
        let pos = at.pos;
        let seconds = match at.value {
            YamlKind::Int(n) => n,
            YamlKind::UInt(_) | YamlKind::BigInt(_) => i64::MAX,
            YamlKind::Str(text) => self.rfc3339(&text, pos)?,
            YamlKind::Float(_) => {
                self.error(
                    pos,
                    "`expiration` must be whole seconds".into(),
                    Some("KV expirations have no fractional seconds".into()),
                );
                return None;
            }
            _ => {
                self.error(
                    pos,
                    "`expiration` must be unix seconds or an RFC 3339 time".into(),
                    Some("e.g. `expiration: 2030-01-01T00:00:00Z`".into()),
                );
                return None;
            }
        };
        if seconds <= 0 {
            self.error(pos, "`expiration` must be after 1970-01-01T00:00:00Z".into(), None);
            return None;
        }
        if seconds > EXPIRATION_MAX {
            self.error(
                pos,
                format!(
                    "`expiration` must be at most {EXPIRATION_MAX} (2038-01-19T03:14:07Z), the last second KV can store"
                ),
                Some("use `expiration_ttl`, or an earlier time (milliseconds are a common mistake)".into()),
            );
            return None;
        }
        Some(Expiration::At(seconds))
    }

    fn rfc3339(&mut self, text: &str, pos: Pos) -> Option<i64> {
        use time::format_description::well_known::Rfc3339;
        match time::OffsetDateTime::parse(text, &Rfc3339) {
            // RFC 3339 only has a `.` in fractional seconds.
            Ok(_) if text.contains('.') => {
                self.error(
                    pos,
                    format!("`expiration` `{text}` has fractional seconds"),
                    Some("KV expirations are whole seconds; drop the fraction".into()),
                );
                None
            }
            Ok(moment) => Some(moment.unix_timestamp()),
            Err(error) => {
                self.error(
                    pos,
                    format!("`expiration` `{text}` is not an RFC 3339 time: {error}"),
                    Some("e.g. `2030-01-01T00:00:00Z` or `2030-01-01T01:00:00+01:00`".into()),
                );
                None
            }
        }
    }

    /// A `file:` path, interpolated and confined to the root config's folder; canonical. A path
    /// with `${VAR}` in it is sensitive: its problems name the path as written (the variable),
    /// never what the variable holds.
    fn file_path(&mut self, file: Sp<String>) -> Option<PathBuf> {
        let pos = file.pos;
        let written = file.value.clone();
        let before = std::mem::take(&mut self.substituted);
        let raw = self.interpolate(file.value, pos);
        let interpolated = self.substituted;
        self.substituted |= before;
        let raw = raw?;
        let shown = if interpolated { written.as_str() } else { raw.as_str() };
        match confine_shown(self.sources, self.key.dir, &raw, shown) {
            Ok(path) => Some(path),
            Err((message, hint)) => {
                self.error(pos, message, hint);
                None
            }
        }
    }
}

/// Resolves `raw` (relative to `dir`) and makes sure it stays inside the root config's folder,
/// symlinks included: a pull request must not be able to read the runner's files into a plan.
/// Returns the canonical path of the file.
pub(crate) fn confine(
    sources: &Sources<'_>,
    dir: &Path,
    raw: &str,
) -> Result<PathBuf, (String, Option<String>)> {
    confine_shown(sources, dir, raw, raw)
}

/// [`confine`], naming the path `shown` in its messages: the path as the config wrote it when
/// `raw` is the result of interpolating it.
fn confine_shown(
    sources: &Sources<'_>,
    dir: &Path,
    raw: &str,
    shown: &str,
) -> Result<PathBuf, (String, Option<String>)> {
    let relative = Path::new(raw);
    let outside = || {
        (
            format!("file `{shown}` is outside the config folder"),
            Some(
                "`file:` paths must stay inside the folder of the root config, so that a pull \
                 request cannot read other files of the machine it runs on"
                    .to_owned(),
            ),
        )
    };
    if raw.is_empty() {
        return Err(("`file:` is empty".to_owned(), None));
    }
    if relative.has_root() || relative.is_absolute() {
        return Err(outside());
    }
    // Lexically first, so `../../etc/passwd` says "outside" rather than "not found".
    let from_root = dir.strip_prefix(sources.root_dir).unwrap_or(dir);
    let mut depth: usize = 0;
    for component in from_root.join(relative).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return Err(outside()),
            },
            Component::RootDir | Component::Prefix(_) => return Err(outside()),
        }
    }
    let joined = dir.join(relative);
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(canonical) => canonical,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err((
                format!("file `{shown}` not found"),
                Some(format!(
                    "`file:` paths are relative to the YAML file that names them (here `{}`)",
                    shown_dir(dir).display()
                )),
            ));
        }
        Err(error) => {
            return Err((format!("cannot read file `{shown}`: {}", io_detail(&error)), None));
        }
    };
    if !canonical.starts_with(sources.root_canonical) {
        return Err(outside());
    }
    if !canonical.is_file() {
        return Err((format!("`{shown}` is not a file"), None));
    }
    Ok(canonical)
}

/// What went wrong reading a file, without the path `fs_err` adds to its messages: the
/// message names the file as the config wrote it, and the full path could hold the value of an
/// interpolated variable.
fn io_detail(error: &std::io::Error) -> String {
    match error.get_ref().and_then(std::error::Error::source) {
        Some(inner) => inner.to_string(),
        None => error.to_string(),
    }
}

/// A folder for messages and file system calls: `""` is the current directory.
pub(crate) fn shown_dir(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() { Path::new(".") } else { dir }
}

/// What streaming a file through the hasher found.
pub(crate) enum Streamed {
    Done {
        size: u64,
        is_text: bool,
        hash: crate::content::ContentHash,
    },
    TooLarge {
        size: u64,
    },
    /// The file's length changed between asking and reading.
    Changed,
}

/// Hashes a file in fixed-size chunks, checking UTF-8 on the way; never holds the whole file.
/// `buffer` is the chunk buffer ([`READ_CHUNK_BYTES`] is what [`Scratch`] holds).
pub(crate) fn hash_file(
    path: &Path,
    shared: &FileShared,
    buffer: &mut [u8],
) -> std::io::Result<Streamed> {
    let (metadata, expiration) = (shared.metadata.as_ref(), shared.expiration);
    let mut file = fs_err::File::open(path)?;
    let size = file.metadata()?.len();
    if size > VALUE_BYTES_MAX as u64 {
        return Ok(Streamed::TooLarge { size });
    }
    let mut hasher = ContentHasher::new(size);
    let mut utf8 = Utf8Check::default();
    let mut read: u64 = 0;
    loop {
        let n = match file.read(buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        read += n as u64;
        if read > size {
            return Ok(Streamed::Changed);
        }
        hasher.update(&buffer[..n]);
        utf8.feed(&buffer[..n]);
    }
    if read != size || hasher.remaining() != 0 {
        return Ok(Streamed::Changed);
    }
    Ok(Streamed::Done { size, is_text: utf8.finish(), hash: hasher.finish(metadata, expiration) })
}

/// [`hash_file`] with a chunk buffer kept per thread (for the loader's workers).
pub(crate) fn hash_file_here(path: &Path, shared: &FileShared) -> std::io::Result<Streamed> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        if buffer.is_empty() {
            buffer.resize(READ_CHUNK_BYTES, 0);
        }
        hash_file(path, shared, &mut buffer)
    })
}

/// Checks that a byte stream is UTF-8, chunk by chunk: a character split across two chunks is
/// carried over and checked whole.
#[derive(Debug, Default)]
struct Utf8Check {
    invalid: bool,
    pending: [u8; 4],
    pending_len: usize,
}

impl Utf8Check {
    fn feed(&mut self, mut chunk: &[u8]) {
        if self.invalid {
            return;
        }
        if self.pending_len > 0 {
            let width = utf8_width(self.pending[0]);
            let take = (width - self.pending_len).min(chunk.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&chunk[..take]);
            self.pending_len += take;
            chunk = &chunk[take..];
            if self.pending_len < width {
                return;
            }
            if std::str::from_utf8(&self.pending[..width]).is_err() {
                self.invalid = true;
                return;
            }
            self.pending_len = 0;
        }
        if let Err(error) = std::str::from_utf8(chunk) {
            match error.error_len() {
                Some(_) => self.invalid = true,
                // The chunk ends inside a character (at most 3 bytes of it).
                None => {
                    let tail = &chunk[error.valid_up_to()..];
                    self.pending[..tail.len()].copy_from_slice(tail);
                    self.pending_len = tail.len();
                }
            }
        }
    }

    fn finish(&self) -> bool {
        !self.invalid && self.pending_len == 0
    }
}

/// The length of the UTF-8 sequence a lead byte starts (a lead `from_utf8` called incomplete).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_check_survives_any_chunking() {
        let text = "aé€😀z".repeat(3);
        for chunk in 1..8 {
            let mut check = Utf8Check::default();
            for piece in text.as_bytes().chunks(chunk) {
                check.feed(piece);
            }
            assert!(check.finish(), "chunk size {chunk}");
        }
        for bad in [&b"a\xff"[..], b"\xe2\x82", b"\xe2\x28\xa1", b"\xf0\x9f\x98"] {
            for chunk in 1..4 {
                let mut check = Utf8Check::default();
                for piece in bad.chunks(chunk) {
                    check.feed(piece);
                }
                assert!(!check.finish(), "{bad:?} in chunks of {chunk}");
            }
        }
    }
}
