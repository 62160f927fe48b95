//! Rate limits per (tenant, client app) and endpoint family: the burst, then 429 with
//! `Retry-After` and Graph's envelope; `RateLimit-*` on every limited response.

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::TestRequest;
use api::auth::{Claims, sign_hs256};
use api::config::Config;
use serde_json::Value;

use crate::support::{
    TENANT_A, TENANT_B, TestApp, USER_OID, admin_token, app_token, ingest_token, sign, sign_in_doc, sqlite_db,
    user_claims, user_token,
};

const SIGN_INS: &str = "/v1.0/auditLogs/signIns";

/// The app with the rate-limit keys changed (and its buckets rebuilt from them).
async fn app_with(edit: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::with_config(sqlite_db(), edit).await
}

/// One request per minute after a burst of `burst` on every family.
fn limited(burst: u32) -> impl FnOnce(&mut Config) {
    move |c| {
        c.rate_limit_reports_per_minute = 1;
        c.rate_limit_reports_burst = burst;
        c.rate_limit_identity_protection_per_minute = 1;
        c.rate_limit_identity_protection_burst = burst;
        c.rate_limit_ingest_per_minute = 1;
        c.rate_limit_ingest_burst = burst;
    }
}

async fn get(app: &TestApp, path: &str, token: &str) -> (StatusCode, HeaderMap, Value) {
    app.send(TestRequest::get().uri(path).insert_header(("Authorization", format!("Bearer {token}")))).await
}

fn number(headers: &HeaderMap, name: &str) -> u64 {
    let value = headers.get(name).unwrap_or_else(|| panic!("no {name} header in {headers:?}"));
    value.to_str().unwrap().parse().unwrap_or_else(|_| panic!("{name} is not a number: {value:?}"))
}

/// A 429 as Graph sends it, with our headers.
fn assert_too_many(status: StatusCode, headers: &HeaderMap, body: &Value, limit: u64) {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry = number(headers, "retry-after");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(number(headers, "ratelimit-limit"), limit);
    assert_eq!(number(headers, "ratelimit-remaining"), 0);
    assert!(number(headers, "ratelimit-reset") >= retry);
    assert_eq!(body["error"]["code"], "TooManyRequests");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("retry after {retry} seconds")), "{message}");
    assert_eq!(body["error"]["innerError"]["request-id"], headers.get("request-id").unwrap().to_str().unwrap());
}

