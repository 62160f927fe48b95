//! idtrail's activity reports (`/idtrail/reports/signInActivity`, `/topApplications`) against an
//! oracle: random ingests (duplicates, expired rows, two tenants), then every report in several
//! time zones compared with the numbers computed here from the stored documents, before and after
//! time moves and the purge runs; every drill-down link followed returns its bucket's count.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use domain::ids::{LicenseTier, TenantId};
use domain::time::{TICKS_PER_DAY, TICKS_PER_SECOND, format_ticks, from_ticks, parse_ticks, to_ticks};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::support::{
    OTHER_OID, TENANT_A, TENANT_B, TestApp, USER_OID, admin_token, each_backend, guid, ingest_token, sign_in_doc,
    user_token,
};

const ACTIVITY: &str = "/idtrail/reports/signInActivity";
const TOP: &str = "/idtrail/reports/topApplications";
const BLOCK: i64 = 15 * 60 * TICKS_PER_SECOND;

/// A fixed "now" whose 30-day window holds Europe/Paris's and America/St_Johns's autumn changes.
fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 10, 12, 7, 31).single().unwrap()
}

const APPS: &[(&str, &str)] = &[
    ("de8bc8b5-d9f9-48b1-a8ad-b748da725064", "Graph Explorer"),
    ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    ("89bee1f7-5e6e-4d8a-9f3d-ecd601259da7", "Contoso Expenses"),
];

fn users() -> Vec<String> {
    let mut v: Vec<String> = (0..5).map(|i| guid(70_000 + i)).collect();
    v.push(USER_OID.to_owned());
    v
}

/// A user's sign-in name (mixed case: names compare case-insensitively).
fn upn_of(user: &str) -> String {
    format!("user{}@Contoso.com", &user[user.len() - 4..])
}

/// A random sign-in of `tenant`'s population: up to 34 days old (so some are past the window),
/// skewed towards one user and one application so the top list is not a tie.
fn random_doc(rng: &mut StdRng, n: u64, now: DateTime<Utc>) -> Value {
    let users = users();
    let age = Duration::seconds(rng.gen_range(0..34 * 86_400));
    let user = if rng.gen_bool(0.3) { &users[0] } else { &users[rng.gen_range(0..users.len())] };
    let (app_id, app_name) = if rng.gen_bool(0.35) { APPS[0] } else { APPS[rng.gen_range(0..APPS.len())] };
    let mut d = sign_in_doc(n, now - age, user);
    d["appId"] = json!(app_id);
    d["appDisplayName"] = json!(app_name);
    d["userPrincipalName"] = json!(upn_of(user));
    d["status"]["errorCode"] = json!(if rng.gen_bool(0.25) { 50126 } else { 0 });
    d
}

/// One stored sign-in, as the oracle sees it.
#[derive(Debug, Clone)]
struct Row {
    ticks: i64,
    user: String,
    app: String,
    app_name: String,
    upn: String,
    failed: bool,
}

/// Every stored sign-in of `tenant`, read from its stored document.
fn stored(app: &TestApp, tenant: &str) -> Vec<Row> {
    #[derive(diesel::QueryableByName)]
    struct D {
        #[diesel(sql_type = diesel::sql_types::Text)]
        doc: String,
    }
    let mut sql = storage::sql::Sql::new(app.store.backend());
    sql.push("SELECT doc FROM sign_ins WHERE tenant_id = ").bind(storage::sql::Param::Text(tenant.into()));
    let mut conn = app.connection();
    sql.load::<D>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|d| {
            let v: Value = serde_json::from_str(&d.doc).unwrap();
            Row {
                ticks: parse_ticks(v["createdDateTime"].as_str().unwrap()).unwrap(),
                user: v["userId"].as_str().unwrap().to_lowercase(),
                app: v["appId"].as_str().unwrap().to_lowercase(),
                app_name: v["appDisplayName"].as_str().unwrap().to_owned(),
                upn: v["userPrincipalName"].as_str().unwrap().to_lowercase(),
                failed: v["status"]["errorCode"].as_i64() != Some(0),
            }
        })
        .collect()
}

