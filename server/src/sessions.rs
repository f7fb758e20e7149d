//! Where session records live: `app_private.sessions`, in tower-sessions-sqlx-store's
//! format, with a new record written in one statement.
//!
//! `PostgresStore::create` opens a transaction, asks whether the new ID exists, upserts
//! and commits: four round trips on every sign-in. [`SessionRecords::create`] inserts
//! with `on conflict do nothing` and draws a new ID in the rare case one was taken, so
//! a record never overwrites another's (the reason `create` exists apart from `save`),
//! and commits without waiting for the WAL flush.
//! Loading, saving and deleting are `PostgresStore`'s.

use async_trait::async_trait;
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

/// The table the migrations create for session records.
const SCHEMA: &str = "app_private";
const TABLE: &str = "sessions";

/// A new record, kept only if its ID is free, committed without waiting for the WAL flush
/// like the session's row (`app::auth::server::establish` says why that is safe). Binds
/// the ID, the encoded record and its expiry.
pub const NEW_RECORD: &str =
    "with async_commit as (select pg_catalog.set_config('synchronous_commit', 'off', true))
     insert into app_private.sessions (id, data, expiry_date)
     select $1, $2, $3 from async_commit
     on conflict (id) do nothing";

#[derive(Debug, Clone)]
pub struct SessionRecords {
    pool: PgPool,
    store: PostgresStore,
}

impl SessionRecords {
    pub fn new(pool: PgPool) -> Self {
        let store = PostgresStore::new(pool.clone())
            .with_schema_name(SCHEMA)
            .and_then(|s| s.with_table_name(TABLE))
            // Both names are constant, valid identifiers.
            .expect("constant session table names are valid");
        Self { pool, store }
    }
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

#[async_trait]
impl SessionStore for SessionRecords {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let data = rmp_serde::to_vec(&*record)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let inserted = sqlx::query(NEW_RECORD)
                .bind(record.id.to_string())
                .bind(data)
                .bind(record.expiry_date)
                .execute(&self.pool)
                .await
                .map_err(backend)?
                .rows_affected();
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await
    }
}
