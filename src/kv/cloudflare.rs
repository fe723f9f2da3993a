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
use super::wire::{self, BulkGetRequest, BulkGetResult, BulkResult, Envelope, ListedKeyDto};
use super::{
    BULK_GET_MAX, BULK_WRITE_BYTES_MAX, BULK_WRITE_MAX, BulkOutcome, Error, KvStore, LIST_PAGE_MAX,
    ListPage, LiveValue, PendingPage, PutPair, ReadHint,
};
use crate::content::Expiration;
pub use crate::env_vars::{CF_API_BASE_URL, CLOUDFLARE_API_BASE_URL};

/// Cloudflare's API, v4.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// Longest account id the API accepts (§0.3).
const ID_MAX: usize = 32;
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
            "{} {}: {} list, {} bulk get, {} single get, {} bulk write, {} single write, {} bulk \
             delete ({} retries)",
            self.total(),
            if self.total() == 1 { "request" } else { "requests" },
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
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    List,
    BulkGet,
    GetValue,
    BulkPut,
    PutValue,
    BulkDelete,
}

#[derive(Debug, Default)]
struct Counters {
    list: AtomicU64,
    bulk_get: AtomicU64,
    get_value: AtomicU64,
    bulk_put: AtomicU64,
    put_value: AtomicU64,
    bulk_delete: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    billed_lists: AtomicU64,
    billed_reads: AtomicU64,
}

impl Counters {
    fn sent(&self, kind: Kind, retry: bool) {
        let counter = match kind {
            Kind::List => &self.list,
            Kind::BulkGet => &self.bulk_get,
            Kind::GetValue => &self.get_value,
            Kind::BulkPut => &self.bulk_put,
            Kind::PutValue => &self.put_value,
            Kind::BulkDelete => &self.bulk_delete,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> RequestStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RequestStats {
            list: read(&self.list),
            bulk_get: read(&self.bulk_get),
            get_value: read(&self.get_value),
            bulk_put: read(&self.bulk_put),
            put_value: read(&self.put_value),
            bulk_delete: read(&self.bulk_delete),
            retries: read(&self.retries),
            throttled: read(&self.throttled),
            billed_lists: read(&self.billed_lists),
            billed_reads: read(&self.billed_reads),
        }
    }

    fn billed_reads(&self, keys: usize) {
        self.billed_reads.fetch_add(keys as u64, Ordering::Relaxed);
    }
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
}

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

/// One answer, read in full.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
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
            return Err(Error::BadTarget {
                message: format!(
                    "account id `{account_id}` is not a Cloudflare account id (1 to {ID_MAX} \
                     letters, digits, `-` or `_`)"
                ),
            });
        }
        // Cannot fail for a checked token (visible ASCII only); the error never shows it.
        let mut auth =
            HeaderValue::try_from(format!("Bearer {}", token.secret())).map_err(|_| {
                Error::BadTarget {
                    message: "the API token cannot be sent in an HTTP header".into(),
                }
            })?;
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, auth);
        let client = reqwest::Client::builder()
            .user_agent(concat!("kvsync/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(timings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| Error::BadTarget {
                message: format!("cannot set up the HTTP client: {}", error_chain(&err)),
            })?;
        Ok(CloudflareStore {
            client,
            namespaces_url: format!("{base_url}/accounts/{account_id}/storage/kv/namespaces"),
            token,
            gate: Gate::new(&timings),
            timings,
            counters: Counters::default(),
            sleeper: Sleeper::default(),
        })
    }

    /// The requests sent so far.
    pub fn stats(&self) -> RequestStats {
        self.counters.snapshot()
    }

    /// `{namespaces_url}/{namespace_id}`, once the id is known to be safe in a path.
    fn namespace_url(&self, namespace_id: &str) -> Result<String, Error> {
        if crate::content::limits::is_namespace_id(namespace_id) {
            Ok(format!("{}/{namespace_id}", self.namespaces_url))
        } else {
            Err(Error::Invalid {
                message: format!(
                    "namespace id `{namespace_id}` is not a Cloudflare namespace id ({})",
                    crate::content::limits::NAMESPACE_ID_RULE
                ),
            })
        }
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
        builder.build().map_err(|err| Error::BadTarget {
            message: format!("cannot build the request `{endpoint}`: {}", error_chain(&err)),
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
            .map_err(|err| Error::Invalid { message: format!("cannot encode bulk get: {err}") })?;
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
            return Err(Error::Invalid {
                message: format!(
                    "key `{}` holds a value too large for a bulk write, and the single-key PUT \
                     cannot name it in a URL",
                    pair.key
                ),
            });
        }
        let encoded = encode_uri_component(&pair.key);
        let url = format!("{}/values/{encoded}", self.namespace_url(namespace_id)?);
        let endpoint = format!("PUT …/namespaces/{namespace_id}/values/{encoded}");
        let metadata = serde_json::to_vec(&pair.metadata).map_err(|err| Error::Invalid {
            message: format!("cannot encode the metadata of `{}`: {err}", pair.key),
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

/// A `multipart/form-data` body of two parts, `value` (the bytes) and `metadata` (JSON), as
/// wrangler and cloudflare-rs send them (§1.5), and its content type. The body is built whole
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
            "--{boundary}\r\nContent-Disposition: form-data; name=\"value\"\r\n\
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

impl KvStore for CloudflareStore {
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
            return Err(Error::Invalid {
                message: format!(
                    "a bulk write of {} pairs is over the limit of {BULK_WRITE_MAX}",
                    pairs.len()
                ),
            });
        }
        let mut seen = HashSet::with_capacity(pairs.len());
        if let Some(pair) = pairs.iter().find(|pair| !seen.insert(pair.key.as_str())) {
            return Err(Error::Invalid {
                message: format!("key `{}` appears twice in one bulk write", pair.key),
            });
        }
        // A value that fits no bulk-write item travels alone, through the single-key PUT.
        if let Some(pair) = pairs.iter().find(|pair| !wire::fits_bulk_item(pair)) {
            if let [single] = pairs {
                return self.put_value(namespace_id, single).await;
            }
            return Err(Error::Invalid {
                message: format!(
                    "key `{}` holds a value too large for a bulk write and must be written alone",
                    pair.key
                ),
            });
        }
        let url = format!("{}/bulk", self.namespace_url(namespace_id)?);
        let endpoint = format!("PUT …/namespaces/{namespace_id}/bulk");
        let mut body = Vec::new();
        serde_json::Serializer::new(&mut body)
            .collect_seq(pairs.iter().map(wire::bulk_write_item))
            .map_err(|err| Error::Invalid {
                message: format!("cannot encode bulk write: {err}"),
            })?;
        if body.len() >= BULK_WRITE_BYTES_MAX {
            return Err(Error::Invalid {
                message: format!(
                    "a bulk write of {} bytes is over the limit: it must be under \
                     {BULK_WRITE_BYTES_MAX} bytes",
                    body.len()
                ),
            });
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
            return Err(Error::Invalid {
                message: format!(
                    "a bulk delete of {} keys is over the limit of {BULK_WRITE_MAX}",
                    keys.len()
                ),
            });
        }
        let url = format!("{}/bulk/delete", self.namespace_url(namespace_id)?);
        let endpoint = format!("POST …/namespaces/{namespace_id}/bulk/delete");
        let body = serde_json::to_vec(keys).map_err(|err| Error::Invalid {
            message: format!("cannot encode bulk delete: {err}"),
        })?;
        let request = self.build(
            &endpoint,
            self.client.post(url).header(header::CONTENT_TYPE, "application/json").body(body),
        )?;
        let answer = self.send(Kind::BulkDelete, &endpoint, request).await?;
        self.bulk_outcome(&endpoint, &answer)
    }
}

/// What an answer means for retrying: 429 and 500/502/503/504 are retried, anything else is
/// final.
fn outcome_of(answer: &Answer) -> Outcome {
    match answer.status {
        429 => Outcome::RateLimited {
            retry_after: answer
                .header("retry-after")
                .and_then(|value| parse_retry_after(value, SystemTime::now())),
        },
        500 | 502 | 503 | 504 => Outcome::ServerError,
        _ => Outcome::Final,
    }
}

const CHALLENGE: &str = "a Cloudflare firewall challenge (`cf-mitigated: challenge`), not the API";

fn is_challenge(answer: &Answer) -> bool {
    answer.header("cf-mitigated").is_some_and(|v| v.trim().eq_ignore_ascii_case("challenge"))
}

/// Why an answer that should be a JSON envelope plainly is not one, before parsing it.
fn not_json(token: &ApiToken, answer: &Answer) -> Option<String> {
    if is_challenge(answer) {
        return Some(CHALLENGE.to_owned());
    }
    if (300..400).contains(&answer.status) {
        let to = answer.header("location").unwrap_or("nowhere");
        let to = without_userinfo(to);
        return Some(format!("a redirect to `{}`, not the API", excerpt(token, to.as_bytes())));
    }
    let html = answer
        .header("content-type")
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"))
        || answer.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    if html {
        return Some("an HTML page instead of JSON".to_owned());
    }
    if answer.body.iter().all(u8::is_ascii_whitespace) {
        return Some("an empty body instead of JSON".to_owned());
    }
    None
}

/// Whether a refused bulk get should be read key by key instead: the API refused the request
/// for what it asked for (a 4xx about the request, such as a value that is not text), not
/// for who asked (401, 403), where (404, or a namespace error) or how often (429).
fn refused_for_content(error: &Error) -> bool {
    match error {
        Error::Api { status, codes, .. } => {
            (400..500).contains(status)
                && !matches!(status, 401 | 403 | 404 | 408 | 429)
                && !codes
                    .iter()
                    .any(|code| matches!(code, 7000 | 7003 | 10000 | 10010 | 10011 | 10013))
        }
        _ => false,
    }
}

/// Whether a refused single read is this key's problem alone (a 4xx about the key: "key not
/// found", or a route the key's name broke), not the token's, the namespace's or the rate's.
fn refused_for_key(error: &Error) -> bool {
    match error {
        Error::Api { status, codes, .. } => {
            (400..500).contains(status)
                && !matches!(status, 401 | 403 | 408 | 429)
                && !codes.iter().any(|code| matches!(code, 7000 | 10000 | 10010 | 10011 | 10013))
        }
        _ => false,
    }
}

/// An answer that is not what the API sends, with an excerpt of it (the token removed).
fn decode_error(token: &ApiToken, endpoint: &str, answer: &Answer, what: &str) -> Error {
    let detail = if answer.body.iter().all(u8::is_ascii_whitespace) {
        what.to_owned()
    } else {
        format!("{what}: `{}`", excerpt(token, &answer.body))
    };
    Error::Decode {
        endpoint: endpoint.to_owned(),
        status: answer.status,
        detail: redact(token, &detail),
    }
}

/// Removes the token, or any long part of it, from text the server sent back, should it ever
/// echo it (`ApiToken::redact`).
fn redact(token: &ApiToken, text: &str) -> String {
    token.redact(text)
}

/// The first [`EXCERPT_CHARS`] characters of a body, on one line, the token removed *before*
/// the cut: a token split at the cut would otherwise leave its start behind.
fn excerpt(token: &ApiToken, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut chars = text.split_whitespace().flat_map(|word| word.chars().chain([' ']));
    // Redacting shortens a run of at least 8 characters to 4, so this window still holds
    // `EXCERPT_CHARS` once redacted, and no run that crosses its end reaches the cut.
    let window: String = chars
        .by_ref()
        .take(2 * EXCERPT_CHARS + token.secret().len())
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    let more = chars.any(|c| c != ' ');
    let redacted = token.redact(&window);
    let mut kept = redacted.chars();
    let out: String = kept.by_ref().take(EXCERPT_CHARS).collect();
    let out = out.trim_end().to_owned();
    if more || kept.any(|c| c != ' ') { format!("{out}…") } else { out }
}

/// A reqwest error and its causes, without the URL (which the endpoint already names).
fn error_chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    let head = format!("{}", ErrorWithoutUrl(err));
    parts.push(head);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// reqwest's own message for an error, minus the ` for url (…)` suffix.
struct ErrorWithoutUrl<'a>(&'a reqwest::Error);

impl fmt::Display for ErrorWithoutUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        let text = match text.find(" for url (") {
            Some(at) => &text[..at],
            None => &text,
        };
        f.write_str(text)
    }
}

