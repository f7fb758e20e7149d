//! The dashboard's machinery: the daily rollup of calls that its triggers keep, the exact
//! 24-hour and 7-day windows it computes from that rollup plus one partial day.

use sqlx::PgPool;
use uuid::Uuid;

use crate::common::{TestApp, TestDb};

/// Rows where the rollup and a fresh aggregate of `calls` disagree (zero rows the rollup
/// keeps after deletes count as absent).
async fn rollup_differences(pool: &PgPool) -> Vec<(Uuid, chrono::NaiveDate, i32, i32, i64)> {
    sqlx::query_as(
        "with fresh as (
           select organization_id, (started_at at time zone 'utc')::date as day, count(*)::int as calls,
                  (count(*) filter (where status = 'completed'))::int as completed,
                  coalesce(sum(duration_seconds) filter (where status = 'completed'), 0)::bigint as completed_seconds
           from public.calls group by 1, 2
         ), kept as (
           select organization_id, day, calls, completed, completed_seconds from public.call_stats_daily
           where (calls, completed, completed_seconds) <> (0, 0, 0)
         )
         (select * from fresh except select * from kept)
         union all
         (select * from kept except select * from fresh)",
    )
    .fetch_all(pool)
    .await
    .expect("compare")
}

async fn organization(pool: &PgPool, name: &str) -> Uuid {
    sqlx::query_scalar("insert into public.organizations (name) values ($1) returning id")
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("organization")
}

async fn agent(pool: &PgPool, org: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar(
        "insert into public.agents (organization_id, name) values ($1, $2) returning id",
    )
    .bind(org)
    .bind(name)
    .fetch_one(pool)
    .await
    .expect("agent")
}

/// `n` calls of `org`, spread over the last `days` days, every third one missed.
async fn calls(pool: &PgPool, org: Uuid, agent: Option<Uuid>, n: i32, days: i32) {
    sqlx::query(
        "insert into public.calls (organization_id, agent_id, direction, from_number, to_number,
                                   started_at, duration_seconds, status)
         select $1, $2, 'inbound', '+14155550100', '+14155550199',
                now() - make_interval(days => $4) * (i::float8 / $3),
                case when i % 3 = 0 then 0 else 30 + i end,
                case when i % 3 = 0 then 'missed' else 'completed' end
         from generate_series(1, $3) i",
    )
    .bind(org)
    .bind(agent)
    .bind(n)
    .bind(days)
    .execute(pool)
    .await
    .expect("calls");
}

#[tokio::test]
async fn the_call_rollup_stays_exact_through_every_kind_of_write() {
    let (_db, pool) = TestDb::migrated().await;
    let (a, b) = (
        organization(&pool, "Rollup A").await,
        organization(&pool, "Rollup B").await,
    );
    let agent_a = agent(&pool, a, "Front desk").await;
    calls(&pool, a, Some(agent_a), 300, 40).await;
    calls(&pool, b, None, 120, 10).await;
    calls(&pool, a, None, 1, 0).await;
    assert_eq!(rollup_differences(&pool).await, vec![], "after inserts");
    let total: i64 = sqlx::query_scalar("select sum(calls) from public.call_stats_daily")
        .fetch_one(&pool)
        .await
        .expect("sum");
    assert_eq!(total, 421);

    let writes = [
        // Status and duration change: completed counts and seconds move.
        "update public.calls set status = 'completed', duration_seconds = 99 where status = 'missed' and duration_seconds = 0 and started_at > now() - interval '5 days'",
        // Calls move across days (and out of the window).
        "update public.calls set started_at = started_at - interval '36 hours' where duration_seconds % 5 = 0",
        // Calls move to another organization.
        "update public.calls set organization_id = (select id from public.organizations where name = 'Rollup B'), agent_id = null where duration_seconds % 7 = 0",
        "delete from public.calls where duration_seconds % 11 = 0",
        // Deleting an agent sets its calls' agent_id to null (an update through the FK).
        "delete from public.agents where name = 'Front desk'",
    ];
    for sql in writes {
        let changed = sqlx::query(sql)
            .execute(&pool)
            .await
            .expect("write")
            .rows_affected();
        assert!(changed > 0, "{sql} changed nothing");
        assert_eq!(rollup_differences(&pool).await, vec![], "after {sql}");
    }

    // An organization's deletion takes its calls and its rollup.
    sqlx::query("delete from public.organizations where id = $1")
        .bind(b)
        .execute(&pool)
        .await
        .expect("delete org");
    assert_eq!(rollup_differences(&pool).await, vec![]);
    let left: i64 = sqlx::query_scalar(
        "select count(*) from public.call_stats_daily where organization_id = $1",
    )
    .bind(b)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(left, 0);

    sqlx::query("truncate public.calls")
        .execute(&pool)
        .await
        .expect("truncate");
    let kept: i64 = sqlx::query_scalar("select count(*) from public.call_stats_daily")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(kept, 0, "truncating calls empties the rollup");
}

