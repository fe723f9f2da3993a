use std::cell::RefCell;
use std::collections::BTreeMap;

use super::*;
use crate::config::LoadOptions;
use crate::config::edit::Refusal;
use crate::content::{Expiration, content_hash, written_metadata};
use crate::kv::{BulkOutcome, Capabilities, ListPage, ListedKey, ListedMetadata, PutPair};
use crate::kv::{Error as KvError, TargetKind};
use crate::plan::pull::Outcome;

const OWNER: &str = "web";

/// A namespace in memory that reads as Cloudflare does: a text read (a hint that is not exact)
/// drops a leading U+FEFF. Every key read is counted.
struct Namespace {
    values: BTreeMap<String, Vec<u8>>,
    reads: RefCell<BTreeMap<String, usize>>,
    requests: RefCell<(usize, usize)>,
}

impl KvStore for Namespace {
    fn capabilities(&self) -> Capabilities {
        TargetKind::Cloudflare.capabilities()
    }

    async fn list_page(&self, _: &str, _: &str, _: Option<&str>) -> Result<ListPage, KvError> {
        Ok(ListPage::default())
    }

    async fn bulk_get(&self, _: &str, _: &[String]) -> Result<Vec<LiveValue>, KvError> {
        unreachable!("pull reads through `read_values`")
    }

    async fn read_values(
        &self,
        _: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> Result<Vec<LiveValue>, KvError> {
        let mut requests = self.requests.borrow_mut();
        if hints.iter().all(|hint| hint.exact) {
            requests.1 += keys.len();
        } else {
            requests.0 += 1;
        }
        let mut out = Vec::new();
        for (key, hint) in keys.iter().zip(hints) {
            *self.reads.borrow_mut().entry(key.clone()).or_default() += 1;
            let bytes = self.values.get(key).cloned().unwrap_or_default();
            let text = String::from_utf8(bytes).expect("text values");
            let text =
                if hint.exact { text } else { text.trim_start_matches('\u{feff}').to_owned() };
            out.push(LiveValue::Text(text));
        }
        Ok(out)
    }

    async fn bulk_put(&self, _: &str, _: &[PutPair]) -> Result<BulkOutcome, KvError> {
        unreachable!("pull never writes to a store")
    }

    async fn bulk_delete(&self, _: &str, _: &[String]) -> Result<BulkOutcome, KvError> {
        unreachable!("pull never writes to a store")
    }
}

const CONFIG: &str = "version: 1\nowner: web\nnamespaces:\n  flags:\n    namespace_id: 0f1e2d3c4b5a69788796a5b4c3d2e1f0\n    keys:\n      a: one\n      b: two  # by hand soon\n      c:\n        value: three\n        metadata: {n: 2}\n";

/// A key as kvsync wrote `written` (its marker records it), with `user` metadata.
fn listed(key: &str, written: &str, user: Option<serde_json::Value>) -> ListedKey {
    let user = user.and_then(|value| value.as_object().cloned());
    let hash = content_hash(
        written.as_bytes(),
        user.clone().map(serde_json::Value::Object).as_ref(),
        Expiration::Never,
    );
    let metadata = written_metadata(user.as_ref(), OWNER, hash, Some("abc"));
    ListedKey {
        name: key.into(),
        expiration: None,
        metadata: ListedMetadata::from_json(Some(&metadata)),
    }
}

struct Project {
    dir: tempfile::TempDir,
    loaded: crate::config::Loaded,
}

fn project(config: &str) -> Project {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("kvsync.yaml"), config).expect("write");
    let options = LoadOptions::of(None);
    let loaded = crate::config::load(&dir.path().join("kvsync.yaml"), &options).expect("loads");
    Project { dir, loaded }
}

