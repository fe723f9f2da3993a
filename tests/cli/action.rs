//! The GitHub Action's scripts (`action/*.sh`) in a simulated runner: temporary
//! `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, `RUNNER_TEMP` and a `pull_request` event file, the
//! real kvsync binary on the local target, wiremock standing in for the GitHub REST API (a
//! stateful one that keeps the comments) and for the release downloads. Nothing here reaches the
//! network: every URL is 127.0.0.1.
//!
//! The scripts need bash, curl and jq (GitHub's runners have all three; `.ci/run` installs jq
//! when the machine lacks it), and git for `baseline`. A missing tool fails the test, it never
//! skips it. Windows runners run the same scripts under Git Bash: ci.yml's `action` job covers
//! them there, so this module is Unix only.
#![cfg(unix)]

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use kvsync::content::Expiration;
use kvsync::kv::local::LocalStore;
use kvsync::kv::{KvStore, PutPair};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Config, NOW, NS, repo};

/// The stand-in GitHub token: it must never show up in anything a script prints.
const TOKEN: &str = "ghs_kvsyncTestToken0123456789abcdefXYZ";
const REPOSITORY: &str = "acme/shop";
const PR: u64 = 7;
const HEAD_SHA: &str = "8f3c2a1d9e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a";
const PROD_NS: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f1";
/// The most a step may write to `$GITHUB_STEP_SUMMARY`.
const SUMMARY_LIMIT: usize = 1024 * 1024;
/// The budget of the action's `summary` output, in bytes.
const SUMMARY_OUTPUT_BUDGET: usize = 60 * 1024;
/// The most characters an issue or comment body may have.
const BODY_LIMIT: usize = 65_536;

/// Fails (never skips) when a tool the scripts need is missing.
fn require(tools: &[&str]) {
    crate::support::timed();
    for tool in tools {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            found,
            "`{tool}` is not installed, and the action's scripts need it (GitHub's runners have \
             it; on Debian: apt-get install {tool}; .ci/run installs what CI lacks)"
        );
    }
}

fn script(name: &str) -> PathBuf {
    repo().join("action").join(name)
}

/// A config on the local target with these `f/` keys.
fn config(keys: &[(&str, &str)]) -> String {
    Config::new().owner("shop").head("target: local\n").values(keys).yaml()
}

/// The same with a `production` environment (its own namespace), which `--env` then requires.
fn config_with_production(keys: &[(&str, &str)]) -> String {
    config(keys)
        + &format!(
            "environments:\n  production:\n    namespaces: {{flags: {{namespace_id: {PROD_NS}}}}}\n"
        )
}

/// Writes a key into a local store by hand, as someone editing production would.
fn edit_by_hand(store: &Path, namespace: &str, key: &str, value: &str) {
    let store = LocalStore::open(store, NOW.parse().expect("now")).expect("store");
    let pair = PutPair {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        metadata: Value::Null,
        expiration: Expiration::Never,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(store.bulk_put(namespace, &[pair])).expect("edit");
}

/// What one script run printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!("exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// A simulated runner: a workspace, a temp folder, the files the runner reads back, and a
/// `pull_request` event. Scripts run with a cleared environment, so nothing of the machine's
/// (a real `GITHUB_TOKEN` on GitHub's CI, say) leaks in.
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Self {
        crate::support::timed();
        let dir = tempfile::tempdir().expect("temp dir");
        for folder in ["workspace", "temp", "home", "tmp", "tool-cache"] {
            std::fs::create_dir_all(dir.path().join(folder)).expect("mkdir");
        }
        let runner = Self { dir };
        runner.pull_request_from(REPOSITORY);
        runner.next_step();
        runner
    }

    /// The `pull_request` event of a pull request whose branch lives in `head_repository`: this
    /// repository, or a fork.
    fn pull_request_from(&self, head_repository: &str) {
        let event = json!({
            "action": "synchronize",
            "number": PR,
            "pull_request": {
                "number": PR,
                "user": {"login": "a-contributor"},
                "head": {"sha": HEAD_SHA, "repo": {"full_name": head_repository}},
                "base": {"ref": "main", "repo": {"full_name": REPOSITORY}},
            },
        });
        std::fs::write(self.path("event.json"), event.to_string()).expect("event");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn workspace(&self) -> PathBuf {
        self.path("workspace")
    }

    /// A new step: empty `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and `GITHUB_PATH` files.
    fn next_step(&self) {
        for name in ["output", "summary", "path"] {
            std::fs::write(self.path(name), "").expect("reset");
        }
    }

    fn write(&self, relative: &str, contents: impl AsRef<[u8]>) {
        let file = self.workspace().join(relative);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, contents).expect("write");
    }

    /// Runs `bash SCRIPT ARGS` in `cwd` (relative to the workspace) as a runner would.
    fn run(&self, script: &Path, args: &[&str], cwd: &str, env: &[(&str, &str)]) -> Run {
        let kvsync_dir = Path::new(env!("CARGO_BIN_EXE_kvsync")).parent().expect("bin dir");
        let host_path = std::env::var("PATH").unwrap_or_default();
        let mut command = Command::new("bash");
        command
            .arg(script)
            .args(args)
            .current_dir(self.workspace().join(cwd))
            .stdin(Stdio::null())
            .env_clear()
            .env("PATH", format!("{}:{host_path}", kvsync_dir.display()))
            .env("HOME", self.path("home"))
            .env("TMPDIR", self.path("tmp"))
            .env("KVSYNC_NOW", NOW)
            .env("NO_COLOR", "1")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", self.workspace())
            .env("GITHUB_OUTPUT", self.path("output"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary"))
            .env("GITHUB_PATH", self.path("path"))
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", self.path("event.json"))
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_SERVER_URL", "https://github.example")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_SHA", HEAD_SHA)
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("RUNNER_TEMP", self.path("temp"))
            .env("RUNNER_TOOL_CACHE", self.path("tool-cache"));
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().expect("run bash");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `action/run.sh` for COMMAND with the action's inputs; a new step each time.
    fn kvsync(&self, cwd: &str, inputs: &[(&str, &str)]) -> (Run, HashMap<String, String>) {
        self.next_step();
        let run = self.run(&script("run.sh"), &[], cwd, inputs);
        assert_eq!(run.code, 0, "run.sh only fails on a usage error:\n{}", run.show());
        (run, self.outputs())
    }

    /// `$GITHUB_OUTPUT` as the runner reads it: `name=value` lines and `name<<DELIMITER` blocks.
    fn outputs(&self) -> HashMap<String, String> {
        let text = std::fs::read_to_string(self.path("output")).expect("GITHUB_OUTPUT");
        let mut outputs = HashMap::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let heredoc = line.find("<<");
            let equals = line.find('=');
            match (heredoc, equals) {
                (Some(at), eq) if eq.is_none_or(|eq| at < eq) => {
                    let (name, delimiter) = (&line[..at], &line[at + 2..]);
                    let mut value = Vec::new();
                    let mut closed = false;
                    for line in lines.by_ref() {
                        if line == delimiter {
                            closed = true;
                            break;
                        }
                        value.push(line);
                    }
                    assert!(closed, "`{name}` has no closing {delimiter} in GITHUB_OUTPUT");
                    outputs.insert(name.to_owned(), value.join("\n"));
                }
                (_, Some(eq)) => {
                    outputs.insert(line[..eq].to_owned(), line[eq + 1..].to_owned());
                }
                _ => panic!("not an output line: {line:?}"),
            }
        }
        outputs
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.path("summary")).expect("GITHUB_STEP_SUMMARY")
    }
}

// ---------------------------------------------------------------------------------------------
// The GitHub REST API stand-in.

#[derive(Default)]
struct State {
    comments: Vec<Value>,
    next_id: u64,
    /// Every request as `METHOD /path?query`.
    log: Vec<String>,
}

/// Issue comments of pull request #7 of acme/shop, kept in memory: list (paginated as GitHub
/// does, `per_page` and `page`), create and update. Anything without the token gets a 401.
#[derive(Clone, Default)]
struct GitHub {
    state: Arc<Mutex<State>>,
}

impl GitHub {
    /// Comments by a reviewer.
    fn with_comments(bodies: &[&str]) -> Self {
        let authored: Vec<(&str, &str)> = bodies.iter().map(|body| ("a-reviewer", *body)).collect();
        Self::with_authored(&authored)
    }

    /// Comments by these logins (`github-actions[bot]` is what GITHUB_TOKEN posts as).
    fn with_authored(comments: &[(&str, &str)]) -> Self {
        let github = Self::default();
        {
            let mut state = github.state.lock().expect("state");
            for (login, body) in comments {
                state.next_id += 1;
                let comment = comment_json(state.next_id, body, login);
                state.comments.push(comment);
            }
        }
        github
    }

    async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any()).respond_with(self.clone()).mount(&server).await;
        server
    }

    fn comments(&self) -> Vec<Value> {
        self.state.lock().expect("state").comments.clone()
    }

    fn bodies_with(&self, marker: &str) -> Vec<String> {
        self.comments()
            .iter()
            .filter_map(|c| c["body"].as_str())
            .filter(|body| body.starts_with(marker))
            .map(str::to_owned)
            .collect()
    }

    fn count(&self, prefix: &str) -> usize {
        self.state.lock().expect("state").log.iter().filter(|r| r.starts_with(prefix)).count()
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().expect("state").log.clone()
    }
}

fn comment_json(id: u64, body: &str, login: &str) -> Value {
    json!({
        "id": id,
        "body": body,
        "user": {"login": login, "type": if login.ends_with("[bot]") { "Bot" } else { "User" }},
        "html_url": format!("https://github.example/{REPOSITORY}/pull/{PR}#issuecomment-{id}"),
    })
}

