//! The stand-in seen from a plain HTTP client, the way kvsync will see it: every imitated
//! endpoint, every limit, every fault kind, and the request counts.
//!
//! `Api` is the one door: it starts a stand-in with one namespace and sends raw requests, so
//! these tests check the wire (statuses, headers, envelopes), never the crate's internals.

use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kv_standin::{Counts, Endpoint, Fault, MalformedBody, Options, RateLimit, RetryAfter, Standin};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const NS: &str = "0f2ac74b498b48028cb68387c421e279";
/// A fixed clock, so expirations are exact.
const NOW: i64 = 1_800_000_000;

struct Api {
    standin: Standin,
    http: reqwest::Client,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ASCII header"))
    }

    /// Asserts a success envelope (doc §0.1) and returns its `result`.
    fn result(&self) -> Value {
        let body = self.json();
        assert_eq!(self.status, 200, "{body}");
        assert_eq!(body["success"], true, "{body}");
        assert_eq!(body["errors"], json!([]));
        assert_eq!(body["messages"], json!([]));
        body["result"].clone()
    }

    /// Asserts a failure envelope (doc §0.1) with this status and code; returns the message.
    fn failure(&self, status: u16, code: u64) -> String {
        let body = self.json();
        assert_eq!((self.status, &body["errors"][0]["code"]), (status, &json!(code)), "{body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["result"], Value::Null);
        assert_eq!(body["messages"], json!([]));
        assert_eq!(body["errors"].as_array().map(Vec::len), Some(1));
        body["errors"][0]["message"].as_str().expect("message").to_owned()
    }
}

impl Api {
    fn start() -> Api {
        Api::with(Options::default())
    }

    fn with(options: Options) -> Api {
        let standin = Standin::start(options);
        standin.create_namespace(NS);
        standin.set_clock(NOW);
        Api::client(standin, reqwest::Client::builder())
    }

    fn client(standin: Standin, builder: reqwest::ClientBuilder) -> Api {
        let http = builder.no_proxy().build().expect("client");
        Api { standin, http }
    }

    fn url(&self, ns: &str, rest: &str) -> String {
        format!(
            "{}/accounts/{}/storage/kv/namespaces/{ns}/{rest}",
            self.standin.base_url(),
            self.standin.account_id()
        )
    }

    async fn try_send(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> reqwest::Result<Reply> {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Reply { status, headers, body })
    }

    async fn send(&self, method: Method, url: &str, body: Option<Vec<u8>>) -> Reply {
        let token = self.standin.token().to_owned();
        self.try_send(method, url, body, Some(&token)).await.expect("request")
    }

    async fn put(&self, items: Value) -> Reply {
        self.send(Method::PUT, &self.url(NS, "bulk"), Some(items.to_string().into_bytes())).await
    }

    async fn delete(&self, keys: Value) -> Reply {
        self.send(Method::POST, &self.url(NS, "bulk/delete"), Some(keys.to_string().into_bytes()))
            .await
    }

    async fn bulk_get(&self, body: Value) -> Reply {
        self.send(Method::POST, &self.url(NS, "bulk/get"), Some(body.to_string().into_bytes()))
            .await
    }

    async fn list(&self, query: &str) -> Reply {
        self.send(Method::GET, &self.url(NS, &format!("keys?{query}")), None).await
    }

    async fn value(&self, encoded_key: &str) -> Reply {
        self.send(Method::GET, &self.url(NS, &format!("values/{encoded_key}")), None).await
    }

    /// Follows the cursor to the end: the names of every page, and the cursors seen.
    async fn list_all(&self, query: &str) -> (Vec<Vec<String>>, Vec<String>) {
        let (mut pages, mut cursors) = (Vec::new(), Vec::new());
        let mut cursor = String::new();
        loop {
            let reply = self.list(&format!("{query}&cursor={cursor}")).await;
            let body = reply.json();
            let names: Vec<String> = reply
                .result()
                .as_array()
                .expect("result is an array")
                .iter()
                .map(|k| k["name"].as_str().expect("name").to_owned())
                .collect();
            assert_eq!(body["result_info"]["count"], json!(names.len()));
            pages.push(names);
            cursor = body["result_info"]["cursor"].as_str().expect("cursor is a string").to_owned();
            cursors.push(cursor.clone());
            if cursor.is_empty() {
                return (pages, cursors);
            }
            assert!(pages.len() < 1000, "the listing does not end");
        }
    }

    fn counts(&self) -> Counts {
        self.standin.counts()
    }
}

fn pairs(keys: impl IntoIterator<Item = impl Into<String>>) -> Value {
    Value::Array(keys.into_iter().map(|k| json!({"key": k.into(), "value": "v"})).collect())
}

fn key_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i:02}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The endpoints

