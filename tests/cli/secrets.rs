use sha2::Digest as _;

use crate::support::{Config, Output, Test};

const SECRET: &str = "kvsync-test-secret-9f8e7d";

/// A config whose `f/token` value and `f/meta` metadata come from the environment.
fn config(extra: &str) -> String {
    Config::new()
        .entry("f/plain", "hello")
        .entry("f/token", "${KVSYNC_SECRET}")
        .entry("f/meta", "\n        value: x\n        metadata: {key: \"${KVSYNC_SECRET}\"}")
        .entry("f/marked", &format!("\n        value: {SECRET}-by-hand\n        sensitive: true"))
        .tail(extra)
        .yaml()
}

/// Every string that would give the secret away: the value itself and its hashes, whole and as
/// the short prefixes renderers use.
fn forbidden() -> Vec<String> {
    let raw = base16ct::lower::encode_string(&sha2::Sha256::digest(SECRET.as_bytes()));
    let marked = format!("{SECRET}-by-hand");
    let raw_marked = base16ct::lower::encode_string(&sha2::Sha256::digest(marked.as_bytes()));
    let content = |value: &str| {
        kvsync::content::content_hash(value.as_bytes(), None, kvsync::content::Expiration::Never)
            .to_hex()
    };
    let mut out = vec![SECRET.to_owned()];
    for hash in [raw, raw_marked, content(SECRET), content(&marked)] {
        out.push(hash[..8].to_owned());
        out.push(hash);
    }
    out
}

fn check(out: &Output, what: &str) {
    let all = out.snapshot();
    for needle in forbidden() {
        assert!(!all.contains(&needle), "{what} printed `{needle}`:\n{all}");
    }
}

/// Every command and format, with a secret from the environment and one marked `sensitive:`,
/// across a create, an update (the secret rotated) and drift: neither the secret nor any hash
/// of it appears anywhere, plan files included.
#[test]
fn secrets_appear_in_no_output_and_no_plan_file() {
    let test = Test::new().file("kvsync.yaml", config("")).env("KVSYNC_SECRET", SECRET);
    let local = ["--target", "local"];
    let runs: &[&[&str]] = &[
        &["validate"],
        &["validate", "--format", "json"],
        &["validate", "--format", "github"],
        &["plan"],
        &["plan", "--format", "json"],
        &["plan", "--format", "markdown"],
        &["plan", "--out", "plan.json", "-v"],
        &["apply", "--auto-approve", "--format", "json"],
        &["drift", "--deep"],
        &["drift", "--deep", "--format", "json"],
        &["drift", "--deep", "--format", "markdown"],
    ];
    for args in runs {
        let args: Vec<&str> = args.iter().chain(&local).copied().collect();
        check(&test.run(&args), &args.join(" "));
    }
    let plan_file = std::fs::read_to_string(test.path().join("plan.json")).expect("plan file");
    for needle in forbidden() {
        assert!(!plan_file.contains(&needle), "the plan file holds `{needle}`");
    }

    // Rotate the secret by hand in the store's view: the secret changes, so the plan updates.
    let rotated = Test::new().env("KVSYNC_SECRET", "another-value");
    std::fs::write(rotated.path().join("kvsync.yaml"), config("")).expect("config");
    std::fs::create_dir_all(rotated.path().join(".kvsync")).expect("mkdir");
    std::fs::copy(test.path().join(".kvsync/local.db"), rotated.path().join(".kvsync/local.db"))
        .expect("copy store");
    for args in [
        vec!["plan"],
        vec!["plan", "--format", "json"],
        vec!["plan", "--format", "markdown"],
        vec!["drift", "--deep"],
        vec!["apply", "--auto-approve"],
    ] {
        let args: Vec<&str> = args.into_iter().chain(local).collect();
        let out = rotated.run(&args);
        check(&out, &args.join(" "));
    }

    // An invalid sensitive value is reported without showing it.
    let broken = Test::new()
        .file(
            "kvsync.yaml",
            config("      f/bad:\n        value: ${KVSYNC_SECRET}\n        expiration_ttl: 5\n"),
        )
        .env("KVSYNC_SECRET", SECRET);
    let out = broken.run(&["validate"]);
    assert_eq!(out.code, 1);
    check(&out, "validate of a broken config");
}

