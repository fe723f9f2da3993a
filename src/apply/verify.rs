//! `apply --verify`: after an apply, read back what it wrote and deleted until the store shows
//! it, within a bounded window.
//!
//! Workers KV is eventually consistent: a listing or a read can lag a write by up to about 60
//! seconds. So the check polls, a bounded number of rounds (see [`Window`]), and only the keys
//! not yet as planned are checked again. Each round, each scope, takes the cheaper of two ways:
//! reading the pending keys back with bulk gets (100 keys a request; a written value must hash
//! to what was planned, a deleted key must be missing) or listing the scope again (1,000 keys a
//! page; a written key must carry our marker with the planned hash, a deleted key must be
//! gone). Ties go to bulk gets: the Free plan allows 1,000 list operations a day.

use std::time::Duration;

use super::Report;
use crate::config::{Desired, DesiredScope};
use crate::content::{ContentHasher, Marker};
use crate::kv::{self, BULK_GET_MAX, KvStore, LIST_PAGE_MAX, LiveValue, ReadHint};
use crate::plan::Plan;

/// How long to keep checking, and how often.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// No new round starts after this long (a round started may finish).
    pub total: Duration,
    /// The pause between two rounds.
    pub every: Duration,
}

impl Window {
    /// A window of `total` checked in at most seven rounds: at once, then six times evenly.
    pub fn new(total: Duration) -> Self {
        Self { total, every: (total / 6).max(Duration::from_millis(1)) }
    }
}

/// A key the apply changed that the store did not show as planned when the window closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsettled {
    pub scope: String,
    pub key: String,
    /// `written` or `deleted`: what the apply did to it.
    pub change: &'static str,
    /// A written key whose value read back other than sent while its listing carries the
    /// planned marker: the write landed, with other bytes. Not propagation.
    pub differs: Option<Differs>,
}

/// The sizes of a value that was stored other than sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Differs {
    /// The bytes kvsync sent.
    pub sent: u64,
    /// The bytes the store returned.
    pub stored: u64,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// How many changed keys were checked.
    pub checked: usize,
    /// Those still not as planned after the window.
    pub unsettled: Vec<Unsettled>,
    /// How many rounds ran.
    pub rounds: u32,
}

/// One changed key still to see as planned.
struct Pending {
    key: String,
    delete: bool,
    /// The size of the last value read back for a written key that did not hash as planned.
    read: Option<u64>,
}

/// Checks that every key `report` says was written or deleted reads back as `plan` said, polling
/// within `window`. `listed[i]` is how many keys the listing of `plan.scopes[i]` held, to weigh
/// a re-list against bulk gets.
pub async fn verify<S: KvStore>(
    store: &S,
    desired: &Desired,
    plan: &Plan,
    report: &Report,
    listed: &[usize],
    window: Window,
) -> Result<Verified, kv::Error> {
    let mut pending: Vec<Vec<Pending>> = report
        .scopes
        .iter()
        .map(|scope| {
            let written =
                scope.written.iter().map(|k| Pending { key: k.clone(), delete: false, read: None });
            let deleted =
                scope.deleted.iter().map(|k| Pending { key: k.clone(), delete: true, read: None });
            let mut keys: Vec<Pending> = written.chain(deleted).collect();
            keys.sort_by(|a, b| a.key.cmp(&b.key));
            keys
        })
        .collect();
    let mut verified =
        Verified { checked: pending.iter().map(Vec::len).sum(), ..Verified::default() };
    let started = tokio::time::Instant::now();
    loop {
        verified.rounds += 1;
        for (index, keys) in pending.iter_mut().enumerate() {
            let (Some(scope), Some(desired_scope)) = (
                plan.scopes.get(index),
                plan.scopes
                    .get(index)
                    .and_then(|s| desired.scopes.iter().find(|d| d.name == s.name)),
            ) else {
                continue;
            };
            if keys.is_empty() {
                continue;
            }
            let gets = keys.len().div_ceil(BULK_GET_MAX);
            let pages = listed.get(index).copied().unwrap_or(0) / LIST_PAGE_MAX + 1;
            let settled = if gets <= pages {
                settled_by_get(store, &scope.namespace_id, desired_scope, keys.as_mut_slice())
                    .await?
            } else {
                let live = kv::list_all(store, &scope.namespace_id, &scope.prefix).await?;
                settled_by_list(&live, &desired.owner, desired_scope, keys)
            };
            let mut settled = settled.into_iter();
            keys.retain(|_| !settled.next().unwrap_or(false));
        }
        if pending.iter().all(Vec::is_empty) || started.elapsed() + window.every > window.total {
            break;
        }
        tokio::time::sleep(window.every).await;
    }
    for (index, keys) in pending.into_iter().enumerate() {
        let scope = plan.scopes.get(index);
        let desired_scope = scope.and_then(|s| desired.scopes.iter().find(|d| d.name == s.name));
        let differs = match (scope, desired_scope) {
            (Some(scope), Some(desired_scope)) => {
                differing(
                    store,
                    &desired.owner,
                    &scope.namespace_id,
                    &scope.prefix,
                    desired_scope,
                    &keys,
                )
                .await?
            }
            _ => vec![None; keys.len()],
        };
        let name = scope.map_or_else(String::new, |s| s.name.clone());
        verified.unsettled.extend(keys.into_iter().zip(differs).map(|(p, differs)| Unsettled {
            scope: name.clone(),
            key: p.key,
            change: if p.delete { "deleted" } else { "written" },
            differs,
        }));
    }
    Ok(verified)
}

