//! Organization data (agents, calls, the dashboard, members): the types the browser sees,
//! the server functions, and (ssr) the only path to the data: a store bound to the
//! session user, whose queries PostgreSQL's Row-Level Security checks.

pub mod api;
#[cfg(feature = "ssr")]
pub mod rest;
#[cfg(feature = "ssr")]
pub mod rls;
#[cfg(feature = "ssr")]
pub mod store;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

/// Whether `role` is at least `min` (viewer < member < admin < owner).
pub fn role_at_least(role: Option<&str>, min: &str) -> bool {
    let rank = |r: &str| ROLES.iter().position(|x| *x == r);
    match (role.and_then(rank), rank(min)) {
        (Some(have), Some(need)) => have >= need,
        _ => false,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub greeting: String,
    pub instructions: String,
    pub voice: String,
    pub language: String,
    pub phone_number: Option<String>,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What a person types into the agent form (already validated when it reaches a store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInput {
    pub name: String,
    pub greeting: String,
    pub instructions: String,
    pub voice: String,
    pub language: String,
    pub phone_number: Option<String>,
}

/// A call as the lists show it (the calls page, the dashboard's latest calls): what their
/// rows show and nothing more. A list's rows travel twice, in the page's HTML and in the
/// JSON the page hydrates from; the fields only a call's own page shows are in
/// [`CallDetail`] (they were a quarter of the dashboard's JSON; see the README, "Measured").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRow {
    pub id: Uuid,
    pub agent_name: Option<String>,
    pub direction: String,
    pub from_number: String,
    pub started_at: String,
    pub duration_seconds: i32,
    pub status: String,
    pub summary: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub speaker: String,
    pub text: String,
    pub at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallDetail {
    pub call: CallRow,
    pub agent_id: Option<Uuid>,
    pub to_number: String,
    pub sentiment: Option<String>,
    pub transcript: Vec<TranscriptLine>,
    pub recording_url: Option<String>,
}

/// Filters of the calls list (all optional; the URL's query string carries them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFilter {
    pub agent: Option<Uuid>,
    pub status: Option<String>,
    pub direction: Option<String>,
    /// Inclusive start date, `YYYY-MM-DD` (UTC).
    pub from: Option<String>,
    /// Inclusive end date, `YYYY-MM-DD` (UTC).
    pub to: Option<String>,
    /// Words to find in summaries.
    pub q: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPage {
    pub calls: Vec<CallRow>,
    /// Opaque position after the last row, when there are more.
    pub next_cursor: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub organization_name: String,
    pub agents: i64,
    pub calls_24h: i64,
    pub calls_7d: i64,
    pub avg_duration_7d: f64,
    pub answer_rate_7d: f64,
    /// The chart's first day, `YYYY-MM-DD` (UTC): 29 days before today.
    pub first_day: String,
    /// The calls of each day from `first_day` on, 30 days, oldest first. Counts alone,
    /// the days following from `first_day`: as 30 `["2026-11-05",24]` pairs they were a
    /// tenth of the dashboard's JSON.
    pub per_day: Vec<i64>,
    pub latest: Vec<CallRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgChoice {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub current: bool,
}

#[cfg(test)]
mod tests {
    use super::role_at_least;

    #[test]
    fn roles_are_ordered() {
        assert!(role_at_least(Some("owner"), "admin"));
        assert!(role_at_least(Some("member"), "member"));
        assert!(!role_at_least(Some("viewer"), "member"));
        assert!(!role_at_least(None, "viewer"));
        assert!(!role_at_least(Some("root"), "viewer"));
    }
}
