//! `kvsync init`, the README's tour and the walk-throughs in `examples/*/README.md`, run as
//! written.
//!
//! A walk-through is every ```console block of an example's README: each `$ ` line is run by
//! `sh` in a fresh copy of the example's folder (with this build's `kvsync` first on `PATH`, the
//! suite's fixed clock, no colour and no Cloudflare credentials), its stdout and stderr merged
//! as a terminal shows them, and compared with the lines under it. In the expected text a line
//! `…` (indented or not) stands for any number of lines, and a line ending in `…` for any line
//! that starts with what comes before the `…`. `$ echo $?` prints the previous command's exit code. The blocks of
//! one README share the folder, so a walk-through goes on where the last block stopped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{NOW, Test, copy_tree, hermetic, repo};

/// One command of a walk-through and what it must print.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
    /// `README.md:LINE`, for failures.
    place: String,
}

/// The `$ ` steps of every ```console block in `readme`.
fn steps(readme: &Path) -> Vec<Step> {
    let text = std::fs::read_to_string(readme).expect("read the README");
    steps_in(&text, &readme.display().to_string(), |_| true)
}

/// The `$ ` steps of the ```console blocks in the lines of `text` that `wanted` takes (by
/// 0-based line index).
fn steps_in(text: &str, name: &str, wanted: impl Fn(usize) -> bool) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    for (index, line) in text.lines().enumerate().filter(|(index, _)| wanted(*index)) {
        if !in_console {
            in_console = line.trim_end() == "```console";
            continue;
        }
        if line.starts_with("```") {
            in_console = false;
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: command.to_owned(),
                expected: Vec::new(),
                place: format!("{name}:{}", index + 1),
            });
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(line.to_owned());
        } else {
            panic!("{name}:{}: output before any `$ ` command", index + 1);
        }
    }
    steps
}

/// Whether `actual` lines match `expected` lines with `…` wildcards.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first.trim() == "…" => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => match actual.split_first() {
            Some((line, others)) => {
                let ok = match first.strip_suffix('…') {
                    Some(prefix) => line.starts_with(prefix),
                    None => line.trim_end() == first.trim_end(),
                };
                ok && matches(rest, others)
            }
            None => false,
        },
    }
}

/// The folder of the kvsync binary under test, for `PATH`.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_kvsync")).parent().expect("bin dir").to_path_buf()
}

/// Runs an example's walk-through in a copy of its folder; panics at the first step whose
/// output differs, showing both.
fn walk_through(example: &str) {
    let source = repo().join("examples").join(example);
    let steps = steps(&source.join("README.md"));
    assert!(!steps.is_empty(), "examples/{example}/README.md has no ```console walk-through");
    let test = Test::new();
    let cwd = test.path().join(example);
    copy_tree(&source, &cwd);
    run_steps(&steps, &cwd, |_| {});
}

/// Runs `steps` in `cwd`, calling `before` ahead of each; panics at the first step whose output
/// differs, showing both.
fn run_steps(steps: &[Step], cwd: &Path, before: impl Fn(&Step)) {
    let mut last_code = 0;
    for step in steps {
        before(step);
        let output = if step.command.trim() == "echo $?" {
            format!("{last_code}\n")
        } else {
            let (code, output) = sh(&step.command, cwd);
            last_code = code;
            output
        };
        let actual: Vec<&str> = output.lines().collect();
        assert!(
            matches(&step.expected, &actual),
            "{}: `$ {}` printed something else.\n--- expected\n{}\n--- actual\n{}",
            step.place,
            step.command,
            step.expected.join("\n"),
            output
        );
    }
}

/// Runs `command` with `sh` in `cwd` as a walk-through does; its exit code and its output.
fn sh(command: &str, cwd: &Path) -> (i32, String) {
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned())
    );
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!("exec 2>&1; {command}"))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .env("PATH", &path)
        .env("KVSYNC_NOW", NOW);
    hermetic(&mut sh);
    let out = sh.output().expect("run sh");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The README's tour, run top to bottom right after the Quick start, as a newcomer would: the
/// Quick start's apply first, then every step of "A tour", with the edit it describes in prose
/// made before the plan that follows it.
#[cfg(unix)]
#[test]
fn readme_tour_after_the_quick_start() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read the README");
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines.iter().position(|l| *l == "## A tour").expect("a tour");
    let end = start
        + 1
        + lines[start + 1..].iter().position(|l| l.starts_with("## ")).expect("the next section");
    let edit = start
        + lines[start..end]
            .iter()
            .position(|l| l.starts_with("Edit the config:"))
            .expect("the tour's edit");
    let steps = steps_in(&readme, "README.md", |index| (start..end).contains(&index));
    assert!(steps.len() >= 5, "{steps:?}");

    let test = Test::new();
    let cwd = test.path();
    copy_tree(&repo().join("examples/feature-flags"), &cwd.join("examples/feature-flags"));
    let (code, output) =
        sh("kvsync apply -c examples/feature-flags/kvsync.yaml --target local --auto-approve", cwd);
    assert_eq!(code, 0, "the Quick start's apply: {output}");
    let config = cwd.join("examples/feature-flags/kvsync.yaml");
    let edited = std::cell::Cell::new(false);
    run_steps(&steps, cwd, |step| {
        let line: usize = step.place.rsplit(':').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        if line > edit && !edited.replace(true) {
            // "raise `rollout` from 25 to 50 and remove `flags/max-items`"
            let text = std::fs::read_to_string(&config).expect("read the example");
            let text = text.replace("rollout: 25", "rollout: 50");
            let text: String =
                text.split_inclusive('\n').filter(|l| !l.contains("flags/max-items:")).collect();
            std::fs::write(&config, text).expect("edit the example");
        }
    });
    assert!(edited.get(), "the tour has steps after its edit");
}

