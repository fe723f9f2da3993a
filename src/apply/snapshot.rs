//! The snapshot an apply saves before its first write: the live state of every key it will
//! overwrite, delete or create, so that `kvsync restore` can put it back.
//!
//! The file is JSON Lines (`schemas/snapshot.schema.json` describes a line): a header, one line
//! per key, and a trailer with the number of key lines and the sha256 of every byte before it.
//! A file without a valid trailer is incomplete and restore refuses it. It is written as it is
//! read, never held in memory, to a new file (never through a symlink, never over another
//! file), and flushed and fsync'd before the apply sends its first write.
//!
//! Values are read through the one value reader ([`crate::kv::read`]): 100 per bulk get, then
//! singly those whose text read cannot be proven exact. On a target whose text reads are not
//! exact (Cloudflare drops a leading U+FEFF), a text read is exact when it hashes, with the
//! listed metadata and absolute expiration, to the hash of the key's own clean marker; every
//! other key (unmarked, hand-edited, written with a TTL, binary) is read again as bytes.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::{Desired, DesiredScope};
use crate::content::{Expiration, content_hash};
use crate::kv::metadata::MarkerField;
use crate::kv::{self, KvStore, ListedKey, LiveValue, ReadHint, TargetKind};
use crate::plan::{Action, LiveScope, Plan, ScopePlan};

/// The header's `kind`.
pub const KIND: &str = "kvsync-snapshot";
/// The header's `format_version`.
pub const FORMAT_VERSION: u32 = 1;

/// A snapshot that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be created or written: the apply writes nothing.
    #[error("cannot write the snapshot `{}`: {source}; nothing was written", path.display())]
    Write { path: PathBuf, source: std::io::Error },

    /// A live value could not be read, so the snapshot would not be complete.
    #[error(
        "cannot read the live value of `{key}` for the snapshot: {reason}; nothing was written"
    )]
    Unreadable { key: String, reason: String },

    /// The store failed while the values were read.
    #[error("cannot read the live values for the snapshot: {0}; nothing was written")]
    Read(#[from] kv::Error),

    /// The file cannot be read or is not a snapshot.
    #[error("snapshot `{}`: {message}", path.display())]
    Invalid { path: PathBuf, message: String },

    /// The file has no trailer, or one that does not match its lines.
    #[error("snapshot `{}` is incomplete: {message}; nothing was written", path.display())]
    Incomplete { path: PathBuf, message: String },
}

/// What to do about a snapshot whose values could not be read.
const RUN_AGAIN: &str =
    "run `kvsync apply` again, or pass `--no-snapshot` to apply without a snapshot";

impl crate::text::Hint for Error {
    fn hints(&self) -> Vec<String> {
        match self {
            Self::Write { .. } => vec![
                "pass `--snapshot PATH` to write it where kvsync may create files, or `--no-snapshot` to apply without one".to_owned(),
            ],
            Self::Unreadable { .. } => vec![RUN_AGAIN.to_owned()],
            // The store's own hint first: a damaged local store needs more than a second run.
            Self::Read(error) => {
                let mut hints = crate::text::Hint::hints(error);
                hints.push(RUN_AGAIN.to_owned());
                hints
            }
            Self::Invalid { .. } => Vec::new(),
            Self::Incomplete { .. } => vec![
                "an apply stopped while it wrote this snapshot wrote no key after it; use an earlier snapshot".to_owned(),
            ],
        }
    }
}

/// One line of a snapshot file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "line", rename_all = "snake_case")]
#[schemars(title = "kvsync snapshot line")]
pub enum Line {
    /// The first line: what the snapshot is of.
    Header(Header),
    /// One key the apply was about to change, as it was before.
    Key(KeyLine),
    /// The last line; a file without it is incomplete.
    Trailer(Trailer),
}

