//! Per-request authentication: who is calling (client IP and device), which user the
//! session belongs to, and the guards that act on it before any page or server function
//! runs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use app::auth::server::{resolve, ClientInfo, CurrentUser};
use app::auth::PUBLIC_SERVER_FNS;
use app::components::forms::encode_query_value;
use app::components::layout::is_at_or_below;
use app::errors::AppError;
use app::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Pages only a signed-in user may see (and everything below them).
pub const PROTECTED_PREFIXES: &[&str] = &["/dashboard", "/settings", "/agents", "/calls"];

#[derive(Clone)]
pub struct AuthLayerState {
    pub app: AppState,
    /// Every registered server function path.
    pub server_fns: Arc<HashSet<String>>,
}

impl AuthLayerState {
    pub fn new(app: AppState) -> Self {
        let server_fns = leptos::server_fn::axum::server_fn_paths()
            .map(|(path, _)| path.to_owned())
            .collect();
        Self {
            app,
            server_fns: Arc::new(server_fns),
        }
    }
}

fn is_protected(path: &str) -> bool {
    PROTECTED_PREFIXES
        .iter()
        .any(|prefix| is_at_or_below(path, prefix))
}

/// Paths that never need the session (static files, health checks).
fn skips_session(path: &str) -> bool {
    path.starts_with("/pkg/")
        || path == "/favicon.svg"
        || path == "/favicon.ico"
        || path == "/healthz"
        || path == "/readyz"
}

fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub async fn authenticate(
    State(layer): State<AuthLayerState>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if skips_session(&path) {
        return next.run(request).await;
    }
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            let forwarded_for = request
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                // A value that is not text reads as a malformed entry: the walk stops there.
                .map(|value| value.to_str().unwrap_or(""));
            let proxies = &layer.app.config.trusted_proxies;
            proxies.client_ip(peer.ip(), forwarded_for).to_string()
        })
        .unwrap_or_default();
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(512)
        .collect();
    request
        .extensions_mut()
        .insert(ClientInfo { ip, user_agent });

    let state = &layer.app;
    let user = match resolve(&state.pool, &session, &state.config.auth, &state.sessions).await {
        Ok(user) => user,
        Err(error) => return unavailable(error, wants_html(&request)),
    };
    let signed_in = user.is_some();
    request.extensions_mut().insert(CurrentUser(user));

    let method = request.method().clone();
    let reads = method == Method::GET || method == Method::HEAD;
    if reads && !signed_in && is_protected(&path) {
        let here = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path.clone(),
        };
        return Redirect::to(&format!("/auth/signin?next={}", encode_query_value(&here)))
            .into_response();
    }
    if reads && signed_in && (path == "/auth/signin" || path == "/auth/signup") {
        return Redirect::to("/dashboard").into_response();
    }
    if !reads
        && !signed_in
        && layer.server_fns.contains(&path)
        && !PUBLIC_SERVER_FNS.contains(&path.as_str())
    {
        // Plain form posts get sent to sign in; fetch callers get 401, its body encoded as a
        // server function's error so the browser's client decodes it (and the page can send
        // the user to sign in) instead of seeing an unreadable answer.
        if wants_html(&request) {
            return Redirect::to("/auth/signin").into_response();
        }
        return server_fn_error(AppError::Unauthorized);
    }

    let mut response = next.run(request).await;
    if signed_in {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `error` as a server function answers it: its status and the JSON the client decodes.
fn server_fn_error(error: AppError) -> Response {
    let status =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Serializing a unit-like enum variant cannot fail; fall back to the plain answer anyway.
    match serde_json::to_string(&error) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => error.into_response(),
    }
}

/// The session could not be read (the database is down or slow): nothing protected is
/// rendered and nothing is created; a friendly 503.
fn unavailable(error: AppError, html: bool) -> Response {
    tracing::warn!(%error, "session lookup failed");
    let mut response = if html {
        crate::hardening::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "Switchboard cannot reach its database right now. Please try again in a moment.",
        )
    } else {
        let mut r = AppError::Unavailable.into_response();
        *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        r
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

#[cfg(test)]
mod tests {
    use super::is_protected;

    #[test]
    fn protected_paths_match_whole_segments() {
        assert!(is_protected("/dashboard"));
        assert!(is_protected("/settings/account"));
        assert!(is_protected("/calls/123"));
        assert!(!is_protected("/dashboards"));
        assert!(!is_protected("/"));
        assert!(!is_protected("/auth/signin"));
    }
}
