//! `$apply`: random aggregations over the query fixture's data set (three tenants, demo and edge
//! documents) compared with the oracle (`Apply::evaluate`) over the stored rows, as an admin,
//! as a plain user (own sign-ins only) and on a P1 tenant (P2 properties read `hidden`); then the
//! refusals, the response shape and the cap on groups.

use actix_web::http::StatusCode;
use domain::ids::LicenseTier;
use domain::query::apply::{Apply, resolve_apply};
use domain::query::registry::SIGN_INS;
use domain::sets::SetKind;
use serde_json::{Value, json};

use crate::query::{LIST, Rng, contoso, each_backend_collecting, enc, env_number, fetch_all, fixture};
use crate::support::*;

const DEFAULT_CASES: u64 = 250;

const KEYS: &[&str] = &[
    "appDisplayName",
    "appId",
    "status/errorCode",
    "riskState",
    "riskLevelDuringSignIn",
    "isInteractive",
    "clientAppUsed",
    "location/countryOrRegion",
    "deviceDetail/browser",
    "conditionalAccessStatus",
    "deviceDetail/isCompliant",
    "status/failureReason",
    "location/geoCoordinates/latitude",
    "userId",
];

const COMPUTED: &[(&str, &str)] = &[
    ("date(createdDateTime)", "day"),
    ("year(createdDateTime)", "yr"),
    ("month(createdDateTime)", "mon"),
    ("day(createdDateTime)", "dom"),
    ("hour(createdDateTime)", "hr"),
];

/// An aggregate, its alias, whether its value is exact (so it may order and rank: sums and
/// averages of doubles are compared within 1e-9 relative) and whether it is numeric.
const AGGREGATES: &[(&str, &str, bool, bool)] = &[
    ("$count as n", "n", true, true),
    ("userId with countdistinct as users", "users", true, true),
    ("appId with countdistinct as apps", "apps", true, true),
    ("createdDateTime with min as first", "first", true, false),
    ("createdDateTime with max as last", "last", true, false),
    ("status/errorCode with sum as errs", "errs", true, true),
    ("status/errorCode with max as maxErr", "maxErr", true, true),
    ("status/errorCode with average as avgErr", "avgErr", false, true),
    ("location/geoCoordinates/latitude with min as minLat", "minLat", true, true),
    ("location/geoCoordinates/latitude with max as maxLat", "maxLat", true, true),
    ("location/geoCoordinates/latitude with sum as sumLat", "sumLat", false, true),
    ("location/geoCoordinates/latitude with average as avgLat", "avgLat", false, true),
    ("appDisplayName with min as firstApp", "firstApp", true, false),
    ("riskState with max as maxRisk", "maxRisk", true, false),
];

const FILTERS: &[&str] = &[
    "status/errorCode eq 0",
    "isInteractive",
    "createdDateTime ge 2025-03-10T00:00:00Z",
    "startswith(appDisplayName,'m')",
    "location/countryOrRegion ne 'US'",
    "riskLevelDuringSignIn in ('low','medium','high')",
];

