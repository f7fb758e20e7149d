//! Sign up, sign in, email confirmation, password reset and sign out. Every form is a plain
//! HTML form posting to the route's own path (works without JavaScript) and, once hydrated,
//! a server-function call without a page reload.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::auth::api::{ConfirmEmail, RequestPasswordReset, ResendConfirmation, ResetPassword};
use crate::components::forms::{error_of, FormError, Notice, ServerForm, SubmitButton};
use crate::errors::AppError;
use crate::providers::auth::use_auth;

/// Messages that server redirects ask the sign-in page to show.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "check-email" => "Check your email: we sent you a link to confirm your address.",
        "confirmed" => "Your email address is confirmed. You can sign in now.",
        "reset-sent" => "If an account uses that address, we sent it a link to choose a new password.",
        "password-reset" => "Your password was changed and every session was signed out. Sign in with the new password.",
        "signed-out" => "You are signed out.",
        _ => return None,
    })
}

fn query_param(name: &'static str) -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get(name).unwrap_or_default())
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let auth = use_auth();
    let action = auth.sign_up;
    view! {
        <Title text="Create your organization"/>
        <section class="auth-card" aria-labelledby="signup-title">
            <h1 id="signup-title">"Create your organization"</h1>
            <p class="muted">"One account for you, one workspace for your team's agents and calls."</p>
            <ServerForm action=action>
                <label for="full_name">"Your name"</label>
                <input id="full_name" name="full_name" type="text" autocomplete="name" maxlength="100"/>
                <label for="organization">"Organization name"</label>
                <input id="organization" name="organization" type="text" autocomplete="organization" required maxlength="100"/>
                <label for="email">"Work email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required maxlength="254"/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128" aria-describedby="password-help"/>
                <p id="password-help" class="help">"At least 12 characters. Long phrases are good; common passwords are refused."</p>
                <FormError error=error_of(action)/>
                <SubmitButton pending=action.pending() label="Create account" busy="Creating account…"/>
            </ServerForm>
            <p class="muted">"Already have an account? " <a href="/auth/signin">"Sign in"</a></p>
        </section>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = use_auth();
    let action = auth.sign_in;
    let next = query_param("next");
    let notice = query_param("notice");
    let notice = Signal::derive(move || notice_text(&notice.get()));
    let error = error_of(action);
    let unconfirmed = move || matches!(error.get(), Some(AppError::Unconfirmed));
    view! {
        <Title text="Sign in"/>
        <section class="auth-card" aria-labelledby="signin-title">
            <h1 id="signin-title">"Sign in"</h1>
            <Notice text=notice/>
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
                <ResendForm/>
            </Show>
            <p class="muted">
                <a href="/auth/forgot">"Forgot your password?"</a>
                " · "
                <a href="/auth/signup">"Create an account"</a>
            </p>
        </section>
    }
}

#[component]
fn ResendForm() -> impl IntoView {
    let action = ServerAction::<ResendConfirmation>::new();
    view! {
        <ServerForm action=action attr:class="secondary-form" attr:aria-label="Resend the confirmation email">
            <label for="resend-email">"Email to confirm"</label>
            <input id="resend-email" name="email" type="email" autocomplete="email" required/>
            <FormError error=error_of(action)/>
            <SubmitButton pending=action.pending() label="Send the link again" busy="Sending…"/>
        </ServerForm>
    }
}

#[component]
pub fn ConfirmPage() -> impl IntoView {
    let action = ServerAction::<ConfirmEmail>::new();
    let token = query_param("token");
    view! {
        <Title text="Confirm your email"/>
        <section class="auth-card" aria-labelledby="confirm-title">
            <h1 id="confirm-title">"Confirm your email address"</h1>
            <p>"One click and your account is ready."</p>
            <ServerForm action=action>
                <input type="hidden" name="token" value=token/>
                <FormError error=error_of(action)/>
                <SubmitButton pending=action.pending() label="Confirm email address" busy="Confirming…"/>
            </ServerForm>
        </section>
    }
}

#[component]
pub fn ForgotPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    view! {
        <Title text="Reset your password"/>
        <section class="auth-card" aria-labelledby="forgot-title">
            <h1 id="forgot-title">"Reset your password"</h1>
            <p>"We will email you a link to choose a new password."</p>
            <ServerForm action=action>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required maxlength="254"/>
                <FormError error=error_of(action)/>
                <SubmitButton pending=action.pending() label="Send reset link" busy="Sending…"/>
            </ServerForm>
            <p class="muted"><a href="/auth/signin">"Back to sign in"</a></p>
        </section>
    }
}

#[component]
pub fn ResetPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let token = query_param("token");
    view! {
        <Title text="Choose a new password"/>
        <section class="auth-card" aria-labelledby="reset-title">
            <h1 id="reset-title">"Choose a new password"</h1>
            <ServerForm action=action>
                <input type="hidden" name="token" value=token/>
                <label for="password">"New password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password" required minlength="12" maxlength="128"/>
                <FormError error=error_of(action)/>
                <SubmitButton pending=action.pending() label="Set new password" busy="Saving…"/>
            </ServerForm>
        </section>
    }
}

/// `GET /auth/signout` changes nothing: it offers the POST button.
#[component]
pub fn SignOutPage() -> impl IntoView {
    let auth = use_auth();
    view! {
        <Title text="Sign out"/>
        <section class="auth-card" aria-labelledby="signout-title">
            <h1 id="signout-title">"Sign out?"</h1>
            <ServerForm action=auth.sign_out>
                <SubmitButton pending=auth.sign_out.pending() label="Sign out" busy="Signing out…"/>
            </ServerForm>
        </section>
    }
}
