//! Server-side account machinery: passwords, validation, one-time tokens, throttling,
//! mail and sessions. Nothing here compiles into the WASM bundle.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Params, Version};
use chrono::{DateTime, Utc};
use http::request::Parts;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

use super::hash_memory::{self, HashMemoryPool};
use super::session_cache::SessionCache;
use super::SessionUser;
use crate::errors::AppError;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Sign-up sends a confirmation link and unconfirmed accounts cannot sign in.
    pub require_confirmation: bool,
    pub idle_timeout: Duration,
    pub absolute_lifetime: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            require_confirmation: true,
            idle_timeout: Duration::from_secs(12 * 3600),
            absolute_lifetime: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Passwords

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
fn argon2_params() -> Params {
    // The parameters are constants inside argon2's accepted ranges.
    Params::new(19_456, 2, 1, None).expect("constant argon2 parameters are valid")
}

/// A hash of a random password with the same parameters, verified against when the email
/// is unknown so that both answers take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3dpdGNoYm9hcmRkdW1teQ$1fGl3WXa6hB8y2FSbAfoT3sIHU9bTC7vZ6wS6jKJ0aQ";

/// Hashes passwords off the async threads, at most `permits` at a time (each hash holds
/// 19 MiB): a flood of sign-ins waits briefly, then gets 503, instead of exhausting memory.
/// Checks fill a block from `memory` (`hash_memory`: huge pages, kept while in use).
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    wait: Duration,
    memory: HashMemoryPool,
}

pub enum Verification {
    Invalid,
    /// The password is right; `rehash` when the stored hash is bcrypt or weaker argon2.
    Valid {
        rehash: bool,
    },
}

/// A hash fills a block mapped for it (`hash_memory`), but where the system refuses that
/// mapping, or a stored hash needs more memory than the block holds, it allocates and
/// frees 19 MiB or more. glibc would raise its mmap threshold after the first such free
/// and keep later blocks in per-thread arenas, so RSS would grow with every blocking thread
/// that ever hashed (measured when every hash allocated: +250 MiB under a sign-in flood).
/// A fixed threshold keeps such blocks mmap-ed and returned to the system on free. This
/// tunes glibc's allocator only, as in the test binaries; the `switchboard` binary
/// allocates with mimalloc (`server/src/main.rs`), which returns such blocks on its own a
/// little later.
fn return_big_allocations_to_the_system() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes allocator tuning; called once, before hashing.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        }
    });
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize) -> Self {
        return_big_allocations_to_the_system();
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            wait: Duration::from_secs(5),
            memory: HashMemoryPool::default(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|_| AppError::Unavailable)?;
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| AppError::internal("password hashing task", e))?;
        Ok(result)
    }

    #[tracing::instrument(skip_all)]
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let pool = self.memory.clone();
        let hash = self
            .run(move || {
                let salt = SaltString::generate(&mut OsRng);
                let params = argon2_params();
                pool.with_block(params.block_count(), |memory| {
                    hash_memory::hash_argon2(
                        memory,
                        Algorithm::Argon2id,
                        Version::V0x13,
                        params,
                        password.as_bytes(),
                        &salt,
                    )
                })
            })
            .await;
        self.release_idle_memory();
        hash?.map_err(|e| AppError::internal("argon2 hash", e))
    }

    /// Makes sure a task returns the kept blocks to the system once no hash has used them
    /// for a while (`hash_memory::KEEP_IDLE`).
    fn release_idle_memory(&self) {
        if self.memory.claim_release_task() {
            tokio::spawn(self.memory.release_while_kept(hash_memory::KEEP_IDLE));
        }
    }

    /// Verifies against `stored`, or against a dummy hash when there is none.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verification, AppError> {
        let pool = self.memory.clone();
        let verification = self
            .run(move || {
                let known = stored.is_some();
                let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
                if stored.starts_with("$2") {
                    // bcrypt, as Supabase Auth writes it: upgrade to argon2id on success.
                    return match bcrypt::verify(password.as_bytes(), &stored) {
                        Ok(true) if known => Verification::Valid { rehash: true },
                        _ => Verification::Invalid,
                    };
                }
                let Ok(parsed) = PasswordHash::new(&stored) else {
                    return Verification::Invalid;
                };
                let valid = pool.with_block(argon2_params().block_count(), |memory| {
                    hash_memory::verify_argon2(memory, password.as_bytes(), &parsed)
                });
                if valid && known {
                    let current = parsed.algorithm == argon2::ARGON2ID_IDENT
                        && Params::try_from(&parsed)
                            .is_ok_and(|p| p.m_cost() >= 19_456 && p.t_cost() >= 2);
                    Verification::Valid { rehash: !current }
                } else {
                    Verification::Invalid
                }
            })
            .await;
        self.release_idle_memory();
        verification
    }
}