#[tokio::test]
async fn bulk_put_then_list_in_pages_of_ten() {
    let api = Api::start();
    let mut items: Vec<Value> = key_names(25)
        .into_iter()
        .rev()
        .map(|k| json!({"key": k, "value": format!("value of {k}")}))
        .collect();
    items[0] = json!({"key": "k24", "value": "x", "metadata": {"z": 1, "a": {"b": [1, "two"]}}});
    items[1] = json!({"key": "k23", "value": "x", "expiration_ttl": 3600, "expiration": 5});
    let reply = api.put(Value::Array(items)).await;
    assert_eq!(reply.result(), json!({"successful_key_count": 25, "unsuccessful_keys": []}));

    let (pages, cursors) = api.list_all("limit=10").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 5]);
    assert_eq!(pages.concat(), key_names(25), "every key once, in byte order");
    assert!(cursors[0] != cursors[1] && !cursors[1].is_empty());
    assert_eq!(cursors[2], "", "the last page ends with an empty cursor");

    // The last page as written: metadata exactly as sent (key order kept), absolute expiration
    // from the TTL (which won over `expiration`), and no `metadata`/`expiration` when absent.
    let cursor = &cursors[1];
    let last = api.list(&format!("limit=10&cursor={cursor}")).await.result();
    assert_eq!(last[0], json!({"name": "k20"}));
    assert_eq!(last[3], json!({"name": "k23", "expiration": NOW + 3600}));
    assert_eq!(
        serde_json::to_string(&last[4]).expect("json"),
        r#"{"name":"k24","metadata":{"z":1,"a":{"b":[1,"two"]}}}"#
    );
    let stored = api.standin.get(NS, "k23").expect("stored");
    assert_eq!((stored.value, stored.expiration), (b"x".to_vec(), Some(NOW + 3600)));

    assert_eq!(api.counts(), Counts { bulk_put: 1, list: 4, total: 5, ..Counts::default() });
}

#[tokio::test]
async fn list_filters_by_prefix_and_defaults_to_1000() {
    let api = Api::start();
    for i in 0..1005 {
        api.standin.seed(NS, &format!("p/{i:04}"), b"v", None, None);
    }
    api.standin.seed(NS, "p", b"v", None, None);
    api.standin.seed(NS, "q/0", b"v", None, None);
    api.standin.seed(NS, "o", b"v", None, None);
    let (pages, _) = api.list_all("prefix=p").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [1000, 6]);
    assert_eq!(pages[0][0], "p", "an exact match is part of the prefix");
    let (pages, _) = api.list_all("prefix=p%2F100").await;
    assert_eq!(pages, [["p/1000", "p/1001", "p/1002", "p/1003", "p/1004"]]);
    let (pages, _) = api.list_all("prefix=nothing").await;
    assert_eq!(pages, [Vec::<String>::new()]);
}

#[tokio::test]
async fn bulk_get_text_json_and_metadata() {
    let api = Api::start();
    api.standin.seed(NS, "text", "héllo".as_bytes(), Some(json!({"h": "x"})), Some(NOW + 100));
    api.standin.seed(NS, "doc", br#"{"n": 1}"#, None, None);

    let plain = api.bulk_get(json!({"keys": ["text", "missing", "doc"]})).await.result();
    assert_eq!(plain, json!({"values": {"text": "héllo", "missing": null, "doc": "{\"n\": 1}"}}));
    let order: Vec<&String> = plain["values"].as_object().expect("object").keys().collect();
    assert_eq!(order, ["text", "missing", "doc"], "values come in request order");

    let with = api.bulk_get(json!({"keys": ["text", "doc", "gone"], "withMetadata": true})).await;
    assert_eq!(
        with.result(),
        json!({"values": {
            "text": {"value": "héllo", "metadata": {"h": "x"}, "expiration": NOW + 100},
            "doc": {"value": "{\"n\": 1}", "metadata": null},
            "gone": null,
        }})
    );

    let parsed = api.bulk_get(json!({"keys": ["doc"], "type": "json"})).await.result();
    assert_eq!(parsed, json!({"values": {"doc": {"n": 1}}}));
    let not_json = api.bulk_get(json!({"keys": ["text"], "type": "json"})).await;
    assert!(not_json.failure(400, 10001).contains("does not hold JSON"));

    // Doc §1.9 "Keys must contain text-based values": a binary value fails the request.
    api.standin.seed(NS, "bin", &[0xff, 0x00, 0xfe], None, None);
    let binary = api.bulk_get(json!({"keys": ["text", "bin"]})).await;
    assert!(binary.failure(400, 10001).contains("binary"));

    let keys: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    api.bulk_get(json!({"keys": keys})).await.failure(400, 10001);
    api.bulk_get(json!({"keys": keys[..100]})).await.result();
    api.bulk_get(json!({"keys": []})).await.failure(400, 10001);
    api.bulk_get(json!({"keys": ["a"], "type": "stream"})).await.failure(400, 10001);
}

#[tokio::test]
async fn get_value_returns_raw_bytes_with_expiration_header() {
    let api = Api::start();
    let binary = [0u8, 159, 146, 150, 255];
    api.standin.seed(NS, "bin", &binary, None, Some(NOW + 61));
    let reply = api.value("bin").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, binary);
    assert_eq!(reply.header("content-type"), Some("application/octet-stream"));
    assert_eq!(reply.header("expiration"), Some(&*(NOW + 61).to_string()));

    // Doc §3: path keys are percent-decoded (`%3F` is `?`, `%2F` is `/`); `+` stays a plus.
    let key = "dir/a?b c%d+é";
    api.standin.seed(NS, key, b"odd", None, None);
    let reply = api.value("dir%2Fa%3Fb%20c%25d+%C3%A9").await;
    assert_eq!((reply.status, reply.body.as_slice()), (200, &b"odd"[..]));
    assert_eq!(reply.header("expiration"), None, "no header for a key that never expires");
    let reply = api.value("dir/a%3Fb%20c%25d+%C3%A9").await;
    assert_eq!(reply.body, b"odd", "an unencoded slash still reaches the key");

    let missing = api.value("nope").await;
    assert_eq!(missing.failure(404, 10009), "get: 'key not found'");
    api.value("%FF%FE").await.failure(400, 10001);

    api.standin.set_clock(NOW + 61);
    api.value("bin").await.failure(404, 10009);
    assert_eq!(api.counts().get_value, 6);
}

