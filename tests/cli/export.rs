use std::collections::BTreeMap;
use std::path::Path;

use kv_standin::{Options, RateLimit, Standin};
use serde_json::json;

use crate::support::{NOW, Output, Test};

const NS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// A key's value, metadata without kvsync's marker, and expiration.
type Stored = (Vec<u8>, Option<serde_json::Value>, Option<i64>);

/// A stand-in with one namespace, and a test folder whose runs reach it.
struct Cloud {
    standin: Standin,
    test: Test,
}

impl Cloud {
    fn new() -> Self {
        // The 2,000 adopted values are read one GET each (a bulk text read could hide a dropped
        // byte order mark): with the API's advertised 1,200 requests per 5 minutes, kvsync
        // would pace itself for minutes, which these tests of what is read and written do not
        // need (the pacing has its own tests).
        let rate_limit = RateLimit { quota: u32::MAX, ..RateLimit::default() };
        let standin = Standin::start(Options { rate_limit, ..Options::default() });
        standin.create_namespace(NS);
        standin.set_clock(NOW.parse().expect("NOW"));
        let test = Test::new()
            .env("CLOUDFLARE_API_TOKEN", standin.token())
            .env("CLOUDFLARE_ACCOUNT_ID", standin.account_id())
            .env("KVSYNC_RETRY_BASE_MS", "20")
            .env("KVSYNC_HTTP_TIMEOUT_MS", "5000");
        Self { standin, test }
    }

    fn run(&self, args: &[&str]) -> Output {
        let url = self.standin.base_url();
        let mut all = args.to_vec();
        all.extend(["--api-url", url.as_str()]);
        self.test.run_with_env(&all, &[("KVSYNC_RATE_LIMIT", "100000")])
    }

