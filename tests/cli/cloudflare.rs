use kv_standin::{Endpoint, Fault, MalformedBody, Options, RetryAfter, Standin};

use crate::support::{Cloud, Config, NS, Test, copy_tree, repo};

/// A config of `n` keys `f/0000`… in one scope on [`NS`].
fn config(n: usize, value: &str) -> String {
    (0..n)
        .fold(Config::new(), |config, i| {
            config.entry(&format!("f/{i:04}"), &format!("\"{value}-{i}\""))
        })
        .yaml()
}

/// `apply --verify` reads back what it changed: here fewer bulk gets (100 keys each) than the
/// listing has pages, so no list request beyond the plan's own; the request floor of apply
/// without `--verify` is unchanged.
#[test]
fn apply_verify_reads_back_the_changes_at_the_cheaper_cost() {
    let cloud = Cloud::new(&config(1_500, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert_eq!(cloud.standin.counts().total, 2, "{:?}", cloud.standin.counts());

    cloud.test.write("kvsync.yaml", config(1_500, "v").replace("\"v-7\"", "\"w-7\""));
    cloud.standin.reset_counts();
    // (`--no-snapshot`: this counts what `--verify` reads; the snapshot's reads are counted in
    // `requests_stay_at_the_floor`.)
    let verified =
        cloud.run(&["apply", "--auto-approve", "--no-value-diff", "--verify", "--no-snapshot"]);
    assert_eq!(verified.code, 0, "{}", verified.snapshot());
    assert!(
        verified.stderr.contains("Verified: the store shows the change as planned."),
        "{}",
        verified.snapshot()
    );
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_put, counts.bulk_get), (2, 1, 1), "{counts:?}");
}

/// `apply --verify` after an apply whose every write failed: nothing was changed, so nothing is
/// read back, and the run says so instead of "all 0 changes" verified.
#[test]
fn apply_verify_of_an_apply_that_wrote_nothing_reads_nothing() {
    let cloud = Cloud::new(&config(1, "v"));
    // The first write and its three retries report the key unsuccessful.
    for _ in 0..4 {
        cloud.standin.inject(Fault::Unsuccessful { keys: vec!["f/0000".into()] });
    }
    let apply = cloud.run(&["apply", "--auto-approve", "--verify", "--no-snapshot"]);
    assert_eq!(apply.code, 1, "{}", apply.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_put, counts.bulk_get), (1, 4, 0), "{counts:?}");
    insta::assert_snapshot!(apply.snapshot());
}

/// The product's headline (DESIGN.md §9): a plan costs ⌈N/1000⌉ list requests and no value
/// reads; puts go out ⌈P/10,000⌉ to a request, deletes ⌈D/10,000⌉; value diffs cost ⌈U/100⌉
/// bulk gets. The numbers are those of issue #3.
#[test]
fn requests_stay_at_the_floor() {
    let cloud = Cloud::new(&config(25_000, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_put, counts.total), (1, 3, 4), "{counts:?}");

    // 25,000 keys in scope and no changes: exactly 25 list requests and nothing else.
    cloud.standin.reset_counts();
    let again = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert_eq!(again.stdout.trim(), "No changes. 25000 unchanged.");
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.total), (25, 25), "{counts:?}");

    // The value diffs of 250 updated text keys take 3 bulk gets (`--show-all`: without it, a
    // plan over 200 changes shows, and reads, the first 20 keys of each action).
    let edit = |keys: std::ops::Range<usize>, value: &str| -> String {
        config(25_000, "v")
            .lines()
            .filter_map(|line| {
                let index = line
                    .trim()
                    .strip_prefix("f/")
                    .and_then(|rest| rest.split(':').next()?.parse::<usize>().ok());
                match index {
                    Some(i) if keys.contains(&i) && value.is_empty() => None,
                    Some(i) if keys.contains(&i) => {
                        Some(line.replace("\"v-", &format!("\"{value}-")))
                    }
                    _ => Some(line.to_owned()),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    cloud.test.write("kvsync.yaml", edit(0..250, "w"));
    cloud.standin.reset_counts();
    let diffs = cloud.run(&["plan", "--detailed-exitcode", "--show-all"]);
    assert_eq!(diffs.code, 2, "{}", diffs.snapshot());
    assert!(diffs.stdout.contains("Plan: 250 to update, 24750 unchanged."), "{}", diffs.stdout);
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_get, counts.total), (25, 3, 28), "{counts:?}");

    // 12,000 puts go out as 2 bulk writes and 3,000 deletes as 1 bulk delete; the snapshot of
    // those 15,000 keys, all text written by kvsync, is 150 bulk gets.
    let mut edited = edit(0..12_000, "x");
    edited = edited
        .lines()
        .filter(|line| {
            let index = line
                .trim()
                .strip_prefix("f/")
                .and_then(|rest| rest.split(':').next()?.parse::<usize>().ok());
            !matches!(index, Some(i) if (22_000..25_000).contains(&i))
        })
        .collect::<Vec<_>>()
        .join("\n");
    cloud.test.write("kvsync.yaml", edited);
    cloud.standin.reset_counts();
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff", "--max-deletes", "3000"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(
        apply.stdout.contains("Apply complete: 12000 written, 3000 deleted."),
        "{}",
        apply.stdout
    );
    let counts = cloud.standin.counts();
    assert_eq!(
        (counts.list, counts.bulk_get, counts.get_value, counts.bulk_put, counts.bulk_delete),
        (25, 150, 0, 2, 1),
        "{counts:?}"
    );
    assert_eq!(counts.total, 178, "{counts:?}");
    assert_eq!(cloud.standin.keys(NS).len(), 22_000);
}

