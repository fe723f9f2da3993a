//! `kvsync pull`'s edits: the config changed so that its desired state says what is live, with
//! a minimal diff.
//!
//! Each entry is found where it is defined (the environment's overlay, the root config, an
//! included file) by reading those files again with the YAML parser's events, which give every
//! node's byte range ([`yaml::span_tree`]). Only the bytes of the value, metadata or expiration
//! that changed are replaced; every other byte of every file stays as it was. A new value keeps
//! the form of the old one (a plain or quoted string, a number, a flow or block mapping) only when
//! reading it back gives exactly the live bytes; otherwise it is written as a quoted string, which
//! KV stores as its raw text. Every edited entry is read back through the loader's own code
//! (`sources::resolve`) before anything is written, and an edit that does not read back as live
//! is not made but reported. A `file:` value's file gets the live bytes. An entry reached through
//! a YAML anchor or alias is reported, never edited. With environments, a key from the base
//! config gets an override in the environment's overlay, so the other environments keep theirs.

mod check;
#[cfg(test)]
mod property;
#[doc(hidden)]
pub mod suite;

pub use check::{CheckError, check};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::desired::{DesiredEntry, ValueSource};
use super::interpolate;
use super::model::{IncludeFile, KeyEntry};
use super::problems::Problems;
use super::sources::{self, KeySite, Scratch, Sources};
use super::yaml::{self, ScalarForm, SpanKind, SpanNode};
use super::yaml_out;
use crate::content::Expiration;

/// What one key's entry should become.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub scope: String,
    pub key: String,
    pub what: What,
}

/// The parts of an entry that change.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// Make the desired state say this (only the parts marked changed are edited).
    Set {
        value: Option<Vec<u8>>,
        metadata: Option<Option<Map<String, Value>>>,
        expiration: Option<Option<i64>>,
    },
    /// Add the key (to the scope's `keys:` or `--into FILE`).
    Add { value: Vec<u8>, metadata: Option<Map<String, Value>>, expiration: Option<i64> },
    /// Remove the entry.
    Remove,
}

/// The edits for a set of changes: new file contents, and the changes that cannot be made.
#[derive(Debug, Default)]
pub struct Edits {
    /// Every file that changes: its path, its bytes now and after.
    pub files: Vec<FileEdit>,
    /// Changes made: the scope, the key and where (`kvsync.yaml:12:7`, or a value file).
    pub made: Vec<(String, String, String)>,
    /// Changes not made: the scope, the key and why.
    pub refused: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileEdit {
    pub path: PathBuf,
    pub before: Vec<u8>,
    pub after: Vec<u8>,
}

/// Where the edits are made.
pub struct Context<'a> {
    /// The root config.
    pub root: &'a Path,
    /// The YAML files the load read (root first).
    pub files: &'a [PathBuf],
    /// The environment the desired state was loaded for, when the config has environments.
    pub environment: Option<&'a str>,
    /// `--into FILE`: where added keys go.
    pub into: Option<&'a Path>,
    /// `--preview`, as the config was loaded.
    pub preview: Option<bool>,
    /// `--target`, as the config was loaded.
    pub target: Option<crate::kv::TargetKind>,
    pub vars: &'a dyn Fn(&str) -> Option<String>,
}

/// Edits made once every change was seen.
#[derive(Default)]
struct Later {
    /// `file:` values to write, by path.
    value_files: BTreeMap<PathBuf, Vec<u8>>,
    /// Overrides for the environment's overlay (scope, key, entry): written together at the
    /// end, since they may share a `keys:` mapping that does not exist yet.
    overlay: Vec<(String, String, Override)>,
}

/// An entry for the environment's overlay.
struct Override {
    /// `key: …` as written, its lines after the first indented relative to the key (LF).
    entry: String,
    /// The same entry on one line, for a flow mapping, when it has several.
    one_line: Option<String>,
}

impl Override {
    fn line(line: String) -> Self {
        Self { entry: line, one_line: None }
    }

    /// The entry on one line, when it can be.
    fn flow(&self) -> Option<&str> {
        if self.entry.contains('\n') { self.one_line.as_deref() } else { Some(&self.entry) }
    }
}

/// One YAML file being edited: its text now, and replacements to make (byte range, new text).
struct Draft {
    path: PathBuf,
    original: String,
    replacements: Vec<(usize, usize, String)>,
}

/// Where an entry is written.
struct Site {
    file: usize,
    /// The mapping that holds the key (`keys:`).
    keys: SpanNode,
    key: SpanNode,
    value: SpanNode,
    /// A node on the way (the file's root down to the entry, key and value included) defines an
    /// anchor or is an alias, so other places may repeat what an edit here would change. Then
    /// `keys`, `key` and `value` may be the alias that stopped the walk.
    shared: bool,
}

/// Why an entry reached through an anchor or an alias is not edited.
const SHARED: &str = "its entry is inside a YAML anchor or reached through an alias, so other \
                      places repeat it: edit it by hand";

