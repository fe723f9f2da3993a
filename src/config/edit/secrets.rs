//! The secrets that feed a sensitive key's changed parts, named for a person (a secret is
//! never written into a file).

use std::collections::BTreeMap;

use super::super::interpolate;
use super::super::yaml::{SpanKind, SpanNode};
use super::Context;
use super::locate::{self, Trees};

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
    // A file that cannot be read or parsed again stops the edits that follow.
    let Ok(trees) = Trees::read(context.files) else { return names };
    for (scope, key, parts) in keys {
        let Some((site, _)) = locate::find(context, &trees, scope, key) else { continue };
        if site.shared.is_some() {
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
