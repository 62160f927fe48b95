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

/// The purge loop `idtrail serve` runs is started in the test app too (the same
/// `api::startup::start`): with a one-second interval, a row past every tier's window goes
/// without anyone calling purge, and a visible one stays.
#[actix_web::test]
async fn the_purge_loop_deletes_what_no_tier_can_see_on_its_own() {
    for db in databases() {
        eprintln!("-- on {}", db.backend);
        let app = TestApp::with_config(db, |c| c.purge_interval_seconds = 1).await;
        let now = app.now();
        let docs =
            [sign_in_doc(1, now - Duration::days(1), USER_OID), sign_in_doc(2, now - Duration::days(20), USER_OID)];
        let (s, b) = app.ingest(&ingest_token(TENANT_B), &docs).await; // P1: 30 days
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 2);

        app.clock.advance(Duration::days(15));
        let mut purges = app.purges();
        let seen = *purges.borrow_and_update();
        // The second purge from now started after the clock moved.
        tokio::time::timeout(std::time::Duration::from_secs(30), purges.wait_for(|n| *n >= seen + 2))
            .await
            .expect("the purge loop runs every second")
            .expect("the purge loop is alive");
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 1, "the 35-day-old row is gone");
        assert_eq!(app.count_rows("sign_in_ca_policies", TENANT_B), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Directory audits, risk detections, risky users
// ---------------------------------------------------------------------------------------------

use crate::audits_risk::{
    AUDITS, DETECTIONS, RISKY, audit_doc, confirm, detection_doc, dismiss, enc, ingest_kind, risk_admin,
    risky_user_doc, walk,
};

const SIGN_INS: &str = "/v1.0/auditLogs/signIns";
const TENANT_E: &str = "eeeeeeee-0000-4000-8000-000000000005";
const TENANT_F: &str = "ffffffff-0000-4000-8000-000000000006";

fn set_tier(app: &TestApp, tenant: &str, tier: LicenseTier) {
    app.store.set_tenant(&TenantId::parse(tenant).unwrap(), None, tier).unwrap();
}

fn first_ids(docs: &[Value], n: usize) -> Vec<String> {
    docs[..n].iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

fn hours(h: i64) -> Duration {
    Duration::hours(h)
}

/// Asserts a 403 for a tenant below the license: Graph's code, and a message naming the tier.
fn assert_license_refused(s: StatusCode, b: &Value, tier_name: &str, what: &str) {
    assert_eq!(s, StatusCode::FORBIDDEN, "{what}: {b}");
    assert_eq!(b["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "{what}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains(tier_name), "{what}: {message}");
}

#[actix_web::test]
async fn audits_and_detections_keep_each_tiers_window() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        set_tier(&app, TENANT_E, LicenseTier::P2);
        let now = app.now();
        let audit_ages = [6 * 24 + 22, 7 * 24 + 2, 29 * 24 + 22, 30 * 24 + 2];
        let audits: Vec<Value> =
            audit_ages.iter().enumerate().map(|(i, a)| audit_doc(i as u64 + 1, now - hours(*a))).collect();
        let (_, b) = ingest_kind(&app, "directoryAudits", TENANT_E, &audits).await;
        assert_eq!(b, json!({"inserted": 3, "duplicates": 0, "expired": 1}), "30.1 days is past P2's 30");
        let detection_ages = [6 * 24 + 22, 7 * 24 + 2, 29 * 24 + 22, 30 * 24 + 2, 89 * 24 + 22, 90 * 24 + 2];
        let detections: Vec<Value> = detection_ages
            .iter()
            .enumerate()
            .map(|(i, a)| detection_doc(i as u64 + 1, now - hours(*a), "leakedCredentials", "high", "U"))
            .collect();
        let (_, b) = ingest_kind(&app, "riskDetections", TENANT_E, &detections).await;
        assert_eq!(b, json!({"inserted": 5, "duplicates": 0, "expired": 1}), "90.1 days is past P2's 90");
        let admin = risk_admin(TENANT_E);

        // (tier, audits visible, detections visible or refused); p1 → free → p1 hides and shows again.
        for (tier, n_audits, n_detections) in [
            (LicenseTier::P2, 3, Some(5)),
            (LicenseTier::P1, 3, Some(3)),
            (LicenseTier::Free, 1, None),
            (LicenseTier::P1, 3, Some(3)),
            (LicenseTier::P2, 3, Some(5)),
        ] {
            set_tier(&app, TENANT_E, tier);
            let (s, b) = app.get(AUDITS, &admin).await;
            assert_eq!(s, StatusCode::OK, "{tier}: {b}");
            assert_eq!(ids(&b), first_ids(&audits, n_audits), "{tier}");
            let (_, n) = app.get(&format!("{AUDITS}/$count"), &admin).await;
            assert_eq!(n, json!(n_audits), "{tier}");
            for (i, d) in audits.iter().enumerate() {
                let id = d["id"].as_str().unwrap();
                let (s, _) = app.get(&format!("{AUDITS}/{id}"), &admin).await;
                assert_eq!(s == StatusCode::OK, i < n_audits, "{tier}: audit {i} by id");
            }
            let (s, b) = app.get(DETECTIONS, &admin).await;
            match n_detections {
                None => {
                    assert_eq!(s, StatusCode::FORBIDDEN, "{tier}: {b}");
                    assert_eq!(b["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant");
                    let (s, _) = app.get(&format!("{DETECTIONS}/$count"), &admin).await;
                    assert_eq!(s, StatusCode::FORBIDDEN);
                }
                Some(n) => {
                    assert_eq!(s, StatusCode::OK, "{tier}: {b}");
                    assert_eq!(ids(&b), first_ids(&detections, n), "{tier}");
                    let (_, count) = app.get(&format!("{DETECTIONS}/$count"), &admin).await;
                    assert_eq!(count, json!(n), "{tier}");
                    for (i, d) in detections.iter().enumerate() {
                        let id = d["id"].as_str().unwrap();
                        let (s, _) = app.get(&format!("{DETECTIONS}/{id}"), &admin).await;
                        assert_eq!(s == StatusCode::OK, i < n, "{tier}: detection {i} by id");
                    }
                }
            }
        }

        // Three hours later the 29.9-day audit and the 89.9-day detection are past P2's windows.
        app.clock.advance(hours(3));
        let (_, b) = app.get(AUDITS, &admin).await;
        assert_eq!(ids(&b), first_ids(&audits, 2));
        let (_, b) =
            app.get(&format!("{AUDITS}?$filter={}&$count=true", enc("activityDateTime lt 2000-01-01")), &admin).await;
        assert_eq!(b["@odata.count"], 0);
        let (_, b) = app.get(DETECTIONS, &admin).await;
        assert_eq!(ids(&b), first_ids(&detections, 4));

        // Ingest counts what the tenant's tier can no longer see as expired.
        set_tier(&app, TENANT_E, LicenseTier::Free);
        let now = app.now();
        let fresh = [audit_doc(11, now - hours(6 * 24 + 23)), audit_doc(12, now - hours(7 * 24 + 1))];
        let (_, b) = ingest_kind(&app, "directoryAudits", TENANT_E, &fresh).await;
        assert_eq!(b, json!({"inserted": 1, "duplicates": 0, "expired": 1}));
        set_tier(&app, TENANT_E, LicenseTier::P1);
        let fresh = [
            detection_doc(11, now - hours(29 * 24 + 23), "generic", "low", "U"),
            detection_doc(12, now - hours(30 * 24 + 1), "generic", "low", "U"),
        ];
        let (_, b) = ingest_kind(&app, "riskDetections", TENANT_E, &fresh).await;
        assert_eq!(b, json!({"inserted": 1, "duplicates": 0, "expired": 1}));
    })
    .await;
}

#[actix_web::test]
async fn risky_users_stay_while_at_risk_and_otherwise_follow_the_detection_window() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let admin = risk_admin(TENANT_A); // P2: 90 days
        let users = [
            ("remediated", 29 * 24 + 22),
            ("dismissed", 30 * 24 + 2),
            ("remediated", 89 * 24 + 22),
            ("remediated", 90 * 24 + 2),
            ("atRisk", 200 * 24),
            ("confirmedCompromised", 150 * 24),
        ];
        let docs: Vec<Value> = users
            .iter()
            .enumerate()
            .map(|(i, (state, age))| {
                risky_user_doc(&guid(300 + i as u64), now - hours(*age), state, "none", "none", "U")
            })
            .collect();
        let (s, b) = ingest_kind(&app, "riskyUsers", TENANT_A, &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let id = |i: usize| guid(300 + i as u64);
        let (_, b) = app.get(RISKY, &admin).await;
        assert_eq!(ids(&b), [0, 1, 2, 5, 4].map(id).to_vec());
        let (_, n) = app.get(&format!("{RISKY}/$count"), &admin).await;
        assert_eq!(n, json!(5));
        let hidden = id(3);
        assert_eq!(app.get(&format!("{RISKY}/{hidden}"), &admin).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("{RISKY}/{hidden}/history"), &admin).await.0, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("{RISKY}/{hidden}/history/$count"), &admin).await.0, StatusCode::NOT_FOUND);
        let (s, b) = app.get(&format!("{RISKY}/{}/history", id(4)), &admin).await;
        assert_eq!((s, b["value"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{b}");
        // No filter reaches a hidden user.
        let (_, b) = app.get(&format!("{RISKY}?$filter={}", enc(&format!("id eq '{hidden}'"))), &admin).await;
        assert_eq!(b["value"], json!([]));
        // An action on a hidden user is ignored like an unknown one.
        let history_rows = app.count_rows("risky_user_history", TENANT_A);
        assert_eq!(dismiss(&app, &admin, &[hidden.as_str()]).await.0, StatusCode::NO_CONTENT);
        assert_eq!(app.count_rows("risky_user_history", TENANT_A), history_rows);
        assert_eq!(app.count_rows("directory_audits", TENANT_A), 0);

        app.clock.advance(hours(3));
        let (_, b) = app.get(RISKY, &admin).await;
        assert_eq!(ids(&b), [0, 1, 5, 4].map(id).to_vec(), "the 89.9-day closed user left");
        let (docs, _) = walk(&app, &format!("{RISKY}?$top=1"), &admin).await;
        assert_eq!(docs.len(), 4);
    })
    .await;
}

