use kvsync::content::Expiration;
use kvsync::kv::KvStore;
use kvsync::kv::local::LocalStore;

use crate::support::{Config, NOW, NS, Test, seed};

fn config(owner: &str, keys: &[(&str, &str)], extra: &str) -> String {
    Config::new().owner(owner).head(extra).values(keys).yaml()
}

fn local(command: &str) -> Vec<&str> {
    vec![command, "--target", "local"]
}

#[test]
fn apply_without_a_terminal_needs_auto_approve_and_writes_nothing() {
    let test = Test::new().file("kvsync.yaml", config("web", &[("f/a", "1")], ""));
    let out = test.run(&local("apply"));
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!("apply_not_approved", out.snapshot());
    let plan = test.run(&[&local("plan")[..], &["--detailed-exitcode"]].concat());
    assert_eq!(plan.code, 2, "nothing was written: {}", plan.snapshot());
}

#[test]
fn empty_desired_state_over_our_keys_is_refused_unless_allowed() {
    let test = Test::new().file("kvsync.yaml", config("web", &[("f/a", "1"), ("f/b", "2")], ""));
    assert_eq!(test.run(&[&local("apply")[..], &["--auto-approve"]].concat()).code, 0);

    test.write("kvsync.yaml", config("web", &[], ""));
    let refused = test.run(&[&local("apply")[..], &["--auto-approve"]].concat());
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    insta::assert_snapshot!("apply_refuses_empty", refused.snapshot());

    let allowed = test.run(&[&local("apply")[..], &["--auto-approve", "--allow-empty"]].concat());
    assert_eq!(allowed.code, 0, "{}", allowed.snapshot());
    assert!(allowed.stdout.contains("Apply complete: 0 written, 2 deleted."), "{}", allowed.stdout);
}

