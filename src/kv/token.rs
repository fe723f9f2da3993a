//! The Cloudflare API token and the account id, as the environment provides them.
//!
//! This module owns [`ApiToken`], the one type that holds the secret, and the rules for reading
//! it (`cloudflare-kv-api.md` §6.2): `CLOUDFLARE_API_TOKEN`, else the legacy `CF_API_TOKEN`, an
//! empty value counting as unset. The token is never printed: `Debug` and `Display` show
//! `ApiToken(****)`, and no error message carries it, not even one character of it. The token
//! is read from the environment only, never from a flag, so it never shows in `--help` or in a
//! process listing. Text a server sends back is passed through [`ApiToken::redact`], which
//! also removes a partial echo; a URL is shown through [`without_userinfo`], so credentials
//! written into `--api-url` never show either.
//!
//! It does not know about HTTP beyond what a header value may hold; the client in
//! `cloudflare.rs` turns the token into an `Authorization: Bearer` header.

use std::borrow::Cow;
use std::fmt;

use super::Error;
pub use crate::env_vars::{
    CF_ACCOUNT_ID, CF_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_API_TOKEN,
};

/// A Cloudflare API token. It can only be read back by the HTTP client of this crate.
#[derive(Clone)]
pub struct ApiToken(String);

impl ApiToken {
    /// Checks a token given directly (not from the environment). Surrounding whitespace is
    /// dropped; what is left must be non-empty and travel in an HTTP header.
    pub fn new(token: &str) -> Result<ApiToken, Error> {
        ApiToken::checked(token, None)?.ok_or(Error::MissingToken)
    }

    /// `Ok(None)` when the value is empty (or only whitespace): that counts as unset.
    fn checked(value: &str, variable: Option<&'static str>) -> Result<Option<ApiToken>, Error> {
        let token = value.trim();
        if token.is_empty() {
            return Ok(None);
        }
        // Visible ASCII only. Wrangler refuses characters above U+00FF because they cannot
        // travel in a header (`cloudflare-kv-api.md` §6.1); we are stricter, since real tokens
        // are plain ASCII and a space, a control character or Latin-1 in one is a copy-paste
        // accident that would only come back as a confusing 400 or 10000.
        if let Some((index, c)) = token.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
            let position = token[..index].chars().count() + 1;
            let what = if c == ' ' {
                "a space"
            } else if c.is_control() {
                "a control character"
            } else {
                "a non-ASCII character"
            };
            return Err(Error::BadToken { variable, position, what });
        }
        Ok(Some(ApiToken(token.to_owned())))
    }

    /// No token, for a server that needs none (`wrangler dev`): nothing is redacted.
    pub(crate) fn none() -> ApiToken {
        ApiToken(String::new())
    }

    /// The secret itself, for the `Authorization` header and nothing else.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }

    /// `text` with every run of [`REDACT_MIN_CHARS`] or more characters that occurs in the
    /// token (the whole token, when it is shorter) replaced by `****`: a server that echoes the
    /// token, or a part of it, gives none of it away. Cut text only after redacting it, or a
    /// token split at the cut leaves its start behind.
    pub(crate) fn redact(&self, text: &str) -> String {
        let token = self.0.as_bytes();
        let min = token.len().clamp(1, REDACT_MIN_CHARS);
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            // The longest start of `rest` found anywhere in the token. The token is ASCII, so
            // a match never ends inside a character.
            let bytes = rest.as_bytes();
            let longest = (0..token.len())
                .map(|from| token[from..].iter().zip(bytes).take_while(|(a, b)| a == b).count())
                .max()
                .unwrap_or(0);
            if longest >= min {
                out.push_str("****");
                rest = &rest[longest..];
            } else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }
}

/// The shortest part of the token [`ApiToken::redact`] removes: eight characters, too many to
/// occur in ordinary text by chance, few enough that no useful part of a token shows.
pub const REDACT_MIN_CHARS: usize = 8;

/// A URL as it may be shown: without the `user:password@` of its authority, which would put
/// credentials into a log line or an error. Text that is not a URL is returned as it is.
pub fn without_userinfo(url: &str) -> Cow<'_, str> {
    let start = url.find("://").map_or(0, |index| index + 3);
    let authority_len = url[start..].find(['/', '?', '#']).unwrap_or(url.len() - start);
    match url[start..start + authority_len].rfind('@') {
        Some(at) => Cow::Owned(format!("{}{}", &url[..start], &url[start + at + 1..])),
        None => Cow::Borrowed(url),
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(****)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(****)")
    }
}

/// Reads the token from `CLOUDFLARE_API_TOKEN`, else `CF_API_TOKEN`; an empty value counts as
/// unset. `lookup` is the environment (`|name| std::env::var(name).ok()` in the CLI).
pub fn from_env(lookup: &dyn Fn(&str) -> Option<String>) -> Result<ApiToken, Error> {
    for variable in [CLOUDFLARE_API_TOKEN, CF_API_TOKEN] {
        if let Some(value) = lookup(variable)
            && let Some(token) = ApiToken::checked(&value, Some(variable))?
        {
            return Ok(token);
        }
    }
    Err(Error::MissingToken)
}

