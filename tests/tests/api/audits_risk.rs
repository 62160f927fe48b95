//! Directory audits, risk detections and risky users over HTTP on both backends: documents read
//! back exactly, idempotent and all-or-nothing ingest, every documented example filter, paging,
//! the risky-user history, and the dismiss / confirmCompromised actions with their audit trail.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use api::auth::Claims;
use chrono::{DateTime, Duration, Utc};
use domain::actions::RiskyUserAction;
use domain::ids::{Guid, TenantId, derived_guid};
use domain::principal::{DirectoryRole, Principal, Subject};
use serde_json::{Value, json};

use crate::support::*;

const BASE: &str = "https://idtrail.test";
pub const AUDITS: &str = "/v1.0/auditLogs/directoryAudits";
pub const DETECTIONS: &str = "/v1.0/identityProtection/riskDetections";
pub const RISKY: &str = "/v1.0/identityProtection/riskyUsers";
/// The `azp` of [`app_token`].
const APP_ID: &str = "44444444-4444-4444-8444-444444444444";

/// A timestamp as Graph writes it (7 fractional digits, `Z`).
pub fn ts(at: DateTime<Utc>) -> String {
    domain::time::format_ticks(domain::time::to_ticks(at))
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A complete v1.0 directory audit (`docs/graph-notes.md` §2.2, with `type` spelled right), plus
/// the beta-only `userAgent`.
pub fn audit_doc(n: u64, at: DateTime<Utc>) -> Value {
    json!({
        "id": format!("Directory_{}_8IAPT_{}", guid(n), 617_717_000 + n),
        "category": "UserManagement",
        "correlationId": guid(n + 2_000_000),
        "result": "success",
        "resultReason": "Successfully added member to group",
        "activityDisplayName": "Add member to group",
        "activityDateTime": ts(at),
        "loggedByService": "Core Directory",
        "operationType": "Assign",
        "initiatedBy": {
            "user": {"id": "728309ae-1a37-4937-9afe-e35d964db09b", "displayName": "Audry Oliver",
                     "userPrincipalName": "bob@wingtiptoysonline.com", "ipAddress": "127.0.0.1"},
            "app": null
        },
        "targetResources": [
            {"id": "ef7e527d-6c92-4234-8c6d-cf6fdfb57f95", "displayName": "Example.com", "type": "Group",
             "modifiedProperties": [{"displayName": "Action Client Name", "oldValue": null, "newValue": "DirectorySync"}],
             "groupType": "unifiedGroups", "userPrincipalName": null},
            {"id": "1f0e98f5-3161-4c6b-9b50-d488572f2bb7", "displayName": null, "type": "User", "modifiedProperties": [],
             "userPrincipalName": "bob@contoso.com", "groupType": null}
        ],
        "additionalDetails": [{"key": "Additional Detail Name", "value": "Additional Detail Value"}],
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
    })
}

/// A complete v1.0 risk detection (`docs/graph-notes.md` §3.3, the tutorial's), plus the beta-only
/// `riskType` and `mitreTechniqueId`. Its time is `detectedDateTime`.
pub fn detection_doc(n: u64, at: DateTime<Utc>, event: &str, level: &str, user_name: &str) -> Value {
    json!({
        "id": format!("{n:064x}"),
        "requestId": guid(n + 5_000_000),
        "correlationId": guid(n + 6_000_000),
        "riskType": event,
        "riskEventType": event,
        "riskState": "atRisk",
        "riskLevel": level,
        "riskDetail": "none",
        "source": "IdentityProtection",
        "detectionTimingType": "realtime",
        "activity": "signin",
        "tokenIssuerType": "AzureAD",
        "ipAddress": "178.17.170.23",
        "activityDateTime": ts(at - Duration::minutes(2)),
        "detectedDateTime": ts(at),
        "lastUpdatedDateTime": ts(at - Duration::minutes(1)),
        "userId": "4628e7df-dff3-407c-a08f-75f08c0806dc",
        "userDisplayName": user_name,
        "userPrincipalName": "MyTestUser1@contoso.com",
        "additionalInfo": "[{\"Key\":\"userAgent\",\"Value\":\"Mozilla/5.0 (Windows NT 10.0; rv:78.0) Gecko/20100101 Firefox/78.0\"}]",
        "location": {"city": "Chisinau", "state": "Chisinau", "countryOrRegion": "MD",
                     "geoCoordinates": {"latitude": 47.0269, "longitude": 28.8416}},
        "mitreTechniqueId": "T1078"
    })
}

/// A complete v1.0 risky user (`docs/graph-notes.md` §3.1), plus the beta-example `isGuest`.
pub fn risky_user_doc(id: &str, at: DateTime<Utc>, state: &str, level: &str, detail: &str, name: &str) -> Value {
    json!({
        "id": id,
        "riskLastUpdatedDateTime": ts(at),
        "isProcessing": false,
        "isDeleted": false,
        "riskDetail": detail,
        "riskLevel": level,
        "riskState": state,
        "userDisplayName": name,
        "userPrincipalName": format!("{}@contoso.com", name.to_lowercase().replace(' ', "")),
        "isGuest": false
    })
}

/// `POST /ingest/{kind}` with an ingest token of `tenant`.
pub async fn ingest_kind(app: &TestApp, kind: &str, tenant: &str, docs: &[Value]) -> (StatusCode, Value) {
    let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let (s, _, b) = app
        .send(
            TestRequest::post()
                .uri(&format!("/ingest/{kind}"))
                .insert_header(("Authorization", format!("Bearer {}", ingest_token(tenant))))
                .insert_header(("Content-Type", "application/x-ndjson"))
                .set_payload(body),
        )
        .await;
    (s, b)
}

/// `POST` an action body with a content type.
pub async fn post_action(
    app: &TestApp,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = TestRequest::post().uri(path).insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(ct) = content_type {
        req = req.insert_header(("Content-Type", ct));
    }
    let (s, _, b) = app.send(req.set_payload(body.to_owned())).await;
    (s, b)
}

pub async fn dismiss(app: &TestApp, token: &str, ids: &[&str]) -> (StatusCode, Value) {
    post_action(app, &format!("{RISKY}/dismiss"), token, Some("application/json"), &json!({"userIds": ids}).to_string())
        .await
}

pub async fn confirm(app: &TestApp, token: &str, ids: &[&str]) -> (StatusCode, Value) {
    post_action(
        app,
        &format!("{RISKY}/confirmCompromised"),
        token,
        Some("application/json"),
        &json!({"userIds": ids}).to_string(),
    )
    .await
}

/// A delegated token of `oid` in `tenant` with `roles` (by `wids`) and the space-separated `scp`.
pub fn delegated(tenant: &str, oid: &str, roles: &[DirectoryRole], scp: &str) -> String {
    let wids: Vec<&str> = roles.iter().map(|r| r.template_id()).collect();
    sign(&Claims { scp: Some(scp.into()), ..user_claims(tenant, oid, &wids) })
}

/// Every scope the new endpoints take, for an administrator that may do everything.
pub const ALL_SCOPES: &str =
    "AuditLog.Read.All Directory.Read.All IdentityRiskEvent.Read.All IdentityRiskyUser.ReadWrite.All";

/// A Global Administrator of `tenant` with every scope.
pub fn risk_admin(tenant: &str) -> String {
    delegated(tenant, ADMIN_OID, &[DirectoryRole::GlobalAdministrator], ALL_SCOPES)
}

pub fn ids(body: &Value) -> Vec<String> {
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no value in {body}"))
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id_set(body: &Value) -> BTreeSet<String> {
    ids(body).into_iter().collect()
}

/// Removes `@odata.*` / `@idtrail.*` annotations from an entity body.
fn bare(v: &Value) -> Value {
    let mut m = as_map(v);
    m.retain(|k, _| !k.starts_with('@'));
    Value::Object(m)
}

fn without(doc: &Value, keys: &[&str]) -> Value {
    let mut m = as_map(doc);
    for k in keys {
        m.remove(*k);
    }
    Value::Object(m)
}

fn path_of(link: &str) -> String {
    link.trim_start_matches(BASE).to_owned()
}

/// Follows `@odata.nextLink` from `path`, returning every document in order and the page sizes.
pub async fn walk(app: &TestApp, path: &str, token: &str) -> (Vec<Value>, Vec<usize>) {
    let mut docs = Vec::new();
    let mut sizes = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(p) = next {
        let (s, b) = app.get_as_stored(&p, token).await;
        assert_eq!(s, StatusCode::OK, "{p}: {b}");
        let page = b["value"].as_array().unwrap().clone();
        sizes.push(page.len());
        docs.extend(page);
        next = b["@odata.nextLink"].as_str().map(path_of);
        assert!(sizes.len() < 1000, "runaway paging");
    }
    (docs, sizes)
}

fn doc_ids(docs: &[Value]) -> Vec<String> {
    docs.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Read back, ingest, $select
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn directory_audits_read_back_exactly_and_ingest_is_idempotent() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let docs: Vec<Value> = (1..=3).map(|n| audit_doc(n, now - Duration::minutes(n as i64 * 7))).collect();

        // One bad record refuses the batch; nothing is stored, children included.
        let mut bad = docs.clone();
        bad[1].as_object_mut().unwrap().remove("category");
        bad[2]["activityDateTime"] = json!("last tuesday");
        let (s, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let idx: Vec<u64> =
            b["error"]["details"].as_array().unwrap().iter().map(|d| d["index"].as_u64().unwrap()).collect();
        assert_eq!(idx, vec![1, 2], "{b}");
        assert!(b["error"]["details"][0]["message"].as_str().unwrap().contains("category"), "{b}");
        for t in ["directory_audits", "directory_audit_targets", "directory_audit_details"] {
            assert_eq!(app.count_rows(t, TENANT_A), 0, "{t}");
        }
        for (key, value) in [("initiatedBy", json!(null)), ("result", json!(5)), ("id", json!(""))] {
            let mut d = audit_doc(9, now);
            d[key] = value;
            let (s, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &[d]).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{key}: {b}");
        }
        assert_eq!(app.count_rows("directory_audits", TENANT_A), 0);

        let (s, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &docs).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 3, "duplicates": 0, "expired": 0})));
        let (_, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &docs).await;
        assert_eq!(b, json!({"inserted": 0, "duplicates": 3, "expired": 0}));
        let (_, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &[audit_doc(4, now), audit_doc(4, now)]).await;
        assert_eq!(b, json!({"inserted": 1, "duplicates": 1, "expired": 0}));
        assert_eq!(app.count_rows("directory_audits", TENANT_A), 4);
        assert_eq!(app.count_rows("directory_audit_targets", TENANT_A), 8);
        assert_eq!(app.count_rows("directory_audit_details", TENANT_A), 4);
        let mut all = vec![audit_doc(4, now)];
        all.extend(docs.iter().cloned());

        // v1.0: newest first, every v1.0 property exactly as sent, no beta-only one.
        let (s, b) = app.get(AUDITS, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#auditLogs/directoryAudits"));
        let want: Vec<Value> = all.iter().map(|d| without(d, &["userAgent"])).collect();
        assert_eq!(b["value"].as_array().unwrap(), &want);
        // beta: everything.
        let (_, b) = app.get("/beta/auditLogs/directoryAudits", &admin).await;
        assert_eq!(b["value"].as_array().unwrap(), &all);
        assert_eq!(b["@odata.context"], format!("{BASE}/beta/$metadata#auditLogs/directoryAudits"));

        for d in &all {
            let id = d["id"].as_str().unwrap();
            let (s, b) = app.get(&format!("{AUDITS}/{id}"), &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#auditLogs/directoryAudits/$entity"));
            assert_eq!(bare(&b), without(d, &["userAgent"]));
            let (_, b) = app.get(&format!("/beta/auditLogs/directoryAudits/{id}"), &admin).await;
            assert_eq!(bare(&b), *d);
        }
        let (s, _) = app.get(&format!("{AUDITS}/Directory_nope"), &admin).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Another tenant has none of them.
        let (_, b) = app.get(AUDITS, &risk_admin(TENANT_B)).await;
        assert_eq!(b["value"], json!([]));
        let id = all[0]["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("{AUDITS}/{id}"), &risk_admin(TENANT_B)).await.0, StatusCode::NOT_FOUND);

        // $select, $count.
        let (_, b) = app.get(&format!("{AUDITS}?$select=id,category,initiatedBy"), &admin).await;
        for (d, want) in b["value"].as_array().unwrap().iter().zip(&all) {
            assert_eq!(d, &json!({"id": want["id"], "category": want["category"], "initiatedBy": want["initiatedBy"]}));
        }
        assert!(b["@odata.context"].as_str().unwrap().ends_with("#auditLogs/directoryAudits(id,category,initiatedBy)"));
        let (s, _) = app.get(&format!("{AUDITS}?$select=userAgent"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "userAgent is beta-only");
        let (s, b) = app.get("/beta/auditLogs/directoryAudits?$select=userAgent", &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"][0], json!({"userAgent": all[0]["userAgent"]}));
        let (_, b) = app.get(&format!("{AUDITS}/{id}?$select=activityDisplayName"), &admin).await;
        assert_eq!(bare(&b), json!({"activityDisplayName": "Add member to group"}));
        let (_, n) = app.get(&format!("{AUDITS}/$count"), &admin).await;
        assert_eq!(n, json!(4));
        let (_, b) = app.get(&format!("{AUDITS}?$count=true&$top=1"), &admin).await;
        assert_eq!((b["@odata.count"].as_i64(), ids(&b).len()), (Some(4), 1));
    })
    .await;
}

#[actix_web::test]
async fn risk_detections_read_back_exactly_with_their_page_sizes() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let docs: Vec<Value> = (1..=25)
            .map(|n| {
                detection_doc(n, now - Duration::minutes(n as i64), "anonymizedIPAddress", "medium", "MyTestUser1")
            })
            .collect();

        let mut bad = docs.clone();
        bad[3]["riskLevel"] = json!(2);
        bad[7].as_object_mut().unwrap().remove("detectedDateTime");
        bad[9]["requestId"] = json!("not-a-request");
        let (s, b) = ingest_kind(&app, "riskDetections", TENANT_A, &bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let idx: Vec<u64> =
            b["error"]["details"].as_array().unwrap().iter().map(|d| d["index"].as_u64().unwrap()).collect();
        assert_eq!(idx, vec![3, 7, 9], "{b}");
        assert_eq!(app.count_rows("risk_detections", TENANT_A), 0);

        let (s, b) = ingest_kind(&app, "riskDetections", TENANT_A, &docs).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 25, "duplicates": 0, "expired": 0})));
        let (_, b) = ingest_kind(&app, "riskDetections", TENANT_A, &docs[..5]).await;
        assert_eq!(b, json!({"inserted": 0, "duplicates": 5, "expired": 0}));
        assert_eq!(app.count_rows("risk_detections", TENANT_A), 25);

        // Default page: 20, newest detection first.
        let (s, b) = app.get(DETECTIONS, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#identityProtection/riskDetections"));
        let beta_only = ["riskType", "mitreTechniqueId"];
        let want: Vec<Value> = docs[..20].iter().map(|d| without(d, &beta_only)).collect();
        assert_eq!(b["value"].as_array().unwrap(), &want);
        let next = path_of(b["@odata.nextLink"].as_str().expect("a next page"));
        let (_, b) = app.get(&next, &admin).await;
        let want: Vec<Value> = docs[20..].iter().map(|d| without(d, &beta_only)).collect();
        assert_eq!(b["value"].as_array().unwrap(), &want);
        assert!(b.get("@odata.nextLink").is_none());

        let (_, b) = app.get("/beta/identityProtection/riskDetections?$top=25", &admin).await;
        assert_eq!(b["value"].as_array().unwrap(), &docs);
        for d in [&docs[0], &docs[24]] {
            let id = d["id"].as_str().unwrap();
            let (s, b) = app.get(&format!("{DETECTIONS}/{id}"), &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#identityProtection/riskDetections/$entity"));
            assert_eq!(bare(&b), without(d, &beta_only));
            let (_, b) = app.get(&format!("/beta/identityProtection/riskDetections/{id}"), &admin).await;
            assert_eq!(bare(&b), *d);
        }
        // Ids are matched case-insensitively (they are hexadecimal).
        let upper = docs[0]["id"].as_str().unwrap().to_uppercase();
        assert_eq!(app.get(&format!("{DETECTIONS}/{upper}"), &admin).await.0, StatusCode::OK);

        for (q, status) in [("$top=501", 400), ("$top=500", 200), ("$skip=1", 400), ("$top=x", 400)] {
            let (s, b) = app.get(&format!("{DETECTIONS}?{q}"), &admin).await;
            assert_eq!(s.as_u16(), status, "{q}: {b}");
        }
        let (_, b) = app.get(&format!("{DETECTIONS}?$select=id,riskLevel&$top=2"), &admin).await;
        assert_eq!(b["value"][0], json!({"id": docs[0]["id"], "riskLevel": "medium"}));
        let (s, _) = app.get(&format!("{DETECTIONS}?$select=riskType"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "riskType is beta-only");
        let (_, n) = app.get(&format!("{DETECTIONS}/$count"), &admin).await;
        assert_eq!(n, json!(25));
    })
    .await;
}