/// What the snapshot is of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always `kvsync-snapshot`.
    pub kind: String,
    /// 1.
    pub format_version: u32,
    /// The config's `owner:`, written into every marker the apply writes.
    pub owner: String,
    /// The revision the apply records in its markers, if any.
    pub rev: Option<String>,
    pub target: TargetKind,
    /// The Cloudflare account id, on that target.
    pub account: Option<String>,
    /// Each scope the apply changes.
    pub namespaces: Vec<ScopeRef>,
    /// When the snapshot was taken, RFC 3339 UTC.
    pub time: String,
    /// The flags that shaped it (`--snapshot-sensitive`).
    pub flags: Vec<String>,
}

/// A scope of the config and its namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeRef {
    pub scope: String,
    pub namespace: String,
    pub prefix: String,
}

/// How a value is written in its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// UTF-8 text, as is.
    Text,
    /// Any bytes, standard base64 with padding.
    Base64,
}

/// Why a value is not in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeftOut {
    /// The key is sensitive and the apply was not given `--snapshot-sensitive`.
    Sensitive,
}

/// One key as it was before the apply, and what the apply writes there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyLine {
    pub scope: String,
    pub namespace: String,
    pub key: String,
    /// What the apply does: `create`, `update`, `adopt`, `take_over` or `delete`.
    pub action: String,
    /// Whether the key existed before the apply; `false` for a key it creates.
    pub existed: bool,
    /// The value, when it existed and was not left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// Why the value (and everything derived from it) is not here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_out: Option<LeftOut>,
    /// The whole metadata as listed, the `__kvsync` marker included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// Absolute unix seconds, when the key expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
    /// The sha256 of the value's bytes, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The content hash the apply writes into the key's marker, hex; absent for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<String>,
}

impl KeyLine {
    /// The value's bytes, when the line holds them.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, String> {
        match (&self.value, self.encoding) {
            (None, _) => Ok(None),
            (Some(text), Some(Encoding::Text) | None) => Ok(Some(text.clone().into_bytes())),
            (Some(text), Some(Encoding::Base64)) => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(Some)
                .map_err(|error| format!("the value of `{}` is not base64: {error}", self.key)),
        }
    }
}

/// The last line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// How many key lines come before it.
    pub count: u64,
    /// The sha256, hex, of every byte of the file before this line.
    pub sha256: String,
}

/// The JSON Schema of one line, pretty-printed and ending in a newline (what
/// `schemas/snapshot.schema.json` holds).
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schemars::schema_for!(Line))
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

/// Creates `path` as a new file: never over an existing file and never through a symlink
/// (`O_CREAT | O_EXCL` refuses both).
pub fn create_new(path: &Path) -> std::io::Result<std::fs::File> {
    crate::fs::create_new(path)
}

/// Writes a snapshot line by line, hashing what it writes.
pub struct Writer {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    sha: Sha256,
    count: u64,
}

impl Writer {
    /// Creates the file ([`create_new`], its folder never reached through a link out of the
    /// current folder) and writes the header.
    pub fn create(path: &Path, header: &Header) -> Result<Self, Error> {
        // Like every output kvsync writes, a snapshot reached through a linked folder must stay
        // inside the current folder (`crate::fs`).
        let file = crate::fs::create_new_within(path, Path::new("."))
            .map_err(|error| write_error(path, std::io::Error::other(error.to_string())))?;
        let mut writer = Self {
            path: path.to_path_buf(),
            out: std::io::BufWriter::with_capacity(1 << 16, file),
            sha: Sha256::new(),
            count: 0,
        };
        writer.line(&Line::Header(header.clone()))?;
        Ok(writer)
    }

    /// Writes one key's line.
    pub fn key(&mut self, line: KeyLine) -> Result<(), Error> {
        self.count += 1;
        self.line(&Line::Key(line))
    }

    fn line(&mut self, line: &Line) -> Result<(), Error> {
        let mut text = serde_json::to_vec(line)
            .map_err(|error| write_error(&self.path, std::io::Error::other(error.to_string())))?;
        text.push(b'\n');
        self.sha.update(&text);
        self.out.write_all(&text).map_err(|source| write_error(&self.path, source))
    }

