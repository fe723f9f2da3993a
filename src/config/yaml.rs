//! The YAML boundary: the only module that knows serde-saphyr.
//!
//! It owns the parser settings (YAML 1.2 core schema with strict booleans, duplicate keys
//! refused by each mapping's own `Deserialize`, unknown tags refused, and limits that stop alias
//! bombs), the `Deserialize` impls that
//! need source positions ([`Sp`], [`YamlKind`], [`NamedMap`], [`KeyEntry`]), and the translation
//! of parser errors into kvsync's messages and hints. Swapping the YAML crate means rewriting
//! this file only. It knows nothing about what the fields mean.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher as _, RandomState};
use std::rc::Rc;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::model::{
    EntryFields, EnvironmentOverlay, KeyEntry, NamedMap, NamespaceConfig, PlanTier, SchemaSource,
    Sp, Target, YamlKind, YamlValue,
};
use super::problems::Pos;

/// Text that aliases may materialise per file, beyond the text of the file itself. The parser's
/// own limits count events, not bytes, so an alias to one long string repeated many times would
/// otherwise still reach gigabytes.
const ALIAS_TEXT_BYTES_MAX: usize = 16 * 1024 * 1024;

/// A parse failure: where, what, and what to do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
    /// The YAML itself is sound and the problem is what a field holds (an unknown field, a wrong
    /// type, a bad value): reading the file as a generic tree will succeed, and can find the
    /// file's other problems of that kind (`shape`).
    pub structural: bool,
}

/// Parses one YAML document into `T`. An empty document (only comments, say) reads as an empty
/// mapping.
pub(crate) fn parse<T: DeserializeOwned>(text: String) -> Result<T, ParseError> {
    parse_shared(&Rc::new(text))
}

/// [`parse`] of text the caller keeps, to read it again another way.
pub(crate) fn parse_shared<T: DeserializeOwned>(text: &Rc<String>) -> Result<T, ParseError> {
    let _context = ParseContext::enter(Rc::clone(text));
    let document = if is_empty_document(text) { "{}" } else { text.as_str() };
    // A parse that expands merge keys keeps every key of every mapping it reads (about 200 bytes
    // a key), so merge keys are expanded only in a document that has one.
    let result = match serde_saphyr::from_str_with_options::<T>(document, options(false)) {
        Err(error) if messages::is_merge_key(&error) => {
            ParseContext::restart();
            serde_saphyr::from_str_with_options::<T>(document, options(true))
        }
        result => result,
    };
    result.map_err(|error| {
        let duplicate = ParseContext::take_duplicate().or_else(|| {
            // serde's derive names a struct's field read twice, but not where it is.
            let field = messages::duplicate_field(&error)?;
            Some((second_field(text, field)?, field.to_owned()))
        });
        match duplicate {
            Some((pos, key)) => messages::duplicate_key(pos, &key),
            None => translate(&error, text),
        }
    })
}

/// Where a mapping of `text` first names `field` a second time.
fn second_field(text: &str, field: &str) -> Option<Pos> {
    fn earliest(node: &SpanNode, field: &str) -> Option<usize> {
        let children = match &node.kind {
            SpanKind::Map { entries, .. } => {
                let mut named = entries.iter().filter(
                    |(key, _)| matches!(&key.kind, SpanKind::Scalar { text, .. } if text == field),
                );
                let here = named.nth(1).map(|(key, _)| key.start);
                let below = entries.iter().filter_map(|(_, value)| earliest(value, field));
                return here.into_iter().chain(below).min();
            }
            SpanKind::Seq { items, .. } => items,
            SpanKind::Scalar { .. } | SpanKind::Alias => return None,
        };
        children.iter().filter_map(|child| earliest(child, field)).min()
    }
    let offset = earliest(&span_tree(text).ok()??, field)?;
    // The parser counts columns after a leading byte-order mark.
    let bom = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    Some(Pos::at(&text[bom..], offset.saturating_sub(bom)))
}