/// Under random faults (20 % of requests rate limited, 10 % of writes answered 503 after they
/// took effect), apply converges, nothing is lost, and unmanaged keys are never touched.
#[test]
fn apply_converges_under_random_faults() {
    let chaos = kv_standin::Chaos { seed: 7, rate_limited_percent: 20, lost_write_percent: 10 };
    let cloud = Cloud::with_options(
        &config(3000, "v"),
        Options { chaos: Some(chaos), ..Options::default() },
    );
    let theirs =
        serde_json::json!({"__kvsync": {"v": 1, "owner": "mobile", "sha256": "0".repeat(64)}});
    cloud.standin.seed(NS, "f/hand-made", b"by hand", None, None);
    cloud.standin.seed(NS, "f/zz-mobile", b"theirs", Some(theirs.clone()), None);
    let before = (cloud.standin.get(NS, "f/hand-made"), cloud.standin.get(NS, "f/zz-mobile"));

    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    cloud.test.write("kvsync.yaml", config(2000, "w"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff", "--max-deletes", "1000"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(
        apply.stdout.contains("Apply complete: 2000 written, 1000 deleted."),
        "{}",
        apply.stdout
    );

    let plan = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert_eq!(plan.stdout.trim(), "No changes. 2000 unchanged; 2 unmanaged keys left alone.");
    assert_eq!(cloud.standin.keys(NS).len(), 2002);
    let after = (cloud.standin.get(NS, "f/hand-made"), cloud.standin.get(NS, "f/zz-mobile"));
    assert_eq!(before, after, "unmanaged keys are untouched");
    assert!(cloud.standin.counts().injected > 0, "the faults did happen");
}

#[test]
fn binary_values_and_metadata_arrive_exactly() {
    let standin = Standin::start(Options::default());
    standin.create_namespace("a1b2c3d4e5f60718293a4b5c6d7e8f90");
    let test = Test::new()
        .env("CLOUDFLARE_API_TOKEN", standin.token())
        .env("CLOUDFLARE_ACCOUNT_ID", standin.account_id());
    copy_tree(&repo().join("examples/app-config"), &test.path().join("app"));
    let url = standin.base_url();
    let cwd = test.path().join("app");
    let apply = test.run_in(&cwd, &["apply", "--auto-approve", "--api-url", &url]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let logo = standin.get("a1b2c3d4e5f60718293a4b5c6d7e8f90", "config/logo.png").expect("logo");
    let on_disk = std::fs::read(repo().join("examples/app-config/assets/logo.png")).expect("png");
    assert_eq!(logo.value, on_disk);
    let metadata = logo.metadata.expect("metadata");
    assert_eq!(metadata["content_type"], "image/png");
    assert_eq!(metadata["__kvsync"]["owner"], "app-config");
    let again = test.run_in(&cwd, &["plan", "--detailed-exitcode", "--api-url", &url]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let cloud = Cloud::new(&config(3, "v"));
    cloud.standin.inject(Fault::RateLimited {
        endpoint: Endpoint::List,
        retry_after: RetryAfter::Seconds(1),
    });
    cloud.standin.inject(Fault::ServerError {
        endpoint: Endpoint::BulkPut,
        status: 503,
        after_effect: false,
    });
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.bulk_put, counts.injected), (2, 2, 2), "{counts:?}");
    assert_eq!(cloud.standin.keys(NS).len(), 3);
}

/// A 5xx after the write took effect: the retry writes the same batch again, which is safe, and
/// the next plan is empty.
#[test]
fn a_lost_answer_to_a_write_is_retried_safely() {
    let cloud = Cloud::new(&config(3, "v"));
    cloud.standin.inject(Fault::ServerError {
        endpoint: Endpoint::BulkPut,
        status: 502,
        after_effect: true,
    });
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert_eq!(cloud.standin.counts().bulk_put, 2);
    assert_eq!(cloud.run(&["plan", "--detailed-exitcode"]).code, 0);
}

#[test]
fn unsuccessful_keys_are_written_again() {
    let cloud = Cloud::new(&config(3, "v"));
    cloud.standin.inject(Fault::Unsuccessful { keys: vec!["f/0001".into()] });
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 3 written, 0 deleted."), "{}", apply.stdout);
    assert_eq!(cloud.standin.counts().bulk_put, 2);
    assert!(cloud.standin.get(NS, "f/0001").is_some());
}

#[test]
fn empty_pages_with_a_cursor_do_not_end_the_listing() {
    let cloud = Cloud::new(&config(3, "v"));
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    cloud.standin.inject(Fault::EmptyPageWithCursor { count: 2 });
    let plan = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "an early stop would plan 3 creates: {}", plan.snapshot());
}

