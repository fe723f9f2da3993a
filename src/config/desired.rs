//! The resolved desired state: what the config means once it is loaded, interpolated, merged
//! with its environment overlay, validated and hashed. This is the plan engine's input, so it
//! holds no YAML, no spans and nothing that can still fail.

use std::path::PathBuf;

use crate::content::ContentHash;
use crate::content::Expiration;

/// The whole desired state of one config (one environment).
#[derive(Debug, Clone)]
pub struct Desired {
    /// The owner written into every marker.
    pub owner: String,
    /// The environment whose overlay was applied, or (with no `environments:`) the wrangler
    /// environment `--env` named, if any.
    pub environment: Option<String>,
    /// `account_id` from the config, if set; else, when `CLOUDFLARE_ACCOUNT_ID` (or its legacy
    /// name) is unset too, the `account_id` of the wrangler config a `binding:` was found in.
    pub account_id: Option<String>,
    /// `target` from the config, if set (`--target` overrides it).
    pub target: Option<crate::kv::TargetKind>,
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
    /// `binding:`: the name of the Worker's KV binding the namespace was found by, if so
    /// (`kvsync types` reads the namespace from a Worker's `env` by it).
    pub binding: Option<String>,
    /// Every key of the scope starts with this; `""` is the whole namespace.
    pub prefix: String,
    /// `list_shards:`, sorted: key prefixes listed in parallel instead of `prefix`. Keys outside
    /// them are outside the scope (no desired key is). Empty: the prefix is listed whole.
    pub list_shards: Vec<String>,
    /// Whether our keys that are no longer desired are deleted (else kept as orphans).
    pub prune: bool,
    /// `allow_empty: true`: apply may delete every key of ours here when none is desired.
    pub allow_empty: bool,
    /// `snapshot:` (default `true`): apply saves the live state of the keys it changes here
    /// before its first write.
    pub snapshot: bool,
    pub ignore: Globs,
    pub protect: Globs,
    pub take_over: Globs,
    /// Desired keys in UTF-8 byte order (which is `String`'s order).
    pub entries: Entries,
    /// `schemas:`: which JSON Schema each key's value must satisfy.
    pub schemas: super::value_schema::ValueSchemas,
}

impl DesiredScope {
    /// Whether `key` is in this scope: under its prefix and not ignored. The one test of it.
    pub fn contains(&self, key: &str) -> bool {
        key.starts_with(&self.prefix) && !self.ignore.is_match(key)
    }
}

/// A scope's desired keys: sorted by name in UTF-8 byte order, each name once.
///
/// A sorted `Vec` rather than a `BTreeMap`: the loader already produces the keys sorted and
/// deduplicated, the engine walks them in order, and other readers look keys up by name
/// (binary search). Building a tree of a million entries took 0.7 s of CPU and briefly held
/// them twice (docs/benchmarks.md).
#[derive(Debug, Clone, Default)]
pub struct Entries {
    items: Vec<(String, DesiredEntry)>,
}

impl Entries {
    /// Entries from pairs that are usually sorted by name already, each name once (what the
    /// loader produces: then this costs one pass to check). Pairs out of order are sorted;
    /// of pairs with the same name, the last one is kept, as collecting into a map would.
    ///
    /// The names are held for the whole run, so each gives back the spare capacity it grew
    /// while it was read.
    pub fn from_sorted(mut items: Vec<(String, DesiredEntry)>) -> Self {
        if !items.is_sorted_by(|a, b| a.0 < b.0) {
            // Stable: pairs with the same name keep their order, so the last one is known.
            items.sort_by(|a, b| a.0.cmp(&b.0));
            items.reverse();
            items.dedup_by(|later, earlier| later.0 == earlier.0);
            items.reverse();
        }
        items.shrink_to_fit();
        for (name, _) in &mut items {
            name.shrink_to_fit();
        }
        Self { items }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.items.binary_search_by(|(name, _)| name.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&DesiredEntry> {
        self.position(key).ok().map(|at| &self.items[at].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut DesiredEntry> {
        self.position(key).ok().map(|at| &mut self.items[at].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Adds or replaces one entry, returning the one replaced. Moves every later entry: for
    /// building small states (tests), not a million keys.
    pub fn insert(&mut self, key: String, entry: DesiredEntry) -> Option<DesiredEntry> {
        match self.position(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.items[at].1, entry)),
            Err(at) => {
                self.items.insert(at, (key, entry));
                None
            }
        }
    }

    /// Keeps the entries `keep` says, and gives back the memory of the others.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &DesiredEntry) -> bool) {
        self.items.retain(|(name, entry)| keep(name, entry));
        self.items.shrink_to_fit();
    }

    /// Name and entry, in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.items.iter())
    }

    /// Names in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.items.iter().map(|(name, _)| name)
    }

    /// Entries in name order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &DesiredEntry> + ExactSizeIterator {
        self.items.iter().map(|(_, entry)| entry)
    }
}

