//! One table of what Cloudflare's Workers KV answers, run against the four imitations of it:
//! the embedded local store (`LocalStore`), kvsync's Cloudflare client on kv-standin, the same
//! client on Cloudflare's own local simulator (`tests/simulator`, workerd), and the
//! `wrangler-dev` target on a real `wrangler dev`. Each row is an
//! operation and Cloudflare's answer as its documentation and measurements give it (the limits
//! table of the KV API notes: key names, metadata size, the shortest TTL and expiration); an
//! imitation that answers otherwise fails the row, naming itself. This is what holds "the local
//! targets are never more lenient than Cloudflare" beyond the local store's own tests.
//!
//! Rows an imitation skips, and why: expiry (a TTL running out) needs a clock the test can set,
//! so it runs on the local store and kv-standin only; the simulator and `wrangler dev` keep
//! real time, and waiting out a TTL would cost the suite a minute.

use kvsync::content::Expiration;
use kvsync::kv::local::LocalStore;
use kvsync::kv::{KvStore, ListedKey, LiveValue, PutPair};
use serde_json::{Value, json};

use crate::simulator::Simulator;
use crate::support::{NOW, cloudflare_client};

/// The namespace every imitation is asked about (one the simulator binds).
const NS: &str = crate::support::NS;

/// What Cloudflare does with a bulk write of one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Written: listed afterwards, with its metadata and expiration.
    Written,
    /// Refused: an error, or the key among `unsuccessful_keys`; never listed.
    Refused,
}

/// One row: a pair to write, and what Cloudflare answers.
struct Row {
    what: &'static str,
    pair: PutPair,
    answer: Answer,
}

/// The clock the rows' expirations are relative to: the suite's fixed clock for the local store,
/// the real one for the servers (kv-standin and the simulator keep real time).
fn rows(now: i64) -> Vec<Row> {
    let pair = |key: &str, metadata: Value, expiration: Expiration| PutPair {
        key: key.to_owned(),
        value: b"v".to_vec(),
        metadata,
        expiration,
    };
    // Metadata whose serialized JSON is exactly `len` bytes: `{"m":"xxx…"}`.
    let metadata_of = |len: usize| json!({ "m": "x".repeat(len - 8) });
    assert_eq!(serde_json::to_string(&metadata_of(1024)).expect("json").len(), 1024);
    let two_byte_key = "é".repeat(256);
    let row = |what, pair, answer| Row { what, pair, answer };
    vec![
        row("a plain key", pair("a", Value::Null, Expiration::Never), Answer::Written),
        row(
            "a key of 512 bytes",
            pair(&"k".repeat(512), Value::Null, Expiration::Never),
            Answer::Written,
        ),
        row(
            "a key of 512 bytes in 256 characters",
            pair(&two_byte_key, Value::Null, Expiration::Never),
            Answer::Written,
        ),
        row(
            "a key of 513 bytes",
            pair(&"k".repeat(513), Value::Null, Expiration::Never),
            Answer::Refused,
        ),
        row(
            "a key of 257 two-byte characters (514 bytes)",
            pair(&"é".repeat(257), Value::Null, Expiration::Never),
            Answer::Refused,
        ),
        row("the key `.`", pair(".", Value::Null, Expiration::Never), Answer::Refused),
        row("the key `..`", pair("..", Value::Null, Expiration::Never), Answer::Refused),
        row(
            "a key with dots in it",
            pair("a...b", Value::Null, Expiration::Never),
            Answer::Written,
        ),
        row(
            "a key with a slash, a space and an emoji",
            pair("dir/a b 😀", Value::Null, Expiration::Never),
            Answer::Written,
        ),
        row(
            "metadata of 1024 bytes",
            pair("m1024", metadata_of(1024), Expiration::Never),
            Answer::Written,
        ),
        row(
            "metadata of 1025 bytes",
            pair("m1025", metadata_of(1025), Expiration::Never),
            Answer::Refused,
        ),
        row("a TTL of 60 s", pair("ttl60", Value::Null, Expiration::Ttl(60)), Answer::Written),
        row("a TTL of 59 s", pair("ttl59", Value::Null, Expiration::Ttl(59)), Answer::Refused),
        row(
            "an expiration 120 s ahead",
            pair("exp120", Value::Null, Expiration::At(now + 120)),
            Answer::Written,
        ),
        row(
            "an expiration 30 s ahead",
            pair("exp30", Value::Null, Expiration::At(now + 30)),
            Answer::Refused,
        ),
        row(
            "an expiration in the past",
            pair("past", Value::Null, Expiration::At(now - 3600)),
            Answer::Refused,
        ),
    ]
}

