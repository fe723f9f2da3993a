use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The clock every test runs at: 2030-03-17T17:46:40Z.
pub(crate) const NOW: &str = "1900000000";

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

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs kvsync in the test folder with a fixed clock, no colour and no CI variables.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        self.run_in(self.dir.path(), args)
    }

    pub(crate) fn run_in(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kvsync"));
        command
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .env("KVSYNC_NOW", NOW)
            .env("NO_COLOR", "1")
            .env_remove("GITHUB_SHA")
            .env_remove("CLICOLOR_FORCE");
        // Nothing from the developer's shell may reach a real account.
        for name in [
            "CLOUDFLARE_API_TOKEN",
            "CF_API_TOKEN",
            "CLOUDFLARE_ACCOUNT_ID",
            "CF_ACCOUNT_ID",
            "CLOUDFLARE_API_BASE_URL",
            "CF_API_BASE_URL",
        ] {
            command.env_remove(name);
        }
        for (name, value) in &self.env {
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