impl Respond for GitHub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.state.lock().expect("state");
        let verb = request.method.as_str().to_owned();
        let route = request.url.path().to_owned();
        state.log.push(format!("{verb} {route}?{}", request.url.query().unwrap_or("")));

        let authorization = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        if authorization != Some(format!("Bearer {TOKEN}").as_str()) {
            return ResponseTemplate::new(401).set_body_json(json!({"message": "Bad credentials"}));
        }
        let list = format!("/repos/{REPOSITORY}/issues/{PR}/comments");
        let one = format!("/repos/{REPOSITORY}/issues/comments/");
        let body_of = |request: &Request| {
            serde_json::from_slice::<Value>(&request.body)
                .ok()
                .and_then(|v| v.get("body").and_then(Value::as_str).map(str::to_owned))
        };
        match verb.as_str() {
            "GET" if route == list => {
                let query: HashMap<String, String> =
                    request.url.query_pairs().into_owned().collect();
                let per_page: usize =
                    query.get("per_page").and_then(|v| v.parse().ok()).unwrap_or(30);
                let page: usize = query.get("page").and_then(|v| v.parse().ok()).unwrap_or(1);
                let per_page = per_page.clamp(1, 100);
                let start = (page.max(1) - 1) * per_page;
                let slice: Vec<Value> =
                    state.comments.iter().skip(start).take(per_page).cloned().collect();
                ResponseTemplate::new(200).set_body_json(Value::Array(slice))
            }
            "POST" if route == list => {
                let Some(body) = body_of(request) else {
                    return ResponseTemplate::new(422).set_body_json(json!({"message": "body"}));
                };
                state.next_id += 1;
                let comment = comment_json(state.next_id, &body, BOT);
                state.comments.push(comment.clone());
                ResponseTemplate::new(201).set_body_json(comment)
            }
            "PATCH" if route.starts_with(&one) => {
                let id: u64 = route[one.len()..].parse().unwrap_or(0);
                let Some(body) = body_of(request) else {
                    return ResponseTemplate::new(422).set_body_json(json!({"message": "body"}));
                };
                match state.comments.iter_mut().find(|c| c["id"] == id) {
                    Some(comment) => {
                        comment["body"] = Value::String(body);
                        ResponseTemplate::new(200).set_body_json(comment.clone())
                    }
                    None => {
                        ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}))
                    }
                }
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

/// Runs `action/comment.sh` against the stand-in, and checks the token stayed secret.
fn comment(
    runner: &Runner,
    server: &MockServer,
    report: &str,
    results: &[(&str, &str)],
    inputs: &[(&str, &str)],
) -> Run {
    let report_file = runner.path("temp/report.md");
    std::fs::write(&report_file, report).expect("report");
    let report_file = report_file.to_string_lossy().into_owned();
    let uri = server.uri();
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_API_URL", uri.as_str()),
        ("GITHUB_TOKEN", TOKEN),
        ("INPUT_COMMENT", "on-change"),
        ("INPUT_COMMAND", "plan"),
        ("INPUT_ENVIRONMENT", "production"),
        ("KVSYNC_CONFIG_PATH", "kv/kvsync.yaml"),
        ("KVSYNC_REPORT_FILE", report_file.as_str()),
    ];
    env.extend_from_slice(results);
    env.extend_from_slice(inputs);
    runner.next_step();
    let run = runner.run(&script("comment.sh"), &[], ".", &env);
    assert_no_token(&run);
    run
}

fn assert_no_token(run: &Run) {
    assert!(!run.stdout.contains(TOKEN), "the token was printed on stdout:\n{}", run.show());
    assert!(!run.stderr.contains(TOKEN), "the token was printed on stderr:\n{}", run.show());
    assert!(!run.stdout.contains("ghs_"), "part of the token was printed:\n{}", run.show());
}

const MARKER: &str = "<!-- kvsync:plan:kv/kvsync.yaml:production -->";
/// Who GITHUB_TOKEN comments as, and so the default `comment-author`.
const BOT: &str = "github-actions[bot]";
const CHANGES: &[(&str, &str)] =
    &[("KVSYNC_EXIT_CODE", "2"), ("KVSYNC_HAS_CHANGES", "true"), ("KVSYNC_HAS_DRIFT", "false")];
const NO_CHANGES: &[(&str, &str)] =
    &[("KVSYNC_EXIT_CODE", "0"), ("KVSYNC_HAS_CHANGES", "false"), ("KVSYNC_HAS_DRIFT", "false")];

// ---------------------------------------------------------------------------------------------
// The pull-request flow end to end: run.sh with the real kvsync, then comment.sh.

/// The issue's scenario: a pull request's first push creates the comment, a second push updates
/// it in place, a push that leaves nothing to change turns it into a "No changes" note, and a
/// re-run that would write the same text leaves it alone.
#[tokio::test]
async fn a_pull_request_comment_is_created_updated_then_turned_into_no_changes() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::with_comments(&["Looks good to me", "Can we ship this on Friday?"]);
    let server = github.serve().await;
    let runner = Runner::new();
    let inputs = [
        ("INPUT_COMMAND", "plan"),
        ("INPUT_ENVIRONMENT", "production"),
        ("INPUT_ARGS", "--target local"),
    ];
    let step = |runner: &Runner| {
        let (run, outputs) = runner.kvsync("kv", &inputs);
        let results = [
            ("KVSYNC_CONFIG_PATH", outputs["config-path"].clone()),
            ("KVSYNC_EXIT_CODE", outputs["exit-code"].clone()),
            ("KVSYNC_HAS_CHANGES", outputs["has-changes"].clone()),
            ("KVSYNC_HAS_DRIFT", outputs["has-drift"].clone()),
            ("KVSYNC_REPORT_FILE", outputs["report-file"].clone()),
        ];
        (run, outputs, results)
    };
    let post = |results: &[(&str, String)]| {
        let report = std::fs::read_to_string(&results[4].1).expect("report file");
        let results: Vec<(&str, &str)> = results.iter().map(|(k, v)| (*k, v.as_str())).collect();
        comment(&runner, &server, &report, &results, &[])
    };

    // First push: two flags.
    runner.write(
        "kv/kvsync.yaml",
        config_with_production(&[("f/banner", "Autumn sale"), ("f/rollout", "25")]),
    );
    let (run, outputs, results) = step(&runner);
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert_eq!(outputs["has-drift"], "false");
    assert_eq!(outputs["config-path"], "kv/kvsync.yaml");
    assert!(runner.summary().contains("**Plan: 2 to create.**"), "{}", runner.summary());
    assert!(outputs["summary"].starts_with("## kvsync plan: shop (production)"));
    let run = post(&results);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert_eq!(ours.len(), 1, "one comment: {:?}", github.comments());
    assert!(ours[0].contains("**Plan: 2 to create.**"), "{}", ours[0]);
    // The local target bills nothing, so the comment has no cost line (on Cloudflare it has:
    // `cloudflare::binary_values_are_read_singly_and_retries_are_not_billed`).
    assert!(!ours[0].contains("Cost:"), "{}", ours[0]);
    assert!(ours[0].contains("`f/banner`") && ours[0].contains("+Autumn sale"), "{}", ours[0]);
    assert!(ours[0].contains("at 8f3c2a1"), "the comment names the commit: {}", ours[0]);
    assert_eq!(github.count("POST"), 1);

    // Second push: one more flag and another value: the same comment, updated.
    runner.write(
        "kv/kvsync.yaml",
        config_with_production(&[
            ("f/banner", "Winter sale"),
            ("f/rollout", "50"),
            ("f/search-v2", "on"),
        ]),
    );
    let (_, outputs, results) = step(&runner);
    assert_eq!(outputs["exit-code"], "2");
    let run = post(&results);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert_eq!(ours.len(), 1, "still one comment: {:?}", github.comments());
    assert!(ours[0].contains("**Plan: 3 to create.**") && ours[0].contains("+Winter sale"));
    assert!(!ours[0].contains("Autumn"), "{}", ours[0]);
    assert_eq!((github.count("POST"), github.count("PATCH")), (1, 1), "{:?}", github.log());
    assert_eq!(github.comments().len(), 3, "the reviewers' comments are untouched");

    // The plan is applied (apply.sh with --auto-approve): the next push changes nothing.
    let (run, outputs) = runner.kvsync(
        "kv",
        &[
            ("INPUT_COMMAND", "apply"),
            ("INPUT_ENVIRONMENT", "production"),
            ("INPUT_ARGS", "--target local"),
        ],
    );
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert!(runner.summary().contains("Apply complete: 3 written, 0 deleted."));
    let (_, outputs, results) = step(&runner);
    assert_eq!(outputs["exit-code"], "0");
    assert_eq!(outputs["has-changes"], "false");
    let run = post(&results);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert_eq!(ours.len(), 1);
    assert!(ours[0].contains("kvsync plan: no changes"), "{}", ours[0]);
    assert!(ours[0].contains("No changes. 3 unchanged."), "{}", ours[0]);
    assert!(!ours[0].contains("Winter"), "the old report is gone: {}", ours[0]);
    assert_eq!((github.count("POST"), github.count("PATCH")), (1, 2), "{:?}", github.log());

    // A re-run with the same result: nothing to update.
    let (_, _, results) = step(&runner);
    let run = post(&results);
    assert!(run.stderr.contains("not updated"), "{}", run.show());
    assert_eq!((github.count("POST"), github.count("PATCH")), (1, 2), "{:?}", github.log());
}

#[tokio::test]
async fn no_changes_and_no_comment_yet_posts_nothing() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::with_comments(&["First!"]);
    let server = github.serve().await;
    let runner = Runner::new();
    let run = comment(
        &runner,
        &server,
        "## kvsync plan\n\n**No changes. 3 unchanged.**\n",
        NO_CHANGES,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stderr.contains("nothing to post"), "{}", run.show());
    assert_eq!(github.comments().len(), 1);
    assert_eq!((github.count("POST"), github.count("PATCH")), (0, 0), "{:?}", github.log());
}

