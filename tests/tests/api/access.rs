//! Tokens: anything but a valid one for a configured audience is 401 with `WWW-Authenticate`.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::support::*;

fn b64(v: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[actix_web::test]
async fn bad_tokens_are_401_with_a_bearer_challenge() {
    let app = TestApp::new(sqlite_db()).await;
    let now = chrono::Utc::now().timestamp();
    let good = user_claims(TENANT_A, ADMIN_OID, &[GLOBAL_ADMIN]);
    let expired = api::auth::Claims { exp: now - 3600, ..good.clone() };
    let not_yet = api::auth::Claims { nbf: Some(now + 3600), ..good.clone() };
    let wrong_aud = api::auth::Claims { aud: Some("api://someone-else".into()), ..good.clone() };
    let Some(api::auth::Audience::One(ours)) = good.aud.clone() else { panic!("one audience") };
    let wrong_auds = api::auth::Claims {
        aud: Some(api::auth::Audience::Many(vec!["api://a".into(), "api://b".into()])),
        ..good.clone()
    };
    let no_auds = api::auth::Claims { aud: Some(api::auth::Audience::Many(vec![])), ..good.clone() };
    let no_tid = api::auth::Claims { tid: None, ..good.clone() };
    let bad_tid = api::auth::Claims { tid: Some("contoso".into()), ..good.clone() };
    let other_secret = api::auth::sign_hs256(b"another-secret-another-secret-another", &good).unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(&serde_json::to_value(&good).unwrap())
    );
    let huge = "a".repeat(1024 * 1024);
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("garbage", Some("Bearer not.a.token".into())),
        ("not bearer", Some(format!("Basic {}", sign(&good)))),
        ("empty bearer", Some("Bearer ".into())),
        ("expired", Some(format!("Bearer {}", sign(&expired)))),
        ("not yet valid", Some(format!("Bearer {}", sign(&not_yet)))),
        ("wrong audience", Some(format!("Bearer {}", sign(&wrong_aud)))),
        ("no listed audience is ours", Some(format!("Bearer {}", sign(&wrong_auds)))),
        ("an empty audience list", Some(format!("Bearer {}", sign(&no_auds)))),
        ("no tid", Some(format!("Bearer {}", sign(&no_tid)))),
        ("tid not a guid", Some(format!("Bearer {}", sign(&bad_tid)))),
        ("other secret", Some(format!("Bearer {other_secret}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("1 MB token", Some(format!("Bearer {huge}"))),
    ];
    for (name, header) in cases {
        let mut req = TestRequest::get().uri("/v1.0/auditLogs/signIns");
        if let Some(h) = header {
            req = req.insert_header(("Authorization", h));
        }
        let (s, h, b) = app.send(req).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{name}: {b}");
        assert!(h.get("www-authenticate").unwrap().to_str().unwrap().starts_with("Bearer"), "{name}");
        assert_eq!(b["error"]["code"], "InvalidAuthenticationToken", "{name}");
    }
    let (s, _) = app.get("/v1.0/auditLogs/signIns", &sign(&good)).await;
    assert_eq!(s, StatusCode::OK);
    // RFC 7519 allows `aud` as an array: accepted when one of its audiences is ours.
    let listed = api::auth::Claims {
        aud: Some(api::auth::Audience::Many(vec!["api://someone-else".into(), ours])),
        ..good.clone()
    };
    let (s, b) = app.get("/v1.0/auditLogs/signIns", &sign(&listed)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[actix_web::test]
async fn apps_need_audit_log_read_all() {
    let app = TestApp::new(sqlite_db()).await;
    let (s, b) = app.get("/v1.0/auditLogs/signIns", &app_token(TENANT_A, &["Something.Else"])).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["error"]["code"], "Authentication_MSGraphPermissionMissing");
    let (s, _) = app.get("/v1.0/auditLogs/signIns", &app_token(TENANT_A, &["AuditLog.Read.All"])).await;
    assert_eq!(s, StatusCode::OK);
}
