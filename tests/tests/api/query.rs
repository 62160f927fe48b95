//! The sign-in query engine against its in-memory oracle (issue 3).
//!
//! - A property test generates random valid `$filter`s (from the field registry) and `$orderby`s
//!   over a data set of realistic demo documents and hand-made edge documents, runs them over HTTP
//!   on each backend (following every `@odata.nextLink`), and checks that the rows come back
//!   exactly as `domain::query::eval` selects and orders them; `$count=true` and `/$count` too.
//! - Every documented Graph sign-in filter form works and returns the oracle's rows.
//! - Bad input is a 400 in Graph's envelope that names `$filter` and the position, never a 500.
//! - `$select` projects, and `$orderby` pages without duplicates or gaps.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Instant;

use actix_web::http::StatusCode;
use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use domain::ids::is_guid;
use domain::query::registry::SIGN_INS;
use domain::query::{
    CollectionField, Element, Field, Filter, SortKey, ValueType, eval, resolve_filter, resolve_orderby,
};
use domain::time::{TICKS_PER_DAY, TICKS_PER_SECOND, format_ticks, from_ticks, parse_ticks, to_ticks};
use serde_json::{Value, json};

use crate::support::*;

const BASE: &str = "https://idtrail.test";
pub(crate) const LIST: &str = "/v1.0/auditLogs/signIns";
const DEFAULT_SEED: u64 = 0x1D7A_2025_0320;
const DEFAULT_CASES: usize = 1000;

/// Contoso: the demo tenant on P2 (nothing hidden), where the data set lives.
pub(crate) fn contoso() -> &'static str {
    demo::TENANTS[0].id
}

/// The instant the data set ends at; the test clock is moved here, so the data (and therefore
/// what a seed generates) is the same on every run.
fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 20, 12, 0, 0).unwrap()
}

fn field(path: &str) -> &'static Field {
    SIGN_INS.field(path).unwrap_or_else(|| panic!("no field {path}"))
}

fn at_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('/').try_fold(v, |v, seg| v.get(seg))
}

/// Percent-encodes everything but the unreserved characters (RFC 3986).
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

// ---------------------------------------------------------------------------------------------
// The data set
// ---------------------------------------------------------------------------------------------

/// The app with the data set loaded, and every document as the API returns it.
pub(crate) struct Fixture {
    pub(crate) app: TestApp,
    pub(crate) token: String,
    pub(crate) docs: Vec<Value>,
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(map), Value::Object(extra)) = (into.as_object_mut(), extra) {
        map.extend(extra);
    }
}

/// Hand-made documents for the corners: nulls and missing properties, case, LIKE wildcards and
/// quotes, empty and null collections, equal timestamps, offsets, unicode (only in properties kept
/// in columns, which are lower-cased by Rust on both sides; document-sourced text stays ASCII).
fn edge_documents() -> Vec<Value> {
    let t0 = anchor() - Duration::days(2);
    let minutes_ago = |m: i64| format_ticks(to_ticks(t0 - Duration::minutes(m)));
    let shared = format_ticks(to_ticks(t0 - Duration::hours(5)) + 1_234_567);
    let mut n = 0_u64;
    let mut doc = |created: String, extra: Value| -> Value {
        n += 1;
        let mut d = json!({"id": guid(900_000 + n), "createdDateTime": created, "userId": guid(800_000 + n % 4)});
        merge(&mut d, extra);
        d
    };
    let mut docs = vec![
        // Only what is required.
        doc(minutes_ago(1), json!({})),
        // Every nullable property explicitly null.
        doc(
            minutes_ago(2),
            json!({"userDisplayName": null, "userPrincipalName": null, "appId": null, "appDisplayName": null,
                "ipAddress": null, "clientAppUsed": null, "correlationId": null, "conditionalAccessStatus": null,
                "isInteractive": null, "riskDetail": null, "riskLevelAggregated": null, "riskLevelDuringSignIn": null,
                "riskState": null, "riskEventTypes": null, "riskEventTypes_v2": null, "resourceDisplayName": null,
                "resourceId": null, "status": null, "deviceDetail": null, "location": null,
                "appliedConditionalAccessPolicies": null, "authenticationAppDeviceDetails": null,
                "homeTenantId": null, "resourceTenantId": null, "servicePrincipalId": null,
                "servicePrincipalName": null, "userAgent": null}),
        ),
        // Complex values whose members are null; empty collections.
        doc(
            minutes_ago(3),
            json!({"status": {"errorCode": null, "failureReason": null, "additionalDetails": null},
                "deviceDetail": {"browser": null, "operatingSystem": null, "deviceId": null, "displayName": null,
                    "isCompliant": null, "isManaged": null, "trustType": null},
                "location": {"city": null, "state": null, "countryOrRegion": null, "geoCoordinates": null},
                "appliedConditionalAccessPolicies": [], "riskEventTypes": [], "riskEventTypes_v2": []}),
        ),
        // Empty objects, and a policy with no members at all.
        doc(
            minutes_ago(4),
            json!({"location": {"geoCoordinates": {}}, "deviceDetail": {}, "status": {},
                "appliedConditionalAccessPolicies": [{}], "isInteractive": false}),
        ),
        // Equal timestamps, text that differs only in case.
        doc(
            shared.clone(),
            json!({"userPrincipalName": "ALICE@CONTOSO.COM", "userDisplayName": "ALICE", "isInteractive": true}),
        ),
        doc(
            shared.clone(),
            json!({"userPrincipalName": "alice@contoso.com", "userDisplayName": "alice", "isInteractive": false}),
        ),
        doc(shared.clone(), json!({"userPrincipalName": "Alice@Contoso.Com", "userDisplayName": "Alice"})),
        // LIKE wildcards, backslashes and quotes.
        doc(
            minutes_ago(10),
            json!({"userPrincipalName": "50%off_sale@contoso.com", "userDisplayName": "50% off_sale",
                "appDisplayName": "Graph_Explorer%",
                "status": {"errorCode": 50126, "failureReason": "Invalid_Password 100% \\ O'Neil",
                    "additionalDetails": "MFA required"}}),
        ),
        doc(
            minutes_ago(11),
            json!({"userPrincipalName": "back\\slash@contoso.com", "userDisplayName": "back\\slash\\",
                "appDisplayName": "graph\\explorer",
                "deviceDetail": {"displayName": "LAPTOP-O'NEIL_%", "browser": "Edge 80.0.361",
                    "operatingSystem": "windows 10", "isCompliant": true, "isManaged": false,
                    "trustType": "Azure AD registered", "deviceId": "ABC-123"}}),
        ),
        doc(
            minutes_ago(12),
            json!({"userDisplayName": "O'Brien", "userPrincipalName": "o'brien@contoso.com",
                "appDisplayName": "GRAPH EXPLORER", "deviceDetail": {"browser": "EDGE 80", "operatingSystem": "Windows 10",
                    "isCompliant": false, "isManaged": true, "displayName": "o'brien-pc"}}),
        ),
        doc(minutes_ago(13), json!({"userDisplayName": "_under", "userPrincipalName": "_under@contoso.com"})),
        doc(
            minutes_ago(14),
            json!({"userDisplayName": "a%b_c\\d", "userPrincipalName": "%_\\'@contoso.com",
                "deviceDetail": {"displayName": "%", "trustType": "_"}}),
        ),
        doc(minutes_ago(15), json!({"userDisplayName": "''", "clientAppUsed": "Exchange ActiveSync"})),
        doc(minutes_ago(16), json!({"userPrincipalName": "x' or 1=1 --", "userDisplayName": "Robert'); DROP TABLE"})),
        // Collections of primitives.
        doc(
            minutes_ago(20),
            json!({"riskEventTypes_v2": ["Unfamiliar_Features", "50%risk", "back\\slash", "UNFAMILIARFEATURES", ""],
                "riskEventTypes": ["UnlikelyTravel", "futureEventType"]}),
        ),
        doc(
            minutes_ago(21),
            json!({"riskEventTypes_v2": ["unfamiliarFeatures", "unfamiliarFeatures"],
                "riskEventTypes": ["unfamiliarFeatures"], "riskState": "AtRisk", "riskLevelDuringSignIn": "HIGH",
                "riskLevelAggregated": "high", "riskDetail": "none"}),
        ),
        doc(minutes_ago(22), json!({"riskEventTypes": ["unlikelyTravel"], "riskEventTypes_v2": []})),
        // Collections of complex values.
        doc(
            minutes_ago(30),
            json!({"appliedConditionalAccessPolicies": [{"id": null, "displayName": null, "result": null,
                "enforcedGrantControls": null, "enforcedSessionControls": null}]}),
        ),
        doc(
            minutes_ago(31),
            json!({"appliedConditionalAccessPolicies": [{"id": "ABC-Policy",
                "displayName": "Block 100% legacy_auth \\ 'quoted'", "result": "reportOnlyFailure",
                "enforcedGrantControls": ["Block"], "enforcedSessionControls": []}],
                "conditionalAccessStatus": "FAILURE"}),
        ),
        doc(
            minutes_ago(32),
            json!({"appliedConditionalAccessPolicies": [
                {"result": "FAILURE", "displayName": "Require MFA for admins", "id": "de7e60eb-ed89-4d73-8205-2227def6b7c9"},
                {"result": "success", "displayName": "require mfa for ADMINS"}],
                "conditionalAccessStatus": "unknownFutureValue"}),
        ),
        doc(
            minutes_ago(33),
            json!({"appliedConditionalAccessPolicies": [{"result": "futureResult", "id": "x"}],
                "conditionalAccessStatus": "futureStatus", "riskState": "someFutureState"}),
        ),
        // Enums in odd case, future members, hidden.
        doc(
            minutes_ago(40),
            json!({"riskState": "atrisk", "riskDetail": "adminConfirmedSigninCompromised",
                "riskLevelAggregated": "hidden", "riskLevelDuringSignIn": "Medium", "conditionalAccessStatus": "success"}),
        ),
        doc(minutes_ago(41), json!({"riskState": "confirmedCompromised", "riskLevelDuringSignIn": "none"})),
        // Error codes at the edges.
        doc(
            minutes_ago(50),
            json!({"status": {"errorCode": -1, "failureReason": "Other.", "additionalDetails": null}}),
        ),
        doc(
            minutes_ago(51),
            json!({"status": {"errorCode": 2_147_483_647, "failureReason": "MAX", "additionalDetails": "max int"}}),
        ),
        doc(minutes_ago(52), json!({"status": {"errorCode": 0, "failureReason": "Other."}})),
        // Locations: unicode (in columns), case, integers and tiny numbers in the document.
        doc(
            minutes_ago(60),
            json!({"location": {"city": "São Paulo", "state": "São Paulo", "countryOrRegion": "br",
                "geoCoordinates": {"latitude": -23.5505, "longitude": -46.6333, "altitude": 2493.5}}}),
        ),
        doc(
            minutes_ago(61),
            json!({"location": {"city": "İstanbul", "state": "İSTANBUL", "countryOrRegion": "TR",
                "geoCoordinates": {"latitude": 41, "longitude": 29, "altitude": null}}}),
        ),
        doc(
            minutes_ago(62),
            json!({"location": {"city": "MÜNCHEN", "countryOrRegion": "de",
                "geoCoordinates": {"latitude": 1e-7, "longitude": -180.0, "altitude": 0}}}),
        ),
        doc(
            minutes_ago(63),
            json!({"location": {"city": "münchen", "state": "Bavaria", "countryOrRegion": "DE",
                "geoCoordinates": {"latitude": 48.1351, "longitude": 11.582}}}),
        ),
        doc(
            minutes_ago(64),
            json!({"location": {"city": "Redmond", "state": "WASHINGTON", "countryOrRegion": "us",
                "geoCoordinates": {"latitude": 47.68050003051758, "longitude": -122.12094116210938}}}),
        ),
        // Whitespace and unicode in column-backed text.
        doc(minutes_ago(70), json!({"userDisplayName": "  padded  ", "appDisplayName": " Azure Portal "})),
        doc(minutes_ago(71), json!({"userDisplayName": "tab\tinside\t"})),
        doc(minutes_ago(72), json!({"userDisplayName": "Zoë Müller", "appDisplayName": "Ünïcode App"})),
        doc(minutes_ago(73), json!({"userDisplayName": "ÅSA ÖBERG", "appDisplayName": "ΣΊΣΥΦΟΣ App"})),
        doc(minutes_ago(74), json!({"userDisplayName": "åsa öberg"})),
        // Empty strings.
        doc(
            minutes_ago(80),
            json!({"userDisplayName": "", "appId": "", "correlationId": "", "clientAppUsed": "", "ipAddress": "",
                "resourceId": "", "userAgent": "", "servicePrincipalId": "", "homeTenantId": "",
                "deviceDetail": {"deviceId": "", "browser": "", "operatingSystem": ""}}),
        ),
        // GUIDs in upper case.
        doc(
            minutes_ago(81),
            json!({"appId": "DE8BC8B5-D9F9-48B1-A8AD-B748DA725064", "correlationId": "ABCDEF01-2345-4678-9ABC-DEF012345678",
                "resourceId": "00000003-0000-0000-C000-000000000000", "homeTenantId": "B4C9F32E-2A6D-4C8E-9F1A-7D3E5C2B8A61",
                "resourceTenantId": "B4C9F32E-2A6D-4C8E-9F1A-7D3E5C2B8A61", "appDisplayName": "Graph Explorer",
                "resourceDisplayName": "Microsoft Graph"}),
        ),
        // Service principal, user agent and IPv6.
        doc(
            minutes_ago(82),
            json!({"servicePrincipalName": "SP_Name%", "servicePrincipalId": "0F0E0D0C-0B0A-4908-8706-050403020100",
                "userAgent": "Mozilla/5.0 (X11; Linux) 100%_\\", "ipAddress": "2001:DB8::1", "clientAppUsed": "Browser"}),
        ),
        doc(
            minutes_ago(83),
            json!({"authenticationAppDeviceDetails": {"appVersion": "6.2.1", "clientApp": "Microsoft Authenticator",
                "deviceId": "ABC", "operatingSystem": "iOS"}, "isInteractive": true,
                "signInEventTypes": ["interactiveUser"], "alternateSignInName": "beta only"}),
        ),
        // Timestamps: offsets, midnight, the last tick of a day and of a month, equal instants
        // written differently.
        doc("2025-03-15T23:30:00.5+02:00".into(), json!({"userDisplayName": "offset"})),
        doc("2025-03-16T00:00:00Z".into(), json!({"userDisplayName": "midnight"})),
        doc("2025-03-15T23:59:59.9999999Z".into(), json!({"userDisplayName": "last tick"})),
        doc("2025-02-28T23:59:59.9999999Z".into(), json!({"userDisplayName": "end of february"})),
        doc("2025-03-01T00:00:00.0000001Z".into(), json!({"userDisplayName": "start of march"})),
        doc("2025-03-10T10:00:00.5Z".into(), json!({"userDisplayName": "half"})),
        doc("2025-03-10T10:00:00.5000000Z".into(), json!({"userDisplayName": "half too"})),
        doc("2025-03-10T12:00:00.5+02:00".into(), json!({"userDisplayName": "half again"})),
    ];
    // One id sent in upper case, at the shared instant.
    let mut upper = doc(shared, json!({"userPrincipalName": "bob@contoso.com", "userDisplayName": "Bob"}));
    upper["id"] = Value::String(guid(999_999).to_uppercase());
    docs.push(upper);
    docs
}