/// `text` with the mapping entries whose keys are at `keys` removed: each such line, and the
/// more indented (or blank, or comment) lines below it, emptied. Every other line keeps its
/// number and its columns, so positions found in the result are positions in `text`. `None`
/// when a key does not start its line (a flow mapping, a sequence item's first key), where
/// lines cannot be cut out safely.
pub(crate) fn without_entries(text: &str, keys: &[Pos]) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut cut = vec![false; lines.len()];
    for key in keys {
        let index = (key.line as usize).checked_sub(1)?;
        let indent = (key.column as usize).checked_sub(1)?;
        let line = lines.get(index)?;
        if line.len() < indent || !line.as_bytes()[..indent].iter().all(|b| *b == b' ') {
            return None;
        }
        cut[index] = true;
        for (below, line) in lines.iter().enumerate().skip(index + 1) {
            let content = line.trim_end_matches(['\n', '\r']);
            let trimmed = content.trim_start_matches(' ');
            let deeper = content.len() - trimmed.len() > indent;
            if !(trimmed.is_empty() || trimmed.starts_with('#') || deeper) {
                break;
            }
            cut[below] = true;
        }
    }
    let kept = lines.iter().zip(&cut).map(|(line, cut)| {
        if *cut { &line[line.trim_end_matches(['\n', '\r']).len()..] } else { line }
    });
    Some(kept.collect())
}