/// The marker is looked for on every page, and only at the start of a comment: a reviewer who
/// quotes the bot's comment, or the comment for another environment, is not ours.
#[tokio::test]
async fn the_comment_is_found_on_a_later_page() {
    require(&["bash", "curl", "jq"]);
    let mut bodies: Vec<String> = (1..=150).map(|n| format!("review comment {n}")).collect();
    bodies[3] = format!("> {MARKER}\n> quoted by a reviewer");
    bodies[20] = "<!-- kvsync:plan:kv/kvsync.yaml:staging -->\nthe staging plan".to_owned();
    bodies[129] = format!("{MARKER}\nan older plan");
    let comments: Vec<(&str, &str)> = bodies
        .iter()
        .enumerate()
        .map(|(n, body)| (if n == 20 || n == 129 { BOT } else { "a-reviewer" }, body.as_str()))
        .collect();
    let github = GitHub::with_authored(&comments);
    let server = github.serve().await;
    let runner = Runner::new();

    let run = comment(&runner, &server, "## kvsync plan\n\n**Plan: 1 to create.**\n", CHANGES, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    let log = github.log();
    assert!(log.iter().any(|r| r.starts_with("GET") && r.contains("page=2")), "{log:?}");
    assert_eq!(github.count("POST"), 0, "no second comment: {log:?}");
    assert_eq!(github.count("PATCH /repos/acme/shop/issues/comments/130"), 1, "{log:?}");
    let comments = github.comments();
    assert_eq!(comments.len(), 150);
    assert!(comments[129]["body"].as_str().is_some_and(|b| b.contains("Plan: 1 to create.")));
    assert!(comments[3]["body"].as_str().is_some_and(|b| b.contains("quoted by a reviewer")));
    assert!(comments[20]["body"].as_str().is_some_and(|b| b.contains("the staging plan")));
}

/// The marker alone does not make a comment ours: anyone can paste it. Only a comment by
/// `comment-author` (GITHUB_TOKEN's `github-actions[bot]` by default) is edited, and the id of
/// the comment written is the `comment-id` output.
#[tokio::test]
async fn a_comment_with_the_marker_by_someone_else_is_not_edited() {
    require(&["bash", "curl", "jq"]);
    let planted = format!("{MARKER}\nI wrote this by hand");
    let github = GitHub::with_authored(&[("mallory", &planted), ("kvsync-app[bot]", &planted)]);
    let server = github.serve().await;
    let runner = Runner::new();
    let report = "## kvsync plan\n\n**Plan: 1 to create.**\n";

    let run = comment(&runner, &server, report, CHANGES, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!((github.count("POST"), github.count("PATCH")), (1, 0), "{:?}", github.log());
    let comments = github.comments();
    assert_eq!(comments[0]["body"], planted.as_str(), "mallory's comment is untouched");
    assert_eq!(comments[1]["body"], planted.as_str());
    assert_eq!(comments[2]["user"]["login"], BOT);
    assert_eq!(runner.outputs()["comment-id"], "3");

    // The next push updates the bot's own comment, and the output names it again.
    let report = "## kvsync plan\n\n**Plan: 2 to create.**\n";
    let run = comment(&runner, &server, report, CHANGES, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(github.count("PATCH /repos/acme/shop/issues/comments/3"), 1, "{:?}", github.log());
    assert_eq!(runner.outputs()["comment-id"], "3");

    // With `comment-author` naming the app, its comment is the one updated.
    let run =
        comment(&runner, &server, report, CHANGES, &[("INPUT_COMMENT_AUTHOR", "kvsync-app[bot]")]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(github.count("PATCH /repos/acme/shop/issues/comments/2"), 1, "{:?}", github.log());
    assert_eq!(runner.outputs()["comment-id"], "2");
    assert_eq!(github.comments()[0]["body"], planted.as_str());
}

#[tokio::test]
async fn one_comment_per_config_and_environment() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    for environment in ["staging", "production", "staging"] {
        let report = format!("## kvsync plan: shop ({environment})\n\n**Plan: 1 to create.**\n");
        let run =
            comment(&runner, &server, &report, CHANGES, &[("INPUT_ENVIRONMENT", environment)]);
        assert_eq!(run.code, 0, "{}", run.show());
    }
    assert_eq!(github.comments().len(), 2, "{:?}", github.comments());
    assert_eq!(github.bodies_with("<!-- kvsync:plan:kv/kvsync.yaml:staging -->").len(), 1);
    assert_eq!(github.bodies_with(MARKER).len(), 1);
    assert_eq!((github.count("POST"), github.count("PATCH")), (2, 0), "same text: no update");
}

/// A failed plan must not leave an outdated plan up: an existing comment says it failed; without
/// one, nothing is created (`on-change`).
#[tokio::test]
async fn a_failed_run_replaces_the_old_report_but_creates_nothing() {
    require(&["bash", "curl", "jq"]);
    let failed: &[(&str, &str)] = &[
        ("KVSYNC_EXIT_CODE", "1"),
        ("KVSYNC_HAS_CHANGES", "false"),
        ("KVSYNC_HAS_DRIFT", "false"),
    ];
    let report =
        "### kvsync plan failed (exit 1)\n\n```text\nerror: no Cloudflare API token\n```\n";

    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    let run = comment(&runner, &server, report, failed, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(github.comments().is_empty());

    let github = GitHub::with_authored(&[(BOT, &format!("{MARKER}\n**Plan: 9 to create.**"))]);
    let server = github.serve().await;
    let run = comment(&runner, &server, report, failed, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert!(ours[0].contains("failed") && !ours[0].contains("9 to create"), "{}", ours[0]);
}

#[tokio::test]
async fn the_comment_input_and_the_event_decide_whether_to_post() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    let no_changes = "## kvsync plan\n\n**No changes. 3 unchanged.**\n";

    let run = comment(&runner, &server, no_changes, CHANGES, &[("INPUT_COMMENT", "never")]);
    assert_eq!(run.code, 0, "{}", run.show());
    let run = comment(&runner, &server, no_changes, CHANGES, &[("GITHUB_EVENT_NAME", "push")]);
    assert_eq!(run.code, 0, "{}", run.show());
    let run = comment(&runner, &server, no_changes, CHANGES, &[("INPUT_COMMAND", "apply")]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(github.log().is_empty(), "{:?}", github.log());

    let run = comment(&runner, &server, no_changes, NO_CHANGES, &[("INPUT_COMMENT", "always")]);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert_eq!(ours.len(), 1);
    assert!(ours[0].contains("No changes. 3 unchanged."), "{}", ours[0]);

    let run = comment(&runner, &server, no_changes, CHANGES, &[("INPUT_COMMENT", "sometimes")]);
    assert_eq!(run.code, 1, "{}", run.show());
    assert!(run.stdout.contains("::error"), "{}", run.show());
}

/// A token without `pull-requests: write` (a fork's) is a warning with a hint, never a printed
/// token, even when the server's error message repeats it.
#[tokio::test]
async fn the_token_never_appears_in_the_output() {
    require(&["bash", "curl", "jq"]);
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPOSITORY}/issues/{PR}/comments")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": format!("Resource not accessible by integration (token {TOKEN})"),
        })))
        .mount(&server)
        .await;
    let runner = Runner::new();
    let run = comment(&runner, &server, "**Plan: 1 to create.**\n", CHANGES, &[]);
    assert_eq!(run.code, 0, "a comment problem does not fail the plan: {}", run.show());
    assert!(run.stdout.contains("::warning"), "{}", run.show());
    assert!(run.stdout.contains("HTTP 403"), "{}", run.show());
    assert!(run.stdout.contains("pull-requests: write"), "{}", run.show());
    let requests = server.received_requests().await.expect("requests");
    assert!(
        requests.iter().all(|r| r
            .headers
            .get("authorization")
            .is_some_and(|v| v.to_str().is_ok_and(|v| v == format!("Bearer {TOKEN}")))),
        "every request carries the token in its header"
    );
}

// ---------------------------------------------------------------------------------------------
// run.sh and finish.sh with the real kvsync.

#[test]
fn plan_apply_and_drift_set_the_outputs_and_the_summary() {
    require(&["bash"]);
    let runner = Runner::new();
    runner.write("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2")]));
    let local = [("INPUT_ARGS", "--target local")];

    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "plan"), local[0]]);
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert_eq!(outputs["has-drift"], "false");
    assert_eq!(outputs["config-path"], "kvsync.yaml");
    let plan_file = outputs["plan-file"].clone();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_file).expect("plan file"))
            .expect("JSON");
    assert_eq!(saved["kind"], "kvsync-saved-plan");
    assert!(runner.summary().starts_with("## kvsync plan: shop\n"), "{}", runner.summary());
    assert!(runner.summary().contains("**Plan: 2 to create.**"));
    assert_eq!(outputs["summary"].trim_end(), runner.summary().trim_end());
    assert!(run.stdout.contains("::group::kvsync plan -c kvsync.yaml --format markdown"));
    assert!(run.stdout.contains("::stop-commands::"), "the report is inert in the log");
    let finish = runner.run(
        &script("finish.sh"),
        &[],
        ".",
        &[("INPUT_COMMAND", "plan"), ("KVSYNC_EXIT_CODE", "2")],
    );
    assert_eq!(finish.code, 0, "changes are not a failure of plan: {}", finish.show());

    // Apply the saved plan named in `args`: no --auto-approve needed.
    let args = format!("--target local {plan_file}");
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "apply"), ("INPUT_ARGS", &args)]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert!(!run.stdout.contains("--auto-approve"), "{}", run.show());
    assert!(runner.summary().contains("Applied the saved plan"), "{}", runner.summary());
    assert!(runner.summary().contains("Apply complete: 2 written, 0 deleted."));
    // Applying it again: the keys are what the plan wrote, so it is not stale; nothing is left.
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "apply"), ("INPUT_ARGS", &args)]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert!(run.stdout.contains("No changes. 2 unchanged."), "{}", run.show());

    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "drift"), local[0]]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert_eq!(outputs["has-drift"], "false");
    assert!(runner.summary().contains("**No drift. 2 in sync.**"), "{}", runner.summary());

    edit_by_hand(&runner.workspace().join(".kvsync/local.db"), NS, "f/b", "edited by hand");
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "drift"), local[0]]);
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    assert_eq!(outputs["has-drift"], "true");
    assert!(runner.summary().contains("**modified** `f/b`"), "{}", runner.summary());
    assert!(outputs["summary"].contains("**Drift: 1 modified.**"), "{}", outputs["summary"]);
    let finish = runner.run(
        &script("finish.sh"),
        &[],
        ".",
        &[("INPUT_COMMAND", "drift"), ("KVSYNC_EXIT_CODE", "2")],
    );
    assert_ne!(finish.code, 0, "drift fails the job");
    assert!(finish.stdout.contains("::error title=kvsync drift::drift found"), "{}", finish.show());

    // `command: pull` writes the hand edit back into the config; exit 2 does not fail the job,
    // so the next step can open the pull request.
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "pull"), local[0]]);
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert!(runner.summary().contains("### kvsync pull: `kvsync.yaml`"), "{}", runner.summary());
    assert!(
        outputs["summary"].contains("~ f/b (value changed live) → kvsync.yaml"),
        "{}",
        outputs["summary"]
    );
    let config = std::fs::read_to_string(runner.workspace().join("kvsync.yaml")).expect("config");
    assert!(config.contains("f/b: \"edited by hand\""), "{config}");
    let finish = runner.run(
        &script("finish.sh"),
        &[],
        ".",
        &[("INPUT_COMMAND", "pull"), ("KVSYNC_EXIT_CODE", "2")],
    );
    assert_eq!(finish.code, 0, "{}", finish.show());
}

