//! The filters the portal uses are answered from an index on PostgreSQL (checked with EXPLAIN and
//! sequential scans disabled: a plan that still scans a table has no usable index).

use diesel::connection::SimpleConnection;
use domain::ids::TenantId;
use domain::query::registry::SIGN_INS;
use domain::query::{Scalar, resolve_filter};
use storage::Query;
use storage::conn::AnyConnection;

use crate::support::*;

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// `sql` behind `prefix` (`EXPLAIN `), with its parameters.
fn explained(backend: storage::Backend, prefix: &str, sql: &storage::sql::Sql) -> storage::sql::Sql {
    let mut explain = storage::sql::Sql::new(backend);
    explain.push(prefix).push(sql.text());
    for p in sql.params() {
        // Re-bind in order: the placeholders are numbered the same after the prefix.
        explain.push_param_only(p.clone());
    }
    explain
}

/// PostgreSQL's plan for `sql`, one line per node (the feed's EXPLAIN test reads it too).
pub(crate) fn plan(conn: &mut AnyConnection, sql: &storage::sql::Sql) -> String {
    explained(storage::Backend::Postgres, "EXPLAIN ", sql)
        .load::<PlanLine>(conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[actix_web::test]
async fn portal_filters_use_an_index_on_postgres() {
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let now = app.now();
    ingest_rare_values(&app).await;
    let mut conn = app.connection();
    let AnyConnection::Postgresql(pg) = &mut conn else { unreachable!() };
    pg.batch_execute("ANALYZE; SET enable_seqscan = off;").unwrap();
    let tenant = TenantId::parse(TENANT_A).unwrap();
    // Each filter and the index (of the migrations, storage/migrations/postgres) it must be
    // answered from; a partition's index is named by PostgreSQL and maps back to this name.
    let filters = [
        (format!("userId eq '{USER_OID}'"), "sign_ins_by_user"),
        ("startswith(userPrincipalName, 'user1')".to_owned(), "sign_ins_by_upn"),
        ("userPrincipalName eq 'user1@contoso.com'".to_owned(), "sign_ins_by_upn"),
        ("appId eq 'de8bc8b5-d9f9-48b1-a8ad-b748da725064'".to_owned(), "sign_ins_by_app"),
        ("status/errorCode eq 50126".to_owned(), "sign_ins_by_error"),
        ("ipAddress eq '131.107.159.37'".to_owned(), "sign_ins_by_ip"),
        ("clientAppUsed eq 'Browser'".to_owned(), "sign_ins_by_client_app"),
        ("riskLevelDuringSignIn eq 'high'".to_owned(), "sign_ins_by_risk"),
        (
            format!(
                "createdDateTime ge {} and createdDateTime le {}",
                (now - chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%SZ"),
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            "sign_ins_pkey",
        ),
        (format!("correlationId eq '{}'", guid(1_000_001)), "sign_ins_by_correlation"),
        ("startswith(appDisplayName, 'Graph')".to_owned(), "sign_ins_by_app_name"),
    ];
    for (f, index) in &filters {
        let filter = resolve_filter(&SIGN_INS, f).unwrap();
        let sql = app.store.page_sql(
            &Query {
                set: &SIGN_INS,
                tenant: &tenant,
                user: None,
                filter: Some(&filter),
                order: &[],
                after: Some(&[Scalar::Ticks(i64::MAX / 2), Scalar::Text("z".into())]),
                limit: 50,
            },
            &app.store.tenant_view(&tenant).unwrap(),
        );
        let text = plan(&mut conn, &sql);
        assert!(!text.contains("Seq Scan on sign_ins"), "{f} scans a table:\n{text}");
        let used = indexes_used(&mut conn, &text);
        assert!(used.iter().any(|u| u == index), "{f} does not use {index} but {used:?}:\n{text}");
    }
}

/// 2000 sign-ins of TENANT_A over the last 33 hours in which every value a filter below looks
/// for is rare (one sign-in in 100), as in a real tenant: on data where every row matches,
/// scanning the primary key is the right plan and proves nothing.
async fn ingest_rare_values(app: &TestApp) {
    // At 22:00 UTC, so the 2,000 minutes of rows fill two day partitions whatever the time of day
    // the test runs: started early in the day they would leave a few rows in a third, where a
    // sequential scan is the planner's right choice and the plan checks would fail.
    let real = app.now();
    let evening = real.date_naive().and_hms_opt(22, 0, 0).unwrap().and_utc();
    let evening = if evening < real { evening + chrono::Duration::days(1) } else { evening };
    app.clock.advance(evening - real);
    let now = app.now();
    let docs: Vec<serde_json::Value> = (1..=2000)
        .map(|n: u64| {
            let created = now - chrono::Duration::minutes(n.try_into().unwrap());
            let rare = n.is_multiple_of(100);
            let mut d = sign_in_doc(n, created, &if rare { USER_OID.to_owned() } else { guid(n + 5_000_000) });
            if !rare {
                d["userPrincipalName"] = format!("member{n}@contoso.com").into();
                d["appId"] = guid(n % 7 + 7_000_000).into();
                d["appDisplayName"] = "Office 365 Exchange Online".into();
                d["ipAddress"] = format!("10.0.{}.{}", n / 256, n % 256).into();
                d["clientAppUsed"] = "Mobile Apps and Desktop clients".into();
            }
            d["riskLevelDuringSignIn"] = if rare { "high" } else { "none" }.into();
            d["status"]["errorCode"] = if rare { 50126 } else { 0 }.into();
            d
        })
        .collect();
    for chunk in docs.chunks(500) {
        let (s, b) = app.ingest(&ingest_token(TENANT_A), chunk).await;
        assert_eq!(s, actix_web::http::StatusCode::OK, "{b}");
    }
}

/// The indexes a plan reads, each named as the migrations name it: an index of a partition is
/// reported under the index of the partitioned table it was made from.
fn indexes_used(conn: &mut AnyConnection, plan: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut names = Vec::new();
    for line in plan.lines() {
        // "Index Scan using X on T", "Index Only Scan Backward using X on T", "Bitmap Index Scan on X".
        let index = match (line.find(" using "), line.find("Bitmap Index Scan on ")) {
            (Some(at), _) => &line[at + " using ".len()..],
            (None, Some(at)) => &line[at + "Bitmap Index Scan on ".len()..],
            (None, None) => continue,
        };
        let index = index.split_whitespace().next().unwrap_or_default();
        let mut sql = storage::sql::Sql::new(storage::Backend::Postgres);
        sql.push("SELECT COALESCE(pg_partition_root(c.oid), c.oid)::regclass::text AS name FROM pg_class c WHERE c.relname = ")
            .bind(storage::sql::Param::Text(index.to_owned()));
        let root = sql.load::<Name>(conn).unwrap().into_iter().next().map_or_else(|| index.to_owned(), |n| n.name);
        names.push(root);
    }
    names
}

/// `appliedConditionalAccessPolicies/any(p: p/result eq ...)` for a rare result starts from the
/// policy rows with that result (`sign_in_ca_policies_by_result`), partition by partition, rather
/// than probing the policies of every sign-in in the window.
#[actix_web::test]
async fn a_rare_policy_result_is_found_from_its_index_on_postgres() {
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let now = app.now();
    let docs: Vec<serde_json::Value> = (1..=2000)
        .map(|n| {
            let mut d = sign_in_doc(n, now - chrono::Duration::minutes(n.try_into().unwrap()), USER_OID);
            if n % 400 == 0 {
                d["appliedConditionalAccessPolicies"][0]["result"] = "failure".into();
            }
            d
        })
        .collect();
    for chunk in docs.chunks(500) {
        app.ingest(&ingest_token(TENANT_A), chunk).await;
    }
    let mut conn = app.connection();
    let AnyConnection::Postgresql(pg) = &mut conn else { unreachable!() };
    pg.batch_execute("ANALYZE").unwrap();
    let tenant = TenantId::parse(TENANT_A).unwrap();
    let filter = resolve_filter(&SIGN_INS, "appliedConditionalAccessPolicies/any(p: p/result eq 'failure')").unwrap();
    let query = Query {
        set: &SIGN_INS,
        tenant: &tenant,
        user: None,
        filter: Some(&filter),
        order: &[],
        after: None,
        limit: 50,
    };
    let view = app.store.tenant_view(&tenant).unwrap();
    let sql = app.store.page_sql(&query, &view);
    let text = plan(&mut conn, &sql);
    let used = indexes_used(&mut conn, &text);
    assert!(used.iter().any(|u| u == "sign_in_ca_policies_by_result"), "the policy result index is not used:\n{text}");
    // Startup made a week of day partitions ahead: they are empty, and scanning them costs
    // nothing. The partitions that hold the rows must be reached through an index.
    let days: std::collections::BTreeSet<String> = docs
        .iter()
        .map(|d| {
            let at = chrono::DateTime::parse_from_rfc3339(d["createdDateTime"].as_str().unwrap()).unwrap();
            format!("sign_ins_d{}", at.with_timezone(&chrono::Utc).format("%Y%m%d"))
        })
        .collect();
    for day in &days {
        assert!(!text.contains(&format!("Seq Scan on {day} ")), "{day} is scanned:\n{text}");
    }
    let (page, _) = app.store.page_in(&query, &view, false).unwrap();
    assert_eq!(page.len(), 5, "2000 sign-ins, every 400th failed a policy");
}

/// Whether a PostgreSQL plan scans a partition that holds rows (the empty day partitions made
/// ahead cost nothing to scan, and the planner rightly does).
fn scans_rows(plan: &str) -> bool {
    plan.lines().any(|l| l.contains("Seq Scan on sign_ins") && !l.contains("cost=0.00..0.00"))
}

#[derive(diesel::QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// SQLite's query plan for `sql`, one line per step (`SEARCH s USING INDEX ...`).
fn sqlite_plan(conn: &mut AnyConnection, sql: &storage::sql::Sql) -> String {
    explained(storage::Backend::Sqlite, "EXPLAIN QUERY PLAN ", sql)
        .load::<SqlitePlanLine>(conn)
        .unwrap()
        .into_iter()
        .map(|l| l.detail)
        .collect::<Vec<_>>()
        .join("\n")
}

/// An equality filter on an indexed property pages in the default order straight from its index
/// (issue 20): the index ends with `created_ticks DESC, id DESC`, so the plan names it and has no
/// sort (PostgreSQL: a Merge Append of the partitions' index scans; SQLite: no temp B-tree), on
/// the first page and on a later one (after a keyset cursor).
#[actix_web::test]
async fn equality_filters_page_in_index_order_without_a_sort() {
    each_backend(|app| async move {
        ingest_rare_values(&app).await;
        let mut conn = app.connection();
        if let AnyConnection::Postgresql(pg) = &mut conn {
            pg.batch_execute("ANALYZE").unwrap();
        }
        let tenant = TenantId::parse(TENANT_A).unwrap();
        let view = app.store.tenant_view(&tenant).unwrap();
        let filters = [
            (format!("userId eq '{USER_OID}'"), "sign_ins_by_user"),
            ("userPrincipalName eq 'user100@contoso.com'".to_owned(), "sign_ins_by_upn"),
            ("appId eq 'de8bc8b5-d9f9-48b1-a8ad-b748da725064'".to_owned(), "sign_ins_by_app"),
            (format!("correlationId eq '{}'", guid(1_000_100)), "sign_ins_by_correlation"),
            ("status/errorCode eq 50126".to_owned(), "sign_ins_by_error"),
            ("ipAddress eq '131.107.159.37'".to_owned(), "sign_ins_by_ip"),
            ("clientAppUsed eq 'Browser'".to_owned(), "sign_ins_by_client_app"),
            ("riskLevelDuringSignIn eq 'high'".to_owned(), "sign_ins_by_risk"),
            ("appDisplayName eq 'Graph Explorer'".to_owned(), "sign_ins_by_app_name"),
            ("appDisplayName eq 'Graph Explorer' and status/errorCode ne 0".to_owned(), "sign_ins_by_app_name"),
        ];
        let cursor = [Scalar::Ticks(domain::time::to_ticks(app.now()) - 1), Scalar::Text(guid(1))];
        for (f, index) in &filters {
            let filter = resolve_filter(&SIGN_INS, f).unwrap();
            for after in [None, Some(&cursor[..])] {
                let query = Query {
                    set: &SIGN_INS,
                    tenant: &tenant,
                    user: None,
                    filter: Some(&filter),
                    order: &[],
                    after,
                    limit: 51,
                };
                let sql = app.store.page_sql(&query, &view);
                match &mut conn {
                    AnyConnection::Postgresql(_) => {
                        let text = plan(&mut conn, &sql);
                        let used = indexes_used(&mut conn, &text);
                        assert!(used.iter().any(|u| u == index), "{f}: not {index} but {used:?}:\n{text}");
                        assert!(!scans_rows(&text), "{f} scans a table:\n{text}");
                        // These values are rare (20 rows): PostgreSQL may sort them, but only the
                        // rows the index found, never the window's.
                        if text.contains("Sort") {
                            assert!(used.iter().all(|u| u == index), "{f} sorts rows of {used:?}:\n{text}");
                        }
                    }
                    AnyConnection::Sqlite(_) => {
                        let text = sqlite_plan(&mut conn, &sql);
                        assert!(
                            text.contains(&format!("USING INDEX {index} ")),
                            "{f}: not {index}:\n{text}\n{}",
                            sql.text()
                        );
                        assert!(!text.contains("TEMP B-TREE"), "{f} sorts:\n{text}");
                    }
                }
            }
            // And the page is the oracle's: the newest rows that match, in order.
            let (page, _) = app
                .store
                .page_in(
                    &Query {
                        set: &SIGN_INS,
                        tenant: &tenant,
                        user: None,
                        filter: Some(&filter),
                        order: &[],
                        after: None,
                        limit: 51,
                    },
                    &view,
                    false,
                )
                .unwrap();
            let times: Vec<i64> = page.iter().map(|d| d.created_ticks).collect();
            assert!(times.windows(2).all(|w| w[0] >= w[1]), "{f}: not newest first");
        }
        // A value with more matches than a page: PostgreSQL reads the newest from the index of
        // each day partition in order (a Merge Append of index scans), with no sort.
        if let AnyConnection::Postgresql(_) = &mut conn {
            for (f, index) in [
                (format!("appId eq '{}'", guid(7_000_003)), "sign_ins_by_app"),
                ("clientAppUsed eq 'Mobile Apps and Desktop clients'".to_owned(), "sign_ins_by_client_app"),
            ] {
                let filter = resolve_filter(&SIGN_INS, &f).unwrap();
                let query = Query {
                    set: &SIGN_INS,
                    tenant: &tenant,
                    user: None,
                    filter: Some(&filter),
                    order: &[],
                    after: None,
                    limit: 51,
                };
                let text = plan(&mut conn, &app.store.page_sql(&query, &view));
                assert!(!text.contains("Sort"), "{f} sorts:\n{text}");
                let used = indexes_used(&mut conn, &text);
                assert!(
                    used.iter().any(|u| u == index) || used.iter().all(|u| u == "sign_ins_pkey"),
                    "{f}: {used:?}:\n{text}"
                );
                assert!(!scans_rows(&text), "{f} scans a table:\n{text}");
            }
        }
    })
    .await;
}
