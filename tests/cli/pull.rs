use serde_json::json;

use crate::support::{Test, metadata_of, seed};

const CONFIG: &str = r#"version: 1
owner: web
namespaces:
  flags:
    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    prefix: "f/"
    keys:
      # the banner
      f/banner: "Welcome"   # quoted
      f/plain: hello
      f/num: 42
      f/obj: {value: {enabled: true, rollout: 25}, metadata: {team: growth}}
      f/block:
        value:
          enabled: false
          rollout: 5
        metadata:
          team: search
      f/file: {file: values/a.txt}
      f/exp: {value: x, expiration: 2035-01-01T00:00:00Z}
      f/secret: {value: s3cret, sensitive: true}
      f/gone: bye
    include: [more/*.yaml]
"#;

const INCLUDED: &str = "keys:\n  f/inc: \"included\"  # from an include\n";

fn local<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(["--target", "local"]).collect()
}

fn project() -> Test {
    let test = Test::new()
        .file("kvsync.yaml", CONFIG)
        .file("values/a.txt", "file value")
        .file("more/keys.yaml", INCLUDED);
    let out = test.run(&local(&["apply", "--auto-approve"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    test
}

fn read(test: &Test, path: &str) -> String {
    std::fs::read_to_string(test.path().join(path)).expect("read")
}

/// Hand edits of every kind come back into the files they were defined in, and nothing else
/// changes; `plan` then shows marker refreshes only.
#[test]
fn hand_edits_are_written_back_where_they_are_defined() {
    let test = project();
    seed(
        &test,
        &[
            ("f/banner", "Welcome back", Some(metadata_of(&test, "f/banner"))),
            ("f/plain", "hi there", Some(metadata_of(&test, "f/plain"))),
            ("f/num", "43", Some(metadata_of(&test, "f/num"))),
            ("f/obj", r#"{"enabled":false,"rollout":25}"#, Some(metadata_of(&test, "f/obj"))),
            ("f/block", r#"{"enabled":true,"rollout":50}"#, Some(metadata_of(&test, "f/block"))),
            ("f/file", "edited file", Some(metadata_of(&test, "f/file"))),
            ("f/inc", "changed include", Some(metadata_of(&test, "f/inc"))),
            ("f/secret", "new-secret", Some(metadata_of(&test, "f/secret"))),
        ],
    );
    // Metadata edited live (the value kept).
    let mut meta = metadata_of(&test, "f/obj");
    meta["team"] = json!("checkout");
    seed(&test, &[("f/obj", r#"{"enabled":false,"rollout":25}"#, Some(meta))]);

    let only = test.run(&local(&["pull", "--deep", "--dry-run", "--only", "f/ban*"]));
    assert_eq!(only.code, 2, "{}", only.snapshot());
    assert!(
        only.stdout.contains("~ f/banner") && !only.stdout.contains("~ f/plain"),
        "{}",
        only.stdout
    );
    let dry = test.run(&local(&["pull", "--deep", "--dry-run"]));
    assert_eq!(dry.code, 2, "{}", dry.snapshot());
    assert_eq!(read(&test, "kvsync.yaml"), CONFIG, "a dry run writes nothing");
    assert!(dry.stdout.contains("--- a/kvsync.yaml"), "{}", dry.stdout);
    assert!(dry.stdout.contains("+      f/banner: \"Welcome back\"   # quoted"), "{}", dry.stdout);

    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    let config = read(&test, "kvsync.yaml");
    let expected = CONFIG
        .replace("f/banner: \"Welcome\"", "f/banner: \"Welcome back\"")
        .replace("f/plain: hello", "f/plain: hi there")
        .replace("f/num: 42", "f/num: 43")
        .replace(
            "f/obj: {value: {enabled: true, rollout: 25}, metadata: {team: growth}}",
            "f/obj: {value: {enabled: false, rollout: 25}, metadata: {team: checkout}}",
        )
        .replace(
            "          enabled: false\n          rollout: 5",
            "          enabled: true\n          rollout: 50",
        );
    assert_eq!(config, expected, "{}", out.snapshot());
    assert_eq!(read(&test, "values/a.txt"), "edited file");
    assert_eq!(
        read(&test, "more/keys.yaml"),
        "keys:\n  f/inc: \"changed include\"  # from an include\n"
    );
    assert!(out.stdout.contains("! f/secret"), "{}", out.stdout);
    assert!(
        out.stdout.contains("~ f/obj (value, metadata changed live) → kvsync.yaml:12:7"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("~ f/file (value changed live) → values/a.txt"), "{}", out.stdout);
    assert!(dry.stdout.contains("--- a/values/a.txt"), "{}", dry.stdout);
    assert!(!out.snapshot().contains("new-secret"), "{}", out.snapshot());

    // A second pull finds nothing more to write (the secret still needs a person).
    let again = test.run(&local(&["pull", "--deep"]));
    assert_eq!(again.code, 2, "{}", again.snapshot());
    assert!(again.stdout.contains("0 written back"), "{}", again.stdout);
    assert_eq!(read(&test, "kvsync.yaml"), expected);

    // The plan now only refreshes markers.
    let plan = test.run(&local(&["plan"]));
    assert!(
        plan.stdout.contains(
            "(marker only: live already matches; apply rewrites kvsync's marker: 1 write)"
        ),
        "{}",
        plan.stdout
    );
}

/// A key written live by hand and not in the config is added only with `--adopt` (to the file
/// with the scope's `keys:`, or `--into` an included file); a key absent live is removed only
/// with `--remove-missing`, never an `expiration_ttl` one; another owner's key is never pulled.
#[test]
fn adopt_remove_missing_and_other_owners() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    keys:\n      f/a: one\n      f/b: two  # will be deleted live\n      f/ttl: {value: t, expiration_ttl: 3600}\n      f/theirs: mine\n    include: [more/*.yaml]\n";
    let test =
        Test::new().file("kvsync.yaml", config).file("more/keys.yaml", "keys:\n  f/inc: i\n");
    assert_eq!(test.run(&local(&["apply", "--auto-approve"])).code, 0);
    let store = crate::support::local_store(&test);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    use kvsync::kv::KvStore as _;
    runtime
        .block_on(store.bulk_delete(crate::support::NS, &["f/b".to_owned(), "f/ttl".to_owned()]))
        .expect("delete by hand");
    drop(store);
    let theirs = json!({"__kvsync": {"v": 1, "owner": "billing", "sha256": "ab".repeat(32)}});
    seed(
        &test,
        &[
            ("f/new", "{\"on\":true}", Some(json!({"team": "ops"}))),
            ("f/theirs", "theirs now", Some(theirs)),
        ],
    );

    let plain = test.run(&local(&["pull"]));
    assert_eq!(plain.code, 0, "nothing to write, nobody to ask:\n{}", plain.snapshot());
    assert!(plain.stdout.contains("? f/b: absent live"), "{}", plain.stdout);
    assert!(
        plain.stdout.contains("? f/ttl: absent live; an `expiration_ttl` key"),
        "{}",
        plain.stdout
    );
    assert!(
        plain.stdout.contains("1 unmanaged key is live and not in the config"),
        "{}",
        plain.stdout
    );
    assert!(
        !plain.stdout.contains("f/theirs"),
        "another owner's key is never pulled:\n{}",
        plain.stdout
    );
    assert_eq!(read(&test, "kvsync.yaml"), config);

    let out =
        test.run(&local(&["pull", "--adopt", "--remove-missing", "--into", "more/keys.yaml"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(
        read(&test, "kvsync.yaml"),
        config.replace("      f/b: two  # will be deleted live\n", ""),
        "{}",
        out.snapshot()
    );
    assert_eq!(
        read(&test, "more/keys.yaml"),
        "keys:\n  f/inc: i\n  f/new: {value: {\"on\": true}, metadata: {team: ops}}\n"
    );
    let plan = test.run(&local(&["plan"]));
    assert!(plan.stdout.contains("f/new (adopt, marker only"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("f/b"), "{}", plan.stdout);
}

/// Runs git in the test's folder, which it makes a repository of; the commit's id.
fn commit_all(test: &Test) -> String {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.com",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(test.path())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "config"]);
    git(&["rev-parse", "HEAD"])
}

/// A key changed in both places is reported and not written; a config change made after the
/// apply that wrote the key (its revision in the history) is waiting for apply, information
/// only; a key applied from another config (its revision unknown here) is listed for a person
/// and never written; expiration and metadata edits are written in place.
#[test]
fn changed_in_both_places_and_pending_config_changes() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    keys:\n      f/both: one\n      f/pending: old\n      f/laptop: main\n      f/exp:\n        value: e\n        expiration: 2035-01-01T00:00:00Z\n      f/meta:\n        value: m\n        metadata:\n          team: a\n";
    let test = Test::new().file("kvsync.yaml", config);
    let rev = commit_all(&test);
    let main = test.run(&local(&["apply", "--auto-approve", "--revision", &rev]));
    assert_eq!(main.code, 0, "{}", main.snapshot());
    // Someone applies another config from a laptop branch.
    test.write("kvsync.yaml", config.replace("f/laptop: main", "f/laptop: branch"));
    let laptop = test.run(&local(&[
        "apply",
        "--auto-approve",
        "--only",
        "f/laptop",
        "--revision",
        "0123abcd",
    ]));
    assert_eq!(laptop.code, 0, "{}", laptop.snapshot());
    let edited =
        config.replace("f/both: one", "f/both: uno").replace("f/pending: old", "f/pending: new");
    std::fs::write(test.path().join("kvsync.yaml"), &edited).expect("edit the config");
    let mut meta = metadata_of(&test, "f/meta");
    meta["team"] = json!("b");
    seed(
        &test,
        &[("f/both", "eins", Some(metadata_of(&test, "f/both"))), ("f/meta", "m", Some(meta))],
    );
    let pair = kvsync::kv::PutPair {
        key: "f/exp".to_owned(),
        value: b"e".to_vec(),
        metadata: metadata_of(&test, "f/exp"),
        expiration: kvsync::content::Expiration::At(2_082_758_400),
    };
    let store = crate::support::local_store(&test);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    use kvsync::kv::KvStore as _;
    runtime.block_on(store.bulk_put(crate::support::NS, &[pair])).expect("seed");
    drop(store);

    let out = test.run(&local(&["pull"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert!(out.stdout.contains("! f/both: changed live and in the config"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "= f/pending: waiting for apply (the config changed after rev `{rev}` wrote it)"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("! f/laptop: applied from elsewhere (rev `0123abcd`, owner `web`)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("2 for a person, 1 waiting for apply"), "{}", out.stdout);
    let json = test.run(&local(&["pull", "--dry-run", "--format", "json"]));
    let document: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let outcome = |key: &str| {
        document["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["key"] == key)
            .map(|k| k["outcome"].clone())
    };
    assert_eq!(outcome("f/pending"), Some(json!("waiting-for-apply")));
    assert_eq!(outcome("f/laptop"), Some(json!("applied-elsewhere")));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::support::repo().join("schemas/pull.schema.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(
        read(&test, "kvsync.yaml"),
        edited
            .replace("expiration: 2035-01-01T00:00:00Z", "expiration: 2036-01-01T00:00:00Z")
            .replace("team: a", "team: b"),
        "{}",
        out.snapshot()
    );
}

/// With environments, a key from the base config gets an override in the environment's overlay,
/// so the other environments keep their value.
#[test]
fn a_base_key_gets_an_override_in_the_environment() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    keys:\n      f/a: base\n      f/b: {value: 1, metadata: {team: x}}\nenvironments:\n  dev:\n    namespaces:\n      flags:\n        prefix: \"f/\"\n  prod: {}\n";
    let test = Test::new().file("kvsync.yaml", config);
    for env in ["dev", "prod"] {
        assert_eq!(test.run(&local(&["apply", "--auto-approve", "--env", env])).code, 0);
    }
    seed(
        &test,
        &[
            ("f/a", "hotfix", Some(metadata_of(&test, "f/a"))),
            ("f/b", "2", Some(metadata_of(&test, "f/b"))),
        ],
    );
    let dev = test.run(&local(&["pull", "--deep", "--env", "dev"]));
    assert_eq!(dev.code, 2, "{}", dev.snapshot());
    let after_dev = read(&test, "kvsync.yaml");
    assert_eq!(
        after_dev,
        config.replace(
            "        prefix: \"f/\"\n",
            "        prefix: \"f/\"\n        keys:\n          f/a: hotfix\n          f/b: {value: 2, metadata: {team: x}}\n"
        ),
        "{}",
        dev.snapshot()
    );
    // prod shares the namespace in this test, so the same edits show there: its overlay is
    // `{}` and becomes a flow mapping holding the overrides.
    let prod = test.run(&local(&["pull", "--deep", "--env", "prod"]));
    assert_eq!(prod.code, 2, "{}", prod.snapshot());
    assert!(
        read(&test, "kvsync.yaml").contains("  prod: {namespaces: {flags: {keys: {f/a: hotfix"),
        "{}",
        read(&test, "kvsync.yaml")
    );
    for env in ["dev", "prod"] {
        let plan = test.run(&local(&["plan", "--env", env]));
        assert!(
            !plan.stdout.contains("value differs")
                && plan.stdout.contains(
                    "(marker only: live already matches; apply rewrites kvsync's marker: 1 write)"
                ),
            "{env}: {}",
            plan.stdout
        );
    }
}

/// How a generated key is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    Plain,
    DoubleQuoted,
    SingleQuoted,
    Number,
    FlowEntry,
    BlockEntry,
    File,
}

/// A generated key: its form, whether an included file defines it, a comment after it, and
/// what happens to it: edited live (to text or to JSON), or edited in the config only.
#[derive(Debug, Clone)]
struct Gen {
    form: Form,
    included: bool,
    comment: bool,
    live: Option<Result<String, (u32, String)>>,
    pending: bool,
}

fn gen_key() -> impl proptest::strategy::Strategy<Value = Gen> {
    use proptest::prelude::*;
    let form = prop_oneof![
        Just(Form::Plain),
        Just(Form::DoubleQuoted),
        Just(Form::SingleQuoted),
        Just(Form::Number),
        Just(Form::FlowEntry),
        Just(Form::BlockEntry),
        Just(Form::File),
    ];
    let live = prop_oneof![
        2 => Just(None),
        1 => "[a-z][a-z ]{0,10}[a-z]".prop_map(|t| Some(Ok(t))),
        1 => (0u32..1000, "[a-z]{1,6}").prop_map(|(n, s)| Some(Err((n, s)))),
    ];
    (form, any::<bool>(), any::<bool>(), live, any::<bool>()).prop_map(
        |(form, included, comment, live, pending)| Gen {
            form,
            included,
            comment,
            pending: pending && live.is_none(),
            live,
        },
    )
}

/// The entry of key `name` as YAML lines (at `indent`), with its value `n`.
fn entry_lines(name: &str, spec: &Gen, n: usize, indent: &str) -> Vec<String> {
    let comment = if spec.comment { "  # a comment" } else { "" };
    match spec.form {
        Form::Plain => vec![format!("{indent}{name}: value {n}{comment}")],
        Form::DoubleQuoted => vec![format!("{indent}{name}: \"value {n}\"{comment}")],
        Form::SingleQuoted => vec![format!("{indent}{name}: 'value {n}'{comment}")],
        Form::Number => vec![format!("{indent}{name}: {n}{comment}")],
        Form::FlowEntry => {
            vec![format!(
                "{indent}{name}: {{value: {{on: true, n: {n}}}, metadata: {{team: t}}}}{comment}"
            )]
        }
        Form::BlockEntry => vec![
            format!("{indent}{name}:{comment}"),
            format!("{indent}  value:"),
            format!("{indent}    enabled: true"),
            format!("{indent}    n: {n}"),
        ],
        Form::File => {
            let up = if spec.included { "../" } else { "" };
            vec![format!("{indent}{name}: {{file: {up}values/v{n}.txt}}{comment}")]
        }
    }
}

/// A config from generated keys: the root's `keys:` and an included file's, each entry's line
/// range recorded per file.
struct Generated {
    root: String,
    included: String,
    /// For each key: which file (true: included) and its lines (0-based, end exclusive).
    ranges: Vec<(bool, std::ops::Range<usize>)>,
}

fn generate(keys: &[Gen], pending_value: bool) -> Generated {
    let mut root: Vec<String> = "version: 1\nowner: web\nnamespaces:\n  # the flags\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    include: [more/*.yaml]\n    keys:"
        .lines()
        .map(str::to_owned)
        .collect();
    let mut included: Vec<String> = vec!["# more keys".to_owned(), "keys:".to_owned()];
    let mut ranges = Vec::new();
    for (i, spec) in keys.iter().enumerate() {
        // A pending edit of a `file:` entry would name another file: those keep theirs.
        let pending = pending_value && spec.pending && !matches!(spec.form, Form::File);
        let n = if pending { i + 1000 } else { i };
        let (lines, indent) =
            if spec.included { (&mut included, "  ") } else { (&mut root, "      ") };
        let start = lines.len();
        lines.extend(entry_lines(&format!("f/k{i}"), spec, n, indent));
        ranges.push((spec.included, start..lines.len()));
    }
    if included.len() == 2 {
        included[1] = "keys: {}".to_owned();
    }
    Generated { root: root.join("\n") + "\n", included: included.join("\n") + "\n", ranges }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Random configs (comments, an include, flow and block mappings, quoted and plain scalars,
    /// `file:` values), random live edits, `pull --deep`: (a) the config loads as what is live
    /// for every pulled key, (b) no line outside a pulled entry changes, (c) a second pull
    /// changes nothing, (d) a config edit not yet applied survives.
    #[test]
    fn pull_writes_exactly_the_hand_edits(keys in proptest::collection::vec(gen_key(), 1..7)) {
        let applied = generate(&keys, false);
        let mut test = Test::new()
            .file("kvsync.yaml", &applied.root)
            .file("more/keys.yaml", &applied.included);
        for (i, spec) in keys.iter().enumerate() {
            if matches!(spec.form, Form::File) {
                test = test.file(&format!("values/v{i}.txt"), format!("file {i}"));
            }
        }
        // Applied from a commit of the history, so that a later config edit is waiting for
        // apply, not applied from elsewhere.
        let rev = commit_all(&test);
        let out = test.run(&local(&["apply", "--auto-approve", "--revision", &rev]));
        proptest::prop_assert_eq!(out.code, 0, "{}", out.snapshot());
        // Config edits not yet applied (d).
        let edited = generate(&keys, true);
        test.write("kvsync.yaml", &edited.root);
        test.write("more/keys.yaml", &edited.included);
        let mut live = Vec::new();
        for (i, spec) in keys.iter().enumerate() {
            let value = match &spec.live {
                Some(Ok(text)) => text.clone(),
                Some(Err((n, s))) => format!("{{\"n\":{n},\"s\":\"{s}\"}}"),
                None => continue,
            };
            let key = format!("f/k{i}");
            live.push((key.clone(), value.clone(), metadata_of(&test, &key)));
        }
        let seeds: Vec<(&str, &str, Option<serde_json::Value>)> =
            live.iter().map(|(k, v, m)| (k.as_str(), v.as_str(), Some(m.clone()))).collect();
        seed(&test, &seeds);

        let out = test.run(&local(&["pull", "--deep"]));
        proptest::prop_assert!(out.code == 0 || out.code == 2, "{}", out.snapshot());
        // (a): the config now says what is live, for every pulled key.
        let options = kvsync::config::LoadOptions::of(None);
        let loaded = kvsync::config::load(&test.path().join("kvsync.yaml"), &options)
            .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{}", out.snapshot())))?;
        let scope = &loaded.desired.scopes[0];
        for (key, value, _) in &live {
            let entry = scope.entries.get(key).expect("still desired");
            proptest::prop_assert_eq!(
                entry.read().expect("read"), value.as_bytes().to_vec(), "{}: {}", key, out.snapshot()
            );
        }
        // (b): no line outside a pulled entry changed; (d): the pending edits survive.
        for (included, before, path) in [
            (false, &edited.root, "kvsync.yaml"),
            (true, &edited.included, "more/keys.yaml"),
        ] {
            let after = read(&test, path);
            let pulled: Vec<&std::ops::Range<usize>> = edited
                .ranges
                .iter()
                .zip(&keys)
                .filter(|((file, _), spec)| *file == included && spec.live.is_some())
                .map(|((_, range), _)| range)
                .collect();
            let diff = similar::TextDiff::from_lines(before.as_str(), after.as_str());
            for op in diff.ops() {
                let (old, len) = match *op {
                    similar::DiffOp::Equal { .. } => continue,
                    similar::DiffOp::Delete { old_index, old_len, .. } => (old_index, old_len),
                    similar::DiffOp::Insert { old_index, .. } => (old_index, 0),
                    similar::DiffOp::Replace { old_index, old_len, .. } => (old_index, old_len),
                };
                let inside = if len == 0 {
                    pulled.iter().any(|r| r.start <= old && old <= r.end)
                } else {
                    (old..old + len).all(|line| pulled.iter().any(|r| r.contains(&line)))
                };
                proptest::prop_assert!(inside, "{path} changed outside the pulled entries:\n{}\n{}", after, out.snapshot());
            }
        }
        // (c): a second pull writes nothing.
        let (root, included) = (read(&test, "kvsync.yaml"), read(&test, "more/keys.yaml"));
        let again = test.run(&local(&["pull", "--deep"]));
        proptest::prop_assert_eq!(again.code, 0, "{}", again.snapshot());
        proptest::prop_assert_eq!(read(&test, "kvsync.yaml"), root);
        proptest::prop_assert_eq!(read(&test, "more/keys.yaml"), included);
    }
}

/// A `files:` source's file gets the live bytes; an entry behind a YAML alias and a live value
/// that breaks its schema are listed for a person; the revision that last wrote a key is named;
/// `--format json` says the same; the marker-only plan says so in JSON and Markdown too.
#[test]
fn files_sources_aliases_schemas_revisions_and_json() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    schemas:\n      \"f/typed\": {type: object, properties: {n: {type: integer}}}\n    keys:\n      f/anchored: &shared {value: {n: 1}}\n      f/alias: *shared\n      f/typed: {value: {n: 1}}\n    files:\n      - path: pages/*.html\n        key: \"f/{path}\"\n";
    let test = Test::new().file("kvsync.yaml", config).file("pages/a.html", "<p>a</p>");
    let out = test.run(&local(&["apply", "--auto-approve", "--revision", "abc1234"]));
    assert_eq!(out.code, 0, "{}", out.snapshot());
    seed(
        &test,
        &[
            ("f/a.html", "<p>edited</p>", Some(metadata_of(&test, "f/a.html"))),
            ("f/alias", "{\"n\":2}", Some(metadata_of(&test, "f/alias"))),
            ("f/typed", "{\"n\":\"two\"}", Some(metadata_of(&test, "f/typed"))),
        ],
    );
    let out = test.run(&local(&["pull", "--deep"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(read(&test, "pages/a.html"), "<p>edited</p>");
    assert_eq!(read(&test, "kvsync.yaml"), config, "{}", out.snapshot());
    assert!(
        out.stdout
            .contains("~ f/a.html (value changed live, last written by `abc1234`) → pages/a.html"),
        "{}",
        out.stdout
    );
    // A refused edit: its reason with where, then its hint on a line of its own.
    assert!(
        out.stdout.contains(
            "! f/alias: its entry is inside a YAML anchor or reached through an alias (at \
             `kvsync.yaml:11:16`), so other places repeat it, last written by `abc1234`\n      \
             hint: edit it by hand"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("! f/typed: changed live into a value its schema refuses (at `/n`: \"two\" is not of type \"integer\""),
        "{}",
        out.stdout
    );

    let json = test.run(&local(&["pull", "--deep", "--format", "json"]));
    assert_eq!(json.code, 2, "{}", json.snapshot());
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let keys = doc["keys"].as_array().expect("keys");
    let typed = keys.iter().find(|k| k["key"] == "f/typed").expect("f/typed");
    assert_eq!(typed["outcome"], "needs-person");
    assert_eq!(typed["revision"], "abc1234");
    let alias = keys.iter().find(|k| k["key"] == "f/alias").expect("f/alias");
    assert_eq!(alias["outcome"], "needs-person");
    assert_eq!(alias["reason"], "anchor-or-alias");
    assert!(alias["hint"].as_str().is_some_and(|hint| hint.starts_with("edit it by hand")));
    assert!(doc["files"].as_array().expect("files").is_empty(), "already written: {doc}");

    let plan = test.run(&local(&["plan", "--format", "json"]));
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).expect("json");
    let page = doc["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["key"] == "f/a.html")
        .cloned();
    assert_eq!(
        page.as_ref().map(|c| c["marker_only"].clone()),
        Some(json!(true)),
        "{}",
        plan.stdout
    );
    assert_eq!(
        page.as_ref().map(|c| c["note"].clone()),
        Some(json!("marker only: live already matches; apply rewrites kvsync's marker: 1 write"))
    );
    let markdown = test.run(&local(&["plan", "--format", "markdown"]));
    assert!(markdown.stdout.contains("`f/a.html` (marker only: live already matches; apply rewrites kvsync's marker: 1 write)"), "{}", markdown.stdout);
}

/// Edits in flow mappings and next to trailing comments: a removed first entry takes its comma
/// along, an added key goes after the last entry's comment, not before it.
#[test]
fn flow_mappings_and_trailing_comments() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    keys:\n      f/a: one\n      f/last: two  # the last one\n    include: [more.yaml]\n";
    let included = "keys: {f/x: 1, f/y: 2}\n";
    let test = Test::new().file("kvsync.yaml", config).file("more.yaml", included);
    assert_eq!(test.run(&local(&["apply", "--auto-approve"])).code, 0);
    let store = crate::support::local_store(&test);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    use kvsync::kv::KvStore as _;
    runtime.block_on(store.bulk_delete(crate::support::NS, &["f/x".to_owned()])).expect("delete");
    drop(store);
    seed(&test, &[("f/new", "3", None)]);
    let out = test.run(&local(&["pull", "--adopt", "--remove-missing"]));
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(read(&test, "more.yaml"), "keys: {f/y: 2}\n");
    assert_eq!(
        read(&test, "kvsync.yaml"),
        config.replace("  # the last one\n", "  # the last one\n      f/new: 3\n")
    );
}

/// An overlay written as a flow mapping gets its override inside its braces.
#[test]
fn an_override_goes_into_a_flow_overlay() {
    let config = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    prefix: \"f/\"\n    keys:\n      f/a: base\nenvironments:\n  dev: {namespaces: {flags: {prefix: \"f/\"}}}\n  prod: {namespaces: {flags: {keys: {f/b: x}}}}\n";
    let test = Test::new().file("kvsync.yaml", config);
    for env in ["dev", "prod"] {
        assert_eq!(test.run(&local(&["apply", "--auto-approve", "--env", env])).code, 0);
    }
    seed(&test, &[("f/a", "hotfix", Some(metadata_of(&test, "f/a")))]);
    let dev = test.run(&local(&["pull", "--deep", "--env", "dev"]));
    assert_eq!(dev.code, 2, "{}", dev.snapshot());
    let prod = test.run(&local(&["pull", "--deep", "--env", "prod"]));
    assert_eq!(prod.code, 2, "{}", prod.snapshot());
    assert_eq!(
        read(&test, "kvsync.yaml"),
        config
            .replace("{flags: {prefix: \"f/\"}}", "{flags: {prefix: \"f/\", keys: {f/a: hotfix}}}")
            .replace("{keys: {f/b: x}}", "{keys: {f/b: x, f/a: hotfix}}")
    );
}
