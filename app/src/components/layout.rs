//! The header shown on every page: the brand, and the session (who, which organization,
//! sign out) or the ways in.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::providers::auth::use_auth;

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"◎"</span>
                " Switchboard"
            </A>
            <Transition fallback=|| ()>
                {move || auth.user.get().map(|user| match user.ok().flatten() {
                    Some(user) => view! {
                        <nav aria-label="Account" class="account">
                            <A href="/dashboard">"Dashboard"</A>
                            <A href="/settings/account">"Settings"</A>
                            <span class="who">
                                <span data-testid="header-email">{user.email.clone()}</span>
                                <span class="muted" data-testid="header-organization">{user.organization_name.clone().unwrap_or_default()}</span>
                            </span>
                            <ActionForm action=auth.sign_out attr:class="inline-form">
                                <button type="submit" class="button">"Sign out"</button>
                            </ActionForm>
                        </nav>
                    }.into_any(),
                    None => view! {
                        <nav aria-label="Account">
                            <a href="/auth/signin">"Sign in"</a>
                            <a class="button button-primary" href="/auth/signup">"Get started"</a>
                        </nav>
                    }.into_any(),
                })}
            </Transition>
        </header>
    }
}
