//! The query scenarios: for each, the request the service gets and the SQL idtrail's compiler
//! produces for it, which the baseline runs on its own connections at the same concurrency.

use anyhow::{Context, bail};
use domain::ids::TenantId;
use domain::query::registry::SIGN_INS;
use domain::query::{Filter, Scalar, eval, resolve_filter};
use serde::{Deserialize, Serialize};
use storage::conn::AnyConnection;
use storage::sql::{Param, Sql};
use storage::{Query, Store, StoredDocument, TenantView};

use crate::db::{self, Count};
use crate::http::{Conn, encode};

/// Page size of the list scenarios.
pub const TOP: usize = 50;

/// What the service is asked, per request.
#[derive(Debug, Clone)]
pub enum Request {
    /// The same request every time.
    One(String),
    /// Request `n` is `targets[n % len]`.
    Cycle(Vec<String>),
}

impl Request {
    pub fn target(&self, n: u64) -> &str {
        match self {
            Self::One(t) => t,
            Self::Cycle(v) => v.get((n as usize) % v.len().max(1)).map_or("", String::as_str),
        }
    }
}

/// What the baseline runs, per request.
#[derive(Debug, Clone)]
pub enum Baseline {
    /// A page query (rows of `StoredDocument`).
    Page(Sql),
    /// `SELECT COUNT(*) AS n`.
    Count(Sql),
    /// Statement `n` is `sqls[n % len]`.
    Cycle(Vec<Sql>),
    /// A `GROUP BY` over the base table (rows of [`crate::aggregates::Group`]).
    Aggregate(Sql),
    /// No database work to compare with (the HTTP floor).
    None,
}

impl Baseline {
    /// Runs request `n`; returns the rows it read (the count, for a count).
    pub fn run(&self, conn: &mut AnyConnection, n: u64) -> Result<usize, String> {
        match self {
            Self::Page(sql) => sql.load::<StoredDocument>(conn).map(|r| r.len()).map_err(|e| e.to_string()),
            Self::Count(sql) => sql
                .load::<Count>(conn)
                .map(|r| r.first().map_or(0, |c| usize::try_from(c.n).unwrap_or(0)))
                .map_err(|e| e.to_string()),
            Self::Cycle(v) => {
                let sql = v.get((n as usize) % v.len().max(1)).ok_or("no statements")?;
                sql.load::<StoredDocument>(conn).map(|r| r.len()).map_err(|e| e.to_string())
            }
            Self::Aggregate(sql) => {
                sql.load::<crate::aggregates::Group>(conn).map(|r| r.len()).map_err(|e| e.to_string())
            }
            Self::None => Ok(0),
        }
    }

    pub fn first_sql(&self) -> Option<&Sql> {
        match self {
            Self::Page(s) | Self::Count(s) | Self::Aggregate(s) => Some(s),
            Self::Cycle(v) => v.first(),
            Self::None => None,
        }
    }
}

/// One scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub key: &'static str,
    pub title: String,
    /// The request as a person would write it (decoded), for the report.
    pub request: String,
    pub service: Request,
    pub baseline: Baseline,
    /// Where the baseline SQL comes from.
    pub baseline_source: &'static str,
    /// What the first service response and baseline run agreed on.
    pub check: String,
    /// How long the baseline statement took once, during the check (ms): slow scenarios are
    /// measured with fewer requests.
    pub probe_ms: f64,
    /// A list page: the rows its statement read (`plans::rows_read`).
    pub rows_read: Option<crate::plans::RowsRead>,
}

/// For the report: the SQL and its parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SqlText {
    pub text: String,
    pub params: Vec<String>,
}

pub fn sql_text(sql: &Sql) -> SqlText {
    SqlText {
        text: sql.text().to_owned(),
        params: sql
            .params()
            .iter()
            .map(|p| match p {
                Param::Text(s) => format!("'{s}'"),
                Param::NullableText(s) => s.as_ref().map_or("NULL".into(), |s| format!("'{s}'")),
                Param::BigInt(v) => v.to_string(),
                Param::NullableBigInt(v) => v.map_or("NULL".into(), |v| v.to_string()),
                Param::NullableInteger(v) => v.map_or("NULL".into(), |v| v.to_string()),
                Param::NullableBool(v) => v.map_or("NULL".into(), |v| v.to_string()),
                Param::NullableDouble(v) => v.map_or("NULL".into(), |v| v.to_string()),
                Param::Integer(v) => v.to_string(),
                Param::Bool(v) => v.to_string(),
                Param::Double(v) => v.to_string(),
                Param::TextArray(v) => format!("{v:?}"),
                Param::BigIntArray(v) => format!("{v:?}"),
            })
            .collect(),
    }
}

