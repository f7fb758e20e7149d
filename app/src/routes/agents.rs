//! Agents: the list with search, the new-agent form, and one agent (view, edit, pause or
//! resume, delete). Only what the user's role allows is offered; the server refuses the
//! rest anyway.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use uuid::Uuid;

use crate::components::data::{ErrorView, StatusBadge};
use crate::components::forms::{error_of, FormError, Notice, ServerForm, SubmitButton};
use crate::components::guard::RequireAuth;
use crate::errors::AppError;
use crate::org::api::{
    get_agent, list_agents, CreateAgent, DeleteAgent, SetAgentStatus, UpdateAgent, LANGUAGES,
    VOICES,
};
use crate::org::{role_at_least, Agent};
use crate::providers::auth::use_auth;
use crate::resource::data;

fn can(min: &'static str) -> impl Fn() -> bool + Copy + Send + Sync + 'static {
    let auth = use_auth();
    move || {
        auth.with_user(|u| role_at_least(u.role.as_deref(), min))
            .unwrap_or(false)
    }
}

#[component]
pub fn AgentsPage() -> impl IntoView {
    let query = use_query_map();
    let q = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let notice = Signal::derive(move || {
        (query.read().get("notice").as_deref() == Some("deleted"))
            .then_some("The agent was deleted.")
    });
    let agents = data(move || q.get(), |q| list_agents(Some(q)));
    let can_create = can("member");
    view! {
        <Title text="Agents"/>
        <RequireAuth>
            <section aria-labelledby="agents-title">
                <div class="page-head">
                    <h1 id="agents-title">"Agents"</h1>
                    <Show when=can_create>
                        <a href="/agents/new" class="button button-primary">"New agent"</a>
                    </Show>
                </div>
                <Notice text=notice/>
                <form method="get" action="/agents" role="search" class="inline-form">
                    <label for="agent-search">"Search agents"</label>
                    <input id="agent-search" name="q" type="search" value=move || q.get() maxlength="100"/>
                    <button type="submit" class="button">"Search"</button>
                </form>
                    {move || agents.get().map(|result| match result {
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">{if q.get().is_empty() { "No agents yet." } else { "No agent matches that search." }}</p>
                        }.into_any(),
                        Ok(list) => view! { <AgentsTable agents=list/> }.into_any(),
                    })}
            </section>
        </RequireAuth>
    }
}