/// What identifies the local hour (with its offset), day or ISO week of an instant.
fn key(zone: Tz, interval: &str, ticks: i64) -> (i32, u32, u32, i32) {
    let local = zone.from_utc_datetime(&from_ticks(ticks).naive_utc());
    match interval {
        "PT1H" => (local.year(), local.ordinal(), local.hour(), local.offset().fix().local_minus_utc()),
        "P1D" => (local.year(), local.ordinal(), 0, 0),
        _ => (local.iso_week().year(), local.iso_week().week(), 0, 0),
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    sign_ins: i64,
    failed: i64,
    users: BTreeSet<String>,
}

impl Tally {
    fn add(&mut self, r: &Row) {
        self.sign_ins += 1;
        self.failed += i64::from(r.failed);
        self.users.insert(r.user.clone());
    }

    fn check(&self, got: &Value, what: &str) {
        let want = json!({
            "signIns": self.sign_ins,
            "successful": self.sign_ins - self.failed,
            "failed": self.failed,
            "distinctUsers": self.users.len(),
        });
        let have = json!({
            "signIns": got["signIns"],
            "successful": got["successful"],
            "failed": got["failed"],
            "distinctUsers": got["distinctUsers"],
        });
        assert_eq!(have, want, "{what}: {got}");
    }
}

/// Checks one series (`buckets` and totals in `series`) against `rows` (already filtered).
fn check_series(
    series: &Value,
    buckets: &Value,
    rows: &[&Row],
    zone: Tz,
    interval: &str,
    range: (i64, i64),
    what: &str,
) {
    let buckets = buckets.as_array().unwrap();
    let mut by_key: BTreeMap<(i32, u32, u32, i32), Tally> = BTreeMap::new();
    let mut total = Tally::default();
    for r in rows.iter().filter(|r| r.ticks >= range.0 && r.ticks < range.1) {
        by_key.entry(key(zone, interval, r.ticks)).or_default().add(r);
        total.add(r);
    }
    total.check(series, &format!("{what} totals"));
    // The buckets tile the range, each one local hour, day or week, marked partial when cut.
    let mut at = range.0;
    let mut seen = BTreeSet::new();
    for (i, b) in buckets.iter().enumerate() {
        let (s, e) =
            (parse_ticks(b["start"].as_str().unwrap()).unwrap(), parse_ticks(b["end"].as_str().unwrap()).unwrap());
        assert_eq!(s, at, "{what}: bucket {i} starts where the previous ended");
        assert!(e > s && s % BLOCK == 0 && e % BLOCK == 0, "{what}: bucket {i} is whole blocks: {b}");
        let k = key(zone, interval, s);
        assert_eq!(key(zone, interval, e - 1), k, "{what}: bucket {i} is one {interval}");
        let cut = key(zone, interval, s - 1) == k || key(zone, interval, e) == k;
        assert_eq!(b["partial"], json!(cut), "{what}: bucket {i} partial: {b}");
        assert!(seen.insert(k), "{what}: two buckets for one {interval}");
        by_key.remove(&k).unwrap_or_default().check(b, &format!("{what} bucket {i} ({})", b["start"]));
        at = e;
    }
    assert_eq!(at, range.1, "{what}: the buckets end at the period's end");
    assert!(by_key.is_empty(), "{what}: sign-ins outside every bucket: {by_key:?}");
}

fn block_ceil(t: i64) -> i64 {
    (t + BLOCK - 1).div_euclid(BLOCK) * BLOCK
}

/// The range a report over `days` must cover now, for a tenant whose window starts at `window`.
fn expected_range(app: &TestApp, days: i64, window: i64) -> (i64, i64) {
    let now = to_ticks(app.now());
    (block_ceil(now - days * TICKS_PER_DAY).max(block_ceil(window)), block_ceil(now))
}

/// A random report query: (query string, period days, interval, zone, filters).
struct Case {
    query: String,
    days: i64,
    interval: &'static str,
    zone: Tz,
    app: Option<&'static str>,
    user: Option<String>,
    upn: Option<String>,
    top: usize,
}

fn random_case(rng: &mut StdRng) -> Case {
    let zones = ["UTC", "Europe/Paris", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe", "Asia/Kathmandu"];
    let zone: Tz = zones[rng.gen_range(0..zones.len())].parse().unwrap();
    let (period, days) = [("P1D", 1), ("P7D", 7), ("P2W", 14), ("P30D", 30)][rng.gen_range(0..4)];
    let interval = ["PT1H", "P1D", "P1W"][rng.gen_range(0..3)];
    let users = users();
    let (mut app, mut user, mut upn) = (None, None, None);
    match rng.gen_range(0..4) {
        0 => app = Some(APPS[rng.gen_range(0..APPS.len())].0),
        1 => user = Some(users[rng.gen_range(0..users.len())].clone()),
        2 => upn = Some(upn_of(&users[rng.gen_range(0..users.len())]).to_uppercase()),
        _ => {}
    }
    let top = rng.gen_range(1..=5);
    let mut query = format!("period={period}&interval={interval}&timeZone={}", zone.name().replace('/', "%2F"));
    if let Some(a) = app {
        query.push_str(&format!("&appId={a}"));
    }
    if let Some(u) = &user {
        query.push_str(&format!("&userId={}", u.to_uppercase()));
    }
    if let Some(u) = &upn {
        query.push_str(&format!("&userPrincipalName={u}"));
    }
    Case { query, days, interval, zone, app, user, upn, top }
}

/// Runs `count` random reports of each kind for `tenant` and checks each against the oracle.
async fn check_reports(app: &TestApp, rng: &mut StdRng, tenant: &str, count: usize) {
    let rows = stored(app, tenant);
    let window = app.store.tenant_view(&TenantId::parse(tenant).unwrap()).unwrap().sign_ins_from;
    let token = admin_token(tenant);
    for _ in 0..count {
        let case = random_case(rng);
        let range = expected_range(app, case.days, window);
        let upn_users: Option<BTreeSet<String>> = case.upn.as_ref().map(|u| {
            rows.iter().filter(|r| r.upn == u.to_lowercase() && r.ticks >= window).map(|r| r.user.clone()).collect()
        });
        let keep = |r: &&Row| {
            case.app.is_none_or(|a| r.app == a)
                && case.user.as_ref().is_none_or(|u| &r.user == u)
                && upn_users.as_ref().is_none_or(|s| s.contains(&r.user))
        };
        let filtered: Vec<&Row> = rows.iter().filter(keep).collect();

        let what = format!("{tenant} signInActivity?{}", case.query);
        let (s, body) = app.get(&format!("{ACTIVITY}?{}", case.query), &token).await;
        assert_eq!(s, StatusCode::OK, "{what}: {body}");
        assert_eq!(
            (body["start"].as_str().unwrap(), body["end"].as_str().unwrap()),
            (format_ticks(range.0).as_str(), format_ticks(range.1).as_str())
        );
        check_series(&body["totals"], &body["buckets"], &filtered, case.zone, case.interval, range, &what);

        // Top applications (no application filter: it ranks them).
        let mut q = case.query.split('&').filter(|p| !p.starts_with("appId=")).collect::<Vec<_>>().join("&");
        q.push_str(&format!("&top={}", case.top));
        let what = format!("{tenant} topApplications?{q}");
        let (s, body) = app.get(&format!("{TOP}?{q}"), &token).await;
        assert_eq!(s, StatusCode::OK, "{what}: {body}");
        let in_range: Vec<&Row> = rows
            .iter()
            .filter(|r| r.ticks >= range.0 && r.ticks < range.1)
            .filter(|r| case.user.as_ref().is_none_or(|u| &r.user == u))
            .filter(|r| upn_users.as_ref().is_none_or(|s| s.contains(&r.user)))
            .collect();
        let mut per_app: BTreeMap<&str, (i64, &str)> = BTreeMap::new();
        for r in &in_range {
            let e = per_app.entry(&r.app).or_insert((0, &r.app_name));
            e.0 += 1;
        }
        let mut ranked: Vec<(&str, i64, &str)> = per_app.into_iter().map(|(a, (n, name))| (a, n, name)).collect();
        ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
        ranked.truncate(case.top);
        let got = body["applications"].as_array().unwrap();
        let got_ids: Vec<(&str, &str)> =
            got.iter().map(|a| (a["appId"].as_str().unwrap(), a["appDisplayName"].as_str().unwrap())).collect();
        let want_ids: Vec<(&str, &str)> = ranked.iter().map(|(a, _, name)| (*a, *name)).collect();
        assert_eq!(got_ids, want_ids, "{what}");
        for a in got {
            let id = a["appId"].as_str().unwrap();
            let of_app: Vec<&Row> = in_range.iter().copied().filter(|r| r.app == id).collect();
            check_series(a, &a["buckets"], &of_app, case.zone, case.interval, range, &format!("{what} {id}"));
        }
    }
}

async fn ingest_random(app: &TestApp, rng: &mut StdRng, tenant: &str, first: u64, batches: usize) {
    let token = ingest_token(tenant);
    let mut sent: Vec<Value> = Vec::new();
    for b in 0..batches {
        let mut docs: Vec<Value> = (0..40).map(|i| random_doc(rng, first + (b as u64) * 100 + i, app.now())).collect();
        // Duplicates: earlier documents again, and one twice within the batch.
        for _ in 0..5 {
            if !sent.is_empty() {
                docs.push(sent[rng.gen_range(0..sent.len())].clone());
            }
        }
        // The newest again (an older one may have expired, and an expired row is no duplicate).
        let newest = docs.iter().max_by_key(|d| d["createdDateTime"].as_str().map(str::to_owned)).cloned();
        docs.extend(newest);
        let (s, body) = app.ingest(&token, &docs).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert!(body["duplicates"].as_u64().unwrap() >= 1, "{body}");
        sent.extend(docs);
    }
}

#[actix_web::test]
async fn reports_equal_the_oracle_over_the_stored_sign_ins() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        app.clock.advance(anchor() - app.now());
        let mut rng = StdRng::seed_from_u64(16);
        ingest_random(&app, &mut rng, TENANT_A, 1_000_000, 6).await;
        ingest_random(&app, &mut rng, TENANT_B, 2_000_000, 4).await;
        let expired = stored(&app, TENANT_A).len();
        assert!(expired > 100, "sign-ins were stored: {expired}");
        check_reports(&app, &mut rng, TENANT_A, 10).await;
        check_reports(&app, &mut rng, TENANT_B, 5).await;

        // Time moves on (to a point that is not a block boundary): windows and periods move.
        app.clock.advance(Duration::days(2) + Duration::minutes(7) + Duration::seconds(3));
        check_reports(&app, &mut rng, TENANT_A, 6).await;
        // The purge removes the rows and their rollups together: the reports stay exact.
        let report = app.store.purge(false).unwrap();
        assert!(report.total_sign_ins() > 0, "{report:?}");
        check_reports(&app, &mut rng, TENANT_A, 6).await;
        check_reports(&app, &mut rng, TENANT_B, 4).await;
        // Rollups of purged blocks are gone too.
        let mut sql = storage::sql::Sql::new(app.store.backend());
        let cutoff = app.store.tenant_view(&TenantId::parse(TENANT_A).unwrap()).unwrap().sign_ins_from;
        sql.push("SELECT COUNT(*) AS n FROM sign_in_user_blocks WHERE block_ticks < ")
            .bind(storage::sql::Param::BigInt(cutoff - BLOCK));
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        assert_eq!(sql.load::<N>(&mut app.connection()).unwrap()[0].n, 0);
    })
    .await;
}