#[test]
fn the_wildcards_of_a_walk_through() {
    crate::support::timed();
    let lines = |s: &str| s.lines().map(str::to_owned).collect::<Vec<_>>();
    assert!(matches(&lines("a\n…\nd"), &["a", "b", "c", "d"]));
    assert!(matches(&lines("a\n…\nd"), &["a", "d"]));
    assert!(matches(&lines("a\n  …\nd"), &["a", "  b", "  c", "d"]), "an indented `…` too");
    assert!(matches(&lines("scope `f` (namespace 1…\nz"), &["scope `f` (namespace 123, x)", "z"]));
    assert!(!matches(&lines("a\nd"), &["a", "b", "d"]));
    assert!(!matches(&lines("a"), &["a", "b"]));
}

/// `examples/multi-env`: staging and production from one file, ids through wrangler.jsonc.
#[cfg(unix)]
#[test]
fn multi_env_walk_through() {
    walk_through("multi-env");
}

/// `examples/redirects`: 2,000 keys from a generated include.
#[cfg(unix)]
#[test]
fn redirects_walk_through() {
    walk_through("redirects");
}

/// `examples/shared-namespace`: two owners, two prefixes, one namespace.
#[cfg(unix)]
#[test]
fn shared_namespace_walk_through() {
    walk_through("shared-namespace");
}

/// `examples/static-site`: `files:` sources, a folder tree as keys.
#[cfg(unix)]
#[test]
fn static_site_walk_through() {
    walk_through("static-site");
}