#[tokio::test]
async fn bulk_delete_on_both_routes() {
    let api = Api::start();
    api.put(pairs(["a", "b", "c", "d"])).await.result();
    let reply = api.delete(json!(["a", "missing"])).await;
    assert_eq!(reply.result(), json!({"successful_key_count": 2, "unsuccessful_keys": []}));
    let deprecated =
        api.send(Method::DELETE, &api.url(NS, "bulk"), Some(br#"["b","c"]"#.to_vec())).await;
    assert_eq!(deprecated.result()["successful_key_count"], 2);
    assert_eq!(api.standin.keys(NS), ["d"]);
    api.delete(json!([1])).await.failure(400, 10001);
    api.delete(json!({"keys": ["d"]})).await.failure(400, 10001);
    api.delete(json!([""])).await.failure(400, 10001);
    api.delete(json!(["x".repeat(513)])).await.failure(400, 10001);
    let too_many: Vec<String> = (0..10_001).map(|i| format!("k{i}")).collect();
    api.delete(json!(too_many)).await.failure(400, 10001);
    api.delete(json!(too_many[..10_000])).await.result();
    assert_eq!(api.standin.keys(NS), ["d"]);
    assert_eq!(api.counts().bulk_delete, 8);
}

#[tokio::test]
async fn expired_keys_are_invisible_everywhere() {
    let api = Api::start();
    api.put(json!([
        {"key": "soon", "value": "v", "expiration": NOW + 60},
        {"key": "ttl", "value": "v", "expiration_ttl": 120},
        {"key": "kept", "value": "v"},
    ]))
    .await
    .result();
    api.standin.set_clock(NOW + 60);
    assert_eq!(api.standin.keys(NS), ["kept", "ttl"]);
    assert_eq!(api.standin.get(NS, "soon"), None);
    api.value("soon").await.failure(404, 10009);
    let names = api.list("").await.result();
    assert_eq!(names, json!([{"name": "kept"}, {"name": "ttl", "expiration": NOW + 120}]));
    let got = api.bulk_get(json!({"keys": ["soon", "ttl"]})).await.result();
    assert_eq!(got, json!({"values": {"soon": null, "ttl": "v"}}));
}

// ---------------------------------------------------------------------------------------------
// Auth, ids and routes

#[tokio::test]
async fn authentication_failures() {
    let api = Api::start();
    let url = api.url(NS, "keys");
    let reply = api.try_send(Method::GET, &url, None, None).await.expect("request");
    assert_eq!(reply.failure(400, 10000), "Authentication error");
    let reply = api.try_send(Method::GET, &url, None, Some("wrong")).await.expect("request");
    assert_eq!(reply.failure(403, 10000), "Authentication error");
    let reply = api
        .http
        .get(&url)
        .header("authorization", format!("Token {}", api.standin.token()))
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status(), 400);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(body["errors"][0]["code"], 6003);
    let reply = api
        .http
        .get(&url)
        .header("x-auth-email", "a@example.com")
        .header("x-auth-key", "global")
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status(), 403);
    // Nothing was written by a refused request.
    let put = api
        .try_send(
            Method::PUT,
            &api.url(NS, "bulk"),
            Some(pairs(["a"]).to_string().into_bytes()),
            Some("x"),
        )
        .await
        .expect("request");
    put.failure(403, 10000);
    assert!(api.standin.keys(NS).is_empty());
    assert_eq!(api.counts(), Counts { list: 4, bulk_put: 1, total: 5, ..Counts::default() });
}

#[tokio::test]
async fn unknown_namespace_account_and_route() {
    let api = Api::start();
    let reply = api.list_in("00000000000000000000000000000000").await;
    assert_eq!(reply.failure(404, 10013), "get namespace: 'namespace not found'");
    let put = api
        .send(
            Method::PUT,
            &api.url("ffffffffffffffffffffffffffffffff", "bulk"),
            Some(b"[]".to_vec()),
        )
        .await;
    put.failure(404, 10013);
    api.list_in(&"a".repeat(33)).await.failure(404, 7003);

    let other_account = format!(
        "{}/accounts/ffffffffffffffffffffffffffffffff/storage/kv/namespaces/{NS}/keys",
        api.standin.base_url()
    );
    api.send(Method::GET, &other_account, None).await.failure(403, 10000);

    let namespaces = format!(
        "{}/accounts/{}/storage/kv/namespaces",
        api.standin.base_url(),
        api.standin.account_id()
    );
    // Creating a namespace is a real route the stand-in does not imitate.
    api.send(Method::POST, &namespaces, None).await.failure(404, 7003);
    api.send(Method::POST, &api.url(NS, "keys"), None).await.failure(404, 7003);
    api.send(Method::GET, &api.url(NS, "metadata/a"), None).await.failure(404, 7003);
    assert_eq!(
        api.counts(),
        Counts { list: 3, bulk_put: 1, other: 3, total: 7, ..Counts::default() }
    );
}

impl Api {
    async fn list_in(&self, ns: &str) -> Reply {
        self.send(Method::GET, &self.url(ns, "keys"), None).await
    }
}

// ---------------------------------------------------------------------------------------------
// Limits: each violation refuses the whole request, and nothing of it is applied

