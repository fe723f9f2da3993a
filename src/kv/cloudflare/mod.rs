//! The Cloudflare target: [`KvStore`] over the Workers KV REST API (v4).
//!
//! This module owns the HTTP side of kvsync: which endpoint each store operation calls, the
//! headers (`Authorization: Bearer`, `User-Agent`), how an answer becomes data or an
//! [`Error`], and the hints that go with the API's error codes. Every fact it relies on is in
//! `cloudflare-kv-api.md`; the section numbers below point there. Timing (retries, the rate
//! budget, concurrency) is `retry.rs`'s; the JSON shapes are `wire.rs`'s.
//!
//! It must not know about plans, markers or batching: the caller (`apply::batch`) hands it
//! requests that already fit the API's limits, and the caller (`apply::executor`) retries the
//! `unsuccessful_keys` a bulk write reports. It only refuses what would be a bug to send.
//!
//! Answers are decoded defensively (§0.1): `success: false` is a failure even on HTTP 200, and
//! an answer that is empty, truncated, malformed, or an HTML page (a firewall challenge, a
//! proxy) is an [`Error::Decode`] with a short excerpt — never a panic or a hang (every attempt
//! has a timeout).

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Serializer as _;
use serde::de::{DeserializeOwned, IgnoredAny};

use super::retry::{Decision, Gate, Outcome, Sleeper, Timings, decide, parse_retry_after};
use super::token::{ApiToken, without_userinfo};
use super::wire::{
    self, BulkGetRequest, BulkGetResult, BulkResult, Envelope, ListedKeyDto, NamespaceDto,
};
use super::{
    BULK_GET_MAX, BULK_WRITE_BYTES_MAX, BULK_WRITE_MAX, BulkOutcome, Error, KvStore, LIST_PAGE_MAX,
    ListPage, LiveValue, PendingPage, PutPair, ReadHint,
};
use crate::content::Expiration;
pub use crate::env_vars::{CF_API_BASE_URL, CLOUDFLARE_API_BASE_URL};

mod decode;
mod endpoint;
mod hints;
mod stats;
#[cfg(test)]
mod tests;
mod unsendable;

use decode::*;
pub use endpoint::encode_uri_component;
use endpoint::*;
pub use hints::hint;
pub(crate) use hints::{describe_api_errors, describe_retry_after};
pub use stats::RequestStats;
use stats::*;
pub use unsendable::{Body, Unsendable};

/// Cloudflare's API, v4.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// Longest account id the API accepts (§0.3).
pub(super) const ID_MAX: usize = 32;
/// How much of an undecodable answer an error shows.
const EXCERPT_CHARS: usize = 120;

