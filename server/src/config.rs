//! Configuration from the environment and command-line flags (flags win).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Switchboard: the console for an AI phone-agent business.",
    after_help = "Leptos settings come from LEPTOS_* variables (set by cargo-leptos when it runs \
the server; the defaults suit `target/release/switchboard` run from the repository root):\n  \
LEPTOS_SITE_ADDR  address to serve on (default 127.0.0.1:3000; --addr overrides)\n  \
LEPTOS_SITE_ROOT  directory with the built site (default target/site)\n  \
LEPTOS_SITE_PKG_DIR, LEPTOS_OUTPUT_NAME, LEPTOS_ENV, LEPTOS_HASH_FILES\n\
Log verbosity: RUST_LOG (default info)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app (the default when no subcommand is given).
    Serve,
    /// Create demo organizations, owners (password printed), agents and calls.
    Seed {
        /// How many organizations.
        #[arg(long, default_value_t = 3)]
        orgs: u32,
        /// How many calls per organization (spread over the last 30 days).
        #[arg(long, default_value_t = 500)]
        calls_per_org: u32,
        /// How many agents per organization.
        #[arg(long, default_value_t = 3)]
        agents_per_org: u32,
    },
    /// Benchmark helper: median milliseconds of one argon2id verify.
    #[command(hide = true)]
    Argon2Bench {
        #[arg(long, default_value_t = 20)]
        iterations: u32,
        /// Print every verify's milliseconds, one per line, instead of the median.
        #[arg(long)]
        each: bool,
        /// Sleep this long before each verify, as a server waits between sign-ins.
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Benchmark helper: sign-ins at a running server and bare argon2id verifies in
    /// turns, one pair of milliseconds per line.
    #[command(hide = true)]
    SigninBench {
        /// The server's address, as `LEPTOS_SITE_ADDR`.
        #[arg(long)]
        addr: std::net::SocketAddr,
        #[arg(long)]
        email: String,
        #[arg(long, default_value_t = 40)]
        pairs: u32,
    },
    /// Benchmark helper: the dashboard's queries under RLS vs as the table owner.
    #[command(hide = true)]
    RlsBench {
        #[arg(long)]
        email: String,
        #[arg(long, default_value_t = 200)]
        iterations: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AppEnv {
    Development,
    Production,
}

/// Where organization data (agents, calls, members) is read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrgDataBackend {
    /// Directly in PostgreSQL, as `authenticated` with the user's claims (`RlsTx`).
    Postgres,
    /// Through hosted Supabase's PostgREST with a per-request JWT for the user.
    Rest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// development or production (production: secure cookies, no dev mailbox, JSON logs).
    #[arg(
        long,
        env = "APP_ENV",
        value_enum,
        default_value = "development",
        global = true
    )]
    pub app_env: AppEnv,

    /// PostgreSQL to use (a hosted Supabase database works). Unset: the embedded PostgreSQL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Where the embedded PostgreSQL keeps its cluster (used without DATABASE_URL).
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = ".switchboard",
        global = true
    )]
    pub data_dir: PathBuf,

    /// The app's public origin, e.g. https://console.example.com (default: http://<addr>).
    #[arg(long, env = "APP_ORIGIN", global = true)]
    pub app_origin: Option<String>,

    /// Address to serve on (overrides LEPTOS_SITE_ADDR).
    #[arg(long, global = true)]
    pub addr: Option<SocketAddr>,

    /// Most database connections this instance opens (default: the CPU count, at least 2,
    /// for the embedded PostgreSQL, which runs on the same cores; twice the CPU count, at
    /// least 4, for `DATABASE_URL`; raise it for a database across a network, where round
    /// trips wait longer).
    #[arg(
        long,
        env = "DB_MAX_CONNECTIONS",
        value_parser = clap::value_parser!(u32).range(1..=10_000),
        global = true
    )]
    pub db_max_connections: Option<u32>,

    /// How long a request waits for a database connection before answering 503 (ms).
    #[arg(
        long,
        env = "DB_ACQUIRE_TIMEOUT_MS",
        default_value_t = 3000,
        global = true
    )]
    pub db_acquire_timeout_ms: u64,

    /// SMTP server for outgoing mail, e.g. smtps://user:pass@smtp.example.com (unset in
    /// development: mail goes to the outbox shown at /dev/mailbox).
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Switchboard <no-reply@switchboard.localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Require new accounts to confirm their email address before signing in.
    #[arg(long, env = "AUTH_REQUIRE_EMAIL_CONFIRMATION", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub require_email_confirmation: bool,

    /// Sessions end after this long without a request (seconds; default 12 hours).
    #[arg(long, env = "SESSION_IDLE_TIMEOUT_SECS", default_value_t = 12 * 3600, global = true)]
    pub session_idle_timeout_secs: u64,

    /// Sessions end this long after sign-in whatever the activity (seconds; default 7 days).
    #[arg(long, env = "SESSION_ABSOLUTE_LIFETIME_SECS", default_value_t = 7 * 24 * 3600, global = true)]
    pub session_absolute_lifetime_secs: u64,

    /// How long this instance reuses a session it read from the database (seconds; 0 reads
    /// it on every request). Sessions ended or changed elsewhere are forgotten at once when
    /// PostgreSQL notifies (see the README, "Security").
    #[arg(long, env = "SESSION_CACHE_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=60), global = true)]
    pub session_cache_secs: u64,

    /// Reverse proxies (load balancers) in front of the app whose X-Forwarded-For header
    /// names the client, as addresses or CIDR ranges separated by commas, e.g.
    /// 10.0.0.0/8,127.0.0.1. Unset: the client is the connection's peer and the header is
    /// ignored (anyone can send it). Throttling and the session list use this address.
    #[arg(long, env = "TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<app::auth::proxies::TrustedProxies>,

    /// Most password hashes computed at once (each takes 19 MiB); default: CPU count.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY", global = true)]
    pub password_hash_concurrency: Option<usize>,

    /// Where organization data goes: postgres (default) or rest (hosted Supabase's PostgREST).
    #[arg(
        long,
        env = "ORG_DATA_BACKEND",
        value_enum,
        default_value = "postgres",
        global = true
    )]
    pub org_data_backend: OrgDataBackend,

    /// Supabase project URL, e.g. https://xyz.supabase.co (for the rest backend).
    #[arg(long, env = "SUPABASE_URL", global = true)]
    pub supabase_url: Option<String>,

    /// The project's anon key, sent as `apikey` (for the rest backend).
    #[arg(long, env = "SUPABASE_ANON_KEY", hide_env_values = true, global = true)]
    pub supabase_anon_key: Option<String>,

    /// The project's JWT secret, to sign per-request user tokens (for the rest backend).
    #[arg(
        long,
        env = "SUPABASE_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub supabase_jwt_secret: Option<String>,

    /// Log format (default: pretty in development, json in production).
    #[arg(long, env = "LOG_FORMAT", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
}

