//! `kvsync diff --env A --env B` (issue 28): two environments' desired states and, with `--live`,
//! their namespaces, side by side, in every format; exit 0 equal, 2 different, 1 error. The
//! simulator half is in `simulator.rs` (`diff_live_on_the_simulator`).

use kvsync::content::Expiration;
use kvsync::kv::{KvStore as _, PutPair};

use crate::support::{NOW, NS, Output, Test, local_store, repo};

/// Production's namespace; staging's is [`NS`].
pub(crate) const PROD: &str = "1f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The namespace of the scope only production has (prefix `config/`).
pub(crate) const CONFIG_NS: &str = "2f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Staging and production of one config, on the local target: equal keys, a changed value, a
/// changed TTL, changed metadata, a key only in each, a sensitive key that differs, and a scope only in
/// production. `target` is written as `target:`.
pub(crate) fn two_environments(target: &str) -> String {
    format!(
        r#"version: 1
owner: web
target: {target}
namespaces:
  flags:
    namespace_id: {NS}
    prefix: "f/"
    keys:
      f/same: "same everywhere"
      f/json: {{value: {{enabled: true, rollout: 5}}, metadata: {{team: growth}}}}
      f/banner: "Welcome"
      f/cache: {{value: "c", expiration_ttl: 3600}}
      f/secret: "${{SECRET:-s3cr3t-staging}}"
environments:
  staging:
    namespaces:
      flags:
        keys:
          f/debug: true
  production:
    namespaces:
      flags:
        namespace_id: {PROD}
        keys:
          f/banner: "Welcome to production"
          f/cache: {{value: "c", expiration_ttl: 7200}}
          f/secret: "${{SECRET:-s3cr3t-production}}"
          f/launch: {{value: {{enabled: true}}, metadata: {{team: growth}}}}
          f/json: {{value: {{enabled: true, rollout: 5}}, metadata: {{team: checkout}}}}
      config:
        namespace_id: {CONFIG_NS}
        prefix: "config/"
        keys:
          config/limits: "10"
"#
    )
}

/// The same config, both environments equal.
fn equal_environments() -> String {
    format!(
        r#"version: 1
owner: web
target: local
namespaces:
  flags:
    namespace_id: {NS}
    prefix: "f/"
    keys:
      f/a: "1"
      f/b: {{value: {{x: 1}}, metadata: {{team: growth}}}}
environments:
  staging: {{}}
  production:
    namespaces:
      flags:
        namespace_id: {PROD}
"#
    )
}

const DIFF: [&str; 5] = ["diff", "--env", "staging", "--env", "production"];

fn diff(test: &Test, more: &[&str]) -> Output {
    let args: Vec<&str> = DIFF.iter().copied().chain(more.iter().copied()).collect();
    test.run(&args)
}