#[actix_web::test]
async fn risky_users_read_back_exactly_with_a_first_history_item() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let u1 = guid(501);
        let u2 = guid(502);
        let docs = vec![
            risky_user_doc(&u1, now - Duration::hours(1), "atRisk", "high", "none", "Alex Wilbur"),
            risky_user_doc(
                &u2,
                now - Duration::hours(2),
                "remediated",
                "none",
                "userPerformedSecuredPasswordReset",
                "Allan Deyoung",
            ),
        ];

        for (key, value) in
            [("id", json!("not-a-guid")), ("riskLevel", json!(3)), ("riskLastUpdatedDateTime", json!(null))]
        {
            let mut bad = docs.clone();
            bad[1][key] = value;
            let (s, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &bad).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{key}: {b}");
            assert_eq!(b["error"]["details"][0]["index"], 1, "{b}");
        }
        assert_eq!(app.count_rows("risky_users", TENANT_A), 0);
        assert_eq!(app.count_rows("risky_user_history", TENANT_A), 0);

        let (s, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &docs).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 2, "duplicates": 0, "expired": 0})));
        let (_, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &docs).await;
        assert_eq!(b, json!({"inserted": 0, "duplicates": 2, "expired": 0}));
        assert_eq!(app.count_rows("risky_users", TENANT_A), 2);
        assert_eq!(app.count_rows("risky_user_history", TENANT_A), 2);

        let (s, b) = app.get(RISKY, &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#identityProtection/riskyUsers"));
        let want: Vec<Value> = docs.iter().map(|d| without(d, &["isGuest"])).collect();
        assert_eq!(b["value"].as_array().unwrap(), &want);
        let (_, b) = app.get("/beta/identityProtection/riskyUsers", &admin).await;
        assert_eq!(b["value"].as_array().unwrap(), &docs);
        let (s, b) = app.get(&format!("{RISKY}/{u1}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#identityProtection/riskyUsers/$entity"));
        assert_eq!(bare(&b), want[0]);
        let (_, b) = app.get(&format!("{RISKY}/{}", u1.to_uppercase()), &admin).await;
        assert_eq!(bare(&b), want[0], "GUIDs match in any case");
        let (_, b) = app.get(&format!("/beta/identityProtection/riskyUsers/{u2}"), &admin).await;
        assert_eq!(bare(&b), docs[1]);
        assert_eq!(app.get(&format!("{RISKY}/{}", guid(999)), &admin).await.0, StatusCode::NOT_FOUND);
        let (_, b) = app.get(&format!("{RISKY}?$select=id,riskState"), &admin).await;
        assert_eq!(b["value"][1], json!({"id": u2, "riskState": "remediated"}));
        let (_, n) = app.get(&format!("{RISKY}/$count"), &admin).await;
        assert_eq!(n, json!(2));

        // The ingest recorded each user's state as its first history item.
        let (s, b) = app.get(&format!("{RISKY}/{u2}/history"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], format!("{BASE}/v1.0/$metadata#identityProtection/riskyUsers('{u2}')/history"));
        let items = b["value"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{b}");
        let item = &items[0];
        for k in
            ["riskLastUpdatedDateTime", "riskState", "riskLevel", "riskDetail", "userDisplayName", "userPrincipalName"]
        {
            assert_eq!(item[k], docs[1][k], "{k}");
        }
        assert_eq!(item["userId"], u2);
        assert_eq!(item["activity"], json!({"riskEventTypes": [], "detail": "userPerformedSecuredPasswordReset"}));
        assert!(item.get("isGuest").is_none(), "beta-only in v1.0: {item}");
        let hid = item["id"].as_str().unwrap();
        let (s, b) = app.get(&format!("{RISKY}/{u2}/history/{hid}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(bare(&b), *item);
        // A history item is found only under its own user.
        assert_eq!(app.get(&format!("{RISKY}/{u1}/history/{hid}"), &admin).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("{RISKY}/{}/history", guid(999)), &admin).await.0, StatusCode::NOT_FOUND);
        let (_, n) = app.get(&format!("{RISKY}/{u2}/history/$count"), &admin).await;
        assert_eq!(n, json!(1));
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Documented example filters
// ---------------------------------------------------------------------------------------------

struct AuditSpec {
    name: &'static str,
    category: &'static str,
    service: &'static str,
    result: &'static str,
    /// (id, displayName, userPrincipalName) of a user initiator, or (appId, displayName) of an app.
    user: Option<(u64, &'static str, &'static str)>,
    app: Option<(u64, &'static str)>,
    targets: &'static [(u64, &'static str)],
    age_hours: i64,
}

const AUDIT_SPECS: [AuditSpec; 6] = [
    AuditSpec {
        name: "Add member to group",
        category: "GroupManagement",
        service: "Core Directory",
        result: "success",
        user: Some((101, "Audry Oliver", "bob@wingtiptoysonline.com")),
        app: None,
        targets: &[(1, "Example.com")],
        age_hours: 1,
    },
    AuditSpec {
        name: "Add user",
        category: "UserManagement",
        service: "Core Directory",
        result: "success",
        user: Some((102, "Bob Builder", "builder@contoso.com")),
        app: None,
        targets: &[(2, "def group")],
        age_hours: 2,
    },
    AuditSpec {
        name: "Update user",
        category: "UserManagement",
        service: "Self-service Password Management",
        result: "failure",
        user: None,
        app: Some((201, "Graph Explorer")),
        targets: &[(3, "defender"), (1, "Example.com")],
        age_hours: 3 * 24,
    },
    AuditSpec {
        name: "Delete user",
        category: "UserManagement",
        service: "Core Directory",
        result: "success",
        user: None,
        app: Some((202, "Provisioning")),
        targets: &[(4, "Other")],
        age_hours: 10 * 24,
    },
    AuditSpec {
        name: "Add service principal",
        category: "ApplicationManagement",
        service: "Core Directory",
        result: "timeout",
        user: Some((101, "Audry Oliver", "bob@wingtiptoysonline.com")),
        app: None,
        targets: &[],
        age_hours: 20 * 24,
    },
    AuditSpec {
        name: "Add member to role",
        category: "RoleManagement",
        service: "PIM",
        result: "success",
        user: Some((103, "Carol", "carol@wingtiptoysonline.com")),
        app: None,
        targets: &[(5, "Example.org")],
        age_hours: 25 * 24,
    },
];

/// The properties an audit changed on target `id`.
fn modified(id: u64) -> Value {
    let enabled = json!({"displayName": "AccountEnabled", "oldValue": "[true]", "newValue": "[false]"});
    let renamed = json!({"displayName": "DisplayName", "oldValue": "\"a\"", "newValue": "\"b\""});
    match id {
        1 => json!([enabled]),
        2 => json!([renamed]),
        3 => json!([renamed, {"displayName": "AccountEnabled", "oldValue": null, "newValue": "[true]"}]),
        _ => json!([]),
    }
}

fn spec_audit(i: usize, s: &AuditSpec, now: DateTime<Utc>) -> Value {
    let mut d = audit_doc(i as u64 + 1, now - Duration::hours(s.age_hours));
    d["activityDisplayName"] = json!(s.name);
    d["category"] = json!(s.category);
    d["loggedByService"] = json!(s.service);
    d["result"] = json!(s.result);
    d["initiatedBy"] = json!({
        "user": s.user.map(|(id, name, upn)| json!({"id": guid(id), "displayName": name, "userPrincipalName": upn, "ipAddress": null})),
        "app": s.app.map(|(id, name)| json!({"appId": guid(id), "displayName": name, "servicePrincipalId": null, "servicePrincipalName": null})),
    });
    d["targetResources"] = Value::Array(
        s.targets
            .iter()
            .map(|(id, name)| json!({"id": guid(9000 + id), "displayName": name, "type": "Group", "modifiedProperties": modified(*id)}))
            .collect(),
    );
    d
}

/// Checks `$filter=filter` on `path` (list, `$count=true`, `/$count`, v1.0 and beta) against the
/// ids expected.
async fn check_filter(app: &TestApp, path: &str, token: &str, filter: &str, expected: &BTreeSet<String>) {
    let f = enc(filter);
    for version_path in [path.to_owned(), path.replacen("/v1.0/", "/beta/", 1)] {
        let (s, b) = app.get(&format!("{version_path}?$filter={f}&$count=true&$top=500"), token).await;
        assert_eq!(s, StatusCode::OK, "{version_path} {filter}: {b}");
        assert_eq!(&id_set(&b), expected, "{version_path} {filter}");
        assert_eq!(b["@odata.count"].as_u64(), Some(expected.len() as u64), "{filter}");
    }
    let (s, n) = app.get(&format!("{path}/$count?$filter={f}"), token).await;
    assert_eq!((s, n), (StatusCode::OK, json!(expected.len())), "/$count {filter}");
}

#[actix_web::test]
async fn directory_audit_filters_match_the_documented_examples() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let docs: Vec<Value> = AUDIT_SPECS.iter().enumerate().map(|(i, s)| spec_audit(i, s, now)).collect();
        let (s, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // Ids are served as sent.
        let id = |i: usize| docs[i - 1]["id"].as_str().unwrap().to_owned();
        let set = |v: &[usize]| -> BTreeSet<String> { v.iter().map(|i| id(*i)).collect() };

        let five_days = ts(now - Duration::days(5));
        let fifteen_days_date = (now - Duration::days(15)).format("%Y-%m-%d").to_string();
        let cases: Vec<(String, Vec<usize>)> = vec![
            (format!("activityDateTime le {five_days}"), vec![4, 5, 6]),
            (format!("activityDateTime ge {five_days}"), vec![1, 2, 3]),
            (format!("activityDateTime le {fifteen_days_date}"), vec![5, 6]),
            (
                format!("activityDateTime ge {five_days} and activityDateTime le {}", ts(now - Duration::minutes(90))),
                vec![2, 3],
            ),
            ("activityDisplayName eq 'Add user'".into(), vec![2]),
            ("startswith(activityDisplayName, 'Add')".into(), vec![1, 2, 5, 6]),
            ("loggedByService eq 'Core Directory'".into(), vec![1, 2, 4, 5]),
            (format!("initiatedBy/user/id eq '{}'", guid(101)), vec![1, 5]),
            ("initiatedBy/user/displayName eq 'Audry Oliver'".into(), vec![1, 5]),
            ("initiatedBy/user/userPrincipalName eq 'bob@wingtiptoysonline.com'".into(), vec![1, 5]),
            ("startswith(initiatedBy/user/userPrincipalName, 'bob')".into(), vec![1, 5]),
            (format!("initiatedBy/app/appId eq '{}'", guid(201)), vec![3]),
            ("initiatedBy/app/displayName eq 'Graph Explorer'".into(), vec![3]),
            (format!("targetResources/any(t: t/id eq '{}')", guid(9001)), vec![1, 3]),
            ("targetResources/any(t:t/displayName eq 'Example.com')".into(), vec![1, 3]),
            ("targetResources/any(x: startswith(x/displayName, 'def'))".into(), vec![2, 3]),
            // Nested lambdas (issue 20): audits that changed a given property.
            ("targetResources/any(t: t/modifiedProperties/any(m: m/displayName eq 'AccountEnabled'))".into(), vec![1, 3]),
            ("targetResources/any(t: t/modifiedProperties/any(m: m/displayName eq 'displayname'))".into(), vec![2, 3]),
            (
                "targetResources/any(t: t/displayName eq 'defender' and t/modifiedProperties/any(m: m/newValue eq '[true]'))"
                    .into(),
                vec![3],
            ),
            ("targetResources/any(t: t/modifiedProperties/any(m: m/oldValue eq null))".into(), vec![3]),
            ("targetResources/all(t: t/modifiedProperties/any())".into(), vec![1, 2, 3, 5]),
            (
                "targetResources/any(t: t/modifiedProperties/all(m: m/displayName ne t/displayName and \
                 startswith(m/newValue, '[')))"
                    .into(),
                vec![1, 3, 4, 6],
            ),
            ("category eq 'UserManagement'".into(), vec![2, 3, 4]),
            ("category eq 'RoleManagement'".into(), vec![6]),
            ("result eq 'failure'".into(), vec![3]),
            ("result eq 'success'".into(), vec![1, 2, 4, 6]),
            ("category eq 'UserManagement' and result eq 'success'".into(), vec![2, 4]),
        ];
        for (filter, want) in &cases {
            check_filter(&app, AUDITS, &admin, filter, &set(want)).await;
        }
        // The documented `&$filter` form (an empty first pair) works too.
        let (s, b) = app.get(&format!("{AUDITS}?&$filter={}", enc(&cases[0].0)), &admin).await;
        assert_eq!((s, id_set(&b)), (StatusCode::OK, set(&[4, 5, 6])));
        let (s, _) = app.get(&format!("{AUDITS}?$filter={}", enc("initiatedBy/user/nope eq 'x'")), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[actix_web::test]
async fn risk_filters_match_the_documented_examples() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let specs = [
            ("unfamiliarFeatures", "medium", "offline", "MyTestUser1"),
            ("anonymizedIPAddress", "high", "realtime", "MyTestUser1"),
            ("leakedCredentials", "low", "offline", "Other User"),
            ("unlikelyTravel", "medium", "offline", "Other User"),
            ("unfamiliarFeatures", "low", "realtime", "Third"),
        ];
        let docs: Vec<Value> = specs
            .iter()
            .enumerate()
            .map(|(i, (event, level, timing, name))| {
                let mut d = detection_doc(i as u64 + 1, now - Duration::hours(i as i64 + 1), event, level, name);
                d["detectionTimingType"] = json!(timing);
                d
            })
            .collect();
        assert_eq!(ingest_kind(&app, "riskDetections", TENANT_A, &docs).await.0, StatusCode::OK);
        let did = |v: &[usize]| -> BTreeSet<String> { v.iter().map(|i| format!("{:064x}", *i as u64)).collect() };
        for (filter, want) in [
            ("userDisplayName eq 'MyTestUser1'", vec![1, 2]),
            ("detectionTimingType eq 'offline'", vec![1, 3, 4]),
            ("riskEventType eq 'unfamiliarFeatures' or riskLevel eq 'medium'", vec![1, 4, 5]),
            ("riskLevel eq microsoft.graph.riskLevel'medium'", vec![1, 4]),
            ("riskLevel eq 'high'", vec![2]),
            ("UserDisplayName eq 'MyTestUser1' and Risklevel eq 'high'", vec![2]),
        ] {
            check_filter(&app, DETECTIONS, &admin, filter, &did(&want)).await;
        }

        let users = [
            ("MyTestUser1", "atRisk", "high", "none"),
            ("Other", "remediated", "none", "userPassedMFADrivenByRiskBasedPolicy"),
            ("Third", "atRisk", "medium", "none"),
            ("Fourth", "dismissed", "none", "adminDismissedAllRiskForUser"),
        ];
        let docs: Vec<Value> = users
            .iter()
            .enumerate()
            .map(|(i, (name, state, level, detail))| {
                risky_user_doc(
                    &guid(600 + i as u64 + 1),
                    now - Duration::hours(i as i64 + 1),
                    state,
                    level,
                    detail,
                    name,
                )
            })
            .collect();
        assert_eq!(ingest_kind(&app, "riskyUsers", TENANT_A, &docs).await.0, StatusCode::OK);
        let uid = |v: &[usize]| -> BTreeSet<String> { v.iter().map(|i| guid(600 + *i as u64)).collect() };
        for (filter, want) in [
            ("userDisplayName eq 'MyTestUser1'", vec![1]),
            ("riskDetail eq 'userPassedMFADrivenByRiskBasedPolicy'", vec![2]),
            ("riskLevel eq 'high'", vec![1]),
            ("RiskLevel eq 'high'", vec![1]),
            ("riskLevel eq microsoft.graph.riskLevel'medium'", vec![3]),
            ("riskState eq 'atRisk' and isDeleted eq false and isProcessing eq false", vec![1, 3]),
        ] {
            check_filter(&app, RISKY, &admin, filter, &uid(&want)).await;
        }
        // The third-party query shape of docs/graph-notes.md §5.1.
        let q = format!(
            "$select=id%2criskState%2cisDeleted&$top=500&$filter={}",
            enc("riskState eq 'atRisk' and isDeleted eq false and isProcessing eq false")
        );
        let (s, b) = app.get(&format!("{RISKY}?{q}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"][0], json!({"id": guid(601), "riskState": "atRisk", "isDeleted": false}));
        // riskyUsers documents no startswith; unknown properties are refused.
        let (s, _) = app.get(&format!("{RISKY}?$filter={}", enc("risk/riskLevel eq 'high'")), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[actix_web::test]
async fn paging_walks_every_set_without_duplicates() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        // Equal times on purpose: the id breaks ties, so no row is skipped or repeated.
        let audits: Vec<Value> = (1..=7).map(|n| audit_doc(n, now - Duration::minutes((n as i64) / 2))).collect();
        let detections: Vec<Value> = (1..=45)
            .map(|n| detection_doc(n, now - Duration::minutes((n as i64) / 3), "generic", "low", "U"))
            .collect();
        let users: Vec<Value> = (1..=9)
            .map(|n| {
                risky_user_doc(&guid(700 + n), now - Duration::minutes((n as i64) / 2), "atRisk", "low", "none", "U")
            })
            .collect();
        for (kind, docs) in [("directoryAudits", &audits), ("riskDetections", &detections), ("riskyUsers", &users)] {
            assert_eq!(ingest_kind(&app, kind, TENANT_A, docs).await.0, StatusCode::OK, "{kind}");
        }
        // A user with several history items.
        let u = guid(701);
        let changes: Vec<Value> = (1..=4)
            .map(|n| {
                risky_user_doc(
                    &u,
                    now + Duration::seconds(n),
                    "atRisk",
                    ["low", "medium", "high", "high"][n as usize - 1],
                    "none",
                    "U",
                )
            })
            .collect();
        for c in &changes {
            ingest_kind(&app, "riskyUsers", TENANT_A, std::slice::from_ref(c)).await;
        }
        let history = format!("{RISKY}/{u}/history");
        for (path, top, total, default_sizes) in [
            (AUDITS.to_owned(), 3, 7, vec![7]),
            (DETECTIONS.to_owned(), 20, 45, vec![20, 20, 5]),
            (RISKY.to_owned(), 2, 9, vec![9]),
            (history.clone(), 2, 5, vec![5]),
        ] {
            let (docs, sizes) = walk(&app, &format!("{path}?$top={top}"), &admin).await;
            let ids = doc_ids(&docs);
            let unique: BTreeSet<&String> = ids.iter().collect();
            assert_eq!((ids.len(), unique.len()), (total, total), "{path}: {ids:?}");
            assert!(sizes.iter().all(|s| *s <= top), "{path}: {sizes:?}");
            let (all, default) = walk(&app, &path, &admin).await;
            assert_eq!(doc_ids(&all), ids, "{path}: paging keeps the default order");
            assert_eq!(default, default_sizes, "{path}");
            // The same walk with a filter and an explicit order.
            let (docs, _) =
                walk(&app, &format!("{path}?$top=2&$orderby=id%20asc&$filter={}", enc("id ne 'x'")), &admin).await;
            let mut sorted = ids.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
            sorted.sort();
            assert_eq!(doc_ids(&docs).iter().map(|s| s.to_lowercase()).collect::<Vec<_>>(), sorted, "{path}");
        }
        // A skiptoken is bound to its collection.
        let (_, b) = app.get(&format!("{AUDITS}?$top=1"), &admin).await;
        let next = path_of(b["@odata.nextLink"].as_str().unwrap());
        let moved = next.replace("auditLogs/directoryAudits", "identityProtection/riskDetections");
        assert_eq!(app.get(&moved, &admin).await.0, StatusCode::BAD_REQUEST);
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------------

async fn history_of(app: &TestApp, user: &str, token: &str) -> Vec<Value> {
    walk(app, &format!("{RISKY}/{user}/history?$top=500"), token).await.0
}

fn by_id(items: &[Value]) -> std::collections::BTreeMap<String, Value> {
    items.iter().map(|i| (i["id"].as_str().unwrap().to_owned(), i.clone())).collect()
}

#[actix_web::test]
async fn ingested_changes_append_history_and_only_newer_states_change_the_user() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let u = guid(801);
        let t0 = now - Duration::hours(5);
        let first = risky_user_doc(&u, t0, "atRisk", "medium", "none", "Allan Deyoung");
        ingest_kind(&app, "riskyUsers", TENANT_A, std::slice::from_ref(&first)).await;
        let before = history_of(&app, &u, &admin).await;
        assert_eq!(before.len(), 1);

        // A newer state with the change described: the user changes, one item is appended.
        let t1 = now - Duration::hours(3);
        let mut newer =
            risky_user_doc(&u, t1, "remediated", "none", "userPerformedSecuredPasswordReset", "Allan Deyoung");
        newer["initiatedBy"] = json!("68ca8ec0-11f8-456b-a785-70d9936650d5");
        newer["activity"] =
            json!({"riskEventTypes": ["leakedCredentials"], "detail": "userPerformedSecuredPasswordReset"});
        let (s, b) = ingest_kind(&app, "riskyUsers", TENANT_A, std::slice::from_ref(&newer)).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 1, "duplicates": 0, "expired": 0})));
        let (_, user) = app.get(&format!("{RISKY}/{u}"), &admin).await;
        assert_eq!(
            bare(&user),
            without(&newer, &["isGuest", "initiatedBy", "activity"]),
            "the user has no change properties"
        );
        let after = history_of(&app, &u, &admin).await;
        assert_eq!(after.len(), 2);
        assert_eq!(after[1], before[0], "older items are unchanged (newest first)");
        assert_eq!(after[0]["initiatedBy"], "68ca8ec0-11f8-456b-a785-70d9936650d5");
        assert_eq!(after[0]["activity"]["riskEventTypes"], json!(["leakedCredentials"]));
        assert_eq!(after[0]["riskState"], "remediated");
        assert_eq!(after[0]["userId"], u);

        // The same change again: nothing new.
        let (_, b) = ingest_kind(&app, "riskyUsers", TENANT_A, std::slice::from_ref(&newer)).await;
        assert_eq!(b, json!({"inserted": 0, "duplicates": 1, "expired": 0}));
        // An older state, or another state at the same instant, does not change the user.
        let older = risky_user_doc(&u, t0 + Duration::minutes(1), "atRisk", "high", "none", "Allan Deyoung");
        let same_time = risky_user_doc(&u, t1, "atRisk", "high", "none", "Allan Deyoung");
        for doc in [&older, &same_time] {
            let (s, b) = ingest_kind(&app, "riskyUsers", TENANT_A, std::slice::from_ref(doc)).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let (_, now_user) = app.get(&format!("{RISKY}/{u}"), &admin).await;
            assert_eq!(bare(&now_user), bare(&user), "{doc}");
        }
        // A history item sent as such (its own id, userId): newest, so it sets the user.
        let hid = guid(8_001);
        let t2 = now - Duration::hours(1);
        let mut item = risky_user_doc(&u, t2, "atRisk", "high", "userChangedPasswordOnPremises", "Allan Deyoung");
        item["id"] = json!(hid);
        item["userId"] = json!(u);
        item["initiatedBy"] = json!(null);
        item["activity"] = json!({"riskEventTypes": ["unlikelyTravel"], "detail": "userChangedPasswordOnPremises"});
        let (_, b) = ingest_kind(&app, "riskyUsers", TENANT_A, std::slice::from_ref(&item)).await;
        assert_eq!(b["inserted"], 1, "{b}");
        let (_, user) = app.get(&format!("{RISKY}/{u}"), &admin).await;
        assert_eq!((user["id"].as_str(), user["riskLevel"].as_str()), (Some(u.as_str()), Some("high")));
        assert_eq!(user["riskLastUpdatedDateTime"], ts(t2));
        let (s, got) = app.get_as_stored(&format!("{RISKY}/{u}/history/{hid}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{got}");
        assert_eq!(bare(&got), without(&item, &["isGuest"]));
        // userChangedPasswordOnPremises comes after unknownFutureValue: only a client that asks
        // (Prefer: include-unknown-enum-members) reads it, as from Graph.
        let (s, plain) = app.get(&format!("{RISKY}/{u}/history/{hid}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{plain}");
        assert_eq!(
            (plain["riskDetail"].as_str(), plain["activity"]["detail"].as_str()),
            (Some("unknownFutureValue"), Some("unknownFutureValue"))
        );
        assert_eq!(plain["riskLevel"], "high");
        // Filters name the member as stored.
        let f = enc("riskDetail eq 'userChangedPasswordOnPremises'");
        let (s, found) = app.get(&format!("{RISKY}/{u}/history?$filter={f}"), &admin).await;
        assert_eq!((s, ids(&found)), (StatusCode::OK, vec![hid.clone()]), "{found}");
        // Re-sending the item with other values does not rewrite history.
        let mut rewritten = item.clone();
        rewritten["riskLevel"] = json!("low");
        let (_, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &[rewritten]).await;
        assert_eq!(b["inserted"], 0, "{b}");
        let (_, again) = app.get_as_stored(&format!("{RISKY}/{u}/history/{hid}"), &admin).await;
        assert_eq!(again, got);

        // Every item seen before is still there, identical, after all of this and an action.
        let snapshot = by_id(&history_of(&app, &u, &admin).await);
        assert_eq!(dismiss(&app, &admin, &[u.as_str()]).await.0, StatusCode::NO_CONTENT);
        let later = by_id(&history_of(&app, &u, &admin).await);
        assert_eq!(later.len(), snapshot.len() + 1);
        for (id, item) in &snapshot {
            assert_eq!(later.get(id), Some(item), "{id}");
        }
        // Within one batch the newest state wins whatever the order.
        let v = guid(802);
        let batch = [
            risky_user_doc(&v, now - Duration::minutes(1), "atRisk", "high", "none", "V"),
            risky_user_doc(&v, now - Duration::minutes(9), "atRisk", "low", "none", "V"),
        ];
        let (_, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &batch).await;
        assert_eq!(b["inserted"], 2, "{b}");
        let (_, user) = app.get(&format!("{RISKY}/{v}"), &admin).await;
        assert_eq!(user["riskLevel"], "high");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn dismiss_and_confirm_compromised_change_the_user_and_leave_a_trail() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let reader = risk_admin(TENANT_A);
        let (u1, u2, u3) = (guid(901), guid(902), guid(903));
        let docs = vec![
            risky_user_doc(&u1, now - Duration::hours(1), "atRisk", "high", "none", "Alex Wilbur"),
            risky_user_doc(&u2, now - Duration::hours(2), "atRisk", "medium", "none", "Allan Deyoung"),
            risky_user_doc(&u3, now - Duration::hours(3), "atRisk", "low", "none", "Third"),
        ];
        ingest_kind(&app, "riskyUsers", TENANT_A, &docs).await;
        app.clock.advance(Duration::minutes(5));
        let at = ts(app.now());

        // A Security Administrator dismisses u1 (and names it twice, in upper case too).
        let sa =
            delegated(TENANT_A, ADMIN_OID, &[DirectoryRole::SecurityAdministrator], "IdentityRiskyUser.ReadWrite.All");
        let body = json!({"userIds": [u1.as_str(), u1.to_uppercase().as_str()]}).to_string();
        let req = TestRequest::post()
            .uri(&format!("{RISKY}/dismiss"))
            .insert_header(("Authorization", format!("Bearer {sa}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body);
        let (s, headers, b) = app.send(req).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        assert_eq!(b, json!(""), "no body");
        let request_id = headers.get("request-id").and_then(|v| v.to_str().ok()).unwrap().to_owned();
        let (_, user) = app.get(&format!("{RISKY}/{u1}"), &reader).await;
        let mut want = without(&docs[0], &["isGuest"]);
        want["riskState"] = json!("dismissed");
        want["riskLevel"] = json!("none");
        want["riskDetail"] = json!("adminDismissedAllRiskForUser");
        want["riskLastUpdatedDateTime"] = json!(at);
        assert_eq!(bare(&user), want);
        let items = history_of(&app, &u1, &reader).await;
        assert_eq!(items.len(), 2);
        let item = &items[0];
        assert_eq!(item["initiatedBy"], ADMIN_OID);
        assert_eq!(item["userId"], u1);
        assert_eq!(item["activity"], json!({"riskEventTypes": [], "detail": "adminDismissedAllRiskForUser"}));
        for k in ["riskState", "riskLevel", "riskDetail", "riskLastUpdatedDateTime", "userDisplayName"] {
            assert_eq!(item[k], want[k], "{k}");
        }
        // The others are untouched.
        let (_, other) = app.get(&format!("{RISKY}/{u2}"), &reader).await;
        assert_eq!(bare(&other), without(&docs[1], &["isGuest"]));

        // One directory audit, Identity Protection's, naming the user.
        let audits_reader = sign(&user_claims(TENANT_A, OTHER_OID, &[DirectoryRole::ReportsReader.template_id()]));
        let filter = enc("category eq 'IdentityProtection'");
        let (s, b) = app.get(&format!("{AUDITS}?$filter={filter}"), &audits_reader).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let audits = b["value"].as_array().unwrap();
        assert_eq!(audits.len(), 1, "{b}");
        let a = &audits[0];
        assert_eq!(a["loggedByService"], "Identity Protection");
        assert_eq!(a["activityDisplayName"], "DismissUser");
        assert_eq!(a["activityDateTime"], at);
        assert_eq!(a["result"], "success");
        assert_eq!(a["initiatedBy"]["user"]["id"], ADMIN_OID);
        assert_eq!(a["initiatedBy"]["app"], json!(null));
        let target = &a["targetResources"][0];
        assert_eq!((target["id"].as_str(), target["type"].as_str()), (Some(u1.as_str()), Some("User")));
        assert_eq!(target["userPrincipalName"], docs[0]["userPrincipalName"]);
        let id = a["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("{AUDITS}/{id}"), &audits_reader).await.0, StatusCode::OK);
        // The action's correlation id is the response's request-id, and what it wrote has the ids
        // derived from it.
        assert_eq!(a["correlationId"], request_id);
        let derived = |what: &str| derived_guid(&[TENANT_A, u1.as_str(), &request_id, "dismiss", what]);
        assert_eq!(id, format!("IPC_{}", derived("audit")));
        assert_eq!(item["id"], derived("history"));
        let (_, b) = app
            .get(&format!("{AUDITS}?$filter={}", enc(&format!("targetResources/any(t: t/id eq '{u1}')"))), &reader)
            .await;
        assert_eq!(ids(&b), vec![id.to_owned()]);

        // An application confirms u2 compromised, through /beta.
        app.clock.advance(Duration::minutes(1));
        let at2 = ts(app.now());
        let writer = app_token(TENANT_A, &["IdentityRiskyUser.ReadWrite.All"]);
        let (s, b) = post_action(
            &app,
            "/beta/identityProtection/riskyUsers/confirmCompromised",
            &writer,
            Some("application/json; charset=utf-8"),
            &json!({"userIds": [u2]}).to_string(),
        )
        .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        let (_, user) = app.get(&format!("{RISKY}/{u2}"), &reader).await;
        assert_eq!(
            (user["riskState"].as_str(), user["riskLevel"].as_str(), user["riskDetail"].as_str()),
            (Some("confirmedCompromised"), Some("high"), Some("adminConfirmedUserCompromised"))
        );
        assert_eq!(user["riskLastUpdatedDateTime"], at2);
        let items = history_of(&app, &u2, &reader).await;
        assert_eq!((items.len(), items[0]["initiatedBy"].as_str()), (2, Some(APP_ID)));
        let (_, b) = app.get(&format!("{AUDITS}?$filter={filter}"), &reader).await;
        assert_eq!(b["value"].as_array().unwrap().len(), 2);
        let a = &b["value"][0];
        assert_eq!(a["activityDisplayName"], "ConfirmAccountCompromised");
        assert_eq!(a["initiatedBy"]["app"]["appId"], APP_ID);
        assert_eq!(a["initiatedBy"]["user"], json!(null));
        assert_eq!(a["targetResources"][0]["id"], u2);

        // Confirming a dismissed user works too; u3 is never touched.
        let (s, _) = confirm(&app, &sa, &[u1.as_str()]).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (_, user) = app.get(&format!("{RISKY}/{u1}"), &reader).await;
        assert_eq!(user["riskState"], "confirmedCompromised");
        assert_eq!(history_of(&app, &u1, &reader).await.len(), 3);
        assert_eq!(history_of(&app, &u3, &reader).await.len(), 1);
        assert_eq!(app.count_rows("directory_audits", TENANT_A), 3);
    })
    .await;
}

#[actix_web::test]
async fn action_bodies_are_checked_and_unknown_ids_ignored() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A);
        let u = guid(950);
        ingest_kind(&app, "riskyUsers", TENANT_A, &[risky_user_doc(&u, now, "atRisk", "high", "none", "U")]).await;
        let counts = |app: &TestApp| {
            ["risky_users", "risky_user_history", "directory_audits"].map(|t| app.count_rows(t, TENANT_A))
        };
        let start = counts(&app);
        assert_eq!(start, [1, 1, 0]);

        // Unknown users, and another tenant's: 204 and nothing written.
        let (_, _) = ingest_kind(
            &app,
            "riskyUsers",
            TENANT_B,
            &[risky_user_doc(&guid(951), now, "atRisk", "high", "none", "B")],
        )
        .await;
        for path in ["dismiss", "confirmCompromised"] {
            let (s, b) = post_action(
                &app,
                &format!("{RISKY}/{path}"),
                &admin,
                Some("application/json"),
                &json!({"userIds": [guid(999), guid(951)]}).to_string(),
            )
            .await;
            assert_eq!(s, StatusCode::NO_CONTENT, "{path}: {b}");
        }
        assert_eq!(counts(&app), start);

        let sixty: Vec<String> = (0..60).map(|i| guid(10_000 + i)).collect();
        let sixty_one: Vec<String> = (0..61).map(|i| guid(10_000 + i)).collect();
        let bad_bodies = [
            json!({"userIds": []}).to_string(),
            json!({"userIds": ["not-a-guid"]}).to_string(),
            json!({"userIds": [u, "nope"]}).to_string(),
            json!({"userIds": [42]}).to_string(),
            json!({"userIds": u}).to_string(),
            json!({"userIds": sixty_one}).to_string(),
            json!({"userIds": [u], "reason": "x"}).to_string(),
            json!({}).to_string(),
            json!([u]).to_string(),
            "not json".to_owned(),
            String::new(),
        ];
        for path in ["dismiss", "confirmCompromised"] {
            for body in &bad_bodies {
                let (s, b) =
                    post_action(&app, &format!("{RISKY}/{path}"), &admin, Some("application/json"), body).await;
                assert_eq!(s, StatusCode::BAD_REQUEST, "{path} {body}: {b}");
                assert_eq!(b["error"]["code"], "BadRequest", "{b}");
            }
            for ct in [Some("text/plain"), Some("application/x-ndjson"), None] {
                let body = json!({"userIds": [u]}).to_string();
                let (s, b) = post_action(&app, &format!("{RISKY}/{path}"), &admin, ct, &body).await;
                assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path} {ct:?}: {b}");
            }
            assert_eq!(counts(&app), start, "{path}: nothing written");
        }
        // Sixty ids are accepted (one of them known).
        let mut ids: Vec<&str> = sixty.iter().map(String::as_str).collect();
        ids[59] = u.as_str();
        let (s, b) = dismiss(&app, &admin, &ids).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
        assert_eq!(counts(&app), [1, 2, 1]);
        // Other verbs and segments.
        let (s, _) = post_action(&app, &format!("{RISKY}/confirmSafe"), &admin, Some("application/json"), "{}").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(app.get(&format!("{RISKY}/dismiss"), &admin).await.0, StatusCode::NOT_FOUND);
    })
    .await;
}

