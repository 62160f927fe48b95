//! Readiness for a distributed PostgreSQL (Citus, every tenant table distributed by `tenant_id`),
//! checked on a plain PostgreSQL: Citus itself is not installed or tested here.
//!
//! From the migrated catalog: every primary key and unique index of a table with a `tenant_id`
//! leads with it, and every foreign key between such tables carries `tenant_id` on both sides.
//! From the statements the service sends while it serves every kind of request, ingests, acts and
//! purges (captured through diesel's default instrumentation, which this test binary alone sets,
//! so no other test's statements mix in): each one that touches a tenant table names `tenant_id`
//! in its `WHERE` (or its inserted columns), so Citus can route it to one shard.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use actix_web::test;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection, set_default_instrumentation};
use diesel::sql_types::{Integer, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use serde_json::{Value, json};

const SECRET: &[u8] = b"citus-test-secret-citus-test-secret-0123";
const ADMIN_OID: &str = "11111111-1111-4111-8111-111111111111";

static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn capture() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            let sql = text.split(" -- binds:").next().unwrap_or(&text);
            // Without comment lines (migrations start with them).
            let sql: Vec<&str> = sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
            let sql = sql.join("\n").trim().to_owned();
            STATEMENTS.lock().unwrap().push(sql);
        }
    }))
}

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName, Debug)]
struct Key {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    key_name: String,
    #[diesel(sql_type = Text)]
    first_column: String,
}

#[derive(QueryableByName, Debug)]
struct Foreign {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    key_name: String,
    #[diesel(sql_type = Text)]
    referenced: String,
    #[diesel(sql_type = Integer)]
    tenant_pairs: i32,
}