/// Runs every row against `store`, each alone in a fresh prefix, and returns what differs
/// from Cloudflare's answer.
async fn check<S: KvStore>(name: &str, store: &S, now: i64) -> Vec<String> {
    let mut wrong = Vec::new();
    for row in rows(now) {
        let key = row.pair.key.clone();
        let outcome = store.bulk_put(NS, std::slice::from_ref(&row.pair)).await;
        let accepted = matches!(&outcome, Ok(o) if o.unsuccessful_keys.is_empty());
        let listed = listed(store, &key).await;
        let answer = match (accepted, &listed) {
            (true, Some(_)) => Answer::Written,
            (false, None) => Answer::Refused,
            (accepted, listed) => {
                wrong.push(format!(
                    "{name}: {}: answered {} but the key is {}listed",
                    row.what,
                    if accepted { "success" } else { "a refusal" },
                    if listed.is_some() { "" } else { "not " }
                ));
                continue;
            }
        };
        if answer != row.answer {
            wrong.push(format!(
                "{name}: {}: {answer:?}, Cloudflare: {:?} ({outcome:?})",
                row.what, row.answer
            ));
            continue;
        }
        if let Some(listed) = listed {
            let metadata = listed.metadata.to_json().unwrap_or(Value::Null);
            if metadata != row.pair.metadata {
                wrong.push(format!("{name}: {}: listed metadata {metadata}", row.what));
            }
            let expected = match row.pair.expiration {
                Expiration::Never => None,
                Expiration::At(at) => Some(at),
                Expiration::Ttl(ttl) => Some(now + i64::try_from(ttl).expect("ttl")),
            };
            // A TTL becomes an absolute expiration when the server writes it: allow the clock a
            // few seconds between `now` and the write.
            let close = match (listed.expiration, expected) {
                (Some(at), Some(want)) => (at - want).abs() <= 5,
                (listed, expected) => listed == expected,
            };
            if !close {
                wrong.push(format!(
                    "{name}: {}: listed expiration {:?}, expected about {expected:?}",
                    row.what, listed.expiration
                ));
            }
        }
    }
    wrong.extend(round_trips(name, store).await);
    wrong
}

/// Expiry, the row that needs time to pass: a key written at `now` with a TTL of 60 s is listed
/// and readable until its expiration, then neither listed nor readable once the clock reaches
/// it (Cloudflare: "the key no longer exists"). `advance` moves the imitation's clock to a time
/// and returns the store that sees it; imitations without a settable clock do not run the row.
async fn expires<S: KvStore>(
    name: &str,
    store: S,
    now: i64,
    advance: impl Fn(S, i64) -> S,
) -> Vec<String> {
    let mut wrong = Vec::new();
    let pair = PutPair {
        key: "expiry/ttl60".into(),
        value: b"v".to_vec(),
        metadata: Value::Null,
        expiration: Expiration::Ttl(60),
    };
    if let Err(error) = store.bulk_put(NS, &[pair]).await {
        return vec![format!("{name}: expiry: writing a TTL of 60 s: {error}")];
    }
    let keys = ["expiry/ttl60".to_owned()];
    match listed(&store, "expiry/ttl60").await.map(|k| k.expiration) {
        Some(Some(at)) if at == now + 60 => {}
        other => wrong.push(format!("{name}: expiry: listed {other:?}, expected {}", now + 60)),
    }
    let store = advance(store, now + 59);
    if listed(&store, "expiry/ttl60").await.is_none() {
        wrong.push(format!("{name}: expiry: gone a second before its expiration"));
    }
    let later = advance(store, now + 60);
    if let Some(key) = listed(&later, "expiry/ttl60").await {
        wrong.push(format!("{name}: expiry: still listed at its expiration: {key:?}"));
    }
    match later.bulk_get(NS, &keys).await {
        Ok(values) if values == [LiveValue::Missing] => {}
        other => wrong.push(format!("{name}: expiry: read at its expiration: {other:?}")),
    }
    wrong
}

/// The key as a listing of its own name as prefix shows it.
async fn listed<S: KvStore>(store: &S, key: &str) -> Option<ListedKey> {
    let page = store.list_page(NS, key, None).await.ok()?;
    page.keys.into_iter().find(|k| k.name.as_str() == key)
}

