//! Measurements the benchmark suite (`bench/run.sh`) needs from inside the process: a bare
//! argon2id verify, and the dashboard's statement under RLS against the same statement run
//! as the table owner.

use std::time::Instant;

use app::auth::server::{Authenticated, PasswordHasher, Verification};
use app::auth::SessionUser;
use app::errors::AppError;
use app::org::store::{DashboardRecord, OrgStore};
use app::org::Dashboard;
use sqlx::PgPool;
use uuid::Uuid;

fn p50(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// Median milliseconds of one argon2id verify with the app's parameters (one at a time).
pub async fn argon2_p50(iterations: u32) -> Result<f64, AppError> {
    let hasher = PasswordHasher::new(1);
    let hash = hasher.hash("benchmark password".to_owned()).await?;
    let mut samples = Vec::new();
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let verified = hasher
            .verify("benchmark password".to_owned(), Some(hash.clone()))
            .await?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        if let Verification::Invalid = verified {
            return Err(AppError::Internal);
        }
    }
    Ok(p50(samples))
}

/// "under RLS p50 X ms, as owner p50 Y ms, ratio Z" for the dashboard of `email`'s
/// organization: the store's own path (an `RlsTx` as `authenticated` with the user's
/// claims) against the same statement as the table owner (RLS bypassed) in a plain
/// transaction, interleaved so that both see the same machine.
pub async fn rls_cost(pool: &PgPool, email: &str, iterations: u32) -> Result<String, AppError> {
    let (id, org, role): (Uuid, Uuid, String) = sqlx::query_as(
        "select u.id, p.organization_id, m.role from auth.users u
         join public.profiles p on p.id = u.id
         join public.memberships m on m.user_id = u.id and m.organization_id = p.organization_id
         where u.email = $1",
    )
    .bind(email)
    .fetch_one(pool)
    .await?;
    let user = SessionUser {
        id,
        email: email.to_owned(),
        full_name: String::new(),
        organization_id: Some(org),
        organization_name: None,
        role: Some(role),
        organizations: 1,
    };
    let auth = Authenticated {
        user,
        session_id: Uuid::nil(),
        expires_at: chrono::Utc::now(),
    };
    let store = OrgStore::for_user(pool.clone(), auth, None);
    let mut as_user = Vec::new();
    let mut as_owner = Vec::new();
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let seen = store.dashboard().await?;
        as_user.push(started.elapsed().as_secs_f64() * 1000.0);

        let started = Instant::now();
        let mut tx = pool.begin().await?;
        let record: DashboardRecord = sqlx::query_as("select * from public.dashboard($1)")
            .bind(org)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let owner_sees = Dashboard::from(record);
        as_owner.push(started.elapsed().as_secs_f64() * 1000.0);
        if seen != owner_sees {
            return Err(AppError::internal(
                "rls-bench",
                "RLS and owner dashboards differ",
            ));
        }
    }
    let (user_ms, owner_ms) = (p50(as_user), p50(as_owner));
    Ok(format!(
        "under RLS p50 {user_ms:.3} ms, as owner p50 {owner_ms:.3} ms, ratio {:.2}x",
        user_ms / owner_ms.max(0.001)
    ))
}
