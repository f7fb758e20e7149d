//! Tells this instance's session cache what to forget: it listens for the notifications the
//! database's triggers send (see `app::auth::session_cache`) on a connection of its own, and
//! proves every few seconds that they arrive.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::auth::session_cache::{SessionCache, CHANNEL};
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

/// How often a probe goes out; one not back by the next is a failure.
const PROBE_EVERY: Duration = Duration::from_secs(5);
/// The wait before listening again after the connection failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The probe sent last and not yet received.
type Outstanding = Arc<Mutex<Option<String>>>;

/// The listener and the prober, running for as long as the server.
pub struct SessionListener {
    task: tokio::task::JoinHandle<()>,
    /// The listener's own one-connection pool.
    own: PgPool,
}

impl SessionListener {
    /// Stops listening and closes the listener's connection (before the database stops:
    /// a connection dropped later would fail its release on a stopped server).
    pub async fn stop(self) {
        self.own.close().await;
        self.task.abort();
        let _ = self.task.await;
    }

    /// Stops without waiting (where nothing can wait, as in a `Drop`).
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Starts listening. Does nothing if the cache is off (`SESSION_CACHE_SECS=0`).
pub fn spawn(pool: &PgPool, cache: SessionCache) -> Option<SessionListener> {
    if !cache.enabled() {
        return None;
    }
    // Its own connection, so that the pool's stay with requests.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone());
    let outstanding = Outstanding::default();
    let prober = probe(pool.clone(), cache.clone(), outstanding.clone());
    let listener = {
        let own = own.clone();
        async move {
            loop {
                let result = listen(&own, &cache, &outstanding).await;
                cache.set_live(false);
                if own.is_closed() {
                    return;
                }
                if let Err(error) = result {
                    tracing::warn!(%error, "session notifications stopped; sessions are read from the database until they are back");
                }
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    };
    // One task: the prober never ends, the listener when its pool is closed.
    let task = tokio::spawn(async move {
        tokio::select! {
            () = prober => {}
            () = listener => {}
        }
    });
    Some(SessionListener { task, own })
}

async fn listen(
    own: &PgPool,
    cache: &SessionCache,
    outstanding: &Outstanding,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(own).await?;
    listener.listen(CHANNEL).await?;
    // A first probe at once, instead of waiting for the prober's next.
    send_probe(&mut listener, outstanding).await?;
    loop {
        let Some(notification) = listener.try_recv().await? else {
            // Reconnected: whatever was sent meanwhile is lost. The probe turns the cache
            // back on once it comes back.
            cache.set_live(false);
            send_probe(&mut listener, outstanding).await?;
            continue;
        };
        let payload = notification.payload();
        if payload.starts_with("probe:") {
            let mut sent = outstanding.lock().unwrap_or_else(|e| e.into_inner());
            if sent.as_deref() == Some(payload) {
                *sent = None;
                cache.set_live(true);
            }
            // Another instance's probe otherwise.
        } else {
            cache.notified(payload);
        }
    }
}

async fn probe(pool: PgPool, cache: SessionCache, outstanding: Outstanding) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    loop {
        tick.tick().await;
        let token = format!("probe:{}", Uuid::new_v4());
        // Unanswered since the last tick (one sent by the listener included)?
        let missed = {
            let mut sent = outstanding.lock().unwrap_or_else(|e| e.into_inner());
            sent.replace(token.clone()).is_some()
        };
        if missed && cache.is_live() {
            tracing::warn!("a session notification probe did not come back; sessions are read from the database until one does");
            cache.set_live(false);
        }
        if let Err(error) = notify(&pool, &token).await {
            tracing::warn!(%error, "could not send a session notification probe");
        }
    }
}

/// Sends a new probe on the listener's own connection.
async fn send_probe(
    listener: &mut PgListener,
    outstanding: &Outstanding,
) -> Result<(), sqlx::Error> {
    let token = format!("probe:{}", Uuid::new_v4());
    *outstanding.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
    notify(listener, &token).await
}

async fn notify<'c>(executor: impl sqlx::PgExecutor<'c>, payload: &str) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(executor)
        .await?;
    Ok(())
}