/// What the scenarios are built from.
pub struct Setup<'a> {
    pub store: &'a Store,
    pub tenant: &'a TenantId,
    pub token: &'a str,
    pub http: &'a mut Conn,
    pub db: &'a mut AnyConnection,
    /// Formatted instants the filters use.
    pub now: chrono::DateTime<chrono::Utc>,
    /// Sign-in ids to fetch by id (Q8).
    pub ids: Vec<String>,
    /// An application that has failures (Q3).
    pub app_id: String,
    /// A `userPrincipalName` prefix (Q2).
    pub upn_prefix: String,
    /// An application name (as stored) with failures (Q9).
    pub app_name: String,
    /// Three user ids (Q10).
    pub users: Vec<String>,
    /// A `userPrincipalName` prefix matching about 8 % of the tenant's sign-ins (Q11), with its share.
    pub wide_prefix: (String, f64),
}

pub(crate) fn list_target(options: &[(&str, String)]) -> String {
    let q: Vec<String> = options.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
    format!("/v1.0/auditLogs/signIns?{}", q.join("&"))
}

pub(crate) fn human(options: &[(&str, String)]) -> String {
    let q: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("GET /v1.0/auditLogs/signIns?{}", q.join("&"))
}

pub(crate) fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn get_json(ctx: &mut Setup<'_>, target: &str) -> anyhow::Result<serde_json::Value> {
    let r = ctx.http.get(target, ctx.token)?;
    if r.status != 200 {
        bail!("{target} answered {}: {}", r.status, r.text());
    }
    serde_json::from_slice(&r.body).with_context(|| format!("{target} did not answer JSON"))
}

/// The query the handler runs for a page or count of the large tenant's sign-ins.
fn query<'a>(ctx: &Setup<'a>, filter: Option<&'a Filter>, after: Option<&'a [Scalar]>, limit: usize) -> Query<'a> {
    Query { set: &SIGN_INS, tenant: ctx.tenant, user: None, filter, order: &[], after, limit }
}

fn resolve(filter: &str) -> anyhow::Result<Filter> {
    resolve_filter(&SIGN_INS, filter).map_err(|e| anyhow::anyhow!("{e}"))
}

/// `Store::page_sql`: the handler's statement (it asks for one more row than it serves, to know
/// whether there is a next page).
fn page_sql(ctx: &Setup<'_>, view: &TenantView, filter: Option<&str>, after: Option<&[Scalar]>) -> anyhow::Result<Sql> {
    let filter = filter.map(resolve).transpose()?;
    Ok(ctx.store.page_sql(&query(ctx, filter.as_ref(), after, TOP + 1), view))
}

/// `Store::count_sql`: the statement of `/$count` and `$count=true`.
fn count_sql(ctx: &Setup<'_>, view: &TenantView, filter: &str) -> anyhow::Result<Sql> {
    let filter = resolve(filter)?;
    Ok(ctx.store.count_sql(&query(ctx, Some(&filter), None, 0), view))
}

/// `Store::get_sql`: the statement of one sign-in by id.
fn by_id_sql(ctx: &Setup<'_>, view: &TenantView, id: &str) -> Sql {
    ctx.store.get_sql(&SIGN_INS, ctx.tenant, None, id, view)
}

/// A list scenario: checks that the service's first page and the baseline's rows agree.
fn list(
    ctx: &mut Setup<'_>,
    view: &TenantView,
    key: &'static str,
    title: &str,
    filter: Option<String>,
) -> anyhow::Result<Scenario> {
    let mut options = vec![("$top", TOP.to_string())];
    if let Some(f) = &filter {
        options.insert(0, ("$filter", f.clone()));
    }
    let target = list_target(&options);
    let sql = page_sql(ctx, view, filter.as_deref(), None)?;
    let body = get_json(ctx, &target)?;
    let served = body["value"].as_array().map_or(0, Vec::len);
    let more = body.get("@odata.nextLink").is_some();
    let t = std::time::Instant::now();
    let rows: Vec<StoredDocument> = sql.load(ctx.db).with_context(|| format!("{key} baseline SQL"))?;
    let probe_ms = t.elapsed().as_secs_f64() * 1000.0;
    let rows_read = crate::plans::rows_read(ctx.db, &sql).with_context(|| format!("{key}: rows read"))?;
    let first_service = body["value"][0]["id"].as_str().unwrap_or("").to_lowercase();
    let first_baseline = rows.first().map(|r| r.id.clone()).unwrap_or_default();
    if served != rows.len().min(TOP) || more != (rows.len() > TOP) || first_service != first_baseline {
        bail!(
            "{key}: the service served {served} rows (first {first_service}, next link {more}) but the baseline \
             SQL read {} (first {first_baseline})",
            rows.len()
        );
    }
    Ok(Scenario {
        key,
        title: title.to_owned(),
        request: human(&options),
        service: Request::One(target),
        baseline: Baseline::Page(sql),
        baseline_source: "Store::page_sql (the handler's statement, LIMIT top+1)",
        check: format!("both return {served} rows (service first id = baseline first id), next page: {more}"),
        probe_ms,
        rows_read,
    })
}