/// The iterator of [`Entries::iter`]: `(&name, &entry)` in name order, as a map's would be.
#[derive(Debug, Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, (String, DesiredEntry)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a DesiredEntry);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, entry)| (name, entry))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(name, entry)| (name, entry))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Entries {
    type Item = (&'a String, &'a DesiredEntry);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<(String, DesiredEntry)> for Entries {
    /// Collects pairs in any order; of pairs with the same name the last one is kept.
    fn from_iter<I: IntoIterator<Item = (String, DesiredEntry)>>(items: I) -> Self {
        Self::from_sorted(items.into_iter().collect())
    }
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
///
/// A plan holds every desired key at once (a million at the sizes kvsync is built for), so
/// this stays small: 96 bytes, the metadata behind one pointer (most keys have none), an
/// inline value a boxed slice.
#[derive(Debug, Clone)]
pub struct DesiredEntry {
    pub value: ValueSource,
    /// The value's size in bytes.
    pub size: u64,
    /// Whether the value is valid UTF-8 (decides `base64` on write and how diffs are shown).
    pub is_text: bool,
    /// Whether the value was written as JSON (any YAML value but a string, which is stored as
    /// its raw text; a file's bytes are raw too): how `kvsync types` types and reads it.
    pub json: bool,
    /// The user metadata; `None` when the key has none (`metadata: null` included).
    pub metadata: Option<UserMetadata>,
    pub expiration: Expiration,
    /// Never shown: set by `sensitive: true` or any `${…}` interpolation in the entry.
    pub sensitive: bool,
    /// The content hash of value, metadata and expiration (DESIGN.md §2).
    pub hash: ContentHash,
}

/// Why a desired value could not be read as it was planned.
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    /// The `file:` no longer hashes to what was planned: it was edited since.
    Changed,
}

impl DesiredEntry {
    /// The value's bytes now: held in memory, or its `file:` read again. The one place a
    /// desired value is read after loading.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        match &self.value {
            ValueSource::Inline(bytes) => Ok(bytes.to_vec()),
            ValueSource::File(path) => {
                use std::io::Read as _;
                let mut bytes = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
                fs_err::File::open(path)?.read_to_end(&mut bytes)?;
                Ok(bytes)
            }
        }
    }

    /// [`DesiredEntry::read`], where the bytes must still hash to what was planned: what apply
    /// writes is what the plan showed, even when a `file:` was edited since.
    pub fn read_as_planned(&self) -> Result<Vec<u8>, ReadError> {
        let bytes = self.read().map_err(ReadError::Io)?;
        if let ValueSource::File(_) = self.value {
            let metadata = self.metadata.as_ref().map(|m| serde_json::Value::Object(m.to_map()));
            let hash = crate::content::content_hash(&bytes, metadata.as_ref(), self.expiration);
            if hash != self.hash {
                return Err(ReadError::Changed);
            }
        }
        Ok(bytes)
    }

    /// Whether the value begins with a UTF-8 byte order mark, which a text read drops (a
    /// `file:` value is opened for its first three bytes only).
    pub fn starts_with_bom(&self) -> bool {
        match &self.value {
            ValueSource::Inline(bytes) => crate::content::starts_with_bom(bytes),
            ValueSource::File(path) => {
                use std::io::Read as _;
                let mut head = [0u8; 3];
                std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
                    && crate::content::starts_with_bom(&head)
            }
        }
    }
}

/// A desired key's user metadata (a JSON object), held compactly.
///
/// As a `serde_json::Map`, two small fields cost about 500 bytes in nine allocations; a
/// million desired keys may hold it. So the object is kept as its compact JSON text, which
/// reads back as exactly the same object (same fields, order and values: strings and integers
/// print and parse exactly). An object holding a number that is not an integer stays a
/// `Map`: printing and parsing a float again is exact only with serde_json's `float_roundtrip`
/// feature, and the metadata written to KV must be exactly what was hashed.
#[derive(Clone)]
pub struct UserMetadata(Box<MetadataRepr>);

#[derive(Clone)]
enum MetadataRepr {
    Text(Box<str>),
    /// Boxed, so that the text form costs 16 bytes here, not the 72 of an inline `Map`.
    Map(Box<serde_json::Map<String, serde_json::Value>>),
}

