//! The one value reader: the values of listed keys, 100 per bulk get where the target's reads
//! are exact enough, one by one where they are not, each value read once.
//!
//! Every command that reads values (the plan's diffs, `drift --deep`, `export`, apply's
//! verification) asks here, so the rule for which keys need their exact bytes and how those
//! are read exists once. A key needs its exact bytes ([`ReadHint::exact`]) when the caller
//! compares or keeps them: its value is binary (bulk get is documented for text only), begins
//! with a byte order mark ([`crate::content::BOM`], which a text read drops), or the caller
//! must tell a hand-added one apart. On a target whose text reads are exact
//! ([`Capabilities::exact_text_reads`]) every key goes through bulk get; on one whose are not,
//! keys that need their exact bytes are read singly, apart from the others, so they never
//! push a text key out of its bulk get. (A store may still read a key singly when a bulk get
//! does not return it as text; that is the store's business.)

use super::{BULK_GET_MAX, Capabilities, Error, KvStore, LiveValue, ReadHint};

/// What reading a set of keys costs in requests, known before the first one is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadCost {
    /// Keys whose values are read, each once.
    pub keys: usize,
    /// Bulk get requests.
    pub bulk_gets: usize,
    /// Single GETs: keys whose exact bytes a bulk get would not give.
    pub single_gets: usize,
}

impl ReadCost {
    /// What reading keys with these `hints` costs on a target with `capabilities`.
    pub fn of(capabilities: Capabilities, hints: &[ReadHint]) -> Self {
        let single_gets = hints.iter().filter(|hint| singly(capabilities, hint)).count();
        let bulk = hints.len() - single_gets;
        Self { keys: hints.len(), bulk_gets: bulk.div_ceil(BULK_GET_MAX), single_gets }
    }
}

/// Marks exact the key that would be alone in its bulk get, on a target whose text reads are
/// not exact: a single read costs the same one request and gives the exact bytes. A caller
/// that reads a text equal to the desired value again as bytes (the plan's diffs: a
/// marker-only update looks like a value edit in a listing) then reads such a key once.
pub fn exact_when_alone(capabilities: Capabilities, hints: &mut [ReadHint]) {
    let bulk: Vec<usize> = (0..hints.len()).filter(|&i| !singly(capabilities, &hints[i])).collect();
    if !capabilities.exact_text_reads
        && bulk.len() % BULK_GET_MAX == 1
        && let Some(&last) = bulk.last()
    {
        hints[last].exact = true;
    }
}

/// Whether a key with `hint` is read on its own on a target with `capabilities`.
fn singly(capabilities: Capabilities, hint: &ReadHint) -> bool {
    hint.exact && !capabilities.exact_text_reads
}

/// Reads the values of `keys` of one namespace (keys a listing just returned, or just
/// written), `hints[i]` going with `keys[i]` (a missing hint is the default): one result per
/// key, in order, each key read once. `on_read` is called with the number of keys of each
/// request group as it completes (for progress displays). A problem with one key is its
/// [`LiveValue::Unreadable`]; only a failure of a whole request is an error.
pub async fn read_values<S: KvStore>(
    store: &S,
    namespace_id: &str,
    keys: &[String],
    hints: &[ReadHint],
    on_read: &dyn Fn(usize),
) -> Result<Vec<LiveValue>, Error> {
    let mut out: Vec<Option<LiveValue>> = vec![None; keys.len()];
    read_chunks(store, namespace_id, keys, hints, &mut |chunk, values| {
        for (&i, value) in chunk.iter().zip(values) {
            out[i] = Some(value);
        }
        on_read(chunk.len());
        Ok::<(), Error>(())
    })
    .await?;
    Ok(out.into_iter().map(|value| value.unwrap_or(LiveValue::Missing)).collect())
}

/// [`read_values`], handing each value to `each` with its index in `keys` as soon as its
/// request is answered, so that a caller can write values away without holding them all
/// (`export`). Values come in key order within each group: first the keys read in bulk, then
/// the keys read singly. An error from `each` stops the reading.
pub async fn read_each<S: KvStore, E: From<Error>>(
    store: &S,
    namespace_id: &str,
    keys: &[String],
    hints: &[ReadHint],
    each: &mut dyn FnMut(usize, LiveValue) -> Result<(), E>,
) -> Result<(), E> {
    read_chunks(store, namespace_id, keys, hints, &mut |chunk, values| {
        for (&i, value) in chunk.iter().zip(values) {
            each(i, value)?;
        }
        Ok(())
    })
    .await
}

/// What [`read_chunks`] hands each request group to: its indices in `keys`, and its values.
type ChunkSink<'a, E> = dyn FnMut(&[usize], Vec<LiveValue>) -> Result<(), E> + 'a;

