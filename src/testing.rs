//! Builders shared by the unit tests: the desired-state values many modules' tests need, written
//! once. Test-only; nothing here is part of the library.

use crate::config::desired::Entries;
use crate::config::{Desired, DesiredEntry, DesiredScope, Globs, ValueSource};
use crate::content::Expiration;
use crate::content::content_hash;

/// An inline text entry with its real content hash.
pub(crate) fn entry(value: &str, expiration: Expiration, sensitive: bool) -> DesiredEntry {
    DesiredEntry {
        value: ValueSource::Inline(value.as_bytes().into()),
        size: value.len() as u64,
        is_text: true,
        metadata: None,
        expiration,
        sensitive,
        hash: content_hash(value.as_bytes(), None, expiration),
    }
}

/// A pruning scope with no globs.
pub(crate) fn scope(
    name: &str,
    namespace_id: &str,
    prefix: &str,
    entries: Entries,
) -> DesiredScope {
    DesiredScope {
        name: name.into(),
        namespace_id: namespace_id.into(),
        resolved_from: None,
        prefix: prefix.into(),
        list_shards: Vec::new(),
        prune: true,
        allow_empty: false,
        ignore: Globs::empty(),
        protect: Globs::empty(),
        take_over: Globs::empty(),
        entries,
    }
}

/// A desired state of these scopes, owned by `owner`, with the default delete floor.
pub(crate) fn desired(owner: &str, scopes: Vec<DesiredScope>) -> Desired {
    Desired {
        owner: owner.into(),
        environment: None,
        account_id: None,
        target: None,
        local_path: None,
        max_deletes: 50,
        plan_tier: Default::default(),
        scopes,
    }
}