impl Config {
    pub fn production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// The pool size. Measured on two cores with PostgreSQL on the same machine
    /// (dashboard at 64 connections, three interleaved runs): 4 connections served
    /// 1,800-2,120 pages/s, 8 served 1,470-1,770 and 20 served 1,390-1,520; more backends
    /// than cores only take turns on them. The embedded PostgreSQL always shares this
    /// machine's cores, so it gets one connection per core: on two cores, eight
    /// interleaved pairs of 8 s runs (2026-12-04) gave 2 connections more dashboards a
    /// second than 4 in seven of them, ~10% more on average. A configured database may
    /// have cores of its own, and keeps twice as many.
    pub fn max_connections(&self, embedded: bool) -> u32 {
        self.db_max_connections.unwrap_or_else(|| {
            let (per_cpu, least) = if embedded { (1, 2) } else { (2, 4) };
            u32::try_from(cpus().saturating_mul(per_cpu))
                .unwrap_or(u32::MAX)
                .max(least)
        })
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.db_acquire_timeout_ms)
    }

    pub fn auth_settings(&self) -> app::auth::server::AuthSettings {
        app::auth::server::AuthSettings {
            require_confirmation: self.require_email_confirmation,
            idle_timeout: Duration::from_secs(self.session_idle_timeout_secs.max(60)),
            absolute_lifetime: Duration::from_secs(self.session_absolute_lifetime_secs.max(60)),
        }
    }

    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or(if self.production() {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        })
    }
}

/// The CPUs this process may run on (2 when the system cannot tell).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_means_serve_with_defaults() {
        let cli = Cli::try_parse_from(["switchboard"]).expect("defaults parse");
        assert!(cli.command.is_none());
        assert_eq!(cli.config.data_dir, PathBuf::from(".switchboard"));
        assert_eq!(cli.config.acquire_timeout(), Duration::from_secs(3));
    }

    #[test]
    fn flags_parse_after_the_subcommand_and_bad_values_are_refused() {
        let cli = Cli::try_parse_from(["switchboard", "serve", "--app-env", "production"])
            .expect("flag after subcommand");
        assert!(cli.config.production());
        assert_eq!(cli.config.log_format(), LogFormat::Json);
        assert!(Cli::try_parse_from(["switchboard", "--app-env", "staging"]).is_err());
        assert!(Cli::try_parse_from(["switchboard", "--addr", "nowhere"]).is_err());
    }

    #[test]
    fn a_pool_of_no_connections_is_refused_with_the_reason() {
        let err = Cli::try_parse_from(["switchboard", "--db-max-connections", "0"])
            .expect_err("zero connections would make every request wait and fail");
        assert!(err.to_string().contains("db-max-connections"), "{err}");
        let cli = Cli::try_parse_from(["switchboard", "--db-max-connections", "12"])
            .expect("a positive pool size");
        assert_eq!(cli.config.max_connections(true), 12);
        assert_eq!(cli.config.max_connections(false), 12);
        let cli = Cli::try_parse_from(["switchboard"]).expect("defaults parse");
        assert!(cli.config.max_connections(false) >= 4);
        // The embedded cluster shares the app's cores: one connection per core.
        assert_eq!(cli.config.max_connections(true) as usize, cpus().max(2));
    }
}