/// For each key still pending when the window closed: whether it is a written key whose value
/// read back with other bytes although the listing carries the planned marker, that is, the
/// store took the write and kept other bytes than were sent (a stale read would show the old
/// marker too). One listing of the scope, only when some written key read back different bytes.
async fn differing<S: KvStore>(
    store: &S,
    owner: &str,
    namespace_id: &str,
    prefix: &str,
    scope: &DesiredScope,
    keys: &[Pending],
) -> Result<Vec<Option<Differs>>, kv::Error> {
    if !keys.iter().any(|p| !p.delete && p.read.is_some()) {
        return Ok(vec![None; keys.len()]);
    }
    let live = kv::list_all(store, namespace_id, prefix).await?;
    let landed = settled_by_list(&live, owner, scope, keys);
    Ok(keys
        .iter()
        .zip(landed)
        .map(|(pending, landed)| {
            let entry = scope.entries.get(&pending.key)?;
            let stored = pending.read.filter(|_| landed && !pending.delete)?;
            Some(Differs { sent: entry.size, stored })
        })
        .collect())
}

/// Whether each pending key reads back as planned: a written value hashes (with the desired
/// metadata and expiration) to the planned hash; a deleted key is missing. A written key that
/// reads back other bytes keeps their size in [`Pending::read`].
async fn settled_by_get<S: KvStore>(
    store: &S,
    namespace_id: &str,
    scope: &DesiredScope,
    keys: &mut [Pending],
) -> Result<Vec<bool>, kv::Error> {
    let names: Vec<String> = keys.iter().map(|p| p.key.clone()).collect();
    // The written bytes must come back exactly: binary values and values that begin with a
    // byte order mark (which a text read drops) are read as bytes.
    let hints: Vec<ReadHint> = keys
        .iter()
        .map(|p| ReadHint {
            exact: scope.entries.get(&p.key).is_some_and(|e| !e.is_text || e.starts_with_bom()),
            listed_expiration: None,
        })
        .collect();
    let values = kv::read::read_values(store, namespace_id, &names, &hints, &|_| {}).await?;
    let mut settled = Vec::with_capacity(keys.len());
    for (pending, value) in keys.iter_mut().zip(values) {
        let bytes = match &value {
            LiveValue::Missing => None,
            LiveValue::Text(text) => Some(text.as_bytes()),
            LiveValue::Binary(bytes) => Some(bytes.as_slice()),
            // Not known either way: not settled yet.
            LiveValue::Unreadable(_) => {
                settled.push(false);
                continue;
            }
        };
        settled.push(match (pending.delete, bytes) {
            (true, bytes) => bytes.is_none(),
            (false, None) => false,
            (false, Some(bytes)) => {
                let same = scope.entries.get(&pending.key).is_some_and(|entry| {
                    let mut hasher = ContentHasher::new(bytes.len() as u64);
                    hasher.update(bytes);
                    let metadata =
                        entry.metadata.as_ref().map(|m| serde_json::Value::Object(m.to_map()));
                    hasher.finish(metadata.as_ref(), entry.expiration) == entry.hash
                });
                pending.read = (!same).then_some(bytes.len() as u64);
                same
            }
        });
    }
    Ok(settled)
}

