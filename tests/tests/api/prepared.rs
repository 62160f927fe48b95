//! Prepared statements (`database_prepared_statements`, on by default; storage/src/prepared.rs)
//! change how often the database plans a statement, never what a request answers: the same
//! requests, repeated past the point where their statements are prepared and run generic plans,
//! answer the same with the setting on and off, on both backends. (Every other scenario test runs
//! with the default, on.)

use actix_web::http::StatusCode;
use chrono::Duration;
use serde_json::Value;

use crate::support::*;

/// Runs of each request: seen once, prepared, five custom plans, then generic ones.
const RUNS: usize = 10;

/// Lists, filters, counts, a lookup and a second page: the statement shapes of a portal session.
fn requests(app_id_doc: &Value) -> Vec<String> {
    let id = app_id_doc["id"].as_str().unwrap_or_default();
    let paths: Vec<String> = vec![
        "/v1.0/auditLogs/signIns?$top=7".into(),
        "/v1.0/auditLogs/signIns?$top=7&$filter=status/errorCode ne 0".into(),
        "/v1.0/auditLogs/signIns?$top=7&$filter=appDisplayName eq 'Graph Explorer' and status/errorCode ne 0".into(),
        "/v1.0/auditLogs/signIns?$top=7&$filter=startswith(userPrincipalName,'user1')".into(),
        "/v1.0/auditLogs/signIns?$top=7&$filter=startswith(userPrincipalName,'u')".into(),
        "/v1.0/auditLogs/signIns?$count=true&$top=3&$filter=status/errorCode eq 50126".into(),
        "/v1.0/auditLogs/signIns/$count".into(),
        format!("/v1.0/auditLogs/signIns/{id}"),
        "/beta/auditLogs/signIns?$top=5&$orderby=createdDateTime asc".into(),
    ];
    paths.into_iter().map(|p| p.replace(' ', "%20").replace('\'', "%27")).collect()
}

/// Each request `RUNS` times; the answers of one request must not change from run to run.
/// Returns the answers, and the second page of the plain list (through its nextLink).
async fn answers(app: &TestApp, paths: &[String]) -> Vec<Value> {
    let admin = admin_token(TENANT_A);
    let mut out = Vec::new();
    for path in paths {
        let (s, first) = app.get(path, &admin).await;
        assert_eq!(s, StatusCode::OK, "{path}: {first}");
        for run in 1..RUNS {
            let (s, body) = app.get(path, &admin).await;
            assert_eq!(s, StatusCode::OK, "{path}: {body}");
            assert_eq!(body, first, "{path}: run {run} answered differently");
        }
        if let Some(next) = first["@odata.nextLink"].as_str() {
            let at = next.find("/v1.0/").or_else(|| next.find("/beta/")).unwrap();
            for _ in 0..3 {
                let (s, page) = app.get(&next[at..], &admin).await;
                assert_eq!(s, StatusCode::OK, "{next}: {page}");
                out.push(page);
            }
        }
        out.push(first);
    }
    out
}

#[actix_web::test]
async fn answers_are_the_same_with_prepared_statements_on_and_off() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let docs: Vec<Value> =
            (1..=60).map(|n| sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap()), USER_OID)).collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let paths = requests(&docs[3]);
        assert!(app.state.config.database_prepared_statements, "on by default");
        let on = answers(&app, &paths).await;
        let app = app.reconfigured(|c| c.database_prepared_statements = false).await;
        let off = answers(&app, &paths).await;
        assert_eq!(on.len(), off.len());
        for (i, (a, b)) in on.iter().zip(&off).enumerate() {
            assert_eq!(a, b, "answer {i} differs between prepared statements on and off");
        }
        // Not an empty comparison: the filters found rows.
        assert!(on.iter().filter(|v| v["value"].as_array().is_some_and(|a| !a.is_empty())).count() >= 6);
    })
    .await;
}
