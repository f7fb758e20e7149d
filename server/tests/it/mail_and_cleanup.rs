//! Mail over a real SMTP conversation, and the continuous deletion of expired rows.

use std::time::Duration;

use crate::common::{TestApp, TestDb};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A minimal SMTP server on loopback that accepts one message and hands back its data.
async fn smtp_sink() -> (u16, tokio::sync::oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let mut data = String::new();
        let mut in_data = false;
        let mut tx = Some(tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    let _ = write.write_all(b"250 queued\r\n").await;
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(std::mem::take(&mut data));
                    }
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            let reply: &[u8] = match verb.as_str() {
                "EHLO" | "HELO" => b"250 sink\r\n",
                "DATA" => {
                    in_data = true;
                    b"354 go ahead\r\n"
                }
                "QUIT" => {
                    let _ = write.write_all(b"221 bye\r\n").await;
                    break;
                }
                _ => b"250 ok\r\n",
            };
            let _ = write.write_all(reply).await;
        }
    });
    (port, rx)
}

#[tokio::test]
async fn with_smtp_url_the_confirmation_goes_out_over_smtp() {
    let (port, received) = smtp_sink().await;
    let url = format!("smtp://127.0.0.1:{port}");
    let app = TestApp::spawn_with(&[
        "--smtp-url",
        &url,
        "--mail-from",
        "Switchboard <hello@example.com>",
    ])
    .await;
    let response = app
        .call(
            &app.client(),
            "/auth/signup",
            &[
                ("email", "smtp@example.com"),
                ("password", "correct horse battery"),
                ("full_name", ""),
                ("organization", "Mailers"),
            ],
        )
        .await;
    assert!(
        !response.status().is_server_error(),
        "{}",
        response.status()
    );
    let message = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .expect("mail in time")
        .expect("mail");
    assert!(message.contains("To: smtp@example.com"), "{message}");
    assert!(
        message.contains("Subject: Confirm your email address"),
        "{message}"
    );
    assert!(message.contains("/auth/confirm?token="), "{message}");
    assert_eq!(
        app.mail_count("smtp@example.com").await,
        0,
        "nothing in the dev outbox"
    );
}

#[tokio::test]
async fn sign_ups_are_limited_per_client_ip() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let mut last = reqwest::StatusCode::OK;
    for i in 0..21 {
        let email = format!("flood{i}@example.com");
        last = app
            .call(
                &client,
                "/auth/signup",
                &[
                    ("email", &email),
                    ("password", "a"),
                    ("full_name", ""),
                    ("organization", "Flood"),
                ],
            )
            .await
            .status();
    }
    assert_eq!(last, reqwest::StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn expired_sessions_tokens_and_windows_are_deleted_continuously() {
    let (_db, pool) = TestDb::migrated().await;
    let user = crate::common::bare_user(&pool, "gone@example.com").await;
    sqlx::raw_sql(&format!(
        "insert into app_private.sessions values ('expired', '\\x00', now() - interval '1 minute'), ('live', '\\x00', now() + interval '1 hour');
         insert into app_private.user_sessions (user_id, expires_at) values ('{user}', now() - interval '1 minute'), ('{user}', now() + interval '1 hour');
         insert into app_private.rate_limits values ('old', now() - interval '2 days', 3), ('new', now(), 1);"
    ))
    .execute(&pool)
    .await
    .expect("rows");
    let task = switchboard::spawn_cleanup(pool.clone());
    let mut left = (0, 0, 0);
    for _ in 0..100 {
        left = sqlx::query_as(
            "select (select count(*) from app_private.sessions), (select count(*) from app_private.user_sessions),
                    (select count(*) from app_private.rate_limits)",
        )
        .fetch_one(&pool)
        .await
        .expect("counts");
        if left == (1, 1, 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    assert_eq!(left, (1_i64, 1_i64, 1_i64));
}
