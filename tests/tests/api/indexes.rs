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

/// A page of `tenant`'s sign-ins in the default order.
fn sign_ins_page<'q>(
    tenant: &'q TenantId,
    filter: Option<&'q domain::query::Filter>,
    after: Option<&'q [Scalar]>,
    limit: usize,
) -> Query<'q> {
    Query { set: &SIGN_INS, tenant, user: None, filter, order: &[], after, limit }
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
    ingest_rare_values(&app).await;
    let now = app.now();
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
            &sign_ins_page(&tenant, Some(&filter), Some(&[Scalar::Ticks(i64::MAX / 2), Scalar::Text("z".into())]), 50),
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
    let now = at_evening(app);
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

/// Moves the clock to the next 22:00 UTC and returns it, so the tests' rows (up to 2,000 minutes
/// back, one a minute) fill two day partitions whatever the time of day the test runs: started
/// early in the day they would leave a few rows in a third, where a sequential scan is the
/// planner's right choice and the plan checks would fail.
fn at_evening(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    let real = app.now();
    let evening = real.date_naive().and_hms_opt(22, 0, 0).unwrap().and_utc();
    let evening = if evening < real { evening + chrono::Duration::days(1) } else { evening };
    app.clock.advance(evening - real);
    app.now()
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

/// The index lists of `storage::indexes` are exactly what the migrations made for the entity
/// tables (beside their primary keys and time indexes), and every equality index ends with the
/// default order's full key, on both backends: code that relies on an index finds it there.
#[actix_web::test]
async fn the_index_lists_are_the_migrations_indexes() {
    #[derive(diesel::QueryableByName)]
    struct Index {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        tbl: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        def: String,
    }
    const TABLES: &str = "('sign_ins', 'directory_audits', 'risk_detections', 'risky_users', 'risky_user_history')";
    for db in databases() {
        let backend = db.backend;
        let app = TestApp::new(db).await;
        let mut conn = app.connection();
        let found: Vec<Index> = match &mut conn {
            AnyConnection::Sqlite(c) => diesel::RunQueryDsl::load(
                diesel::sql_query(format!(
                    "SELECT name, tbl_name AS tbl, sql AS def FROM sqlite_master WHERE type = 'index' AND sql IS NOT \
                     NULL AND tbl_name IN {TABLES}"
                )),
                c,
            )
            .unwrap(),
            AnyConnection::Postgresql(c) => diesel::RunQueryDsl::load(
                diesel::sql_query(format!(
                    "SELECT indexname::text AS name, tablename::text AS tbl, indexdef AS def FROM pg_indexes WHERE \
                     schemaname = current_schema() AND tablename IN {TABLES} AND indexname NOT LIKE '%_pkey'"
                )),
                &mut *c,
            )
            .unwrap(),
        };
        let mut listed: std::collections::BTreeSet<&str> = storage::indexes::EQUALITY_INDEXES
            .iter()
            .map(|i| i.name)
            .chain(storage::indexes::PARTIAL_INDEXES.iter().map(|i| i.name))
            .chain(
                storage::indexes::PREFIX_INDEXES
                    .iter()
                    .filter(|_| matches!(conn, AnyConnection::Postgresql(_)))
                    .map(|i| i.name),
            )
            .collect();
        for index in found.iter().filter(|i| !i.name.ends_with("_by_time")) {
            assert!(listed.remove(index.name.as_str()), "{backend}: {} is not in storage::indexes", index.name);
            if let Some(eq) = storage::indexes::EQUALITY_INDEXES.iter().find(|i| i.name == index.name) {
                assert_eq!(eq.table, index.tbl, "{backend}: {}", index.name);
                let key = format!("(tenant_id, {}, created_ticks DESC, id DESC)", eq.column);
                assert!(index.def.contains(&key), "{backend}: {} is not {key}: {}", index.name, index.def);
            }
            if let Some(p) = storage::indexes::PARTIAL_INDEXES.iter().find(|i| i.name == index.name) {
                assert_eq!(p.table, index.tbl, "{backend}: {}", index.name);
                assert!(index.def.contains("(tenant_id, created_ticks DESC, id DESC)"), "{backend}: {}", index.def);
                assert!(index.def.contains("WHERE"), "{backend}: {} is not partial: {}", index.name, index.def);
            }
            if let Some(p) = storage::indexes::PREFIX_INDEXES.iter().find(|i| i.name == index.name) {
                assert_eq!(p.table, index.tbl, "{backend}: {}", index.name);
                let key = format!(
                    "(tenant_id, \"left\"({}, {}), created_ticks DESC, id DESC)",
                    p.column,
                    storage::indexes::PREFIX_CHARS
                );
                assert!(index.def.contains(&key), "{backend}: {} is not {key}: {}", index.name, index.def);
            }
        }
        assert!(listed.is_empty(), "{backend}: listed but not made by the migrations: {listed:?}");
    }
}

/// Every equality index of every entity set serves its filter in the default order, on the first
/// page and after a keyset cursor: the plan names the index and has no sort. SQLite plans from
/// the hand-written statistics, whatever the data. PostgreSQL plans from its statistics, so each
/// table gets 3,000 rows in which the value looked for is one in 20, more than a page (written
/// directly: only the columns matter); sign-ins, partitioned by day, are checked on ingested data
/// by `equality_filters_page_in_index_order_without_a_sort`.
#[actix_web::test]
async fn every_equality_index_serves_the_default_order() {
    each_backend(|app| async move {
        let mut conn = app.connection();
        let now = domain::time::to_ticks(app.now());
        let postgres = matches!(conn, AnyConnection::Postgresql(_));
        if let AnyConnection::Postgresql(pg) = &mut conn {
            for table in ["directory_audits", "risk_detections", "risky_users", "risky_user_history"] {
                let mut columns = vec!["tenant_id", "id", "created_ticks", "doc"];
                let mut values = vec![
                    format!("'{TENANT_A}'"),
                    "'r' || i".into(),
                    format!("{now} - i::bigint * 10000000"),
                    "'{}'".into(),
                ];
                for index in storage::indexes::EQUALITY_INDEXES.iter().filter(|i| i.table == table) {
                    columns.push(index.column);
                    values.push("CASE WHEN i % 20 = 0 THEN 'x' ELSE 'y' || (i % 7) END".into());
                }
                pg.batch_execute(&format!(
                    "INSERT INTO {table} ({}) SELECT {} FROM generate_series(1, 3000) AS i; ANALYZE {table};",
                    columns.join(", "),
                    values.join(", ")
                ))
                .unwrap();
            }
        }
        let tenant = TenantId::parse(TENANT_A).unwrap();
        let view = app.store.tenant_view(&tenant).unwrap();
        let cursor = [Scalar::Ticks(now - 1), Scalar::Text(guid(1))];
        for index in storage::indexes::EQUALITY_INDEXES.iter().filter(|i| !(postgres && i.table == "sign_ins")) {
            let set = domain::query::registry::all_sets().find(|s| s.table == index.table).unwrap();
            let field = set
                .fields
                .iter()
                .find(|f| f.source == domain::query::Source::Column(index.column))
                .unwrap_or_else(|| panic!("{}: no field in {}", index.name, set.name));
            let value = match field.ty {
                domain::query::ValueType::Int32 => Scalar::Int(50126),
                _ => Scalar::Text("x".into()),
            };
            let filter = domain::query::Filter::Compare {
                op: domain::query::CmpOp::Eq,
                lhs: domain::query::Operand::Field(field),
                rhs: domain::query::Operand::Literal(value),
            };
            // A risky user's history is read below its user: the scope names the user.
            let below_user = set.kind == domain::sets::SetKind::RiskyUserHistory;
            for after in [None, Some(&cursor[..])] {
                let query = Query {
                    set,
                    tenant: &tenant,
                    user: below_user.then_some("x"),
                    filter: (!below_user).then_some(&filter),
                    order: &[],
                    after,
                    limit: 51,
                };
                let sql = app.store.page_sql(&query, &view);
                match &mut conn {
                    AnyConnection::Postgresql(_) => {
                        let text = plan(&mut conn, &sql);
                        let used = indexes_used(&mut conn, &text);
                        assert!(used.iter().any(|u| u == index.name), "{}: {used:?}:\n{text}", index.name);
                        assert!(!sorts(&text), "{} sorts:\n{text}", index.name);
                        assert!(!text.contains(&format!("Seq Scan on {}", index.table)), "{}:\n{text}", index.name);
                    }
                    AnyConnection::Sqlite(_) => {
                        let text = sqlite_plan(&mut conn, &sql);
                        assert!(text.contains(&format!("USING INDEX {} ", index.name)), "{}:\n{text}", index.name);
                        assert!(!text.contains("TEMP B-TREE"), "{} sorts:\n{text}", index.name);
                    }
                }
            }
        }
    })
    .await;
}

/// The partial indexes serve their filters (`riskLevelDuringSignIn ne 'none'`, a failed
/// Conditional Access policy) on data where they are rare: the newest page is one ordered range
/// of the index (PostgreSQL: a Merge Append of the partitions' index scans, no sort), first page
/// and after a cursor, and the rows are the newest that match.
#[actix_web::test]
async fn partial_indexes_serve_their_filters() {
    each_backend(|app| async move {
        let now = at_evening(&app);
        let docs: Vec<serde_json::Value> = (1..=2000)
            .map(|n: u64| {
                let mut d = sign_in_doc(n, now - chrono::Duration::minutes(n.try_into().unwrap()), USER_OID);
                d["riskLevelDuringSignIn"] = if n.is_multiple_of(50) { "medium" } else { "none" }.into();
                if n.is_multiple_of(40) {
                    d["appliedConditionalAccessPolicies"][0]["result"] = "failure".into();
                }
                d
            })
            .collect();
        for chunk in docs.chunks(500) {
            let (s, b) = app.ingest(&ingest_token(TENANT_A), chunk).await;
            assert_eq!(s, actix_web::http::StatusCode::OK, "{b}");
        }
        let mut conn = app.connection();
        if let AnyConnection::Postgresql(pg) = &mut conn {
            pg.batch_execute("ANALYZE").unwrap();
        }
        let tenant = TenantId::parse(TENANT_A).unwrap();
        let view = app.store.tenant_view(&tenant).unwrap();
        let cursor =
            [Scalar::Ticks(domain::time::to_ticks(now - chrono::Duration::minutes(500))), Scalar::Text(guid(1))];
        for (index, matching) in [(storage::indexes::RISKY, 40), (storage::indexes::CA_FAILED, 50)] {
            let filter = resolve_filter(&SIGN_INS, index.filter).unwrap();
            for after in [None, Some(&cursor[..])] {
                let query = sign_ins_page(&tenant, Some(&filter), after, 11);
                let sql = app.store.page_sql(&query, &view);
                match &mut conn {
                    AnyConnection::Postgresql(_) => {
                        let text = plan(&mut conn, &sql);
                        let used = indexes_used(&mut conn, &text);
                        assert!(
                            used.iter().all(|u| u == index.name) && !used.is_empty(),
                            "{}: {used:?}:\n{text}",
                            index.name
                        );
                        assert!(!sorts(&text), "{} sorts:\n{text}", index.name);
                        assert!(!scans_rows(&text), "{} scans a table:\n{text}", index.name);
                    }
                    AnyConnection::Sqlite(_) => {
                        let text = sqlite_plan(&mut conn, &sql);
                        assert!(text.contains(&format!("USING INDEX {} ", index.name)), "{}:\n{text}", index.name);
                        assert!(!text.contains("TEMP B-TREE"), "{} sorts:\n{text}", index.name);
                    }
                }
                let (page, _) = app.store.page_in(&query, &view, false).unwrap();
                let from = after.map_or(0, |_| 500);
                let want: Vec<String> = (1..=2000_u64)
                    .filter(|n| *n > from && n % (2000 / matching) == 0)
                    .take(11)
                    .map(|n| guid(n).to_lowercase())
                    .collect();
                let got: Vec<String> = page.iter().map(|d| d.id.clone()).collect();
                assert_eq!(got, want, "{}", index.filter);
            }
        }
    })
    .await;
}

/// `in (...)` on a property with an equality index pages in the default order as a merge of the
/// values' index ranges, with no sort (SQLite: MERGE (UNION ALL) of searches of the index;
/// PostgreSQL, whose connections prepare statements by default: a Merge Append of the index's
/// scans in every day partition), on the first page and after a cursor, and returns the newest
/// rows of all the values together.
#[actix_web::test]
async fn in_on_an_indexed_property_merges_its_ranges() {
    each_backend(|app| async move {
        let now = at_evening(&app);
        let users = [guid(7_100_001), guid(7_100_002), guid(7_100_003), guid(7_100_004)];
        let docs: Vec<serde_json::Value> = (1..=1200)
            .map(|n: u64| {
                // Half the rows belong to the four users (as the bench's most active ones), the
                // rest to 97 others.
                let user = if n.is_multiple_of(2) {
                    users[usize::try_from(n / 2 % 4).unwrap()].clone()
                } else {
                    guid(8_000_000 + n % 97)
                };
                sign_in_doc(n, now - chrono::Duration::minutes(n.try_into().unwrap()), &user)
            })
            .collect();
        for chunk in docs.chunks(400) {
            let (s, b) = app.ingest(&ingest_token(TENANT_A), chunk).await;
            assert_eq!(s, actix_web::http::StatusCode::OK, "{b}");
        }
        let mut conn = app.connection();
        if let AnyConnection::Postgresql(pg) = &mut conn {
            pg.batch_execute("ANALYZE").unwrap();
        }
        let tenant = TenantId::parse(TENANT_A).unwrap();
        let view = app.store.tenant_view(&tenant).unwrap();
        let f = format!("userId in ('{}', '{}', '{}')", users[1], users[2].to_uppercase(), users[3]);
        let filter = resolve_filter(&SIGN_INS, &f).unwrap();
        let cursor =
            [Scalar::Ticks(domain::time::to_ticks(now - chrono::Duration::minutes(300))), Scalar::Text(guid(1))];
        for after in [None, Some(&cursor[..])] {
            let query = sign_ins_page(&tenant, Some(&filter), after, 11);
            let sql = app.store.page_sql(&query, &view);
            // The list handler names the default order rather than leaving it empty: same plan.
            let default = storage::entities::default_order(&SIGN_INS);
            let named = Query { order: &default, ..sign_ins_page(&tenant, Some(&filter), after, 11) };
            assert_eq!(app.store.page_sql(&named, &view).text(), sql.text());
            match &mut conn {
                AnyConnection::Postgresql(_) => {
                    assert_eq!(sql.text().matches(" UNION ALL ").count(), 2, "{}", sql.text());
                    let text = plan(&mut conn, &sql);
                    assert!(text.contains("Merge Append"), "{f}:\n{text}");
                    let used = indexes_used(&mut conn, &text);
                    // Each arm reads the user index of the partition that holds the rows (an
                    // empty partition made ahead may be read through any index: it costs nothing).
                    assert!(used.iter().filter(|u| *u == "sign_ins_by_user").count() >= 3, "{f}: {used:?}:\n{text}");
                    assert_eq!(text.matches("->  Limit").count(), 3, "each arm is limited:\n{text}");
                    assert!(!sorts(&text), "{f} sorts:\n{text}");
                }
                AnyConnection::Sqlite(_) => {
                    let text = sqlite_plan(&mut conn, &sql);
                    assert!(text.contains("MERGE (UNION ALL)"), "{f}:\n{text}");
                    assert_eq!(text.matches("USING INDEX sign_ins_by_user ").count(), 3, "{f}:\n{text}");
                    assert!(!text.contains("TEMP B-TREE"), "{f} sorts:\n{text}");
                }
            }
            let (page, _) = app.store.page_in(&query, &view, false).unwrap();
            let from = after.map_or(0, |_| 300);
            let want: Vec<String> = (1..=1200_u64)
                .filter(|n| *n > from && n % 2 == 0 && n / 2 % 4 != 0)
                .take(11)
                .map(|n| guid(n).to_lowercase())
                .collect();
            let got: Vec<String> = page.iter().map(|d| d.id.clone()).collect();
            assert_eq!(got, want, "{f}");
        }
    })
    .await;
}

/// `appliedConditionalAccessPolicies/any(p: p/result eq ...)` for a rare result starts from the
/// policy rows with that result (`sign_in_ca_policies_by_result`), partition by partition, rather
/// than probing the policies of every sign-in in the window.
#[actix_web::test]
async fn a_rare_policy_result_is_found_from_its_index_on_postgres() {
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let now = at_evening(&app);
    let docs: Vec<serde_json::Value> = (1..=2000)
        .map(|n| {
            let mut d = sign_in_doc(n, now - chrono::Duration::minutes(n.try_into().unwrap()), USER_OID);
            if n % 400 == 0 {
                d["appliedConditionalAccessPolicies"][0]["result"] = "failure".into();
            }
            if n % 400 == 200 {
                d["appliedConditionalAccessPolicies"][0]["result"] = "reportOnlyFailure".into();
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
    // 'failure' has its own summary column and partial index (`partial_indexes_serve_their_filters`).
    let filter =
        resolve_filter(&SIGN_INS, "appliedConditionalAccessPolicies/any(p: p/result eq 'reportOnlyFailure')").unwrap();
    let query = sign_ins_page(&tenant, Some(&filter), None, 50);
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
    assert_eq!(page.len(), 5, "2000 sign-ins, every 400th failed a policy in report-only mode");
}

/// Whether a PostgreSQL plan has a sort node (a Merge Append's "Sort Key" is the order it keeps,
/// not a sort).
fn sorts(plan: &str) -> bool {
    plan.lines().any(|l| {
        let node = l.trim_start().trim_start_matches("->").trim_start();
        (node.starts_with("Sort ") && !node.starts_with("Sort Key")) || node.starts_with("Incremental Sort")
    })
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
                let query = sign_ins_page(&tenant, Some(&filter), after, 51);
                let sql = app.store.page_sql(&query, &view);
                match &mut conn {
                    AnyConnection::Postgresql(_) => {
                        let text = plan(&mut conn, &sql);
                        let used = indexes_used(&mut conn, &text);
                        assert!(used.iter().any(|u| u == index), "{f}: not {index} but {used:?}:\n{text}");
                        assert!(!scans_rows(&text), "{f} scans a table:\n{text}");
                        // These values are rare (20 rows): PostgreSQL may sort them, but only the
                        // rows the index found, never the window's.
                        // (The risk level's rows with a level other than 'none' are in the
                        // partial index `sign_ins_risky` too, which PostgreSQL may read instead.)
                        if text.contains("Sort") {
                            assert!(
                                used.iter()
                                    .all(|u| u == index || (*index == "sign_ins_by_risk" && u == "sign_ins_risky")),
                                "{f} sorts rows of {used:?}:\n{text}"
                            );
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
            let (page, _) = app.store.page_in(&sign_ins_page(&tenant, Some(&filter), None, 51), &view, false).unwrap();
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
                let query = sign_ins_page(&tenant, Some(&filter), None, 51);
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

/// A user-name prefix as long as the prefix index's key or longer pages in the default order from
/// that index on PostgreSQL (a Merge Append of the day partitions' ranges of one key, no sort),
/// first page and after a cursor, and the page is the newest rows that match; a shorter prefix
/// (several keys) is still answered, from the names' range.
#[actix_web::test]
async fn a_user_name_prefix_pages_in_order_from_its_index_on_postgres() {
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let now = at_evening(&app);
    // 20 first names of which "alex" and "alexander" share a key; each name has 5 users.
    const NAMES: [&str; 20] = [
        "alex",
        "alexander",
        "brianna",
        "carlos",
        "dmitri",
        "elena",
        "farid",
        "grace",
        "hiro",
        "ines",
        "jonas",
        "kavya",
        "liam",
        "mara",
        "nadia",
        "oscar",
        "priya",
        "quinn",
        "rosa",
        "sven",
    ];
    let upn = |n: u64| format!("{}.{}@contoso.com", NAMES[usize::try_from(n % 20).unwrap()], n % 100 / 20);
    let docs: Vec<serde_json::Value> = (1..=2000)
        .map(|n: u64| {
            let mut d =
                sign_in_doc(n, now - chrono::Duration::minutes(n.try_into().unwrap()), &guid(n % 100 + 9_000_000));
            d["userPrincipalName"] = upn(n).into();
            d
        })
        .collect();
    for chunk in docs.chunks(500) {
        let (s, b) = app.ingest(&ingest_token(TENANT_A), chunk).await;
        assert_eq!(s, actix_web::http::StatusCode::OK, "{b}");
    }
    let mut conn = app.connection();
    let AnyConnection::Postgresql(pg) = &mut conn else { unreachable!() };
    pg.batch_execute("ANALYZE").unwrap();
    let tenant = TenantId::parse(TENANT_A).unwrap();
    let view = app.store.tenant_view(&tenant).unwrap();
    let cursor = [Scalar::Ticks(domain::time::to_ticks(now - chrono::Duration::minutes(500))), Scalar::Text(guid(1))];
    // Some(true): read in order from the prefix index; Some(false): not from it; None: the
    // planner's choice (a longer prefix's rest narrows the key's rows by an amount it estimates).
    for (prefix, from_the_index) in
        [("alex", Some(true)), ("ALEX", Some(true)), ("alexander.", None), ("alex%", None), ("ale", Some(false))]
    {
        let filter = resolve_filter(&SIGN_INS, &format!("startswith(userPrincipalName,'{prefix}')")).unwrap();
        for after in [None, Some(&cursor[..])] {
            let query = sign_ins_page(&tenant, Some(&filter), after, 11);
            let sql = app.store.page_sql(&query, &view);
            let text = plan(&mut conn, &sql);
            let used = indexes_used(&mut conn, &text);
            let index = "sign_ins_by_upn_prefix";
            match from_the_index {
                Some(true) => {
                    assert!(used.iter().all(|u| u == index) && !used.is_empty(), "{prefix}: {used:?}:\n{text}");
                    assert!(!sorts(&text), "{prefix} sorts:\n{text}");
                }
                Some(false) => assert!(!used.iter().any(|u| u == index), "{prefix}, shorter than the key: {used:?}"),
                None => {}
            }
            let (page, _) = app.store.page_in(&query, &view, false).unwrap();
            let from = after.map_or(0, |_| 500);
            let lower = prefix.to_lowercase();
            let want: Vec<String> = (from + 1..=2000_u64)
                .filter(|n| upn(*n).starts_with(&lower))
                .take(11)
                .map(|n| guid(n).to_lowercase())
                .collect();
            let got: Vec<String> = page.iter().map(|d| d.id.clone()).collect();
            assert_eq!(got, want, "{prefix}");
        }
    }
}
