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
