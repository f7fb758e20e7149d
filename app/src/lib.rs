//! Switchboard's user interface: the page shell, the routes and the server functions,
//! shared by the server (feature `ssr`) and the WASM bundle (feature `hydrate`).

pub mod auth;
pub mod components;
#[cfg(feature = "ssr")]
pub mod db;
pub mod errors;
pub mod org;
pub mod providers;
pub mod resource;
pub mod routes;
#[cfg(feature = "ssr")]
pub mod state;
pub mod text;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{FlatRoutes, Route, Router},
    Lazy, ParamSegment, SsrMode, StaticSegment,
};

use crate::components::hydration::Hydration;
use crate::components::layout::Header;
use crate::providers::auth::provide_auth;
use crate::routes::auth::SignInPage;
use crate::routes::{home::HomePage, not_found::NotFound};
use crate::routes::{
    AccountSettingsRoute, AgentRoute, AgentsRoute, CallRoute, CallsRoute, ConfirmRoute,
    DashboardRoute, ForgotRoute, NewAgentRoute, OrganizationSettingsRoute, ResetRoute,
    SessionsRoute, SignOutRoute, SignUpRoute,
};

/// The Content-Security-Policy of a page: scripts only from the app and the inline
/// bootstrap carrying this response's nonce; WASM may compile; nothing may frame it.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document every page is rendered into on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        let nonce = leptos::nonce::use_nonce();
        let response = use_context::<leptos_axum::ResponseOptions>();
        if let (Some(nonce), Some(response)) = (nonce, response) {
            if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce)) {
                response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
            }
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // In the shell, not as leptos_meta's `Stylesheet` in `App`: the document's
                // head stays through client-side navigation, and that component (a `Link`
                // of sixteen optional attributes, moved into the head) cost ~15,000
                // instructions a page on the server. `id="leptos"` is what cargo-leptos's
                // live reload swaps.
                <link rel="stylesheet" id="leptos" href="/pkg/switchboard.css"/>
                <AutoReload options=options.clone()/>
                <Hydration options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The root component: routes and the chrome around them.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Title formatter=|text: String| {
            if text.is_empty() { "Switchboard".to_owned() } else { format!("{text} · Switchboard") }
        }/>
        <Router>
            <AppShell/>
        </Router>
    }
}

/// Everything inside the router: the auth context, the header and the pages.
#[component]
fn AppShell() -> impl IntoView {
    provide_auth();
    view! {
        <Header/>
        // Every page renders whole on the server (SsrMode::Async): readable and usable
        // without JavaScript, and guards decide before a byte of the page is sent.
        <main id="main">
            <FlatRoutes fallback=NotFound>
                <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async/>
                <Route path=(StaticSegment("auth"), StaticSegment("signup")) view={Lazy::<SignUpRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("auth"), StaticSegment("signin")) view=SignInPage ssr=SsrMode::Async/>
                <Route path=(StaticSegment("auth"), StaticSegment("signout")) view={Lazy::<SignOutRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("auth"), StaticSegment("confirm")) view={Lazy::<ConfirmRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("auth"), StaticSegment("forgot")) view={Lazy::<ForgotRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("auth"), StaticSegment("reset")) view={Lazy::<ResetRoute>::new()} ssr=SsrMode::Async/>
                <Route path=StaticSegment("dashboard") view={Lazy::<DashboardRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("settings"), StaticSegment("account")) view={Lazy::<AccountSettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("settings"), StaticSegment("sessions")) view={Lazy::<SessionsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("settings"), StaticSegment("organization")) view={Lazy::<OrganizationSettingsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=StaticSegment("agents") view={Lazy::<AgentsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("agents"), StaticSegment("new")) view={Lazy::<NewAgentRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("agents"), ParamSegment("id")) view={Lazy::<AgentRoute>::new()} ssr=SsrMode::Async/>
                <Route path=StaticSegment("calls") view={Lazy::<CallsRoute>::new()} ssr=SsrMode::Async/>
                <Route path=(StaticSegment("calls"), ParamSegment("id")) view={Lazy::<CallRoute>::new()} ssr=SsrMode::Async/>
            </FlatRoutes>
        </main>
    }
}