/// Computes every edit; writes nothing.
pub fn edits(
    context: &Context<'_>,
    desired: &super::Desired,
    changes: &[Change],
) -> Result<Edits, String> {
    if changes.is_empty() {
        return Ok(Edits::default());
    }
    let mut drafts: Vec<Draft> = Vec::new();
    let mut trees: Vec<Option<SpanNode>> = Vec::new();
    for path in context.files {
        let original = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
        let tree = yaml::span_tree(&original)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        trees.push(tree);
        drafts.push(Draft { path: path.clone(), original, replacements: Vec::new() });
    }
    let mut out = Edits::default();
    let mut later = Later::default();
    for change in changes {
        let Some(scope) = desired.scopes.iter().find(|s| s.name == change.scope) else {
            continue;
        };
        let entry = scope.entries.get(&change.key);
        let result = match &change.what {
            What::Set { value, metadata, expiration } => set(
                context,
                &trees,
                &mut drafts,
                &mut later,
                change,
                entry,
                (value.as_deref(), metadata.as_ref(), expiration.as_ref()),
            ),
            What::Add { value, metadata, expiration } => add(
                context,
                &trees,
                &mut drafts,
                &mut later,
                change,
                value,
                metadata.as_ref(),
                *expiration,
            ),
            What::Remove => remove(context, &trees, &mut drafts, change),
        };
        match result {
            Ok(place) => out.made.push((change.scope.clone(), change.key.clone(), place)),
            Err(why) => out.refused.push((change.scope.clone(), change.key.clone(), why)),
        }
    }
    if let Some(environment) = context.environment {
        let overlay = &later.overlay;
        let mut scopes: Vec<&str> = overlay.iter().map(|(scope, _, _)| scope.as_str()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        for scope in scopes {
            let of_scope: Vec<&(String, String, Override)> =
                overlay.iter().filter(|(s, _, _)| s == scope).collect();
            let entries: Vec<&Override> = of_scope.iter().map(|(_, _, entry)| entry).collect();
            if let Err(why) = insert_into_overlay(&trees, &mut drafts, environment, scope, &entries)
            {
                // Nothing of that scope's overrides is written.
                for (_, key, _) in of_scope {
                    out.made.retain(|(s, made, _)| s != scope || made != key);
                    out.refused.push((scope.to_owned(), key.clone(), why.clone()));
                }
            }
        }
    }
    for draft in drafts {
        if draft.replacements.is_empty() {
            continue;
        }
        let after = apply(&draft.original, draft.replacements);
        out.files.push(FileEdit {
            path: draft.path,
            before: draft.original.into_bytes(),
            after: after.into_bytes(),
        });
    }
    for (path, bytes) in later.value_files {
        let before = std::fs::read(&path).unwrap_or_default();
        out.files.push(FileEdit { path, before, after: bytes });
    }
    Ok(out)
}

/// The text with the replacements made (ranges never overlap: one per entry part), their line
/// breaks the text's own (CRLF stays CRLF).
fn apply(text: &str, mut replacements: Vec<(usize, usize, String)>) -> String {
    replacements.sort_by_key(|(start, end, _)| (*start, *end));
    let crlf = line_break(text) == "\r\n";
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, with) in replacements {
        if start < at && start != end {
            continue;
        }
        // An insertion inside a range replaced before it goes right after that range.
        let start = start.max(at);
        let end = end.max(start);
        out.push_str(&text[at..start]);
        if crlf && with.contains('\n') {
            out.push_str(&with.replace("\r\n", "\n").replace('\n', "\r\n"));
        } else {
            out.push_str(&with);
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// Finds where `key` of `scope` is defined: the environment's overlay first, then the root's
/// scope, then the included files. `overlay` says whether the site is in the overlay.
fn find(
    context: &Context<'_>,
    trees: &[Option<SpanNode>],
    scope: &str,
    key: &str,
) -> Option<(Site, bool)> {
    let root = trees.first()?.as_ref()?;
    if let Some(environment) = context.environment {
        let path = ["environments", environment, "namespaces", scope, "keys"];
        if let Some(site) = site_at(root, 0, &path, key) {
            return Some((site, true));
        }
    }
    if let Some(site) = site_at(root, 0, &["namespaces", scope, "keys"], key) {
        return Some((site, false));
    }
    for (index, tree) in trees.iter().enumerate().skip(1) {
        if let Some(tree) = tree
            && let Some(site) = site_at(tree, index, &["keys"], key)
        {
            return Some((site, false));
        }
    }
    None
}

fn site_at(root: &SpanNode, file: usize, path: &[&str], key: &str) -> Option<Site> {
    let mut node = root;
    let mut shared = root.anchored;
    let stopped = |node: &SpanNode| Site {
        file,
        keys: node.clone(),
        key: node.clone(),
        value: node.clone(),
        shared: true,
    };
    for name in path {
        if node.kind == SpanKind::Alias {
            return Some(stopped(node));
        }
        let (key_node, value) = node.entry(name)?;
        shared |= key_node.shares() || value.anchored;
        node = value;
    }
    if node.kind == SpanKind::Alias {
        return Some(stopped(node));
    }
    let Some((key_node, value)) = node.entry(key) else {
        // A key written as an alias (`*name : value`) may be this one.
        let aliased_key = matches!(&node.kind, SpanKind::Map { entries, .. }
            if entries.iter().any(|(k, _)| k.kind == SpanKind::Alias));
        return aliased_key.then(|| stopped(node));
    };
    shared |= key_node.shares() || value.shares();
    Some(Site { file, keys: node.clone(), key: key_node.clone(), value: value.clone(), shared })
}

/// Whether a node on `path` from `root` defines an anchor or is an alias.
fn path_shared(root: &SpanNode, path: &[&str]) -> bool {
    let mut node = root;
    if node.anchored {
        return true;
    }
    for name in path {
        let Some((key, value)) = node.entry(name) else { return false };
        if key.shares() || value.anchored || value.kind == SpanKind::Alias {
            return true;
        }
        node = value;
    }
    false
}

type Parts<'a> =
    (Option<&'a [u8]>, Option<&'a Option<Map<String, Value>>>, Option<&'a Option<i64>>);

/// Edits an existing entry so that it says what is live.
fn set(
    context: &Context<'_>,
    trees: &[Option<SpanNode>],
    drafts: &mut [Draft],
    later: &mut Later,
    change: &Change,
    entry: Option<&DesiredEntry>,
    (value, metadata, expiration): Parts<'_>,
) -> Result<String, String> {
    let entry = entry.ok_or("it is not in the config")?;
    let found = find(context, trees, &change.scope, &change.key);
    if found.as_ref().is_some_and(|(site, _)| site.shared) {
        return Err(SHARED.to_owned());
    }
    // A value that lives in a file: the file gets the live bytes.
    if let ValueSource::File(path) = &entry.value {
        let shared =
            context.environment.is_some() && !found.as_ref().is_some_and(|(_, overlay)| *overlay);
        if value.is_some() && shared && found.is_some() {
            return Err(format!(
                "its value is the file `{}`, which every environment reads: change it or add an \
                 override in the overlay by hand",
                shown(context, path)
            ));
        }
        if metadata.is_none() && expiration.is_none() {
            if let Some(bytes) = value {
                later.value_files.insert(path.clone(), bytes.to_vec());
            }
            return Ok(shown(context, path));
        }
        if found.is_none() {
            return Err("it comes from a `files:` source, whose metadata and expiration every \
                        file of the source shares: edit the source by hand"
                .to_owned());
        }
        if let Some(bytes) = value {
            later.value_files.insert(path.clone(), bytes.to_vec());
        }
    }
    let (site, in_overlay) = found.ok_or("its entry was not found in the config's files")?;
    let text = &drafts[site.file].original;
    // A key from the base config, with environments: an override in the overlay instead, a
    // copy of the base entry with the same edits (every other field kept); on one line, for a
    // flow overlay, it is rebuilt from value, metadata and expiration.
    let overriding = context.environment.is_some() && !in_overlay && has_environments(trees);
    let one_line = if overriding {
        let new_value = match (value, &entry.value) {
            (Some(bytes), _) => Some(bytes.to_vec()),
            (None, ValueSource::Inline(bytes)) => Some(bytes.to_vec()),
            (None, ValueSource::File(_)) => None,
        }
        .ok_or("its value is a file every environment reads: add an override by hand");
        let metadata = match metadata {
            Some(m) => m.clone(),
            None => entry.metadata.as_ref().map(|m| m.to_map()),
        };
        let expiration = match (expiration, entry.expiration) {
            (Some(at), _) => At::Absolute(*at),
            (None, Expiration::Ttl(ttl)) => At::Ttl(ttl),
            (None, Expiration::At(at)) => At::Absolute(Some(at)),
            (None, Expiration::Never) => At::Absolute(None),
        };
        let rendered = new_value.map_err(str::to_owned).and_then(|new_value| {
            let rendered = flow_entry(&new_value, metadata.as_ref(), expiration)
                .ok_or("its live value cannot be written into YAML (it is not UTF-8)")?;
            verify(context, &rendered, &change.key, &new_value, metadata.as_ref(), expiration)?;
            Ok(format!("{}: {rendered}", yaml_out::scalar(&change.key)))
        });
        // An entry of an included file may name files relative to its own folder: it is not
        // copied into the root config.
        if site.file != 0 {
            let line = rendered?;
            later.overlay.push((change.scope.clone(), change.key.clone(), Override::line(line)));
            return Ok(overridden(context, &drafts[0].path));
        }
        rendered.ok()
    } else {
        None
    };
    let mut replacements = Vec::new();
    let fields = match &site.value.kind {
        SpanKind::Map { .. }
            if !matches!(entry.value, ValueSource::Inline(_))
                || site.value.get("value").is_some()
                || site.value.get("file").is_some() =>
        {
            Some(&site.value)
        }
        _ => None,
    };
    match fields {
        None => {
            // `key: value`: the node is the value. Metadata or an expiration makes it an entry.
            let bytes = value.map_or_else(|| inline_bytes(entry), |b| Some(b.to_vec()));
            let bytes = bytes.ok_or("its value is not inline")?;
            let new_metadata = metadata.cloned().flatten();
            let new_expiration = expiration.copied().flatten();
            if new_metadata.is_none()
                && new_expiration.is_none()
                && !matches!(entry.expiration, Expiration::Ttl(_))
            {
                let parent = column_of(text, site.key.start);
                let (rendered, through_tail) =
                    render_value(text, &site.value, &bytes, !entry.json, parent)
                        .ok_or("its live value cannot be written into YAML (it is not UTF-8)")?;
                // A mapping written as a key's value is always an entry: the object goes under
                // `value:`.
                let rendered = if rendered.starts_with('{') {
                    format!("{{value: {rendered}}}")
                } else {
                    rendered
                };
                let end =
                    if through_tail { blank_tail(text, site.value.end) } else { site.value.end };
                let (start, rendered) = value_start(text, &site.key, &site.value, &bytes, rendered);
                replacements.push((start, end, rendered));
            } else {
                let ttl = match entry.expiration {
                    Expiration::Ttl(ttl) => At::Ttl(ttl),
                    _ => At::Absolute(new_expiration),
                };
                let rendered = flow_entry(&bytes, new_metadata.as_ref(), ttl)
                    .ok_or("its live value cannot be written into YAML (it is not UTF-8)")?;
                replacements.push((site.value.start, site.value.end, rendered));
            }
        }
        Some(fields) => {
            if let (Some(bytes), Some((key, node))) = (value, fields.entry("value")) {
                match json_of(bytes, !entry.json) {
                    Some(json) if is_collection(node) && (json.is_object() || json.is_array()) => {
                        json_edits(text, node, &json, &mut replacements);
                    }
                    _ => {
                        let parent = column_of(text, key.start);
                        let (rendered, through_tail) =
                            render_value(text, node, bytes, !entry.json, parent).ok_or(
                                "its live value cannot be written into YAML (it is not UTF-8)",
                            )?;
                        let end = if through_tail { blank_tail(text, node.end) } else { node.end };
                        let (start, rendered) = value_start(text, key, node, bytes, rendered);
                        replacements.push((start, end, rendered));
                    }
                }
            }
            if let Some(metadata) = metadata {
                match (metadata, fields.get("metadata")) {
                    (Some(map), Some(old)) if is_collection(old) => {
                        json_edits(text, old, &Value::Object(map.clone()), &mut replacements);
                    }
                    _ => {
                        let rendered = match metadata {
                            Some(map) => render_json(
                                text,
                                fields.get("metadata"),
                                &Value::Object(map.clone()),
                            ),
                            None => "null".to_owned(),
                        };
                        set_field(text, fields, "metadata", rendered, &mut replacements);
                    }
                }
            }
            if let Some(expiration) = expiration {
                match expiration {
                    Some(at) => {
                        let rendered = match fields.get("expiration") {
                            Some(SpanNode {
                                kind: SpanKind::Scalar { style: ScalarForm::Plain, text: old },
                                ..
                            }) if old.parse::<i64>().is_ok() => at.to_string(),
                            _ => yaml_out::timestamp(*at),
                        };
                        set_field(text, fields, "expiration", rendered, &mut replacements);
                    }
                    None => remove_field(text, fields, "expiration", &mut replacements),
                }
            }
        }
    }
    // Read the entry back as the loader would before keeping the edit.
    let check_value = match (value, &entry.value) {
        (Some(bytes), _) => Some(bytes.to_vec()),
        (None, ValueSource::Inline(bytes)) => Some(bytes.to_vec()),
        (None, ValueSource::File(_)) => None,
    };
    {
        let resolved = read_back(
            context,
            &drafts[site.file].path,
            text,
            (&site.keys, &site.key, &site.value),
            &replacements,
            &change.key,
        )?;
        let metadata_now = match metadata {
            Some(m) => m.clone(),
            None => entry.metadata.as_ref().map(|m| m.to_map()),
        };
        let wanted_metadata = metadata_now.filter(|m| !m.is_empty());
        let got_metadata = resolved.metadata.as_ref().map(|m| m.to_map()).filter(|m| !m.is_empty());
        let value_ok = match (&check_value, &resolved.value) {
            (Some(bytes), ValueSource::Inline(got)) => got.as_ref() == bytes.as_slice(),
            (None, ValueSource::File(_)) | (Some(_), ValueSource::File(_)) => true,
            (None, ValueSource::Inline(_)) => false,
        };
        let expiration_ok = match expiration {
            Some(Some(at)) => resolved.expiration == Expiration::At(*at),
            Some(None) => resolved.expiration == Expiration::Never,
            None => resolved.expiration == entry.expiration,
        };
        if !value_ok || wanted_metadata != got_metadata || !expiration_ok {
            return Err(
                "the edited entry would not read back as what is live: edit it by hand".to_owned()
            );
        }
    }
    if overriding {
        let end = entry_end(text, site.value.end, &replacements);
        let shifted = replacements
            .iter()
            .map(|(start, end, with)| (start - site.key.start, end - site.key.start, with.clone()))
            .collect();
        let copied = apply(&text[site.key.start..end], shifted).replace("\r\n", "\n");
        let copied = copied.strip_suffix('\n').unwrap_or(&copied);
        let column = column_of(text, site.key.start);
        let entry = copied
            .split('\n')
            .enumerate()
            .map(|(at, line)| {
                let spaces = line.len() - line.trim_start_matches(' ').len();
                if at == 0 { line } else { &line[spaces.min(column)..] }
            })
            .collect::<Vec<_>>()
            .join("\n");
        later.overlay.push((
            change.scope.clone(),
            change.key.clone(),
            Override { entry, one_line },
        ));
        return Ok(overridden(context, &drafts[0].path));
    }
    drafts[site.file].replacements.extend(replacements);
    Ok(place(context, &drafts[site.file], &site.key))
}

fn overridden(context: &Context<'_>, root: &Path) -> String {
    let environment = context.environment.unwrap_or_default();
    format!("{} (an override in the `{environment}` overlay)", shown(context, root))
}

/// Where an entry's text ends once `replacements` are made: the end of the line its value (or
/// a replacement) ends on, or the start of a line a replacement reaches.
fn entry_end(text: &str, value_end: usize, replacements: &[(usize, usize, String)]) -> usize {
    let end = replacements.iter().map(|(_, end, _)| *end).fold(value_end, usize::max);
    if end > value_end && text[..end].ends_with('\n') { end } else { line_end(text, end) }
}

fn has_environments(trees: &[Option<SpanNode>]) -> bool {
    trees.first().and_then(Option::as_ref).and_then(|root| root.get("environments")).is_some()
}

/// The entry of `key` (its key and value nodes) with `replacements` made, read back by the
/// loader's code. Only the entry's own text is parsed, at its own column, so each edit costs the
/// size of its entry, not of its file.
fn read_back(
    context: &Context<'_>,
    file: &Path,
    text: &str,
    (keys_node, key_node, value_node): (&SpanNode, &SpanNode, &SpanNode),
    replacements: &[(usize, usize, String)],
    key: &str,
) -> Result<DesiredEntry, String> {
    let line_start = text[..key_node.start].rfind('\n').map_or(0, |at| at + 1);
    let prefix = text[line_start..key_node.start].trim_matches(' ');
    let column = column_of(text, key_node.start);
    let flow = matches!(keys_node.kind, SpanKind::Map { flow: true, .. });
    // In a flow mapping, the entry alone inside braces; in a block one, its lines as written
    // (a `? ` complex key included), or from the key at its column.
    let (from, end) = if flow {
        let end = replacements.iter().map(|(_, end, _)| *end).fold(value_node.end, usize::max);
        (key_node.start, end)
    } else if (prefix.is_empty() || prefix == "?") && column_of(text, line_start) == 0 && column > 0
    {
        (line_start, entry_end(text, value_node.end, replacements))
    } else {
        (key_node.start, entry_end(text, value_node.end, replacements))
    };
    let shifted: Vec<(usize, usize, String)> = replacements
        .iter()
        .map(|(start, end, with)| (start - from, end - from, with.clone()))
        .collect();
    let entry = apply(&text[from..end], shifted);
    let close = if entry.ends_with('\n') { "" } else { "\n" };
    let snippet = if flow {
        format!("keys: {{{entry}}}\n")
    } else if from == line_start {
        format!("keys:\n{entry}{close}")
    } else {
        format!("keys:\n{}{entry}{close}", " ".repeat(column.max(1)))
    };
    let parsed: IncludeFile = yaml::parse(snippet)
        .map_err(|_| "the edited entry would not parse: edit it by hand".to_owned())?;
    let (_, entry) = parsed
        .keys
        .0
        .into_iter()
        .find(|(name, _)| name.value == key)
        .ok_or("the edited entry would not parse: edit it by hand")?;
    resolve_entry(context, file, entry, key)
}

fn resolve_entry(
    context: &Context<'_>,
    file: &Path,
    entry: super::model::Sp<KeyEntry>,
    key: &str,
) -> Result<DesiredEntry, String> {
    let root_dir = context.root.parent().unwrap_or(Path::new("")).to_path_buf();
    let root_canonical =
        std::fs::canonicalize(sources::shown_dir(&root_dir)).map_err(|error| error.to_string())?;
    let sources = Sources {
        vars: context.vars,
        owner: "",
        root_dir: &root_dir,
        root_canonical: &root_canonical,
    };
    let mut problems = Problems::new();
    let id = problems.file(file);
    let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let site = KeySite { file: id, dir: &dir, name: key };
    let mut scratch = Scratch::new();
    sources::resolve(&sources, &site, entry, &mut scratch, &mut problems)
        .ok_or_else(|| "the edited entry would not load: edit it by hand".to_owned())
}

/// Checks that a rendered entry (`key: <rendered>`) loads as the live state.
fn verify(
    context: &Context<'_>,
    rendered: &str,
    key: &str,
    value: &[u8],
    metadata: Option<&Map<String, Value>>,
    expiration: At,
) -> Result<(), String> {
    let doc = format!("keys:\n  {}: {rendered}\n", yaml_out::scalar(key));
    let parsed: IncludeFile = yaml::parse(doc).map_err(|e| e.message)?;
    let (_, entry) = parsed.keys.0.into_iter().next().ok_or("nothing rendered")?;
    let resolved = resolve_entry(context, context.root, entry, key)?;
    let bytes_ok = matches!(&resolved.value, ValueSource::Inline(got) if got.as_ref() == value);
    let metadata_ok = resolved.metadata.as_ref().map(|m| m.to_map()).filter(|m| !m.is_empty())
        == metadata.cloned().filter(|m| !m.is_empty());
    let expiration_ok = match expiration {
        At::Ttl(ttl) => resolved.expiration == Expiration::Ttl(ttl),
        At::Absolute(Some(at)) => resolved.expiration == Expiration::At(at),
        At::Absolute(None) => resolved.expiration == Expiration::Never,
    };
    if bytes_ok && metadata_ok && expiration_ok {
        Ok(())
    } else {
        Err("the entry would not read back as what is live: edit it by hand".to_owned())
    }
}

/// An entry's expiration as it is written.
#[derive(Debug, Clone, Copy)]
enum At {
    Ttl(u64),
    Absolute(Option<i64>),
}

/// A whole entry on one line: the value alone when it has no metadata or expiration, else a
/// flow mapping.
fn flow_entry(
    value: &[u8],
    metadata: Option<&Map<String, Value>>,
    expiration: At,
) -> Option<String> {
    let value = fresh_value(value)?;
    let mut fields = Vec::new();
    if let Some(metadata) = metadata.filter(|m| !m.is_empty()) {
        fields.push(format!("metadata: {}", flow_json(&Value::Object(metadata.clone()))));
    }
    match expiration {
        At::Ttl(ttl) => fields.push(format!("expiration_ttl: {ttl}")),
        At::Absolute(Some(at)) => fields.push(format!("expiration: {}", yaml_out::timestamp(at))),
        At::Absolute(None) => {}
    }
    if fields.is_empty() && !value.starts_with('{') {
        return Some(value);
    }
    Some(format!(
        "{{value: {value}{}}}",
        fields.iter().map(|f| format!(", {f}")).collect::<String>()
    ))
}

/// A value written fresh: JSON (not a string) when the bytes are compact JSON that reads back
/// exactly, else a string scalar.
fn fresh_value(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    if let Ok(json) = serde_json::from_slice::<Value>(value)
        && !json.is_string()
        && serde_json::to_vec(&json).ok().as_deref() == Some(value)
    {
        return Some(flow_json(&json));
    }
    Some(yaml_out::value_scalar(text))
}

/// A JSON value in YAML flow style, names and strings plain where that reads back the same,
/// strings escaped against interpolation.
fn flow_json(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => flow_scalar(&yaml_out::escape_interpolation(s)),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(flow_json).collect::<Vec<_>>().join(", "))
        }
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", flow_scalar(k), flow_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A scalar inside a flow collection: plain when that is safe there too (no flow indicators),
/// else double-quoted.
fn flow_scalar(text: &str) -> String {
    let plain = yaml_out::scalar(text);
    if plain.contains([',', '[', ']', '{', '}']) && !plain.starts_with('"') {
        yaml_out::double_quoted(text)
    } else {
        plain
    }
}

/// Which parts of a sensitive key changed live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretParts {
    pub value: bool,
    pub metadata: bool,
    pub expiration: bool,
}

/// The variables that feed the changed parts of sensitive entries (the value, its `file:`
/// path, the metadata, the expiration), by (scope, key), found with the loader's own
/// interpolation parser (`$${NAME}` is not a variable); an entry fed by no variable there is
/// left out. Every file is read once, and only when there is a key to look up.
pub fn secret_names(
    context: &Context<'_>,
    keys: &[(String, String, SecretParts)],
) -> BTreeMap<(String, String), Vec<String>> {
    let mut names = BTreeMap::new();
    if keys.is_empty() {
        return names;
    }
    let trees: Vec<Option<SpanNode>> = context
        .files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            yaml::span_tree(&text).ok().flatten()
        })
        .collect();
    for (scope, key, parts) in keys {
        let Some((site, _)) = find(context, &trees, scope, key) else { continue };
        if site.shared {
            continue;
        }
        let mut fed: Vec<&SpanNode> = Vec::new();
        match &site.value.kind {
            SpanKind::Map { .. } => {
                let fields: &[(&str, bool)] = &[
                    ("value", parts.value),
                    ("file", parts.value),
                    ("metadata", parts.metadata),
                    ("expiration", parts.expiration),
                    ("expiration_ttl", parts.expiration),
                ];
                for (field, changed) in fields {
                    if let (true, Some(node)) = (changed, site.value.get(field)) {
                        fed.push(node);
                    }
                }
            }
            _ if parts.value => fed.push(&site.value),
            _ => {}
        }
        let mut found: Vec<String> = Vec::new();
        for node in fed {
            scalar_texts(node, &mut |text| {
                for name in interpolate::variables(text) {
                    if !found.contains(&name) {
                        found.push(name);
                    }
                }
            });
        }
        if !found.is_empty() {
            names.insert((scope.clone(), key.clone()), found);
        }
    }
    names
}

