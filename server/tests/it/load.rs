//! A bounded load run (loopback only; it stops by itself): signed-in traffic on the
//! dashboard, calls and session API, plus a stream of failed sign-ins. Zero 5xx, and the
//! process's memory stays bounded. `SWITCHBOARD_LOAD_SECONDS` sets the length (default 5;
//! the benchmark runs it longer).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::TestApp;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_signed_in_load_and_a_sign_in_flood_cause_no_5xx() {
    let seconds: u64 = std::env::var("SWITCHBOARD_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .clamp(1, 600);
    let app = TestApp::spawn_with(&["--password-hash-concurrency", "2"]).await;
    let report = app.seed(1, 500, 3).await;
    let client = app
        .signed_in(&report.first_email, switchboard::seed::DEMO_PASSWORD)
        .await;

    let ok = Arc::new(AtomicU64::new(0));
    let server_errors = Arc::new(AtomicU64::new(0));
    let flood_refused = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let rss_before = rss_kib();

    let mut tasks = Vec::new();
    for worker in 0..16 {
        let client = client.clone();
        let base = app.base.clone();
        let (ok, server_errors) = (ok.clone(), server_errors.clone());
        tasks.push(tokio::spawn(async move {
            let paths = [
                "/dashboard",
                "/calls",
                "/api/auth/session",
                "/calls?status=missed",
            ];
            let mut i = worker;
            while Instant::now() < deadline {
                let path = paths[i % paths.len()];
                i += 1;
                match client.get(format!("{base}{path}")).send().await {
                    Ok(response) if response.status().is_server_error() => {
                        server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(response) => {
                        let _ = response.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        eprintln!("load: {path} failed: {error}");
                        server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for worker in 0..4 {
        let base = app.base.clone();
        let (server_errors, flood_refused) = (server_errors.clone(), flood_refused.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client");
            let mut i = 0;
            while Instant::now() < deadline {
                i += 1;
                let email = format!("flood{worker}-{i}@example.com");
                let response = client
                    .post(format!("{base}/auth/signin"))
                    .header("Origin", &base)
                    .header("Accept", "application/json")
                    .form(&[("email", email.as_str()), ("password", "not the password")])
                    .send()
                    .await;
                match response.map(|r| r.status().as_u16()) {
                    Ok(400) | Ok(429) | Ok(503) => {
                        flood_refused.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        eprintln!("load: sign-in answered {other:?}");
                        server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // Memory after the first half (allocator arenas, caches and pools warmed up) against
    // the end: bounded means it stops growing.
    tokio::time::sleep(Duration::from_secs(seconds) / 2).await;
    let rss_half = rss_kib();
    for task in tasks {
        task.await.expect("load task");
    }
    let rss_after = rss_kib();
    let (ok, errors, refused) = (
        ok.load(Ordering::Relaxed),
        server_errors.load(Ordering::Relaxed),
        flood_refused.load(Ordering::Relaxed),
    );
    println!("load: {seconds} s, {ok} signed-in responses, {refused} refused sign-ins, {errors} server errors, RSS {rss_before} -> {rss_half} -> {rss_after} KiB");
    assert_eq!(errors, 0, "no 5xx and no failed connection");
    assert!(
        ok > 0 && refused > 0,
        "both kinds of traffic ran: {ok} / {refused}"
    );
    // Growth must slow down (allocator arenas and caches fill once), not keep its pace as a
    // leak would, and stay far below the machine's memory.
    let first = rss_half.saturating_sub(rss_before);
    let second = rss_after.saturating_sub(rss_half);
    assert!(
        second * 4 <= first * 3 + 16 * 1024,
        "memory kept growing: {rss_before} -> {rss_half} -> {rss_after} KiB"
    );
    assert!(rss_after < 1024 * 1024, "over 1 GiB: {rss_after} KiB");
}