#[test]
fn too_many_deletes_are_refused_unless_the_ceiling_is_raised() {
    let keys: Vec<(String, String)> = (0..5).map(|i| (format!("f/k{i}"), i.to_string())).collect();
    let all: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let test = Test::new().file("kvsync.yaml", config("web", &all, "max_deletes: 2\n"));
    assert_eq!(test.run(&[&local("apply")[..], &["--auto-approve"]].concat()).code, 0);

    test.write("kvsync.yaml", config("web", &all[..2], "max_deletes: 2\n"));
    let refused = test.run(&[&local("apply")[..], &["--auto-approve"]].concat());
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    assert!(
        refused.stderr.contains("scope `flags` would delete 3 keys, more than the limit of 2"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stdout.contains(
            "hint: if that is intended, set `max_deletes: 3` in the config (or pass `--max-deletes 3`)"
        ),
        "{}",
        refused.stdout
    );

    let raised =
        test.run(&[&local("apply")[..], &["--auto-approve", "--max-deletes", "3"]].concat());
    assert_eq!(raised.code, 0, "{}", raised.snapshot());
}

#[test]
fn conflicts_refuse_the_run_until_taken_over() {
    let test = Test::new()
        .file("other.yaml", config("other-team", &[("f/shared", "theirs")], ""))
        .file("kvsync.yaml", config("web", &[("f/shared", "ours"), ("f/mine", "x")], ""));
    assert_eq!(
        test.run(&[&local("apply")[..], &["-c", "other.yaml", "--auto-approve"]].concat()).code,
        0
    );

    let refused = test.run(&[&local("apply")[..], &["--auto-approve"]].concat());
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    insta::assert_snapshot!("apply_refuses_conflict", refused.snapshot());

    let taken =
        test.run(&[&local("apply")[..], &["--auto-approve", "--take-over", "other-team"]].concat());
    assert_eq!(taken.code, 0, "{}", taken.snapshot());
    assert!(taken.stdout.contains("Plan: 1 to create, 1 to take over."), "{}", taken.stdout);
    // The other owner now sees a conflict: a plan apply would refuse exits 1, not 2, so a pull
    // request's check fails before the merge (it was 2, and the check was green).
    let other =
        test.run(&[&local("plan")[..], &["-c", "other.yaml", "--detailed-exitcode"]].concat());
    assert_eq!(other.code, 1, "the other owner now sees a conflict: {}", other.snapshot());
    assert!(other.stdout.contains("Apply would refuse this plan:"), "{}", other.stdout);
}

/// A plan apply would refuse fails in every format, with the same words apply uses, and shows
/// why: the human plan after its summary line, JSON in `refusals`, Markdown at the top.
#[test]
fn a_plan_apply_would_refuse_exits_1_in_every_format() {
    let test = Test::new()
        .file("other.yaml", config("other-team", &[("f/shared", "theirs")], ""))
        .file("kvsync.yaml", config("web", &[("f/shared", "ours")], ""));
    let seeded = test.run(&[&local("apply")[..], &["-c", "other.yaml", "--auto-approve"]].concat());
    assert_eq!(seeded.code, 0, "{}", seeded.snapshot());

    for extra in [&[][..], &["--detailed-exitcode"][..]] {
        let plan = test.run(&[&local("plan")[..], extra].concat());
        assert_eq!(plan.code, 1, "{}", plan.snapshot());
        insta::assert_snapshot!("plan_refuses_conflict", plan.snapshot());
    }

    let json = test.run(&[&local("plan")[..], &["--format", "json"]].concat());
    assert_eq!(json.code, 1, "{}", json.snapshot());
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(
        document["refusals"],
        serde_json::json!([{
            "scope": "flags",
            "guard": "conflicts",
            "message": "scope `flags` has 1 conflicting key:\n  `f/shared` (owned by `other-team`)",
            "hint": "add the keys to the scope's `take_over:` globs (or pass `--take-over other-team`), or remove them from the config",
            "keys": ["f/shared"],
        }])
    );

    let markdown = test.run(&[&local("plan")[..], &["--format", "markdown"]].concat());
    assert_eq!(markdown.code, 1, "{}", markdown.snapshot());
    insta::assert_snapshot!("plan_refuses_conflict_markdown", markdown.stdout);
}

#[test]
fn the_delete_ceiling_shows_in_the_plan_and_the_config_or_a_recorded_flag_lifts_it() {
    let keys: Vec<(String, String)> = (0..5).map(|i| (format!("f/k{i}"), i.to_string())).collect();
    let all: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let test = Test::new().file("kvsync.yaml", config("web", &all, "max_deletes: 2\n"));
    assert_eq!(test.run(&[&local("apply")[..], &["--auto-approve"]].concat()).code, 0);

    test.write("kvsync.yaml", config("web", &all[..2], "max_deletes: 2\n"));
    let plan = test.run(&[&local("plan")[..], &["--out", "refused.json"]].concat());
    assert_eq!(plan.code, 1, "{}", plan.snapshot());
    insta::assert_snapshot!("plan_refuses_too_many_deletes", plan.snapshot());
    let json = test.run(&[&local("plan")[..], &["--format", "json"]].concat());
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(document["refusals"][0]["guard"], "delete_ceiling");
    assert_eq!(document["refusals"][0]["deletes"], 3);
    assert_eq!(document["refusals"][0]["limit"], 2);
    // The saved plan apply would refuse is refused by apply with the same numbers.
    let refused = test.run(&["apply", "refused.json"]);
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    assert!(
        refused.stderr.contains("error: refusing to apply: scope `flags` would delete 3 keys, more than the limit of 2; nothing was written"),
        "{}",
        refused.stderr
    );

    // `plan --max-deletes` is recorded in the saved plan, which then applies as reviewed, and
    // a different `--max-deletes` on apply is refused, never silently used.
    let lifted =
        test.run(&[&local("plan")[..], &["--max-deletes", "3", "--out", "p.json"]].concat());
    assert_eq!(lifted.code, 0, "{}", lifted.snapshot());
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(test.path().join("p.json")).expect("read"))
            .expect("saved plan");
    assert_eq!(saved["max_deletes"], 3);
    assert_eq!(saved["allow_empty"], false);
    assert_eq!(saved["config"], "kvsync.yaml");
    let other = test.run(&["apply", "p.json", "--max-deletes", "10"]);
    assert_eq!(other.code, 1, "{}", other.snapshot());
    insta::assert_snapshot!("apply_plan_refuses_another_max_deletes", other.snapshot());
    let applied = test.run(&["apply", "p.json"]);
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    assert!(applied.stdout.contains("Apply complete: 0 written, 3 deleted."), "{}", applied.stdout);

    // In the config, the decision is part of the reviewed pull request.
    test.write("kvsync.yaml", config("web", &[], "max_deletes: 2\n"));
    let emptied = test.run(&local("plan"));
    assert_eq!(emptied.code, 1, "{}", emptied.snapshot());
    assert!(
        emptied.stdout.contains("set `allow_empty: true` on scope `flags`"),
        "{}",
        emptied.stdout
    );
    test.write(
        "kvsync.yaml",
        config("web", &[], "max_deletes: 2\n")
            .replace("    keys:\n", "    allow_empty: true\n    keys:\n"),
    );
    let allowed = test.run(&[&local("plan")[..], &["--detailed-exitcode"]].concat());
    assert_eq!(allowed.code, 2, "{}", allowed.snapshot());
    assert!(!allowed.stdout.contains("Apply would refuse"), "{}", allowed.stdout);
}

