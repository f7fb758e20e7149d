//! Keeps Leptos's current reactive owner to the request that made it.
//!
//! Leptos keeps "the current owner" (the node that `use_context` looks up from) in a
//! thread-local. A page render makes its root owner current with `Owner::new_root` and
//! leaves it there when it waits for data (leptos_axum 0.8.10, `build_response`), so the
//! next request a worker thread polls starts with another request's owner as its current
//! one. The handlers that begin with `Owner::new()` then make their owner a child of that
//! page's and see its contexts: the static-file handler looks up a `ResponseOptions`,
//! finds the page's, and moves the page's headers onto the file's response (its
//! `extend_response` takes them). The page went out without its nonce Content-Security-
//! Policy, so the browser refused its inline scripts; a redirect set while rendering
//! could lose its `Location` the same way. The page render also reads its nonce and lazy
//! module manifest from the thread-local after an await.
//!
//! [`one_owner_per_request`] wraps each request's handling so that, while it is polled,
//! the thread-local holds only what this request set there (nothing at first), and the
//! previous value is put back after each poll. Every request then sees its own owner
//! (or none) whichever thread runs it and whatever ran there before.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::Owner;

/// Middleware: runs the rest of the request with a thread-local owner of its own.
pub async fn one_owner_per_request(request: Request, next: Next) -> Response {
    OwnOwner {
        inner: Box::pin(next.run(request)),
        owner: None,
    }
    .await
}

/// A future polled with its own current owner (see the module's documentation).
struct OwnOwner<F> {
    inner: Pin<Box<F>>,
    /// What the future left as the current owner when it last returned.
    owner: Option<Owner>,
}

impl<F: Future> Future for OwnOwner<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let outside = Owner::current();
        make_current(self.owner.as_ref());
        let poll = self.inner.as_mut().poll(cx);
        self.owner = match poll {
            Poll::Pending => Owner::current(),
            Poll::Ready(_) => None,
        };
        make_current(outside.as_ref());
        poll
    }
}

/// Makes `owner` the thread's current owner, or leaves it with none.
fn make_current(owner: Option<&Owner>) {
    match owner {
        Some(owner) => owner.set(),
        None => {
            if let Some(current) = Owner::current() {
                current.unset();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// A future that, like a page render, makes a new root owner current and waits once.
    struct LeavesItsOwner(Option<Owner>);

    impl Future for LeavesItsOwner {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            match self.0 {
                None => {
                    self.0 = Some(Owner::new_root(None));
                    Poll::Pending
                }
                Some(ref own) => {
                    assert_eq!(
                        Owner::current().as_ref(),
                        Some(own),
                        "polled again with its own owner"
                    );
                    Poll::Ready(())
                }
            }
        }
    }

    #[test]
    fn an_owner_left_current_by_one_future_is_not_seen_outside_it_and_is_back_for_it() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut wrapped = OwnOwner {
            inner: Box::pin(LeavesItsOwner(None)),
            owner: None,
        };
        assert!(Owner::current().is_none());
        assert!(Pin::new(&mut wrapped).poll(&mut cx).is_pending());
        assert!(
            Owner::current().is_none(),
            "the owner stays inside the future"
        );
        // Another request on this thread now starts a fresh root of its own.
        let other = Owner::new();
        assert!(other.parent().is_none());
        assert!(Pin::new(&mut wrapped).poll(&mut cx).is_ready());
        assert!(Owner::current().is_none());

        // Unwrapped, the same future leaves its owner to whatever runs next.
        let mut bare = LeavesItsOwner(None);
        assert!(Pin::new(&mut bare).poll(&mut cx).is_pending());
        assert!(Owner::new().parent().is_some());
    }
}
