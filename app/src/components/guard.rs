//! The client-side half of the route guard. The server already answers 303 to anonymous
//! requests for protected pages before rendering; this covers navigation after hydration.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::auth::api::current_user;
use crate::components::forms::encode_query_value;

/// Asks the server afresh each time a protected page mounts (the shared auth resource may
/// be stale right after signing in, or a session may have been revoked elsewhere). During
/// SSR the answer is computed in-process and handed to hydration with the page.
#[component]
pub fn RequireAuth(children: ChildrenFn) -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let location = use_location();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
            {move || {
                user.get().map(|user| match user {
                    Ok(Some(_)) => children.with_value(|c| c()).into_any(),
                    _ => {
                        let search = location.search.get_untracked();
                        let search = match search.as_str() {
                            "" => String::new(),
                            s if s.starts_with('?') => s.to_owned(),
                            s => format!("?{s}"),
                        };
                        let here = format!("{}{search}", location.pathname.get_untracked());
                        let path = format!("/auth/signin?next={}", encode_query_value(&here));
                        view! { <Redirect path=path/> }.into_any()
                    }
                })
            }}
        </Transition>
    }
}
