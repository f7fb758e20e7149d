//! Accounts and sessions against a real server and a real PostgreSQL: sign-up,
//! confirmation, sign-in, sign-out, throttling, reset, guards and the server-function
//! allow-list.

use crate::common::TestApp;
use reqwest::StatusCode;

const PASSWORD: &str = "correct horse battery";

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn error_text(response: reqwest::Response) -> String {
    response.text().await.unwrap_or_default()
}

#[tokio::test]
async fn sign_up_confirm_sign_in_session_and_sign_out() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let response = app
        .call(
            &client,
            "/auth/signup",
            &[
                ("email", "  Ada@Example.COM "),
                ("password", PASSWORD),
                ("full_name", "Ada Lovelace"),
                ("organization", "Analytical Engines"),
            ],
        )
        .await;
    assert!(
        response.status().is_success() || response.status().is_redirection(),
        "{}",
        response.status()
    );

    // One user, one organization, one profile and an owner membership, made together.
    let (email, hash, org, role, full_name): (String, String, String, String, String) =
        sqlx::query_as(
            "select u.email::text, u.encrypted_password::text, o.name, m.role, p.full_name
         from auth.users u join public.profiles p on p.id = u.id
         join public.organizations o on o.id = p.organization_id
         join public.memberships m on m.user_id = u.id and m.organization_id = o.id",
        )
        .fetch_one(&app.pool)
        .await
        .expect("account rows");
    assert_eq!(email, "ada@example.com");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(
        (org.as_str(), role.as_str(), full_name.as_str()),
        ("Analytical Engines", "owner", "Ada Lovelace")
    );

    // Unconfirmed: cannot sign in, and is told so.
    let response = app
        .call(
            &client,
            "/auth/signin",
            &[("email", "ada@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(error_text(response).await.contains("Unconfirmed"));
    assert_eq!(app.session_json(&client).await, serde_json::json!({}));

    let token = app.mailed_token("ada@example.com").await;
    let response = app
        .call(&client, "/auth/confirm", &[("token", &token)])
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    // Single use.
    let response = app
        .call(&client, "/auth/confirm", &[("token", &token)])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = app
        .call(
            &client,
            "/auth/signin",
            &[
                ("email", "ADA@example.com "),
                ("password", PASSWORD),
                ("next", "/settings/account"),
            ],
        )
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.starts_with("switchboard_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Path=/"),
        "{cookie}"
    );

    let session = app.session_json(&client).await;
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(session["user"]["organization_name"], "Analytical Engines");
    assert_eq!(session["user"]["role"], "owner");
    assert_eq!(session["user"]["full_name"], "Ada Lovelace");
    assert!(session["expires"]
        .as_str()
        .is_some_and(|s| s.ends_with('Z')));
    // Signing in records when (in the same statement as the session's row).
    let (signed_in, sessions): (bool, i64) = sqlx::query_as(
        "select u.last_sign_in_at > now() - interval '1 minute',
                (select count(*) from app_private.user_sessions s where s.user_id = u.id)
         from auth.users u where u.email = 'ada@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("the user");
    assert!(signed_in);
    assert_eq!(sessions, 1);

    let dashboard = client
        .get(app.url("/dashboard"))
        .send()
        .await
        .expect("dashboard");
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert_eq!(
        dashboard
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body = dashboard.text().await.expect("body");
    assert!(body.contains("ada@example.com") && body.contains("Analytical Engines"));

    let response = app.call(&client, "/auth/signout", &[]).await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    assert_eq!(app.session_json(&client).await, serde_json::json!({}));
}

#[tokio::test]
async fn replaying_the_cookie_after_sign_out_is_anonymous() {
    let app = TestApp::spawn().await;
    app.register("replay@example.com", PASSWORD, "Replay").await;
    let client = app.client();
    let response = app
        .call(
            &client,
            "/auth/signin",
            &[("email", "replay@example.com"), ("password", PASSWORD)],
        )
        .await;
    let cookie = crate::common::session_cookie(&response);

    // A request of that session still in flight while it signs out.
    let in_flight = {
        let url = app.url("/dashboard");
        let cookie = cookie.clone();
        tokio::spawn(async move {
            reqwest::Client::new()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .map(|r| r.status())
        })
    };
    let response = app.call(&client, "/auth/signout", &[]).await;
    assert!(!response.status().is_client_error());
    let _ = in_flight.await;

    for _ in 0..2 {
        let replay = app.client();
        let body: serde_json::Value = replay
            .get(app.url("/api/auth/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("replay")
            .json()
            .await
            .expect("json");
        assert_eq!(body, serde_json::json!({}));
        let page = replay
            .get(app.url("/dashboard"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("page");
        assert_eq!(page.status(), StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn the_session_id_is_rotated_at_sign_in() {
    let app = TestApp::spawn().await;
    app.register("first@example.com", PASSWORD, "One").await;
    app.register("second@example.com", PASSWORD, "Two").await;
    let client = app.client();
    let first = app
        .call(
            &client,
            "/auth/signin",
            &[("email", "first@example.com"), ("password", PASSWORD)],
        )
        .await;
    let planted = crate::common::session_cookie(&first);

    // The same browser (carrying the planted cookie) signs in as someone else.
    let second = app
        .call(
            &client,
            "/auth/signin",
            &[("email", "second@example.com"), ("password", PASSWORD)],
        )
        .await;
    let rotated = crate::common::session_cookie(&second);
    assert_ne!(planted, rotated, "a new session ID is issued at sign-in");
    assert_eq!(
        app.session_json(&client).await["user"]["email"],
        "second@example.com"
    );

    // The old ID is worthless now.
    assert_eq!(app.session_of_cookie(&planted).await, serde_json::json!({}));
}

#[tokio::test]
async fn a_planted_session_id_that_names_no_record_is_never_adopted() {
    let app = TestApp::spawn().await;
    app.register("first@example.com", PASSWORD, "One").await;
    // A well-formed ID an attacker made up and set in the victim's browser beforehand.
    let planted = format!(
        "switchboard_session={}",
        tower_sessions::session::Id::default()
    );
    let response = app
        .client()
        .post(app.url("/auth/signin"))
        .header("Accept", "application/json")
        .header("Origin", &app.base)
        .header("cookie", &planted)
        .form(&[("email", "first@example.com"), ("password", PASSWORD)])
        .send()
        .await
        .expect("sign in");
    assert!(response.status().is_success(), "{}", response.status());
    let issued = crate::common::session_cookie(&response);
    assert_ne!(
        planted, issued,
        "the session gets an ID of the server's own"
    );
    assert_eq!(
        app.session_of_cookie(&issued).await["user"]["email"],
        "first@example.com"
    );
    assert_eq!(app.session_of_cookie(&planted).await, serde_json::json!({}));
}

#[tokio::test]
async fn fifty_concurrent_sign_ups_of_one_address_make_one_account_and_no_5xx() {
    let app = TestApp::spawn_with(&["--password-hash-concurrency", "4"]).await;
    let calls = (0..50).map(|i| {
        let app = &app;
        async move {
            let client = app.client();
            let org = format!("Org {i}");
            app.call(
                &client,
                "/auth/signup",
                &[
                    ("email", "race@example.com"),
                    ("password", PASSWORD),
                    ("full_name", ""),
                    ("organization", &org),
                ],
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(
        statuses.iter().all(|s| !s.is_server_error()),
        "{statuses:?}"
    );
    let users: i64 = sqlx::query_scalar(
        "select count(*) from auth.users where lower(email) = 'race@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(users, 1);
    let orgs: i64 = sqlx::query_scalar("select count(*) from public.organizations")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(orgs, 1, "losers leave no organization behind");
}

#[tokio::test]
async fn an_existing_address_gets_the_same_answer_as_a_new_one() {
    let app = TestApp::spawn().await;
    app.register("taken@example.com", PASSWORD, "Taken").await;
    let fresh = app
        .post_form(
            &app.client(),
            "/auth/signup",
            "/auth/signup",
            &[
                ("email", "new@example.com"),
                ("password", PASSWORD),
                ("full_name", ""),
                ("organization", "New"),
            ],
        )
        .await;
    let taken = app
        .post_form(
            &app.client(),
            "/auth/signup",
            "/auth/signup",
            &[
                ("email", "taken@example.com"),
                ("password", PASSWORD),
                ("full_name", ""),
                ("organization", "Other"),
            ],
        )
        .await;
    assert_eq!(fresh.status(), taken.status());
    assert_eq!(location(&fresh), location(&taken));
    assert_eq!(location(&fresh), "/auth/signin?notice=check-email");
    // The owner of the taken address hears about the attempt.
    let (subject, _) = app.last_mail("taken@example.com").await.expect("mail");
    assert_eq!(subject, "Your Switchboard account");
}

#[tokio::test]
async fn password_rules_are_enforced_with_clear_errors() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let cases = [
        ("short pass", "at least 12"),
        (&*"x".repeat(129), "at most 128"),
        ("rules@example.com", "must not be your email"),
        ("1qaz2wsx3edc", "too common"),
    ];
    for (password, message) in cases {
        let response = app
            .call(
                &client,
                "/auth/signup",
                &[
                    ("email", "rules@example.com"),
                    ("password", password),
                    ("full_name", ""),
                    ("organization", "Rules"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{password}");
        let text = error_text(response).await;
        assert!(text.contains(message), "{password}: {text}");
    }
    // 128 characters is accepted whole.
    let long = "a long passphrase ".repeat(8)[..128].to_owned();
    let response = app
        .call(
            &client,
            "/auth/signup",
            &[
                ("email", "rules@example.com"),
                ("password", &long),
                ("full_name", ""),
                ("organization", "Rules"),
            ],
        )
        .await;
    assert!(
        !response.status().is_client_error() && !response.status().is_server_error(),
        "{}",
        response.status()
    );
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 1);
}

#[tokio::test]
async fn resend_is_quiet_about_unknown_addresses_and_rate_limited() {
    let app = TestApp::spawn().await;
    let client = app.client();
    app.call(
        &client,
        "/auth/signup",
        &[
            ("email", "slow@example.com"),
            ("password", PASSWORD),
            ("full_name", ""),
            ("organization", "Slow"),
        ],
    )
    .await;
    assert_eq!(app.mail_count("slow@example.com").await, 1);
    let known = app
        .post_form(
            &client,
            "/auth/resend",
            "/auth/signin",
            &[("email", "slow@example.com")],
        )
        .await;
    let unknown = app
        .post_form(
            &client,
            "/auth/resend",
            "/auth/signin",
            &[("email", "nobody@example.com")],
        )
        .await;
    assert_eq!(
        (known.status(), location(&known)),
        (unknown.status(), location(&unknown))
    );
    assert_eq!(app.mail_count("slow@example.com").await, 2);
    assert_eq!(app.mail_count("nobody@example.com").await, 0);
    // Per address at most 3 an hour, silently.
    for _ in 0..4 {
        app.call(&client, "/auth/resend", &[("email", "slow@example.com")])
            .await;
    }
    assert_eq!(app.mail_count("slow@example.com").await, 4);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_with_retry_after() {
    let app = TestApp::spawn().await;
    app.register("locked@example.com", PASSWORD, "Locked").await;
    let client = app.client();
    for attempt in 0..10 {
        let response = app
            .call(
                &client,
                "/auth/signin",
                &[
                    ("email", "locked@example.com"),
                    ("password", "wrong password!"),
                ],
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "attempt {attempt}"
        );
        assert!(error_text(response)
            .await
            .contains("Incorrect email or password."));
    }
    let response = app
        .call(
            &client,
            "/auth/signin",
            &[("email", "locked@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=900).contains(&retry), "{retry}");
    let error: app::errors::AppError = response.json().await.expect("an AppError");
    assert!(error.to_string().contains("Too many attempts"), "{error}");

    // The window is 15 minutes: once it has passed, the owner gets in.
    sqlx::query("update app_private.rate_limits set window_start = now() - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .expect("age the window");
    let response = app
        .call(
            &client,
            "/auth/signin",
            &[("email", "locked@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_client_ip() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for i in 0..50 {
        let email = format!("guess{i}@example.com");
        let response = app
            .call(
                &client,
                "/auth/signin",
                &[("email", &email), ("password", "wrong password!")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let response = app
        .call(
            &client,
            "/auth/signin",
            &[
                ("email", "another@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let key: String =
        sqlx::query_scalar("select key from app_private.rate_limits where key like 'signin:ip:%'")
            .fetch_one(&app.pool)
            .await
            .expect("a per-IP counter in PostgreSQL");
    assert_eq!(key, "signin:ip:127.0.0.1");
}

/// A sign-in reads its throttle windows and its account in one statement: the account,
/// matched whatever the case of the stored address; nothing for an unknown or an empty
/// address; and a refusal, with the longest wait, while any window is full, whether the
/// account exists or not.
#[tokio::test]
async fn a_sign_in_reads_its_windows_and_its_account_in_one_statement() {
    use app::auth::server::{sign_in_lookup, Limit, FIFTEEN_MINUTES};
    use app::errors::AppError;

    let app = TestApp::spawn().await;
    let id = crate::common::bare_user(&app.pool, "Lookup@Example.com").await;
    let limits = |email: &str| {
        [
            Limit::new("signin:ip:198.51.100.7", 50, FIFTEEN_MINUTES),
            Limit::new(format!("signin:acct:{email}"), 10, FIFTEEN_MINUTES),
        ]
    };
    let lookup = |email: &'static str| {
        let pool = app.pool.clone();
        async move { sign_in_lookup(&pool, &limits(email), email).await }
    };
    let refused_for = |result: Result<_, AppError>| match result {
        Err(AppError::TooManyRequests { retry_after_secs }) => retry_after_secs,
        other => panic!("expected a refusal, got {other:?}"),
    };

    assert_eq!(
        lookup("lookup@example.com").await.expect("lookup"),
        Some((id, None, false))
    );
    sqlx::query(
        "update auth.users set encrypted_password = 'stored hash', email_confirmed_at = now()
         where id = $1",
    )
    .bind(id)
    .execute(&app.pool)
    .await
    .expect("confirm");
    let confirmed = Some((id, Some("stored hash".to_owned()), true));
    assert_eq!(
        lookup("lookup@example.com").await.expect("lookup"),
        confirmed
    );
    assert_eq!(lookup("nobody@example.com").await.expect("lookup"), None);
    assert_eq!(lookup("").await.expect("lookup"), None);

    // A window of `hits` attempts, started `age` ago.
    let fill = |key: &'static str, age: &'static str, hits: i32| {
        sqlx::query(
            "insert into app_private.rate_limits (key, window_start, hits)
             values ($1, now() - $2::text::interval, $3)",
        )
        .bind(key)
        .bind(age)
        .bind(hits)
        .execute(&app.pool)
    };

    // A full window for an address with no account refuses it, and only it.
    fill("signin:acct:nobody@example.com", "5 minutes", 10)
        .await
        .expect("fill a window");
    let wait = refused_for(lookup("nobody@example.com").await);
    assert!((595..=600).contains(&wait), "{wait}");
    assert_eq!(
        lookup("lookup@example.com").await.expect("lookup"),
        confirmed
    );

    // The client's window full too: the account is refused, with the longest wait.
    fill("signin:ip:198.51.100.7", "0 seconds", 50)
        .await
        .expect("fill a window");
    let wait = refused_for(lookup("lookup@example.com").await);
    assert!((895..=900).contains(&wait), "{wait}");
    let wait = refused_for(lookup("nobody@example.com").await);
    assert!((895..=900).contains(&wait), "{wait}");

    // Once the windows have passed, nothing is refused.
    sqlx::query("update app_private.rate_limits set window_start = now() - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .expect("age the windows");
    assert_eq!(
        lookup("lookup@example.com").await.expect("lookup"),
        confirmed
    );
    assert_eq!(lookup("nobody@example.com").await.expect("lookup"), None);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_one_generic_answer() {
    let app = TestApp::spawn().await;
    app.register("known@example.com", PASSWORD, "Known").await;
    let client = app.client();
    let wrong = app
        .call(
            &client,
            "/auth/signin",
            &[
                ("email", "known@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown = app
        .call(
            &client,
            "/auth/signin",
            &[
                ("email", "unknown@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), unknown.status());
    assert_eq!(error_text(wrong).await, error_text(unknown).await);
}

#[tokio::test]
async fn password_reset_ends_every_session_and_answers_alike_for_unknown_addresses() {
    let app = TestApp::spawn().await;
    app.register("reset@example.com", PASSWORD, "Reset").await;
    let other_browser = app.signed_in("reset@example.com", PASSWORD).await;
    assert_eq!(
        app.session_json(&other_browser).await["user"]["email"],
        "reset@example.com"
    );

    let client = app.client();
    let known = app
        .post_form(
            &client,
            "/auth/forgot",
            "/auth/forgot",
            &[("email", "reset@example.com")],
        )
        .await;
    let unknown = app
        .post_form(
            &client,
            "/auth/forgot",
            "/auth/forgot",
            &[("email", "ghost@example.com")],
        )
        .await;
    assert_eq!(
        (known.status(), location(&known)),
        (unknown.status(), location(&unknown))
    );
    let token = app.mailed_token("reset@example.com").await;

    let weak = app
        .call(
            &client,
            "/auth/reset",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let new_password = "a brand new passphrase";
    let response = app
        .call(
            &client,
            "/auth/reset",
            &[("token", &token), ("password", new_password)],
        )
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    let again = app
        .call(
            &client,
            "/auth/reset",
            &[("token", &token), ("password", "yet another passphrase")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "single use");

    assert_eq!(
        app.session_json(&other_browser).await,
        serde_json::json!({}),
        "other sessions ended"
    );
    let old = app
        .call(
            &app.client(),
            "/auth/signin",
            &[("email", "reset@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status(), StatusCode::BAD_REQUEST);
    let fresh = app.signed_in("reset@example.com", new_password).await;
    assert_eq!(
        app.session_json(&fresh).await["user"]["email"],
        "reset@example.com"
    );
}

#[tokio::test]
async fn an_expired_reset_link_is_refused() {
    let app = TestApp::spawn().await;
    app.register("late@example.com", PASSWORD, "Late").await;
    app.call(
        &app.client(),
        "/auth/forgot",
        &[("email", "late@example.com")],
    )
    .await;
    let token = app.mailed_token("late@example.com").await;
    sqlx::query("update app_private.email_tokens set expires_at = now() - interval '1 second' where purpose = 'reset'")
        .execute(&app.pool)
        .await
        .expect("expire");
    let response = app
        .call(
            &app.client(),
            "/auth/reset",
            &[("token", &token), ("password", "a brand new passphrase")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_only() {
    let app = TestApp::spawn().await;
    app.register("change@example.com", PASSWORD, "Change").await;
    let here = app.signed_in("change@example.com", PASSWORD).await;
    let elsewhere = app.signed_in("change@example.com", PASSWORD).await;
    let wrong = app
        .call(
            &here,
            "/api/account/change_password",
            &[
                ("current_password", "not it at all"),
                ("password", "another good passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let response = app
        .call(
            &here,
            "/api/account/change_password",
            &[
                ("current_password", PASSWORD),
                ("password", "another good passphrase"),
            ],
        )
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    assert_eq!(
        app.session_json(&here).await["user"]["email"],
        "change@example.com"
    );
    assert_eq!(app.session_json(&elsewhere).await, serde_json::json!({}));
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() {
    let app = TestApp::spawn().await;
    app.register("many@example.com", PASSWORD, "Many").await;
    let here = app.signed_in("many@example.com", PASSWORD).await;
    let phone = app.signed_in("many@example.com", PASSWORD).await;
    let laptop = app.signed_in("many@example.com", PASSWORD).await;
    let list: serde_json::Value = app
        .call(&here, "/api/account/sessions", &[])
        .await
        .json()
        .await
        .expect("json");
    let list = list.as_array().expect("array").clone();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list
        .iter()
        .all(|s| s["ip"] == "127.0.0.1" && s["device"] == "Chrome on Linux"));

    let phone_id = {
        let theirs: serde_json::Value = app
            .call(&phone, "/api/account/sessions", &[])
            .await
            .json()
            .await
            .expect("json");
        theirs
            .as_array()
            .and_then(|l| l.iter().find(|s| s["current"] == true).cloned())
            .expect("current")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let response = app
        .call(&here, "/api/account/revoke_session", &[("id", &phone_id)])
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    assert_eq!(app.session_json(&phone).await, serde_json::json!({}));
    assert_eq!(
        app.session_json(&laptop).await["user"]["email"],
        "many@example.com"
    );

    // Someone else's session id is not theirs to revoke.
    app.register("intruder@example.com", PASSWORD, "Intruder")
        .await;
    let intruder = app.signed_in("intruder@example.com", PASSWORD).await;
    let laptop_id: String = sqlx::query_scalar(
        "select s.id::text from app_private.user_sessions s join auth.users u on u.id = s.user_id
         where u.email = 'many@example.com' order by s.created_at desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("id");
    app.call(
        &intruder,
        "/api/account/revoke_session",
        &[("id", &laptop_id)],
    )
    .await;
    assert_eq!(
        app.session_json(&laptop).await["user"]["email"],
        "many@example.com"
    );

    app.call(&here, "/api/account/revoke_other_sessions", &[])
        .await;
    assert_eq!(app.session_json(&laptop).await, serde_json::json!({}));
    assert_eq!(
        app.session_json(&here).await["user"]["email"],
        "many@example.com"
    );
}

#[tokio::test]
async fn idle_and_absolute_limits_end_sessions() {
    let app = TestApp::spawn().await;
    app.register("idle@example.com", PASSWORD, "Idle").await;
    let idle = app.signed_in("idle@example.com", PASSWORD).await;
    let old = app.signed_in("idle@example.com", PASSWORD).await;
    let ids: Vec<(String,)> =
        sqlx::query_as("select id::text from app_private.user_sessions order by created_at")
            .fetch_all(&app.pool)
            .await
            .expect("ids");
    sqlx::query("update app_private.user_sessions set last_seen_at = now() - interval '12 hours 1 minute' where id = $1::uuid")
        .bind(&ids[0].0)
        .execute(&app.pool)
        .await
        .expect("idle");
    sqlx::query("update app_private.user_sessions set expires_at = now() - interval '1 second' where id = $1::uuid")
        .bind(&ids[1].0)
        .execute(&app.pool)
        .await
        .expect("expire");
    assert_eq!(app.session_json(&idle).await, serde_json::json!({}));
    assert_eq!(app.session_json(&old).await, serde_json::json!({}));
}

#[tokio::test]
async fn reading_a_session_counts_as_activity() {
    let app = TestApp::spawn().await;
    app.register("active@example.com", PASSWORD, "Active").await;
    let client = app.signed_in("active@example.com", PASSWORD).await;
    sqlx::query("update app_private.user_sessions set last_seen_at = now() - interval '11 hours'")
        .execute(&app.pool)
        .await
        .expect("age");
    assert_eq!(
        app.session_json(&client).await["user"]["email"],
        "active@example.com"
    );
    let recent: bool = sqlx::query_scalar(
        "select last_seen_at > now() - interval '1 minute' from app_private.user_sessions",
    )
    .fetch_one(&app.pool)
    .await
    .expect("seen");
    assert!(recent);
}

#[tokio::test]
async fn a_bcrypt_hash_from_supabase_signs_in_and_is_upgraded_to_argon2id() {
    let app = TestApp::spawn().await;
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
    sqlx::query(
        "insert into auth.users (email, encrypted_password, email_confirmed_at) values ('legacy@example.com', $1, now())",
    )
    .bind(&hash)
    .execute(&app.pool)
    .await
    .expect("legacy user");
    let wrong = app
        .call(
            &app.client(),
            "/auth/signin",
            &[
                ("email", "legacy@example.com"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let client = app.signed_in("legacy@example.com", PASSWORD).await;
    assert_eq!(
        app.session_json(&client).await["user"]["email"],
        "legacy@example.com"
    );
    let stored: String = sqlx::query_scalar(
        "select encrypted_password::text from auth.users where email = 'legacy@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("hash");
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    app.signed_in("legacy@example.com", PASSWORD).await;
}

#[tokio::test]
async fn guards_redirect_anonymous_pages_and_signed_in_auth_pages() {
    let app = TestApp::spawn().await;
    let anonymous = app.client();
    for path in [
        "/dashboard",
        "/settings/account",
        "/settings/sessions",
        "/agents",
        "/calls/123?x=1",
    ] {
        let response = anonymous.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        let target = location(&response);
        assert!(
            target.starts_with("/auth/signin?next=%2F")
                || target.starts_with("/auth/signin?next=/"),
            "{target}"
        );
        let body = response.text().await.expect("body");
        assert!(body.is_empty(), "nothing of the page is sent: {body}");
    }
    app.register("guard@example.com", PASSWORD, "Guarded").await;
    let client = app.signed_in("guard@example.com", PASSWORD).await;
    for path in ["/auth/signin", "/auth/signup"] {
        let response = client.get(app.url(path)).send().await.expect("get");
        assert_eq!(
            (response.status(), location(&response)),
            (StatusCode::SEE_OTHER, "/dashboard".to_owned()),
            "{path}"
        );
    }
    // A GET of the sign-out page changes nothing.
    let page = client
        .get(app.url("/auth/signout"))
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        app.session_json(&client).await["user"]["email"],
        "guard@example.com"
    );
}

#[tokio::test]
async fn sign_in_honours_only_same_site_next_targets() {
    let app = TestApp::spawn().await;
    app.register("next@example.com", PASSWORD, "Next").await;
    for (next, expected) in [
        ("/settings/sessions", "/settings/sessions"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example", "/dashboard"),
    ] {
        let response = app
            .post_form(
                &app.client(),
                "/auth/signin",
                "/auth/signin",
                &[
                    ("email", "next@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(location(&response), expected, "{next}");
    }
}

#[tokio::test]
async fn no_js_form_errors_redirect_back_to_the_form_with_the_error() {
    let app = TestApp::spawn().await;
    let response = app
        .post_form(
            &app.client(),
            "/auth/signin",
            "/auth/signin",
            &[
                ("email", "who@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let target = location(&response);
    assert!(
        target.contains("/auth/signin?") && target.contains("__err="),
        "{target}"
    );
    let page = app
        .client()
        .get(&target)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("Incorrect email or password."),
        "the error shows next to the form"
    );
}

#[tokio::test]
async fn every_server_function_but_the_allow_list_refuses_anonymous_callers() {
    let app = TestApp::spawn().await;
    let paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_owned())
        .collect();
    assert!(paths.len() >= 12, "{paths:?}");
    for path in &paths {
        let public = app::auth::PUBLIC_SERVER_FNS.contains(&path.as_str());
        let fetch = app.call(&app.client(), path, &[]).await;
        let form = app.post_form(&app.client(), path, "/", &[]).await;
        if public {
            assert_ne!(fetch.status(), StatusCode::UNAUTHORIZED, "{path} is public");
        } else {
            assert_eq!(
                fetch.status(),
                StatusCode::UNAUTHORIZED,
                "{path} must refuse anonymous fetches"
            );
            // Encoded as the server function's own error, so the browser's client can
            // tell "signed out" from a broken request and send the user to sign in.
            let body = fetch.text().await.expect("body");
            assert_eq!(
                serde_json::from_str::<app::errors::AppError>(&body).ok(),
                Some(app::errors::AppError::Unauthorized),
                "{path}: {body}"
            );
            assert_eq!(
                form.status(),
                StatusCode::SEE_OTHER,
                "{path} must send plain forms to sign in"
            );
            assert!(location(&form).starts_with("/auth/signin"), "{path}");
        }
    }
    // The allow-list names only functions that exist.
    for public in app::auth::PUBLIC_SERVER_FNS {
        assert!(
            paths.iter().any(|p| p == public),
            "{public} is not registered"
        );
    }
}

#[tokio::test]
async fn production_uses_host_prefixed_secure_cookies_and_hides_the_mailbox() {
    let app = TestApp::spawn_with(&[
        "--app-env",
        "production",
        "--require-email-confirmation",
        "false",
    ])
    .await;
    let client = app.client();
    let response = app
        .call(
            &client,
            "/auth/signup",
            &[
                ("email", "prod@example.com"),
                ("password", PASSWORD),
                ("full_name", ""),
                ("organization", "Prod"),
            ],
        )
        .await;
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-switchboard_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
    let mailbox = client
        .get(app.url("/dev/mailbox"))
        .send()
        .await
        .expect("get");
    assert_eq!(mailbox.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_dev_mailbox_shows_every_mail_newest_first_with_links() {
    let app = TestApp::spawn().await;
    let client = app.client();
    app.call(
        &client,
        "/auth/signup",
        &[
            ("email", "mail@example.com"),
            ("password", PASSWORD),
            ("full_name", "<b>Mallory</b>"),
            ("organization", "Mail"),
        ],
    )
    .await;
    app.call(&client, "/auth/forgot", &[("email", "mail@example.com")])
        .await;
    let page = client
        .get(app.url("/dev/mailbox"))
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("body");
    let reset = page.find("Reset your password").expect("reset mail");
    let confirm = page
        .find("Confirm your email address")
        .expect("confirm mail");
    assert!(reset < confirm, "newest first");
    assert!(page.contains(&format!("<a href=\"{}/auth/confirm?token=", app.base)));
}
