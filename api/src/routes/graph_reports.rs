//! Graph's report functions over sign-ins, under `/beta` only (`docs/graph-notes.md` §4), all
//! computed from the sign-in rollups:
//!
//! - `reports/getAzureADApplicationSignInSummary(period='D7'|'D30')`: per application, successes,
//!   failures and the success percentage over the last 7 or 30 days;
//! - `reports/applicationSignInDetailedSummary` and `/{id}`: per application, UTC day and status,
//!   with `$filter`, `$orderby`, `$top` and `$skiptoken`;
//! - `auditLogs/signInEventsSummary`: sign-ins per UTC day of the retention window;
//! - `auditLogs/signInEventsAppSummary`: sign-ins per application over the last 30 days.
//!
//! The `reports/` functions take the report-reader row of the matrix (`Reports.Read.All`); the
//! detailed summary takes delegated tokens only. The `auditLogs/` ones take the tenant-wide
//! sign-in readers (`AuditLog.Read.All`). Every period is clamped to the tenant's retention window
//! and starts at a whole 15-minute block (`storage::rollups`).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use domain::access::{self, Access, Endpoint};
use domain::ids::derived_guid;
use domain::principal::{Principal, Subject};
use domain::query::{Scalar, eval, resolve_filter, resolve_orderby};
use domain::reports::{APPLICATION_SIGN_IN_DETAILED_SUMMARY as DETAILED, block_ceil};
use domain::time::{TICKS_PER_DAY, format_ticks};
use serde_json::{Value, json};
use storage::rollups::{AppDay, NO_ERROR_CODE};
use storage::{Store, TenantView};

use super::{base_url, next_link};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::paging;
use crate::query;
use crate::routes::reports::authorize_reader;
use crate::state::AppState;

/// The `auditLogs/` summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSummary {
    /// `signInEventsSummary`: per UTC day.
    Daily,
    /// `signInEventsAppSummary`: per application, last 30 days.
    PerApp,
}

/// The `reports/` functions' check: permission, license, role (`Endpoint::ReportFunctions`).
fn authorize_reports(
    store: &Store,
    principal: &Principal,
    enforce: bool,
    delegated_only: bool,
) -> Result<TenantView, ApiError> {
    if delegated_only && matches!(principal.subject, Subject::App { .. }) {
        return Err(ApiError::Forbidden {
            code: "Authorization_RequestDenied",
            message: "This API does not support application permissions: call it with a delegated (user) token.".into(),
        });
    }
    let view = store.tenant_view(&principal.tenant)?;
    match access::authorize(principal, Endpoint::ReportFunctions, view.tier, enforce)? {
        Access::TenantWide => Ok(view),
        // The rule has no own-records exception.
        Access::OwnOnly { .. } => Err(ApiError::Internal("report functions have no own-records access".into())),
    }
}

/// The rollups' rows of the last `days` days (or the whole window), clamped to the window.
fn app_days(
    store: &Store,
    principal: &Principal,
    view: &TenantView,
    days: Option<i64>,
) -> Result<Vec<AppDay>, ApiError> {
    let now = store.clock().now_ticks();
    let window = block_ceil(view.sign_ins_from);
    let start = days.map_or(window, |d| block_ceil(now - d * TICKS_PER_DAY).max(window));
    Ok(store.rollup_app_days(&principal.tenant, start, block_ceil(now))?)
}

fn null_if_empty(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

/// `getAzureADApplicationSignInSummary(period='D7')`: the period, or Graph's 400.
fn summary_period(segment: &str) -> Result<i64, ApiError> {
    let args = segment
        .get("getAzureADApplicationSignInSummary".len()..)
        .and_then(|rest| rest.strip_prefix('('))
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::BadRequest("Expected getAzureADApplicationSignInSummary(period='D7' or 'D30').".into())
        })?;
    let value = args.split_once('=').filter(|(k, _)| k.trim().eq_ignore_ascii_case("period")).map(|(_, v)| v.trim());
    // A string literal: quoted.
    let literal = value.and_then(|v| v.strip_prefix('\'')).and_then(|v| v.strip_suffix('\''));
    match literal.map(str::to_ascii_uppercase).as_deref() {
        Some("D7") => Ok(7),
        Some("D30") => Ok(30),
        _ => Err(ApiError::BadRequest(format!(
            "Invalid period in '{segment}': the supported values are 'D7' and 'D30'."
        ))),
    }
}

