//! A stateful stand-in of Cloudflare's Workers KV REST API (v4), on 127.0.0.1, with fault
//! injection and request counting, so that kvsync's tests and benchmarks never need the internet.
//!
//! What this crate owns: imitating Cloudflare, and nothing else. Every behaviour follows
//! `shared/cloudflare-kv-api.md` (cited below as "doc §N"); where that document marks a fact
//! UNVERIFIED, the choice made here is written next to the code. The crate must not depend on
//! kvsync or know its types: it is the other side of the wire, and it is only useful for as long
//! as it disagrees with kvsync exactly where Cloudflare would.
//!
//! What is imitated (doc §1): list namespaces with their titles (§1.1, titles set with
//! [`Standin::set_title`]), list keys (§1.2), read a value (§1.3), write a value, raw or
//! multipart (§1.5, parsed as the Fetch standard's `formData()` does: a part without a
//! `filename` is UTF-8 text), bulk write (§1.7, its `value` string held to 26,214,400 characters), bulk
//! delete on both routes (§1.8), bulk get (§1.9, text reads dropping a leading U+FEFF as
//! workerd's decoder does), with the envelopes of §0.1, the limits of §2,
//! percent-decoded keys in URLs (§3), the errors of §5 and bearer-token auth (§6.1). Other routes
//! answer `404` with code 7003, as Cloudflare does for a URI it cannot route. Namespaces exist only
//! when a test creates them ([`Standin::create_namespace`], [`Standin::set_title`]).
//!
//! What tests get besides the API: direct state access ([`Standin::seed`], [`Standin::get`],
//! [`Standin::keys`]), exact request counts by kind ([`Standin::counts`], DESIGN.md §9 asserts
//! them), a settable clock for expiry ([`Standin::set_clock`]), a per-page list latency (DESIGN.md
//! §9 benchmarks against ~15 ms pages), and a queue of [`Fault`]s.
//!
//! ```no_run
//! use kv_standin::{Endpoint, Fault, Options, RetryAfter, Standin};
//!
//! let standin = Standin::start(Options::default());
//! standin.create_namespace("0f2ac74b498b48028cb68387c421e279");
//! standin.seed("0f2ac74b498b48028cb68387c421e279", "greeting", b"hello", None, None);
//! standin.inject(Fault::RateLimited { endpoint: Endpoint::List, retry_after: RetryAfter::Seconds(1) });
//! // Point the client at `standin.base_url()` with `Authorization: Bearer {standin.token()}`.
//! assert_eq!(standin.counts().total, 0);
//! ```

mod api;
mod bulk;
mod envelope;
mod fault;
mod store;

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

pub use fault::{Endpoint, Fault, MalformedBody, RetryAfter};

use store::{Namespace, Store};

/// How a [`Standin`] behaves. Build it with struct update syntax over [`Options::default`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The only account id the stand-in serves. Doc §0.3: at most 32 characters.
    pub account_id: String,
    /// The only accepted API token, sent as `Authorization: Bearer <token>` (doc §6.1).
    pub token: String,
    /// Time the server waits before answering each list page (§1.2), like a real backend would
    /// take. DESIGN.md §9 benchmarks against ~15 ms per page. Zero by default.
    pub list_latency: Duration,
    /// When true, deleted and expired keys leave tombstones that still take up a slot of a list
    /// page without being returned, so a page can be short or empty while its cursor continues.
    /// Doc §1.2 "Empty pages" describes this for KV (documented for the binding; "implied" for
    /// REST). When false (the default), every page but the last is full.
    pub page_tombstones: bool,
    /// The API-wide request budget advertised in the `Ratelimit` headers (doc §4).
    pub rate_limit: RateLimit,
    /// The loopback port to listen on; 0 (the default) takes any free port.
    pub port: u16,
    /// Random faults on top of the queued ones, for convergence tests; off by default.
    pub chaos: Option<Chaos>,
}

/// Faults drawn at random (from a seeded generator, so a failing run can be replayed) for every
/// request that no queued [`Fault`] matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chaos {
    /// Seeds the generator.
    pub seed: u64,
    /// Percent of requests answered `429` with `Retry-After: 0`.
    pub rate_limited_percent: u8,
    /// Percent of bulk writes and deletes carried out and then answered `503`: the lost answer
    /// an idempotent retry must cope with.
    pub lost_write_percent: u8,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            // The example account id of Cloudflare's own API documentation: 32 hex digits (§0.3).
            account_id: "023e105f4ecef8ad9ca31a8372d0c353".to_owned(),
            token: "kv-standin-token".to_owned(),
            list_latency: Duration::ZERO,
            page_tombstones: false,
            rate_limit: RateLimit::default(),
            port: 0,
            chaos: None,
        }
    }
}

