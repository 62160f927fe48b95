//! The authorization matrix, cell by cell, over HTTP on both backends: every served endpoint ×
//! every role (by `wids` and by name), app-only tokens with and without each permission,
//! delegated tokens with and without scopes, and plain users. Plus the self-only bypass attempts.

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use api::auth::Claims;
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
    fn is_sign_ins(self) -> bool {
        matches!(self, Self::ListSignIns | Self::GetSignIn | Self::CountSignIns)
    }
}

/// The roles that read every sign-in of the tenant, written out from `docs/graph-notes.md` §5.2 and
/// §9 (not read from `domain::access::MATRIX`, so a wrong entry there fails here). Any other user
/// with the scope reads only their own sign-ins.
const TENANT_WIDE_SIGN_IN_ROLES: &[DirectoryRole] = &[
    DirectoryRole::GlobalAdministrator,
    DirectoryRole::GlobalReader,
    DirectoryRole::ReportsReader,
    DirectoryRole::SecurityAdministrator,
    DirectoryRole::SecurityOperator,
    DirectoryRole::SecurityReader,
];

/// Who may make each call: (call, answer to a delegated token with the scope `AuditLog.Read.All`,
/// whatever its role; answer to one without it; the one application permission that opens it,
/// `None` when every app-only token may). Sign-ins need the scope (any user reads at least their
/// own), ingest takes app-only tokens with `IdTrail.Ingest`, `/idtrail/tenant` is open to anyone
/// of the tenant.
const EXPECTED: [(Call, StatusCode, StatusCode, Option<&str>); 5] = [
    (Call::ListSignIns, StatusCode::OK, StatusCode::FORBIDDEN, Some("AuditLog.Read.All")),
    (Call::GetSignIn, StatusCode::OK, StatusCode::FORBIDDEN, Some("AuditLog.Read.All")),
    (Call::CountSignIns, StatusCode::OK, StatusCode::FORBIDDEN, Some("AuditLog.Read.All")),
    (Call::Ingest, StatusCode::FORBIDDEN, StatusCode::FORBIDDEN, Some("IdTrail.Ingest")),
    (Call::Tenant, StatusCode::OK, StatusCode::OK, None),
];

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
        let app = app.without_rate_limits().await;
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
                    for (c, with_scope, without_scope, _) in EXPECTED {
                        let want = if scoped { with_scope } else { without_scope };
                        let (got, body) = call(&app, c, &token, &id).await;
                        assert_eq!(got, want, "{c:?} role {role:?} by_name {by_name} scoped {scoped}: {body}");
                        if want == StatusCode::FORBIDDEN && c.is_sign_ins() {
                            assert_eq!(body["error"]["code"], "Authentication_MSGraphPermissionMissing", "{c:?}");
                        }
                        cells += 1;
                    }
                    // A role that does not read the whole tenant sees only its own sign-in.
                    if scoped {
                        let (_, b) = call(&app, Call::ListSignIns, &token, &id).await;
                        let tenant_wide = role.is_some_and(|r| TENANT_WIDE_SIGN_IN_ROLES.contains(&r));
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
            for (c, _, _, needed) in EXPECTED {
                let want = if needed.is_none_or(|n| perm == Some(&n)) { StatusCode::OK } else { StatusCode::FORBIDDEN };
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

/// The directory-audit, identity-protection and ingest endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Risk {
    ListAudits,
    GetAudit,
    CountAudits,
    ListDetections,
    GetDetection,
    CountDetections,
    ListRiskyUsers,
    GetRiskyUser,
    CountRiskyUsers,
    ListHistory,
    GetHistory,
    CountHistory,
    Dismiss,
    ConfirmCompromised,
    IngestSignIns,
    IngestAudits,
    IngestDetections,
    IngestRiskyUsers,
}

const RISK_CALLS: [Risk; 18] = [
    Risk::ListAudits,
    Risk::GetAudit,
    Risk::CountAudits,
    Risk::ListDetections,
    Risk::GetDetection,
    Risk::CountDetections,
    Risk::ListRiskyUsers,
    Risk::GetRiskyUser,
    Risk::CountRiskyUsers,
    Risk::ListHistory,
    Risk::GetHistory,
    Risk::CountHistory,
    Risk::Dismiss,
    Risk::ConfirmCompromised,
    Risk::IngestSignIns,
    Risk::IngestAudits,
    Risk::IngestDetections,
    Risk::IngestRiskyUsers,
];

/// The ids the calls address.
struct Fixture {
    audit: String,
    detection: String,
    user: String,
    history: String,
    docs: Vec<(&'static str, Value)>,
}

async fn risk_call(app: &TestApp, c: Risk, token: &str, f: &Fixture) -> (StatusCode, Value) {
    use crate::audits_risk::{AUDITS, DETECTIONS, RISKY};
    let auth = ("Authorization", format!("Bearer {token}"));
    let get = |p: String| TestRequest::get().uri(&p).insert_header(auth.clone());
    let action = |name: &str| {
        TestRequest::post()
            .uri(&format!("{RISKY}/{name}"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/json"))
            .set_payload(serde_json::json!({"userIds": [f.user]}).to_string())
    };
    let ingest = |kind: &str| {
        let doc = &f.docs.iter().find(|(k, _)| *k == kind).unwrap().1;
        TestRequest::post()
            .uri(&format!("/ingest/{kind}"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/x-ndjson"))
            .set_payload(format!("{doc}\n"))
    };
    let req = match c {
        Risk::ListAudits => get(AUDITS.to_owned()),
        Risk::GetAudit => get(format!("{AUDITS}/{}", f.audit)),
        Risk::CountAudits => get(format!("{AUDITS}/$count")),
        Risk::ListDetections => get(DETECTIONS.to_owned()),
        Risk::GetDetection => get(format!("{DETECTIONS}/{}", f.detection)),
        Risk::CountDetections => get(format!("{DETECTIONS}/$count")),
        Risk::ListRiskyUsers => get(RISKY.to_owned()),
        Risk::GetRiskyUser => get(format!("{RISKY}/{}", f.user)),
        Risk::CountRiskyUsers => get(format!("{RISKY}/$count")),
        Risk::ListHistory => get(format!("{RISKY}/{}/history", f.user)),
        Risk::GetHistory => get(format!("{RISKY}/{}/history/{}", f.user, f.history)),
        Risk::CountHistory => get(format!("{RISKY}/{}/history/$count", f.user)),
        Risk::Dismiss => action("dismiss"),
        Risk::ConfirmCompromised => action("confirmCompromised"),
        Risk::IngestSignIns => ingest("signIns"),
        Risk::IngestAudits => ingest("directoryAudits"),
        Risk::IngestDetections => ingest("riskDetections"),
        Risk::IngestRiskyUsers => ingest("riskyUsers"),
    };
    let (s, _, b) = app.send(req).await;
    (s, b)
}

/// Who may call what, written from `docs/graph-notes.md` §3.4, §5.2 and §9 (not from
/// `domain::access`): (roles admitted, delegated scopes any one of which is needed, application
/// permissions any one of which is needed, the success status). Ingest takes no delegated caller.
fn risk_rule(c: Risk) -> (&'static [DirectoryRole], &'static [&'static str], &'static [&'static str], StatusCode) {
    use DirectoryRole::*;
    // The six reporting roles, and Compliance Administrator, which the reporting API is
    // observed to admit (docs/graph-notes.md §5.2).
    const AUDIT_ROLES: &[DirectoryRole] = &[
        GlobalAdministrator,
        GlobalReader,
        ReportsReader,
        SecurityAdministrator,
        SecurityOperator,
        SecurityReader,
        ComplianceAdministrator,
    ];
    const RISK_ROLES: &[DirectoryRole] =
        &[GlobalAdministrator, GlobalReader, SecurityAdministrator, SecurityOperator, SecurityReader];
    const ACTION_ROLES: &[DirectoryRole] = &[GlobalAdministrator, SecurityAdministrator, SecurityOperator];
    const AUDIT: &[&str] = &["AuditLog.Read.All"];
    const EVENTS: &[&str] = &["IdentityRiskEvent.Read.All", "IdentityRiskEvent.ReadWrite.All"];
    const USERS: &[&str] = &["IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All"];
    const WRITE: &[&str] = &["IdentityRiskyUser.ReadWrite.All"];
    match c {
        Risk::ListAudits | Risk::GetAudit | Risk::CountAudits => (AUDIT_ROLES, AUDIT, AUDIT, StatusCode::OK),
        Risk::ListDetections | Risk::GetDetection | Risk::CountDetections => {
            (RISK_ROLES, EVENTS, EVENTS, StatusCode::OK)
        }
        Risk::ListRiskyUsers
        | Risk::GetRiskyUser
        | Risk::CountRiskyUsers
        | Risk::ListHistory
        | Risk::GetHistory
        | Risk::CountHistory => (RISK_ROLES, USERS, USERS, StatusCode::OK),
        Risk::Dismiss | Risk::ConfirmCompromised => (ACTION_ROLES, WRITE, WRITE, StatusCode::NO_CONTENT),
        Risk::IngestSignIns | Risk::IngestAudits | Risk::IngestDetections | Risk::IngestRiskyUsers => {
            (&[], &[], &["IdTrail.Ingest"], StatusCode::OK)
        }
    }
}

fn is_ingest(c: Risk) -> bool {
    matches!(c, Risk::IngestSignIns | Risk::IngestAudits | Risk::IngestDetections | Risk::IngestRiskyUsers)
}

/// The expected status and error code of a delegated call.
fn expected_delegated(c: Risk, role: Option<DirectoryRole>, scopes: &[&str]) -> (StatusCode, Option<&'static str>) {
    if is_ingest(c) {
        return (StatusCode::FORBIDDEN, Some("Authorization_RequestDenied"));
    }
    let (roles, needed, _, ok) = risk_rule(c);
    if !needed.iter().any(|n| scopes.iter().any(|s| s.eq_ignore_ascii_case(n))) {
        return (StatusCode::FORBIDDEN, Some("Authentication_MSGraphPermissionMissing"));
    }
    if role.is_some_and(|r| roles.contains(&r)) {
        (ok, None)
    } else {
        (StatusCode::FORBIDDEN, Some("Authentication_RequestFromUnsupportedUserRole"))
    }
}

async fn risk_fixture(app: &TestApp) -> Fixture {
    use crate::audits_risk::{audit_doc, detection_doc, ingest_kind, risk_admin, risky_user_doc};
    let now = app.now();
    let user = guid(4242);
    let docs = vec![
        ("signIns", sign_in_doc(4242, now, USER_OID)),
        ("directoryAudits", audit_doc(4242, now)),
        ("riskDetections", detection_doc(4242, now, "unfamiliarFeatures", "high", "MyTestUser1")),
        (
            "riskyUsers",
            risky_user_doc(&user, now - chrono::Duration::hours(1), "atRisk", "high", "none", "Alex Wilbur"),
        ),
    ];
    for (kind, doc) in &docs {
        let (s, b) = ingest_kind(app, kind, TENANT_A, std::slice::from_ref(doc)).await;
        assert_eq!(s, StatusCode::OK, "{kind}: {b}");
    }
    let (_, b) = app.get(&format!("/v1.0/identityProtection/riskyUsers/{user}/history"), &risk_admin(TENANT_A)).await;
    let history = b["value"][0]["id"].as_str().unwrap().to_owned();
    Fixture {
        audit: docs[1].1["id"].as_str().unwrap().to_owned(),
        detection: docs[2].1["id"].as_str().unwrap().to_owned(),
        user,
        history,
        docs,
    }
}

#[actix_web::test]
async fn every_cell_of_the_audit_and_identity_protection_matrix() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        let f = risk_fixture(&app).await;
        let mut cells = 0;
        let mut wrong: Vec<String> = Vec::new();
        let all_scopes: &[&str] = &[
            "AuditLog.Read.All",
            "Directory.Read.All",
            "IdentityRiskEvent.Read.All",
            "IdentityRiskyUser.Read.All",
            "IdentityRiskyUser.ReadWrite.All",
        ];
        let roles: Vec<Option<DirectoryRole>> =
            std::iter::once(None).chain(DirectoryRole::ALL.into_iter().map(Some)).collect();
        // Every role alone, by `wids` and by name, with every scope and with none.
        for role in &roles {
            for by_name in [false, true] {
                for scopes in [all_scopes, &["User.Read"][..]] {
                    let mut claims: Claims = user_claims(TENANT_A, USER_OID, &[]);
                    if let Some(r) = role {
                        if by_name {
                            claims.roles = vec![r.display_name().to_owned()];
                        } else {
                            claims.wids = vec![r.template_id().to_owned()];
                        }
                    }
                    claims.scp = Some(scopes.join(" "));
                    let token = sign(&claims);
                    for c in RISK_CALLS {
                        let (want, code) = expected_delegated(c, *role, scopes);
                        let (got, body) = risk_call(&app, c, &token, &f).await;
                        if got != want || code.is_some_and(|code| body["error"]["code"] != code) {
                            wrong.push(format!("{c:?} role {role:?} by_name {by_name} scopes {scopes:?}: want {want} {code:?}, got {got} {body}"));
                        }
                        cells += 1;
                    }
                }
            }
        }
        // One scope at a time, for a role that may do everything and one that may only read.
        for role in [DirectoryRole::GlobalAdministrator, DirectoryRole::SecurityReader] {
            for scope in all_scopes.iter().chain(["IdentityRiskEvent.ReadWrite.All", "Reports.Read.All"].iter()) {
                let mut claims: Claims = user_claims(TENANT_A, USER_OID, &[role.template_id()]);
                claims.scp = Some((*scope).to_owned());
                let token = sign(&claims);
                for c in RISK_CALLS {
                    let (want, code) = expected_delegated(c, Some(role), &[*scope]);
                    let (got, body) = risk_call(&app, c, &token, &f).await;
                    if got != want || code.is_some_and(|code| body["error"]["code"] != code) {
                        wrong.push(format!("{c:?} role {role:?} scope {scope}: want {want} {code:?}, got {got} {body}"));
                    }
                    cells += 1;
                }
            }
        }
        // App-only, without any permission and with each one alone.
        let permissions = [
            "AuditLog.Read.All",
            "Directory.Read.All",
            "IdentityRiskEvent.Read.All",
            "IdentityRiskEvent.ReadWrite.All",
            "IdentityRiskyUser.Read.All",
            "IdentityRiskyUser.ReadWrite.All",
            "IdTrail.Ingest",
            "Reports.Read.All",
        ];
        for perm in std::iter::once(None).chain(permissions.iter().map(Some)) {
            let token = app_token(TENANT_A, perm.map(|p| vec![*p]).unwrap_or_default().as_slice());
            for c in RISK_CALLS {
                let (_, _, needed, ok) = risk_rule(c);
                let want = if perm.is_some_and(|p| needed.contains(p)) { ok } else { StatusCode::FORBIDDEN };
                let (got, body) = risk_call(&app, c, &token, &f).await;
                let code_ok = want != StatusCode::FORBIDDEN || body["error"]["code"] == "Authentication_MSGraphPermissionMissing";
                if got != want || !code_ok {
                    wrong.push(format!("{c:?} app permission {perm:?}: want {want}, got {got} {body}"));
                }
                cells += 1;
            }
        }
        eprintln!("{cells} matrix cells checked");
        assert!(wrong.is_empty(), "{} of {cells} cells wrong:\n{}", wrong.len(), wrong.join("\n"));
    })
    .await;
}
