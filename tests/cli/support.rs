use std::path::{Path, PathBuf};

use kv_standin::{Options, Standin};
use kvsync::content::Expiration;
use kvsync::kv::local::LocalStore;
use kvsync::kv::{KvStore as _, PutPair};
use std::process::{Command, Stdio};

/// The namespace the stand-in tests use.
pub(crate) const NS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// The clock every test runs at: 2030-03-17T17:46:40Z.
pub(crate) const NOW: &str = "1900000000";

/// Where each test's name and seconds go, one line each (`name\tseconds`): `.ci/run` prints the
/// slowest after the suite. The file is appended to; `.ci/run` removes it first.
pub(crate) fn times_file() -> PathBuf {
    // `CARGO_TARGET_TMPDIR` is `target/tmp`: the file sits in `target/`.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("test-times.tsv")
}

/// Records how long the calling test runs: from the first call on the test's thread until the
/// thread ends (libtest runs each test on a thread named after it). `Test::new`, the
/// simulator and the action's runner call it, and the few tests that use none of them call it
/// first, so every CLI test is timed (under `--test-threads=1`, libtest runs tests on the main
/// thread, and nothing is recorded).
pub(crate) fn timed() {
    struct Timer {
        name: String,
        started: std::time::Instant,
    }
    impl Drop for Timer {
        fn drop(&mut self) {
            use std::io::Write as _;
            let line = format!("{}\t{:.3}\n", self.name, self.started.elapsed().as_secs_f64());
            // One write of one short line to a file opened for appending: lines of tests that
            // end together do not interleave.
            let file = std::fs::OpenOptions::new().create(true).append(true).open(times_file());
            if let Ok(mut file) = file {
                let _ = file.write_all(line.as_bytes());
            }
        }
    }
    thread_local! {
        static TIMER: std::cell::RefCell<Option<Timer>> = const { std::cell::RefCell::new(None) };
    }
    let Some(name) = std::thread::current().name().map(str::to_owned) else { return };
    if name == "main" {
        return;
    }
    TIMER.with(|timer| {
        timer
            .borrow_mut()
            .get_or_insert_with(|| Timer { name, started: std::time::Instant::now() });
    });
}

/// A temporary project folder to run kvsync in.
pub(crate) struct Test {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// What one run printed.
pub(crate) struct Output {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Output {
    /// The whole run as one text for snapshots.
    pub(crate) fn snapshot(&self) -> String {
        format!("exit: {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Test {
    pub(crate) fn new() -> Self {
        timed();
        Self { dir: tempfile::tempdir().expect("temp dir"), env: Vec::new() }
    }

    /// Writes a file (creating folders), relative to the test folder.
    pub(crate) fn file(self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.write(path, contents);
        self
    }

    pub(crate) fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, contents).expect("write");
    }

    pub(crate) fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The variables [`Test::env`] set, for a runner other than [`Test::run`].
    pub(crate) fn vars(&self) -> &[(String, String)] {
        &self.env
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs kvsync in the test folder with a fixed clock, no colour and no CI variables.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_in(self.dir.path(), args)
    }

    pub(crate) fn run_in(&self, cwd: &Path, args: &[&str]) -> Output {
        self.run_with(cwd, args, &[])
    }

    /// Runs kvsync as [`Test::run`] does, with `env` set for this run only.
    pub(crate) fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_with(self.dir.path(), args, env)
    }

    fn run_with(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kvsync"));
        command.args(args).current_dir(cwd).stdin(Stdio::null()).env("KVSYNC_NOW", NOW);
        hermetic(&mut command);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().expect("run kvsync");
        let root = self.dir.path().to_string_lossy().into_owned();
        let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&root, "[TEMP]");
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: clean(&output.stdout),
            stderr: clean(&output.stderr),
        }
    }
}

/// Keeps the developer's shell out of a run: no colour, no CI variables, and nothing that could
/// reach a real Cloudflare account.
pub(crate) fn hermetic(command: &mut Command) -> &mut Command {
    command.env("NO_COLOR", "1").env_remove("GITHUB_SHA").env_remove("CLICOLOR_FORCE");
    for name in [
        "CLOUDFLARE_API_TOKEN",
        "CF_API_TOKEN",
        "CLOUDFLARE_ACCOUNT_ID",
        "CF_ACCOUNT_ID",
        "CLOUDFLARE_API_BASE_URL",
        "CF_API_BASE_URL",
        "KVSYNC_WRANGLER_DEV_URL",
    ] {
        command.env_remove(name);
    }
    command
}

/// The repository's root, for the examples.
pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies a folder tree (an example) into the test folder.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A test folder whose kvsync talks to a fresh kv-standin (namespace [`NS`] created), with
/// fast retries so the suite never waits long; every run also checks the token never shows.
pub(crate) struct Cloud {
    pub(crate) standin: Standin,
    pub(crate) test: Test,
}

impl Cloud {
    pub(crate) fn new(config: &str) -> Self {
        Self::with_options(config, Options::default())
    }

