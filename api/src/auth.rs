//! Bearer tokens: validation with `jsonwebtoken`, and the `Caller` extractor that turns a token's
//! claims into a `domain::principal::Principal`. Handlers never see raw claims.
//!
//! Keys: an HS256 shared secret (`auth_hs256_secret`, or the development secret) and/or the public
//! keys of a JWKS file (`auth_jwks_file`) or URL (`auth_jwks_url`, see [`jwks::RemoteJwks`]).
//! A token with a `kid` header is verified with the JWKS key of that `kid`; a token without one
//! with the HS256 secret, or with the only JWKS key when no secret is configured.
//!
//! The algorithm comes from the chosen key, never from the token: `alg: none` is refused, and a
//! token whose `alg` is not its key's (HS256 signed with an RSA public key) fails. `exp` and `aud`
//! are required, `nbf` is honoured, leeway is 60 s. Issuers may be templates with `{tid}`
//! (`https://login.microsoftonline.com/{tid}/v2.0`): the token's own `tid` is put in before
//! comparing, so each tenant's issuer is accepted only for that tenant's tokens.

pub mod jwks;

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use domain::ids::{Guid, TenantId};
use domain::principal::{DirectoryRole, Principal, Subject};

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use jwks::{KeyMap, RemoteJwks, VerifyingKey};

/// Largest token we read (Entra tokens are a few KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;
/// Shortest HS256 secret accepted.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest a request with an unknown `kid` waits for the JWKS fetch it started before its 401.
pub const UNKNOWN_KID_WAIT: Duration = Duration::from_millis(200);
/// Placeholders of an issuer template, replaced by the token's `tid`.
const TID_PLACEHOLDERS: [&str; 2] = ["{tid}", "{tenantid}"];

/// The claims we read, as Entra issues them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idtyp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// A token's `aud`: one audience, or several (RFC 7519 §4.1.3 allows both). `jsonwebtoken` accepts
/// the token when one of them is a configured audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for Audience {
    fn from(s: &str) -> Self {
        Self::One(s.to_owned())
    }
}

impl From<String> for Audience {
    fn from(s: String) -> Self {
        Self::One(s)
    }
}

/// True when the configuration names JWKS keys (then no development secret is needed).
#[must_use]
pub fn jwks_configured(config: &Config) -> bool {
    config.auth_jwks_file.is_some() || config.auth_jwks_url.is_some()
}

/// Validates tokens against the configured keys, audiences and issuers.
pub struct TokenVerifier {
    /// The HS256 secret, for tokens without `kid`.
    hs256: Option<Arc<VerifyingKey>>,
    /// Keys from `auth_jwks_file`, by `kid`.
    file_keys: KeyMap,
    /// Keys from `auth_jwks_url`.
    remote: Option<Arc<RemoteJwks>>,
    audiences: Vec<String>,
    /// Accepted issuers, possibly `{tid}` templates; not checked when empty.
    issuers: Vec<String>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("hs256", &self.hs256.is_some())
            .field("file_kids", &self.file_keys.keys().collect::<Vec<_>>())
            .field("remote", &self.remote)
            .field("audiences", &self.audiences)
            .field("issuers", &self.issuers)
            .finish()
    }
}

fn error(why: impl std::fmt::Display) -> ApiError {
    ApiError::Unauthorized(format!("Access token validation failure: {why}."))
}

impl TokenVerifier {
    /// A verifier for HS256 tokens signed with `secret`.
    #[must_use]
    pub fn hs256(secret: &[u8], audiences: &[String], issuers: &[String]) -> Self {
        Self {
            hs256: Some(Arc::new(VerifyingKey { alg: Algorithm::HS256, key: DecodingKey::from_secret(secret) })),
            file_keys: KeyMap::new(),
            remote: None,
            audiences: audiences.to_vec(),
            issuers: issuers.to_vec(),
        }
    }

