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

/// Issue #11: what a Terraform user types gets a tip, and still exits 1 (a usage error).
#[test]
fn terraform_habits_get_a_tip() {
    let test = Test::new();
    let mut all = String::new();
    for args in [
        &["plan", "--target", "flags/banner"][..],
        &["apply", "-auto-approve"][..],
        &["plan", "-out=plan.json"][..],
        &["drift", "--target", "prod"][..],
    ] {
        let out = test.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.snapshot());
        all.push_str(&format!("$ kvsync {}\n{}\n", args.join(" "), out.snapshot()));
    }
    insta::assert_snapshot!("terraform_habits", all);
}

/// Issue #25: flags other CLIs spell otherwise are errors (never silent aliases) with the tip
/// that names kvsync's spelling; `drift --detailed-exitcode` is accepted, as `plan` takes it.
#[test]
fn other_clis_habits_get_the_right_tip() {
    let test = Test::new();
    let mut all = String::new();
    for args in [
        &["apply", "--yes"][..],
        &["apply", "-y"][..],
        &["apply", "--dry-run"][..],
        &["plan", "-no-color"][..],
        &["plan", "-json"][..],
        &["drift", "--json"][..],
        &["plan", "-target=flags/banner"][..],
        &["plan", "-target", "flags/banner"][..],
    ] {
        let out = test.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.snapshot());
        assert!(!out.stderr.contains("as a value, use"), "{args:?}: {}", out.stderr);
        all.push_str(&format!("$ kvsync {}\n{}\n", args.join(" "), out.snapshot()));
    }
    insta::assert_snapshot!("other_clis_habits", all);
    // `pull --dry-run` is kvsync's own flag: another refused flag gets no tip about it.
    let pull = test.run(&["pull", "--dry-run", "--bogus"]);
    assert!(!pull.stderr.contains("tip: kvsync has no"), "{}", pull.stderr);

    let test = Test::new().file(
        "kvsync.yaml",
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      a: \"1\"\n",
    );
    let drift = test.run(&["drift", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(drift.code, 2, "drift exits 2 on drift, with or without it: {}", drift.snapshot());
    let plain = test.run(&["drift", "--target", "local"]);
    assert_eq!(plain.code, 2, "{}", plain.snapshot());
}

/// Issue #11: commands list only the options they use; the top-level help lists the
/// environment variables kvsync reads (never the token as a flag).
#[test]
fn help_lists_what_each_command_uses() {
    for command in ["schema", "completions", "init", "validate", "types"] {
        let out = Test::new().run(&[command, "--help"]);
        assert_eq!(out.code, 0);
        for option in ["--target", "--local-path", "--api-url", "--revision"] {
            assert!(!out.stdout.contains(option), "{command} lists {option}:\n{}", out.stdout);
        }
    }
    for (command, options) in [
        ("plan", &["--target", "--local-path", "--api-url"][..]),
        ("apply", &["--target", "--local-path", "--api-url", "--revision"][..]),
        ("drift", &["--target", "--local-path", "--api-url"][..]),
        ("export", &["--target", "--local-path", "--api-url"][..]),
        ("pull", &["--target", "--local-path", "--api-url"][..]),
    ] {
        let out = Test::new().run(&[command, "--help"]);
        for option in options {
            assert!(out.stdout.contains(option), "{command} lacks {option}:\n{}", out.stdout);
        }
    }
    // `validate` still accepts them, so scripts can pass it what they pass `plan`.
    let test = Test::new().file(
        "kvsync.yaml",
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n",
    );
    let out = test.run(&["validate", "--target", "local", "--api-url", "http://127.0.0.1:9"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let out = Test::new().run(&["--help"]);
    assert!(!out.stdout.contains("--token") && !out.stdout.contains("--api-token"));
    insta::assert_snapshot!("top_level_help", out.stdout);
}

/// Issue #25: `plan --format markdown` of values that break their schemas prints its own report
/// on stdout, one caution alert and one list, and exits 1 (stderr keeps the diagnostics).
#[test]
fn a_schema_failure_is_a_markdown_report_on_stdout() {
    let test = Test::new().file(
        "kvsync.yaml",
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: flags/\n    schemas:\n      \"flags/*\": {type: object, properties: {rollout: {type: integer, maximum: 100}}, required: [rollout]}\n    keys:\n      flags/a: '{\"rollout\": 150}'\n      flags/b: '{\"rollout\": \"50%\"}'\n      flags/ok: '{\"rollout\": 5}'\n",
    );
    let out = test.run(&["plan", "--target", "local", "--format", "markdown"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("error: "), "{}", out.stderr);
    insta::assert_snapshot!("schema_failure_markdown", out.stdout);
}
