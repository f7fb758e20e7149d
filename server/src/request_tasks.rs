//! Leptos's tasks end with the request that spawned them.
//!
//! A page's resources each spawn a task (through Leptos's global executor) that loads the
//! data and then waits for the resource's sources to change. On the server that wait ends
//! only when the resource is dropped, and the task itself holds the page's reactive arena:
//! when the render's clean-up does not reach the resource, task and arena keep each other
//! alive. Under load, about 1.5% of page requests left their whole reactive graph behind
//! this way (heaptrack, glibc malloc: the dashboard's data, its memos, the arena's slots),
//! and the server's RSS climbed with every minute of traffic (see the README, "Measured").
//!
//! [`RequestExecutor`] spawns on tokio as before, but notes each task spawned while a
//! request is being handled (or by such a task) in that request's [`TaskSet`];
//! [`tasks_end_with_response`] aborts whatever is still running once the response's body
//! has been sent or dropped. A task spawned outside any request (none, today) runs as
//! before.
//!
//! Ending comes first: the request's tasks end before its body (which holds the page's
//! reactive graph) is dropped, and ending waits for a poll of one of them that another
//! worker thread has under way, then drops their futures itself. Before, the graph could
//! be disposed while a task was being polled on the other thread, and when that task
//! looked up a context (`use_context` walks up the owners holding a read lock) just as
//! the last reference to a parent owner went away, its clean-up asked for a write lock
//! the same thread held: the worker thread hung for good (seen once in three `make bench`
//! runs: `gdb` showed the thread in `reactive_graph`'s `with_context`, and the server
//! never exited).

use std::cell::RefCell;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::LocalKey;

use any_spawner::{CustomExecutor, Executor, PinnedFuture, PinnedLocalFuture};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::task::AbortHandle;

/// The tasks one request spawned, to be ended when it is over.
#[derive(Default)]
pub struct TaskSet {
    state: Mutex<TaskSetState>,
}

#[derive(Default)]
struct TaskSetState {
    tasks: Vec<(AbortHandle, Arc<Slot>)>,
    ended: bool,
}

/// A request task's future. Its poll holds the lock, so whoever takes the future out
/// (`TaskSet::end`) waits for a poll under way on another thread.
type Slot = Mutex<Option<PinnedFuture<()>>>;

thread_local! {
    /// The slot whose future this thread is polling, if any.
    static POLLING: RefCell<Option<Arc<Slot>>> = const { RefCell::new(None) };
}

impl TaskSet {
    fn add(&self, handle: AbortHandle, slot: Arc<Slot>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.ended {
            // Spawned by a task of a request that is already over.
            drop(state);
            handle.abort();
            drop(take(&slot));
        } else {
            state.tasks.retain(|(h, _)| !h.is_finished());
            state.tasks.push((handle, slot));
        }
    }

    fn is_empty(&self) -> bool {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.tasks.iter().all(|(h, _)| h.is_finished())
    }

    /// Ends every task: aborts it, waits for a poll of it under way on another thread, and
    /// drops its future here and now. Tasks spawned from now on are aborted at once.
    fn end(&self) {
        let tasks = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.ended = true;
            mem::take(&mut state.tasks)
        };
        let mut futures = Vec::with_capacity(tasks.len());
        for (handle, slot) in tasks {
            handle.abort();
            // This thread cannot wait for its own poll (a task that ends its own request).
            let own = POLLING.with_borrow(|p| p.as_ref().is_some_and(|p| Arc::ptr_eq(p, &slot)));
            if !own {
                futures.push(take(&slot));
            }
        }
        // Dropped after every lock is released: dropping a future can run Leptos's clean-up.
        drop(futures);
    }
}

/// Takes the future out of `slot`, waiting for a poll under way.
fn take(slot: &Slot) -> Option<PinnedFuture<()>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// A request task as tokio runs it: polls the future in its slot with the request's task
/// set current, and is done once the slot is empty (the request ended it).
struct SlotTask {
    set: Arc<TaskSet>,
    slot: Arc<Slot>,
}

impl Future for SlotTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &*self;
        let result = {
            let _polling = for_now(&POLLING, Arc::clone(&this.slot));
            let mut future = this.slot.lock().unwrap_or_else(|e| e.into_inner());
            match future.as_mut() {
                Some(future) => polled_in(&this.set, || future.as_mut().poll(cx)),
                None => Poll::Ready(()),
            }
        };
        if result.is_ready() {
            // Finished: its future goes now, not when the request ends.
            drop(this.slot.try_lock().ok().and_then(|mut f| f.take()));
        }
        result
    }
}

thread_local! {
    /// The task set of the request (or request task) this thread is polling.
    static CURRENT: RefCell<Option<Arc<TaskSet>>> = const { RefCell::new(None) };
}

fn current() -> Option<Arc<TaskSet>> {
    CURRENT.with_borrow(Clone::clone)
}

/// Runs `poll` with `set` as the thread's current task set, then puts back what was there
/// (also when `poll` panics).
fn polled_in<R>(set: &Arc<TaskSet>, poll: impl FnOnce() -> R) -> R {
    let _current = for_now(&CURRENT, Arc::clone(set));
    poll()
}

