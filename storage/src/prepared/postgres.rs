//! The statement cache on a live PostgreSQL (`TEST_DATABASE_URL`, a server URL; the local server
//! by default), observed from the server's side (`pg_prepared_statements` of the same session).
//! The statements touch no table, so they run in the server's `postgres` database. Skipped when no
//! server answers, unless CI is set.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::conn::{self, AnyConnection, ConnState, DatabaseUrl, PoolEvents, Session};
use crate::sql::{Param, Sql};
use crate::{Backend, StorageError};

fn server_database() -> Option<DatabaseUrl> {
    let server = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let url = format!("{}/postgres", server.trim_end_matches('/'));
    match diesel::PgConnection::establish(&url) {
        Ok(_) => Some(DatabaseUrl::Postgres { url }),
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI is set but PostgreSQL at {url} is unreachable: {e}");
            eprintln!("PostgreSQL not reachable at {url}: skipped ({e})");
            None
        }
    }
}

/// A pool of one connection keeping at most `capacity` statements, with a statement budget.
fn pool(url: &DatabaseUrl, capacity: usize) -> conn::Pool {
    let session = Session { statement_timeout: Some(Duration::from_millis(300)), prepared_statements: capacity };
    conn::unchecked_pool(url, 1, Duration::from_secs(5), Arc::new(PoolEvents::default()), session)
}

