//! How an answer becomes data or an [`Error`]: the answer read in full, the outcome the retry
//! policy judges, and the error texts, redacted and cut to an excerpt.

use super::*;

/// One answer, read in full.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Answer {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub(super) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// What an answer means for retrying: 429 and 500/502/503/504 are retried, anything else is
/// final.
pub(super) fn outcome_of(answer: &Answer) -> Outcome {
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

pub(super) const CHALLENGE: &str =
    "a Cloudflare firewall challenge (`cf-mitigated: challenge`), not the API";

pub(super) fn is_challenge(answer: &Answer) -> bool {
    answer.header("cf-mitigated").is_some_and(|v| v.trim().eq_ignore_ascii_case("challenge"))
}

/// Why an answer that should be a JSON envelope plainly is not one, before parsing it.
pub(super) fn not_json(token: &ApiToken, answer: &Answer) -> Option<String> {
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
pub(super) fn refused_for_content(error: &Error) -> bool {
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
pub(super) fn refused_for_key(error: &Error) -> bool {
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
pub(super) fn decode_error(token: &ApiToken, endpoint: &str, answer: &Answer, what: &str) -> Error {
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
pub(super) fn redact(token: &ApiToken, text: &str) -> String {
    token.redact(text)
}

/// The first [`EXCERPT_CHARS`] characters of a body, on one line, the token removed *before*
/// the cut: a token split at the cut would otherwise leave its start behind.
pub(super) fn excerpt(token: &ApiToken, body: &[u8]) -> String {
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
pub(super) fn error_chain(err: &reqwest::Error) -> String {
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
pub(super) struct ErrorWithoutUrl<'a>(&'a reqwest::Error);

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

pub(super) fn transport_detail(err: &reqwest::Error, timeout: Duration, attempts: u32) -> String {
    let tries = if attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
    if err.is_timeout() {
        format!("no complete answer within {} ({tries})", describe_duration(timeout))
    } else {
        format!("{} ({tries})", error_chain(err))
    }
}

pub(super) fn describe_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
