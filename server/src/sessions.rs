//! Where session records live: `app_private.sessions`, in tower-sessions-sqlx-store's
//! format, with a new record written in one statement.
//!
//! `PostgresStore::create` opens a transaction, asks whether the new ID exists, upserts
//! and commits: four round trips on every sign-in. [`SessionRecords::create`] inserts
//! with `on conflict do nothing` and draws a new ID in the rare case one was taken, so
//! a record never overwrites another's (the reason `create` exists apart from `save`),
//! and commits without waiting for the WAL flush.
//! A new sign-in's record also carries its session's `user_sessions` row
//! (`app::auth::server::NEW_ROW_KEY`, left there by `establish`): `create` takes it out
//! and writes both, and the sign-in on the user, in one statement.
//! Loading, saving and deleting are `PostgresStore`'s.

use app::auth::server::{NewSessionRow, NEW_ROW_KEY};
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

/// A new sign-in: its record as [`NEW_RECORD`] writes it and, only if that was written,
/// its session's row and the user's last sign-in, in one statement (one round trip where
/// the row was one of its own; `app::auth::server::establish` says why that matters).
/// Returns how many records it wrote, 0 or 1. Binds the record's ID, encoded record and
/// expiry, then the row's ID, the user, the lifetime in seconds, the IP address and the
/// user agent.
pub const NEW_SIGNED_IN_RECORD: &str =
    "with async_commit as (select pg_catalog.set_config('synchronous_commit', 'off', true)),
     record as (
       insert into app_private.sessions (id, data, expiry_date)
       select $1, $2, $3 from async_commit
       on conflict (id) do nothing
       returning id
     ),
     session_row as (
       insert into app_private.user_sessions (id, user_id, expires_at, ip, user_agent)
       select $4, $5, now() + make_interval(secs => $6), $7, $8 from record
     ),
     signed_in as (
       update auth.users set last_sign_in_at = now(), updated_at = now()
       where id = $5 and exists (select from record)
     )
     select count(*) from record";

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
        let new_row: Option<NewSessionRow> = record
            .data
            .remove(NEW_ROW_KEY)
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        loop {
            let data = rmp_serde::to_vec(&*record)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let id = record.id.to_string();
            let inserted = match &new_row {
                None => sqlx::query(NEW_RECORD)
                    .bind(id)
                    .bind(data)
                    .bind(record.expiry_date)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?
                    .rows_affected(),
                Some(row) => {
                    let written: i64 = sqlx::query_scalar(NEW_SIGNED_IN_RECORD)
                        .bind(id)
                        .bind(data)
                        .bind(record.expiry_date)
                        .bind(row.sid)
                        .bind(row.uid)
                        .bind(row.lifetime_secs)
                        .bind(&row.ip)
                        .bind(&row.user_agent)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(backend)?;
                    u64::try_from(written).unwrap_or(0)
                }
            };
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        // `establish` always makes a new record, so a new session's row never comes here;
        // if it did, saving the record without the row would sign the browser in to a
        // session that does not exist.
        if record.data.contains_key(NEW_ROW_KEY) {
            return Err(session_store::Error::Backend(
                "a new sign-in's record must be created, not saved".to_owned(),
            ));
        }
        self.store.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await
    }
}
