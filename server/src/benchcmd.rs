//! Measurements the benchmark suite (`bench/run.sh`) needs from inside the process: bare
//! argon2id verifies, and the dashboard's statement under RLS against the same statement run
//! as the table owner.

use std::time::{Duration, Instant};

use app::auth::server::{Authenticated, PasswordHasher, Verification};
use app::auth::SessionUser;
use app::errors::AppError;
use app::org::rls::act_as;
use app::org::store::DashboardRecord;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

/// One reader of the dashboard in `rls_cost`, on its own connection: what it timed, and
/// what it saw in the round under way.
struct Side {
    pool: PgPool,
    /// The user under RLS (becomes the user first); else the statement runs as the login.
    becomes_user: bool,
    ms: Vec<f64>,
    seen: Option<DashboardRecord>,
}

impl Side {
    /// A pool of one connection: PostgreSQL re-plans a cached statement that reads RLS
    /// tables whenever the role running it changes, which never happens on the app's
    /// connections (org data is always read as `authenticated`).
    async fn connect(options: PgConnectOptions, becomes_user: bool) -> Result<Self, AppError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            becomes_user,
            ms: Vec::new(),
            seen: None,
        })
    }
}

/// The positions of the sides in `rls_cost`'s list.
const USER: usize = 0;
const OWNER: usize = 1;
const SUPERUSER: usize = 2;

pub fn p50(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(0.0)
}

/// One argon2id verify with the app's parameters, as a sign-in's check runs it (the same
/// hasher, its blocking pool and its kept block), against a hash made once.
struct BareVerify {
    hasher: PasswordHasher,
    hash: String,
}

impl BareVerify {
    const PASSWORD: &str = "benchmark password";

    async fn new() -> Result<Self, AppError> {
        let hasher = PasswordHasher::new(1);
        let hash = hasher.hash(Self::PASSWORD.to_owned()).await?;
        Ok(Self { hasher, hash })
    }

    /// Milliseconds of one verify; an error if the right password were refused.
    async fn time_one(&self) -> Result<f64, AppError> {
        let started = Instant::now();
        let verified = self
            .hasher
            .verify(Self::PASSWORD.to_owned(), Some(self.hash.clone()))
            .await?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        match verified {
            Verification::Valid { .. } => Ok(ms),
            Verification::Invalid => Err(AppError::Internal),
        }
    }
}

/// Milliseconds of each of `iterations` argon2id verifies with the app's parameters, one
/// at a time, after one uncounted verify: a new process's first verify also pays for
/// mapping its 19 MiB of memory (~40 against ~21 ms), which a running server has done.
///
/// With a `pause` before each verify, the machine is idle before each hash as it is before
/// a sign-in's (the client's next request, the account read). On these virtual machines
/// that alone makes the same hash slower (`bench/HISTORY.md`, 2026-12-04, a thirteenth
/// machine), so the benchmark reports the sign-in against both.
pub async fn argon2_samples(iterations: u32, pause: Duration) -> Result<Vec<f64>, AppError> {
    let verifier = BareVerify::new().await?;
    let mut samples = Vec::new();
    for i in 0..=iterations.max(1) {
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let ms = verifier.time_one().await?;
        if i > 0 {
            samples.push(ms);
        }
    }
    Ok(samples)
}

