//! The embedded PostgreSQL: a private cluster made from the system's PostgreSQL binaries in
//! a data directory, started as a child of this process and stopped with it.
//!
//! Layout of the data directory (`SWITCHBOARD_DATA_DIR`, default `.switchboard/`):
//! `pgdata/` (the cluster, owned by the OS user that runs PostgreSQL), `credentials`
//! (the generated password, readable by the invoking user only), `superuser` (the name of
//! the cluster's superuser) and `postgres.log`.
//!
//! Roles, as on Supabase: the app logs in as `postgres`, which is *not* a superuser. It
//! owns the app's database and everything the migrations make in it, and bypasses RLS
//! (BYPASSRLS) for the system's own work (sign-up, sessions, the seed); it may become
//! `anon`, `authenticated` and `service_role`. The superuser, `supabase_admin`, only
//! creates those roles and the database. So a statement the app is tricked into running
//! cannot do what only a superuser can (read or write the server's files, run programs,
//! change the server's settings), and the migrations run here as they run on Supabase.
//! A cluster made before this layout (no `superuser` file) keeps its superuser `postgres`
//! as the app's login role.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{chown, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};
use sqlx::{Connection, PgConnection};

/// The database the app uses inside the embedded cluster.
pub const DATABASE_NAME: &str = "switchboard";
/// The role the app logs in as.
pub const APP_ROLE: &str = "postgres";
/// The superuser of a cluster made now; one made before this layout has only `postgres`.
const SUPERUSER: &str = "supabase_admin";
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin and PATH); \
         install them (Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL"
    )]
    BinariesNotFound,
    #[error(
        "running as root, PostgreSQL must run as an unprivileged OS user, and user `{0}` \
         does not exist (create it, or run Switchboard as a normal user)"
    )]
    NoServiceUser(String),
    #[error(
        "PostgreSQL runs as OS user `{user}`, who cannot enter {dir}: choose a data directory \
         it can reach with SWITCHBOARD_DATA_DIR (for example /var/lib/switchboard)"
    )]
    Unreachable { user: String, dir: PathBuf },
    #[error("{action} failed: {detail}")]
    Command {
        action: &'static str,
        detail: String,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("PostgreSQL did not become ready within {0:?}; see {1}")]
    StartTimeout(Duration, PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EmbeddedError + '_ {
    move |source| EmbeddedError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Where the PostgreSQL server binaries (initdb, postgres) are.
fn find_bindir() -> Result<PathBuf, EmbeddedError> {
    if let Some(dir) = std::env::var_os("SWITCHBOARD_PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    // Debian/Ubuntu install each major version side by side; take the newest.
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        .ok_or(EmbeddedError::BinariesNotFound)
}

/// The OS user PostgreSQL runs as: ourselves, or `postgres` when we are root.
#[derive(Clone)]
struct ServiceUser {
    /// `None` when we are not root and run PostgreSQL as ourselves.
    switch_to: Option<User>,
}

impl ServiceUser {
    fn detect() -> Result<Self, EmbeddedError> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(Self { switch_to: None });
        }
        let name = std::env::var("SWITCHBOARD_PG_OS_USER").unwrap_or_else(|_| "postgres".into());
        match User::from_name(&name) {
            Ok(Some(user)) => Ok(Self {
                switch_to: Some(user),
            }),
            _ => Err(EmbeddedError::NoServiceUser(name)),
        }
    }

    fn command(&self, program: PathBuf) -> Command {
        let mut command = Command::new(program);
        if let Some(user) = &self.switch_to {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            command.env("HOME", &user.dir).env("USER", &user.name);
        }
        command
    }

    /// Checks that this user can reach `dir` (execute permission on every ancestor), so a
    /// data directory under, say, a private home directory fails with a clear message.
    fn check_reachable(&self, dir: &Path) -> Result<(), EmbeddedError> {
        use std::os::unix::fs::MetadataExt;
        let Some(user) = &self.switch_to else {
            return Ok(());
        };
        for ancestor in dir.ancestors().skip(1) {
            let Ok(meta) = fs::metadata(ancestor) else {
                continue;
            };
            let mode = meta.mode();
            let reachable = if meta.uid() == user.uid.as_raw() {
                mode & 0o100 != 0
            } else if meta.gid() == user.gid.as_raw() {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !reachable {
                return Err(EmbeddedError::Unreachable {
                    user: user.name.clone(),
                    dir: ancestor.to_owned(),
                });
            }
        }
        Ok(())
    }

    fn give(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let Some(user) = &self.switch_to {
            chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(io_err(path))?;
        }
        Ok(())
    }
}

/// A running embedded cluster. Dropping it (or the process ending in any way) stops
/// PostgreSQL: the child gets SIGTERM from the kernel when its keeper thread's process dies.
pub struct EmbeddedPostgres {
    root: PathBuf,
    port: u16,
    password: String,
    /// The cluster's superuser: [`SUPERUSER`], or [`APP_ROLE`] in a cluster made before.
    superuser: String,
    /// `None` when another process already runs the cluster and we only connect to it.
    child: Option<Arc<Mutex<Child>>>,
}

impl std::fmt::Debug for EmbeddedPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPostgres")
            .field("root", &self.root)
            .field("port", &self.port)
            .field("owned", &self.child.is_some())
            .finish_non_exhaustive()
    }
}

