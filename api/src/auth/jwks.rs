//! Public signing keys from a JWKS document (RFC 7517), read from a file or fetched from a URL.
//!
//! Each usable key is stored under its `kid` with the one algorithm it verifies, derived from the
//! key itself (`kty`, `crv`, and `alg` when present): a token's `alg` header only has to agree
//! with it. A URL's keys are fetched at start and again when a token names a `kid` we do not
//! know, at most once per cooldown, so a flood of made-up `kid`s cannot hammer the identity
//! provider. Those later fetches run on a thread of their own, one at a time
//! ([`RemoteJwks::refresh_in_background`]): no request thread ever waits on the identity
//! provider; a request with an unknown `kid` may wait a short while for the fetch it started
//! (`TokenVerifier::verify_waiting`), every other request goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Largest JWKS document we read (Entra's is about 10 KB).
pub const MAX_JWKS_BYTES: u64 = 1024 * 1024;
/// Time limit of one JWKS fetch, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A key that verifies signatures, with the only algorithm it accepts.
pub struct VerifyingKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// Keys by `kid`.
pub type KeyMap = HashMap<String, Arc<VerifyingKey>>;

/// The usable keys of a JWKS document, and why the others were skipped.
pub struct ParsedJwks {
    pub keys: KeyMap,
    pub skipped: Vec<String>,
}

/// Parses a JWKS document. Keys that cannot verify token signatures here (encryption keys,
/// symmetric keys, unsupported curves or algorithms, keys without `kid`, short RSA keys) are
/// skipped, each with its reason.
///
/// # Errors
/// When the text is not a JSON object with a `keys` array.
pub fn parse(text: &str) -> Result<ParsedJwks, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let entries =
        doc.get("keys").and_then(serde_json::Value::as_array).ok_or("not a JWKS: no \"keys\" array".to_owned())?;
    let mut keys = KeyMap::new();
    let mut skipped = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let kid = entry.get("kid").and_then(serde_json::Value::as_str).map(str::to_owned);
        let name = kid.as_deref().map_or_else(|| format!("key #{i}"), |k| format!("key '{k}'"));
        let Some(kid) = kid else {
            skipped.push(format!("{name}: no kid"));
            continue;
        };
        match verifying_key(entry) {
            Ok(key) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(kid) {
                    slot.insert(Arc::new(key));
                } else {
                    skipped.push(format!("{name}: the kid appears twice; the first key is kept"));
                }
            }
            Err(why) => skipped.push(format!("{name}: {why}")),
        }
    }
    Ok(ParsedJwks { keys, skipped })
}

/// The verifying key and algorithm of one JWK.
fn verifying_key(entry: &serde_json::Value) -> Result<VerifyingKey, String> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|e| format!("not a JWK ({e})"))?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))) {
        return Err("not a signing key (use)".into());
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err("not a verification key (key_ops)".into());
    }
    let declared = jwk.common.key_algorithm;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let modulus = URL_SAFE_NO_PAD.decode(rsa.n.trim_end_matches('=')).map_err(|_| "bad RSA modulus (n)")?;
            let leading_zeros = modulus.iter().take_while(|b| **b == 0).count();
            let bits = (modulus.len() - leading_zeros) * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!("RSA key shorter than {MIN_RSA_BITS} bits"));
            }
            match declared {
                None => Algorithm::RS256,
                Some(KeyAlgorithm::RS256) => Algorithm::RS256,
                Some(KeyAlgorithm::RS384) => Algorithm::RS384,
                Some(KeyAlgorithm::RS512) => Algorithm::RS512,
                Some(KeyAlgorithm::PS256) => Algorithm::PS256,
                Some(KeyAlgorithm::PS384) => Algorithm::PS384,
                Some(KeyAlgorithm::PS512) => Algorithm::PS512,
                Some(other) => return Err(format!("alg {other} does not fit an RSA signing key")),
            }
        }
        AlgorithmParameters::EllipticCurve(ec) => match (&ec.curve, declared) {
            (EllipticCurve::P256, None | Some(KeyAlgorithm::ES256)) => Algorithm::ES256,
            (EllipticCurve::P384, None | Some(KeyAlgorithm::ES384)) => Algorithm::ES384,
            (curve, alg) => return Err(format!("unsupported EC key (crv {curve:?}, alg {alg:?})")),
        },
        AlgorithmParameters::OctetKeyPair(okp) => match (&okp.curve, declared) {
            (EllipticCurve::Ed25519, None | Some(KeyAlgorithm::EdDSA)) => Algorithm::EdDSA,
            (curve, alg) => return Err(format!("unsupported OKP key (crv {curve:?}, alg {alg:?})")),
        },
        AlgorithmParameters::OctetKey(_) => return Err("symmetric (oct) keys are not accepted from a JWKS".into()),
        _ => return Err("unsupported key type (kty)".into()),
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("unusable key ({e})"))?;
    Ok(VerifyingKey { alg, key })
}

/// Keys from a JWKS URL, refreshed on demand in the background.
pub struct RemoteJwks {
    url: String,
    agent: ureq::Agent,
    keys: RwLock<Arc<KeyMap>>,
    fetching: Mutex<Fetching>,
    /// Counts finished background fetches; waiters subscribe before one starts.
    done: tokio::sync::watch::Sender<u64>,
}

