//! Running a plan against a store: guards first, then every put batch, then every delete.
//!
//! The executor knows the [`KvStore`] trait and the plan; it knows nothing of HTTP, YAML or the
//! terminal. It never gives up silently: whatever it finished, failed or did not reach ends up
//! in the [`Report`], and a rerun plans again from the live state and converges.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::batch::{PutBatcher, delete_batches};
use crate::config::desired::UserMetadata;
use crate::config::{Desired, DesiredEntry, ReadError, ValueSource};
use crate::content::written_metadata_with;
use crate::kv::{KvStore, PutPair};
use crate::plan::Plan;

/// How the executor behaves besides the plan.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our owner, written into every marker.
    pub owner: String,
    /// `--revision` (default `$GITHUB_SHA`), recorded in the marker.
    pub revision: Option<String>,
    /// How often keys a store reports as `unsuccessful_keys` are sent again.
    pub unsuccessful_retries: u32,
    /// The pause before such a retry (the API allows one write per key per second).
    pub unsuccessful_retry_delay: Duration,
}

/// What one apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub scopes: Vec<ScopeReport>,
    /// Ctrl-C stopped the run between two batches.
    pub interrupted: bool,
}

/// What one apply did in one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeReport {
    pub name: String,
    pub written: Vec<String>,
    pub deleted: Vec<String>,
    pub failed: Vec<Failure>,
    /// Changes never attempted because the run stopped first.
    pub not_attempted: usize,
}

/// A key the run could not change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub key: String,
    pub reason: String,
}

impl Report {
    /// Whether everything planned was done.
    pub fn is_complete(&self) -> bool {
        !self.interrupted && self.scopes.iter().all(|s| s.failed.is_empty() && s.not_attempted == 0)
    }

    pub fn written(&self) -> usize {
        self.scopes.iter().map(|s| s.written.len()).sum()
    }

    pub fn deleted(&self) -> usize {
        self.scopes.iter().map(|s| s.deleted.len()).sum()
    }

    pub fn failed(&self) -> usize {
        self.scopes.iter().map(|s| s.failed.len()).sum()
    }

    pub fn not_attempted(&self) -> usize {
        self.scopes.iter().map(|s| s.not_attempted).sum()
    }
}

/// Applies `plan` (computed from `desired`) to `store`. Guards must have been checked; this
/// writes. Puts of every scope go first, deletes last, so a key never disappears before its
/// replacement exists: when any put did not succeed, no delete is attempted. `interrupt` is polled between batches; `on_done` hears how many keys
/// each finished batch wrote or deleted (for progress displays).
pub async fn execute<S: KvStore>(
    store: &S,
    desired: &Desired,
    plan: &Plan,
    settings: &Settings,
    interrupt: &AtomicBool,
    on_done: &dyn Fn(u64),
) -> Report {
    let mut report = Report {
        scopes: plan
            .scopes
            .iter()
            .map(|s| ScopeReport { name: s.name.clone(), ..ScopeReport::default() })
            .collect(),
        interrupted: false,
    };
    let mut stopped = false;

    for (index, scope) in plan.scopes.iter().enumerate() {
        let desired_scope = desired.scopes.iter().find(|d| d.name == scope.name);
        let out = &mut report.scopes[index];
        let puts: Vec<_> = scope.changes.iter().filter(|c| c.action.is_put()).collect();
        if stopped {
            out.not_attempted += puts.len();
            continue;
        }
        let mut batcher = PutBatcher::new();
        let mut pending = puts.len();
        for change in puts {
            let pair = desired_scope
                .and_then(|d| d.entries.get(&change.key))
                .ok_or_else(|| "the key is no longer in the desired state".to_owned())
                .and_then(|entry| put_pair(&change.key, entry, settings));
            let pair = match pair {
                Ok(pair) => pair,
                Err(reason) => {
                    pending -= 1;
                    out.failed.push(Failure { key: change.key.clone(), reason });
                    continue;
                }
            };
            if let Some(batch) = batcher.push(pair) {
                pending -= batch.len();
                if !send_puts(store, &scope.namespace_id, batch, settings, out, on_done).await
                    || interrupt.load(Ordering::SeqCst)
                {
                    stopped = true;
                    break;
                }
            }
        }
        if !stopped && let Some(batch) = batcher.finish() {
            pending -= batch.len();
            stopped = !send_puts(store, &scope.namespace_id, batch, settings, out, on_done).await;
        }
        out.not_attempted += pending;
        stopped |= interrupt.load(Ordering::SeqCst);
    }
    // A put that did not succeed (still unsuccessful after the retries, or a file that changed
    // since planning) may be the replacement of a key about to be deleted: no delete runs then.
    stopped |= report.scopes.iter().any(|s| !s.failed.is_empty());

    for (index, scope) in plan.scopes.iter().enumerate() {
        let out = &mut report.scopes[index];
        let deletes: Vec<String> =
            scope.changes.iter().filter(|c| c.action.is_delete()).map(|c| c.key.clone()).collect();
        let mut remaining = deletes.len();
        for batch in delete_batches(&deletes) {
            if stopped {
                break;
            }
            remaining -= batch.len();
            stopped = !send_deletes(store, &scope.namespace_id, batch, settings, out, on_done)
                .await
                || interrupt.load(Ordering::SeqCst);
        }
        out.not_attempted += remaining;
    }
    report.interrupted = interrupt.load(Ordering::SeqCst);
    report
}

