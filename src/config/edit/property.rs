//! The property test of pull's edits, in-process: random configs (comments everywhere, block
//! scalars of every chomping and indentation indicator, flow and block mappings, every quoting
//! style, CRLF and LF, anchors and aliases, an included file, environments, `file:` values),
//! random live edits, removals and adoptions. Every case checks that the whole-result check
//! passes (pulled keys say what is live, every other key is unchanged), that refusals have a
//! documented reason, that the bytes outside edited entries are unchanged, that the line
//! endings are, and that a second pull finds nothing more to write.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{Change, Context, Refusal, What, check, edits};
use crate::config::{Desired, LoadOptions, load};
use crate::content::Expiration;

/// How an entry is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    Plain,
    Single,
    Double,
    /// A block scalar with this header.
    Block(&'static str),
    FlowEntry,
    /// `value: |` and `metadata:` as a block mapping, with a comment line inside.
    BlockEntry,
    /// A JSON object as a block mapping under `value:`.
    JsonBlock,
    File,
    /// An anchored value and a second key aliasing it.
    Anchored,
    /// A tag a comment separates from its value on the next line.
    TagApart,
}

/// Where an entry is defined.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Root,
    Included,
    Overlay,
}

/// What happens to a key live.
#[derive(Debug, Clone)]
enum Live {
    Same,
    Value(&'static str),
    Metadata(&'static str),
    Gone,
}

#[derive(Debug, Clone)]
struct Key {
    form: Form,
    place: Place,
    comment_above: bool,
    trailing_comment: bool,
    live: Live,
}

const HEADERS: &[&str] = &["|", "|-", "|+", ">", ">-", ">+", "|2", "|2-", ">2"];

/// Live values: hostile text of every kind.
const VALUES: &[&str] = &[
    "x",
    "two words",
    "multi\nline\n",
    "no newline\nat the end",
    "trailing\n\n\n",
    " lead\nnext\n",
    "${HOME}",
    "$${LITERAL}",
    "quote ' and \" both",
    "a: b # c",
    "line\u{2028}separator",
    "tab\there",
    "",
    "true",
    "123",
    "{\"a\":1}",
    "[1,2]",
    "é ünï",
    "- dash",
    "#hash",
    "*/ closer",
    "cr\r\nlf",
    "para one\n\npara two\n",
    "text\n  code\nmore\n",
    "  lead\n\n",
    "trailing space \nnext",
];

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        Just(Form::Plain),
        Just(Form::Single),
        Just(Form::Double),
        proptest::sample::select(HEADERS).prop_map(Form::Block),
        Just(Form::FlowEntry),
        Just(Form::BlockEntry),
        Just(Form::JsonBlock),
        Just(Form::File),
        Just(Form::Anchored),
        Just(Form::TagApart),
    ]
}

fn live() -> impl Strategy<Value = Live> {
    prop_oneof![
        2 => Just(Live::Same),
        4 => proptest::sample::select(VALUES).prop_map(Live::Value),
        1 => proptest::sample::select(&["web", "growth", "a b"][..]).prop_map(Live::Metadata),
        1 => Just(Live::Gone),
    ]
}

fn key() -> impl Strategy<Value = Key> {
    (
        form(),
        prop_oneof![3 => Just(Place::Root), 1 => Just(Place::Included), 1 => Just(Place::Overlay)],
        any::<bool>(),
        any::<bool>(),
        live(),
    )
        .prop_map(|(form, place, comment_above, trailing_comment, live)| Key {
            form,
            place,
            comment_above,
            trailing_comment,
            live,
        })
}

