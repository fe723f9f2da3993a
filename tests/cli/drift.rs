use kv_standin::{Endpoint, Fault, MalformedBody};
use kvsync::content::Expiration;
use kvsync::kv::{KvStore, PutPair};

use crate::support::{Cloud, Config, NOW, NS, Test, local_store, metadata_of, seed};

/// A config of owner `web` with one scope `flags` (prefix `f/`) holding `keys`, each a YAML key
/// entry as written after `f/<name>: `.
fn config(keys: &[(&str, &str)]) -> String {
    keys.iter()
        .fold(Config::new(), |config, (key, entry)| config.entry(&format!("f/{key}"), entry))
        .yaml()
}

fn local<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(["--target", "local"]).collect()
}

fn marker(owner: &str) -> serde_json::Value {
    serde_json::json!({"__kvsync": {"v": 1, "owner": owner, "sha256": "ab".repeat(32)}})
}

/// Whether one line of `text` holds every part (the checks do not depend on column widths).
fn has_line(text: &str, parts: &[&str]) -> bool {
    text.lines().any(|line| parts.iter().all(|part| line.contains(part)))
}

fn applied(test: &Test) {
    let out = test.run(&local(&["apply", "--auto-approve"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn in_sync_exits_0() {
    let test =
        Test::new().file("kvsync.yaml", config(&[("a", "\"1\""), ("b", "{value: {on: true}}")]));
    applied(&test);
    let out = test.run(&local(&["drift"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(has_line(&out.stdout, &["No drift.", "2 in sync"]), "{}", out.stdout);
    assert_eq!(out.stderr, "");
}

#[test]
fn every_class_shows_up_and_exits_2() {
    let test = Test::new().file(
        "kvsync.yaml",
        config(&[("changed", "\"old\""), ("extra", "\"bye\""), ("same", "\"same\"")]),
    );
    applied(&test);
    test.write(
        "kvsync.yaml",
        config(&[
            ("cache", "{value: \"c\", expiration_ttl: 3600}"),
            ("changed", "\"new\""),
            ("conflict", "\"ours\""),
            ("missing", "\"m\""),
            ("modified", "\"x\""),
            ("same", "\"same\""),
        ]),
    );
    seed(
        &test,
        &[
            ("f/conflict", "theirs", Some(marker("billing"))),
            ("f/modified", "by hand", None),
            ("f/theirs", "t", Some(marker("billing"))),
            ("f/unmarked", "u", None),
        ],
    );
    let out = test.run(&local(&["drift"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    insta::assert_snapshot!("drift_every_class", out.snapshot());
    for parts in [
        &["changed", "f/changed"][..],
        &["conflict", "f/conflict", "(owned by `billing`)"],
        &["extra", "f/extra"],
        &["missing", "f/missing"],
        &["modified", "f/modified"],
        &["f/theirs"],
        &["f/unmarked"],
        &["f/cache", "not counted"],
    ] {
        assert!(has_line(&out.stdout, parts), "{parts:?}: {}", out.stdout);
    }
    assert!(!has_line(&out.stdout, &["missing", "f/cache"]), "{}", out.stdout);
}

/// A listing cannot tell an expired `expiration_ttl` key from a deleted one, so an absent TTL
/// key is reported but never counted as drift.
#[test]
fn an_absent_ttl_key_is_not_counted() {
    let test = Test::new().file(
        "kvsync.yaml",
        config(&[("a", "\"1\""), ("cache", "{value: c, expiration_ttl: 3600}")]),
    );
    applied(&test);
    let now = test.run(&local(&["drift"]));
    assert_eq!(now.code, 0, "{}", now.snapshot());
    assert!(has_line(&now.stdout, &["No drift.", "2 in sync"]), "{}", now.stdout);

    // Two hours later the TTL key has expired: plan would write it again, drift does not count it.
    let later = (NOW.parse::<i64>().expect("now") + 7200).to_string();
    let test = test.env("KVSYNC_NOW", &later);
    let plan = test.run(&local(&["plan", "--detailed-exitcode"]));
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    let out = test.run(&local(&["drift"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(has_line(&out.stdout, &["f/cache", "not counted"]), "{}", out.stdout);
    assert!(has_line(&out.stdout, &["No drift.", "1 in sync"]), "{}", out.stdout);
}

#[test]
fn unmanaged_keys_are_listed_but_exit_0() {
    let test = Test::new().file("kvsync.yaml", config(&[("a", "\"1\"")]));
    applied(&test);
    seed(&test, &[("f/hand", "h", None), ("f/theirs", "t", Some(marker("billing")))]);
    let out = test.run(&local(&["drift"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(has_line(&out.stdout, &["unmanaged", "f/hand"]), "{}", out.stdout);
    assert!(has_line(&out.stdout, &["unmanaged", "f/theirs"]), "{}", out.stdout);
    assert!(has_line(&out.stdout, &["No drift.", "1 in sync"]), "{}", out.stdout);
}

/// Issue 4, "done means": a value rewritten by hand with its old metadata keeps the marker, so
/// only the deep check finds it.
#[test]
fn deep_catches_a_value_rewritten_with_its_old_metadata() {
    let test = Test::new().file(
        "kvsync.yaml",
        config(&[
            ("a", "{value: \"1\", metadata: {team: growth, rate: 1.50}}"),
            ("b", "\"2\""),
            ("key", "\"${SECRET_KEY:-dev-only-key}\""),
        ]),
    );
    applied(&test);
    seed(
        &test,
        &[
            ("f/a", "hacked", Some(metadata_of(&test, "f/a"))),
            ("f/key", "leaked-new-secret", Some(metadata_of(&test, "f/key"))),
        ],
    );

    let fast = test.run(&local(&["drift"]));
    assert_eq!(fast.code, 0, "{}", fast.snapshot());
    assert!(has_line(&fast.stdout, &["No drift.", "3 in sync"]), "{}", fast.stdout);

    let deep = test.run(&local(&["drift", "--deep"]));
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    assert!(has_line(&deep.stdout, &["tampered", "f/a (value differs)"]), "{}", deep.stdout);
    assert!(has_line(&deep.stdout, &["tampered", "f/key (value differs)"]), "{}", deep.stdout);
    assert!(has_line(&deep.stdout, &["Drift:", "2 tampered"]), "{}", deep.stdout);
    let all = deep.snapshot();
    for secret in ["dev-only-key", "leaked-new-secret", "hacked"] {
        assert!(!all.contains(secret), "{secret} printed: {all}");
    }
    assert!(
        deep.stderr
            .contains("deep check: reading the values of 3 keys in sync: 1 bulk get request"),
        "{}",
        deep.stderr
    );
}

#[test]
fn deep_compares_metadata_and_expiration() {
    let test = Test::new().file(
        "kvsync.yaml",
        config(&[
            ("meta", "{value: \"1\", metadata: {rate: 1.50}}"),
            ("number", "{value: \"2\", metadata: {max: 2}}"),
            ("never", "\"3\""),
        ]),
    );
    applied(&test);
    let with = |key: &str, user: serde_json::Value| {
        let mut metadata = metadata_of(&test, key);
        let object = metadata.as_object_mut().expect("object");
        for (name, value) in user.as_object().expect("object") {
            object.insert(name.clone(), value.clone());
        }
        metadata
    };
    // The same number written another way is no difference; another number is.
    seed(
        &test,
        &[
            ("f/meta", "1", Some(with("f/meta", serde_json::json!({"rate": 1.6})))),
            ("f/number", "2", Some(with("f/number", serde_json::json!({"max": 2.0})))),
        ],
    );
    // An expiration added by hand to a key that never expires, marker kept.
    let never = metadata_of(&test, "f/never");
    let pair = PutPair {
        key: "f/never".into(),
        value: b"3".to_vec(),
        metadata: never,
        expiration: Expiration::At(NOW.parse::<i64>().expect("now") + 86_400),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(local_store(&test).bulk_put(NS, &[pair])).expect("seed");

    let deep = test.run(&local(&["drift", "--deep"]));
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    assert!(has_line(&deep.stdout, &["tampered", "f/meta (metadata differs)"]), "{}", deep.stdout);
    assert!(
        has_line(&deep.stdout, &["tampered", "f/never (expiration differs)"]),
        "{}",
        deep.stdout
    );
    assert!(!deep.stdout.contains("f/number"), "{}", deep.stdout);
}

fn many(n: usize) -> String {
    let keys: Vec<(String, String)> =
        (0..n).map(|i| (format!("{i:04}"), format!("\"v-{i}\""))).collect();
    config(&keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>())
}

/// The deep check reads each of the N keys in sync once, on top of the ⌈N/1000⌉ lists the fast
/// check needs, and says so on stderr first. Cloudflare's bulk get drops a leading U+FEFF, so
/// on Cloudflare each value is read alone, as exact bytes.
#[test]
fn deep_reads_each_value_once_and_says_so_first() {
    let cloud = Cloud::new(&many(250));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());

    cloud.standin.reset_counts();
    let fast = cloud.run(&["drift"]);
    assert_eq!(fast.code, 0, "{}", fast.snapshot());
    assert!(has_line(&fast.stdout, &["No drift.", "250 in sync"]), "{}", fast.stdout);
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.total), (1, 1), "no value reads: {counts:?}");

    cloud.standin.reset_counts();
    let deep = cloud.run(&["drift", "--deep"]);
    assert_eq!(deep.code, 0, "{}", deep.snapshot());
    assert_eq!(
        deep.stderr,
        "deep check: reading the values of 250 keys in sync: 250 single GETs (a bulk get would \
         drop a leading byte order mark)\n"
    );
    assert!(has_line(&deep.stdout, &["No drift.", "250 in sync"]), "{}", deep.stdout);
    let counts = cloud.standin.counts();
    assert_eq!(
        (counts.list, counts.bulk_get, counts.get_value, counts.total),
        (1, 0, 250, 251),
        "{counts:?}"
    );
}

/// Issue 24, "done means": a byte order mark added by hand in front of a value, marker kept,
/// is `tampered`, though a text read (bulk get) would drop it; each value is read once.
#[test]
fn deep_finds_a_byte_order_mark_added_by_hand() {
    let cloud = Cloud::new(&many(3));
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    let listed = cloud.standin.get(NS, "f/0001").expect("applied");
    cloud.standin.seed(NS, "f/0001", "\u{FEFF}v-1".as_bytes(), listed.metadata, None);
    cloud.standin.reset_counts();
    let deep = cloud.run(&["drift", "--deep"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    assert!(has_line(&deep.stdout, &["tampered", "f/0001 (value differs)"]), "{}", deep.stdout);
    assert!(has_line(&deep.stdout, &["Drift:", "1 tampered"]), "{}", deep.stdout);
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_get, counts.get_value), (1, 0, 3), "{counts:?}");
}

/// Bulk get is documented for text values only: binary values are read one by one with single
/// GETs, never through a bulk get.
#[test]
fn deep_reads_binary_values_apart() {
    let mut yaml = many(3);
    yaml.push_str("      f/logo.bin:\n        file: logo.bin\n");
    let cloud = Cloud::new(&yaml);
    cloud.test.write("logo.bin", [0x89u8, 0x50, 0xff, 0x00, 0xfe]);
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);

    cloud.standin.reset_counts();
    let deep = cloud.run(&["drift", "--deep"]);
    assert_eq!(deep.code, 0, "{}", deep.snapshot());
    assert!(
        deep.stderr.contains(
            "reading the values of 4 keys in sync: 4 single GETs (a bulk get would drop a leading \
             byte order mark)"
        ),
        "{}",
        deep.stderr
    );
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_get, counts.get_value), (1, 0, 4), "{counts:?}");

    // A binary value changed by hand, marker kept: tampered.
    let logo = cloud.standin.get(NS, "f/logo.bin").expect("logo");
    cloud.standin.seed(NS, "f/logo.bin", &[0x89, 0x50, 0xff, 0x01], logo.metadata, None);
    let deep = cloud.run(&["drift", "--deep"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    assert!(has_line(&deep.stdout, &["tampered", "f/logo.bin (value differs)"]), "{}", deep.stdout);
}

/// The cost line comes before the first read: a failing read leaves it on stderr, above the
/// error.
#[test]
fn the_cost_line_comes_before_the_check() {
    let cloud = Cloud::new(&many(3));
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    cloud.standin.inject(Fault::Malformed {
        endpoint: Endpoint::GetValue,
        body: MalformedBody::Html,
        // A firewall's challenge page: no value, an error.
        status: 403,
    });
    let deep = cloud.run(&["drift", "--deep"]);
    assert_eq!(deep.code, 1, "{}", deep.snapshot());
    let cost =
        deep.stderr.find("deep check: reading the values of 3 keys in sync").expect("cost line");
    let error = deep.stderr.find("error: ").expect("error");
    assert!(cost < error, "{}", deep.stderr);
    assert_eq!(deep.stdout, "");
}

#[test]
fn drift_through_the_standin_names_a_hand_written_key_modified() {
    let cloud = Cloud::new(&many(2));
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    cloud.standin.seed(NS, "f/0001", b"by hand", None, None);
    let out = cloud.run(&["drift"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(has_line(&out.stdout, &["modified", "f/0001"]), "{}", out.stdout);
    assert!(has_line(&out.stdout, &["Drift:", "1 modified"]), "{}", out.stdout);
}

/// JSON and Markdown carry the same findings and the same exit code as the human report.
#[test]
fn json_and_markdown_report_the_same_drift() {
    let test = Test::new().file("kvsync.yaml", config(&[("a", "\"1\""), ("b", "\"2\"")]));
    applied(&test);
    seed(&test, &[("f/a", "hacked", Some(metadata_of(&test, "f/a")))]);

    let json = test.run(&local(&["drift", "--deep", "--format", "json"]));
    assert_eq!(json.code, 2, "{}", json.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON on stdout");
    assert_eq!(doc["deep"], true);
    assert_eq!((doc["drifted"].as_u64(), doc["in_sync"].as_u64()), (Some(1), Some(1)));
    assert_eq!(doc["keys"][0]["key"], "f/a");
    assert_eq!(doc["keys"][0]["class"], "tampered");
    assert_eq!(doc["keys"][0]["detail"], "value differs");
    assert!(!json.stdout.contains("hacked"), "{}", json.stdout);

    let fast = test.run(&local(&["drift", "--format", "json"]));
    assert_eq!(fast.code, 0, "{}", fast.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&fast.stdout).expect("JSON on stdout");
    assert_eq!((doc["deep"].as_bool(), doc["drifted"].as_u64()), (Some(false), Some(0)));

    let markdown = test.run(&local(&["drift", "--deep", "--format", "markdown"]));
    assert_eq!(markdown.code, 2, "{}", markdown.snapshot());
    assert!(markdown.stdout.starts_with("## kvsync drift: web"), "{}", markdown.stdout);
    assert!(markdown.stdout.contains("f/a"), "{}", markdown.stdout);
    // The Markdown (the nightly issue) shows the value diff as a plan would: live to config.
    assert!(markdown.stdout.contains("\n  -hacked\n  +1\n"), "{}", markdown.stdout);
}

/// Typed values: a flag edited in the dashboard into something its schema refuses (marker kept)
/// is its own drift class, listed first, in every format; a sensitive one is never shown.
#[test]
fn deep_reports_a_live_value_that_breaks_its_schema() {
    let schema = "    schemas:\n      \"f/*\": {type: object, properties: {rollout: {type: integer, maximum: 100}}}\n";
    let yaml = Config::new()
        .entry("f/a", "{value: {rollout: 10}}")
        .entry("f/b", "{value: {rollout: 20}}")
        .entry("f/s", "{value: {rollout: 30}, sensitive: true}")
        .tail(schema)
        .yaml();
    let test = Test::new().file("kvsync.yaml", yaml);
    applied(&test);
    seed(
        &test,
        &[
            ("f/a", r#"{"rollout":"50%"}"#, Some(metadata_of(&test, "f/a"))),
            ("f/b", r#"{"rollout":21}"#, Some(metadata_of(&test, "f/b"))),
            ("f/s", r#"{"rollout":"hunter2"}"#, Some(metadata_of(&test, "f/s"))),
        ],
    );

    let deep = test.run(&local(&["drift", "--deep"]));
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    let line = "f/a (breaks its schema at `/rollout`: \"50%\" is not of type \"integer\"";
    assert!(has_line(&deep.stdout, &["invalid", line]), "{}", deep.stdout);
    assert!(has_line(&deep.stdout, &["tampered", "f/b (value differs)"]), "{}", deep.stdout);
    assert!(has_line(&deep.stdout, &["invalid", "f/s (breaks its schema"]), "{}", deep.stdout);
    assert!(has_line(&deep.stdout, &["Drift:", "2 invalid, 1 tampered"]), "{}", deep.stdout);
    let first = deep.stdout.lines().position(|l| l.contains("invalid"));
    let tampered = deep.stdout.lines().position(|l| l.contains("tampered"));
    assert!(first < tampered, "invalid keys come first: {}", deep.stdout);
    assert!(!deep.snapshot().contains("hunter2"), "{}", deep.snapshot());

    let json = test.run(&local(&["drift", "--deep", "--format", "json"]));
    assert_eq!(json.code, 2, "{}", json.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["counts"]["invalid"], 2);
    assert_eq!(doc["keys"][0]["class"], "invalid");
    assert!(!json.stdout.contains("hunter2"));

    let markdown = test.run(&local(&["drift", "--deep", "--format", "markdown"]));
    assert_eq!(markdown.code, 2, "{}", markdown.snapshot());
    assert!(markdown.stdout.contains("| invalid | 2 |"), "{}", markdown.stdout);
    assert!(
        markdown.stdout.contains("- **invalid** `f/a` (breaks its schema"),
        "{}",
        markdown.stdout
    );
    assert!(!markdown.stdout.contains("hunter2"));

    // The fast check reads no values, so it cannot tell.
    let fast = test.run(&local(&["drift"]));
    assert_eq!(fast.code, 0, "{}", fast.snapshot());
}
