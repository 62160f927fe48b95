//! Property-based fuzzing of every input a client controls: `$filter` and `$orderby` (random
//! bytes, and grammar-aware expressions nested deeply), `$skiptoken` (random, and valid tokens
//! with bits flipped), ingest records (random JSON near each set's schema) and bearer tokens
//! (random headers, and random claims under a valid signature). Every input must end in a value or
//! an error that maps to a 4xx: no panic, no overflow, no 500.
//!
//! `cargo test` runs a short budget (256 cases per property); `FUZZ_CASES=1000000 cargo test -p
//! idtrail-tests --release --test api -- fuzz::` runs a long one.

use actix_web::http::StatusCode;
use chrono::Duration;
use domain::ids::{LicenseTier, TenantId};
use domain::query::registry::all_sets;
use domain::query::{Scalar, eval, resolve_filter, resolve_orderby};
use domain::sets::SetKind;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use storage::Backend;
use storage::filter::Compiler;
use storage::sql::Sql;

use crate::audits_risk::{audit_doc, detection_doc, enc, risky_user_doc};
use crate::support::*;

/// Cases per property: `FUZZ_CASES`, or a short budget for `cargo test`.
fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

fn config() -> Config {
    Config { cases: cases(), failure_persistence: None, ..Config::default() }
}

/// Whether an API error is one a client gets as 4xx.
fn is_client_error(e: &api::error::ApiError) -> bool {
    actix_web::ResponseError::status_code(e).is_client_error()
}

// ---------------------------------------------------------------------------------------------
// $filter and $orderby
// ---------------------------------------------------------------------------------------------

/// Property paths: real ones of every set, near misses and junk.
fn path() -> impl Strategy<Value = String> {
    let real: Vec<String> = all_sets()
        .flat_map(|s| s.fields.iter().map(|f| f.path).chain(s.collections.iter().map(|c| c.path)))
        .map(str::to_owned)
        .collect();
    prop_oneof![
        4 => proptest::sample::select(real),
        1 => "[a-zA-Z_][a-zA-Z0-9_/]{0,20}",
        1 => Just("p/result".to_owned()),
        1 => Just("t".to_owned()),
        1 => Just("$it".to_owned()),
    ]
}

/// Literals, including the ones that overflow or fall outside what a type holds.
fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        "'([a-zA-Z %_]|'')*'",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:e}")),
        Just("99999999999999999999999999999".to_owned()),
        Just("-9223372036854775808".to_owned()),
        Just("1e400".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        (-200_000i32..200_000, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (0i32..100_000).prop_map(|y| format!("{y:04}-12-31T23:59:59.9999999Z")),
        Just("2024-01-31T08:00:00+14:00".to_owned()),
        Just("de8bc8b5-d9f9-48b1-a8ad-b748da725064".to_owned()),
        Just("microsoft.graph.riskLevel'high'".to_owned()),
        Just("duration'P1D'".to_owned()),
        Just("INF".to_owned()),
    ]
}

fn operand() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![path(), literal()];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (
                proptest::sample::select(vec!["tolower", "toupper", "trim", "length", "date", "year", "hour"]),
                inner.clone()
            )
                .prop_map(|(f, a)| format!("{f}({a})")),
            (inner.clone(), proptest::sample::select(vec!["add", "sub", "mul", "div", "mod"]), inner)
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        ]
    })
}

/// Boolean expressions, with lambdas nested inside lambdas.
fn expression() -> impl Strategy<Value = String> {
    let comparison = (operand(), proptest::sample::select(vec!["eq", "ne", "gt", "ge", "lt", "le", "has"]), operand())
        .prop_map(|(a, op, b)| format!("{a} {op} {b}"));
    let function = (proptest::sample::select(vec!["startswith", "endswith", "contains"]), operand(), literal())
        .prop_map(|(f, a, b)| format!("{f}({a},{b})"));
    let membership = (operand(), proptest::collection::vec(literal(), 0..4))
        .prop_map(|(a, items)| format!("{a} in ({})", items.join(",")));
    let leaf = prop_oneof![4 => comparison, 2 => function, 1 => membership, 1 => path()];
    leaf.prop_recursive(8, 64, 3, |inner| {
        prop_oneof![
            (inner.clone(), proptest::sample::select(vec!["and", "or"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            (path(), proptest::sample::select(vec!["any", "all"]), "[a-z]", inner.clone())
                .prop_map(|(c, l, v, body)| format!("{c}/{l}({v}: {body})")),
            path().prop_map(|c| format!("{c}/any()")),
            inner.prop_map(|a| format!("(((({a}))))")),
        ]
    })
}

fn orderby() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (prop_oneof![path(), "[ -~]{0,12}"], proptest::sample::select(vec!["", " asc", " desc", " DESC", " up"])),
        0..5,
    )
    .prop_map(|keys| keys.into_iter().map(|(p, d)| format!("{p}{d}")).collect::<Vec<_>>().join(","))
}

/// Resolves `input` against every set; a valid filter compiles to SQL for both backends (with the
/// masks of a P1 tenant) and evaluates against a document, without panicking.
fn filter_never_panics(input: &str) {
    let doc = sign_in_doc(1, chrono::Utc::now(), USER_OID);
    for set in all_sets() {
        let Ok(filter) = resolve_filter(set, input) else { continue };
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut sql = Sql::new(backend);
            Compiler::new(set).masking(set.kind.masks(LicenseTier::P1)).push_filter(&mut sql, &filter);
            assert!(!sql.text().is_empty());
        }
        let _ = eval::matches_masked(&filter, &doc, &set.kind.masks(LicenseTier::P1));
    }
}

