//! Tenants, license gates and retention, applied in storage: windows per tier, tier changes that
//! take effect at once, hidden risk fields that cannot be probed, purge, expired ingest.

use actix_web::http::StatusCode;
use chrono::Duration;
use domain::ids::{LicenseTier, TenantId};
use serde_json::{Value, json};

use crate::support::*;

fn tenant_a() -> TenantId {
    TenantId::parse(TENANT_A).unwrap()
}

fn ids(body: &Value) -> Vec<String> {
    body["value"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn each_tier_sees_its_window_and_a_tier_change_applies_at_once() {
    each_backend(|app| async move {
        let now = app.now();
        // Rows 1, 6.9, 7.1, 29.9 and 30.1 days old, stored while the tenant is on P2.
        let ages = [
            Duration::days(1),
            Duration::hours(6 * 24 + 22),
            Duration::hours(7 * 24 + 2),
            Duration::hours(29 * 24 + 22),
            Duration::hours(30 * 24 + 2),
        ];
        let docs: Vec<Value> =
            ages.iter().enumerate().map(|(i, age)| sign_in_doc(i as u64 + 1, now - *age, USER_OID)).collect();
        let (_, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(b, json!({"inserted": 4, "duplicates": 0, "expired": 1}), "30.1 days is past P2's 30 days");
        let admin = admin_token(TENANT_A);
        let expect = |n: usize| docs[..n].iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

        let (_, b) = app.get("/v1.0/auditLogs/signIns", &admin).await;
        assert_eq!(ids(&b), expect(4));
        let start = b["@idtrail.retentionStart"].as_str().unwrap();
        assert!(domain::time::parse_ticks(start).unwrap() < domain::time::to_ticks(now - Duration::days(29)));

        for (tier, visible) in [(LicenseTier::P1, 4), (LicenseTier::Free, 2), (LicenseTier::P1, 4)] {
            app.store.set_tenant(&tenant_a(), None, tier).unwrap();
            // Plain users read their own sign-ins on every tier, clamped the same way.
            let (s, b) = app.get("/v1.0/auditLogs/signIns", &user_token(TENANT_A, USER_OID)).await;
            assert_eq!(s, StatusCode::OK, "{tier}: {b}");
            assert_eq!(ids(&b), expect(visible), "{tier}");
            let (_, count) = app.get("/v1.0/auditLogs/signIns/$count", &user_token(TENANT_A, USER_OID)).await;
            assert_eq!(count, json!(visible), "{tier}");
            let old = docs[3]["id"].as_str().unwrap();
            let (s, _) = app.get(&format!("/v1.0/auditLogs/signIns/{old}"), &user_token(TENANT_A, USER_OID)).await;
            assert_eq!(s == StatusCode::OK, visible == 4, "{tier}: by id");
        }

        // Time passes: a row leaves the window at once, whatever the query or skiptoken.
        app.store.set_tenant(&tenant_a(), None, LicenseTier::P2).unwrap();
        let (_, first) = app.get("/v1.0/auditLogs/signIns?$top=1", &admin).await;
        let next = first["@odata.nextLink"].as_str().unwrap().trim_start_matches("https://idtrail.test").to_owned();
        app.clock.advance(Duration::hours(5));
        let mut rest = Vec::new();
        let mut path = Some(next);
        while let Some(p) = path {
            let (_, b) = app.get(&p, &admin).await;
            rest.extend(ids(&b));
            path = b["@odata.nextLink"].as_str().map(|n| n.trim_start_matches("https://idtrail.test").to_owned());
        }
        assert_eq!(rest, expect(3)[1..].to_vec(), "the 29.9-day row is gone");
        let (_, b) =
            app.get("/v1.0/auditLogs/signIns?$filter=createdDateTime%20lt%202000-01-01&$count=true", &admin).await;
        assert_eq!((b["value"].as_array().unwrap().len(), b["@odata.count"].as_i64()), (0, Some(0)));
    })
    .await;
}

#[actix_web::test]
async fn license_gates_use_graphs_codes_in_graphs_order() {
    each_backend(|app| async move {
        let free = "dddddddd-0000-4000-8000-000000000004";
        app.store.set_tenant(&TenantId::parse(free).unwrap(), None, LicenseTier::Free).unwrap();
        app.ingest(&ingest_token(free), &[sign_in_doc(1, app.now(), USER_OID)]).await;

        let (s, b) = app.get("/v1.0/auditLogs/signIns", &admin_token(free)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        assert_eq!(b["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant");
        assert_eq!(b["error"]["message"], "Neither tenant is B2C or tenant doesn't have premium license");
        let (s, _) = app.get("/v1.0/auditLogs/signIns/$count", &admin_token(free)).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Permission is checked before the license.
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &app_token(free, &["Other.Permission"])).await;
        assert_eq!(b["error"]["code"], "Authentication_MSGraphPermissionMissing");
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &app_token(free, &["AuditLog.Read.All"])).await;
        assert_eq!(b["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant");
        // A user's own sign-ins work on every tier.
        let (s, b) = app.get("/v1.0/auditLogs/signIns", &user_token(free, USER_OID)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["value"].as_array().unwrap().len(), 1);

        let (s, b) = app.get("/idtrail/tenant", &user_token(free, USER_OID)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["license"], "free");
        assert_eq!(b["retention"]["signIns"]["days"], 7);
        assert_eq!(b["retention"]["riskDetections"]["days"], 7);
        assert_eq!(b["features"]["tenantWideSignIns"], false);
        let (_, b) = app.get("/idtrail/tenant", &admin_token(TENANT_B)).await;
        assert_eq!((b["license"].as_str(), b["retention"]["signIns"]["days"].as_i64()), (Some("p1"), Some(30)));
    })
    .await;
}

#[actix_web::test]
async fn risk_fields_read_hidden_below_p2_and_cannot_be_probed() {
    each_backend(|app| async move {
        let now = app.now();
        let mut docs: Vec<Value> =
            (1..=6).map(|n| sign_in_doc(n, now - Duration::minutes(n as i64), USER_OID)).collect();
        for d in docs.iter_mut().take(2) {
            d["riskLevelDuringSignIn"] = json!("high");
            d["riskLevelAggregated"] = json!("high");
            d["riskDetail"] = json!("userPassedMFADrivenByRiskBasedPolicy");
        }
        app.ingest(&ingest_token(TENANT_B), &docs).await; // TENANT_B is P1
        let admin = admin_token(TENANT_B);
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &admin).await;
        for d in b["value"].as_array().unwrap() {
            for f in ["riskLevelDuringSignIn", "riskLevelAggregated", "riskDetail"] {
                assert_eq!(d[f], "hidden", "{f}");
            }
            assert_eq!(d["riskState"], "none", "riskState is not a P2 field");
        }
        for (filter, expected) in [
            ("riskLevelDuringSignIn eq 'high'", 0),
            ("riskLevelDuringSignIn ne 'high'", 6),
            ("riskLevelDuringSignIn eq 'hidden'", 6),
            ("riskDetail eq 'userPassedMFADrivenByRiskBasedPolicy' or riskLevelAggregated eq 'high'", 0),
            ("riskLevelDuringSignIn eq null", 0),
        ] {
            let encoded = filter.replace(' ', "%20");
            let (s, b) = app.get(&format!("/v1.0/auditLogs/signIns?$filter={encoded}&$count=true"), &admin).await;
            assert_eq!(s, StatusCode::OK, "{filter}: {b}");
            assert_eq!(b["@odata.count"].as_i64(), Some(expected), "{filter}");
            assert_eq!(b["value"].as_array().unwrap().len() as i64, expected, "{filter}");
            let (_, n) = app.get(&format!("/v1.0/auditLogs/signIns/$count?$filter={encoded}"), &admin).await;
            assert_eq!(n, json!(expected), "{filter}");
        }
        // Sorting on a hidden field orders by id alone: it cannot reveal which rows are risky.
        let mut walked = Vec::new();
        let mut path = "/v1.0/auditLogs/signIns?$orderby=riskLevelDuringSignIn%20desc&$top=4".to_owned();
        loop {
            let (s, b) = app.get(&path, &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            walked.extend(ids(&b));
            match b["@odata.nextLink"].as_str() {
                Some(n) => path = n.trim_start_matches("https://idtrail.test").to_owned(),
                None => break,
            }
        }
        let mut by_id: Vec<String> = docs.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
        by_id.sort();
        by_id.reverse();
        assert_eq!(walked, by_id);

        // On P2 the same data is visible, and filterable.
        app.store.set_tenant(&TenantId::parse(TENANT_B).unwrap(), None, LicenseTier::P2).unwrap();
        let (_, b) = app.get("/v1.0/auditLogs/signIns?$filter=riskLevelDuringSignIn%20eq%20'high'", &admin).await;
        assert_eq!(b["value"].as_array().unwrap().len(), 2);
        assert_eq!(b["value"][0]["riskLevelDuringSignIn"], "high");
    })
    .await;
}

#[actix_web::test]
async fn purge_removes_exactly_what_no_tier_can_see() {
    each_backend(|app| async move {
        let now = app.now();
        let ages = [1i64, 3, 10, 20, 29];
        let docs: Vec<Value> = ages
            .iter()
            .enumerate()
            .map(|(i, d)| sign_in_doc(i as u64 + 1, now - Duration::days(*d) + Duration::hours(1), USER_OID))
            .collect();
        app.ingest(&ingest_token(TENANT_A), &docs).await; // P2
        app.ingest(&ingest_token(TENANT_B), &docs).await; // P1
        app.store.set_tenant(&TenantId::parse(TENANT_B).unwrap(), None, LicenseTier::Free).unwrap();

        let dry = app.store.purge(true).unwrap();
        assert_eq!(dry.total_sign_ins(), 3, "{dry:?}");
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 5, "a dry run deletes nothing");

        let report = app.store.purge(false).unwrap();
        assert_eq!(report.total_sign_ins(), 3, "{report:?}");
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 2);
        assert_eq!(app.count_rows("sign_in_ca_policies", TENANT_B), 2);
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 5);

        // Ten days later, P2's 30 days have passed for the oldest row: on PostgreSQL its whole day
        // partition goes; everywhere the row goes.
        app.clock.advance(Duration::days(10));
        let report = app.store.purge(false).unwrap();
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 4, "{report:?}");
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 0, "{report:?}");
        if app.db.backend == "postgres" {
            assert!(!report.dropped_partitions.is_empty(), "{report:?}");
            assert_eq!(app.count_rows("sign_in_keys", TENANT_A), 4);
        }
        // Purged rows can be ingested again only if they are inside the window.
        let (_, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(b, json!({"inserted": 0, "duplicates": 4, "expired": 1}));
    })
    .await;
}
