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

/// Graph takes any `client-request-id` (its SDKs send a GUID) and never fails a request over it: one
/// idtrail cannot echo (empty, over 128 characters, anything but visible ASCII) is replaced by the
/// request-id in the response header and the envelope, as if none was sent.
#[actix_web::test]
async fn client_request_ids_that_cannot_be_echoed_are_replaced_not_refused() {
    let app = TestApp::new(sqlite_db()).await;
    let token = admin_token(TENANT_A);
    let longest = "a".repeat(128);
    let send = |uri: &'static str, id: String| {
        TestRequest::get()
            .uri(uri)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("client-request-id", id))
    };
    let (s, h, _) = app.send(send("/v1.0/auditLogs/signIns?$top=1", longest.clone())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get("client-request-id").unwrap().to_str().unwrap(), longest);

    for id in ["a".repeat(129), "two words".to_owned(), String::new()] {
        let (s, h, b) = app.send(send("/v1.0/auditLogs/signIns?$top=1", id.clone())).await;
        assert_eq!(s, StatusCode::OK, "{id:?}: {b}");
        assert_eq!(h.get("client-request-id"), h.get("request-id"), "{id:?}");

        let (s, h, b) = app.send(send("/v1.0/auditLogs/signIns?$top=0", id.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{id:?}: {b}");
        let request_id = h.get("request-id").unwrap().to_str().unwrap();
        assert_eq!(h.get("client-request-id").unwrap().to_str().unwrap(), request_id, "{id:?}");
        assert_eq!(b["error"]["innerError"]["client-request-id"], request_id, "{id:?}");
    }
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

    // Every 405 names the methods the resource takes in `Allow` (RFC 9110).
    let cases = [
        (TestRequest::delete(), "/v1.0/auditLogs/signIns", "GET"),
        (TestRequest::put(), "/beta/auditLogs/directoryAudits/$count", "GET"),
        (TestRequest::patch(), "/v1.0/auditLogs/signIns/some-id", "GET"),
        (TestRequest::post(), "/v1.0/identityProtection/riskyUsers/some-id", "GET"),
        (TestRequest::put(), "/v1.0/identityProtection/riskyUsers/dismiss", "POST"),
        (TestRequest::delete(), "/beta/identityProtection/riskyUsers/confirmCompromised", "POST"),
        (TestRequest::delete(), "/v1.0/identityProtection/riskyUsers/some-id/history", "GET"),
        (TestRequest::get(), "/ingest/signIns", "POST"),
        (TestRequest::post(), "/idtrail/tenant", "GET"),
        (TestRequest::post(), "/healthz", "GET"),
        (TestRequest::delete(), "/readyz", "GET"),
    ];
    for (req, uri, allow) in cases {
        let req = req.uri(uri).insert_header(("Authorization", format!("Bearer {token}")));
        let (s, h, b) = app.send(req).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{uri}: {b}");
        assert_eq!(b["error"]["code"], "MethodNotAllowed", "{uri}: {b}");
        assert_eq!(h.get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{uri}");
    }
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