/// Whether each pending key is listed as planned: a written key with our marker and the planned
/// hash; a deleted key not at all.
fn settled_by_list(
    live: &[kv::ListedKey],
    owner: &str,
    scope: &DesiredScope,
    keys: &[Pending],
) -> Vec<bool> {
    let find = |name: &str| live.iter().find(|k| k.name.as_str() == name);
    let sorted = live.is_sorted_by(|a, b| a.name < b.name);
    keys.iter()
        .map(|pending| {
            let listed = if sorted {
                live.binary_search_by(|k| k.name.as_str().cmp(&pending.key))
                    .ok()
                    .map(|at| &live[at])
            } else {
                find(&pending.key)
            };
            match (pending.delete, listed) {
                (true, listed) => listed.is_none(),
                (false, None) => false,
                (false, Some(listed)) => scope.entries.get(&pending.key).is_some_and(|entry| {
                    matches!(listed.metadata.marker(),
                        Marker::V1 { owner: o, sha256, .. } if o == owner && sha256 == entry.hash)
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::apply::ScopeReport;
    use crate::content::Expiration;
    use crate::content::written_metadata;
    use crate::kv::{BulkOutcome, ListPage, ListedKey, ListedMetadata, PutPair};
    use crate::plan::ScopePlan;
    use crate::testing;

    /// A store that shows a write only from its `lag`-th read on, and counts requests.
    struct Lagging {
        lag: usize,
        reads: RefCell<usize>,
        calls: RefCell<Vec<String>>,
    }

    impl Lagging {
        fn new(lag: usize) -> Self {
            Self { lag, reads: RefCell::new(0), calls: RefCell::new(Vec::new()) }
        }

        fn settled(&self) -> bool {
            *self.reads.borrow() > self.lag
        }
    }

    impl KvStore for Lagging {
        fn capabilities(&self) -> crate::kv::Capabilities {
            crate::kv::TargetKind::Local.capabilities()
        }

        async fn list_page(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<ListPage, kv::Error> {
            *self.reads.borrow_mut() += 1;
            self.calls.borrow_mut().push("list".into());
            let entry = testing::entry("new", Expiration::Never, false);
            let metadata = written_metadata(None, "web", entry.hash, None);
            let keys = if self.settled() {
                vec![ListedKey {
                    name: "f/new".into(),
                    expiration: None,
                    metadata: ListedMetadata::from_json(Some(&metadata)),
                }]
            } else {
                vec![ListedKey {
                    name: "f/old".into(),
                    expiration: None,
                    metadata: ListedMetadata::none(),
                }]
            };
            Ok(ListPage { keys, ..ListPage::default() })
        }
        async fn bulk_get(&self, _: &str, keys: &[String]) -> Result<Vec<LiveValue>, kv::Error> {
            *self.reads.borrow_mut() += 1;
            self.calls.borrow_mut().push(format!("get {}", keys.join(",")));
            let settled = self.settled();
            Ok(keys
                .iter()
                .map(|k| match (k.as_str(), settled) {
                    ("f/new", true) => LiveValue::Text("new".into()),
                    ("f/old", false) => LiveValue::Text("old".into()),
                    _ => LiveValue::Missing,
                })
                .collect())
        }
        async fn bulk_put(&self, _: &str, _: &[PutPair]) -> Result<BulkOutcome, kv::Error> {
            unreachable!("verify never writes")
        }
        async fn bulk_delete(&self, _: &str, _: &[String]) -> Result<BulkOutcome, kv::Error> {
            unreachable!("verify never deletes")
        }
    }

    /// A rename: `f/new` written, `f/old` deleted.
    fn case() -> (Desired, Plan, Report) {
        let entries = [("f/new".to_owned(), testing::entry("new", Expiration::Never, false))]
            .into_iter()
            .collect();
        let desired = testing::desired("web", vec![testing::scope("flags", "ns", "f/", entries)]);
        let plan = Plan {
            scopes: vec![ScopePlan {
                resolved_from: None,
                name: "flags".into(),
                namespace_id: "ns".into(),
                prefix: "f/".into(),
                prune: true,
                allow_empty: false,
                changes: Vec::new(),
                unchanged: 0,
                unmanaged: Vec::new(),
                ours_live: 1,
                desired: 1,
                warnings: Vec::new(),
            }],
            only: Vec::new(),
            refusals: Vec::new(),
        };
        let report = Report {
            scopes: vec![ScopeReport {
                name: "flags".into(),
                written: vec!["f/new".into()],
                deleted: vec!["f/old".into()],
                ..ScopeReport::default()
            }],
            interrupted: false,
        };
        (desired, plan, report)
    }

    #[tokio::test(start_paused = true)]
    async fn polls_until_the_store_shows_the_changes_with_bulk_gets_when_cheaper() {
        let (desired, plan, report) = case();
        let store = Lagging::new(2);
        let window = Window::new(Duration::from_secs(60));
        let verified = verify(&store, &desired, &plan, &report, &[10], window).await.expect("ok");
        assert_eq!(verified, Verified { checked: 2, unsettled: Vec::new(), rounds: 3 });
        // Two keys: one bulk get a round, not a listing.
        assert_eq!(*store.calls.borrow(), ["get f/new,f/old"; 3]);
    }

    #[test]
    fn a_listing_shows_a_write_by_its_marker_and_a_delete_by_its_absence() {
        let (desired, _, _) = case();
        let listed = settled_by_list(
            &[ListedKey {
                name: "f/new".into(),
                expiration: None,
                metadata: ListedMetadata::from_json(Some(&written_metadata(
                    None,
                    "web",
                    desired.scopes[0].entries.get("f/new").expect("entry").hash,
                    None,
                ))),
            }],
            "web",
            &desired.scopes[0],
            &[
                Pending { key: "f/new".into(), delete: false, read: None },
                Pending { key: "f/old".into(), delete: true, read: None },
            ],
        );
        assert_eq!(listed, [true, true]);
        let other = settled_by_list(
            &[],
            "web",
            &desired.scopes[0],
            &[Pending { key: "f/new".into(), delete: false, read: None }],
        );
        assert_eq!(other, [false]);
    }

    #[tokio::test(start_paused = true)]
    async fn what_never_settles_is_reported_after_the_window_in_bounded_rounds() {
        let (desired, plan, report) = case();
        let store = Lagging::new(usize::MAX);
        let started = tokio::time::Instant::now();
        let window = Window::new(Duration::from_secs(60));
        let verified = verify(&store, &desired, &plan, &report, &[10], window).await.expect("ok");
        assert_eq!(verified.rounds, 7, "at once, then every 10 s");
        assert!(started.elapsed() <= Duration::from_secs(60));
        assert_eq!(
            verified.unsettled,
            [
                Unsettled {
                    scope: "flags".into(),
                    key: "f/new".into(),
                    change: "written",
                    differs: None
                },
                Unsettled {
                    scope: "flags".into(),
                    key: "f/old".into(),
                    change: "deleted",
                    differs: None
                },
            ]
        );
    }

    /// A store that keeps other bytes than were sent (a Fetch-standard multipart parser reading
    /// a binary part as text): the listing shows the planned marker, the value reads back
    /// changed, and verify says so instead of waiting on propagation.
    struct Mangling;

    impl KvStore for Mangling {
        fn capabilities(&self) -> kv::Capabilities {
            kv::TargetKind::Cloudflare.capabilities()
        }
        async fn list_page(
            &self,
            _: &str,
            _: &str,
            _: Option<&str>,
        ) -> Result<ListPage, kv::Error> {
            let entry = testing::entry("new", Expiration::Never, false);
            let metadata = written_metadata(None, "web", entry.hash, None);
            let keys = vec![ListedKey {
                name: "f/new".into(),
                expiration: None,
                metadata: ListedMetadata::from_json(Some(&metadata)),
            }];
            Ok(ListPage { keys, ..ListPage::default() })
        }
        async fn bulk_get(&self, _: &str, keys: &[String]) -> Result<Vec<LiveValue>, kv::Error> {
            Ok(keys.iter().map(|_| LiveValue::Text("n\u{FFFD}w".into())).collect())
        }
        async fn bulk_put(&self, _: &str, _: &[PutPair]) -> Result<BulkOutcome, kv::Error> {
            unreachable!("verify never writes")
        }
        async fn bulk_delete(&self, _: &str, _: &[String]) -> Result<BulkOutcome, kv::Error> {
            unreachable!("verify never deletes")
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_landed_with_other_bytes_is_told_apart_from_propagation() {
        let (desired, plan, mut report) = case();
        report.scopes[0].deleted.clear();
        let window = Window::new(Duration::from_secs(60));
        let verified =
            verify(&Mangling, &desired, &plan, &report, &[10], window).await.expect("ok");
        assert_eq!(
            verified.unsettled,
            [Unsettled {
                scope: "flags".into(),
                key: "f/new".into(),
                change: "written",
                differs: Some(Differs { sent: 3, stored: 5 }),
            }]
        );
        // A store that only lags shows no such difference: the old value read back came with
        // the old marker (here the key is missing).
        let verified =
            verify(&Lagging::new(usize::MAX), &desired, &plan, &report, &[10], window).await;
        assert!(verified.expect("ok").unsettled.iter().all(|u| u.differs.is_none()));
    }
}