    pub(crate) fn with_options(config: &str, options: Options) -> Self {
        let standin = Standin::start(options);
        standin.create_namespace(NS);
        let test = Test::new()
            .file("kvsync.yaml", config)
            .env("CLOUDFLARE_API_TOKEN", standin.token())
            .env("CLOUDFLARE_ACCOUNT_ID", standin.account_id())
            // Fast retries so the suite never waits long; the policy is the same.
            .env("KVSYNC_RETRY_BASE_MS", "20")
            .env("KVSYNC_RETRY_MAX_MS", "200")
            .env("KVSYNC_HTTP_TIMEOUT_MS", "2000")
            .env("KVSYNC_VERIFY_WINDOW_MS", "2000");
        Self { standin, test }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let url = self.standin.base_url();
        let mut all = args.to_vec();
        all.extend(["--api-url", url.as_str()]);
        let out = self.test.run(&all);
        assert!(
            !out.snapshot().contains(self.standin.token()),
            "the token leaked:\n{}",
            out.snapshot()
        );
        out
    }
}

/// A config for tests: owner `web`, one scope `flags` on [`NS`] with prefix `f/` and the keys
/// given, in the order given. The one builder every test file's configs come from.
#[derive(Clone)]
pub(crate) struct Config {
    owner: String,
    head: String,
    keys: String,
    tail: String,
}

impl Config {
    pub(crate) fn new() -> Self {
        Self { owner: "web".into(), head: String::new(), keys: String::new(), tail: String::new() }
    }

    pub(crate) fn owner(mut self, owner: &str) -> Self {
        owner.clone_into(&mut self.owner);
        self
    }

    /// Top-level lines between `owner:` and `namespaces:`, each ending in a newline
    /// (`target: local\n`, `max_deletes: 2\n`).
    pub(crate) fn head(mut self, lines: &str) -> Self {
        self.head.push_str(lines);
        self
    }

    /// Keys whose values are strings, quoted as YAML double-quoted scalars.
    pub(crate) fn values(mut self, keys: &[(&str, &str)]) -> Self {
        for (key, value) in keys {
            self.keys.push_str(&format!("      {key}: {value:?}\n"));
        }
        self
    }

    /// One key with its entry as written after `KEY: ` (`"1"`, `{value: c, expiration_ttl: 60}`).
    /// An entry that starts with a line break is a block mapping under the key.
    pub(crate) fn entry(mut self, key: &str, entry: &str) -> Self {
        let space = if entry.starts_with('\n') { "" } else { " " };
        self.keys.push_str(&format!("      {key}:{space}{entry}\n"));
        self
    }

    /// Text after the keys: more key lines, or an `environments:` section.
    pub(crate) fn tail(mut self, text: &str) -> Self {
        self.tail.push_str(text);
        self
    }

    /// The YAML. A scope without keys gets `keys: {}`.
    pub(crate) fn yaml(&self) -> String {
        let keys =
            if self.keys.is_empty() && self.tail.is_empty() { "      {}\n" } else { &self.keys };
        format!(
            "version: 1\nowner: {}\n{}namespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \"f/\"\n    keys:\n{keys}{}",
            self.owner, self.head, self.tail
        )
    }
}

/// kvsync's Cloudflare client, talking to a local stand-in at `base_url`.
pub(crate) fn cloudflare_client(
    base_url: String,
    account_id: &str,
    token: &str,
) -> kvsync::kv::cloudflare::CloudflareStore {
    let config = kvsync::kv::cloudflare::CloudflareConfig {
        base_url,
        account_id: account_id.to_owned(),
        token: kvsync::kv::token::ApiToken::new(token).expect("token"),
        timings: kvsync::kv::retry::Timings::default(),
    };
    kvsync::kv::cloudflare::CloudflareStore::new(config).expect("client")
}

/// The local store of a test's folder (`.kvsync/local.db`).
pub(crate) fn local_store(test: &Test) -> LocalStore {
    LocalStore::open(&test.path().join(".kvsync/local.db"), NOW.parse().expect("now"))
        .expect("open store")
}

/// Writes keys straight into the local store, as a hand edit or another tool would.
pub(crate) fn seed(test: &Test, pairs: &[(&str, &str, Option<serde_json::Value>)]) {
    let pairs: Vec<PutPair> = pairs
        .iter()
        .map(|(key, value, metadata)| PutPair {
            key: (*key).to_owned(),
            value: value.as_bytes().to_vec(),
            metadata: metadata.clone().unwrap_or(serde_json::Value::Null),
            expiration: Expiration::Never,
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(local_store(test).bulk_put(NS, &pairs)).expect("seed");
}

/// The metadata a key holds now (marker included).
pub(crate) fn metadata_of(test: &Test, key: &str) -> serde_json::Value {
    let (_, metadata, _) = local_store(test).get_full(NS, key).expect("read").expect("key exists");
    metadata.expect("metadata")
}

/// `len` bytes a binary file might hold, for values that must arrive byte-exact: with `sparse`,
/// mostly ASCII with a byte of 0x80–0xff every 997th (text decoding mangles it yet stays under
/// the size limit); without, every byte value in turn (decoded as text it outgrows the limit).
pub(crate) fn binary(len: usize, sparse: bool) -> Vec<u8> {
    (0..len)
        .map(|i| match (sparse, i % 997) {
            (true, 0) => 0x80 | (i / 997 % 128) as u8,
            (true, _) => b'a' + (i % 26) as u8,
            (false, _) => (i % 251) as u8 ^ (i / 251 % 256) as u8,
        })
        .collect()
}
