//! The HTTP side: routing, authentication, fault injection and the handlers of the imitated
//! endpoints (doc §1.2, §1.3, §1.5, §1.7, §1.8, §1.9).
//!
//! One fallback handler routes by hand instead of through axum's router, so that every request,
//! including one to a path Cloudflare has no route for, is counted exactly once, goes through the
//! same fault queue, and is answered with Cloudflare's envelope rather than a framework's
//! plain-text rejection. Paths are matched on their raw, percent-encoded form, so a key may
//! contain `%2F` (doc §3).
//!
//! The order of checks for a request: count it and spend rate budget; take a matching fault;
//! authenticate (doc §6.1); route and check the account and namespace ids (doc §0.3, §5); then
//! validate and carry out the operation.

use std::collections::HashSet;
use std::future::IntoFuture as _;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::bulk::{self, GetRequest, MAX_BODY_BYTES, ValueType, WriteItem};
use crate::envelope::{self, Failure};
use crate::fault::{self, Kind, RequestFacts};
use crate::store::{self, Listed, Namespace, Position};
use crate::{
    Counts, Fault, Metadata, RateLimit, RetryAfter, Shared, State as Inner, is_identifier,
};

/// Runs the server on its own thread until `stopped` fires, then drops the runtime, which cancels
/// every connection still open (a stalled request included) instead of waiting for it.
pub(crate) fn serve(
    runtime: tokio::runtime::Runtime,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    stopped: oneshot::Receiver<()>,
) {
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("kv-standin: cannot listen: {error}");
                return;
            }
        };
        let app = Router::new().fallback(handle).with_state(shared);
        tokio::select! {
            result = axum::serve(listener, app).into_future() => {
                if let Err(error) = result {
                    eprintln!("kv-standin: server stopped: {error}");
                }
            }
            _ = stopped => {}
        }
    });
    runtime.shutdown_background();
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let route = Route::parse(&parts.method, parts.uri.path());
    let limit = shared.options.rate_limit;
    let (remaining, reset, over) = {
        let mut state = shared.lock();
        count(&mut state.counts, route.kind());
        let budget = state.spend_budget(&limit);
        if budget.2 && limit.enforce {
            state.counts.rate_limited += 1;
        }
        budget
    };
    let mut response = if over && limit.enforce {
        rate_limited(RetryAfter::Seconds(reset), &limit)
    } else {
        answer(&shared, route, &parts, body).await
    };
    // Doc §4: REST responses carry the caller's remaining budget. A 429 already set its own.
    let headers = response.headers_mut();
    if !headers.contains_key("ratelimit") {
        insert(headers, "ratelimit", format!("\"default\";r={remaining};t={reset}"));
    }
    insert(
        headers,
        "ratelimit-policy",
        format!("\"burst\";q={};w={}", limit.quota, limit.window.as_secs()),
    );
    response
}

fn count(counts: &mut Counts, kind: Kind) {
    counts.total += 1;
    let counter = match kind {
        Kind::List => &mut counts.list,
        Kind::GetValue => &mut counts.get_value,
        Kind::BulkGet => &mut counts.bulk_get,
        Kind::BulkPut => &mut counts.bulk_put,
        Kind::PutValue => &mut counts.put_value,
        Kind::BulkDelete => &mut counts.bulk_delete,
        Kind::Namespaces => &mut counts.namespaces,
        Kind::Other => &mut counts.other,
    };
    *counter += 1;
}

/// A request once its path is understood. Keys and ids stay as sent until they are needed.
#[derive(Debug)]
enum Route {
    Kv {
        account: String,
        namespace: String,
        op: Op,
    },
    /// `GET /client/v4/accounts/{account_id}/storage/kv/namespaces` (doc §1.1).
    Namespaces {
        account: String,
    },
    Unknown,
}

