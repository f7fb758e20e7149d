//! A real PostgreSQL (a private cluster this test owns) stopped and started again under
//! the running app.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use switchboard::embedded::EmbeddedPostgres;

use crate::common::TestApp;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn a_database_outage_is_a_quick_503_and_the_app_recovers_without_a_restart() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pg = EmbeddedPostgres::start(dir.path()).await.expect("start");
    let port = pg.port();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .acquire_timeout(Duration::from_secs(1))
        .connect(&pg.database_url())
        .await
        .expect("pool");
    switchboard::db::migrate(&pool).await.expect("migrate");
    let app = TestApp::serve_pool(pool.clone(), &["--db-acquire-timeout-ms", "1000"]).await;
    app.register("outage@example.com", PASSWORD, "Resilient Org")
        .await;
    let client = app.signed_in("outage@example.com", PASSWORD).await;
    let sessions_before: i64 = sqlx::query_scalar("select count(*) from app_private.user_sessions")
        .fetch_one(&pool)
        .await
        .expect("count");

    pg.stop();
    drop(pg);

    let started = Instant::now();
    let page = client
        .get(app.url("/dashboard"))
        .header("Accept", "text/html")
        .send()
        .await
        .expect("page");
    let waited = started.elapsed();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        waited < Duration::from_secs(5),
        "answered within the acquire timeout, took {waited:?}"
    );
    let body = page.text().await.expect("body");
    assert!(
        body.contains("Temporarily unavailable") && body.contains("href=\"/\""),
        "a friendly page with a way back"
    );
    assert!(
        !body.contains("Resilient Org") && !body.contains("outage@example.com"),
        "nothing protected is rendered"
    );
    assert!(
        !body.contains("Connection refused") && !body.contains("sqlx"),
        "no internals"
    );

    let ready = app
        .client()
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.client()
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        StatusCode::OK
    );
    let sign_in = app
        .call(
            &app.client(),
            "/auth/signin",
            &[("email", "outage@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(sign_in.status(), StatusCode::SERVICE_UNAVAILABLE);
    let sign_up = app
        .call(
            &app.client(),
            "/auth/signup",
            &[
                ("email", "during@example.com"),
                ("password", PASSWORD),
                ("full_name", ""),
                ("organization", "Half"),
            ],
        )
        .await;
    assert!(sign_up.status().is_server_error(), "{}", sign_up.status());

    // PostgreSQL comes back (on the port it had): the same app recovers by itself.
    let pg = EmbeddedPostgres::start(dir.path()).await.expect("restart");
    assert_eq!(
        pg.port(),
        port,
        "the cluster keeps its port across restarts"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = app
            .client()
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        if ready.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the app did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = client
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("page");
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the session survived the outage"
    );
    assert!(page.text().await.expect("body").contains("Resilient Org"));
    let (sessions_after, half_made): (i64, i64) = sqlx::query_as(
        "select (select count(*) from app_private.user_sessions),
                (select count(*) from auth.users where email = 'during@example.com')",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(
        sessions_after, sessions_before,
        "no session created or lost"
    );
    assert_eq!(half_made, 0, "no half-made account");
    drop(app);
    pool.close().await;
    drop(pg);
}