/// A pull request from a fork gets no secrets, so no Cloudflare token: plan and drift validate
/// the config instead, say why in the job summary, and pass unless the config is invalid. A
/// branch of the repository without a token, a fork given a token, and `--target local` plan
/// as before.
#[tokio::test]
async fn a_pull_request_from_a_fork_is_validated_not_planned() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    runner.write("kv/kvsync.yaml", config_with_production(&[("f/a", "1"), ("f/b", "2")]));
    runner.pull_request_from("someone/shop");
    let inputs = [
        ("INPUT_COMMAND", "plan"),
        ("INPUT_ENVIRONMENT", "production"),
        ("INPUT_COMMENT", "always"),
    ];

    let (run, outputs) = runner.kvsync("kv", &inputs);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert_eq!(outputs["ran"], "validate");
    assert_eq!(outputs["has-changes"], "false");
    assert_eq!(outputs["plan-file"], "", "nothing for the artifact step to upload");
    assert!(
        run.stdout.contains("::notice title=kvsync plan::no Cloudflare API token"),
        "{}",
        run.show()
    );
    assert!(!run.stdout.contains("kvsync plan -c"), "kvsync plan did not run: {}", run.show());
    let summary = runner.summary();
    assert!(summary.contains("kvsync plan skipped: pull request from a fork"), "{summary}");
    assert!(summary.contains("no Cloudflare API token"), "{summary}");
    assert!(summary.contains("`kv/kvsync.yaml` is valid"), "{summary}");
    assert_eq!(outputs["summary"], summary.trim_end());
    let finish = runner.run(
        &script("finish.sh"),
        &[],
        ".",
        &[("INPUT_COMMAND", "plan"), ("KVSYNC_EXIT_CODE", "0")],
    );
    assert_eq!(finish.code, 0, "the check stays green: {}", finish.show());
    // No comment, even with `always`: there is no plan to show.
    let report = std::fs::read_to_string(&outputs["report-file"]).expect("report file");
    let results = [("KVSYNC_EXIT_CODE", "0"), ("KVSYNC_RAN", "validate")];
    let run = comment(&runner, &server, &report, &results, &[("INPUT_COMMENT", "always")]);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(github.log().is_empty(), "{:?}", github.log());

    // An invalid config still fails, with its annotations; `args` meant for plan are not
    // passed to validate.
    runner.write("kv/kvsync.yaml", config_with_production(&[("g/outside", "1")]));
    let plan_args = [&inputs[..], &[("INPUT_ARGS", "--only f/** --no-value-diff")]].concat();
    let (run, outputs) = runner.kvsync("kv", &plan_args);
    assert_eq!(outputs["exit-code"], "1", "{}", run.show());
    assert!(run.stdout.contains("::error file=kv/kvsync.yaml,line="), "{}", run.show());
    assert!(runner.summary().contains("1 problem in `kv/kvsync.yaml`"), "{}", runner.summary());

    // Given a token, a fork's pull request is planned (the local target ignores the token).
    runner.write("kv/kvsync.yaml", config_with_production(&[("f/a", "1")]));
    let with_token = [&inputs[..], &[("CLOUDFLARE_API_TOKEN", "a-token")]].concat();
    let (run, outputs) = runner.kvsync("kv", &with_token);
    assert_eq!(
        (outputs["exit-code"].as_str(), outputs["ran"].as_str()),
        ("2", "plan"),
        "{}",
        run.show()
    );
    // So is one that asks for the local target, which needs no token.
    let local = [&inputs[..], &[("INPUT_ARGS", "--target local")]].concat();
    let (run, outputs) = runner.kvsync("kv", &local);
    assert_eq!(
        (outputs["exit-code"].as_str(), outputs["ran"].as_str()),
        ("2", "plan"),
        "{}",
        run.show()
    );
    // And a branch of this repository without a token plans, and would fail if the token were
    // needed: a missing secret there is a mistake to see, not a fork.
    runner.pull_request_from(REPOSITORY);
    let (run, outputs) = runner.kvsync("kv", &inputs);
    assert_eq!(
        (outputs["exit-code"].as_str(), outputs["ran"].as_str()),
        ("2", "plan"),
        "{}",
        run.show()
    );
}

/// The `run: |` script of the step named `name` in a workflow.
fn step_script(workflow: &str, name: &str) -> String {
    let lines: Vec<&str> = workflow.lines().collect();
    let start = lines.iter().position(|line| line.trim() == format!("- name: {name}"));
    let start = start.unwrap_or_else(|| panic!("no step `{name}`"));
    let run = (start..lines.len()).find(|&n| lines[n].trim() == "run: |").expect("run: |");
    let indent = lines[run].len() - lines[run].trim_start().len();
    let mut script = String::new();
    for line in &lines[run + 1..] {
        if !line.trim().is_empty() && line.len() - line.trim_start().len() <= indent {
            break;
        }
        script.push_str(line.get(indent + 2..).unwrap_or(""));
        script.push('\n');
    }
    script
}

/// Issue #25 in the Action, against the Cloudflare stand-in: a 5,000-change plan's job summary
/// lists every key and every update's diff, the comment and the `summary` output the first 50
/// keys of each group; the values read are exactly the diffs the job summary shows (the log's
/// 64 MiB rendering reads none of its own).
#[test]
fn the_job_summary_lists_every_key_and_the_log_reads_nothing() {
    require(&["bash", "jq"]);
    let keys = |n: usize, value: &str| {
        (0..n)
            .fold(Config::new().owner("shop"), |config, i| {
                config.entry(&format!("f/{i:04}"), &format!("\"{value}-{i}\""))
            })
            .yaml()
    };
    let cloud = crate::support::Cloud::new(&keys(5_000, "v"));
    let apply = cloud.run(&["apply", "--auto-approve", "--no-value-diff"]);
    assert_eq!(apply.code, 0, "{}", apply.snapshot());
    let runner = Runner::new();
    runner.write("kvsync.yaml", keys(2_000, "w"));
    cloud.standin.reset_counts();
    let url = cloud.standin.base_url();
    let args = format!("--api-url {url} --max-deletes 3000");
    let mut inputs: Vec<(&str, &str)> = vec![("INPUT_COMMAND", "plan"), ("INPUT_ARGS", &args)];
    inputs.extend(cloud.test.vars().iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let (run, outputs) = runner.kvsync(".", &inputs);
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    let diffs = |text: &str| text.matches("<summary>Value diff</summary>").count();
    let updates = |text: &str| text.matches("\n- `~` ").count();
    let summary = runner.summary();
    assert!(summary.len() <= 1_048_576);
    assert_eq!((updates(&summary), summary.matches("\n- `-` ").count()), (2_000, 3_000));
    assert_eq!(diffs(&summary), 2_000);
    assert_eq!(cloud.standin.counts().keys_read, 2_000);
    let comment = std::fs::read_to_string(&outputs["report-file"]).expect("comment report");
    assert_eq!(updates(&comment), 50, "{comment}");
    // Each capped group says where every key is.
    let more = |n: usize| format!("\n- … and {n} more (the whole report is in the job summary)\n");
    assert!(comment.contains(&more(1950)), "{comment}");
    assert!(comment.contains(&more(2950)), "{comment}");
    assert_eq!(updates(&outputs["summary"]), 50);
}

/// The nightly drift issue is the `summary` output (kvsync's report rendered for its budget)
/// and two lines of the workflow's: at the largest the output can be, the body still fits
/// GitHub's 65,536 characters, so a long drift never fails to open its issue.
#[test]
fn the_nightly_drift_issue_fits_in_an_issue_body() {
    require(&["bash"]);
    let runner = Runner::new();
    let workflow = std::fs::read_to_string(repo().join("examples/github/drift-nightly.yml"))
        .expect("drift-nightly.yml");
    let script = step_script(&workflow, "open or update the drift issue");
    assert!(script.contains("\"$SUMMARY\""), "{script}");
    let fake_bin = runner.path("fake-bin");
    std::fs::create_dir_all(&fake_bin).expect("mkdir");
    let gh = fake_bin.join("gh");
    std::fs::write(
        &gh,
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --body-file ]; then cp \"$2\" \
         \"$GH_BODY\"; fi\n  shift\ndone\n",
    )
    .expect("fake gh");
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(runner.path("workspace/step.sh"), &script).expect("script");
    let body = runner.path("body.md");
    let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default());
    let summary = "x".repeat(SUMMARY_OUTPUT_BUDGET);
    let run = runner.run(
        &runner.path("workspace/step.sh"),
        &[],
        ".",
        &[
            ("PATH", path.as_str()),
            ("GH_BODY", body.to_str().expect("path")),
            ("GH_TOKEN", "unused"),
            ("SUMMARY", summary.as_str()),
            ("RUN_URL", "https://github.com/acme/a-long-repository-name/actions/runs/12345678901"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.show());
    let body = std::fs::read_to_string(body).expect("the issue body");
    assert!(body.starts_with(&summary), "the report comes first, whole");
    assert!(body.chars().count() <= BODY_LIMIT, "{} characters", body.chars().count());
}

#[test]
fn finish_fails_on_errors_and_on_drift_only() {
    require(&["bash"]);
    let runner = Runner::new();
    for (command, code, passes) in [
        ("plan", "0", true),
        ("plan", "2", true),
        ("plan", "1", false),
        ("drift", "0", true),
        ("drift", "2", false),
        ("validate", "1", false),
        ("apply", "0", true),
        ("apply", "1", false),
        ("plan", "", false),
    ] {
        let run = runner.run(
            &script("finish.sh"),
            &[],
            ".",
            &[("INPUT_COMMAND", command), ("KVSYNC_EXIT_CODE", code)],
        );
        assert_eq!(run.code == 0, passes, "{command} exit {code:?}: {}", run.show());
    }
}

/// The annotations point at the file as the repository names it, so GitHub shows them on the
/// pull request's diff, whatever `working-directory` is.
#[test]
fn validate_errors_become_annotations_on_the_file_and_line() {
    require(&["bash"]);
    let runner = Runner::new();
    runner.write(
        "infra/kv/kvsync.yaml",
        format!(
            "version: 1\nowner: shop\nnamespaces:\n  flags:\n    namespace_id: {NS}\n    prefix: \
             \"f/\"\n    keys:\n      f/ok: x\n      g/outside: x\n      f/ttl:\n        value: \
             y\n        expiration_ttl: 5\n"
        ),
    );
    let (run, outputs) = runner.kvsync("infra/kv", &[("INPUT_COMMAND", "validate")]);
    assert_eq!(outputs["exit-code"], "1", "{}", run.show());
    assert!(
        run.stdout.contains("::error file=infra/kv/kvsync.yaml,line=9,col=7::key `g/outside`"),
        "{}",
        run.show()
    );
    assert!(
        run.stdout.contains("::error file=infra/kv/kvsync.yaml,line=12,col=25::`expiration_ttl`"),
        "{}",
        run.show()
    );
    assert!(
        !run.stdout.contains("::error file=kvsync.yaml"),
        "no annotation twice: {}",
        run.stdout
    );
    let summary = runner.summary();
    assert!(summary.contains("2 problems in `infra/kv/kvsync.yaml`"), "{summary}");
    assert!(summary.contains("`infra/kv/kvsync.yaml:9:7`"), "{summary}");

    // A plan of the broken config fails, and says where, too.
    let (run, outputs) =
        runner.kvsync("infra/kv", &[("INPUT_COMMAND", "plan"), ("INPUT_ARGS", "--target local")]);
    assert_eq!(outputs["exit-code"], "1", "{}", run.show());
    assert_eq!(outputs["plan-file"], "");
    assert!(
        run.stdout.contains("::error file=infra/kv/kvsync.yaml,line=9,col=7::"),
        "{}",
        run.show()
    );
    // kvsync's own report lists the problems once; not the generic failure text, not twice.
    let summary = runner.summary();
    assert!(summary.starts_with("## kvsync plan: the config has 2 problems"), "{summary}");
    assert!(!summary.contains("kvsync plan failed"), "{summary}");
    assert!(!summary.contains("Problems in the config"), "{summary}");
    assert_eq!(summary.matches("g/outside").count(), 1, "{summary}");
    assert_eq!(outputs["has-changes"], "false");

    runner.write("infra/kv/kvsync.yaml", config(&[("f/a", "1")]));
    let (run, outputs) = runner.kvsync("infra/kv", &[("INPUT_COMMAND", "validate")]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert!(runner.summary().contains("`infra/kv/kvsync.yaml` is valid"), "{}", runner.summary());
}

// ---------------------------------------------------------------------------------------------
// run.sh with a stand-in kvsync, for what the real one on this branch does not do yet or cannot
// be made to do here: render for several budgets, refuse a plan.

/// A stand-in kvsync. It appends its arguments to `$STUB_LOG` (one a line, then `--end--`),
/// answers `--help` (naming `--markdown-out` when `$STUB_RENDERS` is set), writes
/// `$STUB_STDERR`, and for plan and drift prints `$STUB_STDOUT` and exits `$STUB_EXIT`. Each
/// `--markdown-out PATH:BUDGET:LABEL` gets exactly BUDGET bytes: a heading naming the label and
/// budget, then an unclosed diff fence full of `x`, which any cut or repair would change.
fn stub_kvsync(runner: &Runner) -> (String, PathBuf) {
    let stub = runner.path("stub/kvsync");
    std::fs::create_dir_all(stub.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &stub,
        r#"#!/bin/sh
printf '%s\n' "$@" --end-- >>"$STUB_LOG"
case " $* " in
  *" --help "*)
    if [ -n "${STUB_RENDERS:-}" ]; then echo '      --markdown-out <PATH:MAX_CHARS:LABEL>'; fi
    exit 0
    ;;
esac
if [ -n "${STUB_STDERR:-}" ]; then printf '%s\n' "$STUB_STDERR" >&2; fi
[ "$1" = validate ] && exit 0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) printf '{}' >"$2" ;;
    --markdown-out)
      label="${2##*:}"; rest="${2%:*}"; budget="${rest##*:}"; file="${rest%:*}"
      printf '## kvsync plan: stub (%s, %s)\n\n```diff\n' "$label" "$budget" >"$file"
      size=$(wc -c <"$file")
      head -c $((budget - size)) /dev/zero | tr '\0' x >>"$file"
      ;;
  esac
  shift
done
[ -n "${STUB_STDOUT:-}" ] && cat "$STUB_STDOUT"
exit "${STUB_EXIT:-2}"
"#,
    )
    .expect("stub");
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    (stub.to_string_lossy().into_owned(), runner.path("stub.log"))
}