fn transport_detail(err: &reqwest::Error, timeout: Duration, attempts: u32) -> String {
    let tries = if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
    if err.is_timeout() {
        format!("no complete answer within {} ({tries})", describe_duration(timeout))
    } else {
        format!("{} ({tries})", error_chain(err))
    }
}

fn describe_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

fn checked_base_url(base_url: &str) -> Result<String, Error> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let shown = without_userinfo(base_url);
    let bad = |why: &str| Error::BadTarget { message: format!("API base URL `{shown}` {why}") };
    let url = reqwest::Url::parse(trimmed).map_err(|err| bad(&format!("is not a URL ({err})")))?;
    if url.query().is_some() || url.fragment().is_some() || url.cannot_be_a_base() {
        return Err(bad("must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        // The token would travel in clear text; only a stand-in on this machine may get it so.
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(bad(
                "uses plain http to another machine, which would send the API token in clear \
                 text; use https (http is allowed for localhost only)",
            ));
        }
        _ => return Err(bad("must be an https URL")),
    }
    Ok(trimmed.to_owned())
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// Account and namespace ids travel in the URL path: letters, digits, `-` and `_` only
/// (wrangler's rule for account ids), at most 32 (§0.3).
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Percent-encodes a key for a URL path the way JavaScript's `encodeURIComponent` does, as
/// wrangler does (§3.1): everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` becomes `%XX` of its
/// UTF-8 bytes, so `/`, `%`, `?`, `#` and spaces can never change the path.
pub fn encode_uri_component(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
    }
    out
}

/// How [`Error::Api`] lists the API's errors: `message (code N)`, joined by `; `.
pub(crate) fn describe_api_errors(codes: &[u32], messages: &[String]) -> String {
    let described: Vec<String> = codes
        .iter()
        .zip(messages)
        .map(|(code, message)| match (code, message.trim()) {
            (0, "") => "an error without code or message".to_owned(),
            (0, message) => message.to_owned(),
            (code, "") => format!("code {code}"),
            (code, message) => format!("{message} (code {code})"),
        })
        .collect();
    if described.is_empty() { "no error details".to_owned() } else { described.join("; ") }
}

/// How [`Error::RateLimited`] ends: the wait the API asked for, if it said.
pub(crate) fn describe_retry_after(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; the API asks to wait {}", describe_wait(wait)),
        None => String::new(),
    }
}

fn describe_wait(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if secs >= 120 { format!("{} min", secs.div_ceil(60)) } else { format!("{secs} s") }
}

/// What the user can do about a storage error from the Cloudflare target, if there is advice
/// (`cloudflare-kv-api.md` §5, §4, §6).
pub fn hint(error: &Error) -> Option<String> {
    let text = match error {
        Error::Api { status, codes, .. } => {
            let by_code = codes.iter().find_map(|code| code_hint(*code));
            match (by_code, status) {
                (Some(hint), _) => hint.to_owned(),
                (None, 401 | 403) => CODE_10000.to_owned(),
                (None, 413) => CODE_10024.to_owned(),
                _ => return None,
            }
        }
        Error::RateLimited { retry_after, .. } => format!(
            "the API allows 1,200 requests per 5 minutes per token and blocks the token for 5 \
             minutes when they are exceeded; kvsync retried and gave up: wait{}, then run \
             again (other tools using the same token count against the same limit)",
            match retry_after {
                Some(wait) => format!(" {}", describe_wait(*wait)),
                None => " a few minutes".to_owned(),
            }
        ),
        Error::Decode { .. } => "the answer did not come from the Cloudflare v4 API: check \
             `--api-url` / `CLOUDFLARE_API_BASE_URL`, and any proxy or firewall between kvsync \
             and the API"
            .to_owned(),
        Error::Transport { .. } => "check the network connection and `--api-url`; a slow link \
             may need a longer `KVSYNC_HTTP_TIMEOUT_MS`"
            .to_owned(),
        Error::MissingToken => "create an API token with the \"Workers KV Storage\" permission \
             (Read for plan, Edit for apply) and export it as `CLOUDFLARE_API_TOKEN`"
            .to_owned(),
        Error::BadToken { .. } => "copy the token again: a Cloudflare API token is plain ASCII \
             letters, digits, `-` and `_`"
            .to_owned(),
        _ => return None,
    };
    Some(text)
}

