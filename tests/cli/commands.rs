use crate::support::{Test, repo};

#[test]
fn help_exits_zero_and_never_mentions_a_token_flag() {
    let out = Test::new().run(&["--help"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("Usage: kvsync"), "{}", out.stdout);
    for command in ["plan", "apply", "validate"] {
        let out = Test::new().run(&[command, "--help"]);
        assert_eq!(out.code, 0);
        assert!(!out.stdout.to_lowercase().contains("token"), "{}", out.stdout);
    }
}

#[test]
fn usage_errors_exit_one_so_two_always_means_changes() {
    let out = Test::new().run(&["plan", "--no-such-flag"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("--no-such-flag"));
    let out = Test::new().run(&[]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
}

#[test]
fn missing_config_names_the_file() {
    let out = Test::new().run(&["plan", "--target", "local"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("missing_config", out.snapshot());
}

#[test]
fn schema_prints_the_committed_schema() {
    let out = Test::new().run(&["schema"]);
    assert_eq!(out.code, 0);
    let committed =
        std::fs::read_to_string(repo().join("schemas/kvsync.schema.json")).expect("schema");
    assert_eq!(out.stdout, committed);
}

#[test]
fn completions_are_generated() {
    let out = Test::new().run(&["completions", "bash"]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("_kvsync()"), "{}", &out.stdout[..200.min(out.stdout.len())]);
}

#[test]
fn validate_formats_for_machines() {
    let test = Test::new().file("kvsync.yaml", "version: 1\nowner: Web Team\nnamespaces: {}\n");
    let github = test.run(&["validate", "--format", "github"]);
    assert_eq!(github.code, 1);
    assert!(
        github.stdout.starts_with("::error file=kvsync.yaml,line=2,col=8::"),
        "{}",
        github.stdout
    );
    let json = test.run(&["validate", "--format", "json"]);
    assert_eq!(json.code, 1);
    let parsed: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(parsed["valid"], false);
    assert_eq!(parsed["diagnostics"][0]["line"], 2);
}
