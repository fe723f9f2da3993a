use crate::support::Test;

const HEAD: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n";

/// Runs `validate` and `plan` on a config and checks both exit 1 before anything is written,
/// naming the place (`kvsync.yaml:line:column`) and the problem.
fn check(config: &str, files: &[(&str, &[u8])], place: &str, words: &str) {
    let mut test = Test::new().file("kvsync.yaml", config);
    for (path, contents) in files {
        test = test.file(path, contents);
    }
    for command in ["validate", "plan"] {
        let out = test.run(&[command, "--target", "local"]);
        assert_eq!(out.code, 1, "{command} must fail:\n{}", out.snapshot());
        assert!(out.stderr.contains(place), "{command}: expected `{place}` in:\n{}", out.stderr);
        assert!(out.stderr.contains(words), "{command}: expected `{words}` in:\n{}", out.stderr);
        assert!(out.stdout.is_empty(), "no plan is printed:\n{}", out.stdout);
    }
    assert!(!test.path().join(".kvsync").exists(), "no store was created");
}

fn keys(body: &str) -> String {
    format!("{HEAD}    keys:\n{body}")
}

#[test]
fn malformed_yaml() {
    check(&keys("      f/a: [unclosed\n"), &[], "kvsync.yaml:8:", "");
}

#[test]
fn duplicate_key() {
    check(&keys("      f/a: one\n      f/a: two\n"), &[], "kvsync.yaml:9:7", "duplicate");
}

#[test]
fn unknown_field_with_a_suggestion() {
    check(&format!("{HEAD}    prnue: true\n"), &[], "kvsync.yaml:7:5", "prune");
}

#[test]
fn unknown_entry_field_points_to_value() {
    check(&keys("      f/a:\n        enabled: true\n"), &[], "kvsync.yaml:9:9", "value:");
}

#[test]
fn wrong_type() {
    check(&HEAD.replace("version: 1", "version: one"), &[], "kvsync.yaml:1:10", "version");
}

#[test]
fn metadata_must_be_an_object() {
    check(
        &keys("      f/a:\n        value: x\n        metadata: [1, 2]\n"),
        &[],
        "kvsync.yaml:10:19",
        "metadata",
    );
}

#[test]
fn reserved_metadata_field() {
    check(
        &keys("      f/a:\n        value: x\n        metadata: {__kvsync: 1}\n"),
        &[],
        "kvsync.yaml:10:20",
        "__kvsync",
    );
}

#[test]
fn oversize_key() {
    let key = format!("f/{}", "k".repeat(520));
    check(&keys(&format!("      {key}: x\n")), &[], "kvsync.yaml:8:7", "512");
}

#[test]
fn oversize_value() {
    let big = vec![b'a'; 25 * 1024 * 1024 + 1];
    check(
        &keys("      f/big:\n        file: big.txt\n"),
        &[("big.txt", &big)],
        "kvsync.yaml:9:15",
        "25",
    );
}

#[test]
fn oversize_metadata() {
    let long = "m".repeat(1000);
    check(
        &keys(&format!("      f/a:\n        value: x\n        metadata: {{note: {long}}}\n")),
        &[],
        "kvsync.yaml:10:19",
        "1024",
    );
}

#[test]
fn bad_key_names() {
    check(
        &format!("{}    keys:\n      \"..\": x\n", HEAD.replace("prefix: \"f/\"", "prefix: \"\"")),
        &[],
        "kvsync.yaml:8:7",
        "`..`",
    );
}

#[test]
fn ttl_below_sixty() {
    check(
        &keys("      f/a:\n        value: x\n        expiration_ttl: 30\n"),
        &[],
        "kvsync.yaml:10:25",
        "60",
    );
}

#[test]
fn both_expirations() {
    check(
        &keys(
            "      f/a:\n        value: x\n        expiration: 2035-01-01T00:00:00Z\n        expiration_ttl: 300\n",
        ),
        &[],
        "kvsync.yaml:",
        "expiration_ttl",
    );
}

#[test]
fn missing_environment_variable() {
    check(
        &keys("      f/a: ${KVSYNC_TEST_SURELY_UNSET}\n"),
        &[],
        "kvsync.yaml:8:12",
        "KVSYNC_TEST_SURELY_UNSET",
    );
}

#[test]
fn missing_file() {
    check(&keys("      f/a:\n        file: nowhere.txt\n"), &[], "kvsync.yaml:9:15", "nowhere.txt");
}

#[test]
fn file_escaping_the_config_folder() {
    check(
        &keys("      f/a:\n        file: ../../etc/passwd\n"),
        &[],
        "kvsync.yaml:9:15",
        "outside",
    );
}

#[test]
fn include_cycle() {
    let config = format!("{HEAD}    include: [a.yaml]\n");
    check(
        &config,
        &[
            ("a.yaml", b"keys: {}\ninclude: [b.yaml]\n"),
            ("b.yaml", b"keys: {}\ninclude: [a.yaml]\n"),
        ],
        "yaml:2:",
        "cycle",
    );
}

