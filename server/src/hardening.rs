//! Hardening applied to every response: the same-origin check for state-changing requests
//! (CSRF), security headers, and error pages for panics and outages that never leak
//! internals.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// The origins (scheme://host[:port]) the app is served from.
#[derive(Debug, Clone)]
pub struct AllowedOrigins(pub Arc<Vec<String>>);

impl AllowedOrigins {
    /// `configured` is `APP_ORIGIN` (one origin or a comma-separated list).
    pub fn parse(configured: &str) -> Self {
        let list = configured
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        Self(Arc::new(list))
    }

    fn allows(&self, origin: &str) -> bool {
        self.0.iter().any(|o| o == origin)
    }
}

/// The origin part of a URL (`scheme://host[:port]`).
fn origin_of(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    Some(&url[..end])
}

fn header_str(request: &Request, name: header::HeaderName) -> Option<&str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Refuses (403) any non-GET request whose `Origin` (or, when absent, `Sec-Fetch-Site`,
/// then `Referer`) is not the app's own. Plain HTML forms send `Origin` too.
pub async fn same_origin(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let verdict = match header_str(&request, header::ORIGIN) {
        Some(origin) => allowed.allows(origin),
        None => match header_str(&request, header::HeaderName::from_static("sec-fetch-site")) {
            Some(site) => site == "same-origin",
            None => header_str(&request, header::REFERER)
                .and_then(origin_of)
                .is_some_and(|o| allowed.allows(o)),
        },
    };
    if verdict {
        return next.run(request).await;
    }
    tracing::warn!(method = %request.method(), path = %request.uri().path(), "cross-site request refused");
    let wants_html = header_str(&request, header::ACCEPT).is_some_and(|a| a.contains("text/html"));
    if wants_html {
        error_page(StatusCode::FORBIDDEN, "Request refused", "This request did not come from Switchboard's own pages, so it was refused. Go back, reload the page and try again.")
    } else {
        (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({ "error": "Cross-site request refused." })),
        )
            .into_response()
    }
}

/// The policy for responses that are not Leptos pages (those get a nonce, see `app::shell`).
const DEFAULT_CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/// Security headers on every response (kept when a handler set its own).
pub async fn security_headers(
    State(production): State<bool>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, DEFAULT_CSP),
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if production {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// A small page of the app for errors raised outside Leptos (panics, outages, refusals).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Switchboard</title><link rel=\"stylesheet\" href=\"/pkg/switchboard.css\"></head>\
         <body><header class=\"site-header\"><a class=\"brand\" href=\"/\">◎ Switchboard</a></header>\
         <main id=\"main\"><section class=\"error-page\"><h1>{title}</h1><p>{message}</p><p><a href=\"/\">Back to the home page</a></p></section></main></body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What a panicking handler answers: a 500 page; the process keeps serving.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Something went wrong on our side. Please try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_compared_exactly() {
        let allowed = AllowedOrigins::parse("https://app.example.com/, http://127.0.0.1:3000");
        assert!(allowed.allows("https://app.example.com"));
        assert!(allowed.allows("http://127.0.0.1:3000"));
        assert!(!allowed.allows("https://app.example.com.evil.io"));
        assert!(!allowed.allows("null"));
        assert_eq!(
            origin_of("https://app.example.com/a/b?c"),
            Some("https://app.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000"),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(origin_of("nonsense"), None);
    }
}