#[actix_web::test]
async fn identity_protection_license_gates() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        set_tier(&app, TENANT_F, LicenseTier::Free);
        let now = app.now();
        let u = guid(310);
        for t in [TENANT_B, TENANT_F] {
            ingest_kind(&app, "riskyUsers", t, &[risky_user_doc(&u, now, "atRisk", "high", "none", "U")]).await;
            ingest_kind(&app, "riskDetections", t, &[detection_doc(1, now, "leakedCredentials", "high", "U")]).await;
            ingest_kind(&app, "directoryAudits", t, &[audit_doc(1, now)]).await;
        }
        for t in [TENANT_B, TENANT_F] {
            let admin = risk_admin(t);
            for path in [
                RISKY.to_owned(),
                format!("{RISKY}/$count"),
                format!("{RISKY}/{u}"),
                format!("{RISKY}/{u}/history"),
                format!("{RISKY}/{u}/history/$count"),
                format!("/beta/identityProtection/riskyUsers?$filter={}", enc("riskLevel eq 'high'")),
            ] {
                let (s, b) = app.get(&path, &admin).await;
                assert_license_refused(s, &b, "P2", &format!("{t} {path}"));
            }
            for (s, b) in [dismiss(&app, &admin, &[u.as_str()]).await, confirm(&app, &admin, &[u.as_str()]).await] {
                assert_license_refused(s, &b, "P2", &format!("{t} action"));
            }
            // Application callers too; a missing permission is reported first.
            let (s, b) = app.get(RISKY, &app_token(t, &["IdentityRiskyUser.Read.All"])).await;
            assert_license_refused(s, &b, "P2", "app");
            let (_, b) = app.get(RISKY, &app_token(t, &["AuditLog.Read.All"])).await;
            assert_eq!(b["error"]["code"], "Authentication_MSGraphPermissionMissing");
            // Directory audits are read on every tier.
            let (s, b) = app.get(AUDITS, &admin).await;
            assert_eq!((s, b["value"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{t}: {b}");
        }
        assert_eq!(app.count_rows("risky_user_history", TENANT_B), 1, "the refused actions wrote nothing");
        assert_eq!(app.count_rows("directory_audits", TENANT_B), 1);
        // Risk detections: P1 reads them, Free does not.
        let (s, b) = app.get(DETECTIONS, &risk_admin(TENANT_B)).await;
        assert_eq!((s, b["value"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{b}");
        for path in [DETECTIONS.to_owned(), format!("{DETECTIONS}/$count"), format!("{DETECTIONS}/{:064x}", 1)] {
            let (s, b) = app.get(&path, &risk_admin(TENANT_F)).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {b}");
            assert_eq!(b["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant");
        }
        // An upgrade applies at once.
        set_tier(&app, TENANT_B, LicenseTier::P2);
        let (s, b) = app.get(RISKY, &risk_admin(TENANT_B)).await;
        assert_eq!((s, ids(&b)), (StatusCode::OK, vec![u.clone()]));
    })
    .await;
}

/// The detections of the masking test: (event type, level, detail).
const MASKED: [(&str, &str, &str); 6] = [
    ("unfamiliarFeatures", "high", "userPassedMFADrivenByRiskBasedPolicy"),
    ("leakedCredentials", "high", "none"),
    ("anonymizedIPAddress", "medium", "none"),
    ("unlikelyTravel", "low", "adminDismissedAllRiskForSignIn"),
    ("unfamiliarFeatures", "medium", "none"),
    ("generic", "low", "none"),
];

#[actix_web::test]
async fn risk_detections_read_hidden_and_generic_below_p2_and_cannot_be_probed() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let docs: Vec<Value> = MASKED
            .iter()
            .enumerate()
            .map(|(i, (event, level, detail))| {
                let mut d = detection_doc(i as u64 + 1, now - Duration::minutes(i as i64 + 1), event, level, "U");
                d["riskDetail"] = json!(detail);
                d
            })
            .collect();
        assert_eq!(ingest_kind(&app, "riskDetections", TENANT_B, &docs).await.0, StatusCode::OK); // P1
        let admin = risk_admin(TENANT_B);
        let shown = |event: &str| -> String {
            if ["leakedCredentials", "anonymizedIPAddress", "generic"].contains(&event) {
                event.into()
            } else {
                "generic".into()
            }
        };

        let (_, b) = app.get(DETECTIONS, &admin).await;
        for (d, (event, _, _)) in b["value"].as_array().unwrap().iter().zip(MASKED) {
            assert_eq!(d["riskLevel"], "hidden", "{d}");
            assert_eq!(d["riskDetail"], "hidden", "{d}");
            assert_eq!(d["riskEventType"], json!(shown(event)), "{d}");
            assert_eq!(d["riskState"], "atRisk", "riskState is not masked");
        }
        let id1 = docs[0]["id"].as_str().unwrap();
        let (_, d) = app.get(&format!("{DETECTIONS}/{id1}"), &admin).await;
        assert_eq!((d["riskLevel"].as_str(), d["riskEventType"].as_str()), (Some("hidden"), Some("generic")));
        let (_, d) = app.get(&format!("{DETECTIONS}/{id1}?$select=riskLevel,riskDetail,riskEventType"), &admin).await;
        assert_eq!(
            (d["riskLevel"].as_str(), d["riskDetail"].as_str(), d["riskEventType"].as_str()),
            (Some("hidden"), Some("hidden"), Some("generic"))
        );

        for (filter, expected) in [
            ("riskLevel eq 'high'", 0),
            ("riskLevel ne 'high'", 6),
            ("riskLevel eq 'hidden'", 6),
            ("riskLevel eq microsoft.graph.riskLevel'medium'", 0),
            ("riskDetail eq 'userPassedMFADrivenByRiskBasedPolicy'", 0),
            ("riskEventType eq 'unfamiliarFeatures'", 0),
            ("riskEventType eq 'unlikelyTravel'", 0),
            ("startswith(riskEventType, 'unf')", 0),
            ("riskEventType eq 'unfamiliarFeatures' or riskLevel eq 'medium'", 0),
            ("riskEventType eq 'generic'", 4),
            ("riskEventType ne 'generic'", 2),
            ("riskEventType eq 'leakedCredentials'", 1),
        ] {
            let f = enc(filter);
            let (s, b) = app.get(&format!("{DETECTIONS}?$filter={f}&$count=true"), &admin).await;
            assert_eq!(s, StatusCode::OK, "{filter}: {b}");
            assert_eq!(b["@odata.count"].as_i64(), Some(expected), "{filter}");
            assert_eq!(b["value"].as_array().unwrap().len() as i64, expected, "{filter}");
            let (_, n) = app.get(&format!("{DETECTIONS}/$count?$filter={f}"), &admin).await;
            assert_eq!(n, json!(expected), "/$count {filter}");
        }
        // Sorting on a hidden field orders by id alone; on riskEventType, by what the tenant sees.
        let mut by_id: Vec<String> = docs.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
        by_id.sort();
        by_id.reverse();
        for order in ["riskLevel desc", "riskDetail desc"] {
            let (walked, _) = walk(&app, &format!("{DETECTIONS}?$orderby={}&$top=2", enc(order)), &admin).await;
            let got: Vec<String> = walked.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
            assert_eq!(got, by_id, "{order}");
        }
        let mut seen: Vec<(String, String)> = docs
            .iter()
            .zip(MASKED)
            .map(|(d, (event, _, _))| (shown(event).to_lowercase(), d["id"].as_str().unwrap().to_owned()))
            .collect();
        seen.sort();
        let (walked, _) =
            walk(&app, &format!("{DETECTIONS}?$orderby={}&$top=2", enc("riskEventType asc")), &admin).await;
        let got: Vec<String> = walked.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got, seen.into_iter().map(|(_, id)| id).collect::<Vec<_>>(), "riskEventType asc");

        // On P2 the same rows are visible and filterable.
        set_tier(&app, TENANT_B, LicenseTier::P2);
        let (_, b) = app.get(&format!("{DETECTIONS}?$filter={}", enc("riskLevel eq 'high'")), &admin).await;
        assert_eq!(b["value"].as_array().unwrap().len(), 2);
        let (_, b) =
            app.get(&format!("{DETECTIONS}?$filter={}", enc("riskEventType eq 'unfamiliarFeatures'")), &admin).await;
        assert_eq!(b["value"][0]["riskEventType"], "unfamiliarFeatures");
    })
    .await;
}