/// The lines of key `i`'s entry (two entries for an anchored one), at `indent`.
fn entry_lines(i: usize, key: &Key, indent: &str) -> Vec<String> {
    let name = format!("k{i}");
    let comment = if key.trailing_comment { format!("  # about {name}") } else { String::new() };
    let mut lines = Vec::new();
    if key.comment_above {
        lines.push(format!("{indent}# {name} below"));
    }
    match key.form {
        Form::Plain => lines.push(format!("{indent}{name}: plain {i}{comment}")),
        Form::Single => lines.push(format!("{indent}{name}: 'it''s {i}'{comment}")),
        Form::Double => lines.push(format!("{indent}{name}: \"tab\\t{i}\"{comment}")),
        Form::Block(header) => {
            lines.push(format!("{indent}{name}: {header}{comment}"));
            let first = if header.contains('2') { "   indented" } else { "first" };
            lines.push(format!("{indent}  {first} {i}"));
            lines.push(format!("{indent}  # not a comment"));
            if header.contains('+') {
                lines.push(String::new());
            }
        }
        Form::FlowEntry => lines
            .push(format!("{indent}{name}: {{value: flow {i}, metadata: {{team: web}}}}{comment}")),
        Form::BlockEntry => {
            lines.push(format!("{indent}{name}:{comment}"));
            lines.push(format!("{indent}  # the value"));
            lines.push(format!("{indent}  value: |"));
            lines.push(format!("{indent}    block {i}"));
            lines.push(format!("{indent}  metadata:"));
            lines.push(format!("{indent}    team: web  # who"));
        }
        Form::JsonBlock => {
            lines.push(format!("{indent}{name}:{comment}"));
            lines.push(format!("{indent}  value:"));
            lines.push(format!("{indent}    \"on\": true"));
            lines.push(format!("{indent}    n: {i}"));
        }
        Form::File => lines.push(format!("{indent}{name}: {{file: values/v{i}.txt}}{comment}")),
        Form::TagApart => {
            lines.push(format!("{indent}{name}: !!str # the tag is apart{comment}"));
            lines.push(format!("{indent}  tagged {i}"));
        }
        Form::Anchored => {
            lines.push(format!("{indent}{name}: &a{i} anchored {i}{comment}"));
            lines.push(format!("{indent}{name}-alias: *a{i}"));
        }
    }
    lines
}

/// A generated project: its files, and each key's file and line range there.
struct Generated {
    files: Vec<(String, String)>,
    ranges: BTreeMap<String, (String, std::ops::Range<usize>)>,
    environments: bool,
}

fn generate(keys: &[Key], environments: bool, crlf: bool) -> Generated {
    let mut root: Vec<String> = vec![
        "# a config".into(),
        "version: 1".into(),
        "owner: web  # the owner".into(),
        "namespaces:".into(),
        "  flags:".into(),
        "    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
        "    include: [more.yaml]  # more keys".into(),
        "    keys:".into(),
        "      # the keys".into(),
        "      base: one".into(),
    ];
    let mut included: Vec<String> = vec!["# included".into(), "keys:".into(), "  inc: two".into()];
    let mut overlay: Vec<String> = vec!["          over: three".into()];
    let mut ranges = BTreeMap::new();
    let mut overlay_ranges = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let place =
            if key.place == Place::Overlay && !environments { Place::Root } else { key.place };
        // A `file:` path is relative to its file's folder: every file is in the root folder.
        let (lines, indent, file) = match place {
            Place::Root => (&mut root, "      ", "kvsync.yaml"),
            Place::Included => (&mut included, "  ", "more.yaml"),
            Place::Overlay => (&mut overlay, "          ", "kvsync.yaml"),
        };
        let start = lines.len();
        lines.extend(entry_lines(i, key, indent));
        let range = start..lines.len();
        if place == Place::Overlay {
            overlay_ranges.push((format!("k{i}"), range));
        } else {
            ranges.insert(format!("k{i}"), (file.to_owned(), range));
        }
    }
    if environments {
        root.extend(
            ["environments:", "  prod:", "    namespaces:", "      flags:", "        keys:"]
                .map(str::to_owned),
        );
        let offset = root.len();
        for (name, range) in overlay_ranges {
            ranges
                .insert(name, ("kvsync.yaml".to_owned(), offset + range.start..offset + range.end));
        }
        root.extend(overlay);
        root.push("  staging: {}  # nothing of its own".into());
    }
    let join = |lines: Vec<String>| {
        let text = lines.join("\n") + "\n";
        if crlf { text.replace('\n', "\r\n") } else { text }
    };
    let mut files =
        vec![("kvsync.yaml".to_owned(), join(root)), ("more.yaml".to_owned(), join(included))];
    for (i, key) in keys.iter().enumerate() {
        if matches!(key.form, Form::File) {
            files.push((format!("values/v{i}.txt"), format!("file {i}")));
        }
    }
    Generated { files, ranges, environments }
}

