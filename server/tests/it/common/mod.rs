//! Shared test helpers: a real PostgreSQL server and a fresh, migrated database per test.
//!
//! The server is `DATABASE_URL` when it is set (any database on it: tests create their
//! own), otherwise an embedded cluster this test process starts in a temporary directory
//! and that stops when the process ends.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use app::state::AppState;
use clap::Parser;
use leptos::config::LeptosOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use switchboard::embedded::EmbeddedPostgres;
use switchboard::seed::SeedReport;

struct Server {
    /// Options for the server's maintenance database.
    admin: PgConnectOptions,
    _embedded: Option<EmbeddedPostgres>,
    _dir: Option<tempfile::TempDir>,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        // Each #[tokio::test] has its own runtime; start the server on a runtime of its own.
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test runtime");
            runtime.block_on(async {
                if let Ok(url) = std::env::var("DATABASE_URL") {
                    let options: PgConnectOptions = url.parse().expect("DATABASE_URL parses");
                    return Server {
                        admin: options,
                        _embedded: None,
                        _dir: None,
                    };
                }
                remove_stale_clusters();
                let dir = tempfile::Builder::new()
                    .prefix("switchboard-test-pg-")
                    .tempdir()
                    .expect("temporary directory");
                let pg = EmbeddedPostgres::start(dir.path())
                    .await
                    .expect("embedded PostgreSQL starts");
                let admin: PgConnectOptions = pg
                    .superuser_url_for("postgres")
                    .parse()
                    .expect("url parses");
                Server {
                    admin,
                    _embedded: Some(pg),
                    _dir: Some(dir),
                }
            })
        })
        .join()
        .expect("test database server thread")
    })
}

/// Test processes never drop their cluster's directory (it lives in a static): remove
/// those left by earlier runs whose PostgreSQL is no longer running.
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("switchboard-test-pg-") {
            continue;
        }
        let pid_file = entry.path().join("pgdata").join("postmaster.pid");
        let running = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok())
            .is_some_and(|pid| {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            });
        if !running {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The SQLSTATE of a database error (`42501`: insufficient privilege), if it is one.
pub fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned())
}

/// The connection options of the server's maintenance database.
pub fn admin_options() -> PgConnectOptions {
    server().admin.clone()
}

/// A database of its own for one test, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub options: PgConnectOptions,
    /// Another value owns the database (a second app instance): do not drop it.
    pub keep: bool,
}

impl TestDb {
    /// A new empty database (no migrations).
    pub async fn empty() -> Self {
        let admin = admin_options();
        let name = format!("sb_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to test server");
        sqlx::query(&format!("create database {name}"))
            .execute(&mut conn)
            .await
            .expect("create db");
        let _ = conn.close().await;
        let options = admin.database(&name);
        Self {
            name,
            options,
            keep: false,
        }
    }

    /// A new database with every migration applied.
    pub async fn migrated() -> (Self, PgPool) {
        let db = Self::empty().await;
        let pool = db.pool().await;
        switchboard::db::migrate(&pool)
            .await
            .expect("migrations apply");
        (db, pool)
    }

    pub async fn pool(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(self.options.clone())
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let name = self.name.clone();
        let admin = admin_options();
        // Drop runs outside async; use a short-lived runtime on its own thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect_with(&admin).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// Leptos options for tests: the site is whatever `target/site` holds (may be empty).
pub fn leptos_options() -> LeptosOptions {
    leptos_options_serving("target/site")
}

/// Leptos options whose static files are those under `site_root`.
pub fn leptos_options_serving(site_root: &str) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("switchboard")
        .site_root(site_root)
        .build()
}

pub fn state(pool: PgPool) -> AppState {
    state_with(pool, &[])
}

/// App state as the binary builds it, from the default configuration plus `flags`.
pub fn state_with(pool: PgPool, flags: &[&str]) -> AppState {
    state_serving(pool, flags, leptos_options())
}

fn state_serving(pool: PgPool, flags: &[&str], options: LeptosOptions) -> AppState {
    let args = std::iter::once("switchboard").chain(flags.iter().copied());
    let cli = switchboard::config::Cli::try_parse_from(args).expect("test flags parse");
    switchboard::build_state(&cli.config, pool, options).expect("test state")
}

/// A user row with only an email (no password, profile or organization), as the system
/// makes it; its id.
pub async fn bare_user(pool: &PgPool, email: &str) -> uuid::Uuid {
    sqlx::query_scalar("insert into auth.users (email) values ($1) returning id")
        .bind(email)
        .fetch_one(pool)
        .await
        .expect("user")
}

/// The `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("the response sets a cookie")
        .to_owned()
}