#[actix_web::test]
async fn beta_risk_type_cannot_reveal_premium_detections_below_p2() {
    // Beta serves the deprecated `riskType` (the same detection type as `riskEventType`): below P2
    // it must not name a premium detection that `riskEventType` reads as `generic`.
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let docs = [detection_doc(1, app.now(), "unfamiliarFeatures", "high", "U")];
        assert_eq!(ingest_kind(&app, "riskDetections", TENANT_B, &docs).await.0, StatusCode::OK); // P1
        let admin = risk_admin(TENANT_B);
        let id = docs[0]["id"].as_str().unwrap();
        for path in [
            "/beta/identityProtection/riskDetections".to_owned(),
            format!("/beta/identityProtection/riskDetections/{id}"),
            "/beta/identityProtection/riskDetections?$select=riskType,riskEventType".to_owned(),
        ] {
            let (s, b) = app.get(&path, &admin).await;
            assert_eq!(s, StatusCode::OK, "{b}");
            let d = if b.get("value").is_some() { b["value"][0].clone() } else { b.clone() };
            assert_eq!(d["riskEventType"], "generic", "{path}");
            assert_ne!(d["riskType"], "unfamiliarFeatures", "{path}: riskType leaks the premium detection: {d}");
        }
    })
    .await;
}

