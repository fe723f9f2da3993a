//! Injected faults: the failures of Cloudflare's API that a client must survive, on demand.
//!
//! This module owns what a fault is and which request it applies to. How a fault is answered
//! (status, headers, body) lives in `api.rs` and `envelope.rs`, next to the normal answers.

use std::time::{Duration, SystemTime};

/// The kinds of request the stand-in tells apart, for counting and for fault matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    List,
    GetValue,
    PutValue,
    BulkGet,
    BulkPut,
    BulkDelete,
    /// `GET .../storage/kv/namespaces` (doc §1.1).
    Namespaces,
    Other,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET .../keys` (doc §1.2).
    List,
    /// `GET .../values/{key}` (doc §1.3).
    GetValue,
    /// `PUT .../values/{key}` (doc §1.5).
    PutValue,
    /// `POST .../bulk/get` (doc §1.9).
    BulkGet,
    /// `PUT .../bulk` (doc §1.7).
    BulkPut,
    /// `POST .../bulk/delete` or `DELETE .../bulk` (doc §1.8).
    BulkDelete,
    /// Every request, including ones to routes the stand-in does not serve.
    Any,
}

impl Endpoint {
    fn covers(self, kind: Kind) -> bool {
        match self {
            Endpoint::Any => true,
            Endpoint::List => kind == Kind::List,
            Endpoint::GetValue => kind == Kind::GetValue,
            Endpoint::PutValue => kind == Kind::PutValue,
            Endpoint::BulkGet => kind == Kind::BulkGet,
            Endpoint::BulkPut => kind == Kind::BulkPut,
            Endpoint::BulkDelete => kind == Kind::BulkDelete,
        }
    }
}

/// The `Retry-After` header of a 429. Doc §4: it is "delta-seconds or an HTTP-date", and a
/// client without one must wait out the whole 5-minute window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <IMF-fixdate>`, e.g. `Wed, 21 Oct 2026 07:28:00 GMT`.
    HttpDate(SystemTime),
    /// No `Retry-After` header at all.
    None,
}

/// The body of a [`Fault::Malformed`] answer: what a client sees when something between it and
/// the API answers instead (doc §0.1: wrangler's handling of HTML block pages, empty bodies and
/// JSON that does not parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedBody {
    /// A Cloudflare-style HTML error page, `content-type: text/html`. With status 403 it also
    /// carries `cf-mitigated: challenge`, the header of a WAF block page (doc §0.1).
    Html,
    /// An `application/json` envelope cut off in the middle.
    Truncated,
    /// An empty body (with `content-type: application/json`).
    Empty,
    /// A plain-text body, as a proxy in front of the API would send.
    NotJson,
}

