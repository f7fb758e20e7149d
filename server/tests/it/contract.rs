//! One contract for both organization-data backends: PostgreSQL directly (for real, under
//! RLS) and hosted Supabase's PostgREST (against a local HTTP server that checks each
//! request exactly, including the per-request JWT, and answers as PostgREST does).

use std::sync::{Arc, Mutex};

use app::auth::server::Authenticated;
use app::auth::SessionUser;
use app::errors::AppError;
use app::org::rest::RestBackend;
use app::org::store::{decode_cursor, OrgStore};
use app::org::CallFilter;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::Engine;
use hmac::Mac;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::{uuid, Uuid};

use crate::common::TestDb;

const ORG: Uuid = uuid!("0f000000-0000-4000-8000-000000000001");
const USER: Uuid = uuid!("0f000000-0000-4000-8000-000000000002");
const RECEPTION: Uuid = uuid!("0f000000-0000-4000-8000-0000000000a1");
const SALES: Uuid = uuid!("0f000000-0000-4000-8000-0000000000a2");
const CALL_1: Uuid = uuid!("0f000000-0000-4000-8000-0000000000c1");
const CALL_2: Uuid = uuid!("0f000000-0000-4000-8000-0000000000c2");
const CALL_3: Uuid = uuid!("0f000000-0000-4000-8000-0000000000c3");
const SECRET: &str = "a-test-jwt-secret-that-is-long-enough";
const ANON_KEY: &str = "test-anon-key";

fn user() -> Authenticated {
    Authenticated {
        user: SessionUser {
            id: USER,
            email: "contract@example.com".to_owned(),
            full_name: "Contract Owner".to_owned(),
            organization_id: Some(ORG),
            organization_name: Some("Contract Co".to_owned()),
            role: Some("owner".to_owned()),
            organizations: 1,
        },
        session_id: Uuid::nil(),
        expires_at: chrono::Utc::now(),
    }
}

fn agent_json(id: Uuid, name: &str, phone: &str, status: &str) -> Value {
    json!({
        "id": id, "organization_id": ORG, "name": name, "greeting": "Hello", "instructions": "Be kind",
        "voice": "alloy", "language": "en-US", "phone_number": phone, "status": status,
        "created_at": "2026-01-02T03:04:05+00:00", "updated_at": "2026-01-02T03:04:05+00:00",
    })
}

fn call_json(id: Uuid, started: &str, status: &str, summary: &str) -> Value {
    json!({
        "id": id, "agent_id": RECEPTION, "agent_name": "Reception", "direction": "inbound",
        "from_number": "+14155550100", "to_number": "+14155550199", "started_at": started,
        "duration_seconds": 61, "status": status, "sentiment": null, "summary": summary,
    })
}

fn transcript() -> Value {
    json!([{ "speaker": "agent", "text": "Hello", "at_ms": 0 }, { "speaker": "caller", "text": "Hi", "at_ms": 900 }])
}

/// The fixture rows, as PostgREST would return them (and as inserted for PostgreSQL).
fn fixture_calls() -> Vec<Value> {
    vec![
        call_json(
            CALL_1,
            "2026-01-03T10:00:00+00:00",
            "completed",
            "Booked a table for two",
        ),
        call_json(CALL_2, "2026-01-02T10:00:00+00:00", "missed", "Missed call"),
        call_json(
            CALL_3,
            "2026-01-01T10:00:00+00:00",
            "completed",
            "Asked about parking",
        ),
    ]
}

