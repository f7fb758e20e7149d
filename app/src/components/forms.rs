//! Pieces every form uses: the error next to it, notices, and the pending button.

use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;

use crate::errors::AppError;

/// The error of an action's last call, if it failed: from the call made in the browser,
/// or, after a plain form post without JavaScript, from the URL the server redirected to.
/// Call it inside a route (the router provides the URL's error there).
pub fn error_of<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let from_url = use_context::<ServerActionError>()
        .filter(|error| error.path() == S::PATH)
        .map(|error| ServerFnUrlError::<AppError>::decode_err(error.err()));
    Signal::derive(move || match action.value().get() {
        Some(Err(error)) => Some(error),
        Some(Ok(_)) => None,
        None => from_url.clone(),
    })
}

/// Shown next to a form; `role="alert"` so screen readers announce it.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! { <p class="form-error" role="alert">{e.to_string()}</p> }
        })
    }
}

/// A submit button that says it is busy while the action runs.
#[component]
pub fn SubmitButton(
    #[prop(into)] pending: Signal<bool>,
    label: &'static str,
    busy: &'static str,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    let class = if danger {
        "button button-danger"
    } else {
        "button button-primary"
    };
    view! {
        <button type="submit" class=class disabled=move || pending.get() aria-busy=move || pending.get().to_string()>
            {move || if pending.get() { busy } else { label }}
        </button>
    }
}

/// A status message chosen by the `notice` query parameter (set by server redirects).
#[component]
pub fn Notice(#[prop(into)] text: Signal<Option<&'static str>>) -> impl IntoView {
    move || {
        text.get()
            .map(|t| view! { <p class="notice" role="status">{t}</p> })
    }
}

/// Percent-encodes a path for use as a query value (`?next=`).
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            super::encode_query_value("/calls?status=missed&q=a b"),
            "/calls%3Fstatus%3Dmissed%26q%3Da%20b"
        );
    }
}
