//! The key-value state: namespaces of byte-ordered keys, expiry, tombstones and list cursors.
//!
//! This module knows KV's data model (doc §1.2, §2, §7) and nothing about HTTP. Each namespace is
//! a `BTreeMap` keyed by `String`, whose `Ord` is the byte order of the UTF-8 encoding: the order
//! list pages come back in (doc §1.2). A list page is one range scan from the cursor's position,
//! so it costs O(page + log n), also at 1,000,000 keys.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::Metadata;

/// All namespaces, plus the serial that makes every issued cursor distinct.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) namespaces: HashMap<String, Namespace>,
    cursor_serial: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Namespace {
    entries: BTreeMap<String, Entry>,
    /// Its title in a namespace listing (doc §1.1); the id when none was set.
    pub(crate) title: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) value: Bytes,
    pub(crate) metadata: Option<Metadata>,
    /// Absolute unix seconds. Doc §1.2: "an absolute unix time in seconds, even if the key was
    /// written with a TTL".
    pub(crate) expiration: Option<i64>,
    /// A deleted key that still occupies its place in list scans (only with `page_tombstones`).
    tombstone: bool,
}

impl Entry {
    pub(crate) fn new(value: Bytes, metadata: Option<Metadata>, expiration: Option<i64>) -> Entry {
        Entry { value, metadata, expiration, tombstone: false }
    }

    /// Doc §7: "Expired keys are deleted at expiry. Reads then behave as if the key never
    /// existed." So a key whose expiration is at or before the clock is invisible everywhere.
    pub(crate) fn visible(&self, now: i64) -> bool {
        !self.tombstone && self.expiration.is_none_or(|at| at > now)
    }
}

/// One key of a list page, serialized as doc §1.2 `workers-kv_key` gives it: `name` always,
/// `expiration` only when the key expires, `metadata` only when it is non-null.
#[derive(Debug, Serialize)]
pub(crate) struct Listed {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expiration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metadata: Option<Metadata>,
}

#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) keys: Vec<Listed>,
    /// The last key the page scanned, when more may follow; `None` on the last page.
    pub(crate) resume_after: Option<String>,
}

impl Namespace {
    /// Doc §1.7: "existing values and expirations are overwritten". Metadata is replaced too:
    /// omitting it clears it, as the single-key PUT states (doc §1.7, "likely, but UNVERIFIED" for
    /// bulk; the stand-in takes the strict reading, which can only make a client more careful).
    pub(crate) fn put(&mut self, key: String, entry: Entry) {
        self.entries.insert(key, entry);
    }

    /// Deleting a missing key succeeds (doc §1.6, UNVERIFIED for REST but "probably also a
    /// success"). With tombstones on, the key keeps its place in list scans (doc §1.2).
    pub(crate) fn delete(&mut self, key: &str, tombstones: bool) {
        if tombstones {
            if let Some(entry) = self.entries.get_mut(key) {
                *entry = Entry {
                    value: Bytes::new(),
                    metadata: None,
                    expiration: None,
                    tombstone: true,
                };
            }
        } else {
            self.entries.remove(key);
        }
    }

    pub(crate) fn get(&self, key: &str, now: i64) -> Option<&Entry> {
        self.entries.get(key).filter(|e| e.visible(now))
    }

    pub(crate) fn visible_keys(&self, now: i64) -> Vec<String> {
        self.entries.iter().filter(|(_, e)| e.visible(now)).map(|(k, _)| k.clone()).collect()
    }

    /// One list page: the keys starting with `prefix` that sort after `after`, at most `limit`.
    ///
    /// Without tombstones a page skips invisible keys and is full unless it is the last.
    /// With tombstones, doc §1.2 "Empty pages": recently expired or deleted keys "are still
    /// iterated but not returned", so `limit` counts every entry scanned and a page can come back
    /// short or empty while the listing goes on.
    pub(crate) fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
        now: i64,
        tombstones: bool,
    ) -> Page {
        let start = match after {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut scan = self
            .entries
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix));
        let mut keys = Vec::new();
        let mut last: Option<&str> = None;
        let more = if tombstones {
            for (key, entry) in scan.by_ref().take(limit) {
                last = Some(key);
                if entry.visible(now) {
                    keys.push(listed(key, entry));
                }
            }
            scan.next().is_some()
        } else {
            let mut more = false;
            for (key, entry) in scan.filter(|(_, e)| e.visible(now)) {
                if keys.len() == limit {
                    more = true;
                    break;
                }
                last = Some(key);
                keys.push(listed(key, entry));
            }
            more
        };
        Page { keys, resume_after: if more { last.map(str::to_owned) } else { None } }
    }
}