/// Calls `each` with the text of every scalar in `node`.
fn scalar_texts(node: &SpanNode, each: &mut dyn FnMut(&str)) {
    match &node.kind {
        SpanKind::Scalar { text, .. } => each(text),
        SpanKind::Map { entries, .. } => {
            for (_, value) in entries {
                scalar_texts(value, each);
            }
        }
        SpanKind::Seq { items, .. } => {
            for item in items {
                scalar_texts(item, each);
            }
        }
        SpanKind::Alias => {}
    }
}

/// The JSON a value's bytes hold, when they are to be written as JSON: compact JSON that reads
/// back exactly, not a string, and the old value was not a string.
fn json_of(bytes: &[u8], was_string: bool) -> Option<Value> {
    serde_json::from_slice::<Value>(bytes).ok().filter(|json| {
        !was_string && !json.is_string() && serde_json::to_vec(json).ok().as_deref() == Some(bytes)
    })
}

fn is_collection(node: &SpanNode) -> bool {
    matches!(node.kind, SpanKind::Map { .. } | SpanKind::Seq { .. })
}

/// Replacements that make `node` read as `value`, touching only what differs: a mapping with
/// the same names in the same order, or a sequence of the same length, is edited inside, so its
/// comments and the text of what did not change stay as written; anything else is written
/// anew in the node's style.
fn json_edits(text: &str, node: &SpanNode, value: &Value, out: &mut Vec<(usize, usize, String)>) {
    match (&node.kind, value) {
        (SpanKind::Map { entries, .. }, Value::Object(map))
            if !map.is_empty()
                && entries.len() == map.len()
                && entries.iter().zip(map).all(|((key, _), (name, _))| {
                    matches!(&key.kind, SpanKind::Scalar { text, .. } if text == name)
                }) =>
        {
            for ((_, node), (_, item)) in entries.iter().zip(map) {
                json_edits(text, node, item, out);
            }
        }
        (SpanKind::Seq { items, .. }, Value::Array(values))
            if !values.is_empty() && items.len() == values.len() =>
        {
            for (node, item) in items.iter().zip(values) {
                json_edits(text, node, item, out);
            }
        }
        (SpanKind::Scalar { .. }, _) if reads_as(node, value) => {}
        (SpanKind::Map { flow: false, .. } | SpanKind::Seq { flow: false, .. }, _)
            if matches!(value, Value::Object(m) if !m.is_empty())
                || matches!(value, Value::Array(a) if !a.is_empty()) =>
        {
            out.push((node.start, node.end, block_json(value, column_of(text, node.start))));
        }
        _ => out.push((node.start, node.end, flow_json(value))),
    }
}