/// The committed include of the redirects example is exactly what its generator writes.
#[cfg(unix)]
#[test]
fn the_redirects_include_is_what_its_generator_writes() {
    crate::support::timed();
    let folder = repo().join("examples/redirects");
    let out = Command::new("sh")
        .arg(folder.join("generate.sh"))
        .current_dir(&folder)
        .output()
        .expect("run generate.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let committed = std::fs::read(folder.join("redirects.yaml")).expect("redirects.yaml");
    assert!(out.stdout == committed, "regenerate it: sh generate.sh > redirects.yaml");
}

/// `kvsync init` writes a commented starter with the schema line that validates as it is, and
/// never overwrites a file without `--force`.
#[test]
fn init_writes_a_starter_that_validates() {
    let test = Test::new();
    std::fs::create_dir_all(test.path().join("My Shop")).expect("mkdir");
    let cwd = test.path().join("My Shop");
    let init = test.run_in(&cwd, &["init"]);
    assert_eq!(init.code, 0, "{}", init.snapshot());
    assert_eq!(
        init.stderr,
        "Wrote `kvsync.yaml`: a starter config.\nNext: `kvsync plan -c kvsync.yaml` (add `--target local` to try it without an account).\n"
    );
    let text = std::fs::read_to_string(cwd.join("kvsync.yaml")).expect("written");
    assert!(text.starts_with("# yaml-language-server: $schema="), "{text}");
    assert!(text.contains("\nowner: my-shop\n"), "the folder's name: {text}");
    let validate = test.run_in(&cwd, &["validate"]);
    assert_eq!(validate.code, 0, "{}", validate.snapshot());
    // The placeholder id validates (so the starter plans locally as it is), with a warning
    // that says what to put there before talking to Cloudflare.
    insta::assert_snapshot!("init_starter_validate", validate.snapshot());
    let plan = test.run_in(&cwd, &["plan", "--target", "local", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{}", plan.snapshot());
    assert!(plan.stdout.contains("Plan: 3 to create."), "{}", plan.stdout);

    let again = test.run_in(&cwd, &["init"]);
    assert_eq!(again.code, 1);
    assert_eq!(
        again.stderr,
        "error: `kvsync.yaml` already exists; pass `--force` to overwrite it, or `-o FILE` to write elsewhere\n"
    );
    let forced = test.run_in(&cwd, &["init", "--force", "--owner", "web"]);
    assert_eq!(forced.code, 0, "{}", forced.snapshot());
    let text = std::fs::read_to_string(cwd.join("kvsync.yaml")).expect("written");
    assert!(text.contains("\nowner: web\n"), "{text}");
    let bad = test.run_in(&cwd, &["init", "-o", "other.yaml", "--owner", "Web Team"]);
    assert_eq!(bad.code, 1, "{}", bad.snapshot());
}

/// `kvsync init --from-wrangler` makes one scope per KV binding of the wrangler config found
/// in the current folder or above it; the result validates and plans.
#[test]
fn init_from_wrangler_makes_a_scope_per_binding() {
    let test = Test::new()
        .file(
            "worker/wrangler.toml",
            r#"name = "Storefront Worker"
main = "src/index.ts"

[[kv_namespaces]]
binding = "FLAGS"
id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
preview_id = "00000000000000000000000000000001"

[[kv_namespaces]]
binding = "REDIRECTS"
id = "a1b2c3d4e5f60718293a4b5c6d7e8f90"

[env.staging]
[[env.staging.kv_namespaces]]
binding = "FLAGS"
id = "9a8b7c6d5e4f30211203f4e5d6c7b8a9"
[[env.staging.kv_namespaces]]
binding = "REDIRECTS"
id = "33333333333333333333333333333333"
"#,
        )
        .file("worker/src/index.ts", "export default {};\n");
    let cwd = test.path().join("worker/src");
    // From a folder below the Worker's, into a folder beside it: the config names the file.
    let init = test.run_in(&cwd, &["init", "--from-wrangler", "-o", "../../kv/kvsync.yaml"]);
    assert_eq!(init.code, 0, "{}", init.snapshot());
    assert!(
        init.stderr.starts_with(
            "Wrote `../../kv/kvsync.yaml`: one scope per KV binding of `../wrangler.toml`.\n"
        ),
        "{}",
        init.stderr
    );
    let text = std::fs::read_to_string(test.path().join("kv/kvsync.yaml")).expect("written");
    let body = text.split_once("version: 1\n").expect("version").1;
    insta::assert_snapshot!(body, @r#"
    # Who owns the keys this file writes (recorded in every key's metadata; kvsync never
    # touches keys another owner wrote). Choose it once.
    owner: storefront-worker
    # Without `--env`, kvsync plans this environment.
    default_environment: staging
    namespaces:
      flags:
        binding: FLAGS
        wrangler: ../worker/wrangler.toml
        # it has `id` and `preview_id`: pass `--preview false` (its `id`) or `--preview`,
        # as wrangler asks, or pin one here with `preview: false|true`
        # prefix: "flags/"   # manage only the keys under a prefix
        keys: {}
      redirects:
        binding: REDIRECTS
        wrangler: ../worker/wrangler.toml
        # prefix: "redirects/"   # manage only the keys under a prefix
        keys: {}
    environments:
      # wrangler's top level (what `wrangler deploy` uses without `--env`): the scopes above as they are
      production: {}
      staging:
        namespaces:
          flags: {environment: staging}
          redirects: {environment: staging}
    "#);
    assert!(
        init.stderr.contains(
            "Binding `FLAGS` has both `id` and `preview_id`: pass `--preview false` (the `id`) \
             or `--preview` to each command, as wrangler asks, or pin one with `preview:`.\n"
        ),
        "{}",
        init.stderr
    );
    let kv = test.path().join("kv");
    let validate = test.run_in(&kv, &["validate"]);
    assert_eq!(validate.code, 0, "{}", validate.snapshot());
    assert_eq!(
        validate.stderr,
        "`kvsync.yaml` is valid (environment `staging`): 2 scopes, 0 keys\n"
    );
    let plan = test.run_in(&kv, &["plan", "--target", "local", "--env", "staging"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    // wrangler's top level is reachable as `production`: `--preview false` its ids, `--preview`
    // FLAGS' preview id (REDIRECTS has none, so wrangler and kvsync refuse it); without either
    // the binding with both ids is ambiguous.
    let production = |extra: &[&str]| {
        let mut args = vec!["plan", "--target", "local", "--env", "production"];
        args.extend(extra);
        test.run_in(&kv, &args)
    };
    let plan = production(&["--preview", "false"]);
    assert_eq!(plan.code, 0, "{}", plan.snapshot());
    assert!(plan.stdout.starts_with("Environment: production"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("scope `flags` (namespace 0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("scope `redirects` (namespace a1b2c3d4e5f60718293a4b5c6d7e8f90"),
        "{}",
        plan.stdout
    );
    let plan = production(&["--preview"]);
    assert_eq!(plan.code, 1, "{}", plan.snapshot());
    assert!(plan.stderr.contains("`REDIRECTS` in `../worker/wrangler.toml` has no `preview_id`"));
    let plan = production(&[]);
    assert_eq!(plan.code, 1, "{}", plan.snapshot());
    assert!(plan.stderr.contains("has both `id` and `preview_id`"), "{}", plan.stderr);

    // Nothing to start from: a clear error, and no file.
    let empty = Test::new();
    let out = empty.run(&["init", "--from-wrangler"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(out.stderr.contains("no wrangler config"), "{}", out.stderr);
    assert!(!empty.path().join("kvsync.yaml").exists());
}
