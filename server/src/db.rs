//! The connection pool, migrations and the start-up check of the role request queries use.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// The migrations in `migrations/`, embedded in the binary. sqlx takes a PostgreSQL
/// advisory lock while it migrates, so instances starting together wait for each other.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// The role every request-time query on user data runs under (`set local role`).
pub const REQUEST_ROLE: &str = "authenticated";

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 20,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// A connection idle for longer than this is pinged before it is handed out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// One pool serves migrations, the session store and request queries. Connections log in
/// as the migration role; request transactions drop to `authenticated` with
/// `set local role`, which ends with the transaction, so nothing leaks between checkouts.
///
/// sqlx pings every connection it hands out, and again when it comes back: two round
/// trips per checkout, four per signed-in page. A connection that was in use a moment ago
/// is known to be alive (sqlx still pings it on return, and closes it if that fails), so
/// only those idle for longer than `PING_AFTER_IDLE` are pinged first: after an outage the
/// dead connections are still found before a request gets one.
pub async fn connect(url: &str, settings: &PoolSettings) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    let options = options.application_name("switchboard");
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoleCheckError {
    #[error("role `{0}` does not exist")]
    Missing(String),
    #[error("role `{0}` is a superuser: Row-Level Security would not apply to request queries")]
    Superuser(String),
    #[error("role `{0}` has BYPASSRLS: Row-Level Security would not apply to request queries")]
    BypassRls(String),
    #[error("role `{0}` owns table {1}: Row-Level Security would not bind it")]
    OwnsTables(String, String),
    #[error("the login role cannot switch to `{0}` (grant {0} to it)")]
    CannotSwitch(String),
    #[error(
        "the login role `{0}` is neither a superuser nor BYPASSRLS: sign-up, sessions and the seed \
         write as the system and would be refused by the forced RLS policies"
    )]
    SystemCannotBypass(String),
    #[error("could not check the request role: {0}")]
    Query(String),
}

/// The login role does the system's work (migrations, sign-up, sessions, the seed) on
/// tables whose RLS is forced: it must bypass RLS (a superuser, or BYPASSRLS as Supabase's
/// `postgres` role has). User requests never run as it: they switch to `authenticated`.
pub async fn check_system_role(pool: &PgPool) -> Result<(), RoleCheckError> {
    let (name, superuser, bypass): (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| RoleCheckError::Query(e.to_string()))?;
    if superuser || bypass {
        Ok(())
    } else {
        Err(RoleCheckError::SystemCannotBypass(name))
    }
}

/// Refuses a request role under which Row-Level Security would not hold: a superuser, a
/// role with BYPASSRLS, or one that owns (or is a member of the owner of) an app table.
pub async fn check_request_role(pool: &PgPool, role: &str) -> Result<(), RoleCheckError> {
    let query_err = |e: sqlx::Error| RoleCheckError::Query(e.to_string());
    let row: Option<(bool, bool, bool)> = sqlx::query_as(
        "select rolsuper, rolbypassrls, pg_has_role(current_user, oid, 'MEMBER')
         from pg_roles where rolname = $1",
    )
    .bind(role)
    .fetch_optional(pool)
    .await
    .map_err(query_err)?;
    let Some((superuser, bypass_rls, can_switch)) = row else {
        return Err(RoleCheckError::Missing(role.to_owned()));
    };
    if superuser {
        return Err(RoleCheckError::Superuser(role.to_owned()));
    }
    if bypass_rls {
        return Err(RoleCheckError::BypassRls(role.to_owned()));
    }
    let owned: Option<String> = sqlx::query_scalar(
        "select format('%I.%I', n.nspname, c.relname)
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
           and pg_has_role($1, c.relowner, 'MEMBER')
         order by 1 limit 1",
    )
    .bind(role)
    .fetch_optional(pool)
    .await
    .map_err(query_err)?;
    if let Some(table) = owned {
        return Err(RoleCheckError::OwnsTables(role.to_owned(), table));
    }
    if !can_switch {
        return Err(RoleCheckError::CannotSwitch(role.to_owned()));
    }
    Ok(())
}

/// Whether the database answers, within `timeout`.
pub async fn ping(pool: &PgPool, timeout: Duration) -> bool {
    let query = sqlx::query_scalar::<_, i32>("select 1").fetch_one(pool);
    matches!(tokio::time::timeout(timeout, query).await, Ok(Ok(1)))
}
