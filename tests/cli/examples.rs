use std::path::PathBuf;

use crate::support::{Test, copy_tree, repo};

fn examples() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .expect("examples/")
        .filter_map(|entry| {
            let path = entry.expect("entry").path().join("kvsync.yaml");
            path.exists().then_some(path)
        })
        .collect();
    found.sort();
    assert!(found.len() >= 2, "the examples are missing: {found:?}");
    found
}

/// Every example validates, with no environment variables set.
#[test]
fn every_example_validates() {
    for config in examples() {
        let out = Test::new()
            .run_in(config.parent().expect("folder"), &["validate", "-c", "kvsync.yaml"]);
        assert_eq!(out.code, 0, "{}:\n{}", config.display(), out.snapshot());
    }
}

/// Every example conforms to the committed JSON Schema, so editors that use the schema line
/// agree with kvsync.
#[test]
fn every_example_matches_the_schema() {
    crate::support::timed();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/kvsync.schema.json")).expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for config in examples() {
        let text = std::fs::read_to_string(&config).expect("read example");
        assert!(
            text.starts_with("# yaml-language-server: $schema="),
            "{} lacks the schema line",
            config.display()
        );
        let instance: serde_json::Value = serde_saphyr::from_str(&text).expect("example is YAML");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", config.display());
    }
}

/// Every example plans against an empty local store (all creates) and applies cleanly; the
/// next plan is empty.
#[test]
fn every_example_plans_and_applies_on_the_local_target() {
    for config in examples() {
        let folder = config.parent().expect("folder");
        let name = folder.file_name().expect("name").to_string_lossy().into_owned();
        let test = Test::new();
        copy_tree(folder, &test.path().join(&name));
        let cwd = test.path().join(&name);
        let plan = test.run_in(&cwd, &["plan", "--target", "local", "--detailed-exitcode"]);
        assert_eq!(plan.code, 2, "{name}:\n{}", plan.snapshot());
        insta::assert_snapshot!(format!("example_{name}_plan"), head_and_tail(&plan.snapshot()));
        let apply = test.run_in(&cwd, &["apply", "--target", "local", "--auto-approve"]);
        assert_eq!(apply.code, 0, "{name}:\n{}", apply.snapshot());
        let again = test.run_in(&cwd, &["plan", "--target", "local", "--detailed-exitcode"]);
        assert_eq!(again.code, 0, "{name}:\n{}", again.snapshot());
    }
}

/// A value that comes from the environment is sensitive: neither the plan nor apply ever shows
/// it, even when it changes.
#[test]
fn interpolated_secrets_never_show() {
    let folder = repo().join("examples/feature-flags");
    let test = Test::new().env("PAYMENTS_KEY", "s3cret-one");
    copy_tree(&folder, &test.path().join("ff"));
    let cwd = test.path().join("ff");
    let apply = test.run_in(&cwd, &["apply", "--target", "local", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());

    let changed = Test::new().env("PAYMENTS_KEY", "s3cret-two");
    let plan = changed.run_in(&cwd, &["plan", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert!(plan.stdout.contains("~ flags/payments-key\n      (sensitive)"), "{}", plan.stdout);
    for out in [&apply, &plan] {
        let all = out.snapshot();
        assert!(!all.contains("s3cret"), "a secret leaked:\n{all}");
    }
}

/// A long plan (the redirects example has thousands of keys) is snapshotted by its first 60
/// lines and its last 5, which hold the summary.
fn head_and_tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 80 {
        return text.to_owned();
    }
    let skipped = lines.len() - 65;
    format!(
        "{}\n[… {skipped} lines …]\n{}\n",
        lines[..60].join("\n"),
        lines[lines.len() - 5..].join("\n")
    )
}