/// A database that held sign-ins before the rollups existed (or has rollups for only part of
/// them) gets them rebuilt from the stored sign-ins at the next start, once: the migration that
/// asks for it runs again here, as on a database of an earlier version.
#[actix_web::test]
async fn rollups_are_rebuilt_for_sign_ins_stored_before_them() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        app.clock.advance(anchor() - app.now());
        let mut rng = StdRng::seed_from_u64(19);
        ingest_random(&app, &mut rng, TENANT_A, 3_000_000, 3).await;
        ingest_random(&app, &mut rng, TENANT_B, 4_000_000, 2).await;
        {
            let mut conn = app.connection();
            let run = |conn: &mut storage::conn::AnyConnection, statement: &str| {
                let mut sql = storage::sql::Sql::new(app.store.backend());
                sql.push(statement);
                sql.execute(conn).unwrap();
            };
            // Tenant A: no rollups at all (stored before them); tenant B: wrong ones.
            for table in [
                "sign_in_app_blocks",
                "sign_in_app_days",
                "sign_in_user_blocks",
                "sign_in_presence",
                "sign_in_app_presence",
            ] {
                run(&mut conn, &format!("DELETE FROM {table} WHERE tenant_id = '{TENANT_A}'"));
            }
            for table in ["sign_in_app_blocks", "sign_in_app_days"] {
                run(&mut conn, &format!("UPDATE {table} SET sign_ins = sign_ins * 3 WHERE tenant_id = '{TENANT_B}'"));
            }
            // The database as the version before the migration left it.
            run(&mut conn, "DROP TABLE storage_tasks");
            run(&mut conn, "DELETE FROM __diesel_schema_migrations WHERE version = '20261205000006'");
        }
        let (s, body) = app.get(ACTIVITY, &admin_token(TENANT_A)).await;
        assert_eq!((s, body["totals"]["signIns"].as_i64()), (StatusCode::OK, Some(0)), "before the rebuild");

        let app = app.restarted().await;
        check_reports(&app, &mut rng, TENANT_A, 6).await;
        check_reports(&app, &mut rng, TENANT_B, 4).await;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut sql = storage::sql::Sql::new(app.store.backend());
        sql.push("SELECT COUNT(*) AS n FROM storage_tasks");
        assert_eq!(sql.load::<N>(&mut app.connection()).unwrap()[0].n, 0, "the task is done once");
        // Ingest after the rebuild adds to the rebuilt counts; a later start rebuilds nothing.
        ingest_random(&app, &mut rng, TENANT_A, 5_000_000, 1).await;
        let app = app.restarted().await;
        check_reports(&app, &mut rng, TENANT_A, 4).await;
    })
    .await;
}

