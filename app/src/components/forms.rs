//! Pieces every form uses: the form itself, the error next to it, notices, and the
//! pending button.

use leptos::prelude::*;
use leptos::server::ServerActionError;
use leptos::server_fn::error::ServerFnUrlError;
use leptos::server_fn::ServerFn;
use leptos::wasm_bindgen::JsCast;
use leptos::web_sys::{FormData, HtmlFormElement, SubmitEvent};
use uuid::Uuid;

use crate::errors::AppError;

/// The arguments of a server function, read from the named fields of its form.
///
/// Leptos's `ActionForm` reads them with `serde_qs`, whose deserializer and one decoder
/// per form put about 45 KB (before `wasm-opt`) into the WASM bundle. Each function's
/// arguments here name their fields by hand instead; the server still decodes a form
/// posted without JavaScript the usual way, so both paths must agree (the browser tests
/// submit every form hydrated, and the integration tests post them as plain forms).
pub trait FromFields: Sized {
    fn from_fields(fields: &Fields) -> Result<Self, String>;
}

/// A submitted form's fields by name (the first value of each).
pub struct Fields<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Fields<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self(get)
    }

    /// A field that must be there (it may be empty).
    pub fn text(&self, name: &str) -> Result<String, String> {
        (self.0)(name).ok_or_else(|| format!("The form has no field `{name}`."))
    }

    /// A field that may be left out, like an unchecked checkbox.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.0)(name)
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid, String> {
        self.text(name)?
            .parse()
            .map_err(|_| format!("The form's `{name}` is not a valid id."))
    }
}

/// A form that calls a server function: posted as a plain HTML form without JavaScript
/// (to the function's own URL, which redirects back), dispatched to `action` without a
/// page load once hydrated.
#[component]
pub fn ServerForm<S>(action: ServerAction<S>, children: Children) -> impl IntoView
where
    S: FromFields + ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let on_submit = move |event: SubmitEvent| {
        if event.default_prevented() {
            return;
        }
        event.prevent_default();
        let data = event
            .target()
            .and_then(|target| target.dyn_into::<HtmlFormElement>().ok())
            .and_then(|form| FormData::new_with_form(&form).ok());
        let args = match data {
            Some(data) => S::from_fields(&Fields::new(&|name| data.get(name).as_string())),
            None => Err("The form could not be read.".to_owned()),
        };
        match args {
            Ok(args) => {
                action.dispatch(args);
            }
            Err(message) => {
                action.value().set(Some(Err(AppError::BadRequest(message))));
                action.version().update(|n| *n += 1);
            }
        }
    };
    view! {
        <form action=S::url() method="post" on:submit=on_submit>
            {children()}
        </form>
    }
}

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

/// Checks a [`FromFields`] impl against the server's decoding, which reads each field
/// into the argument of the same name: given a distinct value for each of `names`, the
/// arguments must serialize back to exactly those names and values.
#[cfg(test)]
pub fn assert_reads_fields_by_name<T: FromFields + serde::Serialize>(names: &[&str]) {
    let value_of = |name: &str| {
        if name == "id" {
            "7f0c3b1e-2d4a-4c5e-9f60-1a2b3c4d5e6f".to_owned()
        } else {
            format!("value of {name}")
        }
    };
    let get = |name: &str| names.contains(&name).then(|| value_of(name));
    let args = match T::from_fields(&Fields::new(&get)) {
        Ok(args) => args,
        Err(error) => panic!("{}: {error}", std::any::type_name::<T>()),
    };
    let expected: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|name| (name.to_string(), value_of(name).into()))
        .collect();
    assert_eq!(
        serde_json::to_value(&args).ok(),
        Some(serde_json::Value::Object(expected)),
        "{}",
        std::any::type_name::<T>()
    );
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn fields_are_read_by_name() {
        let get = |name: &str| match name {
            "email" => Some("a@example.com".to_owned()),
            "id" => Some("not-a-uuid".to_owned()),
            "ok" => Some("7f0c3b1e-2d4a-4c5e-9f60-1a2b3c4d5e6f".to_owned()),
            _ => None,
        };
        let fields = Fields::new(&get);
        assert_eq!(fields.text("email").as_deref(), Ok("a@example.com"));
        assert!(fields.text("password").is_err());
        assert_eq!(fields.optional("next"), None);
        assert!(fields.uuid("id").is_err());
        assert_eq!(
            fields.uuid("ok").map(|id| id.to_string()).as_deref(),
            Ok("7f0c3b1e-2d4a-4c5e-9f60-1a2b3c4d5e6f")
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            super::encode_query_value("/calls?status=missed&q=a b"),
            "/calls%3Fstatus%3Dmissed%26q%3Da%20b"
        );
    }
}
