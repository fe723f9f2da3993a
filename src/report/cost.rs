//! What a plan costs in Cloudflare API requests and billed KV operations (DESIGN.md §9).
//!
//! [`Cost`] is the one place that turns a [`Plan`] into request counts: what listing and the
//! value diffs already cost (the CLI counted those and passes them in) and what apply will send.
//! Requests and billed operations differ on purpose: a bulk write of 10,000 pairs is one request
//! but 10,000 billed writes, and a Free-plan user runs out of billed operations, not requests.
//! Every renderer that shows a cost (human, JSON, Markdown) takes a `Cost`; nothing here does I/O.

use crate::plan::Plan;

/// Most pairs one bulk write carries, and most keys one bulk delete carries
/// (`cloudflare-kv-api.md`: "up to 10,000").
pub const BULK_MAX: u64 = 10_000;

/// Requests made and to be made, and the KV operations they are billed as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// List requests made while planning (one per page of up to 1,000 keys).
    pub list_requests: u64,
    /// Read requests made while planning: bulk gets plus single gets made for diffs.
    pub read_requests: u64,
    /// Bulk writes apply will send: ⌈P/10000⌉ per scope for its P puts that fit a bulk write.
    /// A floor: apply sends more only when a batch would exceed the 100 MB request limit.
    pub write_requests: u64,
    /// Single-key PUTs apply will send: one per value too large for any bulk write (a binary
    /// value over 19,660,800 bytes, which base64 makes longer than a bulk item may be).
    pub single_write_requests: u64,
    /// Bulk deletes apply will send: ⌈D/10000⌉ per scope for its D deletes.
    pub delete_requests: u64,
    /// Read requests apply will send for its snapshot before its first write (bulk gets and
    /// single GETs, a floor: [`Cost::with_snapshot`]). Their billed reads are in
    /// `billed_reads`.
    pub snapshot_read_requests: u64,
    /// Billed list operations (one per list request).
    pub billed_lists: u64,
    /// Billed reads: one per key read, not per request (planning's, and the snapshot's).
    pub billed_reads: u64,
    /// Billed writes: one per put (create, update, adopt, take-over).
    pub billed_writes: u64,
    /// Billed deletes: one per deleted key.
    pub billed_deletes: u64,
    /// The account is on the Workers KV Free plan (`plan_tier: free`), whose daily limits
    /// [`Cost::free_plan_warning`] checks.
    pub free_plan: bool,
    /// The target meters requests (Cloudflare); the local store bills nothing, so its plans show
    /// no cost line (`PlanReport::cost_line`).
    pub metered: bool,
}

/// The Free plan's daily allowance of each of writes, deletes and lists
/// (`cloudflare-kv-api.md` §2); reads have 100,000.
pub const FREE_PLAN_DAILY_LIMIT: u64 = 1_000;

/// The Free plan's daily allowance of reads (`cloudflare-kv-api.md` §2).
pub const FREE_PLAN_DAILY_READS: u64 = 100_000;

/// What planning did (the CLI counts it): requests sent, retries included, and what
/// Cloudflare bills of them, which leaves out refused and retried attempts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoFar {
    pub list_requests: u64,
    pub read_requests: u64,
    /// Lists answered with a page.
    pub billed_lists: u64,
    /// Keys read (one per key a bulk get returned or a single read answered).
    pub billed_reads: u64,
}

/// The cost of `plan`, after what planning did; every put goes in a bulk write.
pub fn estimate(plan: &Plan, so_far: SoFar) -> Cost {
    estimate_with(plan, so_far, |_, _| false)
}

