//! Measurements the benchmark suite (`bench/run.sh`) needs from inside the process: a bare
//! argon2id verify, and the dashboard's queries under RLS against the same queries run as
//! the table owner with an explicit organization filter.

use std::time::Instant;

use app::auth::server::{PasswordHasher, Verification};
use sqlx::PgPool;
use uuid::Uuid;

fn p50(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// Median milliseconds of one argon2id verify with the app's parameters (one at a time).
pub async fn argon2_p50(iterations: u32) -> Result<f64, app::errors::AppError> {
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
            return Err(app::errors::AppError::Internal);
        }
    }
    Ok(p50(samples))
}

/// "rls p50 X ms, owner p50 Y ms, ratio Z" for the dashboard's queries of `email`'s org.
pub async fn rls_cost(pool: &PgPool, email: &str, iterations: u32) -> Result<String, sqlx::Error> {
    let (user_id, org): (Uuid, Uuid) = sqlx::query_as(
        "select u.id, p.organization_id from auth.users u join public.profiles p on p.id = u.id where u.email = $1",
    )
    .bind(email)
    .fetch_one(pool)
    .await?;
    let latest = "select c.id, c.started_at, c.status, c.summary, a.name from public.calls c
                  left join public.agents a on a.id = c.agent_id
                  where c.organization_id = $1 order by c.started_at desc, c.id desc limit 10";
    let claims = serde_json::json!({ "sub": user_id, "role": "authenticated" }).to_string();
    let mut as_user = Vec::new();
    let mut as_owner = Vec::new();
    for _ in 0..iterations.max(1) {
        // Under RLS, as `authenticated` with the user's claims (what RlsTx does).
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        sqlx::query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)")
            .bind(&claims)
            .execute(&mut *tx)
            .await?;
        let _: serde_json::Value = sqlx::query_scalar("select public.dashboard_stats($1)")
            .bind(org)
            .fetch_one(&mut *tx)
            .await?;
        let _ = sqlx::query(latest).bind(org).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        as_user.push(started.elapsed().as_secs_f64() * 1000.0);

        // The same statements as the table owner (RLS bypassed), filtered by organization.
        let started = Instant::now();
        let mut tx = pool.begin().await?;
        let _: serde_json::Value = sqlx::query_scalar("select public.dashboard_stats($1)")
            .bind(org)
            .fetch_one(&mut *tx)
            .await?;
        let _ = sqlx::query(latest).bind(org).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        as_owner.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let (user_ms, owner_ms) = (p50(as_user), p50(as_owner));
    Ok(format!(
        "under RLS p50 {user_ms:.2} ms, as owner p50 {owner_ms:.2} ms, ratio {:.2}x",
        user_ms / owner_ms.max(0.001)
    ))
}