/// Loads demo documents (three tenants, 60% Contoso) and the edge documents into a fresh app
/// (whose rate limits are off: these tests send thousands of requests).
pub(crate) async fn fixture(app: TestApp) -> Fixture {
    let app = app.without_rate_limits().await;
    let now = app.now();
    app.clock.advance(anchor() - now);
    let cfg = demo::DemoConfig { sign_ins: 500, days: 25, seed: 20_250_320, end: anchor() };
    api::demo::load(&app.store, &cfg).expect("demo data loads");
    let edges = edge_documents();
    let (s, b) = app.ingest(&ingest_token(contoso()), &edges).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["inserted"], json!(edges.len()), "{b}");
    let token = admin_token(contoso());
    let all = fetch_all(&app, &token, &format!("{LIST}?$top=1000")).await.expect("the whole data set");
    assert!(all.docs.len() >= 250 + edges.len(), "{} documents", all.docs.len());
    for d in &all.docs {
        for f in SIGN_INS.fields.iter().filter(|f| f.source == domain::query::Source::Document && f.ty.is_textual()) {
            if let Some(s) = at_path(d, f.path).and_then(Value::as_str)
                && !s.is_ascii()
            {
                eprintln!("note: non-ASCII text in document-sourced {}: {s:?} (SQL lower() may differ)", f.path);
            }
        }
    }
    Fixture { app, token, docs: all.docs }
}

// ---------------------------------------------------------------------------------------------
// Calling the API and the oracle
// ---------------------------------------------------------------------------------------------

/// Every row of a listing, across pages.
#[derive(Default)]
pub(crate) struct Listing {
    pub(crate) docs: Vec<Value>,
    /// `@odata.count` of each page that had one.
    counts: Vec<i64>,
    pages: usize,
    contexts: Vec<String>,
}

/// Follows `@odata.nextLink` from `first` to the end. A non-200 page is an error.
pub(crate) async fn fetch_all(app: &TestApp, token: &str, first: &str) -> Result<Listing, String> {
    let mut url = first.to_owned();
    let mut out = Listing::default();
    loop {
        if actix_web::http::Uri::try_from(url.as_str()).is_err() {
            return Err(format!("not a valid request URI: {url}"));
        }
        let (s, b) = app.get_as_stored(&url, token).await;
        if s != StatusCode::OK {
            return Err(format!("page {} ({url}) answered {s}: {b}", out.pages + 1));
        }
        out.pages += 1;
        if let Some(n) = b.get("@odata.count") {
            out.counts.push(n.as_i64().ok_or_else(|| format!("@odata.count is not a number: {n}"))?);
        }
        out.contexts.push(b["@odata.context"].as_str().unwrap_or_default().to_owned());
        out.docs.extend(b["value"].as_array().ok_or_else(|| format!("no value array: {b}"))?.iter().cloned());
        match b.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => {
                url = next.strip_prefix(BASE).ok_or_else(|| format!("nextLink outside {BASE}: {next}"))?.to_owned();
            }
            None => break,
        }
        if out.pages > 2000 {
            return Err(format!("more than 2000 pages from {first}"));
        }
    }
    Ok(out)
}

/// Runs `scenario` on every backend via `each_backend`; the problems each run returns are
/// reported together at the end, so one backend's failure does not hide another's.
pub(crate) async fn each_backend_collecting<F, Fut>(scenario: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let sink: Rc<RefCell<Vec<String>>> = Rc::default();
    each_backend(|app| {
        let sink = Rc::clone(&sink);
        let run = scenario(app);
        async move {
            let problems = run.await;
            sink.borrow_mut().extend(problems);
        }
    })
    .await;
    let problems = sink.borrow();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn default_keys() -> Vec<SortKey> {
    vec![SortKey { field: field("createdDateTime"), descending: true }]
}

/// The oracle: the documents `filter` selects, in the order of `keys` (the server's default,
/// newest first, when there are none).
fn oracle<'d>(docs: &'d [Value], filter: Option<&Filter>, keys: &[SortKey]) -> Vec<&'d Value> {
    let keys = if keys.is_empty() { default_keys() } else { keys.to_vec() };
    let id = field("id");
    let mut out: Vec<&Value> = docs.iter().filter(|d| filter.is_none_or(|f| eval::matches(f, d))).collect();
    out.sort_by(|a, b| eval::compare_docs(&keys, id, a, b));
    out
}

fn id_of(d: &Value) -> String {
    d["id"].as_str().unwrap_or("<no id>").to_owned()
}

fn ids<'a>(docs: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    docs.into_iter().map(id_of).collect()
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 1200 { format!("{}...", s.chars().take(1200).collect::<String>()) } else { s }
}

/// What differs between the oracle's ids and the API's, for a failure message.
fn describe_diff(docs: &[Value], expected: &[String], got: &[String]) -> String {
    let e: HashSet<&String> = expected.iter().collect();
    let g: HashSet<&String> = got.iter().collect();
    let mut out = format!("oracle {} rows, API {} rows", expected.len(), got.len());
    if got.len() != g.len() {
        let mut seen = HashSet::new();
        let dups: Vec<&String> = got.iter().filter(|i| !seen.insert(*i)).take(5).collect();
        let _ = write!(out, "; API repeated {dups:?}");
    }
    let missing: Vec<&String> = expected.iter().filter(|i| !g.contains(i)).collect();
    let extra: Vec<&String> = got.iter().filter(|i| !e.contains(i)).collect();
    if missing.is_empty() && extra.is_empty() {
        if let Some(i) = expected.iter().zip(got).position(|(a, b)| a != b) {
            let _ = write!(out, "; same rows, order differs first at index {i}: oracle {} API {}", expected[i], got[i]);
        }
        return out;
    }
    let by_id = |id: &String| docs.iter().find(|d| &id_of(d) == id).map(short).unwrap_or_default();
    let _ = write!(out, "; missing from the API ({}): {:?}", missing.len(), missing.iter().take(5).collect::<Vec<_>>());
    if let Some(m) = missing.first() {
        let _ = write!(out, "\n      first missing: {}", by_id(m));
    }
    let _ = write!(out, "\n    extra in the API ({}): {:?}", extra.len(), extra.iter().take(5).collect::<Vec<_>>());
    if let Some(x) = extra.first() {
        let _ = write!(out, "\n      first extra: {}", by_id(x));
    }
    out
}

/// Runs `filter` (default order, one page of 1000) and returns the oracle's and the API's ids.
async fn both(fx: &Fixture, filter: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let resolved = resolve_filter(&SIGN_INS, filter).map_err(|e| format!("the oracle refuses {filter}: {e}"))?;
    let expected = ids(oracle(&fx.docs, Some(&resolved), &[]));
    let got = fetch_all(&fx.app, &fx.token, &format!("{LIST}?$filter={}&$top=1000&$select=id", enc(filter))).await?;
    Ok((expected, ids(&got.docs)))
}

/// Asserts that `filter` returns exactly the oracle's rows, in order; returns how many.
async fn expect_oracle(fx: &Fixture, filter: &str) -> usize {
    let (expected, got) = both(fx, filter).await.unwrap_or_else(|e| panic!("[{}] {filter}: {e}", fx.app.db.backend));
    assert!(
        expected == got,
        "[{}] $filter={filter}\n  {}",
        fx.app.db.backend,
        describe_diff(&fx.docs, &expected, &got)
    );
    expected.len()
}

// ---------------------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, seedable and the same everywhere.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap()).unwrap()
    }

    /// A number in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(usize::try_from(hi - lo + 1).unwrap())).unwrap()
    }

    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values present in the data set, per property path (and `collection` or `collection/member`),
/// so that literals select some rows and not others.
struct Samples(HashMap<String, Vec<Value>>);

impl Samples {
    fn new(docs: &[Value]) -> Self {
        fn add(m: &mut HashMap<String, Vec<Value>>, key: &str, v: Option<&Value>) {
            if let Some(v) = v.filter(|v| !v.is_null()) {
                m.entry(key.to_owned()).or_default().push(v.clone());
            }
        }
        let mut m = HashMap::new();
        for d in docs {
            for f in SIGN_INS.fields {
                add(&mut m, f.path, at_path(d, f.path));
            }
            for c in SIGN_INS.collections {
                for e in d.get(c.path).and_then(Value::as_array).into_iter().flatten() {
                    match c.element {
                        Element::Primitive { .. } => add(&mut m, c.path, Some(e)),
                        Element::Complex { fields } => {
                            for f in fields {
                                add(&mut m, &format!("{}/{}", c.path, f.path), at_path(e, f.path));
                            }
                            for n in c.nested {
                                for item in e.get(n.path).and_then(Value::as_array).into_iter().flatten() {
                                    add(&mut m, n.path, Some(item));
                                }
                            }
                        }
                    }
                }
            }
        }
        Self(m)
    }