/// Builds the pair to write: the value bytes (a file is read again now and must still hash to
/// what was planned) and the full metadata with our marker.
fn put_pair(key: &str, entry: &DesiredEntry, settings: &Settings) -> Result<PutPair, String> {
    let value = entry.read_as_planned().map_err(|error| {
        // A sensitive entry's path may hold the value of a `${VAR}`: its failures do not name it.
        let shown = match &entry.value {
            ValueSource::File(path) if !entry.sensitive => format!("`{}`", path.display()),
            _ => "the key's `file:`".to_owned(),
        };
        match error {
            ReadError::Changed => format!("{shown} changed after it was planned; plan again"),
            ReadError::Io(e) if entry.sensitive => format!("cannot read {shown}: {}", e.kind()),
            ReadError::Io(e) => e.to_string(),
        }
    })?;
    let metadata = written_metadata_with(
        entry.metadata.as_ref().map(UserMetadata::to_map).as_ref(),
        &settings.owner,
        entry.hash,
        settings.revision.as_deref(),
        entry.sensitive,
    );
    Ok(PutPair { key: key.to_owned(), value, metadata, expiration: entry.expiration })
}

/// Sends one batch, sending again the items the store reports as `unsuccessful_keys`, a bounded
/// number of times. Returns the keys done, and whether the run may go on (a request error stops
/// it; keys still unsuccessful after the last retry are failures, and only keep deletes from
/// running).
async fn send_batch<T>(
    mut items: Vec<T>,
    key_of: impl Fn(&T) -> &str,
    settings: &Settings,
    what: &str,
    out_failed: &mut Vec<Failure>,
    mut send: impl AsyncFnMut(&[T]) -> Result<crate::kv::BulkOutcome, crate::kv::Error>,
) -> (Vec<String>, bool) {
    let mut done = Vec::with_capacity(items.len());
    for attempt in 0..=settings.unsuccessful_retries {
        if attempt > 0 {
            tokio::time::sleep(settings.unsuccessful_retry_delay).await;
        }
        match send(&items).await {
            Err(error) => {
                let reason = error.on_one_line();
                out_failed.extend(
                    items
                        .iter()
                        .map(|i| Failure { key: key_of(i).to_owned(), reason: reason.clone() }),
                );
                return (done, false);
            }
            Ok(outcome) => {
                let retry: std::collections::HashSet<&str> =
                    outcome.unsuccessful_keys.iter().map(String::as_str).collect();
                let (again, ok): (Vec<T>, Vec<T>) =
                    items.into_iter().partition(|i| retry.contains(key_of(i)));
                done.extend(ok.iter().map(|i| key_of(i).to_owned()));
                if again.is_empty() {
                    return (done, true);
                }
                items = again;
            }
        }
    }
    let reason = format!(
        "the store reported the {what} as unsuccessful {} times",
        settings.unsuccessful_retries + 1
    );
    out_failed.extend(
        items.iter().map(|i| Failure { key: key_of(i).to_owned(), reason: reason.clone() }),
    );
    (done, true)
}