#[actix_web::test]
async fn requests_past_the_burst_get_429_with_the_headers() {
    let app = app_with(limited(3)).await;
    let token = admin_token(TENANT_A);
    for expected in [2, 1, 0] {
        let (s, h, b) = get(&app, SIGN_INS, &token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(number(&h, "ratelimit-limit"), 3);
        assert_eq!(number(&h, "ratelimit-remaining"), expected);
        assert!(number(&h, "ratelimit-reset") >= 1);
    }
    let (s, h, b) = get(&app, SIGN_INS, &token).await;
    assert_too_many(s, &h, &b, 3);
    // Case and version do not open another bucket.
    let (s, h, b) = get(&app, "/BETA/auditlogs/signins", &token).await;
    assert_too_many(s, &h, &b, 3);
}

#[actix_web::test]
async fn identity_protection_has_its_own_quota_and_its_429_has_retry_after() {
    let app = app_with(limited(1)).await;
    let token = admin_token(TENANT_A);
    let (s, h, _) = get(&app, "/v1.0/identityProtection/riskyUsers", &token).await;
    assert_ne!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(number(&h, "ratelimit-remaining"), 0);
    let (s, h, b) = get(&app, "/v1.0/identityProtection/riskDetections", &token).await;
    assert_too_many(s, &h, &b, 1);
    // The reports family is untouched.
    let (s, h, b) = get(&app, SIGN_INS, &token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(number(&h, "ratelimit-limit"), 1);
}

#[actix_web::test]
async fn each_tenant_and_client_app_has_its_own_bucket() {
    let app = app_with(limited(1)).await;
    let with_client =
        |tenant: &str, azp: &str| sign(&Claims { azp: Some(azp.into()), ..user_claims(tenant, USER_OID, &[]) });
    assert_eq!(get(&app, SIGN_INS, &admin_token(TENANT_A)).await.0, StatusCode::OK);
    let (s, h, b) = get(&app, SIGN_INS, &admin_token(TENANT_A)).await;
    assert_too_many(s, &h, &b, 1);
    // Another user of the same tenant through the same (unnamed) client app shares the bucket.
    let (s, h, b) = get(&app, SIGN_INS, &user_token(TENANT_A, USER_OID)).await;
    assert_too_many(s, &h, &b, 1);
    // Another tenant, or another client app of the same tenant: a bucket of its own.
    for token in [
        admin_token(TENANT_B),
        app_token(TENANT_A, &["AuditLog.Read.All"]),
        with_client(TENANT_A, "55555555-5555-4555-8555-555555555555"),
    ] {
        let (s, h, b) = get(&app, SIGN_INS, &token).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(number(&h, "ratelimit-remaining"), 0);
    }
    let (s, h, b) = get(&app, SIGN_INS, &with_client(TENANT_A, "55555555-5555-4555-8555-555555555555")).await;
    assert_too_many(s, &h, &b, 1);
}

#[actix_web::test]
async fn invalid_tokens_spend_the_peer_address_quota_not_the_tenant_one() {
    let app = app_with(limited(2)).await;
    // Claims of tenant A, signed with another key.
    let forged =
        sign_hs256(b"not-the-secret-not-the-secret-not-the-secret", &user_claims(TENANT_A, USER_OID, &[])).unwrap();
    let from = |ip: &str, token: &str| {
        TestRequest::get()
            .uri(SIGN_INS)
            .peer_addr(format!("{ip}:50000").parse().unwrap())
            .insert_header(("Authorization", format!("Bearer {token}")))
    };
    for expected in [1, 0] {
        let (s, h, b) = app.send(from("192.0.2.1", &forged)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
        assert_eq!(number(&h, "ratelimit-remaining"), expected, "errors carry the headers too");
    }
    let (s, h, b) = app.send(from("192.0.2.1", &forged)).await;
    assert_too_many(s, &h, &b, 2);
    // No token at all: the same address, the same bucket.
    let (s, h, b) = app.send(TestRequest::get().uri(SIGN_INS).peer_addr("192.0.2.1:50001".parse().unwrap())).await;
    assert_too_many(s, &h, &b, 2);
    // Tenant A's own quota is untouched; another address has its own.
    let (s, h, _) = app.send(from("192.0.2.1", &admin_token(TENANT_A))).await;
    assert_eq!((s, number(&h, "ratelimit-remaining")), (StatusCode::OK, 1));
    assert_eq!(app.send(from("192.0.2.2", &forged)).await.0, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn ingest_has_its_own_bucket() {
    let app = app_with(|c| {
        limited(1)(c);
        c.rate_limit_ingest_burst = 2;
    })
    .await;
    let token = ingest_token(TENANT_A);
    let (s, h, b) = get(&app, SIGN_INS, &app_token(TENANT_A, &["AuditLog.Read.All", "IdTrail.Ingest"])).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(number(&h, "ratelimit-limit"), 1);
    let post = || {
        let doc = sign_in_doc(1, app.now(), USER_OID);
        TestRequest::post()
            .uri("/ingest/signIns")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/x-ndjson"))
            .set_payload(format!("{doc}\n"))
    };
    for expected in [1, 0] {
        let (s, h, b) = app.send(post()).await;
        assert!(s.is_success(), "{s} {b}");
        assert_eq!(number(&h, "ratelimit-limit"), 2);
        assert_eq!(number(&h, "ratelimit-remaining"), expected);
    }
    let (s, h, b) = app.send(post()).await;
    assert_too_many(s, &h, &b, 2);
}

#[actix_web::test]
async fn health_is_not_limited() {
    let app = app_with(limited(1)).await;
    for _ in 0..5 {
        for path in ["/healthz", "/readyz"] {
            let (s, h, b) = app.send(TestRequest::get().uri(path)).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert!(h.get("ratelimit-limit").is_none());
        }
    }
}

#[actix_web::test]
async fn disabled_limits_never_refuse() {
    let app = app_with(|c| {
        limited(1)(c);
        c.rate_limit_enabled = false;
    })
    .await;
    for _ in 0..5 {
        let (s, h, b) = get(&app, SIGN_INS, &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(h.get("ratelimit-limit").is_none());
    }
}

#[actix_web::test]
async fn the_defaults_are_generous() {
    let c = Config::default();
    assert!(c.rate_limit_enabled);
    assert!(c.rate_limit_reports_burst >= 100 && c.rate_limit_reports_per_minute >= 600);
    assert!(c.rate_limit_identity_protection_burst >= 100 && c.rate_limit_ingest_burst >= 30);
    let app = TestApp::new(sqlite_db()).await;
    let (s, h, b) = get(&app, SIGN_INS, &admin_token(TENANT_A)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(number(&h, "ratelimit-limit"), u64::from(c.rate_limit_reports_burst));
}

/// Every spelling of a route spends the same bucket as the plain one: the limiter and the router
/// see one normalised path (percent-escapes, doubled slashes, dot segments, a trailing slash,
/// case). A spelling no route takes (an escaped `/`) is refused with 400.
#[actix_web::test]
async fn every_spelling_of_a_route_is_limited_like_the_route() {
    let app = app_with(limited(1)).await;
    let admin = admin_token(TENANT_A);
    let routes: &[(&str, &str)] = &[
        ("/v1.0/auditLogs/signIns", "reports"),
        ("/v1.0/auditLogs/signIns/$count", "reports"),
        ("/beta/auditLogs/directoryAudits", "reports"),
        ("/v1.0/auditLogs/signIns/66ea54eb-6301-4ee5-be62-ff5a759b0100", "reports"),
        ("/v1.0/identityProtection/riskDetections", "identityProtection"),
        ("/v1.0/identityProtection/riskyUsers", "identityProtection"),
        ("/v1.0/identityProtection/riskyUsers/66ea54eb-6301-4ee5-be62-ff5a759b0100/history", "identityProtection"),
    ];
    // Spend each family's one request with the plain spelling (answered, whatever the answer).
    for path in ["/v1.0/auditLogs/signIns", "/v1.0/identityProtection/riskyUsers"] {
        let (s, h, b) = get(&app, path, &admin).await;
        assert_ne!(s, StatusCode::TOO_MANY_REQUESTS, "{path}: {b}");
        assert_eq!(number(&h, "ratelimit-remaining"), 0, "{path}");
    }
    let spellings = |path: &str| -> Vec<String> {
        vec![
            path.to_owned(),
            path.replacen("v1.0", "v1%2E0", 1).replacen("beta", "%62eta", 1),
            path.replace('$', "%24"),
            path.replacen("/auditLogs", "//auditLogs", 1).replacen("/identityProtection", "//identityProtection", 1),
            format!("{path}/"),
            path.to_uppercase().replace("V1.0", "v1.0"),
            path.replacen("/auditLogs", "/./auditLogs", 1).replacen(
                "/identityProtection",
                "/x/../identityProtection",
                1,
            ),
        ]
    };
    for (route, family) in routes {
        for p in spellings(route) {
            let (s, h, b) = get(&app, &p, &admin).await;
            assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{p} ({family}) was not limited: {b}");
            assert_eq!(number(&h, "ratelimit-remaining"), 0, "{p}");
        }
    }
    // Ingest: the plain route spends the bucket, the spellings find it empty.
    let ingest = ingest_token(TENANT_A);
    let doc = sign_in_doc(1, app.now(), USER_OID);
    let post = |path: &str| {
        TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {ingest}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(serde_json::to_vec(&vec![doc.clone()]).unwrap())
    };
    let (s, _, b) = app.send(post("/ingest/signIns")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for p in ["/%69ngest/signIns", "/INGEST/SIGNINS", "/ingest//signIns/", "/x/../ingest/signIns"] {
        let (s, _, b) = app.send(post(p)).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{p} was not limited: {b}");
    }
    for p in ["/v1.0/auditLogs%2FsignIns", "/v1.0/auditLogs/signIns%00"] {
        let (s, _, b) = get(&app, p, &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{p}: {b}");
        assert_eq!(b["error"]["code"], "BadRequest", "{p}");
    }
}