#[test]
fn key_defined_twice_across_includes() {
    let config = format!("{HEAD}    include: [more.yaml]\n    keys:\n      f/a: one\n");
    check(&config, &[("more.yaml", b"keys:\n  f/a: two\n")], "more.yaml:2:3", "kvsync.yaml:9:7");
}

#[test]
fn key_outside_its_prefix() {
    check(&keys("      g/a: x\n"), &[], "kvsync.yaml:8:7", "f/");
}

#[test]
fn alias_bomb_fails_fast() {
    // Each level repeats the one before ten times: 10^12 strings if a parser expanded it.
    let mut bomb = String::from("      f/a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        bomb.push_str(&format!("      f/a{i}: &a{i} [{items}]\n"));
    }
    let started = std::time::Instant::now();
    check(&keys(&bomb), &[], "kvsync.yaml:", "");
    // Not a timing assertion on kvsync's speed: a bomb that expanded would take minutes and
    // gigabytes, so anything that finishes at all has refused it early.
    assert!(started.elapsed().as_secs() < 60);
}

#[test]
fn every_problem_is_reported_at_once() {
    let config = keys(
        "      g/outside: x\n      f/ttl:\n        value: x\n        expiration_ttl: 5\n      f/meta:\n        value: x\n        metadata: {__kvsync: 1}\n",
    );
    let test = Test::new().file("kvsync.yaml", config);
    let out = test.run(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("every_problem_at_once", out.snapshot());
    for place in ["kvsync.yaml:8:7", "kvsync.yaml:11:25", "kvsync.yaml:14:"] {
        assert!(out.stderr.contains(place), "expected {place} in:\n{}", out.stderr);
    }
}

/// Issue #11: a namespace id that is not 32 lowercase hex digits (here `init`'s old
/// placeholder) fails `validate`, with a hint to where real ids come from.
#[test]
fn namespace_ids_are_32_lowercase_hex_digits() {
    let config = HEAD.replace(
        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "${FLAGS_NAMESPACE_ID:-replace-with-your-namespace-id}",
    );
    check(&config, &[], "kvsync.yaml:5:19", "is not valid");
    let out = Test::new().file("kvsync.yaml", &config).run(&["validate"]);
    insta::assert_snapshot!("namespace_id_placeholder", out.snapshot());
    let upper =
        HEAD.replace("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "0F1E2D3C4B5A69788796A5B4C3D2E1F0");
    check(&upper, &[], "kvsync.yaml:5:19", "`0F1E2D3C4B5A69788796A5B4C3D2E1F0` is not valid");
}

/// Issue #11: `validate` used to take four runs for these four mistakes (a misspelt top-level
/// field, a misspelt scope field, `yes` for a boolean, an owner with a space); now one run shows
/// them all, and the rest of the file is still checked (the key outside its prefix).
#[test]
fn every_problem_of_shape_at_once() {
    let config = "version: 1\nowner: Web Team\nnamespaces:\n  flags:\n    namespace_idd: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prune: yes\n    prefix: \"f/\"\n    keys:\n      f/a: .inf\n      g/b: outside\nnamspaces: {}\n";
    let test = Test::new().file("kvsync.yaml", config);
    let out = test.run(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("every_problem_of_shape_at_once", out.snapshot());
    let github = test.run(&["validate", "--format", "github"]);
    assert_eq!(github.stdout.lines().count(), 6, "{}", github.stdout);
}

/// `plan` and `drift` never write the local store (issue #15): a missing `--local-path` is not
/// created, and an existing store keeps every byte, so a plan cannot change what it reports on.
#[test]
fn plan_and_drift_leave_the_local_store_untouched() {
    let test = Test::new().file("kvsync.yaml", format!("{HEAD}    keys:\n      f/a: x\n"));
    for command in ["plan", "drift"] {
        let out = test.run(&[command, "--target", "local", "--local-path", "nowhere/local.db"]);
        assert_eq!(out.code, if command == "plan" { 0 } else { 2 }, "{}", out.snapshot());
        assert!(!test.path().join("nowhere").exists(), "{command} created the store");
    }
    let applied = test.run(&["apply", "--target", "local", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    let store = test.path().join(".kvsync/local.db");
    let before = std::fs::read(&store).expect("store");
    for command in ["plan", "drift"] {
        let out = test.run(&[command, "--target", "local"]);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        assert!(std::fs::read(&store).expect("store") == before, "{command} wrote the store");
    }
}

/// A damaged local store is an error with a hint, never a panic, and never a success that hides
/// one (issue #15: a panic while closing left `plan` printing "No changes" with exit 0). Sixty
/// corruptions spread over the file, each run through `plan`, `drift` and `apply`.
#[test]
fn a_damaged_local_store_is_an_error_never_a_panic() {
    let mut keys = String::from("    keys:\n");
    for i in 0..300 {
        keys.push_str(&format!("      f/k{i:03}: value {i}\n"));
    }
    let test = Test::new().file("kvsync.yaml", format!("{HEAD}{keys}"));
    let applied = test.run(&["apply", "--target", "local", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    let good = std::fs::read(test.path().join(".kvsync/local.db")).expect("store");
    // Most of a fresh store is free pages: damage the bytes that hold something.
    let used: Vec<usize> = (0..good.len() - 64).filter(|&i| good[i] != 0).collect();
    for case in 0..60usize {
        let mut bytes = good.clone();
        let at = used[case * (used.len() - 1) / 59];
        for (i, byte) in bytes[at..at + 64].iter_mut().enumerate() {
            *byte ^= 0xa5u8.rotate_left((case + i) as u32);
        }
        let path = format!("damaged-{case}.db");
        std::fs::write(test.path().join(&path), &bytes).expect("write");
        for command in [&["plan"][..], &["drift"], &["apply", "--auto-approve"]] {
            let args = [command, &["--target", "local", "--local-path", &path]].concat();
            let out = test.run(&args);
            let what =
                format!("case {case} (byte {at}), `{}`:\n{}", args.join(" "), out.snapshot());
            assert!(!out.stderr.contains("panicked"), "{what}");
            assert!(matches!(out.code, 0..=2), "{what}");
            if out.code != 1 {
                assert!(!out.stderr.contains("error:"), "an error, yet exit {}: {what}", out.code);
            } else if out.stderr.contains("local store") {
                // What to do about it: move the file away, another path, or let apply repair it.
                let hint = ["move", "--local-path", "apply"].iter().any(|h| out.stderr.contains(h));
                assert!(hint, "{what}");
            }
        }
    }
}

/// Issue 15 item 14: metadata that `validate` passes is never refused for its size, whatever
/// `--revision` says (40 emoji are 160 bytes) and whether the marker says `sensitive`.
#[test]
fn metadata_at_the_bound_is_written_with_any_revision() {
    use kvsync::content::written_metadata_len_max;
    let note = |n: usize| {
        let mut map = serde_json::Map::new();
        map.insert("note".into(), "m".repeat(n).into());
        map
    };
    let n = (0..1024).find(|&n| written_metadata_len_max(Some(&note(n)), "web") == 1024);
    let n = n.expect("some note fills the metadata exactly");
    let body = format!(
        "      f/a:\n        value: x\n        metadata: {{note: {m}}}\n      f/s:\n        value: ${{KVSYNC_SECRET}}\n        metadata: {{note: {m}}}\n",
        m = "m".repeat(n)
    );
    let test = Test::new().file("kvsync.yaml", keys(&body)).env("KVSYNC_SECRET", "s3cret");
    assert_eq!(test.run(&["validate"]).code, 0);
    let revision = "😀".repeat(40);
    let out = test.run(&["apply", "--auto-approve", "--target", "local", "--revision", &revision]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // One byte more is refused before anything is written.
    test.write("kvsync.yaml", keys(&body.replacen(&"m".repeat(n), &"m".repeat(n + 1), 1)));
    let out = test.run(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("is 1025 bytes once kvsync adds its marker"), "{}", out.stderr);
}

/// Issue 15 item 14: a key name with whitespace works, but `validate` warns, at the key.
#[test]
fn whitespace_in_a_key_name_is_a_warning() {
    let test =
        Test::new().file("kvsync.yaml", keys("      \"f/a \": x\n      \"f/b\\u00a0c\": y\n"));
    let out = test.run(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    insta::assert_snapshot!(out.stderr);
}

/// Typed values: a value that breaks its schema stops `validate`, `plan` and `apply` before
/// anything is listed or written, as a GitHub annotation at the value's line too; the same
/// config without the bad value passes.
#[test]
fn a_value_that_breaks_its_schema() {
    let schema = br#"{"type": "object", "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}, "rollout": {"type": "integer", "maximum": 100}}}"#;
    let config = |rollout: u32| {
        format!(
            "{HEAD}    schemas:\n      \"f/**\": schemas/flag.json\n    keys:\n      f/ok: {{value: {{enabled: true}}}}\n      f/new:\n        value: {{enabled: true, rollout: {rollout}}}\n"
        )
    };
    let files: &[(&str, &[u8])] = &[("schemas/flag.json", schema)];
    check(
        &config(150),
        files,
        "kvsync.yaml:12:16",
        "the value of `f/new` breaks its schema at `/rollout`: 150 is greater than the maximum of \
         100 (schema `schemas/flag.json#/properties/rollout/maximum`)",
    );
    let test = Test::new().file("kvsync.yaml", config(150)).file("schemas/flag.json", schema);
    let apply = test.run(&["apply", "--auto-approve", "--target", "local"]);
    assert_eq!(apply.code, 1, "{}", apply.snapshot());
    assert!(!test.path().join(".kvsync").exists(), "nothing was written");
    let github = test.run(&["validate", "--format", "github"]);
    assert_eq!(github.code, 1, "{}", github.snapshot());
    assert!(
        github.stdout.contains("::error file=kvsync.yaml,line=12,col=16::the value of `f/new`")
            || github
                .stderr
                .contains("::error file=kvsync.yaml,line=12,col=16::the value of `f/new`"),
        "{}",
        github.snapshot()
    );

    let good = Test::new().file("kvsync.yaml", config(100)).file("schemas/flag.json", schema);
    let out = good.run(&["validate"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}