/// Builds every query scenario, checking each against the baseline once.
pub fn build(ctx: &mut Setup<'_>) -> anyhow::Result<Vec<Scenario>> {
    let view = ctx.store.tenant_view(ctx.tenant)?;
    let day = instant(ctx.now - chrono::Duration::hours(24));
    let week = instant(ctx.now - chrono::Duration::days(7));
    let mut out = vec![Scenario {
        key: "H0",
        title: "the HTTP floor: GET /healthz, no database work (reference, no target)".into(),
        request: "GET /healthz".into(),
        service: Request::One("/healthz".into()),
        baseline: Baseline::None,
        baseline_source: "none",
        check: "200".into(),
        probe_ms: 0.0,
        rows_read: None,
    }];

    out.push(list(ctx, &view, "Q1", "newest 50 of the last 24 h", Some(format!("createdDateTime ge {day}")))?);
    out.push(list(
        ctx,
        &view,
        "Q2",
        "startswith(userPrincipalName) over 7 days",
        Some(format!("startswith(userPrincipalName,'{}') and createdDateTime ge {week}", ctx.upn_prefix)),
    )?);
    out.push(list(
        ctx,
        &view,
        "Q3",
        "an application's failures over 7 days",
        Some(format!("appId eq '{}' and status/errorCode ne 0 and createdDateTime ge {week}", ctx.app_id)),
    )?);
    out.push(list(ctx, &view, "Q4", "risky sign-ins", Some("riskLevelDuringSignIn ne 'none'".into()))?);
    out.push(list(
        ctx,
        &view,
        "Q5",
        "a CA policy failed",
        Some("appliedConditionalAccessPolicies/any(p: p/result eq 'failure')".into()),
    )?);

    // Issue 20: filtered pages against the unfiltered one (report: cost ratio to Q1).
    out.push(list(
        ctx,
        &view,
        "Q9",
        "an application's failures (equality + status/errorCode ne 0)",
        Some(format!("appDisplayName eq '{}' and status/errorCode ne 0", ctx.app_name.replace('\'', "''"))),
    )?);
    let users: Vec<String> = ctx.users.iter().map(|u| format!("'{u}'")).collect();
    out.push(list(ctx, &view, "Q10", "userId in (three users)", Some(format!("userId in ({})", users.join(","))))?);
    let (prefix, share) = ctx.wide_prefix.clone();
    out.push(list(
        ctx,
        &view,
        "Q11",
        &format!("startswith(userPrincipalName) matching {:.1} % of the sign-ins", share * 100.0),
        Some(format!("startswith(userPrincipalName,'{prefix}')")),
    )?);

    // Q6: page 1, and page 200 reached by following nextLinks.
    let mut page1 = list(ctx, &view, "Q6p1", "page 1 (no filter)", None)?;
    page1.title = "page 1, newest first".into();
    let Request::One(first) = &page1.service else { bail!("Q6 page 1 has no single target") };
    let mut target = first.clone();
    let mut last_doc = serde_json::Value::Null;
    for page in 1..200 {
        let body = get_json(ctx, &target)?;
        last_doc = body["value"].as_array().and_then(|v| v.last()).cloned().unwrap_or_default();
        let next =
            body["@odata.nextLink"].as_str().ok_or_else(|| anyhow::anyhow!("Q6: page {page} has no nextLink"))?;
        let at = next.find("/v1.0/").ok_or_else(|| anyhow::anyhow!("Q6: odd nextLink {next}"))?;
        target = next[at..].to_owned();
    }
    let (ticks_field, id_field) = (
        SIGN_INS.field("createdDateTime").ok_or_else(|| anyhow::anyhow!("no createdDateTime"))?,
        SIGN_INS.field("id").ok_or_else(|| anyhow::anyhow!("no id"))?,
    );
    let cursor = vec![eval::field_value(&last_doc, ticks_field), eval::field_value(&last_doc, id_field)];
    let sql = page_sql(ctx, &view, None, Some(&cursor))?;
    let body = get_json(ctx, &target)?;
    let t = std::time::Instant::now();
    let rows: Vec<StoredDocument> = sql.load(ctx.db)?;
    let probe_ms = t.elapsed().as_secs_f64() * 1000.0;
    let first_service = body["value"][0]["id"].as_str().unwrap_or("").to_lowercase();
    if rows.first().map(|r| r.id.as_str()) != Some(first_service.as_str()) {
        bail!("Q6: page 200's first row differs between the service ({first_service}) and the baseline SQL");
    }
    out.push(page1);
    out.push(Scenario {
        key: "Q6p200",
        title: "page 200 via $skiptoken".into(),
        request: "GET <the 199th @odata.nextLink of $top=50> ($skiptoken)".into(),
        service: Request::One(target),
        baseline: Baseline::Page(sql),
        baseline_source: "Store::page_sql with the keyset cursor of page 199's last row",
        check: format!("page 200 starts with the same row in both ({first_service})"),
        probe_ms,
        rows_read: None,
    });

    // Q7: $count=true over 7 days (the page and the count) against COUNT(*) of the same predicate.
    let filter = format!("createdDateTime ge {week}");
    let options = vec![("$filter", filter.clone()), ("$count", "true".into()), ("$top", TOP.to_string())];
    let target = list_target(&options);
    let body = get_json(ctx, &target)?;
    let sql = count_sql(ctx, &view, &filter)?;
    let t = std::time::Instant::now();
    let n = db::scalar_sql(ctx.db, &sql)?;
    let probe_ms = t.elapsed().as_secs_f64() * 1000.0;
    let served = body["@odata.count"].as_i64().unwrap_or(-1);
    if served != n {
        bail!("Q7: the service counted {served}, the baseline COUNT(*) {n}");
    }
    out.push(Scenario {
        key: "Q7",
        title: "$count=true over 7 days (large tenant)".into(),
        request: human(&options),
        service: Request::One(target),
        baseline: Baseline::Count(sql),
        baseline_source: "Store::count_sql: COUNT(*) of the same predicate",
        check: format!("both count {n}"),
        probe_ms,
        rows_read: None,
    });

    // Q8: get by id, cycling through sampled ids.
    if ctx.ids.is_empty() {
        bail!("Q8: no ids sampled");
    }
    let targets: Vec<String> = ctx.ids.iter().map(|id| format!("/v1.0/auditLogs/signIns/{id}")).collect();
    let sqls: Vec<Sql> = ctx.ids.iter().map(|id| by_id_sql(ctx, &view, id)).collect();
    let body = get_json(ctx, &targets[0])?;
    let rows: Vec<StoredDocument> = sqls[0].load(ctx.db)?;
    if rows.len() != 1 || body["id"].as_str().map(str::to_lowercase) != Some(rows[0].id.clone()) {
        bail!("Q8: the service and the baseline disagree on sign-in {}", ctx.ids[0]);
    }
    out.push(Scenario {
        key: "Q8",
        title: "get by id".into(),
        request: format!("GET /v1.0/auditLogs/signIns/{{id}} ({} sampled ids, in turn)", ctx.ids.len()),
        service: Request::Cycle(targets),
        baseline: Baseline::Cycle(sqls),
        baseline_source: "the statement of Store::sign_in (as it writes it)",
        check: "both return the sign-in".into(),
        probe_ms: 0.0,
        rows_read: None,
    });
    Ok(out)
}

