//! Issue #27: the snapshot `apply` saves before its first write, and `kvsync restore` from it.
//! Every key's bytes, metadata and expiration come back as they were before the apply, on the
//! local target and on kv-standin; a run killed while its first bulk write is held leaves a
//! complete snapshot; unwritable folders, saved plans, secrets, partial applies and keys changed
//! since are each refused or reported.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kv_standin::{Endpoint, Fault};
use kvsync::content::Expiration;
use kvsync::kv::{KvStore as _, PutPair};
use serde_json::{Value, json};

use crate::support::{Cloud, Config, NOW, NS, Test, hermetic, local_store};

/// A key as a store holds it: bytes, metadata (marker included), absolute expiration.
type Stored = (Vec<u8>, Option<Value>, Option<i64>);

/// The local target or kv-standin, behind the few operations these tests need.
enum Target {
    Local(Test),
    Cloud(Cloud),
}

impl Target {
    fn local(config: &str) -> Self {
        Self::Local(Test::new().file("kvsync.yaml", config))
    }

    fn cloud(config: &str) -> Self {
        let cloud = Cloud::new(config);
        // The stand-in's clock is the runs' clock, so expirations mean the same to both.
        cloud.standin.set_clock(NOW.parse().expect("now"));
        Self::Cloud(cloud)
    }

    fn test(&self) -> &Test {
        match self {
            Self::Local(test) => test,
            Self::Cloud(cloud) => &cloud.test,
        }
    }

    fn run(&self, args: &[&str]) -> crate::support::Output {
        match self {
            Self::Local(test) => test.run(&[args, &["--target", "local"]].concat()),
            Self::Cloud(cloud) => cloud.run(args),
        }
    }

    fn seed(&self, key: &str, value: &[u8], metadata: Option<Value>, expiration: Option<i64>) {
        match self {
            Self::Local(test) => {
                let pair = PutPair {
                    key: key.to_owned(),
                    value: value.to_vec(),
                    metadata: metadata.unwrap_or(Value::Null),
                    expiration: expiration.map_or(Expiration::Never, Expiration::At),
                };
                let runtime =
                    tokio::runtime::Builder::new_current_thread().build().expect("runtime");
                runtime.block_on(local_store(test).bulk_put(NS, &[pair])).expect("seed");
            }
            Self::Cloud(cloud) => cloud.standin.seed(NS, key, value, metadata, expiration),
        }
    }

    fn get(&self, key: &str) -> Option<Stored> {
        match self {
            Self::Local(test) => local_store(test).get_full(NS, key).expect("read"),
            Self::Cloud(cloud) => {
                cloud.standin.get(NS, key).map(|k| (k.value, k.metadata, k.expiration))
            }
        }
    }
}

pub(crate) const BINARY: &[u8] = &[0x00, 0x9f, 0x92, 0x96, 0xff, 0xfe];

/// Every key the scenario touches.
pub(crate) fn all_keys() -> Vec<String> {
    let mut keys: Vec<String> = (0..100).map(|i| format!("f/k{i:03}")).collect();
    keys.extend((0..10).map(|i| format!("f/d{i:02}")));
    keys.extend((0..10).map(|i| format!("f/n{i:02}")));
    keys
}

/// Config A: k000..k098 (k003 with a TTL, k004 with user metadata) and d00..d09.
pub(crate) fn config_a() -> String {
    let mut config = Config::new();
    for i in 0..99 {
        let key = format!("f/k{i:03}");
        config = match i {
            3 => config.entry(&key, "{value: \"ttl-1\", expiration_ttl: 7200}"),
            4 => config.entry(&key, "{value: \"meta-1\", metadata: {team: growth, n: 1}}"),
            _ => config.values(&[(&key, &format!("v1-{i}"))]),
        };
    }
    for i in 0..10 {
        config = config.values(&[(&format!("f/d{i:02}"), "gone-soon")]);
    }
    config.yaml()
}

