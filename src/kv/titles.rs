//! Namespaces named by title (a scope's `namespace_title:`): what a target answers when asked
//! for its namespaces, and the one rule that turns a title into an id.
//!
//! Cloudflare lists an account's namespaces with their titles (`GET …/storage/kv/namespaces`,
//! cloudflare-kv-api.md §1.1); a run asks once, whatever the number of title scopes. The local
//! target has no titles of its own (its namespaces are created on first write, by id), so there
//! a title names the namespace whose id is derived from it ([`local_id`]): the same title is
//! always the same local namespace, and no two titles share one.

use sha2::{Digest, Sha256};

/// A namespace as its target lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub id: String,
    pub title: String,
}

/// How a target's namespaces are found by title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Titles {
    /// Every namespace the account holds, as listed.
    Listed(Vec<Namespace>),
    /// The local target: each title names the namespace of [`local_id`].
    Derived,
}

/// Why a title names no one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TitleError {
    /// No namespace has the title; `close` are the titles nearest to it (at most a few), and
    /// `count` how many namespaces were listed.
    Missing { close: Vec<String>, count: usize },
    /// More than one namespace has it (Cloudflare refuses a duplicate title when a namespace is
    /// created, so this takes a rename or another client): their ids.
    Ambiguous { ids: Vec<String> },
}

/// How many near titles a [`TitleError::Missing`] names.
const CLOSE_MAX: usize = 5;

impl Titles {
    /// The id of the one namespace titled `title` (exactly: titles are case-sensitive).
    pub fn resolve(&self, title: &str) -> Result<String, TitleError> {
        let namespaces = match self {
            Titles::Derived => return Ok(local_id(title)),
            Titles::Listed(namespaces) => namespaces,
        };
        let ids: Vec<String> =
            namespaces.iter().filter(|n| n.title == title).map(|n| n.id.clone()).collect();
        match ids.len() {
            1 => Ok(ids.into_iter().next().unwrap_or_default()),
            0 => Err(TitleError::Missing {
                close: close_titles(namespaces, title),
                count: namespaces.len(),
            }),
            _ => Err(TitleError::Ambiguous { ids }),
        }
    }
}

/// The titles nearest to `title`: those that equal it ignoring case and surrounding spaces
/// first, then those that contain it or that it contains, in listing order.
fn close_titles(namespaces: &[Namespace], title: &str) -> Vec<String> {
    let folded = title.trim().to_lowercase();
    let mut close: Vec<String> = Vec::new();
    let same = |n: &&Namespace| n.title.trim().to_lowercase() == folded;
    let related = |n: &&Namespace| {
        let other = n.title.trim().to_lowercase();
        !folded.is_empty() && (other.contains(&folded) || folded.contains(&other))
    };
    for namespace in namespaces.iter().filter(same).chain(namespaces.iter().filter(related)) {
        if close.len() < CLOSE_MAX && !close.contains(&namespace.title) {
            close.push(namespace.title.clone());
        }
    }
    close
}

/// The local target's namespace for a title: the first 32 hex digits of SHA-256 over a fixed
/// label and the title, a valid namespace id no listing gives out by chance.
pub fn local_id(title: &str) -> String {
    let mut sha = Sha256::new();
    sha.update(b"kvsync local namespace title\0");
    sha.update(title.as_bytes());
    let digest = sha.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(pairs: &[(&str, &str)]) -> Titles {
        Titles::Listed(
            pairs
                .iter()
                .map(|(id, title)| Namespace { id: (*id).to_owned(), title: (*title).to_owned() })
                .collect(),
        )
    }

    #[test]
    fn a_title_names_one_namespace_exactly() {
        let titles =
            listed(&[("a1", "shop-FLAGS"), ("b2", "shop-flags"), ("c3", "shop-FLAGS_preview")]);
        assert_eq!(titles.resolve("shop-FLAGS"), Ok("a1".to_owned()));
        assert_eq!(titles.resolve("shop-flags"), Ok("b2".to_owned()));
        assert_eq!(
            titles.resolve("Shop-Flags"),
            Err(TitleError::Missing {
                close: vec!["shop-FLAGS".into(), "shop-flags".into(), "shop-FLAGS_preview".into()],
                count: 3
            })
        );
        assert_eq!(titles.resolve("nothing"), Err(TitleError::Missing { close: vec![], count: 3 }));
        let twice = listed(&[("a1", "t"), ("b2", "t")]);
        assert_eq!(
            twice.resolve("t"),
            Err(TitleError::Ambiguous { ids: vec!["a1".into(), "b2".into()] })
        );
    }

    #[test]
    fn local_titles_are_stable_distinct_ids() {
        let id = local_id("shop-FLAGS");
        assert!(crate::content::limits::is_namespace_id(&id), "{id}");
        assert_eq!(Titles::Derived.resolve("shop-FLAGS"), Ok(id.clone()));
        assert_ne!(local_id("shop-flags"), id);
        assert_ne!(local_id(""), local_id(" "));
    }
}