/// The request budget of doc §4: 1,200 requests per 5 minutes per token by default.
///
/// The stand-in counts every request against a fixed window that starts with the first request,
/// and reports what is left in `Ratelimit: "default";r=<remaining>;t=<seconds to reset>` and
/// `Ratelimit-Policy: "burst";q=<quota>;w=<window>` on every response, in the format doc §4
/// records. It only refuses requests over the budget when `enforce` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window (`q`).
    pub quota: u32,
    /// Length of the window (`w`, sent in whole seconds).
    pub window: Duration,
    /// When true, requests over the quota get `429` with `Retry-After` until the window ends,
    /// as the real API blocks all calls for the rest of the 5 minutes (doc §4). Counted in
    /// [`Counts::rate_limited`], not as injected faults.
    pub enforce: bool,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit { quota: 1200, window: Duration::from_secs(300), enforce: false }
    }
}

/// HTTP requests received, by kind. Every request is counted exactly once, when it arrives,
/// whatever its answer: an auth failure, a validation error or an injected fault all count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `GET .../keys` (doc §1.2).
    pub list: u64,
    /// `GET .../values/{key}` (doc §1.3).
    pub get_value: u64,
    /// `POST .../bulk/get` (doc §1.9).
    pub bulk_get: u64,
    /// `PUT .../bulk` (doc §1.7).
    pub bulk_put: u64,
    /// `PUT .../values/{key}` (doc §1.5).
    pub put_value: u64,
    /// `POST .../bulk/delete` and the deprecated `DELETE .../bulk` (doc §1.8).
    pub bulk_delete: u64,
    /// `GET .../storage/kv/namespaces` (doc §1.1).
    pub namespaces: u64,
    /// Any other method and path (answered 404 code 7003).
    pub other: u64,
    /// All requests: the sum of the kinds above.
    pub total: u64,
    /// Requests a queued [`Fault`] was applied to.
    pub injected: u64,
    /// Requests refused because [`RateLimit::enforce`] was on and the budget was spent.
    pub rate_limited: u64,
    /// Keys read, as Cloudflare bills them (doc §2, one read per key, missing keys included):
    /// each distinct key of a bulk get that was answered, and each single read that reached
    /// the namespace.
    pub keys_read: u64,
}

/// A stored key as [`Standin::get`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKey {
    /// The value bytes, after any base64 decoding.
    pub value: Vec<u8>,
    /// The metadata exactly as written (object key order kept), or `None`.
    pub metadata: Option<serde_json::Value>,
    /// Absolute expiry in unix seconds, even when the key was written with a TTL (doc §1.2).
    pub expiration: Option<i64>,
}

/// A running stand-in. The server stops when this is dropped or [`Standin::shutdown`] is called.
pub struct Standin {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Standin {
    /// Starts the server on `127.0.0.1` (at `options.port`, any free port by default) in a background thread with its own tokio runtime, so
    /// synchronous tests and tests on any other runtime can use it. The port is listening when
    /// this returns.
    ///
    /// # Panics
    /// When the options are unusable (an account id that is empty, longer than 32 characters or
    /// contains `/`; an empty token; a zero quota or window) or the loopback port cannot be bound.
    /// These are mistakes in a test's setup, never in what a client sends.
    pub fn start(options: Options) -> Standin {
        assert!(
            is_identifier(&options.account_id),
            "account id must be 1..=32 characters without `/`"
        );
        assert!(!options.token.is_empty(), "the token must not be empty");
        assert!(
            options.rate_limit.quota > 0 && !options.rate_limit.window.is_zero(),
            "the rate limit needs a quota and a window"
        );
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:{}: {e}", options.port));
        listener.set_nonblocking(true).expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("local address of the listener");
        // Two workers: enough for a client that lists several scopes in parallel, small enough
        // not to compete with the client under test for the cores of a small CI machine.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kv-standin-worker")
            .enable_all()
            .build()
            .expect("build the stand-in's tokio runtime");
        let shared = Arc::new(Shared::new(options));
        let (stop, stopped) = oneshot::channel();
        let server_state = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("kv-standin {addr}"))
            .spawn(move || api::serve(runtime, listener, server_state, stopped))
            .expect("spawn the stand-in thread");
        Standin { shared, addr, stop: Some(stop), thread: Some(thread) }
    }

