//! The Switchboard server: configuration, database start-up, the HTTP app and serving.

pub mod benchcmd;
pub mod config;
pub mod db;
pub mod embedded;
pub mod hardening;
pub mod http;
pub mod middleware;
pub mod request_owner;
pub mod request_tasks;
pub mod seed;
pub mod session_listener;
pub mod sessions;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use app::auth::server::{Mailer, PasswordHasher};
use app::state::{AppConfig, AppState};
use leptos::config::get_configuration;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::embedded::EmbeddedPostgres;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Leptos configuration: {0}")]
    Leptos(String),
    #[error("embedded PostgreSQL: {0}")]
    Embedded(#[from] embedded::EmbeddedError),
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("refusing to serve: {0}")]
    Role(#[from] db::RoleCheckError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("configuration: {0}")]
    Config(String),
}

/// The request-time state built from the configuration.
pub fn build_state(
    config: &Config,
    pool: PgPool,
    leptos_options: leptos::config::LeptosOptions,
) -> Result<AppState, StartError> {
    let addr = leptos_options.site_addr;
    let mailer = match &config.smtp_url {
        Some(url) => Mailer::smtp(url, &config.mail_from).map_err(StartError::Config)?,
        None if config.production() && config.require_email_confirmation => {
            return Err(StartError::Config(
                "production needs SMTP_URL to send confirmation emails \
                 (or AUTH_REQUIRE_EMAIL_CONFIRMATION=false)"
                    .to_owned(),
            ))
        }
        None => Mailer::Outbox,
    };
    let org_rest = match config.org_data_backend {
        config::OrgDataBackend::Postgres => None,
        config::OrgDataBackend::Rest => {
            let (Some(url), Some(key), Some(secret)) = (
                &config.supabase_url,
                &config.supabase_anon_key,
                &config.supabase_jwt_secret,
            ) else {
                return Err(StartError::Config(
                    "ORG_DATA_BACKEND=rest needs SUPABASE_URL, SUPABASE_ANON_KEY and SUPABASE_JWT_SECRET".to_owned(),
                ));
            };
            let backend =
                app::org::rest::RestBackend::new(url, key, secret).map_err(StartError::Config)?;
            Some(Arc::new(backend))
        }
    };
    let cpus = config::cpus();
    let mut allowed_origins = match &config.app_origin {
        Some(configured) => hardening::AllowedOrigins::parse(configured).0.to_vec(),
        None => vec![format!("http://{addr}")],
    };
    if allowed_origins.is_empty() {
        return Err(StartError::Config("APP_ORIGIN names no origin".to_owned()));
    }
    if config.app_origin.is_none() && addr.ip().is_loopback() {
        // The same server reached as localhost in development.
        allowed_origins.push(format!("http://localhost:{}", addr.port()));
    }
    let app_config = AppConfig {
        production: config.production(),
        app_origin: allowed_origins[0].clone(),
        allowed_origins,
        auth: config.auth_settings(),
        trusted_proxies: config.trusted_proxies.clone().unwrap_or_default(),
    };
    Ok(AppState {
        leptos_options,
        pool,
        config: Arc::new(app_config),
        hasher: PasswordHasher::new(config.password_hash_concurrency.unwrap_or(cpus)),
        mailer,
        org_rest,
        sessions: app::auth::session_cache::SessionCache::new(Duration::from_secs(
            config.session_cache_secs,
        )),
    })
}

/// Deletes expired sessions, tokens and throttling windows, every few minutes, forever.
pub fn spawn_cleanup(pool: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            let result = sqlx::raw_sql(
                "delete from app_private.sessions where expiry_date < now();
                 delete from app_private.user_sessions where expires_at < now();
                 delete from app_private.email_tokens where expires_at < now() - interval '1 day';
                 delete from app_private.rate_limits where window_start < now() - interval '1 day';",
            )
            .execute(&pool)
            .await;
            if let Err(error) = result {
                tracing::warn!(%error, "expired-row cleanup failed; will retry");
            }
        }
    })
}

/// The database the app runs on: the configured one, or an embedded cluster it owns.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects (starting the embedded PostgreSQL when no URL is configured), migrates, and
    /// checks that request queries will be bound by Row-Level Security.
    pub async fn open(config: &Config) -> Result<Self, StartError> {
        let (url, embedded) = match &config.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let pg = EmbeddedPostgres::start(&config.data_dir).await?;
                (pg.database_url(), Some(pg))
            }
        };
        let settings = db::PoolSettings {
            max_connections: config.max_connections(embedded.is_some()),
            acquire_timeout: config.acquire_timeout(),
        };
        let pool = db::connect(&url, &settings)
            .await
            .map_err(StartError::Connect)?;
        db::migrate(&pool).await?;
        db::check_system_role(&pool).await?;
        db::check_request_role(&pool, db::REQUEST_ROLE).await?;
        Ok(Self { pool, embedded })
    }

    /// Closes the pool, then stops the embedded PostgreSQL if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(pg) = self.embedded {
            // Stopping waits for PostgreSQL to exit: keep it off the async threads.
            let _ = tokio::task::spawn_blocking(move || drop(pg)).await;
        }
    }
}

