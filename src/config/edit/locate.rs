//! Where an entry is defined: the overlay, the root config or an included file, found in the
//! files' trees of nodes, and whether an anchor or an alias on the way shares it.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::rc::Rc;

use super::super::yaml::{self, SpanKind, SpanNode};
use super::{Context, Error};

/// The files the load read (root first): each one's text, and its tree of nodes, parsed when
/// first needed. A tree takes about 340 bytes a key, so an edit of one key of a million parses
/// the root and the files whose text holds the key, not every file.
pub(super) struct Trees {
    paths: Vec<PathBuf>,
    texts: Vec<Rc<String>>,
    parsed: Vec<OnceCell<Result<Option<SpanNode>, String>>>,
}

impl Trees {
    /// Reads every file again (a file the load read that cannot be read now is an error).
    pub(super) fn read(paths: &[PathBuf]) -> Result<Self, Error> {
        let texts = paths
            .iter()
            .map(|path| {
                std::fs::read_to_string(path)
                    .map(Rc::new)
                    .map_err(|source| Error::Read { path: path.clone(), source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parsed = paths.iter().map(|_| OnceCell::new()).collect();
        Ok(Self { paths: paths.to_vec(), texts, parsed })
    }

    pub(super) fn text(&self, file: usize) -> &Rc<String> {
        &self.texts[file]
    }

    /// File `file`'s tree; `None` for an empty document or a file that does not parse (which
    /// [`Trees::failure`] then reports).
    pub(super) fn get(&self, file: usize) -> Option<&SpanNode> {
        let parsed = self.parsed.get(file)?;
        let tree = parsed
            .get_or_init(|| yaml::span_tree(&self.texts[file]).map_err(|error| error.to_string()));
        tree.as_ref().ok()?.as_ref()
    }

    pub(super) fn root(&self) -> Option<&SpanNode> {
        self.get(0)
    }

    /// The first file that was needed and does not parse (it changed since the load).
    pub(super) fn failure(&self) -> Option<Error> {
        self.parsed.iter().zip(&self.paths).find_map(|(parsed, path)| {
            let message = parsed.get()?.as_ref().err()?;
            Some(Error::Parse { path: path.clone(), message: message.clone() })
        })
    }

    /// Which files were parsed.
    #[cfg(test)]
    pub(super) fn parsed(&self) -> Vec<bool> {
        self.parsed.iter().map(|tree| tree.get().is_some()).collect()
    }

    /// A scope's `included` files in the order to look for `key`: those whose text holds it
    /// as written first (a key is defined once in a scope's files), then the others (a key
    /// that is escaped or split in the text), each in the order the load read them.
    fn included_for(&self, included: &[usize], key: &str) -> impl Iterator<Item = usize> {
        let (holding, others): (Vec<usize>, Vec<usize>) = (included.iter().copied())
            .filter(|&file| file < self.texts.len())
            .partition(|&file| self.texts[file].contains(key));
        holding.into_iter().chain(others)
    }
}

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
/// scope, then the files the scope includes. `overlay` says whether the site is in the overlay.
pub(super) fn find(
    context: &Context<'_>,
    trees: &Trees,
    scope: &str,
    key: &str,
) -> Option<(Site, bool)> {
    let root = trees.root()?;
    if let Some(environment) = context.environment {
        let path = ["environments", environment, "namespaces", scope, "keys"];
        if let Some(site) = site_at(root, 0, &path, key) {
            return Some((site, true));
        }
    }
    if let Some(site) = site_at(root, 0, &["namespaces", scope, "keys"], key) {
        return Some((site, false));
    }
    let included = context.included.get(scope)?;
    for index in trees.included_for(included, key) {
        if let Some(tree) = trees.get(index)
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

pub(super) fn has_environments(trees: &Trees) -> bool {
    trees.root().and_then(|root| root.get("environments")).is_some()
}