#[test]
fn a_repeated_cursor_is_an_error_not_a_loop() {
    let cloud = Cloud::new(&config(1500, "v"));
    assert_eq!(cloud.run(&["apply", "--auto-approve", "--no-value-diff"]).code, 0);
    cloud.standin.inject(Fault::RepeatCursor);
    let plan = cloud.run(&["plan"]);
    assert_eq!(plan.code, 1, "{}", plan.snapshot());
    assert!(plan.stderr.contains("twice"), "{}", plan.stderr);
}

#[test]
fn malformed_answers_are_clear_errors_and_write_nothing() {
    for body in [
        MalformedBody::Html,
        MalformedBody::Truncated,
        MalformedBody::Empty,
        MalformedBody::NotJson,
    ] {
        let cloud = Cloud::new(&config(2, "v"));
        cloud.standin.inject(Fault::Malformed { endpoint: Endpoint::List, body, status: 200 });
        let apply = cloud.run(&["apply", "--auto-approve"]);
        assert_eq!(apply.code, 1, "{body:?}: {}", apply.snapshot());
        assert!(apply.stderr.starts_with("error: "), "{body:?}: {}", apply.stderr);
        assert!(!apply.stderr.contains("panicked"), "{}", apply.stderr);
        assert_eq!(cloud.standin.counts().bulk_put, 0, "nothing written after a bad listing");
    }
}

#[test]
fn a_stalled_answer_times_out_and_is_retried() {
    let cloud = Cloud::new(&config(2, "v"));
    cloud.standin.inject(Fault::Stall {
        endpoint: Endpoint::List,
        duration: std::time::Duration::from_secs(4),
    });
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert_eq!(cloud.standin.counts().list, 2);
}

#[test]
fn a_failed_batch_reports_what_was_written_and_a_rerun_converges() {
    let cloud = Cloud::new(&config(3, "v"));
    cloud.standin.inject(Fault::ApiError {
        endpoint: Endpoint::BulkPut,
        status: 400,
        code: 10001,
        message: "something went wrong".into(),
    });
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 1, "{}", apply.snapshot());
    assert!(
        apply.stdout.contains("Apply incomplete: 0 written, 0 deleted, 3 failed"),
        "{}",
        apply.stdout
    );
    assert!(apply.stdout.contains("something went wrong (code 10001)"), "{}", apply.stdout);
    assert!(apply.stderr.contains("run `kvsync apply` again"), "{}", apply.stderr);
    let rerun = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(rerun.code, 0, "{}", rerun.snapshot());
    assert_eq!(cloud.standin.keys(NS).len(), 3);
}

#[test]
fn credentials_come_from_the_environment_and_never_show() {
    let cloud = Cloud::new(&config(1, "v"));
    let no_token = Test::new().file("kvsync.yaml", config(1, "v"));
    let out = no_token.run(&["plan", "--api-url", &cloud.standin.base_url()]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("CLOUDFLARE_API_TOKEN"), "{}", out.stderr);
    assert!(out.stderr.contains("--target local"), "{}", out.stderr);

    let no_account =
        Test::new().file("kvsync.yaml", config(1, "v")).env("CLOUDFLARE_API_TOKEN", "t");
    let out = no_account.run(&["plan", "--api-url", &cloud.standin.base_url()]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("CLOUDFLARE_ACCOUNT_ID"), "{}", out.stderr);

    let secret = "this-token-must-never-be-printed";
    let wrong = Test::new()
        .file("kvsync.yaml", config(1, "v"))
        .env("CLOUDFLARE_API_TOKEN", secret)
        .env("CLOUDFLARE_ACCOUNT_ID", cloud.standin.account_id());
    let out = wrong.run(&["plan", "-vv", "--api-url", &cloud.standin.base_url()]);
    assert_eq!(out.code, 1);
    assert!(!out.snapshot().contains(secret), "{}", out.snapshot());
    assert!(out.stderr.contains("code 10000"), "{}", out.stderr);
    assert!(out.stderr.contains("Workers KV Storage"), "{}", out.stderr);
}