#[component]
fn AgentsTable(agents: Vec<Agent>) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Phone number"</th><th scope="col">"Voice"</th><th scope="col">"Language"</th><th scope="col">"Status"</th></tr></thead>
            <tbody>
                {agents.into_iter().map(|a| view! {
                    <tr data-testid="agent-row">
                        <td><a href=format!("/agents/{}", a.id)>{a.name.clone()}</a></td>
                        <td>{a.phone_number.clone().unwrap_or_else(|| "—".to_owned())}</td>
                        <td>{a.voice.clone()}</td>
                        <td>{a.language.clone()}</td>
                        <td><StatusBadge status=a.status.clone()/></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The inputs of the agent form (names are a contract: `name`, `greeting`,
/// `instructions`, `voice`, `language`, `phone_number`).
#[component]
fn AgentFields(#[prop(optional)] agent: Option<Agent>) -> impl IntoView {
    let a = agent.unwrap_or(Agent {
        id: Uuid::nil(),
        organization_id: Uuid::nil(),
        name: String::new(),
        greeting: "Hi, thanks for calling! How can I help you today?".to_owned(),
        instructions: String::new(),
        voice: VOICES[0].to_owned(),
        language: LANGUAGES[0].0.to_owned(),
        phone_number: None,
        status: "active".to_owned(),
        created_at: String::new(),
        updated_at: String::new(),
    });
    let voice = a.voice.clone();
    let language = a.language.clone();
    view! {
        <label for="name">"Name"</label>
        <input id="name" name="name" type="text" required maxlength="80" value=a.name.clone()/>
        <label for="greeting">"Greeting"</label>
        <input id="greeting" name="greeting" type="text" maxlength="500" value=a.greeting.clone()/>
        <label for="instructions">"Instructions"</label>
        <textarea id="instructions" name="instructions" rows="5" maxlength="4000">{a.instructions.clone()}</textarea>
        <label for="voice">"Voice"</label>
        <select id="voice" name="voice">
            {VOICES.iter().map(|v| view! { <option value=*v selected=voice == *v>{*v}</option> }).collect_view()}
        </select>
        <label for="language">"Language"</label>
        <select id="language" name="language">
            {LANGUAGES.iter().map(|(code, label)| view! { <option value=*code selected=language == *code>{*label}</option> }).collect_view()}
        </select>
        <label for="phone_number">"Phone number"</label>
        <input id="phone_number" name="phone_number" type="tel" maxlength="32" placeholder="+14155550123" value=a.phone_number.clone().unwrap_or_default()/>
    }
}

#[component]
pub fn NewAgentPage() -> impl IntoView {
    let action = ServerAction::<CreateAgent>::new();
    let allowed = can("member");
    view! {
        <Title text="New agent"/>
        <RequireAuth>
            <section class="auth-card" aria-labelledby="new-agent-title">
                <h1 id="new-agent-title">"New agent"</h1>
                <Show when=allowed fallback=|| view! { <ErrorView error=AppError::Forbidden/> }>
                    <ServerForm action=action>
                        <AgentFields/>
                        <FormError error=error_of(action)/>
                        <SubmitButton pending=action.pending() label="Create agent" busy="Creating…"/>
                    </ServerForm>
                </Show>
            </section>
        </RequireAuth>
    }
}

#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| Uuid::parse_str(&id).ok())
    });
    let update = ServerAction::<UpdateAgent>::new();
    let status = ServerAction::<SetAgentStatus>::new();
    let delete = ServerAction::<DeleteAgent>::new();
    let agent = data(
        move || (id.get(), update.version().get(), status.version().get()),
        |(id, _, _)| async move {
            match id {
                Some(id) => get_agent(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    let notice = Signal::derive(move || match query.read().get("notice").as_deref() {
        Some("created") => Some("The agent was created."),
        Some("saved") => Some("Your changes were saved."),
        _ => None,
    });
    let can_edit = can("member");
    let can_delete = can("admin");
    view! {
        <Title text="Agent"/>
        <RequireAuth>
                {move || agent.get().map(|result| match result {
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                    Ok(a) => {
                        let next_status = if a.status == "active" { "paused" } else { "active" };
                        let toggle_label = if a.status == "active" { "Pause agent" } else { "Resume agent" };
                        let id = a.id.to_string();
                        let (status_id, edit_id, delete_id) = (id.clone(), id.clone(), id);
                        let edited = a.clone();
                        view! {
                            <section aria-labelledby="agent-title">
                                <div class="page-head">
                                    <h1 id="agent-title">{a.name.clone()}</h1>
                                    <span data-testid="agent-status"><StatusBadge status=a.status.clone()/></span>
                                </div>
                                <Notice text=notice/>
                                <dl class="facts">
                                    <dt>"Phone number"</dt><dd>{a.phone_number.clone().unwrap_or_else(|| "—".to_owned())}</dd>
                                    <dt>"Voice"</dt><dd>{a.voice.clone()}</dd>
                                    <dt>"Language"</dt><dd>{a.language.clone()}</dd>
                                    <dt>"Greeting"</dt><dd>{a.greeting.clone()}</dd>
                                    <dt>"Updated"</dt><dd>{a.updated_at.clone()}</dd>
                                </dl>
                                {can_edit().then(move || view! {
                                    <ServerForm action=status attr:class="inline-form">
                                        <input type="hidden" name="id" value=status_id/>
                                        <input type="hidden" name="status" value=next_status/>
                                        <SubmitButton pending=status.pending() label=toggle_label busy="Saving…"/>
                                    </ServerForm>
                                    <FormError error=error_of(status)/>
                                    <h2>"Edit agent"</h2>
                                    <ServerForm action=update attr:class="card-form">
                                        <input type="hidden" name="id" value=edit_id/>
                                        <AgentFields agent=edited/>
                                        <FormError error=error_of(update)/>
                                        <SubmitButton pending=update.pending() label="Save changes" busy="Saving…"/>
                                    </ServerForm>
                                })}
                                {can_delete().then(move || view! {
                                    <details class="danger-zone">
                                        <summary>"Delete this agent"</summary>
                                        <ServerForm action=delete>
                                            <input type="hidden" name="id" value=delete_id/>
                                            <label class="checkbox"><input type="checkbox" name="confirm" value="yes" required/>" I understand this cannot be undone"</label>
                                            <FormError error=error_of(delete)/>
                                            <SubmitButton pending=delete.pending() label="Delete agent" busy="Deleting…" danger=true/>
                                        </ServerForm>
                                    </details>
                                })}
                                <p><a href="/agents">"All agents"</a></p>
                            </section>
                        }.into_any()
                    }
                })}
        </RequireAuth>
    }
}
