//! Ingest: validation, all-or-nothing batches, idempotent retries, framing, limits.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn a_retried_batch_stores_no_duplicate() {
    each_backend(|app| async move {
        let now = app.now();
        let docs: Vec<Value> =
            (1..=10).map(|n| sign_in_doc(n, now - Duration::hours(i64::try_from(n).unwrap()), USER_OID)).collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 10, "duplicates": 0, "expired": 0})));
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 0, "duplicates": 10, "expired": 0})));
        // Repeats inside one batch count as duplicates too.
        let repeated = vec![sign_in_doc(77, now, USER_OID), sign_in_doc(77, now, USER_OID)];
        let (_, b) = app.ingest(&ingest_token(TENANT_A), &repeated).await;
        assert_eq!(b, json!({"inserted": 1, "duplicates": 1, "expired": 0}));
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 11);
        assert_eq!(app.count_rows("sign_in_ca_policies", TENANT_A), 11);
        // The same ids in another tenant are that tenant's own rows.
        let (_, b) = app.ingest(&ingest_token(TENANT_B), &docs).await;
        assert_eq!(b, json!({"inserted": 10, "duplicates": 0, "expired": 0}));
    })
    .await;
}

#[actix_web::test]
async fn one_bad_record_refuses_the_whole_batch() {
    each_backend(|app| async move {
        let now = app.now();
        let mut docs: Vec<Value> = (1..=6).map(|n| sign_in_doc(n, now, USER_OID)).collect();
        docs[2]["status"]["errorCode"] = json!("not a number");
        docs[4].as_object_mut().unwrap().remove("userId");
        docs[5]["createdDateTime"] = json!("last tuesday");
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["error"]["code"], "BadRequest");
        let details = b["error"]["details"].as_array().unwrap();
        let indexes: Vec<u64> = details.iter().map(|d| d["index"].as_u64().unwrap()).collect();
        assert_eq!(indexes, vec![2, 4, 5]);
        assert!(details[0]["message"].as_str().unwrap().contains("status.errorCode"), "{b}");
        assert!(details[1]["message"].as_str().unwrap().contains("userId"), "{b}");
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 0, "nothing stored");
    })
    .await;
}

#[actix_web::test]
async fn bad_enum_guid_and_tenant_values_are_named() {
    each_backend(|app| async move {
        let now = app.now();
        let cases = [
            ("riskLevelDuringSignIn", json!("very high!"), "riskLevelDuringSignIn"),
            ("userId", json!("not-a-guid"), "userId"),
            ("id", json!(12), "id"),
            ("tenantId", json!(TENANT_B), "tenantId"),
        ];
        for (key, value, expect) in cases {
            let mut doc = sign_in_doc(1, now, USER_OID);
            doc[key] = value;
            let (s, b) = app.ingest(&ingest_token(TENANT_A), &[doc]).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{key}: {b}");
            assert!(b["error"]["details"][0]["message"].as_str().unwrap().contains(expect), "{key}: {b}");
        }
        // A member Graph adds later is accepted and kept as sent.
        let mut doc = sign_in_doc(2, now, USER_OID);
        doc["riskState"] = json!("someFutureState");
        doc["tenantId"] = json!(TENANT_A.to_uppercase());
        let (s, b) = app.ingest(&ingest_token(TENANT_A), std::slice::from_ref(&doc)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    })
    .await;
}

#[actix_web::test]
async fn json_arrays_and_framing_errors() {
    each_backend(|app| async move {
        let now = app.now();
        let token = ingest_token(TENANT_A);
        let send = |ct: Option<&'static str>, body: String| {
            let mut r =
                TestRequest::post().uri("/ingest/signIns").insert_header(("Authorization", format!("Bearer {token}")));
            if let Some(ct) = ct {
                r = r.insert_header(("Content-Type", ct));
            }
            r.set_payload(body)
        };
        let array = Value::Array(vec![sign_in_doc(1, now, USER_OID), sign_in_doc(2, now, USER_OID)]).to_string();
        let (s, _, b) = app.send(send(Some("application/json"), array)).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"inserted": 2, "duplicates": 0, "expired": 0})));

        let (s, _, b) = app.send(send(Some("text/csv"), "a,b".into())).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{b}");
        let (s, _, _) = app.send(send(None, "{}".into())).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (s, _, b) = app.send(send(Some("application/json"), "[{".into())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let (s, _, b) = app.send(send(Some("application/json"), "[]".into())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let (s, _, b) = app.send(send(Some("application/x-ndjson"), "{\"id\":1}\nnot json\n[1]\n".into())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["error"]["details"].as_array().unwrap().len(), 3);
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 2);
    })
    .await;
}

