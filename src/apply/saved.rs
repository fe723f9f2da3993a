//! Saved plans: what `kvsync plan --out FILE` writes and `kvsync apply FILE` checks
//! (DESIGN.md §6, Terraform's "saved plan is stale").
//!
//! A saved plan holds the versioned JSON plan (without value diffs), a digest of the desired
//! state, and a fingerprint of every live key the plan depends on: each key that is desired or
//! carries our marker. Before applying, kvsync recomputes both from the config and a fresh
//! listing and refuses when anything differs. Keys other writers own never make a plan stale.
//!
//! Nothing here holds a value, and nothing derived from a sensitive value appears outside one
//! digest per scope: a sensitive key's desired hash and live fingerprint (the live marker's hash
//! is derived from the value) only feed `sensitive_digest`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Desired;
use crate::kv::ListedKey;
use crate::plan::LiveScope;
use crate::plan::hash::{Marker, canonical_json, expiration_field};

/// What identifies a saved plan file.
pub const KIND: &str = "kvsync-saved-plan";
/// The version of the saved-plan format.
pub const FORMAT_VERSION: &str = "1";

/// The live state a plan depended on, per scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StaleCheck {
    pub scopes: Vec<ScopeCheck>,
}

/// One scope's fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScopeCheck {
    pub name: String,
    pub namespace_id: String,
    pub prefix: String,
    /// Non-sensitive keys that are desired or carry our marker, with what the listing showed:
    /// `absent`, or a short fingerprint of the key's listed metadata and expiration.
    pub keys: BTreeMap<String, String>,
    /// Sensitive keys' names (their state only feeds `sensitive_digest`).
    pub sensitive_keys: BTreeSet<String>,
    /// One digest over the sensitive keys' desired hashes and live fingerprints.
    pub sensitive_digest: String,
}

/// The digest of a desired state: scopes with their settings, and every key's content hash,
/// except that sensitive keys count by name only (their hash is derived from the secret).
pub fn config_digest(desired: &Desired) -> String {
    let mut sha = Sha256::new();
    let mut field = |bytes: &[u8]| {
        sha.update((bytes.len() as u64).to_be_bytes());
        sha.update(bytes);
    };
    field(b"kvsync-config-digest/v1");
    field(desired.owner.as_bytes());
    field(desired.environment.as_deref().unwrap_or("").as_bytes());
    for scope in &desired.scopes {
        field(scope.name.as_bytes());
        field(scope.namespace_id.as_bytes());
        field(scope.prefix.as_bytes());
        field(if scope.prune { b"prune" } else { b"keep" });
        for globs in [&scope.ignore, &scope.protect, &scope.take_over] {
            field(globs.patterns().join("\n").as_bytes());
        }
        for (key, entry) in &scope.entries {
            field(key.as_bytes());
            if entry.sensitive {
                field(b"sensitive");
            } else {
                field(&entry.hash.0);
            }
        }
    }
    base16ct::lower::encode_string(&sha.finalize())
}

/// Fingerprints the live keys the plan of `desired` depends on.
pub fn stale_check(desired: &Desired, live: &[LiveScope]) -> StaleCheck {
    let empty = LiveScope::default();
    let scopes = desired
        .scopes
        .iter()
        .enumerate()
        .map(|(index, scope)| {
            let listed: BTreeMap<&str, &ListedKey> = live
                .get(index)
                .unwrap_or(&empty)
                .keys
                .iter()
                .filter(|k| k.name.starts_with(&scope.prefix) && !scope.ignore.is_match(&k.name))
                .map(|k| (k.name.as_str(), k))
                .collect();
            let ours = |k: &ListedKey| {
                matches!(Marker::from_listed(&k.metadata), Marker::V1 { owner, .. } if owner == desired.owner)
            };
            let relevant: BTreeSet<&str> = scope
                .entries
                .keys()
                .map(String::as_str)
                .filter(|k| !scope.ignore.is_match(k))
                .chain(listed.values().filter(|k| ours(k)).map(|k| k.name.as_str()))
                .collect();
            let mut keys = BTreeMap::new();
            let mut sensitive_keys = BTreeSet::new();
            let mut sensitive = Sha256::new();
            for key in relevant {
                let seen = listed.get(key).map_or_else(|| "absent".to_owned(), |k| fingerprint(k));
                match scope.entries.get(key).filter(|e| e.sensitive) {
                    Some(entry) => {
                        sensitive_keys.insert(key.to_owned());
                        for part in [key.as_bytes(), &entry.hash.0, seen.as_bytes()] {
                            sensitive.update((part.len() as u64).to_be_bytes());
                            sensitive.update(part);
                        }
                    }
                    None => {
                        keys.insert(key.to_owned(), seen);
                    }
                }
            }
            ScopeCheck {
                name: scope.name.clone(),
                namespace_id: scope.namespace_id.clone(),
                prefix: scope.prefix.clone(),
                keys,
                sensitive_keys,
                sensitive_digest: base16ct::lower::encode_string(&sensitive.finalize()),
            }
        })
        .collect();
    StaleCheck { scopes }
}

