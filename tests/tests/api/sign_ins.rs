//! Reading sign-ins back: value-exact documents, envelopes, versions, path case, scope.

use actix_web::http::StatusCode;
use chrono::Duration;
use serde_json::Value;

use crate::support::*;

#[actix_web::test]
async fn ingested_documents_come_back_value_exact() {
    each_backend(|app| async move {
        let now = app.now();
        let docs: Vec<Value> =
            (1..=5).map(|n| sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap()), USER_OID)).collect();
        let (s, b) = app.ingest(&ingest_token(TENANT_A), &docs).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b, serde_json::json!({"inserted": 5, "duplicates": 0, "expired": 0}));

        let (s, b) = app.get("/beta/auditLogs/signIns", &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], "https://idtrail.test/beta/$metadata#auditLogs/signIns");
        let value = b["value"].as_array().unwrap();
        assert_eq!(value.len(), 5);
        // Newest first; every property sent (beta-only ones too) comes back equal.
        for (got, sent) in value.iter().zip(&docs) {
            assert_eq!(got, sent);
        }

        // v1.0 serves the v1.0 properties only.
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &admin_token(TENANT_A)).await;
        let first = &b["value"][0];
        assert!(first.get("signInEventTypes").is_none());
        let mut expected = as_map(&docs[0]);
        expected.remove("signInEventTypes");
        assert_eq!(first, &Value::Object(expected));
        assert!(b.get("@odata.nextLink").is_none());
    })
    .await;
}

#[actix_web::test]
async fn one_sign_in_by_id_with_entity_context() {
    each_backend(|app| async move {
        let doc = sign_in_doc(42, app.now(), USER_OID);
        app.ingest(&ingest_token(TENANT_A), std::slice::from_ref(&doc)).await;
        let id = doc["id"].as_str().unwrap();
        let (s, b) = app.get(&format!("/v1.0/auditLogs/signIns/{id}"), &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["@odata.context"], "https://idtrail.test/v1.0/$metadata#auditLogs/signIns/$entity");
        assert_eq!(b["id"], doc["id"]);
        assert_eq!(b["createdDateTime"], doc["createdDateTime"]);
        // Ids match case-insensitively, as GUIDs do.
        let (s, _) = app.get(&format!("/v1.0/auditLogs/signIns/{}", id.to_uppercase()), &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = app.get(&format!("/v1.0/auditLogs/signIns/{}", guid(999)), &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(b["error"]["code"], "Request_ResourceNotFound");
    })
    .await;
}

#[actix_web::test]
async fn path_segments_are_case_insensitive() {
    each_backend(|app| async move {
        app.ingest(&ingest_token(TENANT_A), &[sign_in_doc(1, app.now(), USER_OID)]).await;
        for path in [
            "/v1.0/auditlogs/signins",
            "/V1.0/AUDITLOGS/SIGNINS",
            "/beta/auditLogs/signins/",
            "/v1.0/auditLogs/signIns?top=1",
        ] {
            let (s, b) = app.get(path, &admin_token(TENANT_A)).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
            assert_eq!(b["value"].as_array().unwrap().len(), 1, "{path}");
        }
    })
    .await;
}

#[actix_web::test]
async fn other_tenants_rows_are_not_found() {
    each_backend(|app| async move {
        let doc = sign_in_doc(7, app.now(), USER_OID);
        app.ingest(&ingest_token(TENANT_A), std::slice::from_ref(&doc)).await;
        let (s, b) = app.get("/v1.0/auditLogs/signIns", &admin_token(TENANT_B)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["value"], serde_json::json!([]));
        let (s, b) =
            app.get(&format!("/v1.0/auditLogs/signIns/{}", doc["id"].as_str().unwrap()), &admin_token(TENANT_B)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    })
    .await;
}

#[actix_web::test]
async fn plain_users_see_only_their_own_sign_ins() {
    each_backend(|app| async move {
        let now = app.now();
        let mine = sign_in_doc(1, now, USER_OID);
        let theirs = sign_in_doc(2, now, OTHER_OID);
        app.ingest(&ingest_token(TENANT_A), &[mine.clone(), theirs.clone()]).await;
        let token = user_token(TENANT_A, USER_OID);
        let (s, b) = app.get("/v1.0/auditLogs/signIns", &token).await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<&Value> = b["value"].as_array().unwrap().iter().map(|d| &d["id"]).collect();
        assert_eq!(ids, vec![&mine["id"]]);
        let (s, _) = app.get(&format!("/v1.0/auditLogs/signIns/{}", theirs["id"].as_str().unwrap()), &token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = app.get("/v1.0/auditLogs/signIns", &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK);
    })
    .await;
}

#[actix_web::test]
async fn a_fresh_database_is_migrated_and_reopens() {
    for db in databases() {
        on_backend(db.backend, || {
            let first = storage::Store::open(&db.url, 2).expect("migrate");
            first.ping().unwrap();
            drop(first);
            let again = storage::Store::open(&db.url, 2).expect("reopen runs no migration twice");
            assert!(again.tenants().unwrap().is_empty());
            if db.backend == "postgres" {
                again.create_partitions_ahead(1).unwrap();
                assert!(again.partition_days().unwrap().len() >= 2);
            }
        });
    }
}
