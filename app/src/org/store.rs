//! The only way from a server function to organization data. An `OrgStore` is made from
//! the session (`OrgStore::for_request`), so it always acts as the signed-in user, and
//! every query it runs goes through an `RlsTx`: PostgreSQL's policies decide what it sees.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::rest::RestBackend;
use super::rls::RlsTx;
use super::{
    Agent, AgentInput, CallDetail, CallFilter, CallPage, CallRow, Dashboard, Member, OrgChoice,
    TranscriptLine,
};
use crate::auth::server::{app_state, require_user, Authenticated};
use crate::errors::AppError;
use crate::text::{push_date, push_padded};

pub const CALLS_PAGE_SIZE: i64 = 25;

pub struct OrgStore {
    pool: PgPool,
    auth: Authenticated,
    /// Set when organization data goes through hosted Supabase's PostgREST instead.
    rest: Option<Arc<RestBackend>>,
}

/// Maps what PostgreSQL refuses to what the user may be told.
fn refused(error: sqlx::Error) -> AppError {
    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    match code.as_deref() {
        // insufficient_privilege: RLS `with check` or a missing grant.
        Some("42501") => AppError::Forbidden,
        Some("23514") | Some("22P02") | Some("22001") | Some("23502") => {
            AppError::BadRequest("Some of the values are not valid.".to_owned())
        }
        Some("23503") => {
            AppError::BadRequest("That refers to something that does not exist.".to_owned())
        }
        _ => AppError::from(error),
    }
}

/// `2026-01-31 14:05 UTC`. Written piece by piece (`crate::text`): pages write dozens of
/// these per request.
fn time(at: DateTime<Utc>) -> String {
    use chrono::Timelike;
    let mut text = String::with_capacity(20);
    push_date(&mut text, at.date_naive());
    text.push(' ');
    push_padded(&mut text, u64::from(at.hour()), 2);
    text.push(':');
    push_padded(&mut text, u64::from(at.minute()), 2);
    text.push_str(" UTC");
    text
}

/// `2026-01-31`.
fn day_text(day: NaiveDate) -> String {
    let mut text = String::with_capacity(10);
    push_date(&mut text, day);
    text
}