/// Doc §1.1: the account's namespaces with their titles (the id when none was set), in pages of
/// `per_page` with `result_info`, ordered by id or title; another account is refused.
#[tokio::test]
async fn namespaces_are_listed_with_titles_in_pages() {
    let api = Api::start();
    api.standin.set_title("cccccccccccccccccccccccccccccccc", "shop-FLAGS");
    api.standin.set_title("dddddddddddddddddddddddddddddddd", "a-first");
    let url = |query: &str| {
        format!(
            "{}/accounts/{}/storage/kv/namespaces?{query}",
            api.standin.base_url(),
            api.standin.account_id()
        )
    };
    let listed = |reply: &Reply| -> Vec<(String, String)> {
        let result = reply.result();
        let items = result.as_array().expect("an array");
        items
            .iter()
            .map(|n| {
                assert_eq!(n["supports_url_encoding"], json!(true));
                (
                    n["id"].as_str().expect("id").to_owned(),
                    n["title"].as_str().expect("title").to_owned(),
                )
            })
            .collect()
    };
    let all = api.send(Method::GET, &url("per_page=1000"), None).await;
    assert_eq!(
        listed(&all),
        [
            (NS.to_owned(), NS.to_owned()),
            ("cccccccccccccccccccccccccccccccc".to_owned(), "shop-FLAGS".to_owned()),
            ("dddddddddddddddddddddddddddddddd".to_owned(), "a-first".to_owned()),
        ]
    );
    let second = api.send(Method::GET, &url("per_page=2&page=2&order=title"), None).await;
    assert_eq!(
        listed(&second),
        [("cccccccccccccccccccccccccccccccc".to_owned(), "shop-FLAGS".to_owned())]
    );
    assert_eq!(
        second.json()["result_info"],
        json!({"page": 2, "per_page": 2, "count": 1, "total_count": 3, "total_pages": 2})
    );
    api.send(Method::GET, &url("per_page=1001"), None).await.failure(400, 10001);
    let other = format!(
        "{}/accounts/ffffffffffffffffffffffffffffffff/storage/kv/namespaces",
        api.standin.base_url()
    );
    api.send(Method::GET, &other, None).await.failure(403, 10000);
    assert_eq!(api.counts().namespaces, 4);
}

#[tokio::test]
async fn each_limit_violation_refuses_the_whole_bulk_write() {
    let api = Api::start();
    let good = json!({"key": "good", "value": "v"});
    let bad_items = [
        json!({"key": "", "value": "v"}),
        json!({"key": ".", "value": "v"}),
        json!({"key": "..", "value": "v"}),
        json!({"key": "k".repeat(513), "value": "v"}),
        json!({"key": "k", "value": "v", "metadata": {"m": "x".repeat(1017)}}),
        json!({"key": "k", "value": "v", "expiration_ttl": 59}),
        json!({"key": "k", "value": "v", "expiration": NOW + 59}),
        json!({"key": "k", "value": "v", "expiration": NOW - 10}),
        json!({"key": "good", "value": "again"}),
        json!({"key": "k", "value": "%%%", "base64": true}),
        json!({"key": "k"}),
        json!({"key": 7, "value": "v"}),
    ];
    for bad in bad_items {
        let reply = api.put(json!([good, bad])).await;
        let code = if bad["base64"] == true { 10012 } else { 10001 };
        let message = reply.failure(400, code);
        assert!(api.standin.keys(NS).is_empty(), "{bad}: {message}");
    }
    let reply = api.put(json!([{"key": "a", "value": "v"}, "not an object"])).await;
    reply.failure(400, 10001);
    api.send(Method::PUT, &api.url(NS, "bulk"), Some(b"{nope".to_vec())).await.failure(400, 10001);

    let many = pairs(key_names(10_001).into_iter().map(|k| format!("{k}x")));
    api.put(many).await.failure(400, 10001);
    assert!(api.standin.keys(NS).is_empty());
    let most = pairs((0..10_000).map(|i| format!("key{i}")));
    assert_eq!(api.put(most).await.result()["successful_key_count"], 10_000);

    // The boundaries themselves are accepted.
    let edge = json!([
        {"key": "é".repeat(256), "value": "v", "metadata": {"m": "x".repeat(1016)}},
        {"key": "ttl", "value": "v", "expiration_ttl": 60},
        {"key": "at", "value": "v", "expiration": NOW + 60},
    ]);
    api.put(edge).await.result();
    assert_eq!(api.counts().bulk_put, 17);
}

/// Doc §1.7: the spec's `maxLength: 26214400` is on the bulk item's `value` string, so base64
/// of more than 19,660,800 bytes is refused, though the bytes would fit a key.
#[tokio::test]
async fn bulk_values_are_limited_to_26_214_400_characters_and_bodies_to_100_mb() {
    let api = Api::start();
    let limit = 26_214_400;
    let fits = STANDARD.encode(vec![7u8; 19_660_800]);
    assert_eq!(fits.len(), limit);
    let reply = api.put(json!([{"key": "big", "value": fits, "base64": true}])).await;
    reply.result();
    assert_eq!(api.standin.get(NS, "big").map(|k| k.value.len()), Some(19_660_800));
    let too_long = STANDARD.encode(vec![7u8; 19_660_801]);
    let reply = api.put(json!([{"key": "b64", "value": too_long, "base64": true}])).await;
    assert!(reply.failure(400, 10001).contains("26214404 characters long"));
    let over = "x".repeat(limit + 1);
    let reply =
        api.put(json!([{"key": "small", "value": "v"}, {"key": "over", "value": over}])).await;
    assert!(reply.failure(400, 10001).contains("26214401 characters long, over the limit"));
    assert_eq!(api.standin.keys(NS), ["big"]);

    // Doc §1.7: below 100,000,000 bytes. Four 24 MiB values weigh 100,663,296 bytes and more.
    let value = "y".repeat(24 * 1024 * 1024);
    let items: Vec<Value> =
        (0..4).map(|i| json!({"key": format!("v{i}"), "value": value})).collect();
    let body = Value::Array(items).to_string().into_bytes();
    assert!(body.len() >= 100_000_000);
    let reply = api.send(Method::PUT, &api.url(NS, "bulk"), Some(body)).await;
    assert!(reply.failure(413, 10024).contains("100000000"));
    assert_eq!(api.standin.keys(NS), ["big"]);
}