fn orderby_never_panics(input: &str) {
    let doc = sign_in_doc(1, chrono::Utc::now(), USER_OID);
    for set in all_sets() {
        if let Ok(keys) = resolve_orderby(set, input) {
            let _ = eval::compare_docs(&keys, set.id_field(), &doc, &doc);
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn filters_from_random_bytes_are_values_or_errors(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let input = String::from_utf8_lossy(&bytes);
        filter_never_panics(&input);
        orderby_never_panics(&input);
    }

    #[test]
    fn filters_from_the_grammar_are_values_or_errors(input in expression()) {
        filter_never_panics(&input);
    }

    #[test]
    fn orderbys_are_values_or_errors(input in orderby()) {
        orderby_never_panics(&input);
    }
}

// ---------------------------------------------------------------------------------------------
// $skiptoken
// ---------------------------------------------------------------------------------------------

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        Just(Scalar::Null),
        any::<bool>().prop_map(Scalar::Bool),
        any::<i64>().prop_map(Scalar::Int),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Scalar::Double),
        any::<i64>().prop_map(Scalar::Ticks),
        "[ -~]{0,40}".prop_map(Scalar::Text),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn skiptokens_flipped_or_random_are_refused_as_bad_requests(
        cursor in proptest::collection::vec(scalar(), 1..4),
        flip in any::<(usize, u8)>(),
        junk in "[ -~]{0,200}",
    ) {
        let signer = api::paging::PageSigner::new(b"fuzz-key-fuzz-key-fuzz-key-fuzz!".to_vec());
        let binding = api::paging::binding("user:x", "auditLogs/signIns", "$top=5");
        let token = signer.issue(&binding, &cursor);
        prop_assert!(signer.open(&binding, &token).is_ok());
        let mut bytes = token.clone().into_bytes();
        let (at, bits) = flip;
        let at = at % bytes.len().max(1);
        if let Some(b) = bytes.get_mut(at) {
            *b ^= bits.max(1);
        }
        let flipped = String::from_utf8_lossy(&bytes).into_owned();
        if flipped != token {
            match signer.open(&binding, &flipped) {
                Ok(_) => prop_assert!(false, "a flipped token opened: {flipped}"),
                Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
            }
        }
        match signer.open(&binding, &junk) {
            Ok(_) => prop_assert!(false, "junk opened: {junk}"),
            Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
        }
        // Another binding never opens the token.
        prop_assert!(signer.open(&api::paging::binding("user:y", "auditLogs/signIns", "$top=5"), &token).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest records
// ---------------------------------------------------------------------------------------------

/// JSON values that break types, ranges and shapes.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[ -~]{0,30}".prop_map(Value::String),
        Just(json!("9999-12-31T23:59:59.9999999Z")),
        Just(json!("0001-01-01T00:00:00Z")),
        Just(json!("2024-02-30T00:00:00Z")),
        Just(json!("unknownFutureValue")),
        Just(json!("de8bc8b5-d9f9-48b1-a8ad-b748da725064")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Replaces the value at a random path of `doc` (an existing key, or a new one) with `value`.
fn mutate(doc: &mut Value, choice: usize, value: Value, remove: bool) {
    let mut at = doc;
    for depth in 0..3 {
        let Some(map) = at.as_object_mut() else { break };
        let keys: Vec<String> = map.keys().cloned().collect();
        let Some(key) = keys.get((choice >> (depth * 5)) % keys.len().max(1)).cloned() else { break };
        let descend = depth < 2 && (choice >> (15 + depth)) & 1 == 1 && map.get(&key).is_some_and(Value::is_object);
        if !descend {
            if remove {
                map.remove(&key);
            } else {
                map.insert(key, value);
            }
            return;
        }
        let Some(next) = map.get_mut(&key) else { return };
        at = next;
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ingest_records_near_the_schema_are_values_or_errors(
        set in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), json_value(), any::<bool>()), 1..6),
    ) {
        let now = chrono::Utc::now();
        let (kind, mut doc) = match set {
            0 => (SetKind::SignIns, sign_in_doc(1, now, USER_OID)),
            1 => (SetKind::DirectoryAudits, audit_doc(1, now)),
            2 => (SetKind::RiskDetections, detection_doc(1, now, "unfamiliarFeatures", "high", "U")),
            _ => (SetKind::RiskyUsers, risky_user_doc(&guid(1), now, "atRisk", "high", "none", "U")),
        };
        for (choice, value, remove) in edits {
            mutate(&mut doc, choice, value, remove);
        }
        let tenant = TenantId::parse(TENANT_A).unwrap();
        let latest = domain::time::to_ticks(now + Duration::minutes(10));
        let mut batch = api::routes::ingest::Batch::new(kind, latest).unwrap();
        if let Value::Object(map) = doc {
            let _ = batch.push(&tenant, map);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bearer tokens
// ---------------------------------------------------------------------------------------------

fn verifier() -> api::auth::TokenVerifier {
    let config = api::config::Config::default();
    api::auth::TokenVerifier::hs256(SECRET, &config.auth_audiences, &config.auth_issuers)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_headers_are_refused_as_unauthorized(header in "[ -~]{0,300}", segments in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 0..5)) {
        let v = verifier();
        for token in [header.clone(), segments.join("."), format!("{header}.{header}.{header}")] {
            match v.verify(&token) {
                Ok(_) => prop_assert!(false, "{token} verified"),
                Err(e) => prop_assert!(is_client_error(&e), "{e:?}"),
            }
        }
    }

    #[test]
    fn random_claims_under_a_valid_signature_are_values_or_401(
        claims in proptest::collection::btree_map(
            proptest::sample::select(vec!["tid", "oid", "upn", "wids", "roles", "scp", "aud", "iss", "exp", "nbf", "iat", "azp", "appid", "idtyp", "preferred_username"]),
            json_value(),
            0..10,
        ),
        keep_valid in any::<bool>(),
    ) {
        let mut payload: Map<String, Value> = claims.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if keep_valid {
            // Around a valid core, so that parsing goes past the standard claims.
            payload.entry("aud").or_insert(json!("https://graph.microsoft.com"));
            payload.entry("exp").or_insert(json!(chrono::Utc::now().timestamp() + 600));
            payload.entry("tid").or_insert(json!(TENANT_A));
        }
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &Value::Object(payload),
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        if let Err(e) = verifier().verify(&token) {
            prop_assert!(is_client_error(&e), "{e:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Through the service: no 500
// ---------------------------------------------------------------------------------------------

/// A sample of the generated filters and orders, sent to the real app on SQLite with data in it:
/// every answer is 200 or a 4xx in Graph's envelope.
#[actix_web::test]
async fn generated_queries_never_get_a_server_error() {
    let app = TestApp::new(sqlite_db()).await.without_rate_limits().await;
    let now = app.now();
    let docs: Vec<Value> =
        (1..=20).map(|n| sign_in_doc(n, now - Duration::minutes(i64::try_from(n).unwrap()), USER_OID)).collect();
    assert_eq!(app.ingest(&ingest_token(TENANT_A), &docs).await.0, StatusCode::OK);
    let mut runner = TestRunner::new(config());
    let n = (cases() / 8).max(24);
    let filters = expression();
    let orders = orderby();
    for _ in 0..n {
        let filter = filters.new_tree(&mut runner).unwrap().current();
        let order = orders.new_tree(&mut runner).unwrap().current();
        for set in SetKind::ALL.into_iter().filter(|k| k.parent().is_none()) {
            let path =
                format!("/v1.0/{}?$filter={}&$orderby={}&$top=3&$count=true", set.route(), enc(&filter), enc(&order));
            let (status, body) = app.get(&path, &admin_token(TENANT_A)).await;
            assert!(status == StatusCode::OK || status.is_client_error(), "{path}: {status} {body}");
            if status.is_client_error() {
                assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{path}: {body}");
            }
        }
    }
}