    fn pick(&self, key: &str, rng: &mut Rng) -> Option<Value> {
        self.0.get(key).filter(|v| !v.is_empty()).map(|v| rng.pick(v).clone())
    }
}

const VARS: &[&str] = &["x", "p", "t", "r", "item", "e"];

#[derive(Clone, Copy)]
struct Lambda {
    var: &'static str,
    coll: &'static CollectionField,
}

/// The lambdas in scope, outermost first (at most the service's limit of three).
#[derive(Clone, Copy, Default)]
struct Lams {
    items: [Option<Lambda>; 3],
    len: usize,
}

impl Lams {
    fn is_empty(self) -> bool {
        self.len == 0
    }

    fn iter(self) -> impl Iterator<Item = Lambda> {
        self.items.into_iter().take(self.len).flatten()
    }

    fn with(mut self, lam: Lambda) -> Self {
        self.items[self.len] = Some(lam);
        self.len += 1;
        self
    }

    fn uses(self, var: &str) -> bool {
        self.iter().any(|l| l.var == var)
    }
}

/// What an operand reads: a property, or the lambda variable (itself or one of its members).
#[derive(Clone, Copy)]
enum Base {
    Field(&'static Field),
    Elem { lam: Lambda, member: Option<&'static Field>, ty: ValueType },
}

impl Base {
    fn ty(self) -> ValueType {
        match self {
            Self::Field(f) => f.ty,
            Self::Elem { ty, .. } => ty,
        }
    }

    fn key(self) -> String {
        match self {
            Self::Field(f) => f.path.to_owned(),
            Self::Elem { lam, member: None, .. } => lam.coll.path.to_owned(),
            Self::Elem { lam, member: Some(m), .. } => format!("{}/{}", lam.coll.path, m.path),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fun {
    ToLower,
    ToUpper,
    Trim,
    Length,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Date,
}

impl Fun {
    fn name(self) -> &'static str {
        match self {
            Self::ToLower => "tolower",
            Self::ToUpper => "toupper",
            Self::Trim => "trim",
            Self::Length => "length",
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
            Self::Hour => "hour",
            Self::Minute => "minute",
            Self::Second => "second",
            Self::Date => "date",
        }
    }
}

#[derive(Clone, Copy)]
struct Opnd {
    base: Base,
    fun: Option<Fun>,
}

impl Opnd {
    fn ty(self) -> ValueType {
        match self.fun {
            None => self.base.ty(),
            Some(Fun::ToLower | Fun::ToUpper | Fun::Trim) => ValueType::String,
            Some(Fun::Date) => ValueType::DateTimeOffset,
            Some(_) => ValueType::Int32,
        }
    }

    /// Whether the operand reads text that startswith and friends accept.
    fn textual(self) -> bool {
        self.ty().is_textual()
    }
}

/// Flips the case of a few ASCII letters.
fn flip_some(rng: &mut Rng, s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() && rng.chance(35) {
                if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }
            } else {
                c
            }
        })
        .collect()
}

fn case_variant(rng: &mut Rng, s: &str) -> String {
    match rng.below(5) {
        0 | 1 => s.to_owned(),
        2 => s.to_uppercase(),
        3 => s.to_lowercase(),
        _ => flip_some(rng, s),
    }
}

fn ticks_of(v: &Value) -> Option<i64> {
    v.as_str().and_then(|s| parse_ticks(s).ok())
}

/// A DateTimeOffset literal for `t`, in one of the forms Graph clients send.
fn render_ticks(rng: &mut Rng, t: i64) -> String {
    let dt = from_ticks(t);
    match rng.below(20) {
        0..=9 => format_ticks(t),
        10..=12 => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        13..=16 => {
            let minutes = *rng.pick(&[120_i64, -330, 60, 0, 840, -720]);
            let local = from_ticks(t + minutes * 60 * TICKS_PER_SECOND);
            let sign = if minutes < 0 { '-' } else { '+' };
            format!(
                "{}.{:07}{sign}{:02}:{:02}",
                local.format("%Y-%m-%dT%H:%M:%S"),
                t.rem_euclid(TICKS_PER_SECOND),
                minutes.abs() / 60,
                minutes.abs() % 60
            )
        }
        _ => dt.format("%Y-%m-%d").to_string(),
    }
}

struct Gen<'a> {
    rng: Rng,
    samples: &'a Samples,
    /// The top-level conditions of the filter being generated, to narrow down a failure.
    leaves: Vec<String>,
}

