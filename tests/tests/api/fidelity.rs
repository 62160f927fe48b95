//! Graph fidelity of served documents (issue 20, part 5): evolvable enum members only for a client
//! that sends `Prefer: include-unknown-enum-members`, beta-only members inside complex values only
//! under `/beta`, and the older `/beta/riskyUsers` and `/beta/riskDetections` paths.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::audits_risk::{detection_doc, enc, ids, ingest_kind, risk_admin};
use crate::support::*;

const TENANT: &str = TENANT_A;
const USER: &str = "00000000-0000-4000-8000-0000000000aa";

fn evolvable_sign_in(now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut d = sign_in_doc(1, now - chrono::Duration::minutes(5), USER);
    d["deviceDetail"]["browserId"] = json!("1b2f7c0e-browser");
    d["riskDetail"] = json!("adminConfirmedAccountSafe");
    d["appliedConditionalAccessPolicies"] = json!([
        {"id": "p1", "displayName": "Require MFA (report-only)", "enforcedGrantControls": ["Mfa"],
         "enforcedSessionControls": [], "result": "reportOnlyFailure", "conditionsSatisfied": "application,users",
         "conditionsNotSatisfied": "none"},
        {"id": "p2", "displayName": "Block legacy", "enforcedGrantControls": ["Block"],
         "enforcedSessionControls": [], "result": "success"}
    ]);
    d
}

#[actix_web::test]
async fn evolvable_members_and_beta_members_are_served_as_graph_serves_them() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let doc = evolvable_sign_in(app.now());
        let (s, b) = app.ingest(&ingest_token(TENANT), std::slice::from_ref(&doc)).await;
        assert_eq!((s, b["inserted"].clone()), (StatusCode::OK, json!(1)), "{b}");
        let admin = admin_token(TENANT);
        let id = doc["id"].as_str().unwrap();

        // /v1.0 without the preference: unknownFutureValue, and no beta members.
        let (s, v1) = app.get(&format!("/v1.0/auditLogs/signIns/{id}"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{v1}");
        assert_eq!(v1["riskDetail"], "unknownFutureValue");
        assert_eq!(v1["appliedConditionalAccessPolicies"][0]["result"], "unknownFutureValue");
        assert_eq!(v1["appliedConditionalAccessPolicies"][1]["result"], "success");
        assert!(v1["deviceDetail"].get("browserId").is_none(), "{v1}");
        assert_eq!(v1["deviceDetail"]["browser"], "Edge 80.0.361");
        assert!(v1["appliedConditionalAccessPolicies"][0].get("conditionsSatisfied").is_none(), "{v1}");

        // /v1.0 with it: the members as stored, still no beta members.
        let (_, asked) = app.get_as_stored(&format!("/v1.0/auditLogs/signIns/{id}"), &admin).await;
        assert_eq!(asked["riskDetail"], "adminConfirmedAccountSafe");
        assert_eq!(asked["appliedConditionalAccessPolicies"][0]["result"], "reportOnlyFailure");
        assert!(asked["deviceDetail"].get("browserId").is_none(), "{asked}");

        // /beta with it: everything as stored.
        let (_, beta) = app.get_as_stored(&format!("/beta/auditLogs/signIns/{id}"), &admin).await;
        assert_eq!(beta["deviceDetail"]["browserId"], "1b2f7c0e-browser");
        assert_eq!(beta["appliedConditionalAccessPolicies"][0]["conditionsSatisfied"], "application,users");
        assert_eq!(beta["appliedConditionalAccessPolicies"][0]["result"], "reportOnlyFailure");

        // Lists shape the same way; filters name the stored member.
        let f = enc("appliedConditionalAccessPolicies/any(p: p/result eq 'reportOnlyFailure')");
        let (s, list) = app.get(&format!("/v1.0/auditLogs/signIns?$filter={f}"), &admin).await;
        assert_eq!((s, ids(&list)), (StatusCode::OK, vec![id.to_owned()]), "{list}");
        assert_eq!(list["value"][0]["appliedConditionalAccessPolicies"][0]["result"], "unknownFutureValue");
        assert!(list["value"][0]["deviceDetail"].get("browserId").is_none());
        let f = enc("riskDetail eq 'adminConfirmedAccountSafe'");
        let (_, list) = app.get_as_stored(&format!("/beta/auditLogs/signIns?$filter={f}"), &admin).await;
        assert_eq!(list["value"][0]["riskDetail"], "adminConfirmedAccountSafe");
        assert_eq!(list["value"][0]["deviceDetail"]["browserId"], "1b2f7c0e-browser");

        // An export shapes its documents too.
        let (s, exported) = app.get("/v1.0/auditLogs/signIns?$format=json", &admin).await;
        assert_eq!(s, StatusCode::OK, "{exported}");
        assert_eq!(exported[0]["riskDetail"], "unknownFutureValue", "{exported}");
    })
    .await;
}

#[actix_web::test]
async fn the_older_beta_identity_protection_paths_are_aliases() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let docs: Vec<Value> = (0..3)
            .map(|i| {
                detection_doc(
                    i + 1,
                    now - chrono::Duration::hours(i64::try_from(i).unwrap() + 1),
                    "unlikelyTravel",
                    "high",
                    "Ann",
                )
            })
            .collect();
        let (s, b) = ingest_kind(&app, "riskDetections", TENANT, &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let token = risk_admin(TENANT);
        for (alias, canonical) in [
            ("/beta/riskDetections", "/beta/identityProtection/riskDetections"),
            ("/beta/riskyUsers", "/beta/identityProtection/riskyUsers"),
            ("/BETA/riskdetections?$top=1", "/beta/identityProtection/riskDetections?$top=1"),
        ] {
            let (s1, a) = app.get(alias, &token).await;
            let (s2, c) = app.get(canonical, &token).await;
            assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{alias}: {a}");
            assert_eq!(a["value"], c["value"], "{alias}");
        }
        let id = docs[0]["id"].as_str().unwrap();
        let (s, one) = app.get(&format!("/beta/riskDetections/{id}"), &token).await;
        assert_eq!((s, one["id"].as_str()), (StatusCode::OK, Some(id)), "{one}");
        // Only beta has them, as in Graph.
        let (s, _) = app.get("/v1.0/riskDetections", &token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}
