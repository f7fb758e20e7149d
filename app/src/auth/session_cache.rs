//! Resolved sessions, kept for a few seconds by the instance that resolved them.
//!
//! Every request used to read its session row, user, profile, organization and membership
//! from PostgreSQL (`resolve`): a round trip and a statement on every page, server function
//! call and lazy module's data. A page load makes several of those within a second, so
//! this instance keeps what it resolved for `ttl` (5 s by default), and lets PostgreSQL tell
//! it when to forget:
//!
//! - triggers (migration `20261203000002_session_cache_notifications.sql`) send a
//!   notification on channel [`CHANNEL`] whenever a session row goes or a user's email,
//!   profile, membership or organization changes; every instance listens (the server's
//!   `session_listener`) and forgets that user's (or organization's) sessions;
//! - a request that changes something forgets its own user's sessions on this instance
//!   when it ends, before the browser can send the next one (`forget_user` from the auth
//!   middleware), so a sign-out or rename is seen at once by the instance that made it;
//! - an entry is only used while the listener is known to receive notifications: it is
//!   switched on after a probe notification came back, off (and everything forgotten)
//!   when the connection fails or a later probe does not come back (a transaction-mode
//!   connection pooler, which drops notifications, never turns it on);
//! - every forgetting bumps a generation; a lookup that started before one is not kept,
//!   so a sign-out that lands while another request is reading the session cannot be
//!   overwritten by that request's now stale answer.
//!
//! What this allows: a session ended, or a membership changed, through another instance
//! still counts on this one until the notification arrives (milliseconds; the README's
//! "Security" has the measured figure), and at most `ttl` if notifications stop without
//! the connection failing and before the next probe. Data access does not depend on it:
//! row-level security reads the memberships as they are at each statement.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use uuid::Uuid;

use super::server::Authenticated;

/// The PostgreSQL notification channel the triggers send on.
pub const CHANNEL: &str = "switchboard_auth";

/// Entries kept at most; past it, expired entries go first, then all.
const CAPACITY: usize = 50_000;

#[derive(Clone)]
pub struct SessionCache {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    entries: RwLock<HashMap<Uuid, (Instant, Authenticated)>>,
    /// Whether notifications are known to arrive (see the module's documentation).
    live: AtomicBool,
    generation: AtomicU64,
}

/// Where a lookup started: pass it back to [`SessionCache::keep`].
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