impl Gen<'_> {
    fn kw(&mut self, k: &str) -> String {
        match self.rng.below(40) {
            0 => k.to_uppercase(),
            1 => flip_some(&mut self.rng, k),
            _ => k.to_owned(),
        }
    }

    fn path_text(&mut self, path: &str) -> String {
        if self.rng.chance(4) { flip_some(&mut self.rng, path) } else { path.to_owned() }
    }

    fn base(&mut self, lams: Lams) -> Base {
        if !lams.is_empty() && self.rng.chance(70) {
            // Mostly the innermost variable, sometimes an outer one.
            let level = if self.rng.chance(60) { lams.len - 1 } else { self.rng.below(lams.len) };
            let Some(lam) = lams.items[level] else { return Base::Field(self.rng.pick(SIGN_INS.fields)) };
            return match lam.coll.element {
                Element::Primitive { ty, .. } => Base::Elem { lam, member: None, ty },
                Element::Complex { fields } => {
                    let m = self.rng.pick(fields);
                    Base::Elem { lam, member: Some(m), ty: m.ty }
                }
            };
        }
        Base::Field(self.rng.pick(SIGN_INS.fields))
    }

    fn operand(&mut self, lam: Lams) -> Opnd {
        let base = self.base(lam);
        let fun = match base.ty() {
            t if t.is_textual() && self.rng.chance(30) => {
                Some(*self.rng.pick(&[Fun::ToLower, Fun::ToUpper, Fun::Trim, Fun::Length, Fun::Length]))
            }
            ValueType::DateTimeOffset if self.rng.chance(45) => Some(*self.rng.pick(&[
                Fun::Year,
                Fun::Month,
                Fun::Day,
                Fun::Hour,
                Fun::Minute,
                Fun::Second,
                Fun::Date,
                Fun::Date,
            ])),
            _ => None,
        };
        Opnd { base, fun }
    }

    fn textual_operand(&mut self, lam: Lams) -> Option<Opnd> {
        for _ in 0..30 {
            let o = self.operand(lam);
            if o.textual() {
                return Some(o);
            }
        }
        None
    }

    fn render(&mut self, o: Opnd) -> String {
        let base = match o.base {
            Base::Field(f) => self.path_text(f.path),
            Base::Elem { lam, member: None, .. } => lam.var.to_owned(),
            Base::Elem { lam, member: Some(m), .. } => format!("{}/{}", lam.var, self.path_text(m.path)),
        };
        match o.fun {
            None => base,
            Some(f) => format!("{}({base})", self.kw(f.name())),
        }
    }

    fn random_text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "E",
            "graph",
            "Contoso",
            "%",
            "_",
            "\\",
            "'",
            " ",
            "50%",
            "x_y",
            "ö",
            "user",
            "@",
            ".",
            "-",
            "0",
            "explorer",
            "Windows",
            "edge",
            "microsoft",
        ];
        let n = self.rng.below(4);
        (0..n).map(|_| *self.rng.pick(PIECES)).collect()
    }

    fn text_literal(&mut self, sample: Option<&str>, trim: bool) -> String {
        let mut s = match sample {
            Some(s) => s.to_owned(),
            None => self.random_text(),
        };
        if trim && self.rng.chance(60) {
            s = s.trim().to_owned();
        }
        if self.rng.chance(50) {
            s = case_variant(&mut self.rng, &s);
        }
        if is_guid(&s) && self.rng.chance(30) {
            return s;
        }
        quote(&s)
    }

    fn random_ticks(&mut self) -> i64 {
        to_ticks(anchor()) - self.rng.range(0, 30 * 24 * 3600) * TICKS_PER_SECOND - self.rng.range(0, TICKS_PER_SECOND)
    }

    /// A literal that fits operand `o` (never null).
    fn literal(&mut self, o: Opnd) -> String {
        let sample = if self.rng.chance(80) { self.samples.pick(&o.base.key(), &mut self.rng) } else { None };
        match (o.fun, o.ty()) {
            (Some(Fun::Length), _) => {
                let n = match sample.as_ref().and_then(Value::as_str) {
                    Some(s) => i64::try_from(s.to_lowercase().chars().count()).unwrap() + self.rng.range(-1, 1),
                    None => self.rng.range(0, 40),
                };
                n.to_string()
            }
            (Some(f @ (Fun::Year | Fun::Month | Fun::Day | Fun::Hour | Fun::Minute | Fun::Second)), _) => {
                let t = sample.as_ref().and_then(ticks_of).unwrap_or_else(|| self.random_ticks());
                let dt = from_ticks(t);
                let v = match f {
                    Fun::Year => i64::from(dt.year()),
                    Fun::Month => i64::from(dt.month()),
                    Fun::Day => i64::from(dt.day()),
                    Fun::Hour => i64::from(dt.hour()),
                    Fun::Minute => i64::from(dt.minute()),
                    _ => i64::from(dt.second()),
                };
                (v + if self.rng.chance(25) { self.rng.range(-1, 1) } else { 0 }).to_string()
            }
            (Some(Fun::Date), _) => {
                let t = sample.as_ref().and_then(ticks_of).unwrap_or_else(|| self.random_ticks());
                let day = t.div_euclid(TICKS_PER_DAY) * TICKS_PER_DAY + self.rng.range(-1, 1) * TICKS_PER_DAY;
                if self.rng.chance(70) {
                    from_ticks(day).format("%Y-%m-%d").to_string()
                } else {
                    let jitter = *self.rng.pick(&[0, 0, 1, -1, TICKS_PER_SECOND]);
                    render_ticks(&mut self.rng, day + jitter)
                }
            }
            (fun, ValueType::String) => {
                let s = sample.as_ref().and_then(Value::as_str).map(str::to_owned);
                self.text_literal(s.as_deref(), fun == Some(Fun::Trim))
            }
            (_, ValueType::Enum { name, members }) => {
                let known = sample
                    .as_ref()
                    .and_then(Value::as_str)
                    .and_then(|s| members.iter().find(|m| m.eq_ignore_ascii_case(s)).copied());
                let member = known.unwrap_or_else(|| *self.rng.pick(members));
                let text = if self.rng.chance(30) { case_variant(&mut self.rng, member) } else { member.to_owned() };
                if self.rng.chance(25) { format!("microsoft.graph.{name}'{text}'") } else { quote(&text) }
            }
            (_, ValueType::Int32) => {
                if self.rng.chance(2) {
                    return (*self.rng.pick(&["INF", "-INF"])).to_owned();
                }
                let n = sample.as_ref().and_then(Value::as_i64).unwrap_or_else(|| {
                    *self.rng.pick(&[0, 1, -1, 50126, 50074, 50140, 53003, 70044, 2_147_483_647, -2_147_483_648])
                });
                if self.rng.chance(5) { format!("{n}.0") } else { n.to_string() }
            }
            (_, ValueType::Double) => {
                if self.rng.chance(3) {
                    return (*self.rng.pick(&["INF", "-INF", "NaN"])).to_owned();
                }
                match sample.as_ref().filter(|v| v.is_number()) {
                    Some(v) => v.to_string(),
                    None => (*self.rng.pick(&["0", "47", "-33.8688", "47.5", "1.5e1", "-180", "90.0", "41", "1e-7"]))
                        .to_owned(),
                }
            }
            (_, ValueType::Boolean) => (*self.rng.pick(&["true", "false"])).to_owned(),
            (_, ValueType::DateTimeOffset) => {
                let t = sample.as_ref().and_then(ticks_of).unwrap_or_else(|| self.random_ticks());
                let jitter = *self.rng.pick(&[
                    0,
                    0,
                    0,
                    0,
                    1,
                    -1,
                    TICKS_PER_SECOND,
                    -TICKS_PER_SECOND,
                    TICKS_PER_DAY,
                    -TICKS_PER_DAY,
                ]);
                render_ticks(&mut self.rng, t + jitter)
            }
        }
    }

    fn pattern(&mut self, o: Opnd, kind: &str) -> String {
        let sample = if self.rng.chance(80) { self.samples.pick(&o.base.key(), &mut self.rng) } else { None };
        let text = match sample.as_ref().and_then(Value::as_str) {
            Some(s) => {
                let chars: Vec<char> = s.chars().collect();
                let len = chars.len();
                let (from, to) = match kind {
                    "startswith" => (0, self.rng.below(len + 1)),
                    "endswith" => (self.rng.below(len + 1), len),
                    _ => {
                        let a = self.rng.below(len + 1);
                        (a, a + self.rng.below(len - a + 1))
                    }
                };
                chars[from..to].iter().collect()
            }
            None => self.random_text(),
        };
        let text = if self.rng.chance(50) { case_variant(&mut self.rng, &text) } else { text };
        quote(&text)
    }

    fn op(&mut self, ty: ValueType) -> &'static str {
        let ops: &[&'static str] = if matches!(ty, ValueType::Boolean | ValueType::Enum { .. }) {
            &["eq", "ne"]
        } else {
            &["eq", "ne", "gt", "ge", "lt", "le"]
        };
        ops[self.rng.below(ops.len())]
    }

    fn leaf(&mut self, lam: Lams) -> String {
        let roll = self.rng.below(100);
        let text = match roll {
            // the shapes storage answers from a summary column, a partial index or merged index
            // ranges (issue 20), which must mean exactly what their general form means
            0..=4 => self.index_shape(lam),
            // property op literal (sometimes written literal op property)
            5..=33 => {
                let o = self.operand(lam);
                let op = self.op(o.ty());
                let lit = self.literal(o);
                let lhs = self.render(o);
                if self.rng.chance(15) {
                    let flipped = match op {
                        "gt" => "lt",
                        "lt" => "gt",
                        "ge" => "le",
                        "le" => "ge",
                        other => other,
                    };
                    format!("{lit} {} {lhs}", self.kw(flipped))
                } else {
                    format!("{lhs} {} {lit}", self.kw(op))
                }
            }
            // null
            34..=39 => {
                let o = self.operand(lam);
                let op = *self.rng.pick(&["eq", "ne"]);
                let lhs = self.render(o);
                if self.rng.chance(20) { format!("null {op} {lhs}") } else { format!("{lhs} {} null", self.kw(op)) }
            }
            // in (...)
            40..=48 => {
                let o = self.operand(lam);
                let n = 1 + self.rng.below(5);
                let sep = if self.rng.chance(50) { ", " } else { "," };
                let values: Vec<String> = (0..n).map(|_| self.literal(o)).collect();
                let lhs = self.render(o);
                format!("{lhs} {} ({})", self.kw("in"), values.join(sep))
            }
            // startswith / endswith / contains
            49..=62 => match self.textual_operand(lam) {
                Some(o) => {
                    let kind = *self.rng.pick(&["startswith", "endswith", "contains"]);
                    let pattern = self.pattern(o, kind);
                    let name = match (kind, self.rng.below(4)) {
                        ("startswith", 0) => "startsWith".to_owned(),
                        ("endswith", 0) => "endsWith".to_owned(),
                        (k, 1) => k.to_uppercase(),
                        (k, _) => k.to_owned(),
                    };
                    let lhs = self.render(o);
                    let sp = if self.rng.chance(50) { " " } else { "" };
                    format!("{name}({lhs},{sp}{pattern})")
                }
                None => "true".to_owned(),
            },
            // Boolean properties as conditions
            63..=67 => {
                let f = *self.rng.pick(&["isInteractive", "deviceDetail/isCompliant", "deviceDetail/isManaged"]);
                match self.rng.below(4) {
                    0 => f.to_owned(),
                    1 => format!("{} {f}", self.kw("not")),
                    2 => format!("{f} eq {}", self.rng.pick(&["true", "false"])),
                    _ => format!("{f} ne {}", self.rng.pick(&["true", "false"])),
                }
            }
            // property op property
            68..=73 => {
                let a = self.operand(lam);
                let mut b = self.operand(lam);
                for _ in 0..40 {
                    let (ta, tb) = (a.ty(), b.ty());
                    if (ta.is_textual() && tb.is_textual()) || (ta.is_numeric() && tb.is_numeric()) || ta == tb {
                        break;
                    }
                    b = self.operand(lam);
                }
                let op = self.op(a.ty());
                let (l, r) = (self.render(a), self.render(b));
                format!("{l} {} {r}", self.kw(op))
            }
            74..=75 => (*self.rng.pick(&["true", "false"])).to_owned(),
            // has on an enum
            76..=77 => {
                let o = Opnd { base: Base::Field(field("riskState")), fun: None };
                let lit = self.literal(o);
                format!("riskState {} {lit}", self.kw("has"))
            }
            // lambdas, nested up to three deep: over the entity's collections, or over a
            // collection inside an enclosing lambda variable's element
            _ if lam.len < 3 && (lam.is_empty() || self.rng.chance(60)) => {
                let nested: Vec<(Lambda, &'static CollectionField)> =
                    lam.iter().flat_map(|l| l.coll.nested.iter().map(move |n| (l, n))).collect();
                let (coll, path) = if !nested.is_empty() && self.rng.chance(60) {
                    let (outer, n) = *self.rng.pick(&nested);
                    (n, format!("{}/{}", outer.var, self.path_text(n.path)))
                } else {
                    let c = self.rng.pick(SIGN_INS.collections);
                    (c, self.path_text(c.path))
                };
                let var = loop {
                    let v = *self.rng.pick(VARS);
                    if !lam.uses(v) {
                        break v;
                    }
                };
                if self.rng.chance(12) {
                    format!("{path}/{}()", self.kw("any"))
                } else {
                    let kind = if self.rng.chance(55) { "any" } else { "all" };
                    let inner_depth = u32::try_from(self.rng.below(3)).unwrap();
                    let inner = self.cond(inner_depth, lam.with(Lambda { var, coll }));
                    let sp = if self.rng.chance(70) { " " } else { "" };
                    format!("{path}/{}({var}:{sp}{inner})", self.kw(kind))
                }
            }
            _ => {
                let o = self.operand(lam);
                let op = self.op(o.ty());
                let lit = self.literal(o);
                let lhs = self.render(o);
                format!("{lhs} {op} {lit}")
            }
        };
        if lam.is_empty() {
            self.leaves.push(text.clone());
        }
        text
    }

    /// `appliedConditionalAccessPolicies/any(p: p/result eq 'failure')` (alone or with further
    /// conditions), `riskLevelDuringSignIn ne 'none'`, or `in` on a property with an equality index.
    fn index_shape(&mut self, lam: Lams) -> String {
        match self.rng.below(3) {
            0 => {
                let var = loop {
                    let v = *self.rng.pick(VARS);
                    if !lam.uses(v) {
                        break v;
                    }
                };
                let path = self.path_text("appliedConditionalAccessPolicies");
                let result = case_variant(&mut self.rng, "failure");
                let eq = format!("{var}/result {} '{result}'", self.kw("eq"));
                let cond = match self.rng.below(4) {
                    0 => format!("{var}/displayName ne null {} {eq}", self.kw("and")),
                    1 => format!("{eq} {} startswith({var}/displayName, 'r')", self.kw("and")),
                    _ => eq,
                };
                format!("{path}/{}({var}: {cond})", self.kw("any"))
            }
            1 => {
                let none = case_variant(&mut self.rng, "none");
                format!("{} {} '{none}'", self.path_text("riskLevelDuringSignIn"), self.kw("ne"))
            }
            _ => {
                let path = *self.rng.pick(&[
                    "userId",
                    "userPrincipalName",
                    "appId",
                    "appDisplayName",
                    "ipAddress",
                    "clientAppUsed",
                    "correlationId",
                    "status/errorCode",
                    "riskLevelDuringSignIn",
                ]);
                let o = Opnd { base: Base::Field(field(path)), fun: None };
                let n = 2 + self.rng.below(4);
                let values: Vec<String> = (0..n).map(|_| self.literal(o)).collect();
                let lhs = self.render(o);
                format!("{lhs} {} ({})", self.kw("in"), values.join(","))
            }
        }
    }

    fn child(&mut self, depth: u32, lam: Lams) -> String {
        let c = self.cond(depth, lam);
        if self.rng.chance(50) { format!("({c})") } else { c }
    }

    fn cond(&mut self, depth: u32, lam: Lams) -> String {
        if depth == 0 || self.rng.chance(30) {
            return self.leaf(lam);
        }
        let d = depth - 1;
        match self.rng.below(10) {
            0..=3 => {
                let (a, b) = (self.child(d, lam), self.child(d, lam));
                format!("{a} {} {b}", self.kw("and"))
            }
            4..=6 => {
                let (a, b) = (self.child(d, lam), self.child(d, lam));
                format!("{a} {} {b}", self.kw("or"))
            }
            7..=8 => {
                let a = self.cond(d, lam);
                let not = self.kw("not");
                if self.rng.chance(50) { format!("{not} ({a})") } else { format!("{not}({a})") }
            }
            _ => format!("({})", self.cond(d, lam)),
        }
    }

    fn filter(&mut self) -> String {
        loop {
            self.leaves.clear();
            let depth = u32::try_from(self.rng.below(4)).unwrap();
            let f = self.cond(depth, Lams::default());
            if f.len() <= 3500 {
                return f;
            }
        }
    }

    fn orderby(&mut self) -> Option<String> {
        let sortable: Vec<&'static Field> = SIGN_INS.fields.iter().filter(|f| f.sortable).collect();
        let n = match self.rng.below(10) {
            0..=2 => 0,
            3..=7 => 1,
            _ => 2,
        };
        let mut chosen: Vec<&'static Field> = Vec::new();
        while chosen.len() < n {
            let f = *self.rng.pick(&sortable);
            if !chosen.iter().any(|c| c.path == f.path) {
                chosen.push(f);
            }
        }
        if chosen.is_empty() {
            return None;
        }
        let items: Vec<String> = chosen
            .iter()
            .map(|f| {
                let dir = *self.rng.pick(&["", " asc", " desc", " desc", " ASC", " DESC"]);
                format!("{}{dir}", self.path_text(f.path))
            })
            .collect();
        Some(items.join(","))
    }
}

// ---------------------------------------------------------------------------------------------
// 1. The property test
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Top {
    Default,
    Max,
    /// A small page size (at least a sixth of the result, so paging stays bounded).
    Small(usize),
}

struct Case {
    filter: Option<String>,
    leaves: Vec<String>,
    orderby: Option<String>,
    top: Top,
    select: Option<&'static str>,
    count: bool,
    dollar_count: bool,
}

#[derive(Default)]
struct Stats {
    cases: usize,
    refused: usize,
    refusals: BTreeMap<String, usize>,
    requests: usize,
    pages: usize,
    empty: usize,
    everything: usize,
    some: usize,
    counts_checked: usize,
    dollar_counts_checked: usize,
    paged: usize,
}

fn url_of(c: &Case, top: Option<usize>) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &c.filter {
        parts.push(format!("$filter={}", enc(f)));
    }
    if let Some(o) = &c.orderby {
        parts.push(format!("$orderby={}", enc(o)));
    }
    if let Some(t) = top {
        parts.push(format!("$top={t}"));
    }
    if let Some(s) = c.select {
        parts.push(format!("$select={}", enc(s)));
    }
    if c.count {
        parts.push("$count=true".to_owned());
    }
    format!("{LIST}?{}", parts.join("&"))
}