// ---------------------------------------------------------------------------------------
// Validation

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .collect()
});

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Trimmed and lower-cased, or a clear error.
pub fn normalize_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let invalid = || AppError::BadRequest("Enter a valid email address.".to_owned());
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty()
        || local.len() > 64
        || !domain_ok
        || local.contains(['<', '>', '"', '(', ')', ',', ';', ':', '[', ']'])
    {
        return Err(invalid());
    }
    Ok(email)
}

/// NIST-style rules: length only (12 to 128 characters, never truncated), not a common
/// password, not the email address.
pub fn check_password(password: &str, email: &str) -> Result<(), AppError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "Use at least {MIN_PASSWORD_CHARS} characters for your password."
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AppError::BadRequest(format!(
            "Use at most {MAX_PASSWORD_CHARS} characters for your password."
        )));
    }
    if password.contains('\0') {
        return Err(AppError::BadRequest(
            "The password contains a character that is not allowed.".to_owned(),
        ));
    }
    let lowered = password.to_lowercase();
    if COMMON_PASSWORDS.contains(lowered.as_str()) {
        return Err(AppError::BadRequest(
            "This password is too common. Choose one that is harder to guess.".to_owned(),
        ));
    }
    if lowered.trim() == email.trim().to_lowercase() {
        return Err(AppError::BadRequest(
            "Your password must not be your email address.".to_owned(),
        ));
    }
    Ok(())
}

/// A trimmed single-line text field of at most `max` characters.
pub fn clean_text(raw: &str, field: &str, required: bool, max: usize) -> Result<String, AppError> {
    let value = raw.trim();
    if value.chars().any(|c| c.is_control()) {
        return Err(AppError::BadRequest(format!(
            "{field} contains characters that are not allowed."
        )));
    }
    if required && value.is_empty() {
        return Err(AppError::BadRequest(format!("{field} is required.")));
    }
    if value.chars().count() > max {
        return Err(AppError::BadRequest(format!(
            "{field} must be at most {max} characters."
        )));
    }
    Ok(value.to_owned())
}

// ---------------------------------------------------------------------------------------
// One-time email tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Confirm,
    Reset,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Confirm => "confirm",
            TokenPurpose::Reset => "reset",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            TokenPurpose::Confirm => Duration::from_secs(24 * 3600),
            TokenPurpose::Reset => Duration::from_secs(3600),
        }
    }
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Stores a new token (only its hash) and returns the token for the link.
pub async fn issue_token(
    pool: &PgPool,
    user_id: Uuid,
    purpose: TokenPurpose,
) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    sqlx::query(
        "insert into app_private.email_tokens (token_hash, user_id, purpose, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(purpose.lifetime().as_secs_f64())
    .execute(pool)
    .await?;
    Ok(token)
}

/// Marks a valid token used and returns its user, in the caller's transaction.
pub async fn consume_token(
    tx: &mut sqlx::PgConnection,
    token: &str,
    purpose: TokenPurpose,
) -> Result<Option<Uuid>, AppError> {
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "update app_private.email_tokens set used_at = now()
         where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
         returning user_id",
    )
    .bind(token_hash(token))
    .bind(purpose.as_str())
    .fetch_optional(&mut *tx)
    .await?)
}

// ---------------------------------------------------------------------------------------
// Throttling (fixed windows in PostgreSQL, shared by every instance)

#[derive(Debug, Clone)]
pub struct Limit {
    pub key: String,
    pub max: i32,
    pub window: Duration,
}

impl Limit {
    pub fn new(key: impl Into<String>, max: i32, window: Duration) -> Self {
        Self {
            key: key.into(),
            max,
            window,
        }
    }
}

/// Limits as the three arrays the throttle statements `unnest`: keys, maxima, windows.
fn as_columns(limits: &[Limit]) -> (Vec<&str>, Vec<i32>, Vec<f64>) {
    (
        limits.iter().map(|l| l.key.as_str()).collect(),
        limits.iter().map(|l| l.max).collect(),
        limits.iter().map(|l| l.window.as_secs_f64()).collect(),
    )
}

