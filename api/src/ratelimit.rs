//! Rate limits per (tenant, client application), one `governor` GCRA bucket per key and endpoint
//! family, with Graph's `429` and the `RateLimit-*` headers.
//!
//! Families, each with its own quota (`rate_limit_<family>_per_minute`, `..._burst`):
//! `reports` (every `/v1.0` and `/beta` path but identity protection), `identityProtection`
//! (`/v1.0|/beta/identityProtection/...`) and `ingest` (`/ingest/...`). Other paths (health,
//! `/idtrail/...`) are not limited.
//!
//! The key is the verified token's tenant (`tid`) and client application (`azp`, else `appid`;
//! empty when the token names neither). The token is verified here, before the quota is spent (a
//! forged token cannot spend another tenant's quota), and the outcome is kept for the `Caller`
//! extractor. A request without a valid token is counted against its peer address instead
//! (it will be refused with 401 anyway).
//!
//! Two layers, both in `lib.rs::app`:
//! - [`enforce`], inside the envelope middleware, decides, keeps the [`Status`] in the request's
//!   extensions and answers a refused request with [`ApiError::TooManyRequests`] (so the 429 gets
//!   Graph's envelope, request ids and `Retry-After`, also on identity protection, where Graph
//!   omits it);
//! - [`headers`], outside the envelope middleware (which rebuilds error responses), stamps
//!   `RateLimit-Limit` (the burst), `RateLimit-Remaining` and `RateLimit-Reset` (whole seconds
//!   until the full burst is available again) on every response of a limited family.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde::Deserialize;

use crate::auth::TokenVerifier;
use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Checks between two sweeps of keys whose bucket is full again (they hold no information).
const SWEEP_EVERY: u64 = 4096;

/// A group of endpoints sharing one quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Reports,
    IdentityProtection,
    Ingest,
}

impl Family {
    pub const ALL: [Self; 3] = [Self::Reports, Self::IdentityProtection, Self::Ingest];

    /// The family's name in configuration keys (`rate_limit_<key>_per_minute`).
    #[must_use]
    pub fn config_key(self) -> &'static str {
        match self {
            Self::Reports => "reports",
            Self::IdentityProtection => "identity_protection",
            Self::Ingest => "ingest",
        }
    }

    /// The family of a request path; `None` for paths that are not limited. Case-insensitive,
    /// like Graph's routing.
    #[must_use]
    pub fn of_path(path: &str) -> Option<Self> {
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let first = segments.next()?;
        if first.eq_ignore_ascii_case("ingest") {
            return Some(Self::Ingest);
        }
        if !(first.eq_ignore_ascii_case("v1.0") || first.eq_ignore_ascii_case("beta")) {
            return None;
        }
        match segments.next() {
            Some(s) if s.eq_ignore_ascii_case("identityProtection") => Some(Self::IdentityProtection),
            _ => Some(Self::Reports),
        }
    }

    /// `(per_minute, burst)` from the configuration.
    #[must_use]
    pub fn limits(self, config: &Config) -> (u32, u32) {
        match self {
            Self::Reports => (config.rate_limit_reports_per_minute, config.rate_limit_reports_burst),
            Self::IdentityProtection => {
                (config.rate_limit_identity_protection_per_minute, config.rate_limit_identity_protection_burst)
            }
            Self::Ingest => (config.rate_limit_ingest_per_minute, config.rate_limit_ingest_burst),
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Reports => 0,
            Self::IdentityProtection => 1,
            Self::Ingest => 2,
        }
    }
}

/// Whose quota a request spends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BucketKey {
    /// A verified token: its tenant and client application (`azp`, else `appid`, else empty).
    Client { tenant: String, client_app: String },
    /// No valid token: the peer address (unknown in some test setups).
    Peer(Option<IpAddr>),
}

/// The quota state a response reports in its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The burst: what a full bucket lets through at once.
    pub limit: u32,
    /// What is left after this request.
    pub remaining: u32,
    /// Whole seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Set when the request is refused: whole seconds (at least 1) until one more is allowed.
    pub retry_after_secs: Option<u64>,
}