#[test]
fn a_saved_plan_applies_from_its_folder_without_c_and_refuses_other_flags() {
    let test = Test::new().file("conf/flags.yaml", config("web", &[("f/a", "1")], ""));
    let plan =
        test.run(&[&local("plan")[..], &["-c", "conf/flags.yaml", "--out", "p.json"]].concat());
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(plan.stderr.contains("apply it with `kvsync apply p.json`"), "{}", plan.stderr);

    for (flags, what) in [
        (&["--only", "f/b"][..], "`--only`"),
        (&["--take-over", "ops"][..], "`--take-over`"),
        (&["--allow-empty"][..], "`--allow-empty`"),
    ] {
        let refused = test.run(&[&["apply", "p.json"][..], flags].concat());
        assert_eq!(refused.code, 1, "{}", refused.snapshot());
        assert!(
            refused.stderr.contains(&format!("error: the plan was made for no {what}")),
            "{}",
            refused.stderr
        );
    }
    let applied = test.run(&["apply", "p.json"]);
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    assert!(applied.stdout.contains("Apply complete: 1 written, 0 deleted."), "{}", applied.stdout);
}

#[test]
fn keys_without_a_marker_are_adopted_loudly_and_protected_keys_are_spared() {
    let test = Test::new().file(
        "kvsync.yaml",
        config("web", &[("f/hand", "new text"), ("f/keep", "x")], "")
            .replace("    keys:\n", "    protect: [\"f/keep\", \"f/legacy\"]\n    keys:\n"),
    );
    seed(
        &test,
        &[
            ("f/hand", "old text", None),
            ("f/keep", "hand-made", Some(serde_json::json!({"note": "keep me"}))),
            ("f/legacy", "untouched", None),
        ],
    );
    let plan = test.run(&[&local("plan")[..], &["--detailed-exitcode"]].concat());
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    insta::assert_snapshot!("adopt_and_protect", plan.snapshot());
    let apply = test.run(&[&local("apply")[..], &["--auto-approve"]].concat());
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 1 written, 0 deleted."), "{}", apply.stdout);
}

/// On a terminal, apply shows the plan and writes only after `yes`. `script` (util-linux) gives
/// kvsync a pseudo-terminal; Linux only, where util-linux is always present.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_apply_asks_and_only_yes_proceeds() {
    let test = Test::new().file("kvsync.yaml", config("web", &[("f/a", "1")], ""));
    let binary = env!("CARGO_BIN_EXE_kvsync");
    let run = |answer: &str| {
        let mut child = std::process::Command::new("script")
            .args(["-qec", &format!("{binary} apply --target local --color never"), "/dev/null"])
            .current_dir(test.path())
            .env("KVSYNC_NOW", NOW)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs kvsync on a pseudo-terminal");
        use std::io::Write as _;
        child.stdin.take().expect("stdin").write_all(answer.as_bytes()).expect("answer");
        let output = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let declined = run("no\n");
    assert!(declined.contains("Only `yes` will be accepted."), "{declined}");
    assert!(declined.contains("apply cancelled; nothing was written"), "{declined}");
    let accepted = run("yes\n");
    assert!(accepted.contains("Apply complete: 1 written, 0 deleted."), "{accepted}");
    let plan = test.run(&[&local("plan")[..], &["--detailed-exitcode"]].concat());
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
}

