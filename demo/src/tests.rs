#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, TimeZone, Timelike, Utc};
use serde_json::Value;

use super::*;
use domain::ids::is_guid;
use domain::model::sign_in::{self, V1_PROPERTIES};
use domain::time::{from_ticks, parse_ticks};

fn config(sign_ins: usize, seed: u64) -> DemoConfig {
    DemoConfig { sign_ins, days: 30, seed, end: Utc.with_ymd_and_hms(2024, 6, 14, 17, 23, 11).unwrap() }
}

fn generate(cfg: &DemoConfig) -> Vec<DemoSignIn> {
    sign_ins(cfg).collect()
}

fn str_at<'a>(doc: &'a Value, pointer: &str) -> &'a str {
    doc.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

fn error_code(doc: &Value) -> i64 {
    doc.pointer("/status/errorCode").and_then(Value::as_i64).unwrap()
}

const ORDER: [&str; 30] = [
    "id",
    "createdDateTime",
    "userDisplayName",
    "userPrincipalName",
    "userId",
    "appId",
    "appDisplayName",
    "ipAddress",
    "clientAppUsed",
    "correlationId",
    "conditionalAccessStatus",
    "isInteractive",
    "riskDetail",
    "riskLevelAggregated",
    "riskLevelDuringSignIn",
    "riskState",
    "riskEventTypes",
    "riskEventTypes_v2",
    "resourceDisplayName",
    "resourceId",
    "status",
    "deviceDetail",
    "location",
    "appliedConditionalAccessPolicies",
    "authenticationAppDeviceDetails",
    "homeTenantId",
    "resourceTenantId",
    "servicePrincipalId",
    "servicePrincipalName",
    "userAgent",
];

#[test]
fn every_document_is_a_valid_v1_sign_in_in_graph_order() {
    for s in generate(&config(5_000, 1)) {
        let parsed = sign_in::parse(&s.document).unwrap_or_else(|e| panic!("{e}: {:?}", s.document));
        let keys: Vec<&str> = s.document.keys().map(String::as_str).collect();
        assert_eq!(keys, ORDER);
        assert!(keys.iter().all(|k| V1_PROPERTIES.contains(k)));
        assert!(is_guid(parsed.correlation_id.unwrap().as_str()));
        assert_eq!(parsed.home_tenant_id.unwrap().as_str(), s.tenant_id);
        assert_eq!(parsed.resource_tenant_id.unwrap().as_str(), s.tenant_id);
        assert!(parsed.service_principal_id.is_none() && parsed.service_principal_name.is_none());
        let text = &parsed.created_date_time.text;
        assert_eq!(text.len(), "2020-03-13T19:15:41.6195833Z".len(), "{text}");
    }
}

#[test]
fn the_same_config_gives_the_same_documents_and_another_seed_others() {
    let a = generate(&config(2_000, 42));
    let b = generate(&config(2_000, 42));
    assert_eq!(a, b);
    let c = generate(&config(2_000, 43));
    assert_ne!(a[0].document["id"], c[0].document["id"]);
    let same = a.iter().zip(&c).filter(|(x, y)| x.document == y.document).count();
    assert_eq!(same, 0);
}

#[test]
fn counts_are_exact() {
    for n in [0, 1, 2, 7, 999, 4_321] {
        let cfg = config(n, 5);
        assert_eq!(sign_ins(&cfg).len(), n);
        assert_eq!(sign_ins(&cfg).count(), n);
    }
    let one_day = DemoConfig { days: 0, ..config(10, 5) };
    assert_eq!(sign_ins(&one_day).count(), 10);
}

#[test]
fn generation_is_lazy() {
    let huge = config(50_000_000, 3);
    let mut it = sign_ins(&huge);
    assert_eq!(it.len(), 50_000_000);
    assert_eq!(it.by_ref().take(100).count(), 100);
    assert_eq!(it.len(), 50_000_000 - 100);
}