#[derive(Debug)]
enum Op {
    List,
    GetValue(Result<String, Failure>),
    PutValue(Result<String, Failure>),
    BulkPut,
    BulkDelete,
    BulkGet,
}

impl Route {
    /// Doc §1: `/client/v4/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/...`.
    fn parse(method: &Method, path: &str) -> Route {
        let Some(rest) = path.strip_prefix("/client/v4/accounts/") else { return Route::Unknown };
        let Some((account, rest)) = rest.split_once('/') else { return Route::Unknown };
        if method == Method::GET && rest == "storage/kv/namespaces" {
            return Route::Namespaces { account: decode_lossy(account) };
        }
        let Some(rest) = rest.strip_prefix("storage/kv/namespaces/") else { return Route::Unknown };
        let Some((namespace, rest)) = rest.split_once('/') else { return Route::Unknown };
        let op = match (method, rest) {
            (&Method::GET, "keys") => Op::List,
            (&Method::PUT, "bulk") => Op::BulkPut,
            // Doc §1.8: `POST .../bulk/delete` is current; `DELETE .../bulk` is deprecated but
            // still what wrangler, cloudflare-rs and wrangler-legacy send.
            (&Method::POST, "bulk/delete") | (&Method::DELETE, "bulk") => Op::BulkDelete,
            (&Method::POST, "bulk/get") => Op::BulkGet,
            // The key is everything after `values/`, slashes included: a client that leaves a
            // `/` unencoded still names the key it meant (doc §3.1, workers-sdk issue #961).
            (&Method::GET, rest) => match rest.strip_prefix("values/") {
                Some(key) if !key.is_empty() => Op::GetValue(decode_key(key)),
                _ => return Route::Unknown,
            },
            // Doc §1.5: the single-key write, raw or multipart.
            (&Method::PUT, rest) => match rest.strip_prefix("values/") {
                Some(key) if !key.is_empty() => Op::PutValue(decode_key(key)),
                _ => return Route::Unknown,
            },
            _ => return Route::Unknown,
        };
        Route::Kv { account: decode_lossy(account), namespace: decode_lossy(namespace), op }
    }

    fn kind(&self) -> Kind {
        match self {
            Route::Kv { op: Op::List, .. } => Kind::List,
            Route::Kv { op: Op::GetValue(_), .. } => Kind::GetValue,
            Route::Kv { op: Op::PutValue(_), .. } => Kind::PutValue,
            Route::Kv { op: Op::BulkPut, .. } => Kind::BulkPut,
            Route::Kv { op: Op::BulkDelete, .. } => Kind::BulkDelete,
            Route::Kv { op: Op::BulkGet, .. } => Kind::BulkGet,
            Route::Namespaces { .. } => Kind::Namespaces,
            Route::Unknown => Kind::Other,
        }
    }
}

/// Doc §3.2: namespaces report `supports_url_encoding: true`, meaning "a key written in the URL
/// is URL-decoded" (`%3F` is `?`). `+` stays a plus: this is a path, not a form.
fn decode_key(raw: &str) -> Result<String, Failure> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|key| key.into_owned())
        .map_err(|_| Failure::invalid("the key is not valid UTF-8 once percent-decoded"))
}

fn decode_lossy(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned()
}

/// A request body, read and parsed up front because fault matching needs the keys it names.
/// Errors are kept and reported after authentication, in the API's order.
enum Payload {
    None,
    Write(Result<Vec<WriteItem>, Failure>),
    Delete(Result<Vec<String>, Failure>),
    Get(Result<GetRequest, Failure>),
    Raw(Result<Bytes, Failure>),
}