async fn load_fixture(pool: &PgPool) {
    sqlx::query("insert into auth.users (id, email) values ($1, 'contract@example.com')")
        .bind(USER)
        .execute(pool)
        .await
        .expect("user");
    sqlx::query("insert into public.organizations (id, name) values ($1, 'Contract Co')")
        .bind(ORG)
        .execute(pool)
        .await
        .expect("org");
    sqlx::query(
        "insert into public.memberships (organization_id, user_id, role) values ($1, $2, 'owner')",
    )
    .bind(ORG)
    .bind(USER)
    .execute(pool)
    .await
    .expect("m");
    sqlx::query("insert into public.profiles (id, full_name, organization_id) values ($1, 'Contract Owner', $2)").bind(USER).bind(ORG).execute(pool).await.expect("p");
    for agent in [
        agent_json(RECEPTION, "Reception", "+14155550100", "active"),
        agent_json(SALES, "Sales", "+14155550111", "paused"),
    ] {
        sqlx::query(
            "insert into public.agents select * from jsonb_populate_record(null::public.agents, $1)",
        )
        .bind(&agent)
        .execute(pool)
        .await
        .expect("agent");
    }
    for call in fixture_calls() {
        let mut call = call;
        if let Some(obj) = call.as_object_mut() {
            obj.remove("agent_name");
            obj.insert("organization_id".to_owned(), json!(ORG));
            obj.insert("transcript".to_owned(), transcript());
        }
        sqlx::query(
            "insert into public.calls select * from jsonb_populate_record(null::public.calls, $1)",
        )
        .bind(&call)
        .execute(pool)
        .await
        .expect("call");
    }
}

/// The contract: the same calls give the same answers on either backend.
async fn contract(store: &OrgStore) {
    let reception = store.get_agent(RECEPTION).await.expect("get agent");
    assert_eq!(
        (
            reception.name.as_str(),
            reception.phone_number.as_deref(),
            reception.status.as_str()
        ),
        ("Reception", Some("+14155550100"), "active")
    );
    assert_eq!(reception.created_at, "2026-01-02 03:04 UTC");
    assert_eq!(
        store.get_agent(Uuid::from_u128(7)).await,
        Err(AppError::NotFound)
    );

    let found = store.list_agents("sal").await.expect("search");
    assert_eq!(
        found.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        vec!["Sales"]
    );

    let completed = store
        .list_calls(
            &CallFilter {
                status: Some("completed".to_owned()),
                ..Default::default()
            },
            None,
        )
        .await
        .expect("calls");
    assert_eq!(
        completed.calls.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![CALL_1, CALL_3]
    );
    assert_eq!(completed.calls[0].agent_name.as_deref(), Some("Reception"));
    assert_eq!(completed.calls[0].started_at, "2026-01-03 10:00 UTC");
    assert_eq!(completed.next_cursor, None);

    let (at, _) = decode_cursor(&app::org::store::encode_cursor(
        chrono::DateTime::parse_from_rfc3339("2026-01-03T10:00:00Z")
            .expect("time")
            .to_utc(),
        CALL_1,
    ))
    .expect("cursor");
    let cursor = app::org::store::encode_cursor(at, CALL_1);
    let after = store
        .list_calls(&CallFilter::default(), Some(&cursor))
        .await
        .expect("next page");
    assert_eq!(
        after.calls.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![CALL_2, CALL_3]
    );

    let detail = store.get_call(CALL_1).await.expect("call");
    assert_eq!(detail.transcript.len(), 2);
    assert_eq!(detail.transcript[1].text, "Hi");
    assert_eq!(
        (detail.call.id, detail.agent_id, detail.to_number.as_str()),
        (CALL_1, Some(RECEPTION), "+14155550199")
    );
    assert_eq!(detail.call.agent_name.as_deref(), Some("Reception"));
    assert_eq!(
        store.get_call(Uuid::from_u128(9)).await,
        Err(AppError::NotFound)
    );

    // The name is the session's: the statement returns only the figures.
    let dashboard = store.dashboard().await.expect("dashboard");
    assert_eq!(
        (
            dashboard.organization_name.as_str(),
            dashboard.agents,
            dashboard.calls_7d
        ),
        ("Contract Co", 2, 0)
    );
    assert_eq!(dashboard.latest.first().map(|c| c.id), Some(CALL_1));
    // The fixture's calls are older than the chart's 30 days: every slot is there, empty.
    assert_eq!(dashboard.per_day, vec![0; 30]);

    let mine = store.my_organizations().await.expect("mine");
    assert_eq!(mine.len(), 1);
    assert!(mine[0].current && mine[0].role == "owner" && mine[0].name == "Contract Co");

    assert_eq!(
        store.delete_agent(Uuid::from_u128(11)).await,
        Err(AppError::NotFound)
    );
}