#[derive(sqlx::FromRow, serde::Deserialize)]
pub struct AgentRecord {
    id: Uuid,
    organization_id: Uuid,
    name: String,
    greeting: String,
    instructions: String,
    voice: String,
    language: String,
    phone_number: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<AgentRecord> for Agent {
    fn from(r: AgentRecord) -> Self {
        Agent {
            id: r.id,
            organization_id: r.organization_id,
            name: r.name,
            greeting: r.greeting,
            instructions: r.instructions,
            voice: r.voice,
            language: r.language,
            phone_number: r.phone_number,
            status: r.status,
            created_at: time(r.created_at),
            updated_at: time(r.updated_at),
        }
    }
}

const AGENT_COLUMNS: &str =
    "id, organization_id, name, greeting, instructions, voice, language, phone_number, status, created_at, updated_at";

/// A call as the database returns it: a list's row ([`CallRow`] keeps what the lists show)
/// and, with its transcript, a call's own page. Also the composite type
/// `public.dashboard_call` (same fields, same order) in which
/// `public.org_dashboard_figures` returns the latest calls.
#[derive(sqlx::FromRow, sqlx::Type, serde::Deserialize)]
#[sqlx(type_name = "dashboard_call")]
pub struct CallRecord {
    id: Uuid,
    agent_id: Option<Uuid>,
    agent_name: Option<String>,
    direction: String,
    from_number: String,
    to_number: String,
    started_at: DateTime<Utc>,
    duration_seconds: i32,
    status: String,
    sentiment: Option<String>,
    summary: String,
}

impl From<CallRecord> for CallRow {
    fn from(r: CallRecord) -> Self {
        CallRow {
            id: r.id,
            agent_name: r.agent_name,
            direction: r.direction,
            from_number: r.from_number,
            started_at: time(r.started_at),
            duration_seconds: r.duration_seconds,
            status: r.status,
            summary: r.summary,
        }
    }
}

/// The row `public.org_dashboard_figures` returns (both backends decode it): everything
/// the dashboard shows but the organization's name, which the session holds.
#[derive(sqlx::FromRow, serde::Deserialize)]
pub struct DashboardRecord {
    agents: i64,
    calls_24h: i64,
    calls_7d: i64,
    completed_7d: i64,
    completed_seconds_7d: i64,
    first_day: NaiveDate,
    /// The days from `first_day` on that had calls, and their counts, in no set order.
    days: Vec<NaiveDate>,
    day_calls: Vec<i32>,
    latest: Vec<CallRecord>,
}

/// How many days the dashboard's chart shows, `first_day` to today.
const CHART_DAYS: usize = 30;

impl DashboardRecord {
    /// The dashboard of the organization named `organization_name`.
    pub fn into_dashboard(self, organization_name: String) -> Dashboard {
        let r = self;
        let mut counts = [0_i64; CHART_DAYS];
        for (day, calls) in r.days.iter().zip(&r.day_calls) {
            let slot = usize::try_from((*day - r.first_day).num_days()).ok();
            if let Some(count) = slot.and_then(|i| counts.get_mut(i)) {
                *count = i64::from(*calls);
            }
        }
        let ratio = |part: i64, whole: i64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        Dashboard {
            organization_name,
            agents: r.agents,
            calls_24h: r.calls_24h,
            calls_7d: r.calls_7d,
            avg_duration_7d: ratio(r.completed_seconds_7d, r.completed_7d).round(),
            answer_rate_7d: (ratio(r.completed_7d, r.calls_7d) * 1000.0).round() / 10.0,
            first_day: day_text(r.first_day),
            per_day: counts.to_vec(),
            latest: r.latest.into_iter().map(CallRow::from).collect(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CallDetailRecord {
    #[sqlx(flatten)]
    call: CallRecord,
    transcript: serde_json::Value,
    recording_url: Option<String>,
}

const CALL_COLUMNS: &str =
    "c.id, c.agent_id, a.name as agent_name, c.direction, c.from_number, c.to_number,
     c.started_at, c.duration_seconds, c.status, c.sentiment, c.summary";

/// `started_at` (µs since the epoch) and id of the last row shown: the keyset position.
pub fn encode_cursor(started_at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{}", started_at.timestamp_micros(), id.simple())
}

pub fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (micros, id) = cursor.split_once('_')?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?;
    Some((at, Uuid::parse_str(id).ok()?))
}

fn parse_day(day: Option<&str>, field: &str) -> Result<Option<NaiveDate>, AppError> {
    match day.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::BadRequest(format!("{field} must be a date like 2026-01-31."))),
    }
}

/// A calls filter whose every part has been checked (both backends take this).
pub struct ValidFilter {
    pub agent: Option<Uuid>,
    pub status: Option<String>,
    pub direction: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub q: Option<String>,
}

impl ValidFilter {
    pub fn parse(filter: &CallFilter) -> Result<Self, AppError> {
        let status = filter.status.clone().filter(|s| !s.is_empty());
        if status
            .as_deref()
            .is_some_and(|s| !["completed", "missed", "failed", "voicemail"].contains(&s))
        {
            return Err(AppError::BadRequest("Unknown call status.".to_owned()));
        }
        let direction = filter.direction.clone().filter(|s| !s.is_empty());
        if direction
            .as_deref()
            .is_some_and(|d| d != "inbound" && d != "outbound")
        {
            return Err(AppError::BadRequest("Unknown call direction.".to_owned()));
        }
        let q = filter
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_owned);
        if q.as_deref()
            .is_some_and(|q| q.chars().count() > 200 || q.contains('\0'))
        {
            return Err(AppError::BadRequest(
                "Search for at most 200 characters.".to_owned(),
            ));
        }
        Ok(Self {
            agent: filter.agent,
            status,
            direction,
            from: parse_day(filter.from.as_deref(), "From")?,
            to: parse_day(filter.to.as_deref(), "To")?,
            q,
        })
    }
}

impl OrgStore {
    /// The store for this request's signed-in user (401 without one).
    pub fn for_request() -> Result<Self, AppError> {
        let auth = require_user()?;
        let state = app_state()?;
        Ok(Self {
            pool: state.pool,
            auth,
            rest: state.org_rest,
        })
    }