/// mimalloc advised the kernel to back its arenas with transparent huge pages, and the
/// kernel's khugepaged then filled whole 2 MiB pages around the few KiB in use, at its own
/// pace: the server's RSS grew with how far that had got, not with what it held. A
/// `make bench` run ended at 93 MiB where the next ended at 40; with khugepaged sped up,
/// 41 → 60 MiB over four rounds of load (30-45 MiB of it huge pages), and once 96 MiB
/// after 15 s of dashboards, where this build held 30-36 MiB in the same runs, at the
/// same throughput. mimalloc is now built to advise none (its `no_thp` feature), and this
/// turns huge pages off for the process except where advised: the password check's block
/// (`app::auth::hash_memory`), which is faster on them and returned when idle. A kernel
/// older than 6.18 refuses that exception; huge pages are then off for the whole process,
/// the block included. The binary calls this first.
pub fn transparent_huge_pages_only_where_advised() {
    /// `PR_THP_DISABLE_EXCEPT_ADVISED` of `linux/prctl.h` (6.18), not yet in `libc`.
    #[cfg(target_os = "linux")]
    const EXCEPT_ADVISED: libc::c_ulong = 1 << 1;
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's address space. A
    // kernel that does not know the exception refuses the call and changes nothing, and
    // then the flag is set without it; a kernel without THP refuses both, harmlessly.
    unsafe {
        if libc::prctl(
            libc::PR_SET_THP_DISABLE,
            1 as libc::c_ulong,
            EXCEPT_ADVISED,
            0,
            0,
        ) != 0
        {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1 as libc::c_ulong, 0, 0, 0);
        }
    }
}

/// Writes one line of a command's output to stdout. A reader that has gone away (`seed |
/// head -1`) is no reason to panic: the command's work is done either way.
pub fn print_line(text: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `switchboard seed`: fills the configured (or embedded) database with demo data.
pub async fn run_seed(config: Config, options: seed::SeedOptions) -> Result<(), StartError> {
    let database = Database::open(&config).await?;
    let result = seed::seed(&database.pool, options).await;
    database.close().await;
    let report = result.map_err(|e| StartError::Config(format!("seeding failed: {e}")))?;
    print_line(format_args!(
        "Seeded {} organizations, {} agents and {} calls in {:.1} s.\n\
         Sign in as {} (or owner<N>-{}@demo.switchboard.test, N = 1..{}) with the password: {}",
        report.orgs,
        report.agents,
        report.calls,
        report.seconds,
        report.first_email,
        report.run,
        report.orgs,
        seed::DEMO_PASSWORD
    ));
    Ok(())
}

/// `switchboard rls-bench`: prints the RLS cost of the dashboard's queries.
pub async fn run_rls_bench(config: Config, email: &str, iterations: u32) -> Result<(), StartError> {
    let database = Database::open(&config).await?;
    // In the embedded cluster the table owner (the login role) is not a superuser: the
    // statement is timed as its superuser too.
    let superuser = database
        .embedded
        .as_ref()
        .filter(|pg| !pg.app_role_is_superuser())
        .map(|pg| pg.superuser_url_for(embedded::DATABASE_NAME));
    let result = benchcmd::rls_cost(&database.pool, superuser.as_deref(), email, iterations).await;
    database.close().await;
    print_line(result.map_err(|e| StartError::Config(e.to_string()))?);
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let mut leptos_options = get_configuration(None)
        .map_err(|e| StartError::Leptos(e.to_string()))?
        .leptos_options;
    if let Some(addr) = config.addr {
        leptos_options.site_addr = addr;
    }
    let addr = leptos_options.site_addr;
    let database = Database::open(&config).await?;

    let state = build_state(&config, database.pool.clone(), leptos_options)?;
    let cleanup = spawn_cleanup(database.pool.clone());
    let session_listener = session_listener::spawn(&database.pool, state.sessions.clone());
    let router = http::app(state);

    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    tracing::info!("listening on http://{addr}");
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    tracing::info!("shutting down");
    cleanup.abort();
    if let Some(session_listener) = session_listener {
        session_listener.stop().await;
    }
    database.close().await;
    served.map_err(StartError::Serve)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    /// Huge pages are off for the process (the flag `PR_GET_THP_DISABLE` reads back), and
    /// where the kernel took the exception for advised memory, `/proc/self/status` says
    /// huge pages are possible; where it did not, that they are off. A kernel without
    /// transparent huge pages refuses both calls and has nothing to turn off.
    #[test]
    #[cfg(target_os = "linux")]
    fn transparent_huge_pages_are_off_for_the_process_except_where_advised() {
        super::transparent_huge_pages_only_where_advised();
        // SAFETY: PR_GET_THP_DISABLE only reads the process's flag.
        let flags = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        if flags < 0 {
            return;
        }
        assert_eq!(flags & 1, 1, "huge pages off, flags {flags}");
        let status = std::fs::read_to_string("/proc/self/status").expect("read status");
        if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
            let expected = if flags & 2 == 2 { "1" } else { "0" };
            assert_eq!(
                line.split_whitespace().nth(1),
                Some(expected),
                "{line}, flags {flags}"
            );
        }
    }
}