/// Issue 20 part 3: a scenario measured on two services of the same database, idtrail's
/// prepared statements on (the default) and off (`database_prepared_statements = false`).
#[derive(Debug, Clone)]
pub struct PreparedPair {
    pub key: &'static str,
    pub title: String,
    pub request: String,
    pub target: String,
}

/// P1 and P2: Q1 and Q2's requests, on prepared statements against without. P3 and P4 are the
/// skewed filters a plan made without values could serve badly: Q11's `startswith` on a prefix
/// of ~8 % of the sign-ins, and Q9's application equality with `status/errorCode ne 0`. P5 is
/// Q6p1, the newest 50 with no filter (what a Graph client asks first), whose statement spans
/// every day partition of the retention window, so that planning it is most of its cost.
pub fn prepared_pairs(all: &[Scenario]) -> Vec<PreparedPair> {
    [("P1", "Q1"), ("P2", "Q2"), ("P3", "Q11"), ("P4", "Q9"), ("P5", "Q6p1")]
        .into_iter()
        .filter_map(|(key, of)| {
            let sc = all.iter().find(|s| s.key == of)?;
            let Request::One(target) = &sc.service else { return None };
            Some(PreparedPair {
                key,
                title: format!("{of} ({}), prepared statements on / off", sc.title),
                request: sc.request.clone(),
                target: target.clone(),
            })
        })
        .collect()
}