impl Payload {
    async fn read(kind: Kind, body: Body) -> Payload {
        match kind {
            Kind::BulkPut => {
                Payload::Write(read_body(body).await.and_then(|b| bulk::parse_write(&b)))
            }
            Kind::BulkDelete => {
                Payload::Delete(read_body(body).await.and_then(|b| bulk::parse_delete(&b)))
            }
            Kind::BulkGet => Payload::Get(read_body(body).await.and_then(|b| bulk::parse_get(&b))),
            Kind::PutValue => Payload::Raw(read_body(body).await),
            // Other requests' bodies are not read: hyper discards them.
            Kind::List | Kind::GetValue | Kind::Namespaces | Kind::Other => Payload::None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Payload::Write(Ok(items)) => items.iter().filter_map(WriteItem::key).collect(),
            Payload::Delete(Ok(keys)) => keys.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Reads a body of less than 100,000,000 bytes (doc §1.7). A larger body is read to its end and
/// dropped (up to a bound), so the client gets the 413 instead of a reset connection while it is
/// still sending.
async fn read_body(mut body: Body) -> Result<Bytes, Failure> {
    const DRAIN_LIMIT: usize = 4 * MAX_BODY_BYTES;
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame =
            frame.map_err(|e| Failure::invalid(format!("could not read request body: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        total = total.saturating_add(data.len());
        if total < MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT {
            break;
        }
    }
    if total >= MAX_BODY_BYTES {
        // Doc §5: 10024 "payload too large" (3P; [LEG] groups it with the limit errors).
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            10024,
            format!("payload too large: the request body must be less than {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(Bytes::from(kept))
}

/// The query of a list request (doc §1.2).
#[derive(Debug)]
struct ListQuery {
    prefix: String,
    limit: usize,
    /// The cursor as sent, when non-empty.
    cursor: Option<String>,
    position: Position,
}

impl ListQuery {
    fn parse(parts: &Parts) -> Result<ListQuery, Failure> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|e| Failure::invalid(format!("invalid query string: {e}")))?;
        let param = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        // Doc §1.2: `limit` is "minimum 10, maximum 1000, default 1000". Doc §5 lists 10028
        // "invalid limit argument" (3P, mapping UNVERIFIED), the best code on record for this.
        let limit = match param("limit") {
            None => 1000,
            Some(raw) => match raw.parse::<usize>() {
                Ok(limit) if (10..=1000).contains(&limit) => limit,
                _ => {
                    return Err(Failure::new(
                        StatusCode::BAD_REQUEST,
                        10028,
                        format!("invalid limit argument {raw:?}: must be a number from 10 to 1000"),
                    ));
                }
            },
        };
        // An empty `cursor` is the first page: clients send `cursor=` on their first request.
        let cursor = param("cursor").filter(|c| !c.is_empty()).map(str::to_owned);
        let position = match &cursor {
            None => None,
            Some(raw) => store::decode_cursor(raw).ok_or_else(|| {
                Failure::invalid(format!("invalid cursor {:?}", bulk::shorten(raw)))
            })?,
        };
        Ok(ListQuery { prefix: param("prefix").unwrap_or("").to_owned(), limit, cursor, position })
    }
}

/// Everything after counting: fault, authentication, routing, the operation.
async fn answer(shared: &Shared, route: Route, parts: &Parts, body: Body) -> Response {
    let kind = route.kind();
    let query = (kind == Kind::List).then(|| ListQuery::parse(parts));
    let payload = Payload::read(kind, body).await;
    let has_cursor = matches!(&query, Some(Ok(q)) if q.cursor.is_some());
    let fault = {
        let facts = RequestFacts { kind, has_cursor, keys: payload.keys() };
        let mut state = shared.lock();
        let fault = fault::take(&mut state.faults, &facts).or_else(|| {
            let chaos = shared.options.chaos?;
            let write = matches!(kind, Kind::BulkPut | Kind::BulkDelete);
            let roll = state.roll();
            if roll < chaos.rate_limited_percent {
                Some(Fault::RateLimited {
                    endpoint: crate::Endpoint::Any,
                    retry_after: crate::RetryAfter::Seconds(0),
                })
            } else if write
                && roll < chaos.rate_limited_percent.saturating_add(chaos.lost_write_percent)
            {
                Some(Fault::ServerError {
                    endpoint: crate::Endpoint::Any,
                    status: 503,
                    after_effect: true,
                })
            } else {
                None
            }
        });
        if fault.is_some() {
            state.counts.injected += 1;
        }
        fault
    };
    // Faults that replace the answer: the request is not carried out.
    let fault = match fault {
        Some(Fault::RateLimited { retry_after, .. }) => {
            return rate_limited(retry_after, &shared.options.rate_limit);
        }
        Some(Fault::ServerError { status, after_effect: false, .. }) => {
            return server_error(status);
        }
        Some(Fault::Malformed { body, status, .. }) => {
            return envelope::malformed(body, status_code(status));
        }
        Some(Fault::ApiError { status, code, message, .. }) => {
            return Failure::new(status_code(status), code, message).into_response();
        }
        Some(Fault::Stall { duration, .. }) => {
            tokio::time::sleep(duration).await;
            None
        }
        Some(Fault::Hold { .. }) => {
            shared.held().await;
            None
        }
        other => other,
    };
    let outcome = carry_out(shared, route, parts, query, payload, fault.as_ref()).await;
    match (outcome, fault) {
        // The request took effect; only the answer is lost.
        (Ok(_), Some(Fault::ServerError { status, .. })) => server_error(status),
        (Ok(_), Some(Fault::NullResult { .. })) => envelope::null_success(),
        (Ok(response), _) => response,
        (Err(failure), _) => failure.into_response(),
    }
}

async fn carry_out(
    shared: &Shared,
    route: Route,
    parts: &Parts,
    query: Option<Result<ListQuery, Failure>>,
    payload: Payload,
    fault: Option<&Fault>,
) -> Result<Response, Failure> {
    authenticate(&parts.headers, &shared.options.token)?;
    if let Route::Namespaces { account } = &route {
        return list_namespaces(shared, account, parts);
    }
    let Route::Kv { account, namespace, op } = route else {
        // Doc §5, code 7003: "No route for the URI". The stand-in also answers this for the
        // real routes it does not imitate (namespaces, single-key deletes, metadata).
        return Err(Failure::new(StatusCode::NOT_FOUND, 7003, "No route for the URI"));
    };
    if !is_identifier(&account) || !is_identifier(&namespace) {
        // Doc §5, code 7003: "Could not route to /accounts/.../storage/kv/namespaces/..." for a
        // bad path, account or namespace id format (ids are at most 32 characters, doc §0.3).
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            7003,
            format!(
                "Could not route to {}, perhaps your object identifier is invalid?",
                parts.uri.path()
            ),
        ));
    }
    if account != shared.options.account_id {
        // A token is scoped to its account (doc §1, §6.1), so another account is a permission
        // failure: 10000 (doc §5). The status for a well-formed foreign account is UNVERIFIED;
        // 403 is what a token without the permission gets.
        return Err(auth_error(StatusCode::FORBIDDEN));
    }
    // Doc §5: 10013 "namespace not found" with 404, verified by cloudflare-rs's live e2e test.
    with_namespace(&shared.lock(), &namespace, |_| ())?;
    match op {
        Op::List => match query {
            Some(Ok(query)) => list(shared, &namespace, query, fault).await,
            Some(Err(failure)) => Err(failure),
            None => Err(Failure::invalid("missing list query")),
        },
        Op::GetValue(key) => get_value(shared, &namespace, &key?),
        Op::PutValue(key) => match payload {
            Payload::Raw(body) => put_value(shared, &namespace, key?, parts, &body?),
            _ => Err(Failure::invalid("missing value body")),
        },
        Op::BulkPut => match payload {
            Payload::Write(items) => bulk_put(shared, &namespace, items?, fault),
            _ => Err(Failure::invalid("missing bulk write body")),
        },
        Op::BulkDelete => match payload {
            Payload::Delete(keys) => bulk_delete(shared, &namespace, keys?, fault),
            _ => Err(Failure::invalid("missing bulk delete body")),
        },
        Op::BulkGet => match payload {
            Payload::Get(request) => bulk_get(shared, &namespace, request?),
            _ => Err(Failure::invalid("missing bulk get body")),
        },
    }
}

/// Doc §1.1: the account's namespaces, `page` by `page` (from 1) of `per_page` (1..=1000,
/// default 20) in id order (`order=title` sorts by title; `direction=desc` reverses), each
/// `{id, title, supports_url_encoding: true}`, with `result_info` `{page, per_page, count,
/// total_count, total_pages}`.
fn list_namespaces(shared: &Shared, account: &str, parts: &Parts) -> Result<Response, Failure> {
    if account != shared.options.account_id {
        return Err(auth_error(StatusCode::FORBIDDEN));
    }
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map_err(|e| Failure::invalid(format!("invalid query string: {e}")))?;
    let param = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let number = |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| {
        let Some(raw) = param(name) else { return Ok(default) };
        match raw.parse::<usize>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(Failure::invalid(format!("invalid `{name}` {raw:?}"))),
        }
    };
    let page = number("page", 1, 1..=usize::MAX)?;
    let per_page = number("per_page", 20, 1..=1000)?;
    let mut namespaces: Vec<(String, String)> = {
        let state = shared.lock();
        let titled = state.store.namespaces.iter();
        titled
            .map(|(id, ns)| (id.clone(), ns.title.clone().unwrap_or_else(|| id.clone())))
            .collect()
    };
    match param("order") {
        Some("title") => namespaces.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))),
        Some("id") | None => namespaces.sort(),
        Some(other) => return Err(Failure::invalid(format!("invalid `order` {other:?}"))),
    }
    match param("direction") {
        Some("desc") => namespaces.reverse(),
        Some("asc") | None => {}
        Some(other) => return Err(Failure::invalid(format!("invalid `direction` {other:?}"))),
    }
    let total_count = namespaces.len();
    let items: Vec<serde_json::Value> = namespaces
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|(id, title)| {
            serde_json::json!({ "id": id, "title": title, "supports_url_encoding": true })
        })
        .collect();
    let info = serde_json::json!({
        "page": page,
        "per_page": per_page,
        "count": items.len(),
        "total_count": total_count,
        "total_pages": total_count.div_ceil(per_page),
    });
    Ok(envelope::success(items, Some(info)))
}

