//! Why the `wrangler-dev` target cannot go on, each with its facts, and the fix
//! ([`Problem::hint`], printed on its own `hint:` line).

use std::sync::Arc;

use super::{DEFAULT_DEV_URL, EXPLORER_PATH};
use crate::env_vars::KVSYNC_WRANGLER_DEV_URL;
use crate::kv::Error;
use crate::kv::cloudflare::describe_api_errors;

/// What went wrong with the dev server, or with a request only the dev server refuses.
///
/// Cloneable: the first request's outcome is kept for the run and every later operation
/// reports it again.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Problem {
    /// `--dev-url` is not an address of the Local Explorer API kvsync can use.
    #[error("`--dev-url` `{dev_url}` {why}")]
    BadDevUrl { dev_url: String, why: DevUrlProblem },
    /// The first request got no answer.
    #[error("nothing answers at `{url}` ({detail}): is `wrangler dev` running?")]
    NothingAnswers { url: String, detail: String },
    /// The server refused the first request with HTTP 403 (a host it does not serve).
    #[error("the server at `{url}` refused kvsync's request (HTTP 403)")]
    Forbidden { url: String },
    /// The server has no Local Explorer API (HTTP 404).
    #[error(
        "the server at `{url}` does not serve wrangler dev's Local Explorer API (`GET \
         {EXPLORER_PATH}/storage/kv/namespaces` answered HTTP 404)"
    )]
    NoExplorer { url: String },
    /// The server answered the first request, but not as the explorer does.
    #[error("the server at `{url}` did not answer as wrangler dev's Local Explorer API: {error}")]
    NotTheExplorer { url: String, error: Arc<Error> },
    /// The first request failed before it reached the server.
    #[error(transparent)]
    Unreached(Arc<Error>),
    /// A namespace the dev server does not bind; `bound` is what it binds, `(id, binding)`.
    #[error(
        "namespace `{namespace_id}` is not bound by the `wrangler dev` at `{url}`: {}",
        binds(bound)
    )]
    NotBound { namespace_id: String, url: String, bound: Vec<(String, String)> },
    /// A request after the first got no answer.
    #[error("lost `wrangler dev` at `{url}` (`{endpoint}`): {detail}")]
    Lost { url: String, endpoint: String, detail: String },
    /// The dev server refused a request kvsync's checks let through.
    #[error(
        "`wrangler dev` at `{url}` refused `{endpoint}` (HTTP {status}): {}",
        describe_api_errors(codes, messages)
    )]
    Refused { url: String, endpoint: String, status: u16, codes: Vec<u32>, messages: Vec<String> },
    /// A later answer that is not what the explorer sends.
    #[error(
        "unexpected answer from `wrangler dev` at `{url}` (`{endpoint}`, HTTP {status}): {detail}"
    )]
    Unexpected { url: String, endpoint: String, status: u16, detail: String },
    /// A value only the single-key PUT could carry, with an expiration that PUT would drop.
    #[error(
        "key `{key}`: a value of {bytes} bytes with an expiration cannot be written to `wrangler \
         dev`: it is too large for a bulk write (a binary value travels there as base64, at most \
         19,660,800 bytes), and the explorer's single-key PUT drops expirations"
    )]
    ExpiringTooLarge { key: String, bytes: usize },
}

/// Why `--dev-url` is not an address kvsync can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DevUrlProblem {
    #[error("is not a URL ({detail})")]
    NotAUrl { detail: String },
    #[error("must be an http URL")]
    NotHttp,
    #[error("must not have a query, a fragment or credentials")]
    Extras,
    #[error(
        "names host `{host}`: wrangler dev's Local Explorer API answers only requests to \
         `127.0.0.1` or `localhost` (any other host gets HTTP 403)"
    )]
    OtherHost { host: String },
    #[error("has the path `{path}`: give the dev server's address without a path")]
    Path { path: String },
}

/// `it binds no KV namespace`, or `it binds `id` (binding `name`), …`.
fn binds(bound: &[(String, String)]) -> String {
    if bound.is_empty() {
        return "it binds no KV namespace".to_owned();
    }
    let list: Vec<String> =
        bound.iter().map(|(id, title)| format!("`{id}` (binding `{title}`)")).collect();
    format!("it binds {}", list.join(", "))
}

