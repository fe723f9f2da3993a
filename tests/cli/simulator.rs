//! kvsync end to end against Cloudflare's own local KV simulator: miniflare running workerd, the
//! simulator `wrangler dev` uses, behind the small Worker in `tests/simulator/worker.js` that
//! speaks the KV REST API over a KV binding. Listing order, cursors, limits and expirations are
//! the simulator's, not ours (kv-standin covers request counts and faults; see `cloudflare.rs`).
//!
//! Needs Node 20+ and npm on `PATH`. The first simulator test installs the simulator itself
//! (`npm ci --prefix tests/simulator`, once, under a file lock; see [`provisioned`]): the one
//! time the test suite reaches the network, for the npm registry. A missing or old Node fails
//! every simulator test with the same message naming it; none is skipped. The simulator's clock
//! is the real one and cannot be set, so these tests run kvsync on the real clock too (no
//! `KVSYNC_NOW`); expiry is a conformance row on the imitations whose clock can be set
//! (`conformance.rs`), not a minute's wait here.
//!
//! One simulator serves the whole test binary ([`Simulator::shared`], started by the first test
//! that needs it): each test has a namespace of its own, so tests running at once never see
//! each other's keys.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::support::{Output, Test, copy_tree, repo};

/// The credentials the Worker accepts (passed to `serve.mjs`).
const TOKEN: &str = "kvsync-simulator-token";
const ACCOUNT: &str = "5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e";
/// The namespace of the conformance table (`conformance.rs`), the feature-flags example's id.
const FLAGS_NS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// One namespace per test of this file.
const CONVERGE_NS: &str = "51a0000000000000000000000000000a";
const ERRORS_NS: &str = "51a0000000000000000000000000000b";
const BOM_NS: &str = "51a0000000000000000000000000000c";
const BIG_NS: &str = "51a0000000000000000000000000000d";
const HOTFIX_NS: &str = "51a0000000000000000000000000000e";
const PULL_NS: &str = "51a0000000000000000000000000000f";
/// `diff --live`'s two environments (`diff.rs`).
pub(crate) const DIFF_STAGING_NS: &str = "51a00000000000000000000000000010";
pub(crate) const DIFF_PRODUCTION_NS: &str = "51a00000000000000000000000000011";
/// Every namespace the shared simulator serves.
/// `apply` and `restore` of `snapshot.rs`.
const SNAPSHOT_NS: &str = "51a00000000000000000000000000012";
const NAMESPACES: [&str; 10] = [
    FLAGS_NS,
    CONVERGE_NS,
    ERRORS_NS,
    BOM_NS,
    BIG_NS,
    HOTFIX_NS,
    PULL_NS,
    DIFF_STAGING_NS,
    DIFF_PRODUCTION_NS,
    SNAPSHOT_NS,
];

/// How long `serve.mjs` may take to print its port (two cores, other tests starting theirs).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The oldest Node the simulator runs on (miniflare's `engines`).
const NODE_MAJOR: u32 = 20;

/// Written into `node_modules` once `npm ci` has succeeded, holding the sha256 of the
/// `package-lock.json` it installed: `npm ci` empties `node_modules` first, so a killed install
/// leaves no marker and is never mistaken for a finished one, and a changed lock installs again.
const INSTALLED_MARKER: &str = "node_modules/.kvsync-installed";

/// Checks the prerequisites and installs the simulator when it is not installed yet, once per
/// test process. Every test that asks gets the same answer, so a machine without Node sees one
/// message, naming what is missing, in every simulator test.
pub(crate) fn provisioned() -> Result<(), String> {
    static ONCE: OnceLock<Result<(), String>> = OnceLock::new();
    ONCE.get_or_init(provision).clone()
}