fn principal(oid: &str) -> Principal {
    Principal {
        tenant: TenantId::parse(TENANT_A).unwrap(),
        subject: Subject::User {
            object_id: Guid::parse(oid).unwrap(),
            principal_name: Some("admin@contoso.com".into()),
        },
        roles: vec![DirectoryRole::SecurityAdministrator],
        app_permissions: vec![],
        scopes: vec!["IdentityRiskyUser.ReadWrite.All".into()],
    }
}

#[actix_web::test]
async fn an_action_that_cannot_write_everything_writes_nothing() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let (u, v) = (guid(960), guid(961));
        let docs = [
            risky_user_doc(&u, now - Duration::hours(1), "atRisk", "high", "none", "U"),
            risky_user_doc(&v, now - Duration::hours(1), "atRisk", "high", "none", "V"),
        ];
        ingest_kind(&app, "riskyUsers", TENANT_A, &docs).await;
        let request = "c0ffee00-0000-4000-8000-000000000001";
        // An audit whose id is the one dismissing v in this request will write.
        let mut clash = audit_doc(1, now);
        clash["id"] = json!(format!("IPC_{}", derived_guid(&[TENANT_A, v.as_str(), request, "dismiss", "audit"])));
        let (s, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &[clash]).await;
        assert_eq!((s, b["inserted"].as_u64()), (StatusCode::OK, Some(1)), "{b}");
        let counts = |app: &TestApp| {
            ["risky_users", "risky_user_history", "directory_audits", "directory_audit_targets"]
                .map(|t| app.count_rows(t, TENANT_A))
        };
        let before = counts(&app);
        assert_eq!(before, [2, 2, 1, 2]);

        // u would succeed and v fails: neither changes.
        let p = principal(ADMIN_OID);
        let result = app.store.apply_risky_user_action(RiskyUserAction::Dismiss, &p, &[u.clone(), v.clone()], request);
        assert!(result.is_err(), "{result:?}");
        assert_eq!(counts(&app), before);
        let admin = risk_admin(TENANT_A);
        for id in [&u, &v] {
            let (_, user) = app.get(&format!("{RISKY}/{id}"), &admin).await;
            assert_eq!(user["riskState"], "atRisk", "{id}");
        }
        // The same for a history id that is already taken.
        let hid = derived_guid(&[TENANT_A, u.as_str(), request, "confirmCompromised", "history"]);
        let mut item = risky_user_doc(&u, now - Duration::hours(2), "atRisk", "low", "none", "U");
        item["id"] = json!(hid);
        item["userId"] = json!(u);
        ingest_kind(&app, "riskyUsers", TENANT_A, &[item]).await;
        let before = counts(&app);
        let result = app.store.apply_risky_user_action(
            RiskyUserAction::ConfirmCompromised,
            &p,
            std::slice::from_ref(&u),
            request,
        );
        assert!(result.is_err(), "{result:?}");
        assert_eq!(counts(&app), before);
        let (_, user) = app.get(&format!("{RISKY}/{u}"), &admin).await;
        assert_eq!(user["riskLevel"], "high");

        // Another request id: it goes through, all three written.
        let changed = app
            .store
            .apply_risky_user_action(
                RiskyUserAction::Dismiss,
                &p,
                &[u.clone(), v.clone()],
                "c0ffee00-0000-4000-8000-000000000002",
            )
            .unwrap();
        assert_eq!(changed.len(), 2);
        let after = counts(&app);
        assert_eq!((after[0], after[1], after[2]), (before[0], before[1] + 2, before[2] + 2));
    })
    .await;
}