const CODE_10000: &str =
    "the API token lacks the \"Workers KV Storage\" permission for this account (or is invalid)";
const CODE_10024: &str = "the request is too large for the API: a bulk write must stay under \
                          10,000 pairs and 100 MB, a value under 25 MiB";

fn code_hint(code: u32) -> Option<&'static str> {
    Some(match code {
        10000 => CODE_10000,
        10013 => {
            "the namespace id is not in this account: check the scope's `namespace_id` and the account id (`account_id:` or CLOUDFLARE_ACCOUNT_ID)"
        }
        7000 | 7003 => {
            "the API found no such route: check the account id, the namespace id and \
                        `--api-url`"
        }
        10010 | 10011 => {
            "the namespace id is malformed: it is the 32-character id shown by \
                          `wrangler kv namespace list`, not the namespace's title"
        }
        10022 => "rate limited by the API (too many requests); wait a few minutes and run again",
        10024 => CODE_10024,
        10021 | 10035 | 10038 => {
            "this is a legacy namespace the API no longer serves for this \
                                 operation; consider moving its keys to a new namespace"
        }
        10037 => "edit the API token to give it the permissions this operation needs",
        6003 | 6111 => {
            "the API rejected the Authorization header: check that \
                        `CLOUDFLARE_API_TOKEN` holds an API token (not a Global API Key)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};
    use wiremock::matchers::{
        body_json, header, method, path, query_param, query_param_is_missing,
    };
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;
    use crate::content::Expiration;
    use crate::kv::{ListedKey, ListedMetadata, ReadHint, list_all};

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
    const NS: &str = "fedcba9876543210fedcba9876543210";
    const SECRET: &str = "Sekr1t-T0ken_value_0123456789abcdefghij";

    /// Production timings except where a test needs otherwise; no test sleeps through them,
    /// because the store records its waits instead (see `Sleeper`).
    fn timings() -> Timings {
        Timings::default()
    }

    struct Fixture {
        server: MockServer,
        store: CloudflareStore,
        waits: Arc<Mutex<Vec<Duration>>>,
    }

    impl Fixture {
        async fn new() -> Fixture {
            Fixture::with(timings()).await
        }

        async fn with(timings: Timings) -> Fixture {
            let server = MockServer::start().await;
            let (store, waits) = store_at(&format!("{}/client/v4", server.uri()), timings);
            Fixture { server, store, waits }
        }

        fn waits(&self) -> Vec<Duration> {
            self.waits.lock().expect("waits").clone()
        }

        async fn requests(&self) -> Vec<Request> {
            self.server.received_requests().await.expect("recording is on")
        }
    }

    fn store_at(base_url: &str, timings: Timings) -> (CloudflareStore, Arc<Mutex<Vec<Duration>>>) {
        let mut store = CloudflareStore::new(CloudflareConfig {
            base_url: base_url.to_owned(),
            account_id: ACCOUNT.to_owned(),
            token: ApiToken::new(SECRET).expect("token"),
            timings,
        })
        .expect("store");
        let waits = Arc::new(Mutex::new(Vec::new()));
        store.sleeper = Sleeper::Record(Arc::clone(&waits));
        (store, waits)
    }

    fn ns_path(rest: &str) -> String {
        format!("/client/v4/accounts/{ACCOUNT}/storage/kv/namespaces/{NS}{rest}")
    }

    fn ok(result: Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "errors": [], "messages": [], "result": result
        }))
    }

    fn failure(status: u16, code: u32, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(json!({
            "success": false, "errors": [{"code": code, "message": message}],
            "messages": [], "result": null
        }))
    }

    fn page(keys: Value, cursor: Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "errors": [], "messages": [], "result": keys,
            "result_info": {"count": keys.as_array().map_or(0, Vec::len), "cursor": cursor}
        }))
    }

    fn put_pair(key: &str, value: &[u8], metadata: Value, expiration: Expiration) -> PutPair {
        PutPair { key: key.to_owned(), value: value.to_vec(), metadata, expiration }
    }

    /// Everything a user could see of an error: its message, its debug form and its hint.
    fn shown(error: &Error) -> String {
        format!("{error}\n{error:?}\n{error:#?}\n{}", hint(error).unwrap_or_default())
    }

    // ---- list ----------------------------------------------------------------------------

    #[tokio::test]
    async fn listing_repeats_prefix_and_limit_and_passes_the_cursor_back() {
        let f = Fixture::new().await;
        let prefix = "flags/a b&ü";
        let auth = format!("Bearer {SECRET}");
        let user_agent = concat!("kvsync/", env!("CARGO_PKG_VERSION"));
        let base = || {
            Mock::given(method("GET"))
                .and(path(ns_path("/keys")))
                .and(query_param("limit", "1000"))
                .and(query_param("prefix", prefix))
                .and(header("authorization", auth.as_str()))
                .and(header("user-agent", user_agent))
        };
        base()
            .and(query_param_is_missing("cursor"))
            .respond_with(page(
                json!([
                    {"name": "flags/a b&ü1", "expiration": 1_900_000_000, "metadata": {"a": 1}},
                    {"name": "flags/a b&ü2", "metadata": null}
                ]),
                json!("c1=="),
            ))
            .expect(1)
            .mount(&f.server)
            .await;
        // Tombstones: an empty page that still carries a cursor is not the end.
        base()
            .and(query_param("cursor", "c1=="))
            .respond_with(page(json!([]), json!("c+2/")))
            .expect(1)
            .mount(&f.server)
            .await;
        base()
            .and(query_param("cursor", "c+2/"))
            .respond_with(page(json!([{"name": "flags/a b&ü3", "expiration": 1.9e9}]), json!("")))
            .expect(1)
            .mount(&f.server)
            .await;

        let keys = list_all(&f.store, NS, prefix).await.expect("listing");
        assert_eq!(
            keys,
            [
                ListedKey {
                    name: "flags/a b&ü1".into(),
                    expiration: Some(1_900_000_000),
                    metadata: ListedMetadata::from_json(Some(&json!({"a": 1}))),
                },
                ListedKey {
                    name: "flags/a b&ü2".into(),
                    expiration: None,
                    metadata: ListedMetadata::none()
                },
                ListedKey {
                    name: "flags/a b&ü3".into(),
                    expiration: Some(1_900_000_000),
                    metadata: ListedMetadata::none(),
                },
            ]
        );
        assert_eq!(
            f.store.stats(),
            RequestStats { list: 3, billed_lists: 3, ..RequestStats::default() }
        );
    }

    #[tokio::test]
    async fn an_empty_prefix_is_not_sent() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .and(query_param("limit", "1000"))
            .and(query_param_is_missing("prefix"))
            .respond_with(page(json!([{"name": "k"}]), json!(null)))
            .expect(1)
            .mount(&f.server)
            .await;
        let page = f.store.list_page(NS, "", None).await.expect("page");
        assert_eq!(page.cursor, None);
        assert_eq!(page.keys.len(), 1);
    }

    #[tokio::test]
    async fn a_null_blank_or_absent_cursor_ends_the_listing() {
        for body in [
            json!({"success": true, "errors": [], "result": [], "result_info": {"cursor": ""}}),
            json!({"success": true, "errors": [], "result": [], "result_info": {"cursor": null}}),
            json!({"success": true, "errors": [], "result": [], "result_info": {"count": 0}}),
            json!({"success": true, "errors": [], "result": []}),
        ] {
            let f = Fixture::new().await;
            Mock::given(method("GET"))
                .respond_with(ResponseTemplate::new(200).set_body_json(&body))
                .mount(&f.server)
                .await;
            let page = f.store.list_page(NS, "p", None).await.expect("page");
            assert_eq!(page, ListPage::default(), "{body}");
        }
    }

    // ---- bulk put and delete -------------------------------------------------------------

    #[tokio::test]
    async fn bulk_put_sends_the_items_with_base64_and_full_metadata() {
        let f = Fixture::new().await;
        let marker = json!({"__kvsync": {"v": 1, "h": "abc"}, "team": "growth"});
        let pairs = [
            put_pair("flags/a", b"on", marker.clone(), Expiration::Never),
            put_pair("bin", &[0xfb, 0xff], json!({"x": [1, 2]}), Expiration::Ttl(3600)),
            put_pair("b", b"{\"j\":1}", json!(null), Expiration::At(1_900_000_000)),
        ];
        Mock::given(method("PUT"))
            .and(path(ns_path("/bulk")))
            .and(header("content-type", "application/json"))
            .and(header("authorization", format!("Bearer {SECRET}").as_str()))
            .and(body_json(json!([
                {"key": "flags/a", "value": "on", "metadata": marker},
                {"key": "bin", "value": "+/8=", "base64": true, "expiration_ttl": 3600,
                 "metadata": {"x": [1, 2]}},
                {"key": "b", "value": "{\"j\":1}", "expiration": 1_900_000_000, "metadata": null},
            ])))
            .respond_with(ok(json!({"successful_key_count": 2, "unsuccessful_keys": ["bin"]})))
            .expect(1)
            .mount(&f.server)
            .await;
        let outcome = f.store.bulk_put(NS, &pairs).await.expect("put");
        assert_eq!(outcome.unsuccessful_keys, ["bin"]);
        assert_eq!(f.store.stats(), RequestStats { bulk_put: 1, ..RequestStats::default() });
    }

    #[tokio::test]
    async fn bulk_delete_posts_an_array_of_keys() {
        let f = Fixture::new().await;
        let keys: Vec<String> = ["a", "b/c", "ü "].map(String::from).to_vec();
        Mock::given(method("POST"))
            .and(path(ns_path("/bulk/delete")))
            .and(header("content-type", "application/json"))
            .and(body_json(json!(["a", "b/c", "ü "])))
            .respond_with(ok(json!({"successful_key_count": 3, "unsuccessful_keys": []})))
            .expect(1)
            .mount(&f.server)
            .await;
        let outcome = f.store.bulk_delete(NS, &keys).await.expect("delete");
        assert_eq!(outcome, BulkOutcome::default());
        assert_eq!(f.store.stats(), RequestStats { bulk_delete: 1, ..RequestStats::default() });
    }

    #[tokio::test]
    async fn bulk_results_are_read_in_every_documented_shape() {
        let large = 10_000u64;
        let cases = [
            (ok(Value::Null), vec![]),
            (ok(json!({})), vec![]),
            (
                ResponseTemplate::new(200).set_body_json(json!({"success": true, "errors": []})),
                vec![],
            ),
            (ok(json!({"successful_key_count": large})), vec![]),
            (ok(json!({"successful_key_count": 128, "unsuccessful_keys": null})), vec![]),
            (ok(json!({"successful_key_count": 9999, "unsuccessful_keys": ["k"]})), vec!["k"]),
            (ResponseTemplate::new(204), vec![]),
        ];
        for (response, unsuccessful) in cases {
            let f = Fixture::new().await;
            Mock::given(method("PUT")).respond_with(response.clone()).mount(&f.server).await;
            Mock::given(method("POST")).respond_with(response).mount(&f.server).await;
            let pairs = [put_pair("k", b"v", json!({}), Expiration::Never)];
            let put = f.store.bulk_put(NS, &pairs).await.expect("put");
            assert_eq!(put.unsuccessful_keys, unsuccessful);
            let delete = f.store.bulk_delete(NS, &["k".to_owned()]).await.expect("delete");
            assert_eq!(delete.unsuccessful_keys, unsuccessful);
        }
    }

    #[tokio::test]
    async fn duplicate_keys_and_empty_batches_send_nothing() {
        let f = Fixture::new().await;
        Mock::given(method("PUT")).respond_with(ok(Value::Null)).expect(0).mount(&f.server).await;
        let pairs = [
            put_pair("k", b"1", json!({}), Expiration::Never),
            put_pair("k", b"2", json!({}), Expiration::Never),
        ];
        let error = f.store.bulk_put(NS, &pairs).await.expect_err("duplicates refused");
        assert_eq!(error.to_string(), "key `k` appears twice in one bulk write");
        assert_eq!(f.store.bulk_put(NS, &[]).await.expect("nothing"), BulkOutcome::default());
        assert_eq!(f.store.bulk_delete(NS, &[]).await.expect("nothing"), BulkOutcome::default());
        assert_eq!(f.store.bulk_get(NS, &[]).await.expect("nothing"), []);
        assert_eq!(f.store.stats().total(), 0);
    }

    // ---- retries ---------------------------------------------------------------------------

    #[tokio::test]
    async fn a_429_with_retry_after_seconds_is_waited_out_then_retried() {
        let f = Fixture::new().await;
        Mock::given(method("PUT"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
            .up_to_n_times(1)
            .mount(&f.server)
            .await;
        Mock::given(method("PUT")).respond_with(ok(Value::Null)).mount(&f.server).await;
        let pairs = [put_pair("k", b"v", json!({}), Expiration::Never)];
        f.store.bulk_put(NS, &pairs).await.expect("put after the wait");
        assert_eq!(f.waits(), [Duration::from_secs(7)]);
        assert_eq!(
            f.store.stats(),
            RequestStats { bulk_put: 2, retries: 1, ..RequestStats::default() }
        );
        // The write was sent twice, unchanged: bulk writes are idempotent.
        let bodies: Vec<Vec<u8>> = f.requests().await.into_iter().map(|r| r.body).collect();
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0], bodies[1]);
    }

    #[tokio::test]
    async fn a_429_with_an_http_date_waits_until_then() {
        let f = Fixture::new().await;
        let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", at.as_str()))
            .up_to_n_times(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .respond_with(page(json!([]), json!(null)))
            .mount(&f.server)
            .await;
        f.store.list_page(NS, "", None).await.expect("page after the wait");
        let waits = f.waits();
        assert_eq!(waits.len(), 1);
        assert!(
            (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&waits[0]),
            "{waits:?}"
        );
    }

    #[tokio::test]
    async fn a_429_past_the_budget_is_a_rate_limit_error() {
        // Retry-After longer than the whole budget: no point waiting, fail at once.
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "600"))
            .expect(1)
            .mount(&f.server)
            .await;
        let error = f.store.list_page(NS, "", None).await.expect_err("rate limited");
        assert!(
            matches!(&error, Error::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 600)
        );
        assert_eq!(
            error.to_string(),
            format!(
                "the Cloudflare API rate limit was hit (`GET …/namespaces/{NS}/keys`) and \
                 retrying did not help; the API asks to wait 10 min"
            )
        );
        assert!(hint(&error).expect("hint").contains("1,200 requests per 5 minutes"));
        assert!(f.waits().is_empty());

        // No Retry-After: wait out the documented 5-minute block once, within the budget.
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).set_body_string("Too Many Requests"))
            .expect(2)
            .mount(&f.server)
            .await;
        let error = f.store.list_page(NS, "", None).await.expect_err("rate limited");
        assert!(matches!(error, Error::RateLimited { retry_after: None, .. }), "{error:?}");
        assert_eq!(f.waits(), [Duration::from_secs(300)]);
    }

    #[tokio::test]
    async fn a_503_is_retried_with_jittered_backoff() {
        let f = Fixture::new().await;
        Mock::given(method("POST"))
            .respond_with(failure(503, 10001, "service temporarily unavailable"))
            .up_to_n_times(1)
            .mount(&f.server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ok(json!({"successful_key_count": 1, "unsuccessful_keys": []})))
            .mount(&f.server)
            .await;
        f.store.bulk_delete(NS, &["k".to_owned()]).await.expect("delete after a retry");
        let waits = f.waits();
        assert_eq!(waits.len(), 1);
        assert!(waits[0] <= Duration::from_secs(1), "{waits:?}");
        assert_eq!(f.store.stats().retries, 1);
    }

    #[tokio::test]
    async fn server_errors_stop_after_the_last_attempt() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(502)
                    .set_body_raw("<html>502 Bad Gateway</html>", "text/html"),
            )
            .expect(6)
            .mount(&f.server)
            .await;
        let error = f.store.list_page(NS, "", None).await.expect_err("gave up");
        assert!(matches!(&error, Error::Decode { status: 502, .. }), "{error:?}");
        let waits = f.waits();
        assert_eq!(waits.len(), 5);
        for (wait, ceiling) in waits.iter().zip([1, 2, 4, 8, 16]) {
            assert!(*wait <= Duration::from_secs(ceiling), "{waits:?}");
        }
        assert_eq!(f.store.stats(), RequestStats { list: 6, retries: 5, ..Default::default() });

        // The same with a JSON failure body: the API's own error is reported.
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .respond_with(failure(500, 10001, "internal error"))
            .mount(&f.server)
            .await;
        let error = f.store.list_page(NS, "", None).await.expect_err("gave up");
        assert!(matches!(&error, Error::Api { status: 500, codes, .. } if codes == &[10001]));
    }

    #[tokio::test]
    async fn a_stalled_answer_times_out_and_is_retried() {
        let f = Fixture::with(Timings { request_timeout: Duration::from_millis(200), ..timings() })
            .await;
        Mock::given(method("GET"))
            .respond_with(
                page(json!([{"name": "slow"}]), json!(null)).set_delay(Duration::from_secs(5)),
            )
            .up_to_n_times(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .respond_with(page(json!([{"name": "fast"}]), json!(null)))
            .mount(&f.server)
            .await;
        let page = f.store.list_page(NS, "", None).await.expect("page after a timeout");
        assert_eq!(page.keys[0].name, "fast");
        assert_eq!(
            f.store.stats(),
            RequestStats { list: 2, retries: 1, billed_lists: 1, ..Default::default() }
        );
    }

    #[tokio::test]
    async fn a_timeout_on_every_attempt_is_a_transport_error() {
        let f = Fixture::with(Timings {
            request_timeout: Duration::from_millis(100),
            max_attempts: 2,
            ..timings()
        })
        .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&f.server)
            .await;
        let error = f.store.list_page(NS, "", None).await.expect_err("timed out");
        assert_eq!(
            error.to_string(),
            format!(
                "could not reach the Cloudflare API (`GET …/namespaces/{NS}/keys`): no \
                 complete answer within 100 ms (2 attempts)"
            )
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let (store, waits) = store_at(
            &format!("http://127.0.0.1:{port}/client/v4"),
            Timings { max_attempts: 3, ..timings() },
        );
        let error = store.bulk_delete(NS, &["k".to_owned()]).await.expect_err("no server");
        assert!(matches!(error, Error::Transport { .. }), "{error:?}");
        assert!(error.to_string().ends_with("(3 attempts)"), "{error}");
        assert_eq!(waits.lock().expect("waits").len(), 2);
        assert!(!shown(&error).contains(SECRET));
    }

    // ---- errors ----------------------------------------------------------------------------

    #[tokio::test]
    async fn html_and_broken_bodies_are_decode_errors_naming_the_endpoint() {
        let endpoint = format!("GET …/namespaces/{NS}/keys");
        let cases = [
            (
                ResponseTemplate::new(200).set_body_raw(
                    "<!DOCTYPE html><html><title>Just a moment...</title>",
                    "text/html",
                ),
                200,
                "an HTML page instead of JSON: `<!DOCTYPE html><html><title>Just a moment...",
            ),
            (
                ResponseTemplate::new(403)
                    .insert_header("cf-mitigated", "challenge")
                    .set_body_raw("<html>challenge</html>", "text/html"),
                403,
                "a Cloudflare firewall challenge (`cf-mitigated: challenge`), not the API",
            ),
            (ResponseTemplate::new(200), 200, "an empty body instead of JSON"),
            (
                ResponseTemplate::new(200)
                    .set_body_raw(r#"{"success":true,"result":[{"na"#, "application/json"),
                200,
                "truncated JSON",
            ),
            (
                ResponseTemplate::new(200).set_body_raw("{success: yes}", "application/json"),
                200,
                "malformed JSON",
            ),
            (
                ResponseTemplate::new(200)
                    .set_body_json(json!({"success": true, "result": {"keys": []}})),
                200,
                "JSON of an unexpected shape",
            ),
            (
                ResponseTemplate::new(200).set_body_json(json!({"result": []})),
                200,
                "JSON without a `success` field",
            ),
            (
                ResponseTemplate::new(301).insert_header("location", "https://example.com/"),
                301,
                "a redirect to `https://example.com/`",
            ),
        ];
        for (response, status, detail) in cases {
            let f = Fixture::new().await;
            Mock::given(method("GET")).respond_with(response).mount(&f.server).await;
            let error = f.store.list_page(NS, "", None).await.expect_err("decode error");
            let Error::Decode { endpoint: got, status: got_status, detail: got_detail } = &error
            else {
                panic!("not a decode error: {error:?}");
            };
            assert_eq!(got, &endpoint);
            assert_eq!(*got_status, status);
            assert!(got_detail.starts_with(detail), "{got_detail}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("unexpected answer from `{endpoint}` (HTTP {status}): "))
            );
            assert!(hint(&error).expect("hint").contains("--api-url"));
        }
    }

    /// Issue 15 item 8: the token is removed before the excerpt is cut, so a token that
    /// straddles the cut leaves nothing of itself; a partial echo is removed too.
    #[test]
    fn excerpts_redact_before_they_cut() {
        let token = ApiToken::new(SECRET).expect("token");
        for at in (EXCERPT_CHARS - 12)..=EXCERPT_CHARS {
            let body = format!("{}{SECRET} and more", "x".repeat(at));
            let shown = excerpt(&token, body.as_bytes());
            assert!(!shown.contains(&SECRET[..8]), "{at}: {shown}");
            assert!(shown.ends_with('…'), "{at}: {shown}");
        }
        let body = format!("{}{}", "x".repeat(EXCERPT_CHARS - 20), SECRET);
        assert_eq!(
            excerpt(&token, body.as_bytes()),
            format!("{}****", "x".repeat(EXCERPT_CHARS - 20))
        );
        let partial = format!("echo: {}", &SECRET[3..17]);
        assert_eq!(excerpt(&token, partial.as_bytes()), "echo: ****");
        // Many redactions in a row still fill the excerpt.
        let echoes = format!("{SECRET} ").repeat(40);
        let shown = excerpt(&token, echoes.as_bytes());
        assert!(shown.starts_with("**** **** ****") && shown.ends_with('…'), "{shown}");
    }

    #[test]
    fn a_base_url_with_credentials_is_refused_without_showing_them() {
        let error = checked_base_url("http://user:pa55word@example.com/v4").expect_err("http");
        assert!(!error.to_string().contains("pa55word"), "{error}");
        assert!(error.to_string().contains("`http://example.com/v4`"), "{error}");
    }

    #[test]
    fn excerpts_are_short_and_on_one_line() {
        let token = ApiToken::new(SECRET).expect("token");
        let excerpt = |body: &[u8]| excerpt(&token, body);
        assert_eq!(excerpt(b"  a\n\tb\r\n c  "), "a b c");
        let long = "x".repeat(500);
        assert_eq!(excerpt(long.as_bytes()), format!("{}…", "x".repeat(EXCERPT_CHARS)));
        assert_eq!(excerpt(&[0xff, b'a', 0x07]), "\u{FFFD}a\u{FFFD}");
    }

    #[tokio::test]
    async fn success_false_on_200_is_an_api_error_with_the_apis_code_and_message() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .respond_with(failure(200, 10000, "Authentication error"))
            .mount(&f.server)
            .await;
        let error = f.store.list_page(NS, "", None).await.expect_err("failure");
        assert!(
            matches!(&error, Error::Api { status: 200, codes, messages, .. }
                if codes == &[10000] && messages == &["Authentication error"]),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "the Cloudflare API refused `GET …/namespaces/{NS}/keys` (HTTP 200): \
                 Authentication error (code 10000)"
            )
        );
        assert_eq!(
            hint(&error).as_deref(),
            Some(
                "the API token lacks the \"Workers KV Storage\" permission for this account (or \
                 is invalid)"
            )
        );
    }

    #[tokio::test]
    async fn a_missing_namespace_gets_its_hint() {
        let f = Fixture::new().await;
        Mock::given(method("PUT"))
            .respond_with(failure(404, 10013, "get namespace: 'namespace not found'"))
            .mount(&f.server)
            .await;
        let pairs = [put_pair("k", b"v", json!({}), Expiration::Never)];
        let error = f.store.bulk_put(NS, &pairs).await.expect_err("failure");
        assert!(error.to_string().ends_with("get namespace: 'namespace not found' (code 10013)"));
        assert_eq!(
            hint(&error).as_deref(),
            Some(
                "the namespace id is not in this account: check the scope's `namespace_id` and the account id (`account_id:` or CLOUDFLARE_ACCOUNT_ID)"
            )
        );
        // Not retried: a 404 is final.
        assert_eq!(f.store.stats(), RequestStats { bulk_put: 1, ..Default::default() });
    }

    #[tokio::test]
    async fn odd_failure_bodies_still_yield_the_apis_errors() {
        let cases = [
            // A failure envelope whose `result` has the bulk-result shape (§1.7).
            (
                json!({"success": false, "errors": [{"code": 10024, "message": "too large"}],
                       "result": {"successful_key_count": 0, "unsuccessful_keys": ["k"]}}),
                vec![10024],
                "too large (code 10024)",
            ),
            // wrangler's non-standard `{code, error}` body.
            (json!({"code": 10000, "error": "bad token"}), vec![10000], "bad token (code 10000)"),
            // Several errors, one without a code, one a bare string.
            (
                json!({"success": false, "errors": [{"code": "7003", "message": "No route"},
                       {"message": "also"}, "plain"]}),
                vec![7003, 0, 0],
                "No route (code 7003); also; plain",
            ),
            (json!({"success": false, "errors": []}), vec![], "no error details"),
        ];
        for (body, codes, described) in cases {
            let f = Fixture::new().await;
            Mock::given(method("PUT"))
                .respond_with(ResponseTemplate::new(400).set_body_json(&body))
                .mount(&f.server)
                .await;
            let pairs = [put_pair("k", b"v", json!({}), Expiration::Never)];
            let error = f.store.bulk_put(NS, &pairs).await.expect_err("failure");
            let Error::Api { codes: got, .. } = &error else { panic!("{error:?}") };
            assert_eq!(got, &codes, "{body}");
            assert!(error.to_string().ends_with(described), "{error}");
        }
    }

    #[tokio::test]
    async fn the_token_never_shows_in_errors_or_debug_output() {
        let f = Fixture::with(Timings { max_attempts: 1, ..timings() }).await;
        // A server that echoes the token back must not get it into a message either.
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(format!("<p>{SECRET}</p>"), "text/html"),
            )
            .mount(&f.server)
            .await;
        Mock::given(method("PUT"))
            .respond_with(failure(403, 10000, &format!("token {SECRET} is not allowed")))
            .mount(&f.server)
            .await;
        Mock::given(method("POST"))
            .and(path(ns_path("/bulk/delete")))
            .respond_with(ResponseTemplate::new(429))
            .mount(&f.server)
            .await;
        Mock::given(method("POST"))
            .and(path(ns_path("/bulk/get")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(format!("{{\"x\":\"{SECRET}"), "application/json"),
            )
            .mount(&f.server)
            .await;
        let pairs = [put_pair("k", b"v", json!({}), Expiration::Never)];
        let errors = [
            f.store.list_page(NS, "", None).await.expect_err("html"),
            f.store.bulk_put(NS, &pairs).await.expect_err("403"),
            f.store.bulk_delete(NS, &["k".to_owned()]).await.expect_err("429"),
            f.store.bulk_get(NS, &["k".to_owned()]).await.expect_err("truncated"),
            f.store.list_page("bad/namespace", "", None).await.expect_err("bad id"),
        ];
        for error in &errors {
            let shown = shown(error);
            assert!(!shown.contains(SECRET), "{shown}");
        }
        assert!(errors[0].to_string().contains("<p>****</p>"), "{}", errors[0]);
        let store = format!("{:?} {:#?}", f.store, f.store);
        assert!(!store.contains(SECRET), "{store}");
        assert!(store.contains("ApiToken(****)"));
    }

    // ---- bulk get --------------------------------------------------------------------------

    #[tokio::test]
    async fn bulk_get_reads_text_values_and_missing_keys() {
        let f = Fixture::new().await;
        Mock::given(method("POST"))
            .and(path(ns_path("/bulk/get")))
            .and(header("content-type", "application/json"))
            .and(body_json(
                json!({"keys": ["a", "gone", "c"], "type": "text", "withMetadata": false}),
            ))
            .respond_with(ok(json!({"values": {"a": "x", "gone": null, "c": "{\"j\": 1}"}})))
            .expect(1)
            .mount(&f.server)
            .await;
        let keys = ["a", "gone", "c"].map(String::from);
        let values = f.store.bulk_get(NS, &keys).await.expect("values");
        assert_eq!(
            values,
            [LiveValue::Text("x".into()), LiveValue::Missing, LiveValue::Text("{\"j\": 1}".into())]
        );
        assert_eq!(
            f.store.stats(),
            RequestStats { bulk_get: 1, billed_reads: 3, ..Default::default() }
        );
    }

    #[tokio::test]
    async fn bulk_get_splits_at_100_keys() {
        let f = Fixture::new().await;
        Mock::given(method("POST"))
            .and(path(ns_path("/bulk/get")))
            .respond_with(|request: &Request| {
                let body: Value = serde_json::from_slice(&request.body).expect("json");
                let keys = body["keys"].as_array().expect("keys").clone();
                assert!(keys.len() <= 100);
                let values: serde_json::Map<String, Value> =
                    keys.iter().map(|k| (k.as_str().expect("key").to_owned(), k.clone())).collect();
                ok(json!({"values": values}))
            })
            .expect(3)
            .mount(&f.server)
            .await;
        let keys: Vec<String> = (0..250).map(|i| format!("k{i:03}")).collect();
        let values = f.store.bulk_get(NS, &keys).await.expect("values");
        let expected: Vec<LiveValue> = keys.iter().map(|k| LiveValue::Text(k.clone())).collect();
        assert_eq!(values, expected);
    }

    #[tokio::test]
    async fn bulk_get_falls_back_to_single_reads_when_a_value_is_not_text() {
        let f = Fixture::new().await;
        Mock::given(method("POST"))
            .and(path(ns_path("/bulk/get")))
            .respond_with(failure(400, 10012, "value is not text"))
            .expect(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/img%2Flogo.png")))
            .and(header("accept", "application/octet-stream"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes([0x89, b'P', b'N', b'G', 0xff]))
            .expect(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/greeting")))
            .respond_with(ResponseTemplate::new(200).set_body_raw("<b>héllo</b>", "text/html"))
            .expect(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/gone")))
            .respond_with(failure(404, 10009, "get: 'key not found'"))
            .expect(1)
            .mount(&f.server)
            .await;
        let keys = ["img/logo.png", "greeting", "gone"].map(String::from);
        let values = f.store.bulk_get(NS, &keys).await.expect("values");
        assert_eq!(
            values,
            [
                LiveValue::Binary(vec![0x89, b'P', b'N', b'G', 0xff]),
                LiveValue::Text("<b>héllo</b>".into()),
                // Listed, never expiring, yet not found: that key's error, never "missing".
                LiveValue::Unreadable(
                    "`GET …/values/gone` answered \"key not found\" for a key the listing \
                     returned and that has not expired (some keys cannot be read one by one, \
                     even URL-encoded)"
                        .into()
                ),
            ]
        );
        // The refused bulk get is not billed; the three single reads are.
        assert_eq!(
            f.store.stats(),
            RequestStats { bulk_get: 1, get_value: 3, billed_reads: 3, ..Default::default() }
        );
    }

    #[tokio::test]
    async fn a_full_chunk_of_single_reads_runs_concurrently_and_keeps_its_order() {
        let f = Fixture::with(Timings { concurrency: 4, ..timings() }).await;
        Mock::given(method("POST")).respond_with(failure(400, 0, "binary")).mount(&f.server).await;
        Mock::given(method("GET"))
            .respond_with(|request: &Request| {
                let name = request.url.path().rsplit('/').next().unwrap_or_default().to_owned();
                ResponseTemplate::new(200).set_body_string(name).set_delay(Duration::from_millis(5))
            })
            .expect(100)
            .mount(&f.server)
            .await;
        let keys: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
        let values = f.store.bulk_get(NS, &keys).await.expect("values");
        let expected: Vec<LiveValue> = keys.iter().map(|k| LiveValue::Text(k.clone())).collect();
        assert_eq!(values, expected);
        assert_eq!(f.store.stats().get_value, 100);
    }

    #[tokio::test]
    async fn bulk_get_does_not_fall_back_on_auth_or_namespace_errors() {
        for response in [failure(403, 10000, "Authentication error"), failure(404, 10013, "nope")] {
            let f = Fixture::new().await;
            Mock::given(method("POST")).respond_with(response).mount(&f.server).await;
            Mock::given(method("GET"))
                .respond_with(ok(Value::Null))
                .expect(0)
                .mount(&f.server)
                .await;
            let error = f.store.bulk_get(NS, &["k".to_owned()]).await.expect_err("refused");
            assert!(matches!(error, Error::Api { .. }), "{error:?}");
        }
    }

    #[tokio::test]
    async fn text_with_replacement_characters_is_read_again_exactly() {
        let f = Fixture::new().await;
        Mock::given(method("POST"))
            .respond_with(ok(json!({"values": {"bin": "\u{FFFD}\u{FFFD}", "t": "ok"}})))
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/bin")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes([0xff, 0xfe]))
            .expect(1)
            .mount(&f.server)
            .await;
        let values =
            f.store.bulk_get(NS, &["bin".to_owned(), "t".to_owned()]).await.expect("values");
        assert_eq!(values, [LiveValue::Binary(vec![0xff, 0xfe]), LiveValue::Text("ok".into())]);
    }

    #[tokio::test]
    async fn single_reads_percent_encode_keys_like_encode_uri_component() {
        let f = Fixture::new().await;
        let key = "a/b %c?d#e+f&ü😀'()!*~._-";
        let encoded = "a%2Fb%20%25c%3Fd%23e%2Bf%26%C3%BC%F0%9F%98%80'()!*~._-";
        assert_eq!(encode_uri_component(key), encoded);
        Mock::given(method("POST")).respond_with(failure(400, 0, "binary")).mount(&f.server).await;
        Mock::given(method("GET"))
            .and(path(ns_path(&format!("/values/{encoded}"))))
            .respond_with(ResponseTemplate::new(200).set_body_string("v"))
            .expect(1)
            .mount(&f.server)
            .await;
        let values = f.store.bulk_get(NS, &[key.to_owned()]).await.expect("values");
        assert_eq!(values, [LiveValue::Text("v".into())]);
    }

    // ---- hardening: listings, reads and writes the API types loosely --------------------

    #[tokio::test]
    async fn a_listing_whose_result_is_null_is_an_error_not_an_empty_namespace() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .respond_with(ok(Value::Null))
            .mount(&f.server)
            .await;
        let error = list_all(&f.store, NS, "").await.expect_err("null result");
        assert!(matches!(error, Error::Decode { .. }), "{error:?}");
        assert!(error.to_string().contains("`result` is null"), "{error}");
        assert_eq!(f.store.stats().billed_lists, 0);
    }

    #[tokio::test]
    async fn a_listing_with_a_float_count_decodes() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "success": true, "errors": [], "messages": [],
                "result": [{"name": "a", "expiration": 2_000_000_001.5}],
                "result_info": {"count": 1.0, "cursor": ""}
            })))
            .mount(&f.server)
            .await;
        let keys = list_all(&f.store, NS, "").await.expect("listing");
        assert_eq!(keys[0].expiration, Some(2_000_000_001));
    }

    /// An `expiration` that is not a number at all is the key's problem, not the page's: the
    /// other keys list, and the damaged one comes back marked so the plan refuses to touch it.
    #[tokio::test]
    async fn a_key_with_an_expiration_that_is_not_a_number_does_not_fail_its_page() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .respond_with(page(
                json!([
                    {"name": "a", "expiration": 1_900_000_000},
                    {"name": "b", "expiration": "soon"},
                    {"name": "c", "expiration": {"at": 1}},
                    {"name": "d", "expiration": 1e300},
                    {"name": "e"}
                ]),
                json!(""),
            ))
            .mount(&f.server)
            .await;
        let keys = list_all(&f.store, NS, "").await.expect("the page lists");
        let seen: Vec<(&str, Option<i64>, Option<&str>)> =
            keys.iter().map(|k| (k.name.as_str(), k.expiration, k.metadata.damage())).collect();
        assert_eq!(
            seen,
            [
                ("a", Some(1_900_000_000), None),
                ("b", None, Some("key `b` has expiration `\"soon\"`, not unix seconds")),
                ("c", None, Some("key `c` has expiration `{\"at\":1}`, not unix seconds")),
                ("d", None, Some("key `d` has expiration `1e+300`, not unix seconds")),
                ("e", None, None),
            ]
        );
    }

    #[tokio::test]
    async fn a_bulk_write_with_a_float_count_succeeds() {
        let f = Fixture::new().await;
        Mock::given(method("PUT"))
            .and(path(ns_path("/bulk")))
            .respond_with(ok(json!({"successful_key_count": 220.0, "unsuccessful_keys": []})))
            .mount(&f.server)
            .await;
        let pairs = [put_pair("k", b"v", json!({}), Expiration::Never)];
        let outcome = f.store.bulk_put(NS, &pairs).await.expect("220.0 is a count");
        assert_eq!(outcome, BulkOutcome::default());
    }

    /// workers-sdk issue #7997: some keys 404 on a single GET though they exist. A key the
    /// listing just returned is never taken for gone, unless its listed expiration passed; and
    /// one key's problem does not stop the others.
    #[tokio::test]
    async fn a_single_read_404_for_a_listed_key_is_that_keys_error() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/a%5Eb")))
            .respond_with(failure(404, 10009, "get: 'key not found'"))
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/expired")))
            .respond_with(failure(404, 10009, "get: 'key not found'"))
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/fine")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(*b"\xEF\xBB\xBFhi"))
            .mount(&f.server)
            .await;
        Mock::given(method("POST")).respond_with(ok(Value::Null)).expect(0).mount(&f.server).await;
        let keys = ["a^b", "expired", "fine"].map(String::from);
        let hints = [
            ReadHint { exact: true, listed_expiration: Some(4_000_000_000) },
            ReadHint { exact: true, listed_expiration: Some(1_000_000_000) },
            ReadHint { exact: true, listed_expiration: None },
        ];
        let values = f.store.read_values(NS, &keys, &hints).await.expect("values");
        assert!(
            matches!(&values[0], LiveValue::Unreadable(why) if why.contains("key not found")),
            "{values:?}"
        );
        assert_eq!(values[1], LiveValue::Missing);
        assert_eq!(values[2], LiveValue::Text("\u{FEFF}hi".into()));
        let stats = f.store.stats();
        assert_eq!((stats.bulk_get, stats.get_value, stats.billed_reads), (0, 3, 3));
    }

    #[tokio::test]
    async fn a_bulk_get_that_returns_nothing_means_read_singly_never_missing() {
        for result in [Value::Null, json!({}), json!({"values": {"a": "x"}})] {
            let f = Fixture::new().await;
            Mock::given(method("POST"))
                .and(path(ns_path("/bulk/get")))
                .respond_with(ok(result.clone()))
                .expect(1)
                .mount(&f.server)
                .await;
            Mock::given(method("GET"))
                .and(path(ns_path("/values/b")))
                .respond_with(ResponseTemplate::new(200).set_body_string("y"))
                .expect(1)
                .mount(&f.server)
                .await;
            Mock::given(method("GET"))
                .and(path(ns_path("/values/a")))
                .respond_with(ResponseTemplate::new(200).set_body_string("x"))
                .mount(&f.server)
                .await;
            let keys = ["a", "b"].map(String::from);
            let values = f.store.bulk_get(NS, &keys).await.expect("values");
            assert_eq!(
                values,
                [LiveValue::Text("x".into()), LiveValue::Text("y".into())],
                "{result}"
            );
        }
    }

    /// What Cloudflare bills: answered lists and keys read, not a retried or refused attempt.
    #[tokio::test]
    async fn billed_operations_leave_out_failed_and_retried_requests() {
        let f = Fixture::new().await;
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .respond_with(failure(503, 10001, "service unavailable"))
            .up_to_n_times(1)
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/keys")))
            .respond_with(page(json!([{"name": "k"}]), json!("")))
            .mount(&f.server)
            .await;
        Mock::given(method("POST"))
            .respond_with(failure(400, 10001, "binary"))
            .mount(&f.server)
            .await;
        Mock::given(method("GET"))
            .and(path(ns_path("/values/k")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes([0xff]))
            .mount(&f.server)
            .await;
        list_all(&f.store, NS, "").await.expect("listing");
        f.store.bulk_get(NS, &["k".to_owned()]).await.expect("values");
        let stats = f.store.stats();
        assert_eq!((stats.list, stats.retries, stats.billed_lists), (2, 1, 1));
        assert_eq!((stats.bulk_get, stats.get_value, stats.billed_reads), (1, 1, 1));
    }

    /// A value base64 makes longer than a bulk item may be goes through the single-key PUT, as
    /// multipart so that the metadata (the marker) is kept, the expiration in the query.
    #[tokio::test]
    async fn a_value_too_large_for_a_bulk_item_goes_through_the_single_key_put() {
        let f = Fixture::new().await;
        let value = vec![0xffu8; crate::content::limits::BULK_BASE64_BYTES_MAX + 1];
        let metadata = json!({"__kvsync": {"v": 1, "owner": "web"}});
        let seen = Arc::new(Mutex::new(None));
        let recorded = Arc::clone(&seen);
        Mock::given(method("PUT"))
            .and(path(ns_path("/values/big%2Fblob")))
            .and(query_param("expiration_ttl", "3600"))
            .respond_with(move |request: &Request| {
                let content_type = request.headers.get("content-type").cloned();
                *recorded.lock().expect("seen") = Some((content_type, request.body.clone()));
                ok(Value::Null)
            })
            .expect(1)
            .mount(&f.server)
            .await;
        Mock::given(method("PUT"))
            .and(path(ns_path("/bulk")))
            .respond_with(ok(Value::Null))
            .expect(0)
            .mount(&f.server)
            .await;
        let pairs = [put_pair("big/blob", &value, metadata.clone(), Expiration::Ttl(3600))];
        f.store.bulk_put(NS, &pairs).await.expect("single put");
        let (content_type, body) = seen.lock().expect("seen").take().expect("a request");
        let content_type = content_type.expect("content type");
        let boundary = content_type
            .to_str()
            .expect("ascii")
            .strip_prefix("multipart/form-data; boundary=")
            .expect("multipart")
            .to_owned();
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"value\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        );
        assert!(body.starts_with(head.as_bytes()));
        assert_eq!(&body[head.len()..head.len() + value.len()], &value[..]);
        let tail = format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
             Content-Type: application/json\r\n\r\n{metadata}\r\n--{boundary}--\r\n"
        );
        assert_eq!(&body[head.len() + value.len()..], tail.as_bytes());
        assert_eq!(f.store.stats().put_value, 1);

        // Such a value on a key a URL cannot name is refused before anything is sent, and so
        // is one that shares its batch.
        let unsafe_key = [put_pair("a^b", &value, json!({}), Expiration::Never)];
        let error = f.store.bulk_put(NS, &unsafe_key).await.expect_err("unsafe key");
        assert!(error.to_string().contains("cannot name it in a URL"), "{error}");
        let shared = [
            put_pair("small", b"v", json!({}), Expiration::Never),
            put_pair("big", &value, json!({}), Expiration::Never),
        ];
        let error = f.store.bulk_put(NS, &shared).await.expect_err("not alone");
        assert!(error.to_string().contains("must be written alone"), "{error}");
        assert_eq!(f.store.stats().put_value, 1);
    }

    #[test]
    fn encode_uri_component_matches_javascript() {
        // Outputs of `encodeURIComponent` in node.
        for (key, encoded) in [
            ("plain", "plain"),
            ("/leading", "%2Fleading"),
            ("100%", "100%25"),
            ("a b", "a%20b"),
            ("ключ", "%D0%BA%D0%BB%D1%8E%D1%87"),
            ("\u{1f}^...", "%1F%5E..."),
            (":@$,;=[]{}|\\\"<>`", "%3A%40%24%2C%3B%3D%5B%5D%7B%7D%7C%5C%22%3C%3E%60"),
        ] {
            assert_eq!(encode_uri_component(key), encoded, "{key:?}");
        }
    }

    // ---- construction and hints --------------------------------------------------------------

    #[test]
    fn configuration_is_checked() {
        let config = |base_url: &str, account_id: &str| CloudflareConfig {
            base_url: base_url.to_owned(),
            account_id: account_id.to_owned(),
            token: ApiToken::new(SECRET).expect("token"),
            timings: timings(),
        };
        for (base, account) in [
            (DEFAULT_BASE_URL, ACCOUNT),
            ("https://api.fed.cloudflare.com/client/v4/", ACCOUNT),
            ("http://127.0.0.1:8787", "test-account"),
            ("http://localhost:8787/client/v4", ACCOUNT),
            ("http://[::1]:8787", ACCOUNT),
        ] {
            let store = CloudflareStore::new(config(base, account)).expect("accepted");
            assert!(!store.namespaces_url.contains("//accounts"), "{}", store.namespaces_url);
        }
        for (base, account, message) in [
            ("http://api.example.com", ACCOUNT, "uses plain http to another machine"),
            ("ftp://example.com", ACCOUNT, "must be an https URL"),
            ("not a url", ACCOUNT, "is not a URL"),
            ("https://x.example/v4?a=1", ACCOUNT, "must not have a query"),
            (DEFAULT_BASE_URL, "", "account id `` is not"),
            (DEFAULT_BASE_URL, "../../x", "account id `../../x` is not"),
            (DEFAULT_BASE_URL, &"a".repeat(33), "is not a Cloudflare account id"),
        ] {
            let error = CloudflareStore::new(config(base, account)).expect_err("refused");
            assert!(error.to_string().contains(message), "{error}");
            assert!(!shown(&error).contains(SECRET));
        }
    }

    #[tokio::test]
    async fn bad_namespace_ids_are_refused_before_sending() {
        let f = Fixture::new().await;
        for ns in ["", "a/b", "..", "x?y", &"f".repeat(33), "ns", &"F".repeat(32)] {
            let error = f.store.list_page(ns, "", None).await.expect_err("refused");
            assert!(error.to_string().starts_with(&format!("namespace id `{ns}` is not")));
        }
        assert_eq!(f.store.stats().total(), 0);
    }

    #[test]
    fn the_base_url_comes_from_the_flag_then_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let none = env(&[]);
        assert_eq!(base_url(None, &none), DEFAULT_BASE_URL);
        let both = env(&[(CLOUDFLARE_API_BASE_URL, "https://a"), (CF_API_BASE_URL, "https://b")]);
        assert_eq!(base_url(Some("http://127.0.0.1:1"), &both), "http://127.0.0.1:1");
        assert_eq!(base_url(None, &both), "https://a");
        let legacy = env(&[(CLOUDFLARE_API_BASE_URL, ""), (CF_API_BASE_URL, "https://b")]);
        assert_eq!(base_url(Some(" "), &legacy), "https://b");
    }

    #[test]
    fn hints_for_the_common_codes() {
        let api = |status, codes: &[u32]| Error::Api {
            endpoint: "GET x".into(),
            status,
            codes: codes.to_vec(),
            messages: codes.iter().map(|_| String::new()).collect(),
        };
        assert!(hint(&api(403, &[10000])).expect("hint").contains("Workers KV Storage"));
        assert!(hint(&api(401, &[])).expect("hint").contains("Workers KV Storage"));
        assert_eq!(
            hint(&api(404, &[10013])).as_deref(),
            Some(
                "the namespace id is not in this account: check the scope's `namespace_id` and the account id (`account_id:` or CLOUDFLARE_ACCOUNT_ID)"
            )
        );
        assert!(hint(&api(404, &[7003])).expect("hint").contains("account id"));
        assert!(hint(&api(400, &[10011])).expect("hint").contains("malformed"));
        assert!(hint(&api(413, &[])).expect("hint").contains("100 MB"));
        assert!(hint(&api(400, &[10021])).expect("hint").contains("legacy namespace"));
        assert_eq!(hint(&api(400, &[12345])), None);
        assert!(hint(&Error::MissingToken).expect("hint").contains("CLOUDFLARE_API_TOKEN"));
        let limited = Error::RateLimited { endpoint: "GET x".into(), retry_after: None };
        assert!(hint(&limited).expect("hint").contains("wait a few minutes"));
        assert_eq!(hint(&Error::Invalid { message: "x".into() }), None);
    }

    #[test]
    fn api_errors_describe_every_code_and_message() {
        assert_eq!(describe_api_errors(&[], &[]), "no error details");
        assert_eq!(
            describe_api_errors(
                &[10000, 0, 7003, 0],
                &["Auth".into(), "m".into(), "".into(), "".into()]
            ),
            "Auth (code 10000); m; code 7003; an error without code or message"
        );
        assert_eq!(
            describe_retry_after(Some(Duration::from_millis(1500))),
            "; the API asks to wait 2 s"
        );
        assert_eq!(
            describe_retry_after(Some(Duration::from_secs(300))),
            "; the API asks to wait 5 min"
        );
        assert_eq!(describe_retry_after(None), "");
    }
}