/// The API base URL: `flag` (`--api-url`) when given, else `CLOUDFLARE_API_BASE_URL`, else
/// `CF_API_BASE_URL`, else [`DEFAULT_BASE_URL`]. Empty values count as unset.
pub fn base_url(flag: Option<&str>, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    flag.map(str::to_owned)
        .into_iter()
        .chain([CLOUDFLARE_API_BASE_URL, CF_API_BASE_URL].into_iter().filter_map(lookup))
        .map(|url| url.trim().to_owned())
        .find(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
}

/// What [`CloudflareStore::new`] needs.
#[derive(Debug, Clone)]
pub struct CloudflareConfig {
    /// The API base URL, e.g. [`DEFAULT_BASE_URL`]; see [`base_url`].
    pub base_url: String,
    /// The account that owns the namespaces.
    pub account_id: String,
    pub token: ApiToken,
    pub timings: Timings,
}

/// The store behind `--target cloudflare`: one account, any of its namespaces.
pub struct CloudflareStore {
    client: reqwest::Client,
    /// `{base_url}/accounts/{account_id}/storage/kv/namespaces`, without a trailing slash.
    namespaces_url: String,
    /// Kept only to scrub it from anything the server echoes back into an error.
    token: ApiToken,
    timings: Timings,
    gate: Gate,
    counters: Counters,
    sleeper: Sleeper,
    /// Told of each retry before its wait, one line (`retrying in 2 s (attempt 2 of 6):
    /// connection refused`); the CLI prints it unless `-q`.
    on_retry: Option<RetryNotice>,
    /// Talking to `wrangler dev`'s Local Explorer API ([`CloudflareStore::local_explorer`])
    /// rather than Cloudflare: no token, and namespace ids as `wrangler dev` binds them.
    explorer: bool,
}

/// What [`CloudflareStore::on_retry`] calls with each retry's line.
pub type RetryNotice = Box<dyn Fn(&str) + Send + Sync>;

impl fmt::Debug for CloudflareStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudflareStore")
            .field("namespaces_url", &self.namespaces_url)
            .field("token", &self.token)
            .field("timings", &self.timings)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl CloudflareStore {
    /// Checks the configuration and builds the HTTP client (rustls, HTTP/2 when the server
    /// offers it, a timeout per attempt, no redirects: an API answer never redirects, and
    /// following one could carry the token to another host).
    pub fn new(config: CloudflareConfig) -> Result<CloudflareStore, Error> {
        let CloudflareConfig { base_url, account_id, token, timings } = config;
        let base_url = checked_base_url(&base_url)?;
        if !is_id(&account_id) {
            return Err(Error::BadAccountId { account_id });
        }
        // Cannot fail for a checked token (visible ASCII only); the error never shows it.
        let mut auth = HeaderValue::try_from(format!("Bearer {}", token.secret()))
            .map_err(|_| Error::TokenNotAHeader)?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        let namespaces_url = format!("{base_url}/accounts/{account_id}/storage/kv/namespaces");
        Self::with_headers(headers, namespaces_url, token, timings, false)
    }

    /// The client for `wrangler dev`'s Local Explorer API at `api_url` (`…/cdn-cgi/local/
    /// explorer/api`, checked by the caller): production's KV routes without
    /// `/accounts/{account_id}`, the same envelope, no token (`cloudflare-kv-api.md`,
    /// appendix). Any namespace id goes, percent-encoded: `wrangler dev` binds ids that are
    /// binding names.
    pub fn local_explorer(api_url: &str, timings: Timings) -> Result<CloudflareStore, Error> {
        let namespaces_url = format!("{api_url}/storage/kv/namespaces");
        Self::with_headers(HeaderMap::new(), namespaces_url, ApiToken::none(), timings, true)
    }

    fn with_headers(
        headers: HeaderMap,
        namespaces_url: String,
        token: ApiToken,
        timings: Timings,
        explorer: bool,
    ) -> Result<CloudflareStore, Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("kvsync/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(timings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Error::HttpClient { detail: error_chain(&err) })?;
        Ok(CloudflareStore {
            client,
            namespaces_url,
            token,
            gate: Gate::new(&timings),
            timings,
            counters: Counters::default(),
            sleeper: Sleeper::default(),
            on_retry: None,
            explorer,
        })
    }

    /// Calls `notice` with one line before each retry's wait, so a run that waits on an
    /// unreachable or failing API says so instead of staying silent.
    pub fn on_retry(&mut self, notice: RetryNotice) {
        self.on_retry = Some(notice);
    }

    /// The requests sent so far.
    pub fn stats(&self) -> RequestStats {
        self.counters.snapshot()
    }

    /// `{namespaces_url}/{namespace_id}`, once the id is known to be safe in a path.
    fn namespace_url(&self, namespace_id: &str) -> Result<String, Error> {
        if self.explorer && !namespace_id.is_empty() {
            Ok(format!("{}/{}", self.namespaces_url, encode_uri_component(namespace_id)))
        } else if crate::content::limits::is_namespace_id(namespace_id) {
            Ok(format!("{}/{namespace_id}", self.namespaces_url))
        } else {
            Err(Unsendable::NotANamespaceId { namespace_id: namespace_id.to_owned() }.into())
        }
    }

    /// `GET {namespaces_url}` in one request, as the Local Explorer answers it (every namespace
    /// it binds, no pages): `(id, title)` pairs.
    pub(crate) async fn explorer_namespaces(&self) -> Result<Vec<(String, String)>, Error> {
        #[derive(serde::Deserialize)]
        struct Namespace {
            id: String,
            #[serde(default)]
            title: String,
        }
        let endpoint = "GET …/storage/kv/namespaces";
        let request = self.build(endpoint, self.client.get(&self.namespaces_url))?;
        let answer = self.send(Kind::List, endpoint, request).await?;
        let envelope = self.envelope::<Vec<Namespace>>(endpoint, &answer)?;
        let Some(namespaces) = envelope.result else {
            return Err(self.decode_error(endpoint, &answer, "no list of namespaces"));
        };
        Ok(namespaces.into_iter().map(|n| (n.id, n.title)).collect())
    }

    /// Sends `request`, again after each retryable failure as [`decide`] allows, each attempt
    /// behind the [`Gate`]. Returns the last answer, whatever its status, for the caller to
    /// decode; only a rate limit that outlasted the retries and a transport failure are errors
    /// here.
    async fn send(
        &self,
        kind: Kind,
        endpoint: &str,
        request: reqwest::Request,
    ) -> Result<Answer, Error> {
        let mut attempts = 0u32;
        let mut waited = Duration::ZERO;
        loop {
            // The body is held as shared bytes, so each copy of the request is cheap.
            let Some(copy) = request.try_clone() else {
                return Err(Error::Transport {
                    endpoint: endpoint.to_owned(),
                    detail: "the request cannot be sent again".to_owned(),
                });
            };
            attempts += 1;
            let result = {
                let Some((_permit, throttled)) = self.gate.enter().await else {
                    return Err(Error::Transport {
                        endpoint: endpoint.to_owned(),
                        detail: "the client is shutting down".to_owned(),
                    });
                };
                if throttled {
                    self.counters.throttled.fetch_add(1, Ordering::Relaxed);
                }
                self.counters.sent(kind, attempts > 1);
                self.attempt(copy).await
            };
            let outcome = match &result {
                Ok(answer) => {
                    self.gate.observe(answer.header("ratelimit"));
                    outcome_of(answer)
                }
                Err(err) if err.is_timeout() => Outcome::Timeout,
                Err(_) => Outcome::Connection,
            };
            let decision = decide(attempts, outcome, waited, &self.timings);
            let delay = decision.delay(super::retry::random_u64());
            if let Some(wait) = delay {
                if let Some(notice) = &self.on_retry {
                    notice(&format!(
                        "retrying in {} (attempt {} of {}): {}",
                        describe_wait(wait),
                        attempts + 1,
                        self.timings.max_attempts,
                        retry_reason(&result, self.timings.request_timeout),
                    ));
                }
                waited += wait;
                self.sleeper.sleep(wait).await;
                continue;
            }
            debug_assert_eq!(decision, Decision::Stop);
            return match (result, outcome) {
                (Ok(_), Outcome::RateLimited { retry_after }) => {
                    Err(Error::RateLimited { endpoint: endpoint.to_owned(), retry_after })
                }
                (Ok(answer), _) => Ok(answer),
                (Err(err), _) => Err(Error::Transport {
                    endpoint: endpoint.to_owned(),
                    detail: self.redact(&transport_detail(
                        &err,
                        self.timings.request_timeout,
                        attempts,
                    )),
                }),
            };
        }
    }

    /// One attempt: send, then read the whole answer (the timeout covers both).
    async fn attempt(&self, request: reqwest::Request) -> Result<Answer, reqwest::Error> {
        let response = self.client.execute(request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.into();
        Ok(Answer { status, headers, body })
    }

    fn build(
        &self,
        endpoint: &str,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::Request, Error> {
        builder.build().map_err(|err| Error::BadRequest {
            endpoint: endpoint.to_string(),
            detail: error_chain(&err),
        })
    }

    /// Decodes a JSON envelope and checks that it reports success (§0.1). `success: false`, a
    /// non-2xx status or a failure body is [`Error::Api`]; anything that is not an envelope is
    /// [`Error::Decode`].
    fn envelope<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        answer: &Answer,
    ) -> Result<Envelope<T>, Error> {
        if let Some(detail) = not_json(&self.token, answer) {
            return Err(self.decode_error(endpoint, answer, &detail));
        }
        let parse_error = match serde_json::from_slice::<Envelope<T>>(&answer.body) {
            Ok(envelope) => {
                return match envelope.success {
                    Some(true) if answer.is_success() => Ok(envelope),
                    None if answer.is_success() && envelope.failures().is_empty() => Err(self
                        .decode_error(
                            endpoint,
                            answer,
                            "JSON without a `success` field, not an API envelope",
                        )),
                    _ => Err(self.api_error(endpoint, answer.status, envelope.failures())),
                };
            }
            Err(err) => err,
        };
        // A failure envelope may carry a `result` of another shape (§1.7); its errors are
        // still the best report.
        if let Ok(envelope) = serde_json::from_slice::<Envelope<IgnoredAny>>(&answer.body)
            && (envelope.success == Some(false) || !answer.is_success())
        {
            return Err(self.api_error(endpoint, answer.status, envelope.failures()));
        }
        let what = match parse_error.classify() {
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Data => "JSON of an unexpected shape",
            _ => "malformed JSON",
        };
        Err(self.decode_error(endpoint, answer, &format!("{what} ({parse_error})")))
    }

    fn api_error(&self, endpoint: &str, status: u16, failures: Vec<(u32, String)>) -> Error {
        let (codes, messages): (Vec<u32>, Vec<String>) =
            failures.into_iter().map(|(code, message)| (code, self.redact(&message))).unzip();
        Error::Api { endpoint: endpoint.to_owned(), status, codes, messages }
    }

    fn decode_error(&self, endpoint: &str, answer: &Answer, what: &str) -> Error {
        decode_error(&self.token, endpoint, answer, what)
    }

    /// Removes the token from text the server sent back, should it ever echo it.
    fn redact(&self, text: &str) -> String {
        redact(&self.token, text)
    }

    /// Decodes the answer of a bulk write or delete (§1.7, §1.8): `result` with
    /// `successful_key_count` and `unsuccessful_keys`, or `null`, `{}` or absent for full
    /// success. An empty 204 or 205 is full success too (wrangler accepts it, §0.1).
    fn bulk_outcome(&self, endpoint: &str, answer: &Answer) -> Result<BulkOutcome, Error> {
        if matches!(answer.status, 204 | 205) && answer.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(BulkOutcome::default());
        }
        let envelope = self.envelope::<serde_json::Value>(endpoint, answer)?;
        let result = match envelope.result {
            None | Some(serde_json::Value::Null) => BulkResult::default(),
            Some(value @ serde_json::Value::Object(_)) => {
                serde_json::from_value(value).map_err(|err| {
                    self.decode_error(endpoint, answer, &format!("an unexpected `result` ({err})"))
                })?
            }
            Some(_) => {
                return Err(self.decode_error(
                    endpoint,
                    answer,
                    "a `result` that is not an object",
                ));
            }
        };
        Ok(BulkOutcome { unsuccessful_keys: result.unsuccessful_keys.unwrap_or_default() })
    }

    /// `POST …/bulk/get` for up to [`BULK_GET_MAX`] keys, falling back to single reads when the
    /// API refuses the batch for what it holds, does not return a key, or cannot give a value
    /// as exact text.
    async fn bulk_get_chunk(
        &self,
        namespace_id: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> Result<Vec<LiveValue>, Error> {
        let url = format!("{}/bulk/get", self.namespace_url(namespace_id)?);
        let endpoint = format!("POST …/namespaces/{namespace_id}/bulk/get");
        let body = serde_json::to_vec(&BulkGetRequest { keys, kind: "text", with_metadata: false })
            .map_err(|source| Error::Encode { what: Body::BulkGet, source })?;
        let request = self.build(
            &endpoint,
            self.client.post(url).header(header::CONTENT_TYPE, "application/json").body(body),
        )?;
        let answer = self.send(Kind::BulkGet, &endpoint, request).await?;
        let values = match self.envelope::<BulkGetResult>(&endpoint, &answer) {
            // A `result` that is `null`, `{}` or without `values` returned nothing: every key
            // is read singly below, none is taken for missing (§10.2).
            Ok(envelope) => {
                self.counters.billed_reads(keys.len());
                envelope.result.and_then(|result| result.values).unwrap_or_default()
            }
            // "Keys must contain text-based values" (§1.9): the API refuses a batch that holds
            // a value it cannot return as text. Read each key of this chunk on its own.
            Err(error) if refused_for_content(&error) => {
                return self.read_singly(namespace_id, keys, hints).await;
            }
            Err(error) => return Err(error),
        };
        let mut out: Vec<Option<LiveValue>> = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(match values.get(key) {
                // Not returned: read singly.
                None => None,
                Some(serde_json::Value::Null) => Some(LiveValue::Missing),
                // A value that is not UTF-8 may come back as text with U+FFFD in place of its
                // bytes, which would show a wrong diff; read those keys on their own to get the
                // exact bytes. (A text value that really holds U+FFFD costs one extra read.)
                Some(serde_json::Value::String(text)) if text.contains('\u{FFFD}') => None,
                Some(serde_json::Value::String(text)) => Some(LiveValue::Text(text.clone())),
                Some(_) => {
                    return Err(self.decode_error(
                        &endpoint,
                        &answer,
                        &format!("the value of `{key}` is not a string"),
                    ));
                }
            });
        }
        let unsure: Vec<usize> = (0..keys.len()).filter(|&i| out[i].is_none()).collect();
        let names: Vec<String> = unsure.iter().map(|&i| keys[i].clone()).collect();
        let unsure_hints: Vec<ReadHint> =
            unsure.iter().map(|&i| hints.get(i).copied().unwrap_or_default()).collect();
        let rereads = self.read_singly(namespace_id, &names, &unsure_hints).await?;
        for (i, value) in unsure.into_iter().zip(rereads) {
            out[i] = Some(value);
        }
        Ok(out.into_iter().map(|value| value.unwrap_or(LiveValue::Missing)).collect())
    }

    /// Single reads of `keys`, concurrently (the [`Gate`] bounds them), in order. A problem
    /// with one key is its [`LiveValue::Unreadable`]; the other reads go on.
    async fn read_singly(
        &self,
        namespace_id: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> Result<Vec<LiveValue>, Error> {
        let reads = keys.iter().enumerate().map(|(i, key)| {
            self.read_one(namespace_id, key, hints.get(i).copied().unwrap_or_default())
        });
        futures_util::future::join_all(reads).await.into_iter().collect()
    }

    /// One single read of a key a listing just returned. "Key not found" is
    /// [`LiveValue::Missing`] only once the key's listed expiration has passed: Cloudflare is
    /// reported to answer 404 for some keys that exist, even percent-encoded (keys with `^` or
    /// `...`, workers-sdk issue #7997, §10.2), and such a key must never look gone.
    async fn read_one(
        &self,
        namespace_id: &str,
        key: &str,
        hint: ReadHint,
    ) -> Result<LiveValue, Error> {
        match self.get_value(namespace_id, key).await {
            Ok(LiveValue::Missing) => {
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                if hint.listed_expiration.is_some_and(|at| at <= now) {
                    Ok(LiveValue::Missing)
                } else {
                    Ok(LiveValue::Unreadable(format!(
                        "`GET …/values/{}` answered \"key not found\" for a key the listing \
                         returned and that has not expired (some keys cannot be read one by \
                         one, even URL-encoded)",
                        encode_uri_component(key)
                    )))
                }
            }
            Ok(value) => Ok(value),
            Err(error) if refused_for_key(&error) => Ok(LiveValue::Unreadable(error.to_string())),
            Err(error) => Err(error),
        }
    }

    /// `GET …/values/{key}` (§1.3): the raw bytes on 200, [`LiveValue::Missing`] on 404 with
    /// code 10009.
    async fn get_value(&self, namespace_id: &str, key: &str) -> Result<LiveValue, Error> {
        // KV cannot hold these keys (§2), and a URL cannot name them: `.` and `..` would be
        // removed as dot-segments.
        if matches!(key, "" | "." | "..") {
            return Ok(LiveValue::Missing);
        }
        let encoded = encode_uri_component(key);
        let url = format!("{}/values/{encoded}", self.namespace_url(namespace_id)?);
        let endpoint = format!("GET …/namespaces/{namespace_id}/values/{encoded}");
        let request = self.build(
            &endpoint,
            self.client.get(url).header(header::ACCEPT, "application/octet-stream"),
        )?;
        let answer = self.send(Kind::GetValue, &endpoint, request).await?;
        if answer.is_success() {
            // The only endpoint without an envelope (§0.2): any bytes are a value, HTML
            // included, unless a firewall challenge answered instead of the API.
            if is_challenge(&answer) {
                return Err(self.decode_error(&endpoint, &answer, CHALLENGE));
            }
            self.counters.billed_reads(1);
            return Ok(match String::from_utf8(answer.body) {
                Ok(text) => LiveValue::Text(text),
                Err(err) => LiveValue::Binary(err.into_bytes()),
            });
        }
        match self.envelope::<IgnoredAny>(&endpoint, &answer) {
            Err(Error::Api { status: 404, codes, .. }) if codes.contains(&10009) => {
                // Reads of missing keys are billed too (§1.9).
                self.counters.billed_reads(1);
                Ok(LiveValue::Missing)
            }
            Err(error) => Err(error),
            Ok(_) => Err(self.decode_error(&endpoint, &answer, "a success envelope, not a value")),
        }
    }

    /// `PUT …/values/{key}` (§1.5) for a value that fits no bulk-write item: `multipart/form-data`
    /// with the bytes in a `value` part and the metadata in a `metadata` part (a raw-body PUT
    /// would clear the metadata, and with it the marker), the expiration in the query string.
    /// The key travels in the URL, so a key that is not safe there is refused before sending.
    async fn put_value(&self, namespace_id: &str, pair: &PutPair) -> Result<BulkOutcome, Error> {
        if !crate::content::limits::is_url_safe(&pair.key) {
            return Err(Unsendable::KeyNotInUrl { key: pair.key.clone() }.into());
        }
        let encoded = encode_uri_component(&pair.key);
        let url = format!("{}/values/{encoded}", self.namespace_url(namespace_id)?);
        let endpoint = format!("PUT …/namespaces/{namespace_id}/values/{encoded}");
        let metadata = serde_json::to_vec(&pair.metadata).map_err(|source| Error::Encode {
            what: Body::Metadata { key: pair.key.clone() },
            source,
        })?;
        let (content_type, body) = multipart(&pair.value, &metadata);
        let mut query: Vec<(&str, String)> = Vec::new();
        match pair.expiration {
            Expiration::Never => {}
            Expiration::Ttl(seconds) => query.push(("expiration_ttl", seconds.to_string())),
            Expiration::At(at) => query.push(("expiration", at.to_string())),
        }
        let request = self.build(
            &endpoint,
            self.client
                .put(url)
                .query(&query)
                .header(header::CONTENT_TYPE, content_type)
                .body(body),
        )?;
        let answer = self.send(Kind::PutValue, &endpoint, request).await?;
        self.bulk_outcome(&endpoint, &answer)
    }
}

/// A retry's wait as a person reads it: `2 s`, `350 ms`.
fn describe_wait(wait: Duration) -> String {
    if wait >= Duration::from_secs(1) {
        format!("{} s", wait.as_secs_f64().round())
    } else {
        format!("{} ms", wait.as_millis())
    }
}

/// Why an attempt is retried, in a few words: `connection refused`, `HTTP 503`, `rate limited
/// (HTTP 429)`, `no complete answer within 60 s`.
fn retry_reason(result: &Result<decode::Answer, reqwest::Error>, timeout: Duration) -> String {
    match result {
        Ok(answer) if answer.status == 429 => "rate limited (HTTP 429)".to_owned(),
        Ok(answer) => format!("HTTP {}", answer.status),
        Err(err) if err.is_timeout() => {
            format!("no complete answer within {}", decode::describe_duration(timeout))
        }
        Err(err) => {
            let chain = error_chain(err).to_lowercase();
            ["connection refused", "connection reset", "dns error", "certificate"]
                .into_iter()
                .find(|known| chain.contains(known))
                .map_or_else(|| "the connection failed".to_owned(), str::to_owned)
        }
    }
}

/// A `multipart/form-data` body of two parts, `value` (the bytes) and `metadata` (JSON), as
/// wrangler and cloudflare-rs send them (§1.5), and its content type. The `value` part is a file
/// part (`filename="blob"`, `application/octet-stream`), as `FormData` sends a `Blob`: a parser
/// that follows the Fetch standard (a Worker's `request.formData()`) reads a part without a
/// `filename` as UTF-8 text, which would store a binary value mangled or refuse it as too large. The body is built whole
/// rather than streamed, so that a retry can send it again. The boundary is random and checked
/// against the value.
fn multipart(value: &[u8], metadata: &[u8]) -> (String, Vec<u8>) {
    let boundary = loop {
        let random = super::retry::random_u64;
        let boundary = format!("kvsync-{:016x}{:016x}", random(), random());
        if !value.windows(boundary.len()).any(|w| w == boundary.as_bytes()) {
            break boundary;
        }
    };
    let mut body = Vec::with_capacity(value.len() + metadata.len() + 4 * boundary.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"value\"; filename=\"blob\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(value);
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
             Content-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(metadata);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Namespaces asked for per page of a namespace listing: the API's maximum (§1.1), which is
/// also the most an account may hold, so one request lists them all.
const NAMESPACES_PER_PAGE: usize = 1000;

/// Pages of a namespace listing followed at most (a server that never says it is done).
const NAMESPACE_PAGES_MAX: u64 = 100;

impl KvStore for CloudflareStore {
    fn capabilities(&self) -> super::Capabilities {
        super::TargetKind::Cloudflare.capabilities()
    }

    /// `GET …/keys?limit=1000&prefix=…&cursor=…` (§1.2). `limit` and `prefix` go with every
    /// page; the listing is complete when `result_info.cursor` is `""`, null or absent, and an
    /// empty page with a cursor is just a page.
    async fn list_page(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<ListPage, Error> {
        self.list_page_pending(namespace_id, prefix, cursor).await?.decode()
    }

    /// The envelope is checked and the cursor read at once, skimming over the keys; the keys
    /// themselves (most of the work) are decoded when the caller asks, which `kv::list_all`
    /// does while the next page is on its way.
    async fn list_page_pending(
        &self,
        namespace_id: &str,
        prefix: &str,
        cursor: Option<&str>,
    ) -> Result<PendingPage, Error> {
        let url = format!("{}/keys", self.namespace_url(namespace_id)?);
        let endpoint = format!("GET …/namespaces/{namespace_id}/keys");
        let limit = LIST_PAGE_MAX.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        if let Some(cursor) = cursor.filter(|c| !c.is_empty()) {
            query.push(("cursor", cursor));
        }
        let request = self.build(&endpoint, self.client.get(url).query(&query))?;
        let answer = self.send(Kind::List, &endpoint, request).await?;
        let skimmed = self.envelope::<IgnoredAny>(&endpoint, &answer)?;
        // A page whose `result` is `null` (or absent) lists nothing, not an empty namespace:
        // taken for one, every desired key would look free of conflicts.
        if skimmed.result.is_none() {
            return Err(self.decode_error(
                &endpoint,
                &answer,
                "a success whose `result` is null, not a page of keys",
            ));
        }
        self.counters.billed_lists.fetch_add(1, Ordering::Relaxed);
        let cursor = skimmed.result_info.and_then(|info| info.cursor).filter(|c| !c.is_empty());
        let token = self.token.clone();
        Ok(PendingPage::deferred(cursor, move || {
            let keys = serde_json::from_slice::<Envelope<Vec<ListedKeyDto>>>(&answer.body)
                .map_err(|error| format!("JSON of an unexpected shape ({error})"))
                .map(|envelope| wire::listed_page(envelope.result.unwrap_or_default()));
            keys.map_err(|problem| decode_error(&token, &endpoint, &answer, &problem))
        }))
    }

    /// `GET …/storage/kv/namespaces?per_page=1000&page=N&order=id&direction=asc` (§1.1): every
    /// namespace of the account with its title. One request for up to 1,000 namespaces; a full
    /// page is followed by the next while `result_info.total_pages` (or, without it, a full
    /// page) says there are more.
    async fn namespace_titles(&self) -> Result<super::Titles, Error> {
        let endpoint = "GET …/storage/kv/namespaces".to_owned();
        let per_page = NAMESPACES_PER_PAGE.to_string();
        let mut namespaces = Vec::new();
        for page in 1..=NAMESPACE_PAGES_MAX {
            let page_text = page.to_string();
            let query = [
                ("per_page", per_page.as_str()),
                ("page", page_text.as_str()),
                ("order", "id"),
                ("direction", "asc"),
            ];
            let builder = self.client.get(&self.namespaces_url).query(&query);
            let request = self.build(&endpoint, builder)?;
            let answer = self.send(Kind::Namespaces, &endpoint, request).await?;
            let envelope = self.envelope::<Vec<NamespaceDto>>(&endpoint, &answer)?;
            let Some(items) = envelope.result else {
                return Err(self.decode_error(
                    &endpoint,
                    &answer,
                    "a success whose `result` is null, not a list of namespaces",
                ));
            };
            let full = items.len() >= NAMESPACES_PER_PAGE;
            let total_pages = envelope.result_info.and_then(|i| i.total_pages?.as_f64());
            let more = total_pages.map_or(full, |total| (page as f64) < total);
            namespaces
                .extend(items.into_iter().map(|n| super::Namespace { id: n.id, title: n.title }));
            if !more {
                return Ok(super::Titles::Listed(namespaces));
            }
        }
        Err(Error::Decode {
            endpoint,
            status: 200,
            detail: format!("the namespace listing did not end after {NAMESPACE_PAGES_MAX} pages"),
        })
    }

    /// [`read_values`](KvStore::read_values) without hints.
    async fn bulk_get(&self, namespace_id: &str, keys: &[String]) -> Result<Vec<LiveValue>, Error> {
        self.read_values(namespace_id, keys, &[]).await
    }

    /// `POST …/bulk/get` per 100 keys (§1.9), text values only; keys whose values bulk get
    /// cannot return, or does not, are read one by one with `GET …/values/{key}`, and so are
    /// keys whose exact bytes are wanted ([`ReadHint::exact`]): a text read drops a leading
    /// U+FEFF (§10.2), and bulk get is documented for text values only.
    async fn read_values(
        &self,
        namespace_id: &str,
        keys: &[String],
        hints: &[ReadHint],
    ) -> Result<Vec<LiveValue>, Error> {
        let hint = |i: usize| hints.get(i).copied().unwrap_or_default();
        let (exact, text): (Vec<usize>, Vec<usize>) = (0..keys.len()).partition(|&i| hint(i).exact);
        let mut out: Vec<Option<LiveValue>> = vec![None; keys.len()];
        for (indices, bulk) in [(text, true), (exact, false)] {
            for chunk in indices.chunks(BULK_GET_MAX) {
                let names: Vec<String> = chunk.iter().map(|&i| keys[i].clone()).collect();
                let chunk_hints: Vec<ReadHint> = chunk.iter().map(|&i| hint(i)).collect();
                let values = if bulk {
                    self.bulk_get_chunk(namespace_id, &names, &chunk_hints).await?
                } else {
                    self.read_singly(namespace_id, &names, &chunk_hints).await?
                };
                for (&i, value) in chunk.iter().zip(values) {
                    out[i] = Some(value);
                }
            }
        }
        Ok(out.into_iter().map(|value| value.unwrap_or(LiveValue::Missing)).collect())
    }

    /// `PUT …/bulk` with a JSON array of items (§1.7). The caller keeps the batch within the
    /// limits; this refuses a batch that is not, and one that names a key twice (the API
    /// leaves the outcome of duplicates unspecified).
    async fn bulk_put(&self, namespace_id: &str, pairs: &[PutPair]) -> Result<BulkOutcome, Error> {
        if pairs.is_empty() {
            return Ok(BulkOutcome::default());
        }
        if pairs.len() > BULK_WRITE_MAX {
            return Err(Unsendable::BulkWriteTooMany { count: pairs.len() }.into());
        }
        let mut seen = HashSet::with_capacity(pairs.len());
        if let Some(pair) = pairs.iter().find(|pair| !seen.insert(pair.key.as_str())) {
            return Err(Unsendable::DuplicateKey { key: pair.key.clone() }.into());
        }
        // A value that fits no bulk-write item travels alone, through the single-key PUT.
        if let Some(pair) = pairs.iter().find(|pair| !wire::fits_bulk_item(pair)) {
            if let [single] = pairs {
                return self.put_value(namespace_id, single).await;
            }
            return Err(Unsendable::NotAlone { key: pair.key.clone() }.into());
        }
        let url = format!("{}/bulk", self.namespace_url(namespace_id)?);
        let endpoint = format!("PUT …/namespaces/{namespace_id}/bulk");
        let mut body = Vec::new();
        serde_json::Serializer::new(&mut body)
            .collect_seq(pairs.iter().map(wire::bulk_write_item))
            .map_err(|source| Error::Encode { what: Body::BulkWrite, source })?;
        if body.len() >= BULK_WRITE_BYTES_MAX {
            return Err(Unsendable::BulkWriteTooLarge { bytes: body.len() }.into());
        }
        let request = self.build(
            &endpoint,
            self.client.put(url).header(header::CONTENT_TYPE, "application/json").body(body),
        )?;
        let answer = self.send(Kind::BulkPut, &endpoint, request).await?;
        self.bulk_outcome(&endpoint, &answer)
    }

    /// `POST …/bulk/delete` with a JSON array of keys (§1.8a; the deprecated `DELETE …/bulk`
    /// is not used).
    async fn bulk_delete(&self, namespace_id: &str, keys: &[String]) -> Result<BulkOutcome, Error> {
        if keys.is_empty() {
            return Ok(BulkOutcome::default());
        }
        if keys.len() > BULK_WRITE_MAX {
            return Err(Unsendable::BulkDeleteTooMany { count: keys.len() }.into());
        }
        let url = format!("{}/bulk/delete", self.namespace_url(namespace_id)?);
        let endpoint = format!("POST …/namespaces/{namespace_id}/bulk/delete");
        let body = serde_json::to_vec(keys)
            .map_err(|source| Error::Encode { what: Body::BulkDelete, source })?;
        let request = self.build(
            &endpoint,
            self.client.post(url).header(header::CONTENT_TYPE, "application/json").body(body),
        )?;
        let answer = self.send(Kind::BulkDelete, &endpoint, request).await?;
        self.bulk_outcome(&endpoint, &answer)
    }
}