/// [`estimate`], where `single(scope_index, key)` says whether a put goes alone through the
/// single-key PUT (its value fits no bulk write).
pub fn estimate_with(plan: &Plan, so_far: SoFar, single: impl Fn(usize, &str) -> bool) -> Cost {
    let mut cost = Cost {
        list_requests: so_far.list_requests,
        read_requests: so_far.read_requests,
        billed_lists: so_far.billed_lists,
        billed_reads: so_far.billed_reads,
        ..Cost::default()
    };
    // Batches never span scopes (each names one namespace), so the rounding is per scope.
    for (index, scope) in plan.scopes.iter().enumerate() {
        let (mut puts, mut singles) = (0u64, 0u64);
        for change in scope.changes.iter().filter(|c| c.action.is_put()) {
            puts += 1;
            singles += u64::from(single(index, &change.key));
        }
        let deletes = scope.changes.iter().filter(|c| c.action.is_delete()).count() as u64;
        cost.write_requests += (puts - singles).div_ceil(BULK_MAX);
        cost.single_write_requests += singles;
        cost.delete_requests += deletes.div_ceil(BULK_MAX);
        cost.billed_writes += puts;
        cost.billed_deletes += deletes;
    }
    cost
}

impl Cost {
    /// The same cost, with the reads of apply's snapshot: `keys` values read in bulk gets of
    /// 100, and `singles` of them read again alone for their exact bytes (those no marker of
    /// ours can prove a text read of: adopts and take-overs; binary, byte-order-mark,
    /// hand-edited and TTL values add one each, which keeps this a floor).
    pub fn with_snapshot(self, keys: u64, singles: u64) -> Self {
        Self {
            snapshot_read_requests: keys.div_ceil(100) + singles,
            billed_reads: self.billed_reads + keys + singles,
            ..self
        }
    }

    /// The same cost, for an account on the Free plan when `free` (`plan_tier: free`).
    pub fn on_free_plan(self, free: bool) -> Self {
        Self { free_plan: free, ..self }
    }

    /// The same cost, on a target that meters requests when `metered` (Cloudflare).
    pub fn metered(self, metered: bool) -> Self {
        Self { metered, ..self }
    }

    /// On the Free plan, when this run needs more writes, deletes, lists or reads than the plan
    /// allows in a day: what it needs and what that means, one sentence without a final period,
    /// e.g. `this run needs 2000 writes, more than the Workers KV Free plan allows in a day (1,000
    /// writes, 1,000 deletes, 1,000 lists, 100,000 reads); …`. Within those limits, reads of a
    /// tenth of the day's or more (value diffs) are still named. `None` on the Paid plan or
    /// within the limits.
    pub fn free_plan_warning(&self) -> Option<String> {
        if !self.free_plan {
            return None;
        }
        let over = join_and(&[
            counted(self.billed_reads, "read")
                .filter(|_| self.billed_reads > FREE_PLAN_DAILY_READS),
            counted(self.billed_writes, "write")
                .filter(|_| self.billed_writes > FREE_PLAN_DAILY_LIMIT),
            counted(self.billed_deletes, "delete")
                .filter(|_| self.billed_deletes > FREE_PLAN_DAILY_LIMIT),
            counted(self.billed_lists, "list")
                .filter(|_| self.billed_lists > FREE_PLAN_DAILY_LIMIT),
        ]);
        if over.is_empty() {
            return (self.billed_reads >= FREE_PLAN_DAILY_READS / 10).then(|| {
                format!(
                    "this run reads {} (value diffs, and apply's snapshot), {} % of the 100,000 \
                     reads the Workers KV Free plan allows in a day; `--no-value-diff` and \
                     `--no-snapshot` read none",
                    crate::report::text::counted(self.billed_reads as usize, "value", "values"),
                    self.billed_reads * 100 / FREE_PLAN_DAILY_READS
                )
            });
        }
        Some(format!(
            "this run needs {over}, more than the Workers KV Free plan allows in a day (1,000 \
             writes, 1,000 deletes, 1,000 lists, 100,000 reads); past the limit KV refuses further operations \
             of that kind until 00:00 UTC, so apply would stop part-way: split the change over \
             several days, or move the account to the Paid plan"
        ))
    }