    /// For tests and tools that already hold a user.
    pub fn for_user(pool: PgPool, auth: Authenticated, rest: Option<Arc<RestBackend>>) -> Self {
        Self { pool, auth, rest }
    }

    pub fn user(&self) -> &Authenticated {
        &self.auth
    }

    /// The organization the user works in now, if the user is (still) a member of it: the
    /// session reads the role from the user's membership of it.
    pub fn current_org(&self) -> Result<Uuid, AppError> {
        match (&self.auth.user.organization_id, &self.auth.user.role) {
            (Some(org), Some(_)) => Ok(*org),
            _ => Err(AppError::NotFound),
        }
    }

    async fn tx(&self) -> Result<RlsTx, AppError> {
        RlsTx::begin(&self.pool, &self.auth).await
    }

    /// The dashboard: one statement (`public.org_dashboard_figures`) whatever the backend,
    /// and the organization's name from the session. The statement reads under RLS, so for
    /// an organization the user is not a member of it would count nothing; `current_org`
    /// refuses such an organization first.
    pub async fn dashboard(&self) -> Result<Dashboard, AppError> {
        let org = self.current_org()?;
        let record = match &self.rest {
            Some(rest) => rest.dashboard(&self.auth.user, org).await?,
            // One statement that becomes the user and reads (see the migration of
            // `app_private.org_dashboard_figures_as`): run outside a transaction, it is its
            // own, so the role and claims end with it, as an `RlsTx`'s do at commit.
            None => {
                let (claims, sub) = super::rls::claims(&self.auth);
                sqlx::query_as("select * from app_private.org_dashboard_figures_as($1, $2, $3)")
                    .bind(claims)
                    .bind(sub)
                    .bind(org)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(refused)?
            }
        };
        let name = self.auth.user.organization_name.clone().unwrap_or_default();
        record
            .map(|r| r.into_dashboard(name))
            .ok_or(AppError::NotFound)
    }

    pub async fn list_agents(&self, search: &str) -> Result<Vec<Agent>, AppError> {
        let org = self.current_org()?;
        if let Some(rest) = &self.rest {
            return Ok(rest
                .list_agents(&self.auth.user, org, search)
                .await?
                .into_iter()
                .map(Agent::from)
                .collect());
        }
        let pattern = format!("%{}%", escape_like(search.trim()));
        let mut tx = self.tx().await?;
        let rows: Vec<AgentRecord> = sqlx::query_as(&format!(
            "select {AGENT_COLUMNS} from public.agents
             where organization_id = $1 and (name ilike $2 or coalesce(phone_number, '') ilike $2)
             order by name, id limit 500"
        ))
        .bind(org)
        .bind(pattern)
        .fetch_all(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Agent::from).collect())
    }

