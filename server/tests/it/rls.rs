//! Row-Level Security, tested as the non-owner role `authenticated` (and `anon`), never as
//! the superuser that owns the tables: a superuser sees everything and proves nothing.

use crate::common::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    Anonymous,
    ViewerA,
    MemberA,
    AdminA,
    OwnerA,
    OwnerB,
}

const ACTORS: [Actor; 6] = [
    Actor::Anonymous,
    Actor::ViewerA,
    Actor::MemberA,
    Actor::AdminA,
    Actor::OwnerA,
    Actor::OwnerB,
];

struct World {
    users: std::collections::HashMap<&'static str, Uuid>,
    org_a: Uuid,
    org_b: Uuid,
    agent_a: Uuid,
    call_a: Uuid,
}

impl World {
    fn user(&self, actor: Actor) -> Option<Uuid> {
        let key = match actor {
            Actor::Anonymous => return None,
            Actor::ViewerA => "viewer_a",
            Actor::MemberA => "member_a",
            Actor::AdminA => "admin_a",
            Actor::OwnerA => "owner_a",
            Actor::OwnerB => "owner_b",
        };
        self.users.get(key).copied()
    }
}

/// Two organizations, A (with one user of each role) and B (its owner), one agent and one
/// call in each. Made as the table owner, like the system does.
async fn world(pool: &PgPool) -> World {
    let mut users = std::collections::HashMap::new();
    for key in [
        "viewer_a", "member_a", "admin_a", "owner_a", "owner_b", "outsider",
    ] {
        let id = crate::common::bare_user(pool, &format!("{key}@example.com")).await;
        users.insert(key, id);
    }
    let org_a: Uuid =
        sqlx::query_scalar("insert into public.organizations (name) values ('A') returning id")
            .fetch_one(pool)
            .await
            .expect("org");
    let org_b: Uuid =
        sqlx::query_scalar("insert into public.organizations (name) values ('B') returning id")
            .fetch_one(pool)
            .await
            .expect("org");
    for (key, org, role) in [
        ("viewer_a", org_a, "viewer"),
        ("member_a", org_a, "member"),
        ("admin_a", org_a, "admin"),
        ("owner_a", org_a, "owner"),
        ("owner_b", org_b, "owner"),
    ] {
        sqlx::query(
            "insert into public.memberships (organization_id, user_id, role) values ($1, $2, $3)",
        )
        .bind(org)
        .bind(users[key])
        .bind(role)
        .execute(pool)
        .await
        .expect("membership");
        sqlx::query(
            "insert into public.profiles (id, full_name, organization_id) values ($1, $2, $3)",
        )
        .bind(users[key])
        .bind(key)
        .bind(org)
        .execute(pool)
        .await
        .expect("profile");
    }
    let mut agent_a = Uuid::nil();
    let mut call_a = Uuid::nil();
    for (org, name) in [(org_a, "Agent A"), (org_b, "Agent B")] {
        let agent: Uuid = sqlx::query_scalar(
            "insert into public.agents (organization_id, name) values ($1, $2) returning id",
        )
        .bind(org)
        .bind(name)
        .fetch_one(pool)
        .await
        .expect("agent");
        let call: Uuid = sqlx::query_scalar(
            "insert into public.calls (organization_id, agent_id, direction, from_number, to_number, started_at, status)
             values ($1, $2, 'inbound', '+14155550100', '+14155550199', now(), 'completed') returning id",
        )
        .bind(org)
        .bind(agent)
        .fetch_one(pool)
        .await
        .expect("call");
        if org == org_a {
            agent_a = agent;
            call_a = call;
        }
    }
    World {
        users,
        org_a,
        org_b,
        agent_a,
        call_a,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The statement touched (or returned) this many rows.
    Rows(u64),
    /// PostgreSQL refused it: insufficient_privilege (42501).
    Refused,
}

/// Runs `sql` as the actor, the way `RlsTx` (and PostgREST) does, and rolls back.
async fn run_as(pool: &PgPool, user: Option<Uuid>, sql: &str) -> Outcome {
    let mut tx = app::db::begin(pool).await.expect("begin");
    match user {
        Some(id) => {
            let claims = serde_json::json!({ "sub": id, "role": "authenticated" }).to_string();
            sqlx::query("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)")
                .bind(claims)
                .execute(&mut *tx)
                .await
                .expect("become authenticated");
        }
        None => {
            sqlx::query("select set_config('role', 'anon', true)")
                .execute(&mut *tx)
                .await
                .expect("become anon");
        }
    }
    let result = if sql.trim_start().starts_with("select") {
        sqlx::query(sql)
            .fetch_all(&mut *tx)
            .await
            .map(|rows| rows.len() as u64)
    } else {
        sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .map(|r| r.rows_affected())
    };
    let _ = tx.rollback().await;
    match result {
        Ok(rows) => Outcome::Rows(rows),
        Err(error) => {
            assert_eq!(
                crate::common::sqlstate(&error).as_deref(),
                Some("42501"),
                "unexpected error for {sql}: {error}"
            );
            Outcome::Refused
        }
    }
}

fn allowed(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Rows(n) if *n > 0)
}