/// The rows of the detailed summary, as Graph's JSON, by application, day and error code.
fn detailed_rows(rows: Vec<AppDay>) -> Vec<Value> {
    rows.into_iter()
        .map(|r| {
            let code = (r.error_code != NO_ERROR_CODE).then_some(r.error_code);
            let id = derived_guid(&["applicationSignInDetailedSummary", &r.app_id, &r.day.to_string(), &r.error_code.to_string()]);
            json!({
                "id": id,
                "appId": null_if_empty(&r.app_id),
                "appDisplayName": null_if_empty(&r.app_display_name),
                "status": {"errorCode": code, "failureReason": null_if_empty(&r.failure_reason), "additionalDetails": null},
                "signInCount": r.sign_ins,
                "aggregatedEventDateTime": format_ticks(r.day),
            })
        })
        .collect()
}

fn json_response(body: &Value) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json; odata.metadata=minimal").body(body.to_string())
}

/// `GET /beta/reports/{function}`: `getAzureADApplicationSignInSummary(...)` or the detailed summary.
pub async fn reports_segment(
    segment: web::Path<String>,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let segment = percent_encoding::percent_decode_str(&segment).decode_utf8_lossy().into_owned();
    let lower = segment.to_ascii_lowercase();
    if lower.starts_with("getazureadapplicationsigninsummary") {
        return application_sign_in_summary(&segment, req, caller, state).await;
    }
    if lower == "applicationsignindetailedsummary" {
        return detailed_summary(None, req, caller, state).await;
    }
    Err(ApiError::NotFound(format!("Resource not found for the segment '{segment}'.")))
}

async fn application_sign_in_summary(
    segment: &str,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let days = summary_period(segment)?;
    if !req.query_string().is_empty() {
        return Err(ApiError::BadRequest("This function takes no query options.".into()));
    }
    let (store, enforce, principal) = (state.store.clone(), state.config.auth_enforce_scopes, caller.0);
    let rows = crate::observe::block(move || -> Result<_, ApiError> {
        let view = authorize_reports(&store, &principal, enforce, false)?;
        app_days(&store, &principal, &view, Some(days))
    })
    .await??;
    // (successful, failed, name) per application.
    let mut apps: BTreeMap<String, (i64, i64, String)> = BTreeMap::new();
    for r in rows {
        let e = apps.entry(r.app_id).or_default();
        if r.error_code == 0 {
            e.0 += r.sign_ins
        } else {
            e.1 += r.sign_ins
        }
        if r.app_display_name > e.2 {
            e.2 = r.app_display_name;
        }
    }
    let value: Vec<Value> = apps
        .into_iter()
        .map(|(app, (ok, failed, name))| {
            let total = ok + failed;
            // Two decimals, computed on integers so the rounding is the same everywhere.
            let hundredths = if total == 0 { 0 } else { (ok * 10_000 + total / 2) / total };
            #[allow(clippy::cast_precision_loss)]
            let percentage = hundredths as f64 / 100.0;
            json!({
                "id": app,
                "appDisplayName": name,
                "successfulSignInCount": ok,
                "failedSignInCount": failed,
                "successPercentage": percentage,
            })
        })
        .collect();
    let base = base_url(&req, &state);
    Ok(json_response(&json!({
        "@odata.context": format!("{base}/beta/$metadata#Collection(microsoft.graph.applicationSignInSummary)"),
        "value": value,
    })))
}

const DETAILED_OPTIONS: &[&str] = &["top", "skiptoken", "filter", "orderby"];