async fn run_case(fx: &Fixture, c: &Case, stats: &mut Stats) -> Result<(), String> {
    stats.cases += 1;
    let filter = match c.filter.as_deref().map(|f| resolve_filter(&SIGN_INS, f)) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            // The generator aims at valid filters; a refusal must be a 400 from the API too.
            stats.refused += 1;
            let why: String = e.message.chars().take(60).collect();
            *stats.refusals.entry(why).or_default() += 1;
            stats.requests += 1;
            let (s, b) = fx.app.get(&url_of(c, None), &fx.token).await;
            if s != StatusCode::BAD_REQUEST || b["error"]["code"] != "BadRequest" {
                return Err(format!("the oracle refuses it ({e}) but the API answered {s}: {}", short(&b)));
            }
            return Ok(());
        }
    };
    let keys = match c.orderby.as_deref().map(|o| resolve_orderby(&SIGN_INS, o)) {
        None => Vec::new(),
        Some(Ok(k)) => k,
        Some(Err(e)) => return Err(format!("generated $orderby refused by the oracle: {e}")),
    };
    let expected = oracle(&fx.docs, filter.as_ref(), &keys);
    let n = expected.len();
    match n {
        0 => stats.empty += 1,
        _ if n == fx.docs.len() => stats.everything += 1,
        _ => stats.some += 1,
    }
    let top = match c.top {
        Top::Default => None,
        Top::Max => Some(1000),
        Top::Small(k) => Some(k.max(n.div_ceil(6)).clamp(1, 1000)),
    };
    if top.is_some_and(|t| t < n) {
        stats.paged += 1;
    }
    let listing = fetch_all(&fx.app, &fx.token, &url_of(c, top)).await?;
    stats.requests += listing.pages;
    stats.pages += listing.pages;
    let want = ids(expected.iter().copied());
    let got = ids(&listing.docs);
    if want != got {
        return Err(describe_diff(&fx.docs, &want, &got));
    }
    match c.select {
        None => {
            if let Some(i) = expected.iter().zip(&listing.docs).position(|(e, g)| *e != g) {
                return Err(format!("document {} differs from the one listed unfiltered", id_of(expected[i])));
            }
        }
        Some(sel) => {
            let allowed: Vec<&str> = sel.split(',').collect();
            if let Some(d) = listing.docs.iter().find(|d| {
                d.as_object().is_none_or(|m| m.keys().any(|k| !allowed.contains(&k.as_str())) || !m.contains_key("id"))
            }) {
                return Err(format!("$select={sel} returned {}", short(d)));
            }
        }
    }
    if c.count {
        stats.counts_checked += 1;
        let want = i64::try_from(n).unwrap();
        if listing.counts.len() != listing.pages || listing.counts.iter().any(|&k| k != want) {
            return Err(format!("@odata.count per page {:?}, oracle {n}", listing.counts));
        }
    }
    if c.dollar_count {
        stats.dollar_counts_checked += 1;
        stats.requests += 1;
        let url = match &c.filter {
            Some(f) => format!("{LIST}/$count?$filter={}", enc(f)),
            None => format!("{LIST}/$count"),
        };
        let (s, b) = fx.app.get(&url, &fx.token).await;
        if s != StatusCode::OK || b != json!(n) {
            return Err(format!("/$count answered {s} {b}, oracle {n}"));
        }
    }
    Ok(())
}

/// For a failing case: which of its top-level conditions fail on their own.
async fn narrow_down(fx: &Fixture, leaves: &[String]) -> String {
    let mut out = String::new();
    let mut seen = HashSet::new();
    for leaf in leaves.iter().filter(|l| seen.insert(l.as_str())) {
        match both(fx, leaf).await {
            Ok((e, g)) if e != g => {
                let _ = write!(out, "\n    on its own, {leaf}\n      {}", describe_diff(&fx.docs, &e, &g));
            }
            Ok(_) => {}
            Err(e) => {
                let _ = write!(out, "\n    on its own, {leaf}: {e}");
            }
        }
    }
    if out.is_empty() { "\n    (no single condition fails on its own)".to_owned() } else { out }
}

pub(crate) fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

#[actix_web::test]
async fn random_filters_and_orders_return_the_oracles_rows() {
    let seed = env_number("IDTRAIL_ORACLE_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_number("IDTRAIL_ORACLE_CASES").map_or(DEFAULT_CASES, |n| usize::try_from(n).unwrap());
    eprintln!("oracle property test: seed {seed} (override with IDTRAIL_ORACLE_SEED), {cases} cases per backend");
    each_backend_collecting(move |app| async move {
        let backend = app.db.backend;
        let setup = Instant::now();
        let fx = fixture(app).await;
        let setup = setup.elapsed();
        // Literals come from the data; the edge documents count four times, so that their corners
        // (case, wildcards, whitespace, empty values) come up often.
        let mut pool = fx.docs.clone();
        for _ in 0..3 {
            pool.extend(edge_documents());
        }
        let samples = Samples::new(&pool);
        let mut g = Gen { rng: Rng(seed), samples: &samples, leaves: Vec::new() };
        let mut stats = Stats::default();
        let mut failures: Vec<String> = Vec::new();
        let started = Instant::now();
        for i in 0..cases {
            let filter = if g.rng.chance(97) { Some(g.filter()) } else { None };
            let leaves = std::mem::take(&mut g.leaves);
            let orderby = g.orderby();
            let top = match g.rng.below(10) {
                0..=3 => Top::Default,
                4..=7 => Top::Max,
                _ => Top::Small(1 + g.rng.below(60)),
            };
            let select = match g.rng.below(10) {
                0..=7 => Some("id"),
                8 => Some("id,createdDateTime,userPrincipalName"),
                _ => None,
            };
            let case =
                Case { filter, leaves, orderby, top, select, count: g.rng.chance(30), dollar_count: g.rng.chance(15) };
            if i < 5 {
                eprintln!(
                    "[{backend}] e.g. $filter={} $orderby={}",
                    case.filter.as_deref().unwrap_or("(none)"),
                    case.orderby.as_deref().unwrap_or("(none)")
                );
            }
            if let Err(why) = run_case(&fx, &case, &mut stats).await {
                let narrowed = narrow_down(&fx, &case.leaves).await;
                let msg = format!(
                    "[{backend}] case {i} (seed {seed})\n  $filter={}\n  $orderby={}\n  {why}{narrowed}",
                    case.filter.as_deref().unwrap_or("(none)"),
                    case.orderby.as_deref().unwrap_or("(none)"),
                );
                eprintln!("MISMATCH {msg}");
                failures.push(msg);
            }
        }
        let elapsed = started.elapsed();
        eprintln!(
            "[{backend}] {} cases in {elapsed:.1?} (setup {setup:.1?}, {} documents): {} refused by the validator, \
             {} requests, {} pages, {} paged with a small $top; results: {} empty, {} partial, {} everything; \
             {} @odata.count and {} /$count checked; {} mismatches",
            stats.cases,
            fx.docs.len(),
            stats.refused,
            stats.requests,
            stats.pages,
            stats.paged,
            stats.empty,
            stats.some,
            stats.everything,
            stats.counts_checked,
            stats.dollar_counts_checked,
            failures.len(),
        );
        if !stats.refusals.is_empty() {
            eprintln!("[{backend}] refusals: {:?}", stats.refusals);
        }
        assert!(
            stats.refused * 20 <= stats.cases,
            "the generator should make valid filters: {} of {} refused",
            stats.refused,
            stats.cases
        );
        assert!(stats.some * 3 >= stats.cases, "too few cases select some but not all rows: {}", stats.some);
        if failures.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} of {} cases disagree with the oracle on {backend}; the first ones:\n{}",
            failures.len(),
            stats.cases,
            failures.iter().take(8).cloned().collect::<Vec<_>>().join("\n")
        )]
    })
    .await;
}

/// Hand-picked filters at the corners the edge documents were made for (whitespace, unicode,
/// doubles, time parts, empty strings and collections, case, null members, document-sourced
/// properties, two properties compared); each must return the oracle's rows.
#[actix_web::test]
async fn corner_filters_return_the_oracles_rows() {
    each_backend_collecting(|app| async move {
        let fx = fixture(app).await;
        let upper_id = guid(999_999);
        let mut filters: Vec<String> = [
            "trim(userDisplayName) eq 'padded'",
            // nested lambdas (issue 20): the issue's question, outer variables inside, three deep
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'Mfa') and p/result eq \
             'failure')",
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'mfa'))",
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/all(g: g eq 'mfa'))",
            "appliedConditionalAccessPolicies/all(p: p/enforcedGrantControls/any())",
            "appliedConditionalAccessPolicies/any(p: p/enforcedSessionControls/any(x: startswith(x, 'sign')))",
            "appliedConditionalAccessPolicies/any(p: appliedConditionalAccessPolicies/all(q: q/result eq p/result))",
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: \
             appliedConditionalAccessPolicies/any(q: q/id ne p/id and q/displayName ne g)))",
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: riskEventTypes_v2/any(t: \
             t ne g and p/result eq 'success')))",
            "riskEventTypes/all(t: riskEventTypes_v2/any(u: u eq t))",
            "not appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g eq 'block'))",
            // BUG (fails on both backends): the oracle trims with Rust's `str::trim` (every
            // Unicode White_Space, so the tabs of "tab\tinside\t"), SQL's trim() only spaces.
            "trim(userDisplayName) eq 'tab\tinside'",
            "length(trim(userDisplayName)) eq 10",
            "endswith(trim(userDisplayName),'inside')",
            "trim(appDisplayName) eq 'azure portal'",
            "location/geoCoordinates/latitude eq 1e-7",
            "location/geoCoordinates/latitude eq 0.0000001",
            "location/geoCoordinates/latitude eq 41",
            "location/geoCoordinates/altitude eq 0",
            "location/geoCoordinates/latitude lt 0",
            "location/geoCoordinates/longitude le -180",
            "status/errorCode eq 50126.0",
            "status/errorCode lt 50126.5",
            "status/errorCode eq 2147483647",
            "status/errorCode eq -1",
            "status/errorCode lt 0",
            "userDisplayName eq 'zoë müller'",
            "startswith(userDisplayName,'ZOË')",
            "userDisplayName eq 'åsa öberg'",
            "contains(appDisplayName,'σίσυφος')",
            "startswith(appDisplayName,'ΣΊΣ')",
            "location/city eq 'İstanbul'",
            "location/city eq 'MÜNCHEN'",
            "length(location/city) eq 9",
            "startswith(location/city,'sã')",
            "userDisplayName gt 'z'",
            "userDisplayName lt 'a'",
            "createdDateTime eq 2025-03-10T10:00:00.5Z",
            "createdDateTime eq 2025-03-10T12:00:00.5+02:00",
            "date(createdDateTime) eq 2025-03-15",
            "date(createdDateTime) eq 2025-03-16",
            "day(createdDateTime) eq 15 and hour(createdDateTime) eq 21",
            "month(createdDateTime) eq 2",
            "createdDateTime lt 2025-03-01",
            "second(createdDateTime) eq 59 and minute(createdDateTime) eq 59",
            "year(createdDateTime) eq 2025",
            "appId eq 'de8bc8b5-d9f9-48b1-a8ad-b748da725064'",
            "appId eq DE8BC8B5-D9F9-48B1-A8AD-B748DA725064",
            "appId eq ''",
            "userDisplayName eq ''",
            "length(userDisplayName) eq 0",
            "startswith(userDisplayName,'')",
            "contains(ipAddress,'')",
            "ipAddress eq '2001:db8::1'",
            "riskEventTypes_v2/any(t: t eq '')",
            "riskEventTypes_v2/any(t: length(t) eq 0)",
            "riskEventTypes_v2/any(t: contains(t, '%'))",
            "riskEventTypes_v2/any(t: contains(t, '_'))",
            "riskEventTypes_v2/all(t: startswith(t,'unfamiliar'))",
            "riskEventTypes/any(t: t eq 'unlikelyTravel')",
            "riskEventTypes/all(t: t eq 'unlikelyTravel')",
            "riskEventTypes/any()",
            "not riskEventTypes/any()",
            "appliedConditionalAccessPolicies/any(p: p/result eq null)",
            "appliedConditionalAccessPolicies/any(p: p/displayName eq null)",
            "appliedConditionalAccessPolicies/all(p: p/result ne 'failure')",
            "appliedConditionalAccessPolicies/all(p: p/result eq 'failure')",
            "appliedConditionalAccessPolicies/any(p: p/id eq 'abc-policy')",
            "appliedConditionalAccessPolicies/any(p: p/displayName eq userDisplayName)",
            "appliedConditionalAccessPolicies/any(p: tolower(p/displayName) eq 'require mfa for admins')",
            "appliedConditionalAccessPolicies/any(p: p/result in ('failure', 'reportOnlyFailure'))",
            "appliedConditionalAccessPolicies/any()",
            "conditionalAccessStatus eq 'failure'",
            "riskState eq 'atRisk'",
            "riskState ne 'atRisk'",
            "riskState in ('atRisk', 'none')",
            "riskState eq null",
            "riskLevelAggregated eq 'hidden'",
            "deviceDetail/isCompliant",
            "not deviceDetail/isCompliant",
            "deviceDetail/isCompliant eq false",
            "deviceDetail/isCompliant ne true",
            "deviceDetail/isCompliant eq deviceDetail/isManaged",
            "isInteractive eq deviceDetail/isManaged",
            "deviceDetail/isCompliant eq null",
            "status/failureReason eq 'other.'",
            "contains(status/failureReason,'100%')",
            "contains(status/failureReason,'\\')",
            "startswith(status/failureReason,'invalid_')",
            "status/failureReason gt 'M'",
            "length(status/failureReason) gt 5",
            "trim(status/failureReason) eq 'other.'",
            "deviceDetail/displayName eq 'laptop-o''neil_%'",
            "deviceDetail/trustType eq '_'",
            "endswith(deviceDetail/displayName, '_%')",
            "homeTenantId eq 'b4c9f32e-2a6d-4c8e-9f1a-7d3e5c2b8a61'",
            "homeTenantId eq ''",
            "authenticationAppDeviceDetails/clientApp eq 'MICROSOFT AUTHENTICATOR'",
            "userDisplayName eq userPrincipalName",
            "userDisplayName ne userPrincipalName",
            "userDisplayName gt userPrincipalName",
            "location/city eq location/state",
            "riskLevelAggregated eq riskLevelDuringSignIn",
            "length(userDisplayName) gt length(appDisplayName)",
            "createdDateTime eq date(createdDateTime)",
            "status/errorCode gt location/geoCoordinates/latitude",
            "userPrincipalName eq 'alice@contoso.com'",
            "userPrincipalName in ('ALICE@contoso.com', 'bob@CONTOSO.com')",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        filters.push(format!("id eq '{upper_id}'"));
        filters.push(format!("id eq '{}'", upper_id.to_uppercase()));
        // Every double in the data set, as serde_json reads and writes it, compared for equality.
        // BUG (fails on both backends until serde_json parses exactly, feature `float_roundtrip`):
        // the default parser reads some texts one ULP off (the stored 45.515201568603516 as
        // 45.51520156860352), so the oracle, which sees the parsed document, and the databases,
        // which read the stored text exactly, disagree. See `doubles_keep_their_exact_value`.
        let mut doubles: Vec<(String, String)> = Vec::new();
        for d in &fx.docs {
            for path in ["location/geoCoordinates/latitude", "location/geoCoordinates/longitude"] {
                if let Some(v) = at_path(d, path).filter(|v| v.is_f64()) {
                    doubles.push((path.to_owned(), v.to_string()));
                }
            }
        }
        doubles.sort();
        doubles.dedup();
        filters.extend(doubles.iter().map(|(p, v)| format!("{p} eq {v}")));
        let mut failures = Vec::new();
        for f in &filters {
            match both(&fx, f).await {
                Ok((e, g)) if e != g => failures.push(format!("{f}\n    {}", describe_diff(&fx.docs, &e, &g))),
                Ok(_) => {}
                Err(e) => failures.push(format!("{f}: {e}")),
            }
        }
        if failures.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "[{}] {} of {} corner filters disagree with the oracle:\n  {}",
            fx.app.db.backend,
            failures.len(),
            filters.len(),
            failures.join("\n  ")
        )]
    })
    .await;
}