#[actix_web::test]
async fn purge_removes_expired_audits_detections_and_closed_risky_users() {
    each_backend(|app| async move {
        let now = app.now();
        for t in [TENANT_A, TENANT_B, TENANT_F] {
            set_tier(&app, t, LicenseTier::P2);
        }
        let audit_days = [1i64, 5, 10, 20, 29];
        let detection_days = [1i64, 5, 10, 20, 29, 45, 80];
        let at = |d: i64| now - Duration::days(d) + hours(1);
        let audits: Vec<Value> = audit_days.iter().enumerate().map(|(i, d)| audit_doc(i as u64 + 1, at(*d))).collect();
        let detections: Vec<Value> = detection_days
            .iter()
            .enumerate()
            .map(|(i, d)| detection_doc(i as u64 + 1, at(*d), "generic", "low", "U"))
            .collect();
        // Closed users 5, 20, 45 and 80 days ago (the last with an older state too), one at risk.
        let mut users: Vec<Value> =
            [(5i64, "remediated"), (20, "dismissed"), (45, "remediated"), (80, "remediated"), (200, "atRisk")]
                .iter()
                .enumerate()
                .map(|(i, (d, state))| risky_user_doc(&guid(320 + i as u64), at(*d), state, "none", "none", "U"))
                .collect();
        users.push(risky_user_doc(&guid(323), at(85), "atRisk", "high", "none", "U"));
        for t in [TENANT_A, TENANT_B, TENANT_F] {
            for (kind, docs) in [("directoryAudits", &audits), ("riskDetections", &detections), ("riskyUsers", &users)]
            {
                let (s, b) = ingest_kind(&app, kind, t, docs).await;
                assert_eq!(s, StatusCode::OK, "{kind}: {b}");
                assert_eq!(b["expired"], 0, "{kind}");
            }
        }
        set_tier(&app, TENANT_B, LicenseTier::P1);
        set_tier(&app, TENANT_F, LicenseTier::Free);
        const TABLES: [&str; 6] = [
            "directory_audits",
            "directory_audit_targets",
            "directory_audit_details",
            "risk_detections",
            "risky_users",
            "risky_user_history",
        ];
        let counts = |t: &str| TABLES.map(|table| app.count_rows(table, t));
        let full = [5, 10, 5, 7, 5, 6];
        for t in [TENANT_A, TENANT_B, TENANT_F] {
            assert_eq!(counts(t), full, "{t}");
        }
        let others = |r: &storage::purge::PurgeReport| {
            let mut v: Vec<(String, String, u64)> =
                r.others.iter().map(|(set, t, n)| ((*set).to_owned(), t.clone(), *n)).collect();
            v.sort();
            v
        };
        let mut want = vec![
            ("auditLogs/directoryAudits".to_owned(), TENANT_F.to_owned(), 3),
            ("identityProtection/riskDetections".to_owned(), TENANT_B.to_owned(), 2),
            ("identityProtection/riskDetections".to_owned(), TENANT_F.to_owned(), 5),
            ("identityProtection/riskyUsers".to_owned(), TENANT_B.to_owned(), 2),
            ("identityProtection/riskyUsers".to_owned(), TENANT_F.to_owned(), 3),
        ];
        want.sort();
        let dry = app.store.purge(true).unwrap();
        assert_eq!(others(&dry), want, "{dry:?}");
        for t in [TENANT_A, TENANT_B, TENANT_F] {
            assert_eq!(counts(t), full, "a dry run deletes nothing: {t}");
        }
        let report = app.store.purge(false).unwrap();
        assert_eq!(others(&report), want, "{report:?}");
        assert_eq!(counts(TENANT_A), full);
        // P1: audits kept (30 days); detections and closed users past 30 days go, with history.
        assert_eq!(counts(TENANT_B), [5, 10, 5, 5, 3, 3]);
        // Free: 7 days for all three; the user at risk stays whatever its age.
        assert_eq!(counts(TENANT_F), [2, 4, 2, 2, 2, 2]);
        // What is left is what each tier sees.
        let (_, b) = app.get(AUDITS, &risk_admin(TENANT_F)).await;
        assert_eq!(ids(&b).len(), 2);
        let (_, b) = app.get(DETECTIONS, &risk_admin(TENANT_B)).await;
        assert_eq!(ids(&b).len(), 5);

        // Eleven days later P2's windows pass too: audits of 20 and 29 days, the 80-day detection,
        // the user closed 80 days ago (with its two history items).
        app.clock.advance(Duration::days(11));
        let report = app.store.purge(false).unwrap();
        assert_eq!(counts(TENANT_A), [3, 6, 3, 6, 4, 4], "{report:?}");
        let (_, b) = app.get(RISKY, &risk_admin(TENANT_A)).await;
        assert_eq!(ids(&b).len(), 4);
        // Purged rows come back only if inside the window.
        let (_, b) = ingest_kind(&app, "directoryAudits", TENANT_A, &audits).await;
        assert_eq!(b, json!({"inserted": 0, "duplicates": 3, "expired": 2}));
    })
    .await;
}