/// The calls the stand-in kvsync recorded, each as its arguments.
fn stub_calls(log: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut calls = vec![Vec::new()];
    for line in text.lines() {
        if line == "--end--" {
            calls.push(Vec::new());
        } else {
            calls.last_mut().expect("a call").push(line.to_owned());
        }
    }
    calls.pop();
    calls
}

/// The `--markdown-out` specs of a call: (file name, budget, label).
fn markdown_outs(call: &[String]) -> Vec<(String, usize, String)> {
    call.windows(2)
        .filter(|pair| pair[0] == "--markdown-out")
        .map(|pair| {
            let mut parts = pair[1].rsplitn(3, ':');
            let label = parts.next().expect("label").to_owned();
            let budget = parts.next().expect("budget").parse().expect("a number");
            let file = parts.next().expect("path");
            let name = Path::new(file).file_name().expect("name").to_string_lossy().into_owned();
            (name, budget, label)
        })
        .collect()
}

fn value_after<'a>(call: &'a [String], flag: &str) -> Option<&'a str> {
    call.windows(2).find(|pair| pair[0] == flag).map(|pair| pair[1].as_str())
}

/// A 5,000-change report is cut once, by kvsync, for each place: the action asks for one
/// rendering per place with that place's budget (the job summary's room, the comment less its
/// marker and footer, the `summary` output), and passes each on byte for byte.
#[tokio::test]
async fn kvsync_renders_the_report_once_for_each_place_and_nothing_cuts_it_again() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    runner.write("kv/kvsync.yaml", config(&[("f/a", "1")]));
    let (stub, log) = stub_kvsync(&runner);
    let stdout = runner.path("stub-stdout.md");
    std::fs::write(&stdout, "## kvsync plan: shop\n\n**Plan: 5000 to create.**\n").expect("stdout");
    let stdout = stdout.to_string_lossy().into_owned();
    let log_path = log.to_string_lossy().into_owned();
    let inputs = [
        ("KVSYNC_BIN", stub.as_str()),
        ("STUB_LOG", log_path.as_str()),
        ("STUB_RENDERS", "1"),
        ("STUB_STDOUT", stdout.as_str()),
        ("INPUT_COMMAND", "plan"),
        ("INPUT_ENVIRONMENT", "production"),
    ];
    // Earlier steps wrote 1,000 bytes to this step's summary.
    runner.next_step();
    std::fs::write(runner.path("summary"), "e".repeat(1000)).expect("earlier");
    let run = runner.run(&script("run.sh"), &[], "kv", &inputs);
    assert_eq!(run.code, 0, "{}", run.show());
    let outputs = runner.outputs();
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());

    let calls = stub_calls(&log);
    let plan = calls.iter().find(|call| call[0] == "plan" && !call.contains(&"--help".to_owned()));
    let plan = plan.expect("kvsync plan ran");
    let outs = markdown_outs(plan);
    let names: Vec<&str> = outs.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(names, ["step-summary.md", "comment.md", "summary.md"], "{plan:?}");
    assert_eq!(outs[0].1, SUMMARY_LIMIT - 1000, "the room left in the job summary");
    assert_eq!(outs[0].2, "the job summary");
    assert_eq!(outs[1].2, "the pull-request comment");
    assert!((60_000..65_536).contains(&outs[1].1), "room for the marker and footer: {outs:?}");
    assert_eq!(
        outs[2],
        ("summary.md".to_owned(), SUMMARY_OUTPUT_BUDGET, "the `summary` output".to_owned())
    );
    assert_eq!(value_after(plan, "--full-report-hint"), Some("the log of the kvsync step"));
    assert!(value_after(plan, "--max-chars").is_some(), "the log gets the whole report: {plan:?}");

    // Each place holds kvsync's rendering exactly: not cut, no fence closed behind it.
    let rendering = |label: &str, budget: usize| {
        let head = format!("## kvsync plan: stub ({label}, {budget})\n\n```diff\n");
        head.clone() + &"x".repeat(budget - head.len())
    };
    let summary = runner.summary();
    assert_eq!(summary.len(), SUMMARY_LIMIT);
    assert_eq!(summary[1000..], rendering("the job summary", SUMMARY_LIMIT - 1000));
    assert_eq!(outputs["summary"], rendering("the `summary` output", SUMMARY_OUTPUT_BUDGET));
    assert!(run.stdout.contains("**Plan: 5000 to create.**"), "stdout goes to the log");

    let results = [
        ("KVSYNC_CONFIG_PATH", outputs["config-path"].as_str()),
        ("KVSYNC_EXIT_CODE", outputs["exit-code"].as_str()),
        ("KVSYNC_HAS_CHANGES", outputs["has-changes"].as_str()),
        ("KVSYNC_HAS_DRIFT", outputs["has-drift"].as_str()),
    ];
    let report = std::fs::read_to_string(&outputs["report-file"]).expect("report file");
    let run = comment(&runner, &server, &report, &results, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert_eq!(ours.len(), 1, "{}", run.show());
    assert!(ours[0].contains(&rendering("the pull-request comment", outs[1].1)), "whole");
    assert!(ours[0].chars().count() <= BODY_LIMIT, "{} characters", ours[0].chars().count());

    // drift renders the same way; without a comment to write, it asks for none.
    std::fs::remove_file(&log).expect("reset the log");
    let drift_inputs =
        [&inputs[..4], &[("INPUT_COMMAND", "drift"), ("INPUT_COMMENT", "never")]].concat();
    let (run, _) = runner.kvsync("kv", &drift_inputs);
    let calls = stub_calls(&log);
    let drift =
        calls.iter().find(|call| call[0] == "drift" && !call.contains(&"--help".to_owned()));
    let outs = markdown_outs(drift.expect("kvsync drift ran"));
    let names: Vec<&str> = outs.iter().map(|(name, _, _)| name.as_str()).collect();
    assert_eq!(names, ["step-summary.md", "summary.md"], "{}", run.show());
    assert_eq!(outs[0].1, SUMMARY_LIMIT);
}

