//! Issue #22, part 1: every file kvsync writes goes through one atomic writer (random temporary
//! name, create-new, no link followed out of the allowed folder), `pull` writes its files all or
//! none across a crash (its journal), and no command reads a half-pulled config.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::support::{NS, Test, metadata_of, seed};

const CONFIG: &str = r#"version: 1
owner: web
namespaces:
  flags:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: "f/"
    keys:
      f/banner: "Welcome"
      f/plain: hello
    include: [more/*.yaml]
"#;

const INCLUDED: &str = "keys:\n  f/inc: \"included\"\n";

/// The two files once `f/banner` and `f/inc` are pulled.
fn pulled() -> (String, String) {
    (
        CONFIG.replace("\"Welcome\"", "\"Welcome back\""),
        INCLUDED.replace("\"included\"", "\"changed include\""),
    )
}

fn local<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(["--target", "local"]).collect()
}

/// The config applied, then `f/banner` and `f/inc` edited live by hand.
fn project() -> Test {
    let test = Test::new().file("kvsync.yaml", CONFIG).file("more/keys.yaml", INCLUDED);
    let out = test.run(&local(&["apply", "--auto-approve"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    seed(
        &test,
        &[
            ("f/banner", "Welcome back", Some(metadata_of(&test, "f/banner"))),
            ("f/inc", "changed include", Some(metadata_of(&test, "f/inc"))),
        ],
    );
    test
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}

fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Every name in a folder (not below it), sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a folder")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A file outside the project, and a link to it planted at `at` inside the project.
struct Victim {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Victim {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("victim");
        std::fs::write(&path, "untouched").expect("seeded");
        Self { _dir: dir, path }
    }

    fn plant(&self, at: &Path) {
        std::fs::create_dir_all(at.parent().expect("a folder")).expect("mkdir");
        std::os::unix::fs::symlink(&self.path, at).expect("a link");
    }

    fn assert_untouched(&self) {
        assert_eq!(read(&self.path), "untouched", "the file outside was written through a link");
        assert_eq!(names(self.path.parent().expect("a folder")), ["victim"]);
    }
}

/// Links at every name the writers used as fixed temporary names: pull writes its files as
/// regular files, and nothing outside is touched.
#[test]
fn links_at_the_old_temporary_names_are_never_written_through() {
    let test = project();
    let victim = Victim::new();
    for old in [".kvsync.yaml.kvsync-pull", "more/.keys.yaml.kvsync-pull"] {
        victim.plant(&test.path().join(old));
    }
    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let (config, included) = pulled();
    assert_eq!(read(&test.path().join("kvsync.yaml")), config);
    assert_eq!(read(&test.path().join("more/keys.yaml")), included);
    assert!(!is_link(&test.path().join("kvsync.yaml")));
    assert!(!is_link(&test.path().join("more/keys.yaml")));
    victim.assert_untouched();
    // Nothing else is left behind: only the planted links, which are left alone.
    assert_eq!(names(&test.path().join("more")), [".keys.yaml.kvsync-pull", "keys.yaml"]);
    assert!(is_link(&test.path().join("more/.keys.yaml.kvsync-pull")));
}

/// A config and an included file that are links to files inside the config's folder are edited
/// at their targets, and stay links.
#[test]
fn linked_config_and_include_inside_the_folder_are_edited_at_their_targets() {
    let test = Test::new().file("real/kvsync.yaml", CONFIG).file("shared/keys.yaml", INCLUDED);
    std::os::unix::fs::symlink("real/kvsync.yaml", test.path().join("kvsync.yaml")).expect("link");
    std::fs::create_dir(test.path().join("more")).expect("mkdir");
    std::os::unix::fs::symlink("../shared/keys.yaml", test.path().join("more/keys.yaml"))
        .expect("link");
    let out = test.run(&local(&["apply", "--auto-approve"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    seed(
        &test,
        &[
            ("f/banner", "Welcome back", Some(metadata_of(&test, "f/banner"))),
            ("f/inc", "changed include", Some(metadata_of(&test, "f/inc"))),
        ],
    );
    // The report names each file by the path the user gave and the config names (the link),
    // in every format.
    let json = test.run(&local(&["pull", "--deep", "--dry-run", "--format", "json"]));
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(document["files"], serde_json::json!(["kvsync.yaml", "more/keys.yaml"]));
    let places: Vec<&str> = document["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["place"].as_str())
        .collect();
    assert_eq!(places.len(), 2, "{}", json.stdout);
    assert!(places[0].starts_with("kvsync.yaml:"), "{places:?}");
    assert!(places[1].starts_with("more/keys.yaml:"), "{places:?}");
    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(
        out.stdout.contains("→ kvsync.yaml:") && out.stdout.contains("→ more/keys.yaml:"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("real/") && !out.stdout.contains("shared/"), "{}", out.stdout);
    let (config, included) = pulled();
    assert!(is_link(&test.path().join("kvsync.yaml")), "the config's link was replaced");
    assert!(is_link(&test.path().join("more/keys.yaml")), "the include's link was replaced");
    assert_eq!(read(&test.path().join("real/kvsync.yaml")), config);
    assert_eq!(read(&test.path().join("shared/keys.yaml")), included);
    assert_eq!(names(&test.path().join("real")), ["kvsync.yaml"]);
    assert_eq!(names(&test.path().join("shared")), ["keys.yaml"]);
}

/// A config that is a link to a file outside its folder is read, but pull refuses to write
/// through it: nothing is written anywhere.
#[test]
fn a_linked_config_outside_the_folder_is_refused() {
    let outside = tempfile::tempdir().expect("a folder");
    let target = outside.path().join("kvsync.yaml");
    std::fs::write(&target, CONFIG).expect("seeded");
    let test = Test::new().file("more/keys.yaml", INCLUDED);
    std::os::unix::fs::symlink(&target, test.path().join("kvsync.yaml")).expect("link");
    let out = test.run(&local(&["apply", "--auto-approve"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    seed(&test, &[("f/inc", "changed include", Some(metadata_of(&test, "f/inc")))]);
    seed(&test, &[("f/banner", "Welcome back", Some(metadata_of(&test, "f/banner")))]);

    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("`kvsync.yaml` is a symbolic link to")
            && out.stderr.contains("kvsync does not write through it")
            && out.stderr.contains("hint: replace the link with a regular file"),
        "{}",
        out.snapshot()
    );
    assert_eq!(read(&target), CONFIG);
    assert_eq!(names(outside.path()), ["kvsync.yaml"]);
    assert_eq!(read(&test.path().join("more/keys.yaml")), INCLUDED, "all or none");
    assert_eq!(names(&test.path().join("more")), ["keys.yaml"]);
    assert!(is_link(&test.path().join("kvsync.yaml")));
}

const TYPES_CONFIG: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      a: hello\n";

/// `types --out`: a link at the old temporary name is left alone and the module is a regular
/// file; a link at the output itself is followed inside the current folder and refused outside.
#[test]
fn types_out_never_writes_through_a_link_out_of_the_folder() {
    let test = Test::new().file("kvsync.yaml", TYPES_CONFIG);
    let victim = Victim::new();
    victim.plant(&test.path().join(".kv-types.ts.kvsync-tmp"));
    let out = test.run(&["types", "--out", "kv-types.ts"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!is_link(&test.path().join("kv-types.ts")));
    assert!(read(&test.path().join("kv-types.ts")).contains("\"a\": string;"));
    victim.assert_untouched();

    victim.plant(&test.path().join("out.ts"));
    let out = test.run(&["types", "--out", "out.ts"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("`out.ts` is a symbolic link to"), "{}", out.snapshot());
    victim.assert_untouched();
    assert!(is_link(&test.path().join("out.ts")));

    // Inside the current folder, the link is written at its target and stays a link.
    test.write("generated/kv.ts", "old");
    std::os::unix::fs::symlink("generated/kv.ts", test.path().join("linked.ts")).expect("link");
    let out = test.run(&["types", "--out", "linked.ts"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(is_link(&test.path().join("linked.ts")));
    assert!(read(&test.path().join("generated/kv.ts")).contains("\"a\": string;"));
    assert_eq!(names(&test.path().join("generated")), ["kv.ts"]);
}

/// `export -o`: a link at the old temporary name is left alone and the export is a regular
/// file; a link at the output pointing outside is refused, even with `--force`.
#[test]
fn export_never_writes_through_a_link_out_of_the_folder() {
    let test = Test::new().file("src/kvsync.yaml", TYPES_CONFIG);
    let apply =
        test.run(&["apply", "-c", "src/kvsync.yaml", "--target", "local", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let victim = Victim::new();
    victim.plant(&test.path().join(".kvsync-export.yaml.tmp"));
    let export = ["export", "--namespace-id", NS, "--target", "local", "--owner", "web"];
    let out = test.run(&export);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(!is_link(&test.path().join("kvsync.yaml")));
    assert!(read(&test.path().join("kvsync.yaml")).contains("a: hello"));
    victim.assert_untouched();
    assert!(is_link(&test.path().join(".kvsync-export.yaml.tmp")));

    victim.plant(&test.path().join("out/kvsync.yaml"));
    let to_link: Vec<&str> = export.iter().copied().chain(["-o", "out/kvsync.yaml"]).collect();
    let out = test.run(&to_link);
    assert_eq!(out.code, 1, "exists: {}", out.snapshot());
    let forced: Vec<&str> = to_link.iter().copied().chain(["--force"]).collect();
    let out = test.run(&forced);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("`out/kvsync.yaml` is a symbolic link to"), "{}", out.snapshot());
    victim.assert_untouched();
    assert_eq!(names(&test.path().join("out")), ["kvsync.yaml"]);

    // Printed, the export still leaves nothing behind.
    let printed: Vec<&str> = export.iter().copied().chain(["-o", "-"]).collect();
    let out = test.run(&printed);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(out.stdout.contains("a: hello"), "{}", out.snapshot());
    assert_eq!(
        names(test.path()),
        [".kvsync", ".kvsync-export.yaml.tmp", "kvsync.yaml", "out", "src"]
    );
}

/// `plan --out`, `--markdown-out` and `init -o` refuse a link out of the current folder too.
#[test]
fn plan_markdown_and_init_outputs_refuse_a_link_out_of_the_folder() {
    let test = Test::new().file("kvsync.yaml", TYPES_CONFIG);
    let victim = Victim::new();
    victim.plant(&test.path().join("plan.json"));
    let out = test.run(&local(&["plan", "--out", "plan.json"]));
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("`plan.json` is a symbolic link to"), "{}", out.snapshot());

    victim.plant(&test.path().join("summary.md"));
    let out =
        test.run(&local(&["plan", "--format", "markdown", "--markdown-out", "summary.md:65000"]));
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("`summary.md` is a symbolic link to"), "{}", out.snapshot());

    victim.plant(&test.path().join("new.yaml"));
    let out = test.run(&["init", "-o", "new.yaml", "--force"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("`new.yaml` is a symbolic link to"), "{}", out.snapshot());
    victim.assert_untouched();

    // A plan file written for real is a regular file, with nothing left beside it.
    let out = test.run(&local(&["plan", "--out", "saved.json"]));
    assert!(out.code == 0 || out.code == 2, "{}", out.snapshot());
    assert!(read(&test.path().join("saved.json")).contains("\"kind\""));
    assert!(!names(test.path()).iter().any(|n| n.ends_with(".tmp")), "{:?}", names(test.path()));
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The state a crash leaves between pull's journal and its last rename, built on disk: the
/// journal for both files, their temporary files, and the files named in `renamed` already
/// moved into place; `missing` names a file whose temporary file is gone.
fn crashed(test: &Test, renamed: &[&str], missing: &[&str]) {
    let (config, included) = pulled();
    let files = [
        ("kvsync.yaml", ".kvsync.yaml.00112233aabbccdd.tmp", CONFIG, config),
        ("more/keys.yaml", ".keys.yaml.44556677eeff0011.tmp", INCLUDED, included),
    ];
    let mut entries = Vec::new();
    for (path, temporary, before, after) in &files {
        let folder = Path::new(path).parent().expect("a folder");
        let temporary_path = test.path().join(folder).join(temporary);
        if renamed.contains(path) {
            test.write(path, after);
        } else if !missing.contains(path) {
            std::fs::write(&temporary_path, after).expect("a temporary file");
        }
        entries.push(serde_json::json!({
            "path": path,
            "temporary": temporary,
            "before_sha256": sha256(before),
            "after_sha256": sha256(after),
        }));
    }
    let journal =
        serde_json::json!({"kind": "kvsync-write-journal", "version": 1, "files": entries});
    test.write(".kvsync-journal.json", serde_json::to_vec_pretty(&journal).expect("json"));
}

/// While a journal is there, every command that reads the config refuses and names the fix.
#[test]
fn every_command_refuses_a_half_pulled_config() {
    let test = project();
    crashed(&test, &["kvsync.yaml"], &[]);
    let refused = test.run(&local(&["plan"]));
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    insta::assert_snapshot!("writes_half_pulled_config_refused", refused.snapshot());
    for args in [
        local(&["apply", "--auto-approve"]),
        local(&["drift"]),
        vec!["validate"],
        vec!["types"],
        local(&["pull", "--dry-run"]),
    ] {
        let out = test.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.snapshot());
        assert!(
            out.stderr.contains("hint: run `kvsync pull` again"),
            "{args:?}: {}",
            out.snapshot()
        );
    }
    assert!(test.path().join(".kvsync-journal.json").exists(), "only pull ends the journal");
}

/// `kvsync pull` finishes an interrupted pull whenever every file is renamed or has its
/// temporary file intact: before the first rename, between the two, after the last.
#[test]
fn pull_finishes_an_interrupted_pull() {
    for renamed in [&[][..], &["kvsync.yaml"][..], &["kvsync.yaml", "more/keys.yaml"][..]] {
        let test = project();
        crashed(&test, renamed, &[]);
        let out = test.run(&local(&["pull", "--deep"]));
        assert_eq!(out.code, 0, "{renamed:?}: {}", out.snapshot());
        assert!(
            out.stderr.contains(
                "finished the pull a crash interrupted: `kvsync.yaml`, `more/keys.yaml` now hold \
                 what it pulled"
            ),
            "{renamed:?}: {}",
            out.snapshot()
        );
        let (config, included) = pulled();
        assert_eq!(read(&test.path().join("kvsync.yaml")), config, "{renamed:?}");
        assert_eq!(read(&test.path().join("more/keys.yaml")), included, "{renamed:?}");
        assert_eq!(names(&test.path().join("more")), ["keys.yaml"], "{renamed:?}");
        assert!(!names(test.path()).iter().any(|n| n.ends_with(".tmp") || n.contains("journal")));
        // The config now says what is live: the next plan writes markers only.
        let plan = test.run(&local(&["plan"]));
        assert!(!plan.stdout.contains("value differs"), "{}", plan.stdout);
    }
}

/// A temporary file lost before any rename: pull rolls back (the files keep their bytes) and
/// then pulls as usual; lost after a rename, all or none is out of reach and a person decides.
#[test]
fn pull_rolls_back_or_stops_when_it_cannot_finish() {
    let test = project();
    crashed(&test, &[], &["more/keys.yaml"]);
    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stderr.contains("rolled back the pull a crash interrupted"), "{}", out.snapshot());
    // Then the pull ran again from the untouched files, and wrote both.
    let (config, included) = pulled();
    assert_eq!(read(&test.path().join("kvsync.yaml")), config);
    assert_eq!(read(&test.path().join("more/keys.yaml")), included);
    assert_eq!(names(test.path()), [".kvsync", "kvsync.yaml", "more"]);

    let test = project();
    crashed(&test, &["kvsync.yaml"], &["more/keys.yaml"]);
    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!("writes_interrupted_pull_left_for_a_person", out.snapshot());
    assert_eq!(read(&test.path().join("more/keys.yaml")), INCLUDED);
    assert!(test.path().join(".kvsync-journal.json").exists());
}

/// kill -9 at several moments of a pull that writes two files: whatever the moment, no command
/// ever reads one file pulled without the other, and the next `kvsync pull` ends with both
/// pulled and no journal.
#[test]
fn kill_9_during_a_pull_is_all_or_none() {
    for delay_ms in [0u64, 5, 10, 15, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 70, 90] {
        let test = project();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kvsync"));
        crate::support::hermetic(&mut command);
        let mut child = command
            .args(local(&["pull", "--deep"]))
            .current_dir(test.path())
            .env("KVSYNC_NOW", crate::support::NOW)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let config = read(&test.path().join("kvsync.yaml"));
        let included = read(&test.path().join("more/keys.yaml"));
        let journal = test.path().join(".kvsync-journal.json").exists();
        let (pulled_config, pulled_included) = pulled();
        if !journal {
            // No journal: both files as they were, or both pulled.
            assert_eq!(
                config == pulled_config,
                included == pulled_included,
                "{delay_ms} ms: one file pulled without the other"
            );
        }
        let out = test.run(&local(&["pull", "--deep"]));
        assert!(out.code == 0 || out.code == 2, "{delay_ms} ms: {}", out.snapshot());
        assert_eq!(read(&test.path().join("kvsync.yaml")), pulled_config, "{delay_ms} ms");
        assert_eq!(read(&test.path().join("more/keys.yaml")), pulled_included, "{delay_ms} ms");
        assert!(!test.path().join(".kvsync-journal.json").exists(), "{delay_ms} ms");
    }
}
