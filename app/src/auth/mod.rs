//! Accounts and sessions: the types the browser sees, the server functions, and (ssr) the
//! password, token, throttling, mail and session machinery behind them.

pub mod api;
#[cfg(feature = "ssr")]
pub mod hash_memory;
#[cfg(feature = "ssr")]
pub mod proxies;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod session_cache;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The signed-in user as the browser sees it (never the password hash).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub organization_id: Option<Uuid>,
    pub organization_name: Option<String>,
    pub role: Option<String>,
    /// How many organizations the user belongs to (the header offers a switcher past one).
    #[serde(default)]
    pub organizations: i64,
}

/// One signed-in browser of the user, for `/settings/sessions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: Uuid,
    pub device: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
}

/// Server functions anyone may call without a session. Every other server function
/// refuses anonymous callers; a test enumerates the registered ones against this list.
pub const PUBLIC_SERVER_FNS: &[&str] = &[
    "/auth/signup",
    "/auth/signin",
    "/auth/confirm",
    "/auth/resend",
    "/auth/forgot",
    "/auth/reset",
    "/api/auth/current_user",
];

/// A `?next=` target, kept only if it is a same-site relative path.
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next.len() <= 2048;
    ok.then(|| next.to_owned())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_accepts_only_same_site_relative_paths() {
        assert_eq!(
            safe_next(Some("/agents?q=1")),
            Some("/agents?q=1".to_owned())
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "dashboard",
            "/a\nb",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }
}