/// Config B: k000..k099 all changed (k099 adopted), the d keys gone, n00..n09 new.
pub(crate) fn config_b() -> String {
    let mut config = Config::new();
    for i in 0..100 {
        let key = format!("f/k{i:03}");
        config = match i {
            3 => config.entry(&key, "{value: \"ttl-2\", expiration_ttl: 9000}"),
            4 => config.entry(&key, "{value: \"meta-2\", metadata: {team: search}}"),
            _ => config.values(&[(&key, &format!("v2-{i}"))]),
        };
    }
    for i in 0..10 {
        config = config.values(&[(&format!("f/n{i:02}"), "new")]);
    }
    config.yaml()
}

/// Applies A, then edits live as people and other tools do: a hand edit, a binary value and
/// one with a leading byte order mark (each keeping the marker), and an unmarked key.
fn before_state(target: &Target) -> Vec<(String, Option<Stored>)> {
    let out = target.run(&["apply", "--auto-approve", "--no-snapshot"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let keep = |key: &str| target.get(key).and_then(|(_, m, _)| m);
    target.seed("f/k000", b"fixed by hand at 3 a.m.", keep("f/k000"), None);
    target.seed("f/k001", BINARY, keep("f/k001"), None);
    target.seed("f/k002", "\u{FEFF}with a BOM".as_bytes(), keep("f/k002"), None);
    target.seed("f/k099", b"written by another tool", Some(json!({"tool": "x"})), None);
    all_keys().into_iter().map(|key| (key.clone(), target.get(&key))).collect()
}

fn assert_state(target: &Target, expected: &[(String, Option<Stored>)]) {
    for (key, before) in expected {
        assert_eq!(&target.get(key), before, "key {key}");
    }
}

fn apply_and_restore(target: &Target) {
    let before = before_state(target);
    assert!(before.iter().filter(|(_, v)| v.is_some()).count() == 110);
    assert!(before[3].1.as_ref().is_some_and(|(_, _, e)| e.is_some()), "k003 has a TTL");
    target.test().write("kvsync.yaml", config_b());

    let out = target.run(&["apply", "--auto-approve", "--snapshot", "snap.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stderr.contains("Snapshot: snap.jsonl (120 keys)"), "{}", out.stderr);
    assert!(
        out.stdout.contains("10 to create, 99 to update, 1 to adopt, 10 to delete")
            || out.stdout.contains("Apply complete: 110 written, 10 deleted"),
        "{}",
        out.stdout
    );
    assert_eq!(target.get("f/k000").map(|(v, _, _)| v), Some(b"v2-0".to_vec()));
    assert!(target.get("f/d00").is_none() && target.get("f/n00").is_some());

    let text = std::fs::read_to_string(target.test().path().join("snap.jsonl")).expect("snap");
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 122, "header, 120 keys, trailer");
    assert_eq!(lines[0]["kind"], "kvsync-snapshot");
    assert_eq!(lines[121]["count"], 120);
    let k001 = lines.iter().find(|l| l["key"] == "f/k001").expect("k001");
    assert_eq!(k001["encoding"], "base64", "{k001}");

    let out = target.run(&["restore", "snap.jsonl", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("Restore complete: 110 written, 10 deleted."), "{}", out.stdout);
    assert!(out.stderr.contains("`git revert`"), "{}", out.stderr);
    assert_state(target, &before);

    // Restoring again changes nothing.
    let again = target.run(&["restore", "snap.jsonl", "--auto-approve"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert!(
        again
            .stdout
            .contains("0 to put back, 0 to delete, 0 changed since, 0 skipped, 120 unchanged"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_hundred_changes_ten_deletes_and_ten_creates_come_back_exactly_on_the_local_target() {
    apply_and_restore(&Target::local(&config_a()));
}

#[test]
fn a_hundred_changes_ten_deletes_and_ten_creates_come_back_exactly_on_the_standin() {
    apply_and_restore(&Target::cloud(&config_a()));
}

#[test]
fn the_default_snapshot_goes_under_a_git_ignored_kvsync_folder() {
    let config =
        Config::new().head("target: local\nlocal_path: store.db\n").values(&[("f/a", "1")]);
    let test = Test::new().file("kvsync.yaml", config.yaml());
    // A run that only creates keys says where its snapshot is with `-v` only.
    let out = test.run(&["apply", "--auto-approve"]);
    assert!(!out.stderr.contains("Snapshot:"), "{}", out.stderr);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        std::fs::read_to_string(test.path().join(".kvsync/.gitignore")).expect("ignore"),
        "*\n"
    );
    let files: Vec<_> = std::fs::read_dir(test.path().join(".kvsync/snapshots"))
        .expect("folder")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    assert_eq!(files, ["20300317T174640Z-norev.jsonl"]);
    // The local store is the first to create `.kvsync/` at its default path: the folder gets
    // its `.gitignore` all the same.
    let fresh = Test::new().file("kvsync.yaml", Config::new().values(&[("f/a", "1")]).yaml());
    let out = fresh.run(&["apply", "--auto-approve", "--target", "local", "--no-snapshot"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(fresh.path().join(".kvsync/local.db").exists());
    assert_eq!(
        std::fs::read_to_string(fresh.path().join(".kvsync/.gitignore")).expect("ignore"),
        "*\n"
    );
    // An update says where its snapshot is.
    test.write("kvsync.yaml", config.yaml().replace("\"1\"", "\"2\""));
    let out = test.run(&["apply", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        out.stderr.contains("Snapshot: .kvsync/snapshots/20300317T174640Z-norev-1.jsonl (1 key)"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unwritable_snapshot_folder_writes_nothing_and_exits_1() {
    let test = Test::new().file("kvsync.yaml", Config::new().values(&[("f/a", "1")]).yaml());
    // `.kvsync/snapshots` is a file: the default folder cannot be made (as root too, whom no
    // permission stops).
    test.write(".kvsync/snapshots", "not a folder");
    let out = test.run(&["apply", "--target", "local", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("cannot write the snapshot `.kvsync/snapshots`"), "{}", out.stderr);
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: pass `--snapshot PATH`"), "{}", out.snapshot());
    let plan = test.run(&["plan", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "nothing was written: {}", plan.snapshot());

    // A folder without write permission, where permissions apply (not to root).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let folder = test.path().join("locked");
        std::fs::create_dir(&folder).expect("mkdir");
        std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        if std::fs::write(folder.join("probe"), "x").is_err() {
            let args =
                ["apply", "--target", "local", "--auto-approve", "--snapshot", "locked/s.jsonl"];
            let out = test.run(&args);
            assert_eq!(out.code, 1, "{}", out.snapshot());
            assert!(
                out.stderr.contains("cannot write the snapshot `locked/s.jsonl`"),
                "{}",
                out.stderr
            );
        }
        let plan = test.run(&["plan", "--target", "local", "--detailed-exitcode"]);
        assert_eq!(plan.code, 2, "nothing was written: {}", plan.snapshot());
    }
}

#[test]
fn a_snapshot_path_that_exists_or_is_a_symlink_is_refused_and_nothing_written() {
    let test = Test::new()
        .file("kvsync.yaml", Config::new().values(&[("f/a", "1")]).yaml())
        .file("there.jsonl", "keep");
    let out =
        test.run(&["apply", "--target", "local", "--auto-approve", "--snapshot", "there.jsonl"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert_eq!(std::fs::read_to_string(test.path().join("there.jsonl")).expect("read"), "keep");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(test.path().join("elsewhere"), test.path().join("link.jsonl"))
            .expect("symlink");
        let out =
            test.run(&["apply", "--target", "local", "--auto-approve", "--snapshot", "link.jsonl"]);
        assert_eq!(out.code, 1, "{}", out.snapshot());
        assert!(!test.path().join("elsewhere").exists());
    }
    let plan = test.run(&["plan", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "nothing was written: {}", plan.snapshot());
}

#[test]
fn a_saved_plan_records_no_snapshot_and_apply_refuses_a_mismatch() {
    let test = Test::new().file("kvsync.yaml", Config::new().values(&[("f/a", "1")]).yaml());
    let plan = test.run(&["plan", "--target", "local", "--out", "p.json"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let refused = test.run(&["apply", "p.json", "--no-snapshot"]);
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    assert!(
        refused.stderr.contains("the plan was made for no `--no-snapshot`, not `--no-snapshot`"),
        "{}",
        refused.stderr
    );

    let plan = test.run(&["plan", "--target", "local", "--out", "q.json", "--no-snapshot"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(test.path().join("q.json")).expect("read"))
            .expect("json");
    assert_eq!(saved["no_snapshot"], true);
    // Applied as recorded: no snapshot, even without the flag.
    let out = test.run(&["apply", "q.json"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!out.stderr.contains("Snapshot:"), "{}", out.stderr);
    assert!(!test.path().join(".kvsync/snapshots").exists());
}

#[test]
fn a_scope_with_snapshot_false_is_left_out() {
    let config = Config::new().values(&[("f/a", "1")]).tail("    snapshot: false\n");
    let test = Test::new().file("kvsync.yaml", config.yaml());
    let out = test.run(&["apply", "--target", "local", "--auto-approve", "--snapshot", "s.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!test.path().join("s.jsonl").exists(), "{}", out.stderr);
}

#[test]
fn a_sensitive_value_is_left_out_and_restore_says_so() {
    let config = |value: &str| {
        Config::new()
            .values(&[("f/a", value)])
            .entry("f/secret", "{value: \"${SECRET}\", sensitive: true}")
            .yaml()
    };
    let test = Test::new().file("kvsync.yaml", config("1")).env("SECRET", "hunter2");
    assert_eq!(
        test.run(&["apply", "--target", "local", "--auto-approve", "--no-snapshot"]).code,
        0
    );
    test.write("kvsync.yaml", config("2"));
    let out = test.run_with_env(
        &["apply", "--target", "local", "--auto-approve", "--snapshot", "s.jsonl"],
        &[("SECRET", "correct horse")],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stderr.contains("1 sensitive value left out"), "{}", out.stderr);
    let text = std::fs::read_to_string(test.path().join("s.jsonl")).expect("snap");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("\"left_out\":\"sensitive\""), "{text}");

    let out = test.run(&["restore", "s.jsonl", "--target", "local", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("f/secret (left out: sensitive"), "{}", out.stdout);
    assert!(out.stdout.contains("Restore complete: 1 written, 0 deleted."), "{}", out.stdout);

    // With `--snapshot-sensitive` the value is kept and put back.
    test.write("kvsync.yaml", config("3"));
    let out = test.run_with_env(
        &[
            "apply",
            "--target",
            "local",
            "--auto-approve",
            "--snapshot",
            "t.jsonl",
            "--snapshot-sensitive",
        ],
        &[("SECRET", "battery staple")],
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let out = test.run(&["restore", "t.jsonl", "--target", "local", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let (value, _, _) = local_store(&test).get_full(NS, "f/secret").expect("read").expect("key");
    assert_eq!(value, b"correct horse");
}

#[test]
fn a_key_changed_after_the_apply_is_refused_then_taken_over() {
    let target = Target::local(&Config::new().values(&[("f/a", "1"), ("f/b", "1")]).yaml());
    assert_eq!(target.run(&["apply", "--auto-approve", "--no-snapshot"]).code, 0);
    target.test().write("kvsync.yaml", Config::new().values(&[("f/a", "2"), ("f/b", "2")]).yaml());
    let out = target.run(&["apply", "--auto-approve", "--snapshot", "s.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    target.seed("f/a", b"someone else", None, None);

    let refused = target.run(&["restore", "s.jsonl", "--auto-approve"]);
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    assert!(
        refused
            .stderr
            .contains("refusing to restore: 1 key changed since the apply; nothing was written"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.contains("f/a (conflict"), "{}", refused.stdout);
    assert_eq!(target.get("f/b").map(|(v, _, _)| v), Some(b"2".to_vec()), "nothing was written");

    let taken = target.run(&["restore", "s.jsonl", "--auto-approve", "--overwrite-changed"]);
    assert_eq!(taken.code, 0, "{}", taken.snapshot());
    assert_eq!(target.get("f/a").map(|(v, _, _)| v), Some(b"1".to_vec()));
    assert_eq!(target.get("f/b").map(|(v, _, _)| v), Some(b"1".to_vec()));

    // `--only` narrows, `--format json` and `markdown` render the same plan.
    let json = target.run(&["restore", "s.jsonl", "--format", "json", "--only", "f/a"]);
    assert_eq!(json.code, 0, "{}", json.snapshot());
    let doc: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["keys"][0]["decision"], "unchanged");
    let markdown = target.run(&["restore", "s.jsonl", "--format", "markdown"]);
    assert!(markdown.stdout.contains("**Restore:** 0 to put back"), "{}", markdown.stdout);
}

#[test]
fn an_incomplete_snapshot_is_refused() {
    let target = Target::local(&Config::new().values(&[("f/a", "1")]).yaml());
    let out = target.run(&["apply", "--auto-approve", "--snapshot", "s.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let path = target.test().path().join("s.jsonl");
    let text = std::fs::read_to_string(&path).expect("read");
    let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, cut).expect("write");
    let out = target.run(&["restore", "s.jsonl", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("snapshot `s.jsonl` is incomplete: it has no trailer"),
        "{}",
        out.stderr
    );
}

/// kill -9 while the first bulk write is held by the stand-in: the snapshot is already complete
/// on disk, and restoring from it works.
#[test]
fn a_run_killed_during_its_first_write_leaves_a_complete_snapshot_that_restores() {
    let target = Target::cloud(&config_a());
    let before = before_state(&target);
    target.test().write("kvsync.yaml", config_b());
    let Target::Cloud(cloud) = &target else { unreachable!() };
    cloud.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
    cloud.standin.reset_counts();

    let mut command = Command::new(env!("CARGO_BIN_EXE_kvsync"));
    command
        .args(["apply", "--auto-approve", "--snapshot", "snap.jsonl", "--api-url"])
        .arg(cloud.standin.base_url())
        .current_dir(cloud.test.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("KVSYNC_NOW", NOW);
    hermetic(&mut command);
    for (name, value) in cloud.test.vars() {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("spawn kvsync");
    let started = Instant::now();
    while cloud.standin.counts().bulk_put == 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the first bulk write never came");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let text = std::fs::read_to_string(cloud.test.path().join("snap.jsonl")).expect("snapshot");
    let last: Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    assert_eq!(last["line"], "trailer");
    assert_eq!(last["count"], 120);
    // The held write died with its connection: nothing of the apply landed, and restore finds
    // every key as the snapshot recorded it.
    let out = target.run(&["restore", "snap.jsonl", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_state(&target, &before);
}

/// An apply that stopped part way (its deletes never ran): restore puts back what it wrote and
/// finds the rest already as it was.
#[test]
fn a_partial_apply_is_restored() {
    let target = Target::cloud(&config_a());
    let before = before_state(&target);
    target.test().write("kvsync.yaml", config_b());
    let Target::Cloud(cloud) = &target else { unreachable!() };
    cloud.standin.inject(Fault::ApiError {
        endpoint: Endpoint::BulkDelete,
        status: 400,
        code: 10001,
        message: "bad request".into(),
    });
    let out = target.run(&["apply", "--auto-approve", "--snapshot", "snap.jsonl"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(target.get("f/d00").is_some(), "the deletes did not run");
    cloud.standin.clear_faults();
    let out = target.run(&["restore", "snap.jsonl", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("10 unchanged"), "{}", out.stdout);
    assert_state(&target, &before);
}

/// A snapshot folder that is a link out of the current folder: the snapshot is never written
/// through it (nothing is written at all); a link that stays inside is followed.
#[cfg(unix)]
#[test]
fn a_snapshot_folder_linked_out_of_the_folder_is_refused() {
    let test = Test::new().file("kvsync.yaml", Config::new().values(&[("f/a", "1")]).yaml());
    let outside = tempfile::tempdir().expect("a folder");
    std::fs::create_dir(test.path().join(".kvsync")).expect("mkdir");
    std::os::unix::fs::symlink(outside.path(), test.path().join(".kvsync/snapshots"))
        .expect("a link");
    let out = test.run(&["apply", "--target", "local", "--auto-approve"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("nothing was written"), "{}", out.stderr);
    assert_eq!(std::fs::read_dir(outside.path()).expect("read").count(), 0, "nothing outside");
    let plan = test.run(&["plan", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "nothing was written: {}", plan.snapshot());

    std::fs::remove_file(test.path().join(".kvsync/snapshots")).expect("unlink");
    std::fs::create_dir(test.path().join("kept")).expect("mkdir");
    std::os::unix::fs::symlink(test.path().join("kept"), test.path().join(".kvsync/snapshots"))
        .expect("a link");
    let out = test.run(&["apply", "--target", "local", "--auto-approve"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(std::fs::read_dir(test.path().join("kept")).expect("read").count(), 1);
}