/// A tenant purged on a short window (Free, 7 days) that then gets a long one again (P1, 30
/// days): the reports over the longer period count exactly the sign-ins the purge left, although
/// the cutoff fell inside a 15-minute block and inside a UTC day whose whole-day rollups and
/// presence bitmaps had counted what it removed.
#[actix_web::test]
async fn reports_stay_exact_when_a_purged_tenant_gets_a_longer_window() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        app.clock.advance(anchor() - app.now());
        let mut rng = StdRng::seed_from_u64(23);
        ingest_random(&app, &mut rng, TENANT_B, 5_000_000, 5).await;
        let tenant = TenantId::parse(TENANT_B).unwrap();
        let before = stored(&app, TENANT_B).len();
        app.store.set_tenant(&tenant, None, LicenseTier::Free).unwrap();
        app.clock.advance(Duration::minutes(7) + Duration::seconds(41));
        let report = app.store.purge(false).unwrap();
        assert!(report.total_sign_ins() > 0, "{report:?}");
        let after = stored(&app, TENANT_B);
        assert!(after.len() < before && !after.is_empty(), "{before} -> {}", after.len());
        app.store.set_tenant(&tenant, None, LicenseTier::P1).unwrap();
        let oldest = after.iter().map(|r| r.ticks).min().unwrap();
        let window = app.store.tenant_view(&tenant).unwrap().sign_ins_from;
        assert!(window < oldest - TICKS_PER_DAY, "the 30-day window reaches past what the purge left");
        check_reports(&app, &mut rng, TENANT_B, 12).await;
        // The fixed shape that covers the purge's cutoff day whole: 30 days, weekly, UTC.
        let (s, body) = app.get(&format!("{ACTIVITY}?period=P30D&interval=P1W"), &admin_token(TENANT_B)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let range = expected_range(&app, 30, window);
        let in_range = after.iter().filter(|r| r.ticks >= range.0 && r.ticks < range.1).count() as i64;
        assert_eq!(body["totals"]["signIns"].as_i64(), Some(in_range), "{body}");
    })
    .await;
}