/// Sets a thread-local until the returned guard is dropped, then puts back what was there.
fn for_now<T: 'static>(key: &'static LocalKey<RefCell<Option<T>>>, value: T) -> Restore<T> {
    let outside = key.with_borrow_mut(|c| c.replace(value));
    Restore { key, outside }
}

/// Puts a thread-local back as it was: when a poll ends, or unwinds from a panic (tokio
/// catches a task's panic and the worker thread goes on to poll other tasks).
struct Restore<T: 'static> {
    key: &'static LocalKey<RefCell<Option<T>>>,
    outside: Option<T>,
}

impl<T> Drop for Restore<T> {
    fn drop(&mut self) {
        let outside = self.outside.take();
        self.key.with_borrow_mut(|c| *c = outside);
    }
}

/// Leptos's executor on the server: tokio, with each task noted in the task set of the
/// request that spawned it.
pub struct RequestExecutor;

impl CustomExecutor for RequestExecutor {
    fn spawn(&self, fut: PinnedFuture<()>) {
        match current() {
            Some(set) => {
                let slot = Arc::new(Mutex::new(Some(fut)));
                let handle = tokio::spawn(SlotTask {
                    set: Arc::clone(&set),
                    slot: Arc::clone(&slot),
                });
                set.add(handle.abort_handle(), slot);
            }
            None => {
                tokio::spawn(fut);
            }
        }
    }

    fn spawn_local(&self, fut: PinnedLocalFuture<()>) {
        tokio::task::spawn_local(fut);
    }

    fn poll_local(&self) {}
}

/// Makes [`RequestExecutor`] Leptos's executor, unless one is already set (the executor is
/// global to the process: the first call wins, later ones change nothing), and installs
/// [`quiet_disposed_reads`] once.
pub fn init() {
    let _ = Executor::init_custom_executor(RequestExecutor);
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(quiet_disposed_reads);
}

/// What Leptos panics with when a closure reads a reactive value that has been disposed.
const DISPOSED: &str = "Tried to access a reactive value that has already been disposed";

/// Whether a panic is Leptos's disposed-value panic raised while polling a request's
/// handling or one of its tasks.
fn is_disposed_read_in_request(payload: &(dyn std::any::Any + Send)) -> bool {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    message.is_some_and(|m| m.starts_with(DISPOSED)) && current().is_some()
}

/// Logs Leptos's disposed-value panic in a request's task as one warning instead of the
/// default report; any other panic is reported as before.
///
/// A Suspense task of an answered request can still be running on the other worker
/// thread while the page's reactive graph is disposed (aborting a task does not stop a
/// poll already under way), and a closure it runs then panics on a value that is gone.
/// Its output would be thrown away; tokio ends the task. The default report is the
/// trouble: with `RUST_BACKTRACE` set, the standard library symbolizes a backtrace, maps
/// the 20 MB binary and keeps its parsed debug information for the life of the process,
/// 35-50 MiB of RSS at the first such panic (README, "Organization data"). Since a
/// request's tasks end before its page is disposed (the module's documentation), this
/// has not been seen again; the hook stays, as a guard.
fn quiet_disposed_reads() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_disposed_read_in_request(info.payload()) {
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::warn!(
                at,
                "a task of an answered request read a disposed reactive value; task ended"
            );
        } else {
            report(info);
        }
    }));
}

/// The request's handling, polled with its task set current. Dropped unfinished (the
/// client went away before the response was ready), it ends the request's tasks first.
struct Handling<F: Future> {
    set: Arc<TaskSet>,
    inner: Pin<Box<F>>,
    done: bool,
}

impl<F: Future> Handling<F> {
    fn new(set: &Arc<TaskSet>, inner: F) -> Self {
        Self {
            set: Arc::clone(set),
            inner: Box::pin(inner),
            done: false,
        }
    }
}

impl<F: Future> Future for Handling<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let result = polled_in(&this.set, || this.inner.as_mut().poll(cx));
        this.done = result.is_ready();
        result
    }
}

impl<F: Future> Drop for Handling<F> {
    fn drop(&mut self) {
        if !self.done {
            // Before `inner`, which holds the page's reactive graph, is dropped.
            self.set.end();
        }
    }
}

/// Middleware: the tasks Leptos spawns for this request end with its response.
pub async fn tasks_end_with_response(request: Request, next: Next) -> Response {
    let set = Arc::new(TaskSet::default());
    let response = Handling::new(&set, next.run(request)).await;
    if set.is_empty() {
        return response;
    }
    response.map(|body| Body::new(EndsTasks { inner: body, set }))
}

/// A response body that ends its request's tasks once it has been sent or dropped, and
/// is polled with their task set current (the page's last chunks can still spawn).
struct EndsTasks {
    inner: Body,
    set: Arc<TaskSet>,
}

impl Drop for EndsTasks {
    fn drop(&mut self) {
        // Before `inner`, which holds the page's reactive graph, is dropped.
        self.set.end();
    }
}

