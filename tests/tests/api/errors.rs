//! Every error is Graph's envelope, with request ids, the right status and a message that names
//! what was wrong.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;

use crate::support::*;

#[actix_web::test]
async fn errors_carry_the_envelope_and_request_ids() {
    let app = TestApp::new(sqlite_db()).await;
    let req = TestRequest::get()
        .uri("/v1.0/auditLogs/signIns?$top=0")
        .insert_header(("Authorization", format!("Bearer {}", admin_token(TENANT_A))))
        .insert_header(("client-request-id", "my-correlation-1"));
    let (s, h, b) = app.send(req).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let error = &b["error"];
    assert_eq!(error["code"], "BadRequest");
    assert!(error["message"].as_str().unwrap().contains("$top"));
    let inner = &error["innerError"];
    assert_eq!(inner["client-request-id"], "my-correlation-1");
    assert_eq!(h.get("client-request-id").unwrap(), "my-correlation-1");
    assert_eq!(inner["request-id"].as_str().unwrap(), h.get("request-id").unwrap().to_str().unwrap());
    let date = inner["date"].as_str().unwrap();
    assert!(chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%dT%H:%M:%S").is_ok(), "{date}");

    // Without a client id, both ids are ours and equal.
    let (_, h, b) = app.send(TestRequest::get().uri("/v1.0/auditLogs/signIns")).await;
    assert_eq!(b["error"]["innerError"]["request-id"], b["error"]["innerError"]["client-request-id"]);
    assert!(domain::ids::is_guid(h.get("request-id").unwrap().to_str().unwrap()));
}

#[actix_web::test]
async fn query_options_are_refused_by_name() {
    let app = TestApp::new(sqlite_db()).await;
    let token = admin_token(TENANT_A);
    let cases = [
        ("$top=1001", "$top"),
        ("$top=abc", "$top"),
        ("$top=-1", "$top"),
        ("$skip=10", "$skiptoken"),
        ("$top=1&$top=2", "more than once"),
        ("$bogus=1", "$bogus"),
        ("$expand=x", "$expand"),
        ("$filter=userId%20eq%20", "$filter"),
        ("$orderby=nope", "$orderby"),
        ("$count=maybe", "$count"),
        ("$select=nope", "$select"),
        ("$skiptoken=abc", "$skiptoken"),
        ("$skiptoken=", "$skiptoken"),
    ];
    for (q, needle) in cases {
        let (s, b) = app.get(&format!("/v1.0/auditLogs/signIns?{q}"), &token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
        assert!(b["error"]["message"].as_str().unwrap().contains(needle), "{q}: {b}");
    }
}

#[actix_web::test]
async fn unknown_paths_and_methods() {
    let app = TestApp::new(sqlite_db()).await;
    let token = admin_token(TENANT_A);
    let (s, b) = app.get("/v1.0/auditLogs/nothingHere", &token).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["error"]["code"], "Request_ResourceNotFound");
    let (s, _, b) = app
        .send(
            TestRequest::delete()
                .uri("/v1.0/auditLogs/signIns")
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{b}");
    assert_eq!(b["error"]["code"], "MethodNotAllowed");
}

#[actix_web::test]
async fn health_and_readiness() {
    each_backend(|app| async move {
        let (s, _, b) = app.send(TestRequest::get().uri("/healthz")).await;
        assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("ok")));
        let (s, _, b) = app.send(TestRequest::get().uri("/readyz")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["database"], app.db.backend);
    })
    .await;
}