/// Doc §6.1: `Authorization: Bearer <API token>` (the legacy `X-Auth-Email`/`X-Auth-Key` pair is
/// not accepted: the stand-in has no global API key). Doc §5: a bad token is 10000
/// "Authentication error", status "401 or 403" (3P); a malformed header is 6003 (3P).
/// The statuses chosen, UNVERIFIED: no credentials → 400 with 10000; a header that is not
/// `Bearer <token>` → 400 with 6003 "Invalid request headers"; any other token → 403 with 10000.
fn authenticate(headers: &HeaderMap, token: &str) -> Result<(), Failure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        let legacy = headers.contains_key("x-auth-key") || headers.contains_key("x-auth-email");
        return Err(auth_error(if legacy {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        }));
    };
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, given)| scheme.eq_ignore_ascii_case("bearer") && !given.trim().is_empty())
        .map(|(_, given)| given.trim());
    match given {
        None => Err(Failure::new(StatusCode::BAD_REQUEST, 6003, "Invalid request headers")),
        Some(given) if given == token => Ok(()),
        Some(_) => Err(auth_error(StatusCode::FORBIDDEN)),
    }
}

fn auth_error(status: StatusCode) -> Failure {
    Failure::new(status, 10000, "Authentication error")
}

fn with_namespace<T>(
    state: &Inner,
    id: &str,
    f: impl FnOnce(&Namespace) -> T,
) -> Result<T, Failure> {
    state.store.namespaces.get(id).map(f).ok_or_else(namespace_not_found)
}