/// A tier changed by another process (`idtrail tenant set`, another instance) applies once the
/// tier this instance keeps is [`storage::TIER_REFRESH`] old; one changed through it, at once.
#[actix_web::test]
async fn a_tier_changed_elsewhere_applies_within_the_refresh_time() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        set_tier(&app, TENANT_E, LicenseTier::P2);
        let admin = risk_admin(TENANT_E);
        let (s, _) = app.get(DETECTIONS, &admin).await;
        assert_eq!(s, StatusCode::OK, "P2 reads risk detections");

        let elsewhere = storage::Store::open(&app.db.url, 1).unwrap();
        elsewhere.set_tenant(&TenantId::parse(TENANT_E).unwrap(), None, LicenseTier::Free).unwrap();
        let (s, _) = app.get(DETECTIONS, &admin).await;
        assert_eq!(s, StatusCode::OK, "the tier read a moment ago is still used");
        std::thread::sleep(storage::TIER_REFRESH + std::time::Duration::from_millis(50));
        let (s, b) = app.get(DETECTIONS, &admin).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "after the refresh time: {b}");
        assert_eq!(b["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant");

        set_tier(&app, TENANT_E, LicenseTier::P2);
        let (s, _) = app.get(DETECTIONS, &admin).await;
        assert_eq!(s, StatusCode::OK, "a change through this instance applies at once");
    })
    .await;
}