/// Sign-ins and bare verifies in turns: `pairs` pairs of milliseconds, each a sign-in of
/// `email` with `password` at `addr` over one kept-alive connection, then one argon2id
/// verify with the app's parameters in this process, after one uncounted pair (the
/// connection's setup, the verify's first mapping of its block).
///
/// The benchmark's rounds of ten of each side let a slower spell of these virtual machines,
/// which lasts seconds, weigh on one side's round and not the other's (a run on the
/// twenty-fifth machine: a verify round of 20.2 ms beside others of 14.6–15.4, `bench/
/// HISTORY.md`). One of each in turn, ~15 ms apart, both sides meet the same spells.
pub async fn signin_pairs(
    addr: std::net::SocketAddr,
    email: &str,
    password: &str,
    pairs: u32,
) -> Result<Vec<(f64, f64)>, AppError> {
    use tokio::io::{AsyncWriteExt as _, BufReader};

    let verifier = BareVerify::new().await?;
    let body = format!(
        "email={}&password={}",
        form_encode(email),
        form_encode(password)
    );
    let request = format!(
        "POST /auth/signin HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\n\
         Accept: application/json\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let io = |e: std::io::Error| AppError::internal("sign-in benchmark connection", e);
    let mut connection = BufReader::new(tokio::net::TcpStream::connect(addr).await.map_err(io)?);
    let mut samples = Vec::new();
    for i in 0..=pairs.max(1) {
        let started = Instant::now();
        connection
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(io)?;
        let status = read_response(&mut connection).await.map_err(io)?;
        let signin = started.elapsed().as_secs_f64() * 1000.0;
        if status != 200 {
            return Err(AppError::BadRequest(format!(
                "the sign-in answered {status}"
            )));
        }
        let verify = verifier.time_one().await?;
        if i > 0 {
            samples.push((signin, verify));
        }
    }
    Ok(samples)
}

/// `application/x-www-form-urlencoded`, as a browser's form sends it.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Reads one HTTP/1.1 response (its body by `Content-Length` or chunked) and returns its
/// status, leaving the connection at the start of the next response.
async fn read_response(
    connection: &mut tokio::io::BufReader<tokio::net::TcpStream>,
) -> std::io::Result<u16> {
    use std::io::{Error, ErrorKind};
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};

    let invalid = |what: &str| Error::new(ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    connection.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let (mut length, mut chunked) = (0usize, false);
    loop {
        line.clear();
        if connection.read_line(&mut line).await? == 0 {
            return Err(invalid("the connection closed in the headers"));
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().map_err(|_| invalid("bad content-length"))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            }
        }
    }
    if !chunked {
        let mut body = vec![0; length];
        connection.read_exact(&mut body).await?;
        return Ok(status);
    }
    loop {
        line.clear();
        connection.read_line(&mut line).await?;
        let size = line.trim_end().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        // The chunk and its CRLF; after the last (empty) chunk, the final CRLF.
        let mut chunk = vec![0; size + 2];
        connection.read_exact(&mut chunk).await?;
        if size == 0 {
            return Ok(status);
        }
    }
}