/// A failure to inject. [`crate::Standin::inject`] queues it; each request takes the first
/// queued fault that matches it, so faults are used in order per endpoint. A request takes at
/// most one fault. Every request a fault was applied to is counted in [`crate::Counts::injected`].
///
/// A fault is applied when the request arrives, before authentication, as a failure of the
/// network or the gateway would be. A fault that changes a successful answer (`ServerError` with
/// `after_effect`, `Unsuccessful`, `NullResult`, `EmptyPageWithCursor`, `RepeatCursor`) is used
/// up even when the request then fails on its own (bad token, invalid body).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `429 Too Many Requests` with the given `Retry-After` (doc §4) and a `Ratelimit` header
    /// with no budget left. The body is the envelope with code 10022, "too many requests", the
    /// KV code doc §5 lists for this (3P); doc §4 warns that the gateway's body "may not be the
    /// KV envelope", so a client must not depend on the body of a 429 anyway.
    RateLimited {
        /// Which requests get it.
        endpoint: Endpoint,
        /// The `Retry-After` header.
        retry_after: RetryAfter,
    },
    /// A `5xx` answer (500, 502, 503 or 504) with an error envelope. With `after_effect`, the
    /// request is carried out first (a write takes effect) and only the answer is lost: what
    /// kvsync's idempotent retries must cope with (STYLE.md habit 3).
    ServerError {
        /// Which requests get it.
        endpoint: Endpoint,
        /// 500, 502, 503 or 504.
        status: u16,
        /// Carry the request out before failing.
        after_effect: bool,
    },
    /// The next bulk write or bulk delete that names at least one of these keys reports those of
    /// them it names in `result.unsuccessful_keys` and does not apply them; the rest of the
    /// request is applied. Doc §1.7: such keys "were not written successfully to all storage
    /// backends and should be retried", with HTTP 200 and `success: true`.
    Unsuccessful {
        /// Keys to fail.
        keys: Vec<String>,
    },
    /// A successful answer whose `result` is `null` (and without `result_info`), as bulk writes
    /// answered before about November 2024 (doc §1.7). Applies to the JSON endpoints (list, bulk
    /// get, bulk put, bulk delete); the request is carried out.
    NullResult {
        /// Which requests get it (a `GetValue` answer is raw bytes and is never matched).
        endpoint: Endpoint,
    },
    /// The next `count` list requests each get an empty page with a fresh cursor that resumes
    /// where the request's cursor pointed (doc §1.2: "a page can be empty yet carry a cursor";
    /// the client must "never stop on `result == []`").
    EmptyPageWithCursor {
        /// How many list requests get an empty page.
        count: usize,
    },
    /// An answer that is not a usable envelope, with the given status (see [`MalformedBody`]).
    /// The request is not carried out.
    Malformed {
        /// Which requests get it.
        endpoint: Endpoint,
        /// What the body is.
        body: MalformedBody,
        /// Any status from 100 to 999 (200 makes sense with `Empty` and `Truncated`).
        status: u16,
    },
    /// Holds the answer for `duration`, so a client's timeout must fire; after that the request
    /// is carried out and answered normally, unless the server was shut down first.
    Stall {
        /// Which requests get it.
        endpoint: Endpoint,
        /// How long to hold the answer.
        duration: Duration,
    },
    /// Holds the request, before it is carried out, until [`crate::Standin::release`] is
    /// called (or the server shuts down): a test can act while a write is under way (send
    /// Ctrl-C, say) without racing a timer. The request is counted when it arrives, so
    /// [`crate::Standin::counts`] shows that it is held.
    Hold {
        /// Which requests get it.
        endpoint: Endpoint,
    },
    /// Any error envelope, e.g. 403 with code 10000 "Authentication error" (doc §5). The request
    /// is not carried out.
    ApiError {
        /// Which requests get it.
        endpoint: Endpoint,
        /// The HTTP status, 400 to 599.
        status: u16,
        /// `errors[0].code`.
        code: u32,
        /// `errors[0].message`.
        message: String,
    },
    /// The next list request that carries a cursor gets its page, but with `result_info.cursor`
    /// equal to the cursor it sent: a broken server that would loop forever. DESIGN.md §6 says a
    /// repeated cursor is an error the client must detect.
    RepeatCursor,
}

/// What fault matching needs to know about a request.
#[derive(Debug)]
pub(crate) struct RequestFacts<'a> {
    pub(crate) kind: Kind,
    /// A list request with a non-empty `cursor` parameter.
    pub(crate) has_cursor: bool,
    /// The keys a bulk write or bulk delete names (empty when the body did not parse).
    pub(crate) keys: Vec<&'a str>,
}

impl Fault {
    /// Refuses faults that cannot be sent, when they are queued rather than when they fire.
    pub(crate) fn check(&self) {
        match self {
            Fault::ServerError { status, .. } => {
                assert!(
                    matches!(status, 500 | 502 | 503 | 504),
                    "ServerError status must be 500, 502, 503 or 504, not {status}"
                );
            }
            Fault::Malformed { status, .. } => {
                assert!(
                    (100..=999).contains(status),
                    "Malformed status must be 100..=999, not {status}"
                );
            }
            Fault::ApiError { status, .. } => {
                assert!(
                    (400..=599).contains(status),
                    "ApiError status must be 400..=599, not {status}"
                );
            }
            _ => {}
        }
    }