/// What live holds for one key: value, metadata, absolute expiration.
type State = (Vec<u8>, Option<Map<String, Value>>, Expiration);

fn state_of(desired: &Desired) -> BTreeMap<String, State> {
    let mut states = BTreeMap::new();
    for (name, entry) in &desired.scopes[0].entries {
        let metadata = entry.metadata.as_ref().map(|m| m.to_map()).filter(|m| !m.is_empty());
        states.insert(name.clone(), (entry.read().expect("readable"), metadata, entry.expiration));
    }
    states
}

fn load_in(dir: &Path, environment: Option<&str>) -> crate::config::Loaded {
    let options = LoadOptions::of(environment);
    match load(&dir.join("kvsync.yaml"), &options) {
        Ok(loaded) => loaded,
        Err(crate::config::Error::Invalid(problems)) => panic!("{problems:#?}"),
        Err(error) => panic!("{error}"),
    }
}

/// The changes that make the config say what `live` holds, as pull would ask for them.
fn changes_for(before: &BTreeMap<String, State>, live: &BTreeMap<String, State>) -> Vec<Change> {
    let mut changes = Vec::new();
    let change = |key: &str, what| Change { scope: "flags".into(), key: key.into(), what };
    for (key, (value, metadata, expiration)) in before {
        match live.get(key) {
            None => changes.push(change(key, What::Remove)),
            Some((live_value, live_metadata, live_expiration)) => {
                let value_changed = live_value != value;
                let metadata_changed = live_metadata != metadata;
                let expiration_changed = live_expiration != expiration;
                if value_changed || metadata_changed || expiration_changed {
                    changes.push(change(
                        key,
                        What::Set {
                            value: value_changed.then(|| live_value.clone()),
                            metadata: metadata_changed.then(|| live_metadata.clone()),
                            expiration: None,
                        },
                    ));
                }
            }
        }
    }
    for (key, (value, metadata, _)) in live {
        if !before.contains_key(key) {
            let what =
                What::Add { value: value.clone(), metadata: metadata.clone(), expiration: None };
            changes.push(change(key, what));
        }
    }
    changes
}

/// Refusals kvsync documents: anchors and aliases, a base entry with environments, a file
/// every environment reads.
fn documented(refusal: &Refusal) -> bool {
    matches!(
        refusal,
        Refusal::Shared { .. } | Refusal::InBase { .. } | Refusal::SharedValueFile { .. }
    )
}

/// How a case ended (every check passed in each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ended {
    /// Live said what the config says: nothing to pull.
    Nothing,
    /// Every change was made.
    Pulled,
    /// Changes made, at least one refused for an anchor or an alias.
    RefusedShared,
    /// Changes made, at least one refused for another documented reason (an entry of the base
    /// config with environments, a value file every environment reads), none for an anchor.
    RefusedOther,
}