/// The state of the background fetch.
#[derive(Debug)]
struct Fetching {
    /// When the last fetch started.
    last: Instant,
    /// Whether one is under way.
    running: bool,
    /// Least time between two fetches.
    cooldown: Duration,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks").field("url", &self.url).field("fetching", &self.fetching).finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// Checks the URL and fetches its keys (blocking, up to [`FETCH_TIMEOUT`]).
    ///
    /// # Errors
    /// A URL that is neither `https://` nor `http://` on a loopback host, a failed fetch, or a
    /// document without a usable key.
    pub fn fetch_at_start(url: &str, cooldown: Duration) -> Result<Self, String> {
        let loopback = is_loopback_http(url);
        if !(url.starts_with("https://") || loopback) {
            return Err(format!(
                "auth_jwks_url must be an https:// URL (http:// only on a loopback host); got '{url}'"
            ));
        }
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            .https_only(url.starts_with("https://"))
            .max_redirects(3)
            .user_agent(concat!("idtrail/", env!("CARGO_PKG_VERSION")));
        if loopback {
            config = config.proxy(None);
        }
        let agent: ureq::Agent = config.build().into();
        let remote = Self {
            url: url.to_owned(),
            agent,
            keys: RwLock::new(Arc::new(KeyMap::new())),
            fetching: Mutex::new(Fetching { last: Instant::now(), running: false, cooldown }),
            done: tokio::sync::watch::Sender::new(0),
        };
        let keys = remote.fetch().map_err(|e| format!("fetching the JWKS at {url}: {e}"))?;
        tracing::info!(url, keys = keys.len(), "JWKS fetched");
        *remote.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(remote)
    }

    /// The key named `kid`, if the last fetch had it.
    pub fn get(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).get(kid).cloned()
    }

    /// Number of keys held.
    pub fn key_count(&self) -> usize {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The only key held, if there is exactly one.
    pub fn single(&self) -> Option<Arc<VerifyingKey>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        if keys.len() == 1 { keys.values().next().cloned() } else { None }
    }

    /// Sets the least time between two fetches.
    pub fn set_cooldown(&self, cooldown: Duration) {
        self.fetching.lock().unwrap_or_else(PoisonError::into_inner).cooldown = cooldown;
    }

    /// Starts fetching the keys again on a thread of its own, unless a fetch is under way (then
    /// that one is awaited) or the last one started less than the cooldown ago (then `None`). The
    /// receiver changes when the fetch has ended, successful or not; on failure the old keys stay.
    pub fn refresh_in_background(self: &Arc<Self>) -> Option<tokio::sync::watch::Receiver<u64>> {
        let mut fetching = self.fetching.lock().unwrap_or_else(PoisonError::into_inner);
        if fetching.running {
            return Some(self.done.subscribe());
        }
        if fetching.last.elapsed() < fetching.cooldown {
            return None;
        }
        let waiter = self.done.subscribe();
        let remote = self.clone();
        let spawned = std::thread::Builder::new().name("jwks-refresh".into()).spawn(move || remote.refresh_now());
        if let Err(e) = spawned {
            tracing::warn!(url = %self.url, error = %e, "JWKS refresh could not start");
            return None;
        }
        fetching.running = true;
        fetching.last = Instant::now();
        Some(waiter)
    }

    /// One fetch, on the refresh thread.
    fn refresh_now(&self) {
        match self.fetch() {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "JWKS refreshed");
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
            }
            Err(e) => tracing::warn!(url = %self.url, error = %e, "JWKS refresh failed; keeping the old keys"),
        }
        self.fetching.lock().unwrap_or_else(PoisonError::into_inner).running = false;
        self.done.send_modify(|n| *n += 1);
    }

    fn fetch(&self) -> Result<KeyMap, String> {
        let mut response =
            self.agent.get(&self.url).header("Accept", "application/json").call().map_err(|e| e.to_string())?;
        let text =
            response.body_mut().with_config().limit(MAX_JWKS_BYTES).read_to_string().map_err(|e| e.to_string())?;
        let parsed = parse(&text)?;
        for why in &parsed.skipped {
            tracing::debug!(url = %self.url, "JWKS {why}: skipped");
        }
        if parsed.keys.is_empty() {
            return Err(format!("no usable signing key ({})", parsed.skipped.join("; ")));
        }
        Ok(parsed.keys)
    }
}

/// `http://` to `localhost` or a loopback IP.
fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        assert!(is_loopback_http("http://127.0.0.1:8080/keys"));
        assert!(is_loopback_http("http://localhost/keys"));
        assert!(is_loopback_http("http://[::1]:9/keys"));
        assert!(!is_loopback_http("http://127.0.0.1.evil.example/keys"));
        assert!(!is_loopback_http("http://evil.example/?127.0.0.1"));
        assert!(!is_loopback_http("http://127.0.0.1@evil.example/"));
        assert!(!is_loopback_http("https://127.0.0.1/"));
    }

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        let doc = r#"{"keys":[
            {"kty":"oct","kid":"s","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"},
            {"kty":"EC","kid":"e","use":"enc","crv":"P-256","x":"AA","y":"AA"},
            {"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"},
            {"kty":"XYZ","kid":"x"},
            {"kty":"RSA","n":"AQAB","e":"AQAB"}
        ]}"#;
        let parsed = parse(doc).unwrap();
        assert!(parsed.keys.is_empty());
        assert_eq!(parsed.skipped.len(), 5, "{:?}", parsed.skipped);
        assert!(parse("{}").is_err());
        assert!(parse("[").is_err());
    }
}
