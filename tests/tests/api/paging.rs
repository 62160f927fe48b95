//! Paging that can be trusted: keyset skiptokens, no duplicates or gaps while rows arrive,
//! clean ends, tampered and foreign tokens refused.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use chrono::Duration;
use serde_json::Value;

use crate::support::*;

fn path_of(next: &str) -> String {
    next.strip_prefix("https://idtrail.test").unwrap().to_owned()
}

#[actix_web::test]
async fn walking_pages_while_rows_arrive_sees_every_row_once_in_order() {
    each_backend(|app| async move {
        let now = app.now();
        let originals: Vec<Value> = (1..=30)
            .map(|n| sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap() * 3), USER_OID))
            .collect();
        app.ingest(&ingest_token(TENANT_A), &originals).await;
        let token = admin_token(TENANT_A);
        let mut seen = Vec::new();
        let mut path = "/v1.0/auditLogs/signIns?$top=7".to_owned();
        let mut extra = 1000;
        loop {
            let (s, b) = app.get(&path, &token).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let page = b["value"].as_array().unwrap();
            assert!(page.len() <= 7);
            seen.extend(page.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
            // New rows arrive between pages: newer ones, and late ones in the middle of the range.
            extra += 1;
            app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(extra, now + Duration::minutes(5), USER_OID)]).await;
            extra += 1;
            app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(extra, now - Duration::minutes(200), USER_OID)]).await;
            match b.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => {
                    assert!(next.contains("$top=7"), "{next}");
                    path = path_of(next);
                }
                None => break,
            }
        }
        let original_ids: Vec<String> = originals.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
        let walked: Vec<&String> = seen.iter().filter(|id| original_ids.contains(id)).collect();
        assert_eq!(walked.len(), 30, "every original row exactly once");
        assert_eq!(walked, original_ids.iter().collect::<Vec<_>>(), "in order, newest first");
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicates");
    })
    .await;
}

#[actix_web::test]
async fn an_exact_multiple_of_top_ends_cleanly() {
    each_backend(|app| async move {
        let now = app.now();
        let docs: Vec<Value> =
            (1..=14).map(|n| sign_in_doc(n, now - Duration::seconds(i64::try_from(n).unwrap()), USER_OID)).collect();
        app.ingest(&ingest_token(TENANT_A), &docs).await;
        let token = admin_token(TENANT_A);
        let (_, b) = app.get("/v1.0/auditLogs/signIns?$top=7", &token).await;
        let next = path_of(b["@odata.nextLink"].as_str().unwrap());
        let (s, b) = app.get(&next, &token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["value"].as_array().unwrap().len(), 7);
        assert!(b.get("@odata.nextLink").is_none(), "the last full page has no nextLink: {b}");
    })
    .await;
}

#[actix_web::test]
async fn next_links_repeat_every_option_and_default_top_is_added() {
    each_backend(|app| async move {
        let now = app.now();
        let docs: Vec<Value> =
            (1..=3).map(|n| sign_in_doc(n, now - Duration::seconds(i64::try_from(n).unwrap()), USER_OID)).collect();
        app.ingest(&ingest_token(TENANT_A), &docs).await;
        let (_, b) = app.get("/v1.0/auditLogs/signins?top=2&custom=a%20b", &admin_token(TENANT_A)).await;
        let next = b["@odata.nextLink"].as_str().unwrap();
        assert!(
            next.starts_with("https://idtrail.test/v1.0/auditLogs/signIns?$top=2&custom=a%20b&$skiptoken="),
            "{next}"
        );
    })
    .await;
}

