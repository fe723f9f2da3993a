//! The floor each figure is compared with: the request counts DESIGN.md §9 allows, and the time
//! a minimal client needs to list the same pages from the same server.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::state::Changes;

/// Requests by kind, as the stand-in counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Requests {
    pub(crate) list: u64,
    pub(crate) bulk_get: u64,
    pub(crate) bulk_put: u64,
    pub(crate) bulk_delete: u64,
    /// Single-value reads and anything else: never part of a floor.
    pub(crate) other: u64,
}

impl Requests {
    pub(crate) fn from_counts(counts: &kv_standin::Counts) -> Requests {
        Requests {
            list: counts.list,
            bulk_get: counts.bulk_get,
            bulk_put: counts.bulk_put,
            bulk_delete: counts.bulk_delete,
            other: counts.get_value + counts.other,
        }
    }

    /// `list/get/put/del`, with `+N other` when there were any.
    pub(crate) fn compact(&self) -> String {
        let mut text =
            format!("{}/{}/{}/{}", self.list, self.bulk_get, self.bulk_put, self.bulk_delete);
        if self.other > 0 {
            text.push_str(&format!(" +{} other", self.other));
        }
        text
    }
}

/// Keys per list page, values per bulk get, pairs per bulk write or delete (DESIGN.md §9).
const PAGE: u64 = 1000;
const BULK_GET: u64 = 100;
const BULK_WRITE: u64 = 10_000;

/// The command a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scenario {
    /// (a) `plan` of the state as applied.
    PlanSame,
    /// (b) `plan` with 1 % changed, 1 % added, 1 % removed.
    PlanEdited,
    /// (c) `apply --auto-approve` of (b).
    Apply,
    /// (d) `validate` of the state as applied.
    Validate,
    /// (e) (a) with the scope listed by `list_shards` (opt-in, not part of the time target).
    PlanSharded,
    /// (f) (a) with every key in the root file (no includes): listing starts from the heads
    /// read before the first `keys:`, while the file is parsed.
    PlanOneFile,
    /// (g) (d) with every value under a JSON Schema (`schemas:`, typed values).
    ValidateTyped,
    /// (h) `diff --live` of two environments whose namespaces both hold the state as applied.
    DiffLive,
    /// (i) `pull --dry-run` of the state as applied with one key's metadata edited live: the
    /// edit, and the whole-result check (the config loaded again from memory, every key
    /// compared) that runs before anything is written.
    PullEdit,
}

impl Scenario {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Scenario::PlanSame => "(a) plan, no changes",
            Scenario::PlanEdited => "(b) plan, 1 % chg/add/del",
            Scenario::Apply => "(c) apply of (b)",
            Scenario::Validate => "(d) validate",
            Scenario::PlanSharded => "(e) (a) with 7 list_shards",
            Scenario::PlanOneFile => "(f) (a) from one file",
            Scenario::ValidateTyped => "(g) (d) with schemas",
            Scenario::DiffLive => "(h) diff --live, 2 namespaces",
            Scenario::PullEdit => "(i) pull, 1 hand edit",
        }
    }

    /// Whether the command lists the namespace (and so has a floor listing time).
    pub(crate) fn lists(self) -> bool {
        !matches!(self, Scenario::Validate | Scenario::ValidateTyped)
    }
}