    pub async fn get_agent(&self, id: Uuid) -> Result<Agent, AppError> {
        if let Some(rest) = &self.rest {
            return rest
                .get_agent(&self.auth.user, id)
                .await?
                .map(Agent::from)
                .ok_or(AppError::NotFound);
        }
        let mut tx = self.tx().await?;
        let row: Option<AgentRecord> = sqlx::query_as(&format!(
            "select {AGENT_COLUMNS} from public.agents where id = $1"
        ))
        .bind(id)
        .fetch_optional(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        row.map(Agent::from).ok_or(AppError::NotFound)
    }

    pub async fn create_agent(&self, input: &AgentInput) -> Result<Agent, AppError> {
        let org = self.current_org()?;
        if let Some(rest) = &self.rest {
            return Ok(rest.create_agent(&self.auth.user, org, input).await?.into());
        }
        let mut tx = self.tx().await?;
        let row: AgentRecord = bind_agent_input(sqlx::query_as(&format!(
            "insert into public.agents (organization_id, name, greeting, instructions, voice, language, phone_number)
             values ($1, $2, $3, $4, $5, $6, $7) returning {AGENT_COLUMNS}"
        ))
        .bind(org), input)
        .fetch_one(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        Ok(row.into())
    }

    pub async fn update_agent(&self, id: Uuid, input: &AgentInput) -> Result<Agent, AppError> {
        if let Some(rest) = &self.rest {
            let body = serde_json::json!({
                "name": input.name, "greeting": input.greeting, "instructions": input.instructions,
                "voice": input.voice, "language": input.language, "phone_number": input.phone_number,
            });
            return rest
                .update_agent(&self.auth.user, id, body)
                .await?
                .map(Agent::from)
                .ok_or(AppError::NotFound);
        }
        let mut tx = self.tx().await?;
        let row: Option<AgentRecord> = bind_agent_input(sqlx::query_as(&format!(
            "update public.agents set name = $2, greeting = $3, instructions = $4, voice = $5, language = $6,
                    phone_number = $7
             where id = $1 returning {AGENT_COLUMNS}"
        ))
        .bind(id), input)
        .fetch_optional(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        row.map(Agent::from).ok_or(AppError::NotFound)
    }

    pub async fn set_agent_status(&self, id: Uuid, status: &str) -> Result<Agent, AppError> {
        if let Some(rest) = &self.rest {
            let body = serde_json::json!({ "status": status });
            return rest
                .update_agent(&self.auth.user, id, body)
                .await?
                .map(Agent::from)
                .ok_or(AppError::NotFound);
        }
        let mut tx = self.tx().await?;
        let row: Option<AgentRecord> = sqlx::query_as(&format!(
            "update public.agents set status = $2 where id = $1 returning {AGENT_COLUMNS}"
        ))
        .bind(id)
        .bind(status)
        .fetch_optional(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        row.map(Agent::from).ok_or(AppError::NotFound)
    }

    pub async fn delete_agent(&self, id: Uuid) -> Result<(), AppError> {
        if let Some(rest) = &self.rest {
            return if rest.delete_agent(&self.auth.user, id).await? {
                Ok(())
            } else {
                Err(AppError::NotFound)
            };
        }
        let mut tx = self.tx().await?;
        let deleted: Option<Uuid> =
            sqlx::query_scalar("delete from public.agents where id = $1 returning id")
                .bind(id)
                .fetch_optional(tx.conn())
                .await
                .map_err(refused)?;
        tx.commit().await?;
        deleted.map(|_| ()).ok_or(AppError::NotFound)
    }

    pub async fn list_calls(
        &self,
        filter: &CallFilter,
        cursor: Option<&str>,
    ) -> Result<CallPage, AppError> {
        let org = self.current_org()?;
        let after =
            match cursor.map(str::trim).filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                    AppError::BadRequest("That page link is not valid.".to_owned())
                })?),
            };
        let filter = ValidFilter::parse(filter)?;
        let records = match &self.rest {
            Some(rest) => {
                rest.list_calls(&self.auth.user, org, &filter, after)
                    .await?
            }
            None => self.pg_list_calls(org, &filter, after).await?,
        };
        let has_more = records.len() as i64 > CALLS_PAGE_SIZE;
        let mut records = records;
        records.truncate(CALLS_PAGE_SIZE as usize);
        let next_cursor = if has_more {
            records.last().map(|r| encode_cursor(r.started_at, r.id))
        } else {
            None
        };
        Ok(CallPage {
            calls: records.into_iter().map(CallRow::from).collect(),
            next_cursor,
        })
    }

