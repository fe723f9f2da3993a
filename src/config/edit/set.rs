//! Setting an existing entry to what is live: only the parts that changed are replaced, in
//! their own form where that reads back exactly; the entry is read back by the loader's own
//! code before the edit is kept. With environments, a key of the base config gets an override
//! in the overlay, a copy of the base entry with the same edits.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::super::desired::{DesiredEntry, ValueSource};
use super::super::model::{IncludeFile, KeyEntry, Sp};
use super::super::problems::Problems;
use super::super::sources::{self, KeySite, Scratch, Sources};
use super::super::yaml::{self, ScalarForm, SpanKind, SpanNode};
use super::super::yaml_out;
use super::locate::{self, Site};
use super::render::{
    At, block_scalar_or_value, flow_entry, is_collection, json_edits, json_of, render_json,
    value_start,
};
use super::text::{apply, blank_tail, column_of, entry_end, line_start};
use super::{
    Change, Context, Draft, Files, Later, Override, Part, Refusal, entries, overridden, place,
    place_at, shown,
};
use crate::content::Expiration;

/// The parts of an entry a change sets: the value, the metadata, the expiration (`None`: kept).
pub(super) type Parts<'a> =
    (Option<&'a [u8]>, Option<&'a Option<Map<String, Value>>>, Option<&'a Option<i64>>);

/// A byte range of a file and its new text.
pub(super) type Replacement = (usize, usize, String);

/// Edits an existing entry so that it says what is live.
pub(super) fn set(
    files: &Files<'_>,
    drafts: &mut [Draft],
    later: &mut Later,
    change: &Change,
    entry: Option<&DesiredEntry>,
    parts: Parts<'_>,
) -> Result<String, Refusal> {
    let context = files.context;
    let entry = entry.ok_or(Refusal::NotDesired)?;
    let found = locate::find(context, files.trees, &change.scope, &change.key);
    if let Some((site, _)) = &found
        && let Some(at) = site.shared
    {
        return Err(Refusal::Shared { place: place_at(context, &drafts[site.file], at) });
    }
    // A value that lives in a file: the file gets the live bytes.
    if let ValueSource::File(path) = &entry.value
        && let Some(place) = set_value_file(context, found.as_ref(), path, parts, later)?
    {
        return Ok(place);
    }
    let (site, in_overlay) = found.ok_or(Refusal::NotFound)?;
    // A key from the base config, with environments: an override in the overlay instead, a
    // copy of the base entry with the same edits (every other field kept); on one line, for a
    // flow overlay, it is rebuilt from value, metadata and expiration.
    let overriding =
        context.environment.is_some() && !in_overlay && locate::has_environments(files.trees);
    let one_line = if overriding {
        let rendered = override_line(context, change, entry, parts);
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
    let text = &drafts[site.file].original;
    let mut replacements = Vec::new();
    match entry_fields(&site, entry) {
        None => replace_bare(text, &site, entry, parts, &mut replacements)?,
        Some(fields) => replace_fields(text, fields, entry, parts, &mut replacements)?,
    }
    check_read_back(context, &drafts[site.file], &site, &replacements, change, entry, parts)?;
    if overriding {
        let entry = copy_entry(text, &site, &replacements);
        later.overlay.push((
            change.scope.clone(),
            change.key.clone(),
            Override { entry, one_line },
        ));
        return Ok(overridden(context, &drafts[0].path));
    }
    let made = place(context, &drafts[site.file], &site.key);
    drafts[site.file].replacements.extend(replacements);
    Ok(made)
}

/// A value kept in a file (`file:`): the file gets the live bytes. `Some(place)` when that is
/// the whole edit (only the value changed); `None` when the entry's fields change too.
fn set_value_file(
    context: &Context<'_>,
    found: Option<&(Site, bool)>,
    path: &Path,
    (value, metadata, expiration): Parts<'_>,
    later: &mut Later,
) -> Result<Option<String>, Refusal> {
    let in_base = context.environment.is_some() && !found.is_some_and(|(_, overlay)| *overlay);
    if value.is_some() && in_base && found.is_some() {
        return Err(Refusal::SharedValueFile { file: shown(context.root, path) });
    }
    if metadata.is_none() && expiration.is_none() {
        if let Some(bytes) = value {
            later.value_files.insert(path.to_path_buf(), bytes.to_vec());
        }
        return Ok(Some(shown(context.root, path)));
    }
    if found.is_none() {
        return Err(Refusal::FilesSource);
    }
    if let Some(bytes) = value {
        later.value_files.insert(path.to_path_buf(), bytes.to_vec());
    }
    Ok(None)
}

/// The override of a base entry on one line (`key: {value: …, metadata: …}`), rebuilt from
/// value, metadata and expiration, and read back.
fn override_line(
    context: &Context<'_>,
    change: &Change,
    entry: &DesiredEntry,
    (value, metadata, expiration): Parts<'_>,
) -> Result<String, Refusal> {
    let new_value = match (value, &entry.value) {
        (Some(bytes), _) => bytes.to_vec(),
        (None, ValueSource::Inline(bytes)) => bytes.to_vec(),
        (None, ValueSource::File(path)) => {
            return Err(Refusal::SharedValueFile { file: shown(context.root, path) });
        }
    };
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
    let rendered = flow_entry(&new_value, metadata.as_ref(), expiration).ok_or(Refusal::NotText)?;
    let place = overridden(context, context.root);
    verify(context, &place, &rendered, &change.key, &new_value, metadata.as_ref(), expiration)?;
    Ok(format!("{}: {rendered}", yaml_out::scalar(&change.key)))
}

/// The entry's fields when it is written as an entry mapping (`value:`, `file:`, …); `None`
/// when the node is the value itself.
fn entry_fields<'s>(site: &'s Site, entry: &DesiredEntry) -> Option<&'s SpanNode> {
    match &site.value.kind {
        SpanKind::Map { .. }
            if !matches!(entry.value, ValueSource::Inline(_))
                || site.value.get("value").is_some()
                || site.value.get("file").is_some() =>
        {
            Some(&site.value)
        }
        _ => None,
    }
}