    fn matches(&self, facts: &RequestFacts<'_>) -> bool {
        match self {
            Fault::RateLimited { endpoint, .. }
            | Fault::ServerError { endpoint, .. }
            | Fault::Malformed { endpoint, .. }
            | Fault::Stall { endpoint, .. }
            | Fault::Hold { endpoint }
            | Fault::ApiError { endpoint, .. } => endpoint.covers(facts.kind),
            Fault::NullResult { endpoint } => {
                endpoint.covers(facts.kind) && !matches!(facts.kind, Kind::GetValue | Kind::Other)
            }
            Fault::Unsuccessful { keys } => {
                matches!(facts.kind, Kind::BulkPut | Kind::BulkDelete)
                    && facts.keys.iter().any(|k| keys.iter().any(|f| f == k))
            }
            Fault::EmptyPageWithCursor { .. } => facts.kind == Kind::List,
            Fault::RepeatCursor => facts.kind == Kind::List && facts.has_cursor,
        }
    }
}

/// Takes the first queued fault that matches the request. An `EmptyPageWithCursor` for several
/// requests stays queued, one count smaller, in its place.
pub(crate) fn take(
    queue: &mut std::collections::VecDeque<Fault>,
    facts: &RequestFacts<'_>,
) -> Option<Fault> {
    let index = queue.iter().position(|f| f.matches(facts))?;
    if let Fault::EmptyPageWithCursor { count } = &mut queue[index]
        && *count > 1
    {
        *count -= 1;
        return Some(Fault::EmptyPageWithCursor { count: 1 });
    }
    queue.remove(index)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    fn facts(kind: Kind) -> RequestFacts<'static> {
        RequestFacts { kind, has_cursor: false, keys: Vec::new() }
    }

    #[test]
    fn each_request_takes_the_first_fault_that_matches_it() {
        let mut queue = VecDeque::from([
            Fault::NullResult { endpoint: Endpoint::BulkPut },
            Fault::RateLimited { endpoint: Endpoint::List, retry_after: RetryAfter::None },
            Fault::EmptyPageWithCursor { count: 2 },
            Fault::RepeatCursor,
            Fault::Unsuccessful { keys: vec!["b".into()] },
        ]);
        assert!(matches!(take(&mut queue, &facts(Kind::List)), Some(Fault::RateLimited { .. })));
        assert_eq!(
            take(&mut queue, &facts(Kind::List)),
            Some(Fault::EmptyPageWithCursor { count: 1 })
        );
        assert_eq!(
            take(&mut queue, &facts(Kind::List)),
            Some(Fault::EmptyPageWithCursor { count: 1 })
        );
        assert_eq!(take(&mut queue, &facts(Kind::List)), None, "RepeatCursor needs a cursor");
        let with_cursor = RequestFacts { has_cursor: true, ..facts(Kind::List) };
        assert_eq!(take(&mut queue, &with_cursor), Some(Fault::RepeatCursor));
        assert_eq!(take(&mut queue, &facts(Kind::GetValue)), None);
        let put = RequestFacts { keys: vec!["a", "c"], ..facts(Kind::BulkPut) };
        assert_eq!(take(&mut queue, &put), Some(Fault::NullResult { endpoint: Endpoint::BulkPut }));
        assert_eq!(take(&mut queue, &put), None, "names none of the unsuccessful keys");
        let put = RequestFacts { keys: vec!["a", "b"], ..facts(Kind::BulkPut) };
        assert!(matches!(take(&mut queue, &put), Some(Fault::Unsuccessful { .. })));
        assert!(queue.is_empty());
    }
}
