//! Where an entry is defined: the overlay, the root config or an included file, found in the
//! files' trees of nodes, and whether an anchor or an alias on the way shares it.

use super::super::yaml::{SpanKind, SpanNode};
use super::Context;

/// Where an entry is written.
pub(super) struct Site {
    pub(super) file: usize,
    /// The mapping that holds the key (`keys:`).
    pub(super) keys: SpanNode,
    pub(super) key: SpanNode,
    pub(super) value: SpanNode,
    /// A node on the way (the file's root down to the entry, key and value included) defines an
    /// anchor or is an alias, so other places may repeat what an edit here would change. Then
    /// `keys`, `key` and `value` may be the alias that stopped the walk. The byte where the
    /// first such node starts.
    pub(super) shared: Option<usize>,
}

/// Finds where `key` of `scope` is defined: the environment's overlay first, then the root's
/// scope, then the included files. `overlay` says whether the site is in the overlay.
pub(super) fn find(
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

pub(super) fn site_at(root: &SpanNode, file: usize, path: &[&str], key: &str) -> Option<Site> {
    let mut node = root;
    let mut shared = root.anchored.then_some(root.start);
    let stopped = |node: &SpanNode| Site {
        file,
        keys: node.clone(),
        key: node.clone(),
        value: node.clone(),
        shared: Some(node.start),
    };
    for name in path {
        if node.kind == SpanKind::Alias {
            return Some(stopped(node));
        }
        let (key_node, value) = node.entry(name)?;
        shared = shared.or_else(|| sharing(key_node, value, false));
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
    shared = shared.or_else(|| sharing(key_node, value, true));
    Some(Site { file, keys: node.clone(), key: key_node.clone(), value: value.clone(), shared })
}

/// Where an entry's key or value shares it: the key defines an anchor or is an alias, or the
/// value defines an anchor (or, with `alias`, is an alias).
fn sharing(key: &SpanNode, value: &SpanNode, alias: bool) -> Option<usize> {
    if key.shares() {
        Some(key.start)
    } else if value.anchored || (alias && value.shares()) {
        Some(value.start)
    } else {
        None
    }
}

/// The first node on `path` from `root` that defines an anchor or is an alias: where it starts.
pub(super) fn path_shared(root: &SpanNode, path: &[&str]) -> Option<usize> {
    let mut node = root;
    if node.anchored {
        return Some(node.start);
    }
    for name in path {
        let (key, value) = node.entry(name)?;
        if let Some(at) = sharing(key, value, true) {
            return Some(at);
        }
        node = value;
    }
    None
}

pub(super) fn has_environments(trees: &[Option<SpanNode>]) -> bool {
    trees.first().and_then(Option::as_ref).and_then(|root| root.get("environments")).is_some()
}