/// Whether a scalar node surely reads as `value` (a doubt only costs rewriting it).
fn reads_as(node: &SpanNode, value: &Value) -> bool {
    let SpanKind::Scalar { text, style } = &node.kind else { return false };
    match (style, value) {
        (ScalarForm::Plain, Value::Null) => matches!(text.as_str(), "null" | "~"),
        (ScalarForm::Plain, Value::Bool(b)) => *text == b.to_string(),
        (ScalarForm::Plain, Value::Number(n)) => {
            n.as_i64().is_some_and(|n| *text == n.to_string())
                || n.as_u64().is_some_and(|n| *text == n.to_string())
        }
        (ScalarForm::Plain, Value::String(s)) => {
            text == s && !s.contains('$') && yaml_out::scalar(s) == *s
        }
        (_, Value::String(s)) if *style != ScalarForm::Plain => text == s && !s.contains('$'),
        _ => false,
    }
}

/// The new text of a value node whose old text is `node`, and whether it replaces the node up
/// to its `tail` (a block scalar with keep chomping, which writes its trailing lines itself):
/// in the old form when that reads back as `bytes` (a block scalar stays a block scalar), else a
/// quoted string. `None` when the bytes are not UTF-8. `parent` is the column of the key the
/// value belongs to.
/// `was_string`: the old value is a YAML string (stored as its raw text), which stays a string:
/// `"true"` stays quoted even though `true` stores the same bytes.
fn render_value(
    text: &str,
    node: &SpanNode,
    bytes: &[u8],
    was_string: bool,
    parent: usize,
) -> Option<(String, bool)> {
    let live = std::str::from_utf8(bytes).ok()?;
    let json = serde_json::from_slice::<Value>(bytes).ok().filter(|json| {
        !was_string && !json.is_string() && serde_json::to_vec(json).ok().as_deref() == Some(bytes)
    });
    let line_break = line_break(text);
    let whole = |text: String| Some((text, false));
    match (&node.kind, json) {
        (SpanKind::Scalar { style, .. }, None) => match style {
            ScalarForm::SingleQuoted if !live.contains('\n') && !live.contains("${") => {
                whole(format!("'{}'", live.replace('\'', "''")))
            }
            ScalarForm::DoubleQuoted => {
                whole(yaml_out::double_quoted(&yaml_out::escape_interpolation(live)))
            }
            ScalarForm::Block => {
                let folded = text[node.start..].starts_with('>');
                let escaped = yaml_out::escape_interpolation(live);
                match yaml_out::block_scalar(&escaped, folded, parent, line_break) {
                    Some((mut block, keep)) => {
                        // The header's comment stays on the header.
                        let header = &text[node.start..line_end(text, node.start)];
                        if let Some(at) = header.find(" #") {
                            let first_break = block.find(line_break).unwrap_or(block.len());
                            let spaces = header[..at].len() - header[..at].trim_end().len();
                            block.insert_str(first_break, &header[at - spaces..]);
                        }
                        Some((block, keep))
                    }
                    None => whole(yaml_out::double_quoted(&escaped)),
                }
            }
            _ => whole(yaml_out::value_scalar(live)),
        },
        (SpanKind::Map { flow: false, .. } | SpanKind::Seq { flow: false, .. }, Some(json))
            if json.is_object() || json.is_array() =>
        {
            let column = column_of(text, node.start);
            whole(block_json(&json, column))
        }
        (_, Some(json)) => whole(flow_json(&json)),
        (_, None) => whole(yaml_out::value_scalar(live)),
    }
}

/// The line break a file uses: CRLF when its first line ends so, else LF.
fn line_break(text: &str) -> &'static str {
    match text.find('\n') {
        Some(at) if text[..at].ends_with('\r') => "\r\n",
        _ => "\n",
    }
}