/// Values read back exactly, missing keys read as missing, a delete of a key that is not there
/// succeeds, and a listing pages with its cursor.
async fn round_trips<S: KvStore>(name: &str, store: &S) -> Vec<String> {
    let mut wrong = Vec::new();
    let binary: Vec<u8> = (0..=255u8).collect();
    let pairs = vec![
        PutPair {
            key: "rt/text".into(),
            value: "héllo\n".as_bytes().to_vec(),
            metadata: json!({"team": "web"}),
            expiration: Expiration::Never,
        },
        PutPair {
            key: "rt/binary".into(),
            value: binary.clone(),
            metadata: Value::Null,
            expiration: Expiration::Never,
        },
    ];
    if let Err(error) = store.bulk_put(NS, &pairs).await {
        return vec![format!("{name}: round trip write: {error}")];
    }
    // Listed keys are read by `read_values`; a key that is not there, by a bulk get.
    let keys = ["rt/text".to_owned(), "rt/binary".to_owned()];
    let hints = [kvsync::kv::ReadHint { exact: true, listed_expiration: None }; 2];
    match store.read_values(NS, &keys, &hints).await {
        Ok(values) => {
            let bytes = |value: &LiveValue| match value {
                LiveValue::Text(text) => Some(text.as_bytes().to_vec()),
                LiveValue::Binary(bytes) => Some(bytes.clone()),
                _ => None,
            };
            if bytes(&values[0]).as_deref() != Some("héllo\n".as_bytes()) {
                wrong.push(format!("{name}: text read back as {:?}", values[0]));
            }
            if bytes(&values[1]) != Some(binary) {
                wrong.push(format!("{name}: binary value read back as {:?}", values[1]));
            }
        }
        Err(error) => wrong.push(format!("{name}: reading values: {error}")),
    }
    match store.bulk_get(NS, &["rt/missing".to_owned()]).await {
        Ok(values) if matches!(values.as_slice(), [LiveValue::Missing]) => {}
        other => wrong.push(format!("{name}: a bulk get of a missing key gave {other:?}")),
    }
    if let Err(error) = store.bulk_delete(NS, &["rt/never-written".to_owned()]).await {
        wrong.push(format!("{name}: deleting a key that is not there: {error}"));
    }
    // Listings are in UTF-8 byte order, as Cloudflare documents: `ｚ` (U+FF5A) before `😀`, which
    // JavaScript's UTF-16 order would swap.
    let ordered = ["o/a", "o/é", "o/ｚ", "o/😀"];
    let pairs: Vec<PutPair> = ordered
        .iter()
        .rev()
        .map(|key| PutPair {
            key: (*key).to_owned(),
            value: b"x".to_vec(),
            metadata: Value::Null,
            expiration: Expiration::Never,
        })
        .collect();
    match store.bulk_put(NS, &pairs).await {
        Ok(_) => match kvsync::kv::list_all(store, NS, "o/").await {
            Ok(keys) => {
                let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
                if names != ordered {
                    wrong.push(format!("{name}: listed in the order {names:?}"));
                }
            }
            Err(error) => wrong.push(format!("{name}: listing `o/`: {error}")),
        },
        Err(error) => wrong.push(format!("{name}: writing non-ASCII keys: {error}")),
    }
    // 1,001 keys: two pages, the second found through the first one's cursor.
    let many: Vec<PutPair> = (0..1001)
        .map(|i| PutPair {
            key: format!("page/{i:04}"),
            value: b"x".to_vec(),
            metadata: Value::Null,
            expiration: Expiration::Never,
        })
        .collect();
    if let Err(error) = store.bulk_put(NS, &many).await {
        wrong.push(format!("{name}: writing 1,001 keys: {error}"));
        return wrong;
    }
    match kvsync::kv::list_all(store, NS, "page/").await {
        Ok(keys) => {
            let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            let expected: Vec<String> = (0..1001).map(|i| format!("page/{i:04}")).collect();
            if names != expected.iter().map(String::as_str).collect::<Vec<_>>() {
                wrong.push(format!("{name}: a listing of 1,001 keys gave {} keys", names.len()));
            }
        }
        Err(error) => wrong.push(format!("{name}: listing 1,001 keys: {error}")),
    }
    wrong
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn real_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("after 1970").as_secs()).expect("seconds")
}