    /// Writes the trailer, then flushes and fsyncs the file and its folder: when this returns,
    /// the snapshot is on disk. Returns how many keys it holds.
    pub fn finish(mut self) -> Result<u64, Error> {
        let sha256 = base16ct::lower::encode_string(&self.sha.clone().finalize());
        let trailer = Line::Trailer(Trailer { count: self.count, sha256 });
        let text = serde_json::to_vec(&trailer)
            .map_err(|error| write_error(&self.path, std::io::Error::other(error.to_string())))?;
        let path = self.path.clone();
        let fail = |source| write_error(&path, source);
        self.out.write_all(&text).and_then(|()| self.out.write_all(b"\n")).map_err(fail)?;
        let file = self.out.into_inner().map_err(|error| fail(error.into_error()))?;
        file.sync_all().map_err(fail)?;
        // The file's name is in its folder: sync that too (where a folder can be opened).
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(folder) = std::fs::File::open(folder)
        {
            drop(folder.sync_all());
        }
        Ok(self.count)
    }
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write { path: path.to_path_buf(), source }
}

/// Where a snapshot goes when `--snapshot` is not given: `.kvsync/snapshots/<UTC time>-<rev>.jsonl`
/// under `base` (the folder the default local store lives in). Creates the folders through
/// `crate::fs::create_folders`, which gives a `.kvsync` it creates its `.gitignore`.
pub fn default_path(base: &Path, now: i64, rev: Option<&str>) -> Result<PathBuf, Error> {
    let folder = base.join(crate::fs::STATE_FOLDER).join("snapshots");
    crate::fs::create_folders(&folder).map_err(|error| match error {
        crate::fs::Error::Write { path, source } => write_error(&path, source),
        other => write_error(&folder, std::io::Error::other(other.to_string())),
    })?;
    let time = time::OffsetDateTime::from_unix_timestamp(now)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .unwrap_or_default();
    // The rev as a file name: its first 12 characters that are safe in one.
    let rev: String = rev
        .unwrap_or("norev")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(12)
        .collect();
    let rev = if rev.is_empty() || rev.starts_with('.') { "norev".to_owned() } else { rev };
    // Two applies in one second with the same rev get distinct names.
    for n in 0..1000u32 {
        let name = match n {
            0 => format!("{time}-{rev}.jsonl"),
            n => format!("{time}-{rev}-{n}.jsonl"),
        };
        let path = folder.join(name);
        if !path.exists() && path.symlink_metadata().is_err() {
            return Ok(path);
        }
    }
    Err(write_error(&folder, std::io::Error::other("too many snapshots in one second")))
}

/// RFC 3339 UTC of unix seconds.
pub fn rfc3339(now: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| now.to_string())
}

/// Exact live bytes already read, by scope index, key and action ([`Options::known`]).
pub type Known<'a> = dyn Fn(usize, &str, &str) -> Option<Vec<u8>> + 'a;

/// What a snapshot is to hold besides the plan.
pub struct Options<'a> {
    pub header: Header,
    /// `--snapshot-sensitive`: sensitive values are kept too.
    pub sensitive: bool,
    /// Which scopes (by index into the plan) are left out (`snapshot: false`).
    pub skip_scope: &'a dyn Fn(usize) -> bool,
    /// A live value already read exactly for the plan's diffs, by scope index, key and action
    /// (`adopt`, …), when it may still be taken as live (no prompt was open since): it is not
    /// read again.
    pub known: &'a Known<'a>,
}

/// What taking a snapshot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Taken {
    /// Key lines written.
    pub keys: u64,
    /// Keys whose values were read.
    pub keys_read: u64,
    /// Keys read again singly for their exact bytes.
    pub read_again: u64,
    /// Values left out as sensitive.
    pub left_out: u64,
    /// Values taken from the reads of the plan's diffs instead of read again.
    pub reused: u64,
}

/// One key the snapshot records, before its value is read.
struct Pending<'a> {
    line: KeyLine,
    listed: Option<&'a ListedKey>,
}