/// A JSON object or array as block YAML whose first line starts at `column` (already there)
/// and whose other lines are indented to it.
fn block_json(value: &Value, column: usize) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, item) in map {
                yaml_out::json_field(&mut out, column, &yaml_out::scalar(name), item);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let wrapper = serde_json::json!({ "x": items });
            let mut inner = String::new();
            yaml_out::json_field(&mut inner, column, "x", &wrapper["x"]);
            // Drop the `x:` line; the items follow at `column + 2`: shift them back.
            for line in inner.lines().skip(1) {
                out.push_str(line.get(2..).unwrap_or(line));
                out.push('\n');
            }
        }
        other => return flow_json(other),
    }
    let trimmed = out.trim_end_matches('\n');
    trimmed.get(column..).unwrap_or(trimmed).to_owned()
}

/// A JSON value rendered where `old` is (or on one line when there is no old node).
fn render_json(text: &str, old: Option<&SpanNode>, value: &Value) -> String {
    match old {
        Some(node @ SpanNode { kind: SpanKind::Map { flow: false, .. }, .. }) => {
            block_json(value, column_of(text, node.start))
        }
        _ => flow_json(value),
    }
}

/// Where the new text of `node` (the value of `key`) starts: a block collection on the lines
/// below its key that becomes a scalar is replaced from the start of its line, the scalar
/// indented under the key (at the collection's column, a sequence's `- ` gone, it would not
/// belong to the key).
fn value_start(
    text: &str,
    key: &SpanNode,
    node: &SpanNode,
    bytes: &[u8],
    rendered: String,
) -> (usize, String) {
    let block =
        matches!(node.kind, SpanKind::Map { flow: false, .. } | SpanKind::Seq { flow: false, .. });
    let stays_block = json_of(bytes, false).is_some_and(|json| match json {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    });
    let line_start = text[..node.start].rfind('\n').map_or(0, |at| at + 1);
    // Below its key, after nothing but indentation and `- ` on its line (an indentless
    // sequence starts at its first item): not after an explicit key's `: ` (`? key` / `: - x`).
    let below =
        line_start > key.end && text[line_start..node.start].trim_matches([' ', '-']).is_empty();
    if block && !stays_block && below {
        let pad = " ".repeat(column_of(text, key.start) + 2);
        return (line_start, format!("{pad}{rendered}"));
    }
    (node.start, rendered)
}

/// The start of the first line after `at`'s that is not blank: a block scalar ending at `at`
/// owns the blank lines between (content under keep chomping), so a block scalar written in its
/// place with keep chomping replaces them.
fn blank_tail(text: &str, at: usize) -> usize {
    let mut pos = match text[at..].find('\n') {
        Some(offset) => at + offset + 1,
        None => return text.len(),
    };
    while let Some(offset) = text[pos..].find('\n') {
        if !text[pos..pos + offset].trim_matches([' ', '\t', '\r']).is_empty() {
            break;
        }
        pos += offset + 1;
    }
    pos
}

/// Where to insert `lines` (each starting with a line break) after the line `at` is on, and
/// the text to insert: at the start of the next line, each line ending with its line break,
/// so that removing the last entry before it (which takes its line break) leaves the new lines
/// in place; at the end of the text when it has no line break there.
fn after_line(text: &str, node: &SpanNode, lines: &str) -> (usize, String) {
    if node.tail > node.end && text[..node.tail].ends_with('\n') {
        // After trailing lines that are content (`|+`): the next line starts there.
        let body = lines.strip_prefix('\n').unwrap_or(lines);
        return (node.tail, format!("{body}\n"));
    }
    let end = line_end(text, node.end);
    match text[end..].find('\n') {
        Some(offset) => {
            let body = lines.strip_prefix('\n').unwrap_or(lines);
            (end + offset + 1, format!("{body}\n"))
        }
        None => (end, lines.to_owned()),
    }
}

/// The end of the line `at` is on (before its line break): past a trailing comment, where a new
/// line may be added.
fn line_end(text: &str, at: usize) -> usize {
    let end = text[at..].find('\n').map_or(text.len(), |offset| at + offset);
    if end > at && text[..end].ends_with('\r') { end - 1 } else { end }
}

fn column_of(text: &str, at: usize) -> usize {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at].chars().count()
}

/// Replaces the value of `field` in an entry mapping, or adds the field.
fn set_field(
    text: &str,
    fields: &SpanNode,
    field: &str,
    rendered: String,
    replacements: &mut Vec<(usize, usize, String)>,
) {
    if let Some(node) = fields.get(field) {
        replacements.push((node.start, node.end, rendered));
        return;
    }
    match &fields.kind {
        SpanKind::Map { flow: true, .. } => {
            // Before the closing brace.
            let close = text[..fields.end].rfind('}').unwrap_or(fields.end);
            replacements.push((close, close, format!(", {field}: {rendered}")));
        }
        _ => {
            let column = column_of(text, fields.start);
            let pad = " ".repeat(column);
            let (at, lines) = after_line(text, fields, &format!("\n{pad}{field}: {rendered}"));
            replacements.push((at, at, lines));
        }
    }
}

/// Removes `field` from an entry mapping.
fn remove_field(
    text: &str,
    fields: &SpanNode,
    field: &str,
    replacements: &mut Vec<(usize, usize, String)>,
) {
    let Some((key, value)) = fields.entry(field) else { return };
    match &fields.kind {
        SpanKind::Map { flow: true, .. } => {
            // With the comma before it; the first entry with the comma after it.
            let inside = &text[fields.start..key.start];
            let range = match inside.rfind(',') {
                Some(comma) => (fields.start + comma, value.end),
                None => match text[value.end..fields.end].find(',') {
                    Some(comma) => {
                        let after = value.end + comma + 1;
                        let spaces =
                            text[after..].len() - text[after..].trim_start_matches(' ').len();
                        (key.start, after + spaces)
                    }
                    None => (key.start, value.end),
                },
            };
            replacements.push((range.0, range.1, String::new()));
        }
        _ => {
            // Its own lines: from the comment lines right above it at its column to the line
            // break after its last line (its trailing comment included).
            let line_start = text[..key.start].rfind('\n').map_or(0, |at| at + 1);
            let column = key.start - line_start;
            let mut start = line_start;
            while start > 0 {
                let above = text[..start - 1].rfind('\n').map_or(0, |at| at + 1);
                let line = text[above..start - 1].trim_end_matches('\r');
                let content = line.trim_start_matches(' ');
                if line.len() - content.len() != column || !content.starts_with('#') {
                    break;
                }
                start = above;
            }
            let line_end = text[value.end..].find('\n').map_or(text.len(), |at| value.end + at + 1);
            replacements.push((start, line_end, String::new()));
        }
    }
}

/// The inline bytes of an entry.
fn inline_bytes(entry: &DesiredEntry) -> Option<Vec<u8>> {
    match &entry.value {
        ValueSource::Inline(bytes) => Some(bytes.to_vec()),
        ValueSource::File(_) => None,
    }
}

/// Adds a key to the file that holds the scope's `keys:` (or `--into`); with environments, to
/// the environment's overlay (unless `--into` names a file), so the others do not get it.
#[allow(clippy::too_many_arguments)]
fn add(
    context: &Context<'_>,
    trees: &[Option<SpanNode>],
    drafts: &mut [Draft],
    later: &mut Later,
    change: &Change,
    value: &[u8],
    metadata: Option<&Map<String, Value>>,
    expiration: Option<i64>,
) -> Result<String, String> {
    let rendered = flow_entry(value, metadata, At::Absolute(expiration))
        .ok_or("its live value cannot be written into YAML (it is not UTF-8)")?;
    verify(context, &rendered, &change.key, value, metadata, At::Absolute(expiration))?;
    if let Some(environment) = context.environment
        && context.into.is_none()
        && has_environments(trees)
    {
        let line = format!("{}: {rendered}", yaml_out::scalar(&change.key));
        later.overlay.push((change.scope.clone(), change.key.clone(), Override::line(line)));
        return Ok(format!("{} (the `{environment}` overlay)", shown(context, &drafts[0].path)));
    }
    let (file, path): (usize, Vec<&str>) = match context.into {
        Some(into) => {
            let canonical = std::fs::canonicalize(into).ok();
            let index = drafts
                .iter()
                .position(|d| std::fs::canonicalize(&d.path).ok() == canonical)
                .ok_or_else(|| {
                    format!("`--into {}` is not a file this config reads", into.display())
                })?;
            if index == 0 {
                (0, vec!["namespaces", change.scope.as_str(), "keys"])
            } else {
                (index, vec!["keys"])
            }
        }
        None => (0, vec!["namespaces", change.scope.as_str(), "keys"]),
    };
    let tree = trees.get(file).and_then(Option::as_ref).ok_or("the file is empty")?;
    if path_shared(tree, &path) {
        return Err(SHARED.to_owned());
    }
    let mut node = tree;
    for name in &path {
        node = node
            .get(name)
            .ok_or_else(|| format!("the file has no `{}` mapping to add to", path.join(".")))?;
    }
    let text = &drafts[file].original;
    let line = format!("{}: {rendered}", yaml_out::scalar(&change.key));
    let insertion = match &node.kind {
        SpanKind::Map { flow: false, entries } if !entries.is_empty() => {
            let column = column_of(text, node.start);
            after_line(text, node, &format!("\n{}{line}", " ".repeat(column)))
        }
        SpanKind::Map { flow: true, entries } => {
            let close = text[..node.end].rfind('}').unwrap_or(node.end);
            let sep = if entries.is_empty() { "" } else { ", " };
            (close, format!("{sep}{line}"))
        }
        _ => return Err("the `keys:` mapping to add to is not a mapping".to_owned()),
    };
    drafts[file].replacements.push((insertion.0, insertion.0, insertion.1));
    Ok(shown(context, &drafts[file].path))
}

