//! Bearer tokens: validation with `jsonwebtoken`, and the `Caller` extractor that turns a token's
//! claims into a `domain::principal::Principal`. Handlers never see raw claims.
//!
//! The algorithm comes from the configured key, never from the token: `alg: none` and algorithm
//! confusion fail signature validation. `exp` is required; `nbf` is honoured; leeway is 60 s.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use domain::ids::{Guid, TenantId};
use domain::principal::{DirectoryRole, Principal, Subject};

use crate::error::ApiError;
use crate::state::AppState;

/// Largest token we read (Entra tokens are a few KB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

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
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// Validates tokens against the configured key, audiences and issuers.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier for HS256 tokens signed with `secret`.
    #[must_use]
    pub fn hs256(secret: &[u8], audiences: &[String], issuers: &[String]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        validation.set_audience(audiences);
        if !issuers.is_empty() {
            validation.set_issuer(issuers);
        }
        Self { key: DecodingKey::from_secret(secret), validation }
    }

    /// Validates `token` and builds the principal it speaks for.
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] with the reason.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::Unauthorized(format!("Access token is larger than {MAX_TOKEN_BYTES} bytes.")));
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
                ErrorKind::InvalidAudience => "the token's audience (aud) is not accepted here",
                ErrorKind::InvalidIssuer => "the token's issuer (iss) is not accepted here",
                ErrorKind::InvalidSignature => "the token's signature does not verify",
                ErrorKind::InvalidAlgorithm => "the token's algorithm is not the configured one",
                ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp)",
                _ => "the token is malformed",
            };
            ApiError::Unauthorized(format!("Access token validation failure: {why}."))
        })?;
        principal_from_claims(data.claims)
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

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
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
