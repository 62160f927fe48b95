//! Sharing the database fairly between tenants: how many requests of one tenant do database work
//! at once, and how many ingest batches are stored at once, per tenant and in all.
//!
//! - [`tenant_queries`] (middleware, inside `ratelimit::enforce`, which has verified the token):
//!   a read of a tenant (`/v1.0`, `/beta`, `/idtrail/...`) first takes one of the tenant's
//!   `tenant_max_concurrent_queries` slots, waiting at most `tenant_query_wait_ms`, else 429 with
//!   `Retry-After`. One tenant can then hold at most that many pooled connections, and the rest of
//!   the pool stays free for the others. The slot is kept in the request ([`QuerySlot`]) so that an
//!   export, which reads after its handler has returned, takes it along.
//! - [`Gates::ingest_slot`]: an ingest batch whose body has been read takes its tenant's slot
//!   (`ingest_tenant_slots`), then one of the global ones (`ingest_global_slots`), waiting at most
//!   `ingest_slot_wait_ms` in all, else 503 with `Retry-After`.
//!
//! Never here: reading bodies (a slow client holds no slot, see `routes::ingest`), rate limits
//! (`ratelimit`), statement time (the store's `statement_timeout`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::VerifiedToken;
use crate::config::Config;
use crate::error::ApiError;
use crate::ratelimit::Family;
use crate::state::AppState;

/// Tenants whose semaphores are kept; past it the idle ones are forgotten.
const MAX_REMEMBERED_TENANTS: usize = 10_000;

/// What a refused request is told to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// One semaphore per tenant, all of the same size.
#[derive(Debug)]
struct PerTenant {
    size: u32,
    map: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl PerTenant {
    fn new(size: u32) -> Self {
        Self { size: size.max(1), map: Mutex::new(HashMap::new()) }
    }

    fn of(&self, tenant: &str) -> Arc<Semaphore> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_REMEMBERED_TENANTS && !map.contains_key(tenant) {
            // Only semaphores nobody holds or waits on can be dropped without changing anything.
            let size = self.size as usize;
            map.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < size);
        }
        map.entry(tenant.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(self.size as usize))).clone()
    }
}

/// The slots of the whole service, built from the configuration.
#[derive(Debug)]
pub struct Gates {
    queries: PerTenant,
    query_wait: Duration,
    ingest_tenant: PerTenant,
    ingest_global: Arc<Semaphore>,
    ingest_wait: Duration,
}

/// Slots held while a batch is stored.
#[derive(Debug)]
pub struct IngestSlot {
    _tenant: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Gates {
    #[must_use]
    pub fn from_config(config: &Config) -> Self {
        Self {
            queries: PerTenant::new(config.tenant_query_slots()),
            query_wait: Duration::from_millis(config.tenant_query_wait_ms),
            ingest_tenant: PerTenant::new(config.ingest_tenant_slots),
            ingest_global: Arc::new(Semaphore::new(config.ingest_global_slots.max(1) as usize)),
            ingest_wait: Duration::from_millis(config.ingest_slot_wait_ms),
        }
    }

    /// One of `tenant`'s query slots.
    ///
    /// # Errors
    /// [`ApiError::TenantBusy`] when none frees within `tenant_query_wait_ms`.
    pub async fn query_slot(&self, tenant: &str) -> Result<OwnedSemaphorePermit, ApiError> {
        let busy = || ApiError::TenantBusy { limit: self.queries.size, retry_after_secs: RETRY_AFTER_SECS };
        match tokio::time::timeout(self.query_wait, self.queries.of(tenant).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(busy()),
        }
    }

    /// The slots to store one ingest batch of `tenant`: its own, then a global one.
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when they are not had within `ingest_slot_wait_ms`.
    pub async fn ingest_slot(&self, tenant: &str) -> Result<IngestSlot, ApiError> {
        let tenant_sem = self.ingest_tenant.of(tenant);
        let global = self.ingest_global.clone();
        let both = async move {
            let tenant = tenant_sem.acquire_owned().await.ok()?;
            let global = global.acquire_owned().await.ok()?;
            Some(IngestSlot { _tenant: tenant, _global: global })
        };
        match tokio::time::timeout(self.ingest_wait, both).await {
            Ok(Some(slot)) => Ok(slot),
            Ok(None) | Err(_) => Err(ApiError::Unavailable(format!(
                "Ingest is busy: no slot freed within {} ms (ingest_slot_wait_ms); retry the batch.",
                self.ingest_wait.as_millis()
            ))),
        }
    }
}

/// The query slot of a request, shared with its handler: an export takes it out to hold it until
/// its last page is read ([`QuerySlot::take`]); otherwise it is released when the response is ready.
#[derive(Debug, Clone, Default)]
pub struct QuerySlot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl QuerySlot {
    /// The request's slot, for a handler that keeps reading after it returns.
    #[must_use]
    pub fn take(req: &HttpRequest) -> Option<OwnedSemaphorePermit> {
        let slot = req.extensions().get::<Self>().cloned()?;
        slot.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Whether `path` reads a tenant's data (and so takes a query slot).
fn reads_tenant_data(path: &str) -> bool {
    matches!(Family::of_path(path), Some(Family::Reports | Family::IdentityProtection))
        || path.get(..9).is_some_and(|p| p.eq_ignore_ascii_case("/idtrail/"))
}

/// Takes one of the verified tenant's query slots for the request (see the module documentation).
pub async fn tenant_queries(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let tenant = match req.extensions().get::<VerifiedToken>() {
        Some(VerifiedToken(Ok(principal))) if reads_tenant_data(req.path()) => Some(principal.tenant.clone()),
        _ => None,
    };
    let (Some(tenant), Some(state)) = (tenant, req.app_data::<web::Data<AppState>>().cloned()) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let permit = match state.gates.query_slot(tenant.as_str()).await {
        Ok(permit) => permit,
        Err(e) => return Ok(req.error_response(e)),
    };
    let slot = QuerySlot(Arc::new(Mutex::new(Some(permit))));
    req.extensions_mut().insert(slot.clone());
    let res = next.call(req).await?.map_into_boxed_body();
    drop(slot);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_paths_take_slots_and_health_does_not() {
        assert!(reads_tenant_data("/v1.0/auditLogs/signIns"));
        assert!(reads_tenant_data("/beta/identityProtection/riskyUsers"));
        assert!(reads_tenant_data("/idtrail/reports/signInActivity"));
        assert!(!reads_tenant_data("/ingest/signIns"));
        assert!(!reads_tenant_data("/healthz"));
        assert!(!reads_tenant_data("/readyz"));
    }

    #[actix_web::test]
    async fn a_tenant_over_its_slots_waits_then_is_refused_while_another_goes_on() {
        let config = Config { tenant_max_concurrent_queries: 2, tenant_query_wait_ms: 50, ..Config::default() };
        let gates = Gates::from_config(&config);
        let held = (gates.query_slot("a").await.unwrap(), gates.query_slot("a").await.unwrap());
        let refused = gates.query_slot("a").await.unwrap_err();
        assert!(matches!(refused, ApiError::TenantBusy { limit: 2, .. }), "{refused:?}");
        let _other = gates.query_slot("b").await.unwrap();
        drop(held);
        drop(gates.query_slot("a").await.unwrap());
        assert_eq!(Config { pool_size: 8, ..Config::default() }.tenant_query_slots(), 4);
        assert_eq!(Config { pool_size: 1, ..Config::default() }.tenant_query_slots(), 1);
    }
}