/// Removes a key's entry.
fn remove(
    context: &Context<'_>,
    trees: &[Option<SpanNode>],
    drafts: &mut [Draft],
    change: &Change,
) -> Result<String, String> {
    let (site, in_overlay) = find(context, trees, &change.scope, &change.key)
        .ok_or("its entry was not found in the config's files")?;
    if site.shared {
        return Err(SHARED.to_owned());
    }
    if context.environment.is_some() && !in_overlay && has_environments(trees) {
        return Err("its entry is in the base config, which every environment reads: remove it \
                    by hand"
            .to_owned());
    }
    let text = &drafts[site.file].original;
    let mut replacements = Vec::new();
    let key_name = match &site.key.kind {
        SpanKind::Scalar { text, .. } => text.clone(),
        _ => change.key.clone(),
    };
    remove_field(text, &site.keys, &key_name, &mut replacements);
    let place = place(context, &drafts[site.file], &site.key);
    drafts[site.file].replacements.extend(replacements);
    Ok(place)
}

/// Adds `key: rendered` to `environments.<env>.namespaces.<scope>.keys`, making the mappings on
/// the way in block style when they are missing.
fn insert_into_overlay(
    trees: &[Option<SpanNode>],
    drafts: &mut [Draft],
    environment: &str,
    scope: &str,
    overrides: &[&Override],
) -> Result<String, String> {
    let by_hand = || format!("add an override for it under `environments.{environment}` by hand");
    let one_line = || -> Result<String, String> {
        let lines: Option<Vec<&str>> = overrides.iter().map(|e| e.flow()).collect();
        Ok(lines.ok_or_else(by_hand)?.join(", "))
    };
    let root = trees.first().and_then(Option::as_ref).ok_or("the config is empty")?;
    let text = &drafts[0].original;
    let path = ["environments", environment, "namespaces", scope, "keys"];
    if path_shared(root, &path) {
        return Err(SHARED.to_owned());
    }
    let mut node = root;
    let mut depth = 0;
    while depth < path.len() {
        match node.get(path[depth]) {
            Some(next) if matches!(next.kind, SpanKind::Map { .. }) => {
                node = next;
                depth += 1;
            }
            _ => break,
        }
    }
    let (at, insertion) = match &node.kind {
        SpanKind::Map { flow: true, entries } if entries.is_empty() => {
            // `prod: {}`: the rest of the path as a flow mapping in its place.
            let mut inner = one_line()?;
            for name in path[depth..].iter().rev() {
                inner = format!("{}: {{{inner}}}", yaml_out::scalar(name));
            }
            drafts[0].replacements.push((node.start, node.end, format!("{{{inner}}}")));
            return Ok(format!("{} (the `{environment}` overlay)", drafts[0].path.display()));
        }
        SpanKind::Map { flow: false, entries } if !entries.is_empty() => {
            let column = column_of(text, node.start);
            let mut added = String::new();
            for (offset, name) in path[depth..].iter().enumerate() {
                let pad = " ".repeat(column + 2 * offset);
                added.push_str(&format!("\n{pad}{}:", yaml_out::scalar(name)));
            }
            let pad = " ".repeat(column + 2 * (path.len() - depth));
            for added_entry in overrides {
                for line in added_entry.entry.split('\n') {
                    added.push('\n');
                    if !line.is_empty() {
                        added.push_str(&pad);
                        added.push_str(line);
                    }
                }
            }
            after_line(text, node, &added)
        }
        SpanKind::Map { flow: true, .. } => {
            // A flow mapping with entries: the rest of the path goes in before its brace.
            let mut inner = one_line()?;
            for name in path[depth..].iter().rev() {
                inner = format!("{}: {{{inner}}}", yaml_out::scalar(name));
            }
            let close = text[..node.end].rfind('}').unwrap_or(node.end);
            (close, format!(", {inner}"))
        }
        _ => return Err(by_hand()),
    };
    drafts[0].replacements.push((at, at, insertion));
    Ok(format!("{} (the `{environment}` overlay)", drafts[0].path.display()))
}

/// `file:line:column` of a node, the path relative to the root config's folder.
fn place(context: &Context<'_>, draft: &Draft, node: &SpanNode) -> String {
    let text = &draft.original;
    let line = text[..node.start].matches('\n').count() + 1;
    let column = column_of(text, node.start) + 1;
    format!("{}:{line}:{column}", shown(context, &draft.path))
}