impl UserMetadata {
    /// The object, as the `Map` it was made from.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match &*self.0 {
            // Text this type wrote from a `Map`: it parses.
            MetadataRepr::Text(text) => serde_json::from_str(text).unwrap_or_default(),
            MetadataRepr::Map(map) => (**map).clone(),
        }
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for UserMetadata {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        fn exact(value: &serde_json::Value) -> bool {
            match value {
                serde_json::Value::Number(n) => n.is_i64() || n.is_u64(),
                serde_json::Value::Array(items) => items.iter().all(exact),
                serde_json::Value::Object(fields) => fields.values().all(exact),
                _ => true,
            }
        }
        let text = map.values().all(exact).then(|| serde_json::to_string(&map).ok()).flatten();
        match text {
            Some(text) => Self(Box::new(MetadataRepr::Text(text.into_boxed_str()))),
            None => Self(Box::new(MetadataRepr::Map(Box::new(map)))),
        }
    }
}

impl PartialEq for UserMetadata {
    /// The same object: the same fields with the same values (as `Map` compares them).
    fn eq(&self, other: &Self) -> bool {
        match (&*self.0, &*other.0) {
            (MetadataRepr::Text(a), MetadataRepr::Text(b)) if a == b => true,
            _ => self.to_map() == other.to_map(),
        }
    }
}

impl std::fmt::Debug for UserMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UserMetadata").field(&self.to_map()).finish()
    }
}

impl<'de> serde::Deserialize<'de> for UserMetadata {
    /// A JSON object, as a `Map` deserializes.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Map::deserialize(deserializer).map(Self::from)
    }
}