#[actix_web::test]
async fn each_drill_down_link_lists_exactly_its_buckets_sign_ins() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        app.clock.advance(anchor() - app.now());
        let mut rng = StdRng::seed_from_u64(61);
        ingest_random(&app, &mut rng, TENANT_A, 3_000_000, 3).await;
        let token = admin_token(TENANT_A);
        for query in [
            "period=P30D&interval=P1W&timeZone=Europe%2FParis",
            "period=P7D&interval=P1D&timeZone=Asia%2FKolkata&appId=de8bc8b5-d9f9-48b1-a8ad-b748da725064",
            &format!("period=P2D&interval=PT1H&userPrincipalName={}", upn_of(&users()[0])),
            &format!("period=P7D&interval=P1D&userId={}", users()[0]),
            // Both: that user, since the name resolves to it.
            &format!("period=P7D&interval=P1D&userId={}&userPrincipalName={}", users()[0], upn_of(&users()[0])),
        ] {
            let (s, body) = app.get(&format!("{ACTIVITY}?{query}"), &token).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            let mut links: Vec<(&Value, &str)> =
                body["buckets"].as_array().unwrap().iter().map(|b| (b, "bucket")).collect();
            links.push((&body["totals"], "totals"));
            let mut nonzero = 0;
            for (b, what) in links {
                let url = b["drillDown"].as_str().unwrap();
                let rest = url.strip_prefix("https://idtrail.test").unwrap();
                let (path, filter) = rest.split_once('?').unwrap();
                assert_eq!(path, "/v1.0/auditLogs/signIns");
                let (s, n) = app.get(&format!("{path}/$count?{filter}"), &token).await;
                assert_eq!(s, StatusCode::OK, "{url}: {n}");
                let n = n.as_i64().or_else(|| n.as_str().and_then(|s| s.parse().ok())).unwrap();
                assert_eq!(n, b["signIns"].as_i64().unwrap(), "{query} {what} {url}");
                nonzero += usize::from(n > 0);
            }
            assert!(nonzero > 0, "{query}: some bucket has sign-ins");
        }
        // A name nobody signed in with: nothing counted, and the link lists nothing.
        let (s, body) = app.get(&format!("{ACTIVITY}?userPrincipalName=o'brien@contoso.com"), &token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["totals"]["signIns"], 0, "{body}");
        let rest = body["totals"]["drillDown"].as_str().unwrap().strip_prefix("https://idtrail.test").unwrap();
        let (path, filter) = rest.split_once('?').unwrap();
        let (s, n) = app.get(&format!("{path}/$count?{filter}"), &token).await;
        assert_eq!((s, n.to_string()), (StatusCode::OK, "0".to_owned()), "{rest}");
        // A userId the name does not resolve to: both hold for nobody.
        let query = format!("{ACTIVITY}?userId={}&userPrincipalName={}", users()[1], upn_of(&users()[0]));
        let (s, body) = app.get(&query, &token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["totals"]["signIns"], 0, "{body}");
        let rest = body["totals"]["drillDown"].as_str().unwrap().strip_prefix("https://idtrail.test").unwrap();
        let (path, filter) = rest.split_once('?').unwrap();
        let (_, n) = app.get(&format!("{path}/$count?{filter}"), &token).await;
        assert_eq!(n.to_string(), "0", "{rest}");
        // Followed as a list, the link gives the documents themselves.
        let (_, body) = app.get(&format!("{ACTIVITY}?period=P30D&interval=P1W"), &token).await;
        let b = &body["buckets"][1];
        let rest = b["drillDown"].as_str().unwrap().strip_prefix("https://idtrail.test").unwrap();
        let (_, list) = app.get(&format!("{rest}&$top=999"), &token).await;
        assert_eq!(list["value"].as_array().unwrap().len() as i64, b["signIns"].as_i64().unwrap());
    })
    .await;
}