#[tokio::test]
async fn the_postgres_backend_meets_the_contract() {
    let (_db, pool) = TestDb::migrated().await;
    load_fixture(&pool).await;
    contract(&OrgStore::for_user(pool, user(), None)).await;
}

/// What the fake PostgREST saw: method, path and query, in order.
type Seen = Arc<Mutex<Vec<String>>>;

fn verify_jwt(headers: &HeaderMap) -> Result<Value, String> {
    if headers.get("apikey").and_then(|v| v.to_str().ok()) != Some(ANON_KEY) {
        return Err("missing or wrong apikey".to_owned());
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err("not a JWT".to_owned());
    };
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).map_err(|e| e.to_string())?;
    mac.update(format!("{header}.{payload}").as_bytes());
    let expected = engine.encode(mac.finalize().into_bytes());
    if expected != *signature {
        return Err("bad signature".to_owned());
    }
    let header: Value = serde_json::from_slice(&engine.decode(header).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if header["alg"] != "HS256" {
        return Err("not HS256".to_owned());
    }
    let claims: Value = serde_json::from_slice(&engine.decode(payload).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().ok_or("no exp")?;
    if claims["sub"] != json!(USER)
        || claims["role"] != "authenticated"
        || claims["aud"] != "authenticated"
    {
        return Err(format!("wrong claims: {claims}"));
    }
    if exp <= now || exp > now + 60 {
        return Err(format!("exp {exp} is not within 60 s of now {now}"));
    }
    Ok(claims)
}

/// Answers the requests the contract makes, as PostgREST would, and nothing else.
async fn fake_postgrest(
    State(seen): State<Seen>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let query = uri.query().map(urlencoding_decode).unwrap_or_default();
    let line = format!("{method} {}?{query}", uri.path());
    seen.lock().expect("lock").push(line.clone());
    if let Err(problem) = verify_jwt(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "message": problem })),
        )
            .into_response();
    }
    let has = |part: &str| query.split('&').any(|p| p == part);
    // postgrest-rs sends `.limit(n)` as a Range header.
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let calls = fixture_calls();
    let rows: Value = match (method.as_str(), uri.path()) {
        ("GET", "/rest/v1/agents") if has(&format!("id=eq.{RECEPTION}")) => json!([agent_json(RECEPTION, "Reception", "+14155550100", "active")]),
        ("GET", "/rest/v1/agents") if has(&format!("organization_id=eq.{ORG}")) && has("or=(name.ilike.*sal*,phone_number.ilike.*sal*)") && has("order=name.asc,id.asc") => {
            json!([agent_json(SALES, "Sales", "+14155550111", "paused")])
        }
        ("GET", "/rest/v1/agents") if query.contains("id=eq.") => json!([]),
        ("GET", "/rest/v1/calls") if has(&format!("id=eq.{CALL_1}")) && query.contains("transcript,recording_url") => {
            let mut row = calls[0].clone();
            row["transcript"] = transcript();
            row["recording_url"] = Value::Null;
            json!([row])
        }
        ("GET", "/rest/v1/calls") if query.contains("id=eq.") && !query.contains("organization_id") => json!([]),
        ("GET", "/rest/v1/calls") if has(&format!("organization_id=eq.{ORG}")) && has("status=eq.completed") && has("order=started_at.desc,id.desc") && range == "0-25" => {
            json!([calls[0], calls[2]])
        }
        ("GET", "/rest/v1/calls")
            if has(&format!("or=(started_at.lt.2026-01-03T10:00:00.000000Z,and(started_at.eq.2026-01-03T10:00:00.000000Z,id.lt.{CALL_1}))")) =>
        {
            json!([calls[1], calls[2]])
        }
        ("POST", "/rest/v1/rpc/org_dashboard_figures") if serde_json::from_slice::<Value>(&body).ok() == Some(json!({ "org": ORG })) => {
            json!([{
                "agents": 2, "calls_24h": 0, "calls_7d": 0,
                "completed_7d": 0, "completed_seconds_7d": 0, "first_day": "2026-01-01",
                "days": [], "day_calls": [], "latest": calls,
            }])
        }
        ("GET", "/rest/v1/memberships") if has(&format!("user_id=eq.{USER}")) && has("select=role,...organizations(id,name)") => {
            json!([{ "role": "owner", "id": ORG, "name": "Contract Co" }])
        }
        ("DELETE", "/rest/v1/agents") if headers.get("prefer").and_then(|v| v.to_str().ok()) == Some("return=representation") => json!([]),
        _ => {
            eprintln!("fake PostgREST: unexpected request: {line}");
            return (StatusCode::NOT_FOUND, Json(json!({ "message": format!("unexpected request: {line}") }))).into_response();
        }
    };
    Json(rows).into_response()
}

