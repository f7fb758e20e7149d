//! The client-side half of the route guard. The server already answers 303 to anonymous
//! requests for protected pages before rendering; this covers navigation after hydration.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::components::forms::encode_query_value;
use crate::providers::auth::use_auth;

/// Renders `children` for a signed-in user and sends anyone else to sign in, back to this
/// page afterwards.
///
/// It reads the shared auth resource (during SSR that is this request's session, resolved
/// once; after hydration, the value the page was rendered with or refetched after signing
/// in, up or out). When that says "signed out" in the browser, the server is asked once
/// more before redirecting: right after signing in, the router reaches this page before
/// the shared resource has refetched. A session revoked elsewhere while the shared
/// resource still says "signed in" shows up as the page's data answering 401, which
/// `ErrorView` turns into the same redirect.
#[component]
pub fn RequireAuth(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let signed_in = match auth.user.await {
                    Ok(Some(_)) => true,
                    _ => signed_in_now().await,
                };
                if signed_in {
                    children.with_value(|c| c()).into_any()
                } else {
                    view! { <SignInRedirect/> }.into_any()
                }
            })}
        </Transition>
    }
}

/// Asks the server whether this browser has a session (in the browser only: during SSR
/// the shared resource was resolved from this very request).
async fn signed_in_now() -> bool {
    #[cfg(feature = "hydrate")]
    {
        matches!(crate::auth::api::current_user().await, Ok(Some(_)))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Sends the browser to sign in, with `?next=` back to where it is now.
#[component]
pub fn SignInRedirect() -> impl IntoView {
    let location = use_location();
    let search = location.search.get_untracked();
    let search = match search.as_str() {
        "" => String::new(),
        s if s.starts_with('?') => s.to_owned(),
        s => format!("?{s}"),
    };
    let here = format!("{}{search}", location.pathname.get_untracked());
    let path = format!("/auth/signin?next={}", encode_query_value(&here));
    view! { <Redirect path=path/> }
}