async fn send_puts<S: KvStore>(
    store: &S,
    namespace_id: &str,
    batch: Vec<PutPair>,
    settings: &Settings,
    out: &mut ScopeReport,
    on_done: &dyn Fn(u64),
) -> bool {
    let (done, go_on) = send_batch(
        batch,
        |p| &p.key,
        settings,
        "write",
        &mut out.failed,
        async |b: &[PutPair]| store.bulk_put(namespace_id, b).await,
    )
    .await;
    on_done(done.len() as u64);
    out.written.extend(done);
    go_on
}

async fn send_deletes<S: KvStore>(
    store: &S,
    namespace_id: &str,
    batch: &[String],
    settings: &Settings,
    out: &mut ScopeReport,
    on_done: &dyn Fn(u64),
) -> bool {
    let (done, go_on) = send_batch(
        batch.to_vec(),
        String::as_str,
        settings,
        "delete",
        &mut out.failed,
        async |b: &[String]| store.bulk_delete(namespace_id, b).await,
    )
    .await;
    on_done(done.len() as u64);
    out.deleted.extend(done);
    go_on
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::config::desired::Entries;
    use crate::testing;

    use crate::content::Expiration;
    use crate::content::content_hash;
    use crate::kv::{self, BulkOutcome, ListPage, LiveValue};
    use crate::plan::{Action, Change, DesiredKey, ScopePlan};

    /// A store that records calls and answers from a script: for each call, the keys to report
    /// as unsuccessful, or an error.
    #[derive(Default)]
    struct Scripted {
        calls: RefCell<Vec<String>>,
        answers: RefCell<Vec<Result<Vec<String>, kv::Error>>>,
    }

    impl Scripted {
        fn answer(&self, call: String) -> Result<BulkOutcome, kv::Error> {
            self.calls.borrow_mut().push(call);
            let mut answers = self.answers.borrow_mut();
            let next = if answers.is_empty() { Ok(Vec::new()) } else { answers.remove(0) };
            next.map(|unsuccessful_keys| BulkOutcome { unsuccessful_keys })
        }
    }

    impl KvStore for Scripted {
        fn capabilities(&self) -> crate::kv::Capabilities {
            crate::kv::TargetKind::Local.capabilities()
        }

        async fn list_page(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<ListPage, kv::Error> {
            Ok(ListPage::default())
        }
        async fn bulk_get(&self, _: &str, keys: &[String]) -> Result<Vec<LiveValue>, kv::Error> {
            Ok(vec![LiveValue::Missing; keys.len()])
        }
        async fn bulk_put(&self, ns: &str, pairs: &[PutPair]) -> Result<BulkOutcome, kv::Error> {
            let keys: Vec<&str> = pairs.iter().map(|p| p.key.as_str()).collect();
            self.answer(format!("put {ns} {}", keys.join(",")))
        }
        async fn bulk_delete(&self, ns: &str, keys: &[String]) -> Result<BulkOutcome, kv::Error> {
            self.answer(format!("delete {ns} {}", keys.join(",")))
        }
    }

    fn entry(value: &str) -> DesiredEntry {
        testing::entry(value, Expiration::Never, false)
    }

    /// A desired state and plan of scopes `(name, puts, deletes)`.
    fn case(scopes: &[(&str, &[&str], &[&str])]) -> (Desired, Plan) {
        let mut desired = testing::desired("web", Vec::new());
        let mut plan = Plan { scopes: Vec::new(), only: Vec::new(), refusals: Vec::new() };
        for (name, puts, deletes) in scopes {
            let entries: Entries = puts.iter().map(|k| ((*k).to_owned(), entry(k))).collect();
            let mut changes: Vec<Change> = entries
                .iter()
                .map(|(key, e)| Change {
                    key: key.clone(),
                    action: Action::Create,
                    desired: Some(DesiredKey {
                        hash: e.hash,
                        metadata: None,
                        expiration: Expiration::Never,
                        sensitive: false,
                    }),
                    live: None,
                    origin: None,
                })
                .collect();
            changes.extend(deletes.iter().map(|key| Change {
                key: (*key).to_owned(),
                action: Action::Delete { reason: crate::plan::DeleteReason::NotDesired },
                desired: None,
                live: None,
                origin: None,
            }));
            desired.scopes.push(testing::scope(name, &format!("ns-{name}"), "", entries));
            plan.scopes.push(ScopePlan {
                resolved_from: None,
                name: (*name).to_owned(),
                namespace_id: format!("ns-{name}"),
                prefix: String::new(),
                prune: true,
                allow_empty: false,
                changes,
                unchanged: 0,
                unmanaged: Vec::new(),
                ours_live: 0,
                desired: puts.len(),
                warnings: Vec::new(),
            });
        }
        (desired, plan)
    }

    fn settings() -> Settings {
        Settings {
            owner: "web".into(),
            revision: Some("abc".into()),
            unsuccessful_retries: 2,
            unsuccessful_retry_delay: Duration::from_secs(1),
        }
    }

    async fn run(store: &Scripted, desired: &Desired, plan: &Plan) -> Report {
        execute(store, desired, plan, &settings(), &AtomicBool::new(false), &|_| {}).await
    }

    #[tokio::test(start_paused = true)]
    async fn puts_of_every_scope_go_before_any_delete() {
        let (desired, plan) = case(&[("a", &["a1"], &["a2"]), ("b", &["b1"], &["b2"])]);
        let store = Scripted::default();
        let report = run(&store, &desired, &plan).await;
        assert!(report.is_complete());
        assert_eq!(
            *store.calls.borrow(),
            vec!["put ns-a a1", "put ns-b b1", "delete ns-a a2", "delete ns-b b2"]
        );
        assert_eq!((report.written(), report.deleted()), (2, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn unsuccessful_keys_are_sent_again_a_second_apart() {
        let (desired, plan) = case(&[("a", &["k1", "k2", "k3"], &[])]);
        let store = Scripted::default();
        store.answers.borrow_mut().extend([Ok(vec!["k2".to_owned()]), Ok(Vec::new())]);
        let started = tokio::time::Instant::now();
        let report = run(&store, &desired, &plan).await;
        assert!(report.is_complete(), "{report:?}");
        assert_eq!(*store.calls.borrow(), vec!["put ns-a k1,k2,k3", "put ns-a k2"]);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(report.scopes[0].written, vec!["k1", "k3", "k2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn keys_still_unsuccessful_after_the_retries_fail_and_no_delete_runs() {
        let (desired, plan) = case(&[("a", &["k1", "k2"], &["gone"]), ("b", &["k3"], &["old"])]);
        let store = Scripted::default();
        let stuck = || Ok(vec!["k1".to_owned()]);
        store.answers.borrow_mut().extend([stuck(), stuck(), stuck()]);
        let report = run(&store, &desired, &plan).await;
        assert!(!report.is_complete());
        assert_eq!(report.scopes[0].failed.len(), 1);
        assert!(report.scopes[0].failed[0].reason.contains("unsuccessful 3 times"));
        // The other puts still go; no delete does, in any scope: `gone` may be what k1 replaces.
        assert_eq!(report.written(), 2);
        assert_eq!(report.deleted(), 0, "{:?}", store.calls.borrow());
        assert!(store.calls.borrow().iter().all(|c| !c.starts_with("delete")));
        assert_eq!(report.not_attempted(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_request_stops_the_run_and_says_what_was_not_attempted() {
        let (desired, plan) = case(&[("a", &["k1"], &["d1"]), ("b", &["k2"], &["d2"])]);
        let store = Scripted::default();
        let boom = kv::Error::Transport { endpoint: "PUT …/bulk".into(), detail: "boom".into() };
        store.answers.borrow_mut().push(Err(boom));
        let report = run(&store, &desired, &plan).await;
        assert_eq!(*store.calls.borrow(), vec!["put ns-a k1"]);
        let reason = "could not reach the Cloudflare API (`PUT …/bulk`): boom";
        assert_eq!(
            report.scopes[0].failed,
            vec![Failure { key: "k1".into(), reason: reason.into() }]
        );
        assert_eq!(report.not_attempted(), 3);
        assert!(!report.is_complete());
    }

    /// A failed key's line is the only place its reason shows: a local store found damaged
    /// mid-run says there what to do about it, as its hint does.
    #[tokio::test(start_paused = true)]
    async fn a_damaged_local_store_says_what_to_do_on_the_failed_key() {
        let (desired, plan) = case(&[("a", &["k1"], &[])]);
        let store = Scripted::default();
        let problem = kv::local::Problem::DamagedEntry { entry: "ns/k1".into() };
        store.answers.borrow_mut().push(Err(kv::Error::Local { path: "l.db".into(), problem }));
        let report = run(&store, &desired, &plan).await;
        assert_eq!(
            report.scopes[0].failed[0].reason,
            "local store `l.db`: damaged entry `ns/k1`; move the file away to start afresh"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_interrupt_stops_between_batches() {
        let (desired, plan) = case(&[("a", &["k1"], &["d1"])]);
        let store = Scripted::default();
        let interrupt = AtomicBool::new(true);
        let report = execute(&store, &desired, &plan, &settings(), &interrupt, &|_| {}).await;
        assert_eq!(*store.calls.borrow(), vec!["put ns-a k1"], "the running batch finishes");
        assert!(report.interrupted);
        assert_eq!(report.not_attempted(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_file_that_changed_after_planning_is_not_written() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("v.txt");
        std::fs::write(&path, "planned").expect("write");
        // A rename: `k1` replaces `old`.
        let (mut desired, plan) = case(&[("a", &["k1"], &["old"])]);
        let entry = desired.scopes[0].entries.get_mut("k1").expect("entry");
        *entry = DesiredEntry {
            value: ValueSource::File(path.clone()),
            size: 7,
            hash: content_hash(b"planned", None, Expiration::Never),
            ..entry.clone()
        };
        std::fs::write(&path, "edited!").expect("edit");
        let store = Scripted::default();
        let report = run(&store, &desired, &plan).await;
        assert!(store.calls.borrow().is_empty(), "{:?}", store.calls.borrow());
        assert!(report.scopes[0].failed[0].reason.contains("changed after it was planned"));
        assert_eq!(report.scopes[0].not_attempted, 1, "the delete of `old` is not attempted");
    }

    /// Issue 15 item 9: a sensitive entry's path may hold an interpolated value; its failures
    /// do not name it.
    #[tokio::test(start_paused = true)]
    async fn a_sensitive_file_is_not_named_in_failures() {
        let dir = tempfile::tempdir().expect("temp dir");
        let changed = dir.path().join("hunter2").join("v.txt");
        std::fs::create_dir_all(changed.parent().expect("folder")).expect("mkdir");
        std::fs::write(&changed, "edited!").expect("write");
        let (mut desired, plan) = case(&[("a", &["k1", "k2"], &[])]);
        for (key, path) in [("k1", changed.clone()), ("k2", dir.path().join("hunter2/gone"))] {
            let entry = desired.scopes[0].entries.get_mut(key).expect("entry");
            *entry = DesiredEntry {
                value: ValueSource::File(path),
                size: 7,
                sensitive: true,
                hash: content_hash(b"planned", None, Expiration::Never),
                ..entry.clone()
            };
        }
        let report = run(&Scripted::default(), &desired, &plan).await;
        let reasons: Vec<&str> =
            report.scopes[0].failed.iter().map(|f| f.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "the key's `file:` changed after it was planned; plan again",
                "cannot read the key's `file:`: entity not found"
            ]
        );
    }
}
