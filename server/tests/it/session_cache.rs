//! Each instance reuses the sessions it resolved for a few seconds
//! (`app::auth::session_cache`); PostgreSQL's notifications make every instance forget
//! what changed, and a change made through an instance is seen by it at once. (Every
//! `TestApp` starts with its cache on: it waits for the first probe.)

use std::time::{Duration, Instant};

use crate::common::{session_cookie, TestApp};

const PASSWORD: &str = "correct horse battery";

/// Signs `email` in on `app` and returns the session cookie.
async fn cookie_of(app: &TestApp, email: &str) -> String {
    let response = app
        .call(
            &app.client(),
            "/auth/signin",
            &[("email", email), ("password", PASSWORD)],
        )
        .await;
    session_cookie(&response)
}

/// How long until `check` holds for `app`'s answer to this cookie; fails past 5 s.
async fn until(
    app: &TestApp,
    cookie: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let body = app.session_of_cookie(cookie).await;
        if check(&body) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still {body} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_session_ended_through_one_instance_ends_on_the_others_when_postgresql_notifies() {
    let one = TestApp::spawn().await;
    let two = one.another_instance().await;
    one.register("cached@example.com", PASSWORD, "Cached").await;
    let cookie = cookie_of(&one, "cached@example.com").await;
    for app in [&one, &two] {
        assert_eq!(
            app.session_of_cookie(&cookie).await["user"]["email"],
            "cached@example.com"
        );
    }
    let response = one.call_with_cookie(&cookie, "/auth/signout", &[]).await;
    assert!(response.status().is_success(), "{}", response.status());
    // The instance that signed out: at once.
    assert_eq!(one.session_of_cookie(&cookie).await, serde_json::json!({}));
    // The other: once the notification arrives.
    let took = until(&two, &cookie, |body| body == &serde_json::json!({})).await;
    println!("signed out on the other instance after {took:?}");
}

#[tokio::test]
async fn a_session_is_reused_for_at_most_its_seconds_when_no_notification_comes() {
    let one = TestApp::spawn_with(&["--session-cache-secs", "1"]).await;
    one.register("quiet@example.com", PASSWORD, "Quiet").await;
    let cookie = cookie_of(&one, "quiet@example.com").await;
    assert_eq!(
        one.session_of_cookie(&cookie).await["user"]["email"],
        "quiet@example.com"
    );
    // Removed behind the triggers' back (as a pooler that drops notifications would hide
    // them): this instance still has it, for at most a second.
    let mut conn = one.pool.acquire().await.expect("connection");
    sqlx::query("set session_replication_role = replica")
        .execute(&mut *conn)
        .await
        .expect("triggers off");
    sqlx::query(
        "delete from app_private.user_sessions
         where user_id = (select id from auth.users where email = 'quiet@example.com')",
    )
    .execute(&mut *conn)
    .await
    .expect("delete");
    sqlx::query("reset session_replication_role")
        .execute(&mut *conn)
        .await
        .expect("triggers on");
    drop(conn);
    let start = Instant::now();
    assert_eq!(
        one.session_of_cookie(&cookie).await["user"]["email"],
        "quiet@example.com",
        "reused from the cache"
    );
    let took = until(&one, &cookie, |body| body == &serde_json::json!({})).await;
    assert!(start.elapsed() <= Duration::from_millis(1500), "{took:?}");

    // With the cache off, every request reads the database.
    let off = TestApp::spawn_with(&["--session-cache-secs", "0"]).await;
    off.register("uncached@example.com", PASSWORD, "Uncached")
        .await;
    let cookie = cookie_of(&off, "uncached@example.com").await;
    assert_eq!(
        off.session_of_cookie(&cookie).await["user"]["email"],
        "uncached@example.com"
    );
    sqlx::raw_sql("set session_replication_role = replica; delete from app_private.user_sessions; reset session_replication_role")
        .execute(&off.pool)
        .await
        .expect("delete");
    assert_eq!(off.session_of_cookie(&cookie).await, serde_json::json!({}));
}

#[tokio::test]
async fn membership_and_organization_changes_reach_every_instance() {
    let one = TestApp::spawn().await;
    let two = one.another_instance().await;
    one.register("owner@example.com", PASSWORD, "Before").await;
    let cookie = cookie_of(&one, "owner@example.com").await;
    for app in [&one, &two] {
        let body = app.session_of_cookie(&cookie).await;
        assert_eq!(body["user"]["role"], "owner");
        assert_eq!(body["user"]["organization_name"], "Before");
    }

    // Renamed through instance one: seen there at once, on two when notified.
    let response = one
        .call_with_cookie(&cookie, "/api/org/rename", &[("name", "After")])
        .await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        one.session_of_cookie(&cookie).await["user"]["organization_name"],
        "After"
    );
    until(&two, &cookie, |body| {
        body["user"]["organization_name"] == "After"
    })
    .await;

    // A role changed in the database (as an administrator would): both, when notified.
    sqlx::query(
        "update public.memberships set role = 'admin'
         where user_id = (select id from auth.users where email = 'owner@example.com')",
    )
    .execute(&one.pool)
    .await
    .expect("role");
    for app in [&one, &two] {
        until(app, &cookie, |body| body["user"]["role"] == "admin").await;
    }
}
