use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
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

/// §1.1: the namespace listing asks 1,000 a page, follows `total_pages` (a float is a number
/// too), stops at a page short of full without it, and a `null` result lists nothing: an error,
/// never "no namespace has this title".
#[tokio::test]
async fn namespaces_are_listed_by_page_with_their_titles() {
    let f = Fixture::new().await;
    let listing = format!("/client/v4/accounts/{ACCOUNT}/storage/kv/namespaces");
    let namespaces_page = |items: Value, info: Value| {
        ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "errors": [], "messages": [], "result": items, "result_info": info
        }))
    };
    let base = || {
        Mock::given(method("GET"))
            .and(path(listing.as_str()))
            .and(query_param("per_page", "1000"))
            .and(query_param("order", "id"))
    };
    base()
        .and(query_param("page", "1"))
        .respond_with(namespaces_page(
            json!([{"id": NS, "title": "shop-FLAGS", "supports_url_encoding": true}]),
            json!({"page": 1, "per_page": 1000, "count": 1, "total_count": 2, "total_pages": 2.0}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    base()
        .and(query_param("page", "2"))
        .respond_with(namespaces_page(
            json!([{"id": "11111111111111111111111111111111", "title": "shop \u{2028} \"x\""}]),
            json!({"page": 2, "per_page": 1000, "count": 1, "total_count": 2, "total_pages": 2}),
        ))
        .expect(1)
        .mount(&f.server)
        .await;
    let titles = f.store.namespace_titles().await.expect("listed");
    assert_eq!(titles.resolve("shop-FLAGS"), Ok(NS.to_owned()));
    assert_eq!(
        titles.resolve("shop \u{2028} \"x\""),
        Ok("11111111111111111111111111111111".to_owned())
    );
    assert_eq!(f.store.stats().namespaces, 2);

    let f = Fixture::new().await;
    Mock::given(method("GET"))
        .and(path(listing.as_str()))
        .respond_with(ok(Value::Null))
        .mount(&f.server)
        .await;
    let error = f.store.namespace_titles().await.expect_err("null is no listing");
    assert!(shown(&error).contains("not a list of namespaces"), "{}", shown(&error));
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
        (ResponseTemplate::new(200).set_body_json(json!({"success": true, "errors": []})), vec![]),
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
    Mock::given(method("GET")).respond_with(page(json!([]), json!(null))).mount(&f.server).await;
    f.store.list_page(NS, "", None).await.expect("page after the wait");
    let waits = f.waits();
    assert_eq!(waits.len(), 1);
    assert!((Duration::from_secs(28)..=Duration::from_secs(30)).contains(&waits[0]), "{waits:?}");
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
            ResponseTemplate::new(502).set_body_raw("<html>502 Bad Gateway</html>", "text/html"),
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
    let f =
        Fixture::with(Timings { request_timeout: Duration::from_millis(200), ..timings() }).await;
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
            ResponseTemplate::new(200)
                .set_body_raw("<!DOCTYPE html><html><title>Just a moment...</title>", "text/html"),
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
        let Error::Decode { endpoint: got, status: got_status, detail: got_detail } = &error else {
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
    assert_eq!(excerpt(&token, body.as_bytes()), format!("{}****", "x".repeat(EXCERPT_CHARS - 20)));
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
        .and(body_json(json!({"keys": ["a", "gone", "c"], "type": "text", "withMetadata": false})))
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
        Mock::given(method("GET")).respond_with(ok(Value::Null)).expect(0).mount(&f.server).await;
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
    let values = f.store.bulk_get(NS, &["bin".to_owned(), "t".to_owned()]).await.expect("values");
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
        assert_eq!(values, [LiveValue::Text("x".into()), LiveValue::Text("y".into())], "{result}");
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
    Mock::given(method("POST")).respond_with(failure(400, 10001, "binary")).mount(&f.server).await;
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
        "--{boundary}\r\nContent-Disposition: form-data; name=\"value\"; filename=\"blob\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    // A file part, as `FormData` sends a `Blob`: a Fetch-standard parser reads a part without
    // a `filename` as UTF-8 text.
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
    assert_eq!(hint(&Unsendable::DuplicateKey { key: "x".into() }.into()), None);
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