#[tokio::test]
async fn list_limit_must_be_10_to_1000() {
    let api = Api::start();
    for bad in ["limit=9", "limit=1001", "limit=0", "limit=ten", "limit=", "limit=-5"] {
        api.list(bad).await.failure(400, 10028);
    }
    for good in ["limit=10", "limit=1000", "", "prefix="] {
        api.list(good).await.result();
    }
    api.list("cursor=definitely-not-ours").await.failure(400, 10001);
}

// ---------------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn rate_limited_requests_carry_retry_after() {
    let api = Api::start();
    let at = SystemTime::now() + Duration::from_secs(120);
    api.standin.inject(Fault::RateLimited {
        endpoint: Endpoint::BulkPut,
        retry_after: RetryAfter::Seconds(7),
    });
    api.standin.inject(Fault::RateLimited {
        endpoint: Endpoint::List,
        retry_after: RetryAfter::HttpDate(at),
    });
    api.standin
        .inject(Fault::RateLimited { endpoint: Endpoint::Any, retry_after: RetryAfter::None });

    // The list fault waits for a list request; the `Any` fault behind it is not reached first.
    let reply = api.list("").await;
    reply.failure(429, 10022);
    let date = reply.header("retry-after").expect("retry-after");
    let parsed = httpdate::parse_http_date(date).expect("an HTTP-date");
    let off = at.duration_since(parsed).or_else(|_| parsed.duration_since(at)).expect("difference");
    assert!(off < Duration::from_secs(1), "{date} is not {at:?}");
    assert!(reply.header("ratelimit").expect("ratelimit").starts_with("\"default\";r=0;t="));

    let reply = api.put(pairs(["a"])).await;
    reply.failure(429, 10022);
    assert_eq!(reply.header("retry-after"), Some("7"));
    assert_eq!(reply.header("ratelimit"), Some("\"default\";r=0;t=7"));
    assert!(api.standin.keys(NS).is_empty(), "a 429 writes nothing");

    let reply = api.value("a").await;
    reply.failure(429, 10022);
    assert_eq!(reply.header("retry-after"), None);
    assert_eq!(api.standin.pending_faults(), 0);

    api.put(pairs(["a"])).await.result();
    assert_eq!(
        api.counts(),
        Counts { list: 1, bulk_put: 2, get_value: 1, total: 4, injected: 3, ..Counts::default() }
    );
}

#[tokio::test]
async fn server_errors_with_and_without_effect() {
    let api = Api::start();
    for status in [500, 502, 503, 504] {
        api.standin.inject(Fault::ServerError {
            endpoint: Endpoint::BulkPut,
            status,
            after_effect: false,
        });
        api.put(pairs([format!("lost{status}")])).await.failure(status, 10001);
    }
    assert!(api.standin.keys(NS).is_empty(), "without after_effect nothing is written");

    api.standin.inject(Fault::ServerError {
        endpoint: Endpoint::BulkPut,
        status: 502,
        after_effect: true,
    });
    api.put(pairs(["applied"])).await.failure(502, 10001);
    assert_eq!(api.standin.keys(NS), ["applied"], "the write took effect before the 502");
    // The retry of the same batch is idempotent.
    api.put(pairs(["applied"])).await.result();
    assert_eq!(api.standin.keys(NS), ["applied"]);

    api.standin.inject(Fault::ServerError {
        endpoint: Endpoint::BulkDelete,
        status: 503,
        after_effect: true,
    });
    api.delete(json!(["applied"])).await.failure(503, 10001);
    assert!(api.standin.keys(NS).is_empty());
    assert_eq!(api.counts().injected, 6);
}

#[tokio::test]
async fn unsuccessful_keys_are_reported_and_not_applied() {
    let api = Api::start();
    api.standin.inject(Fault::Unsuccessful { keys: vec!["b".into(), "z".into()] });
    // A batch that names none of the keys passes the fault by.
    api.put(pairs(["x"])).await.result();
    let reply = api.put(pairs(["a", "b", "c"])).await;
    assert_eq!(reply.result(), json!({"successful_key_count": 2, "unsuccessful_keys": ["b"]}));
    assert_eq!(api.standin.keys(NS), ["a", "c", "x"]);
    api.put(pairs(["b"])).await.result();

    api.standin.inject(Fault::Unsuccessful { keys: vec!["a".into()] });
    let reply = api.delete(json!(["a", "c"])).await;
    assert_eq!(reply.result(), json!({"successful_key_count": 1, "unsuccessful_keys": ["a"]}));
    assert_eq!(api.standin.keys(NS), ["a", "b", "x"]);
    assert_eq!(api.counts().injected, 2);
}

#[tokio::test]
async fn null_result_is_a_success_without_result() {
    let api = Api::start();
    api.standin.inject(Fault::NullResult { endpoint: Endpoint::BulkPut });
    let reply = api.put(pairs(["a"])).await;
    assert_eq!(
        reply.json(),
        json!({"success": true, "errors": [], "messages": [], "result": null})
    );
    assert_eq!(api.standin.keys(NS), ["a"], "the write was applied");
    api.standin.inject(Fault::NullResult { endpoint: Endpoint::GetValue });
    assert_eq!(api.value("a").await.body, b"v", "raw values are never nulled");
    assert_eq!(api.standin.pending_faults(), 1);
}