#[test]
fn an_unknown_namespace_gets_a_hint() {
    let cloud = Cloud::new(&config(1, "v").replace(NS, "ffffffffffffffffffffffffffffffff"));
    let out = cloud.run(&["plan"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("unknown_namespace", out.snapshot());
}

/// `list_shards` lists a large scope in parallel, one listing per shard: each costs its own
/// last, partial page, and a key outside every shard is outside the scope (never reported or
/// touched), while the plan of the keys inside is the same as without shards.
#[test]
fn list_shards_list_in_parallel_and_bound_the_scope() {
    let mut yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \"f/\"\n    \
         list_shards: [\"f/b\", \"f/a\"]\n    keys:\n"
    );
    for i in 0..1499 {
        yaml.push_str(&format!("      f/a{i:04}: \"v\"\n      f/b{i:04}: \"v\"\n"));
    }
    let cloud = Cloud::new(&yaml);
    cloud.standin.seed(NS, "f/zz-by-hand", b"hand", None, None);
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("2998 to create"), "{}", apply.stdout);

    cloud.standin.reset_counts();
    let plan = cloud.run(&["plan", "--format", "json"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let document: serde_json::Value = serde_json::from_str(&plan.stdout).expect("JSON");
    assert_eq!(document["scopes"][0]["summary"]["unchanged"], 2998, "{document}");
    assert_eq!(document["scopes"][0]["unmanaged"], serde_json::json!([]), "{document}");
    // Two shards of 1,499 keys: two pages each, where one listing of 2,999 takes three.
    let counts = cloud.standin.counts();
    assert_eq!((counts.list, counts.total), (4, 4), "{counts:?}");

    // Without shards the hand-written key is in the scope again, and unmanaged.
    cloud.test.write("kvsync.yaml", yaml.replace("    list_shards: [\"f/b\", \"f/a\"]\n", ""));
    cloud.standin.reset_counts();
    let whole = cloud.run(&["plan", "--format", "json"]);
    let document: serde_json::Value = serde_json::from_str(&whole.stdout).expect("JSON");
    assert_eq!(document["scopes"][0]["unmanaged"], serde_json::json!(["f/zz-by-hand"]));
    assert_eq!(cloud.standin.counts().list, 3);
    assert_eq!(
        cloud.standin.get(NS, "f/zz-by-hand").map(|k| k.value.to_vec()),
        Some(b"hand".to_vec())
    );
}

/// The listing starts while the keys are still being read, but a problem in the config is
/// still what a run reports when the target fails too: the namespace does not exist, or there
/// is no token.
#[test]
fn a_config_problem_wins_over_a_failing_target() {
    let broken = config(3, "v").replace(NS, "ffffffffffffffffffffffffffffffff")
        + "      f/bad:\n        value: x\n        expiration_ttl: 5\n";
    let cloud = Cloud::new(&broken);
    for args in [&["plan"][..], &["drift"], &["apply", "--auto-approve"]] {
        let out = cloud.run(args);
        assert_eq!(out.code, 1, "{}", out.snapshot());
        assert!(out.stderr.contains("kvsync.yaml:"), "{}", out.stderr);
        assert!(out.stderr.contains("60"), "{}", out.stderr);
        assert!(!out.stderr.contains("refused"), "{}", out.stderr);
    }
    let no_token = Cloud { test: cloud.test.env("CLOUDFLARE_API_TOKEN", ""), ..cloud };
    let out = no_token.test.run(&["plan"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("kvsync.yaml:"), "{}", out.stderr);
    assert!(!out.stderr.contains("token"), "{}", out.stderr);
}

/// Whether SIGINT is still pending for the process (Linux's `/proc/PID/status`: `SigPnd` and
/// `ShdPnd` are masks where SIGINT, signal 2, is bit 1). Without `/proc`, never.
#[cfg(unix)]
fn sigint_pending(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    status.lines().any(|line| {
        let mask = line.strip_prefix("SigPnd:").or_else(|| line.strip_prefix("ShdPnd:"));
        mask.and_then(|m| u64::from_str_radix(m.trim(), 16).ok()).is_some_and(|m| m & 0b10 != 0)
    })
}

/// Ctrl-C during a batch lets that batch finish, starts no other, and reports the rest as not
/// attempted; a rerun finishes the job. The stand-in holds the first batch until the signal has
/// been taken, so nothing races a timer.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_between_batches() {
    let cloud = Cloud::new(&config(10_001, "v"));
    cloud.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
    let url = cloud.standin.base_url();
    // The plan of 10,001 lines would fill a pipe nobody reads yet: send stdout to a file.
    let stdout_path = cloud.test.path().join("stdout.txt");
    let stdout_file = std::fs::File::create(&stdout_path).expect("stdout file");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kvsync"))
        .args(["apply", "--auto-approve", "--no-value-diff", "--api-url", &url])
        .current_dir(cloud.test.path())
        .env("CLOUDFLARE_API_TOKEN", cloud.standin.token())
        .env("CLOUDFLARE_ACCOUNT_ID", cloud.standin.account_id())
        .env("KVSYNC_HTTP_TIMEOUT_MS", "10000")
        .env("NO_COLOR", "1")
        .stdout(stdout_file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kvsync");
    // Wait until the first bulk write is held, then interrupt, and let it go once the signal
    // is no longer pending (where `/proc` says so).
    while cloud.standin.counts().bulk_put == 0 {
        assert!(child.try_wait().expect("wait").is_none(), "kvsync ended before its first batch");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let signal = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(signal.success());
    while sigint_pending(child.id()) {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    cloud.standin.release();
    let output = child.wait_with_output().expect("wait");
    let stdout = std::fs::read_to_string(&stdout_path).expect("stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("apply did not finish"), "{stderr}");
    assert!(
        stdout.contains(
            "Apply incomplete: 10000 written, 0 deleted, 0 failed, 1 not attempted (interrupted)."
        ),
        "{stdout}"
    );
    assert_eq!(cloud.standin.counts().bulk_put, 1);
    assert_eq!(cloud.standin.keys(NS).len(), 10_000);
    let rerun = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert!(rerun.stdout.contains("Plan: 1 to create, 10000 unchanged."), "{}", rerun.snapshot());
}

#[test]
fn verbose_runs_report_their_request_counts() {
    let cloud = Cloud::new(&config(3, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "-v"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(
        apply.stderr.contains(
            "Cloudflare API: 2 requests: 1 list, 0 bulk get, 0 single get, 1 bulk write, 0 single write, 0 bulk delete (0 retries)"
        ),
        "{}",
        apply.stderr
    );
}

/// Without a terminal, progress is a plain line every few seconds on stderr (here every
/// millisecond); stdout keeps only the data, and `-q` silences progress.
#[test]
fn progress_goes_to_stderr_and_q_silences_it() {
    let cloud = Cloud::with_options(
        &config(2500, "v"),
        Options { list_latency: std::time::Duration::from_millis(20), ..Options::default() },
    );
    let cloud =
        Cloud { test: cloud.test.env("KVSYNC_PROGRESS_EVERY_MS", "1"), standin: cloud.standin };
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff", "--format", "json"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stderr.contains("listing: "), "{}", apply.stderr);
    assert!(apply.stderr.contains("loading: "), "{}", apply.stderr);
    assert!(apply.stderr.contains("applying: 2500/2500 keys"), "{}", apply.stderr);
    let document: serde_json::Value =
        serde_json::from_str(&apply.stdout).expect("stdout is pure JSON");
    assert_eq!(document["result"]["written"], 2500);
    let quiet = cloud.run(&["plan", "-q"]);
    assert_eq!(quiet.code, 0);
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}

/// Issue 15 item 8: credentials written into `--api-url` never show, not even with `-v`.
#[test]
fn credentials_in_the_api_url_never_show() {
    let cloud = Cloud::new(&config(1, "v"));
    let url = cloud.standin.base_url().replacen("://", "://someone:pa55word@", 1);
    let out = cloud.test.run(&["plan", "-v", "--api-url", &url]);
    let shown = out.snapshot();
    assert!(!shown.contains("pa55word") && !shown.contains("someone"), "{shown}");
    let plain = cloud.standin.base_url();
    assert!(out.stderr.contains(&format!("target: Cloudflare API `{plain}`")), "{shown}");
}

/// A listing page whose `result` is `null` is no empty namespace: taken for one, the desired
/// keys would never be checked for conflicts (issue 15, item 5).
#[test]
fn a_listing_whose_result_is_null_fails_the_plan() {
    let cloud = Cloud::new(&config(2, "v"));
    let theirs =
        serde_json::json!({"__kvsync": {"v": 1, "owner": "mobile", "sha256": "0".repeat(64)}});
    cloud.standin.seed(NS, "f/0000", b"theirs", Some(theirs), None);
    cloud.standin.inject(Fault::NullResult { endpoint: Endpoint::List });
    let plan = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 1, "{}", plan.snapshot());
    assert!(plan.stderr.contains("`result` is null, not a page of keys"), "{}", plan.stderr);
    assert!(!plan.stdout.contains("to create"), "{}", plan.stdout);
}

/// A text read drops a leading U+FEFF: an adopt is read as bytes, so a byte order mark added
/// by hand is a diff, never "value unchanged" (issue 15, item 11).
#[test]
fn an_adopt_is_read_as_bytes_and_never_unchanged_by_a_dropped_bom() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         greeting: \"hello\"\n      plain: \"same\"\n"
    );
    let cloud = Cloud::new(&yaml);
    cloud.standin.seed(NS, "greeting", "\u{FEFF}hello".as_bytes(), None, None);
    cloud.standin.seed(NS, "plain", b"same", None, None);
    let plan = cloud.run(&["plan", "-v"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let greeting = plan.stdout.split("plain").next().expect("greeting first");
    assert!(!greeting.contains("value unchanged"), "{}", plan.stdout);
    assert!(!greeting.contains("marker only"), "{}", plan.stdout);
    // Read as bytes and equal: only the marker is new.
    assert!(plan.stdout.contains("! plain (adopt, marker only"), "{}", plan.stdout);
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.get_value), (0, 2), "{counts:?}");
}

/// A value that begins with a byte order mark is read as bytes by `drift --deep`: a text read
/// would drop the mark and report drift where there is none (issue 15, item 11).
#[test]
fn deep_drift_reads_a_bom_value_as_bytes() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         bom: \"\\uFEFFhello\"\n      text: \"plain\"\n"
    );
    let cloud = Cloud::new(&yaml);
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert_eq!(cloud.standin.get(NS, "bom").map(|k| k.value), Some("\u{FEFF}hello".into()));
    cloud.standin.reset_counts();
    let drift = cloud.run(&["drift", "--deep"]);
    assert_eq!(drift.code, 0, "{}", drift.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.get_value), (0, 2), "{counts:?}");
}

/// `export` reads text through bulk get, which drops a leading U+FEFF: it says which values
/// it cannot prove byte-exact (issue 15, item 11).
#[test]
fn export_warns_about_values_read_as_text() {
    let cloud = Cloud::new("");
    cloud.standin.seed(NS, "bom", "\u{FEFF}hello".as_bytes(), None, None);
    let export = cloud.run(&["export", "--namespace-id", NS, "-o", "-"]);
    assert_eq!(export.code, 0, "{}", export.snapshot());
    assert!(
        export.stderr.contains("1 value was read as text, which drops a leading byte order mark"),
        "{}",
        export.stderr
    );
    assert!(export.stderr.contains("- \"bom\""), "{}", export.stderr);
}

/// Binary values are read singly by `drift --deep` (bulk get is documented for text only),
/// and the cost line counts what Cloudflare bills: a refused or retried request is no billed
/// list (issue 15, items 13 and 16).
#[test]
fn binary_values_are_read_singly_and_retries_are_not_billed() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         logo.bin: {{file: logo.bin}}\n      text: \"plain\"\n"
    );
    let cloud = Cloud::new(&yaml);
    cloud.test.write("logo.bin", [0x89, b'P', b'N', b'G', 0xff, 0xfe]);
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    cloud.standin.reset_counts();
    let drift = cloud.run(&["drift", "--deep"]);
    assert_eq!(drift.code, 0, "{}", drift.snapshot());
    assert!(drift.stderr.contains("2 single GETs"), "{}", drift.stderr);
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.get_value), (0, 2), "{counts:?}");

    cloud.test.write("kvsync.yaml", yaml.replace("\"plain\"", "\"changed\""));
    cloud.standin.inject(Fault::ServerError {
        endpoint: Endpoint::List,
        status: 503,
        after_effect: false,
    });
    let plan = cloud.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(
        plan.stdout.contains(
            "Cost: 2 list requests and 1 read request so far; apply will send 1 snapshot read \
             and 1 bulk write (billed: 1 list, 2 reads, 1 write)."
        ),
        "{}",
        plan.stdout
    );
    // One rule for the cost line in every format: Cloudflare meters requests, and the plan has
    // changes. (The local target bills nothing and shows none.)
    // (Apply's snapshot will read the changed key once more: a read it counts.)
    let cost = "Cost: 1 list request and 1 read request so far; apply will send 1 snapshot read \
                and 1 bulk write (billed: 1 list, 2 reads, 1 write).";
    let markdown = cloud.run(&["plan", "--format", "markdown"]);
    assert!(markdown.stdout.contains(&format!("\n{cost}\n")), "{}", markdown.stdout);
    let json = cloud.run(&["plan", "--format", "json"]);
    assert!(json.stdout.contains(&format!("\"line\": \"{cost}\"")), "{}", json.stdout);
}