/// `GET /beta/reports/applicationSignInDetailedSummary` (`id` none) and `/{id}`.
pub async fn detailed_summary(
    id: Option<String>,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let options =
        query::parse(req.query_string(), if id.is_some() { &[] } else { DETAILED_OPTIONS }, DETAILED.max_top)?;
    let get = |name: &str| options.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let filter = get("$filter")
        .map(|f| resolve_filter(&DETAILED, &f))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let order = get("$orderby")
        .map(|o| resolve_orderby(&DETAILED, &o))
        .transpose()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
        .unwrap_or_default();
    let principal = caller.0;
    let binding = paging::binding(&principal.binding(), DETAILED.name, &options.canonical());
    let offset = match options.skiptoken.as_deref().map(|t| state.pager.open(&binding, t)).transpose()? {
        None => 0,
        Some(cursor) => match cursor.as_slice() {
            [Scalar::Int(n)] => usize::try_from(*n).unwrap_or(0),
            _ => return Err(ApiError::BadRequest("The $skiptoken does not belong to this query.".into())),
        },
    };
    let (store, enforce) = (state.store.clone(), state.config.auth_enforce_scopes);
    let rows = crate::observe::block(move || -> Result<_, ApiError> {
        let view = authorize_reports(&store, &principal, enforce, true)?;
        app_days(&store, &principal, &view, None)
    })
    .await??;
    let mut rows = detailed_rows(rows);
    let base = base_url(&req, &state);
    if let Some(id) = id {
        let wanted = id.to_lowercase();
        let row = rows.into_iter().find(|r| r["id"].as_str() == Some(wanted.as_str())).ok_or_else(|| {
            ApiError::NotFound(format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ))
        })?;
        let mut body = json!({"@odata.context": format!("{base}/beta/$metadata#reports/applicationSignInDetailedSummary/$entity")});
        if let (Value::Object(out), Value::Object(fields)) = (&mut body, row) {
            out.extend(fields);
        }
        return Ok(json_response(&body));
    }
    if let Some(f) = &filter {
        rows.retain(|r| eval::matches(f, r));
    }
    if !order.is_empty() {
        rows.sort_by(|a, b| eval::compare_docs(&order, DETAILED.id_field(), a, b));
    }
    let top = options.top.unwrap_or(DETAILED.default_top);
    let rest: Vec<Value> = rows.into_iter().skip(offset).collect();
    let more = rest.len() > top;
    let page: Vec<Value> = rest.into_iter().take(top).collect();
    let mut body = serde_json::Map::new();
    body.insert(
        "@odata.context".into(),
        json!(format!("{base}/beta/$metadata#reports/applicationSignInDetailedSummary")),
    );
    if more {
        let next = i64::try_from(offset + top).unwrap_or(i64::MAX);
        let token = state.pager.issue(&binding, &[Scalar::Int(next)]);
        body.insert("@odata.nextLink".into(), json!(next_link(&base, req.path(), &options, top, &token)));
    }
    body.insert("value".into(), Value::Array(page));
    Ok(json_response(&Value::Object(body)))
}

/// `GET /beta/auditLogs/signInEventsSummary` and `/signInEventsAppSummary`.
pub async fn audit_summary(
    function: AuditSummary,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !req.query_string().is_empty() {
        return Err(ApiError::BadRequest("This function takes no query options.".into()));
    }
    let (store, enforce, principal) = (state.store.clone(), state.config.auth_enforce_scopes, caller.0);
    let tenant = principal.tenant.as_str().to_owned();
    let (rows, window, now) = crate::observe::block(move || -> Result<_, ApiError> {
        let view = authorize_reader(&store, &principal, enforce)?;
        let days = match function {
            AuditSummary::PerApp => Some(30),
            AuditSummary::Daily => None,
        };
        let rows = app_days(&store, &principal, &view, days)?;
        Ok((rows, block_ceil(view.sign_ins_from), store.clock().now_ticks()))
    })
    .await??;
    let base = base_url(&req, &state);
    let (path, value): (&str, Vec<Value>) = match function {
        AuditSummary::PerApp => {
            let mut apps: BTreeMap<String, i64> = BTreeMap::new();
            for r in rows {
                *apps.entry(r.app_id).or_default() += r.sign_ins;
            }
            let value = apps
                .into_iter()
                .map(|(app, n)| json!({"appId": null_if_empty(&app), "signInCount": n, "tenantId": tenant}))
                .collect();
            ("auditLogs/signInEventsAppSummary", value)
        }
        AuditSummary::Daily => {
            // Every UTC day of the window, with the days without sign-ins.
            let mut days: BTreeMap<i64, i64> =
                domain::reports::utc_days(window, block_ceil(now)).into_iter().map(|d| (d, 0)).collect();
            for r in rows {
                *days.entry(r.day).or_default() += r.sign_ins;
            }
            let value = days
                .into_iter()
                .map(|(day, n)| {
                    json!({
                        "id": format_ticks(day).get(..10).unwrap_or_default(),
                        "activityDateTime": format_ticks(day),
                        "signInCount": n,
                    })
                })
                .collect();
            ("auditLogs/signInEventsSummary", value)
        }
    };
    Ok(json_response(&json!({"@odata.context": format!("{base}/beta/$metadata#{path}"), "value": value})))
}
