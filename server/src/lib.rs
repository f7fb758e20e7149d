//! The Switchboard server: configuration, database start-up, the HTTP app and serving.

pub mod config;
pub mod db;
pub mod embedded;
pub mod http;
pub mod telemetry;

use std::sync::Arc;

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
            max_connections: config.db_max_connections,
            acquire_timeout: config.acquire_timeout(),
        };
        let pool = db::connect(&url, &settings)
            .await
            .map_err(StartError::Connect)?;
        db::migrate(&pool).await?;
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

    let app_config = AppConfig {
        production: config.production(),
        app_origin: config
            .app_origin
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
    };
    let state = AppState {
        leptos_options,
        pool: database.pool.clone(),
        config: Arc::new(app_config),
    };
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