/// A random `$apply` in the subset, and the aliases compared within a tolerance.
fn generate(rng: &mut Rng) -> (String, Vec<&'static str>) {
    let mut steps = Vec::new();
    if rng.chance(40) {
        steps.push(format!("filter({})", rng.pick(FILTERS)));
    }
    let computed = rng.chance(35).then(|| *rng.pick(COMPUTED));
    if let Some((expr, alias)) = computed {
        steps.push(format!("compute({expr} as {alias})"));
    }
    let mut aggs: Vec<&(&str, &str, bool, bool)> = Vec::new();
    for _ in 0..rng.range(0, 3) {
        let a = rng.pick(AGGREGATES);
        if !aggs.iter().any(|b| b.1 == a.1) {
            aggs.push(a);
        }
    }
    let mut keys: Vec<&str> = Vec::new();
    let grouped = rng.chance(85) || aggs.is_empty();
    if grouped {
        if let Some((_, alias)) = computed.filter(|_| rng.chance(70)) {
            keys.push(alias);
        }
        while keys.is_empty() || (keys.len() < 2 && rng.chance(40)) {
            let k = *rng.pick(KEYS);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let list = aggs.iter().map(|a| a.0).collect::<Vec<_>>().join(",");
        if aggs.is_empty() {
            steps.push(format!("groupby(({}))", keys.join(",")));
        } else {
            steps.push(format!("groupby(({}),aggregate({list}))", keys.join(",")));
        }
    } else {
        steps.push(format!("aggregate({})", aggs.iter().map(|a| a.0).collect::<Vec<_>>().join(",")));
    }
    let rankable: Vec<&str> = aggs.iter().filter(|a| a.2 && a.3).map(|a| a.1).collect();
    let orderable: Vec<&str> = keys.iter().copied().chain(aggs.iter().filter(|a| a.2).map(|a| a.1)).collect();
    let mut post = Vec::new();
    if !rankable.is_empty() && rng.chance(40) {
        post.push(format!("topcount({},{})", rng.range(1, 5), rng.pick(&rankable)));
    }
    if !orderable.is_empty() && rng.chance(40) {
        let by = rng.pick(&orderable);
        post.push(format!("orderby({by}{})", if rng.chance(50) { " desc" } else { "" }));
    }
    if rng.chance(50) {
        post.reverse();
    }
    steps.extend(post);
    (steps.join("/"), aggs.iter().filter(|a| !a.2).map(|a| a.1).collect())
}

fn close(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
        _ => a == b,
    }
}

/// Whether the server's rows are the oracle's, in order: exactly, but for `approx` aliases.
fn same_rows(got: &[Value], want: &[Value], approx: &[&str]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            let (Some(g), Some(w)) = (g.as_object(), w.as_object()) else { return false };
            g.len() == w.len()
                && g.iter().all(|(k, v)| {
                    w.get(k).is_some_and(|x| if approx.contains(&k.as_str()) { close(v, x) } else { v == x })
                })
        })
}

/// One caller's view: its token, the rows it may aggregate and how its license masks them.
struct Viewer {
    name: &'static str,
    token: String,
    docs: Vec<Value>,
    masks: domain::policy::Masks,
}

