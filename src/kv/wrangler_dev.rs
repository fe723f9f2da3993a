//! The `wrangler-dev` target: the KV store a running `wrangler dev` reads, through the Local
//! Explorer API its dev server serves (`cloudflare-kv-api.md`, appendix).
//!
//! The explorer speaks production's KV routes without `/accounts/{account_id}`, in the same
//! envelope, so the HTTP side is the Cloudflare client's ([`CloudflareStore::local_explorer`]);
//! this module adds what sets the explorer apart:
//! - it accepts any namespace id, and a write to one no binding uses is lost to the Worker: every
//!   operation first checks the id against the namespaces the server binds (`GET …/storage/kv/
//!   namespaces`, asked once), so an unbound id is refused before any write;
//! - it accepts things Cloudflare refuses: Cloudflare's refusals ([`refusal`]) run here first,
//!   so what applies in development applies in production;
//! - its single-key PUT ignores expirations: a pair that fits no bulk-write item (a binary over
//!   19,660,800 bytes) and expires is refused instead of written without its expiration. Bulk
//!   get ignores `type` (a binary value comes back with U+FFFD, which the Cloudflare client
//!   already reads again singly), single GET has no expiration header and there is no metadata
//!   route: kvsync reads expirations and metadata from the listing only, as it does anyway.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::cloudflare::{CloudflareStore, RequestStats, RetryNotice};
use super::refusal;
use super::retry::Timings;
use super::wire::fits_bulk_item;
use super::{BULK_GET_MAX, BulkOutcome, Error, KvStore, ListPage, LiveValue, PendingPage};
use super::{PutPair, ReadHint, TargetKind};
use crate::content::Expiration;
use crate::env_vars::{
    KVSYNC_HTTP_TIMEOUT_MS, KVSYNC_RATE_LIMIT, KVSYNC_RATE_WINDOW_MS, KVSYNC_RETRY_BASE_MS,
    KVSYNC_RETRY_MAX_ATTEMPTS, KVSYNC_WRANGLER_DEV_URL,
};

mod problem;

pub use problem::{DevUrlProblem, Problem};

/// Where `wrangler dev` serves unless told otherwise.
pub const DEFAULT_DEV_URL: &str = "http://127.0.0.1:8787";

/// Where on the dev server the Local Explorer API lives.
pub const EXPLORER_PATH: &str = "/cdn-cgi/local/explorer/api";

/// The dev server's URL: `flag` (`--dev-url`), else `KVSYNC_WRANGLER_DEV_URL`, else
/// [`DEFAULT_DEV_URL`]. Empty values count as unset.
pub fn dev_url(flag: Option<&str>, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    flag.map(str::to_owned)
        .into_iter()
        .chain(lookup(KVSYNC_WRANGLER_DEV_URL))
        .map(|url| url.trim().to_owned())
        .find(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_DEV_URL.to_owned())
}

/// The explorer's base URL for a dev server URL (`http://127.0.0.1:8787`, or the explorer's
/// own URL). The host must be `127.0.0.1` or `localhost`: the explorer refuses requests for any
/// other `Host` (HTTP 403).
pub fn explorer_url(dev_url: &str) -> Result<String, Error> {
    let bad = |why| Error::from(Problem::BadDevUrl { dev_url: dev_url.to_owned(), why });
    let trimmed = dev_url.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(trimmed)
        .map_err(|err| bad(DevUrlProblem::NotAUrl { detail: err.to_string() }))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(DevUrlProblem::NotHttp));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(bad(DevUrlProblem::Extras));
    }
    let host = url.host_str().unwrap_or_default();
    if !(host == "127.0.0.1" || host.eq_ignore_ascii_case("localhost")) {
        return Err(bad(DevUrlProblem::OtherHost { host: host.to_owned() }));
    }
    match url.path().trim_end_matches('/') {
        "" => Ok(format!("{trimmed}{EXPLORER_PATH}")),
        EXPLORER_PATH => Ok(trimmed.to_owned()),
        other => Err(bad(DevUrlProblem::Path { path: other.to_owned() })),
    }
}

