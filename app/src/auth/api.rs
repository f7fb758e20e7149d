//! The account server functions. Each protected one checks the session itself; the public
//! ones are exactly `PUBLIC_SERVER_FNS`. Form field names are a contract (see the routes).

use leptos::prelude::*;
use uuid::Uuid;

use super::{SessionSummary, SessionUser};
use crate::components::forms::{Fields, FromFields};
use crate::errors::AppError;

/// The signed-in user, or `None`: the session as the browser's auth context sees it.
#[server(prefix = "/api/auth", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    use super::server;
    Ok(server::current_user().map(|auth| auth.user))
}

#[server(prefix = "/auth", endpoint = "signup")]
pub async fn sign_up(
    email: String,
    password: String,
    full_name: String,
    organization: String,
) -> Result<(), AppError> {
    use super::server::{self, *};
    let state = app_state()?;
    let client = client_info();
    let result: Result<(), AppError> = async {
        throttle_hit(&state.pool, &Limit::new(format!("signup:ip:{}", client.ip), 20, ONE_HOUR)).await?;
        let email = normalize_email(&email)?;
        check_password(&password, &email)?;
        let full_name = clean_text(&full_name, "Full name", false, 100)?;
        let organization = clean_text(&organization, "Organization name", true, 100)?;
        let hash = state.hasher.hash(password).await?;
        let confirmed = !state.config.auth.require_confirmation;

        let mut tx = crate::db::begin(&state.pool).await?;
        let user_id: Option<Uuid> = sqlx::query_scalar(
            "insert into auth.users (email, encrypted_password, email_confirmed_at,
                                     raw_app_meta_data, raw_user_meta_data)
             values ($1, $2, case when $3 then now() end,
                     '{\"provider\": \"email\", \"providers\": [\"email\"]}'::jsonb,
                     jsonb_build_object('full_name', $4::text))
             on conflict do nothing
             returning id",
        )
        .bind(&email)
        .bind(&hash)
        .bind(confirmed)
        .bind(&full_name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(user_id) = user_id else {
            tx.rollback().await?;
            // Already registered: answer exactly as for a new address, and tell the owner.
            if state.config.auth.require_confirmation {
                let body = format!(
                    "Someone (perhaps you) tried to create a Switchboard account with this address, \
                     which already has one.\n\nSign in: {origin}/auth/signin\nForgot your password? \
                     {origin}/auth/forgot\n",
                    origin = state.config.app_origin
                );
                state.mailer.send(&state.pool, &email, "Your Switchboard account", body).await?;
                leptos_axum::redirect("/auth/signin?notice=check-email");
                return Ok(());
            }
            return Err(AppError::Conflict("This email address cannot be used to create an account.".to_owned()));
        };
        let organization_id: Uuid =
            sqlx::query_scalar("insert into public.organizations (name) values ($1) returning id")
                .bind(&organization)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("insert into public.profiles (id, full_name, organization_id) values ($1, $2, $3)")
            .bind(user_id)
            .bind(&full_name)
            .bind(organization_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("insert into public.memberships (organization_id, user_id, role) values ($1, $2, 'owner')")
            .bind(organization_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;

        if confirmed {
            let session = server::session().await?;
            establish(&state.pool, &session, user_id, &client, &state.config.auth).await?;
            leptos_axum::redirect("/dashboard");
        } else {
            send_confirmation(&state, user_id, &email).await?;
            leptos_axum::redirect("/auth/signin?notice=check-email");
        }
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[cfg(feature = "ssr")]
async fn send_confirmation(
    state: &crate::state::AppState,
    user_id: Uuid,
    email: &str,
) -> Result<(), AppError> {
    use super::server::{issue_token, TokenPurpose};
    let token = issue_token(&state.pool, user_id, TokenPurpose::Confirm).await?;
    let body = format!(
        "Welcome to Switchboard.\n\nConfirm your email address (the link works once, for 24 hours):\n\
         {}/auth/confirm?token={token}\n\nIf you did not sign up, ignore this email.\n",
        state.config.app_origin
    );
    state
        .mailer
        .send(&state.pool, email, "Confirm your email address", body)
        .await
}

#[server(prefix = "/auth", endpoint = "signin")]
pub async fn sign_in(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    use super::server::{self, *};
    let state = app_state()?;
    let client = client_info();
    let result: Result<(), AppError> = async {
        let normalized = normalize_email(&email).unwrap_or_default();
        let limits = [
            Limit::new(format!("signin:ip:{}", client.ip), 50, FIFTEEN_MINUTES),
            Limit::new(format!("signin:acct:{normalized}"), 10, FIFTEEN_MINUTES),
        ];
        // The limits and the account in one statement: one round trip before the hash.
        // An empty address matches no account.
        let row = sign_in_lookup(&state.pool, &limits, &normalized).await?;
        let stored = row.as_ref().and_then(|(_, hash, _)| hash.clone());
        let verified = state.hasher.verify(password.clone(), stored).await?;
        let (user_id, confirmed, rehash) = match (row, verified) {
            (Some((id, _, confirmed)), Verification::Valid { rehash }) => (id, confirmed, rehash),
            _ => {
                throttle_hit_all(&state.pool, &limits).await?;
                return Err(AppError::BadRequest(
                    "Incorrect email or password.".to_owned(),
                ));
            }
        };
        if rehash {
            let hash = state.hasher.hash(password).await?;
            sqlx::query(
                "update auth.users set encrypted_password = $1, updated_at = now() where id = $2",
            )
            .bind(hash)
            .bind(user_id)
            .execute(&state.pool)
            .await?;
        }
        if !confirmed && state.config.auth.require_confirmation {
            return Err(AppError::Unconfirmed);
        }
        let session = server::session().await?;
        establish(&state.pool, &session, user_id, &client, &state.config.auth).await?;
        let target =
            crate::auth::safe_next(next.as_deref()).unwrap_or_else(|| "/dashboard".to_owned());
        leptos_axum::redirect(&target);
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[server(prefix = "/auth", endpoint = "signout")]
pub async fn sign_out() -> Result<(), AppError> {
    use super::server::{self, *};
    let auth = require_user()?;
    let state = app_state()?;
    let session = server::session().await?;
    end(&state.pool, &session).await.map_err(fail)?;
    // Every instance forgets the session when PostgreSQL notifies; this one at once, before
    // the browser's next request.
    state.sessions.forget_user(auth.user.id);
    leptos_axum::redirect("/auth/signin?notice=signed-out");
    Ok(())
}

#[server(prefix = "/auth", endpoint = "confirm")]
pub async fn confirm_email(token: String) -> Result<(), AppError> {
    use super::server::*;
    let state = app_state()?;
    let result: Result<(), AppError> = async {
        let mut tx = crate::db::begin(&state.pool).await?;
        let Some(user_id) = consume_token(&mut tx, token.trim(), TokenPurpose::Confirm).await? else {
            return Err(AppError::BadRequest(
                "This confirmation link is invalid, used or expired. Sign in to have a new one sent.".to_owned(),
            ));
        };
        sqlx::query(
            "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()),
                                   updated_at = now() where id = $1",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        leptos_axum::redirect("/auth/signin?notice=confirmed");
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[server(prefix = "/auth", endpoint = "resend")]
pub async fn resend_confirmation(email: String) -> Result<(), AppError> {
    use super::server::*;
    let state = app_state()?;
    let client = client_info();
    let result: Result<(), AppError> = async {
        throttle_hit(
            &state.pool,
            &Limit::new(format!("resend:ip:{}", client.ip), 10, ONE_HOUR),
        )
        .await?;
        let email = normalize_email(&email)?;
        // Per address too, quietly: the answer must not tell whether the address exists.
        let per_address = Limit::new(format!("resend:acct:{email}"), 3, ONE_HOUR);
        let user: Option<Uuid> = sqlx::query_scalar(
            "select id from auth.users where lower(email) = $1 and email_confirmed_at is null",
        )
        .bind(&email)
        .fetch_optional(&state.pool)
        .await?;
        if let Some(user_id) = user {
            if throttle_hit(&state.pool, &per_address).await.is_ok() {
                send_confirmation(&state, user_id, &email).await?;
            }
        }
        leptos_axum::redirect("/auth/signin?notice=check-email");
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[server(prefix = "/auth", endpoint = "forgot")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use super::server::*;
    let state = app_state()?;
    let client = client_info();
    let result: Result<(), AppError> = async {
        throttle_hit(
            &state.pool,
            &Limit::new(format!("reset:ip:{}", client.ip), 10, ONE_HOUR),
        )
        .await?;
        let email = normalize_email(&email)?;
        let per_address = Limit::new(format!("reset:acct:{email}"), 3, ONE_HOUR);
        let user: Option<Uuid> =
            sqlx::query_scalar("select id from auth.users where lower(email) = $1")
                .bind(&email)
                .fetch_optional(&state.pool)
                .await?;
        if let Some(user_id) = user {
            if throttle_hit(&state.pool, &per_address).await.is_ok() {
                let token = issue_token(&state.pool, user_id, TokenPurpose::Reset).await?;
                let body = format!(
                    "Someone asked to reset the password of your Switchboard account.\n\n\
                     Choose a new password (the link works once, for 1 hour):\n\
                     {}/auth/reset?token={token}\n\nIf it was not you, ignore this email: \
                     your password stays as it is.\n",
                    state.config.app_origin
                );
                state
                    .mailer
                    .send(&state.pool, &email, "Reset your password", body)
                    .await?;
            }
        }
        leptos_axum::redirect("/auth/signin?notice=reset-sent");
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[server(prefix = "/auth", endpoint = "reset")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use super::server::*;
    let state = app_state()?;
    let result: Result<(), AppError> = async {
        let invalid = || AppError::BadRequest("This reset link is invalid, used or expired. Ask for a new one.".to_owned());
        let email: Option<String> = sqlx::query_scalar(
            "select u.email::text from app_private.email_tokens t join auth.users u on u.id = t.user_id
             where t.token_hash = $1 and t.purpose = 'reset' and t.used_at is null and t.expires_at > now()",
        )
        .bind(token_hash(token.trim()))
        .fetch_optional(&state.pool)
        .await?;
        let email = email.ok_or_else(invalid)?;
        check_password(&password, &email)?;
        let hash = state.hasher.hash(password).await?;
        let mut tx = crate::db::begin(&state.pool).await?;
        let user_id = consume_token(&mut tx, token.trim(), TokenPurpose::Reset).await?.ok_or_else(invalid)?;
        // The link proves the mailbox: the address counts as confirmed.
        sqlx::query(
            "update auth.users set encrypted_password = $1, updated_at = now(),
                    email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $2",
        )
        .bind(hash)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from app_private.user_sessions where user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        state.sessions.forget_user(user_id);
        leptos_axum::redirect("/auth/signin?notice=password-reset");
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[server(prefix = "/api/account", endpoint = "change_password")]
pub async fn change_password(current_password: String, password: String) -> Result<(), AppError> {
    use super::server::*;
    let auth = require_user()?;
    let state = app_state()?;
    let result: Result<(), AppError> = async {
        let per_account = Limit::new(
            format!("signin:acct:{}", auth.user.email),
            10,
            FIFTEEN_MINUTES,
        );
        throttle_check(&state.pool, &per_account).await?;
        let stored: Option<String> =
            sqlx::query_scalar("select encrypted_password::text from auth.users where id = $1")
                .bind(auth.user.id)
                .fetch_optional(&state.pool)
                .await?
                .flatten();
        if let Verification::Invalid = state.hasher.verify(current_password, stored).await? {
            throttle_hit(&state.pool, &per_account).await?;
            return Err(AppError::BadRequest(
                "Your current password is not correct.".to_owned(),
            ));
        }
        check_password(&password, &auth.user.email)?;
        let hash = state.hasher.hash(password).await?;
        let mut tx = crate::db::begin(&state.pool).await?;
        sqlx::query(
            "update auth.users set encrypted_password = $1, updated_at = now() where id = $2",
        )
        .bind(hash)
        .bind(auth.user.id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from app_private.user_sessions where user_id = $1 and id <> $2")
            .bind(auth.user.id)
            .bind(auth.session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        state.sessions.forget_user(auth.user.id);
        leptos_axum::redirect("/settings/account?notice=password-changed");
        Ok(())
    }
    .await;
    result.map_err(fail)
}

#[server(prefix = "/api/account", endpoint = "sessions")]
pub async fn list_sessions() -> Result<Vec<SessionSummary>, AppError> {
    use super::server::*;
    let auth = require_user()?;
    let state = app_state()?;
    let rows: Vec<(Uuid, String, String, String, String)> = sqlx::query_as(
        "select id, ip, user_agent,
                to_char(created_at at time zone 'utc', 'YYYY-MM-DD HH24:MI \"UTC\"'),
                to_char(last_seen_at at time zone 'utc', 'YYYY-MM-DD HH24:MI \"UTC\"')
         from app_private.user_sessions
         where user_id = $1 and expires_at > now()
         order by last_seen_at desc",
    )
    .bind(auth.user.id)
    .fetch_all(&state.pool)
    .await
    .map_err(|e| fail(e.into()))?;
    Ok(rows
        .into_iter()
        .map(
            |(id, ip, user_agent, created_at, last_seen_at)| SessionSummary {
                id,
                device: describe_device(&user_agent),
                ip,
                created_at,
                last_seen_at,
                current: id == auth.session_id,
            },
        )
        .collect())
}

#[server(prefix = "/api/account", endpoint = "revoke_session")]
pub async fn revoke_session(id: Uuid) -> Result<(), AppError> {
    use super::server::*;
    let auth = require_user()?;
    let state = app_state()?;
    if id == auth.session_id {
        return Err(fail(AppError::BadRequest(
            "Use Sign out to end this session.".to_owned(),
        )));
    }
    sqlx::query("delete from app_private.user_sessions where id = $1 and user_id = $2")
        .bind(id)
        .bind(auth.user.id)
        .execute(&state.pool)
        .await
        .map_err(|e| fail(e.into()))?;
    state.sessions.forget_user(auth.user.id);
    leptos_axum::redirect("/settings/sessions");
    Ok(())
}

#[server(prefix = "/api/account", endpoint = "revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<(), AppError> {
    use super::server::*;
    let auth = require_user()?;
    let state = app_state()?;
    end_other_sessions(&state.pool, auth.user.id, Some(auth.session_id))
        .await
        .map_err(fail)?;
    state.sessions.forget_user(auth.user.id);
    leptos_axum::redirect("/settings/sessions");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The forms' fields (see `components::forms::FromFields`): the same names the server
// decodes from a form posted without JavaScript.

impl FromFields for SignUp {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            email: f.text("email")?,
            password: f.text("password")?,
            full_name: f.text("full_name")?,
            organization: f.text("organization")?,
        })
    }
}

impl FromFields for SignIn {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            email: f.text("email")?,
            password: f.text("password")?,
            next: f.optional("next"),
        })
    }
}

impl FromFields for SignOut {
    fn from_fields(_: &Fields) -> Result<Self, String> {
        Ok(Self {})
    }
}

impl FromFields for ConfirmEmail {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            token: f.text("token")?,
        })
    }
}

impl FromFields for ResendConfirmation {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            email: f.text("email")?,
        })
    }
}

impl FromFields for RequestPasswordReset {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            email: f.text("email")?,
        })
    }
}

impl FromFields for ResetPassword {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            token: f.text("token")?,
            password: f.text("password")?,
        })
    }
}

impl FromFields for ChangePassword {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self {
            current_password: f.text("current_password")?,
            password: f.text("password")?,
        })
    }
}

impl FromFields for RevokeSession {
    fn from_fields(f: &Fields) -> Result<Self, String> {
        Ok(Self { id: f.uuid("id")? })
    }
}

impl FromFields for RevokeOtherSessions {
    fn from_fields(_: &Fields) -> Result<Self, String> {
        Ok(Self {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::forms::assert_reads_fields_by_name as reads;

    #[test]
    fn every_form_reads_the_fields_the_server_decodes() {
        reads::<SignUp>(&["email", "password", "full_name", "organization"]);
        reads::<SignIn>(&["email", "password", "next"]);
        reads::<SignOut>(&[]);
        reads::<ConfirmEmail>(&["token"]);
        reads::<ResendConfirmation>(&["email"]);
        reads::<RequestPasswordReset>(&["email"]);
        reads::<ResetPassword>(&["token", "password"]);
        reads::<ChangePassword>(&["current_password", "password"]);
        reads::<RevokeSession>(&["id"]);
        reads::<RevokeOtherSessions>(&[]);
    }
}