fn namespace_not_found() -> Failure {
    // Doc §5: the message seen live is `get namespace: 'namespace not found'`.
    Failure::new(StatusCode::NOT_FOUND, 10013, "get namespace: 'namespace not found'")
}

/// Doc §1.2 `cursor_result_info`: `count` is this page's size; `cursor` is `""` on the last page.
#[derive(Serialize)]
struct ListInfo {
    count: usize,
    cursor: String,
}

async fn list(
    shared: &Shared,
    namespace: &str,
    query: ListQuery,
    fault: Option<&Fault>,
) -> Result<Response, Failure> {
    // DESIGN.md §9: benchmarks measure a client against a server that needs ~15 ms per page.
    if !shared.options.list_latency.is_zero() {
        tokio::time::sleep(shared.options.list_latency).await;
    }
    let tombstones = shared.options.page_tombstones;
    let (keys, cursor): (Vec<Listed>, String) = {
        let mut state = shared.lock();
        let now = state.now();
        if matches!(fault, Some(Fault::EmptyPageWithCursor { .. })) {
            // Doc §1.2: an empty page that carries a cursor; the new cursor resumes exactly where
            // the request's did, so the listing loses nothing.
            with_namespace(&state, namespace, |_| ())?;
            (Vec::new(), state.store.cursor(query.position.as_deref()))
        } else {
            let page = with_namespace(&state, namespace, |ns| {
                ns.list(&query.prefix, query.position.as_deref(), query.limit, now, tombstones)
            })?;
            let cursor = match page.resume_after {
                Some(after) => state.store.cursor(Some(&after)),
                None => String::new(),
            };
            (page.keys, cursor)
        }
    };
    let cursor = match (fault, query.cursor) {
        (Some(Fault::RepeatCursor), Some(sent)) => sent,
        _ => cursor,
    };
    Ok(envelope::success(&keys, Some(ListInfo { count: keys.len(), cursor })))
}

