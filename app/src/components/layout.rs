//! The header shown on every page: the brand, the main navigation and the session (who,
//! which organization, a switcher when there are several, sign out), or the ways in.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::components::forms::ServerForm;
use crate::org::api::{my_organizations, SwitchOrganization};
use crate::org::OrgChoice;
use crate::providers::auth::use_auth;
use crate::resource::{data, Data};

type Organizations = Data<Vec<OrgChoice>>;

#[component]
pub fn Header() -> impl IntoView {
    let auth = use_auth();
    let switch = ServerAction::<SwitchOrganization>::new();
    // Made here, not in the signed-in branch below: SSR walks a Suspense's children more
    // than once, and a resource made in there is made (and awaited) again on every walk.
    let orgs: Organizations = data(
        move || {
            let several = auth.with_user(|u| u.organizations > 1).unwrap_or(false);
            (switch.version().get(), several)
        },
        |(_, several)| async move {
            if several {
                my_organizations().await
            } else {
                Ok(Vec::new())
            }
        },
    );
    view! {
        <header class="site-header">
            <a class="skip-link" href="#main">"Skip to content"</a>
            <a href="/" class="brand">
                <span class="brand-mark" aria-hidden="true">"◎"</span>
                " Switchboard"
            </a>
            <Transition fallback=|| ()>
                // Borrows the user: this runs on each of Suspense's passes during SSR.
                {move || auth.user.with(|user| user.as_ref().map(|user| match user {
                    Ok(Some(user)) => view! {
                        <SignedInNav
                            email=user.email.clone()
                            organization=user.organization_name.clone().unwrap_or_default()
                            several={user.organizations > 1}
                            orgs
                            switch
                        />
                    }.into_any(),
                    _ => view! {
                        <nav aria-label="Account">
                            <a href="/auth/signin">"Sign in"</a>
                            <a class="button button-primary" href="/auth/signup">"Get started"</a>
                        </nav>
                    }.into_any(),
                }))}
            </Transition>
        </header>
    }
}

/// The signed-in user's header: the main navigation, who is signed in and where (a
/// switcher when `several` organizations), and signing out.
#[component]
fn SignedInNav(
    email: String,
    organization: String,
    several: bool,
    orgs: Organizations,
    switch: ServerAction<SwitchOrganization>,
) -> impl IntoView {
    let auth = use_auth();
    let path = use_location().pathname;
    view! {
        <nav aria-label="Main" class="main-nav">
            <NavLink path href="/dashboard" label="Dashboard"/>
            <NavLink path href="/agents" label="Agents"/>
            <NavLink path href="/calls" label="Calls"/>
            <NavLink path href="/settings/organization" label="Settings"/>
        </nav>
        <div class="account">
            <span class="who">
                <span data-testid="header-email">{email}</span>
                {if several {
                    view! { <OrgSwitcher orgs switch/> }.into_any()
                } else {
                    view! { <span class="muted" data-testid="header-organization">{organization}</span> }.into_any()
                }}
            </span>
            <ServerForm action=auth.sign_out attr:class="inline-form">
                <button type="submit" class="button">"Sign out"</button>
            </ServerForm>
        </div>
    }
}

/// A main-navigation link, `aria-current="page"` on its page and the pages below it
/// (`path`: the router's current path). A plain anchor (the router navigates on any
/// same-origin link) with one reactive attribute, where the router's `<A>` builds several
/// memos per link on every render.
#[component]
fn NavLink(path: Memo<String>, href: &'static str, label: &'static str) -> impl IntoView {
    let current = move || {
        path.with(|path| is_at_or_below(path, href))
            .then_some("page")
    };
    view! { <a href=href aria-current=current>{label}</a> }
}

/// Whether `path` is `section` or a page below it (whole segments only).
pub fn is_at_or_below(path: &str, section: &str) -> bool {
    path.strip_prefix(section)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Lists the user's organizations; choosing one makes it the current one.
#[component]
fn OrgSwitcher(orgs: Organizations, switch: ServerAction<SwitchOrganization>) -> impl IntoView {
    view! {
        <ServerForm action=switch attr:class="inline-form org-switcher">
            <label for="org-switch" class="visually-hidden">"Organization"</label>
            <select id="org-switch" name="id" data-testid="header-organization">
                <Suspense fallback=|| ()>
                    {move || orgs.get().and_then(Result::ok).map(|list| list.into_iter().map(|o| {
                        view! { <option value=o.id.to_string() selected=o.current>{o.name}</option> }
                    }).collect_view())}
                </Suspense>
            </select>
            <button type="submit" class="button">"Switch"</button>
        </ServerForm>
    }
}

#[cfg(test)]
mod tests {
    use super::is_at_or_below;

    #[test]
    fn sections_match_whole_segments() {
        assert!(is_at_or_below("/agents", "/agents"));
        assert!(is_at_or_below("/agents/new", "/agents"));
        assert!(!is_at_or_below("/agentsx", "/agents"));
        assert!(!is_at_or_below("/calls", "/agents"));
    }
}
