//! idtrail's activity reports for dashboards, served from the sign-in rollups (never a scan):
//!
//! - `GET /idtrail/reports/signInActivity?period=P30D&interval=P1W`: sign-ins, successes,
//!   failures and distinct users per local hour, day or ISO week (Monday first), optionally for one
//!   application (`appId`) or user (`userId`, `userPrincipalName`), in any IANA `timeZone`.
//! - `GET /idtrail/reports/topApplications?period=P30D&top=3&interval=P1W`: the top applications
//!   by sign-ins, each with the same series.
//!
//! Every bucket carries `drillDown`: the `/v1.0/auditLogs/signIns` URL whose `$filter` selects
//! exactly the sign-ins it counts. Readers are the tenant-wide readers of sign-ins (the sign-in
//! row of the authorization matrix, P1 and up); a user who may read only their own sign-ins gets
//! Graph's role error. The period ends at the end of the current 15-minute block and starts the
//! period before it; it may not reach past the tier's retention window.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono_tz::Tz;
use domain::access::{self, Access, Denied, Endpoint};
use domain::ids::{LicenseTier, is_guid};
use domain::policy::DataSet;
use domain::principal::Principal;
use domain::reports::{self, Bucket, Interval, block_ceil};
use domain::time::{TICKS_PER_DAY, format_ticks};
use serde_json::{Map, Value, json};
use storage::rollups::{Counts, ReportFilter};
use storage::{Store, TenantView};

use super::base_url;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::encode_value;
use crate::state::AppState;

/// The default period in days: 30, as the portal's graphs (or the whole window, if shorter).
const DEFAULT_PERIOD_DAYS: u32 = 30;
/// Most applications `topApplications` returns.
pub const MAX_TOP: usize = 50;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    SignInActivity,
    TopApplications,
}

impl Report {
    fn options(self) -> &'static [&'static str] {
        match self {
            Self::SignInActivity => &["period", "interval", "timeZone", "appId", "userId", "userPrincipalName"],
            Self::TopApplications => &["period", "interval", "timeZone", "top", "userId", "userPrincipalName"],
        }
    }
}

/// The tenant-wide sign-in reader check: the sign-in row of the matrix, without its own-records
/// exception (a report is about the tenant).
///
/// # Errors
/// Graph's 403s, in Graph's order: permission, license, role.
pub fn authorize_reader(store: &Store, principal: &Principal, enforce_scopes: bool) -> Result<TenantView, ApiError> {
    let view = store.tenant_view(&principal.tenant)?;
    match access::authorize(principal, Endpoint::SignIns, view.tier, enforce_scopes)? {
        Access::TenantWide => Ok(view),
        Access::OwnOnly { .. } => {
            let (license, roles) =
                access::rule(Endpoint::SignIns).map_or((LicenseTier::P1, &[][..]), |r| (r.license, r.roles));
            if view.tier < license {
                Err(Denied::License { needed: license }.into())
            } else {
                Err(Denied::Role { allowed: roles }.into())
            }
        }
    }
}

/// The options of a report request: known names only (any case), each at most once.
fn parse_options(report: Report, query: &str) -> Result<Vec<(&'static str, String)>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::BadRequest(format!("The query string is not valid: {e}.")))?;
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for (k, v) in pairs {
        let Some(name) = report.options().iter().find(|n| n.eq_ignore_ascii_case(&k)) else {
            return Err(ApiError::BadRequest(format!(
                "Query option '{k}' is not supported by this report. Supported: {}.",
                report.options().join(", ")
            )));
        };
        if out.iter().any(|(n, _)| n == name) {
            return Err(ApiError::BadRequest(format!("Query option '{name}' was specified more than once.")));
        }
        out.push((name, v));
    }
    Ok(out)
}