#[tokio::test]
async fn concurrent_inserts_for_one_day_add_up() {
    let (_db, pool) = TestDb::migrated().await;
    let org = organization(&pool, "Busy").await;
    let writers = (0..8).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                calls(&pool, org, None, 5, 0).await;
            }
        })
    });
    for writer in writers {
        writer.await.expect("writer");
    }
    assert_eq!(rollup_differences(&pool).await, vec![]);
    let total: i64 = sqlx::query_scalar("select sum(calls) from public.call_stats_daily")
        .fetch_one(&pool)
        .await
        .expect("sum");
    assert_eq!(total, 400);
}

/// The dashboard against the same figures counted call by call, with calls placed just
/// inside and just outside every boundary: 24 hours, 7 days, the first whole day of the
/// 7-day window and the 30-day chart.
#[tokio::test]
async fn the_dashboard_windows_are_exact_at_their_edges() {
    let app = TestApp::spawn().await;
    app.register("edges@example.com", "correct horse battery", "Edges")
        .await;
    let client = app
        .signed_in("edges@example.com", "correct horse battery")
        .await;
    let org: Uuid = sqlx::query_scalar(
        "select p.organization_id from public.profiles p join auth.users u on u.id = p.id where u.email = 'edges@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("org");
    sqlx::query(
        "with marks(at, status, secs) as (values
           (now() - interval '10 minutes', 'completed', 61),
           (now() - interval '24 hours' + interval '3 minutes', 'completed', 62),
           (now() - interval '24 hours' - interval '3 minutes', 'missed', 0),
           (now() - interval '7 days' + interval '3 minutes', 'completed', 63),
           (now() - interval '7 days' - interval '3 minutes', 'completed', 64),
           (date_trunc('day', now() at time zone 'utc' - interval '6 days') at time zone 'utc' + interval '3 minutes', 'completed', 65),
           (date_trunc('day', now() at time zone 'utc' - interval '6 days') at time zone 'utc' - interval '3 minutes', 'voicemail', 0),
           (now() - interval '3 days', 'failed', 0),
           (now() - interval '29 days', 'completed', 66),
           (now() - interval '31 days', 'completed', 67))
         insert into public.calls (organization_id, direction, from_number, to_number, started_at, duration_seconds, status)
         select $1, 'inbound', '+14155550100', '+14155550199', at, secs, status from marks",
    )
    .bind(org)
    .execute(&app.pool)
    .await
    .expect("calls");

    #[allow(clippy::type_complexity)]
    let (calls_24h, calls_7d, avg_7d, rate_7d, first_day, per_day): (i64, i64, f64, f64, String, serde_json::Value) =
        sqlx::query_as(
            "select count(*) filter (where started_at > now() - interval '24 hours'),
                    count(*) filter (where started_at > now() - interval '7 days'),
                    coalesce(round(avg(duration_seconds) filter (where status = 'completed' and started_at > now() - interval '7 days')), 0)::float8,
                    coalesce(round(100.0 * count(*) filter (where status = 'completed' and started_at > now() - interval '7 days')
                                   / nullif(count(*) filter (where started_at > now() - interval '7 days'), 0), 1), 0)::float8,
                    to_char((now() at time zone 'utc')::date - 29, 'YYYY-MM-DD'),
                    (select jsonb_agg((select count(*) from public.calls c where c.organization_id = $1
                                         and (c.started_at at time zone 'utc')::date = d::date) order by d)
                     from generate_series((now() at time zone 'utc')::date - 29, (now() at time zone 'utc')::date, interval '1 day') d)
             from public.calls where organization_id = $1",
        )
        .bind(org)
        .fetch_one(&app.pool)
        .await
        .expect("expected figures");

    let response = app.call(&client, "/api/org/dashboard", &[]).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let d: serde_json::Value = response.json().await.expect("json");
    assert_eq!(d["calls_24h"], calls_24h);
    assert_eq!(d["calls_7d"], calls_7d);
    assert_eq!(d["avg_duration_7d"].as_f64(), Some(avg_7d));
    assert_eq!(d["answer_rate_7d"].as_f64(), Some(rate_7d));
    assert_eq!(d["first_day"], first_day);
    assert_eq!(d["per_day"], per_day);
    assert!(
        calls_24h == 2 && calls_7d >= 6,
        "the fixture straddles the edges"
    );
    assert_eq!(d["latest"].as_array().map(Vec::len), Some(10));
}

#[tokio::test]
async fn a_user_with_quotes_and_backslashes_in_the_email_sees_the_dashboard() {
    let app = TestApp::spawn().await;
    let email = r"o'bri\en@example.com";
    app.register(email, "correct horse battery", "Quotes").await;
    let client = app.signed_in(email, "correct horse battery").await;
    let response = app.call(&client, "/api/org/dashboard", &[]).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let d: serde_json::Value = response.json().await.expect("json");
    assert_eq!(d["organization_name"], "Quotes");
}