    /// One statement per combination of filters present, each only with its own
    /// conditions. A single statement with `$n is null or …` for every filter had to be
    /// planned again on every call (its generic plan reads every call of the
    /// organization), and at 1M calls planning took 0.65 ms against 0.13 ms to run it
    /// (0.14 ms at 10k calls: the calls page's growth; see the README, "Measured"). These
    /// statements get a generic plan, kept per connection, that reads only the page.
    async fn pg_list_calls(
        &self,
        org: Uuid,
        filter: &ValidFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
    ) -> Result<Vec<CallRecord>, AppError> {
        let mut query = sqlx::QueryBuilder::new(format!(
            "select {CALL_COLUMNS} from public.calls c left join public.agents a on a.id = c.agent_id
             where c.organization_id = "
        ));
        query.push_bind(org);
        if let Some((at, id)) = after {
            query.push(" and (c.started_at, c.id) < (");
            query.push_bind(at).push(", ").push_bind(id).push(")");
        }
        if let Some(agent) = filter.agent {
            query.push(" and c.agent_id = ").push_bind(agent);
        }
        if let Some(status) = &filter.status {
            query.push(" and c.status = ").push_bind(status);
        }
        if let Some(direction) = &filter.direction {
            query.push(" and c.direction = ").push_bind(direction);
        }
        if let Some(from) = filter.from {
            query.push(" and c.started_at >= (");
            query
                .push_bind(from)
                .push("::date)::timestamp at time zone 'utc'");
        }
        if let Some(to) = filter.to {
            query.push(" and c.started_at < (");
            query
                .push_bind(to)
                .push("::date + 1)::timestamp at time zone 'utc'");
        }
        if let Some(q) = &filter.q {
            query
                .push(" and to_tsvector('english', c.summary) @@ websearch_to_tsquery('english', ");
            query.push_bind(q).push(")");
        }
        // The limit is written into the statement, not bound: with `limit $n` the generic
        // plan is costed for an unknown limit (a tenth of the organization's calls), so at
        // 1M calls PostgreSQL judged it worse than a custom plan and planned the statement
        // again on every call (0.18 ms of planning, measured; see the README, "Measured").
        query.push(format_args!(
            " order by c.started_at desc, c.id desc limit {}",
            CALLS_PAGE_SIZE + 1
        ));
        let mut tx = self.tx().await?;
        let records: Vec<CallRecord> = query
            .build_query_as()
            .fetch_all(tx.conn())
            .await
            .map_err(refused)?;
        tx.commit().await?;
        Ok(records)
    }

    pub async fn get_call(&self, id: Uuid) -> Result<CallDetail, AppError> {
        let (mut call, transcript, recording_url) = match &self.rest {
            Some(rest) => rest.get_call(&self.auth.user, id).await?,
            None => {
                let mut tx = self.tx().await?;
                let row: Option<CallDetailRecord> = sqlx::query_as(&format!(
                    "select {CALL_COLUMNS}, c.transcript, c.recording_url
                     from public.calls c left join public.agents a on a.id = c.agent_id where c.id = $1"
                ))
                .bind(id)
                .fetch_optional(tx.conn())
                .await
                .map_err(refused)?;
                tx.commit().await?;
                row.map(|r| (r.call, r.transcript, r.recording_url))
            }
        }
        .ok_or(AppError::NotFound)?;
        // A transcript that is not the expected shape shows as none rather than failing.
        let transcript: Vec<TranscriptLine> =
            serde_json::from_value(transcript).unwrap_or_default();
        Ok(CallDetail {
            agent_id: call.agent_id,
            to_number: std::mem::take(&mut call.to_number),
            sentiment: call.sentiment.take(),
            call: call.into(),
            transcript,
            recording_url,
        })
    }