fn get<'o>(options: &'o [(&'static str, String)], name: &str) -> Option<&'o str> {
    options.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
}

fn guid_option(options: &[(&'static str, String)], name: &str) -> Result<Option<String>, ApiError> {
    match get(options, name) {
        None => Ok(None),
        Some(v) if is_guid(v) => Ok(Some(v.to_lowercase())),
        Some(v) => Err(ApiError::BadRequest(format!("Invalid {name} '{v}': a GUID is expected."))),
    }
}

/// A report's resolved parameters.
struct Params {
    period: String,
    interval: Interval,
    zone: Tz,
    start: i64,
    end: i64,
    app_id: Option<String>,
    user_id: Option<String>,
    upn: Option<String>,
    top: usize,
}

fn resolve(
    report: Report,
    options: &[(&'static str, String)],
    store: &Store,
    view: &TenantView,
) -> Result<Params, ApiError> {
    let window_days = store.retention().days(DataSet::SignIns, view.tier);
    let period =
        get(options, "period").map_or_else(|| format!("P{}D", DEFAULT_PERIOD_DAYS.min(window_days)), str::to_owned);
    let days = reports::parse_period(&period, window_days).map_err(ApiError::BadRequest)?;
    let interval = get(options, "interval")
        .map(Interval::parse)
        .transpose()
        .map_err(ApiError::BadRequest)?
        .unwrap_or(Interval::Week);
    let zone = get(options, "timeZone")
        .map(reports::parse_time_zone)
        .transpose()
        .map_err(ApiError::BadRequest)?
        .unwrap_or(Tz::UTC);
    let top = match get(options, "top") {
        None => 3,
        Some(v) => v.parse::<usize>().ok().filter(|n| (1..=MAX_TOP).contains(n)).ok_or_else(|| {
            ApiError::BadRequest(format!("Invalid top '{v}': a whole number from 1 to {MAX_TOP} is expected."))
        })?,
    };
    let upn = get(options, "userPrincipalName").map(str::to_owned);
    if upn.as_deref().is_some_and(|u| u.is_empty() || u.len() > 256) {
        return Err(ApiError::BadRequest("Invalid userPrincipalName: 1 to 256 characters are expected.".into()));
    }
    let user_id = guid_option(options, "userId")?;
    let app_id = match report {
        Report::SignInActivity => guid_option(options, "appId")?,
        Report::TopApplications => None,
    };
    let now = store.clock().now_ticks();
    let end = block_ceil(now);
    // Whole blocks only, and none before the retention window (see `storage::rollups`).
    let start = block_ceil(now - i64::from(days) * TICKS_PER_DAY).max(block_ceil(view.sign_ins_from));
    Ok(Params { period, interval, zone, start, end, app_id, user_id, upn, top })
}

/// What a series counts, for its drill-down links.
#[derive(Clone, Copy)]
struct Scope<'a> {
    /// Lower case; `''` for sign-ins without an application id.
    app_id: Option<&'a str>,
    /// The user ids counted (from `userId`, or those `userPrincipalName` resolved to, or both: the
    /// `userId` if the name resolved to it).
    users: Option<&'a [String]>,
    upn: Option<&'a str>,
    user_id: Option<&'a str>,
}

/// The `$filter` that selects exactly what a bucket counts.
fn drill_filter(start: i64, end: i64, scope: Scope<'_>) -> String {
    let mut f = format!("createdDateTime ge {} and createdDateTime lt {}", format_ticks(start), format_ticks(end));
    match scope.app_id {
        Some("") => f.push_str(" and appId eq null"),
        Some(app) => f.push_str(&format!(" and appId eq '{app}'")),
        None => {}
    }
    match (scope.users, scope.upn) {
        // A name nobody signed in with in the window (or not the given userId): the list is empty,
        // as the counts are.
        (Some([]), Some(upn)) => {
            f.push_str(&format!(" and userPrincipalName eq '{}'", upn.replace('\'', "''")));
            if let Some(id) = scope.user_id {
                f.push_str(&format!(" and userId eq '{id}'"));
            }
        }
        (Some(ids), _) => {
            let any: Vec<String> = ids.iter().map(|id| format!("userId eq '{id}'")).collect();
            f.push_str(&format!(" and ({})", any.join(" or ")));
        }
        (None, _) => {}
    }
    f
}

fn drill_down(base: &str, start: i64, end: i64, scope: Scope<'_>) -> String {
    format!("{base}/v1.0/auditLogs/signIns?$filter={}", encode_value(&drill_filter(start, end, scope)))
}

fn numbers(c: Counts) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("signIns".into(), json!(c.sign_ins));
    m.insert("successful".into(), json!(c.sign_ins - c.failed));
    m.insert("failed".into(), json!(c.failed));
    m.insert("distinctUsers".into(), json!(c.distinct_users));
    m
}

/// The buckets and totals of one series (`counts` has one entry per bucket, then the period's).
fn series(
    base: &str,
    buckets: &[Bucket],
    counts: &[Counts],
    scope: Scope<'_>,
    period: (i64, i64),
) -> (Vec<Value>, Value) {
    let rows = buckets
        .iter()
        .zip(counts)
        .map(|(b, c)| {
            let mut m = Map::new();
            m.insert("start".into(), json!(format_ticks(b.start)));
            m.insert("end".into(), json!(format_ticks(b.end)));
            m.insert("partial".into(), json!(b.partial));
            m.extend(numbers(*c));
            m.insert("drillDown".into(), json!(drill_down(base, b.start, b.end, scope)));
            Value::Object(m)
        })
        .collect();
    let mut totals = numbers(counts.get(buckets.len()).copied().unwrap_or_default());
    totals.insert("drillDown".into(), json!(drill_down(base, period.0, period.1, scope)));
    (rows, Value::Object(totals))
}

/// `GET /idtrail/reports/{report}`.
pub async fn report(
    report: Report,
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let options = parse_options(report, req.query_string())?;
    let principal = caller.0;
    let base = base_url(&req, &state);
    let store = state.store.clone();
    let enforce = state.config.auth_enforce_scopes;
    let body = crate::observe::block(move || -> Result<Value, ApiError> {
        let view = authorize_reader(&store, &principal, enforce)?;
        let p = resolve(report, &options, &store, &view)?;
        let tenant = &principal.tenant;
        let users: Option<Vec<String>> = match (&p.user_id, &p.upn) {
            (Some(id), None) => Some(vec![id.clone()]),
            // Both: that user, if the name resolved to it; otherwise nobody.
            (Some(id), Some(upn)) => {
                Some(store.user_ids_of_upn(tenant, upn, view.sign_ins_from)?.into_iter().filter(|u| u == id).collect())
            }
            // The user ids that signed in with this name in the window: the rollups are per user id.
            (None, Some(upn)) => Some(store.user_ids_of_upn(tenant, upn, view.sign_ins_from)?),
            (None, None) => None,
        };
        let buckets = reports::buckets(p.zone, p.interval, p.start, p.end);
        if buckets.len() > reports::MAX_BUCKETS {
            return Err(ApiError::BadRequest("The period has too many buckets for this interval.".into()));
        }
        let mut ranges: Vec<(i64, i64)> = buckets.iter().map(|b| (b.start, b.end)).collect();
        ranges.push((p.start, p.end));
        let mut out = Map::new();
        out.insert("period".into(), json!(p.period.to_ascii_uppercase()));
        out.insert("interval".into(), json!(p.interval.as_str()));
        out.insert("timeZone".into(), json!(p.zone.name()));
        if p.interval == Interval::Week {
            out.insert("weekStartsOn".into(), json!("monday"));
        }
        out.insert("start".into(), json!(format_ticks(p.start)));
        out.insert("end".into(), json!(format_ticks(p.end)));
        if let Some(ids) = &users {
            out.insert("userIds".into(), json!(ids));
        }
        match report {
            Report::SignInActivity => {
                if let Some(app) = &p.app_id {
                    out.insert("appId".into(), json!(app));
                }
                let filter = ReportFilter { app_id: p.app_id.as_deref(), user_ids: users.as_deref() };
                let counts = store.rollup_counts(tenant, &ranges, filter)?;
                let scope = Scope {
                    app_id: p.app_id.as_deref(),
                    users: users.as_deref(),
                    upn: p.upn.as_deref(),
                    user_id: p.user_id.as_deref(),
                };
                let (rows, totals) = series(&base, &buckets, &counts, scope, (p.start, p.end));
                out.insert("buckets".into(), Value::Array(rows));
                out.insert("totals".into(), totals);
            }
            Report::TopApplications => {
                out.insert("top".into(), json!(p.top));
                let top_apps = if let Some(users) = users.as_deref() {
                    let apps = store.rollup_top_apps(tenant, (p.start, p.end), p.top, users)?;
                    let ids: Vec<String> = apps.iter().map(|a| a.app_id.clone()).collect();
                    apps.into_iter().zip(store.rollup_app_series(tenant, &ranges, &ids, Some(users))?).collect()
                } else {
                    store.rollup_top_app_series(tenant, &ranges, (p.start, p.end), p.top)?
                };
                let mut list = Vec::with_capacity(top_apps.len());
                for (app, counts) in &top_apps {
                    let scope = Scope {
                        app_id: Some(&app.app_id),
                        users: users.as_deref(),
                        upn: p.upn.as_deref(),
                        user_id: p.user_id.as_deref(),
                    };
                    let (rows, totals) = series(&base, &buckets, counts, scope, (p.start, p.end));
                    let mut m = Map::new();
                    m.insert("appId".into(), json!(app.app_id));
                    m.insert(
                        "appDisplayName".into(),
                        if app.app_display_name.is_empty() { Value::Null } else { json!(app.app_display_name) },
                    );
                    if let Value::Object(t) = totals {
                        m.extend(t);
                    }
                    m.insert("buckets".into(), Value::Array(rows));
                    list.push(Value::Object(m));
                }
                out.insert("applications".into(), Value::Array(list));
            }
        }
        Ok(Value::Object(out))
    })
    .await??;
    Ok(HttpResponse::Ok().content_type("application/json").body(body.to_string()))
}