fn listed(key: &str, entry: &Entry) -> Listed {
    Listed { name: key.to_owned(), expiration: entry.expiration, metadata: entry.metadata.clone() }
}

/// Where a listing resumes: after this key, or from the start of the prefix.
pub(crate) type Position = Option<String>;

impl Store {
    /// Encodes a position as an opaque cursor (doc §1.2: "an opaque string"). A serial makes every
    /// cursor the stand-in issues distinct, even two for the same position, so a client that
    /// checks for a repeated cursor (DESIGN.md §6) only ever trips over `Fault::RepeatCursor`.
    pub(crate) fn cursor(&mut self, position: Option<&str>) -> String {
        self.cursor_serial += 1;
        let mut raw = Vec::with_capacity(11 + position.map_or(0, str::len));
        raw.extend_from_slice(b"kv");
        raw.extend_from_slice(&self.cursor_serial.to_be_bytes());
        match position {
            Some(key) => {
                raw.push(1);
                raw.extend_from_slice(key.as_bytes());
            }
            None => raw.push(0),
        }
        URL_SAFE_NO_PAD.encode(raw)
    }
}

/// Decodes a cursor this stand-in issued; `None` when it is not one.
pub(crate) fn decode_cursor(cursor: &str) -> Option<Position> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let rest = raw.strip_prefix(b"kv")?;
    let (_serial, rest) = rest.split_at_checked(8)?;
    match rest.split_first()? {
        (0, []) => Some(None),
        (1, key) => String::from_utf8(key.to_vec()).ok().map(Some),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expiration: Option<i64>) -> Entry {
        Entry::new(Bytes::from_static(b"v"), None, expiration)
    }

    fn names(page: &Page) -> Vec<&str> {
        page.keys.iter().map(|k| k.name.as_str()).collect()
    }

    #[test]
    fn cursors_round_trip_and_are_distinct() {
        let mut store = Store::default();
        let a = store.cursor(Some("ключ/ü"));
        let b = store.cursor(Some("ключ/ü"));
        assert_ne!(a, b);
        assert_eq!(decode_cursor(&a), Some(Some("ключ/ü".to_owned())));
        let start = store.cursor(None);
        assert_eq!(decode_cursor(&start), Some(None));
        for bad in ["", "!!", "a2V5", &URL_SAFE_NO_PAD.encode(b"kv12345678\x02")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_follow_utf8_byte_order_within_the_prefix() {
        let mut ns = Namespace::default();
        for key in ["b", "a/2", "a/1", "a/é", "a/z", "a", "A"] {
            ns.put(key.to_owned(), entry(None));
        }
        let page = ns.list("a/", None, 2, 0, false);
        assert_eq!(names(&page), ["a/1", "a/2"]);
        let page = ns.list("a/", page.resume_after.as_deref(), 2, 0, false);
        assert_eq!(names(&page), ["a/z", "a/é"]);
        assert_eq!(page.resume_after, None, "no visible key left: the last page");
        assert_eq!(
            names(&ns.list("", None, 10, 0, false)),
            ["A", "a", "a/1", "a/2", "a/z", "a/é", "b"]
        );
    }

    #[test]
    fn expired_keys_are_skipped_or_take_a_slot_with_tombstones() {
        let mut ns = Namespace::default();
        ns.put("k1".into(), entry(Some(100)));
        ns.put("k2".into(), entry(Some(101)));
        ns.put("k3".into(), entry(None));
        ns.put("k4".into(), entry(None));
        ns.delete("k4", true);
        let full = ns.list("", None, 1, 100, false);
        assert_eq!(names(&full), ["k2"]);
        assert_eq!(names(&ns.list("", full.resume_after.as_deref(), 1, 100, false)), ["k3"]);
        let short = ns.list("", None, 1, 100, true);
        assert!(short.keys.is_empty(), "k1 expired at 100 but still occupies the page");
        assert_eq!(short.resume_after.as_deref(), Some("k1"));
        let last = ns.list("", Some("k3"), 1, 100, true);
        assert!(last.keys.is_empty());
        assert_eq!(last.resume_after, None, "the tombstone of k4 was the last entry");
    }

    /// 1,000,000 keys listed in 1000-key pages: each page is one range scan, so the whole listing
    /// is linear. A quadratic page (scanning from the start) would take minutes here.
    #[test]
    fn a_million_keys_list_in_linear_time() {
        let mut ns = Namespace::default();
        for i in 0..1_000_000u32 {
            ns.put(format!("key/{i:07}"), entry(None));
        }
        let (mut after, mut seen, mut pages) = (None::<String>, 0usize, 0usize);
        loop {
            let page = ns.list("key/", after.as_deref(), 1000, 0, false);
            seen += page.keys.len();
            pages += 1;
            match page.resume_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!((seen, pages), (1_000_000, 1000));
    }
}