impl Problem {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        const UPDATE: &str = "the `wrangler-dev` target needs a `wrangler dev` that serves the \
                              Local Explorer API (kvsync is tested with wrangler 4.164.0): \
                              update wrangler (`npm install --save-dev wrangler@latest`), and \
                              check that `--dev-url` is the address `wrangler dev` printed";
        match self {
            Self::BadDevUrl { .. } => format!(
                "give the URL `wrangler dev` prints (\"Ready on http://127.0.0.1:8787\"), e.g. \
                 `--dev-url http://127.0.0.1:8787`; the default is {DEFAULT_DEV_URL}"
            ),
            Self::NothingAnswers { .. } => format!(
                "start `wrangler dev` in the Worker's folder (it serves on {DEFAULT_DEV_URL} \
                 unless told otherwise), or point kvsync at its address with `--dev-url` or \
                 `{KVSYNC_WRANGLER_DEV_URL}`"
            ),
            Self::Forbidden { .. } => "wrangler dev's Local Explorer API answers only requests \
                 to 127.0.0.1 or localhost; if another server runs there, give `wrangler dev`'s \
                 address with `--dev-url`"
                .to_owned(),
            Self::NoExplorer { .. } | Self::NotTheExplorer { .. } | Self::Unreached(_) => {
                UPDATE.to_owned()
            }
            Self::NotBound { .. } => "a Worker sees only the namespaces its wrangler config \
                 binds: for this target a `binding:` scope uses the binding's `preview_id`, else \
                 its `id`, else its name; run `wrangler dev` with the same `--env` as kvsync"
                .to_owned(),
            Self::Lost { .. } => "check that `wrangler dev` is still running, then run kvsync \
                 again; a rerun plans from what is live"
                .to_owned(),
            Self::Refused { .. } => "kvsync checks what Cloudflare refuses before sending; this \
                 refusal is the dev server's own: its terminal says more"
                .to_owned(),
            Self::Unexpected { .. } => {
                "check that `--dev-url` is the address `wrangler dev` printed".to_owned()
            }
            Self::ExpiringTooLarge { .. } => "drop `expiration`/`expiration_ttl` from this key \
                 for local development, or make the value smaller; Cloudflare itself takes it"
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Hint as _;

    /// Each problem's line and hint, as the store worded them when they were one string each.
    #[test]
    fn each_problem_reads_with_its_facts_and_its_fix() {
        let url = || "http://127.0.0.1:8787".to_owned();
        let cases: [(Problem, &str, &str); 5] = [
            (
                Problem::NoExplorer { url: url() },
                "the server at `http://127.0.0.1:8787` does not serve wrangler dev's Local \
                 Explorer API (`GET /cdn-cgi/local/explorer/api/storage/kv/namespaces` answered \
                 HTTP 404)",
                "the `wrangler-dev` target needs a `wrangler dev` that serves the Local Explorer \
                 API (kvsync is tested with wrangler 4.164.0): update wrangler (`npm install \
                 --save-dev wrangler@latest`), and check that `--dev-url` is the address \
                 `wrangler dev` printed",
            ),
            (
                Problem::NotBound {
                    namespace_id: "ns".into(),
                    url: url(),
                    bound: vec![("a".into(), "FLAGS".into()), ("b".into(), "CACHE".into())],
                },
                "namespace `ns` is not bound by the `wrangler dev` at `http://127.0.0.1:8787`: \
                 it binds `a` (binding `FLAGS`), `b` (binding `CACHE`)",
                "a Worker sees only the namespaces its wrangler config binds: for this target a \
                 `binding:` scope uses the binding's `preview_id`, else its `id`, else its name; \
                 run `wrangler dev` with the same `--env` as kvsync",
            ),
            (
                Problem::NothingAnswers { url: url(), detail: "connection refused".into() },
                "nothing answers at `http://127.0.0.1:8787` (connection refused): is `wrangler \
                 dev` running?",
                "start `wrangler dev` in the Worker's folder (it serves on \
                 http://127.0.0.1:8787 unless told otherwise), or point kvsync at its address \
                 with `--dev-url` or `KVSYNC_WRANGLER_DEV_URL`",
            ),
            (
                Problem::Refused {
                    url: url(),
                    endpoint: "PUT …/bulk".into(),
                    status: 400,
                    codes: vec![10001],
                    messages: vec!["bad".into()],
                },
                "`wrangler dev` at `http://127.0.0.1:8787` refused `PUT …/bulk` (HTTP 400): bad \
                 (code 10001)",
                "kvsync checks what Cloudflare refuses before sending; this refusal is the dev \
                 server's own: its terminal says more",
            ),
            (
                Problem::NotTheExplorer {
                    url: url(),
                    error: Arc::new(Error::Decode {
                        endpoint: "GET …".into(),
                        status: 200,
                        detail: "html".into(),
                    }),
                },
                "the server at `http://127.0.0.1:8787` did not answer as wrangler dev's Local \
                 Explorer API: unexpected answer from `GET …` (HTTP 200): html",
                "the `wrangler-dev` target needs a `wrangler dev` that serves the Local Explorer \
                 API (kvsync is tested with wrangler 4.164.0): update wrangler (`npm install \
                 --save-dev wrangler@latest`), and check that `--dev-url` is the address \
                 `wrangler dev` printed",
            ),
        ];
        for (problem, line, hint) in cases {
            let error = Error::from(problem);
            assert_eq!(error.to_string(), line);
            assert_eq!(error.hints(), [hint]);
        }
        let none = Problem::NotBound { namespace_id: "ns".into(), url: url(), bound: Vec::new() };
        assert!(none.to_string().ends_with(": it binds no KV namespace"), "{none}");
    }
}
