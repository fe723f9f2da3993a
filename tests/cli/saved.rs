use kvsync::content::Expiration;

use crate::support::{Config, NS, Test, repo, seed};

fn config(keys: &[(&str, &str)]) -> String {
    Config::new()
        .values(keys)
        .entry("f/secret", "${KVSYNC_TEST_SECRET:-s3cret-default-value}")
        .yaml()
}

fn local(args: &[&str]) -> Vec<String> {
    args.iter().chain(&["--target", "local"]).map(|s| (*s).to_owned()).collect()
}

fn run(test: &Test, args: &[&str]) -> crate::support::Output {
    let args = local(args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    test.run(&args)
}

#[test]
fn a_saved_plan_applies_exactly_and_without_asking() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2")]));
    let plan = run(&test, &["plan", "--out", "plan.json"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(plan.stderr.contains("Saved the plan to `plan.json`"), "{}", plan.stderr);

    // The file holds no value, and nothing derived from the sensitive one.
    let saved = std::fs::read_to_string(test.path().join("plan.json")).expect("plan file");
    assert!(!saved.contains("s3cret"), "{saved}");
    let secret_hash =
        kvsync::content::content_hash(b"s3cret-default-value", None, Expiration::Never);
    assert!(!saved.contains(&secret_hash.to_hex()[..12]), "the secret's hash leaked: {saved}");
    let document: serde_json::Value = serde_json::from_str(&saved).expect("JSON");
    assert_eq!(document["kind"], "kvsync-saved-plan");
    assert!(document["plan"]["changes"].as_array().is_some_and(|c| c.len() == 3));
    assert!(
        document["plan"]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .all(|c| c.get("diff").is_none())
    );

    // No terminal and no --auto-approve: a saved plan still applies (it was reviewed).
    let apply = run(&test, &["apply", "plan.json"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 3 written, 0 deleted."), "{}", apply.stdout);
    assert_eq!(run(&test, &["plan", "--detailed-exitcode"]).code, 0);

    // Applying the same plan again: what changed is what the plan itself wrote, so it is not
    // stale, and there is nothing left to do.
    let again = run(&test, &["apply", "plan.json"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

/// An `apply PLAN` that stopped half way (a put the store kept refusing, so the delete was not
/// attempted) finishes when run again, as its hint says: the keys it already wrote are what the
/// plan was going to write, not changes by someone else.
#[test]
fn an_interrupted_saved_plan_finishes_when_run_again() {
    use kv_standin::Fault;
    let plain = |keys: &str| {
        format!(
            "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \"f/\"\n    keys:\n{keys}"
        )
    };
    let cloud = crate::support::Cloud::new(&plain("      f/old: \"o\"\n"));
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    cloud.test.write(
        "kvsync.yaml",
        plain("      f/a: \"1\"\n      f/b: \"2\"\n      f/s:\n        value: \"pin\"\n        sensitive: true\n"),
    );
    assert_eq!(cloud.run(&["plan", "--out", "plan.json"]).code, 0);
    for _ in 0..4 {
        cloud.standin.inject(Fault::Unsuccessful { keys: vec!["f/b".into()] });
    }
    let first = cloud.run(&["apply", "plan.json"]);
    assert_eq!(first.code, 1, "{}", first.snapshot());
    assert!(first.stderr.contains("run `kvsync apply` again"), "{}", first.snapshot());
    assert_eq!(cloud.standin.keys(NS), ["f/a", "f/old", "f/s"], "no delete after a failed put");

    let again = cloud.run(&["apply", "plan.json"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(again.stdout.contains("Apply complete: 1 written, 1 deleted."), "{}", again.stdout);
    assert_eq!(cloud.standin.keys(NS), ["f/a", "f/b", "f/s"]);
}

#[test]
fn a_plan_is_stale_when_a_key_it_depends_on_changed() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2")]));
    assert_eq!(run(&test, &["apply", "--auto-approve"]).code, 0);
    test.write("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "3")]));
    assert_eq!(run(&test, &["plan", "--out", "plan.json"]).code, 0);

    // Another owner's key and an unmarked key appear: the plan is still good.
    let theirs =
        serde_json::json!({"__kvsync": {"v": 1, "owner": "mobile", "sha256": "0".repeat(64)}});
    seed(&test, &[("f/theirs", "x", Some(theirs))]);
    seed(&test, &[("f/by-hand", "x", None)]);
    // Someone rewrites a key the plan depends on.
    seed(&test, &[("f/a", "hand edit", None)]);
    let stale = run(&test, &["apply", "plan.json"]);
    assert_eq!(stale.code, 1, "{}", stale.snapshot());
    insta::assert_snapshot!("saved_plan_stale", stale.snapshot());

    // Without the hand edit the plan applies.
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2")]));
    assert_eq!(run(&test, &["apply", "--auto-approve"]).code, 0);
    test.write("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "3")]));
    assert_eq!(run(&test, &["plan", "--out", "plan.json"]).code, 0);
    let theirs =
        serde_json::json!({"__kvsync": {"v": 1, "owner": "mobile", "sha256": "0".repeat(64)}});
    seed(&test, &[("f/theirs", "x", Some(theirs))]);
    let ok = run(&test, &["apply", "plan.json"]);
    assert_eq!(ok.code, 0, "{}", ok.snapshot());
    assert!(ok.stdout.contains("Apply complete: 1 written, 0 deleted."), "{}", ok.stdout);
}

#[test]
fn a_plan_is_refused_when_the_config_changed() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1")]));
    assert_eq!(run(&test, &["plan", "--out", "plan.json"]).code, 0);
    test.write("kvsync.yaml", config(&[("f/a", "2")]));
    let out = run(&test, &["apply", "plan.json"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("the config changed since the plan was made"), "{}", out.stderr);
    // A rotated secret does not show in the digest (nothing derived from it is saved), but
    // when it changes what the plan does to the key, apply says the config changed, not that
    // a key did.
    test.write("kvsync.yaml", config(&[("f/a", "1")]));
    assert_eq!(run(&test, &["apply", "--auto-approve"]).code, 0);
    test.write("kvsync.yaml", config(&[("f/a", "2")]));
    assert_eq!(run(&test, &["plan", "--out", "plan.json"]).code, 0);
    let args = local(&["apply", "plan.json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = test.run_with_env(&args, &[("KVSYNC_TEST_SECRET", "rotated")]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("the config changed since the plan was made"), "{}", out.stderr);
    assert!(!out.stderr.contains("key changed"), "{}", out.stderr);
}

#[test]
fn a_file_that_is_not_a_plan_is_refused() {
    let test =
        Test::new().file("kvsync.yaml", config(&[("f/a", "1")])).file("x.json", "{\"a\": 1}");
    let out = run(&test, &["apply", "x.json"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("not a kvsync saved plan"), "{}", out.stderr);
}

#[test]
fn json_plans_follow_the_committed_schema() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "{\"x\": 1}")]));
    assert_eq!(run(&test, &["apply", "--auto-approve"]).code, 0);
    test.write("kvsync.yaml", config(&[("f/a", "2"), ("f/c", "3")]));
    seed(&test, &[("f/hand", "x", None)]);
    let out = run(&test, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let document: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/plan.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(document["format_version"], "1");
    let actions: Vec<(&str, &str)> = document["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (c["key"].as_str().unwrap_or(""), c["action"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(actions, vec![("f/a", "update"), ("f/b", "delete"), ("f/c", "create")]);
    let update = &document["changes"][0];
    assert_eq!(update["diff"], "--- live\n+++ desired\n@@ -1 +1 @@\n-1\n+2\n");
}

#[test]
fn markdown_plans_are_for_pull_requests() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1")]));
    let out = run(&test, &["plan", "--format", "markdown"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!("markdown_plan", out.stdout);
}

/// `--baseline`: the pull request's changes apart from drift already live.
#[test]
fn a_baseline_separates_the_pull_request_from_drift() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2"), ("f/c", "3")]));
    assert_eq!(run(&test, &["apply", "--auto-approve"]).code, 0);
    // main has a, b, c; someone edits b by hand; the PR changes c and adds d.
    std::fs::create_dir_all(test.path().join("main")).expect("mkdir");
    std::fs::write(
        test.path().join("main/kvsync.yaml"),
        config(&[("f/a", "1"), ("f/b", "2"), ("f/c", "3")]),
    )
    .expect("baseline");
    seed(&test, &[("f/b", "edited by hand", None)]);
    test.write("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2"), ("f/c", "4"), ("f/d", "5")]));
    let human = run(&test, &["plan", "--baseline", "main/kvsync.yaml"]);
    assert_eq!(human.code, 0, "{}", human.snapshot());
    insta::assert_snapshot!("baseline_human", human.stdout);
    let json = run(&test, &["plan", "--baseline", "main/kvsync.yaml", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let tags: Vec<(&str, &str)> = document["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (c["key"].as_str().unwrap_or(""), c["tag"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(tags, vec![("f/b", "drift"), ("f/c", "pr"), ("f/d", "pr")]);
}

/// A saved plan remembers its target: applying it needs no `--target`, and another one is
/// refused before anything is read.
#[test]
fn a_saved_plan_keeps_its_target() {
    let test = Test::new().file("kvsync.yaml", config(&[("f/a", "1")]));
    assert_eq!(run(&test, &["plan", "--out", "plan.json"]).code, 0);
    let apply = test.run(&["apply", "plan.json"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 2 written, 0 deleted."), "{}", apply.stdout);
    assert_eq!(run(&test, &["plan", "--out", "plan.json"]).code, 0);
    let other = test.run(&["apply", "plan.json", "--target", "cloudflare"]);
    assert_eq!(other.code, 1, "{}", other.snapshot());
    assert!(other.stderr.contains("the plan was made for the `local` target"), "{}", other.stderr);
}

/// A comment, a job summary and a step output each get kvsync's Markdown rendered for their own
/// budget in one run, cut once; a cut rendering says exactly how many changes it leaves out and
/// points at the smallest rendering that holds them all, or at `--full-report-hint`.
#[test]
fn markdown_is_rendered_per_budget_and_says_exactly_what_it_left_out() {
    let keys = |value: &str| {
        let mut yaml = format!(
            "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n"
        );
        for i in 0..5000 {
            yaml.push_str(&format!("      k/{i:05}: {value}-{i}\n"));
        }
        yaml
    };
    let test = Test::new().file("kvsync.yaml", keys("first"));
    assert_eq!(run(&test, &["apply", "--auto-approve"]).code, 0);
    test.write("kvsync.yaml", keys("second"));

    let plan = run(
        &test,
        &[
            "plan",
            "--no-value-diff",
            "--format",
            "markdown",
            "--markdown-out",
            "comment.md:65536",
            "--markdown-out",
            "summary.md:1048576:the job summary",
            "--markdown-out",
            "output.md:1024:the step output",
            "--full-report-hint",
            "the `kvsync-plan` artifact",
        ],
    );
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let read = |name: &str| std::fs::read_to_string(test.path().join(name)).expect("rendering");
    let shown = |text: &str| text.lines().filter(|l| l.starts_with("- `~` ")).count();
    // A comment's group lists its first 50 keys and counts the rest, saying where they are; a
    // job summary, larger than a comment, lists every key it can (here all of them).
    let text = read("comment.md");
    assert_eq!(shown(&text), 50);
    assert!(text.contains("\n- … and 4950 more (the whole report is in the job summary)\n"));
    assert!(!text.contains("not shown"));
    let text = read("summary.md");
    assert_eq!(shown(&text), 5000);
    assert!(!text.contains("more"));
    let text = read("output.md");
    assert!(text.len() <= 1024, "output.md: {}", text.len());
    let left_out = 50 - shown(&text);
    assert!(left_out > 0, "output.md is cut");
    assert!(
        text.ends_with(&format!(
            "… {left_out} more changes not shown (the whole report is in the job summary).\n"
        )),
        "output.md: {text}"
    );
    assert_eq!(plan.stdout, read("comment.md"), "stdout is rendered for the same budget");

    // With no rendering that holds everything, the note points at the hint.
    let small = run(
        &test,
        &[
            "plan",
            "--no-value-diff",
            "--format",
            "markdown",
            "--max-chars",
            "1000",
            "--full-report-hint",
            "the `kvsync-plan` artifact",
        ],
    );
    let left_out = 50 - shown(&small.stdout);
    assert!(small.stdout.len() <= 1000);
    assert!(
        small.stdout.ends_with(&format!(
            "… {left_out} more changes not shown (the full plan is in the `kvsync-plan` artifact).\n"
        )),
        "{}",
        small.stdout
    );

    // Drift follows the same rule: an issue body holds at most 65,536 characters.
    let drift = run(&test, &["drift", "--format", "markdown", "--markdown-out", "issue.md:65536"]);
    assert_eq!(drift.code, 2, "{}", drift.stderr);
    let issue = read("issue.md");
    assert!(issue.len() <= 65_536, "{}", issue.len());
    assert!(issue.contains("more drifted keys not shown"), "{}", &issue[issue.len() - 300..]);
}