/// The filters storage answers from `sign_ins.ca_failed`, a partial index, or a merge of index
/// ranges (issue 20) return the oracle's rows, in order, on one page and across small pages (the
/// keyset cursor runs inside every merged range).
#[actix_web::test]
async fn index_shaped_filters_return_the_oracles_rows() {
    each_backend_collecting(|app| async move {
        let fx = fixture(app).await;
        let mut seen = HashSet::new();
        let users: Vec<String> = fx
            .docs
            .iter()
            .filter_map(|d| d["userId"].as_str().map(str::to_owned))
            .filter(|u| seen.insert(u.clone()))
            .take(4)
            .collect();
        let (a, b, c) = (&users[0], &users[1], &users[2]);
        let upper = b.to_uppercase();
        let ca = "appliedConditionalAccessPolicies";
        let filters = [
            format!("{ca}/any(p: p/result eq 'failure')"),
            format!("{ca}/any(p: p/result eq 'Failure')"),
            format!("not {ca}/any(p: p/result eq 'failure')"),
            format!("{ca}/any(p: p/result eq 'failure' and p/displayName ne null)"),
            format!("{ca}/any(p: p/enforcedGrantControls/any(g: g eq 'Mfa') and p/result eq 'failure')"),
            format!("{ca}/any(p: p/result eq 'failure') or userId eq '{a}'"),
            format!("riskEventTypes_v2/any(t: {ca}/any(p: p/result eq 'failure'))"),
            format!("{ca}/any(p: {ca}/any(q: p/result eq 'failure'))"),
            format!("{ca}/all(p: p/result eq 'failure')"),
            "riskLevelDuringSignIn ne 'none'".to_owned(),
            "not (riskLevelDuringSignIn ne 'none')".to_owned(),
            "riskLevelDuringSignIn ne 'none' and isInteractive".to_owned(),
            format!("userId in ('{a}', '{b}', '{c}')"),
            format!("userId in ('{a}', '{upper}', '{a}')"),
            format!("userId in ('{a}', '{b}') and status/errorCode ne 0"),
            format!("createdDateTime ge 2025-03-01 and userId in ('{a}', '{c}') and riskLevelDuringSignIn ne 'none'"),
            format!("userId in ('{a}', '{b}') or userId eq '{c}'"),
            format!("not (userId in ('{a}', '{b}'))"),
            format!("userId in ('{a}', 'not-a-user')"),
            "status/errorCode in (0, 50126, 50074)".to_owned(),
            "appDisplayName in ('Graph Explorer', 'Microsoft Teams', 'GRAPH EXPLORER')".to_owned(),
            "riskLevelDuringSignIn in ('high', 'medium') and riskLevelDuringSignIn ne 'none'".to_owned(),
        ];
        let mut failures = Vec::new();
        for f in &filters {
            match both(&fx, f).await {
                Ok((e, g)) if e != g => failures.push(format!("{f}\n    {}", describe_diff(&fx.docs, &e, &g))),
                Ok((e, _)) => {
                    // Pages of 3: every page's keyset runs inside each merged range.
                    let resolved = resolve_filter(&SIGN_INS, f).unwrap();
                    let want = ids(oracle(&fx.docs, Some(&resolved), &[]));
                    assert_eq!(want, e);
                    let url = format!("{LIST}?$filter={}&$top=3&$select=id", enc(f));
                    match fetch_all(&fx.app, &fx.token, &url).await {
                        Ok(l) if ids(&l.docs) != want => failures
                            .push(format!("{f} in pages of 3\n    {}", describe_diff(&fx.docs, &want, &ids(&l.docs)))),
                        Ok(_) => {}
                        Err(e) => failures.push(format!("{f} in pages of 3: {e}")),
                    }
                }
                Err(e) => failures.push(format!("{f}: {e}")),
            }
        }
        let matched = |f: &str| {
            let resolved = resolve_filter(&SIGN_INS, f).unwrap();
            oracle(&fx.docs, Some(&resolved), &[]).len()
        };
        // The data set has rows of each shape, or these cases would prove nothing.
        for f in [&filters[0], &filters[9], &filters[12]] {
            let n = matched(f);
            assert!(n > 3 && n < fx.docs.len(), "{f} matches {n} of {} rows", fx.docs.len());
        }
        if failures.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "[{}] index-shaped filters disagree with the oracle:\n  {}",
            fx.app.db.backend,
            failures.join("\n  ")
        )]
    })
    .await;
}