#[tokio::test]
async fn empty_pages_with_a_cursor_then_the_listing_continues() {
    let api = Api::start();
    api.put(pairs(key_names(25))).await.result();
    api.standin.inject(Fault::EmptyPageWithCursor { count: 2 });
    let (pages, cursors) = api.list_all("limit=10").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [0, 0, 10, 10, 5]);
    assert_eq!(pages.concat(), key_names(25));
    let distinct: std::collections::HashSet<_> = cursors.iter().collect();
    assert_eq!(distinct.len(), 5, "every cursor is new: {cursors:?}");

    // In the middle of a listing, an empty page resumes where the request's cursor pointed.
    let first = api.list("limit=10").await.json();
    let cursor = first["result_info"]["cursor"].as_str().expect("cursor").to_owned();
    api.standin.inject(Fault::EmptyPageWithCursor { count: 1 });
    let empty = api.list(&format!("limit=10&cursor={cursor}")).await.json();
    assert_eq!(empty["result"], json!([]));
    let next = empty["result_info"]["cursor"].as_str().expect("cursor");
    assert!(!next.is_empty() && next != cursor);
    let page = api.list(&format!("limit=10&cursor={next}")).await.result();
    assert_eq!(page[0]["name"], "k10");
    assert_eq!(api.counts().injected, 3);
}

#[tokio::test]
async fn malformed_bodies() {
    let api = Api::start();
    api.put(pairs(["a"])).await.result();
    api.standin.inject(Fault::Malformed {
        endpoint: Endpoint::List,
        body: MalformedBody::Html,
        status: 502,
    });
    let reply = api.list("").await;
    assert_eq!(reply.status, 502);
    assert!(reply.header("content-type").expect("type").starts_with("text/html"));
    let html = String::from_utf8(reply.body).expect("text");
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("502: Bad Gateway"));
    assert!(html.contains("Cloudflare Ray ID"));

    api.standin.inject(Fault::Malformed {
        endpoint: Endpoint::Any,
        body: MalformedBody::Html,
        status: 403,
    });
    let reply = api.list("").await;
    assert_eq!(reply.header("cf-mitigated"), Some("challenge"));

    api.standin.inject(Fault::Malformed {
        endpoint: Endpoint::List,
        body: MalformedBody::Truncated,
        status: 200,
    });
    let reply = api.list("").await;
    assert_eq!(reply.status, 200);
    assert!(serde_json::from_slice::<Value>(&reply.body).expect_err("cut").is_eof());

    api.standin.inject(Fault::Malformed {
        endpoint: Endpoint::BulkPut,
        body: MalformedBody::Empty,
        status: 200,
    });
    let reply = api.put(pairs(["b"])).await;
    assert_eq!((reply.status, reply.body.len()), (200, 0));
    assert_eq!(api.standin.keys(NS), ["a"], "a malformed answer carries nothing out");

    api.standin.inject(Fault::Malformed {
        endpoint: Endpoint::BulkGet,
        body: MalformedBody::NotJson,
        status: 503,
    });
    let reply = api.bulk_get(json!({"keys": ["a"]})).await;
    assert_eq!(reply.status, 503);
    assert!(serde_json::from_slice::<Value>(&reply.body).is_err());
    assert_eq!(api.counts().injected, 5);
}

#[tokio::test]
async fn a_stall_outlasts_a_short_client_timeout() {
    let standin = Standin::start(Options::default());
    standin.create_namespace(NS);
    let api = Api::client(standin, reqwest::Client::builder().timeout(Duration::from_millis(200)));
    api.standin.inject(Fault::Stall { endpoint: Endpoint::List, duration: Duration::from_secs(5) });
    let token = api.standin.token().to_owned();
    let error = api
        .try_send(Method::GET, &api.url(NS, "keys"), None, Some(&token))
        .await
        .expect_err("the client must time out");
    assert!(error.is_timeout(), "{error}");
    api.list("").await.result();
    assert_eq!(api.counts(), Counts { list: 2, total: 2, injected: 1, ..Counts::default() });
    // Shutting down does not wait for the stalled request (a wait would show as a slow test).
    api.standin.shutdown();
}

#[tokio::test]
async fn a_held_write_waits_for_its_release() {
    let api = Api::start();
    api.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
    let standin = std::sync::Arc::new(api);
    let writer = {
        let api = std::sync::Arc::clone(&standin);
        tokio::spawn(async move { api.put(pairs(["held"])).await.result() })
    };
    // Counted on arrival, not carried out while held.
    while standin.counts().bulk_put == 0 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(standin.standin.get(NS, "held").is_none());
    assert!(!writer.is_finished());
    standin.standin.release();
    writer.await.expect("the write");
    assert!(standin.standin.get(NS, "held").is_some());
    // Released for good: a later hold does not hold.
    standin.standin.inject(Fault::Hold { endpoint: Endpoint::BulkPut });
    standin.put(pairs(["later"])).await.result();
}

#[tokio::test]
async fn api_errors_and_repeated_cursors() {
    let api = Api::start();
    api.put(pairs(key_names(25))).await.result();
    api.standin.inject(Fault::ApiError {
        endpoint: Endpoint::BulkDelete,
        status: 403,
        code: 10000,
        message: "Authentication error".into(),
    });
    assert_eq!(api.delete(json!(["k00"])).await.failure(403, 10000), "Authentication error");
    assert_eq!(api.standin.keys(NS).len(), 25);

    api.standin.inject(Fault::RepeatCursor);
    let first = api.list("limit=10").await.json();
    let cursor = first["result_info"]["cursor"].as_str().expect("cursor").to_owned();
    assert!(!cursor.is_empty(), "the first page has no cursor to repeat and passes the fault by");
    let second = api.list(&format!("limit=10&cursor={cursor}")).await.json();
    assert_eq!(second["result"][0]["name"], "k10");
    assert_eq!(
        second["result_info"]["cursor"], cursor,
        "the server repeats the cursor it was sent"
    );
    assert_eq!(api.counts().injected, 2);
}

