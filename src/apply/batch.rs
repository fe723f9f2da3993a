//! Splitting an apply's puts and deletes into requests the API accepts.
//!
//! This module owns the greedy packing of [`PutPair`]s into bulk writes of at most
//! [`BULK_WRITE_MAX`] pairs and under [`BULK_WRITE_BYTES_MAX`] bytes of request JSON (sized with
//! [`bulk_write_item_len`], so binary values count base64-encoded), and the chunking of deletes.
//! It keeps the caller's order and never reorders or drops anything.
//!
//! It must not know where values come from, which store receives the batches, or how requests
//! are sent and retried: the executor feeds it pairs and sends what it hands back.

use crate::kv::wire::bulk_item_len;
#[cfg(test)]
use crate::kv::wire::bulk_write_item_len;
use crate::kv::{BULK_WRITE_BYTES_MAX, BULK_WRITE_MAX, PutPair};

/// Packs pairs into bulk writes as they arrive.
///
/// The executor reads `file:` values just before pushing them, so holding only the batch being
/// filled keeps at most one batch of values in memory (DESIGN §9), however large the apply.
#[derive(Debug)]
pub struct PutBatcher {
    max_pairs: usize,
    max_bytes: usize,
    batch: Vec<PutPair>,
    /// The request size of `batch` as a JSON array: `2 + Σ item + (n − 1)` commas.
    batch_bytes: usize,
    /// `batch` is one pair that fits no bulk-write item: it is sent alone, with the
    /// single-key PUT, and nothing joins it.
    alone: bool,
}

impl PutBatcher {
    /// A batcher with the API's limits.
    ///
    /// The byte bound is one below [`BULK_WRITE_BYTES_MAX`] because a batch may reach its bound
    /// while the API (and the local store) require the request to be *less than* 100,000,000
    /// bytes.
    pub fn new() -> PutBatcher {
        PutBatcher::with_limits(BULK_WRITE_MAX, BULK_WRITE_BYTES_MAX - 1)
    }

    /// A batcher whose batches hold at most `max_pairs` pairs and at most `max_bytes` bytes of
    /// request JSON. A `max_pairs` of 0 is treated as 1, since a batch always holds a pair.
    pub fn with_limits(max_pairs: usize, max_bytes: usize) -> PutBatcher {
        PutBatcher {
            max_pairs: max_pairs.max(1),
            max_bytes,
            batch: Vec::new(),
            batch_bytes: 0,
            alone: false,
        }
    }

    /// Adds `pair`. When it does not fit in the batch being filled, that batch is returned
    /// (full) and `pair` starts the next one.
    ///
    /// A pair that fits no bulk-write item (a binary value over 19,660,800 bytes, say) gets a
    /// batch of its own, which the store sends with the single-key PUT; a pair too large for
    /// any batch still gets one of its own: refusing it is the store's job, with the API's
    /// message, and validation normally stops such a pair much earlier.
    pub fn push(&mut self, pair: PutPair) -> Option<Vec<PutPair>> {
        let item = bulk_item_len(&pair);
        let item_bytes = item.unwrap_or(0);
        if self.batch.is_empty() {
            self.start(pair, item_bytes, item.is_none());
            return None;
        }
        let with_pair = self.batch_bytes.saturating_add(1).saturating_add(item_bytes);
        if item.is_some()
            && !self.alone
            && self.batch.len() < self.max_pairs
            && with_pair <= self.max_bytes
        {
            self.batch.push(pair);
            self.batch_bytes = with_pair;
            return None;
        }
        let full = std::mem::take(&mut self.batch);
        self.start(pair, item_bytes, item.is_none());
        Some(full)
    }

    /// The last batch, or `None` when no pair is waiting.
    pub fn finish(self) -> Option<Vec<PutPair>> {
        if self.batch.is_empty() { None } else { Some(self.batch) }
    }

    fn start(&mut self, pair: PutPair, item_bytes: usize, alone: bool) {
        self.batch.push(pair);
        self.batch_bytes = item_bytes.saturating_add(2);
        self.alone = alone;
    }
}

impl Default for PutBatcher {
    fn default() -> PutBatcher {
        PutBatcher::new()
    }
}