/// How [`Error::BadToken`] names where the token came from.
pub(crate) fn origin(variable: Option<&'static str>) -> String {
    match variable {
        Some(variable) => format!("`{variable}`"),
        None => "the API token".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "Zq3-secret_TOKEN-value-0123456789abcdefXY";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn prefers_the_current_name() {
        let lookup = env(&[(CLOUDFLARE_API_TOKEN, "new"), (CF_API_TOKEN, "old")]);
        assert_eq!(from_env(&lookup).expect("token").secret(), "new");
    }

    #[test]
    fn falls_back_to_the_legacy_name_when_unset_or_empty() {
        let lookup = env(&[(CF_API_TOKEN, "old")]);
        assert_eq!(from_env(&lookup).expect("token").secret(), "old");
        let lookup = env(&[(CLOUDFLARE_API_TOKEN, ""), (CF_API_TOKEN, "old")]);
        assert_eq!(from_env(&lookup).expect("token").secret(), "old");
        let lookup = env(&[(CLOUDFLARE_API_TOKEN, "  \n"), (CF_API_TOKEN, "old")]);
        assert_eq!(from_env(&lookup).expect("token").secret(), "old");
    }

    #[test]
    fn surrounding_whitespace_is_dropped() {
        let lookup = env(&[(CLOUDFLARE_API_TOKEN, " abc\r\n")]);
        assert_eq!(from_env(&lookup).expect("token").secret(), "abc");
    }

    #[test]
    fn missing_names_both_variables() {
        let error = from_env(&env(&[(CF_API_TOKEN, "")])).expect_err("missing");
        let message = error.to_string();
        assert!(message.contains("CLOUDFLARE_API_TOKEN"), "{message}");
        assert!(message.contains("CF_API_TOKEN"), "{message}");
    }

    #[test]
    fn refuses_what_cannot_travel_in_a_header_without_echoing_it() {
        for (token, what, position) in [
            ("abc\u{1}def", "a control character", 4),
            ("abc def", "a space", 4),
            ("séçret", "a non-ASCII character", 2),
            ("ab\u{2603}c", "a non-ASCII character", 3),
        ] {
            let error =
                from_env(&env(&[(CLOUDFLARE_API_TOKEN, token)])).expect_err("bad token refused");
            let shown = format!("{error} {error:?}");
            assert!(shown.contains(what), "{shown}");
            assert!(shown.contains(&format!("character {position}")), "{shown}");
            assert!(shown.contains("`CLOUDFLARE_API_TOKEN`"), "{shown}");
            assert!(!shown.contains(token), "{shown}");
        }
        let error = ApiToken::new("tab\there").expect_err("bad token refused");
        assert!(error.to_string().starts_with("the API token holds a control character"));
    }

    #[test]
    fn never_prints_the_secret() {
        let token = ApiToken::new(SECRET).expect("token");
        assert_eq!(format!("{token}"), "ApiToken(****)");
        assert_eq!(format!("{token:?}"), "ApiToken(****)");
        assert_eq!(format!("{:?}", Some(token.clone())), "Some(ApiToken(****))");
        assert_eq!(format!("{token:#?}"), "ApiToken(****)");
    }

    /// Issue 15 item 8: a partial echo of the token is removed too.
    #[test]
    fn redact_removes_the_token_and_any_long_part_of_it() {
        let token = ApiToken::new(SECRET).expect("token");
        let partial = &SECRET[5..20];
        let text = format!("a {SECRET} b {partial} c {} d", &SECRET[..7]);
        let redacted = token.redact(&text);
        assert_eq!(redacted, format!("a **** b **** c {} d", &SECRET[..7]));
        // Where the echo starts and ends does not matter, nor what stands around it.
        let glued = format!("é{}{}ü", &SECRET[30..], &SECRET[..12]);
        assert_eq!(token.redact(&glued), "é********ü");
        assert_eq!(token.redact("plain text, nothing secret"), "plain text, nothing secret");
        // A token shorter than the minimum is removed whole.
        let short = ApiToken::new("abc").expect("token");
        assert_eq!(short.redact("xabcx ab"), "x****x ab");
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        for (url, shown) in [
            ("https://user:pa55@api.example.com/client/v4", "https://api.example.com/client/v4"),
            ("http://tok@127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("https://a:b@c@host/p?x=@y", "https://host/p?x=@y"),
            ("https://api.cloudflare.com/client/v4", "https://api.cloudflare.com/client/v4"),
            ("https://host/path@not-userinfo", "https://host/path@not-userinfo"),
            ("user:secret@host", "host"),
        ] {
            assert_eq!(without_userinfo(url), shown, "{url}");
        }
    }
}
