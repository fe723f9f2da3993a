//! The benchmark's data: a desired state of N keys written as YAML (a root `kvsync.yaml` that
//! includes many key files, and a folder of `file:` values), and the same keys as the live
//! namespace holds them after `kvsync apply`, markers included.
//!
//! Every key is a pure function of its index, so the YAML, the seeded namespace and the expected
//! counts never need to be held in memory at once. The mix imitates what teams keep in KV:
//! redirects (some expiring), translations (non-ASCII text), per-tenant feature flags (JSON with
//! metadata) and, one key in a thousand, a small HTML page read from a file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use kvsync::content::Expiration;
use kvsync::content::{content_hash, written_metadata};

/// The owner every generated config declares.
pub(crate) const OWNER: &str = "bench";
/// Keys per include file (per family): 1M keys are about 400 files.
const KEYS_PER_FILE: usize = 10_000;
/// Redirects that expire get this absolute expiration (2033-05-18).
const EXPIRES_AT: i64 = 2_000_000_000;

/// Which version of a key the desired state holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// As applied: what the live namespace holds.
    Base,
    /// 1 % of the keys with a new value (an update in the plan).
    Changed,
}

/// The desired state variants of one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Desired {
    /// Exactly the live namespace: `plan` has nothing to do.
    Same,
    /// 1 % changed, 1 % added, 1 % removed.
    Edited,
}

/// What the plan of [`Desired::Edited`] against the base namespace contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Changes {
    pub(crate) create: u64,
    pub(crate) update: u64,
    pub(crate) delete: u64,
    /// List requests the base namespace takes when listed by [`SHARDS`]: Σ⌈keys/1000⌉.
    pub(crate) shard_lists: u64,
}

impl Changes {
    /// The changes for a namespace of `n` keys: every index `i % 100 == 1` changes, every
    /// `i % 100 == 2` is removed, and `n / 100` new indices follow the last one.
    pub(crate) fn for_size(n: usize) -> Changes {
        let count = |rest: usize| (0..n).filter(|i| i % 100 == rest).count() as u64;
        let mut per_shard = [0u64; SHARDS.len()];
        for (i, variant) in indices(n, Desired::Same) {
            let key = spec(i, variant).key;
            if let Some(shard) = SHARDS.iter().position(|s| key.starts_with(s)) {
                per_shard[shard] += 1;
            }
        }
        Changes {
            create: added(n) as u64,
            update: count(CHANGED),
            delete: count(REMOVED),
            shard_lists: per_shard.iter().map(|keys| keys.div_ceil(1000)).sum(),
        }
    }
}

/// The `list_shards` of the sharded root config: every key of every family lies in one.
pub(crate) const SHARDS: [&str; 7] = [
    "flags/",
    "i18n/",
    "pages/",
    "redirects/blog/",
    "redirects/docs/",
    "redirects/help/",
    "redirects/shop/",
];

/// The root config beside `kvsync.yaml` that lists the same scope by [`SHARDS`].
pub(crate) const SHARDED_ROOT: &str = "kvsync-sharded.yaml";

/// The same desired state with every key in the root file: row (f).
pub(crate) const ONE_FILE_ROOT: &str = "kvsync-one-file.yaml";

/// The same desired state with every value under a JSON Schema: row (g).
pub(crate) const TYPED_ROOT: &str = "kvsync-typed.yaml";

/// Row (g)'s schemas, one per key family: every value of the state satisfies its schema, and
/// each is checked as a Worker reads it (text for the strings, parsed JSON for the flags).
const TYPED_SCHEMAS: &str = "    schemas:\n      \"redirects/**\": {type: string, format: uri}\n      \"i18n/**\": {type: string, minLength: 1}\n      \"pages/**\": {type: string, maxLength: 100000}\n      \"flags/**\": schemas/flag.schema.json\n";

/// The flags' schema for row (g).
const FLAG_SCHEMA: &str = r#"{"type": "object", "required": ["enabled", "rollout"], "properties": {"enabled": {"type": "boolean"}, "rollout": {"type": "integer", "minimum": 0, "maximum": 100}}, "additionalProperties": false}"#;

const CHANGED: usize = 1;
const REMOVED: usize = 2;

fn added(n: usize) -> usize {
    n / 100
}

/// Where the value of one key comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// A YAML string, stored as-is.
    Text(String),
    /// A YAML flow mapping (written with JSON syntax), stored as compact JSON.
    Json { yaml: String, stored: String },
    /// A file under `files/`, named relative to the include file.
    File { name: String, bytes: Vec<u8> },
}

/// One desired key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    pub(crate) key: String,
    pub(crate) family: &'static str,
    pub(crate) source: Source,
    /// User metadata as a JSON object text, in the order written.
    pub(crate) metadata: Option<String>,
    pub(crate) expiration: Option<i64>,
}

const SECTIONS: [&str; 4] = ["blog", "docs", "shop", "help"];
const LANGS: [(&str, &str); 5] = [
    ("de", "Grüße aus München"),
    ("fr", "Bonjour à tous"),
    ("ja", "こんにちは世界"),
    ("pt", "Olá, tudo bem?"),
    ("es", "¡Hola, mundo!"),
];
const TEAMS: [&str; 4] = ["growth", "search", "payments", "platform"];