/// Cloudflare is reported to answer 404 for some keys that exist (workers-sdk issue #7997): a
/// listed key whose single read says "key not found" is that key's error, never drift, and the
/// other reads go on (issue 15, item 5).
#[test]
fn a_listed_key_that_404s_on_a_single_read_is_an_error_not_drift() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         a.bin: {{file: a.bin}}\n      b.bin: {{file: b.bin}}\n"
    );
    let cloud = Cloud::new(&yaml);
    cloud.test.write("a.bin", [0xff, 1]);
    cloud.test.write("b.bin", [0xff, 2]);
    let apply = cloud.run(&["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    cloud.standin.inject(Fault::ApiError {
        endpoint: Endpoint::GetValue,
        status: 404,
        code: 10009,
        message: "get: 'key not found'".into(),
    });
    let drift = cloud.run(&["drift", "--deep"]);
    assert_eq!(drift.code, 1, "{}", drift.snapshot());
    assert!(!drift.stdout.contains("gone"), "{}", drift.stdout);
    assert!(drift.stderr.contains("could not read the value of 1 listed key"), "{}", drift.stderr);
    // (Which of the two concurrent reads gets the 404 is the server's arrival order.)
    assert!(drift.stderr.contains("  - a.bin: ") != drift.stderr.contains("  - b.bin: "));
    assert_eq!(cloud.standin.counts().get_value, 2);
}