/// A second writer changes the namespace while the prompt is open: after `yes`, apply lists
/// again and refuses, naming the keys, and writes nothing (it would have deleted `f/old`, which
/// another owner took over, and overwritten `f/x`, which another owner created). The stand-in
/// plays the namespace: the local store is locked while kvsync runs.
#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_apply_refuses_when_the_namespace_changed_while_the_prompt_was_open() {
    let cloud = crate::support::Cloud::new(&config("web", &[("f/a", "1"), ("f/x", "mine")], ""));
    let marker = |owner: &str| {
        let hash = kvsync::content::content_hash(b"old", None, Expiration::Never);
        Some(kvsync::content::written_metadata(None, owner, hash, None))
    };
    cloud.standin.seed(NS, "f/old", b"old", marker("web"), None);
    let api_url = format!("--api-url {}", cloud.standin.base_url());
    let env = [
        ("CLOUDFLARE_API_TOKEN", cloud.standin.token()),
        ("CLOUDFLARE_ACCOUNT_ID", cloud.standin.account_id()),
    ];
    let shown = answer_at_the_prompt(cloud.test.path(), &api_url, &env, || {
        cloud.standin.seed(NS, "f/old", b"old", marker("mobile"), None);
        cloud.standin.seed(NS, "f/x", b"theirs", marker("mobile"), None);
    });
    assert!(shown.contains("- f/old"), "the plan showed the delete: {shown}");
    assert!(
        shown.contains(
            "the namespace changed while you were deciding: 2 keys changed since the plan was \
             shown; nothing was written\n  - f/old\n  - f/x"
        ),
        "{shown}"
    );
    assert!(!shown.contains("Apply complete"), "{shown}");
    assert_eq!((cloud.standin.counts().bulk_put, cloud.standin.counts().bulk_delete), (0, 0));
    assert_eq!(cloud.standin.keys(NS), ["f/old", "f/x"]);
    assert_eq!(cloud.standin.get(NS, "f/x").expect("f/x").value, b"theirs");
}

/// Runs `kvsync apply --color never ARGS` in `dir` on a pseudo-terminal (util-linux `script`),
/// waits for the prompt, runs `meanwhile` (another writer, an editor), answers `yes`, and
/// returns everything the terminal showed.
#[cfg(target_os = "linux")]
fn answer_at_the_prompt(
    dir: &std::path::Path,
    args: &str,
    env: &[(&str, &str)],
    meanwhile: impl FnOnce(),
) -> String {
    use std::io::{Read as _, Write as _};
    let binary = env!("CARGO_BIN_EXE_kvsync");
    let mut child = std::process::Command::new("script")
        .args(["-qec", &format!("{binary} apply --color never {args}"), "/dev/null"])
        .current_dir(dir)
        .env("KVSYNC_NOW", NOW)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs kvsync on a pseudo-terminal");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut shown = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&shown).contains("Enter a value:") {
        let n = stdout.read(&mut buffer).expect("read");
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&shown));
        shown.extend_from_slice(&buffer[..n]);
    }
    meanwhile();
    child.stdin.take().expect("stdin").write_all(b"yes\n").expect("answer");
    stdout.read_to_end(&mut shown).expect("read");
    child.wait().expect("wait");
    String::from_utf8_lossy(&shown).replace("\r\n", "\n")
}

/// Renaming `f/old` to `f/new`, whose `file:` value is edited while the prompt is open: the
/// put is refused (the bytes are not what was planned), so the delete is not attempted and
/// the old key stays; before, both were gone.
#[cfg(target_os = "linux")]
#[test]
fn a_rename_whose_file_changed_at_the_prompt_keeps_the_old_key() {
    let test = Test::new()
        .file("kvsync.yaml", config("web", &[("f/old", "v")], ""))
        .file("v.txt", "planned");
    assert_eq!(test.run(&[&local("apply")[..], &["--auto-approve"]].concat()).code, 0);
    test.write(
        "kvsync.yaml",
        config("web", &[], "").replace("      {}\n", "      f/new:\n        file: v.txt\n"),
    );
    let shown = answer_at_the_prompt(test.path(), "--target local", &[], || {
        test.write("v.txt", "edited during the prompt");
    });
    assert!(shown.contains("changed after it was planned"), "{shown}");
    assert!(shown.contains("1 not attempted"), "{shown}");
    let store = LocalStore::open(&test.path().join(".kvsync/local.db"), NOW.parse().expect("now"))
        .expect("open store");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let keys = ["f/new", "f/old"].map(str::to_owned);
    let values = runtime.block_on(store.bulk_get(NS, &keys)).expect("get");
    use kvsync::kv::LiveValue::{Missing, Text};
    assert_eq!(values, [Missing, Text("v".into())]);
}

