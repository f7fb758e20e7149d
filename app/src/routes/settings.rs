//! Account settings: password, and the signed-in sessions.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth::api::{list_sessions, ChangePassword, RevokeOtherSessions, RevokeSession};
use crate::components::forms::{error_of, FormError, Notice, ServerForm, SubmitButton};
use crate::components::guard::RequireAuth;
use crate::resource::data;

#[component]
pub fn AccountSettingsPage() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let query = use_query_map();
    let notice = Signal::derive(move || {
        (query.read().get("notice").as_deref() == Some("password-changed")
            || matches!(action.value().get(), Some(Ok(()))))
        .then_some("Your password was changed. Your other sessions were signed out.")
    });
    view! {
        <Title text="Account settings"/>
        <RequireAuth>
            <section class="auth-card" aria-labelledby="account-title">
                <h1 id="account-title">"Account settings"</h1>
                <nav class="tabs" aria-label="Settings"><a href="/settings/account" aria-current="page">"Password"</a><a href="/settings/sessions">"Sessions"</a></nav>
                <h2>"Change password"</h2>
                <Notice text=notice/>
                <ServerForm action=action>
                    <label for="current_password">"Current password"</label>
                    <input id="current_password" name="current_password" type="password" autocomplete="current-password" required maxlength="128"/>
                    <label for="password">"New password"</label>
                    <input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128"/>
                    <FormError error=error_of(action)/>
                    <SubmitButton pending=action.pending() label="Change password" busy="Saving…"/>
                </ServerForm>
            </section>
        </RequireAuth>
    }
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let revoke_others = ServerAction::<RevokeOtherSessions>::new();
    let sessions = data(
        move || (revoke.version().get(), revoke_others.version().get()),
        |_| list_sessions(),
    );
    view! {
        <Title text="Sessions"/>
        <RequireAuth>
            <section aria-labelledby="sessions-title">
                <h1 id="sessions-title">"Active sessions"</h1>
                <nav class="tabs" aria-label="Settings"><a href="/settings/account">"Password"</a><a href="/settings/sessions" aria-current="page">"Sessions"</a></nav>
                <FormError error=error_of(revoke)/>
                    {move || sessions.get().map(|result| match result {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Device"</th><th scope="col">"IP address"</th><th scope="col">"Signed in"</th><th scope="col">"Last seen"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| view! {
                                        <tr data-testid="session-row">
                                            <td>{s.device.clone()}{s.current.then(|| view! { <span class="badge">" This browser"</span> })}</td>
                                            <td>{s.ip.clone()}</td>
                                            <td>{s.created_at.clone()}</td>
                                            <td>{s.last_seen_at.clone()}</td>
                                            <td>
                                                {(!s.current).then(|| view! {
                                                    <ServerForm action=revoke>
                                                        <input type="hidden" name="id" value=s.id.to_string()/>
                                                        <button type="submit" class="button">"Revoke"</button>
                                                    </ServerForm>
                                                })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                <ServerForm action=revoke_others>
                    <SubmitButton pending=revoke_others.pending() label="Sign out all other sessions" busy="Signing out…" danger=true/>
                </ServerForm>
            </section>
        </RequireAuth>
    }
}
