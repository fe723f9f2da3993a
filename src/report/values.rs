//! What a change's value looks like in a report.
//!
//! The CLI fetches live values (DESIGN.md §6 step 4) and hands the renderers one [`ValueView`]
//! per key it wants shown, collected in [`ValueViews`]. This module decides *how* a value may be
//! shown (as text, as size and short hash, or not at all) and offers the helpers every renderer
//! shares: the text a diff is computed over ([`diff_text`]) and human byte sizes
//! ([`human_size`]). It does no I/O and knows nothing about stores or terminals.

use std::borrow::Cow;
use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::kv::LiveValue;

/// Largest text side, in bytes, that is diffed; anything larger is shown by size and hash.
pub const TEXT_DIFF_MAX: usize = 1024 * 1024;

/// The value side(s) of one change, prepared by the CLI (which did the I/O) for the renderers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueView {
    /// Both sides (or one side) as text; the renderer diffs them. The texts are kept raw here:
    /// renderers pass each side through [`diff_text`], which pretty-prints JSON (2 spaces,
    /// document key order) so that one changed field shows as one changed line.
    Text { live: Option<String>, desired: Option<String> },
    /// Not shown as text (binary, over [`TEXT_DIFF_MAX`], or a live value that came back as not
    /// text): sizes and short hashes.
    Opaque { live: Option<Blob>, desired: Option<Blob> },
    /// A sensitive value: shown as `(sensitive)`, no hash, no size.
    Sensitive,
    /// Live is already exactly as desired (value bytes, user metadata, expiration): only the
    /// marker is rewritten (after `kvsync pull`, the live marker still records the old hash).
    /// KV has no metadata-only write, so it stays an update (or adopt); nothing to diff.
    MarkerOnly,
}

/// A value shown only by its size and a short hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Length in bytes.
    pub size: u64,
    /// The first 8 lowercase hex digits of the sha256 of the raw bytes (not the content hash of
    /// DESIGN.md §2, which also covers metadata and expiration).
    pub sha256_short: String,
}

impl Blob {
    /// Describes these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self {
            size: bytes.len() as u64,
            sha256_short: base16ct::lower::encode_string(&digest[..4]),
        }
    }
}

/// One side of a value while the view is being built.
enum Side<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Side<'a> {
    /// Text when the bytes are UTF-8 and small enough to diff.
    fn classify(bytes: &'a [u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.len() <= TEXT_DIFF_MAX => Self::Text(text),
            _ => Self::Bytes(bytes),
        }
    }

    fn bytes(&self) -> &'a [u8] {
        match self {
            Self::Text(text) => text.as_bytes(),
            Self::Bytes(bytes) => bytes,
        }
    }
}

/// Builds the view of one key: `live` is what bulk get returned (`None` when the key is not live
/// or was not fetched; [`LiveValue::Missing`] counts as not live), `desired` the desired bytes
/// (`None` for deletes).
///
/// Sensitive wins over everything. When either side cannot be shown as text (not UTF-8, or over
/// [`TEXT_DIFF_MAX`]), both sides are shown as [`Blob`]s, so a reader compares like with like.
pub fn value_view(live: Option<&LiveValue>, desired: Option<&[u8]>, sensitive: bool) -> ValueView {
    if sensitive {
        return ValueView::Sensitive;
    }
    let live = match live {
        Some(LiveValue::Text(text)) => Some(Side::classify(text.as_bytes())),
        Some(LiveValue::Binary(bytes)) => Some(Side::Bytes(bytes)),
        Some(LiveValue::Missing | LiveValue::Unreadable(_)) | None => None,
    };
    let desired = desired.map(Side::classify);
    match (&live, &desired) {
        (None | Some(Side::Text(_)), None | Some(Side::Text(_))) => {
            let text = |side: &Option<Side<'_>>| match side {
                Some(Side::Text(text)) => Some((*text).to_owned()),
                _ => None,
            };
            ValueView::Text { live: text(&live), desired: text(&desired) }
        }
        _ => ValueView::Opaque {
            live: live.map(|side| Blob::of(side.bytes())),
            desired: desired.map(|side| Blob::of(side.bytes())),
        },
    }
}

/// Views by (scope index in `plan.scopes`, key). Keys without a view render without a value
/// section.
#[derive(Debug, Clone, Default)]
pub struct ValueViews {
    by_scope: HashMap<usize, HashMap<String, ValueView>>,
}

impl ValueViews {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the view of `key` in the scope at `scope_index`, replacing any earlier one.
    pub fn insert(&mut self, scope_index: usize, key: impl Into<String>, view: ValueView) {
        self.by_scope.entry(scope_index).or_default().insert(key.into(), view);
    }