/// The key of index `i`, as `variant` has it.
pub(crate) fn spec(i: usize, variant: Variant) -> Spec {
    let changed = variant == Variant::Changed && i % 100 == CHANGED;
    if i.is_multiple_of(1000) {
        let name = format!("p{i:07}.html");
        return Spec {
            key: format!("pages/{name}"),
            family: "pages",
            source: Source::File { bytes: page(i), name },
            metadata: Some(r#"{"content_type": "text/html; charset=utf-8"}"#.to_owned()),
            expiration: None,
        };
    }
    match i % 20 {
        0..12 => {
            let section = SECTIONS[i % SECTIONS.len()];
            let mut target = format!("https://www.example.com/{section}/archive/{i}/article");
            if changed {
                target.push_str("?moved=2");
            }
            Spec {
                key: format!("redirects/{section}/post-{i:07}"),
                family: "redirects",
                source: Source::Text(target),
                metadata: None,
                expiration: (i % 50 == 3).then_some(EXPIRES_AT),
            }
        }
        12..17 => {
            let (lang, text) = LANGS[i % LANGS.len()];
            let suffix = if changed { " (v2)" } else { "" };
            Spec {
                key: format!("i18n/{lang}/msg-{i:07}"),
                family: "i18n",
                source: Source::Text(format!("{text} #{i}{suffix}")),
                metadata: None,
                expiration: None,
            }
        }
        _ => {
            let rollout = (i % 100 + usize::from(changed)) % 101;
            let enabled = i.is_multiple_of(3) != changed;
            Spec {
                key: format!("flags/tenant-{i:07}/checkout-v2"),
                family: "flags",
                source: Source::Json {
                    yaml: format!(r#"{{"enabled": {enabled}, "rollout": {rollout}}}"#),
                    stored: format!(r#"{{"enabled":{enabled},"rollout":{rollout}}}"#),
                },
                metadata: Some(format!(
                    r#"{{"team": "{}", "ticket": "SHOP-{}"}}"#,
                    TEAMS[i % TEAMS.len()],
                    1000 + i % 9000
                )),
                expiration: None,
            }
        }
    }
}

/// A small HTML page of about 1 KB.
fn page(i: usize) -> Vec<u8> {
    let mut html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Page {i}</title></head>\n<body>\n<h1>Page {i}</h1>\n"
    );
    for p in 0..12 {
        html.push_str(&format!(
            "<p>Paragraph {p} of page {i}: the quick brown fox jumps over the lazy dog.</p>\n"
        ));
    }
    html.push_str("</body>\n</html>\n");
    html.into_bytes()
}

/// The indices the desired state `desired` holds for a namespace of `n` keys, with the variant
/// each index takes.
pub(crate) fn indices(n: usize, desired: Desired) -> impl Iterator<Item = (usize, Variant)> {
    let (end, variant) = match desired {
        Desired::Same => (n, Variant::Base),
        Desired::Edited => (n + added(n), Variant::Changed),
    };
    (0..end)
        .filter(move |i| desired == Desired::Same || i % 100 != REMOVED || *i >= n)
        .map(move |i| (i, variant))
}

/// Writes the desired state `desired` of `n` keys under `dir` (created) and returns the path of
/// its root config and the number of files written.
pub(crate) fn write_config(
    dir: &Path,
    namespace_id: &str,
    n: usize,
    desired: Desired,
) -> io::Result<(PathBuf, usize)> {
    fs::create_dir_all(dir.join("keys"))?;
    fs::create_dir_all(dir.join("files"))?;
    let root = dir.join("kvsync.yaml");
    let head = format!(
        "# Generated by kvsync-bench: {n} keys in the live namespace.\n\
         version: 1\n\
         owner: {OWNER}\n\
         namespaces:\n  \
           site:\n    \
             namespace_id: \"{namespace_id}\"\n    \
             include: [\"keys/*.yaml\"]\n"
    );
    fs::write(&root, &head)?;
    let shards: Vec<String> = SHARDS.iter().map(|s| format!("\"{s}\"")).collect();
    fs::write(dir.join(SHARDED_ROOT), format!("{head}    list_shards: [{}]\n", shards.join(", ")))?;
    fs::create_dir_all(dir.join("schemas"))?;
    fs::write(dir.join("schemas/flag.schema.json"), FLAG_SCHEMA)?;
    fs::write(dir.join(TYPED_ROOT), format!("{head}{TYPED_SCHEMAS}"))?;
    // Row (f): the same keys, all in one root file (`file:` paths relative to it).
    let mut one_file = BufWriter::new(fs::File::create(dir.join(ONE_FILE_ROOT))?);
    one_file
        .write_all(head.replace("    include: [\"keys/*.yaml\"]\n", "    keys:\n").as_bytes())?;
    let mut files = 2usize;
    // One open include file per family: the chunk of KEYS_PER_FILE indices it belongs to.
    let mut open: BTreeMap<&'static str, (usize, BufWriter<fs::File>)> = BTreeMap::new();
    for (i, variant) in indices(n, desired) {
        let spec = spec(i, variant);
        let chunk = i / KEYS_PER_FILE;
        let stale = open.get(spec.family).is_none_or(|(c, _)| *c != chunk);
        if stale {
            if let Some((_, mut old)) = open.remove(spec.family) {
                old.flush()?;
            }
            let path = dir.join("keys").join(format!("{}-{chunk:04}.yaml", spec.family));
            let mut file = BufWriter::new(fs::File::create(path)?);
            file.write_all(b"keys:\n")?;
            files += 1;
            open.insert(spec.family, (chunk, file));
        }
        let Some((_, out)) = open.get_mut(spec.family) else { unreachable!("just opened") };
        write_entry(out, &spec)?;
        let mut entry = Vec::new();
        write_entry(&mut entry, &spec)?;
        for line in String::from_utf8_lossy(&entry).lines() {
            writeln!(one_file, "    {}", line.replace("file: ../files/", "file: files/"))?;
        }
        if let Source::File { name, bytes } = &spec.source {
            fs::write(dir.join("files").join(name), bytes)?;
            files += 1;
        }
    }
    for (_, (_, mut file)) in open {
        file.flush()?;
    }
    one_file.flush()?;
    Ok((root, files))
}

/// One key of an include file's `keys:` mapping.
fn write_entry(out: &mut impl io::Write, spec: &Spec) -> io::Result<()> {
    let simple = spec.metadata.is_none() && spec.expiration.is_none();
    match (&spec.source, simple) {
        (Source::Text(text), true) => writeln!(out, "  \"{}\": \"{text}\"", spec.key)?,
        (source, _) => {
            writeln!(out, "  \"{}\":", spec.key)?;
            match source {
                Source::Text(text) => writeln!(out, "    value: \"{text}\"")?,
                Source::Json { yaml, .. } => writeln!(out, "    value: {yaml}")?,
                Source::File { name, .. } => writeln!(out, "    file: ../files/{name}")?,
            }
            if let Some(metadata) = &spec.metadata {
                writeln!(out, "    metadata: {metadata}")?;
            }
            if let Some(at) = spec.expiration {
                writeln!(out, "    expiration: {at}")?;
            }
        }
    }
    Ok(())
}

/// A key as the live namespace holds it after `kvsync apply`: value, metadata with the marker,
/// expiration.
pub(crate) struct Live {
    pub(crate) key: String,
    pub(crate) value: Vec<u8>,
    pub(crate) metadata: serde_json::Value,
    pub(crate) expiration: Option<i64>,
}

/// What `kvsync apply` (without `--revision`) writes for `spec`.
pub(crate) fn live(spec: Spec) -> Live {
    let value = match spec.source {
        Source::Text(text) => text.into_bytes(),
        Source::Json { stored, .. } => stored.into_bytes(),
        Source::File { bytes, .. } => bytes,
    };
    let user: Option<serde_json::Map<String, serde_json::Value>> = spec
        .metadata
        .as_deref()
        .map(|text| serde_json::from_str(text).expect("generated metadata is a JSON object"));
    let expiration = spec.expiration.map_or(Expiration::Never, Expiration::At);
    let hash =
        content_hash(&value, user.clone().map(serde_json::Value::Object).as_ref(), expiration);
    let metadata = written_metadata(user.as_ref(), OWNER, hash, None);
    Live { key: spec.key, value, metadata, expiration: spec.expiration }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_one_percent_each() {
        // Shards of 10,000 keys: pages 10 (1 page), redirects/blog 1,490 and docs, help, shop 1,500
        // each (2 pages each), i18n 2,500 (3), flags 1,500 (2).
        assert_eq!(
            Changes::for_size(10_000),
            Changes { create: 100, update: 100, delete: 100, shard_lists: 14 }
        );
        for desired in [Desired::Same, Desired::Edited] {
            for (i, variant) in indices(10_000, desired) {
                let key = spec(i, variant).key;
                assert!(SHARDS.iter().any(|s| key.starts_with(s)), "{key} is in no shard");
            }
        }
        let edited = indices(10_000, Desired::Edited).count();
        assert_eq!(edited, 10_000 - 100 + 100);
        assert_eq!(indices(10_000, Desired::Same).count(), 10_000);
    }

    #[test]
    fn keys_are_unique_and_changes_touch_values_only() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..5_000 {
            let base = spec(i, Variant::Base);
            let changed = spec(i, Variant::Changed);
            assert!(seen.insert(base.key.clone()), "{}", base.key);
            assert_eq!(base.key, changed.key);
            assert_eq!(base.source != changed.source, i % 100 == CHANGED, "{i}");
        }
    }

    #[test]
    fn live_metadata_carries_the_marker_and_user_fields() {
        let flag = (0..).map(|i| spec(i, Variant::Base)).find(|s| s.family == "flags");
        let live = live(flag.expect("a flag"));
        assert_eq!(live.value, br#"{"enabled":false,"rollout":17}"#);
        assert_eq!(live.metadata["team"], "search");
        assert_eq!(live.metadata["__kvsync"]["owner"], OWNER);
    }
}
