//! Exports (`$format=csv|ndjson|json`, `Accept: text/csv`): the same rows in the same order as the
//! paged list, under the same scope, masks and retention; CSV that parses back to the same values
//! with formulas neutralised; a client that goes away releases the connection; a failure after
//! the first rows leaves a body that is visibly incomplete.

use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::http::StatusCode;
use actix_web::test;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::*;

pub const SIGN_INS: &str = "/v1.0/auditLogs/signIns";

/// The app with exports read `rows` per statement, so a few dozen rows make many pages.
pub fn with_page_rows(mut app: TestApp, rows: usize) -> TestApp {
    let mut config = (*app.state.config).clone();
    config.export_page_rows = rows;
    config.rate_limit_enabled = false;
    app.state.limits = Arc::new(api::ratelimit::RateLimits::from_config(&config));
    app.state.config = Arc::new(config);
    app
}

/// Ingests `n` sign-ins of tenant A, a minute apart, every third one the plain user's.
pub async fn seed(app: &TestApp, n: u64) -> Vec<Value> {
    let now = app.now();
    let docs: Vec<Value> = (1..=n)
        .map(|i| {
            let who = if i % 3 == 0 { USER_OID } else { ADMIN_OID };
            sign_in_doc(i, now - Duration::minutes(i64::try_from(i).unwrap()), who)
        })
        .collect();
    let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    docs
}

/// Every row of a list, following `@odata.nextLink`.
async fn paged(app: &TestApp, uri: &str, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next = Some(uri.to_owned());
    while let Some(uri) = next {
        let (s, body) = app.get(uri.trim_start_matches("https://idtrail.test"), token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        out.extend(body["value"].as_array().unwrap().iter().cloned());
        next = body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    out
}

/// Status, headers and body text of a GET.
async fn fetch(
    app: &TestApp,
    uri: &str,
    token: &str,
    accept: Option<&str>,
) -> (StatusCode, actix_web::http::header::HeaderMap, String) {
    let mut req = test::TestRequest::get().uri(uri).insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(accept) = accept {
        req = req.insert_header(("Accept", accept));
    }
    let appsvc = test::init_service(api::app(app.state.clone())).await;
    let res = test::call_service(&appsvc, req.to_request()).await;
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes =
        actix_web::body::to_bytes(res.into_body()).await.map_err(|e| e.into().to_string()).expect("a complete body");
    (status, headers, String::from_utf8(bytes.to_vec()).expect("UTF-8"))
}

/// The CSV's header and records, parsed with the `csv` crate.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (headers, rows)
}

fn column<'a>(headers: &[String], rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let i = headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {headers:?}"));
    rows.iter().map(|r| r[i].as_str()).collect()
}

/// NDJSON's records, checking the trailer a complete export ends with.
fn parse_ndjson(text: &str) -> Vec<Value> {
    let mut lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let trailer = lines.pop().expect("a trailer line");
    assert_eq!(trailer, json!({"@idtrail.complete": true, "rows": lines.len()}));
    lines
}

fn encode(q: &str) -> String {
    api::query::encode_value(q)
}

