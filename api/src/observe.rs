//! What the operators see of each request: the outermost middleware counts it in `/metrics` by
//! route template, method and status, and times it.
//!
//! It must never record a raw path (ids), a query string or a token: the route label is the
//! matched pattern.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::metrics::UNMATCHED_ROUTE;
use crate::state::AppState;

/// Counts and times every request (outermost layer, so every answer is seen with its final status).
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    let res = next.call(req).await?.map_into_boxed_body();
    if let Some(metrics) = metrics {
        let route = res.request().match_pattern().unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
        metrics.request(&method, &route, res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    Ok(res)
}