/// Reads follow the rendering (issue #25): a Markdown plan lists the first 50 keys of each
/// group and reads only their values, where a human plan (every diff) reads all; the billed
/// reads the stand-in counts are those the cost line states.
#[test]
fn a_markdown_plan_reads_no_value_it_does_not_show() {
    let cloud = Cloud::new(&config(300, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    // 200 updates and 100 deletes: one group of 200, one of 100.
    let edited: String = config(200, "w");
    cloud.test.write("kvsync.yaml", edited);

    cloud.standin.reset_counts();
    let markdown =
        cloud.run(&["plan", "--format", "markdown", "--detailed-exitcode", "--max-deletes", "100"]);
    assert_eq!(markdown.code, 2, "{}", markdown.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.keys_read), (1, 50), "{counts:?}");
    // The cost line's reads: the 50 diffs, and the 300 values apply's snapshot will read.
    assert!(markdown.stdout.contains("billed: 1 list, 350 reads,"), "{}", markdown.stdout);
    assert_eq!(markdown.stdout.matches("<summary>Value diff</summary>").count(), 50);
    assert!(markdown.stdout.contains("\n- … and 150 more\n"), "{}", markdown.stdout);

    // Over 200 changes the human plan shows the first 20 keys of each action, and reads theirs.
    cloud.standin.reset_counts();
    let human = cloud.run(&["plan", "--detailed-exitcode", "--max-deletes", "100"]);
    assert_eq!(human.code, 2, "{}", human.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.keys_read), (1, 20), "{counts:?}");
    // 20 diffs, and the 300 values apply's snapshot will read.
    assert!(human.stdout.contains("billed: 1 list, 320 reads,"), "{}", human.stdout);
    cloud.standin.reset_counts();
    let all = cloud.run(&["plan", "--show-all", "--max-deletes", "100"]);
    assert_eq!(all.code, 0, "{}", all.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.keys_read), (2, 200), "{counts:?}");
    assert!(all.stdout.contains("billed: 1 list, 500 reads,"), "{}", all.stdout);

    cloud.standin.reset_counts();
    let none =
        cloud.run(&["plan", "--format", "markdown", "--no-value-diff", "--max-deletes", "100"]);
    assert_eq!(none.code, 0, "{}", none.snapshot());
    assert_eq!(cloud.standin.counts().keys_read, 0);
}