fn run_case(keys: &[Key], adopt: &[&'static str], environments: bool, crlf: bool) -> Ended {
    let generated = generate(keys, environments, crlf);
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in &generated.files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    let environment = generated.environments.then_some("prod");
    let loaded = load_in(dir.path(), environment);
    let before = state_of(&loaded.desired);
    // Live: the random edits of each key (an alias key follows its anchor live too).
    let mut live = before.clone();
    for (i, key) in keys.iter().enumerate() {
        let name = format!("k{i}");
        match &key.live {
            Live::Same => {}
            Live::Value(text) => {
                if let Some(state) = live.get_mut(&name) {
                    state.0 = text.as_bytes().to_vec();
                }
            }
            Live::Metadata(team) => {
                if let Some(state) = live.get_mut(&name) {
                    let mut map = Map::new();
                    map.insert("team".into(), Value::from(*team));
                    state.1 = Some(map);
                }
            }
            Live::Gone => {
                live.remove(&name);
            }
        }
    }
    for (n, text) in adopt.iter().enumerate() {
        live.insert(format!("new{n}"), (text.as_bytes().to_vec(), None, Expiration::Never));
    }
    let changes = changes_for(&before, &live);
    let root = dir.path().join("kvsync.yaml");
    let context = Context {
        root: &root,
        files: &loaded.files,
        included: &loaded.included,
        environment: loaded.desired.environment.as_deref(),
        into: None,
        preview: None,
        target: None,
        vars: &|_| None,
        titles: None,
    };
    let made = edits(&context, &loaded.desired, &changes).expect("edits");
    for refused in &made.refused {
        assert!(documented(&refused.refusal), "`{}` refused: {}", refused.key, refused.refusal);
    }
    let names =
        if environments { vec!["prod".to_owned(), "staging".to_owned()] } else { Vec::new() };
    if let Err(error) = check(
        &context,
        loaded.desired.environment.as_deref(),
        &super::Before::of(&loaded.desired, &changes),
        &changes,
        &made,
        &names,
    ) {
        let texts: Vec<String> =
            made.files.iter().map(|f| String::from_utf8_lossy(&f.after).into_owned()).collect();
        panic!("{error}\n{}", texts.join("\n-----\n"));
    }
    // Bytes outside the edited entries, and line endings, are unchanged.
    let edited: Vec<&str> = made.made.iter().map(|(_, key, _)| key.as_str()).collect();
    for file in &made.files {
        let name = file.path.strip_prefix(dir.path()).unwrap_or(&file.path).display().to_string();
        let (Ok(before), Ok(after)) =
            (std::str::from_utf8(&file.before), std::str::from_utf8(&file.after))
        else {
            continue;
        };
        if !name.ends_with(".yaml") {
            continue;
        }
        if crlf {
            assert_eq!(after.matches('\n').count(), after.matches("\r\n").count(), "{after:?}");
        } else {
            assert!(!after.contains('\r'), "{after:?}");
        }
        let kept: Vec<&str> = before
            .split('\n')
            .enumerate()
            .filter(|(at, _)| {
                !generated.ranges.iter().any(|(key, (file, range))| {
                    *file == name
                        && range.contains(at)
                        && edited.iter().any(|e| *e == key || e.strip_suffix("-alias") == Some(key))
                })
            })
            .map(|(_, line)| line)
            .collect();
        let mut after_lines = after.split('\n');
        for line in &kept {
            assert!(
                after_lines.any(|l| l == *line),
                "line {line:?} of {name} was changed:\n{before}\n-----\n{after}"
            );
        }
    }
    // Written, loaded again: every key says what is live but the refused ones, and a second
    // pull writes nothing.
    for file in &made.files {
        std::fs::write(&file.path, &file.after).expect("write");
    }
    let again = load_in(dir.path(), environment);
    let now = state_of(&again.desired);
    let second = changes_for(&now, &live);
    let refused: Vec<&str> = made.refused.iter().map(|refused| refused.key.as_str()).collect();
    for change in &second {
        assert!(refused.contains(&change.key.as_str()), "{change:?} after the pull");
    }
    let context = Context { files: &again.files, included: &again.included, ..context };
    let twice = edits(&context, &again.desired, &second).expect("edits");
    assert!(twice.files.is_empty(), "a second pull changes {:?}", twice.made);
    if made.refused.iter().any(|r| matches!(r.refusal, Refusal::Shared { .. })) {
        Ended::RefusedShared
    } else if !made.refused.is_empty() {
        Ended::RefusedOther
    } else if changes.is_empty() {
        Ended::Nothing
    } else {
        Ended::Pulled
    }
}

/// 300 random cases; how they ended is counted and printed (`--nocapture`), and every kind
/// must occur, so the generator cannot drift into testing one kind only.
#[test]
fn pull_edits_exactly_what_changed_live() {
    use proptest::test_runner::{Config, TestRunner};
    let strategy = (
        proptest::collection::vec(key(), 1..8),
        proptest::collection::vec(proptest::sample::select(VALUES), 0..3),
        any::<bool>(),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(Config { cases: 300, ..Config::default() });
    let counts = std::cell::RefCell::new(BTreeMap::<Ended, usize>::new());
    let result = runner.run(&strategy, |(keys, adopt, environments, crlf)| {
        let ended = run_case(&keys, &adopt, environments, crlf);
        *counts.borrow_mut().entry(ended).or_default() += 1;
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    let counts = counts.into_inner();
    println!("pull property test, 300 cases: {counts:?}");
    for ended in [Ended::Pulled, Ended::RefusedShared, Ended::RefusedOther] {
        assert!(counts.get(&ended).is_some_and(|n| *n > 0), "no case {ended:?}: {counts:?}");
    }
}
