//! Token validation with asymmetric keys: RS256/ES256 from a JWKS file or URL, issuer templates,
//! the refresh of a JWKS URL on an unknown `kid` (with its cooldown), and attack tokens (401 each,
//! with the reason).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use api::auth::{Claims, TokenVerifier};
use api::config::Config;
use api::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::*;

const V1_TEMPLATE: &str = "https://sts.windows.net/{tid}/";
const V2_TEMPLATE: &str = "https://login.microsoftonline.com/{tid}/v2.0";
const SIGN_INS: &str = "/v1.0/auditLogs/signIns";

/// Claims as a JSON value: typed [`Claims`], or raw JSON for claims `Claims` cannot leave out.
trait ToJson {
    fn to_json(&self) -> Value;
}

impl ToJson for Claims {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap()
    }
}

impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/jwt").join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A token signed with a fixture's private key, with `kid` in the header.
fn sign_with(alg: Algorithm, pem: &str, kid: Option<&str>, claims: &impl ToJson) -> String {
    let bytes = read_fixture(pem);
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&bytes).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&bytes).unwrap(),
        other => panic!("no fixture key for {other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims.to_json(), &key).unwrap()
}

fn rs256(kid: &str, claims: &impl ToJson) -> String {
    sign_with(Algorithm::RS256, "rsa1.pem", Some(kid), claims)
}

fn es256(claims: &impl ToJson) -> String {
    sign_with(Algorithm::ES256, "ec1.pem", Some("ec-key-1"), claims)
}

/// HS256 with an arbitrary byte string as the secret (the confusion attack uses a public key).
fn hs256_with(secret: &[u8], kid: Option<&str>, claims: &impl ToJson) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims.to_json(), &EncodingKey::from_secret(secret)).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn admin_claims(tenant: &str) -> Claims {
    user_claims(tenant, ADMIN_OID, &[GLOBAL_ADMIN])
}

fn base_config(issuers: &[&str]) -> Config {
    Config {
        public_url: Some("https://idtrail.test".into()),
        auth_issuers: issuers.iter().map(|s| (*s).to_owned()).collect(),
        ..Config::default()
    }
}

fn file_config(issuers: &[&str]) -> Config {
    Config { auth_jwks_file: Some(fixture("jwks.json")), ..base_config(issuers) }
}

/// The test app started with `config`'s keys only (no HS256 secret).
async fn app_with(config: Config) -> TestApp {
    TestApp::start(sqlite_db(), config, None).await
}

fn reason(result: Result<domain::principal::Principal, ApiError>) -> String {
    match result {
        Ok(p) => panic!("accepted: {p:?}"),
        Err(ApiError::Unauthorized(why)) => why,
        Err(other) => panic!("not a 401: {other:?}"),
    }
}