type KeyedLimiter = RateLimiter<BucketKey, DefaultKeyedStateStore<BucketKey>, DefaultClock, StateInformationMiddleware>;

struct Bucket {
    limiter: KeyedLimiter,
    burst: u32,
    interval: Duration,
}

/// The limiters of every family (absent: not limited).
pub struct RateLimits {
    buckets: [Option<Bucket>; 3],
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RateLimits");
        for family in Family::ALL {
            match self.bucket(family) {
                Some(b) => d.field(family.config_key(), &format_args!("burst {} every {:?}", b.burst, b.interval)),
                None => d.field(family.config_key(), &"unlimited"),
            };
        }
        d.finish()
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl RateLimits {
    /// The limiters the configuration asks for: none when `rate_limit_enabled` is false, and
    /// none for a family whose `per_minute` is 0.
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        let buckets = Family::ALL.map(|family| {
            let (per_minute, burst) = family.limits(config);
            if !config.rate_limit_enabled {
                return None;
            }
            let per_minute = NonZeroU32::new(per_minute)?;
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            let quota = Quota::per_minute(per_minute).allow_burst(burst);
            Some(Bucket {
                limiter: RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>(),
                burst: burst.get(),
                interval: quota.replenish_interval(),
            })
        });
        Self { buckets, checks: AtomicU64::new(0) }
    }

    /// The bucket of `family`, if it is limited.
    fn bucket(&self, family: Family) -> Option<&Bucket> {
        self.buckets.get(family.index())?.as_ref()
    }

    /// Spends one request of `key`'s quota in `family`; `None` when the family is not limited.
    #[must_use]
    pub fn check(&self, family: Family, key: &BucketKey) -> Option<Status> {
        let bucket = self.bucket(family)?;
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep();
        }
        let status = match bucket.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(bucket.burst);
                Status {
                    limit: bucket.burst,
                    remaining,
                    reset_secs: ceil_secs(bucket.interval.saturating_mul(bucket.burst - remaining)),
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(bucket.limiter.clock().now());
                let retry = ceil_secs(wait).max(1);
                let full = wait.saturating_add(bucket.interval.saturating_mul(bucket.burst.saturating_sub(1)));
                Status {
                    limit: bucket.burst,
                    remaining: 0,
                    reset_secs: ceil_secs(full).max(retry),
                    retry_after_secs: Some(retry),
                }
            }
        };
        Some(status)
    }

    /// Forgets keys whose bucket is full again, so that the maps hold only recent callers.
    fn sweep(&self) {
        for bucket in self.buckets.iter().flatten() {
            bucket.limiter.retain_recent();
            bucket.limiter.shrink_to_fit();
        }
    }
}

/// Checks the `rate_limit_*` keys.
///
/// # Errors
/// A limited family (per minute above 0) with a burst of 0.
pub fn check_config(config: &Config) -> Result<(), String> {
    for family in Family::ALL {
        let (per_minute, burst) = family.limits(config);
        if per_minute > 0 && burst == 0 {
            let key = family.config_key();
            return Err(format!(
                "rate_limit_{key}_burst must be at least 1 (or set rate_limit_{key}_per_minute = 0 for no limit)"
            ));
        }
    }
    Ok(())
}

/// The client application claims; read only from a token that has just verified.
#[derive(Deserialize)]
struct ClientClaims {
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    appid: Option<String>,
}

pub(crate) fn client_app(token: &str) -> String {
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<ClientClaims>(&bytes).ok());
    claims.and_then(|c| c.azp.or(c.appid)).unwrap_or_default().to_ascii_lowercase()
}

/// The bearer token of a request, read as `auth::Caller` reads it.
pub(crate) fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim).filter(|t| !t.is_empty())
}

