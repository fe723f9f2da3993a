//! `kvsync diff --format json`: a versioned document of its own (STYLE.md habit 5), built from
//! the engine's types here; `schemas/diff.schema.json` is generated from [`DiffDocument`]
//! ([`schema_json`]) and a test keeps it up to date. As in the plan document, a sensitive key
//! carries nothing derived from its value: no diff, no size, no hash.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DiffReport, summary_line};
use crate::content::Expiration;
use crate::plan::envdiff::{Aspect, Expiry, Mode, Place, Side, Status};
use crate::report::json::FORMAT_VERSION;
use crate::report::json::MetadataDto;
use crate::report::values::{Blob, TextComparison, ValueView, compare_text_between};

/// `kvsync diff --format json`: what differs between two environments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "kvsync diff")]
pub struct DiffDocument {
    /// The version of this format; `"1"`. Readers must refuse a version they do not know and
    /// ignore fields they do not know.
    #[schemars(extend("const" = "1"))]
    pub format_version: String,
    pub kvsync_version: String,
    /// The first `--env`: the old side (`---`) of every value diff.
    pub left: String,
    /// The second `--env`: the new side (`+++`).
    pub right: String,
    /// `desired`: the two configs; `live`: the two environments' namespaces.
    pub mode: ModeDto,
    /// Whether every value on both sides was read (`--live --deep`).
    pub deep: bool,
    /// The `--only` globs; empty when every key was compared.
    pub only: Vec<String>,
    /// Whether anything differs (what makes `diff` exit 2).
    pub different: bool,
    /// The summary line, as the human output prints it.
    pub summary: String,
    pub counts: DiffCountsDto,
    pub scopes: Vec<DiffScopeDto>,
    /// Every key that is not equal on both sides, scope by scope, in UTF-8 byte order within a
    /// scope.
    pub keys: Vec<DiffKeyDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModeDto {
    Desired,
    Live,
}

/// Counts over every scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiffCountsDto {
    /// Keys on both sides that differ.
    pub differ: u64,
    /// Keys only in `left`.
    pub only_left: u64,
    /// Keys only in `right`.
    pub only_right: u64,
    /// Live keys on both sides that could not be compared without `--deep` (no marker).
    pub not_compared: u64,
    /// Keys equal on both sides.
    pub equal: u64,
    /// Scopes only in `left` (their keys are not counted above).
    pub scopes_only_left: u64,
    /// Scopes only in `right`.
    pub scopes_only_right: u64,
}

/// Where one side of a scope lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlaceDto {
    pub namespace_id: String,
    pub prefix: String,
}

/// One scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiffScopeDto {
    pub name: String,
    /// Where the scope lives in `left`; absent when `left` has no scope of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<PlaceDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right: Option<PlaceDto>,
    /// Keys listed in the document's `keys` for this scope.
    pub different: u64,
    pub equal: u64,
    /// For a scope on one side only: how many keys it holds there (not listed one by one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lone_keys: Option<u64>,
}

/// How a key compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatusDto {
    /// On both sides, different in `differences`.
    Differs,
    /// Only in `left`.
    OnlyLeft,
    /// Only in `right`.
    OnlyRight,
    /// Live, on both sides, at least one without a kvsync marker: `--deep` compares it.
    NotCompared,
}

/// What differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AspectDto {
    Value,
    Metadata,
    Expiration,
    /// Sensitive on one side only.
    Sensitivity,
    /// Live: the content hashes differ in a part the listing does not show (value or TTL).
    Content,
}

/// A value shown by size and short hash (binary, or too large to diff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlobDto {
    pub size: u64,
    /// The first 8 hex digits of the sha256 of the value bytes.
    pub sha256_short: String,
}

/// One key that is not equal on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiffKeyDto {
    pub scope: String,
    pub key: String,
    pub status: KeyStatusDto,
    /// For `differs`: what differs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<AspectDto>,
    /// Sensitive on either side: nothing derived from its value is in this document.
    pub sensitive: bool,
    /// A unified diff of the values (`--- left` / `+++ right`, named by the environments), for
    /// text values that differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// When the metadata differs and the key is not sensitive: each side's user metadata
    /// (`null`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<SidesDto<Option<MetadataDto>>>,
    /// When the expiration differs: each side's, as `never`, `ttl=SECONDS` (configured) or
    /// `at=UNIX_SECONDS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<SidesDto<String>>,
    /// For values not shown as text: each side's size and short hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_value: Option<BlobDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub right_value: Option<BlobDto>,
}

/// Something of each side: `left`, then `right`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SidesDto<T> {
    pub left: T,
    pub right: T,
}