/// DESIGN.md §9 for a live scope of `live` keys: plan = ⌈N/1000⌉ lists + ⌈U/100⌉ bulk gets for
/// the value diffs of the U updates the human plan shows (all of them up to
/// `report::human::FULL_MAX` changes, else the first `GROUP_KEYS`); apply = that plan, plus
/// the snapshot of §8b (⌈(updates + deletes)/100⌉ bulk gets of the live values it will
/// overwrite or delete), ⌈P/10,000⌉ puts and ⌈D/10,000⌉ deletes; validate touches no
/// namespace; a plan by `list_shards` lists each shard to its end; `diff --live` of two equal
/// namespaces lists each once.
pub(crate) fn floor_requests(scenario: Scenario, live: u64, changes: &Changes) -> Requests {
    use kvsync::report::human::{FULL_MAX, GROUP_KEYS};
    let lists = live.div_ceil(PAGE);
    let all = changes.create + changes.update + changes.delete;
    let shown =
        if all > FULL_MAX as u64 { changes.update.min(GROUP_KEYS as u64) } else { changes.update };
    let gets = shown.div_ceil(BULK_GET);
    match scenario {
        Scenario::PlanSame | Scenario::PlanOneFile => {
            Requests { list: lists, ..Requests::default() }
        }
        Scenario::PlanEdited => Requests { list: lists, bulk_get: gets, ..Requests::default() },
        Scenario::Apply => Requests {
            list: lists,
            bulk_get: gets + (changes.update + changes.delete).div_ceil(BULK_GET),
            bulk_put: (changes.create + changes.update).div_ceil(BULK_WRITE),
            bulk_delete: changes.delete.div_ceil(BULK_WRITE),
            other: 0,
        },
        Scenario::Validate | Scenario::ValidateTyped => Requests::default(),
        Scenario::PlanSharded => Requests { list: changes.shard_lists, ..Requests::default() },
        // Both namespaces listed (at once), nothing read: every key's markers agree.
        Scenario::DiffLive => Requests { list: 2 * lists, ..Requests::default() },
        // The listing, and the value of the key whose metadata changed read once, as bytes (a
        // single-key read), since it goes into a file.
        Scenario::PullEdit => Requests { list: lists, other: 1, ..Requests::default() },
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    #[allow(dead_code, reason = "read only so the whole page is parsed")]
    result: IgnoredAny,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

#[derive(Deserialize)]
struct ResultInfo {
    #[serde(default)]
    cursor: Option<String>,
}

/// Lists every page of `namespace_id` the way the cheapest possible client would: one
/// connection, `limit=1000`, follow the cursor, parse each page just enough to find it. Returns
/// the pages read and the time they took.
pub(crate) async fn list_floor(
    base_url: &str,
    account_id: &str,
    namespace_id: &str,
    token: &str,
) -> Result<(u64, Duration), String> {
    let client = reqwest::Client::builder().build().map_err(|e| e.to_string())?;
    let url = format!("{base_url}/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys");
    let start = Instant::now();
    let mut cursor: Option<String> = None;
    let mut pages = 0u64;
    loop {
        let mut request = client.get(&url).bearer_auth(token);
        request = match &cursor {
            Some(cursor) => request.query(&[("limit", "1000"), ("cursor", cursor.as_str())]),
            None => request.query(&[("limit", "1000")]),
        };
        let response = request.send().await.map_err(|e| e.to_string())?;
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        pages += 1;
        let page: Page = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if page.success != Some(true) {
            return Err(format!("the stand-in refused a list: {}", String::from_utf8_lossy(&body)));
        }
        cursor = page.result_info.and_then(|info| info.cursor).filter(|c| !c.is_empty());
        if cursor.is_none() {
            return Ok((pages, start.elapsed()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_follow_design_section_9() {
        let changes = Changes { create: 10_000, update: 10_000, delete: 10_000, shard_lists: 7 };
        // 30,000 changes: the plan shows 20 updates (one bulk get); the snapshot reads the
        // 20,000 keys updated or deleted.
        let apply = floor_requests(Scenario::Apply, 1_000_000, &changes);
        assert_eq!(apply.compact(), "1000/201/2/1");
        let plan = floor_requests(Scenario::PlanEdited, 1_000_000, &changes);
        assert_eq!(plan.compact(), "1000/1/0/0");
        // 300 changes, 100 updates: still capped (more than 200 changes).
        let plan = floor_requests(Scenario::PlanEdited, 10_000, &Changes::for_size(10_000));
        assert_eq!(plan.compact(), "10/1/0/0");
        // A small plan shows every update: 150 updates, two bulk gets.
        let small = Changes { create: 10, update: 150, delete: 10, shard_lists: 1 };
        assert_eq!(floor_requests(Scenario::PlanEdited, 10_000, &small).compact(), "10/2/0/0");
        let pull = floor_requests(Scenario::PullEdit, 10_000, &changes);
        assert_eq!(pull.compact(), "10/0/0/0 +1 other");
        assert_eq!(floor_requests(Scenario::PlanSame, 100_001, &changes).list, 101);
        assert_eq!(floor_requests(Scenario::Validate, 5, &changes), Requests::default());
        assert_eq!(floor_requests(Scenario::PlanSharded, 5, &changes).list, 7);
        let odd = Requests { other: 3, ..Requests::default() };
        assert_eq!(odd.compact(), "0/0/0/0 +3 other");
    }
}
