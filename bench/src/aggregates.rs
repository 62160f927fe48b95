//! R1–R3: the reports and an `$apply`, each next to the database computing the same numbers with
//! `GROUP BY` over the base table (`sign_ins`), as a dashboard without rollups would have to.
//!
//! - R1 `signInActivity`, 30 days in weeks: sign-ins, failures and distinct users per ISO week
//!   and for the period (idtrail reads its rollups);
//! - R2 `topApplications`, the top 3 with the same series each (rollups);
//! - R3 `$apply` sign-ins per application and day over the retention window (idtrail's own
//!   `GROUP BY` over the base table: here the baseline is the same work, written by hand).
//!
//! Each is checked once before it is measured: the service's numbers equal the baseline's.

use std::collections::BTreeMap;

use anyhow::bail;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use domain::time::{TICKS_PER_DAY, format_ticks, parse_ticks};
use serde_json::Value;
use storage::sql::{Param, Sql};

use crate::db;
use crate::scenarios::{Baseline, Request, Scenario, Setup, get_json, human, list_target};

/// One group of a baseline: a key (`''`, an application), a bucket (`-1` for the whole period)
/// and its numbers.
#[derive(Debug, QueryableByName)]
pub struct Group {
    #[diesel(sql_type = Text)]
    pub g: String,
    #[diesel(sql_type = BigInt)]
    pub b: i64,
    #[diesel(sql_type = BigInt)]
    pub sign_ins: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
    #[diesel(sql_type = BigInt)]
    pub users: i64,
}

const WEEK: i64 = 7 * TICKS_PER_DAY;
/// 1970-01-05, the first Monday of the tick epoch: ISO weeks are `(t - MONDAY) / WEEK`.
const MONDAY: i64 = 4 * TICKS_PER_DAY;

/// The numbers of a group as the service and the baseline both give them.
type Numbers = (i64, i64, i64);

/// `(sign-ins, failed, distinct users)` of a report object (a bucket, totals, an application).
fn numbers(v: &Value) -> Numbers {
    let n = |k: &str| v[k].as_i64().unwrap_or(-1);
    (n("signIns"), n("failed"), n("distinctUsers"))
}

/// A report's numbers by (key, ISO week or -1 for the period).
fn served(key: &str, body: &Value, totals: &Value) -> anyhow::Result<BTreeMap<(String, i64), Numbers>> {
    let mut out = BTreeMap::new();
    out.insert((key.to_owned(), -1), numbers(totals));
    for b in body["buckets"].as_array().into_iter().flatten() {
        let start = b["start"]
            .as_str()
            .and_then(|s| parse_ticks(s).ok())
            .ok_or_else(|| anyhow::anyhow!("a bucket without start"))?;
        // Weeks without sign-ins are not groups of a GROUP BY.
        if numbers(b).0 > 0 {
            out.insert((key.to_owned(), (start - MONDAY).div_euclid(WEEK)), numbers(b));
        }
    }
    Ok(out)
}

fn baseline_numbers(rows: &[Group]) -> BTreeMap<(String, i64), Numbers> {
    rows.iter().map(|r| ((r.g.clone(), r.b), (r.sign_ins, r.failed, r.users))).collect()
}

/// `failed` as the reports count it: any `status/errorCode` but 0 (none included).
const FAILED: &str = "CAST(COALESCE(SUM(CASE WHEN status_error_code = 0 THEN 0 ELSE 1 END), 0) AS BIGINT)";

/// A report, its period, and the baseline's range parameters (tenant, start, end).
fn fetch_report(ctx: &mut Setup<'_>, target: &str, tenant: &Param) -> anyhow::Result<(Value, (i64, i64), [Param; 3])> {
    let body = get_json(ctx, target)?;
    let t = |k: &str| {
        body[k].as_str().and_then(|s| parse_ticks(s).ok()).ok_or_else(|| anyhow::anyhow!("{target} has no {k}"))
    };
    let (start, end) = (t("start")?, t("end")?);
    Ok((body, (start, end), [tenant.clone(), Param::BigInt(start), Param::BigInt(end)]))
}

fn compare(
    key: &str,
    served: &BTreeMap<(String, i64), Numbers>,
    baseline: &BTreeMap<(String, i64), Numbers>,
) -> anyhow::Result<()> {
    if served != baseline {
        let differ: Vec<_> = served
            .iter()
            .filter(|(k, v)| baseline.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k:?}: service {v:?}, baseline {:?}", baseline.get(k)))
            .chain(baseline.keys().filter(|k| !served.contains_key(*k)).map(|k| format!("{k:?}: only in the baseline")))
            .take(5)
            .collect();
        bail!("{key}: the service and the GROUP BY over sign_ins disagree: {}", differ.join("; "));
    }
    Ok(())
}