/// Issue #25: a job summary (1 MiB) lists every key of a 5,000-change plan and the diff of every
/// update, while the comment lists the first 50 of each group; the values read are exactly the
/// diffs the job summary shows. A smaller job summary reads only about what its diffs fill.
#[test]
fn a_job_summary_lists_every_key_and_reads_only_the_diffs_it_shows() {
    let cloud = Cloud::new(&config(5_000, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    // 2,000 updates and 3,000 deletes.
    cloud.test.write("kvsync.yaml", config(2_000, "w"));
    let path = |name: &str| cloud.test.path().join(name).display().to_string();
    let read = |name: &str| std::fs::read_to_string(path(name)).expect("rendering");
    let plan = |summary_budget: usize| {
        cloud.standin.reset_counts();
        let summary = format!("{}:{summary_budget}:the job summary", path("summary.md"));
        let comment = format!("{}:64000:the pull-request comment", path("comment.md"));
        // The Action's log rendering: 64 MiB on stdout.
        let args = [
            "plan",
            "--format",
            "markdown",
            "--max-deletes",
            "3000",
            "--max-chars",
            "67108864",
            "--markdown-out",
            &summary,
            "--markdown-out",
            &comment,
        ];
        let out = cloud.run(&args);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        (out, cloud.standin.counts().keys_read)
    };
    let diffs = |text: &str| text.matches("<summary>Value diff</summary>").count();

    let (log, keys_read) = plan(1_048_576);
    let summary = read("summary.md");
    assert!(summary.len() <= 1_048_576);
    assert_eq!(summary.matches("\n- `~` ").count(), 2_000, "{}", &summary[..2_000]);
    assert_eq!(summary.matches("\n- `-` ").count(), 3_000);
    assert!(!summary.contains("more"), "{}", &summary[..2_000]);
    assert_eq!(diffs(&summary), 2_000);
    assert_eq!(keys_read, 2_000);
    // The log shows the diffs that were read, and reads nothing of its own.
    assert_eq!(diffs(&log.stdout), 2_000);
    let comment = read("comment.md");
    assert!(comment.len() <= 64_000);
    assert_eq!(comment.matches("\n- `~` ").count(), 50);
    let more = |n: usize| format!("\n- … and {n} more (the whole report is in the job summary)\n");
    assert!(comment.contains(&more(1950)), "{comment}");
    assert!(comment.contains(&more(2950)), "{comment}");

    // A job summary of 200,000 characters holds the 5,000 key lines and some diffs: the
    // values read are those diffs, and at most a value or two more (the last step's).
    let (_, keys_read) = plan(200_000);
    let summary = read("summary.md");
    let shown = diffs(&summary);
    assert!(summary.len() <= 200_000);
    assert!(shown > 100 && shown < 2_000, "{shown}");
    assert!(
        keys_read >= shown as u64 && keys_read <= shown as u64 + 2,
        "{keys_read} read, {shown} shown"
    );
}

/// Issue #25: reading the values for diffs is not silent: `reading values n/N`, like listing's
/// line (here without a terminal, a line after every bulk get, and a last one).
#[test]
fn reading_values_shows_its_progress() {
    let cloud = Cloud::new(&config(150, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    cloud.test.write("kvsync.yaml", config(150, "w"));
    let url = cloud.standin.base_url();
    let plan =
        cloud.test.run_with_env(&["plan", "--api-url", &url], &[("KVSYNC_PROGRESS_EVERY_MS", "0")]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    let lines: Vec<&str> =
        plan.stderr.lines().filter(|line| line.starts_with("reading values")).collect();
    insta::with_settings!({filters => vec![(r"\(\d+/s\)", "([RATE]/s)")]}, {
        insta::assert_snapshot!("reading_values", lines.join("\n"));
    });
}

/// Issue #25: an unreachable `--api-url` is not minutes of silence: one stderr line per retry,
/// with the wait, the attempt and why; none under `-q`.
#[test]
fn each_retry_is_one_line_on_stderr_and_q_silences_them() {
    let cloud = Cloud::new(&config(1, "v"));
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/client/v4");
    let plan = cloud.test.run(&["plan", "--api-url", &url]);
    assert_eq!(plan.code, 1, "{}", plan.snapshot());
    let retries: Vec<&str> =
        plan.stderr.lines().filter(|line| line.starts_with("retrying in ")).collect();
    insta::with_settings!({filters => vec![(r"retrying in \d+ (ms|s)", "retrying in [WAIT]")]}, {
        insta::assert_snapshot!("retry_lines", retries.join("\n"));
    });
    let quiet = cloud.test.run(&["plan", "-q", "--api-url", &url]);
    assert_eq!(quiet.code, 1, "{}", quiet.snapshot());
    assert!(!quiet.stderr.contains("retrying"), "{}", quiet.stderr);
    assert!(quiet.stderr.contains("error: could not reach the Cloudflare API"), "{}", quiet.stderr);
}

/// Binary values too large for a bulk item (over 19,660,800 bytes) go through the single-key
/// PUT as a file part, which kv-standin, like a Worker's `request.formData()`, keeps as bytes:
/// a part without a `filename` would be decoded as UTF-8 text, stored mangled (the sparse
/// one) or refused as too large once decoded (the dense one).
#[test]
fn large_binary_values_round_trip_byte_exact() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         dense: {{file: dense.bin}}\n      sparse: {{file: sparse.bin, metadata: {{kind: blob}}}}\n"
    );
    let cloud = Cloud::new(&yaml);
    let dense = crate::support::binary(20 * 1024 * 1024, false);
    let sparse = crate::support::binary(19_660_801, true);
    cloud.test.write("dense.bin", &dense);
    cloud.test.write("sparse.bin", &sparse);
    // 40 MiB through a debug-build stand-in on a loaded machine: more than the suite's 2 s.
    let url = cloud.standin.base_url();
    let apply = cloud.test.run_with_env(
        &["apply", "--auto-approve", "--verify", "--api-url", &url],
        &[("KVSYNC_HTTP_TIMEOUT_MS", "60000"), ("KVSYNC_VERIFY_WINDOW_MS", "20000")],
    );
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert_eq!(cloud.standin.counts().put_value, 2, "{:?}", cloud.standin.counts());
    assert!(cloud.standin.get(NS, "dense").is_some_and(|k| k.value == dense));
    let stored = cloud.standin.get(NS, "sparse").expect("stored");
    assert!(stored.value == sparse, "the sparse value arrived changed");
    assert_eq!(stored.metadata.expect("metadata")["kind"], "blob");
    let again = cloud.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
}

/// A binary value over 19,660,800 bytes goes through the single-key PUT, which names the key
/// in its URL: on a key Cloudflare is reported to refuse there, `validate` says so (issue 15,
/// item 12).
#[test]
fn a_large_binary_value_on_a_key_unsafe_in_a_url_is_a_validate_error() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         \"big^one\": {{file: big.bin}}\n      fine: {{file: big.bin}}\n"
    );
    let cloud = Cloud::new(&yaml);
    cloud.test.write("big.bin", vec![0xffu8; 19_660_801]);
    let validate = cloud.run(&["validate"]);
    assert_eq!(validate.code, 1, "{}", validate.snapshot());
    assert!(
        validate.stderr.contains("key `big^one` cannot be written with the single-key PUT"),
        "{}",
        validate.stderr
    );
    assert!(!validate.stderr.contains("key `fine`"), "{}", validate.stderr);
}

/// `pull` reads every value it reads as bytes, once: a text (bulk) read drops a leading U+FEFF,
/// which would otherwise be lost from the config (a hand edit that kept the marker and only
/// added one would not even be seen). On Cloudflare that is one request per value read.
#[test]
fn pull_reads_what_it_writes_back_as_bytes() {
    let yaml = format!(
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
         greeting: \"hello\"\n      plain: \"same\"\n"
    );
    let cloud = Cloud::new(&yaml);
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    let metadata = cloud.standin.get(NS, "greeting").and_then(|k| k.metadata);
    cloud.standin.seed(NS, "greeting", "\u{FEFF}hello again".as_bytes(), metadata, None);
    cloud.standin.reset_counts();
    let out = cloud.run(&["pull", "--deep"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.get_value), (0, 2), "{counts:?}");
    let config = std::fs::read_to_string(cloud.test.path().join("kvsync.yaml")).expect("config");
    assert!(config.contains("greeting: \"\\uFEFFhello again\""), "{config}");
    let plan = cloud.run(&["plan"]);
    assert!(plan.stdout.contains("~ greeting (marker only: live already matches; apply rewrites kvsync's marker: 1 write)"), "{}", plan.stdout);
}

/// A put that only rewrites the marker (the live value, metadata and expiration are already
/// the desired ones; `2.0` is the number `2`) is found by reading its value as bytes: a text
/// read cannot prove a leading U+FEFF absent. Alone in its bulk get, it is read singly at
/// once, one request (not a bulk get, then a single read when the text is equal).
#[test]
fn a_marker_only_update_reads_the_value_as_bytes() {
    let yaml = |value: &str| {
        format!(
            "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    keys:\n      \
             greeting: {{value: \"{value}\", metadata: {{max: 2}}}}\n"
        )
    };
    let cloud = Cloud::new(&yaml("hello"));
    assert_eq!(cloud.run(&["apply", "--auto-approve"]).code, 0);
    // Live now holds what the config will say, under the old marker; the metadata written
    // another way (`2.0`) is the same JSON number.
    let mut metadata = cloud.standin.get(NS, "greeting").and_then(|k| k.metadata).expect("meta");
    metadata["max"] = serde_json::json!(2.0);
    cloud.standin.seed(NS, "greeting", b"hello again", Some(metadata), None);
    cloud.test.write("kvsync.yaml", yaml("hello again"));
    cloud.standin.reset_counts();
    let plan = cloud.run(&["plan"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(plan.stdout.contains("~ greeting (marker only:"), "{}", plan.stdout);
    let counts = cloud.standin.counts();
    assert_eq!((counts.bulk_get, counts.get_value), (0, 1), "{counts:?}");
}
