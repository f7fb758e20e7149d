//! The benchmark's helpers that talk to a running server (`bench/run.sh`).

use crate::common::TestApp;

/// Each pair is a real sign-in over the one connection (a session recorded for each, the
/// uncounted first one too) and a verify; a refused sign-in stops the run with an error
/// instead of timing the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_and_verifies_in_turns_over_one_connection() {
    let app = TestApp::spawn().await;
    let report = app.seed(1, 1, 1).await;
    let addr: std::net::SocketAddr = app
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("the test server's address");
    let sessions = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from app_private.user_sessions s
             join auth.users u on u.id = s.user_id where u.email = $1",
        )
        .bind(&report.first_email)
        .fetch_one(&app.pool)
        .await
        .expect("count sessions")
    };
    let before = sessions().await;

    let pairs = switchboard::benchcmd::signin_pairs(
        addr,
        &report.first_email,
        switchboard::seed::DEMO_PASSWORD,
        3,
    )
    .await
    .expect("sign-ins and verifies");
    assert_eq!(pairs.len(), 3);
    for (signin, verify) in &pairs {
        assert!(*signin > 1.0 && *verify > 1.0, "{pairs:?}");
    }
    assert_eq!(sessions().await - before, 4, "one session per sign-in");

    let refused =
        switchboard::benchcmd::signin_pairs(addr, &report.first_email, "not the demo password", 3)
            .await;
    assert!(
        refused.is_err(),
        "a wrong password must not be timed as a sign-in"
    );
}