/// Where a desired value's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// Bytes held in memory (strings and JSON from the YAML). Boxed: exactly as long as the
    /// value, and small enough that the enum is no larger than a `PathBuf`.
    Inline(Box<[u8]>),
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
            builder.add(Self::glob(pattern).map_err(|e| (pattern.clone(), e))?);
        }
        let set = builder.build().map_err(|e| (String::new(), e))?;
        Ok(Self { patterns: patterns.to_vec(), set })
    }

    /// One pattern with kvsync's glob rules: the one place they are set.
    fn glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
        globset::GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build()
    }

    /// The regular expression `is_match` runs for one pattern, in the `regex` crate's syntax
    /// over the key's UTF-8 bytes (`(?-u)`): what `kvsync types` translates for Workers, so a
    /// glob means one thing in both.
    pub fn regex_of(pattern: &str) -> Result<String, globset::Error> {
        Self::glob(pattern).map(|glob| glob.regex().to_owned())
    }

    /// No patterns: matches nothing.
    pub fn empty() -> Self {
        Self { patterns: Vec::new(), set: globset::GlobSet::empty() }
    }

    pub fn is_match(&self, key: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(key)
    }

    /// The indices of the patterns `key` matches, into `into` (cleared first): one pass for
    /// all patterns.
    pub fn matches_into(&self, key: &str, into: &mut Vec<usize>) {
        self.set.matches_into(key, into);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::testing;

    fn entry(value: &str) -> DesiredEntry {
        testing::entry(value, Expiration::Never, false)
    }

    fn value(entry: &DesiredEntry) -> &[u8] {
        match &entry.value {
            ValueSource::Inline(bytes) => bytes,
            ValueSource::File(_) => panic!("inline values only"),
        }
    }

    #[test]
    fn looks_keys_up_by_name() {
        let entries = Entries::from_sorted(
            ["a", "b/x", "b/y", "é"].iter().map(|k| ((*k).to_owned(), entry(k))).collect(),
        );
        assert_eq!(entries.len(), 4);
        for key in ["a", "b/x", "b/y", "é"] {
            assert_eq!(entries.get(key).map(value), Some(key.as_bytes()), "{key}");
            assert!(entries.contains_key(key));
        }
        for absent in ["", "0", "b", "b/", "b/z", "z", "éé"] {
            assert!(entries.get(absent).is_none(), "{absent}");
            assert!(!entries.contains_key(absent));
        }
        assert!(Entries::default().get("a").is_none() && Entries::default().is_empty());
    }

    #[test]
    fn keys_are_in_byte_order_and_the_last_of_a_name_wins() {
        // "Z" < "a" < "é" in bytes; the two "a" keep their order, so the second one stays.
        let pairs = vec![
            ("é".to_owned(), entry("1")),
            ("a".to_owned(), entry("2")),
            ("Z".to_owned(), entry("3")),
            ("a".to_owned(), entry("4")),
        ];
        let entries = Entries::from_sorted(pairs);
        assert_eq!(entries.keys().collect::<Vec<_>>(), ["Z", "a", "é"]);
        assert_eq!(entries.get("a").map(value), Some(&b"4"[..]));
        let values: Vec<&[u8]> = entries.values().map(value).collect();
        assert_eq!(values, [&b"3"[..], b"4", b"1"]);
        assert_eq!(
            entries.iter().rev().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["é", "a", "Z"]
        );
    }

    #[test]
    fn insert_and_get_mut_keep_the_order() {
        let mut entries = Entries::default();
        assert!(entries.insert("m".into(), entry("1")).is_none());
        assert!(entries.insert("a".into(), entry("2")).is_none());
        assert!(entries.insert("z".into(), entry("3")).is_none());
        let replaced = entries.insert("m".into(), entry("4")).expect("replaced");
        assert_eq!(value(&replaced), b"1");
        entries.get_mut("a").expect("a").sensitive = true;
        assert!(entries.get("a").is_some_and(|e| e.sensitive));
        assert!(entries.get_mut("b").is_none());
        let order: Vec<(&str, &[u8])> =
            (&entries).into_iter().map(|(k, e)| (k.as_str(), value(e))).collect();
        assert_eq!(order, [("a", &b"2"[..]), ("m", b"4"), ("z", b"3")]);
    }

    fn map(text: &str) -> serde_json::Map<String, serde_json::Value> {
        serde_json::from_str(text).expect("a JSON object")
    }

    #[test]
    fn user_metadata_reads_back_as_the_same_object() {
        for text in [
            r#"{}"#,
            r#"{"team":"growth","ticket":"KV-12"}"#,
            r#"{"z":1,"a":-2,"big":18446744073709551615,"s":"é\n\"\\","n":null,"b":true}"#,
            r#"{"nested":{"list":[1,{"x":[]}],"o":{}}}"#,
            r#"{"rollout":0.30000000000000004,"team":"x"}"#,
            r#"{"deep":[{"f":1.5}]}"#,
        ] {
            let original = map(text);
            let metadata = UserMetadata::from(original.clone());
            let back = metadata.to_map();
            assert_eq!(back, original, "{text}");
            // Same field order, same values as text.
            assert_eq!(serde_json::to_string(&back).expect("json"), text, "{text}");
            assert_eq!(metadata, UserMetadata::from(original), "{text}");
        }
    }

    #[test]
    fn only_objects_without_floats_are_held_as_text() {
        let is_text =
            |text: &str| matches!(*UserMetadata::from(map(text)).0, MetadataRepr::Text(_));
        assert!(is_text(r#"{"team":"x","n":[1,-2,{"m":3}]}"#));
        assert!(!is_text(r#"{"rollout":0.25}"#));
        assert!(!is_text(r#"{"n":[1,{"f":2.0}]}"#));
    }

    #[test]
    fn user_metadata_compares_and_reads_as_an_object() {
        let a = UserMetadata::from(map(r#"{"a":1,"b":2}"#));
        assert_eq!(a, UserMetadata::from(map(r#"{"b":2,"a":1}"#)), "a Map ignores field order");
        assert_ne!(a, UserMetadata::from(map(r#"{"a":1,"b":3}"#)));
        assert_ne!(a, UserMetadata::from(map(r#"{"a":1.5,"b":2}"#)));
        let read: UserMetadata = serde_json::from_str(r#"{"a":1,"b":2}"#).expect("object");
        assert_eq!(read, a);
        assert!(serde_json::from_str::<UserMetadata>("[1]").is_err());
        assert_eq!(format!("{a:?}"), r#"UserMetadata({"a": Number(1), "b": Number(2)})"#);
    }

    /// What a desired key costs: the point of `Entries` and the compact metadata.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn entries_stay_small() {
        assert_eq!(size_of::<DesiredEntry>(), 96);
        assert_eq!(size_of::<(String, DesiredEntry)>(), 120);
        assert_eq!(size_of::<Option<UserMetadata>>(), 8);
        assert_eq!(size_of::<MetadataRepr>(), 16);
    }

    proptest! {
        /// Entries behave as the `BTreeMap` they replace, whatever order the pairs come in.
        #[test]
        fn behaves_as_a_sorted_map(
            pairs in prop::collection::vec(("[ab/é]{0,3}", "[xyz]{1,2}"), 0..40),
            probes in prop::collection::vec("[ab/é]{0,3}", 0..20),
        ) {
            let pairs: Vec<(String, DesiredEntry)> =
                pairs.iter().map(|(k, v)| (k.clone(), entry(v))).collect();
            let map: BTreeMap<String, DesiredEntry> = pairs.iter().cloned().collect();
            let entries: Entries = pairs.into_iter().collect();
            prop_assert_eq!(entries.len(), map.len());
            let got: Vec<(&String, &[u8])> = entries.iter().map(|(k, e)| (k, value(e))).collect();
            let want: Vec<(&String, &[u8])> = map.iter().map(|(k, e)| (k, value(e))).collect();
            prop_assert_eq!(got, want);
            for probe in &probes {
                prop_assert_eq!(entries.get(probe).map(value), map.get(probe).map(value));
            }
        }
    }
}