#[actix_web::test]
async fn reports_are_for_tenant_wide_readers_of_premium_tenants() {
    each_backend(|app| async move {
        let tenant = TenantId::parse(TENANT_B).unwrap();
        for path in [ACTIVITY, TOP] {
            let (s, body) = app.get(path, &admin_token(TENANT_B)).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            assert_eq!(body["period"], "P30D");
            assert_eq!(body["interval"], "P1W");
            assert_eq!(body["timeZone"], "UTC");
            // A user who may read only their own sign-ins may not read the tenant's report.
            let (s, body) = app.get(path, &user_token(TENANT_B, OTHER_OID)).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(body["error"]["code"], "Authentication_RequestFromUnsupportedUserRole", "{body}");
        }
        app.store.set_tenant(&tenant, None, LicenseTier::Free).unwrap();
        for token in [admin_token(TENANT_B), user_token(TENANT_B, OTHER_OID)] {
            let (s, body) = app.get(ACTIVITY, &token).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
            assert_eq!(body["error"]["code"], "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "{body}");
        }
        app.store.set_tenant(&tenant, None, LicenseTier::P1).unwrap();
        let token = admin_token(TENANT_B);
        for (query, needle) in [
            ("period=P31D", "period"),
            ("period=PT5H", "period"),
            ("interval=P1M", "interval"),
            ("timeZone=Mars%2FOlympus", "timeZone"),
            ("appId=nope", "appId"),
            ("userId=nope", "userId"),
            ("top=3", "top"),
            ("period=P1D&period=P2D", "period"),
            ("$filter=x", "$filter"),
        ] {
            let (s, body) = app.get(&format!("{ACTIVITY}?{query}"), &token).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["error"]["code"], "BadRequest");
            assert!(body["error"]["message"].as_str().unwrap().contains(needle), "{query}: {body}");
        }
        for query in ["top=0", "top=51", "appId=de8bc8b5-d9f9-48b1-a8ad-b748da725064"] {
            let (s, body) = app.get(&format!("{TOP}?{query}"), &token).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {body}");
        }
    })
    .await;
}

/// Follows `@odata.nextLink` from `path` and returns every row.
async fn all_pages(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut next = Some(path.to_owned());
    while let Some(p) = next {
        let (s, body) = app.get(&p, token).await;
        assert_eq!(s, StatusCode::OK, "{p}: {body}");
        rows.extend(body["value"].as_array().unwrap().iter().cloned());
        next = body["@odata.nextLink"].as_str().map(|l| l.strip_prefix("https://idtrail.test").unwrap().to_owned());
    }
    rows
}