/// Which keys of `plan` a snapshot records: every put and delete, in plan order, per scope.
/// How many of them need a value read, and how many of those cannot be read in bulk even on a
/// target with inexact text reads (no clean marker of ours to prove a text read): for the
/// plan's cost line.
pub fn keys_to_read(plan: &Plan, skip_scope: &dyn Fn(usize) -> bool) -> (usize, usize) {
    let mut keys = 0;
    let mut unmarked = 0;
    for (index, scope) in plan.scopes.iter().enumerate() {
        if skip_scope(index) {
            continue;
        }
        for change in &scope.changes {
            if (change.action.is_put() || change.action.is_delete())
                && change.live.is_some()
                && !change.sensitive()
            {
                keys += 1;
                unmarked +=
                    usize::from(matches!(change.action, Action::Adopt | Action::TakeOver { .. }));
            }
        }
    }
    (keys, unmarked)
}

/// Reads the live state of every key `plan` changes and writes it to `path`, complete,
/// flushed and fsync'd; call it before the first write. `live` is the listing the plan was made
/// from (after an interactive apply's prompt, the check that nothing changed has compared it
/// with a fresh one); values are read now.
pub async fn take<S: KvStore>(
    store: &S,
    desired: &Desired,
    plan: &Plan,
    live: &[LiveScope],
    options: &Options<'_>,
    path: &Path,
) -> Result<Taken, Error> {
    let mut writer = Writer::create(path, &options.header)?;
    let result = write_keys(store, desired, plan, live, options, &mut writer).await;
    match result {
        Ok(mut taken) => {
            taken.keys = writer.finish()?;
            Ok(taken)
        }
        Err(error) => {
            // An incomplete snapshot is never left to be mistaken for one: it has no trailer,
            // and it is removed.
            drop(writer);
            drop(std::fs::remove_file(path));
            Err(error)
        }
    }
}

async fn write_keys<S: KvStore>(
    store: &S,
    desired: &Desired,
    plan: &Plan,
    live: &[LiveScope],
    options: &Options<'_>,
    writer: &mut Writer,
) -> Result<Taken, Error> {
    let mut taken = Taken::default();
    for (index, scope_plan) in plan.scopes.iter().enumerate() {
        if (options.skip_scope)(index) {
            continue;
        }
        let Some(scope) = desired.scopes.get(index) else { continue };
        let listed_keys = live.get(index).map_or(&[][..], |l| l.keys.as_slice());
        let mut pending = pending_lines(scope, scope_plan, listed_keys, options);
        // Values already read exactly for the plan's diffs are taken as they are.
        for item in pending.iter_mut().filter(|item| item.listed.is_some()) {
            if let Some(bytes) = (options.known)(index, &item.line.key, &item.line.action) {
                let value = match String::from_utf8(bytes) {
                    Ok(text) => LiveValue::Text(text),
                    Err(error) => LiveValue::Binary(error.into_bytes()),
                };
                record(item, value)?;
                item.listed = None;
                taken.reused += 1;
            }
        }
        read_pending(store, &scope.namespace_id, &mut pending, &mut taken).await?;
        for item in pending {
            taken.left_out += u64::from(item.line.left_out.is_some());
            writer.key(item.line)?;
        }
    }
    Ok(taken)
}