    /// The API base URL, e.g. `http://127.0.0.1:43127/client/v4`: the stand-in's counterpart of
    /// `https://api.cloudflare.com/client/v4` (doc, "Base URL").
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// The account id the stand-in serves.
    pub fn account_id(&self) -> &str {
        &self.shared.options.account_id
    }

    /// The only accepted bearer token.
    pub fn token(&self) -> &str {
        &self.shared.options.token
    }

    /// Creates an empty namespace; a namespace that already exists is left as it is. Requests to
    /// a namespace that was never created get 404 code 10013 (doc §5).
    ///
    /// # Panics
    /// When `id` is empty, longer than 32 characters or contains `/` (doc §0.3): the real API has
    /// no such namespace, so a test that uses one would test nothing.
    pub fn create_namespace(&self, id: &str) {
        assert!(is_identifier(id), "namespace id {id:?} must be 1..=32 characters without `/`");
        self.shared.lock().store.namespaces.entry(id.to_owned()).or_default();
    }

    /// Sets the title a namespace listing (`GET .../storage/kv/namespaces`, doc §1.1) gives the
    /// namespace `id`, creating the namespace when it does not exist. Unlike Cloudflare, which
    /// refuses a second namespace with a title already taken (code 10014), two namespaces may
    /// share a title here, so a client's handling of an ambiguous title can be tested.
    ///
    /// # Panics
    /// As [`Standin::create_namespace`], for an id the real API cannot have.
    pub fn set_title(&self, id: &str, title: &str) {
        assert!(is_identifier(id), "namespace id {id:?} must be 1..=32 characters without `/`");
        let mut state = self.shared.lock();
        state.store.namespaces.entry(id.to_owned()).or_default().title = Some(title.to_owned());
    }

    /// Writes a key directly, bypassing the API and its validation (so a test can build states
    /// the API would refuse, such as binary values or past expirations).
    ///
    /// # Panics
    /// When the namespace was not created, or the metadata cannot be serialized.
    pub fn seed(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        metadata: Option<serde_json::Value>,
        expiration: Option<i64>,
    ) {
        let metadata = metadata
            .filter(|m| !m.is_null())
            .map(|m| serde_json::value::to_raw_value(&m).expect("metadata serializes to JSON"));
        let entry = store::Entry::new(Bytes::copy_from_slice(value), metadata, expiration);
        let mut state = self.shared.lock();
        namespace_mut(&mut state, ns).put(key.to_owned(), entry);
    }

    /// Reads a key directly. Expired and deleted keys are `None`, as they are to the API.
    ///
    /// # Panics
    /// When the namespace was not created.
    pub fn get(&self, ns: &str, key: &str) -> Option<StoredKey> {
        let state = self.shared.lock();
        let now = state.now();
        let entry = namespace(&state, ns).get(key, now)?;
        Some(StoredKey {
            value: entry.value.to_vec(),
            metadata: entry.metadata.as_ref().and_then(|m| serde_json::from_str(m.get()).ok()),
            expiration: entry.expiration,
        })
    }

    /// The visible keys of a namespace, in UTF-8 byte order (the order of doc §1.2).
    ///
    /// # Panics
    /// When the namespace was not created.
    pub fn keys(&self, ns: &str) -> Vec<String> {
        let state = self.shared.lock();
        let now = state.now();
        namespace(&state, ns).visible_keys(now)
    }

    /// The request counts since the start or the last [`Standin::reset_counts`].
    pub fn counts(&self) -> Counts {
        self.shared.lock().counts
    }

    /// Sets every count to zero.
    pub fn reset_counts(&self) {
        self.shared.lock().counts = Counts::default();
    }