impl EmbeddedPostgres {
    /// Creates the cluster in `root` if it is not there yet, starts it (or joins the one
    /// already running there) and makes sure the app's database exists.
    pub async fn start(root: &Path) -> Result<Self, EmbeddedError> {
        fs::create_dir_all(root).map_err(io_err(root))?;
        let root = root.canonicalize().map_err(io_err(root))?;
        let bindir = find_bindir()?;
        let user = ServiceUser::detect()?;
        user.check_reachable(&root)?;
        // PostgreSQL must be able to reach its data directory below ours; nothing else in
        // ours (the credentials file) is readable to it.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o711)).map_err(io_err(&root))?;

        let pgdata = root.join("pgdata");
        let password = if pgdata.join("PG_VERSION").is_file() {
            read_password(&root)?
        } else {
            init_cluster(&root, &pgdata, &bindir, &user)?
        };
        let superuser = read_superuser(&root)?;

        if let Some(port) = running_port(&pgdata) {
            tracing::info!(port, dir = %root.display(), "joining the embedded PostgreSQL already running");
            let pg = Self {
                root,
                port,
                password,
                superuser,
                child: None,
            };
            pg.ensure_database().await?;
            return Ok(pg);
        }

        let log_path = root.join("postgres.log");
        let mut last_error = None;
        // The port of the last run first (clients and pools that knew it keep working across
        // a restart), else a free one. A free port can be taken between our check and
        // PostgreSQL's bind: try a few.
        let port_file = root.join("port");
        let previous: Option<u16> = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok());
        for attempt in 0..4 {
            let port = match previous {
                Some(port)
                    if attempt == 0 && TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() =>
                {
                    port
                }
                _ => free_port().map_err(io_err(&root))?,
            };
            match spawn_postgres(&bindir, &user, &pgdata, &log_path, port) {
                Ok(child) => {
                    let pg = Self {
                        root: root.clone(),
                        port,
                        password: password.clone(),
                        superuser: superuser.clone(),
                        child: Some(child),
                    };
                    match pg.wait_ready().await {
                        Ok(()) => {
                            let _ = fs::write(&port_file, port.to_string());
                            pg.ensure_database().await?;
                            tracing::info!(port, dir = %pg.root.display(), "embedded PostgreSQL started");
                            return Ok(pg);
                        }
                        Err(error) => {
                            pg.stop();
                            last_error = Some(error);
                        }
                    }
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or(EmbeddedError::StartTimeout(START_TIMEOUT, log_path)))
    }

    /// The connection URL of the app's database, as the app's login role.
    pub fn database_url(&self) -> String {
        self.url_as(APP_ROLE, DATABASE_NAME)
    }

    /// The connection URL of any database in the cluster, as its superuser (for upkeep and
    /// tests; the app never uses it).
    pub fn superuser_url_for(&self, database: &str) -> String {
        self.url_as(&self.superuser, database)
    }

    /// Whether the app logs in as the superuser (a cluster made before this layout).
    pub fn app_role_is_superuser(&self) -> bool {
        self.superuser == APP_ROLE
    }

    fn url_as(&self, role: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops PostgreSQL (fast shutdown: clients are disconnected, data is flushed) and waits
    /// for it, if this process started it.
    pub fn stop(&self) {
        let Some(child) = &self.child else { return };
        let Ok(mut child) = child.lock() else { return };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let pid = Pid::from_raw(child.id() as i32);
        if kill(pid, Signal::SIGINT).is_ok() {
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    tracing::info!("embedded PostgreSQL stopped");
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    async fn wait_ready(&self) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let log_path = self.root.join("postgres.log");
        while Instant::now() < deadline {
            if let Some(child) = &self.child {
                let exited = child
                    .lock()
                    .ok()
                    .and_then(|mut c| c.try_wait().ok().flatten());
                if let Some(status) = exited {
                    return Err(EmbeddedError::Command {
                        action: "starting PostgreSQL",
                        detail: format!("it exited with {status}; see {}", log_path.display()),
                    });
                }
            }
            if let Ok(conn) = PgConnection::connect(&self.superuser_url_for("postgres")).await {
                let _ = conn.close().await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(EmbeddedError::StartTimeout(START_TIMEOUT, log_path))
    }

    /// Creates the app's login role and database when they do not exist yet.
    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        let sql_err = |e: sqlx::Error| EmbeddedError::Command {
            action: "creating the app database",
            detail: e.to_string(),
        };
        let mut conn = PgConnection::connect(&self.superuser_url_for("postgres"))
            .await
            .map_err(sql_err)?;
        if self.superuser != APP_ROLE {
            // The API roles exist before the migrations run (as on Supabase): creating a
            // BYPASSRLS role (`service_role`) takes a superuser. The password is ours (hex
            // digits only). Two instances may race: a role made meanwhile is fine.
            let roles = format!(
                "do $$
                 begin
                   if not exists (select 1 from pg_roles where rolname = 'anon') then
                     create role anon nologin noinherit;
                   end if;
                   if not exists (select 1 from pg_roles where rolname = 'authenticated') then
                     create role authenticated nologin noinherit;
                   end if;
                   if not exists (select 1 from pg_roles where rolname = 'service_role') then
                     create role service_role nologin noinherit bypassrls;
                   end if;
                   if not exists (select 1 from pg_roles where rolname = '{APP_ROLE}') then
                     create role {APP_ROLE} login nosuperuser bypassrls password '{}';
                   end if;
                   grant anon, authenticated, service_role to {APP_ROLE};
                 exception when duplicate_object or unique_violation then
                   null;
                 end
                 $$",
                self.password
            );
            sqlx::raw_sql(&roles)
                .execute(&mut conn)
                .await
                .map_err(sql_err)?;
        }
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(DATABASE_NAME)
                .fetch_one(&mut conn)
                .await
                .map_err(sql_err)?;
        if !exists {
            // Two instances may race here; the loser sees duplicate_database (42P04).
            let create = format!("create database {DATABASE_NAME} owner {APP_ROLE}");
            if let Err(error) = sqlx::query(&create).execute(&mut conn).await {
                let duplicate = error
                    .as_database_error()
                    .and_then(|e| e.code())
                    .is_some_and(|code| code == "42P04");
                if !duplicate {
                    return Err(sql_err(error));
                }
            }
        }
        let _ = conn.close().await;
        Ok(())
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster's superuser, as its `superuser` file names it; a cluster made before that
/// file has only `postgres`.
fn read_superuser(root: &Path) -> Result<String, EmbeddedError> {
    let path = root.join("superuser");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(APP_ROLE.to_owned()),
        Err(e) => Err(EmbeddedError::Io { path, source: e }),
    }
}

fn read_password(root: &Path) -> Result<String, EmbeddedError> {
    let path = root.join("credentials");
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    Ok(text.trim().to_owned())
}

/// Runs initdb with a generated password (scram-sha-256, never trust: other users of the
/// machine must not get in) for the superuser, which the app's login role gets too (see
/// `ensure_database`), and keeps the password for the invoking user only.
fn init_cluster(
    root: &Path,
    pgdata: &Path,
    bindir: &Path,
    user: &ServiceUser,
) -> Result<String, EmbeddedError> {
    let password = uuid::Uuid::new_v4().simple().to_string();
    let pwfile = root.join("initdb.pw");
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&pwfile)
            .map_err(io_err(&pwfile))?;
        file.write_all(password.as_bytes())
            .map_err(io_err(&pwfile))?;
    }
    user.give(&pwfile)?;
    // A half-made cluster from an interrupted initdb would block this one.
    if pgdata.exists() {
        fs::remove_dir_all(pgdata).map_err(io_err(pgdata))?;
    }
    fs::create_dir_all(pgdata).map_err(io_err(pgdata))?;
    fs::set_permissions(pgdata, fs::Permissions::from_mode(0o700)).map_err(io_err(pgdata))?;
    user.give(pgdata)?;

    let output = user
        .command(bindir.join("initdb"))
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            SUPERUSER,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
        ])
        .arg(format!("--pwfile={}", pwfile.display()))
        .stdin(Stdio::null())
        .output();
    let _ = fs::remove_file(&pwfile);
    let output = output.map_err(|e| EmbeddedError::Command {
        action: "running initdb",
        detail: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(EmbeddedError::Command {
            action: "initdb",
            detail: format!(
                "{} (the OS user running PostgreSQL needs to reach {})",
                String::from_utf8_lossy(&output.stderr).trim(),
                root.display()
            ),
        });
    }
    // Before the credentials: a cluster with credentials but no `superuser` file is taken
    // for one made before this layout.
    let superuser = root.join("superuser");
    fs::write(&superuser, SUPERUSER).map_err(io_err(&superuser))?;
    let credentials = root.join("credentials");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&credentials)
        .map_err(io_err(&credentials))?;
    file.write_all(password.as_bytes())
        .map_err(io_err(&credentials))?;
    tracing::info!(dir = %pgdata.display(), "created the embedded PostgreSQL cluster");
    Ok(password)
}

/// The port of a postmaster that is already running on this data directory, if any.
fn running_port(pgdata: &Path) -> Option<u16> {
    let text = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let mut lines = text.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    // Signal 0 checks that the process exists; a stale file from a crash is ignored
    // (PostgreSQL itself removes it on the next start).
    kill(Pid::from_raw(pid), None).ok()?;
    Some(port)
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Starts `postgres` as a child that the kernel stops (SIGTERM) if this process dies.
/// The child is spawned from a keeper thread that lives as long as the process: the
/// parent-death signal fires when the spawning *thread* exits.
fn spawn_postgres(
    bindir: &Path,
    user: &ServiceUser,
    pgdata: &Path,
    log_path: &Path,
    port: u16,
) -> Result<Arc<Mutex<Child>>, EmbeddedError> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(io_err(log_path))?;
    let log_err = log.try_clone().map_err(io_err(log_path))?;
    let mut command = user.command(bindir.join("postgres"));
    command
        .arg("-D")
        .arg(pgdata)
        .args(["-p", &port.to_string()])
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "unix_socket_directories="])
        .args(["-c", "max_connections=200"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent. It runs after
    // the uid switch (which would clear the setting).
    unsafe {
        command.pre_exec(|| {
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("embedded-postgres".into())
        .spawn(move || match command.spawn() {
            Ok(child) => {
                let child = Arc::new(Mutex::new(child));
                let _ = tx.send(Ok(child));
                // Keep this thread (the child's parent) alive for the life of the process.
                loop {
                    std::thread::park();
                }
            }
            Err(error) => {
                let _ = tx.send(Err(error));
            }
        })
        .map_err(|e| EmbeddedError::Command {
            action: "spawning keeper thread",
            detail: e.to_string(),
        })?;
    rx.recv()
        .map_err(|e| EmbeddedError::Command {
            action: "starting PostgreSQL",
            detail: e.to_string(),
        })?
        .map_err(|e| EmbeddedError::Command {
            action: "starting PostgreSQL",
            detail: e.to_string(),
        })
}
