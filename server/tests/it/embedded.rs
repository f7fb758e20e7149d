//! The embedded PostgreSQL: created in a data directory, stopped, started again with the
//! data still there; private to whoever holds its password.

use std::os::unix::fs::PermissionsExt;

use sqlx::{Connection, PgConnection};
use switchboard::embedded::EmbeddedPostgres;

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .expect("connect to embedded PostgreSQL")
}

#[tokio::test]
async fn data_survives_a_stop_and_a_start() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let pg = EmbeddedPostgres::start(dir.path())
        .await
        .expect("first start creates the cluster");
    let first_port = pg.port();
    let mut conn = connect(&pg.database_url()).await;
    sqlx::query("create table kept (note text)")
        .execute(&mut conn)
        .await
        .expect("create");
    sqlx::query("insert into kept values ('still here')")
        .execute(&mut conn)
        .await
        .expect("insert");
    conn.close().await.expect("close");
    pg.stop();
    drop(pg);
    assert!(
        PgConnection::connect(&format!(
            "postgres://postgres@127.0.0.1:{first_port}/postgres"
        ))
        .await
        .is_err(),
        "the server is down after stop"
    );

    let pg = EmbeddedPostgres::start(dir.path())
        .await
        .expect("second start reuses the cluster");
    let mut conn = connect(&pg.database_url()).await;
    let note: String = sqlx::query_scalar("select note from kept")
        .fetch_one(&mut conn)
        .await
        .expect("row kept");
    assert_eq!(note, "still here");
    conn.close().await.expect("close");
}

#[tokio::test]
async fn a_second_start_joins_the_running_cluster() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let owner = EmbeddedPostgres::start(dir.path()).await.expect("start");
    let joined = EmbeddedPostgres::start(dir.path()).await.expect("join");
    assert_eq!(owner.port(), joined.port());
    // Dropping the one that only joined must leave the server up.
    drop(joined);
    let mut conn = connect(&owner.database_url()).await;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .expect("query");
    assert_eq!(one, 1);
}

#[tokio::test]
async fn the_cluster_needs_its_password_and_keeps_it_private() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pg = EmbeddedPostgres::start(dir.path()).await.expect("start");
    let wrong = format!(
        "postgres://postgres:wrong@127.0.0.1:{}/switchboard",
        pg.port()
    );
    assert!(
        PgConnection::connect(&wrong).await.is_err(),
        "a wrong password is refused"
    );
    let mode = std::fs::metadata(dir.path().join("credentials"))
        .expect("credentials")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "credentials are readable by their owner only"
    );
}

/// The app logs in as a role that is not a superuser, as Supabase's `postgres`: the
/// migrations apply as it (twice, as on every start), it owns what they make, bypasses RLS
/// for the system's work, passes the start-up checks, and is refused what only a superuser
/// may do.
#[tokio::test]
async fn the_app_logs_in_as_an_owner_that_is_not_a_superuser() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pg = EmbeddedPostgres::start(dir.path()).await.expect("start");
    let pool = sqlx::PgPool::connect(&pg.database_url())
        .await
        .expect("the app's pool");
    for _ in 0..2 {
        switchboard::db::migrate(&pool)
            .await
            .expect("the migrations apply as the app's role");
    }
    let role: (String, bool, bool) = sqlx::query_as(
        "select rolname::text, rolsuper, rolbypassrls from pg_roles where rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .expect("role");
    assert_eq!(role, ("postgres".to_owned(), false, true));
    let not_owned: Vec<String> = sqlx::query_scalar(
        "select format('%I.%I', n.nspname, c.relname) from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where n.nspname in ('public', 'auth', 'app_private') and c.relkind in ('r', 'v', 'm')
           and c.relowner <> (select oid from pg_roles where rolname = current_user)",
    )
    .fetch_all(&pool)
    .await
    .expect("owners");
    assert!(not_owned.is_empty(), "owned by another role: {not_owned:?}");
    assert_eq!(switchboard::db::check_system_role(&pool).await, Ok(()));
    assert_eq!(
        switchboard::db::check_request_role(&pool, "authenticated").await,
        Ok(())
    );
    for statement in [
        "copy (select 1) to program 'true'",
        "select pg_read_file('postgresql.conf')",
        "alter system set work_mem = '1GB'",
    ] {
        let refused = sqlx::query(statement)
            .execute(&pool)
            .await
            .expect_err(statement);
        assert_eq!(
            crate::common::sqlstate(&refused).as_deref(),
            Some("42501"),
            "{statement}: {refused}"
        );
    }
    // The cluster's superuser is there for upkeep, with the same private password.
    let mut admin = connect(&pg.superuser_url_for("postgres")).await;
    let superuser: bool =
        sqlx::query_scalar("select rolsuper from pg_roles where rolname = current_user")
            .fetch_one(&mut admin)
            .await
            .expect("superuser");
    assert!(superuser);
    admin.close().await.expect("close");
}
