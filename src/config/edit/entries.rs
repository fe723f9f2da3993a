//! Entries added and removed, and the fields of an entry mapping set or removed: each takes
//! its own lines (and its own comment lines) and nothing else.

use serde_json::{Map, Value};

use super::super::yaml::{SpanKind, SpanNode};
use super::super::yaml_out;
use super::locate;
use super::render::{At, flow_entry};
use super::set::{Replacement, verify};
use super::text::{after_line, column_of};
use super::{Change, Draft, Files, Later, Override, Refusal, place, place_at, shown};

/// Replaces the value of `field` in an entry mapping, or adds the field.
pub(super) fn set_field(
    text: &str,
    fields: &SpanNode,
    field: &str,
    rendered: String,
    replacements: &mut Vec<Replacement>,
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
pub(super) fn remove_field(
    text: &str,
    fields: &SpanNode,
    field: &str,
    replacements: &mut Vec<Replacement>,
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

/// A new entry's live state: value, metadata, absolute expiration.
pub(super) type Live<'a> = (&'a [u8], Option<&'a Map<String, Value>>, Option<i64>);

/// Adds a key to the file that holds the scope's `keys:` (or `--into`); with environments, to
/// the environment's overlay (unless `--into` names a file), so the others do not get it.
pub(super) fn add(
    files: &Files<'_>,
    drafts: &mut [Draft],
    later: &mut Later,
    change: &Change,
    (value, metadata, expiration): Live<'_>,
) -> Result<String, Refusal> {
    let context = files.context;
    let rendered = flow_entry(value, metadata, At::Absolute(expiration)).ok_or(Refusal::NotText)?;
    if let Some(environment) = context.environment
        && context.into.is_none()
        && locate::has_environments(files.trees)
    {
        let place = format!("{} (the `{environment}` overlay)", shown(context.root, context.root));
        let expiration = At::Absolute(expiration);
        verify(context, &place, &rendered, &change.key, value, metadata, expiration)?;
        let line = format!("{}: {rendered}", yaml_out::scalar(&change.key));
        later.overlay.push((change.scope.clone(), change.key.clone(), Override::line(line)));
        return Ok(place);
    }
    let (file, path): (usize, Vec<&str>) = match context.into {
        Some(into) => {
            let canonical = std::fs::canonicalize(into).ok();
            let index = drafts
                .iter()
                .position(|d| std::fs::canonicalize(&d.path).ok() == canonical)
                .ok_or_else(|| Refusal::IntoNotRead { into: into.display().to_string() })?;
            if index == 0 {
                (0, vec!["namespaces", change.scope.as_str(), "keys"])
            } else {
                (index, vec!["keys"])
            }
        }
        None => (0, vec!["namespaces", change.scope.as_str(), "keys"]),
    };
    let shown_file = shown(context.root, &drafts[file].path);
    verify(
        context,
        &shown_file,
        &rendered,
        &change.key,
        value,
        metadata,
        At::Absolute(expiration),
    )?;
    let no_mapping = || Refusal::NoMapping { file: shown_file.clone(), path: path.join(".") };
    let tree = files.trees.get(file).ok_or_else(no_mapping)?;
    if let Some(at) = locate::path_shared(tree, &path) {
        return Err(Refusal::Shared { place: place_at(context, &drafts[file], at) });
    }
    let mut node = tree;
    for name in &path {
        node = node.get(name).ok_or_else(no_mapping)?;
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
        _ => return Err(Refusal::NotMapping { file: shown_file, path: path.join(".") }),
    };
    drafts[file].replacements.push((insertion.0, insertion.0, insertion.1));
    Ok(shown_file)
}

/// Removes a key's entry.
pub(super) fn remove(
    files: &Files<'_>,
    drafts: &mut [Draft],
    change: &Change,
) -> Result<String, Refusal> {
    let context = files.context;
    let (site, in_overlay) =
        locate::find(context, files.trees, &change.scope, &change.key).ok_or(Refusal::NotFound)?;
    if let Some(at) = site.shared {
        return Err(Refusal::Shared { place: place_at(context, &drafts[site.file], at) });
    }
    let place = place(context, &drafts[site.file], &site.key);
    if context.environment.is_some() && !in_overlay && locate::has_environments(files.trees) {
        return Err(Refusal::InBase { place });
    }
    let text = &drafts[site.file].original;
    let mut replacements = Vec::new();
    let key_name = match &site.key.kind {
        SpanKind::Scalar { text, .. } => text.clone(),
        _ => change.key.clone(),
    };
    remove_field(text, &site.keys, &key_name, &mut replacements);
    drafts[site.file].replacements.extend(replacements);
    Ok(place)
}

/// Adds `key: rendered` to `environments.<env>.namespaces.<scope>.keys`, making the mappings on
/// the way in block style when they are missing.
pub(super) fn insert_into_overlay(
    files: &Files<'_>,
    drafts: &mut [Draft],
    environment: &str,
    scope: &str,
    overrides: &[&Override],
) -> Result<(), Refusal> {
    let by_hand = || Refusal::Overlay { environment: environment.to_owned() };
    let one_line = || -> Result<String, Refusal> {
        let lines: Option<Vec<&str>> = overrides.iter().map(|e| e.flow()).collect();
        Ok(lines.ok_or_else(by_hand)?.join(", "))
    };
    let path = ["environments", environment, "namespaces", scope, "keys"];
    let root = files.trees.root().ok_or_else(|| Refusal::NoMapping {
        file: shown(files.context.root, &drafts[0].path),
        path: path.join("."),
    })?;
    let text = &drafts[0].original;
    if let Some(at) = locate::path_shared(root, &path) {
        return Err(Refusal::Shared { place: place_at(files.context, &drafts[0], at) });
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
            return Ok(());
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
    Ok(())
}