/// The lines of one scope's puts and deletes, in plan order, before any value is read: a key
/// left out (sensitive) has no listed key to read.
fn pending_lines<'a>(
    scope: &DesiredScope,
    scope_plan: &ScopePlan,
    listed_keys: &'a [ListedKey],
    options: &Options<'_>,
) -> Vec<Pending<'a>> {
    let find = |key: &str| {
        listed_keys
            .binary_search_by(|k| k.name.as_str().as_bytes().cmp(key.as_bytes()))
            .ok()
            .map(|at| &listed_keys[at])
            .or_else(|| listed_keys.iter().find(|k| k.name.as_str() == key))
    };
    let mut pending: Vec<Pending<'_>> = Vec::new();
    for change in &scope_plan.changes {
        let action = match &change.action {
            Action::Create => "create",
            Action::Update => "update",
            Action::Adopt => "adopt",
            Action::TakeOver { .. } => "take_over",
            Action::Delete { .. } => "delete",
            _ => continue,
        };
        let writes = change
            .action
            .is_put()
            .then(|| scope.entries.get(&change.key).map(|entry| entry.hash.to_hex()))
            .flatten();
        let listed = change.live.as_ref().and_then(|_| find(&change.key));
        let left_out = change.sensitive() && !options.sensitive;
        let line = KeyLine {
            scope: scope.name.clone(),
            namespace: scope.namespace_id.clone(),
            key: change.key.clone(),
            action: action.to_owned(),
            existed: listed.is_some(),
            value: None,
            encoding: None,
            left_out: (left_out && listed.is_some()).then_some(LeftOut::Sensitive),
            metadata: None,
            expiration: listed.and_then(|l| l.expiration),
            sha256: None,
            writes: if left_out { None } else { writes },
        };
        pending.push(Pending { line, listed: listed.filter(|_| !left_out) });
    }
    pending
}