/// Reads `keys` one request group at a time (bulk groups first, then the keys read singly),
/// handing `each` the indices of a group and its values, in order, as soon as it is answered.
async fn read_chunks<S: KvStore, E: From<Error>>(
    store: &S,
    namespace_id: &str,
    keys: &[String],
    hints: &[ReadHint],
    each: &mut ChunkSink<'_, E>,
) -> Result<(), E> {
    let capabilities = store.capabilities();
    let hint = |i: usize| hints.get(i).copied().unwrap_or_default();
    let (single, bulk): (Vec<usize>, Vec<usize>) =
        (0..keys.len()).partition(|&i| singly(capabilities, &hint(i)));
    for group in [bulk, single] {
        for chunk in group.chunks(BULK_GET_MAX) {
            let names: Vec<String> = chunk.iter().map(|&i| keys[i].clone()).collect();
            let chunk_hints: Vec<ReadHint> = chunk.iter().map(|&i| hint(i)).collect();
            let values = store.read_values(namespace_id, &names, &chunk_hints).await?;
            if values.len() != chunk.len() {
                return Err(Error::ValueCount { keys: chunk.len(), values: values.len() }.into());
            }
            each(chunk, values)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::kv::{BulkOutcome, ListPage, PutPair, TargetKind};

    /// Records each call: how many keys, and how many of them asked for exact bytes.
    #[derive(Default)]
    struct Recorder {
        calls: RefCell<Vec<(usize, usize)>>,
        kind: Option<TargetKind>,
    }

    impl KvStore for Recorder {
        fn capabilities(&self) -> crate::kv::Capabilities {
            self.kind.unwrap_or_default().capabilities()
        }

        async fn list_page(&self, _: &str, _: &str, _: Option<&str>) -> Result<ListPage, Error> {
            Ok(ListPage::default())
        }

        async fn bulk_get(&self, _: &str, keys: &[String]) -> Result<Vec<LiveValue>, Error> {
            Ok(keys.iter().map(|key| LiveValue::Text(key.clone())).collect())
        }

        async fn read_values(
            &self,
            _: &str,
            keys: &[String],
            hints: &[ReadHint],
        ) -> Result<Vec<LiveValue>, Error> {
            let exact = hints.iter().filter(|h| h.exact).count();
            self.calls.borrow_mut().push((keys.len(), exact));
            Ok(keys.iter().map(|key| LiveValue::Text(key.clone())).collect())
        }

        async fn bulk_put(&self, _: &str, _: &[PutPair]) -> Result<BulkOutcome, Error> {
            Ok(BulkOutcome::default())
        }

        async fn bulk_delete(&self, _: &str, _: &[String]) -> Result<BulkOutcome, Error> {
            Ok(BulkOutcome::default())
        }
    }

    fn run(kind: TargetKind, exact: &[bool]) -> (Vec<LiveValue>, Vec<(usize, usize)>, usize) {
        let store = Recorder { kind: Some(kind), ..Recorder::default() };
        let keys: Vec<String> = (0..exact.len()).map(|i| format!("k{i:03}")).collect();
        let hints: Vec<ReadHint> =
            exact.iter().map(|&exact| ReadHint { exact, listed_expiration: None }).collect();
        let progress = std::cell::Cell::new(0);
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let values = runtime
            .block_on(read_values(&store, "ns", &keys, &hints, &|n| {
                progress.set(progress.get() + n)
            }))
            .expect("read");
        (values, store.calls.into_inner(), progress.get())
    }

    #[test]
    fn each_key_is_read_once_in_order_and_exact_keys_apart_where_text_reads_are_not_exact() {
        // 150 text keys with 60 that need exact bytes among them.
        let exact: Vec<bool> = (0..150).map(|i| i % 5 < 2).collect();
        let (values, calls, progress) = run(TargetKind::Cloudflare, &exact);
        assert_eq!(progress, 150);
        let expected: Vec<LiveValue> =
            (0..150).map(|i| LiveValue::Text(format!("k{i:03}"))).collect();
        assert_eq!(values, expected);
        assert_eq!(calls, [(90, 0), (60, 60)]);
        let hints: Vec<ReadHint> =
            exact.iter().map(|&exact| ReadHint { exact, listed_expiration: None }).collect();
        let cost = ReadCost::of(TargetKind::Cloudflare.capabilities(), &hints);
        assert_eq!(cost, ReadCost { keys: 150, bulk_gets: 1, single_gets: 60 });

        // Exact text reads: everything in bulk, 100 at a time.
        let (values, calls, _) = run(TargetKind::Local, &exact);
        assert_eq!(values, expected);
        assert_eq!(calls, [(100, 40), (50, 20)]);
        let cost = ReadCost::of(TargetKind::Local.capabilities(), &hints);
        assert_eq!(cost, ReadCost { keys: 150, bulk_gets: 2, single_gets: 0 });
    }

    #[test]
    fn nothing_to_read_sends_nothing() {
        let (values, calls, progress) = run(TargetKind::Cloudflare, &[]);
        assert!(values.is_empty() && calls.is_empty());
        assert_eq!(progress, 0);
    }

    #[test]
    fn a_key_alone_in_its_bulk_get_is_read_exactly_where_text_reads_are_not_exact() {
        let text = ReadHint { exact: false, listed_expiration: None };
        let exact = ReadHint { exact: true, listed_expiration: None };
        let cloudflare = TargetKind::Cloudflare.capabilities();
        // One text key beside an exact one: it would be a bulk get of one key.
        let mut hints = [text, exact];
        exact_when_alone(cloudflare, &mut hints);
        assert_eq!(hints, [exact, exact]);
        assert_eq!(ReadCost::of(cloudflare, &hints).single_gets, 2);
        // 101 text keys: the last would be alone in the second bulk get.
        let mut hints = vec![text; 101];
        exact_when_alone(cloudflare, &mut hints);
        assert_eq!(hints.iter().filter(|h| h.exact).count(), 1);
        assert!(hints[100].exact);
        // Two text keys share one bulk get; exact text reads need no single read at all.
        let mut hints = [text, text];
        exact_when_alone(cloudflare, &mut hints);
        assert_eq!(hints, [text, text]);
        let mut hints = [text];
        exact_when_alone(TargetKind::Local.capabilities(), &mut hints);
        assert_eq!(hints, [text]);
    }
}