    /// Queues a fault. Each request takes the first queued fault that matches it (see [`Fault`]
    /// for what matches what), so faults for different endpoints wait for their own requests and
    /// faults for the same endpoint are used in the order they were queued.
    ///
    /// # Panics
    /// When a status is not one the fault can send (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        fault.check();
        if matches!(fault, Fault::EmptyPageWithCursor { count: 0 }) {
            return;
        }
        self.shared.lock().faults.push_back(fault);
    }

    /// How many queued faults no request has used yet (an `EmptyPageWithCursor` counts once).
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Lets every request held by a [`Fault::Hold`] go on, and every later one too (a `Hold`
    /// injected after this does not hold).
    pub fn release(&self) {
        self.shared.released.send_replace(true);
    }

    /// Fixes the clock (unix seconds) that expiry and expiration validation use. By default the
    /// stand-in uses the system time.
    pub fn set_clock(&self, now: i64) {
        self.shared.lock().clock = Some(now);
    }

    /// Stops the server and waits for its thread. Requests in flight (a stalled one, say) are
    /// dropped, not finished. Dropping the `Standin` does the same.
    pub fn shutdown(self) {
        drop(self);
    }
}

/// Shows where the server listens, not its state (which may hold a million keys).
impl std::fmt::Debug for Standin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standin").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already be gone (it never exits on its own, but a failed send
            // only means there is nothing left to stop).
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has already been printed; don't panic in drop.
            let _ = thread.join();
        }
    }
}

/// Doc §0.3: account and namespace ids are strings of at most 32 characters. `/` would make the
/// id a path of its own.
fn is_identifier(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= 32 && !id.contains('/')
}

fn namespace<'a>(state: &'a State, ns: &str) -> &'a Namespace {
    state
        .store
        .namespaces
        .get(ns)
        .unwrap_or_else(|| panic!("namespace {ns:?} was not created (call create_namespace first)"))
}

fn namespace_mut<'a>(state: &'a mut State, ns: &str) -> &'a mut Namespace {
    state
        .store
        .namespaces
        .get_mut(ns)
        .unwrap_or_else(|| panic!("namespace {ns:?} was not created (call create_namespace first)"))
}

/// What the server and the test handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: Options,
    state: Mutex<State>,
    /// Opens once [`Standin::release`] is called: held requests ([`Fault::Hold`]) wait on it.
    released: tokio::sync::watch::Sender<bool>,
}

impl Shared {
    fn new(options: Options) -> Shared {
        let chaos_state = options.chaos.map_or(1, |c| c.seed | 1);
        Shared {
            options,
            released: tokio::sync::watch::Sender::new(false),
            state: Mutex::new(State {
                store: Store::default(),
                counts: Counts::default(),
                faults: VecDeque::new(),
                clock: None,
                window: None,
                chaos_state,
            }),
        }
    }

    /// Waits until held requests are released ([`Standin::release`]).
    pub(crate) async fn held(&self) {
        let mut released = self.released.subscribe();
        // An error means the sender is gone: the server is shutting down.
        let _ = released.wait_for(|released| *released).await;
    }

    /// Locks the state. A panic while the lock was held (only a test helper can panic, and only
    /// before it changes anything) leaves the state consistent, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Everything mutable, behind one mutex. Every operation under the lock is O(request + log n),
/// never O(n): the benchmarks hold 1,000,000 keys (DESIGN.md §9).
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) counts: Counts,
    pub(crate) faults: VecDeque<Fault>,
    clock: Option<i64>,
    /// The current rate-limit window: when it started and how many requests it has seen.
    window: Option<(Instant, u32)>,
    /// The state of the [`Chaos`] generator (xorshift64*).
    chaos_state: u64,
}

impl State {
    /// The next chaos draw, 0..100 (xorshift64*: tiny, seeded, good enough for fault rolls).
    pub(crate) fn roll(&mut self) -> u8 {
        let mut x = self.chaos_state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.chaos_state = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as u8 % 100
    }

    /// The clock of expiry: fixed by `set_clock`, else the system time in unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.clock.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        })
    }

    /// Counts one request against the rate-limit window and returns (remaining, seconds until
    /// the window resets, whether the request is over the quota).
    pub(crate) fn spend_budget(&mut self, limit: &RateLimit) -> (u32, u64, bool) {
        let now = Instant::now();
        let (start, used) = match self.window {
            Some((start, used)) if now.duration_since(start) < limit.window => (start, used),
            _ => (now, 0),
        };
        let used = used.saturating_add(1);
        self.window = Some((start, used));
        let left = limit.window.saturating_sub(now.duration_since(start));
        // Doc §4: the reset time and `retry-after` are whole seconds, rounded up.
        let reset = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        (limit.quota.saturating_sub(used), reset.max(1), used > limit.quota)
    }
}

/// Stored metadata: compact JSON text, spliced into responses as it is.
pub(crate) type Metadata = Box<RawValue>;