#[actix_web::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::with_config(sqlite_db(), |c| c.max_ingest_bytes = 1000).await;
    let body: String = (1..=10).map(|n| format!("{}\n", sign_in_doc(n, app.now(), USER_OID))).collect();
    let req = TestRequest::post()
        .uri("/ingest/signIns")
        .insert_header(("Authorization", format!("Bearer {}", ingest_token(TENANT_A))))
        .insert_header(("Content-Type", "application/x-ndjson"))
        .set_payload(body);
    let (s, _, b) = app.send(req).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(b["error"]["code"], "RequestEntityTooLarge");
}

#[actix_web::test]
async fn ingest_needs_the_ingest_app_role() {
    each_backend(|app| async move {
        let doc = sign_in_doc(1, app.now(), USER_OID);
        for token in [admin_token(TENANT_A), app_token(TENANT_A, &["AuditLog.Read.All"])] {
            let (s, b) = app.ingest(&token, std::slice::from_ref(&doc)).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        }
        let (s, _, _) = app
            .send(
                TestRequest::post()
                    .uri("/ingest/somethingElse")
                    .insert_header(("Authorization", format!("Bearer {}", ingest_token(TENANT_A))))
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload("[]"),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}

#[actix_web::test]
async fn a_tenant_first_seen_at_ingest_is_created_on_the_default_tier() {
    each_backend(|app| async move {
        let fresh = "cccccccc-0000-4000-8000-000000000003";
        let (s, _) = app.ingest(&ingest_token(fresh), &[sign_in_doc(1, app.now(), USER_OID)]).await;
        assert_eq!(s, StatusCode::OK);
        let t = app.store.tenant(&domain::ids::TenantId::parse(fresh).unwrap()).unwrap().unwrap();
        assert_eq!(t.tier, domain::ids::LicenseTier::Free);
    })
    .await;
}

/// `idtrail ingest FILE` (the command's own function, with batches of 2 records): a file with one
/// bad record in its middle is refused whole, though it spans several storage batches; a valid
/// one is stored completely, batch by batch, and running it again adds nothing.
#[actix_web::test]
async fn a_file_is_validated_whole_then_stored_in_batches() {
    each_backend(|app| async move {
        let dir = std::env::temp_dir().join(format!("idtrail-file-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = api::config::Config { database_url: app.db.url.clone(), ..test_config() };
        let now = app.now();
        let docs: Vec<Value> =
            (1..=9).map(|n| sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap()), USER_OID)).collect();
        let ndjson = |docs: &[Value]| docs.iter().map(|d| format!("{d}\n")).collect::<String>() + "\n";
        let array = |docs: &[Value]| Value::Array(docs.to_vec()).to_string();
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let mut bad = docs.clone();
        bad[4].as_object_mut().unwrap().remove("createdDateTime");
        let mut not_json = ndjson(&docs);
        not_json.insert_str(not_json.find('\n').unwrap() + 1, "{not json\n");

        let refused = [
            (write("bad.ndjson", ndjson(&bad)), "1 of 9 records are invalid", "line 5: "),
            (write("bad.json", array(&bad)), "1 of 9 records are invalid", "record 4: "),
            (write("not-json.ndjson", not_json), "1 of 10 records are invalid", "line 2: not valid JSON"),
            (write("truncated.json", array(&docs)[..2000].to_owned()), "not a valid JSON array", ""),
            (write("empty.ndjson", "\n\n".into()), "holds no records", ""),
        ];
        for (file, why, at) in &refused {
            let err = api::cli::ingest_file(&config, TENANT_A, "signIns", file, 2).unwrap_err().to_string();
            assert!(err.contains(why) && err.contains(at) && err.contains("nothing was stored"), "{err}");
            assert_eq!(app.count_rows("sign_ins", TENANT_A), 0, "{}: nothing stored", file.display());
        }

        let outcome = |inserted, duplicates| storage::IngestOutcome { inserted, duplicates, expired: 0 };
        let good = write("good.ndjson", ndjson(&docs));
        assert_eq!(api::cli::ingest_file(&config, TENANT_A, "signIns", &good, 2).unwrap(), outcome(9, 0));
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 9);
        assert_eq!(app.count_rows("sign_in_ca_policies", TENANT_A), 9);
        assert_eq!(api::cli::ingest_file(&config, TENANT_A, "signIns", &good, 2).unwrap(), outcome(0, 9));
        let good = write("good.json", array(&docs));
        assert_eq!(api::cli::ingest_file(&config, TENANT_B, "signIns", &good, 4).unwrap(), outcome(9, 0));
        assert_eq!(app.count_rows("sign_ins", TENANT_B), 9);
        // What was stored is what the API serves.
        let (s, b) = app.get("/v1.0/auditLogs/signIns?$top=20", &admin_token(TENANT_B)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"].as_array().unwrap().len(), 9);
        std::fs::remove_dir_all(&dir).ok();
    })
    .await;
}

/// Events dated past now plus `ingest_max_future_skew_seconds` refuse their batch, each listed like
/// any invalid record; on PostgreSQL no partition is made for them, and an empty partition after
/// tomorrow (left by an older version) is dropped by the purge.
#[actix_web::test]
async fn records_from_the_future_are_refused_and_make_no_partition() {
    each_backend(|app| async move {
        let now = app.now();
        let partitions_before = app.store.partition_days().unwrap();
        let mut docs: Vec<Value> = (1..=4).map(|n| sign_in_doc(n, now, USER_OID)).collect();
        docs[1]["createdDateTime"] = json!("3000-01-01T00:00:00Z");
        docs[3]["createdDateTime"] = json!(domain::time::format_ticks(domain::time::to_ticks(now + Duration::hours(1))));
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        let indexes: Vec<i64> = b["error"]["details"].as_array().unwrap().iter().map(|d| d["index"].as_i64().unwrap()).collect();
        assert_eq!(indexes, [1, 3], "{b}");
        assert!(b["error"]["details"][0]["message"].as_str().unwrap().contains("later than now plus the allowed clock skew"));
        assert_eq!(app.count_rows("sign_ins", TENANT_A), 0, "nothing stored");
        assert_eq!(app.store.partition_days().unwrap(), partitions_before, "no partition for a refused day");
        // Within the skew (10 minutes by default) a producer's clock may run ahead.
        let ahead = vec![sign_in_doc(9, now + Duration::minutes(5), USER_OID)];
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &ahead).await;
        assert_eq!((s, b["inserted"].clone()), (StatusCode::OK, json!(1)));
        // The other sets are held to the same rule.
        let audit = json!({"id": "Directory_future", "category": "UserManagement", "correlationId": guid(5),
            "result": "success", "resultReason": "", "activityDisplayName": "Add user", "activityDateTime": "2999-01-01T00:00:00Z",
            "loggedByService": "Core Directory", "operationType": "Add", "initiatedBy": {"user": null, "app": null},
            "targetResources": [], "additionalDetails": []});
        let (s, _, b) = app
            .send(
                actix_web::test::TestRequest::post()
                    .uri("/ingest/directoryAudits")
                    .insert_header(("Authorization", format!("Bearer {}", ingest_token(TENANT_A))))
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(json!([audit]).to_string()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("activityDateTime: 2999-01-01T00:00:00.0000000Z is later than now"), "{b}");
        if app.db.backend == "postgres" {
            let mut conn = app.connection();
            let storage::conn::AnyConnection::Postgresql(pg) = &mut conn else { unreachable!() };
            diesel::connection::SimpleConnection::batch_execute(
                pg,
                "CREATE TABLE sign_ins_d29991231 PARTITION OF sign_ins FOR VALUES FROM (1000000000000000000) TO (1000000864000000000);\
                 CREATE TABLE sign_in_ca_policies_d29991231 PARTITION OF sign_in_ca_policies FOR VALUES FROM (1000000000000000000) TO (1000000864000000000);\
                 CREATE TABLE sign_in_risk_event_types_d29991231 PARTITION OF sign_in_risk_event_types FOR VALUES FROM (1000000000000000000) TO (1000000864000000000);",
            )
            .unwrap();
            let report = app.store.purge(false).unwrap();
            assert!(report.dropped_partitions.iter().any(|(p, n)| p == "sign_ins_d29991231" && *n == 0), "{report:?}");
            assert!(!app.store.partition_days().unwrap().contains(&"sign_ins_d29991231".to_owned()));
        }
    })
    .await;
}
