//! The auth context: the signed-in user as a resource, refreshed after signing in, up or
//! out (what NextAuth's `useSession` is to a Next.js app).

use leptos::prelude::*;

use crate::auth::api::{current_user, SignIn, SignOut, SignUp};
use crate::auth::SessionUser;
use crate::resource::{data, Data};

#[derive(Clone, Copy)]
pub struct Auth {
    pub user: Data<Option<SessionUser>>,
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
}

impl Auth {
    /// `read` of the signed-in user, borrowed: `None` while loading, when signed out, and
    /// (rather than a panic) once the resource has been disposed: during SSR a Suspense
    /// task of an answered request can still run a closure that asks (seen about once in
    /// 2,000 page requests under load; see the README, "Organization data").
    ///
    /// Borrowed because pages ask for one field at a time, on each of Suspense's passes:
    /// a clone of the user is four strings to allocate and free.
    pub fn with_user<R>(&self, read: impl FnOnce(&SessionUser) -> R) -> Option<R> {
        self.user
            .try_with(|user| match user {
                Some(Ok(Some(user))) => Some(read(user)),
                _ => None,
            })
            .flatten()
    }
}

/// Must run inside `<Router>` (the actions read errors of no-JS form posts from the URL).
pub fn provide_auth() -> Auth {
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let user = data(
        move || {
            (
                sign_in.version().get(),
                sign_up.version().get(),
                sign_out.version().get(),
            )
        },
        |_| current_user(),
    );
    let auth = Auth {
        user,
        sign_in,
        sign_up,
        sign_out,
    };
    provide_context(auth);
    auth
}

pub fn use_auth() -> Auth {
    // Provided by `AppShell` for every route; a missing context is a programming error.
    expect_context::<Auth>()
}
