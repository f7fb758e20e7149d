//! Organization data through the real server: IDOR attempts across organizations, roles,
//! keyset pagination and filters, the dashboard, organization switching and the seed.

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
}

async fn org_of(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("select p.organization_id from public.profiles p join auth.users u on u.id = p.id where u.email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .expect("org")
}

async fn user_id(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar("select id from auth.users where email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .expect("user")
}

/// Inserts calls as the system does (the API cannot).
async fn insert_calls(
    app: &TestApp,
    org: Uuid,
    agent: Option<Uuid>,
    n: i32,
    status: &str,
    summary: &str,
    hours_ago: i32,
) {
    sqlx::query(
        "insert into public.calls (organization_id, agent_id, direction, from_number, to_number, started_at,
                                   duration_seconds, status, summary, transcript)
         select $1, $2, case when i % 2 = 0 then 'inbound' else 'outbound' end, '+14155550100', '+14155550199',
                now() - make_interval(hours => $6) - make_interval(secs => i), 60, $4, $5,
                '[{\"speaker\": \"agent\", \"text\": \"Hello\", \"at_ms\": 0}, {\"speaker\": \"caller\", \"text\": \"Hi there\", \"at_ms\": 1500}]'::jsonb
         from generate_series(1, $3) i",
    )
    .bind(org)
    .bind(agent)
    .bind(n)
    .bind(status)
    .bind(summary)
    .bind(hours_ago)
    .execute(&app.pool)
    .await
    .expect("calls");
}

fn agent_form(name: &str) -> Vec<(&str, &str)> {
    vec![
        ("name", name),
        ("greeting", "Hello!"),
        ("instructions", "Be kind."),
        ("voice", "alloy"),
        ("language", "en-US"),
        ("phone_number", "+1 (415) 555-0123"),
    ]
}

struct Two {
    app: TestApp,
    a: reqwest::Client,
    b: reqwest::Client,
    agent_a: Uuid,
    call_a: Uuid,
    org_a: Uuid,
}

async fn two_orgs() -> Two {
    let app = TestApp::spawn().await;
    app.register("owner-a@example.com", PASSWORD, "Org A").await;
    app.register("owner-b@example.com", PASSWORD, "Org B").await;
    let a = app.signed_in("owner-a@example.com", PASSWORD).await;
    let b = app.signed_in("owner-b@example.com", PASSWORD).await;
    let created = json(
        app.call(&a, "/api/org/create_agent", &agent_form("Reception A"))
            .await,
    )
    .await;
    let agent_a: Uuid = created["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("agent id");
    assert_eq!(
        created["phone_number"], "+14155550123",
        "phone numbers are normalized"
    );
    let org_a = org_of(&app, "owner-a@example.com").await;
    insert_calls(
        &app,
        org_a,
        Some(agent_a),
        3,
        "completed",
        "Booked a secret appointment",
        1,
    )
    .await;
    let call_a: Uuid =
        sqlx::query_scalar("select id from public.calls where organization_id = $1 limit 1")
            .bind(org_a)
            .fetch_one(&app.pool)
            .await
            .expect("call");
    Two {
        app,
        a,
        b,
        agent_a,
        call_a,
        org_a,
    }
}

#[tokio::test]
async fn another_organizations_ids_change_nothing_and_reveal_nothing() {
    let t = two_orgs().await;
    let (app, b) = (&t.app, &t.b);
    let agent = t.agent_a.to_string();
    let call = t.call_a.to_string();
    let random = Uuid::new_v4().to_string();

    for id in [&agent, &random] {
        assert_eq!(
            app.call(b, "/api/org/agent", &[("id", id)]).await.status(),
            StatusCode::NOT_FOUND
        );
        let mut form = agent_form("Hijacked");
        form.push(("id", id));
        assert_eq!(
            app.call(b, "/api/org/update_agent", &form).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.call(
                b,
                "/api/org/set_agent_status",
                &[("id", id), ("status", "paused")]
            )
            .await
            .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.call(
                b,
                "/api/org/delete_agent",
                &[("id", id), ("confirm", "yes")]
            )
            .await
            .status(),
            StatusCode::NOT_FOUND
        );
    }
    for id in [&call, &random] {
        assert_eq!(
            app.call(b, "/api/org/call", &[("id", id)]).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    // Pages answer 404 for another organization's id exactly as for one that does not exist.
    for path in [format!("/agents/{agent}"), format!("/calls/{call}")] {
        let page = b.get(app.url(&path)).send().await.expect("page");
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{path}");
        let body = page.text().await.expect("body");
        assert!(
            !body.contains("Reception A") && !body.contains("secret appointment"),
            "{path} leaks"
        );
    }
    assert_eq!(
        b.get(app.url(&format!("/agents/{random}")))
            .send()
            .await
            .expect("page")
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(app.url("/agents/not-a-uuid"))
            .send()
            .await
            .expect("page")
            .status(),
        StatusCode::NOT_FOUND
    );

    // Filtering B's lists by A's agent finds nothing; B's lists never show A's rows.
    let calls = json(
        app.call(b, "/api/org/calls", &[("filter[agent]", &agent)])
            .await,
    )
    .await;
    assert_eq!(calls["calls"].as_array().map(Vec::len), Some(0));
    let agents = json(app.call(b, "/api/org/agents", &[]).await).await;
    assert_eq!(agents.as_array().map(Vec::len), Some(0));

    // Nothing of A changed.
    let (name, status): (String, String) =
        sqlx::query_as("select name, status from public.agents where id = $1")
            .bind(t.agent_a)
            .fetch_one(&app.pool)
            .await
            .expect("agent still there");
    assert_eq!((name.as_str(), status.as_str()), ("Reception A", "active"));
    // And A still sees it all.
    assert_eq!(
        app.call(&t.a, "/api/org/agent", &[("id", &agent)])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.call(&t.a, "/api/org/call", &[("id", &call)])
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn roles_decide_what_each_member_may_do() {
    let t = two_orgs().await;
    let app = &t.app;
    for (email, role) in [
        ("viewer@example.com", "viewer"),
        ("member@example.com", "member"),
        ("admin@example.com", "admin"),
    ] {
        app.register(email, PASSWORD, "Own org").await;
        let id = user_id(app, email).await;
        sqlx::query(
            "insert into public.memberships (organization_id, user_id, role) values ($1, $2, $3)",
        )
        .bind(t.org_a)
        .bind(id)
        .bind(role)
        .execute(&app.pool)
        .await
        .expect("membership");
        sqlx::query("update public.profiles set organization_id = $1 where id = $2")
            .bind(t.org_a)
            .bind(id)
            .execute(&app.pool)
            .await
            .expect("switch");
    }
    let viewer = app.signed_in("viewer@example.com", PASSWORD).await;
    let member = app.signed_in("member@example.com", PASSWORD).await;
    let admin = app.signed_in("admin@example.com", PASSWORD).await;
    let agent = t.agent_a.to_string();

    assert_eq!(
        app.call(&viewer, "/api/org/agent", &[("id", &agent)])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.call(&viewer, "/api/org/create_agent", &agent_form("Nope"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            &viewer,
            "/api/org/set_agent_status",
            &[("id", &agent), ("status", "paused")]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );

    let created = json(
        app.call(&member, "/api/org/create_agent", &agent_form("Sales"))
            .await,
    )
    .await;
    let sales = created["id"].as_str().expect("id").to_owned();
    let paused = json(
        app.call(
            &member,
            "/api/org/set_agent_status",
            &[("id", &sales), ("status", "paused")],
        )
        .await,
    )
    .await;
    assert_eq!(paused["status"], "paused");
    assert_eq!(
        app.call(
            &member,
            "/api/org/delete_agent",
            &[("id", &sales), ("confirm", "yes")]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(&admin, "/api/org/delete_agent", &[("id", &sales)])
            .await
            .status(),
        StatusCode::BAD_REQUEST,
        "needs confirmation"
    );
    assert_eq!(
        app.call(
            &admin,
            "/api/org/delete_agent",
            &[("id", &sales), ("confirm", "yes")]
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.call(&admin, "/api/org/agent", &[("id", &sales)])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.call(&admin, "/api/org/rename", &[("name", "Taken over")])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(&t.a, "/api/org/rename", &[("name", "Org A Renamed")])
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.session_json(&viewer).await["user"]["organization_name"],
        "Org A Renamed"
    );

    let members = json(app.call(&viewer, "/api/org/members", &[]).await).await;
    let roles: Vec<&str> = members
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, vec!["owner", "admin", "member", "viewer"]);

    // The pages offer only what the role allows.
    let page = viewer
        .get(app.url(&format!("/agents/{agent}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(!page.contains("Edit agent") && !page.contains("Delete this agent"));
    let page = admin
        .get(app.url(&format!("/agents/{agent}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Edit agent") && page.contains("Delete this agent"));
}

#[tokio::test]
async fn invalid_agent_input_gets_clear_errors_and_stores_nothing() {
    let t = two_orgs().await;
    let app = &t.app;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("name", ""),
                ("greeting", ""),
                ("instructions", ""),
                ("voice", "alloy"),
                ("language", "en-US"),
                ("phone_number", ""),
            ],
            "Name is required",
        ),
        (
            vec![
                ("name", "X"),
                ("greeting", ""),
                ("instructions", ""),
                ("voice", "robot"),
                ("language", "en-US"),
                ("phone_number", ""),
            ],
            "voices",
        ),
        (
            vec![
                ("name", "X"),
                ("greeting", ""),
                ("instructions", ""),
                ("voice", "alloy"),
                ("language", "xx"),
                ("phone_number", ""),
            ],
            "languages",
        ),
        (
            vec![
                ("name", "X"),
                ("greeting", ""),
                ("instructions", ""),
                ("voice", "alloy"),
                ("language", "en-US"),
                ("phone_number", "555-CALL"),
            ],
            "international format",
        ),
    ];
    for (form, message) in cases {
        let response = app.call(&t.a, "/api/org/create_agent", &form).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let text = response.text().await.expect("body");
        assert!(text.contains(message), "{text}");
    }
    let agents: i64 = sqlx::query_scalar("select count(*) from public.agents")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(agents, 1);
}

#[tokio::test]
async fn calls_page_with_keyset_cursors_and_filters() {
    let t = two_orgs().await;
    let app = &t.app;
    insert_calls(
        app,
        t.org_a,
        Some(t.agent_a),
        57,
        "missed",
        "Caller hung up before the greeting",
        30,
    )
    .await;
    let mut seen = std::collections::HashSet::new();
    let mut cursor = String::new();
    let mut pages = Vec::new();
    let mut last_started: Option<String> = None;
    loop {
        let page = json(
            app.call(&t.a, "/api/org/calls", &[("cursor", &cursor)])
                .await,
        )
        .await;
        let calls = page["calls"].as_array().expect("calls").clone();
        pages.push(calls.len());
        for call in &calls {
            assert!(
                seen.insert(call["id"].as_str().expect("id").to_owned()),
                "no row twice"
            );
            let started = call["started_at"].as_str().expect("started").to_owned();
            if let Some(prev) = &last_started {
                assert!(started <= *prev, "newest first");
            }
            last_started = Some(started);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, vec![25, 25, 10]);

    let missed = json(
        app.call(&t.a, "/api/org/calls", &[("filter[status]", "missed")])
            .await,
    )
    .await;
    assert!(missed["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .all(|c| c["status"] == "missed"));
    let searched = json(
        app.call(
            &t.a,
            "/api/org/calls",
            &[("filter[q]", "secret appointment")],
        )
        .await,
    )
    .await;
    assert_eq!(searched["calls"].as_array().map(Vec::len), Some(3));
    let outbound = json(
        app.call(
            &t.a,
            "/api/org/calls",
            &[
                ("filter[direction]", "outbound"),
                ("filter[status]", "completed"),
            ],
        )
        .await,
    )
    .await;
    assert!(outbound["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .all(|c| c["direction"] == "outbound"));
    let agent_a = t.agent_a.to_string();
    let by_agent = json(
        app.call(&t.a, "/api/org/calls", &[("filter[agent]", &agent_a)])
            .await,
    )
    .await;
    let by_agent = by_agent["calls"].as_array().expect("calls").clone();
    assert_eq!(by_agent.len(), 25);
    assert!(by_agent.iter().all(|c| c["agent_name"] == "Reception A"));
    // A list's rows carry what the list shows; the rest is on the call's own page.
    let row = &by_agent[0];
    for only_on_its_page in ["agent_id", "to_number", "sentiment", "transcript"] {
        assert!(
            row.get(only_on_its_page).is_none(),
            "{only_on_its_page} in {row}"
        );
    }
    let id = row["id"].as_str().expect("id");
    let call = json(app.call(&t.a, "/api/org/call", &[("id", id)]).await).await;
    assert_eq!(call["call"], *row);
    assert_eq!(call["agent_id"], agent_a.as_str());
    assert_eq!(call["to_number"], "+14155550199");
    assert_eq!(call["sentiment"], serde_json::Value::Null);
    assert_eq!(call["transcript"][1]["text"], "Hi there");
    let nobody = uuid::Uuid::new_v4().to_string();
    let none = json(
        app.call(&t.a, "/api/org/calls", &[("filter[agent]", &nobody)])
            .await,
    )
    .await;
    assert_eq!(none["calls"].as_array().map(Vec::len), Some(0));
    // The three calls `two_orgs` makes an hour ago: on yesterday's date in the first hour
    // of a UTC day (this test failed so, at 00:25 UTC), so the range starts two hours back.
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::hours(2)).date_naive().to_string();
    let today = now.date_naive().to_string();
    let recent = json(
        app.call(
            &t.a,
            "/api/org/calls",
            &[("filter[from]", &from), ("filter[to]", &today)],
        )
        .await,
    )
    .await;
    assert!(recent["calls"].as_array().expect("calls").len() >= 3);

    for (key, value) in [
        ("filter[status]", "exploded"),
        ("filter[from]", "yesterday"),
        ("cursor", "garbage"),
    ] {
        let response = app.call(&t.a, "/api/org/calls", &[(key, value)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{key}={value}");
    }

    // The page itself renders the same, without JavaScript, with a link to the next page.
    let page =
        t.a.get(app.url("/calls?status=missed"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body");
    assert!(page.contains("rel=\"next\"") && page.contains("Caller hung up"));
}

#[tokio::test]
async fn the_dashboard_counts_what_the_organization_has() {
    let t = two_orgs().await;
    let app = &t.app;
    insert_calls(app, t.org_a, Some(t.agent_a), 2, "missed", "Missed", 2).await;
    insert_calls(
        app,
        t.org_a,
        Some(t.agent_a),
        4,
        "completed",
        "Older",
        24 * 5,
    )
    .await;
    let org_b = org_of(app, "owner-b@example.com").await;
    insert_calls(app, org_b, None, 7, "completed", "B's call", 1).await;
    let d = json(app.call(&t.a, "/api/org/dashboard", &[]).await).await;
    assert_eq!(d["organization_name"], "Org A");
    assert_eq!(d["agents"], 1);
    assert_eq!(d["calls_24h"], 5);
    assert_eq!(d["calls_7d"], 9);
    assert_eq!(d["answer_rate_7d"].as_f64(), Some(77.8));
    assert_eq!(d["per_day"].as_array().map(Vec::len), Some(30));
    assert_eq!(d["latest"].as_array().map(Vec::len), Some(9));
    let page =
        t.a.get(app.url("/dashboard"))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body");
    assert!(
        page.contains("data-testid=\"calls-chart\"") && page.contains("<rect"),
        "the chart is drawn on the server"
    );
}

/// The dashboard's statement counts under RLS but does not read the organization (its name
/// is the session's), so for a non-member it would count nothing rather than refuse: the
/// app must refuse first. A user removed from the organization the profile still points to
/// gets no dashboard, and no page of its data.
#[tokio::test]
async fn a_member_removed_from_the_current_organization_gets_no_dashboard() {
    let t = two_orgs().await;
    let app = &t.app;
    let response = app.call(&t.a, "/api/org/dashboard", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let a_user = user_id(app, "owner-a@example.com").await;
    sqlx::query("delete from public.memberships where user_id = $1 and organization_id = $2")
        .bind(a_user)
        .bind(t.org_a)
        .execute(&app.pool)
        .await
        .expect("membership gone");
    let profile: Option<Uuid> =
        sqlx::query_scalar("select organization_id from public.profiles where id = $1")
            .bind(a_user)
            .fetch_one(&app.pool)
            .await
            .expect("profile");
    assert_eq!(profile, Some(t.org_a), "the profile still points to it");
    // The removal reaches this instance's session cache through its notification.
    let mut status = StatusCode::OK;
    for _ in 0..50 {
        status = app.call(&t.a, "/api/org/dashboard", &[]).await.status();
        if status != StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::NOT_FOUND);
    let agents = app.call(&t.a, "/api/org/agents", &[]).await;
    assert_eq!(agents.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_user_in_several_organizations_switches_between_them() {
    let t = two_orgs().await;
    let app = &t.app;
    let b_org = org_of(app, "owner-b@example.com").await;
    let a_user = user_id(app, "owner-a@example.com").await;
    sqlx::query(
        "insert into public.memberships (organization_id, user_id, role) values ($1, $2, 'viewer')",
    )
    .bind(b_org)
    .bind(a_user)
    .execute(&app.pool)
    .await
    .expect("membership");
    let mine = json(app.call(&t.a, "/api/org/mine", &[]).await).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(2));
    let response = app
        .call(&t.a, "/api/org/switch", &[("id", &b_org.to_string())])
        .await;
    assert!(
        !response.status().is_client_error(),
        "{}",
        response.status()
    );
    let session = app.session_json(&t.a).await;
    assert_eq!(
        (
            session["user"]["organization_name"].as_str(),
            session["user"]["role"].as_str()
        ),
        (Some("Org B"), Some("viewer"))
    );
    // Not a member: refused as if it did not exist.
    let response = app
        .call(&t.b, "/api/org/switch", &[("id", &t.org_a.to_string())])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.session_json(&t.b).await["user"]["organization_name"],
        "Org B"
    );
}

#[tokio::test]
async fn the_seed_makes_owners_who_can_sign_in_and_see_their_calls() {
    let app = TestApp::spawn().await;
    let options = switchboard::seed::SeedOptions {
        orgs: 3,
        calls_per_org: 40,
        agents_per_org: 3,
    };
    let report = switchboard::seed::seed(&app.pool, options)
        .await
        .expect("seed");
    assert_eq!((report.orgs, report.agents, report.calls), (3, 9, 120));
    let client = app
        .signed_in(&report.first_email, switchboard::seed::DEMO_PASSWORD)
        .await;
    let page = json(app.call(&client, "/api/org/calls", &[]).await).await;
    assert_eq!(page["calls"].as_array().map(Vec::len), Some(25));
    let dashboard = json(app.call(&client, "/api/org/dashboard", &[]).await).await;
    assert_eq!(dashboard["agents"], 3);
    let per_day: i64 = dashboard["per_day"]
        .as_array()
        .expect("days")
        .iter()
        .filter_map(serde_json::Value::as_i64)
        .sum();
    // The seed spreads calls over 30 rolling days; the chart shows 30 whole UTC days,
    // so the calls of the oldest partial day fall outside it.
    let in_chart: i64 = sqlx::query_scalar(
        "select count(*) from public.calls c
         join public.profiles p on p.organization_id = c.organization_id
         join auth.users u on u.id = p.id
         where u.email = $1 and (c.started_at at time zone 'utc')::date > (now() at time zone 'utc')::date - 30",
    )
    .bind(&report.first_email)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(per_day, in_chart);
    assert!(per_day >= 30, "{per_day}");
}