    /// The verifier the configuration asks for: the HS256 secret (`auth_hs256_secret`, else
    /// `dev_secret`) and/or the keys of `auth_jwks_file` and `auth_jwks_url`. Several may be
    /// configured at once. Blocks while it fetches `auth_jwks_url` (at most
    /// [`jwks::FETCH_TIMEOUT`]).
    ///
    /// # Errors
    /// No key configured, a secret shorter than 32 bytes, an unreadable JWKS file or URL, or a
    /// JWKS without a usable signing key.
    pub fn from_config(config: &Config, dev_secret: Option<&[u8]>) -> Result<Self, String> {
        let secret = config.auth_hs256_secret.as_deref().map(str::as_bytes).or(dev_secret);
        if let Some(s) = secret
            && s.len() < MIN_SECRET_BYTES
        {
            return Err(format!("the HS256 secret must be at least {MIN_SECRET_BYTES} bytes"));
        }
        let mut file_keys = KeyMap::new();
        if let Some(path) = &config.auth_jwks_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("auth_jwks_file: reading {}: {e}", path.display()))?;
            let parsed = jwks::parse(&text).map_err(|e| format!("auth_jwks_file {}: {e}", path.display()))?;
            for why in &parsed.skipped {
                tracing::warn!(file = %path.display(), "JWKS {why}: skipped");
            }
            if parsed.keys.is_empty() {
                return Err(format!("auth_jwks_file {}: no usable signing key", path.display()));
            }
            file_keys = parsed.keys;
        }
        let remote = match &config.auth_jwks_url {
            Some(url) => {
                Some(Arc::new(RemoteJwks::fetch_at_start(url, Duration::from_secs(config.auth_jwks_cooldown_seconds))?))
            }
            None => None,
        };
        if secret.is_none() && file_keys.is_empty() && remote.is_none() {
            return Err("no token key configured: set auth_hs256_secret, auth_jwks_file or auth_jwks_url".into());
        }
        if config.auth_audiences.is_empty() {
            return Err("auth_audiences must name at least one audience".into());
        }
        Ok(Self {
            hs256: secret.map(|s| Arc::new(VerifyingKey { alg: Algorithm::HS256, key: DecodingKey::from_secret(s) })),
            file_keys,
            remote,
            audiences: config.auth_audiences.clone(),
            issuers: config.auth_issuers.clone(),
        })
    }

    /// Sets the least time between two fetches of the JWKS URL (`auth_jwks_cooldown_seconds`).
    #[must_use]
    pub fn with_jwks_cooldown(self, cooldown: Duration) -> Self {
        if let Some(remote) = &self.remote {
            remote.set_cooldown(cooldown);
        }
        self
    }

    /// Validates `token` and builds the principal it speaks for. Never waits: a token naming an
    /// unknown `kid` starts a fetch of the JWKS URL in the background (at most once per cooldown)
    /// and is refused at once.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] with the reason.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        self.check(token, &mut None)
    }

    /// Like [`TokenVerifier::verify`], but a token naming an unknown `kid` waits up to
    /// [`UNKNOWN_KID_WAIT`] for the JWKS fetch it started (or found under way) and is checked
    /// again with the keys it brought. Other tokens never wait.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] with the reason.
    pub async fn verify_waiting(&self, token: &str) -> Result<Principal, ApiError> {
        let mut fetch = None;
        match self.check(token, &mut fetch) {
            Err(_) if fetch.is_some() => {
                if let Some(mut fetch) = fetch {
                    // Ended, timed out or gone: in each case the keys are what they are now.
                    let _ = tokio::time::timeout(UNKNOWN_KID_WAIT, fetch.changed()).await;
                }
                self.check(token, &mut None)
            }
            verified => verified,
        }
    }

    /// [`TokenVerifier::verify`]; `fetch` is set when an unknown `kid` started (or found) a JWKS
    /// fetch whose end may be awaited.
    fn check(&self, token: &str, fetch: &mut Option<tokio::sync::watch::Receiver<u64>>) -> Result<Principal, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::Unauthorized(format!("Access token is larger than {MAX_TOKEN_BYTES} bytes.")));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| error(header_problem(token)))?;
        let key = self.key_for(header.kid.as_deref(), fetch)?;
        if header.alg != key.alg {
            return Err(error(format_args!(
                "the token's algorithm {:?} is not the one of its signing key ({:?})",
                header.alg, key.alg
            )));
        }
        let mut validation = Validation::new(key.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.set_audience(&self.audiences);
        // The issuer is checked below, after `{tid}` substitution.
        validation.iss = None;
        // Decoded as JSON first, so that a missing `exp` is reported as such by the validation.
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => error("the token has expired (exp)"),
                ErrorKind::ImmatureSignature => error("the token is not valid yet (nbf)"),
                ErrorKind::InvalidAudience => error("the token's audience (aud) is not accepted here"),
                ErrorKind::InvalidSignature => error("the token's signature does not verify"),
                ErrorKind::InvalidAlgorithm => error("the token's algorithm is not the one of its signing key"),
                ErrorKind::MissingRequiredClaim(c) => error(format_args!("the token lacks the required {c} claim")),
                ErrorKind::InvalidClaimFormat(c) => error(format_args!("the token's {c} claim is not a number")),
                ErrorKind::Base64(_) => error("the token is not valid base64url"),
                ErrorKind::Json(_) | ErrorKind::Utf8(_) => error("the token's claims are not the expected JSON"),
                _ => error("the token is malformed"),
            }
        })?;
        let claims: Claims = serde_json::from_value(data.claims)
            .map_err(|e| error(format_args!("the token's claims are not the expected JSON ({e})")))?;
        self.check_issuer(&claims)?;
        principal_from_claims(claims)
    }

    /// The key for a token's `kid` header; see the module documentation.
    fn key_for(
        &self,
        kid: Option<&str>,
        fetch: &mut Option<tokio::sync::watch::Receiver<u64>>,
    ) -> Result<Arc<VerifyingKey>, ApiError> {
        let has_jwks = !self.file_keys.is_empty() || self.remote.is_some();
        match kid {
            Some(kid) if has_jwks => {
                if let Some(key) = self.file_keys.get(kid).cloned().or_else(|| self.remote.as_ref()?.get(kid)) {
                    return Ok(key);
                }
                if let Some(remote) = &self.remote {
                    *fetch = remote.refresh_in_background();
                }
                let shown: String = kid.chars().take(64).collect();
                Err(error(format_args!("unknown signing key kid '{}'", shown.escape_default())))
            }
            _ => {
                if let Some(key) = &self.hs256 {
                    return Ok(key.clone());
                }
                let remote_len = self.remote.as_deref().map_or(0, RemoteJwks::key_count);
                match (self.file_keys.len(), remote_len) {
                    (1, 0) => self.file_keys.values().next().cloned().ok_or_else(|| error("no signing key")),
                    (0, 1) => {
                        self.remote.as_deref().and_then(RemoteJwks::single).ok_or_else(|| error("no signing key"))
                    }
                    _ => Err(error("the token has no kid header, and several signing keys are configured")),
                }
            }
        }
    }

    /// The issuer must be one of the configured ones; in a `{tid}` template the token's own
    /// `tid` stands for the placeholder.
    fn check_issuer(&self, claims: &Claims) -> Result<(), ApiError> {
        if self.issuers.is_empty() {
            return Ok(());
        }
        let iss = claims.iss.as_deref().ok_or_else(|| error("the token lacks the required iss claim"))?;
        let tid = claims.tid.as_deref().filter(|t| TenantId::parse(t).is_ok());
        let accepted = self.issuers.iter().any(|template| {
            if TID_PLACEHOLDERS.iter().any(|p| template.contains(p)) {
                tid.is_some_and(|tid| {
                    let expected = TID_PLACEHOLDERS.iter().fold(template.clone(), |t, p| t.replace(p, tid));
                    expected == iss
                })
            } else {
                template == iss
            }
        });
        if accepted {
            Ok(())
        } else {
            let shown: String = iss.chars().take(200).collect();
            Err(error(format_args!(
                "wrong issuer '{}': the token's issuer (iss) is not accepted here",
                shown.escape_default()
            )))
        }
    }
}