#[derive(QueryableByName, Debug)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName, Debug)]
struct ServerSide {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct Mode {
    #[diesel(sql_type = Text)]
    plan_cache_mode: String,
}

fn pg(c: &mut AnyConnection) -> &mut diesel::PgConnection {
    match c {
        AnyConnection::Postgresql(pg) => pg,
        AnyConnection::Sqlite(_) => panic!("a PostgreSQL connection"),
    }
}

/// The session's prepared statements, read through diesel's unprepared path (so that reading
/// them adds none).
fn server_side(c: &mut AnyConnection) -> Vec<ServerSide> {
    diesel::sql_query("SELECT statement, generic_plans FROM pg_prepared_statements").load(pg(c)).unwrap()
}

/// `SELECT $1 + i AS n`: a shape per `i`.
fn shape(i: i64, value: i64) -> Sql {
    let mut s = Sql::new(Backend::Postgres);
    s.push("SELECT ").bind(Param::BigInt(value)).push(&format!(" + {i} AS n"));
    s
}

fn value(c: &mut AnyConnection, sql: &Sql) -> i64 {
    sql.load::<N>(c).unwrap().first().map_or(-1, |r| r.n)
}

/// A statement whose values decide its plan (a `startswith` pattern) is prepared like any other
/// but planned for its values on every run: it never takes a generic plan.
#[test]
fn a_pattern_statement_is_prepared_but_planned_for_its_values_every_run() {
    let Some(url) = server_database() else { return };
    let pool = pool(&url, 256);
    let mut c = pool.get().unwrap();
    let like = |v: i64| {
        let mut s = shape(3, v);
        s.plan_per_run();
        s
    };
    for v in 0..20 {
        assert_eq!(value(&mut c, &like(v)), v + 3);
    }
    let prepared = server_side(&mut c);
    assert_eq!(prepared.len(), 1, "prepared once: {prepared:?}");
    assert_eq!(prepared[0].generic_plans, 0, "never a generic plan: {prepared:?}");
    let mode: Vec<Mode> = diesel::sql_query("SHOW plan_cache_mode").load(pg(&mut c)).unwrap();
    assert_eq!(mode[0].plan_cache_mode, "force_custom_plan");
}

#[test]
fn a_shape_seen_twice_is_prepared_once_and_then_planned_generically() {
    let Some(url) = server_database() else { return };
    let pool = pool(&url, 256);
    let mut c = pool.get().unwrap();
    assert_eq!(value(&mut c, &shape(1, 41)), 42);
    assert!(server_side(&mut c).is_empty(), "seen once: not prepared");
    assert_eq!(value(&mut c, &shape(1, 1)), 2);
    let prepared = server_side(&mut c);
    assert_eq!(prepared.len(), 1, "{prepared:?}");
    assert_eq!(prepared[0].statement, shape(1, 0).text());
    for v in 0..10 {
        assert_eq!(value(&mut c, &shape(1, v)), v + 1);
    }
    let prepared = server_side(&mut c);
    assert_eq!(prepared.len(), 1, "reused, not prepared again: {prepared:?}");
    assert!(prepared[0].generic_plans >= 5, "past its custom runs it keeps one plan: {prepared:?}");
    let mode: Vec<Mode> = diesel::sql_query("SHOW plan_cache_mode").load(pg(&mut c)).unwrap();
    assert_eq!(mode[0].plan_cache_mode, "force_generic_plan");
    // A statement seen once still runs planned for its values.
    assert_eq!(value(&mut c, &shape(2, 1)), 3);
    let mode: Vec<Mode> = diesel::sql_query("SHOW plan_cache_mode").load(pg(&mut c)).unwrap();
    assert_eq!(mode[0].plan_cache_mode, "force_custom_plan");
    assert_eq!(ConnState::of(&mut **c).map(|s| s.prepared_statements()), Some(1));
}

#[test]
fn at_most_256_statements_stay_prepared() {
    let Some(url) = server_database() else { return };
    let pool = pool(&url, 256);
    let mut c = pool.get().unwrap();
    for round in 0..3 {
        for i in 0..300 {
            assert_eq!(value(&mut c, &shape(i, round)), round + i);
        }
        let held = server_side(&mut c).len();
        assert!(held <= 256, "round {round}: {held} statements prepared");
        if round > 0 {
            assert!(held > 0, "round {round}: shapes seen twice are prepared");
        }
    }
    assert!(ConnState::of(&mut **c).is_some_and(|s| s.prepared_statements() <= 256));
}

#[test]
fn nothing_is_prepared_with_the_setting_off() {
    let Some(url) = server_database() else { return };
    let pool = pool(&url, 0);
    let mut c = pool.get().unwrap();
    for v in 0..10 {
        assert_eq!(value(&mut c, &shape(1, v)), v + 1);
    }
    assert!(server_side(&mut c).is_empty());
    let mode: Vec<Mode> = diesel::sql_query("SHOW plan_cache_mode").load(pg(&mut c)).unwrap();
    assert_eq!(mode[0].plan_cache_mode, "auto", "the server's default, untouched");
}

#[test]
fn after_its_backend_is_terminated_the_next_connection_prepares_again() {
    let Some(url) = server_database() else { return };
    let DatabaseUrl::Postgres { url: raw } = &url else { unreachable!() };
    let pool = pool(&url, 256);
    let mut c = pool.get().unwrap();
    for v in 0..3 {
        assert_eq!(value(&mut c, &shape(7, v)), v + 7);
    }
    assert_eq!(server_side(&mut c).len(), 1);
    let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid").load::<Pid>(pg(&mut c)).unwrap()[0].pid;
    let mut admin = diesel::PgConnection::establish(raw).unwrap();
    admin.batch_execute(&format!("SELECT pg_terminate_backend({pid})")).unwrap();
    // The statement that finds the connection gone fails; the pool discards the connection.
    let e = shape(7, 0).load::<N>(&mut c).unwrap_err();
    assert!(conn::is_connection_lost(&e), "{e}");
    drop(c);
    let mut c = pool.get().unwrap();
    for v in 0..3 {
        assert_eq!(value(&mut c, &shape(7, v)), v + 7);
    }
    assert_eq!(server_side(&mut c).len(), 1, "prepared again on the new connection");
}

#[test]
fn statements_lost_behind_the_cache_are_prepared_again() {
    let Some(url) = server_database() else { return };
    let pool = pool(&url, 256);
    let mut c = pool.get().unwrap();
    for v in 0..3 {
        assert_eq!(value(&mut c, &shape(3, v)), v + 3);
    }
    // Someone (a pooler, an administrator) drops the session's statements.
    pg(&mut c).batch_execute("DEALLOCATE ALL").unwrap();
    let e = shape(3, 0).load::<N>(&mut c).unwrap_err();
    assert!(crate::prepared::is_stale(&e), "{e}");
    assert_eq!(value(&mut c, &shape(3, 5)), 8, "the cache was dropped: the next run works");
    assert_eq!(value(&mut c, &shape(3, 6)), 9);
    assert_eq!(server_side(&mut c).len(), 1);
}

#[test]
fn a_prepared_statement_keeps_its_time_budget() {
    let Some(url) = server_database() else { return };
    let pool = pool(&url, 256);
    let mut c = pool.get().unwrap();
    let mut sleep = Sql::new(Backend::Postgres);
    sleep.push("SELECT 1::int8 AS n FROM pg_sleep(").bind(Param::Double(2.0)).push(")");
    for run in 0..3 {
        let e = sleep.load::<N>(&mut c).unwrap_err();
        assert!(matches!(StorageError::from(e), StorageError::Timeout), "run {run}");
    }
    assert_eq!(server_side(&mut c).len(), 1, "the second and third runs were prepared");
}