#[actix_web::test]
async fn exports_are_the_paged_list_in_every_format() {
    each_backend(|app| async move {
        let app = with_page_rows(app, 4);
        seed(&app, 23).await;
        let admin = admin_token(TENANT_A);
        for query in [
            String::new(),
            format!("$filter={}&$orderby={}", encode("status/errorCode eq 0"), encode("userPrincipalName asc")),
            format!("$select=id,userDisplayName,status&$orderby={}", encode("createdDateTime asc")),
        ] {
            let list = paged(&app, &format!("{SIGN_INS}?$top=5&{query}"), &admin).await;
            assert!(list.len() > 5, "{query}: {}", list.len());

            let (s, h, text) = fetch(&app, &format!("{SIGN_INS}?$format=ndjson&{query}"), &admin, None).await;
            assert_eq!(s, StatusCode::OK, "{text}");
            assert_eq!(h.get("content-type").unwrap(), "application/x-ndjson");
            assert_eq!(parse_ndjson(&text), list, "{query}");

            let (s, h, text) = fetch(&app, &format!("{SIGN_INS}?{query}&$format=JSON"), &admin, None).await;
            assert_eq!(s, StatusCode::OK, "{text}");
            let disposition = h.get("content-disposition").unwrap().to_str().unwrap();
            assert!(disposition.starts_with("attachment; filename=\"SignIns_"), "{disposition}");
            assert!(disposition.ends_with("Z.json\""), "{disposition}");
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), Value::Array(list.clone()), "{query}");

            let (s, h, text) = fetch(&app, &format!("{SIGN_INS}?{query}"), &admin, Some("text/csv")).await;
            assert_eq!(s, StatusCode::OK, "{text}");
            assert_eq!(h.get("content-type").unwrap(), "text/csv; charset=utf-8");
            assert!(text.ends_with("\r\n"));
            let (headers, rows) = parse_csv(&text);
            assert_eq!(rows.len(), list.len());
            let ids: Vec<&str> = list.iter().map(|d| d["id"].as_str().unwrap()).collect();
            assert_eq!(column(&headers, &rows, "Request ID"), ids, "{query}");
            let names: Vec<&str> = list.iter().map(|d| d["userDisplayName"].as_str().unwrap()).collect();
            assert_eq!(column(&headers, &rows, "User"), names);
            let codes: Vec<String> = list.iter().map(|d| d["status"]["errorCode"].to_string()).collect();
            assert_eq!(column(&headers, &rows, "Sign-in error code"), codes);
            if query.starts_with("$select") {
                assert_eq!(headers, ["Request ID", "User", "Status", "Sign-in error code", "Failure reason"]);
            } else {
                assert_eq!(headers[..4], ["Date (UTC)", "Request ID", "User agent", "Correlation ID"]);
                assert_eq!(column(&headers, &rows, "Location")[0], "Redmond, Washington, US");
            }
        }

        // `$top` caps an export at any number of rows, beyond a page's maximum too.
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=ndjson&$top=6"), &admin, None).await;
        assert_eq!(parse_ndjson(&text).len(), 6);
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv&$top=5000"), &admin, None).await;
        assert_eq!(parse_csv(&text).1.len(), 23);
        // An empty result is a header alone, an empty array, a trailer alone.
        let none = format!("$filter={}", encode("userId eq 'nobody'"));
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv&{none}"), &admin, None).await;
        assert_eq!(text.lines().count(), 1);
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=json&{none}"), &admin, None).await;
        assert_eq!(text, "[]");
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=ndjson&{none}"), &admin, None).await;
        assert!(parse_ndjson(&text).is_empty());
    })
    .await;
}

#[actix_web::test]
async fn exports_keep_scope_masks_omissions_and_retention() {
    each_backend(|app| async move {
        let app = with_page_rows(app, 3);
        let docs = seed(&app, 12).await;

        // A plain user: own sign-ins only, and no Conditional Access details.
        let user = user_token(TENANT_A, USER_OID);
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=ndjson"), &user, None).await;
        let own = parse_ndjson(&text);
        assert_eq!(own.len(), 4);
        assert!(own.iter().all(|d| d["userId"] == USER_OID && d.get("appliedConditionalAccessPolicies").is_none()));
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &user, None).await;
        let (headers, rows) = parse_csv(&text);
        assert_eq!(rows.len(), 4);
        assert!(!headers.iter().any(|h| h == "Conditional Access policies"), "{headers:?}");
        let admin = admin_token(TENANT_A);
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &admin, None).await;
        let (headers, rows) = parse_csv(&text);
        assert_eq!(column(&headers, &rows, "Conditional Access policies")[0], "SharePoint limited access");
        // ...nor filter on them.
        let ca = format!("$filter={}", encode("appliedConditionalAccessPolicies/any(p: p/result eq 'success')"));
        let (s, _, _) = app
            .send(
                test::TestRequest::get()
                    .uri(&format!("{SIGN_INS}?$format=csv&{ca}"))
                    .insert_header(("Authorization", format!("Bearer {user}"))),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // A P1 tenant reads the premium risk fields as `hidden`.
        let (s, b) = app.ingest(&ingest_token(TENANT_B), &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let p1 = admin_token(TENANT_B);
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=ndjson"), &p1, None).await;
        let masked = parse_ndjson(&text);
        assert_eq!(masked.len(), 12);
        assert!(masked.iter().all(|d| d["riskDetail"] == "hidden" && d["riskLevelAggregated"] == "hidden"));
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &p1, None).await;
        let (headers, rows) = parse_csv(&text);
        assert!(column(&headers, &rows, "Risk detail").iter().all(|v| *v == "hidden"));
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &admin, None).await;
        let (headers, rows) = parse_csv(&text);
        assert!(column(&headers, &rows, "Risk detail").iter().all(|v| *v == "none"));

        // Retention: 30 days on P2; rows that age past it leave the export.
        let now = app.now();
        let old: Vec<Value> = (100..103).map(|i| sign_in_doc(i, now - Duration::days(29), ADMIN_OID)).collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &old).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &admin, None).await;
        assert_eq!(parse_csv(&text).1.len(), 15);
        app.clock.advance(Duration::days(2));
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &admin, None).await;
        assert_eq!(parse_csv(&text).1.len(), 12);
    })
    .await;
}

