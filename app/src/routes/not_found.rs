//! The page for any path the app does not know.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Page not found"/>
        <section class="error-page">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or you may not have access to it."</p>
            <a href="/">"Back to the home page"</a>
        </section>
    }
}