// ---------------------------------------------------------------------------------------------
// Options

#[tokio::test]
async fn tombstones_leave_short_and_empty_pages() {
    let api = Api::with(Options { page_tombstones: true, ..Options::default() });
    api.put(pairs(key_names(25))).await.result();
    let gone: Vec<String> =
        key_names(25).into_iter().filter(|k| k.as_str() < "k15" && k.as_str() >= "k02").collect();
    api.delete(json!(gone)).await.result();
    let (pages, cursors) = api.list_all("limit=10").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 5, 5]);
    assert!(!cursors[0].is_empty());
    assert_eq!(pages.concat(), api.standin.keys(NS));

    api.standin.set_clock(NOW);
    api.put(json!([{"key": "k00", "value": "v", "expiration_ttl": 60},
                   {"key": "k01", "value": "v", "expiration_ttl": 60}]))
        .await
        .result();
    api.standin.set_clock(NOW + 60);
    let (pages, _) = api.list_all("limit=10").await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [0, 5, 5],
        "an empty page mid-listing"
    );
}

#[tokio::test]
async fn list_pages_take_the_configured_latency() {
    let api = Api::with(Options { list_latency: Duration::from_millis(50), ..Options::default() });
    api.put(pairs(key_names(25))).await.result();
    let started = Instant::now();
    let (pages, _) = api.list_all("limit=10").await;
    assert_eq!(pages.len(), 3);
    assert!(started.elapsed() >= Duration::from_millis(150));
    // Only list pages wait: with an hour per page, a value read still answers (a bound that
    // only a wait for the latency could break).
    let slow = Api::with(Options { list_latency: Duration::from_secs(3600), ..Options::default() });
    slow.put(pairs(key_names(1))).await.result();
    let read = tokio::time::timeout(Duration::from_secs(600), slow.value("k00")).await;
    assert!(read.is_ok(), "a value read waited for the list latency");
}

#[tokio::test]
async fn ratelimit_headers_count_down_and_can_be_enforced() {
    let limit = RateLimit { quota: 3, window: Duration::from_secs(60), enforce: true };
    let api = Api::with(Options { rate_limit: limit, ..Options::default() });
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let reply = api.list("").await;
        assert_eq!(reply.header("ratelimit-policy"), Some("\"burst\";q=3;w=60"));
        let header = reply.header("ratelimit").expect("ratelimit").to_owned();
        remaining.push(header.split(';').nth(1).expect("r=").to_owned());
        assert!(header.starts_with("\"default\";r="));
    }
    assert_eq!(remaining, ["r=2", "r=1", "r=0"]);
    let reply = api.list("").await;
    reply.failure(429, 10022);
    let wait: u64 = reply.header("retry-after").expect("retry-after").parse().expect("seconds");
    assert!((1..=60).contains(&wait));
    assert_eq!(api.counts(), Counts { list: 4, total: 4, rate_limited: 1, ..Counts::default() });
}

// ---------------------------------------------------------------------------------------------
// Robustness and counting

#[tokio::test]
async fn bad_requests_get_envelopes_not_panics() {
    let api = Api::start();
    let garbage: [(Method, &str, &[u8]); 8] = [
        (Method::PUT, "bulk", b"\xff\xfe"),
        (Method::PUT, "bulk", b""),
        (Method::PUT, "bulk", b"[{\"key\":\"a\",\"value\":\"v\",\"expiration\":1e99}]"),
        (
            Method::PUT,
            "bulk",
            b"[{\"key\":\"a\",\"value\":\"v\",\"expiration_ttl\":99999999999999999999}]",
        ),
        (Method::POST, "bulk/delete", b"null"),
        (Method::POST, "bulk/get", b"{\"keys\":\"a\"}"),
        (Method::POST, "bulk/get", b"[[[[[[[[[[[[[["),
        (Method::GET, "keys?limit=%ZZ", b""),
    ];
    for (method, rest, body) in garbage {
        let reply = api.send(method.clone(), &api.url(NS, rest), Some(body.to_vec())).await;
        assert_eq!(
            reply.status,
            400,
            "{method} {rest}: {:?}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.json()["success"], false);
    }
    // A huge TTL saturates instead of overflowing.
    api.put(json!([{"key": "far", "value": "v", "expiration_ttl": i64::MAX}])).await.result();
    assert_eq!(api.standin.get(NS, "far").and_then(|k| k.expiration), Some(i64::MAX));
    assert_eq!(api.counts().total, 9);
}

#[tokio::test]
async fn counts_are_exact_and_resettable() {
    let api = Api::start();
    api.standin.inject(Fault::ServerError {
        endpoint: Endpoint::List,
        status: 500,
        after_effect: false,
    });
    api.list("").await.failure(500, 10001);
    api.list("limit=5").await.failure(400, 10028);
    api.put(pairs(["a"])).await.result();
    api.put(json!([{"key": ""}])).await.failure(400, 10001);
    api.delete(json!(["a"])).await.result();
    api.send(Method::DELETE, &api.url(NS, "bulk"), Some(b"[]".to_vec())).await.result();
    api.bulk_get(json!({"keys": ["a"]})).await.result();
    api.value("a").await.failure(404, 10009);
    api.send(Method::GET, &format!("{}/user/tokens/verify", api.standin.base_url()), None).await;
    let expected = Counts {
        list: 2,
        get_value: 1,
        bulk_get: 1,
        bulk_put: 2,
        put_value: 0,
        bulk_delete: 2,
        namespaces: 0,
        other: 1,
        total: 9,
        injected: 1,
        rate_limited: 0,
        // The bulk get's one key and the single read of a missing key: both billed.
        keys_read: 2,
    };
    assert_eq!(api.counts(), expected);
    api.standin.reset_counts();
    assert_eq!(api.counts(), Counts::default());
}

#[tokio::test]
async fn parallel_clients_are_all_counted() {
    let api = std::sync::Arc::new(Api::start());
    api.put(pairs(key_names(25))).await.result();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let api = std::sync::Arc::clone(&api);
            tokio::spawn(async move { api.list_all("limit=10").await.0.concat() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), key_names(25));
    }
    assert_eq!(api.counts().list, 60);
}