/// Ctrl-C stops a local apply after the batch under way, with the same report as on Cloudflare
/// (the local store writes a whole batch synchronously, which once hid the signal until the
/// process simply died with 130).
///
/// No race: kvsync's stderr is a pipe that holds one write (packet mode, one page), so kvsync
/// cannot get further than one write ahead of what this test has read. Once the test has read
/// the first batch's progress line, kvsync writes at most the second batch before it blocks on
/// its next progress line, ahead of its check of the flag; the test sends SIGINT and lets
/// kvsync go on only when the Ctrl-C thread has set the flag (it is then blocked on stderr
/// behind the progress line, which `/proc` shows). The third batch is never written.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_stops_a_local_apply_between_batches_with_a_report() {
    const KEYS: usize = 30_000; // three batches of 10,000
    let mut yaml = config("web", &[], "").replace("      {}\n", "");
    for i in 0..KEYS {
        yaml.push_str(&format!("      f/{i:05}: v{i}\n"));
    }
    let test = Test::new().file("kvsync.yaml", yaml);
    let stdout = std::fs::File::create(test.path().join("stdout.txt")).expect("stdout file");
    let (reader, writer) =
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::DIRECT).expect("a packet-mode pipe");
    rustix::pipe::fcntl_setpipe_size(&writer, 1).expect("a pipe of one page");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kvsync"));
    command
        .args(["apply", "--target", "local", "--auto-approve", "--no-value-diff"])
        .current_dir(test.path())
        .env("KVSYNC_NOW", NOW)
        // Without a terminal, a progress line after every batch: the cue to press Ctrl-C.
        .env("KVSYNC_PROGRESS_EVERY_MS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::from(writer));
    crate::support::hermetic(&mut command);
    let mut child = command.spawn().expect("run kvsync");
    // The pipe's write end is kvsync's alone, so the reads below end when kvsync does.
    drop(command);
    let mut stderr = std::fs::File::from(reader);
    let mut seen = String::new();
    while !seen.lines().any(|line| line.starts_with("applying: ")) || !seen.ends_with('\n') {
        let read = read_packet(&mut stderr, &mut seen);
        assert!(read > 0, "kvsync ended before its first batch was written:\n{seen}");
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("send SIGINT");
    wait_until_ctrl_c_is_seen(child.id());
    while read_packet(&mut stderr, &mut seen) > 0 {}
    let status = child.wait().expect("wait");
    let stdout = std::fs::read_to_string(test.path().join("stdout.txt")).expect("stdout");
    assert_eq!(status.code(), Some(1), "not killed by the signal: exit 1\n{seen}");
    let report =
        stdout.lines().find(|l| l.starts_with("Apply incomplete: ")).unwrap_or_else(|| {
            panic!("no report on stdout:\n{}", &stdout[stdout.len().saturating_sub(500)..])
        });
    let written: usize = report["Apply incomplete: ".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("written count");
    assert!(
        (10_000..KEYS).contains(&written) && written.is_multiple_of(10_000),
        "stopped between batches, after the first: {report}"
    );
    let not_attempted = KEYS - written;
    assert_eq!(
        report,
        format!(
            "Apply incomplete: {written} written, 0 deleted, 0 failed, {not_attempted} not \
             attempted (interrupted)."
        )
    );
    assert!(
        seen.contains(&format!(
            "error: apply did not finish: {written} written, 0 deleted, 0 failed, {not_attempted} \
             not attempted (interrupted)"
        )),
        "{seen}"
    );
    assert!(
        seen.contains(
            "stopping after the batch in flight (up to 10,000 keys); Ctrl-C again to stop now \
             (the batch in flight may or may not be written)\n"
        ),
        "{seen}"
    );
    // What was written is live; a second apply finishes the rest.
    let plan = test.run(&[&local("plan")[..], &["--no-value-diff"]].concat());
    assert!(
        plan.stdout.contains(&format!("\nPlan: {not_attempted} to create, {written} unchanged.\n")),
        "{}",
        &plan.stdout[plan.stdout.len().saturating_sub(300)..]
    );
}

/// Reads one write of kvsync's (one packet) into `seen`; 0 at the end.
#[cfg(target_os = "linux")]
fn read_packet(stderr: &mut std::fs::File, seen: &mut String) -> usize {
    // A packet is at most one page; a smaller buffer would drop the rest of one.
    let mut packet = [0; 8192];
    let read = std::io::Read::read(stderr, &mut packet).expect("read stderr");
    seen.push_str(std::str::from_utf8(&packet[..read]).expect("UTF-8 on stderr"));
    read
}

/// Waits until kvsync's Ctrl-C thread has set its flag: the thread then leaves its wait for the
/// signal and blocks on stderr (on the pipe, or on the lock the progress line holds).
#[cfg(target_os = "linux")]
fn wait_until_ctrl_c_is_seen(pid: u32) {
    let tasks = std::path::PathBuf::from(format!("/proc/{pid}/task"));
    loop {
        let watcher = std::fs::read_dir(&tasks).expect("kvsync's threads").find_map(|task| {
            let task = task.expect("a thread").path();
            let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
            (name.trim_end() == "kvsync-ctrl-c").then_some(task)
        });
        let waiting_on = watcher
            .and_then(|task| std::fs::read_to_string(task.join("wchan")).ok())
            .unwrap_or_default();
        if waiting_on.contains("futex") || waiting_on.contains("pipe_write") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A large one-file config starts listing from the heads read before its first `keys:`; an
/// `environments:` overlay at the end that moves the scope to another namespace makes kvsync
/// list again, so the plan is against the right namespace (issue #15).
#[test]
fn a_large_one_file_config_plans_against_its_environments_namespace() {
    let mut text = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \"f/\"\n    keys:\n"
    );
    for i in 0..8_000 {
        text.push_str(&format!("      f/key-{i:05}: \"a value long enough to matter {i}\"\n"));
    }
    text.push_str(
        "environments:\n  production: {}\n  staging:\n    namespaces: {flags: {namespace_id: 9a8b7c6d5e4f30211203f4e5d6c7b8a9}}\n",
    );
    assert!(text.len() > 256 * 1024);
    let test = Test::new().file("kvsync.yaml", text);
    let staging = [&local("apply")[..], &["--env", "staging", "--auto-approve"]].concat();
    let applied = test.run(&staging);
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    let again = test.run(&[&local("plan")[..], &["--env", "staging"]].concat());
    assert_eq!(
        again.stdout,
        "Environment: staging\n\nNo changes. 8000 unchanged.\n",
        "{}",
        again.snapshot()
    );
    let production = test.run(&[&local("plan")[..], &["--env", "production"]].concat());
    assert!(production.stdout.contains("Plan: 8000 to create."), "{}", production.snapshot());
}

/// Issue #25: 50,000 creates print under 200 lines by default, piped or not: per scope and
/// action the count and the first 20 keys, naming `--show-all`, which prints them all; JSON is
/// always complete. `apply` prints the same capped plan before it writes.
#[test]
fn a_big_plan_shows_counts_and_the_first_keys_unless_show_all() {
    let mut yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: f/\n    keys:\n"
    );
    for i in 0..50_000 {
        yaml.push_str(&format!("      f/{i:05}: \"v{i}\"\n"));
    }
    let test = Test::new().file("kvsync.yaml", yaml);
    let plan = test.run(&local("plan"));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.lines().count() < 200, "{}", plan.stdout.lines().count());
    insta::assert_snapshot!("big_plan_capped", plan.stdout);
    let all = test.run(&[&local("plan")[..], &["--show-all"]].concat());
    assert_eq!(all.stdout.lines().filter(|l| l.starts_with("  + f/")).count(), 50_000);
    let json = test.run(&[&local("plan")[..], &["--format", "json"]].concat());
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(document["changes"].as_array().map(Vec::len), Some(50_000), "JSON is complete");
    let apply = test.run(&[&local("apply")[..], &["--auto-approve"]].concat());
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    assert!(apply.stdout.lines().count() < 200, "{}", apply.stdout.lines().count());
}