fn apply(test: &Test, env: &str) {
    let out = test.run(&["apply", "--env", env, "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

/// No secret of either side in anything a run printed.
fn no_secret(out: &Output) {
    for secret in ["s3cr3t-staging", "s3cr3t-production"] {
        assert!(!out.snapshot().contains(secret), "{secret} shown:\n{}", out.snapshot());
    }
}

/// The JSON on stdout, validated against the committed `schemas/diff.schema.json`.
fn valid_json(out: &Output) -> serde_json::Value {
    let document: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON on stdout");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("schemas/diff.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(document["format_version"], "1");
    document
}

/// `(key, status, differences)` of every key of a JSON document.
fn keys(document: &serde_json::Value) -> Vec<(String, String, String)> {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    document["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            let differences: Vec<String> = k["differences"]
                .as_array()
                .map(|d| d.iter().map(text).collect())
                .unwrap_or_default();
            (text(&k["key"]), text(&k["status"]), differences.join(","))
        })
        .collect()
}

fn expected_keys() -> Vec<(String, String, String)> {
    [
        ("f/banner", "differs", "value"),
        ("f/cache", "differs", "expiration"),
        ("f/debug", "only-left", ""),
        ("f/json", "differs", "metadata"),
        ("f/launch", "only-right", ""),
        ("f/secret", "differs", "value"),
    ]
    .iter()
    .map(|(k, s, d)| ((*k).to_owned(), (*s).to_owned(), (*d).to_owned()))
    .collect()
}

#[test]
fn desired_states_side_by_side() {
    let test = Test::new().file("kvsync.yaml", two_environments("local"));
    let out = diff(&test, &[]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    no_secret(&out);
    insta::assert_snapshot!("diff_desired_human", out.snapshot());
    // No store was opened, let alone created.
    assert!(!test.path().join(".kvsync").exists());

    let json = diff(&test, &["--format", "json"]);
    assert_eq!(json.code, 2, "{}", json.snapshot());
    no_secret(&json);
    let document = valid_json(&json);
    assert_eq!(keys(&document), expected_keys());
    assert_eq!(document["mode"], "desired");
    assert_eq!(
        document["summary"],
        "4 differ, 1 only in staging, 1 only in production, 1 equal; 1 scope only in production."
    );
    assert_eq!(
        document["keys"][1]["expiration"],
        serde_json::json!({"left": "ttl=3600", "right": "ttl=7200"})
    );
    assert_eq!(
        document["keys"][3]["metadata"],
        serde_json::json!({"left": {"team": "growth"}, "right": {"team": "checkout"}})
    );
    let secret = &document["keys"][5];
    assert_eq!(secret["sensitive"], true);
    assert!(secret.get("diff").is_none() && secret.get("left_value").is_none(), "{secret}");
    assert_eq!(document["scopes"][1]["name"], "config");
    assert_eq!(document["scopes"][1]["lone_keys"], 1);

    let markdown = diff(&test, &["--format", "markdown"]);
    assert_eq!(markdown.code, 2, "{}", markdown.snapshot());
    no_secret(&markdown);
    insta::assert_snapshot!("diff_desired_markdown", markdown.stdout);
}

#[test]
fn equal_environments_exit_0_desired_and_live() {
    let test = Test::new().file("kvsync.yaml", equal_environments());
    let out = diff(&test, &[]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("No differences: 2 equal."), "{}", out.stdout);
    apply(&test, "staging");
    apply(&test, "production");
    for more in [&["--live"][..], &["--live", "--deep"]] {
        let out = diff(&test, more);
        assert_eq!(out.code, 0, "{more:?}\n{}", out.snapshot());
        assert!(out.stdout.contains("No differences: 2 equal."), "{}", out.stdout);
    }
    // The reverse order says the same.
    let out = test.run(&["diff", "--env", "production", "--env", "staging", "--live"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn live_namespaces_side_by_side() {
    let test = Test::new().file("kvsync.yaml", two_environments("local"));
    apply(&test, "staging");
    apply(&test, "production");
    let out = diff(&test, &["--live"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    no_secret(&out);
    insta::assert_snapshot!("diff_live_human", out.snapshot());

    let json = diff(&test, &["--live", "--format", "json"]);
    assert_eq!(json.code, 2, "{}", json.snapshot());
    no_secret(&json);
    let document = valid_json(&json);
    assert_eq!(document["mode"], "live");
    // Live, the sensitive key's value is never read: its hash says it differs.
    let mut expected = expected_keys();
    expected[5].2 = "content".to_owned();
    assert_eq!(keys(&document), expected);
    assert_eq!(
        document["keys"][0]["diff"],
        "--- staging\n+++ production\n@@ -1 +1 @@\n-Welcome\n+Welcome to production\n"
    );

    // `--deep` reads every value on both sides, the secret included (never shown).
    let deep = diff(&test, &["--live", "--deep", "--format", "json"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    no_secret(&deep);
    assert_eq!(keys(&valid_json(&deep)), expected_keys());
    assert!(deep.stderr.contains("deep check: reading the values of 5 keys"), "{}", deep.stderr);

    let markdown = diff(&test, &["--live", "--format", "markdown"]);
    assert_eq!(markdown.code, 2, "{}", markdown.snapshot());
    no_secret(&markdown);
    assert!(
        markdown
            .stdout
            .contains("- `~` `f/secret` (value or TTL differs)\n  - value: (sensitive)\n"),
        "{}",
        markdown.stdout
    );
}

#[test]
fn only_narrows_the_comparison() {
    let test = Test::new().file("kvsync.yaml", two_environments("local"));
    let out = diff(&test, &["--only", "f/b*", "--only", "f/s*"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stdout.contains("Only keys matching `f/b*`, `f/s*` were compared."),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("~ f/banner (value differs)"), "{}", out.stdout);
    assert!(!out.stdout.contains("f/debug") && !out.stdout.contains("f/cache"), "{}", out.stdout);
    // The scope only in production holds no key matching: it is left out too.
    assert!(out.stdout.contains("\n2 differ, 1 equal.\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("scope `config`"), "{}", out.stdout);
    apply(&test, "staging");
    apply(&test, "production");
    let live = diff(&test, &["--live", "--only", "f/same"]);
    assert_eq!(live.code, 0, "{}", live.snapshot());
    assert!(live.stdout.contains("No differences: 1 equal."), "{}", live.stdout);
    let bad = diff(&test, &["--only", "f/[", "--live"]);
    assert_eq!(bad.code, 1, "{}", bad.snapshot());
    assert!(bad.stderr.contains("`--only f/[` is not a valid glob"), "{}", bad.stderr);
}

/// Writes keys into a namespace of the local store as a person (or another tool) would.
fn put(test: &Test, namespace: &str, pairs: &[(&str, &str, serde_json::Value)]) {
    let pairs: Vec<PutPair> = pairs
        .iter()
        .map(|(key, value, metadata)| PutPair {
            key: (*key).to_owned(),
            value: value.as_bytes().to_vec(),
            metadata: metadata.clone(),
            expiration: Expiration::Never,
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(local_store(test).bulk_put(namespace, &pairs)).expect("put");
}

#[test]
fn keys_without_a_marker_and_hand_edits_need_deep() {
    let test = Test::new().file("kvsync.yaml", equal_environments());
    apply(&test, "staging");
    apply(&test, "production");
    // The same key written by hand on both sides: the listing cannot compare it.
    for ns in [NS, PROD] {
        put(&test, ns, &[("f/hand", "by hand", serde_json::Value::Null)]);
    }
    let out = diff(&test, &["--live"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stdout.contains(
            "? f/hand (not compared: no kvsync marker on one side; `--deep` reads the values)"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 not compared, 2 equal."), "{}", out.stdout);
    let deep = diff(&test, &["--live", "--deep"]);
    assert_eq!(deep.code, 0, "{}", deep.snapshot());
    assert!(deep.stdout.contains("No differences: 3 equal."), "{}", deep.stdout);

    // A hand edit in production that kept the marker: the markers still agree.
    let marker = {
        let store = local_store(&test);
        let (_, metadata, _) = store.get_full(PROD, "f/a").expect("read").expect("f/a");
        metadata.expect("metadata")
    };
    put(&test, PROD, &[("f/a", "edited", marker)]);
    let out = diff(&test, &["--live"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.contains("\n1 not compared, 2 equal.\n"), "{}", out.stdout);
    let deep = diff(&test, &["--live", "--deep"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    assert!(deep.stdout.contains("~ f/a (value differs)"), "{}", deep.stdout);
    assert!(deep.stdout.contains("\n1 differ, 2 equal.\n"), "{}", deep.stdout);
    assert!(deep.stdout.contains("-1\n      +edited"), "{}", deep.stdout);
}

/// A key whose live copies carry no marker is sensitive by the desired state alone: `diff
/// --live` (which keeps of each desired state only its scopes and sensitive keys) still never
/// shows its values.
#[test]
fn a_key_sensitive_only_in_the_config_stays_hidden_live() {
    let test = Test::new().file("kvsync.yaml", two_environments("local"));
    apply(&test, "staging");
    apply(&test, "production");
    put(&test, NS, &[("f/secret", "s3cr3t-staging", serde_json::Value::Null)]);
    put(&test, PROD, &[("f/secret", "s3cr3t-production", serde_json::Value::Null)]);
    let deep = diff(&test, &["--live", "--deep"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    no_secret(&deep);
    assert!(deep.stdout.contains("~ f/secret (value differs)"), "{}", deep.stdout);
}

#[test]
fn each_environment_uses_its_own_target() {
    // Staging on the local store, production on a second local file given in its overlay.
    let config =
        equal_environments().replace("  production:\n", "  production:\n    local_path: prod.db\n");
    let test = Test::new().file("kvsync.yaml", config);
    apply(&test, "staging");
    let out = diff(&test, &["--live"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.contains("2 only in staging, 0 equal."), "{}", out.stdout);
    apply(&test, "production");
    assert!(test.path().join("prod.db").exists());
    let out = diff(&test, &["--live"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn usage_errors_exit_1() {
    let test = Test::new().file("kvsync.yaml", two_environments("local"));
    for (args, message) in [
        (&["diff", "--env", "staging"][..], "`diff` compares exactly two environments"),
        (&["diff", "--env", "a", "--env", "b", "--env", "c"], "not 3"),
        (&["diff", "--env", "staging", "--env", "staging"], "`--env staging` is given twice"),
        (&["diff", "--env", "staging", "--env", "production", "--deep"], "--live"),
        (&["diff"], "--env"),
        (&["diff", "--env", "staging", "--env", "nope"], "nope"),
    ] {
        let out = test.run(args);
        assert_eq!(out.code, 1, "{args:?}\n{}", out.snapshot());
        assert!(out.stderr.contains(message), "{args:?}\n{}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
    }
    let _ = NOW;
}

#[test]
fn hostile_names_stay_text_in_every_format() {
    let hostile = "f/``</details><img src=x> @team\u{2028}x";
    let yaml_key = r#""f/``</details><img src=x> @team\u2028x""#;
    let config = format!(
        "version: 1\nowner: web\ntarget: local\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \"f/\"\n    keys:\n      {yaml_key}: \"a\\u2028b $${{x}}\"\nenvironments:\n  staging: {{}}\n  production:\n    namespaces:\n      flags:\n        keys:\n          {yaml_key}: \"a\\u2028c <!-- x -->\"\n"
    );
    let test = Test::new().file("kvsync.yaml", config);
    let out = diff(&test, &["--format", "markdown"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    // The key is one code span; the values are inside the diff's fence.
    assert!(out.stdout.contains("- `~` ```f/``</details><img src=x> @team"), "{}", out.stdout);
    assert_eq!(out.stdout.matches("<img").count(), 1, "{}", out.stdout);
    // A line separator in a key or value breaks no line of either format: it is escaped.
    let one_line = |text: &str, end: &str| {
        text.lines().any(|line| line.contains("@team\\u{2028}x") && line.ends_with(end))
    };
    assert!(one_line(&out.stdout, "(value differs)"), "{}", out.stdout);
    let human = diff(&test, &[]);
    assert_eq!(human.code, 2, "{}", human.snapshot());
    assert!(one_line(&human.stdout, "(value differs)"), "{}", human.stdout);
    assert!(human.stdout.contains("      +a\\u{2028}c <!-- x -->\n"), "{}", human.stdout);
    let json = diff(&test, &["--format", "json"]);
    assert_eq!(keys(&valid_json(&json))[0].0, hostile);
}

/// `diff --live` against Cloudflare's own KV simulator: both environments applied through the
/// API, compared by their markers, then `--deep`, then a key written by hand on both sides.
#[test]
fn live_on_the_simulator() {
    use crate::simulator::{DIFF_PRODUCTION_NS, DIFF_STAGING_NS, Simulator};
    let sim = Simulator::shared();
    // Production's two scopes share one namespace of the simulator's (prefixes `f/`, `config/`).
    let config = two_environments("cloudflare")
        .replace(NS, DIFF_STAGING_NS)
        .replace(PROD, DIFF_PRODUCTION_NS)
        .replace(CONFIG_NS, DIFF_PRODUCTION_NS);
    let test = Test::new().file("kvsync.yaml", config);
    let cwd = test.path().to_path_buf();
    let run = |more: &[&str]| {
        let args: Vec<&str> = DIFF.iter().copied().chain(more.iter().copied()).collect();
        sim.kvsync(&test, &cwd, &args)
    };
    for env in ["staging", "production"] {
        let out = sim.kvsync(&test, &cwd, &["apply", "--env", env, "--auto-approve"]);
        assert_eq!(out.code, 0, "{}", out.snapshot());
    }

    let out = run(&["--live", "--format", "json"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    no_secret(&out);
    let document = valid_json(&out);
    let mut expected = expected_keys();
    expected[5].2 = "content".to_owned();
    assert_eq!(keys(&document), expected);
    assert_eq!(document["counts"]["equal"], 1);
    assert_eq!(document["scopes"][1]["lone_keys"], 1);

    let deep = run(&["--live", "--deep", "--format", "json"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    no_secret(&deep);
    assert_eq!(keys(&valid_json(&deep)), expected_keys());

    // The same key written by hand on both sides: compared only by `--deep`, and equal.
    for ns in [DIFF_STAGING_NS, DIFF_PRODUCTION_NS] {
        sim.put_by_hand(ns, serde_json::json!([{"key": "f/hand", "value": "by hand"}]));
    }
    let human = run(&["--live", "--only", "f/hand", "--only", "f/same"]);
    assert_eq!(human.code, 2, "{}", human.snapshot());
    assert!(human.stdout.contains("? f/hand (not compared"), "{}", human.stdout);
    let deep = run(&["--live", "--deep", "--only", "f/hand", "--only", "f/same"]);
    assert_eq!(deep.code, 0, "{}", deep.snapshot());
    assert!(deep.stdout.contains("No differences: 2 equal."), "{}", deep.stdout);
}

/// `--live` on the Cloudflare target (kv-standin) costs what the listings cost, plus one bulk
/// get per side for the value diffs shown; `--deep` one bulk get per 100 keys on each side.
#[test]
fn live_requests_are_at_the_floor() {
    let cloud = crate::support::Cloud::new(&two_environments("cloudflare"));
    cloud.standin.create_namespace(PROD);
    cloud.standin.create_namespace(CONFIG_NS);
    for env in ["staging", "production"] {
        let out = cloud.run(&["apply", "--env", env, "--auto-approve"]);
        assert_eq!(out.code, 0, "{}", out.snapshot());
    }
    let counts = |more: &[&str]| {
        cloud.standin.reset_counts();
        let args: Vec<&str> = DIFF.iter().copied().chain(more.iter().copied()).collect();
        let out = cloud.run(&args);
        no_secret(&out);
        let counts = cloud.standin.counts();
        (out.code, counts.list, counts.bulk_get, counts.get_value)
    };
    // Three listings (staging's scope, production's two); f/banner, f/cache and f/json read on
    // each side for what their hashes cannot say (one bulk get each); the secret never. The
    // values of f/cache and f/json read as the same text, which a text read cannot promise (it
    // drops a leading U+FEFF), so each is read again as bytes on each side: 4 single GETs.
    assert_eq!(counts(&["--live"]), (2, 3, 2, 4));
    // Every key on both sides (5), one bulk get on each side, and the same 4 exact reads.
    assert_eq!(counts(&["--live", "--deep"]), (2, 3, 2, 4));
    // Equal keys cost nothing but the listings; the configs alone cost nothing at all.
    assert_eq!(counts(&["--live", "--only", "f/same"]), (0, 3, 0, 0));
    assert_eq!(counts(&[]), (2, 0, 0, 0));
}

/// The same bytes written in every YAML style compare equal: a block scalar against a quoted
/// string, an alias against its anchor, flow against block mappings, a `file:` value against
/// the same text inline, in a file with CRLF line endings and a byte order mark; a `file:` of
/// other bytes differs and shows its diff, and two files of one size are read to tell.
#[test]
fn yaml_styles_do_not_make_a_difference() {
    let config = format!(
        "\u{feff}version: 1\nowner: web\ntarget: local\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \"f/\"\n    keys:\n      f/text: &text |\n        line one\n        line two\n      f/alias: *text\n      f/meta: {{value: \"1\", metadata: {{team: a, n: 1.50}}}}\n      f/file: {{file: values/a.txt}}\n      f/other: {{file: values/a.txt}}\n      f/ttl: {{file: values/c.txt, expiration_ttl: 60}}\n      f/ttl2: {{file: values/c.txt, expiration_ttl: 60}}\nenvironments:\n  staging: {{}}\n  production:\n    namespaces:\n      flags:\n        keys:\n          f/text: \"line one\\nline two\\n\"\n          f/alias: \"line one\\nline two\\n\"\n          f/meta:\n            value: \"1\"\n            metadata:\n              n: 1.5\n              team: a\n          f/file: \"from a file\\n\"\n          f/other: {{file: values/b.txt}}\n          f/ttl: {{file: values/d.txt, expiration_ttl: 120}}\n          f/ttl2: {{file: values/e.txt, expiration_ttl: 120}}\n"
    )
    .replace('\n', "\r\n");
    let test = Test::new()
        .file("kvsync.yaml", config)
        .file("values/a.txt", "from a file\n")
        .file("values/b.txt", "from b\n")
        // Same sizes: only reading the files tells whether the values are equal.
        .file("values/c.txt", "same size 1\n")
        .file("values/d.txt", "same size 1\n")
        .file("values/e.txt", "same size 2\n");
    let out = diff(&test, &[]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.contains("\n3 differ, 4 equal.\n"), "{}", out.stdout);
    assert!(out.stdout.contains("  ~ f/ttl (expiration differs)\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("  ~ f/ttl2 (value differs; expiration differs)\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("  ~ f/other (value differs)\n"), "{}", out.stdout);
    assert!(out.stdout.contains("      -from a file\n      +from b\n"), "{}", out.stdout);
}

/// A `namespace_title:` scope compared offline (no target reached, so no id): each side is
/// named by its title, and two titles are two places, never one empty id.
#[test]
fn titles_not_looked_up_are_told_apart() {
    let config = r#"version: 1
owner: web
target: local
namespaces:
  flags:
    namespace_title: shop-staging
    prefix: "f/"
    keys:
      f/a: "1"
environments:
  staging: {}
  production:
    namespaces:
      flags:
        namespace_title: shop-prod
        keys:
          f/a: "2"
"#;
    let test = Test::new().file("kvsync.yaml", config);
    let out = diff(&test, &[]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stdout.contains(
            "scope `flags` (staging: namespace title `shop-staging` (not looked up), prefix \"f/\"; \
             production: namespace title `shop-prod` (not looked up), prefix \"f/\")"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("namespace ,"), "{}", out.stdout);
}