/// A real server on a loopback port, over a fresh migrated database.
pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub state: AppState,
    _db: Option<TestDb>,
    server: tokio::task::JoinHandle<()>,
    session_listener: Option<switchboard::session_listener::SessionListener>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub async fn spawn_with(flags: &[&str]) -> Self {
        let (db, pool) = TestDb::migrated().await;
        Self::serve(db, pool, flags).await
    }

    /// Another instance over the same database (as several `switchboard` processes).
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(&[]).await
    }

    pub async fn another_instance_with(&self, flags: &[&str]) -> TestApp {
        let own = self._db.as_ref().expect("an instance over a test database");
        let db = TestDb {
            name: own.name.clone(),
            options: own.options.clone(),
            keep: true,
        };
        Self::serve(db, self.pool.clone(), flags).await
    }

    async fn serve(db: TestDb, pool: PgPool, flags: &[&str]) -> Self {
        let mut app = Self::serve_pool(pool, flags).await;
        app._db = Some(db);
        app
    }

    /// A server whose static files are those under `site_root`.
    pub async fn spawn_serving(site_root: &str) -> Self {
        let (db, pool) = TestDb::migrated().await;
        let mut app = Self::serve_pool_with(pool, &[], leptos_options_serving(site_root)).await;
        app._db = Some(db);
        app
    }

    /// A server over a pool the caller owns (for example one on a cluster it stops).
    pub async fn serve_pool(pool: PgPool, flags: &[&str]) -> Self {
        Self::serve_pool_with(pool, flags, leptos_options()).await
    }

    async fn serve_pool_with(pool: PgPool, flags: &[&str], options: LeptosOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut all_flags = vec!["--app-origin", base.as_str()];
        all_flags.extend_from_slice(flags);
        let state = state_serving(pool.clone(), &all_flags, options);
        let router = switchboard::http::app(state.clone());
        let session_listener = switchboard::session_listener::spawn(&pool, state.sessions.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        let app = Self {
            base,
            pool,
            state,
            _db: None,
            server,
            session_listener,
        };
        // The listener's connection is then open: one still logging in when the test ends
        // would hold up dropping the database (the test's thread blocks in `Drop`, so the
        // login never finishes) until PostgreSQL's 60 s authentication timeout.
        if app.session_listener.is_some() {
            app.until_sessions_are_cached().await;
        }
        app
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
    /// A request that hangs fails the test after a minute instead of stalling the suite.
    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36")
            .build()
            .expect("client")
    }

    /// Waits until this instance's session cache is on (its first notification probe came
    /// back); fails the test after 10 s.
    async fn until_sessions_are_cached(&self) {
        for _ in 0..200 {
            if self.state.sessions.is_live() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the session cache never went live");
    }

    /// Demo organizations, owners, agents and calls in this app's database.
    pub async fn seed(&self, orgs: u32, calls_per_org: u32, agents_per_org: u32) -> SeedReport {
        let options = switchboard::seed::SeedOptions {
            orgs,
            calls_per_org,
            agents_per_org,
        };
        switchboard::seed::seed(&self.pool, options)
            .await
            .expect("seed")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A server-function call as the hydrated app makes it (fetch, form-encoded).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .header("Accept", "application/json")
            .header("Origin", &self.base)
            .form(form)
            .send()
            .await
            .expect("server function call")
    }

    /// A server-function call carrying `cookie` (a session signed in elsewhere).
    pub async fn call_with_cookie(
        &self,
        cookie: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client()
            .post(self.url(path))
            .header("Accept", "application/json")
            .header("Origin", &self.base)
            .header("cookie", cookie)
            .form(form)
            .send()
            .await
            .expect("server function call")
    }

    /// A plain HTML form post, as a browser without JavaScript sends it.
    pub async fn post_form(
        &self,
        client: &reqwest::Client,
        path: &str,
        referer: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .header("Accept", "text/html,application/xhtml+xml")
            .header("Origin", &self.base)
            .header("Referer", self.url(referer))
            .form(form)
            .send()
            .await
            .expect("form post")
    }

    pub async fn session_json(&self, client: &reqwest::Client) -> serde_json::Value {
        session_answer(client.get(self.url("/api/auth/session"))).await
    }

    /// `/api/auth/session` as a browser carrying only `cookie` sees it.
    pub async fn session_of_cookie(&self, cookie: &str) -> serde_json::Value {
        let request = self.client().get(self.url("/api/auth/session"));
        session_answer(request.header("cookie", cookie)).await
    }

    /// The newest mail to `to` in the dev outbox: (subject, body).
    pub async fn last_mail(&self, to: &str) -> Option<(String, String)> {
        sqlx::query_as("select subject, body from app_private.outbox where recipient = $1 order by id desc limit 1")
            .bind(to)
            .fetch_optional(&self.pool)
            .await
            .expect("outbox")
    }

    pub async fn mail_count(&self, to: &str) -> i64 {
        sqlx::query_scalar("select count(*) from app_private.outbox where recipient = $1")
            .bind(to)
            .fetch_one(&self.pool)
            .await
            .expect("outbox count")
    }

    /// The token of the newest link in the newest mail to `to`.
    pub async fn mailed_token(&self, to: &str) -> String {
        let (_, body) = self.last_mail(to).await.expect("a mail was sent");
        let start = body.find("token=").expect("a token link") + "token=".len();
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_hexdigit())
            .collect()
    }

    /// Signs up and confirms `email`; returns nothing, the account is ready to sign in.
    pub async fn register(&self, email: &str, password: &str, organization: &str) {
        let client = self.client();
        let response = self
            .call(
                &client,
                "/auth/signup",
                &[
                    ("email", email),
                    ("password", password),
                    ("full_name", "Test User"),
                    ("organization", organization),
                ],
            )
            .await;
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "sign-up: {}",
            response.status()
        );
        let token = self.mailed_token(&email.trim().to_lowercase()).await;
        let response = self
            .call(&client, "/auth/confirm", &[("token", &token)])
            .await;
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "confirm: {}",
            response.status()
        );
    }

    /// A new client signed in as `email`.
    pub async fn signed_in(&self, email: &str, password: &str) -> reqwest::Client {
        let client = self.client();
        let response = self
            .call(
                &client,
                "/auth/signin",
                &[("email", email), ("password", password), ("next", "")],
            )
            .await;
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "sign-in: {}",
            response.status()
        );
        client
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(listener) = &self.session_listener {
            listener.abort();
        }
    }
}

async fn session_answer(request: reqwest::RequestBuilder) -> serde_json::Value {
    request
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json")
}
