//! The YAML test suite's mapping documents, each embedded as a scope's `keys:` and pulled: every
//! key changed live (to a multi-line text and to a one-line one), removed, and a key adopted
//! next to them, in LF and in CRLF. Each edit passes the whole-result check; a refusal is only
//! for an anchor or an alias. A document kvsync does not load as keys (a nested mapping is an
//! entry with unknown fields, say) is skipped.
//!
//! The suite (MIT) is not part of this repository: the test runs on a folder of its mapping
//! documents, one `.yaml` file each, named by `KVSYNC_YAML_SUITE`:
//! `KVSYNC_YAML_SUITE=DIR cargo test --lib config::edit::suite -- --ignored`.

use std::path::{Path, PathBuf};

use super::{Change, Context, What, check, edits};
use crate::config::{LoadOptions, load};

const HEAD: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n";

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

fn documents(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("the suite's folder")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "yaml").then_some(())?;
            let name = path.file_stem()?.to_string_lossy().into_owned();
            Some((name, std::fs::read_to_string(&path).ok()?))
        })
        .collect();
    found.sort();
    found
}

/// Pulls every change into one document; `Err` says what went wrong.
fn pull_document(document: &str, crlf: bool) -> Result<usize, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("kvsync.yaml");
    std::fs::write(&root, embed(document, crlf)).expect("write");
    let options = LoadOptions { environment: None, preview: None, vars: &|_| None };
    let loaded = load(&root, &options).map_err(|error| format!("does not load: {error}"))?;
    let keys: Vec<String> = loaded.desired.scopes[0].entries.keys().cloned().collect();
    let context = Context {
        root: &root,
        files: &loaded.files,
        environment: None,
        into: None,
        preview: None,
        vars: &|_| None,
    };
    let change = |key: &str, what| Change { scope: "flags".into(), key: key.into(), what };
    let set = |text: &str| What::Set {
        value: Some(text.as_bytes().to_vec()),
        metadata: None,
        expiration: None,
    };
    let mut runs: Vec<Vec<Change>> = Vec::new();
    for key in &keys {
        runs.push(vec![change(key, set("new\nlines\n"))]);
        runs.push(vec![change(key, set("one line: ${not a variable}"))]);
        runs.push(vec![change(key, What::Remove)]);
    }
    let add = What::Add { value: b"adopted\n".to_vec(), metadata: None, expiration: None };
    runs.push(vec![change("adopted-key", add)]);
    // Everything at once.
    runs.push(keys.iter().map(|key| change(key, set("all\nat once"))).collect());
    let mut written = 0;
    for changes in runs {
        let made = edits(&context, &loaded.desired, &changes).map_err(|e| e.clone())?;
        for (_, key, why) in &made.refused {
            if !why.contains("anchor") {
                return Err(format!("`{key}` refused: {why}"));
            }
        }
        check(&context, &loaded.desired, &changes, &made, &[]).map_err(|e| e.to_string())?;
        for file in &made.files {
            let after = String::from_utf8_lossy(&file.after);
            let crlf_now = after.matches('\n').count() == after.matches("\r\n").count();
            if crlf != crlf_now {
                return Err(format!("line endings changed: {after:?}"));
            }
        }
        written += made.made.len();
    }
    Ok(written)
}

#[test]
#[ignore = "needs the YAML test suite's mapping documents in KVSYNC_YAML_SUITE"]
fn every_mapping_document_of_the_yaml_test_suite_is_pulled() {
    let dir = PathBuf::from(std::env::var_os("KVSYNC_YAML_SUITE").expect("KVSYNC_YAML_SUITE"));
    let documents = documents(&dir);
    let mut failed = Vec::new();
    let (mut pulled, mut skipped) = (0, 0);
    for (name, document) in &documents {
        for crlf in [false, true] {
            match pull_document(document, crlf) {
                Ok(_) => pulled += 1,
                Err(why) if why.starts_with("does not load") => skipped += 1,
                Err(why) => {
                    failed.push(format!("{name} ({}): {why}", if crlf { "CRLF" } else { "LF" }));
                }
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(pulled > 0, "no document of {} loads as keys", dir.display());
    println!("{pulled} pulled, {skipped} not keys kvsync loads (documents × LF and CRLF)");
}