impl SessionCache {
    /// A cache keeping entries for `ttl` (zero: never keeps anything). It keeps nothing
    /// until [`SessionCache::set_live`] says notifications arrive.
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                ttl,
                entries: RwLock::new(HashMap::new()),
                live: AtomicBool::new(false),
                generation: AtomicU64::new(0),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.inner.ttl.is_zero()
    }

    /// The session `session_id` of `user_id`, if resolved here recently and still valid.
    pub fn get(&self, session_id: Uuid, user_id: Uuid) -> Option<Authenticated> {
        if !self.inner.live.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.inner.entries.read().ok()?;
        let (at, auth) = entries.get(&session_id)?;
        (at.elapsed() < self.inner.ttl && auth.user.id == user_id && auth.expires_at > Utc::now())
            .then(|| auth.clone())
    }

    /// Call before reading a session from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.generation.load(Ordering::Acquire))
    }

    /// Keeps `auth`, read from the database after `ticket`, unless something was forgotten
    /// since.
    pub fn keep(&self, ticket: Ticket, auth: &Authenticated) {
        if !self.enabled() || !self.inner.live.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut entries) = self.inner.entries.write() else {
            return;
        };
        // Checked under the lock, which every forgetting takes after bumping the generation.
        if self.inner.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len() >= CAPACITY {
            let ttl = self.inner.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(auth.session_id, (Instant::now(), auth.clone()));
    }

    fn forget_where(&self, gone: impl Fn(&Authenticated) -> bool) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.inner.entries.write() {
            entries.retain(|_, (_, auth)| !gone(auth));
        }
    }

    /// Forgets every session of `user_id`.
    pub fn forget_user(&self, user_id: Uuid) {
        self.forget_where(|auth| auth.user.id == user_id);
    }

    /// Forgets every session whose current organization is `organization_id`.
    pub fn forget_organization(&self, organization_id: Uuid) {
        self.forget_where(|auth| auth.user.organization_id == Some(organization_id));
    }

    pub fn forget_all(&self) {
        self.forget_where(|_| true);
    }

    /// Acts on one notification's payload: `user:<id>`, `organization:<id>`, anything
    /// else forgets everything.
    pub fn notified(&self, payload: &str) {
        let id = |prefix: &str| {
            payload
                .strip_prefix(prefix)
                .and_then(|id| Uuid::parse_str(id).ok())
        };
        if let Some(user) = id("user:") {
            self.forget_user(user);
        } else if let Some(organization) = id("organization:") {
            self.forget_organization(organization);
        } else {
            self.forget_all();
        }
    }

    /// Whether notifications are known to arrive. Off forgets everything.
    pub fn set_live(&self, live: bool) {
        if !live {
            self.inner.live.store(false, Ordering::Release);
            self.forget_all();
        } else if self.enabled() {
            self.inner.live.store(true, Ordering::Release);
        }
    }

    pub fn is_live(&self) -> bool {
        self.inner.live.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SessionUser;

    fn auth(user: Uuid, organization: Uuid) -> Authenticated {
        Authenticated {
            user: SessionUser {
                id: user,
                email: "a@example.com".to_owned(),
                full_name: String::new(),
                organization_id: Some(organization),
                organization_name: Some("A".to_owned()),
                role: Some("owner".to_owned()),
                organizations: 1,
            },
            session_id: Uuid::new_v4(),
            expires_at: Utc::now() + chrono::Duration::hours(1),
        }
    }

    #[test]
    fn keeps_nothing_until_notifications_are_known_to_arrive_and_forgets_all_when_they_stop() {
        let cache = SessionCache::new(Duration::from_secs(5));
        let a = auth(Uuid::new_v4(), Uuid::new_v4());
        cache.keep(cache.ticket(), &a);
        assert!(cache.get(a.session_id, a.user.id).is_none());
        cache.set_live(true);
        cache.keep(cache.ticket(), &a);
        assert_eq!(
            cache.get(a.session_id, a.user.id).map(|hit| hit.user),
            Some(a.user.clone())
        );
        assert!(
            cache.get(a.session_id, Uuid::new_v4()).is_none(),
            "another user's id"
        );
        cache.set_live(false);
        assert!(cache.get(a.session_id, a.user.id).is_none());
        cache.set_live(true);
        assert!(
            cache.get(a.session_id, a.user.id).is_none(),
            "forgotten, not hidden"
        );
    }

    #[test]
    fn a_lookup_that_started_before_a_forgetting_is_not_kept() {
        let cache = SessionCache::new(Duration::from_secs(5));
        cache.set_live(true);
        let a = auth(Uuid::new_v4(), Uuid::new_v4());
        let ticket = cache.ticket();
        cache.notified(&format!("user:{}", Uuid::new_v4()));
        cache.keep(ticket, &a);
        assert!(cache.get(a.session_id, a.user.id).is_none());
        cache.keep(cache.ticket(), &a);
        assert!(cache.get(a.session_id, a.user.id).is_some());
    }

    #[test]
    fn notifications_forget_the_user_the_organization_or_everything() {
        let cache = SessionCache::new(Duration::from_secs(5));
        cache.set_live(true);
        let (org, other_org) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b, c) = (
            auth(Uuid::new_v4(), org),
            auth(Uuid::new_v4(), org),
            auth(Uuid::new_v4(), other_org),
        );
        let keep_all = |cache: &SessionCache| {
            for x in [&a, &b, &c] {
                cache.keep(cache.ticket(), x);
            }
        };
        let cached = |cache: &SessionCache| {
            [&a, &b, &c].map(|x| cache.get(x.session_id, x.user.id).is_some())
        };
        keep_all(&cache);
        cache.notified(&format!("user:{}", a.user.id));
        assert_eq!(cached(&cache), [false, true, true]);
        keep_all(&cache);
        cache.notified(&format!("organization:{org}"));
        assert_eq!(cached(&cache), [false, false, true]);
        keep_all(&cache);
        cache.notified("something else");
        assert_eq!(cached(&cache), [false, false, false]);
    }

    #[test]
    fn entries_expire_and_a_zero_ttl_keeps_nothing() {
        let cache = SessionCache::new(Duration::from_millis(20));
        cache.set_live(true);
        let a = auth(Uuid::new_v4(), Uuid::new_v4());
        cache.keep(cache.ticket(), &a);
        assert!(cache.get(a.session_id, a.user.id).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get(a.session_id, a.user.id).is_none());

        let off = SessionCache::new(Duration::ZERO);
        off.set_live(true);
        assert!(!off.is_live());
        off.keep(off.ticket(), &a);
        assert!(off.get(a.session_id, a.user.id).is_none());
    }
}