/// `key: value`: the node is the value. Metadata or an expiration makes it an entry.
fn replace_bare(
    text: &str,
    site: &Site,
    entry: &DesiredEntry,
    (value, metadata, expiration): Parts<'_>,
    replacements: &mut Vec<Replacement>,
) -> Result<(), Refusal> {
    let bytes = value.map_or_else(|| inline_bytes(entry), |b| Some(b.to_vec()));
    let bytes = bytes.ok_or(Refusal::NotFound)?;
    let new_metadata = metadata.cloned().flatten();
    let new_expiration = expiration.copied().flatten();
    if new_metadata.is_none()
        && new_expiration.is_none()
        && !matches!(entry.expiration, Expiration::Ttl(_))
    {
        let parent = column_of(text, site.key.start);
        let (rendered, through_tail) =
            block_scalar_or_value(text, &site.value, &bytes, !entry.json, parent)?;
        // A mapping written as a key's value is always an entry: the object goes under
        // `value:`.
        let rendered =
            if rendered.starts_with('{') { format!("{{value: {rendered}}}") } else { rendered };
        let end = if through_tail { blank_tail(text, site.value.end) } else { site.value.end };
        let (start, rendered) = value_start(text, &site.key, &site.value, &bytes, rendered);
        replacements.push((start, end, rendered));
        drop_apart(text, &site.value, replacements);
    } else {
        let ttl = match entry.expiration {
            Expiration::Ttl(ttl) => At::Ttl(ttl),
            _ => At::Absolute(new_expiration),
        };
        let rendered = flow_entry(&bytes, new_metadata.as_ref(), ttl).ok_or(Refusal::NotText)?;
        replacements.push((site.value.start, site.value.end, rendered));
        drop_apart(text, &site.value, replacements);
    }
    Ok(())
}

/// Removes a tag written apart from `node` (a comment between them) when the node is
/// rewritten: the new text reads back on its own, and a tag of the old kind (`!!seq` over what
/// is now a string) would not. The comment stays. (An anchor apart is never edited: the entry
/// is shared.)
fn drop_apart(text: &str, node: &SpanNode, replacements: &mut Vec<Replacement>) {
    if let Some((from, to)) = node.apart {
        let from = text[..from].trim_end_matches([' ', '\t']).len();
        replacements.push((from, to, String::new()));
    }
}

/// An entry mapping: its `value:`, `metadata:` and `expiration:` replaced where they changed.
fn replace_fields(
    text: &str,
    fields: &SpanNode,
    entry: &DesiredEntry,
    (value, metadata, expiration): Parts<'_>,
    replacements: &mut Vec<Replacement>,
) -> Result<(), Refusal> {
    if let (Some(bytes), Some((key, node))) = (value, fields.entry("value")) {
        match json_of(bytes, !entry.json) {
            Some(json) if is_collection(node) && (json.is_object() || json.is_array()) => {
                json_edits(text, node, &json, replacements);
            }
            _ => {
                let parent = column_of(text, key.start);
                let (rendered, through_tail) =
                    block_scalar_or_value(text, node, bytes, !entry.json, parent)?;
                let end = if through_tail { blank_tail(text, node.end) } else { node.end };
                let (start, rendered) = value_start(text, key, node, bytes, rendered);
                replacements.push((start, end, rendered));
                drop_apart(text, node, replacements);
            }
        }
    }
    if let Some(metadata) = metadata {
        match (metadata, fields.get("metadata")) {
            (Some(map), Some(old)) if is_collection(old) => {
                json_edits(text, old, &Value::Object(map.clone()), replacements);
            }
            _ => {
                let rendered = match metadata {
                    Some(map) => {
                        render_json(text, fields.get("metadata"), &Value::Object(map.clone()))
                    }
                    None => "null".to_owned(),
                };
                entries::set_field(text, fields, "metadata", rendered, replacements);
            }
        }
    }
    match expiration {
        Some(Some(at)) => {
            let rendered = match fields.get("expiration") {
                Some(SpanNode {
                    kind: SpanKind::Scalar { style: ScalarForm::Plain, text: old },
                    ..
                }) if old.parse::<i64>().is_ok() => at.to_string(),
                _ => yaml_out::timestamp(*at),
            };
            entries::set_field(text, fields, "expiration", rendered, replacements);
        }
        Some(None) => entries::remove_field(text, fields, "expiration", replacements),
        None => {}
    }
    Ok(())
}