fn too_many(retry_after: f64) -> AppError {
    AppError::TooManyRequests {
        retry_after_secs: retry_after.ceil().max(1.0) as u64,
    }
}

/// Refuses when the window is already full, without counting this attempt.
pub async fn throttle_check(pool: &PgPool, limit: &Limit) -> Result<(), AppError> {
    throttle_check_all(pool, std::slice::from_ref(limit)).await
}

/// The query behind [`throttle_check_all`]: one row, the longest wait among the limits
/// (`$1` keys, `$2` maxima, `$3` windows in seconds) whose window is full, or null.
macro_rules! full_windows_sql {
    () => {
        "select max(extract(epoch from (r.window_start + make_interval(secs => l.secs) - now())))::float8
           as retry_after
         from unnest($1::text[], $2::int4[], $3::float8[]) as l(key, max, secs)
         join app_private.rate_limits r on r.key = l.key
         where r.window_start > now() - make_interval(secs => l.secs) and r.hits >= l.max"
    };
}

/// [`throttle_check`] for several limits in one statement (one round trip): refuses when
/// any of their windows is full, with the longest wait among them.
pub async fn throttle_check_all(pool: &PgPool, limits: &[Limit]) -> Result<(), AppError> {
    let (keys, maxes, windows) = as_columns(limits);
    let retry_after: Option<f64> = sqlx::query_scalar(full_windows_sql!())
        .bind(&keys)
        .bind(&maxes)
        .bind(&windows)
        .fetch_one(pool)
        .await?;
    match retry_after {
        Some(retry_after) => Err(too_many(retry_after)),
        None => Ok(()),
    }
}

/// What a sign-in needs before its hash: the account with this (normalized) address, if
/// any, as its ID, stored hash and whether the address is confirmed.
pub type SignInAccount = (Uuid, Option<String>, bool);

/// [`sign_in_lookup`]'s statement: the full windows' longest wait, left-joined to the
/// account (`$4`, normalized; an empty address matches none), so it is always one row.
const SIGN_IN_LOOKUP: &str = concat!(
    "with full_windows as (",
    full_windows_sql!(),
    ") select w.retry_after, u.id, u.encrypted_password::text, u.email_confirmed_at is not null
     from full_windows w left join auth.users u on lower(u.email) = $4 and $4 <> ''"
);

/// [`throttle_check_all`] and the read of the account with `email` in one statement: a
/// sign-in waits on one round trip before its hash, on one connection. Refuses as
/// [`throttle_check_all`] does, whether the account exists or not.
pub async fn sign_in_lookup(
    pool: &PgPool,
    limits: &[Limit],
    email: &str,
) -> Result<Option<SignInAccount>, AppError> {
    let (keys, maxes, windows) = as_columns(limits);
    let row: (Option<f64>, Option<Uuid>, Option<String>, Option<bool>) =
        sqlx::query_as(SIGN_IN_LOOKUP)
            .bind(&keys)
            .bind(&maxes)
            .bind(&windows)
            .bind(email)
            .fetch_one(pool)
            .await?;
    let (retry_after, id, hash, confirmed) = row;
    if let Some(retry_after) = retry_after {
        return Err(too_many(retry_after));
    }
    Ok(id.map(|id| (id, hash, confirmed.unwrap_or(false))))
}

/// Counts one attempt; refuses when it is over the limit.
pub async fn throttle_hit(pool: &PgPool, limit: &Limit) -> Result<(), AppError> {
    throttle_hit_all(pool, std::slice::from_ref(limit)).await
}

/// [`throttle_hit`] for several limits in one statement (one round trip): counts the
/// attempt against each, and refuses when any is over its limit, with the longest wait
/// among them. Rows are written in key order, so two of these statements for the same
/// keys lock them in the same order and cannot deadlock.
pub async fn throttle_hit_all(pool: &PgPool, limits: &[Limit]) -> Result<(), AppError> {
    let (keys, maxes, windows) = as_columns(limits);
    let retry_after: Option<f64> = sqlx::query_scalar(
        "with l(key, max, secs) as (select * from unnest($1::text[], $2::int4[], $3::float8[])),
         hit as (
           insert into app_private.rate_limits as r (key, window_start, hits)
           select key, now(), 1 from l order by key
           on conflict (key) do update set
             window_start = case when r.window_start <= now() - make_interval(secs =>
                                    (select secs from l where l.key = r.key))
                                 then now() else r.window_start end,
             hits = case when r.window_start <= now() - make_interval(secs =>
                            (select secs from l where l.key = r.key))
                         then 1 else r.hits + 1 end
           returning r.key, r.hits, r.window_start)
         select max(extract(epoch from (h.window_start + make_interval(secs => l.secs) - now())))::float8
         from hit h join l on l.key = h.key
         where h.hits > l.max",
    )
    .bind(&keys)
    .bind(&maxes)
    .bind(&windows)
    .fetch_one(pool)
    .await?;
    match retry_after {
        Some(retry_after) => Err(too_many(retry_after)),
        None => Ok(()),
    }
}