    pub fn get(&self, scope_index: usize, key: &str) -> Option<&ValueView> {
        self.by_scope.get(&scope_index)?.get(key)
    }

    /// Adds every view of `other`, replacing views of the same keys.
    pub fn extend(&mut self, other: ValueViews) {
        for (scope_index, views) in other.by_scope {
            self.by_scope.entry(scope_index).or_default().extend(views);
        }
    }

    pub fn len(&self) -> usize {
        self.by_scope.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The text a diff is computed over: a JSON object or array is pretty-printed (2 spaces, the
/// document's key order), anything else is returned as it is.
///
/// Scalars are left alone on purpose: reformatting `1.50` as `1.5` would hide a real change of a
/// text value. Pretty-printing normalises whitespace and number notation, so two different raw
/// texts can look the same here; renderers compare the raw texts to say so.
pub fn diff_text(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return Cow::Borrowed(text);
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => match serde_json::to_string_pretty(&value) {
            Ok(pretty) => Cow::Owned(pretty),
            Err(_) => Cow::Borrowed(text),
        },
        Err(_) => Cow::Borrowed(text),
    }
}

/// How the two sides of a [`ValueView::Text`] compare, for the renderers that print a plain
/// unified diff (JSON and Markdown; the human renderer escapes and colours its diff line by line
/// and keeps its own loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextComparison {
    /// Neither side is known: nothing to show.
    Absent,
    /// Both sides are the same text.
    Unchanged,
    /// The raw texts differ, but only in JSON layout or number notation ([`diff_text`] made
    /// them equal), so a diff would be empty.
    FormattingOnly,
    /// The texts differ only in a final newline, which a line diff cannot show.
    FinalNewlineOnly,
    /// Only one side, and it is the empty value.
    Empty,
    /// A unified diff (`--- live` / `+++ desired` headers, 3 lines of context) of the sides as
    /// [`diff_text`] shows them; a missing side diffs as the empty text.
    Diff(String),
}

/// Compares the two sides of a text view; see [`TextComparison`].
pub fn compare_text(live: Option<&str>, desired: Option<&str>) -> TextComparison {
    compare_text_between(live, desired, ("live", "desired"))
}

/// [`compare_text`], the diff headed `--- {old}` / `+++ {new}` (two environments' names in
/// `kvsync diff`).
pub fn compare_text_between(
    live: Option<&str>,
    desired: Option<&str>,
    labels: (&str, &str),
) -> TextComparison {
    match (live, desired) {
        (None, None) => TextComparison::Absent,
        (Some(live), Some(desired)) if live == desired => TextComparison::Unchanged,
        (None, Some("")) | (Some(""), None) => TextComparison::Empty,
        (live, desired) => {
            let old = live.map(diff_text).unwrap_or_default();
            let new = desired.map(diff_text).unwrap_or_default();
            if live.is_some() && desired.is_some() && old == new {
                return TextComparison::FormattingOnly;
            }
            // Both sides end in a newline before diffing, so a value without a final newline
            // produces no `\ No newline at end of file` line (the human renderer does the same).
            let (old, new) = (terminated(&old), terminated(&new));
            if old == new {
                return TextComparison::FinalNewlineOnly;
            }
            let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
            let text = diff.unified_diff().context_radius(3).header(labels.0, labels.1).to_string();
            TextComparison::Diff(text)
        }
    }
}

fn terminated(text: &str) -> Cow<'_, str> {
    if text.is_empty() || text.ends_with('\n') {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(format!("{text}\n"))
    }
}