/// Expiry on the imitations whose clock a test can set: the local store (opened at a time) and
/// kv-standin (`set_clock`). Cloudflare's own simulator keeps real time, and waiting out a TTL
/// would cost the suite a minute.
#[test]
fn keys_expire_at_their_expiration() {
    crate::support::timed();
    let now: i64 = NOW.parse().expect("now");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("local.db");
    let store = LocalStore::open(&path, now).expect("store");
    let wrong = runtime().block_on(expires("local store", store, now, |store, at| {
        store.close().expect("close");
        LocalStore::open(&path, at).expect("store at a later time")
    }));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    let standin = kv_standin::Standin::start(kv_standin::Options::default());
    standin.create_namespace(NS);
    standin.set_clock(now);
    let client = || cloudflare_client(standin.base_url(), standin.account_id(), standin.token());
    let wrong = runtime().block_on(expires("kv-standin", client(), now, |store, at| {
        standin.set_clock(at);
        store
    }));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_local_store_answers_as_cloudflare() {
    crate::support::timed();
    let dir = tempfile::tempdir().expect("temp dir");
    let now: i64 = NOW.parse().expect("now");
    let store = LocalStore::open(&dir.path().join("local.db"), now).expect("store");
    let wrong = runtime().block_on(check("local store", &store, now));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn kv_standin_answers_as_cloudflare() {
    crate::support::timed();
    let standin = kv_standin::Standin::start(kv_standin::Options::default());
    standin.create_namespace(NS);
    let store = cloudflare_client(standin.base_url(), standin.account_id(), standin.token());
    let wrong = runtime().block_on(check("kv-standin", &store, real_now()));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `wrangler dev`'s Local Explorer API through kvsync's `wrangler-dev` store, on the namespace
/// the fixture Worker binds as `CONFORMANCE`. Every row runs but expiry
/// ([`keys_expire_at_their_expiration`]): `wrangler dev` keeps real time. The refusals are the
/// store's own (the explorer accepts more than Cloudflare), which is the point: what applies in
/// development applies in production.
#[test]
fn wrangler_dev_answers_as_cloudflare() {
    let dev = crate::wrangler_dev::WranglerDev::shared();
    let store = dev.store();
    let wrong = runtime().block_on(check("wrangler dev", &store, real_now()));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_simulator_answers_as_cloudflare() {
    let simulator = Simulator::shared();
    let store = simulator.client();
    let wrong = runtime().block_on(check("simulator", &store, real_now()));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The row for `namespace_title:`. Cloudflare lists every namespace of the account with its
/// title (`GET …/storage/kv/namespaces`, a page of up to 1,000; an account holds at most
/// 1,000, so one request lists them all, and kvsync still follows a second page should there
/// be one). The local store has no titles: a title names the namespace derived from it. The
/// simulator serves no namespace listing, so it has no runner for this row.
#[test]
fn namespaces_are_found_by_title() {
    crate::support::timed();
    use kvsync::kv::{TitleError, Titles};

    let standin = kv_standin::Standin::start(kv_standin::Options::default());
    // 1,001 namespaces besides NS: a full first page, then one more.
    for i in 0..1001u32 {
        standin.set_title(&format!("{i:032x}"), &format!("ns-{i}"));
    }
    standin.set_title(NS, "shop-FLAGS");
    let store = cloudflare_client(standin.base_url(), standin.account_id(), standin.token());
    let titles = runtime().block_on(store.namespace_titles()).expect("kv-standin lists");
    let Titles::Listed(listed) = &titles else { panic!("kv-standin: {titles:?}") };
    assert_eq!(listed.len(), 1002, "kv-standin: every namespace, across pages");
    assert_eq!(store.stats().namespaces, 2, "kv-standin: {}", store.stats());
    assert_eq!(titles.resolve("shop-FLAGS"), Ok(NS.to_owned()), "kv-standin");
    assert_eq!(titles.resolve("ns-1000"), Ok(format!("{:032x}", 1000)), "kv-standin");
    assert!(
        matches!(titles.resolve("shop-flags"), Err(TitleError::Missing { close, .. }) if close == ["shop-FLAGS"]),
        "kv-standin: titles are case-sensitive"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let now: i64 = NOW.parse().expect("now");
    let local = LocalStore::open(&dir.path().join("local.db"), now).expect("store");
    let titles = runtime().block_on(local.namespace_titles()).expect("local store");
    assert_eq!(titles, Titles::Derived, "local store");
    assert_eq!(titles.resolve("shop-FLAGS"), Ok(kvsync::kv::titles::local_id("shop-FLAGS")));
}