/// Reads the values of the pending keys that still need one (listed, not left out, not known
/// already) and records them: each once through the one reader, then a text read that cannot
/// be proven exact again as bytes.
async fn read_pending<S: KvStore>(
    store: &S,
    namespace_id: &str,
    pending: &mut [Pending<'_>],
    taken: &mut Taken,
) -> Result<(), Error> {
    let exact_reads = store.capabilities().exact_text_reads;
    // Values: every other listed key not left out, once, through the one reader.
    let to_read: Vec<usize> = (0..pending.len()).filter(|&i| pending[i].listed.is_some()).collect();
    let names: Vec<String> = to_read.iter().map(|&i| pending[i].line.key.clone()).collect();
    let hints: Vec<ReadHint> = to_read
        .iter()
        .map(|&i| ReadHint {
            exact: false,
            listed_expiration: pending[i].listed.and_then(|l| l.expiration),
        })
        .collect();
    taken.keys_read += names.len() as u64;
    let mut values = kv::read::read_values(store, namespace_id, &names, &hints, &|_| {}).await?;
    // A text read that cannot be proven exact is read again as bytes.
    let again: Vec<usize> = (0..to_read.len())
        .filter(|&j| {
            !exact_reads
                && match &values[j] {
                    LiveValue::Text(text) => {
                        !proven_by_marker(text.as_bytes(), pending[to_read[j]].listed)
                    }
                    _ => false,
                }
        })
        .collect();
    if !again.is_empty() {
        let again_names: Vec<String> = again.iter().map(|&j| names[j].clone()).collect();
        let again_hints: Vec<ReadHint> =
            again.iter().map(|&j| ReadHint { exact: true, ..hints[j] }).collect();
        taken.read_again += again.len() as u64;
        let exact =
            kv::read::read_values(store, namespace_id, &again_names, &again_hints, &|_| {}).await?;
        for (&j, value) in again.iter().zip(exact) {
            values[j] = value;
        }
    }
    for (j, value) in to_read.iter().zip(values) {
        record(&mut pending[*j], value)?;
    }
    Ok(())
}

/// Fills a key's line with its live value (read exactly) and its listed metadata.
fn record(item: &mut Pending<'_>, value: LiveValue) -> Result<(), Error> {
    let bytes = match value {
        LiveValue::Text(text) => {
            item.line.encoding = Some(Encoding::Text);
            let bytes = text.as_bytes().to_vec();
            item.line.value = Some(text);
            bytes
        }
        LiveValue::Binary(bytes) => {
            item.line.encoding = Some(Encoding::Base64);
            item.line.value = Some(base64::engine::general_purpose::STANDARD.encode(&bytes));
            bytes
        }
        // Gone since it was listed: it did not exist when the apply wrote.
        LiveValue::Missing => {
            item.line.existed = false;
            item.line.expiration = None;
            item.listed = None;
            return Ok(());
        }
        LiveValue::Unreadable(reason) => {
            return Err(Error::Unreadable { key: item.line.key.clone(), reason });
        }
    };
    item.line.sha256 = Some(base16ct::lower::encode_string(&Sha256::digest(&bytes)));
    item.line.metadata = item.listed.and_then(|l| l.metadata.to_json());
    Ok(())
}

/// Whether `bytes`, read as text, are exactly the stored value: the key's clean marker holds
/// the hash of these bytes with its user metadata and its absolute expiration (a key written
/// with a TTL cannot be proven this way).
fn proven_by_marker(bytes: &[u8], listed: Option<&ListedKey>) -> bool {
    let Some(listed) = listed else { return false };
    let MarkerField::Clean(marker) = listed.metadata.marker_field() else { return false };
    let user = listed.metadata.user().map(serde_json::Value::Object);
    let expiration = listed.expiration.map_or(Expiration::Never, Expiration::At);
    content_hash(bytes, user.as_ref(), expiration).0 == *marker.sha256()
}

/// A snapshot read back: its header and key lines, checked complete.
pub struct Snapshot {
    pub header: Header,
    pub keys: Vec<KeyLine>,
}

/// Reads a snapshot and refuses one that is not complete: no trailer, a trailer whose count or
/// sha256 does not match the lines before it, or anything after it.
pub fn read(path: &Path) -> Result<Snapshot, Error> {
    let invalid = |message: String| Error::Invalid { path: path.to_path_buf(), message };
    let incomplete =
        |message: &str| Error::Incomplete { path: path.to_path_buf(), message: message.to_owned() };
    let file = std::fs::File::open(path).map_err(|error| invalid(error.to_string()))?;
    let mut reader = std::io::BufReader::new(file);
    let mut sha = Sha256::new();
    let mut header = None;
    let mut keys = Vec::new();
    let mut trailer: Option<Trailer> = None;
    let mut buffer = Vec::new();
    let mut number = 0usize;
    loop {
        buffer.clear();
        let n = reader.read_until(b'\n', &mut buffer).map_err(|e| invalid(e.to_string()))?;
        if n == 0 {
            break;
        }
        number += 1;
        if trailer.is_some() {
            return Err(invalid(format!("line {number} comes after the trailer")));
        }
        if buffer.last() != Some(&b'\n') {
            return Err(incomplete("its last line is cut short"));
        }
        let line: Line = serde_json::from_slice(&buffer).map_err(|error| {
            if number == 1 {
                invalid(format!("not a kvsync snapshot: {error}"))
            } else {
                invalid(format!("line {number}: {error}"))
            }
        })?;
        match line {
            Line::Header(found) if number == 1 => {
                if found.kind != KIND {
                    return Err(invalid(format!(
                        "not a kvsync snapshot (`kind` is `{}`)",
                        found.kind
                    )));
                }
                if found.format_version != FORMAT_VERSION {
                    return Err(invalid(format!(
                        "format version {} is not one this kvsync reads ({FORMAT_VERSION})",
                        found.format_version
                    )));
                }
                header = Some(found);
            }
            _ if number == 1 => {
                return Err(invalid("not a kvsync snapshot (no header)".to_owned()));
            }
            Line::Header(_) => return Err(invalid(format!("line {number} is a second header"))),
            Line::Key(key) => keys.push(key),
            Line::Trailer(found) => {
                trailer = Some(found);
                continue;
            }
        }
        sha.update(&buffer);
    }
    let header = header.ok_or_else(|| invalid("the file is empty".to_owned()))?;
    let trailer = trailer.ok_or_else(|| incomplete("it has no trailer"))?;
    if trailer.count != keys.len() as u64 {
        return Err(incomplete("its trailer counts another number of keys"));
    }
    if trailer.sha256 != base16ct::lower::encode_string(&sha.finalize()) {
        return Err(incomplete("its trailer's sha256 does not match its lines"));
    }
    Ok(Snapshot { header, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            kind: KIND.to_owned(),
            format_version: FORMAT_VERSION,
            owner: "web".to_owned(),
            rev: Some("abc".to_owned()),
            target: TargetKind::Local,
            account: None,
            namespaces: Vec::new(),
            time: rfc3339(0),
            flags: Vec::new(),
        }
    }

    fn line(key: &str, value: &str) -> KeyLine {
        KeyLine {
            scope: "flags".to_owned(),
            namespace: "ns".to_owned(),
            key: key.to_owned(),
            action: "update".to_owned(),
            existed: true,
            value: Some(value.to_owned()),
            encoding: Some(Encoding::Text),
            left_out: None,
            metadata: None,
            expiration: None,
            sha256: None,
            writes: None,
        }
    }

    #[test]
    fn a_written_snapshot_reads_back_and_a_cut_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.jsonl");
        let mut writer = Writer::create(&path, &header()).expect("create");
        // Hostile names and values: line breaks, U+2028, quotes, `${`.
        for (key, value) in [("a\nb", "x\u{2028}y"), ("q\"", "${HOME} */ -->"), ("c", "")] {
            writer.key(line(key, value)).expect("key");
        }
        assert_eq!(writer.finish().expect("finish"), 3);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 5, "{text}");
        let snapshot = read(&path).expect("complete");
        assert_eq!(snapshot.header, header());
        assert_eq!(snapshot.keys[0].key, "a\nb");
        assert_eq!(snapshot.keys[1].value.as_deref(), Some("${HOME} */ -->"));

        // Without its trailer.
        let cut: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, &cut).expect("write");
        assert!(matches!(read(&path), Err(Error::Incomplete { .. })));
        // With a line changed under a valid trailer.
        std::fs::write(&path, text.replacen("x\\u2028y", "x y", 1).replacen('\u{2028}', " ", 1))
            .expect("write");
        let changed = std::fs::read_to_string(&path).expect("read");
        assert_ne!(changed, text);
        assert!(matches!(read(&path), Err(Error::Incomplete { .. })));
        // Cut in the middle of a line.
        std::fs::write(&path, &text[..text.len() - 3]).expect("write");
        assert!(matches!(read(&path), Err(Error::Incomplete { .. })));
    }

    #[test]
    fn a_snapshot_is_never_written_over_a_file_or_through_a_symlink() {
        let dir = tempfile::tempdir().expect("tempdir");
        let existing = dir.path().join("there.jsonl");
        std::fs::write(&existing, "keep").expect("write");
        assert!(matches!(Writer::create(&existing, &header()), Err(Error::Write { .. })));
        assert_eq!(std::fs::read_to_string(&existing).expect("read"), "keep");
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            let link = dir.path().join("link.jsonl");
            std::os::unix::fs::symlink(&target, &link).expect("symlink");
            assert!(matches!(Writer::create(&link, &header()), Err(Error::Write { .. })));
            assert!(!target.exists());
        }
    }

    #[test]
    fn the_default_folder_is_ignored_by_git_when_kvsync_creates_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = default_path(dir.path(), 1_700_000_000, Some("0123456789abcdef")).expect("path");
        assert!(
            path.ends_with(".kvsync/snapshots/20231114T221320Z-0123456789ab.jsonl"),
            "{path:?}"
        );
        let ignore = std::fs::read_to_string(dir.path().join(".kvsync/.gitignore")).expect("read");
        assert_eq!(ignore, "*\n");
        // A hostile rev makes a plain file name.
        let path = default_path(dir.path(), 0, Some("../../x/y")).expect("path");
        assert_eq!(path.parent(), Some(dir.path().join(".kvsync/snapshots").as_path()));
    }

    /// `schemas/snapshot.schema.json` is generated; this test rewrites it when the line types
    /// changed (then fails, so the change is seen and committed).
    #[test]
    fn schema_file_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/snapshot.schema.json");
        let generated = schema_json();
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != generated {
            std::fs::write(&path, &generated).expect("write the schema");
            panic!(
                "`{}` was out of date and has been updated; review and commit it",
                path.display()
            );
        }
    }
}