#[test]
fn tenants_get_their_share() {
    let docs = generate(&config(20_000, 9));
    let total_share: u32 = TENANTS.iter().map(|t| t.share).sum();
    for t in &TENANTS {
        let n = docs.iter().filter(|s| s.tenant_id == t.id).count();
        let expected = 20_000 * t.share as usize / total_share as usize;
        assert!(n.abs_diff(expected) <= 1, "{}: {n} vs {expected}", t.display_name);
    }
    assert!(TENANTS[0].share > TENANTS[1].share && TENANTS[1].share > TENANTS[2].share);
    assert_eq!(TENANTS.map(|t| t.tier), [LicenseTier::P2, LicenseTier::P1, LicenseTier::Free]);
    assert_eq!(TENANTS[0].domain, "contoso.com");
}

#[test]
fn failures_and_risk_come_in_plausible_proportions() {
    let docs = generate(&config(20_000, 11));
    let n = docs.len() as f64;
    let mut codes: HashMap<i64, usize> = HashMap::new();
    for s in &docs {
        *codes.entry(error_code(&Value::Object(s.document.clone()))).or_default() += 1;
    }
    let failures = n - codes[&0] as f64;
    assert!((0.05..0.2).contains(&(failures / n)), "failure share {}", failures / n);
    // The two commonest failures are the password and multi-factor authentication.
    let mut by_count: Vec<_> = codes.iter().filter(|(c, _)| **c != 0).collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    let top: HashSet<i64> = by_count.iter().take(3).map(|(c, _)| **c).collect();
    assert!(top.contains(&50126) && top.contains(&50074), "{by_count:?}");
    for code in [50140, 50076, 50053, 53003, 50055, 50057, 500121, 70044, 16000, 50034] {
        assert!(codes.contains_key(&code), "no {code} in {codes:?}");
    }
    let risky = docs.iter().filter(|s| s.document["riskState"] != "none").count() as f64;
    assert!((0.005..0.04).contains(&(risky / n)), "risky share {}", risky / n);
    for s in &docs {
        let d = &s.document;
        let none = d["riskState"] == "none";
        assert_eq!(none, d["riskLevelDuringSignIn"] == "none");
        assert_eq!(none, d["riskEventTypes"].as_array().unwrap().is_empty());
        assert_eq!(d["riskEventTypes"], d["riskEventTypes_v2"]);
        let status = &d["status"];
        assert_eq!(status["errorCode"] == 0, status["failureReason"].is_null());
    }
}