/// Reads the edited entry back as the loader would; the edit is kept only when every part says
/// what it should.
fn check_read_back(
    context: &Context<'_>,
    draft: &Draft,
    site: &Site,
    replacements: &[Replacement],
    change: &Change,
    entry: &DesiredEntry,
    (value, metadata, expiration): Parts<'_>,
) -> Result<(), Refusal> {
    let here = place(context, draft, &site.key);
    let resolved =
        read_back(context, &draft.path, &draft.original, site, replacements, &change.key)
            .map_err(|refusal| with_place(refusal, &here))?;
    let wanted_value = match (value, &entry.value) {
        (Some(bytes), _) => Some(bytes.to_vec()),
        (None, ValueSource::Inline(bytes)) => Some(bytes.to_vec()),
        (None, ValueSource::File(_)) => None,
    };
    let value_ok = match (&wanted_value, &resolved.value) {
        (Some(bytes), ValueSource::Inline(got)) => got.as_ref() == bytes.as_slice(),
        (_, ValueSource::File(_)) => true,
        (None, ValueSource::Inline(_)) => false,
    };
    let wanted_metadata = match metadata {
        Some(m) => m.clone(),
        None => entry.metadata.as_ref().map(|m| m.to_map()),
    }
    .filter(|m| !m.is_empty());
    let got_metadata = resolved.metadata.as_ref().map(|m| m.to_map()).filter(|m| !m.is_empty());
    let expiration_ok = match expiration {
        Some(Some(at)) => resolved.expiration == Expiration::At(*at),
        Some(None) => resolved.expiration == Expiration::Never,
        None => resolved.expiration == entry.expiration,
    };
    let differs = |part| Refusal::Differs { place: here.clone(), part };
    if !value_ok {
        return Err(differs(Part::Value));
    }
    if wanted_metadata != got_metadata {
        return Err(differs(Part::Metadata));
    }
    if !expiration_ok {
        return Err(differs(Part::Expiration));
    }
    Ok(())
}

/// The refusal with `place` filled in.
fn with_place(refusal: Refusal, here: &str) -> Refusal {
    match refusal {
        Refusal::NotParsing { message, .. } => {
            Refusal::NotParsing { place: here.to_owned(), message }
        }
        Refusal::NotLoading { .. } => Refusal::NotLoading { place: here.to_owned() },
        other => other,
    }
}