fn is_empty_document(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// The parser settings, with why each differs from serde-saphyr's defaults. `merge_keys` says
/// whether YAML 1.1 merge keys (`<<: *base`) are expanded or stop the parse.
fn options(merge_keys: bool) -> serde_saphyr::Options {
    serde_saphyr::options! {
        // Duplicate keys are refused by the mappings' own `Deserialize` (each `visit_map`
        // below, and serde's derive for structs); the parser's check would keep every key of a
        // mapping in memory (about 200 bytes each, 195 MiB for a million-key `keys:`).
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        merge_keys: if merge_keys {
            serde_saphyr::MergeKeyPolicy::Merge
        } else {
            serde_saphyr::MergeKeyPolicy::Error
        },
        // YAML 1.2 core: `yes`, `on`, `y` are strings, only `true`/`false` are booleans.
        strict_booleans: true,
        // YAML 1.2 core: `1_000` matches no number pattern, so it is the string "1_000".
        underscored_numbers_as_strings: true,
        // A `.nan` or `.inf` has no JSON form, but refusing it here would stop the parse and hide
        // the file's other problems: values keep it and `sources` reports it where it is used.
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::PassThrough,
        // A tag such as `!secret` would otherwise be dropped silently.
        reject_unsupported_tags: true,
        // kvsync renders its own snippets (report::diagnostic).
        with_snippet: false,
        budget: serde_saphyr::budget! {
            // Sized for a million keys in one file; the input itself bounds these without aliases.
            max_events: 64 * 1024 * 1024,
            max_nodes: 32 * 1024 * 1024,
            max_total_scalar_bytes: 512 * 1024 * 1024,
            max_aliases: 1_000_000,
            // Anchored content is recorded once; only nested anchors ("billion laughs") copy it
            // again and again, so a small cap stops them early.
            max_recorded_anchor_events: 100_000,
            // Reusing one anchor for many keys (shared metadata) is normal YAML; the replay limit
            // below is what bounds the expansion.
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 1_000_000,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Per-parse context.
//
// `Spanned<T>` is how serde-saphyr hands out positions, and it needs `T: Deserialize`, so the
// position-aware impls below cannot receive state through a `DeserializeSeed`. What they need
// (the source text, to tell `012` from `12.0` and spot integers beyond 64 bits, and the alias
// text budget) therefore sits in a thread-local for the duration of one `parse` call.

struct ParseContext {
    source: Rc<String>,
    alias_bytes_left: usize,
    /// A key a mapping read twice: where the second one is, and the key.
    duplicate: Option<(Pos, String)>,
}

thread_local! {
    static CONTEXT: RefCell<Option<ParseContext>> = const { RefCell::new(None) };
}

/// Clears the context when the parse ends, however it ends.
struct ContextGuard;

impl ParseContext {
    fn enter(source: Rc<String>) -> ContextGuard {
        CONTEXT.with(|context| {
            *context.borrow_mut() = Some(ParseContext {
                source,
                alias_bytes_left: ALIAS_TEXT_BYTES_MAX,
                duplicate: None,
            });
        });
        ContextGuard
    }
}

impl ParseContext {
    /// The same text parsed again from the start: the alias budget is whole again.
    fn restart() {
        CONTEXT.with(|context| {
            if let Some(context) = context.borrow_mut().as_mut() {
                context.alias_bytes_left = ALIAS_TEXT_BYTES_MAX;
                context.duplicate = None;
            }
        });
    }

    /// Remembers a key read twice in one mapping, for [`parse_shared`] to report where the
    /// second one is (serde leaves a visitor's error without a place).
    fn duplicate<E: de::Error>(name: &Sp<String>) -> E {
        CONTEXT.with(|context| {
            if let Some(context) = context.borrow_mut().as_mut() {
                context.duplicate = Some((name.pos, name.value.clone()));
            }
        });
        E::custom(format!("duplicate key `{}`", name.value))
    }

    fn take_duplicate() -> Option<(Pos, String)> {
        CONTEXT.with(|context| context.borrow_mut().as_mut()?.duplicate.take())
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        CONTEXT.with(|context| context.borrow_mut().take());
    }
}

/// Where a node was used and where it was written (they differ when it came through an alias).
struct Site {
    referenced: Location,
    defined: Location,
}

impl Site {
    /// Counts text that an alias materialises again against the per-file budget.
    fn charge_alias_text(&self, bytes: usize) -> Result<(), String> {
        if self.referenced == self.defined {
            return Ok(());
        }
        CONTEXT.with(|context| {
            let mut context = context.borrow_mut();
            let Some(context) = context.as_mut() else {
                return Ok(());
            };
            match context.alias_bytes_left.checked_sub(bytes) {
                Some(left) => {
                    context.alias_bytes_left = left;
                    Ok(())
                }
                None => Err(format!(
                    "YAML aliases expand to more than {} MiB of text",
                    ALIAS_TEXT_BYTES_MAX / (1024 * 1024)
                )),
            }
        })
    }

    /// The node's text as written in the source, when the parser knows its byte range.
    fn raw_text(&self) -> Option<String> {
        let span = self.defined.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        CONTEXT.with(|context| {
            let context = context.borrow();
            let source = &context.as_ref()?.source;
            source.get(start..start.checked_add(len)?).map(str::to_owned)
        })
    }
}

/// A check that runs once a node's place is known (see [`Sp`]'s `Deserialize`).
trait Checked {
    fn checked(&mut self, _site: &Site) -> Result<(), String> {
        Ok(())
    }
}

impl Checked for String {
    fn checked(&mut self, site: &Site) -> Result<(), String> {
        site.charge_alias_text(self.len())
    }
}

impl Checked for bool {}
impl Checked for u32 {}
impl Checked for i64 {}
impl Checked for usize {}
impl Checked for Target {}
impl Checked for PlanTier {}
impl Checked for NamespaceConfig {}
impl Checked for EnvironmentOverlay {}

impl Checked for YamlKind {
    fn checked(&mut self, site: &Site) -> Result<(), String> {
        match self {
            Self::Str(text) => site.charge_alias_text(text.len()),
            Self::Float(_) => {
                // serde-saphyr hands `012` and integers beyond 64 bits to visitors as floats;
                // the core schema makes any plain `[-+]?[0-9]+` an integer, so look at the text.
                if let Some(raw) = site.raw_text() {
                    let digits = raw.strip_prefix(['-', '+']).unwrap_or(&raw);
                    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                        let unsigned = raw.strip_prefix('+').unwrap_or(&raw);
                        *self = if let Ok(n) = unsigned.parse::<i64>() {
                            Self::Int(n)
                        } else if let Ok(n) = unsigned.parse::<u64>() {
                            Self::UInt(n)
                        } else {
                            Self::BigInt(raw)
                        };
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Checked for SchemaSource {
    fn checked(&mut self, site: &Site) -> Result<(), String> {
        self.0.checked(site)
    }
}

impl Checked for KeyEntry {
    fn checked(&mut self, site: &Site) -> Result<(), String> {
        match self {
            Self::Value(kind) => kind.checked(site),
            Self::Entry(_) => Ok(()),
        }
    }
}

impl<'de, T> Deserialize<'de> for Sp<T>
where
    T: Deserialize<'de> + Checked,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<T>::deserialize(deserializer)?;
        let site = Site { referenced: spanned.referenced, defined: spanned.defined };
        let mut value = spanned.value;
        value.checked(&site).map_err(de::Error::custom)?;
        Ok(Sp::new(value, Pos::new(site.referenced.line(), site.referenced.column())))
    }
}

// ---------------------------------------------------------------------------------------------
// Values of keys: any YAML node.

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = YamlKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<YamlKind, E> {
        Ok(YamlKind::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<YamlKind, E> {
        Ok(YamlKind::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<YamlKind, E> {
        Ok(i64::try_from(v).map_or(YamlKind::UInt(v), YamlKind::Int))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<YamlKind, E> {
        Ok(i64::try_from(v).map_or_else(|_| YamlKind::BigInt(v.to_string()), YamlKind::Int))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<YamlKind, E> {
        Ok(u64::try_from(v).map_or_else(
            |_| YamlKind::BigInt(v.to_string()),
            |v| i64::try_from(v).map_or(YamlKind::UInt(v), YamlKind::Int),
        ))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<YamlKind, E> {
        Ok(YamlKind::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<YamlKind, E> {
        Ok(YamlKind::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<YamlKind, E> {
        Ok(YamlKind::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<YamlKind, E> {
        Ok(YamlKind::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<YamlKind, E> {
        Ok(YamlKind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<YamlKind, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YamlKind, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<YamlValue>()? {
            items.push(item);
        }
        // Values stay in memory until their key is resolved; growth slack would double them.
        items.shrink_to_fit();
        Ok(YamlKind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YamlKind, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        let mut names = Names::default();
        while let Some(name) = map.next_key::<Sp<String>>()? {
            names.admit(&entries, &name)?;
            let value = map.next_value::<YamlValue>()?;
            entries.push((name, value));
        }
        entries.shrink_to_fit();
        Ok(YamlKind::Map(entries))
    }
}

impl<'de> Deserialize<'de> for YamlKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

/// A key's entry: a mapping is always [`EntryFields`]; anything else is a bare value.
struct KeyEntryVisitor;

impl<'de> Visitor<'de> for KeyEntryVisitor {
    type Value = KeyEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or an entry mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<KeyEntry, A::Error> {
        let fields = EntryFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(KeyEntry::Entry(Box::new(fields)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyEntry, E> {
        KindVisitor.visit_bool(v).map(KeyEntry::Value)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyEntry, E> {
        KindVisitor.visit_i64(v).map(KeyEntry::Value)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyEntry, E> {
        KindVisitor.visit_u64(v).map(KeyEntry::Value)
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<KeyEntry, E> {
        KindVisitor.visit_i128(v).map(KeyEntry::Value)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<KeyEntry, E> {
        KindVisitor.visit_u128(v).map(KeyEntry::Value)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyEntry, E> {
        KindVisitor.visit_f64(v).map(KeyEntry::Value)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyEntry, E> {
        KindVisitor.visit_str(v).map(KeyEntry::Value)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<KeyEntry, E> {
        KindVisitor.visit_string(v).map(KeyEntry::Value)
    }

    fn visit_unit<E: de::Error>(self) -> Result<KeyEntry, E> {
        Ok(KeyEntry::Value(YamlKind::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<KeyEntry, E> {
        Ok(KeyEntry::Value(YamlKind::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<KeyEntry, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<KeyEntry, A::Error> {
        KindVisitor.visit_seq(seq).map(KeyEntry::Value)
    }
}

impl<'de> Deserialize<'de> for KeyEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyEntryVisitor)
    }
}

/// The names a mapping has read, to refuse one read twice. Only a hash of each is kept (8 bytes
/// a name); a hash seen before is confirmed against the names themselves. Names compare as the
/// strings they are: kvsync's keys and JSON's object keys are strings.
#[derive(Default)]
struct Names {
    hashes: HashSet<u64>,
    state: RandomState,
}

impl Names {
    fn admit<V, E: de::Error>(
        &mut self,
        earlier: &[(Sp<String>, V)],
        name: &Sp<String>,
    ) -> Result<(), E> {
        let new = self.hashes.insert(self.state.hash_one(&name.value))
            || !earlier.iter().any(|(seen, _)| seen.value == name.value);
        if new { Ok(()) } else { Err(ParseContext::duplicate(name)) }
    }
}

struct NamedMapVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T> Visitor<'de> for NamedMapVisitor<T>
where
    T: Deserialize<'de> + Checked,
{
    type Value = NamedMap<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    // `keys:` with nothing under it is an empty mapping, not an error.
    fn visit_unit<E: de::Error>(self) -> Result<NamedMap<T>, E> {
        Ok(NamedMap::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<NamedMap<T>, E> {
        Ok(NamedMap::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NamedMap<T>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        let mut names = Names::default();
        while let Some(name) = map.next_key::<Sp<String>>()? {
            names.admit(&entries, &name)?;
            let value = map.next_value::<Sp<T>>()?;
            entries.push((name, value));
        }
        Ok(NamedMap(entries))
    }
}

impl<'de, T> Deserialize<'de> for NamedMap<T>
where
    T: Deserialize<'de> + Checked,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NamedMapVisitor(std::marker::PhantomData))
    }
}

mod messages;
mod spans;

use messages::translate;
pub(crate) use messages::{STRICT_BOOLEANS_HINT, missing_field, one_of, unknown_field};
pub(crate) use spans::{ScalarForm, SpanKind, SpanNode, header_code, span_tree};

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A mapping tree whose names come from a small set, so that repeats are common.
    #[derive(Debug, Clone)]
    enum Node {
        Leaf(u8),
        Map(Vec<(usize, usize, Node)>),
    }

    /// Names from a small set, so that repeats are common; the last ones only quoted (a line
    /// break of U+2028, `${`, comment openers and closers, quotes, a backslash).
    const NAMES: &[&str] = &["a", "b", "key", "f/x", "a\u{2028}b", "${x}", "#*/", "q'\"\\"];
    const PLAIN: usize = 4;

    fn node() -> impl Strategy<Value = Node> {
        let leaf = any::<u8>().prop_map(Node::Leaf);
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop::collection::vec((0..NAMES.len(), 0..3usize, inner), 0..5).prop_map(Node::Map)
        })
    }

    /// Block style, each name plain, single- or double-quoted.
    fn render(entries: &[(usize, usize, Node)], indent: usize, out: &mut String) {
        for (name, style, value) in entries {
            let quoted = *style > 0 || *name >= PLAIN;
            let name = NAMES[*name];
            let name = match style {
                _ if !quoted => name.to_owned(),
                1 => format!("'{}'", name.replace('\'', "''")),
                // Escaped in double quotes: the same name as its raw form in single quotes.
                _ => format!(
                    "\"{}\"",
                    name.replace('\\', "\\\\").replace('"', "\\\"").replace('\u{2028}', "\\u2028")
                ),
            };
            out.push_str(&format!("{:indent$}{name}:", ""));
            match value {
                Node::Leaf(n) => out.push_str(&format!(" {n}\n")),
                Node::Map(inner) if inner.is_empty() => out.push_str(" {}\n"),
                Node::Map(inner) => {
                    out.push('\n');
                    render(inner, indent + 2, out);
                }
            }
        }
    }

    proptest! {
        /// The mappings' own duplicate check finds exactly the repeat serde-saphyr's would, at
        /// the same place; a document without one parses the same either way.
        #[test]
        fn duplicates_are_found_as_the_parser_would(entries in prop::collection::vec(
            (0..NAMES.len(), 0..3usize, node()), 1..6)
        ) {
            let mut text = String::new();
            render(&entries, 0, &mut text);
            let reference = serde_saphyr::from_str_with_options::<serde_json::Value>(
                &text,
                serde_saphyr::options! {
                    duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
                    with_snippet: false,
                },
            );
            let ours = parse::<YamlValue>(text.clone());
            match reference {
                Err(error @ serde_saphyr::Error::DuplicateMappingKey { .. }) => {
                    let at = error.location().expect("a place");
                    let ours = ours.expect_err("a duplicate");
                    prop_assert!(ours.message.starts_with("duplicate key `"), "{}", ours.message);
                    prop_assert_eq!(ours.pos, Pos::new(at.line(), at.column()), "{}", text);
                }
                Err(other) => prop_assert!(false, "{other}"),
                Ok(_) => prop_assert!(ours.is_ok(), "{:?}\n{}", ours.err(), text),
            }
        }
    }

    #[test]
    fn entries_are_cut_out_with_what_is_nested_under_them() {
        let text = "a:\n  bad: 1\n  deep:\n    x: 1\n\n    # note\n    y: 2\n  good: 3\nb: 4\n";
        let cut = without_entries(text, &[Pos::new(3, 3), Pos::new(9, 1)]).expect("cut");
        assert_eq!(cut, "a:\n  bad: 1\n\n\n\n\n\n  good: 3\n\n");
        assert_eq!(cut.lines().count(), text.lines().count(), "line numbers are kept");
        // A key that does not start its line (flow style, a sequence item) cannot be cut.
        assert_eq!(without_entries("a: {b: 1}\n", &[Pos::new(1, 5)]), None);
        assert_eq!(without_entries("- b: 1\n", &[Pos::new(1, 3)]), None);
    }
}
