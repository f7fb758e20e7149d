//! The header shown on every page.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"◎"</span>
                " Switchboard"
            </A>
            <nav aria-label="Account">
                <a href="/auth/signin">"Sign in"</a>
                <a class="button button-primary" href="/auth/signup">"Get started"</a>
            </nav>
        </header>
    }
}