#[test]
fn conditional_access_agrees_with_the_policies_and_the_outcome() {
    let docs = generate(&config(10_000, 13));
    let mut legacy_blocked = 0;
    for s in &docs {
        let d = &s.document;
        let results: Vec<&str> = d["appliedConditionalAccessPolicies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["result"].as_str().unwrap())
            .collect();
        let expected = if results.contains(&"failure") {
            "failure"
        } else if results.contains(&"success") {
            "success"
        } else {
            "notApplied"
        };
        assert_eq!(d["conditionalAccessStatus"], expected, "{d:?}");
        let code = d["status"]["errorCode"].as_i64().unwrap();
        if expected == "failure" {
            assert_ne!(code, 0, "{d:?}");
        }
        if code == 53003 {
            assert_eq!(expected, "failure");
        }
        let legacy = !matches!(d["clientAppUsed"].as_str().unwrap(), "Browser" | "Mobile Apps and Desktop clients");
        if s.tenant_id == TENANTS[2].id {
            assert!(results.is_empty(), "a Free tenant has no Conditional Access");
        } else if legacy {
            assert_ne!(code, 0, "legacy authentication is blocked: {d:?}");
            legacy_blocked += usize::from(code == 53003);
        }
    }
    assert!(legacy_blocked > 10, "{legacy_blocked}");
}

#[test]
fn times_stay_in_the_window_in_order_with_a_weekly_and_daily_rhythm() {
    let cfg = config(20_000, 17);
    let end = to_ticks(cfg.end);
    let start = end - 30 * TICKS_PER_DAY;
    let docs = generate(&cfg);
    let ticks: Vec<i64> =
        docs.iter().map(|s| parse_ticks(s.document["createdDateTime"].as_str().unwrap()).unwrap()).collect();
    assert!(ticks.iter().all(|t| (start..=end).contains(t)));
    assert!(ticks.windows(2).all(|w| w[0] <= w[1]));
    // Contoso is on the US west coast (UTC-8): compare weekday office hours with nights and weekends.
    let (mut office, mut night, mut weekend) = (0, 0, 0);
    for (s, t) in docs.iter().zip(&ticks) {
        if s.tenant_id != TENANTS[0].id {
            continue;
        }
        let local = from_ticks(*t) - chrono::Duration::hours(8);
        let weekday = local.weekday().num_days_from_monday();
        match (weekday, local.hour()) {
            (0..5, 9..12) => office += 1,
            (0..5, 1..4) => night += 1,
            (5..7, 9..12) => weekend += 1,
            _ => {}
        }
    }
    assert!(office > 10 * night, "office {office}, night {night}");
    assert!(office > 3 * weekend, "office {office}, weekend {weekend}");
}

#[test]
fn ids_are_unique_guids() {
    let docs = generate(&config(20_000, 19));
    let ids: HashSet<&str> = docs.iter().map(|s| s.document["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), docs.len());
    assert!(ids.iter().all(|id| is_guid(id) && id.ends_with("00")));
}

#[test]
fn people_sign_in_repeatedly_and_some_much_more_than_others() {
    let docs = generate(&config(20_000, 23));
    let contoso = users(&TENANTS[0]);
    let mut per_user: HashMap<&str, usize> = HashMap::new();
    for s in docs.iter().filter(|s| s.tenant_id == TENANTS[0].id) {
        *per_user.entry(s.document["userId"].as_str().unwrap()).or_default() += 1;
    }
    let known: HashSet<&str> = contoso.iter().map(|u| u.object_id.as_str()).collect();
    assert!(per_user.keys().all(|id| known.contains(id) || *id == "00000000-0000-0000-0000-000000000000"));
    let mut counts: Vec<usize> = per_user.values().copied().collect();
    counts.sort_unstable();
    let median = counts[counts.len() / 2];
    assert!(median > 20, "{median}");
    assert!(counts[counts.len() - 1] > 3 * median, "{counts:?}");
}

#[test]
fn users_are_stable_and_include_admins_and_plain_users() {
    for t in &TENANTS {
        let a = users(t);
        assert_eq!(a, users(t));
        assert!((40..=120).contains(&a.len()), "{}", a.len());
        assert_eq!(a[0].admin_role, Some("Global Administrator"));
        assert!(a.iter().any(|u| u.admin_role == Some("Security Reader")));
        assert!(a.iter().any(|u| u.admin_role.is_none()));
        let upns: HashSet<&str> = a.iter().map(|u| u.user_principal_name.as_str()).collect();
        let ids: HashSet<&str> = a.iter().map(|u| u.object_id.as_str()).collect();
        assert_eq!((upns.len(), ids.len()), (a.len(), a.len()));
        for u in &a {
            assert!(is_guid(&u.object_id));
            let (local, domain) = u.user_principal_name.split_once('@').unwrap();
            assert_eq!(domain, t.domain);
            assert!(local.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'), "{local}");
            let role = u.admin_role.map(domain::principal::DirectoryRole::from_display_name);
            assert!(role.is_none_or(|r| r.is_some()), "{:?}", u.admin_role);
        }
        assert!(is_guid(t.id) && t.id == t.id.to_ascii_lowercase());
        assert_eq!(people::profile_of(t).tenant_id, t.id);
    }
    assert_eq!(users(&TENANTS[0])[0].display_name, "Megan Bowen");
}

#[test]
fn devices_browsers_and_places_fit_together() {
    let docs = generate(&config(5_000, 29));
    let mut seen_os = HashSet::new();
    for s in &docs {
        let d = Value::Object(s.document.clone());
        let os = str_at(&d, "/deviceDetail/operatingSystem");
        let browser = str_at(&d, "/deviceDetail/browser");
        let agent = str_at(&d, "/userAgent");
        seen_os.insert(os.to_owned());
        match os {
            "Ios" => assert!(browser.starts_with("Mobile Safari") || browser.is_empty(), "{browser}"),
            "Android" => assert!(browser.starts_with("Chrome Mobile") || browser.is_empty(), "{browser}"),
            "MacOs" => assert!(agent.contains("Macintosh"), "{agent}"),
            "Linux" => assert!(agent.contains("Linux"), "{agent}"),
            "Windows 10" | "Windows10" => {
                assert!(agent.contains("Windows") || agent.starts_with("Windows-AzureAD"), "{agent}");
                assert!(!browser.starts_with("Safari"));
            }
            "" => assert_eq!(agent, "BAV2ROPC"),
            other => panic!("unexpected operatingSystem {other}"),
        }
        if browser.starts_with("Edge") {
            assert!(agent.contains(" Edg/"), "{agent}");
        }
        let device_id = str_at(&d, "/deviceDetail/deviceId");
        let trust = d.pointer("/deviceDetail/trustType").unwrap();
        assert_eq!(device_id.is_empty(), trust.is_null());
        assert_eq!(trust.is_null(), d.pointer("/deviceDetail/isManaged").unwrap().is_null());
        assert!(device_id.is_empty() || is_guid(device_id));
        let country = str_at(&d, "/location/countryOrRegion");
        assert_eq!(country.len(), 2);
        let lat = d.pointer("/location/geoCoordinates/latitude").and_then(Value::as_f64).unwrap();
        assert!((-90.0..=90.0).contains(&lat));
        let ip = str_at(&d, "/ipAddress");
        assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
    }
    for os in ["Windows 10", "Windows10", "MacOs", "Ios", "Android"] {
        assert!(seen_os.contains(os), "{os} never seen");
    }
    // First-party apps carry their real ids.
    let apps: HashMap<&str, &str> = docs
        .iter()
        .map(|s| (s.document["appDisplayName"].as_str().unwrap(), s.document["appId"].as_str().unwrap()))
        .collect();
    assert_eq!(apps["Microsoft Teams"], "1fec8e78-bce4-4aaf-ab1b-5451cc387264");
    assert_eq!(apps["Office 365 Exchange Online"], "00000002-0000-0ff1-ce00-000000000000");
    assert!(apps.len() >= 14, "{apps:?}");
}

#[test]
fn most_sign_ins_come_from_home_and_some_from_abroad() {
    let docs = generate(&config(10_000, 31));
    let home = ["US", "DE", "AT", "CH", "AU", "NZ"];
    let abroad =
        docs.iter().filter(|s| !home.contains(&s.document["location"]["countryOrRegion"].as_str().unwrap())).count();
    assert!((50..1_000).contains(&abroad), "{abroad}");
    let v6 = docs.iter().filter(|s| s.document["ipAddress"].as_str().unwrap().contains(':')).count();
    assert!((500..5_000).contains(&v6), "{v6}");
    let interactive = docs.iter().filter(|s| s.document["isInteractive"] == true).count();
    assert!(interactive > 9_000 && interactive < 10_000, "{interactive}");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "timing is only meaningful in a release build")]
fn fifty_thousand_documents_take_well_under_a_second() {
    let started = std::time::Instant::now();
    let n = sign_ins(&config(50_000, 37)).map(|s| s.document.len()).sum::<usize>();
    let elapsed = started.elapsed();
    eprintln!("50,000 sign-ins in {elapsed:?}");
    assert_eq!(n, 50_000 * ORDER.len());
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
}