/// The client timings for a dev server on this machine: the `KVSYNC_*` settings when set;
/// otherwise one retry after 200 ms (a refused connection means nothing listens there, and
/// waiting minutes would not change that), no rate budget (the explorer has no API limit), and
/// 10 minutes per request: the explorer takes minutes over a bulk write of 10,000 keys on a
/// small machine, and a retry of a write it is still working on only doubles its work.
pub fn timings(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Timings, Error> {
    let mut timings = Timings::from_env(lookup)?;
    let unset = |name: &str| lookup(name).is_none_or(|value| value.trim().is_empty());
    if unset(KVSYNC_HTTP_TIMEOUT_MS) {
        timings.request_timeout = std::time::Duration::from_secs(600);
    }
    if unset(KVSYNC_RETRY_MAX_ATTEMPTS) {
        timings.max_attempts = 2;
    }
    if unset(KVSYNC_RETRY_BASE_MS) {
        timings.backoff_base = std::time::Duration::from_millis(200);
    }
    if unset(KVSYNC_RATE_LIMIT) && unset(KVSYNC_RATE_WINDOW_MS) {
        timings.rate_limit = u32::MAX;
        timings.rate_window = std::time::Duration::from_secs(1);
    }
    Ok(timings)
}

/// What [`WranglerDevStore::new`] needs.
#[derive(Debug, Clone)]
pub struct WranglerDevConfig {
    /// The dev server as the user gave it ([`dev_url`]).
    pub dev_url: String,
    pub timings: Timings,
    /// The clock, unix seconds, for Cloudflare's expiration refusals.
    pub now: i64,
}

/// A bound namespace: its id and title (the binding's name).
type Bound = Vec<(String, String)>;

/// The store behind `--target wrangler-dev`.
pub struct WranglerDevStore {
    http: CloudflareStore,
    /// The dev server's URL as given, for messages.
    dev_url: String,
    now: i64,
    /// The namespaces the server binds, asked once; a failure is kept for the run.
    bound: OnceCell<Result<Bound, Problem>>,
}

impl WranglerDevStore {
    /// Checks the URL and sets up the client; nothing is sent until the first operation.
    pub fn new(config: WranglerDevConfig) -> Result<WranglerDevStore, Error> {
        let api_url = explorer_url(&config.dev_url)?;
        let http = CloudflareStore::local_explorer(&api_url, config.timings)?;
        Ok(WranglerDevStore {
            http,
            dev_url: config.dev_url.trim().trim_end_matches('/').to_owned(),
            now: config.now,
            bound: OnceCell::new(),
        })
    }

    /// Calls `notice` with one line before each retry's wait.
    pub fn on_retry(&mut self, notice: RetryNotice) {
        self.http.on_retry(notice);
    }

    /// The requests sent so far.
    pub fn stats(&self) -> RequestStats {
        self.http.stats()
    }

    /// The namespaces the dev server binds, `(id, binding)`, asked once per run.
    pub async fn bound_namespaces(&self) -> Result<&Bound, Error> {
        let bound = self
            .bound
            .get_or_init(|| async {
                self.http.explorer_namespaces().await.map_err(|error| self.not_there(error))
            })
            .await;
        bound.as_ref().map_err(|problem| problem.clone().into())
    }

    /// Refuses a namespace the dev server does not bind (the explorer would accept it, and no
    /// Worker would ever see what was written there).
    async fn check_bound(&self, namespace_id: &str) -> Result<(), Error> {
        let bound = self.bound_namespaces().await?;
        if bound.iter().any(|(id, _)| id == namespace_id) {
            return Ok(());
        }
        Err(Problem::NotBound {
            namespace_id: namespace_id.to_owned(),
            url: self.dev_url.clone(),
            bound: bound.clone(),
        }
        .into())
    }

    /// Why the first request found no dev server kvsync can use.
    fn not_there(&self, error: Error) -> Problem {
        let url = self.dev_url.clone();
        match error {
            Error::Transport { detail, .. } => Problem::NothingAnswers { url, detail },
            Error::Api { status: 403, .. } | Error::Decode { status: 403, .. } => {
                Problem::Forbidden { url }
            }
            Error::Api { status, .. } | Error::Decode { status, .. } if status == 404 => {
                Problem::NoExplorer { url }
            }
            Error::Api { .. } | Error::Decode { .. } | Error::RateLimited { .. } => {
                Problem::NotTheExplorer { url, error: Arc::new(error) }
            }
            other => Problem::Unreached(Arc::new(other)),
        }
    }

    /// An error of a request after the first, worded for the dev server.
    fn dev_error(&self, error: Error) -> Error {
        let url = self.dev_url.clone();
        match error {
            Error::Transport { endpoint, detail } => Problem::Lost { url, endpoint, detail }.into(),
            Error::Api { endpoint, status, codes, messages } => {
                Problem::Refused { url, endpoint, status, codes, messages }.into()
            }
            Error::Decode { endpoint, status, detail } => {
                Problem::Unexpected { url, endpoint, status, detail }.into()
            }
            other => other,
        }
    }
}

impl KvStore for WranglerDevStore {
    fn capabilities(&self) -> super::Capabilities {
        TargetKind::WranglerDev.capabilities()
    }

    async fn list_page(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<ListPage, Error> {
        self.list_page_pending(namespace_id, prefix, cursor).await?.decode()
    }

    async fn list_page_pending(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<PendingPage, Error> {
        self.check_bound(namespace_id).await?;
        let page = self.http.list_page_pending(namespace_id, prefix, cursor).await;
        page.map_err(|error| self.dev_error(error))
    }

    async fn bulk_get(&self, namespace_id: &str, keys: &[String]) -> Result<Vec<LiveValue>, Error> {
        self.read_values(namespace_id, keys, &[]).await
    }

    /// Bulk get for text, single GETs for what must be exact or is not text (the Cloudflare
    /// client's rules, which the explorer's bulk get needs: it returns binary as text with
    /// U+FFFD).
    async fn read_values(
        &self,
        namespace_id: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> Result<Vec<LiveValue>, Error> {
        for chunk in keys.chunks(BULK_GET_MAX) {
            refusal::check_get_keys(chunk)?;
        }
        self.check_bound(namespace_id).await?;
        let values = self.http.read_values(namespace_id, keys, hints).await;
        values.map_err(|error| self.dev_error(error))
    }

    async fn bulk_put(&self, namespace_id: &str, pairs: &[PutPair]) -> Result<BulkOutcome, Error> {
        refusal::check_put_pairs(pairs, self.now)?;
        check_expirations_travel(pairs)?;
        self.check_bound(namespace_id).await?;
        let outcome = self.http.bulk_put(namespace_id, pairs).await;
        outcome.map_err(|error| self.dev_error(error))
    }

    async fn bulk_delete(&self, namespace_id: &str, keys: &[String]) -> Result<BulkOutcome, Error> {
        refusal::check_delete_keys(keys)?;
        self.check_bound(namespace_id).await?;
        let outcome = self.http.bulk_delete(namespace_id, keys).await;
        outcome.map_err(|error| self.dev_error(error))
    }
}

/// The explorer's single-key PUT ignores `expiration` and `expiration_ttl`: a pair that fits no
/// bulk-write item (which only that PUT could carry) must not expire, or it would be written to
/// live forever.
fn check_expirations_travel(pairs: &[PutPair]) -> Result<(), Error> {
    let Some(pair) =
        pairs.iter().find(|pair| pair.expiration != Expiration::Never && !fits_bulk_item(pair))
    else {
        return Ok(());
    };
    Err(Problem::ExpiringTooLarge { key: pair.key.clone(), bytes: pair.value.len() }.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_the_variable_then_the_default() {
        let env = |value: Option<&'static str>| {
            move |name: &str| {
                (name == KVSYNC_WRANGLER_DEV_URL).then_some(value).flatten().map(str::to_owned)
            }
        };
        assert_eq!(dev_url(None, &env(None)), DEFAULT_DEV_URL);
        assert_eq!(dev_url(None, &env(Some(" "))), DEFAULT_DEV_URL);
        assert_eq!(dev_url(None, &env(Some("http://localhost:9000"))), "http://localhost:9000");
        assert_eq!(dev_url(Some("http://127.0.0.1:1"), &env(Some("x"))), "http://127.0.0.1:1");
    }

    #[test]
    fn the_explorer_is_reached_through_127_0_0_1_or_localhost_only() {
        let api = |url: &str| explorer_url(url).map_err(|e| e.to_string());
        assert_eq!(
            api("http://127.0.0.1:8787/").expect("ok"),
            format!("http://127.0.0.1:8787{EXPLORER_PATH}")
        );
        assert_eq!(
            api("http://LOCALHOST:9").expect("ok"),
            format!("http://LOCALHOST:9{EXPLORER_PATH}")
        );
        let full = format!("http://localhost:8787{EXPLORER_PATH}/");
        assert_eq!(api(&full).expect("ok"), format!("http://localhost:8787{EXPLORER_PATH}"));
        for bad in [
            "http://0.0.0.0:8787",
            "http://[::1]:8787",
            "http://example.com",
            "ftp://127.0.0.1",
            "http://127.0.0.1:8787/other",
            "http://127.0.0.1:8787/?q",
            "http://user@127.0.0.1:8787",
            "127.0.0.1:8787",
        ] {
            let error = api(bad).expect_err(bad);
            assert!(error.starts_with(&format!("`--dev-url` `{bad}`")), "{error}");
        }
    }

    #[test]
    fn an_expiring_value_too_large_for_a_bulk_item_is_refused() {
        let pair = |len: usize, expiration| PutPair {
            key: "big".to_owned(),
            value: vec![0xff; len],
            metadata: serde_json::Value::Null,
            expiration,
        };
        let limit = 19_660_800;
        assert!(check_expirations_travel(&[pair(limit, Expiration::Ttl(60))]).is_ok());
        assert!(check_expirations_travel(&[pair(limit + 1, Expiration::Never)]).is_ok());
        let error = check_expirations_travel(&[pair(limit + 1, Expiration::Ttl(60))])
            .expect_err("would lose its TTL");
        assert!(error.to_string().starts_with("key `big`: a value of 19660801 bytes"), "{error}");
        assert!(
            check_expirations_travel(&[pair(limit + 1, Expiration::At(2_000_000_000))]).is_err()
        );
    }

    #[test]
    fn dev_timings_fail_fast_unless_told_otherwise() {
        let quick = timings(&|_| None).expect("defaults");
        assert_eq!(quick.max_attempts, 2);
        assert_eq!(quick.rate_limit, u32::MAX);
        assert_eq!(quick.request_timeout, std::time::Duration::from_secs(600));
        let told = timings(&|name| (name == KVSYNC_RETRY_MAX_ATTEMPTS).then(|| "5".to_owned()))
            .expect("set");
        assert_eq!(told.max_attempts, 5);
    }
}