#[actix_web::test]
async fn tampered_and_foreign_skiptokens_are_refused() {
    each_backend(|app| async move {
        let now = app.now();
        let docs: Vec<Value> =
            (1..=4).map(|n| sign_in_doc(n, now - Duration::seconds(i64::try_from(n).unwrap()), USER_OID)).collect();
        app.ingest(&ingest_token(TENANT_A), &docs).await;
        let (_, b) = app.get("/v1.0/auditLogs/signIns?$top=2", &admin_token(TENANT_A)).await;
        let next = path_of(b["@odata.nextLink"].as_str().unwrap());
        let (prefix, token) = next.split_once("$skiptoken=").unwrap();

        let mut chars: Vec<char> = token.chars().collect();
        chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        let (s, b) = app.get(&format!("{prefix}$skiptoken={tampered}"), &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["error"]["message"].as_str().unwrap().contains("$skiptoken"), "{b}");

        // Another caller (even in the same tenant), or another tenant, cannot replay it.
        let (s, _) = app.get(&next, &user_token(TENANT_A, USER_OID)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = app.get(&next, &admin_token(TENANT_B)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // The same token survives a restart: the key lives in the database.
        let app = app.restarted().await;
        let (s, b) = app.get(&next, &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"].as_array().unwrap().len(), 2);
    })
    .await;
}

/// Links name the host the client called: `public_url` when set, else the request's `Host`.
/// `Forwarded` and `X-Forwarded-*` count only from a peer in `trusted_proxies`, so a client cannot
/// point `@odata.nextLink` (and the token an SDK sends along it) at a host of its choosing.
#[actix_web::test]
async fn links_take_their_host_from_forwarded_headers_only_from_trusted_proxies() {
    use actix_web::test::TestRequest;
    let app = TestApp::with_config(sqlite_db(), |c| {
        c.public_url = None;
        c.trusted_proxies = vec!["10.0.0.0/8".into()];
    })
    .await;
    let now = app.now();
    let docs: Vec<Value> =
        (1..=3).map(|n| sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap()), USER_OID)).collect();
    app.ingest(&ingest_token(TENANT_A), &docs).await;
    let token = admin_token(TENANT_A);
    let next = |peer: &str, headers: &[(&str, &str)]| {
        let mut req = TestRequest::get()
            .uri("/v1.0/auditLogs/signIns?$top=1")
            .peer_addr(peer.parse().unwrap())
            .insert_header(("Host", "idtrail.internal:8080"))
            .insert_header(("Authorization", format!("Bearer {token}")));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        req
    };
    let untrusted = "203.0.113.9:50000";
    for headers in [
        vec![("X-Forwarded-Host", "evil.example")],
        vec![("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https")],
        vec![("Forwarded", "host=evil.example;proto=https")],
        vec![("X-Forwarded-Proto", "https")],
        vec![],
    ] {
        let (s, _, b) = app.send(next(untrusted, &headers)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let link = b["@odata.nextLink"].as_str().unwrap();
        assert!(link.starts_with("http://idtrail.internal:8080/v1.0/auditLogs/signIns?"), "{headers:?}: {link}");
        assert!(b["@odata.context"].as_str().unwrap().starts_with("http://idtrail.internal:8080/"), "{headers:?}");
    }
    // From a trusted proxy, its headers name the public scheme and host.
    let (_, _, b) = app
        .send(next("10.1.2.3:443", &[("X-Forwarded-Host", "idtrail.example.com"), ("X-Forwarded-Proto", "https")]))
        .await;
    assert!(b["@odata.nextLink"].as_str().unwrap().starts_with("https://idtrail.example.com/v1.0/"), "{b}");
    let (_, _, b) = app.send(next("10.1.2.3:443", &[("Forwarded", "host=idtrail.example.com;proto=https")])).await;
    assert!(b["@odata.nextLink"].as_str().unwrap().starts_with("https://idtrail.example.com/v1.0/"), "{b}");
    // A Host that is not a host is not used in a link.
    let (_, _, b) = app.send(next(untrusted, &[]).insert_header(("Host", "evil.example/x?"))).await;
    assert!(!b["@odata.nextLink"].as_str().unwrap().contains("evil.example"), "{b}");
    // public_url wins over everything.
    let configured = TestApp::with_config(sqlite_db(), |c| c.trusted_proxies = vec!["10.0.0.0/8".into()]).await;
    configured.ingest(&ingest_token(TENANT_A), &docs).await;
    let (_, _, b) = configured.send(next("10.1.2.3:443", &[("X-Forwarded-Host", "idtrail.example.com")])).await;
    assert!(b["@odata.nextLink"].as_str().unwrap().starts_with("https://idtrail.test/v1.0/"), "{b}");
}