/// Why a token's header does not decode: names `alg: none` precisely.
fn header_problem(token: &str) -> &'static str {
    let parts: Vec<&str> = token.split('.').collect();
    let [first, _, _] = parts.as_slice() else {
        return "the token is not a JWT (three base64url parts separated by dots)";
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(first.trim_end_matches('=')) else {
        return "the token's header is not valid base64url";
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return "the token's header is not JSON";
    };
    match header.get("alg").and_then(serde_json::Value::as_str) {
        Some(alg) if alg.eq_ignore_ascii_case("none") => "unsigned tokens (alg: none) are not accepted",
        Some(alg) if alg.parse::<Algorithm>().is_err() => "the token's algorithm is not supported",
        Some(_) => "the token's header is malformed",
        None => "the token's header has no alg",
    }
}

/// The principal a validated token speaks for.
///
/// # Errors
/// [`ApiError::Unauthorized`] when `tid` or the user's `oid` is missing or not a GUID.
pub fn principal_from_claims(c: Claims) -> Result<Principal, ApiError> {
    let tid = c.tid.as_deref().ok_or_else(|| {
        ApiError::Unauthorized("Access token validation failure: the token has no tenant (tid) claim.".into())
    })?;
    let tenant = TenantId::parse(tid)
        .map_err(|_| ApiError::Unauthorized("Access token validation failure: the tid claim is not a GUID.".into()))?;
    let app_only = match c.idtyp.as_deref() {
        Some("app") => true,
        Some(_) => false,
        None => c.scp.is_none() && c.upn.is_none() && c.preferred_username.is_none(),
    };
    let mut roles: Vec<DirectoryRole> = c.wids.iter().filter_map(|w| DirectoryRole::from_template_id(w)).collect();
    let subject = if app_only {
        Subject::App { app_id: c.azp.clone().or_else(|| c.appid.clone()) }
    } else {
        roles.extend(c.roles.iter().filter_map(|r| DirectoryRole::from_display_name(r)));
        let oid = c.oid.as_deref().ok_or_else(|| {
            ApiError::Unauthorized("Access token validation failure: a user token needs an oid claim.".into())
        })?;
        let object_id = Guid::parse(oid).map_err(|_| {
            ApiError::Unauthorized("Access token validation failure: the oid claim is not a GUID.".into())
        })?;
        Subject::User { object_id, principal_name: c.upn.clone().or_else(|| c.preferred_username.clone()) }
    };
    roles.dedup();
    let app_permissions = if app_only { c.roles.clone() } else { Vec::new() };
    let scopes = c.scp.as_deref().map(|s| s.split_whitespace().map(str::to_owned).collect()).unwrap_or_default();
    Ok(Principal { tenant, subject, roles, app_permissions, scopes })
}

/// Signs `claims` with an HS256 secret (the `idtrail token` command and the tests).
///
/// # Errors
/// Only if serialisation fails.
pub fn sign_hs256(secret: &[u8], claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// The outcome of verifying a request's bearer token, kept in the request's extensions by the
/// rate limiter (which needs the tenant first) so that the token is verified once per request.
#[derive(Debug, Clone)]
pub struct VerifiedToken(pub Result<Principal, ApiError>);

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    if let Some(VerifiedToken(verified)) = req.extensions().get::<VerifiedToken>() {
        return verified.clone().map(Caller);
    }
    let state =
        req.app_data::<web::Data<AppState>>().ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("Access token is empty. Send 'Authorization: Bearer <token>'.".into()))?;
    let value =
        header.to_str().map_err(|_| ApiError::Unauthorized("The Authorization header is not readable text.".into()))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("The Authorization header must be 'Bearer <token>'.".into()))?;
    let verifier: &Arc<TokenVerifier> = &state.verifier;
    verifier.verify(token).map(Caller)
}