fn run(project: &Project, store: &Namespace, live: &[LiveScope], deep: bool) -> Pulled {
    let root = project.dir.path().join("kvsync.yaml");
    let options = pull::Options {
        owner: OWNER.to_owned(),
        deep,
        adopt: false,
        only: crate::config::Globs::empty(),
    };
    let request = Request {
        root: &root,
        files: &project.loaded.files,
        included: &project.loaded.included,
        options: &options,
        remove_missing: false,
        into: None,
        preview: None,
        target: None,
        vars: &|_| None,
        titles: None,
        environments: &[],
        ancestry: &|_| Some(true),
        dry_run: false,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let desired = project.loaded.desired.clone();
    runtime.block_on(pull(store, &request, desired, live.to_vec())).expect("pulls")
}

/// A deep pull reads every value once, as exact bytes (a text read would have dropped the
/// leading U+FEFF a person added by hand, keeping the marker), pulls the BOM, and finds no
/// change in metadata that differs only by how a number is written (`2.0` is `2`).
#[test]
fn a_deep_pull_reads_each_value_once_and_pulls_a_hand_added_bom() {
    let project = project(CONFIG);
    let values: BTreeMap<String, Vec<u8>> =
        [("a", "one".to_owned()), ("b", "\u{feff}two".to_owned()), ("c", "three".to_owned())]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.into_bytes()))
            .collect();
    let store = Namespace { values, reads: RefCell::default(), requests: RefCell::default() };
    let live = [LiveScope {
        keys: vec![
            listed("a", "one", None),
            listed("b", "two", None),
            // Its marker is of other metadata text: `2.0`, read as the config's `2`.
            ListedKey {
                metadata: ListedMetadata::from_json(Some(&serde_json::json!({
                    "n": 2.0,
                    "__kvsync": {"v": 1, "owner": OWNER, "sha256": "00".repeat(32)},
                }))),
                ..listed("c", "three", None)
            },
        ],
    }];
    let pulled = run(&project, &store, &live, true);
    let reads: Vec<(String, usize)> = store.reads.borrow().clone().into_iter().collect();
    assert_eq!(reads, [("a".to_owned(), 1), ("b".to_owned(), 1), ("c".to_owned(), 1)]);
    // Exact bytes on a target whose text reads are not exact: one request per key.
    assert_eq!(*store.requests.borrow(), (0, 3));
    let outcomes: Vec<(&str, &Outcome)> =
        pulled.report.rows.iter().map(|row| (row.key.as_str(), &row.outcome)).collect();
    assert_eq!(
        outcomes,
        [("b", &Outcome::Pulled { parts: vec!["value"], place: "kvsync.yaml:8:7".to_owned() })]
    );
    assert_eq!(pulled.report.files, ["kvsync.yaml"]);
    let after = String::from_utf8(pulled.files[0].after.clone()).expect("UTF-8");
    assert_eq!(after, CONFIG.replace("b: two  #", "b: \"\\uFEFFtwo\"  #"));

    // Written all or none; nothing left to recover; a second pull finds nothing.
    write(project.dir.path(), &pulled.files).expect("written");
    assert!(matches!(recover(project.dir.path()).expect("recover"), Recovery::Nothing));
    let again = self::project(&after);
    let store = Namespace { reads: RefCell::default(), requests: RefCell::default(), ..store };
    let pulled = run(&again, &store, &live, true);
    assert!(pulled.report.rows.iter().all(|row| row.key != "b"), "{:?}", pulled.report.rows);
}

/// Without `--deep`, only the keys whose listing shows a change are read.
#[test]
fn a_pull_reads_only_what_the_listing_shows_changed() {
    let project = project(CONFIG);
    let values: BTreeMap<String, Vec<u8>> = [("a", "uno"), ("b", "two"), ("c", "three")]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.as_bytes().to_vec()))
        .collect();
    let store = Namespace { values, reads: RefCell::default(), requests: RefCell::default() };
    // `a` was rewritten by hand without a marker.
    let unmarked =
        ListedKey { name: "a".into(), expiration: None, metadata: ListedMetadata::from_json(None) };
    let live = [LiveScope {
        keys: vec![
            unmarked,
            listed("b", "two", None),
            listed("c", "three", Some(serde_json::json!({"n": 2}))),
        ],
    }];
    let pulled = run(&project, &store, &live, false);
    assert_eq!(store.reads.borrow().keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(pulled.report.rows.len(), 1);
    assert_eq!(pulled.report.rows[0].key, "a");
    let after = String::from_utf8(pulled.files[0].after.clone()).expect("UTF-8");
    assert_eq!(after, CONFIG.replace("a: one", "a: uno"));
}

/// A refused edit is a row for a person with its refusal, and no file changes for it.
#[test]
fn a_refused_edit_is_a_row_with_its_refusal() {
    let config = CONFIG.replace("a: one", "a: &x one\n      d: *x");
    let project = project(&config);
    let values: BTreeMap<String, Vec<u8>> =
        [("a", "uno"), ("b", "two"), ("c", "three"), ("d", "one")]
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.as_bytes().to_vec()))
            .collect();
    let store = Namespace { values, reads: RefCell::default(), requests: RefCell::default() };
    let live = [LiveScope {
        keys: vec![
            ListedKey {
                name: "a".into(),
                expiration: None,
                metadata: ListedMetadata::from_json(None),
            },
            listed("b", "two", None),
            listed("c", "three", Some(serde_json::json!({"n": 2}))),
            listed("d", "one", None),
        ],
    }];
    let pulled = run(&project, &store, &live, false);
    assert!(pulled.files.is_empty());
    assert_eq!(
        pulled.report.rows[0].outcome,
        Outcome::Refused(Refusal::Shared { place: "kvsync.yaml:7:10".to_owned() })
    );
    assert!(pulled.report.has_changes());
}

/// Git is asked whether a marker's revision is an ancestor of `HEAD`; outside a repository, or
/// for a revision git does not know or that is not a commit name, the answer is unknown.
#[test]
fn the_history_knows_ancestors_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = History::new(dir.path());
    assert_eq!(history.has(Some("abc1234")), None, "not a repository");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["commit", "-q", "--allow-empty", "-m", "first"]);
    let head = std::process::Command::new("git")
        .arg("-C")
        .arg(dir.path())
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git runs");
    let head = String::from_utf8(head.stdout).expect("UTF-8").trim().to_owned();
    let history = History::new(dir.path());
    assert_eq!(history.has(Some(&head)), Some(true));
    assert_eq!(history.has(Some(&"0".repeat(40))), None, "unknown to git");
    assert_eq!(history.has(Some("--output=x")), None, "an option, never passed");
    assert_eq!(history.has(None), None);
}