    pub async fn rename_organization(&self, name: &str) -> Result<(), AppError> {
        let org = self.current_org()?;
        if let Some(rest) = &self.rest {
            return if rest.rename_organization(&self.auth.user, org, name).await? {
                Ok(())
            } else {
                Err(AppError::Forbidden)
            };
        }
        let mut tx = self.tx().await?;
        let updated: Option<Uuid> = sqlx::query_scalar(
            "update public.organizations set name = $2 where id = $1 returning id",
        )
        .bind(org)
        .bind(name)
        .fetch_optional(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        // Visible but not renamed: the policy allows owners only.
        updated.map(|_| ()).ok_or(AppError::Forbidden)
    }

    pub async fn members(&self) -> Result<Vec<Member>, AppError> {
        let org = self.current_org()?;
        if let Some(rest) = &self.rest {
            return rest.members(&self.auth.user, org).await;
        }
        let mut tx = self.tx().await?;
        let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
            "select user_id, email, full_name, role from public.organization_members($1)",
        )
        .bind(org)
        .fetch_all(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, email, full_name, role)| Member {
                user_id,
                email,
                full_name,
                role,
            })
            .collect())
    }

    pub async fn my_organizations(&self) -> Result<Vec<OrgChoice>, AppError> {
        if let Some(rest) = &self.rest {
            return rest.my_organizations(&self.auth.user).await;
        }
        let current = self.auth.user.organization_id;
        let mut tx = self.tx().await?;
        let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
            "select o.id, o.name, m.role from public.memberships m
             join public.organizations o on o.id = m.organization_id
             where m.user_id = (select auth.uid()) order by o.name, o.id",
        )
        .fetch_all(tx.conn())
        .await
        .map_err(refused)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, role)| OrgChoice {
                current: Some(id) == current,
                id,
                name,
                role,
            })
            .collect())
    }

    pub async fn switch_organization(&self, org: Uuid) -> Result<(), AppError> {
        if let Some(rest) = &self.rest {
            return match rest.switch_organization(&self.auth.user, org).await {
                Ok(true) => Ok(()),
                Ok(false) | Err(AppError::Forbidden) => Err(AppError::NotFound),
                Err(other) => Err(other),
            };
        }
        let mut tx = self.tx().await?;
        let updated: Option<Uuid> = sqlx::query_scalar(
            "update public.profiles set organization_id = $1 where id = (select auth.uid()) returning id",
        )
        .bind(org)
        .fetch_optional(tx.conn())
        .await
        .map_err(|e| match refused(e) {
            AppError::Forbidden => AppError::NotFound,
            other => other,
        })?;
        tx.commit().await?;
        updated.map(|_| ()).ok_or(AppError::NotFound)
    }
}

/// Binds the six agent form fields, in the order the insert and update statements list them.
fn bind_agent_input<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    input: &'q AgentInput,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(&input.name)
        .bind(&input.greeting)
        .bind(&input.instructions)
        .bind(&input.voice)
        .bind(&input.language)
        .bind(&input.phone_number)
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::<Utc>::from_timestamp_micros(1_790_000_000_123_456).expect("time");
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)), Some((at, id)));
        for bad in [
            "",
            "x_y",
            "123",
            "123_notauuid",
            "'; drop table calls; --_00000000000000000000000000000000",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_and_days_are_zero_padded_utc() {
        let at = DateTime::<Utc>::from_timestamp(1_767_312_300, 0).expect("time");
        assert_eq!(time(at), at.format("%Y-%m-%d %H:%M UTC").to_string());
        assert_eq!(time(at), "2026-01-02 00:05 UTC");
        let day = NaiveDate::from_ymd_opt(987, 3, 4).expect("day");
        assert_eq!(day_text(day), "0987-03-04");
    }

    #[test]
    fn each_day_lands_in_its_slot_and_days_outside_the_chart_are_left_out() {
        let date = |d: u32| NaiveDate::from_ymd_opt(2026, 1, d).expect("day");
        let after = NaiveDate::from_ymd_opt(2026, 2, 1).expect("day");
        let record = DashboardRecord {
            agents: 0,
            calls_24h: 0,
            calls_7d: 0,
            completed_7d: 0,
            completed_seconds_7d: 0,
            first_day: date(2),
            // Out of order, with one day before the chart and one after it.
            days: vec![date(31), date(1), date(2), after, date(3)],
            day_calls: vec![9, 8, 5, 7, 6],
            latest: Vec::new(),
        };
        let dashboard = record.into_dashboard("Org".to_owned());
        assert_eq!(dashboard.organization_name, "Org");
        assert_eq!(dashboard.first_day, "2026-01-02");
        let per_day = dashboard.per_day;
        assert_eq!(per_day.len(), CHART_DAYS);
        assert_eq!((per_day[0], per_day[1], per_day[29]), (5, 6, 9));
        assert_eq!(per_day.iter().sum::<i64>(), 20);
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("100%_a\\"), "100\\%\\_a\\\\");
    }
}
