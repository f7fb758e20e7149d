//! Server functions for organization data. Each one builds its `OrgStore` from the
//! session (401 without one), checks the user's role for writes (RLS refuses anyway), and
//! never reaches the pool any other way.

use leptos::prelude::*;
use uuid::Uuid;

use super::{Agent, CallDetail, CallFilter, CallPage, Dashboard, Member, OrgChoice};
use crate::components::forms::{Fields, FromFields};
use crate::errors::AppError;

pub const VOICES: &[&str] = &["alloy", "aria", "echo", "nova", "sage", "verse"];
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en-US", "English (US)"),
    ("en-GB", "English (UK)"),
    ("es-ES", "Spanish"),
    ("fr-FR", "French"),
    ("de-DE", "German"),
    ("pt-BR", "Portuguese (Brazil)"),
];

#[cfg(feature = "ssr")]
mod guard {
    use super::super::{role_at_least, AgentInput};
    use super::{LANGUAGES, VOICES};
    use crate::auth::server::{clean_text, fail};
    use crate::errors::AppError;
    use crate::org::store::OrgStore;

    pub fn store() -> Result<OrgStore, AppError> {
        OrgStore::for_request()
    }

    /// Refuses (403) unless the user's role in the current organization is at least `min`.
    pub fn require_role(store: &OrgStore, min: &str) -> Result<(), AppError> {
        if role_at_least(store.user().user.role.as_deref(), min) {
            Ok(())
        } else {
            Err(fail(AppError::Forbidden))
        }
    }

    /// `+` and 7 to 15 digits; spaces, dashes, dots and brackets are dropped. Empty: none.
    pub fn phone_number(raw: &str) -> Result<Option<String>, AppError> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        if compact.is_empty() {
            return Ok(None);
        }
        let digits = compact.strip_prefix('+').unwrap_or("");
        let valid = (7..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Some(compact))
        } else {
            Err(AppError::BadRequest(
                "Enter the phone number in international format, like +14155550123.".to_owned(),
            ))
        }
    }

    pub fn agent_input(
        name: &str,
        greeting: &str,
        instructions: &str,
        voice: &str,
        language: &str,
        phone: &str,
    ) -> Result<AgentInput, AppError> {
        let name = clean_text(name, "Name", true, 80)?;
        let greeting = clean_text(greeting, "Greeting", false, 500)?;
        let instructions = instructions.trim();
        if instructions.chars().count() > 4000 || instructions.contains('\0') {
            return Err(AppError::BadRequest(
                "Instructions must be at most 4,000 characters.".to_owned(),
            ));
        }
        if !VOICES.contains(&voice) {
            return Err(AppError::BadRequest(
                "Choose one of the listed voices.".to_owned(),
            ));
        }
        if !LANGUAGES.iter().any(|(code, _)| *code == language) {
            return Err(AppError::BadRequest(
                "Choose one of the listed languages.".to_owned(),
            ));
        }
        Ok(AgentInput {
            name,
            greeting,
            instructions: instructions.to_owned(),
            voice: voice.to_owned(),
            language: language.to_owned(),
            phone_number: phone_number(phone)?,
        })
    }
}

#[server(prefix = "/api/org", endpoint = "dashboard")]
pub async fn dashboard_data() -> Result<Dashboard, AppError> {
    use crate::auth::server::fail;
    guard::store()?.dashboard().await.map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "agents")]
pub async fn list_agents(q: Option<String>) -> Result<Vec<Agent>, AppError> {
    use crate::auth::server::fail;
    let q = q.unwrap_or_default();
    if q.chars().count() > 100 || q.contains('\0') {
        return Err(fail(AppError::BadRequest(
            "Search for at most 100 characters.".to_owned(),
        )));
    }
    guard::store()?.list_agents(&q).await.map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "agent")]
pub async fn get_agent(id: Uuid) -> Result<Agent, AppError> {
    use crate::auth::server::fail;
    guard::store()?.get_agent(id).await.map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "create_agent")]
pub async fn create_agent(
    name: String,
    greeting: String,
    instructions: String,
    voice: String,
    language: String,
    phone_number: String,
) -> Result<Agent, AppError> {
    use crate::auth::server::fail;
    let store = guard::store()?;
    guard::require_role(&store, "member")?;
    let input = guard::agent_input(
        &name,
        &greeting,
        &instructions,
        &voice,
        &language,
        &phone_number,
    )
    .map_err(fail)?;
    let agent = store.create_agent(&input).await.map_err(fail)?;
    leptos_axum::redirect(&format!("/agents/{}?notice=created", agent.id));
    Ok(agent)
}

#[server(prefix = "/api/org", endpoint = "update_agent")]
pub async fn update_agent(
    id: Uuid,
    name: String,
    greeting: String,
    instructions: String,
    voice: String,
    language: String,
    phone_number: String,
) -> Result<Agent, AppError> {
    use crate::auth::server::fail;
    let store = guard::store()?;
    guard::require_role(&store, "member")?;
    let input = guard::agent_input(
        &name,
        &greeting,
        &instructions,
        &voice,
        &language,
        &phone_number,
    )
    .map_err(fail)?;
    let agent = store.update_agent(id, &input).await.map_err(fail)?;
    leptos_axum::redirect(&format!("/agents/{}?notice=saved", agent.id));
    Ok(agent)
}

