//! `RlsTx`: a transaction that runs as `authenticated` with the session user's claims, the
//! way PostgREST runs a request. Both settings are transaction-local, so they end with it.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::auth::server::Authenticated;
use crate::errors::AppError;

pub struct RlsTx {
    tx: Transaction<'static, Postgres>,
}

impl RlsTx {
    /// Opens the transaction for `auth`'s user. Only `store::OrgStore` calls this.
    pub(crate) async fn begin(pool: &PgPool, auth: &Authenticated) -> Result<Self, AppError> {
        let mut tx = pool.begin().await?;
        let claims = serde_json::json!({
            "sub": auth.user.id,
            "role": "authenticated",
            "aud": "authenticated",
            "email": auth.user.email,
        });
        sqlx::query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)")
            .bind(claims.to_string())
            .execute(&mut *tx)
            .await?;
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