pub const FIFTEEN_MINUTES: Duration = Duration::from_secs(15 * 60);
pub const ONE_HOUR: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------------
// Mail

/// Where mail goes: SMTP when `SMTP_URL` is set, otherwise (development only) the outbox
/// that `/dev/mailbox` shows.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
        from: lettre::message::Mailbox,
    },
    Outbox,
}

impl Mailer {
    pub fn smtp(url: &str, from: &str) -> Result<Self, String> {
        let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
            .map_err(|e| format!("SMTP_URL: {e}"))?
            .build();
        let from = from.parse().map_err(|e| format!("MAIL_FROM: {e}"))?;
        Ok(Mailer::Smtp { transport, from })
    }

    #[tracing::instrument(skip(self, pool, body))]
    pub async fn send(
        &self,
        pool: &PgPool,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), AppError> {
        match self {
            Mailer::Outbox => {
                sqlx::query(
                    "insert into app_private.outbox (recipient, subject, body) values ($1, $2, $3)",
                )
                .bind(to)
                .bind(subject)
                .bind(&body)
                .execute(pool)
                .await?;
                tracing::info!(
                    to,
                    subject,
                    "mail kept in the dev outbox (see /dev/mailbox):\n{body}"
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                use lettre::AsyncTransport;
                let to = to
                    .parse()
                    .map_err(|e| AppError::internal("mail recipient", e))?;
                let message = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(subject)
                    .header(lettre::message::header::ContentType::TEXT_PLAIN)
                    .body(body)
                    .map_err(|e| AppError::internal("mail build", e))?;
                transport
                    .send(message)
                    .await
                    .map_err(|e| AppError::internal("smtp send", e))?;
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sessions

const AUTH_KEY: &str = "auth";

/// What the tower-sessions record holds: which `app_private.user_sessions` row it is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct AuthRecord {
    sid: Uuid,
    uid: Uuid,
}

/// A valid session and its user, resolved once per request by the auth middleware.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: SessionUser,
    pub session_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// The request's user, if signed in (a request extension).
#[derive(Debug, Clone, Default)]
pub struct CurrentUser(pub Option<Authenticated>);

/// Who is calling: for throttling and the session list (a request extension).
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

fn session_err(e: impl std::fmt::Display) -> AppError {
    AppError::internal("session store", e)
}

/// Where [`establish`] leaves a new session's `user_sessions` row in the session's record,
/// for the session store to write with the record, in one statement at the end of the
/// request (`switchboard::sessions::NEW_SIGNED_IN_RECORD`); the store takes it out of the
/// record before it writes the record.
pub const NEW_ROW_KEY: &str = "new_session_row";

/// A new session's `user_sessions` row (see [`NEW_ROW_KEY`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSessionRow {
    pub sid: Uuid,
    pub uid: Uuid,
    pub lifetime_secs: f64,
    pub ip: String,
    pub user_agent: String,
}

/// Signs `user_id` in on this browser: a new session ID (against fixation), a row in
/// `user_sessions`, and the record pointing at it. A session this browser already had
/// ends: its old ID may still sit in another instance's record cache, and must lead
/// nowhere.
///
/// The row's ID is drawn here, and the row is written with the record by the session
/// store, in the record's one statement at the end of the request: each of the two was a
/// round trip to a PostgreSQL backend that had idled through the password hash, 0.3–1.2
/// ms apiece on the slower machines (`bench/HISTORY.md`, "Where the targets stood", the
/// sign-in). That statement also records the sign-in on the user, and commits with
/// `synchronous_commit` off: PostgreSQL answers before the commit's WAL reaches the disk,
/// which was most of each write's time (medians of 30 sign-ins: 1.2 → 0.55 and 0.55 →
/// 0.25 ms). A crash can lose only the last moment's such commits, the row and the record
/// together, and losing them only signs that browser out again. What ends a session
/// (sign-out, revocation, the previous session's row deleted first) still waits for the
/// flush.
pub async fn establish(
    pool: &PgPool,
    session: &Session,
    user_id: Uuid,
    client: &ClientInfo,
    settings: &AuthSettings,
) -> Result<(), AppError> {
    let previous: Option<AuthRecord> = session.get(AUTH_KEY).await.ok().flatten();
    if let Some(previous) = previous {
        sqlx::query("delete from app_private.user_sessions where id = $1")
            .bind(previous.sid)
            .execute(pool)
            .await?;
    }
    // A new ID against fixation, where the browser came with a stored record. Without one
    // (no cookie, or one naming no record) the record is already new: its ID was drawn on
    // this request and is only stored at the end of it, so there is nothing to replace (and
    // no round trip to delete what does not exist). Either way the store creates the record
    // (`SessionStore::create`), which is where the row is written.
    if session.id().is_some() {
        session.cycle_id().await.map_err(session_err)?;
    }
    let sid = Uuid::new_v4();
    let row = NewSessionRow {
        sid,
        uid: user_id,
        lifetime_secs: settings.absolute_lifetime.as_secs_f64(),
        ip: client.ip.clone(),
        user_agent: client.user_agent.chars().take(512).collect(),
    };
    session
        .insert(NEW_ROW_KEY, row)
        .await
        .map_err(session_err)?;
    session
        .insert(AUTH_KEY, AuthRecord { sid, uid: user_id })
        .await
        .map_err(session_err)?;
    let expiry = time::OffsetDateTime::now_utc() + settings.absolute_lifetime;
    session.set_expiry(Some(Expiry::AtDateTime(expiry)));
    Ok(())
}

/// The user of this session, if it is signed in and neither idle too long, past its
/// absolute lifetime nor revoked. Marks it seen (at most once a minute, to spare writes).
/// What this instance resolved in the last few seconds comes from `cache` (see
/// `session_cache` for what that allows).
pub async fn resolve(
    pool: &PgPool,
    session: &Session,
    settings: &AuthSettings,
    cache: &SessionCache,
) -> Result<Option<Authenticated>, AppError> {
    let record: Option<AuthRecord> = match session.get(AUTH_KEY).await {
        Ok(record) => record,
        // A record we cannot read is treated as no session, not as an error.
        Err(tower_sessions::session::Error::SerdeJson(_)) => None,
        Err(e) => return Err(session_err(e)),
    };
    let Some(record) = record else {
        return Ok(None);
    };
    if let Some(cached) = cache.get(record.sid, record.uid) {
        return Ok(Some(cached));
    }
    let ticket = cache.ticket();
    #[allow(clippy::type_complexity)]
    let row: Option<(Uuid, String, String, Option<Uuid>, Option<String>, Option<String>, DateTime<Utc>, i64)> =
        sqlx::query_as(
            "with s as (
               select id, user_id, last_seen_at,
                      least(expires_at, last_seen_at + make_interval(secs => $3)) as ends
               from app_private.user_sessions
               where id = $1 and user_id = $2 and expires_at > now()
                 and last_seen_at > now() - make_interval(secs => $3)
             ), touch as (
               update app_private.user_sessions u set last_seen_at = now()
               from s where u.id = s.id and s.last_seen_at < now() - interval '60 seconds'
             )
             select u.id, coalesce(u.email, '')::text, coalesce(p.full_name, ''),
                    p.organization_id, o.name, m.role, s.ends,
                    (select count(*) from public.memberships mm where mm.user_id = u.id)
             from s
             join auth.users u on u.id = s.user_id
             left join public.profiles p on p.id = u.id
             left join public.organizations o on o.id = p.organization_id
             left join public.memberships m on m.organization_id = p.organization_id and m.user_id = u.id",
        )
        .bind(record.sid)
        .bind(record.uid)
        .bind(settings.idle_timeout.as_secs_f64())
        .fetch_optional(pool)
        .await?;
    let resolved = row.map(
        |(id, email, full_name, organization_id, organization_name, role, ends, organizations)| {
            Authenticated {
                user: SessionUser {
                    id,
                    email,
                    full_name,
                    organization_id,
                    organization_name,
                    role,
                    organizations,
                },
                session_id: record.sid,
                expires_at: ends,
            }
        },
    );
    if let Some(auth) = &resolved {
        cache.keep(ticket, auth);
    }
    Ok(resolved)
}

/// Signs this browser out: its row goes (so a replayed cookie is anonymous on every
/// instance, also for requests already in flight) and so does the session record.
pub async fn end(pool: &PgPool, session: &Session) -> Result<(), AppError> {
    let record: Option<AuthRecord> = session.get(AUTH_KEY).await.ok().flatten();
    if let Some(record) = record {
        sqlx::query("delete from app_private.user_sessions where id = $1")
            .bind(record.sid)
            .execute(pool)
            .await?;
    }
    session.flush().await.map_err(session_err)?;
    Ok(())
}

/// Ends every session of `user_id` but `keep`.
pub async fn end_other_sessions(
    pool: &PgPool,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "delete from app_private.user_sessions where user_id = $1 and id is distinct from $2",
    )
    .bind(user_id)
    .bind(keep)
    .execute(pool)
    .await?
    .rows_affected())
}