#[actix_web::test]
async fn rs256_and_es256_tokens_from_a_jwks_file_validate() {
    let config = file_config(&[V1_TEMPLATE]);
    let verifier = TokenVerifier::from_config(&config, None).unwrap();
    let claims = admin_claims(TENANT_A);
    let p = verifier.verify(&rs256("rsa-key-1", &claims)).unwrap();
    assert_eq!(p.tenant.as_str(), TENANT_A);
    let p = verifier.verify(&es256(&claims)).unwrap();
    assert_eq!(p.tenant.as_str(), TENANT_A);
    // Leeway: expired 30 s ago, or valid from 30 s on, is still accepted.
    let now = chrono::Utc::now().timestamp();
    verifier.verify(&rs256("rsa-key-1", &Claims { exp: now - 30, ..claims.clone() })).unwrap();
    verifier.verify(&es256(&Claims { nbf: Some(now + 30), ..claims.clone() })).unwrap();

    let app = app_with(config).await;
    for token in [rs256("rsa-key-1", &claims), es256(&claims)] {
        let (status, body) = app.get(SIGN_INS, &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[test]
fn hs256_secret_and_jwks_keys_work_side_by_side() {
    let config = Config { auth_hs256_secret: Some(String::from_utf8(SECRET.to_vec()).unwrap()), ..file_config(&[]) };
    let verifier = TokenVerifier::from_config(&config, None).unwrap();
    let claims = admin_claims(TENANT_A);
    verifier.verify(&sign(&claims)).unwrap();
    verifier.verify(&rs256("rsa-key-1", &claims)).unwrap();
    verifier.verify(&es256(&claims)).unwrap();
    // The development secret is used when no secret is configured.
    let verifier = TokenVerifier::from_config(&file_config(&[]), Some(SECRET)).unwrap();
    verifier.verify(&sign(&claims)).unwrap();
    // Only one JWKS key and no secret: a token without kid uses that key.
    let dir = std::env::temp_dir().join(format!("idtrail-jwks-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let one: Value = serde_json::from_slice(&read_fixture("jwks.json")).unwrap();
    let rsa_only = json!({"keys": [one["keys"][0].clone()]});
    std::fs::write(dir.join("one.json"), rsa_only.to_string()).unwrap();
    let single =
        TokenVerifier::from_config(&Config { auth_jwks_file: Some(dir.join("one.json")), ..base_config(&[]) }, None)
            .unwrap();
    single.verify(&sign_with(Algorithm::RS256, "rsa1.pem", None, &claims)).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn configuration_errors_are_reported() {
    let no_key = TokenVerifier::from_config(&base_config(&[]), None).unwrap_err();
    assert!(no_key.contains("no token key configured"), "{no_key}");
    let short = TokenVerifier::from_config(&base_config(&[]), Some(b"short")).unwrap_err();
    assert!(short.contains("at least 32"), "{short}");
    let missing =
        TokenVerifier::from_config(&Config { auth_jwks_file: Some(fixture("nope.json")), ..base_config(&[]) }, None)
            .unwrap_err();
    assert!(missing.contains("auth_jwks_file"), "{missing}");
    let plain_http = TokenVerifier::from_config(
        &Config { auth_jwks_url: Some("http://login.example.com/keys".into()), ..base_config(&[]) },
        None,
    )
    .unwrap_err();
    assert!(plain_http.contains("https://"), "{plain_http}");
    // A JWKS that only holds keys we must not use (symmetric) is refused.
    let dir = std::env::temp_dir().join(format!("idtrail-jwks-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("oct.json"), r#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#).unwrap();
    let oct =
        TokenVerifier::from_config(&Config { auth_jwks_file: Some(dir.join("oct.json")), ..base_config(&[]) }, None)
            .unwrap_err();
    assert!(oct.contains("no usable signing key"), "{oct}");
    std::fs::remove_dir_all(&dir).ok();
}

#[actix_web::test]
async fn attack_tokens_are_401_with_the_reason() {
    // Both kinds of keys configured, and Entra issuer templates: the widest surface.
    let config = Config {
        auth_hs256_secret: Some(String::from_utf8(SECRET.to_vec()).unwrap()),
        ..file_config(&[V1_TEMPLATE, V2_TEMPLATE])
    };
    let verifier = TokenVerifier::from_config(&config, None).unwrap();
    let good = admin_claims(TENANT_A);
    let now = chrono::Utc::now().timestamp();
    let rsa_public = read_fixture("rsa1.pub.pem");
    let ec_public = read_fixture("ec1.pub.pem");
    let valid = rs256("rsa-key-1", &good);
    let [h, p, s]: [&str; 3] = valid.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut no_exp = serde_json::to_value(&good).unwrap();
    no_exp.as_object_mut().unwrap().remove("exp");
    let mut no_aud = serde_json::to_value(&good).unwrap();
    no_aud.as_object_mut().unwrap().remove("aud");

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&serde_json::to_value(&good).unwrap())),
            "alg: none",
        ),
        (
            "alg none with a known kid",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "rsa-key-1"})),
                b64(&serde_json::to_value(&good).unwrap())
            ),
            "alg: none",
        ),
        (
            "HS256 signed with the RSA public key",
            hs256_with(&rsa_public, Some("rsa-key-1"), &good),
            "not the one of its",
        ),
        ("HS256 signed with the EC public key", hs256_with(&ec_public, Some("ec-key-1"), &good), "not the one of its"),
        ("HS256 with the RSA public key, no kid", hs256_with(&rsa_public, None, &good), "signature does not verify"),
        (
            "ES256 header on the RSA key",
            sign_with(Algorithm::ES256, "ec1.pem", Some("rsa-key-1"), &good),
            "not the one of its",
        ),
        (
            "signed by another key under a known kid",
            sign_with(Algorithm::RS256, "rsa-rogue.pem", Some("rsa-key-1"), &good),
            "signature does not verify",
        ),
        ("expired", rs256("rsa-key-1", &Claims { exp: now - 3600, ..good.clone() }), "expired"),
        ("not yet valid", es256(&Claims { nbf: Some(now + 3600), ..good.clone() }), "not valid yet"),
        ("no exp", rs256("rsa-key-1", &no_exp), "exp"),
        (
            "wrong audience",
            rs256("rsa-key-1", &Claims { aud: Some("api://someone-else".into()), ..good.clone() }),
            "audience",
        ),
        ("no audience", rs256("rsa-key-1", &no_aud), "aud claim"),
        (
            "wrong issuer",
            rs256("rsa-key-1", &Claims { iss: Some("https://evil.example/".into()), ..good.clone() }),
            "wrong issuer",
        ),
        ("no issuer", rs256("rsa-key-1", &Claims { iss: None, ..good.clone() }), "iss claim"),
        (
            "unknown kid",
            sign_with(Algorithm::RS256, "rsa-rogue.pem", Some("rogue-key"), &good),
            "unknown signing key kid 'rogue-key'",
        ),
        // The issuer template needs the token's tid: without one no issuer matches.
        ("missing tid", rs256("rsa-key-1", &Claims { tid: None, ..good.clone() }), "wrong issuer"),
        ("malformed base64 in the header", format!("{}!.{p}.{s}", &h[..h.len() - 1]), "base64url"),
        ("malformed base64 in the signature", format!("{h}.{p}.{}!!", &s[..s.len() - 2]), "base64url"),
        ("not a JWT", "abc.def".into(), "three base64url parts"),
        ("1 MB token", format!("{valid}{}", "A".repeat(1024 * 1024)), "larger than"),
    ];
    for (name, token, why) in &cases {
        let reason = reason(verifier.verify(token));
        assert!(reason.contains(why), "{name}: expected '{why}' in '{reason}'");
    }
    // Without issuer check, a missing tid is refused when the principal is built.
    let no_iss = TokenVerifier::from_config(&file_config(&[]), None).unwrap();
    let why = reason(no_iss.verify(&rs256("rsa-key-1", &Claims { tid: None, ..good.clone() })));
    assert!(why.contains("tid"), "{why}");
    // A JWKS-only verifier refuses a token without kid when it holds several keys.
    let why = reason(no_iss.verify(&hs256_with(&rsa_public, None, &good)));
    assert!(why.contains("no kid"), "{why}");

    // Over HTTP: each is 401 with the Bearer challenge and Graph's error code.
    let app = app_with(config).await;
    let (status, body) = app.get(SIGN_INS, &valid).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (name, token, _) in &cases {
        let (status, headers, body) = app
            .send(TestRequest::get().uri(SIGN_INS).insert_header(("Authorization", format!("Bearer {token}"))))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {body}");
        let challenge = headers.get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.contains(r#"error="invalid_token""#), "{name}: {challenge}");
        assert_eq!(body["error"]["code"], "InvalidAuthenticationToken", "{name}: {body}");
    }
}

#[test]
fn issuer_templates_accept_both_entra_forms_for_the_tokens_own_tenant() {
    let verifier = TokenVerifier::from_config(&file_config(&[V1_TEMPLATE, V2_TEMPLATE]), None).unwrap();
    let for_a = |iss: String| Claims { iss: Some(iss), ..admin_claims(TENANT_A) };
    for iss in
        [format!("https://sts.windows.net/{TENANT_A}/"), format!("https://login.microsoftonline.com/{TENANT_A}/v2.0")]
    {
        let p = verifier.verify(&rs256("rsa-key-1", &for_a(iss.clone()))).unwrap_or_else(|e| panic!("{iss}: {e:?}"));
        assert_eq!(p.tenant.as_str(), TENANT_A);
    }
    for iss in [
        format!("https://sts.windows.net/{TENANT_B}/"),
        format!("https://login.microsoftonline.com/{TENANT_B}/v2.0"),
        V1_TEMPLATE.to_owned(),
        V2_TEMPLATE.to_owned(),
        format!("https://login.microsoftonline.com/{TENANT_A}/v2.0/"),
        format!("https://sts.windows.net/{TENANT_A}"),
    ] {
        let why = reason(verifier.verify(&rs256("rsa-key-1", &for_a(iss.clone()))));
        assert!(why.contains("wrong issuer"), "{iss}: {why}");
    }
    // A tid that is not a GUID never fills a template.
    let odd =
        Claims { tid: Some("x/".into()), iss: Some("https://sts.windows.net/x//".into()), ..admin_claims(TENANT_A) };
    assert!(reason(verifier.verify(&rs256("rsa-key-1", &odd))).contains("wrong issuer"));
    // Fixed issuers still compare exactly.
    let fixed = format!("https://sts.windows.net/{TENANT_B}/");
    let verifier = TokenVerifier::from_config(&file_config(&[&fixed]), None).unwrap();
    verifier.verify(&rs256("rsa-key-1", &Claims { iss: Some(fixed.clone()), ..admin_claims(TENANT_B) })).unwrap();
    let why = reason(verifier.verify(&rs256("rsa-key-1", &admin_claims(TENANT_A))));
    assert!(why.contains("wrong issuer"), "{why}");
}

/// A JWKS served over HTTP on 127.0.0.1, whose document (and how slowly it comes) the test can
/// change, counting fetches begun and answered.
struct JwksServer {
    url: String,
    response: Arc<Mutex<(u16, String)>>,
    fetches: Arc<AtomicUsize>,
    delay: Arc<Mutex<Duration>>,
    answered: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/discovery/keys", listener.local_addr().unwrap());
        let response = Arc::new(Mutex::new((200, body)));
        let fetches = Arc::new(AtomicUsize::new(0));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let answered = Arc::new(AtomicUsize::new(0));
        let (resp, count, pause, done) = (response.clone(), fetches.clone(), delay.clone(), answered.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut chunk = [0_u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                if request.starts_with(b"GET /discovery/keys ") {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                let wait = *pause.lock().unwrap();
                std::thread::sleep(wait);
                let (status, body) = resp.lock().unwrap().clone();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
                done.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self { url, response, fetches, delay, answered }
    }

    fn slow_down(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    fn serve(&self, status: u16, body: String) {
        *self.response.lock().unwrap() = (status, body);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(read_fixture(name)).unwrap()
}

#[actix_web::test]
async fn a_jwks_url_is_refreshed_on_an_unknown_kid_at_most_once_per_cooldown() {
    let server = JwksServer::start(fixture_text("jwks.json"));
    let config = Config { auth_jwks_url: Some(server.url.clone()), ..base_config(&[V1_TEMPLATE, V2_TEMPLATE]) };
    let cooldown = Duration::from_millis(500);
    let verifier = TokenVerifier::from_config(&config, None).unwrap().with_jwks_cooldown(cooldown);
    assert_eq!(server.fetches(), 1, "fetched at start");
    let claims = admin_claims(TENANT_A);
    verifier.verify(&rs256("rsa-key-1", &claims)).unwrap();
    verifier.verify(&es256(&claims)).unwrap();
    assert_eq!(server.fetches(), 1, "known kids need no fetch");

    // The identity provider rotates: rsa-key-2 appears, rsa-key-1 goes.
    server.serve(200, fixture_text("jwks-rotated.json"));
    let rotated = sign_with(Algorithm::RS256, "rsa2.pem", Some("rsa-key-2"), &claims);
    // Within the cooldown of the start fetch: no fetch, the new kid is still unknown.
    let why = reason(verifier.verify(&rotated));
    assert!(why.contains("unknown signing key kid 'rsa-key-2'"), "{why}");
    assert_eq!(server.fetches(), 1, "no fetch within the cooldown");

    std::thread::sleep(cooldown + Duration::from_millis(100));
    // The fetch runs in the background; the token that asked for it waits for it briefly.
    let p = verifier.verify_waiting(&rotated).await.unwrap();
    assert_eq!(p.tenant.as_str(), TENANT_A);
    assert_eq!(server.fetches(), 2, "one refresh for the new kid");
    verifier.verify(&rotated).unwrap();
    verifier.verify(&es256(&claims)).unwrap();
    assert_eq!(server.fetches(), 2);

    // Unknown kids within the cooldown do not fetch again, however many.
    for kid in ["made-up-1", "made-up-2", "rsa-key-1"] {
        let token = sign_with(Algorithm::RS256, "rsa-rogue.pem", Some(kid), &claims);
        let why = reason(verifier.verify(&token));
        assert!(why.contains(&format!("unknown signing key kid '{kid}'")), "{why}");
    }
    // rsa-key-1 left the JWKS: its tokens are refused now.
    assert!(reason(verifier.verify(&rs256("rsa-key-1", &claims))).contains("unknown signing key kid"));
    assert_eq!(server.fetches(), 2, "no fetch within the cooldown");

    // A failed refresh keeps the keys it had.
    std::thread::sleep(cooldown + Duration::from_millis(100));
    server.serve(500, "oops".into());
    let made_up = sign_with(Algorithm::RS256, "rsa-rogue.pem", Some("made-up-3"), &claims);
    let why = reason(verifier.verify_waiting(&made_up).await);
    assert!(why.contains("unknown signing key kid"), "{why}");
    assert_eq!(server.fetches(), 3);
    verifier.verify(&rotated).unwrap();
}

#[test]
fn a_jwks_url_that_fails_at_start_is_a_configuration_error() {
    let server = JwksServer::start("not json".into());
    let config = Config { auth_jwks_url: Some(server.url.clone()), ..base_config(&[]) };
    let err = TokenVerifier::from_config(&config, None).unwrap_err();
    assert!(err.contains("not JSON"), "{err}");
    server.serve(404, "{}".into());
    let err = TokenVerifier::from_config(&config, None).unwrap_err();
    assert!(err.contains(&server.url), "{err}");
    // The default cooldown is a minute: a new kid right after start is not fetched.
    server.serve(200, fixture_text("jwks.json"));
    let verifier = TokenVerifier::from_config(&config, None).unwrap();
    let before = server.fetches();
    server.serve(200, fixture_text("jwks-rotated.json"));
    let rotated = sign_with(Algorithm::RS256, "rsa2.pem", Some("rsa-key-2"), &admin_claims(TENANT_A));
    assert!(reason(verifier.verify(&rotated)).contains("unknown signing key kid"));
    assert_eq!(server.fetches(), before);
}

/// With a slow key server, tokens naming unknown `kid`s are refused after a short wait while the
/// fetch they started goes on in the background, and no other request waits for it: `/healthz`
/// and requests with known keys answer before the key server does.
#[actix_web::test]
async fn a_slow_key_server_delays_no_other_request() {
    let server = JwksServer::start(fixture_text("jwks.json"));
    let config = Config {
        auth_jwks_url: Some(server.url.clone()),
        auth_jwks_cooldown_seconds: 0,
        rate_limit_enabled: false,
        ..test_config()
    };
    let app = TestApp::start(sqlite_db(), config, Some(SECRET)).await;
    server.slow_down(Duration::from_secs(3));
    let answered = server.answered();
    let claims = admin_claims(TENANT_A);
    let unknown: Vec<String> =
        (0..3).map(|i| sign_with(Algorithm::RS256, "rsa-rogue.pem", Some(&format!("made-up-{i}")), &claims)).collect();
    let known = [admin_token(TENANT_A), rs256("rsa-key-1", &claims)];
    let refused = futures_util::future::join_all(unknown.iter().map(|t| app.get(SIGN_INS, t)));
    let others = async {
        // Once the unknown kids have started the slow fetch.
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        let mut answers = vec![app.get("/healthz", "").await];
        for token in &known {
            answers.push(app.get(SIGN_INS, token).await);
        }
        (answers, server.answered())
    };
    let (refused, (answers, answered_then)) = futures_util::future::join(refused, others).await;
    assert_eq!(answered_then, answered, "the other requests answered while the key server was still slow");
    for (s, b) in &answers {
        assert_eq!(*s, StatusCode::OK, "{b}");
    }
    for (s, b) in &refused {
        assert_eq!(*s, StatusCode::UNAUTHORIZED, "{b}");
        assert!(b["error"]["message"].as_str().unwrap().contains("unknown signing key kid"), "{b}");
    }
    assert_eq!(server.answered(), answered, "the unknown kids did not wait for the key server either");
    assert_eq!(server.fetches(), 2, "one fetch at a time: the start, then one for the three unknown kids");
}