/// One side's expiration in the document: `never`, `ttl=SECONDS` or `at=UNIX_SECONDS`.
fn expiry(expiry: Expiry) -> String {
    match expiry {
        Expiry::Configured(Expiration::Never) | Expiry::Listed(None) => "never".to_owned(),
        Expiry::Configured(Expiration::Ttl(seconds)) => format!("ttl={seconds}"),
        Expiry::Configured(Expiration::At(at)) | Expiry::Listed(Some(at)) => format!("at={at}"),
    }
}

fn place(place: Option<&Place>) -> Option<PlaceDto> {
    place.map(|p| PlaceDto { namespace_id: p.namespace_id.clone(), prefix: p.prefix.clone() })
}

fn blob(blob: Option<&Blob>) -> Option<BlobDto> {
    blob.map(|b| BlobDto { size: b.size, sha256_short: b.sha256_short.clone() })
}

fn aspect(aspect: Aspect) -> AspectDto {
    match aspect {
        Aspect::Value => AspectDto::Value,
        Aspect::Metadata => AspectDto::Metadata,
        Aspect::Expiration => AspectDto::Expiration,
        Aspect::Sensitivity => AspectDto::Sensitivity,
        Aspect::Content => AspectDto::Content,
    }
}

/// Builds the document.
pub fn document(report: &DiffReport<'_>) -> DiffDocument {
    let diff = report.diff;
    let counts = diff.counts();
    let mut document = DiffDocument {
        format_version: FORMAT_VERSION.to_owned(),
        kvsync_version: env!("CARGO_PKG_VERSION").to_owned(),
        left: diff.left.clone(),
        right: diff.right.clone(),
        mode: match diff.mode {
            Mode::Desired => ModeDto::Desired,
            Mode::Live { .. } => ModeDto::Live,
        },
        deep: matches!(diff.mode, Mode::Live { deep: true }),
        only: diff.only.clone(),
        different: counts.different(),
        summary: summary_line(diff, &|name| name.to_owned()),
        counts: DiffCountsDto {
            differ: counts.differ as u64,
            only_left: counts.only_left as u64,
            only_right: counts.only_right as u64,
            not_compared: counts.not_compared as u64,
            equal: counts.equal as u64,
            scopes_only_left: counts.scopes_only_left as u64,
            scopes_only_right: counts.scopes_only_right as u64,
        },
        scopes: Vec::new(),
        keys: Vec::new(),
    };
    for (index, scope) in diff.scopes.iter().enumerate() {
        document.scopes.push(DiffScopeDto {
            name: scope.name.clone(),
            left: place(scope.left.as_ref()),
            right: place(scope.right.as_ref()),
            different: scope.keys.len() as u64,
            equal: scope.equal as u64,
            lone_keys: scope.only_in().map(|_| scope.lone_keys as u64),
        });
        for key in &scope.keys {
            let (status, differences) = match &key.status {
                Status::Differs(aspects) => {
                    (KeyStatusDto::Differs, aspects.iter().copied().map(aspect).collect())
                }
                Status::OnlyIn(Side::Left) => (KeyStatusDto::OnlyLeft, Vec::new()),
                Status::OnlyIn(Side::Right) => (KeyStatusDto::OnlyRight, Vec::new()),
                Status::NotCompared => (KeyStatusDto::NotCompared, Vec::new()),
            };
            let mut dto = DiffKeyDto {
                scope: scope.name.clone(),
                key: key.key.clone(),
                status,
                differences,
                sensitive: key.sensitive,
                diff: None,
                metadata: None,
                expiration: None,
                left_value: None,
                right_value: None,
            };
            if let (Status::Differs(aspects), Some(sides)) = (&key.status, &key.sides) {
                if aspects.contains(&Aspect::Metadata) && !key.sensitive {
                    let (left, right) = (sides[0].metadata.clone(), sides[1].metadata.clone());
                    dto.metadata = Some(SidesDto { left, right });
                }
                if aspects.contains(&Aspect::Expiration) {
                    let (left, right) = (expiry(sides[0].expiration), expiry(sides[1].expiration));
                    dto.expiration = Some(SidesDto { left, right });
                }
            }
            match report.views.get(index, &key.key).filter(|_| !key.sensitive) {
                Some(ValueView::Text { live, desired }) => {
                    let labels = (diff.left.as_str(), diff.right.as_str());
                    if let TextComparison::Diff(text) =
                        compare_text_between(live.as_deref(), desired.as_deref(), labels)
                    {
                        dto.diff = Some(text);
                    }
                }
                Some(ValueView::Opaque { live, desired }) => {
                    dto.left_value = blob(live.as_ref());
                    dto.right_value = blob(desired.as_ref());
                }
                Some(ValueView::Sensitive | ValueView::MarkerOnly) | None => {}
            }
            document.keys.push(dto);
        }
    }
    document
}