#[tokio::test]
async fn the_rls_matrix_holds_for_every_table_operation_and_actor() {
    let (_db, pool) = TestDb::migrated().await;
    let w = world(&pool).await;
    let (a, b) = (w.org_a, w.org_b);
    let outsider = w.users["outsider"];
    let viewer_a = w.users["viewer_a"];
    use Actor::*;

    // (table, operation, statement on org A's data, actors allowed to do it)
    let cases: Vec<(&str, &str, String, Vec<Actor>)> = vec![
        ("organizations", "select", format!("select id from public.organizations where id = '{a}'"), vec![ViewerA, MemberA, AdminA, OwnerA]),
        ("organizations", "insert", "insert into public.organizations (name) values ('New')".to_owned(), vec![]),
        ("organizations", "update", format!("update public.organizations set name = 'Renamed' where id = '{a}'"), vec![OwnerA]),
        ("organizations", "delete", format!("delete from public.organizations where id = '{a}'"), vec![OwnerA]),
        ("memberships", "select", format!("select user_id from public.memberships where organization_id = '{a}'"), vec![ViewerA, MemberA, AdminA, OwnerA]),
        ("memberships", "insert", format!("insert into public.memberships (organization_id, user_id, role) values ('{a}', '{outsider}', 'viewer')"), vec![AdminA, OwnerA]),
        ("memberships", "update", format!("update public.memberships set role = 'member' where organization_id = '{a}' and user_id = '{viewer_a}'"), vec![AdminA, OwnerA]),
        ("memberships", "delete", format!("delete from public.memberships where organization_id = '{a}' and user_id = '{viewer_a}'"), vec![AdminA, OwnerA]),
        ("profiles", "select", format!("select id from public.profiles where id = '{viewer_a}'"), vec![ViewerA, MemberA, AdminA, OwnerA]),
        ("profiles", "insert", format!("insert into public.profiles (id) values ('{outsider}')"), vec![]),
        ("profiles", "update", format!("update public.profiles set full_name = 'x' where id = '{viewer_a}'"), vec![ViewerA]),
        ("profiles", "delete", format!("delete from public.profiles where id = '{viewer_a}'"), vec![]),
        ("agents", "select", format!("select id from public.agents where id = '{}'", w.agent_a), vec![ViewerA, MemberA, AdminA, OwnerA]),
        ("agents", "insert", format!("insert into public.agents (organization_id, name) values ('{a}', 'New agent')"), vec![MemberA, AdminA, OwnerA]),
        ("agents", "update", format!("update public.agents set name = 'Edited' where id = '{}'", w.agent_a), vec![MemberA, AdminA, OwnerA]),
        ("agents", "delete", format!("delete from public.agents where id = '{}'", w.agent_a), vec![AdminA, OwnerA]),
        ("calls", "select", format!("select id from public.calls where id = '{}'", w.call_a), vec![ViewerA, MemberA, AdminA, OwnerA]),
        ("calls", "insert", format!("insert into public.calls (organization_id, direction, from_number, to_number, started_at, status) values ('{a}', 'inbound', '+14155550100', '+14155550101', now(), 'missed')"), vec![]),
        ("calls", "update", format!("update public.calls set summary = 'forged' where id = '{}'", w.call_a), vec![]),
        ("calls", "delete", format!("delete from public.calls where id = '{}'", w.call_a), vec![]),
        ("call_stats_daily", "select", format!("select day from public.call_stats_daily where organization_id = '{a}'"), vec![ViewerA, MemberA, AdminA, OwnerA]),
        ("call_stats_daily", "insert", format!("insert into public.call_stats_daily (organization_id, day, calls) values ('{a}', '2020-01-01', 1)"), vec![]),
        ("call_stats_daily", "update", format!("update public.call_stats_daily set calls = calls + 1 where organization_id = '{a}'"), vec![]),
        ("call_stats_daily", "delete", format!("delete from public.call_stats_daily where organization_id = '{a}'"), vec![]),
        ("_sqlx_migrations", "select", "select version from public._sqlx_migrations".to_owned(), vec![]),
        ("_sqlx_migrations", "insert", "insert into public._sqlx_migrations (version, description, success, checksum, execution_time) values (999, 'x', true, '\\x00', 1)".to_owned(), vec![]),
        ("_sqlx_migrations", "update", "update public._sqlx_migrations set description = 'x'".to_owned(), vec![]),
        ("_sqlx_migrations", "delete", "delete from public._sqlx_migrations".to_owned(), vec![]),
    ];

    let tables: Vec<String> = sqlx::query_scalar(
        "select relname::text from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p') order by 1",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    for table in &tables {
        for op in ["select", "insert", "update", "delete"] {
            assert!(
                cases.iter().any(|(t, o, _, _)| t == table && *o == op),
                "the matrix misses {table} × {op}"
            );
        }
    }

    let mut failures = Vec::new();
    for (table, op, sql, who) in &cases {
        for actor in ACTORS {
            let outcome = run_as(&pool, w.user(actor), sql).await;
            let expected = who.contains(&actor);
            if allowed(&outcome) != expected {
                failures.push(format!(
                    "{table} {op} as {actor:?}: {outcome:?}, expected {}",
                    if expected { "allowed" } else { "denied" }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let _ = b;
}

#[tokio::test]
async fn rows_cannot_be_written_into_or_moved_to_another_organization() {
    let (_db, pool) = TestDb::migrated().await;
    let w = world(&pool).await;
    let member_a = w.user(Actor::MemberA);
    let b = w.org_b;
    assert_eq!(
        run_as(
            &pool,
            member_a,
            &format!(
                "update public.agents set organization_id = '{b}' where id = '{}'",
                w.agent_a
            )
        )
        .await,
        Outcome::Refused
    );
    assert_eq!(
        run_as(
            &pool,
            member_a,
            &format!("insert into public.agents (organization_id, name) values ('{b}', 'Planted')")
        )
        .await,
        Outcome::Refused
    );
    // An admin cannot make themselves owner; an owner can appoint one.
    let admin = w.users["admin_a"];
    let a = w.org_a;
    let promote = format!("update public.memberships set role = 'owner' where organization_id = '{a}' and user_id = '{admin}'");
    assert!(!allowed(
        &run_as(&pool, w.user(Actor::AdminA), &promote).await
    ));
    assert!(allowed(
        &run_as(&pool, w.user(Actor::OwnerA), &promote).await
    ));
    // A user cannot point their profile at an organization they do not belong to.
    let member = w.users["member_a"];
    assert!(!allowed(
        &run_as(
            &pool,
            member_a,
            &format!("update public.profiles set organization_id = '{b}' where id = '{member}'")
        )
        .await
    ));
}

#[tokio::test]
async fn every_public_table_has_rls_enabled_and_forced() {
    let (_db, pool) = TestDb::migrated().await;
    let unprotected: Vec<String> = sqlx::query_scalar(
        "select relname::text from pg_class
         where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')
           and not (relrowsecurity and relforcerowsecurity)",
    )
    .fetch_all(&pool)
    .await
    .expect("query");
    assert!(
        unprotected.is_empty(),
        "tables without ENABLE + FORCE ROW LEVEL SECURITY: {unprotected:?}"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert!(count >= 5);
}

#[tokio::test]
async fn every_policy_column_is_indexed() {
    let (_db, pool) = TestDb::migrated().await;
    // Columns that policies reference (PostgreSQL records them as dependencies), also
    // through the views they read (app_private.my_memberships), and whether some index
    // of the table starts with that column.
    let missing: Vec<(String, String)> = sqlx::query_as(
        "with policy_deps as (
           select d.refobjid, d.refobjsubid
           from pg_policy p
           join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
                and d.refclassid = 'pg_class'::regclass and d.refobjsubid > 0
         ), view_deps as (
           select vd.refobjid, vd.refobjsubid
           from policy_deps pd
           join pg_class v on v.oid = pd.refobjid and v.relkind = 'v'
           join pg_rewrite r on r.ev_class = v.oid
           join pg_depend vd on vd.classid = 'pg_rewrite'::regclass and vd.objid = r.oid
                and vd.refclassid = 'pg_class'::regclass and vd.refobjsubid > 0
                and vd.refobjid <> v.oid
         ), d as (
           select * from policy_deps union select * from view_deps
         )
         select distinct c.relname::text, a.attname::text
         from d
         join pg_class c on c.oid = d.refobjid
         join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
         where c.relnamespace = 'public'::regnamespace
           and not exists (
             select 1 from pg_index i where i.indrelid = d.refobjid and i.indkey[0] = d.refobjsubid
           )",
    )
    .fetch_all(&pool)
    .await
    .expect("query");
    assert!(
        missing.is_empty(),
        "policy columns without an index: {missing:?}"
    );
    let policy_columns: i64 = sqlx::query_scalar(
        "select count(*) from pg_depend where classid = 'pg_policy'::regclass and refobjsubid > 0",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert!(
        policy_columns > 5,
        "the dependency query sees the policies' columns"
    );
}

#[tokio::test]
async fn anon_has_no_grant_on_organization_data() {
    let (_db, pool) = TestDb::migrated().await;
    let grants: Vec<String> = sqlx::query_scalar(
        "select table_name::text || ':' || privilege_type from information_schema.role_table_grants
         where grantee = 'anon' and table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .expect("grants");
    assert!(grants.is_empty(), "{grants:?}");
}

/// `app_private.org_dashboard_figures_as` becomes the user inside one statement: it must
/// count only what the user's organizations have (another organization's agents and calls
/// count as none), leave neither the role nor the claims on the connection, and be callable
/// by no API role (it takes the claims as arguments).
#[tokio::test]
async fn the_one_statement_dashboard_is_bound_by_rls_and_leaves_nothing_behind() {
    let (db, admin) = TestDb::migrated().await;
    let w = world(&admin).await;
    // One connection, so every statement below certainly runs on the same one.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(db.options.clone())
        .await
        .expect("pool");
    let dashboard = |user: Uuid, org: Uuid| {
        let pool = pool.clone();
        async move {
            let claims = serde_json::json!({ "sub": user, "role": "authenticated" }).to_string();
            sqlx::query_as::<_, (i64, i64, i64, i32)>(
                "select agents, calls_24h, calls_7d, cardinality(latest)
                 from app_private.org_dashboard_figures_as($1, $2, $3)",
            )
            .bind(claims)
            .bind(user.to_string())
            .bind(org)
            .fetch_one(&pool)
            .await
            .expect("org_dashboard_figures_as")
        }
    };
    // Each organization has one agent and one call, made just now.
    let viewer = w.user(Actor::ViewerA).expect("viewer");
    assert_eq!(dashboard(viewer, w.org_a).await, (1, 1, 1, 1));
    assert_eq!(
        dashboard(viewer, w.org_b).await,
        (0, 0, 0, 0),
        "another organization"
    );
    let outsider = w.users["outsider"];
    assert_eq!(
        dashboard(outsider, w.org_a).await,
        (0, 0, 0, 0),
        "no membership"
    );

    let (user, sub, claims, org_ids): (String, String, String, String) = sqlx::query_as(
        "select current_user::text, coalesce(current_setting('request.jwt.claim.sub', true), ''),
                coalesce(current_setting('request.jwt.claims', true), ''),
                coalesce(current_setting('switchboard.member_org_ids_for', true), '')
                  || coalesce(current_setting('switchboard.member_org_ids', true), '')",
    )
    .fetch_one(&pool)
    .await
    .expect("settings");
    assert_ne!(user, "authenticated", "the role ended with the statement");
    assert_eq!(
        (sub.as_str(), claims.as_str(), org_ids.as_str()),
        ("", "", ""),
        "so did the claims and the organizations read for the policies"
    );

    for role in ["authenticated", "anon"] {
        let mut tx = app::db::begin(&pool).await.expect("begin");
        sqlx::query(&format!("set local role {role}"))
            .execute(&mut *tx)
            .await
            .expect("set role");
        let refused =
            sqlx::query("select * from app_private.org_dashboard_figures_as('{}', $1, $2)")
                .bind(viewer.to_string())
                .bind(w.org_a)
                .execute(&mut *tx)
                .await
                .expect_err("an API role may not call it");
        assert_eq!(
            crate::common::sqlstate(&refused).as_deref(),
            Some("42501"),
            "{role}: {refused}"
        );
    }
}

/// The read policies use the organizations a transaction read for its user
/// (`app_private.member_org_ids`, migration 20261204000001). They must be read anew when the
/// transaction becomes someone else (Supabase Realtime checks several subscribers in one)
/// and when a membership changes in it, and ids written for another user must be ignored.
#[tokio::test]
async fn the_organizations_kept_for_a_transaction_follow_its_user_and_its_memberships() {
    let (_db, pool) = TestDb::migrated().await;
    let w = world(&pool).await;
    let mut tx = app::db::begin(&pool).await.expect("begin");
    let tx = &mut *tx;
    async fn become_user(tx: &mut sqlx::PgConnection, user: Uuid, with_sub: bool) {
        let claims = serde_json::json!({ "sub": user, "role": "authenticated" }).to_string();
        // PostgREST sets only the claims object; the app also sets the id alone.
        let sub = if with_sub {
            user.to_string()
        } else {
            String::new()
        };
        sqlx::query(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true),
                    set_config('request.jwt.claim.sub', $2, true)",
        )
        .bind(claims)
        .bind(sub)
        .execute(tx)
        .await
        .expect("become the user");
    }
    async fn visible(tx: &mut sqlx::PgConnection) -> Vec<String> {
        sqlx::query_scalar(
            "select o.name || ':' || (select count(*) from public.calls c where c.organization_id = o.id)
                           || ':' || (select count(*) from public.agents a where a.organization_id = o.id)
             from public.organizations o order by o.name",
        )
        .fetch_all(tx)
        .await
        .expect("read as the user")
    }
    async fn as_system(tx: &mut sqlx::PgConnection, sql: &str, user: Uuid, org: Uuid) {
        sqlx::query("select set_config('role', 'none', true)")
            .execute(&mut *tx)
            .await
            .expect("back to the login role");
        sqlx::query(sql)
            .bind(user)
            .bind(org)
            .execute(&mut *tx)
            .await
            .expect("membership change");
    }
    let (owner_a, owner_b, outsider) = (
        w.user(Actor::OwnerA).expect("owner a"),
        w.user(Actor::OwnerB).expect("owner b"),
        w.users["outsider"],
    );

    for with_sub in [false, true] {
        become_user(tx, owner_a, with_sub).await;
        assert_eq!(
            visible(tx).await,
            ["A:1:1"],
            "owner of A, sub set: {with_sub}"
        );
        become_user(tx, owner_b, with_sub).await;
        assert_eq!(
            visible(tx).await,
            ["B:1:1"],
            "then owner of B in the same transaction"
        );
        become_user(tx, outsider, with_sub).await;
        assert!(
            visible(tx).await.is_empty(),
            "then a user of no organization"
        );
    }

    // A membership added, then removed, in the transaction counts at once.
    as_system(
        tx,
        "insert into public.memberships (user_id, organization_id, role) values ($1, $2, 'viewer')",
        outsider,
        w.org_b,
    )
    .await;
    become_user(tx, outsider, true).await;
    assert_eq!(visible(tx).await, ["B:1:1"], "after joining B");
    as_system(
        tx,
        "delete from public.memberships where user_id = $1 and organization_id = $2",
        outsider,
        w.org_b,
    )
    .await;
    become_user(tx, outsider, true).await;
    assert!(visible(tx).await.is_empty(), "after leaving B");

    // Ids kept for someone else are not used: B's organizations, marked as read for A,
    // while the claims name the outsider.
    sqlx::query(
        "select set_config('switchboard.member_org_ids', $1, true),
                set_config('switchboard.member_org_ids_for', $2, true)",
    )
    .bind(format!("{{{}}}", w.org_b))
    .bind(owner_a.to_string())
    .execute(&mut *tx)
    .await
    .expect("stale settings");
    assert!(visible(tx).await.is_empty(), "ids kept for another user");
}
