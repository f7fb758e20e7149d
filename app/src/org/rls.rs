//! `RlsTx`: a transaction that runs as `authenticated` with the session user's claims, the
//! way PostgREST runs a request. Both settings are transaction-local, so they end with it.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::auth::server::Authenticated;
use crate::errors::AppError;

pub struct RlsTx {
    tx: Transaction<'static, Postgres>,
}

/// Makes the rest of the caller's transaction run as `authenticated` with `auth`'s claims.
///
/// One prepared statement after `BEGIN`. Measured against `SELECT set_config(…literal…);
/// BEGIN` sent as one simple query (a round trip less): PostgreSQL parses and plans a
/// simple query every time, which cost more (60 us per transaction) than the extra round
/// trip of the prepared statement (42 us). The dashboard, the hottest read, does both in
/// one prepared statement instead (`app_private.org_dashboard_as`, see `OrgStore::dashboard`).
pub async fn act_as(tx: &mut PgConnection, auth: &Authenticated) -> Result<(), sqlx::Error> {
    let (claims, sub) = claims(auth);
    sqlx::query(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true),
                set_config('request.jwt.claim.sub', $2, true)",
    )
    .bind(claims)
    .bind(sub)
    .execute(tx)
    .await?;
    Ok(())
}

/// The user's claims as PostgREST sets them (`request.jwt.claims`), and the user's id
/// alone (`request.jwt.claim.sub`, which `auth.uid()` reads before parsing the claims
/// object as JSON each time a policy asks: ~2 us, once per table a statement reads).
pub(crate) fn claims(auth: &Authenticated) -> (String, String) {
    let claims = serde_json::json!({
        "sub": auth.user.id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": auth.user.email,
    });
    (claims.to_string(), auth.user.id.to_string())
}

impl RlsTx {
    /// Opens the transaction for `auth`'s user. Only `store::OrgStore` calls this.
    pub(crate) async fn begin(pool: &PgPool, auth: &Authenticated) -> Result<Self, AppError> {
        let mut tx = crate::db::begin(pool).await?;
        act_as(&mut tx, auth).await?;
        Ok(Self { tx })
    }

    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub(crate) async fn commit(self) -> Result<(), AppError> {
        self.tx.commit().await?;
        Ok(())
    }
}