/// Splits keys to delete into requests of at most [`BULK_WRITE_MAX`] keys, in order. Bulk
/// delete has no documented byte limit; 10,000 keys of 512 bytes are about 5 MB.
pub fn delete_batches(keys: &[String]) -> impl Iterator<Item = &[String]> {
    keys.chunks(BULK_WRITE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Expiration;
    use proptest::prelude::*;
    use serde_json::json;

    fn small(i: usize) -> PutPair {
        PutPair {
            key: format!("k{i}"),
            value: b"v".to_vec(),
            metadata: json!({"__kvsync": {"v": 1}}),
            expiration: Expiration::Never,
        }
    }

    /// Runs a batcher over `pairs` the way the executor will.
    fn batches(mut batcher: PutBatcher, pairs: Vec<PutPair>) -> Vec<Vec<PutPair>> {
        let mut out = Vec::new();
        for pair in pairs {
            out.extend(batcher.push(pair));
        }
        out.extend(batcher.finish());
        out
    }

    fn request_bytes(batch: &[PutPair]) -> usize {
        2 + batch.iter().map(bulk_write_item_len).sum::<usize>() + batch.len().saturating_sub(1)
    }

    #[test]
    fn pair_count_bound() {
        let pairs: Vec<_> = (0..25_001).map(small).collect();
        let sizes: Vec<_> = batches(PutBatcher::new(), pairs).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10_000, 10_000, 5_001]);
    }

    #[test]
    fn byte_bound() {
        // Every item below is exactly as long as the first one.
        let item = bulk_write_item_len(&small(0));
        let pairs: Vec<_> = (0..7).map(small).collect();
        // Room for exactly three items: 2 brackets + 3 items + 2 commas.
        let max = 2 + 3 * item + 2;
        let out = batches(PutBatcher::with_limits(100, max), pairs.clone());
        let sizes: Vec<_> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 1]);
        assert!(out.iter().all(|b| request_bytes(b) <= max));
        // One byte less and only two fit.
        let out = batches(PutBatcher::with_limits(100, max - 1), pairs);
        let sizes: Vec<_> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 2, 1]);
    }

    #[test]
    fn binary_values_count_encoded() {
        let binary = PutPair { value: vec![0xff; 300], ..small(0) };
        // 300 bytes become 400 base64 characters.
        assert!(bulk_write_item_len(&binary) > 400);
        let out = batches(PutBatcher::with_limits(100, 400), vec![small(1), binary, small(2)]);
        let sizes: Vec<_> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
    }

    #[test]
    fn oversize_pair_goes_alone() {
        let big = PutPair { value: vec![b'x'; 1000], ..small(1) };
        let out =
            batches(PutBatcher::with_limits(100, 200), vec![small(0), big, small(2), small(3)]);
        let sizes: Vec<_> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 2]);
        assert_eq!(out[1][0].key, "k1");
    }

    /// A binary value too long for a bulk item as base64 is sent alone (the store writes it
    /// with the single-key PUT), and nothing joins its batch; one at the limit is packed.
    #[test]
    fn a_value_that_fits_no_bulk_item_goes_alone() {
        use crate::content::limits::BULK_BASE64_BYTES_MAX;
        let over = PutPair { value: vec![0xff; BULK_BASE64_BYTES_MAX + 1], ..small(1) };
        let out = batches(PutBatcher::new(), vec![small(0), over, small(2), small(3)]);
        let sizes: Vec<_> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 2]);
        assert_eq!(out[1][0].key, "k1");
        let at_limit = PutPair { value: vec![0xff; BULK_BASE64_BYTES_MAX], ..small(1) };
        let out = batches(PutBatcher::new(), vec![small(0), at_limit, small(2)]);
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert_eq!(PutBatcher::new().finish(), None);
        assert_eq!(delete_batches(&[]).count(), 0);
    }

    #[test]
    fn default_limits_stay_under_the_api_limit() {
        let batcher = PutBatcher::default();
        assert_eq!(batcher.max_pairs, BULK_WRITE_MAX);
        assert!(batcher.max_bytes < BULK_WRITE_BYTES_MAX);
    }

    #[test]
    fn delete_chunks() {
        let keys: Vec<String> = (0..25_001).map(|i| format!("k{i}")).collect();
        let sizes: Vec<_> = delete_batches(&keys).map(<[String]>::len).collect();
        assert_eq!(sizes, [10_000, 10_000, 5_001]);
    }

    fn arb_pair() -> impl Strategy<Value = PutPair> {
        let value = prop_oneof![
            "\\PC{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..60),
        ];
        let expiration = prop_oneof![
            Just(Expiration::Never),
            (60u64..100_000).prop_map(Expiration::Ttl),
            (0i64..i64::from(i32::MAX)).prop_map(Expiration::At),
        ];
        let metadata = prop_oneof![
            Just(serde_json::Value::Null),
            "[a-z\"\\\\]{0,20}".prop_map(|s| json!({"note": s})),
        ];
        ("\\PC{1,12}", value, metadata, expiration).prop_map(
            |(key, value, metadata, expiration)| PutPair { key, value, metadata, expiration },
        )
    }

    proptest! {
        #[test]
        fn put_batches_are_exact_bounded_and_maximal(
            pairs in prop::collection::vec(arb_pair(), 0..60),
            max_pairs in 1usize..8,
            max_bytes in 2usize..600,
        ) {
            let out = batches(PutBatcher::with_limits(max_pairs, max_bytes), pairs.clone());

            // Every pair exactly once, in order, and no empty batch.
            prop_assert!(out.iter().all(|b| !b.is_empty()));
            let flat: Vec<PutPair> = out.iter().flatten().cloned().collect();
            prop_assert_eq!(&flat, &pairs);

            for (i, batch) in out.iter().enumerate() {
                prop_assert!(batch.len() <= max_pairs);
                let bytes = request_bytes(batch);
                prop_assert!(
                    bytes <= max_bytes || batch.len() == 1,
                    "batch {} is {} bytes over a {} byte limit", i, bytes, max_bytes
                );
                // Maximal: the next batch's first pair would not have fitted here.
                if let Some(next) = out.get(i + 1) {
                    let grown = bytes + 1 + bulk_write_item_len(&next[0]);
                    prop_assert!(batch.len() == max_pairs || grown > max_bytes);
                }
            }
        }

        #[test]
        fn delete_batches_are_exact_bounded_and_maximal(count in 0usize..35_000) {
            let keys: Vec<String> = (0..count).map(|i| i.to_string()).collect();
            let out: Vec<&[String]> = delete_batches(&keys).collect();
            prop_assert!(out.iter().all(|b| !b.is_empty() && b.len() <= BULK_WRITE_MAX));
            // Maximal: only the last batch may be short.
            if let Some((_, full)) = out.split_last() {
                prop_assert!(full.iter().all(|b| b.len() == BULK_WRITE_MAX));
            }
            prop_assert_eq!(out.concat(), keys);
        }
    }
}
