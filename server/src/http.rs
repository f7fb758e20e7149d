//! The axum router: health endpoints, the session API, the dev mailbox, the Leptos pages
//! and server functions, static files; sessions and authentication around all of them.

use std::time::Duration;

use app::auth::server::CurrentUser;
use app::components::data::escape_html;
use app::state::AppState;
use app::{shell, App};
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{CachingSessionStore, SessionManagerLayer};
use tower_sessions_moka_store::MokaStore;
use tracing::Level;

use crate::hardening::{panic_response, same_origin, security_headers, AllowedOrigins};
use crate::middleware::{authenticate, AuthLayerState};
use crate::request_owner::one_owner_per_request;
use crate::request_tasks::{self, tasks_end_with_response};
use crate::sessions::SessionRecords;

/// Largest request body accepted (413 past it).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Session records kept in memory by each instance (records only point at a
/// `user_sessions` row, which every request still reads; see `session_store`).
const CACHED_SESSION_RECORDS: u64 = 10_000;

/// The tower-sessions store: records in `app_private.sessions` (see `SessionRecords`), read
/// through a bounded in-memory cache. A cached record is only a pointer: whether the
/// session is still signed in is decided on every request by its `user_sessions` row, so a
/// record cached here after another instance signed the browser out leads nowhere.
pub fn session_store(state: &AppState) -> CachingSessionStore<MokaStore, SessionRecords> {
    CachingSessionStore::new(
        MokaStore::new(Some(CACHED_SESSION_RECORDS)),
        SessionRecords::new(state.pool.clone()),
    )
}

/// The whole app as a router, for the binary and for tests.
pub fn app(state: AppState) -> Router {
    // Before anything of Leptos's sets its own executor (the first one set stays).
    request_tasks::init();
    let routes = generate_route_list(App);
    let leptos_options = state.leptos_options.clone();
    let production = state.config.production;
    let sessions = SessionManagerLayer::new(session_store(&state))
        .with_name(if production {
            "__Host-switchboard_session"
        } else {
            "switchboard_session"
        })
        .with_secure(production)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/");
    let auth =
        axum::middleware::from_fn_with_state(AuthLayerState::new(state.clone()), authenticate);
    let origins = AllowedOrigins(std::sync::Arc::new(state.config.allowed_origins.clone()));
    let csrf = axum::middleware::from_fn_with_state(origins, same_origin);
    let headers = axum::middleware::from_fn_with_state(production, security_headers);

    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/auth/session", get(session_api));
    if !production {
        router = router
            .route("/dev/mailbox", get(dev_mailbox))
            // Development only: proves that a panicking handler becomes a 500 page.
            .route("/dev/panic", get(dev_panic));
    }
    router
        .leptos_routes(&state, routes, move || shell(leptos_options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(one_owner_per_request))
        .layer(axum::middleware::from_fn(tasks_end_with_response))
        .layer(auth)
        .layer(sessions)
        .layer(csrf)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(headers)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// The process is up and serving.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The process can do its work: the database answers.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let timeout = state.pool.options().get_acquire_timeout() + Duration::from_secs(1);
    if crate::db::ping(&state.pool, timeout).await {
        (StatusCode::OK, Json(json!({ "status": "ok" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "database unreachable" })),
        )
    }
}

/// `GET /api/auth/session`: the signed-in user and when the session ends, or `{}`.
async fn session_api(current: Option<Extension<CurrentUser>>) -> Response {
    let body = match current.and_then(|Extension(CurrentUser(user))| user) {
        Some(auth) => json!({
            "user": {
                "id": auth.user.id,
                "email": auth.user.email,
                "full_name": auth.user.full_name,
                "organization_id": auth.user.organization_id,
                "organization_name": auth.user.organization_name,
                "role": auth.user.role,
            },
            "expires": auth.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }),
        None => json!({}),
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn dev_panic() -> Response {
    panic!("deliberate panic from /dev/panic");
}

/// `GET /dev/mailbox` (development only): every email the app has "sent", newest first.
async fn dev_mailbox(State(state): State<AppState>) -> Response {
    type MailRow = (i64, String, String, String, String);
    let rows: Result<Vec<MailRow>, _> = sqlx::query_as(
        "select id, recipient, subject, body,
                to_char(created_at at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')
         from app_private.outbox order by id desc limit 200",
    )
    .fetch_all(&state.pool)
    .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => return app::errors::AppError::from(error).into_response(),
    };
    let mut html = String::from(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Dev mailbox · Switchboard</title>\
         <link rel=\"stylesheet\" href=\"/pkg/switchboard.css\"></head><body><main>\
         <h1>Dev mailbox</h1><p class=\"muted\">Development only: every email the app has sent, newest first. \
         With <code>SMTP_URL</code> set, mail goes out over SMTP instead.</p>",
    );
    if rows.is_empty() {
        html.push_str("<p>No mail yet.</p>");
    }
    for (id, to, subject, body, at) in rows {
        html.push_str(&format!(
            "<article class=\"mail\" data-testid=\"mail\" id=\"mail-{id}\"><h2>{}</h2><p class=\"muted\">To <span data-testid=\"mail-to\">{}</span> · {}</p><pre>{}</pre></article>",
            escape_html(&subject),
            escape_html(&to),
            escape_html(&at),
            linkify(&escape_html(&body)),
        ));
    }
    html.push_str("</main></body></html>");
    ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

/// Makes the (already escaped) http(s) URLs of a mail body clickable.
fn linkify(escaped: &str) -> String {
    escaped
        .split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
                format!(
                    "<a href=\"{trimmed}\">{trimmed}</a>{}",
                    &word[trimmed.len()..]
                )
            } else {
                word.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mailbox_links_are_kept() {
        let html = super::linkify("Open http://127.0.0.1:3000/auth/confirm?token=ab now");
        assert!(html.contains("<a href=\"http://127.0.0.1:3000/auth/confirm?token=ab\">"));
    }
}
