//! The filters the portal uses are answered from an index on PostgreSQL (checked with EXPLAIN and
//! sequential scans disabled: a plan that still scans a table has no usable index).

use diesel::connection::SimpleConnection;
use domain::ids::TenantId;
use domain::principal::SignInScope;
use domain::query::registry::SIGN_INS;
use domain::query::{Scalar, resolve_filter};
use storage::SignInQuery;
use storage::conn::AnyConnection;

use crate::support::*;

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// PostgreSQL's plan for `sql`, one line per node.
fn plan(conn: &mut AnyConnection, sql: &storage::sql::Sql) -> String {
    let mut explain = storage::sql::Sql::new(storage::Backend::Postgres);
    explain.push("EXPLAIN ").push(sql.text());
    for p in sql.params() {
        // Re-bind in order: the placeholders are numbered the same after the EXPLAIN prefix.
        explain.push_param_only(p.clone());
    }
    explain.load::<PlanLine>(conn).unwrap().into_iter().map(|l| l.line).collect::<Vec<_>>().join("\n")
}

#[actix_web::test]
async fn portal_filters_use_an_index_on_postgres() {
    let Some(db) = postgres_db() else { return };
    let app = TestApp::new(db).await;
    let now = app.now();
    let docs: Vec<serde_json::Value> =
        (1..=200).map(|n| sign_in_doc(n, now - chrono::Duration::minutes(n.try_into().unwrap()), USER_OID)).collect();
    app.ingest(&ingest_token(TENANT_A), &docs).await;
    let mut conn = app.connection();
    let AnyConnection::Postgresql(pg) = &mut conn else { unreachable!() };
    pg.batch_execute("ANALYZE; SET enable_seqscan = off;").unwrap();
    let tenant = TenantId::parse(TENANT_A).unwrap();
    let filters = [
        format!("userId eq '{USER_OID}'"),
        "startswith(userPrincipalName, 'user1')".to_owned(),
        "userPrincipalName eq 'user1@contoso.com'".to_owned(),
        "appId eq 'de8bc8b5-d9f9-48b1-a8ad-b748da725064'".to_owned(),
        "status/errorCode eq 50126".to_owned(),
        "ipAddress eq '131.107.159.37'".to_owned(),
        "clientAppUsed eq 'Browser'".to_owned(),
        "riskLevelDuringSignIn eq 'high'".to_owned(),
        format!(
            "createdDateTime ge {} and createdDateTime le {}",
            (now - chrono::Duration::hours(3)).format("%Y-%m-%dT%H:%M:%SZ"),
            now.format("%Y-%m-%dT%H:%M:%SZ")
        ),
        format!("correlationId eq '{}'", guid(1_000_001)),
        "startswith(appDisplayName, 'Graph')".to_owned(),
    ];
    for f in &filters {
        let filter = resolve_filter(&SIGN_INS, f).unwrap();
        let sql = app.store.sign_in_page_sql(
            &SignInQuery {
                tenant: &tenant,
                scope: &SignInScope::TenantWide,
                filter: Some(&filter),
                order: &[],
                after: Some(&[Scalar::Ticks(i64::MAX / 2), Scalar::Text("z".into())]),
                limit: 50,
            },
            &app.store.tenant_view(&tenant).unwrap(),
        );
        let text = plan(&mut conn, &sql);
        assert!(!text.contains("Seq Scan on sign_ins"), "{f} scans a table:\n{text}");
        assert!(text.contains("Index"), "{f}:\n{text}");
    }
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
    let query = SignInQuery {
        tenant: &tenant,
        scope: &SignInScope::TenantWide,
        filter: Some(&filter),
        order: &[],
        after: None,
        limit: 50,
    };
    let view = app.store.tenant_view(&tenant).unwrap();
    let sql = app.store.sign_in_page_sql(&query, &view);
    let text = plan(&mut conn, &sql);
    assert!(text.contains("_tenant_id_result_"), "the policy result index is not used:\n{text}");
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
    let (page, _) = app.store.sign_in_page(&query).unwrap();
    assert_eq!(page.len(), 5, "2000 sign-ins, every 400th failed a policy");
}