/// A byte count for people: `512 B`, `1.2 KiB`, `3.4 MiB`, `1.0 GiB` (binary units, one
/// decimal).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    // Precision loss is irrelevant at one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(live: Option<&str>, desired: Option<&str>) -> ValueView {
        ValueView::Text { live: live.map(str::to_owned), desired: desired.map(str::to_owned) }
    }

    #[test]
    fn sensitive_wins_over_everything() {
        let live = LiveValue::Binary(vec![0xff; 10]);
        let big = vec![b'a'; TEXT_DIFF_MAX + 1];
        assert_eq!(value_view(Some(&live), Some(&big), true), ValueView::Sensitive);
        assert_eq!(value_view(None, Some(b"x"), true), ValueView::Sensitive);
        assert_eq!(value_view(None, None, true), ValueView::Sensitive);
    }

    #[test]
    fn text_on_both_sides_is_text() {
        let live = LiveValue::Text("old".into());
        assert_eq!(value_view(Some(&live), Some(b"new"), false), text(Some("old"), Some("new")));
        assert_eq!(value_view(None, Some(b"new"), false), text(None, Some("new")));
        assert_eq!(value_view(Some(&live), None, false), text(Some("old"), None));
    }

    #[test]
    fn missing_live_value_is_no_live_side() {
        assert_eq!(
            value_view(Some(&LiveValue::Missing), Some(b"new"), false),
            text(None, Some("new"))
        );
        assert_eq!(
            value_view(Some(&LiveValue::Missing), Some(&[0xff, 0x00]), false),
            ValueView::Opaque { live: None, desired: Some(Blob::of(&[0xff, 0x00])) }
        );
    }

    #[test]
    fn text_over_the_limit_is_opaque_on_both_sides() {
        let at_limit = vec![b'a'; TEXT_DIFF_MAX];
        let over = vec![b'a'; TEXT_DIFF_MAX + 1];
        assert!(matches!(value_view(None, Some(&at_limit), false), ValueView::Text { .. }));
        let live = LiveValue::Text("small".into());
        assert_eq!(
            value_view(Some(&live), Some(&over), false),
            ValueView::Opaque { live: Some(Blob::of(b"small")), desired: Some(Blob::of(&over)) }
        );
        let live = LiveValue::Text(String::from_utf8(over.clone()).expect("ascii"));
        assert_eq!(
            value_view(Some(&live), Some(b"small"), false),
            ValueView::Opaque { live: Some(Blob::of(&over)), desired: Some(Blob::of(b"small")) }
        );
    }

    #[test]
    fn binary_on_either_side_is_opaque() {
        let png = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
        assert_eq!(
            value_view(None, Some(&png), false),
            ValueView::Opaque { live: None, desired: Some(Blob::of(&png)) }
        );
        let live = LiveValue::Binary(png.to_vec());
        assert_eq!(
            value_view(Some(&live), Some(b"text now"), false),
            ValueView::Opaque { live: Some(Blob::of(&png)), desired: Some(Blob::of(b"text now")) }
        );
    }

    #[test]
    fn blob_hash_is_the_sha256_of_the_raw_bytes() {
        // sha256("abc") = ba7816bf 8f01cfea …
        assert_eq!(Blob::of(b"abc"), Blob { size: 3, sha256_short: "ba7816bf".into() });
    }

    #[test]
    fn diff_text_pretty_prints_json_containers_only() {
        assert_eq!(
            diff_text(r#"{"b":1,"a":[true,null]}"#),
            "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}"
        );
        assert_eq!(diff_text("1.50"), "1.50");
        assert_eq!(diff_text("\"quoted\""), "\"quoted\"");
        assert_eq!(diff_text("{not json"), "{not json");
        assert_eq!(diff_text("plain\ntext\n"), "plain\ntext\n");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1024), "1.0 KiB");
        assert_eq!(human_size(1229), "1.2 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 + 400 * 1024), "3.4 MiB");
        assert_eq!(human_size(25 * 1024 * 1024), "25.0 MiB");
        assert_eq!(human_size(1 << 30), "1.0 GiB");
    }

    #[test]
    fn views_are_looked_up_by_scope_and_key() {
        let mut views = ValueViews::new();
        assert!(views.is_empty());
        views.insert(1, "a", ValueView::Sensitive);
        assert_eq!(views.get(1, "a"), Some(&ValueView::Sensitive));
        assert_eq!(views.get(0, "a"), None);
        assert_eq!(views.get(1, "b"), None);
        assert_eq!(views.len(), 1);
    }

    #[test]
    fn compare_text_names_what_a_diff_cannot_show() {
        use TextComparison as T;
        assert_eq!(compare_text(None, None), T::Absent);
        assert_eq!(compare_text(Some("a"), Some("a")), T::Unchanged);
        assert_eq!(compare_text(Some(r#"{"a": 1.50}"#), Some(r#"{"a":1.5}"#)), T::FormattingOnly);
        assert_eq!(compare_text(Some("a\n"), Some("a")), T::FinalNewlineOnly);
        assert_eq!(compare_text(None, Some("")), T::Empty);
        assert_eq!(
            compare_text(Some("a\nb"), Some("a\nc")),
            T::Diff("--- live\n+++ desired\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n".into())
        );
        assert_eq!(
            compare_text(None, Some(r#"{"on":true}"#)),
            T::Diff("--- live\n+++ desired\n@@ -0,0 +1,3 @@\n+{\n+  \"on\": true\n+}\n".into())
        );
    }
}