/// The RLS cost of the dashboard of `email`'s organization, as one line: the dashboard's
/// statement as `authenticated` under RLS against the same statement as the table owner
/// (RLS bypassed, the organization filter is in the statement), both timed inside an open
/// transaction; and, apart, what becoming the user costs each transaction (the prepared
/// `set_config` of role and claims, and the read of the user's organizations, that `RlsTx`
/// sends after `BEGIN`); and the app's one-statement dashboard (`org_dashboard_figures_as`),
/// which does all of that and reads in one round trip, against the owner's statement.
///
/// The table owner is the login role: in the embedded cluster `postgres`, which is not a
/// superuser, as on Supabase. With `superuser` (a connection URL of the same database as
/// a superuser, which skips every permission check, not only RLS), the owner's statement is
/// also timed as that superuser, and the line reports RLS against it too (the figure the
/// benchmark reported until the embedded cluster's app role stopped being a superuser).
pub async fn rls_cost(
    pool: &PgPool,
    superuser: Option<&str>,
    email: &str,
    iterations: u32,
) -> Result<String, AppError> {
    let (id, org, role): (Uuid, Uuid, String) = sqlx::query_as(
        "select u.id, p.organization_id, m.role from auth.users u
         join public.profiles p on p.id = u.id
         join public.memberships m on m.user_id = u.id and m.organization_id = p.organization_id
         where u.email = $1",
    )
    .bind(email)
    .fetch_one(pool)
    .await?;
    let auth = Authenticated {
        user: SessionUser {
            id,
            email: email.to_owned(),
            full_name: String::new(),
            organization_id: Some(org),
            organization_name: None,
            role: Some(role),
            organizations: 1,
        },
        session_id: Uuid::nil(),
        expires_at: chrono::Utc::now(),
    };
    let login = pool.connect_options().as_ref().clone();
    let mut sides = vec![
        Side::connect(login.clone(), true).await?,
        Side::connect(login, false).await?,
    ];
    if let Some(url) = superuser {
        sides.push(Side::connect(url.parse()?, false).await?);
    }
    const DASHBOARD: &str = "select * from public.org_dashboard_figures($1)";
    let (mut setup, mut one_statement) = (Vec::new(), Vec::new());
    let (claims, sub) = app::org::rls::claims(&auth);
    // Rounds whose sides differ at most (see below), and rounds timed.
    const MAX_DIFFERING: u32 = 3;
    let (mut differing, mut timed) = (0, 0);
    while timed < iterations.max(1) {
        // The app's own dashboard query: becoming the user, reading the memberships and
        // the dashboard in one statement, which is its own transaction.
        let started = Instant::now();
        let app_sees: DashboardRecord =
            sqlx::query_as("select * from app_private.org_dashboard_figures_as($1, $2, $3)")
                .bind(&claims)
                .bind(&sub)
                .bind(org)
                .fetch_one(&sides[USER].pool)
                .await?;
        one_statement.push(started.elapsed().as_secs_f64() * 1000.0);

        // The sides in turn, in the opposite order every other round, so that none gains
        // from always coming after the others (the pages they read are in the CPU's caches
        // after the first).
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if (timed + differing) % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let side = &mut sides[i];
            let mut tx = app::db::begin(&side.pool).await?;
            if side.becomes_user {
                let started = Instant::now();
                act_as(&mut tx, &auth).await?;
                setup.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            let started = Instant::now();
            let record: DashboardRecord = sqlx::query_as(DASHBOARD)
                .bind(org)
                .fetch_one(&mut *tx)
                .await?;
            side.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            tx.commit().await?;
            side.seen = Some(record);
        }
        let dashboard = |record: DashboardRecord| record.into_dashboard(String::new());
        let owner_sees = sides[OWNER].seen.take().map(dashboard);
        let differs = Some(dashboard(app_sees)) != owner_sees
            || sides
                .iter_mut()
                .filter_map(|side| side.seen.take())
                .any(|record| Some(dashboard(record)) != owner_sees);
        if differs {
            // Each side reads in its own transaction, so at its own `now()`: a call that
            // crosses the 24-hour or 7-day edge between them is counted by one side only
            // (`make bench` stopped so once; bench/HISTORY.md, 2026-12-04, an eighteenth
            // machine). Such a round is timed again; sides that keep differing are a real
            // difference.
            differing += 1;
            if differing > MAX_DIFFERING {
                return Err(AppError::internal(
                    "rls-bench",
                    "RLS and owner dashboards differ",
                ));
            }
            one_statement.pop();
            setup.pop();
            for side in &mut sides {
                side.ms.pop();
            }
            continue;
        }
        timed += 1;
    }
    let mut p50_of = |i: usize| {
        sides
            .get_mut(i)
            .map(|side| p50(std::mem::take(&mut side.ms)))
    };
    let (user_ms, owner_ms) = (p50_of(USER).unwrap_or(0.0), p50_of(OWNER).unwrap_or(0.0));
    let superuser_ms = p50_of(SUPERUSER);
    let setup_ms = p50(setup);
    let one_ms = p50(one_statement);
    let superuser = match superuser_ms {
        None => String::new(),
        Some(superuser_ms) => format!(
            "; as a superuser (no permission checks at all) p50 {superuser_ms:.3} ms, RLS {:.2}x that",
            user_ms / superuser_ms.max(0.001)
        ),
    };
    let again = match differing {
        0 => String::new(),
        n => format!(
            "; {n} round(s) timed again: a call crossed a window's edge between their sides"
        ),
    };
    Ok(format!(
        "dashboard statement under RLS p50 {user_ms:.3} ms, as owner p50 {owner_ms:.3} ms, ratio {:.2}x{superuser}; \
         becoming the user p50 {setup_ms:.3} ms per transaction (the memberships read included); \
         the app's one-statement dashboard (becoming the user included) p50 {one_ms:.3} ms, {:.2}x the owner's statement{again}",
        user_ms / owner_ms.max(0.001),
        one_ms / owner_ms.max(0.001)
    ))
}