/// An older kvsync (a `version:` pinned before `--markdown-out`) prints one rendering of at most
/// 65,536 bytes: it goes where it fits, and where it does not, a line says where it is. It is
/// never cut.
#[test]
fn an_older_kvsync_report_goes_where_it_fits_and_is_never_cut() {
    require(&["bash"]);
    let runner = Runner::new();
    runner.write("kvsync.yaml", config(&[("f/a", "1")]));
    let (stub, log) = stub_kvsync(&runner);
    let head = "## kvsync plan: shop\n\n**Plan: 5000 to create.**\n\n```diff\n";
    let report = head.to_owned() + &"x".repeat(65_536 - head.len());
    let stdout = runner.path("stub-stdout.md");
    std::fs::write(&stdout, &report).expect("stdout");
    let stdout = stdout.to_string_lossy().into_owned();
    let log_path = log.to_string_lossy().into_owned();
    let (run, outputs) = runner.kvsync(
        ".",
        &[
            ("KVSYNC_BIN", stub.as_str()),
            ("STUB_LOG", log_path.as_str()),
            ("STUB_STDOUT", stdout.as_str()),
        ],
    );
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    let calls = stub_calls(&log);
    assert!(calls.iter().all(|call| !call.contains(&"--markdown-out".to_owned())), "{calls:?}");
    assert_eq!(runner.summary(), report, "the job summary has room for all of it");
    let summary = &outputs["summary"];
    assert!(summary.contains("too long for this place; it is in the job summary."), "{summary}");
    assert!(summary.len() < 1000, "{summary}");
    let comment = std::fs::read_to_string(&outputs["report-file"]).expect("report file");
    assert!(comment.contains("it is in the job summary of the workflow run."), "{comment}");

    // A step summary without room for it gets the line, too.
    runner.next_step();
    let earlier = "e".repeat(SUMMARY_LIMIT - 3000);
    std::fs::write(runner.path("summary"), &earlier).expect("fill");
    let env = [
        ("KVSYNC_BIN", stub.as_str()),
        ("STUB_LOG", log_path.as_str()),
        ("STUB_STDOUT", stdout.as_str()),
    ];
    let run = runner.run(&script("run.sh"), &[], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    let summary = runner.summary();
    assert!(summary.len() <= SUMMARY_LIMIT, "{} bytes", summary.len());
    assert!(summary[earlier.len()..].contains("it is in the log of the kvsync step."));
}

/// A plan apply would refuse: kvsync exits 1 and prints the whole plan, saying why. The report
/// stays (job summary, comment), `has-changes` is true, and the check goes red after the
/// comment is written. An error without a report keeps the failure note.
#[tokio::test]
async fn a_refused_plan_keeps_its_report_and_fails_the_check() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    runner.write("kv/kvsync.yaml", config(&[("f/a", "1")]));
    let (stub, log) = stub_kvsync(&runner);
    let refused = "## kvsync plan: shop (production)\n\n**Plan: 3 to delete.**\n\n> [!CAUTION]\n\
                   > **Apply would refuse this plan; nothing is written.**\n>\n\
                   > - 3 deletes, more than `max_deletes` (2)\n";
    let stdout = runner.path("stub-stdout.md");
    std::fs::write(&stdout, refused).expect("stdout");
    let stdout = stdout.to_string_lossy().into_owned();
    let log_path = log.to_string_lossy().into_owned();
    let mut inputs = vec![
        ("KVSYNC_BIN", stub.as_str()),
        ("STUB_LOG", log_path.as_str()),
        ("STUB_STDOUT", stdout.as_str()),
        ("STUB_EXIT", "1"),
        ("STUB_STDERR", "error: apply would refuse this plan"),
        ("INPUT_COMMAND", "plan"),
        ("INPUT_ENVIRONMENT", "production"),
    ];
    let (run, outputs) = runner.kvsync("kv", &inputs);
    assert_eq!(outputs["exit-code"], "1", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert_eq!(runner.summary(), refused, "kvsync's report, not the tail of stderr");
    assert_eq!(outputs["summary"], refused.trim_end());
    let results = [
        ("KVSYNC_CONFIG_PATH", outputs["config-path"].as_str()),
        ("KVSYNC_EXIT_CODE", "1"),
        ("KVSYNC_HAS_CHANGES", "true"),
        ("KVSYNC_HAS_DRIFT", "false"),
    ];
    let (body, finish) = refused_plan_posted(&runner, &server, &github, refused, &results);
    assert!(!body.contains("previous report was removed"), "{body}");
    assert!(finish.stdout.contains("apply would refuse this plan"), "{}", finish.show());

    // An error with nothing on stdout: the end of stderr, as before.
    inputs.retain(|(name, _)| *name != "STUB_STDOUT" && *name != "STUB_STDERR");
    inputs.push(("STUB_STDERR", "error: no Cloudflare API token"));
    let (run, outputs) = runner.kvsync("kv", &inputs);
    assert_eq!(outputs["exit-code"], "1", "{}", run.show());
    assert_eq!(outputs["has-changes"], "false");
    let summary = runner.summary();
    assert!(summary.contains("kvsync plan failed (exit 1)"), "{summary}");
    assert!(summary.contains("error: no Cloudflare API token"), "{summary}");
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=kvsync test", "-c", "user.email=test@kvsync.invalid"])
        .args(["-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// `baseline: main` reads the config's folder from the target branch (not from the work tree),
/// so the report tells the pull request's changes from drift already live.
#[test]
fn a_baseline_ref_separates_the_pull_request_from_drift() {
    require(&["bash", "git"]);
    let runner = Runner::new();
    let ws = runner.workspace();
    let main_config = config(&[("f/a", "1"), ("f/b", "2"), ("f/c", "3")]);
    runner.write("kv/kvsync.yaml", &main_config);
    runner.write(".gitignore", ".kvsync/\n");
    git(&ws, &["init", "--quiet"]);
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "--quiet", "-m", "main"]);
    git(&ws, &["checkout", "--quiet", "-b", "feature"]);

    // Production holds main's config, and someone edited f/b by hand.
    let (run, outputs) =
        runner.kvsync("kv", &[("INPUT_COMMAND", "apply"), ("INPUT_ARGS", "--target local")]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    edit_by_hand(&ws.join("kv/.kvsync/local.db"), NS, "f/b", "edited by hand");

    // The pull request changes f/c and adds f/d.
    runner
        .write("kv/kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2"), ("f/c", "4"), ("f/d", "5")]));
    git(&ws, &["commit", "--quiet", "-am", "feature"]);
    let (run, outputs) = runner.kvsync(
        "kv",
        &[("INPUT_COMMAND", "plan"), ("INPUT_BASELINE", "main"), ("INPUT_ARGS", "--target local")],
    );
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    assert_eq!(outputs["has-drift"], "true", "{}", run.show());
    assert!(run.stdout.contains("--baseline"), "{}", run.show());
    let summary = runner.summary();
    let drift = summary.find("f/b").expect("f/b in the report");
    let pr = summary.find("f/d").expect("f/d in the report");
    assert!(drift < pr, "drift already live comes first: {summary}");

    // The work tree, its index and its worktrees are left alone.
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(&ws)
        .output()
        .expect("git status");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "", "the checkout is untouched");

    // A target branch without the config yet: no baseline, every change is the PR's.
    git(&ws, &["branch", "empty", "HEAD~1"]);
    git(&ws, &["checkout", "--quiet", "empty"]);
    git(&ws, &["rm", "--quiet", "-r", "kv"]);
    git(&ws, &["commit", "--quiet", "-m", "no config"]);
    git(&ws, &["checkout", "--quiet", "feature"]);
    let (run, outputs) = runner.kvsync(
        "kv",
        &[("INPUT_COMMAND", "plan"), ("INPUT_BASELINE", "empty"), ("INPUT_ARGS", "--target local")],
    );
    assert_eq!(outputs["exit-code"], "2", "{}", run.show());
    assert_eq!(outputs["has-drift"], "false");
    assert!(run.stdout.contains("::notice title=kvsync baseline::"), "{}", run.show());

    // Neither a file nor a ref: a clear error.
    let out = runner.path("baseline-path");
    let out = out.to_str().expect("path");
    let run =
        runner.run(&script("baseline.sh"), &["no-such-branch", "kvsync.yaml", out], "kv", &[]);
    assert_ne!(run.code, 0);
    assert!(run.stdout.contains("neither a file nor a git ref"), "{}", run.show());
}

// ---------------------------------------------------------------------------------------------
// install.sh against a local release server, and the release's version bookkeeping.

/// A release archive made by `action/package.sh`, as release.yml makes them, around a fake
/// kvsync that prints its version.
fn fake_release(runner: &Runner, target: &str) -> (Vec<u8>, String) {
    let binary = runner.path("build/kvsync");
    std::fs::create_dir_all(binary.parent().expect("parent")).expect("mkdir");
    std::fs::write(&binary, "#!/bin/sh\necho 'kvsync 9.9.9 (fake)'\n").expect("binary");
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let dist = runner.path("dist");
    let run = runner.run(
        &script("package.sh"),
        &[target, binary.to_str().expect("path"), dist.to_str().expect("path")],
        ".",
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.show());
    let archive = format!("kvsync-{target}.tar.gz");
    let bytes = std::fs::read(dist.join(&archive)).expect("archive");
    let sha = std::fs::read_to_string(dist.join(format!("{archive}.sha256"))).expect("sha256");
    assert!(sha.ends_with(&format!("  {archive}\n")), "sha256sum's format: {sha}");
    (bytes, sha)
}

