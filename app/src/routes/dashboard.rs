//! The first signed-in page.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::guard::RequireAuth;
use crate::providers::auth::use_auth;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Title text="Dashboard"/>
        <RequireAuth>
            {move || auth.signed_in().map(|user| {
                let greeting = if user.full_name.is_empty() { "Welcome".to_owned() } else { format!("Welcome, {}", user.full_name) };
                view! {
                    <section aria-labelledby="dashboard-title">
                        <h1 id="dashboard-title">{greeting}</h1>
                        <dl class="facts">
                            <dt>"Organization"</dt>
                            <dd data-testid="organization-name">{user.organization_name.clone().unwrap_or_default()}</dd>
                            <dt>"Signed in as"</dt>
                            <dd data-testid="user-email">{user.email.clone()}</dd>
                            <dt>"Your role"</dt>
                            <dd>{user.role.clone().unwrap_or_default()}</dd>
                        </dl>
                        <p class="muted">"Agents and calls arrive here next."</p>
                    </section>
                }
            })}
        </RequireAuth>
    }
}
