//! Shared test helpers: a real PostgreSQL server and a fresh, migrated database per test.
//!
//! The server is `DATABASE_URL` when it is set (any database on it: tests create their
//! own), otherwise an embedded cluster this test process starts in a temporary directory
//! and that stops when the process ends.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use app::state::{AppConfig, AppState};
use leptos::config::LeptosOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use switchboard::embedded::EmbeddedPostgres;

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
                let admin: PgConnectOptions = pg.url_for("postgres").parse().expect("url parses");
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
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("switchboard-test-pg-") {
            continue;
        }
        let pid_file = entry.path().join("pgdata").join("postmaster.pid");
        let running = std::fs::read_to_string(pid_file)
            .ok()
            .and_then(|text| text.lines().next()?.trim().parse::<i32>().ok())
            .is_some_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok());
        if !running {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The connection options of the server's maintenance database.
pub fn admin_options() -> PgConnectOptions {
    server().admin.clone()
}

/// A database of its own for one test, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub options: PgConnectOptions,
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
        Self { name, options }
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
    LeptosOptions::builder()
        .output_name("switchboard")
        .site_root("target/site")
        .build()
}

pub fn state(pool: PgPool) -> AppState {
    AppState {
        leptos_options: leptos_options(),
        pool,
        config: Arc::new(AppConfig {
            production: false,
            app_origin: "http://127.0.0.1:3000".to_owned(),
        }),
    }
}