/// The document as pretty JSON, ending in a newline.
pub fn render(document: &DiffDocument) -> String {
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

/// The JSON Schema of [`DiffDocument`], pretty-printed and ending in a newline.
pub fn schema_json() -> String {
    let mut text =
        serde_json::to_string_pretty(&schemars::schema_for!(DiffDocument)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::envdiff::{EnvDiff, KeyDiff, ScopeDiff};
    use crate::report::values::{ValueViews, value_view};

    /// `schemas/diff.schema.json` is generated; this test rewrites it when the DTOs changed
    /// (then fails, so the change is seen and committed), as the plan schema's test does.
    #[test]
    fn schema_file_is_up_to_date() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/diff.schema.json");
        let generated = schema_json();
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != generated {
            std::fs::write(&path, &generated).expect("write the schema");
            panic!("schemas/diff.schema.json was out of date and has been rewritten; commit it");
        }
    }

    fn key(key: &str, status: Status, sensitive: bool) -> KeyDiff {
        KeyDiff { key: key.to_owned(), status, sensitive, sides: None }
    }

    fn example() -> (EnvDiff, ValueViews) {
        let at = |ns: &str| {
            Some(Place { namespace_id: ns.to_owned(), unresolved: None, prefix: "f/".to_owned() })
        };
        let diff = EnvDiff {
            left: "staging".to_owned(),
            right: "production".to_owned(),
            mode: Mode::Live { deep: false },
            scopes: vec![
                ScopeDiff {
                    name: "flags".to_owned(),
                    left: at("a"),
                    right: at("b"),
                    keys: vec![
                        key("f/bin", Status::Differs(vec![Aspect::Value]), false),
                        key("f/hand", Status::NotCompared, false),
                        key("f/new", Status::OnlyIn(Side::Right), false),
                        key("f/secret", Status::Differs(vec![Aspect::Content]), true),
                        key(
                            "f/text",
                            Status::Differs(vec![Aspect::Value, Aspect::Metadata]),
                            false,
                        ),
                    ],
                    equal: 3,
                    lone_keys: 0,
                },
                ScopeDiff {
                    name: "old".to_owned(),
                    left: at("c"),
                    right: None,
                    keys: Vec::new(),
                    equal: 0,
                    lone_keys: 7,
                },
            ],
            only: vec!["f/**".to_owned()],
        };
        let mut views = ValueViews::new();
        let old = crate::kv::LiveValue::Text("1".to_owned());
        views.insert(0, "f/text", value_view(Some(&old), Some(b"2"), false));
        let bytes = crate::kv::LiveValue::Binary(vec![0xff, 0]);
        views.insert(0, "f/bin", value_view(Some(&bytes), Some(&[0xfe]), false));
        views.insert(0, "f/secret", ValueView::Sensitive);
        (diff, views)
    }

    #[test]
    fn the_document_follows_its_schema_and_hides_secrets() {
        let (diff, views) = example();
        let doc = document(&DiffReport { diff: &diff, views: &views });
        let rendered = render(&doc);
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).expect("schema");
        let validator = jsonschema::validator_for(&schema).expect("schema compiles");
        let instance: serde_json::Value = serde_json::from_str(&rendered).expect("JSON");
        let errors: Vec<String> = validator.iter_errors(&instance).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(
            doc.summary,
            "3 differ, 1 only in production, 1 not compared, 3 equal; 1 scope only in staging."
        );
        assert!(doc.different);
        let text = doc.keys.iter().find(|k| k.key == "f/text").expect("f/text");
        assert_eq!(
            text.diff.as_deref(),
            Some("--- staging\n+++ production\n@@ -1 +1 @@\n-1\n+2\n")
        );
        assert_eq!(text.differences, [AspectDto::Value, AspectDto::Metadata]);
        let secret = doc.keys.iter().find(|k| k.key == "f/secret").expect("f/secret");
        assert!(secret.sensitive && secret.diff.is_none() && secret.left_value.is_none());
        let bin = doc.keys.iter().find(|k| k.key == "f/bin").expect("f/bin");
        assert_eq!(bin.left_value.as_ref().map(|b| b.size), Some(2));
        assert_eq!(doc.scopes[1].lone_keys, Some(7));
        assert!(doc.scopes[1].right.is_none());
    }
}
