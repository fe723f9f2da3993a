//! Where requests go: the API's base URL (checked, credentials never shown), ids and keys as
//! they may appear in a path.

use super::*;

pub(super) fn checked_base_url(base_url: &str) -> Result<String, Error> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let shown = without_userinfo(base_url);
    let bad = |why: &'static str| Error::BadBaseUrl { url: shown.to_string(), why };
    let url = reqwest::Url::parse(trimmed)
        .map_err(|err| Error::BaseUrlNotAUrl { url: shown.to_string(), detail: err.to_string() })?;
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

pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
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
pub(super) fn is_id(id: &str) -> bool {
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
