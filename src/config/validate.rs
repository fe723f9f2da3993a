//! Semantic checks of names and scopes, as pure functions returning a message and a hint.
//!
//! The checks here need no file system and no YAML: the config `version`, the `owner` and
//! `namespace_id` formats, KV's key-name rules, prefixes, glob lists, and scopes that would
//! fight over the same keys. Values, metadata and expirations are checked where they are
//! resolved (`sources`), because their checks need what resolving produces.

use super::desired::Globs;
use super::model::Sp;
use crate::content::limits::{KEY_BYTES_MAX, KeyNameProblem, key_name_problem};

/// A problem: its message and an optional hint.
pub(crate) type Finding = (String, Option<String>);

/// The config format version this kvsync reads.
pub(crate) const CONFIG_VERSION: u32 = 1;

/// The default floor of the delete guard.
pub(crate) const MAX_DELETES_DEFAULT: usize = 50;

pub(crate) fn version(version: u32) -> Result<(), Finding> {
    if version == CONFIG_VERSION {
        return Ok(());
    }
    Err((
        format!("unsupported config version `{version}`"),
        Some(format!("this kvsync reads `version: {CONFIG_VERSION}`")),
    ))
}

/// `[a-z0-9._-]`, 1 to 64 characters: it is written into every marker.
pub(crate) fn owner(owner: &str) -> Result<(), Finding> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c);
    if (1..=64).contains(&owner.len()) && owner.chars().all(valid_char) {
        return Ok(());
    }
    Err((
        format!("owner `{owner}` is not valid"),
        Some("use 1 to 64 lowercase letters, digits, `.`, `_` or `-`".to_owned()),
    ))
}

/// A namespace id: [`crate::content::limits::is_namespace_id`], the rule the stores apply too.
pub(crate) fn namespace_id(id: &str) -> Result<(), Finding> {
    if crate::content::limits::is_namespace_id(id) {
        return Ok(());
    }
    Err((
        format!("namespace id `{id}` is not valid"),
        Some(format!(
            "a namespace id is {}: `wrangler kv namespace list` shows them, and \
             `kvsync init --from-wrangler` writes a config that finds them through your wrangler \
             config's bindings",
            crate::content::limits::NAMESPACE_ID_RULE
        )),
    ))
}

/// KV's rules for a key name: 1 to 512 UTF-8 bytes, not `.` or `..`.
pub(crate) fn key_name(name: &str) -> Result<(), Finding> {
    match key_name_problem(name) {
        None => Ok(()),
        Some(KeyNameProblem::Empty) => Err(("a key name is empty".to_owned(), None)),
        Some(KeyNameProblem::Reserved) => Err((
            format!("key name `{name}` is not allowed"),
            Some("KV refuses the names `.` and `..` (names may contain dots)".to_owned()),
        )),
        Some(KeyNameProblem::TooLong(len)) => Err((
            format!(
                "key `{}` is {len} bytes; KV's limit is {KEY_BYTES_MAX} bytes (UTF-8)",
                shorten(name)
            ),
            None,
        )),
    }
}

/// A key name with any whitespace character (Unicode's `White_Space`): KV accepts it, but a
/// trailing space, a tab or a no-break space is invisible in a review and easy to mistype in a
/// Worker, so `validate` warns.
pub(crate) fn key_whitespace(name: &str) -> Result<(), Finding> {
    let Some((index, c)) = name.char_indices().find(|(_, c)| c.is_whitespace()) else {
        return Ok(());
    };
    let place = if index == 0 {
        "starts with"
    } else if index + c.len_utf8() == name.len() {
        "ends with"
    } else {
        "contains"
    };
    let what = match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        '\n' => "a line break".to_owned(),
        c => format!("whitespace U+{:04X}", u32::from(c)),
    };
    Err((
        format!("key {} {place} {what}", quoted(name)),
        Some(
            "KV accepts it, but whitespace in a key name is easy to miss and to mistype; rename \
             the key unless it is meant"
                .to_owned(),
        ),
    ))
}