/// The base entry with the edits made, as an override: its lines after the first relative to
/// the key's column, LF line breaks.
fn copy_entry(text: &str, site: &Site, replacements: &[Replacement]) -> String {
    let end = entry_end(text, site.value.end, replacements);
    let shifted = replacements
        .iter()
        .map(|(start, end, with)| (start - site.key.start, end - site.key.start, with.clone()))
        .collect();
    let copied = apply(&text[site.key.start..end], shifted).replace("\r\n", "\n");
    let copied = copied.strip_suffix('\n').unwrap_or(&copied);
    let column = column_of(text, site.key.start);
    copied
        .split('\n')
        .enumerate()
        .map(|(at, line)| {
            let spaces = line.len() - line.trim_start_matches(' ').len();
            if at == 0 { line } else { &line[spaces.min(column)..] }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The entry of `key` (its key and value nodes) with `replacements` made, read back by the
/// loader's code. Only the entry's own text is parsed, at its own column, so each edit costs the
/// size of its entry, not of its file. A refusal's place is left empty for the caller.
fn read_back(
    context: &Context<'_>,
    file: &Path,
    text: &str,
    site: &Site,
    replacements: &[Replacement],
    key: &str,
) -> Result<DesiredEntry, Refusal> {
    let (keys_node, key_node, value_node) = (&site.keys, &site.key, &site.value);
    let first = line_start(text, key_node.start);
    let prefix = text[first..key_node.start].trim_matches(' ');
    let column = column_of(text, key_node.start);
    let flow = matches!(keys_node.kind, SpanKind::Map { flow: true, .. });
    // In a flow mapping, the entry alone inside braces; in a block one, its lines as written
    // (a `? ` complex key included), or from the key at its column.
    let (from, end) = if flow {
        let end = replacements.iter().map(|(_, end, _)| *end).fold(value_node.end, usize::max);
        (key_node.start, end)
    } else if (prefix.is_empty() || prefix == "?") && column_of(text, first) == 0 && column > 0 {
        (first, entry_end(text, value_node.end, replacements))
    } else {
        (key_node.start, entry_end(text, value_node.end, replacements))
    };
    let shifted: Vec<Replacement> = replacements
        .iter()
        .map(|(start, end, with)| (start - from, end - from, with.clone()))
        .collect();
    let entry = apply(&text[from..end], shifted);
    let close = if entry.ends_with('\n') { "" } else { "\n" };
    let snippet = if flow {
        format!("keys: {{{entry}}}\n")
    } else if from == first {
        format!("keys:\n{entry}{close}")
    } else {
        format!("keys:\n{}{entry}{close}", " ".repeat(column.max(1)))
    };
    let not_parsing = |message: String| Refusal::NotParsing { place: String::new(), message };
    let parsed: IncludeFile = yaml::parse(snippet).map_err(|error| not_parsing(error.message))?;
    let (_, entry) = parsed
        .keys
        .0
        .into_iter()
        .find(|(name, _)| name.value == key)
        .ok_or_else(|| not_parsing(format!("the key `{key}` is not in it")))?;
    resolve_entry(context, file, entry, key)
}

/// An entry as the loader resolves it (interpolation, `file:` paths, validation).
pub(super) fn resolve_entry(
    context: &Context<'_>,
    file: &Path,
    entry: Sp<KeyEntry>,
    key: &str,
) -> Result<DesiredEntry, Refusal> {
    let not_loading = || Refusal::NotLoading { place: String::new() };
    let root_dir = context.root.parent().unwrap_or(Path::new("")).to_path_buf();
    let root_canonical =
        std::fs::canonicalize(sources::shown_dir(&root_dir)).map_err(|_| not_loading())?;
    let sources = Sources {
        vars: context.vars,
        owner: "",
        root_dir: &root_dir,
        root_canonical: &root_canonical,
    };
    let mut problems = Problems::new();
    let id = problems.file(file);
    let dir: PathBuf = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let site = KeySite { file: id, dir: &dir, name: key };
    let mut scratch = Scratch::new();
    sources::resolve(&sources, &site, entry, &mut scratch, &mut problems).ok_or_else(not_loading)
}

/// Checks that a rendered entry (`key: <rendered>`), to be written at `place`, loads as the
/// live state.
pub(super) fn verify(
    context: &Context<'_>,
    place: &str,
    rendered: &str,
    key: &str,
    value: &[u8],
    metadata: Option<&Map<String, Value>>,
    expiration: At,
) -> Result<(), Refusal> {
    let doc = format!("keys:\n  {}: {rendered}\n", yaml_out::scalar(key));
    let not_parsing = |message: String| Refusal::NotParsing { place: place.to_owned(), message };
    let parsed: IncludeFile = yaml::parse(doc).map_err(|error| not_parsing(error.message))?;
    let (_, entry) = parsed
        .keys
        .0
        .into_iter()
        .next()
        .ok_or_else(|| not_parsing(format!("the key `{key}` is not in it")))?;
    let resolved = resolve_entry(context, context.root, entry, key)
        .map_err(|refusal| with_place(refusal, place))?;
    let differs = |part| Refusal::Differs { place: place.to_owned(), part };
    if !matches!(&resolved.value, ValueSource::Inline(got) if got.as_ref() == value) {
        return Err(differs(Part::Value));
    }
    if resolved.metadata.as_ref().map(|m| m.to_map()).filter(|m| !m.is_empty())
        != metadata.cloned().filter(|m| !m.is_empty())
    {
        return Err(differs(Part::Metadata));
    }
    let expiration_ok = match expiration {
        At::Ttl(ttl) => resolved.expiration == Expiration::Ttl(ttl),
        At::Absolute(Some(at)) => resolved.expiration == Expiration::At(at),
        At::Absolute(None) => resolved.expiration == Expiration::Never,
    };
    if !expiration_ok {
        return Err(differs(Part::Expiration));
    }
    Ok(())
}

/// The inline bytes of an entry.
fn inline_bytes(entry: &DesiredEntry) -> Option<Vec<u8>> {
    match &entry.value {
        ValueSource::Inline(bytes) => Some(bytes.to_vec()),
        ValueSource::File(_) => None,
    }
}