#[actix_web::test]
async fn csv_neutralises_formulas_and_quotes_like_rfc_4180() {
    each_backend(|app| async move {
        let now = app.now();
        let mut evil = sign_in_doc(1, now - Duration::minutes(1), ADMIN_OID);
        evil["userDisplayName"] = json!("=HYPERLINK(\"http://evil.example\",\"x\")");
        evil["appDisplayName"] = json!("@SUM(1+1)");
        evil["userAgent"] = json!("Mozilla, \"quoted\"\r\nsecond line");
        let mut plain = sign_in_doc(2, now - Duration::minutes(2), ADMIN_OID);
        plain["userDisplayName"] = json!("Zoë -- ok");
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &[evil, plain]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (_, _, text) = fetch(&app, &format!("{SIGN_INS}?$format=csv"), &admin_token(TENANT_A), None).await;
        let (headers, rows) = parse_csv(&text);
        assert_eq!(column(&headers, &rows, "User"), ["'=HYPERLINK(\"http://evil.example\",\"x\")", "Zoë -- ok"]);
        assert_eq!(column(&headers, &rows, "Application")[0], "'@SUM(1+1)");
        assert_eq!(column(&headers, &rows, "User agent")[0], "Mozilla, \"quoted\"\r\nsecond line");
        assert!(text.contains("\"Mozilla, \"\"quoted\"\"\r\nsecond line\""), "{text}");
    })
    .await;
}

