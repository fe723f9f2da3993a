//! The bodies Cloudflare answers with: the v4 JSON envelope (doc §0.1), and the not-quite-API
//! bodies of [`crate::MalformedBody`].
//!
//! This module owns the wire shape of answers and nothing about what they mean.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::MalformedBody;

/// An error answer: one entry of `errors` and its HTTP status. Doc §0.1: clients branch on
/// `errors[0].code`, so every failure the stand-in produces carries a code from doc §5.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) code: u32,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Failure {
        Failure { status, code, message: message.into() }
    }

    /// A request the API refuses as invalid. Doc §1.7 and §5: the REST code for validation
    /// failures is UNVERIFIED; Miniflare's emulator uses 10001, and so does the stand-in.
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, 10001, message)
    }
}

#[derive(Serialize)]
struct ErrorItem<'a> {
    code: u32,
    message: &'a str,
}

/// Doc §0.1: `{"success":false,"errors":[{"code":…,"message":…}],"messages":[],"result":null}`.
#[derive(Serialize)]
struct FailureEnvelope<'a> {
    success: bool,
    errors: [ErrorItem<'a>; 1],
    messages: [(); 0],
    result: (),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = FailureEnvelope {
            success: false,
            errors: [ErrorItem { code: self.code, message: &self.message }],
            messages: [],
            result: (),
        };
        json(self.status, &body)
    }
}

/// Doc §0.1: `{"success":true,"errors":[],"messages":[],"result":<T|null>,"result_info":{...}?}`.
#[derive(Serialize)]
struct SuccessEnvelope<T, I> {
    success: bool,
    errors: [(); 0],
    messages: [(); 0],
    result: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_info: Option<I>,
}

/// A `200` success envelope.
pub(crate) fn success<T: Serialize, I: Serialize>(result: T, result_info: Option<I>) -> Response {
    json(
        StatusCode::OK,
        &SuccessEnvelope { success: true, errors: [], messages: [], result, result_info },
    )
}

/// A success whose `result` is `null`, as old bulk-write answers were (doc §1.7).
pub(crate) fn null_success() -> Response {
    success::<(), ()>((), None)
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        // Only non-string map keys or a failing `Serialize` impl can make this fail, and the
        // stand-in serializes neither; answer like a broken backend rather than panic.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// An answer that is not a usable envelope ([`crate::Fault::Malformed`]).
pub(crate) fn malformed(body: MalformedBody, status: StatusCode) -> Response {
    let (content_type, text) = match body {
        MalformedBody::Html => ("text/html; charset=UTF-8", html_page(status)),
        // A list page cut mid-key: valid JSON up to the cut, then nothing.
        MalformedBody::Truncated => (
            "application/json",
            r#"{"success":true,"errors":[],"messages":[],"result":[{"name":"config/fea"#.to_owned(),
        ),
        MalformedBody::Empty => ("application/json", String::new()),
        MalformedBody::NotJson => (
            "text/plain",
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination".to_owned(),
        ),
    };
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], text).into_response();
    if body == MalformedBody::Html {
        let headers = response.headers_mut();
        headers.insert(header::SERVER, HeaderValue::from_static("cloudflare"));
        headers.insert("cf-ray", HeaderValue::from_static("8d1f3c5b7a9e0f21-AMS"));
        if status == StatusCode::FORBIDDEN {
            // Doc §0.1: "A `cf-mitigated: challenge` response header means a WAF block page".
            headers.insert("cf-mitigated", HeaderValue::from_static("challenge"));
        }
    }
    response
}

/// The shape of the HTML error pages Cloudflare's edge serves (title "host | code: reason").
fn html_page(status: StatusCode) -> String {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Error");
    format!(
        r#"<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html lang="en-US">
<head>
<title>api.cloudflare.com | {code}: {reason}</title>
<meta charset="UTF-8" />
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="p-0">
    <header class="mx-auto pt-10 lg:pt-6 lg:px-8 w-240 lg:w-full mb-8">
      <h1 class="inline-block sm:block sm:mb-2 font-light text-60 lg:text-4xl text-black-dark leading-tight mr-2">
        <span class="inline-block">{reason}</span>
        <span class="code-label">Error code {code}</span>
      </h1>
    </header>
    <div class="cf-error-footer cf-wrapper w-240 lg:w-full py-10 sm:py-4 sm:px-8 mx-auto text-center sm:text-left border-solid border-0 border-t border-gray-300">
      <p class="text-13">
        <span class="cf-footer-item sm:block sm:mb-1">Cloudflare Ray ID: <strong class="font-semibold">8d1f3c5b7a9e0f21</strong></span>
        <span class="cf-footer-separator sm:hidden">&bull;</span>
        <span class="cf-footer-item sm:block sm:mb-1">Performance &amp; security by Cloudflare</span>
      </p>
    </div>
  </div>
</div>
</body>
</html>
"#
    )
}
