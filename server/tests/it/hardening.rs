//! Hardening: CSRF (same-origin check), security headers and CSP, body limits, hostile
//! input through every form and server function, escaping, and two instances on one
//! database.

use reqwest::StatusCode;

use crate::common::TestApp;

const PASSWORD: &str = "correct horse battery";

/// Every registered server function, with a harmless but well-formed body.
fn server_fn_paths() -> Vec<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_owned())
        .collect()
}

#[tokio::test]
async fn cross_site_posts_to_every_state_changing_endpoint_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.register("csrf@example.com", PASSWORD, "CSRF Org").await;
    let victim = app.signed_in("csrf@example.com", PASSWORD).await;
    let before: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from auth.users), (select count(*) from public.agents), (select count(*) from app_private.user_sessions)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("counts");
    for path in server_fn_paths() {
        let forged = [
            ("Origin", "https://evil.example"),
            ("Origin", "null"),
            ("Sec-Fetch-Site", "cross-site"),
            ("Referer", "https://evil.example/page"),
        ];
        for (name, value) in forged {
            for accept in ["text/html", "application/json"] {
                let response = victim
                    .post(app.url(&path))
                    .header(name, value)
                    .header("Accept", accept)
                    .form(&[
                        ("name", "Forged"),
                        ("email", "forged@example.com"),
                        ("password", PASSWORD),
                        ("organization", "Forged"),
                    ])
                    .send()
                    .await
                    .expect("post");
                assert_eq!(
                    response.status(),
                    StatusCode::FORBIDDEN,
                    "{path} with {name}: {value}"
                );
            }
        }
        // No Origin, no Sec-Fetch-Site, no Referer: not provably same-origin either.
        let bare = victim
            .post(app.url(&path))
            .form(&[("x", "y")])
            .send()
            .await
            .expect("post");
        assert_eq!(
            bare.status(),
            StatusCode::FORBIDDEN,
            "{path} without any origin header"
        );
    }
    let after: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from auth.users), (select count(*) from public.agents), (select count(*) from app_private.user_sessions)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("counts");
    assert_eq!(before, after, "nothing changed");
    assert_eq!(
        app.session_json(&victim).await["user"]["email"],
        "csrf@example.com"
    );

    // Same-origin requests work, by Origin or by Sec-Fetch-Site (and with a same-origin Referer).
    let by_fetch_site = victim
        .post(app.url("/api/org/create_agent"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("name", "Kept"),
            ("greeting", ""),
            ("instructions", ""),
            ("voice", "alloy"),
            ("language", "en-US"),
            ("phone_number", ""),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(by_fetch_site.status(), StatusCode::OK);
    let by_referer = victim
        .post(app.url("/api/org/agents"))
        .header("Referer", app.url("/agents"))
        .send()
        .await
        .expect("post");
    assert_eq!(by_referer.status(), StatusCode::OK);
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_nonce_csp_that_matches_their_scripts() {
    let app = TestApp::spawn().await;
    let response = app.client().get(app.url("/")).send().await.expect("page");
    let headers = response.headers().clone();
    let body = response.text().await.expect("body");
    assert_eq!(
        headers
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    assert_eq!(
        headers.get("referrer-policy").and_then(|v| v.to_str().ok()),
        Some("strict-origin-when-cross-origin")
    );
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("CSP")
        .to_owned();
    for part in [
        "script-src 'self' 'nonce-",
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline"));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("nonce");
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "the bootstrap script carries the header's nonce"
    );
    assert!(
        !body.contains(" onclick=") && !body.contains(" onload="),
        "no inline event handlers"
    );
    // A new nonce per response.
    let again = app.client().get(app.url("/")).send().await.expect("page");
    let csp2 = again
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_ne!(csp, csp2);
    // Non-page responses get the strict default policy.
    let health = app
        .client()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert!(health.headers().get("content-security-policy").is_some());
    assert!(
        health.headers().get("strict-transport-security").is_none(),
        "HSTS only in production"
    );
}

/// The nonce of a response's Content-Security-Policy, if it has one.
fn csp_nonce(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let csp = headers.get("content-security-policy")?.to_str().ok()?;
    Some(csp.split("'nonce-").nth(1)?.split('\'').next()?.to_owned())
}

/// Pages rendered while static files are served on the same thread keep their own
/// headers. (Leptos leaves a rendering page's owner as the thread's current one while the
/// page waits for data; the static-file handler used to adopt it and carry off the page's
/// headers, its nonce CSP among them. See `switchboard::request_owner`.) The test's
/// runtime has one thread, so every request here is polled on it, interleaved.
#[tokio::test]
async fn pages_and_static_files_served_at_once_keep_their_own_headers() {
    let site = tempfile::tempdir().expect("site dir");
    std::fs::create_dir_all(site.path().join("pkg")).expect("pkg dir");
    std::fs::write(
        site.path().join("pkg/switchboard.css"),
        "body { margin: 0 }",
    )
    .expect("css");
    let app = TestApp::spawn_serving(site.path().to_str().expect("utf-8 path")).await;
    let client = app.client();
    let pages = (0..16).map(|_| async {
        let response = client
            .get(app.url("/auth/signin"))
            .send()
            .await
            .expect("page");
        let nonce = csp_nonce(response.headers());
        (
            response.status(),
            nonce,
            response.text().await.expect("page body"),
        )
    });
    let files = (0..64).map(|_| async {
        let response = client
            .get(app.url("/pkg/switchboard.css"))
            .send()
            .await
            .expect("file");
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status(), csp)
    });
    let (pages, files) = futures::join!(
        futures::future::join_all(pages),
        futures::future::join_all(files)
    );
    for (status, nonce, body) in pages {
        assert_eq!(status, StatusCode::OK);
        let nonce = nonce.expect("every page keeps its nonce CSP");
        assert!(
            body.contains(&format!("nonce=\"{nonce}\"")),
            "and it matches its scripts"
        );
    }
    for (status, csp) in files {
        assert_eq!(status, StatusCode::OK);
        let csp = csp.expect("a static file has a CSP");
        assert!(
            !csp.contains("nonce-"),
            "a static file took a page's policy: {csp}"
        );
    }
}

#[tokio::test]
async fn production_sends_hsts() {
    let app = TestApp::spawn_with(&[
        "--app-env",
        "production",
        "--require-email-confirmation",
        "false",
    ])
    .await;
    let response = app.client().get(app.url("/")).send().await.expect("page");
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_some());
}

#[tokio::test]
async fn an_oversized_body_is_413_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(1024 * 1024 + 1);
    let response = app
        .call(
            &app.client(),
            "/auth/signup",
            &[
                ("email", "big@example.com"),
                ("password", PASSWORD),
                ("full_name", &huge),
                ("organization", "Big"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(users, 0);
}

fn hostile_strings() -> Vec<String> {
    let mut strings: Vec<String> = [
        "'; drop table auth.users; --",
        "\" or 1=1 --",
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "javascript:alert(1)",
        "\0",
        "nul\0inside",
        "%00",
        "../../../../etc/passwd",
        "${jndi:ldap://x}",
        "{{7*7}}",
        "😀🎉 émoji",
        "\u{202e}rtl",
        "a\r\nSet-Cookie: pwned=1",
        "",
        " ",
        "00000000-0000-0000-0000-000000000000",
        "not-a-uuid",
        "1e309",
        "-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    strings.push("a".repeat(300));
    strings.push(format!("{}@example.com", "a".repeat(300)));
    strings
}

fn leaks(body: &str) -> Option<&'static str> {
    [
        "SQLSTATE",
        "sqlx",
        "syntax error",
        "duplicate key",
        "violates",
        "/work/",
        "/root/",
        "panicked",
        "stack backtrace",
        "pg_",
        "relation \"",
    ]
    .into_iter()
    .find(|needle| body.contains(needle))
}

#[tokio::test]
async fn hostile_input_through_every_server_function_gets_4xx_never_5xx_or_leaks() {
    let app = TestApp::spawn().await;
    app.register("hostile@example.com", PASSWORD, "Hostile Org")
        .await;
    let signed_in = app.signed_in("hostile@example.com", PASSWORD).await;
    let anonymous = app.client();
    let field_names = [
        "email",
        "password",
        "full_name",
        "organization",
        "name",
        "greeting",
        "instructions",
        "voice",
        "language",
        "phone_number",
        "id",
        "status",
        "confirm",
        "token",
        "current_password",
        "next",
        "q",
        "cursor",
        "filter[agent]",
        "filter[from]",
        "filter[status]",
    ];
    let mut cases = 0;
    for path in server_fn_paths() {
        if path == "/auth/signout" {
            continue; // ends the session the other cases use
        }
        for value in hostile_strings() {
            let form: Vec<(&str, &str)> =
                field_names.iter().map(|n| (*n, value.as_str())).collect();
            for client in [&signed_in, &anonymous] {
                let response = app.call(client, &path, &form).await;
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                assert!(
                    !status.is_server_error(),
                    "{path} with {value:?}: {status} {body}"
                );
                if let Some(leak) = leaks(&body) {
                    panic!("{path} with {value:?} leaks {leak}: {body}");
                }
                assert!(
                    !body.contains("<script>alert(1)</script>"),
                    "{path} reflects markup unescaped"
                );
                cases += 1;
            }
        }
        // Duplicated parameters.
        let response = signed_in
            .post(app.url(&path))
            .header("Origin", &app.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("id=1&id=2&email=a@b.co&email=c@d.co&name=x&name=y")
            .send()
            .await
            .expect("post");
        assert!(
            !response.status().is_server_error(),
            "{path} with duplicated parameters: {}",
            response.status()
        );
        // Invalid UTF-8.
        let response = signed_in
            .post(app.url(&path))
            .header("Origin", &app.base)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(vec![b'n', b'a', b'm', b'e', b'=', 0xff, 0xfe, 0xfd])
            .send()
            .await
            .expect("post");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            !status.is_server_error(),
            "{path} with invalid UTF-8: {status} {text}"
        );
        cases += 2;
    }
    assert!(cases >= 200, "{cases} cases");
    // No garbage stored: no agent, no extra user, no organization beyond the one made above.
    let (agents, users, orgs): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from public.agents), (select count(*) from auth.users), (select count(*) from public.organizations)",
    )
    .fetch_one(&app.pool)
    .await
    .expect("counts");
    assert_eq!((agents, users, orgs), (0, 1, 1));
    // Forged, truncated and malformed session cookies are simply anonymous.
    for cookie in [
        "switchboard_session=AAAAAAAAAAAAAAAAAAAAAA",
        "switchboard_session=",
        "switchboard_session=%00%ff",
        "switchboard_session=x; switchboard_session=y",
    ] {
        let response = app
            .client()
            .get(app.url("/api/auth/session"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::OK, "{cookie}");
        assert_eq!(
            response.json::<serde_json::Value>().await.expect("json"),
            serde_json::json!({})
        );
        let page = app
            .client()
            .get(app.url("/dashboard"))
            .header("cookie", cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{cookie}");
    }
    // Malformed ids in page URLs are 404s.
    for path in [
        "/agents/%27%3B--",
        "/calls/not-a-uuid",
        "/agents/00000000-0000-0000-0000-000000000000",
    ] {
        let page = signed_in.get(app.url(path)).send().await.expect("page");
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn user_provided_text_is_shown_escaped() {
    let app = TestApp::spawn().await;
    app.register("xss@example.com", PASSWORD, "<script>alert(1)</script>")
        .await;
    let client = app.signed_in("xss@example.com", PASSWORD).await;
    app.call(
        &client,
        "/api/org/create_agent",
        &[
            ("name", "<img src=x onerror=alert(1)>"),
            ("greeting", "\"><svg onload=alert(1)>"),
            ("instructions", ""),
            ("voice", "alloy"),
            ("language", "en-US"),
            ("phone_number", ""),
        ],
    )
    .await;
    for path in ["/dashboard", "/agents", "/settings/organization"] {
        let body = client
            .get(app.url(path))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body");
        assert!(!body.contains("<script>alert(1)</script>"), "{path}");
        assert!(!body.contains("<img src=x onerror"), "{path}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || path == "/agents",
            "{path} shows it as text"
        );
    }
    let agents = client
        .get(app.url("/agents"))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(agents.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[tokio::test]
async fn two_instances_share_sessions_sign_outs_and_throttling() {
    let one = TestApp::spawn().await;
    let two = one.another_instance().await;
    one.register("pair@example.com", PASSWORD, "Pair").await;
    let client = one.signed_in("pair@example.com", PASSWORD).await;
    let response = one
        .call(
            &one.client(),
            "/auth/signin",
            &[("email", "pair@example.com"), ("password", PASSWORD)],
        )
        .await;
    let cookie = crate::common::session_cookie(&response);
    let on_two: serde_json::Value = two
        .client()
        .get(two.url("/api/auth/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        on_two["user"]["email"], "pair@example.com",
        "signed in on one, signed in on the other"
    );

    // Sign out on two (same cookie): signed out on both.
    let response = two.call_with_cookie(&cookie, "/auth/signout", &[]).await;
    assert!(response.status().is_success(), "{}", response.status());
    for app in [&one, &two] {
        let body: serde_json::Value = app
            .client()
            .get(app.url("/api/auth/session"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(body, serde_json::json!({}));
    }
    assert_eq!(
        one.session_json(&client).await["user"]["email"],
        "pair@example.com",
        "other sessions unaffected"
    );

    // Failed sign-ins counted on one instance count on the other.
    for _ in 0..5 {
        one.call(
            &one.client(),
            "/auth/signin",
            &[
                ("email", "pair@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    }
    for _ in 0..5 {
        two.call(
            &two.client(),
            "/auth/signin",
            &[
                ("email", "pair@example.com"),
                ("password", "wrong password!"),
            ],
        )
        .await;
    }
    let response = one
        .call(
            &one.client(),
            "/auth/signin",
            &[("email", "pair@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// Each instance caches session records in memory; a record only points at a
/// `user_sessions` row, so what another instance did to the session still counts at once.
#[tokio::test]
async fn cached_session_records_on_another_instance_lead_nowhere_once_replaced() {
    let one = TestApp::spawn().await;
    let two = one.another_instance().await;
    one.register("cache@example.com", PASSWORD, "Cache").await;
    let sign_in = |app: &TestApp, cookie: Option<String>| {
        let mut request = app
            .client()
            .post(app.url("/auth/signin"))
            .header("Origin", &app.base)
            .header("Accept", "application/json")
            .form(&[("email", "cache@example.com"), ("password", PASSWORD)]);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let first = crate::common::session_cookie(&sign_in(&one, None).await.expect("sign in"));
    // Instance two reads (and caches) the first record.
    assert_eq!(
        two.session_of_cookie(&first).await["user"]["email"],
        "cache@example.com"
    );
    // Signing in again on the same browser replaces the session: new ID, old row gone.
    let second = crate::common::session_cookie(
        &sign_in(&one, Some(first.clone()))
            .await
            .expect("sign in again"),
    );
    assert_ne!(first, second);
    assert_eq!(two.session_of_cookie(&first).await, serde_json::json!({}));
    assert_eq!(one.session_of_cookie(&first).await, serde_json::json!({}));
    assert_eq!(
        two.session_of_cookie(&second).await["user"]["email"],
        "cache@example.com"
    );
}

#[tokio::test]
async fn a_panicking_handler_answers_a_500_page_and_the_server_keeps_serving() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .get(app.url("/dev/panic"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.text().await.expect("body");
    assert!(
        body.contains("Something went wrong") && body.contains("href=\"/\""),
        "{body}"
    );
    assert!(
        !body.contains("deliberate panic") && !body.contains("panicked"),
        "no internals"
    );
    assert_eq!(
        app.client()
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("health")
            .status(),
        StatusCode::OK
    );
    // Production has no such route.
    let prod = TestApp::spawn_with(&[
        "--app-env",
        "production",
        "--require-email-confirmation",
        "false",
    ])
    .await;
    assert_eq!(
        prod.client()
            .get(prod.url("/dev/panic"))
            .send()
            .await
            .expect("response")
            .status(),
        StatusCode::NOT_FOUND
    );
}

/// Behind a proxy named in `--trusted-proxies`, the client is the address the proxy
/// forwards: throttling and the session list see it. From anywhere else the header is the
/// client's own word and changes nothing (or a client could sign in from a new address each
/// time past the per-address limit).
#[tokio::test]
async fn x_forwarded_for_names_the_client_only_through_a_trusted_proxy() {
    // The tests' requests come from 127.0.0.1: the proxy, for the first server.
    let behind_proxy = TestApp::spawn_with(&["--trusted-proxies", "127.0.0.1/32, ::1"]).await;
    let direct = TestApp::spawn().await;
    // The client wrote 203.0.113.5 itself; the proxy appended the address it saw.
    let forwarded_for = "203.0.113.5, 198.51.100.23";
    for (app, client_ip) in [(&behind_proxy, "198.51.100.23"), (&direct, "127.0.0.1")] {
        app.register("proxied@example.com", PASSWORD, "Proxy Org")
            .await;
        let client = app.client();
        let sign_in = |password: &'static str| {
            client
                .post(app.url("/auth/signin"))
                .header("Accept", "application/json")
                .header("Origin", &app.base)
                .header("X-Forwarded-For", forwarded_for)
                .form(&[
                    ("email", "proxied@example.com"),
                    ("password", password),
                    ("next", ""),
                ])
                .send()
        };
        let refused = sign_in("not the password at all").await.expect("sign-in");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let counted: Vec<String> = sqlx::query_scalar(
            "select key from app_private.rate_limits where key like 'signin:ip:%' order by key",
        )
        .fetch_all(&app.pool)
        .await
        .expect("rate limits");
        assert_eq!(counted, [format!("signin:ip:{client_ip}")]);

        let accepted = sign_in(PASSWORD).await.expect("sign-in");
        assert!(accepted.status().is_success(), "{}", accepted.status());
        let recorded: Vec<String> = sqlx::query_scalar(
            "select s.ip from app_private.user_sessions s join auth.users u on u.id = s.user_id
             where u.email = 'proxied@example.com'",
        )
        .fetch_all(&app.pool)
        .await
        .expect("sessions");
        assert_eq!(recorded, [client_ip]);
        let page = client
            .get(app.url("/settings/sessions"))
            .send()
            .await
            .expect("sessions page");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("sessions page body");
        assert!(html.contains(&format!("<td>{client_ip}")), "{html}");
        assert!(!html.contains("203.0.113.5"));
    }
}

#[test]
fn a_trusted_proxy_that_is_not_an_address_stops_the_server_from_starting() {
    use clap::Parser;
    let parsed = switchboard::config::Cli::try_parse_from([
        "switchboard",
        "--trusted-proxies",
        "10.0.0.0/8,10.0.0.0/33",
    ]);
    let error = parsed.expect_err("a prefix past 32 bits").to_string();
    assert!(error.contains("10.0.0.0/33"), "{error}");
    assert!(error.contains("CIDR"), "{error}");
}