/// Doc §1.3: the raw bytes with no envelope, the absolute expiry in an `expiration` header when
/// the key expires, and 404 code 10009 `get: 'key not found'` for a missing or expired key.
fn get_value(shared: &Shared, namespace: &str, key: &str) -> Result<Response, Failure> {
    let found = {
        let state = shared.lock();
        let now = state.now();
        with_namespace(&state, namespace, |ns| {
            ns.get(key, now).map(|e| (e.value.clone(), e.expiration))
        })?
    };
    // Doc §2: reads of missing keys are billed too.
    shared.lock().counts.keys_read += 1;
    let (value, expiration) =
        found.ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, 10009, "get: 'key not found'"))?;
    let mut response =
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/octet-stream")], value)
            .into_response();
    if let Some(at) = expiration {
        insert(response.headers_mut(), "expiration", at.to_string());
    }
    Ok(response)
}

/// Doc §1.5: `PUT .../values/{key}`, the no-result envelope on success.
fn put_value(
    shared: &Shared,
    namespace: &str,
    key: String,
    parts: &Parts,
    body: &[u8],
) -> Result<Response, Failure> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map_err(|e| Failure::invalid(format!("invalid query string: {e}")))?;
    let number = |name: &str| -> Result<Option<i64>, Failure> {
        match pairs.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, raw)) => raw
                .parse()
                .map(Some)
                .map_err(|_| Failure::invalid(format!("`{name}` must be a number, not {raw:?}"))),
        }
    };
    let (at, ttl) = (number("expiration")?, number("expiration_ttl")?);
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let now = shared.lock().now();
    let write = bulk::check_single_put(key, content_type, body, at, ttl, now)?;
    let mut state = shared.lock();
    let ns = state.store.namespaces.get_mut(namespace).ok_or_else(namespace_not_found)?;
    ns.put(write.key, write.entry);
    drop(state);
    Ok(envelope::null_success())
}