#[actix_web::test]
async fn graphs_report_functions_equal_the_oracle() {
    each_backend(|app| async move {
        let app = app.without_rate_limits().await;
        app.clock.advance(anchor() - app.now());
        let mut rng = StdRng::seed_from_u64(4);
        ingest_random(&app, &mut rng, TENANT_A, 4_000_000, 4).await;
        let rows = stored(&app, TENANT_A);
        let window = app.store.tenant_view(&TenantId::parse(TENANT_A).unwrap()).unwrap().sign_ins_from;
        // A delegated token needs the Reports.Read.All scope for `reports/` (and AuditLog.Read.All
        // for the `auditLogs/` summaries).
        let mut claims = crate::support::user_claims(TENANT_A, crate::support::ADMIN_OID, &[crate::support::GLOBAL_ADMIN]);
        claims.scp = Some("AuditLog.Read.All Reports.Read.All".into());
        let token = crate::support::sign(&claims);
        let (s, body) = app.get("/beta/reports/applicationSignInDetailedSummary", &admin_token(TENANT_A)).await;
        assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("Authentication_MSGraphPermissionMissing")));
        let end = block_ceil(to_ticks(app.now()));
        let since = |days: i64| block_ceil(to_ticks(app.now()) - days * TICKS_PER_DAY).max(block_ceil(window));
        let codes = |r: &Row| if r.failed { 50126 } else { 0 };

        // getAzureADApplicationSignInSummary: successes and failures per application.
        for (period, days) in [("D7", 7), ("d30", 30)] {
            let (s, body) =
                app.get(&format!("/beta/reports/getAzureADApplicationSignInSummary(period='{period}')"), &token).await;
            assert_eq!(s, StatusCode::OK, "{body}");
            let mut want: BTreeMap<&str, (i64, i64, &str)> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.ticks >= since(days) && r.ticks < end) {
                let e = want.entry(&r.app).or_insert((0, 0, &r.app_name));
                if r.failed { e.1 += 1 } else { e.0 += 1 }
            }
            let want: Vec<Value> = want
                .into_iter()
                .map(|(id, (ok, failed, name))| {
                    json!({"id": id, "appDisplayName": name, "successfulSignInCount": ok, "failedSignInCount": failed,
                           "successPercentage": ((ok * 10_000 + (ok + failed) / 2) / (ok + failed)) as f64 / 100.0})
                })
                .collect();
            assert_eq!(body["value"], json!(want), "{period}");
            assert!(body["@odata.context"].as_str().unwrap().ends_with("#Collection(microsoft.graph.applicationSignInSummary)"));
        }
        for bad in ["period='D1'", "period='P7D'", "period=D7", "days='D7'"] {
            let (s, body) = app.get(&format!("/beta/reports/getAzureADApplicationSignInSummary({bad})"), &token).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        let (s, _) = app.get("/v1.0/reports/getAzureADApplicationSignInSummary(period='D7')", &token).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "beta only");

        // applicationSignInDetailedSummary: per application, UTC day and status, the whole window.
        let mut want: BTreeMap<(String, String, i64), i64> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.ticks >= block_ceil(window) && r.ticks < end) {
            let day = format_ticks(r.ticks.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY);
            *want.entry((r.app.clone(), day, codes(r))).or_default() += 1;
        }
        let got_rows = all_pages(&app, &token, "/beta/reports/applicationSignInDetailedSummary?$top=7").await;
        let got: BTreeMap<(String, String, i64), i64> = got_rows
            .iter()
            .map(|r| {
                let key = (
                    r["appId"].as_str().unwrap().to_owned(),
                    r["aggregatedEventDateTime"].as_str().unwrap().to_owned(),
                    r["status"]["errorCode"].as_i64().unwrap(),
                );
                (key, r["signInCount"].as_i64().unwrap())
            })
            .collect();
        assert_eq!(got.len(), got_rows.len(), "one row per application, day and status");
        assert_eq!(got, want);
        // $filter on each filterable property, $orderby, and one row by id.
        let (app_id, day, _) = want.keys().nth(want.len() / 2).unwrap().clone();
        let filter = format!("appId eq '{app_id}' and status/errorCode eq 0 and aggregatedEventDateTime ge {day}");
        let path = format!(
            "/beta/reports/applicationSignInDetailedSummary?$filter={}&$orderby=signInCount%20desc,aggregatedEventDateTime&$top=3",
            filter.replace(' ', "%20")
        );
        let filtered = all_pages(&app, &token, &path).await;
        let mut expected: Vec<(i64, String)> = want
            .iter()
            .filter(|((a, d, c), _)| a == &app_id && *c == 0 && parse_ticks(d).unwrap() >= parse_ticks(&day).unwrap())
            .map(|((_, d, _), n)| (-n, d.clone()))
            .collect();
        expected.sort();
        let got: Vec<(i64, String)> = filtered
            .iter()
            .map(|r| (-r["signInCount"].as_i64().unwrap(), r["aggregatedEventDateTime"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(got, expected, "{path}");
        assert!(!got.is_empty());
        let name = APPS.iter().find(|(a, _)| *a == app_id).unwrap().1;
        let by_name = all_pages(
            &app,
            &token,
            &format!("/beta/reports/applicationSignInDetailedSummary?$filter=appDisplayName%20eq%20'{}'", name.replace(' ', "%20")),
        )
        .await;
        assert_eq!(by_name.len(), want.keys().filter(|(a, _, _)| a == &app_id).count());
        let one = &filtered[0];
        let (s, body) =
            app.get(&format!("/beta/reports/applicationSignInDetailedSummary/{}", one["id"].as_str().unwrap()), &token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!(body["signInCount"], one["signInCount"]);
        let (s, _) = app.get(&format!("/beta/reports/applicationSignInDetailedSummary/{}", guid(1)), &token).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, body) = app.get("/beta/reports/applicationSignInDetailedSummary?$filter=userId%20eq%20'x'", &token).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

        // auditLogs/signInEventsSummary (every UTC day of the window) and signInEventsAppSummary.
        let (s, body) = app.get("/beta/auditLogs/signInEventsSummary", &token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let mut per_day: BTreeMap<String, i64> = BTreeMap::new();
        let mut d = block_ceil(window).div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY;
        while d < end {
            per_day.insert(format_ticks(d), 0);
            d += TICKS_PER_DAY;
        }
        for r in rows.iter().filter(|r| r.ticks >= block_ceil(window) && r.ticks < end) {
            *per_day.get_mut(&format_ticks(r.ticks.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY)).unwrap() += 1;
        }
        let got: BTreeMap<String, i64> = body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["activityDateTime"].as_str().unwrap().to_owned(), v["signInCount"].as_i64().unwrap()))
            .collect();
        assert_eq!(got, per_day);
        let (s, body) = app.get("/beta/auditLogs/signInEventsAppSummary", &token).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let mut per_app: BTreeMap<&str, i64> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.ticks >= since(30) && r.ticks < end) {
            *per_app.entry(&r.app).or_default() += 1;
        }
        let want: Vec<Value> =
            per_app.into_iter().map(|(a, n)| json!({"appId": a, "signInCount": n, "tenantId": TENANT_A})).collect();
        assert_eq!(body["value"], json!(want));

        // Access: report readers (Reports.Read.All for apps, delegated only for the detailed
        // summary); plain users get the role error.
        let reports_app = crate::support::app_token(TENANT_A, &["Reports.Read.All"]);
        let (s, body) = app.get("/beta/reports/getAzureADApplicationSignInSummary(period='D7')", &reports_app).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (s, body) = app.get("/beta/reports/applicationSignInDetailedSummary", &reports_app).await;
        assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("Authorization_RequestDenied")));
        let audit_app = crate::support::app_token(TENANT_A, &["AuditLog.Read.All"]);
        let (s, body) = app.get("/beta/reports/getAzureADApplicationSignInSummary(period='D7')", &audit_app).await;
        assert_eq!((s, body["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("Authentication_MSGraphPermissionMissing")));
        let (s, _) = app.get("/beta/auditLogs/signInEventsSummary", &audit_app).await;
        assert_eq!(s, StatusCode::OK);
        let mut claims = crate::support::user_claims(TENANT_A, OTHER_OID, &[]);
        claims.scp = Some("AuditLog.Read.All Reports.Read.All".into());
        let plain = crate::support::sign(&claims);
        for path in [
            "/beta/reports/getAzureADApplicationSignInSummary(period='D7')",
            "/beta/reports/applicationSignInDetailedSummary",
            "/beta/auditLogs/signInEventsSummary",
            "/beta/auditLogs/signInEventsAppSummary",
        ] {
            let (s, body) = app.get(path, &plain).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}: {body}");
            assert_eq!(body["error"]["code"], "Authentication_RequestFromUnsupportedUserRole", "{path}");
        }
    })
    .await;
}