#[test]
fn works_from_synchronous_code_and_stops_on_drop() {
    use std::io::{Read as _, Write as _};
    let standin = Standin::start(Options::default());
    standin.create_namespace(NS);
    let address =
        standin.base_url().trim_start_matches("http://").trim_end_matches("/client/v4").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    let request = format!(
        "GET /client/v4/accounts/{}/storage/kv/namespaces/{NS}/keys HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
        standin.account_id(),
        standin.token()
    );
    stream.write_all(request.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with(r#"{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"count":0,"cursor":""}}"#));
    drop(standin);
    assert!(std::net::TcpStream::connect(&address).is_err(), "the port is closed after drop");
}

/// Doc §1.5: `PUT .../values/{key}` as multipart keeps the metadata part and takes the
/// expiration from the query; a raw body clears the metadata. Up to 25 MiB of bytes, which a
/// bulk item cannot carry as base64, sent as a file part (`filename`), as `FormData` sends a
/// `Blob`.
#[tokio::test]
async fn single_put_takes_multipart_with_metadata_and_raw_bodies_without() {
    let api = Api::start();
    let value = vec![0xffu8; 26_214_400];
    let boundary = "b0undary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"value\"; filename=\"blob\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&value);
    body.extend_from_slice(
        format!(
            "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
             Content-Type: application/json\r\n\r\n{{\"m\": 1}}\r\n--{boundary}--\r\n"
        )
        .as_bytes(),
    );
    let url = api.url(NS, &format!("values/a%2Fb?expiration={}", NOW + 120));
    let reply = api
        .http
        .put(&url)
        .header("authorization", format!("Bearer {}", api.standin.token()))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(reply.status().as_u16(), 200);
    let stored = api.standin.get(NS, "a/b").expect("stored");
    assert_eq!(stored.value.len(), value.len());
    assert!(stored.value.iter().all(|b| *b == 0xff));
    assert_eq!(stored.expiration, Some(NOW + 120));
    assert_eq!(api.list("").await.result()[0]["metadata"], json!({"m": 1}));

    let raw = api.send(Method::PUT, &api.url(NS, "values/a%2Fb"), Some(b"raw".to_vec())).await;
    assert_eq!(raw.result(), Value::Null);
    assert_eq!(api.standin.get(NS, "a/b").map(|k| k.value), Some(b"raw".to_vec()));
    assert_eq!(api.list("").await.result()[0].get("metadata"), None);
    let over = api.send(Method::PUT, &api.url(NS, "values/x"), Some(vec![1; 26_214_401])).await;
    assert!(over.failure(400, 10001).contains("exceeds limit of 26214400"));
    assert_eq!(api.counts().put_value, 3);
}

/// The Fetch standard's multipart parser (a Worker's `request.formData()`) reads a part without
/// a `filename` as UTF-8 text: invalid bytes become U+FFFD, and a binary value that grows past
/// 25 MiB once decoded is refused. Only a file part keeps the bytes.
#[tokio::test]
async fn a_multipart_value_without_a_filename_is_text() {
    let api = Api::start();
    let put = |value: &[u8], filename: &str| {
        let boundary = "b0undary";
        let mut body = format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"value\"{filename}\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(value);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        api.http
            .put(api.url(NS, "values/k"))
            .header("authorization", format!("Bearer {}", api.standin.token()))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
    };
    let stored = || api.standin.get(NS, "k").map(|k| k.value);
    let reply = put(&[b'a', 0xff, 0xfe, b'z'], "").await.expect("request");
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(stored(), Some("a\u{FFFD}\u{FFFD}z".as_bytes().to_vec()));
    let reply = put(&[b'a', 0xff, 0xfe, b'z'], "; filename=\"blob\"").await.expect("request");
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(stored(), Some(vec![b'a', 0xff, 0xfe, b'z']));
    // 20 MiB of 0xff is 60 MiB of U+FFFD as text: over the limit.
    let reply = put(&vec![0xff; 20 * 1024 * 1024], "").await.expect("request");
    assert_eq!(reply.status().as_u16(), 400);
    let reply = put(&vec![0xff; 20 * 1024 * 1024], "; filename=\"blob\"").await.expect("request");
    assert_eq!(reply.status().as_u16(), 200);
    assert_eq!(stored().map(|v| v.len()), Some(20 * 1024 * 1024));
}

/// Cloudflare's text bulk get decodes values as workerd does, dropping a leading U+FEFF.
#[tokio::test]
async fn a_text_bulk_get_drops_a_leading_byte_order_mark() {
    let api = Api::start();
    api.put(json!([{"key": "bom", "value": "\u{FEFF}hi"}, {"key": "mid", "value": "a\u{FEFF}"}]))
        .await
        .result();
    let reply = api.bulk_get(json!({"keys": ["bom", "mid"]})).await;
    assert_eq!(reply.result(), json!({"values": {"bom": "hi", "mid": "a\u{FEFF}"}}));
    // A single read returns the bytes as stored.
    assert_eq!(api.value("bom").await.body, "\u{FEFF}hi".as_bytes());
}
