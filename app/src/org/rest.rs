//! The hosted-Supabase backend: the same operations as the PostgreSQL one, through
//! PostgREST (`SUPABASE_URL/rest/v1`) with the project's anon key as `apikey` and, per
//! request, a 60-second HS256 JWT for the session user signed with `SUPABASE_JWT_SECRET`.
//! PostgREST then does what `RlsTx` does: `set local role authenticated` and the claims.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use postgrest::Postgrest;
use serde::de::DeserializeOwned;
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use super::store::{AgentRecord, CallRecord, DashboardRecord, ValidFilter, CALLS_PAGE_SIZE};
use super::{AgentInput, Member, OrgChoice};
use crate::auth::SessionUser;
use crate::errors::AppError;

/// How long a minted token is valid.
pub const TOKEN_SECONDS: i64 = 60;

pub struct RestBackend {
    client: Postgrest,
    jwt_secret: Vec<u8>,
}

impl std::fmt::Debug for RestBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RestBackend { .. }")
    }
}

impl RestBackend {
    /// `supabase_url` is the project URL (`https://xyz.supabase.co`); requests go to its
    /// `/rest/v1`.
    pub fn new(supabase_url: &str, anon_key: &str, jwt_secret: &str) -> Result<Self, String> {
        if http::HeaderValue::from_str(anon_key).is_err() || anon_key.is_empty() {
            return Err("SUPABASE_ANON_KEY is empty or not a valid header value".to_owned());
        }
        if jwt_secret.len() < 32 {
            return Err("SUPABASE_JWT_SECRET must be at least 32 characters".to_owned());
        }
        let url = format!("{}/rest/v1", supabase_url.trim_end_matches('/'));
        Ok(Self {
            client: Postgrest::new(url).insert_header("apikey", anon_key),
            jwt_secret: jwt_secret.as_bytes().to_vec(),
        })
    }

    /// An HS256 JWT for `user`, as Supabase Auth would issue it, valid for 60 seconds.
    pub fn mint_token(&self, user: &SessionUser) -> String {
        mint_token(&self.jwt_secret, user, Utc::now().timestamp())
    }

    fn authed(&self, builder: postgrest::Builder, user: &SessionUser) -> postgrest::Builder {
        builder.auth(self.mint_token(user))
    }

    pub async fn dashboard(
        &self,
        user: &SessionUser,
        org: Uuid,
    ) -> Result<Option<DashboardRecord>, AppError> {
        let rows: Vec<DashboardRecord> = fetch(
            self.authed(
                self.client
                    .rpc("org_dashboard_figures", json!({ "org": org }).to_string()),
                user,
            ),
        )
        .await?;
        Ok(rows.into_iter().next())
    }

    pub async fn list_agents(
        &self,
        user: &SessionUser,
        org: Uuid,
        search: &str,
    ) -> Result<Vec<AgentRecord>, AppError> {
        let mut builder = self
            .client
            .from("agents")
            .select(AGENT_SELECT)
            .eq("organization_id", org.to_string());
        let search = search.trim();
        if !search.is_empty() {
            // PostgREST's `*` wildcard; characters that would break the `or` list are dropped.
            let term: String = search
                .chars()
                .filter(|c| !matches!(c, ',' | '(' | ')' | '*' | '"' | '\\'))
                .collect();
            builder = builder.or(format!("name.ilike.*{term}*,phone_number.ilike.*{term}*"));
        }
        fetch(self.authed(builder.order("name.asc,id.asc").limit(500), user)).await
    }

    pub async fn get_agent(
        &self,
        user: &SessionUser,
        id: Uuid,
    ) -> Result<Option<AgentRecord>, AppError> {
        let rows: Vec<AgentRecord> = fetch(
            self.authed(
                self.client
                    .from("agents")
                    .select(AGENT_SELECT)
                    .eq("id", id.to_string()),
                user,
            ),
        )
        .await?;
        Ok(rows.into_iter().next())
    }

    pub async fn create_agent(
        &self,
        user: &SessionUser,
        org: Uuid,
        input: &AgentInput,
    ) -> Result<AgentRecord, AppError> {
        let body = json!({
            "organization_id": org, "name": input.name, "greeting": input.greeting,
            "instructions": input.instructions, "voice": input.voice, "language": input.language,
            "phone_number": input.phone_number,
        });
        let rows: Vec<AgentRecord> = fetch(
            self.authed(
                self.client
                    .from("agents")
                    .insert(body.to_string())
                    .select(AGENT_SELECT),
                user,
            ),
        )
        .await?;
        rows.into_iter().next().ok_or(AppError::Forbidden)
    }

    pub async fn update_agent(
        &self,
        user: &SessionUser,
        id: Uuid,
        body: serde_json::Value,
    ) -> Result<Option<AgentRecord>, AppError> {
        let rows: Vec<AgentRecord> = fetch(
            self.authed(
                self.client
                    .from("agents")
                    .eq("id", id.to_string())
                    .update(body.to_string())
                    .select(AGENT_SELECT),
                user,
            ),
        )
        .await?;
        Ok(rows.into_iter().next())
    }

    pub async fn delete_agent(&self, user: &SessionUser, id: Uuid) -> Result<bool, AppError> {
        let rows: Vec<serde_json::Value> = fetch(
            self.authed(
                self.client
                    .from("agents")
                    .eq("id", id.to_string())
                    .delete()
                    .select("id"),
                user,
            ),
        )
        .await?;
        Ok(!rows.is_empty())
    }