// ---------------------------------------------------------------------------------------
// Request context for server functions

pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| AppError::internal("context", "AppState missing"))
}

/// `read` of this request's parts, borrowed: a copy of them is a copy of every header and
/// extension of the request (the user and the client among them), which a page would
/// otherwise make for each server function it runs.
fn with_parts<R>(read: impl FnOnce(&Parts) -> R) -> Option<R> {
    with_context::<Parts, _>(read)
}

pub fn current_user() -> Option<Authenticated> {
    with_parts(|p| p.extensions.get::<CurrentUser>().and_then(|c| c.0.clone())).flatten()
}

pub fn client_info() -> ClientInfo {
    with_parts(|p| p.extensions.get::<ClientInfo>().cloned())
        .flatten()
        .unwrap_or_default()
}

/// The signed-in user, or 401: every protected server function starts here.
pub fn require_user() -> Result<Authenticated, AppError> {
    current_user().ok_or_else(|| fail(AppError::Unauthorized))
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(session_err)
}

/// Sets the response status (and `Retry-After`) for an error a server function returns to
/// a fetch caller. A plain HTML form post is answered with a redirect back to the form
/// carrying the error instead (a 4xx would stop the browser there).
pub fn fail(error: AppError) -> AppError {
    let form_post = with_parts(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
    })
    .unwrap_or(false);
    if form_post {
        return error;
    }
    if let Some(response) = use_context::<ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(error.status_code()) {
            response.set_status(status);
        }
        if let AppError::TooManyRequests { retry_after_secs } = &error {
            if let Ok(value) = http::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.insert_header(http::header::RETRY_AFTER, value);
            }
        }
    }
    error
}