/// Doc §1.7 `workers-kv_bulk-result`.
#[derive(Serialize)]
struct BulkResult {
    successful_key_count: usize,
    unsuccessful_keys: Vec<String>,
}

fn unsuccessful_keys(fault: Option<&Fault>) -> HashSet<&str> {
    match fault {
        Some(Fault::Unsuccessful { keys }) => keys.iter().map(String::as_str).collect(),
        _ => HashSet::new(),
    }
}

fn bulk_put(
    shared: &Shared,
    namespace: &str,
    items: Vec<WriteItem>,
    fault: Option<&Fault>,
) -> Result<Response, Failure> {
    let now = shared.lock().now();
    // Validation (and base64 decoding of up to 100 MB) happens outside the lock.
    let writes = bulk::check_writes(items, now)?;
    let failing = unsuccessful_keys(fault);
    let mut result = BulkResult { successful_key_count: 0, unsuccessful_keys: Vec::new() };
    let mut state = shared.lock();
    let ns = state.store.namespaces.get_mut(namespace).ok_or_else(namespace_not_found)?;
    for write in writes {
        if failing.contains(write.key.as_str()) {
            result.unsuccessful_keys.push(write.key);
        } else {
            ns.put(write.key, write.entry);
            result.successful_key_count += 1;
        }
    }
    drop(state);
    Ok(envelope::success(result, None::<()>))
}

/// Doc §1.8: same result shape as bulk write. Keys are checked like written keys (doc §1.8:
/// "each key is at most 512 bytes"; refusing `""`, `.` and `..` too is the stand-in's choice,
/// since no such key can exist). Deleting a missing key succeeds and counts as successful.
fn bulk_delete(
    shared: &Shared,
    namespace: &str,
    keys: Vec<String>,
    fault: Option<&Fault>,
) -> Result<Response, Failure> {
    for (index, key) in keys.iter().enumerate() {
        bulk::check_key(key)
            .map_err(|f| Failure { message: format!("item {index}: {}", f.message), ..f })?;
    }
    let failing = unsuccessful_keys(fault);
    let tombstones = shared.options.page_tombstones;
    let mut result = BulkResult { successful_key_count: 0, unsuccessful_keys: Vec::new() };
    let mut state = shared.lock();
    let ns = state.store.namespaces.get_mut(namespace).ok_or_else(namespace_not_found)?;
    for key in keys {
        if failing.contains(key.as_str()) {
            result.unsuccessful_keys.push(key);
        } else {
            ns.delete(&key, tombstones);
            result.successful_key_count += 1;
        }
    }
    drop(state);
    Ok(envelope::success(result, None::<()>))
}

/// One entry of a bulk get with `withMetadata` (doc §1.9: `value` and `metadata` are required
/// when the entry is not null; `expiration` is present when the key expires).
#[derive(Serialize)]
struct WithMetadata {
    value: Value,
    metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<i64>,
}

/// `{"values": {key: entry | null}}`, keys in request order.
#[derive(Serialize)]
struct BulkValues<T: Serialize> {
    #[serde(serialize_with = "as_map")]
    values: Vec<(String, Option<T>)>,
}