/// A listed key's state as far as a listing shows it: its metadata (with the marker) and its
/// absolute expiration, as the first 16 hex digits of their sha256.
fn fingerprint(key: &ListedKey) -> String {
    let metadata = key.metadata.to_json().as_ref().map(canonical_json).unwrap_or_default();
    let expiration = key.expiration.map(|at| expiration_field(crate::kv::Expiration::At(at)));
    let mut sha = Sha256::new();
    sha.update(metadata.as_bytes());
    sha.update(b"\n");
    sha.update(expiration.unwrap_or_default().as_bytes());
    base16ct::lower::encode_string(&sha.finalize())[..16].to_owned()
}

/// The keys whose state changed between two checks (names of sensitive keys included when their
/// scope's digest differs), in scope order then key order.
pub fn stale_keys(saved: &StaleCheck, now: &StaleCheck) -> Vec<String> {
    let mut stale = Vec::new();
    for (index, now_scope) in now.scopes.iter().enumerate() {
        let Some(saved_scope) = saved.scopes.get(index).filter(|s| {
            s.name == now_scope.name
                && s.namespace_id == now_scope.namespace_id
                && s.prefix == now_scope.prefix
        }) else {
            stale.push(format!("(scope `{}`)", now_scope.name));
            continue;
        };
        let names: BTreeSet<&String> =
            saved_scope.keys.keys().chain(now_scope.keys.keys()).collect();
        for key in names {
            let absent = "absent".to_owned();
            let before = saved_scope.keys.get(key).unwrap_or(&absent);
            let after = now_scope.keys.get(key).unwrap_or(&absent);
            if before != after {
                stale.push(key.clone());
            }
        }
        if saved_scope.sensitive_digest != now_scope.sensitive_digest
            || saved_scope.sensitive_keys != now_scope.sensitive_keys
        {
            let names: BTreeSet<&String> =
                saved_scope.sensitive_keys.union(&now_scope.sensitive_keys).collect();
            stale.extend(names.into_iter().map(|k| format!("{k} (sensitive)")));
        }
    }
    stale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Globs;
    use crate::kv::Expiration;
    use crate::kv::ListedMetadata;
    use crate::plan::hash::{content_hash, written_metadata};
    use crate::testing;

    fn desired(entries: &[(&str, &str, bool)]) -> Desired {
        let entries = entries
            .iter()
            .map(|(k, v, s)| ((*k).to_owned(), testing::entry(v, Expiration::Never, *s)))
            .collect();
        let mut scope = testing::scope("flags", "ns", "f/", entries);
        scope.ignore = Globs::new(&["f/rt/*".to_owned()]).expect("glob");
        testing::desired("web", vec![scope])
    }

    fn written(key: &str, owner: &str, value: &str) -> ListedKey {
        let hash = content_hash(value.as_bytes(), None, Expiration::Never);
        ListedKey {
            name: key.into(),
            expiration: None,
            metadata: ListedMetadata::from_json(Some(&written_metadata(None, owner, hash, None))),
        }
    }

    fn live(keys: Vec<ListedKey>) -> Vec<LiveScope> {
        vec![LiveScope { keys }]
    }

    #[test]
    fn only_keys_the_plan_depends_on_make_it_stale() {
        let d = desired(&[("f/a", "1", false), ("f/b", "2", false)]);
        let before =
            stale_check(&d, &live(vec![written("f/a", "web", "1"), written("f/old", "web", "x")]));
        // Another owner's key, an unmarked key and an ignored key appear: not stale.
        let unrelated = live(vec![
            written("f/a", "web", "1"),
            written("f/old", "web", "x"),
            written("f/theirs", "mobile", "t"),
            ListedKey { name: "f/hand".into(), expiration: None, metadata: ListedMetadata::none() },
            written("f/rt/x", "web", "r"),
        ]);
        assert!(stale_keys(&before, &stale_check(&d, &unrelated)).is_empty());
        // A desired key written by someone, our key edited, our old key gone: all stale.
        let changed = live(vec![written("f/a", "web", "9"), written("f/b", "mobile", "2")]);
        assert_eq!(stale_keys(&before, &stale_check(&d, &changed)), vec!["f/a", "f/b", "f/old"]);
    }

    #[test]
    fn sensitive_keys_appear_only_inside_the_digest() {
        let d = desired(&[("f/secret", "hunter2", true)]);
        let check = stale_check(&d, &live(vec![written("f/secret", "web", "hunter2")]));
        let json = serde_json::to_string(&check).expect("json");
        let hash = content_hash(b"hunter2", None, Expiration::Never).to_hex();
        assert!(!json.contains(&hash[..16]), "{json}");
        assert!(check.scopes[0].keys.is_empty());
        let rotated = stale_check(&d, &live(vec![written("f/secret", "web", "hunter3")]));
        assert_eq!(stale_keys(&check, &rotated), vec!["f/secret (sensitive)"]);
    }

    #[test]
    fn the_config_digest_ignores_secret_values_but_not_other_changes() {
        let a = config_digest(&desired(&[("f/a", "1", false), ("f/s", "x", true)]));
        assert_eq!(a, config_digest(&desired(&[("f/a", "1", false), ("f/s", "y", true)])));
        assert_ne!(a, config_digest(&desired(&[("f/a", "2", false), ("f/s", "x", true)])));
        assert_ne!(a, config_digest(&desired(&[("f/a", "1", false)])));
    }
}
