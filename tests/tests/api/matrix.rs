//! The authorization matrix, cell by cell, over HTTP on both backends: every served endpoint ×
//! every role (by `wids` and by name), app-only tokens with and without each permission,
//! delegated tokens with and without scopes, and plain users. Plus the self-only bypass attempts.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use api::auth::Claims;
use domain::access::{Endpoint, MATRIX};
use domain::principal::DirectoryRole;
use serde_json::Value;

use crate::support::*;

#[derive(Clone, Copy, Debug)]
enum Call {
    ListSignIns,
    GetSignIn,
    CountSignIns,
    Ingest,
    Tenant,
}

impl Call {
    fn endpoint(self) -> Option<Endpoint> {
        match self {
            Self::ListSignIns | Self::GetSignIn | Self::CountSignIns => Some(Endpoint::SignIns),
            Self::Ingest => Some(Endpoint::Ingest),
            Self::Tenant => None,
        }
    }
}

const CALLS: [Call; 5] = [Call::ListSignIns, Call::GetSignIn, Call::CountSignIns, Call::Ingest, Call::Tenant];

async fn call(app: &TestApp, c: Call, token: &str, id: &str) -> (StatusCode, Value) {
    let auth = ("Authorization", format!("Bearer {token}"));
    let req = match c {
        Call::ListSignIns => TestRequest::get().uri("/v1.0/auditLogs/signIns").insert_header(auth),
        Call::GetSignIn => TestRequest::get().uri(&format!("/v1.0/auditLogs/signIns/{id}")).insert_header(auth),
        Call::CountSignIns => TestRequest::get().uri("/v1.0/auditLogs/signIns/$count").insert_header(auth),
        Call::Ingest => TestRequest::post()
            .uri("/ingest/signIns")
            .insert_header(auth)
            .insert_header(("Content-Type", "application/x-ndjson"))
            .set_payload(format!("{}\n", sign_in_doc(900, chrono::Utc::now(), USER_OID))),
        Call::Tenant => TestRequest::get().uri("/idtrail/tenant").insert_header(auth),
    };
    let (s, _, b) = app.send(req).await;
    (s, b)
}