fn as_map<T: Serialize, S: Serializer>(
    entries: &[(String, Option<T>)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(entries.iter().map(|(k, v)| (k, v)))
}

/// Doc §1.9. Missing and expired keys come back `null` (the spec's nullable entries; UNVERIFIED
/// for the plain variant). The spec says "Keys must contain text-based values" but not what a
/// binary value does; the stand-in's choice is to fail the whole request with 400 (code 10001)
/// naming the key, so a client must fall back to `GET .../values/{key}` (doc §1.9, §10.2).
/// Likewise with `type: "json"`, a value that is not JSON fails the request, as in Miniflare.
fn bulk_get(shared: &Shared, namespace: &str, request: GetRequest) -> Result<Response, Failure> {
    type Found = (Bytes, Option<Metadata>, Option<i64>);
    let found: Vec<(String, Option<Found>)> = {
        let state = shared.lock();
        let now = state.now();
        with_namespace(&state, namespace, |ns| {
            let mut seen = HashSet::new();
            request
                .keys
                .iter()
                .filter(|key| seen.insert(key.as_str()))
                .map(|key| {
                    let entry = ns
                        .get(key, now)
                        .map(|e| (e.value.clone(), e.metadata.clone(), e.expiration));
                    (key.clone(), entry)
                })
                .collect()
        })?
    };
    // Each key asked for is a billed read (doc §2: probably, and missing keys too).
    shared.lock().counts.keys_read += found.len() as u64;
    // A text read decodes UTF-8 the way workerd does, dropping a leading byte order mark
    // (U+FEFF): Cloudflare's bulk get returns such a value without it (doc §10.2).
    let value_of = |key: &str, bytes: &Bytes| -> Result<Value, Failure> {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Failure::invalid(format!(
                "key {:?} holds a binary value: bulk get only returns text-based values; read it with GET .../values/{{key}}",
                bulk::shorten(key)
            ))
        })?;
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        match request.value_type {
            ValueType::Text => Ok(Value::String(text.to_owned())),
            ValueType::Json => serde_json::from_str(text).map_err(|e| {
                Failure::invalid(format!("key {:?} does not hold JSON: {e}", bulk::shorten(key)))
            }),
        }
    };
    if request.with_metadata {
        let mut values = Vec::with_capacity(found.len());
        for (key, entry) in found {
            let entry = match entry {
                Some((bytes, metadata, expiration)) => {
                    Some(WithMetadata { value: value_of(&key, &bytes)?, metadata, expiration })
                }
                None => None,
            };
            values.push((key, entry));
        }
        Ok(envelope::success(BulkValues { values }, None::<()>))
    } else {
        let mut values = Vec::with_capacity(found.len());
        for (key, entry) in found {
            let value = match entry {
                Some((bytes, _, _)) => Some(value_of(&key, &bytes)?),
                None => None,
            };
            values.push((key, value));
        }
        Ok(envelope::success(BulkValues { values }, None::<()>))
    }
}

/// Doc §4: a 429 with `retry-after` (seconds or HTTP-date, or none) and no budget left. Doc §5
/// lists 10022 "too many requests" (3P) as the KV code for it.
fn rate_limited(retry_after: RetryAfter, limit: &RateLimit) -> Response {
    let mut response =
        Failure::new(StatusCode::TOO_MANY_REQUESTS, 10022, "too many requests").into_response();
    let reset = match retry_after {
        RetryAfter::Seconds(seconds) => seconds,
        RetryAfter::HttpDate(at) => {
            at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).as_secs() + 1
        }
        RetryAfter::None => limit.window.as_secs(),
    };
    let headers = response.headers_mut();
    match retry_after {
        RetryAfter::Seconds(seconds) => insert(headers, "retry-after", seconds.to_string()),
        RetryAfter::HttpDate(at) => insert(headers, "retry-after", httpdate::fmt_http_date(at)),
        RetryAfter::None => {}
    }
    insert(headers, "ratelimit", format!("\"default\";r=0;t={reset}"));
    response
}

/// An API-side failure. Doc §5 has no verified code for it; 10001 is the code a third-party list
/// gives for "service temporarily unavailable" (and Miniflare for validation), so clients must
/// branch on the status for 5xx, which is what retries key on anyway (DESIGN.md §6).
fn server_error(status: u16) -> Response {
    let status = status_code(status);
    let message = status.canonical_reason().unwrap_or("server error").to_lowercase();
    Failure::new(status, 10001, message).into_response()
}

fn status_code(status: u16) -> StatusCode {
    // `Fault::check` refused impossible statuses when the fault was queued.
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}