fn urlencoding_decode(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_postgrest_backend_meets_the_contract_with_exact_requests() {
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .fallback(fake_postgrest)
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (_db, pool) = TestDb::migrated().await;
    let rest = RestBackend::new(&url, ANON_KEY, SECRET).expect("rest backend");
    contract(&OrgStore::for_user(pool, user(), Some(Arc::new(rest)))).await;
    server.abort();

    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter().all(|line| line.starts_with("GET /rest/v1/")
            || line.starts_with("POST /rest/v1/")
            || line.starts_with("DELETE /rest/v1/")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("POST /rest/v1/rpc/org_dashboard_figures?")),
        "{seen:#?}"
    );
    assert_eq!(seen.len(), 10, "one request per store call: {seen:#?}");
}

#[test]
fn minted_tokens_are_hs256_user_tokens_valid_for_sixty_seconds() {
    let token = app::org::rest::mint_token(
        SECRET.as_bytes(),
        &user().user,
        chrono::Utc::now().timestamp(),
    );
    let mut headers = HeaderMap::new();
    headers.insert("apikey", ANON_KEY.parse().expect("header"));
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let claims = verify_jwt(&headers).expect("a valid token");
    assert_eq!(claims["email"], "contract@example.com");
    let wrong = app::org::rest::mint_token(
        b"another-secret-another-secret-!!",
        &user().user,
        chrono::Utc::now().timestamp(),
    );
    headers.insert(
        "authorization",
        format!("Bearer {wrong}").parse().expect("header"),
    );
    assert!(
        verify_jwt(&headers).is_err(),
        "a token signed with another secret is refused"
    );
}

/// Against a live Supabase project when the environment names one (SUPABASE_URL,
/// SUPABASE_ANON_KEY, SUPABASE_JWT_SECRET, and SUPABASE_DB_URL to load the fixture into
/// its database, migrated by this app). Without them there is nothing live to test: the
/// test says so and checks only that the backend refuses an incomplete configuration.
#[tokio::test]
async fn the_postgrest_backend_meets_the_contract_against_live_supabase_when_configured() {
    let vars = [
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_JWT_SECRET",
        "SUPABASE_DB_URL",
    ]
    .map(|v| std::env::var(v).ok());
    let [Some(url), Some(key), Some(secret), Some(db_url)] = vars else {
        eprintln!("live Supabase contract not run: SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_JWT_SECRET and SUPABASE_DB_URL are not all set");
        assert!(
            RestBackend::new("https://example.supabase.co", "", SECRET).is_err(),
            "an empty anon key is refused"
        );
        assert!(
            RestBackend::new("https://example.supabase.co", ANON_KEY, "short").is_err(),
            "a short JWT secret is refused"
        );
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&db_url)
        .await
        .expect("live database");
    switchboard::db::migrate(&pool)
        .await
        .expect("migrations apply to the live database");
    sqlx::query("delete from auth.users where id = $1")
        .bind(USER)
        .execute(&pool)
        .await
        .expect("clean user");
    sqlx::query("delete from public.organizations where id = $1")
        .bind(ORG)
        .execute(&pool)
        .await
        .expect("clean org");
    load_fixture(&pool).await;
    let rest = RestBackend::new(&url, &key, &secret).expect("rest backend");
    contract(&OrgStore::for_user(
        pool.clone(),
        user(),
        Some(Arc::new(rest)),
    ))
    .await;
    sqlx::query("delete from public.organizations where id = $1")
        .bind(ORG)
        .execute(&pool)
        .await
        .expect("clean org");
    sqlx::query("delete from auth.users where id = $1")
        .bind(USER)
        .execute(&pool)
        .await
        .expect("clean user");
}