/// A key name as Rust's debug form quotes it (every character that is not visible escaped),
/// shortened like other long names.
fn quoted(name: &str) -> String {
    format!("{:?}", shorten(name))
}

/// A prefix is the start of key names, so the key-name length limit applies to it too.
pub(crate) fn prefix(prefix: &str) -> Result<(), Finding> {
    if prefix.len() > KEY_BYTES_MAX {
        return Err((
            format!(
                "prefix `{}` is {} bytes; no key that long can exist in KV ({KEY_BYTES_MAX} bytes)",
                shorten(prefix),
                prefix.len()
            ),
            None,
        ));
    }
    Ok(())
}

/// Every desired key must lie inside its scope.
pub(crate) fn key_in_prefix(name: &str, prefix: &str, scope: &str) -> Result<(), Finding> {
    if name.starts_with(prefix) {
        return Ok(());
    }
    Err((
        format!("key `{}` is outside the prefix `{prefix}` of namespace `{scope}`", shorten(name)),
        Some(format!(
            "rename it to start with `{prefix}`, or move it to a namespace whose prefix it starts \
             with"
        )),
    ))
}

/// Checks a scope's `list_shards` against its prefix and each other. Returns, for each bad
/// shard, its index and the finding; the shards that pass are sound to list in parallel.
pub(crate) fn list_shards(shards: &[&str], prefix: &str) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    for (index, shard) in shards.iter().enumerate() {
        if !shard.starts_with(prefix) || shard.len() == prefix.len() {
            found.push((
                index,
                (
                    format!(
                        "list shard `{}` does not extend the prefix `{prefix}`",
                        shorten(shard)
                    ),
                    Some(format!(
                        "a shard is a longer key prefix inside the scope, e.g. `{prefix}a`"
                    )),
                ),
            ));
        } else if shard.len() > KEY_BYTES_MAX {
            found.push((
                index,
                (
                    format!(
                        "list shard `{}` is {} bytes; no key that long can exist in KV \
                         ({KEY_BYTES_MAX} bytes)",
                        shorten(shard),
                        shard.len()
                    ),
                    None,
                ),
            ));
        } else if let Some(other) = shards[..index]
            .iter()
            .find(|other| shard.starts_with(**other) || other.starts_with(*shard))
        {
            found.push((
                index,
                (
                    format!(
                        "list shard `{}` overlaps the shard `{}`: their keys would be listed twice",
                        shorten(shard),
                        shorten(other)
                    ),
                    Some("keep shards that are not prefixes of one another".to_owned()),
                ),
            ));
        }
    }
    found
}

/// With `list_shards`, every desired key must lie in a shard: keys outside them are not listed.
pub(crate) fn key_in_shards(name: &str, shards: &[String], scope: &str) -> Result<(), Finding> {
    if shards.is_empty() || shards.iter().any(|shard| name.starts_with(shard.as_str())) {
        return Ok(());
    }
    Err((
        format!("key `{}` is in none of the `list_shards` of namespace `{scope}`", shorten(name)),
        Some(
            "keys outside every shard are never listed; add a shard it starts with, or rename it"
                .to_owned(),
        ),
    ))
}

/// Compiles a glob list; a bad pattern is reported at its own place.
pub(crate) fn globs(field: &str, patterns: &[Sp<String>]) -> Result<Globs, (usize, Finding)> {
    let texts: Vec<String> = patterns.iter().map(|p| p.value.clone()).collect();
    Globs::new(&texts).map_err(|(pattern, error)| {
        let index = patterns.iter().position(|p| p.value == pattern).unwrap_or(0);
        (
            index,
            (
                format!("`{field}` glob `{pattern}` is not valid: {}", error.kind()),
                Some(
                    "`*` matches within one `/` segment, `**` across them, `?` one character, \
                     `[ab]` a class; `\\` escapes"
                        .to_owned(),
                ),
            ),
        )
    })
}

/// A scope as far as the overlap check cares.
pub(crate) struct ScopeHead<'a> {
    pub name: &'a str,
    pub namespace_id: &'a str,
    pub prefix: &'a str,
}

