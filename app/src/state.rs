//! Server state shared by the axum handlers and, through context, the server functions.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;

use crate::auth::proxies::TrustedProxies;
use crate::auth::server::{AuthSettings, Mailer, PasswordHasher};

/// Settings the server functions and handlers need at request time.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub production: bool,
    /// The app's own origin (scheme, host, port), used for links in emails and origin checks.
    pub app_origin: String,
    /// Every origin the app is served from (`APP_ORIGIN`, comma-separated); the first is
    /// `app_origin`.
    pub allowed_origins: Vec<String>,
    pub auth: AuthSettings,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
}

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub config: Arc<AppConfig>,
    pub hasher: PasswordHasher,
    pub mailer: Mailer,
    /// Organization data through hosted Supabase's PostgREST instead of PostgreSQL.
    pub org_rest: Option<Arc<crate::org::rest::RestBackend>>,
    /// Sessions this instance resolved in the last few seconds.
    pub sessions: crate::auth::session_cache::SessionCache,
}