/// A short device description from a User-Agent, for the session list.
pub fn describe_device(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => o.to_owned(),
        (None, None) if user_agent.is_empty() => "Unknown device".to_owned(),
        (None, None) => user_agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").as_deref(),
            Ok("ada@example.com")
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@exa mple.com",
            "ada@@example.com",
            "<script>@x.io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn password_rules() {
        let email = "ada@example.com";
        assert!(check_password("correct horse battery", email).is_ok());
        assert!(check_password("short", email).is_err());
        assert!(check_password(&"x".repeat(129), email).is_err());
        assert!(
            check_password(&"é".repeat(128), email).is_ok(),
            "128 characters, not bytes"
        );
        assert!(check_password("ada@example.com", email).is_err());
        assert!(
            check_password("qwertyuiop123", email).is_err()
                || !COMMON_PASSWORDS.contains("qwertyuiop123")
        );
        assert!(COMMON_PASSWORDS.len() >= 10_000);
        assert!(
            check_password("1234567890123", email).is_ok()
                || COMMON_PASSWORDS.contains("1234567890123")
        );
    }

    #[test]
    fn a_listed_long_password_is_refused() {
        let listed = COMMON_PASSWORDS
            .iter()
            .find(|p| p.chars().count() >= MIN_PASSWORD_CHARS)
            .expect("the list has long entries");
        assert!(check_password(listed, "ada@example.com").is_err());
        assert!(check_password(&listed.to_uppercase(), "ada@example.com").is_err());
    }

    #[test]
    fn the_dummy_hash_uses_the_real_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).expect("dummy hash parses");
        let params = Params::try_from(&parsed).expect("params");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (19_456, 2, 1)
        );
    }

    #[test]
    fn devices_are_described_briefly() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(describe_device(ua), "Chrome on Linux");
        assert_eq!(describe_device(""), "Unknown device");
    }
}