#[actix_web::test]
async fn identity_protection_429s_carry_retry_after() {
    each_backend(|app| async move {
        let app = app
            .reconfigured(|c| {
                c.rate_limit_identity_protection_per_minute = 1;
                c.rate_limit_identity_protection_burst = 2;
            })
            .await;
        let u = guid(970);
        ingest_kind(&app, "riskyUsers", TENANT_A, &[risky_user_doc(&u, app.now(), "atRisk", "high", "none", "U")])
            .await;
        let admin = risk_admin(TENANT_A);
        assert_eq!(app.get(&format!("{RISKY}/{u}/history"), &admin).await.0, StatusCode::OK);
        assert_eq!(dismiss(&app, &admin, &[u.as_str()]).await.0, StatusCode::NO_CONTENT);
        for req in [
            TestRequest::get().uri(&format!("{RISKY}/{u}/history")),
            TestRequest::post()
                .uri(&format!("{RISKY}/confirmCompromised"))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(json!({"userIds": [u]}).to_string()),
            TestRequest::get().uri("/beta/identityProtection/riskDetections"),
        ] {
            let (s, h, b) = app.send(req.insert_header(("Authorization", format!("Bearer {admin}")))).await;
            assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
            let retry: u64 = h.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
            assert!((1..=60).contains(&retry), "{retry}");
            assert_eq!(b["error"]["code"], "TooManyRequests");
        }
        // The refused action changed nothing.
        let (_, user) = app.get(&format!("{AUDITS}?$filter={}", enc("category eq 'IdentityProtection'")), &admin).await;
        assert_eq!(user["value"].as_array().unwrap().len(), 1);
        assert_eq!(app.count_rows("risky_user_history", TENANT_A), 2);
    })
    .await;
}