    /// The cost line of the reports, one line without a final newline:
    /// `Cost: 3 list requests and 1 read request so far; apply will send 1 bulk write and 1 bulk
    /// delete (billed: 3 lists, 10 reads, 12 writes, 2 deletes).`
    ///
    /// Counts of zero are left out (`apply will send nothing` when there is nothing to send,
    /// `no requests so far` for the local store); nouns agree with their numbers.
    pub fn line(&self) -> String {
        let so_far = join_and(&[
            counted(self.list_requests, "list request"),
            counted(self.read_requests, "read request"),
        ]);
        let so_far = if so_far.is_empty() { "no requests".to_owned() } else { so_far };
        let apply = join_and(&[
            counted(self.snapshot_read_requests, "snapshot read"),
            counted(self.write_requests, "bulk write"),
            counted(self.single_write_requests, "single write"),
            counted(self.delete_requests, "bulk delete"),
        ]);
        let apply = if apply.is_empty() { "nothing".to_owned() } else { apply };
        let billed: Vec<String> = [
            counted(self.billed_lists, "list"),
            counted(self.billed_reads, "read"),
            counted(self.billed_writes, "write"),
            counted(self.billed_deletes, "delete"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let billed = if billed.is_empty() {
            "nothing billed".to_owned()
        } else {
            format!("billed: {}", billed.join(", "))
        };
        format!("Cost: {so_far} so far; apply will send {apply} ({billed}).")
    }
}

/// `3 lists`, `1 list`, or `None` for zero.
fn counted(count: u64, noun: &str) -> Option<String> {
    (count > 0).then(|| crate::text::counted(count as usize, noun, &format!("{noun}s")))
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[Option<String>]) -> String {
    let parts: Vec<&str> = parts.iter().flatten().map(String::as_str).collect();
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.join(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Change, ConflictReason, DeleteReason, ScopePlan};

    /// What planning did, every request answered and billed.
    fn so_far(lists: u64, reads: u64, keys_read: u64) -> SoFar {
        SoFar {
            list_requests: lists,
            read_requests: reads,
            billed_lists: lists,
            billed_reads: keys_read,
        }
    }

    fn scope(puts: usize, deletes: usize, others: usize) -> ScopePlan {
        let change =
            |key: String, action| Change { key, action, desired: None, live: None, origin: None };
        let mut changes = Vec::new();
        changes.extend((0..puts).map(|i| change(format!("p{i}"), Action::Create)));
        changes.extend(
            (0..deletes).map(|i| {
                change(format!("d{i}"), Action::Delete { reason: DeleteReason::NotDesired })
            }),
        );
        changes.extend((0..others).map(|i| {
            change(format!("c{i}"), Action::Conflict { reason: ConflictReason::Owner("o".into()) })
        }));
        ScopePlan {
            resolved_from: None,
            name: "flags".into(),
            namespace_id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0".into(),
            prefix: String::new(),
            prune: true,
            allow_empty: false,
            changes,
            unchanged: 0,
            unmanaged: Vec::new(),
            ours_live: 0,
            desired: 0,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn requests_round_up_per_scope_and_billing_counts_keys() {
        let plan = Plan {
            scopes: vec![scope(10_001, 2, 3), scope(1, 0, 0), scope(0, 0, 0)],
            only: Vec::new(),
            refusals: Vec::new(),
        };
        let cost = estimate(&plan, so_far(3, 1, 10));
        assert_eq!(
            cost,
            Cost {
                list_requests: 3,
                read_requests: 1,
                write_requests: 3,
                delete_requests: 1,
                billed_lists: 3,
                billed_reads: 10,
                billed_writes: 10_002,
                billed_deletes: 2,
                free_plan: false,
                metered: false,
                single_write_requests: 0,
                snapshot_read_requests: 0,
            }
        );
        assert_eq!(
            cost.line(),
            "Cost: 3 list requests and 1 read request so far; apply will send 3 bulk writes and \
             1 bulk delete (billed: 3 lists, 10 reads, 10002 writes, 2 deletes)."
        );
    }

    /// A value too large for a bulk write is a single write of its own; billed operations are
    /// what planning says Cloudflare billed, not the requests it sent.
    #[test]
    fn single_writes_and_billed_operations() {
        let plan = Plan { scopes: vec![scope(3, 1, 0)], only: Vec::new(), refusals: Vec::new() };
        let so_far = SoFar { list_requests: 3, read_requests: 2, billed_lists: 1, billed_reads: 1 };
        let cost = estimate_with(&plan, so_far, |_, key| key == "p1");
        assert_eq!((cost.write_requests, cost.single_write_requests), (1, 1));
        assert_eq!(cost.billed_writes, 3);
        assert_eq!(
            cost.line(),
            "Cost: 3 list requests and 2 read requests so far; apply will send 1 bulk write, 1 \
             single write and 1 bulk delete (billed: 1 list, 1 read, 3 writes, 1 delete)."
        );
    }

    #[test]
    fn the_free_plan_warns_past_its_daily_limits_only() {
        let plan =
            Plan { scopes: vec![scope(1_000, 1_001, 0)], only: Vec::new(), refusals: Vec::new() };
        let cost = estimate(&plan, so_far(1_200, 0, 0));
        assert_eq!(cost.free_plan_warning(), None, "the Paid plan has no daily limits");
        let free = cost.on_free_plan(true);
        let warning = free.free_plan_warning().expect("over the limits");
        assert!(
            warning.starts_with(
                "this run needs 1001 deletes and 1200 lists, more than the Workers KV Free plan \
                 allows in a day"
            ),
            "{warning}"
        );
        assert_eq!(free.line(), cost.line(), "the cost line itself does not change");
        let within =
            Plan { scopes: vec![scope(1_000, 1_000, 0)], only: Vec::new(), refusals: Vec::new() };
        assert_eq!(
            estimate(&within, so_far(1_000, 0, 0)).on_free_plan(true).free_plan_warning(),
            None
        );
        // Reads count too: past the day's 100,000, and from a tenth of them on, named.
        let reads = |n: u64| {
            let so_far = SoFar { billed_reads: n, ..so_far(1, 0, 0) };
            estimate(&within, so_far).on_free_plan(true).free_plan_warning()
        };
        assert_eq!(reads(9_999), None);
        assert_eq!(
            reads(50_000).as_deref(),
            Some(
                "this run reads 50000 values (value diffs, and apply's snapshot), 50 % of the \
                 100,000 reads the Workers KV Free plan allows in a day; `--no-value-diff` and \
                 `--no-snapshot` read none"
            )
        );
        let over = reads(100_001).expect("over");
        assert!(over.starts_with("this run needs 100001 reads, more than"), "{over}");
    }

    #[test]
    fn the_line_leaves_out_zeros() {
        let plan = Plan { scopes: vec![scope(0, 0, 1)], only: Vec::new(), refusals: Vec::new() };
        assert_eq!(
            estimate(&plan, so_far(1, 0, 0)).line(),
            "Cost: 1 list request so far; apply will send nothing (billed: 1 list)."
        );
        assert_eq!(
            estimate(&plan, so_far(0, 0, 0)).line(),
            "Cost: no requests so far; apply will send nothing (nothing billed)."
        );
        let plan = Plan { scopes: vec![scope(1, 0, 0)], only: Vec::new(), refusals: Vec::new() };
        assert_eq!(
            estimate(&plan, so_far(2, 0, 0)).line(),
            "Cost: 2 list requests so far; apply will send 1 bulk write (billed: 2 lists, 1 write)."
        );
    }

    #[test]
    fn the_snapshot_reads_are_in_the_cost_line_and_the_free_plan_warning() {
        let plan = Plan { scopes: vec![scope(250, 0, 0)], only: Vec::new(), refusals: Vec::new() };
        let cost = estimate(&plan, so_far(1, 0, 0)).with_snapshot(250, 2);
        assert_eq!(cost.snapshot_read_requests, 5);
        assert_eq!(cost.billed_reads, 252);
        assert_eq!(
            cost.line(),
            "Cost: 1 list request so far; apply will send 5 snapshot reads and 1 bulk write \
             (billed: 1 list, 252 reads, 250 writes)."
        );
        let cost = estimate(&plan, so_far(1, 0, 0)).with_snapshot(100_000, 1).on_free_plan(true);
        let warning = cost.free_plan_warning().expect("over the reads of a day");
        assert!(
            warning.starts_with(
                "this run needs 100001 reads, more than the Workers KV Free plan allows in a day \
                 (1,000 writes, 1,000 deletes, 1,000 lists, 100,000 reads)"
            ),
            "{warning}"
        );
    }
}
