//! What the API's error codes and answers mean for the user: hints and descriptions.

use super::*;

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

pub(super) fn describe_wait(wait: Duration) -> String {
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

pub(super) const CODE_10000: &str =
    "the API token lacks the \"Workers KV Storage\" permission for this account (or is invalid)";
pub(super) const CODE_10024: &str = "the request is too large for the API: a bulk write must stay under \
                          10,000 pairs and 100 MB, a value under 25 MiB";

pub(super) fn code_hint(code: u32) -> Option<&'static str> {
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