/// R1, R2 and R3, each checked against its baseline once.
pub fn build(ctx: &mut Setup<'_>) -> anyhow::Result<Vec<Scenario>> {
    let tenant = Param::Text(ctx.tenant.as_str().to_owned());
    let mut out = Vec::new();

    // R1: signInActivity, P30D in weeks.
    let target = "/idtrail/reports/signInActivity?period=P30D&interval=P1W".to_owned();
    let (body, (start, end), range) = fetch_report(ctx, &target, &tenant)?;
    let sql = db::with_params(
        ctx.db,
        &format!(
            "SELECT '' AS g, (created_ticks - {MONDAY}) / {WEEK} AS b, COUNT(*) AS sign_ins, {FAILED} AS failed, \
             COUNT(DISTINCT user_id) AS users FROM sign_ins \
             WHERE tenant_id = ? AND created_ticks >= ? AND created_ticks < ? GROUP BY (created_ticks - {MONDAY}) / {WEEK} \
             UNION ALL SELECT '' AS g, -1 AS b, COUNT(*) AS sign_ins, {FAILED} AS failed, COUNT(DISTINCT user_id) AS users \
             FROM sign_ins WHERE tenant_id = ? AND created_ticks >= ? AND created_ticks < ?"
        ),
        &[range.as_slice(), range.as_slice()].concat(),
    );
    let (rows, probe_ms) = timed(ctx, &sql)?;
    compare("R1", &served("", &body, &body["totals"])?, &baseline_numbers(&rows))?;
    out.push(Scenario {
        key: "R1",
        title: "signInActivity: 30 days in weeks, distinct users (rollups)".into(),
        request: format!("GET {target}"),
        service: Request::One(target),
        baseline: Baseline::Aggregate(sql),
        baseline_source: "GROUP BY ISO week over sign_ins: COUNT(*), failures, COUNT(DISTINCT user_id); and the period",
        check: format!(
            "the same sign-ins, failures and distinct users per week and for the period ({} sign-ins, {} users, {} to {})",
            body["totals"]["signIns"],
            body["totals"]["distinctUsers"],
            format_ticks(start),
            format_ticks(end)
        ),
        probe_ms,
        rows_read: None,
    });

    // R2: topApplications, top 3, in weeks.
    let target = "/idtrail/reports/topApplications?period=P30D&top=3&interval=P1W".to_owned();
    let (body, _, range) = fetch_report(ctx, &target, &tenant)?;
    let sql = db::with_params(
        ctx.db,
        &format!(
            "WITH top_apps AS (SELECT COALESCE(app_id, '') AS app FROM sign_ins \
             WHERE tenant_id = ? AND created_ticks >= ? AND created_ticks < ? \
             GROUP BY COALESCE(app_id, '') ORDER BY COUNT(*) DESC, COALESCE(app_id, '') LIMIT 3), \
             s AS (SELECT top_apps.app, created_ticks, status_error_code, user_id FROM sign_ins \
             JOIN top_apps ON COALESCE(sign_ins.app_id, '') = top_apps.app \
             WHERE tenant_id = ? AND created_ticks >= ? AND created_ticks < ?) \
             SELECT app AS g, (created_ticks - {MONDAY}) / {WEEK} AS b, COUNT(*) AS sign_ins, {FAILED} AS failed, \
             COUNT(DISTINCT user_id) AS users FROM s GROUP BY app, (created_ticks - {MONDAY}) / {WEEK} \
             UNION ALL SELECT app AS g, -1 AS b, COUNT(*) AS sign_ins, {FAILED} AS failed, \
             COUNT(DISTINCT user_id) AS users FROM s GROUP BY app"
        ),
        &[range.as_slice(), range.as_slice()].concat(),
    );
    let (rows, probe_ms) = timed(ctx, &sql)?;
    let mut service = BTreeMap::new();
    for app in body["applications"].as_array().into_iter().flatten() {
        let id = app["appId"].as_str().unwrap_or_default();
        service.extend(served(id, app, app)?);
    }
    compare("R2", &service, &baseline_numbers(&rows))?;
    let names: Vec<&str> =
        body["applications"].as_array().into_iter().flatten().filter_map(|a| a["appDisplayName"].as_str()).collect();
    out.push(Scenario {
        key: "R2",
        title: "topApplications: top 3 over 30 days, weekly series each (rollups)".into(),
        request: format!("GET {target}"),
        service: Request::One(target),
        baseline: Baseline::Aggregate(sql),
        baseline_source: "GROUP BY application for the top 3, then GROUP BY application and ISO week over sign_ins",
        check: format!("the same top 3 ({}) with the same numbers per week and for the period", names.join(", ")),
        probe_ms,
        rows_read: None,
    });

    // R3: $apply sign-ins per application and UTC day over the retention window.
    let apply = "compute(date(createdDateTime) as day)/groupby((appDisplayName,day),aggregate($count as n))";
    let options = [("$apply", apply.to_owned())];
    let target = list_target(&options);
    let body = get_json(ctx, &target)?;
    let from = ctx.store.tenant_view(ctx.tenant)?.sign_ins_from;
    let sql = db::with_params(
        ctx.db,
        &format!(
            "SELECT COALESCE(app_display_name, '') AS g, created_ticks / {TICKS_PER_DAY} AS b, COUNT(*) AS sign_ins, \
             CAST(0 AS BIGINT) AS failed, CAST(0 AS BIGINT) AS users FROM sign_ins WHERE tenant_id = ? AND created_ticks >= ? \
             GROUP BY COALESCE(app_display_name, ''), created_ticks / {TICKS_PER_DAY}"
        ),
        &[tenant, Param::BigInt(from)],
    );
    let (rows, probe_ms) = timed(ctx, &sql)?;
    let groups = body["value"].as_array().map_or(0, Vec::len);
    let total: i64 = body["value"].as_array().into_iter().flatten().filter_map(|g| g["n"].as_i64()).sum();
    let baseline_total: i64 = rows.iter().map(|r| r.sign_ins).sum();
    if groups != rows.len() || total != baseline_total {
        bail!(
            "R3: the service gave {groups} groups of {total} sign-ins, the baseline {} of {baseline_total}",
            rows.len()
        );
    }
    out.push(Scenario {
        key: "R3",
        title: "$apply: sign-ins per application and day over the window (GROUP BY in the database)".into(),
        request: human(&options),
        service: Request::One(target),
        baseline: Baseline::Aggregate(sql),
        baseline_source: "GROUP BY app_display_name, UTC day over sign_ins (written by hand)",
        check: format!("both give {groups} groups of {total} sign-ins"),
        probe_ms,
        rows_read: None,
    });
    Ok(out)
}