    /// Every visible key with its value, its metadata without kvsync's marker, and expiration.
    fn state(&self) -> BTreeMap<String, Stored> {
        self.standin
            .keys(NS)
            .into_iter()
            .map(|key| {
                let stored = self.standin.get(NS, &key).expect("visible");
                let metadata = stored.metadata.and_then(|mut m| {
                    let object = m.as_object_mut()?;
                    object.remove("__kvsync");
                    (!object.is_empty()).then_some(m)
                });
                (key, (stored.value, metadata, stored.expiration))
            })
            .collect()
    }
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("inside").to_string_lossy().into();
                out.insert(relative, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// Seeds 2,000 keys as a new user's namespace holds them: none carries kvsync's marker; many
/// have metadata, some expire, 20 are binary (one bulk-get chunk's worth of keys sorts around
/// them), some are JSON, some multi-line, some large, some look like interpolations.
fn seed_two_thousand(standin: &Standin) {
    let now: i64 = NOW.parse().expect("NOW");
    for i in 0..20u8 {
        let bytes: Vec<u8> = (0..64u8).map(|b| b.wrapping_mul(i + 7) ^ 0xff).collect();
        let metadata = json!({"content_type": "application/octet-stream", "i": i});
        standin.seed(NS, &format!("assets/blob-{i:02}.bin"), &bytes, Some(metadata), None);
    }
    for i in 0..1_980usize {
        let key = format!("flags/{i:04}");
        let value = match i % 9 {
            0 => format!(r#"{{"enabled":{},"rollout":{}}}"#, i % 2 == 0, i % 100),
            1 => format!("line one of {i}\nline two\n"),
            2 => format!("{{\n  \"pretty\": {i}\n}}"),
            3 => format!("costs ${{PRICE}} for {i}"),
            4 => "é€😀 ünïcode".repeat(1 + i % 3),
            5 => "x".repeat(5_000 + i),
            6 => format!("{i}"),
            7 => format!("  leading spaces {i}\r\nwindows line"),
            _ => format!("plain value {i}"),
        };
        let metadata = match i % 4 {
            0 => Some(json!({"team": format!("t{}", i % 7), "rank": i, "tags": ["a", "b"]})),
            1 => Some(json!({"note": "${not a variable}"})),
            _ => None,
        };
        let expiration = (i % 5 == 0).then_some(now + 86_400 * (1 + i as i64));
        standin.seed(NS, &key, value.as_bytes(), metadata, expiration);
    }
}

/// Issue #7's "done means", as a new user would do it: export a namespace of 2,000 keys with
/// metadata, binary values and expirations; plan (only adopts, with the note that adopting
/// rewrites each value); apply; plan (`No changes.`); export again (byte-identical files).
#[test]
fn export_adopt_apply_and_export_again_byte_for_byte() {
    let cloud = Cloud::new();
    seed_two_thousand(&cloud.standin);
    let before = cloud.state();
    assert_eq!(before.len(), 2_000);

    let export = cloud.run(&["export", "--namespace-id", NS, "-o", "first/kvsync.yaml"]);
    assert_eq!(export.code, 0, "{}", export.snapshot());
    assert_eq!(export.stdout, "", "data goes to the file, notes to stderr");
    // Every fifth key expires: the export says they come out as absolute expirations, and
    // that no key has a marker yet.
    assert!(
        export.stderr.contains(
            "396 keys expire and are exported with an absolute `expiration`: the API lists only \
             when a key expires, not whether it was written with `expiration_ttl`"
        ),
        "{}",
        export.stderr
    );
    assert!(
        export.stderr.contains(
            "Next: `kvsync plan -c first/kvsync.yaml` shows 2000 keys without kvsync's marker as \
             `adopt`."
        ),
        "{}",
        export.stderr
    );
    assert!(
        export.stderr.contains(&format!(
            "Exported 2000 keys from namespace {NS} to `first/kvsync.yaml`; 240 values are files in `values/`."
        )),
        "{}",
        export.stderr
    );
    // Reading cost: ⌈2000/1000⌉ lists and ⌈2000/100⌉ bulk gets; the one chunk that holds
    // binary values is read key by key (the API refuses it as a whole).
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_get), (2, 20), "{counts:?}");
    assert!(counts.get_value <= 100, "{counts:?}");
    assert_eq!(counts.bulk_put + counts.bulk_delete, 0, "an export writes nothing");

    let first = tree(&cloud.test.path().join("first"));
    let yaml = String::from_utf8(first["kvsync.yaml"].clone()).expect("utf-8");
    assert!(yaml.starts_with("# yaml-language-server: $schema="), "{yaml}");
    assert!(!yaml.contains("__kvsync"), "the marker is never exported");
    assert_eq!(first.get("values/.gitattributes").map(Vec::as_slice), Some(&b"* -text\n"[..]));
    assert_eq!(first["values/assets%2Fblob-03.bin"], before["assets/blob-03.bin"].0);

    let validate = cloud.run(&["validate", "-c", "first/kvsync.yaml"]);
    assert_eq!(validate.code, 0, "{}", validate.snapshot());

    cloud.standin.reset_counts();
    let plan = cloud.run(&["plan", "-c", "first/kvsync.yaml", "--detailed-exitcode", "--show-all"]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert!(plan.stdout.contains("\nPlan: 2000 to adopt.\n"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(
            "Adopting rewrites each adopted value (a billed write), because KV cannot change metadata alone."
        ),
        "{}",
        plan.stdout
    );
    let change_lines =
        plan.stdout.lines().filter(|l| l.starts_with("  ") && !l.starts_with("    "));
    assert!(change_lines.clone().count() == 2_000, "one change line per key");
    assert!(change_lines.into_iter().all(|l| l.starts_with("  ! ")), "only adopts");

    // `--no-snapshot`: a snapshot of 2,000 unmarked keys read without value diffs is 2,000
    // single GETs (a text read cannot prove a byte order mark absent), minutes at the rate
    // budget; `tests/cli/snapshot.rs` covers adopts.
    let apply = cloud.run(&[
        "apply",
        "-c",
        "first/kvsync.yaml",
        "--auto-approve",
        "--no-value-diff",
        "--no-snapshot",
    ]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 2000 written, 0 deleted."), "{}", apply.stdout);
    assert_eq!(cloud.state(), before, "adopting changed no value, metadata or expiration");

    let again = cloud.run(&["plan", "-c", "first/kvsync.yaml", "--detailed-exitcode"]);
    assert_eq!((again.code, again.stdout.trim()), (0, "No changes. 2000 unchanged."));

    // Now every key carries the marker of owner `exported`; exporting again gives the same
    // files, in a new folder and over the old one.
    let second = cloud.run(&["export", "--namespace-id", NS, "-o", "second/kvsync.yaml"]);
    assert_eq!(second.code, 0, "{}", second.snapshot());
    assert!(
        !second.stderr.contains("Next:"),
        "every key has a marker: nothing to adopt\n{}",
        second.stderr
    );
    assert_eq!(tree(&cloud.test.path().join("second")), first, "a re-export is byte-identical");
    let over = cloud.run(&["export", "--namespace-id", NS, "-o", "first/kvsync.yaml", "--force"]);
    assert_eq!(over.code, 0, "{}", over.snapshot());
    assert!(!over.stderr.contains("warning"), "{}", over.stderr);
    assert_eq!(tree(&cloud.test.path().join("first")), first);
}

/// The shapes an export chooses, end to end through the CLI: a snapshot of a small namespace.
#[test]
fn a_small_export_reads_like_a_hand_written_config() {
    let cloud = Cloud::new();
    let now: i64 = NOW.parse().expect("NOW");
    let s = &cloud.standin;
    s.seed(NS, "flags/banner", b"Welcome to the autumn sale!", None, None);
    s.seed(NS, "flags/max-items", b"42", None, None);
    s.seed(NS, "flags/regions", br#"["eu","us","apac"]"#, None, None);
    let checkout = br#"{"enabled":true,"rollout":25}"#;
    s.seed(NS, "flags/checkout", checkout, Some(json!({"team": "growth"})), Some(now + 3_600));
    s.seed(NS, "flags/kept-as-text", b"{\"rollout\": 1.50}", None, None);
    s.seed(NS, "flags/notice.md", b"# Notice\n\nTwo paragraphs.\n", None, None);
    s.seed(NS, "flags/logo.png", b"\x89PNG\r\n\x1a\n\0", None, None);
    s.seed(NS, "flags/payments-key", b"sk_live_123", Some(json!({"rotated": "2030-01"})), None);
    s.seed(NS, "other/outside-the-prefix", b"x", None, None);

    let export = cloud.run(&[
        "export",
        "--namespace-id",
        NS,
        "--prefix",
        "flags/",
        "--owner",
        "web-flags",
        "--sensitive",
        "flags/*-key",
        "-o",
        "-",
    ]);
    assert_eq!(export.code, 0, "{}", export.snapshot());
    assert!(!export.snapshot().contains("sk_live_123"), "a sensitive value never shows");
    insta::assert_snapshot!(export.snapshot(), @r#"
    exit: 0
    --- stdout
    # yaml-language-server: $schema=https://raw.githubusercontent.com/kvsync/kvsync/main/schemas/kvsync.schema.json
    #
    # Made by `kvsync export` from namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0, prefix "flags/": 8 keys, 1 of them in files under values/.
    # Keys without kvsync's marker plan as `adopt`: the first apply rewrites each value once
    # (a billed write), because KV cannot change metadata alone. Exporting the same state
    # again gives this same file.
    version: 1
    owner: web-flags
    namespaces:
      flags:
        namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
        prefix: flags/
        keys:
          flags/banner: Welcome to the autumn sale!
          flags/checkout:
            value:
              enabled: true
              rollout: 25
            metadata:
              team: growth
            expiration: 2030-03-17T18:46:40Z
          flags/kept-as-text: "{\"rollout\": 1.50}"
          flags/logo.png:
            file: values/flags%2Flogo.png
          flags/max-items: 42
          flags/notice.md: |
            # Notice

            Two paragraphs.
          # sensitive: the value is not in this file; set `FLAGS_PAYMENTS_KEY` to it
          flags/payments-key:
            value: "${FLAGS_PAYMENTS_KEY}"
            metadata:
              rotated: "2030-01"
          flags/regions:
            - eu
            - us
            - apac
    --- stderr
    Exported 8 keys from namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0 (prefix "flags/") to stdout; 1 value is a file in `values/`.
    warning: 7 values were read as text, which drops a leading byte order mark (U+FEFF), and nothing proves them byte-exact (only a kvsync marker holding the hash of what was read does):
      - "flags/banner"
      - "flags/checkout"
      - "flags/kept-as-text"
      - "flags/max-items"
      - "flags/notice.md"
      - "flags/payments-key"
      - "flags/regions"
      a value that began with one is exported without it; check such values by hand
    1 sensitive key is a `${VAR}` reference: set `FLAGS_PAYMENTS_KEY` to its value before `kvsync plan`.
    1 key expires and is exported with an absolute `expiration`: the API lists only when a key expires, not whether it was written with `expiration_ttl`; where a key should live a fixed time after each write, write `expiration_ttl: SECONDS` instead.
    "#);

    // The printed config plans as adopts once the variable holds the value, and refuses to
    // load without it, naming the variable.
    cloud.test.write("kvsync.yaml", &export.stdout);
    let missing = cloud.run(&["validate"]);
    assert_eq!(missing.code, 1, "{}", missing.snapshot());
    assert!(missing.stderr.contains("environment variable `FLAGS_PAYMENTS_KEY` is not set"));
    let test = Test::new()
        .env("CLOUDFLARE_API_TOKEN", cloud.standin.token())
        .env("CLOUDFLARE_ACCOUNT_ID", cloud.standin.account_id())
        .env("FLAGS_PAYMENTS_KEY", "sk_live_123");
    crate::support::copy_tree(cloud.test.path(), test.path());
    let url = cloud.standin.base_url();
    let plan = test.run(&["plan", "--detailed-exitcode", "--api-url", &url]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert!(plan.stdout.contains("\nPlan: 8 to adopt.\n"), "{}", plan.stdout);
    assert!(!plan.snapshot().contains("sk_live_123"), "{}", plan.snapshot());
}

/// Keys another kvsync owner wrote are exported as they are, with a warning that the plan will
/// show them as conflicts; an existing file is never overwritten without `--force`; bad
/// arguments fail before any request.
#[test]
fn other_owners_existing_files_and_bad_arguments() {
    let cloud = Cloud::new();
    let marker = json!({"__kvsync": {"v": 1, "owner": "web-flags", "sha256": "0".repeat(64)}});
    cloud.standin.seed(NS, "a", b"1", Some(marker), None);
    cloud.standin.seed(NS, "b", b"2", None, None);

    let export = cloud.run(&["export", "--namespace-id", NS, "-o", "new/folder/kvsync.yaml"]);
    assert_eq!(export.code, 0, "{}", export.snapshot());
    let export = cloud.run(&["export", "--namespace-id", NS]);
    assert_eq!(export.code, 0, "{}", export.snapshot());
    assert!(
        export.stderr.contains(
            "warning: 1 key carries the marker of owner `web-flags`: `kvsync plan` shows it as \
             conflicts; pass `--owner web-flags` if this config takes that owner's place"
        ),
        "{}",
        export.stderr
    );
    let plan = cloud.run(&["plan"]);
    assert!(plan.stdout.contains("Plan: 1 to adopt; 1 conflict."), "{}", plan.stdout);

    let again = cloud.run(&["export", "--namespace-id", NS]);
    assert_eq!(again.code, 1, "{}", again.snapshot());
    assert!(again.stderr.contains("`kvsync.yaml` already exists; pass `--force`"));

    cloud.standin.reset_counts();
    for (args, message) in [
        (
            vec!["--namespace-id", "not an id", "-o", "x.yaml"],
            "namespace id `not an id` is not valid",
        ),
        (vec!["--namespace-id", NS, "--owner", "Web", "-o", "x.yaml"], "owner `Web` is not valid"),
        (
            vec!["--namespace-id", NS, "--sensitive", "[", "-o", "x.yaml"],
            "`--sensitive [` is not a valid glob",
        ),
    ] {
        let out = cloud.run(&[&["export"], args.as_slice()].concat());
        assert_eq!(out.code, 1, "{}", out.snapshot());
        assert!(out.stderr.contains(message), "{}", out.stderr);
    }
    assert_eq!(cloud.standin.counts().total, 0, "bad arguments cost no request");
}

/// The local target exports too (`--target local`), and the export says `target: local`.
#[test]
fn export_from_the_local_store() {
    let test = Test::new().file(
        "source/kvsync.yaml",
        format!(
            "version: 1\nowner: src\nnamespaces:\n  n:\n    namespace_id: {NS}\n    keys:\n      k: v\n      j: {{value: [1, 2], metadata: {{a: 1}}}}\n"
        ),
    );
    let apply =
        test.run(&["apply", "-c", "source/kvsync.yaml", "--target", "local", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let export = test.run(&["export", "--namespace-id", NS, "--target", "local", "--owner", "src"]);
    assert_eq!(export.code, 0, "{}", export.snapshot());
    let yaml = std::fs::read_to_string(test.path().join("kvsync.yaml")).expect("written");
    assert!(yaml.contains("\ntarget: local\n"), "{yaml}");
    assert!(yaml.contains("      j:\n        value:\n          - 1\n          - 2\n"), "{yaml}");
    let plan = test.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        (plan.code, plan.stdout.trim()),
        (0, "No changes. 2 unchanged."),
        "{}",
        plan.snapshot()
    );
}