#[actix_web::test]
async fn export_errors_before_the_first_row_are_graph_errors() {
    each_backend(|app| async move {
        seed(&app, 3).await;
        let admin = admin_token(TENANT_A);
        for (uri, token, status) in [
            (format!("{SIGN_INS}?$format=xml"), admin.clone(), StatusCode::BAD_REQUEST),
            (format!("{SIGN_INS}?$format=csv&$filter=nope%20eq%201"), admin.clone(), StatusCode::BAD_REQUEST),
            (format!("{SIGN_INS}?$format=csv&$skiptoken=abc"), admin.clone(), StatusCode::BAD_REQUEST),
            (format!("{SIGN_INS}?$format=csv&$count=true"), admin.clone(), StatusCode::BAD_REQUEST),
            (format!("{SIGN_INS}?$format=csv"), "not-a-token".into(), StatusCode::UNAUTHORIZED),
            (
                "/v1.0/auditLogs/directoryAudits?$format=csv".into(),
                user_token(TENANT_A, USER_OID),
                StatusCode::FORBIDDEN,
            ),
            (
                "/v1.0/identityProtection/riskyUsers/nobody/history?$format=csv".into(),
                app_token(TENANT_A, &["IdentityRiskyUser.Read.All"]),
                StatusCode::NOT_FOUND,
            ),
        ] {
            let (s, _, body) = app
                .send(test::TestRequest::get().uri(&uri).insert_header(("Authorization", format!("Bearer {token}"))))
                .await;
            assert_eq!(s, status, "{uri}: {body}");
            assert!(
                body["error"]["code"].is_string() && body["error"]["innerError"]["request-id"].is_string(),
                "{body}"
            );
        }
        // `$top` past a page's maximum is still refused on the list itself.
        let (s, _) = app.get(&format!("{SIGN_INS}?$top=5000"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    })
    .await;
}

/// Polls the next chunk of a response body.
async fn next_chunk<B: MessageBody + Unpin>(body: &mut B) -> Option<Result<actix_web::web::Bytes, String>> {
    std::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await.map(|r| r.map_err(|e| e.into().to_string()))
}

#[actix_web::test]
async fn a_client_that_goes_away_releases_the_connection() {
    each_backend(|app| async move {
        let app = with_page_rows(app, 2);
        seed(&app, 60).await;
        let svc = test::init_service(api::app(app.state.clone())).await;
        let req = test::TestRequest::get()
            .uri(&format!("{SIGN_INS}?$format=csv"))
            .insert_header(("Authorization", format!("Bearer {}", admin_token(TENANT_A))))
            .to_request();
        let res = test::call_service(&svc, req).await;
        assert_eq!(res.status(), StatusCode::OK);
        let mut body = res.into_body();
        let first = next_chunk(&mut body).await.unwrap().unwrap();
        assert!(first.starts_with(b"Date (UTC),Request ID"));
        drop(body);
        // The reader stops at its next send; every connection is back in the pool.
        let (connections, _) = app.store.pool_state();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (now_connections, idle) = app.store.pool_state();
            if idle == now_connections {
                assert_eq!(now_connections, connections);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "connections still out: {idle} of {now_connections} idle");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // And the app still answers.
        let (s, _) = app.get(&format!("{SIGN_INS}?$top=1"), &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}

/// Drops `table` (a real failure of every later statement) once the first chunk has arrived, and
/// returns the body read until the stream ended, and whether it ended with an error.
async fn export_broken_midway(app: &TestApp, uri: &str, table: &str) -> (String, bool) {
    let svc = test::init_service(api::app(app.state.clone())).await;
    let req = test::TestRequest::get()
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {}", admin_token(TENANT_A))))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = res.into_body();
    let mut text = String::from_utf8(next_chunk(&mut body).await.unwrap().unwrap().to_vec()).unwrap();
    let mut conn = app.connection();
    let cascade = if app.store.backend() == storage::Backend::Postgres { " CASCADE" } else { "" };
    diesel::connection::SimpleConnection::batch_execute(&mut conn, &format!("DROP TABLE {table}{cascade}")).unwrap();
    while let Some(chunk) = next_chunk(&mut body).await {
        match chunk {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => return (text, true),
        }
    }
    (text, false)
}

#[actix_web::test]
async fn a_failure_midway_leaves_a_visibly_incomplete_body() {
    each_backend(|app| async move {
        let app = with_page_rows(app, 2);
        seed(&app, 60).await;
        // Every row matches; the filter makes each page read the risk-event-type table too.
        let lambda = encode("not riskEventTypes_v2/any(t: t eq 'unfamiliarFeatures')");
        let (text, failed) = export_broken_midway(
            &app,
            &format!("{SIGN_INS}?$format=json&$filter={lambda}"),
            "sign_in_risk_event_types",
        )
        .await;
        assert!(failed, "the stream ended without an error: {text}");
        assert!(text.starts_with('[') && !text.ends_with(']'), "{text}");
        assert!(serde_json::from_str::<Value>(&text).is_err());

        let (text, failed) = export_broken_midway(&app, &format!("{SIGN_INS}?$format=ndjson"), "sign_ins").await;
        assert!(failed, "the stream ended without an error: {text}");
        assert!(!text.is_empty() && !text.contains("@idtrail.complete"), "{text}");
    })
    .await;
}