/// `--only`: the run is restricted to matching keys (deletes included) and says so.
#[test]
fn only_restricts_the_run_and_says_so() {
    let keys = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n";
    let test = Test::new()
        .file("kvsync.yaml", format!("{keys}      a/1: x\n      b/1: x\n      b/2: x\n"));
    assert_eq!(test.run(&["apply", "--target", "local", "--auto-approve"]).code, 0);
    test.write("kvsync.yaml", format!("{keys}      a/1: y\n      b/1: y\n"));
    let plan = test.run(&["plan", "--target", "local", "--only", "b/*", "--no-value-diff"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    insta::assert_snapshot!("only_plan", plan.stdout);
    let apply = test.run(&["apply", "--target", "local", "--auto-approve", "--only", "b/*"]);
    assert!(apply.stdout.contains("Apply complete: 1 written, 1 deleted."), "{}", apply.snapshot());
    let rest = test.run(&["plan", "--target", "local", "--detailed-exitcode", "--no-value-diff"]);
    assert!(rest.stdout.contains("Plan: 1 to update, 1 unchanged."), "{}", rest.snapshot());
}

/// Issue 15 item 6: a key written from `${…}` and then set to a literal keeps its live value
/// hidden in every plan output: its marker says it was written sensitive. A marker written
/// before that field relies on `--baseline` naming the config that marked it sensitive.
#[test]
fn a_secret_stays_hidden_once_its_entry_is_a_literal() {
    let head = |value: &str| {
        format!(
            "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      f/token: {value}\n"
        )
    };
    let local = ["--target", "local"];
    let plans: [&[&str]; 4] = [
        &["plan"],
        &["plan", "--format", "json"],
        &["plan", "--format", "markdown"],
        &["apply", "--auto-approve"],
    ];

    // Written from the environment: the marker says so, and the literal that replaces it shows
    // nothing of the old value.
    let test =
        Test::new().file("kvsync.yaml", head("${KVSYNC_SECRET}")).env("KVSYNC_SECRET", SECRET);
    assert_eq!(test.run(&["apply", "--auto-approve", "--target", "local"]).code, 0);
    test.write("kvsync.yaml", head("literal-now"));
    let human = test.run(&["plan", "--target", "local"]);
    insta::assert_snapshot!("literal_after_secret_plan", human.stdout);
    for args in plans {
        let args: Vec<&str> = args.iter().chain(&local).copied().collect();
        let out = test.run(&args);
        assert!(out.stdout.contains("f/token"), "{}", out.snapshot());
        check(&out, &args.join(" "));
    }
    // Applying wrote the literal without the field: the next change shows the value again.
    test.write("kvsync.yaml", head("literal-again"));
    let next = test.run(&["plan", "--target", "local"]);
    assert!(next.stdout.contains("-literal-now"), "{}", next.snapshot());

    // Written without the field (as kvsync did before it): the baseline says it was sensitive.
    let old = Test::new()
        .file("kvsync.yaml", head(SECRET))
        .file("base.yaml", head("${KVSYNC_SECRET}"))
        .env("KVSYNC_SECRET", SECRET);
    assert_eq!(old.run(&["apply", "--auto-approve", "--target", "local"]).code, 0);
    old.write("kvsync.yaml", head("literal-now"));
    for args in &plans[..3] {
        let args: Vec<&str> =
            args.iter().chain(&local).chain(&["--baseline", "base.yaml"]).copied().collect();
        let out = old.run(&args);
        assert!(out.stdout.contains("f/token"), "{}", out.snapshot());
        check(&out, &args.join(" "));
    }
}