impl http_body::Body for EndsTasks {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        polled_in(&this.set, || Pin::new(&mut this.inner).poll_frame(cx))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_disposed_reads_inside_a_request_are_quieted() {
        let disposed: Box<dyn std::any::Any + Send> = Box::new(format!("{DISPOSED}.\nmore"));
        let other: Box<dyn std::any::Any + Send> = Box::new("index out of bounds");
        let set = Arc::new(TaskSet::default());
        assert!(
            !is_disposed_read_in_request(disposed.as_ref()),
            "outside a request"
        );
        assert!(polled_in(&set, || is_disposed_read_in_request(
            disposed.as_ref()
        )));
        assert!(!polled_in(&set, || is_disposed_read_in_request(
            other.as_ref()
        )));
        let static_str: Box<dyn std::any::Any + Send> = Box::new(DISPOSED);
        assert!(polled_in(&set, || is_disposed_read_in_request(
            static_str.as_ref()
        )));
    }

    use http_body_util::BodyExt;
    use tokio::sync::oneshot;

    /// A task that never finishes unless aborted, and says when it is dropped.
    fn forever(dropped: oneshot::Sender<()>) -> PinnedFuture<()> {
        struct Tell(Option<oneshot::Sender<()>>);
        impl Drop for Tell {
            fn drop(&mut self) {
                if let Some(tx) = self.0.take() {
                    let _ = tx.send(());
                }
            }
        }
        let tell = Tell(Some(dropped));
        Box::pin(async move {
            let _tell = tell;
            std::future::pending::<()>().await;
        })
    }

    /// Waits (up to 5 s) for the task behind `dropped` to be dropped.
    async fn assert_dropped(dropped: oneshot::Receiver<()>, when: &str) {
        let told = tokio::time::timeout(Duration::from_secs(5), dropped).await;
        assert!(
            matches!(told, Ok(Ok(()))),
            "the task was not dropped: {when}"
        );
    }

    #[tokio::test]
    async fn a_task_spawned_for_a_request_ends_when_its_body_is_done() {
        let set = Arc::new(TaskSet::default());
        let (tx, mut dropped) = oneshot::channel();
        let spawned = Handling::new(&set, async { RequestExecutor.spawn(forever(tx)) });
        spawned.await;
        assert!(!set.is_empty(), "the task was noted in the request's set");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(dropped.try_recv().is_err(), "still running mid-request");

        let body = EndsTasks {
            inner: Body::from("page"),
            set: Arc::clone(&set),
        };
        let bytes = body.collect().await.map(|b| b.to_bytes());
        assert_eq!(bytes.ok().as_deref(), Some(&b"page"[..]));
        assert_dropped(dropped, "the task is dropped once the body is done").await;
    }

    #[tokio::test]
    async fn leptos_spawns_through_this_executor_once_initialized() {
        init();
        let set = Arc::new(TaskSet::default());
        let (tx, dropped) = oneshot::channel();
        Handling::new(&set, async { leptos::task::spawn(forever(tx)) }).await;
        assert!(
            !set.is_empty(),
            "Leptos's spawn went through RequestExecutor"
        );
        set.end();
        assert_dropped(dropped, "aborted when the set ends").await;
    }

    #[tokio::test]
    async fn a_task_spawned_by_an_ended_requests_task_is_aborted() {
        let set = Arc::new(TaskSet::default());
        set.end();
        let (tx, dropped) = oneshot::channel();
        Handling::new(&set, async { RequestExecutor.spawn(forever(tx)) }).await;
        assert_dropped(dropped, "aborted at once").await;
    }

    #[test]
    fn a_panicking_poll_puts_the_threads_task_set_back() {
        let set = Arc::new(TaskSet::default());
        let panicked = std::panic::catch_unwind(|| polled_in(&set, || panic!("in a task")));
        assert!(panicked.is_err());
        assert!(
            current().is_none(),
            "a later poll on this thread would count as the request's"
        );
    }

    /// The race that hung a worker thread: the request ends (its page about to be disposed)
    /// while another thread is polling one of its tasks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ending_a_request_waits_for_its_tasks_poll_and_drops_the_task() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, SeqCst);
            }
        }
        let (polled_out, dropped) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (started, polling) = std::sync::mpsc::channel();
        let task: PinnedFuture<()> = {
            let (polled_out, flag) = (Arc::clone(&polled_out), Flag(Arc::clone(&dropped)));
            Box::pin(async move {
                let _flag = flag;
                // One long poll on a worker thread.
                let _ = started.send(());
                std::thread::sleep(Duration::from_millis(200));
                polled_out.store(true, SeqCst);
                std::future::pending::<()>().await;
            })
        };
        let set = Arc::new(TaskSet::default());
        Handling::new(&set, async { RequestExecutor.spawn(task) }).await;
        assert!(
            polling.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the task's poll started"
        );
        set.end();
        assert!(
            polled_out.load(SeqCst),
            "end returned while another thread was polling the task"
        );
        assert!(dropped.load(SeqCst), "end dropped the task's future itself");
    }

    #[tokio::test]
    async fn a_task_spawned_outside_any_request_is_left_alone() {
        let (tx, mut dropped) = oneshot::channel();
        RequestExecutor.spawn(forever(tx));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(dropped.try_recv().is_err());
    }
}
