//! Organization settings: the name (owners rename) and the members with their roles.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::components::data::ErrorView;
use crate::components::forms::{error_of, FormError, Notice, ServerForm, SubmitButton};
use crate::components::guard::RequireAuth;
use crate::org::api::{organization_members, RenameOrganization};
use crate::org::role_at_least;
use crate::providers::auth::use_auth;
use crate::resource::data;

#[component]
pub fn OrganizationSettingsPage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let rename = ServerAction::<RenameOrganization>::new();
    let members = data(move || rename.version().get(), |_| organization_members());
    let notice = Signal::derive(move || {
        (query.read().get("notice").as_deref() == Some("renamed"))
            .then_some("The organization was renamed.")
    });
    let is_owner = move || {
        auth.with_user(|u| role_at_least(u.role.as_deref(), "owner"))
            .unwrap_or(false)
    };
    let name = move || {
        auth.with_user(|u| u.organization_name.clone())
            .flatten()
            .unwrap_or_default()
    };
    view! {
        <Title text="Organization settings"/>
        <RequireAuth>
            <section aria-labelledby="org-title">
                <h1 id="org-title">"Organization"</h1>
                <nav class="tabs" aria-label="Settings"><a href="/settings/account">"Password"</a><a href="/settings/sessions">"Sessions"</a><a href="/settings/organization" aria-current="page">"Organization"</a></nav>
                <Notice text=notice/>
                <Show when=is_owner fallback=move || view! { <p>"Name: " <strong>{name}</strong></p> }>
                    <ServerForm action=rename attr:class="inline-form">
                        <label for="org-name">"Organization name"</label>
                        <input id="org-name" name="name" type="text" required maxlength="100" value=name/>
                        <SubmitButton pending=rename.pending() label="Rename" busy="Saving…"/>
                    </ServerForm>
                    <FormError error=error_of(rename)/>
                </Show>
                <h2>"Members"</h2>
                    {move || members.get().map(|result| match result {
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                        Ok(list) => view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|m| view! {
                                        <tr data-testid="member-row"><td>{m.full_name}</td><td>{m.email}</td><td>{m.role}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
            </section>
        </RequireAuth>
    }
}
