//! One module per page or page group.

pub mod agents;
pub mod auth;
pub mod calls;
pub mod dashboard;
pub mod home;
pub mod not_found;
pub mod organization;
pub mod settings;

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

/// Declares a route whose page is compiled into its own WASM module by
/// `cargo leptos build --split`: a first visit downloads only the main module, and the
/// browser fetches a page's code the first time it shows that page. Every page is lazy
/// but the landing page and sign-in, the two a first visit lands on (a lazy first page
/// would wait for its module before it hydrates). (Without `--split` the page is in the
/// one module.)
macro_rules! lazy_pages {
    ($($(#[$doc:meta])* $route:ident => $page:path;)+) => {$(
        $(#[$doc])*
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                $page().into_any()
            }
        }
    )+};
}

/// `/dashboard`, the page every sign-in lands on: its data is requested when the route
/// matches, so after a client-side sign-in the browser fetches the page's module and its
/// data at once instead of one after the other.
pub struct DashboardRoute {
    data: crate::resource::Data<crate::org::Dashboard>,
}

#[lazy_route]
impl LazyRoute for DashboardRoute {
    fn data() -> Self {
        Self {
            data: dashboard::load(),
        }
    }

    fn view(this: Self) -> AnyView {
        view! { <dashboard::DashboardPage data=this.data/> }.into_any()
    }
}

lazy_pages! {
    /// `/settings/account`.
    AccountSettingsRoute => settings::AccountSettingsPage;
    /// `/settings/sessions`.
    SessionsRoute => settings::SessionsPage;
    /// `/settings/organization`.
    OrganizationSettingsRoute => organization::OrganizationSettingsPage;
    /// `/agents`.
    AgentsRoute => agents::AgentsPage;
    /// `/agents/new`.
    NewAgentRoute => agents::NewAgentPage;
    /// `/agents/:id`.
    AgentRoute => agents::AgentPage;
    /// `/calls`.
    CallsRoute => calls::CallsPage;
    /// `/calls/:id`.
    CallRoute => calls::CallPage;
    /// `/auth/signup`.
    SignUpRoute => auth::SignUpPage;
    /// `/auth/signout`.
    SignOutRoute => auth::SignOutPage;
    /// `/auth/confirm`.
    ConfirmRoute => auth::ConfirmPage;
    /// `/auth/forgot`.
    ForgotRoute => auth::ForgotPage;
    /// `/auth/reset`.
    ResetRoute => auth::ResetPage;
}