    pub async fn list_calls(
        &self,
        user: &SessionUser,
        org: Uuid,
        filter: &ValidFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<CallRecord>, AppError> {
        let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut b = self
            .client
            .from("calls")
            .select(CALL_SELECT)
            .eq("organization_id", org.to_string());
        if let Some((at, id)) = after {
            let at = stamp(at);
            b = b.or(format!(
                "started_at.lt.{at},and(started_at.eq.{at},id.lt.{id})"
            ));
        }
        if let Some(agent) = filter.agent {
            b = b.eq("agent_id", agent.to_string());
        }
        if let Some(status) = &filter.status {
            b = b.eq("status", status);
        }
        if let Some(direction) = &filter.direction {
            b = b.eq("direction", direction);
        }
        if let Some(from) = filter.from {
            b = b.gte("started_at", format!("{from}T00:00:00Z"));
        }
        if let Some(to) = filter.to {
            b = b.lt(
                "started_at",
                format!("{}T00:00:00Z", to.succ_opt().unwrap_or(to)),
            );
        }
        if let Some(q) = &filter.q {
            b = b.wfts("summary", q, Some("english"));
        }
        fetch(
            self.authed(
                b.order("started_at.desc,id.desc")
                    .limit((CALLS_PAGE_SIZE + 1) as usize),
                user,
            ),
        )
        .await
    }

    pub async fn get_call(
        &self,
        user: &SessionUser,
        id: Uuid,
    ) -> Result<Option<(CallRecord, serde_json::Value, Option<String>)>, AppError> {
        #[derive(serde::Deserialize)]
        struct Full {
            #[serde(flatten)]
            call: CallRecord,
            transcript: serde_json::Value,
            recording_url: Option<String>,
        }
        let rows: Vec<Full> = fetch(
            self.authed(
                self.client
                    .from("calls")
                    .select(format!("{CALL_SELECT},transcript,recording_url"))
                    .eq("id", id.to_string()),
                user,
            ),
        )
        .await?;
        Ok(rows
            .into_iter()
            .next()
            .map(|f| (f.call, f.transcript, f.recording_url)))
    }

    pub async fn rename_organization(
        &self,
        user: &SessionUser,
        org: Uuid,
        name: &str,
    ) -> Result<bool, AppError> {
        let rows: Vec<serde_json::Value> = fetch(
            self.authed(
                self.client
                    .from("organizations")
                    .eq("id", org.to_string())
                    .update(json!({ "name": name }).to_string())
                    .select("id"),
                user,
            ),
        )
        .await?;
        Ok(!rows.is_empty())
    }

    pub async fn members(&self, user: &SessionUser, org: Uuid) -> Result<Vec<Member>, AppError> {
        fetch(
            self.authed(
                self.client
                    .rpc("organization_members", json!({ "org": org }).to_string()),
                user,
            ),
        )
        .await
    }

    pub async fn my_organizations(&self, user: &SessionUser) -> Result<Vec<OrgChoice>, AppError> {
        #[derive(serde::Deserialize)]
        struct Row {
            role: String,
            id: Uuid,
            name: String,
        }
        let rows: Vec<Row> = fetch(
            self.authed(
                self.client
                    .from("memberships")
                    .select("role,...organizations(id,name)")
                    .eq("user_id", user.id.to_string()),
                user,
            ),
        )
        .await?;
        let mut list: Vec<OrgChoice> = rows
            .into_iter()
            .map(|r| OrgChoice {
                current: Some(r.id) == user.organization_id,
                id: r.id,
                name: r.name,
                role: r.role,
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(list)
    }

    pub async fn switch_organization(
        &self,
        user: &SessionUser,
        org: Uuid,
    ) -> Result<bool, AppError> {
        let rows: Vec<serde_json::Value> = fetch(
            self.authed(
                self.client
                    .from("profiles")
                    .eq("id", user.id.to_string())
                    .update(json!({ "organization_id": org }).to_string())
                    .select("id"),
                user,
            ),
        )
        .await?;
        Ok(!rows.is_empty())
    }
}

const AGENT_SELECT: &str =
    "id,organization_id,name,greeting,instructions,voice,language,phone_number,status,created_at,updated_at";
/// `...agents(agent_name:name)` spreads the agent's name into the row (PostgREST 12).
const CALL_SELECT: &str = "id,agent_id,...agents(agent_name:name),direction,from_number,to_number,started_at,duration_seconds,status,sentiment,summary";

pub fn mint_token(secret: &[u8], user: &SessionUser, now: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "sub": user.id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": user.email,
        "iat": now,
        "exp": now + TOKEN_SECONDS,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let signature = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; this arm cannot be reached.
        Err(_) => String::new(),
    };
    format!("{signing_input}.{signature}")
}

/// Runs a PostgREST request and decodes its JSON, mapping PostgREST's statuses to ours.
async fn fetch<T: DeserializeOwned>(builder: postgrest::Builder) -> Result<T, AppError> {
    let response = builder.execute().await.map_err(|e| {
        tracing::warn!(error = %e, "PostgREST unreachable");
        AppError::Unavailable
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| {
        tracing::warn!(error = %e, "PostgREST response unreadable");
        AppError::Unavailable
    })?;
    match status {
        200..=299 => serde_json::from_str(&body)
            .map_err(|e| AppError::internal("PostgREST response shape", e)),
        // 42501 (RLS `with check`, missing grant) arrives as 403; an expired or forged JWT as 401.
        401 | 403 => Err(AppError::Forbidden),
        404 => Err(AppError::NotFound),
        400 | 409 | 422 => {
            tracing::info!(status, body = %body, "PostgREST refused the request");
            Err(AppError::BadRequest(
                "Some of the values are not valid.".to_owned(),
            ))
        }
        _ => {
            tracing::warn!(status, body = %body, "PostgREST error");
            Err(AppError::Unavailable)
        }
    }
}