/// Two scopes on one namespace whose prefixes nest (`""` nests with anything) would each delete
/// the other's keys. Returns, for each later scope of such a pair, its index and the finding.
pub(crate) fn overlapping_scopes(scopes: &[ScopeHead<'_>]) -> Vec<(usize, Finding)> {
    let mut findings = Vec::new();
    // Scopes are few (one per namespace entry), so comparing every pair is fine.
    for (later, b) in scopes.iter().enumerate() {
        let earlier = scopes[..later].iter().find(|a| {
            a.namespace_id == b.namespace_id
                && (a.prefix.starts_with(b.prefix) || b.prefix.starts_with(a.prefix))
        });
        if let Some(a) = earlier {
            findings.push((
                later,
                (
                    format!(
                        "namespaces `{}` and `{}` overlap: both manage keys of namespace `{}` \
                         (prefixes `{}` and `{}`)",
                        a.name, b.name, b.namespace_id, a.prefix, b.prefix
                    ),
                    Some(
                        "each would delete the other's keys; give them prefixes where neither \
                         starts with the other, or merge them"
                            .to_owned(),
                    ),
                ),
            ));
        }
    }
    findings
}

/// A long name, cut for messages.
fn shorten(name: &str) -> String {
    const SHOWN: usize = 48;
    if name.chars().count() <= SHOWN {
        return name.to_owned();
    }
    let head: String = name.chars().take(SHOWN).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_namespace_id_formats() {
        assert!(owner("web-flags.v2_x").is_ok());
        assert!(owner("").is_err());
        assert!(owner("Web").is_err());
        assert!(owner(&"a".repeat(65)).is_err());
        assert!(namespace_id("0f1e2d3c4b5a69788796a5b4c3d2e1f0").is_ok());
        assert!(namespace_id(&"a".repeat(33)).is_err());
        assert!(namespace_id(&"a".repeat(31)).is_err());
        assert!(namespace_id("has space").is_err());
        assert!(namespace_id("replace-with-your-namespace-id").is_err());
        assert!(namespace_id("0F1E2D3C4B5A69788796A5B4C3D2E1F0").is_err(), "one spelling");
    }

    /// Issue 15 item 14: any whitespace in a key name is a warning (the key is kept).
    #[test]
    fn whitespace_in_key_names_is_named() {
        let message = |name: &str| key_whitespace(name).err().map(|(message, _)| message);
        assert_eq!(message("flags/a-b.c"), None);
        assert_eq!(message(" a").as_deref(), Some(r#"key " a" starts with a space"#));
        assert_eq!(message("a\t").as_deref(), Some(r#"key "a\t" ends with a tab"#));
        assert_eq!(message("a\nb").as_deref(), Some(r#"key "a\nb" contains a line break"#));
        assert_eq!(
            message("a\u{a0}b").as_deref(),
            Some(r#"key "a\u{a0}b" contains whitespace U+00A0"#)
        );
        assert_eq!(
            message("a\u{3000}").map(|m| m.ends_with("ends with whitespace U+3000")),
            Some(true)
        );
    }

    #[test]
    fn key_names() {
        assert!(key_name("flags/a.b").is_ok());
        assert!(key_name("...").is_ok());
        assert!(key_name(&"é".repeat(256)).is_ok());
        assert!(key_name(&"é".repeat(257)).is_err());
        for bad in ["", ".", ".."] {
            assert!(key_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scopes_overlap_when_prefixes_nest() {
        let head = |name, id, prefix| ScopeHead { name, namespace_id: id, prefix };
        let scopes = [
            head("a", "n1", "flags/"),
            head("b", "n1", "other/"),
            head("c", "n2", ""),
            head("d", "n1", "flags/x/"),
            head("e", "n2", "z/"),
        ];
        let found: Vec<usize> = overlapping_scopes(&scopes).into_iter().map(|f| f.0).collect();
        assert_eq!(found, vec![3, 4]);
    }
}