/// Verifies the request's bearer token, if any, and keeps the outcome in the request
/// (`auth::VerifiedToken`), so that the handler's `Caller` does not verify it a second time. A
/// token naming an unknown `kid` may wait briefly for the JWKS fetch it starts
/// (`TokenVerifier::verify_waiting`); no other request waits for it. Returns whose quota the
/// request spends: the verified token's (tenant, client app), else its peer address.
pub async fn verify_and_key(req: &ServiceRequest, verifier: &TokenVerifier) -> BucketKey {
    if let Some(token) = bearer(req) {
        let verified = verifier.verify_waiting(token).await;
        let key = verified.as_ref().ok().map(|principal| BucketKey::Client {
            tenant: principal.tenant.as_str().to_owned(),
            client_app: client_app(token),
        });
        req.extensions_mut().insert(crate::auth::VerifiedToken(verified));
        if let Some(key) = key {
            return key;
        }
    }
    BucketKey::Peer(req.peer_addr().map(|a| a.ip()))
}

/// Verifies the token, spends the request's quota and refuses it with 429 when none is left
/// (inner layer; see the module documentation).
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = verify_and_key(&req, &state.verifier).await;
    if let Some(status) = Family::of_path(req.path()).and_then(|family| state.limits.check(family, &key)) {
        req.extensions_mut().insert(status);
        if let Some(retry_after_secs) = status.retry_after_secs {
            if let Some(state) = req.app_data::<web::Data<AppState>>() {
                state.metrics.rejected(crate::metrics::Rejection::RateLimit);
            }
            return Ok(req.error_response(ApiError::TooManyRequests { retry_after_secs }));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Puts the `RateLimit-*` headers on every response of a limited family (outer layer).
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let mut res = next.call(req).await?.map_into_boxed_body();
    let status = res.request().extensions().get::<Status>().copied();
    if let Some(s) = status {
        let headers = res.headers_mut();
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(s.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(s.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(s.reset_secs));
        if let Some(retry) = s.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry));
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(per_minute: u32, burst: u32) -> Config {
        Config { rate_limit_reports_per_minute: per_minute, rate_limit_reports_burst: burst, ..Config::default() }
    }

    #[test]
    fn families_follow_the_path() {
        assert_eq!(Family::of_path("/v1.0/auditLogs/signIns"), Some(Family::Reports));
        assert_eq!(Family::of_path("/BETA/auditlogs/signins/x"), Some(Family::Reports));
        assert_eq!(Family::of_path("/v1.0/identityprotection/riskyUsers"), Some(Family::IdentityProtection));
        assert_eq!(Family::of_path("/ingest/signIns"), Some(Family::Ingest));
        assert_eq!(Family::of_path("/healthz"), None);
        assert_eq!(Family::of_path("/idtrail/tenant"), None);
        assert_eq!(Family::of_path("/v1.0x/auditLogs"), None);
    }

    #[test]
    fn the_burst_counts_down_then_refuses() {
        let limits = RateLimits::from_config(&config(1, 3));
        let key = BucketKey::Client { tenant: "t".into(), client_app: "a".into() };
        let remaining: Vec<u32> = (0..3).map(|_| limits.check(Family::Reports, &key).unwrap().remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limits.check(Family::Reports, &key).unwrap();
        assert_eq!((refused.limit, refused.remaining), (3, 0));
        let retry = refused.retry_after_secs.unwrap();
        assert!((59..=60).contains(&retry), "{retry}");
        assert!(refused.reset_secs >= retry);
        // Another key, another bucket; another family, another limiter.
        let other = BucketKey::Client { tenant: "t".into(), client_app: "b".into() };
        assert_eq!(limits.check(Family::Reports, &other).unwrap().remaining, 2);
        assert!(limits.check(Family::Ingest, &key).unwrap().retry_after_secs.is_none());
    }

    #[test]
    fn disabled_or_zero_means_unlimited_and_zero_burst_is_refused() {
        let off = Config { rate_limit_enabled: false, ..config(1, 1) };
        let key = BucketKey::Peer(None);
        assert!(RateLimits::from_config(&off).check(Family::Reports, &key).is_none());
        assert!(RateLimits::from_config(&config(0, 0)).check(Family::Reports, &key).is_none());
        assert!(check_config(&config(0, 0)).is_ok());
        assert!(check_config(&config(10, 0)).unwrap_err().contains("rate_limit_reports_burst"));
        assert!(check_config(&Config::default()).is_ok());
    }
}
