use crate::support::Test;

const CONFIG: &str = r#"version: 1
owner: web
namespaces:
  content:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: "content/"
    files:
      - path: content/**/*.json
        key: "content/{path}"
        strip_extension: true
        metadata: {type: page}
      - path: assets/*
        key: "content/assets/{path}"
"#;

const LOCAL: &[&str] = &["--target", "local"];

fn args<'a>(command: &[&'a str]) -> Vec<&'a str> {
    command.iter().chain(LOCAL).copied().collect()
}

/// A folder of files is planned and applied; editing one file is one update, removing one is
/// one delete, adding one is one create; nothing else is ever touched.
#[test]
fn a_folder_of_files_plans_applies_and_follows_edits() {
    let test = Test::new()
        .file("kvsync.yaml", CONFIG)
        .file("content/home.json", r#"{"title": "Home"}"#)
        .file("content/docs/intro.json", r#"{"title": "Intro"}"#)
        .file("content/docs/guides/setup.json", r#"{"title": "Setup"}"#)
        .file("content/docs/.DS_Store", b"\x00\x01")
        .file("content/notes.txt", "not matched")
        .file("assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\xff");

    let plan = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    insta::assert_snapshot!("files_1_first_plan", plan.snapshot());

    let apply = test.run(&args(&["apply", "--auto-approve"]));
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 4 written, 0 deleted."), "{}", apply.stdout);
    let again = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!((again.code, again.stdout.trim()), (0, "No changes. 4 unchanged."));

    // One edited file: one update, whose diff shows the change.
    test.write("content/docs/intro.json", r#"{"title": "Introduction"}"#);
    let edited = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(edited.code, 2, "{}", edited.snapshot());
    assert!(edited.stdout.contains("Plan: 1 to update, 3 unchanged."), "{}", edited.stdout);
    assert!(edited.stdout.contains("~ content/docs/intro"), "{}", edited.stdout);
    assert!(edited.stdout.contains("+  \"title\": \"Introduction\""), "{}", edited.stdout);
    let apply = test.run(&args(&["apply", "--auto-approve"]));
    assert!(apply.stdout.contains("Apply complete: 1 written, 0 deleted."), "{}", apply.stdout);

    // One removed file: one delete.
    std::fs::remove_file(test.path().join("content/docs/guides/setup.json")).expect("remove");
    let removed = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!(removed.code, 2, "{}", removed.snapshot());
    assert!(removed.stdout.contains("Plan: 1 to delete, 3 unchanged."), "{}", removed.stdout);
    assert!(removed.stdout.contains("- content/docs/guides/setup"), "{}", removed.stdout);
    let apply = test.run(&args(&["apply", "--auto-approve"]));
    assert!(apply.stdout.contains("Apply complete: 0 written, 1 deleted."), "{}", apply.stdout);

    // One new file: one create.
    test.write("content/about.json", r#"{"title": "About"}"#);
    let added = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert!(added.stdout.contains("Plan: 1 to create, 3 unchanged."), "{}", added.stdout);
    assert!(added.stdout.contains("+ content/about"), "{}", added.stdout);
    let apply = test.run(&args(&["apply", "--auto-approve"]));
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let settled = test.run(&args(&["plan", "--detailed-exitcode"]));
    assert_eq!((settled.code, settled.stdout.trim()), (0, "No changes. 4 unchanged."));
}

/// A key a `files:` source makes that `keys:` also defines is an error before any write, shown
/// at both places; so is a source whose template leaves the prefix.
#[test]
fn files_problems_point_at_the_source() {
    let config = CONFIG
        .replace("    files:\n", "    keys:\n      content/home: inline\n    files:\n")
        + "      - path: assets/*\n        key: \"other/{path}\"\n";
    let test = Test::new()
        .file("kvsync.yaml", config)
        .file("content/home.json", "{}")
        .file("assets/logo.png", "png");
    for command in ["validate", "plan"] {
        let out = test.run(&args(&[command]));
        assert_eq!(out.code, 1, "{}", out.snapshot());
        assert!(out.stdout.is_empty(), "{}", out.snapshot());
        if command == "validate" {
            insta::assert_snapshot!("files_problems", out.snapshot());
        }
    }
    assert!(!test.path().join(".kvsync").exists(), "no store was created");
}