/// Tables (partitioned parents and plain tables, not partitions) that have a `tenant_id`.
fn tenant_tables(c: &mut PgConnection) -> BTreeSet<String> {
    diesel::sql_query(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
    )
    .load::<Name>(c)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

fn tables_without_tenant(c: &mut PgConnection) -> BTreeSet<String> {
    diesel::sql_query(
        "SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
         AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id') \
         AND c.relname <> '__diesel_schema_migrations'",
    )
    .load::<Name>(c)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

fn database(server: &str) -> Option<(String, String)> {
    let admin_url = format!("{}/postgres", server.trim_end_matches('/'));
    let mut admin = match PgConnection::establish(&admin_url) {
        Ok(c) => c,
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI is set but PostgreSQL at {admin_url} is unreachable: {e}");
            eprintln!("PostgreSQL not reachable at {admin_url}: the Citus readiness test is skipped ({e})");
            return None;
        }
    };
    let n: u64 = rand::random();
    let name = format!("idtrail_citus_{n:016x}");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    Some((admin_url, name))
}

fn guid(n: u64) -> String {
    format!("{:08x}-0000-4000-8000-{:012x}", n >> 16, n)
}

fn ts(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Words of a statement, lower case (identifiers, keywords; quotes and punctuation dropped).
fn words(sql: &str) -> Vec<String> {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Why a statement that touches tenant tables needs no `tenant_id`, or `None`.
fn cross_tenant_by_design(sql: &str, w: &[String]) -> Option<&'static str> {
    let first = w.first().map(String::as_str).unwrap_or("");
    // A DO block counts as DDL when it alters and reads or writes no rows (a migration that
    // tolerates a server without LZ4).
    let dml = ["select", "insert", "update", "delete", "copy"];
    let ddl_block = first == "do" && w.iter().any(|x| x == "alter") && !w.iter().any(|x| dml.contains(&x.as_str()));
    if ddl_block || ["create", "alter", "drop", "analyze", "lock", "vacuum", "comment", "set", "show"].contains(&first)
    {
        return Some("DDL and maintenance (migrations, partitions ahead, dropped by age), not one tenant's data");
    }
    if sql.contains("pg_catalog") || sql.contains("pg_inherits") || sql.contains("pg_class") {
        return Some("catalog reads (which partitions exist)");
    }
    if w.iter().any(|x| x == "storage_tasks") || sql.starts_with("SELECT DISTINCT tenant_id AS id FROM sign_ins") {
        return Some(
            "a storage task, once per database (the rollup rebuild lists the tenants, then works tenant by tenant)",
        );
    }
    let by_age = ["block_ticks <", "day_ticks <", "created_ticks <"].iter().any(|c| sql.contains(c));
    if first == "select" && w.get(1).is_some_and(|x| x == "min") && by_age {
        return Some(
            "the purge's search for rollup rows older than every window, across tenants (multi-shard on Citus)",
        );
    }
    let span_table = w.iter().any(|x| x == "sign_in_user_spans" || x == "sign_in_app_user_spans");
    if (first == "delete" || first == "update") && span_table && !w.iter().any(|x| x == "tenant_id") {
        return Some(
            "the purge's clearing of the days past every tenant's window from the span tables, across tenants \
             (multi-shard on Citus)",
        );
    }
    if first == "delete" && by_age && !w.iter().any(|x| x == "tenant_id") {
        return Some(
            "the purge's deletes past every tenant's window, by age across tenants like a dropped partition \
             (multi-shard on Citus; the ctid-batched ones need a per-tenant form there)",
        );
    }
    None
}

#[actix_web::test]
async fn tenant_tables_are_keyed_and_reached_by_tenant_id() {
    let server = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let Some((admin_url, name)) = database(&server) else { return };
    let url = format!("{}/{name}", server.trim_end_matches('/'));
    set_default_instrumentation(capture).unwrap();

    let config = api::config::Config {
        database_url: url.clone(),
        default_license: "p2".into(),
        rate_limit_enabled: false,
        public_url: Some("https://idtrail.test".into()),
        ..api::config::Config::default()
    };
    let clock = std::sync::Arc::new(domain::time::ManualClock::at(chrono::Utc::now()));
    let options = api::startup::Options { hs256_secret: Some(SECRET.to_vec()), clock: clock.clone() };
    let started = api::startup::start(config.clone(), options).await.unwrap();
    let state = started.state.clone();
    let store = state.store.clone();
    let now = chrono::Utc::now();
    let demo = ::demo::DemoConfig { sign_ins: 300, days: 3, seed: 7, end: now };
    {
        let store = store.clone();
        tokio::task::spawn_blocking(move || api::demo::load(&store, &demo).unwrap()).await.unwrap();
    }
    let tenant = ::demo::TENANTS[0].id;
    let admin_claims = api::demo::user_claims(
        &config,
        tenant,
        ADMIN_OID,
        "admin@contoso.com",
        &[domain::principal::DirectoryRole::GlobalAdministrator],
        3600,
    );
    let admin = api::auth::sign_hs256(SECRET, &admin_claims).unwrap();
    let ingest_claims = api::demo::app_claims(
        &config,
        tenant,
        "44444444-4444-4444-8444-444444444444",
        &["IdTrail.Ingest".into()],
        3600,
    );
    let ingest = api::auth::sign_hs256(SECRET, &ingest_claims).unwrap();
    let app = test::init_service(api::app(state.clone())).await;

    let risky_user = "4628e7df-dff3-407c-a08f-75f08c0806dc";
    let batches: [(&str, Vec<Value>); 3] = [
        (
            "directoryAudits",
            (0..3)
                .map(|n| {
                    json!({"id": format!("Directory_{}", guid(n)), "category": "UserManagement", "correlationId": guid(n + 9),
                "result": "success", "activityDisplayName": "Add member to group", "activityDateTime": ts(now),
                "loggedByService": "Core Directory", "operationType": "Assign",
                "initiatedBy": {"user": {"id": guid(n + 20), "displayName": "A", "userPrincipalName": "a@contoso.com"}, "app": null},
                "targetResources": [], "additionalDetails": []})
                })
                .collect(),
        ),
        (
            "riskDetections",
            (0..3)
                .map(|n| {
                    json!({"id": format!("{n:064x}"), "requestId": guid(n + 50), "correlationId": guid(n + 60),
                "riskEventType": "unfamiliarFeatures", "riskState": "atRisk", "riskLevel": "high", "riskDetail": "none",
                "source": "IdentityProtection", "detectionTimingType": "realtime", "activity": "signin",
                "tokenIssuerType": "AzureAD", "ipAddress": "178.17.170.23", "activityDateTime": ts(now),
                "detectedDateTime": ts(now), "lastUpdatedDateTime": ts(now), "userId": risky_user,
                "userDisplayName": "Test", "userPrincipalName": "test@contoso.com", "additionalInfo": "[]",
                "location": {"city": "Chisinau", "state": "Chisinau", "countryOrRegion": "MD"}})
                })
                .collect(),
        ),
        (
            "riskyUsers",
            vec![json!({"id": risky_user, "riskLastUpdatedDateTime": ts(now), "isProcessing": false,
                "isDeleted": false, "riskDetail": "none", "riskLevel": "high", "riskState": "atRisk",
                "userDisplayName": "Test", "userPrincipalName": "test@contoso.com"})],
        ),
    ];
    for (kind, docs) in &batches {
        let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
        let req = test::TestRequest::post()
            .uri(&format!("/ingest/{kind}"))
            .insert_header(("Authorization", format!("Bearer {ingest}")))
            .insert_header(("Content-Type", "application/x-ndjson"))
            .set_payload(body)
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 200, "{kind}: {:?}", test::read_body(res).await);
    }

    let first_sign_in = {
        let req = test::TestRequest::get()
            .uri("/v1.0/auditLogs/signIns?$top=1")
            .insert_header(("Authorization", format!("Bearer {admin}")))
            .to_request();
        let body: Value = test::call_and_read_body_json(&app, req).await;
        body["value"][0]["id"].as_str().unwrap().to_owned()
    };
    let paths = [
        "/v1.0/auditLogs/signIns?$filter=status/errorCode ne 0 and appliedConditionalAccessPolicies/any(p: p/result eq 'failure')&$orderby=userPrincipalName desc&$top=5&$count=true".to_owned(),
        format!("/v1.0/auditLogs/signIns/{first_sign_in}"),
        "/v1.0/auditLogs/signIns/$count".to_owned(),
        "/v1.0/auditLogs/signIns?$apply=groupby((appDisplayName),aggregate($count as n))".to_owned(),
        "/v1.0/auditLogs/signIns?$format=csv&$top=10".to_owned(),
        "/v1.0/auditLogs/signIns/delta".to_owned(),
        "/v1.0/auditLogs/directoryAudits?$filter=category eq 'UserManagement'".to_owned(),
        format!("/v1.0/auditLogs/directoryAudits/Directory_{}", guid(1)),
        "/v1.0/identityProtection/riskDetections?$top=2".to_owned(),
        "/v1.0/identityProtection/riskyUsers".to_owned(),
        format!("/v1.0/identityProtection/riskyUsers/{risky_user}/history"),
        "/idtrail/reports/signInActivity".to_owned(),
        "/idtrail/reports/topApplications".to_owned(),
        "/beta/reports/getAzureADApplicationSignInSummary(period='D7')".to_owned(),
        "/idtrail/tenant".to_owned(),
    ];
    for path in &paths {
        let uri = path.replace(' ', "%20").replace('\'', "%27");
        let req =
            test::TestRequest::get().uri(&uri).insert_header(("Authorization", format!("Bearer {admin}"))).to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), 200, "{path}: {:?}", test::read_body(res).await);
        let _ = test::read_body(res).await;
    }
    let req = test::TestRequest::post()
        .uri("/v1.0/identityProtection/riskyUsers/dismiss")
        .insert_header(("Authorization", format!("Bearer {admin}")))
        .insert_header(("Content-Type", "application/json"))
        .set_payload(json!({"userIds": [risky_user]}).to_string())
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 204);
    // A purge with nothing old, then one a year later that deletes everything (risky users still at
    // risk aside): the purge's statements, deletes included.
    for later in [0, 365] {
        clock.advance(chrono::Duration::days(later));
        let store = store.clone();
        let report = tokio::task::spawn_blocking(move || store.purge(false).unwrap()).await.unwrap();
        assert_eq!(report.total_sign_ins() > 0, later > 0, "{report:?}");
    }
    drop(app);
    drop((state, store));
    started.stop().await;

    let mut c = PgConnection::establish(&url).unwrap();
    let tenant_tables = tenant_tables(&mut c);
    assert!(tenant_tables.contains("sign_ins") && tenant_tables.contains("risky_users"), "{tenant_tables:?}");

    // Keys: every primary key and unique index of a tenant table leads with tenant_id.
    let keys = diesel::sql_query(
        "SELECT t.relname AS table_name, i.relname AS key_name, a.attname AS first_column \
         FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] \
         WHERE n.nspname = 'public' AND (x.indisprimary OR x.indisunique) AND NOT t.relispartition",
    )
    .load::<Key>(&mut c)
    .unwrap();
    let bad: Vec<&Key> =
        keys.iter().filter(|k| tenant_tables.contains(&k.table_name) && k.first_column != "tenant_id").collect();
    assert!(bad.is_empty(), "keys of tenant tables that do not lead with tenant_id: {bad:?}");
    for table in &tenant_tables {
        assert!(keys.iter().any(|k| &k.table_name == table), "{table} has no primary key or unique index");
    }

    // Foreign keys: between tenant tables they pair tenant_id with tenant_id (a row can only refer
    // to its own tenant's rows); to a table without tenant_id (a reference table) they are fine.
    let foreign = diesel::sql_query(
        "SELECT t.relname AS table_name, k.conname AS key_name, r.relname AS referenced, \
         (SELECT COUNT(*) FROM unnest(k.conkey, k.confkey) AS p(a, b) \
          JOIN pg_attribute x ON x.attrelid = k.conrelid AND x.attnum = p.a \
          JOIN pg_attribute y ON y.attrelid = k.confrelid AND y.attnum = p.b \
          WHERE x.attname = 'tenant_id' AND y.attname = 'tenant_id')::int AS tenant_pairs \
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class r ON r.oid = k.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE k.contype = 'f' AND n.nspname = 'public' AND NOT t.relispartition",
    )
    .load::<Foreign>(&mut c)
    .unwrap();
    let crossing: Vec<&Foreign> = foreign
        .iter()
        .filter(|f| {
            tenant_tables.contains(&f.table_name) && tenant_tables.contains(&f.referenced) && f.tenant_pairs != 1
        })
        .collect();
    assert!(crossing.is_empty(), "foreign keys that could cross tenants: {crossing:?}");
    let reference = tables_without_tenant(&mut c);
    eprintln!("reference tables (no tenant_id): {reference:?}; tenant tables: {tenant_tables:?}");

    // Statements: each that touches a tenant table names tenant_id where it selects its rows.
    let statements = std::mem::take(&mut *STATEMENTS.lock().unwrap());
    let mut exempt: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut checked = 0usize;
    let mut missing = Vec::new();
    // A batch (`SELECT pg_advisory_xact_lock(..); CREATE TABLE ..`) is judged statement by statement.
    let statements: Vec<String> = statements
        .iter()
        .flat_map(|s| s.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned))
        .collect();
    for sql in &statements {
        let w = words(sql);
        if !w.iter().any(|x| tenant_tables.contains(x.as_str())) {
            continue;
        }
        if let Some(why) = cross_tenant_by_design(sql, &w) {
            *exempt.entry(why).or_default() += 1;
            continue;
        }
        checked += 1;
        let first = w.first().map_or("", String::as_str);
        let scoped = match first {
            "insert" | "copy" => w.iter().any(|x| x == "tenant_id"),
            // In a condition: the WHERE, or the ON of the join that reads the tenant table.
            _ => w.iter().skip_while(|x| *x != "where" && *x != "on").any(|x| x == "tenant_id"),
        };
        if !scoped {
            missing.push(sql.clone());
        }
    }
    assert!(checked > 50, "the scenario ran few statements ({checked}): {statements:?}");
    missing.sort();
    missing.dedup();
    let shown: Vec<String> = missing.iter().map(|m| m.chars().take(300).collect()).collect();
    assert!(
        missing.is_empty(),
        "statements on tenant tables without tenant_id ({}):\n{}",
        missing.len(),
        shown.join("\n\n")
    );
    eprintln!("{checked} statements on tenant tables name tenant_id; exempt: {exempt:?}");

    drop(c);
    let mut admin = PgConnection::establish(&admin_url).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
}