/// A GET whose body is returned as text, so that numbers are seen exactly as served.
async fn raw_get(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let svc = actix_web::test::init_service(api::app(app.state.clone())).await;
    let req = actix_web::test::TestRequest::get()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let res = actix_web::test::call_service(&svc, req).await;
    let status = res.status();
    let body = actix_web::test::read_body(res).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn raw_ids(body: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    ids(v["value"].as_array().unwrap())
}

/// A double is served, filtered and projected with exactly the value the producer sent.
/// `45.515201568603516` is the shortest text of its double; serde_json's default (not
/// `float_roundtrip`) parser reads it one ULP off, as `45.51520156860352`.
#[actix_web::test]
async fn doubles_keep_their_exact_value() {
    each_backend_collecting(|app| async move {
        let fx = fixture(app).await;
        let backend = fx.app.db.backend;
        let mut problems = Vec::new();
        let text = "45.515201568603516";
        let needle = format!("\"latitude\":{text}");
        let filter = format!(
            "{LIST}?$filter={}&$select=id&$top=1000",
            enc(&format!("location/geoCoordinates/latitude eq {text}"))
        );
        let near = |body: &str| -> String {
            let served: Vec<&str> = body
                .match_indices("\"latitude\":45.515")
                .filter_map(|(at, _)| body[at..].split([',', '}']).next())
                .take(2)
                .collect();
            served.join(" ")
        };

        // The demo documents are stored exactly as generated (no JSON parse on that path).
        let (s, full) = raw_get(&fx.app, &format!("{LIST}?$top=1000"), &fx.token).await;
        assert_eq!(s, StatusCode::OK);
        let stored = full.matches(&needle).count();
        assert!(stored > 0, "the demo data set has no latitude {text}");

        // Filtering on the exact value finds them: both databases read the stored text exactly.
        let (_, body) = raw_get(&fx.app, &filter, &fx.token).await;
        assert_eq!(raw_ids(&body).len(), stored, "[{backend}] {body}");

        // BUG: $select re-serialises the stored document through serde_json, whose default
        // parser reads the double one ULP off: `$select=id,location` serves 45.51520156860352.
        let (_, projected) = raw_get(&fx.app, &format!("{LIST}?$top=1000&$select=id,location"), &fx.token).await;
        if projected.matches(&needle).count() != stored {
            problems
                .push(format!("[{backend}] $select=id,location changes latitude {text}: serves {}", near(&projected)));
        }

        // BUG: ingest parses each record with serde_json and stores its re-serialisation, so
        // the value a producer sent is stored one ULP off, served as 45.51520156860352, and a
        // filter on the value sent does not find the record.
        let mut doc = sign_in_doc(77, anchor() - Duration::hours(1), USER_OID);
        doc["location"]["geoCoordinates"]["latitude"] = json!(45.515_201_568_603_516_f64);
        assert!(doc.to_string().contains(&needle), "the test sends the exact text");
        let (s, b) = fx.app.ingest(&ingest_token(contoso()), std::slice::from_ref(&doc)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let id = doc["id"].as_str().unwrap().to_owned();
        let (_, one) = raw_get(&fx.app, &format!("{LIST}/{id}"), &fx.token).await;
        if !one.contains(&needle) {
            problems.push(format!("[{backend}] ingest of latitude {text} stores {}", near(&one)));
        }
        let (_, body) = raw_get(&fx.app, &filter, &fx.token).await;
        if !raw_ids(&body).contains(&id) {
            problems.push(format!(
                "[{backend}] $filter=location/geoCoordinates/latitude eq {text} misses the record ingested with it"
            ));
        }
        problems
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 2. Documented Graph filters
// ---------------------------------------------------------------------------------------------

/// The first value at `path` in the data set that `ok` accepts.
fn value_at(docs: &[Value], path: &str, ok: impl Fn(&str) -> bool) -> String {
    docs.iter()
        .filter_map(|d| at_path(d, path).and_then(Value::as_str))
        .find(|s| ok(s))
        .unwrap_or_else(|| panic!("no value for {path} in the data set"))
        .to_owned()
}

fn plain(s: &str) -> bool {
    !s.is_empty() && s.is_ascii() && !s.contains(['\'', '%', '_', '\\'])
}

fn prefix(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[actix_web::test]
async fn documented_graph_filters_return_the_oracles_rows() {
    each_backend(|app| async move {
        let fx = fixture(app).await;
        let d = &fx.docs;
        let any = |_: &str| true;
        let id = value_at(d, "id", any);
        let created = value_at(d, "createdDateTime", |s| s.ends_with('Z') && s.len() == 28);
        let middle = from_ticks(to_ticks(anchor()) - 10 * TICKS_PER_DAY).format("%Y-%m-%d").to_string();
        let early = from_ticks(to_ticks(anchor()) - 20 * TICKS_PER_DAY).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let user_name = value_at(d, "userDisplayName", plain);
        let upn = value_at(d, "userPrincipalName", plain);
        let user_id = value_at(d, "userId", any);
        let app_id = value_at(d, "appId", |s| !s.is_empty());
        let ip = value_at(d, "ipAddress", |s| s.contains('.'));
        let correlation = value_at(d, "correlationId", |s| !s.is_empty());
        let city = value_at(d, "location/city", plain);
        let state = value_at(d, "location/state", plain);
        let country = value_at(d, "location/countryOrRegion", plain);
        let browser = value_at(d, "deviceDetail/browser", plain);
        let os = value_at(d, "deviceDetail/operatingSystem", plain);
        let at_risk_user = d
            .iter()
            .find(|x| x["riskState"].as_str().is_some_and(|s| s.eq_ignore_ascii_case("atRisk")))
            .map(|x| x["userId"].as_str().unwrap().to_owned())
            .expect("an atRisk sign-in");
        let risk_detail = value_at(d, "riskDetail", any);
        let risk_aggregated = value_at(d, "riskLevelAggregated", any);
        let risk_during = value_at(d, "riskLevelDuringSignIn", |s| s != "none");
        let Some(Element::Primitive { ty: ValueType::Enum { members, .. }, .. }) =
            SIGN_INS.collection("riskEventTypes").map(|c| c.element)
        else {
            panic!("riskEventTypes is a collection of an enum")
        };
        let risk_event = d
            .iter()
            .filter_map(|x| x["riskEventTypes"].as_array())
            .flatten()
            .filter_map(Value::as_str)
            .find(|s| members.contains(s))
            .expect("a risk event type")
            .to_owned();
        let resource = value_at(d, "resourceDisplayName", plain);
        let sp_id = value_at(d, "servicePrincipalId", |s| !s.is_empty());
        let user_agent = value_at(d, "userAgent", |s| s.starts_with("Mozilla"));

        // (filter, must select at least one row)
        let cases: Vec<(String, bool)> = vec![
            (format!("id eq '{id}'"), true),
            (format!("createdDateTime eq {created}"), true),
            ("createdDateTime le 2018-01-24".into(), false),
            (format!("createdDateTime le {middle}"), true),
            (format!("createdDateTime ge {middle}"), true),
            (format!("createdDateTime ge {early} and createdDateTime le {middle}"), true),
            (format!("userDisplayName eq {}", quote(&user_name)), true),
            (format!("startswith(userDisplayName,{})", quote(&prefix(&user_name, 3))), true),
            ("userDisplayName eq 'O''Brien'".into(), true),
            (format!("userPrincipalName eq {}", quote(&upn)), true),
            (format!("startswith(userPrincipalName,{})", quote(&prefix(&upn, 4))), true),
            (format!("userId eq '{user_id}'"), true),
            (format!("appId eq '{app_id}'"), true),
            ("appDisplayName eq 'Graph Explorer'".into(), true),
            ("startswith(appDisplayName,'Graph')".into(), true),
            ("startsWith(appDisplayName,'Azure')".into(), true),
            (format!("ipAddress eq '{ip}'"), true),
            (format!("startswith(ipAddress,'{}')", prefix(&ip, 4)), true),
            (format!("location/city eq {}", quote(&city)), true),
            (format!("startswith(location/city,{})", quote(&prefix(&city, 3))), true),
            (format!("location/state eq {}", quote(&state)), true),
            (format!("startswith(location/state,{})", quote(&prefix(&state, 2))), true),
            (format!("location/countryOrRegion eq {}", quote(&country)), true),
            (format!("startswith(location/countryOrRegion,{})", quote(&prefix(&country, 1))), true),
            ("status/errorCode eq 50126".into(), true),
            ("status/errorCode eq 0".into(), true),
            ("clientAppUsed eq 'Browser'".into(), true),
            ("conditionalAccessStatus eq 'success'".into(), true),
            ("conditionalAccessStatus eq 'failure'".into(), true),
            ("conditionalAccessStatus eq 'notApplied'".into(), true),
            (format!("deviceDetail/browser eq {}", quote(&browser)), true),
            ("startswith(deviceDetail/browser,'Edge')".into(), true),
            (format!("deviceDetail/operatingSystem eq {}", quote(&os)), true),
            ("startswith(deviceDetail/operatingSystem,'Windows')".into(), true),
            (format!("correlationId eq '{correlation}'"), true),
            ("riskState eq 'atRisk'".into(), true),
            (format!("userID eq '{at_risk_user}' and riskState eq 'atRisk'"), true),
            (format!("riskDetail eq '{risk_detail}'"), true),
            (format!("riskLevelAggregated eq '{risk_aggregated}'"), true),
            (format!("riskLevelDuringSignIn eq '{risk_during}'"), true),
            (format!("riskLevelDuringSignIn eq microsoft.graph.riskLevel'{risk_during}'"), true),
            (format!("riskEventTypes/any(t: t eq '{risk_event}')"), true),
            ("riskEventTypes_v2/any(t: t eq 'unfamiliarFeatures')".into(), true),
            ("riskEventTypes_v2/any(t: startswith(t, 'unfamiliar'))".into(), true),
            (format!("resourceDisplayName eq {}", quote(&resource)), true),
            ("resourceId eq '00000003-0000-0000-c000-000000000000'".into(), true),
            (format!("servicePrincipalId eq '{sp_id}'"), true),
            ("servicePrincipalName eq 'SP_Name%'".into(), true),
            ("startswith(servicePrincipalName,'SP_')".into(), true),
            (format!("userAgent eq {}", quote(&user_agent)), true),
            ("startswith(userAgent,'Mozilla')".into(), true),
            ("appliedConditionalAccessPolicies/any(p: p/result eq 'failure')".into(), true),
            ("appliedConditionalAccessPolicies/any(p: startswith(p/displayName, 'Require'))".into(), true),
        ];
        for (filter, nonempty) in &cases {
            let n = expect_oracle(&fx, filter).await;
            assert!(!nonempty || n > 0, "[{}] {filter} selects nothing in the data set", fx.app.db.backend);
        }

        // The documented request URLs, as written (`?&`, `top` without `$`, `$orderBy`).
        for (url, filter) in [
            (
                "/v1.0/auditLogs/signIns?&$filter=startsWith(appDisplayName,'Graph')&top=10",
                "startsWith(appDisplayName,'Graph')",
            ),
            (
                "/beta/auditLogs/signins?&$filter=startsWith(appDisplayName,'Azure')&top=10",
                "startsWith(appDisplayName,'Azure')",
            ),
            (
                "/beta/auditLogs/signins?&$filter=startsWith(appDisplayName,'Azure')&$top=10",
                "startsWith(appDisplayName,'Azure')",
            ),
            ("/v1.0/auditLogs/signIns?&$filter=createdDateTime%20le%202018-01-24", "createdDateTime le 2018-01-24"),
            (
                "/v1.0/auditLogs/signIns?$filter=riskState%20eq%20'atRisk'&$orderBy=createdDateTime%20DESC&$top=10",
                "riskState eq 'atRisk'",
            ),
        ] {
            let (s, first) = fx.app.get(url, &fx.token).await;
            assert_eq!(s, StatusCode::OK, "{url}: {first}");
            assert!(first["value"].as_array().unwrap().len() <= 10, "{url}");
            if let Some(next) = first["@odata.nextLink"].as_str() {
                assert!(next.contains("$top=10"), "{next}");
            }
            let all = fetch_all(&fx.app, &fx.token, url).await.unwrap();
            let resolved = resolve_filter(&SIGN_INS, filter).unwrap();
            let want = ids(oracle(&fx.docs, Some(&resolved), &[]));
            let got = ids(&all.docs);
            assert!(want == got, "{url}\n  {}", describe_diff(&fx.docs, &want, &got));
        }
        let (s, b) = fx.app.get("/v1.0/auditLogs/signIns?$top=1", &fx.token).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["value"].as_array().unwrap().len(), 1);
        assert_eq!(id_of(&b["value"][0]), ids(oracle(&fx.docs, None, &[]))[0]);

        // `createdDateTime` orders both ways, as documented.
        for (orderby, desc) in
            [("createdDateTime", false), ("createdDateTime asc", false), ("createdDateTime desc", true)]
        {
            let all = fetch_all(&fx.app, &fx.token, &format!("{LIST}?$orderby={}&$top=97&$select=id", enc(orderby)))
                .await
                .unwrap();
            let keys = vec![SortKey { field: field("createdDateTime"), descending: desc }];
            let want = ids(oracle(&fx.docs, None, &keys));
            let got = ids(&all.docs);
            assert!(want == got, "$orderby={orderby}\n  {}", describe_diff(&fx.docs, &want, &got));
        }

        // GAP: the documented beta example filters on signInEventTypes, a beta-only property the
        // (v1.0) registry does not have, so it is refused. Until beta filters are served, require
        // a precise 400 that names the property, never a 500; then assert the oracle's rows here.
        let url = "/beta/auditLogs/signins?&$filter=(signInEventTypes/any(t:%20t%20ne%20'interactiveUser'))\
                   &$orderBy=createdDateTime%20DESC&$top=10";
        let (s, b) = fx.app.get(url, &fx.token).await;
        eprintln!("[{}] documented beta signInEventTypes filter: {s} {}", fx.app.db.backend, short(&b));
        assert_ne!(s, StatusCode::INTERNAL_SERVER_ERROR, "{b}");
        if s == StatusCode::BAD_REQUEST {
            assert!(b["error"]["message"].as_str().unwrap().contains("signInEventTypes"), "{b}");
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Bad input
// ---------------------------------------------------------------------------------------------

/// Asserts a 400 in Graph's envelope whose message names `option` and (when `position`) a position.
async fn expect_refusal(fx: &Fixture, url: &str, option: &str, position: bool) {
    let (s, b) = fx.app.get(url, &fx.token).await;
    let shown: String = url.chars().take(160).collect();
    assert_eq!(s, StatusCode::BAD_REQUEST, "[{}] {shown}: {}", fx.app.db.backend, short(&b));
    assert_eq!(b["error"]["code"], "BadRequest", "{shown}: {}", short(&b));
    assert!(b["error"]["innerError"]["request-id"].is_string(), "{shown}: {}", short(&b));
    let message = b["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(option), "{shown}: the message should name {option}: {message}");
    if position {
        assert!(message.contains("position"), "{shown}: the message should give the position: {message}");
    }
}

#[actix_web::test]
async fn bad_filters_are_400s_in_graphs_envelope() {
    each_backend(|app| async move {
        let fx = fixture(app).await;
        let filter_url = |f: &str| format!("{LIST}?$filter={}", enc(f));

        // SQL inside a string is a string: it matches exactly the document that holds it.
        let injected = "userPrincipalName eq 'x'' or 1=1 --'";
        assert_eq!(expect_oracle(&fx, injected).await, 1);
        let (_, b) = fx.app.get(&filter_url(injected), &fx.token).await;
        assert_eq!(b["value"][0]["userPrincipalName"], "x' or 1=1 --");
        for f in [
            "userPrincipalName eq 'x'' or ''1''=''1'",
            "userDisplayName eq 'Robert''); DROP TABLE sign_ins; --'",
            "startswith(userDisplayName,'Robert''); DROP TABLE')",
            "contains(userPrincipalName,'%')",
            "contains(userPrincipalName,'_')",
            "startswith(userPrincipalName,'%')",
            "endswith(userDisplayName,'\\')",
            "contains(userDisplayName,'\\slash')",
            "appliedConditionalAccessPolicies/any(p: contains(p/displayName, '100% legacy_auth \\ ''quoted'''))",
        ] {
            expect_oracle(&fx, f).await;
        }
        let total = fx.docs.len();
        assert_eq!(fetch_all(&fx.app, &fx.token, &format!("{LIST}?$top=1000")).await.unwrap().docs.len(), total);

        let mut cases: Vec<(String, bool)> = [
            // truncated
            "userId eq",
            "userId eq 'x' and",
            "userId eq 'x' or",
            "startswith(userPrincipalName,",
            "startswith(userPrincipalName",
            "appliedConditionalAccessPolicies/any(p: p/result eq",
            "appliedConditionalAccessPolicies/any(p:",
            "not",
            "userId",
            "status/errorCode in (1,",
            "createdDateTime ge 2024-01-",
            "microsoft.graph.riskLevel'high",
            // unbalanced parentheses
            "(userId eq 'x'",
            "((userId eq 'x')",
            "userId eq 'x')",
            "startswith(userPrincipalName,'a'))",
            "()",
            ")",
            "(",
            // unterminated strings
            "userId eq 'abc",
            "userId eq 'O''Brien",
            "userId eq '",
            "'",
            "userId eq 'O'Brien'",
            // SQL outside strings
            "userPrincipalName eq 'x' or 1=1 --",
            "userId eq 'x'; DROP TABLE sign_ins",
            "userId eq 'x' -- comment",
            "userId = 'x'",
            "userId eq \"x\"",
            "userId eq 'x' && userId eq 'y'",
            "userId eq 'x' || 1",
            // wrong names, types and functions
            "nope eq 'x'",
            "userPrincipalNam eq 'x'",
            "substringof('x', userId)",
            "substring(userId, 1) eq 'x'",
            "status/errorCode eq 'x'",
            "status/errorCode eq 99999999999",
            "riskState gt 'none'",
            "riskState eq 'extreme'",
            "isInteractive eq 'yes'",
            "isInteractive gt true",
            "createdDateTime ge '2024-01-01'",
            "createdDateTime ge 2024-02-30",
            "userId eq 1",
            "length(userId) eq 'x'",
            "year(userId) eq 2024",
            "contains('abc', userId)",
            "startswith(userId)",
            "startswith(userId, userPrincipalName)",
            "null eq null",
            "'a' eq 'b'",
            "status/errorCode add 1 eq 2",
            "-status/errorCode eq 1",
            "riskLevelDuringSignIn eq microsoft.graph.riskState'none'",
            "riskLevel'high' eq riskLevelDuringSignIn",
            "userId in 'a'",
            "userId in ('a', null)",
            "$it eq 'x'",
            "userId eq @alias",
            "appliedConditionalAccessPolicies eq 'x'",
            "userId/any(x: x eq 'a')",
            "appliedConditionalAccessPolicies/any(p: q/result eq 'failure')",
            "appliedConditionalAccessPolicies/all()",
            "appliedConditionalAccessPolicies/any(p: p/nope eq 'x')",
            "appliedConditionalAccessPolicies/any(p: p eq 'x')",
            "riskEventTypes_v2/any(t: t/value eq 'x')",
            // lambdas nested deeper than three, or over what is not a collection of the element
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: riskEventTypes_v2/any(t: \
             riskEventTypes/any(u: u eq t))))",
            "riskEventTypes/any(a: riskEventTypes/any(b: riskEventTypes/any(c: riskEventTypes/any(d: d eq a))))",
            "appliedConditionalAccessPolicies/any(p: p/nope/any(g: g eq 'x'))",
            "appliedConditionalAccessPolicies/any(p: p/result/any(g: g eq 'x'))",
            "riskEventTypes/any(t: t/x/any(u: u eq 'a'))",
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls eq 'mfa')",
            "appliedConditionalAccessPolicies/any(p: p/enforcedGrantControls/any(g: g/x eq 'mfa'))",
            "appliedConditionalAccessPolicies/any(p: q/enforcedGrantControls/any(g: g eq 'mfa'))",
        ]
        .into_iter()
        .map(|f| (filter_url(f), true))
        .collect();
        // Whitespace around the value, empty values.
        cases.push((format!("{LIST}?$filter="), false));
        cases.push((format!("{LIST}?$filter=%20userId%20eq%20'x'"), false));
        cases.push((format!("{LIST}?$filter=userId%20eq%20'x'%20"), false));
        // Control characters, inside and outside strings.
        for raw in [
            "userId%20eq%20'a%00b'",
            "userId%20eq%20'a%01b'",
            "userId%00eq%20'x'",
            "userId%20eq%20'x'%01",
            "userId%0Aeq%20'x'",
            "userId%20eq%20'a%0Db'",
            "userId%20eq%20'a%7Fb'",
        ] {
            cases.push((format!("{LIST}?$filter={raw}"), true));
        }
        // Deep nesting: 50 levels of parentheses, of not, of function calls.
        cases.push((filter_url(&format!("{}userId eq 'x'{}", "(".repeat(50), ")".repeat(50))), true));
        cases.push((filter_url(&format!("{}isInteractive", "not ".repeat(50))), true));
        cases.push((filter_url(&format!("{}userId{} eq 'x'", "tolower(".repeat(50), ")".repeat(50))), true));
        // An in-list of 1000 items (short enough to stay under the length limit).
        let items: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        cases.push((filter_url(&format!("status/errorCode in ({})", items.join(","))), true));
        // The longest value a request URI can carry (the http crate caps URIs at 64 KiB).
        cases.push((filter_url(&format!("userPrincipalName eq '{}'", "a".repeat(60_000))), false));
        cases.push((filter_url(&vec!["userId eq 'x'"; 1000].join(" or ")), false));

        for (url, position) in &cases {
            expect_refusal(&fx, url, "$filter", *position).await;
        }
        // The same refusals from /$count.
        for (url, position) in cases.iter().step_by(7) {
            let count_url = url.replacen(LIST, &format!("{LIST}/$count"), 1);
            expect_refusal(&fx, &count_url, "$filter", *position).await;
        }
        // Bad $orderby values name $orderby.
        for o in ["status/failureReason", "nope desc", "userId sideways", "userId,userId desc", "userId,", ""] {
            expect_refusal(&fx, &format!("{LIST}?$orderby={}", enc(o)), "$orderby", false).await;
        }

        // Just inside the limits: accepted and answered like the oracle.
        let nested = format!("{}userId eq '{}'{}", "(".repeat(20), guid(1), ")".repeat(20));
        expect_oracle(&fx, &nested).await;
        let items: Vec<String> = (0..199).chain([50126]).map(|i| i.to_string()).collect();
        assert!(expect_oracle(&fx, &format!("status/errorCode in ({})", items.join(","))).await > 0);

        // A 100 KB value: the parser refuses it by its length...
        let huge = format!("userPrincipalName eq '{}'", "a".repeat(100 * 1024));
        let e = resolve_filter(&SIGN_INS, &huge).unwrap_err();
        assert!(e.to_string().contains("$filter") && e.to_string().contains("limit"), "{e}");
        // ...but such a URI never reaches the app: see `a_100_kb_filter_over_a_socket`.

        // Nothing above harmed the data.
        assert_eq!(fetch_all(&fx.app, &fx.token, &format!("{LIST}?$top=1000")).await.unwrap().docs.len(), total);
    })
    .await;
}

/// A 100 KB `$filter` sent to a real server: whatever answers must be a 4xx, not a 5xx.
#[actix_web::test]
async fn a_100_kb_filter_over_a_socket() {
    use std::io::{Read, Write};
    let app = TestApp::new(sqlite_db()).await;
    let (addr, handle) = app.serve(1);
    let token = admin_token(TENANT_A);
    let filter = format!("userPrincipalName eq '{}'", "a".repeat(100 * 1024));
    let response = actix_web::rt::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let request = format!(
            "GET {LIST}?$filter={} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n",
            enc(&filter)
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut out = Vec::new();
        let _ = stream.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .unwrap();
    handle.stop(true).await;
    let status_line = response.lines().next().unwrap_or_default().to_owned();
    eprintln!("100 KB $filter over a socket: {status_line:?}, {} bytes of response", response.len());
    eprintln!("{}", response.chars().take(600).collect::<String>());
    assert!(
        status_line.contains(" 400 ") || status_line.contains(" 414 ") || status_line.contains(" 431 "),
        "{status_line}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. $select and $orderby
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn select_projects_and_orderby_pages_without_gaps() {
    each_backend(|app| async move {
        let fx = fixture(app).await;
        let backend = fx.app.db.backend;

        // $select: only those keys, and the context names them; next pages keep the projection.
        let all =
            fetch_all(&fx.app, &fx.token, &format!("{LIST}?$select=id,userPrincipalName&$top=100")).await.unwrap();
        assert!(all.pages > 1);
        assert_eq!(all.docs.len(), fx.docs.len());
        for c in &all.contexts {
            assert!(c.ends_with("#auditLogs/signIns(id,userPrincipalName)"), "{c}");
        }
        for (got, full) in all.docs.iter().zip(&fx.docs) {
            let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
            assert!(keys.iter().all(|k| *k == "id" || *k == "userPrincipalName"), "{got}");
            assert_eq!(got["id"], full["id"]);
            assert_eq!(got.get("userPrincipalName"), full.get("userPrincipalName"), "{got}");
        }

        // $orderby=userPrincipalName asc,createdDateTime desc in pages of 7: the oracle's order.
        let orderby = "userPrincipalName asc,createdDateTime desc";
        let keys = resolve_orderby(&SIGN_INS, orderby).unwrap();
        let want = ids(oracle(&fx.docs, None, &keys));
        let listing = fetch_all(
            &fx.app,
            &fx.token,
            &format!("{LIST}?$orderby={}&$top=7&$select=id,userPrincipalName,createdDateTime", enc(orderby)),
        )
        .await
        .unwrap();
        let got = ids(&listing.docs);
        assert_eq!(listing.pages, want.len().div_ceil(7));
        assert!(want == got, "[{backend}] $orderby={orderby} $top=7\n  {}", describe_diff(&fx.docs, &want, &got));

        // Every sortable property, each direction, paged, with a filter that leaves nulls in.
        let filter = "not (status/errorCode eq 0) or userDisplayName eq null or riskEventTypes_v2/any()";
        let resolved = resolve_filter(&SIGN_INS, filter).unwrap();
        for (i, f) in SIGN_INS.fields.iter().filter(|f| f.sortable).enumerate() {
            for dir in ["asc", "desc"] {
                let orderby = if i % 2 == 0 || f.path == "userPrincipalName" {
                    format!("{} {dir}", f.path)
                } else {
                    format!("{} {dir},userPrincipalName desc", f.path)
                };
                let keys = resolve_orderby(&SIGN_INS, &orderby).unwrap();
                let want = ids(oracle(&fx.docs, Some(&resolved), &keys));
                let url = format!("{LIST}?$filter={}&$orderby={}&$top=23&$select=id", enc(filter), enc(&orderby));
                let got = ids(&fetch_all(&fx.app, &fx.token, &url).await.unwrap().docs);
                assert!(want == got, "[{backend}] $orderby={orderby}\n  {}", describe_diff(&fx.docs, &want, &got));
            }
        }
    })
    .await;
}
