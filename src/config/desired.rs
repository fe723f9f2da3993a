//! The resolved desired state: what the config means once it is loaded, interpolated, merged
//! with its environment overlay, validated and hashed. This is the plan engine's input, so it
//! holds no YAML, no spans and nothing that can still fail.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::kv::Expiration;
use crate::plan::hash::ContentHash;

/// The whole desired state of one config (one environment).
#[derive(Debug, Clone)]
pub struct Desired {
    /// The owner written into every marker.
    pub owner: String,
    /// The environment whose overlay was applied, if any.
    pub environment: Option<String>,
    /// `account_id` from the config, if set.
    pub account_id: Option<String>,
    /// `target` from the config, if set (`--target` overrides it).
    pub target: Option<String>,
    /// `local_path` from the config, resolved against the config's folder, if set.
    pub local_path: Option<PathBuf>,
    /// The `max_deletes` floor of the delete guard.
    pub max_deletes: usize,
    /// The account's Workers KV plan (`plan_tier:`), for the Free plan's daily-limit warning.
    pub plan_tier: PlanTier,
    /// The scopes in config order.
    pub scopes: Vec<DesiredScope>,
}

/// One (namespace, prefix) pair and the keys desired in it.
#[derive(Debug, Clone)]
pub struct DesiredScope {
    /// The scope's name in the config (`namespaces.<name>`).
    pub name: String,
    pub namespace_id: String,
    /// How `namespace_id` was found when the config did not write it out, for the plan's
    /// heading: e.g. ``binding `FLAGS` in wrangler.jsonc [env.staging]``. `None` for a
    /// `namespace_id:` in the config.
    pub resolved_from: Option<String>,
    /// Every key of the scope starts with this; `""` is the whole namespace.
    pub prefix: String,
    /// `list_shards:`, sorted: key prefixes listed in parallel instead of `prefix`. Keys outside
    /// them are outside the scope (no desired key is). Empty: the prefix is listed whole.
    pub list_shards: Vec<String>,
    /// Whether our keys that are no longer desired are deleted (else kept as orphans).
    pub prune: bool,
    pub ignore: Globs,
    pub protect: Globs,
    pub take_over: Globs,
    /// Desired keys in UTF-8 byte order (which is `String`'s order).
    pub entries: BTreeMap<String, DesiredEntry>,
}

/// The Workers KV plan of the account (`plan_tier:`): the Free plan has daily limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanTier {
    /// 1,000 writes, 1,000 deletes and 1,000 lists a day.
    Free,
    /// No daily limits (the default).
    #[default]
    Paid,
}

impl PlanTier {
    pub fn is_free(self) -> bool {
        self == Self::Free
    }
}

impl Desired {
    /// How each scope's namespace id was found (see [`DesiredScope::resolved_from`]), in scope
    /// order: what the human plan's scope headings show.
    pub fn resolved_from(&self) -> Vec<Option<String>> {
        self.scopes.iter().map(|s| s.resolved_from.clone()).collect()
    }
}

/// One desired key.
#[derive(Debug, Clone)]
pub struct DesiredEntry {
    pub value: ValueSource,
    /// The value's size in bytes.
    pub size: u64,
    /// Whether the value is valid UTF-8 (decides `base64` on write and how diffs are shown).
    pub is_text: bool,
    /// The user metadata; `None` when the key has none (`metadata: null` included).
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub expiration: Expiration,
    /// Never shown: set by `sensitive: true` or any `${…}` interpolation in the entry.
    pub sensitive: bool,
    /// The content hash of value, metadata and expiration (DESIGN.md §2).
    pub hash: ContentHash,
}

/// Where a desired value's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// Bytes held in memory (strings and JSON from the YAML).
    Inline(Vec<u8>),
    /// A file, read again when the value is needed, so large values are never all in memory.
    File(PathBuf),
}

/// A compiled list of key globs (`*` stays within one `/` segment, `**` crosses them).
#[derive(Debug, Clone)]
pub struct Globs {
    patterns: Vec<String>,
    set: globset::GlobSet,
}

impl Globs {
    /// Compiles the patterns; the error names the first bad pattern.
    pub fn new(patterns: &[String]) -> Result<Self, (String, globset::Error)> {
        let mut builder = globset::GlobSetBuilder::new();
        for pattern in patterns {
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| (pattern.clone(), e))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| (String::new(), e))?;
        Ok(Self { patterns: patterns.to_vec(), set })
    }

    /// No patterns: matches nothing.
    pub fn empty() -> Self {
        Self { patterns: Vec::new(), set: globset::GlobSet::empty() }
    }

    pub fn is_match(&self, key: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(key)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

impl Default for Globs {
    fn default() -> Self {
        Self::empty()
    }
}