fn shown(context: &Context<'_>, path: &Path) -> String {
    let root_dir = context.root.parent().unwrap_or(Path::new(""));
    let root_canonical = std::fs::canonicalize(sources::shown_dir(root_dir)).ok();
    let canonical = std::fs::canonicalize(path).ok();
    match (root_canonical, canonical) {
        (Some(root), Some(path)) => path
            .strip_prefix(&root)
            .map_or_else(|_| path.display().to_string(), |relative| relative.display().to_string()),
        _ => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value node of `k:` in `text`.
    fn node(text: &str) -> SpanNode {
        let tree = yaml::span_tree(text).expect("parses").expect("a document");
        tree.get("k").expect("k").clone()
    }

    fn rendered(text: &str, live: &str) -> String {
        let was_string =
            matches!(text, "k: hello\n" | "k: 'hello'\n" | "k: \"hello\"\n" | "k: x\n");
        render_value(text, &node(text), live.as_bytes(), was_string, 0).expect("UTF-8").0
    }

    #[test]
    fn a_value_keeps_its_form_when_it_can() {
        assert_eq!(rendered("k: hello\n", "hi there"), "hi there");
        assert_eq!(rendered("k: 'hello'\n", "it's"), "'it''s'");
        assert_eq!(rendered("k: \"hello\"\n", "a\tb"), "\"a\\tb\"");
        assert_eq!(rendered("k: 42\n", "43"), "43");
        assert_eq!(rendered("k: {a: 1}\n", r#"{"a":2,"b":[true]}"#), "{a: 2, b: [true]}");
        assert_eq!(
            rendered("k:\n  a: 1\n", r#"{"a":2,"b":{"c":null}}"#),
            "a: 2\n  b:\n    c: null"
        );
        // Not compact JSON: a string, stored as the same raw text.
        assert_eq!(rendered("k: {a: 1}\n", r#"{"a": 2}"#), r#""{\"a\": 2}""#);
        // Interpolation is escaped: the text is never taken for a variable.
        assert_eq!(rendered("k: x\n", "${HOME}"), "\"$${HOME}\"");
        assert_eq!(rendered("k: x\n", "true"), "\"true\"");
        assert!(render_value("k: x\n", &node("k: x\n"), b"\xff", true, 0).is_none());
        // A number that becomes text is a string now; a string holding JSON stays a string.
        assert_eq!(rendered("k: 42\n", "forty-two"), "forty-two");
        assert_eq!(rendered("k: hello\n", r#"{"a":1}"#), r#""{\"a\":1}""#);
    }

    #[test]
    fn replacements_and_removals_touch_only_their_bytes() {
        let text = "keys:\n  a: 1  # one\n  b: 2\n";
        assert_eq!(apply(text, vec![(11, 12, "9".into())]), "keys:\n  a: 9  # one\n  b: 2\n");
        let tree = yaml::span_tree(text).expect("parses").expect("doc");
        let keys = tree.get("keys").expect("keys");
        let mut replacements = Vec::new();
        remove_field(text, keys, "a", &mut replacements);
        assert_eq!(apply(text, replacements), "keys:\n  b: 2\n");
        let flow = "keys: {a: 1, b: 2, c: 3}\n";
        let tree = yaml::span_tree(flow).expect("parses").expect("doc");
        let keys = tree.get("keys").expect("keys");
        for (key, after) in [
            ("a", "keys: {b: 2, c: 3}\n"),
            ("b", "keys: {a: 1, c: 3}\n"),
            ("c", "keys: {a: 1, b: 2}\n"),
        ] {
            let mut replacements = Vec::new();
            remove_field(flow, keys, key, &mut replacements);
            assert_eq!(apply(flow, replacements), after, "{key}");
        }
    }

    const HEAD: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n";

    /// A project in a temporary folder: its files, loaded.
    struct Project {
        dir: tempfile::TempDir,
        files: Vec<PathBuf>,
        desired: super::super::Desired,
    }

    fn project(files: &[(&str, &str)], environment: Option<&str>) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        let options =
            super::super::LoadOptions { environment, preview: None, target: None, vars: &|_| None };
        let loaded =
            super::super::load(&dir.path().join("kvsync.yaml"), &options).expect("it loads");
        Project { dir, files: loaded.files, desired: loaded.desired }
    }

    /// The edits of `changes`: every file after them, by name (files not edited left out).
    fn edited(project: &Project, changes: &[Change]) -> (BTreeMap<String, String>, Edits) {
        let root = project.dir.path().join("kvsync.yaml");
        let context = Context {
            root: &root,
            files: &project.files,
            environment: project.desired.environment.as_deref(),
            into: None,
            preview: None,
            target: None,
            vars: &|_| None,
        };
        let edits = edits(&context, &project.desired, changes).expect("edits");
        let environments = super::super::environment_names(&root);
        if let Err(error) = check(&context, &project.desired, changes, &edits, &environments) {
            panic!("{error}");
        }
        let after = edits
            .files
            .iter()
            .map(|file| {
                let name = file.path.strip_prefix(project.dir.path()).unwrap_or(&file.path);
                let text = String::from_utf8(file.after.clone()).expect("UTF-8");
                (name.display().to_string(), text)
            })
            .collect();
        (after, edits)
    }

    fn change(key: &str, what: What) -> Change {
        Change { scope: "flags".to_owned(), key: key.to_owned(), what }
    }

    /// Removing an entry written as a block scalar, of any chomping, or whose last field is
    /// one, takes its own lines and nothing else: not the next key, not an `include:` line.
    #[test]
    fn a_removed_block_scalar_takes_only_its_own_lines() {
        let keys = "    keys:\n      a: 1\n      # the banner\n      banner: |\n        hello\n        world\n\n      e: >-\n        folded\n        text\n      k:\n        metadata: {team: web}\n        value: |+\n          kept\n\n      z: last\n    include: [more.yaml]\n";
        let config = format!("{HEAD}{keys}");
        let files = [("kvsync.yaml", config.as_str()), ("more.yaml", "keys:\n  m: 1\n")];
        let project = project(&files, None);
        for (key, gone) in [
            ("banner", "      # the banner\n      banner: |\n        hello\n        world\n"),
            ("e", "      e: >-\n        folded\n        text\n"),
            ("k", "      k:\n        metadata: {team: web}\n        value: |+\n          kept\n"),
            ("z", "      z: last\n"),
        ] {
            let (after, edits) = edited(&project, &[change(key, What::Remove)]);
            assert!(edits.refused.is_empty(), "{key}: {:?}", edits.refused);
            assert_eq!(after["kvsync.yaml"], config.replacen(gone, "", 1), "{key}");
        }
        let (after, _) =
            edited(&project, &[change("e", What::Remove), change("banner", What::Remove)]);
        assert!(
            after["kvsync.yaml"].contains("\n      a: 1\n\n      k:\n"),
            "{}",
            after["kvsync.yaml"]
        );
    }

    /// `--adopt` adds after a `keys:` mapping that ends with a block scalar, inside it.
    #[test]
    fn an_adopted_key_goes_after_a_closing_block_scalar() {
        let config = format!(
            "{HEAD}    keys:\n      a: 1\n      banner: |-\n        hello\n\n    include: [more.yaml]\n"
        );
        let files = [("kvsync.yaml", config.as_str()), ("more.yaml", "keys:\n  m: 1\n")];
        let project = project(&files, None);
        let add = What::Add { value: b"new".to_vec(), metadata: None, expiration: None };
        let (after, edits) = edited(&project, &[change("new", add)]);
        assert!(edits.refused.is_empty(), "{:?}", edits.refused);
        assert_eq!(
            after["kvsync.yaml"],
            config.replace("        hello\n", "        hello\n      new: new\n")
        );
    }

    fn context<'a>(project: &'a Project, root: &'a Path) -> Context<'a> {
        Context {
            root,
            files: &project.files,
            environment: project.desired.environment.as_deref(),
            into: None,
            preview: None,
            target: None,
            vars: &|_| None,
        }
    }

    /// The whole result is checked before anything is written: an edit that takes a line too
    /// many, or that reaches another scope or another environment, is an error naming the key.
    #[test]
    fn the_check_names_a_key_the_edits_would_change() {
        let config = format!("{HEAD}    keys:\n      a: 1\n      b: |\n        x\n      c: 3\n");
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let root = project.dir.path().join("kvsync.yaml");
        let context = context(&project, &root);
        let remove = [change("b", What::Remove)];
        let file = |after: &str| FileEdit {
            path: root.clone(),
            before: config.clone().into_bytes(),
            after: after.as_bytes().to_vec(),
        };
        let made = vec![("flags".to_owned(), "b".to_owned(), "kvsync.yaml:5:7".to_owned())];
        let good = Edits {
            files: vec![file(&config.replace("      b: |\n        x\n", ""))],
            made: made.clone(),
            refused: Vec::new(),
        };
        check(&context, &project.desired, &remove, &good, &[]).expect("the right edit passes");
        // The old end of a block scalar: the next line went too.
        let bad = Edits {
            files: vec![file(&config.replace("      b: |\n        x\n      c: 3\n", ""))],
            made: made.clone(),
            refused: Vec::new(),
        };
        let error = check(&context, &project.desired, &remove, &bad, &[]).expect_err("caught");
        assert_eq!(
            error.to_string(),
            "after the edits, `c` of scope `flags` would no longer be desired; nothing was written"
        );
        // A value set, but not to what is live.
        let set = [change(
            "a",
            What::Set { value: Some(b"2".to_vec()), metadata: None, expiration: None },
        )];
        let wrong = Edits {
            files: vec![file(&config.replace("a: 1", "a: 3"))],
            made: vec![("flags".to_owned(), "a".to_owned(), String::new())],
            refused: Vec::new(),
        };
        let error = check(&context, &project.desired, &set, &wrong, &[]).expect_err("caught");
        assert!(
            error.to_string().contains("`a` of scope `flags` would not have its live value"),
            "{error}"
        );
        // Text that does not load at all.
        let broken = Edits { files: vec![file("version: [\n")], made, refused: Vec::new() };
        let error = check(&context, &project.desired, &remove, &broken, &[]).expect_err("caught");
        assert!(matches!(error, CheckError::NotLoading { .. }), "{error}");
    }

    /// An edit of the base config is seen from every other environment.
    #[test]
    fn the_check_loads_every_other_environment() {
        let config = format!(
            "{HEAD}    keys:\n      a: 1\nenvironments:\n  prod:\n    namespaces:\n      flags:\n        keys:\n          b: 2\n  staging: {{}}\ndefault_environment: prod\n"
        );
        let project = project(&[("kvsync.yaml", config.as_str())], Some("prod"));
        let root = project.dir.path().join("kvsync.yaml");
        let context = context(&project, &root);
        let set = [change(
            "b",
            What::Set { value: Some(b"3".to_vec()), metadata: None, expiration: None },
        )];
        let made = vec![("flags".to_owned(), "b".to_owned(), String::new())];
        let environments = ["prod".to_owned(), "staging".to_owned()];
        let edits = |after: String| Edits {
            files: vec![FileEdit {
                path: root.clone(),
                before: config.clone().into_bytes(),
                after: after.into_bytes(),
            }],
            made: made.clone(),
            refused: Vec::new(),
        };
        let good = edits(config.replace("b: 2", "b: 3"));
        check(&context, &project.desired, &set, &good, &environments).expect("passes");
        let leaks = edits(config.replace("b: 2", "b: 3").replace("a: 1", "a: 9"));
        let error =
            check(&context, &project.desired, &set, &leaks, &environments).expect_err("caught");
        assert!(error.to_string().contains("`a` of scope `flags`"), "{error}");
    }

    /// An entry whose node or any node above it is anchored or aliased is listed for a person,
    /// for set, add and remove alike: an edit there would reach every place that repeats it.
    #[test]
    fn an_entry_under_an_anchor_or_an_alias_is_left_to_a_person() {
        let config = "version: 1\nowner: web\nnamespaces:\n  s:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys: &shared {a: one}\n  t:\n    namespace_id: 1f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys: *shared\n  u: &u\n    namespace_id: 2f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      b: two\n  v:\n    namespace_id: 3f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      c: &c three\n      d: *c\n      e: four\n";
        let project = project(&[("kvsync.yaml", config)], None);
        let set = || What::Set { value: Some(b"new".to_vec()), metadata: None, expiration: None };
        let add = || What::Add { value: b"new".to_vec(), metadata: None, expiration: None };
        let on = |scope: &str, key: &str, what| Change {
            scope: scope.to_owned(),
            key: key.to_owned(),
            what,
        };
        for change in [
            on("s", "a", set()),
            on("t", "a", set()),
            on("s", "a", What::Remove),
            on("t", "a", What::Remove),
            on("s", "new", add()),
            on("t", "new", add()),
            on("u", "b", set()),
            on("u", "b", What::Remove),
            on("u", "new", add()),
            on("v", "c", set()),
            on("v", "d", What::Remove),
        ] {
            let (after, edits) = edited(&project, std::slice::from_ref(&change));
            assert!(after.is_empty(), "{change:?}: {after:?}");
            assert_eq!(edits.refused.len(), 1, "{change:?}");
            assert!(edits.refused[0].2.contains("anchor"), "{:?}", edits.refused);
        }
        // Next to them, an entry of its own is edited.
        let (after, edits) = edited(&project, &[on("v", "e", set())]);
        assert!(edits.refused.is_empty(), "{:?}", edits.refused);
        assert_eq!(after["kvsync.yaml"], config.replace("e: four", "e: new"));
    }

    fn set_value(key: &str, live: &str) -> Change {
        change(
            key,
            What::Set { value: Some(live.as_bytes().to_vec()), metadata: None, expiration: None },
        )
    }

    /// A changed block scalar stays a block scalar, of the chomping and indentation the live
    /// text needs, and `>` stays folded where the text allows; each reads back as live (the
    /// whole-result check runs in `edited`).
    #[test]
    fn a_block_scalar_stays_a_block_scalar() {
        let cases = [
            ("b: |\n  hello\n  world\n", "hi\nthere\n", "b: |\n  hi\n  there\n"),
            ("b: |-\n  hello\n", "a\nb", "b: |-\n  a\n  b\n"),
            ("b: |\n  hello\n\nz: 1\n", "a\n\n\n", "b: |+\n  a\n\n\nz: 1\n"),
            ("b: |+\n  hello\n\n\nz: 1\n", "a\n", "b: |\n  a\n\n\nz: 1\n"),
            ("b: >\n  one\n  two\n", "three\nfour\n", "b: >\n  three\n\n  four\n"),
            ("b: >-\n  one\n", "  indented\nnot\n", "b: |2\n    indented\n  not\n"),
            ("b: |  # keep\n  x\n", "${HOME}\n", "b: |  # keep\n  $${HOME}\n"),
            ("b: |\n  x\n", "a\r\nb\n", "b: \"a\\r\\nb\\n\"\n"),
            (
                "b:\n  metadata: {t: 1}\n  value: |\n    x\n",
                "y\nz\n",
                "b:\n  metadata: {t: 1}\n  value: |\n    y\n    z\n",
            ),
        ];
        for (keys, live, expected) in cases {
            let indent = |text: &str| {
                text.lines()
                    .map(|l| if l.is_empty() { "\n".to_owned() } else { format!("      {l}\n") })
                    .collect::<String>()
            };
            let config = format!("{HEAD}    keys:\n{}", indent(keys));
            let project = project(&[("kvsync.yaml", config.as_str())], None);
            let (after, edits) = edited(&project, &[set_value("b", live)]);
            assert!(edits.refused.is_empty(), "{keys:?}: {:?}", edits.refused);
            let expected =
                format!("{HEAD}    keys:\n{}", indent(expected).replace("      # keep", "# keep"));
            assert_eq!(after["kvsync.yaml"], expected, "{keys:?} → {live:?}");
        }
    }

    /// A block collection that becomes a scalar: below its key, the scalar goes under the key;
    /// after an explicit key's `: ` (the YAML suite's A2M4), in its place, the `: ` kept.
    #[test]
    fn a_block_collection_becomes_a_scalar_where_it_stands() {
        let cases = [
            ("b:\n  - x\n  - y\n", "b:\n  \"a\\nb\"\n"),
            ("b:\n- x\n- y\n", "b:\n  \"a\\nb\"\n"),
            ("? b\n: - x\n  - y\n", "? b\n: \"a\\nb\"\n"),
            ("? b\n:   - x\n    - y\n", "? b\n:   \"a\\nb\"\n"),
        ];
        for (keys, expected) in cases {
            let indent =
                |text: &str| text.lines().map(|l| format!("      {l}\n")).collect::<String>();
            let config = format!("{HEAD}    keys:\n{}", indent(keys));
            let project = project(&[("kvsync.yaml", config.as_str())], None);
            let (after, edits) = edited(&project, &[set_value("b", "a\nb")]);
            assert!(edits.refused.is_empty(), "{keys:?}: {:?}", edits.refused);
            let expected = format!("{HEAD}    keys:\n{}", indent(expected));
            assert_eq!(after["kvsync.yaml"], expected, "{keys:?}");
        }
    }

    /// A CRLF file stays CRLF: replaced values, block scalars, added and removed entries.
    #[test]
    fn a_crlf_file_keeps_its_line_breaks() {
        let config =
            format!("{HEAD}    keys:\n      a: 1  # one\n      b: |\n        x\n      c: gone\n")
                .replace('\n', "\r\n");
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let add = What::Add {
            value: b"{\"x\":1}".to_vec(),
            metadata: None,
            expiration: Some(2_000_000_000),
        };
        let changes = [
            set_value("a", "2"),
            set_value("b", "y\nz\n"),
            change("c", What::Remove),
            change("d", add),
        ];
        let (after, edits) = edited(&project, &changes);
        assert!(edits.refused.is_empty(), "{:?}", edits.refused);
        let text = &after["kvsync.yaml"];
        assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "{text:?}");
        assert_eq!(
            *text,
            format!("{HEAD}    keys:\n      a: 2  # one\n      b: |\n        y\n        z\n      d: {{value: {{x: 1}}, expiration: 2033-05-18T03:33:20Z}}\n").replace('\n', "\r\n")
        );
    }

    /// A JSON value or metadata edited inside: only the leaves that changed are written, so the
    /// entry's comments and the text of its other fields (a quoted name, a `|` block) stay.
    #[test]
    fn an_entry_keeps_its_comments_and_its_unchanged_text() {
        let config = format!(
            "{HEAD}    keys:\n      k:\n        # the flag\n        value:\n          \"on\": true   # on?\n          rollout: 5  # percent\n          note: |\n            kept\n        metadata: {{team: web, 'x': [1, 2]}}  # who\n"
        );
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let mut meta = Map::new();
        meta.insert("team".to_owned(), Value::from("search"));
        meta.insert("x".to_owned(), serde_json::json!([1, 3]));
        let live = br#"{"on":true,"rollout":50,"note":"kept\n"}"#.to_vec();
        let what = What::Set { value: Some(live), metadata: Some(Some(meta)), expiration: None };
        let (after, edits) = edited(&project, &[change("k", what)]);
        assert!(edits.refused.is_empty(), "{:?}", edits.refused);
        assert_eq!(
            after["kvsync.yaml"],
            config
                .replace("rollout: 5  #", "rollout: 50  #")
                .replace("team: web", "team: search")
                .replace("[1, 2]", "[1, 3]")
        );
    }

    /// An environment's override is a copy of the base entry's node with only what differs
    /// changed: its other fields, comments and styles come along.
    #[test]
    fn an_override_copies_the_base_entry() {
        let config = format!(
            "{HEAD}    keys:\n      k:\n        # the template\n        value: |\n          hello\n        metadata: {{team: web}}\n        expiration_ttl: 3600\nenvironments:\n  prod:\n    namespaces:\n      flags:\n        keys:\n          other: 1\n  staging: {{}}\n"
        );
        let project = project(&[("kvsync.yaml", config.as_str())], Some("prod"));
        let (after, edits) = edited(&project, &[set_value("k", "hello\nworld\n")]);
        assert!(edits.refused.is_empty(), "{:?}", edits.refused);
        assert_eq!(
            after["kvsync.yaml"],
            config.replace(
                "          other: 1\n",
                "          other: 1\n          k:\n            # the template\n            value: |\n              hello\n              world\n            metadata: {team: web}\n            expiration_ttl: 3600\n"
            )
        );
        // Into an empty flow overlay: one line, rebuilt.
        let (after, edits) = edited(&project_with_flow(), &[set_value("k", "x")]);
        assert!(edits.refused.is_empty(), "{:?}", edits.refused);
        assert!(after["kvsync.yaml"].contains("staging: {namespaces: {flags: {keys: {k: {value: x, metadata: {team: web}, expiration_ttl: 3600}}}}}"), "{}", after["kvsync.yaml"]);
    }

    fn project_with_flow() -> Project {
        let config = format!(
            "{HEAD}    keys:\n      k:\n        value: |\n          hello\n        metadata: {{team: web}}\n        expiration_ttl: 3600\nenvironments:\n  prod: {{}}\n  staging: {{}}\n"
        );
        project(&[("kvsync.yaml", config.as_str())], Some("staging"))
    }

    /// The secret named is the variable that feeds the part that changed; `$${NAME}` is text.
    #[test]
    fn the_secret_named_feeds_the_changed_part() {
        let config = format!(
            "{HEAD}    keys:\n      a: {{value: \"$${{LITERAL}} ${{REAL:-r}}\", sensitive: true}}\n      b: {{value: literal, metadata: {{tok: \"${{TOK:-t}}\"}}}}\n      c: \"${{BARE:-b}}\"\n"
        );
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let root = project.dir.path().join("kvsync.yaml");
        let context = context(&project, &root);
        let parts = |value, metadata| SecretParts { value, metadata, expiration: false };
        let keys = [
            ("flags".to_owned(), "a".to_owned(), parts(true, false)),
            ("flags".to_owned(), "b".to_owned(), parts(true, false)),
            ("flags".to_owned(), "c".to_owned(), parts(true, true)),
        ];
        let names = secret_names(&context, &keys);
        let name = |key: &str| names.get(&("flags".to_owned(), key.to_owned())).cloned();
        assert_eq!(name("a"), Some(vec!["REAL".to_owned()]));
        assert_eq!(name("b"), None, "its value is literal; only its metadata has a variable");
        assert_eq!(name("c"), Some(vec!["BARE".to_owned()]));
        let keys = [("flags".to_owned(), "b".to_owned(), parts(false, true))];
        let names = secret_names(&context, &keys);
        assert_eq!(names.values().next(), Some(&vec!["TOK".to_owned()]));
    }
}