/// What the matrix says a cell should answer, written out independently of `domain::access`.
fn expected_user(c: Call, role: Option<DirectoryRole>, scoped: bool) -> StatusCode {
    match c.endpoint() {
        None => StatusCode::OK,
        Some(Endpoint::Ingest) => StatusCode::FORBIDDEN,
        Some(e) => {
            let rule = MATRIX.iter().find(|r| r.endpoint == e).unwrap();
            if !scoped {
                StatusCode::FORBIDDEN
            } else if role.is_some_and(|r| rule.roles.contains(&r)) || rule.own_records {
                // Own records: the plain user's own sign-in exists, so get answers 200 too.
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        }
    }
}

fn user_token_with(role: Option<DirectoryRole>, by_name: bool, scoped: bool) -> String {
    let mut c: Claims = user_claims(TENANT_A, USER_OID, &[]);
    if let Some(r) = role {
        if by_name {
            c.roles = vec![r.display_name().to_owned()];
        } else {
            c.wids = vec![r.template_id().to_owned()];
        }
    }
    if !scoped {
        c.scp = Some("User.Read".into());
    }
    sign(&c)
}

#[actix_web::test]
async fn every_cell_of_the_matrix() {
    each_backend(|app| async move {
        let app = app.without_rate_limits();
        let mine = sign_in_doc(1, app.now(), USER_OID);
        let theirs = sign_in_doc(2, app.now(), OTHER_OID);
        app.ingest(&ingest_token(TENANT_A), &[mine.clone(), theirs.clone()]).await;
        let id = mine["id"].as_str().unwrap().to_owned();
        let mut cells = 0;

        let roles: Vec<Option<DirectoryRole>> =
            std::iter::once(None).chain(DirectoryRole::ALL.into_iter().map(Some)).collect();
        for role in &roles {
            for by_name in [false, true] {
                for scoped in [true, false] {
                    let token = user_token_with(*role, by_name, scoped);
                    for c in CALLS {
                        let want = expected_user(c, *role, scoped);
                        let (got, body) = call(&app, c, &token, &id).await;
                        assert_eq!(got, want, "{c:?} role {role:?} by_name {by_name} scoped {scoped}: {body}");
                        if want == StatusCode::FORBIDDEN && c.endpoint() == Some(Endpoint::SignIns) {
                            assert_eq!(body["error"]["code"], "Authentication_MSGraphPermissionMissing", "{c:?}");
                        }
                        cells += 1;
                    }
                    // A role that does not read the whole tenant sees only its own sign-in.
                    if scoped {
                        let (_, b) = call(&app, Call::ListSignIns, &token, &id).await;
                        let tenant_wide = role.is_some_and(|r| MATRIX[0].roles.contains(&r));
                        assert_eq!(b["value"].as_array().unwrap().len(), if tenant_wide { 2 } else { 1 }, "{role:?}");
                    }
                }
            }
        }

        let permissions = [
            "AuditLog.Read.All",
            "IdentityRiskyUser.Read.All",
            "IdentityRiskEvent.Read.All",
            "IdentityRiskyUser.ReadWrite.All",
            "IdTrail.Ingest",
            "Reports.Read.All",
        ];
        for perm in std::iter::once(None).chain(permissions.iter().map(Some)) {
            let token = app_token(TENANT_A, perm.map(|p| vec![*p]).unwrap_or_default().as_slice());
            for c in CALLS {
                let want = match c.endpoint() {
                    None => StatusCode::OK,
                    Some(e) => {
                        let rule = MATRIX.iter().find(|r| r.endpoint == e).unwrap();
                        if perm.is_some_and(|p| rule.app_permissions.contains(p)) {
                            StatusCode::OK
                        } else {
                            StatusCode::FORBIDDEN
                        }
                    }
                };
                let (got, body) = call(&app, c, &token, &id).await;
                assert_eq!(got, want, "{c:?} app permission {perm:?}: {body}");
                cells += 1;
            }
        }
        eprintln!("{cells} matrix cells checked");
    })
    .await;
}

#[actix_web::test]
async fn own_sign_ins_cannot_be_widened() {
    each_backend(|app| async move {
        let mine = sign_in_doc(1, app.now(), USER_OID);
        let theirs = sign_in_doc(2, app.now(), OTHER_OID);
        app.ingest(&ingest_token(TENANT_A), &[mine.clone(), theirs.clone()]).await;
        let me = user_token(TENANT_A, USER_OID);
        let their_id = theirs["id"].as_str().unwrap();
        for q in [
            format!("$filter=userId%20eq%20'{OTHER_OID}'"),
            format!("$filter=userId%20eq%20'{USER_OID}'%20or%20userId%20eq%20'{OTHER_OID}'"),
            "$filter=true%20or%20true".to_owned(),
            format!("$filter=not(userId%20eq%20'{USER_OID}')"),
            "$select=userId,id".to_owned(),
        ] {
            let (s, b) = app.get(&format!("/v1.0/auditLogs/signIns?{q}&$count=true"), &me).await;
            assert_eq!(s, StatusCode::OK, "{q}: {b}");
            for d in b["value"].as_array().unwrap() {
                assert_ne!(d["id"], theirs["id"], "{q}");
            }
            assert!(b["@odata.count"].as_i64().unwrap() <= 1, "{q}");
        }
        let (s, _) = app.get(&format!("/v1.0/auditLogs/signIns/{their_id}"), &me).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, n) = app.get("/v1.0/auditLogs/signIns/$count", &me).await;
        assert_eq!(n, serde_json::json!(1));
        // An administrator's skiptoken does not work for the user.
        let (_, b) = app.get("/v1.0/auditLogs/signIns?$top=1", &admin_token(TENANT_A)).await;
        let next = b["@odata.nextLink"].as_str().unwrap().trim_start_matches("https://idtrail.test");
        let (s, _) = app.get(next, &me).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // No Conditional Access details for a plain user, and no probing them.
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &me).await;
        assert!(b["value"][0].get("appliedConditionalAccessPolicies").is_none(), "{b}");
        let (s, b) = app
            .get(
                "/v1.0/auditLogs/signIns?$filter=appliedConditionalAccessPolicies/any(p:%20p/result%20eq%20'failure')",
                &me,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        // A Security Reader sees them; a Reports Reader reads every sign-in but not CA details.
        let reader = sign(&user_claims(TENANT_A, ADMIN_OID, &[DirectoryRole::SecurityReader.template_id()]));
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &reader).await;
        assert!(b["value"][0].get("appliedConditionalAccessPolicies").is_some());
        let reports = sign(&user_claims(TENANT_A, ADMIN_OID, &[DirectoryRole::ReportsReader.template_id()]));
        let (_, b) = app.get("/v1.0/auditLogs/signIns", &reports).await;
        assert_eq!(b["value"].as_array().unwrap().len(), 2);
        assert!(b["value"][0].get("appliedConditionalAccessPolicies").is_none());
    })
    .await;
}