#[server(prefix = "/api/org", endpoint = "set_agent_status")]
pub async fn set_agent_status(id: Uuid, status: String) -> Result<Agent, AppError> {
    use crate::auth::server::fail;
    let store = guard::store()?;
    guard::require_role(&store, "member")?;
    if status != "active" && status != "paused" {
        return Err(fail(AppError::BadRequest(
            "Status must be active or paused.".to_owned(),
        )));
    }
    let agent = store.set_agent_status(id, &status).await.map_err(fail)?;
    leptos_axum::redirect(&format!("/agents/{}", agent.id));
    Ok(agent)
}

#[server(prefix = "/api/org", endpoint = "delete_agent")]
pub async fn delete_agent(id: Uuid, confirm: Option<String>) -> Result<(), AppError> {
    use crate::auth::server::fail;
    let store = guard::store()?;
    guard::require_role(&store, "admin")?;
    if confirm.as_deref() != Some("yes") {
        return Err(fail(AppError::BadRequest(
            "Tick the box to confirm the deletion.".to_owned(),
        )));
    }
    store.delete_agent(id).await.map_err(fail)?;
    leptos_axum::redirect("/agents?notice=deleted");
    Ok(())
}

#[server(prefix = "/api/org", endpoint = "calls")]
pub async fn list_calls(
    #[server(default)] filter: CallFilter,
    cursor: Option<String>,
) -> Result<CallPage, AppError> {
    use crate::auth::server::fail;
    guard::store()?
        .list_calls(&filter, cursor.as_deref())
        .await
        .map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "call")]
pub async fn get_call(id: Uuid) -> Result<CallDetail, AppError> {
    use crate::auth::server::fail;
    guard::store()?.get_call(id).await.map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "members")]
pub async fn organization_members() -> Result<Vec<Member>, AppError> {
    use crate::auth::server::fail;
    guard::store()?.members().await.map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "rename")]
pub async fn rename_organization(name: String) -> Result<(), AppError> {
    use crate::auth::server::{app_state, clean_text, fail};
    let store = guard::store()?;
    guard::require_role(&store, "owner")?;
    let name = clean_text(&name, "Organization name", true, 100).map_err(fail)?;
    store.rename_organization(&name).await.map_err(fail)?;
    // What sessions show of it, forgotten on this instance before the browser's next
    // request (on the others when PostgreSQL notifies).
    app_state()?
        .sessions
        .forget_organization(store.current_org()?);
    leptos_axum::redirect("/settings/organization?notice=renamed");
    Ok(())
}

#[server(prefix = "/api/org", endpoint = "mine")]
pub async fn my_organizations() -> Result<Vec<OrgChoice>, AppError> {
    use crate::auth::server::fail;
    guard::store()?.my_organizations().await.map_err(fail)
}

#[server(prefix = "/api/org", endpoint = "switch")]
pub async fn switch_organization(id: Uuid) -> Result<(), AppError> {
    use crate::auth::server::{app_state, fail};
    let store = guard::store()?;
    store.switch_organization(id).await.map_err(fail)?;
    app_state()?.sessions.forget_user(store.user().user.id);
    leptos_axum::redirect("/dashboard");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The forms' fields (see `components::forms::FromFields`): the same names the server
// decodes from a form posted without JavaScript.

impl FromFields for CreateAgent {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            name: f.text("name")?,
            greeting: f.text("greeting")?,
            instructions: f.text("instructions")?,
            voice: f.text("voice")?,
            language: f.text("language")?,
            phone_number: f.text("phone_number")?,
        })
    }
}

/// The agent form's fields plus the agent's id.
impl FromFields for UpdateAgent {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        let CreateAgent {
            name,
            greeting,
            instructions,
            voice,
            language,
            phone_number,
        } = CreateAgent::from_fields(f)?;
        Ok(Self {
            id: f.uuid("id")?,
            name,
            greeting,
            instructions,
            voice,
            language,
            phone_number,
        })
    }
}

impl FromFields for SetAgentStatus {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            id: f.uuid("id")?,
            status: f.text("status")?,
        })
    }
}

impl FromFields for DeleteAgent {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            id: f.uuid("id")?,
            confirm: f.optional("confirm"),
        })
    }
}

impl FromFields for RenameOrganization {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            name: f.text("name")?,
        })
    }
}

impl FromFields for SwitchOrganization {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self { id: f.uuid("id")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::forms::assert_reads_fields_by_name as reads;

    #[test]
    fn every_form_reads_the_fields_the_server_decodes() {
        let agent = [
            "name",
            "greeting",
            "instructions",
            "voice",
            "language",
            "phone_number",
        ];
        reads::<CreateAgent>(&agent);
        reads::<UpdateAgent>(&[&["id"][..], &agent[..]].concat());
        reads::<SetAgentStatus>(&["id", "status"]);
        reads::<DeleteAgent>(&["id", "confirm"]);
        reads::<RenameOrganization>(&["name"]);
        reads::<SwitchOrganization>(&["id"]);
    }
}
