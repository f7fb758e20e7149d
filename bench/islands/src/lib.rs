//! The sign-in card of `/auth/signin` as the only island of an islands build, and the
//! smallest island there is: what the browser would download for the public pages if they
//! were built as islands. The card does what the app's does in the browser: the form posts
//! through its server function without a page load, the button shows that it is busy,
//! the error comes back inline, and an unconfirmed account gets the resend form.
//! `bench/islands.sh` builds and measures it; nothing here is part of the product.

use leptos::prelude::*;

/// The smallest island: one signal and one event handler. Built alone, it is the floor
/// every islands build pays (the reactive system, the renderer, the islands loader).
#[island]
pub fn Counter() -> impl IntoView {
    let count = RwSignal::new(0);
    view! { <button on:click=move |_| count.update(|n| *n += 1)>{count}</button> }
}

#[cfg(feature = "form")]
pub use form::SignInCard;

#[cfg(feature = "form")]
mod form {
    use leptos::prelude::*;
    use leptos::server_fn::codec::JsonEncoding;
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::ServerFn;
    use serde::{Deserialize, Serialize};

    /// As the app's error type: what a form shows, sent as JSON.
    #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
    pub enum AppError {
        BadRequest(String),
        InvalidCredentials,
        Unconfirmed,
        TooManyAttempts,
        Internal,
    }

    impl std::fmt::Display for AppError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(match self {
                AppError::BadRequest(message) => message,
                AppError::InvalidCredentials => "Wrong email or password.",
                AppError::Unconfirmed => "Confirm your email address first.",
                AppError::TooManyAttempts => "Too many attempts; try again later.",
                AppError::Internal => "Something went wrong.",
            })
        }
    }

    impl FromServerFnError for AppError {
        type Encoder = JsonEncoding;
        fn from_server_fn_error(_: ServerFnErrorErr) -> Self {
            AppError::Internal
        }
    }

    #[server(prefix = "/api", endpoint = "auth/signin")]
    pub async fn sign_in(
        email: String,
        password: String,
        next: Option<String>,
    ) -> Result<String, AppError> {
        let _ = (email, password, next);
        Err(AppError::Unconfirmed)
    }

    #[server(prefix = "/api", endpoint = "auth/resend")]
    pub async fn resend_confirmation(email: String) -> Result<(), AppError> {
        let _ = email;
        Ok(())
    }

    /// Server function arguments from a submitted form's fields, as the app's `FromFields`.
    pub trait FromFields: Sized {
        fn from_fields(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, String>;
    }

    impl FromFields for SignIn {
        fn from_fields(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
            Ok(SignIn {
                email: get("email").ok_or("Enter your email address.")?,
                password: get("password").ok_or("Enter your password.")?,
                next: get("next"),
            })
        }
    }

    impl FromFields for ResendConfirmation {
        fn from_fields(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
            Ok(ResendConfirmation {
                email: get("email").ok_or("Enter your email address.")?,
            })
        }
    }

    /// As the app's `ServerForm`: a plain form post without JavaScript, dispatched to the
    /// action without a page load once the island is hydrated.
    #[component]
    fn ServerForm<S>(action: ServerAction<S>, children: Children) -> impl IntoView
    where
        S: ServerFn<Error = AppError> + FromFields + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        let on_submit = move |event: web_sys::SubmitEvent| {
            use wasm_bindgen::JsCast;
            event.prevent_default();
            let data = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlFormElement>().ok())
                .and_then(|form| web_sys::FormData::new_with_form(&form).ok());
            let args = match data {
                Some(data) => S::from_fields(&|name| data.get(name).as_string()),
                None => Err("The form could not be read.".to_owned()),
            };
            match args {
                Ok(args) => {
                    action.dispatch(args);
                }
                Err(message) => action.value().set(Some(Err(AppError::BadRequest(message)))),
            }
        };
        view! { <form action=S::url() method="post" on:submit=on_submit>{children()}</form> }
    }

    fn error_of<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
    where
        S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        Signal::derive(move || action.value().get().and_then(|result| result.err()))
    }

    #[component]
    fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
        move || {
            error
                .get()
                .map(|error| view! { <p class="form-error" role="alert">{error.to_string()}</p> })
        }
    }

    #[component]
    fn SubmitButton(pending: Memo<bool>, label: &'static str, busy: &'static str) -> impl IntoView {
        view! {
            <button type="submit" disabled=move || pending.get()>
                {move || if pending.get() { busy } else { label }}
            </button>
        }
    }

    #[island]
    pub fn SignInCard(next: String) -> impl IntoView {
        let action = ServerAction::<SignIn>::new();
        let error = error_of(action);
        let unconfirmed = move || matches!(error.get(), Some(AppError::Unconfirmed));
        let resend = ServerAction::<ResendConfirmation>::new();
        view! {
            <ServerForm action=action>
                <input type="hidden" name="next" value=next/>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required maxlength="254"/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="128"/>
                <FormError error=error/>
                <SubmitButton pending=action.pending() label="Sign in" busy="Signing in…"/>
            </ServerForm>
            <Show when=unconfirmed>
                <ServerForm action=resend>
                    <label for="resend-email">"Email to confirm"</label>
                    <input id="resend-email" name="email" type="email" autocomplete="email" required/>
                    <FormError error=error_of(resend)/>
                    <SubmitButton pending=resend.pending() label="Send the link again" busy="Sending…"/>
                </ServerForm>
            </Show>
        }
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
