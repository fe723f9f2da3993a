use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::entries::remove_field;
use super::render::render_value;
use super::text::apply;
use super::*;
use crate::config::yaml;

/// The value node of `k:` in `text`.
fn node(text: &str) -> SpanNode {
    let tree = yaml::span_tree(text).expect("parses").expect("a document");
    tree.get("k").expect("k").clone()
}

fn rendered(text: &str, live: &str) -> String {
    let was_string = matches!(text, "k: hello\n" | "k: 'hello'\n" | "k: \"hello\"\n" | "k: x\n");
    render_value(text, &node(text), live.as_bytes(), was_string, 0).expect("UTF-8").0
}

#[test]
fn a_value_keeps_its_form_when_it_can() {
    assert_eq!(rendered("k: hello\n", "hi there"), "hi there");
    assert_eq!(rendered("k: 'hello'\n", "it's"), "'it''s'");
    assert_eq!(rendered("k: \"hello\"\n", "a\tb"), "\"a\\tb\"");
    assert_eq!(rendered("k: 42\n", "43"), "43");
    assert_eq!(rendered("k: {a: 1}\n", r#"{"a":2,"b":[true]}"#), "{a: 2, b: [true]}");
    assert_eq!(rendered("k:\n  a: 1\n", r#"{"a":2,"b":{"c":null}}"#), "a: 2\n  b:\n    c: null");
    // Not compact JSON: a string, stored as the same raw text.
    assert_eq!(rendered("k: {a: 1}\n", r#"{"a": 2}"#), r#""{\"a\": 2}""#);
    // Interpolation is escaped: the text is never taken for a variable.
    assert_eq!(rendered("k: x\n", "${HOME}"), "\"$${HOME}\"");
    assert_eq!(rendered("k: x\n", "true"), "\"true\"");
    assert!(render_value("k: x\n", &node("k: x\n"), b"\xff", true, 0).is_none());
    // A number that becomes text is a string now; a string holding JSON stays a string.
    assert_eq!(rendered("k: 42\n", "forty-two"), "forty-two");
    assert_eq!(rendered("k: hello\n", r#"{"a":1}"#), r#""{\"a\":1}""#);
}

#[test]
fn replacements_and_removals_touch_only_their_bytes() {
    let text = "keys:\n  a: 1  # one\n  b: 2\n";
    assert_eq!(apply(text, vec![(11, 12, "9".into())]), "keys:\n  a: 9  # one\n  b: 2\n");
    let tree = yaml::span_tree(text).expect("parses").expect("doc");
    let keys = tree.get("keys").expect("keys");
    let mut replacements = Vec::new();
    remove_field(text, keys, "a", &mut replacements);
    assert_eq!(apply(text, replacements), "keys:\n  b: 2\n");
    let flow = "keys: {a: 1, b: 2, c: 3}\n";
    let tree = yaml::span_tree(flow).expect("parses").expect("doc");
    let keys = tree.get("keys").expect("keys");
    for (key, after) in [
        ("a", "keys: {b: 2, c: 3}\n"),
        ("b", "keys: {a: 1, c: 3}\n"),
        ("c", "keys: {a: 1, b: 2}\n"),
    ] {
        let mut replacements = Vec::new();
        remove_field(flow, keys, key, &mut replacements);
        assert_eq!(apply(flow, replacements), after, "{key}");
    }
}

const HEAD: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n";

/// A project in a temporary folder: its files, loaded.
struct Project {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    included: BTreeMap<String, Vec<usize>>,
    desired: crate::config::Desired,
}

fn project(files: &[(&str, &str)], environment: Option<&str>) -> Project {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let options = crate::config::LoadOptions::of(environment);
    let loaded = crate::config::load(&dir.path().join("kvsync.yaml"), &options).expect("it loads");
    Project { dir, files: loaded.files, included: loaded.included, desired: loaded.desired }
}

/// The edits of `changes`: every file after them, by name (files not edited left out).
fn edited(project: &Project, changes: &[Change]) -> (BTreeMap<String, String>, Edits) {
    let root = project.dir.path().join("kvsync.yaml");
    let context = Context {
        root: &root,
        files: &project.files,
        included: &project.included,
        environment: project.desired.environment.as_deref(),
        into: None,
        preview: None,
        target: None,
        vars: &|_| None,
        titles: None,
    };
    let edits = edits(&context, &project.desired, changes).expect("edits");
    let environments = crate::config::environment_names(&root);
    if let Err(error) = checked(&context, project, changes, &edits, &environments) {
        panic!("{error}");
    }
    let after = edits
        .files
        .iter()
        .map(|file| {
            let name = file.path.strip_prefix(project.dir.path()).unwrap_or(&file.path);
            let text = String::from_utf8(file.after.clone()).expect("UTF-8");
            (name.display().to_string(), text)
        })
        .collect();
    (after, edits)
}

/// [`check`] of `changes` made by `edits` to `project`.
fn checked(
    context: &Context<'_>,
    project: &Project,
    changes: &[Change],
    edits: &Edits,
    environments: &[String],
) -> Result<(), CheckError> {
    let before = Before::of(&project.desired, changes);
    check(context, project.desired.environment.as_deref(), &before, changes, edits, environments)
}

fn change(key: &str, what: What) -> Change {
    Change { scope: "flags".to_owned(), key: key.to_owned(), what }
}

/// Removing an entry written as a block scalar, of any chomping, or whose last field is
/// one, takes its own lines and nothing else: not the next key, not an `include:` line.
#[test]
fn a_removed_block_scalar_takes_only_its_own_lines() {
    let keys = "    keys:\n      a: 1\n      # the banner\n      banner: |\n        hello\n        world\n\n      e: >-\n        folded\n        text\n      k:\n        metadata: {team: web}\n        value: |+\n          kept\n\n      z: last\n    include: [more.yaml]\n";
    let config = format!("{HEAD}{keys}");
    let files = [("kvsync.yaml", config.as_str()), ("more.yaml", "keys:\n  m: 1\n")];
    let project = project(&files, None);
    for (key, gone) in [
        ("banner", "      # the banner\n      banner: |\n        hello\n        world\n"),
        ("e", "      e: >-\n        folded\n        text\n"),
        ("k", "      k:\n        metadata: {team: web}\n        value: |+\n          kept\n"),
        ("z", "      z: last\n"),
    ] {
        let (after, edits) = edited(&project, &[change(key, What::Remove)]);
        assert!(edits.refused.is_empty(), "{key}: {:?}", edits.refused);
        assert_eq!(after["kvsync.yaml"], config.replacen(gone, "", 1), "{key}");
    }
    let (after, _) = edited(&project, &[change("e", What::Remove), change("banner", What::Remove)]);
    assert!(
        after["kvsync.yaml"].contains("\n      a: 1\n\n      k:\n"),
        "{}",
        after["kvsync.yaml"]
    );
}

/// `--adopt` adds after a `keys:` mapping that ends with a block scalar, inside it.
#[test]
fn an_adopted_key_goes_after_a_closing_block_scalar() {
    let config = format!(
        "{HEAD}    keys:\n      a: 1\n      banner: |-\n        hello\n\n    include: [more.yaml]\n"
    );
    let files = [("kvsync.yaml", config.as_str()), ("more.yaml", "keys:\n  m: 1\n")];
    let project = project(&files, None);
    let add = What::Add { value: b"new".to_vec(), metadata: None, expiration: None };
    let (after, edits) = edited(&project, &[change("new", add)]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(
        after["kvsync.yaml"],
        config.replace("        hello\n", "        hello\n      new: new\n")
    );
}

fn context<'a>(project: &'a Project, root: &'a Path) -> Context<'a> {
    Context {
        root,
        files: &project.files,
        included: &project.included,
        environment: project.desired.environment.as_deref(),
        into: None,
        preview: None,
        target: None,
        vars: &|_| None,
        titles: None,
    }
}

/// The whole result is checked before anything is written: an edit that takes a line too
/// many, or that reaches another scope or another environment, is an error naming the key.
#[test]
fn the_check_names_a_key_the_edits_would_change() {
    let config = format!("{HEAD}    keys:\n      a: 1\n      b: |\n        x\n      c: 3\n");
    let project = project(&[("kvsync.yaml", config.as_str())], None);
    let root = project.dir.path().join("kvsync.yaml");
    let context = context(&project, &root);
    let remove = [change("b", What::Remove)];
    let file = |after: &str| FileEdit {
        path: root.clone(),
        before: config.clone().into_bytes(),
        after: after.as_bytes().to_vec(),
    };
    let made = vec![("flags".to_owned(), "b".to_owned(), "kvsync.yaml:5:7".to_owned())];
    let good = Edits {
        files: vec![file(&config.replace("      b: |\n        x\n", ""))],
        made: made.clone(),
        refused: Vec::new(),
    };
    checked(&context, &project, &remove, &good, &[]).expect("the right edit passes");
    // The old end of a block scalar: the next line went too.
    let bad = Edits {
        files: vec![file(&config.replace("      b: |\n        x\n      c: 3\n", ""))],
        made: made.clone(),
        refused: Vec::new(),
    };
    let error = checked(&context, &project, &remove, &bad, &[]).expect_err("caught");
    assert_eq!(
        error.to_string(),
        "after the edits, `c` of scope `flags` would no longer be desired; nothing was written"
    );
    // A value set, but not to what is live.
    let set =
        [change("a", What::Set { value: Some(b"2".to_vec()), metadata: None, expiration: None })];
    let wrong = Edits {
        files: vec![file(&config.replace("a: 1", "a: 3"))],
        made: vec![("flags".to_owned(), "a".to_owned(), String::new())],
        refused: Vec::new(),
    };
    let error = checked(&context, &project, &set, &wrong, &[]).expect_err("caught");
    assert!(
        error.to_string().contains("`a` of scope `flags` would not have its live value"),
        "{error}"
    );
    // Text that does not load at all.
    let broken = Edits { files: vec![file("version: [\n")], made, refused: Vec::new() };
    let error = checked(&context, &project, &remove, &broken, &[]).expect_err("caught");
    assert!(matches!(error, CheckError::NotLoading { .. }), "{error}");
}

/// An edit of the base config is seen from every other environment.
#[test]
fn the_check_loads_every_other_environment() {
    let config = format!(
        "{HEAD}    keys:\n      a: 1\nenvironments:\n  prod:\n    namespaces:\n      flags:\n        keys:\n          b: 2\n  staging: {{}}\ndefault_environment: prod\n"
    );
    let project = project(&[("kvsync.yaml", config.as_str())], Some("prod"));
    let root = project.dir.path().join("kvsync.yaml");
    let context = context(&project, &root);
    let set =
        [change("b", What::Set { value: Some(b"3".to_vec()), metadata: None, expiration: None })];
    let made = vec![("flags".to_owned(), "b".to_owned(), String::new())];
    let environments = ["prod".to_owned(), "staging".to_owned()];
    let edits = |after: String| Edits {
        files: vec![FileEdit {
            path: root.clone(),
            before: config.clone().into_bytes(),
            after: after.into_bytes(),
        }],
        made: made.clone(),
        refused: Vec::new(),
    };
    let good = edits(config.replace("b: 2", "b: 3"));
    checked(&context, &project, &set, &good, &environments).expect("passes");
    let leaks = edits(config.replace("b: 2", "b: 3").replace("a: 1", "a: 9"));
    let error = checked(&context, &project, &set, &leaks, &environments).expect_err("caught");
    assert!(error.to_string().contains("`a` of scope `flags`"), "{error}");
}

/// An entry whose node or any node above it is anchored or aliased is listed for a person,
/// for set, add and remove alike: an edit there would reach every place that repeats it.
#[test]
fn an_entry_under_an_anchor_or_an_alias_is_left_to_a_person() {
    let config = "version: 1\nowner: web\nnamespaces:\n  s:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys: &shared {a: one}\n  t:\n    namespace_id: 1f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys: *shared\n  u: &u\n    namespace_id: 2f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      b: two\n  v:\n    namespace_id: 3f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      c: &c three\n      d: *c\n      e: four\n";
    let project = project(&[("kvsync.yaml", config)], None);
    let set = || What::Set { value: Some(b"new".to_vec()), metadata: None, expiration: None };
    let add = || What::Add { value: b"new".to_vec(), metadata: None, expiration: None };
    let on = |scope: &str, key: &str, what| Change {
        scope: scope.to_owned(),
        key: key.to_owned(),
        what,
    };
    for change in [
        on("s", "a", set()),
        on("t", "a", set()),
        on("s", "a", What::Remove),
        on("t", "a", What::Remove),
        on("s", "new", add()),
        on("t", "new", add()),
        on("u", "b", set()),
        on("u", "b", What::Remove),
        on("u", "new", add()),
        on("v", "c", set()),
        on("v", "d", What::Remove),
    ] {
        let (after, edits) = edited(&project, std::slice::from_ref(&change));
        assert!(after.is_empty(), "{change:?}: {after:?}");
        assert_eq!(edits.refused.len(), 1, "{change:?}");
        assert!(
            matches!(&edits.refused[0].refusal, Refusal::Shared { place } if place.starts_with("kvsync.yaml:")),
            "{:?}",
            edits.refused
        );
    }
    // Next to them, an entry of its own is edited.
    let (after, edits) = edited(&project, &[on("v", "e", set())]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(after["kvsync.yaml"], config.replace("e: four", "e: new"));
}

fn set_value(key: &str, live: &str) -> Change {
    change(
        key,
        What::Set { value: Some(live.as_bytes().to_vec()), metadata: None, expiration: None },
    )
}

/// A changed block scalar stays a block scalar, of the chomping and indentation the live
/// text needs, and `>` stays folded where the text allows; each reads back as live (the
/// whole-result check runs in `edited`).
#[test]
fn a_block_scalar_stays_a_block_scalar() {
    let cases = [
        ("b: |\n  hello\n  world\n", "hi\nthere\n", "b: |\n  hi\n  there\n"),
        ("b: |-\n  hello\n", "a\nb", "b: |-\n  a\n  b\n"),
        ("b: |\n  hello\n\nz: 1\n", "a\n\n\n", "b: |+\n  a\n\n\nz: 1\n"),
        ("b: |+\n  hello\n\n\nz: 1\n", "a\n", "b: |\n  a\n\n\nz: 1\n"),
        ("b: >\n  one\n  two\n", "three\nfour\n", "b: >\n  three\n\n  four\n"),
        // `>` stays folded wherever a folded block reads back as the live text: more indented
        // lines keep their line breaks, paragraphs take one empty line more.
        ("b: >-\n  one\n", "  indented\nnot\n", "b: >2\n    indented\n  not\n"),
        ("b: >\n  x\n", "text\n  code\nmore\n", "b: >\n  text\n    code\n  more\n"),
        ("b: >\n  x\n", "para one\n\npara two\n", "b: >\n  para one\n\n\n  para two\n"),
        ("b: >+\n  x\n\nz: 1\n", "a \nb\n\n", "b: >+\n  a \n\n  b\n\nz: 1\n"),
        ("b: |  # keep\n  x\n", "${HOME}\n", "b: |  # keep\n  $${HOME}\n"),
        ("b: |\n  x\n", "a\r\nb\n", "b: \"a\\r\\nb\\n\"\n"),
        (
            "b:\n  metadata: {t: 1}\n  value: |\n    x\n",
            "y\nz\n",
            "b:\n  metadata: {t: 1}\n  value: |\n    y\n    z\n",
        ),
    ];
    for (keys, live, expected) in cases {
        let indent = |text: &str| {
            text.lines()
                .map(|l| if l.is_empty() { "\n".to_owned() } else { format!("      {l}\n") })
                .collect::<String>()
        };
        let config = format!("{HEAD}    keys:\n{}", indent(keys));
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let (after, edits) = edited(&project, &[set_value("b", live)]);
        assert!(edits.refused.is_empty(), "{keys:?}: {:?}", edits.refused);
        let expected =
            format!("{HEAD}    keys:\n{}", indent(expected).replace("      # keep", "# keep"));
        assert_eq!(after["kvsync.yaml"], expected, "{keys:?} → {live:?}");
    }
}

/// A block collection that becomes a scalar: below its key, the scalar goes under the key;
/// after an explicit key's `: ` (the YAML suite's A2M4), in its place, the `: ` kept.
#[test]
fn a_block_collection_becomes_a_scalar_where_it_stands() {
    let cases = [
        ("b:\n  - x\n  - y\n", "b:\n  \"a\\nb\"\n"),
        ("b:\n- x\n- y\n", "b:\n  \"a\\nb\"\n"),
        ("? b\n: - x\n  - y\n", "? b\n: \"a\\nb\"\n"),
        ("? b\n:   - x\n    - y\n", "? b\n:   \"a\\nb\"\n"),
    ];
    for (keys, expected) in cases {
        let indent = |text: &str| text.lines().map(|l| format!("      {l}\n")).collect::<String>();
        let config = format!("{HEAD}    keys:\n{}", indent(keys));
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let (after, edits) = edited(&project, &[set_value("b", "a\nb")]);
        assert!(edits.refused.is_empty(), "{keys:?}: {:?}", edits.refused);
        let expected = format!("{HEAD}    keys:\n{}", indent(expected));
        assert_eq!(after["kvsync.yaml"], expected, "{keys:?}");
    }
}

/// A CRLF file stays CRLF: replaced values, block scalars, added and removed entries.
#[test]
fn a_crlf_file_keeps_its_line_breaks() {
    let config =
        format!("{HEAD}    keys:\n      a: 1  # one\n      b: |\n        x\n      c: gone\n")
            .replace('\n', "\r\n");
    let project = project(&[("kvsync.yaml", config.as_str())], None);
    let add =
        What::Add { value: b"{\"x\":1}".to_vec(), metadata: None, expiration: Some(2_000_000_000) };
    let changes = [
        set_value("a", "2"),
        set_value("b", "y\nz\n"),
        change("c", What::Remove),
        change("d", add),
    ];
    let (after, edits) = edited(&project, &changes);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    let text = &after["kvsync.yaml"];
    assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "{text:?}");
    assert_eq!(
        *text,
        format!("{HEAD}    keys:\n      a: 2  # one\n      b: |\n        y\n        z\n      d: {{value: {{x: 1}}, expiration: 2033-05-18T03:33:20Z}}\n").replace('\n', "\r\n")
    );
}

/// A JSON value or metadata edited inside: only the leaves that changed are written, so the
/// entry's comments and the text of its other fields (a quoted name, a `|` block) stay.
#[test]
fn an_entry_keeps_its_comments_and_its_unchanged_text() {
    let config = format!(
        "{HEAD}    keys:\n      k:\n        # the flag\n        value:\n          \"on\": true   # on?\n          rollout: 5  # percent\n          note: |\n            kept\n        metadata: {{team: web, 'x': [1, 2]}}  # who\n"
    );
    let project = project(&[("kvsync.yaml", config.as_str())], None);
    let mut meta = Map::new();
    meta.insert("team".to_owned(), Value::from("search"));
    meta.insert("x".to_owned(), serde_json::json!([1, 3]));
    let live = br#"{"on":true,"rollout":50,"note":"kept\n"}"#.to_vec();
    let what = What::Set { value: Some(live), metadata: Some(Some(meta)), expiration: None };
    let (after, edits) = edited(&project, &[change("k", what)]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(
        after["kvsync.yaml"],
        config
            .replace("rollout: 5  #", "rollout: 50  #")
            .replace("team: web", "team: search")
            .replace("[1, 2]", "[1, 3]")
    );
}

/// An environment's override is a copy of the base entry's node with only what differs
/// changed: its other fields, comments and styles come along.
#[test]
fn an_override_copies_the_base_entry() {
    let config = format!(
        "{HEAD}    keys:\n      k:\n        # the template\n        value: |\n          hello\n        metadata: {{team: web}}\n        expiration_ttl: 3600\nenvironments:\n  prod:\n    namespaces:\n      flags:\n        keys:\n          other: 1\n  staging: {{}}\n"
    );
    let project = project(&[("kvsync.yaml", config.as_str())], Some("prod"));
    let (after, edits) = edited(&project, &[set_value("k", "hello\nworld\n")]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(
        after["kvsync.yaml"],
        config.replace(
            "          other: 1\n",
            "          other: 1\n          k:\n            # the template\n            value: |\n              hello\n              world\n            metadata: {team: web}\n            expiration_ttl: 3600\n"
        )
    );
    // Into an empty flow overlay: one line, rebuilt.
    let (after, edits) = edited(&project_with_flow(), &[set_value("k", "x")]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert!(after["kvsync.yaml"].contains("staging: {namespaces: {flags: {keys: {k: {value: x, metadata: {team: web}, expiration_ttl: 3600}}}}}"), "{}", after["kvsync.yaml"]);
}

fn project_with_flow() -> Project {
    let config = format!(
        "{HEAD}    keys:\n      k:\n        value: |\n          hello\n        metadata: {{team: web}}\n        expiration_ttl: 3600\nenvironments:\n  prod: {{}}\n  staging: {{}}\n"
    );
    project(&[("kvsync.yaml", config.as_str())], Some("staging"))
}

/// The secret named is the variable that feeds the part that changed; `$${NAME}` is text.
#[test]
fn the_secret_named_feeds_the_changed_part() {
    let config = format!(
        "{HEAD}    keys:\n      a: {{value: \"$${{LITERAL}} ${{REAL:-r}}\", sensitive: true}}\n      b: {{value: literal, metadata: {{tok: \"${{TOK:-t}}\"}}}}\n      c: \"${{BARE:-b}}\"\n"
    );
    let project = project(&[("kvsync.yaml", config.as_str())], None);
    let root = project.dir.path().join("kvsync.yaml");
    let context = context(&project, &root);
    let parts = |value, metadata| SecretParts { value, metadata, expiration: false };
    let keys = [
        ("flags".to_owned(), "a".to_owned(), parts(true, false)),
        ("flags".to_owned(), "b".to_owned(), parts(true, false)),
        ("flags".to_owned(), "c".to_owned(), parts(true, true)),
    ];
    let names = secret_names(&context, &keys);
    let name = |key: &str| names.get(&("flags".to_owned(), key.to_owned())).cloned();
    assert_eq!(name("a"), Some(vec!["REAL".to_owned()]));
    assert_eq!(name("b"), None, "its value is literal; only its metadata has a variable");
    assert_eq!(name("c"), Some(vec!["BARE".to_owned()]));
    let keys = [("flags".to_owned(), "b".to_owned(), parts(false, true))];
    let names = secret_names(&context, &keys);
    assert_eq!(names.values().next(), Some(&vec!["TOK".to_owned()]));
}

/// A tag a comment separates from its value (`b: !!seq # note`, the value below) is removed
/// when the value is rewritten (it would not fit the new form), and the comment stays.
#[test]
fn a_tag_apart_from_its_value_goes_and_its_comment_stays() {
    let cases = [
        ("b: !!str # c\n  hello\n", "b: # c\n  \"two\\nlines\"\n"),
        ("b: !!seq # c\n  - x\n  - y\n", "b: # c\n  \"two\\nlines\"\n"),
        ("b: !!int # c\n  42\n", "b: # c\n  \"two\\nlines\"\n"),
        ("b: !!str\n  # c\n  # d\n  hello\n", "b:\n  # c\n  # d\n  \"two\\nlines\"\n"),
        ("b: !!str # c\n  |-\n  x\n", "b: # c\n  |-\n  two\n  lines\n"),
        ("b:\n  value: !!str # c\n    x\n", "b:\n  value: # c\n    \"two\\nlines\"\n"),
        // On the value's line, a tag is part of the node and goes with it; `>` stays folded.
        ("b: !!str >-\n  x\n", "b: >-\n  two\n\n  lines\n"),
    ];
    for (keys, expected) in cases {
        let indent = |text: &str| {
            text.lines()
                .map(|l| if l.is_empty() { "\n".to_owned() } else { format!("      {l}\n") })
                .collect::<String>()
        };
        let config = format!("{HEAD}    keys:\n{}", indent(keys));
        let project = project(&[("kvsync.yaml", config.as_str())], None);
        let (after, edits) = edited(&project, &[set_value("b", "two\nlines")]);
        assert!(edits.refused.is_empty(), "{keys:?}: {:?}", edits.refused);
        assert_eq!(
            after["kvsync.yaml"],
            format!("{HEAD}    keys:\n{}", indent(expected)),
            "{keys:?}"
        );
    }
}

/// An entry is found in the included file that defines it, whether the key is written as is
/// (a file that only mentions it, earlier, is passed over) or escaped (found once the files
/// whose text holds it as written do not define it); only the files looked in are parsed.
#[test]
fn an_entry_is_found_in_the_file_that_defines_it() {
    let config = format!("{HEAD}    include: [a.yaml, b.yaml, c.yaml]\n");
    let files = [
        ("kvsync.yaml", config.as_str()),
        ("a.yaml", "keys:\n  note: \"see f/plain and f/escaped\"  # f/plain\n"),
        ("b.yaml", "keys:\n  f/plain: one\n"),
        ("c.yaml", "keys:\n  \"f\\x2Fescaped\": two\n"),
    ];
    let project = project(&files, None);
    let (after, edits) = edited(&project, &[set_value("f/plain", "uno")]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(after.keys().collect::<Vec<_>>(), ["b.yaml"]);
    assert_eq!(after["b.yaml"], "keys:\n  f/plain: uno\n");
    let (after, edits) = edited(&project, &[set_value("f/escaped", "dos")]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(after["c.yaml"], "keys:\n  \"f\\x2Fescaped\": dos\n");

    let trees = locate::Trees::read(&project.files).expect("read");
    let root = project.dir.path().join("kvsync.yaml");
    let context = context(&project, &root);
    let (site, _) = locate::find(&context, &trees, "flags", "f/plain").expect("found");
    assert_eq!(site.file, 2);
    assert_eq!(trees.parsed(), [true, true, true, false], "c.yaml is not parsed");
}

/// Two scopes whose included files define keys of the same name: an edit of one scope's key
/// goes into that scope's file.
#[test]
fn an_entry_is_found_in_its_own_scopes_files() {
    let config = "version: 1\nowner: web\nnamespaces:\n  one:\n    namespace_id: 00000000000000000000000000000001\n    include: [a.yaml]\n  flags:\n    namespace_id: 00000000000000000000000000000002\n    include: [b.yaml]\n";
    let files = [
        ("kvsync.yaml", config),
        ("a.yaml", "keys:\n  flag: a-one\n"),
        ("b.yaml", "keys:\n  flag: b-two\n"),
    ];
    let project = project(&files, None);
    let (after, edits) = edited(&project, &[set_value("flag", "b-hand")]);
    assert!(edits.refused.is_empty(), "{:?}", edits.refused);
    assert_eq!(after.keys().collect::<Vec<_>>(), ["b.yaml"]);
}
