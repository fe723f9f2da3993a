//! Request statistics: what a run sent, retried and waited, for `-v` and the cost line.

use super::*;

/// How many requests a [`CloudflareStore`] sent, by kind. Every attempt counts, retries
/// included; `retries` says how many of them were retries, and `throttled` how many had to wait
/// for the client-side rate budget. `billed_lists` and `billed_reads` count what Cloudflare
/// bills instead: answered lists and keys read, never a refused or retried attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// `GET …/keys`.
    pub list: u64,
    /// `POST …/bulk/get`.
    pub bulk_get: u64,
    /// `GET …/values/{key}` (the fallback for values bulk get cannot return).
    pub get_value: u64,
    /// `PUT …/bulk`.
    pub bulk_put: u64,
    /// `PUT …/values/{key}` (for a value that fits no bulk-write item).
    pub put_value: u64,
    /// `POST …/bulk/delete`.
    pub bulk_delete: u64,
    /// `GET …/storage/kv/namespaces` (to find namespaces by title).
    pub namespaces: u64,
    /// Requests that were retries of an earlier attempt (included in the counts above).
    pub retries: u64,
    /// Requests that waited for the client-side rate budget.
    pub throttled: u64,
    /// List operations Cloudflare bills: list requests answered with a page.
    pub billed_lists: u64,
    /// Read operations Cloudflare bills: one per key a successful bulk get asked for, and one
    /// per single read answered with a value or "key not found".
    pub billed_reads: u64,
}

impl std::fmt::Display for RequestStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}{} list, {} bulk get, {} single get, {} bulk write, {} single write, {} \
             bulk delete ({} retries)",
            self.total(),
            if self.total() == 1 { "request" } else { "requests" },
            // Only runs that find a namespace by title make this request.
            if self.namespaces > 0 {
                format!("{} namespace list, ", self.namespaces)
            } else {
                String::new()
            },
            self.list,
            self.bulk_get,
            self.get_value,
            self.bulk_put,
            self.put_value,
            self.bulk_delete,
            self.retries
        )
    }
}

impl RequestStats {
    /// All requests sent.
    pub fn total(&self) -> u64 {
        self.list
            + self.bulk_get
            + self.get_value
            + self.bulk_put
            + self.put_value
            + self.bulk_delete
            + self.namespaces
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    List,
    BulkGet,
    GetValue,
    BulkPut,
    PutValue,
    BulkDelete,
    Namespaces,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) list: AtomicU64,
    pub(super) bulk_get: AtomicU64,
    pub(super) get_value: AtomicU64,
    pub(super) bulk_put: AtomicU64,
    pub(super) put_value: AtomicU64,
    pub(super) bulk_delete: AtomicU64,
    pub(super) namespaces: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) throttled: AtomicU64,
    pub(super) billed_lists: AtomicU64,
    pub(super) billed_reads: AtomicU64,
}

impl Counters {
    pub(super) fn sent(&self, kind: Kind, retry: bool) {
        let counter = match kind {
            Kind::List => &self.list,
            Kind::BulkGet => &self.bulk_get,
            Kind::GetValue => &self.get_value,
            Kind::BulkPut => &self.bulk_put,
            Kind::PutValue => &self.put_value,
            Kind::BulkDelete => &self.bulk_delete,
            Kind::Namespaces => &self.namespaces,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn snapshot(&self) -> RequestStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestStats {
            list: read(&self.list),
            bulk_get: read(&self.bulk_get),
            get_value: read(&self.get_value),
            bulk_put: read(&self.bulk_put),
            put_value: read(&self.put_value),
            bulk_delete: read(&self.bulk_delete),
            namespaces: read(&self.namespaces),
            retries: read(&self.retries),
            throttled: read(&self.throttled),
            billed_lists: read(&self.billed_lists),
            billed_reads: read(&self.billed_reads),
        }
    }

    pub(super) fn billed_reads(&self, keys: usize) {
        self.billed_reads.fetch_add(keys as u64, Ordering::Relaxed);
    }
}
