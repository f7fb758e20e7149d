//! Opening a transaction that a cancelled request cannot leave open.
//!
//! sqlx 0.8.6 (and 0.9.0: transact-rs/sqlx#4393, fixed upstream after both) counts a
//! PostgreSQL transaction as open only once `BEGIN` has been answered. A future dropped
//! while that answer is on its way (the browser closed the connection, so hyper dropped
//! the request; or the request's leftover tasks were ended with its response) leaves the
//! session inside a transaction that nothing rolls back, and the pool hands it to the next
//! request: whatever that request runs joins the stale transaction, including role and
//! claims set "for the transaction" by an earlier user, and the snapshot it holds keeps
//! vacuum from removing dead rows until the connection is closed. Seen here at the end of
//! every `wrk` run: PostgreSQL's "there is already a transaction in progress" warnings and
//! a pooled backend `idle in transaction` for minutes.

use sqlx::{PgPool, Postgres, Transaction};

/// `pool.begin()`, run to the end as a task of its own: if the caller is dropped first,
/// the task still receives the transaction, and dropping it there rolls it back as sqlx
/// does for any transaction it knows is open. Every transaction a request opens starts
/// here (`clippy.toml` forbids `Pool::begin` elsewhere).
pub async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let pool = pool.clone();
    #[allow(clippy::disallowed_methods)]
    let opening = tokio::spawn(async move { pool.begin().await });
    match opening.await {
        Ok(result) => result,
        // The task is never aborted; it can only have panicked inside sqlx.
        Err(_) => Err(sqlx::Error::WorkerCrashed),
    }
}