fn provision() -> Result<(), String> {
    check_node()?;
    let dir = repo().join("tests/simulator");
    let lock_text = std::fs::read(dir.join("package-lock.json"))
        .map_err(|err| format!("cannot read tests/simulator/package-lock.json: {err}"))?;
    let wanted = {
        use sha2::Digest as _;
        base16ct::lower::encode_string(&sha2::Sha256::digest(&lock_text))
    };
    let installed = || std::fs::read_to_string(dir.join(INSTALLED_MARKER)).ok();
    if installed().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    // Other test processes (two `cargo test` runs, nextest) may be here at the same time: one
    // installs, the others wait for it and then find the marker.
    let lock_path = dir.join(".npm-ci.lock");
    let lock = std::fs::File::create(&lock_path)
        .map_err(|err| format!("cannot create `{}`: {err}", lock_path.display()))?;
    lock.lock().map_err(|err| format!("cannot lock `{}`: {err}", lock_path.display()))?;
    if installed().as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    say("the KV simulator is not installed: running `npm ci --prefix tests/simulator` once \
         (it downloads miniflare, TypeScript, @cloudflare/workers-types, the YAML test suite, \
         wrangler and, for this platform, a Node 22 package from the npm registry: about \
         610 MB)");
    let started = Instant::now();
    let output = Command::new(npm())
        .args(["ci", "--prefix"])
        .arg(&dir)
        .args(["--no-audit", "--no-fund"])
        .stdin(Stdio::null())
        .output()
        .map_err(|err| {
            format!(
                "npm is required to install the KV simulator for the simulator tests: cannot run \
                 it ({err}); it comes with Node {NODE_MAJOR}+"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`npm ci --prefix tests/simulator` failed ({}), so the simulator tests cannot run\n\
             --- npm stdout\n{}--- npm stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::write(dir.join(INSTALLED_MARKER), &wanted)
        .map_err(|err| format!("cannot write `{INSTALLED_MARKER}`: {err}"))?;
    say(&format!("the KV simulator is installed ({:.0?})", started.elapsed()));
    Ok(())
}

/// A program the simulator's npm lockfile installs (`tsc`), once [`provisioned`].
pub(crate) fn npm_bin(name: &str) -> std::path::PathBuf {
    repo().join("tests/simulator/node_modules/.bin").join(name)
}

/// A file the simulator's npm lockfile installs, once [`provisioned`].
pub(crate) fn npm_file(path: &str) -> std::path::PathBuf {
    repo().join("tests/simulator/node_modules").join(path)
}

/// Node, at least [`NODE_MAJOR`], on `PATH`.
fn check_node() -> Result<(), String> {
    let required = format!("node {NODE_MAJOR} or newer is required for the simulator tests");
    let output = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|_| format!("{required}: not found on PATH"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|major| major.parse::<u32>().ok());
    match major {
        Some(major) if output.status.success() && major >= NODE_MAJOR => Ok(()),
        _ => Err(format!("{required}: found `{version}` (`node --version`)")),
    }
}

/// npm's command: `npm.cmd` on Windows, where `npm` is a batch script.
fn npm() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

/// A line on the test process's own stderr, past the test harness's capture (which would show
/// it only for a failing test).
pub(crate) fn say(message: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "kvsync tests: {message}");
}

/// Who may use the shared simulator now: any number of tests at once, or one alone.
static TURNS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// A test's use of the shared simulator; it derefs to the simulator.
pub(crate) struct Turn {
    simulator: &'static Simulator,
    _guard: Guard,
}

enum Guard {
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
}

impl std::ops::Deref for Turn {
    type Target = Simulator;

    fn deref(&self) -> &Simulator {
        self.simulator
    }
}

/// One running simulator: `node tests/simulator/serve.mjs`, in memory, on an ephemeral port.
/// Dropping it closes the script's stdin, which stops workerd cleanly; a kill follows if not.
pub(crate) struct Simulator {
    child: Child,
    stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT/client/v4`
    base_url: String,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Simulator {
    /// The simulator of this test binary, started by the first caller (the others wait for it),
    /// shared with the other tests running at the same time.
    pub(crate) fn shared() -> Turn {
        let guard = TURNS.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Turn { simulator: Self::the_one(), _guard: Guard::Shared(guard) }
    }

    /// The simulator of this test binary, for this test alone while the turn lasts: a 20 MiB
    /// upload gets no answer from workerd while other requests come and go.
    pub(crate) fn alone() -> Turn {
        let guard = TURNS.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        Turn { simulator: Self::the_one(), _guard: Guard::Alone(guard) }
    }

    fn the_one() -> &'static Simulator {
        crate::support::timed();
        static SHARED: OnceLock<Simulator> = OnceLock::new();
        SHARED.get_or_init(Simulator::start)
    }

    fn start() -> Self {
        let dir = repo().join("tests/simulator");
        if let Err(problem) = provisioned() {
            panic!("{problem}");
        }
        let log_dir = tempfile::tempdir().expect("temp dir");
        let log = log_dir.path().join("serve.log");
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new("node")
            .arg(dir.join("serve.mjs"))
            .args(NAMESPACES.iter().flat_map(|ns| ["--namespace", ns]))
            .current_dir(&dir)
            .env("KV_SIMULATOR_TOKEN", TOKEN)
            .env("KV_SIMULATOR_ACCOUNT", ACCOUNT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot run `node` for the KV simulator ({err}): install Node 20+")
            });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = mpsc::channel();
        // Reads the one `listening …` line, then drains stdout so the script never blocks on it.
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening ")
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send(url.trim().to_owned());
                }
            }
        });
        let mut simulator = Self { child, stdin, base_url: String::new(), log, _log_dir: log_dir };
        match receiver.recv_timeout(START_TIMEOUT) {
            Ok(url) => simulator.base_url = url,
            Err(_) => {
                let status = simulator.child.try_wait().ok().flatten();
                let log = std::fs::read_to_string(&simulator.log).unwrap_or_default();
                panic!(
                    "the KV simulator did not start within {START_TIMEOUT:?} (exit: {status:?})\n\
                     --- serve.mjs stderr\n{log}"
                );
            }
        }
        simulator
    }

    /// kvsync's Cloudflare client on the simulator.
    pub(crate) fn client(&self) -> kvsync::kv::cloudflare::CloudflareStore {
        crate::support::cloudflare_client(self.base_url.clone(), ACCOUNT, TOKEN)
    }

    /// Runs kvsync in `cwd` against the simulator, on the real clock.
    pub(crate) fn kvsync(&self, test: &Test, cwd: &Path, args: &[&str]) -> Output {
        self.kvsync_as(test, cwd, args, TOKEN)
    }

    fn kvsync_as(&self, test: &Test, cwd: &Path, args: &[&str], token: &str) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kvsync"));
        command
            .args(args)
            .args(["--api-url", &self.base_url])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .env("NO_COLOR", "1")
            .env("CLOUDFLARE_API_TOKEN", token)
            .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT);
        // Like `Test::run`, minus the fixed clock: the simulator expires keys on the real one.
        for name in [
            "KVSYNC_NOW",
            "GITHUB_SHA",
            "CLICOLOR_FORCE",
            "CF_API_TOKEN",
            "CF_ACCOUNT_ID",
            "CLOUDFLARE_API_BASE_URL",
            "CF_API_BASE_URL",
        ] {
            command.env_remove(name);
        }
        for (name, value) in test.vars() {
            command.env(name, value);
        }
        let output = command.output().expect("run kvsync");
        let root = test.path().to_string_lossy().into_owned();
        let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&root, "[TEMP]");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: clean(&output.stdout),
            stderr: clean(&output.stderr),
        }
    }

    /// One raw request to the Worker, the way a person with curl (or another tool) would write
    /// keys by hand. `rest` follows `…/namespaces/{ns}/`.
    fn call(&self, method: &str, ns: &str, rest: &str, body: Option<&Value>) -> (u16, Vec<u8>) {
        self.call_as(method, ns, rest, body, TOKEN)
    }

    fn call_as(
        &self,
        method: &str,
        ns: &str,
        rest: &str,
        body: Option<&Value>,
        token: &str,
    ) -> (u16, Vec<u8>) {
        let url = format!("{}/accounts/{ACCOUNT}/storage/kv/namespaces/{ns}/{rest}", self.base_url);
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let body = body.map(|body| serde_json::to_vec(body).expect("json"));
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let mut request = reqwest::Client::new()
                .request(method, url)
                .header("authorization", format!("Bearer {token}"))
                .timeout(Duration::from_secs(60));
            if let Some(body) = body {
                request = request.header("content-type", "application/json").body(body);
            }
            let response = request.send().await.expect("request to the simulator");
            let status = response.status().as_u16();
            (status, response.bytes().await.expect("body").to_vec())
        })
    }

    /// A JSON call that must succeed; its `result`.
    fn ok(&self, method: &str, ns: &str, rest: &str, body: Option<&Value>) -> Value {
        let (status, bytes) = self.call(method, ns, rest, body);
        let envelope: Value = serde_json::from_slice(&bytes).expect("JSON envelope");
        assert_eq!((status, &envelope["success"]), (200, &json!(true)), "{envelope}");
        envelope
    }

    /// Writes pairs by hand through the bulk endpoint (no kvsync marker unless given).
    pub(crate) fn put_by_hand(&self, ns: &str, pairs: Value) {
        let envelope = self.ok("PUT", ns, "bulk", Some(&pairs));
        let count = pairs.as_array().map_or(0, Vec::len);
        assert_eq!(
            envelope["result"],
            json!({"successful_key_count": count, "unsuccessful_keys": []})
        );
    }

    /// Every listed key under `prefix`, following the simulator's cursors with `limit`.
    fn list(&self, ns: &str, prefix: &str, limit: usize) -> Vec<Value> {
        let mut keys = Vec::new();
        let mut cursor = String::new();
        for _ in 0..10_000 {
            let mut rest = format!("keys?limit={limit}&prefix={}", urlencoding::encode(prefix));
            if !cursor.is_empty() {
                rest.push_str(&format!("&cursor={}", urlencoding::encode(&cursor)));
            }
            let envelope = self.ok("GET", ns, &rest, None);
            let page = envelope["result"].as_array().expect("result array").clone();
            assert_eq!(envelope["result_info"]["count"], json!(page.len()), "{envelope}");
            keys.extend(page);
            cursor = envelope["result_info"]["cursor"].as_str().expect("cursor").to_owned();
            if cursor.is_empty() {
                return keys;
            }
        }
        panic!("the listing of {prefix:?} never ended");
    }

    /// The listed entry of one key.
    fn listed(&self, ns: &str, key: &str) -> Option<Value> {
        self.list(ns, key, 1000).into_iter().find(|entry| entry["name"] == key)
    }

    /// `GET …/values/{key}`: the raw bytes, or `None` on 404 with code 10009.
    fn value(&self, ns: &str, key: &str) -> Option<Vec<u8>> {
        let (status, bytes) = self.call("GET", ns, &format!("values/{}", encode(key)), None);
        if status == 404 {
            assert_eq!(error_code(&bytes), Some(10009), "{}", String::from_utf8_lossy(&bytes));
            return None;
        }
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        Some(bytes)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        // The end of stdin is serve.mjs's signal to dispose of miniflare (and workerd with it);
        // a kill of node alone would leave workerd running.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a key for a `…/values/{key}` path; the Worker decodes it with
/// `decodeURIComponent`.
fn encode(key: &str) -> String {
    urlencoding::encode(key).into_owned()
}

fn error_code(body: &[u8]) -> Option<u64> {
    let envelope: Value = serde_json::from_slice(body).ok()?;
    envelope["errors"][0]["code"].as_u64()
}

fn now() -> i64 {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    i64::try_from(seconds).expect("seconds")
}

/// The summary line of a plan (`Plan: …` or `No changes. …`), whatever follows it.
fn summary(output: &Output) -> &str {
    output
        .stdout
        .lines()
        .rfind(|line| line.starts_with("Plan: ") || line.starts_with("No changes."))
        .unwrap_or("(no summary line)")
}

/// A project folder holding one example, and the folder to run kvsync in; the example's
/// `${FLAGS_NAMESPACE_ID}` is `namespace`.
fn example(name: &str, namespace: &str) -> (Test, PathBuf) {
    let test = Test::new().env("FLAGS_NAMESPACE_ID", namespace);
    let cwd = test.path().join(name);
    copy_tree(&repo().join("examples").join(name), &cwd);
    (test, cwd)
}

/// Scenario 1: the feature-flags example (metadata, a TTL key, an absolute expiration in 2035, a
/// sensitive value) goes plan → apply → `No changes.`, and the simulator holds what it says.
#[test]
fn feature_flags_example_converges() {
    let sim = Simulator::shared();
    let (test, cwd) = example("feature-flags", CONVERGE_NS);

    let plan = sim.kvsync(&test, &cwd, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert_eq!(summary(&plan), "Plan: 8 to create.", "{}", plan.stdout);

    let started = now();
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stdout.contains("Apply complete: 8 written, 0 deleted."), "{}", apply.stdout);

    let again = sim.kvsync(&test, &cwd, &["plan", "--detailed-exitcode", "-v"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert_eq!(summary(&again), "No changes. 8 unchanged.", "{}", again.stdout);
    assert!(again.stderr.contains("1 list, 0 bulk get"), "{}", again.stderr);

    // What the simulator holds: user metadata plus the marker, and absolute expirations.
    let keys = sim.list(CONVERGE_NS, "flags/", 1000);
    let names: Vec<&str> = keys.iter().filter_map(|k| k["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "flags/banner",
            "flags/black-friday",
            "flags/max-items",
            "flags/new-checkout",
            "flags/payments-key",
            "flags/regions",
            "flags/search-v2",
            "flags/warm-cache",
        ]
    );
    let entry = |name: &str| keys.iter().find(|k| k["name"] == name).expect("listed").clone();
    let checkout = entry("flags/new-checkout");
    assert_eq!(checkout["metadata"]["team"], "growth");
    assert_eq!(checkout["metadata"]["jira"], "SHOP-1234");
    assert_eq!(checkout["metadata"]["__kvsync"]["owner"], "web-flags");
    assert!(checkout.get("expiration").is_none(), "{checkout}");
    // 2035-11-30T00:00:00+01:00
    assert_eq!(entry("flags/black-friday")["expiration"], json!(2_079_990_000));
    let warm = entry("flags/warm-cache")["expiration"].as_i64().expect("ttl expiration");
    assert!((started + 86_400..=now() + 86_400).contains(&warm), "{warm} vs {started}");
    assert_eq!(sim.value(CONVERGE_NS, "flags/max-items").as_deref(), Some(&b"42"[..]));
    assert_eq!(sim.value(CONVERGE_NS, "flags/payments-key").as_deref(), Some(&b"dev-only-key"[..]));

    let drift = sim.kvsync(&test, &cwd, &["drift", "--deep"]);
    assert_eq!(drift.code, 0, "{}", drift.snapshot());
}

const SMALL: &str = r#"version: 1
owner: web
namespaces:
  flags:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: "flags/"
    keys:
      flags/banner: "Welcome!"
      flags/checkout:
        value: {enabled: true, rollout: 25, regions: [eu, us]}
        metadata: {team: growth}
      flags/limit: 10
"#;

/// The Worker's dialect where kvsync depends on it: credentials, an unknown namespace, a missing
/// key, the list limit's range, and a limit of the binding (TTL under 60) as a 400 envelope
/// carrying the binding's message. kvsync reports the first two with the API's codes, exit 1,
/// and never prints the token.
#[test]
fn errors_come_back_as_documented_envelopes() {
    let sim = Simulator::shared();

    let (status, body) = sim.call_as("GET", ERRORS_NS, "keys", None, "not-the-token");
    assert_eq!((status, error_code(&body)), (403, Some(10000)));
    let (status, body) = sim.call("GET", "00000000000000000000000000000000", "keys", None);
    assert_eq!((status, error_code(&body)), (404, Some(10013)));
    let (status, body) = sim.call("GET", ERRORS_NS, "values/missing", None);
    assert_eq!((status, error_code(&body)), (404, Some(10009)));
    let (status, body) = sim.call("GET", ERRORS_NS, "keys?limit=9", None);
    assert_eq!((status, error_code(&body)), (400, Some(10028)));
    let (status, body) = sim.call(
        "PUT",
        ERRORS_NS,
        "bulk",
        Some(&json!([{"key": "k", "value": "v", "expiration_ttl": 30}])),
    );
    assert_eq!((status, error_code(&body)), (400, Some(10001)));
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("Expiration TTL must be at least 60"), "{text}");
    let empty = sim.ok("GET", ERRORS_NS, "keys", None);
    assert_eq!(empty["result"], json!([]));
    assert_eq!(empty["result_info"], json!({"count": 0, "cursor": ""}));

    let test = Test::new().file("kvsync.yaml", SMALL.replace(FLAGS_NS, ERRORS_NS));
    let cwd = test.path().to_path_buf();
    let wrong = "a-wrong-token-that-must-never-be-printed";
    let denied = sim.kvsync_as(&test, &cwd, &["plan"], wrong);
    assert_eq!(denied.code, 1, "{}", denied.snapshot());
    assert!(denied.stderr.contains("10000"), "{}", denied.snapshot());
    assert!(!denied.snapshot().contains(wrong), "{}", denied.snapshot());

    test.write("kvsync.yaml", SMALL.replace(FLAGS_NS, "00000000000000000000000000000000"));
    let unknown = sim.kvsync(&test, &cwd, &["plan"]);
    assert_eq!(unknown.code, 1, "{}", unknown.snapshot());
    assert!(unknown.stderr.contains("10013"), "{}", unknown.snapshot());
    assert!(!unknown.snapshot().contains(TOKEN), "{}", unknown.snapshot());
}

/// Cloudflare's text bulk get decodes values as workerd does, dropping a leading U+FEFF: the
/// simulator's own bulk get (the binding's, in workerd) must too, or no test could see what a
/// text read loses.
#[test]
fn a_text_bulk_get_drops_a_leading_byte_order_mark() {
    let sim = Simulator::shared();
    sim.put_by_hand(BOM_NS, json!([{"key": "bom", "value": "\u{FEFF}hi"}]));
    let envelope = sim.ok("POST", BOM_NS, "bulk/get", Some(&json!({"keys": ["bom"]})));
    assert_eq!(envelope["result"], json!({"values": {"bom": "hi"}}));
    assert_eq!(sim.value(BOM_NS, "bom"), Some("\u{FEFF}hi".as_bytes().to_vec()));
}

/// A binary value over 19,660,800 bytes is longer than a bulk item may be as base64: the
/// simulator refuses such an item, and kvsync writes the value with the single-key PUT, as
/// multipart, so its metadata (the marker) is kept and the next plan is clean. The Worker parses
/// multipart with `request.formData()`, as the Fetch standard says: the value goes as a file
/// part, or a 20 MiB binary would be refused as text too long and a 19.66 MB one stored mangled.
#[test]
fn a_binary_value_too_large_for_a_bulk_item_is_written_alone_with_its_marker() {
    let sim = Simulator::alone();
    let too_long = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        vec![0xffu8; 19_660_801],
    );
    let (status, body) = sim.call(
        "PUT",
        BIG_NS,
        "bulk",
        Some(&json!([{"key": "b", "value": too_long, "base64": true}])),
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("26214404 characters long"));

    let blob = crate::support::binary(20 * 1024 * 1024, false);
    let sparse = crate::support::binary(19_660_801, true);
    let config = format!(
        "version: 1\nowner: big\nnamespaces:\n  big:\n    namespace_id: {BIG_NS}\n    keys:\n      \
         blob/big.bin:\n        file: big.bin\n        metadata: {{kind: blob}}\n      \
         blob/sparse.bin: {{file: sparse.bin}}\n      small: \"v\"\n"
    );
    let test =
        Test::new().file("kvsync.yaml", config).file("big.bin", &blob).file("sparse.bin", &sparse);
    let cwd = test.path().to_path_buf();
    let plan = sim.kvsync(&test, &cwd, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert!(plan.stdout.contains("1 bulk write and 2 single writes"), "{}", plan.stdout);
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve", "-v", "--verify"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    // (Counts of requests include retries, which a loaded machine may need.)
    assert!(apply.stderr.contains("1 bulk write, "), "{}", apply.stderr);
    assert!(!apply.stderr.contains(" 0 single write"), "{}", apply.stderr);
    assert!(sim.value(BIG_NS, "blob/big.bin") == Some(blob), "the 20 MiB value arrived changed");
    assert!(sim.value(BIG_NS, "blob/sparse.bin") == Some(sparse), "the sparse value changed");
    let listed = sim.listed(BIG_NS, "blob/big.bin").expect("listed");
    assert_eq!(listed["metadata"]["kind"], "blob");
    assert_eq!(listed["metadata"]["__kvsync"]["owner"], "big");
    let again = sim.kvsync(&test, &cwd, &["plan", "--detailed-exitcode"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
    assert_eq!(summary(&again), "No changes. 3 unchanged.", "{}", again.stdout);
}

/// The README's 3 a.m. story against Cloudflare's own KV simulator: a flag flipped by hand in
/// the dashboard (the metadata, and so the marker, kept), `drift --deep` sees it, `pull --deep`
/// writes it into the example's config with a one-line diff, `plan` shows a marker refresh,
/// `apply` writes it, and `drift --deep` is clean.
#[test]
fn a_hotfix_made_live_is_pulled_into_the_config() {
    let sim = Simulator::shared();
    let (test, cwd) = example("feature-flags", HOTFIX_NS);
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let before = std::fs::read_to_string(cwd.join("kvsync.yaml")).expect("config");

    let listed = sim.listed(HOTFIX_NS, "flags/new-checkout").expect("listed");
    sim.put_by_hand(
        HOTFIX_NS,
        json!([{
            "key": "flags/new-checkout",
            "value": "{\"enabled\":false,\"rollout\":25}",
            "metadata": listed["metadata"],
        }]),
    );
    let fast = sim.kvsync(&test, &cwd, &["drift"]);
    assert_eq!(fast.code, 0, "the marker was kept: {}", fast.snapshot());
    let deep = sim.kvsync(&test, &cwd, &["drift", "--deep"]);
    assert_eq!(deep.code, 2, "{}", deep.snapshot());
    assert!(deep.stdout.contains("tampered flags/new-checkout (value differs)"), "{}", deep.stdout);

    let dry = sim.kvsync(&test, &cwd, &["pull", "--deep", "--dry-run"]);
    assert_eq!(dry.code, 2, "{}", dry.snapshot());
    assert!(
        dry.stdout.contains("+        value: {enabled: false, rollout: 25}         # a JSON object goes under value:"),
        "{}",
        dry.stdout
    );
    let pull = sim.kvsync(&test, &cwd, &["pull", "--deep"]);
    assert_eq!(pull.code, 2, "{}", pull.snapshot());
    let after = std::fs::read_to_string(cwd.join("kvsync.yaml")).expect("config");
    assert_eq!(
        after,
        before.replace(
            "value: {enabled: true, rollout: 25}         #",
            "value: {enabled: false, rollout: 25}         #"
        )
    );

    let plan = sim.kvsync(&test, &cwd, &["plan"]);
    assert!(plan.stdout.contains("~ flags/new-checkout (marker only: live already matches; apply rewrites kvsync's marker: 1 write)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("Plan: 1 to update"), "{}", plan.stdout);
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let clean = sim.kvsync(&test, &cwd, &["drift", "--deep"]);
    assert_eq!(clean.code, 0, "{}", clean.snapshot());
    let again = sim.kvsync(&test, &cwd, &["pull", "--deep"]);
    assert_eq!(again.code, 0, "{}", again.snapshot());
}

/// Someone applies another config (a laptop branch) against the simulator: live matches its
/// marker, the config differs, and the marker's revision is not in this config's history (here
/// no repository at all). Pull lists it for a person with its revision and owner, writes
/// nothing, and exits 2, so the next apply does not silently revert it.
#[test]
fn a_change_applied_from_elsewhere_is_listed_for_a_person() {
    let sim = Simulator::start();
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"flags/\"\n    keys:\n      flags/a: main\n      flags/b: same\n";
    let test = Test::new().file("kvsync.yaml", config.replace("flags/a: main", "flags/a: laptop"));
    let cwd = test.path().to_path_buf();
    let laptop = sim.kvsync(&test, &cwd, &["apply", "--auto-approve", "--revision", "f00dcafe"]);
    assert_eq!(laptop.code, 0, "{}", laptop.snapshot());
    test.write("kvsync.yaml", config);
    let pull = sim.kvsync(&test, &cwd, &["pull", "--deep"]);
    assert_eq!(pull.code, 2, "{}", pull.snapshot());
    assert!(
        pull.stdout.contains("! flags/a: applied from elsewhere (rev `f00dcafe`, owner `web`)"),
        "{}",
        pull.stdout
    );
    assert!(pull.stdout.contains("0 written back"), "{}", pull.stdout);
    assert_eq!(std::fs::read_to_string(cwd.join("kvsync.yaml")).expect("config"), config);
    assert_eq!(sim.value(FLAGS_NS, "flags/a").as_deref(), Some(&b"laptop"[..]));
}

/// `pull`'s other cases against the simulator: metadata edited in the dashboard, a key deleted
/// by hand (`--remove-missing`), a key written by hand (`--adopt`), another owner's key (never
/// pulled) and a secret (reported, never written).
#[test]
fn pull_codifies_metadata_additions_and_removals() {
    let sim = Simulator::shared();
    let test = Test::new().file(
        "kvsync.yaml",
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"flags/\"\n    keys:\n      flags/meta: {value: m, metadata: {team: a}}\n      flags/gone: g\n      flags/secret: {value: \"${SECRET:-dev}\"}\n      flags/shared: s\n".replace(FLAGS_NS, PULL_NS),
    );
    let cwd = test.path().to_path_buf();
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let meta = sim.listed(PULL_NS, "flags/meta").expect("listed");
    let mut metadata = meta["metadata"].clone();
    metadata["team"] = json!("b");
    let secret = sim.listed(PULL_NS, "flags/secret").expect("listed");
    sim.put_by_hand(
        PULL_NS,
        json!([
            {"key": "flags/meta", "value": "m", "metadata": metadata},
            {"key": "flags/secret", "value": "rotated", "metadata": secret["metadata"]},
            {"key": "flags/new", "value": "by hand"},
            {"key": "flags/shared", "value": "theirs", "metadata": {"__kvsync": {"v": 1, "owner": "billing", "sha256": "ab".repeat(32)}}},
        ]),
    );
    sim.ok("POST", PULL_NS, "bulk/delete", Some(&json!(["flags/gone"])));

    let pull = sim.kvsync(&test, &cwd, &["pull", "--deep", "--adopt", "--remove-missing"]);
    assert_eq!(pull.code, 2, "{}", pull.snapshot());
    assert!(
        pull.stdout.contains("! flags/secret: changed live; update the secret `SECRET`"),
        "{}",
        pull.stdout
    );
    assert!(!pull.stdout.contains("flags/shared"), "{}", pull.stdout);
    assert!(!pull.snapshot().contains("rotated"), "{}", pull.snapshot());
    let config = std::fs::read_to_string(cwd.join("kvsync.yaml")).expect("config");
    assert_eq!(
        config,
        "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"flags/\"\n    keys:\n      flags/meta: {value: m, metadata: {team: b}}\n      flags/secret: {value: \"${SECRET:-dev}\"}\n      flags/shared: s\n      flags/new: by hand\n".replace(FLAGS_NS, PULL_NS)
    );
    let plan = sim.kvsync(&test, &cwd, &["plan"]);
    assert!(plan.stdout.contains("~ flags/meta (marker only: live already matches; apply rewrites kvsync's marker: 1 write)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("flags/new (adopt, marker only"), "{}", plan.stdout);
}

/// A key as the simulator lists and reads it: bytes, metadata, expiration.
type KeyState = (Vec<u8>, Value, Value);

/// Issue #27 on the simulator: 100 keys changed (a hand edit, a binary value, a leading byte
/// order mark, a TTL, user metadata, an adopted unmarked key), 10 deleted and 10 created; after
/// `restore` every key's bytes, metadata and expiration are as before and the created keys gone.
#[test]
fn an_apply_is_undone_by_restore_byte_for_byte() {
    use crate::snapshot::{BINARY, all_keys, config_a, config_b};
    use base64::Engine as _;
    let sim = Simulator::shared();
    let ns = SNAPSHOT_NS;
    let test = Test::new().file("kvsync.yaml", config_a().replace(crate::support::NS, ns));
    let cwd = test.path().to_path_buf();
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve", "--no-snapshot"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let metadata = |key: &str| sim.listed(ns, key).expect("listed")["metadata"].clone();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    sim.put_by_hand(
        ns,
        json!([
            {"key": "f/k000", "value": "fixed by hand at 3 a.m.", "metadata": metadata("f/k000")},
            {"key": "f/k001", "value": b64(BINARY), "base64": true, "metadata": metadata("f/k001")},
            {"key": "f/k002", "value": "\u{FEFF}with a BOM", "metadata": metadata("f/k002")},
            {"key": "f/k099", "value": "written by another tool", "metadata": {"tool": "x"}},
        ]),
    );
    let state = || -> Vec<(String, Option<KeyState>)> {
        let listed: std::collections::HashMap<String, Value> = sim
            .list(ns, "f/", 1000)
            .into_iter()
            .map(|entry| (entry["name"].as_str().expect("name").to_owned(), entry))
            .collect();
        all_keys()
            .into_iter()
            .map(|key| {
                let found = listed.get(&key).map(|entry| {
                    let value = sim.value(ns, &key).expect("a listed key has a value");
                    (value, entry["metadata"].clone(), entry["expiration"].clone())
                });
                (key, found)
            })
            .collect()
    };
    let before = state();
    assert_eq!(before.iter().filter(|(_, v)| v.is_some()).count(), 110);
    assert_eq!(before[2].1.as_ref().map(|v| v.0[..3].to_vec()), Some(b"\xEF\xBB\xBF".to_vec()));

    test.write("kvsync.yaml", config_b().replace(crate::support::NS, ns));
    let apply = sim.kvsync(&test, &cwd, &["apply", "--auto-approve", "--snapshot", "s.jsonl"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    assert!(apply.stderr.contains("Snapshot: s.jsonl (120 keys)"), "{}", apply.stderr);
    assert_ne!(state(), before);

    let restore = sim.kvsync(&test, &cwd, &["restore", "s.jsonl", "--auto-approve"]);
    assert_eq!(restore.code, 0, "{}", restore.snapshot());
    assert!(
        restore.stdout.contains("Restore complete: 110 written, 10 deleted."),
        "{}",
        restore.stdout
    );
    assert_eq!(state(), before);
}