#[actix_web::test]
async fn random_applies_return_the_oracles_groups() {
    let seed = env_number("APPLY_SEED").unwrap_or(0xA991_2025);
    let cases = env_number("APPLY_CASES").unwrap_or(DEFAULT_CASES);
    each_backend_collecting(|app| async move {
        let fx = fixture(app).await;
        let mut viewers = vec![];
        // A plain user: the one with the most sign-ins, who aggregates only those.
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for d in &fx.docs {
            *counts.entry(d["userId"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
        }
        let (user, _) = counts.iter().max_by_key(|(_, n)| **n).unwrap();
        let own: Vec<Value> = fx.docs.iter().filter(|d| d["userId"].as_str() == Some(user)).cloned().collect();
        viewers.push(Viewer {
            name: "admin",
            token: fx.token.clone(),
            docs: fx.docs.clone(),
            masks: domain::policy::Masks::NONE,
        });
        viewers.push(Viewer {
            name: "plain user",
            token: user_token(contoso(), user),
            docs: own,
            masks: domain::policy::Masks::NONE,
        });
        let p1 = demo::TENANTS.iter().find(|t| t.tier == LicenseTier::P1).unwrap();
        let p1_token = admin_token(p1.id);
        let p1_docs = fetch_all(&fx.app, &p1_token, &format!("{LIST}?$top=1000")).await.unwrap().docs;
        assert!(!p1_docs.is_empty());
        viewers.push(Viewer {
            name: "P1 admin",
            token: p1_token,
            docs: p1_docs,
            masks: SetKind::SignIns.masks(p1.tier),
        });

        let mut problems = Vec::new();
        let mut rng = Rng(seed);
        let mut nonempty = 0;
        for i in 0..cases {
            let (text, approx) = generate(&mut rng);
            let apply: Apply = resolve_apply(&SIGN_INS, &text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let viewer = &viewers[usize::try_from(i).unwrap() % viewers.len()];
            let want: Vec<Value> =
                apply.evaluate(&viewer.docs, &viewer.masks).iter().map(|r| apply.render(r)).collect();
            let url = format!("{LIST}?$apply={}", enc(&text));
            let (status, body) = fx.app.get(&url, &viewer.token).await;
            if status != StatusCode::OK {
                problems.push(format!("{} {text}: {status} {body}", viewer.name));
                continue;
            }
            let got = body["value"].as_array().cloned().unwrap_or_default();
            if !same_rows(&got, &want, &approx) {
                problems.push(format!(
                    "{} $apply={text}\n  server ({} rows): {}\n  oracle ({} rows): {}",
                    viewer.name,
                    got.len(),
                    Value::Array(got.iter().take(8).cloned().collect()),
                    want.len(),
                    Value::Array(want.iter().take(8).cloned().collect())
                ));
            }
            nonempty += usize::from(want.iter().any(|r| r.as_object().is_some_and(|o| o.len() > 1)));
            if problems.len() > 5 {
                break;
            }
        }
        eprintln!("$apply: {cases} random cases (seed {seed:#x}), {nonempty} with groups");
        problems
    })
    .await;
}

/// The masks of a P1 tenant (B): grouping by a P2 property gives one `hidden` group.
#[actix_web::test]
async fn hidden_properties_group_as_hidden() {
    each_backend(|app| async move {
        let now = app.now();
        let docs: Vec<Value> = (1..=6)
            .map(|n| {
                let mut d = sign_in_doc(n, now - chrono::Duration::hours(i64::try_from(n).unwrap()), USER_OID);
                d["riskLevelDuringSignIn"] = json!(if n % 2 == 0 { "high" } else { "low" });
                d
            })
            .collect();
        for tenant in [TENANT_A, TENANT_B] {
            let (s, b) = app.ingest(&ingest_token(tenant), &docs).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let url = format!("{LIST}?$apply={}", enc("groupby((riskLevelDuringSignIn),aggregate($count as n))"));
        let (s, b) = app.get(&url, &admin_token(TENANT_A)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"].as_array().unwrap().len(), 2, "P2 sees the values: {b}");
        let (s, b) = app.get(&url, &admin_token(TENANT_B)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"], json!([{"@odata.id": null, "riskLevelDuringSignIn": "hidden", "n": 6}]), "P1: {b}");
    })
    .await;
}

#[actix_web::test]
async fn apply_refusals_name_the_problem() {
    each_backend(|app| async move {
        let admin = admin_token(TENANT_A);
        let cases: &[(&str, &str)] = &[
            ("$apply=search(coffee)", "unsupported transformation 'search'"),
            ("$apply=groupby((appId))/concat(identity)", "unsupported transformation 'concat'"),
            ("$apply=aggregate(Amount with Custom.x as y)", "unsupported aggregation method"),
            ("$apply=groupby((appNam))", "Did you mean"),
            ("$apply=groupby((appliedConditionalAccessPolicies))", "collection"),
            ("$apply=groupby((appId))&$filter=appId eq 'x'", "$filter"),
            ("$apply=groupby((appId))&$orderby=appId", "$orderby"),
            ("$apply=groupby((appId))&$count=true", "$count"),
            ("$apply=groupby((appId))&$format=json", "$format"),
            ("$apply=groupby((appId))&$format=csv&$filter=appId eq 'x'", "$filter"),
            ("$apply=groupby((appId),aggregate(appId with average as a))", "numeric"),
            ("$apply=filter(appId eq 'x')", "groupby"),
        ];
        for (query, needle) in cases {
            let url = format!("{LIST}?{}", query.replace(' ', "%20").replace('$', "%24"));
            let (s, b) = app.get(&url, &admin).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {b}");
            let message = b["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(needle), "{query}: {message}");
        }
        // A plain user cannot probe Conditional Access through $apply's filter either.
        let url = format!(
            "{LIST}?$apply={}",
            enc("filter(appliedConditionalAccessPolicies/any(p: p/result eq 'failure'))/aggregate($count as n)")
        );
        let (s, b) = app.get(&url, &user_token(TENANT_A, USER_OID)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    })
    .await;
}

#[actix_web::test]
async fn the_cap_on_groups_is_a_400_and_top_caps_the_groups() {
    each_backend(|app| async move {
        let now = app.now();
        let total = domain::query::apply::MAX_GROUPS as u64 + 1;
        let docs: Vec<Value> =
            (1..=total).map(|n| sign_in_doc(n, now - chrono::Duration::minutes(i64::try_from(n).unwrap()), USER_OID)).collect();
        for chunk in docs.chunks(1000) {
            let (s, b) = app.ingest(&ingest_token(TENANT_A), chunk).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        let admin = admin_token(TENANT_A);
        let (s, b) = app.get(&format!("{LIST}?$apply={}", enc("groupby((id))")), &admin).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("more than 10000 groups"), "{b}");
        let (s, b) = app.get(&format!("{LIST}?$apply={}&$top=3", enc("groupby((id))")), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["value"].as_array().unwrap().len(), 3);
        let text = "filter(status/errorCode eq 0)/groupby((appDisplayName),aggregate($count as n,userId with countdistinct as users))";
        let (s, b) = app.get(&format!("{LIST}?$apply={}", enc(text)), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(b["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#auditLogs/signIns(appDisplayName,n,users)"), "{b}");
        let successes = docs.iter().filter(|d| d["status"]["errorCode"] == json!(0)).count();
        assert_eq!(b["value"], json!([{"@odata.id": null, "appDisplayName": "graph explorer", "n": successes, "users": 1}]));
        let text = "compute(date(createdDateTime) as day)/groupby((day),aggregate($count as n))/orderby(day desc)/topcount(1,n)";
        let (s, b) = app.get(&format!("{LIST}?$apply={}", enc(text)), &admin).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let day = b["value"][0]["day"].as_str().unwrap();
        assert_eq!(day.len(), 10, "an Edm.Date: {b}");
        assert!(b["value"][0]["n"].as_u64().unwrap() > 0);
    })
    .await;
}

/// Every collection takes `$apply`: its total and its per-day groups add up to `@odata.count`.
#[actix_web::test]
async fn every_collection_aggregates() {
    each_backend(|app| async move {
        let cfg = demo::DemoConfig { sign_ins: 300, days: 10, seed: 7, end: app.now() };
        api::demo::load(&app.store, &cfg).expect("demo data loads");
        // How many risky users 300 demo sign-ins give depends on the hour the test runs: one of
        // the test's own makes sure the history set has rows.
        let at = app.now() - chrono::Duration::hours(2);
        let risky = crate::audits_risk::risky_user_doc(&guid(777), at, "atRisk", "high", "none", "Test User");
        let (s, b) = crate::audits_risk::ingest_kind(&app, "riskyUsers", contoso(), &[risky]).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let admin = crate::audits_risk::risk_admin(contoso());
        let user = guid(777);
        for set in SetKind::ALL {
            let path = match set.parent() {
                Some(parent) => format!("/v1.0/{}/{user}/{}", parent.registry().name, set.segment()),
                None => format!("/v1.0/{}", set.registry().name),
            };
            let (s, b) = app.get(&format!("{path}?$count=true&$top=1"), &admin).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
            let total = b["@odata.count"].as_u64().unwrap();
            let (s, b) = app.get(&format!("{path}?$apply={}", enc("aggregate($count as n)")), &admin).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
            assert_eq!(b["value"], json!([{"@odata.id": null, "n": total}]), "{path}");
            let time = set.registry().time_field;
            let text = format!("compute(date({time}) as day)/groupby((day),aggregate($count as n))");
            let (s, b) = app.get(&format!("{path}?$apply={}", enc(&text)), &admin).await;
            assert_eq!(s, StatusCode::OK, "{path}: {b}");
            let days = b["value"].as_array().unwrap();
            assert_eq!(days.iter().map(|d| d["n"].as_u64().unwrap()).sum::<u64>(), total, "{path}: {b}");
            assert!(total == 0 || !days.is_empty(), "{path}");
        }
    })
    .await;
}
