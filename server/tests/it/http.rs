//! The HTTP shell: health endpoints, server-side rendering and the 404 page, through the
//! real router.

use std::time::Duration;

use crate::common::{self, TestDb};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(router: axum::Router, path: &str) -> (StatusCode, String) {
    let response = router
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn healthz_and_readyz_answer_with_a_database() {
    let (_db, pool) = TestDb::migrated().await;
    let router = switchboard::http::app(common::state(pool));
    let (status, body) = get(router.clone(), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"ok\""));
    let (status, body) = get(router, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn readyz_is_503_with_a_short_reason_when_the_database_is_unreachable() {
    // Nothing listens on a port we just freed: every connection attempt fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy(&format!("postgres://nobody@127.0.0.1:{port}/none"))
        .expect("lazy pool");
    let router = switchboard::http::app(common::state(pool));
    let (status, body) = get(router.clone(), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_str(&body).expect("json body");
    assert_eq!(json["reason"], "database unreachable");
    assert!(!body.contains("127.0.0.1") && !body.to_lowercase().contains("connection refused"));
    // Liveness does not depend on the database.
    let (status, _) = get(router, "/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_landing_page_is_rendered_on_the_server_with_hydration_scripts() {
    let (_db, pool) = TestDb::migrated().await;
    let router = switchboard::http::app(common::state(pool));
    let (status, body) = get(router, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("AI phone agents that answer every call"),
        "{body}"
    );
    assert!(body.contains("href=\"/auth/signup\"") && body.contains("href=\"/auth/signin\""));
    assert!(
        body.contains("/pkg/switchboard.js"),
        "the page loads the hydration bundle"
    );
    assert!(body.contains("hydrate"), "the page calls hydrate()");
}

#[tokio::test]
async fn an_unknown_path_is_a_404_page_of_the_app() {
    let (_db, pool) = TestDb::migrated().await;
    let router = switchboard::http::app(common::state(pool));
    let (status, body) = get(router, "/no/such/page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("Page not found"));
    assert!(body.contains("href=\"/\""), "a way back");
}