fn timed(ctx: &mut Setup<'_>, sql: &Sql) -> anyhow::Result<(Vec<Group>, f64)> {
    let t = std::time::Instant::now();
    let rows: Vec<Group> = sql.load(ctx.db).map_err(|e| anyhow::anyhow!("{}: {e}", sql.text()))?;
    Ok((rows, t.elapsed().as_secs_f64() * 1000.0))
}

/// I2: the storage layer's ingest of the same sign-ins into fresh databases, with the rollups
/// and without them, alternating (three times each; the best run of each counts: on a shared
/// machine two runs of the same build differed by up to 20 %).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RollupCost {
    pub rows: usize,
    /// Sign-ins per second.
    pub with_rollups: f64,
    pub without_rollups: f64,
    /// With / without.
    pub ratio: f64,
}

/// Measures [`RollupCost`] on `rows` sign-ins of the large demo tenant, in batches of `batch`,
/// from one client, in databases made (and dropped) by `fresh(i)`.
pub fn rollup_cost(
    rows: usize,
    batch: usize,
    end: chrono::DateTime<chrono::Utc>,
    fresh: impl Fn(usize) -> db::Db,
) -> anyhow::Result<RollupCost> {
    let tenant = domain::ids::TenantId::parse(demo::TENANTS[0].id)?;
    let cfg = demo::DemoConfig { sign_ins: rows * 2, days: 30, seed: 0x12, end };
    let records: Vec<storage::sign_ins::SignInRecord> = demo::sign_ins(&cfg)
        .filter(|s| s.tenant_id == demo::TENANTS[0].id)
        .take(rows)
        .map(|s| storage::sign_ins::SignInRecord::from_document(&tenant, s.document).map_err(|e| anyhow::anyhow!(e)))
        .collect::<anyhow::Result<_>>()?;
    let batches: Vec<Vec<storage::sign_ins::SignInRecord>> = records.chunks(batch.max(1)).map(<[_]>::to_vec).collect();
    let mut best = [0.0_f64; 2];
    for round in 0..6 {
        let with = round % 2 == 0;
        let db = fresh(round);
        db.recreate()?;
        let store =
            storage::Store::open(&db.url(), 4)?.with_policy(crate::service::retention(), domain::ids::LicenseTier::P2);
        let store = if with { store } else { store.without_rollups_for_measurement() };
        let t = std::time::Instant::now();
        let mut stored = 0;
        for b in &batches {
            stored += store.ingest_sign_ins(&tenant, b.clone())?.inserted;
        }
        let rate = stored as f64 / t.elapsed().as_secs_f64();
        drop(store);
        db.drop_if_exists()?;
        let slot = &mut best[usize::from(!with)];
        *slot = slot.max(rate);
    }
    Ok(RollupCost {
        rows: records.len(),
        with_rollups: best[0],
        without_rollups: best[1],
        ratio: best[0] / best[1].max(1e-9),
    })
}
