//! `RlsTx`: a transaction that runs as `authenticated` with the session user's claims, the
//! way PostgREST runs a request, with the user's organizations read once for its read
//! policies. Every setting is transaction-local, so they all end with it.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::auth::server::Authenticated;
use crate::errors::AppError;

pub struct RlsTx {
    tx: Transaction<'static, Postgres>,
}

/// Binds the claims and the user's id. The read policies compare each row's organization
/// with the ids in `switchboard.member_org_ids`, kept for the user named by
/// `switchboard.member_org_ids_for` (migration `20261204000001`); without them, the first
/// check of the transaction reads the memberships itself. Read here, in the statement that
/// sets the claims, as the login role (the role changes only after the columns before it
/// are evaluated, and the plan was made for the login role, which bypasses RLS): one index
/// read in a statement that was sent anyway.
const ACT_AS: &str = "select
    set_config('switchboard.member_org_ids',
               array(select m.organization_id from public.memberships m
                     where m.user_id = $2::uuid)::text, true),
    set_config('switchboard.member_org_ids_for', $2, true),
    set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true),
    set_config('request.jwt.claim.sub', $2, true)";

/// Makes the rest of the caller's transaction run as `authenticated` with `auth`'s claims,
/// and reads the user's organizations for its read policies once, before the switch (see
/// `ACT_AS`).
///
/// One prepared statement after `BEGIN`. Measured against `SELECT set_config(…literal…);
/// BEGIN` sent as one simple query (a round trip less): PostgreSQL parses and plans a
/// simple query every time, which cost more (60 us per transaction) than the extra round
/// trip of the prepared statement (42 us). The dashboard, the hottest read, does both in
/// one prepared statement instead (`app_private.org_dashboard_as`, see `OrgStore::dashboard`).
pub async fn act_as(tx: &mut PgConnection, auth: &Authenticated) -> Result<(), sqlx::Error> {
    let (claims, sub) = claims(auth);
    sqlx::query(ACT_AS)
        .bind(claims)
        .bind(sub)
        .execute(tx)
        .await?;
    Ok(())
}

/// The user's claims as PostgREST sets them (`request.jwt.claims`), and the user's id
/// alone (`request.jwt.claim.sub`, which `auth.uid()` reads before parsing the claims
/// object as JSON each time a policy asks: ~2 us, once per table a statement reads).
pub fn claims(auth: &Authenticated) -> (String, String) {
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