/// Below P2 a sign-in's risk event types follow the detections' rule: premium types read `generic`
/// in responses, and no filter, count or order on them (nor on a detection's `additionalInfo`) can
/// tell them apart.
#[actix_web::test]
async fn premium_risk_detail_cannot_be_probed_below_p2() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let now = app.now();
        let types: [&[&str]; 4] =
            [&["unfamiliarFeatures"], &["unlikelyTravel", "unfamiliarFeatures"], &["leakedCredentials"], &[]];
        let docs: Vec<Value> = types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut d = sign_in_doc(i as u64 + 1, now - Duration::minutes(i as i64 + 1), USER_OID);
                d["riskEventTypes"] = json!(t);
                d["riskEventTypes_v2"] = json!(t);
                d
            })
            .collect();
        assert_eq!(app.ingest(&ingest_token(TENANT_B), &docs).await.0, StatusCode::OK); // P1
        let admin = admin_token(TENANT_B);
        let (_, b) = app.get(SIGN_INS, &admin).await;
        let shown: Vec<Value> = b["value"].as_array().unwrap().iter().map(|d| d["riskEventTypes_v2"].clone()).collect();
        assert_eq!(shown, [json!(["generic"]), json!(["generic"]), json!(["leakedCredentials"]), json!([])]);
        let v1: Vec<Value> = b["value"].as_array().unwrap().iter().map(|d| d["riskEventTypes"].clone()).collect();
        assert_eq!(v1, shown, "riskEventTypes reads like riskEventTypes_v2");
        let id = docs[1]["id"].as_str().unwrap();
        let (_, d) = app.get(&format!("{SIGN_INS}/{id}?$select=riskEventTypes_v2"), &admin).await;
        assert_eq!(d["riskEventTypes_v2"], json!(["generic"]), "{d}");
        for (filter, expected) in [
            ("riskEventTypes_v2/any(t: t eq 'unfamiliarFeatures')", 0),
            ("riskEventTypes/any(t: t eq 'unfamiliarFeatures')", 0),
            ("riskEventTypes_v2/any(t: t eq 'unlikelyTravel')", 0),
            ("riskEventTypes_v2/any(t: contains(t, 'unfamiliar'))", 0),
            ("riskEventTypes_v2/any(t: startswith(t, 'unlikely'))", 0),
            ("riskEventTypes_v2/any(t: t in ('unfamiliarFeatures', 'unlikelyTravel'))", 0),
            ("riskEventTypes_v2/all(t: t ne 'unlikelyTravel')", 4),
            ("riskEventTypes_v2/all(t: t eq 'generic')", 3),
            ("riskEventTypes_v2/any(t: t eq 'generic')", 2),
            ("riskEventTypes/any(t: t eq 'generic')", 2),
            ("riskEventTypes_v2/any(t: t eq 'leakedCredentials')", 1),
            ("riskEventTypes_v2/any(t: length(t) eq 18)", 0),
        ] {
            let f = enc(filter);
            let (s, b) = app.get(&format!("{SIGN_INS}?$filter={f}&$count=true"), &admin).await;
            assert_eq!(s, StatusCode::OK, "{filter}: {b}");
            assert_eq!(b["@odata.count"].as_i64(), Some(expected), "{filter}");
            let (_, n) = app.get(&format!("{SIGN_INS}/$count?$filter={f}"), &admin).await;
            assert_eq!(n, json!(expected), "/$count {filter}");
        }
        // The collections cannot be sorted on at all.
        let (s, _) = app.get(&format!("{SIGN_INS}?$orderby=riskEventTypes_v2"), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // A detection's additionalInfo would name the premium detection (related locations for
        // travel, user agents for unfamiliar features): hidden, and filters on it find nothing.
        let mut detection = detection_doc(1, now, "unlikelyTravel", "high", "U");
        detection["additionalInfo"] = json!("[{\"Key\":\"relatedLocation\",\"Value\":{\"city\":\"Paris\"}}]");
        assert_eq!(ingest_kind(&app, "riskDetections", TENANT_B, &[detection]).await.0, StatusCode::OK);
        let risk = risk_admin(TENANT_B);
        let (_, b) = app.get(DETECTIONS, &risk).await;
        assert_eq!(b["value"][0]["additionalInfo"], "hidden", "{b}");
        for filter in [
            "contains(additionalInfo, 'relatedLocation')",
            "riskEventType eq 'generic' and contains(additionalInfo, 'relatedLocation')",
            "startswith(additionalInfo, '[')",
        ] {
            let (_, n) = app.get(&format!("{DETECTIONS}/$count?$filter={}", enc(filter)), &risk).await;
            assert_eq!(n, json!(0), "{filter}");
        }
        // On P2 everything reads as stored.
        set_tier(&app, TENANT_B, LicenseTier::P2);
        let (_, n) = app
            .get(
                &format!("{SIGN_INS}/$count?$filter={}", enc("riskEventTypes_v2/any(t: t eq 'unfamiliarFeatures')")),
                &admin,
            )
            .await;
        assert_eq!(n, json!(2));
        let (_, n) = app
            .get(&format!("{DETECTIONS}/$count?$filter={}", enc("contains(additionalInfo, 'relatedLocation')")), &risk)
            .await;
        assert_eq!(n, json!(1));
    })
    .await;
}