async fn release_server(target: &str, archive: Vec<u8>, sha256: String) -> MockServer {
    let server = MockServer::start().await;
    let file = format!("/v9.9.9/kvsync-{target}.tar.gz");
    Mock::given(method("GET"))
        .and(path(file.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(archive))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{file}.sha256")))
        .respond_with(ResponseTemplate::new(200).set_body_string(sha256))
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn install_verifies_the_checksum_and_caches_by_version() {
    require(&["bash", "curl", "tar"]);
    let runner = Runner::new();
    let (archive, sha) = fake_release(&runner, "aarch64-apple-darwin");
    let server = release_server("aarch64-apple-darwin", archive, sha).await;
    let uri = server.uri();
    let env = [
        ("KVSYNC_VERSION", "v9.9.9"),
        ("KVSYNC_DOWNLOAD_BASE_URL", uri.as_str()),
        ("RUNNER_OS", "macOS"),
        ("RUNNER_ARCH", "ARM64"),
    ];
    let run = runner.run(&script("install.sh"), &[], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(run.stderr.contains("sha256 verified"), "{}", run.show());
    let dir = runner.path("tool-cache/kvsync/9.9.9/aarch64");
    let on_path = std::fs::read_to_string(runner.path("path")).expect("GITHUB_PATH");
    assert_eq!(on_path, format!("{}\n", dir.display()));
    assert_eq!(runner.outputs()["source"], "release");
    let version = Command::new(dir.join("kvsync")).output().expect("run the installed kvsync");
    assert_eq!(String::from_utf8_lossy(&version.stdout), "kvsync 9.9.9 (fake)\n");

    // The same version again comes from the tool cache (the server expects one download).
    runner.next_step();
    let run = runner.run(&script("install.sh"), &[], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(runner.outputs()["source"], "cache");
    assert_eq!(std::fs::read_to_string(runner.path("path")).expect("path"), on_path);
}

#[tokio::test]
async fn install_refuses_a_bad_checksum() {
    require(&["bash", "curl", "tar"]);
    let runner = Runner::new();
    let (archive, _) = fake_release(&runner, "x86_64-unknown-linux-musl");
    let wrong = format!("{}  kvsync-x86_64-unknown-linux-musl.tar.gz\n", "0".repeat(64));
    let server = release_server("x86_64-unknown-linux-musl", archive, wrong).await;
    let uri = server.uri();
    let env = [("KVSYNC_VERSION", "9.9.9"), ("KVSYNC_DOWNLOAD_BASE_URL", uri.as_str())];
    let run = runner.run(&script("install.sh"), &[], ".", &env);
    assert_eq!(run.code, 1, "{}", run.show());
    assert!(
        run.stdout.contains("::error title=kvsync install::checksum mismatch for kvsync-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        run.show()
    );
    assert!(run.stdout.contains(&"0".repeat(64)), "it says what it expected: {}", run.show());
    assert_eq!(std::fs::read_to_string(runner.path("path")).expect("path"), "", "nothing on PATH");
    assert!(!runner.path("tool-cache/kvsync/9.9.9/x86_64.complete").exists(), "nothing cached");
}

/// A stand-in `cargo` that records its arguments in `$KVSYNC_TEST_CARGO_LOG` and leaves a
/// `kvsync.exe` and a `kvsync` printing `built` in `--root`'s `bin`. Returns a PATH with it first.
fn fake_cargo(runner: &Runner) -> String {
    let fake_bin = runner.path("fake-bin");
    std::fs::create_dir_all(&fake_bin).expect("mkdir");
    let cargo = fake_bin.join("cargo");
    std::fs::write(
        &cargo,
        "#!/bin/sh\necho \"$@\" >> \"$KVSYNC_TEST_CARGO_LOG\"\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = \
         --root ]; then mkdir -p \"$2/bin\"; for exe in kvsync kvsync.exe; do printf \
         '#!/bin/sh\\necho built\\n' > \"$2/bin/$exe\"; chmod +x \"$2/bin/$exe\"; done; fi\n  \
         shift\ndone\n",
    )
    .expect("fake cargo");
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// No release archive for the version (404): kvsync is built from the action's own source, in
/// the two steps action.yml runs around its cache restore. A stand-in `cargo` records how it
/// was called.
#[tokio::test]
async fn install_builds_from_source_without_a_release_asset() {
    require(&["bash", "curl"]);
    let runner = Runner::new();
    let server = MockServer::start().await; // answers 404 to everything
    let path = fake_cargo(&runner);
    let log = runner.path("cargo.log");
    let uri = server.uri();
    let action_path = repo();
    let env = [
        ("PATH", path.as_str()),
        ("KVSYNC_VERSION", "9.9.9"),
        ("KVSYNC_DOWNLOAD_BASE_URL", uri.as_str()),
        ("RUNNER_OS", "Windows"),
        ("RUNNER_ARCH", "X64"),
        ("GITHUB_ACTION_PATH", action_path.to_str().expect("path")),
        ("KVSYNC_TEST_CARGO_LOG", log.to_str().expect("path")),
    ];
    let run = runner.run(&script("install.sh"), &[], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    let requests = server.received_requests().await.expect("requests");
    assert_eq!(requests[0].url.path(), "/v9.9.9/kvsync-x86_64-pc-windows-msvc.zip");
    let first = runner.outputs();
    assert_eq!(first["build"], "true", "{}", run.show());
    assert_eq!(
        first["why"],
        "kvsync 9.9.9 has no release archive kvsync-x86_64-pc-windows-msvc.zip"
    );
    assert!(!log.exists(), "nothing is built before the cache is restored");

    runner.next_step();
    let build_env = [
        &env[..],
        &[
            ("KVSYNC_BUILD_PATH", first["cache-path"].as_str()),
            ("KVSYNC_BUILD_WHY", first["why"].as_str()),
        ],
    ]
    .concat();
    let run = runner.run(&script("install.sh"), &["build"], ".", &build_env);
    assert_eq!(run.code, 0, "{}", run.show());
    assert!(
        run.stdout.contains("::notice title=kvsync install::kvsync 9.9.9 has no release archive")
    );
    let args = std::fs::read_to_string(&log).expect("cargo was called");
    assert_eq!(
        args,
        format!(
            "install --locked --path {} --root {} --bin kvsync\n",
            action_path.display(),
            first["cache-path"]
        )
    );
    assert_eq!(runner.outputs()["source"], "cargo");
    let on_path = std::fs::read_to_string(runner.path("path")).expect("GITHUB_PATH");
    assert_eq!(on_path, format!("{}/bin\n", first["cache-path"]));
}

/// The source build is cached (actions/cache in action.yml) under a key of the version, the
/// runner's OS and architecture, and a hash of the source cargo builds; a build restored into
/// the cache folder, or still in a self-hosted runner's tool cache, is used without building.
#[test]
fn a_source_build_is_cached_by_version_platform_and_source() {
    require(&["bash"]);
    let runner = Runner::new();
    let path = fake_cargo(&runner);
    let log = runner.path("cargo.log");
    let source = runner.path("action-source");
    for (file, text) in [
        ("Cargo.toml", "[package]\nname = \"kvsync\"\n"),
        ("Cargo.lock", "version = 4\n"),
        ("src/main.rs", "fn main() {}\n"),
        ("crates/helper/src/lib.rs", "\n"),
        ("README.md", "not built\n"),
    ] {
        let file = source.join(file);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    }
    let key_for = |env: &[(&str, &str)]| {
        let base = [
            ("PATH", path.as_str()),
            ("KVSYNC_VERSION", "source"),
            ("GITHUB_ACTION_PATH", source.to_str().expect("path")),
            ("KVSYNC_TEST_CARGO_LOG", log.to_str().expect("path")),
        ];
        runner.next_step();
        let run = runner.run(&script("install.sh"), &[], ".", &[&base[..], env].concat());
        assert_eq!(run.code, 0, "{}", run.show());
        runner.outputs()
    };

    let first = key_for(&[]);
    assert_eq!(first["build"], "true");
    let key = first["cache-key"].clone();
    let hash = key.strip_prefix("kvsync-source-source-Linux-X64-").expect("the key's parts");
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
    let dir = runner.path(&format!("tool-cache/kvsync/source-{}/x86_64", &hash[..16]));
    assert_eq!(first["cache-path"], dir.to_str().expect("path"));
    assert_eq!(key_for(&[])["cache-key"], key, "the same source, the same key");

    // Only what cargo builds counts, and its content, not its timestamps.
    std::fs::write(source.join("README.md"), "edited\n").expect("edit");
    std::fs::write(source.join("Cargo.lock"), "version = 4\n").expect("rewrite");
    assert_eq!(key_for(&[])["cache-key"], key);
    assert_ne!(key_for(&[("KVSYNC_VERSION", "9.9.9")])["cache-key"], key);
    assert_ne!(key_for(&[("RUNNER_OS", "macOS"), ("RUNNER_ARCH", "ARM64")])["cache-key"], key);
    for file in ["src/main.rs", "crates/helper/src/lib.rs"] {
        std::fs::write(source.join(file), "// changed\n").expect("edit");
        let changed = key_for(&[]);
        assert_ne!(changed["cache-key"], key, "{file} changes the key");
        assert_ne!(changed["cache-path"], first["cache-path"]);
    }
    std::fs::write(source.join("src/main.rs"), "fn main() {}\n").expect("restore");
    std::fs::write(source.join("crates/helper/src/lib.rs"), "\n").expect("restore");
    assert_eq!(key_for(&[])["cache-key"], key);

    // The cache restored a build into the folder: it is used, and cargo is not run.
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    std::fs::write(dir.join("bin/kvsync"), "#!/bin/sh\necho 'kvsync 0.1.0 (restored)'\n")
        .expect("bin");
    std::fs::set_permissions(dir.join("bin/kvsync"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    runner.next_step();
    let build_env = [
        ("PATH", path.as_str()),
        ("KVSYNC_VERSION", "source"),
        ("GITHUB_ACTION_PATH", source.to_str().expect("path")),
        ("KVSYNC_TEST_CARGO_LOG", log.to_str().expect("path")),
        ("KVSYNC_BUILD_PATH", dir.to_str().expect("path")),
    ];
    let run = runner.run(&script("install.sh"), &["build"], ".", &build_env);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(runner.outputs()["source"], "cache", "{}", run.show());
    assert!(!log.exists(), "cargo was not run");
    let on_path = std::fs::read_to_string(runner.path("path")).expect("GITHUB_PATH");
    assert_eq!(on_path, format!("{}\n", dir.join("bin").display()));
    // A runner that keeps its tool cache (self-hosted) finds the build at once.
    let again = key_for(&[]);
    assert_eq!(again["source"], "cache");
    assert!(!again.contains_key("build"), "{again:?}");

    // Nothing restored: cargo builds into the folder action.yml then saves.
    std::fs::remove_dir_all(&dir).expect("clean");
    runner.next_step();
    let run = runner.run(&script("install.sh"), &["build"], ".", &build_env);
    assert_eq!(run.code, 0, "{}", run.show());
    assert_eq!(runner.outputs()["source"], "cargo");
    assert!(std::fs::read_to_string(&log).expect("cargo ran").contains("--root"));
    assert!(dir.join("bin/kvsync").is_file());
}

#[test]
fn the_action_installs_this_crate_version_by_default() {
    crate::support::timed();
    let action = std::fs::read_to_string(repo().join("action.yml")).expect("action.yml");
    let default = action
        .lines()
        .skip_while(|line| !line.contains("# Written by action/set-version.sh"))
        .nth(1)
        .expect("the line after the set-version comment");
    assert_eq!(
        default.trim(),
        format!("default: \"{}\"", env!("CARGO_PKG_VERSION")),
        "action.yml's default `version` must be Cargo.toml's: run action/set-version.sh"
    );
    // Every script action.yml runs exists.
    for line in action.lines().filter(|line| line.contains("$GITHUB_ACTION_PATH/action/")) {
        let name = line.split("action/").nth(1).and_then(|rest| rest.split('"').next());
        let name = name.expect("a script name");
        assert!(script(name).is_file(), "action.yml runs a missing script: {name}");
    }
}

#[test]
fn set_version_rewrites_the_default_version() {
    require(&["bash"]);
    let runner = Runner::new();
    let copy = runner.path("action.yml");
    std::fs::copy(repo().join("action.yml"), &copy).expect("copy");
    let env = [("KVSYNC_ACTION_YML", copy.to_str().expect("path"))];
    let run = runner.run(&script("set-version.sh"), &["v1.4.0"], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    let rewritten = std::fs::read_to_string(&copy).expect("action.yml");
    assert!(rewritten.contains("    default: \"1.4.0\"\n"), "{rewritten}");
    assert_eq!(rewritten.matches("1.4.0").count(), 1, "only the version input changed");
    let ok = runner.run(&script("set-version.sh"), &["--check", "1.4.0"], ".", &env);
    assert_eq!(ok.code, 0, "{}", ok.show());
    let stale = runner.run(&script("set-version.sh"), &["--check", "1.5.0"], ".", &env);
    assert_eq!(stale.code, 1, "{}", stale.show());
    assert!(stale.stderr.contains("run action/set-version.sh 1.5.0"), "{}", stale.show());
}

/// The same with the real kvsync: a key another owner holds makes the plan one apply would
/// refuse. kvsync exits 1 with its whole report, the refusal at the top; the comment is that
/// report and the check goes red, before the merge.
#[tokio::test]
async fn a_plan_kvsync_would_refuse_is_the_comment_and_fails_the_check() {
    require(&["bash", "curl", "jq"]);
    let github = GitHub::default();
    let server = github.serve().await;
    let runner = Runner::new();
    runner.write("kv/kvsync.yaml", config(&[("f/a", "1"), ("f/shared", "ours")]));
    let store = LocalStore::open(
        &runner.workspace().join("kv/.kvsync/local.db"),
        NOW.parse().expect("now"),
    )
    .expect("store");
    let theirs = PutPair {
        key: "f/shared".into(),
        value: b"theirs".to_vec(),
        metadata: json!({"__kvsync": {"v": 1, "owner": "other-team", "sha256": "0".repeat(64)}}),
        expiration: Expiration::Never,
    };
    store.bulk_put(NS, &[theirs]).await.expect("seed");
    drop(store);

    let (run, outputs) = runner.kvsync("kv", &[("INPUT_COMMAND", "plan")]);
    assert_eq!(outputs["exit-code"], "1", "{}", run.show());
    assert_eq!(outputs["has-changes"], "true");
    let summary = runner.summary();
    let refusal =
        summary.find("> [!CAUTION]\n> **Apply would refuse this plan").expect("the refusal alert");
    let table = summary.find("| | Action | Keys |").expect("the scope's table");
    assert!(refusal < table, "the refusal comes first: {summary}");
    assert!(summary.contains(">   - `x` `f/shared` (owned by `other-team`)"), "{summary}");
    let results = [
        ("KVSYNC_CONFIG_PATH", outputs["config-path"].as_str()),
        ("KVSYNC_EXIT_CODE", "1"),
        ("KVSYNC_HAS_CHANGES", "true"),
        ("KVSYNC_HAS_DRIFT", "false"),
        ("KVSYNC_REPORT_FILE", outputs["report-file"].as_str()),
    ];
    let report = std::fs::read_to_string(&outputs["report-file"]).expect("report file");
    let (body, _) = refused_plan_posted(&runner, &server, &github, &report, &results);
    assert!(!body.contains("- `x` `f/shared`\n"), "not listed again as a change: {body}");
}

/// Posts the report of a plan apply would refuse as the comment step does, checks that it is
/// the one comment, created with the refusal in it, then runs the finish step, which must fail
/// the check. Returns the comment's body and the finish step's run.
fn refused_plan_posted(
    runner: &Runner,
    server: &MockServer,
    github: &GitHub,
    report: &str,
    results: &[(&str, &str)],
) -> (String, Run) {
    let run = comment(runner, server, report, results, &[]);
    assert_eq!(run.code, 0, "{}", run.show());
    let ours = github.bodies_with(MARKER);
    assert_eq!(ours.len(), 1, "created, as for any plan with changes: {}", run.show());
    assert!(ours[0].contains("**Apply would refuse this plan"), "{}", ours[0]);
    assert!(!ours[0].contains("apply will send"), "a refused plan promises no writes: {}", ours[0]);
    let finish = runner.run(
        &script("finish.sh"),
        &[],
        ".",
        &[("INPUT_COMMAND", "plan"), ("KVSYNC_EXIT_CODE", "1"), ("KVSYNC_HAS_CHANGES", "true")],
    );
    assert_eq!(finish.code, 1, "the check goes red: {}", finish.show());
    (ours[0].clone(), finish)
}

/// The nightly `codify` step: the files `kvsync pull` changed are committed to one branch,
/// pushed, and proposed as one pull request; the next night updates the same pull request.
#[test]
fn the_codify_step_opens_then_updates_one_pull_request() {
    require(&["bash", "git"]);
    let runner = Runner::new();
    let workflow = std::fs::read_to_string(repo().join("examples/github/drift-nightly.yml"))
        .expect("drift-nightly.yml");
    let script = step_script(&workflow, "open or update the pull request");
    let git = |cwd: &Path, args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(cwd)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", runner.path("home"))
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A remote with `main`, and the workspace a clone of it, as actions/checkout leaves it.
    let remote = runner.path("remote.git");
    std::fs::create_dir_all(&remote).expect("mkdir");
    git(&remote, &["init", "-q", "--bare", "-b", "main"]);
    let workspace = runner.workspace();
    git(&workspace, &["init", "-q", "-b", "main"]);
    git(&workspace, &["config", "user.email", "dev@example.com"]);
    git(&workspace, &["config", "user.name", "dev"]);
    runner.write("kvsync.yaml", "keys: {f/a: before}\n");
    git(&workspace, &["add", "kvsync.yaml"]);
    git(&workspace, &["commit", "-q", "-m", "config"]);
    git(&workspace, &["remote", "add", "origin", remote.to_str().expect("path")]);
    git(&workspace, &["push", "-q", "origin", "main"]);
    git(&workspace, &["fetch", "-q", "origin"]);
    // What `kvsync pull` did.
    runner.write("kvsync.yaml", "keys: {f/a: after}\n");

    // A fake `gh`: no open pull request the first night, number 7 the next.
    let fake_bin = runner.path("fake-bin");
    std::fs::create_dir_all(&fake_bin).expect("mkdir");
    let gh = fake_bin.join("gh");
    std::fs::write(
        &gh,
        "#!/bin/sh\necho \"$*\" >>\"$GH_LOG\"\ncase \"$1 $2\" in\n  \"pr list\") [ -f \"$GH_OPEN\" ] && echo 7 ;;\n  \"pr create\") touch \"$GH_OPEN\" ;;\nesac\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --body-file ]; then cp \"$2\" \"$GH_BODY\"; fi\n  shift\ndone\n",
    )
    .expect("fake gh");
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(runner.path("workspace/step.sh"), &script).expect("script");
    let log = runner.path("gh.log");
    let body = runner.path("body.md");
    let open = runner.path("open");
    let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default());
    let env = [
        ("PATH", path.as_str()),
        ("GH_LOG", log.to_str().expect("path")),
        ("GH_BODY", body.to_str().expect("path")),
        ("GH_OPEN", open.to_str().expect("path")),
        ("GH_TOKEN", "unused"),
        ("GITHUB_REF_NAME", "main"),
        ("SUMMARY", "  ~ f/a (value changed live, last written by `abc1234`) → kvsync.yaml"),
        ("RUN_URL", "https://github.com/acme/shop/actions/runs/1"),
    ];
    let run = runner.run(&runner.path("workspace/step.sh"), &[], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    let calls = std::fs::read_to_string(&log).expect("gh log");
    assert!(
        calls.contains(
            "pr create --head kvsync/codify-live-changes --title Codify changes made live"
        ),
        "{calls}"
    );
    let pushed = git(&remote, &["show", "kvsync/codify-live-changes:kvsync.yaml"]);
    assert_eq!(pushed, "keys: {f/a: after}\n");
    let body_text = std::fs::read_to_string(&body).expect("body");
    assert!(body_text.contains("last written by `abc1234`"), "{body_text}");

    // The next night: the same branch, forced; the open pull request is edited, not doubled.
    runner.write("kvsync.yaml", "keys: {f/a: later}\n");
    let run = runner.run(&runner.path("workspace/step.sh"), &[], ".", &env);
    assert_eq!(run.code, 0, "{}", run.show());
    let calls = std::fs::read_to_string(&log).expect("gh log");
    assert_eq!(calls.matches("pr create").count(), 1, "{calls}");
    assert!(calls.contains("pr edit 7 --body-file"), "{calls}");
    let pushed = git(&remote, &["show", "kvsync/codify-live-changes:kvsync.yaml"]);
    assert_eq!(pushed, "keys: {f/a: later}\n");
}

/// Issue #27: apply's `snapshot-file` output names the snapshot it saved (for an artifact), the
/// job summary says how to restore it, and `kvsync restore` puts the keys back from it.
#[test]
fn apply_gives_its_snapshot_as_an_output() {
    require(&["bash"]);
    let runner = Runner::new();
    runner.write("kvsync.yaml", config(&[("f/a", "1"), ("f/b", "2")]));
    let local = ("INPUT_ARGS", "--target local");
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "apply"), local]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());

    runner.write("kvsync.yaml", config(&[("f/a", "10")]));
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "apply"), local]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert!(!run.stdout.contains("--snapshot-sensitive"), "{}", run.show());
    let file = outputs["snapshot-file"].clone();
    assert!(file.ends_with(".jsonl"), "{file:?}");
    let text = std::fs::read_to_string(&file).expect("the snapshot file");
    assert_eq!(text.lines().count(), 4, "header, f/a, f/b, trailer: {text}");
    assert!(runner.summary().contains("run `kvsync restore FILE`"), "{}", runner.summary());

    let restore = Command::new(env!("CARGO_BIN_EXE_kvsync"))
        .args(["restore", &file, "--target", "local", "--auto-approve"])
        .current_dir(runner.workspace())
        .env("KVSYNC_NOW", crate::support::NOW)
        .output()
        .expect("restore");
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "plan"), local]);
    assert!(run.stdout.contains("1 to update, 1 to delete"), "{}", run.show());
    assert_eq!(outputs["exit-code"], "2");

    // `--no-snapshot`: no file, an empty output.
    let no = ("INPUT_ARGS", "--target local --no-snapshot");
    let (run, outputs) = runner.kvsync(".", &[("INPUT_COMMAND", "apply"), no]);
    assert_eq!(outputs["exit-code"], "0", "{}", run.show());
    assert_eq!(outputs["snapshot-file"], "", "{}", run.show());
}
